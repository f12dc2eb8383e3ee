"""Subscriptions: how one domain consumes another domain's events.

A subscription is the production pattern for consuming across domains::

    producer's bus --rule(pattern)--> consumer's queue --(event source mapping)--> handler
                                           |  after maxReceiveCount failed receives
                                           v
                                      consumer's DLQ

The consuming domain owns the queue, so it absorbs bursts, retries at its own pace and keeps
what it could not process in its dead-letter queue. ``subscribe`` creates all of it, idempotently:
the DLQ, the queue with its redrive policy, queue policies that admit only EventBridge on behalf of
this one rule, the rule on the producer's bus, and the target with EventBridge's own retry policy
and dead-letter queue (for events EventBridge cannot deliver at all).

Offline, moto stores the target's ``RetryPolicy`` and ``DeadLetterConfig`` but never uses them,
and never enforces the queue policies; the queue's redrive policy (failed receives -> DLQ) it
does honour.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from . import _aws, patterns
from ._shared import (
    DOMAIN_TAG,
    WORKBOOK_TAG,
    bus_for_calls,
    check_bus_exists,
    check_owner,
    error_code,
    eventbridge_tags,
    parse_bus,
    tag_map,
)
from .buses import (
    FORWARD_TARGET_ID,
    QUEUE_TARGET_ID,
    STREAM_TARGET_ID,
    bus_domain,
    domain_key,
    list_domain_buses,
)
from .exceptions import ConflictError, NotMeshkitResourceError, TargetError, ValidationError

__all__ = [
    "QueueDeletedRecentlyError",
    "QueueDepths",
    "QueueNotEmptyError",
    "Subscription",
    "UndeliverableTargetError",
    "discard_messages",
    "forward",
    "list_subscriptions",
    "queue_depths",
    "queue_url_of",
    "route_to_stream",
    "subscribe",
    "unroute_stream",
    "unsubscribe",
]

_ANOTHER_NAME = "choose another subscription name with name=..."
# What a rule of each kind meshkit makes is, by the id of its target.
_MADE_BY = {
    QUEUE_TARGET_ID: "is a subscription's (mk.subscriptions.subscribe)",
    FORWARD_TARGET_ID: "forwards events to another bus (mk.subscriptions.forward)",
    STREAM_TARGET_ID: "routes events to a Kinesis stream (mk.subscriptions.route_to_stream)",
}

_logger = logging.getLogger(__name__)

TARGET_ID = QUEUE_TARGET_ID  # the id of the target subscribe puts on its rule
# On a subscription's queue and DLQ: the subscription (its rule's name) and bus they serve, so that
# a queue of one subscription is never taken for, or deleted as, another's.
SUBSCRIPTION_TAG = "meshkit:subscription"
BUS_TAG = "meshkit:bus"
# A rule name allows 64 characters of [.-_A-Za-z0-9]; a queue name 80 of [-_A-Za-z0-9], and the
# DLQ adds "-dlq". One name serves all three, so it follows the stricter rules.
_NAME_MAX = 64
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_RULE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")  # PutRule's Name: a forward has no queues
_QUEUE_ARN = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/\S+")
_STREAM_ARN = re.compile(
    r"arn:aws[a-z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]{1,128}"
)
_DLQ_SUFFIX = "-dlq"
_QUEUE_RETENTION_S = 4 * 24 * 3600  # SQS's default
# A message moved to a standard queue's DLQ keeps its original enqueue time, so the DLQ must keep
# messages longer than the source queue does: give it SQS's maximum, 14 days.
_DLQ_RETENTION_S = 14 * 24 * 3600
_SUBSCRIPTION_COLUMNS = [
    "consumer",
    "name",
    "bus",
    "pattern",
    "waiting",
    "in_flight",
    "dead_letters",
]


class QueueNotEmptyError(ConflictError):
    """A queue still holds messages (waiting, in flight or delayed), so meshkit will not delete
    them: process them (``mk.consumers.run``), redrive them, or pass ``force=True``."""


class UndeliverableTargetError(TargetError):
    """The embedded AWS cannot deliver to this kind of target, so meshkit does not create it.

    moto stores a rule whose target is a Kinesis stream, but then fails every ``PutEvents`` on
    the bus with HTTP 500, after delivering to the bus's SQS targets: boto3's retries deliver
    three copies to each of them (the parity ledger's P14). Refused before any call.
    """


class QueueDeletedRecentlyError(ConflictError):
    """SQS refuses a queue of a name deleted less than 60 seconds ago: wait a minute."""


@dataclass(frozen=True)
class Subscription:
    """What ``subscribe`` made: one rule, one queue, one dead-letter queue.

    Attributes
    ----------
    consumer : str
        The consuming domain (``"marketing"``), which owns the queues.
    name : str
        Name of the rule and the queue; the DLQ is ``<name>-dlq``.
    bus : str
        The producer's bus the rule is on.
    pattern : dict
        The rule's event pattern.
    rule_arn, queue_url, queue_arn, dlq_url, dlq_arn : str
    max_receive_count : int
        Receives of a message before SQS moves it to the DLQ.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> sub.name, sub.dlq_url, sub.max_receive_count  # doctest: +ELLIPSIS
    ('audit-doctest', 'http://127.0.0.1:.../123456789012/audit-doctest-dlq', 5)
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """

    consumer: str
    name: str
    bus: str
    pattern: dict[str, Any]
    rule_arn: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int


def subscribe(
    consumer_domain: str,
    *,
    bus: str,
    pattern: Mapping[str, Any] | str,
    name: str | None = None,
    max_receive_count: int = 5,
    visibility_timeout_s: int = 30,
    retry_attempts: int = 185,
    max_event_age_s: int = 24 * 3600,
    role_arn: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> Subscription:
    """Subscribe a domain's queue to the events on ``bus`` that match ``pattern``. Idempotent.

    Running it again with another pattern or other settings updates the subscription in place.

    Parameters
    ----------
    consumer_domain : str
        The consuming domain, e.g. ``"marketing"``; it owns (and is tagged on) the queues.
    bus : str
        The producer's bus: its name, e.g. ``"SalesEventBus"``, or its ARN. It must exist. A bus
        in another account is named by its ARN; on AWS its policy must let this account put
        rules and targets on it (EventBridge accepts a bus ARN in PutRule and PutTargets for
        that: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html),
        and ``role_arn`` names the role EventBridge delivers to your queue with. Offline such an
        ARN is refused (``ForeignBusError``): moto would use the local bus of that name.
    pattern : dict or str
        The event pattern, checked by ``mk.patterns.check_pattern`` before anything is created.
    name : str, optional
        Name of the rule and the queue; default ``"<consumer>-<producer>"``
        (``marketing-sales``). Up to 64 letters, digits, ``-`` or ``_`` (a rule name allows 64
        characters, a queue name 80 and the DLQ adds ``-dlq``); a longer default is refused
        rather than cut, so two subscriptions never share a name by accident.
    max_receive_count : int, default 5
        Receives before a message is moved to the DLQ (the queue's redrive policy), 1 to 1000.
    visibility_timeout_s : int, default 30
        How long a received message stays hidden before it is retried, 0 to 43200 seconds. With
        Lambda, set it to at least six times the function's timeout (AWS's advice).
    retry_attempts, max_event_age_s : int, default 185 and 86400
        The target's ``RetryPolicy``: how long EventBridge retries a delivery that failed for a
        reason that may pass (throttling, the queue unavailable) before the event goes to the DLQ.
        Failures no retry can fix (a queue policy that refuses EventBridge, a deleted queue) go
        to the DLQ at once. Ignored by moto.
    role_arn : str, optional
        The role EventBridge assumes to send to the queue. AWS needs one, in the bus's account,
        when the bus is in another account than the queue:
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-cross-account.html
    boto3_session : boto3.Session, optional

    Returns
    -------
    Subscription

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument AWS would reject (named in the message, with its limit); nothing is sent.
    meshkit.patterns.PatternError
        For a pattern EventBridge would reject (which moto would accept and match wrongly).
    meshkit.events.UnknownBusError
        When ``bus`` does not exist.
    meshkit.exceptions.NotMeshkitResourceError
        When a queue or rule of that name exists but belongs to someone else: made by hand,
        another domain's, another subscription's, or a forward's. Everything is checked before
        anything is created, so a refusal changes nothing.

    Notes
    -----
    Targets someone else added to the subscription's rule are kept; a new pattern applies to them
    too (a warning in the log says so).

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]}
    ... )
    >>> sub.queue_url  # doctest: +ELLIPSIS
    'http://127.0.0.1:.../123456789012/audit-doctest'
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    consumer = domain_key(consumer_domain, field="consumer_domain")
    ref = parse_bus(bus, field="bus")
    pattern = patterns.check_pattern(pattern)
    name = _subscription_name(consumer, ref.name, name)
    _check_range("max_receive_count", max_receive_count, 1, 1000)
    _check_range("visibility_timeout_s", visibility_timeout_s, 0, 43_200)
    _check_range("retry_attempts", retry_attempts, 0, 185)
    _check_range("max_event_age_s", max_event_age_s, 60, 86_400)
    _check_role_arn(role_arn, "when the bus is in the queue's account")

    eventbridge = _aws.client("events", boto3_session)
    sqs = _aws.client("sqs", boto3_session)
    bus = bus_for_calls(ref, eventbridge, boto3_session)
    check_bus_exists(eventbridge, bus)
    # Check all that exists before creating anything: a refusal leaves everything as it was.
    dlq_url = _checked_queue(sqs, name + _DLQ_SUFFIX, consumer, bus, name)
    queue_url = _checked_queue(sqs, name, consumer, bus, name)
    existing_rule, targets = _checked_rule(eventbridge, name, bus, consumer, QUEUE_TARGET_ID)
    _warn_of_their_targets(name, bus, targets, QUEUE_TARGET_ID)
    tags = {**tag_map(consumer), SUBSCRIPTION_TAG: name, BUS_TAG: bus}

    dlq_url, dlq_arn = _own_queue(sqs, name + _DLQ_SUFFIX, dlq_url, tags)
    queue_url, queue_arn = _own_queue(sqs, name, queue_url, tags)
    description = f"{consumer} consumes from {bus}"
    rule_arn = _put_rule(
        eventbridge, name, bus, pattern, tag_map(consumer), existing_rule, description=description
    )
    sqs.set_queue_attributes(
        QueueUrl=dlq_url,
        Attributes={
            "MessageRetentionPeriod": str(_DLQ_RETENTION_S),
            "Policy": json.dumps(queue_policy(dlq_arn, rule_arn)),
            # Only this subscription's queue may use it as its dead-letter queue.
            "RedriveAllowPolicy": json.dumps(
                {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]}
            ),
        },
    )
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_s),
            "MessageRetentionPeriod": str(_QUEUE_RETENTION_S),
            "Policy": json.dumps(queue_policy(queue_arn, rule_arn)),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )
    # The queue policies are in place before the target: no event meets a queue that refuses it.
    target: dict[str, Any] = {
        "Id": TARGET_ID,
        "Arn": queue_arn,
        "RetryPolicy": {
            "MaximumRetryAttempts": retry_attempts,
            "MaximumEventAgeInSeconds": max_event_age_s,
        },
        "DeadLetterConfig": {"Arn": dlq_arn},
    }
    if role_arn is not None:
        target["RoleArn"] = role_arn
    eventbridge.put_targets(Rule=name, EventBusName=bus, Targets=[target])
    _logger.info("subscribed %s to %s on %s", queue_arn, rule_arn, bus)
    return Subscription(
        consumer=consumer,
        name=name,
        bus=bus,
        pattern=pattern,
        rule_arn=rule_arn,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        max_receive_count=max_receive_count,
    )


