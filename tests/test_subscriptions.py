"""Subscriptions: rule + queue + DLQ + policies, idempotent, and removed without losing messages."""

from __future__ import annotations

import dataclasses
import json

import pytest

import meshkit as mk
from meshkit.events import UnknownBusError
from meshkit.exceptions import NotMeshkitResourceError, ValidationError
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

    with pytest.raises(mk.subscriptions.QueueNotEmptyError, match="holds 1 message"):
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

    with pytest.raises(mk.subscriptions.QueueNotEmptyError, match="marketing-sales-dlq holds 1"):
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
        stub.add_client_error("create_queue", "QueueDeletedRecently")
        with pytest.raises(mk.subscriptions.QueueDeletedRecentlyError, match="wait a minute"):
            _own_queue(sqs, "marketing-sales", None, {})
        stub.add_client_error("create_queue", "AWS.SimpleQueueService.QueueDeletedRecently")
        with pytest.raises(mk.subscriptions.QueueDeletedRecentlyError, match="wait a minute"):
            _own_queue(sqs, "marketing-sales", None, {})


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


def test_discard_messages_offline_purges_a_queue_with_nothing_in_flight(sales_bus, clients, sent):
    """moto's receives scan the whole queue; its PurgeQueue deletes what it holds, at once."""
    _, sqs = clients
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    mk.events.publish("SalesEventBus", [sale(f"S-{n}") for n in range(25)])
    sqs.send_message(QueueUrl=sub.dlq_url, MessageBody="{}")
    sent.clear()

    assert mk.subscriptions.discard_messages("marketing", bus="SalesEventBus") == 26
    assert [r.operation for r in sent if "Receive" in r.operation or "Purge" in r.operation] == [
        "AmazonSQS.PurgeQueue",
        "AmazonSQS.PurgeQueue",
    ]
    assert mk.subscriptions.queue_depths(sub.queue_url) == (0, 0, 0)
    mk.events.publish("SalesEventBus", [sale("S-99")])  # published right after: kept
    assert mk.subscriptions.queue_depths(sub.queue_url)[0] == 1


def test_discard_messages_twice_within_a_minute_receives_what_a_second_purge_may_not(sales_bus):
    """SQS (and moto) allow one PurgeQueue a minute per queue (API_PurgeQueue): a second
    discard within the minute, as when a learner runs a notebook twice, deletes by receiving."""
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    mk.events.publish("SalesEventBus", [sale("S-1"), sale("S-2")])
    assert mk.subscriptions.discard_messages("marketing", bus="SalesEventBus") == 2
    mk.events.publish("SalesEventBus", [sale("S-3")])

    assert mk.subscriptions.discard_messages("marketing", bus="SalesEventBus") == 1
    assert mk.subscriptions.queue_depths(sub.queue_url) == (0, 0, 0)


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

    with pytest.raises(mk.subscriptions.QueueNotEmptyError, match=r"1 message\(s\) in flight"):
        mk.subscriptions.discard_messages("marketing", bus="SalesEventBus", time_budget_s=1)


def test_a_queue_is_found_by_name_or_by_arn(sales_bus):
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    by_name = mk.subscriptions.queue_url_of(sub.dlq_arn.rsplit(":", 1)[1])
    by_arn = mk.subscriptions.queue_url_of(sub.dlq_arn)

    assert by_name == by_arn == sub.dlq_url
    assert mk.subscriptions.queue_url_of("no-such-queue") is None


# -- issue 10, point 6: only what meshkit created -------------------------------------------------


def _queue_names(sqs) -> list[str]:
    return sorted(url.rsplit("/", 1)[-1] for url in sqs.list_queues().get("QueueUrls", []))


def test_unsubscribe_leaves_another_teams_target_and_keeps_their_rule(sales_bus, clients, caplog):
    """A target someone else put on meshkit's rule is theirs: EventBridge rules hold up to five
    targets (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html), and
    RemoveTargets removes only the ids it is given
    (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RemoveTargets.html)."""
    # given: an audit team added its own queue as a second target of Marketing's rule
    events, sqs = clients
    caplog.set_level("WARNING", logger="meshkit")
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    audit = sqs.create_queue(QueueName="audit-copy")["QueueUrl"]
    audit_arn = attributes(sqs, audit)["QueueArn"]
    events.put_targets(Rule=sub.name, EventBusName="SalesEventBus",
                       Targets=[{"Id": "audit", "Arn": audit_arn}])  # fmt: skip

    # when
    assert mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus") is True

    # then: meshkit's target and queues are gone; the rule stays with the audit team's target
    targets = events.list_targets_by_rule(Rule=sub.name, EventBusName="SalesEventBus")["Targets"]
    assert [(t["Id"], t["Arn"]) for t in targets] == [("audit", audit_arn)]
    assert _queue_names(sqs) == ["audit-copy"]
    assert "kept rule marketing-sales" in caplog.text and "'audit'" in caplog.text
    mk.events.publish("SalesEventBus", [sale()])  # their subscription still works
    assert mk.subscriptions.queue_depths(audit)[0] == 1


