"""Domain events: the mesh's envelope, and a publisher that loses nothing.

Every event a domain publishes has the same envelope, set by the platform (federated governance):
the EventBridge ``Detail`` is ``{"metadata": {...}, "data": {...}}``, where ``data`` is the domain's
business payload (checked against its contract) and ``metadata`` carries what every consumer may
rely on: an idempotency key chosen by the producer, a correlation id, the contract's schema version
and the data product the event belongs to.

``publish`` sends events in batches of at most 10 entries (100 on the new Custom Event Bus) and at
most the request-size limit,
resends the entries worth retrying (throttling, internal failures) with exponential backoff and
jitter, and accounts for every event it read: delivered, failed (with the reason) or unsent
(read, never sent, because publishing stopped). It never drops one.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import random
import re
import sys
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

from . import _aws, contracts
from ._shared import (
    ForeignBusError,
    UnknownBusError,
    bus_for_calls,
    check_bus_exists,
    check_custom_bus_exists,
    error_code,
    is_custom_bus_arn,
    parse_bus,
    parse_custom_bus_arn,
)
from .exceptions import MeshkitError, ValidationError

__all__ = [
    "BILLING_CHUNK_BYTES",
    "CLASSIC_ENTRY_LIMIT_BYTES",
    "CUSTOM_BUS_MAX_ENTRIES_PER_CALL",
    "ENTRY_LIMIT_BYTES",
    "MAX_ENTRIES_PER_CALL",
    "DetailError",
    "DomainEvent",
    "EventSizeError",
    "FailedEvent",
    "ForeignBusError",
    "ProgressUnavailableError",
    "PublishError",
    "PublishInterrupted",
    "PublishResult",
    "PutEventsRequest",
    "UnknownBusError",
    "UnsentEvent",
    "batch_plan",
    "batches",
    "billable_chunks",
    "data_product_name",
    "entry_size",
    "publish",
]

MAX_ENTRIES_PER_CALL = 10  # PutEvents: 1-10 entries per request
CUSTOM_BUS_MAX_ENTRIES_PER_CALL = 100  # the new Custom Event Bus's PutEvents: 1-100
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
_SYSTEM_METADATA_MAX = 128  # the new bus's DeduplicationId and EventGroupId
_CUSTOM_BUS_RESOURCES_MAX = 100
_SOURCE_MAX = 256
# Per-entry codes worth retrying, as the PutEventsResultEntry reference lists them; the others
# (InvalidArgument, MalformedDetail, AccessDeniedException, ...) fail the same way every time.
_RETRYABLE = frozenset({"ThrottlingException", "InternalFailure"})
# A mesh convention, not an AWS limit: consumers in any language must be able to parse an event,
# and common parsers stop at 64 levels (System.Text.Json's default MaxDepth); Python's stops
# near 1,000 with a RecursionError.
_MAX_DEPTH = 64
_INT_BITS_CHECKED = 14_000  # ints under about 4,200 digits: Python writes them (limit 4,300)
# The bus is checked at the start of every publish() call (a bus deleted by anyone, any time,
# must not be taken for existing: AWS would drop the events), and again during a long call.
_BUS_RECHECK_S = 60.0
_VERSION = re.compile(r"[0-9]+\.[0-9]+")  # MAJOR.MINOR, as contracts are versioned


class EventSizeError(ValidationError):
    """An event is larger than the entry-size limit; nothing of its batch was sent."""


class DetailError(ValidationError):
    """An event's detail is not data that JSON carries unchanged; ``field`` is where, e.g.
    ``detail.items[2].price``."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class PublishError(MeshkitError):
    """Publishing stopped, or events failed with ``raise_on_failure``.

    ``result`` accounts for every event read from the input: delivered (``result.delivered``),
    failed (``result.failed``, with the reason) or read but never sent (``result.unsent``, to
    publish again). The exception that stopped publishing is chained (``__cause__``).
    """

    def __init__(self, message: str, result: PublishResult) -> None:
        super().__init__(message)
        self.result = result


class ProgressUnavailableError(MeshkitError, ImportError):
    """``publish(progress=True)`` needs rich, which is not installed; nothing was sent.

    An ``ImportError`` too, so that code catching the missing library still catches it.
    """


class PublishInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt (Ctrl-C, or a notebook's "interrupt kernel") stopped ``publish``.

    ``result`` accounts for every event read, as with ``PublishError``. It stays a
    KeyboardInterrupt, not a ``MeshkitError``, so that an ``except Exception`` does not swallow the
    user's request to stop.
    """

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
        satisfy the contract of (source, detail_type, schema_version). Sent as ``data``. It must
        be JSON as it is: string keys (int keys are converted, as ``json`` does, unless two keys
        then collide), finite numbers, text that UTF-8 can encode, at most 64 levels deep.
    idempotency_key : str, optional
        The producer's key for "this business fact": the same sale published twice has the same
        key, so consumers can de-duplicate. Default: a new UUID (a key per event object).
    correlation_id : str, optional
        Ties together the events of one business flow. Default: a new UUID.
    schema_version : str, default "1.0"
        The version of the contract ``detail`` follows, ``"MAJOR.MINOR"`` (a string: the float
        1.10 would be 1.1).
    data_product : str, optional
        The data product the event belongs to; default ``"<domain>.<detail-type in kebab case>"``.
    time : datetime, optional
        When it happened; default: when EventBridge receives it. Set it for reproducible output.
    resources : tuple of str
        ARNs the event concerns.
    event_group : str, optional
        What the event's order matters within (a card, an order): on the new Custom Event Bus,
        its ``EventGroupId``, which a FIFO subscriber delivers in publish order; in the envelope
        as ``metadata.event_group``. At most 128 characters; keep the set of groups bounded.

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
    event_group: str | None = None

    @property
    def domain(self) -> str:
        """The publishing domain: the part of ``source`` before ``.domain``."""
        return self.source.removesuffix(".domain")

    def envelope(self) -> dict[str, Any]:
        """The ``Detail`` EventBridge carries: ``{"metadata": {...}, "data": detail}``.

        Raises ``ValidationError`` for a field that breaks the rules ``to_entry`` checks.

        Examples
        --------
        >>> import meshkit as mk
        >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", {"sale_id": "S-1"})
        >>> sorted(event.envelope())
        ['data', 'metadata']
        """
        self._check_fields()
        return self._envelope()

    def _envelope(self) -> dict[str, Any]:
        metadata = {
            "idempotency_key": self.idempotency_key,
            "correlation_id": self.correlation_id,
            "schema_version": self.schema_version,
            "data_product": self.data_product or data_product_name(self.domain, self.detail_type),
        }
        if self.event_group is not None:
            metadata["event_group"] = self.event_group
        return {"metadata": metadata, "data": dict(self.detail)}

    def to_entry(self, bus: str) -> dict[str, Any]:
        """The PutEvents request entry for ``bus`` (checks the fields, not the contract).

        ``Detail`` is compact JSON with non-ASCII text as itself, not ``\\u`` escapes: EventBridge
        counts an entry's size in UTF-8 bytes of the text, so that is what meshkit measures.

        Raises
        ------
        DetailError
            For a detail JSON would not carry unchanged, naming the field (``detail.<path>``).
        meshkit.exceptions.ValidationError
            For any other field that breaks a rule (missing, wrong type, too long).

        Examples
        --------
        >>> import meshkit as mk
        >>> event = mk.events.DomainEvent(
        ...     "sales.domain", "SaleRecorded", {"city": "Málaga"},
        ...     idempotency_key="k", correlation_id="c",
        ... )
        >>> event.to_entry("SalesEventBus")["Detail"][-25:]
        '"data":{"city":"Málaga"}}'
        """
        self._check_fields()
        _check_json(self.detail)
        try:
            detail = json.dumps(
                self._envelope(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
            )
        except (TypeError, ValueError, RecursionError) as err:  # what _check_json cannot foresee
            raise DetailError(
                f"detail of {self.detail_type} event {self.idempotency_key!r} is not JSON: {err}; "
                "convert it first (str() for datetimes and UUIDs, float() or str() for Decimals)",
                field="detail",
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

    def to_custom_bus_entry(self) -> dict[str, Any]:
        """The entry of the new Custom Event Bus's PutEvents (the bus ARN is the request's).

        As ``to_entry``, without ``EventBusName``, with ``SystemMetadata``: the idempotency key
        as ``DeduplicationId`` (the bus drops a repeat within 5 minutes and answers
        ``DEDUPLICATED``) and ``event_group`` as ``EventGroupId``.

        Raises
        ------
        meshkit.exceptions.ValidationError
            As ``to_entry``, and for what the new bus takes less of: an idempotency key or
            event group over 128 characters, more than 100 resources.

        Examples
        --------
        >>> import meshkit as mk
        >>> event = mk.events.DomainEvent(
        ...     "sales.domain", "SaleRecorded", {"sale_id": "S-1"},
        ...     idempotency_key="sale-S-1", event_group="card-4242",
        ... )
        >>> event.to_custom_bus_entry()["SystemMetadata"]
        {'DeduplicationId': 'sale-S-1', 'EventGroupId': 'card-4242'}
        """
        entry = self.to_entry("")
        del entry["EventBusName"]
        for name, value in (
            ("idempotency_key", self.idempotency_key),
            ("event_group", self.event_group),
        ):
            if value is not None and len(value) > _SYSTEM_METADATA_MAX:
                raise ValidationError(
                    f"{name} is {len(value)} characters; the new Custom Event Bus takes at most "
                    f"{_SYSTEM_METADATA_MAX} (SystemMetadata): shorten it, or hash it "
                    "(hashlib.sha256(key.encode()).hexdigest() is 64)"
                )
        if len(self.resources) > _CUSTOM_BUS_RESOURCES_MAX:
            raise ValidationError(
                f"resources has {len(self.resources)} ARNs; the new Custom Event Bus takes at "
                f"most {_CUSTOM_BUS_RESOURCES_MAX} per event: name the rest in the detail"
            )
        system = {"DeduplicationId": self.idempotency_key}
        if self.event_group is not None:
            system["EventGroupId"] = self.event_group
        entry["SystemMetadata"] = system
        return entry

    def _check_fields(self) -> None:
        for name, value, limit in (
            ("source", self.source, _SOURCE_MAX),
            ("detail_type", self.detail_type, _DETAIL_TYPE_MAX),
        ):
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ValidationError(
                    f"{name} is missing: every event needs a {name} (e.g. source='sales.domain', "
                    "detail_type='SaleRecorded')"
                )
            _check_text(name, value, example="source='sales.domain', detail_type='SaleRecorded'")
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
        _check_key("idempotency_key", self.idempotency_key, example="'sale-recorded/S-1'")
        _check_key("correlation_id", self.correlation_id, example="'checkout-7'")
        _check_version(self.schema_version)
        if self.data_product is not None:
            _check_key("data_product", self.data_product, example="'sales.sale-recorded'")
        if self.event_group is not None:
            _check_key("event_group", self.event_group, example="'card-4242'")
        if self.time is not None and not isinstance(self.time, datetime):
            raise ValidationError(
                f"time must be a datetime, not {type(self.time).__name__}: e.g. "
                "datetime(2026, 1, 29, 10, tzinfo=timezone.utc)"
            )
        resources: Any = self.resources  # typed tuple[str, ...]; callers may pass anything
        if isinstance(resources, str) or not all(isinstance(r, str) for r in resources):
            raise ValidationError(
                "resources must be a tuple of ARN strings, e.g. ('arn:aws:s3:::receipts/S-1',)"
            )
        for resource in self.resources:
            _check_text("resources", resource, example="('arn:aws:s3:::receipts/S-1',)")
        if not isinstance(self.detail, Mapping):
            raise ValidationError(
                "detail must be a dict of the event's business fields, "
                f"not {type(self.detail).__name__}"
            )


def _check_text(name: str, value: str, *, example: str) -> None:
    """A string field's type, and that UTF-8 can encode it (EventBridge's wire and size unit)."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} is {_kind(value)} ({value!r:.40}); it must be a string: e.g. {example}"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValidationError(_surrogate_message(name, value, err)) from err


def _surrogate_message(name: str, text: str, err: UnicodeEncodeError) -> str:
    return (
        f"{name} contains the lone surrogate {text[err.start]!r} at character {err.start}, which "
        "UTF-8 cannot encode and EventBridge cannot carry: it usually comes from bytes decoded "
        "with errors='surrogateescape'; decode them with their real encoding, or drop it"
    )


