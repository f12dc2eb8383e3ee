"""A map of the live mesh: buses, rules, targets, queues, dead-letter queues, policies and tags,
read from AWS into one model, drawn as a picture and returned as DataFrames.

``discover()`` reads what exists, whoever made it (the linter needs to see what meshkit did not
make), in the session's account and in any other account's session given. Rules that AWS
services manage (an archive's ``Events-Archive-*`` rule, rules of AWS services) are left out:
nobody in the mesh owns them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import DOMAIN_TAG, OWNER_TAG, WORKBOOK_TAG, error_code, paged, session_account
from ..buses import bus_domain
from ..exceptions import ValidationError

__all__ = [
    "QUEUE_SETTINGS", "Archive", "Bus", "Mesh", "Queue", "Rule", "Target", "arn_part", "discover",
]  # fmt: skip

_ARN = re.compile(
    r"arn:[\w-]+:(?P<service>[\w-]+):(?P<region>[\w-]*):(?P<account>\d*):(?P<rest>.*)"
)


def arn_part(arn: str, part: str) -> str:
    """One part of an ARN: ``"service"``, ``"region"``, ``"account"`` or ``"rest"``.

    Parameters
    ----------
    arn : str
        Any ARN.
    part : str
        Which part.

    Returns
    -------
    str
        The part, or ``""`` when ``arn`` is not an ARN.

    Examples
    --------
    >>> from meshkit.mesh import arn_part
    >>> arn_part("arn:aws:sqs:us-west-2:123456789012:marketing-sales", "account")
    '123456789012'
    """
    if part not in _ARN.groupindex:
        raise ValidationError(f"part is {part!r}: use one of {', '.join(_ARN.groupindex)}")
    match = _ARN.fullmatch(arn) if isinstance(arn, str) else None
    return match.group(part) if match else ""


@dataclass(frozen=True)
class Target:
    """Where a rule sends what it matches.

    Attributes
    ----------
    id, arn : str
        The target's id on its rule, and the resource it delivers to.
    dead_letter_arn : str or None
        The SQS queue EventBridge sends an event to when delivery fails for good.
    retry_policy : dict or None
        ``MaximumRetryAttempts`` and ``MaximumEventAgeInSeconds``, when set.
    role_arn : str or None
        The role EventBridge assumes to deliver (needed for another account's bus).
    parameters : dict
        The target's other settings, as PutTargets takes them: ``SqsParameters`` (a FIFO
        queue's message group), ``Input``, ``InputPath``, ``InputTransformer``, ...

    Examples
    --------
    >>> from meshkit.mesh import Target
    >>> Target("q", "arn:aws:sqs:us-west-2:123456789012:marketing-sales").service
    'sqs'
    """

    id: str
    arn: str
    dead_letter_arn: str | None = None
    retry_policy: dict[str, int] | None = None
    role_arn: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def service(self) -> str:
        """The AWS service of the target's ARN (``"sqs"``, ``"events"``, ``"lambda"``, ...).

        Returns
        -------
        str
            ``""`` when the ARN is malformed.

        Examples
        --------
        >>> from meshkit.mesh import Target
        >>> Target("b", "arn:aws:events:us-west-2:444455556666:event-bus/Hub").service
        'events'
        """
        return arn_part(self.arn, "service")


@dataclass(frozen=True)
class Rule:
    """A rule on a bus, with its targets and tags.

    Attributes
    ----------
    arn, name, bus : str
        The rule's ARN, name and the name of its bus.
    pattern : str or None
        The event pattern (JSON), or None for a scheduled rule.
    state : str
        ``ENABLED`` or ``DISABLED`` (or another state AWS reports).
    tags : dict of str to str
    targets : tuple of Target
    description : str

    Examples
    --------
    >>> from meshkit.mesh import Rule
    >>> rule = Rule("arn:aws:events:us-west-2:123456789012:rule/SalesEventBus/audit",
    ...             "audit", "SalesEventBus", '{"source":["sales.domain"]}', "ENABLED")
    >>> rule.account, rule.domain
    ('123456789012', '')
    """

    arn: str
    name: str
    bus: str
    pattern: str | None
    state: str
    tags: dict[str, str] = field(default_factory=dict)
    targets: tuple[Target, ...] = ()
    description: str = ""

    @property
    def account(self) -> str:
        """The account the rule (and its bus) lives in.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Rule
        >>> Rule("arn:aws:events:us-west-2:123456789012:rule/B/r", "r", "B", None, "").account
        '123456789012'
        """
        return arn_part(self.arn, "account")

    @property
    def bus_arn(self) -> str:
        """The ARN of the rule's bus.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Rule
        >>> Rule("arn:aws:events:us-west-2:123456789012:rule/B/r", "r", "B", None, "").bus_arn
        'arn:aws:events:us-west-2:123456789012:event-bus/B'
        """
        return re.sub(r":rule/.*", f":event-bus/{self.bus}", self.arn)

    @property
    def domain(self) -> str:
        """The domain that owns the rule (its ``meshkit:domain`` tag), or ``""``.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Rule
        >>> Rule("arn:aws:events:us-west-2:1:rule/B/r", "r", "B", None, "",
        ...      tags={"meshkit:domain": "marketing"}).domain
        'marketing'
        """
        return self.tags.get(DOMAIN_TAG, "")


@dataclass(frozen=True)
class Bus:
    """An event bus, with its resource policy and tags.

    Attributes
    ----------
    arn, name : str
    policy : dict or None
        The bus's resource policy.
    tags : dict of str to str

    Examples
    --------
    >>> from meshkit.mesh import Bus
    >>> Bus("arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus", "SalesEventBus").domain
    'sales'
    """

    arn: str
    name: str
    policy: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def account(self) -> str:
        """The account the bus lives in.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Bus
        >>> Bus("arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus", "Sales").account
        '123456789012'
        """
        return arn_part(self.arn, "account")

    @property
    def domain(self) -> str:
        """The domain that owns the bus: its ``meshkit:domain`` tag, else read from its name.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Bus
        >>> Bus("arn:aws:events:us-west-2:1:event-bus/orders", "orders").domain
        'orders'
        """
        return self.tags.get(DOMAIN_TAG) or bus_domain(self.name)


@dataclass(frozen=True)
class Queue:
    """An SQS queue the mesh delivers to (a target or a dead-letter queue).

    Attributes
    ----------
    arn, url : str
    policy : dict or None
        The queue's resource policy.
    dead_letter_arn : str or None
        The queue's redrive target (its DLQ).
    max_receive_count : int or None
        Receives before SQS moves a message to the DLQ.
    tags : dict of str to str
    settings : dict of str to str
        Its attributes among ``QUEUE_SETTINGS`` (``VisibilityTimeout``, ``FifoQueue``, ...), as
        GetQueueAttributes answers them.

    Examples
    --------
    >>> from meshkit.mesh import Queue
    >>> Queue("arn:aws:sqs:us-west-2:123456789012:marketing-sales", "https://...").name
    'marketing-sales'
    """

    arn: str
    url: str
    policy: dict[str, Any] | None = None
    dead_letter_arn: str | None = None
    max_receive_count: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The queue's name (the last part of its ARN).

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Queue
        >>> Queue("arn:aws:sqs:us-west-2:1:fraud-sales-dlq", "").name
        'fraud-sales-dlq'
        """
        return self.arn.rsplit(":", 1)[-1]

    @property
    def account(self) -> str:
        """The account the queue lives in.

        Returns
        -------
        str

        Examples
        --------
        >>> from meshkit.mesh import Queue
        >>> Queue("arn:aws:sqs:us-west-2:444455556666:fraud-sales", "").account
        '444455556666'
        """
        return arn_part(self.arn, "account")


@dataclass(frozen=True)
class Archive:
    """An archive of a bus's events.

    Attributes
    ----------
    arn, name, bus_arn : str
    pattern : str or None
        Which events it keeps (JSON), or None for all.
    retention_days : int
        0 keeps events indefinitely.
    description : str

    Examples
    --------
    >>> from meshkit.mesh import Archive
    >>> Archive("arn:aws:events:us-west-2:1:archive/sales", "sales",
    ...         "arn:aws:events:us-west-2:1:event-bus/SalesEventBus", None, 7, "").retention_days
    7
    """

    arn: str
    name: str
    bus_arn: str
    pattern: str | None
    retention_days: int
    description: str


@dataclass(frozen=True)
class Mesh:
    """The live mesh of one or more accounts: what ``discover`` read.

    Attributes
    ----------
    buses, rules, queues, archives : tuple
        Sorted by ARN, so two reads of one mesh compare equal.
    accounts : tuple of str
        The accounts read.
    embedded : bool
        Read from the embedded AWS (moto), whose limits the linter then checks too.

    Examples
    --------
    >>> from meshkit.mesh import Mesh
    >>> Mesh().frames()["buses"].columns.tolist()
    ['bus', 'domain', 'account', 'owner', 'policy', 'arn']
    """

    buses: tuple[Bus, ...] = ()
    rules: tuple[Rule, ...] = ()
    queues: tuple[Queue, ...] = ()
    archives: tuple[Archive, ...] = ()
    accounts: tuple[str, ...] = ()
    embedded: bool = False

    def __post_init__(self) -> None:
        kinds = {"buses": Bus, "rules": Rule, "queues": Queue, "archives": Archive, "accounts": str}
        for name, kind in kinds.items():
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, kind) for v in value):
                raise ValidationError(
                    f"Mesh's {name} must be a tuple of {kind.__name__}, not {value!r:.60}"
                )

    def bus(self, arn: str) -> Bus | None:
        """The bus of that ARN, if the mesh holds it.

        Parameters
        ----------
        arn : str

        Returns
        -------
        Bus or None

        Examples
        --------
        >>> from meshkit.mesh import Mesh
        >>> print(Mesh().bus("arn:aws:events:us-west-2:1:event-bus/SalesEventBus"))
        None
        """
        return next((bus for bus in self.buses if bus.arn == arn), None)

    def queue(self, arn: str) -> Queue | None:
        """The queue of that ARN, if the mesh holds it.

        Parameters
        ----------
        arn : str

        Returns
        -------
        Queue or None

        Examples
        --------
        >>> from meshkit.mesh import Mesh
        >>> print(Mesh().queue("arn:aws:sqs:us-west-2:1:marketing-sales"))
        None
        """
        return next((queue for queue in self.queues if queue.arn == arn), None)

    def frames(self) -> dict[str, pd.DataFrame]:
        """The mesh as tables: ``buses``, ``subscriptions`` (one row per rule and target),
        ``queues`` and ``archives``.

        Returns
        -------
        dict of str to pandas.DataFrame

        Examples
        --------
        >>> from meshkit.mesh import Mesh
        >>> sorted(Mesh().frames())
        ['archives', 'buses', 'queues', 'subscriptions']
        """
        buses = [
            {
                "bus": bus.name,
                "domain": bus.domain,
                "account": bus.account,
                "owner": bus.tags.get(OWNER_TAG, ""),
                "policy": bus.policy is not None,
                "arn": bus.arn,
            }
            for bus in self.buses
        ]
        subscriptions = [
            {
                "rule": rule.name,
                "bus": rule.bus,
                "consumer": rule.domain,
                "target": target.arn.rsplit(":", 1)[-1],
                "service": target.service,
                "cross_account": arn_part(target.arn, "account") != rule.account,
                "dead_letter": (target.dead_letter_arn or "").rsplit(":", 1)[-1],
                "retries": (target.retry_policy or {}).get("MaximumRetryAttempts"),
                "pattern": rule.pattern or "",
                "state": rule.state,
            }
            for rule in self.rules
            for target in rule.targets or (Target("", ""),)
        ]
        queues = [
            {
                "queue": queue.name,
                "domain": queue.tags.get(DOMAIN_TAG, ""),
                "account": queue.account,
                "dead_letter": (queue.dead_letter_arn or "").rsplit(":", 1)[-1],
                "max_receive_count": queue.max_receive_count,
                "policy": queue.policy is not None,
            }
            for queue in self.queues
        ]
        archives = [
            {
                "archive": archive.name,
                "bus": archive.bus_arn.rsplit("/", 1)[-1],
                "retention_days": archive.retention_days,
                "pattern": archive.pattern or "",
            }
            for archive in self.archives
        ]
        return {
            "buses": pd.DataFrame(buses, columns=_BUS_COLUMNS),
            "subscriptions": pd.DataFrame(subscriptions, columns=_SUBSCRIPTION_COLUMNS).astype(
                {"retries": "Int64"}
            ),
            "queues": pd.DataFrame(queues, columns=_QUEUE_COLUMNS).astype(
                {"max_receive_count": "Int64"}
            ),
            "archives": pd.DataFrame(archives, columns=_ARCHIVE_COLUMNS),
        }

    def picture(self) -> str:
        """A Mermaid flowchart: each domain's bus and queues in a box (one box per account when
        there are several), an arrow per rule and target labelled with the rule, cross-account
        arrows thick, dead-letter queues dotted.

        Returns
        -------
        str
            Mermaid source; in a notebook, ``IPython.display.Markdown`` of it in a ``mermaid``
            fence draws it.

        Examples
        --------
        >>> from meshkit.mesh import Bus, Mesh
        >>> print(Mesh(buses=(Bus("arn:aws:events:us-west-2:1:event-bus/SalesEventBus",
        ...                      "SalesEventBus"),), accounts=("1",)).picture())
        flowchart LR
          subgraph d1["sales"]
            n0(["SalesEventBus"])
          end
        """
        ids: dict[str, str] = {}

        def node(arn: str) -> str:
            return ids.setdefault(arn, f"n{len(ids)}")

        groups: dict[tuple[str, str], list[str]] = {}
        for bus in self.buses:
            groups.setdefault((bus.account, bus.domain or bus.name), []).append(
                f'{node(bus.arn)}(["{_label(bus.name)}"])'
            )
        for queue in self.queues:
            domain = queue.tags.get(DOMAIN_TAG, "") or "(no domain tag)"
            groups.setdefault((queue.account, domain), []).append(
                f'{node(queue.arn)}[["{_label(queue.name)}"]]'
            )
        lines = ["flowchart LR"]
        accounts = sorted({account for account, _ in groups})
        for number, account in enumerate(accounts):
            indent = "  "
            if len(accounts) > 1:
                lines.append(f'  subgraph a{number}["account {account}"]')
                indent = "    "
            for (where, domain), members in sorted(groups.items()):
                if where == account:
                    lines.append(f'{indent}subgraph d{len(lines)}["{_label(domain)}"]')
                    lines += [f"{indent}  {member}" for member in members]
                    lines.append(f"{indent}end")
            if len(accounts) > 1:
                lines.append("  end")
        for rule in self.rules:
            for target in rule.targets:
                if target.arn not in ids:
                    lines.append(f'  {node(target.arn)}{{{{"{_label(_short(target.arn))}"}}}}')
                cross = arn_part(target.arn, "account") != rule.account
                arrow = "==>" if cross else "-->"
                lines.append(
                    f'  {node(rule.bus_arn)} {arrow}|"{_label(rule.name)}"| {node(target.arn)}'
                )
        for queue in self.queues:
            if queue.dead_letter_arn and queue.dead_letter_arn in ids:
                lines.append(f"  {node(queue.arn)} -.->|DLQ| {node(queue.dead_letter_arn)}")
        return "\n".join(lines)


