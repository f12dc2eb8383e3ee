"""Plan the move of a Classic mesh to the new Custom Event Bus, read from what exists now.

AWS's migration map (EventBridge User Guide, "Migrating from Custom Event Bus - Classic to the
Custom Event Bus"): a rule and one of its targets become one subscriber; the rule's event pattern
becomes a filter with the scope ``DATA``, unchanged for events published with ``PutEvents``
(except wildcards, which subscriber filters do not support); a target's retry policy and
dead-letter queue become the subscriber's ``RetryPolicy`` and ``OnFailureConfiguration``; an
input transformer becomes a ``JSONATA`` transformer; archive and replay become the bus's
retention and a subscriber's starting position.

The plan is requests, not calls: each is checked against the ``eventbridgev2`` service model,
and the whole is also written as a CloudFormation template (``AWS::EventsV2::*``). A bus's ARN
ends with an id that only ``CreateEventBus`` assigns, so planned requests carry a stand-in id
until ``with_bus_arns`` puts in the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pandas as pd
from botocore.utils import parse_to_aware_datetime

from .. import _aws
from .._shared import logical_id
from ..buses import list_domain_buses
from ..exceptions import ValidationError
from ..patterns import operators_in
from ..subscriptions import list_subscriptions
from .checks import InvalidRequestError, RequestProblem, request_problems
from .subscribers import subscriber_request

__all__ = ["STAND_IN_ID", "MigrationPlan", "PlannedRequest", "plan_migration", "stand_in_arn"]

STAND_IN_ID = "0" * 25
"""The id a planned bus ARN carries until CreateEventBus assigns the real one."""

# Classic's defaults for a target without a RetryPolicy: the new bus defaults to 5 attempts
# over 300 s, so a migrated subscriber states Classic's to keep its behaviour.
CLASSIC_RETRY_ATTEMPTS = 185
CLASSIC_EVENT_AGE_S = 24 * 3600
_ROLE_SUFFIX = "-eventbridge-delivery"
# What a subscriber's template properties take from its request, as they are.
_SUBSCRIBER_PROPERTIES = (
    "FilterConfiguration",
    "Type",
    "StartingPosition",
    "PointInTimeConfiguration",
    "RetryPolicy",
    "OnFailureConfiguration",
    "State",
)


@dataclass(frozen=True)
class PlannedRequest:
    """One request of a migration, with where it comes from.

    Examples
    --------
    >>> from meshkit.custom_bus import PlannedRequest
    >>> planned = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesBus", "bus")
    >>> planned.operation, planned.request["Name"]
    ('CreateEventBus', 'SalesEventBus')
    """

    operation: str
    """``CreateEventBus`` or ``CreateSubscriber``."""
    request: dict[str, Any]
    """The keyword arguments of the ``eventbridgev2`` client's call."""
    logical_id: str
    """Its resource's name in the CloudFormation template."""
    replaces: str
    """What of the Classic mesh it takes over."""


