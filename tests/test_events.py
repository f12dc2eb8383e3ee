"""Publishing domain events: envelope, batching, retries, partial failures, and bad input."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

import meshkit as mk
from meshkit import _aws
from meshkit import events as mk_events
from meshkit.exceptions import MeshkitError, ValidationError

SAMPLES = Path(__file__).parent / "events"
BUS = "SalesEventBus"


def sale(i: int, **overrides) -> mk.events.DomainEvent:
    fields = {
        "source": "sales.domain",
        "detail_type": "SaleRecorded",
        "detail": {"sale_id": f"S-{i}", "amount": 10 + i, "timestamp": "2026-01-29T10:00:00Z"},
        "idempotency_key": f"sale-recorded/S-{i}",
        "correlation_id": "checkout-1",
    }
    return mk.events.DomainEvent(**{**fields, **overrides})


@pytest.fixture
def bus(mesh):  # mesh resets the server, which also empties meshkit's cache of known buses
    mk.buses.create_domain_bus("sales")
    return BUS


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    """Backoff waits are recorded, not slept."""
    waits: list[float] = []
    monkeypatch.setattr(mk_events, "_sleep", waits.append)
    return waits


def puts(sent) -> list:
    return [request for request in sent if request.operation == "AWSEvents.PutEvents"]


# -- the envelope --------------------------------------------------------------------------------


def test_the_envelope_wraps_data_with_the_platforms_metadata():
    entry = sale(1, time=datetime(2026, 1, 29, 10, tzinfo=timezone.utc)).to_entry(BUS)

    assert entry["Source"] == "sales.domain"
    assert entry["DetailType"] == "SaleRecorded"
    assert entry["EventBusName"] == BUS
    assert entry["Time"] == datetime(2026, 1, 29, 10, tzinfo=timezone.utc)
    assert json.loads(entry["Detail"]) == {
        "metadata": {
            "idempotency_key": "sale-recorded/S-1",
            "correlation_id": "checkout-1",
            "schema_version": "1.0",
            "data_product": "sales.sale-recorded",
        },
        "data": {"sale_id": "S-1", "amount": 11, "timestamp": "2026-01-29T10:00:00Z"},
    }


def test_entry_size_counts_what_eventbridge_counts():
    entry = {"Source": "ab", "DetailType": "cd", "Detail": '{"é":1}', "Resources": ["arn:x"]}

    assert mk.events.entry_size(entry) == 2 + 2 + len('{"é":1}'.encode()) + 5
    assert mk.events.entry_size({**entry, "Time": datetime.now(timezone.utc)}) == 14 + 2 + 2 + 8 + 5


# -- batching ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 9, 10, 11, 25, 101])
def test_small_events_take_one_call_per_ten(bus, count):
    result = mk.events.publish(bus, [sale(i) for i in range(count)])

    assert (result.sent, result.failed, result.api_calls) == (count, [], math.ceil(count / 10))
    assert len(result.event_ids) == len(set(result.event_ids)) == count
    assert result.billable_chunks == count


def test_events_near_the_size_limit_are_batched_within_it(bus, sent):
    padding = "x" * (100 * 1024)  # three of these exceed the classic 256 KB request limit
    big = [sale(i, detail={**sale(i).detail, "note": padding}) for i in range(7)]

    result = mk.events.publish(
        bus, big, validate=False, max_bytes=mk.events.CLASSIC_ENTRY_LIMIT_BYTES
    )

    assert result.sent == 7
    assert result.api_calls == len(puts(sent)) == 4  # 2 + 2 + 2 + 1
    assert result.billable_chunks == 7 * 2  # each event is between 64 and 128 KB


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=1000), max_size=200),
    max_entries=st.integers(min_value=1, max_value=10),
    max_bytes=st.integers(min_value=1000, max_value=5000),
)
def test_batches_keep_order_and_limits_and_lose_nothing(sizes, max_entries, max_bytes):
    items = list(enumerate(sizes))

    batched = list(
        mk.events.batches(
            ((item, item[1]) for item in items), max_entries=max_entries, max_bytes=max_bytes
        )
    )

    assert [item for batch in batched for item in batch] == items  # order, nothing lost or doubled
    for batch in batched:
        assert 1 <= len(batch) <= max_entries
        assert sum(size for _, size in batch) <= max_bytes
    for first, second in itertools.pairwise(batched):  # a batch closes only when the next
        assert len(first) == max_entries or (  # item would not fit
            sum(size for _, size in first) + second[0][1] > max_bytes
        )


@pytest.mark.parametrize(
    ("size", "chunks"), [(1, 1), (65_536, 1), (65_537, 2), (200 * 1024, 4), (1024 * 1024, 16)]
)
def test_each_started_64_kb_is_billed_as_one_event(size, chunks):
    assert mk.events.billable_chunks(size) == chunks


def test_a_batch_plan_is_what_publish_sends_and_sends_nothing(bus, sent):
    padding = "x" * (100 * 1024)
    events = [sale(i, detail={**sale(i).detail, "note": padding * (i % 3)}) for i in range(7)]
    limit = mk.events.CLASSIC_ENTRY_LIMIT_BYTES

    plan = mk.events.batch_plan(events, bus, max_bytes=limit, validate=False)

    assert puts(sent) == [], "planning sends nothing"
    assert plan.idempotency_key.tolist() == [event.idempotency_key for event in events]
    assert plan.bytes.tolist() == [mk.events.entry_size(e.to_entry(bus)) for e in events]
    assert plan.chunks.tolist() == [mk.events.billable_chunks(b) for b in plan.bytes]
    assert (plan.groupby("request").bytes.sum() <= limit).all()
    result = mk.events.publish(bus, events, max_bytes=limit, validate=False)
    assert plan.request.max() == result.api_calls == len(puts(sent))
    assert plan.chunks.sum() == result.billable_chunks


def test_a_batch_plan_checks_events_as_publish_does():
    with pytest.raises(mk.contracts.ContractViolation, match=r"event 1 \(sale-recorded/S-1\)"):
        mk.events.batch_plan([sale(0), sale(1, detail={"sale_id": "S-1"})], BUS)


def test_a_generator_is_streamed_not_read_whole(bus, monkeypatch):
    pulled = 0

    def generate():
        nonlocal pulled
        for i in range(100):
            pulled += 1
            yield sale(i)

    real_client = _aws.client
    seen_at_first_call: list[int] = []

    def spying_client(*args, **kwargs):
        client = real_client(*args, **kwargs)  # cached and shared: patch it for this test only
        put = client.put_events

        def put_events(**params):
            seen_at_first_call.append(pulled)
            return put(**params)

        monkeypatch.setattr(client, "put_events", put_events)
        return client

    monkeypatch.setattr(_aws, "client", spying_client)

    result = mk.events.publish(bus, generate(), record=False)

    assert result.sent == 100 and result.event_ids == []
    assert seen_at_first_call[0] <= 11, "the first batch left before the input was read"


# -- retries and partial failures (botocore Stubber) -------------------------------------------


@pytest.fixture
def stubbed(mesh, monkeypatch):
    """An events client whose answers the test scripts, starting with the bus check's."""
    client = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    monkeypatch.setattr(_aws, "client", lambda *args, **kwargs: client)
    with Stubber(client) as stubber:
        arn = f"arn:aws:events:{mesh.region}:{mesh.account_id}:event-bus/{BUS}"
        stubber.add_response("describe_event_bus", {"Name": BUS, "Arn": arn}, {"Name": BUS})
        yield stubber


