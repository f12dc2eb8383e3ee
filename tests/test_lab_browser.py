"""Run All in a real browser: every notebook under `meshkit lab`, clicked through as a learner does.

`make lab` runs `.venv/bin/meshkit lab`; this test starts that same command (with its own port, a
fixed token and no browser of its own), opens JupyterLab in headless Chromium driven by Playwright,
and for each notebook in reading order: opens it from the file browser; View > Expand All Code (so
that solution cells show their prompts); Edit > Clear Outputs of All Cells; Run > Run All Cells;
waits until nothing runs and the kernel is idle; then checks that every non-empty code cell ran and
that only cells tagged ``raises-exception`` show an error. Nothing is saved: File > Close and Shut
Down Notebook discards the run, autosave is off and checkpoints go to a throwaway folder, and the
notebook files must be byte-identical afterwards. Ctrl-C (SIGINT) must then stop JupyterLab, its
kernels and the embedded AWS, and leave nothing listening.

Needs Playwright (pip) and a Chromium (Debian's ``/usr/bin/chromium``, or ``MESHKIT_CHROMIUM``):
skipped without them, except when ``CI`` is set, where a missing browser fails the test. A failure
names the notebook and the cell, and leaves a screenshot in the temp folder.
``MESHKIT_BROWSER_NOTEBOOKS`` points the test at another notebooks folder (default: notebooks/),
``MESHKIT_BROWSER_TIMEOUT`` sets the seconds one notebook's Run All may take (default: 240).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from meshkit.workbook import RAISES_TAG, find_notebooks

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)"),
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = Path(os.environ.get("MESHKIT_BROWSER_NOTEBOOKS") or ROOT / "notebooks").resolve()
CHROMIUM = os.environ.get("MESHKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "meshkit-browser-test-token"
NOTEBOOK_TIMEOUT_S = float(os.environ.get("MESHKIT_BROWSER_TIMEOUT", 240))
STDERR_MIME = "application/vnd.jupyter.stderr"
# IPython ends every error it shows with the exception line, "NameError: name 'x' is not defined",
# its name in colour; a traceback above it, if any, has one of these headers.
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s*(.*))?$")
TRACEBACK_HEADERS = ("Traceback (most recent call last)", "Cell In[")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip on a learner's machine; fail on CI, which must really run this test."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so the browser test must run, not skip)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# meshkit lab, as `make lab` starts it


def read_log_until(log: Path, pattern: str, process: subprocess.Popen, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := re.search(pattern, log.read_text(errors="replace")):
            return match
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not printed by meshkit lab:\n{log.read_text()[-3000:]}")


def api(base: str, path: str):
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status


def kernel_ports(pid: int) -> set[int]:
    """The ZeroMQ ports of a kernel process, from the connection file on its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        info = json.loads(Path(argv[argv.index("-f") + 1]).read_text())
    except (OSError, ValueError, IndexError):
        return set()
    return {info[key] for key in info if key.endswith("_port")}


class Processes:
    """Every process meshkit lab starts, with the ports of the kernels among them, noted while
    they run (a kernel's connection file goes when it stops)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.ports: dict[int, set[int]] = {}

    def note(self) -> None:
        for pid in descendants(self.root) - self.ports.keys():
            self.ports[pid] = kernel_ports(pid)

    def alive(self) -> list[int]:
        return sorted(pid for pid in self.ports if alive(pid))


def listeners() -> dict[int, set[int]]:
    """Listening TCP ports, each with the processes that hold its socket."""
    ports: dict[str, int] = {}  # socket inode -> port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                ports[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    owners: dict[int, set[int]] = {port: set() for port in ports.values()}
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and (port := ports.get(target[8:-1])):
            owners[port].add(int(fd.parts[2]))
    return owners


# ---------------------------------------------------------------------------------------------
# What the notebook file says, and what the browser shows


@dataclass
class CodeCell:
    index: int  # among the notebook's code cells, the order of .jp-CodeCell in the DOM
    first_line: str
    runs: bool  # JupyterLab skips empty cells: they keep "[ ]"
    may_raise: bool  # tagged raises-exception


@dataclass
class NotebookResult:
    name: str
    seconds: float = 0.0
    cells_run: int = 0
    taught_errors: int = 0  # errors shown by cells tagged raises-exception
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def code_cells(notebook: nbformat.NotebookNode) -> list[CodeCell]:
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    return [
        CodeCell(
            index=i,
            first_line=next((line for line in c.source.splitlines() if line.strip()), "")[:80],
            runs=bool(c.source.strip()),
            may_raise=RAISES_TAG in c.get("metadata", {}).get("tags", []),
        )
        for i, c in enumerate(cells)
    ]


# textContent, not innerText: off-screen cells (content-visibility: auto) have no layout.
READ_CELLS_JS = """panel => Array.from(panel.querySelectorAll('.jp-CodeCell')).map(cell => ({
    prompt: (cell.querySelector('.jp-InputArea-prompt') || {textContent: ''}).textContent.trim(),
    outputs: Array.from(cell.querySelectorAll('.jp-OutputArea-output')).map(o => ({
        mime: o.getAttribute('data-mime-type') || '',
        text: o.textContent || '',
        coloured: Array.from(o.querySelectorAll('span[class*="ansi-"]')).map(s => s.textContent),
    })),
}))"""


def shown_error(output: dict) -> tuple[str, str] | None:
    """(name, value) of an error output, or None for any other output.

    JupyterLab renders an error like text on stderr (same MIME type, same pink): it is an error
    when it ends in "Name: value" with the name in colour or a traceback header above it, which
    a warning or a log line on stderr does not."""
    if output["mime"] != STDERR_MIME:
        return None
    lines = [line.strip() for line in output["text"].splitlines() if line.strip()]
    match = EXCEPTION_LINE.match(lines[-1]) if lines else None
    if not match:
        return None
    if match[1] in output["coloured"] or any(h in output["text"] for h in TRACEBACK_HEADERS):
        return match[1], (match[2] or "")[:200]
    return None


NOT_RUN = ("[ ]:", "[ ]")


def describe(expected: list[CodeCell], shown: list[dict], selected) -> str:
    """The first code cell ``selected`` picks, for a timeout's message."""
    for cell, dom in zip(expected, shown, strict=False):
        if selected(dom):
            return f"first such cell: {cell.index} ({cell.first_line!r}), prompt {dom['prompt']!r}"
    return f"{len(shown)} code cells shown, {len(expected)} in the file"


