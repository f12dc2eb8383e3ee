"""Every decision of meshkit.sandbox.start(), and proof that nothing reaches real AWS unasked."""

from __future__ import annotations

import contextlib
import os
import threading
from urllib.parse import urlsplit

import boto3
import pytest
from werkzeug.serving import make_server

import meshkit as mk
from meshkit import sandbox
from meshkit.exceptions import NotMeshkitResourceError, TargetError, ValidationError

REAL_LOOKING = {
    "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "a-real-looking-session-token",
    "AWS_PROFILE": "production",
    "AWS_REGION": "eu-central-1",
    "AWS_ENDPOINT_URL_EVENTS": "https://events.eu-central-1.amazonaws.com",
}


@pytest.fixture
def isolated(mesh, monkeypatch):
    """A process state with no target, no endpoint, and everything restored afterwards.

    It wipes the session's embedded AWS first (``mesh``): moto servers in one process share their
    state, so a private server started here sees what earlier tests left on the session's."""
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
    isolated.setattr(sandbox, "caller_account", lambda session, endpoint: "999988887777")

    with pytest.raises(TargetError, match=r"111122223333.*belong to account 999988887777"):
        mk.sandbox.start(quiet=True)
    assert mk.sandbox.current() is None


def test_on_real_aws_start_changes_nothing_in_the_process(isolated):
    """In someone's application or Lambda function, start() must not rewrite the environment or
    drop the default session: that is done only for the embedded and endpoint targets."""
    opt_in(isolated, "111122223333")
    isolated.setattr(sandbox, "caller_account", lambda session, endpoint: "111122223333")
    default_session = boto3.Session(region_name="eu-west-1")
    boto3.DEFAULT_SESSION = default_session
    before = dict(os.environ)

    target = mk.sandbox.start(quiet=True, region="eu-central-1")

    assert target.region == "eu-central-1"
    assert dict(os.environ) == before
    assert boto3.DEFAULT_SESSION is default_session


def test_real_aws_with_both_opt_ins_and_the_right_account(isolated, capsys):
    opt_in(isolated, "111122223333")
    asked = []
    isolated.setattr(
        sandbox,
        "caller_account",
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

    assert sandbox.caller_account(session, mesh.endpoint_url) == "123456789012"


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
    isolated.setattr(sandbox, "caller_account", lambda session, endpoint: "999988887777")

    with pytest.raises(TargetError, match=r"belongs to account 999988887777.*111122223333"):
        mk.buses.list_domain_buses(boto3_session=boto3.Session(region_name="eu-west-1"))


def test_on_real_aws_sessions_of_further_opted_in_accounts_are_accepted(isolated):
    opt_in(isolated, "111122223333, 444455556666")
    answers = iter(["111122223333", "444455556666", "999988887777"])
    isolated.setattr(sandbox, "caller_account", lambda session, endpoint: next(answers))

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
            sandbox.caller_account(session, None)


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

    with leaves_the_process_as_it_was(), pytest.raises(TargetError):
        mk.sandbox.start(quiet=True)

    assert mk.sandbox.current() is None


def test_a_busy_port_is_a_clear_error(isolated):
    with mk.sandbox.EmbeddedServer() as server:
        port = int(server.url.rsplit(":", 1)[1])

        with pytest.raises(TargetError, match=f"port {port} on 127.0.0.1 is in use"):
            mk.sandbox.EmbeddedServer(port=port)


# -- the opt-in cannot be bypassed (issue 10, point 7) ----------------------------------------
#
# AWS SDKs take AWS_ENDPOINT_URL as "a URL including the scheme and host"
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html); meshkit judges it by
# the host that botocore and urllib3 would actually dial, never by another parser's reading.


@contextlib.contextmanager
def leaves_the_process_as_it_was():
    """Assert that os.environ and boto3's default session are exactly as before the block."""
    boto3.DEFAULT_SESSION = object()  # stands for one a cell made; only its identity is checked
    env, default = dict(os.environ), boto3.DEFAULT_SESSION
    yield
    assert dict(os.environ) == env, "a refused start() changed os.environ"
    assert boto3.DEFAULT_SESSION is default, "a refused start() dropped boto3.DEFAULT_SESSION"


