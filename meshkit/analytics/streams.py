"""Kinesis Data Streams: record the mesh's events on a stream, and read them as Lambda does.

The high-throughput path of real-time analytics: the same events a domain publishes on its bus are
also written, in the envelope an EventBridge rule delivers, to a Kinesis data stream
(``record_events``, direct ``PutRecords``: a rule with a Kinesis target does not run offline), and
read by a detector through ``KinesisRunner``, which plays Lambda's Kinesis event source mapping
with ``meshkit.producers.StreamRunner``'s contract (shards, checkpoints, partial batch responses,
retries, an on-failure destination). ``create_stream`` and ``delete_stream`` manage the streams
meshkit owns.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from .. import _aws
from .._shared import WORKBOOK_TAG, check_owner, error_code, tag_map
from ..buses import domain_key
from ..events import DomainEvent, FailedEvent, PublishResult, UnsentEvent
from ..exceptions import (
    ConflictError,
    MeshkitError,
    NotFoundError,
    NotMeshkitResourceError,
    ValidationError,
)
from ..producers import ShardRunner, StreamRunSummary, first_records, shards_parents_first

__all__ = [
    "MAX_RECORDS_PER_CALL",
    "MAX_RECORD_BYTES",
    "MAX_REQUEST_BYTES",
    "KinesisRunner",
    "RecordError",
    "RecordInterrupted",
    "RecordResult",
    "RecordedEvent",
    "UnknownStreamError",
    "create_stream",
    "delete_stream",
    "record_events",
]

_logger = logging.getLogger(__name__)

# PutRecords limits, https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html:
# 500 records per request; a record (partition key + data) up to 1 MiB; 5 MiB per request,
# partition keys included.
MAX_RECORDS_PER_CALL = 500
MAX_RECORD_BYTES = 1024 * 1024
MAX_REQUEST_BYTES = 5 * 1024 * 1024
_PARTITION_KEY_MAX = 256  # Unicode characters
_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_STREAM_ARN = re.compile(
    r"arn:aws[\w-]*:kinesis:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:stream/(?P<name>[a-zA-Z0-9_.-]{1,128})"
)
_MAX_SHARDS = 500  # the default shard quota of the largest regions
# Per-record codes worth another attempt; anything else is returned as failed at once.
_RETRYABLE = frozenset(
    {"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"}
)
_BACKOFF_BASE_S = 0.05
_BACKOFF_CAP_S = 5.0


class UnknownStreamError(NotFoundError):
    """The Kinesis data stream does not exist (in this account and region)."""


class RecordError(MeshkitError):
    """``record_events`` stopped part-way; ``result`` accounts for every event read (sent,
    failed, unsent), and the exception that stopped it is chained (``__cause__``)."""

    def __init__(self, message: str, result: RecordResult) -> None:
        super().__init__(message)
        self.result = result


class RecordInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt stopped ``record_events``; ``result`` as for ``RecordError``.

    A KeyboardInterrupt, not a ``MeshkitError``, so that ``except Exception`` does not swallow the
    user's request to stop.
    """

    def __init__(self, message: str, result: RecordResult) -> None:
        super().__init__(message)
        self.result = result


class RecordedEvent(NamedTuple):
    """Where Kinesis put one event: its key, shard and sequence number.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.RecordedEvent("sale-S-1", "shardId-000000000000", "1").shard_id
    'shardId-000000000000'
    """

    idempotency_key: str
    shard_id: str
    sequence_number: str


