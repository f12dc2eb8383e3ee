"""Notebooks as learners leave them, and how to run them as JupyterLab's Run All does.

Shared by ``test_workbook_exercises.py`` (stopped halfway; the exercises unanswered) and
``test_workbook_runs.py`` (run again with each solution typed into the learner's cell).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from meshkit.workbook import CHECK_TAG, RAISES_TAG, SOLUTION_TAG, find_notebooks

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = find_notebooks(NOTEBOOK_DIR)
CELL_TIMEOUT_S = 600


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def failed(cell: nbformat.NotebookNode) -> bool:
    return any(output.output_type == "error" for output in cell.get("outputs", []))


def first_line(cell: nbformat.NotebookNode) -> str:
    return (cell.source.strip().splitlines() or [""])[0]


def execute(nb: nbformat.NotebookNode, env: dict[str, str]) -> nbformat.NotebookNode:
    """Run every cell with nbclient, keeping errors as outputs as JupyterLab's Run All does."""
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute(env=env, stderr=subprocess.DEVNULL)
    return nb


def unexpected_errors(nb: nbformat.NotebookNode, allowed: set[int]) -> list[str]:
    """Cells that raised although they are not in ``allowed`` (indices into the code cells)."""
    return [
        f"code cell {index + 1} ({first_line(cell)!r}): "
        + next(f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error")
        for index, cell in enumerate(code_cells(nb))
        if failed(cell) and index not in allowed
    ]


def teaching(nb: nbformat.NotebookNode) -> set[int]:
    """Code cells that teach an error (tagged raises-exception, not an exercise check)."""
    return {
        index
        for index, cell in enumerate(code_cells(nb))
        if RAISES_TAG in tags(cell) and CHECK_TAG not in tags(cell)
    }


def checks(nb: nbformat.NotebookNode) -> set[int]:
    return {index for index, cell in enumerate(code_cells(nb)) if CHECK_TAG in tags(cell)}


def without_solutions(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a learner who has not answered yet runs it."""
    copy = nbformat.from_dict(nb)
    copy.cells = [cell for cell in copy.cells if SOLUTION_TAG not in tags(cell)]
    return copy


def answered(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a learner who typed each solution into the cell before its check runs it."""
    copy = nbformat.from_dict(nb)
    cells = code_cells(copy)
    for index, cell in enumerate(cells):
        if CHECK_TAG in tags(cell):
            cells[index - 1].source = cells[index + 1].source
    copy.cells = [cell for cell in copy.cells if SOLUTION_TAG not in tags(cell)]
    return copy


def cut_short(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a learner who stopped halfway (or where Run All used to stop) left it."""
    cells = code_cells(nb)
    raising = [i for i, cell in enumerate(cells) if RAISES_TAG in tags(cell)]
    stop = min([len(cells) // 2, *raising[:1]]) + 1
    copy = nbformat.from_dict(nb)
    copy.cells = cells[:stop]
    return copy
