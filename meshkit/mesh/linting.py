"""A governance linter of the live mesh: what would lose events, leak them or leave them ownerless,
found in the model ``discover`` reads, one row per finding with why it matters and the fix.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
import pandas as pd

from .._shared import OWNER_TAG
from ..exceptions import ValidationError
from ..iam import lint as lint_policies
from ..patterns import PatternError, check_pattern
from .model import Mesh, Rule, Target, arn_part, discover

__all__ = ["FINDING_COLUMNS", "SEVERITIES", "failing", "lint"]

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")  # parliament's scale, as mk.iam.lint uses
FINDING_COLUMNS = ["severity", "issue", "resource", "why", "fix"]

# EventBridge's target types (the user guide's "Event bus targets" page), by ARN service.
_TARGET_SERVICES = {
    "apigateway", "batch", "codebuild", "codepipeline", "ec2", "ecs", "events", "execute-api",
    "firehose", "inspector", "kinesis", "lambda", "logs", "redshift", "sagemaker", "sns", "sqs",
    "ssm", "ssm-incidents", "states",
}  # fmt: skip
# Targets that make moto's PutEvents fail for the whole bus (the parity ledger, P-targets).
_UNDELIVERABLE_OFFLINE = {"firehose", "kinesis", "lambda", "sns", "states"}
_CROSS_ACCOUNT_PAGE = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html"
)


def lint(
    mesh: Mesh | None = None,
    *,
    owner_tag: str = OWNER_TAG,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Check the live mesh against the mesh's governance rules; one row per finding.

    =================================  ========  ================================================
    issue                              severity  found when
    =================================  ========  ================================================
    ``TARGET_WITHOUT_DLQ``             HIGH      a target has no dead-letter queue: an event it
                                                 cannot take after the retries is dropped
    ``TARGET_WITHOUT_RETRY_POLICY``    LOW       a target leaves its retries to AWS's default
    ``TARGET_NOT_FOUND``               HIGH      a target queue does not exist
    ``UNSUPPORTED_TARGET``             HIGH      a target EventBridge cannot deliver to, or (read
                                                 offline) one the embedded AWS cannot
    ``QUEUE_POLICY_MISSING``           HIGH      a target queue has no policy: EventBridge may
                                                 not send to it
    ``QUEUE_POLICY_NOT_FOR_RULE``      HIGH      a target queue's policy admits EventBridge, but
                                                 not for this rule's ``aws:SourceArn``
    ``DLQ_POLICY_NOT_FOR_RULE``        HIGH      the same, for a target's dead-letter queue
    ``RULE_WITHOUT_ACCOUNT_FILTER``    MEDIUM    a rule on a bus shared with other accounts does
                                                 not say whose events it wants (``account``)
    ``CROSS_ACCOUNT_TARGET_WITHOUT_    HIGH      a target in another account (not a bus) has no
    ROLE``                                       ``RoleArn``: AWS delivers through one
    ``CROSS_ACCOUNT_CHAIN``            HIGH      a rule sends on to a third account what came
                                                 from another account: AWS does not deliver it
    ``PATTERN_REFUSED``                HIGH      ``mk.patterns.check_pattern`` refuses the pattern
    ``UNTAGGED`` / ``NO_OWNER``        MEDIUM    a bus, rule or queue has no tags / no owner tag
    =================================  ========  ================================================

    Every bus and queue policy also goes through ``mk.iam.lint`` (public access, wildcard
    actions, ``BUS_POLICY_WITHOUT_SOURCE_CONDITION``, ``QUEUE_POLICY_WITHOUT_SOURCE_ARN``, ...);
    its findings appear with their own issue names.

    Parameters
    ----------
    mesh : Mesh, optional
        What to check; default ``discover(boto3_session=boto3_session)``.
    owner_tag : str, default "meshkit:owner"
        The tag that names a resource's owner.
    boto3_session : boto3.Session, optional
        The account to discover when ``mesh`` is not given.

    Returns
    -------
    pandas.DataFrame
        Columns ``severity``, ``issue``, ``resource`` (an ARN), ``why``, ``fix``; most severe
        first. Empty when the mesh is clean.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``mesh`` is not a ``Mesh`` or ``owner_tag`` is not a non-empty string.

    Examples
    --------
    >>> import meshkit as mk
    >>> from meshkit.mesh import Mesh, Rule, Target
    >>> rule = Rule("arn:aws:events:us-west-2:123456789012:rule/SalesEventBus/audit", "audit",
    ...             "SalesEventBus", '{"source": ["sales.domain"]}', "ENABLED",
    ...             tags={"meshkit:owner": "audit-team"},
    ...             targets=(Target("q", "arn:aws:logs:us-west-2:123456789012:log-group:audit",
    ...                             retry_policy={"MaximumRetryAttempts": 3}),))
    >>> mk.mesh.lint(Mesh(rules=(rule,), accounts=("123456789012",)))[["severity", "issue"]]
      severity               issue
    0     HIGH  TARGET_WITHOUT_DLQ
    """
    if mesh is None:
        mesh = discover(boto3_session=boto3_session)
    if not isinstance(mesh, Mesh):
        raise ValidationError(
            f"mesh must be a Mesh (mk.mesh.discover()), not {type(mesh).__name__}"
        )
    if not isinstance(owner_tag, str) or not owner_tag:
        raise ValidationError(
            f"owner_tag must be the tag key that names an owner, such as 'meshkit:owner', not "
            f"{owner_tag!r}"
        )
    findings = [
        *_target_findings(mesh),
        *_policy_findings(mesh),
        *_shared_bus_findings(mesh),
        *_chain_findings(mesh),
        *_pattern_findings(mesh),
        *_owner_findings(mesh, owner_tag),
    ]
    frame = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    rank = frame["severity"].map({s: -i for i, s in enumerate(SEVERITIES)})
    order = sorted(range(len(frame)), key=lambda i: (rank.iloc[i], frame["resource"].iloc[i]))
    return frame.iloc[order].reset_index(drop=True)


