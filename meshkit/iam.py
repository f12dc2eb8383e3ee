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
from ._evaluator import (
    MalformedPolicyError,
    UnknownResourceAccountError,
    UnsupportedConditionError,
    as_list,
    shown,
)
from ._shared import DOMAIN_TAG, WORKBOOK_TAG, check_owner, domain_tags, error_code
from .buses import bus_name, domain_key, validate_bus_name
from .exceptions import MeshkitError, NotMeshkitResourceError, TargetError, ValidationError
from .subscriptions import queue_policy  # a queue's resource policy; re-exported for governance

__all__ = [
    "AccessDecision",
    "ForeignStatementsError",
    "MalformedPolicyError",
    "UnknownResourceAccountError",
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
    """The article's policy, as written: publish and describe on ``SalesEventBus`` only.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.iam.article_policy()["Statement"][0]["Resource"]
    'arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus'
    """
    account, region = _account_region(account, region)
    bus = validate_bus_name(bus)
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

    ``account`` (12 digits) and ``region`` default to the target's (``mk.sandbox.start()``).

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
_DLQ_SUFFIX = "-dlq"  # mk.subscriptions.subscribe's DLQ: "<queue>-dlq"


def consumer_policy(
    domain: str,
    *,
    queue_arns: Iterable[str] | None = None,
    producers: Iterable[str] | None = None,
    account: str | None = None,
    region: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> dict[str, Any]:
    """A consuming domain's policy: read and delete messages of its own queues, and no others.

    The queues are named one by one, never by a prefix: ``sales-*`` would also grant the queues
    of a domain ``sales-ops`` (``sales-ops-marketing``), since ``*`` in an ARN matches ``-`` too.
    Which queues:

    - ``queue_arns``: exactly these;
    - ``producers``: for each producing domain, the queue and DLQ that
      ``mk.subscriptions.subscribe`` names by default (``<domain>-<producer>`` and
      ``<domain>-<producer>-dlq``), in ``account`` and ``region``; AWS is not asked;
    - neither: the queues and DLQs ``subscribe`` has made for this domain so far, found by their
      ``meshkit:domain`` tag (``sqs:ListQueues`` and ``sqs:ListQueueTags`` calls). A subscription
      made later is not covered until the policy is made again.

    Parameters
    ----------
    domain : str
        The consuming domain, e.g. ``"marketing"``.
    queue_arns : list of str, optional
        SQS queue ARNs, without wildcards.
    producers : list of str, optional
        Producing domains, e.g. ``["sales"]``; not with ``queue_arns``.
    account, region : str, optional
        Default: the target's. Without ``queue_arns`` or ``producers``, only queues in them.
    boto3_session : boto3.Session, optional
        For the look-up of the domain's queues.

    Returns
    -------
    dict
        The policy, one statement (``ConsumeOwnQueues``) with the queue ARNs sorted.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a string where a list is expected, an ARN that is not a queue's, a wildcard.
    meshkit.exceptions.MeshkitError
        When the look-up finds no queue of the domain: subscribe first, or name them.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.consumer_policy(
    ...     "sales", producers=["marketing"], account="123456789012", region="us-west-2"
    ... )
    >>> [arn.rsplit(":", 1)[-1] for arn in policy["Statement"][0]["Resource"]]
    ['sales-marketing', 'sales-marketing-dlq']
    """
    key = domain_key(domain)
    if queue_arns is not None and producers is not None:
        raise ValidationError(
            "give producers= or queue_arns=, not both: producers= names the queues subscribe "
            "made for each producing domain, queue_arns= names queues yourself"
        )
    if queue_arns is not None:
        arns = [
            _queue_arn(f"queue_arns[{index}]", arn)
            for index, arn in enumerate(_strings("queue_arns", queue_arns, example=_QUEUE_EXAMPLE))
        ]
        if not arns:
            raise ValidationError(
                "queue_arns is empty: a policy must name at least one queue; name them, or use "
                "producers=[...] or neither (the domain's queues, looked up)"
            )
    elif producers is not None:
        account, region = _account_region(account, region)
        names = [
            f"{key}-{_domain_field(f'producers[{index}]', producer)}"[:64]  # subscribe's default
            for index, producer in enumerate(_strings("producers", producers, example="marketing"))
        ]
        if not names:
            raise ValidationError(
                "producers is empty: name the domains this one subscribes to, e.g. ['sales']"
            )
        arns = [
            f"arn:aws:sqs:{region}:{account}:{name}{suffix}"
            for name in names
            for suffix in ("", _DLQ_SUFFIX)
        ]
    else:
        arns = _domain_queue_arns(key, account, region, boto3_session)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "ConsumeOwnQueues",
                "Effect": "Allow",
                "Action": _CONSUMER_ACTIONS,
                "Resource": sorted(set(arns)),
            }
        ],
    }


