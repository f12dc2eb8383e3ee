"""The ``meshkit`` command: ``lab`` (make lab), ``run`` (make run), ``reset`` and ``lint``.

Also ``python -m meshkit ...``, which works the same on Windows, where there is no ``make``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ._shared import OWNER_TAG
from .exceptions import MeshkitError, TargetError, ValidationError
from .mesh import SEVERITIES
from .sandbox import (
    DEFAULT_REGION,
    SERVER_MARKER_VARIABLE,
    EmbeddedServer,
    NotMeshkitServerError,
    check_endpoint,
    embedded_environment,
    reset,
    started_by_meshkit,
)

if TYPE_CHECKING:
    from rich.console import JustifyMethod

_STOP_GRACE_S = 20
_CHECK_TIMEOUT_S = 180
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never a proxy
_WINDOWS = os.name == "nt"


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
        "--aws-port",
        type=_tcp_port(free_allowed=True),
        default=0,
        help="port of the embedded AWS (default: a free one)",
    )
    lab.add_argument(
        "--check",
        action="store_true",
        help="start, check that JupyterLab answers and starts a kernel on the embedded AWS, stop "
        "(a laptop's pre-flight)",
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

    reset = commands.add_parser(
        "reset",
        help="wipe the embedded AWS that `meshkit lab` started (every notebook's resources)",
        description="Wipe every resource of the embedded AWS that `meshkit lab` started. Run it "
        "in JupyterLab's terminal, or name the server with --endpoint or --aws-port (a moto "
        "server on this machine, whoever started it). Then re-run the notebook you were on: each "
        "one creates what it needs.",
    )
    where = reset.add_mutually_exclusive_group()
    where.add_argument(
        "--endpoint",
        help="the embedded AWS's URL (default: $AWS_ENDPOINT_URL, if `meshkit lab` started it)",
    )
    where.add_argument(
        "--aws-port",
        type=_tcp_port(free_allowed=False),
        help="the embedded AWS's port on 127.0.0.1",
    )
    reset.set_defaults(handler=_reset)

    lint = commands.add_parser(
        "lint",
        help="check the live mesh against its governance rules (exit 1 on findings, for CI)",
        description="Read the live mesh (buses, rules, targets, queues, policies, tags) and check "
        "it against the mesh's governance rules. Exit status: 0 when no finding is at or above "
        "--fail-on, 1 when some are, 2 when the mesh could not be read. The mesh is the one "
        "AWS_ENDPOINT_URL names (JupyterLab's terminal under `meshkit lab`), --endpoint, or real "
        "AWS when opted in (MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT).",
    )
    lint.add_argument(
        "--fail-on",
        type=str.upper,
        choices=SEVERITIES,
        default="LOW",
        help="the lowest severity that fails the run (default: %(default)s, every finding)",
    )
    lint.add_argument(
        "--format", choices=("table", "json"), default="table", help="output (default: table)"
    )
    lint.add_argument("--endpoint", help="an embedded AWS or other endpoint's URL to read")
    lint.add_argument(
        "--owner-tag", default=OWNER_TAG, help="the tag naming an owner (default: %(default)s)"
    )
    lint.add_argument(
        "--role",
        action="append",
        default=[],
        metavar="ARN",
        help="a role of another account of the mesh to read it with (repeat for several)",
    )
    lint.set_defaults(handler=_lint)

    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except MeshkitError as err:
        print(f"meshkit: {err}", file=sys.stderr)
        return 2


def _tcp_port(*, free_allowed: bool) -> Callable[[str], int]:
    """An argparse type for --aws-port: argparse names the option and exits 2 when it fails."""
    lowest, hint = (0, "1-65535, or 0 for a free one") if free_allowed else (1, "1-65535")

    def port(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = -1
        if not lowest <= number <= 65535:
            raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port: use {hint}")
        return number

    return port


def _lab(args: argparse.Namespace) -> int:
    notebook_dir = Path(args.notebook_dir)
    if not notebook_dir.is_dir():
        from .workbook import NotebooksNotFoundError  # imports nbformat: only when it is needed

        raise NotebooksNotFoundError(
            f"--notebook-dir {notebook_dir} is not a folder: run from the workbook's top folder, "
            "or name the folder that holds the notebooks"
        )
    jupyter_args = [arg for arg in args.jupyter_args if arg != "--"]
    if args.check:
        token = secrets.token_hex(16)
        port = _free_port()
        jupyter_args += [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
                         "--no-browser"]  # fmt: skip
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
        # Its own process group: Ctrl-C reaches only us, so JupyterLab never stops to ask
        # "Shutdown?", and we stop it with all its kernels.
        jupyter = subprocess.Popen(command, env=env, **_own_process_group())
        try:
            if args.check:
                return _check_lab(jupyter, f"http://127.0.0.1:{port}", token, server.url)
            return jupyter.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop(jupyter)  # whatever happened above, no JupyterLab outlives this command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_lab(jupyter: subprocess.Popen[bytes], base: str, token: str, aws_url: str) -> int:
    """Wait for JupyterLab, run a cell in a new kernel that asks the embedded AWS who it is."""
    headers = {"Authorization": f"token {token}"}
    deadline = time.monotonic() + _CHECK_TIMEOUT_S
    kernel = None
    while kernel is None and time.monotonic() < deadline and jupyter.poll() is None:
        request = urllib.request.Request(f"{base}/api/kernels", b"{}", headers, method="POST")
        try:
            with _LOCAL.open(request, timeout=10) as response:
                kernel = json.load(response)["id"]
        except (OSError, ValueError, http.client.HTTPException):
            time.sleep(0.5)  # not up yet
    answer = None
    if kernel is not None:
        ws_url = f"{base.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels"
        code = 'import boto3; print(boto3.client("sts").get_caller_identity()["Account"])'
        with contextlib.suppress(Exception):  # whatever fails, the verdict below says so
            answer = asyncio.run(_run_in_kernel(ws_url, headers, code, deadline - time.monotonic()))
    if answer == "123456789012":
        print(f"meshkit lab --check: ready. JupyterLab at {base} ran a cell in a kernel that "
              f"reached the embedded AWS at {aws_url}.", flush=True)  # fmt: skip
        return 0
    step = "JupyterLab to start a kernel" if kernel is None else "a cell to reach the embedded AWS"
    print(f"meshkit lab --check: FAILED waiting for {step} (got {answer!r}; JupyterLab's exit "
          f"code: {jupyter.poll()})", file=sys.stderr, flush=True)  # fmt: skip
    return 1


async def _run_in_kernel(ws_url: str, headers: dict[str, str], code: str, timeout: float) -> str:
    """Execute ``code`` over JupyterLab's kernel websocket; return what it printed."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    socket_ = await websocket_connect(HTTPRequest(ws_url, headers=headers))
    msg_id = secrets.token_hex(8)
    header = {"msg_id": msg_id, "msg_type": "execute_request", "session": secrets.token_hex(8),
              "username": "meshkit", "version": "5.3"}  # fmt: skip
    content = {"code": code, "silent": False, "store_history": False}
    socket_.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                                      "content": content, "channel": "shell"}))  # fmt: skip
    printed: list[str] = []

    async def read_until_done() -> None:
        while message := await socket_.read_message():
            reply = json.loads(message)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "stream":
                printed.append(reply["content"]["text"])
            elif reply["msg_type"] in ("error", "execute_reply"):
                return

    await asyncio.wait_for(read_until_done(), timeout)  # asyncio.timeout needs Python 3.11
    socket_.close()
    return "".join(printed).strip()


