"""The mesh as code: the live mesh exported as CloudFormation, one stack per domain, checked with
cfn-lint, deployed with change sets, and checked again once deployed.

Each resource goes in the stack of the account it lives in: a bus, its policy, its archives and
the rules on it in the bus's domain; a queue, its DLQ and its policy in the consuming domain. A
reference to another domain's resource is built from a ``<Domain>AccountId`` parameter, so the
same templates deploy into one account (the workbook) or one account per domain.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from .. import _aws
from .._shared import ADOPTED_TAG, DOMAIN_TAG, WORKBOOK_TAG, error_code, logical_id, session_account
from ..exceptions import ConflictError, MeshkitError, NotMeshkitResourceError, ValidationError
from .model import Archive, Bus, Mesh, Queue, Rule, arn_part, discover

__all__ = [
    "EMBEDDED_SKIPS",
    "DeployError",
    "MeshStacks",
    "ToolMissingError",
    "check_deployed",
    "deploy_stacks",
    "export_stacks",
    "lint_stacks",
]

# Resource types the embedded AWS's CloudFormation reports CREATE_COMPLETE for without making
# them (the parity ledger, P27); bus tags it drops too.
EMBEDDED_SKIPS = frozenset(
    {"AWS::Events::EventBusPolicy", "AWS::SQS::QueuePolicy", "AWS::KinesisFirehose::DeliveryStream"}
)
_TEMPLATE_BODY_MAX = 51_200  # CloudFormation's TemplateBody limit in bytes; larger needs S3
_IN_PROGRESS_POLL_S = 0.5


class ToolMissingError(MeshkitError):
    """An optional tool meshkit needs for this is not installed."""


class DeployError(MeshkitError):
    """A stack did not deploy; ``results`` holds every stack's outcome so far."""

    def __init__(self, message: str, results: pd.DataFrame) -> None:
        super().__init__(message)
        self.results = results


@dataclass(frozen=True)
class MeshStacks:
    """CloudFormation templates of a mesh, one per domain.

    Attributes
    ----------
    templates : dict of str to dict
        Stack name -> template.
    domains : dict of str to str
        Stack name -> the domain it holds.
    accounts : dict of str to str
        Domain -> the account it was exported from (each ``<Domain>AccountId``'s default).
    notes : tuple of str
        What the export left out, and why.

    Examples
    --------
    >>> from meshkit.mesh import Mesh, export_stacks
    >>> export_stacks(Mesh()).templates
    {}
    """

    templates: dict[str, dict[str, Any]]
    domains: dict[str, str]
    accounts: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    def resources(self) -> pd.DataFrame:
        """Every declared resource: ``stack``, ``logical_id``, ``type``, ``name``.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> from meshkit.mesh import Mesh, export_stacks
        >>> export_stacks(Mesh()).resources().columns.tolist()
        ['stack', 'logical_id', 'type', 'name']
        """
        rows = [
            {"stack": stack, "logical_id": lid, "type": r["Type"], "name": _declared_name(r)}
            for stack, template in self.templates.items()
            for lid, r in template["Resources"].items()
        ]
        return pd.DataFrame(rows, columns=["stack", "logical_id", "type", "name"])

    def body(self, stack: str) -> str:
        """A stack's template as JSON text (what CloudFormation and cfn-lint read).

        Parameters
        ----------
        stack : str

        Returns
        -------
        str

        Raises
        ------
        meshkit.exceptions.ValidationError
            When there is no such stack.

        Examples
        --------
        >>> from meshkit.mesh import Mesh, export_stacks
        >>> export_stacks(Mesh()).body("meshkit-sales")
        Traceback (most recent call last):
        ...
        meshkit.exceptions.ValidationError: no stack 'meshkit-sales': the stacks are (none)
        """
        if not isinstance(stack, str) or stack not in self.templates:
            raise ValidationError(
                f"no stack {stack!r}: the stacks are {', '.join(self.templates) or '(none)'}"
            )
        return json.dumps(self.templates[stack], indent=2)

    def only(self, *domains: str) -> MeshStacks:
        """The stacks of some domains: what one domain's account deploys.

        Parameters
        ----------
        *domains : str

        Returns
        -------
        MeshStacks

        Raises
        ------
        meshkit.exceptions.ValidationError
            When a domain has no stack.

        Examples
        --------
        >>> from meshkit.mesh import Bus, Mesh, export_stacks
        >>> bus = Bus("arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus", "S",
        ...           tags={"meshkit:domain": "sales"})
        >>> list(export_stacks(Mesh(buses=(bus,), accounts=("123456789012",))).only("sales")
        ...      .templates)
        ['meshkit-sales']
        """
        unknown = [d for d in domains if d not in self.domains.values()]
        if unknown or not domains:
            raise ValidationError(
                f"no stack holds domain(s) {unknown or '(none given)'}: the domains are "
                f"{', '.join(sorted(self.domains.values())) or '(none)'}"
            )
        kept = {stack for stack, domain in self.domains.items() if domain in domains}
        return MeshStacks(
            {stack: self.templates[stack] for stack in self.templates if stack in kept},
            {stack: self.domains[stack] for stack in kept},
            dict(self.accounts),
            self.notes,
        )

    def parameters(self, stack: str, accounts: Mapping[str, str]) -> list[dict[str, str]]:
        """A stack's ``<Domain>AccountId`` parameters, as CloudFormation and StackSets take them.

        Parameters
        ----------
        stack : str
        accounts : dict of str to str
            Domain -> account id, for every domain the stack references.

        Returns
        -------
        list of dict
            ``[{"ParameterKey": "MarketingAccountId", "ParameterValue": "444455556666"}, ...]``.

        Raises
        ------
        meshkit.exceptions.ValidationError
            When there is no such stack, or ``accounts`` leaves out a domain it references.

        Examples
        --------
        >>> from meshkit.mesh import Mesh, export_stacks
        >>> export_stacks(Mesh()).parameters("meshkit-sales", {})
        Traceback (most recent call last):
        ...
        meshkit.exceptions.ValidationError: no stack 'meshkit-sales': the stacks are (none)
        """
        self.body(stack)  # refuses an unknown stack
        if not isinstance(accounts, Mapping):
            raise ValidationError(
                "accounts takes a dict of domain -> account id, e.g. {'sales': '111122223333'}"
            )
        for domain, account in accounts.items():
            _check_account(domain, account)
        wanted = {_parameter(domain): domain for domain in self.accounts}
        declared = self.templates[stack].get("Parameters", {})
        missing = sorted(wanted[name] for name in declared if wanted[name] not in accounts)
        if missing:
            raise ValidationError(
                f"accounts leaves out {', '.join(missing)}, whose account ids stack {stack} "
                "references: give each domain's 12-digit account id"
            )
        return [
            {"ParameterKey": name, "ParameterValue": accounts[wanted[name]]} for name in declared
        ]

    def write(self, folder: str | Path) -> list[Path]:
        """Write each template to ``<folder>/<stack>.json``, for cfn-lint, review or a pipeline.

        Parameters
        ----------
        folder : str or pathlib.Path
            Created if missing.

        Returns
        -------
        list of pathlib.Path

        Examples
        --------
        >>> import tempfile
        >>> from meshkit.mesh import Mesh, export_stacks
        >>> export_stacks(Mesh()).write(tempfile.mkdtemp())
        []
        """
        if not isinstance(folder, (str, Path)) or not str(folder):
            raise ValidationError(f"folder must be a path, such as 'stacks/', not {folder!r}")
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for stack in self.templates:
            path = target / f"{stack}.json"
            path.write_text(self.body(stack) + "\n", encoding="utf-8")
            written.append(path)
        return written


