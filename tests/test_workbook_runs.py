"""Run All as a room runs it: in order, on a server the notebooks did not start, and again.

nbval (conftest.py) checks each notebook alone on a wiped server. Learners under ``make lab``
share one server across notebooks and runs, so this file runs the notebooks the same way: in
order with plain ``jupyter nbconvert --execute`` (which honours only the ``raises-exception``
tag), then all again on the same server without a reset, with each exercise answered as a
learner who typed the solution into the cell before its check. ``test_workbook_exercises.py``
runs them half-finished and with the exercises unanswered, on a server of its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from workbook_variants import NOTEBOOKS, answered, execute, teaching, unexpected_errors

from meshkit.sandbox import EmbeddedServer, embedded_environment

JUPYTER = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def shared_server():
    """One embedded AWS that the notebooks did not start, as `make lab` provides."""
    with EmbeddedServer() as server:
        yield server


# -- Run All with plain nbconvert, in order, on one server ---------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nbconvert_runs_every_notebook_in_order_on_one_shared_server(shared_server, tmp_path, path):
    env = embedded_environment(shared_server.url)
    clock = time.perf_counter()

    result = subprocess.run(
        [JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(tmp_path),
         f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", str(path)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, f"{path.name} stopped:\n{result.stderr[-3000:]}"
    print(f"{path.name}: {time.perf_counter() - clock:.1f} s")


# -- Then again on the same server, with the solutions typed in ------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_again_on_the_same_server_with_the_solutions_typed_in_every_check_passes(
    shared_server, path
):
    nb = answered(nbformat.read(path, as_version=4))

    executed = execute(nb, embedded_environment(shared_server.url))

    assert unexpected_errors(executed, allowed=teaching(executed)) == []
