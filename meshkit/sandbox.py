"""Where AWS is: an embedded moto server, another endpoint, or real AWS on explicit opt-in.

``start()`` decides, exports what plain ``boto3`` calls, subprocesses and ``!aws`` cells need
into ``os.environ``, and prints one line saying which target it chose:

1. **embedded** (the default): a moto server on 127.0.0.1 with fake credentials. When
   ``AWS_ENDPOINT_URL`` already points at a moto server on loopback (``make lab`` starts one for the
   whole JupyterLab session) that server is shared; otherwise a private one starts for this process.
2. **endpoint**: ``AWS_ENDPOINT_URL`` points somewhere else (LocalStack, a remote moto server).
   Fake credentials are forced here too.
3. **aws**: real AWS, only when ``MESHKIT_TARGET=aws`` and ``MESHKIT_AWS_ACCOUNT`` equals the
   account of the credentials in use. Anything less is refused before a request is sent.
"""

from __future__ import annotations

import atexit
import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import sys
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .exceptions import TargetError

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

__all__ = [
    "DEFAULT_REGION",
    "EmbeddedServer",
    "Target",
    "current",
    "embedded_environment",
    "is_embedded_endpoint",
    "reset",
    "start",
    "stop",
]

_logger = logging.getLogger(__name__)

#: The region of the article's IAM policy; every embedded ARN is in it unless ``start(region=...)``.
DEFAULT_REGION = "us-west-2"
_FAKE_KEY = "testing"  # moto accepts any key; this one is obviously not real
_MOTO_PROBE_TIMEOUT_S = 2.0
_PROBE_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2})
# On real AWS no endpoint override applies (AWS_ENDPOINT_URL_STS could fake the account check).
REAL_AWS_CONFIG = Config(ignore_configured_endpoint_urls=True)
_ACCOUNT_ID = re.compile(r"\d{12}")
_REAL_AWS_HOST = re.compile(
    r"(^|\.)(amazonaws\.com(\.cn)?|amazonaws\.eu|api\.aws|c2s\.ic\.gov|sc2s\.sgov\.gov)$"
)
_LOOPBACK = "127.0.0.1,localhost,::1"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback stays local

# Embedded and endpoint modes drop every AWS_* and BOTO_* variable (profiles, session tokens, role
# and container credentials, per-service endpoints, telemetry) and set only what they need.
_DROPPED_PREFIXES = ("AWS_", "BOTO_")

Mode = Literal["embedded", "endpoint", "aws"]


@dataclass(frozen=True)
class Target:
    """Where meshkit's AWS calls go.

    Attributes
    ----------
    mode : {"embedded", "endpoint", "aws"}
        embedded: a moto server on loopback; endpoint: another AWS-compatible endpoint;
        aws: real AWS (explicit opt-in only).
    endpoint_url : str or None
        The URL every client is pointed at; None on real AWS.
    account_id : str
        The account the credentials belong to (moto's is ``123456789012``).
    region : str
        The region every client uses.
    other_accounts : tuple of str
        Real AWS only: further accounts the user opted in to (``MESHKIT_AWS_ACCOUNT`` lists them
        after the first), whose sessions meshkit accepts as ``boto3_session``.
    """

    mode: Mode
    endpoint_url: str | None
    account_id: str
    region: str
    _session: boto3.Session | None = field(default=None, compare=False, repr=False)
    other_accounts: tuple[str, ...] = field(default=(), repr=False)

    @property
    def is_real_aws(self) -> bool:
        """True only for the explicitly opted-in real AWS target."""
        return self.mode == "aws"

    def session(self) -> boto3.Session:
        """The boto3 session bound to this target: on real AWS, the one whose account was checked.

        Examples
        --------
        >>> import meshkit as mk
        >>> events = mk.sandbox.current().session().client("events")  # doctest: +SKIP
        """
        if self._session is None:
            object.__setattr__(self, "_session", _fake_session(self.region))
        return self._session  # type: ignore[return-value]

    def describe(self) -> str:
        """The one line ``start()`` prints."""
        where = (
            f"account {', '.join((self.account_id, *self.other_accounts))}, region {self.region}"
        )
        if self.mode == "aws":
            return f"meshkit target: REAL AWS ({where}), opted in with MESHKIT_TARGET=aws"
        if self.mode == "endpoint":
            return f"meshkit target: endpoint {self.endpoint_url} ({where}, fake credentials)"
        server = "private moto server" if _is_private(self) else "shared moto server"
        return (
            f"meshkit target: embedded AWS, {server} at {self.endpoint_url} "
            f"({where}, fake credentials)"
        )