def export_stacks(mesh: Mesh, *, stack_prefix: str = "meshkit-") -> MeshStacks:
    """The mesh as CloudFormation templates: one stack per domain, account ids as parameters.

    Buses (with tags, policy statements and archives) and the rules on them go in the bus's
    domain's stack; queues, their DLQs and policies in the consuming domain's. Written so that
    CloudFormation, and the embedded AWS's, deploy it: ``EventBusName`` is ``Fn::GetAtt
    Bus.Name`` (``Ref`` leaves moto's stack in progress for ever) and an archive's pattern is
    JSON text. The ``default`` bus and its rules are left out (every account has one).

    Parameters
    ----------
    mesh : Mesh
        What ``discover`` read.
    stack_prefix : str, default "meshkit-"
        Stack names are ``<prefix><domain>``.

    Returns
    -------
    MeshStacks

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``mesh`` is not a ``Mesh``, the prefix is not a stack name's start, or two
        resources of one stack would get one logical id.

    Examples
    --------
    >>> from meshkit.mesh import Bus, Mesh, export_stacks
    >>> bus = Bus("arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus",
    ...           "SalesEventBus", tags={"meshkit:domain": "sales"})
    >>> stacks = export_stacks(Mesh(buses=(bus,), accounts=("123456789012",)))
    >>> print(stacks.resources().to_string(index=False))
            stack       logical_id                  type          name
    meshkit-sales BusSalesEventBus AWS::Events::EventBus SalesEventBus
    """
    if not isinstance(mesh, Mesh):
        raise ValidationError(
            f"mesh must be a Mesh (mk.mesh.discover()), not {type(mesh).__name__}"
        )
    if not isinstance(stack_prefix, str) or not _STACK_PREFIX.fullmatch(stack_prefix):
        raise ValidationError(
            f"stack_prefix is {stack_prefix!r}: it starts every stack name, so it must be a "
            "letter and then up to 63 ASCII letters, digits or dashes, such as 'meshkit-'"
        )
    exporter = _Exporter(mesh, stack_prefix)
    return exporter.stacks()


