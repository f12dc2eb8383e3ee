"""An offline evaluator of IAM policies, following AWS's documented policy evaluation logic.

Scope, and nothing more: identity policies and one resource policy; ``Action``/``NotAction``,
``Resource``/``NotResource``, ``Principal``/``NotPrincipal``; policy variables; the String, Arn,
Bool, Null, Numeric, Date and IP address operators, their ``...IfExists`` forms and the
``ForAllValues:``/``ForAnyValue:`` qualifiers. Anything else (``BinaryEquals``, an unknown
operator) raises ``UnsupportedConditionError`` rather than guess: an evaluator that silently
allows is worse than none. A policy AWS would refuse raises ``MalformedPolicyError``.

Rules (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic"):

- a statement applies when its action, resource, principal (resource policies) and every
  condition match;
- an applicable ``Deny`` anywhere wins (explicit deny);
- within one account an applicable ``Allow`` in the identity policies allows, and so does one in
  the resource policy that names the caller itself (``*``, the user, the role, the session or the
  service); one that names only the caller's *account* delegates to the identity policies;
- across accounts both the identity policies and the resource policy must allow; with no
  resource policy, nothing is allowed across accounts;
- otherwise the request is denied implicitly.

Conditions: operators are AND-ed, keys within an operator are AND-ed, the values of a key are
OR-ed (AND-ed for negated operators). Key names are case-insensitive. A key missing from the
request makes a condition false, except for negated operators (true), ``...IfExists`` (true),
``ForAllValues:`` (true) and ``Null``. A policy variable whose key is missing (and that has no
default) makes its condition false, negated operators included; the value it substitutes is
literal (a ``*`` in it is no wildcard).

The keys IAM sets from the request itself are derived, unless the caller's context has them
(IAM User Guide, "AWS global condition context keys"): ``aws:CurrentTime`` and
``aws:EpochTime`` always; from ``principal=``, ``aws:PrincipalArn`` (a role session's is its
role's ARN, without the role's path, which a session ARN does not show),
``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:PrincipalIsAWSService``,
``aws:username`` (IAM users), ``aws:userid`` (the root user and federated users: the unique ids
of users and roles are not in their ARNs) and ``aws:PrincipalServiceName`` (services).
"""

from __future__ import annotations

import ipaddress
import json
import re
import reprlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ..exceptions import ValidationError

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicit deny", "implicit deny"
VERSIONS = ("2012-10-17", "2008-10-17")
IDENTITY, RESOURCE = "identity", "resource"


class UnsupportedConditionError(ValidationError):
    """A policy uses a condition operator (or element) the offline evaluator does not support."""


class MalformedPolicyError(ValidationError):
    """A policy breaks IAM's policy grammar, so AWS would refuse it.

    The message names the policy, the statement and the element, and how to fix it.
    """


class UnknownResourceAccountError(ValidationError):
    """The resource's ARN names no account (S3), no ``resource_account=`` was given, and the
    answer depends on whether the caller is in the resource's account."""


@dataclass(frozen=True)
class Match:
    policy: str
    statement: str  # its Sid, or its position: "#1"
    effect: str
    via: str = IDENTITY  # resource policies: "direct" (names the caller) or "account"


# -- any value, shown and checked ---------------------------------------------------------------