def test_the_documented_partial_failure_is_retried_until_delivered(stubbed, no_sleep):
    sample = json.loads((SAMPLES / "put_events_partial_failure.json").read_text())
    stubbed.add_response("put_events", sample)
    stubbed.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-2"}]})

    result = mk.events.publish(BUS, [sale(0), sale(1), sale(2)])

    assert (result.sent, result.failed, result.api_calls, result.retried) == (3, [], 2, 1)
    assert result.event_ids == [
        sample["Entries"][0]["EventId"],
        "e-2",
        sample["Entries"][2]["EventId"],
    ]
    assert len(no_sleep) == 1 and 0 <= no_sleep[0] <= mk_events._BACKOFF_CAP_S


def test_a_failure_not_worth_retrying_is_returned_at_once(stubbed):
    stubbed.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [
                {"EventId": "e-0"},
                {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."},
            ],
        },
    )

    result = mk.events.publish(BUS, [sale(0), sale(1)])

    assert (result.sent, result.api_calls, result.retried) == (1, 1, 0)
    [failure] = result.failed
    assert (failure.event.idempotency_key, failure.error_code, failure.attempts) == (
        "sale-recorded/S-1",
        "MalformedDetail",
        1,
    )
    assert result.failures_frame().error_code.tolist() == ["MalformedDetail"]


def test_retries_are_bounded_and_back_off_exponentially(stubbed, no_sleep, monkeypatch):
    monkeypatch.setattr(mk_events.random, "uniform", lambda low, high: high)  # the ceiling
    throttled = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded."}
    for _ in range(3):
        stubbed.add_response("put_events", {"FailedEntryCount": 1, "Entries": [throttled]})

    result = mk.events.publish(BUS, [sale(0)], max_attempts=3)

    assert result.sent == 0 and result.api_calls == 3
    assert [f.attempts for f in result.failed] == [3]
    assert no_sleep == [mk_events._BACKOFF_BASE_S * 2, mk_events._BACKOFF_BASE_S * 4]


def test_the_timeline_shows_each_attempt_with_its_outcome_and_backoff(stubbed, no_sleep):
    sample = json.loads((SAMPLES / "put_events_partial_failure.json").read_text())
    stubbed.add_response("put_events", sample)
    stubbed.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e-2"}]})

    result = mk.events.publish(BUS, [sale(0), sale(1), sale(2)])

    timeline = result.timeline_frame()
    columns = ["batch", "attempt", "entries", "accepted", "retrying", "failed"]
    assert timeline[columns].values.tolist() == [[1, 1, 3, 2, 1, 0], [1, 2, 1, 1, 0, 0]]
    assert timeline.backoff_s.tolist() == [no_sleep[0], 0.0], "the pause that was slept"
    assert timeline.start_s[0] == 0.0
    assert (timeline.start_s <= timeline.end_s).all()
    assert timeline.end_s[0] <= timeline.start_s[1], "the retry follows the first answer"


def test_the_timeline_numbers_batches_and_counts_every_entry_once(bus):
    with mk.faults.failing_put_events(
        0.3, codes=["ThrottlingException", "InvalidArgument"], seed=3
    ) as faults:
        result = mk.events.publish(bus, [sale(i) for i in range(40)], max_attempts=2)

    timeline = result.timeline_frame()
    assert timeline.batch.unique().tolist() == [1, 2, 3, 4]
    assert len(timeline) == result.api_calls
    assert timeline.accepted.sum() == result.sent
    assert timeline.failed.sum() == len(result.failed)
    assert timeline.retrying.sum() == result.retried
    assert (timeline.entries == timeline.accepted + timeline.retrying + timeline.failed).all()
    assert timeline.entries.sum() == faults.failed + faults.passed
    assert (timeline.attempt <= 2).all() and result.retried > 0 and result.failed


def test_a_request_refused_whole_is_in_the_timeline(stubbed):
    stubbed.add_client_error(
        "put_events", service_error_code="AccessDeniedException", http_status_code=400
    )

    with pytest.raises(mk.events.PublishError) as raised:
        mk.events.publish(BUS, [sale(0), sale(1)])

    timeline = raised.value.result.timeline_frame()
    assert timeline[["batch", "attempt", "entries", "accepted", "failed"]].values.tolist() == [
        [1, 1, 2, 0, 2]
    ]


def test_without_recording_there_is_no_timeline(bus):
    result = mk.events.publish(bus, [sale(i) for i in range(12)], record=False)

    assert result.api_calls == 2
    assert result.requests == [] and result.timeline_frame().empty
    assert list(result.timeline_frame().columns) == list(
        mk.events.PublishResult().timeline_frame().columns
    )


def test_raise_on_failure_raises_with_everything_attached(stubbed):
    stubbed.add_response(
        "put_events",
        {
            "FailedEntryCount": 1,
            "Entries": [{"ErrorCode": "InvalidArgument", "ErrorMessage": "no"}],
        },
    )

    with pytest.raises(mk.events.PublishError, match=r"error\.result\.failed") as raised:
        mk.events.publish(BUS, [sale(0)], raise_on_failure=True)

    assert [f.error_code for f in raised.value.result.failed] == ["InvalidArgument"]