def lint_stacks(stacks: MeshStacks, *, regions: tuple[str, ...] = ("us-east-1",)) -> pd.DataFrame:
    """Check every template with cfn-lint, offline: one row per finding.

    Parameters
    ----------
    stacks : MeshStacks
    regions : tuple of str, default ("us-east-1",)
        Regions whose resource specifications cfn-lint checks against.

    Returns
    -------
    pandas.DataFrame
        Columns ``stack``, ``rule`` (cfn-lint's id: ``E`` error, ``W`` warning, ``I``
        informational), ``message``, ``path``. Empty when every template passes.

    Raises
    ------
    ToolMissingError
        When cfn-lint is not installed (``pip install cfn-lint``).

    Examples
    --------
    >>> from meshkit.mesh import Mesh, export_stacks, lint_stacks
    >>> lint_stacks(export_stacks(Mesh())).empty
    True
    """
    _check_stacks(stacks)
    given: Any = regions  # callers pass anything; refuse what is not a list of Regions
    if (
        not isinstance(given, (tuple, list))
        or not given
        or not all(isinstance(region, str) for region in given)
    ):
        raise ValidationError(
            f"regions takes a tuple of Region codes, such as ('us-east-1',), not {regions!r}"
        )
    try:
        from cfnlint.api import ManualArgs, lint
    except ImportError as err:
        raise ToolMissingError(
            "cfn-lint is not installed: pip install 'cfn-lint>=1.58,<2' (make test installs it)"
        ) from err
    rows = []
    for stack in stacks.templates:
        for match in lint(stacks.body(stack), config=ManualArgs(regions=list(regions))):
            rows.append(
                {
                    "stack": stack,
                    "rule": match.rule.id,
                    "message": match.message,
                    "path": "/".join(str(p) for p in getattr(match, "path", []) or []),
                }
            )
    return pd.DataFrame(rows, columns=["stack", "rule", "message", "path"])


