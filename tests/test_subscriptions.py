"""Subscriptions: rule + queue + DLQ + policies, idempotent, and removed without losing messages."""

from __future__ import annotations

import json

import pytest

import meshkit as mk
from meshkit.events import UnknownBusError
from meshkit.exceptions import MeshkitError, NotMeshkitResourceError, ValidationError
from meshkit.patterns import PatternError

ACCOUNT = "123456789012"
ALL_SALES = {"source": ["sales.domain"]}


@pytest.fixture
def sales_bus(mesh):
    mk.buses.create_domain_bus("sales")
    return mesh


@pytest.fixture
def clients(mesh):
    session = mesh.session()
    return (
        session.client("events", endpoint_url=mesh.endpoint_url),
        session.client("sqs", endpoint_url=mesh.endpoint_url),
    )


def sale(sale_id: str = "S-1") -> mk.events.DomainEvent:
    return mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": sale_id})


def attributes(sqs, url: str) -> dict:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def test_subscribe_creates_rule_queue_dlq_and_policies(sales_bus, clients):
    events, sqs = clients

    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern=ALL_SALES, max_receive_count=4
    )

    assert sub.name == "marketing-sales"
    assert sub.rule_arn == f"arn:aws:events:us-west-2:{ACCOUNT}:rule/SalesEventBus/marketing-sales"
    assert sub.queue_arn == f"arn:aws:sqs:us-west-2:{ACCOUNT}:marketing-sales"
    assert sub.dlq_arn == f"arn:aws:sqs:us-west-2:{ACCOUNT}:marketing-sales-dlq"
    queue = attributes(sqs, sub.queue_url)
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": sub.dlq_arn,
        "maxReceiveCount": 4,
    }
    for url, arn in ((sub.queue_url, sub.queue_arn), (sub.dlq_url, sub.dlq_arn)):
        [statement] = json.loads(attributes(sqs, url)["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == arn
        assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": sub.rule_arn}}
    assert int(attributes(sqs, sub.dlq_url)["MessageRetentionPeriod"]) > int(
        queue["MessageRetentionPeriod"]
    )
    [target] = events.list_targets_by_rule(Rule=sub.name, EventBusName="SalesEventBus")["Targets"]
    assert target["Arn"] == sub.queue_arn
    assert target["DeadLetterConfig"] == {"Arn": sub.dlq_arn}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert json.loads(events.describe_rule(Name=sub.name, EventBusName="SalesEventBus")[
        "EventPattern"
    ]) == ALL_SALES  # fmt: skip
    tags = sqs.list_queue_tags(QueueUrl=sub.queue_url)["Tags"]
    assert tags["meshkit:domain"] == "marketing" and tags["meshkit:workbook"] == "true"


def test_subscribed_queue_receives_matching_events_only(sales_bus, clients):
    _, sqs = clients
    sub = mk.subscriptions.subscribe(
        "fraud", bus="SalesEventBus", pattern={"detail-type": ["SaleRecorded"]}
    )

    mk.events.publish("SalesEventBus", [sale("S-1")])
    mk.events.publish(
        "SalesEventBus",
        [
            mk.events.DomainEvent(
                "sales.domain",
                "SaleRecorded",
                {"sale_id": "S-2", "amount": 5, "timestamp": "2026-01-29T10:00:00Z"},
            )
        ],
    )

    [message] = sqs.receive_message(QueueUrl=sub.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"]["data"]["sale_id"] == "S-2"


def test_subscribe_is_idempotent_and_updates_in_place(sales_bus, clients):
    events, sqs = clients
    first = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    new_pattern = {"source": ["sales.domain"], "detail-type": ["SaleRecorded"]}

    second = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern=new_pattern, max_receive_count=2
    )

    assert (second.queue_url, second.rule_arn) == (first.queue_url, first.rule_arn)
    assert len(events.list_rules(EventBusName="SalesEventBus")["Rules"]) == 1
    assert len(sqs.list_queues()["QueueUrls"]) == 2
    assert json.loads(attributes(sqs, second.queue_url)["RedrivePolicy"])["maxReceiveCount"] == 2
    rule = events.describe_rule(Name=second.name, EventBusName="SalesEventBus")
    assert json.loads(rule["EventPattern"]) == new_pattern


def test_a_bad_pattern_is_refused_before_anything_is_created(sales_bus, sent):
    with pytest.raises(PatternError, match="anything-but"):
        mk.subscriptions.subscribe(
            "marketing", bus="SalesEventBus", pattern={"detail": {"currency": [{"!=": "USD"}]}}
        )

    assert sent == []


def test_an_unknown_bus_is_a_clear_error(mesh):
    with pytest.raises(UnknownBusError, match="create_domain_bus"):
        mk.subscriptions.subscribe("marketing", bus="NoSuchEventBus", pattern=ALL_SALES)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "has space"}, "subscription name"),
        ({"name": "x" * 65}, "subscription name"),
        ({"max_receive_count": 0}, "max_receive_count"),
        ({"visibility_timeout_s": 50_000}, "visibility_timeout_s"),
        ({"retry_attempts": 186}, "retry_attempts"),
    ],
)
def test_bad_settings_name_the_field_and_the_limit(sales_bus, kwargs, field):
    with pytest.raises(ValidationError, match=field):
        mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES, **kwargs)