def test_a_request_refused_whole_stops_and_returns_its_events(stubbed):
    stubbed.add_response(
        "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{i}"} for i in range(10)]}
    )
    stubbed.add_client_error(
        "put_events", service_error_code="AccessDeniedException", http_status_code=400
    )

    with pytest.raises(mk.events.PublishError, match="AccessDeniedException") as raised:
        mk.events.publish(BUS, [sale(i) for i in range(25)])

    result = raised.value.result
    assert result.sent == 10 and len(result.event_ids) == 10
    assert [f.event.idempotency_key for f in result.failed] == [
        f"sale-recorded/S-{i}" for i in range(10, 20)
    ]


def test_ten_thousand_events_with_five_percent_failures_lose_nothing(bus):
    """Every event is accepted by EventBridge exactly once or returned as failed; none is lost."""
    keys = [f"sale-recorded/S-{i}" for i in range(10_000)]

    with mk.faults.failing_put_events(
        0.05, codes=["ThrottlingException"] * 4 + ["InvalidArgument"], seed=42
    ) as faults:
        result = mk.events.publish(bus, (sale(i) for i in range(10_000)))

    sent = [key for key, _ in result.delivered]
    failed = [f.event.idempotency_key for f in result.failed]
    assert result.sent + len(failed) == 10_000
    assert sorted(sent + failed) == sorted(keys), "nothing lost, nothing counted twice"
    assert sorted(result.event_ids) == sorted(faults.accepted_ids), "EventBridge's own count agrees"
    assert result.retried > 0 and failed, "both retried and returned failures happened"
    assert {f.error_code for f in result.failed} <= {"ThrottlingException", "InvalidArgument"}
    assert result.outcomes_frame().status.value_counts().to_dict() == {
        "sent": result.sent,
        "failed": len(failed),
    }


def test_what_is_accepted_is_what_arrives(sales_tap):
    """End to end through a subscribed queue, with failures injected: arrivals == sent."""
    with mk.faults.failing_put_events(
        0.05, codes=["ThrottlingException", "InvalidArgument"], seed=7
    ):
        result = mk.events.publish(BUS, [sale(i) for i in range(300)])

    arrived = [event["detail"]["metadata"]["idempotency_key"] for event in sales_tap()]
    assert sorted(arrived) == sorted(key for key, _ in result.delivered)
    assert len(arrived) + len(result.failed) == 300


def test_progress_is_reported_after_each_request(bus):
    seen: list[tuple[int, int]] = []

    mk.events.publish(
        bus, [sale(i) for i in range(25)], progress=lambda r: seen.append((r.sent, r.api_calls))
    )

    assert seen == [(10, 1), (20, 2), (25, 3)]


# -- bad input: a clear error, and nothing sent ------------------------------------------------


class NotJson:
    pass


BAD_EVENTS = {
    "detail not JSON": (
        lambda: sale(0, detail={"sale_id": "S-0", "amount": 1, "timestamp": NotJson()}),
        mk.events.DetailError,
        r"detail\.timestamp is a NotJson, which is not JSON: convert it first",
    ),
    "oversized": (
        lambda: sale(0, detail={**sale(0).detail, "note": "x" * (1024 * 1024)}),
        mk.events.EventSizeError,
        r"event 14 \(sale-recorded/S-0\): .*over the 1,048,576-byte entry limit \(max_bytes\)",
    ),
    "missing source": (lambda: sale(0, source=""), ValidationError, r"source is missing"),
    "missing detail-type": (
        lambda: sale(0, detail_type=" "),
        ValidationError,
        r"detail_type is missing",
    ),
    "detail-type too long": (
        lambda: sale(0, detail_type="S" * 129),
        ValidationError,
        r"detail_type is 129 characters; EventBridge allows at most 128",
    ),
    "reserved source": (lambda: sale(0, source="aws.sales"), ValidationError, r"reserves"),
    "contract violation": (
        lambda: sale(0, detail={"sale_id": "S-0", "amount": "12", "timestamp": "2026-01-29"}),
        mk.contracts.ContractViolation,
        r"data\.amount: '12' is not of type 'number'.*fix the event's data",
    ),
    "missing required field": (
        lambda: sale(0, detail={"sale_id": "S-0", "timestamp": "2026-01-29T10:00:00Z"}),
        mk.contracts.ContractViolation,
        r"data\.amount: 'amount' is a required property",
    ),
    "unknown contract": (
        lambda: sale(0, detail_type="SaleRefunded"),
        mk.contracts.UnknownContractError,
        r"no contract for .*SaleRefunded.*mk\.contracts\.register",
    ),
    "not a DomainEvent": (lambda: {"Source": "sales.domain"}, ValidationError, r"wrap it with"),
}


def nested(levels: int) -> dict:
    """{"next": {"next": ...}}, built without recursion."""
    value: dict = {}
    for _ in range(levels):
        value = {"next": value}
    return value


def shared(levels: int) -> list:
    """[[x, x], [x, x]]...: small in memory, 2**levels values when written as JSON."""
    value: list = []
    for _ in range(levels):
        value = [value, value]
    return value


def with_data(**fields) -> mk.events.DomainEvent:
    return sale(0, detail={**sale(0).detail, **fields})