def deploy_stacks(
    stacks: MeshStacks,
    *,
    accounts: Mapping[str, str] | None = None,
    timeout_s: float = 300,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Deploy every stack with a change set (create, or update what changed), and wait.

    On real AWS this is how a reviewed change goes out: the change set shows what will change
    before anything does. For one account per domain, call it once per account with that
    account's session (or use StackSets: see notebook 08's "On real AWS").

    Parameters
    ----------
    stacks : MeshStacks
    accounts : dict of str to str, optional
        Domain -> account id, for the ``<Domain>AccountId`` parameters; default: every domain
        in the deploying session's account.
    timeout_s : float, default 300
        How long to wait for each change set and stack.
    boto3_session : boto3.Session, optional
        The account to deploy into.

    Returns
    -------
    pandas.DataFrame
        Columns ``stack``, ``change_set``, ``changes`` (how many resources change),
        ``status``.

    Raises
    ------
    DeployError
        When a change set or a stack fails or times out; ``results`` says how far each got.
    meshkit.exceptions.ValidationError
        When an account id is not 12 digits, a domain is unknown, or a template is over
        CloudFormation's 51,200-byte body limit.

    Examples
    --------
    >>> import meshkit as mk
    >>> from meshkit.mesh import Mesh, deploy_stacks, export_stacks
    >>> deploy_stacks(export_stacks(Mesh())).empty
    True
    """
    if (
        not isinstance(timeout_s, (int, float))
        or isinstance(timeout_s, bool)
        or not 0 < timeout_s < math.inf
    ):
        raise ValidationError(
            f"timeout_s must be a finite number of seconds above 0, such as 300, not {timeout_s!r}"
        )
    chosen = _accounts(stacks, accounts, session_account(boto3_session))
    for stack in stacks.templates:
        size = len(_compact(stacks, stack).encode())
        if size > _TEMPLATE_BODY_MAX:
            raise ValidationError(
                f"stack {stack}'s template is {size:,} bytes, over CloudFormation's "
                f"{_TEMPLATE_BODY_MAX:,}-byte TemplateBody limit: upload it to S3 and deploy "
                "with TemplateURL, or split the domain"
            )
    cloudformation = _aws.client("cloudformation", boto3_session)
    rows: list[dict[str, Any]] = []
    for stack in stacks.templates:
        try:
            rows.append(_deploy_one(cloudformation, stack, stacks, chosen, timeout_s))
        except (DeployError, BotoCoreError, ResponseParserError) as err:
            why = str(err)
            if not isinstance(err, DeployError):  # moto answers some refusals unparseably
                why = (
                    f"stack {stack} did not deploy ({type(err).__name__}: {err}); resources of "
                    "these names may already exist in the account outside the stack"
                )
            rows.append({"stack": stack, "change_set": "", "changes": 0, "status": why})
            raise DeployError(why, _deploy_frame(rows)) from None
    return _deploy_frame(rows)


def check_deployed(
    stacks: MeshStacks,
    expected: Mesh,
    *,
    accounts: Mapping[str, str] | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """After a deploy: does every declared resource exist, and is the deployed mesh the one
    exported?

    CloudFormation's CREATE_COMPLETE is not proof: the embedded AWS completes stacks whose bus
    and queue policies it never made (``EMBEDDED_SKIPS``). This asks each service for each
    resource, then compares the deployed mesh's map (buses, rules, patterns, targets, retry
    policies, DLQs, redrive, archives, tags, policies) with ``expected``'s, account ids mapped.

    Parameters
    ----------
    stacks : MeshStacks
        What was deployed.
    expected : Mesh
        The mesh it was exported from.
    accounts : dict of str to str, optional
        As given to ``deploy_stacks``.
    boto3_session : boto3.Session, optional
        The account deployed into.

    Returns
    -------
    pandas.DataFrame
        One row per declared resource and per difference in the map: ``stack``, ``resource``,
        ``type``, ``exists``, ``note`` (why it is missing, e.g. a type the embedded AWS skips).
        A clean deploy has ``exists`` True everywhere, or False only with such a note.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``expected`` is not a ``Mesh`` or an account id is not 12 digits.

    Examples
    --------
    >>> from meshkit.mesh import Mesh, check_deployed, export_stacks
    >>> check_deployed(export_stacks(Mesh()), Mesh()).empty
    True
    """
    if not isinstance(expected, Mesh):
        raise ValidationError(
            f"expected must be the Mesh the stacks came from, not {type(expected).__name__}"
        )
    chosen = _accounts(stacks, accounts, session_account(boto3_session))
    embedded = _aws.target().mode == "embedded"
    events = _aws.client("events", boto3_session)
    sqs = _aws.client("sqs", boto3_session)
    rows = []
    for stack, template in stacks.templates.items():
        for resource in template["Resources"].values():
            kind = resource["Type"]
            exists = _exists(events, sqs, kind, resource, template["Resources"])
            note = ""
            if not exists:
                note = (
                    f"the embedded AWS's CloudFormation skips {kind} (parity P27)"
                    if embedded and kind in EMBEDDED_SKIPS
                    else "declared, but not found"
                )
            rows.append(
            {"stack": stack, "resource": _declared_name(resource), "type": kind,
             "exists": exists, "note": note}
        )  # fmt: skip
    deployed = discover(boto3_session=boto3_session)
    renamed = {old: chosen[domain] for domain, old in stacks.accounts.items()}
    want, got = _map(expected, renamed), _map(deployed, {})
    for key in sorted(want.keys() | got.keys()):
        if want.get(key) == got.get(key):
            continue
        what, _, name = key.partition(" ")
        skipped = embedded and what in _PARITY
        rows.append(
            {
                "stack": "",
                "resource": name,
                "type": f"map: {what}",
                "exists": False,
                "note": (
                    f"the embedded AWS's CloudFormation drops {what.replace('-', ' ')} "
                    f"({_PARITY[what]})"
                    if skipped
                    else f"exported {want.get(key)!r:.120}, deployed {got.get(key)!r:.120}"
                ),
            }
        )
    return pd.DataFrame(rows, columns=["stack", "resource", "type", "exists", "note"])


# -- export ------------------------------------------------------------------------------------


class _Exporter:
    def __init__(self, mesh: Mesh, prefix: str) -> None:
        self.mesh = mesh
        self.prefix = prefix
        self.templates: dict[str, dict[str, Any]] = {}
        self.domains: dict[str, str] = {}
        self.accounts: dict[str, str] = {}
        self.notes: list[str] = []
        self.homes: dict[str, tuple[str, str, str]] = {}  # ARN -> (domain, logical id, name)
        self.used: dict[str, set[str]] = {}  # stack -> parameters its template references
        self.declared: dict[tuple[str, str], str] = {}  # (domain, logical id) -> its name

    def stacks(self) -> MeshStacks:
        for bus in self.mesh.buses:
            if bus.name == "default":
                self.notes.append("the default bus is left out: every account has its own")
                continue
            self._home(bus.arn, bus.domain or bus.name, "Bus", bus.name, bus.account)
        for queue in self.mesh.queues:
            self._home(queue.arn, self._queue_domain(queue), "Queue", queue.name, queue.account)
        for bus in self.mesh.buses:
            if bus.arn in self.homes:
                self._bus(bus)
        for rule in self.mesh.rules:
            if rule.bus_arn in self.homes:
                self._rule(rule)
            else:
                self.notes.append(f"rule {rule.name} on {rule.bus} is left out with its bus")
        for queue in self.mesh.queues:
            self._queue(queue)
        for archive in self.mesh.archives:
            if archive.bus_arn in self.homes:
                self._archive(archive)
        named: dict[str, str] = {}
        for domain in self.accounts:
            other = named.setdefault(_parameter(domain), domain)
            if other != domain:
                raise ValidationError(
                    f"domains {other!r} and {domain!r} would both be parameter "
                    f"{_parameter(domain)!r}: rename one domain"
                )
        for stack, template in self.templates.items():
            template["Parameters"] = {
                _parameter(domain): {
                    "Type": "String",
                    "AllowedPattern": "[0-9]{12}",
                    "Default": self.accounts[domain],
                    "Description": f"The {domain} domain's AWS account id",
                }
                for domain in sorted(self.used.get(stack, set()))
            }
            if not template["Parameters"]:
                del template["Parameters"]
        return MeshStacks(self.templates, self.domains, self.accounts, tuple(self.notes))

    def _queue_domain(self, queue: Queue) -> str:
        if queue.tags.get("meshkit:domain"):
            return queue.tags["meshkit:domain"]
        for rule in self.mesh.rules:  # the consumer whose rule targets it
            if any(queue.arn in (t.arn, t.dead_letter_arn) for t in rule.targets) and rule.domain:
                return rule.domain
        return "unowned"

    def _home(self, arn: str, domain: str, kind: str, name: str, account: str) -> None:
        stack = self._stack(domain)
        self.accounts.setdefault(domain, account)
        lid = kind + logical_id(name)
        self.templates.setdefault(
            stack,
            {
                "AWSTemplateFormatVersion": "2010-09-09",
                "Description": f"The {domain} domain's part of the event mesh (exported by "
                f"meshkit on {dt.date.today().isoformat()})",
                "Resources": {},
            },
        )
        self.homes[arn] = (domain, lid, name)
        self._add(domain, lid, {"Type": _TYPES[kind], "Properties": {}}, name)

    def _stack(self, domain: str) -> str:
        """The domain's stack name, as CloudFormation allows one: [A-Za-z][-A-Za-z0-9]*."""
        stack = self.prefix + re.sub(r"[^A-Za-z0-9-]+", "-", domain).strip("-")
        if len(stack) > _STACK_NAME_MAX:
            raise ValidationError(
                f"the {domain} domain's stack name {stack!r} is {len(stack)} characters, over "
                f"CloudFormation's {_STACK_NAME_MAX}: pass a shorter stack_prefix"
            )
        other = self.domains.setdefault(stack, domain)
        if other != domain:
            raise ValidationError(
                f"domains {other!r} and {domain!r} would both be stack {stack!r} (stack names "
                "keep letters, digits and dashes): rename one domain"
            )
        return stack

    def _add(self, domain: str, lid: str, resource: dict[str, Any], name: str) -> None:
        """Declare a resource, refusing one whose logical id another already has."""
        resources = self._resources(domain)
        other = self.declared.setdefault((domain, lid), name)
        if lid in resources:
            raise ValidationError(
                f"{name!r} and {other!r} of the {domain} domain would both be {lid!r} in its "
                "template (logical ids keep letters and digits only): rename one"
            )
        resources[lid] = resource

    def _resources(self, domain: str) -> dict[str, Any]:
        resources: dict[str, Any] = self.templates[self._stack(domain)]["Resources"]
        return resources

    def _ref(self, arn: str, in_domain: str, attribute: str = "Arn") -> Any:
        """An ARN as the template should say it: GetAtt in its own stack, else built from the
        owning domain's account parameter, else as it is."""
        home = self.homes.get(arn)
        if home is None:
            return arn
        domain, lid, _ = home
        if domain == in_domain:
            return {"Fn::GetAtt": [lid, attribute]}
        self.used.setdefault(self._stack(in_domain), set()).add(domain)
        account = arn_part(arn, "account")
        service, rest = arn_part(arn, "service"), arn_part(arn, "rest")
        return {
            "Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:"
            f"${{{_parameter(domain)}}}:{rest}"
            if account
            else arn
        }

    def _rewrite(self, value: Any, in_domain: str) -> Any:
        """A policy document with every ARN of the mesh said as ``_ref`` says it."""
        if isinstance(value, str):
            if value in self.homes:
                return self._ref(value, in_domain)
            rule = next((r for r in self.mesh.rules if r.arn == value), None)
            if rule is not None and rule.bus_arn in self.homes:
                return self._rule_arn(rule, in_domain)
            return self._with_accounts(value, in_domain)
        if isinstance(value, list):
            return [self._rewrite(v, in_domain) for v in value]
        if isinstance(value, Mapping):
            return {k: self._rewrite(v, in_domain) for k, v in value.items()}
        return value

    def _with_accounts(self, text: str, in_domain: str) -> Any:
        """A principal or ARN naming one of the mesh's accounts, with that account said by
        parameter (``arn:aws:iam::111122223333:root`` -> ``${SalesAccountId}``)."""
        if re.fullmatch(r"\d{12}", text):
            return self._account(text, in_domain)
        match = re.fullmatch(r"(arn:[\w-]+:[\w-]+:[\w-]*:)(\d{12})(:.*)", text)
        if not match or "${" in text:
            return text
        said = self._account(match.group(2), in_domain)
        if not isinstance(said, Mapping):
            return text
        name = said["Ref"]
        return {"Fn::Sub": f"{match.group(1)}${{{name}}}{match.group(3)}"}

    def _rule_arn(self, rule: Rule, in_domain: str) -> Any:
        domain = self.homes[rule.bus_arn][0]
        if domain == in_domain:
            return {"Fn::Sub": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:"
                    f"${{AWS::AccountId}}:rule/{rule.bus}/{rule.name}"}  # fmt: skip
        self.used.setdefault(self._stack(in_domain), set()).add(domain)
        return {"Fn::Sub": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:"
                f"${{{_parameter(domain)}}}:rule/{rule.bus}/{rule.name}"}  # fmt: skip

    def _bus(self, bus: Bus) -> None:
        domain, lid, _ = self.homes[bus.arn]
        resources = self._resources(domain)
        properties: dict[str, Any] = {"Name": bus.name}
        if bus.tags:
            properties["Tags"] = _tag_list(bus.tags)
        resources[lid]["Properties"] = properties
        for index, statement in enumerate((bus.policy or {}).get("Statement", [])):
            sid = str(statement.get("Sid") or f"Statement{index}")
            body = {k: v for k, v in statement.items() if k != "Sid"}
            body["Resource"] = {"Fn::GetAtt": [lid, "Arn"]}
            policy = {
                "Type": "AWS::Events::EventBusPolicy",
                "Properties": {
                    "EventBusName": {"Fn::GetAtt": [lid, "Name"]},
                    "StatementId": sid,
                    "Statement": self._rewrite(body, domain),
                },
            }
            self._add(domain, f"{lid}Policy{logical_id(sid)}", policy, f"statement {sid}")

    def _rule(self, rule: Rule) -> None:
        domain, bus_lid, _ = self.homes[rule.bus_arn]
        lid = "Rule" + logical_id(rule.name)
        targets = []
        for target in rule.targets:
            declared: dict[str, Any] = {"Id": target.id, "Arn": self._ref(target.arn, domain)}
            if target.dead_letter_arn:
                declared["DeadLetterConfig"] = {"Arn": self._ref(target.dead_letter_arn, domain)}
            if target.retry_policy:
                declared["RetryPolicy"] = dict(target.retry_policy)
            if target.role_arn:
                declared["RoleArn"] = self._rewrite(target.role_arn, domain)
            declared.update(target.parameters)  # SqsParameters, InputTransformer, ...
            targets.append(declared)
        properties: dict[str, Any] = {
            "Name": rule.name,
            "EventBusName": {"Fn::GetAtt": [bus_lid, "Name"]},  # Ref hangs moto's stack
            "State": rule.state or "ENABLED",
            "Targets": targets,
        }
        if rule.pattern:
            properties["EventPattern"] = self._pattern(json.loads(rule.pattern), domain)
        if rule.description:
            properties["Description"] = rule.description
        if rule.tags:
            properties["Tags"] = _tag_list(rule.tags)
        self._add(domain, lid, {"Type": "AWS::Events::Rule", "Properties": properties}, rule.name)

    def _pattern(self, pattern: Any, in_domain: str) -> Any:
        """A pattern whose ``account`` values name the mesh's accounts by parameter."""
        if not isinstance(pattern, dict):
            return pattern
        said = {}
        for key, value in pattern.items():
            if key == "account" and isinstance(value, list):
                said[key] = [self._account(v, in_domain) for v in value]
            else:
                said[key] = self._pattern(value, in_domain)
        return said

    def _account(self, account: Any, in_domain: str) -> Any:
        if account == self.accounts.get(in_domain):
            return {"Ref": "AWS::AccountId"}
        owners = [domain for domain, known in self.accounts.items() if known == account]
        if len(owners) != 1:
            return account
        self.used.setdefault(self._stack(in_domain), set()).add(owners[0])
        return {"Ref": _parameter(owners[0])}

    def _queue(self, queue: Queue) -> None:
        domain, lid, _ = self.homes[queue.arn]
        resources = self._resources(domain)
        properties: dict[str, Any] = {"QueueName": queue.name}
        for setting, value in sorted(queue.settings.items()):
            properties[setting] = _setting(value)
        if queue.name.endswith(".fifo"):
            properties["FifoQueue"] = True
        if queue.dead_letter_arn:
            properties["RedrivePolicy"] = {
                "deadLetterTargetArn": self._ref(queue.dead_letter_arn, domain),
                "maxReceiveCount": queue.max_receive_count or 5,
            }
        if queue.tags:
            properties["Tags"] = _tag_list(queue.tags)
        resources[lid]["Properties"] = properties
        if queue.policy:
            document = self._rewrite(queue.policy, domain)
            policy = {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": lid}], "PolicyDocument": document},
            }
            self._add(domain, lid + "Policy", policy, f"the policy of {queue.name}")

    def _archive(self, archive: Archive) -> None:
        domain, bus_lid, _ = self.homes[archive.bus_arn]
        properties: dict[str, Any] = {
            "ArchiveName": archive.name,
            "SourceArn": {"Fn::GetAtt": [bus_lid, "Arn"]},
            "RetentionDays": archive.retention_days,
        }
        if archive.pattern:  # JSON text: a YAML / object pattern hangs moto's stack
            properties["EventPattern"] = archive.pattern
        if archive.description:
            properties["Description"] = archive.description
        resource = {"Type": "AWS::Events::Archive", "Properties": properties}
        self._add(domain, "Archive" + logical_id(archive.name), resource, archive.name)


