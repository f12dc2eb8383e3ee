"""Consumers: the local SQS event source mapping, handlers, idempotency and dead-letter queues."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import random
import socket
import threading
import time
import warnings
from pathlib import Path

import boto3
import pytest

import meshkit as mk
from meshkit._lambda import LocalContext
from meshkit.consumers import (
    EventSourceMappingError,
    IdempotencyTableError,
    QueueNotFoundError,
    RunError,
)
from meshkit.exceptions import NotMeshkitResourceError, ValidationError

SAMPLE = json.loads((Path(__file__).parent / "events" / "sqs_event.json").read_text())
TABLE = "marketing-idempotency"


@pytest.fixture
def sqs(mesh):
    return mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)


def sale(number: int, *, key: str | None = None) -> mk.events.DomainEvent:
    return mk.events.DomainEvent(
        source="sales.domain",
        detail_type="SaleRecorded",
        detail={"sale_id": f"S-{number}", "amount": 10 + number, "timestamp": "2026-01-29T10:00Z"},
        idempotency_key=key or f"sale-recorded/S-{number}",
    )


def publish(*events: mk.events.DomainEvent) -> None:
    mk.events.publish("SalesEventBus", list(events), raise_on_failure=True)


def body_key(record: dict) -> str:
    return json.loads(record["body"])["detail"]["metadata"]["idempotency_key"]


class Recorder:
    """A handler that records what it was given and fails on demand."""

    def __init__(self, fail=lambda record: False, *, partial: bool = True) -> None:
        self.fail, self.partial = fail, partial
        self.events: list[dict] = []
        self.done: list[str] = []

    def __call__(self, event, context):
        self.events.append(event)
        failed = [r["messageId"] for r in event["Records"] if self.fail(r)]
        if failed and not self.partial:
            raise RuntimeError("batch failed")
        self.done += [body_key(r) for r in event["Records"] if r["messageId"] not in failed]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}


# -- the SQS event shape --------------------------------------------------------------------------


def test_records_have_the_shape_of_lambdas_sqs_event(subscription, sqs):
    publish(sale(1))
    sqs.send_message(
        QueueUrl=subscription.queue_url,
        MessageBody=SAMPLE["Records"][1]["body"],
        MessageAttributes={"origin": {"StringValue": "checkout", "DataType": "String"}},
    )
    handler = Recorder()

    mk.consumers.run(handler, subscription.queue_url)

    [event] = handler.events
    sample_plain, sample_with_attributes = SAMPLE["Records"]
    first, second = event["Records"]
    for record, sample in ((first, sample_plain), (second, sample_with_attributes)):
        assert set(record) - {"md5OfMessageAttributes"} == set(sample)
        assert set(record["attributes"]) == set(sample["attributes"])
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-west-2")
        assert record["eventSourceARN"] == subscription.queue_arn
    assert second["messageAttributes"] == sample_with_attributes["messageAttributes"]
    assert json.loads(first["body"])["detail"]["data"]["sale_id"] == "S-1"


def test_the_article_consumer_reads_the_canonical_event(caplog):
    caplog.set_level("INFO", logger="meshkit")

    response = mk.consumers.lambda_handler(SAMPLE, LocalContext(time.monotonic() + 5))

    assert response["statusCode"] == 200
    assert "Processing sale: S-1001 with amount: 129.99" in caplog.text


def test_the_article_consumer_as_written_fails_on_the_real_message_shape():
    def article_handler(event, context):  # the article's code, indentation restored
        for record in event["Records"]:
            event_detail = json.loads(record["body"])
            sale_id = event_detail["sale_id"]
            amount = event_detail["amount"]
            print(f"Processing sale: {sale_id} with amount: {amount}")

    with pytest.raises(KeyError, match="sale_id"):
        article_handler(SAMPLE, None)


def test_the_production_handler_processes_the_canonical_event_once(mesh):
    mk.consumers.create_idempotency_table(TABLE)
    seen = []
    handler = mk.consumers.idempotent_batch_handler(
        lambda event: seen.append(event["detail"]["data"]["sale_id"]),
        table_name=TABLE,
        name="canonical",
    )

    for _ in range(2):
        response = handler(SAMPLE, LocalContext(time.monotonic() + 5))
        assert response == {"batchItemFailures": []}

    assert seen == ["S-1001", "S-1002"]


# -- delivery semantics -------------------------------------------------------------------------


def test_successful_messages_are_deleted(subscription, sqs):
    publish(*(sale(n) for n in range(25)))

    summary = mk.consumers.run(Recorder(), subscription.queue_url)

    assert (summary.processed, summary.failed, summary.batches) == (25, 0, 3)
    assert summary.stopped == "drained"
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)


def test_a_raising_handler_fails_the_whole_batch(subscription):
    publish(sale(1), sale(2))
    handler = Recorder(lambda r: body_key(r).endswith("S-2"), partial=False)

    summary = mk.consumers.run(handler, subscription.queue_url)

    # Both messages were received three times; S-1's side effect never "happened" either.
    assert summary.processed == 0
    assert summary.failed == 6 and summary.dead_lettered == 2
    assert {f["error"] for f in summary.failures} == {"RuntimeError: batch failed"}
    assert len(mk.consumers.peek(subscription.dlq_url)) == 2


def test_a_partial_batch_response_retries_only_the_failed_messages(subscription):
    publish(sale(1), sale(2), sale(3))
    attempts = {}

    def fail_s2_twice(record):
        key = body_key(record)
        attempts[key] = attempts.get(key, 0) + 1
        return key.endswith("S-2") and attempts[key] <= 2

    handler = Recorder(fail_s2_twice)

    summary = mk.consumers.run(handler, subscription.queue_url)

    assert sorted(handler.done) == [f"sale-recorded/S-{n}" for n in (1, 2, 3)]
    assert attempts == {"sale-recorded/S-1": 1, "sale-recorded/S-2": 3, "sale-recorded/S-3": 1}
    assert (summary.processed, summary.failed, summary.dead_lettered) == (3, 2, 0)
    assert [f["receive_count"] for f in summary.failures] == [1, 2]


def test_an_unknown_item_identifier_fails_the_whole_batch(subscription):
    publish(sale(1), sale(2))
    calls = []

    def handler(event, context):
        calls.append(len(event["Records"]))
        return {"batchItemFailures": [{"itemIdentifier": "not-a-message-id"}]}

    summary = mk.consumers.run(handler, subscription.queue_url)

    assert summary.processed == 0 and summary.dead_lettered == 2
    assert summary.failures[0]["error"].startswith("batchItemFailures named a message")


def test_without_report_batch_item_failures_failed_messages_are_deleted(subscription, caplog):
    """As on Lambda without ReportBatchItemFailures: the response is ignored, and S-2 is lost."""
    publish(sale(1), sale(2))
    handler = Recorder(lambda r: body_key(r).endswith("S-2"))

    summary = mk.consumers.run(handler, subscription.queue_url, report_batch_item_failures=False)

    assert (summary.processed, summary.failed) == (2, 0)
    assert mk.consumers.peek(subscription.dlq_url).empty
    assert "deleted with the batch (lost)" in caplog.text


def test_a_poison_message_reaches_the_dlq_after_exactly_max_receive_count_receives(
    subscription, sqs
):
    publish(sale(1), sale(2, key="poison"))
    receives = []

    def handler(event, context):
        failed = []
        for record in event["Records"]:
            if body_key(record) == "poison":
                receives.append(int(record["attributes"]["ApproximateReceiveCount"]))
                failed.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failed}

    summary = mk.consumers.run(handler, subscription.queue_url)

    assert receives == [1, 2, 3]  # maxReceiveCount is 3
    assert (summary.processed, summary.failed, summary.dead_lettered) == (1, 3, 1)
    [dead] = mk.consumers.peek(subscription.dlq_url).to_dict("records")
    assert dead["idempotency_key"] == "poison" and dead["detail_type"] == "SaleRecorded"
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)

    # Fixed: redrive brings it back, with a fresh receive count, and it is processed.
    assert mk.consumers.redrive(subscription.dlq_url) == 1
    assert mk.consumers.peek(subscription.dlq_url).empty
    fixed = Recorder()
    summary = mk.consumers.run(fixed, subscription.queue_url)
    assert (summary.processed, fixed.done) == (1, ["poison"])
    assert fixed.events[0]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1"


def test_run_records_queue_and_dlq_depths_over_time(subscription):
    publish(sale(1), sale(2, key="poison"))
    handler = Recorder(lambda record: body_key(record) == "poison")

    summary = mk.consumers.run(handler, subscription.queue_url, record_timeline=True)

    timeline = summary.timeline_frame()
    first, last = timeline.iloc[0], timeline.iloc[-1]
    assert (first["moment"], first["waiting"], first["dead_letters"]) == ("start", 2, 0)
    assert (last["moment"], last["waiting"], last["in_flight"], last["dead_letters"]) == (
        "end", 0, 0, 1,
    )  # fmt: skip
    received = timeline[timeline["moment"] == "received"]
    assert len(received) == summary.batches == 3  # maxReceiveCount is 3
    assert received["in_flight"].tolist() == [2, 1, 1]  # a received batch is hidden, in flight
    assert timeline["seconds"].is_monotonic_increasing
    assert timeline["dead_letters"].is_monotonic_increasing
    assert (timeline["moment"] == "sample").sum() >= 10  # sampled in between, too
    assert not [t for t in threading.enumerate() if t.name == "meshkit-timeline"]  # stopped
    assert (last["processed"], last["failed"]) == (summary.processed, summary.failed) == (1, 3)
    # The poison message came back only after the visibility timeout (1 s) each time.
    assert received["seconds"].diff().dropna().min() >= 0.9


def test_without_record_timeline_no_depths_are_sampled(subscription):
    publish(sale(1))

    summary = mk.consumers.run(Recorder(), subscription.queue_url)

    assert summary.timeline == []
    assert summary.timeline_frame().empty
    assert list(summary.timeline_frame().columns)[:3] == ["seconds", "moment", "batches"]


def test_fault_injection_loses_nothing(subscription, sqs):
    """20% of deliveries fail at random: every message is processed or sits in the DLQ."""
    published = [f"sale-recorded/S-{n}" for n in range(200)]
    publish(*(sale(n) for n in range(200)))
    rng = random.Random(7)
    handler = Recorder(lambda record: rng.random() < 0.2)

    summary = mk.consumers.run(handler, subscription.queue_url)

    dead = mk.consumers.peek(subscription.dlq_url, max_messages=200)
    assert summary.processed + summary.dead_lettered == len(published)
    assert summary.dead_lettered == len(dead)
    assert summary.failed > 0.15 * len(published)  # the faults really happened
    assert sorted(handler.done + list(dead["idempotency_key"])) == sorted(published)
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)


# -- duplicates ---------------------------------------------------------------------------------


@pytest.fixture
def award_points(mesh):
    """Marketing's production handler; its side effects are recorded in a list."""
    mk.consumers.create_idempotency_table(TABLE)
    side_effects: list[str] = []

    def award(event):
        side_effects.append(event["detail"]["data"]["sale_id"])
        return {"points": event["detail"]["data"]["amount"]}

    handler = mk.consumers.idempotent_batch_handler(award, table_name=TABLE)
    return handler, side_effects