# Issue 10, point 1: every field of an event is refused with a MeshkitError naming it, never a
# raw TypeError, ValueError, RecursionError or UnicodeEncodeError.
BAD_EVENTS.update(
    {
        "idempotency_key None": (
            lambda: sale(0, idempotency_key=None),
            ValidationError,
            r"idempotency_key is None: .*give a non-empty string, e.g\. idempotency_key=",
        ),
        "idempotency_key empty": (
            lambda: sale(0, idempotency_key=""),
            ValidationError,
            r"idempotency_key is empty: .*give a non-empty string",
        ),
        "schema_version a float": (
            lambda: sale(0, schema_version=1.1),
            ValidationError,
            r"schema_version is 1\.1, a float; write it as the string '1\.1'",
        ),
        "schema_version None": (
            lambda: sale(0, schema_version=None),
            ValidationError,
            r"schema_version is None: .*e\.g\. schema_version='1\.0'",
        ),
        "schema_version empty": (
            lambda: sale(0, schema_version=""),
            ValidationError,
            r"schema_version is empty",
        ),
        "schema_version not MAJOR.MINOR": (
            lambda: sale(0, schema_version="v1"),
            ValidationError,
            r"schema_version 'v1' is not MAJOR\.MINOR.*schema_version='1\.0'",
        ),
        "correlation_id an int": (
            lambda: sale(0, correlation_id=7),
            ValidationError,
            r"correlation_id is an int \(7\); it must be a string",
        ),
        "data_product empty": (
            lambda: sale(0, data_product=""),
            ValidationError,
            r"data_product is empty",
        ),
        "keys equal after JSON conversion": (
            lambda: with_data(tags={1: "a", "1": "b"}),
            mk.events.DetailError,
            r"detail\.tags has the keys 1 and '1', which are both '1' in JSON.*distinct string",
        ),
        "lone surrogate in a value": (
            lambda: with_data(note="receipt \ud800"),
            mk.events.DetailError,
            r"detail\.note contains the lone surrogate '\\ud800'.*decode them",
        ),
        "lone surrogate in a key": (
            lambda: with_data(lines={"\udcff": 1}),
            mk.events.DetailError,
            r"detail\.lines contains the lone surrogate",
        ),
        "lone surrogate in the idempotency key": (
            lambda: sale(0, idempotency_key="S-\ud800"),
            ValidationError,
            r"idempotency_key contains the lone surrogate",
        ),
        "NaN": (
            lambda: with_data(discount=float("nan")),
            mk.events.DetailError,
            r"detail\.discount is nan, which JSON cannot carry.*send None",
        ),
        "Infinity in a list": (
            lambda: with_data(rates=[1.0, float("inf")]),
            mk.events.DetailError,
            r"detail\.rates\[1\] is inf, which JSON cannot carry",
        ),
        "tuple key": (
            lambda: with_data(prices={("EUR", 2026): 1.0}),
            mk.events.DetailError,
            r"detail\.prices has the key \('EUR', 2026\) \(tuple\).*use a string key",
        ),
        "a set": (
            lambda: with_data(tags={"new"}),
            mk.events.DetailError,
            r"detail\.tags is a set, which is not JSON.*list\(\) for sets",
        ),
        "an int too long to write": (
            lambda: with_data(amount=10**5000),
            mk.events.DetailError,
            r"detail\.amount holds an int of more than 4,\d{3} digits.*send it as a string",
        ),
        "an int key too long to write": (
            lambda: with_data(counts={10**5000: 1}),
            mk.events.DetailError,
            r"detail\.counts holds an int of more than 4,\d{3} digits",
        ),
        "a list shared 2**40 times over": (
            lambda: with_data(tree=shared(40)),
            mk.events.EventSizeError,
            r"detail holds more than 1,048,576 values .*over the 1,048,576-byte entry limit",
        ),
        "10,000 levels of nesting": (
            lambda: with_data(tree=nested(10_000)),
            mk.events.DetailError,
            r"detail\.tree(\.next)+ is nested more than 64 levels deep.*flatten it",
        ),
    }
)


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
def test_bad_input_is_a_clear_error_and_nothing_is_sent(bus, sent, case):
    make_bad, error, message = BAD_EVENTS[case]
    good = [sale(i) for i in range(1, 15)]  # the bad event sits in the second batch

    with pytest.raises(error, match=message) as raised:
        mk.events.publish(bus, [*good, make_bad()])

    assert isinstance(raised.value, MeshkitError)
    assert puts(sent) == [], "the good events before it were not sent either"


# Issue 10, point 1: every argument of publish is checked before the first request.
BAD_ARGUMENTS = {
    "bus None": ({"bus": None}, r"bus must be a string, not NoneType: give the bus name"),
    "bus empty": ({"bus": ""}, r"bus is empty; a bus name has 1 to 256 .*give the bus name"),
    "bus not a str": ({"bus": 42}, r"bus must be a string, not int: give the bus name"),
    "bus with spaces": ({"bus": "Sales Bus"}, r"bus name 'Sales Bus' is not one EventBridge takes"),
    "bus ARN malformed": (
        {"bus": "arn:aws:events:us-west-2:12345:event-bus/SalesEventBus"},
        r"bus ARN .* is malformed: .*12-digit account",
    ),
    "events None": ({"events": None}, r"events is None; give a list .* of mk\.events\.Domain"),
    "events a str": ({"events": "SaleRecorded"}, r"events is a str; give a list"),
    "events a dict": ({"events": {"source": "sales.domain"}}, r"events is a dict; give a list"),
    "events one event": ({"events": sale(0)}, r"events is one DomainEvent.*pass \[event\]"),
    "events not iterable": ({"events": 42}, r"events is an int, which is not iterable"),
    "max_attempts 0": ({"max_attempts": 0}, r"max_attempts is 0; give at least 1"),
    "max_attempts a bool": ({"max_attempts": True}, r"max_attempts is a bool .*give an int"),
    "max_bytes 0": ({"max_bytes": 0}, r"max_bytes is 0; it must be more than 0"),
    "max_bytes over the AWS limit": (
        {"max_bytes": mk.events.ENTRY_LIMIT_BYTES + 1},
        r"max_bytes is 1,048,577; .*at most the AWS entry limit, ENTRY_LIMIT_BYTES",
    ),
    "max_bytes a float": ({"max_bytes": 262144.0}, r"max_bytes is a float .*give an int"),
    "progress a str": ({"progress": "yes"}, r"progress is a str .*give True .*False, or a func"),
    "registry a dict": ({"registry": {}}, r"registry is a dict; give a mk\.contracts\.Contract"),
    "record a str": ({"record": "no"}, r"record is a str \('no'\); give True or False"),
    "boto3_session a str": (
        {"boto3_session": "default"},
        r"boto3_session is a str; give a boto3\.Session",
    ),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=list(BAD_ARGUMENTS))
def test_bad_input_arguments_are_refused_before_any_request(bus, sent, case):
    """Given one bad argument, when publishing, then a ValidationError names it and how to fix
    it, and not one request (not even the bus check) was made."""
    overrides, message = BAD_ARGUMENTS[case]
    arguments = {"bus": bus, "events": [sale(i) for i in range(12)], **overrides}

    with pytest.raises(ValidationError, match=message):
        mk.events.publish(arguments.pop("bus"), arguments.pop("events"), **arguments)

    assert sent == []


def test_a_request_that_gets_no_answer_returns_its_events_and_the_unsent(stubbed):
    stubbed.add_response(
        "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": f"e-{i}"} for i in range(10)]}
    )
    stubbed.add_client_error("put_events", service_error_code="AccessDeniedException")

    with pytest.raises(mk.events.PublishError) as raised:
        mk.events.publish(BUS, [sale(i) for i in range(25)])

    result = raised.value.result
    accounted = [key for key, _ in result.delivered]
    accounted += [f.event.idempotency_key for f in result.failed]
    accounted += [unsent.event.idempotency_key for unsent in result.unsent]
    assert sorted(accounted) == sorted(f"sale-recorded/S-{i}" for i in range(25))