def execution_count(prompt: str) -> int | None:
    match = re.fullmatch(r"\[(\d+)\]:?", prompt)
    return int(match[1]) if match else None


# ---------------------------------------------------------------------------------------------
# The learner's clicks


class Lab:
    """The JupyterLab page, used through its menus, file browser and dialogs."""

    def __init__(self, page, base_url: str, playwright_error: type[Exception]) -> None:
        self.page = page
        self.base_url = base_url
        self.playwright_error = playwright_error
        self.kernel = "Python 3 (ipykernel)"  # the display name of the kernel the notebook asks for

    def tend(self) -> None:
        """Answer what JupyterLab may put in the way: kernel choice, trust, news. Any other
        dialog (a dead kernel, an error, a file changed on disk) fails the notebook.

        Texts are read in one go and clicks are short tries: a dialog or a toast may go away
        (or slide) under the pointer, and the next poll tries again."""
        page, gone = self.page, contextlib.suppress(self.playwright_error)
        dialogs = page.locator(".jp-Dialog")
        for i, raw in enumerate(dialogs.evaluate_all("all => all.map(e => e.innerText)")):
            text, dialog = " ".join(raw.split()), dialogs.nth(i)
            if "Select Kernel" in text:  # more than one kernel installed, or none named
                with gone:
                    dialog.locator("select").first.select_option(label=self.kernel, timeout=2_000)
                with gone:
                    dialog.locator(".jp-Dialog-button.jp-mod-accept").click(timeout=5_000)
            elif "trust" in text.lower():
                with gone:
                    dialog.locator(".jp-Dialog-button.jp-mod-accept").click(timeout=5_000)
            else:
                raise AssertionError(f"JupyterLab showed a dialog: {text[:300]!r}")
        # "Would you like to get notified about official Jupyter news?" -> No.
        toasts = page.locator(".Toastify__toast")
        for i, raw in enumerate(toasts.evaluate_all("all => all.map(e => e.textContent)")):
            if "news" in raw.lower():
                with gone:
                    toasts.nth(i).get_by_role("button", name="No", exact=True).click(timeout=2_000)

    def menu(self, top: str, item: str) -> None:
        """Click a main-menu entry by its labels, as a user does."""
        page = self.page
        exact = re.compile(rf"^\s*{re.escape(item)}\s*$")
        page.locator(".lm-MenuBar-item").filter(has_text=re.compile(rf"^{re.escape(top)}$")).click()
        entry = page.locator(".lm-Menu .lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=exact)
        )
        entry.first.wait_for(state="visible", timeout=10_000)
        if "lm-mod-disabled" in (entry.first.get_attribute("class") or ""):
            page.keyboard.press("Escape")
            raise AssertionError(f"{top} > {item} is disabled")
        entry.first.click()

    def open(self, name: str) -> None:
        page = self.page
        self.tend()
        if not page.locator(".jp-DirListing").is_visible():
            page.locator('.lm-TabBar-tab[data-id="filebrowser"]').click()
        page.locator(".jp-DirListing-item").filter(
            has=page.locator(
                ".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(name)}$")
            )
        ).dblclick()

    def panel(self):
        return self.page.locator(".jp-NotebookPanel")

    def cells(self) -> list[dict]:
        return self.panel().evaluate(READ_CELLS_JS)

    def session(self, name: str) -> dict | None:
        return next((s for s in api(self.base_url, "/api/sessions") if s["path"] == name), None)

    def wait(self, what: str, ready, timeout: float, state=lambda: "") -> None:
        """Poll ``ready()`` (answering dialogs between polls) until it holds twice in a row;
        on timeout, say what ``state()`` shows."""
        deadline, streak = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            self.tend()
            streak = streak + 1 if ready() else 0
            if streak >= 2:
                return
            self.page.wait_for_timeout(250)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; {state()}")


