"""Event patterns: EventBridge's syntax rules, and each operator the notebooks teach, end to end."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import boto3
import pytest
from botocore.stub import Stubber

import meshkit as mk
from meshkit.exceptions import ValidationError
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


# -- issue 10, point 8: patterns that would not mean what they seem ----------------------------


def test_an_operator_name_as_a_key_of_an_or_branch_is_refused_with_the_fix():
    """Operators work in a field's list of values: "Comparison operators only work on leaf nodes,
    with the exception of $or and anything-but"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
    A $or whose branches use operator names as keys is not read as an OR at all (aws/event-ruler,
    README, "The $or Primitive", this very example): the rule would not test what was meant."""
    pattern = {"$or": [{"numeric": [">", 1]}, {"prefix": "x"}]}

    with pytest.raises(PatternError) as refused:
        check_pattern(pattern)

    assert refused.value.path == "$or[0].numeric"
    assert "'numeric' is an operator" in str(refused.value)
    assert "field's list" in str(refused.value)


def test_a_number_that_json_parsers_read_as_zero_is_refused():
    """1e-400 underflows a double (most JSON parsers, Python's included, read it as 0): the rule
    would compare with 0, not with the number written."""
    text = '{"detail": {"data": {"amount": [{"numeric": [">", 1e-400]}]}}}'

    with pytest.raises(PatternError) as refused:
        check_pattern(text)

    assert refused.value.path == "detail.data.amount[0].numeric[1]"
    assert "1e-400 underflows" in str(refused.value) and "reads as 0" in str(refused.value)


def test_a_cidr_block_with_host_bits_set_gets_the_network_as_the_fix():
    """EventBridge matches an address against the CIDR block's network (IP address matching,
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html);
    moto matches nothing for 10.0.0.255/24 (tests/test_parity.py, P12), so meshkit refuses it on
    every target, with the network to write."""
    with pytest.raises(PatternError) as refused:
        check_pattern({"detail": {"data": {"ip": [{"cidr": "10.0.0.255/24"}]}}})

    assert refused.value.path == "detail.data.ip[0].cidr"
    assert "host bits" in str(refused.value)
    assert "'10.0.0.0/24'" in str(refused.value)


@pytest.mark.parametrize(
    "bound",
    [5.0e9, -5.0e9, 0.000001, -0.000001, 0, 4_999_999_999.5],
    ids=["upper limit", "lower limit", "smallest step", "smallest negative step", "zero", "x.5"],
)
def test_numeric_bounds_inside_the_documented_range_pass(bound):
    """Numeric matching covers -5.0e9 to +5.0e9 inclusive, to six digits after the decimal point
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html)."""
    pattern = {"detail": {"amount": [{"numeric": ["=", bound]}]}}

    assert check_pattern(pattern) == pattern


def test_a_tuple_of_values_is_taken_as_a_list():
    """json.dumps writes a tuple as a JSON array; the checked pattern says so."""
    assert check_pattern({"source": ("sales.domain",)}) == {"source": ["sales.domain"]}


def _nested(depth: int) -> object:
    """A pattern ``depth`` objects deep: {"a": {"a": ... ["x"]}}."""
    pattern: object = ["x"]
    for _ in range(depth):
        pattern = {"a": pattern}
    return pattern


def test_a_pattern_just_inside_the_depth_limit_passes():
    assert check_pattern(_nested(99)) == _nested(99)


@pytest.mark.parametrize(
    ("pattern", "path", "says"),
    [
        pytest.param([{"source": ["a"]}], "(root)", "non-empty JSON object", id="a list"),
        pytest.param(None, "(root)", "non-empty JSON object", id="None"),
        pytest.param("[1, 2]", "(root)", "non-empty JSON object", id="JSON text of a list"),
        pytest.param(b'{"source": ["a"]}', "(root)", "non-empty JSON object", id="bytes"),
        pytest.param("", "(root)", "not valid JSON", id="empty text"),
        pytest.param(_nested(101), "a.a.a", "flatten", id="101 levels deep"),
        pytest.param("[" * 100_000, "(root)", "flatten", id="JSON text 100,000 deep"),
        pytest.param({1: ["a"]}, "(root)", "write '1'", id="a key that is not a string"),
        pytest.param(
            '{"source": ["a"], "source": ["b"]}', "(root)", "merge", id="a field named twice"
        ),
        pytest.param({"source": {"a"}}, "source", "set is not JSON", id="a set"),
        pytest.param(
            {"detail": {"amount": [Decimal("1.5")]}}, "amount[0]", "Decimal", id="a Decimal"
        ),
        pytest.param(
            {"detail": {"amount": [float("nan")]}}, "amount[0]", "write a number", id="NaN"
        ),
        pytest.param('{"amount": [NaN]}', "(root)", "write a number", id="NaN in JSON text"),
        pytest.param('{"amount": [1e400]}', "amount[0]", "infinity", id="1e400 overflows a double"),
        pytest.param({"amount": [10**5000]}, "amount[0]", "4,300 digits", id="10**5000"),
        pytest.param(
            {"detail": {"amount": {"numeric": [">", 1]}}},
            "detail.amount.numeric",
            '"amount": [{"numeric": [">", 1]}',
            id="an operator as a nested field key",
        ),
        pytest.param(
            {"amount": [{"numeric": [">", 0.0000001]}]},
            "numeric[1]",
            "at least 0.000001",
            id="a bound below the precision",
        ),
        pytest.param(
            {"amount": [{"numeric": [">", 1, "<"]}]}, "numeric", "pairs", id="odd numeric"
        ),
        pytest.param({"c": [{"exists": "true"}]}, "exists", "true or false", id="'true'"),
        pytest.param({"c": [{"suffix": 3.5}]}, "suffix", "expects a string", id="suffix 3.5"),
        pytest.param({"$or": []}, "$or", "at least two", id="an empty $or"),
        pytest.param(
            {"c": [{"anything-but": {"prefix": ["a", ""]}}]},
            "prefix[1]",
            "give some text",
            id="anything-but an empty prefix in a list",
        ),
        pytest.param(
            {"c": [{"wildcard": "foo*bar\\"}]}, "wildcard", "lone backslash", id="wildcard \\"
        ),
        pytest.param(
            {"ip": [{"cidr": "2001:db8::1/32"}]},
            "cidr",
            "'2001:db8::/32'",
            id="IPv6 host bits",
        ),
    ],
)
def test_bad_input_check_pattern_names_the_path_and_the_fix(pattern, path, says):
    """EventBridge's rules for patterns
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html;
    aws/event-ruler's JsonRuleCompilerTest refuses the same operator arguments); what is not
    JSON, or not the JSON it seems, is meshkit's own rule."""
    with pytest.raises(PatternError) as refused:
        check_pattern(pattern)

    assert path in refused.value.path
    assert says in str(refused.value)


