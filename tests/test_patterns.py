"""Event patterns: EventBridge's syntax rules, and each operator the notebooks teach, end to end."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

import meshkit as mk
from meshkit.patterns import PatternError, check_pattern, try_pattern

# The sales every end-to-end case runs against: (idempotency key, detail data).
SALES = [
    ("web-eu", {"sale_id": "S-1", "amount": 50, "currency": "USD", "channel": "web-eu",
                "ip": "10.0.0.5"}),
    ("store-us", {"sale_id": "S-2", "amount": 150, "currency": "usd", "channel": "store-us",
                  "ip": "192.168.1.1"}),
    ("web-us", {"sale_id": "S-3", "amount": 1000, "currency": "EUR", "channel": "web-us",
                "ip": "10.1.2.3", "vip": True}),
    ("phone", {"sale_id": "S-4", "amount": 12.5, "currency": "GBP", "channel": "phone",
               "vip": None}),
]  # fmt: skip


def data(field: str, *matches) -> dict:
    return {"detail": {"data": {field: list(matches)}}}


# Each operator the notebooks teach, with the sales AWS's documentation says it matches.
OPERATOR_CASES = {
    "exact value": (data("currency", "USD"), {"web-eu"}),
    "any of several values": (data("currency", "USD", "EUR"), {"web-eu", "web-us"}),
    "prefix": (data("channel", {"prefix": "web-"}), {"web-eu", "web-us"}),
    "prefix ignoring case": (
        data("channel", {"prefix": {"equals-ignore-case": "WEB-"}}),
        {"web-eu", "web-us"},
    ),
    "suffix": (data("channel", {"suffix": "-us"}), {"store-us", "web-us"}),
    "equals-ignore-case": (data("currency", {"equals-ignore-case": "usd"}), {"web-eu", "store-us"}),
    "wildcard": (data("channel", {"wildcard": "web-*"}), {"web-eu", "web-us"}),
    "anything-but a list": (
        data("currency", {"anything-but": ["USD", "usd"]}),
        {"web-us", "phone"},
    ),
    "anything-but a prefix": (
        data("channel", {"anything-but": {"prefix": "web"}}),
        {"store-us", "phone"},
    ),
    "numeric range": (data("amount", {"numeric": [">=", 100, "<", 1000]}), {"store-us"}),
    "numeric above": (data("amount", {"numeric": [">", 100]}), {"store-us", "web-us"}),
    "numeric equal": (data("amount", {"numeric": ["=", 12.5]}), {"phone"}),
    "exists": (data("vip", {"exists": True}), {"web-us", "phone"}),
    "does not exist": (data("vip", {"exists": False}), {"web-eu", "store-us"}),
    "null": (data("vip", None), {"phone"}),
    "cidr": (data("ip", {"cidr": "10.0.0.0/8"}), {"web-eu", "web-us"}),
    "$or": (
        {
            "detail": {
                "data": {
                    "$or": [
                        {"currency": ["EUR"]},
                        {"amount": [{"numeric": ["<", 100]}]},
                    ]
                }
            }
        },
        {"web-eu", "web-us", "phone"},
    ),
    "anything-but skips events without the field": (
        data("ip", {"anything-but": ["10.0.0.5"]}),
        {"store-us", "web-us"},
    ),
    "$or inside data, with exists": (
        {
            "detail": {
                "data": {
                    "amount": [{"numeric": [">=", 100]}],
                    "$or": [
                        {"ip": [{"exists": False}]},
                        {"ip": [{"anything-but": ["192.168.1.1"]}]},
                    ],
                }
            }
        },
        {"web-us"},
    ),
    "detail-type and data together": (
        {"detail-type": ["SaleRecorded"], "detail": {"data": {"currency": ["GBP"]}}},
        {"phone"},
    ),
}


@pytest.fixture(scope="module")
def sales():
    return [
        mk.events.DomainEvent(
            source="sales.domain", detail_type="SaleRecorded", detail=detail, idempotency_key=key
        )
        for key, detail in SALES
    ]


def test_every_taught_operator_matches_as_documented_through_the_embedded_server(mesh, sales):
    # One scratch bus per case would be slow; try_pattern makes its own, so run them in turn.
    for case, (pattern, expected) in OPERATOR_CASES.items():
        frame = try_pattern(pattern, sales)
        matched = set(frame.loc[frame["matched"], "idempotency_key"])
        assert matched == expected, case


def test_try_pattern_cleans_up_its_scratch_bus_and_queue(mesh, sales):
    try_pattern({"source": ["sales.domain"]}, sales[:1])
    session = mesh.session()
    buses = session.client("events", endpoint_url=mesh.endpoint_url).list_event_buses()
    assert [bus["Name"] for bus in buses["EventBuses"]] == ["default"]
    queues = session.client("sqs", endpoint_url=mesh.endpoint_url).list_queues()
    assert queues.get("QueueUrls", []) == []


@pytest.mark.parametrize("pattern", [case[0] for case in OPERATOR_CASES.values()])
def test_valid_patterns_pass_the_check_unchanged(pattern):
    assert check_pattern(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "path", "says"),
    [
        ({"source": "sales.domain"}, "source", '["sales.domain"]'),
        ({"detail": {"currency": [{"!=": "USD"}]}}, "detail.currency[0]", "anything-but"),
        ({"detail": {"amount": [{"like": "1%"}]}}, "detail.amount[0]", "wildcard"),
        ({"detail": {"amount": [{"between": [1, 2]}]}}, "detail.amount[0]", "EventBridge knows"),
        ({"detail": {"amount": [{"numeric": [">", "100"]}]}}, "numeric[1]", "without quotes"),
        ({"detail": {"amount": [{"numeric": [">>", 100]}]}}, "numeric[0]", "not one of"),
        ({"detail": {"amount": [{"numeric": [">", 1, ">", 2]}]}}, "numeric", "lower then"),
        ({"detail": {"amount": [{"numeric": [">", 6e9]}]}}, "numeric[1]", "-5.0e9..5.0e9"),
        ({"detail": {"amount": [{"numeric": [">"]}]}}, "numeric", "pairs"),
        ({"detail": {"amount": [{"numeric": ["<", 1000, ">=", 100]}]}}, "numeric", "lower then"),
        ({"detail": {"amount": [{"numeric": [">", 10, "<", 5]}]}}, "numeric", "range is empty"),
        ({"detail": {"amount": [{"numeric": [">", float("nan")]}]}}, "numeric[1]", "number"),
        ({"detail": {"amount": [{"numeric": ["<", float("inf")]}]}}, "numeric[1]", "number"),
        ({"detail": {"ip": [{"cidr": "10.0.0.1"}]}}, "cidr", "address/prefix length"),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/255.0.0.0"}]}}, "cidr", "prefix length"),
        ({"detail": {"c": [{"prefix": ""}]}}, "prefix", "empty string"),
        ({"detail": {"c": [{"anything-but": {"suffix": ""}}]}}, "suffix", "empty string"),
        ({"detail": {"c": [{"prefix": "a", "suffix": "b"}]}}, "detail.c[0]", "exactly one key"),
        ({"detail": {"c": []}}, "detail.c", "empty list"),
        ({"detail": {}}, "detail", "empty object"),
        ({"detail": {"c": [{"exists": "yes"}]}}, "exists", "true or false"),
        ({"detail": {"c": [{"prefix": 5}]}}, "prefix", "expects a string"),
        ({"detail": {"c": [{"cidr": "10.0.0/33"}]}}, "cidr", "not a CIDR block"),
        ({"detail": {"c": [{"wildcard": "a**b"}]}}, "wildcard", "consecutive"),
        ({"detail": {"c": [{"anything-but": ["a", 1]}]}}, "anything-but", "mixes"),
        ({"detail": {"c": [{"anything-but": {"numeric": [">", 1]}}]}}, "anything-but", "expects"),
        ({"detail": {"c": [["nested"]]}}, "detail.c[0]", "operator object"),
        ({"$or": [{"source": ["a"]}]}, "$or", "at least two"),
        ({"$or": [{"source": ["a"]}, {"source": "b"}]}, "$or[1].source", "must be a list"),
        ({}, "(root)", "non-empty JSON object"),
        ("{not json", "(root)", "not valid JSON"),
        ({"source": ["x" * 2100]}, "(root)", "2048"),
    ],
)
def test_invalid_patterns_name_the_path_and_the_fix(pattern, path, says):
    with pytest.raises(PatternError) as caught:
        check_pattern(pattern)
    assert caught.value.path.endswith(path) or path in caught.value.path
    assert says in str(caught.value)


def test_a_json_string_is_accepted_and_parsed():
    assert check_pattern('{"source": ["sales.domain"]}') == {"source": ["sales.domain"]}


def test_on_real_aws_try_pattern_asks_test_event_pattern_with_a_complete_event(monkeypatch, sales):
    """Offline tests cannot reach AWS: stub the client and check what it would be asked."""
    client = boto3.client(
        "events", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    asked = []
    client.meta.events.register(
        "before-parameter-build.events.TestEventPattern",
        lambda params, **_: asked.append(json.loads(params["Event"])),
    )
    pattern = {"detail": {"data": {"currency": ["USD"]}}}
    target = mk.sandbox.Target("aws", None, "111122223333", "us-west-2", None)
    monkeypatch.setattr(mk._aws, "target", lambda: target)
    monkeypatch.setattr(mk._aws, "client", lambda name, session=None: client)

    with Stubber(client) as stub:
        for answer in (True, False):
            stub.add_response("test_event_pattern", {"Result": answer})
        frame = try_pattern(pattern, sales[:2])

    assert list(frame["matched"]) == [True, False]
    # TestEventPattern requires these fields, as EventBridge delivers them.
    required = {"id", "account", "source", "time", "region", "detail-type", "detail", "resources"}
    assert all(required <= set(event) for event in asked)
    assert asked[0]["account"] == "111122223333"
    assert asked[0]["detail"]["data"]["sale_id"] == "S-1"
