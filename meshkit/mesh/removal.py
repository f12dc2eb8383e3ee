"""Teardown: everything meshkit created, found by its tag, removed in dependency order, with a
dry run first and a check afterwards; nothing without meshkit's tag is ever touched.

"meshkit created it" means the tag ``meshkit:workbook=true``. A resource meshkit adopted
(``meshkit:adopted=true``: it existed before) is released, its meshkit tags removed, not deleted.
Archives cannot be tagged: an archive is meshkit's when its description says so
(``mk.mesh.create_archive`` writes it; ``mk.mesh.archive_owner`` reads it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from .. import _aws
from .._shared import ADOPTED_TAG, DOMAIN_TAG, OWNER_TAG, WORKBOOK_TAG, error_code, paged
from ..exceptions import MeshkitError, ValidationError
from .archives import archive_owner

__all__ = ["TeardownError", "TeardownReport", "teardown"]

_MESHKIT_TAGS = [WORKBOOK_TAG, DOMAIN_TAG, OWNER_TAG, ADOPTED_TAG]
_COLUMNS = ["step", "kind", "resource", "action", "status"]


class TeardownError(MeshkitError):
    """Teardown stopped part-way; ``report`` says what was removed, and what remains."""

    def __init__(self, message: str, report: TeardownReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class TeardownReport:
    """What teardown did (or, in a dry run, would do), and what tagged resources remain.

    Attributes
    ----------
    actions : pandas.DataFrame
        One row per resource: ``step`` (the order), ``kind``, ``resource``, ``action``
        (``delete``, ``release`` for an adopted one, or ``keep: <why>``) and ``status``
        (``would`` in a dry run, ``done``, ``gone`` when it vanished meanwhile, ``kept``,
        ``with its stack`` for what a stack deleted with itself, or ``failed: <why>``).
    remaining : pandas.DataFrame
        Resources still tagged ``meshkit:workbook=true`` after the run (``kind``,
        ``resource``); in a dry run, everything found.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> report = mk.mesh.teardown(dry_run=True)
    >>> actions = report.actions
    >>> ours = actions[actions["resource"].str.endswith("/DoctestEventBus")]
    >>> print(ours[["kind", "action", "status"]].to_string(index=False))
         kind action status
    event bus delete  would
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """

    actions: pd.DataFrame
    remaining: pd.DataFrame

    @property
    def clean(self) -> bool:
        """True when nothing tagged ``meshkit:workbook=true`` remains.

        Returns
        -------
        bool

        Examples
        --------
        >>> import pandas as pd
        >>> from meshkit.mesh import TeardownReport
        >>> TeardownReport(pd.DataFrame(), pd.DataFrame()).clean
        True
        """
        return self.remaining.empty


def teardown(*, dry_run: bool = True, boto3_session: boto3.Session | None = None) -> TeardownReport:
    """Remove everything meshkit created in the account and Region, in dependency order.

    The order: CloudFormation stacks meshkit deployed (which remove their own resources), rules
    (targets first), archives, buses, queues, Kinesis streams, DynamoDB tables, Glue tables,
    databases and schema registries, S3 buckets (emptied first), IAM users and roles (their keys
    and policies first). Only resources tagged ``meshkit:workbook=true`` are touched. A meshkit
    bus that carries a rule without meshkit's tag is kept (EventBridge would delete that rule
    with the bus), as is a Glue database holding a table without the tag.

    Parameters
    ----------
    dry_run : bool, default True
        List what would go, and change nothing. Pass False to remove it.
    boto3_session : boto3.Session, optional
        The account to tear down.

    Returns
    -------
    TeardownReport
        ``report.clean`` is True when no tagged resource remains.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``dry_run`` is not a bool.
    TeardownError
        When the run is interrupted (Ctrl-C, a lost connection); its ``report`` says how far it
        got. A single resource that fails is recorded in the report and the run goes on.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("doctest")
    >>> report = mk.mesh.teardown(dry_run=True)
    >>> "arn:aws:events:us-west-2:123456789012:event-bus/DoctestEventBus" in set(
    ...     report.remaining["resource"])
    True
    >>> mk.buses.delete_domain_bus("doctest")
    True
    """
    if not isinstance(dry_run, bool):
        raise ValidationError(f"dry_run must be True or False, not {dry_run!r}")
    clients = _Clients(boto3_session)
    rows: list[dict[str, Any]] = []
    try:
        made_by_stacks = _made_by_stacks(clients)
        for step, (kind, scan, remove) in enumerate(_KINDS, start=1):
            for found in scan(clients):
                action = found.action
                stack = made_by_stacks.get((kind, found.name))
                if stack is not None and kind != "CloudFormation stack":
                    action = f"with its stack {stack}"  # deleting the stack deletes it
                row = {"step": step, "kind": kind, "resource": found.resource,
                       "action": action, "status": "would" if dry_run else ""}  # fmt: skip
                rows.append(row)
                if not dry_run and action in ("delete", "release"):
                    row["status"] = _attempt(remove, clients, found)
                elif not dry_run:
                    row["status"] = "kept" if action.startswith("keep") else "with its stack"
    except (KeyboardInterrupt, ClientError, BotoCoreError, OSError) as err:
        report = TeardownReport(pd.DataFrame(rows, columns=_COLUMNS), _remaining_or_why(clients))
        raise TeardownError(
            f"teardown stopped after {len(rows)} resource(s) ({type(err).__name__}: {err}); "
            "run it again: it picks up what remains",
            report,
        ) from err
    return TeardownReport(pd.DataFrame(rows, columns=_COLUMNS), _remaining(clients))


# -- finding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    resource: str  # ARN, or name where a service has none handy
    action: str  # "delete", "release", or "keep: <why>"
    detail: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The resource's name as a template declares it (a rule's as ``<bus>/<rule>``)."""
        if "bus" in self.detail:
            return f"{self.detail['bus']}/{self.detail['name']}"
        return str(self.detail.get("name") or self.resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1])