def _lab_banner(url: str) -> str:
    settings = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }
    bash = "export " + " ".join(f"{key}={value}" for key, value in settings.items())
    powershell = "; ".join(f'$env:{key}="{value}"' for key, value in settings.items())
    return "\n".join(
        [
            f"Embedded AWS (moto) at {url}: account 123456789012, region {DEFAULT_REGION}, "
            "fake credentials.",
            "Every notebook kernel and JupyterLab terminal started here already points at it.",
            "To point another terminal (an AWS CLI, a script) at it:",
            "",
            f"    bash/zsh:    {bash}",
            f"    PowerShell:  {powershell}",
            "    then:        aws events list-event-buses",
            "",
            "Stuck? `meshkit reset` in JupyterLab's terminal wipes it; re-run your notebook.",
            "Ctrl-C stops JupyterLab and the embedded AWS together.",
            "",
        ]
    )


class _ProcessGroup(TypedDict, total=False):
    """The Popen arguments of ``_own_process_group`` (one or the other, by OS)."""

    creationflags: int
    start_new_session: bool


def _own_process_group() -> _ProcessGroup:
    """Popen arguments that start a child in a process group of its own, on any OS."""
    if _WINDOWS:
        return {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)}
    return {"start_new_session": True}


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask the child's process group to stop (JupyterLab shuts its kernels down), then kill it."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:  # a second Ctrl-C (or a closed terminal) must not cut clean-up short
            signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):  # stderr may be a closed pipe by now
        print("\nmeshkit lab: stopping JupyterLab and the embedded AWS...", file=sys.stderr)
    for ask, force in ((True, False), (False, True)):
        try:
            _signal_group(process, force=force)
        except (ProcessLookupError, OSError):
            return
        try:
            process.wait(timeout=_STOP_GRACE_S if ask else None)
            return
        except subprocess.TimeoutExpired:
            continue