def test_a_bad_event_deep_in_a_generator_says_what_went_out_before_it(bus):
    def generate():
        yield from (sale(i) for i in range(20))
        yield sale(20, detail_type="S" * 129)

    with pytest.raises(mk.events.PublishError, match=r"event 20 .*10 events were sent") as raised:
        mk.events.publish(bus, generate())

    result = raised.value.result
    assert result.sent == 10, "the first batch; the second was waiting for its last event"
    assert [u.event.idempotency_key for u in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(10, 20)
    ]
    assert [(f.event.idempotency_key, f.attempts) for f in result.failed] == [
        ("sale-recorded/S-20", 0)
    ], "the refused event is accounted for, never sent"


def test_wrongly_typed_time_and_resources_are_refused_before_sending():
    with pytest.raises(ValidationError, match="time must be a datetime"):
        sale(0, time="2026-01-29").to_entry(BUS)
    with pytest.raises(ValidationError, match="resources must be a tuple of ARN strings"):
        sale(0, resources="arn:aws:s3:::receipts/S-0").to_entry(BUS)


def test_an_unknown_bus_is_a_clear_error_and_nothing_is_sent(mesh, sent):
    with pytest.raises(
        mk.events.UnknownBusError, match=r"'NoSuchEventBus' does not exist.*drop them"
    ):
        mk.events.publish("NoSuchEventBus", [sale(0)])

    assert puts(sent) == []


def test_a_reset_forgets_which_buses_exist(bus):
    mk.events.publish(bus, [sale(0)])

    mk.sandbox.reset()

    with pytest.raises(mk.events.UnknownBusError):
        mk.events.publish(bus, [sale(1)])


def test_deleting_a_bus_forgets_that_it_existed(bus):
    mk.events.publish(bus, [sale(0)])

    mk.buses.delete_domain_bus("sales")

    with pytest.raises(mk.events.UnknownBusError):
        mk.events.publish(bus, [sale(1)])


def test_the_bus_is_checked_once_per_call_never_across_calls(bus, sent):
    mk.events.publish(bus, [sale(i) for i in range(25)])
    mk.events.publish(bus, [sale(25)])

    checks = [r for r in sent if r.operation == "AWSEvents.DescribeEventBus"]
    assert len(checks) == 2, "one per call, whatever the number of requests"


def test_the_bus_check_is_per_account(mesh):
    """A bus checked in one account says nothing of a bus of the same name in another."""
    mk.buses.create_domain_bus("sales")
    deleted = mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})
    mk.events.publish("SalesEventBus", [deleted])
    other_account = mk.iam.assume_role("arn:aws:iam::222222222222:role/sales-domain")

    with pytest.raises(mk.events.UnknownBusError):
        mk.events.publish("SalesEventBus", [deleted], boto3_session=other_account)


BAD_PLANNING = {
    "batch_plan of None": (
        lambda: mk.events.batch_plan(None, BUS),
        r"events is None; give a list",
    ),
    "batch_plan over the AWS limit": (
        lambda: mk.events.batch_plan([sale(0)], BUS, max_bytes=2 * mk.events.ENTRY_LIMIT_BYTES),
        r"max_bytes is 2,097,152; .*at most the AWS entry limit",
    ),
    "batches of 0 entries": (
        lambda: mk.events.batches([("a", 1)], max_entries=0),
        r"max_entries is 0; PutEvents takes 1 to 10 entries",
    ),
    "batches of 11 entries": (
        lambda: mk.events.batches([("a", 1)], max_entries=11),
        r"max_entries is 11; PutEvents takes 1 to 10 entries",
    ),
}


@pytest.mark.parametrize("case", BAD_PLANNING, ids=list(BAD_PLANNING))
def test_bad_input_to_planning_is_refused_at_once(case):
    """batch_plan and batches check their arguments as publish does, when called."""
    plan, message = BAD_PLANNING[case]

    with pytest.raises(ValidationError, match=message):
        plan()


# The small public helpers refuse what they cannot measure, naming the argument and the fix,
# instead of a raw AttributeError / TypeError or a wrong answer (adversarial report, 11).
BAD_HELPER_INPUT = {
    "entry_size of a Detail that is an int": (
        lambda: mk.events.entry_size({"Detail": 5}),
        r"entry\['Detail'\] is an int; give a str .*to_entry",
    ),
    "entry_size of a Source that is None": (
        lambda: mk.events.entry_size({"Source": None, "Detail": "{}"}),
        r"entry\['Source'\] is None; give a str",
    ),
    "entry_size of a Detail in bytes": (
        lambda: mk.events.entry_size({"Detail": b"{}"}),
        r"entry\['Detail'\] is a bytes; give a str .*decode",
    ),
    "entry_size of a lone surrogate": (
        lambda: mk.events.entry_size({"Detail": '{"a":"\ud800"}'}),
        r"entry\['Detail'\] contains the lone surrogate .*UTF-8 cannot encode",
    ),
    "entry_size of Resources as one str": (
        lambda: mk.events.entry_size({"Resources": "arn:aws:s3:::receipts/S-1"}),
        r"entry\['Resources'\] is a str; give a list of ARN strings",
    ),
    "entry_size of a Resource that is an int": (
        lambda: mk.events.entry_size({"Resources": ["arn:aws:s3:::a", 5]}),
        r"entry\['Resources'\]\[1\] is an int; give a list of ARN strings",
    ),
    "entry_size of a list, not an entry": (
        lambda: mk.events.entry_size([("Detail", "{}")]),
        r"entry is a list; give a PutEvents entry, a dict .*to_entry",
    ),
    "entry_size of None": (
        lambda: mk.events.entry_size(None),
        r"entry is None; give a PutEvents entry",
    ),
    "batches of bare items": (
        lambda: list(mk.events.batches([1, 2])),
        r"sized\[0\] is an int, not an \(item, size\) pair; give pairs, e.g. \[\('a', 600\)",
    ),
    "batches of triples": (
        lambda: list(mk.events.batches([("a", 1, 2)])),
        r"sized\[0\] is a tuple of 3, not an \(item, size\) pair",
    ),
    "batches of a dict": (
        lambda: mk.events.batches({"a": 600}),
        r"sized is a dict; give \(item, size\) pairs: pass sized.items\(\)",
    ),
    "batches of None": (
        lambda: mk.events.batches(None),
        r"sized is None, which is not iterable; give \(item, size\) pairs",
    ),
    "batches with a size as a str": (
        lambda: list(mk.events.batches([("a", 1), ("b", "600")])),
        r"sized\[1\] has the size '600' \(a str\); give a size in bytes: an int of at least 0",
    ),
    "batches with a negative size": (
        lambda: list(mk.events.batches([("a", -1)])),
        r"sized\[0\] has the size -1 \(an int\); give a size in bytes: an int of at least 0",
    ),
    "batches with a size as a float": (
        lambda: list(mk.events.batches([("a", 1.5)])),
        r"sized\[0\] has the size 1.5 \(a float\); give a size in bytes",
    ),
    "billable_chunks of -1": (
        lambda: mk.events.billable_chunks(-1),
        r"size is -1 \(an int\); give the entry's size in bytes, an int of at least 0 "
        r"\(mk.events.entry_size",
    ),
    "billable_chunks of 1.5": (
        lambda: mk.events.billable_chunks(1.5),
        r"size is 1.5 \(a float\); give the entry's size in bytes, an int",
    ),
    "billable_chunks of a str": (
        lambda: mk.events.billable_chunks("300"),
        r"size is '300' \(a str\); give the entry's size in bytes",
    ),
    "billable_chunks of True": (
        lambda: mk.events.billable_chunks(True),
        r"size is True \(a bool\); give the entry's size in bytes",
    ),
}


