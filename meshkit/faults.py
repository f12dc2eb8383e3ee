"""Fault injection: make EventBridge fail some PutEvents entries, the way it does under load.

moto never throttles, so code that handles partial failures would go untested offline.
``failing_put_events`` hooks botocore's ``before-call`` event on the client meshkit publishes
with: each PutEvents entry fails with the chosen error code at the chosen rate (the response has
AWS's documented shape, ``FailedEntryCount`` plus ``ErrorCode``/``ErrorMessage`` per entry), and
the other entries are sent for real. It works on any target, real AWS included.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from . import _aws
from .exceptions import ValidationError

__all__ = ["InjectedFaults", "failing_put_events"]

_EVENT = "before-call.events.PutEvents"


@dataclass
class InjectedFaults:
    """What the injector did: entries failed on purpose and entries passed on to EventBridge."""

    failed: int = 0
    passed: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    accepted_ids: list[str] = field(default_factory=list)  # EventIds of entries passed on


@contextmanager
def failing_put_events(
    rate: float,
    *,
    codes: Sequence[str] = ("ThrottlingException",),
    seed: int | None = None,
    boto3_session: boto3.Session | None = None,
) -> Iterator[InjectedFaults]:
    """Within the block, fail each PutEvents entry with probability ``rate``.

    Parameters
    ----------
    rate : float
        Probability, 0 to 1, that an entry fails.
    codes : sequence of str, default ("ThrottlingException",)
        Error codes to fail with, chosen at random per failed entry.
    seed : int, optional
        Seed for reproducible failures.
    boto3_session : boto3.Session, optional
        The session whose meshkit client fails; default the target's. Clients you create
        yourself are not affected.

    Examples
    --------
    >>> import meshkit as mk
    >>> with mk.faults.failing_put_events(0.2, seed=7) as faults:  # doctest: +SKIP
    ...     result = mk.events.publish("SalesEventBus", events)
    >>> faults.failed, result.retried  # doctest: +SKIP
    (31, 31)
    """
    if not 0 <= rate <= 1:
        raise ValidationError(f"rate is {rate}; give a probability from 0 to 1")
    if not codes:
        raise ValidationError(
            "codes is empty: give at least one error code, e.g. 'ThrottlingException'"
        )
    hooked = _aws.publishing_client(boto3_session)
    real = _aws.uncached_client("events", boto3_session)  # unhooked: its calls go through
    chance = random.Random(seed)
    faults = InjectedFaults()

    def fail_some(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])  # the serialized request
        entries = request.pop("Entries")
        failing = {i for i in range(len(entries)) if chance.random() < rate}
        passing = [entry for i, entry in enumerate(entries) if i not in failing]
        answers = iter(real.put_events(**request, Entries=passing)["Entries"] if passing else [])
        outcome, failed = [], 0
        for i in range(len(entries)):
            if i in failing:
                code = chance.choice(list(codes))
                faults.codes[code] = faults.codes.get(code, 0) + 1
                outcome.append({"ErrorCode": code, "ErrorMessage": "injected by meshkit.faults"})
            else:
                answer = next(answers)
                failed += "ErrorCode" in answer
                if "EventId" in answer:
                    faults.accepted_ids.append(answer["EventId"])
                outcome.append(answer)
        faults.failed += len(failing)
        faults.passed += len(passing)
        response = AWSResponse("https://injected.invalid", 200, {}, None)
        parsed = {
            "FailedEntryCount": failed + len(failing),
            "Entries": outcome,
            "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0},
        }
        return response, parsed

    hook_id = f"meshkit-faults-{id(faults)}"
    hooked.meta.events.register(_EVENT, fail_some, unique_id=hook_id)
    try:
        yield faults
    finally:
        hooked.meta.events.unregister(_EVENT, unique_id=hook_id)