class _Clients:
    def __init__(self, boto3_session: boto3.Session | None) -> None:
        self.session = boto3_session

    def __getattr__(self, service: str) -> Any:
        return _aws.client(service, self.session)


def _ours(tags: Mapping[str, str]) -> bool:
    return tags.get(WORKBOOK_TAG) == "true"


def _action(tags: Mapping[str, str]) -> str:
    return "release" if tags.get(ADOPTED_TAG) == "true" else "delete"


def _attempt(remove: _Remove, clients: _Clients, found: _Found) -> str:
    try:
        remove(clients, found)
    except ClientError as err:
        code = error_code(err)
        if "NotFound" in code or "NonExistent" in code or code == "NoSuchEntity":
            return "gone"
        return f"failed: {code}: {err.response.get('Error', {}).get('Message', '')}"
    return "done"


def _eventbridge_tags(events: Any, arn: str) -> dict[str, str]:
    try:
        return {
            t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=arn)["Tags"]
        }
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return {}
        raise


# A template's resource types, as teardown's kinds, with the property that names each.
_DECLARED = {
    "AWS::Events::Rule": ("rule", "Name"),
    "AWS::Events::Archive": ("archive", "ArchiveName"),
    "AWS::Events::EventBus": ("event bus", "Name"),
    "AWS::SQS::Queue": ("SQS queue", "QueueName"),
}


def _made_by_stacks(c: _Clients) -> dict[tuple[str, str], str]:
    """(kind, name) -> the meshkit stack whose template declares it (deleted with the stack)."""
    made: dict[tuple[str, str], str] = {}
    for found in _stacks(c):
        body = c.cloudformation.get_template(StackName=found.resource)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        resources = template.get("Resources", {})
        for resource in resources.values():
            kind, key = _DECLARED.get(resource.get("Type"), ("", ""))
            properties = resource.get("Properties", {})
            name = properties.get(key)
            if kind == "rule":  # a rule's name is unique on its bus only
                bus = properties.get("EventBusName", "default")
                if isinstance(bus, Mapping):  # Fn::GetAtt [<bus's logical id>, Name]
                    target = resources.get(bus.get("Fn::GetAtt", [""])[0], {})
                    bus = target.get("Properties", {}).get("Name")
                name = f"{bus}/{name}" if isinstance(bus, str) else None
            if kind and isinstance(name, str):
                made[(kind, name)] = found.detail["name"]
    return made


def _stacks(c: _Clients) -> Iterator[_Found]:
    for stack in paged(c.cloudformation.describe_stacks, "Stacks"):
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        if _ours(tags) and stack["StackStatus"] != "DELETE_COMPLETE":
            yield _Found(stack["StackId"], "delete", {"name": stack["StackName"]})


