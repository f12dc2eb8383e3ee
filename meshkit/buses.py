"""Domain event buses: one custom EventBridge bus per domain, owned and tagged by that domain.

The article names the Sales domain's bus ``SalesEventBus``; meshkit derives every domain's bus the
same way (``customer-support`` -> ``CustomerSupportEventBus``) and tags what it creates so that
listing and teardown touch exactly meshkit's buses and nothing else in the account.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from . import _aws
from ._shared import (
    ADOPTED_TAG,
    DOMAIN_TAG,
    OWNER_TAG,
    WORKBOOK_TAG,
    domain_tags,
    error_code,
    eventbridge_tags,
    own_bus_name,
    paged,
    parse_bus,
)
from .exceptions import NotMeshkitResourceError, ValidationError

__all__ = [
    "DOMAIN_TAG",
    "FORWARD_TARGET_ID",
    "OWNER_TAG",
    "QUEUE_TARGET_ID",
    "STREAM_TARGET_ID",
    "WORKBOOK_TAG",
    "BusInUseError",
    "bus_domain",
    "bus_name",
    "create_domain_bus",
    "delete_domain_bus",
    "domain_key",
    "list_domain_buses",
    "validate_bus_name",
]

_logger = logging.getLogger(__name__)

# The target ids meshkit gives the targets of the rules it puts on buses: a subscription's queue
# (mk.subscriptions.subscribe), a forward's receiving bus (mk.subscriptions.forward) and a
# route's Kinesis stream (mk.subscriptions.route_to_stream). Any other target on a meshkit rule
# was added by someone else, and is theirs.
QUEUE_TARGET_ID = "consumer-queue"
FORWARD_TARGET_ID = "forward"
STREAM_TARGET_ID = "consumer-stream"

# CreateEventBus, Name: 1-256 characters of [/.\-_A-Za-z0-9]; a custom bus may not use "/" and may
# not be called "default" (EventBridge API Reference, CreateEventBus).
_BUS_NAME_MAX = 256
_BUS_NAME_BAD = re.compile(r"[^.\-_A-Za-z0-9]+")
_DOMAIN = re.compile(r"[A-Za-z][A-Za-z0-9_\- ]*")
# A domain names its bus "<Domain>EventBus" (256 characters at most) and is the value of tags
# (256 at most, "<domain>-team" for the owner): 248 characters keep all of them within AWS's limits.
_DOMAIN_MAX = _BUS_NAME_MAX - len("EventBus")
_TAG_VALUE_MAX = 256  # EventBridge and SQS tags (TagResource, TagQueue)
_DESCRIPTION_MAX = 512  # CreateEventBus, PutRule
_BUS_ARN = re.compile(r"arn:aws[a-z-]*:events:[a-z0-9-]*:[0-9]*:event-bus/(?P<name>.+)")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")  # CustomerSupport -> Customer, Support
_BUS_COLUMNS = ["domain", "bus", "owner", "adopted", "arn"]
_MESHKIT_TARGET_IDS = (QUEUE_TARGET_ID, FORWARD_TARGET_ID, STREAM_TARGET_ID)


class BusInUseError(NotMeshkitResourceError):
    """The bus carries rules that are not its own domain's: deleting it would delete them too.

    Attributes
    ----------
    rules : list of dict
        One per rule in the way, in the bus's order: ``rule`` (its name), ``domain`` and ``owner``
        (from its meshkit tags; ``""`` when it has none), ``tags`` (all its tags), ``targets``
        (their ids), ``managed_by`` (the service that manages it, or ``""``) and ``reason``.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> try:
    ...     mk.buses.delete_domain_bus("doctest")
    ... except mk.buses.BusInUseError as error:
    ...     print(error.rules[0]["rule"], error.rules[0]["domain"])
    audit-doctest audit
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """

    def __init__(self, message: str, rules: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rules = rules


def domain_key(domain: str, *, field: str = "domain") -> str:
    """The canonical spelling of a domain: lower-case words joined by ``-``.

    Parameters
    ----------
    domain : str
        A domain name: letters, digits, ``-``, ``_`` or spaces, starting with a letter; at most
        248 characters, so that its bus name and its tags stay within AWS's limits.
    field : str, default "domain"
        The argument's name in error messages (``consumer_domain`` for ``subscribe``).

    Raises
    ------
    meshkit.exceptions.ValidationError
        Naming ``field``, the rule broken and a domain that would pass.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.domain_key("CustomerSupport")
    'customer-support'
    >>> mk.buses.domain_key("customer_support")
    'customer-support'
    """
    if not isinstance(domain, str):
        raise ValidationError(
            f"{field} must be a string such as 'sales' or 'customer-support', "
            f"not {type(domain).__name__}"
        )
    if not _DOMAIN.fullmatch(domain.strip()):
        raise ValidationError(
            f"{field} {domain!r} must start with a letter and use only letters, digits, '-', '_' "
            "or spaces: e.g. 'sales' or 'customer-support'"
        )
    key = "-".join(word.lower() for word in _WORD.findall(domain.strip()))
    if len(key) > _DOMAIN_MAX:
        raise ValidationError(
            f"{field} {domain[:20]!r}... is {len(key)} characters; its bus name "
            f"'<Domain>EventBus' may have {_BUS_NAME_MAX}, so a domain may have at most "
            f"{_DOMAIN_MAX}: shorten it"
        )
    return key


def bus_name(domain: str) -> str:
    """The bus a domain owns, named as in the article: ``<Domain>EventBus``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.bus_name("sales")
    'SalesEventBus'
    >>> mk.buses.bus_name("customer-support")
    'CustomerSupportEventBus'
    """
    return validate_bus_name(_title(domain).replace(" ", "") + "EventBus")


def bus_domain(bus: str) -> str:
    """The domain a bus's name speaks for, ``bus_name``'s inverse: ``SalesEventBus`` -> ``sales``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.bus_domain("CustomerSupportEventBus")
    'customer-support'
    """
    stem = bus.removesuffix("EventBus") or bus
    try:
        return domain_key(stem)
    except ValidationError:
        return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-").lower()


def validate_bus_name(name: str, *, field: str = "bus name") -> str:
    """Check ``name`` against EventBridge's rules for custom bus names and return it.

    moto accepts names that AWS rejects (spaces, 300 characters), so meshkit checks before calling.

    Parameters
    ----------
    name : str
        The bus name (not its ARN).
    field : str, default "bus name"
        The argument's name in error messages (``bus`` for ``subscribe``).

    Raises
    ------
    meshkit.exceptions.ValidationError
        Naming the rule that was broken and a name that would pass.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.validate_bus_name("SalesEventBus")
    'SalesEventBus'
    """
    if not isinstance(name, str):
        raise ValidationError(
            f"{field} must be a string such as 'SalesEventBus', not {type(name).__name__}"
        )
    if not name:
        raise ValidationError(f"{field} is empty: give 1 to 256 letters, digits, '.', '-' or '_'")
    if len(name) > _BUS_NAME_MAX:
        raise ValidationError(
            f"{field} {name[:20]!r}... is {len(name)} characters; EventBridge allows at most "
            f"{_BUS_NAME_MAX}: shorten it"
        )
    arn = _BUS_ARN.fullmatch(name)
    if arn:
        raise ValidationError(
            f"{field} {name!r} is an ARN: give the bus's name, {arn['name']!r} (meshkit works "
            "on the buses of the session's own account and region)"
        )
    bad = sorted(set("".join(_BUS_NAME_BAD.findall(name))))
    if bad:
        fixed = _BUS_NAME_BAD.sub("-", name).strip("-")
        fixed = fixed if fixed and fixed != "default" else "MyEventBus"
        raise ValidationError(
            f"{field} {name!r} contains {', '.join(map(repr, bad))}: custom event bus names may "
            f"use only letters, digits, '.', '-' and '_' (no '/'); try {fixed!r}"
        )
    if name == "default":
        raise ValidationError(
            f"{field} 'default' is the account's default event bus, not a custom one: "
            "choose a domain name such as 'SalesEventBus'"
        )
    return name


def create_domain_bus(
    domain: str,
    *,
    name: str | None = None,
    owner: str | None = None,
    description: str | None = None,
    adopt: bool = False,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create the domain's event bus, tagged as meshkit's; return its ARN. Idempotent.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"`` or ``"customer-support"``.
    name : str, optional
        Bus name; default ``bus_name(domain)`` (``SalesEventBus``). Checked by
        ``validate_bus_name`` before anything is sent.
    owner : str, optional
        The owning team, stored as the ``meshkit:owner`` tag (at most 256 characters); default
        ``"<domain>-team"``.
    description : str, optional
        Bus description, at most 512 characters; default ``"<Domain> domain event bus"``.
    adopt : bool, default False
        A bus of that name that meshkit did not create is refused unless ``adopt=True``, which
        tags it so that meshkit lists and governs it from then on (marked ``meshkit:adopted``, so
        that ``delete_domain_bus`` leaves it alone unless forced).
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The bus ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a domain, bus name, owner or description that EventBridge would reject, or an
        ``adopt`` that is not a bool; nothing is sent.
    meshkit.exceptions.NotMeshkitResourceError
        When the bus exists without meshkit's tags and ``adopt`` is False, or belongs to another
        domain.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.create_domain_bus("doctest")
    'arn:aws:events:us-west-2:123456789012:event-bus/DoctestEventBus'
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    key = domain_key(domain)
    name = validate_bus_name(name) if name is not None else bus_name(domain)
    _check_flag("adopt", adopt)
    _check_text("owner", owner, _TAG_VALUE_MAX, "'sales-team'")
    _check_text("description", description, _DESCRIPTION_MAX, "'Sales domain event bus'")
    description = description or f"{_title(domain)} domain event bus"
    tags = domain_tags(key, owner or f"{key}-team")
    events = _aws.client("events", boto3_session)
    try:
        arn = events.create_event_bus(Name=name, Description=description, Tags=tags)["EventBusArn"]
        _logger.info("created %s", arn)
        return str(arn)
    except ClientError as err:
        if error_code(err) != "ResourceAlreadyExistsException":
            raise
    arn = str(events.describe_event_bus(Name=name)["Arn"])
    existing = eventbridge_tags(events, arn) or {}
    if existing.get(WORKBOOK_TAG) != "true" and not adopt:
        raise NotMeshkitResourceError(
            f"event bus {name} already exists but meshkit did not create it (it has no "
            f"{WORKBOOK_TAG} tag): pass adopt=True to govern it as the {key} domain's bus, "
            "or choose another name"
        )
    if existing.get(DOMAIN_TAG, key) != key:
        raise NotMeshkitResourceError(
            f"event bus {name} belongs to domain {existing[DOMAIN_TAG]!r}, not {key!r}: "
            "choose another name"
        )
    tags = domain_tags(key, owner or existing.get(OWNER_TAG) or f"{key}-team")
    if existing.get(WORKBOOK_TAG) != "true":  # adopting: remember it was not ours to begin with
        tags.append({"Key": ADOPTED_TAG, "Value": "true"})
    if any(existing.get(tag["Key"]) != tag["Value"] for tag in tags):
        events.tag_resource(ResourceARN=arn, Tags=tags)
        _logger.info("tagged %s as the %s domain's bus", arn, key)
    return arn


def list_domain_buses(*, boto3_session: boto3.Session | None = None) -> pd.DataFrame:
    """The domain buses meshkit created or adopted, one row each, sorted by domain.

    Returns
    -------
    pandas.DataFrame
        Columns ``domain``, ``bus``, ``owner``, ``adopted`` (it existed before meshkit tagged it),
        ``arn``. Buses without the ``meshkit:workbook=true`` tag (the default bus, other teams'
        buses) are left out.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> buses = mk.buses.list_domain_buses()
    >>> print(buses[buses["domain"] == "doctest"].drop(columns="arn").to_string(index=False))
     domain             bus        owner  adopted
    doctest DoctestEventBus doctest-team    False
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    events = _aws.client("events", boto3_session)
    rows: list[dict[str, Any]] = []
    for bus in _all_buses(events):
        tags = eventbridge_tags(events, bus["Arn"])
        if tags is not None and tags.get(WORKBOOK_TAG) == "true":
            rows.append(
                {
                    "domain": tags.get(DOMAIN_TAG, ""),
                    "bus": bus["Name"],
                    "owner": tags.get(OWNER_TAG, ""),
                    "adopted": tags.get(ADOPTED_TAG) == "true",
                    "arn": bus["Arn"],
                }
            )
    # Annotated: pandas-stubs types sort_values' result (Self) as Any for Python 3.10.
    frame: pd.DataFrame = pd.DataFrame(rows, columns=_BUS_COLUMNS).sort_values(
        ["domain", "bus"], ignore_index=True
    )
    return frame


