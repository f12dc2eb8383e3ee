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

from meshkit.workbook import (
    CHECK_TAG,
    NBSTRIPOUT_ARGS,
    RAISES_TAG,
    SOLUTION_TAG,
    expects_error,
    find_notebooks,
    reading_time,
)

NOTEBOOKS = find_notebooks(Path(__file__).resolve().parent.parent / "notebooks")
NAME = re.compile(r"\d\d_[a-z]+(_[a-z0-9]+)*\.ipynb")
RANDOM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIME = re.compile(
    r"\*\*Time to complete\.\*\* About (\d+) minutes(?:, plus (\d+) for the optional sections)?\."
)
MAP_ROW = re.compile(r"^\| \[`(\d\d_\w+)`\]\((\d\d_\w+)\.ipynb\) \|.*\| about (\d+) min \|$", re.M)
BOX = "<summary><b>Offline vs AWS</b>"
PINNED_BY = re.compile(r"tests/(test_\w+\.py)::(test_\w+)")
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


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def stated_minutes(path: Path) -> tuple[int, int]:
    """The (core, optional) minutes a chapter's header states."""
    found = TIME.search(nbformat.read(path, as_version=4).cells[0].source)
    assert found, "the header says 'About N minutes' (', plus M for the optional sections.')"
    return int(found[1]), int(found[2] or 0)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_are_marked_with_tags_not_comments(path):
    """Tags travel with the cell to every Jupyter client; nbval's comments only reach nbval."""
    for index, cell in enumerate(code_cells(path)):
        assert "NBVAL_" not in cell.source, f"code cell {index}: use a tag, not an NBVAL comment"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_come_as_learner_cell_check_then_hidden_solution(path):
    cells = code_cells(path)
    check_at = [index for index, cell in enumerate(cells) if CHECK_TAG in tags(cell)]

    assert len(check_at) >= 2, "at least two exercises, each with a check cell"
    for index in check_at:
        learner, check, solution = cells[index - 1], cells[index], cells[index + 1]
        assert RAISES_TAG in tags(check), f"code cell {index}: the check must let Run All go on"
        assert not {CHECK_TAG, SOLUTION_TAG} & set(tags(learner)), "the learner's cell comes first"
        assert SOLUTION_TAG in tags(solution), f"code cell {index + 1}: the solution follows"
        assert solution.metadata.get("jupyter", {}).get("source_hidden"), "solution collapsed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_stated_time_is_the_time_a_careful_read_takes(path):
    core, optional = stated_minutes(path)
    estimate = reading_time(path)

    for stated, estimated in ((core, estimate.minutes), (optional, estimate.optional_minutes)):
        assert abs(stated - estimated) <= max(5, 0.15 * estimated), (
            f"the header says {core} (+{optional} optional) minutes; a read takes about "
            f"{estimate.minutes} (+{estimate.optional_minutes}): update the header"
        )


def test_the_map_in_00_lists_every_chapter_with_its_time():
    start_here = nbformat.read(NOTEBOOKS[0], as_version=4)
    rows = MAP_ROW.findall("\n".join(cell.source for cell in start_here.cells))

    assert [name for name, _, _ in rows] == [path.stem for path in NOTEBOOKS]
    assert all(shown == linked for shown, linked, _ in rows)
    for (_, _, minutes), path in zip(rows, NOTEBOOKS, strict=True):
        assert int(minutes) == stated_minutes(path)[0], f"{path.name}: time in 00's map"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_offline_vs_aws_box_names_the_parity_tests_that_pin_it(path):
    boxes = [c.source for c in nbformat.read(path, as_version=4).cells if BOX in c.source]

    assert len(boxes) == 1, "one collapsible Offline vs AWS box per chapter"
    for module, test in PINNED_BY.findall(boxes[0]):
        source = (Path(__file__).parent / module).read_text()
        assert f"def {test}(" in source, f"{test} is not in tests/{module}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_chapter_has_a_picture(path):
    nb = nbformat.read(path, as_version=4)
    diagrams = sum("```mermaid" in cell.source for cell in nb.cells if cell.cell_type == "markdown")
    outputs = [output for cell in code_cells(path) for output in cell.outputs]
    plots = sum("image/png" in output.get("data", {}) for output in outputs)

    assert diagrams + plots >= 1


# Facts of Custom Event Bus - Classic that the new Custom Event Bus (eventbridgev2) changes: 100
# entries per PutEvents, 5 attempts in 300 s, ordered delivery per event group, starting positions
# in the past, deduplication within 5 minutes. (EventBridge User Guide, "Custom Event Bus".)
CLASSIC_ONLY = re.compile(
    r"\b10 entries\b|\b185\b|new `id`|\bkeeps? (?:any )?order\b|published before it existed"
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_fact_true_only_of_classic_buses_says_so(path):
    nb = nbformat.read(path, as_version=4)
    paragraphs = [
        paragraph
        for cell in nb.cells
        if cell.cell_type == "markdown"
        for paragraph in re.split(r"\n\s*\n|\n- ", cell.source)
    ]

    unlabelled = [p for p in paragraphs if CLASSIC_ONLY.search(p) and "Classic" not in p]

    assert not unlabelled, f"say that this holds for a Classic bus: {unlabelled[0][:200]!r}"