def test_unsubscribe_deletes_no_queue_that_serves_another_subscription(sales_bus, clients):
    # given: Marketing's subscription "promo" owns the queues promo and promo-dlq
    _, sqs = clients
    mk.buses.create_domain_bus("marketing")
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES, name="promo")

    # when: names that reach those queues, but not as this subscription's
    with pytest.raises(NotMeshkitResourceError, match=r"queue promo-dlq .*subscription 'promo'"):
        mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus", name="promo-dlq")
    with pytest.raises(NotMeshkitResourceError, match=r"queue promo .*on SalesEventBus"):
        mk.subscriptions.unsubscribe("marketing", bus="MarketingEventBus", name="promo")
    with pytest.raises(NotMeshkitResourceError, match=r"queue promo-dlq .*name="):
        mk.subscriptions.discard_messages("marketing", bus="SalesEventBus", name="promo-dlq")

    # then: nothing was deleted
    assert _queue_names(sqs) == ["promo", "promo-dlq"]


def test_subscribe_creates_nothing_when_a_hand_made_rule_has_the_name(sales_bus, clients, sent):
    events, sqs = clients
    events.put_rule(Name="marketing-sales", EventBusName="SalesEventBus", EventPattern="{}")
    sent.clear()

    refusal = r"rule marketing-sales on SalesEventBus .*meshkit did not create it.*name="
    with pytest.raises(NotMeshkitResourceError, match=refusal):
        mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    assert _queue_names(sqs) == []
    reads = ("Get", "List", "Describe")
    assert [r for r in sent if not r.operation.split(".")[-1].startswith(reads)] == []


def test_subscribe_creates_nothing_when_the_dlq_name_is_taken_by_hand(sales_bus, clients):
    _, sqs = clients
    sqs.create_queue(QueueName="marketing-sales-dlq")

    with pytest.raises(NotMeshkitResourceError, match="queue marketing-sales-dlq"):
        mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    assert _queue_names(sqs) == ["marketing-sales-dlq"]


def test_forward_puts_no_rule_on_a_bus_meshkit_did_not_create(mesh, clients):
    # given: a SalesEventBus made by hand, and meshkit's Marketing bus
    events, _ = clients
    events.create_event_bus(Name="SalesEventBus")
    marketing = mk.buses.create_domain_bus("marketing")

    with pytest.raises(NotMeshkitResourceError, match=r"SalesEventBus.*domain="):
        mk.subscriptions.forward("SalesEventBus", marketing, pattern=ALL_SALES, name="to-mkt")

    assert events.list_rules(EventBusName="SalesEventBus")["Rules"] == []
    # said explicitly, the rule is owned by that domain
    mk.subscriptions.forward("SalesEventBus", marketing, pattern=ALL_SALES, name="to-mkt",
                             domain="sales")  # fmt: skip
    rule = events.describe_rule(Name="to-mkt", EventBusName="SalesEventBus")
    tags = events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    assert {"Key": "meshkit:domain", "Value": "sales"} in tags


def test_forward_is_owned_by_the_domain_tagged_on_the_bus(mesh, clients):
    events, _ = clients
    mk.buses.create_domain_bus("mesh", name="MeshCentralBus")
    marketing = mk.buses.create_domain_bus("marketing")

    mk.subscriptions.forward("MeshCentralBus", marketing, pattern=ALL_SALES, name="hop")

    rule = events.describe_rule(Name="hop", EventBusName="MeshCentralBus")
    tags = events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    assert {"Key": "meshkit:domain", "Value": "mesh"} in tags