def _domain_queue_arns(
    key: str, account: str | None, region: str | None, boto3_session: boto3.Session | None
) -> list[str]:
    """The ARNs of the queues meshkit made for domain ``key``: tagged with it as their domain."""
    if account is not None:
        _account_id("account", account)
    if region is not None:
        _region_name(region)
    sqs = _aws.client("sqs", boto3_session)
    arns = []
    for page in sqs.get_paginator("list_queues").paginate():
        for url in page.get("QueueUrls", []):
            try:
                tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
                if tags.get(WORKBOOK_TAG) != "true" or tags.get(DOMAIN_TAG) != key:
                    continue
                attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            except ClientError as err:
                if "NonExistentQueue" in error_code(err):
                    continue  # deleted while we listed
                raise
            arn = attributes["Attributes"]["QueueArn"]
            _, _, _, queue_region, queue_account, _ = arn.split(":", 5)
            if region in (None, queue_region) and account in (None, queue_account):
                arns.append(arn)
    if not arns:
        where = ", ".join(
            f"{name} {value}" for name, value in (("account", account), ("region", region)) if value
        )
        where = f" in {where}" if where else ""
        raise MeshkitError(
            f"domain {shown(key)} has no queues made by mk.subscriptions.subscribe{where}: "
            "subscribe first, or name its queues with "
            "producers=[...] (the domains it subscribes to) or queue_arns=[...]"
        )
    return arns