def _delete_stack(c: _Clients, found: _Found) -> None:
    c.cloudformation.delete_stack(StackName=found.detail["name"])
    c.cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=found.resource, WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )


def _buses(c: _Clients) -> list[dict[str, Any]]:
    return [b for b in paged(c.events.list_event_buses, "EventBuses") if b["Name"] != "default"]


def _rules(c: _Clients) -> Iterator[_Found]:
    for bus in [{"Name": "default"}, *_buses(c)]:
        for rule in paged(c.events.list_rules, "Rules", EventBusName=bus["Name"]):
            tags = _eventbridge_tags(c.events, rule["Arn"])
            if not rule.get("ManagedBy") and _ours(tags):
                detail = {"name": rule["Name"], "bus": bus["Name"], "tags": tags}
                yield _Found(rule["Arn"], _action(tags), detail)


def _delete_rule(c: _Clients, found: _Found) -> None:
    if found.action == "release":
        c.events.untag_resource(ResourceARN=found.resource, TagKeys=_present(found.detail["tags"]))
        return
    name, bus = found.detail["name"], found.detail["bus"]
    targets = paged(c.events.list_targets_by_rule, "Targets", Rule=name, EventBusName=bus)
    if targets:
        c.events.remove_targets(Rule=name, EventBusName=bus, Ids=[t["Id"] for t in targets])
    c.events.delete_rule(Name=name, EventBusName=bus)


def _archives(c: _Clients) -> Iterator[_Found]:
    for archive in paged(c.events.list_archives, "Archives"):
        described = c.events.describe_archive(ArchiveName=archive["ArchiveName"])
        if archive_owner(described.get("Description")):
            yield _Found(described["ArchiveArn"], "delete", {"name": archive["ArchiveName"]})


def _delete_archive(c: _Clients, found: _Found) -> None:
    c.events.delete_archive(ArchiveName=found.detail["name"])


def _event_buses(c: _Clients) -> Iterator[_Found]:
    for bus in _buses(c):
        tags = _eventbridge_tags(c.events, bus["Arn"])
        if not _ours(tags):
            continue
        action = _action(tags)
        others = [
            rule["Name"]
            for rule in paged(c.events.list_rules, "Rules", EventBusName=bus["Name"])
            if not rule.get("ManagedBy") and not _ours(_eventbridge_tags(c.events, rule["Arn"]))
        ]
        theirs = [
            archive["ArchiveName"]
            for archive in paged(c.events.list_archives, "Archives", EventSourceArn=bus["Arn"])
            if not archive_owner(
                c.events.describe_archive(ArchiveName=archive["ArchiveName"]).get("Description")
            )
        ]
        if others and action == "delete":
            action = (
                f"keep: carries rule(s) {', '.join(others)} without meshkit's tag, which "
                "EventBridge would delete with the bus"
            )
        elif theirs and action == "delete":
            action = f"keep: archive(s) {', '.join(theirs)} without meshkit's mark archive it"
        yield _Found(bus["Arn"], action, {"name": bus["Name"], "tags": tags})


def _remove_bus(c: _Clients, found: _Found) -> None:
    if found.action == "release":
        c.events.untag_resource(ResourceARN=found.resource, TagKeys=_present(found.detail["tags"]))
        return
    c.events.delete_event_bus(Name=found.detail["name"])  # meshkit's archives went in step 3


def _queues(c: _Clients) -> Iterator[_Found]:
    for url in paged(c.sqs.list_queues, "QueueUrls", MaxResults=1000):
        tags = c.sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        if _ours(tags):
            attributes = c.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arn = attributes["Attributes"]["QueueArn"]
            yield _Found(arn, _action(tags), {"url": url, "tags": tags})


def _remove_queue(c: _Clients, found: _Found) -> None:
    url = found.detail["url"]
    if found.action == "release":
        c.sqs.untag_queue(QueueUrl=url, TagKeys=_present(found.detail["tags"]))
    else:
        c.sqs.delete_queue(QueueUrl=url)


