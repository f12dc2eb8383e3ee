"""Archive and replay (EventBridge Classic): backfill a consumer that joins the mesh late.

A domain archives the events of its bus (``create_archive``); a consumer that subscribes later
asks for the archived events to be sent again (``replay``) to its own rule only, so that the
other consumers, who already have them, are not sent them twice. Replayed events carry a
``replay-name`` field (``replay_name``), and consumers stay idempotent on the producer's key
(``detail.metadata.idempotency_key``, see ``meshkit.consumers.idempotent_batch_handler``), since a
replay may repeat events they already processed.

EventBridge cannot tag an archive (there is no ``Tags`` on CreateArchive, and TagResource takes
buses and rules, not archives), so meshkit writes its ownership in the archive's ``Description``:
``meshkit:workbook=true; meshkit:domain=sales; meshkit:owner=sales-team``. ``delete_archive``
deletes only archives that carry that marker.

On the embedded AWS (moto), StartReplay is synchronous and ignores the time window and the rules
asked for (``Destination.FilterArns``): it sends every archived event to every rule of the bus
(parity ledger P19). So offline, ``replay`` refuses (``ReplayNotHonouredOfflineError``) any
request moto would not honour, rather than show a result AWS would not give; what moto does
honour, the whole archive to every enabled rule, runs for real.

AWS pages: CreateArchive and StartReplay in the EventBridge API Reference; "Archiving and
replaying events" in the EventBridge User Guide.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import (
    DOMAIN_TAG,
    OWNER_TAG,
    WORKBOOK_TAG,
    UnknownBusError,
    error_code,
    eventbridge_tags,
    own_bus_name,
    parse_bus,
    session_account,
)
from ..exceptions import (
    ConflictError,
    MeshkitError,
    NotFoundError,
    NotMeshkitResourceError,
    TargetError,
    ValidationError,
)
from ..patterns import check_pattern, pattern_json

__all__ = [
    "ARCHIVE_NAME_MAX",
    "DEFAULT_RETENTION_DAYS",
    "DEFAULT_TIMEOUT_S",
    "REPLAY_NAME_MAX",
    "ArchiveConflictError",
    "NotMeshkitArchiveError",
    "NotMeshkitBusError",
    "ReplayExistsError",
    "ReplayInProgressError",
    "ReplayNotHonouredOfflineError",
    "ReplayResult",
    "ReplayTimeoutError",
    "UnknownArchiveError",
    "UnknownBusError",
    "UnknownRuleError",
    "archive_owner",
    "create_archive",
    "delete_archive",
    "replay",
    "replay_name",
]

_logger = logging.getLogger(__name__)

ARCHIVE_NAME_MAX = 48  # CreateArchive ArchiveName: 1-48 of [.\-_A-Za-z0-9]
REPLAY_NAME_MAX = 64  # StartReplay ReplayName: 1-64 of [.\-_A-Za-z0-9]
# A month keeps the backfill useful and bounds what a forgotten archive stores (AWS's own
# default, 0, keeps events indefinitely).
DEFAULT_RETENTION_DAYS = 30
_RULE_NAME_MAX = 64  # PutRule Name
_DESCRIPTION_MAX = 512  # CreateArchive / StartReplay Description
_ARCHIVE_PATTERN_MAX = 4096  # CreateArchive EventPattern
_NAME = re.compile(r"[.\-_A-Za-z0-9]+")
_ARCHIVE_ARN = re.compile(
    r"arn:aws[a-z-]*:events:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"archive/(?P<name>[.\-_A-Za-z0-9]{1,48})"
)
_RULE_ARN = re.compile(
    r"arn:aws[a-z-]*:events:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"rule/(?:(?P<bus>[.\-_A-Za-z0-9]+)/)?(?P<name>[.\-_A-Za-z0-9]{1,64})"
)
_INT32_MAX = 2**31 - 1  # CreateArchive's RetentionDays is an Integer
_ACTIVE = ("STARTING", "RUNNING")  # ListReplays states of a replay still sending events
_FINAL = ("COMPLETED", "FAILED", "CANCELLED")
_POLL_S = 5.0  # AWS replays minute by minute of event time: seconds between polls are plenty
DEFAULT_TIMEOUT_S = 900.0


class NotMeshkitBusError(NotMeshkitResourceError):
    """The bus to archive exists but meshkit did not create it (no ``meshkit:workbook=true``)."""


class NotMeshkitArchiveError(NotMeshkitResourceError):
    """An archive of that name exists but its Description carries no meshkit marker."""


class ArchiveConflictError(ConflictError):
    """meshkit's archive of that name exists with other settings; nothing was changed."""


