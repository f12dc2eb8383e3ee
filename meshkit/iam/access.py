"""Checking access: would these policies allow this action on this resource, and why?

On real AWS IAM's policy simulator answers; offline meshkit's evaluator (``meshkit.iam._evaluator``)
does, following AWS's documented evaluation logic, because moto enforces IAM only in part (it
ignores conditions, treats every EventBridge resource as ``*`` and never enforces resource
policies). ``access_grid`` asks for every principal, action and resource of a grid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd

from .. import _aws, sandbox
from ..exceptions import ValidationError
from . import _evaluator
from ._common import Policy
from ._evaluator import shown

__all__ = ["AccessDecision", "access_grid", "check_access"]


@dataclass(frozen=True)
class AccessDecision:
    """Whether a request is allowed, which statement decided, and why.

    Attributes
    ----------
    allowed : bool
    decision : str
        ``"allowed"``, ``"explicit deny"`` or ``"implicit deny"``.
    statement : str or None
        The deciding statement, ``"<Sid or #n> of <policy>"``; None for an implicit deny.
    reason : str
    evaluated_by : str
        ``"meshkit evaluator"`` offline, ``"IAM policy simulator"`` on AWS.

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = "arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus"
    >>> decision = mk.iam.check_access(mk.iam.article_policy(), "events:PutEvents", bus)
    >>> bool(decision), decision.statement
    (True, '#1 of policy')
    """

    allowed: bool
    decision: str
    statement: str | None
    reason: str
    evaluated_by: str

    def __bool__(self) -> bool:
        return self.allowed


def check_access(
    policies: Policy | Iterable[Policy] | Mapping[str, Policy],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
    *,
    resource_policy: Policy | str | None = None,
    principal: str | None = None,
    resource_account: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> AccessDecision:
    """Would ``policies`` allow ``action`` on ``resource``? Which statement decides, and why?

    Offline, meshkit's evaluator answers, following AWS's documented evaluation logic: an
    explicit deny wins; within one account an allow in the identity policies allows, and so does
    one in the resource policy that names the caller itself (``*``, its user, its role or
    session, or the service), while one that names only the caller's *account* delegates to the
    identity policies; across accounts both sides must allow (with no resource policy, nothing
    is allowed); otherwise implicit deny. The condition operators are those listed in
    ``meshkit.iam._evaluator.SUPPORTED_OPERATORS``, with ``ForAllValues:``/``ForAnyValue:``; any
    other operator raises ``UnsupportedConditionError`` rather than guess. On real AWS, IAM's
    policy simulator answers (``simulate_custom_policy``), with the same result type.

    Parameters
    ----------
    policies : dict, str, list of them, or dict of name -> dict or str
        The caller's identity policies (named, to say which one decided); a policy may be given
        as its JSON text.
    action : str
        One action, e.g. ``"events:PutEvents"``.
    resource : str
        The resource's ARN, or ``"*"`` for an action that takes no resource.
    context : dict, optional
        Condition keys of the request, e.g. ``{"events:source": "sales.domain"}``: strings,
        numbers, booleans, date-times, or lists of them (multivalued keys). Key names are
        case-insensitive, as in IAM. The keys IAM sets from the request itself are filled in
        unless given here: ``aws:CurrentTime`` and ``aws:EpochTime`` (now), and from
        ``principal=`` ``aws:PrincipalArn`` (a role session's is its role's ARN, without a
        path: pass it here if the role has one), ``aws:PrincipalAccount``,
        ``aws:PrincipalType``, ``aws:PrincipalIsAWSService``, ``aws:username`` (IAM users),
        ``aws:userid`` (the root user, federated users) and ``aws:PrincipalServiceName``.
    resource_policy : dict or str, optional
        The resource's own policy (a bus or queue policy).
    principal : str, optional
        The caller: an IAM user or role ARN, a role session
        (``arn:aws:sts::<account>:assumed-role/<role>/<session>``), a 12-digit account id (a
        principal of that account not named individually) or a service principal
        (``events.amazonaws.com``). It decides whether the request crosses accounts. Without it
        the caller is assumed to be in the resource's account, and an allowed answer says so.
        On AWS the simulator takes only an IAM user's ARN here.
    resource_account : str, optional
        The 12-digit account that owns the resource, for ARNs that name none (S3 buckets and
        objects). Needed only when the answer depends on it.

    Returns
    -------
    AccessDecision

    Raises
    ------
    meshkit.exceptions.ValidationError
        A bad argument: an action without a service, a resource that is not an ARN, a context
        value of the wrong type, a principal that is not an ARN or account id.
    MalformedPolicyError
        A policy AWS would refuse (no ``Resource`` in an identity policy, no ``Principal`` in a
        resource policy, ``Effect`` other than ``"Allow"``/``"Deny"``, invalid JSON, nesting
        beyond IAM's grammar, a number too long to read, ...).
    UnknownResourceAccountError
        The resource's ARN names no account, ``resource_account=`` is missing, and the answer
        depends on it.
    UnsupportedConditionError
        A condition operator the offline evaluator does not support.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.article_policy()
    >>> mk.iam.check_access(policy, "events:PutEvents",
    ...     "arn:aws:events:us-west-2:123456789012:event-bus/MarketingEventBus").decision
    'implicit deny'

    Across accounts the resource's own policy must allow too:

    >>> anything = {"Version": "2012-10-17",
    ...     "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    >>> mk.iam.check_access(anything, "s3:GetObject", "arn:aws:s3:::sales-products/2026.parquet",
    ...     principal="arn:aws:iam::222222222222:role/analyst",
    ...     resource_account="123456789012").decision
    'implicit deny'
    """
    named = _evaluator.identity_policies(policies)
    own = (
        None
        if resource_policy is None
        else _evaluator.parse_policy(
            resource_policy, name="resource policy", kind=_evaluator.RESOURCE
        )
    )
    question = _evaluator.request(
        action, resource, context, principal=principal, resource_account=resource_account
    )
    current = sandbox.current()
    if current is not None and current.is_real_aws:
        return _simulate(named, question, dict(context or {}), own, boto3_session)
    decision, match, reason = _evaluator.evaluate(named, own, question)
    return AccessDecision(
        allowed=decision == _evaluator.ALLOWED,
        decision=decision,
        statement=f"{match.statement} of {match.policy}" if match else None,
        reason=reason,
        evaluated_by="meshkit evaluator",
    )


_GRID_COLUMNS = ["principal", "action", "resource", "decision", "allowed", "statement"]


def access_grid(
    principals: Mapping[str, Policy | Iterable[Policy] | Mapping[str, Policy]],
    actions: Iterable[str],
    resources: Iterable[str],
    context: Mapping[str, Any] | None = None,
    *,
    resource_policies: Mapping[str, Policy] | None = None,
    principal_arns: Mapping[str, str] | None = None,
    resource_accounts: Mapping[str, str] | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """``check_access`` for every principal, every action and every resource of its service.

    A grid of decisions shows a set of policies at a glance: who may do what, on which
    resource, and whether a refusal is an explicit deny (a statement said no) or an implicit one
    (nothing said yes). An action is asked only of resources of its own service
    (``events:PutEvents`` of event buses, not of queues); a resource ``"*"`` of every action.

    Parameters
    ----------
    principals : dict of name -> policies
        Each principal's identity policies, as ``check_access`` takes them (a policy, a list, or
        a dict of name -> policy, to say which one decided).
    actions : iterable of str
        E.g. ``["events:PutEvents", "sqs:ReceiveMessage"]``.
    resources : iterable of str
        ARNs.
    context : dict, optional
        Condition keys of every request, e.g. ``{"events:source": "sales.domain"}``.
    resource_policies : dict of ARN -> policy, optional
        The resources' own policies (bus and queue policies).
    principal_arns : dict of name -> ARN, optional
        Each principal's ARN (or account id), which decides whether a request crosses
        accounts; a principal without one is assumed to be in each resource's account.
    resource_accounts : dict of ARN -> account id, optional
        The owner of each resource whose ARN names none (S3), as ``check_access``'s
        ``resource_account``.

    Returns
    -------
    pandas.DataFrame
        One row per question, in the order given: ``principal``, ``action``, ``resource``,
        ``decision`` (``"allowed"``, ``"explicit deny"`` or ``"implicit deny"``), ``allowed``,
        ``statement`` (the deciding statement, or None).

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = "arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus"
    >>> grid = mk.iam.access_grid({"article": mk.iam.article_policy()},
    ...     ["events:PutEvents", "events:DeleteEventBus"], [bus])
    >>> list(grid["decision"])
    ['allowed', 'implicit deny']
    """
    for field, value in (("principals", principals), ("resource_policies", resource_policies),
                         ("principal_arns", principal_arns),
                         ("resource_accounts", resource_accounts)):  # fmt: skip
        if (value is not None or field == "principals") and not isinstance(value, Mapping):
            raise ValidationError(
                f"{field} is a {type(value).__name__}; pass a dict keyed by "
                f"{'principal name' if field.startswith('princ') else 'resource ARN'}"
            )
    for field, items in (("actions", actions), ("resources", resources)):
        if isinstance(items, str) or not isinstance(items, Iterable):
            raise ValidationError(f"{field} must be a list of strings, not {shown(items)}")
    actions, resources = list(actions), list(resources)
    resource_policies = resource_policies or {}
    principal_arns = principal_arns or {}
    resource_accounts = resource_accounts or {}
    for name, policies in principals.items():  # every question well-formed before any answer
        _evaluator.identity_policies(policies)
        for action in actions:
            for resource in resources:
                _evaluator.request(
                    action, resource, context, principal=principal_arns.get(name),
                    resource_account=resource_accounts.get(resource),
                )  # fmt: skip
    for resource, document in resource_policies.items():
        _evaluator.parse_policy(document, name=f"resource policy of {resource}",
                                kind=_evaluator.RESOURCE)  # fmt: skip
    rows = []
    for name, policies in principals.items():
        for action in actions:
            for resource in resources:
                if not _same_service(action, resource):
                    continue
                decision = check_access(
                    policies,
                    action,
                    resource,
                    context,
                    resource_policy=resource_policies.get(resource),
                    principal=principal_arns.get(name),
                    resource_account=resource_accounts.get(resource),
                    boto3_session=boto3_session,
                )
                rows.append(
                    [name, action, resource, decision.decision, decision.allowed,
                     decision.statement]
                )  # fmt: skip
    grid = pd.DataFrame(rows, columns=_GRID_COLUMNS)
    # object, not pandas 3's str dtype: an implicit deny's statement stays None, not NaN
    grid["statement"] = pd.Series([row[-1] for row in rows], dtype=object)
    return grid


def _same_service(action: str, resource: str) -> bool:
    """``events:PutEvents`` and ``arn:aws:events:...``: the action's service owns the resource."""
    if resource == "*" or action == "*":
        return True
    parts = resource.split(":")
    return len(parts) > 2 and parts[2].lower() == action.split(":", 1)[0].lower()


