"""An offline evaluator of IAM policies, following AWS's documented policy evaluation logic.

Scope, and nothing more: identity policies and one resource policy; ``Action``/``NotAction``,
``Resource``/``NotResource``, ``Principal``; the condition operators the workbook uses. Anything
else (an unknown operator, ``NotPrincipal``, set operators) raises rather than guess: an
evaluator that silently allows is worse than none.

Rules (IAM User Guide, "Policy evaluation logic"):

- a statement applies when its action, resource, principal (resource policies) and every
  condition match;
- an applicable ``Deny`` anywhere wins (explicit deny);
- otherwise, within one account, an applicable ``Allow`` in the identity *or* the resource policy
  allows; across accounts both sides must allow;
- otherwise the request is denied implicitly.

Conditions: operators are AND-ed, keys within an operator are AND-ed, the values of a key are
OR-ed (AND-ed for negated operators). A key missing from the request makes a condition false,
except for negated operators (true), ``...IfExists`` (true) and ``Null``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .exceptions import ValidationError

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicit deny", "implicit deny"


class UnsupportedConditionError(ValidationError):
    """A policy uses a condition operator (or element) the offline evaluator does not support."""


@dataclass(frozen=True)
class Match:
    policy: str
    statement: str  # its Sid, or its position: "#1"
    effect: str


def _glob(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_glob_regex(pattern, case_sensitive).fullmatch(value))


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), 0 if case_sensitive else re.IGNORECASE)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _substitute(value: str, context: Mapping[str, Any]) -> str:
    """Policy variables: ``${aws:PrincipalAccount}`` takes the request's value."""

    def replace(match: re.Match[str]) -> str:
        found = context.get(match.group(1))
        return str(_as_list(found)[0]) if found is not None else match.group(0)

    return re.sub(r"\$\{([^}]+)\}", replace, value)


# operator -> (compare(policy value, request value), negated)
_COMPARE: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (lambda p, v: _glob(p, v), False),
    "StringNotLike": (lambda p, v: _glob(p, v), True),
    "ArnEquals": (lambda p, v: _glob(p, v), False),
    "ArnLike": (lambda p, v: _glob(p, v), False),
    "ArnNotEquals": (lambda p, v: _glob(p, v), True),
    "ArnNotLike": (lambda p, v: _glob(p, v), True),
    "Bool": (lambda p, v: p.lower() == v.lower(), False),
}
SUPPORTED_OPERATORS = sorted([*_COMPARE, *(f"{name}IfExists" for name in _COMPARE), "Null"])


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    present = key in context and context[key] is not None
    if operator == "Null":  # "true": the key must be absent; "false": present
        return any(
            str(value).lower() == ("false" if present else "true") for value in _as_list(expected)
        )
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _COMPARE:
        raise UnsupportedConditionError(
            f"condition operator {operator!r} is not supported offline (supported: "
            f"{', '.join(SUPPORTED_OPERATORS)}); check this policy on AWS with "
            "simulate_custom_policy instead of trusting an offline answer"
        )
    compare, negated = _COMPARE[base]
    if not present:
        return if_exists or negated
    actual = [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(context[key])]
    wanted = [
        _substitute(str(v).lower() if isinstance(v, bool) else str(v), context)
        for v in _as_list(expected)
    ]
    if negated:  # none of the values may match
        return not any(compare(p, v) for p in wanted for v in actual)
    return any(compare(p, v) for p in wanted for v in actual)


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, keys in conditions.items():
        if ":" in operator:  # ForAnyValue:/ForAllValues:
            raise UnsupportedConditionError(
                f"set operator {operator!r} is not supported offline; check this policy on AWS "
                "with simulate_custom_policy"
            )
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _principal_matches(statement: Mapping[str, Any], principal: str | None) -> bool:
    if "NotPrincipal" in statement:
        raise UnsupportedConditionError("NotPrincipal is not supported offline")
    if "Principal" not in statement:
        return True  # an identity policy: the principal is whoever holds it
    wanted = statement["Principal"]
    if wanted == "*":
        return True
    if principal is None:
        return False
    for kind in ("AWS", "Service", "Federated"):
        for entry in _as_list(wanted.get(kind, [])):
            if entry == "*" or entry == principal:
                return True
            account = re.fullmatch(r"(?:arn:aws[\w-]*:iam::)?(\d{12})(?::root)?", entry)
            if account and _account_of(principal) == account.group(1):
                return True
    return False