def delete_domain_bus(
    domain: str,
    *,
    name: str | None = None,
    force: bool = False,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Delete the domain's bus, if meshkit created it for this domain, with the domain's own rules.

    EventBridge deletes a bus's rules with it, whoever made them. So the bus is deleted only when
    every rule on it is the domain's own, made by meshkit: its subscriptions to its own events
    and its forwards (``mk.subscriptions.forward``). Those rules are deleted first (their targets
    removed), as the DeleteEventBus API reference asks; their queues are kept (unsubscribe first
    to remove them). Any other rule (another domain's subscription, a rule made by hand, or one of
    the domain's own carrying a target someone else added) stops the deletion, unless forced.

    Parameters
    ----------
    domain : str
        The owning domain; a bus tagged for another domain is refused.
    name : str, optional
        The bus's name or ARN (this account's); default ``bus_name(domain)``.
    force : bool, default False
        Also delete a bus meshkit adopted (one that existed before meshkit tagged it), and a bus
        that carries other teams' rules, with those rules; each is named in a warning in the log.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    bool
        True when a bus was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a domain or bus name EventBridge would reject, or a ``force`` that is not a bool.
    meshkit.buses.BusInUseError
        When other teams' rules are on the bus and ``force`` is False. Its ``rules`` lists them
        with their owners; nothing was deleted.
    meshkit.exceptions.NotMeshkitResourceError
        When the bus has no meshkit tags, belongs to another domain, or was adopted and ``force``
        is False: meshkit never deletes what it does not own.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> mk.buses.delete_domain_bus("doctest")
    True
    >>> mk.buses.delete_domain_bus("doctest")  # none left
    False

    A bus that carries other domains' subscriptions raises ``BusInUseError`` (see its example).
    """
    key = domain_key(domain)
    if name is None:
        name = bus_name(domain)
    else:
        parse_bus(name, field="name")  # refused before any call
    _check_flag("force", force)
    events = _aws.client("events", boto3_session)
    name = own_bus_name(name, events, boto3_session, action="delete it", field="name")
    try:
        arn = events.describe_event_bus(Name=name)["Arn"]
    except ClientError as err:
        if _not_found(err):
            return False
        raise
    tags = eventbridge_tags(events, arn) or {}
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"event bus {name} was not created by meshkit (no {WORKBOOK_TAG} tag), so meshkit "
            "will not delete it: delete it yourself if it is really unused"
        )
    if tags.get(DOMAIN_TAG) != key:
        raise NotMeshkitResourceError(
            f"event bus {name} belongs to domain {tags.get(DOMAIN_TAG)!r}, not {key!r}, so nothing "
            f"was deleted: check the name; only if you mean to remove the "
            f"{tags.get(DOMAIN_TAG)} domain's bus, call "
            f"delete_domain_bus({tags.get(DOMAIN_TAG)!r}, name={name!r})"
        )
    if tags.get(ADOPTED_TAG) == "true" and not force:
        raise NotMeshkitResourceError(
            f"event bus {name} existed before meshkit adopted it, so meshkit will not delete it: "
            "pass force=True if you are sure nobody else uses it"
        )
    own, foreign = _sort_rules(events, name, key)
    if foreign and not force:
        listed = "; ".join(f"rule {rule['rule']!r}: {rule['reason']}" for rule in foreign)
        raise BusInUseError(
            f"event bus {name} carries rules that are not the {key} domain's own, and "
            f"EventBridge deletes a bus's rules with it, so nothing was deleted: {listed}. Ask "
            "their owners to remove them (mk.subscriptions.unsubscribe for a meshkit "
            "subscription), or pass force=True to delete them with the bus",
            foreign,
        )
    for rule in own + foreign:
        _delete_rule(events, name, rule)
        if rule in foreign:
            _logger.warning(
                "force=True: deleted rule %r on %s: %s", rule["rule"], name, rule["reason"]
            )
        else:
            _logger.info("deleted rule %r of the %s domain on %s", rule["rule"], key, name)
    events.delete_event_bus(Name=name)  # idempotent: a bus deleted meanwhile is not an error
    _logger.info("deleted %s", arn)
    return True


def _sort_rules(
    events: Any, bus: str, key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The bus's rules: (the domain's own meshkit rules, everyone else's), each with its targets."""
    own: list[dict[str, Any]] = []
    foreign: list[dict[str, Any]] = []
    for page in events.get_paginator("list_rules").paginate(EventBusName=bus):
        for rule in page["Rules"]:
            tags = eventbridge_tags(events, rule["Arn"])
            targets = [
                target["Id"]
                for targets_page in events.get_paginator("list_targets_by_rule").paginate(
                    Rule=rule["Name"], EventBusName=bus
                )
                for target in targets_page["Targets"]
            ]
            meshkit = tags.get(WORKBOOK_TAG) == "true"
            entry: dict[str, Any] = {
                "rule": rule["Name"],
                "domain": tags.get(DOMAIN_TAG, "") if meshkit else "",
                "owner": tags.get(OWNER_TAG, "") if meshkit else "",
                "tags": tags,
                "targets": targets,
                "managed_by": rule.get("ManagedBy", ""),
            }
            theirs = [target for target in targets if target not in _MESHKIT_TARGET_IDS]
            if not meshkit:
                shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "none"
                entry["reason"] = f"not made by meshkit (no {WORKBOOK_TAG} tag; tags: {shown})"
            elif entry["domain"] != key:
                entry["reason"] = (
                    f"made by meshkit for domain {entry['domain']!r}, owner {entry['owner']!r}"
                )
            elif theirs:
                entry["reason"] = (
                    f"the {key} domain's, but it carries targets meshkit did not put there: "
                    f"{', '.join(map(repr, theirs))}"
                )
            else:
                own.append(entry)
                continue
            foreign.append(entry)
    return own, foreign


def _delete_rule(events: Any, bus: str, rule: Mapping[str, Any]) -> None:
    """Remove a rule's targets (at most five, EventBridge's quota), then the rule."""
    managed = {"Force": True} if rule["managed_by"] else {}  # a rule another service manages
    if rule["targets"]:
        events.remove_targets(Rule=rule["rule"], EventBusName=bus, Ids=rule["targets"], **managed)
    events.delete_rule(Name=rule["rule"], EventBusName=bus, **managed)


def _check_flag(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValidationError(
            f"{field} is {value!r}: pass True or False (a string such as 'false' would count as "
            "True)"
        )


def _check_text(field: str, value: Any, limit: int, example: str) -> None:
    """An optional text argument: None, or a string of at most ``limit`` characters."""
    if value is None:
        return
    if not isinstance(value, str):
        raise ValidationError(
            f"{field} must be a string such as {example}, not {type(value).__name__}"
        )
    if len(value) > limit:
        raise ValidationError(
            f"{field} is {len(value)} characters; AWS allows at most {limit}: shorten it"
        )


def _title(domain: str) -> str:
    """``customer-support`` -> ``Customer Support``: one spelling per domain, from its key."""
    return " ".join(word.capitalize() for word in domain_key(domain).split("-"))


def _not_found(err: ClientError) -> bool:
    return error_code(err) == "ResourceNotFoundException"


def _all_buses(events: Any) -> list[dict[str, Any]]:
    """Every bus in the account and region (ListEventBuses has no boto3 paginator)."""
    return paged(events.list_event_buses, "EventBuses")