def failing(findings: pd.DataFrame, at: str = "LOW") -> pd.DataFrame:
    """The findings at or above a severity: what should stop a pipeline.

    Parameters
    ----------
    findings : pandas.DataFrame
        ``lint``'s result.
    at : {"LOW", "MEDIUM", "HIGH", "CRITICAL"}, default "LOW"

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``at`` is not one of the four severities.

    Examples
    --------
    >>> import pandas as pd
    >>> from meshkit.mesh import FINDING_COLUMNS, failing
    >>> findings = pd.DataFrame([["LOW", "TARGET_WITHOUT_RETRY_POLICY", "arn:...", "", ""]],
    ...                         columns=FINDING_COLUMNS)
    >>> len(failing(findings, at="HIGH")), len(failing(findings))
    (0, 1)
    """
    if not isinstance(at, str) or at not in SEVERITIES:
        raise ValidationError(f"at is {at!r}: use one of {', '.join(SEVERITIES)}")
    if not isinstance(findings, pd.DataFrame) or "severity" not in findings:
        raise ValidationError(
            f"findings must be lint's DataFrame (with a severity column), not "
            f"{type(findings).__name__}"
        )
    floor = SEVERITIES.index(at)
    return findings[findings["severity"].map(SEVERITIES.index) >= floor]


# -- the rules ---------------------------------------------------------------------------------


def _finding(severity: str, issue: str, resource: str, why: str, fix: str) -> dict[str, str]:
    return {"severity": severity, "issue": issue, "resource": resource, "why": why, "fix": fix}


def _target_findings(mesh: Mesh) -> Iterable[dict[str, str]]:
    for rule in mesh.rules:
        for target in rule.targets:
            where = f"{rule.arn} -> {target.arn}"
            if not target.dead_letter_arn:
                yield _finding(
                    "HIGH", "TARGET_WITHOUT_DLQ", where,
                    "an event EventBridge still cannot deliver after its retries is dropped, "
                    "and nobody learns of it",
                    "give the target a DeadLetterConfig (an SQS queue); "
                    "mk.subscriptions.subscribe does",
                )  # fmt: skip
            if not target.retry_policy:
                yield _finding(
                    "LOW", "TARGET_WITHOUT_RETRY_POLICY", where,
                    "AWS's default (185 attempts over 24 hours) applies unseen: how long an "
                    "event may wait is nowhere stated",
                    "set the target's RetryPolicy (MaximumRetryAttempts, "
                    "MaximumEventAgeInSeconds)",
                )  # fmt: skip
            yield from _where_it_goes(mesh, rule, target, where)