@pytest.mark.parametrize("case", BAD_HELPER_INPUT, ids=list(BAD_HELPER_INPUT))
def test_bad_input_to_the_size_and_batching_helpers_is_a_clear_error(case):
    """Given what entry_size, batches or billable_chunks cannot measure, then a ValidationError
    names the argument and the fix (today: AttributeError, TypeError, or 1 for -1 and 1.5)."""
    call, message = BAD_HELPER_INPUT[case]

    with pytest.raises(ValidationError, match=message):
        call()


def test_billing_is_exact_for_any_size_and_one_event_for_an_empty_entry():
    """Integer arithmetic: no float rounding or OverflowError for a huge size; an entry of 0
    bytes is still one event (https://aws.amazon.com/eventbridge/pricing/: each 64 KB chunk of a
    payload is billed as one event)."""
    assert mk.events.billable_chunks(0) == 1
    assert mk.events.billable_chunks(10**400) == -(-(10**400) // 65_536)
    assert mk.events.billable_chunks(2**60 + 1) == 2**44 + 1


# -- nothing lost when publishing stops (issue 10, point 1) --------------------------------------


def accounted_for(result: mk.events.PublishResult) -> list[str]:
    """The idempotency keys of every event the result accounts for, each where it went."""
    keys = [key for key, _ in result.delivered]
    keys += [failure.event.idempotency_key for failure in result.failed]
    return keys + [unsent.event.idempotency_key for unsent in result.unsent]


def test_a_generator_that_raises_after_15_events_loses_none_of_them(bus):
    """Given a generator that yields 15 events and then raises, when publishing it, then the
    caller gets a PublishError chained from the generator's exception, whose result holds the 10
    sent and the 5 read but never sent (today these 5 vanish, and there is no result)."""
    failure = RuntimeError("the sales table went away")

    def generate():
        yield from (sale(i) for i in range(15))
        raise failure

    with pytest.raises(mk.events.PublishError, match=r"RuntimeError.*after yielding 15") as raised:
        mk.events.publish(bus, generate())

    assert raised.value.__cause__ is failure
    result = raised.value.result
    assert result.sent == 10 and result.failed == []
    assert [u.event.idempotency_key for u in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(10, 15)
    ]
    assert all("RuntimeError" in u.reason for u in result.unsent)
    assert sorted(accounted_for(result)) == sorted(f"sale-recorded/S-{i}" for i in range(15))


def test_a_contract_violation_at_the_sixth_event_of_a_generator_keeps_the_five_read(bus, sent):
    """Given a generator whose 6th event breaks its contract, when publishing it, then nothing is
    sent and the PublishError's result holds the 5 good events read (unsent, to publish again)
    and the bad one (failed, 0 attempts); today the 5 are gone."""
    bad = sale(5, detail={"sale_id": "S-5", "amount": "12", "timestamp": "2026-01-29"})

    def generate():
        yield from (sale(i) for i in range(5))
        yield bad

    with pytest.raises(mk.events.PublishError, match=r"event 5 .*0 events were sent") as raised:
        mk.events.publish(bus, generate())

    assert isinstance(raised.value.__cause__, mk.contracts.ContractViolation)
    result = raised.value.result
    assert puts(sent) == [] and result.sent == 0
    assert [u.event for u in result.unsent] == [sale(i) for i in range(5)]
    [refused] = result.failed
    assert (refused.event, refused.error_code, refused.attempts) == (bad, "ContractViolation", 0)
    assert result.outcomes_frame().status.tolist() == ["failed"] + ["unsent"] * 5


def test_max_attempts_as_a_string_is_refused_before_anything_is_sent_under_throttling(bus, sent):
    """Given throttling and max_attempts="3", when publishing 20 events, then a ValidationError
    names max_attempts before any request (today: a TypeError after 4 of 20 were sent)."""
    refused = pytest.raises(ValidationError, match=r"max_attempts is a str \('3'\); give an int")
    with mk.faults.failing_put_events(0.9, seed=5) as faults, refused:
        mk.events.publish(bus, [sale(i) for i in range(20)], max_attempts="3")

    assert faults.failed + faults.passed == 0 and puts(sent) == []


def test_a_keyboard_interrupt_during_a_backoff_accounts_for_every_event(bus, monkeypatch):
    """Given every entry throttled, when Ctrl-C arrives during the first backoff, then the
    KeyboardInterrupt (not swallowed by `except Exception`) carries a result with the throttled
    batch as failed and the rest of the list as unsent."""

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(mk_events, "_sleep", interrupt)

    with mk.faults.failing_put_events(1.0), pytest.raises(KeyboardInterrupt) as raised:
        mk.events.publish(bus, [sale(i) for i in range(25)])

    assert isinstance(raised.value, mk.events.PublishInterrupted)
    assert not isinstance(raised.value, Exception)
    result = raised.value.result
    assert [(f.error_code, f.attempts) for f in result.failed] == [("ThrottlingException", 1)] * 10
    assert len(result.unsent) == 15
    assert sorted(accounted_for(result)) == sorted(f"sale-recorded/S-{i}" for i in range(25))


def test_a_keyboard_interrupt_during_a_request_marks_its_events_as_maybe_delivered(
    bus, monkeypatch
):
    """Given Ctrl-C while the second request is in flight, then its 10 events are failed as
    RequestInterrupted (they may have been delivered), the first 10 sent, the last 5 unsent."""
    client = _aws.client("events", parameter_validation=False)  # the client publish uses
    put, calls = client.put_events, []

    def put_events(**params):
        calls.append(params)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return put(**params)

    monkeypatch.setattr(client, "put_events", put_events)

    with pytest.raises(KeyboardInterrupt) as raised:  # any other class would stop the test run
        mk.events.publish(bus, [sale(i) for i in range(25)])

    assert isinstance(raised.value, mk.events.PublishInterrupted)
    result = raised.value.result
    assert result.sent == 10
    assert {f.error_code for f in result.failed} == {"RequestInterrupted"}
    assert all("may have been delivered" in f.error_message for f in result.failed)
    assert [u.event.idempotency_key for u in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(20, 25)
    ]


def test_a_progress_callback_that_fails_late_still_accounts_for_everything(bus):
    """Given a progress callback that raises after the first request (an argument whose fault
    shows late), then a PublishError chained from it holds the 10 sent and the read-ahead."""

    def progress(result):
        raise TypeError("my callback is broken")

    with pytest.raises(mk.events.PublishError, match="TypeError: my callback") as raised:
        mk.events.publish(bus, (sale(i) for i in range(25)), progress=progress)

    assert isinstance(raised.value.__cause__, TypeError)
    result = raised.value.result
    assert result.sent == 10 and len(result.unsent) == 1, "batch 1 sent; event 10 read ahead"


class StopPublishing(BaseException):
    """A BaseException of the caller's own, as frameworks define them."""


# Exceptions that are not Exceptions and not KeyboardInterrupt: `except Exception` must not catch
# them, and meshkit must not turn them into something else (SystemExit's code, asyncio's
# cancellation), but the accounting goes with them.
BASE_EXCEPTIONS = {
    "SystemExit": lambda: SystemExit(3),
    "asyncio.CancelledError": lambda: asyncio.CancelledError(),
    "a BaseException subclass": lambda: StopPublishing("stop"),
}


@pytest.mark.parametrize("make", BASE_EXCEPTIONS.values(), ids=list(BASE_EXCEPTIONS))
def test_a_base_exception_from_the_progress_callback_keeps_the_accounting(bus, make):
    """Given a progress callback that raises a BaseException after the first request, when
    publishing 25 events, then that very exception propagates, carrying ``result`` with the 10
    sent and the 15 unsent (today: the exception bare, and 15 events unaccounted for)."""
    stop = make()

    def progress(result):
        raise stop

    with pytest.raises(BaseException) as raised:  # which one: checked below
        mk.events.publish(bus, [sale(i) for i in range(25)], progress=progress)

    assert raised.value is stop
    result = raised.value.result
    assert result.sent == 10 and result.failed == [] and len(result.unsent) == 15
    assert sorted(accounted_for(result)) == sorted(f"sale-recorded/S-{i}" for i in range(25))
    assert any("error.result" in note for note in raised.value.__notes__)


@pytest.mark.parametrize("make", BASE_EXCEPTIONS.values(), ids=list(BASE_EXCEPTIONS))
def test_a_base_exception_from_a_generator_keeps_the_accounting(bus, make):
    """Given a generator that yields 15 events and then raises a BaseException, when publishing
    it, then that exception propagates with ``result``: 10 sent, 5 read and unsent."""
    stop = make()

    def generate():
        yield from (sale(i) for i in range(15))
        raise stop

    with pytest.raises(BaseException) as raised:  # which one: checked below
        mk.events.publish(bus, generate())

    assert raised.value is stop
    result = raised.value.result
    assert result.sent == 10 and result.failed == []
    assert [u.event.idempotency_key for u in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(10, 15)
    ]
    assert all(type(stop).__name__ in u.reason for u in result.unsent)


def test_system_exit_keeps_its_exit_code(bus):
    """Given sys.exit(3) in a progress callback, then the process would still exit with 3."""

    def progress(result):
        raise SystemExit(3)

    with pytest.raises(SystemExit) as raised:
        mk.events.publish(bus, [sale(i) for i in range(12)], progress=progress)

    assert raised.value.code == 3 and raised.value.result.sent == 10


# -- true sizes (issue 10, point 5) ----------------------------------------------------------


def test_non_ascii_detail_is_measured_in_utf8_bytes_as_eventbridge_counts(bus):
    """EventBridge counts Detail in UTF-8 bytes
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html). Given a
    note of 100,000 "é" (200,000 bytes in UTF-8, 600,000 as \\u escapes), when publishing under
    the 256 KB limit, then it is sent and billed as 4 chunks of 64 KB, not refused."""
    event = sale(0, detail={**sale(0).detail, "note": "é" * 100_000})
    limit = mk.events.CLASSIC_ENTRY_LIMIT_BYTES

    result = mk.events.publish(bus, [event], max_bytes=limit, validate=False)

    entry = event.to_entry(bus)
    utf8 = len(entry["Source"].encode()) + len(entry["DetailType"].encode())
    utf8 += len(json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":")).encode())
    assert mk.events.entry_size(entry) == utf8 < limit < len(json.dumps(event.envelope()))
    assert result.sent == 1 and result.billable_chunks == 4 == math.ceil(utf8 / 65_536)
    assert mk.events.batch_plan([event], bus, max_bytes=limit, validate=False).bytes[0] == utf8


