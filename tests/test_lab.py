"""`meshkit lab`: one embedded AWS for JupyterLab's kernels, and nothing left behind on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")
TOKEN = "meshkit-test-token"


def read_until(stream, pattern: str, timeout: float = 60) -> re.Match:
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        line = stream.readline()
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"{pattern!r} not printed in {timeout}s:\n{''.join(seen)}")


def api(base: str, path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def children(pid: int, command: str = "") -> list[int]:
    """Child processes of ``pid`` whose command line contains ``command``."""
    result = subprocess.run(
        ["pgrep", "-P", str(pid), "-f", command or "."], capture_output=True, text=True
    )
    return [int(p) for p in result.stdout.split()]


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_lab_shares_one_embedded_aws_and_ctrl_c_leaves_nothing(tmp_path):
    lab = subprocess.Popen(
        [sys.executable, "-m", "meshkit.cli", "lab", "--notebook-dir", str(tmp_path), "--",
         "--no-browser", "--ServerApp.port=0", f"--IdentityProvider.token={TOKEN}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        aws_url = read_until(lab.stdout, r"Embedded AWS \(moto\) at (http://127\.0\.0\.1:\d+)")[1]
        lab_url = read_until(lab.stdout, r"(http://127\.0\.0\.1:\d+)/lab\?token=")[1]
        [jupyter] = children(lab.pid, "jupyterlab")
        kernel = api(lab_url, "/api/kernels", "POST", {"name": "python3"})
        deadline = time.monotonic() + 30
        while not (kernels := children(jupyter, "ipykernel")) and time.monotonic() < deadline:
            time.sleep(0.2)

        env = environ_of(kernels[0])
        assert env["AWS_ENDPOINT_URL"] == aws_url
        assert env["AWS_ACCESS_KEY_ID"] == "testing"
        assert env["AWS_REGION"] == "us-west-2"
        assert kernel["name"] == "python3"

        lab.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert lab.wait(timeout=60) == 0
    finally:
        if lab.poll() is None:
            lab.kill()
    assert not alive(jupyter)
    assert not any(alive(pid) for pid in kernels)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{aws_url}/moto-api/config", timeout=5)


def test_lab_check_runs_a_cell_on_the_embedded_aws_and_stops(tmp_path):
    """`make lab-check`, a pre-flight: JupyterLab starts, a kernel reaches moto, all stop."""
    result = subprocess.run(
        [sys.executable, "-m", "meshkit", "lab", "--check", "--notebook-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ran a cell in a kernel that reached the embedded AWS" in result.stdout
    aws_url = re.search(r"Embedded AWS \(moto\) at (http://127\.0\.0\.1:\d+)", result.stdout)[1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{aws_url}/moto-api/config", timeout=5)