@pytest.mark.parametrize("max_chars", [0, "2048", 8192, 2048.0, True], ids=repr)
def test_bad_input_check_pattern_refuses_a_max_chars_outside_the_quota(max_chars):
    """The pattern quota: 2,048 characters, adjustable up to 4,096
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html)."""
    with pytest.raises(ValidationError) as refused:
        check_pattern({"source": ["a"]}, max_chars=max_chars)

    assert "max_chars" in str(refused.value) and "1 to 4,096" in str(refused.value)


@pytest.fixture
def sale_event():
    return mk.events.DomainEvent(
        "sales.domain", "SaleRecorded", {"sale_id": "S-1", "amount": 1}, idempotency_key="k-1"
    )


@pytest.mark.parametrize(
    ("events_from", "says"),
    [
        pytest.param(lambda sale: None, "events: expected a list", id="None"),
        pytest.param(lambda sale: "S-1", "write [event]", id="a string"),
        pytest.param(lambda sale: {"sale_id": "S-1"}, "write [event]", id="a dict"),
        pytest.param(lambda sale: [{"sale_id": "S-1"}], "events[0] is a dict", id="dicts"),
        pytest.param(lambda sale: sale, "write [event]", id="one DomainEvent, not in a list"),
        pytest.param(
            lambda sale: [sale, dataclasses.replace(sale, detail={"sale_id": "S-2"})],
            "give each its own key",
            id="two events, one key",
        ),
        pytest.param(
            lambda sale: [dataclasses.replace(sale, idempotency_key=None)],
            "non-empty string key",
            id="a key that is None",
        ),
        pytest.param(
            lambda sale: [
                sale,
                dataclasses.replace(sale, idempotency_key="k-2", detail={"ids": {1, 2}}),
            ],
            "not JSON",
            id="a detail that is not JSON",
        ),
        pytest.param(
            lambda sale: [dataclasses.replace(sale, source="aws.sales")],
            "reserves",
            id="a source AWS reserves",
        ),
    ],
)
def test_bad_input_try_pattern_refuses_events_before_sending_anything(
    sent, sale_event, events_from, says
):
    """Nothing is sent: a ValidationError promises it (the scratch bus is never created)."""
    with pytest.raises(ValidationError) as refused:
        try_pattern({"source": ["sales.domain"]}, events_from(sale_event))

    assert says in str(refused.value)
    assert sent == []


def test_bad_input_try_pattern_refuses_a_bad_pattern_before_sending_anything(sent, sale_event):
    with pytest.raises(PatternError, match="host bits"):
        try_pattern({"detail": {"ip": [{"cidr": "10.0.0.1/8"}]}}, [sale_event])

    assert sent == []


