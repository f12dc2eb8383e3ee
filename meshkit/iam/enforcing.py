"""Enforcement on the embedded AWS: moto's IAM checks switched on for a block, a user per domain.

Each user gets its policy inline and an access key of its own for the block; meshkit deletes the
keys it made afterwards and never touches a user, or a key, that someone else made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .. import _aws, sandbox
from .._shared import WORKBOOK_TAG, error_code
from ..exceptions import ConflictError, NotMeshkitResourceError, TargetError, ValidationError
from ._common import Policy, iam_name, policy_document
from ._evaluator import shown

__all__ = ["TooManyAccessKeysError", "enforcement"]

_logger = logging.getLogger(__name__)

ACCESS_KEY_TAG = "meshkit:access-key"  # on a user: the access key meshkit made for it
_MAX_ACCESS_KEYS = 2  # per IAM user (IAM quotas)


class TooManyAccessKeysError(ConflictError):
    """An IAM user ``enforcement`` would use already holds IAM's quota of access keys, all made by
    someone else, so meshkit cannot make the one it needs for the block."""


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
    TooManyAccessKeysError
        When a meshkit user already holds two access keys someone else made (IAM's quota).
    meshkit.exceptions.TargetError
        Outside the embedded AWS.

    Examples
    --------
    >>> import meshkit as mk
    >>> lister = {"Version": "2012-10-17",
    ...     "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}]}
    >>> with mk.iam.enforcement({"iam-doctest-lister": lister}) as sessions:  # doctest: +ELLIPSIS
    ...     sessions["iam-doctest-lister"].client("sqs").create_queue(QueueName="iam-doctest")
    Traceback (most recent call last):
    botocore.exceptions.ClientError: ... is not authorized to perform: sqs:CreateQueue...
    >>> iam = mk.sandbox.current().session().client("iam")
    >>> _ = iam.delete_user_policy(UserName="iam-doctest-lister", PolicyName="iam-doctest-lister")
    >>> _ = iam.delete_user(UserName="iam-doctest-lister")
    """
    users = _enforcement_users(users)
    target = _aws.target()
    endpoint = target.endpoint_url
    if target.mode != "embedded" or endpoint is None:  # an embedded target has an endpoint
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
        sandbox.post_moto_api(endpoint, "/moto-api/reset-auth", b"0")
        _logger.info("IAM enforcement on for %s", ", ".join(sessions))
        try:
            yield sessions
        finally:
            sandbox.post_moto_api(endpoint, "/moto-api/reset-auth", b"inf")
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
        iam_name("user name", name)
        policy_document(f"users[{shown(name)}]", policy)
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
            raise TooManyAccessKeysError(
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
