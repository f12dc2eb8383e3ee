"""Run All as learners leave it: stopped halfway, then with the exercises unanswered.

On a server the notebooks did not start (as under ``make lab``), every notebook is cut off
halfway (or where Run All used to stop), then each runs with its solutions removed: exactly the
exercise checks fail. ``test_workbook_runs.py`` runs them with the solutions typed in, on a
server of its own, so that the two chains run side by side.
"""

from __future__ import annotations

import nbformat
import pytest
from workbook_variants import (
    NOTEBOOKS,
    checks,
    code_cells,
    cut_short,
    execute,
    failed,
    first_line,
    teaching,
    unexpected_errors,
    without_solutions,
)

from meshkit.sandbox import EmbeddedServer, embedded_environment


@pytest.fixture(scope="module")
def shared_server():
    """One embedded AWS that the notebooks did not start, for every run in this file."""
    with EmbeddedServer() as server:
        yield server


# -- Half-finished runs, then the exercises unanswered ------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_stopped_halfway_leaves_a_mesh_the_next_ones_can_use(shared_server, path):
    nb = cut_short(nbformat.read(path, as_version=4))

    executed = execute(nb, embedded_environment(shared_server.url))

    assert unexpected_errors(executed, allowed=teaching(executed)) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_without_the_solutions_exactly_the_exercise_checks_fail(shared_server, path):
    nb = without_solutions(nbformat.read(path, as_version=4))

    executed = execute(nb, embedded_environment(shared_server.url))

    assert unexpected_errors(executed, allowed=teaching(executed) | checks(executed)) == []
    still_passing = [
        first_line(code_cells(executed)[index])
        for index in checks(executed)
        if not failed(code_cells(executed)[index])
    ]
    assert still_passing == [], "a check passed before the learner answered: it cannot fail"