def screenshot(page, path: Path) -> Path:
    """The page as it is, saved outside the repository for whoever debugs a failure."""
    shot = Path(tempfile.gettempdir()) / f"meshkit-browser-{path.stem}.png"
    page.screenshot(path=str(shot))
    return shot


def kernel_idle(lab: Lab, name: str) -> bool:
    session = lab.session(name)
    return bool(session and session["kernel"]["execution_state"] == "idle")


def run_notebook(
    lab: Lab, path: Path, stored: bytes, result: NotebookResult, processes: Processes
) -> None:
    """Open, clear, Run All, check; close without saving. Problems go to ``result``."""
    page, name = lab.page, path.name
    notebook = nbformat.reads(stored.decode(), as_version=4)
    expected = code_cells(notebook)
    total_cells = len(notebook.cells)
    lab.kernel = notebook.metadata.get("kernelspec", {}).get("display_name", "Python 3 (ipykernel)")

    lab.open(name)
    lab.wait(
        f"{name} to open with its {total_cells} cells",
        lambda: lab.panel().count() == 1 and lab.panel().locator(".jp-Cell").count() == total_cells,
        60,
        state=lambda: f"the page shows {lab.panel().locator('.jp-Cell').count()} cells",
    )
    lab.wait(f"the kernel of {name} to start", lambda: kernel_idle(lab, name), 90)
    assert lab.panel().locator(".jp-CodeCell").count() == len(expected), "code cells in the DOM"

    # Solution cells keep their source collapsed, and with it their prompt: show them all, so that
    # every code cell's prompt tells "[ ]" (not run), "[*]" (running or queued) and "[3]" (ran).
    lab.menu("View", "Expand All Code")
    lab.menu("Edit", "Clear Outputs of All Cells")
    lab.wait(
        f"{name}: outputs cleared",
        lambda: all(not c["outputs"] and c["prompt"] in NOT_RUN for c in lab.cells()),
        30,
        state=lambda: describe(
            expected, lab.cells(), lambda c: c["outputs"] or c["prompt"] not in NOT_RUN
        ),
    )

    started = time.monotonic()
    lab.menu("Run", "Run All Cells")

    def finished() -> bool:
        shown = lab.cells()
        processes.note()
        return (
            any(c["prompt"] not in NOT_RUN for c in shown)  # Run All has begun
            and not any("*" in c["prompt"] for c in shown)  # nothing running or queued
            and kernel_idle(lab, name)
        )

    lab.wait(
        f"Run All of {name} to finish",
        finished,
        NOTEBOOK_TIMEOUT_S,
        state=lambda: describe(expected, lab.cells(), lambda c: "*" in c["prompt"]),
    )
    result.seconds = time.monotonic() - started
    shown = lab.cells()
    not_run: list[CodeCell] = []
    first_bad: int | None = None
    for cell, dom in zip(expected, shown, strict=True):
        count = execution_count(dom["prompt"])
        result.cells_run += count is not None
        for output in dom["outputs"]:
            if error := shown_error(output):
                if cell.may_raise:
                    result.taught_errors += 1
                else:
                    result.problems.append(
                        f"cell {cell.index} ({cell.first_line!r}) raised {error[0]}: {error[1]}"
                    )
                    first_bad = cell.index if first_bad is None else first_bad
        if cell.runs and count is None:
            not_run.append(cell)
    if not_run:
        result.problems.append(
            f"{len(not_run)} code cell(s) did not run, the first: cell {not_run[0].index} "
            f"({not_run[0].first_line!r}) (Run All stops after an untagged error)"
        )
        first_bad = not_run[0].index if first_bad is None else first_bad
    if first_bad is not None:
        cell = lab.panel().locator(".jp-CodeCell").nth(first_bad)
        for _ in range(3):  # heights above settle as off-screen cells get laid out
            cell.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
        result.screenshot = screenshot(page, path)

    # Close without saving: the notebook and its kernel go, the file stays as stored.
    lab.menu("File", "Close and Shut Down Notebook…")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    lab.wait(
        f"{name} to close and its kernel to stop",
        lambda: lab.panel().count() == 0 and lab.session(name) is None,
        60,
    )


