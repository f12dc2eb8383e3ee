"""A domain's bus on the new Custom Event Bus: created with a retention, shared through AWS RAM.

On the new bus the owner does not write a rule per consumer: it shares the bus, and each consumer
account creates its own subscribers on it. Sharing goes through AWS RAM with one of four
managed permissions (EventBridge User Guide, "Sharing a Custom Event Bus with other accounts");
RAM writes the bus's ``AWS_RAM`` policy. Unsharing stops new subscribers, not the ones that exist:
the owner revokes those (``mk.custom_bus.revoke``).

Every request is checked against the ``eventbridgev2`` service model before it is sent, and only
real AWS is called: on the embedded AWS each function refuses before any call.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import (
    DOMAIN_TAG,
    check_owner,
    error_code,
    eventbridgev2_tags,
    paged,
    parse_custom_bus_arn,
    session_account,
    tag_map,
)
from ..buses import bus_name, domain_key
from ..exceptions import ConflictError, ValidationError
from .checks import check_request

__all__ = [
    "MANAGED_PERMISSIONS",
    "bus_request",
    "create_bus",
    "delete_bus",
    "share_bus",
    "unshare_bus",
]

MANAGED_PERMISSIONS = {
    "publish": "AWSRAMEventBridgeEventBusV2PublishOnly",
    "subscribe": "AWSRAMEventBridgeEventBusV2SubscribeOnly",
    "event-sources": "AWSRAMEventBridgeEventBusV2EventSourceAccess",
    "full": "AWSRAMEventBridgeEventBusV2FullAccess",
}
"""AWS RAM's managed permissions for the bus, by what they let a consumer account do."""

_ACTIVE_WAIT_S = 120.0
_PRINCIPAL = re.compile(r"[0-9]{12}|arn:aws[\w-]*:organizations::[0-9]{12}:(organization|ou)/.+")


def bus_request(
    domain: str, *, retention_days: int = 7, owner: str | None = None
) -> dict[str, Any]:
    """The ``CreateEventBus`` request of a domain's bus, checked against the service model.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``: the bus is ``SalesEventBus``, as on Classic.
    retention_days : int, default 7
        How long the bus keeps every event, 1 to 365 days: how far back a subscriber can start.
    owner : str, optional
        The owning team's tag (default ``"<domain>-team"``).

    Returns
    -------
    dict
        The keyword arguments of ``eventbridgev2``'s ``create_event_bus``.

    Raises
    ------
    meshkit.custom_bus.InvalidRequestError
        For a retention outside 1 to 365 days, naming ``StorageConfiguration``.

    Examples
    --------
    >>> from meshkit.custom_bus import bus_request
    >>> request = bus_request("sales", retention_days=30)
    >>> request["Name"], request["StorageConfiguration"]
    ('SalesEventBus', {'RetentionPeriodInDays': 30})
    """
    key = domain_key(domain)
    return check_request(
        "CreateEventBus",
        {
            "Name": bus_name(key),
            "Description": f"The {key} domain's events (meshkit)",
            "StorageConfiguration": {"RetentionPeriodInDays": retention_days},
            "Tags": tag_map(key, owner),
        },
    )


