"""The ``meshkit`` command: ``meshkit lab`` (make lab) and ``meshkit run`` (make run)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from .exceptions import MeshkitError
from .sandbox import DEFAULT_REGION, EmbeddedServer, embedded_environment

_STOP_GRACE_S = 20


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``meshkit`` console script."""
    parser = argparse.ArgumentParser(prog="meshkit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    lab = commands.add_parser(
        "lab", help="JupyterLab on the notebooks, with one embedded AWS shared by every kernel"
    )
    lab.add_argument(
        "--notebook-dir", default="notebooks", help="folder to open (default: %(default)s)"
    )
    lab.add_argument(
        "--aws-port", type=int, default=0, help="port of the embedded AWS (default: a free one)"
    )
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help="passed on to `jupyter lab`")
    lab.set_defaults(handler=_lab)

    run = commands.add_parser(
        "run", help="execute every notebook in order, headless, on a fresh embedded AWS"
    )
    run.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: all, in order)"
    )
    run.add_argument(
        "--write",
        action="store_true",
        help="save outputs in place, each notebook on a wiped and seeded server (for contributors)",
    )
    run.add_argument(
        "--cell-timeout", type=int, default=600, help="seconds per cell (default: %(default)s)"
    )
    run.set_defaults(handler=_run)

    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MeshkitError as err:
        print(f"meshkit: {err}", file=sys.stderr)
        return 2


def _lab(args: argparse.Namespace) -> int:
    notebook_dir = Path(args.notebook_dir)
    if not notebook_dir.is_dir():
        raise MeshkitError(f"--notebook-dir {notebook_dir} is not a folder")
    jupyter_args = [arg for arg in args.jupyter_args if arg != "--"]
    # SIGTERM (a killed make) and SIGHUP (a closed terminal) clean up like Ctrl-C does.
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.default_int_handler)
    with EmbeddedServer(port=args.aws_port) as server:
        env = embedded_environment(server.url)
        print(_lab_banner(server.url), flush=True)
        command = [
            sys.executable, "-m", "jupyterlab",
            f"--notebook-dir={notebook_dir.resolve()}",
            "--ServerApp.ip=127.0.0.1",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            *jupyter_args,
        ]  # fmt: skip
        # Its own session: Ctrl-C reaches only us, so JupyterLab never stops to ask "Shutdown?".
        jupyter = subprocess.Popen(command, env=env, start_new_session=True)
        try:
            return jupyter.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop(jupyter)  # whatever happened above, no JupyterLab outlives this command


def _lab_banner(url: str) -> str:
    exports = (
        f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing "
        f"AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={DEFAULT_REGION}"
    )
    return "\n".join(
        [
            f"Embedded AWS (moto) at {url}: account 123456789012, region {DEFAULT_REGION}, "
            "fake credentials.",
            "Every notebook kernel and JupyterLab terminal started here already points at it.",
            "From another terminal, point the AWS CLI at it like this:",
            "",
            f"    {exports}",
            f"    aws --endpoint-url {url} events list-event-buses",
            "",
            "Ctrl-C stops JupyterLab and the embedded AWS together.",
            "",
        ]
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the process group (JupyterLab shuts its kernels down), then SIGKILL what is left."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:  # a second Ctrl-C (or a closed terminal) must not cut clean-up short
            signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # stderr may be a closed pipe by now
        print("\nmeshkit lab: stopping JupyterLab and the embedded AWS...", file=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=_STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .workbook import NotebookRun, find_notebooks, run_notebooks

    paths = args.notebooks or find_notebooks()
    if not paths:
        raise MeshkitError("no notebooks to run")
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        raise MeshkitError(f"no such notebook: {', '.join(missing)}")
    console = Console()
    mode = "wiped and seeded before each notebook" if args.write else "shared by all, in order"
    console.print(f"Running {len(paths)} notebook(s) on a fresh embedded AWS ({mode}).")
    with Progress(
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("cells"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {Path(path): progress.add_task(Path(path).name, start=False) for path in paths}

        def on_cell(path: Path, done: int, total: int) -> None:
            progress.start_task(tasks[path])  # the clock starts with the notebook's first cell
            progress.update(tasks[path], completed=done, total=total)

        def on_notebook(run: NotebookRun) -> None:
            mark = "[green]passed[/]" if run.status == "passed" else "[red]FAILED[/]"
            progress.console.print(f"{mark} {run.notebook} in {run.seconds:.1f} s {run.error}")

        runs = run_notebooks(
            paths,
            fresh_per_notebook=args.write,
            write=args.write,
            cell_timeout=args.cell_timeout,
            on_cell=on_cell,
            on_notebook=on_notebook,
        )
    table = Table(title="meshkit run")
    for column, justify in [("notebook", "left"), ("cells", "right"), ("seconds", "right"),
                            ("status", "left")]:  # fmt: skip
        table.add_column(column, justify=justify)
    for run in runs:
        status = "passed" if run.status == "passed" else f"[red]FAILED[/] {run.error}"
        table.add_row(run.notebook, str(run.cells), f"{run.seconds:.1f}", status)
    console.print(table)
    failed = sum(run.status != "passed" for run in runs)
    console.print(f"{len(runs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
