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

__all__ = [
    "OPERATORS",
    "PatternError",
    "check_pattern",
    "operators_in",
    "pattern_json",
    "try_pattern",
]

_logger = logging.getLogger(__name__)

# EventBridge's quota on a rule's pattern: 2,048 characters, adjustable up to 4,096 (quotas page).
PATTERN_MAX_CHARS = 2048
_PATTERN_QUOTA_MAX = 4096
# Numeric matching works on values from -5.0e9 to +5.0e9 inclusive, "with 15 digits of precision,
# or six digits to the right of the decimal point" (EventBridge user guide, numeric matching).
_NUMERIC_LIMIT = 5.0e9
_NUMERIC_DECIMALS = 6
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")
# meshkit's own guard, far below Python's recursion limit: no event of the mesh is this deep.
_MAX_DEPTH = 100

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


def check_pattern(
    pattern: Mapping[str, Any] | str, *, max_chars: int = PATTERN_MAX_CHARS
) -> dict[str, Any]:
    """Check an event pattern against EventBridge's rules and return it as a plain dict.

    Catches what moto would store and then apply wrongly: unknown operators (``!=``, ``like``),
    a bare value where a list belongs, empty lists, numeric ranges with a non-number, an
    operator object with two keys, a CIDR block that is not one. Also refused, because the rule
    would not mean what it seems to: an operator name used as a field name (``{"amount":
    {"numeric": [...]}}``, or inside a ``$or`` branch), a number that JSON parsers read as 0 or
    infinity (``1e-400``, ``1e400``) or that numeric matching reads as 0 (below 0.000001), a
    field named twice in one JSON object, and a CIDR block with host bits set (EventBridge
    matches its network, the embedded AWS matches nothing). Only EventBridge-bus syntax is
    accepted (Pipes' filters are a subset).

    Parameters
    ----------
    pattern : dict or str
        The pattern, or its JSON text.
    max_chars : int, default 2048
        The pattern's quota in characters of compact JSON (EventBridge: 2,048, adjustable up to
        4,096).

    Returns
    -------
    dict
        The pattern as plain dicts and lists (tuples become lists), equal to a valid input.

    Raises
    ------
    PatternError
        Naming the path of the first mistake (``detail.amount[0]``) and the fix.
    ValidationError
        ``max_chars`` is not a whole number from 1 to 4,096.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.patterns.check_pattern({"detail": {"data": {"amount": [{"numeric": [">=", 500]}]}}})
    {'detail': {'data': {'amount': [{'numeric': ['>=', 500]}]}}}
    >>> mk.patterns.check_pattern({"source": "sales.domain"})
    Traceback (most recent call last):
    ...
    meshkit.patterns.PatternError: event pattern at source: a field's values must be a list...
    >>> mk.patterns.check_pattern({"detail": {"ip": [{"cidr": "10.0.0.255/24"}]}})
    Traceback (most recent call last):
    ...
    meshkit.patterns.PatternError: event pattern at detail.ip[0].cidr: '10.0.0.255/24' has host...
    """
    _check_max_chars(max_chars)
    if isinstance(pattern, str):
        pattern = _parse(pattern)
    if not isinstance(pattern, Mapping) or not pattern:
        raise PatternError(
            "(root)",
            f"got {_show(pattern)}; a pattern is a non-empty JSON object, "
            'e.g. {"source": ["sales.domain"]}',
        )
    _check_json(pattern)
    plain = _plain_object(pattern)
    text = pattern_json(plain)
    if len(text) > max_chars:
        raise PatternError(
            "(root)",
            f"{len(text)} characters of JSON; EventBridge allows {max_chars}: match fewer values, "
            f"or ask for the quota increase (up to {_PATTERN_QUOTA_MAX:,}) and pass it as "
            "max_chars",
        )
    _check_object(plain, "", None)
    return plain