def _where_it_goes(mesh: Mesh, rule: Rule, target: Target, where: str) -> Iterable[dict[str, str]]:
    service = target.service
    dead_letters = mesh.queue(target.dead_letter_arn or "")
    if dead_letters is not None and not (
        dead_letters.policy and _admits(dead_letters.policy, rule.arn)
    ):
        yield _finding(
            "HIGH", "DLQ_POLICY_NOT_FOR_RULE", where,
            "the dead-letter queue's policy does not admit EventBridge for this rule "
            "(aws:SourceArn): an event that fails is dropped instead of kept",
            "give the DLQ a statement for this rule's ARN (mk.subscriptions.queue_policy)",
        )  # fmt: skip
    if service not in _TARGET_SERVICES:
        yield _finding(
            "HIGH", "UNSUPPORTED_TARGET", where,
            f"EventBridge does not deliver to {service or 'this ARN'}: every matching event "
            "fails",
            "target an SQS queue, a bus, a Lambda function, ... (the user guide's 'Event bus "
            "targets' page lists them)",
        )  # fmt: skip
        return
    if mesh.embedded and service in _UNDELIVERABLE_OFFLINE:
        yield _finding(
            "HIGH", "UNSUPPORTED_TARGET", where,
            f"the embedded AWS (moto) cannot deliver to {service}: PutEvents then fails for the "
            "whole bus, for every consumer",
            "on the embedded AWS consume through an SQS queue; keep this target for real AWS",
        )  # fmt: skip
    account = arn_part(target.arn, "account")
    if service != "events" and account != rule.account and not target.role_arn:
        yield _finding(
            "HIGH", "CROSS_ACCOUNT_TARGET_WITHOUT_ROLE", where,
            f"a {service} target in another account ({account}) is sent to through an execution "
            "role of the rule's account; without RoleArn nothing is delivered "
            "(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-cross-account.html)",
            "give the target a RoleArn of the rule's account that may send to it, and let the "
            "target's policy admit that role",
        )  # fmt: skip
    if service != "sqs":
        return
    queue = mesh.queue(target.arn)
    if queue is None:
        if account in mesh.accounts:
            yield _finding(
                "HIGH", "TARGET_NOT_FOUND", where,
                "the queue does not exist: every event this rule matches fails to deliver",
                "create the queue again (mk.subscriptions.subscribe) or remove the target",
            )  # fmt: skip
        return
    if queue.policy is None:
        yield _finding(
            "HIGH", "QUEUE_POLICY_MISSING", where,
            "without a queue policy EventBridge may not send to the queue: every event goes to "
            "the DLQ, or is dropped",
            "give the queue a policy that admits events.amazonaws.com with aws:SourceArn = "
            "the rule's ARN (mk.subscriptions.queue_policy)",
        )  # fmt: skip
    elif not _admits(queue.policy, rule.arn):
        yield _finding(
            "HIGH", "QUEUE_POLICY_NOT_FOR_RULE", where,
            "the queue's policy does not admit EventBridge for this rule (aws:SourceArn): its "
            "deliveries are refused",
            "add a statement for this rule's ARN (mk.subscriptions.queue_policy)",
        )  # fmt: skip


def _admits(policy: Mapping[str, Any], rule_arn: str) -> bool:
    """Some Allow statement lets events.amazonaws.com send, for this rule's ARN."""
    for statement in _statements(policy):
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service") if isinstance(principal, Mapping) else None)
        actions = [a.lower() for a in _as_list(statement.get("Action"))]
        if (
            statement.get("Effect") == "Allow"
            and "events.amazonaws.com" in services
            and {"sqs:sendmessage", "sqs:*", "*"} & set(actions)
        ):
            condition = statement.get("Condition", {})
            for operator, keys in condition.items() if isinstance(condition, Mapping) else ():
                for key, value in keys.items() if isinstance(keys, Mapping) else ():
                    if key.lower() == "aws:sourcearn" and any(
                        _arn_matches(str(operator), arn, rule_arn) for arn in _as_list(value)
                    ):
                        return True
    return False


def _arn_matches(operator: str, written: str, arn: str) -> bool:
    """Does a condition ``operator`` with the value ``written`` hold for ``arn``? ``*Like``
    operators take ``*`` and ``?`` wildcards; the others compare whole values."""
    if operator.lower().removeprefix("foranyvalue:").endswith("like"):
        return fnmatch.fnmatchcase(arn, written)
    return arn == written


def _policy_findings(mesh: Mesh) -> Iterable[dict[str, str]]:
    policies: dict[str, Any] = {bus.arn: bus.policy for bus in mesh.buses if bus.policy}
    policies |= {queue.arn: queue.policy for queue in mesh.queues if queue.policy}
    if not policies:
        return
    found = lint_policies(policies, kinds=dict.fromkeys(policies, "resource"))
    for row in found.itertuples(index=False):
        yield _finding(
            str(row.severity), str(row.issue), str(row.policy), str(row.detail),
            "rewrite the statement as the finding says (mk.iam.lint explains each issue)",
        )  # fmt: skip