def platform_admin_policy(
    *, account: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """The platform team's policy: run the mesh's buses, rules and queues, and nothing else.

    Even the administrators' policy names its actions: ``events:*`` would also grant archives,
    replays, API destinations and connections, which the mesh does not use.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.platform_admin_policy(account="123456789012", region="us-west-2")
    >>> [statement["Sid"] for statement in policy["Statement"]]
    ['AdministerBusesAndRules', 'AdministerQueues', 'ListAndGrant']
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
    """Who may assume a role: an AWS service (``lambda.amazonaws.com``) or an account.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.iam.trust_policy(account="222222222222")["Statement"][0]["Principal"]
    {'AWS': 'arn:aws:iam::222222222222:root'}
    """
    if (service is None) == (account is None):
        raise ValidationError(
            "give exactly one of service= (e.g. 'lambda.amazonaws.com') or account="
        )
    if service is not None:
        if not isinstance(service, str) or not _SERVICE.fullmatch(service):
            raise ValidationError(
                f"service {shown(service)} is not an AWS service principal: give its full name, "
                "e.g. 'lambda.amazonaws.com'"
            )
        principal = {"Service": service}
    else:
        principal = {"AWS": f"arn:aws:iam::{_account_id('account', account)}:root"}
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
    role another account assumes). Tagged like every meshkit resource. A role of that name that
    meshkit made for this domain is updated (trust policy and inline policy); any other role of
    that name is refused, never changed.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a purpose or role name IAM would refuse, or a policy that is not a dict.
    meshkit.exceptions.NotMeshkitResourceError
        When the role exists without meshkit's tags, or belongs to another domain.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.producer_policy("sales")  # doctest: +SKIP
    >>> mk.iam.create_domain_role("sales", "producer", policy)  # doctest: +SKIP
    'arn:aws:iam::123456789012:role/sales-producer'
    """
    key = domain_key(domain)
    if not isinstance(purpose, str) or not _IAM_NAME.fullmatch(purpose):
        raise ValidationError(
            f"purpose {shown(purpose)} names the role and its inline policy: use letters, digits "
            "and '+=,.@_-' only, e.g. 'producer'"
        )
    name = _iam_name("role name", f"{key}-{purpose}")
    _policy_document("policy", policy)
    trust = _policy_document("trust", trust) if trust is not None else None
    iam = _aws.client("iam", boto3_session)
    trust = trust or trust_policy(service="lambda.amazonaws.com")
    try:
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"{key} domain: {purpose}",
            Tags=domain_tags(key),
        )["Role"]["Arn"]
    except ClientError as err:
        if error_code(err) != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        tags = {tag["Key"]: tag["Value"] for tag in iam.list_role_tags(RoleName=name)["Tags"]}
        check_owner(tags, what=f"role {name}", domain=key, fix="call it another purpose")
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        _logger.info("updated the trust policy of %s", arn)
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
        ``arn:aws:events:<region>:<account>:event-bus/<name>``.
    publisher_accounts : list of str
        12-digit accounts that may ``PutEvents`` on the bus (e.g. domain accounts forwarding to
        a central bus); a list even for one account.
    organization_id : str, optional
        Admit every account of this AWS Organization instead (``aws:PrincipalOrgID``), e.g.
        ``"o-a1b2c3d4e5"``.
    sources : list of str
        The ``events:source`` values admitted, matched literally; give them, or an
        organization, or the linter complains: without either, an admitted account may publish
        in any domain's name.
    rule_accounts : list of str
        12-digit accounts that may create rules (subscriptions) on the bus, each only rules it
        owns (``events:creatorAccount``).

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a string where a list is expected, an account id that is not 12 digits, an
        organization id that is not ``o-`` and 10 to 32 letters or digits, a bus name where its
        ARN is expected, or no one admitted at all.

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = "arn:aws:events:us-west-2:111111111111:event-bus/MeshCentralBus"
    >>> policy = mk.iam.bus_policy(bus, publisher_accounts=["222222222222"],
    ...                            sources=["sales.domain"])
    >>> [statement["Sid"] for statement in policy["Statement"]]
    ['PutEventsFrom222222222222']
    """
    region, account, bus = _split_bus_arn(bus_arn)
    publishers = sorted(set(_account_ids("publisher_accounts", publisher_accounts)))
    rule_owners = sorted(set(_account_ids("rule_accounts", rule_accounts)))
    sources = sorted(set(_sources(sources)))
    if organization_id is not None and (
        not isinstance(organization_id, str) or not _ORGANIZATION.fullmatch(organization_id)
    ):
        raise ValidationError(
            f"organization_id {shown(organization_id)} is not an AWS Organizations id: a string, "
            "'o-' followed by 10 to 32 lower-case letters or digits (Organizations console, or "
            "aws organizations describe-organization)"
        )
    statements: list[dict[str, Any]] = []
    condition: dict[str, Any] = {}
    if sources:
        condition["StringEquals"] = {"events:source": sources}
    for publisher in publishers:
        statements.append(
            {
                "Sid": f"PutEventsFrom{publisher}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{publisher}:root"},
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
    for rule_account in rule_owners:
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


# The Sids bus_policy writes: statements with them on a bus are meshkit's to replace.
_MESHKIT_SID = re.compile(r"PutEventsFrom(\d{12}|Organization)|ManageOwnRulesOf\d{12}")


class ForeignStatementsError(NotMeshkitResourceError):
    """A bus's policy holds statements meshkit did not write; ``sids`` lists them."""

    def __init__(self, message: str, sids: list[str]) -> None:
        super().__init__(message)
        self.sids = sids


