"""Kinesis Data Streams: recording the mesh's events, and reading them as Lambda's mapping does.

AWS pages the behaviour is tested against:
- PutRecords: https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
- Lambda with Kinesis: https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
- on-failure destination: https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse

import meshkit as mk

SAMPLE = json.loads((Path(__file__).parent / "events" / "kinesis_event.json").read_text())
PUT_RECORDS = "Kinesis_20131202.PutRecords"


def sale(i: int, customer: str = "C-1") -> mk.events.DomainEvent:
    return mk.events.DomainEvent(
        source="sales.domain",
        detail_type="SaleRecorded",
        detail={"sale_id": f"S-{i}", "customer_id": customer, "amount": 10 + i},
        idempotency_key=f"sale-S-{i}",
    )


def payload(record: dict) -> dict:
    return json.loads(base64.b64decode(record["kinesis"]["data"]))


@pytest.fixture
def stream(mesh) -> str:
    return mk.analytics.create_stream("sales-stream", domain="sales", shards=3)


@pytest.fixture
def sqs(mesh):
    return mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)


def collecting(seen: list[dict]):
    def handler(event, context):
        seen.extend(event["Records"])

    return handler


def failing_session(mesh, fail) -> boto3.Session:
    """A session whose Kinesis client fails the records ``fail(index, attempt)`` names, with
    the error code it returns, and writes the others (as PutRecords does in part)."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=mesh.region
    )
    real = mesh.session().client("kinesis", endpoint_url=mesh.endpoint_url)
    calls = {"n": 0}

    def partial(params, **_):
        calls["n"] += 1
        request = json.loads(params["body"])
        records = request.pop("Records")
        codes = [fail(i, calls["n"]) for i in range(len(records))]
        passing = [
            {"Data": base64.b64decode(r["Data"]), "PartitionKey": r["PartitionKey"]}
            for r, code in zip(records, codes, strict=True)
            if code is None
        ]
        answers = iter(real.put_records(**request, Records=passing)["Records"] if passing else [])
        outcome = [
            next(answers) if code is None else {"ErrorCode": code, "ErrorMessage": "injected"}
            for code in codes
        ]
        parsed = {
            "FailedRecordCount": sum(code is not None for code in codes),
            "Records": outcome,
            "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return AWSResponse("https://injected.invalid", 200, {}, None), parsed

    session.events.register("before-call.kinesis.PutRecords", partial)
    return session


def test_events_go_round_trip_in_order_per_partition_key(stream):
    """Given 30 sales of 5 customers recorded with the customer as partition key on 3 shards,
    when the runner reads the stream, then every sale arrives once, in order per customer."""
    sales = [sale(i, customer=f"C-{i % 5}") for i in range(30)]

    result = mk.analytics.record_events(stream, sales, partition_key="detail.data.customer_id")
    seen: list[dict] = []
    summary = mk.analytics.KinesisRunner(collecting(seen), stream, batch_size=4).run()

    assert (result.sent, result.failed, result.api_calls) == (30, [], 1)
    assert (summary.processed, summary.failed, summary.stopped) == (30, 0, "caught up")
    assert len({shard for _, shard, _ in result.delivered}) > 1, "spread over shards"
    by_customer: dict[str, list[str]] = {}
    for record in seen:
        data = payload(record)["detail"]["data"]
        by_customer.setdefault(data["customer_id"], []).append(data["sale_id"])
    for customer, sale_ids in by_customer.items():
        assert sale_ids == [f"S-{i}" for i in range(30) if f"C-{i % 5}" == customer]


def test_a_record_carries_the_envelope_an_eventbridge_rule_delivers(stream, mesh):
    """Given one recorded sale, then its data is EventBridge's envelope (the shape of the SQS
    sample's body), and the record Lambda's Kinesis event shape (tests/events sample)."""
    mk.analytics.record_events(stream, [sale(1)])
    seen: list[dict] = []

    mk.analytics.KinesisRunner(collecting(seen), stream).run()

    [record] = seen
    [expected] = SAMPLE["Records"]
    assert set(record) == set(expected)
    assert set(record["kinesis"]) == set(expected["kinesis"])
    assert {k: record[k] for k in ("eventSource", "eventVersion", "eventName")} == {
        k: expected[k] for k in ("eventSource", "eventVersion", "eventName")
    }
    assert record["eventID"] == f"{record_shard(record)}:{record['kinesis']['sequenceNumber']}"
    assert record["eventSourceARN"] == stream
    assert record["awsRegion"] == mesh.region
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    envelope = payload(record)
    assert set(envelope) == set(payload(expected))
    assert envelope["account"] == mesh.account_id
    assert envelope["detail"]["metadata"]["idempotency_key"] == "sale-S-1"
    assert record["kinesis"]["partitionKey"] == envelope["detail"]["metadata"]["correlation_id"]


def record_shard(record: dict) -> str:
    return record["eventID"].split(":")[0]


def test_a_second_run_processes_only_new_records(stream):
    mk.analytics.record_events(stream, [sale(1), sale(2)])
    seen: list[dict] = []
    runner = mk.analytics.KinesisRunner(collecting(seen), stream)
    runner.run()

    mk.analytics.record_events(stream, [sale(3)])
    summary = runner.run()

    assert summary.processed == 1
    assert [payload(r)["detail"]["data"]["sale_id"] for r in seen][-1] == "S-3"
    assert len(seen) == 3


def test_latest_skips_what_the_stream_already_holds(stream):
    mk.analytics.record_events(stream, [sale(1)])
    seen: list[dict] = []
    runner = mk.analytics.KinesisRunner(collecting(seen), stream, starting_position="LATEST")
    runner.run()

    mk.analytics.record_events(stream, [sale(2)])
    runner.run()

    assert [payload(r)["detail"]["data"]["sale_id"] for r in seen] == ["S-2"]


def test_a_raising_handler_sends_the_batch_to_the_failure_queue(stream, sqs):
    """Given a handler that always raises, when the runner gives up after max_retries, then the
    records are in failures and the queue holds Lambda's on-failure record (KinesisBatchInfo)."""
    dlq = sqs.create_queue(QueueName="sales-stream-failures")["QueueUrl"]
    mk.analytics.record_events(stream, [sale(1), sale(2)], partition_key=lambda e: "one-shard")
    calls: list[int] = []

    def handler(event, context):
        calls.append(len(event["Records"]))
        raise ValueError("cannot score this")

    runner = mk.analytics.KinesisRunner(handler, stream, max_retries=1, on_failure_queue_url=dlq)
    summary = runner.run()

    assert calls == [2, 2]
    assert (summary.processed, summary.failed, summary.dead_lettered) == (0, 4, 2)
    assert [f["attempts"] for f in summary.failures] == [2, 2]
    assert summary.failures[0]["error"] == "ValueError: cannot score this"
    assert summary.failures[0]["keys"] == {"partitionKey": "one-shard"}
    assert payload(summary.failures[1]["record"])["detail"]["data"]["sale_id"] == "S-2"
    [message] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    body = json.loads(message["Body"])
    info = body["KinesisBatchInfo"]
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 2
    assert set(info) == {
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }
    assert (info["batchSize"], info["streamArn"]) == (2, stream)
    assert info["startSequenceNumber"] == summary.failures[0]["sequence_number"]
    assert info["endSequenceNumber"] == summary.failures[1]["sequence_number"]
    assert runner.run().processed == 0, "given up on: the checkpoint moved past them"


def test_batch_item_failures_redeliver_from_the_lowest_failed_record(stream):
    """Given a handler that reports the 2nd and 4th records failed once, then the next attempt
    starts at the 2nd (the lowest failed sequence number) and everything is processed."""
    mk.analytics.record_events(stream, [sale(i) for i in range(5)], partition_key=lambda e: "k")
    batches: list[list[str]] = []

    def handler(event, context):
        ids = [payload(r)["detail"]["data"]["sale_id"] for r in event["Records"]]
        batches.append(ids)
        if len(batches) > 1:
            return {"batchItemFailures": []}
        failed = [
            r for r in event["Records"] if payload(r)["detail"]["data"]["sale_id"] in ("S-1", "S-3")
        ]
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in failed
            ]
        }

    summary = mk.analytics.KinesisRunner(handler, stream).run()

    assert batches == [["S-0", "S-1", "S-2", "S-3", "S-4"], ["S-1", "S-2", "S-3", "S-4"]]
    assert (summary.processed, summary.failed, summary.retried_batches) == (5, 4, 1)


