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
    """What the injector did: entries failed on purpose and entries passed on to EventBridge.

    ``failing_put_events`` yields one and updates it as PutEvents calls go through.

    Attributes
    ----------
    failed : int
        Entries failed on purpose (each retry of an entry counts again).
    passed : int
        Entries sent on to EventBridge.
    codes : dict of str to int
        How many entries failed with each error code.
    accepted_ids : list of str
        The ``EventId`` of each entry EventBridge accepted.

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = mk.buses.create_domain_bus("injected-faults-example")
    >>> sale = mk.events.DomainEvent(source="sales.domain", detail_type="SaleRecorded",
    ...     detail={"sale_id": "S-1", "amount": 10, "timestamp": "2026-01-29T10:00:00"})
    >>> with mk.faults.failing_put_events(1.0, codes=["InternalFailure"]) as faults:
    ...     result = mk.events.publish(bus, [sale], max_attempts=2)
    >>> faults
    InjectedFaults(failed=2, passed=0, codes={'InternalFailure': 2}, accepted_ids=[])
    >>> mk.buses.delete_domain_bus("injected-faults-example")
    True
    """

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

    Yields
    ------
    InjectedFaults
        Updated as entries fail or pass; read it during or after the block.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When ``rate`` is outside 0-1 or ``codes`` is empty; nothing was hooked.

    Examples
    --------
    >>> import meshkit as mk
    >>> bus = mk.buses.create_domain_bus("failing-put-events-example")
    >>> sales = [mk.events.DomainEvent(source="sales.domain", detail_type="SaleRecorded",
    ...     detail={"sale_id": f"S-{i}", "amount": 10, "timestamp": "2026-01-29T10:00:00"})
    ...     for i in range(10)]
    >>> with mk.faults.failing_put_events(0.3, seed=7) as faults:
    ...     result = mk.events.publish(bus, sales)
    >>> faults.failed, result.retried, result.sent
    (5, 5, 10)
    >>> mk.buses.delete_domain_bus("failing-put-events-example")
    True
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
