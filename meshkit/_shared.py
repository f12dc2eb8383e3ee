"""What meshkit's modules share: ownership tags, AWS error codes, naming a bus, the check that a
bus exists, making and deleting a domain's DynamoDB tables.

One home, imported by these public names, so that no module reaches into another's private
helpers (a test walks the package to keep it so).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import boto3
from botocore.exceptions import ClientError

from . import _aws
from .exceptions import MeshkitError, NotFoundError, NotMeshkitResourceError, ValidationError

WORKBOOK_TAG = "meshkit:workbook"  # value "true": meshkit created (or adopted) it
DOMAIN_TAG = "meshkit:domain"
OWNER_TAG = "meshkit:owner"
ADOPTED_TAG = "meshkit:adopted"  # value "true": it existed before meshkit; never deleted unforced


# EventBridge's EventBusName (NonPartnerEventBusNameOrArn in the API model): a name or a bus ARN.
BUS_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,256}")
BUS_ARN = re.compile(
    r"arn:(?P<partition>aws[\w-]*):events:(?P<region>[a-z]+-[a-z]+-[\w-]+):"
    r"(?P<account>[0-9]{12}):event-bus/(?P<name>.*)"
)
BUS_ARN_EXAMPLE = "arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus"
# The new Custom Event Bus's ARN (EventBusArn in the eventbridgev2 model): CreateEventBus assigns
# the 25-character id at its end.
CUSTOM_BUS_ARN = re.compile(
    r"arn:(?P<partition>aws(-[a-z0-9]+)*):events:(?P<region>[a-z][a-z0-9]*(-[a-z0-9]+)*):"
    r"(?P<account>[0-9]{12}):event-busv2/(?P<name>[A-Za-z0-9][.\-_A-Za-z0-9]{0,255})/"
    r"(?P<id>[a-z0-9]{25})"
)
CUSTOM_BUS_ARN_EXAMPLE = (
    "arn:aws:events:us-east-1:123456789012:event-busv2/SalesEventBus/abcdefghij0123456789klmno"
)
_session_accounts: weakref.WeakKeyDictionary[boto3.Session, str] = weakref.WeakKeyDictionary()


class UnknownBusError(NotFoundError):
    """The bus does not exist (EventBridge's DescribeEventBus said so). AWS would accept events
    sent to it and silently drop them."""


class BusCheckDeniedError(MeshkitError, PermissionError):
    """meshkit cannot check that a bus exists: ``events:DescribeEventBus`` is denied."""


class ForeignBusError(ValidationError):
    """The bus ARN is in another account or region than the session, and the target is moto.

    moto ignores an ARN's account and region and acts on the local bus of that name; meshkit
    refuses instead, before sending anything. On real AWS the ARN goes to AWS, which applies the
    bus's resource policy.
    """


class BusRef(NamedTuple):
    """A bus as a caller named it: its name, and the parts of its ARN when given one."""

    name: str
    arn: str | None = None
    account: str | None = None
    region: str | None = None
    partition: str | None = None


def parse_bus(bus: Any, *, field: str = "bus") -> BusRef:
    """Refuse what EventBridge would refuse as an EventBusName (a name or a bus ARN).

    Examples
    --------
    >>> parse_bus("SalesEventBus")
    BusRef(name='SalesEventBus', arn=None, account=None, region=None, partition=None)
    >>> parse_bus("arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus").account
    '123456789012'
    """
    how = (
        f"give the bus name as a string, e.g. 'SalesEventBus' (mk.buses.bus_name('sales')), or "
        f"its ARN, e.g. '{BUS_ARN_EXAMPLE}'"
    )
    if not isinstance(bus, str):
        raise ValidationError(f"{field} must be a string, not {type(bus).__name__}: {how}")
    if not bus.strip():
        raise ValidationError(
            f"{field} is empty; a bus name has 1 to 256 letters, digits, '.', '-' or '_': {how}"
        )
    if bus.startswith("arn:"):
        match = BUS_ARN.fullmatch(bus)
        if match is None or not BUS_NAME.fullmatch(match["name"]):
            raise ValidationError(
                f"{field} ARN {bus!r:.120} is malformed: an event bus ARN reads "
                "arn:<partition>:events:<region>:<12-digit account>:event-bus/<name>, "
                f"e.g. '{BUS_ARN_EXAMPLE}'"
            )
        return BusRef(match["name"], bus, match["account"], match["region"], match["partition"])
    if not BUS_NAME.fullmatch(bus):
        raise ValidationError(
            f"{field} name {bus!r:.80} is not one EventBridge takes: 1 to 256 letters, digits, "
            "'.', '-' or '_' (no spaces; no '/', partner buses are not domain buses); "
            "e.g. 'SalesEventBus'"
        )
    return BusRef(bus)


def is_custom_bus_arn(bus: Any) -> bool:
    """True for an ARN of the new Custom Event Bus (``...:event-busv2/<name>/<id>``), well formed
    or not: what decides which API a bus is published to.

    Examples
    --------
    >>> is_custom_bus_arn(CUSTOM_BUS_ARN_EXAMPLE), is_custom_bus_arn("SalesEventBus")
    (True, False)
    """
    return isinstance(bus, str) and bus.startswith("arn:") and ":event-busv2/" in bus


def parse_custom_bus_arn(arn: Any, *, field: str = "bus") -> BusRef:
    """Refuse what the new bus's API would refuse as an ``EventBusArn``.

    Examples
    --------
    >>> parse_custom_bus_arn(CUSTOM_BUS_ARN_EXAMPLE).name
    'SalesEventBus'
    """
    if not isinstance(arn, str) or CUSTOM_BUS_ARN.fullmatch(arn) is None:
        shown = f"{arn!r:.120}" if isinstance(arn, str) else type(arn).__name__
        raise ValidationError(
            f"{field} {shown} is not an ARN of the new Custom Event Bus: it reads "
            "arn:<partition>:events:<region>:<12-digit account>:event-busv2/<name>/<25-character "
            f"id>, the EventBusArn CreateEventBus returned, e.g. '{CUSTOM_BUS_ARN_EXAMPLE}'"
        )
    match = CUSTOM_BUS_ARN.fullmatch(arn)
    assert match is not None  # checked above
    return BusRef(match["name"], arn, match["account"], match["region"], match["partition"])


def session_account(boto3_session: boto3.Session | None) -> str:
    """The account a session acts in: the target's, or asked of STS once per session."""
    if boto3_session is None:
        return _aws.target().account_id
    _aws.session(boto3_session)  # refuses what is not a session, before it is used as a key
    account = _session_accounts.get(boto3_session)
    if account is None:
        account = str(_aws.client("sts", boto3_session).get_caller_identity()["Account"])
        _session_accounts[boto3_session] = account
    return account


def _session_place(client: Any, boto3_session: boto3.Session | None) -> tuple[str, str, str]:
    """(account, region, partition) of the session a client acts for."""
    return session_account(boto3_session), client.meta.region_name, client.meta.partition


def bus_for_calls(
    bus: BusRef, client: Any, boto3_session: boto3.Session | None, *, field: str = "bus"
) -> str:
    """What to pass EventBridge as EventBusName: the name for a bus of the session's own account
    and region, the ARN for another's (real AWS only; moto would use the local bus of that name,
    so offline that raises ``ForeignBusError``)."""
    if bus.arn is None:
        return bus.name
    account, region, partition = place = _session_place(client, boto3_session)
    if (bus.account, bus.region, bus.partition) == place:
        return bus.name
    if _aws.target().mode == "aws":
        return bus.arn
    where = f"account {bus.account}, region {bus.region}"
    here = f"account {account} in {region}"
    if bus.partition != partition:
        where, here = f"{where}, partition {bus.partition}", f"{here}, partition {partition}"
    raise ForeignBusError(
        f"{field} {bus.arn!r} is in {where}, but this session is {here}. On real AWS meshkit "
        "passes the ARN on and AWS applies the bus's policy; moto ignores an ARN's account and "
        "region and would act on the local bus of that name, so meshkit refuses offline. Use "
        "the bus of your own account (its name), pass boto3_session= a session for that "
        "account and region (e.g. mk.iam.assume_role(<a role in it>)), or reach that bus by "
        "forwarding to it: mk.subscriptions.forward(your_bus, bus_arn, pattern=..., name=...)"
    )


def tag_map(domain: str, owner: str | None = None) -> dict[str, str]:
    """The tags of everything meshkit makes for a domain (owner: ``<domain>-team`` by default)."""
    return {WORKBOOK_TAG: "true", DOMAIN_TAG: domain, OWNER_TAG: owner or f"{domain}-team"}


def domain_tags(domain: str, owner: str | None = None) -> list[dict[str, str]]:
    """``tag_map`` in the ``[{"Key": ..., "Value": ...}]`` form most AWS APIs take."""
    return [{"Key": tag, "Value": value} for tag, value in tag_map(domain, owner).items()]


def eventbridge_tags(events: Any, arn: str) -> dict[str, str]:
    """The tags of an EventBridge resource (a bus or a rule), as a dict."""
    return {
        tag["Key"]: tag["Value"] for tag in events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    }


def paged(call: Callable[..., Mapping[str, Any]], key: str, **kwargs: Any) -> list[Any]:
    """Every item of a ``NextToken``-paginated list call (for calls boto3 has no paginator for).

    ``paged(events.list_event_buses, "EventBuses")`` calls until a page has no ``NextToken``.
    """
    items: list[Any] = []
    while True:
        page = call(**kwargs)
        items.extend(page.get(key, []))
        if not page.get("NextToken"):
            return items
        kwargs["NextToken"] = page["NextToken"]


def logical_id(name: str) -> str:
    """A CloudFormation logical id (letters and digits only) from a resource name.

    ``logical_id("marketing-sales-dlq") == "MarketingSalesDlq"``.
    """
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def eventbridgev2_tags(client: Any, arn: str) -> dict[str, str]:
    """The tags of a new Custom Event Bus resource (a bus or a subscriber), as a dict."""
    return dict(client.list_tags_for_resource(ResourceArn=arn).get("Tags", {}))


def error_code(err: ClientError) -> str:
    """AWS's error code of a failed call, e.g. ``"ResourceNotFoundException"`` ("" if none)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def own_bus_name(
    bus: Any, client: Any, boto3_session: boto3.Session | None, *, action: str, field: str = "bus"
) -> str:
    """The name of a bus of the session's own account and region, given its name or ARN.

    For what only the bus's owner can do (``action``: "delete it", "set its policy"): another
    account's or region's ARN raises ``ForeignBusError``, on any target.
    """
    ref = parse_bus(bus, field=field)
    if ref.arn is None:
        return ref.name
    account, region, _ = place = _session_place(client, boto3_session)
    if (ref.account, ref.region, ref.partition) == place:
        return ref.name
    raise ForeignBusError(
        f"{field} {ref.arn!r} is a bus of account {ref.account} in {ref.region}, and this "
        f"session is account {account} in {region}: only the bus's own account can {action}. "
        "Pass boto3_session= a session of that account and region"
    )


def check_bus_exists(events: Any, bus: str) -> None:
    """Refuse, before sending, a bus that does not exist (AWS would drop the events silently).

    Asked every time, never cached: a bus can be deleted at any moment by anyone, and meshkit
    cannot know when (``publish`` calls this once per call, and again during a long one).
    """
    try:
        events.describe_event_bus(Name=bus)
    except ClientError as err:
        code = error_code(err)
        if code in ("AccessDeniedException", "AccessDenied"):
            raise BusCheckDeniedError(
                f"cannot check that event bus {bus!r} exists: events:DescribeEventBus is denied. "
                "Allow it, or publish with check_bus=False (then a missing bus drops events)"
            ) from err
        if code != "ResourceNotFoundException":
            raise
        raise UnknownBusError(
            f"event bus {bus!r} does not exist in {events.meta.region_name}: create it with "
            "mk.buses.create_domain_bus(...) first (AWS would accept these events and drop them)"
        ) from err


def check_custom_bus_exists(client: Any, arn: str) -> None:
    """``check_bus_exists`` for the new Custom Event Bus (an ``eventbridgev2`` client)."""
    try:
        client.describe_event_bus(EventBusArn=arn)
    except ClientError as err:
        code = error_code(err)
        if code in ("AccessDeniedException", "AccessDenied"):
            raise BusCheckDeniedError(
                f"cannot check that event bus {arn!r} exists: events:DescribeEventBus is denied "
                "(a bus shared with the PublishOnly permission does not allow it). Allow it, or "
                "publish with check_bus=False"
            ) from err
        if code != "ResourceNotFoundException":
            raise
        raise UnknownBusError(
            f"event bus {arn!r} does not exist (or is not shared with this account): create it "
            "with mk.custom_bus.create_bus(...), or ask its owner to share it"
        ) from err


def check_owner(tags: Mapping[str, str], *, what: str, domain: str, fix: str) -> None:
    """Refuse a resource meshkit did not make for ``domain``, as its tags say.

    ``fix`` finishes the message: what the caller can do instead (another name, say).
    """
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"{what} exists but meshkit did not create it (no {WORKBOOK_TAG}=true tag), so "
            f"meshkit will not change it: {fix}, or tag it yourself ({WORKBOOK_TAG}=true, "
            f"{DOMAIN_TAG}={domain}) to let meshkit manage it"
        )
    if tags.get(DOMAIN_TAG) != domain:
        owner = str(tags.get(DOMAIN_TAG))[:80]
        raise NotMeshkitResourceError(f"{what} belongs to domain {owner!r}, not {domain!r}: {fix}")


# -- DynamoDB tables of a domain ----------------------------------------------------------------


def table_key_schema(keys: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    """DynamoDB's ``KeySchema`` for ``[(attribute, type), ...]``: the first is HASH, a second
    RANGE.

    Examples
    --------
    >>> table_key_schema([("pk", "S")])
    [{'AttributeName': 'pk', 'KeyType': 'HASH'}]
    """
    return [
        {"AttributeName": attribute, "KeyType": "HASH" if i == 0 else "RANGE"}
        for i, (attribute, _) in enumerate(keys)
    ]


def table_tags(dynamodb: Any, arn: str) -> dict[str, str]:
    """The tags of a DynamoDB table, as a dict."""
    return {
        tag["Key"]: tag["Value"]
        for tag in dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
    }


def create_domain_table(
    dynamodb: Any,
    *,
    name: str,
    domain: str,
    keys: Sequence[tuple[str, str]],
    check: Callable[[Mapping[str, Any]], None] | None = None,
    stream_view_type: str | None = None,
    ttl_attribute: str | None = None,
) -> str:
    """Create a domain's table (billed per request, tagged ``tag_map(domain)``); its ARN.

    Idempotent: when a table of that name exists, its description goes to ``check``, which
    raises the caller's own error when the table does not fit (another key schema, no stream,
    not the domain's). Then waits until the table is ACTIVE, and turns time to live on
    ``ttl_attribute`` on when it is not already (on or turning on).
    """
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": table_key_schema(keys),
        "AttributeDefinitions": [
            {"AttributeName": attribute, "AttributeType": kind} for attribute, kind in keys
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "Tags": domain_tags(domain),
    }
    if stream_view_type is not None:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream_view_type}
    try:
        table = dynamodb.create_table(**request)["TableDescription"]
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        table = dynamodb.describe_table(TableName=name)["Table"]
    if check is not None:
        check(table)
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    if ttl_attribute is not None:
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
            )
    return str(table["TableArn"])


def delete_domain_table(
    dynamodb: Any, *, name: str, check: Callable[[Mapping[str, str]], None]
) -> bool:
    """Delete a table whose tags ``check`` accepts (it raises the caller's error otherwise);
    wait until it is gone. False when there was no such table."""
    try:
        arn = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return False
    check(table_tags(dynamodb, arn))
    dynamodb.delete_table(TableName=name)
    dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return True