def _account_of(arn: str | None) -> str | None:
    match = re.match(r"arn:aws[\w-]*:[\w-]+:[\w-]*:(\d{12}):", arn or "")
    return match.group(1) if match else None


def _applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str,
    principal: str | None,
    context: Mapping[str, Any],
    *,
    ignore_conditions: bool = False,
) -> bool:
    if "NotAction" in statement:
        if any(_glob(a, action, case_sensitive=False) for a in _as_list(statement["NotAction"])):
            return False
    elif not any(_glob(a, action, case_sensitive=False) for a in _as_list(statement["Action"])):
        return False
    if "NotResource" in statement:
        if any(_glob(r, resource) for r in _as_list(statement["NotResource"])):
            return False
    elif "Resource" in statement and not any(
        _glob(_substitute(r, context), resource) for r in _as_list(statement["Resource"])
    ):
        return False
    if not _principal_matches(statement, principal):
        return False
    return ignore_conditions or _conditions_hold(statement.get("Condition", {}), context)


def matching(
    policies: Mapping[str, Mapping[str, Any]],
    action: str,
    resource: str,
    principal: str | None,
    context: Mapping[str, Any],
    *,
    ignore_conditions: bool = False,
) -> list[Match]:
    """Every statement of ``policies`` that applies to the request (or would, but for its
    conditions)."""
    found = []
    for name, policy in policies.items():
        for index, statement in enumerate(_as_list(policy.get("Statement", []))):
            if _applies(
                statement, action, resource, principal, context, ignore_conditions=ignore_conditions
            ):
                sid = statement.get("Sid") or f"#{index + 1}"
                found.append(Match(name, sid, statement["Effect"]))
    return found


def evaluate(
    identity: Mapping[str, Mapping[str, Any]],
    resource_policy: Mapping[str, Any] | None,
    action: str,
    resource: str,
    principal: str | None,
    context: Mapping[str, Any],
) -> tuple[str, Match | None, str]:
    """(decision, deciding statement, reason) for one request."""
    context = dict(context)
    if principal and "aws:PrincipalAccount" not in context and _account_of(principal):
        context["aws:PrincipalAccount"] = _account_of(principal)
    mine = matching(identity, action, resource, principal, context)
    theirs = (
        matching({"resource policy": resource_policy}, action, resource, principal, context)
        if resource_policy
        else []
    )
    for match in (*mine, *theirs):
        if match.effect == "Deny":
            return EXPLICIT_DENY, match, f"{_name(match)} denies {action}: a Deny always wins"
    identity_allow = next((m for m in mine if m.effect == "Allow"), None)
    resource_allow = next((m for m in theirs if m.effect == "Allow"), None)
    cross_account = (
        resource_policy is not None
        and principal is not None
        and _account_of(principal) not in (None, _account_of(resource))
    )
    if cross_account:
        if identity_allow and resource_allow:
            return (
                ALLOWED,
                resource_allow,
                (
                    f"{_name(identity_allow)} and {_name(resource_allow)} both allow {action} "
                    "(across accounts, both sides must)"
                ),
            )
        missing = "the resource policy" if identity_allow else "the caller's policies"
        return (
            IMPLICIT_DENY,
            identity_allow or resource_allow,
            (f"across accounts both sides must allow {action}; {missing} does not"),
        )
    allow = identity_allow or resource_allow
    if allow:
        return ALLOWED, allow, f"{_name(allow)} allows {action} on {resource}"
    policies = dict(identity, **({"resource policy": resource_policy} if resource_policy else {}))
    near = [
        m
        for m in matching(policies, action, resource, principal, context, ignore_conditions=True)
        if m.effect == "Allow"
    ]
    if near:
        return (
            IMPLICIT_DENY,
            None,
            (
                f"{_name(near[0])} would allow {action}, but its condition does not hold for this "
                "request: denied by default (implicit deny)"
            ),
        )
    return (
        IMPLICIT_DENY,
        None,
        (f"no statement allows {action} on {resource}: denied by default (implicit deny)"),
    )


def _name(match: Match) -> str:
    return f"statement {match.statement} of {match.policy}"


def names(
    policies: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> dict[str, Mapping[str, Any]]:
    """Policies by name: a mapping as given, a single policy or a list numbered from 1."""
    if isinstance(policies, Mapping) and "Statement" in policies:
        return {"policy": policies}
    if isinstance(policies, Mapping):
        return dict(policies)
    return {f"policy {index + 1}": policy for index, policy in enumerate(policies)}
