"""What the modules of ``meshkit.iam`` share: the policy type, and checks of names and documents.

Public names in an internal module, so that no module reaches into another's private helpers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..exceptions import ValidationError
from . import _evaluator
from ._evaluator import shown

VERSION = "2012-10-17"
Policy = Mapping[str, Any]

IAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)


def iam_name(field: str, name: Any) -> str:
    """``name`` if IAM takes it as a user, role or policy name; else ValidationError."""
    if not isinstance(name, str) or len(name) > 64 or not IAM_NAME.fullmatch(name):
        raise ValidationError(
            f"{field} {shown(name)} breaks IAM's rule: 1 to 64 letters, digits or '+=,.@_-'; "
            "choose a shorter or plainer one"
        )
    return name


def policy_document(field: str, value: Any) -> Policy:
    """``value`` if it is a policy AWS could read (a dict with Statements); else ValidationError."""
    if not isinstance(value, Mapping) or not isinstance(value.get("Statement"), (list, Mapping)):
        raise ValidationError(
            f"{field} must be a policy: a dict with a Statement list, not a "
            f"{type(value).__name__} ({shown(value, 60)}); json.loads a policy kept as text"
        )
    problem = _evaluator.unreadable(value)
    if problem:  # json.dumps would fail on it, after earlier calls to AWS
        raise ValidationError(f"{field}: {problem}")
    return value


def statements_of(policy: Policy) -> list[Mapping[str, Any]]:
    """A policy's statements, as a list even when it holds a single one."""
    statements = policy.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]