_TYPES = {"Bus": "AWS::Events::EventBus", "Queue": "AWS::SQS::Queue"}
_STACK_NAME_MAX = 128
# What the embedded AWS's CloudFormation drops, by the parity ledger entry that pins it.
_PARITY = {"bus-tags": "P47", "bus-policy": "P27", "queue-policy": "P27"}
_STACK_PREFIX = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,63}")


def _setting(value: str) -> Any:
    """A queue attribute as AWS::SQS::Queue takes it: "true" a bool, "30" an integer."""
    if value in ("true", "false"):
        return value == "true"
    return int(value) if value.isdigit() else value


def _parameter(domain: str) -> str:
    return f"{logical_id(domain)}AccountId"


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Tags as a template declares them; not ``meshkit:adopted``, which a stack's resource
    (created by the stack) is not."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items()) if k != ADOPTED_TAG]


def _declared_name(resource: Mapping[str, Any]) -> str:
    properties = resource.get("Properties", {})
    for key in ("Name", "QueueName", "ArchiveName", "StatementId"):
        if isinstance(properties.get(key), str):
            return str(properties[key])
    if resource.get("Type") == "AWS::SQS::QueuePolicy":
        return "policy of " + str(properties["Queues"][0]["Ref"])
    return ""


# -- deploy ------------------------------------------------------------------------------------


