"""`meshkit run`: the facilitator's pre-flight check runs notebooks and fails loudly."""

from __future__ import annotations

import subprocess
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_notebook


def write_notebook(path, *sources):
    """One code cell per source; a (source, tags) pair makes a tagged cell."""
    cells = [
        new_code_cell(source, metadata={"tags": tags})
        for source, tags in (s if isinstance(s, tuple) else (s, []) for s in sources)
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def meshkit(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "meshkit.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_run_passes_notebooks_that_work_on_one_shared_mesh(tmp_path):
    first = write_notebook(
        tmp_path / "00_make_bus.ipynb",
        "import meshkit as mk\ntarget = mk.sandbox.start()",
        'mk.buses.create_domain_bus("sales")',
        ("raise ValueError('taught, not failed')", ["raises-exception"]),
    )
    second = write_notebook(
        tmp_path / "01_find_bus.ipynb",
        "import meshkit as mk\ntarget = mk.sandbox.start()",
        'assert mk.buses.list_domain_buses().bus.tolist() == ["SalesEventBus"]',
    )

    result = meshkit("run", str(first), str(second), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "00_make_bus.ipynb" in result.stdout
    assert "2 passed, 0 failed" in result.stdout


def test_run_exits_non_zero_and_names_the_failing_cell(tmp_path):
    good = write_notebook(tmp_path / "00_good.ipynb", "x = 1")
    bad = write_notebook(tmp_path / "01_bad.ipynb", "x = 1", "1 / 0", "print('never')")

    result = meshkit("run", str(good), str(bad), cwd=tmp_path)

    assert result.returncode == 1
    assert "code cell 2: ZeroDivisionError" in result.stdout
    assert "1 passed, 1 failed" in result.stdout
    assert nbformat.read(bad, as_version=4).cells[1].outputs == [], "left as it was"


def test_run_without_a_notebooks_folder_says_what_to_do(tmp_path):
    result = meshkit("run", cwd=tmp_path)

    assert result.returncode == 2
    assert "run from the workbook's top folder" in result.stderr
