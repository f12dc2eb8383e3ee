"""What meshkit's local event source mappings share: Lambda's context and its batch responses."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from . import sandbox
from .exceptions import MeshkitError


class LocalContext:
    """The parts of Lambda's context object that handlers (and Powertools) read."""

    function_name = "meshkit-local"
    function_version = "$LATEST"
    memory_limit_in_mb = 128

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


def reported_failures(
    response: Any, identifiers: Sequence[str], *, report_batch_item_failures: bool
) -> list[str] | None:
    """The identifiers a handler's partial batch response reported failed, per Lambda's rules.

    Returns ``[]`` when the batch succeeded, the failed identifiers, or ``None`` when the whole
    batch counts as failed: an empty, null or unknown ``itemIdentifier`` fails the whole batch.
    Without ``ReportBatchItemFailures`` on the mapping, Lambda ignores the response.
    """
    if not report_batch_item_failures or not isinstance(response, dict):
        return []
    failures = response.get("batchItemFailures")
    if not failures:
        return []
    reported = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    known, failed = set(identifiers), set(reported)
    if not failed <= known:
        return None
    return [identifier for identifier in identifiers if identifier in failed]


def ensure_target() -> None:
    """In Lambda, the first invocation decides the target from the function's environment."""
    if sandbox.current() is None:
        try:
            sandbox.start(quiet=True)
        except MeshkitError as err:
            raise MeshkitError(
                f"the handler could not choose where AWS is ({err}); in a Lambda function set "
                "MESHKIT_TARGET=aws and MESHKIT_AWS_ACCOUNT in its environment"
            ) from err