def _check_stacks(stacks: Any) -> None:
    if not isinstance(stacks, MeshStacks):
        raise ValidationError(
            f"stacks must be MeshStacks (mk.mesh.export_stacks), not {type(stacks).__name__}"
        )


def _accounts(stacks: Any, accounts: Mapping[str, str] | None, default: str) -> dict[str, str]:
    _check_stacks(stacks)
    if accounts is not None and not isinstance(accounts, Mapping):
        raise ValidationError(
            "accounts takes a dict of domain -> account id, e.g. {'sales': '111122223333'}"
        )
    chosen = dict.fromkeys(stacks.accounts, default)
    for domain, account in (accounts or {}).items():
        if domain not in chosen:
            raise ValidationError(
                f"accounts names domain {domain!r}, which no stack holds: the domains are "
                f"{', '.join(sorted(chosen))}"
            )
        _check_account(domain, account)
        chosen[domain] = account
    return chosen


def _check_account(domain: Any, account: Any) -> None:
    if not (isinstance(account, str) and re.fullmatch(r"[0-9]{12}", account)):
        raise ValidationError(
            f"accounts[{domain!r}] is {account!r}: an AWS account id is 12 digits, as a string"
        )


def _deploy_one(
    cloudformation: Any,
    stack: str,
    stacks: MeshStacks,
    accounts: Mapping[str, str],
    timeout_s: float,
) -> dict[str, Any]:
    parameters = stacks.parameters(stack, accounts)
    status = _stack_status(cloudformation, stack)  # refuses a stack meshkit did not deploy
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    name = f"meshkit-{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S%f}"
    try:
        _create_change_set(cloudformation, stack, name, kind, stacks, parameters)
    except ClientError as err:  # moto refuses an empty change set; AWS fails it (below)
        if "No updates are to be performed" not in str(err):
            raise
        return {"stack": stack, "change_set": "", "changes": 0, "status": "UNCHANGED"}
    described = _wait(
        lambda: cloudformation.describe_change_set(StackName=stack, ChangeSetName=name),
        "Status", timeout_s, f"change set {name} of {stack}",
    )  # fmt: skip
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cloudformation.delete_change_set(StackName=stack, ChangeSetName=name)
            return {"stack": stack, "change_set": name, "changes": 0, "status": "UNCHANGED"}
        raise DeployError(f"change set {name} of stack {stack} failed: {reason}", pd.DataFrame())
    changes = len(described.get("Changes", []))
    cloudformation.execute_change_set(StackName=stack, ChangeSetName=name)
    final = _wait(
        lambda: cloudformation.describe_stacks(StackName=stack)["Stacks"][0],
        "StackStatus", timeout_s, f"stack {stack}",
    )  # fmt: skip
    if final["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise DeployError(
            f"stack {stack} ended {final['StackStatus']}: {final.get('StackStatusReason', '')} "
            "(its events say which resource failed: describe_stack_events)",
            pd.DataFrame(),
        )
    return {"stack": stack, "change_set": name, "changes": changes, "status": final["StackStatus"]}


