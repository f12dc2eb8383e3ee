"""Consumers: handlers for a domain's subscription queue, and a local event source mapping.

On AWS, a Lambda function reads the consuming domain's queue through an *event source mapping*:
Lambda long-polls the queue, invokes the function with a batch of messages in the SQS event
shape, deletes the messages the function processed, and leaves the others to be received again
after the queue's visibility timeout, until SQS moves them to the dead-letter queue.

Offline no Lambda runs, so ``run`` plays the mapping's part with the same contract, and the same
handler code runs unchanged in both places:

- ``lambda_handler``: the article's consumer, made correct for the message EventBridge sends;
- ``idempotent_batch_handler``: a production handler built with Powertools for AWS Lambda
  (partial batch responses, idempotency on the producer's key stored in DynamoDB);
- ``peek`` and ``redrive``: look into a dead-letter queue, and send its messages back.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from . import _aws
from ._lambda import (
    Invocation,
    LocalContext,
    batch_response_problem,
    ensure_target,
    reported_failures,
    timed_out,
)
from ._shared import ADOPTED_TAG, WORKBOOK_TAG, domain_tags, error_code
from .buses import domain_key
from .exceptions import (
    ConflictError,
    MeshkitError,
    NotFoundError,
    NotMeshkitResourceError,
    ValidationError,
)
from .subscriptions import queue_depths, queue_url_of

if TYPE_CHECKING:  # an annotation only; idempotent_batch_handler imports Powertools itself
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

__all__ = [
    "EventSourceMappingError",
    "IdempotencyTableError",
    "QueueNotFoundError",
    "RedriveTargetError",
    "RunError",
    "RunInterrupted",
    "RunSummary",
    "create_idempotency_table",
    "idempotent_batch_handler",
    "lambda_handler",
    "peek",
    "redrive",
    "run",
    "sale_from_record",
]

_logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

# ReceiveMessage returns at most 10 messages; Lambda's mapping gathers up to 10,000 per batch
# from standard queues when a batching window is set, within a 6 MB invocation payload.
_RECEIVE_MAX = 10
_BATCH_MAX = 10_000
_WINDOW_MAX_S = 300
_PAYLOAD_MAX = 6 * 1024 * 1024
_WAIT_MAX_S = 20  # ReceiveMessage's WaitTimeSeconds
_FUNCTION_TIMEOUT_MAX_S = 900  # a Lambda function's Timeout: 1 to 900 seconds
# DynamoDB's TableName: 3 to 255 letters, digits, '_', '-' and '.'.
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
# Powertools' DynamoDBPersistenceLayer defaults: partition key "id" (a string), TTL "expiration".
_TABLE_KEY = {"id": ("HASH", "S")}
_TABLE_TTL = "expiration"
# SendMessageBatch: the classic 256 KiB for the whole request, which every queue accepts.
_SEND_BATCH_BYTES = 256 * 1024
_TIMELINE_INTERVAL_S = 0.1  # between background samples of a recorded timeline
_SNAPSHOT_TRIES = 3  # reads of a queue and its DLQ until they agree (messages move meanwhile)
_TIMELINE_COLUMNS = [
    "seconds",
    "moment",
    "batches",
    "waiting",
    "in_flight",
    "dead_letters",
    "processed",
    "failed",
]
# SQS attributes Lambda copies into each record's "attributes".
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


# -- errors -------------------------------------------------------------------------------------


class QueueNotFoundError(NotFoundError):
    """The queue ``run`` was given does not exist (in this account and region)."""


class EventSourceMappingError(ConflictError):
    """The queue and the function's settings are ones Lambda's ``CreateEventSourceMapping``
    refuses (the queue's visibility timeout below the function's timeout)."""


class RunError(MeshkitError):
    """An SQS call failed mid-run (a lost connection, a refused call).

    ``summary`` is the ``RunSummary`` so far (``stopped == "interrupted"``). Nothing is lost:
    the messages the run did not delete stay in the queue and come back after their visibility
    timeout; run again once SQS answers.
    """

    def __init__(self, message: str, *, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary


class RunInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt (Ctrl-C, or a notebook's "interrupt kernel") stopped ``run``.

    ``summary`` is the ``RunSummary`` so far (``stopped == "interrupted"``). It stays a
    KeyboardInterrupt, not a ``MeshkitError``, so that an ``except Exception`` does not swallow
    the user's request to stop. Nothing is lost: the messages the run did not delete stay in
    the queue. A handler call that was running goes on in the background (Python cannot stop a
    thread); its messages are not deleted, and a later ``run`` of the queue in this process
    waits for it to end.
    """

    def __init__(self, message: str, *, summary: RunSummary) -> None:
        super().__init__(message)
        self.summary = summary


class IdempotencyTableError(ConflictError):
    """A table of that name exists with a key schema or time to live that Powertools'
    idempotency records cannot use."""


class RedriveTargetError(MeshkitError):
    """``redrive`` cannot tell which queue the messages go back to: not one queue uses the DLQ as
    its dead-letter queue. Pass ``to=``."""


# -- handlers -----------------------------------------------------------------------------------


def sale_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The sale inside one SQS record of a Sales event: ``body`` -> EventBridge event -> data.

    The body EventBridge puts on the queue is the whole event (``id``, ``source``,
    ``detail-type``, ``detail``, ...), not the detail alone, and meshkit's detail is the
    envelope ``{"metadata": ..., "data": ...}``.

    Examples
    --------
    >>> import json
    >>> import meshkit as mk
    >>> body = {"detail": {"metadata": {"idempotency_key": "k-1"}, "data": {"sale_id": "S-1"}}}
    >>> mk.consumers.sale_from_record({"body": json.dumps(body)})
    {'sale_id': 'S-1'}
    """
    event = json.loads(record["body"])
    detail = event["detail"]
    return dict(detail["data"]) if "data" in detail and "metadata" in detail else dict(detail)


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The article's consumer, reading the sale where EventBridge actually puts it.

    The article reads ``sale_id`` straight from ``json.loads(record["body"])``, which is the
    EventBridge event, so it fails with ``KeyError: 'sale_id'``. This version reads
    ``body -> detail -> data``. Any error fails the whole batch (every message is retried); see
    ``idempotent_batch_handler`` for a handler that reports only the failed messages.

    Examples
    --------
    >>> import json
    >>> import meshkit as mk
    >>> body = {"detail": {"metadata": {}, "data": {"sale_id": "S-1", "amount": 12.5}}}
    >>> mk.consumers.lambda_handler({"Records": [{"body": json.dumps(body)}]}, None)
    {'statusCode': 200, 'body': '"Event processed successfully"'}

    ``mk.consumers.run(mk.consumers.lambda_handler, sub.queue_url)`` feeds it a queue's messages.
    """
    for record in event["Records"]:
        sale = sale_from_record(record)
        _logger.info("Processing sale: %s with amount: %s", sale["sale_id"], sale["amount"])
    # The SQS event source mapping ignores the return value (unless it holds batchItemFailures).
    return {"statusCode": 200, "body": json.dumps("Event processed successfully")}


