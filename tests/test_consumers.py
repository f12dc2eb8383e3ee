"""Consumers: the local SQS event source mapping, handlers, idempotency and dead-letter queues."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from pathlib import Path

import pytest

import meshkit as mk
from meshkit._lambda import LocalContext
from meshkit.exceptions import ValidationError

SAMPLE = json.loads((Path(__file__).parent / "events" / "sqs_event.json").read_text())
TABLE = "marketing-idempotency"


@pytest.fixture
def subscription(mesh):
    """Marketing's subscription to all Sales events; failed messages come back after a second."""
    mk.buses.create_domain_bus("sales")
    return mk.subscriptions.subscribe(
        "marketing",
        bus="SalesEventBus",
        pattern={"source": ["sales.domain"]},
        visibility_timeout_s=1,
        max_receive_count=3,
    )


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


def test_moto_delivers_a_standard_queue_in_publish_order(subscription):
    """AWS: a standard queue delivers in best-effort order, sometimes out of it. moto: always in
    the order sent. A consumer must not depend on order; the notebooks' outputs may."""
    publish(*(sale(n) for n in range(25)))
    handler = Recorder()

    mk.consumers.run(handler, subscription.queue_url)

    assert handler.done == [f"sale-recorded/S-{n}" for n in range(25)]


def test_moto_does_not_implement_start_message_move_task(subscription, mesh):
    """AWS: StartMessageMoveTask moves a DLQ's messages back (the console's "Start DLQ
    redrive"). moto answers HTTP 500 (not implemented); mk.consumers.redrive works on both."""
    import botocore.config
    from botocore.exceptions import ClientError

    sqs = mesh.session().client(
        "sqs",
        endpoint_url=mesh.endpoint_url,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )

    with pytest.raises(ClientError) as raised:
        sqs.start_message_move_task(
            SourceArn=subscription.dlq_arn, DestinationArn=subscription.queue_arn
        )

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


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


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"batch_size": 0}, "batch_size is 0"),
        ({"batch_size": 20_000}, "10,000"),
        ({"batch_size": 50}, "batching_window_s"),
        ({"wait_time_s": 21}, "0 to 20"),
        ({"batch_size": 20, "batching_window_s": 0.5}, "1 or more"),
        ({"batching_window_s": 301}, "0 to 300"),
    ],
)
def test_bad_settings_are_refused_with_the_limit(subscription, kwargs, says):
    with pytest.raises(ValidationError, match=says):
        mk.consumers.run(Recorder(), subscription.queue_url, **kwargs)


def test_redrive_needs_a_destination_when_the_dlq_serves_several_queues(mesh, sqs):
    dlq = sqs.create_queue(QueueName="shared-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 1})
    for name in ("first", "second"):
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})

    with pytest.raises(mk.MeshkitError, match="pass to="):
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
    with pytest.raises(ValidationError, match="visibility timeout of 0"):
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

    mk.consumers.create_idempotency_table(TABLE)

    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiration")