_BUS_COLUMNS = ["bus", "domain", "account", "owner", "policy", "arn"]
_SUBSCRIPTION_COLUMNS = [
    "rule", "bus", "consumer", "target", "service", "cross_account", "dead_letter", "retries",
    "pattern", "state",
]  # fmt: skip
_QUEUE_COLUMNS = ["queue", "domain", "account", "dead_letter", "max_receive_count", "policy"]
_ARCHIVE_COLUMNS = ["archive", "bus", "retention_days", "pattern"]


def discover(
    *,
    other_accounts: Iterable[boto3.Session] = (),
    boto3_session: boto3.Session | None = None,
) -> Mesh:
    """Read the live mesh: buses, rules and targets, queues and DLQs, policies, tags, archives.

    Reads every custom bus of the account and Region (the ``default`` bus only when it has rules
    or a policy), every rule on them except rules AWS services manage, each rule's targets, the
    SQS queues that are targets or dead-letter queues (and their own DLQs), and every queue
    tagged ``meshkit:workbook``. Every list call is read to its last page.

    Parameters
    ----------
    other_accounts : iterable of boto3.Session, optional
        Sessions of further accounts (``mk.iam.assume_role``) whose mesh belongs to the same
        map; a queue in one of them that a rule targets is read with its own account's session.
    boto3_session : boto3.Session, optional
        The first account's session; default the current target's.

    Returns
    -------
    Mesh

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``other_accounts`` holds something that is not a boto3 session.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> sub = mk.subscriptions.subscribe("audit", bus="DoctestEventBus", pattern={"source": ["x"]})
    >>> mesh = mk.mesh.discover()
    >>> [rule.name for rule in mesh.rules if rule.bus == "DoctestEventBus"]
    ['audit-doctest']
    >>> mk.subscriptions.unsubscribe("audit", bus="DoctestEventBus")
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    sessions = [boto3_session, *_sessions(other_accounts)]
    by_account = {session_account(session): session for session in sessions}
    buses: list[Bus] = []
    rules: list[Rule] = []
    archives: list[Archive] = []
    queue_arns: set[str] = set()
    for session in by_account.values():
        events = _aws.client("events", session)
        for found in paged(events.list_event_buses, "EventBuses"):
            try:  # anything may be deleted while the mesh is read: it is then left out
                bus_rules = [r for r in map(partial(_rule, events), _rules(events, found)) if r]
            except ClientError as err:
                if not _gone(err):
                    raise
                continue
            if found["Name"] == "default" and not bus_rules and not found.get("Policy"):
                continue
            buses.append(_bus(events, found))
            rules += bus_rules
        listed = paged(events.list_archives, "Archives")
        archives += [a for a in map(partial(_archive, events), listed) if a]
        queue_arns |= _tagged_queues(_aws.client("sqs", session))
    for rule in rules:
        for target in rule.targets:
            queue_arns |= {a for a in (target.arn, target.dead_letter_arn) if a and _is_queue(a)}
    queues = _queues(queue_arns, by_account)
    return Mesh(
        buses=tuple(sorted(buses, key=lambda b: b.arn)),
        rules=tuple(sorted(rules, key=lambda r: r.arn)),
        queues=tuple(sorted(queues, key=lambda q: q.arn)),
        archives=tuple(sorted(archives, key=lambda a: a.arn)),
        accounts=tuple(sorted(by_account)),
        embedded=_aws.target().mode == "embedded",
    )


# -- reading -----------------------------------------------------------------------------------


def _sessions(other_accounts: Any) -> list[boto3.Session]:
    if isinstance(other_accounts, (str, bytes, boto3.Session)) or not isinstance(
        other_accounts, Iterable
    ):
        raise ValidationError(
            "other_accounts takes a list of boto3 sessions (one per further account, e.g. "
            f"[mk.iam.assume_role(...)]), not {type(other_accounts).__name__}"
        )
    sessions = list(other_accounts)
    wrong = [type(s).__name__ for s in sessions if not isinstance(s, boto3.Session)]
    if wrong:
        raise ValidationError(
            f"other_accounts holds {', '.join(wrong)}: give boto3 sessions, e.g. "
            "mk.iam.assume_role('arn:aws:iam::444455556666:role/platform')"
        )
    return sessions


def _rules(events: Any, bus: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = paged(events.list_rules, "Rules", EventBusName=bus["Name"])
    return [rule for rule in found if not rule.get("ManagedBy")]


_TARGET_FIELDS = {"Id", "Arn", "DeadLetterConfig", "RetryPolicy", "RoleArn"}
# A queue's settings, as CloudFormation's AWS::SQS::Queue names them (GetQueueAttributes too).
QUEUE_SETTINGS = (
    "ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
    "FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize",
    "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled",
    "VisibilityTimeout",
)  # fmt: skip


def _rule(events: Any, found: Mapping[str, Any]) -> Rule | None:
    bus = found.get("EventBusName", "default")
    try:
        targets = paged(
            events.list_targets_by_rule, "Targets", Rule=found["Name"], EventBusName=bus
        )
    except ClientError as err:
        if _gone(err):  # deleted since it was listed
            return None
        raise
    return Rule(
        arn=found["Arn"],
        name=found["Name"],
        bus=bus,
        pattern=found.get("EventPattern"),
        state=found.get("State", ""),
        description=found.get("Description", ""),
        tags=_tags(events.list_tags_for_resource, found["Arn"]),
        targets=tuple(
            Target(
                id=t["Id"],
                arn=t["Arn"],
                dead_letter_arn=t.get("DeadLetterConfig", {}).get("Arn"),
                retry_policy=t.get("RetryPolicy"),
                role_arn=t.get("RoleArn"),
                parameters={k: v for k, v in t.items() if k not in _TARGET_FIELDS},
            )
            for t in sorted(targets, key=lambda t: str(t["Id"]))
        ),
    )


def _bus(events: Any, found: Mapping[str, Any]) -> Bus:
    policy = found.get("Policy")
    return Bus(
        arn=found["Arn"],
        name=found["Name"],
        policy=json.loads(policy) if policy else None,
        tags=_tags(events.list_tags_for_resource, found["Arn"]),
    )


def _archive(events: Any, found: Mapping[str, Any]) -> Archive | None:
    try:
        described = events.describe_archive(ArchiveName=found["ArchiveName"])
    except ClientError as err:
        if _gone(err):  # deleted since it was listed
            return None
        raise
    return Archive(
        arn=described["ArchiveArn"],
        name=described["ArchiveName"],
        bus_arn=described["EventSourceArn"],
        pattern=described.get("EventPattern"),
        retention_days=int(described.get("RetentionDays", 0)),
        description=described.get("Description", ""),
    )


def _tags(call: Any, arn: str) -> dict[str, str]:
    try:
        return {tag["Key"]: tag["Value"] for tag in call(ResourceARN=arn)["Tags"]}
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":  # deleted while we read
            return {}
        raise


def _is_queue(arn: str) -> bool:
    return arn_part(arn, "service") == "sqs"


def _tagged_queues(sqs: Any) -> set[str]:
    found: set[str] = set()
    for url in paged(sqs.list_queues, "QueueUrls", MaxResults=1000):
        try:
            if sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(WORKBOOK_TAG) == "true":
                found.add(_queue_arn(sqs, url))
        except ClientError as err:
            if not _gone(err):  # deleted since it was listed
                raise
    return found


def _gone(err: ClientError) -> bool:
    """The resource was deleted, or never was: nothing to read, and no error to report."""
    code = error_code(err)
    return any(word in code for word in ("NotFound", "NonExistent", "DoesNotExist"))


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def _queues(arns: set[str], by_account: Mapping[str, boto3.Session | None]) -> list[Queue]:
    """The queues of those ARNs that exist in an account read, and the DLQs they name."""
    queues: dict[str, Queue] = {}
    pending = sorted(arns)
    while pending:
        arn = pending.pop()
        account = arn_part(arn, "account")
        if arn in queues or account not in by_account:
            continue
        sqs = _aws.client("sqs", by_account[account])
        try:
            url = sqs.get_queue_url(
                QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=account
            )["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        except ClientError as err:
            if _gone(err):  # a target whose queue is gone, or went while we read
                continue
            raise
        attributes = attributes.get("Attributes", {})
        redrive = json.loads(attributes.get("RedrivePolicy", "null")) or {}
        policy = attributes.get("Policy")
        queue = Queue(
            arn=arn,
            url=url,
            policy=json.loads(policy) if policy else None,
            dead_letter_arn=redrive.get("deadLetterTargetArn"),
            max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
            tags=tags,
            settings={k: v for k, v in attributes.items() if k in QUEUE_SETTINGS},
        )
        queues[arn] = queue
        if queue.dead_letter_arn:
            pending.append(queue.dead_letter_arn)
    return list(queues.values())


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _short(arn: str) -> str:
    """A target's name for the picture: ``lambda: handler`` from its ARN."""
    service = arn_part(arn, "service") or "?"
    return f"{service}: {re.split(r'[:/]', arn)[-1]}"