def test_a_handler_interrupted_by_ctrl_c_loses_nothing(stream):
    """Given a handler that raises KeyboardInterrupt, then the run stops with its summary, and
    the next run delivers the interrupted batch again."""
    mk.analytics.record_events(stream, [sale(1)])
    seen: list[dict] = []

    def interrupted(event, context):
        raise KeyboardInterrupt

    runner = mk.analytics.KinesisRunner(interrupted, stream)
    with pytest.raises(KeyboardInterrupt) as stop:
        runner.run()
    runner.handler = collecting(seen)
    summary = runner.run()

    assert stop.value.summary.stopped == "interrupted"
    assert summary.processed == 1
    assert payload(seen[0])["detail"]["data"]["sale_id"] == "S-1"


def test_throttled_records_are_retried_until_written(stream, mesh):
    """Given PutRecords failing records 0 and 2 of its first request with a retryable code,
    then they are sent again and each event is written exactly once."""
    session = failing_session(
        mesh,
        lambda i, call: (
            "ProvisionedThroughputExceededException" if call == 1 and i in (0, 2) else None
        ),
    )

    result = mk.analytics.record_events(stream, [sale(i) for i in range(4)], boto3_session=session)
    seen: list[dict] = []
    mk.analytics.KinesisRunner(collecting(seen), stream).run()

    assert (result.sent, result.failed, result.retried, result.api_calls) == (4, [], 2, 2)
    assert sorted(payload(r)["detail"]["data"]["sale_id"] for r in seen) == [
        "S-0", "S-1", "S-2", "S-3",
    ]  # fmt: skip