def _signal_group(process: subprocess.Popen[bytes], *, force: bool) -> None:
    """SIGTERM (or SIGKILL) the process group; on Windows, CTRL_BREAK (or kill the tree)."""
    if not _WINDOWS:
        os.killpg(process.pid, signal.SIGKILL if force else signal.SIGTERM)
    elif force:  # kernels are JupyterLab's children: take the whole tree
        subprocess.run(
            ["taskkill", "/T", "/F", "/PID", str(process.pid)], capture_output=True, check=False
        )
    elif sys.platform == "win32":  # true here; spelled so that type checkers know the signal
        process.send_signal(signal.CTRL_BREAK_EVENT)


def _reset(args: argparse.Namespace) -> int:
    """Wipe the server named on the command line, or the one `meshkit lab` gave this terminal."""
    if args.aws_port is not None:
        endpoint = check_endpoint(
            f"http://127.0.0.1:{args.aws_port}", name="--aws-port", embedded=True
        )
    elif args.endpoint is not None:
        endpoint = check_endpoint(args.endpoint, name="--endpoint", embedded=True)
    else:
        named = os.environ.get("AWS_ENDPOINT_URL", "").strip()
        if not named:
            raise TargetError(
                "no embedded AWS named: run `meshkit reset` in JupyterLab's terminal (it knows the "
                "server), or pass --aws-port PORT or --endpoint URL as `meshkit lab` printed them"
            )
        endpoint = check_endpoint(named, name="AWS_ENDPOINT_URL", embedded=True)
        if not started_by_meshkit(endpoint):  # another project's moto, in this shell's settings
            raise NotMeshkitServerError(
                f"AWS_ENDPOINT_URL={named} was not started by `meshkit lab` (this terminal has no "
                f"{SERVER_MARKER_VARIABLE} naming it) and may hold another project's resources. "
                f"To wipe it anyway, name it: meshkit reset --endpoint {endpoint}"
            )
    reset(endpoint_url=endpoint)  # also switches IAM enforcement off, as at start
    print(
        f"Wiped the embedded AWS at {endpoint}. Re-run the notebook you were on from the top "
        "(Kernel > Restart Kernel and Run All Cells): it creates what it needs."
    )
    return 0


def _lint(args: argparse.Namespace) -> int:
    """Discover the mesh the environment names, lint it, print the findings, exit by severity."""
    import pandas as pd
    from botocore.exceptions import BotoCoreError, ClientError

    from . import sandbox
    from .iam import assume_role
    from .mesh import discover, failing, lint

    if args.endpoint is not None:
        os.environ["AWS_ENDPOINT_URL"] = check_endpoint(args.endpoint, name="--endpoint")
    elif "AWS_ENDPOINT_URL" not in os.environ and os.environ.get("MESHKIT_TARGET") != "aws":
        raise TargetError(
            "no mesh named: run `meshkit lint` in JupyterLab's terminal (under `meshkit lab`), "
            "pass --endpoint URL, or opt in to real AWS (MESHKIT_TARGET=aws and "
            "MESHKIT_AWS_ACCOUNT). Without one, it would read a new, empty embedded AWS"
        )
    sandbox.start(quiet=True)
    for role in args.role:
        if not re.fullmatch(r"arn:aws[\w-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}", role):
            raise ValidationError(
                f"--role {role!r} is not an IAM role ARN: give one such as "
                "arn:aws:iam::444455556666:role/mesh-reader"
            )
    try:
        others = [assume_role(role, session_name="meshkit-lint") for role in args.role]
        findings = lint(discover(other_accounts=others), owner_tag=args.owner_tag)
    except (ClientError, BotoCoreError) as err:  # exit 2, never 1: 1 means findings
        raise TargetError(f"could not read the mesh: {type(err).__name__}: {err}") from err
    stopping = failing(findings, at=args.fail_on)
    if args.format == "json":
        print(json.dumps(findings.to_dict(orient="records"), indent=2))
    elif findings.empty:
        print("No findings: the mesh follows every governance rule.")
    else:
        with pd.option_context("display.max_colwidth", 120, "display.width", 250):
            print(findings.to_string(index=False))
        print(f"\n{len(findings)} finding(s), {len(stopping)} at or above {args.fail_on}.")
    return 1 if len(stopping) else 0


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from .workbook import NotebookRun, NotebooksNotFoundError, find_notebooks, run_notebooks

    paths = args.notebooks or find_notebooks()
    if not paths:
        raise NotebooksNotFoundError("no notebooks to run")
    missing = [str(path) for path in paths if not Path(path).is_file()]
    if missing:
        raise NotebooksNotFoundError(f"no such notebook: {', '.join(missing)}")
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
    columns: list[tuple[str, JustifyMethod]] = [
        ("notebook", "left"), ("cells", "right"), ("seconds", "right"), ("status", "left")
    ]  # fmt: skip
    for column, justify in columns:
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
