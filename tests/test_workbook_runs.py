"""Run All as a room runs it: in order, on a server the notebooks did not start, and again.

nbval (conftest.py) checks each notebook alone on a wiped server. Learners under ``make lab``
share one server across notebooks and runs, so this file runs the notebooks the same way: in
order with plain ``jupyter nbconvert --execute`` (which honours only the ``raises-exception``
tag), then all again on the same server without a reset, with each exercise answered as a
learner who typed the solution into the cell before its check. ``test_workbook_exercises.py``
runs them half-finished and with the exercises unanswered, on a server of its own.
"""

from __future__ import annotations

import json
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


def _nbconvert(server, tmp_path, path) -> None:
    env = embedded_environment(server.url)
    clock = time.perf_counter()

    result = subprocess.run(
        [JUPYTER, "nbconvert", "--to", "notebook", "--execute", "--output-dir", str(tmp_path),
         f"--ExecutePreprocessor.timeout={CELL_TIMEOUT_S}", str(path)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 0, f"{path.name} stopped:\n{result.stderr[-3000:]}"
    print(f"{path.name}: {time.perf_counter() - clock:.1f} s")


# The mesh of notebooks 01-05 is checked as code between 05 and 06 (08 tears things down).
UP_TO_05 = [path for path in NOTEBOOKS if path.name[:2] <= "05"]
AFTER_05 = [path for path in NOTEBOOKS if path.name[:2] > "05"]


@pytest.mark.parametrize("path", UP_TO_05, ids=lambda p: p.name)
def test_nbconvert_runs_every_notebook_in_order_on_one_shared_server(shared_server, tmp_path, path):
    _nbconvert(shared_server, tmp_path, path)


_AS_CODE = """
import json, warnings
import meshkit as mk

mk.sandbox.start(quiet=True)
live = mk.mesh.discover()
stacks = mk.mesh.export_stacks(live)
production = mk.iam.assume_role("arn:aws:iam::444455556666:role/platform")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    deployed = mk.mesh.deploy_stacks(stacks, boto3_session=production)
checked = mk.mesh.check_deployed(stacks, live, boto3_session=production)
missing = checked[~checked["exists"]]
removed = mk.mesh.teardown(dry_run=False, boto3_session=production)
print(json.dumps({
    "clean": removed.clean,
    "stacks": sorted(stacks.templates),
    "cfn_lint": mk.mesh.lint_stacks(stacks).to_dict("records"),
    "status": sorted(set(deployed["status"])),
    "declared": len(stacks.resources()),
    "missing": sorted(set(missing["type"])),
    "unexplained": missing[~missing["note"].str.contains("embedded AWS")].to_dict("records"),
}))
"""


def test_the_mesh_of_notebooks_01_to_05_lints_clean_and_deploys_as_code(shared_server):
    """Given the mesh notebooks 01-05 built on a server that nothing in meshkit started, then
    `meshkit lint` exits 0 on it, its CloudFormation export passes cfn-lint, deploys into another
    account of that server with change sets, and every declared resource exists there except
    the types the embedded AWS skips, each named (P27, P47)."""
    env = embedded_environment(shared_server.url)

    linted = subprocess.run(
        [sys.executable, "-m", "meshkit", "lint"], env=env, capture_output=True, text=True
    )
    as_code = subprocess.run(
        [sys.executable, "-c", _AS_CODE], env=env, capture_output=True, text=True
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert as_code.returncode == 0, as_code.stderr[-3000:]
    report = json.loads(as_code.stdout.strip().splitlines()[-1])
    assert {"meshkit-sales", "meshkit-marketing", "meshkit-governance"} <= set(report["stacks"])
    assert report["cfn_lint"] == []
    assert report["status"] == ["CREATE_COMPLETE"]
    assert set(report["missing"]) <= {
        "AWS::SQS::QueuePolicy",
        "AWS::Events::EventBusPolicy",
        "map: bus-tags",
        "map: bus-policy",
        "map: queue-policy",
    }
    assert report["unexplained"] == []
    assert report["clean"], "teardown left tagged resources in the production account"


@pytest.mark.parametrize("path", AFTER_05, ids=lambda p: p.name)
def test_nbconvert_runs_the_later_notebooks_in_order_on_the_same_server(
    shared_server, tmp_path, path
):
    _nbconvert(shared_server, tmp_path, path)


# -- Then again on the same server, with the solutions typed in ------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_again_on_the_same_server_with_the_solutions_typed_in_every_check_passes(
    shared_server, path
):
    nb = answered(nbformat.read(path, as_version=4))

    executed = execute(nb, embedded_environment(shared_server.url))

    assert unexpected_errors(executed, allowed=teaching(executed)) == []
