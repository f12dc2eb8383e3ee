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


def _iam_policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _put_sale_as(session) -> None:
    """One PutEvents on SalesEventBus, straight through boto3 (no meshkit checks in between)."""
    session.client("events").put_events(
        Entries=[
            {
                "Source": "sales.domain",
                "DetailType": "SaleDeleted",
                "Detail": "{}",
                "EventBusName": "SalesEventBus",
            }
        ]
    )


def test_moto_enforcement_treats_every_eventbridge_resource_as_star(mesh):
    """AWS: an Allow on the bus's ARN admits PutEvents on that bus, and a Deny on it refuses it.
    moto matches EventBridge requests against Resource "*" only: the scoped Allow is refused on
    its own bus, the scoped Deny is ignored. mk.iam.check_access answers resource-level
    questions."""
    bus = mk.buses.create_domain_bus("sales")
    users = {
        "scoped-allow": _iam_policy(
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}
        ),
        "scoped-deny": _iam_policy(
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"},
            {"Effect": "Deny", "Action": "events:PutEvents", "Resource": bus},
        ),
    }

    with mk.iam.enforcement(users) as sessions:
        with pytest.raises(ClientError) as refused:
            _put_sale_as(sessions["scoped-allow"])
        _put_sale_as(sessions["scoped-deny"])  # no error: the Deny on the bus's ARN did not apply

    assert "not authorized to perform: events:PutEvents" in str(refused.value)


def test_moto_enforcement_ignores_conditions(mesh):
    """AWS: a statement applies only when its Condition holds (here events:source). moto ignores
    Condition blocks: an Allow whose condition fails still allows, a Deny whose condition fails
    still denies. mk.iam.check_access evaluates conditions."""
    mk.buses.create_domain_bus("sales")
    only_marketing = {"StringEquals": {"events:source": "marketing.domain"}}
    users = {
        "allow-if": _iam_policy(
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*",
             "Condition": only_marketing}
        ),
        "deny-if": _iam_policy(
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"},
            {"Effect": "Deny", "Action": "events:PutEvents", "Resource": "*",
             "Condition": only_marketing},
        ),
    }  # fmt: skip

    with mk.iam.enforcement(users) as sessions:
        _put_sale_as(sessions["allow-if"])  # no error, although the source is sales.domain
        with pytest.raises(ClientError):
            _put_sale_as(sessions["deny-if"])


def test_moto_reports_an_iam_refusal_with_error_code_403(mesh):
    """AWS: EventBridge refuses with Error.Code "AccessDeniedException", SQS with "AccessDenied"
    (boto3 shows SQS's query-compatible code). moto answers HTTP 403 with Error.Code "403" for
    every service; the XML in its message says AccessDenied. Code that branches on the error code
    must know both."""
    mk.buses.create_domain_bus("sales")
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    queue = sqs.create_queue(QueueName="parity")["QueueUrl"]
    nothing = _iam_policy({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})

    with mk.iam.enforcement({"nobody": nothing}) as sessions:
        refusals = []
        for call in (
            lambda: _put_sale_as(sessions["nobody"]),
            lambda: sessions["nobody"].client("sqs").receive_message(QueueUrl=queue),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            refusals.append(refused.value.response)

    assert [r["Error"]["Code"] for r in refusals] == ["403", "403"]
    assert [r["ResponseMetadata"]["HTTPStatusCode"] for r in refusals] == [403, 403]
    assert all("AccessDenied" in r["Error"]["Message"] for r in refusals)


def test_moto_stores_bus_policies_but_never_enforces_them(mesh):
    """AWS: a rule in another account can put events on a bus only if the bus's resource policy
    admits that account; otherwise the delivery fails (the rule's FailedInvocations metric, or its
    DLQ). moto stores the policy, returns it, and delivers regardless."""
    sales = mk.iam.assume_role("arn:aws:iam::222222222222:role/parity")
    marketing = mk.iam.assume_role("arn:aws:iam::333333333333:role/parity")
    mk.buses.create_domain_bus("sales", boto3_session=sales)
    marketing_bus = mk.buses.create_domain_bus("marketing", boto3_session=marketing)
    admits_someone_else = mk.iam.bus_policy(
        marketing_bus, publisher_accounts=["444444444444"], sources=["sales.domain"]
    )
    mk.iam.attach_bus_policy("MarketingEventBus", admits_someone_else, boto3_session=marketing)
    pattern = {"source": ["sales.domain"]}
    mk.subscriptions.forward("SalesEventBus", marketing_bus, pattern=pattern, name="to-marketing",
                             boto3_session=sales)  # fmt: skip
    sub = mk.subscriptions.subscribe("marketing", bus="MarketingEventBus", pattern=pattern,
                                     boto3_session=marketing)  # fmt: skip

    _put_sale_as(sales)

    stored = marketing.client("events").describe_event_bus(Name="MarketingEventBus")["Policy"]
    assert json.loads(stored) == admits_someone_else
    assert len(marketing.client("sqs").receive_message(QueueUrl=sub.queue_url)["Messages"]) == 1


def test_moto_lets_any_caller_assume_any_role_in_any_account(mesh):
    """AWS: sts:AssumeRole needs a role that exists and whose trust policy admits the caller (and
    the caller's own permission). moto returns credentials for any role ARN, in any account id,
    and each account id is a separate, empty set of resources."""
    session = mk.iam.assume_role("arn:aws:iam::999999999999:role/nobody-created-me")

    identity = session.client("sts").get_caller_identity()

    assert identity["Arn"] == "arn:aws:sts::999999999999:assumed-role/nobody-created-me/meshkit"
    assert session.client("events").list_event_buses()["EventBuses"][0]["Name"] == "default"
    assert len(session.client("events").list_event_buses()["EventBuses"]) == 1


def test_moto_has_no_iam_policy_simulator(mesh):
    """AWS: iam:SimulateCustomPolicy evaluates policies and returns the decision. moto does not
    implement it (HTTP 500), so mk.iam.check_access answers offline with meshkit's evaluator."""
    from botocore.config import Config
    from botocore.parsers import ResponseParserError

    iam = mesh.session().client(
        "iam", endpoint_url=mesh.endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )
    policy = _iam_policy({"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"})

    with pytest.raises((ClientError, ResponseParserError)):
        iam.simulate_custom_policy(
            PolicyInputList=[json.dumps(policy)],
            ActionNames=["events:PutEvents"],
            ResourceArns=["*"],
        )