def create_bus(
    domain: str,
    *,
    retention_days: int = 7,
    owner: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create a domain's bus on the new Custom Event Bus, or return the one meshkit made.

    Waits until the bus is ``ACTIVE`` (a bus still ``CREATING`` takes no subscribers).

    Parameters
    ----------
    domain, retention_days, owner
        As for ``bus_request``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The bus's ARN, ``arn:aws:events:<region>:<account>:event-busv2/<name>/<id>``: the new
        bus is called by ARN.

    Raises
    ------
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.
    meshkit.exceptions.NotMeshkitResourceError
        When a bus of that name exists and meshkit did not make it for this domain.
    meshkit.exceptions.ConflictError
        When the bus ends ``CREATE_FAILED`` (with AWS's reason), or is not ``ACTIVE`` after
        two minutes.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.custom_bus.create_bus("sales")
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    request = bus_request(domain, retention_days=retention_days, owner=owner)
    client = _aws.eventbridgev2_client(boto3_session)
    existing = _own_bus(client, request["Name"], session_account(boto3_session))
    if existing is not None:
        arn = str(existing["EventBusArn"])
        check_owner(
            eventbridgev2_tags(client, arn),
            what=f"event bus {request['Name']}",
            domain=request["Tags"][DOMAIN_TAG],
            fix="pick another domain name, or delete that bus in the console",
        )
    else:
        arn = str(client.create_event_bus(**request)["EventBusArn"])
    _wait_active(client, arn)
    return arn


def delete_bus(bus: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete a bus of the new Custom Event Bus that meshkit made; others are left alone.

    Parameters
    ----------
    bus : str
        The bus's ARN.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when it was deleted, False when it did not exist.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When meshkit did not make it (its tags say so); nothing is deleted.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = "arn:aws:events:us-east-1:123456789012:event-busv2/SalesEventBus/" + "a" * 25
    >>> mk.custom_bus.delete_bus(arn)
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    request = check_request("DeleteEventBus", {"EventBusArn": parse_custom_bus_arn(bus).arn})
    client = _aws.eventbridgev2_client(boto3_session)
    try:
        tags = eventbridgev2_tags(client, request["EventBusArn"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return False
        raise
    check_owner(
        tags,
        what=f"event bus {bus}",
        domain=tags.get(DOMAIN_TAG, ""),
        fix="delete it yourself if it is yours to delete",
    )
    try:
        client.delete_event_bus(**request)
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return False
        raise
    return True


def share_bus(
    bus: str,
    principals: Iterable[str],
    *,
    permission: str = "subscribe",
    boto3_session: boto3.Session | None = None,
) -> str:
    """Share a bus with other accounts (or an organization, or an OU) through AWS RAM.

    Idempotent: the share is named ``<bus>-<permission>``; calling again adds the principals it
    lacks. Accounts outside your organization accept the invitation before they can use the bus.

    Parameters
    ----------
    bus : str
        The bus's ARN (a bus of this account: a consumer cannot share a bus onward).
    principals : iterable of str
        12-digit account ids, or organization / OU ARNs.
    permission : {"subscribe", "publish", "event-sources", "full"}, default "subscribe"
        Which of AWS RAM's managed permissions (``MANAGED_PERMISSIONS``) the share grants.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The resource share's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an unknown permission or a principal that is not an account id or an organization
        or OU ARN.
    meshkit.exceptions.NotMeshkitResourceError
        When a share of that name exists and meshkit did not make it.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = "arn:aws:events:us-east-1:123456789012:event-busv2/SalesEventBus/" + "a" * 25
    >>> mk.custom_bus.share_bus(arn, ["444455556666"], permission="read")
    Traceback (most recent call last):
    ...
    meshkit.exceptions.ValidationError: permission is 'read': give one of 'publish', ...
    """
    ref = parse_custom_bus_arn(bus)
    if permission not in MANAGED_PERMISSIONS:
        raise ValidationError(
            f"permission is {permission!r}: give one of "
            f"{', '.join(repr(name) for name in MANAGED_PERMISSIONS)} "
            "(AWS RAM's managed permissions for the bus)"
        )
    wanted = _principals(principals)
    client = _aws.eventbridgev2_client(boto3_session)  # refused offline before any call
    bus_tags = eventbridgev2_tags(
        client, bus
    )  # sharing changes who reads the bus: meshkit's buses only
    domain = bus_tags.get(DOMAIN_TAG, "")
    check_owner(bus_tags, what=f"event bus {ref.arn}", domain=domain,
                fix="share it yourself if it is yours to share")  # fmt: skip
    ram = _aws.client("ram", boto3_session)
    name = f"{ref.name}-{permission}"
    shares = ram.get_resource_shares(resourceOwner="SELF", name=name, resourceShareStatus="ACTIVE")[
        "resourceShares"
    ]
    if shares:
        arn = str(shares[0]["resourceShareArn"])
        check_owner(_share_tags(shares[0]), what=f"resource share {name}", domain=domain,
                    fix="give the share another name, or delete it in the RAM console")  # fmt: skip
        have = {
            item["associatedEntity"]
            for item in ram.get_resource_share_associations(
                associationType="PRINCIPAL", resourceShareArns=[arn]
            )["resourceShareAssociations"]
            if item.get("status") in ("ASSOCIATED", "ASSOCIATING")
        }
        missing = [principal for principal in wanted if principal not in have]
        if missing:
            ram.associate_resource_share(resourceShareArn=arn, principals=missing)
        return arn
    permission_arn = f"arn:{ref.partition}:ram::aws:permission/{MANAGED_PERMISSIONS[permission]}"
    response = ram.create_resource_share(
        name=name,
        resourceArns=[ref.arn],
        principals=wanted,
        permissionArns=[permission_arn],
        allowExternalPrincipals=True,
        tags=[{"key": key, "value": value} for key, value in tag_map(domain).items()],
    )
    return str(response["resourceShare"]["resourceShareArn"])


def unshare_bus(share: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete a resource share ``share_bus`` made. Subscribers that exist keep delivering:
    revoke them with ``mk.custom_bus.revoke``.

    Returns
    -------
    bool
        True when it was deleted, False when it did not exist.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When meshkit did not make the share.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.custom_bus.unshare_bus("arn:aws:ram:us-east-1:123456789012:resource-share/x")
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    if (
        not isinstance(share, str)
        or not share.startswith("arn:")
        or ":resource-share/" not in share
    ):
        raise ValidationError(
            f"share is {share!r:.80}: give the resource share ARN share_bus returned "
            "(arn:aws:ram:<region>:<account>:resource-share/<id>)"
        )
    _aws.eventbridgev2_client(boto3_session)  # refused offline before any call
    ram = _aws.client("ram", boto3_session)
    shares = ram.get_resource_shares(resourceOwner="SELF", resourceShareArns=[share])[
        "resourceShares"
    ]
    if not shares or shares[0].get("status") in ("DELETING", "DELETED"):
        return False
    tags = _share_tags(shares[0])
    check_owner(tags, what=f"resource share {share}", domain=tags.get(DOMAIN_TAG, ""),
                fix="delete it yourself if it is yours to delete")  # fmt: skip
    ram.delete_resource_share(resourceShareArn=share)
    return True


def _principals(principals: Any) -> list[str]:
    if isinstance(principals, str) or not isinstance(principals, Iterable):
        raise ValidationError(
            f"principals is {type(principals).__name__}: give a list of 12-digit account ids "
            "or organization / OU ARNs, e.g. ['444455556666']"
        )
    given = list(principals)
    bad = [p for p in given if not isinstance(p, str) or not _PRINCIPAL.fullmatch(p)]
    wanted = list(dict.fromkeys(p for p in given if isinstance(p, str)))
    if bad or not wanted:
        raise ValidationError(
            f"principals {bad!r:.120} are not account ids (12 digits) or organization / OU "
            "ARNs: give e.g. ['444455556666']"
            if bad
            else "principals is empty: name at least one account to share the bus with"
        )
    return wanted


def _own_bus(client: Any, name: str, account: str) -> dict[str, Any] | None:
    """This account's bus named ``name`` (buses shared with it are listed too: not those)."""
    listed = paged(client.list_event_buses, "EventBuses", NamePrefix=name)
    return next(
        (
            dict(bus)
            for bus in listed
            if bus["Name"] == name and parse_custom_bus_arn(bus["EventBusArn"]).account == account
        ),
        None,
    )


def _share_tags(share: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in share.get("tags", [])}


def _wait_active(client: Any, arn: str) -> None:
    deadline = time.monotonic() + _ACTIVE_WAIT_S
    while True:
        described = client.describe_event_bus(EventBusArn=arn)
        state = described.get("State", "ACTIVE")
        if state == "ACTIVE":
            return
        if state.endswith("FAILED") or time.monotonic() > deadline:
            raise ConflictError(
                f"event bus {arn} is {state} ({described.get('StateReason', 'no reason given')}): "
                "delete it and create it again, or read its state in the EventBridge console"
            )
        time.sleep(1.0)
