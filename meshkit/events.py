"""Domain events: the mesh's envelope, and a publisher that loses nothing.

Every event a domain publishes has the same envelope, set by the platform (federated governance):
the EventBridge ``Detail`` is ``{"metadata": {...}, "data": {...}}``, where ``data`` is the domain's
business payload (checked against its contract) and ``metadata`` carries what every consumer may
rely on: an idempotency key chosen by the producer, a correlation id, the contract's schema version
and the data product the event belongs to.

``publish`` sends events in batches of at most 10 entries and at most the request-size limit,
resends the entries worth retrying (throttling, internal failures) with exponential backoff and
jitter, and returns every event it could not deliver: it never drops one.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from . import _aws, buses, contracts, sandbox
from .exceptions import MeshkitError, ValidationError

__all__ = [
    "BILLING_CHUNK_BYTES",
    "CLASSIC_ENTRY_LIMIT_BYTES",
    "ENTRY_LIMIT_BYTES",
    "MAX_ENTRIES_PER_CALL",
    "DomainEvent",
    "EventSizeError",
    "FailedEvent",
    "PublishError",
    "PublishResult",
    "PutEventsRequest",
    "UnknownBusError",
    "batch_plan",
    "batches",
    "billable_chunks",
    "entry_size",
    "publish",
]

MAX_ENTRIES_PER_CALL = 10  # PutEvents: 1-10 entries per request
# Entry and request size limit: 1 MB since 2026-01-29 (AWS Compute Blog, "serverless services now
# support payloads up to 1 MB"); the PutEvents API reference still says 256 KB, selectable below.
ENTRY_LIMIT_BYTES = 1024 * 1024
CLASSIC_ENTRY_LIMIT_BYTES = 256 * 1024
BILLING_CHUNK_BYTES = 64 * 1024  # each started 64 KB of an event is billed as one event
USD_PER_MILLION_EVENTS = 1.00  # custom events, 2026 price list; check the EventBridge pricing page
_TIME_BYTES = (
    14  # what a set Time counts for in an entry's size (AWS: "Calculating PutEvents size")
)
_DETAIL_TYPE_MAX = 128
_SOURCE_MAX = 256
# Per-entry codes worth retrying, as the PutEventsResultEntry reference lists them; the others
# (InvalidArgument, MalformedDetail, AccessDeniedException, ...) fail the same way every time.
_RETRYABLE = frozenset({"ThrottlingException", "InternalFailure"})
_BUS_CHECK_TTL_S = 300.0

_known_buses: dict[tuple[int, str, str], float] = {}  # _bus_key -> when it was checked
sandbox._forget_on_reset.append(_known_buses.clear)
buses._forget_on_delete.append(_known_buses.clear)


class EventSizeError(ValidationError):
    """An event is larger than the entry-size limit; nothing of its batch was sent."""


class UnknownBusError(ValidationError):
    """The bus does not exist. AWS would accept the events and silently drop them."""


class PublishError(MeshkitError):
    """Publishing stopped; ``result`` says what was sent and holds every event that was not."""

    def __init__(self, message: str, result: PublishResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class DomainEvent:
    """One event a domain publishes, before the platform wraps it in the mesh's envelope.

    Parameters
    ----------
    source : str
        Who publishes: ``"<domain>.domain"``, e.g. ``"sales.domain"`` (the article's source).
    detail_type : str
        What happened, e.g. ``"SaleRecorded"``. At most 128 characters.
    detail : dict
        The business payload, e.g. ``{"sale_id": ..., "amount": ..., "timestamp": ...}``; it must
        satisfy the contract of (source, detail_type, schema_version). Sent as ``data``.
    idempotency_key : str, optional
        The producer's key for "this business fact": the same sale published twice has the same
        key, so consumers can de-duplicate. Default: a new UUID (a key per event object).
    correlation_id : str, optional
        Ties together the events of one business flow. Default: a new UUID.
    schema_version : str, default "1.0"
        The version of the contract ``detail`` follows.
    data_product : str, optional
        The data product the event belongs to; default ``"<domain>.<detail-type in kebab case>"``.
    time : datetime, optional
        When it happened; default: when EventBridge receives it. Set it for reproducible output.
    resources : tuple of str
        ARNs the event concerns.

    Examples
    --------
    >>> import meshkit as mk
    >>> event = mk.events.DomainEvent(
    ...     source="sales.domain", detail_type="SaleRecorded",
    ...     detail={"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"},
    ...     idempotency_key="sale-S-1", correlation_id="checkout-7",
    ... )
    >>> event.envelope()["metadata"]["data_product"]
    'sales.sale-recorded'
    """

    source: str
    detail_type: str
    detail: Mapping[str, Any]
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    schema_version: str = "1.0"
    data_product: str | None = None
    time: datetime | None = None
    resources: tuple[str, ...] = ()

    @property
    def domain(self) -> str:
        """The publishing domain: the part of ``source`` before ``.domain``."""
        return self.source.removesuffix(".domain")

    def envelope(self) -> dict[str, Any]:
        """The ``Detail`` EventBridge carries: ``{"metadata": {...}, "data": detail}``."""
        return {
            "metadata": {
                "idempotency_key": self.idempotency_key,
                "correlation_id": self.correlation_id,
                "schema_version": self.schema_version,
                "data_product": self.data_product or f"{self.domain}.{_kebab(self.detail_type)}",
            },
            "data": dict(self.detail),
        }

    def to_entry(self, bus: str) -> dict[str, Any]:
        """The PutEvents request entry for ``bus`` (checks the fields, not the contract)."""
        self._check_fields()
        try:
            detail = json.dumps(self.envelope(), separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValidationError(
                f"detail of {self.detail_type} event {self.idempotency_key!r} is not JSON: {err}; "
                "convert it first (str() for datetimes and UUIDs, float() or str() for Decimals)"
            ) from err
        entry: dict[str, Any] = {
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": detail,
            "EventBusName": bus,
        }
        if self.time is not None:
            entry["Time"] = self.time
        if self.resources:
            entry["Resources"] = list(self.resources)
        return entry

    def _check_fields(self) -> None:
        for name, value, limit in (
            ("source", self.source, _SOURCE_MAX),
            ("detail_type", self.detail_type, _DETAIL_TYPE_MAX),
        ):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(
                    f"{name} is missing: every event needs a {name} (e.g. source='sales.domain', "
                    "detail_type='SaleRecorded')"
                )
            if len(value) > limit:
                raise ValidationError(
                    f"{name} is {len(value)} characters; EventBridge allows at most {limit}: "
                    f"shorten {value[:30]!r}..."
                )
        if self.source.startswith("aws."):
            raise ValidationError(
                f"source {self.source!r} starts with 'aws.', which AWS reserves for its services: "
                "use '<domain>.domain'"
            )
        if self.time is not None and not isinstance(self.time, datetime):
            raise ValidationError(
                f"time must be a datetime, not {type(self.time).__name__}: e.g. "
                "datetime(2026, 1, 29, 10, tzinfo=timezone.utc)"
            )
        if isinstance(self.resources, str) or not all(isinstance(r, str) for r in self.resources):
            raise ValidationError(
                "resources must be a tuple of ARN strings, e.g. ('arn:aws:s3:::receipts/S-1',)"
            )
        if not isinstance(self.detail, Mapping):
            raise ValidationError(
                "detail must be a dict of the event's business fields, "
                f"not {type(self.detail).__name__}"
            )


@lru_cache(maxsize=256)
def _kebab(name: str) -> str:
    """``SaleRecorded`` -> ``sale-recorded``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it against the limit.

    14 bytes for a set Time, plus the UTF-8 bytes of Source, DetailType, Detail and each Resource.
    """
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(entry.get(key, "").encode("utf-8"))
    return size + sum(len(arn.encode("utf-8")) for arn in entry.get("Resources", ()))


def billable_chunks(size: int) -> int:
    """What an entry of ``size`` bytes is billed as: one event per started 64 KB chunk.

    Examples
    --------
    >>> import meshkit as mk
    >>> [mk.events.billable_chunks(size) for size in (300, 65_536, 65_537, 200 * 1024)]
    [1, 1, 2, 4]
    """
    return max(1, math.ceil(size / BILLING_CHUNK_BYTES))


def batch_plan(
    events: Iterable[DomainEvent],
    bus: str,
    *,
    max_bytes: int = ENTRY_LIMIT_BYTES,
    registry: contracts.ContractRegistry | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """How ``publish`` would send ``events``: its requests, and each entry's size and billing.

    Nothing is sent. Events are checked as ``publish`` checks them (fields, contract, size) and
    grouped, in order, into requests of at most 10 entries and ``max_bytes``.

    Returns
    -------
    pandas.DataFrame
        One row per event, in input order: ``request`` (1 for the first request),
        ``idempotency_key``, ``bytes`` (the entry's size as EventBridge counts it) and
        ``chunks`` (the 64 KB chunks it is billed as).

    Examples
    --------
    >>> import meshkit as mk
    >>> events = [
    ...     mk.events.DomainEvent(
    ...         source="sales.domain", detail_type="SaleRecorded", idempotency_key=f"S-{i}",
    ...         detail={"sale_id": f"S-{i}", "amount": 1.0, "timestamp": "2026-01-29T10:00:00Z"},
    ...     )
    ...     for i in range(12)
    ... ]
    >>> mk.events.batch_plan(events, "SalesEventBus").groupby("request").size().tolist()
    [10, 2]
    """
    registry = (registry or contracts.default_registry()) if validate else None
    rows = [
        (number, pending.event.idempotency_key, pending.size, billable_chunks(pending.size))
        for number, batch in enumerate(
            batches(_prepare(events, bus, registry, max_bytes), max_bytes=max_bytes), start=1
        )
        for pending in batch
    ]
    return pd.DataFrame(rows, columns=["request", "idempotency_key", "bytes", "chunks"])


def batches(
    sized: Iterable[tuple[Any, int]],
    *,
    max_entries: int = MAX_ENTRIES_PER_CALL,
    max_bytes: int = ENTRY_LIMIT_BYTES,
) -> Iterator[list[Any]]:
    """Group ``(item, size)`` pairs, in order, into batches within both limits. Streams.

    Raises ``EventSizeError`` for an item larger than ``max_bytes`` on its own.
    """
    batch: list[Any] = []
    batch_bytes = 0
    for item, size in sized:
        _check_size(size, max_bytes)
        if batch and (len(batch) == max_entries or batch_bytes + size > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(item)
        batch_bytes += size
    if batch:
        yield batch


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise EventSizeError(
            f"an event of {size:,} bytes is over the {max_bytes:,}-byte entry limit (max_bytes): "
            "move bulky fields to S3 and put the object's key in the event (claim-check pattern)"
        )


@dataclass(frozen=True)
class FailedEvent:
    """An event that was not delivered, with the reason AWS gave on the last attempt."""

    event: DomainEvent
    error_code: str
    error_message: str
    attempts: int


@dataclass(frozen=True)
class PutEventsRequest:
    """One PutEvents request that ``publish`` made: when, for which batch, and what came of it.

    Attributes
    ----------
    batch : int
        The batch it sent entries of: 1 for the first.
    attempt : int
        1 for the batch's first request, 2 for its first retry, and so on.
    started, finished : float
        ``time.monotonic()`` when the request was sent and when its answer came back.
    entries : int
        Entries sent.
    accepted : int
        Entries EventBridge accepted.
    retrying : int
        Entries that failed with a code worth retrying, sent again in the next attempt.
    failed : int
        Entries given up on: returned in ``PublishResult.failed``.
    backoff_s : float
        The pause before the batch's next attempt (0 after its last).
    """

    batch: int
    attempt: int
    started: float
    finished: float
    entries: int
    accepted: int
    retrying: int
    failed: int
    backoff_s: float = 0.0


_TIMELINE_COLUMNS = [
    "batch",
    "attempt",
    "start_s",
    "end_s",
    "entries",
    "accepted",
    "retrying",
    "failed",
    "backoff_s",
]


@dataclass
class PublishResult:
    """What ``publish`` did.

    Attributes
    ----------
    sent : int
        Events EventBridge accepted.
    failed : list of FailedEvent
        Every event that was not accepted, with its error: returned, never dropped.
    api_calls : int
        PutEvents requests made, retries included.
    retried : int
        Entries sent again after a retryable failure.
    billable_chunks : int
        64 KB chunks of the accepted events: what EventBridge bills, one event per chunk.
    delivered : list of (str, str)
        ``(idempotency_key, event_id)`` of each accepted event, in input order (empty with
        ``record=False``).
    unsent : list of DomainEvent
        Events read from the input but never sent because publishing stopped (see
        ``PublishError``): all the rest of a list; of a generator, the few read ahead (the rest
        are still in the generator).
    requests : list of PutEventsRequest
        Every PutEvents request, in the order made (empty with ``record=False``); see
        ``timeline``.
    """

    sent: int = 0
    failed: list[FailedEvent] = field(default_factory=list)
    api_calls: int = 0
    retried: int = 0
    billable_chunks: int = 0
    delivered: list[tuple[str, str]] = field(default_factory=list)
    unsent: list[DomainEvent] = field(default_factory=list)
    requests: list[PutEventsRequest] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        """The ids EventBridge gave the accepted events, in input order."""
        return [event_id for _, event_id in self.delivered]

    @property
    def ok(self) -> bool:
        """True when every event was accepted."""
        return not self.failed

    @property
    def estimated_cost_usd(self) -> float:
        """What the accepted events cost to publish, at USD 1.00 per million 64 KB chunks."""
        return self.billable_chunks * USD_PER_MILLION_EVENTS / 1_000_000

    def outcomes(self) -> pd.DataFrame:
        """One row per event: idempotency_key, status (sent or failed), event_id, error_code."""
        rows = [(key, "sent", event_id, None) for key, event_id in self.delivered]
        rows += [(f.event.idempotency_key, "failed", None, f.error_code) for f in self.failed]
        return pd.DataFrame(rows, columns=["idempotency_key", "status", "event_id", "error_code"])

    def failures(self) -> pd.DataFrame:
        """The failed events as a DataFrame: idempotency_key, detail_type, error_code, attempts."""
        return pd.DataFrame(
            [
                (f.event.idempotency_key, f.event.detail_type, f.error_code, f.attempts)
                for f in self.failed
            ],
            columns=["idempotency_key", "detail_type", "error_code", "attempts"],
        )

    def timeline(self) -> pd.DataFrame:
        """The requests as a DataFrame, one row each, in the order made.

        Columns: ``batch``, ``attempt``, ``start_s`` and ``end_s`` (seconds since the first
        request was sent), ``entries``, ``accepted``, ``retrying`` (to be sent again),
        ``failed`` (given up on) and ``backoff_s`` (the pause before the batch's next attempt).
        Times are wall-clock: they differ from run to run.
        """
        origin = self.requests[0].started if self.requests else 0.0
        rows = [
            (r.batch, r.attempt, r.started - origin, r.finished - origin, r.entries,
             r.accepted, r.retrying, r.failed, r.backoff_s)
            for r in self.requests
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=_TIMELINE_COLUMNS)

    def __repr__(self) -> str:
        return (
            f"PublishResult(sent={self.sent}, failed={len(self.failed)}, "
            f"api_calls={self.api_calls}, retried={self.retried})"
        )


def publish(
    bus: str,
    events: Iterable[DomainEvent],
    *,
    registry: contracts.ContractRegistry | None = None,
    validate: bool = True,
    max_bytes: int = ENTRY_LIMIT_BYTES,
    max_attempts: int = 4,
    raise_on_failure: bool = False,
    record: bool = True,
    check_bus: bool = True,
    progress: bool | Callable[[PublishResult], None] = False,
    boto3_session: boto3.Session | None = None,
) -> PublishResult:
    """Publish domain events on ``bus``, in batches, retrying what is worth retrying.

    Parameters
    ----------
    bus : str
        Name or ARN of the event bus. Checked first: AWS silently drops events sent to a bus that
        does not exist.
    events : iterable of DomainEvent
        Any iterable. A list is checked whole before anything is sent; a generator is streamed,
        with memory bounded by one batch (plus the failures, which are kept).
    registry : ContractRegistry, optional
        Where contracts are looked up; default ``mk.contracts.default_registry()``.
    validate : bool, default True
        Check each event's data against its contract before sending.
    max_bytes : int, default ENTRY_LIMIT_BYTES (1 MB)
        Limit for one entry and for one request; ``CLASSIC_ENTRY_LIMIT_BYTES`` (256 KB) for
        accounts or tools still on the old limit.
    max_attempts : int, default 4
        Attempts per entry for retryable failures (throttling, internal errors), with exponential
        backoff and full jitter between them. Other failures are not retried.
    raise_on_failure : bool, default False
        Raise ``PublishError`` (with the result attached) instead of returning failures.
    record : bool, default True
        Keep each accepted event's key and id in ``result.delivered``; False keeps memory flat.
    check_bus : bool, default True
        Check (``events:DescribeEventBus``, cached) that the bus exists before sending. Turn it
        off for a bus in another account that grants you only ``events:PutEvents``.
    progress : bool or callable, default False
        True shows a progress bar (needs tqdm); a callable is called with the running result after
        each request.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    PublishResult

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad event (missing source, detail-type too long, data that is not JSON or breaks its
        contract, an oversized event) or an unknown bus, before the batch holding it is sent.
    PublishError
        When a request fails as a whole (for example, access denied), or with
        ``raise_on_failure`` when events failed; ``error.result`` has everything.

    Examples
    --------
    >>> import meshkit as mk
    >>> event = mk.events.DomainEvent(
    ...     source="sales.domain", detail_type="SaleRecorded",
    ...     detail={"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"},
    ... )
    >>> mk.events.publish("SalesEventBus", [event])  # doctest: +SKIP
    PublishResult(sent=1, failed=0, api_calls=1, retried=0)
    """
    # meshkit checks every entry itself (fields, JSON, size), so botocore need not check them again
    client = _aws.client("events", boto3_session, parameter_validation=False)
    registry = registry or contracts.default_registry()
    result = PublishResult()
    prepared = _prepare(events, bus, registry if validate else None, max_bytes)
    if isinstance(events, Sequence):
        prepared = iter(list(prepared))  # a bad event anywhere in a list stops everything
    if check_bus:
        _check_bus(client, bus)
    report = _progress_reporter(progress)
    in_hand: list[_Pending] = []  # read from the input, not yet settled (sent or failed)

    def read() -> Iterator[tuple[_Pending, int]]:
        for item in prepared:
            in_hand.append(item[0])
            yield item

    try:
        for number, batch in enumerate(batches(read(), max_bytes=max_bytes), start=1):
            del in_hand[: len(batch)]  # from here on, each is either delivered or failed
            _send_with_retries(client, batch, result, max_attempts, record, number)
            report(result)
    except PublishError:
        result.unsent.extend(pending.event for pending in in_hand)  # read ahead, not sent
        if isinstance(events, Sequence):
            result.unsent.extend(pending.event for pending, _ in prepared)
        raise
    except ValidationError as err:
        if not result.sent and not result.failed:
            raise
        result.unsent.extend(pending.event for pending in in_hand)
        raise PublishError(  # a bad event deep in a generator: say what went out before it
            f"{err}; {result.sent} events were sent before it (error.result)", result
        ) from err
    finally:
        report(None)
    if raise_on_failure and result.failed:
        codes = sorted({f.error_code for f in result.failed})
        raise PublishError(
            f"{len(result.failed)} of {result.sent + len(result.failed)} events were not "
            f"delivered ({', '.join(codes)}); they are in error.result.failed, to resend or park",
            result,
        )
    return result


@dataclass
class _Pending:
    event: DomainEvent
    entry: dict[str, Any]
    size: int
    attempts: int = 0
    event_id: str | None = None


def _prepare(
    events: Iterable[DomainEvent],
    bus: str,
    registry: contracts.ContractRegistry | None,
    max_bytes: int,
) -> Iterator[tuple[_Pending, int]]:
    """Entries with their sizes; each event checked (fields, contract, size) as it is read."""
    for index, event in enumerate(events):
        if not isinstance(event, DomainEvent):
            raise ValidationError(
                f"event {index} is a {type(event).__name__}, not a DomainEvent: wrap it with "
                "mk.events.DomainEvent(source=..., detail_type=..., detail=...)"
            )
        try:
            entry = event.to_entry(bus)
            if registry is not None:
                registry.get(event.source, event.detail_type, event.schema_version).validate(
                    event.detail
                )
            size = entry_size(entry)
            _check_size(size, max_bytes)
        except ValidationError as err:  # say which event, in a list of thousands
            err.args = (f"event {index} ({event.idempotency_key}): {err}", *err.args[1:])
            raise
        yield _Pending(event, entry, size), size


def _send_with_retries(
    client: Any,
    batch: list[_Pending],
    result: PublishResult,
    max_attempts: int,
    record: bool,
    number: int = 1,
) -> None:
    """Send one batch until each entry is accepted or has failed for good."""
    try:
        pending, attempt = batch, 0
        while pending:
            attempt += 1
            before = (result.sent, len(result.failed), time.monotonic())
            try:
                retrying = _send_once(client, pending, result, max_attempts)
            except PublishError:  # failed as a whole: its entries are in result.failed
                if record:
                    _note_request(result, number, attempt, before, len(pending), [], 0.0)
                raise
            backoff_s = 0.0
            if retrying:
                result.retried += len(retrying)
                tries = max(item.attempts for item in retrying)
                backoff_s = random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**tries))
            if record:
                _note_request(result, number, attempt, before, len(pending), retrying, backoff_s)
            if retrying:
                _sleep(backoff_s)
            pending = retrying
    finally:
        if record:  # also when a request failed as a whole: the ids accepted so far are kept
            result.delivered.extend(
                (item.event.idempotency_key, item.event_id) for item in batch if item.event_id
            )


def _note_request(
    result: PublishResult,
    batch: int,
    attempt: int,
    before: tuple[int, int, float],
    entries: int,
    retrying: list[_Pending],
    backoff_s: float,
) -> None:
    """Add one request to ``result.requests``; ``before`` is (sent, failed, clock) at its start."""
    sent, failed, started = before
    result.requests.append(
        PutEventsRequest(
            batch=batch,
            attempt=attempt,
            started=started,
            finished=time.monotonic(),
            entries=entries,
            accepted=result.sent - sent,
            retrying=len(retrying),
            failed=len(result.failed) - failed,
            backoff_s=backoff_s,
        )
    )


def _send_once(
    client: Any, pending: list[_Pending], result: PublishResult, max_attempts: int
) -> list[_Pending]:
    """One PutEvents request; returns the entries worth another attempt."""
    response = _put_events(client, pending, result)
    retry: list[_Pending] = []
    for item, outcome in zip(pending, response["Entries"], strict=True):
        item.attempts += 1
        if "EventId" in outcome and not outcome.get("ErrorCode"):
            item.event_id = outcome["EventId"]
            result.sent += 1
            result.billable_chunks += billable_chunks(item.size)
        elif outcome.get("ErrorCode") in _RETRYABLE and item.attempts < max_attempts:
            retry.append(item)
        else:
            code = outcome.get("ErrorCode", "Unknown")
            message = outcome.get("ErrorMessage", "")
            result.failed.append(FailedEvent(item.event, code, message, item.attempts))
    return retry


_BACKOFF_BASE_S = 0.05
_BACKOFF_CAP_S = 5.0
_sleep = time.sleep  # replaced in tests


def _put_events(client: Any, pending: list[_Pending], result: PublishResult) -> dict[str, Any]:
    result.api_calls += 1
    try:
        return client.put_events(Entries=[item.entry for item in pending])
    except (ClientError, BotoCoreError) as err:
        if isinstance(err, ClientError):
            code, message = err.response["Error"]["Code"], err.response["Error"].get("Message", "")
        else:  # no answer (timeout, connection lost): the request may or may not have landed
            code, message = "RequestFailed", f"{err} (the events may have been delivered)"
        if code == "ResourceNotFoundException":  # moto's answer for an unknown bus; AWS drops
            _known_buses.clear()
        result.failed.extend(
            FailedEvent(item.event, code, message, item.attempts + 1) for item in pending
        )
        raise PublishError(
            f"PutEvents to {pending[0].entry['EventBusName']} failed as a whole ({code}) after "
            f"{result.sent} events were sent; this request's {len(pending)} events are in "
            "error.result.failed, and events not sent yet are in error.result.unsent (from a "
            "list) or still in your generator",
            result,
        ) from err


def _bus_key(client: Any, bus: str) -> tuple[int, str, str]:
    """Per client, as clients are per session, and sessions may be in different accounts."""
    return (id(client), client.meta.region_name, bus)


def _check_bus(client: Any, bus: str) -> None:
    key = _bus_key(client, bus)
    checked = _known_buses.get(key)
    if checked is not None and time.monotonic() - checked < _BUS_CHECK_TTL_S:
        return
    try:
        client.describe_event_bus(Name=bus)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code in ("AccessDeniedException", "AccessDenied"):
            raise MeshkitError(
                f"cannot check that event bus {bus!r} exists: events:DescribeEventBus is denied. "
                "Allow it, or publish with check_bus=False (then a missing bus drops events)"
            ) from err
        if code != "ResourceNotFoundException":
            raise
        raise UnknownBusError(
            f"event bus {bus!r} does not exist in {client.meta.region_name}: create it with "
            "mk.buses.create_domain_bus(...) first (AWS would accept these events and drop them)"
        ) from err
    _known_buses[key] = time.monotonic()


def _progress_reporter(
    progress: bool | Callable[[PublishResult], None],
) -> Callable[[PublishResult | None], None]:
    """A function called with the result after each request, and with None at the end."""
    if callable(progress):
        callback = progress
        return lambda result: None if result is None else callback(result)
    if not progress:
        return lambda result: None
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise MeshkitError(
            "progress=True needs tqdm: pip install tqdm (or pass a callable)"
        ) from err
    bar = tqdm(unit="event", desc="publishing")

    def report(result: PublishResult | None) -> None:
        if result is None:
            bar.close()
        else:
            bar.update(result.sent + len(result.failed) - bar.n)
            bar.set_postfix(failed=len(result.failed), calls=result.api_calls)

    return report
