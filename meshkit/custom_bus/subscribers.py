"""A consumer's subscriber on a domain's bus: the new Custom Event Bus's rule and target in one.

The consumer creates it in its own account, on a bus shared with it: the target (a queue), the
delivery role and the dead-letter queue are the consumer's (EventBridge User Guide, "Subscribing
to events on a Custom Event Bus"). A subscriber can start in the past (the bus's retention),
deliver an event group in order (``FIFO``), be paused and resumed, and be revoked by the bus's
owner.

Every request is checked against the ``eventbridgev2`` service model before it is sent, and only
real AWS is called: on the embedded AWS each function refuses before any call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from datetime import datetime
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
    tag_map,
)
from ..buses import bus_domain, domain_key
from ..exceptions import ValidationError
from ..patterns import check_pattern, operators_in, pattern_json
from .checks import check_request

__all__ = [
    "pause",
    "resume",
    "revoke",
    "subscribe",
    "subscriber_request",
    "unsubscribe",
]

FILTER_MAX_BYTES = 4096  # across all of a subscriber's filters (Custom Event Bus quotas)
_CONCURRENT_TRIES = 6  # one create or delete at a time per bus: AWS says retry
# SQS FIFO targets: the group and the deduplication id each event was published with (the
# Amazon SQS queue target page of the Custom Event Bus chapter).
FIFO_SQS_PARAMETERS = {
    "MessageGroupId": "{% $events.SystemMetadata.EventGroupId %}",
    "MessageDeduplicationId": "{% $events.SystemMetadata.DeduplicationId %}",
}


def subscriber_request(
    consumer: str,
    *,
    bus: str,
    target_arn: str,
    role_arn: str,
    pattern: Mapping[str, Any] | str | None = None,
    name: str | None = None,
    dead_letter_arn: str | None = None,
    ordered: bool = False,
    start: str | datetime = "latest",
    max_retry_attempts: int | None = None,
    max_event_age_s: int | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """The ``CreateSubscriber`` request of a consumer's subscription, checked; nothing is sent.

    Parameters
    ----------
    consumer : str
        The consuming domain, e.g. ``"marketing"`` (its tags; the default name).
    bus : str
        The bus's ARN (``...:event-busv2/<name>/<id>``), the consumer's own or shared with it.
    target_arn : str
        Where events go: the consumer's queue (or another target in its account).
    role_arn : str
        The consumer's role that EventBridge assumes to deliver: it trusts
        ``events.amazonaws.com`` and may ``sqs:SendMessage`` to the target and dead-letter queue.
    pattern : dict or str, optional
        The event pattern, written as on Classic for events published with ``PutEvents``: a
        ``DATA`` filter. None delivers every event. Wildcards are refused (subscriber filters
        do not support them).
    name : str, optional
        Default ``"<consumer>-<bus name>"``.
    dead_letter_arn : str, optional
        An SQS queue of the consumer's for events whose retries ran out.
    ordered : bool, default False
        ``FIFO``: deliver each event group in publish order; for an SQS FIFO queue, the message
        group and deduplication id come from the event's ``EventGroupId`` and
        ``DeduplicationId`` (so its producers must set ``DomainEvent.event_group``: without
        one, the queue gets no group and the delivery fails).
    start : "latest", "horizon" or datetime, default "latest"
        Where delivery starts: new events only, the oldest event the bus retains, or a moment in
        the retained past (timezone-aware).
    max_retry_attempts, max_event_age_s : int, optional
        The retry policy (0 to 185 attempts, 60 to 86,400 seconds); AWS's default is 5
        attempts within 300 seconds (Classic's: 185 within 24 hours).
    owner : str, optional
        The owning team's tag (default ``"<consumer>-team"``).

    Returns
    -------
    dict
        The keyword arguments of ``eventbridgev2``'s ``create_subscriber``.

    Raises
    ------
    meshkit.patterns.PatternError
        For a pattern EventBridge would refuse, or one with a wildcard.
    meshkit.custom_bus.InvalidRequestError
        For anything else out of the model's limits, naming the field.
    meshkit.exceptions.ValidationError
        For a bad ``start``, ``ordered`` or bus ARN.

    Examples
    --------
    >>> from meshkit.custom_bus import subscriber_request
    >>> bus = "arn:aws:events:us-east-1:111122223333:event-busv2/SalesEventBus/" + "a" * 25
    >>> request = subscriber_request(
    ...     "marketing", bus=bus, pattern={"detail-type": ["SaleRecorded"]},
    ...     target_arn="arn:aws:sqs:us-east-1:444455556666:marketing-sales",
    ...     role_arn="arn:aws:iam::444455556666:role/marketing-eventbridge-delivery",
    ... )
    >>> request["Name"], request["FilterConfiguration"]["Filters"]
    ('marketing-sales', [{'Pattern': '{"detail-type":["SaleRecorded"]}', 'Scope': 'DATA'}])
    """
    key = domain_key(consumer, field="consumer")
    ref = parse_custom_bus_arn(bus)
    if not isinstance(ordered, bool):
        raise ValidationError(f"ordered is {ordered!r:.40}: give True (FIFO) or False")
    request: dict[str, Any] = {
        "Name": name if name is not None else f"{key}-{bus_domain(ref.name)}",
        "EventBusArn": ref.arn,
        "InvokeConfiguration": {"RoleArn": role_arn, "TargetArn": target_arn},
        "Type": "FIFO" if ordered else "UNORDERED",
        "State": "RUNNING",
        "Tags": tag_map(key, owner),
        **_starting_position(start),
    }
    if pattern is not None:
        request["FilterConfiguration"] = {
            "Language": "EVENT_BRIDGE_PATTERN",
            "Filters": [{"Pattern": _filter_text(pattern), "Scope": "DATA"}],
        }
    if ordered and isinstance(target_arn, str) and target_arn.endswith(".fifo"):
        request["InvokeConfiguration"]["SqsParameters"] = dict(FIFO_SQS_PARAMETERS)
    if dead_letter_arn is not None:
        request["OnFailureConfiguration"] = {"Arn": dead_letter_arn}
    retry = {
        key: value
        for key, value in (
            ("MaxRetryAttempts", max_retry_attempts),
            ("MaxEventAgeInSeconds", max_event_age_s),
        )
        if value is not None
    }
    if retry:
        request["RetryPolicy"] = retry
    return check_request("CreateSubscriber", request)


def subscribe(
    consumer: str,
    *,
    bus: str,
    target_arn: str,
    role_arn: str,
    pattern: Mapping[str, Any] | str | None = None,
    name: str | None = None,
    dead_letter_arn: str | None = None,
    ordered: bool = False,
    start: str | datetime = "latest",
    max_retry_attempts: int | None = None,
    max_event_age_s: int | None = None,
    owner: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create a consumer's subscriber on a bus (real AWS), or return the one meshkit made.

    Parameters are ``subscriber_request``'s; ``boto3_session`` is the consumer account's.
    ``ConcurrentModificationException`` (another create or delete in progress on the bus, from
    any account) is retried with backoff, as AWS advises.

    Returns
    -------
    str
        The subscriber's ARN (``...:subscriber/<name>/<id>``).

    Raises
    ------
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.
    meshkit.exceptions.NotMeshkitResourceError
        When a subscriber of that name exists on the bus and meshkit did not make it for this
        consumer.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.custom_bus.subscribe(
    ...     "marketing",
    ...     bus="arn:aws:events:us-east-1:111122223333:event-busv2/SalesEventBus/" + "a" * 25,
    ...     target_arn="arn:aws:sqs:us-east-1:444455556666:marketing-sales",
    ...     role_arn="arn:aws:iam::444455556666:role/marketing-eventbridge-delivery",
    ... )
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    request = subscriber_request(
        consumer,
        bus=bus,
        target_arn=target_arn,
        role_arn=role_arn,
        pattern=pattern,
        name=name,
        dead_letter_arn=dead_letter_arn,
        ordered=ordered,
        start=start,
        max_retry_attempts=max_retry_attempts,
        max_event_age_s=max_event_age_s,
        owner=owner,
    )
    client = _aws.eventbridgev2_client(boto3_session)
    existing = _subscriber_named(client, request["EventBusArn"], request["Name"])
    if existing is not None:
        arn = str(existing["SubscriberArn"])
        check_owner(
            eventbridgev2_tags(client, arn),
            what=f"subscriber {request['Name']}",
            domain=request["Tags"][DOMAIN_TAG],
            fix="give the subscription another name (name=...)",
        )
        return arn
    response = _retrying_concurrent(lambda: client.create_subscriber(**request))
    return str(response["SubscriberArn"])


def pause(subscriber: str, *, boto3_session: boto3.Session | None = None) -> str:
    """Stop a subscriber's deliveries (``State`` ``STOPPED``); events keep arriving on the bus.

    Returns
    -------
    str
        The subscriber's state afterwards, as AWS reports it.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When meshkit did not make the subscriber.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = "arn:aws:events:us-east-1:444455556666:subscriber/marketing-sales/" + "b" * 25
    >>> mk.custom_bus.pause(arn)
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    return _update_state(subscriber, {"State": "STOPPED"}, boto3_session)


def resume(
    subscriber: str,
    *,
    from_position: str = "last_processed",
    boto3_session: boto3.Session | None = None,
) -> str:
    """Start a paused subscriber again, from where it stopped or from new events only.

    Parameters
    ----------
    subscriber : str
        The subscriber's ARN.
    from_position : {"last_processed", "latest"}, default "last_processed"
        ``"last_processed"`` delivers what arrived while it was paused (within the bus's
        retention); ``"latest"`` skips it.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The subscriber's state afterwards, as AWS reports it.

    Raises
    ------
    meshkit.custom_bus.InvalidRequestError
        For another ``from_position``, naming ``ResumePosition``.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = "arn:aws:events:us-east-1:444455556666:subscriber/marketing-sales/" + "b" * 25
    >>> mk.custom_bus.resume(arn, from_position="yesterday")
    Traceback (most recent call last):
    ...
    meshkit.custom_bus.checks.InvalidRequestError: UpdateSubscriber request refused before ...
    """
    position = from_position.upper() if isinstance(from_position, str) else from_position
    return _update_state(
        subscriber, {"State": "RUNNING", "ResumePosition": position}, boto3_session
    )


def revoke(subscriber: str, *, boto3_session: boto3.Session | None = None) -> str:
    """As the bus's owner, stop a subscriber another account made on it, for good.

    Unsharing the bus does not stop subscribers that exist: revoking does. A revoked subscriber
    stops permanently; its owner can only delete it.

    Returns
    -------
    str
        The revoked subscriber's ARN.

    Raises
    ------
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.custom_bus.revoke("arn:aws:events:us-east-1:444455556666:rule/x")
    Traceback (most recent call last):
    ...
    meshkit.custom_bus.checks.InvalidRequestError: RevokeResource request refused before sending ...
    """
    request = check_request("RevokeResource", {"Arn": subscriber})
    client = _aws.eventbridgev2_client(boto3_session)
    return str(client.revoke_resource(**request)["Arn"])


def unsubscribe(subscriber: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete a subscriber meshkit made (the consumer's own); others are left alone.

    Returns
    -------
    bool
        True when it was deleted, False when it did not exist.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When meshkit did not make it.
    meshkit.exceptions.CustomBusUnavailableError
        On the embedded AWS, before any call.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> arn = "arn:aws:events:us-east-1:444455556666:subscriber/marketing-sales/" + "b" * 25
    >>> mk.custom_bus.unsubscribe(arn)
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve ...
    """
    request = check_request("DeleteSubscriber", {"SubscriberArn": subscriber})
    client = _aws.eventbridgev2_client(boto3_session)
    try:
        tags = eventbridgev2_tags(client, subscriber)
        check_owner(tags, what=f"subscriber {subscriber}", domain=tags.get(DOMAIN_TAG, ""),
                    fix="delete it yourself if it is yours to delete")  # fmt: skip
        _retrying_concurrent(lambda: client.delete_subscriber(**request))
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return False
        raise
    return True


def _starting_position(start: Any) -> dict[str, Any]:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise ValidationError(
                "start is a naive datetime: give a timezone-aware one, e.g. "
                "datetime(2026, 12, 1, tzinfo=timezone.utc)"
            )
        return {
            "StartingPosition": "POINT_IN_TIME",
            "PointInTimeConfiguration": {"PointType": "TIMESTAMP", "StartingPoint": start},
        }
    if start == "latest":
        return {"StartingPosition": "LATEST"}
    if start == "horizon":
        return {
            "StartingPosition": "POINT_IN_TIME",
            "PointInTimeConfiguration": {"PointType": "HORIZON"},
        }
    raise ValidationError(
        f"start is {start!r:.60}: give 'latest' (new events), 'horizon' (the oldest event the bus "
        "retains) or a timezone-aware datetime within the bus's retention"
    )


def _filter_text(pattern: Mapping[str, Any] | str) -> str:
    checked = check_pattern(pattern, max_chars=FILTER_MAX_BYTES)
    text = pattern_json(checked)
    if "wildcard" in operators_in(checked):
        raise ValidationError(
            "pattern uses a wildcard, which subscriber filters do not support: match with "
            "prefix or suffix instead (EventBridge User Guide, Filtering events for a subscriber)"
        )
    if len(text.encode("utf-8")) > FILTER_MAX_BYTES:
        raise ValidationError(
            f"pattern is {len(text.encode('utf-8')):,} bytes of JSON; a subscriber's filters "
            f"take {FILTER_MAX_BYTES:,} bytes in all: match fewer values"
        )
    return text


def _update_state(
    subscriber: str, changes: dict[str, Any], boto3_session: boto3.Session | None
) -> str:
    request = check_request("UpdateSubscriber", {"SubscriberArn": subscriber, **changes})
    client = _aws.eventbridgev2_client(boto3_session)
    tags = eventbridgev2_tags(client, subscriber)
    check_owner(tags, what=f"subscriber {subscriber}", domain=tags.get(DOMAIN_TAG, ""),
                fix="change it yourself if it is yours to change")  # fmt: skip
    return str(client.update_subscriber(**request).get("State", changes["State"]))


def _subscriber_named(client: Any, bus: str, name: str) -> dict[str, Any] | None:
    listed = paged(client.list_subscribers, "Subscribers", EventBusArn=bus, NamePrefix=name)
    return next((dict(subscriber) for subscriber in listed if subscriber["Name"] == name), None)


def _retrying_concurrent(call: Any) -> dict[str, Any]:
    for attempt in range(1, _CONCURRENT_TRIES + 1):
        try:
            response: dict[str, Any] = call()
            return response
        except ClientError as err:
            if error_code(err) != "ConcurrentModificationException" or attempt == _CONCURRENT_TRIES:
                raise
            time.sleep(random.uniform(0, min(8.0, 0.5 * 2**attempt)))
    raise AssertionError("unreachable")