@dataclass(frozen=True)
class MigrationPlan:
    """The new buses and subscribers that take over a Classic mesh; nothing is sent.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> plan = mk.custom_bus.plan_migration(buses=["DoctestEventBus"])
    >>> print(plan.frame()[["operation", "name", "replaces"]].to_string(index=False))
           operation            name                    replaces
      CreateEventBus DoctestEventBus         bus DoctestEventBus
    CreateSubscriber   audit-doctest rule audit-doctest + target
    >>> plan.check().notes
    ()
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """

    region: str
    account: str
    requests: tuple[PlannedRequest, ...]
    notes: tuple[str, ...] = field(default=())
    """What the plan does not carry over, and what to do about it by hand."""

    def frame(self) -> pd.DataFrame:
        """One row per request: operation, name, bus, target, what it replaces.

        Examples
        --------
        >>> from meshkit.custom_bus import MigrationPlan, PlannedRequest
        >>> bus = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesEventBus", "")
        >>> plan = MigrationPlan("us-east-1", "111122223333", (bus,))
        >>> plan.frame()[["operation", "name"]].to_dict("records")
        [{'operation': 'CreateEventBus', 'name': 'SalesEventBus'}]
        """
        rows = [
            {
                "operation": planned.operation,
                "name": planned.request["Name"],
                "bus": _bus_name_of(planned),
                "target": planned.request.get("InvokeConfiguration", {}).get("TargetArn", ""),
                "replaces": planned.replaces,
            }
            for planned in self.requests
        ]
        return pd.DataFrame(rows, columns=["operation", "name", "bus", "target", "replaces"])

    def problems(self) -> list[tuple[str, RequestProblem]]:
        """Every request's problems against the service model, as (logical id, problem).

        Examples
        --------
        >>> from meshkit.custom_bus import MigrationPlan, PlannedRequest
        >>> bus = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesEventBus", "")
        >>> plan = MigrationPlan("us-east-1", "111122223333", (bus,))
        >>> plan.problems()
        []
        """
        return [
            (planned.logical_id, problem)
            for planned in self.requests
            for problem in request_problems(planned.operation, planned.request)
        ]

    def check(self) -> MigrationPlan:
        """The plan itself, once every request holds to the service model.

        Raises
        ------
        InvalidRequestError
            The first request that does not, with all its problems.

        Examples
        --------
        >>> from meshkit.custom_bus import MigrationPlan, PlannedRequest
        >>> bus = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesEventBus", "")
        >>> plan = MigrationPlan("us-east-1", "111122223333", (bus,))
        >>> plan.check() is plan
        True
        """
        for planned in self.requests:
            problems = request_problems(planned.operation, planned.request)
            if problems:
                raise InvalidRequestError(planned.operation, problems)
        return self

    def with_bus_arns(self, bus_arns: Mapping[str, str]) -> MigrationPlan:
        """The plan with each bus's real ARN (from ``CreateEventBus``) in place of its stand-in.

        Raises
        ------
        meshkit.exceptions.ValidationError
            When a subscriber's bus is missing from ``bus_arns``.

        Examples
        --------
        >>> from meshkit.custom_bus import MigrationPlan, PlannedRequest
        >>> bus = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesEventBus", "")
        >>> plan = MigrationPlan("us-east-1", "111122223333", (bus,))
        >>> arn = "arn:aws:events:us-east-1:111122223333:event-busv2/SalesEventBus/" + "a" * 25
        >>> plan.with_bus_arns({"SalesEventBus": arn}).problems()
        []
        """
        planned_buses = {
            planned.request["Name"]
            for planned in self.requests
            if planned.operation == "CreateEventBus"
        }
        if not isinstance(bus_arns, Mapping):
            raise ValidationError(
                f"bus_arns is {type(bus_arns).__name__}: give a dict of bus name -> the "
                "EventBusArn its CreateEventBus returned"
            )
        missing = sorted(planned_buses - set(bus_arns))
        if missing:
            raise ValidationError(
                f"bus_arns has no ARN for {', '.join(missing)}: pass the EventBusArn each "
                "CreateEventBus returned, by bus name"
            )
        requests = []
        for planned in self.requests:
            if planned.operation == "CreateSubscriber":
                bus = _bus_name_of(planned)
                planned = replace(
                    planned, request={**planned.request, "EventBusArn": bus_arns[bus]}
                )
            requests.append(planned)
        return replace(self, requests=tuple(requests))

    def template(self) -> dict[str, Any]:
        """A CloudFormation template of the plan: buses, subscribers and their delivery roles.

        One role per consumer domain, allowed to send to that domain's queues only.

        Examples
        --------
        >>> from meshkit.custom_bus import MigrationPlan, PlannedRequest
        >>> bus = PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "SalesEventBus", "")
        >>> plan = MigrationPlan("us-east-1", "111122223333", (bus,))
        >>> plan.template()["Resources"]["SalesEventBus"]["Type"]
        'AWS::EventsV2::EventBus'
        """
        resources: dict[str, Any] = {}
        bus_ids: dict[str, str] = {}
        queues_by_role: dict[str, list[str]] = {}
        for planned in self.requests:
            request = planned.request
            properties: dict[str, Any]
            if planned.operation == "CreateEventBus":
                bus_ids[request["Name"]] = planned.logical_id
                properties = {
                    key: request[key] for key in ("Name", "StorageConfiguration") if key in request
                }
            else:
                role = request["InvokeConfiguration"]["RoleArn"].rsplit("/", 1)[1]
                queues = queues_by_role.setdefault(role, [])
                queues.append(request["InvokeConfiguration"]["TargetArn"])
                if "OnFailureConfiguration" in request:
                    queues.append(request["OnFailureConfiguration"]["Arn"])
                invoke = {
                    **request["InvokeConfiguration"],
                    "RoleArn": {"Fn::GetAtt": [logical_id(role), "Arn"]},
                }
                bus = _bus_name_of(planned)
                if bus not in bus_ids:
                    raise ValidationError(
                        f"subscriber {request['Name']} is on {bus}, which this plan does not "
                        "create: plan the bus too (plan_migration(buses=[...]))"
                    )
                properties = {
                    "Name": request["Name"],
                    "EventBusArn": {"Fn::GetAtt": [bus_ids[bus], "EventBusArn"]},
                    "InvokeConfiguration": invoke,
                    **{key: request[key] for key in _SUBSCRIBER_PROPERTIES if key in request},
                }
                if "PointInTimeConfiguration" in request:  # CloudFormation: epoch seconds
                    point = dict(request["PointInTimeConfiguration"])
                    for key in ("StartingPoint", "EndPoint"):
                        if key in point:
                            seconds = parse_to_aware_datetime(point[key]).timestamp()
                            point[key] = int(seconds)
                    properties["PointInTimeConfiguration"] = point
            tags = sorted(request.get("Tags", {}).items())
            if tags:
                properties["Tags"] = [{"Key": key, "Value": value} for key, value in tags]
            kind = "EventBus" if planned.operation == "CreateEventBus" else "Subscriber"
            resources[planned.logical_id] = {
                "Type": f"AWS::EventsV2::{kind}",
                "Properties": properties,
            }
        for role, queues in queues_by_role.items():
            resources[logical_id(role)] = _delivery_role(role, queues)
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "The mesh's domain buses and subscriptions on the new Custom Event Bus "
            "(planned by meshkit from the Classic mesh)",
            "Resources": resources,
        }