@pytest.fixture
def foreign_moto():
    """A moto server on loopback that meshkit did not start: another project's."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def events_at(url: str):
    return boto3.client(
        "events", endpoint_url=url, region_name="us-west-2",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        r"http://sts.amazonaws.com\@127.0.0.1:9",  # urllib reads 127.0.0.1, urllib3 dials AWS
        r"http://sts.us-west-2.amazonaws.com\@localhost:9",
        "http://127.0.0.1:9@sts.amazonaws.com",  # user info: the host is after the @
        "http://STS.US-WEST-2.AMAZONAWS.COM.",  # mixed case, trailing dot
        "https://sts.us-west-2.api.aws",  # dual-stack suffix
        "https://sts.cn-north-1.api.amazonwebservices.com.cn",  # aws-cn dual-stack suffix
        "https://sts.eusc-de-east-1.amazonaws.eu",  # European Sovereign Cloud
        "http://\u017fts.amazonaws.com",  # a long s, which IDNA maps to "s"
        "http://sts%2eamazonaws%2ecom",  # percent-encoded dots
    ],
)
def test_an_endpoint_is_judged_by_the_host_botocore_would_dial(isolated, sent, url):
    isolated.setenv("AWS_ENDPOINT_URL", url)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    assert "AWS_ENDPOINT_URL" in str(raised.value)
    assert sent == [], "refused before any request"
    assert mk.sandbox.current() is None


@pytest.mark.parametrize(
    "url",
    [
        "http://52.94.236.248",  # a public IPv4 address, where AWS's endpoints live
        "http://3630296312",  # the same address as one decimal number (getaddrinfo reads it)
        "http://[2600:1f14::1]:443",  # a public IPv6 address
        "http://[::ffff:52.94.236.248]",  # IPv4-mapped IPv6
        "http://169.254.169.254",  # EC2 instance metadata (link-local)
        "http://[fd00:ec2::254]",  # EC2 instance metadata over IPv6, inside the private fc00::/7
        "http://100.64.0.1:4566",  # shared address space (carrier-grade NAT), not private
        "http://0.0.0.0:5000",  # "this host": dials loopback on Linux, fails elsewhere
    ],
)
def test_an_ip_literal_endpoint_must_be_loopback_or_private(isolated, sent, url):
    """AWS publishes its ranges only online (https://ip-ranges.amazonaws.com/ip-ranges.json), so
    offline meshkit accepts an IP literal only on loopback or in a private range (RFC 1918, ULA),
    and never the instance metadata service
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html)."""
    isolated.setenv("AWS_ENDPOINT_URL", url)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    message = str(raised.value)
    assert "AWS_ENDPOINT_URL" in message
    assert "loopback" in message and "private" in message
    assert sent == []


@pytest.mark.parametrize(
    "url, judged",
    [
        ("http://10.1.2.3:4566", "http://10.1.2.3:4566"),
        ("http://192.168.0.10:4566/", "http://192.168.0.10:4566"),
        ("HTTP://LocalStack:4566", "http://localstack:4566"),
        ("http://[fd12:3456::1]:4566", "http://[fd12:3456::1]:4566"),
        ("http://127.1:5000", "http://127.0.0.1:5000"),
        ("http://localhost.:5000", "http://localhost:5000"),
    ],
)
def test_check_endpoint_accepts_local_and_private_endpoints_as_dialed(url, judged):
    assert mk.sandbox.check_endpoint(url) == judged


def test_an_odd_spelling_of_loopback_is_the_embedded_server_it_dials(isolated, sent):
    with mk.sandbox.EmbeddedServer() as server:
        port = server.url.rsplit(":", 1)[1]
        isolated.setenv("AWS_ENDPOINT_URL", f"http://0x7f.0.0.1:{port}/")

        target = mk.sandbox.start(quiet=True)

        assert (target.mode, target.endpoint_url) == ("embedded", server.url)
        assert os.environ["AWS_ENDPOINT_URL"] == server.url, "subprocesses see one spelling"
        assert {request.host for request in sent} == {"127.0.0.1"}


@pytest.mark.parametrize(
    "url, words",
    [
        ("not a url", "whitespace"),
        ("", "empty"),
        ("   ", "empty"),
        ("ftp://x", "http:// or https://"),
        ("127.0.0.1:5000", "http:// or https://"),
        ("http://", "no host"),
        ("http://127.0.0.1:5000/aws", "path"),
        ("http://127.0.0.1:5000/?debug=1", "query"),
        ("http://127.0.0.1:5000#top", "fragment"),
        ("http://learner:secret@127.0.0.1:5000", "user info"),
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:0", "port"),
        ("http://[::1", "not a URL"),
        ("http://127.0.0.1:\t5000", "whitespace"),
    ],
)
def test_bad_input_endpoint_url(isolated, sent, url, words):
    isolated.setenv("AWS_ENDPOINT_URL", url)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    message = str(raised.value)
    assert "AWS_ENDPOINT_URL" in message
    assert words in message
    assert "e.g. http://127.0.0.1:5000" in message or "unset AWS_ENDPOINT_URL" in message
    assert sent == []
    assert sandbox._private_server is None, "no server started for a refused start()"


# -- names that dial what an IP literal may not -----------------------------------------------
#
# Inside EC2, AWS's DNS answers "instance-data" and "instance-data.ec2.internal" with the instance
# metadata service, and private DNS names (ip-10-0-0-1.ec2.internal, ip-10-0-0-1.<region>.
# compute.internal, i-0123456789abcdef0.<region>.compute.internal) with instances' addresses:
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-naming.html. Wildcard DNS
# services (nip.io, sslip.io) answer a name with the address it spells.


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://instance-data", "instance metadata"),
        ("http://instance-data.ec2.internal", "instance metadata"),
        ("http://INSTANCE-DATA.EC2.Internal.:80", "instance metadata"),
        ("http://ip-10-0-0-1.us-west-2.compute.internal:4566", "http://10.0.0.1:4566"),
        ("http://ip-172-31-5-9.ec2.internal", "http://172.31.5.9"),
        ("http://i-0123456789abcdef0.us-west-2.compute.internal", "PrivateIpAddress"),
        ("http://169.254.169.254.nip.io:80", "169.254.169.254"),
        ("http://169-254-169-254.sslip.io", "169.254.169.254"),
        ("http://api.52.94.236.248.nip.io", "52.94.236.248"),
        ("http://fd00-ec2--254.sslip.io", "fd00:ec2::254"),
        ("http://time.aws.com", "real AWS"),
    ],
)
def test_bad_input_endpoint_name_that_dials_ec2_or_an_address_meshkit_refuses(
    isolated, sent, url, words
):
    isolated.setenv("AWS_ENDPOINT_URL", url)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    message = str(raised.value)
    assert "AWS_ENDPOINT_URL" in message
    assert words in message
    assert "127.0.0.1" in message or "unset AWS_ENDPOINT_URL" in message, "the fix"
    assert sent == []
    assert mk.sandbox.current() is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.nip.io:4566",  # spells loopback
        "http://10-0-0-5.sslip.io:4566",  # spells a private address
        "http://localstack-1:4566",
        "http://emulator.internal:4566",  # .internal outside EC2's own domains
        "http://build-2024-01-02:4566",  # three numbers are not an address
    ],
)
def test_check_endpoint_accepts_names_that_spell_no_refused_address(url):
    assert mk.sandbox.check_endpoint(url) == url


# -- on Lambda, no silent embedded AWS --------------------------------------------------------
#
# Lambda sets AWS_LAMBDA_FUNCTION_NAME and AWS_EXECUTION_ENV ("AWS_Lambda_" + the runtime) in every
# function's environment: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html


@pytest.mark.parametrize(
    "variable, value",
    [
        ("AWS_LAMBDA_FUNCTION_NAME", "orders-consumer"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12"),
    ],
)
@pytest.mark.parametrize("choice", [None, "embedded"])
def test_on_lambda_embedded_mode_is_refused(isolated, sent, variable, value, choice):
    isolated.setenv(variable, value)
    if choice is not None:
        isolated.setenv("MESHKIT_TARGET", choice)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    message = str(raised.value)
    assert variable in message
    assert "MESHKIT_TARGET=aws" in message and "MESHKIT_AWS_ACCOUNT" in message
    assert sandbox._private_server is None, "no moto started inside the function"
    assert sent == []


def test_on_lambda_an_explicit_endpoint_is_honoured(isolated):
    """An emulator (LocalStack, moto) runs functions with AWS_ENDPOINT_URL pointing at itself."""
    isolated.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-consumer")
    with mk.sandbox.EmbeddedServer() as server:
        isolated.setenv("AWS_ENDPOINT_URL", server.url)

        target = mk.sandbox.start(quiet=True)

        assert (target.mode, target.endpoint_url) == ("embedded", server.url)


def test_on_lambda_the_opt_in_reaches_aws(isolated):
    isolated.setenv("AWS_LAMBDA_FUNCTION_NAME", "orders-consumer")
    opt_in(isolated, "111122223333")
    isolated.setattr(sandbox, "caller_account", lambda session, endpoint: "111122223333")

    assert mk.sandbox.start(quiet=True).mode == "aws"


# -- reset() wipes only a server meshkit started or was pointed at (issue 10, point 6) ----------


def test_reset_refuses_a_moto_server_meshkit_did_not_start(isolated, foreign_moto):
    isolated.setenv("AWS_ENDPOINT_URL", foreign_moto)
    target = mk.sandbox.start(quiet=True)
    events_at(foreign_moto).create_event_bus(Name="AnotherProjectsBus")

    with pytest.raises(sandbox.NotMeshkitServerError) as raised:
        mk.sandbox.reset()

    assert target.mode == "embedded", "still usable: only the wipe is refused"
    assert f"reset(endpoint_url='{foreign_moto}')" in str(raised.value)
    assert isinstance(raised.value, NotMeshkitResourceError)
    buses = [bus["Name"] for bus in events_at(foreign_moto).list_event_buses()["EventBuses"]]
    assert "AnotherProjectsBus" in buses


def test_reset_wipes_a_server_it_is_explicitly_pointed_at(isolated, foreign_moto):
    events_at(foreign_moto).create_event_bus(Name="LeftoverBus")

    mk.sandbox.reset(endpoint_url=foreign_moto)

    buses = [bus["Name"] for bus in events_at(foreign_moto).list_event_buses()["EventBuses"]]
    assert buses == ["default"]


def test_reset_wipes_the_server_meshkit_lab_marked(isolated, foreign_moto):
    """A kernel under `meshkit lab` inherits the marker naming the lab's server."""
    isolated.setenv("AWS_ENDPOINT_URL", foreign_moto)
    isolated.setenv(sandbox.SERVER_MARKER_VARIABLE, foreign_moto)
    mk.sandbox.start(quiet=True)
    events_at(foreign_moto).create_event_bus(Name="LeftoverBus")

    mk.sandbox.reset()

    assert [bus["Name"] for bus in events_at(foreign_moto).list_event_buses()["EventBuses"]] == [
        "default"
    ]


