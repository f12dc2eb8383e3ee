"""Where AWS is: an embedded moto server, another endpoint, or real AWS on explicit opt-in.

``start()`` decides, exports what plain ``boto3`` calls, subprocesses and ``!aws`` cells need
into ``os.environ``, and prints one line saying which target it chose:

1. **embedded** (the default): a moto server on 127.0.0.1 with fake credentials. When
   ``AWS_ENDPOINT_URL`` already points at a moto server on loopback (``make lab`` starts one for the
   whole JupyterLab session) that server is shared; otherwise a private one starts for this process
   (never on AWS Lambda, where nothing it stored would be kept).
2. **endpoint**: ``AWS_ENDPOINT_URL`` points somewhere else (LocalStack, a remote moto server).
   Fake credentials are forced here too.
3. **aws**: real AWS, only when ``MESHKIT_TARGET=aws`` and ``MESHKIT_AWS_ACCOUNT`` equals the
   account of the credentials in use. Anything less is refused before a request is sent.

An endpoint is judged by the host botocore would dial (``check_endpoint``): a URL that parsers read
differently, a host in one of AWS's DNS domains, or an IP address outside loopback and the private
ranges is refused. ``reset()`` wipes only a server meshkit started (``started_by_meshkit``) or one
it is explicitly pointed at.
"""

from __future__ import annotations

import atexit
import functools
import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import sys
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.util import parse_url

from .exceptions import MeshkitError, NotMeshkitResourceError, TargetError, ValidationError

if TYPE_CHECKING:
    from moto.server import ThreadedMotoServer

__all__ = [
    "DEFAULT_REGION",
    "SERVER_MARKER_VARIABLE",
    "EmbeddedServer",
    "NotMeshkitServerError",
    "Target",
    "caller_account",
    "check_endpoint",
    "current",
    "embedded_environment",
    "is_embedded_endpoint",
    "reset",
    "start",
    "started_by_meshkit",
    "stop",
]

_logger = logging.getLogger(__name__)

