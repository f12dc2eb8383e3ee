"""Run All as a room runs it: in order, on a server the notebooks did not start, and again.

nbval (conftest.py) checks each notebook alone on a wiped server. Learners under ``make lab``
share one server across notebooks and runs, so this file runs the notebooks the same way: in
order with plain ``jupyter nbconvert --execute`` (which honours only the ``raises-exception``
tag), then all again on the same server without a reset. ``test_workbook_exercises.py`` runs
them half-finished and with the exercises answered or not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from meshkit.sandbox import EmbeddedServer, embedded_environment
from meshkit.workbook import find_notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = find_notebooks(NOTEBOOK_DIR)
JUPYTER = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
CELL_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def shared_server():
    """One embedded AWS that the notebooks did not start, as `make lab` provides."""
    with EmbeddedServer() as server:
        yield server


# -- Run All with plain nbconvert, in order, twice on one server ----------------------------------


@pytest.mark.parametrize(
    "run, path",
    [(run, path) for run in ("first", "again") for path in NOTEBOOKS],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_nbconvert_runs_every_notebook_in_order_and_again_on_one_shared_server(
    shared_server, tmp_path, run, path
):
    env = embedded_environment(shared_server.url)
    clock = time.perf_counter()

    result = subprocess.run(
        [JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(tmp_path),
         f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", str(path)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, f"{path.name} ({run} run) stopped:\n{result.stderr[-3000:]}"
    print(f"{path.name} ({run} run): {time.perf_counter() - clock:.1f} s")
