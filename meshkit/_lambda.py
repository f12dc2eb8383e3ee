"""What meshkit's local event source mappings share: Lambda's context, the call of a handler with
a timeout, and the reading of its batch responses."""

from __future__ import annotations

import contextvars
import copy
import decimal
import inspect
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from . import sandbox
from .exceptions import MeshkitError, TargetError

# Lambda's limit on a synchronous invocation's response (the mapping invokes synchronously).
RESPONSE_MAX_BYTES = 6 * 1024 * 1024


class LocalContext:
    """The parts of Lambda's context object that handlers (and Powertools) read.

    ``get_remaining_time_in_millis`` counts down to ``deadline`` (a ``time.monotonic()`` value),
    the moment the function times out; Powertools' idempotency utility sets its in-progress
    expiry from it (``IdempotencyConfig.register_lambda_context``).
    """

    function_name = "meshkit-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    log_group_name = f"/aws/lambda/{function_name}"
    log_stream_name = "local"
    identity = None
    client_context = None

    def __init__(
        self, deadline: float, *, region: str = "us-west-2", account: str = "123456789012"
    ) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:{account}:function:{self.function_name}"
        )
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Invocation:
    """One call of a handler in a worker thread, ending by ``deadline`` as a Lambda function must.

    Lambda stops a function at its timeout; Python cannot stop a thread, so a call that overruns
    goes on in the background while the caller stops waiting for it. The caller must then treat
    its batch as failed, never delete its messages, and not hand them to another call while
    ``running`` is true.

    The handler gets its own deep copy of ``event``, as a Lambda function gets its own decoded
    payload: whatever it changes in the event (ids, receipt handles, attributes, the list of
    records), the caller still decides from what it sent. With ``start=False`` the call begins
    at ``start()``, so that a caller can keep hold of it before it runs (a KeyboardInterrupt
    between the two then cannot lose track of a running call).
    """

    def __init__(
        self,
        handler: Callable[..., Any],
        event: Any,
        context: Any,
        *,
        deadline: float,
        start: bool = True,
    ) -> None:
        self.deadline = deadline
        self.response: Any = None
        self.exception: BaseException | None = None
        self.marshal_error: str | None = None
        self._finished_at = math.inf
        # The caller's context variables (loggers' keys, ...), as if the handler ran inline.
        self._worker = threading.Thread(
            target=contextvars.copy_context().run,
            # Copied here, in the caller's thread, before the handler can run.
            args=(self._call, handler, copy.deepcopy(event), context),
            name="meshkit-invocation",
            daemon=True,  # an endless handler must not keep the interpreter alive
        )
        if start:
            self._worker.start()

    def start(self) -> None:
        """Begin the call (for an ``Invocation`` made with ``start=False``)."""
        self._worker.start()

    def _call(self, handler: Callable[..., Any], event: Any, context: Any) -> None:
        try:
            result = handler(event, context)
        except BaseException as err:  # SystemExit too: on Lambda the invocation fails
            self.exception = err
        else:
            self.response, self.marshal_error = marshal(result)
        self._finished_at = time.monotonic()

    @property
    def running(self) -> bool:
        return self._worker.is_alive()

    def wait(self, until: float = math.inf) -> str:
        """Wait for the call until its deadline or ``until``, whichever comes first.

        Returns ``"returned"``, ``"raised"``, ``"timed out"`` (it ran past its deadline, or
        still runs at it) or ``"unfinished"`` (still running at ``until``, before its deadline).
        """
        self.join(min(self.deadline, until))
        if self._worker.is_alive():
            return "timed out" if self.deadline <= until else "unfinished"
        if self._finished_at > self.deadline:  # returned, but after Lambda would have stopped it
            return "timed out"
        return "raised" if self.exception is not None else "returned"

    def join(self, until: float) -> None:
        """Wait for the call to end, at most until ``until`` (a ``time.monotonic()`` value)."""
        self._worker.join(max(0.0, until - time.monotonic()))


def timed_out(timeout_s: float) -> str:
    """Lambda's own words for a function stopped at its timeout."""
    return f"Task timed out after {timeout_s:.2f} seconds"


def _decimal(value: Any) -> Any:
    """Lambda's Python runtime encodes a Decimal as a JSON number."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def marshal(result: Any) -> tuple[Any, str | None]:
    """A handler's result as the Lambda service receives it, or why the runtime cannot send it.

    The Python runtime JSON-encodes the result (``bytes`` go through as they are); when it
    cannot, the invocation fails with ``Runtime.MarshalError``. Returns ``(response, None)``
    with the response decoded again, as Lambda reads it, or ``(None, error)``.
    """
    hint = ""
    if inspect.iscoroutine(result):
        result.close()  # never awaited, on Lambda too: close it, leaving no warning behind
        hint = (
            ": an async def handler returns a coroutine, which Lambda's Python runtime does not "
            "await; make the handler a def that calls asyncio.run(...)"
        )
    elif inspect.isgenerator(result):
        result.close()
        hint = ": a handler with yield returns a generator; return a list or a dict instead"
    if isinstance(result, bytes):
        return result, None
    try:
        text = json.dumps(result, default=_decimal)
    except (TypeError, ValueError, RecursionError) as err:
        return None, f"Runtime.MarshalError: Unable to marshal response: {err}{hint}"
    if len(text.encode("utf-8", "surrogatepass")) > RESPONSE_MAX_BYTES:
        return None, (
            "Function.ResponseSizeTooLarge: Response payload size exceeded maximum allowed "
            f"payload size ({RESPONSE_MAX_BYTES} bytes)"
        )
    return json.loads(text), None


def batch_response_problem(response: Any, identifiers: Sequence[str]) -> str | None:
    """Why Lambda would take a partial batch response as a complete failure, or None.

    Per "Handling errors for an SQS event source in Lambda": an invalid JSON response, an
    ``itemIdentifier`` that is empty, null, under a bad key name, or not a message of the batch
    fail the whole batch; an empty or null ``batchItemFailures`` or response is a success.
    """
    if isinstance(response, bytes):
        try:
            response = json.loads(response)
        except ValueError:
            return "the response is not valid JSON"
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return f"batchItemFailures is a {type(failures).__name__}, not a list"
    known = set(identifiers)
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return (
                f"batchItemFailures holds {failure!r}: each entry must be "
                '{"itemIdentifier": "<messageId>"}'
            )
        if identifier not in known:
            return f"batchItemFailures named a message not in the batch: {identifier!r}"
    return None


def reported_failures(
    response: Any, identifiers: Sequence[str], *, report_batch_item_failures: bool
) -> list[str] | None:
    """The identifiers a handler's partial batch response reported failed, per Lambda's rules.

    Returns ``[]`` when the batch succeeded, the failed identifiers, or ``None`` when the whole
    batch counts as failed (see ``batch_response_problem``). Without
    ``ReportBatchItemFailures`` on the mapping, Lambda ignores the response.
    """
    if not report_batch_item_failures:
        return []
    if batch_response_problem(response, identifiers) is not None:
        return None
    if isinstance(response, bytes):
        response = json.loads(response)
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return []
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    return [identifier for identifier in identifiers if identifier in failed]


def ensure_target() -> None:
    """In Lambda, the first invocation decides the target from the function's environment."""
    if sandbox.current() is None:
        try:
            sandbox.start(quiet=True)
        except MeshkitError as err:
            raise TargetError(
                f"the handler could not choose where AWS is ({err}); in a Lambda function set "
                "MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT in its environment"
            ) from err
