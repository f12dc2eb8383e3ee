"""Check a request for the new Custom Event Bus against its service model, before it is sent.

botocore validates required members and types, but lets through what its model says is out of
range: a retention of 400 days, ``Type="LIFO"``, 101 entries in one ``PutEvents``, a bus ARN
without its id. AWS refuses those with a ``ValidationException`` after the call; no emulator runs
the ``eventbridgev2`` API offline, so offline nothing would refuse them at all. These checks read
every constraint from the model botocore ships (lengths, ranges, enums, patterns, required and
unknown members), so they follow the API as boto3 is upgraded.

Smithy's patterns are matched against the whole value, as AWS's services match them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

import botocore.session
from botocore.model import OperationNotFoundError, ServiceModel, Shape, StructureShape
from botocore.utils import parse_to_aware_datetime

from ..exceptions import ValidationError

__all__ = [
    "InvalidRequestError",
    "RequestProblem",
    "check_request",
    "request_problems",
    "service_model",
]

SERVICE = "eventbridgev2"

# What a pattern means, for the shapes a learner meets: the model's regex is the rule, this is
# how the message says it.
_PATTERN_WORDS = {
    "EventBusName": "letters, digits, '.', '-' and '_', starting with a letter or digit",
    "SubscriberName": "letters, digits, '.', '-' and '_', starting with a letter or digit",
    "EventSourceName": "letters, digits, '.', '-' and '_', starting with a letter or digit",
    "EventBusArn": (
        "a Custom Event Bus ARN, arn:aws:events:<region>:<account>:event-busv2/<name>/<id of 25 "
        "lowercase letters and digits>, as CreateEventBus returns it (a Classic bus's "
        "event-bus/<name> ARN is not one)"
    ),
    "SubscriberArn": (
        "a subscriber ARN, arn:aws:events:<region>:<account>:subscriber/<name>/<id of 25 "
        "lowercase letters and digits>, as CreateSubscriber returns it"
    ),
    "RoleArn": "an IAM role ARN, arn:aws:iam::<account>:role/<name>",
    "DeadLetterQueueArn": (
        "an SQS queue ARN, arn:aws:sqs:<region>:<account>:<queue name of up to 80 characters>"
    ),
    "TagKey": "not empty, and no leading or trailing whitespace",
    "TagValue": "no leading or trailing whitespace",
    "ClientToken": "printable ASCII without spaces",
    "JsonataConfigurationExpressionString": "a JSONata expression written as {% ... %}",
    "Description": "no control characters or line breaks",
}

_TYPE_WORDS = {
    "string": "a string",
    "integer": "a whole number",
    "long": "a whole number",
    "boolean": "True or False",
    "float": "a number",
    "double": "a number",
    "timestamp": "a datetime (or seconds since the epoch)",
    "blob": "bytes",
    "structure": "a dict",
    "list": "a list",
    "map": "a dict",
}


class RequestProblem(NamedTuple):
    """One way a request breaks the service model.

    Examples
    --------
    >>> problem = RequestProblem("Type", "'LIFO' is not allowed", "use one of FIFO, UNORDERED")
    >>> print(problem)
    Type: 'LIFO' is not allowed; use one of FIFO, UNORDERED
    """

    field: str
    """Where, as a path: ``Entries[3].Source``, ``StorageConfiguration.RetentionPeriodInDays``."""
    problem: str
    """What is wrong, with the limit."""
    fix: str
    """What to do instead."""

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}; {self.fix}"


class InvalidRequestError(ValidationError):
    """A request for the new Custom Event Bus breaks its service model; nothing was sent.

    ``problems`` lists each broken rule (field, problem, fix); the message shows them all.
    """

    def __init__(self, operation: str, problems: list[RequestProblem]) -> None:
        self.operation = operation
        self.problems = problems
        lines = "\n".join(f"- {problem}" for problem in problems)
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(
            f"{operation} request refused before sending ({count}, checked against the "
            f"{SERVICE} service model):\n{lines}"
        )


@functools.cache
def service_model() -> ServiceModel:
    """The ``eventbridgev2`` service model of the installed botocore.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When botocore is older than 1.43.102 and has no model of the new Custom Event Bus.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.custom_bus.service_model().metadata["apiVersion"]
    '2025-05-15'
    """
    session = botocore.session.get_session()
    if SERVICE not in session.get_available_services():
        raise ValidationError(
            f"this botocore ({botocore.__version__}) has no {SERVICE} model: the new Custom Event "
            "Bus needs boto3 1.43.102 or later (pip install -U boto3)"
        )
    return session.get_service_model(SERVICE)


def request_problems(operation: str, request: Mapping[str, Any]) -> list[RequestProblem]:
    """Every way ``request`` breaks the model of ``operation``; an empty list when it holds.

    Parameters
    ----------
    operation : str
        The API operation's name, as in the API reference: ``"CreateEventBus"``,
        ``"CreateSubscriber"``, ``"PutEvents"``, ...
    request : Mapping
        The keyword arguments the boto3 call would take.

    Returns
    -------
    list of RequestProblem
        In the order the request's fields are written.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``operation`` is not an operation of the new Custom Event Bus.

    Examples
    --------
    >>> import meshkit as mk
    >>> request = {"Name": "sales", "StorageConfiguration": {"RetentionPeriodInDays": 400}}
    >>> for problem in mk.custom_bus.request_problems("CreateEventBus", request):
    ...     print(problem)
    StorageConfiguration.RetentionPeriodInDays: 400 is above the maximum, 365; give 1 to 365
    """
    model = service_model()
    if not isinstance(operation, str):
        raise ValidationError(
            f"operation is {_kind_of(operation)}: give the operation's name as a string, "
            "e.g. 'CreateEventBus'"
        )
    try:
        shape = model.operation_model(operation).input_shape
    except OperationNotFoundError:
        close = difflib.get_close_matches(str(operation), model.operation_names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValidationError(
            f"operation is {operation!r}, which the {SERVICE} API does not have: {hint}"
            f"its operations are {', '.join(model.operation_names)}"
        ) from None
    problems: list[RequestProblem] = []
    if shape is None:
        if request:
            problems.append(
                RequestProblem("(request)", "this operation takes no parameters", "send {}")
            )
        return problems
    _check(shape, request, "", problems)
    return problems


def check_request(operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` unchanged, once it holds to the model of ``operation``.

    Parameters
    ----------
    operation : str
        The API operation's name: ``"CreateEventBus"``, ``"CreateSubscriber"``, ``"PutEvents"``, ...
    request : Mapping
        The keyword arguments the boto3 call would take.

    Returns
    -------
    dict
        The request, to pass on: ``client.put_events(**check_request("PutEvents", request))``.

    Raises
    ------
    InvalidRequestError
        When it breaks a rule of the model; ``.problems`` names each field and its fix.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.custom_bus.check_request("CreateEventBus", {"Name": "sales-events"})
    {'Name': 'sales-events'}
    >>> mk.custom_bus.check_request("CreateEventBus", {"Name": "sales events", "Size": 1})
    Traceback (most recent call last):
    ...
    meshkit.custom_bus.checks.InvalidRequestError: CreateEventBus request refused before sending \
(2 problems, checked against the eventbridgev2 service model):
    - Name: 'sales events' does not match the pattern [A-Za-z0-9][\\.\\-_A-Za-z0-9]*; use \
letters, digits, '.', '-' and '_', starting with a letter or digit
    - Size: not a parameter of CreateEventBus; remove it (the parameters are Name, \
Description, EncryptionConfiguration, StorageConfiguration, Tags, ClientToken)
    """
    problems = request_problems(operation, request)
    if problems:
        raise InvalidRequestError(operation, problems)
    return dict(request)