def _check_key(name: str, value: Any, *, example: str) -> None:
    """A metadata field consumers rely on: a non-empty string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        state = "None" if value is None else "empty"
        raise ValidationError(
            f"{name} is {state}: consumers rely on it, so give a non-empty string, "
            f"e.g. {name}={example}"
        )
    _check_text(name, value, example=f"{name}={example}")


def _check_version(version: Any) -> None:
    if isinstance(version, float):
        raise ValidationError(
            f"schema_version is {version!r}, a float; write it as the string '{version!r}' "
            "(as a float, version 1.10 would be 1.1)"
        )
    _check_key("schema_version", version, example="'1.0'")
    if not _VERSION.fullmatch(version):
        raise ValidationError(
            f"schema_version {version!r} is not MAJOR.MINOR, the form contract versions take: "
            "e.g. schema_version='1.0'"
        )


def _check_json(detail: Mapping[str, Any]) -> None:
    """Refuse a detail that ``json.dumps`` would fail on or change, naming the field.

    Iterative (a 10,000-level nesting is refused, not a RecursionError). json converts int, float,
    bool and None keys to strings; two keys that then collide (``{1: .., "1": ..}``) would leave
    consumers one of them, silently.
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(dict(detail), ())]
    values = 0  # each costs a byte at least: more than the limit cannot fit (nor take forever)
    while stack:
        container, trail = stack.pop()
        values += len(container)
        if values > ENTRY_LIMIT_BYTES:
            raise EventSizeError(
                f"detail holds more than {ENTRY_LIMIT_BYTES:,} values (shared ones counted each "
                f"time JSON would write them), so it is over the {ENTRY_LIMIT_BYTES:,}-byte entry "
                "limit: move bulky fields to S3 and put the object's key in the event"
            )
        if len(trail) >= _MAX_DEPTH:
            raise DetailError(
                f"{_path(trail)} is nested more than {_MAX_DEPTH} levels deep: the mesh's limit, "
                "so that every consumer's JSON parser can read the event; flatten it (or send "
                "it as a string, or by reference)",
                field=_path(trail),
            )
        if isinstance(container, dict):
            keys: dict[str, Any] = {}
            items: Iterable[tuple[Any, Any]] = container.items()
        else:
            items = enumerate(container)
        for key, value in items:
            if isinstance(container, dict):
                name = _json_key(key, trail)
                if name in keys:
                    raise DetailError(
                        f"{_path(trail)} has the keys {keys[name]!r} and {key!r}, which are both "
                        f"{name!r} in JSON: consumers would get only one of them; give them "
                        "distinct string keys",
                        field=_path(trail),
                    )
                keys[name] = key
                key = name
            if isinstance(value, str):
                if not value.isascii():
                    _check_encodable(value, (*trail, key))
            elif value is None or isinstance(value, int):  # bool is an int
                if value is not None and value.bit_length() > _INT_BITS_CHECKED:  # rare
                    _check_int(value, (*trail, key))
            elif isinstance(value, float):
                if not math.isfinite(value):
                    where = _path((*trail, key))
                    raise DetailError(
                        f"{where} is {value!r}, which JSON cannot carry (it has no NaN or "
                        "Infinity): send None, or a string such as 'NaN', and say so in the "
                        "contract",
                        field=where,
                    )
            elif isinstance(value, dict | list | tuple):
                stack.append((value, (*trail, key)))
            else:
                where = _path((*trail, key))
                raise DetailError(
                    f"{where} is {_kind(value)}, which is not JSON: convert it first "
                    "(str() for datetimes and UUIDs, float() or str() for Decimals, dict() for "
                    "other mappings, list() for sets)",
                    field=where,
                )


def _check_int(value: int, trail: tuple[Any, ...]) -> None:
    """Python refuses to write an int of more than sys.get_int_max_str_digits() digits."""
    if value.bit_length() <= _INT_BITS_CHECKED:
        return
    try:
        int.__repr__(value)
    except ValueError as err:
        where = _path(trail)
        raise DetailError(
            f"{where} holds an int of more than {value.bit_length() * 3 // 10:,} digits, more than "
            f"Python writes as text ({err}); send it as a string",
            field=where,
        ) from err


def _json_key(key: Any, trail: tuple[Any, ...]) -> str:
    """The string json.dumps writes for a dict key, or a DetailError for one it cannot write."""
    if isinstance(key, str):
        if not key.isascii():
            _check_encodable(key, trail)
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, int):
        _check_int(key, trail)
        return int.__repr__(key)
    if isinstance(key, float) and math.isfinite(key):
        return float.__repr__(key)
    where = _path(trail)
    raise DetailError(
        f"{where} has the key {key!r} ({type(key).__name__}), which JSON cannot have: JSON keys "
        "are strings; use a string key",
        field=where,
    )


def _check_encodable(text: str, trail: tuple[Any, ...]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        where = _path(trail)
        raise DetailError(_surrogate_message(where, text, err), field=where) from err


def _path(trail: tuple[Any, ...]) -> str:
    """``("items", 2, "price")`` -> ``detail.items[2].price``."""
    return "detail" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in trail)


def _kind(value: Any) -> str:
    """``None``, ``a str``, ``an int``: what a value is, for messages."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


@lru_cache(maxsize=256)
def data_product_name(domain: str, detail_type: str) -> str:
    """The data product an event belongs to by default: ``<domain>.<detail-type in kebab case>``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.events.data_product_name("sales", "SaleRecorded")
    'sales.sale-recorded'
    """
    return f"{domain}.{re.sub(r'(?<!^)(?=[A-Z])', '-', detail_type).lower()}"


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it against the limit.

    14 bytes for a set Time, plus the UTF-8 bytes of Source, DetailType, Detail and each Resource
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html). A field
    left out counts 0.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an entry that is not a mapping, a text field that is not a str (or holds a lone
        surrogate, which UTF-8 cannot encode), or Resources that are not a list of str.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.events.entry_size({"Source": "s", "DetailType": "t", "Detail": '{"city":"Málaga"}'})
    20
    """
    if not isinstance(entry, Mapping):
        raise ValidationError(
            f"entry is {_kind(entry)}; give a PutEvents entry, a dict such as "
            "DomainEvent.to_entry(bus) returns ({'Source': ..., 'DetailType': ..., "
            "'Detail': ...})"
        )
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if key in entry:
            size += _utf8_size(f"entry[{key!r}]", entry[key], "a str")
    resources = entry.get("Resources", ())
    if isinstance(resources, str | bytes) or not isinstance(resources, list | tuple):
        raise ValidationError(
            f"entry['Resources'] is {_kind(resources)}; give a list of ARN strings, "
            "e.g. ['arn:aws:s3:::receipts/S-1']"
        )
    for i, arn in enumerate(resources):
        size += _utf8_size(f"entry['Resources'][{i}]", arn, "a list of ARN strings")
    return size


def _utf8_size(name: str, text: Any, wanted: str) -> int:
    """The UTF-8 bytes of one text field of an entry, or a ValidationError naming it."""
    if not isinstance(text, str):
        hint = "; decode it (.decode('utf-8'))" if isinstance(text, bytes | bytearray) else ""
        raise ValidationError(
            f"{name} is {_kind(text)}; give {wanted} (as DomainEvent.to_entry(bus) "
            f"makes them){hint}"
        )
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as err:
        raise ValidationError(_surrogate_message(name, text, err)) from err


