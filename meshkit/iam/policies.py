"""The mesh's policy documents: what each domain, the platform team and other accounts may do.

Identity policies (a domain's producer publishes its own events on its own bus, a consumer reads
its own queues, the platform team administers the mesh), the trust policy of a role, and a bus's
resource policy. Each function returns a document and changes nothing on AWS
(``mk.iam.create_domain_role`` and ``mk.iam.attach_bus_policy`` put them there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .. import _aws, sandbox
from .._shared import DOMAIN_TAG, WORKBOOK_TAG, error_code
from ..buses import bus_name, domain_key, validate_bus_name
from ..exceptions import NotFoundError, TargetError, ValidationError
from ._common import VERSION
from ._evaluator import shown

__all__ = [
    "DomainQueuesNotFoundError",
    "article_policy",
    "bus_policy",
    "consumer_policy",
    "platform_admin_policy",
    "producer_policy",
    "trust_policy",
]


class DomainQueuesNotFoundError(NotFoundError):
    """``consumer_policy`` looked for the domain's queues and found none: subscribe first, or
    name them (``producers=`` or ``queue_arns=``)."""


# -- identity policies --------------------------------------------------------------------------


def article_policy(
    *, account: str = "123456789012", region: str = "us-west-2", bus: str = "SalesEventBus"
) -> dict[str, Any]:
    """The article's policy, as written: publish and describe on ``SalesEventBus`` only.

    Parameters
    ----------
    account, region : str
        Where the bus is; the article's own by default.
    bus : str
        The bus's name.

    Returns
    -------
    dict
        The policy, one statement.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an account that is not 12 digits, a region or bus name AWS would refuse.

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

    Parameters
    ----------
    domain : str
        The producing domain, e.g. ``"sales"``.
    account, region : str, optional
        Where its bus is: 12 digits, and a region; default: the target's (``mk.sandbox.start()``).

    Returns
    -------
    dict
        The policy, statements ``PublishOwnEvents`` and ``DescribeOwnBus``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a domain, account or region AWS or the mesh would refuse.
    meshkit.exceptions.TargetError
        Without ``account`` or ``region`` when no target was started.

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
    DomainQueuesNotFoundError
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
        raise DomainQueuesNotFoundError(
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

    Parameters
    ----------
    account, region : str, optional
        Where the mesh is; default: the target's.

    Returns
    -------
    dict
        The policy, statements ``AdministerBusesAndRules``, ``AdministerQueues`` and
        ``ListAndGrant``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an account that is not 12 digits, or a region AWS does not have.
    meshkit.exceptions.TargetError
        Without ``account`` or ``region`` when no target was started.

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

    Parameters
    ----------
    service : str, optional
        A service principal, e.g. ``"lambda.amazonaws.com"``.
    account : str, optional
        A 12-digit account id, whose IAM policies then decide who in it may assume the role.

    Returns
    -------
    dict
        The trust policy, one ``sts:AssumeRole`` statement.

    Raises
    ------
    meshkit.exceptions.ValidationError
        Unless exactly one of ``service`` and ``account`` is given, and well-formed.

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

    Returns
    -------
    dict
        The policy, a statement per publishing account (``PutEventsFrom<account>``), one for the
        organization (``PutEventsFromOrganization``) and one per rule account
        (``ManageOwnRulesOf<account>``); ``attach_bus_policy`` puts it on the bus.

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


# -- helpers ------------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ORGANIZATION = re.compile(r"o-[a-z0-9]{10,32}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?")
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