def create_idempotency_table(
    name: str,
    *,
    domain: str | None = None,
    adopt: bool = False,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create the DynamoDB table Powertools' idempotency utility keeps its records in.

    Idempotent. Keyed by ``id`` (string), with time to live on ``expiration`` so DynamoDB deletes
    records once they expire. A table of that name that meshkit did not create is refused unless
    ``adopt=True``; one whose key schema or time to live Powertools cannot use is refused always.

    Parameters
    ----------
    name : str
        The table's name: 3 to 255 letters, digits, ``_``, ``-`` or ``.``.
    domain : str, optional
        The owning domain, stored in the table's tags (``meshkit:domain``).
    adopt : bool, default False
        Take over an existing table without meshkit's tag: tag it as meshkit's (marked
        ``meshkit:adopted``) and turn on its time to live; both are logged.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The table's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad name, domain or ``adopt``; nothing was sent.
    meshkit.exceptions.NotMeshkitResourceError
        When the table exists without meshkit's tag and ``adopt`` is False; it is left as it is.
    IdempotencyTableError
        When the table exists with another key schema, or time to live on another attribute.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.consumers.create_idempotency_table("doctest-idempotency", domain="doctest")
    'arn:aws:dynamodb:us-west-2:123456789012:table/doctest-idempotency'
    >>> dynamodb = mk.sandbox.current().session().client("dynamodb")
    >>> _ = dynamodb.delete_table(TableName="doctest-idempotency")
    """
    if not isinstance(name, str) or not _TABLE_NAME.fullmatch(name):
        raise ValidationError(
            f"name {name!r} is not a DynamoDB table name: give 3 to 255 letters, digits, '_', "
            "'-' or '.', e.g. 'marketing-idempotency'"
        )
    key = domain_key(domain) if domain is not None else None
    if not isinstance(adopt, bool):
        raise ValidationError(f"adopt must be True or False, not {adopt!r}")
    dynamodb = _aws.client("dynamodb", boto3_session)
    tags = domain_tags(key) if key else [{"Key": WORKBOOK_TAG, "Value": "true"}]
    try:
        arn = dynamodb.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": attribute, "KeyType": kind}
                for attribute, (kind, _) in _TABLE_KEY.items()
            ],
            AttributeDefinitions=[
                {"AttributeName": attribute, "AttributeType": kind}
                for attribute, (_, kind) in _TABLE_KEY.items()
            ],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )["TableDescription"]["TableArn"]
        created = True
        _logger.info("created the idempotency table %s", arn)
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        arn, created = _adopt_idempotency_table(dynamodb, name, tags, adopt=adopt), False
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):  # also when a first try failed
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": _TABLE_TTL},
        )
        if not created:
            _logger.info("turned on time to live (%r) of the existing table %s", _TABLE_TTL, arn)
    return str(arn)


def _adopt_idempotency_table(
    dynamodb: Any, name: str, tags: list[dict[str, str]], *, adopt: bool
) -> str:
    """Check an existing table of that name before using it; tag it when adopting. Its ARN."""
    table = dynamodb.describe_table(TableName=name)["Table"]
    arn = str(table["TableArn"])
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    found = {
        k["AttributeName"]: (k["KeyType"], types.get(k["AttributeName"], "?"))
        for k in table["KeySchema"]
    }
    problems = []
    if found != _TABLE_KEY:
        problems.append(f"its key is {_key_text(found)}, Powertools needs {_key_text(_TABLE_KEY)}")
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if (
        ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        and ttl.get("AttributeName") != _TABLE_TTL
    ):
        problems.append(
            f"its time to live is on {ttl.get('AttributeName')!r}, Powertools writes the expiry "
            f"to {_TABLE_TTL!r} (records would never expire)"
        )
    existing = {
        t["Key"]: t["Value"]
        for t in dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
    }
    ours = existing.get(WORKBOOK_TAG) == "true"
    if problems:
        raise IdempotencyTableError(
            f"table {name} exists but {'; '.join(problems)}: choose another name, or delete the "
            "table if it is yours" + ("" if ours else " (meshkit did not create it)")
        )
    if not ours and not adopt:
        raise NotMeshkitResourceError(
            f"table {name} already exists but meshkit did not create it (it has no "
            f"{WORKBOOK_TAG} tag): pass adopt=True to use it for idempotency records (meshkit "
            "then tags it and turns on its time to live), or choose another name"
        )
    if not ours:
        dynamodb.tag_resource(ResourceArn=arn, Tags=[*tags, {"Key": ADOPTED_TAG, "Value": "true"}])
        _logger.info(
            "adopted the existing table %s: tagged it %s and %s", arn, WORKBOOK_TAG, ADOPTED_TAG
        )
    return arn


def _key_text(key: Mapping[str, tuple[str, str]]) -> str:
    """``{"id": ("HASH", "S")}`` -> ``id (HASH, S)``."""
    return ", ".join(f"{name} ({kind}, {type_})" for name, (kind, type_) in key.items()) or "none"


def idempotent_batch_handler(
    process: Callable[[dict[str, Any]], Any],
    *,
    table_name: str,
    name: str | None = None,
    expires_after_s: int = 3600,
    boto3_session: boto3.Session | None = None,
) -> Handler:
    """A production SQS handler, built with Powertools for AWS Lambda, around ``process``.

    ``process(event)`` receives one EventBridge event (the parsed message body) and does the
    consumer's work. The handler returned:

    - processes each record on its own and answers with a partial batch response, so one bad
      message is retried alone instead of with its whole batch (Powertools' ``BatchProcessor``;
      enable ``ReportBatchItemFailures`` on the event source mapping);
    - runs ``process`` at most once per producer's idempotency key
      (``detail.metadata.idempotency_key``) within ``expires_after_s``, recording it in the
      DynamoDB table ``table_name`` (Powertools' idempotency utility). Not on the event's ``id``:
      when a producer retries a ``PutEvents``, EventBridge gives the same fact a new ``id``, and
      SQS a new ``messageId``. A message without a key fails (and ends in the DLQ) rather than
      being processed without protection.

    Parameters
    ----------
    process : callable
        ``process(event: dict) -> Any``; its result is stored with the idempotency record and
        must be JSON-serialisable.
    table_name : str
        The idempotency table (see ``create_idempotency_table``).
    name : str, optional
        The consumer's name in the idempotency keys; default ``process``'s module and name
        (required for a lambda). Consumers sharing a table need different names, or one would
        skip the other's events.
    expires_after_s : int, default 3600
        How long a key is remembered. Longer than the longest redelivery you expect (the queue's
        retention period, to be safe).
    boto3_session : boto3.Session, optional

    Examples
    --------
    >>> import meshkit as mk
    >>> def award_points(event):
    ...     return {"points": int(event["detail"]["data"]["amount"])}
    >>> handler = mk.consumers.idempotent_batch_handler(
    ...     award_points, table_name="doctest-idempotency"
    ... )
    >>> handler.__name__
    'award_points_handler'
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    if not callable(process):
        raise ValidationError(
            f"process must be a function process(event), not {type(process).__name__}: pass "
            "the function itself, not its name or its result"
        )
    if not isinstance(table_name, str) or not _TABLE_NAME.fullmatch(table_name):
        raise ValidationError(
            f"table_name {table_name!r} is not a DynamoDB table name: give the name passed to "
            "create_idempotency_table, e.g. 'marketing-idempotency'"
        )
    if isinstance(expires_after_s, bool) or not isinstance(expires_after_s, int):
        raise ValidationError(
            f"expires_after_s must be a whole number of seconds, not {expires_after_s!r}"
        )
    if expires_after_s < 1:
        raise ValidationError(
            f"expires_after_s is {expires_after_s}; give 1 or more seconds, longer than the "
            "longest redelivery you expect (e.g. 3600)"
        )
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValidationError(
            f"name {name!r} must be a non-empty string naming the consumer, e.g. "
            "'marketing-award-points'"
        )
    if name is None:
        qualname = getattr(process, "__qualname__", "")
        if not qualname or "<lambda>" in qualname:
            raise ValidationError(
                "name= is required for a lambda (or any unnamed callable): idempotency records "
                "are keyed by the consumer's name, and two unnamed consumers sharing a table "
                "would skip each other's events; e.g. name='marketing-award-points'"
            )
        name = f"{process.__module__}.{qualname}"
    ensure_target()  # built at import in a Lambda function: the environment says where AWS is
    config = IdempotencyConfig(
        event_key_jmespath="detail.metadata.idempotency_key",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_s,
    )
    store = DynamoDBPersistenceLayer(
        table_name=table_name, boto3_client=_aws.client("dynamodb", boto3_session)
    )
    once = idempotent_function(
        lambda event: process(event),
        data_keyword_argument="event",
        persistence_store=store,
        config=config,
        key_prefix=name,
    )
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: Any) -> Any:
        return once(event=json.loads(record.body))

    def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    handler.__name__ = f"{name.rsplit('.', 1)[-1]}_handler"
    return handler


# -- the local event source mapping -------------------------------------------------------------


@dataclass
class RunSummary:
    """What one ``run`` did.

    Attributes
    ----------
    processed : int
        Messages the handler completed; they were deleted from the queue.
    failed : int
        Failed deliveries (a message that failed twice counts twice).
    dead_lettered : int
        Messages whose last allowed receive failed. SQS moves each to the DLQ at the queue's next
        receive after its visibility timeout: a run that stops on ``"drained"`` has seen that
        happen; after another stop, the move waits for the next run (or any receive).
    batches : int
        Handler invocations.
    stopped : str
        ``"drained"``, ``"time budget"``, ``"max_messages"``, ``"max_batches"``, or
        ``"interrupted"`` (on the ``RunError``'s summary).
    unfinished : int
        Messages handed to the handler whose outcome the run could not complete: the time budget
        ended during the call, or deleting them failed. They were not deleted, so they come
        back after their visibility timeout (or, after their last allowed receive, move to the
        DLQ). Shown in the repr only when not 0.
    failures : list of dict
        One entry per failed delivery: ``message_id``, ``receive_count``, ``dead_lettered``,
        ``error`` (a handler past its function timeout: ``"Task timed out after 3.00
        seconds"``, as Lambda says; a result Lambda cannot serialise: ``"Runtime.MarshalError:
        ..."``).
    elapsed_s : float
    timeline : list of dict
        With ``run(..., record_timeline=True)``: the queue's and the DLQ's depths, sampled at the
        start, after each receive of a batch, after each batch was handled, every 0.1 s in
        between, and at the end. See ``timeline_frame``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.consumers.RunSummary(processed=2, failed=1, batches=2, stopped="drained")
    RunSummary(processed=2, failed=1, dead_lettered=0, batches=2, stopped='drained')
    >>> mk.consumers.RunSummary(processed=1, batches=2, unfinished=3, stopped="time budget")
    ... # doctest: +NORMALIZE_WHITESPACE
    RunSummary(processed=1, failed=0, dead_lettered=0, batches=2, unfinished=3,
               stopped='time budget')
    """

    processed: int = 0
    failed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    stopped: str = ""
    unfinished: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list, repr=False)
    elapsed_s: float = field(default=0.0, repr=False)
    timeline: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def __repr__(self) -> str:
        unfinished = f", unfinished={self.unfinished}" if self.unfinished else ""
        return (
            f"RunSummary(processed={self.processed}, failed={self.failed}, "
            f"dead_lettered={self.dead_lettered}, batches={self.batches}{unfinished}, "
            f"stopped={self.stopped!r})"
        )

    def failures_frame(self) -> pd.DataFrame:
        """``failures`` as a DataFrame: message_id, receive_count, dead_lettered, error.

        Examples
        --------
        >>> import meshkit as mk
        >>> failure = {"message_id": "m-1", "receive_count": 3, "dead_lettered": True}
        >>> summary = mk.consumers.RunSummary(failures=[{**failure, "error": "KeyError: 'amount'"}])
        >>> summary.failures_frame()
          message_id  receive_count  dead_lettered               error
        0        m-1              3           True  KeyError: 'amount'
        """
        columns = ["message_id", "receive_count", "dead_lettered", "error"]
        return pd.DataFrame(self.failures, columns=columns)

    def timeline_frame(self) -> pd.DataFrame:
        """``timeline`` as a DataFrame, one row per sample, oldest first.

        Columns: ``seconds`` (since the run started), ``moment`` (``"start"``; ``"received"``:
        a batch was just received and is in flight; ``"handled"``: the handler returned and the
        successes were deleted; ``"sample"``: a sample in between; ``"end"``), ``batches``,
        ``waiting`` and ``in_flight`` (the queue), ``dead_letters`` (messages in the DLQ), and
        the run's ``processed`` and ``failed`` so far. Empty unless the run recorded a timeline.

        Examples
        --------
        >>> import meshkit as mk
        >>> arn = mk.buses.create_domain_bus("doctest")
        >>> sub = mk.subscriptions.subscribe(
        ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]}
        ... )
        >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"}
        >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", sale)
        >>> result = mk.events.publish("DoctestEventBus", [event])
        >>> summary = mk.consumers.run(
        ...     mk.consumers.lambda_handler, sub.queue_url, record_timeline=True
        ... )
        >>> timeline = summary.timeline_frame()
        >>> columns = ["moment", "waiting", "in_flight", "processed"]
        >>> print(timeline.loc[timeline["moment"] != "sample", columns].to_string(index=False))
          moment  waiting  in_flight  processed
           start        1          0          0
        received        0          1          0
         handled        0          0          1
             end        0          0          1
        >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
        True
        >>> mk.buses.delete_domain_bus("doctest")
        True
        """
        return pd.DataFrame(self.timeline, columns=_TIMELINE_COLUMNS)


