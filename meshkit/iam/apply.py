"""Putting policies on AWS: a domain's roles, and a bus's resource policy.

Both change only what meshkit made (its tags say so): a role or a bus of someone else is refused,
never changed, and statements someone else put on a bus are never dropped silently.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import WORKBOOK_TAG, check_owner, domain_tags, error_code, own_bus_name, parse_bus
from ..buses import domain_key
from ..exceptions import NotMeshkitResourceError, ValidationError
from ._common import IAM_NAME, VERSION, Policy, iam_name, policy_document, statements_of
from ._evaluator import shown
from .policies import trust_policy

__all__ = ["ForeignStatementsError", "assume_role", "attach_bus_policy", "create_domain_role"]

_logger = logging.getLogger(__name__)


# -- roles --------------------------------------------------------------------------------------


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

    Parameters
    ----------
    domain : str
        The domain that owns the role, e.g. ``"sales"``.
    purpose : str
        What the role is for, e.g. ``"producer"``: the role's name is ``<domain>-<purpose>``, and
        its inline policy's name is ``purpose``.
    policy : dict
        The role's identity policy, e.g. ``producer_policy("sales")``.
    trust : dict, optional
        Who may assume the role (``trust_policy``); default: Lambda.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The role's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a purpose or role name IAM would refuse, or a policy that is not a dict.
    meshkit.exceptions.NotMeshkitResourceError
        When the role exists without meshkit's tags, or belongs to another domain.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.iam.producer_policy("iam-doctest")
    >>> mk.iam.create_domain_role("iam-doctest", "producer", policy)  # doctest: +ELLIPSIS
    'arn:aws:iam::...:role/iam-doctest-producer'
    >>> iam = mk.sandbox.current().session().client("iam")
    >>> _ = iam.delete_role_policy(RoleName="iam-doctest-producer", PolicyName="producer")
    >>> _ = iam.delete_role(RoleName="iam-doctest-producer")
    """
    key = domain_key(domain)
    if not isinstance(purpose, str) or not IAM_NAME.fullmatch(purpose):
        raise ValidationError(
            f"purpose {shown(purpose)} names the role and its inline policy: use letters, digits "
            "and '+=,.@_-' only, e.g. 'producer'"
        )
    name = iam_name("role name", f"{key}-{purpose}")
    policy_document("policy", policy)
    trust = policy_document("trust", trust) if trust is not None else None
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
    """A boto3 session with the credentials of ``role_arn`` (``sts.assume_role``).

    E.g. a role in a domain's own account. On the embedded AWS any role ARN works, in any account
    id: each account is a separate, empty mesh, as separate AWS accounts are.

    Parameters
    ----------
    role_arn : str
        ``arn:aws:iam::<account>:role/<name>``.
    session_name : str, default "meshkit"
        The role session's name, which AWS records in CloudTrail.
    boto3_session : boto3.Session, optional
        The session that assumes the role.

    Returns
    -------
    boto3.Session
        In the target's region, for ``boto3_session=`` or ``session.client(...)``.

    Examples
    --------
    >>> import meshkit as mk
    >>> sales = mk.iam.assume_role("arn:aws:iam::222222222222:role/sales-domain")
    >>> sales.client("sts").get_caller_identity()["Arn"]
    'arn:aws:sts::222222222222:assumed-role/sales-domain/meshkit'
    """
    sts = _aws.client("sts", boto3_session)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=_aws.target().region,
    )


# -- a bus's resource policy --------------------------------------------------------------------

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
        The bus's name or ARN (this account's: only a bus's owner sets its policy).
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
    >>> arn = mk.buses.create_domain_bus("iam-doctest")
    >>> policy = mk.iam.bus_policy(arn, publisher_accounts=["222222222222"],
    ...                            sources=["iam-doctest.domain"])
    >>> mk.iam.attach_bus_policy("IamDoctestEventBus", policy)["Statement"][0]["Sid"]
    'PutEventsFrom222222222222'
    >>> mk.buses.delete_domain_bus("iam-doctest")
    True
    """
    parse_bus(bus)  # refused before any call
    new = _bus_policy_statements(policy)
    if merge and replace:
        raise ValidationError(
            "give merge=True (keep others' statements) or replace=True (drop them), not both"
        )
    events = _aws.client("events", boto3_session)
    bus = own_bus_name(bus, events, boto3_session, action="set its policy")
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
    old = statements_of(json.loads(described["Policy"])) if described.get("Policy") else []
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
    clash = sorted({s["Sid"] for s in kept if "Sid" in s} & {s["Sid"] for s in new})
    if clash:
        raise ForeignStatementsError(
            f"statements {', '.join(clash)} of bus {bus} were written by someone else and your "
            "policy reuses their Sids: rename yours, or pass replace=True to drop theirs",
            clash,
        )
    document: dict[str, Any] = {"Version": VERSION, "Statement": [*kept, *new]}
    events.put_permission(EventBusName=bus, Policy=json.dumps(document))
    # AWS stores the document as given; moto adds it to what is there: remove what is left over.
    stored = events.describe_event_bus(Name=bus).get("Policy")
    wanted = {s.get("Sid") for s in document["Statement"]}
    for leftover in statements_of(json.loads(stored)) if stored else []:
        if leftover.get("Sid") and leftover["Sid"] not in wanted:
            events.remove_permission(EventBusName=bus, StatementId=leftover["Sid"])
    _log_policy_change(bus, old, new, kept, [] if merge else theirs)
    return document


def _bus_policy_statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a bus policy, checked: each a dict with a unique Sid and a Principal."""
    statements = statements_of(policy_document("policy", policy))
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
