"""Where the new Custom Event Bus can be called: real AWS, in the Regions that offer it.

No emulator serves the ``eventbridgev2`` API offline. moto implements none of it (its
maintainers plan no support for the RPC v2 CBOR protocol it speaks): against moto's server a call
fails inside botocore with a ``ResponseParserError``, not with AWS's ``ClientError``. So meshkit
refuses before any call on the embedded AWS, and says what to do instead.
"""

from __future__ import annotations

from typing import Any

import boto3

from .. import _aws
from ..exceptions import CustomBusUnavailableError

__all__ = ["CustomBusUnavailableError", "client"]


def client(*, boto3_session: boto3.Session | None = None) -> Any:
    """A boto3 ``eventbridgev2`` client on the current target, refused where none can answer.

    Parameters
    ----------
    boto3_session : boto3.Session, optional
        As for every meshkit function; default: the session of ``mk.sandbox.start()``'s target.

    Returns
    -------
    botocore.client.BaseClient
        The client, with the standard retry mode. On an endpoint other than the embedded AWS
        (an emulator that implements the API), calls go there.

    Raises
    ------
    CustomBusUnavailableError
        On the embedded AWS, before any call.
    meshkit.exceptions.TargetError
        When ``mk.sandbox.start()`` has not been called.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.custom_bus.client()
    Traceback (most recent call last):
    ...
    meshkit.exceptions.CustomBusUnavailableError: the embedded AWS (moto) does not serve \
the new Custom Event Bus (eventbridgev2): moto implements none of its API, and a call would fail \
inside botocore. Offline, check requests with mk.custom_bus.check_request; to send them, opt in \
to real AWS (MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT) in a Region that offers the new bus
    """
    return _aws.eventbridgev2_client(boto3_session)