def attach_bus_policy(
    bus: str,
    policy: Policy,
    *,
    merge: bool = False,
    replace: bool = False,
    boto3_session: boto3.Session | None = None,
) -> dict[str, Any]:
    """Set a meshkit bus's resource policy (``PutPermission`` with a whole policy document).

    The bus must be meshkit's (tagged; ``mk.buses.create_domain_bus(..., adopt=True)`` adopts
    one). Statements already on the bus that meshkit wrote (the Sids ``bus_policy`` gives, or
    identical to one in ``policy``) are replaced by ``policy``. Statements someone else wrote
    are never dropped silently: the call refuses, naming their Sids, unless ``merge=True``
    (keep them beside ``policy``'s) or ``replace=True`` (drop them). What changed is logged.

    moto stores the policy and returns it from ``describe_event_bus`` but never enforces it.

    Parameters
    ----------
    bus : str
        The bus's name.
    policy : dict
        A resource policy; every statement has a ``Sid`` (``RemovePermission`` needs it) and a
        ``Principal``.
    merge, replace : bool, default False
        What to do with other people's statements: keep them, or drop them.
    boto3_session : boto3.Session, optional

    Returns
    -------
    dict
        The policy now on the bus.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a policy that is not a dict of statements with Sids and Principals.
    meshkit.exceptions.NotMeshkitResourceError
        When the bus has no meshkit tags.
    meshkit.iam.ForeignStatementsError
        When the bus's policy has statements meshkit did not write, and neither ``merge`` nor
        ``replace`` is set.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("sales")  # doctest: +SKIP
    >>> policy = mk.iam.bus_policy(arn, publisher_accounts=["222222222222"],
    ...                            sources=["sales.domain"])  # doctest: +SKIP
    >>> mk.iam.attach_bus_policy("SalesEventBus", policy)["Statement"][0]["Sid"]  # doctest: +SKIP
    'PutEventsFrom222222222222'
    """
    bus = validate_bus_name(bus)
    new = _bus_policy_statements(policy)
    if merge and replace:
        raise ValidationError(
            "give merge=True (keep others' statements) or replace=True (drop them), not both"
        )
    events = _aws.client("events", boto3_session)
    described = events.describe_event_bus(Name=bus)
    tags = {
        tag["Key"]: tag["Value"]
        for tag in events.list_tags_for_resource(ResourceARN=described["Arn"])["Tags"]
    }
    if tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"event bus {bus} has no {WORKBOOK_TAG}=true tag: meshkit did not create it and "
            f"will not set its policy; adopt it first with mk.buses.create_domain_bus('<domain>', "
            f"name={shown(bus)}, adopt=True), or set its policy yourself (events.put_permission)"
        )
    old = _statements(json.loads(described["Policy"])) if described.get("Policy") else []
    theirs = [s for s in old if not _MESHKIT_SID.fullmatch(str(s.get("Sid", ""))) and s not in new]
    their_sids = [str(s.get("Sid", "(no Sid)")) for s in theirs]
    if theirs and not (merge or replace):
        raise ForeignStatementsError(
            f"the policy of bus {bus} has statements meshkit did not write: "
            f"{', '.join(their_sids)}; pass merge=True to keep them beside yours, or "
            "replace=True to drop them",
            their_sids,
        )
    kept = theirs if merge else []
    clash = sorted({s.get("Sid") for s in kept} & {s["Sid"] for s in new})
    if clash:
        raise ForeignStatementsError(
            f"statements {', '.join(clash)} of bus {bus} were written by someone else and your "
            "policy reuses their Sids: rename yours, or pass replace=True to drop theirs",
            clash,
        )
    document = {"Version": VERSION, "Statement": [*kept, *new]}
    events.put_permission(EventBusName=bus, Policy=json.dumps(document))
    # AWS stores the document as given; moto adds it to what is there: remove what is left over.
    stored = events.describe_event_bus(Name=bus).get("Policy")
    wanted = {s.get("Sid") for s in document["Statement"]}
    for leftover in _statements(json.loads(stored)) if stored else []:
        if leftover.get("Sid") and leftover["Sid"] not in wanted:
            events.remove_permission(EventBusName=bus, StatementId=leftover["Sid"])
    _log_policy_change(bus, old, new, kept, [] if merge else theirs)
    return document


