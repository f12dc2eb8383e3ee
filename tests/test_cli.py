"""`meshkit run`: the facilitator's pre-flight check runs notebooks and fails loudly."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from meshkit import cli
from meshkit.sandbox import SERVER_MARKER_VARIABLE, EmbeddedServer, embedded_environment


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


def test_python_dash_m_meshkit_is_the_command_where_there_is_no_make(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "meshkit", "--help"], cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 0
    assert all(command in result.stdout for command in ("lab", "run", "reset"))


def test_reset_wipes_the_embedded_aws_it_is_pointed_at(tmp_path):
    with EmbeddedServer() as server:
        events = boto3.client(
            "events", endpoint_url=server.url, region_name="us-west-2",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        events.create_event_bus(Name="LeftoverEventBus")

        result = meshkit("reset", "--endpoint", server.url, cwd=tmp_path)

        assert result.returncode == 0, result.stderr
        assert "Re-run the notebook" in result.stdout
        names = [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
        assert names == ["default"]


def test_reset_refuses_what_is_not_an_embedded_aws(tmp_path):
    result = meshkit("reset", "--endpoint", "http://192.0.2.1:4566", cwd=tmp_path)

    assert result.returncode == 2
    assert "not an embedded moto server" in result.stderr


def test_reset_without_a_server_says_where_to_run_it(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "meshkit", "reset"], cwd=tmp_path, env=env,
        capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 2
    assert "JupyterLab's terminal" in result.stderr


def test_the_lab_banner_gives_bash_and_powershell_lines():
    banner = cli._lab_banner("http://127.0.0.1:4747")

    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4747 AWS_ACCESS_KEY_ID=testing" in banner
    assert '$env:AWS_ENDPOINT_URL="http://127.0.0.1:4747"; $env:AWS_ACCESS_KEY_ID="testing"' in (
        banner
    )


def test_lab_starts_jupyter_in_its_own_process_group_on_every_os(monkeypatch):
    assert cli._own_process_group() == {"start_new_session": True}
    monkeypatch.setattr(cli, "_WINDOWS", True)
    assert cli._own_process_group() == {"creationflags": 0x200}  # CREATE_NEW_PROCESS_GROUP


# -- `meshkit reset` wipes only what meshkit started or what it is pointed at (issue 10, point 6) --


@pytest.fixture
def foreign_moto():
    """A moto server on loopback that meshkit did not start: another project's."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def bus_names(url):
    events = boto3.client(
        "events", endpoint_url=url, region_name="us-west-2",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    return [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]


def make_bus(url, name):
    boto3.client(
        "events", endpoint_url=url, region_name="us-west-2",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_event_bus(Name=name)  # fmt: skip


def test_reset_in_a_terminal_of_meshkit_lab_wipes_its_server(tmp_path):
    with EmbeddedServer() as server:
        make_bus(server.url, "LeftoverEventBus")
        terminal = embedded_environment(server.url)  # what `meshkit lab` gives its terminals

        result = subprocess.run(
            [sys.executable, "-m", "meshkit", "reset"], cwd=tmp_path, env=terminal,
            capture_output=True, text=True,
        )  # fmt: skip

        assert result.returncode == 0, result.stderr
        assert bus_names(server.url) == ["default"]


def test_reset_refuses_a_moto_server_meshkit_did_not_start(tmp_path, foreign_moto):
    make_bus(foreign_moto, "AnotherProjectsBus")
    env = {key: value for key, value in os.environ.items() if key != SERVER_MARKER_VARIABLE}
    env["AWS_ENDPOINT_URL"] = foreign_moto

    result = subprocess.run(
        [sys.executable, "-m", "meshkit", "reset"], cwd=tmp_path, env=env,
        capture_output=True, text=True,
    )  # fmt: skip

    assert result.returncode == 2
    assert f"meshkit reset --endpoint {foreign_moto}" in result.stderr
    assert "AnotherProjectsBus" in bus_names(foreign_moto)


def test_lab_marks_its_server_for_kernels_and_terminals(tmp_path, monkeypatch):
    started = {}

    class FakeJupyter:
        def __init__(self, command, env, **kwargs):
            started["env"] = env

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", FakeJupyter)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)  # leave pytest's handlers be

    assert cli.main(["lab", "--notebook-dir", str(tmp_path)]) == 0

    env = started["env"]
    assert env[SERVER_MARKER_VARIABLE] == env["AWS_ENDPOINT_URL"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["reset", "--aws-port", "0"], ["--aws-port", "1-65535"]),
        (["reset", "--aws-port", "70000"], ["--aws-port", "1-65535"]),
        (["reset", "--aws-port", "-1"], ["--aws-port", "1-65535"]),
        (["reset", "--aws-port", "http://127.0.0.1:5000"], ["--aws-port", "1-65535"]),
        (["reset", "--endpoint", ""], ["--endpoint", "empty"]),
        (["reset", "--endpoint", "ftp://127.0.0.1:5000"], ["--endpoint", "http://"]),
        (
            ["reset", "--endpoint", "http://sts.amazonaws.com\\@127.0.0.1:9"],
            ["--endpoint", "backslash"],
        ),
        (
            ["reset", "--endpoint", "https://events.us-west-2.amazonaws.com"],
            ["--endpoint", "real AWS"],
        ),
        (["lab", "--aws-port", "70000"], ["--aws-port", "0 for a free one"]),
        (["lab", "--aws-port", "-5"], ["--aws-port", "0 for a free one"]),
    ],
)
def test_bad_input_cli(args, words, capsys, sent):
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse exits on an invalid option value
        code = exit_.code

    assert code == 2

    error = capsys.readouterr().err
    assert all(word in error for word in words), error
    assert sent == []