def test_a_forward_and_a_subscription_never_share_a_rule(sales_bus, clients):
    events, _ = clients
    marketing = mk.buses.create_domain_bus("marketing")
    mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=ALL_SALES, name="both")

    with pytest.raises(NotMeshkitResourceError, match=r"rule both on SalesEventBus.*subscription"):
        mk.subscriptions.forward("SalesEventBus", marketing, pattern=ALL_SALES, name="both")
    mk.subscriptions.forward("SalesEventBus", marketing, pattern=ALL_SALES, name="fwd")
    with pytest.raises(NotMeshkitResourceError, match=r"rule fwd on SalesEventBus.*forwards"):
        mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=ALL_SALES, name="fwd")
    with pytest.raises(NotMeshkitResourceError, match=r"rule fwd on SalesEventBus.*forwards"):
        mk.subscriptions.unsubscribe("sales", bus="SalesEventBus", name="fwd")

    assert [t["Id"] for t in events.list_targets_by_rule(Rule="both", EventBusName="SalesEventBus")[
        "Targets"]] == ["consumer-queue"]  # fmt: skip
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="fwd", EventBusName="SalesEventBus")[
        "Targets"]] == ["forward"]  # fmt: skip


def test_list_subscriptions_leaves_out_queues_that_are_not_the_rules(sales_bus, clients):
    # given: a meshkit forwarding rule, and hand-made queues that happen to share its name
    _, sqs = clients
    marketing = mk.buses.create_domain_bus("marketing")
    mk.subscriptions.forward("SalesEventBus", marketing, pattern=ALL_SALES, name="to-mkt")
    sqs.create_queue(QueueName="to-mkt")
    sqs.create_queue(QueueName="to-mkt-dlq")

    assert mk.subscriptions.list_subscriptions().empty


# -- issue 10, point 6: bad inputs to subscribe, forward and the rest -----------------------------

BUS_ARN = "arn:aws:events:us-west-2:123456789012:event-bus/MarketingEventBus"


def _subscribe(**kwargs):
    return lambda: mk.subscriptions.subscribe(
        kwargs.pop("consumer", "marketing"), **{"bus": "SalesEventBus", "pattern": ALL_SALES,
                                                **kwargs}
    )  # fmt: skip