#: The region of the article's IAM policy; every embedded ARN is in it unless ``start(region=...)``.
DEFAULT_REGION = "us-west-2"
_FAKE_KEY = "testing"  # moto accepts any key; this one is obviously not real
# A loopback moto server answers in milliseconds, but a busy machine can make it seconds: too
# short a wait would call the embedded AWS "not moto" (a CI run did, on a loaded 2-core machine).
_MOTO_PROBE_TIMEOUT_S = 10.0
_PROBE_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2})
# On real AWS no endpoint override applies (AWS_ENDPOINT_URL_STS could fake the account check).
REAL_AWS_CONFIG = Config(ignore_configured_endpoint_urls=True)
_ACCOUNT_ID = re.compile(r"[0-9]{12}")  # not \d: it matches full-width and other digits too
#: Exported to the processes of a server meshkit started (``meshkit lab``'s kernels and terminals):
#: the URL of that server, which ``reset()`` may then wipe.
SERVER_MARKER_VARIABLE = "MESHKIT_EMBEDDED_SERVER"
# AWS's DNS domains beyond the partitions' endpoint suffixes that botocore ships (read at run time).
_MORE_AWS_DOMAINS = (
    "amazonaws.com", "amazonaws.com.cn", "amazonaws.eu", "api.aws", "on.aws", "aws", "amazon.com",
    "aws.com",
    "amazonwebservices.com", "awsapps.com", "amazoncognito.com", "awsapprunner.com",
    "cloudfront.net",
)  # fmt: skip
# IP literals an endpoint may name besides loopback: RFC 1918 and IPv6 unique local addresses, but
# not EC2's own services inside them (instance metadata, DNS, NTP at fd00:ec2::/32).
_PRIVATE_NETWORKS = tuple(
    map(ipaddress.ip_network, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
)
_EC2_LOCAL_SERVICES = ipaddress.ip_network("fd00:ec2::/32")
# Names EC2's DNS answers inside AWS (EC2 user guide, "EC2 instance hostnames, DNS names, and
# domains"): the instance metadata service, and instances' private DNS names, e.g.
# ip-10-0-0-1.ec2.internal, ip-10-0-0-1.us-west-2.compute.internal.
_EC2_METADATA_NAMES = frozenset({"instance-data", "instance-data.ec2.internal"})
_EC2_DNS_DOMAINS = ("ec2.internal", "compute.internal")
# An IPv4 address spelled in a name with dots or dashes, as wildcard DNS services (nip.io,
# sslip.io) and EC2's private DNS names write it: 10.0.0.1.nip.io, ip-10-0-0-1.ec2.internal.
_SPELLED_IPV4 = re.compile(
    r"(?=(?<![0-9a-z])([0-9]{1,3})[.-]([0-9]{1,3})[.-]([0-9]{1,3})[.-]([0-9]{1,3})(?![0-9a-z]))"
)
_NOT_LOCAL_FIX = (
    "Use 127.0.0.1, localhost, a private address or a host name; for real AWS unset "
    "AWS_ENDPOINT_URL and set MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT"
)
_ENDPOINT_EXAMPLE = "e.g. http://127.0.0.1:5000, or http://localhost:4566 for LocalStack"
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

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.sandbox.current()  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    Target(mode='embedded', endpoint_url='http://127.0.0.1:...', account_id='123456789012',
           region='us-west-2')
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

        Offline, a session with fake credentials in the target's region. meshkit's own clients
        also set the target's endpoint; a client of this session reaches it through
        ``AWS_ENDPOINT_URL``, which ``start()`` exported.

        Returns
        -------
        boto3.Session

        Examples
        --------
        >>> import meshkit as mk
        >>> session = mk.sandbox.current().session()
        >>> session.region_name
        'us-west-2'
        >>> session.client("sts").get_caller_identity()["Account"]
        '123456789012'
        """
        session = self._session
        if session is None:  # offline: made on first use (a frozen dataclass sets it this way)
            session = _fake_session(self.region)
            object.__setattr__(self, "_session", session)
        return session

    def describe(self) -> str:
        """The one line ``start()`` prints.

        Returns
        -------
        str

        Examples
        --------
        >>> import meshkit as mk
        >>> print(mk.sandbox.current().describe())  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        meshkit target: embedded AWS, ... moto server at http://127.0.0.1:... (account 123456789012,
        region us-west-2, fake credentials)
        """
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


class NotMeshkitServerError(TargetError, NotMeshkitResourceError):
    """``reset()`` refuses a moto server that meshkit neither started nor was pointed at."""


def _quiet_cloudformation_skips(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("No Moto CloudFormation support for")


class EmbeddedServer:
    """A moto server on 127.0.0.1 in a background thread; a context manager.

    While it runs, ``started_by_meshkit(server.url)`` is true in this process, and
    ``embedded_environment(server.url)`` marks it for child processes, so ``reset()`` may wipe it.

    Parameters
    ----------
    port : int, default 0
        TCP port on 127.0.0.1; 0 picks a free one.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``port`` is not an int in 0-65535.
    meshkit.exceptions.TargetError
        When the port is in use, or moto's server is not installed.

    Examples
    --------
    >>> from meshkit.sandbox import EmbeddedServer
    >>> with EmbeddedServer() as server:
    ...     print(server.url)  # doctest: +ELLIPSIS
    http://127.0.0.1:...
    """

    def __init__(self, *, port: int = 0) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValidationError(
                f"port={port!r} is not a TCP port number (0-65535): pass a free port, "
                "or 0 for a free one chosen for you"
            )
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
        # moto warns of each CloudFormation type it skips; mk.mesh.check_deployed names them
        logging.getLogger("moto").addFilter(_quiet_cloudformation_skips)
        warnings.filterwarnings(
            "ignore", r"Tried to parse AWS::.* not supported by moto", category=UserWarning
        )
        self._server.start()
        _, bound_port = self._server.get_host_and_port()
        self.url = f"http://127.0.0.1:{bound_port}"
        _started_here.add(self.url)

    def reset(self, *, seed: int | None = None) -> None:
        """Wipe every resource on this server; optionally seed moto's random ids.

        moto keeps its resources per process, not per server: this wipes those of every
        ``EmbeddedServer`` in this process, and IAM enforcement is switched off again.

        Parameters
        ----------
        seed : int, optional
            Seed moto's random generator so generated ids repeat run to run.

        Raises
        ------
        meshkit.exceptions.ValidationError
            ``seed`` is not an int; nothing was wiped.
        meshkit.exceptions.TargetError
            The server did not answer.

        Examples
        --------
        >>> from meshkit.sandbox import EmbeddedServer
        >>> with EmbeddedServer() as server:  # wipes this process's mesh too  # doctest: +SKIP
        ...     server.reset(seed=42)
        """
        _reset_moto(self.url, seed)

    def stop(self) -> None:
        """Stop serving and join the thread; ``reset()`` then no longer wipes its URL.

        Examples
        --------
        >>> import meshkit as mk
        >>> server = mk.sandbox.EmbeddedServer()
        >>> server.stop()
        >>> mk.sandbox.started_by_meshkit(server.url)
        False
        """
        _started_here.discard(self.url)
        self._server.stop()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_current: Target | None = None
_private_server: EmbeddedServer | None = None
_started_here: set[str] = set()  # URLs of the EmbeddedServers running in this process


def current() -> Target | None:
    """The target chosen by the last ``start()`` in this process, or None before it.

    Returns
    -------
    Target or None

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.current()
    >>> target.mode, target.account_id
    ('embedded', '123456789012')
    """
    return _current


def start(*, region: str | None = None, quiet: bool = False) -> Target:
    """Decide where AWS is for this process, export it, and print one line saying so.

    What it changes in the process, per target:

    - **embedded** and **endpoint**: ``os.environ`` gets the endpoint (``AWS_ENDPOINT_URL``), fake
      credentials and the region, and every other ``AWS_*`` / ``BOTO_*`` variable is removed, so
      that a plain ``boto3.client(...)``, a subprocess and an ``!aws`` cell reach the same mesh and
      nothing real; ``boto3.DEFAULT_SESSION`` is dropped (it may hold real credentials).
    - **aws**: nothing. meshkit uses a session of its own; your environment, profile and
      ``boto3.DEFAULT_SESSION`` stay as they were (a plain ``boto3.client`` uses your configured
      Region, which may differ from ``region=``).

    Parameters
    ----------
    region : str, optional
        Region to use, an AWS Region code such as ``us-west-2``. Embedded mode ignores
        ``AWS_REGION`` from your shell (stored notebook outputs show ARNs in ``us-west-2``); pass
        this to choose another.
    quiet : bool, default False
        Do not print the line.

    Returns
    -------
    Target

    Raises
    ------
    meshkit.exceptions.TargetError
        When ``MESHKIT_TARGET`` asks for something that cannot be had, real AWS was asked for
        without a matching ``MESHKIT_AWS_ACCOUNT``, ``AWS_ENDPOINT_URL`` is malformed or would
        reach AWS (see ``check_endpoint``), or embedded mode was asked for on AWS Lambda. Nothing
        has been sent to AWS then, and ``os.environ`` and ``boto3.DEFAULT_SESSION`` are as they
        were: every refusal leaves the process as it found it.
    meshkit.exceptions.ValidationError
        When ``region`` is not a Region code or ``quiet`` not a bool.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start()  # doctest: +ELLIPSIS
    meshkit target: embedded AWS, ... moto server at http://127.0.0.1:... (account ...)
    >>> target.endpoint_url == mk.sandbox.current().endpoint_url
    True
    """
    global _current
    if region is not None:
        _check_region(region, name="region", error=ValidationError)
    if not isinstance(quiet, bool):
        raise ValidationError(f"quiet must be True or False (got {quiet!r})")
    before, default_session = dict(os.environ), boto3.DEFAULT_SESSION
    try:
        choice = os.environ.get("MESHKIT_TARGET", "").strip().lower()
        if choice not in ("", "embedded", "endpoint", "aws"):
            raise TargetError(
                f"MESHKIT_TARGET={choice!r} is not a target: use 'embedded' (the default), "
                "'endpoint' (with AWS_ENDPOINT_URL) or 'aws' (with MESHKIT_AWS_ACCOUNT)"
            )
        target = _start_real_aws(region) if choice == "aws" else _start_offline(choice, region)
    except BaseException:
        _apply_environment(before)  # a refused start() leaves the process as it found it
        boto3.DEFAULT_SESSION = default_session
        raise
    _current = target
    if not target.is_real_aws:  # offline, a cached default session may hold real credentials
        boto3.DEFAULT_SESSION = None
    _logger.info("%s", target.describe())
    if not quiet:
        print(target.describe())  # the one line start() promises; the rest of meshkit logs
    return target


def stop() -> None:
    """Stop the private moto server ``start()`` started, if any, and forget the target.

    Until the next ``start()``, meshkit's calls raise ``TargetError``. A shared server
    (``make lab``'s) keeps running, and ``os.environ`` still points at it.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.sandbox.stop()  # forgets the target other examples use  # doctest: +SKIP
    >>> mk.sandbox.current() is None  # doctest: +SKIP
    True
    """
    global _current, _private_server
    if _private_server is not None:
        if _current is not None and _current.endpoint_url == _private_server.url:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        if os.environ.get(SERVER_MARKER_VARIABLE) == _private_server.url:
            del os.environ[SERVER_MARKER_VARIABLE]
        _private_server.stop()
        _private_server = None
    _current = None


def reset(*, seed: int | None = None, endpoint_url: str | None = None) -> None:
    """Wipe every resource of the embedded mesh; optionally seed moto's random ids.

    Without ``endpoint_url`` it wipes the current target, and only when that is an embedded moto
    server meshkit started: this process's (``start()``'s private one, an ``EmbeddedServer``) or
    the one ``meshkit lab`` started for this kernel (see ``started_by_meshkit``). Another moto on
    loopback may hold another project's resources; name it with ``endpoint_url`` to wipe it anyway.
    It never deletes from an endpoint or a real account.

    Parameters
    ----------
    seed : int, optional
        Seed moto's random generator so generated ids (event ids, message ids) repeat run to run.
    endpoint_url : str, optional
        Wipe the moto server at this URL (on this machine's loopback) instead, whoever started it.

    Raises
    ------
    NotMeshkitServerError
        The current target is a moto server meshkit did not start; nothing was wiped.
    meshkit.exceptions.TargetError
        The target (or ``endpoint_url``) is not an embedded moto server on this machine.
    meshkit.exceptions.ValidationError
        ``seed`` is not an int, or ``endpoint_url`` not a str; nothing was wiped.

    Examples
    --------
    Skipped here: either call would wipe the mesh that the other examples and tests share.

    >>> import meshkit as mk
    >>> mk.sandbox.reset(seed=42)  # doctest: +SKIP
    >>> mk.sandbox.reset(endpoint_url="http://127.0.0.1:4747")  # doctest: +SKIP
    """
    _check_seed(seed)
    if endpoint_url is None:
        url = _current_embedded_url()
    else:
        url = check_endpoint(endpoint_url, name="endpoint_url", embedded=True)
    _reset_moto(url, seed)


def _current_embedded_url() -> str:
    """The current target's URL, when it is an embedded server that meshkit started."""
    target = _current
    if target is None or target.mode != "embedded" or target.endpoint_url is None:
        where = "no target (call mk.sandbox.start() first)" if target is None else target.mode
        raise TargetError(
            f"reset() wipes the embedded moto server only; the target is {where}. To clean up "
            "elsewhere, delete what you created (mk.buses.delete_domain_bus, ...)"
        )
    url = target.endpoint_url
    if not started_by_meshkit(url):
        raise NotMeshkitServerError(
            f"reset() wipes only a moto server that meshkit started (in this process, or "
            f"`meshkit lab`'s, whose kernels have {SERVER_MARKER_VARIABLE}); the one at {url} was "
            "started by something else and may hold another project's resources. To wipe it "
            f"anyway, name it: mk.sandbox.reset(endpoint_url={url!r})"
        )
    return url


def started_by_meshkit(endpoint_url: str) -> bool:
    """True when meshkit started the server at ``endpoint_url`` for this process or its parent.

    That is an ``EmbeddedServer`` running in this process (``start()``'s private server, the test
    session's), or the server named by ``SERVER_MARKER_VARIABLE``, which ``meshkit lab`` (through
    ``embedded_environment``) exports to its kernels and terminals.

    Parameters
    ----------
    endpoint_url : str
        The server's URL, in any spelling ``check_endpoint`` accepts.

    Returns
    -------
    bool
        False also for a URL that ``check_endpoint`` refuses.

    Examples
    --------
    >>> import meshkit as mk
    >>> with mk.sandbox.EmbeddedServer() as server:
    ...     mk.sandbox.started_by_meshkit(server.url)
    True
    >>> mk.sandbox.started_by_meshkit("http://localhost:4566")
    False
    """
    url = _canonical_or_none(endpoint_url)
    return url is not None and (url in _started_here or url == _marker(os.environ))


def embedded_environment(
    endpoint_url: str, *, region: str = DEFAULT_REGION, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a process needs to reach an embedded or local endpoint, and nothing real.

    Starts from ``base`` (default ``os.environ``), drops every ``AWS_*`` and ``BOTO_*`` variable
    (profiles, tokens, role and container credentials, per-service endpoints), points AWS config
    lookups at an empty file, keeps loopback traffic away from any proxy, and sets
    ``AWS_ENDPOINT_URL`` (as ``check_endpoint`` spells it), fake credentials and the region. When
    meshkit started that server (``started_by_meshkit``), ``SERVER_MARKER_VARIABLE`` names it, so
    that ``reset()`` in a child process may wipe it. Used for this process by ``start()`` and for
    JupyterLab's kernels and terminals by ``meshkit lab``.

    Parameters
    ----------
    endpoint_url : str
        The endpoint, judged by ``check_endpoint``.
    region : str, default DEFAULT_REGION
        The Region code to set (``AWS_REGION`` and ``AWS_DEFAULT_REGION``).
    base : mapping of str to str, optional
        The environment to start from; default ``os.environ`` (which is not changed).

    Returns
    -------
    dict of str to str
        A new environment, with this interpreter's folder first on ``PATH`` (``!aws`` finds the
        AWS CLI installed with meshkit).

    Raises
    ------
    meshkit.exceptions.TargetError
        When ``endpoint_url`` is malformed or would reach AWS (see ``check_endpoint``).
    meshkit.exceptions.ValidationError
        When ``region`` is not a Region code.

    Examples
    --------
    >>> from meshkit.sandbox import embedded_environment
    >>> env = embedded_environment("http://127.0.0.1:5000", base={"AWS_PROFILE": "prod"})
    >>> "AWS_PROFILE" in env, env["AWS_ACCESS_KEY_ID"]
    (False, 'testing')
    """
    url = check_endpoint(endpoint_url)
    _check_region(region, name="region", error=ValidationError)
    source = os.environ if base is None else base
    env = {
        key: value
        for key, value in source.items()
        if not key.upper().startswith(_DROPPED_PREFIXES) and key != SERVER_MARKER_VARIABLE
    }
    if url in _started_here or url == _marker(source):  # kept only for the server it names
        env[SERVER_MARKER_VARIABLE] = url
    env.update(
        AWS_ENDPOINT_URL=url,
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
    if "AWS_ENDPOINT_URL" in os.environ:  # set but empty is a mistake too, not "unset"
        endpoint = check_endpoint(os.environ["AWS_ENDPOINT_URL"], name="AWS_ENDPOINT_URL")
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
        _refuse_embedded_on_lambda()
        endpoint, mode, region = _private_server_url(), "embedded", region or DEFAULT_REGION
    _apply_environment(embedded_environment(endpoint, region=region))
    session = _fake_session(region)
    try:
        account = caller_account(session, endpoint)
    except (BotoCoreError, ClientError) as err:
        raise TargetError(
            f"nothing AWS-compatible answered STS GetCallerIdentity at {endpoint} ({err}): start "
            "it, or unset AWS_ENDPOINT_URL to use a private embedded server"
        ) from err
    return Target(mode, endpoint, account, region, session)


def _start_real_aws(region: str | None) -> Target:
    listed = os.environ.get("MESHKIT_AWS_ACCOUNT", "").strip()
    accounts = [account.strip() for account in listed.split(",")]
    if not all(_ACCOUNT_ID.fullmatch(account) for account in accounts):
        raise TargetError(
            "MESHKIT_TARGET=aws also needs MESHKIT_AWS_ACCOUNT set to the 12-digit id of the "
            f"account you mean to change (got {listed or 'nothing'!r}); meshkit checks it against "
            "your credentials before anything is created. To work in several accounts, list "
            "them after it, separated by commas: your credentials' account first"
        )
    if len(set(accounts)) < len(accounts):
        raise TargetError(
            f"MESHKIT_AWS_ACCOUNT={listed!r} names an account twice: list each account once, "
            "separated by commas, your credentials' account first"
        )
    wanted, *others = accounts
    if "AWS_ENDPOINT_URL" in os.environ:
        raise TargetError(
            f"MESHKIT_TARGET=aws, but AWS_ENDPOINT_URL={os.environ['AWS_ENDPOINT_URL']!r} is set "
            "(make lab sets it for the embedded mesh): unset it, or start Jupyter outside make lab"
        )
    region = region or _env_region()
    if not region:
        raise TargetError("MESHKIT_TARGET=aws needs a region: set AWS_REGION (e.g. us-west-2)")
    session = boto3.Session(region_name=region)
    try:
        actual = caller_account(session, None)
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
    return Target("aws", None, actual, region, session, other_accounts=tuple(others))


# -- helpers -----------------------------------------------------------------------------------


def caller_account(session: boto3.Session, endpoint_url: str | None = None) -> str:
    """The account a session's credentials belong to (STS GetCallerIdentity at ``endpoint_url``).

    Parameters
    ----------
    session : boto3.Session
        The session whose credentials are asked about.
    endpoint_url : str, optional
        Where STS is; None asks real AWS's STS, ignoring any configured endpoint override.

    Returns
    -------
    str
        The 12-digit account id.

    Raises
    ------
    botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError
        When STS cannot be reached or refuses the credentials.

    Examples
    --------
    >>> import meshkit as mk
    >>> target = mk.sandbox.start(quiet=True)
    >>> mk.sandbox.caller_account(target.session(), target.endpoint_url)
    '123456789012'
    """
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
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name)
        if value:
            _check_region(value, name=name, error=TargetError)
            return value
    return None


@functools.lru_cache(maxsize=1)
def _partitions() -> tuple[dict[str, Any], ...]:
    """AWS's partitions as botocore ships them: DNS suffixes and Region patterns."""
    return tuple(botocore.loaders.create_loader().load_data("partitions")["partitions"])


@functools.lru_cache(maxsize=1)
def _aws_domains() -> frozenset[str]:
    suffixes = set(_MORE_AWS_DOMAINS)
    for partition in _partitions():
        outputs = partition.get("outputs", {})
        suffixes.update(filter(None, (outputs.get("dnsSuffix"), outputs.get("dualStackDnsSuffix"))))
    return frozenset(suffixes)


def _is_aws_host(host: str) -> bool:
    return any(host == domain or host.endswith(f".{domain}") for domain in _aws_domains())


def _check_region(value: object, *, name: str, error: type[MeshkitError]) -> None:
    if not isinstance(value, str) or not any(
        re.fullmatch(partition["regionRegex"], value, re.ASCII) for partition in _partitions()
    ):
        raise error(
            f"{name}={value!r} is not an AWS Region code: use one such as us-west-2 or "
            "eu-central-1 (lowercase, as AWS lists them)"
        )


def _check_seed(seed: object) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValidationError(
            f"seed must be an int, e.g. 42 (got {seed!r}), or None to leave moto's ids random"
        )


def _refuse_embedded_on_lambda() -> None:
    """A deployed function must not write into a moto server that vanishes with it."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "").strip()
    runtime = os.environ.get("AWS_EXECUTION_ENV", "")
    if function or runtime.startswith("AWS_Lambda_"):
        where = (
            f"AWS_LAMBDA_FUNCTION_NAME={function}" if function else f"AWS_EXECUTION_ENV={runtime}"
        )
        raise TargetError(
            f"this is AWS Lambda ({where}), where meshkit would start an embedded moto server "
            "inside the function and keep what the handler writes (idempotency records, events) "
            "only until it stops: set MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT=<the function's "
            "12-digit account id> in the function's environment variables (or AWS_ENDPOINT_URL "
            "to an emulator such as LocalStack)"
        )


# -- judging an endpoint by the host that would be dialed ---------------------------------------


@dataclass(frozen=True)
class _Endpoint:
    url: str  # scheme://host[:port], the one spelling meshkit exports
    host: str  # lowercase, no brackets, no trailing dot
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # when the host is an IP

    @property
    def is_loopback(self) -> bool:
        return self.host == "localhost" or (self.address is not None and self.address.is_loopback)


class _WouldDial(Exception):
    """Raised before sending: carries the URL botocore was about to open."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class _Request(Protocol):
    """What ``_stop_before_sending`` reads of botocore's AWSPreparedRequest."""

    url: str


def _stop_before_sending(request: _Request, **_: object) -> None:
    raise _WouldDial(request.url)


def check_endpoint(endpoint_url: str, *, name: str = "endpoint_url", embedded: bool = False) -> str:
    """Judge an endpoint URL by the host botocore would dial; return its one spelling.

    botocore builds the request URL from the endpoint and urllib3 dials the host it parses from
    it; other tools (``urllib``, ``!aws`` in another SDK) may read the same string differently,
    e.g. ``http://sts.amazonaws.com\\@127.0.0.1:9``. So the URL must be ``scheme://host[:port]``
    and nothing more, parsers must agree on its host, and that host must not be in one of AWS's
    DNS domains (every partition's). An IP address is accepted only on loopback or in a private
    range (10/8, 172.16/12, 192.168/16, fc00::/7 but not EC2's fd00:ec2::/32): AWS's public
    ranges cannot be listed offline, and AWS's endpoints are reached at public addresses. Old
    numeric spellings (``127.1``, ``0x7f.0.0.1``) are judged as the address they dial, and so
    are names that spell one (``169.254.169.254.nip.io``, ``fd00-ec2--254.sslip.io``). Names
    EC2's DNS answers inside AWS are refused: the instance metadata service (``instance-data``)
    and private DNS names (``*.ec2.internal``, ``*.compute.internal``). No name is looked up.

    Parameters
    ----------
    endpoint_url : str
        The URL to judge.
    name : str, default "endpoint_url"
        What to call it in an error (the variable or option it came from).
    embedded : bool, default False
        Also require a moto server on this machine's loopback that answers ``/moto-api/``.

    Returns
    -------
    str
        ``scheme://host[:port]`` in lowercase, as meshkit exports it in ``AWS_ENDPOINT_URL``.

    Raises
    ------
    meshkit.exceptions.TargetError
        When the URL is malformed, ambiguous, real AWS or a public IP address (or, with
        ``embedded``, not a moto server on loopback). Nothing has been sent to it.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.sandbox.check_endpoint("HTTP://LocalStack:4566/")
    'http://localstack:4566'
    >>> mk.sandbox.check_endpoint("http://127.1:5000")
    'http://127.0.0.1:5000'
    >>> mk.sandbox.check_endpoint("http://instance-data.ec2.internal")
    Traceback (most recent call last):
    ...
    meshkit.exceptions.TargetError: endpoint_url='http://instance-data.ec2.internal' names EC2's...
    """
    if not isinstance(endpoint_url, str):
        raise ValidationError(
            f"{name} must be a str URL, {_ENDPOINT_EXAMPLE} (got {type(endpoint_url).__name__})"
        )
    endpoint = _parse_endpoint(endpoint_url, name)
    if embedded:
        if not (endpoint.is_loopback and _answers_moto_api(endpoint.url)):
            raise TargetError(
                f"{name}={endpoint_url!r} is not an embedded moto server on this machine "
                "(loopback, answering /moto-api/): a reset wipes only that, never another "
                "endpoint or a real account. Name the server `meshkit lab` printed, e.g. "
                "http://127.0.0.1:4747"
            )
    elif endpoint.address is not None and not _is_local_address(endpoint.address):
        raise _not_local(f"{name}={endpoint_url!r} dials the IP address", endpoint.address)
    return endpoint.url


def _not_local(lead: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> TargetError:
    return TargetError(
        f"{lead} {address}, which is neither loopback nor in a private range meshkit accepts "
        "(10/8, 172.16/12, 192.168/16, fc00::/7 without EC2's fd00:ec2::/32): AWS's endpoints "
        f"and instance metadata live at such addresses. {_NOT_LOCAL_FIX}"
    )


def _addresses_spelled_in(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """IP addresses a name spells (10.0.0.1.nip.io, ip-10-0-0-1..., fd00-ec2--254.sslip.io)."""
    spelled: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for groups in _SPELLED_IPV4.findall(host):
        try:
            spelled.append(ipaddress.IPv4Address(".".join(groups)))
        except ValueError:  # a part above 255, or with a leading zero
            continue
    for label in host.split("."):
        if "-" in label and re.fullmatch(r"[0-9a-f-]+", label):
            try:  # sslip.io's IPv6 spelling: dashes for colons
                address = ipaddress.IPv6Address(label.replace("-", ":"))
            except ValueError:
                continue
            spelled.append(address.ipv4_mapped or address)
    return spelled


def _check_host_name(host: str, port: int | None, what: str) -> None:
    """Refuse a name that EC2's DNS answers, or that spells an address an IP literal may not.

    ``what`` starts the message (``AWS_ENDPOINT_URL='http://...'``).
    """
    if host in _EC2_METADATA_NAMES:
        raise TargetError(
            f"{what} names EC2's instance metadata service ({host}), which holds the instance's "
            f"credentials and is no AWS emulator. {_NOT_LOCAL_FIX}"
        )
    spelled = _addresses_spelled_in(host)
    if any(host == domain or host.endswith(f".{domain}") for domain in _EC2_DNS_DOMAINS):
        local = next((str(a) for a in spelled if _is_local_address(a)), None)
        at = "" if port is None else f":{port}"
        instead = (
            f"http://{local}{at}"
            if local
            else f"the instance's PrivateIpAddress (http://10.x.y.z{at})"
        )
        raise TargetError(
            f"{what} is an EC2 private DNS name ({host}), in a domain only AWS's DNS answers: "
            f"use its private IP address instead, {instead}, or 127.0.0.1 for a server on this "
            "machine"
        )
    for address in spelled:
        if not _is_local_address(address):
            lead = (
                f"{what} is a name that wildcard DNS (nip.io, sslip.io) answers with the IP address"
            )
            raise _not_local(lead, address)


def _is_local_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if address.is_loopback:
        return True
    return address not in _EC2_LOCAL_SERVICES and any(
        address in network for network in _PRIVATE_NETWORKS
    )


@functools.lru_cache(maxsize=64)
def _parse_endpoint(raw: str, name: str) -> _Endpoint:
    def refuse(problem: str) -> TargetError:
        unset = ", or unset it to start a private embedded server" * (name == "AWS_ENDPOINT_URL")
        return TargetError(
            f"{name}={raw!r} is not an endpoint meshkit can use: {problem}. Set it to "
            f"scheme://host:port and nothing more ({_ENDPOINT_EXAMPLE}){unset}"
        )

    text = raw.strip()
    if not text:
        raise refuse("it is empty")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise refuse("it contains whitespace or control characters")
    if not text.isascii():  # IDNA maps some letters onto others (a long s becomes "s")
        raise refuse("it contains non-ASCII characters: write the host in ASCII (punycode)")
    if "\\" in text:
        raise refuse(
            "it contains a backslash, where URL parsers disagree on the host (urllib reads what "
            "follows it, botocore and urllib3 dial what precedes it)"
        )
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise refuse(f"it is not a URL ({err})") from err
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse(
            f"its scheme is {parts.scheme or 'missing'!r}: start it with http:// or https://"
        )
    if "@" in parts.netloc:
        raise refuse("it has user info before an '@', which hides the host: remove it")
    if "%" in parts.netloc:
        raise refuse("its host is percent-encoded: write it plainly")
    for part, value in (("path", parts.path.strip("/")), ("query", parts.query),
                        ("fragment", parts.fragment)):  # fmt: skip
        if value or (part == "query" and "?" in text) or (part == "fragment" and "#" in text):
            raise refuse(
                f"it has a {part} ({value!r}); moto and LocalStack serve at the server's root"
            )
    if not parts.hostname:
        raise refuse("it has no host")
    try:
        port = parts.port
    except ValueError as err:
        raise refuse(f"its port is not a TCP port 1-65535 ({err})") from err
    if port == 0:
        raise refuse("port 0 cannot be dialed: use the server's port, 1-65535")
    host = parts.hostname.rstrip(".")
    dialed = _host_botocore_dials(text)
    if dialed is None:
        raise refuse("botocore does not accept it as an endpoint URL")
    if dialed != (host, port):
        raise refuse(
            f"URL parsers disagree on it: botocore would dial {dialed[0]}:{dialed[1]}, "
            f"urllib reads {host}:{port}"
        )
    if _is_aws_host(host):
        raise TargetError(
            f"{name}={raw!r} is real AWS ({host}). meshkit reaches real AWS only when you opt in: "
            "unset AWS_ENDPOINT_URL and set MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT"
        )
    address = _ip_literal(host)
    if address is None:
        _check_host_name(host, port, f"{name}={raw!r}")
    spelled = host if address is None else str(address)
    netloc = f"[{spelled}]" if ":" in spelled else spelled
    url = f"{parts.scheme.lower()}://{netloc}" + ("" if port is None else f":{port}")
    return _Endpoint(url, spelled, address)


def _host_botocore_dials(url: str) -> tuple[str, int | None] | None:
    """(host, port) that urllib3 would connect to for botocore's first request to ``url``.

    The client is built from the URL alone (no profile, config file or environment setting) and
    stopped before it sends: nothing leaves the process.
    """
    session = botocore.session.Session(session_vars=_isolated_session_vars())
    try:
        sts = session.create_client(
            "sts", region_name=DEFAULT_REGION, endpoint_url=url,
            aws_access_key_id=_FAKE_KEY, aws_secret_access_key=_FAKE_KEY,
        )  # fmt: skip
        sts.meta.events.register("before-send", _stop_before_sending)
        sts.get_caller_identity()
    except _WouldDial as dial:
        try:
            parsed = parse_url(dial.url)  # what urllib3's PoolManager.connection_from_url reads
        except ValueError:
            return None
        host = (parsed.host or "").strip("[]").lower().rstrip(".")
        return host, parsed.port
    except (ValueError, BotoCoreError):
        return None
    return None


@functools.lru_cache(maxsize=1)
def _isolated_session_vars() -> dict[str, tuple[None, None, Any, Any]]:
    """botocore session variables that read no environment variable, profile or config file."""
    files = ("config_file", "credentials_file")
    return {
        name: (None, None, os.devnull if name in files else default, convert)
        for name, (_, _, default, convert) in botocore.session.Session.SESSION_VARIABLES.items()
    }


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address an IP-literal host dials (IPv4-mapped IPv6 as IPv4), or None for a name."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        # getaddrinfo reads the old inet_aton spellings too: 127.1, 0x7f.0.0.1, 2130706433
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical_or_none(endpoint_url: object) -> str | None:
    if not isinstance(endpoint_url, str) or not endpoint_url.strip():
        return None
    try:
        return _parse_endpoint(endpoint_url, "endpoint_url").url
    except TargetError:
        return None


def _marker(env: Mapping[str, str]) -> str | None:
    """The server named by SERVER_MARKER_VARIABLE in ``env``, in check_endpoint's spelling."""
    return _canonical_or_none(env.get(SERVER_MARKER_VARIABLE))


def is_embedded_endpoint(endpoint: str) -> bool:
    """True when ``endpoint`` is a moto server on this machine's loopback (an embedded AWS).

    Parameters
    ----------
    endpoint : str
        The URL to ask: a loopback URL is probed (``GET /moto-api/config``); anything else is
        refused without a request.

    Returns
    -------
    bool
        False also for a URL ``check_endpoint`` refuses.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.sandbox.is_embedded_endpoint("https://events.us-west-2.amazonaws.com")
    False
    >>> mk.sandbox.is_embedded_endpoint(mk.sandbox.current().endpoint_url)
    True
    """
    try:
        check_endpoint(endpoint, name="endpoint", embedded=True)
    except MeshkitError:
        return False
    return True


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
    _check_seed(seed)  # before the wipe: a bad seed must not leave a wiped, unseeded server
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