def forward(
    from_bus: str,
    to_bus: str,
    *,
    pattern: Mapping[str, Any] | str,
    name: str,
    role_arn: str | None = None,
    domain: str | None = None,
    retry_attempts: int = 185,
    max_event_age_s: int = 24 * 3600,
    dead_letter_queue_arn: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Forward the events of ``from_bus`` that match ``pattern`` to another bus; return the rule's
    ARN. Idempotent.

    The receiving bus may be in another account (or region): its resource policy must then let
    this account put events on it (``mk.iam.bus_policy``), and the target needs ``role_arn`` when
    that policy admits an organization rather than the account. moto delivers across accounts
    whatever the policy says; AWS enforces it.

    Parameters
    ----------
    from_bus : str
        The sending bus: its name, e.g. ``"SalesEventBus"``, or its ARN (another account's on
        AWS only, as for ``subscribe``). It must exist.
    to_bus : str
        The receiving bus: its ARN (``mk.buses.create_domain_bus`` returns it), any account's,
        or the name of a bus in this account and region.
    pattern : dict or str
        The event pattern, checked by ``mk.patterns.check_pattern``.
    name : str
        The forwarding rule's name: 1 to 64 letters, digits, ``.``, ``-`` or ``_``.
    role_arn : str, optional
        An IAM role ARN EventBridge assumes to put the events on the receiving bus.
    domain : str, optional
        The domain that owns the forwarding rule (and is tagged on it); default: the domain
        ``from_bus`` is tagged for. Required when meshkit did not create ``from_bus``.
    retry_attempts, max_event_age_s : int, default 185 and 86400
        The target's ``RetryPolicy``, as for ``subscribe``.
    dead_letter_queue_arn : str, optional
        An SQS queue for the events EventBridge could not put on the receiving bus (its policy
        must let the rule send to it, as ``queue_policy`` writes); without one such events are
        dropped, and ``mk.mesh.lint`` says so.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The forwarding rule's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument AWS would reject (named in the message, with its limit); nothing is sent.
    meshkit.events.UnknownBusError
        When ``from_bus`` does not exist.
    meshkit.exceptions.NotMeshkitResourceError
        When ``from_bus`` is not meshkit's and ``domain`` is not given, or a rule of that name
        exists that is not this domain's forward (made by hand, another domain's, a
        subscription's).

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> audit_bus = mk.buses.create_domain_bus("doctest-audit")
    >>> mk.subscriptions.forward(
    ...     "DoctestEventBus", audit_bus, pattern={"source": ["sales.domain"]}, name="to-audit"
    ... )
    'arn:aws:events:us-west-2:123456789012:rule/DoctestEventBus/to-audit'
    >>> mk.buses.delete_domain_bus("doctest"), mk.buses.delete_domain_bus("doctest-audit")
    (True, True)
    """
    sender = parse_bus(from_bus, field="from_bus")
    receiver = parse_bus(to_bus, field="to_bus")
    pattern = patterns.check_pattern(pattern)
    name = _check_rule_name(name)
    _check_role_arn(role_arn, "when the receiving bus's policy admits this account")
    delivery = _delivery(retry_attempts, max_event_age_s, dead_letter_queue_arn)
    owner = domain_key(domain) if domain is not None else None
    eventbridge = _aws.client("events", boto3_session)
    from_bus = bus_for_calls(sender, eventbridge, boto3_session, field="from_bus")
    check_bus_exists(eventbridge, from_bus)
    # A target names a bus by its ARN; a name is this account's bus, and must exist.
    to_bus_arn = receiver.arn
    if to_bus_arn is None:
        check_bus_exists(eventbridge, receiver.name)
        to_bus_arn = str(eventbridge.describe_event_bus(Name=receiver.name)["Arn"])
    if owner is None:
        owner = _bus_owner(eventbridge, from_bus)
    existing, targets = _checked_rule(eventbridge, name, from_bus, owner, FORWARD_TARGET_ID)
    _warn_of_their_targets(name, from_bus, targets, FORWARD_TARGET_ID)
    description = f"forwards to {to_bus_arn}"
    arn = _put_rule(
        eventbridge, name, from_bus, pattern, tag_map(owner), existing, description=description
    )
    target: dict[str, Any] = {"Id": FORWARD_TARGET_ID, "Arn": to_bus_arn, **delivery}
    if role_arn:
        target["RoleArn"] = role_arn
    eventbridge.put_targets(Rule=name, EventBusName=from_bus, Targets=[target])
    _logger.info("forwarding %s to %s with %s", from_bus, to_bus_arn, arn)
    return str(arn)


def route_to_stream(
    consumer_domain: str,
    *,
    bus: str,
    pattern: Mapping[str, Any] | str,
    stream_arn: str,
    role_arn: str,
    name: str | None = None,
    partition_key_path: str = "$.detail.metadata.correlation_id",
    retry_attempts: int = 185,
    max_event_age_s: int = 24 * 3600,
    dead_letter_queue_arn: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Route the events on ``bus`` that match ``pattern`` to a domain's Kinesis data stream.

    The high-throughput way to consume: a rule whose target is the stream, read by a function
    through Lambda's Kinesis event source mapping (``mk.analytics.KinesisRunner`` offline).
    Idempotent: running it again updates the rule and its target in place. Refused on the
    embedded AWS, which cannot deliver to Kinesis (``UndeliverableTargetError``): there, record
    the events on the stream directly with ``mk.analytics.record_events``.

    Parameters
    ----------
    consumer_domain : str
        The consuming domain, e.g. ``"fraud"``; it owns (and is tagged on) the rule.
    bus : str
        The producer's bus, by name or ARN, as for ``subscribe``.
    pattern : dict or str
        The event pattern, checked by ``mk.patterns.check_pattern`` before anything is sent.
    stream_arn : str
        The Kinesis data stream's ARN, ``arn:aws:kinesis:<region>:<account>:stream/<name>``.
    role_arn : str
        The IAM role EventBridge assumes to put records on the stream (``kinesis:PutRecord``);
        EventBridge needs one for a Kinesis target.
    name : str, optional
        Name of the rule; default ``"<consumer>-<producer>-stream"`` (``fraud-sales-stream``).
    partition_key_path : str, default "$.detail.metadata.correlation_id"
        The JSON path in the event whose value is the record's partition key: events with one
        key go to one shard, in order. At most 256 characters, starting with ``$.``.
    retry_attempts, max_event_age_s : int, default 185 and 86400
        The target's ``RetryPolicy``, as for ``subscribe``.
    dead_letter_queue_arn : str, optional
        An SQS queue for the events EventBridge could not deliver (its policy must let the rule
        send to it, as ``queue_policy`` writes).
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The rule's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument AWS would reject (named in the message, with its limit); nothing is sent.
    UndeliverableTargetError
        On the embedded AWS; nothing is sent.
    meshkit.exceptions.NotMeshkitResourceError
        When a rule of that name exists and is not this domain's route.

    Examples
    --------
    >>> import meshkit as mk
    >>> _ = mk.buses.create_domain_bus("doctest")
    >>> mk.subscriptions.route_to_stream(
    ...     "fraud", bus="DoctestEventBus", pattern={"source": ["sales.domain"]},
    ...     stream_arn="arn:aws:kinesis:us-west-2:123456789012:stream/fraud-sales",
    ...     role_arn="arn:aws:iam::123456789012:role/eventbridge-to-kinesis",
    ... )  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    meshkit.subscriptions.UndeliverableTargetError: the embedded AWS cannot deliver ...
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    consumer = domain_key(consumer_domain, field="consumer_domain")
    ref = parse_bus(bus, field="bus")
    pattern = patterns.check_pattern(pattern)
    name = _route_name(consumer, ref.name, name)
    _check_stream_arn(stream_arn)
    if role_arn is None:
        raise ValidationError(
            "role_arn is None: EventBridge puts records on a Kinesis stream as an IAM role that "
            "allows kinesis:PutRecord on it; give its ARN, e.g. "
            "'arn:aws:iam::123456789012:role/eventbridge-to-kinesis'"
        )
    _check_role_arn(role_arn, "")
    _check_partition_key_path(partition_key_path)
    delivery = _delivery(retry_attempts, max_event_age_s, dead_letter_queue_arn)
    if _aws.target().mode == "embedded":
        raise UndeliverableTargetError(
            f"the embedded AWS cannot deliver to a Kinesis target: with this rule on {ref.name}, "
            "moto fails every PutEvents on the bus with HTTP 500, after its queues got each "
            "event, so retries deliver copies (parity ledger P14); offline, put the events on "
            "the stream yourself with mk.analytics.record_events(stream, events), and route "
            "with this function on AWS"
        )

    eventbridge = _aws.client("events", boto3_session)
    bus = bus_for_calls(ref, eventbridge, boto3_session)
    check_bus_exists(eventbridge, bus)
    existing_rule, targets = _checked_rule(eventbridge, name, bus, consumer, STREAM_TARGET_ID)
    _warn_of_their_targets(name, bus, targets, STREAM_TARGET_ID)
    description = f"{consumer} reads from {bus} through a Kinesis stream"
    rule_arn = _put_rule(
        eventbridge, name, bus, pattern, tag_map(consumer), existing_rule, description=description
    )
    target: dict[str, Any] = {
        "Id": STREAM_TARGET_ID,
        "Arn": stream_arn,
        "RoleArn": role_arn,
        "KinesisParameters": {"PartitionKeyPath": partition_key_path},
        **delivery,
    }
    eventbridge.put_targets(Rule=name, EventBusName=bus, Targets=[target])
    _logger.info("routed %s to %s on %s", rule_arn, stream_arn, bus)
    return rule_arn


def unroute_stream(
    consumer_domain: str,
    *,
    bus: str,
    name: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Remove what ``route_to_stream`` made: its target, and the rule unless others use it.

    The stream and its records stay: they are the consumer's (``mk.analytics.delete_stream``).

    Parameters
    ----------
    consumer_domain, bus, name
        As for ``route_to_stream``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when something was removed, False when there was no such route.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument AWS would reject; nothing is sent.
    meshkit.exceptions.NotMeshkitResourceError
        When the rule is not this domain's route.

    Examples
    --------
    >>> import meshkit as mk
    >>> _ = mk.buses.create_domain_bus("doctest")
    >>> mk.subscriptions.unroute_stream("fraud", bus="DoctestEventBus")  # there is none
    False
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    consumer = domain_key(consumer_domain, field="consumer_domain")
    ref = parse_bus(bus, field="bus")
    name = _route_name(consumer, ref.name, name)
    eventbridge = _aws.client("events", boto3_session)
    bus = bus_for_calls(ref, eventbridge, boto3_session)
    rule_arn, targets = _checked_rule(eventbridge, name, bus, consumer, STREAM_TARGET_ID)
    if rule_arn is None:
        return False
    if any(target["Id"] == STREAM_TARGET_ID for target in targets):
        eventbridge.remove_targets(Rule=name, EventBusName=bus, Ids=[STREAM_TARGET_ID])
    theirs = [target["Id"] for target in targets if target["Id"] != STREAM_TARGET_ID]
    if theirs:
        _logger.warning(
            "kept rule %s on %s: it still has targets meshkit did not put there (%s)",
            name,
            bus,
            ", ".join(map(repr, theirs)),
        )
    else:
        eventbridge.delete_rule(Name=name, EventBusName=bus)
    return True


def queue_policy(queue_arn: str, rule_arn: str) -> dict[str, Any]:
    """The queue policy that lets EventBridge send to ``queue_arn`` for one rule, and no other.

    Without the ``aws:SourceArn`` condition any rule in any account could fill the queue (the
    confused-deputy problem).

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.subscriptions.queue_policy(
    ...     "arn:aws:sqs:us-west-2:123456789012:marketing-sales",
    ...     "arn:aws:events:us-west-2:123456789012:rule/SalesEventBus/marketing-sales",
    ... )
    >>> policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"].split(":")[-1]
    'rule/SalesEventBus/marketing-sales'
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRuleSendsEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


def unsubscribe(
    consumer_domain: str,
    *,
    bus: str,
    name: str | None = None,
    force: bool = False,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Remove what ``subscribe`` made: the target, the rule, the queue and its DLQ.

    Messages are never thrown away silently: while the queue or the DLQ holds any (waiting, in
    flight or delayed), it refuses unless ``force=True``. Process them (``mk.consumers.run``) or
    redrive them first. On AWS, SQS's counts lag by up to a minute: wait that long after the last
    event was published.

    Only meshkit's own target is removed from the rule: when someone else added targets to it,
    the rule stays for them (a warning in the log names them). A queue is deleted only when its
    tags say it is this subscription's (this consumer, this name, this bus).

    Parameters
    ----------
    consumer_domain, bus, name
        As for ``subscribe``.
    force : bool, default False
        Delete the queues even while they hold messages (the messages go with them).
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when something was removed, False when there was no such subscription.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument AWS would reject, or a ``force`` that is not a bool; nothing is sent.
    meshkit.exceptions.NotMeshkitResourceError
        When the rule or a queue belongs to another domain or another subscription, was not made
        by meshkit, or the rule is a forward's.
    QueueNotEmptyError
        When messages are waiting and ``force`` is False.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")  # nothing left
    False
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    consumer = domain_key(consumer_domain, field="consumer_domain")
    ref = parse_bus(bus, field="bus")
    name = _subscription_name(consumer, ref.name, name)
    if not isinstance(force, bool):
        raise ValidationError(
            f"force is {force!r}: pass True or False (a string such as 'no' would count as True "
            "and delete waiting messages)"
        )
    eventbridge = _aws.client("events", boto3_session)
    sqs = _aws.client("sqs", boto3_session)
    bus = bus_for_calls(ref, eventbridge, boto3_session)
    queues = {
        queue_name: url
        for queue_name in (name, name + _DLQ_SUFFIX)
        if (url := _checked_queue(sqs, queue_name, consumer, bus, name)) is not None
    }
    rule_arn, targets = _checked_rule(eventbridge, name, bus, consumer, QUEUE_TARGET_ID)
    ours = [t for t in targets if t["Id"] == QUEUE_TARGET_ID and t["Arn"].endswith(f":{name}")]
    theirs = [t["Id"] for t in targets if t not in ours]
    # Stop deliveries first, so that no message arrives between the count and the deletion.
    if ours:
        eventbridge.remove_targets(Rule=name, EventBusName=bus, Ids=[QUEUE_TARGET_ID])
    holding = {
        queue_name: count
        for queue_name, url in queues.items()
        if (count := sum(queue_depths(url, boto3_session=boto3_session)))
    }
    if holding and not force:
        if ours:  # as it was: the subscription keeps working
            eventbridge.put_targets(Rule=name, EventBusName=bus, Targets=ours)
        listed = ", ".join(f"{queue} holds {count}" for queue, count in holding.items())
        raise QueueNotEmptyError(
            f"{listed} message(s): process them with mk.consumers.run or redrive them first, or "
            "pass force=True to delete them with the queues"
        )
    if rule_arn is not None and theirs:
        _logger.warning(
            "kept rule %s on %s: it still has targets meshkit did not put there (%s); its "
            "owners can delete it once they are done",
            name,
            bus,
            ", ".join(map(repr, theirs)),
        )
    elif rule_arn is not None:
        eventbridge.delete_rule(Name=name, EventBusName=bus)
    for url in queues.values():
        sqs.delete_queue(QueueUrl=url)
    _logger.info("unsubscribed %s from %s", name, bus)
    return bool(queues) or bool(ours) or (rule_arn is not None and not theirs)


def discard_messages(
    consumer_domain: str,
    *,
    bus: str,
    name: str | None = None,
    time_budget_s: float = 60.0,
    boto3_session: boto3.Session | None = None,
) -> int:
    """Delete every message in a subscription's queue and DLQ, keeping the subscription.

    For a fresh start, e.g. before a notebook runs again on the same AWS: the rule, the queues and
    their settings stay, only the messages go. The queue is emptied first (a receive can move a
    message to the DLQ), then the DLQ. Messages in flight, received by a consumer that has not
    deleted them, are deleted once they are visible again, within ``time_budget_s``. Unlike
    SQS's ``PurgeQueue``, it does not go on deleting for a minute afterwards, so events
    published right after it are kept. On AWS, SQS's counts lag: messages that arrive while it
    runs may be deleted too. On the embedded AWS, a queue holding no message in flight is emptied
    with one ``PurgeQueue`` (moto's ends at once; its receives slow down as a queue deepens).

    Parameters
    ----------
    consumer_domain, bus, name
        As for ``subscribe``.
    time_budget_s : float, default 60
        How long to wait for messages in flight.
    boto3_session : boto3.Session, optional

    Returns
    -------
    int
        How many messages were deleted; 0 when there is no such subscription.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When a queue belongs to another domain or was not made by meshkit.
    QueueNotEmptyError
        When messages are still in flight at the end of the time budget.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe(
    ...     "audit", bus="DoctestEventBus", pattern={"source": ["sales.domain"]}
    ... )
    >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00"}
    >>> event = mk.events.DomainEvent("sales.domain", "SaleRecorded", sale)
    >>> mk.events.publish("DoctestEventBus", [event])
    PublishResult(sent=1, failed=0, api_calls=1, retried=0)
    >>> mk.subscriptions.discard_messages("audit", bus="DoctestEventBus")
    1
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    consumer = domain_key(consumer_domain, field="consumer_domain")
    ref = parse_bus(bus, field="bus")
    name = _subscription_name(consumer, ref.name, name)
    if (
        isinstance(time_budget_s, bool)
        or not isinstance(time_budget_s, (int, float))
        or not 0 <= time_budget_s < math.inf
    ):
        raise ValidationError(
            f"time_budget_s is {time_budget_s!r}: give a number of seconds, 0 or more, "
            "e.g. 60 (how long to wait for messages in flight)"
        )
    sqs = _aws.client("sqs", boto3_session)
    bus = bus_for_calls(ref, _aws.client("events", boto3_session), boto3_session)
    deadline = time.monotonic() + time_budget_s
    discarded = 0
    purge_at_once = _aws.target().mode == "embedded"
    for queue_name in (name, name + _DLQ_SUFFIX):  # the queue first: it may feed the DLQ
        url = _checked_queue(sqs, queue_name, consumer, bus, name)
        if url is None:
            continue
        depths = queue_depths(url, boto3_session=boto3_session)
        if not sum(depths):
            continue  # empty already: no receive, no wait
        if purge_at_once and not depths.in_flight + depths.delayed:
            # moto's counts are exact and its PurgeQueue ends at once, while each of its receives
            # scans the whole queue: one call deletes exactly what a receive loop would.
            try:
                sqs.purge_queue(QueueUrl=url)
            except ClientError as err:
                if not error_code(err).endswith("PurgeQueueInProgress"):
                    raise
                # one purge a minute per queue, as on SQS: a second run receives and deletes
            else:
                discarded += depths.waiting
                continue
        while True:
            # A long poll asks every SQS server, so an empty answer means nothing is visible.
            batch = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if batch:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(batch)
                    ],
                )
                discarded += len(batch)
                continue
            _, in_flight, delayed = left = queue_depths(url, boto3_session=boto3_session)
            if not sum(left):  # counting waiting ones too: in flight a moment ago, visible now
                break
            if time.monotonic() >= deadline:
                if not in_flight + delayed:
                    break  # counted as waiting, yet long polls find none: the counts lag (AWS)
                raise QueueNotEmptyError(
                    f"{queue_name} still holds {in_flight + delayed} message(s) in flight or "
                    "delayed: a consumer may be working on them; try again after the queue's "
                    "visibility timeout"
                )
    if discarded:
        _logger.info("discarded %d message(s) of %s", discarded, name)
    return discarded


class QueueDepths(NamedTuple):
    """How many messages a queue holds: SQS's approximate counts. A tuple, so ``sum()`` is all.

    Examples
    --------
    >>> depths = QueueDepths(waiting=2, in_flight=1, delayed=0)
    >>> depths.in_flight, sum(depths)
    (1, 3)
    """

    waiting: int
    """Visible, ready to be received (``ApproximateNumberOfMessages``)."""
    in_flight: int
    """Received, neither deleted nor visible again yet (``...NotVisible``)."""
    delayed: int
    """Sent with a delay that has not passed (``...Delayed``)."""


def queue_depths(queue_url: str, *, boto3_session: boto3.Session | None = None) -> QueueDepths:
    """The waiting, in-flight and delayed messages of a queue: SQS's approximate counts.

    On AWS the counts lag by up to a minute; moto's are exact.

    Parameters
    ----------
    queue_url : str
        The queue's URL (``Subscription.queue_url``, or ``queue_url_of(name_or_arn)``).
    boto3_session : boto3.Session, optional

    Returns
    -------
    QueueDepths

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``queue_url`` is not a queue URL (``queue_url_of`` finds one from a name or ARN).

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> mk.subscriptions.queue_depths(sub.queue_url)
    QueueDepths(waiting=0, in_flight=0, delayed=0)
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    parts = urlsplit(queue_url) if isinstance(queue_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            f"queue_url {queue_url!r} is not a queue URL: queue_url must be one such as "
            "'https://sqs.us-west-2.amazonaws.com/123456789012/marketing-sales'; "
            "mk.subscriptions.queue_url_of(name_or_arn) finds it"
        )
    attributes = _aws.client("sqs", boto3_session).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return QueueDepths(
        int(attributes.get("ApproximateNumberOfMessages", 0)),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )


def list_subscriptions(*, boto3_session: boto3.Session | None = None) -> pd.DataFrame:
    """meshkit's subscriptions on the domain buses, with how many messages each queue holds.

    Returns
    -------
    pandas.DataFrame
        Columns ``consumer``, ``name``, ``bus``, ``pattern`` (JSON), ``waiting``, ``in_flight``
        and ``dead_letters`` (messages in the DLQ), sorted by bus and name.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> subscriptions = mk.subscriptions.list_subscriptions()
    >>> print(subscriptions[subscriptions["bus"] == "DoctestEventBus"].to_string(index=False))
    consumer          name             bus          pattern  waiting  in_flight  dead_letters
       audit audit-doctest DoctestEventBus {"source":["x"]}        0          0             0
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    eventbridge = _aws.client("events", boto3_session)
    sqs = _aws.client("sqs", boto3_session)
    rows: list[dict[str, Any]] = []
    for bus in list_domain_buses(boto3_session=boto3_session)["bus"]:
        for rule in _rules(eventbridge, bus):
            tags = eventbridge_tags(eventbridge, rule["Arn"])
            if tags.get(WORKBOOK_TAG) != "true":
                continue
            try:  # a subscription's queues, not queues that merely share the rule's name
                queue_url, dlq_url = (
                    _checked_queue(sqs, queue, tags.get(DOMAIN_TAG, ""), bus, rule["Name"])
                    for queue in (rule["Name"], rule["Name"] + _DLQ_SUFFIX)
                )
            except NotMeshkitResourceError:
                continue
            if queue_url is None or dlq_url is None:
                continue
            waiting, in_flight, _ = queue_depths(queue_url, boto3_session=boto3_session)
            rows.append(
                {
                    "consumer": tags.get(DOMAIN_TAG, ""),
                    "name": rule["Name"],
                    "bus": bus,
                    "pattern": rule.get("EventPattern", ""),
                    "waiting": waiting,
                    "in_flight": in_flight,
                    "dead_letters": sum(queue_depths(dlq_url, boto3_session=boto3_session)[:2]),
                }
            )
    # Annotated: pandas-stubs types sort_values' result (Self) as Any for Python 3.10.
    frame: pd.DataFrame = pd.DataFrame(rows, columns=_SUBSCRIPTION_COLUMNS).sort_values(
        ["bus", "name"], ignore_index=True
    )
    return frame


# -- helpers ------------------------------------------------------------------------------------


def _subscription_name(consumer: str, bus: str, name: str | None) -> str:
    if name is None:
        derived = f"{consumer}-{bus_domain(bus)}"
        if len(derived) > _NAME_MAX:
            # Cutting it could give two subscriptions one name: refuse, and let the caller choose.
            raise ValidationError(
                f"the subscription name derived from consumer_domain and bus, {derived!r}, is "
                f"{len(derived)} characters; it names a rule (EventBridge allows {_NAME_MAX}) and "
                f"two queues (SQS allows 80, and the DLQ adds {_DLQ_SUFFIX!r}): pass name=... "
                f"with at most {_NAME_MAX} letters, digits, '-' or '_'"
            )
        name = derived
    if not isinstance(name, str):
        raise ValidationError(
            f"name must be a string such as 'marketing-sales', not {type(name).__name__}"
        )
    if not _NAME.fullmatch(name):
        raise ValidationError(
            f"name={name!r} is not a valid subscription name: it names a rule (EventBridge: 1 to "
            f"{_NAME_MAX} characters) and two queues (SQS: 1 to 80 letters, digits, '-' or '_'; "
            f"the DLQ adds {_DLQ_SUFFIX!r}), so use 1 to {_NAME_MAX} letters, digits, '-' or '_', "
            "starting with a letter or digit, e.g. 'marketing-sales'"
        )
    return name


def _route_name(consumer: str, bus: str, name: str | None) -> str:
    """A route's rule name: ``<consumer>-<producer>-stream`` unless given."""
    if name is None:
        derived = f"{consumer}-{bus_domain(bus)}-stream"
        if len(derived) > _NAME_MAX:
            raise ValidationError(
                f"the rule name derived from consumer_domain and bus, {derived!r}, is "
                f"{len(derived)} characters; EventBridge allows {_NAME_MAX}: pass name=..."
            )
        return derived
    return _check_rule_name(name)


def _check_stream_arn(stream_arn: Any) -> None:
    if not isinstance(stream_arn, str) or not _STREAM_ARN.fullmatch(stream_arn):
        raise ValidationError(
            f"stream_arn {stream_arn!r:.120} is not a Kinesis data stream ARN: give one such as "
            "'arn:aws:kinesis:us-west-2:123456789012:stream/fraud-sales' "
            "(mk.analytics.create_stream returns it)"
        )


def _check_partition_key_path(path: Any) -> None:
    if not isinstance(path, str) or not path.startswith("$.") or len(path) > 256:
        raise ValidationError(
            f"partition_key_path {path!r:.80} is not a JSON path of the event: give 3 to 256 "
            "characters starting with '$.', e.g. '$.detail.data.card_id'"
        )


def _check_rule_name(name: Any) -> str:
    """A forwarding rule's name, as PutRule takes it."""
    if not isinstance(name, str):
        raise ValidationError(
            f"name must be a string such as 'to-marketing', not {type(name).__name__}"
        )
    if not _RULE_NAME.fullmatch(name):
        raise ValidationError(
            f"name {name[:70]!r} ({len(name)} characters) is not a rule name: EventBridge allows "
            f"1 to {_NAME_MAX} letters, digits, '.', '-' or '_', e.g. 'to-marketing'"
        )
    return name


def _check_role_arn(role_arn: Any, when_not_needed: str) -> None:
    if role_arn is not None and (
        not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn)
    ):
        raise ValidationError(
            f"role_arn {role_arn!r} is not an IAM role ARN: give one such as "
            f"'arn:aws:iam::123456789012:role/sales-forwarder', or None {when_not_needed}"
        )


def _bus_owner(eventbridge: Any, bus: str) -> str:
    """The domain a meshkit bus is tagged for; a bus meshkit did not create has none."""
    tags = eventbridge_tags(eventbridge, eventbridge.describe_event_bus(Name=bus)["Arn"])
    if tags.get(WORKBOOK_TAG) != "true" or not tags.get(DOMAIN_TAG):
        raise NotMeshkitResourceError(
            f"event bus {bus} was not created by meshkit (no {WORKBOOK_TAG} tag), so meshkit "
            "cannot tell which domain owns a forwarding rule on it: pass domain='...' (the domain "
            "that owns the rule), or adopt the bus with mk.buses.create_domain_bus(..., "
            "adopt=True)"
        )
    return tags[DOMAIN_TAG]


def _delivery(
    retry_attempts: Any, max_event_age_s: Any, dead_letter_queue_arn: Any
) -> dict[str, Any]:
    """A target's ``RetryPolicy`` and ``DeadLetterConfig``, checked as PutTargets checks them."""
    _check_range("retry_attempts", retry_attempts, 0, 185)
    _check_range("max_event_age_s", max_event_age_s, 60, 86_400)
    delivery: dict[str, Any] = {
        "RetryPolicy": {
            "MaximumRetryAttempts": retry_attempts,
            "MaximumEventAgeInSeconds": max_event_age_s,
        }
    }
    if dead_letter_queue_arn is None:
        return delivery
    if not (isinstance(dead_letter_queue_arn, str) and _QUEUE_ARN.fullmatch(dead_letter_queue_arn)):
        raise ValidationError(
            f"dead_letter_queue_arn {dead_letter_queue_arn!r:.120} is not an SQS queue ARN: give "
            "one such as 'arn:aws:sqs:us-west-2:123456789012:fraud-sales-dlq', or None"
        )
    delivery["DeadLetterConfig"] = {"Arn": dead_letter_queue_arn}
    return delivery


def _check_range(field: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            f"{field} is {value!r}; AWS allows whole numbers {low} to {high}: pass one of them"
        )


def _checked_queue(sqs: Any, queue_name: str, consumer: str, bus: str, name: str) -> str | None:
    """The queue's URL, checked to be this subscription's; None when there is no such queue."""
    url = _queue_url(sqs, queue_name)
    if url is None:
        return None
    tags = _queue_tags(sqs, url)
    check_owner(tags, what=f"queue {queue_name}", domain=consumer, fix=_ANOTHER_NAME)
    served = (tags.get(SUBSCRIPTION_TAG), tags.get(BUS_TAG))
    if served[0] is not None and served != (name, bus):
        raise NotMeshkitResourceError(
            f"queue {queue_name} is meshkit's queue of subscription {served[0]!r} on {served[1]}, "
            f"not of {name!r} on {bus}: a subscription name serves one bus and a queue one "
            "subscription; choose another name with name=..."
        )
    _check_not_serving_another_rule(sqs, url, f":rule/{bus}/{name}")  # queues of older meshkits
    return url


def _own_queue(sqs: Any, name: str, url: str | None, tags: dict[str, str]) -> tuple[str, str]:
    """Create the queue unless ``url`` (checked by ``_checked_queue``) has it; its URL and ARN."""
    if url is None:
        try:
            url = sqs.create_queue(QueueName=name, tags=tags)["QueueUrl"]
        except ClientError as err:
            if "QueueDeletedRecently" not in error_code(err):
                raise
            raise QueueDeletedRecentlyError(
                f"queue {name} was deleted less than 60 seconds ago, and SQS does not allow a "
                "queue of the same name before then: wait a minute and subscribe again"
            ) from err
    elif any(_queue_tags(sqs, url).get(key) != value for key, value in tags.items()):
        sqs.tag_queue(QueueUrl=url, Tags=tags)  # a queue of an older meshkit: say whose it is
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _checked_rule(
    eventbridge: Any, name: str, bus: str, owner: str, kind: str
) -> tuple[str | None, list[dict[str, Any]]]:
    """The rule's ARN and targets, checked to be ``owner``'s rule of this kind (a subscription's,
    ``QUEUE_TARGET_ID``, a forward's, ``FORWARD_TARGET_ID``, or a route's, ``STREAM_TARGET_ID``);
    (None, []) when there is none."""
    arn = _rule_arn(eventbridge, name, bus)
    if arn is None:
        return None, []
    what = f"rule {name} on {bus}"
    check_owner(eventbridge_tags(eventbridge, arn), what=what, domain=owner, fix=_ANOTHER_NAME)
    targets = _targets(eventbridge, name, bus)
    for target in targets:
        made = _MADE_BY.get(target["Id"]) if target["Id"] != kind else None
        if made is not None:
            raise NotMeshkitResourceError(
                f"{what} {made}, so it is not this one's to change: choose another name with "
                "name=..."
            )
    return arn, targets


def _warn_of_their_targets(name: str, bus: str, targets: list[dict[str, Any]], kind: str) -> None:
    """Targets others added to meshkit's rule stay, but a changed pattern changes what they get."""
    theirs = [target["Id"] for target in targets if target["Id"] != kind]
    if theirs:
        _logger.warning(
            "rule %s on %s also has targets meshkit did not put there (%s): they are kept, and "
            "its pattern applies to them too",
            name,
            bus,
            ", ".join(map(repr, theirs)),
        )


def _put_rule(
    eventbridge: Any,
    name: str,
    bus: str,
    pattern: Mapping[str, Any],
    tags: dict[str, str],
    existing: str | None,
    *,
    description: str,
) -> str:
    """Create or update a rule checked by ``_checked_rule``; return its ARN."""
    tag_list = [{"Key": key, "Value": value} for key, value in tags.items()]
    arn = eventbridge.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=patterns.pattern_json(pattern),  # the text check_pattern measured
        State="ENABLED",
        Description=description,
        # Tagged as it is created, so a rule meshkit made is always recognisably meshkit's.
        **({"Tags": tag_list} if existing is None else {}),
    )["RuleArn"]
    if existing is not None:
        eventbridge.tag_resource(ResourceARN=arn, Tags=tag_list)
    return str(arn)