def _streams(c: _Clients) -> Iterator[_Found]:
    for name in paged(c.kinesis.list_streams, "StreamNames"):
        tags = {
            t["Key"]: t["Value"]
            for t in c.kinesis.list_tags_for_stream(StreamName=name).get("Tags", [])
        }
        if _ours(tags):
            yield _Found(name, _action(tags), {"tags": tags})


def _remove_stream(c: _Clients, found: _Found) -> None:
    if found.action == "release":
        c.kinesis.remove_tags_from_stream(
            StreamName=found.resource, TagKeys=_present(found.detail["tags"])
        )
    else:
        c.kinesis.delete_stream(StreamName=found.resource, EnforceConsumerDeletion=True)


def _tables(c: _Clients) -> Iterator[_Found]:
    for name in paged(c.dynamodb.list_tables, "TableNames"):
        arn = c.dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        tags = {
            t["Key"]: t["Value"]
            for t in c.dynamodb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
        }
        if _ours(tags):
            yield _Found(arn, _action(tags), {"name": name, "tags": tags})


def _remove_table(c: _Clients, found: _Found) -> None:
    if found.action == "release":
        c.dynamodb.untag_resource(
            ResourceArn=found.resource, TagKeys=_present(found.detail["tags"])
        )
    else:
        c.dynamodb.delete_table(TableName=found.detail["name"])


def _glue_arn(c: _Clients, rest: str) -> str:
    target = _aws.target()
    account = c.sts.get_caller_identity()["Account"]
    return f"arn:aws:glue:{target.region}:{account}:{rest}"


def _glue_tags(c: _Clients, arn: str) -> dict[str, str]:
    try:
        return dict(c.glue.get_tags(ResourceArn=arn).get("Tags", {}))
    except ClientError as err:
        if error_code(err) == "EntityNotFoundException":
            return {}
        raise


def _glue_tables(c: _Clients) -> Iterator[_Found]:
    for database in paged(c.glue.get_databases, "DatabaseList"):
        for table in paged(c.glue.get_tables, "TableList", DatabaseName=database["Name"]):
            arn = _glue_arn(c, f"table/{database['Name']}/{table['Name']}")
            tags = _glue_tags(c, arn)
            if _ours(tags):
                detail = {"database": database["Name"], "name": table["Name"], "tags": tags}
                yield _Found(arn, _action(tags), detail)


def _release_glue(c: _Clients, found: _Found) -> bool:
    """Untag an adopted Glue resource; True when it was one."""
    if found.action == "release":
        c.glue.untag_resource(
            ResourceArn=found.resource, TagsToRemove=_present(found.detail["tags"])
        )
    return found.action == "release"


def _delete_glue_table(c: _Clients, found: _Found) -> None:
    if not _release_glue(c, found):
        c.glue.delete_table(DatabaseName=found.detail["database"], Name=found.detail["name"])


def _glue_databases(c: _Clients) -> Iterator[_Found]:
    for database in paged(c.glue.get_databases, "DatabaseList"):
        arn = _glue_arn(c, f"database/{database['Name']}")
        tags = _glue_tags(c, arn)
        if not _ours(tags):
            continue
        others = [
            t["Name"]
            for t in paged(c.glue.get_tables, "TableList", DatabaseName=database["Name"])
            if not _ours(_glue_tags(c, _glue_arn(c, f"table/{database['Name']}/{t['Name']}")))
        ]
        action = _action(tags)
        if others and action == "delete":
            action = f"keep: holds table(s) {', '.join(others)} without meshkit's tag"
        yield _Found(arn, action, {"name": database["Name"], "tags": tags})


def _delete_glue_database(c: _Clients, found: _Found) -> None:
    if not _release_glue(c, found):
        c.glue.delete_database(Name=found.detail["name"])


def _registries(c: _Clients) -> Iterator[_Found]:
    try:
        registries = paged(c.glue.list_registries, "Registries")
    except ClientError:  # the embedded AWS answers list calls of the registry with errors
        return
    for registry in registries:
        tags = _glue_tags(c, registry["RegistryArn"])
        if _ours(tags):
            detail = {"name": registry["RegistryName"], "tags": tags}
            yield _Found(registry["RegistryArn"], _action(tags), detail)


def _delete_registry(c: _Clients, found: _Found) -> None:
    if not _release_glue(c, found):
        c.glue.delete_registry(RegistryId={"RegistryName": found.detail["name"]})