def run(
    handler: Handler,
    queue_url: str,
    *,
    batch_size: int = 10,
    batching_window_s: float = 0.0,
    wait_time_s: int = 1,
    time_budget_s: float = 60.0,
    max_messages: int | None = None,
    max_batches: int | None = None,
    report_batch_item_failures: bool = True,
    record_timeline: bool = False,
    function_timeout_s: float | None = None,
    boto3_session: boto3.Session | None = None,
) -> RunSummary:
    """Feed a queue's messages to a Lambda handler as Lambda's SQS event source mapping does.

    Per the mapping's contract: long-poll the queue; call ``handler(event, context)`` with
    ``{"Records": [...]}`` in the SQS event shape; delete the messages that succeeded; leave the
    failed ones in the queue, to be received again once their visibility timeout ends. A batch
    fails as a whole when the handler raises, runs past the function timeout, or returns what
    Lambda cannot serialise to JSON (a coroutine of an ``async def``, a generator, a set, ...);
    only its ``batchItemFailures`` fail when it answers with a partial batch response; and the
    whole batch again when that response is malformed or names an unknown message. After
    ``maxReceiveCount`` receives SQS moves a message to the DLQ: ``run`` counts such a message as
    dead-lettered when its last allowed receive fails.

    The handler runs in a worker thread, with a context whose ``get_remaining_time_in_millis``
    counts down the function timeout. A call still running at the timeout fails its batch
    ("Task timed out"), as on Lambda. Python cannot stop a thread, so the call goes on in the
    background: ``run`` never deletes its messages, and receives nothing more from the queue
    until the call has ended (or the time budget has), so that no message reaches a second
    call while the first may still be working on it; the same holds for a later ``run`` of the
    same queue in this process.

    It stops when the queue is drained (nothing waiting, nothing in flight), after
    ``max_batches`` handler invocations, or at the time budget, also in the middle of a handler
    call: that call's messages are then left in the queue (``RunSummary.unfinished``). Given
    ``max_messages``, it stops once that many messages were processed or dead-lettered instead
    of when the queue looks drained: it waits for messages still on their way, as on AWS, where
    EventBridge delivers asynchronously, or while a producer is still publishing.

    Parameters
    ----------
    handler : callable
        ``handler(event, context)``, the Lambda function's handler.
    queue_url : str
        The queue's URL (``Subscription.queue_url``), not its name or ARN.
    batch_size : int, default 10
        Most records per invocation (the mapping's ``BatchSize``, 1 to 10,000; above 10 it
        needs ``batching_window_s``, as on AWS).
    batching_window_s : float, default 0
        How long to gather a batch (``MaximumBatchingWindowInSeconds``, 0 to 300).
    wait_time_s : int, default 1
        Long-poll wait of each receive, 0 to 20 (Lambda uses 20; 1 keeps a local run
        responsive).
    time_budget_s : float, default 60
        Stop after this many seconds, overrunning by at most one receive's wait.
    max_messages : int, optional
        Stop once this many messages were processed or dead-lettered (and not before, unless the
        time budget or ``max_batches`` ends the run).
    max_batches : int, optional
        Stop after this many handler invocations (``max_batches=1``: try a handler on one batch).
    report_batch_item_failures : bool, default True
        As ``FunctionResponseTypes=["ReportBatchItemFailures"]``, which is off by default on AWS:
        turn it on there. Without it, Lambda ignores a partial batch response and deletes the
        whole batch, so the failed messages are lost (``run`` logs a warning when that happens).
    record_timeline : bool, default False
        Sample the queue's and its DLQ's depths into ``RunSummary.timeline`` as the run goes:
        after each receive and each handled batch, and every 0.1 s in between (two
        ``GetQueueAttributes`` calls per sample, from a background thread). Enough to plot how
        messages wait, go in flight, come back after the visibility timeout and move to the DLQ.
        On AWS the counts are approximate and lag by up to a minute.
    function_timeout_s : float, optional
        The function's timeout (Lambda's ``Timeout``: 3 s unless set, at most 900 s). It may not
        exceed the queue's visibility timeout, which Lambda requires of an SQS event source
        mapping (AWS advises a visibility timeout of six times the function's timeout). Default:
        the queue's visibility timeout (at most 900 s), the longest the mapping accepts, so a
        slow notebook handler is not cut short sooner than the queue itself would redeliver.
    boto3_session : boto3.Session, optional

    Returns
    -------
    RunSummary

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument, naming it, its limit and the fix; nothing was sent.
    QueueNotFoundError
        When no queue has that URL.
    EventSourceMappingError
        When the queue's visibility timeout is below the function's timeout (or 0).
    RunError
        When an SQS call fails mid-run (a lost connection); its ``summary`` says what was done.
    RunInterrupted
        On Ctrl-C (a KeyboardInterrupt, which it is), with ``summary`` likewise. Any other
        BaseException (``SystemExit``, ...) passes through with the summary attached as its
        ``summary`` attribute.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]}
    ... )
    >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"}
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", sale)
    >>> result = mk.events.publish("DoctestEventBus", [event])
    >>> mk.consumers.run(mk.consumers.lambda_handler, sub.queue_url)
    RunSummary(processed=1, failed=0, dead_lettered=0, batches=1, stopped='drained')
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    _check_run_arguments(
        handler,
        queue_url,
        batch_size=batch_size,
        batching_window_s=batching_window_s,
        wait_time_s=wait_time_s,
        time_budget_s=time_budget_s,
        max_messages=max_messages,
        max_batches=max_batches,
        function_timeout_s=function_timeout_s,
        flags={
            "report_batch_item_failures": report_batch_item_failures,
            "record_timeline": record_timeline,
        },
    )
    summary = RunSummary()
    started = time.monotonic()
    timeline = None
    mapping = None
    try:
        mapping = _Mapping.connect(
            handler,
            queue_url,
            function_timeout_s=function_timeout_s,
            report_batch_item_failures=report_batch_item_failures,
            boto3_session=boto3_session,
        )
        if record_timeline:
            dlq_url = (
                queue_url_of(mapping.dlq_arn, boto3_session=boto3_session)
                if mapping.dlq_arn
                else None
            )
            timeline = _Timeline(summary, queue_url, dlq_url, started, boto3_session)
            timeline.start()
        mapping.poll(
            summary,
            deadline=started + time_budget_s,
            batch_size=batch_size,
            batching_window_s=batching_window_s,
            wait_time_s=wait_time_s,
            max_messages=max_messages,
            max_batches=max_batches,
            timeline=timeline,
        )
    except (BotoCoreError, ClientError) as err:
        raise RunError(
            f"run stopped: an SQS call failed ({type(err).__name__}: {err}). "
            f"{_interrupted(summary, started)} Check that the endpoint answers "
            "(mk.sandbox.start()), then run again",
            summary=summary,
        ) from err
    except KeyboardInterrupt as err:
        raise RunInterrupted(
            f"run interrupted (KeyboardInterrupt). {_interrupted(summary, started)} To go on, "
            "run again",
            summary=summary,
        ) from err
    except BaseException as err:
        if not isinstance(err, Exception):  # SystemExit, ...: keep the accounting with it
            _interrupted(summary, started)
            err.summary = summary  # type: ignore[attr-defined]
        raise
    finally:
        if mapping is not None:
            mapping.release_held()
        if timeline is not None:
            timeline.stop()
    summary.elapsed_s = time.monotonic() - started
    return summary


def _interrupted(summary: RunSummary, started: float) -> str:
    """Mark a run as interrupted; say what it did so far, and that nothing is lost."""
    summary.stopped = "interrupted"
    summary.elapsed_s = time.monotonic() - started
    return (
        f"So far {summary.batches} batch(es): {summary.processed} processed, {summary.failed} "
        f"failed, {summary.unfinished} unfinished (error.summary has the details). Nothing is "
        "lost: the messages not deleted stay in the queue and come back after their "
        "visibility timeout."
    )


def _check_run_arguments(
    handler: Any,
    queue_url: Any,
    *,
    batch_size: Any,
    batching_window_s: Any,
    wait_time_s: Any,
    time_budget_s: Any,
    max_messages: Any,
    max_batches: Any,
    function_timeout_s: Any,
    flags: Mapping[str, Any],
) -> None:
    """Refuse a bad argument of ``run`` before anything is sent, naming its limit and the fix."""
    if not callable(handler):
        raise ValidationError(
            f"handler must be a function handler(event, context), not {type(handler).__name__}: "
            "pass the function itself (e.g. mk.consumers.lambda_handler), not its name or result"
        )
    _check_queue_url("queue_url", queue_url, "sub.queue_url")
    _check_whole("batch_size", batch_size, 1, _BATCH_MAX, f"give 1 to {_BATCH_MAX:,}")
    _check_seconds(
        "batching_window_s",
        batching_window_s,
        0,
        _WINDOW_MAX_S,
        f"Lambda allows 0 to {_WINDOW_MAX_S} seconds",
    )
    if batch_size > _RECEIVE_MAX and batching_window_s < 1:
        raise ValidationError(
            f"batch_size {batch_size} needs a batching window: pass batching_window_s >= 1, as "
            f"Lambda requires MaximumBatchingWindowInSeconds of 1 or more for batches over "
            f"{_RECEIVE_MAX} (or give batch_size 1 to {_RECEIVE_MAX})"
        )
    _check_whole(
        "wait_time_s", wait_time_s, 0, _WAIT_MAX_S, f"SQS allows 0 to {_WAIT_MAX_S} seconds"
    )
    _check_seconds(
        "time_budget_s",
        time_budget_s,
        0,
        math.inf,
        "give more than 0 seconds, e.g. 60 (max_messages or max_batches stop a run on a count)",
        above=True,
    )
    for name, value in (("max_messages", max_messages), ("max_batches", max_batches)):
        if value is not None:
            _check_whole(name, value, 1, None, "give 1 or more, or None for no limit")
    if function_timeout_s is not None:
        _check_seconds(
            "function_timeout_s",
            function_timeout_s,
            0,
            _FUNCTION_TIMEOUT_MAX_S,
            f"a Lambda function's timeout is more than 0 and at most {_FUNCTION_TIMEOUT_MAX_S} "
            "seconds (3 unless set); or None for the queue's visibility timeout",
            above=True,
        )
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be True or False, not {value!r}")


def _check_queue_url(name: str, value: Any, example: str) -> None:
    """A queue's URL, not its name or ARN (which SQS calls do not take)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{name} must be the queue's URL, not {value!r}: pass e.g. {example} from "
            "mk.subscriptions.subscribe"
        )
    if "://" not in value:
        fix = (
            "mk.subscriptions.queue_url_of(arn)"
            if value.startswith("arn:")
            else "sqs.get_queue_url(QueueName=...)['QueueUrl']"
        )
        raise ValidationError(
            f"{name} {value!r} is not a URL (a queue name or ARN?): pass the queue's URL, "
            f"from {fix}"
        )


