"""Errors raised by meshkit itself.

Every message names what is wrong, the limit or rule it broke, and how to fix it. Errors that come
from AWS (``botocore.exceptions.ClientError``) pass through untouched unless meshkit adds meaning.
"""

from __future__ import annotations


class MeshkitError(Exception):
    """Base class of every error meshkit raises on its own account."""


class TargetError(MeshkitError):
    """meshkit cannot decide, or refuses, where AWS is (see ``meshkit.sandbox.start``)."""


class ValidationError(MeshkitError, ValueError):
    """An argument breaks a documented AWS rule or a mesh convention; nothing was sent to AWS."""


class NotMeshkitResourceError(MeshkitError):
    """A resource exists but meshkit did not create it, so meshkit will not change or delete it."""