def _compact(stacks: MeshStacks, stack: str) -> str:
    """A template as sent: compact JSON (the 51,200-byte limit counts what is sent)."""
    stacks.body(stack)  # refuses an unknown stack
    return json.dumps(stacks.templates[stack], separators=(",", ":"))


def _create_change_set(
    cloudformation: Any,
    stack: str,
    name: str,
    kind: str,
    stacks: MeshStacks,
    parameters: list[dict[str, str]],
) -> None:
    cloudformation.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType=kind,
        TemplateBody=_compact(stacks, stack),
        Parameters=parameters,
        Tags=[{"Key": WORKBOOK_TAG, "Value": "true"},
              {"Key": DOMAIN_TAG, "Value": stacks.domains[stack]}],
    )  # fmt: skip


def _stack_status(cloudformation: Any, stack: str) -> str | None:
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as err:
        if error_code(err) == "ValidationError":  # "Stack with id ... does not exist"
            return None
        raise
    status = str(found[0]["StackStatus"]) if found else None
    tags = {tag["Key"]: tag["Value"] for tag in (found[0].get("Tags", []) if found else [])}
    if status is not None and tags.get(WORKBOOK_TAG) != "true":
        raise NotMeshkitResourceError(
            f"stack {stack} exists and meshkit did not deploy it (no {WORKBOOK_TAG} tag): an "
            "update would replace its resources. Pass another stack_prefix to export_stacks"
        )
    if status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise ConflictError(
            f"stack {stack} is {status}: wait until it completes, then deploy again"
        )
    return status