class _Abbreviated(reprlib.Repr):
    """repr, abbreviated: nesting, long strings and numbers beyond Python's text limit."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxstring = self.maxother = 120
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 6

    def repr_int(self, x: int, level: int) -> str:
        return (
            repr(x)
            if _readable(x)
            else f"<a number of more than {sys.get_int_max_str_digits()} digits>"
        )


_ABBREVIATED = _Abbreviated()
MAX_NESTING = 16  # IAM's grammar nests 6: policy, Statement, statement, Condition, operator, values


def shown(value: Any, limit: int = 160) -> str:
    """``value`` for a message: its repr, abbreviated, never raising (deep nesting, a cycle or
    a number too long to print would make ``repr`` raise)."""
    text = _ABBREVIATED.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _readable(number: int) -> bool:
    try:
        str(number)
    except ValueError:  # more digits than Python converts to text
        return False
    return True


def unreadable(document: Any) -> str | None:
    """Why ``document`` can be no policy, whatever it says, or None: it nests deeper than
    ``MAX_NESTING``, contains itself, or holds a number too long to convert to text. Checked
    without recursion, so that any input gets an answer."""
    heights: dict[int, int] = {}  # id -> levels of containers below and including it
    active: set[int] = set()  # the containers on the path being walked
    keep: list[Any] = []  # keeps the ids in heights and active unique
    grammar = (
        "IAM's grammar nests 6 levels (policy, Statement, statement, Condition, operator, values)"
    )
    stack: list[tuple[Any, str, int, bool]] = [(document, "", 1, False)]
    while stack:
        node, where, depth, leaving = stack.pop()
        at = where or "the policy"
        if isinstance(node, int) and not isinstance(node, bool):
            if not _readable(node):
                digits = sys.get_int_max_str_digits()
                return (
                    f"{at} is a number of more than {digits} digits, more than meshkit can read; "
                    "write it as a string (its digits, or e.g. '1e5000'), or check the policy "
                    "on AWS"
                )
            continue
        if not isinstance(node, (Mapping, list, tuple)):
            continue
        children = list(node.items()) if isinstance(node, Mapping) else list(enumerate(node))
        if leaving:
            active.discard(id(node))
            heights[id(node)] = 1 + max((heights.get(id(c), 0) for _, c in children), default=0)
            continue
        if id(node) in active:
            return f"{at} contains itself, which no policy can: {grammar}; pass plain JSON data"
        if depth - 1 + heights.get(id(node), 1) > MAX_NESTING:
            return (
                f"{at} nests more than {MAX_NESTING} levels deep; {grammar}: write each element "
                "as the grammar has it"
            )
        if id(node) in heights:
            continue  # met before, at a depth that was fine; the check above covers this one
        active.add(id(node))
        keep.append(node)
        stack.append((node, where, depth, True))
        for label, child in children:
            if isinstance(label, int) and not isinstance(label, bool) and not _readable(label):
                stack.append((label, f"{where}[key]", depth + 1, False))
                continue
            stack.append((child, f"{where}[{shown(label, 60)}]", depth + 1, False))
    return None


# -- patterns and variables ---------------------------------------------------------------------


def glob_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_compiled(((False, pattern),), True, case_sensitive).fullmatch(value))


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


_VARIABLE = re.compile(r"(\$\{[^}]*\})")
_VARIABLE_BODY = re.compile(r"\s*([^\s,']+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")


def _resolve(variable: str, context: Mapping[str, Any]) -> str | None:
    """The literal text of ``${key}`` or ``${key, 'default'}``; None when it has no value."""
    body = variable[2:-1]
    if body in ("*", "?", "$"):  # the special characters, as literals
        return body
    match = _VARIABLE_BODY.fullmatch(body)
    if not match:
        return None
    value = context.get(match.group(1).lower())
    # a multivalued key cannot be a variable (User Guide, "Policy variables")
    if value is None or isinstance(value, (list, tuple)):
        return match.group(2).replace("''", "'") if match.group(2) is not None else None
    return as_text(value)


def _pieces(value: str, context: Mapping[str, Any] | None) -> list[tuple[bool, str]] | None:
    """``value`` as (literal?, text) pieces: variables resolved (literal), the rest as written.
    None when a variable has no value. ``context`` None: variables are not recognised."""
    if context is None:
        return [(False, value)]
    pieces = []
    for index, part in enumerate(_VARIABLE.split(value)):
        if index % 2:
            resolved = _resolve(part, context)
            if resolved is None:
                return None
            pieces.append((True, resolved))
        elif part:
            pieces.append((False, part))
    return pieces


def _pattern(pieces: list[tuple[bool, str]], *, wildcards: bool) -> re.Pattern[str]:
    return _compiled(tuple(pieces), wildcards)


@lru_cache(maxsize=1024)
def _compiled(
    pieces: tuple[tuple[bool, str], ...], wildcards: bool, case_sensitive: bool = True
) -> re.Pattern[str]:
    regex = []
    for literal, text in pieces:
        if literal or not wildcards:
            regex.append(re.escape(text))
        else:
            regex.extend(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile("".join(regex), re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


def _arn_matcher(pieces: list[tuple[bool, str]]) -> Callable[[str], bool]:
    """ArnLike: each of the six colon-delimited parts is matched on its own."""
    segments: list[list[tuple[bool, str]]] = [[]]
    for literal, text in pieces:
        first, *others = [text] if literal else text.split(":")
        segments[-1].append((literal, first))
        for other in others:  # the sixth part (the resource) keeps its colons
            if len(segments) < 6:
                segments.append([(False, other)])
            else:
                segments[-1].extend([(True, ":"), (False, other)])
    if len(segments) < 6:
        return lambda value: False
    patterns = [_pattern(segment, wildcards=True) for segment in segments]

    def match(value: str) -> bool:
        parts = value.split(":", 5)
        return len(parts) == 6 and all(p.fullmatch(v) for p, v in zip(patterns, parts, strict=True))

    return match


def as_text(value: Any) -> str:
    """A condition value as IAM compares it: booleans lower-case, date-times in ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, int):  # Decimal prints any length; str stops at sys's digit limit
        return str(Decimal(value))
    return str(value)


def value_type(values: Sequence[Any]) -> str | None:
    """The policy simulator's ContextKeyType of these Python values; None for strings."""
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values):
        return "numeric"
    if all(isinstance(v, (datetime, date)) for v in values):
        return "date"
    return None


# -- condition operators ------------------------------------------------------------------------

_Compare = Callable[[Any, Any], bool]


def _in_network(network: Any, address: Any) -> bool:
    return bool(address.version == network.version and address in network)