@dataclass
class RecordResult:
    """What ``record_events`` did, for every event it read.

    Attributes
    ----------
    sent : int
        Records Kinesis accepted.
    failed : list of meshkit.events.FailedEvent
        Every event not accepted, with AWS's ``ErrorCode`` of its last attempt (or meshkit's
        ``RequestFailed`` / ``RequestInterrupted`` for a request that got no answer: it may have
        been written): returned, never dropped.
    unsent : list of meshkit.events.UnsentEvent
        Events read but never sent because recording stopped (see ``RecordError``).
    api_calls : int
        PutRecords requests, retries included.
    retried : int
        Records sent again after a retryable failure.
    delivered : list of RecordedEvent
        Where each accepted event went, in input order.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.RecordResult(sent=2, api_calls=1)
    RecordResult(sent=2, failed=0, api_calls=1, retried=0)
    """

    sent: int = 0
    failed: list[FailedEvent] = field(default_factory=list)
    unsent: list[UnsentEvent] = field(default_factory=list)
    api_calls: int = 0
    retried: int = 0
    delivered: list[RecordedEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every event read was accepted."""
        return not self.failed and not self.unsent

    def failures_frame(self) -> pd.DataFrame:
        """The failed events, one row each.

        Returns
        -------
        pandas.DataFrame
            Columns ``idempotency_key``, ``detail_type``, ``error_code`` and ``attempts``.

        Examples
        --------
        >>> import meshkit as mk
        >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", {}, idempotency_key="k")
        >>> failed = mk.events.FailedEvent(event, "InternalFailure", "try again", 4)
        >>> mk.analytics.RecordResult(failed=[failed]).failures_frame()["error_code"].tolist()
        ['InternalFailure']
        """
        return PublishResult(failed=self.failed).failures_frame()  # one shape for both

    def __repr__(self) -> str:
        unsent = f", unsent={len(self.unsent)}" if self.unsent else ""
        return (
            f"RecordResult(sent={self.sent}, failed={len(self.failed)}{unsent}, "
            f"api_calls={self.api_calls}, retried={self.retried})"
        )


# -- streams --------------------------------------------------------------------------------------


def create_stream(
    name: str,
    *,
    domain: str,
    shards: int = 1,
    owner: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create a Kinesis data stream, tagged as the domain's, and wait until it is ACTIVE.

    Idempotent: a stream of that name that meshkit made for the domain, with that many shards,
    is returned as it is.

    Parameters
    ----------
    name : str
        1 to 128 letters, digits, ``_``, ``.`` or ``-``, e.g. ``"sales-stream"``.
    domain : str
        The owning domain, stored as the ``meshkit:domain`` tag.
    shards : int, default 1
        Provisioned shards, 1 to 500. Each takes 1 MiB/s or 1,000 records/s of writes; records of
        one partition key always go to one shard, in order.
    owner : str, optional
        The owning team (``meshkit:owner`` tag); default ``"<domain>-team"``.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The stream's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a name, domain, shard count or owner Kinesis or meshkit would refuse; nothing sent.
    meshkit.exceptions.NotMeshkitResourceError
        When a stream of that name exists that meshkit did not create for this domain.
    meshkit.exceptions.ConflictError
        When the domain's stream exists with another shard count (nothing changed).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.create_stream("create-stream-example", domain="sales")
    'arn:aws:kinesis:us-west-2:123456789012:stream/create-stream-example'
    >>> mk.analytics.delete_stream("create-stream-example")
    True
    """
    _check_stream_name(name, "name")
    key = domain_key(domain)
    if isinstance(shards, bool) or not isinstance(shards, int) or not 1 <= shards <= _MAX_SHARDS:
        raise ValidationError(
            f"shards is {shards!r:.40}; give an int from 1 to {_MAX_SHARDS} (the default shard "
            "quota per region), e.g. shards=2"
        )
    if owner is not None and (not isinstance(owner, str) or not 1 <= len(owner) <= 256):
        raise ValidationError(
            f"owner is {owner!r:.40}; give a team name of 1 to 256 characters, e.g. 'sales-team'"
        )
    tags = tag_map(key, owner)
    kinesis = _aws.client("kinesis", boto3_session)
    try:
        kinesis.create_stream(
            StreamName=name,
            ShardCount=shards,
            StreamModeDetails={"StreamMode": "PROVISIONED"},
            Tags=tags,
        )
        _logger.info("creating Kinesis stream %s (%d shards)", name, shards)
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        existing = _stream_tags(kinesis, name)
        check_owner(existing, what=f"Kinesis stream {name}", domain=key, fix="choose another name")
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
    )
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    if summary["OpenShardCount"] != shards:
        raise ConflictError(
            f"Kinesis stream {name} exists with {summary['OpenShardCount']} shards, not "
            f"{shards}: pass shards={summary['OpenShardCount']}, or reshard it with "
            "update_shard_count, or choose another name"
        )
    # CreateStream's Tags are applied by AWS; moto ignores them, so add what is missing.
    if any(_stream_tags(kinesis, name).get(tag) != value for tag, value in tags.items()):
        kinesis.add_tags_to_stream(StreamName=name, Tags=tags)
    return str(summary["StreamARN"])


