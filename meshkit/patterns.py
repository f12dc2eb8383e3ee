"""Event patterns: check them before EventBridge sees them, and try them on real events.

A rule's event pattern decides which events reach a consumer. EventBridge rejects a malformed
pattern when the rule is created, but moto accepts anything: an unknown operator such as
``{"like": "1%"}`` or ``{"!=": "USD"}`` is stored and then matches every event that has the
field. ``check_pattern`` applies EventBridge's rules first, so a mistake fails loudly on every
target, with the path of the mistake and the fix.

``try_pattern`` answers "which of these events would this pattern match?" with the real matcher:
on AWS through ``TestEventPattern``, offline by publishing to a scratch bus (moto's
``TestEventPattern`` answers nothing).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import boto3
import pandas as pd

from . import _aws
from .buses import WORKBOOK_TAG
from .events import DomainEvent, publish
from .exceptions import ValidationError

__all__ = ["OPERATORS", "PatternError", "check_pattern", "try_pattern"]

_logger = logging.getLogger(__name__)

# EventBridge's quota on a rule's pattern: 2,048 characters, raised to 4,096 on request.
PATTERN_MAX_CHARS = 2048
# Numeric matching works on values from -5.0e9 to +5.0e9 (EventBridge user guide).
_NUMERIC_LIMIT = 5.0e9
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")

OPERATORS = {
    "prefix": 'begins with: [{"prefix": "web-"}]',
    "suffix": 'ends with: [{"suffix": ".png"}]',
    "equals-ignore-case": 'same letters, any case: [{"equals-ignore-case": "usd"}]',
    "wildcard": 'glob with *: [{"wildcard": "web-*-eu"}]',
    "anything-but": 'not these: [{"anything-but": ["USD", "EUR"]}]',
    "numeric": 'in a range: [{"numeric": [">=", 100, "<", 1000]}]',
    "exists": 'field present or absent: [{"exists": false}]',
    "cidr": 'IP address in a block: [{"cidr": "10.0.0.0/8"}]',
}
_HINTS = {
    "!=": 'anything-but: [{"anything-but": "USD"}]',
    "not": 'anything-but: [{"anything-but": "USD"}]',
    "contains": 'wildcard: [{"wildcard": "*text*"}]',
    "like": 'wildcard: [{"wildcard": "1*"}]',
    "regex": 'wildcard (EventBridge has no regular expressions): [{"wildcard": "a*b"}]',
    "in": 'a list of values: ["USD", "EUR"] matches either',
    "eq": 'a list of values: ["USD"]',
    "equals": 'a list of values: ["USD"]',
    ">": 'numeric: [{"numeric": [">", 100]}]',
    "<": 'numeric: [{"numeric": ["<", 100]}]',
    "range": 'numeric: [{"numeric": [">=", 100, "<", 1000]}]',
}


class PatternError(ValidationError):
    """An event pattern EventBridge would reject, or that would not mean what it seems to."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"event pattern at {path}: {message}")
        self.path = path


def check_pattern(pattern: Mapping[str, Any] | str, *, max_chars: int = PATTERN_MAX_CHARS) -> dict:
    """Check an event pattern against EventBridge's rules and return it as a dict.

    Catches what moto would store and then apply wrongly: unknown operators (``!=``, ``like``),
    a bare value where a list belongs, empty lists, numeric ranges with a non-number, an
    operator object with two keys, a CIDR block that is not one. Only EventBridge-bus syntax is
    accepted (Pipes' filters are a subset).

    Parameters
    ----------
    pattern : dict or str
        The pattern, or its JSON text.
    max_chars : int, default 2048
        The pattern's quota in characters of JSON (EventBridge: 2,048, raised to 4,096 on request).

    Raises
    ------
    PatternError
        Naming the path of the first mistake (``detail.amount[0]``) and the fix.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.patterns.check_pattern({"detail": {"data": {"amount": [{"numeric": [">=", 500]}]}}})
    {'detail': {'data': {'amount': [{'numeric': ['>=', 500]}]}}}
    >>> mk.patterns.check_pattern({"source": "sales.domain"})
    Traceback (most recent call last):
    ...
    meshkit.patterns.PatternError: event pattern at source: a field's values must be a list...
    """
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError as err:
            raise PatternError("(root)", f"not valid JSON ({err.msg} at {err.pos})") from err
    if not isinstance(pattern, Mapping) or not pattern:
        raise PatternError(
            "(root)", 'a pattern is a non-empty JSON object, e.g. {"source": ["sales.domain"]}'
        )
    pattern = dict(pattern)
    text = json.dumps(pattern, separators=(",", ":"))
    if len(text) > max_chars:
        raise PatternError(
            "(root)",
            f"{len(text)} characters of JSON; EventBridge allows {max_chars}: match fewer values, "
            "or ask for the quota increase (up to 4,096)",
        )
    _check_object(pattern, "")
    return pattern


