"""Linting policies: parliament's checks plus the mesh's own rules, one row per finding."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..exceptions import ValidationError
from . import _evaluator
from ._common import Policy, statements_of
from ._evaluator import as_list, shown

__all__ = ["lint"]

_LINT_COLUMNS = ["policy", "linter", "issue", "severity", "detail"]


def lint(policies: Mapping[str, Policy], *, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Check policies with parliament and with the mesh's own rules; one row per finding.

    parliament (Duo Labs' IAM linter) checks identity policies against AWS's catalogue of
    actions, resources and condition keys. The mesh's rules check what parliament cannot know.
    On resource policies (bus, queue and trust policies):

    - ``PUBLIC_ACCESS`` (CRITICAL): an ``Allow`` for ``Principal: "*"`` or ``{"AWS": "*"}``
      with no condition on who calls (``aws:PrincipalOrgID``, ``aws:SourceArn``,
      ``aws:SourceAccount``, ...): anyone on the internet, anonymous callers included, may send
      to the queue, put events on the bus, ...;
    - ``NOT_PRINCIPAL_WITH_ALLOW`` (CRITICAL, HIGH when a condition limits the callers): an
      ``Allow`` for everyone but the principals listed;
    - ``RESOURCE_POLICY_WILDCARD_ACTION`` (HIGH): ``*``, ``<service>:*`` or ``NotAction`` in an
      ``Allow``: every action, today's and future ones;
    - ``BUS_POLICY_WITHOUT_SOURCE_CONDITION`` (HIGH): a bus policy admits another account's
      events with no ``events:source`` or organization condition, so it may publish in any
      domain's name;
    - ``QUEUE_POLICY_WITHOUT_SOURCE_ARN`` (HIGH): a queue policy admits a service without
      ``aws:SourceArn``, so any rule, in any account, could fill the queue.

    On identity policies, ``PRODUCER_WILDCARD_ACTION`` / ``PRODUCER_WILDCARD_RESOURCE`` (HIGH):
    a producer policy (one that allows ``events:PutEvents``) with ``*`` in an action or a
    resource. On every policy, ``MALFORMED_POLICY`` / ``MALFORMED_STATEMENT`` (CRITICAL): a
    policy AWS would refuse (not JSON, no ``Statement``, an ``Effect`` other than ``"Allow"`` or
    ``"Deny"``, no ``Action``, an identity statement without ``Resource``, a resource policy
    statement without ``Principal``, nesting beyond IAM's grammar, a number too long to read,
    ...); parliament does not read such a policy.

    Parameters
    ----------
    policies : dict of name -> policy
        Identity and resource policies, as dicts or their JSON text; a statement with a
        ``Principal`` (or ``NotPrincipal``) marks a resource policy.
    kinds : dict of name -> str, optional
        ``"producer"``, ``"consumer"``, ``"admin"`` or ``"resource"``, where the guess is wrong.
        By default an identity policy that allows ``events:PutEvents`` (even through a
        wildcard) counts as a producer's. parliament checks identity policies only.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy``, ``linter`` (``parliament`` or ``mesh``), ``issue``, ``severity``,
        ``detail``. Empty when every policy is clean.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``policies`` is one policy rather than a dict of them, or a kind is unknown.

    Examples
    --------
    >>> import meshkit as mk
    >>> queue = "arn:aws:sqs:us-west-2:123456789012:marketing-sales"
    >>> open_queue = {"Version": "2012-10-17", "Statement": [{"Sid": "Open", "Effect": "Allow",
    ...     "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", "Resource": queue}]}
    >>> list(mk.iam.lint({"open-queue": open_queue})["issue"])
    ['PUBLIC_ACCESS']
    """
    if not isinstance(policies, Mapping) or "Statement" in policies:
        raise ValidationError(
            "lint takes a dict of name -> policy, so that each finding names its policy: "
            "wrap a single one, e.g. mk.iam.lint({'my-policy': policy})"
        )
    if not isinstance(kinds, (Mapping, type(None))):
        raise ValidationError(f"kinds takes a dict of policy name -> kind, not {shown(kinds, 60)}")
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if kind not in _KINDS:
            raise ValidationError(
                f"kinds[{shown(name)}] is {shown(kind)}: use one of {', '.join(map(repr, _KINDS))}"
            )
    rows: list[dict[str, Any]] = []
    for name, given in policies.items():
        policy, problems = _lint_document(given)
        rows += [dict(policy=name, linter="mesh", **problem) for problem in problems]
        if policy is None:
            continue
        statements = statements_of(policy)
        resource = any(_names_principal(statement) for statement in statements)
        kind = kinds.get(name) or ("resource" if resource else "")
        well_formed = []
        for index, statement in enumerate(statements, start=1):
            problems = _statement_problems(index, statement, resource=kind == "resource")
            rows += [dict(policy=name, linter="mesh", **problem) for problem in problems]
            if not problems:
                well_formed.append(statement)
        if kind == "resource":
            rows += [dict(policy=name, linter="mesh", **f) for f in _resource_findings(well_formed)]
            continue
        if len(well_formed) == len(statements):  # parliament cannot read what AWS would refuse
            rows += [dict(policy=name, linter="parliament", **f) for f in _parliament(policy)]
        if kind in ("", "producer"):
            rows += [dict(policy=name, linter="mesh", **f) for f in _producer_findings(well_formed)]
    return pd.DataFrame(rows, columns=_LINT_COLUMNS)