class EmbeddedServer:
    """A moto server on 127.0.0.1 in a background thread; a context manager.

    Examples
    --------
    >>> from meshkit.sandbox import EmbeddedServer
    >>> with EmbeddedServer() as server:  # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:53127
    """

    def __init__(self, *, port: int = 0) -> None:
        if port:
            _check_port_free(port)
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as err:  # moto is an optional dependency on real AWS
            raise TargetError(
                "embedded mode needs moto's server, which is not installed: "
                "pip install 'meshkit[embedded]' (or set AWS_ENDPOINT_URL to a running endpoint)"
            ) from err
        self._server: ThreadedMotoServer = ThreadedMotoServer(
            ip_address="127.0.0.1", port=port, verbose=False
        )
        # moto logs every request through werkzeug; in a notebook that lands in cell outputs
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        _, bound_port = self._server.get_host_and_port()
        self.url = f"http://127.0.0.1:{bound_port}"

    def reset(self, *, seed: int | None = None) -> None:
        """Wipe every resource on this server; optionally seed moto's random ids."""
        _reset_moto(self.url, seed)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self._server.stop()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_current: Target | None = None
_private_server: EmbeddedServer | None = None
_forget_on_reset: list[Callable[[], None]] = []  # later modules register their caches here


def current() -> Target | None:
    """The target chosen by the last ``start()`` in this process, or None before it."""
    return _current


def start(*, region: str | None = None, quiet: bool = False) -> Target:
    """Decide where AWS is for this process, export it, and print one line saying so.

    Parameters
    ----------
    region : str, optional
        Region to use. Embedded mode ignores ``AWS_REGION`` from your shell (stored notebook outputs
        show ARNs in ``us-west-2``); pass this to choose another.
    quiet : bool, default False
        Do not print the line.

    Returns
    -------
    Target

    Raises
    ------
    meshkit.exceptions.TargetError
        When ``MESHKIT_TARGET`` asks for something that cannot be had, or real AWS was asked for
        without a matching ``MESHKIT_AWS_ACCOUNT``. Nothing has been sent to AWS then.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start()  # doctest: +SKIP
    meshkit target: embedded AWS, private moto server at http://127.0.0.1:53127 (...)
    """
    global _current
    choice = os.environ.get("MESHKIT_TARGET", "").strip().lower()
    if choice not in ("", "embedded", "endpoint", "aws"):
        raise TargetError(
            f"MESHKIT_TARGET={choice!r} is not a target: use 'embedded' (the default), "
            "'endpoint' (with AWS_ENDPOINT_URL) or 'aws' (with MESHKIT_AWS_ACCOUNT)"
        )
    target = _start_real_aws(region) if choice == "aws" else _start_offline(choice, region)
    _current = target
    boto3.DEFAULT_SESSION = None  # a cached default session may hold credentials from before
    _logger.info("%s", target.describe())
    if not quiet:
        print(target.describe())  # the one line start() promises; the rest of meshkit logs
    return target


def stop() -> None:
    """Stop the private moto server ``start()`` started, if any, and forget the target."""
    global _current, _private_server
    if _private_server is not None:
        if _current is not None and _current.endpoint_url == _private_server.url:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        _private_server.stop()
        _private_server = None
    _current = None


def reset(*, seed: int | None = None) -> None:
    """Wipe every resource of the embedded mesh; optionally seed moto's random ids.

    Refuses anything but the embedded target: it never deletes from an endpoint or a real account.

    Parameters
    ----------
    seed : int, optional
        Seed moto's random generator so generated ids (event ids, message ids) repeat run to run.
    """
    target = _current
    if target is None or target.mode != "embedded" or target.endpoint_url is None:
        where = "no target (call mk.sandbox.start() first)" if target is None else target.mode
        raise TargetError(
            f"reset() wipes the embedded moto server only; the target is {where}. To clean up "
            "elsewhere, delete what you created (mk.buses.delete_domain_bus, ...)"
        )
    _reset_moto(target.endpoint_url, seed)
    for forget in _forget_on_reset:  # caches of what existed before the wipe
        forget()