def test_non_ascii_text_arrives_as_it_was_sent(sales_tap):
    event = sale(0, detail={**sale(0).detail, "city": "Málaga", "note": "🧾 €12"})

    mk.events.publish(BUS, [event], validate=False)

    [arrived] = sales_tap()
    assert arrived["detail"]["data"] == event.detail


def test_each_event_is_size_checked_once(bus, monkeypatch):
    checked: list[int] = []
    check = mk_events._check_size
    monkeypatch.setattr(
        mk_events, "_check_size", lambda size, limit: checked.append(size) or check(size, limit)
    )

    mk.events.publish(bus, [sale(i) for i in range(25)])

    assert len(checked) == 25


# -- true buses (issue 10, points 1 and 5) ----------------------------------------------------


def test_a_bus_deleted_outside_meshkit_is_not_taken_for_existing(bus, sent):
    """Given a bus that was published to, deleted by someone else (not mk.buses), when publishing
    again, then UnknownBusError and no PutEvents: AWS would accept the events and drop them
    ("If you use PutEvents to publish an event to an event bus that does not exist, EventBridge
    ... will drop the event", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html)."""
    mk.events.publish(bus, [sale(0)])
    target = mk.sandbox.current()
    target.session().client("events", endpoint_url=target.endpoint_url).delete_event_bus(Name=bus)
    before = len(puts(sent))

    with pytest.raises(mk.events.UnknownBusError, match="does not exist"):
        mk.events.publish(bus, [sale(1)])

    assert len(puts(sent)) == before


