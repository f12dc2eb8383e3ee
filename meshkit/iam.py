"""Governance: least-privilege policies per domain, resource policies, and checking what they allow.

A data mesh federates governance: each domain owns its bus and queues, and the platform sets the
rules every domain's access follows. This module writes those rules as IAM documents:

- identity policies: a domain's producer may publish its own events on its own bus, a consumer
  may read its own queues, the platform team administers the mesh;
- resource policies: a bus that admits other domains' (or accounts') events, a queue that admits
  EventBridge for one rule;
- ``check_access``: would these policies allow this action on this resource, and which statement
  decided? On real AWS it asks IAM's policy simulator; offline an evaluator that follows AWS's
  documented evaluation logic answers, because moto enforces IAM only in part (it ignores
  conditions, treats every EventBridge resource as ``*`` and never enforces resource policies);
  ``access_grid`` asks it for every principal, action and resource of a grid, as a DataFrame;
- ``lint``: parliament's checks plus the mesh's own rules, as a DataFrame;
- ``enforcement``: moto's IAM enforcement switched on for a block, with a user per domain.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from . import _aws, _evaluator, sandbox
from ._evaluator import UnsupportedConditionError, _as_list
from .buses import WORKBOOK_TAG, _domain_tags, bus_name, domain_key
from .exceptions import TargetError, ValidationError
from .subscriptions import queue_policy  # a queue's resource policy; re-exported for governance

__all__ = [
    "AccessDecision",
    "UnsupportedConditionError",
    "access_grid",
    "article_policy",
    "assume_role",
    "attach_bus_policy",
    "bus_policy",
    "check_access",
    "consumer_policy",
    "create_domain_role",
    "enforcement",
    "lint",
    "platform_admin_policy",
    "producer_policy",
    "queue_policy",
    "trust_policy",
]

_logger = logging.getLogger(__name__)

VERSION = "2012-10-17"
Policy = Mapping[str, Any]


# -- identity policies --------------------------------------------------------------------------


def article_policy(
    *, account: str = "123456789012", region: str = "us-west-2", bus: str = "SalesEventBus"
) -> dict[str, Any]:
    """The article's policy, as written: publish and describe on ``SalesEventBus`` only."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["events:PutEvents", "events:DescribeEventBus"],
                "Resource": f"arn:aws:events:{region}:{account}:event-bus/{bus}",
            }
        ],
    }


def producer_policy(
    domain: str, *, account: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """A domain producer's policy: the article's, plus a condition on the events' source.

    ``events:PutEvents`` on the domain's own bus only for events whose source is
    ``<domain>.domain`` (``events:source``), so a producer cannot publish in another domain's
    name; ``events:DescribeEventBus`` (which ``mk.events.publish`` calls first) in a statement
    of its own, as that action knows no ``events:source`` key.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.producer_policy("sales", account="123456789012", region="us-west-2")
    >>> policy["Statement"][0]["Condition"]
    {'StringEquals': {'events:source': 'sales.domain'}}
    """
    arn = _bus_arn(bus_name(domain), account, region)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "PublishOwnEvents",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": arn,
                "Condition": {"StringEquals": {"events:source": f"{domain_key(domain)}.domain"}},
            },
            {
                "Sid": "DescribeOwnBus",
                "Effect": "Allow",
                "Action": "events:DescribeEventBus",
                "Resource": arn,
            },
        ],
    }


_CONSUMER_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
]


def consumer_policy(
    domain: str,
    *,
    queue_arns: Iterable[str] | None = None,
    account: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """A consuming domain's policy: read and delete messages of its own queues only.

    ``queue_arns`` default to every queue whose name starts with the domain's key (the queues
    and DLQs ``mk.subscriptions.subscribe`` makes are named ``<domain>-...``).
    """
    if queue_arns is None:
        account, region = _account_region(account, region)
        queue_arns = [f"arn:aws:sqs:{region}:{account}:{domain_key(domain)}-*"]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "ConsumeOwnQueues",
                "Effect": "Allow",
                "Action": _CONSUMER_ACTIONS,
                "Resource": sorted(queue_arns),
            }
        ],
    }