def _buckets(c: _Clients) -> Iterator[_Found]:
    for bucket in c.s3.list_buckets().get("Buckets", []):
        try:
            tag_set = c.s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
        except ClientError as err:
            if error_code(err) in ("NoSuchTagSet", "NoSuchBucket"):
                continue
            raise
        tags = {t["Key"]: t["Value"] for t in tag_set}
        if _ours(tags):
            yield _Found(f"arn:aws:s3:::{bucket['Name']}", _action(tags), {"name": bucket["Name"]})


def _remove_bucket(c: _Clients, found: _Found) -> None:
    name = found.detail["name"]
    if found.action == "release":
        tags = c.s3.get_bucket_tagging(Bucket=name)["TagSet"]
        kept = [t for t in tags if t["Key"] not in _MESHKIT_TAGS]
        if kept:
            c.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": kept})
        else:
            c.s3.delete_bucket_tagging(Bucket=name)
        return
    versions = c.s3.get_paginator("list_object_versions")
    for page in versions.paginate(Bucket=name):
        objects = [
            {"Key": o["Key"], "VersionId": o["VersionId"]}
            for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            c.s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True})
    c.s3.delete_bucket(Bucket=name)


def _iam_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _users(c: _Clients) -> Iterator[_Found]:
    for page in c.iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            tags = _iam_tags(c.iam.list_user_tags(UserName=user["UserName"]).get("Tags", []))
            if _ours(tags):
                yield _Found(user["Arn"], _action(tags), {"name": user["UserName"], "tags": tags})


def _delete_user(c: _Clients, found: _Found) -> None:
    name = found.detail["name"]
    if found.action == "release":
        c.iam.untag_user(UserName=name, TagKeys=_present(found.detail["tags"]))
        return
    for key in c.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        c.iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy in c.iam.list_user_policies(UserName=name)["PolicyNames"]:
        c.iam.delete_user_policy(UserName=name, PolicyName=policy)
    for policy in c.iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        c.iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
    c.iam.delete_user(UserName=name)


def _roles(c: _Clients) -> Iterator[_Found]:
    for page in c.iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            tags = _iam_tags(c.iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", []))
            if _ours(tags):
                yield _Found(role["Arn"], _action(tags), {"name": role["RoleName"], "tags": tags})


def _delete_role(c: _Clients, found: _Found) -> None:
    name = found.detail["name"]
    if found.action == "release":
        c.iam.untag_role(RoleName=name, TagKeys=_present(found.detail["tags"]))
        return
    for policy in c.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        c.iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in c.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        c.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    c.iam.delete_role(RoleName=name)


def _present(tags: Mapping[str, str]) -> list[str]:
    return [key for key in _MESHKIT_TAGS if key in tags]


_Scan = Callable[[_Clients], Iterator[_Found]]
_Remove = Callable[[_Clients, _Found], None]
_KINDS: list[tuple[str, _Scan, _Remove]] = [
    ("CloudFormation stack", _stacks, _delete_stack),
    ("rule", _rules, _delete_rule),
    ("archive", _archives, _delete_archive),
    ("event bus", _event_buses, _remove_bus),
    ("SQS queue", _queues, _remove_queue),
    ("Kinesis stream", _streams, _remove_stream),
    ("DynamoDB table", _tables, _remove_table),
    ("Glue table", _glue_tables, _delete_glue_table),
    ("Glue database", _glue_databases, _delete_glue_database),
    ("Glue schema registry", _registries, _delete_registry),
    ("S3 bucket", _buckets, _remove_bucket),
    ("IAM user", _users, _delete_user),
    ("IAM role", _roles, _delete_role),
]


def _remaining_or_why(c: _Clients) -> pd.DataFrame:
    """What remains, or, when it cannot be read either (the connection is gone), why not."""
    try:
        return _remaining(c)
    except (ClientError, BotoCoreError, OSError) as err:
        return pd.DataFrame(
            [{"kind": "unknown", "resource": f"not read again: {type(err).__name__}: {err}"}],
            columns=["kind", "resource"],
        )


def _remaining(c: _Clients) -> pd.DataFrame:
    rows = [
        {"kind": kind, "resource": found.resource} for kind, scan, _ in _KINDS for found in scan(c)
    ]
    return pd.DataFrame(rows, columns=["kind", "resource"])