def test_a_queue_of_someone_else_is_never_taken_over(sales_bus, clients):
    _, sqs = clients
    sqs.create_queue(QueueName="marketing-sales")
    with pytest.raises(NotMeshkitResourceError, match="name="):
        mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)


def test_another_domain_cannot_reuse_a_subscription_name(sales_bus):
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES, name="shared")
    with pytest.raises(NotMeshkitResourceError, match="belongs to domain 'marketing'"):
        mk.subscriptions.subscribe("fraud", bus="SalesEventBus", pattern=ALL_SALES, name="shared")


def test_unsubscribe_refuses_while_messages_wait_and_removes_everything_when_forced(
    sales_bus, clients
):
    events, sqs = clients
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    mk.events.publish("SalesEventBus", [sale()])

    with pytest.raises(MeshkitError, match="holds 1 message"):
        mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus")
    # Nothing was lost, and the subscription still works.
    [target] = events.list_targets_by_rule(Rule="marketing-sales", EventBusName="SalesEventBus")[
        "Targets"
    ]
    assert target["DeadLetterConfig"] and target["RetryPolicy"]
    mk.events.publish("SalesEventBus", [sale("S-2")])
    assert (
        mk.subscriptions.queue_depths(sqs.get_queue_url(QueueName="marketing-sales")["QueueUrl"])[0]
        == 2
    )

    assert mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus", force=True) is True
    assert events.list_rules(EventBusName="SalesEventBus")["Rules"] == []
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus") is False


def test_unsubscribe_of_an_empty_subscription_needs_no_force(sales_bus, clients):
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    assert mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus") is True


def test_list_subscriptions_counts_messages_per_queue(sales_bus):
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    mk.subscriptions.subscribe(
        "fraud", bus="SalesEventBus", pattern={"detail-type": ["SaleRecorded"]}
    )
    mk.events.publish("SalesEventBus", [sale("S-1"), sale("S-2")])

    frame = mk.subscriptions.list_subscriptions()

    assert frame[["consumer", "name", "waiting", "in_flight", "dead_letters"]].to_dict(
        "records"
    ) == [
        {"consumer": "fraud", "name": "fraud-sales", "waiting": 0, "in_flight": 0,
         "dead_letters": 0},
        {"consumer": "marketing", "name": "marketing-sales", "waiting": 2, "in_flight": 0,
         "dead_letters": 0},
    ]  # fmt: skip


def test_delayed_messages_also_stop_an_unsubscribe(sales_bus, clients):
    _, sqs = clients
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    sqs.send_message(QueueUrl=sub.dlq_url, MessageBody="{}", DelaySeconds=60)

    with pytest.raises(MeshkitError, match="marketing-sales-dlq holds 1"):
        mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus")


@pytest.mark.parametrize(
    "change", [mk.subscriptions.unsubscribe, mk.subscriptions.discard_messages]
)
def test_another_domain_cannot_remove_or_empty_a_subscription(sales_bus, change):
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES, name="mine")
    with pytest.raises(NotMeshkitResourceError, match="belongs to domain 'marketing'"):
        change("fraud", bus="SalesEventBus", name="mine")


def test_a_subscription_name_serves_one_bus(sales_bus, clients):
    events, _ = clients
    mk.buses.create_domain_bus("marketing")
    mk.subscriptions.subscribe("fraud", bus="SalesEventBus", pattern=ALL_SALES, name="watch")

    with pytest.raises(NotMeshkitResourceError, match="serves one bus"):
        mk.subscriptions.subscribe(
            "fraud", bus="MarketingEventBus", pattern=ALL_SALES, name="watch"
        )
    assert events.list_rules(EventBusName="MarketingEventBus")["Rules"] == []  # nothing made