def _check_not_serving_another_rule(sqs: Any, url: str, rule_suffix: str) -> None:
    """A queue admits one rule: re-pointing its policy would refuse the other rule's events."""
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
    if "Policy" not in policy:
        return
    for statement in json.loads(policy["Policy"]).get("Statement", []):
        source = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
        if source and not source.endswith(rule_suffix):
            raise NotMeshkitResourceError(
                f"queue {url.rsplit('/', 1)[-1]} already receives the events of {source}: a "
                "subscription name serves one bus; choose another name with name=..."
            )


def queue_url_of(queue: str, *, boto3_session: boto3.Session | None = None) -> str | None:
    """The URL of a queue named by its name or its ARN, or None when there is no such queue.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> mk.subscriptions.queue_url_of("audit-doctest-dlq")  # doctest: +ELLIPSIS
    'http://127.0.0.1:.../123456789012/audit-doctest-dlq'
    >>> mk.subscriptions.queue_url_of(sub.queue_arn) == sub.queue_url
    True
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    if not isinstance(queue, str) or not queue:
        raise ValidationError(
            f"queue must be a string: a queue name such as 'marketing-sales-dlq' or its ARN "
            f"('arn:aws:sqs:<region>:<account>:<name>'), not {queue!r}"
        )
    if queue.startswith("arn:") and not _QUEUE_ARN.fullmatch(queue):
        raise ValidationError(
            f"queue {queue!r} is not a queue ARN: give 'arn:aws:sqs:<region>:<account>:<name>', "
            "or the queue's name"
        )
    return _queue_url(_aws.client("sqs", boto3_session), queue)


def _queue_url(sqs: Any, queue: str) -> str | None:
    named = {"QueueName": queue}
    if queue.startswith("arn:"):  # arn:aws:sqs:region:account:name
        account, name = queue.split(":")[4:6]
        named = {"QueueName": name, "QueueOwnerAWSAccountId": account}
    try:
        return str(sqs.get_queue_url(**named)["QueueUrl"])
    except ClientError as err:
        if error_code(err) in (
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ):
            return None
        raise


def _queue_tags(sqs: Any, url: str) -> dict[str, str]:
    return dict(sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))


def _rule_arn(eventbridge: Any, name: str, bus: str) -> str | None:
    try:
        return str(eventbridge.describe_rule(Name=name, EventBusName=bus)["Arn"])
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise


def _rules(eventbridge: Any, bus: str) -> list[dict[str, Any]]:
    rules = []
    for page in eventbridge.get_paginator("list_rules").paginate(EventBusName=bus):
        rules.extend(page["Rules"])
    return rules


def _targets(eventbridge: Any, name: str, bus: str) -> list[dict[str, Any]]:
    targets = []
    for page in eventbridge.get_paginator("list_targets_by_rule").paginate(
        Rule=name, EventBusName=bus
    ):
        targets.extend(page["Targets"])
    return targets