@contextmanager
def _queue_must_exist(name: str, url: str) -> Iterator[None]:
    """Turn SQS's "no such queue" for ``url`` into a ``QueueNotFoundError`` naming ``name``."""
    try:
        yield
    except ClientError as err:
        error = err.response["Error"]
        if error.get("QueryErrorCode") == "QueueDoesNotExist" or error["Code"] in (
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
        ):
            raise QueueNotFoundError(
                f"{name} {url} names no queue (in this account and region): check the URL, or "
                "create the queue first with mk.subscriptions.subscribe"
            ) from err
        raise


def _check_whole(name: str, value: Any, low: int, high: int | None, rule: str) -> None:
    """A whole number (not a bool, which Python counts as one) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number, not {value!r}: {rule}")
    if value < low or (high is not None and value > high):
        raise ValidationError(f"{name} is {value}; {rule}")


def _check_seconds(
    name: str, value: Any, low: float, high: float, rule: str, *, above: bool = False
) -> None:
    """A finite number of seconds from ``low`` (or ``above`` it) to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a number of seconds, not {value!r}: {rule}")
    if value < low or (above and value == low) or value > high:
        raise ValidationError(f"{name} is {value}; {rule}")


class _Timeline:
    """Samples a queue's and its DLQ's depths into ``summary.timeline``: at the moments ``run``
    names, and every ``_TIMELINE_INTERVAL_S`` in between from a background thread, so that a
    message moving to the DLQ during a long poll shows when it happens."""

    def __init__(
        self,
        summary: RunSummary,
        queue_url: str,
        dlq_url: str | None,
        started: float,
        boto3_session: boto3.Session | None,
    ) -> None:
        self.summary, self.queue_url, self.dlq_url = summary, queue_url, dlq_url
        self.started, self.boto3_session = started, boto3_session
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._tick, name="meshkit-timeline", daemon=True)

    def start(self) -> None:
        self.sample("start")
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        try:
            self.sample("end")
        except (BotoCoreError, ClientError) as err:  # SQS gone: the run's own error says so
            _logger.debug("last timeline sample failed: %r", err)

    def sample(self, moment: str) -> None:
        # One sample at a time, so that the rows are in the order their counts were read.
        with self._lock:
            seconds = round(time.monotonic() - self.started, 3)
            waiting, in_flight, dead = self._depths()
            self.summary.timeline.append(
                {
                    "seconds": seconds,
                    "moment": moment,
                    "batches": self.summary.batches,
                    "waiting": waiting,
                    "in_flight": in_flight,
                    "dead_letters": dead,
                    "processed": self.summary.processed,
                    "failed": self.summary.failed,
                }
            )

    def _depths(self) -> tuple[int, int, int]:
        """(waiting, in flight, in the DLQ), read as one snapshot: a message that moves to the DLQ
        between the two queues' reads would be counted twice, so read the queue again after the
        DLQ and start over when it changed."""
        queue = queue_depths(self.queue_url, boto3_session=self.boto3_session)[:2]
        for _ in range(_SNAPSHOT_TRIES):
            dead = 0
            if self.dlq_url is not None:
                dead = sum(queue_depths(self.dlq_url, boto3_session=self.boto3_session)[:2])
            again = queue_depths(self.queue_url, boto3_session=self.boto3_session)[:2]
            if again == queue:
                break
            queue = again
        return queue[0], queue[1], dead

    def _tick(self) -> None:
        while not self._stopped.wait(_TIMELINE_INTERVAL_S):
            try:
                self.sample("sample")
            except Exception as err:  # a lost sample must not stop the run
                _logger.debug("timeline sample failed: %r", err)