def _forward(**kwargs):
    arguments = {"from_bus": "SalesEventBus", "to_bus": BUS_ARN, "pattern": ALL_SALES,
                 "name": "to-mkt", **kwargs}  # fmt: skip
    return lambda: mk.subscriptions.forward(
        arguments.pop("from_bus"), arguments.pop("to_bus"), **arguments
    )


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        pytest.param(_subscribe(bus=""), ValidationError, ["bus is empty", "1 to 256"],
                     id="subscribe-bus-empty"),
        pytest.param(_subscribe(bus=None), ValidationError,
                     ["bus must be a string", "'SalesEventBus'"], id="subscribe-bus-None"),
        pytest.param(_subscribe(bus="arn:aws:events:us-west-2:222222222222:event-bus/SalesEventBus"),
                     ValidationError, ["account 222222222222", "moto", "local bus of that name"],
                     id="subscribe-bus-arn-of-another-account-offline"),
        pytest.param(_subscribe(bus="arn:aws:events:us-west-2:1234:event-bus/SalesEventBus"),
                     ValidationError, ["bus ARN", "12-digit account"], id="subscribe-bus-arn-bad"),
        pytest.param(_subscribe(pattern=None), PatternError, ["pattern", "non-empty JSON object"],
                     id="subscribe-pattern-None"),
        pytest.param(_subscribe(pattern=[{"source": ["sales.domain"]}]), PatternError,
                     ["pattern", "non-empty JSON object"], id="subscribe-pattern-list"),
        pytest.param(_subscribe(consumer=None), ValidationError,
                     ["consumer_domain must be a string", "'sales'"], id="subscribe-consumer-None"),
        pytest.param(_subscribe(consumer="marketing/emea"), ValidationError,
                     ["consumer_domain 'marketing/emea'", "only letters, digits"],
                     id="subscribe-consumer-slash"),
        pytest.param(_subscribe(consumer="customer-analytics-and-reporting-for-emea-apac-and-americas"),
                     ValidationError, ["subscription name", "is 65 characters", "64", "name="],
                     id="subscribe-derived-name-too-long"),
        pytest.param(_subscribe(name="m" * 65), ValidationError,
                     ["name=", "64", "80"], id="subscribe-name-65"),
        pytest.param(_subscribe(name="marketing.sales"), ValidationError,
                     ["name=", "'-' or '_'", "e.g. 'marketing-sales'"], id="subscribe-name-dot"),
        pytest.param(_subscribe(name=7), ValidationError,
                     ["name must be a string", "'marketing-sales'"], id="subscribe-name-int"),
        pytest.param(_subscribe(max_receive_count=1001), ValidationError,
                     ["max_receive_count is 1001", "1 to 1000"], id="subscribe-mrc-1001"),
        pytest.param(_subscribe(max_receive_count="3"), ValidationError,
                     ["max_receive_count is '3'", "whole numbers"], id="subscribe-mrc-str"),
        pytest.param(_subscribe(max_receive_count=True), ValidationError,
                     ["max_receive_count is True", "whole numbers 1 to 1000"],
                     id="subscribe-mrc-bool"),
        pytest.param(_subscribe(visibility_timeout_s=-1), ValidationError,
                     ["visibility_timeout_s is -1", "0 to 43200"], id="subscribe-vt-negative"),
        pytest.param(_subscribe(visibility_timeout_s=30.5), ValidationError,
                     ["visibility_timeout_s is 30.5", "whole numbers"], id="subscribe-vt-float"),
        pytest.param(_subscribe(max_event_age_s=59), ValidationError,
                     ["max_event_age_s is 59", "60 to 86400"], id="subscribe-age-59"),
        pytest.param(_forward(from_bus=None), ValidationError,
                     ["from_bus must be a string", "'SalesEventBus'"], id="forward-from-None"),
        pytest.param(_forward(to_bus="Marketing Event Bus"), ValidationError,
                     ["to_bus name 'Marketing Event Bus'", "1 to 256"], id="forward-to-bad-name"),
        pytest.param(_forward(to_bus="arn:aws:sqs:us-west-2:123456789012:q"),
                     ValidationError, ["to_bus ARN", "event bus ARN"], id="forward-to-queue"),
        pytest.param(_forward(to_bus="arn:aws:events:us-west-2:1234:event-bus/X"),
                     ValidationError, ["to_bus ARN", "12-digit account"], id="forward-to-account"),
        pytest.param(_forward(name=None), ValidationError,
                     ["name must be a string", "'to-marketing'"], id="forward-name-None"),
        pytest.param(_forward(name="to marketing"), ValidationError,
                     ["name 'to marketing'", "1 to 64", "'.', '-' or '_'"],
                     id="forward-name-space"),
        pytest.param(_forward(name="f" * 65), ValidationError,
                     ["name", "65 characters", "1 to 64"], id="forward-name-65"),
        pytest.param(_forward(role_arn="admin"), ValidationError,
                     ["role_arn 'admin'", "arn:aws:iam::"], id="forward-role-name"),
        pytest.param(_forward(pattern="{not json"), PatternError,
                     ["pattern", "not valid JSON"], id="forward-pattern-text"),
        pytest.param(_forward(domain=""), ValidationError, ["domain", "must start with a letter"],
                     id="forward-domain-empty"),
        pytest.param(lambda: mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus",
                                                          force="no"),
                     ValidationError, ["force is 'no'", "True or False"],
                     id="unsubscribe-force-str"),
        pytest.param(lambda: mk.subscriptions.discard_messages("marketing", bus="SalesEventBus",
                                                               time_budget_s=None),
                     ValidationError, ["time_budget_s is None", "seconds"],
                     id="discard-budget-None"),
        pytest.param(lambda: mk.subscriptions.discard_messages("marketing", bus="SalesEventBus",
                                                               time_budget_s=-1),
                     ValidationError, ["time_budget_s is -1", "seconds"],
                     id="discard-budget-negative"),
        pytest.param(lambda: mk.subscriptions.queue_url_of(None), ValidationError,
                     ["queue must be a string", "arn:aws:sqs:"], id="queue-url-of-None"),
        pytest.param(lambda: mk.subscriptions.queue_url_of("arn:aws:sqs:eu-west-1"),
                     ValidationError, ["queue 'arn:aws:sqs:eu-west-1'", "<account>:<name>"],
                     id="queue-url-of-short-arn"),
        pytest.param(lambda: mk.subscriptions.queue_depths(None), ValidationError,
                     ["queue_url must be", "queue_url_of"], id="queue-depths-None"),
        pytest.param(lambda: mk.subscriptions.queue_depths("marketing-sales"), ValidationError,
                     ["queue_url 'marketing-sales'", "queue_url_of"], id="queue-depths-name"),
    ],
)  # fmt: skip
def test_bad_input_to_subscriptions_is_refused_before_any_call(mesh, sent, call, error, words):
    """Limits: rule names 1-64 of [.-_A-Za-z0-9] (PutRule,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html); queue names
    1-80 of [-_A-Za-z0-9] (CreateQueue,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html);
    VisibilityTimeout 0-43,200 s and maxReceiveCount 1-1,000 (SetQueueAttributes,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
    RetryPolicy's MaximumEventAgeInSeconds 60-86,400 (RetryPolicy,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_RetryPolicy.html)."""
    with pytest.raises(error) as refused:
        call()

    for word in words:
        assert word in str(refused.value)
    assert sent == []