def test_a_queue_deleted_moments_ago_is_explained(monkeypatch, mesh):
    """AWS refuses a queue name for 60 s after its deletion; moto does not, so stub the reply."""
    import boto3
    from botocore.stub import Stubber

    from meshkit.subscriptions import _own_queue

    sqs = boto3.client("sqs", region_name="us-west-2", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    with Stubber(sqs) as stub:
        stub.add_client_error("get_queue_url", "QueueDoesNotExist")
        stub.add_client_error("create_queue", "QueueDeletedRecently")
        with pytest.raises(MeshkitError, match="wait a minute"):
            _own_queue(sqs, "marketing-sales", "marketing", {})
        stub.add_client_error("get_queue_url", "AWS.SimpleQueueService.NonExistentQueue")
        stub.add_client_error("create_queue", "AWS.SimpleQueueService.QueueDeletedRecently")
        with pytest.raises(MeshkitError, match="wait a minute"):
            _own_queue(sqs, "marketing-sales", "marketing", {})


def test_discard_messages_empties_the_queue_and_dlq_and_keeps_the_subscription(sales_bus, clients):
    _, sqs = clients
    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern=ALL_SALES, visibility_timeout_s=1
    )
    mk.events.publish("SalesEventBus", [sale("S-1"), sale("S-2"), sale("S-3")])
    sqs.receive_message(QueueUrl=sub.queue_url, MaxNumberOfMessages=1)  # one is in flight
    sqs.send_message(QueueUrl=sub.dlq_url, MessageBody="{}")

    discarded = mk.subscriptions.discard_messages("marketing", bus="SalesEventBus")

    assert discarded == 4
    assert mk.subscriptions.queue_depths(sub.queue_url) == (0, 0, 0)
    assert mk.subscriptions.queue_depths(sub.dlq_url) == (0, 0, 0)
    mk.events.publish("SalesEventBus", [sale("S-4")])  # published right after: kept, delivered
    assert mk.subscriptions.queue_depths(sub.queue_url)[0] == 1


def test_discard_messages_without_a_subscription_discards_nothing(sales_bus, sent):
    assert mk.subscriptions.discard_messages("marketing", bus="SalesEventBus") == 0
    assert not [request for request in sent if "ReceiveMessage" in request.operation]


def test_discard_messages_gives_up_on_messages_held_in_flight(sales_bus, clients):
    _, sqs = clients
    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern=ALL_SALES, visibility_timeout_s=60
    )
    mk.events.publish("SalesEventBus", [sale("S-1")])
    sqs.receive_message(QueueUrl=sub.queue_url)  # a consumer holds it for 60 s

    with pytest.raises(MeshkitError, match=r"1 message\(s\) in flight"):
        mk.subscriptions.discard_messages("marketing", bus="SalesEventBus", time_budget_s=1)


def test_moto_delivers_before_put_events_returns_and_counts_exactly(sales_bus):
    """AWS: EventBridge delivers asynchronously (the queue may still be empty when PutEvents
    returns), and SQS's counts are approximate, lagging by up to a minute. moto: the messages are
    in the queue when PutEvents returns, and the counts are exact."""
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    mk.events.publish("SalesEventBus", [sale(f"S-{n}") for n in range(7)])

    assert mk.subscriptions.queue_depths(sub.queue_url) == (7, 0, 0)


def test_moto_fails_put_events_when_a_target_queue_is_gone_instead_of_using_the_targets_dlq(
    sales_bus, clients
):
    """AWS: the target's RetryPolicy and DeadLetterConfig apply; an event its queue cannot take
    (the queue deleted, or its policy refusing EventBridge) goes to the target's DLQ, and
    PutEvents succeeds. moto stores both settings but never uses them: here PutEvents fails as a
    whole and the DLQ stays empty."""
    events, sqs = clients
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    [target] = events.list_targets_by_rule(Rule=sub.name, EventBusName="SalesEventBus")["Targets"]
    sqs.delete_queue(QueueUrl=sub.queue_url)

    with pytest.raises(mk.events.PublishError, match="QueueDoesNotExist"):
        mk.events.publish("SalesEventBus", [sale("S-1")])

    assert target["DeadLetterConfig"] == {"Arn": sub.dlq_arn}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert mk.subscriptions.queue_depths(sub.dlq_url) == (0, 0, 0)


def test_a_queue_is_found_by_name_or_by_arn(sales_bus):
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    by_name = mk.subscriptions.queue_url_of(sub.dlq_arn.rsplit(":", 1)[1])
    by_arn = mk.subscriptions.queue_url_of(sub.dlq_arn)

    assert by_name == by_arn == sub.dlq_url
    assert mk.subscriptions.queue_url_of("no-such-queue") is None