def _gather(
    sqs: Any,
    queue_url: str,
    held: list[dict[str, Any]],
    *,
    batch_size: int,
    window_s: float,
    wait_s: int,
    deadline: float,
) -> list[dict[str, Any]]:
    """Receive a batch as Lambda does: up to ``batch_size`` messages and 6 MB of bodies, gathered
    for at most the batching window (without a window: what one receive returns), and not past
    the run's ``deadline``. A message that would take the batch past 6 MB waits in ``held`` for
    the next batch, which starts with it."""
    messages: dict[str, dict[str, Any]] = {}  # by id: one message once per batch
    payload = 0

    def take_held() -> bool:
        """Move held messages into the batch while they fit; True once the batch is full."""
        nonlocal payload
        while held and len(messages) < batch_size:
            size = _body_size(held[0])
            if messages and payload + size > _PAYLOAD_MAX:
                return True
            message = held.pop(0)
            messages[message["MessageId"]] = message
            payload += size
        return len(messages) >= batch_size

    window_ends = min(time.monotonic() + window_s, deadline)
    while not take_held():
        left = window_ends - time.monotonic()
        if messages and left <= 0:
            break
        wait = min(wait_s, math.ceil(left)) if messages else wait_s
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(_RECEIVE_MAX, batch_size - len(messages)),
            WaitTimeSeconds=max(0, wait),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        held.extend(m for m in received if m["MessageId"] not in messages)
        if window_s <= 0 or (not received and not messages):
            take_held()
            break
    return list(messages.values())


