"""The one place meshkit resolves boto3 sessions and clients.

Every public function that calls AWS takes ``boto3_session=None`` and passes it here. Without an
explicit session, meshkit uses the target chosen by ``meshkit.sandbox.start()`` and refuses to
guess: an unconfigured process never falls through to whatever credentials are lying around.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from . import sandbox
from .exceptions import TargetError

# Standard retry mode: AWS's recommended client-side retries with backoff for throttling.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


def target() -> sandbox.Target:
    """The current target, or a clear error when ``start()`` has not been called."""
    current = sandbox.current()
    if current is None:
        raise TargetError(
            "meshkit does not know where AWS is yet: call mk.sandbox.start() first (embedded by "
            "default), or pass boto3_session= to use a session of your own"
        )
    return current


def session(boto3_session: boto3.Session | None = None) -> boto3.Session:
    """The caller's session, or one bound to the current target."""
    return boto3_session if boto3_session is not None else target().session()


def client(service_name: str, boto3_session: boto3.Session | None = None) -> Any:
    """A client for ``service_name`` on the current target (its endpoint, unless real AWS)."""
    current = sandbox.current()
    endpoint_url = current.endpoint_url if current is not None else None
    return session(boto3_session).client(
        service_name, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
    )
