"""The Sales domain's producers: the article's Lambda handler, and change data capture.

Two ways a domain turns what happens into events:

- ``lambda_handler``: the article's producer, invoked with a sale, publishing ``SaleRecorded``;
- ``stream_handler``: change data capture. The Sales table's DynamoDB stream feeds a Lambda
  function that turns each INSERT, MODIFY and REMOVE into ``SaleRecorded``, ``SaleUpdated`` and
  ``SaleDeleted`` events.

Offline no Lambda runs, so ``StreamRunner`` plays the part of Lambda's DynamoDB event source
mapping: it polls the stream and calls the handler with the exact event Lambda would build,
honouring partial batch responses (``batchItemFailures``) and retries.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from botocore.exceptions import ClientError

from . import _aws, contracts, events
from ._lambda import LocalContext, ensure_target, reported_failures
from ._shared import DOMAIN_TAG, WORKBOOK_TAG, domain_tags, error_code
from .buses import bus_name
from .exceptions import NotMeshkitResourceError, ValidationError

__all__ = [
    "SALES_SOURCE",
    "StreamRunSummary",
    "StreamRunner",
    "create_sales_table",
    "delete_sales_table",
    "lambda_handler",
    "sale_event_from_record",
    "stream_handler",
]

_logger = logging.getLogger(__name__)

SALES_SOURCE = "sales.domain"
SALES_TABLE = "Sales"
_BUS_ENV = "SALES_EVENT_BUS"  # the Lambda functions' configuration: which bus to publish on


def create_sales_table(
    *, name: str = SALES_TABLE, boto3_session: boto3.Session | None = None
) -> str:
    """Create the Sales domain's table with a NEW_AND_OLD_IMAGES stream; return the stream ARN.

    Idempotent. The table is keyed by ``sale_id`` and billed per request, and tagged like the
    domain's bus.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.producers.create_sales_table()  # doctest: +SKIP
    'arn:aws:dynamodb:us-west-2:123456789012:table/Sales/stream/2026-01-29T10:00:00.000'
    """
    dynamodb = _aws.client("dynamodb", boto3_session)
    try:
        table = dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "sale_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "sale_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            Tags=domain_tags("sales"),
        )["TableDescription"]
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        table = dynamodb.describe_table(TableName=name)["Table"]
    stream = table.get("StreamSpecification", {})
    if not stream.get("StreamEnabled") or stream.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
        raise ValidationError(
            f"table {name} exists without a NEW_AND_OLD_IMAGES stream: enable one with "
            "update_table(StreamSpecification=...), or choose another name"
        )
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return str(table["LatestStreamArn"])


def delete_sales_table(
    *, name: str = SALES_TABLE, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete the Sales domain's table, if meshkit created it; wait until it is gone.

    For a fresh start: a new table's stream holds only the changes made after it was created.
    The old table's stream records stay readable (for 24 hours on AWS) but belong to the old
    stream ARN, which a new event source mapping does not read.

    Returns
    -------
    bool
        True when a table was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the table exists without the Sales domain's ``meshkit:`` tags (someone else's).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.producers.delete_sales_table()  # doctest: +SKIP
    True
    """
    dynamodb = _aws.client("dynamodb", boto3_session)
    try:
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return False
    tags = {
        tag["Key"]: tag["Value"]
        for tag in dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
    }
    if tags.get(WORKBOOK_TAG) != "true" or tags.get(DOMAIN_TAG) != "sales":
        raise NotMeshkitResourceError(
            f"table {name} exists but meshkit did not create it for the sales domain (no "
            f"{WORKBOOK_TAG} and {DOMAIN_TAG}=sales tags): delete it yourself if it is yours, or "
            "use another name"
        )
    dynamodb.delete_table(TableName=name)
    dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    _logger.info("deleted table %s", name)
    return True