def pattern_json(pattern: Mapping[str, Any]) -> str:
    """The compact JSON text of a pattern, as EventBridge receives and measures it.

    Non-ASCII characters are written as themselves: EventBridge's quota counts characters, and
    ``\\u00e9`` would be six of them for one ``é``. Send this text (``PutRule``,
    ``TestEventPattern``) so that what is sent is what ``check_pattern`` measured.

    Parameters
    ----------
    pattern : dict
        A pattern ``check_pattern`` returned.

    Returns
    -------
    str
        JSON without spaces between items.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.patterns.pattern_json({"detail": {"currency": ["€"]}})
    '{"detail":{"currency":["€"]}}'
    """
    return json.dumps(pattern, separators=(",", ":"), ensure_ascii=False)


def operators_in(pattern: Mapping[str, Any]) -> set[str]:
    """The matching operators a checked pattern uses, at any depth (``$or`` branches and
    ``anything-but``'s nested operator included).

    For what takes part of the syntax only: a subscriber of the new Custom Event Bus, for one,
    takes no ``wildcard``.

    Examples
    --------
    >>> import meshkit as mk
    >>> sorted(mk.patterns.operators_in({
    ...     "source": [{"prefix": "sales."}],
    ...     "detail": {"file": [{"anything-but": {"wildcard": "*.tmp"}}]},
    ... }))
    ['anything-but', 'prefix', 'wildcard']
    >>> mk.patterns.operators_in({"detail": {"wildcard": ["a field, not an operator"]}})
    set()
    """
    found: set[str] = set()

    def fields(node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            if name == "$or" and isinstance(value, list):
                for branch in value:
                    if isinstance(branch, Mapping):
                        fields(branch)
            elif isinstance(value, Mapping):
                fields(value)
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, Mapping):
                        operator(item)

    def operator(node: Mapping[str, Any]) -> None:
        for name, argument in node.items():
            found.add(name)
            if isinstance(argument, Mapping):  # anything-but: {"prefix": ...}
                operator(argument)

    fields(pattern)
    return found


def _check_max_chars(max_chars: Any) -> None:
    if (
        isinstance(max_chars, bool)
        or not isinstance(max_chars, int)
        or not 1 <= max_chars <= _PATTERN_QUOTA_MAX
    ):
        raise ValidationError(
            f"max_chars is {max_chars!r}; give the rule's pattern quota as a whole number of "
            f"characters from 1 to {_PATTERN_QUOTA_MAX:,} (EventBridge's default is "
            f"{PATTERN_MAX_CHARS:,})"
        )


class _UnreadableNumber:
    """A number literal that is not read as written (1e-400 reads as 0); ``why`` says so."""

    def __init__(self, why: str) -> None:
        self.why = why


class _DuplicateKeys(dict[str, Any]):
    """A JSON object in which a field name appears more than once."""

    duplicates: list[str]


def _parse_float(text: str) -> float | _UnreadableNumber:
    value = float(text)
    if math.isinf(value):
        return _UnreadableNumber(f"the number {text} overflows a double: it reads as infinity")
    mantissa = text.lower().partition("e")[0]
    if value == 0 and any(digit in mantissa for digit in "123456789"):
        return _UnreadableNumber(f"the number {text} underflows a double: it reads as 0")
    return value


def _parse_int(text: str) -> int | _UnreadableNumber:
    try:
        return int(text)
    except ValueError:  # Python refuses integers of more than 4,300 digits
        return _UnreadableNumber(f"the number {text[:12]}... has {len(text):,} digits")


