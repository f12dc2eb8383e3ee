"""Fixtures of the unit tests; the session's embedded AWS comes from the top-level conftest.py."""

from __future__ import annotations

import pytest

import meshkit as mk


@pytest.fixture
def mesh() -> mk.sandbox.Target:
    """The session's embedded AWS, wiped: each test starts with an empty mesh."""
    target = mk.sandbox.start(quiet=True)
    mk.sandbox.reset()
    return target