def test_a_producer_retry_gets_new_ids_but_runs_the_side_effect_once(subscription, award_points):
    production, side_effects = award_points
    delivered = []

    def handler(event, context):
        delivered.extend(event["Records"])
        return production(event, context)

    publish(sale(1))
    publish(sale(1))  # the producer retried: same idempotency key

    summary = mk.consumers.run(handler, subscription.queue_url)

    assert summary.processed == 2 and summary.failed == 0
    assert len({json.loads(r["body"])["id"] for r in delivered}) == 2  # new EventBridge id
    assert len({r["messageId"] for r in delivered}) == 2  # and a new SQS message
    assert side_effects == ["S-1"]


def test_an_sqs_redelivery_runs_the_side_effect_once(subscription, award_points):
    """The handler did the work, then the invocation failed: SQS delivers the message again."""
    production, side_effects = award_points
    invocations = []

    def crashes_after_the_work_once(event, context):
        invocations.append(event["Records"][0]["messageId"])
        response = production(event, context)
        if len(invocations) == 1:
            raise TimeoutError("the function timed out after processing")
        return response

    publish(sale(1))

    summary = mk.consumers.run(crashes_after_the_work_once, subscription.queue_url)

    assert len(invocations) == 2 and invocations[0] == invocations[1]  # same message, twice
    assert (summary.processed, summary.failed) == (1, 1)
    assert side_effects == ["S-1"]


