"""Publishing domain events: envelope, batching, retries, partial failures, and bad input."""

from __future__ import annotations

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
    """An events client whose answers the test scripts; the bus check is answered already."""
    client = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    monkeypatch.setattr(_aws, "client", lambda *args, **kwargs: client)
    mk_events._known_buses[mk_events._bus_key(client, BUS)] = 1e18
    with Stubber(client) as stubber:
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
    assert result.failures().error_code.tolist() == ["MalformedDetail"]


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

    timeline = result.timeline()
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

    timeline = result.timeline()
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

    timeline = raised.value.result.timeline()
    assert timeline[["batch", "attempt", "entries", "accepted", "failed"]].values.tolist() == [
        [1, 1, 2, 0, 2]
    ]


def test_without_recording_there_is_no_timeline(bus):
    result = mk.events.publish(bus, [sale(i) for i in range(12)], record=False)

    assert result.api_calls == 2
    assert result.requests == [] and result.timeline().empty
    assert list(result.timeline().columns) == list(mk.events.PublishResult().timeline().columns)


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
    assert result.outcomes().status.value_counts().to_dict() == {
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
        ValidationError,
        r"detail of SaleRecorded .* is not JSON.*convert it first",
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


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
def test_bad_input_is_a_clear_error_and_nothing_is_sent(bus, sent, case):
    make_bad, error, message = BAD_EVENTS[case]
    good = [sale(i) for i in range(1, 15)]  # the bad event sits in the second batch

    with pytest.raises(error, match=message) as raised:
        mk.events.publish(bus, [*good, make_bad()])

    assert isinstance(raised.value, MeshkitError)
    assert puts(sent) == [], "the good events before it were not sent either"


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
    accounted += [event.idempotency_key for event in result.unsent]
    assert sorted(accounted) == sorted(f"sale-recorded/S-{i}" for i in range(25))


def test_a_bad_event_deep_in_a_generator_says_what_went_out_before_it(bus):
    def generate():
        yield from (sale(i) for i in range(20))
        yield sale(20, detail_type="S" * 129)

    with pytest.raises(mk.events.PublishError, match=r"event 20 .*10 events were sent") as raised:
        mk.events.publish(bus, generate())

    result = raised.value.result
    assert result.sent == 10, "the first batch; the second was waiting for its last event"
    assert [e.idempotency_key for e in result.unsent] == [
        f"sale-recorded/S-{i}" for i in range(10, 20)
    ]


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


def test_the_bus_check_is_cached(bus, sent):
    mk.events.publish(bus, [sale(0)])
    mk.events.publish(bus, [sale(1)])

    checks = [r for r in sent if r.operation == "AWSEvents.DescribeEventBus"]
    assert len(checks) == 1


def test_the_bus_check_is_per_account(mesh):
    """A bus checked in one account says nothing of a bus of the same name in another."""
    mk.buses.create_domain_bus("sales")
    deleted = mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})
    mk.events.publish("SalesEventBus", [deleted])
    other_account = mk.iam.assume_role("arn:aws:iam::222222222222:role/sales-domain")

    with pytest.raises(mk.events.UnknownBusError):
        mk.events.publish("SalesEventBus", [deleted], boto3_session=other_account)


# -- where the embedded AWS differs (pins for notebook 02's "Offline vs AWS" box) -------------


def test_moto_never_throttles_put_events(bus):
    """AWS: above the account's PutEvents quota for the Region, entries fail with
    ThrottlingException. moto accepts every entry at any rate: mk.faults injects the throttling."""
    target = mk.sandbox.current()
    client = target.session().client("events", endpoint_url=target.endpoint_url)
    entries = [sale(i).to_entry(bus) for i in range(10)]

    answers = [client.put_events(Entries=entries)["FailedEntryCount"] for _ in range(200)]

    assert answers == [0] * 200


def test_moto_accepts_an_entry_over_the_size_limit(bus):
    """AWS: an entry (and a request) over 1 MB (256 KB on the classic limit) is refused. moto
    checks no size: meshkit checks it before sending (EventSizeError)."""
    target = mk.sandbox.current()
    client = target.session().client("events", endpoint_url=target.endpoint_url)
    entry = sale(0, detail={**sale(0).detail, "note": "x" * (1100 * 1024)}).to_entry(bus)

    response = client.put_events(Entries=[entry])

    assert mk.events.entry_size(entry) > mk.events.ENTRY_LIMIT_BYTES
    assert response["FailedEntryCount"] == 0 and "EventId" in response["Entries"][0]


def test_moto_delivers_to_a_queue_before_put_events_returns(sales_tap):
    """AWS: delivery to a rule's targets is asynchronous (poll the queue until the events are
    there). moto delivers while PutEvents runs: the queue holds them when it returns."""
    target = mk.sandbox.current()
    client = target.session().client("events", endpoint_url=target.endpoint_url)

    client.put_events(Entries=[sale(i).to_entry(BUS) for i in range(3)])

    assert len(sales_tap()) == 3  # a receive without waiting
