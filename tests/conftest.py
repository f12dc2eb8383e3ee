"""Fixtures of the unit tests; the session's embedded AWS comes from the top-level conftest.py."""

from __future__ import annotations

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


@pytest.fixture
def sent(monkeypatch):
    """Record every HTTP request botocore sends; refuse any that would leave this machine."""
    requests = []
    original = botocore.httpsession.URLLib3Session.send

    def send(self, request):
        host = urlsplit(request.url).hostname
        requests.append((host, request.headers.get("Authorization", b"")))
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a request left the machine: {request.url}")
        return original(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    return requests