def test_consumers_sharing_a_table_do_not_skip_each_others_events(subscription, award_points):
    marketing, marketing_effects = award_points
    fraud_effects = []
    fraud = mk.consumers.idempotent_batch_handler(
        lambda event: fraud_effects.append(event["detail"]["data"]["sale_id"]),
        table_name=TABLE,
        name="fraud-screening",
    )
    context = LocalContext(time.monotonic() + 5)

    marketing(SAMPLE, context)
    fraud(SAMPLE, context)

    assert marketing_effects == fraud_effects == ["S-1001", "S-1002"]


def test_an_event_without_an_idempotency_key_fails_instead_of_running_unprotected(
    subscription, award_points, sqs
):
    production, side_effects = award_points
    event = json.loads(SAMPLE["Records"][0]["body"])
    del event["detail"]["metadata"]["idempotency_key"]
    sqs.send_message(QueueUrl=subscription.queue_url, MessageBody=json.dumps(event))

    summary = mk.consumers.run(production, subscription.queue_url)

    assert (summary.processed, summary.dead_lettered, side_effects) == (0, 1, [])


# -- stopping and settings ----------------------------------------------------------------------


def test_run_stops_at_max_messages_and_leaves_the_rest(subscription):
    publish(*(sale(n) for n in range(15)))

    summary = mk.consumers.run(Recorder(), subscription.queue_url, batch_size=5, max_messages=10)

    assert (summary.processed, summary.stopped) == (10, "max_messages")
    assert mk.subscriptions.queue_depths(subscription.queue_url)[0] == 5


def test_with_max_messages_run_waits_for_messages_still_to_come(subscription):
    """As on AWS, where delivery is asynchronous: an empty queue is not the end of the run."""
    import threading

    publisher = threading.Timer(1.5, lambda: publish(sale(1), sale(2)))
    publisher.start()

    summary = mk.consumers.run(Recorder(), subscription.queue_url, max_messages=2, time_budget_s=20)

    publisher.join()
    assert (summary.processed, summary.stopped) == (2, "max_messages")


def test_run_stops_at_the_time_budget_while_failures_wait_for_their_visibility_timeout(mesh):
    mk.buses.create_domain_bus("sales")
    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern={"source": ["sales.domain"]},
        visibility_timeout_s=30,
    )  # fmt: skip
    publish(sale(1))

    summary = mk.consumers.run(
        Recorder(lambda r: True), sub.queue_url, wait_time_s=0, time_budget_s=1.5
    )

    assert (summary.failed, summary.stopped) == (1, "time budget")
    assert mk.subscriptions.queue_depths(sub.queue_url)[:2] == (0, 1)  # in flight, not lost


def test_run_stops_after_max_batches_and_failures_come_back(subscription):
    publish(sale(1), sale(2))

    summary = mk.consumers.run(Recorder(lambda r: True, partial=False), subscription.queue_url,
                               max_batches=1)  # fmt: skip

    assert (summary.batches, summary.failed, summary.stopped) == (1, 2, "max_batches")
    assert mk.consumers.run(Recorder(), subscription.queue_url).processed == 2


def test_the_batching_window_gathers_messages_that_arrive_during_it(subscription):
    import threading

    publish(*(sale(n) for n in range(5)))
    late = threading.Timer(0.5, lambda: publish(*(sale(n) for n in range(5, 10))))
    handler = Recorder()
    late.start()

    mk.consumers.run(handler, subscription.queue_url, batch_size=25, batching_window_s=3)

    late.join()
    assert [len(e["Records"]) for e in handler.events] == [10]


def test_large_batches_are_gathered_within_the_batching_window(subscription):
    publish(*(sale(n) for n in range(30)))
    handler = Recorder()

    mk.consumers.run(handler, subscription.queue_url, batch_size=25, batching_window_s=1)

    assert [len(e["Records"]) for e in handler.events] == [25, 5]


def test_a_batch_stays_within_lambdas_6_mb_payload_and_the_rest_waits_for_the_next(
    subscription, sqs
):
    """Lambda's SQS event source mapping: "up to 10,000 records ... within the 6 MB invocation
    payload" (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html)."""
    body = "x" * 250_000  # SQS allows 256 KiB per message in moto
    for _ in range(30):  # 7.5 MB in all
        sqs.send_message(QueueUrl=subscription.queue_url, MessageBody=body)
    sizes: list[int] = []

    def handler(event, context):
        sizes.append(sum(len(r["body"]) for r in event["Records"]))

    summary = mk.consumers.run(handler, subscription.queue_url, batch_size=100,
                               batching_window_s=1)  # fmt: skip

    assert summary.processed == 30
    assert all(size <= 6 * 1024 * 1024 for size in sizes)
    assert sizes[0] == 25 * 250_000  # as many as fit
    assert sum(sizes) == 30 * 250_000


def test_messages_held_back_by_the_6_mb_cap_are_visible_again_when_the_run_ends(subscription, sqs):
    for _ in range(30):
        sqs.send_message(QueueUrl=subscription.queue_url, MessageBody="x" * 250_000)

    summary = mk.consumers.run(lambda event, context: None, subscription.queue_url,
                               batch_size=100, batching_window_s=1, max_batches=1)  # fmt: skip

    assert summary.processed == 25
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (5, 0, 0)  # not in flight


def calls_made(mesh, operation: str):
    """Counts the SQS calls of one operation that meshkit's client makes."""
    client = mk._aws.client("sqs")  # the client run() uses
    made: list[str] = []
    client.meta.events.register(f"before-call.sqs.{operation}", lambda **_: made.append(operation))
    return made


def test_run_asks_for_queue_depths_only_when_it_cannot_know_the_queue_is_not_drained(
    subscription, mesh
):
    """A message that failed is in flight until its visibility timeout: run knows, so it does
    not ask SQS after each empty receive; and short polls (wait_time_s=0) pause between empty
    receives instead of looping flat out."""
    publish(sale(1))
    depth_calls = calls_made(mesh, "GetQueueAttributes")
    receives = calls_made(mesh, "ReceiveMessage")
    handler = Recorder(fail=lambda record: len(handler.events) == 1)  # fails the first time

    summary = mk.consumers.run(handler, subscription.queue_url, wait_time_s=0)

    assert (summary.processed, summary.failed, summary.stopped) == (1, 1, "drained")
    # connect() reads the queue's settings; the drained check asks once at the end
    assert len(depth_calls) == 2
    # about a second of waiting for the failed message: pauses of 0.05 s doubling to 1 s
    assert len(receives) < 15