def _refuse_constant(name: str) -> None:
    raise PatternError("(root)", f"{name} is not JSON: write a number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not repeated:
        return dict(pairs)
    duplicated = _DuplicateKeys(pairs)
    duplicated.duplicates = repeated
    return duplicated


def _parse(text: str) -> Any:
    try:
        return json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=_refuse_constant,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as err:
        raise PatternError("(root)", f"not valid JSON ({err.msg} at {err.pos})") from err
    except RecursionError as err:
        raise PatternError(
            "(root)", f"not a pattern: nested deeper than {_MAX_DEPTH} levels; flatten it"
        ) from err


def _show(value: Any, limit: int = 60) -> str:
    """A short JSON-ish rendering of ``value`` for an error message (never fails)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_json(pattern: Any) -> None:
    """Refuse what is not JSON, or not the JSON it seems, without recursion (any depth is safe)."""
    stack: list[tuple[Any, str, int]] = [(pattern, "", 1)]
    while stack:
        node, path, depth = stack.pop()
        where = path or "(root)"
        if isinstance(node, _UnreadableNumber):
            raise PatternError(
                where,
                f"{node.why}: write the value you mean (numeric matching covers -5.0e9 to 5.0e9, "
                "to six digits after the decimal point)",
            )
        if isinstance(node, (Mapping, list, tuple)) and depth > _MAX_DEPTH:
            raise PatternError(
                where,
                f"nested deeper than {_MAX_DEPTH} levels (meshkit's limit; the mesh's events are "
                "a few levels deep): flatten the pattern",
            )
        if isinstance(node, _DuplicateKeys):
            raise PatternError(
                where,
                f"field {node.duplicates[0]!r} appears twice in one JSON object, and parsers keep "
                "only one of them: merge the two into one field with one list of values",
            )
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    raise PatternError(
                        where,
                        f"field name {key!r} is a {type(key).__name__}; JSON field names are "
                        f"strings: write {str(key)!r}",
                    )
                _check_unicode(key, where, what=f"the field name {key!r}")
                stack.append((value, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(node, (list, tuple)):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node))
        elif isinstance(node, float) and not math.isfinite(node):
            raise PatternError(where, f"{node} is not a JSON number: write a number")
        elif isinstance(node, int) and not isinstance(node, bool):
            try:
                str(node)
            except ValueError as err:  # more than 4,300 digits: json.dumps cannot write it
                raise PatternError(
                    where, "a number of more than 4,300 digits: write the value you mean"
                ) from err
        elif isinstance(node, str):
            _check_unicode(node, where, what="the string")
        elif not (node is None or isinstance(node, (bool, float))):
            raise PatternError(
                where,
                f"a {type(node).__name__} is not JSON: use a string, a number, true, false, "
                "null, a list or an object",
            )


def _check_unicode(text: str, where: str, *, what: str) -> None:
    # A lone surrogate (from "\\ud800" in JSON text, or bytes decoded with surrogateescape) is
    # no character: it cannot be sent as UTF-8, and strict JSON parsers refuse its escape.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise PatternError(
            where,
            f"{what} holds the lone surrogate {text[err.start]!r} at character {err.start}, "
            "which is not Unicode text: decode the text with its real encoding, or drop the "
            "character",
        ) from err


def _plain(node: Any) -> Any:
    """``node`` as dicts and lists (depth is bounded by ``_check_json``)."""
    if isinstance(node, Mapping):
        return _plain_object(node)
    if isinstance(node, (list, tuple)):
        return [_plain(item) for item in node]
    return node


def _plain_object(node: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _plain(value) for key, value in node.items()}


def _check_object(pattern: Mapping[str, Any], path: str, field: str | None) -> None:
    for key, value in pattern.items():
        here = f"{path}.{key}" if path else key
        if key == "$or":
            _check_or(value, here, field)
        elif key in OPERATORS:
            _refuse_operator_as_field(key, value, here, field, in_or=path.endswith("]"))
        elif isinstance(value, Mapping):
            if not value:
                raise PatternError(here, "an empty object matches nothing: remove the field")
            _check_object(value, here, key)
        elif isinstance(value, list):
            if not value:
                raise PatternError(here, "an empty list matches nothing: give at least one value")
            for index, item in enumerate(value):
                _check_match(item, f"{here}[{index}]")
        else:
            raise PatternError(
                here,
                f"a field's values must be a list, not {_show(value)}: write [{_show(value)}]",
            )


def _refuse_operator_as_field(
    operator: str, value: Any, path: str, field: str | None, *, in_or: bool
) -> None:
    # EventBridge reads a key of a pattern object as a field name, so {"numeric": [">", 1]} there
    # tests a field called "numeric"; a $or whose branch has such a key is not read as an OR at
    # all (aws/event-ruler's README, "The $or Primitive").
    where = "a $or branch" if in_or else "a pattern object"
    raise PatternError(
        path,
        f"{operator!r} is an operator, but EventBridge reads a key of {where} as a field name, "
        "so the rule would not test what you meant. Put operators in the field's list, which "
        f'is already an OR: "{field or "<field>"}": [{{"{operator}": {_show(value)}}}, ...]',
    )


def _check_or(value: Any, path: str, field: str | None) -> None:
    if not isinstance(value, list) or len(value) < 2:
        raise PatternError(
            path, 'give a list of at least two patterns: "$or": [{...}, {...}] (either may match)'
        )
    for index, branch in enumerate(value):
        if not isinstance(branch, Mapping) or not branch:
            raise PatternError(f"{path}[{index}]", "each $or branch is a non-empty pattern object")
        _check_object(branch, f"{path}[{index}]", field)


def _check_match(item: Any, path: str) -> None:
    if item is None or isinstance(item, (str, bool, int, float)):
        return  # exact match (null matches an explicit null, not a missing field)
    if not isinstance(item, Mapping):
        raise PatternError(path, f"expected a value or an operator object, got {_show(item)}")
    if len(item) != 1:
        raise PatternError(
            path,
            f"an operator object has exactly one key, this has {sorted(item)}: "
            "put each operator in its own object in the list (values in a list are OR-ed)",
        )
    ((operator, argument),) = item.items()
    if operator not in OPERATORS:
        hint = _HINTS.get(str(operator).lower().strip())
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
    raise PatternError(path, f"expects a string{extra}, got {_show(argument)}")


def _prefix_or_suffix(argument: Any, path: str) -> None:
    _string(argument, path, allow_ignore_case=True, allow_empty=False)


def _wildcard(argument: Any, path: str) -> None:
    _string(argument, path)
    if "**" in argument:
        raise PatternError(path, f"{argument!r} has consecutive wildcards: use a single *")
    trailing = len(argument) - len(argument.rstrip("\\"))
    if trailing % 2:
        raise PatternError(
            path,
            f"{argument!r} ends with a lone backslash, which escapes nothing: "
            "write \\\\ for a backslash",
        )


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
            values = value if isinstance(value, list) and value else [value]
            for index, each in enumerate(values):
                _string(each, f"{path}.{inner}[{index}]", allow_empty=False)
            return
        if inner in ("equals-ignore-case", "wildcard"):
            values = value if isinstance(value, list) and value else [value]
            for index, each in enumerate(values):
                (_wildcard if inner == "wildcard" else _string)(each, f"{path}.{inner}[{index}]")
            return
    raise PatternError(
        path,
        "expects a value, a list of values, or one of {prefix, suffix, equals-ignore-case, "
        f"wildcard}}, got {_show(argument)}",
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
                f"{_show(number)} is not a JSON number; write a number without quotes",
            )
        if abs(number) > _NUMERIC_LIMIT:
            raise PatternError(
                f"{path}[{index + 1}]",
                f"{number} is outside -5.0e9..5.0e9, the numeric range: give a bound inside it",
            )
        if number and not round(number, _NUMERIC_DECIMALS):
            raise PatternError(
                f"{path}[{index + 1}]",
                f"{number!r} is 0 for EventBridge, which compares numbers to six digits after the "
                "decimal point: write 0, or a bound of at least 0.000001",
            )
    if len(argument) == 4:
        (low_op, low, high_op, high) = argument
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise PatternError(path, f"a range is a lower then an upper bound, {usage}")
        if not low < high:
            raise PatternError(path, f"the range is empty: {low} is not below {high}")


def _exists(argument: Any, path: str) -> None:
    if not isinstance(argument, bool):
        raise PatternError(path, f"expects true or false, got {_show(argument)}")


def _cidr(argument: Any, path: str) -> None:
    _string(argument, path)
    mask = argument.partition("/")[2]
    try:
        if not mask.isdigit():
            raise ValueError("write the block as address/prefix length, e.g. 10.0.0.0/8")
        network = ipaddress.ip_network(argument, strict=False)
    except ValueError as err:
        raise PatternError(path, f"{argument!r} is not a CIDR block ({err})") from err
    if ipaddress.ip_address(argument.partition("/")[0]) != network.network_address:
        # EventBridge matches the block's network; moto's strict parse fails, so nothing matches.
        raise PatternError(
            path,
            f"{argument!r} has host bits set: EventBridge matches the network {network}, the "
            f"embedded AWS (moto) matches no address at all; write the network: {str(network)!r}",
        )


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

    Parameters
    ----------
    pattern : dict or str
        The pattern, checked first by ``check_pattern``.
    events : list of DomainEvent
        The events to try; each needs its own ``idempotency_key`` (offline, the delivered events
        are told apart by it). An empty list answers an empty frame without calling AWS.
    boto3_session : boto3.Session, optional
        The session for every call.

    Returns
    -------
    pandas.DataFrame
        One row per event: ``detail_type``, ``idempotency_key``, ``matched``.

    Raises
    ------
    PatternError
        The pattern is one EventBridge would refuse, or that would not mean what it seems to.
    ValidationError
        ``events`` is not a list of ``DomainEvent`` with distinct keys, or an event could not be
        sent (``DomainEvent.to_entry`` refuses it); nothing was sent.

    Examples
    --------
    >>> import meshkit as mk
    >>> sales = [mk.events.DomainEvent(source="sales.domain", detail_type="SaleRecorded",
    ...                                detail={"sale_id": f"S-{amount}", "amount": amount},
    ...                                idempotency_key=f"sale-{amount}") for amount in (900, 20)]
    >>> mk.patterns.try_pattern({"detail": {"data": {"amount": [{"numeric": [">=", 500]}]}}}, sales)
        detail_type idempotency_key  matched
    0  SaleRecorded        sale-900     True
    1  SaleRecorded         sale-20    False
    >>> mk.patterns.try_pattern({"detail-type": ["SaleRecorded"]}, sales[0])
    Traceback (most recent call last):
    ...
    meshkit.exceptions.ValidationError: events: expected a list of mk.events.DomainEvent...
    """
    pattern = check_pattern(pattern)
    events = _event_list(events)
    if not events:
        matched: list[bool] = []
    elif _aws.target().mode != "embedded":
        matched = _matched_by_test_event_pattern(pattern, events, boto3_session)
    else:
        matched = _matched_on_scratch_bus(pattern, events, boto3_session)
    return pd.DataFrame(
        {
            "detail_type": pd.Series([e.detail_type for e in events], dtype=object),
            "idempotency_key": pd.Series([e.idempotency_key for e in events], dtype=object),
            "matched": pd.Series(matched, dtype=bool),
        }
    )


def _event_list(events: Any) -> list[DomainEvent]:
    if isinstance(events, (DomainEvent, str, bytes, Mapping)) or not isinstance(events, Iterable):
        raise ValidationError(
            f"events: expected a list of mk.events.DomainEvent, got a {type(events).__name__}; "
            "write [event] for one event"
        )
    listed = list(events)
    first_of: dict[str, int] = {}
    for index, event in enumerate(listed):
        if not isinstance(event, DomainEvent):
            raise ValidationError(
                f"events[{index}] is a {type(event).__name__}, not a DomainEvent: build it with "
                "mk.events.DomainEvent(source=..., detail_type=..., detail=...)"
            )
        key = event.idempotency_key
        if not isinstance(key, str) or not key:
            raise ValidationError(
                f"events[{index}].idempotency_key is {key!r}; try_pattern tells the events apart "
                "by it: give each event a non-empty string key"
            )
        if key in first_of:
            raise ValidationError(
                f"events[{index}] and events[{first_of[key]}] have the same idempotency_key "
                f"{key!r}; try_pattern tells the events apart by it: give each its own key"
            )
        first_of[key] = index
        event.to_entry("default")  # its fields and JSON, checked before any request
    return listed


def _matched_by_test_event_pattern(
    pattern: dict[str, Any], events: list[DomainEvent], boto3_session: boto3.Session | None
) -> list[bool]:
    client = _aws.client("events", boto3_session)
    target = _aws.target()
    pattern_text = pattern_json(pattern)  # as measured by check_pattern
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
    pattern: dict[str, Any], events: list[DomainEvent], boto3_session: boto3.Session | None
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
        client.put_rule(Name=name, EventBusName=name, EventPattern=pattern_json(pattern))
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