_KINDS = ("producer", "consumer", "admin", "resource")
_PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
# Condition keys that limit who calls: a statement for "*" with one of them is not public (the
# keys IAM Access Analyzer counts as limiting access); compared in lower case, as IAM does.
_CALLER_KEYS = {
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalservicename",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:userid",
    "aws:username",
}


def _malformed(issue: str, detail: str) -> dict[str, str]:
    return {"issue": issue, "severity": "CRITICAL", "detail": detail}


def _lint_document(given: Any) -> tuple[Mapping[str, Any] | None, list[dict[str, str]]]:
    """The policy to lint (parsed from JSON text if need be), or None and why it is not one."""
    if isinstance(given, (str, bytes)):
        try:
            given = json.loads(given)
        except (ValueError, RecursionError) as err:  # RecursionError: nested beyond reason
            return None, [
                _malformed(
                    "MALFORMED_POLICY",
                    f"not valid JSON ({err}): give the policy as a dict, or its JSON text",
                )
            ]
    problem = _evaluator.unreadable(given)
    if problem:  # parliament, and every rule below, would fail on it
        return None, [_malformed("MALFORMED_POLICY", problem)]
    if not isinstance(given, Mapping):
        return None, [
            _malformed(
                "MALFORMED_POLICY",
                f"a {type(given).__name__} is not a policy: give a dict such as "
                '{"Version": "2012-10-17", "Statement": [...]}',
            )
        ]
    if not isinstance(given.get("Statement"), (list, Mapping)):
        return None, [
            _malformed(
                "MALFORMED_POLICY",
                "no Statement list: a policy is "
                '{"Version": "2012-10-17", "Statement": [{"Effect": ..., "Action": ..., ...}]}',
            )
        ]
    return given, []


def _names_principal(statement: Any) -> bool:
    return isinstance(statement, Mapping) and bool({"Principal", "NotPrincipal"} & statement.keys())