# operator -> (family, compare(policy value, request value), negated)
_OPERATORS: dict[str, tuple[str, _Compare | None, bool]] = {
    "StringEquals": ("string", None, False),
    "StringNotEquals": ("string", None, True),
    "StringEqualsIgnoreCase": ("string", None, False),
    "StringNotEqualsIgnoreCase": ("string", None, True),
    "StringLike": ("string", None, False),
    "StringNotLike": ("string", None, True),
    "ArnEquals": ("arn", None, False),
    "ArnLike": ("arn", None, False),
    "ArnNotEquals": ("arn", None, True),
    "ArnNotLike": ("arn", None, True),
    "Bool": ("bool", None, False),
    "IpAddress": ("ip", _in_network, False),
    "NotIpAddress": ("ip", _in_network, True),
}
for _family in ("Numeric", "Date"):
    _OPERATORS.update(
        {
            f"{_family}Equals": (_family.lower(), lambda p, v: v == p, False),
            f"{_family}NotEquals": (_family.lower(), lambda p, v: v == p, True),
            f"{_family}LessThan": (_family.lower(), lambda p, v: v < p, False),
            f"{_family}LessThanEquals": (_family.lower(), lambda p, v: v <= p, False),
            f"{_family}GreaterThan": (_family.lower(), lambda p, v: v > p, False),
            f"{_family}GreaterThanEquals": (_family.lower(), lambda p, v: v >= p, False),
        }
    )
_QUALIFIERS = ("ForAllValues", "ForAnyValue")
SUPPORTED_OPERATORS = sorted([*_OPERATORS, *(f"{name}IfExists" for name in _OPERATORS), "Null"])
_EXAMPLES = {
    "numeric": "a number such as 10 or '10'",
    "date": "an ISO 8601 date-time such as '2026-01-01T00:00:00Z' or epoch seconds",
    "ip": "an IPv4 or IPv6 address such as '203.0.113.7'",
}


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:  # an int exactly, whatever its length; a float as written (0.1 is 0.1)
        number = Decimal(value) if isinstance(value, int) else Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _instant(value: Any) -> datetime | None:
    """A date-time from ISO 8601 (W3C profile) or epoch seconds; naive means UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float, Decimal)) or (
        isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip())
    ):
        try:
            return datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip().replace("z", "Z")
        text = text[:-1] + "+00:00" if text.endswith("Z") else text
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:  # an address without a prefix is /32 (/128); set host bits are read as the network
        return ipaddress.ip_network(value.strip(), strict=False) if isinstance(value, str) else None
    except ValueError:
        return None


_PARSE: dict[str, Callable[[Any], Any]] = {"numeric": _number, "date": _instant, "ip": _network}
_REQUEST_PARSE: dict[str, Callable[[Any], Any]] = {
    "numeric": _number,
    "date": _instant,
    "ip": _address,
}


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True)."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    return qualifier or None, base.removesuffix("IfExists"), if_exists


def _supported(operator: str) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    if qualifier not in (None, *_QUALIFIERS):
        return False
    return base in _OPERATORS or (base == "Null" and not if_exists and qualifier is None)


# -- policies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    policy: str
    sid: str
    effect: str
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: no Resource element (a resource policy's own)
    not_resource: bool
    principals: tuple[tuple[str, str, str], ...] | None  # None: an identity policy
    not_principal: bool
    conditions: tuple[tuple[str, str, tuple[Any, ...]], ...]
    variables: bool  # Version 2012-10-17: policy variables are substituted

    @property
    def name(self) -> str:
        return f"statement {self.sid} of {self.policy}"


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str
    document: Mapping[str, Any]  # as given (parsed, when given as JSON text)
    statements: tuple[Statement, ...]


_STATEMENT_ELEMENTS = {
    "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal",
    "NotPrincipal", "Condition",
}  # fmt: skip
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")


def parse_policy(document: Any, *, name: str, kind: str) -> Policy:
    """Check ``document`` against IAM's policy grammar and return it parsed.

    ``kind`` is ``"identity"`` or ``"resource"``. Raises ``MalformedPolicyError`` naming the
    policy, the statement and the element for what AWS would refuse.
    """
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document, object_pairs_hook=_unique_keys)
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise MalformedPolicyError(
                f"policy {name!r} is a string but not valid JSON ({error}); pass the policy "
                "as a dict, or as its JSON text"
            ) from None
    problem = unreadable(document)
    if problem:
        raise MalformedPolicyError(f"policy {name!r}: {problem}")
    if not isinstance(document, Mapping):
        raise MalformedPolicyError(
            f"policy {name!r} is a {type(document).__name__}, not a policy document; pass a "
            'dict such as {"Version": "2012-10-17", "Statement": [...]} (or its JSON text)'
        )
    unknown = sorted(set(map(str, document)) - {"Version", "Id", "Statement"})
    if unknown:
        raise MalformedPolicyError(
            f"policy {name!r} has element(s) {', '.join(unknown)} that IAM does not know; a "
            "policy has Version, Id and Statement (each statement its Effect, Action, ...)"
        )
    version = document.get("Version", "2008-10-17")  # IAM's default, without variables
    if version not in VERSIONS:
        raise MalformedPolicyError(
            f"policy {name!r} has Version {shown(version)}; IAM knows only '2012-10-17' (use it) "
            "and '2008-10-17'"
        )
    if "Statement" not in document:
        raise MalformedPolicyError(
            f"policy {name!r} has no Statement; add a list of statements (or one statement)"
        )
    raw = document["Statement"]
    raw = [raw] if isinstance(raw, Mapping) else raw  # AWS accepts a single statement
    if not isinstance(raw, list):
        raise MalformedPolicyError(
            f"policy {name!r}: Statement is a {type(raw).__name__}; give a list of statements"
        )
    statements = tuple(
        _parse_statement(statement, index, name, kind, variables=version == "2012-10-17")
        for index, statement in enumerate(raw)
    )
    return Policy(name, kind, document, statements)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys repeat is ambiguous: which one would AWS read?"""
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ValueError(f"the key {repeated[0]!r} appears twice; keep one")
    return dict(pairs)