def test_queues_of_an_older_meshkit_are_recognised_by_their_policy_and_retagged(sales_bus, clients):
    """Queues made before meshkit tagged the subscription on them are still this subscription's
    when their policy admits its rule; subscribing again tags them."""
    _, sqs = clients
    sub = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)
    for url in (sub.queue_url, sub.dlq_url):
        sqs.untag_queue(QueueUrl=url, TagKeys=["meshkit:subscription", "meshkit:bus"])

    again = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    assert again.queue_url == sub.queue_url
    tags = sqs.list_queue_tags(QueueUrl=sub.dlq_url)["Tags"]
    assert (tags["meshkit:subscription"], tags["meshkit:bus"]) == (
        "marketing-sales",
        "SalesEventBus",
    )
    assert mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus") is True


# -- a bus named by its ARN ---------------------------------------------------------------------
# EventBridge's PutRule, PutTargets, DeleteRule and RemoveTargets take a bus name or ARN, "to
# reference cross-account or cross-Region event buses":
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html


def test_a_bus_of_this_account_named_by_its_arn_is_the_same_subscription(sales_bus, clients):
    events, _ = clients
    arn = events.describe_event_bus(Name="SalesEventBus")["Arn"]

    by_arn = mk.subscriptions.subscribe("marketing", bus=arn, pattern=ALL_SALES)
    by_name = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=ALL_SALES)

    assert by_arn == by_name
    assert by_arn.name == "marketing-sales"
    assert [r["Name"] for r in events.list_rules(EventBusName="SalesEventBus")["Rules"]] == [
        "marketing-sales"
    ]
    assert mk.subscriptions.unsubscribe("marketing", bus=arn) is True


def test_forward_takes_the_receiving_bus_by_name_in_this_account(sales_bus, clients):
    events, _ = clients
    marketing = mk.buses.create_domain_bus("marketing")

    mk.subscriptions.forward("SalesEventBus", "MarketingEventBus", pattern=ALL_SALES, name="fwd")

    targets = events.list_targets_by_rule(Rule="fwd", EventBusName="SalesEventBus")["Targets"]
    assert [t["Arn"] for t in targets] == [marketing]


def test_forward_to_a_bus_name_that_does_not_exist_is_refused(sales_bus, clients):
    events, _ = clients
    with pytest.raises(UnknownBusError, match="MarketingEventBus"):
        mk.subscriptions.forward("SalesEventBus", "MarketingEventBus", pattern=ALL_SALES,
                                 name="fwd")  # fmt: skip
    assert events.list_rules(EventBusName="SalesEventBus")["Rules"] == []


def test_on_real_aws_another_accounts_bus_arn_goes_to_aws_unchanged(mesh, monkeypatch):
    """Offline the ARN is refused (moto would use the local bus of that name); on AWS it is what
    EventBridge is given, and the bus's policy decides."""
    from meshkit import _shared
    from meshkit.sandbox import Target

    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    theirs = _shared.parse_bus("arn:aws:events:us-west-2:222222222222:event-bus/SalesEventBus")
    ours = _shared.parse_bus(f"arn:aws:events:{events.meta.region_name}:{ACCOUNT}:event-bus/X")

    with pytest.raises(_shared.ForeignBusError, match="moto ignores an ARN's account"):
        _shared.bus_for_calls(theirs, events, None)
    assert _shared.bus_for_calls(ours, events, None) == "X"

    real = Target(mode="aws", endpoint_url=None, account_id=ACCOUNT,
                  region=events.meta.region_name)  # fmt: skip
    monkeypatch.setattr(mk.sandbox, "current", lambda: real)
    assert _shared.bus_for_calls(theirs, events, None) == theirs.arn
    assert _shared.bus_for_calls(ours, events, None) == "X"


# -- routes to a Kinesis stream ------------------------------------------------------------------

STREAM_ARN = f"arn:aws:kinesis:us-west-2:{ACCOUNT}:stream/fraud-sales"
ROUTER = f"arn:aws:iam::{ACCOUNT}:role/eventbridge-to-kinesis"