def _body_size(message: dict[str, Any]) -> int:
    """A message body's size in bytes (an ASCII body, the usual JSON event, is not encoded)."""
    body: str = message["Body"]
    return len(body) if body.isascii() else len(body.encode())


# Handler calls that timed out or outlived their run and may still be running, with their
# queue's ARN. Receives from that queue wait for them: a message that came back must not reach
# a second call while the first may still be working on it (Lambda would have stopped it).
_still_running: list[tuple[str, Invocation]] = []
_still_running_lock = threading.Lock()


def _calls_still_running(queue_arn: str, add: Invocation | None = None) -> list[Invocation]:
    with _still_running_lock:
        if add is not None:
            _still_running.append((queue_arn, add))
        _still_running[:] = [(arn, call) for arn, call in _still_running if call.running]
        return [call for arn, call in _still_running if arn == queue_arn]


@dataclass
class _Mapping:
    """One run's event source mapping: the queue, its settings, the handler, and what the run
    knows of the queue between receives."""

    handler: Handler
    sqs: Any
    queue_url: str
    queue_arn: str
    dlq_arn: str | None
    max_receives: int | None
    visibility_s: int
    function_timeout_s: float
    report_batch_item_failures: bool
    boto3_session: boto3.Session | None
    # Received, but held back from a batch by the 6 MB cap: the next batch starts with them.
    held: list[dict[str, Any]] = field(default_factory=list)
    # When messages this run left undeleted are visible again (time.monotonic()): until then
    # the queue is known not to be drained, without asking SQS.
    undeleted_back_at: float = 0.0

    @classmethod
    def connect(
        cls,
        handler: Handler,
        queue_url: str,
        *,
        function_timeout_s: float | None,
        report_batch_item_failures: bool,
        boto3_session: boto3.Session | None,
    ) -> _Mapping:
        """Read the queue's settings once, and check them as ``CreateEventSourceMapping`` does."""
        sqs = _aws.client("sqs", boto3_session)
        with _queue_must_exist("queue_url", queue_url):
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue_url,
                AttributeNames=["QueueArn", "RedrivePolicy", "VisibilityTimeout"],
            )["Attributes"]
        queue_arn = attributes["QueueArn"]
        visibility_s = int(attributes.get("VisibilityTimeout", 30))
        if visibility_s < 1:
            raise EventSourceMappingError(
                f"{queue_arn} has a visibility timeout of 0: a message would be received again "
                "while its handler still runs. Lambda requires a visibility timeout of at least "
                "the function's timeout (AWS advises six times it): set it to 1 or more"
            )
        timeout_s = float(
            min(visibility_s, _FUNCTION_TIMEOUT_MAX_S)
            if function_timeout_s is None
            else function_timeout_s
        )
        if timeout_s > visibility_s:
            raise EventSourceMappingError(
                f"function_timeout_s is {function_timeout_s} s but the queue's VisibilityTimeout "
                f"is {visibility_s} s: Lambda refuses an SQS event source mapping whose queue's "
                "visibility timeout is less than the function's timeout, since a message would "
                "come back while its first call still runs. Pass function_timeout_s of "
                f"{visibility_s} or less, or raise the queue's visibility timeout (AWS advises "
                f"six times the function's timeout: {math.ceil(6 * timeout_s)} s)"
            )
        redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
        if not redrive:
            _logger.warning(
                "%s has no dead-letter queue: failing messages return forever", queue_arn
            )
        return cls(
            handler=handler,
            sqs=sqs,
            queue_url=queue_url,
            queue_arn=queue_arn,
            dlq_arn=redrive.get("deadLetterTargetArn"),
            max_receives=int(redrive["maxReceiveCount"]) if redrive else None,
            visibility_s=visibility_s,
            function_timeout_s=timeout_s,
            report_batch_item_failures=report_batch_item_failures,
            boto3_session=boto3_session,
        )

    def poll(
        self,
        summary: RunSummary,
        *,
        deadline: float,
        batch_size: int,
        batching_window_s: float,
        wait_time_s: int,
        max_messages: int | None,
        max_batches: int | None,
        timeline: _Timeline | None,
    ) -> None:
        """Receive and deliver batches until a stop condition; set ``summary.stopped``."""
        pause_s = 0.0  # between short polls that found nothing: grows to 1 s, so no busy loop
        while True:
            if (
                max_messages is not None
                and summary.processed + summary.dead_lettered >= max_messages
            ):
                summary.stopped = "max_messages"
                return
            if max_batches is not None and summary.batches >= max_batches:
                summary.stopped = "max_batches"
                return
            if time.monotonic() >= deadline or not self._earlier_calls_ended(deadline):
                summary.stopped = "time budget"
                return
            wait = max(0, min(wait_time_s, math.ceil(deadline - time.monotonic())))
            messages = _gather(
                self.sqs,
                self.queue_url,
                self.held,
                batch_size=batch_size,
                window_s=batching_window_s,
                wait_s=wait,
                deadline=deadline,
            )
            if not messages:
                # Drained only when nothing is in flight or delayed either; with max_messages,
                # more are expected, so it keeps polling. Asked only when the run does not know.
                if (
                    max_messages is None
                    and time.monotonic() >= self.undeleted_back_at
                    and not sum(queue_depths(self.queue_url, boto3_session=self.boto3_session))
                ):
                    summary.stopped = "drained"
                    return
                if wait == 0:  # a long poll has waited already
                    now = time.monotonic()
                    if self.undeleted_back_at > now:  # known: sleep until they are back
                        pause_s, wake = 0.0, self.undeleted_back_at
                    else:
                        pause_s = min(max(2 * pause_s, 0.05), 1.0)
                        wake = now + pause_s
                    time.sleep(max(0.0, min(wake, deadline) - now))
                continue
            pause_s = 0.0
            if timeline is not None:
                timeline.sample("received")
            finished = self.deliver(messages, deadline, summary)
            if timeline is not None:
                timeline.sample("handled")
            if not finished:
                summary.stopped = "time budget"
                return

    def _earlier_calls_ended(self, deadline: float) -> bool:
        """Wait, at most until ``deadline``, for calls on this queue that timed out earlier."""
        for call in _calls_still_running(self.queue_arn):
            _logger.info("waiting for a handler call that timed out to end before receiving")
            call.join(deadline)
        left = _calls_still_running(self.queue_arn)
        if left:
            _logger.warning(
                "%d handler call(s) that timed out still run at the end of the time budget: "
                "their messages stay in the queue until they end",
                len(left),
            )
        return not left

    def deliver(self, messages: list[dict[str, Any]], deadline: float, summary: RunSummary) -> bool:
        """Invoke the handler with one batch; delete what succeeded; account for the rest.

        Returns False when the run's ``deadline`` came during the call: its messages are left
        in the queue, unfinished."""
        region, account = self.queue_arn.split(":")[3:5]
        # The handler gets a copy (Invocation's): whatever it changes in its event, the
        # accounting and the deletes below work from these records.
        records = [_lambda_record(message, self.queue_arn, region) for message in messages]
        ids = [record["messageId"] for record in records]
        summary.batches += 1
        ends = time.monotonic() + self.function_timeout_s
        context = LocalContext(ends, region=region, account=account)
        call = Invocation(self.handler, {"Records": records}, context, deadline=ends, start=False)
        try:
            call.start()
            outcome = call.wait(until=deadline)
        except BaseException:  # Ctrl-C during the call: nothing of the batch was deleted
            summary.unfinished += len(records)
            raise
        finally:
            if call.running:  # timed out, unfinished, or interrupted (KeyboardInterrupt)
                _calls_still_running(self.queue_arn, add=call)
        if outcome == "unfinished":
            summary.unfinished += len(records)
            _logger.warning(
                "the time budget ended during a handler call: its %d message(s) were not deleted "
                "and come back after their visibility timeout",
                len(records),
            )
            return False
        settled = 0  # records counted as failed, processed or unfinished
        try:
            failed, error = self._failures(call, outcome, ids)
            for record in records:
                if record["messageId"] not in failed:
                    continue
                receives = int(record["attributes"]["ApproximateReceiveCount"])
                exhausted = self.max_receives is not None and receives >= self.max_receives
                summary.failures.append(
                    {
                        "message_id": record["messageId"],
                        "receive_count": receives,
                        "dead_lettered": exhausted,
                        "error": error,
                    }
                )
                summary.failed += 1
                summary.dead_lettered += exhausted
                settled += 1
            done = [r for r in records if r["messageId"] not in failed]
            deleted = 0
            for start in range(0, len(done), _RECEIVE_MAX):
                chunk = done[start : start + _RECEIVE_MAX]
                deleted_now = _delete(self.sqs, self.queue_url, chunk)
                summary.processed += deleted_now
                summary.unfinished += len(chunk) - deleted_now
                settled += len(chunk)
                deleted += deleted_now
        except BaseException:  # a lost connection, Ctrl-C: what was not deleted comes back
            summary.unfinished += len(records) - settled
            raise
        if deleted < len(records):
            self.undeleted_back_at = time.monotonic() + self.visibility_s
        return True

    def release_held(self) -> None:
        """Make messages held back by the 6 MB cap visible again now that the run ends (else
        they would come back after their visibility timeout)."""
        while self.held:
            chunk, self.held[:] = self.held[:_RECEIVE_MAX], self.held[_RECEIVE_MAX:]
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as err:  # they come back on their own
                _logger.warning("could not release %d held message(s): %s", len(chunk), err)

    def _failures(self, call: Invocation, outcome: str, ids: list[str]) -> tuple[set[str], str]:
        """The messages of a finished call that failed, and why (as Lambda would say)."""
        if outcome == "timed out":
            error = timed_out(self.function_timeout_s)
        elif outcome == "raised":
            assert call.exception is not None
            error = _describe(call.exception)
        elif call.marshal_error is not None:
            error = call.marshal_error
        elif self.report_batch_item_failures:
            problem = batch_response_problem(call.response, ids)
            if problem is None:
                reported = reported_failures(call.response, ids, report_batch_item_failures=True)
                return set(reported or []), "reported in batchItemFailures"
            error = problem
        else:
            if reported_failures(call.response, ids, report_batch_item_failures=True):
                _logger.warning(
                    "the handler reported failed messages, but report_batch_item_failures is "
                    "off: as on Lambda, they are deleted with the batch (lost)"
                )
            return set(), ""
        _logger.warning("%s: the batch of %d will be retried", error, len(ids))
        return set(ids), error


