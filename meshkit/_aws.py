"""The one place meshkit resolves boto3 sessions and clients.

Every public function that calls AWS takes ``boto3_session=None`` and passes it here. Without an
explicit session, meshkit uses the target chosen by ``meshkit.sandbox.start()`` and refuses to
guess: an unconfigured process never falls through to whatever credentials are lying around.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, TypeAlias

import boto3
from botocore.config import Config

from . import sandbox
from .exceptions import CustomBusUnavailableError, TargetError, ValidationError

# Standard retry mode: AWS's recommended client-side retries with backoff for throttling.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_ONE_ATTEMPT = Config(retries={"total_max_attempts": 1})
# Per session (held weakly, so a session's clients go when it goes): the account a caller's
# session was checked against on real AWS, and clients, which are costly to create (tens of ms).
_checked_accounts: weakref.WeakKeyDictionary[boto3.Session, str] = weakref.WeakKeyDictionary()
# A cached client's key: (service name, endpoint URL, real AWS?, parameter validation?, retries?).
_ClientKey: TypeAlias = tuple[str, str | None, bool, bool, bool]
_clients: weakref.WeakKeyDictionary[boto3.Session, dict[_ClientKey, Any]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()  # boto3 sessions are not thread-safe when creating clients


def target() -> sandbox.Target:
    """The current target, or a clear error when ``start()`` has not been called."""
    current = sandbox.current()
    if current is None:
        raise TargetError(
            "meshkit does not know where AWS is yet: call mk.sandbox.start() first (embedded by "
            "default; real AWS with MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT)"
        )
    return current


def session(boto3_session: boto3.Session | None = None) -> boto3.Session:
    """The caller's session, checked against the target, or the target's own session.

    On real AWS a session passed in must belong to the account the user opted in to; offline, its
    calls go to the target's endpoint whatever its credentials.
    """
    current = target()
    if boto3_session is None:
        return current.session()
    if not isinstance(boto3_session, boto3.Session):
        raise ValidationError(
            f"boto3_session is {type(boto3_session).__name__} {boto3_session!r:.40}: give a "
            "boto3.Session (mk.iam.assume_role returns one), or leave it out for the target's"
        )
    opted_in = (current.account_id, *current.other_accounts)
    if current.is_real_aws and _checked_accounts.get(boto3_session) not in opted_in:
        account = sandbox.caller_account(boto3_session, None)
        if account not in opted_in:
            raise TargetError(
                f"the boto3_session passed in belongs to account {account}, but you opted in to "
                f"{', '.join(opted_in)} (MESHKIT_AWS_ACCOUNT): pass a session for one of them, "
                "or add the account to MESHKIT_AWS_ACCOUNT after a comma"
            )
        _checked_accounts[boto3_session] = account
    return boto3_session


def client(
    service_name: str,
    boto3_session: boto3.Session | None = None,
    *,
    parameter_validation: bool = True,
    retries: bool = True,
) -> Any:
    """A client for ``service_name`` on the current target (its endpoint, unless real AWS).

    Clients are cached per session. ``parameter_validation=False`` skips botocore's check of the
    request against the API model, for callers that check what they send themselves
    (``mk.events.publish`` does, entry by entry). ``retries=False`` makes one attempt per call,
    for calls the embedded AWS fails every time (retrying them only waits).
    """
    resolved = session(boto3_session)
    current = target()
    key = (service_name, current.endpoint_url, current.is_real_aws, parameter_validation, retries)
    with _lock:
        cached = _clients.setdefault(resolved, {})
        if key not in cached:
            config = _CLIENT_CONFIG.merge(Config(parameter_validation=parameter_validation))
            if not retries:
                config = config.merge(_ONE_ATTEMPT)
            if current.is_real_aws:
                config = config.merge(sandbox.REAL_AWS_CONFIG)
            cached[key] = resolved.client(
                service_name, endpoint_url=current.endpoint_url, config=config
            )
        return cached[key]


def publishing_client(boto3_session: boto3.Session | None = None) -> Any:
    """The EventBridge client ``mk.events.publish`` sends with, and ``mk.faults`` hooks.

    One definition for both, so that fault injection always reaches the client publish uses.
    It skips botocore's parameter validation: publish checks every entry itself.
    """
    return client("events", boto3_session, parameter_validation=False)


def eventbridgev2_client(boto3_session: boto3.Session | None = None) -> Any:
    """The new Custom Event Bus's client, refused before any call where nothing can answer it.

    moto implements none of the ``eventbridgev2`` API (its maintainers plan no support for the
    RPC v2 CBOR protocol it speaks): against moto's server a call fails inside botocore with a
    ``ResponseParserError``, not with AWS's ``ClientError``.
    """
    if target().mode == "embedded":
        raise CustomBusUnavailableError(
            "the embedded AWS (moto) does not serve the new Custom Event Bus (eventbridgev2): moto "
            "implements none of its API, and a call would fail inside botocore. Offline, check "
            "requests with mk.custom_bus.check_request; to send them, opt in to real AWS "
            "(MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT) in a Region that offers the new bus"
        )
    return client("eventbridgev2", boto3_session)


def uncached_client(service_name: str, boto3_session: boto3.Session | None = None) -> Any:
    """A new client, configured like ``client``'s, that no one else holds (no hooks of others)."""
    resolved = session(boto3_session)
    current = target()
    config = (
        _CLIENT_CONFIG.merge(sandbox.REAL_AWS_CONFIG) if current.is_real_aws else _CLIENT_CONFIG
    )
    with _lock:
        return resolved.client(service_name, endpoint_url=current.endpoint_url, config=config)
