"""The parity ledger: where the embedded AWS (moto) differs from real AWS, pinned as tests.

Each test asserts what moto does today, with what AWS does in its docstring. When an upgrade of moto
changes one, the test fails: update the ledger, and the notebook prose that explains the difference.
"""

from __future__ import annotations

import json

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


@pytest.mark.parametrize("operator", [{"!=": "USD"}, {"like": "US%"}])
def test_moto_accepts_unknown_pattern_operators_and_matches_everything(sales_tap, operator):
    """AWS: PutRule rejects an unknown operator (InvalidEventPatternException). moto stores the
    rule, and it matches every event that has the field. mk.patterns.check_pattern refuses it.
    """
    session = mk.sandbox.current().session()
    events = session.client("events", endpoint_url=mk.sandbox.current().endpoint_url)
    rule = {"Name": "sales-tap", "EventBusName": "SalesEventBus"}
    events.put_rule(**rule, EventPattern=json.dumps({"detail": {"data": {"currency": [operator]}}}))
    sale = {"sale_id": "S-1", "amount": 1, "timestamp": "2026-01-29T10:00:00Z", "currency": "USD"}

    mk.events.publish(
        "SalesEventBus",
        [mk.events.DomainEvent("sales.domain", "SaleRecorded", sale, schema_version="1.1")],
    )

    assert len(sales_tap()) == 1
    with pytest.raises(mk.patterns.PatternError, match="unknown operator"):
        mk.patterns.check_pattern({"detail": {"data": {"currency": [operator]}}})


def test_moto_test_event_pattern_answers_nothing(events):
    """AWS: TestEventPattern returns {"Result": true|false}. moto returns no Result at all, so
    mk.patterns.try_pattern publishes to a scratch bus offline instead."""
    response = events.test_event_pattern(
        EventPattern=json.dumps({"source": ["sales.domain"]}),
        Event=json.dumps(
            {
                "id": "1",
                "account": "123456789012",
                "source": "sales.domain",
                "time": "2026-01-29T10:00:00Z",
                "region": "us-west-2",
                "resources": [],
                "detail-type": "SaleRecorded",
                "detail": {},
            }
        ),
    )
    assert "Result" not in response


def test_moto_stores_queue_policies_but_never_enforces_them(sales_tap, mesh):
    """AWS: a queue policy that does not admit events.amazonaws.com for the rule makes delivery
    fail (the event is retried, then goes to the target's DLQ). moto delivers regardless."""
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    queue = sqs.get_queue_url(QueueName="sales-tap")["QueueUrl"]
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": "*"}],
    }
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(deny_all)})

    mk.events.publish(
        "SalesEventBus", [mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})]
    )

    assert len(sales_tap()) == 1


def test_moto_moves_a_message_to_the_dlq_after_max_receive_count_receives(mesh):
    """AWS and moto agree: after maxReceiveCount receives, the next receive moves the message to
    the DLQ instead of returning it; mk.consumers.run counts it dead-lettered at its last receive.
    """
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    dlq = sqs.create_queue(QueueName="parity-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 2}
    queue = sqs.create_queue(
        QueueName="parity",
        Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="poison")

    receives = [len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) for _ in range(3)]

    assert receives == [1, 1, 0]
    assert len(sqs.receive_message(QueueUrl=dlq)["Messages"]) == 1


def test_moto_neither_returns_nor_enforces_a_redrive_allow_policy(mesh):
    """AWS: a DLQ whose RedriveAllowPolicy is byQueue refuses other source queues. moto accepts
    the attribute, does not return it, and lets any queue use the DLQ."""
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    dlq = sqs.create_queue(QueueName="parity-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
    only = {"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:us-west-2:1:x"]}
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(only)})
    redrive = {"deadLetterTargetArn": dlq_arn["QueueArn"], "maxReceiveCount": 1}

    sqs.create_queue(QueueName="intruder", Attributes={"RedrivePolicy": json.dumps(redrive)})

    attributes = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert "RedriveAllowPolicy" not in attributes


def test_moto_passes_an_event_from_another_account_on_to_a_third(mesh):
    """AWS: "If a receiver account sets up a rule that sends events received from a sender
    account on to a third account, these events are not sent to the third account" (EventBridge
    User Guide, cross-account events). moto sends them: a chain Sales -> central -> Marketing
    works offline and silently breaks on AWS, so notebook 04 forwards one hop per rule."""
    sessions = [
        mk.iam.assume_role(f"arn:aws:iam::{account}:role/parity")
        for account in ("111111111111", "222222222222", "333333333333")
    ]
    central, sales, marketing = sessions
    central_arn = mk.buses.create_domain_bus("mesh", name="MeshCentralBus", boto3_session=central)
    mk.buses.create_domain_bus("sales", boto3_session=sales)
    marketing_arn = mk.buses.create_domain_bus("marketing", boto3_session=marketing)
    pattern = {"source": ["sales.domain"]}
    mk.subscriptions.forward("SalesEventBus", central_arn, pattern=pattern, name="hop-1",
                             boto3_session=sales)  # fmt: skip
    mk.subscriptions.forward("MeshCentralBus", marketing_arn, pattern=pattern, name="hop-2",
                             boto3_session=central)  # fmt: skip
    sub = mk.subscriptions.subscribe("marketing", bus="MarketingEventBus", pattern=pattern,
                                     boto3_session=marketing)  # fmt: skip

    mk.events.publish(
        "SalesEventBus",
        [mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})],
        boto3_session=sales,
    )

    assert len(marketing.client("sqs").receive_message(QueueUrl=sub.queue_url)["Messages"]) == 1