# -- the article's producer ---------------------------------------------------------------------


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The article's producer: publish ``SaleRecorded`` for ``{"sale_id", "amount"}``.

    Unlike the article's version it checks the result of PutEvents: an event that was not
    delivered raises ``PublishError``, so Lambda retries the invocation (and, once retries are
    exhausted, hands it to the function's dead-letter queue or on-failure destination) instead of
    answering 200 over a lost event. The bus comes from ``SALES_EVENT_BUS`` (default
    ``SalesEventBus``).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.producers.lambda_handler({"sale_id": "S-1", "amount": 12.5}, None)  # doctest: +SKIP
    {'statusCode': 200, 'body': '"Event published successfully!"'}
    """
    ensure_target()
    missing = [key for key in ("sale_id", "amount") if key not in event]
    if missing:
        raise ValidationError(
            f"the invocation event lacks {', '.join(missing)}: invoke with "
            '{"sale_id": "S-1", "amount": 12.5}'
        )
    sale_id, amount = event["sale_id"], event["amount"]
    timestamp = event.get("timestamp") or datetime.now(timezone.utc).isoformat()
    sale = events.DomainEvent(
        source=SALES_SOURCE,
        detail_type="SaleRecorded",
        detail={"sale_id": sale_id, "amount": amount, "timestamp": timestamp},
        idempotency_key=f"sale-recorded/{sale_id}",  # the same sale twice is the same fact
    )
    events.publish(os.environ.get(_BUS_ENV, bus_name("sales")), [sale], raise_on_failure=True)
    return {"statusCode": 200, "body": json.dumps("Event published successfully!")}


# -- change data capture ------------------------------------------------------------------------

_DETAIL_TYPES = {
    DynamoDBRecordEventName.INSERT: "SaleRecorded",
    DynamoDBRecordEventName.MODIFY: "SaleUpdated",
    DynamoDBRecordEventName.REMOVE: "SaleDeleted",
}
_CONTRACT_FIELDS = {
    "SaleRecorded": ("sale_id", "amount", "timestamp", "currency"),
    "SaleUpdated": ("sale_id", "amount", "timestamp", "currency"),
    "SaleDeleted": ("sale_id",),
}


def sale_event_from_record(record: DynamoDBRecord) -> events.DomainEvent:
    """The domain event for one stream record of the Sales table.

    INSERT -> ``SaleRecorded``, MODIFY -> ``SaleUpdated`` (with the names of the ``changed``
    fields), REMOVE -> ``SaleDeleted``. The idempotency key is the table, item and stream sequence
    number: the same change delivered twice (Lambda retries batches) has the same key.
    """
    detail_type = _DETAIL_TYPES[record.event_name]
    stream = record.dynamodb
    image = stream.old_image if detail_type == "SaleDeleted" else stream.new_image
    item = {key: _plain(value) for key, value in image.items()}
    detail = {key: item[key] for key in _CONTRACT_FIELDS[detail_type] if key in item}
    version = "1.1" if detail_type == "SaleRecorded" and "currency" in detail else "1.0"
    if detail_type == "SaleUpdated":
        old = {key: _plain(value) for key, value in stream.old_image.items()}
        detail["changed"] = sorted(
            key for key in item.keys() | old.keys() if item.get(key) != old.get(key)
        )
    created = stream.approximate_creation_date_time
    return events.DomainEvent(
        source=SALES_SOURCE,
        detail_type=detail_type,
        detail=detail,
        idempotency_key=f"sales/{item.get('sale_id')}/{stream.sequence_number}",
        correlation_id=str(item.get("correlation_id") or record.event_id),
        schema_version=version,
        time=datetime.fromtimestamp(created, timezone.utc) if created else None,
    )


def stream_handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda handler for the Sales table's stream: publish one event per change, in one go.

    Records are converted and checked against their contracts one by one, then published
    together (``publish`` batches them by 10), which costs a tenth of the requests that a
    record-at-a-time handler makes. Records that could not be converted or delivered are reported
    in a partial batch response, so Lambda (or ``StreamRunner``) retries from the first of them;
    retried records keep their idempotency keys. Enable ``ReportBatchItemFailures`` on the event
    source mapping when you deploy it.

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}, ...]}``
    """
    ensure_target()
    registry = contracts.default_registry()
    bus = os.environ.get(_BUS_ENV, bus_name("sales"))
    failed: list[str] = []
    ready: list[tuple[str, events.DomainEvent]] = []
    for record in DynamoDBStreamEvent(dict(event)).records:
        sequence = record.dynamodb.sequence_number
        try:
            domain_event = sale_event_from_record(record)
            registry.get(
                domain_event.source, domain_event.detail_type, domain_event.schema_version
            ).validate(domain_event.detail)
        except (ValidationError, KeyError) as err:
            _logger.warning("record %s cannot become an event: %s", sequence, err)
            failed.append(sequence)
            continue
        ready.append((sequence, domain_event))
    if ready:
        result = events.publish(bus, [e for _, e in ready], validate=False)
        undelivered = {id(f.event) for f in result.failed}
        failed.extend(sequence for sequence, e in ready if id(e) in undelivered)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}