def test_a_bus_deleted_during_a_long_publish_stops_it_with_everything_accounted_for(
    bus, monkeypatch
):
    """Given a generator publish that lasts more than a minute, when the bus is deleted after the
    first batch, then the check made again before the next batch stops it: 10 sent, 10 unsent."""
    now = [0.0]
    monkeypatch.setattr(mk_events, "_clock", lambda: now[0])
    target = mk.sandbox.current()
    client = target.session().client("events", endpoint_url=target.endpoint_url)

    def generate():
        for i in range(20):
            if i == 11:  # batch 1 is sent once event 10 was read ahead
                client.delete_event_bus(Name=bus)
                now[0] += 61
            yield sale(i)

    with pytest.raises(mk.events.PublishError, match="does not exist") as raised:
        mk.events.publish(bus, generate())

    assert isinstance(raised.value.__cause__, mk.events.UnknownBusError)
    result = raised.value.result
    assert result.sent == 10
    assert [u.event.idempotency_key for u in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(10, 20)
    ]


@pytest.mark.parametrize(
    ("arn", "words"),
    [
        ("arn:aws:events:us-west-2:999999999999:event-bus/SalesEventBus", "account 999999999999"),
        ("arn:aws:events:eu-west-1:123456789012:event-bus/SalesEventBus", "region eu-west-1"),
        ("arn:aws-cn:events:us-west-2:123456789012:event-bus/SalesEventBus", "partition aws-cn"),
    ],
    ids=["other account", "other region", "other partition"],
)
def test_a_bus_arn_of_another_account_or_region_is_refused_before_sending(
    sales_tap, sent, arn, words
):
    """moto ignores the ARN's account and region, so these would land on the local bus; meshkit
    refuses before sending and says how to reach that bus."""
    with pytest.raises(mk.events.ForeignBusError, match=words) as raised:
        mk.events.publish(arn, [sale(0)])

    assert "boto3_session=" in str(raised.value) and "mk.subscriptions.forward" in str(raised.value)
    assert puts(sent) == [] and sales_tap() == [], "nothing landed on the local bus"


def test_the_own_bus_arn_is_accepted(sales_tap):
    target = mk.sandbox.current()
    arn = f"arn:aws:events:{target.region}:{target.account_id}:event-bus/{BUS}"

    result = mk.events.publish(arn, [sale(0)])

    assert result.sent == 1 and len(sales_tap()) == 1


def test_a_session_of_another_account_publishes_to_that_accounts_bus(mesh):
    other = mk.iam.assume_role("arn:aws:iam::222222222222:role/sales-domain")
    arn = mk.buses.create_domain_bus("sales", boto3_session=other)
    assert ":222222222222:" in arn

    result = mk.events.publish(arn, [sale(0)], boto3_session=other)

    assert result.sent == 1
    with pytest.raises(mk.events.ForeignBusError, match="account 222222222222"):
        mk.events.publish(arn, [sale(1)])  # the target's own session is another account


# -- where the embedded AWS agrees with AWS (cited by notebook 02's "Offline vs AWS" box) ------


def test_moto_fails_a_malformed_detail_entry_as_aws_does(mesh):
    """AWS and moto: HTTP 200, FailedEntryCount 1, ErrorCode MalformedDetail for that entry only.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevents.html"""
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="SalesEventBus")
    entry = {
        "Source": "sales.domain",
        "DetailType": "SaleRecorded",
        "EventBusName": "SalesEventBus",
    }

    response = events.put_events(Entries=[{**entry, "Detail": "{}"}, {**entry, "Detail": "{'no'"}])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["FailedEntryCount"] == 1
    assert response["Entries"][1]["ErrorCode"] == "MalformedDetail"


def test_progress_true_draws_a_bar_that_ends_on_the_totals(bus, sales_tap, capsys):
    """One progress library across meshkit: rich draws publish's bar as it draws the CLI's."""
    result = mk.events.publish(BUS, [sale(i) for i in range(25)], progress=True)

    shown = capsys.readouterr().out
    assert result.sent == 25
    assert "publishing: 25 events, 0 failed, 3 PutEvents calls" in shown


def test_bad_input_progress_true_without_rich_is_a_clear_error(monkeypatch):
    """Without rich, progress=True raises ProgressUnavailableError (an ImportError too) before
    anything is read or sent."""
    import sys

    monkeypatch.setitem(sys.modules, "rich.progress", None)  # import rich.progress fails
    read = []

    def events():
        read.append(1)
        yield sale(1)

    with pytest.raises(mk.events.ProgressUnavailableError, match="pip install rich") as raised:
        mk.events.publish(BUS, events(), progress=True)

    assert isinstance(raised.value, ImportError) and isinstance(raised.value, MeshkitError)
    assert read == []


@pytest.mark.parametrize(
    "event",
    [
        sale(1),
        mk.events.DomainEvent("sales.domain", "SaleRecorded", {"city": "Málaga 😀"}),
        mk.events.DomainEvent(
            "sales.domain",
            "SaleRecorded",
            {"x": 1},
            time=datetime(2026, 1, 29, tzinfo=timezone.utc),
            resources=("arn:aws:s3:::receipts/é",),
        ),
    ],
    ids=["ascii", "non-ascii", "time and resources"],
)
def test_publish_measures_an_entry_as_entry_size_does(event):
    """publish's own measure skips entry_size's argument checks (to_entry made the entry)."""
    entry = event.to_entry(BUS)

    assert mk_events._entry_bytes(entry) == mk.events.entry_size(entry)


def test_a_contract_is_looked_up_once_per_publish_call(bus, monkeypatch):
    registry = mk.contracts.default_registry()
    asked = []
    real_get = registry.get
    monkeypatch.setattr(registry, "get", lambda *key: asked.append(key) or real_get(*key))

    result = mk.events.publish(BUS, [sale(i) for i in range(25)], registry=registry)

    assert result.sent == 25
    assert asked == [("sales.domain", "SaleRecorded", "1.0")]