def test_records_that_keep_failing_are_returned_never_dropped(stream, mesh):
    session = failing_session(
        mesh,
        lambda i, call: {0: "InternalFailure", 1: "AccessDeniedException"}.get(i) if call else None,
    )

    result = mk.analytics.record_events(
        stream, [sale(0), sale(1), sale(2)], max_attempts=3, boto3_session=session
    )

    assert result.sent == 1 and not result.ok
    assert [(f.event.idempotency_key, f.error_code, f.attempts) for f in result.failed] == [
        ("sale-S-1", "AccessDeniedException", 1),  # not retryable: failed at once
        ("sale-S-0", "InternalFailure", 3),
    ]
    assert result.failures_frame()["idempotency_key"].tolist() == ["sale-S-1", "sale-S-0"]


def test_a_generator_that_raises_reports_what_was_sent(stream):
    def sales():
        yield from (sale(i) for i in range(3))
        raise RuntimeError("the source went away")

    with pytest.raises(mk.analytics.RecordError, match="the source went away") as error:
        mk.analytics.record_events(stream, sales())

    result = error.value.result
    assert (result.sent, result.failed) == (0, []) and len(result.unsent) == 3
    assert [u.event.idempotency_key for u in result.unsent] == ["sale-S-0", "sale-S-1", "sale-S-2"]
    assert isinstance(error.value.__cause__, RuntimeError)


def test_ctrl_c_in_the_callers_generator_loses_nothing(stream):
    MAX = mk.analytics.MAX_RECORDS_PER_CALL

    def sales():
        yield from (sale(i) for i in range(MAX + 2))
        raise KeyboardInterrupt

    with pytest.raises(mk.analytics.RecordInterrupted) as stop:
        mk.analytics.record_events(stream, sales())

    result = stop.value.result
    assert isinstance(stop.value, KeyboardInterrupt)
    assert (result.sent, len(result.unsent)) == (MAX, 2), "the first full request went"
    assert result.sent + len(result.unsent) == MAX + 2


def test_requests_hold_at_most_500_records_and_5_mib(stream, sent):
    big = [
        mk.events.DomainEvent("sales.domain", "SaleRecorded", {"blob": "x" * 600_000})
        for _ in range(10)
    ]
    small = [sale(i) for i in range(501)]

    big_result = mk.analytics.record_events(stream, big)
    small_result = mk.analytics.record_events(stream, small)

    assert big_result.api_calls == 2, "8 records of ~600 KB fill 5 MiB"
    assert small_result.api_calls == 2
    assert [s.operation for s in sent].count(PUT_RECORDS) == 4


def test_creating_a_stream_is_idempotent_and_tags_it(mesh):
    first = mk.analytics.create_stream("fraud-stream", domain="fraud", shards=2)

    assert mk.analytics.create_stream("fraud-stream", domain="fraud", shards=2) == first
    assert first == f"arn:aws:kinesis:us-west-2:{mesh.account_id}:stream/fraud-stream"
    kinesis = mesh.session().client("kinesis", endpoint_url=mesh.endpoint_url)
    tags = {
        t["Key"]: t["Value"]
        for t in kinesis.list_tags_for_stream(StreamName="fraud-stream")["Tags"]
    }
    assert tags == {
        "meshkit:workbook": "true",
        "meshkit:domain": "fraud",
        "meshkit:owner": "fraud-team",
    }
    with pytest.raises(mk.exceptions.ConflictError, match="pass shards=2"):
        mk.analytics.create_stream("fraud-stream", domain="fraud", shards=3)
    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="belongs to domain 'fraud'"):
        mk.analytics.create_stream("fraud-stream", domain="sales", shards=2)


