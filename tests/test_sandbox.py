"""Every decision of meshkit.sandbox.start(), and proof that nothing reaches real AWS unasked."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import boto3
import pytest
from werkzeug.serving import make_server

import meshkit as mk
from meshkit import sandbox
from meshkit.exceptions import TargetError

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "a-real-looking-session-token",
    "AWS_PROFILE": "production",
    "AWS_REGION": "eu-central-1",
    "AWS_ENDPOINT_URL_EVENTS": "https://events.eu-central-1.amazonaws.com",
}


@pytest.fixture
def isolated(monkeypatch):
    """A process state with no target, no endpoint, and everything restored afterwards."""
    saved_env, saved_current = dict(os.environ), sandbox._current
    saved_private = sandbox._private_server
    sandbox._current, sandbox._private_server = None, None
    for key in ("AWS_ENDPOINT_URL", "MESHKIT_TARGET", "MESHKIT_AWS_ACCOUNT"):
        monkeypatch.delenv(key, raising=False)
    yield monkeypatch
    if sandbox._private_server is not None:
        sandbox._private_server.stop()
    os.environ.clear()
    os.environ.update(saved_env)
    sandbox._current, sandbox._private_server = saved_current, saved_private
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def plain_endpoint():
    """An AWS-compatible endpoint on loopback that is not moto's control API (like LocalStack)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith("/moto-api"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not here"]
        return moto_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


# -- embedded ----------------------------------------------------------------------------------


def test_default_is_a_private_embedded_server_with_fake_credentials(isolated, capsys):
    target = mk.sandbox.start()

    assert target.mode == "embedded"
    assert target.account_id == "123456789012"
    assert target.region == "us-west-2"
    assert urlsplit(target.endpoint_url).hostname == "127.0.0.1"
    assert os.environ["AWS_ENDPOINT_URL"] == target.endpoint_url
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    line = capsys.readouterr().out
    assert line.count("\n") == 1
    assert "embedded AWS, private moto server at http://127.0.0.1:" in line


def test_real_looking_credentials_never_leave_the_machine(isolated, sent):
    for key, value in REAL_LOOKING.items():
        isolated.setenv(key, value)

    target = mk.sandbox.start(quiet=True)
    mk.buses.create_domain_bus("sales")
    boto3.client("events").list_event_buses()  # a plain cell, as a learner would write it

    assert target.mode == "embedded"
    assert target.region == "us-west-2", "embedded mode ignores the shell's region"
    assert sent, "the calls above went somewhere"
    assert {request.host for request in sent} == {"127.0.0.1"}
    assert all(b"Credential=testing/" in request.auth for request in sent)
    for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_EVENTS"):
        assert key not in os.environ
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull


def test_a_moto_server_on_loopback_is_shared(isolated, capsys):
    with mk.sandbox.EmbeddedServer() as server:
        isolated.setenv("AWS_ENDPOINT_URL", server.url)

        target = mk.sandbox.start()

        assert (target.mode, target.endpoint_url) == ("embedded", server.url)
        assert "shared moto server" in capsys.readouterr().out
        assert sandbox._private_server is None


def test_start_twice_keeps_the_private_server(isolated):
    first = mk.sandbox.start(quiet=True)
    second = mk.sandbox.start(quiet=True)

    assert first == second
    assert "private moto server" in second.describe()


def test_reset_wipes_the_embedded_mesh(isolated):
    mk.sandbox.start(quiet=True)
    mk.buses.create_domain_bus("sales")

    mk.sandbox.reset(seed=7)

    assert mk.buses.list_domain_buses().empty


def test_meshkit_refuses_to_call_aws_before_start(isolated, sent):
    with pytest.raises(TargetError, match=r"mk\.sandbox\.start\(\)"):
        mk.buses.list_domain_buses()
    assert sent == []


def test_stop_forgets_the_target(isolated):
    mk.sandbox.start(quiet=True)

    mk.sandbox.stop()

    assert mk.sandbox.current() is None
    assert "AWS_ENDPOINT_URL" not in os.environ


# -- endpoint ----------------------------------------------------------------------------------


def test_another_endpoint_is_used_as_it_is(isolated, plain_endpoint, sent, capsys):
    isolated.setenv("AWS_ENDPOINT_URL", plain_endpoint)
    isolated.setenv("AWS_ACCESS_KEY_ID", REAL_LOOKING["AWS_ACCESS_KEY_ID"])

    target = mk.sandbox.start()

    assert (target.mode, target.endpoint_url) == ("endpoint", plain_endpoint)
    assert f"endpoint {plain_endpoint}" in capsys.readouterr().out
    assert sent
    assert all(b"Credential=testing/" in request.auth for request in sent), (
        "fake credentials forced"
    )