def test_redrive_needs_a_destination_when_the_dlq_serves_several_queues(mesh, sqs):
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 1})
    for name in ("first", "second"):
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})

    with pytest.raises(mk.consumers.RedriveTargetError, match="pass to="):
        mk.consumers.redrive(dlq)


def test_redrive_moves_large_messages_within_the_batch_size_limit(subscription, sqs):
    body = json.dumps({"detail": {"metadata": {"idempotency_key": "big"}}, "pad": "x" * 200_000})
    for _ in range(3):
        sqs.send_message(QueueUrl=subscription.dlq_url, MessageBody=body)

    assert mk.consumers.redrive(subscription.dlq_url, to=subscription.queue_url) == 3
    assert mk.subscriptions.queue_depths(subscription.queue_url)[0] == 3
    assert mk.subscriptions.queue_depths(subscription.dlq_url)[:2] == (0, 0)


def test_peek_leaves_the_messages_in_the_queue(subscription, sqs):
    for _ in range(12):
        sqs.send_message(QueueUrl=subscription.dlq_url, MessageBody=SAMPLE["Records"][0]["body"])

    assert len(mk.consumers.peek(subscription.dlq_url)) == 12
    assert len(mk.consumers.peek(subscription.dlq_url, max_messages=5)) == 5
    assert mk.subscriptions.queue_depths(subscription.dlq_url)[:2] == (12, 0)


def test_a_queue_without_a_visibility_timeout_is_refused(subscription, sqs):
    sqs.set_queue_attributes(QueueUrl=subscription.queue_url, Attributes={"VisibilityTimeout": "0"})
    with pytest.raises(EventSourceMappingError, match="visibility timeout of 0"):
        mk.consumers.run(Recorder(), subscription.queue_url)


def test_when_every_record_fails_powertools_raises_and_the_summary_names_the_cause(
    subscription, mesh
):
    mk.consumers.create_idempotency_table(TABLE)
    broken = mk.consumers.idempotent_batch_handler(
        lambda event: event["detail"]["data"]["no-such-field"], table_name=TABLE, name="broken"
    )
    publish(sale(1))

    summary = mk.consumers.run(broken, subscription.queue_url)

    assert summary.dead_lettered == 1
    assert {f["error"] for f in summary.failures} == {
        "BatchProcessingError, every record failed: KeyError: 'no-such-field'"
    }


def test_an_unnamed_consumer_must_be_named(mesh):
    with pytest.raises(ValidationError, match="name= is required"):
        mk.consumers.idempotent_batch_handler(lambda event: None, table_name=TABLE)


def test_consumers_are_told_apart_by_their_functions_module_and_name(mesh):
    mk.consumers.create_idempotency_table(TABLE)
    effects = []

    def award(event):
        effects.append("award")

    def review(event):
        effects.append("review")

    context = LocalContext(time.monotonic() + 5)
    for process in (award, review, award):
        mk.consumers.idempotent_batch_handler(process, table_name=TABLE)(SAMPLE, context)

    # Each consumer processes the two sales once; the second "award" run skips them.
    assert effects == ["award", "award", "review", "review"]


def test_the_idempotency_table_gets_time_to_live_even_when_it_exists(mesh):
    dynamodb = mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    mk.consumers.create_idempotency_table(TABLE, adopt=True)

    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")


# -- what Lambda cannot serialise (issue 10, point 2) ------------------------------------------


async def async_handler(event, context):
    return {"batchItemFailures": []}


def generator_handler(event, context):
    yield {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("handler", "says"),
    [
        (async_handler, "coroutine"),
        (generator_handler, "generator"),
        (lambda event, context: object(), "object"),
        (lambda event, context: {"sale_ids": {"S-1"}}, "set"),
        (lambda event, context: {"raw": b"\x00"}, "bytes"),
        (lambda event, context: {("S-1", 1): "done"}, "keys must be"),
    ],
    ids=["async-def", "generator", "object", "set", "bytes-in-dict", "tuple-key"],
)
def test_a_result_lambda_cannot_serialise_fails_the_batch(subscription, handler, says):
    """Lambda's Python runtime JSON-encodes what the handler returns; when it cannot, the
    invocation fails (Runtime.MarshalError) and the mapping retries the whole batch.
    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html (return value),
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    publish(sale(1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = mk.consumers.run(handler, subscription.queue_url, max_batches=1)
        gc.collect()

    assert (summary.processed, summary.failed) == (0, 1)
    [failure] = summary.failures
    assert failure["error"].startswith("Runtime.MarshalError: Unable to marshal response")
    assert says in failure["error"]
    assert sum(mk.subscriptions.queue_depths(subscription.queue_url)) == 1  # not deleted
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_an_async_handler_is_told_how_to_become_a_lambda_handler(subscription):
    publish(sale(1))

    summary = mk.consumers.run(async_handler, subscription.queue_url, max_batches=1)

    assert "asyncio.run" in summary.failures[0]["error"]


def test_results_lambda_can_serialise_succeed(subscription):
    """Decimals are JSON numbers and tuples arrays to Lambda's Python runtime
    (https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html)."""
    from decimal import Decimal

    publish(sale(1), sale(2))

    summary = mk.consumers.run(
        lambda event, context: {"total": Decimal("12.5"), "batchItemFailures": ()},
        subscription.queue_url,
    )

    assert (summary.processed, summary.failed) == (2, 0)


# -- partial batch responses of the wrong shape ---------------------------------------------------


@pytest.mark.parametrize(
    "respond",
    [
        lambda first: {"batchItemFailures": first},  # a string, not a list
        lambda first: {"batchItemFailures": {"itemIdentifier": first}},  # an object
        lambda first: {"batchItemFailures": [first]},  # a bare id, not an object
        lambda first: {"batchItemFailures": [{"messageId": first}]},  # bad key name
        lambda first: {"batchItemFailures": [{}]},  # itemIdentifier missing
        lambda first: {"batchItemFailures": [{"itemIdentifier": ""}]},  # empty
        lambda first: {"batchItemFailures": [{"itemIdentifier": None}]},  # null
        lambda first: {"batchItemFailures": [{"itemIdentifier": 7}]},  # not a string
        lambda first: {"batchItemFailures": 5},
    ],
    ids=[
        "string",
        "object",
        "bare-id",
        "bad-key",
        "missing",
        "empty",
        "null",
        "number",
        "int",
    ],
)
def test_a_malformed_partial_batch_response_fails_the_whole_batch(subscription, respond):
    """AWS: an invalid response, an empty or null itemIdentifier, or one with a bad key name
    fails the whole batch. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    ("Success and failure conditions")."""
    publish(sale(1), sale(2))

    summary = mk.consumers.run(
        lambda event, context: respond(event["Records"][0]["messageId"]),
        subscription.queue_url,
        max_batches=1,
    )

    assert (summary.processed, summary.failed) == (0, 2)
    assert "batchItemFailures" in summary.failures[0]["error"]


@pytest.mark.parametrize(
    "response",
    [{"batchItemFailures": []}, {"batchItemFailures": None}, {}, None],
    ids=["empty-list", "null-list", "empty-response", "null-response"],
)
def test_an_empty_or_null_partial_batch_response_is_a_success(subscription, response):
    """AWS: an empty or null batchItemFailures, or an empty or null response, is a complete
    success. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    publish(sale(1), sale(2))

    summary = mk.consumers.run(lambda event, context: response, subscription.queue_url)

    assert (summary.processed, summary.failed) == (2, 0)


