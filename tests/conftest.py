"""Fixtures of the unit tests; the session's embedded AWS comes from the top-level conftest.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NamedTuple

import botocore.httpsession
import pytest
from urllib3.util import parse_url

import meshkit as mk


@pytest.fixture
def mesh() -> mk.sandbox.Target:
    """The session's embedded AWS, wiped: each test starts with an empty mesh."""
    target = mk.sandbox.start(quiet=True)
    mk.sandbox.reset()
    return target


class Sent(NamedTuple):
    host: str
    auth: bytes
    operation: str  # X-Amz-Target of JSON-protocol calls, e.g. "AWSEvents.PutEvents"


@pytest.fixture
def subscription(mesh):
    """Marketing's subscription to all Sales events; failed messages come back after a second."""
    mk.buses.create_domain_bus("sales")
    return mk.subscriptions.subscribe(
        "marketing",
        bus="SalesEventBus",
        pattern={"source": ["sales.domain"]},
        visibility_timeout_s=1,
        max_receive_count=3,
    )


@pytest.fixture
def sent(monkeypatch) -> list[Sent]:
    """Record every HTTP request botocore sends; refuse any that would leave this machine."""
    requests: list[Sent] = []
    original = botocore.httpsession.URLLib3Session.send

    def send(self, request):
        host = parse_url(request.url).host  # the host urllib3 dials, as botocore sends it
        target = request.headers.get("X-Amz-Target", b"")
        operation = target.decode() if isinstance(target, bytes) else target
        requests.append(Sent(host, request.headers.get("Authorization", b""), operation))
        if host not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"a request left the machine: {request.url}")
        return original(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    return requests


@pytest.fixture
def sales_tap(mesh) -> Callable[[], list[dict]]:
    """The Sales bus with a queue subscribed to all its events; call the result to drain them."""
    mk.buses.create_domain_bus("sales")
    session = mesh.session()
    sqs = session.client("sqs", endpoint_url=mesh.endpoint_url)
    events = session.client("events", endpoint_url=mesh.endpoint_url)
    queue = sqs.create_queue(QueueName="sales-tap")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events.put_rule(
        Name="sales-tap",
        EventBusName="SalesEventBus",
        EventPattern=json.dumps({"source": ["sales.domain"]}),
    )
    events.put_targets(
        Rule="sales-tap",
        EventBusName="SalesEventBus",
        Targets=[{"Id": "tap", "Arn": attributes["Attributes"]["QueueArn"]}],
    )

    def drain() -> list[dict]:
        bodies: list[dict] = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
            bodies += [json.loads(message["Body"]) for message in batch]
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch
                ],
            )
        return bodies

    return drain