class UnknownArchiveError(NotFoundError):
    """No archive of that name in this account and Region (DescribeArchive said so)."""


class UnknownRuleError(NotFoundError):
    """A rule named in ``rules`` is not on the archive's bus (DescribeRule said so)."""


class ReplayNotHonouredOfflineError(TargetError):
    """The embedded AWS would not honour this replay (moto ignores the window and the rules)."""


class ReplayInProgressError(ConflictError):
    """Another replay of the same archive is still STARTING or RUNNING; nothing was started."""


class ReplayExistsError(ConflictError):
    """A replay of that name exists already (replay names stay taken after they finish)."""


class ReplayTimeoutError(MeshkitError, TimeoutError):
    """The replay did not finish within ``timeout_s``; it goes on at AWS.

    Attributes
    ----------
    state : str
        The replay's state when meshkit stopped waiting (``STARTING``, ``RUNNING``, ...).
    result : ReplayResult
        What DescribeReplay said then.
    """

    def __init__(self, message: str, result: ReplayResult) -> None:
        super().__init__(message)
        self.result = result
        self.state = result.state


@dataclasses.dataclass(frozen=True)
class ReplayResult:
    """What ``replay`` started, and how it ended when it waited.

    Attributes
    ----------
    name, arn : str
        The replay's name and ARN.
    archive, bus : str
        The archive replayed and the bus its events were sent to (the archive's source bus).
    state : str
        ``COMPLETED``, ``FAILED`` or ``CANCELLED`` after waiting; else what AWS said last
        (``STARTING``, ``RUNNING``).
    start, end : datetime
        The window: the events whose time is between ``start`` and ``end`` are replayed.
    rules : tuple of str or None
        ARNs of the rules the events were sent to (``Destination.FilterArns``); None: every
        rule of the bus.
    archive_event_count : int
        The archive's ``EventCount`` before the replay (on AWS it lags up to 24 hours, and
        counts the whole archive, not the window).
    state_reason : str
        AWS's reason for the state, when it gave one.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> from meshkit.mesh.archives import ReplayResult
    >>> result = ReplayResult(
    ...     name="backfill", arn="arn:aws:events:us-west-2:123456789012:replay/backfill",
    ...     archive="sales", bus="SalesEventBus", state="COMPLETED",
    ...     start=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...     end=datetime(2026, 2, 1, tzinfo=timezone.utc), rules=None, archive_event_count=3,
    ... )
    >>> result.state, result.rules
    ('COMPLETED', None)
    """

    name: str
    arn: str
    archive: str
    bus: str
    state: str
    start: datetime
    end: datetime
    rules: tuple[str, ...] | None
    archive_event_count: int
    state_reason: str = ""


# -- archives ---------------------------------------------------------------------------------


