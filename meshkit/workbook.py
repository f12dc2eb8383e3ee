"""Run the workbook's notebooks headless against a fresh embedded AWS.

``meshkit run`` (``make run``) is a workshop facilitator's pre-flight check: every notebook, in
order, on one fresh moto server, with progress and a closing table. ``meshkit run --write`` is how
contributors refresh the stored outputs: it gives each notebook a wiped, seeded server, exactly as
the test suite does before comparing outputs with nbval.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import nbformat

from .exceptions import NotFoundError
from .sandbox import EmbeddedServer, embedded_environment

if TYPE_CHECKING:
    from jupyter_client.manager import KernelManager

__all__ = [
    "CHECK_TAG",
    "NBSTRIPOUT_ARGS",
    "NOTEBOOK_SEED",
    "RAISES_TAG",
    "SOLUTION_TAG",
    "NotebookRun",
    "NotebooksNotFoundError",
    "ReadingTime",
    "expects_error",
    "find_notebooks",
    "reading_time",
    "run_notebooks",
]

_logger = logging.getLogger(__name__)

#: moto's random ids (event ids, message ids) are seeded with this before each notebook is checked.
NOTEBOOK_SEED = 42
#: The cell tag that JupyterLab's Run All, nbclient, nbconvert and nbval all honour: the cell
#: teaches an error (or checks an exercise), and running goes on after it.
RAISES_TAG = "raises-exception"
#: An exercise is a learner's cell, a check cell tagged ``exercise-check`` (it raises until the
#: answer is right), and a collapsed solution cell tagged ``solution``.
CHECK_TAG = "exercise-check"
SOLUTION_TAG = "solution"
#: The pace of a careful first read, calibrated on timed reads of notebooks 02-04.
WORDS_PER_MINUTE = 110
CODE_LINES_PER_MINUTE = 15
MINUTES_PER_CODE_CELL = 1 / 3  # run it, look at what it shows
MINUTES_PER_EXERCISE = 8
OPTIONAL_MARK = "(optional)"  # ends the heading of a section a learner may skip
#: Stored notebooks keep outputs and execution counts; only volatile metadata is stripped.
NBSTRIPOUT_ARGS = [
    "--keep-output",
    "--keep-count",
    "--extra-keys",
    "metadata.language_info.version",
]


# nbformat leaves read and write unannotated; these are their types as meshkit calls them.
_read_notebook: Callable[..., nbformat.NotebookNode] = nbformat.read
_write_notebook: Callable[..., None] = nbformat.write


class NotebooksNotFoundError(NotFoundError):
    """There is no notebooks folder, or no notebook, where the workbook was asked to look."""


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one notebook, as ``run_notebooks`` reports it.

    Attributes
    ----------
    notebook : str
        The notebook's file name.
    cells : int
        Its code cells.
    seconds : float
        How long it ran, to a tenth of a second.
    status : {"passed", "failed"}
        Failed when a cell raised (one not tagged ``raises-exception``), timed out or killed the
        kernel.
    error : str
        Which code cell failed, and how (``"code cell 2: ZeroDivisionError: division by
        zero"``); empty when it passed.

    Examples
    --------
    >>> from meshkit.workbook import NotebookRun
    >>> run = NotebookRun("02_publish_events.ipynb", cells=9, seconds=4.2, status="passed")
    >>> run.status, run.error
    ('passed', '')
    """

    notebook: str
    cells: int
    seconds: float
    status: Literal["passed", "failed"]
    error: str = ""


@dataclass(frozen=True)
class ReadingTime:
    """Minutes a careful first read of a chapter takes: the core, and the optional sections.

    Attributes
    ----------
    minutes : int
        The chapter without its optional sections.
    optional_minutes : int
        The sections whose heading ends with ``(optional)``.

    Examples
    --------
    >>> from meshkit.workbook import ReadingTime
    >>> time = ReadingTime(minutes=25, optional_minutes=10)
    >>> f"{time.minutes} min, {time.optional_minutes} more for the optional sections"
    '25 min, 10 more for the optional sections'
    """

    minutes: int
    optional_minutes: int