def _describe(err: BaseException) -> str:
    """One line naming an exception; for Powertools' "every record failed", the records' errors."""
    children = getattr(err, "child_exceptions", None)
    if children:  # (type, value, traceback) per record; tracebacks hold file paths: leave them out
        causes = sorted({f"{kind.__name__}: {value}" for kind, value, _ in children})
        return f"{type(err).__name__}, every record failed: {'; '.join(causes)}"
    first_line = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {first_line}"


def _delete(sqs: Any, queue_url: str, records: list[dict[str, Any]]) -> int:
    """Delete messages by receipt handle, 10 a request; return how many SQS deleted."""
    deleted = 0
    for start in range(0, len(records), _RECEIVE_MAX):
        chunk = records[start : start + _RECEIVE_MAX]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                for index, record in enumerate(chunk)
            ],
        )
        deleted += len(response.get("Successful", []))
        for failure in response.get("Failed", []):
            # The message stays in the queue and comes back: processed twice, never lost.
            _logger.warning("could not delete a processed message: %s", failure)
    return deleted


def _lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One message as Lambda's SQS event carries it."""
    system = message.get("Attributes", {})
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in _RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's ``{"StringValue", "DataType"}`` in Lambda's camelCase form."""
    attribute: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
    return attribute


# -- dead-letter queues -------------------------------------------------------------------------

_PEEK_COLUMNS = ["message_id", "receive_count", "source", "detail_type", "idempotency_key", "body"]


def peek(
    dlq_url: str, *, max_messages: int = 100, boto3_session: boto3.Session | None = None
) -> pd.DataFrame:
    """The messages in a (dead-letter) queue, as a DataFrame, left in the queue.

    Peeking is a receive: each message's receive count goes up by one, and the messages are made
    visible again right after. Do not peek at a queue with a redrive policy of its own.

    Parameters
    ----------
    dlq_url : str
        The queue's URL (``Subscription.dlq_url``), not its name or ARN.
    max_messages : int, default 100
        Most messages to show, 1 or more.
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        ``message_id``, ``receive_count``, ``source``, ``detail_type``, ``idempotency_key``,
        ``body`` (the raw text), oldest first when SQS allows.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument; nothing was sent.
    QueueNotFoundError
        When no queue has that URL.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]},
    ...     max_receive_count=1, visibility_timeout_s=1,
    ... )
    >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"}
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", sale)
    >>> result = mk.events.publish("DoctestEventBus", [event])
    >>> def reject(event, context):
    ...     raise ValueError("not today")
    >>> mk.consumers.run(reject, sub.queue_url)
    RunSummary(processed=0, failed=1, dead_lettered=1, batches=1, stopped='drained')
    >>> mk.consumers.peek(sub.dlq_url)[["source", "detail_type"]]
             source   detail_type
    0  sales.domain  SaleRecorded
    >>> mk.subscriptions.discard_messages("audit", bus="DoctestEventBus")
    1
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    _check_queue_url("dlq_url", dlq_url, "sub.dlq_url")
    _check_whole("max_messages", max_messages, 1, None, "give 1 or more, e.g. 100")
    sqs = _aws.client("sqs", boto3_session)
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while len(seen) < max_messages:
            with _queue_must_exist("dlq_url", dlq_url):
                batch = sqs.receive_message(
                    QueueUrl=dlq_url,
                    MaxNumberOfMessages=min(_RECEIVE_MAX, max_messages - len(seen)),
                    VisibilityTimeout=30,  # hidden while we look, so each is seen once
                    MessageSystemAttributeNames=["All"],
                ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                seen[message["MessageId"]] = _peek_row(message)
    finally:
        for start in range(0, len(handles), _RECEIVE_MAX):
            sqs.change_message_visibility_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for index, handle in enumerate(handles[start : start + _RECEIVE_MAX])
                ],
            )
    return pd.DataFrame(list(seen.values()), columns=_PEEK_COLUMNS)