def test_an_endpoint_that_does_not_answer_is_a_clear_error(isolated):
    with mk.sandbox.EmbeddedServer() as server:
        closed = server.url
    isolated.setenv("AWS_ENDPOINT_URL", closed)

    with pytest.raises(TargetError, match=f"nothing AWS-compatible answered .* at {closed}"):
        mk.sandbox.start(quiet=True)


def test_reset_refuses_anything_but_embedded(isolated, plain_endpoint):
    isolated.setenv("AWS_ENDPOINT_URL", plain_endpoint)
    mk.sandbox.start(quiet=True)

    with pytest.raises(TargetError, match="embedded moto server only; the target is endpoint"):
        mk.sandbox.reset()


def test_embedded_asked_for_but_endpoint_is_not_moto(isolated, plain_endpoint):
    isolated.setenv("MESHKIT_TARGET", "embedded")
    isolated.setenv("AWS_ENDPOINT_URL", plain_endpoint)

    with pytest.raises(TargetError, match="unset AWS_ENDPOINT_URL"):
        mk.sandbox.start(quiet=True)


def test_endpoint_asked_for_without_a_url(isolated):
    isolated.setenv("MESHKIT_TARGET", "endpoint")

    with pytest.raises(TargetError, match="needs AWS_ENDPOINT_URL"):
        mk.sandbox.start(quiet=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://events.us-west-2.amazonaws.com",
        "https://sqs.cn-north-1.amazonaws.com.cn",
        "https://events.us-east-1.api.aws",
    ],
)
def test_an_endpoint_on_real_aws_is_refused(isolated, sent, url):
    isolated.setenv("AWS_ENDPOINT_URL", url)

    with pytest.raises(TargetError, match="MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT"):
        mk.sandbox.start(quiet=True)
    assert sent == []


def test_an_unknown_target_is_refused(isolated):
    isolated.setenv("MESHKIT_TARGET", "prod")

    with pytest.raises(TargetError, match=r"'embedded'.*'endpoint'.*'aws'"):
        mk.sandbox.start(quiet=True)


# -- real AWS: only with both opt-ins, and only for the account named --------------------------


@pytest.mark.parametrize("account", [None, "", "12345", "1234567890123", "my-account"])
def test_real_aws_without_a_valid_account_is_refused(isolated, sent, account):
    isolated.setenv("MESHKIT_TARGET", "aws")
    for key, value in REAL_LOOKING.items():
        isolated.setenv(key, value)
    if account is not None:
        isolated.setenv("MESHKIT_AWS_ACCOUNT", account)

    with pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    assert "MESHKIT_TARGET=aws" in str(raised.value)
    assert "MESHKIT_AWS_ACCOUNT" in str(raised.value)
    assert sent == [], "refused before any request"
    assert mk.sandbox.current() is None


def opt_in(monkeypatch, accounts: str, region: str = "eu-west-1") -> None:
    """The environment of a user who opted in to real AWS."""
    monkeypatch.setenv("MESHKIT_TARGET", "aws")
    monkeypatch.setenv("MESHKIT_AWS_ACCOUNT", accounts)
    monkeypatch.setenv("AWS_REGION", region)


def test_real_aws_with_an_endpoint_set_is_refused(isolated, sent):
    isolated.setenv("MESHKIT_TARGET", "aws")
    isolated.setenv("MESHKIT_AWS_ACCOUNT", "111122223333")
    isolated.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")

    with pytest.raises(TargetError, match="unset it"):
        mk.sandbox.start(quiet=True)
    assert sent == []


def test_real_aws_needs_a_region(isolated, sent):
    isolated.setenv("MESHKIT_TARGET", "aws")
    isolated.setenv("MESHKIT_AWS_ACCOUNT", "111122223333")
    isolated.delenv("AWS_REGION", raising=False)
    isolated.delenv("AWS_DEFAULT_REGION", raising=False)
    isolated.setenv("AWS_CONFIG_FILE", os.devnull)

    with pytest.raises(TargetError, match="set AWS_REGION"):
        mk.sandbox.start(quiet=True)
    assert sent == []


def test_real_aws_for_another_account_is_refused(isolated):
    opt_in(isolated, "111122223333")
    isolated.setattr(sandbox, "_caller_account", lambda session, endpoint: "999988887777")

    with pytest.raises(TargetError, match=r"111122223333.*belong to account 999988887777"):
        mk.sandbox.start(quiet=True)
    assert mk.sandbox.current() is None


def test_real_aws_with_both_opt_ins_and_the_right_account(isolated, capsys):
    opt_in(isolated, "111122223333")
    asked = []
    isolated.setattr(
        sandbox,
        "_caller_account",
        lambda session, endpoint: asked.append(endpoint) or "111122223333",
    )

    target = mk.sandbox.start()

    assert target == mk.sandbox.Target("aws", None, "111122223333", "eu-west-1")
    assert asked == [None], "the account was checked against real STS, no endpoint"
    assert "REAL AWS" in capsys.readouterr().out
    with pytest.raises(TargetError, match="embedded moto server only"):
        mk.sandbox.reset()