def _bus_policy_statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a bus policy, checked: each a dict with a unique Sid and a Principal."""
    statements = _statements(_policy_document("policy", policy))
    for index, statement in enumerate(statements, start=1):
        if not isinstance(statement, Mapping):
            raise ValidationError(
                f"policy statement #{index} is a {type(statement).__name__}, not a dict"
            )
        sid = statement.get("Sid")
        if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", sid):
            raise ValidationError(
                f"policy statement #{index} has Sid {shown(sid)}: EventBridge removes statements "
                "by their Sid, so each needs one of 1 to 64 letters, digits, '-' or '_'"
            )
        if "Principal" not in statement:
            raise ValidationError(
                f"policy statement #{index} ({sid}) has no Principal: a bus policy says who "
                "may use the bus, e.g. {'AWS': 'arn:aws:iam::222222222222:root'}"
            )
    sids = [statement["Sid"] for statement in statements]
    if len(set(sids)) != len(sids):
        raise ValidationError(f"policy repeats a Sid ({sids}): give each statement its own")
    return [dict(statement) for statement in statements]


def _log_policy_change(
    bus: str,
    old: list[Mapping[str, Any]],
    new: list[dict[str, Any]],
    kept: list[Mapping[str, Any]],
    dropped: list[Mapping[str, Any]],
) -> None:
    before = {s.get("Sid"): s for s in old}
    new_sids = {s["Sid"] for s in new}
    changes = [f"added {s['Sid']}" for s in new if s["Sid"] not in before]
    changes += [f"changed {s['Sid']}" for s in new if before.get(s["Sid"], s) != s]
    changes += [
        f"removed {sid}"
        for sid in before
        if sid not in new_sids and _MESHKIT_SID.fullmatch(str(sid))
    ]
    changes += [f"kept {s.get('Sid')} (not meshkit's)" for s in kept]
    if changes:
        _logger.info("policy of bus %s: %s", bus, "; ".join(changes))
    if dropped:
        _logger.warning(
            "policy of bus %s: dropped %s (not meshkit's; replace=True)",
            bus,
            ", ".join(str(s.get("Sid")) for s in dropped),
        )


# -- helpers ------------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
_IAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_QUEUE_ARN = re.compile(
    r"arn:aws[a-z-]*:sqs:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:[\w-]{1,80}(\.fifo)?"
)
_QUEUE_EXAMPLE = "arn:aws:sqs:us-west-2:123456789012:marketing-sales"


def _list(field: str, value: Any, *, example: str) -> list[Any]:
    """A list-valued argument: refuse a lone string (its characters would become the items)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{field} takes a list of strings, not a {type(value).__name__} ({shown(value, 60)}): "
            f"write {field}=[{example!r}], a list even for one"
        )
    return list(value)


def _strings(field: str, value: Any, *, example: str) -> list[str]:
    items = _list(field, value, example=example)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValidationError(
                f"{field}[{index}] is {shown(item)}, a {type(item).__name__}: give a string, e.g. "
                f"{example!r}"
            )
    return items


def _account_id(field: str, value: Any) -> str:
    if isinstance(value, str) and _ACCOUNT.fullmatch(value):
        return value
    hint = " as a string (an int loses leading zeros)" if isinstance(value, int) else ""
    raise ValidationError(
        f"{field} {shown(value)} is not an AWS account id: give its 12 digits{hint}, e.g. "
        "'111122223333'"
    )


def _account_ids(field: str, value: Any) -> list[str]:
    accounts = _list(field, value, example="111122223333")
    return [_account_id(f"{field}[{index}]", account) for index, account in enumerate(accounts)]


def _sources(value: Any) -> list[str]:
    sources = _strings("sources", value, example="sales.domain")
    for index, source in enumerate(sources):
        if not source:
            raise ValidationError(f"sources[{index}] is empty: give a source, e.g. 'sales.domain'")
        if len(source) > 256:
            raise ValidationError(
                f"sources[{index}] has {len(source)} characters; an event's Source has at most "
                "256: shorten it"
            )
        if "*" in source or "?" in source:
            raise ValidationError(
                f"sources[{index}] is {shown(source)}, but StringEquals matches literally (no "
                "wildcards): list each source, e.g. ['sales.domain', 'sales.returns']"
            )
    return sources


def _domain_field(field: str, value: str) -> str:
    try:
        return domain_key(value)
    except ValidationError as err:
        raise ValidationError(f"{field}: {err}") from None


def _queue_arn(field: str, value: str) -> str:
    if "*" in value or "?" in value:
        raise ValidationError(
            f"{field} {shown(value)} has a wildcard, which may cover other domains' queues "
            "(sales-* covers sales-ops-marketing): name each queue, or use producers=[...]"
        )
    if not _QUEUE_ARN.fullmatch(value):
        raise ValidationError(
            f"{field} {shown(value)} is not a queue ARN: arn:aws:sqs:<region>:<account>:<queue "
            f"name>, e.g. {_QUEUE_EXAMPLE!r} (Subscription.queue_arn)"
        )
    return value


