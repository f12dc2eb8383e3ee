"""Run All with each exercise answered: the learner typed the solution into the cell before the
check, and every check passes. On a server the notebooks did not start, in order, as under
``make lab``; its own server, so that it runs beside ``test_workbook_exercises.py``.
"""

from __future__ import annotations

import nbformat
import pytest
from workbook_variants import NOTEBOOKS, answered, execute, teaching, unexpected_errors

from meshkit.sandbox import EmbeddedServer, embedded_environment


@pytest.fixture(scope="module")
def shared_server():
    """One embedded AWS that the notebooks did not start, for every run in this file."""
    with EmbeddedServer() as server:
        yield server


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_with_the_solutions_typed_in_every_check_passes(shared_server, path):
    nb = answered(nbformat.read(path, as_version=4))

    executed = execute(nb, embedded_environment(shared_server.url))

    assert unexpected_errors(executed, allowed=teaching(executed)) == []