def reading_time(path: Path | str) -> ReadingTime:
    """Estimate how long a learner spends on a notebook, from what it asks them to read and do.

    Prose is read at ``WORDS_PER_MINUTE``, code at ``CODE_LINES_PER_MINUTE``; every code cell adds
    ``MINUTES_PER_CODE_CELL`` to run it and look at its output, every exercise
    ``MINUTES_PER_EXERCISE``. Hidden solutions are not counted (the exercise's minutes cover them).
    Sections whose ``##`` heading ends with ``(optional)`` are counted apart.

    Parameters
    ----------
    path : path or str
        The notebook.

    Returns
    -------
    ReadingTime

    Raises
    ------
    FileNotFoundError
        When there is no file at ``path``.

    Examples
    --------
    >>> import tempfile
    >>> import nbformat
    >>> from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    >>> from meshkit.workbook import reading_time
    >>> with tempfile.TemporaryDirectory() as folder:  # 220 words and one line of code
    ...     path = f"{folder}/01_read_me.ipynb"
    ...     nbformat.write(new_notebook(cells=[new_markdown_cell("word " * 220),
    ...                                        new_code_cell("x = 1")]), path)
    ...     reading_time(path)
    ReadingTime(minutes=2, optional_minutes=0)
    """
    nb = _read_notebook(path, as_version=4)
    minutes = {False: 0.0, True: 0.0}
    optional = False
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    optional = line.rstrip().endswith(OPTIONAL_MARK)
            minutes[optional] += len(cell.source.split()) / WORDS_PER_MINUTE
        elif cell.cell_type == "code" and SOLUTION_TAG not in tags:
            lines = [line for line in cell.source.splitlines() if line.strip()]
            minutes[optional] += len(lines) / CODE_LINES_PER_MINUTE + MINUTES_PER_CODE_CELL
            minutes[optional] += MINUTES_PER_EXERCISE * (CHECK_TAG in tags)
    return ReadingTime(round(minutes[False]), round(minutes[True]))


def find_notebooks(root: Path | str = "notebooks") -> list[Path]:
    """The workbook's notebooks in reading order (``NN_verb_object.ipynb``).

    Parameters
    ----------
    root : path or str, default "notebooks"
        The folder that holds them.

    Returns
    -------
    list of Path
        Files named two digits, an underscore, anything, ``.ipynb``, sorted by name.

    Raises
    ------
    NotebooksNotFoundError
        When ``root`` is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from meshkit.workbook import find_notebooks
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ("02_subscribe.ipynb", "01_publish.ipynb", "scratch.ipynb"):
    ...         Path(folder, name).touch()
    ...     [path.name for path in find_notebooks(folder)]
    ['01_publish.ipynb', '02_subscribe.ipynb']
    >>> find_notebooks("no-such-folder")
    Traceback (most recent call last):
    ...
    meshkit.workbook.NotebooksNotFoundError: no notebooks folder at ...
    """
    folder = Path(root)
    if not folder.is_dir():
        raise NotebooksNotFoundError(
            f"no notebooks folder at {folder.resolve()}: run from the workbook's top folder, "
            "or name the notebooks to run"
        )
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