def _wait(read: Callable[[], Any], key: str, timeout_s: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        found: dict[str, Any] = read()
        if not str(found[key]).endswith(("_IN_PROGRESS", "_PENDING")) and found[key] not in (
            "CREATE_PENDING",
            "CREATE_IN_PROGRESS",
        ):
            return found
        if time.monotonic() > deadline:
            raise DeployError(
                f"{what} is still {found[key]} after {timeout_s:g} s: look at its events in the "
                "CloudFormation console, or deploy again with a longer timeout_s",
                pd.DataFrame(),
            )
        time.sleep(_IN_PROGRESS_POLL_S)


def _deploy_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["stack", "change_set", "changes", "status"])


# -- check -------------------------------------------------------------------------------------


def _exists(
    events: Any, sqs: Any, kind: str, resource: Mapping[str, Any], stack: Mapping[str, Any]
) -> bool:
    """Does a declared resource exist? ``stack``: its template's resources, for references."""
    properties = resource["Properties"]
    try:
        if kind == "AWS::Events::EventBus":
            events.describe_event_bus(Name=properties["Name"])
        elif kind == "AWS::Events::Rule":
            events.describe_rule(Name=properties["Name"], EventBusName=_bus_name(resource, stack))
        elif kind == "AWS::Events::Archive":
            events.describe_archive(ArchiveName=properties["ArchiveName"])
        elif kind == "AWS::Events::EventBusPolicy":
            bus = events.describe_event_bus(Name=_bus_name(resource, stack))
            sids = [s.get("Sid") for s in json.loads(bus.get("Policy", "{}")).get("Statement", [])]
            return properties["StatementId"] in sids
        elif kind == "AWS::SQS::Queue":
            sqs.get_queue_url(QueueName=properties["QueueName"])
        elif kind == "AWS::SQS::QueuePolicy":  # Queues: [{"Ref": <the queue's logical id>}]
            queue = stack[properties["Queues"][0]["Ref"]]["Properties"]["QueueName"]
            url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
            return bool(found.get("Attributes", {}).get("Policy"))
        else:
            return False
    except ClientError as err:
        code = error_code(err)
        if any(word in code for word in ("NotFound", "NonExistent", "DoesNotExist")):
            return False
        raise
    return True


def _bus_name(resource: Mapping[str, Any], stack: Mapping[str, Any]) -> str:
    """The bus a declared rule or policy is on (``Fn::GetAtt [<bus>, Name]`` in its stack)."""
    name = resource["Properties"]["EventBusName"]
    if isinstance(name, Mapping):
        return str(stack[name["Fn::GetAtt"][0]]["Properties"]["Name"])
    return str(name)


def _own_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """Tags a template declares: not AWS's own (``aws:cloudformation:stack-name``, ...), nor
    ``meshkit:adopted``."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:") and k != ADOPTED_TAG}


def _map(mesh: Mesh, renamed: Mapping[str, str]) -> dict[str, Any]:
    """What a mesh is, name by name, with account ids renamed: what a deploy must reproduce."""

    def plain(value: Any) -> Any:
        text = json.dumps(value, sort_keys=True)
        for old, new in renamed.items():
            text = text.replace(old, new)
        return json.loads(text)

    entries: dict[str, Any] = {}
    for bus in mesh.buses:
        if bus.name == "default":
            continue
        entries[f"bus {bus.name}"] = True
        entries[f"bus-tags {bus.name}"] = plain(_own_tags(bus.tags))
        entries[f"bus-policy {bus.name}"] = plain(bus.policy)
    for rule in mesh.rules:
        if rule.bus == "default":
            continue
        entries[f"rule {rule.bus}/{rule.name}"] = plain(
            {
                "pattern": json.loads(rule.pattern) if rule.pattern else None,
                "state": rule.state,
                "description": rule.description,
                "targets": [
                    [t.id, t.arn, t.dead_letter_arn, t.retry_policy, t.role_arn, t.parameters]
                    for t in rule.targets
                ],
            }
        )
    for queue in mesh.queues:
        entries[f"queue {queue.name}"] = plain(
            [queue.dead_letter_arn, queue.max_receive_count, queue.settings]
        )
        entries[f"queue-tags {queue.name}"] = plain(_own_tags(queue.tags))
        entries[f"queue-policy {queue.name}"] = plain(queue.policy)
    for archive in mesh.archives:
        entries[f"archive {archive.name}"] = plain(
            [archive.bus_arn, archive.retention_days, archive.pattern]
        )
    return entries