def _statement_problems(index: int, statement: Any, *, resource: bool) -> list[dict[str, str]]:
    """What makes AWS refuse a statement (IAM JSON policy grammar), as findings."""
    where = f"statement #{index}"
    if not isinstance(statement, Mapping):
        detail = (
            f"{where} is a {type(statement).__name__}, not an object (dict) with Effect, "
            "Action and Resource"
        )
        return [_malformed("MALFORMED_STATEMENT", detail)]
    where += f" ({statement['Sid']})" if isinstance(statement.get("Sid"), str) else ""
    details = []
    if statement.get("Effect") not in ("Allow", "Deny"):
        details.append(
            f"{where} has Effect {shown(statement.get('Effect'))}: it must be exactly 'Allow' or "
            "'Deny' (case matters)"
        )
    for pair, needed in (
        (("Action", "NotAction"), True),
        (("Resource", "NotResource"), not resource),
    ):
        present = [key for key in pair if key in statement]
        if len(present) > 1 or (needed and not present):
            details.append(f"{where} needs {pair[0]} or {pair[1]} (one of them)")
        for key in present:
            if not _is_strings(statement[key]):
                details.append(
                    f"{where}: {key} must be a string or a list of strings, such as "
                    f"'sqs:ReceiveMessage' or an ARN, not {shown(statement[key], 60)}"
                )
    principals = [key for key in ("Principal", "NotPrincipal") if key in statement]
    if resource and len(principals) != 1:
        details.append(
            f"{where} needs Principal or NotPrincipal (one of them): every statement of a "
            "resource policy names whom it concerns"
        )
    for key in principals:
        value = statement[key]
        if value != "*" and not (
            isinstance(value, Mapping)
            and value
            and set(value) <= _PRINCIPAL_TYPES
            and all(_is_strings(v) for v in value.values())
        ):
            details.append(
                f'{where}: {key} must be "*" or a dict such as '
                f"{{'AWS': 'arn:aws:iam::111122223333:root'}}, not {shown(value, 60)}"
            )
    condition = statement.get("Condition", {})
    if not isinstance(condition, Mapping) or not all(
        isinstance(keys, Mapping) and all(_is_condition_value(v) for v in keys.values())
        for keys in condition.values()
    ):
        details.append(
            f"{where}: Condition must map each operator to its keys and values, e.g. "
            "{'ArnEquals': {'aws:SourceArn': 'arn:aws:events:...:rule/...'}}, "
            f"not {shown(condition, 60)}"
        )
    return [_malformed("MALFORMED_STATEMENT", detail) for detail in details]