# -- the function timeout ---------------------------------------------------------------------


def test_a_handler_past_its_function_timeout_fails_its_whole_batch(subscription):
    """On Lambda a function stops at its timeout ("Task timed out after 1.00 seconds"); the
    mapping then retries the whole batch after the visibility timeout.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    publish(sale(1), sale(2))
    calls, active, most_active = [], [], []

    def slow_the_first_time(event, context):
        active.append(1)
        most_active.append(len(active))
        calls.append([(r["messageId"], r["attributes"]["ApproximateReceiveCount"])
                      for r in event["Records"]])  # fmt: skip
        if len(calls) == 1:
            time.sleep(3)  # past the function timeout of 1 s
        active.pop()
        return {"batchItemFailures": []}

    summary = mk.consumers.run(slow_the_first_time, subscription.queue_url, function_timeout_s=1)

    first, second = calls
    assert [m for m, _ in first] == [m for m, _ in second]  # the same messages came back
    assert {count for _, count in second} == {"2"}
    assert (summary.processed, summary.failed, summary.batches) == (2, 2, 2)
    assert {f["error"] for f in summary.failures} == {"Task timed out after 1.00 seconds"}
    assert max(most_active) == 1  # never handed to a second call while the first still ran


def test_the_context_counts_down_the_function_timeout(subscription):
    """Lambda's context: get_remaining_time_in_millis counts down the function's timeout.
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""
    remaining = []

    def handler(event, context):
        remaining.append(context.get_remaining_time_in_millis())

    publish(sale(1))
    mk.consumers.run(handler, subscription.queue_url)  # default: the visibility timeout, 1 s
    publish(sale(2))
    mk.consumers.run(handler, subscription.queue_url, function_timeout_s=0.5)

    assert 0 <= remaining[0] <= 1000
    assert 0 <= remaining[1] <= 500


def test_an_overrunning_call_and_the_redelivery_run_the_side_effect_once(subscription, mesh):
    """The first call overruns the function timeout and the message comes back after its
    visibility timeout: Powertools' idempotency, with meshkit's context registered, still runs
    the side effect once.
    https://docs.aws.amazon.com/powertools/python/latest/utilities/idempotency/ (Lambda timeouts)"""
    mk.consumers.create_idempotency_table(TABLE)
    calls: dict[str, int] = {}

    def award(event):
        key = event["detail"]["metadata"]["idempotency_key"]
        calls[key] = calls.get(key, 0) + 1
        if calls[key] == 1:
            time.sleep(3)  # past the function timeout (1 s) and the visibility timeout (1 s)
        return {"points": 1}

    production = mk.consumers.idempotent_batch_handler(award, table_name=TABLE)
    receives = []

    def handler(event, context):
        receives.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"])
        return production(event, context)

    publish(sale(1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = mk.consumers.run(handler, subscription.queue_url, function_timeout_s=1)

    assert receives == ["1", "2"]  # redelivered after the timeout
    assert summary.failures[0]["error"] == "Task timed out after 1.00 seconds"
    assert (summary.processed, summary.failed) == (1, 1)
    assert calls == {"sale-recorded/S-1": 1}
    assert not [w for w in caught if "remaining time" in str(w.message)]  # context registered


# -- the time budget within a call --------------------------------------------------------------


def test_the_time_budget_ends_the_run_during_a_slow_call_and_loses_nothing(mesh, sqs):
    mk.buses.create_domain_bus("sales")
    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern={"source": ["sales.domain"]},
        visibility_timeout_s=30,
    )  # fmt: skip
    publish(sale(1))
    release, finished = threading.Event(), threading.Event()
    handles = []

    def slow(event, context):
        handles.extend(record["receiptHandle"] for record in event["Records"])
        release.wait(10)
        finished.set()

    summary = mk.consumers.run(slow, sub.queue_url, wait_time_s=0, time_budget_s=1)

    returned_during_the_call = not finished.is_set()
    release.set()
    assert finished.wait(10)
    assert returned_during_the_call
    assert (summary.stopped, summary.unfinished, summary.processed, summary.failed) == (
        "time budget", 1, 0, 0,
    )  # fmt: skip
    assert "unfinished=1" in repr(summary)
    # The call then returned, but its message was not deleted: it comes back.
    assert mk.subscriptions.queue_depths(sub.queue_url) == (0, 1, 0)
    sqs.change_message_visibility(
        QueueUrl=sub.queue_url, ReceiptHandle=handles[0], VisibilityTimeout=0
    )
    assert mk.consumers.run(Recorder(), sub.queue_url).processed == 1


# -- a connection lost mid-run ------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Outage:
    """From the nth call of ``operation`` on, the session's SQS requests go to a closed port:
    the endpoint stops answering, as when a server dies or the network is cut."""

    def __init__(self, session: boto3.Session, operation: str, nth: int) -> None:
        self.operation, self.nth, self.seen = operation, nth, 0
        self.down = False
        self.port = closed_port()
        session.events.register("before-send.sqs", self.send)

    def send(self, request, event_name: str, **_) -> None:
        if event_name.endswith(f".{self.operation}"):
            self.seen += 1
            self.down = self.down or self.seen >= self.nth
        if self.down:
            scheme, rest = request.url.split("://", 1)
            request.url = f"{scheme}://127.0.0.1:{self.port}/{rest.partition('/')[2]}"


@pytest.mark.parametrize(
    ("operation", "nth", "processed", "batches", "unfinished"),
    [
        ("ReceiveMessage", 2, 10, 1, 0),  # lost before the second batch
        ("DeleteMessageBatch", 2, 10, 2, 10),  # lost after handling the second batch
        ("GetQueueAttributes", 2, 30, 3, 0),  # lost at the check that the queue is drained
    ],
)
def test_a_connection_lost_mid_run_raises_with_the_summary_and_loses_nothing(
    subscription, mesh, operation, nth, processed, batches, unfinished
):
    from botocore.exceptions import EndpointConnectionError

    keys = [f"sale-recorded/S-{n}" for n in range(30)]
    publish(*(sale(n) for n in range(30)))
    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=mesh.session().region_name,
    )
    outage = Outage(session, operation, nth)
    handler = Recorder()

    with pytest.raises(RunError, match="Nothing is lost") as raised:
        mk.consumers.run(handler, subscription.queue_url, boto3_session=session)

    summary = raised.value.summary
    assert (summary.processed, summary.batches, summary.unfinished, summary.stopped) == (
        processed, batches, unfinished, "interrupted",
    )  # fmt: skip
    assert isinstance(raised.value.__cause__, EndpointConnectionError)
    outage.down = False  # the endpoint is back: the rest is still there
    again = mk.consumers.run(handler, subscription.queue_url, time_budget_s=30)
    assert summary.processed + again.processed == len(keys)
    assert sorted(set(handler.done)) == sorted(keys)
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)