# -- The walk over the model -----------------------------------------------------------------------


def _check(shape: Shape, value: Any, path: str, problems: list[RequestProblem]) -> None:
    kind = shape.type_name
    where = path or "(request)"
    if not _has_type(kind, value):
        problems.append(
            RequestProblem(
                where,
                f"{_shown(value)} is {_kind_of(value)}",
                f"give {_TYPE_WORDS.get(kind, kind)}",
            )
        )
        return
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        _check_structure(shape, value, path, problems)
    elif kind == "list":
        _check_size(shape, len(value), "entries", where, problems)
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", problems)
    elif kind == "map":
        _check_size(shape, len(value), "entries", where, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{path}(key {key!r})", problems)
            _check(shape.value, item, f"{path}[{key!r}]", problems)
    elif kind == "string":
        _check_string(shape, value, where, problems)
    elif kind in ("integer", "long"):
        _check_range(shape, value, where, problems)
    elif kind == "blob":
        _check_size(shape, len(value), "bytes", where, problems)
    elif kind == "timestamp":
        _check_timestamp(value, where, problems)


def _check_structure(
    shape: StructureShape, value: Mapping[Any, Any], path: str, problems: list[RequestProblem]
) -> None:
    members = shape.members
    for name, item in value.items():
        if name in members:
            if item is None:  # botocore refuses None: a member is given, or left out
                problems.append(
                    RequestProblem(_join(path, name), "is None", f"leave {name} out, or give it")
                )
            else:
                _check(members[name], item, _join(path, name), problems)
            continue
        close = difflib.get_close_matches(str(name), list(members), n=1)
        fix = (
            f"did you mean {close[0]}?"
            if close
            else f"remove it (the parameters are {', '.join(members)})"
        )
        what = path or shape.name.removesuffix("Request")
        problems.append(RequestProblem(_join(path, str(name)), f"not a parameter of {what}", fix))
    for name in shape.required_members:
        if name not in value:
            problems.append(
                RequestProblem(_join(path, name), "missing, and required", f"add {name}")
            )
    present = [name for name in members if value.get(name) is not None]
    if shape.metadata.get("union") and len(present) != 1:
        problems.append(
            RequestProblem(
                path or "(request)",
                f"sets {len(present)} of its members ({', '.join(present) or 'none'})",
                f"set exactly one of {', '.join(members)}",
            )
        )


def _check_string(shape: Shape, value: str, where: str, problems: list[RequestProblem]) -> None:
    enum = shape.enum
    if enum and value not in enum:
        close = difflib.get_close_matches(value, enum, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(
            RequestProblem(
                where, f"{value!r} is not allowed{hint}", f"use one of {', '.join(enum)}"
            )
        )
        return
    if _check_size(shape, len(value), "characters", where, problems):
        return
    pattern = shape.metadata.get("pattern")
    if pattern and not _compiled(pattern).fullmatch(value):
        words = _PATTERN_WORDS.get(shape.name)
        problems.append(
            RequestProblem(
                where,
                f"{_shown(value)} does not match the pattern {pattern}",
                f"use {words}" if words else f"give a value that matches {pattern}",
            )
        )


def _check_range(shape: Shape, value: int, where: str, problems: list[RequestProblem]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    span = _span(low, high)
    if low is not None and value < low:
        problems.append(
            RequestProblem(where, f"{value} is below the minimum, {low}", f"give {span}")
        )
    elif high is not None and value > high:
        problems.append(
            RequestProblem(where, f"{value} is above the maximum, {high}", f"give {span}")
        )


def _check_size(
    shape: Shape, size: int, unit: str, where: str, problems: list[RequestProblem]
) -> bool:
    """Whether a length limit was broken (and reported)."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problem = "is empty" if size == 0 else f"has {size} {unit}, fewer than {low}"
    elif high is not None and size > high:
        problem = f"has {size} {unit}, more than {high}"
    else:
        return False
    fix = f"give {_span(low, high)} {unit}"
    if unit == "entries" and high is not None and size > high:
        fix += f" (split it into requests of {high} or fewer)"
    problems.append(RequestProblem(where, problem, fix))
    return True


def _check_timestamp(value: Any, where: str, problems: list[RequestProblem]) -> None:
    """What botocore's serializer can turn into a timestamp (it raises, or crashes, otherwise)."""
    try:
        parse_to_aware_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError, RuntimeError, OSError):
        problems.append(
            RequestProblem(
                where,
                f"{_shown(value)} is not a time",
                "give a timezone-aware datetime, an ISO 8601 string or epoch seconds",
            )
        )


def _has_type(kind: str, value: Any) -> bool:
    if kind == "structure" or kind == "map":
        return isinstance(value, dict)  # botocore takes dicts only
    if kind == "list":
        return isinstance(value, (list, tuple))
    if kind == "string":
        return isinstance(value, str)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "blob":
        return isinstance(value, (bytes, bytearray, str))
    if kind == "timestamp":
        return isinstance(value, (dt.datetime, str)) or (
            isinstance(value, (int, float)) and not isinstance(value, bool)
        )
    return True


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    # The model's regexes are Java's: \d and \w are ASCII there, Unicode in Python's re. (Not
    # re.ASCII: it would also change \s and \S, which are Unicode-aware in the model's tags.)
    ascii_classes = {"d": "0-9", "w": "A-Za-z0-9_"}
    out, in_class, index = [], False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            if escaped in ascii_classes:
                inner = ascii_classes[escaped]
                out.append(inner if in_class else f"[{inner}]")
            else:
                out.append(char + escaped)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return re.compile("".join(out))


def _span(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind_of(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a caller's object whose repr fails still gets named
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."