def _is_strings(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


def _is_condition_value(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return all(isinstance(v, (str, int, float, bool)) for v in values)


def _parliament(policy: Policy) -> list[dict[str, Any]]:
    from parliament import analyze_policy_string

    analyzed = analyze_policy_string(json.dumps(policy))
    return [
        {"issue": f.issue, "severity": f.severity or "", "detail": _short(f.detail)}
        for f in analyzed.findings
    ]


def _short(detail: Any, limit: int = 120) -> str:
    """parliament's details can list dozens of actions: keep a readable line."""
    if isinstance(detail, list) and len(detail) > 3:
        detail = f"{len(detail)} actions, e.g. {', '.join(map(str, detail[:3]))}"
    text = str(detail)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _actions(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]


def _producer_findings(statements: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    findings: list[dict[str, str]] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = _actions(statement)
        publishes = any(_glob_covers(a, "events:PutEvents") for a in actions)
        if not publishes:
            continue
        wild_actions = [a for a in actions if "*" in a]
        if wild_actions or "NotAction" in statement:
            findings.append(
                {
                    "issue": "PRODUCER_WILDCARD_ACTION",
                    "severity": "HIGH",
                    "detail": f"{wild_actions or 'NotAction'}: list the actions a producer needs "
                    "(events:PutEvents, events:DescribeEventBus)",
                }
            )
        wild_resources = [r for r in as_list(statement.get("Resource", [])) if "*" in r]
        if wild_resources or "NotResource" in statement:
            findings.append(
                {
                    "issue": "PRODUCER_WILDCARD_RESOURCE",
                    "severity": "HIGH",
                    "detail": f"{wild_resources or 'NotResource'}: name the domain's own bus ARN",
                }
            )
    return findings


def _resource_findings(statements: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    findings: list[dict[str, str]] = []
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", "")
        conditions = statement.get("Condition", {})
        keys = {key.lower() for keys in conditions.values() for key in keys}
        limited = _limits_callers(conditions)
        principal = statement.get("Principal", {})
        services = as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        actions = _actions(statement)
        granted = ", ".join(actions) or "every action but NotAction's"
        public = _public_principal(principal)
        if public and not limited:
            findings.append(
                {
                    "issue": "PUBLIC_ACCESS",
                    "severity": "CRITICAL",
                    "detail": f"statement {shown(sid)} lets anyone ({public}) do {granted}, with "
                    "no condition on who calls: any AWS account, anonymous callers too; name the "
                    "accounts (arn:aws:iam::<account>:root) or the service, or add a condition "
                    "on aws:PrincipalOrgID, aws:SourceArn or aws:SourceAccount",
                }
            )
        if "NotPrincipal" in statement:
            findings.append(
                {
                    "issue": "NOT_PRINCIPAL_WITH_ALLOW",
                    "severity": "HIGH" if limited else "CRITICAL",
                    "detail": f"statement {shown(sid)} allows {granted} to every principal except "
                    "those listed, anonymous callers too: name who may in Principal instead",
                }
            )
        wild = [a for a in actions if a == "*" or a.endswith(":*")]
        if wild or "NotAction" in statement:
            findings.append(
                {
                    "issue": "RESOURCE_POLICY_WILDCARD_ACTION",
                    "severity": "HIGH",
                    "detail": f"statement {shown(sid)} grants {wild or 'NotAction'}: every action, "
                    "future ones too; list the actions needed, e.g. sqs:SendMessage or "
                    "events:PutEvents",
                }
            )
        if (
            any(_glob_covers(a, "events:PutEvents") for a in actions)
            and not _only_service(statement, "sqs")
            and not keys & {"events:source", "aws:principalorgid"}
        ):
            findings.append(
                {
                    "issue": "BUS_POLICY_WITHOUT_SOURCE_CONDITION",
                    "severity": "HIGH",
                    "detail": f"statement {shown(sid)} admits events with any "
                    "source: add a StringEquals condition on events:source (the domains this "
                    "account may speak for), or on aws:PrincipalOrgID",
                }
            )
        if (
            any(_glob_covers(a, "sqs:SendMessage") for a in actions)
            and services
            and not keys & {"aws:sourcearn", "aws:sourceaccount"}
        ):
            findings.append(
                {
                    "issue": "QUEUE_POLICY_WITHOUT_SOURCE_ARN",
                    "severity": "HIGH",
                    "detail": f"statement {shown(sid)} lets {services} "
                    "send on behalf of anyone: add ArnEquals aws:SourceArn with the rule's ARN",
                }
            )
    return findings


def _public_principal(principal: Any) -> str | None:
    """How a Principal names everyone, or None."""
    if principal == "*":
        return 'Principal "*"'
    if isinstance(principal, Mapping) and "*" in as_list(principal.get("AWS", [])):
        return 'Principal {"AWS": "*"}'
    return None


def _limits_callers(conditions: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a condition allows only some callers: a caller key under a positive operator
    (not ``Not...``, ``...IfExists``, ``Null`` or ``ForAllValues:``, which a missing key passes),
    with a value that is not all wildcards."""
    for operator, keys in conditions.items():
        name = operator.lower()
        if (
            "not" in name
            or name.endswith("ifexists")
            or name in ("null",)
            or (name.startswith("forallvalues:"))
        ):
            continue
        for key, value in keys.items():
            values = value if isinstance(value, list) else [value]
            if key.lower() in _CALLER_KEYS and any(str(v).strip("*?") for v in values):
                return True
    return False


def _only_service(statement: Mapping[str, Any], service: str) -> bool:
    """Whether every resource of the statement is one of ``service``'s ARNs."""
    resources = as_list(statement.get("Resource", []))
    return bool(resources) and all(r.startswith("arn:") and r.split(":")[2:3] == [service]
                                   for r in resources)  # fmt: skip


def _glob_covers(pattern: str, action: str) -> bool:
    return _evaluator.glob_match(pattern, action, case_sensitive=False)