def expects_error(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell tagged ``raises-exception``: Run All goes on when it raises.

    Parameters
    ----------
    cell : nbformat.NotebookNode
        A cell of a notebook read with ``nbformat``.

    Returns
    -------
    bool

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell
    >>> from meshkit.workbook import RAISES_TAG, expects_error
    >>> expects_error(new_code_cell("1 / 0", metadata={"tags": [RAISES_TAG]}))
    True
    >>> expects_error(new_code_cell("1 + 1"))
    False
    """
    return RAISES_TAG in cell.get("metadata", {}).get("tags", [])


def run_notebooks(
    paths: Iterable[Path | str],
    *,
    fresh_per_notebook: bool = False,
    write: bool = False,
    cell_timeout: int = 600,
    on_cell: Callable[[Path, int, int], None] | None = None,
    on_notebook: Callable[[NotebookRun], None] | None = None,
) -> list[NotebookRun]:
    """Execute notebooks in order on one embedded moto server started for this run.

    Parameters
    ----------
    paths : iterable of path
        Notebooks, run in the order given.
    fresh_per_notebook : bool, default False
        Wipe and seed the server before each notebook (each then runs as if alone). Otherwise they
        share it, as learners do, and later notebooks find earlier notebooks' resources.
    write : bool, default False
        Save each executed notebook in place, outputs and execution counts included, with volatile
        metadata stripped by nbstripout (a development dependency).
    cell_timeout : int, default 600
        Seconds a single cell may run.
    on_cell, on_notebook : callable, optional
        Progress hooks: ``on_cell(path, done, total)`` after each cell, ``on_notebook(run)`` after
        each notebook.

    Returns
    -------
    list of NotebookRun
        One per notebook, in the order run. A failed notebook does not stop the others.

    Raises
    ------
    meshkit.exceptions.TargetError
        When the embedded server cannot start (moto's server is not installed).

    Examples
    --------
    >>> import tempfile
    >>> import nbformat
    >>> from nbformat.v4 import new_code_cell, new_notebook
    >>> from meshkit.workbook import run_notebooks
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = f"{folder}/01_divide.ipynb"
    ...     nbformat.write(new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("x / 0")]),
    ...                    path)
    ...     [run] = run_notebooks([path])
    >>> run.notebook, run.status, run.error
    ('01_divide.ipynb', 'failed', 'code cell 2: ZeroDivisionError: division by zero')
    """
    runs = []
    with EmbeddedServer() as server:
        kernel_env = embedded_environment(server.url)
        for path in map(Path, paths):
            if fresh_per_notebook:
                server.reset(seed=NOTEBOOK_SEED)
            run = _run_one(path, kernel_env, write, cell_timeout, on_cell)
            runs.append(run)
            if on_notebook is not None:
                on_notebook(run)
    return runs


def _run_one(
    path: Path,
    kernel_env: dict[str, str],
    write: bool,
    cell_timeout: int,
    on_cell: Callable[[Path, int, int], None] | None,
) -> NotebookRun:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = _read_notebook(path, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    started = done = 0  # code cells started and completed, for progress and error messages

    def cell_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        nonlocal started
        started += cell.cell_type == "code"

    def cell_complete(cell: nbformat.NotebookNode, cell_index: int) -> None:
        nonlocal done
        if cell.cell_type == "code":
            done += 1
            if on_cell is not None:
                on_cell(path, done, len(code_cells))

    kernel = _current_python_kernel()
    client = NotebookClient(
        nb,
        km=kernel,
        timeout=cell_timeout,
        record_timing=False,
        on_cell_start=cell_start,
        on_cell_complete=cell_complete,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    clock = time.perf_counter()
    error = ""
    try:
        # The kernel's own log lines (stderr) are noise here; its outputs arrive over ZMQ.
        client.execute(env=kernel_env, stderr=subprocess.DEVNULL)
    except CellExecutionError as err:
        error = f"code cell {started}: {err.ename}: {err.evalue}"
    except (CellTimeoutError, DeadKernelError) as err:
        error = f"code cell {started}: {type(err).__name__}: {str(err).splitlines()[0]}"
    finally:
        if kernel.has_kernel:  # we passed the manager in, so nbclient leaves shutdown to us
            kernel.shutdown_kernel(now=True)
    seconds = time.perf_counter() - clock
    if write and not error:
        _keep_only_error_lines(nb)
        _write_notebook(nb, path)
        subprocess.run(
            [sys.executable, "-m", "nbstripout", *NBSTRIPOUT_ARGS, str(path)], check=True
        )
    status: Literal["passed", "failed"] = "failed" if error else "passed"
    return NotebookRun(path.name, len(code_cells), round(seconds, 1), status, error)


def _keep_only_error_lines(nb: nbformat.NotebookNode) -> None:
    """Store a raised error as its last line: frames would carry this machine's file paths."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error" and output.traceback:
                output.traceback = output.traceback[-1:]


def _current_python_kernel() -> KernelManager:
    """A kernel manager for this interpreter, whatever ``python3`` kernelspecs are installed."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            spec = ipykernel.kernelspec.get_kernel_dict()
            spec["argv"][0] = sys.executable
            return KernelSpec(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)

    return KernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython())