def platform_admin_policy(
    *, account: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """The platform team's policy: run the mesh's buses, rules and queues, and nothing else.

    Even the administrators' policy names its actions: ``events:*`` would also grant archives,
    replays, API destinations and connections, which the mesh does not use.
    """
    account, region = _account_region(account, region)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AdministerBusesAndRules",
                "Effect": "Allow",
                "Action": _ADMIN_EVENTS_ACTIONS,
                "Resource": [
                    f"arn:aws:events:{region}:{account}:event-bus/*",
                    f"arn:aws:events:{region}:{account}:rule/*",
                ],
            },
            {
                "Sid": "AdministerQueues",
                "Effect": "Allow",
                "Action": _ADMIN_SQS_ACTIONS,
                "Resource": f"arn:aws:sqs:{region}:{account}:*",
            },
            {
                "Sid": "ListAndGrant",  # these actions take no resource ARN
                "Effect": "Allow",
                "Action": [
                    "events:ListEventBuses",
                    "events:ListRules",
                    "events:PutPermission",
                    "events:RemovePermission",
                    "sqs:ListQueues",
                ],
                "Resource": "*",
            },
        ],
    }


_ADMIN_EVENTS_ACTIONS = [
    "events:CreateEventBus",
    "events:DeleteEventBus",
    "events:DeleteRule",
    "events:DescribeEventBus",
    "events:DescribeRule",
    "events:ListTagsForResource",
    "events:ListTargetsByRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
    "events:TagResource",
    "events:UntagResource",
]
_ADMIN_SQS_ACTIONS = [
    "sqs:CreateQueue",
    "sqs:DeleteQueue",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ListDeadLetterSourceQueues",
    "sqs:ListQueueTags",
    "sqs:SetQueueAttributes",
    "sqs:TagQueue",
]


def trust_policy(*, service: str | None = None, account: str | None = None) -> dict[str, Any]:
    """Who may assume a role: an AWS service (``lambda.amazonaws.com``) or an account."""
    if (service is None) == (account is None):
        raise ValidationError(
            "give exactly one of service= (e.g. 'lambda.amazonaws.com') or account="
        )
    principal = {"Service": service} if service else {"AWS": f"arn:aws:iam::{account}:root"}
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }


def create_domain_role(
    domain: str,
    purpose: str,
    policy: Policy,
    *,
    trust: Policy | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Create (or update) the role ``<domain>-<purpose>`` with ``policy`` inline; return its ARN.

    The role trusts Lambda unless ``trust`` says otherwise (``trust_policy(account=...)`` for a
    role another account assumes). Tagged like every meshkit resource.
    """
    key = domain_key(domain)
    name = f"{key}-{purpose}"
    iam = _aws.client("iam", boto3_session)
    trust = trust or trust_policy(service="lambda.amazonaws.com")
    try:
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"{key} domain: {purpose}",
            Tags=_domain_tags(key),
        )["Role"]["Arn"]
    except ClientError as err:
        if err.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName=purpose, PolicyDocument=json.dumps(policy))
    return str(arn)


def assume_role(
    role_arn: str, *, session_name: str = "meshkit", boto3_session: boto3.Session | None = None
) -> boto3.Session:
    """A session with the credentials of ``role_arn`` (``sts.assume_role``), e.g. in a domain's
    own account. On the embedded AWS any role ARN works, in any account id: each account is a
    separate, empty mesh, as separate AWS accounts are.
    """
    sts = _aws.client("sts", boto3_session)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=_aws.target().region,
    )


# -- resource policies --------------------------------------------------------------------------


def bus_policy(
    bus_arn: str,
    *,
    publisher_accounts: Iterable[str] = (),
    organization_id: str | None = None,
    sources: Iterable[str] = (),
    rule_accounts: Iterable[str] = (),
) -> dict[str, Any]:
    """A bus's resource policy: who else may put events on it, or create rules on it.

    Parameters
    ----------
    bus_arn : str
    publisher_accounts : accounts that may ``PutEvents`` on the bus (e.g. domain accounts
        forwarding to a central bus).
    organization_id : str, optional
        Admit every account of this AWS Organization instead (``aws:PrincipalOrgID``).
    sources : the ``events:source`` values admitted; give them, or an organization, or the
        linter complains: without either, an admitted account may publish in any domain's name.
    rule_accounts : accounts that may create rules (subscriptions) on the bus, each only rules it
        owns (``events:creatorAccount``).
    """
    statements: list[dict[str, Any]] = []
    sources = sorted(sources)
    condition: dict[str, Any] = {}
    if sources:
        condition["StringEquals"] = {"events:source": sources}
    for account in sorted(publisher_accounts):
        statements.append(
            {
                "Sid": f"PutEventsFrom{account}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                **({"Condition": condition} if condition else {}),
            }
        )
    if organization_id:
        org_condition = {**condition}
        org_condition.setdefault("StringEquals", {})
        org_condition["StringEquals"] = {
            **org_condition["StringEquals"],
            "aws:PrincipalOrgID": organization_id,
        }
        statements.append(
            {
                "Sid": "PutEventsFromOrganization",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": org_condition,
            }
        )
    region, account, bus = _split_bus_arn(bus_arn)
    for rule_account in sorted(rule_accounts):
        statements.append(
            {
                "Sid": f"ManageOwnRulesOf{rule_account}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{rule_account}:root"},
                "Action": [
                    "events:DeleteRule",
                    "events:DescribeRule",
                    "events:ListTargetsByRule",
                    "events:PutRule",
                    "events:PutTargets",
                    "events:RemoveTargets",
                ],
                "Resource": f"arn:aws:events:{region}:{account}:rule/{bus}/*",
                "Condition": {
                    "StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}"}
                },
            }
        )
    if not statements:
        raise ValidationError(
            "a bus policy needs publisher_accounts=, organization_id= or rule_accounts="
        )
    return {"Version": VERSION, "Statement": statements}


def attach_bus_policy(
    bus: str, policy: Policy, *, boto3_session: boto3.Session | None = None
) -> None:
    """Set a bus's resource policy (``PutPermission`` with a whole policy document).

    moto stores it and returns it from ``describe_event_bus`` but never enforces it.
    """
    _aws.client("events", boto3_session).put_permission(EventBusName=bus, Policy=json.dumps(policy))


# -- helpers ------------------------------------------------------------------------------------


def _account_region(account: str | None, region: str | None) -> tuple[str, str]:
    if account is None or region is None:
        current = sandbox.current()
        if current is None:
            raise TargetError(
                "give account= and region=, or call mk.sandbox.start() so meshkit knows them"
            )
        account = account or current.account_id
        region = region or current.region
    return account, region


def _bus_arn(name: str, account: str | None, region: str | None) -> str:
    account, region = _account_region(account, region)
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def _split_bus_arn(arn: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"arn:aws[\w-]*:events:([\w-]+):(\d{12}):event-bus/(.+)", arn)
    if not match:
        raise ValidationError(
            f"{arn!r} is not an event bus ARN: arn:aws:events:<region>:<account>:event-bus/<name>"
        )
    return match.group(1), match.group(2), match.group(3)


# -- checking access ----------------------------------------------------------------------------


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
    resource_policy: Policy | None = None,
    principal: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> AccessDecision:
    """Would ``policies`` allow ``action`` on ``resource``? Which statement decides, and why?

    Offline, meshkit's evaluator answers, following AWS's documented evaluation logic (explicit
    deny wins; otherwise an allow in the identity or resource policy, both across accounts;
    otherwise implicit deny), with the condition operators listed in
    ``meshkit._evaluator.SUPPORTED_OPERATORS``; any other operator raises
    ``UnsupportedConditionError`` rather than guess. On real AWS, IAM's policy simulator answers
    (``simulate_custom_policy``), with the same result type.

    Parameters
    ----------
    policies : dict, list of dict, or dict of name -> dict
        The caller's identity policies (named, to say which one decided).
    action : str
        E.g. ``"events:PutEvents"``.
    resource : str
        The resource's ARN.
    context : dict, optional
        Condition keys of the request, e.g. ``{"events:source": "sales.domain"}``.
    resource_policy : dict, optional
        The resource's own policy (a bus or queue policy).
    principal : str, optional
        The caller's ARN; needed with a resource policy. On AWS the simulator takes only an IAM
        user's ARN here.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.article_policy()
    >>> mk.iam.check_access(policy, "events:PutEvents",
    ...     "arn:aws:events:us-west-2:123456789012:event-bus/MarketingEventBus").decision
    'implicit deny'
    """
    named = _evaluator.names(policies)
    context = dict(context or {})
    current = sandbox.current()
    if current is not None and current.is_real_aws:
        return _simulate(
            named, action, resource, context, resource_policy, principal, boto3_session
        )
    decision, match, reason = _evaluator.evaluate(
        named, resource_policy, action, resource, principal, context
    )
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
        Each principal's ARN, needed with resource policies (across accounts above all).

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
    actions, resources = list(actions), list(resources)
    resource_policies = resource_policies or {}
    principal_arns = principal_arns or {}
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
    named: Mapping[str, Policy],
    action: str,
    resource: str,
    context: Mapping[str, Any],
    resource_policy: Policy | None,
    principal: str | None,
    boto3_session: boto3.Session | None,
) -> AccessDecision:
    """Ask IAM's policy simulator the same question."""
    if principal is not None and not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:user/.+", principal):
        raise ValidationError(
            f"principal {principal!r}: IAM's policy simulator takes only an IAM user's ARN as the "
            "caller (CallerArn), not a role or a service; pass arn:aws:iam::<account>:user/<name>"
        )
    iam = _aws.client("iam", boto3_session)
    names = list(named)
    kwargs: dict[str, Any] = {
        "PolicyInputList": [json.dumps(named[name]) for name in names],
        "ActionNames": [action],
        "ResourceArns": [resource],
        "ContextEntries": [_context_entry(key, value) for key, value in context.items()],
    }
    if resource_policy is not None:
        kwargs["ResourcePolicy"] = json.dumps(resource_policy)
    if principal is not None:
        kwargs["CallerArn"] = principal
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


def _context_entry(key: str, value: Any) -> dict[str, Any]:
    values = value if isinstance(value, (list, tuple)) else [value]
    kind = "boolean" if all(isinstance(v, bool) for v in values) else "string"
    if len(values) > 1:
        kind += "List"
    return {
        "ContextKeyName": key,
        "ContextKeyValues": [str(v).lower() if isinstance(v, bool) else str(v) for v in values],
        "ContextKeyType": kind,
    }


# -- lint ---------------------------------------------------------------------------------------

_LINT_COLUMNS = ["policy", "linter", "issue", "severity", "detail"]


def lint(policies: Mapping[str, Policy], *, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Check policies with parliament and with the mesh's own rules; one row per finding.

    parliament (Duo Labs' IAM linter) checks identity policies against AWS's catalogue of
    actions, resources and condition keys. The mesh's rules check what parliament cannot know:

    - ``BUS_POLICY_WITHOUT_SOURCE_CONDITION``: a bus policy admits another account's events with
      no ``events:source`` or organization condition, so it may publish in any domain's name;
    - ``QUEUE_POLICY_WITHOUT_SOURCE_ARN``: a queue policy admits a service without
      ``aws:SourceArn``, so any rule, in any account, could fill the queue;
    - ``PRODUCER_WILDCARD_ACTION`` / ``PRODUCER_WILDCARD_RESOURCE``: a producer policy (one that
      allows ``events:PutEvents``) with ``*`` in an action or a resource.

    Parameters
    ----------
    policies : dict of name -> policy
        Identity and resource policies; a statement with a ``Principal`` marks a resource policy.
    kinds : dict of name -> str, optional
        ``"producer"``, ``"consumer"``, ``"admin"`` or ``"resource"``, where the guess is wrong.
        By default an identity policy that allows ``events:PutEvents`` (even through a
        wildcard) counts as a producer's. parliament checks identity policies only.

    Returns
    -------
    pandas.DataFrame
        Columns ``policy``, ``linter`` (``parliament`` or ``mesh``), ``issue``, ``severity``,
        ``detail``. Empty when every policy is clean.
    """
    kinds = dict(kinds or {})
    rows: list[dict[str, Any]] = []
    for name, policy in policies.items():
        statements = _statements(policy)
        kind = kinds.get(name) or ("resource" if any("Principal" in s for s in statements) else "")
        if kind == "resource":
            rows += [dict(policy=name, linter="mesh", **f) for f in _resource_findings(statements)]
            continue
        rows += [dict(policy=name, linter="parliament", **f) for f in _parliament(policy)]
        if kind in ("", "producer"):
            rows += [dict(policy=name, linter="mesh", **f) for f in _producer_findings(statements)]
    return pd.DataFrame(rows, columns=_LINT_COLUMNS)


def _statements(policy: Policy) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]


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
    return [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]


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
        wild_resources = [r for r in _as_list(statement.get("Resource", [])) if "*" in r]
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
        keys = {key for keys in statement.get("Condition", {}).values() for key in keys}
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        actions = _actions(statement)
        if any(_glob_covers(a, "events:PutEvents") for a in actions) and not (
            keys & {"events:source", "aws:PrincipalOrgID"}
        ):
            findings.append(
                {
                    "issue": "BUS_POLICY_WITHOUT_SOURCE_CONDITION",
                    "severity": "HIGH",
                    "detail": f"statement {statement.get('Sid', '')!r} admits events with any "
                    "source: add a StringEquals condition on events:source (the domains this "
                    "account may speak for), or on aws:PrincipalOrgID",
                }
            )
        if (
            any(_glob_covers(a, "sqs:SendMessage") for a in actions)
            and (services or principal == "*")
            and not keys & {"aws:SourceArn", "aws:SourceAccount"}
        ):
            findings.append(
                {
                    "issue": "QUEUE_POLICY_WITHOUT_SOURCE_ARN",
                    "severity": "HIGH",
                    "detail": f"statement {statement.get('Sid', '')!r} lets {services or '*'} "
                    "send on behalf of anyone: add ArnEquals aws:SourceArn with the rule's ARN",
                }
            )
    return findings


def _glob_covers(pattern: str, action: str) -> bool:
    return _evaluator._glob(pattern, action, case_sensitive=False)


# -- enforcement (embedded AWS) -----------------------------------------------------------------


@contextmanager
def enforcement(
    users: Mapping[str, Policy], *, boto3_session: boto3.Session | None = None
) -> Iterator[dict[str, boto3.Session]]:
    """Switch on the embedded AWS's IAM enforcement for a block, with one IAM user per entry.

    Before the block, each user is created (or updated) with its policy inline and a fresh
    access key; inside it, every request must be signed by one of these users and is checked
    against its policy; after it (even on error) enforcement is off again.

    What moto enforces, and what not: the action always; the resource for SQS (queue ARNs) but
    not for EventBridge, where it treats every resource as ``*`` (a resource-scoped Allow is
    refused everywhere, a resource-scoped Deny ignored); never conditions, never resource
    policies. ``check_access`` explains the rest.

    Yields
    ------
    dict of name -> boto3.Session
        A session per user, for ``boto3_session=`` or ``session.client(...)``.

    Examples
    --------
    >>> import meshkit as mk
    >>> with mk.iam.enforcement({"sales-producer": policy}) as sessions:  # doctest: +SKIP
    ...     mk.events.publish("SalesEventBus", events, boto3_session=sessions["sales-producer"])
    """
    target = _aws.target()
    if target.mode != "embedded":
        raise TargetError(
            "enforcement() switches the embedded AWS's IAM checks on; AWS always enforces IAM: "
            "use sessions of real roles (mk.iam.create_domain_role, then sts.assume_role)"
        )
    iam = _aws.client("iam", boto3_session)
    sessions = {
        name: _user_session(iam, name, policy, target.region) for name, policy in users.items()
    }
    sandbox.post_moto_api(target.endpoint_url, "/moto-api/reset-auth", b"0")
    _logger.info("IAM enforcement on for %s", ", ".join(sessions))
    try:
        yield sessions
    finally:
        sandbox.post_moto_api(target.endpoint_url, "/moto-api/reset-auth", b"inf")
        _logger.info("IAM enforcement off")


def _user_session(iam: Any, name: str, policy: Policy, region: str) -> boto3.Session:
    try:
        iam.create_user(UserName=name, Tags=[{"Key": WORKBOOK_TAG, "Value": "true"}])
    except ClientError as err:
        if err.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=region,
    )
