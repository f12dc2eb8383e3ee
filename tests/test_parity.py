"""The parity ledger: where the embedded AWS (moto) differs from real AWS, pinned as tests.

Each test asserts what moto does today, with what AWS does in its docstring. When an upgrade of moto
changes one, the test fails: update the ledger, and the notebook prose that explains the difference.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import meshkit as mk


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


def test_moto_fails_a_malformed_detail_entry_as_aws_does(events):
    """AWS and moto: HTTP 200, FailedEntryCount 1, ErrorCode MalformedDetail for that entry only."""
    events.create_event_bus(Name="SalesEventBus")
    entry = {
        "Source": "sales.domain",
        "DetailType": "SaleRecorded",
        "EventBusName": "SalesEventBus",
    }

    response = events.put_events(Entries=[{**entry, "Detail": "{}"}, {**entry, "Detail": "{'no'"}])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["FailedEntryCount"] == 1
    assert response["Entries"][1]["ErrorCode"] == "MalformedDetail"


def test_moto_delivers_events_without_account_and_without_milliseconds(sales_tap):
    """AWS: the delivered event has "account"; moto's lacks it, and its time has no fraction."""
    mk.events.publish(
        "SalesEventBus",
        [mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})],
    )

    [delivered] = sales_tap()

    assert "account" not in delivered
    assert delivered["time"].endswith("Z") and "." not in delivered["time"]
    assert set(delivered) == {
        "version",
        "id",
        "detail-type",
        "source",
        "time",
        "region",
        "resources",
        "detail",
    }


def test_moto_stream_records_name_the_wrong_region(mesh):
    """AWS: awsRegion is the table's region, eventVersion 1.1. moto: us-east-1 and 1.0 always.

    meshkit's StreamRunner rebuilds both from the stream ARN, as Lambda's event source mapping does.
    """
    mk.producers.create_sales_table()
    session = mesh.session()
    dynamodb = session.client("dynamodb", endpoint_url=mesh.endpoint_url)
    streams = session.client("dynamodbstreams", endpoint_url=mesh.endpoint_url)
    dynamodb.put_item(TableName="Sales", Item={"sale_id": {"S": "S-1"}})
    arn = dynamodb.describe_table(TableName="Sales")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]

    [record] = streams.get_records(ShardIterator=iterator)["Records"]

    assert mesh.region == "us-west-2"
    assert (record["awsRegion"], record["eventVersion"]) == ("us-east-1", "1.0")