def test_the_test_sessions_server_is_meshkits_and_kernels_inherit_the_marker(mesh):
    assert mk.sandbox.started_by_meshkit(mesh.endpoint_url)
    assert os.environ[sandbox.SERVER_MARKER_VARIABLE] == mesh.endpoint_url


def test_embedded_environment_marks_only_servers_meshkit_started(foreign_moto):
    base = {"PATH": "/usr/bin", sandbox.SERVER_MARKER_VARIABLE: "http://127.0.0.1:1"}
    with mk.sandbox.EmbeddedServer() as server:
        ours = mk.sandbox.embedded_environment(server.url, base=base)
    theirs = mk.sandbox.embedded_environment(foreign_moto, base=base)

    assert ours[sandbox.SERVER_MARKER_VARIABLE] == server.url
    assert sandbox.SERVER_MARKER_VARIABLE not in theirs, "a stale marker is dropped"
    assert not mk.sandbox.started_by_meshkit(foreign_moto)


@pytest.mark.parametrize(
    "url, words",
    [
        ("https://events.us-west-2.amazonaws.com", "real AWS"),
        (r"http://sts.amazonaws.com\@127.0.0.1:9", "backslash"),
        ("http://192.0.2.1:4566", "not an embedded moto server"),
    ],
)
def test_bad_input_reset_endpoint_url(isolated, sent, url, words):
    with pytest.raises(TargetError) as raised:
        mk.sandbox.reset(endpoint_url=url)

    assert "endpoint_url" in str(raised.value) and words in str(raised.value)
    assert sent == []