# -- run's arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"handler": None}, ["handler must be a function", "pass the function itself"]),
        ({"handler": "lambda_handler"}, ["handler must be a function", "not its name"]),
        ({"queue_url": None}, ["queue_url must be the queue's URL", "sub.queue_url"]),
        ({"queue_url": "  "}, ["queue_url must be the queue's URL", "sub.queue_url"]),
        ({"queue_url": "marketing-sales"}, ["queue_url", "not a URL", "get_queue_url"]),
        ({"queue_url": "arn:aws:sqs:us-west-2:123456789012:q"}, ["queue_url", "queue_url_of"]),
        ({"batch_size": 0}, ["batch_size is 0", "give 1 to 10,000"]),
        ({"batch_size": True}, ["batch_size must be a whole number", "give 1 to"]),
        ({"batch_size": 2.5}, ["batch_size must be a whole number", "give 1 to"]),
        ({"batch_size": 11}, ["batch_size 11", "batching_window_s >= 1"]),
        ({"batch_size": 10_001, "batching_window_s": 1}, ["batch_size is 10001", "10,000"]),
        ({"batch_size": 20, "batching_window_s": 0.5}, ["batching_window_s", "1 or more"]),
        ({"batching_window_s": 301}, ["batching_window_s is 301", "0 to 300"]),
        ({"batching_window_s": -1}, ["batching_window_s is -1", "0 to 300"]),
        ({"batching_window_s": float("nan")}, ["batching_window_s must be a number", "0 to"]),
        ({"wait_time_s": 21}, ["wait_time_s is 21", "0 to 20"]),
        ({"wait_time_s": 1.5}, ["wait_time_s must be a whole number", "0 to 20"]),
        ({"time_budget_s": 0}, ["time_budget_s is 0", "more than 0"]),
        ({"time_budget_s": "60"}, ["time_budget_s must be a number", "more than 0"]),
        ({"time_budget_s": float("inf")}, ["time_budget_s must be a number", "max_messages"]),
        ({"max_messages": 0}, ["max_messages is 0", "1 or more"]),
        ({"max_batches": True}, ["max_batches must be a whole number", "1 or more"]),
        ({"function_timeout_s": 0}, ["function_timeout_s is 0", "at most 900"]),
        ({"function_timeout_s": 901}, ["function_timeout_s is 901", "at most 900"]),
        ({"function_timeout_s": True}, ["function_timeout_s must be a number", "900"]),
        ({"report_batch_item_failures": "false"}, ["report_batch_item_failures", "True or False"]),
        ({"record_timeline": 1}, ["record_timeline must be True or False"]),
    ],
)
def test_bad_input_run_arguments_are_refused_before_anything_is_sent(
    subscription, sent, kwargs, says
):
    sent.clear()
    handler = Recorder()
    arguments = {"handler": handler, "queue_url": subscription.queue_url, **kwargs}

    with pytest.raises(ValidationError) as raised:
        mk.consumers.run(**arguments)

    for words in says:
        assert words in str(raised.value)
    assert sent == [] and handler.events == []


def test_bad_input_run_a_queue_that_does_not_exist(subscription, sqs):
    gone = sqs.create_queue(QueueName="gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)

    with pytest.raises(QueueNotFoundError) as raised:
        mk.consumers.run(Recorder(), gone)

    assert "names no queue" in str(raised.value)
    assert "create the queue first with mk.subscriptions.subscribe" in str(raised.value)


def test_bad_input_run_a_function_timeout_over_the_visibility_timeout(subscription):
    """Lambda refuses an SQS event source mapping whose queue's visibility timeout is less than
    the function's timeout, and advises six times it.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"""
    publish(sale(1))
    handler = Recorder()

    with pytest.raises(EventSourceMappingError) as raised:
        mk.consumers.run(handler, subscription.queue_url, function_timeout_s=2)

    for words in ("function_timeout_s is 2", "VisibilityTimeout is 1 s", "six times", "12 s"):
        assert words in str(raised.value)
    assert handler.events == []
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (1, 0, 0)


# -- the idempotency table: only what meshkit created (issue 10, point 6) -------------------------


@pytest.fixture
def dynamodb(mesh):
    return mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url)


def foreign_table(dynamodb, *, key: str = "id", ttl: str | None = None) -> str:
    """A table another team made, without meshkit's tags."""
    arn = dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]["TableArn"]
    if ttl:
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
        )
    return arn