def test_a_stream_meshkit_did_not_create_is_neither_adopted_nor_deleted(mesh):
    kinesis = mesh.session().client("kinesis", endpoint_url=mesh.endpoint_url)
    kinesis.create_stream(StreamName="theirs", ShardCount=1)

    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="meshkit did not create it"):
        mk.analytics.create_stream("theirs", domain="sales")
    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="will not delete it"):
        mk.analytics.delete_stream("theirs")

    assert kinesis.describe_stream_summary(StreamName="theirs")["StreamDescriptionSummary"]
    assert mk.analytics.delete_stream("not-there") is False


def test_a_stream_that_does_not_exist_is_named(mesh):
    with pytest.raises(mk.analytics.UnknownStreamError, match="create_stream"):
        mk.analytics.record_events("not-there", [sale(1)])
    with pytest.raises(mk.analytics.UnknownStreamError, match="not-there does not exist"):
        mk.analytics.KinesisRunner(collecting([]), "not-there")


@pytest.mark.parametrize(
    ("kwargs", "field", "fix"),
    [
        ({"stream": "bad name"}, "stream", "e.g. 'sales-stream'"),
        ({"stream": "arn:aws:kinesis:nowhere"}, "stream ARN", "a Kinesis stream ARN reads"),
        ({"events": sale(1)}, "events", "[event]"),
        ({"events": {"a": 1}}, "events", "any iterable"),
        ({"events": [sale(1), "S-2"]}, "event 1", "wrap it with mk.events.DomainEvent"),
        ({"partition_key": ""}, "partition_key", "dotted path"),
        ({"partition_key": "detail.data.nope"}, "partition_key", "choose a field every event has"),
        ({"max_attempts": 0}, "max_attempts", "at least 1"),
        (
            {"events": [mk.events.DomainEvent("sales.domain", "SaleRecorded", {"b": "x" * 2**20})]},
            "event 0",
            "put the bulk in S3",
        ),
    ],
)
def test_bad_input_to_record_events_is_refused_before_sending(stream, sent, kwargs, field, fix):
    arguments = {"stream": stream, "events": [sale(1)], **kwargs}

    with pytest.raises(mk.exceptions.ValidationError) as error:
        mk.analytics.record_events(arguments.pop("stream"), arguments.pop("events"), **arguments)

    assert field in str(error.value) and fix in str(error.value)
    assert PUT_RECORDS not in [s.operation for s in sent]


@pytest.mark.parametrize(
    ("kwargs", "field", "fix"),
    [
        ({"name": "bad/name"}, "name", "e.g. 'sales-stream'"),
        ({"shards": 0}, "shards", "from 1 to 500"),
        ({"shards": True}, "shards", "from 1 to 500"),
        ({"owner": ""}, "owner", "'sales-team'"),
        ({"domain": "1 bad"}, "domain", ""),
    ],
)
def test_bad_input_to_create_stream_is_refused_before_sending(mesh, sent, kwargs, field, fix):
    arguments = {"name": "good-stream", "domain": "sales", **kwargs}

    with pytest.raises(mk.exceptions.ValidationError) as error:
        mk.analytics.create_stream(arguments.pop("name"), **arguments)

    assert field in str(error.value) and fix in str(error.value)
    assert not [s for s in sent if s.operation.startswith("Kinesis")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_size": 10_001}, "batch_size is 10001; give 1 to 10000"),
        ({"batch_size": 0}, "batch_size is 0"),
        ({"max_retries": -1}, "max_retries is -1; give 0 or more"),
        ({"starting_position": "AT_TIMESTAMP"}, "starting_position is 'AT_TIMESTAMP'"),
        ({"stream": "no spaces please"}, "stream is 'no spaces please'"),
    ],
)
def test_bad_input_to_the_runner_is_refused_before_sending(mesh, sent, kwargs, match):
    arguments = {"stream": "sales-stream", **kwargs}

    with pytest.raises(mk.exceptions.ValidationError, match=match):
        mk.analytics.KinesisRunner(collecting([]), arguments.pop("stream"), **arguments)

    assert not [s for s in sent if s.operation.startswith("Kinesis")]