def _iam_name(field: str, name: Any) -> str:
    if not isinstance(name, str) or len(name) > 64 or not _IAM_NAME.fullmatch(name):
        raise ValidationError(
            f"{field} {shown(name)} breaks IAM's rule: 1 to 64 letters, digits or '+=,.@_-'; "
            "choose a shorter or plainer one"
        )
    return name


def _policy_document(field: str, value: Any) -> Policy:
    if not isinstance(value, Mapping) or not isinstance(value.get("Statement"), (list, Mapping)):
        raise ValidationError(
            f"{field} must be a policy: a dict with a Statement list, not a "
            f"{type(value).__name__} ({shown(value, 60)}); json.loads a policy kept as text"
        )
    problem = _evaluator.unreadable(value)
    if problem:  # json.dumps would fail on it, after earlier calls to AWS
        raise ValidationError(f"{field}: {problem}")
    return value


def _account_region(account: str | None, region: str | None) -> tuple[str, str]:
    if account is None or region is None:
        current = sandbox.current()
        if current is None:
            raise TargetError(
                "give account= and region=, or call mk.sandbox.start() so meshkit knows them"
            )
        account = account or current.account_id
        region = region or current.region
    return _account_id("account", account), _region_name(region)


def _region_name(region: Any) -> str:
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValidationError(f"region {shown(region)} is not an AWS region: e.g. 'us-west-2'")
    return region


def _bus_arn(name: str, account: str | None, region: str | None) -> str:
    account, region = _account_region(account, region)
    return f"arn:aws:events:{region}:{account}:event-bus/{name}"