def _check_object(pattern: Mapping[str, Any], path: str) -> None:
    for key, value in pattern.items():
        here = f"{path}.{key}" if path else key
        if key == "$or":
            _check_or(value, here)
        elif isinstance(value, Mapping):
            if not value:
                raise PatternError(here, "an empty object matches nothing: remove the field")
            _check_object(value, here)
        elif isinstance(value, list):
            if not value:
                raise PatternError(here, "an empty list matches nothing: give at least one value")
            for index, item in enumerate(value):
                _check_match(item, f"{here}[{index}]")
        else:
            raise PatternError(
                here,
                f"a field's values must be a list, not {json.dumps(value)}: write "
                f"[{json.dumps(value)}]",
            )


def _check_or(value: Any, path: str) -> None:
    if not isinstance(value, list) or len(value) < 2:
        raise PatternError(
            path, 'give a list of at least two patterns: "$or": [{...}, {...}] (either may match)'
        )
    for index, branch in enumerate(value):
        if not isinstance(branch, Mapping) or not branch:
            raise PatternError(f"{path}[{index}]", "each $or branch is a non-empty pattern object")
        _check_object(branch, f"{path}[{index}]")


def _check_match(item: Any, path: str) -> None:
    if item is None or isinstance(item, (str, bool, int, float)):
        return  # exact match (null matches an explicit null, not a missing field)
    if not isinstance(item, Mapping):
        raise PatternError(path, f"expected a value or an operator object, got {json.dumps(item)}")
    if len(item) != 1:
        raise PatternError(
            path,
            f"an operator object has exactly one key, this has {sorted(item)}: "
            "put each operator in its own object in the list (values in a list are OR-ed)",
        )
    ((operator, argument),) = item.items()
    if operator not in OPERATORS:
        hint = _HINTS.get(operator.lower().strip())
        raise PatternError(
            path,
            f"unknown operator {operator!r}"
            + (f"; use {hint}" if hint else f"; EventBridge knows {', '.join(OPERATORS)}"),
        )
    _OPERATOR_CHECKS[operator](argument, f"{path}.{operator}")


def _string(
    argument: Any, path: str, *, allow_ignore_case: bool = False, allow_empty: bool = True
) -> None:
    if isinstance(argument, str):
        if not argument and not allow_empty:
            raise PatternError(path, "an empty string matches every value: give some text")
        return
    if (
        allow_ignore_case
        and isinstance(argument, Mapping)
        and list(argument) == ["equals-ignore-case"]
    ):
        _string(argument["equals-ignore-case"], f"{path}.equals-ignore-case")
        return
    extra = ' or {"equals-ignore-case": "..."}' if allow_ignore_case else ""
    raise PatternError(path, f"expects a string{extra}, got {json.dumps(argument)}")


def _prefix_or_suffix(argument: Any, path: str) -> None:
    _string(argument, path, allow_ignore_case=True, allow_empty=False)


def _wildcard(argument: Any, path: str) -> None:
    _string(argument, path)
    if "**" in argument:
        raise PatternError(path, f"{argument!r} has consecutive wildcards: use a single *")


def _anything_but(argument: Any, path: str) -> None:
    if isinstance(argument, (str, int, float)) and not isinstance(argument, bool):
        return
    if isinstance(argument, list):
        kinds = {isinstance(value, str) for value in argument}
        if not argument or any(
            isinstance(value, bool) or not isinstance(value, (str, int, float))
            for value in argument
        ):
            raise PatternError(path, "expects a non-empty list of strings or of numbers")
        if len(kinds) > 1:
            raise PatternError(path, "mixes strings and numbers: use one kind per list")
        return
    if isinstance(argument, Mapping) and len(argument) == 1:
        ((inner, value),) = argument.items()
        if inner in ("prefix", "suffix"):
            return _string(value, f"{path}.{inner}", allow_empty=False)
        if inner in ("equals-ignore-case", "wildcard"):
            values = value if isinstance(value, list) and value else [value]
            for index, each in enumerate(values):
                (_wildcard if inner == "wildcard" else _string)(each, f"{path}.{inner}[{index}]")
            return
    raise PatternError(
        path,
        "expects a value, a list of values, or one of {prefix, suffix, equals-ignore-case, "
        f"wildcard}}, got {json.dumps(argument)}",
    )


def _numeric(argument: Any, path: str) -> None:
    usage = 'e.g. [">=", 100, "<", 1000]: the lower bound first'
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise PatternError(path, f"expects one or two (operator, number) pairs, {usage}")
    for index in range(0, len(argument), 2):
        operator, number = argument[index], argument[index + 1]
        if operator not in _NUMERIC_OPS:
            raise PatternError(
                f"{path}[{index}]", f"{operator!r} is not one of {', '.join(_NUMERIC_OPS)}"
            )
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, float))
            or not math.isfinite(number)
        ):
            raise PatternError(
                f"{path}[{index + 1}]",
                f"{json.dumps(number)} is not a JSON number; write a number without quotes",
            )
        if abs(number) > _NUMERIC_LIMIT:
            raise PatternError(
                f"{path}[{index + 1}]", f"{number} is outside -5.0e9..5.0e9, the numeric range"
            )
    if len(argument) == 4:
        (low_op, low, high_op, high) = argument
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise PatternError(path, f"a range is a lower then an upper bound, {usage}")
        if not low < high:
            raise PatternError(path, f"the range is empty: {low} is not below {high}")


