"""Errors raised by meshkit itself.

Every message names what is wrong, the limit or rule it broke, and how to fix it. Errors that come
from AWS (``botocore.exceptions.ClientError``) pass through untouched unless meshkit adds meaning.

Each module defines the specific errors a caller may want to catch (``events.PublishError``,
``consumers.QueueNotFoundError``, ...); each derives from one of the bases here, whose name is a
promise about what happened:

==========================  ===============================================================
``ValidationError``         an argument was refused before anything was sent to AWS
``NotFoundError``           a named resource does not exist (AWS was asked)
``ConflictError``           the resource's state stops the change (it holds messages, exists
                            with other settings, was deleted moments ago); nothing changed
``NotMeshkitResourceError`` meshkit did not create it, so it will not change or delete it
``TargetError``             meshkit cannot decide, or refuses, where AWS is
==========================  ===============================================================

Work that stops part-way (a lost connection) raises ``<Verb>Error`` carrying what was done so far
(``events.PublishError.result``, ``consumers.RunError.summary``); Ctrl-C raises
``<Verb>Interrupted``, a ``KeyboardInterrupt`` carrying the same.
"""

from __future__ import annotations


class MeshkitError(Exception):
    """Base class of every error meshkit raises on its own account."""


class TargetError(MeshkitError):
    """meshkit cannot decide, or refuses, where AWS is (see ``meshkit.sandbox.start``)."""


class CustomBusUnavailableError(TargetError):
    """The current target cannot serve the new Custom Event Bus (the embedded AWS cannot)."""


class ValidationError(MeshkitError, ValueError):
    """An argument breaks a documented AWS rule or a mesh convention; nothing was sent to AWS."""


class NotFoundError(MeshkitError, LookupError):
    """A resource the caller named does not exist (in this account and region); AWS was asked."""


class ConflictError(MeshkitError):
    """The resource's current state stops the change, and nothing was changed: wait, empty it, or
    choose another name, as the message says."""


class NotMeshkitResourceError(MeshkitError):
    """A resource exists but meshkit did not create it, so meshkit will not change or delete it."""