def _split_bus_arn(arn: str) -> tuple[str, str, str]:
    match = isinstance(arn, str) and re.fullmatch(
        r"arn:aws[a-z-]*:events:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):event-bus/([.\-\w]{1,256})",
        arn,
        re.ASCII,
    )
    if not match:
        raise ValidationError(
            f"bus_arn {shown(arn)} is not an event bus ARN: "
            "arn:aws:events:<region>:<account>:event-bus/<name>, as create_domain_bus returns"
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
    ``meshkit._evaluator.SUPPORTED_OPERATORS``, with ``ForAllValues:``/``ForAnyValue:``; any
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
    for field, value in (("actions", actions), ("resources", resources)):
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise ValidationError(f"{field} must be a list of strings, not {shown(value)}")
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


# -- lint ---------------------------------------------------------------------------------------

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
        statements = _statements(policy)
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


# -- enforcement (embedded AWS) -----------------------------------------------------------------

ACCESS_KEY_TAG = "meshkit:access-key"  # on a user: the access key meshkit made for it
_MAX_ACCESS_KEYS = 2  # per IAM user (IAM quotas)


@contextmanager
def enforcement(
    users: Mapping[str, Policy], *, boto3_session: boto3.Session | None = None
) -> Iterator[dict[str, boto3.Session]]:
    """Switch on the embedded AWS's IAM enforcement for a block, with one IAM user per entry.

    Before the block, each user is created (or, if meshkit created it, updated) with its policy
    inline and an access key of its own; inside it, every request must be signed by one of these
    users and is checked against its policy; after it (even on error) enforcement is off again
    and the access keys meshkit made are deleted. A user meshkit did not create is refused, and
    access keys someone else made for a meshkit user are never touched.

    What moto enforces, and what not: the action always; the resource for SQS (queue ARNs) but
    not for EventBridge, where it treats every resource as ``*`` (a resource-scoped Allow is
    refused everywhere, a resource-scoped Deny ignored); never conditions, never resource
    policies. ``check_access`` explains the rest.

    Parameters
    ----------
    users : dict of user name -> policy
        IAM user names (up to 64 letters, digits or ``+=,.@_-``) and their identity policies.
    boto3_session : boto3.Session, optional

    Yields
    ------
    dict of name -> boto3.Session
        A session per user, for ``boto3_session=`` or ``session.client(...)``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For ``users`` that is not a dict of user names and policies.
    meshkit.exceptions.NotMeshkitResourceError
        When a user of that name exists without meshkit's tag.
    meshkit.exceptions.TargetError
        Outside the embedded AWS.

    Examples
    --------
    >>> import meshkit as mk
    >>> with mk.iam.enforcement({"sales-producer": policy}) as sessions:  # doctest: +SKIP
    ...     mk.events.publish("SalesEventBus", events, boto3_session=sessions["sales-producer"])
    """
    users = _enforcement_users(users)
    target = _aws.target()
    if target.mode != "embedded":
        raise TargetError(
            "enforcement() switches the embedded AWS's IAM checks on; AWS always enforces IAM: "
            "use sessions of real roles (mk.iam.create_domain_role, then sts.assume_role)"
        )
    iam = _aws.client("iam", boto3_session)
    made: dict[str, str] = {}  # user -> the access key meshkit made for this block
    try:
        sessions = {
            name: _user_session(iam, name, policy, target.region, made)
            for name, policy in users.items()
        }
        sandbox.post_moto_api(target.endpoint_url, "/moto-api/reset-auth", b"0")
        _logger.info("IAM enforcement on for %s", ", ".join(sessions))
        try:
            yield sessions
        finally:
            sandbox.post_moto_api(target.endpoint_url, "/moto-api/reset-auth", b"inf")
            _logger.info("IAM enforcement off")
    finally:
        _delete_access_keys(iam, made)


def _enforcement_users(users: Any) -> dict[str, Policy]:
    if not isinstance(users, Mapping):
        raise ValidationError(
            f"users takes a dict of user name -> policy, not a {type(users).__name__} "
            f"({shown(users, 60)}): e.g. {{'sales-producer': mk.iam.producer_policy('sales')}}"
        )
    for name, policy in users.items():
        _iam_name("user name", name)
        _policy_document(f"users[{shown(name)}]", policy)
    return dict(users)


def _user_session(
    iam: Any, name: str, policy: Policy, region: str, made: dict[str, str]
) -> boto3.Session:
    try:
        iam.create_user(UserName=name, Tags=[{"Key": WORKBOOK_TAG, "Value": "true"}])
    except ClientError as err:
        if error_code(err) != "EntityAlreadyExists":
            raise
        tags = {tag["Key"]: tag["Value"] for tag in iam.list_user_tags(UserName=name)["Tags"]}
        if tags.get(WORKBOOK_TAG) != "true":
            raise NotMeshkitResourceError(
                f"IAM user {name} exists but meshkit did not create it (no {WORKBOOK_TAG}=true "
                "tag), so meshkit will neither replace its policy nor touch its access keys: "
                "give enforcement() another user name"
            ) from None
        keys = [
            key["AccessKeyId"] for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        ]
        if tags.get(ACCESS_KEY_TAG) in keys:  # left by a block that never ended (a killed kernel)
            iam.delete_access_key(UserName=name, AccessKeyId=tags[ACCESS_KEY_TAG])
            keys.remove(tags[ACCESS_KEY_TAG])
        if len(keys) >= _MAX_ACCESS_KEYS:
            raise MeshkitError(
                f"IAM user {name} has {len(keys)} access keys meshkit did not create, and IAM "
                f"allows {_MAX_ACCESS_KEYS} per user: delete one of {', '.join(keys)} yourself, "
                "or give enforcement() another user name"
            ) from None
    iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    made[name] = key["AccessKeyId"]
    iam.tag_user(UserName=name, Tags=[{"Key": ACCESS_KEY_TAG, "Value": key["AccessKeyId"]}])
    return boto3.Session(
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        region_name=region,
    )


def _delete_access_keys(iam: Any, made: Mapping[str, str]) -> None:
    """Delete the access keys meshkit made, and only those."""
    for name, key_id in made.items():
        try:
            iam.delete_access_key(UserName=name, AccessKeyId=key_id)
            iam.untag_user(UserName=name, TagKeys=[ACCESS_KEY_TAG])
        except ClientError as err:  # the next enforcement() deletes it (the user's tag says which)
            _logger.warning("access key %s of IAM user %s not deleted: %s", key_id, name, err)