def _parse_statement(
    statement: Any, index: int, policy: str, kind: str, *, variables: bool
) -> Statement:
    where = f"statement #{index + 1} of policy {policy!r}"
    if not isinstance(statement, Mapping):
        raise MalformedPolicyError(f"{where} is a {type(statement).__name__}; give a dict")
    sid = statement.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyError(f"{where}: Sid {shown(sid)} must be a string")
    if sid:
        where = f"statement {sid} of policy {policy!r}"
    unknown = sorted(set(map(str, statement)) - _STATEMENT_ELEMENTS)
    if unknown:
        raise MalformedPolicyError(
            f"{where} has element(s) {', '.join(unknown)} that IAM does not know; a statement "
            f"has {', '.join(sorted(_STATEMENT_ELEMENTS))}"
        )
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicyError(
            f'{where}: Effect is {shown(effect)}; write exactly "Allow" or "Deny" (case matters)'
        )
    actions, not_action = _either(statement, "Action", "NotAction", where, required=True)
    for action in actions or ():  # never None: required=True
        if action != "*" and ":" not in action:
            raise MalformedPolicyError(
                f"{where}: {'NotAction' if not_action else 'Action'} {shown(action)} names no "
                "service; write <service>:<action>, e.g. events:PutEvents"
            )
    resources, not_resource = _either(
        statement, "Resource", "NotResource", where, required=kind == IDENTITY
    )
    for resource in resources or ():
        if resource != "*" and not resource.startswith("arn:"):
            raise MalformedPolicyError(
                f"{where}: {'NotResource' if not_resource else 'Resource'} {shown(resource)} is "
                "not an ARN; write arn:<partition>:<service>:<region>:<account>:<resource>, or *"
            )
    principals, not_principal = None, False
    if kind == IDENTITY:
        for element in ("Principal", "NotPrincipal"):
            if element in statement:
                raise MalformedPolicyError(
                    f"{where} has a {element}, which an identity policy may not have (its "
                    "principal is whoever holds it); remove it, or pass this policy as "
                    "resource_policy="
                )
    else:
        principals, not_principal = _parse_principals(statement, where)
    return Statement(
        policy=policy,
        sid=sid or f"#{index + 1}",
        effect=effect,
        actions=actions or (),
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        principals=principals,
        not_principal=not_principal,
        conditions=_parse_conditions(statement.get("Condition", {}), where),
        variables=variables,
    )


def _either(
    statement: Mapping[str, Any], element: str, negated: str, where: str, *, required: bool
) -> tuple[tuple[str, ...] | None, bool]:
    if element in statement and negated in statement:
        raise MalformedPolicyError(f"{where} has both {element} and {negated}; keep one")
    if element not in statement and negated not in statement:
        if required:
            raise MalformedPolicyError(
                f"{where} has no {element} (nor {negated}); add one, e.g. "
                f'"{element}": "*" for every {element.lower()}'
            )
        return None, False
    key = element if element in statement else negated
    values = as_list(statement[key])
    if not values or not all(isinstance(value, str) and value for value in values):
        raise MalformedPolicyError(
            f"{where}: {key} must be a non-empty string or list of strings, not "
            f"{shown(statement[key])}"
        )
    return tuple(values), key == negated