def test_try_pattern_answers_no_events_with_an_empty_frame_and_no_request(sent):
    frame = try_pattern({"source": ["sales.domain"]}, [])

    assert list(frame.columns) == ["detail_type", "idempotency_key", "matched"]
    assert frame.empty and frame["matched"].dtype == bool
    assert sent == []


# -- the quota counts characters, not escape sequences ------------------------------------------
#
# "Maximum number of characters in an event pattern: 2,048"
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html): "é" is one character,
# not the six of its JSON escape \u00e9.


def _pattern_of_chars(total: int, letter: str) -> dict:
    """A pattern whose compact JSON is ``total`` characters long, mostly ``letter``."""
    frame = len('{"a":[""]}')
    return {"a": [letter * (total - frame)]}


@pytest.mark.parametrize("letter", ["é", "€", "日"])
def test_a_non_ascii_character_counts_once_toward_the_pattern_quota(letter):
    at_the_limit = _pattern_of_chars(2048, letter)

    assert check_pattern(at_the_limit) == at_the_limit
    assert check_pattern({"a": ["é" * 500]}) == {"a": ["é" * 500]}
    with pytest.raises(PatternError, match="2049 characters"):
        check_pattern(_pattern_of_chars(2049, letter))


def test_the_quota_error_counts_what_is_sent_and_names_the_fix():
    with pytest.raises(PatternError) as refused:
        check_pattern({"a": ["é" * 2100]}, max_chars=2048)

    message = str(refused.value)
    assert "2110 characters" in message and "allows 2048" in message
    assert "match fewer values" in message and "max_chars" in message


def test_on_real_aws_try_pattern_sends_the_pattern_text_check_pattern_measured(monkeypatch, sales):
    """The text sent is the text measured: non-ASCII as itself, not as \\u escapes."""
    client = boto3.client(
        "events", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    asked = []
    client.meta.events.register(
        "before-parameter-build.events.TestEventPattern",
        lambda params, **_: asked.append(params["EventPattern"]),
    )
    pattern = {"detail": {"data": {"currency": ["€" * 2000]}}}
    target = mk.sandbox.Target("aws", None, "111122223333", "us-west-2", None)
    monkeypatch.setattr(mk._aws, "target", lambda: target)
    monkeypatch.setattr(mk._aws, "client", lambda name, session=None: client)

    with Stubber(client) as stub:
        stub.add_response("test_event_pattern", {"Result": False})
        try_pattern(pattern, sales[:1])

    assert asked == [mk.patterns.pattern_json(pattern)]
    assert "€" in asked[0] and len(asked[0]) <= 2048


def test_offline_try_pattern_creates_its_rule_with_the_measured_text(mesh):
    session = mesh.session()
    created = []
    session.events.register(
        "before-parameter-build.events.PutRule",
        lambda params, **_: created.append(params["EventPattern"]),
    )
    sale = mk.events.DomainEvent(
        "sales.domain", "SaleRecorded", {"currency": "€"}, idempotency_key="k-€"
    )

    frame = try_pattern(data("currency", "€"), [sale], boto3_session=session)

    assert list(frame["matched"]) == [True]
    assert created == ['{"detail":{"data":{"currency":["€"]}}}']


def test_pattern_json_is_the_compact_text_check_pattern_measures():
    assert mk.patterns.pattern_json({"a": ["é", 1]}) == '{"a":["é",1]}'


_SURROGATE_FIX = "decode the text with its real encoding, or drop the character"


@pytest.mark.parametrize(
    ("pattern", "max_chars", "path", "says"),
    [
        pytest.param({"a": ["\ud800"]}, 2048, "a[0]", "lone surrogate", id="a lone surrogate"),
        pytest.param({"\udfff": ["x"]}, 2048, "(root)", "field name", id="in a field name"),
        pytest.param(
            '{"a": [{"prefix": "\\ud83d"}]}',
            2048,
            "a[0].prefix",
            "lone surrogate",
            id="an escaped lone surrogate in JSON text",
        ),
        pytest.param(
            {"a": [{"anything-but": ["ok", "x\udc80"]}]},
            2048,
            "anything-but[1]",
            "lone surrogate",
            id="a surrogateescape byte in a list",
        ),
        pytest.param(
            _pattern_of_chars(4097, "é"), 4096, "(root)", "4097 characters", id="4,097 of é"
        ),
    ],
)
def test_bad_input_check_pattern_refuses_text_that_is_not_unicode_or_too_long(
    pattern, max_chars, path, says
):
    """A lone surrogate is not a Unicode character: it cannot be sent as UTF-8, and its JSON
    escape is refused by strict JSON parsers (RFC 8259, section 8.2)."""
    with pytest.raises(PatternError) as refused:
        check_pattern(pattern, max_chars=max_chars)

    message = str(refused.value)
    assert path in refused.value.path
    assert says in message
    assert (_SURROGATE_FIX if "surrogate" in says or "field" in says else "fewer values") in message