def test_an_existing_table_is_adopted_only_when_asked_and_the_adoption_is_logged(dynamodb, caplog):
    arn = foreign_table(dynamodb)
    caplog.set_level(logging.INFO, logger="meshkit")

    with pytest.raises(NotMeshkitResourceError, match="pass adopt=True"):
        mk.consumers.create_idempotency_table(TABLE)
    untouched = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", []) == []
    assert untouched["TimeToLiveStatus"] == "DISABLED"

    assert mk.consumers.create_idempotency_table(TABLE, domain="marketing", adopt=True) == arn

    tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags["meshkit:workbook"] == tags["meshkit:adopted"] == "true"
    assert tags["meshkit:domain"] == "marketing"
    assert f"adopted the existing table {arn}" in caplog.text
    assert "turned on time to live ('expiration')" in caplog.text
    # From now on it is meshkit's: no adopt=True needed, nothing adopted again.
    caplog.clear()
    assert mk.consumers.create_idempotency_table(TABLE) == arn
    assert "adopted" not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"name": ""}, ["name '' is not a DynamoDB table name", "3 to 255"]),
        ({"name": "ab"}, ["name 'ab'", "3 to 255"]),
        ({"name": "marketing idempotency"}, ["is not a DynamoDB table name", "letters, digits"]),
        ({"name": None}, ["name None", "e.g. 'marketing-idempotency'"]),
        ({"name": "t" * 256}, ["is not a DynamoDB table name", "3 to 255"]),
        # The domain's rules are mk.buses.domain_key's; its message names an example.
        ({"name": TABLE, "domain": ""}, ["domain", "'sales'"]),
        ({"name": TABLE, "domain": 42}, ["domain", "'sales'"]),
        ({"name": TABLE, "adopt": "yes"}, ["adopt must be True or False"]),
    ],
)
def test_bad_input_create_idempotency_table_arguments(mesh, sent, kwargs, says):
    sent.clear()

    with pytest.raises(ValidationError) as raised:
        mk.consumers.create_idempotency_table(**kwargs)

    for words in says:
        assert words in str(raised.value)
    assert sent == []


@pytest.mark.parametrize(
    ("table", "error", "says"),
    [
        ({}, NotMeshkitResourceError, ["meshkit did not create it", "pass adopt=True"]),
        (
            {"key": "pk"},
            IdempotencyTableError,
            ["its key is pk (HASH, S), Powertools needs id (HASH, S)", "choose another name"],
        ),
        (
            {"ttl": "ttl"},
            IdempotencyTableError,
            ["its time to live is on 'ttl'", "'expiration'", "choose another name"],
        ),
    ],
    ids=["untagged", "other-key", "other-ttl"],
)
def test_bad_input_create_idempotency_table_on_a_table_it_cannot_use(dynamodb, table, error, says):
    arn = foreign_table(dynamodb, **table)

    with pytest.raises(error) as raised:
        mk.consumers.create_idempotency_table(TABLE, adopt=error is IdempotencyTableError)

    for words in says:
        assert words in str(raised.value)
    assert dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", []) == []  # left alone


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"process": None}, ["process must be a function", "the function itself"]),
        ({"table_name": ""}, ["table_name '' is not a DynamoDB table name", "create_idempotency"]),
        ({"expires_after_s": 0}, ["expires_after_s is 0", "1 or more"]),
        ({"expires_after_s": True}, ["expires_after_s must be a whole number"]),
        ({"name": ""}, ["name '' must be a non-empty string", "e.g. 'marketing-award-points'"]),
    ],
)
def test_bad_input_idempotent_batch_handler_arguments(mesh, sent, kwargs, says):
    sent.clear()
    arguments = {"process": print, "table_name": TABLE, "name": "printer", **kwargs}

    with pytest.raises(ValidationError) as raised:
        mk.consumers.idempotent_batch_handler(**arguments)

    for words in says:
        assert words in str(raised.value)
    assert sent == []


def test_moto_moves_a_message_to_the_dlq_after_max_receive_count_receives(mesh):
    """AWS and moto agree: after maxReceiveCount receives, the next receive moves the message to
    the DLQ instead of returning it; mk.consumers.run counts it dead-lettered at its last receive.
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
    """
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    dlq = sqs.create_queue(QueueName="parity-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 2}
    queue = sqs.create_queue(
        QueueName="parity",
        Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="poison")

    receives = [len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) for _ in range(3)]

    assert receives == [1, 1, 0]
    assert len(sqs.receive_message(QueueUrl=dlq)["Messages"]) == 1


# -- a handler's mutations of its event ---------------------------------------------------------


def _rewrite(key: str, value):
    def mutate(event):
        for record in event["Records"]:
            record[key] = value(record[key])

    return mutate


def _clear_attributes(event):
    for record in event["Records"]:
        record["attributes"].clear()


def _count_99(event):
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "99"


def _empty_records(event):
    for record in event["Records"]:
        record.clear()


def _add_a_stranger(event):
    event["Records"].append({**event["Records"][0], "messageId": "x", "receiptHandle": "x"})


@pytest.mark.parametrize(
    ("mutate", "raises", "processed", "failed"),
    [
        (_rewrite("messageId", lambda v: "x-" + v), True, 0, 3),
        (_rewrite("receiptHandle", lambda v: "x"), True, 0, 3),
        (_clear_attributes, True, 0, 3),
        (_count_99, True, 0, 3),
        (_empty_records, True, 0, 3),
        (lambda event: event["Records"].clear(), True, 0, 3),
        (lambda event: event["Records"].clear(), False, 3, 0),
        (lambda event: event.clear(), False, 3, 0),
        (_rewrite("receiptHandle", lambda v: "x"), False, 3, 0),
        (_add_a_stranger, False, 3, 0),
    ],
    ids=[
        "new-ids-raises",
        "new-handles-raises",
        "no-attributes-raises",
        "receive-count-99-raises",
        "emptied-records-raises",
        "no-records-raises",
        "no-records-returns",
        "empty-event-returns",
        "new-handles-returns",
        "stranger-added-returns",
    ],
)
def test_bad_input_a_handler_that_changes_its_event_does_not_change_what_run_deletes(
    subscription, mutate, raises, processed, failed
):
    """Lambda invokes the function with the batch as a JSON payload: the function works on its
    own copy, and the mapping decides from the messages it received and the function's outcome
    (an error fails the whole batch; a normal return deletes it).
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    publish(sale(1), sale(2), sale(3))

    def handler(event, context):
        mutate(event)
        if raises:
            raise RuntimeError("changed the event, then failed")

    summary = mk.consumers.run(handler, subscription.queue_url, max_batches=1)

    assert (summary.processed, summary.failed, summary.dead_lettered) == (processed, failed, 0)
    assert summary.unfinished == 0
    if raises:
        assert [f["receive_count"] for f in summary.failures] == [1, 1, 1]
        assert {f["error"] for f in summary.failures} == {
            "RuntimeError: changed the event, then failed"
        }
        # Still in the queue (in flight until the visibility timeout), none lost.
        assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 3, 0)
        assert mk.consumers.run(Recorder(), subscription.queue_url).processed == 3
    else:
        assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)


def test_a_partial_batch_response_counts_by_the_ids_lambda_sent(subscription):
    """A handler that renames a record and then reports it failed under its real messageId: the
    mapping retries that message (itemIdentifier is matched to the batch Lambda sent).
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
    publish(sale(1), sale(2))

    def handler(event, context):
        first = event["Records"][0]
        real_id = first["messageId"]
        first["messageId"] = "renamed"
        return {"batchItemFailures": [{"itemIdentifier": real_id}]}

    summary = mk.consumers.run(handler, subscription.queue_url, max_batches=1)

    assert (summary.processed, summary.failed) == (1, 1)
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 1, 0)