_ACCOUNT_ID = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):(?:(root)|(user|role)/(?:[^*?]*/)?([^/*?]+))")
_STS_ARN = re.compile(
    r"arn:aws[a-z-]*:sts::(\d{12}):(?:assumed-role/([^/*?]+)/([^/*?]+)|federated-user/([^*?]+))"
)
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")


def _identity(text: str) -> tuple[str, str, str] | None:
    """An AWS principal, normalized: ("root", account, ""), ("user" | "role", account, name),
    ("session", account, "role/session") or ("federated", account, name)."""
    if _ACCOUNT_ID.fullmatch(text):
        return ("root", text, "")
    match = _IAM_ARN.fullmatch(text)
    if match:
        account, root, kind, name = match.groups()
        return ("root", account, "") if root else (kind, account, name)
    match = _STS_ARN.fullmatch(text)
    if match:
        account, role, session, federated = match.groups()
        if federated:
            return ("federated", account, federated)
        return ("session", account, f"{role}/{session}")
    return None


def _parse_principals(
    statement: Mapping[str, Any], where: str
) -> tuple[tuple[tuple[str, str, str], ...], bool]:
    if "Principal" in statement and "NotPrincipal" in statement:
        raise MalformedPolicyError(f"{where} has both Principal and NotPrincipal; keep one")
    if "Principal" not in statement and "NotPrincipal" not in statement:
        raise MalformedPolicyError(
            f"{where} has no Principal, which every statement of a resource policy needs (who "
            'it admits or refuses); add one, e.g. "Principal": {"AWS": "arn:aws:iam::'
            '123456789012:root"}'
        )
    element = "Principal" if "Principal" in statement else "NotPrincipal"
    value = statement[element]
    if value == "*":
        return (("*", "", ""),), element == "NotPrincipal"
    if not isinstance(value, Mapping) or not value:
        raise MalformedPolicyError(
            f'{where}: {element} must be "*" or a dict such as {{"AWS": [...]}}, not {shown(value)}'
        )
    entries = []
    for kind, names in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise MalformedPolicyError(
                f"{where}: {element} type {shown(kind)} is not one of {', '.join(_PRINCIPAL_TYPES)}"
            )
        listed = as_list(names)
        if not listed or not all(isinstance(name, str) and name for name in listed):
            raise MalformedPolicyError(
                f"{where}: {element} {kind} must be a non-empty string or list of strings"
            )
        for name in listed:
            entries.append(_principal_entry(kind, name, element, where))
    return tuple(entries), element == "NotPrincipal"


def _principal_entry(kind: str, name: str, element: str, where: str) -> tuple[str, str, str]:
    if name == "*":
        return ("*", "", "")
    if kind == "Service":
        return ("service", "", name.lower())
    if kind != "AWS":
        return (kind.lower(), "", name)
    if "*" in name or "?" in name:
        raise MalformedPolicyError(
            f"{where}: {element} {name!r} has a wildcard, which IAM does not allow in part of a "
            'principal; name each principal, or use "*" with a condition on aws:PrincipalArn'
        )
    identity = _identity(name)
    if identity is None and not re.fullmatch(r"A[A-Z0-9]{15,}", name):  # or a unique id
        raise MalformedPolicyError(
            f"{where}: {element} AWS {name!r} is not an account id or an IAM/STS ARN; write "
            "123456789012, arn:aws:iam::123456789012:root or arn:aws:iam::123456789012:role/name"
        )
    return identity or ("unique-id", "", name)


def _parse_conditions(conditions: Any, where: str) -> tuple[tuple[str, str, tuple[Any, ...]], ...]:
    if not isinstance(conditions, Mapping):
        raise MalformedPolicyError(
            f"{where}: Condition must be a dict of operator -> {{key: value(s)}}, not "
            f"{shown(conditions)}"
        )
    parsed = []
    for operator, keys in conditions.items():
        if not isinstance(operator, str) or not isinstance(keys, Mapping):
            raise MalformedPolicyError(
                f"{where}: Condition {shown(operator)} must map condition keys to values, e.g. "
                '{"StringEquals": {"events:source": "sales.domain"}}'
            )
        for key, values in keys.items():
            listed = as_list(values)
            if (
                not isinstance(key, str)
                or not key
                or not all(isinstance(value, (str, int, float, bool)) for value in listed)
            ):
                raise MalformedPolicyError(
                    f"{where}: Condition {operator} {shown(key)} must be a condition key with a "
                    f"string, number or boolean value, or a list of them, not {shown(values)}"
                )
            _check_condition_values(operator, key, listed, where)
            parsed.append((operator, key.lower(), tuple(listed)))
    return tuple(parsed)


def _check_condition_values(operator: str, key: str, values: list[Any], where: str) -> None:
    """Values AWS would refuse for this operator (policy variables are not allowed there)."""
    qualifier, base, if_exists = _split_operator(operator)
    if base == "Null" and if_exists and qualifier is None:
        raise MalformedPolicyError(
            f"{where}: {operator} is not an operator: IfExists goes with any operator except "
            f'Null, which itself tests whether {shown(key)} exists; write "Null"'
        )
    if not _supported(operator):
        return  # refused, if it matters, when evaluated
    if base in ("Null", "Bool"):
        bad = [v for v in values if as_text(v).lower() not in ("true", "false")]
        if base == "Bool":  # Bool takes policy variables
            bad = [v for v in bad if not _VARIABLE.search(as_text(v))]
        if bad:
            raise MalformedPolicyError(
                f'{where}: {operator} {shown(key)} takes "true" or "false", not {shown(bad[0])}'
            )
        return
    family = _OPERATORS[base][0]
    if family in _PARSE:
        bad = [v for v in values if _PARSE[family](v) is None]
        if bad:
            raise MalformedPolicyError(
                f"{where}: {operator} {shown(key)} value {shown(bad[0])} is not "
                f"{_EXAMPLES[family]} (policy variables cannot be used with this operator)"
            )


def identity_policies(policies: Any) -> dict[str, Policy]:
    """Identity policies by name: a policy, its JSON text, a list of them numbered from 1, or a
    dict of name -> policy."""
    single = isinstance(policies, Mapping) and {"Statement", "Version"} & set(policies)
    if single or isinstance(policies, (str, bytes)):
        policies = {"policy": policies}
    elif isinstance(policies, Mapping):
        if not all(isinstance(name, str) for name in policies):
            raise ValidationError(
                "policies: the names of a dict of policies must be strings, e.g. "
                '{"sales-producer": {...}}'
            )
    elif isinstance(policies, Iterable):
        policies = {f"policy {index + 1}": policy for index, policy in enumerate(policies)}
    else:
        raise ValidationError(
            f"policies is a {type(policies).__name__}; pass a policy (dict or JSON text), a "
            "list of policies, or a dict of name -> policy"
        )
    return {name: parse_policy(doc, name=name, kind=IDENTITY) for name, doc in policies.items()}


# -- the request --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    given: str | None  # as passed; None: not given (assumed in the resource's account)
    account: str | None  # None for a service principal, or when unknown
    identities: frozenset[tuple[str, str, str]]  # the caller itself, its role (not its account)
    service: bool = False


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    resource_account: str | None  # None: "*", or an ARN without one and not given
    caller: Caller
    context: Mapping[str, Any]  # keys lower-cased: key names are case-insensitive


_ARN = re.compile(r"arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws)?:(.+)", re.DOTALL)
_CONTEXT_TYPES = (str, int, float, bool, Decimal, datetime, date)


def request(
    action: Any,
    resource: Any,
    context: Any = None,
    *,
    principal: Any = None,
    resource_account: Any = None,
) -> Request:
    """Check the question's arguments and return it as a ``Request``."""
    if not isinstance(action, str) or not re.fullmatch(r"[A-Za-z0-9-]+:[^\s:*?]+", action):
        raise ValidationError(
            f"action {shown(action)} is not <service>:<action>; ask about one action, e.g. "
            "'events:PutEvents' (no wildcards)"
        )
    arn = _ARN.fullmatch(resource) if isinstance(resource, str) else None
    if resource != "*" and not arn:
        raise ValidationError(
            f"resource {shown(resource)} is not an ARN; pass the resource's ARN, e.g. "
            "'arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus', or '*' for "
            "actions that take no resource"
        )
    owner = arn.group(4) if arn and arn.group(4) != "aws" else None
    if resource_account is not None:
        if not isinstance(resource_account, str) or not _ACCOUNT_ID.fullmatch(resource_account):
            raise ValidationError(
                f"resource_account {shown(resource_account)} is not a 12-digit account id; pass "
                "the account that owns the resource as a string, e.g. '123456789012'"
            )
        if owner and owner != resource_account:
            raise ValidationError(
                f"resource_account {shown(resource_account)} contradicts the account in the "
                f"resource's ARN ({owner}); leave resource_account out, or correct it"
            )
        owner = resource_account
    return Request(action, resource, owner, _caller(principal), _context(context))


def _caller(principal: Any) -> Caller:
    if principal is None:
        return Caller(None, None, frozenset())
    if isinstance(principal, str) and _SERVICE.fullmatch(principal):
        return Caller(principal, None, frozenset({("service", "", principal)}), service=True)
    identity = _identity(principal) if isinstance(principal, str) else None
    if identity is None:
        raise ValidationError(
            f"principal {shown(principal)} is not an IAM or STS ARN, a 12-digit account id or a "
            "service principal; pass e.g. 'arn:aws:iam::123456789012:role/sales-producer', "
            "'arn:aws:sts::123456789012:assumed-role/sales-producer/session' or "
            "'events.amazonaws.com'"
        )
    kind, account, name = identity
    identities = set() if kind == "root" else {identity}
    if kind == "session":  # a session is its role's too
        identities.add(("role", account, name.split("/", 1)[0]))
    return Caller(principal, account, frozenset(identities))


def _context(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise ValidationError(
            f"context is a {type(context).__name__}; pass a dict of condition key -> value, "
            "e.g. {'events:source': 'sales.domain'}"
        )
    normalized: dict[str, Any] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(
                f"context key {shown(key)} is not a condition key name; use strings such as "
                "'aws:SourceIp'"
            )
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if value is not None and not all(isinstance(v, _CONTEXT_TYPES) for v in values):
            raise ValidationError(
                f"context[{shown(key)}] is {shown(value)}; a condition key's value is a string, "
                "number, boolean or date-time, or a list of them (None: the key is absent)"
            )
        lower = key.lower()
        if lower in normalized and normalized[lower] != value:
            raise ValidationError(
                f"context has {shown(key)} twice with different values (key names are "
                "case-insensitive in IAM); keep one"
            )
        normalized[lower] = value
    return normalized


# -- matching -----------------------------------------------------------------------------------

_UNDECIDED = "undecided"


def _principal_match(statement: Statement, caller: Caller) -> str | None:
    """How a resource policy's statement names the caller: "direct", "account", None (it does
    not), or ``_UNDECIDED`` (no principal was given and the statement names one)."""
    entries = statement.principals or ()
    if statement.not_principal:
        if ("*", "", "") in entries:
            return None
        if caller.given is None:
            return _UNDECIDED
        listed = set(entries)
        chain = set(caller.identities) | (
            {("root", caller.account, "")} if caller.account else set()
        )
        named = chain & listed
        # fail closed: a Deny spares the caller only if every identity of its chain (account,
        # role, session) is listed; an Allow skips it if any of them is
        spared = named == chain if statement.effect == "Deny" else bool(named)
        return None if spared else "direct"
    found = None
    for entry in entries:
        kind, account, _ = entry
        if kind == "*":
            return "direct"
        if kind == "root":
            if caller.account is None and not caller.service:
                found = found or _UNDECIDED
            elif caller.account == account:
                found = "account" if found in (None, _UNDECIDED) else found
        elif caller.given is None:
            found = found or _UNDECIDED
        elif entry in caller.identities:
            return "direct"
    return found


def _action_matches(statement: Statement, action: str) -> bool:
    hit = any(glob_match(a, action, case_sensitive=False) for a in statement.actions)
    return hit != statement.not_action


def _resource_matches(statement: Statement, request: Request) -> bool:
    if statement.resources is None:
        return True  # a resource policy's statement without Resource: its own resource
    context = request.context if statement.variables else None
    hit = False
    for resource in statement.resources:
        pieces = _pieces(resource, context)
        if pieces is not None and _pattern(pieces, wildcards=True).fullmatch(request.resource):
            hit = True
            break
    return hit != statement.not_resource


def _condition_holds(
    statement: Statement, operator: str, key: str, expected: Sequence[Any], request: Request
) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    if not _supported(operator):
        raise UnsupportedConditionError(
            f"{statement.name}: condition operator {shown(operator)} is not supported offline "
            f"(supported: {', '.join(SUPPORTED_OPERATORS)}, each also with ForAllValues: or "
            "ForAnyValue:); check this policy on AWS with simulate_custom_policy instead of "
            "trusting an offline answer"
        )
    value = request.context.get(key)
    missing = value is None or value == [] or value == ()
    if base == "Null":  # "true": the key must be absent; "false": present
        return any(as_text(v).lower() == ("true" if missing else "false") for v in expected)
    family, compare, negated = _OPERATORS[base]
    if missing:
        if if_exists or qualifier == "ForAllValues":
            return True
        return False if qualifier == "ForAnyValue" else negated
    matchers = [_matcher(base, family, compare, v, statement, request) for v in expected]
    if negated and None in matchers:
        return False  # an unresolved variable matches nothing, negated operators included
    usable = [m for m in matchers if m is not None]
    actual = [_request_value(family, v, key, operator, statement) for v in as_list(value)]

    def hit(v: Any) -> bool:
        return any(m(v) for m in usable)

    if qualifier == "ForAllValues":
        return all(hit(v) != negated for v in actual)
    if qualifier == "ForAnyValue":
        return any(hit(v) != negated for v in actual)
    found = any(hit(v) for v in actual)
    return not found if negated else found


def _matcher(
    base: str,
    family: str,
    compare: _Compare | None,
    expected: Any,
    statement: Statement,
    request: Request,
) -> Callable[[Any], bool] | None:
    """A test of one request value against one policy value; None: a variable has no value."""
    if family in _PARSE:
        wanted = _PARSE[family](expected)
        assert compare is not None
        return lambda v: compare(wanted, v)
    pieces = _pieces(as_text(expected), request.context if statement.variables else None)
    if pieces is None:
        return None
    if family == "arn":
        return _arn_matcher(pieces)
    if family == "bool" or base.endswith("IgnoreCase"):
        text = "".join(t for _, t in pieces).lower()
        return lambda v: v.lower() == text
    if base.endswith("Like"):
        regex = _pattern(pieces, wildcards=True)
        return lambda v: bool(regex.fullmatch(v))
    text = "".join(t for _, t in pieces)
    return lambda v: v == text


def _request_value(family: str, value: Any, key: str, operator: str, statement: Statement) -> Any:
    if family not in _REQUEST_PARSE:
        return as_text(value)
    parsed = _REQUEST_PARSE[family](value)
    if parsed is None:
        raise ValidationError(
            f"context[{shown(key)}] = {shown(value)} is not {_EXAMPLES[family]}, but "
            f"{statement.name} compares it with {operator}; pass such a value"
        )
    return parsed


def _applies(
    statement: Statement, request: Request, *, ignore_conditions: bool = False
) -> str | None:
    """None when ``statement`` does not apply; else how it names the caller (see ``Match.via``)."""
    if not _action_matches(statement, request.action):
        return None
    if not _resource_matches(statement, request):
        return None
    via = IDENTITY if statement.principals is None else _principal_match(statement, request.caller)
    if via is None:
        return None
    if not ignore_conditions and not all(
        _condition_holds(statement, operator, key, values, request)
        for operator, key, values in statement.conditions
    ):
        return None
    if via == _UNDECIDED:
        if ignore_conditions:
            return None
        raise ValidationError(
            f"{statement.name} names particular principals, so its answer depends on who asks; "
            "pass principal= (the caller's ARN or account id)"
        )
    return via


def matching(
    policies: Iterable[Policy], request: Request, *, ignore_conditions: bool = False
) -> list[Match]:
    """Every statement of ``policies`` that applies to the request (or would, but for its
    conditions)."""
    found = []
    for policy in policies:
        for statement in policy.statements:
            via = _applies(statement, request, ignore_conditions=ignore_conditions)
            if via is not None:
                found.append(Match(policy.name, statement.sid, statement.effect, via))
    return found


# -- the decision -------------------------------------------------------------------------------


def evaluate(
    identity: Mapping[str, Policy], resource_policy: Policy | None, request: Request
) -> tuple[str, Match | None, str]:
    """(decision, deciding statement, reason) for one request."""
    caller = request.caller
    if caller.given is None:  # assumed to be in the resource's account
        caller = Caller(None, request.resource_account, frozenset())
    context = {**_request_keys(caller, datetime.now(timezone.utc)), **request.context}
    request = Request(request.action, request.resource, request.resource_account, caller, context)
    mine = matching(identity.values(), request)
    theirs = matching([resource_policy], request) if resource_policy else []
    for match in (*mine, *theirs):
        if match.effect == "Deny":
            return (
                EXPLICIT_DENY,
                match,
                f"{_name(match)} denies {request.action}: a Deny always wins",
            )
    if caller.given is None or caller.service or request.resource == "*":
        cross: bool | None = False  # a service, or an action in the caller's own account
    elif request.resource_account is None:
        cross = None
    else:
        cross = caller.account != request.resource_account
    if cross is None:  # the ARN names no account: answer only if either way agrees
        same = _decide(identity, resource_policy, request, mine, theirs, cross=False)
        other = _decide(identity, resource_policy, request, mine, theirs, cross=True)
        if same[0] != other[0]:
            raise UnknownResourceAccountError(
                f"cannot tell which account owns {shown(request.resource)} (its ARN names none), "
                f"and the answer depends on it: {same[0]} if it is {caller.account}'s, as the "
                f"caller is, {other[0]} if another account's; pass resource_account= (the "
                "12-digit id of the account that owns it)"
            )
        return same
    decision, deciding, reason = _decide(
        identity, resource_policy, request, mine, theirs, cross=cross
    )
    if decision == ALLOWED and caller.given is None and request.resource != "*":
        owner = f" ({request.resource_account})" if request.resource_account else ""
        reason += (
            f"; no principal given, so the caller is assumed to be in the resource's account{owner}"
        )
    return decision, deciding, reason


def _request_keys(caller: Caller, now: datetime) -> dict[str, Any]:
    """The condition keys IAM sets from the request itself (IAM User Guide, "AWS global
    condition context keys"), lower-cased, as far as ``principal=`` tells them."""
    keys: dict[str, Any] = {"aws:currenttime": now, "aws:epochtime": int(now.timestamp())}
    if caller.given is None:
        return keys
    if caller.service:
        return keys | {"aws:principalisawsservice": True, "aws:principalservicename": caller.given}
    keys |= {"aws:principalisawsservice": False, "aws:principalaccount": caller.account}
    identity = _identity(caller.given)
    if identity is None or not caller.given.startswith("arn:"):
        return keys  # an account id alone: some principal of that account, not named
    kind, account, name = identity
    partition = caller.given.split(":")[1]
    if kind == "session":  # a session's PrincipalArn is its role's; the role's path is unknown
        arn = f"arn:{partition}:iam::{account}:role/{name.split('/', 1)[0]}"
    else:
        arn = caller.given
    types = {"root": "Account", "user": "User", "role": "AssumedRole", "session": "AssumedRole",
             "federated": "FederatedUser"}  # fmt: skip
    keys |= {"aws:principalarn": arn, "aws:principaltype": types[kind]}
    if kind == "user":
        keys["aws:username"] = name
    if kind == "root":
        keys["aws:userid"] = account
    if kind == "federated":
        keys["aws:userid"] = f"{account}:{name}"
    return keys


def _decide(
    identity: Mapping[str, Policy],
    resource_policy: Policy | None,
    request: Request,
    mine: list[Match],
    theirs: list[Match],
    *,
    cross: bool,
) -> tuple[str, Match | None, str]:
    action, resource = request.action, request.resource
    identity_allow = next((m for m in mine if m.effect == "Allow"), None)
    resource_allow = next((m for m in theirs if m.effect == "Allow"), None)
    direct_allow = next((m for m in theirs if m.effect == "Allow" and m.via == "direct"), None)
    if cross and identity_allow and resource_allow:
        return (
            ALLOWED,
            resource_allow,
            f"{_name(identity_allow)} and {_name(resource_allow)} both allow {action} "
            "(across accounts, both sides must)",
        )
    if cross and identity_allow and resource_policy is None:
        return (
            IMPLICIT_DENY,
            None,
            f"across accounts both sides must allow {action}: the caller is in account "
            f"{request.caller.account}, the resource in {request.resource_account or 'another'}, "
            "and no resource policy was given (pass resource_policy=, the resource's own policy)",
        )
    if cross and (identity_allow or resource_allow):
        missing = "the resource policy" if identity_allow else "the caller's policies"
        return (
            IMPLICIT_DENY,
            None,
            f"across accounts both sides must allow {action}; {missing} does not",
        )
    allow = identity_allow or direct_allow
    if not cross and allow:
        return ALLOWED, allow, f"{_name(allow)} allows {action} on {resource}"
    if not cross and resource_allow:
        return (
            IMPLICIT_DENY,
            None,
            f"{_name(resource_allow)} names the caller's account, which delegates to the "
            f"caller's identity policies, and none of them allows {action}: denied by default "
            "(implicit deny)",
        )
    policies = [*identity.values(), *([resource_policy] if resource_policy else [])]
    near = [
        m
        for m in matching(policies, request, ignore_conditions=True)
        if m.effect == "Allow" and (cross or m.via != "account")  # within one, it delegates
    ]
    if near:
        return (
            IMPLICIT_DENY,
            None,
            f"{_name(near[0])} would allow {action}, but its condition does not hold for this "
            "request: denied by default (implicit deny)",
        )
    return (
        IMPLICIT_DENY,
        None,
        f"no statement allows {action} on {resource}: denied by default (implicit deny)",
    )


def _name(match: Match) -> str:
    return f"statement {match.statement} of {match.policy}"