def _shared_bus_findings(mesh: Mesh) -> Iterable[dict[str, str]]:
    for bus in mesh.buses:
        others = _admitted_accounts(bus.policy) - {bus.account}
        if not others:
            continue
        for rule in mesh.rules:
            if rule.bus_arn != bus.arn or not rule.pattern:
                continue
            try:
                pattern = json.loads(rule.pattern)
            except ValueError:
                continue  # PATTERN_REFUSED says so
            if isinstance(pattern, dict) and "account" not in pattern:
                yield _finding(
                    "MEDIUM", "RULE_WITHOUT_ACCOUNT_FILTER", rule.arn,
                    f"the bus admits events from {', '.join(sorted(others))}; this rule takes "
                    "theirs too, as if its own domain had published them",
                    'add "account": ["<the accounts whose events it wants>"] to the pattern',
                )  # fmt: skip


def _admitted_accounts(policy: Mapping[str, Any] | None) -> set[str]:
    """The accounts (or ``*``) a bus policy lets put events (not those it lets make rules)."""
    accounts: set[str] = set()
    for statement in _statements(policy or {}):
        actions = {action.lower() for action in _as_list(statement.get("Action"))}
        if statement.get("Effect") != "Allow" or not actions & {
            "events:putevents",
            "events:*",
            "*",
        }:
            continue
        principal = statement.get("Principal")
        values = _as_list(principal.get("AWS") if isinstance(principal, Mapping) else principal)
        for value in values:
            accounts.add("*" if value == "*" else arn_part(value, "account") or value)
    return accounts


def _chain_findings(mesh: Mesh) -> Iterable[dict[str, str]]:
    arriving: dict[str, set[str]] = {}  # bus ARN -> accounts whose rules send to it
    for rule in mesh.rules:
        for target in rule.targets:
            if target.service == "events" and ":event-bus/" in target.arn:
                arriving.setdefault(target.arn, set()).add(rule.account)
    for rule in mesh.rules:
        from_elsewhere = arriving.get(rule.bus_arn, set()) - {rule.account}
        for target in rule.targets:
            onward = arn_part(target.arn, "account")
            if from_elsewhere and target.service == "events" and onward != rule.account:
                yield _finding(
                    "HIGH", "CROSS_ACCOUNT_CHAIN", f"{rule.arn} -> {target.arn}",
                    f"events reach {rule.bus} from account {', '.join(sorted(from_elsewhere))}; "
                    f"AWS does not send such events on to another account ({onward}): one "
                    f"cross-account hop only ({_CROSS_ACCOUNT_PAGE})",
                    "send from the producer's bus to each consumer's account directly",
                )  # fmt: skip


def _pattern_findings(mesh: Mesh) -> Iterable[dict[str, str]]:
    for rule in mesh.rules:
        if rule.pattern is None:
            continue
        try:
            check_pattern(rule.pattern)
        except (PatternError, ValidationError) as err:
            yield _finding(
                "HIGH", "PATTERN_REFUSED", rule.arn,
                f"EventBridge would refuse the pattern, or match other events than it seems "
                f"to (the embedded AWS may store it and then fail every publish): {err}",
                "rewrite the pattern as the message says; try it with mk.patterns.try_pattern",
            )  # fmt: skip


def _owner_findings(mesh: Mesh, owner_tag: str) -> Iterable[dict[str, str]]:
    resources: list[tuple[str, Mapping[str, str]]] = [
        (bus.arn, bus.tags) for bus in mesh.buses if bus.name != "default"
    ]
    resources += [(rule.arn, rule.tags) for rule in mesh.rules]
    resources += [(queue.arn, queue.tags) for queue in mesh.queues]
    for arn, tags in resources:
        if not tags:
            yield _finding(
                "MEDIUM", "UNTAGGED", arn,
                "nobody can tell who owns it, what it costs, or whether teardown may remove it",
                f"tag it with {owner_tag} (and the domain); meshkit's functions tag what they make",
            )  # fmt: skip
        elif not tags.get(owner_tag):
            yield _finding(
                "MEDIUM", "NO_OWNER", arn,
                f"it is tagged, but not with {owner_tag}: nobody answers for it",
                f"add the tag {owner_tag} with the owning team",
            )  # fmt: skip


def _statements(policy: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, Mapping) else statements
    return [s for s in statements if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