_SIMULATOR_DECISIONS = {
    "allowed": "allowed",
    "explicitDeny": "explicit deny",
    "implicitDeny": "implicit deny",
}


def _simulate(
    named: Mapping[str, _evaluator.Policy],
    question: _evaluator.Request,
    context: Mapping[str, Any],
    resource_policy: _evaluator.Policy | None,
    boto3_session: boto3.Session | None,
) -> AccessDecision:
    """Ask IAM's policy simulator the same question."""
    principal = question.caller.given
    if principal is not None and not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:user/.+", principal):
        raise ValidationError(
            f"principal {shown(principal)}: IAM's policy simulator takes only an IAM user's ARN "
            "as the caller (CallerArn), not a role or a service; pass "
            "arn:aws:iam::<account>:user/<name>"
        )
    if resource_policy is not None and principal is None:
        raise ValidationError(
            "with resource_policy=, IAM's policy simulator needs the caller: pass principal= "
            "(an IAM user's ARN, arn:aws:iam::<account>:user/<name>)"
        )
    iam = _aws.client("iam", boto3_session)
    names = list(named)
    kwargs: dict[str, Any] = {
        "PolicyInputList": [json.dumps(named[name].document) for name in names],
        "ActionNames": [question.action],
        "ResourceArns": [question.resource],
        "ContextEntries": [
            _context_entry(key, value)
            for key, value in context.items()
            if value is not None and value != [] and value != ()  # absent keys
        ],
    }
    if resource_policy is not None:
        kwargs["ResourcePolicy"] = json.dumps(resource_policy.document)
    if principal is not None:
        kwargs["CallerArn"] = principal
    if question.resource_account and question.resource.split(":")[4:5] == [""]:
        # the ARN names no owner (S3): the simulator would assume the caller's account
        partition = question.resource.split(":")[1]
        kwargs["ResourceOwner"] = f"arn:{partition}:iam::{question.resource_account}:root"
    [result] = iam.simulate_custom_policy(**kwargs)["EvaluationResults"]
    decision = _SIMULATOR_DECISIONS.get(result["EvalDecision"], result["EvalDecision"])
    matched = result.get("MatchedStatements", [])
    statement = None
    if matched:
        source = matched[0].get("SourcePolicyId", "")
        index = int(source.split(".")[-1]) - 1 if source.split(".")[-1].isdigit() else None
        statement = names[index] if index is not None and index < len(names) else source
    return AccessDecision(
        allowed=decision == "allowed",
        decision=decision,
        statement=statement,
        reason=f"IAM policy simulator: {result['EvalDecision']}",
        evaluated_by="IAM policy simulator",
    )


# the simulator's ContextKeyType of the keys whose values are strings of another type
_CONTEXT_KEY_TYPES = {
    "aws:sourceip": "ip",
    "aws:vpcsourceip": "ip",
    "aws:currenttime": "date",
    "aws:tokenissuetime": "date",
}


def _context_entry(key: str, value: Any) -> dict[str, Any]:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    kind = _evaluator.value_type(values) or _CONTEXT_KEY_TYPES.get(key.lower(), "string")
    if len(values) > 1:
        kind += "List"
    return {
        "ContextKeyName": key,
        "ContextKeyValues": [_evaluator.as_text(v) for v in values],
        "ContextKeyType": kind,
    }