def test_reset_refuses_an_endpoint_that_is_not_moto(isolated, plain_endpoint):
    with pytest.raises(TargetError, match="not an embedded moto server"):
        mk.sandbox.reset(endpoint_url=plain_endpoint)


# -- bad input to start(), reset() and EmbeddedServer: each names the variable and the fix -------


@pytest.mark.parametrize(
    "env, words",
    [
        ({"MESHKIT_TARGET": "prod"}, ["MESHKIT_TARGET", "'embedded'"]),
        ({"MESHKIT_TARGET": "aws,embedded"}, ["MESHKIT_TARGET", "'aws'"]),
        (
            {"MESHKIT_TARGET": "aws", "MESHKIT_AWS_ACCOUNT": "\uff11" * 12},  # full-width digits
            ["MESHKIT_AWS_ACCOUNT", "12-digit"],
        ),
        (
            {"MESHKIT_TARGET": "aws", "MESHKIT_AWS_ACCOUNT": "111122223333,"},
            ["MESHKIT_AWS_ACCOUNT", "separated by commas"],
        ),
        (
            {"MESHKIT_TARGET": "aws", "MESHKIT_AWS_ACCOUNT": "111122223333;444455556666"},
            ["MESHKIT_AWS_ACCOUNT", "separated by commas"],
        ),
        (
            {"MESHKIT_TARGET": "aws", "MESHKIT_AWS_ACCOUNT": "111122223333,111122223333"},
            ["MESHKIT_AWS_ACCOUNT", "twice"],
        ),
        (
            {
                "MESHKIT_TARGET": "aws",
                "MESHKIT_AWS_ACCOUNT": "111122223333",
                "AWS_REGION": "not-a-region",
            },
            ["AWS_REGION", "us-west-2"],
        ),
        (
            {
                "MESHKIT_TARGET": "aws",
                "MESHKIT_AWS_ACCOUNT": "111122223333",
                "AWS_ENDPOINT_URL": "",
            },
            ["AWS_ENDPOINT_URL", "unset"],
        ),
        (
            {
                "MESHKIT_TARGET": "endpoint",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_REGION": "Mars-1",
            },
            ["AWS_REGION", "us-west-2"],
        ),
    ],
)
def test_bad_input_start_environment(isolated, sent, env, words):
    """An account id is 12 digits
    (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html); a Region
    code is lowercase, like us-west-2
    (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html)."""
    for key, value in env.items():
        isolated.setenv(key, value)

    with leaves_the_process_as_it_was(), pytest.raises(TargetError) as raised:
        mk.sandbox.start(quiet=True)

    assert all(word in str(raised.value) for word in words), str(raised.value)
    assert sent == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"region": ""}, ["region", "us-west-2"]),
        ({"region": "not-a-region"}, ["region", "us-west-2"]),
        ({"region": "US-WEST-2"}, ["region", "us-west-2"]),
        ({"region": 42}, ["region", "us-west-2"]),
        ({"quiet": "no"}, ["quiet", "True or False"]),
    ],
)
def test_bad_input_start_arguments(isolated, sent, kwargs, words):
    """Region codes: https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html"""
    with leaves_the_process_as_it_was(), pytest.raises(ValidationError) as raised:
        mk.sandbox.start(**kwargs)

    assert all(word in str(raised.value) for word in words), str(raised.value)
    assert sent == []
    assert sandbox._private_server is None


@pytest.mark.parametrize("seed", ["42", 1.5, True])
def test_bad_input_reset_seed_wipes_nothing(mesh, seed):
    mk.buses.create_domain_bus("sales")

    with pytest.raises(ValidationError, match=r"seed .*an int, e\.g\. 42"):
        mk.sandbox.reset(seed=seed)

    assert mk.buses.list_domain_buses().bus.tolist() == ["SalesEventBus"]


@pytest.mark.parametrize("port", [-1, 65536, "5000", True, 2.5])
def test_bad_input_embedded_server_port(port):
    with pytest.raises(ValidationError, match=r"port.*0-65535.*0 for a free one"):
        mk.sandbox.EmbeddedServer(port=port)


def test_bad_input_reset_endpoint_url_type(isolated):
    with pytest.raises(ValidationError, match=r"endpoint_url .*a str"):
        mk.sandbox.reset(endpoint_url=5000)