def billable_chunks(size: int) -> int:
    """What an entry of ``size`` bytes is billed as: one event per started 64 KB chunk.

    At least one event per entry (an empty one included); integer arithmetic, exact for any
    size (https://aws.amazon.com/eventbridge/pricing/).

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a size that is not an int of at least 0 (a bool, a float, a negative number).

    Examples
    --------
    >>> import meshkit as mk
    >>> [mk.events.billable_chunks(size) for size in (300, 65_536, 65_537, 200 * 1024)]
    [1, 1, 2, 4]
    """
    if not _is_size(size):
        raise ValidationError(
            f"size is {size!r:.40} ({_kind(size)}); give the entry's size in bytes, an int of at "
            "least 0 (mk.events.entry_size(entry) measures it)"
        )
    return max(1, -(-size // BILLING_CHUNK_BYTES))


def _is_size(size: Any) -> bool:
    """A size in bytes: an int of at least 0, not a bool."""
    return isinstance(size, int) and not isinstance(size, bool) and size >= 0


def batch_plan(
    events: Iterable[DomainEvent],
    bus: str,
    *,
    max_bytes: int = ENTRY_LIMIT_BYTES,
    registry: contracts.ContractRegistry | None = None,
    validate: bool = True,
) -> pd.DataFrame:
    """How ``publish`` would send ``events``: its requests, and each entry's size and billing.

    Nothing is sent. Arguments and events are checked as ``publish`` checks them (fields,
    contract, size) and grouped, in order, into requests of at most 10 entries (100 for an ARN
    of the new Custom Event Bus) and ``max_bytes``.

    Returns
    -------
    pandas.DataFrame
        One row per event, in input order: ``request`` (1 for the first request),
        ``idempotency_key``, ``bytes`` (the entry's size as EventBridge counts it: UTF-8) and
        ``chunks`` (the 64 KB chunks it is billed as).

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument or event, naming it.

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
    entry_of, max_entries = _entries_for(bus)
    source = _check_events(events)
    _check_max_bytes(max_bytes)
    _check_flag("validate", validate)
    lookup = _ContractLookup(_check_registry(registry)) if validate else None
    prepared = (_prepare(i, event, entry_of, lookup, max_bytes) for i, event in enumerate(source))
    rows = [
        (number, pending.event.idempotency_key, pending.size, billable_chunks(pending.size))
        for number, batch in enumerate(
            _group(((p, p.size) for p in prepared), max_entries, max_bytes), start=1
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

    Raises ``EventSizeError`` for an item larger than ``max_bytes`` on its own, and
    ``ValidationError`` at once for limits out of range or input that is not iterable, and when
    it is read for an element that is not an ``(item, size)`` pair with an int size of at least 0.

    Examples
    --------
    >>> import meshkit as mk
    >>> [len(b) for b in mk.events.batches([("a", 600), ("b", 600), ("c", 300)], max_bytes=1000)]
    [1, 2]
    """
    if isinstance(max_entries, bool) or not isinstance(max_entries, int):
        raise ValidationError(
            f"max_entries is {_kind(max_entries)}; give an int from 1 to {MAX_ENTRIES_PER_CALL}"
        )
    if not 1 <= max_entries <= MAX_ENTRIES_PER_CALL:
        raise ValidationError(
            f"max_entries is {max_entries}; PutEvents takes 1 to {MAX_ENTRIES_PER_CALL} entries "
            "per request: give a number in that range"
        )
    _check_max_bytes(max_bytes)
    if isinstance(sized, Mapping):
        raise ValidationError(
            f"sized is {_kind(sized)}; give (item, size) pairs: pass sized.items() for a dict "
            "of item -> size"
        )
    try:
        pairs = iter(sized)
    except TypeError as err:
        raise ValidationError(
            f"sized is {_kind(sized)}, which is not iterable; give (item, size) pairs, "
            "e.g. [('a', 600), ('b', 300)]"
        ) from err
    return _group(_checked_pairs(pairs, max_bytes), max_entries, max_bytes)


def _checked_pairs(pairs: Iterator[Any], max_bytes: int) -> Iterator[tuple[Any, int]]:
    """``batches``' input, each element checked as it is read: an (item, size) pair that fits."""
    for index, pair in enumerate(pairs):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            what = (
                f"{_kind(pair)} of {len(pair)}" if isinstance(pair, tuple | list) else _kind(pair)
            )
            raise ValidationError(
                f"sized[{index}] is {what}, not an (item, size) pair; give pairs, e.g. "
                "[('a', 600), ('b', 300)]"
            )
        item, size = pair
        if not _is_size(size):
            raise ValidationError(
                f"sized[{index}] has the size {size!r:.40} ({_kind(size)}); give a size in "
                "bytes: an int of at least 0 (mk.events.entry_size(entry) for an entry)"
            )
        yield item, _check_size(size, max_bytes)


def _group(
    sized: Iterable[tuple[Any, int]], max_entries: int, max_bytes: int
) -> Iterator[list[Any]]:
    """``batches`` without the size check, for items checked already."""
    batch: list[Any] = []
    batch_bytes = 0
    for item, size in sized:
        if batch and (len(batch) == max_entries or batch_bytes + size > max_bytes):
            yield batch
            batch, batch_bytes = [], 0
        batch.append(item)
        batch_bytes += size
    if batch:
        yield batch


def _check_size(size: int, max_bytes: int) -> int:
    if size > max_bytes:
        raise EventSizeError(
            f"an event of {size:,} bytes is over the {max_bytes:,}-byte entry limit (max_bytes): "
            "move bulky fields to S3 and put the object's key in the event (claim-check pattern)"
        )
    return size


@dataclass(frozen=True)
class FailedEvent:
    """An event that was not delivered, with the reason.

    ``error_code`` is AWS's code on the last attempt (``ThrottlingException``, ...), meshkit's
    ``RequestFailed`` or ``RequestInterrupted`` for a request that got no answer (the event may
    have been delivered), or, with ``attempts`` 0, the meshkit error that refused the event
    before sending it (``ContractViolation``, ``DetailError``, ...).

    Examples
    --------
    >>> import meshkit as mk
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", {}, idempotency_key="k")
    >>> mk.events.FailedEvent(event, "ThrottlingException", "Rate exceeded", 4).attempts
    4
    """

    event: DomainEvent
    error_code: str
    error_message: str
    attempts: int


@dataclass(frozen=True)
class UnsentEvent:
    """An event read from the input but never sent, because publishing stopped: send it again.

    Examples
    --------
    >>> import meshkit as mk
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", {}, idempotency_key="k")
    >>> mk.events.UnsentEvent(event, "publishing stopped").event.idempotency_key
    'k'
    """

    event: DomainEvent
    reason: str


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

    Examples
    --------
    >>> import meshkit as mk
    >>> request = mk.events.PutEventsRequest(
    ...     batch=1, attempt=2, started=10.0, finished=10.25, entries=3, accepted=3,
    ...     retrying=0, failed=0,
    ... )
    >>> request.finished - request.started
    0.25
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
    """What ``publish`` did, for every event it read.

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
    unsent : list of UnsentEvent
        Events read from the input but never sent because publishing stopped (see
        ``PublishError``), each with the reason: all the rest of a list; of a generator, the few
        read ahead (the rest are still in the generator). Publish them again.
    requests : list of PutEventsRequest
        Every PutEvents request, in the order made (empty with ``record=False``); see
        ``timeline_frame``.
    deduplicated : list of str
        The idempotency keys of events the new Custom Event Bus recognised as repeats of events
        it accepted in the last 5 minutes (``SuccessCode`` ``DEDUPLICATED``): a success, not
        counted in ``sent``.

    Examples
    --------
    >>> import meshkit as mk
    >>> result = mk.events.PublishResult(sent=2, api_calls=1, billable_chunks=2)
    >>> result, result.ok, result.estimated_cost_usd
    (PublishResult(sent=2, failed=0, api_calls=1, retried=0), True, 2e-06)
    """

    sent: int = 0
    failed: list[FailedEvent] = field(default_factory=list)
    api_calls: int = 0
    retried: int = 0
    billable_chunks: int = 0
    delivered: list[tuple[str, str]] = field(default_factory=list)
    unsent: list[UnsentEvent] = field(default_factory=list)
    requests: list[PutEventsRequest] = field(default_factory=list)
    deduplicated: list[str] = field(default_factory=list)

    @property
    def event_ids(self) -> list[str]:
        """The ids EventBridge gave the accepted events, in input order."""
        return [event_id for _, event_id in self.delivered]

    @property
    def ok(self) -> bool:
        """True when every event read was accepted."""
        return not self.failed and not self.unsent

    @property
    def estimated_cost_usd(self) -> float:
        """What the accepted events cost to publish, at USD 1.00 per million 64 KB chunks.

        Custom Event Bus - Classic's price; 0 for the new Custom Event Bus, priced per KB.
        """
        return self.billable_chunks * USD_PER_MILLION_EVENTS / 1_000_000

    def outcomes_frame(self) -> pd.DataFrame:
        """One row per event read: what became of it.

        Returns
        -------
        pandas.DataFrame
            Columns ``idempotency_key``, ``status`` (``sent``, ``deduplicated``, ``failed`` or
            ``unsent``),
            ``event_id`` (for a sent event) and ``error_code`` (for a failed one).

        Examples
        --------
        >>> import meshkit as mk
        >>> result = mk.events.PublishResult(sent=1, delivered=[("sale-S-1", "e-1")])
        >>> result.outcomes_frame().to_dict("records")
        [{'idempotency_key': 'sale-S-1', 'status': 'sent', 'event_id': 'e-1', 'error_code': None}]
        """
        rows: list[tuple[str, str, str | None, str | None]] = [
            (key, "sent", event_id, None) for key, event_id in self.delivered
        ]
        rows += [(key, "deduplicated", None, None) for key in self.deduplicated]
        rows += [(f.event.idempotency_key, "failed", None, f.error_code) for f in self.failed]
        rows += [(u.event.idempotency_key, "unsent", None, None) for u in self.unsent]
        return pd.DataFrame(rows, columns=["idempotency_key", "status", "event_id", "error_code"])

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
        >>> failed = mk.events.FailedEvent(event, "ThrottlingException", "Rate exceeded", 4)
        >>> mk.events.PublishResult(failed=[failed]).failures_frame()
          idempotency_key   detail_type           error_code  attempts
        0               k  SaleRecorded  ThrottlingException         4
        """
        return pd.DataFrame(
            [
                (f.event.idempotency_key, f.event.detail_type, f.error_code, f.attempts)
                for f in self.failed
            ],
            columns=["idempotency_key", "detail_type", "error_code", "attempts"],
        )

    def timeline_frame(self) -> pd.DataFrame:
        """The PutEvents requests, one row each, in the order made.

        Times are wall-clock: they differ from run to run.

        Returns
        -------
        pandas.DataFrame
            Columns ``batch``, ``attempt``, ``start_s`` and ``end_s`` (seconds since the first
            request was sent), ``entries``, ``accepted``, ``retrying`` (to be sent again),
            ``failed`` (given up on) and ``backoff_s`` (the pause before the batch's next
            attempt).

        Examples
        --------
        >>> import meshkit as mk
        >>> request = mk.events.PutEventsRequest(
        ...     batch=1, attempt=1, started=10.0, finished=10.25, entries=10, accepted=10,
        ...     retrying=0, failed=0,
        ... )
        >>> mk.events.PublishResult(requests=[request]).timeline_frame()[["batch", "end_s"]]
           batch  end_s
        0      1   0.25
        """
        origin = self.requests[0].started if self.requests else 0.0
        rows = [
            (r.batch, r.attempt, r.started - origin, r.finished - origin, r.entries,
             r.accepted, r.retrying, r.failed, r.backoff_s)
            for r in self.requests
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=_TIMELINE_COLUMNS)

    def __repr__(self) -> str:
        unsent = f", unsent={len(self.unsent)}" if self.unsent else ""  # only when it happened
        if self.deduplicated:
            unsent = f", deduplicated={len(self.deduplicated)}{unsent}"
        return (
            f"PublishResult(sent={self.sent}, failed={len(self.failed)}{unsent}, "
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

    Every argument is checked before the first request. Every event read is accounted for in the
    result: delivered, failed (with the reason) or, when publishing stops, unsent.

    Parameters
    ----------
    bus : str
        Name or ARN of the event bus. An ARN must be in the account and region of the session
        that publishes (the target's, or ``boto3_session``'s). Checked first: AWS silently drops
        events sent to a bus that does not exist. An ARN of the new Custom Event Bus
        (``...:event-busv2/<name>/<id>``, from ``mk.custom_bus.create_bus``, or shared with the
        session's account) publishes with its API (real AWS only): up to 100 entries a
        request, each event's idempotency key as its ``DeduplicationId`` and its
        ``event_group`` as its ``EventGroupId``; a repeat within 5 minutes is
        ``result.deduplicated``, not sent twice.
    events : iterable of DomainEvent
        Any iterable but a str or a dict. A list is checked whole before anything is sent; a
        generator is streamed, with memory bounded by one batch (plus the failures, which are
        kept).
    registry : ContractRegistry, optional
        Where contracts are looked up; default ``mk.contracts.default_registry()``.
    validate : bool, default True
        Check each event's data against its contract before sending.
    max_bytes : int, default ENTRY_LIMIT_BYTES (1 MB)
        Limit for one entry and for one request, 1 to ``ENTRY_LIMIT_BYTES``;
        ``CLASSIC_ENTRY_LIMIT_BYTES`` (256 KB) for accounts or tools still on the old limit.
        Sizes are UTF-8 bytes, as EventBridge counts them.
    max_attempts : int, default 4
        Attempts per entry (at least 1) for retryable failures (throttling, internal errors), with
        exponential backoff and full jitter between them. Other failures are not retried.
    raise_on_failure : bool, default False
        Raise ``PublishError`` (with the result attached) instead of returning failures.
    record : bool, default True
        Keep each accepted event's key and id in ``result.delivered``; False keeps memory flat.
    check_bus : bool, default True
        Check (``events:DescribeEventBus``) that the bus exists: once per call, and again every
        minute of a long one, never remembered across calls (a bus deleted meanwhile, by anyone,
        would drop the events). Turn it off only when your role may not describe the bus.
    progress : bool or callable, default False
        True shows a progress bar (rich, part of ``meshkit[lab]``); a callable is called with
        the running result after each request.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    PublishResult

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument, a bad event in a list (missing source, detail-type too long, data
        that is not JSON or breaks its contract, an oversized event), or, offline, a bus ARN of
        another account or region (``ForeignBusError``: moto would use the local bus of that
        name; on real AWS the ARN goes to AWS, which applies the bus's policy): nothing was sent.
    meshkit.exceptions.CustomBusUnavailableError
        For a bus of the new Custom Event Bus on the embedded AWS, which cannot serve it:
        nothing was sent.
    UnknownBusError
        When the bus does not exist (AWS would accept the events and drop them): nothing was
        sent.
    PublishError
        When publishing stops after it started reading a generator (a bad event, an exception
        from the generator), when a request fails as a whole (for example, access denied), or
        with ``raise_on_failure`` when events failed; ``error.result`` has every event read, and
        the cause is chained.
    PublishInterrupted
        A KeyboardInterrupt during publishing, with ``result`` as for ``PublishError``.
    BaseException
        Any other exception that is not an ``Exception`` (``SystemExit``, asyncio's
        ``CancelledError``, ...), from the input or the progress callback, is re-raised as it
        is, so that it still does what it does, with ``result`` (as for ``PublishError``) set on
        it as an attribute and a note saying so.

    Examples
    --------
    >>> import meshkit as mk
    >>> event = mk.events.DomainEvent(
    ...     source="sales.domain", detail_type="SaleRecorded",
    ...     detail={"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"},
    ... )
    >>> bus = mk.buses.create_domain_bus("doctest")
    >>> mk.events.publish("DoctestEventBus", [event])
    PublishResult(sent=1, failed=0, api_calls=1, retried=0)
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    entry_of, max_entries = _entries_for(bus)
    source = _check_events(events)
    _check_max_bytes(max_bytes)
    _check_max_attempts(max_attempts)
    for name, flag in (
        ("validate", validate),
        ("raise_on_failure", raise_on_failure),
        ("record", record),
        ("check_bus", check_bus),
    ):
        _check_flag(name, flag)
    lookup = _ContractLookup(_check_registry(registry)) if validate else None
    bar = _check_progress(progress)
    if boto3_session is not None and not isinstance(boto3_session, boto3.Session):
        raise ValidationError(
            f"boto3_session is {_kind(boto3_session)}; give a boto3.Session (e.g. "
            "mk.iam.assume_role(...)), or None for the target's session"
        )
    channel = _channel(bus, boto3_session)
    entry_of = channel.entry_of  # offline, a Classic bus's own ARN becomes its name
    listed = isinstance(events, Sequence)
    if listed:  # a bad event anywhere in a list stops everything before anything is sent
        source = iter(
            [_prepare(i, event, entry_of, lookup, max_bytes) for i, event in enumerate(source)]
        )
    if check_bus:
        channel.check_exists()
    checked_at = _clock()
    result = PublishResult()
    in_hand: list[_Pending] = []  # read, not settled yet: the batch being sent, and the next
    stop = _Stop()

    def read() -> Iterator[tuple[_Pending, int]]:
        for index in itertools.count():
            try:
                item = next(source)
            except StopIteration:
                return
            except BaseException:  # KeyboardInterrupt, SystemExit, ... from the iterable too
                stop.input_failed_after = index
                raise
            if not listed:
                try:
                    item = _prepare(index, item, entry_of, lookup, max_bytes)
                except MeshkitError:
                    stop.refused = item
                    raise
            in_hand.append(item)
            yield item, item.size

    report = _progress_reporter(progress, bar)
    try:
        for number, batch in enumerate(_group(read(), max_entries, max_bytes), start=1):
            if check_bus and _clock() - checked_at >= _BUS_RECHECK_S:  # a long call: again
                channel.check_exists()
                checked_at = _clock()
            _send_with_retries(channel, batch, result, max_attempts, record, number)
            del in_hand[: len(batch)]  # each one is delivered or failed now
            report(result)
    except BaseException as err:  # SystemExit, asyncio's CancelledError, ...: accounted for too
        unsettled = [*in_hand, *(source if listed else ())]  # of a list: the rest of it too
        stopped = _stopped(err, result, unsettled, stop, streamed=not listed)
        if stopped is err:
            raise
        raise stopped from err
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


def _entries_for(bus: Any) -> tuple[Callable[[DomainEvent], dict[str, Any]], int]:
    """How an event becomes an entry for ``bus`` (checked), and the entries a request takes."""
    if is_custom_bus_arn(bus):
        parse_custom_bus_arn(bus)
        return DomainEvent.to_custom_bus_entry, CUSTOM_BUS_MAX_ENTRIES_PER_CALL
    parse_bus(bus)
    return lambda event: event.to_entry(bus), MAX_ENTRIES_PER_CALL


@dataclass(frozen=True)
class _Channel:
    """Where ``publish`` sends: a Classic bus (events API) or a new Custom Event Bus."""

    client: Any
    bus: str  # the name or ARN the requests carry
    custom: bool

    @property
    def entry_of(self) -> Callable[[DomainEvent], dict[str, Any]]:
        bus = self.bus
        if self.custom:
            return DomainEvent.to_custom_bus_entry
        return lambda event: event.to_entry(bus)

    def check_exists(self) -> None:
        if self.custom:
            check_custom_bus_exists(self.client, self.bus)
        else:
            check_bus_exists(self.client, self.bus)

    def request(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        """The PutEvents request of ``entries``; on the new bus, checked against its model."""
        if not self.custom:
            return {"Entries": entries}
        # checks is a leaf module (botocore and meshkit's exceptions only): no import cycle
        from .custom_bus import checks

        return checks.check_request("PutEvents", {"EventBusArn": self.bus, "Entries": entries})


def _channel(bus: str, boto3_session: boto3.Session | None) -> _Channel:
    if is_custom_bus_arn(bus):
        return _Channel(_aws.eventbridgev2_client(boto3_session), bus, custom=True)
    # meshkit checks every entry itself (fields, JSON, size), so botocore need not check them again
    client = _aws.publishing_client(boto3_session)
    return _Channel(client, bus_for_calls(parse_bus(bus), client, boto3_session), custom=False)


@dataclass(slots=True)
class _Pending:
    event: DomainEvent
    entry: dict[str, Any]
    size: int
    attempts: int = 0  # requests that carried it, the one in flight included
    answered: int = 0  # of those, requests that got an answer
    event_id: str | None = None
    last_error: tuple[str, str] = ("", "")  # the retryable failure it waits to retry
    settled: bool = False  # delivered, or in result.failed


@dataclass
class _Stop:
    """What stopped the reading of the input, when it was the input."""

    input_failed_after: int | None = None  # events read before the iterable raised
    refused: Any = None  # the item meshkit refused


def _stopped(
    err: BaseException,
    result: PublishResult,
    unsettled: Iterable[_Pending],
    stop: _Stop,
    *,
    streamed: bool,
) -> BaseException:
    """Put every event read and not settled in the result; return the exception to raise."""
    if stop.input_failed_after is not None:
        cause = (
            f"your events iterable raised {type(err).__name__}: {err} (after yielding "
            f"{stop.input_failed_after} events)"
        )
    elif isinstance(err, MeshkitError):
        cause = str(err)
    else:
        cause = f"{type(err).__name__}: {err}"
    if isinstance(stop.refused, DomainEvent):
        result.failed.append(FailedEvent(stop.refused, type(err).__name__, str(err), 0))
    _settle(unsettled, result, f"publishing stopped before it was sent ({cause[:200]})")
    if isinstance(err, PublishError) and stop.input_failed_after is None:
        return err  # a request failed as a whole: its message and result say it all
    counts = (
        f"{result.sent} events were sent before it, {len(result.failed)} failed and "
        f"{len(result.unsent)} were read but not sent (error.result.unsent: publish them again)"
    )
    if streamed and stop.input_failed_after is None:
        counts += "; the events not read yet are still in your iterable"
    in_flight = (
        "an event whose request was in flight is in error.result.failed as RequestInterrupted "
        "(it may have been delivered)"
    )
    if isinstance(err, KeyboardInterrupt):
        return PublishInterrupted(f"publishing was interrupted: {counts}; {in_flight}", result)
    if not isinstance(err, Exception):
        # Not wrapped: SystemExit must keep its code, a CancelledError must still cancel.
        err.result = result  # type: ignore[attr-defined]
        if sys.version_info >= (3, 11):  # notes are shown from 3.11 on
            err.add_note(f"meshkit.events.publish stopped: {counts}; {in_flight}")
        return err
    return PublishError(f"{cause}; {counts}", result)


def _settle(unsettled: Iterable[_Pending], result: PublishResult, reason: str) -> None:
    """Each event read but neither delivered nor failed: unsent if never sent, else failed."""
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
                    f"{reason}, while its PutEvents request was in flight: it may have been "
                    "delivered",
                    item.attempts,
                )
            )
        else:  # refused with a retryable code, waiting for its next attempt
            code, message = item.last_error
            result.failed.append(
                FailedEvent(item.event, code, f"{message} (not retried: {reason})", item.attempts)
            )


class _ContractLookup:
    """The contracts of one ``publish`` call, each looked up in the registry once."""

    def __init__(self, registry: contracts.ContractRegistry) -> None:
        self.registry = registry
        self.found: dict[tuple[str, str, str], contracts.Contract] = {}

    def __call__(self, event: DomainEvent) -> contracts.Contract:
        # Fields checked already (to_entry): three str, so the key hashes as the registry's.
        key = (event.source, event.detail_type, event.schema_version)
        contract = self.found.get(key)
        if contract is None:
            contract = self.found[key] = self.registry.get(*key)
        return contract


def _prepare(
    index: int,
    event: Any,
    entry_of: Callable[[DomainEvent], dict[str, Any]],
    lookup: _ContractLookup | None,
    max_bytes: int,
) -> _Pending:
    """The entry of one event, checked (fields, JSON, contract, size) as it is read."""
    if not isinstance(event, DomainEvent):
        raise ValidationError(
            f"event {index} is {_kind(event)}, not a DomainEvent: wrap it with "
            "mk.events.DomainEvent(source=..., detail_type=..., detail=...)"
        )
    try:
        entry = entry_of(event)
        if lookup is not None:
            lookup(event).validate(event.detail)
        size = _check_size(_entry_bytes(entry), max_bytes)
    except ValidationError as err:  # say which event, in a list of thousands
        key = event.idempotency_key
        label = key.encode("utf-8", "backslashreplace").decode() if isinstance(key, str) else key
        err.args = (f"event {index} ({label}): {err}", *err.args[1:])
        raise
    return _Pending(event, entry, size)


def _entry_bytes(entry: dict[str, Any]) -> int:
    """``entry_size`` of an entry ``to_entry`` made: its text fields are known to be UTF-8."""
    size = _TIME_BYTES if "Time" in entry else 0
    for text in (
        entry["Source"],
        entry["DetailType"],
        entry["Detail"],
        *entry.get("Resources", ()),
    ):
        size += len(text) if text.isascii() else len(text.encode("utf-8"))
    return size


# -- arguments ------------------------------------------------------------------------------------


def _check_events(events: Any) -> Iterator[Any]:
    if isinstance(events, DomainEvent):
        raise ValidationError(
            "events is one DomainEvent; publish takes an iterable of them: pass [event]"
        )
    if events is None or isinstance(events, str | bytes | bytearray | Mapping):
        raise ValidationError(
            f"events is {_kind(events)}; give a list (or any iterable) of mk.events.DomainEvent, "
            "e.g. [mk.events.DomainEvent(source=..., detail_type=..., detail=...)]"
        )
    try:
        return iter(events)
    except TypeError as err:
        raise ValidationError(
            f"events is {_kind(events)}, which is not iterable; give a list (or any "
            "iterable) of mk.events.DomainEvent"
        ) from err


def _check_max_bytes(max_bytes: Any) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
        raise ValidationError(
            f"max_bytes is {_kind(max_bytes)} ({max_bytes!r:.40}); give an int number "
            f"of bytes up to ENTRY_LIMIT_BYTES ({ENTRY_LIMIT_BYTES:,}), e.g. "
            "max_bytes=mk.events.CLASSIC_ENTRY_LIMIT_BYTES"
        )
    if not 0 < max_bytes <= ENTRY_LIMIT_BYTES:
        raise ValidationError(
            f"max_bytes is {max_bytes:,}; it must be more than 0 and at most the AWS entry "
            f"limit, ENTRY_LIMIT_BYTES ({ENTRY_LIMIT_BYTES:,}): EventBridge refuses larger "
            "entries and requests"
        )


def _check_max_attempts(max_attempts: Any) -> None:
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int):
        raise ValidationError(
            f"max_attempts is {_kind(max_attempts)} ({max_attempts!r:.40}); give an "
            "int of at least 1, e.g. max_attempts=3"
        )
    if max_attempts < 1:
        raise ValidationError(
            f"max_attempts is {max_attempts}; give at least 1 (1 sends each event once, "
            "without retries)"
        )


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(f"{name} is {_kind(value)} ({value!r:.40}); give True or False")


def _check_registry(registry: Any) -> contracts.ContractRegistry:
    if registry is None:
        return contracts.default_registry()
    if not isinstance(registry, contracts.ContractRegistry):
        raise ValidationError(
            f"registry is {_kind(registry)}; give a mk.contracts.ContractRegistry, "
            "or None for the default one (mk.contracts.default_registry())"
        )
    return registry


def _check_progress(progress: Any) -> Any:
    """rich's Progress class for progress=True, else None; refuses what is neither a bool nor
    callable. (rich draws the CLI's bars too: one progress library across meshkit.)"""
    if progress is True:
        try:
            from rich.progress import Progress
        except ImportError as err:
            raise ProgressUnavailableError(
                "progress=True needs rich, which is not installed: pip install rich (it comes "
                "with meshkit[lab]), or pass progress=False, or a callable"
            ) from err
        return Progress
    if progress is False or callable(progress):
        return None
    raise ValidationError(
        f"progress is {_kind(progress)} ({progress!r:.40}); give True (a progress "
        "bar), False, or a function called with the running PublishResult after each request"
    )


# -- sending --------------------------------------------------------------------------------------
def _send_with_retries(
    channel: _Channel,
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
                retrying = _send_once(channel, pending, result, max_attempts)
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
                (item.event.idempotency_key, item.event_id)
                for item in batch
                if item.event_id is not None
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
    channel: _Channel, pending: list[_Pending], result: PublishResult, max_attempts: int
) -> list[_Pending]:
    """One PutEvents request; returns the entries worth another attempt."""
    request = channel.request([item.entry for item in pending])  # refused: none was sent
    for item in pending:
        item.attempts += 1  # before the request: an interrupted request counts as an attempt
    response = _put_events(channel, request, pending, result)
    retry: list[_Pending] = []
    for item, outcome in zip(pending, response["Entries"], strict=True):
        item.answered = item.attempts
        code = outcome.get("ErrorCode")
        if not code and outcome.get("SuccessCode") == "DEDUPLICATED":  # the new bus: a repeat
            item.settled = True
            result.deduplicated.append(item.event.idempotency_key)
        elif not code and ("EventId" in outcome or "SuccessCode" in outcome):
            item.event_id = outcome.get("EventId", "")
            item.settled = True
            result.sent += 1
            if not channel.custom:  # the new bus is priced per KB, not per 64 KB chunk
                result.billable_chunks += max(1, -(-item.size // BILLING_CHUNK_BYTES))
        elif code in _RETRYABLE and item.attempts < max_attempts:
            item.last_error = (code, outcome.get("ErrorMessage", ""))
            retry.append(item)
        else:
            message = outcome.get("ErrorMessage", "")
            item.settled = True
            result.failed.append(FailedEvent(item.event, code or "Unknown", message, item.attempts))
    return retry


_BACKOFF_BASE_S = 0.05
_BACKOFF_CAP_S = 5.0
_sleep = time.sleep  # replaced in tests
_clock = time.monotonic  # replaced in tests: when the bus was last checked


def _put_events(
    channel: _Channel, request: dict[str, Any], pending: list[_Pending], result: PublishResult
) -> dict[str, Any]:
    result.api_calls += 1
    try:
        response: dict[str, Any] = channel.client.put_events(**request)
        return response
    except (ClientError, BotoCoreError) as err:
        if isinstance(err, ClientError):
            code, message = error_code(err), err.response["Error"].get("Message", "")
        else:  # no answer (timeout, connection lost): the request may or may not have landed
            code, message = "RequestFailed", f"{err} (the events may have been delivered)"
        for item in pending:
            item.settled = True
            result.failed.append(FailedEvent(item.event, code, message, item.attempts))
        raise PublishError(
            f"PutEvents to {channel.bus} failed as a whole ({code}) after "
            f"{result.sent} events were sent; this request's {len(pending)} events are in "
            "error.result.failed, the events read but not sent in error.result.unsent (all the "
            "rest of a list), and a generator's unread events are still in it",
            result,
        ) from err


def _progress_reporter(
    progress: bool | Callable[[PublishResult], None], progress_class: Any
) -> Callable[[PublishResult | None], None]:
    """A function called with the result after each request, and with None at the end."""
    if callable(progress):
        callback = progress
        return lambda result: None if result is None else callback(result)
    if not progress:
        return lambda result: None
    from rich.console import Console
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console()
    # rich animates a bar in Jupyter through ipywidgets; without it, print the last line
    if console.is_jupyter and importlib.util.find_spec("ipywidgets") is None:
        console = Console(force_jupyter=False, force_terminal=False)
    bar = progress_class(
        SpinnerColumn(),
        TextColumn(
            "publishing: {task.completed} events, {task.fields[failed]} failed, "
            "{task.fields[calls]} PutEvents calls"
        ),
        TimeElapsedColumn(),
        console=console,
    )
    task = bar.add_task("publishing", total=None, failed=0, calls=0)
    bar.start()

    def report(result: PublishResult | None) -> None:
        if result is None:
            bar.stop()
        else:
            done = result.sent + len(result.failed)
            bar.update(task, completed=done, failed=len(result.failed), calls=result.api_calls)

    return report