# -- the local event source mapping -------------------------------------------------------------


@dataclass
class StreamRunSummary:
    """What one ``StreamRunner.run`` did.

    Attributes
    ----------
    records : int
        Records the handler completed (not reported as failed).
    batches : int
        Handler invocations, retries included.
    retried_batches : int
        Invocations that repeated records after a failure.
    dead_lettered : list of dict
        Records given up on after ``max_retries``: kept here (and sent to the on-failure queue, if
        one was given), never dropped.
    """

    records: int = 0
    batches: int = 0
    retried_batches: int = 0
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)


class StreamRunner:
    """Poll a DynamoDB stream and call a Lambda handler as Lambda's event source mapping would.

    It keeps its place in each shard between runs, so running it again processes only new
    changes. Per Lambda's contract: records arrive in order, in batches of up to ``batch_size``; a
    handler that raises fails the whole batch; a ``batchItemFailures`` response makes the next
    attempt start at the lowest failed sequence number; after ``max_retries`` retries the rest of
    the batch goes to ``dead_lettered`` (and ``on_failure_queue_url``) and polling moves on.

    Parameters
    ----------
    handler : callable
        ``handler(event, context)``, e.g. ``mk.producers.stream_handler``.
    table_name : str
        The table whose stream to read.
    batch_size : int, default 100
    max_retries : int, default 2
    starting_position : {"TRIM_HORIZON", "LATEST"}, default "TRIM_HORIZON"
    on_failure_queue_url : str, optional
        An SQS queue that receives, for each batch given up on, the invocation record Lambda
        sends to an on-failure destination (``DDBStreamBatchInfo``: shard and sequence range,
        not the records; those are in ``StreamRunSummary.dead_lettered``).
    report_batch_item_failures : bool, default True
        As the mapping's ``FunctionResponseTypes=["ReportBatchItemFailures"]``. Without it,
        Lambda ignores ``batchItemFailures`` and counts the batch as done: records are lost.
    boto3_session : boto3.Session, optional

    Examples
    --------
    >>> import meshkit as mk
    >>> runner = mk.producers.StreamRunner(mk.producers.stream_handler, "Sales")  # doctest: +SKIP
    >>> runner.run()  # doctest: +SKIP
    StreamRunSummary(records=3, batches=1, retried_batches=0, dead_lettered=[])
    """

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        table_name: str,
        *,
        batch_size: int = 100,
        max_retries: int = 2,
        starting_position: str = "TRIM_HORIZON",
        on_failure_queue_url: str | None = None,
        report_batch_item_failures: bool = True,
        boto3_session: boto3.Session | None = None,
    ) -> None:
        if not 1 <= batch_size <= 1000:
            raise ValidationError(
                f"batch_size is {batch_size}; give 1 to 1000 (GetRecords returns at most 1,000 "
                "records per call; Lambda's mapping itself allows up to 10,000)"
            )
        if max_retries < 0:
            raise ValidationError(
                f"max_retries is {max_retries}; give 0 or more. (Lambda's -1, retry until the "
                "record expires, has no offline equivalent: a poison record would block the shard)"
            )
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValidationError(
                f"starting_position is {starting_position!r}; give 'TRIM_HORIZON' or 'LATEST'"
            )
        self.handler = handler
        self.report_batch_item_failures = report_batch_item_failures
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.on_failure_queue_url = on_failure_queue_url
        self._session = boto3_session
        self._streams = _aws.client("dynamodbstreams", boto3_session)
        table = _aws.client("dynamodb", boto3_session).describe_table(TableName=table_name)["Table"]
        if "LatestStreamArn" not in table:
            raise ValidationError(
                f"table {table_name} has no stream: create it with a stream enabled"
            )
        self.stream_arn: str = table["LatestStreamArn"]
        self.region = self.stream_arn.split(":")[3]
        self._account = self.stream_arn.split(":")[4]
        self._starting_position = starting_position
        self._checkpoints: dict[str, str | None] = {}  # shard -> last completed sequence number

    def run(self, *, time_budget_s: float = 30.0) -> StreamRunSummary:
        """Process what the stream holds now, until every shard is drained or time is up.

        Whatever stops it early (Ctrl-C, a failed AWS call) is raised with ``.summary``, the
        work done so far; the next ``run`` starts after the last completed record.
        """
        summary = StreamRunSummary()
        deadline = time.monotonic() + time_budget_s
        first_run = not self._checkpoints
        try:
            for shard_id in self._shards_parents_first():
                if shard_id not in self._checkpoints:
                    self._checkpoints[shard_id] = None
                    # Like a new event source mapping: LATEST skips what the shards hold when it
                    # is created; shards that appear later (after a rollover) are read from the
                    # start.
                    if first_run and self._starting_position == "LATEST":
                        while records := self._read(shard_id):
                            self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                while time.monotonic() < deadline:
                    records = self._read(shard_id)
                    if not records:
                        break
                    self._deliver(shard_id, records, summary, deadline)
        except BaseException as stop:
            # Ctrl-C, a failed call: what ran so far goes with the error; the stream keeps the
            # rest, and the next run starts at the last checkpoint.
            stop.summary = summary  # type: ignore[attr-defined]
            raise
        return summary

    def _shards_parents_first(self) -> list[str]:
        shards, kwargs = [], {"StreamArn": self.stream_arn}
        while True:
            page = self._streams.describe_stream(**kwargs)["StreamDescription"]
            shards += page["Shards"]
            if not page.get("LastEvaluatedShardId"):
                break
            kwargs["ExclusiveStartShardId"] = page["LastEvaluatedShardId"]
        parents = {s["ShardId"]: s.get("ParentShardId") for s in shards}

        def depth(shard_id: str | None) -> int:
            return 0 if shard_id not in parents else 1 + depth(parents[shard_id])

        return sorted(parents, key=depth)

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        """The next records after the checkpoint; follows a few empty pages, as GetRecords may
        return some before it reaches records."""
        after = self._checkpoints[shard_id]
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = self._streams.get_shard_iterator(**kwargs)["ShardIterator"]
        for _ in range(_EMPTY_PAGES_FOLLOWED):
            response = self._streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            if response["Records"] or not response.get("NextShardIterator"):
                return [self._lambda_record(record) for record in response["Records"]]
            iterator = response["NextShardIterator"]
        return []

    def _deliver(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        summary: StreamRunSummary,
        deadline: float,
    ) -> None:
        for attempt in range(self.max_retries + 1):
            summary.batches += 1
            summary.retried_batches += attempt > 0
            failed_at = self._invoke(records, deadline)
            done = records if failed_at is None else records[:failed_at]
            summary.records += len(done)
            if done:
                self._checkpoints[shard_id] = done[-1]["dynamodb"]["SequenceNumber"]
            if failed_at is None:
                return
            records = records[failed_at:]
        self._send_to_failure_queue(shard_id, records)  # first: if it fails, nothing moves on
        summary.dead_lettered.extend(records)
        self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]

    def _invoke(self, records: list[dict[str, Any]], deadline: float) -> int | None:
        """Call the handler; return the index of the first record to retry, or None."""
        try:
            context = LocalContext(deadline, region=self.region, account=self._account)
            # Lambda serialises the batch: the handler gets a copy, never the runner's records
            response = self.handler({"Records": copy.deepcopy(records)}, context)
        except Exception:  # a raising handler fails the whole batch, as on Lambda
            _logger.exception("stream handler raised; the whole batch will be retried")
            return 0
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        failed = reported_failures(
            response, sequences, report_batch_item_failures=self.report_batch_item_failures
        )
        if failed is None:
            return 0
        return sequences.index(failed[0]) if failed else None

    def _send_to_failure_queue(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Send the invocation record Lambda sends to an on-failure destination."""
        if self.on_failure_queue_url is None:
            return
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        invocation = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": LocalContext(
                    0, region=self.region, account=self._account
                ).invoked_function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": self.max_retries + 1,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            },
        }
        sqs = _aws.client("sqs", self._session)
        sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(invocation))

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as Lambda delivers it (moto's awsRegion and eventVersion differ)."""
        stream = {key: _base64_binaries(value) for key, value in record["dynamodb"].items()}
        created = stream.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            stream["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": stream,
            "eventSourceARN": self.stream_arn,
        }


_EMPTY_PAGES_FOLLOWED = 5


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _base64_binaries(value: Any) -> Any:
    """boto3 gives DynamoDB binaries (B, BS) as bytes; Lambda's event carries them base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: _base64_binaries(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_base64_binaries(item) for item in value]
    return value


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; events carry JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