def plan_migration(
    *,
    buses: list[str] | None = None,
    subscriptions: list[str] | None = None,
    retention_days: int = 7,
    boto3_session: boto3.Session | None = None,
) -> MigrationPlan:
    """Read meshkit's Classic buses and subscriptions and plan their new-bus equivalents.

    Parameters
    ----------
    buses : list of str, optional
        The Classic buses to move (default: every domain bus meshkit made).
    subscriptions : list of str, optional
        The subscriptions (rule names) on those buses to move, to migrate consumers one at a
        time (default: all of them).
    retention_days : int, default 7
        How long each new bus keeps events (1 to 365): what lets a late subscriber start in the
        past, as archive and replay do on Classic.
    boto3_session : boto3.Session, optional

    Returns
    -------
    MigrationPlan
        A ``CreateEventBus`` per bus, then a ``CreateSubscriber`` per subscription, each checked
        against the service model; ``notes`` says what was not carried over.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``retention_days`` is not 1 to 365, a bus named is not a domain bus of meshkit's,
        or a subscription named is not on those buses.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> plan = mk.custom_bus.plan_migration(buses=["DoctestEventBus"], retention_days=30)
    >>> plan.requests[0].request["StorageConfiguration"]
    {'RetentionPeriodInDays': 30}
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    if isinstance(retention_days, bool) or not isinstance(retention_days, int):
        raise ValidationError(
            f"retention_days is {retention_days!r}: give a whole number of days, 1 to 365"
        )
    if not 1 <= retention_days <= 365:
        raise ValidationError(
            f"retention_days is {retention_days}: the new bus keeps events 1 to 365 days "
            "(StorageConfiguration.RetentionPeriodInDays)"
        )
    session = _aws.session(boto3_session)
    current = _aws.target()
    region, account = session.region_name or current.region, current.account_id
    events = _aws.client("events", boto3_session)
    known = list_domain_buses(boto3_session=boto3_session)
    chosen = list(known["bus"]) if buses is None else _names("buses", buses)
    unknown = sorted(set(chosen) - set(known["bus"]))
    if unknown:
        raise ValidationError(
            f"buses names {', '.join(unknown)}, which meshkit did not make: give domain buses "
            f"({', '.join(known['bus']) or 'there are none yet'})"
        )
    requests: list[PlannedRequest] = []
    notes: list[str] = []
    domains = dict(zip(known["bus"], known["domain"], strict=True))
    for bus in chosen:
        requests.append(
            PlannedRequest(
                "CreateEventBus",
                {
                    "Name": bus,
                    "StorageConfiguration": {"RetentionPeriodInDays": retention_days},
                    "Tags": _tags(events, bus, domains[bus]),
                },
                logical_id(bus),
                f"bus {bus}",
            )
        )
        policy = events.describe_event_bus(Name=bus).get("Policy")
        if policy:
            notes.append(
                f"{bus} has a resource policy: on the new bus, share it with the consumers' "
                "accounts through AWS RAM and write its `default` policy (not planned here)"
            )
    listed = list_subscriptions(boto3_session=boto3_session)
    listed = listed[listed["bus"].isin(chosen)]
    if subscriptions is not None:
        names = _names("subscriptions", subscriptions)
        missing = sorted(set(names) - set(listed["name"]))
        if missing:
            raise ValidationError(
                f"subscriptions names {', '.join(map(str, missing))}, not a subscription on "
                f"{', '.join(chosen)}: give some of {', '.join(listed['name']) or 'none yet'}"
            )
        listed = listed[listed["name"].isin(names)]
    for row in listed.itertuples():
        planned, more_notes = _subscribers(events, row, region, account)
        notes.extend(more_notes)
        requests.extend(planned)
    _check_logical_ids(requests)
    return MigrationPlan(region, account, tuple(requests), tuple(notes))


def _names(field: str, given: Any) -> list[str]:
    """A list of names, each once, from what the caller gave; refused unless it is one."""
    if isinstance(given, str | bytes) or not isinstance(given, Iterable):
        raise ValidationError(
            f"{field} is {type(given).__name__} {given!r:.60}: give a list of names, "
            "e.g. ['SalesEventBus']"
        )
    names = list(given)
    bad = [name for name in names if not isinstance(name, str)]
    if bad:
        raise ValidationError(f"{field} holds {bad[0]!r:.60}, not a name: give strings")
    return list(dict.fromkeys(names))


def _check_logical_ids(requests: list[PlannedRequest]) -> None:
    """Two resources of one logical id would overwrite each other in the template."""
    seen: dict[str, str] = {}
    for planned in requests:
        name = planned.request["Name"]
        other = seen.setdefault(planned.logical_id, name)
        if other != name:
            raise ValidationError(
                f"{other!r} and {name!r} would both be {planned.logical_id!r} in the "
                "CloudFormation template (logical ids keep letters and digits only): rename one"
            )


def stand_in_arn(region: str, account: str, bus: str) -> str:
    """A planned bus's ARN, with ``STAND_IN_ID`` where CreateEventBus will put the real id.

    Examples
    --------
    >>> stand_in_arn("us-east-1", "111122223333", "SalesEventBus")
    'arn:aws:events:us-east-1:111122223333:event-busv2/SalesEventBus/0000000000000000000000000'
    """
    return f"arn:aws:events:{region}:{account}:event-busv2/{bus}/{STAND_IN_ID}"


def _subscribers(
    events: Any, row: Any, region: str, account: str
) -> tuple[list[PlannedRequest], list[str]]:
    """One subscriber per target of a rule ("for each rule, create one subscriber for each of
    its targets", AWS's migration sequence); SQS targets only."""
    targets = events.list_targets_by_rule(Rule=row.name, EventBusName=row.bus)["Targets"]
    if not targets:
        return [], [f"{row.name} on {row.bus} has no target: nothing to plan"]
    if "wildcard" in operators_in(json.loads(row.pattern)):
        return [], [
            f"{row.name}: its pattern uses a wildcard, which subscriber filters do not support; "
            "rewrite it with prefix or suffix matching"
        ]
    planned: list[PlannedRequest] = []
    notes: list[str] = []
    for target in targets:
        name = row.name if len(targets) == 1 else f"{row.name}-{target['Id']}"
        if target["Arn"].split(":")[2:3] != ["sqs"]:
            notes.append(
                f"{row.name}: its target {target['Arn']} is not an SQS queue; write its "
                "subscriber by hand (the delivery roles here may only send to queues)"
            )
            continue
        request = _subscriber_request(row, target, name, region, account, notes)
        planned.append(
            PlannedRequest(
                "CreateSubscriber", request, logical_id(name), f"rule {row.name} + target"
            )
        )
    return planned, notes


def _subscriber_request(
    row: Any, target: Mapping[str, Any], name: str, region: str, account: str, notes: list[str]
) -> dict[str, Any]:
    retry = target.get("RetryPolicy", {})
    fifo = target["Arn"].endswith(".fifo")
    request = subscriber_request(
        row.consumer,
        bus=stand_in_arn(region, account, row.bus),
        pattern=row.pattern,
        name=name,
        target_arn=target["Arn"],
        role_arn=f"arn:aws:iam::{account}:role/{_role_name(row.consumer)}",
        dead_letter_arn=target.get("DeadLetterConfig", {}).get("Arn"),
        ordered=fifo,
        max_retry_attempts=retry.get("MaximumRetryAttempts", CLASSIC_RETRY_ATTEMPTS),
        max_event_age_s=retry.get("MaximumEventAgeInSeconds", CLASSIC_EVENT_AGE_S),
    )
    group = target.get("SqsParameters", {}).get("MessageGroupId")
    if fifo and group:  # Classic's one group for every message: kept, so the order stays total
        request["InvokeConfiguration"]["SqsParameters"]["MessageGroupId"] = group
    elif fifo:
        notes.append(
            f"{name}: its FIFO queue now takes each event's EventGroupId as its message group: "
            "the producers must set DomainEvent.event_group"
        )
    for key in ("InputTransformer", "InputPath", "Input"):
        if key in target:
            notes.append(f"{name}: its target's {key} is not carried; write a JSONATA transformer")
    return request


def _tags(events: Any, bus: str, domain: str) -> dict[str, str]:
    arn = events.describe_event_bus(Name=bus)["Arn"]
    tags = {
        tag["Key"]: tag["Value"] for tag in events.list_tags_for_resource(ResourceARN=arn)["Tags"]
    }
    return tags or {"meshkit:workbook": "true", "meshkit:domain": domain}


def _delivery_role(name: str, queues: list[str]) -> dict[str, Any]:
    """The role the new bus assumes to deliver to a consumer's queues (and failure queues)."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": name,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "deliver-to-its-queues",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queues}
                        ],
                    },
                }
            ],
        },
    }


def _bus_name_of(planned: PlannedRequest) -> str:
    if planned.operation == "CreateEventBus":
        return str(planned.request["Name"])
    return str(planned.request["EventBusArn"]).split("/")[1]


def _role_name(consumer: str) -> str:
    return f"{consumer}{_ROLE_SUFFIX}"[:64]