def _exists(argument: Any, path: str) -> None:
    if not isinstance(argument, bool):
        raise PatternError(path, f"expects true or false, got {json.dumps(argument)}")


def _cidr(argument: Any, path: str) -> None:
    _string(argument, path)
    mask = argument.partition("/")[2]
    try:
        if not mask.isdigit():
            raise ValueError("write the block as address/prefix length, e.g. 10.0.0.0/8")
        ipaddress.ip_network(argument, strict=False)
    except ValueError as err:
        raise PatternError(path, f"{argument!r} is not a CIDR block ({err})") from err


_OPERATOR_CHECKS = {
    "prefix": _prefix_or_suffix,
    "suffix": _prefix_or_suffix,
    "equals-ignore-case": _string,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
    "cidr": _cidr,
}


def try_pattern(
    pattern: Mapping[str, Any] | str,
    events: Iterable[DomainEvent],
    *,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Which of ``events`` the pattern matches, decided by EventBridge itself.

    On real AWS (and another endpoint, such as LocalStack) this asks ``TestEventPattern`` for
    each event. On the embedded AWS, whose ``TestEventPattern`` returns nothing, it creates a
    scratch bus and queue, publishes the events, reads what the rule delivered, and deletes the
    scratch resources: the answer is then moto's matcher's, which differs from EventBridge's in a
    few cases (arrays of objects do not match).

    Returns
    -------
    pandas.DataFrame
        One row per event: ``detail_type``, ``idempotency_key``, ``matched``.

    Examples
    --------
    >>> import meshkit as mk
    >>> sale = mk.events.DomainEvent(source="sales.domain", detail_type="SaleRecorded",
    ...                              detail={"sale_id": "S-1", "amount": 900})
    >>> mk.patterns.try_pattern({"detail-type": ["SaleRecorded"]}, [sale])  # doctest: +SKIP
        detail_type  idempotency_key  matched
    0  SaleRecorded  ...              True
    """
    pattern = check_pattern(pattern)
    events = list(events)
    if _aws.target().mode != "embedded":
        matched = _matched_by_test_event_pattern(pattern, events, boto3_session)
    else:
        matched = _matched_on_scratch_bus(pattern, events, boto3_session)
    return pd.DataFrame(
        {
            "detail_type": [e.detail_type for e in events],
            "idempotency_key": [e.idempotency_key for e in events],
            "matched": matched,
        }
    )


def _matched_by_test_event_pattern(
    pattern: dict, events: list[DomainEvent], boto3_session: boto3.Session | None
) -> list[bool]:
    client = _aws.client("events", boto3_session)
    target = _aws.target()
    pattern_text = json.dumps(pattern)
    matched = []
    for event in events:
        entry = event.to_entry("default")
        when = entry.get("Time") or datetime.now(timezone.utc)
        delivered = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "account": target.account_id,
            "region": target.region,
            "time": _utc(when).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": entry["Source"],
            "detail-type": entry["DetailType"],
            "resources": entry.get("Resources", []),
            "detail": json.loads(entry["Detail"]),
        }
        result = client.test_event_pattern(EventPattern=pattern_text, Event=json.dumps(delivered))
        matched.append(bool(result["Result"]))
    return matched


def _matched_on_scratch_bus(
    pattern: dict, events: list[DomainEvent], boto3_session: boto3.Session | None
) -> list[bool]:
    client = _aws.client("events", boto3_session)
    sqs = _aws.client("sqs", boto3_session)
    name = f"meshkit-scratch-{uuid.uuid4().hex[:12]}"
    client.create_event_bus(Name=name, Tags=[{"Key": WORKBOOK_TAG, "Value": "true"}])
    queue_url = sqs.create_queue(QueueName=name, tags={WORKBOOK_TAG: "true"})["QueueUrl"]
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        client.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(pattern))
        client.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
        publish(name, events, validate=False, raise_on_failure=True, boto3_session=boto3_session)
        seen: set[str] = set()
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in batch:
                seen.add(json.loads(message["Body"])["detail"]["metadata"]["idempotency_key"])
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [event.idempotency_key in seen for event in events]
    finally:
        client.remove_targets(Rule=name, EventBusName=name, Ids=["q"])
        client.delete_rule(Name=name, EventBusName=name)
        client.delete_event_bus(Name=name)
        sqs.delete_queue(QueueUrl=queue_url)


def _utc(when: datetime) -> datetime:
    """A naive datetime is taken as UTC, as boto3 does for PutEvents' Time."""
    return (
        when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    )
