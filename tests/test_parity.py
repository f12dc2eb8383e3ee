"""The parity ledger: where the embedded AWS (moto) differs from real AWS, pinned as tests.

Each test asserts what moto does today, with what AWS does in its docstring. When an upgrade of moto
changes one, the test fails: update the ledger, and the notebook prose that explains the difference.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def events(mesh):
    return mesh.session().client("events", endpoint_url=mesh.endpoint_url)


@pytest.mark.parametrize("name", ["Sales EventBus", "Sales!", "x" * 300])
def test_moto_accepts_bus_names_that_aws_rejects(events, name):
    """AWS: ValidationException (1-256 of [.-_A-Za-z0-9]). meshkit validates names itself."""
    arn = events.create_event_bus(Name=name)["EventBusArn"]

    assert arn.endswith(f":event-bus/{name}")


def test_moto_rejects_a_slash_in_a_bus_name_as_aws_does(events):
    """AWS: custom bus names may not contain '/' (it is for partner buses)."""
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="Sales/EventBus")

    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_moto_refuses_put_events_to_an_unknown_bus(events):
    """AWS: success-looking (FailedEntryCount 0) and the event is dropped. moto: the call fails."""
    entry = {"Source": "sales.domain", "DetailType": "SaleRecorded", "Detail": "{}"}

    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[{**entry, "EventBusName": "NoSuchEventBus"}])

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