def embedded_environment(
    endpoint_url: str, *, region: str = DEFAULT_REGION, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a process needs to reach an embedded or local endpoint, and nothing real.

    Starts from ``base`` (default ``os.environ``), drops every ``AWS_*`` and ``BOTO_*`` variable
    (profiles, tokens, role and container credentials, per-service endpoints), points AWS config
    lookups at an empty file, keeps loopback traffic away from any proxy, and sets
    ``AWS_ENDPOINT_URL``, fake credentials and the region. Used for this process by ``start()``
    and for JupyterLab's kernels and terminals by ``meshkit lab``.

    Examples
    --------
    >>> from meshkit.sandbox import embedded_environment
    >>> env = embedded_environment("http://127.0.0.1:5000", base={"AWS_PROFILE": "prod"})
    >>> "AWS_PROFILE" in env, env["AWS_ACCESS_KEY_ID"]
    (False, 'testing')
    """
    env = {
        key: value
        for key, value in (os.environ if base is None else base).items()
        if not key.upper().startswith(_DROPPED_PREFIXES)
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_ACCESS_KEY_ID=_FAKE_KEY,
        AWS_SECRET_ACCESS_KEY=_FAKE_KEY,
        AWS_REGION=region,
        AWS_DEFAULT_REGION=region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), _LOOPBACK]))
    return _with_interpreter_bin_first(env)


# -- the decisions -----------------------------------------------------------------------------


def _start_offline(choice: str, region: str | None) -> Target:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if endpoint:
        _refuse_real_aws_endpoint(endpoint)
        embedded = is_embedded_endpoint(endpoint)
        if choice == "embedded" and not embedded:
            raise TargetError(
                f"MESHKIT_TARGET=embedded, but AWS_ENDPOINT_URL={endpoint} is not a moto server on "
                "127.0.0.1: unset AWS_ENDPOINT_URL to start a private one, or set "
                "MESHKIT_TARGET=endpoint to use it as it is"
            )
        mode: Mode = "embedded" if embedded and choice != "endpoint" else "endpoint"
        region = region or (
            DEFAULT_REGION if mode == "embedded" else _env_region() or DEFAULT_REGION
        )
    elif choice == "endpoint":
        raise TargetError(
            "MESHKIT_TARGET=endpoint needs AWS_ENDPOINT_URL, "
            "e.g. http://localhost:4566 for LocalStack"
        )
    else:
        endpoint, mode, region = _private_server_url(), "embedded", region or DEFAULT_REGION
    before = dict(os.environ)
    _apply_environment(embedded_environment(endpoint, region=region))
    session = _fake_session(region)
    try:
        account = _caller_account(session, endpoint)
    except (BotoCoreError, ClientError) as err:
        _apply_environment(before)  # a failed start() leaves the process as it found it
        raise TargetError(
            f"nothing AWS-compatible answered STS GetCallerIdentity at {endpoint} ({err}): start "
            "it, or unset AWS_ENDPOINT_URL to use a private embedded server"
        ) from err
    return Target(mode, endpoint, account, region, session)


def _start_real_aws(region: str | None) -> Target:
    listed = os.environ.get("MESHKIT_AWS_ACCOUNT", "").strip()
    wanted, *others = [account.strip() for account in listed.split(",")]
    if not all(_ACCOUNT_ID.fullmatch(account) for account in (wanted, *others)):
        raise TargetError(
            "MESHKIT_TARGET=aws also needs MESHKIT_AWS_ACCOUNT set to the 12-digit id of the "
            f"account you mean to change (got {listed or 'nothing'}); meshkit checks it against "
            "your credentials before anything is created. To work in several accounts, list "
            "them after it, separated by commas: your credentials' account first"
        )
    if os.environ.get("AWS_ENDPOINT_URL"):
        raise TargetError(
            f"MESHKIT_TARGET=aws, but AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']} is set "
            "(make lab sets it for the embedded mesh): unset it, or start Jupyter outside make lab"
        )
    region = region or _env_region()
    if not region:
        raise TargetError("MESHKIT_TARGET=aws needs a region: set AWS_REGION (e.g. us-west-2)")
    session = boto3.Session(region_name=region)
    try:
        actual = _caller_account(session, None)
    except (BotoCoreError, ClientError) as err:
        raise TargetError(
            f"could not ask AWS STS which account your credentials belong to ({err}): log in "
            "(aws sso login, or set AWS_PROFILE), and restart the kernel if it ran embedded before"
        ) from err
    if actual != wanted:
        raise TargetError(
            f"MESHKIT_AWS_ACCOUNT={wanted}, but your credentials belong to account {actual}: "
            "switch credentials (AWS_PROFILE) or correct MESHKIT_AWS_ACCOUNT"
        )
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    return Target("aws", None, actual, region, session, other_accounts=tuple(others))


# -- helpers -----------------------------------------------------------------------------------


def _caller_account(session: boto3.Session, endpoint_url: str | None) -> str:
    config = _PROBE_CONFIG if endpoint_url else _PROBE_CONFIG.merge(REAL_AWS_CONFIG)
    sts = session.client("sts", endpoint_url=endpoint_url, config=config)
    return str(sts.get_caller_identity()["Account"])


def _fake_session(region: str) -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=_FAKE_KEY, aws_secret_access_key=_FAKE_KEY, region_name=region
    )


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as err:
            raise TargetError(
                f"port {port} on 127.0.0.1 is in use ({err.strerror}): choose another port, "
                "or 0 for a free one"
            ) from err


def _private_server_url() -> str:
    global _private_server
    if _private_server is None:
        _private_server = EmbeddedServer()
        atexit.register(stop)
    return _private_server.url


def _is_private(target: Target) -> bool:
    return _private_server is not None and target.endpoint_url == _private_server.url


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def _refuse_real_aws_endpoint(endpoint: str) -> None:
    host = (urlsplit(endpoint).hostname or "").rstrip(".")
    if _REAL_AWS_HOST.search(host):
        raise TargetError(
            f"AWS_ENDPOINT_URL={endpoint} is real AWS. meshkit reaches real AWS only when you opt "
            "in: unset AWS_ENDPOINT_URL and set MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT"
        )


def is_embedded_endpoint(endpoint: str) -> bool:
    """True when ``endpoint`` is a moto server on this machine's loopback (an embedded AWS)."""
    return _is_loopback(endpoint) and _answers_moto_api(endpoint)


def _is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _answers_moto_api(endpoint: str) -> bool:
    """True when ``endpoint`` serves moto's control API (GET /moto-api/config answers JSON)."""
    try:
        with _NO_PROXY.open(
            f"{endpoint.rstrip('/')}/moto-api/config", timeout=_MOTO_PROBE_TIMEOUT_S
        ) as response:
            return isinstance(json.load(response), dict)
    except (OSError, ValueError, http.client.HTTPException):
        return False


def _reset_moto(endpoint_url: str, seed: int | None) -> None:
    paths = ["/moto-api/reset"] + ([] if seed is None else [f"/moto-api/seed?a={int(seed)}"])
    for path in paths:
        post_moto_api(endpoint_url, path)
    post_moto_api(endpoint_url, "/moto-api/reset-auth", b"inf")  # IAM enforcement off


def post_moto_api(endpoint_url: str, path: str, data: bytes = b"") -> None:
    """POST to the embedded server's own API (``/moto-api/...``)."""
    request = urllib.request.Request(
        endpoint_url + path,
        data=data,
        method="POST",
        headers={"Content-Type": "text/plain"},  # not a form: the server reads the raw body
    )
    try:
        with _NO_PROXY.open(request, timeout=30):
            pass
    except (OSError, http.client.HTTPException) as err:
        raise TargetError(
            f"the embedded server at {endpoint_url} did not answer {path}: {err}"
        ) from err


def _apply_environment(env: Mapping[str, str]) -> None:
    for key in [key for key in os.environ if key not in env]:
        del os.environ[key]
    os.environ.update(env)


def _with_interpreter_bin_first(env: dict[str, str]) -> dict[str, str]:
    """Put this interpreter's bin folder first on PATH: ``!aws`` finds the CLI installed with it."""
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        env["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
    return env
