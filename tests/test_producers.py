"""The Sales sample (the article's handler, change data capture) and the local stream runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import meshkit as mk

SAMPLE = json.loads((Path(__file__).parent / "events" / "dynamodb_stream_event.json").read_text())


@pytest.fixture
def sales(mesh, sales_tap):
    """The Sales table, and a drain of every event that reaches the Sales bus."""
    mk.sales.create_sales_table()
    return mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url), sales_tap


def put_sale(table, sale_id: str, amount: str, **extra: str) -> None:
    item = {
        "sale_id": {"S": sale_id},
        "amount": {"N": amount},
        "timestamp": {"S": "2026-01-29T10:00:00Z"},
    }
    item.update({key: {"S": value} for key, value in extra.items()})
    table.put_item(TableName="Sales", Item=item)


def test_the_article_handler_publishes_and_answers_as_the_article_does(sales):
    _, delivered = sales

    response = mk.sales.lambda_handler(
        {"sale_id": "S-1", "amount": 42.5, "timestamp": "2026-01-29T10:00:00Z"}, None
    )

    assert response == {"statusCode": 200, "body": json.dumps("Event published successfully!")}
    [event] = delivered()
    assert (event["source"], event["detail-type"]) == ("sales.domain", "SaleRecorded")
    assert event["detail"]["data"] == {
        "sale_id": "S-1",
        "amount": 42.5,
        "timestamp": "2026-01-29T10:00:00Z",
    }
    assert event["detail"]["metadata"]["idempotency_key"] == "sale-recorded/S-1"


def test_the_article_handler_raises_instead_of_answering_200_over_a_lost_event(sales, monkeypatch):
    monkeypatch.setenv("SALES_EVENT_BUS", "NoSuchEventBus")

    with pytest.raises(mk.events.UnknownBusError):
        mk.sales.lambda_handler({"sale_id": "S-1", "amount": 1}, None)


def test_the_stream_handler_turns_the_documented_sample_into_events(sales):
    _, delivered = sales

    response = mk.sales.stream_handler(SAMPLE, None)

    assert response == {"batchItemFailures": []}
    got = {e["detail-type"]: e["detail"] for e in delivered()}
    assert got["SaleRecorded"]["data"] == {
        "sale_id": "S-1001",
        "amount": 149.9,
        "timestamp": "2026-01-29T10:00:00Z",
    }
    assert got["SaleUpdated"]["data"] == {
        "sale_id": "S-1001",
        "amount": 129.9,
        "timestamp": "2026-01-29T10:00:00Z",
        "changed": ["amount"],
    }
    assert got["SaleDeleted"]["data"] == {"sale_id": "S-1001"}
    assert (
        got["SaleRecorded"]["metadata"]["idempotency_key"]
        == "sales/S-1001/4421584500000000017450439091"
    )


def test_a_record_that_breaks_its_contract_is_reported_not_dropped(sales):
    bad = json.loads(json.dumps(SAMPLE))
    bad["Records"][0]["dynamodb"]["NewImage"]["amount"] = {"N": "-1"}

    response = mk.sales.stream_handler(bad, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}


def test_the_runner_delivers_the_lambda_event_shape(sales):
    table, _ = sales
    seen: list[dict] = []
    put_sale(table, "S-1", "10")
    table.delete_item(TableName="Sales", Key={"sale_id": {"S": "S-1"}})

    mk.producers.StreamRunner(lambda event, context: seen.append(event), "Sales").run()

    [event] = seen
    documented = SAMPLE["Records"][0]
    for record in event["Records"]:
        assert record.keys() == documented.keys()
        assert set(record["dynamodb"]) - {"OldImage", "NewImage"} == set(documented["dynamodb"]) - {
            "NewImage"
        }
        assert record["awsRegion"] == "us-west-2", "from the stream ARN (moto says us-east-1)"
        assert record["eventSourceARN"].startswith(
            "arn:aws:dynamodb:us-west-2:123456789012:table/Sales/stream/"
        )
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert [r["eventName"] for r in event["Records"]] == ["INSERT", "REMOVE"]


def test_changes_flow_from_the_table_to_the_bus(sales):
    table, delivered = sales
    put_sale(table, "S-1", "12.5")
    put_sale(table, "S-2", "1200", currency="EUR")
    table.update_item(
        TableName="Sales",
        Key={"sale_id": {"S": "S-1"}},
        UpdateExpression="SET amount = :a",
        ExpressionAttributeValues={":a": {"N": "15"}},
    )
    table.delete_item(TableName="Sales", Key={"sale_id": {"S": "S-2"}})
    runner = mk.producers.StreamRunner(mk.sales.stream_handler, "Sales")

    summary = runner.run()

    assert (summary.processed, summary.failed, summary.dead_lettered) == (4, 0, 0)
    assert (summary.batches, summary.stopped) == (1, "caught up")
    got = [
        (
            e["detail-type"],
            e["detail"]["data"]["sale_id"],
            e["detail"]["metadata"]["schema_version"],
        )
        for e in delivered()
    ]
    assert sorted(got) == sorted(
        [
            ("SaleRecorded", "S-1", "1.0"),
            ("SaleRecorded", "S-2", "1.1"),
            ("SaleUpdated", "S-1", "1.0"),
            ("SaleDeleted", "S-2", "1.0"),
        ]
    )
    assert runner.run().processed == 0, "a second run starts where the first stopped"


def test_a_partial_batch_failure_is_retried_from_the_failed_record(sales):
    table, _ = sales
    for i in range(4):
        put_sale(table, f"S-{i}", "10")
    calls: list[list[str]] = []

    def handler(event, context):
        ids = [r["dynamodb"]["Keys"]["sale_id"]["S"] for r in event["Records"]]
        calls.append(ids)
        if len(calls) == 1:  # the third record fails once
            return {
                "batchItemFailures": [
                    {"itemIdentifier": event["Records"][2]["dynamodb"]["SequenceNumber"]}
                ]
            }
        return {"batchItemFailures": []}

    summary = mk.producers.StreamRunner(handler, "Sales").run()

    assert calls == [["S-0", "S-1", "S-2", "S-3"], ["S-2", "S-3"]]
    assert (summary.processed, summary.failed, summary.retried_batches) == (4, 2, 1)
    assert (summary.dead_lettered, summary.failures) == (0, [])


def test_a_poison_record_is_dead_lettered_after_the_retries(sales, mesh):
    table, _ = sales
    put_sale(table, "S-0", "10")
    put_sale(table, "S-poison", "10")
    put_sale(table, "S-2", "10")
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    dlq = sqs.create_queue(QueueName="sales-stream-failures")["QueueUrl"]
    attempts = {"count": 0}

    def handler(event, context):
        for record in event["Records"]:
            if record["dynamodb"]["Keys"]["sale_id"]["S"] == "S-poison":
                attempts["count"] += 1
                raise ValueError("cannot handle this one")
        return None

    runner = mk.producers.StreamRunner(
        handler, "Sales", batch_size=1, max_retries=2, on_failure_queue_url=dlq
    )
    summary = runner.run()

    assert attempts["count"] == 3, "the first attempt and two retries"
    assert (summary.processed, summary.failed, summary.dead_lettered) == (2, 3, 1)
    [poison] = summary.failures
    assert poison["record"]["dynamodb"]["Keys"]["sale_id"]["S"] == "S-poison", "nothing is lost"
    assert poison["keys"] == {"sale_id": {"S": "S-poison"}}
    assert (poison["event_name"], poison["attempts"]) == ("INSERT", 3)
    assert poison["error"] == "ValueError: cannot handle this one"
    assert poison["sequence_number"] == poison["record"]["dynamodb"]["SequenceNumber"]
    assert summary.failures_frame().to_dict("records") == [
        {key: poison[key] for key in summary.failures_frame().columns}
    ]
    [message] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    info = json.loads(message["Body"])  # what Lambda sends an on-failure destination
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == poison["sequence_number"]
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1


def test_a_failure_queue_that_fails_keeps_the_records_for_the_next_run(sales):
    table, _ = sales
    put_sale(table, "S-poison", "10")

    def handler(event, context):
        raise ValueError("poison")

    runner = mk.producers.StreamRunner(
        handler, "Sales", max_retries=0, on_failure_queue_url="http://127.0.0.1:1/no-such-queue"
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever SQS says, the run must stop
        runner.run()

    runner.on_failure_queue_url = None
    assert runner.run().dead_lettered == 1, "the record was offered again"


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"id": "wrong key"}]},
        {"batchItemFailures": ["not a dict"]},
    ],
)
def test_a_malformed_partial_response_fails_the_whole_batch(sales, response):
    table, _ = sales
    put_sale(table, "S-0", "10")
    put_sale(table, "S-1", "10")
    calls: list[int] = []

    def handler(event, context):
        calls.append(len(event["Records"]))
        return response if len(calls) == 1 else None

    mk.producers.StreamRunner(handler, "Sales").run()

    assert calls == [2, 2], "retried whole"


def test_without_report_batch_item_failures_reported_failures_are_ignored(sales):
    table, _ = sales
    put_sale(table, "S-0", "10")
    calls: list[int] = []

    def handler(event, context):
        calls.append(1)
        return {
            "batchItemFailures": [
                {"itemIdentifier": event["Records"][0]["dynamodb"]["SequenceNumber"]}
            ]
        }

    summary = mk.producers.StreamRunner(handler, "Sales", report_batch_item_failures=False).run()

    assert (calls, summary.processed) == ([1], 1), "as on Lambda: the batch counts as done"


def test_bad_runner_settings_are_clear_errors(sales):
    with pytest.raises(mk.MeshkitError, match="max_retries is -1; give 0 or more"):
        mk.producers.StreamRunner(mk.sales.stream_handler, "Sales", max_retries=-1)
    with pytest.raises(mk.MeshkitError, match="starting_position is 'AT_TIMESTAMP'"):
        mk.producers.StreamRunner(
            mk.sales.stream_handler, "Sales", starting_position="AT_TIMESTAMP"
        )


def test_binary_attributes_arrive_base64_as_in_lambdas_event(sales):
    table, _ = sales
    table.put_item(TableName="Sales", Item={"sale_id": {"S": "S-0"}, "receipt": {"B": b"\x00\x01"}})
    seen: list[dict] = []

    mk.producers.StreamRunner(lambda event, context: seen.extend(event["Records"]), "Sales").run()

    assert seen[0]["dynamodb"]["NewImage"]["receipt"] == {"B": "AAE="}


def test_events_that_fail_to_publish_are_reported_by_sequence_number(sales):
    with mk.faults.failing_put_events(1.0, codes=["InvalidArgument"]):
        response = mk.sales.stream_handler(SAMPLE, None)

    sequences = [record["dynamodb"]["SequenceNumber"] for record in SAMPLE["Records"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": s} for s in sequences]}


def test_the_article_handler_names_a_missing_field(sales):
    with pytest.raises(mk.MeshkitError, match="lacks amount"):
        mk.sales.lambda_handler({"sale_id": "S-1"}, None)


def test_latest_skips_what_the_stream_already_holds(sales):
    table, _ = sales
    put_sale(table, "S-old", "10")
    seen: list[str] = []
    runner = mk.producers.StreamRunner(
        lambda event, context: seen.extend(
            r["dynamodb"]["Keys"]["sale_id"]["S"] for r in event["Records"]
        ),
        "Sales",
        starting_position="LATEST",
    )
    runner.run()
    put_sale(table, "S-new", "10")

    runner.run()

    assert seen == ["S-new"]


def test_creating_the_sales_table_is_idempotent_and_returns_its_arn(sales):
    first = mk.sales.create_sales_table()

    assert mk.sales.create_sales_table() == first
    assert first == "arn:aws:dynamodb:us-west-2:123456789012:table/Sales"


def test_deleting_the_sales_table_starts_its_stream_afresh(sales):
    table, delivered = sales
    put_sale(table, "S-old", "10")
    old_stream = table.describe_table(TableName="Sales")["Table"]["LatestStreamArn"]

    assert mk.sales.delete_sales_table() is True
    mk.sales.create_sales_table()
    put_sale(table, "S-new", "20")
    runner = mk.producers.StreamRunner(mk.sales.stream_handler, "Sales")
    new_stream = runner.stream_arn
    runner.run()

    assert new_stream != old_stream
    assert [event["detail"]["data"]["sale_id"] for event in delivered()] == ["S-new"]


def test_deleting_a_sales_table_that_is_not_there_is_a_no_op(mesh):
    assert mk.sales.delete_sales_table() is False


def test_a_table_meshkit_did_not_create_is_not_deleted(mesh):
    dynamodb = mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url)
    dynamodb.create_table(
        TableName="Sales",
        KeySchema=[{"AttributeName": "sale_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "sale_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="meshkit did not create it"):
        mk.sales.delete_sales_table()

    assert dynamodb.describe_table(TableName="Sales")["Table"]["TableName"] == "Sales"


def test_a_handler_that_changes_its_event_does_not_change_what_the_runner_checkpoints(sales):
    """Lambda hands the function a copy of the batch (it is serialised); a handler that rewrites
    the records' sequence numbers and then raises still has its whole batch retried.
    https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html"""
    table, _ = sales
    for i in range(3):
        put_sale(table, f"S-{i}", "10")
    calls: list[list[str]] = []

    def handler(event, context):
        calls.append([r["dynamodb"]["Keys"]["sale_id"]["S"] for r in event["Records"]])
        if len(calls) == 1:
            for record in event["Records"]:
                record["dynamodb"]["SequenceNumber"] = "9" * 30
            event["Records"].clear()
            raise RuntimeError("boom")
        return {"batchItemFailures": []}

    summary = mk.producers.StreamRunner(handler, "Sales").run()

    assert calls == [["S-0", "S-1", "S-2"], ["S-0", "S-1", "S-2"]]
    assert (summary.processed, summary.failed, summary.retried_batches) == (3, 3, 1)


def test_an_interrupted_run_carries_its_summary_and_the_stream_keeps_the_rest(sales):
    table, _ = sales
    for i in range(3):
        put_sale(table, f"S-{i}", "10")
    runner = mk.producers.StreamRunner(mk.sales.stream_handler, "Sales", batch_size=1)
    calls: list[int] = []

    def interrupt_on_second(event, context):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return mk.sales.stream_handler(event, context)

    runner.handler = interrupt_on_second
    with pytest.raises(KeyboardInterrupt) as stopped:
        runner.run()

    assert (stopped.value.summary.processed, stopped.value.summary.stopped) == (1, "interrupted")
    runner.handler = mk.sales.stream_handler
    assert runner.run().processed == 2, "the next run starts where the interrupted one stopped"


def test_the_runner_reads_a_stream_named_by_its_table_or_its_own_arn(sales):
    table, _ = sales
    description = table.describe_table(TableName="Sales")["Table"]
    stream_arn = description["LatestStreamArn"]

    for name in ("Sales", description["TableArn"], stream_arn):
        assert mk.producers.StreamRunner(mk.sales.stream_handler, name).stream_arn == stream_arn


def test_a_runner_without_a_stream_to_read_is_a_clear_error(mesh):
    dynamodb = mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url)
    dynamodb.create_table(
        TableName="NoStream",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    missing_stream = (
        "arn:aws:dynamodb:us-west-2:123456789012:table/Nothing/stream/2026-01-29T10:00:00.000"
    )

    for stream, match in [
        ("NoStream", "table NoStream has no stream: enable one with update_table"),
        ("Nothing", "table Nothing does not exist: create it"),
        (missing_stream, f"stream {missing_stream} does not exist"),
    ]:
        with pytest.raises(mk.producers.StreamNotFoundError, match=match) as error:
            mk.producers.StreamRunner(mk.sales.stream_handler, stream)
        assert isinstance(error.value, mk.exceptions.NotFoundError)


def test_the_stream_and_the_queue_runners_summaries_share_names_and_types():
    """What both runners report (records completed, failed deliveries, records given up on,
    invocations, why the run returned, elapsed time, what was given up on) has the same name,
    type and meaning in both summaries."""
    from dataclasses import fields
    from typing import get_type_hints

    from meshkit.consumers import RunSummary
    from meshkit.producers import StreamRunSummary

    shared = {"processed", "failed", "dead_lettered", "batches", "stopped", "elapsed_s", "failures"}
    queue_hints, stream_hints = get_type_hints(RunSummary), get_type_hints(StreamRunSummary)

    assert shared <= {f.name for f in fields(RunSummary)} & {
        f.name for f in fields(StreamRunSummary)
    }
    assert {name: stream_hints[name] for name in shared} == {
        name: queue_hints[name] for name in shared
    }
    assert callable(StreamRunSummary.failures_frame) and callable(RunSummary.failures_frame)


def test_the_summary_repr_reads_like_the_queue_runners():
    summary = mk.producers.StreamRunSummary(
        processed=2, failed=1, batches=2, stopped="caught up", retried_batches=1
    )

    assert repr(summary) == (
        "StreamRunSummary(processed=2, failed=1, dead_lettered=0, batches=2, retried_batches=1, "
        "stopped='caught up')"
    )
    assert list(summary.failures_frame().columns) == [
        "shard_id",
        "sequence_number",
        "event_name",
        "keys",
        "attempts",
        "error",
    ]


def test_a_run_out_of_time_says_so_and_leaves_the_records_for_the_next(sales):
    table, _ = sales
    put_sale(table, "S-0", "10")
    runner = mk.producers.StreamRunner(lambda event, context: None, "Sales")

    summary = runner.run(time_budget_s=0)

    assert (summary.processed, summary.batches, summary.stopped) == (0, 0, "time budget")
    assert runner.run().processed == 1


def test_a_malformed_response_is_named_in_the_failures(sales):
    table, _ = sales
    put_sale(table, "S-0", "10")

    summary = mk.producers.StreamRunner(
        lambda event, context: {"batchItemFailures": [{"id": "wrong key"}]}, "Sales", max_retries=0
    ).run()

    [failure] = summary.failures
    assert failure["error"].startswith("the partial batch response fails the whole batch: ")
    assert "batchItemFailures holds {'id': 'wrong key'}" in failure["error"]


def test_the_sales_sample_is_still_reachable_through_producers():
    """A Lambda function configured with the handler meshkit.producers.lambda_handler (or
    stream_handler) keeps working now that the Sales sample lives in meshkit.sales."""
    import importlib

    producers = importlib.import_module("meshkit.producers")
    for name in mk.sales.__all__:
        if name in producers.__all__:
            assert getattr(producers, name) is getattr(mk.sales, name)
    assert producers.lambda_handler is mk.sales.lambda_handler
    assert producers.stream_handler is mk.sales.stream_handler
