"""The stored notebooks are the textbook: executed, named and laid out as the conventions say.

nbval compares their outputs cell by cell (see conftest.py); these tests check what nbval does not.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from meshkit.workbook import NBSTRIPOUT_ARGS, expects_error, find_notebooks

NOTEBOOKS = find_notebooks(Path(__file__).resolve().parent.parent / "notebooks")
NAME = re.compile(r"\d\d_[a-z]+(_[a-z0-9]+)*\.ipynb")
RANDOM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOCAL_PATH = re.compile(r"(/home/|/root/|/Users/|/tmp/|/work/|site-packages|\\\\Users\\\\)")


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]


def test_the_workbook_has_its_first_chapters():
    assert [p.name for p in NOTEBOOKS[:5]] == [
        "00_start_here.ipynb",
        "01_create_domain_event_buses.ipynb",
        "02_publish_domain_events.ipynb",
        "03_consume_events_across_domains.ipynb",
        "04_apply_iam_policies.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_named_nn_verb_object(path):
    assert NAME.fullmatch(path.name)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_executed_in_order_with_the_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)

    assert nb.metadata.kernelspec.name == "python3"
    counts = [cell.execution_count for cell in code_cells(path)]
    assert None not in counts, "every code cell was executed (strict nbval compares nothing else)"
    assert counts == list(range(1, len(counts) + 1)), "executed top to bottom in one kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_errors_are_stored_only_where_a_cell_teaches_one(path):
    for index, cell in enumerate(code_cells(path)):
        raised = any(output.output_type == "error" for output in cell.outputs)
        assert raised == expects_error(cell), f"code cell {index}: error output vs marker"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_path_of_the_machine_that_ran_them(path):
    for index, cell in enumerate(code_cells(path)):
        for output in cell.outputs:
            assert not LOCAL_PATH.search(str(output)), f"code cell {index} shows a local path"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_hold_no_random_ids(path):
    """A UUID in a stored output differs on the next run: fix the id, or do not show it."""
    for index, cell in enumerate(code_cells(path)):
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        for output in cell.outputs:
            assert not RANDOM_ID.search(str(output)), f"code cell {index} shows a random id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_opens_and_closes_as_a_chapter(path):
    nb = nbformat.read(path, as_version=4)
    opening, text = (
        nb.cells[0].source,
        "\n".join(c.source for c in nb.cells if c.cell_type == "markdown"),
    )

    assert opening.startswith("# ")
    for part in ("**What you'll do.**", "**Learning objectives.**", "**Prerequisites.**",
                 "**Time to complete.**"):  # fmt: skip
        assert part in opening
    for heading in ("## Setup", "## Exercise", "## Summary", "## What's next", "## On real AWS",
                    "## Further reading"):  # fmt: skip
        assert heading in text
    assert "mk.sandbox.start()" in code_cells(path)[0].source, (
        "the first code cell starts the target"
    )


def test_only_volatile_metadata_is_stripped():
    result = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *NBSTRIPOUT_ARGS, *map(str, NOTEBOOKS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"run `make notebooks` to re-store them:\n{result.stdout}"