def route(**changes):
    """route_to_stream for the Fraud domain on SalesEventBus, with ``changes`` to its arguments."""
    arguments = {
        "bus": "SalesEventBus",
        "pattern": ALL_SALES,
        "stream_arn": STREAM_ARN,
        "role_arn": ROUTER,
        **changes,
    }
    return mk.subscriptions.route_to_stream("fraud", **arguments)


@pytest.fixture
def endpoint(mesh, monkeypatch):
    """The same moto server, seen as another AWS-compatible endpoint (LocalStack delivers to
    Kinesis): route_to_stream then sends its requests, which moto stores."""
    monkeypatch.setattr(mk.sandbox, "current", lambda: dataclasses.replace(mesh, mode="endpoint"))
    mk.buses.create_domain_bus("sales")
    return mesh


def test_a_route_to_kinesis_is_refused_on_the_embedded_aws_before_any_call(mesh, sent):
    """Given the embedded AWS, whose PutEvents fails with HTTP 500 for every event once a rule
    targets Kinesis, after its queues got the event (P14 in tests/test_parity.py), when a route
    is asked for, then it is refused, naming the way to put events on the stream offline."""
    mk.buses.create_domain_bus("sales")
    before = len(sent)

    with pytest.raises(mk.subscriptions.UndeliverableTargetError) as refused:
        route()

    assert len(sent) == before
    assert "mk.analytics.record_events" in str(refused.value)
    assert "P14" in str(refused.value)


def test_a_route_puts_a_rule_whose_target_is_the_stream_with_its_partition_key(endpoint):
    """PutTargets with KinesisParameters.PartitionKeyPath and a RoleArn
    (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_KinesisParameters.html);
    idempotent: again, one rule and one target."""
    events = endpoint.session().client("events", endpoint_url=endpoint.endpoint_url)

    arn = route(partition_key_path="$.detail.data.card_id")
    again = route(partition_key_path="$.detail.data.card_id")

    assert (
        arn == again == f"arn:aws:events:us-west-2:{ACCOUNT}:rule/SalesEventBus/fraud-sales-stream"
    )
    [target] = events.list_targets_by_rule(Rule="fraud-sales-stream", EventBusName="SalesEventBus")[
        "Targets"
    ]
    assert target["Arn"] == STREAM_ARN
    assert target["RoleArn"] == ROUTER
    assert target["KinesisParameters"] == {"PartitionKeyPath": "$.detail.data.card_id"}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 185


def test_a_route_never_takes_over_a_subscriptions_rule_and_unroute_removes_only_its_own(endpoint):
    mk.subscriptions.subscribe("fraud", bus="SalesEventBus", pattern=ALL_SALES)

    with pytest.raises(NotMeshkitResourceError, match="is a subscription's"):
        route(name="fraud-sales")
    assert mk.subscriptions.unroute_stream("fraud", bus="SalesEventBus") is False
    route()
    assert mk.subscriptions.unroute_stream("fraud", bus="SalesEventBus") is True
    assert mk.subscriptions.unroute_stream("fraud", bus="SalesEventBus") is False
    assert mk.subscriptions.unsubscribe("fraud", bus="SalesEventBus") is True


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"stream_arn": "fraud-sales"}, ["stream_arn", "arn:aws:kinesis"]),
        ({"stream_arn": f"arn:aws:sqs:us-west-2:{ACCOUNT}:q"}, ["stream_arn", "Kinesis"]),
        ({"role_arn": None}, ["role_arn", "kinesis:PutRecord"]),
        ({"role_arn": "eventbridge-to-kinesis"}, ["role_arn", "IAM role ARN"]),
        ({"partition_key_path": "detail.data.card_id"}, ["partition_key_path", "'$.'"]),
        ({"partition_key_path": "$." + "a" * 300}, ["partition_key_path", "256"]),
        ({"retry_attempts": 186}, ["retry_attempts", "185"]),
        ({"dead_letter_queue_arn": "dlq"}, ["dead_letter_queue_arn", "SQS queue ARN"]),
        ({"name": "fraud sales"}, ["name", "64"]),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else None,
)
def test_bad_input_to_route_to_stream_is_refused_before_any_call(mesh, sent, changes, words):
    """Limits of PutTargets (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutTargets.html):
    a Kinesis target needs a RoleArn; PartitionKeyPath is at most 256 characters."""
    before = len(sent)

    with pytest.raises(ValidationError) as refused:
        route(**changes)

    assert len(sent) == before
    for word in words:
        assert word in str(refused.value)