# -- Ctrl-C during a run ------------------------------------------------------------------------


class CtrlC:
    """Presses Ctrl-C (raises a KeyboardInterrupt, or ``raise_``) as the nth call of
    ``operation`` is about to go."""

    def __init__(
        self, session: boto3.Session, operation: str, nth: int, raise_=KeyboardInterrupt
    ) -> None:
        self.nth, self.seen, self.raise_ = nth, 0, raise_
        session.events.register(f"before-call.sqs.{operation}", self.call)

    def call(self, **_) -> None:
        self.seen += 1
        if self.seen == self.nth:
            raise self.raise_


def plain_session(mesh) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=mesh.session().region_name,
    )


@pytest.mark.parametrize(
    ("where", "nth", "processed", "unfinished"),
    [
        ("handler", 1, 0, 3),  # the notebook's "interrupt kernel" while the handler runs
        ("ReceiveMessage", 2, 3, 0),  # while waiting for the next batch
        ("DeleteMessageBatch", 1, 0, 3),  # after the handler, before the deletes went out
    ],
)
def test_ctrl_c_during_a_run_raises_with_the_summary_and_loses_nothing(
    subscription, mesh, where, nth, processed, unfinished
):
    import _thread

    keys = [f"sale-recorded/S-{n}" for n in range(3)]
    publish(*(sale(n) for n in range(3)))
    session = plain_session(mesh)
    recorder = Recorder()

    def handler(event, context):
        if where == "handler" and not recorder.events:
            _thread.interrupt_main()
        return recorder(event, context)

    if where != "handler":
        CtrlC(session, where, nth)

    with pytest.raises(KeyboardInterrupt) as raised:
        mk.consumers.run(handler, subscription.queue_url, boto3_session=session)

    assert isinstance(raised.value, mk.consumers.RunInterrupted)
    assert not isinstance(raised.value, Exception)  # `except Exception` does not swallow it
    summary = raised.value.summary
    assert (summary.processed, summary.batches, summary.unfinished, summary.stopped) == (
        processed, 1, unfinished, "interrupted",
    )  # fmt: skip
    assert "Nothing is lost" in str(raised.value) and "run again" in str(raised.value)
    later = Recorder()
    again = mk.consumers.run(later, subscription.queue_url, time_budget_s=30)
    assert summary.processed + again.processed == len(keys)
    assert set(recorder.done) | set(later.done) == set(keys)
    assert mk.subscriptions.queue_depths(subscription.queue_url) == (0, 0, 0)


def test_a_system_exit_during_a_run_passes_through_with_the_summary(subscription, mesh):
    publish(sale(1))
    session = plain_session(mesh)
    CtrlC(session, "ReceiveMessage", 2, raise_=SystemExit(3))

    with pytest.raises(SystemExit) as raised:
        mk.consumers.run(Recorder(), subscription.queue_url, boto3_session=session)

    assert raised.value.code == 3
    summary = raised.value.summary
    assert (summary.processed, summary.batches, summary.stopped) == (1, 1, "interrupted")


# -- peek's and redrive's arguments -------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda url: mk.consumers.peek(5), ["dlq_url must be the queue's URL", "sub.dlq_url"]),
        (lambda url: mk.consumers.peek(None), ["dlq_url must be the queue's URL", "sub.dlq_url"]),
        (lambda url: mk.consumers.peek("marketing-dlq"), ["dlq_url", "not a URL", "get_queue"]),
        (
            lambda url: mk.consumers.peek("arn:aws:sqs:us-west-2:123456789012:dlq"),
            ["dlq_url", "not a URL", "queue_url_of"],
        ),
        (
            lambda url: mk.consumers.peek(url, max_messages=0),
            ["max_messages is 0", "1 or more"],
        ),
        (
            lambda url: mk.consumers.peek(url, max_messages=-5),
            ["max_messages is -5", "1 or more"],
        ),
        (
            lambda url: mk.consumers.peek(url, max_messages=2.5),
            ["max_messages must be a whole number", "1 or more"],
        ),
        (
            lambda url: mk.consumers.peek(url, max_messages=True),
            ["max_messages must be a whole number", "1 or more"],
        ),
        (lambda url: mk.consumers.redrive(5), ["dlq_url must be the queue's URL", "sub.dlq_url"]),
        (
            lambda url: mk.consumers.redrive(url, to="marketing-sales"),
            ["to 'marketing-sales' is not a URL", "get_queue_url"],
        ),
        (lambda url: mk.consumers.redrive(url, to=7), ["to must be the queue's URL"]),
        (
            lambda url: mk.consumers.redrive(url, max_messages=0),
            ["max_messages is 0", "1 or more, or None"],
        ),
        (
            lambda url: mk.consumers.redrive(url, max_messages="10"),
            ["max_messages must be a whole number", "1 or more, or None"],
        ),
    ],
)
def test_bad_input_peek_and_redrive_arguments_are_refused_before_anything_is_sent(
    subscription, sent, call, says
):
    sent.clear()

    with pytest.raises(ValidationError) as raised:
        call(subscription.dlq_url)

    for words in says:
        assert words in str(raised.value)
    assert sent == []


@pytest.mark.parametrize("function", [mk.consumers.peek, mk.consumers.redrive])
def test_bad_input_peek_or_redrive_a_queue_that_does_not_exist(mesh, sqs, function):
    gone = sqs.create_queue(QueueName="gone-dlq")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)

    with pytest.raises(QueueNotFoundError) as raised:
        function(gone)

    assert "dlq_url" in str(raised.value) and "names no queue" in str(raised.value)