def test_the_account_check_asks_sts(mesh):
    session = mesh.session()

    assert sandbox._caller_account(session, mesh.endpoint_url) == "123456789012"


def test_embedded_environment_drops_everything_that_could_reach_aws():
    base = {**REAL_LOOKING, "PATH": "/usr/bin", "HOME": "/home/learner"}

    env = mk.sandbox.embedded_environment("http://127.0.0.1:5555", region="us-west-2", base=base)

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5555"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-west-2"
    assert env["HOME"] == "/home/learner"
    assert not {"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL_EVENTS"} & env.keys()
    assert env["PATH"].endswith(os.pathsep + "/usr/bin")


def test_a_session_passed_in_needs_a_target_too(isolated, sent):
    with pytest.raises(TargetError, match=r"mk\.sandbox\.start\(\)"):
        mk.buses.create_domain_bus("sales", boto3_session=boto3.Session(region_name="us-west-2"))
    assert sent == []


def test_on_real_aws_a_session_for_another_account_is_refused(isolated):
    isolated.setattr(
        sandbox, "_current", mk.sandbox.Target("aws", None, "111122223333", "eu-west-1")
    )
    isolated.setattr(sandbox, "_caller_account", lambda session, endpoint: "999988887777")

    with pytest.raises(TargetError, match=r"belongs to account 999988887777.*111122223333"):
        mk.buses.list_domain_buses(boto3_session=boto3.Session(region_name="eu-west-1"))


def test_on_real_aws_sessions_of_further_opted_in_accounts_are_accepted(isolated):
    opt_in(isolated, "111122223333, 444455556666")
    answers = iter(["111122223333", "444455556666", "999988887777"])
    isolated.setattr(sandbox, "_caller_account", lambda session, endpoint: next(answers))

    target = mk.sandbox.start(quiet=True)
    other = boto3.Session(region_name="eu-west-1")

    assert target.other_accounts == ("444455556666",)
    assert mk._aws.session(other) is other
    with pytest.raises(TargetError, match="add the account to MESHKIT_AWS_ACCOUNT"):
        mk._aws.session(boto3.Session(region_name="eu-west-1"))


def test_a_malformed_account_list_is_refused(isolated, sent):
    opt_in(isolated, "111122223333,12345")

    with pytest.raises(TargetError, match="separated by commas"):
        mk.sandbox.start(quiet=True)
    assert sent == []


def test_the_real_account_check_ignores_endpoint_overrides(isolated, sent):
    """AWS_ENDPOINT_URL_STS must not be able to answer the account check on real AWS."""
    with mk.sandbox.EmbeddedServer() as server:
        isolated.setenv("AWS_ENDPOINT_URL_STS", server.url)
        session = boto3.Session(
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="x",
            region_name="us-west-2",
        )

        with pytest.raises(
            AssertionError, match=r"left the machine: https://sts\.us-west-2\.amazonaws"
        ):
            sandbox._caller_account(session, None)


def test_proxies_never_see_embedded_traffic(isolated):
    isolated.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    isolated.setenv("http_proxy", "http://127.0.0.1:9")

    target = mk.sandbox.start(quiet=True)
    mk.buses.create_domain_bus("sales")

    assert target.mode == "embedded"
    assert "127.0.0.1" in os.environ["NO_PROXY"]


def test_endpoint_asked_for_is_honoured_even_for_a_moto_server(isolated):
    with mk.sandbox.EmbeddedServer() as server:
        isolated.setenv("MESHKIT_TARGET", "endpoint")
        isolated.setenv("AWS_ENDPOINT_URL", server.url)

        target = mk.sandbox.start(quiet=True)

        assert target.mode == "endpoint"
        with pytest.raises(TargetError):
            mk.sandbox.reset()


def test_a_failed_start_leaves_the_environment_as_it_was(isolated):
    with mk.sandbox.EmbeddedServer() as server:
        closed = server.url
    isolated.setenv("AWS_ENDPOINT_URL", closed)
    isolated.setenv("AWS_PROFILE", "production")
    before = dict(os.environ)

    with pytest.raises(TargetError):
        mk.sandbox.start(quiet=True)

    assert dict(os.environ) == before
    assert mk.sandbox.current() is None


def test_a_busy_port_is_a_clear_error(isolated):
    with mk.sandbox.EmbeddedServer() as server:
        port = int(server.url.rsplit(":", 1)[1])

        with pytest.raises(TargetError, match=f"port {port} on 127.0.0.1 is in use"):
            mk.sandbox.EmbeddedServer(port=port)