def delete_stream(name: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete a Kinesis data stream that meshkit created.

    Parameters
    ----------
    name : str
        The stream's name or ARN.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    bool
        True when a stream was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a name Kinesis would refuse; nothing sent.
    meshkit.exceptions.NotMeshkitResourceError
        When the stream has no ``meshkit:workbook=true`` tag: it is left alone.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_stream("delete-stream-example", domain="sales")
    >>> mk.analytics.delete_stream(arn)
    True
    >>> mk.analytics.delete_stream("delete-stream-example")  # none left
    False
    """
    name = _stream_name(name, "name")
    kinesis = _aws.client("kinesis", boto3_session)
    try:
        tags = _stream_tags(kinesis, name)
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return False
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"Kinesis stream {name} exists but meshkit did not create it (no {WORKBOOK_TAG}=true "
            "tag), so meshkit will not delete it: delete it yourself, or tag it "
            f"{WORKBOOK_TAG}=true to let meshkit manage it"
        )
    kinesis.delete_stream(StreamName=name)
    _logger.info("deleted Kinesis stream %s", name)
    return True


def _stream_tags(kinesis: Any, name: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"StreamName": name}
    while True:
        page = kinesis.list_tags_for_stream(**kwargs)
        tags.update({tag["Key"]: tag.get("Value", "") for tag in page["Tags"]})
        if not page.get("HasMoreTags") or not page["Tags"]:
            return tags
        kwargs["ExclusiveStartTagKey"] = page["Tags"][-1]["Key"]


def _check_stream_name(name: Any, field: str) -> str:
    if not isinstance(name, str) or not _STREAM_NAME.fullmatch(name):
        raise ValidationError(
            f"{field} is {name!r:.80}; a Kinesis stream name has 1 to 128 letters, digits, '_', "
            "'.' or '-', e.g. 'sales-stream'"
        )
    return name


def _stream_name(stream: Any, field: str) -> str:
    """The name of a stream given by name or ARN (Kinesis calls are made by name: moto cannot
    read a shard iterator obtained with a StreamARN)."""
    if isinstance(stream, str) and stream.startswith("arn:"):
        match = _STREAM_ARN.fullmatch(stream)
        if match is None:
            raise ValidationError(
                f"{field} ARN {stream!r:.120} is malformed: a Kinesis stream ARN reads "
                "arn:aws:kinesis:<region>:<12-digit account>:stream/<name>, e.g. "
                "'arn:aws:kinesis:us-west-2:123456789012:stream/sales-stream'"
            )
        return match["name"]
    return _check_stream_name(stream, field)


def _describe(kinesis: Any, name: str) -> dict[str, Any]:
    try:
        summary: dict[str, Any] = kinesis.describe_stream_summary(StreamName=name)
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        raise UnknownStreamError(
            f"Kinesis stream {name} does not exist in {kinesis.meta.region_name}: create it "
            f"with mk.analytics.create_stream({name!r}, domain=...) first"
        ) from err
    return dict(summary["StreamDescriptionSummary"])


# -- recording ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    event: DomainEvent
    record: dict[str, Any]  # the PutRecords entry: Data, PartitionKey
    size: int
    attempts: int = 0  # requests that carried it, the one in flight included
    answered: int = 0  # of those, requests that got an answer
    last_error: tuple[str, str] = ("", "")
    settled: bool = False


def record_events(
    stream: str,
    events: Iterable[DomainEvent],
    *,
    partition_key: str | Callable[[DomainEvent], str] = "detail.metadata.correlation_id",
    max_attempts: int = 4,
    boto3_session: boto3.Session | None = None,
) -> RecordResult:
    """Write domain events to a Kinesis data stream, as an EventBridge rule targeting it would.

    Each record's data is the event in EventBridge's envelope (``version``, ``id``,
    ``detail-type``, ``source``, ``account``, ``time``, ``region``, ``resources``, ``detail``),
    the JSON a rule with a Kinesis target delivers. Records go in PutRecords requests of at most
    500 records and 5 MiB; records that fail with a retryable code (throttling, internal errors)
    are sent again, with exponential backoff, up to ``max_attempts`` attempts. Every event read
    is accounted for: sent, failed (with the reason), or unsent when recording stops.

    Parameters
    ----------
    stream : str
        The stream's name or ARN.
    events : iterable of meshkit.events.DomainEvent
        A list is checked whole before anything is sent; a generator is streamed.
    partition_key : str or callable, default "detail.metadata.correlation_id"
        A dotted path into the envelope (``"source"``, ``"detail.data.customer_id"``), or a
        function of the event returning a str. Records of one key go to one shard, in order.
    max_attempts : int, default 4
        Attempts per record (at least 1) for retryable failures.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    RecordResult

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument, or a bad event in a list (fields, JSON, a missing partition key, a
        record over 1 MiB): nothing was sent.
    UnknownStreamError
        When the stream does not exist: nothing was sent.
    RecordError
        When recording stops after it started (a bad event from a generator, an exception from
        the generator, a request that fails as a whole); ``error.result`` has every event read.
    RecordInterrupted
        A KeyboardInterrupt while recording, with ``result`` as for ``RecordError``.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_stream("record-events-example", domain="sales")
    >>> sales = [mk.events.DomainEvent("sales.domain", "SaleRecorded", {"sale_id": f"S-{i}"})
    ...          for i in range(3)]
    >>> mk.analytics.record_events(arn, sales)
    RecordResult(sent=3, failed=0, api_calls=1, retried=0)
    >>> mk.analytics.delete_stream(arn)
    True
    """
    name = _stream_name(stream, "stream")
    source = _check_events(events)
    key_of = _partition_key_function(partition_key)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise ValidationError(
            f"max_attempts is {max_attempts!r:.40}; give an int of at least 1 (1 sends each "
            "record once), e.g. max_attempts=3"
        )
    kinesis = _aws.client("kinesis", boto3_session)
    place = _describe(kinesis, name)["StreamARN"].split(":")
    region, account = place[3], place[4]

    def prepare(index: int, event: Any) -> _Pending:
        return _prepare(index, event, key_of, region=region, account=account)

    listed = isinstance(events, Sequence)
    if listed:  # a bad event anywhere in a list stops everything before anything is sent
        source = iter([prepare(i, event) for i, event in enumerate(source)])
    result = RecordResult()
    in_hand: list[_Pending] = []
    read_before_failure: list[int] = []  # set when the caller's iterable raised

    def read() -> Iterator[_Pending]:
        for index in range(2**62):
            try:
                item = next(source)
            except StopIteration:
                return
            except BaseException:
                read_before_failure.append(index)
                raise
            pending = item if listed else prepare(index, item)
            in_hand.append(pending)
            yield pending

    try:
        for batch in _batches(read()):
            _send_with_retries(kinesis, name, batch, result, max_attempts)
            del in_hand[: len(batch)]
    except BaseException as err:
        unsettled = [*in_hand, *(source if listed else ())]
        raise _stopped(err, result, unsettled, read_before_failure) from err
    return result


def _check_events(events: Any) -> Iterator[Any]:
    if isinstance(events, DomainEvent):
        raise ValidationError("events is one DomainEvent; give an iterable of them: [event]")
    if events is None or isinstance(events, str | bytes | bytearray | Mapping):
        raise ValidationError(
            f"events is {type(events).__name__}; give a list (or any iterable) of "
            "mk.events.DomainEvent"
        )
    try:
        return iter(events)
    except TypeError as err:
        raise ValidationError(
            f"events is {type(events).__name__}, which is not iterable; give a list (or any "
            "iterable) of mk.events.DomainEvent"
        ) from err


def _partition_key_function(partition_key: Any) -> Callable[[DomainEvent, dict[str, Any]], Any]:
    """A function of (event, envelope) giving the raw partition key."""
    if callable(partition_key):
        return lambda event, envelope: partition_key(event)
    if not isinstance(partition_key, str) or not partition_key.strip():
        raise ValidationError(
            f"partition_key is {partition_key!r:.40}; give a dotted path into the event's "
            "envelope, e.g. 'detail.data.customer_id', or a function of the event returning a str"
        )
    path = partition_key.split(".")

    def lookup(event: DomainEvent, envelope: dict[str, Any]) -> Any:
        value: Any = envelope
        for part in path:
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value

    return lookup


def _prepare(
    index: int,
    event: Any,
    key_of: Callable[[DomainEvent, dict[str, Any]], Any],
    *,
    region: str,
    account: str,
) -> _Pending:
    """The PutRecords entry of one event, checked as it is read."""
    if not isinstance(event, DomainEvent):
        raise ValidationError(
            f"event {index} is {type(event).__name__}, not a DomainEvent: wrap it with "
            "mk.events.DomainEvent(source=..., detail_type=..., detail=...)"
        )
    label = f"event {index} ({event.idempotency_key!r:.80})"
    try:
        entry = event.to_entry("kinesis")  # checks fields and JSON; the bus name is not used
    except ValidationError as err:
        err.args = (f"{label}: {err}", *err.args[1:])
        raise
    when = event.time or datetime.now(timezone.utc)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.detail_type,
        "source": event.source,
        "account": account,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": list(event.resources),
        "detail": json.loads(entry["Detail"]),
    }
    try:
        key = key_of(event, envelope)
    except Exception as err:
        raise ValidationError(
            f"{label}: partition_key raised {type(err).__name__}: {err}; make it return a str "
            "for every event"
        ) from err
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str) or not 1 <= len(key) <= _PARTITION_KEY_MAX:
        raise ValidationError(
            f"{label}: its partition_key is {key!r:.60}; it must be a str of 1 to "
            f"{_PARTITION_KEY_MAX} characters: choose a field every event has (e.g. "
            "'detail.metadata.correlation_id'), or pass a function"
        )
    data = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    size = len(data) + len(key.encode("utf-8"))
    if size > MAX_RECORD_BYTES:
        raise ValidationError(
            f"{label} is {size:,} bytes as a record (data and partition key); Kinesis takes at "
            f"most MAX_RECORD_BYTES ({MAX_RECORD_BYTES:,}): shrink its detail, or put the bulk "
            "in S3 and send its key"
        )
    return _Pending(event, {"Data": data, "PartitionKey": key}, size)


def _batches(items: Iterator[_Pending]) -> Iterator[list[_Pending]]:
    """Requests of at most 500 records and 5 MiB (partition keys included)."""
    batch: list[_Pending] = []
    size = 0
    for item in items:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + item.size > MAX_REQUEST_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch


def _send_with_retries(
    kinesis: Any, name: str, batch: list[_Pending], result: RecordResult, max_attempts: int
) -> None:
    pending = batch
    while pending:
        for item in pending:
            item.attempts += 1  # before the request: an interrupted request counts
        result.api_calls += 1
        try:
            response = kinesis.put_records(
                StreamName=name, Records=[item.record for item in pending]
            )
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError):
                code, message = error_code(err), err.response["Error"].get("Message", "")
            else:
                code, message = "RequestFailed", f"{err} (the records may have been written)"
            for item in pending:
                item.settled = True
                result.failed.append(FailedEvent(item.event, code, message, item.attempts))
            raise RecordError(
                f"PutRecords to {name} failed as a whole ({code}) after {result.sent} records "
                f"were sent; this request's {len(pending)} events are in error.result.failed",
                result,
            ) from err
        retry: list[_Pending] = []
        for item, outcome in zip(pending, response["Records"], strict=True):
            item.answered = item.attempts
            code = outcome.get("ErrorCode")
            if not code:
                item.settled = True
                result.sent += 1
                result.delivered.append(
                    RecordedEvent(
                        item.event.idempotency_key, outcome["ShardId"], outcome["SequenceNumber"]
                    )
                )
            elif code in _RETRYABLE and item.attempts < max_attempts:
                item.last_error = (code, outcome.get("ErrorMessage", ""))
                retry.append(item)
            else:
                item.settled = True
                result.failed.append(
                    FailedEvent(item.event, code, outcome.get("ErrorMessage", ""), item.attempts)
                )
        if retry:
            result.retried += len(retry)
            tries = max(item.attempts for item in retry)
            time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**tries)))
        pending = retry


def _stopped(
    err: BaseException,
    result: RecordResult,
    unsettled: Iterable[_Pending],
    read_before_failure: list[int],
) -> BaseException:
    """Account for every event read and not settled; return the exception to raise."""
    if read_before_failure:
        cause = (
            f"your events iterable raised {type(err).__name__}: {err} (after yielding "
            f"{read_before_failure[0]} events)"
        )
    else:
        cause = str(err) if isinstance(err, MeshkitError) else f"{type(err).__name__}: {err}"
    reason = f"recording stopped before it was sent ({cause[:200]})"
    for item in unsettled:
        if item.settled:
            continue
        item.settled = True
        if item.attempts == 0:
            result.unsent.append(UnsentEvent(item.event, reason))
        elif item.answered < item.attempts:
            result.failed.append(
                FailedEvent(
                    item.event,
                    "RequestInterrupted",
                    f"{reason}, while its PutRecords request was in flight: it may have been "
                    "written",
                    item.attempts,
                )
            )
        else:
            code, message = item.last_error
            result.failed.append(
                FailedEvent(item.event, code, f"{message} (not retried: {reason})", item.attempts)
            )
    if isinstance(err, RecordError) and not read_before_failure:
        return err
    counts = (
        f"{result.sent} events were sent, {len(result.failed)} failed and {len(result.unsent)} "
        "were read but not sent (error.result.unsent: record them again)"
    )
    if isinstance(err, KeyboardInterrupt):
        return RecordInterrupted(f"recording was interrupted: {counts}", result)
    return RecordError(f"{cause}; {counts}", result)


# -- reading --------------------------------------------------------------------------------------


class KinesisRunner(ShardRunner):
    """Poll a Kinesis data stream and call a Lambda handler as Lambda's event source mapping would.

    The contract of ``meshkit.producers.StreamRunner``: it keeps its place in each shard between
    runs; records arrive in order per shard (so per partition key), in batches of up to
    ``batch_size``; a handler that raises fails the whole batch; a ``batchItemFailures`` response
    (``itemIdentifier``: the record's sequence number) makes the next attempt start at the
    lowest failed sequence number; after ``max_retries`` retries the rest of the batch is given
    up on and polling moves on. The handler gets Lambda's Kinesis event
    (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html): ``{"Records": [{"kinesis":
    {"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data" (base64),
    "approximateArrivalTimestamp"}, "eventSource": "aws:kinesis", "eventVersion", "eventID",
    "eventName", "invokeIdentityArn", "awsRegion", "eventSourceARN"}]}``.

    Parameters
    ----------
    handler : callable
        ``handler(event, context)``.
    stream : str
        The stream's name or ARN.
    batch_size : int, default 100
        1 to 10,000.
    max_retries : int, default 2
    starting_position : {"TRIM_HORIZON", "LATEST"}, default "TRIM_HORIZON"
    on_failure_queue_url : str, optional
        An SQS queue that receives, for each batch given up on, the record Lambda sends an
        on-failure destination (``KinesisBatchInfo``: shard and sequence range, see
        https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html). The
        records themselves are in ``StreamRunSummary.failures`` (their ``keys`` hold the
        ``partitionKey``).
    report_batch_item_failures : bool, default True
        As the mapping's ``FunctionResponseTypes=["ReportBatchItemFailures"]``.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a ``batch_size``, ``max_retries`` or ``starting_position`` Lambda would refuse, or a
        malformed stream name.
    UnknownStreamError
        When the stream does not exist.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_stream("kinesis-runner-example", domain="sales")
    >>> runner = mk.analytics.KinesisRunner(lambda event, context: None, arn)
    >>> runner.stream_arn
    'arn:aws:kinesis:us-west-2:123456789012:stream/kinesis-runner-example'
    >>> mk.analytics.delete_stream(arn)
    True
    """

    MAX_BATCH_SIZE = 10_000
    BATCH_SIZE_LIMIT = "GetRecords returns at most 10,000 records, Lambda's Kinesis limit too"

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
        name = _stream_name(stream, "stream")
        super().__init__(
            handler,
            lambda: _KinesisShards(name, boto3_session),
            batch_size=batch_size,
            max_retries=max_retries,
            starting_position=starting_position,
            on_failure_queue_url=on_failure_queue_url,
            report_batch_item_failures=report_batch_item_failures,
            boto3_session=boto3_session,
        )

    def run(self, *, time_budget_s: float = 30.0) -> StreamRunSummary:
        """Process what the stream holds now, until every shard is read to its end or time is up.

        As ``meshkit.producers.StreamRunner.run``: whatever stops it early (Ctrl-C, a failed AWS
        call) is raised with ``.summary`` (``stopped == "interrupted"``), and the next ``run``
        starts after the last completed record.

        Parameters
        ----------
        time_budget_s : float, default 30.0
            Stop reading new batches after this many seconds (``stopped == "time budget"``).

        Returns
        -------
        meshkit.producers.StreamRunSummary

        Examples
        --------
        >>> import meshkit as mk
        >>> arn = mk.analytics.create_stream("kinesis-run-example", domain="sales")
        >>> sale = mk.events.DomainEvent("sales.domain", "SaleRecorded", {"sale_id": "S-1"})
        >>> _ = mk.analytics.record_events(arn, [sale])
        >>> runner = mk.analytics.KinesisRunner(lambda event, context: None, arn)
        >>> runner.run()
        StreamRunSummary(processed=1, failed=0, dead_lettered=0, batches=1, stopped='caught up')
        >>> runner.run()  # it keeps its place in the stream
        StreamRunSummary(processed=0, failed=0, dead_lettered=0, batches=0, stopped='caught up')
        >>> mk.analytics.delete_stream(arn)
        True
        """
        return super().run(time_budget_s=time_budget_s)


class _KinesisShards:
    """A Kinesis data stream, as ``meshkit.producers.ShardRunner`` reads it."""

    def __init__(self, name: str, boto3_session: boto3.Session | None) -> None:
        self._client = _aws.client("kinesis", boto3_session)
        self._name = name
        self.stream_arn = str(_describe(self._client, name)["StreamARN"])
        _, _, _, self._region, account, _ = self.stream_arn.split(":", 5)
        self._role = f"arn:aws:iam::{account}:role/meshkit-local"

    def shard_ids(self) -> list[str]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamName": self._name}
        while True:
            page = self._client.list_shards(**kwargs)
            shards += page["Shards"]
            if not page.get("NextToken"):
                return shards_parents_first(shards)
            kwargs = {"NextToken": page["NextToken"]}

    def read(self, shard_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"StreamName": self._name, "ShardId": shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        iterator = self._client.get_shard_iterator(**kwargs)["ShardIterator"]
        return [
            self._lambda_record(shard_id, record)
            for record in first_records(self._client, iterator, limit)
        ]

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["kinesis"]["sequenceNumber"])

    def failure(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_name": record["eventName"],
            "keys": {"partitionKey": record["kinesis"]["partitionKey"]},
        }

    def batch_info(self, shard_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        first, last = records[0]["kinesis"], records[-1]["kinesis"]
        return {
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": first["sequenceNumber"],
                "endSequenceNumber": last["sequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first["approximateArrivalTimestamp"]),
                "approximateArrivalOfLastRecord": _iso(last["approximateArrivalTimestamp"]),
                "batchSize": len(records),
                "streamArn": self.stream_arn,
            }
        }

    def _lambda_record(self, shard_id: str, record: dict[str, Any]) -> dict[str, Any]:
        arrived = record["ApproximateArrivalTimestamp"]
        if isinstance(arrived, datetime):
            arrived = round(arrived.timestamp(), 3)
        sequence = str(record["SequenceNumber"])
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": sequence,
                "data": base64.b64encode(record["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": arrived,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": self._role,
            "awsRegion": self._region,
            "eventSourceARN": self.stream_arn,
        }


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