def test_run_all_in_jupyterlab_in_a_browser(tmp_path):
    try:
        sync_api = pytest.importorskip(
            "playwright.sync_api", reason="needs Playwright: pip install playwright"
        )
    except pytest.skip.Exception as skipped:
        unavailable(str(skipped))
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or MESHKIT_CHROMIUM)")

    notebooks = find_notebooks(NOTEBOOK_DIR)
    assert notebooks, f"no notebooks in {NOTEBOOK_DIR}"
    stored = {path: path.read_bytes() for path in notebooks}

    # A throwaway settings folder: autosave off, so Run All never writes a notebook back; a fresh
    # workspace, so no tabs are restored from an earlier session.
    settings = tmp_path / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    lab_args = [
        "--notebook-dir", str(NOTEBOOK_DIR), "--",
        "--no-browser", "--ServerApp.port=0", f"--IdentityProvider.token={TOKEN}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--FileCheckpoints.checkpoint_dir={tmp_path / 'checkpoints'}",
    ]  # fmt: skip
    # `make lab`, as a learner starts it, when these tests run from the project's own venv.
    through_make = shutil.which("make") and Path(sys.executable).parent == ROOT / ".venv" / "bin"
    if through_make:
        command = ["make", "--no-print-directory", "lab", f"LAB_ARGS={' '.join(lab_args)}"]
    else:
        command = [sys.executable, "-m", "meshkit", "lab", *lab_args]
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        # A session of its own, like a terminal's job: Ctrl-C below reaches make and meshkit.
        lab_process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
    results: list[NotebookResult] = []
    processes = Processes(lab_process.pid)
    aws_url = lab_url = ""
    try:
        aws_url = read_log_until(
            log, r"Embedded AWS \(moto\) at (http://127\.0\.0\.1:\d+)", lab_process
        )[1]
        lab_url = read_log_until(log, r"(http://127\.0\.0\.1:\d+)/lab\?token=", lab_process)[1]
        processes.note()
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(30_000)
                page.goto(f"{lab_url}/lab?token={TOKEN}")
                page.locator(".jp-DirListing-item").first.wait_for(timeout=90_000)
                lab = Lab(page, lab_url, sync_api.Error)
                for path in notebooks:
                    result = NotebookResult(path.name)
                    results.append(result)
                    try:
                        run_notebook(lab, path, stored[path], result, processes)
                    except (AssertionError, sync_api.Error) as err:
                        result.problems.append(f"{type(err).__name__}: {str(err)[:500]}")
                        result.screenshot = screenshot(page, path)
                        break  # the page is in an unknown state: report what we have
                    finally:
                        mark = "FAILED" if result.problems else "passed"
                        print(
                            f"{mark} {result.name}: {result.cells_run} cells run in "
                            f"{result.seconds:.1f} s, {result.taught_errors} taught error(s)",
                            flush=True,
                        )
            finally:
                browser.close()
    finally:
        processes.note()
        os.killpg(lab_process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            code = lab_process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = "nothing: still running 60 s later"
        left = processes.alive()  # checked below; first, clean up whatever this test started
        if lab_process.poll() is None:
            lab_process.kill()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        lab_process.wait()

    failures = [
        f"{r.name}"
        + (f" (screenshot: {r.screenshot})" if r.screenshot else "")
        + ":\n    "
        + "\n    ".join(r.problems)
        for r in results
        if r.problems
    ]
    changed = [path.name for path in notebooks if path.read_bytes() != stored[path]]
    if changed:
        failures.append(
            f"notebook files changed on disk while the test ran (saved by JupyterLab, or edited "
            f"meanwhile): {changed}"
        )
    # make itself ends by the SIGINT once meshkit lab has stopped, as in a terminal.
    if code != (-signal.SIGINT if through_make else 0):
        failures.append(f"{command[0]} exited with {code} on Ctrl-C")
    if left:
        failures.append(f"processes outlived meshkit lab: {left}")
    # JupyterLab's and the embedded AWS's ports must be closed; the kernels' too, unless another
    # process has picked one up since (other Jupyter servers may run on this machine).
    servers = {int(url.rsplit(":", 1)[1]) for url in (aws_url, lab_url) if url}
    kernels = {port for ports in processes.ports.values() for port in ports}
    ours = {lab_process.pid, *processes.ports}
    if listening := sorted(
        port
        for port, owners in listeners().items()
        if port in servers or (port in kernels and (not owners or owners & ours))
    ):
        failures.append(f"still listening after Ctrl-C: ports {listening}")
    assert not failures, "\n  ".join(
        ["Run All in JupyterLab (meshkit lab) failed:", *failures, f"meshkit lab's log: {log}"]
    )