def create_archive(
    bus: str,
    *,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    pattern: Mapping[str, Any] | str | None = None,
    name: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Archive the events of a meshkit domain bus; return the archive's ARN. Idempotent.

    The archive's Description carries meshkit's ownership (``meshkit:workbook=true;
    meshkit:domain=<domain>; meshkit:owner=<owner>``, from the bus's tags), since EventBridge
    archives cannot be tagged. On AWS, events reach the archive with a delay: the user guide
    advises waiting 10 minutes before replaying recent events.

    Parameters
    ----------
    bus : str
        The domain bus's name or ARN (this account's and Region's); it must carry meshkit's
        ``meshkit:workbook=true`` tag (``mk.buses.create_domain_bus``).
    retention_days : int, default 30
        Days AWS keeps each event; 0 keeps them indefinitely (AWS's default).
    pattern : dict or str, optional
        Archive only the events matching this event pattern (checked by
        ``mk.patterns.check_pattern``, at most 4,096 characters); default: every event.
    name : str, optional
        The archive's name, 1 to 48 letters, digits, ``.``, ``-`` or ``_``; default
        ``<bus name>-archive``.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The archive's ARN; the same ARN again when meshkit's archive of that name exists with
        the same bus, pattern and retention.

    Raises
    ------
    meshkit.exceptions.ValidationError
        A bus, name, retention or pattern AWS would refuse; nothing is sent.
    UnknownBusError
        The bus does not exist.
    NotMeshkitBusError
        The bus is not meshkit's.
    NotMeshkitArchiveError
        An archive of that name exists that meshkit did not create.
    ArchiveConflictError
        meshkit's archive of that name exists with another bus, pattern or retention.

    Examples
    --------
    >>> import meshkit as mk
    >>> from meshkit.mesh.archives import create_archive, delete_archive
    >>> bus = mk.buses.create_domain_bus("doctest")
    >>> create_archive("DoctestEventBus", retention_days=7)
    'arn:aws:events:us-west-2:123456789012:archive/DoctestEventBus-archive'
    >>> create_archive("DoctestEventBus", retention_days=7)  # the same again
    'arn:aws:events:us-west-2:123456789012:archive/DoctestEventBus-archive'
    >>> create_archive("DoctestEventBus", retention_days=0)
    Traceback (most recent call last):
    ...
    meshkit.mesh.archives.ArchiveConflictError: archive DoctestEventBus-archive exists with ...
    >>> delete_archive("DoctestEventBus-archive")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    ref = parse_bus(bus)
    _check_whole("retention_days", retention_days, "e.g. 30, or 0 to keep events indefinitely")
    checked = None if pattern is None else check_pattern(pattern, max_chars=_ARCHIVE_PATTERN_MAX)
    if name is None:
        name = _default_archive_name(ref.name)
    _check_name("name", name, ARCHIVE_NAME_MAX, "an archive", "'sales-archive'")
    events = _aws.client("events", boto3_session)
    bus_name = own_bus_name(bus, events, boto3_session, action="archive its events")
    bus_arn, tags = _meshkit_bus(events, bus_name)
    domain = tags.get(DOMAIN_TAG, "")
    request: dict[str, Any] = {
        "ArchiveName": name,
        "EventSourceArn": bus_arn,
        "Description": _marker(domain, tags.get(OWNER_TAG) or f"{domain}-team"),
        "RetentionDays": retention_days,
    }
    if checked is not None:
        request["EventPattern"] = pattern_json(checked)
    try:
        arn = str(events.create_archive(**request)["ArchiveArn"])
        _logger.info("created archive %s of %s", arn, bus_name)
        return arn
    except ClientError as err:
        if error_code(err) != "ResourceAlreadyExistsException":
            raise
    existing = events.describe_archive(ArchiveName=name)
    _check_meshkit_archive(existing, name, "change it")
    differences = _differences(existing, bus_arn, checked, retention_days)
    if differences:
        raise ArchiveConflictError(
            f"archive {name} exists with {'; '.join(differences)}, so nothing was changed: "
            f"delete it first (delete_archive({name!r}); its archived events go with it), or "
            "pass another name=..."
        )
    return str(existing["ArchiveArn"])


def delete_archive(name: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete an archive meshkit created (its Description carries meshkit's marker).

    Its archived events go with it. EventBridge removes the archive's managed rule from the bus
    too, after which ``mk.buses.delete_domain_bus`` can delete the bus.

    Parameters
    ----------
    name : str
        The archive's name or ARN (this account's and Region's).
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    bool
        True when it was deleted, False when there was no such archive.

    Raises
    ------
    meshkit.exceptions.ValidationError
        A name or ARN AWS would refuse, or the ARN of another account's or Region's archive.
    NotMeshkitArchiveError
        The archive is not meshkit's; nothing was deleted.

    Examples
    --------
    >>> import meshkit as mk
    >>> from meshkit.mesh.archives import create_archive, delete_archive
    >>> bus = mk.buses.create_domain_bus("doctest")
    >>> arn = create_archive("DoctestEventBus")
    >>> delete_archive(arn)
    True
    >>> delete_archive("DoctestEventBus-archive")  # none left
    False
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    events = _aws.client("events", boto3_session)
    name = _archive_name(name, events, boto3_session)
    try:
        existing = events.describe_archive(ArchiveName=name)
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return False
    _check_meshkit_archive(existing, name, "delete it")
    events.delete_archive(ArchiveName=name)
    _logger.info("deleted archive %s", existing["ArchiveArn"])
    return True


def archive_owner(description: str | None) -> dict[str, str]:
    """meshkit's ownership marker in an archive's Description, as a dict (empty when none).

    Parameters
    ----------
    description : str or None
        The ``Description`` DescribeArchive returned.

    Returns
    -------
    dict
        ``{"meshkit:workbook": "true", "meshkit:domain": ..., "meshkit:owner": ...}`` for an
        archive meshkit created; ``{}`` for any other.

    Examples
    --------
    >>> from meshkit.mesh.archives import archive_owner
    >>> archive_owner("meshkit:workbook=true; meshkit:domain=sales; meshkit:owner=sales-team")
    {'meshkit:workbook': 'true', 'meshkit:domain': 'sales', 'meshkit:owner': 'sales-team'}
    >>> archive_owner("made by hand")
    {}
    """
    if not isinstance(description, str):
        return {}
    found: dict[str, str] = {}
    for part in description.split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key.startswith("meshkit:"):
            found[key] = value.strip()
    return found if found.get(WORKBOOK_TAG) == "true" else {}


# -- replay -----------------------------------------------------------------------------------


def replay(
    archive: str,
    *,
    start: datetime,
    end: datetime | None = None,
    rules: Sequence[str] | None = None,
    name: str | None = None,
    wait: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    boto3_session: boto3.Session | None = None,
) -> ReplayResult:
    """Send an archive's events again, to the bus they came from, to the rules named.

    AWS replays the archived events whose time (the event's ``time``) is between ``start`` and
    ``end``, minute by minute of event time and not necessarily in order, to the
    rules in ``rules`` only (``Destination.FilterArns``) or, without it, to every rule of the
    bus. Replayed events carry ``replay-name`` (see ``replay_name``) and are not archived again.
    This function refuses to start while another replay of the same archive is STARTING or
    RUNNING (two at once would send its events twice), starts the replay, and waits until it is
    COMPLETED, FAILED or CANCELLED (polling DescribeReplay) unless ``wait=False``.

    On the embedded AWS, moto replays synchronously every archived event to every rule of the
    bus, whatever the window and the rules (parity ledger P19). So offline this refuses, before
    sending anything, a window that does not cover the archive's whole life (``start`` after
    the archive's CreationTime, or ``end`` before now) and ``rules`` that leave out an enabled
    rule of the bus that no service manages. Two differences remain that meshkit cannot see
    offline: moto also sends replayed events to disabled rules (as it does published ones), and
    it replays an event published with an explicit ``time`` outside the window
    (``DomainEvent(time=...)``), which AWS, windowing by the event's time, would not.

    Parameters
    ----------
    archive : str
        The archive's name or ARN (this account's and Region's).
    start : datetime
        Start of the window, timezone-aware (``datetime(2026, 1, 1, tzinfo=timezone.utc)``).
    end : datetime, optional
        End of the window, timezone-aware, after ``start``; default: now.
    rules : sequence of str, optional
        Names or ARNs of rules on the archive's bus: the late consumer's own rule
        (``sub.rule_arn``), so the others are not sent events they already have. Default None:
        every rule of the bus.
    name : str, optional
        The replay's name, 1 to 64 letters, digits, ``.``, ``-`` or ``_``, unique in the account
        and Region for good (replays cannot be deleted); default
        ``<archive>-<UTC time to the millisecond>``.
    wait : bool, default True
        Wait until the replay is COMPLETED, FAILED or CANCELLED.
    timeout_s : float, default 900
        Seconds to wait at most.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    ReplayResult
        Its name, ARN, state, window, rules and the archive's EventCount.

    Raises
    ------
    meshkit.exceptions.ValidationError
        An argument AWS would refuse (a naive datetime, ``start`` not before ``end``, a rule of
        another bus, ...), named in the message; nothing is sent.
    UnknownArchiveError, UnknownRuleError
        The archive, or a rule named, does not exist.
    ReplayNotHonouredOfflineError
        Offline: moto would replay more than asked (see above); nothing was replayed.
    ReplayInProgressError
        Another replay of the archive is still running; nothing was started.
    ReplayExistsError
        A replay of that name exists already.
    ReplayTimeoutError
        The replay was still running after ``timeout_s``; it goes on at AWS.

    Examples
    --------
    Sales archives its events; Audit subscribes after two sales were published, and is sent
    them again:

    >>> import json
    >>> import meshkit as mk
    >>> from datetime import datetime, timezone
    >>> from meshkit.mesh.archives import create_archive, delete_archive, replay, replay_name
    >>> bus = mk.buses.create_domain_bus("doctest")
    >>> archive = create_archive("DoctestEventBus", name="doctest-sales")
    >>> sales = [mk.events.DomainEvent("sales.domain", "SaleRecorded", {
    ...     "sale_id": f"S-{i}", "amount": 10.0, "timestamp": "2026-01-29T10:00:00"},
    ...     idempotency_key=f"sale-S-{i}") for i in (1, 2)]
    >>> mk.events.publish("DoctestEventBus", sales)
    PublishResult(sent=2, failed=0, api_calls=1, retried=0)
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]})
    >>> result = replay("doctest-sales", start=datetime(2026, 1, 1, tzinfo=timezone.utc),
    ...                 rules=[sub.rule_arn])
    >>> result.state, result.archive_event_count, result.rules == (sub.rule_arn,)
    ('COMPLETED', 2, True)
    >>> sqs = mk.sandbox.current().session().client("sqs")
    >>> bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
    ...     QueueUrl=sub.queue_url, MaxNumberOfMessages=10)["Messages"]]
    >>> sorted(body["detail"]["metadata"]["idempotency_key"] for body in bodies)
    ['sale-S-1', 'sale-S-2']
    >>> {replay_name(body) for body in bodies} == {result.name}
    True

    Offline, a window that leaves part of the archive out is refused, as moto would replay all:

    >>> replay("doctest-sales", start=datetime.now(timezone.utc))
    Traceback (most recent call last):
    ...
    meshkit.mesh.archives.ReplayNotHonouredOfflineError: start ... is after archive doctest-sales...
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus", force=True)
    True
    >>> delete_archive("doctest-sales")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    _check_datetime("start", start)
    if end is not None:
        _check_datetime("end", end)
    wanted = _check_rules(rules)
    if name is not None:
        _check_name("name", name, REPLAY_NAME_MAX, "a replay", "'marketing-backfill'")
    _check_flag("wait", wait)
    _check_timeout(timeout_s)
    events = _aws.client("events", boto3_session)
    archive_name = _archive_name(archive, events, boto3_session, field="archive")
    try:
        described = events.describe_archive(ArchiveName=archive_name)
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        raise UnknownArchiveError(
            f"archive {archive_name!r} does not exist in {events.meta.region_name}: check the "
            "name, or create it with create_archive(<bus>) (it holds only events published "
            "after it was created)"
        ) from err
    end_is_now = end is None
    end = datetime.now(timezone.utc) if end is None else end
    if start >= end:
        raise ValidationError(
            f"end {end.isoformat()} is not after start {start.isoformat()}: StartReplay needs "
            "EventStartTime before EventEndTime; pass an end later than start"
        )
    archive_arn = str(described["ArchiveArn"])
    bus_arn = str(described["EventSourceArn"])
    bus = bus_arn.rsplit("/", 1)[-1]
    filter_arns = None if wanted is None else _rule_arns(events, wanted, bus_arn)
    if _aws.target().mode == "embedded":
        _check_honoured_offline(
            events, described, bus, start, None if end_is_now else end, filter_arns
        )
    _check_no_replay_running(events, archive_arn, archive_name)
    if name is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")[:-3]
        name = f"{archive_name[: REPLAY_NAME_MAX - len(stamp) - 1]}-{stamp}"
    destination: dict[str, Any] = {"Arn": bus_arn}
    if filter_arns is not None:
        destination["FilterArns"] = list(filter_arns)
    try:
        started = events.start_replay(
            ReplayName=name,
            Description=f"{WORKBOOK_TAG}=true",
            EventSourceArn=archive_arn,
            EventStartTime=start,
            EventEndTime=end,
            Destination=destination,
        )
    except ClientError as err:
        if error_code(err) != "ResourceAlreadyExistsException":
            raise
        raise ReplayExistsError(
            f"a replay named {name!r} exists already, and replay names stay taken after the "
            "replay ends (replays cannot be deleted): pass another name=..., or leave name "
            "out for a timestamped one"
        ) from err
    _logger.info("started replay %s of %s into %s", name, archive_name, bus)
    result = ReplayResult(
        name=name,
        arn=str(started["ReplayArn"]),
        archive=archive_name,
        bus=bus,
        state=str(started.get("State", "STARTING")),
        start=start,
        end=end,
        rules=filter_arns,
        archive_event_count=int(described.get("EventCount", 0)),
        state_reason=str(started.get("StateReason", "")),
    )
    return _wait(events, result, timeout_s) if wait else result


def replay_name(event: Mapping[str, Any] | str | bytes) -> str | None:
    """The ``replay-name`` of a delivered EventBridge event: which replay sent it, or None.

    A consumer reads it from the SQS message body (the event as EventBridge delivered it), to
    count or log backfilled events; it still stays idempotent on the producer's key
    (``detail.metadata.idempotency_key``), since a replay may repeat events it processed.

    Parameters
    ----------
    event : dict, str or bytes
        The event (the SQS message body after ``json.loads``), the body's JSON text, or a
        Lambda SQS record (its ``body`` is read).

    Returns
    -------
    str or None
        The replay's name; None for an event that was not replayed.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For something that is not an EventBridge event (a whole Lambda event with ``Records``,
        JSON that is not an object, ...).

    Examples
    --------
    >>> from meshkit.mesh.archives import replay_name
    >>> event = {"source": "sales.domain", "detail-type": "SaleRecorded", "detail": {}}
    >>> replay_name(event) is None
    True
    >>> replay_name({**event, "replay-name": "marketing-backfill"})
    'marketing-backfill'
    >>> replay_name('{"source": "sales.domain", "detail-type": "X", "replay-name": "r"}')
    'r'
    """
    how = (
        "pass one delivered event: an SQS message's body (its JSON text, or json.loads of it), "
        "or one record of a Lambda SQS event"
    )
    if isinstance(event, (str, bytes, bytearray)):
        try:
            event = json.loads(event)
        except (ValueError, UnicodeDecodeError) as err:
            raise ValidationError(f"event is not JSON ({err}): {how}") from err
    if not isinstance(event, Mapping):
        raise ValidationError(f"event is a {type(event).__name__}, not an EventBridge event: {how}")
    if "Records" in event:
        raise ValidationError(
            f"event is a whole Lambda event (it has Records): {how}, e.g. "
            "[replay_name(record) for record in event['Records']]"
        )
    if isinstance(event.get("body"), str) and "detail-type" not in event:
        return replay_name(event["body"])  # a Lambda SQS record
    if "detail-type" not in event and "source" not in event:
        keys = ", ".join(map(repr, list(event)[:5])) or "none"
        raise ValidationError(
            f"event has no 'detail-type' or 'source' (its keys: {keys}), so it is not an "
            f"EventBridge event: {how}"
        )
    value = event.get("replay-name")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(
            f"event's replay-name is a {type(value).__name__}, not a string: EventBridge sets "
            f"it to the replay's name; {how}"
        )
    return value


# -- helpers ----------------------------------------------------------------------------------


def _marker(domain: str, owner: str) -> str:
    marker = f"{WORKBOOK_TAG}=true; {DOMAIN_TAG}={domain}; {OWNER_TAG}={owner}"
    return (
        marker if len(marker) <= _DESCRIPTION_MAX else f"{WORKBOOK_TAG}=true; {DOMAIN_TAG}={domain}"
    )


def _default_archive_name(bus: str) -> str:
    name = f"{bus}-archive"
    if len(name) > ARCHIVE_NAME_MAX:
        raise ValidationError(
            f"the archive name derived from the bus, {name[:60]!r}..., is {len(name)} "
            f"characters; CreateArchive allows {ARCHIVE_NAME_MAX}: pass name=... with 1 to "
            f"{ARCHIVE_NAME_MAX} letters, digits, '.', '-' or '_', e.g. 'sales-archive'"
        )
    return name


def _check_name(field: str, value: Any, limit: int, what: str, example: str) -> None:
    if not isinstance(value, str):
        raise ValidationError(
            f"{field} must be a string such as {example}, not {type(value).__name__}"
        )
    if not 1 <= len(value) <= limit or not _NAME.fullmatch(value):
        raise ValidationError(
            f"{field} {value[:70]!r} ({len(value)} characters) cannot name {what}: AWS allows 1 "
            f"to {limit} letters, digits, '.', '-' or '_'; e.g. {example}"
        )


def _check_whole(field: str, value: Any, example: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT32_MAX:
        raise ValidationError(
            f"{field} is {value!r}; AWS takes a whole number of days, 0 to {_INT32_MAX:,} (an "
            f"int32): {example}"
        )


def _check_flag(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(f"{field} must be True or False, not {value!r}")


def _check_timeout(value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValidationError(
            f"timeout_s is {value!r}; give a number of seconds above 0, e.g. 900 (or "
            "wait=False to return at once)"
        )


def _check_datetime(field: str, value: Any) -> None:
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{field} must be a datetime, not {type(value).__name__}: e.g. "
            f"{field}=datetime(2026, 1, 1, tzinfo=timezone.utc)"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{field} {value.isoformat()} has no time zone, so the instant it means depends on "
            f"the machine: give one, e.g. {field}=datetime(2026, 1, 1, tzinfo=timezone.utc) or "
            f"{field}.replace(tzinfo=timezone.utc)"
        )


def _check_rules(rules: Any) -> tuple[str, ...] | None:
    """The rules asked for, each a rule name or ARN, in order, once each."""
    if rules is None:
        return None
    how = (
        "pass a list of rule names or ARNs on the archive's bus, e.g. rules=[sub.rule_arn], "
        "or rules=None for every rule"
    )
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise ValidationError(f"rules must be a list, not {type(rules).__name__}: {how}")
    if not rules:
        raise ValidationError(f"rules is empty, so the replay would reach no one: {how}")
    for i, rule in enumerate(rules):
        if not isinstance(rule, str):
            raise ValidationError(f"rules[{i}] is a {type(rule).__name__}, not a string: {how}")
        if rule.startswith("arn:"):
            if _RULE_ARN.fullmatch(rule) is None:
                raise ValidationError(
                    f"rules[{i}] {rule[:120]!r} is not a rule ARN: it reads "
                    "arn:aws:events:<region>:<account>:rule/<bus>/<name>"
                )
        else:
            _check_name(f"rules[{i}]", rule, _RULE_NAME_MAX, "a rule", "'marketing-sales'")
    return tuple(dict.fromkeys(rules))


def _archive_name(
    archive: Any, events: Any, boto3_session: boto3.Session | None, *, field: str = "name"
) -> str:
    """An archive's name, given its name or an ARN of this account's and Region's."""
    if isinstance(archive, str) and archive.startswith("arn:"):
        match = _ARCHIVE_ARN.fullmatch(archive)
        if match is None:
            raise ValidationError(
                f"{field} {archive[:120]!r} is not an archive ARN: it reads "
                "arn:aws:events:<region>:<account>:archive/<name>, as create_archive returns it"
            )
        here = (session_account(boto3_session), events.meta.region_name)
        if (match["account"], match["region"]) != here:
            raise ValidationError(
                f"{field} {archive!r} is an archive of account {match['account']} in "
                f"{match['region']}, and this session is account {here[0]} in {here[1]}: "
                "archives are reached by name in their own account and Region; pass "
                "boto3_session= a session of that account and Region"
            )
        return match["name"]
    _check_name(field, archive, ARCHIVE_NAME_MAX, "an archive", "'sales-archive'")
    return str(archive)


def _meshkit_bus(events: Any, bus: str) -> tuple[str, dict[str, str]]:
    """The bus's ARN and tags, refused unless meshkit made it."""
    try:
        arn = str(events.describe_event_bus(Name=bus)["Arn"])
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        raise UnknownBusError(
            f"event bus {bus!r} does not exist in {events.meta.region_name}: create it with "
            "mk.buses.create_domain_bus(...) first"
        ) from err
    tags = eventbridge_tags(events, arn)
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitBusError(
            f"event bus {bus} was not created by meshkit (no {WORKBOOK_TAG}=true tag), so "
            "meshkit will not archive its events: archive a domain bus "
            "(mk.buses.create_domain_bus), or adopt this one with "
            "mk.buses.create_domain_bus(<domain>, name=..., adopt=True)"
        )
    return arn, tags


def _check_meshkit_archive(described: Mapping[str, Any], name: str, action: str) -> None:
    if not archive_owner(described.get("Description")):
        raise NotMeshkitArchiveError(
            f"archive {name} exists but meshkit did not create it (its Description has no "
            f"{WORKBOOK_TAG}=true marker; archives cannot be tagged), so meshkit will not "
            f"{action}: choose another name=..."
        )


def _differences(
    described: Mapping[str, Any],
    bus_arn: str,
    pattern: dict[str, Any] | None,
    retention_days: int,
) -> list[str]:
    found = []
    if described.get("EventSourceArn") != bus_arn:
        found.append(f"source {described.get('EventSourceArn')}, not {bus_arn}")
    stored = described.get("EventPattern")
    if (json.loads(stored) if stored else None) != pattern:
        shown = pattern_json(pattern) if pattern is not None else "none (every event)"
        found.append(f"pattern {stored or 'none (every event)'}, not {shown}")
    if int(described.get("RetentionDays") or 0) != retention_days:
        found.append(f"retention_days={described.get('RetentionDays') or 0}, not {retention_days}")
    return found


def _rule_arns(events: Any, rules: tuple[str, ...], bus_arn: str) -> tuple[str, ...]:
    """Each rule's ARN, checked to be on the archive's bus (a replay goes to its source bus)."""
    arns: list[str] = []
    bus = bus_arn.rsplit("/", 1)[-1]
    _, _, _, region, account, _ = bus_arn.split(":", 5)
    for i, rule in enumerate(rules):
        rule_name = rule
        match = _RULE_ARN.fullmatch(rule)
        if match is not None:
            on = match["bus"] or "default"
            if (match["account"], match["region"]) != (account, region):
                raise ValidationError(
                    f"rules[{i}] {rule!r} is a rule of account {match['account']} in "
                    f"{match['region']}, but a replay goes only to the archive's bus, {bus_arn}: "
                    f"name rules of that bus"
                )
            if on != bus:
                raise ValidationError(
                    f"rules[{i}] {rule!r} is a rule of bus {on}, but a replay goes only to the "
                    f"bus the archive was made from, {bus}: name rules of {bus}"
                )
            rule_name = match["name"]
        try:
            arn = str(events.describe_rule(Name=rule_name, EventBusName=bus)["Arn"])
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            raise UnknownRuleError(
                f"rules[{i}] {rule!r}: there is no rule {rule_name!r} on bus {bus}, the "
                "archive's bus: check the name (a subscription's rule is sub.rule_arn)"
            ) from err
        if arn not in arns:
            arns.append(arn)
    return tuple(arns)


def _check_honoured_offline(
    events: Any,
    described: Mapping[str, Any],
    bus: str,
    start: datetime,
    end: datetime | None,
    filter_arns: tuple[str, ...] | None,
) -> None:
    """Refuse what moto would not honour: it replays every archived event to every rule.

    ``end`` None: the caller left it out, so it is now, and covers the archive to its end.
    """
    archive = described["ArchiveName"]
    why = (
        "the embedded AWS (moto) ignores StartReplay's window and FilterArns and would replay "
        "every archived event to every rule of the bus (parity ledger P19), which AWS would not"
    )
    on_aws = "or run this on AWS (MESHKIT_TARGET=aws), which honours it"
    created = described["CreationTime"]
    if start > created:
        raise ReplayNotHonouredOfflineError(
            f"start {start.isoformat()} is after archive {archive} was created "
            f"({created.isoformat()}), so AWS would leave out the events archived before it, "
            f"but {why}. Widen the window: start={created.isoformat()!r} or earlier, {on_aws}"
        )
    now = datetime.now(timezone.utc)
    if end is not None and end < now:
        raise ReplayNotHonouredOfflineError(
            f"end {end.isoformat()} is before now ({now.isoformat()}), so AWS would leave out "
            f"the events archived since, but {why}. Widen the window: leave end out (now), "
            f"{on_aws}"
        )
    if filter_arns is None:
        return
    left_out = [
        rule["Name"]
        for page in events.get_paginator("list_rules").paginate(EventBusName=bus)
        for rule in page["Rules"]
        if not rule.get("ManagedBy")
        and rule.get("State") != "DISABLED"
        and rule["Arn"] not in filter_arns
    ]
    if left_out:
        raise ReplayNotHonouredOfflineError(
            f"rules leaves out {', '.join(map(repr, left_out))} of bus {bus}, so AWS would not "
            f"send them the replayed events, but {why}. Name every enabled rule of {bus} in "
            f"rules (or rules=None), {on_aws}"
        )


def _check_no_replay_running(events: Any, archive_arn: str, archive: str) -> None:
    request: dict[str, Any] = {"EventSourceArn": archive_arn}
    while True:
        page = events.list_replays(**request)
        for other in page.get("Replays", []):
            if other.get("State") in _ACTIVE:
                raise ReplayInProgressError(
                    f"replay {other.get('ReplayName')!r} of archive {archive} is still "
                    f"{other['State']}, and meshkit runs one replay of an archive at a time (two "
                    "at once would send its events twice to the same rules; AWS runs at most 10 "
                    "replays per account and Region): wait for it (DescribeReplay until "
                    "COMPLETED), or cancel it (CancelReplay), then replay again"
                )
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def _wait(events: Any, result: ReplayResult, timeout_s: float) -> ReplayResult:
    deadline = time.monotonic() + timeout_s
    while True:
        described = events.describe_replay(ReplayName=result.name)
        result = dataclasses.replace(
            result,
            state=str(described.get("State", result.state)),
            state_reason=str(described.get("StateReason", "")),
        )
        if result.state in _FINAL:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReplayTimeoutError(
                f"replay {result.name} is still {result.state} after {timeout_s:g} s; it goes on "
                "at AWS: wait longer (timeout_s=...), or return at once with wait=False and "
                f"follow it with DescribeReplay(ReplayName={result.name!r})",
                result,
            )
        time.sleep(min(_POLL_S, remaining))
