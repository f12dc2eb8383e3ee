"""Producers' machinery: a local DynamoDB Streams event source mapping, and the Sales sample.

Where each part lives:

- here, what any producer can use: ``StreamRunner`` plays the part of Lambda's DynamoDB event
  source mapping offline, where no Lambda runs. It polls a table's stream and calls a handler
  with the exact event Lambda would build, honouring partial batch responses
  (``batchItemFailures``) and retries; ``StreamRunSummary`` says what one run did, in the shape
  of ``meshkit.consumers.RunSummary``;
- in ``meshkit.sales``, the Sales sample domain: its table (``create_sales_table``,
  ``delete_sales_table``), the article's producer ``lambda_handler``, and the change data capture
  handler ``stream_handler`` (with ``sale_event_from_record``). They are re-exported here, so
  ``mk.producers.lambda_handler`` and the handler path ``meshkit.producers.lambda_handler`` that a
  Lambda function is configured with keep working.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from . import _aws
from ._lambda import LocalContext, batch_response_problem, reported_failures
from ._shared import error_code
from .exceptions import NotFoundError, ValidationError
from .sales import (
    SALES_SOURCE,
    create_sales_table,
    delete_sales_table,
    lambda_handler,
    sale_event_from_record,
    stream_handler,
)

__all__ = [
    "SALES_SOURCE",
    "StreamNotFoundError",
    "StreamRunSummary",
    "StreamRunner",
    "create_sales_table",
    "delete_sales_table",
    "lambda_handler",
    "sale_event_from_record",
    "stream_handler",
]

_logger = logging.getLogger(__name__)


class StreamNotFoundError(NotFoundError):
    """``StreamRunner`` has no stream to read: the table or stream does not exist, or the table
    has no stream."""


@dataclass
class StreamRunSummary:
    """What one ``StreamRunner.run`` did, in the shape of ``meshkit.consumers.RunSummary``.

    Attributes
    ----------
    processed : int
        Records the handler completed (not reported as failed); the runner moved past them.
    failed : int
        Failed deliveries of records: the records of an invocation that raised, from the first
        one its ``batchItemFailures`` named, or of a malformed partial batch response. Each is
        retried; a record that failed twice counts twice.
    dead_lettered : int
        Records given up on after ``max_retries`` retries (see ``failures``).
    batches : int
        Handler invocations, retries included.
    stopped : str
        Why ``run`` returned: ``"caught up"`` (every shard read to its end), ``"time budget"``,
        or ``"interrupted"`` (on the ``.summary`` of the error that stopped it).
    retried_batches : int
        Invocations that repeated records after a failure. Shown in the repr only when not 0.
    failures : list of dict
        One entry per record given up on: ``shard_id``, ``sequence_number``, ``event_name``,
        ``keys`` (the item's key), ``attempts``, ``error`` (of the last attempt) and ``record``,
        the record itself as the handler received it. Lambda's on-failure destination gets the
        batch's shard and sequence range; here the records are kept too, so nothing is lost.
    elapsed_s : float

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.producers.StreamRunSummary(processed=4, batches=1, stopped="caught up")
    StreamRunSummary(processed=4, failed=0, dead_lettered=0, batches=1, stopped='caught up')
    """

    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    stopped: str = ""
    retried_batches: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list, repr=False)
    elapsed_s: float = field(default=0.0, repr=False)

    def __repr__(self) -> str:
        retried = f", retried_batches={self.retried_batches}" if self.retried_batches else ""
        return (
            f"StreamRunSummary(processed={self.processed}, failed={self.failed}, "
            f"dead_lettered={self.dead_lettered}, batches={self.batches}{retried}, "
            f"stopped={self.stopped!r})"
        )

    def failures_frame(self) -> pd.DataFrame:
        """``failures`` as a DataFrame, one row per record given up on.

        Returns
        -------
        pandas.DataFrame
            Columns ``shard_id``, ``sequence_number``, ``event_name``, ``keys``, ``attempts``,
            ``error``; the records themselves stay in ``failures``.

        Examples
        --------
        >>> import boto3, meshkit as mk
        >>> arn = mk.sales.create_sales_table(name="FailuresExample")
        >>> item = {"sale_id": {"S": "S-1"}}
        >>> _ = boto3.client("dynamodb").put_item(TableName="FailuresExample", Item=item)
        >>> def reject(event, context):
        ...     raise ValueError("not today")
        >>> summary = mk.producers.StreamRunner(reject, arn, max_retries=1).run()
        >>> summary.failures_frame()[["event_name", "attempts", "error"]]
          event_name  attempts                  error
        0     INSERT         2  ValueError: not today
        >>> mk.sales.delete_sales_table(name="FailuresExample")
        True
        """
        columns = ["shard_id", "sequence_number", "event_name", "keys", "attempts", "error"]
        return pd.DataFrame(self.failures, columns=columns)


class _Attempt(NamedTuple):
    """One invocation's outcome: the index of the first record to retry (None: all done)."""

    failed_at: int | None
    error: str


class ShardReader(Protocol):
    """What ``ShardRunner`` needs of a stream: its shards, and its records as Lambda delivers them.

    ``StreamRunner`` reads a DynamoDB stream through one; ``meshkit.analytics.KinesisRunner`` a
    Kinesis data stream.
    """

    stream_arn: str

    def shard_ids(self) -> list[str]:
        """The stream's shards, parents before children (``shards_parents_first``)."""

    def read(self, shard_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` records of a shard after sequence number ``after`` (None: from the
        shard's start), each as Lambda delivers it."""

    def sequence_number(self, record: dict[str, Any]) -> str:
        """A delivered record's sequence number (its ``itemIdentifier`` in batchItemFailures)."""

    def failure(self, record: dict[str, Any]) -> dict[str, Any]:
        """What ``StreamRunSummary.failures`` says of a record given up on: ``event_name`` and
        ``keys``."""

    def batch_info(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The part of Lambda's on-failure destination record that names the records given up
        on, e.g. ``{"DDBStreamBatchInfo": {...}}``."""


class ShardRunner:
    """Lambda's event source mapping for a stream, played offline: what ``StreamRunner``
    (DynamoDB Streams) and ``meshkit.analytics.KinesisRunner`` (Kinesis) share.

    Shards are read parents first, each in order, in batches of up to ``batch_size``; a handler
    that raises fails the whole batch; a ``batchItemFailures`` response makes the next attempt
    start at the lowest failed sequence number; after ``max_retries`` retries the rest of the
    batch is given up on (``StreamRunSummary.failures``, and the on-failure queue) and the shard's
    checkpoint moves past it. ``open_stream`` is called once the settings are checked, so that a
    bad setting is refused before any call to AWS.
    """

    #: GetRecords' limit on one call, and what to say of it when ``batch_size`` exceeds it.
    MAX_BATCH_SIZE = 1000
    BATCH_SIZE_LIMIT = (
        "GetRecords returns at most 1,000 records per call; Lambda's mapping itself allows up "
        "to 10,000"
    )

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        open_stream: Callable[[], ShardReader],
        *,
        batch_size: int,
        max_retries: int,
        starting_position: str,
        on_failure_queue_url: str | None,
        report_batch_item_failures: bool,
        boto3_session: boto3.Session | None,
    ) -> None:
        if not 1 <= batch_size <= self.MAX_BATCH_SIZE:
            raise ValidationError(
                f"batch_size is {batch_size}; give 1 to {self.MAX_BATCH_SIZE} "
                f"({self.BATCH_SIZE_LIMIT})"
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
        self._stream = open_stream()
        self.stream_arn: str = self._stream.stream_arn
        self.region = self.stream_arn.split(":")[3]
        self._account = self.stream_arn.split(":")[4]
        self._starting_position = starting_position
        self._checkpoints: dict[str, str | None] = {}  # shard -> last completed sequence number

    def run(self, *, time_budget_s: float = 30.0) -> StreamRunSummary:
        """Process what the stream holds now, until every shard is read to its end or time is up.

        Whatever stops it early (Ctrl-C, a failed AWS call) is raised with ``.summary``, the
        work done so far (``stopped == "interrupted"``); the next ``run`` starts after the last
        completed record.

        Parameters
        ----------
        time_budget_s : float, default 30.0
            Stop reading new batches after this many seconds (``stopped == "time budget"``);
            handlers see it as the function's remaining time.

        Returns
        -------
        StreamRunSummary

        Examples
        --------
        >>> import boto3, meshkit as mk
        >>> arn = mk.sales.create_sales_table(name="StreamRunExample")
        >>> item = {"sale_id": {"S": "S-1"}}
        >>> _ = boto3.client("dynamodb").put_item(TableName="StreamRunExample", Item=item)
        >>> runner = mk.producers.StreamRunner(lambda event, context: None, arn)
        >>> runner.run()
        StreamRunSummary(processed=1, failed=0, dead_lettered=0, batches=1, stopped='caught up')
        >>> runner.run()  # it keeps its place in the stream
        StreamRunSummary(processed=0, failed=0, dead_lettered=0, batches=0, stopped='caught up')
        >>> mk.sales.delete_sales_table(name="StreamRunExample")
        True
        """
        summary = StreamRunSummary()
        started = time.monotonic()
        deadline = started + time_budget_s
        first_run = not self._checkpoints
        try:
            for shard_id in self._stream.shard_ids():
                if shard_id not in self._checkpoints:
                    self._checkpoints[shard_id] = None
                    # Like a new event source mapping: LATEST skips what the shards hold when it
                    # is created; shards that appear later (after a rollover) are read from the
                    # start.
                    if first_run and self._starting_position == "LATEST":
                        while records := self._read(shard_id):
                            self._checkpoints[shard_id] = self._position(records[-1])
                while time.monotonic() < deadline:
                    records = self._read(shard_id)
                    if not records:
                        break
                    self._deliver(shard_id, records, summary, deadline)
                else:
                    summary.stopped = "time budget"
                    break
        except BaseException as stop:
            # Ctrl-C, a failed call: what ran so far goes with the error; the stream keeps the
            # rest, and the next run starts at the last checkpoint.
            summary.stopped = "interrupted"
            summary.elapsed_s = time.monotonic() - started
            stop.summary = summary  # type: ignore[attr-defined]
            raise
        summary.stopped = summary.stopped or "caught up"
        summary.elapsed_s = time.monotonic() - started
        return summary

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        return self._stream.read(shard_id, self._checkpoints[shard_id], self.batch_size)

    def _position(self, record: dict[str, Any]) -> str:
        return self._stream.sequence_number(record)

    def _deliver(
        self,
        shard_id: str,
        records: list[dict[str, Any]],
        summary: StreamRunSummary,
        deadline: float,
    ) -> None:
        error = ""
        for attempt in range(self.max_retries + 1):
            summary.batches += 1
            summary.retried_batches += attempt > 0
            failed_at, error = self._invoke(records, deadline)
            done = records if failed_at is None else records[:failed_at]
            summary.processed += len(done)
            summary.failed += len(records) - len(done)
            if done:
                self._checkpoints[shard_id] = self._position(done[-1])
            if failed_at is None:
                return
            records = records[failed_at:]
        self._send_to_failure_queue(shard_id, records)  # first: if it fails, nothing moves on
        summary.dead_lettered += len(records)
        summary.failures.extend(
            {
                "shard_id": shard_id,
                "sequence_number": self._position(record),
                **self._stream.failure(record),
                "attempts": self.max_retries + 1,  # each retry started at or before this record
                "error": error,
                "record": record,
            }
            for record in records
        )
        self._checkpoints[shard_id] = self._position(records[-1])

    def _invoke(self, records: list[dict[str, Any]], deadline: float) -> _Attempt:
        """Call the handler; say where to retry from (None: nothing to retry), and why."""
        try:
            context = LocalContext(deadline, region=self.region, account=self._account)
            # Lambda serialises the batch: the handler gets a copy, never the runner's records
            response = self.handler({"Records": copy.deepcopy(records)}, context)
        except Exception as err:  # a raising handler fails the whole batch, as on Lambda
            _logger.exception("stream handler raised; the whole batch will be retried")
            return _Attempt(0, f"{type(err).__name__}: {err}")
        sequences = [self._position(record) for record in records]
        failed = reported_failures(
            response, sequences, report_batch_item_failures=self.report_batch_item_failures
        )
        if failed is None:
            problem = batch_response_problem(response, sequences)
            return _Attempt(0, f"the partial batch response fails the whole batch: {problem}")
        if failed:
            return _Attempt(sequences.index(failed[0]), "reported in batchItemFailures")
        return _Attempt(None, "")

    def _send_to_failure_queue(self, shard_id: str, records: list[dict[str, Any]]) -> None:
        """Send the invocation record Lambda sends to an on-failure destination."""
        if self.on_failure_queue_url is None:
            return
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
            **self._stream.batch_info(shard_id, records),
        }
        sqs = _aws.client("sqs", self._session)
        sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(invocation))


class StreamRunner(ShardRunner):
    """Poll a DynamoDB stream and call a Lambda handler as Lambda's event source mapping would.

    It keeps its place in each shard between runs, so running it again processes only new
    changes. Per Lambda's contract: records arrive in order, in batches of up to ``batch_size``; a
    handler that raises fails the whole batch; a ``batchItemFailures`` response makes the next
    attempt start at the lowest failed sequence number; after ``max_retries`` retries the rest of
    the batch is given up on (``StreamRunSummary.failures``, and ``on_failure_queue_url``) and
    polling moves on.

    Parameters
    ----------
    handler : callable
        ``handler(event, context)``, e.g. ``mk.sales.stream_handler``.
    stream : str
        The stream to read: the name or ARN of its table (which reads the table's latest stream,
        ``LatestStreamArn``), or the stream's ARN (what an event source mapping's
        ``EventSourceArn`` names).
    batch_size : int, default 100
    max_retries : int, default 2
    starting_position : {"TRIM_HORIZON", "LATEST"}, default "TRIM_HORIZON"
    on_failure_queue_url : str, optional
        An SQS queue that receives, for each batch given up on, the invocation record Lambda
        sends to an on-failure destination (``DDBStreamBatchInfo``: shard and sequence range,
        not the records; those are in ``StreamRunSummary.failures``).
    report_batch_item_failures : bool, default True
        As the mapping's ``FunctionResponseTypes=["ReportBatchItemFailures"]``. Without it,
        Lambda ignores ``batchItemFailures`` and counts the batch as done: records are lost.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a ``batch_size``, ``max_retries`` or ``starting_position`` Lambda would refuse.
    meshkit.producers.StreamNotFoundError
        When the table or stream does not exist, or the table has no stream.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.sales.create_sales_table(name="StreamRunnerExample")
    >>> runner = mk.producers.StreamRunner(lambda event, context: None, arn)
    >>> runner.stream_arn  # doctest: +ELLIPSIS
    'arn:aws:dynamodb:us-west-2:123456789012:table/StreamRunnerExample/stream/...'
    >>> mk.sales.delete_sales_table(name="StreamRunnerExample")
    True
    """

    def __init__(
        self,
        handler: Callable[[dict[str, Any], Any], Any],
        stream: str,
        *,
        batch_size: int = 100,
        max_retries: int = 2,
        starting_position: str = "TRIM_HORIZON",
        on_failure_queue_url: str | None = None,
        report_batch_item_failures: bool = True,
        boto3_session: boto3.Session | None = None,
    ) -> None:
        super().__init__(
            handler,
            lambda: _DynamoDBStream(stream, boto3_session),
            batch_size=batch_size,
            max_retries=max_retries,
            starting_position=starting_position,
            on_failure_queue_url=on_failure_queue_url,
            report_batch_item_failures=report_batch_item_failures,
            boto3_session=boto3_session,
        )


class _DynamoDBStream:
    """A table's DynamoDB stream, as ``ShardRunner`` reads it (a ``ShardReader``)."""

    def __init__(self, stream: str, boto3_session: boto3.Session | None) -> None:
        self._client = _aws.client("dynamodbstreams", boto3_session)
        self.stream_arn = _stream_arn(stream, boto3_session)
        self._region = self.stream_arn.split(":")[3]

    def shard_ids(self) -> list[str]:
        shards, kwargs = [], {"StreamArn": self.stream_arn}
        while True:
            page = self._client.describe_stream(**kwargs)["StreamDescription"]
            shards += page["Shards"]
            if not page.get("LastEvaluatedShardId"):
                break
            kwargs["ExclusiveStartShardId"] = page["LastEvaluatedShardId"]
        return shards_parents_first(shards)

    def read(self, shard_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = self._client.get_shard_iterator(**kwargs)["ShardIterator"]
        records = first_records(self._client, iterator, limit)
        return [self._lambda_record(record) for record in records]

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    def failure(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"event_name": record["eventName"], "keys": record["dynamodb"].get("Keys", {})}

    def batch_info(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        return {
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
            "awsRegion": self._region,
            "dynamodb": stream,
            "eventSourceARN": self.stream_arn,
        }


def shards_parents_first(shards: list[dict[str, Any]]) -> list[str]:
    """The ids of a stream's shards (DescribeStream's ``Shards``), each after its parent: Lambda
    reads a parent shard to its end before its children, so that a key's records stay in order
    across a split or merge."""
    parents = {s["ShardId"]: s.get("ParentShardId") for s in shards}

    def depth(shard_id: str | None) -> int:
        return 0 if shard_id not in parents else 1 + depth(parents[shard_id])

    return sorted(parents, key=depth)


def first_records(client: Any, iterator: str, limit: int) -> list[dict[str, Any]]:
    """The first records from a shard iterator (DynamoDB Streams or Kinesis GetRecords); follows
    a few empty pages, as GetRecords may return some before it reaches records."""
    for _ in range(_EMPTY_PAGES_FOLLOWED):
        response = client.get_records(ShardIterator=iterator, Limit=limit)
        if response["Records"] or not response.get("NextShardIterator"):
            return list(response["Records"])
        iterator = response["NextShardIterator"]
    return []


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


def _stream_arn(stream: str, boto3_session: boto3.Session | None) -> str:
    """The ARN of the stream ``stream`` names: itself, or the latest stream of a table."""
    if stream.startswith("arn:") and "/stream/" in stream:
        try:
            _aws.client("dynamodbstreams", boto3_session).describe_stream(StreamArn=stream, Limit=1)
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            raise StreamNotFoundError(
                f"stream {stream} does not exist (a deleted table's stream stays readable for 24 "
                "hours): pass the table's name or ARN to read its latest stream"
            ) from err
        return stream
    try:
        table = _aws.client("dynamodb", boto3_session).describe_table(TableName=stream)["Table"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        raise StreamNotFoundError(
            f"table {stream} does not exist: create it (mk.sales.create_sales_table() for the "
            "Sales table), or pass the name or ARN of a table, or a stream ARN"
        ) from err
    if "LatestStreamArn" not in table:
        raise StreamNotFoundError(
            f"table {stream} has no stream: enable one with update_table(StreamSpecification="
            "{'StreamEnabled': True, 'StreamViewType': 'NEW_AND_OLD_IMAGES'})"
        )
    return str(table["LatestStreamArn"])