def _by_size(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split messages into SendMessageBatch requests within the request size limit."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for message in messages:
        body = len(message["Body"].encode())
        if chunks[-1] and size + body > _SEND_BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += body
    return chunks


def _send(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Send messages (body and attributes) to ``queue_url``; return those SQS accepted."""
    if len(messages) == 1 and len(messages[0]["Body"].encode()) > _SEND_BATCH_BYTES:
        message = messages[0]  # too big for a batch request of the classic size: alone
        attributes = message.get("MessageAttributes")
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=message["Body"],
            **({"MessageAttributes": attributes} if attributes else {}),
        )
        return messages
    response = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {
                "Id": str(index),
                "MessageBody": message["Body"],
                **(
                    {"MessageAttributes": message["MessageAttributes"]}
                    if message.get("MessageAttributes")
                    else {}
                ),
            }
            for index, message in enumerate(messages)
        ],
    )
    if response.get("Failed"):
        _logger.warning("could not redrive %d message(s): %s", len(response["Failed"]), response)
    accepted = {entry["Id"] for entry in response.get("Successful", [])}
    return [message for index, message in enumerate(messages) if str(index) in accepted]


def _peek_row(message: dict[str, Any]) -> dict[str, Any]:
    row = {
        "message_id": message["MessageId"],
        "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
        "source": None,
        "detail_type": None,
        "idempotency_key": None,
        "body": message["Body"],
    }
    try:
        event = json.loads(message["Body"])
        row["source"] = event.get("source")
        row["detail_type"] = event.get("detail-type")
        row["idempotency_key"] = event.get("detail", {}).get("metadata", {}).get("idempotency_key")
    except (ValueError, AttributeError):
        pass  # not an EventBridge event: the raw body is still there
    return row


def redrive(
    dlq_url: str,
    *,
    to: str | None = None,
    max_messages: int | None = None,
    boto3_session: boto3.Session | None = None,
) -> int:
    """Move messages from a dead-letter queue back to their source queue; return how many.

    Each message is sent to ``to`` (default: the one queue that uses ``dlq_url`` as its DLQ)
    with its body and attributes, and deleted from the DLQ only once the send succeeded: a crash
    in between leaves a copy in both, never in neither (idempotent consumers absorb the copy).
    Redriven messages start again with a receive count of zero.

    Fix the cause first (usually the consumer's code): otherwise the messages fail again and
    return to the DLQ. On AWS, SQS's ``StartMessageMoveTask`` (the console's "Start DLQ redrive")
    does the same asynchronously; moto does not implement it.

    Parameters
    ----------
    dlq_url : str
        The dead-letter queue's URL (``Subscription.dlq_url``), not its name or ARN.
    to : str, optional
        The URL of the queue the messages go to; default the one queue whose DLQ it is.
    max_messages : int, optional
        Most messages to move, 1 or more; default all.
    boto3_session : boto3.Session, optional

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument; nothing was sent.
    QueueNotFoundError
        When no queue has the URL ``dlq_url``.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]},
    ...     max_receive_count=1, visibility_timeout_s=1,
    ... )
    >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"}
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", sale)
    >>> result = mk.events.publish("DoctestEventBus", [event])
    >>> def reject(event, context):
    ...     raise ValueError("not today")
    >>> mk.consumers.run(reject, sub.queue_url)
    RunSummary(processed=0, failed=1, dead_lettered=1, batches=1, stopped='drained')
    >>> mk.consumers.redrive(sub.dlq_url)
    1
    >>> mk.subscriptions.queue_depths(sub.queue_url)
    QueueDepths(waiting=1, in_flight=0, delayed=0)
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus", force=True)
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    _check_queue_url("dlq_url", dlq_url, "sub.dlq_url")
    if to is not None:
        _check_queue_url("to", to, "sub.queue_url")
    if max_messages is not None:
        _check_whole("max_messages", max_messages, 1, None, "give 1 or more, or None for all")
    sqs = _aws.client("sqs", boto3_session)
    if to is None:
        with _queue_must_exist("dlq_url", dlq_url):
            sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        if len(sources) != 1:
            raise RedriveTargetError(
                f"{len(sources)} queues use {dlq_url} as their dead-letter queue: pass to=<queue "
                "url> to say where the messages go"
            )
        to = sources[0]
    moved = 0
    while max_messages is None or moved < max_messages:
        limit = _RECEIVE_MAX if max_messages is None else min(_RECEIVE_MAX, max_messages - moved)
        with _queue_must_exist("dlq_url", dlq_url):
            batch = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=limit,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        if not batch:
            break
        sent: list[dict[str, Any]] = []
        for chunk in _by_size(batch):
            sent += _send(sqs, to, chunk)
        if sent:
            _delete(sqs, dlq_url, [{"receiptHandle": m["ReceiptHandle"]} for m in sent])
        moved += len(sent)
        if len(sent) < len(batch):
            break  # the rest stay in the DLQ; they reappear after the visibility timeout
    _logger.info("redrove %d message(s) from %s to %s", moved, dlq_url, to)
    return moved
