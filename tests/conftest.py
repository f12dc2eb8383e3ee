"""Fixtures of the unit tests; the session's embedded AWS comes from the top-level conftest.py."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

import botocore.httpsession
import pytest

import meshkit as mk


@pytest.fixture
def mesh() -> mk.sandbox.Target:
    """The session's embedded AWS, wiped: each test starts with an empty mesh."""
    target = mk.sandbox.start(quiet=True)
    mk.sandbox.reset()
    return target


class Sent(NamedTuple):
    host: str
    auth: bytes
    operation: str  # X-Amz-Target of JSON-protocol calls, e.g. "AWSEvents.PutEvents"


@pytest.fixture
def sent(monkeypatch) -> list[Sent]:
    """Record every HTTP request botocore sends; refuse any that would leave this machine."""
    requests: list[Sent] = []
    original = botocore.httpsession.URLLib3Session.send

    def send(self, request):
        host = urlsplit(request.url).hostname
        target = request.headers.get("X-Amz-Target", b"")
        operation = target.decode() if isinstance(target, bytes) else target
        requests.append(Sent(host, request.headers.get("Authorization", b""), operation))
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a request left the machine: {request.url}")
        return original(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    return requests
