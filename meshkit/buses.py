"""Domain event buses: one custom EventBridge bus per domain, owned and tagged by that domain.

The article names the Sales domain's bus ``SalesEventBus``; meshkit derives every domain's bus the
same way (``customer-support`` -> ``CustomerSupportEventBus``) and tags what it creates so that
listing and teardown touch exactly meshkit's buses and nothing else in the account.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from . import _aws
from .exceptions import NotMeshkitResourceError, ValidationError

__all__ = [
    "DOMAIN_TAG",
    "OWNER_TAG",
    "WORKBOOK_TAG",
    "bus_name",
    "create_domain_bus",
    "delete_domain_bus",
    "domain_key",
    "list_domain_buses",
    "validate_bus_name",
]

_logger = logging.getLogger(__name__)

WORKBOOK_TAG = "meshkit:workbook"  # value "true": meshkit created (or adopted) it
DOMAIN_TAG = "meshkit:domain"
OWNER_TAG = "meshkit:owner"
ADOPTED_TAG = "meshkit:adopted"  # value "true": it existed before meshkit; never deleted unforced

# CreateEventBus, Name: 1-256 characters of [/.\-_A-Za-z0-9]; a custom bus may not use "/" and may
# not be called "default" (EventBridge API Reference, CreateEventBus).
_BUS_NAME_MAX = 256
_BUS_NAME_BAD = re.compile(r"[^.\-_A-Za-z0-9]+")
_DOMAIN = re.compile(r"[A-Za-z][A-Za-z0-9_\- ]*")
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")  # CustomerSupport -> Customer, Support
_BUS_COLUMNS = ["domain", "bus", "owner", "adopted", "arn"]
_forget_on_delete: list[Callable[[], None]] = []  # caches of later modules that knew the bus


def domain_key(domain: str) -> str:
    """The canonical spelling of a domain: lower-case words joined by ``-``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.domain_key("CustomerSupport")
    'customer-support'
    >>> mk.buses.domain_key("customer_support")
    'customer-support'
    """
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain.strip()):
        raise ValidationError(
            f"domain {domain!r} must start with a letter and use only letters, digits, '-', '_' "
            "or spaces: e.g. 'sales' or 'customer-support'"
        )
    return "-".join(word.lower() for word in _WORD.findall(domain.strip()))


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


def validate_bus_name(name: str) -> str:
    """Check ``name`` against EventBridge's rules for custom bus names and return it.

    moto accepts names that AWS rejects (spaces, 300 characters), so meshkit checks before calling.

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
        raise ValidationError(f"bus name must be a string, not {type(name).__name__}")
    if not name:
        raise ValidationError("bus name is empty: give 1 to 256 letters, digits, '.', '-' or '_'")
    if len(name) > _BUS_NAME_MAX:
        raise ValidationError(
            f"bus name {name[:20]!r}... is {len(name)} characters; EventBridge allows at most "
            f"{_BUS_NAME_MAX}: shorten it"
        )
    bad = sorted(set("".join(_BUS_NAME_BAD.findall(name))))
    if bad:
        fixed = _BUS_NAME_BAD.sub("-", name).strip("-")
        fixed = fixed if fixed and fixed != "default" else "MyEventBus"
        raise ValidationError(
            f"bus name {name!r} contains {', '.join(map(repr, bad))}: custom event bus names may "
            f"use only letters, digits, '.', '-' and '_' (no '/'); try {fixed!r}"
        )
    if name == "default":
        raise ValidationError(
            "bus name 'default' is the account's default event bus, not a custom one: "
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
        The owning team, stored as the ``meshkit:owner`` tag; default ``"<domain>-team"``.
    description : str, optional
        Bus description; default ``"<Domain> domain event bus"``.
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
        For a domain or bus name that EventBridge would reject.
    meshkit.exceptions.NotMeshkitResourceError
        When the bus exists without meshkit's tags and ``adopt`` is False.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.create_domain_bus("sales")  # doctest: +SKIP
    'arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus'
    """
    key = domain_key(domain)
    name = validate_bus_name(name) if name is not None else bus_name(domain)
    description = description or f"{_title(domain)} domain event bus"
    tags = _domain_tags(key, owner or f"{key}-team")
    events = _aws.client("events", boto3_session)
    try:
        arn = events.create_event_bus(Name=name, Description=description, Tags=tags)["EventBusArn"]
        _logger.info("created %s", arn)
        return str(arn)
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    arn = str(events.describe_event_bus(Name=name)["Arn"])
    existing = _tags(events, arn) or {}
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
    tags = _domain_tags(key, owner or existing.get(OWNER_TAG) or f"{key}-team")
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
    >>> mk.buses.list_domain_buses()  # doctest: +SKIP
      domain            bus       owner  adopted                                    arn
    0  sales  SalesEventBus  sales-team    False  arn:aws:events:us-west-2:123456789012:...
    """
    events = _aws.client("events", boto3_session)
    rows = []
    for bus in _all_buses(events):
        tags = _tags(events, bus["Arn"])
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
    frame = pd.DataFrame(rows, columns=_BUS_COLUMNS)
    return frame.sort_values(["domain", "bus"], ignore_index=True)


def delete_domain_bus(
    domain: str,
    *,
    name: str | None = None,
    force: bool = False,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Delete the domain's bus, if meshkit created it for this domain.

    Parameters
    ----------
    domain : str
        The owning domain; a bus tagged for another domain is refused.
    name : str, optional
        Bus name; default ``bus_name(domain)``.
    force : bool, default False
        Also delete a bus meshkit adopted (one that existed before meshkit tagged it).
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    bool
        True when a bus was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the bus has no meshkit tags, belongs to another domain, or was adopted and ``force``
        is False: meshkit never deletes what it does not own.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.buses.delete_domain_bus("marketing")  # doctest: +SKIP
    True
    """
    key = domain_key(domain)
    name = validate_bus_name(name) if name is not None else bus_name(domain)
    events = _aws.client("events", boto3_session)
    try:
        arn = events.describe_event_bus(Name=name)["Arn"]
    except ClientError as err:
        if _not_found(err):
            return False
        raise
    tags = _tags(events, arn) or {}
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
    events.delete_event_bus(Name=name)  # idempotent: a bus deleted meanwhile is not an error
    for forget in _forget_on_delete:
        forget()
    _logger.info("deleted %s", arn)
    return True


def _title(domain: str) -> str:
    """``customer-support`` -> ``Customer Support``: one spelling per domain, from its key."""
    return " ".join(word.capitalize() for word in domain_key(domain).split("-"))


def _not_found(err: ClientError) -> bool:
    return err.response["Error"]["Code"] == "ResourceNotFoundException"


def _tag_map(key: str, owner: str | None = None) -> dict[str, str]:
    """The tags of everything meshkit makes for a domain (owner: ``<domain>-team`` by default)."""
    return {WORKBOOK_TAG: "true", DOMAIN_TAG: key, OWNER_TAG: owner or f"{key}-team"}


def _domain_tags(key: str, owner: str | None = None) -> list[dict[str, str]]:
    """``_tag_map`` in the ``[{"Key": ..., "Value": ...}]`` form most AWS APIs take."""
    return [{"Key": tag, "Value": value} for tag, value in _tag_map(key, owner).items()]


def _tags(events, arn: str) -> dict[str, str]:
    return {
        tag["Key"]: tag["Value"] for tag in events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    }


def _all_buses(events) -> list[dict]:
    """Every bus in the account and region (ListEventBuses has no boto3 paginator)."""
    buses, kwargs = [], {}
    while True:
        page = events.list_event_buses(**kwargs)
        buses.extend(page["EventBuses"])
        if not page.get("NextToken"):
            return buses
        kwargs["NextToken"] = page["NextToken"]
