"""Domain buses: naming, validation before any call, idempotency, ownership tags."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import meshkit as mk
from meshkit.exceptions import NotMeshkitResourceError, ValidationError

ARN = "arn:aws:events:us-west-2:123456789012:event-bus/{}"


@pytest.mark.parametrize(
    ("domain", "key", "bus"),
    [
        ("sales", "sales", "SalesEventBus"),
        ("Sales", "sales", "SalesEventBus"),
        ("CustomerSupport", "customer-support", "CustomerSupportEventBus"),
        ("customer-support", "customer-support", "CustomerSupportEventBus"),
        ("customer_support", "customer-support", "CustomerSupportEventBus"),
        ("customer support", "customer-support", "CustomerSupportEventBus"),
        ("fraud2", "fraud-2", "Fraud2EventBus"),
        ("SALES", "sales", "SalesEventBus"),
    ],
)
def test_domain_naming_follows_the_article(domain, key, bus):
    assert mk.buses.domain_key(domain) == key
    assert mk.buses.bus_name(domain) == bus


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("Sales/EventBus", r"'/'.*no '/'.*try 'Sales-EventBus'"),
        ("Sales EventBus", r"' '.*try 'Sales-EventBus'"),
        ("Sales:Bus!", r"'!', ':'"),
        ("x" * 257, "257 characters; EventBridge allows at most 256"),
        ("default", "default event bus"),
        ("default/", r"try 'MyEventBus'"),
        (42, "must be a string"),
    ],
)
def test_bad_bus_names_are_refused_with_the_rule_and_a_fix(name, message):
    with pytest.raises(ValidationError, match=message):
        mk.buses.validate_bus_name(name)


def test_the_longest_allowed_name_passes():
    assert mk.buses.validate_bus_name("a" * 256) == "a" * 256


@pytest.mark.parametrize("domain", ["", "2fast", "sales!", "sales.domain"])
def test_bad_domains_are_refused(domain):
    with pytest.raises(ValidationError, match="must start with a letter"):
        mk.buses.bus_name(domain)


def test_a_bad_name_sends_nothing(mesh, sent):
    with pytest.raises(ValidationError):
        mk.buses.create_domain_bus("sales", name="Sales EventBus")

    assert sent == []


def test_create_is_idempotent_and_tags_ownership(mesh):
    first = mk.buses.create_domain_bus("sales")
    again = mk.buses.create_domain_bus("sales")

    assert first == again == ARN.format("SalesEventBus")
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=first)["Tags"]}
    assert tags == {
        "meshkit:workbook": "true",
        "meshkit:domain": "sales",
        "meshkit:owner": "sales-team",
    }
    assert events.describe_event_bus(Name="SalesEventBus")["Description"] == (
        "Sales domain event bus"
    )


def test_recreating_keeps_an_owner_unless_a_new_one_is_given(mesh):
    mk.buses.create_domain_bus("fraud", owner="risk-team")
    mk.buses.create_domain_bus("fraud")
    assert mk.buses.list_domain_buses().owner.tolist() == ["risk-team"]

    mk.buses.create_domain_bus("fraud", owner="fraud-ops")
    assert mk.buses.list_domain_buses().owner.tolist() == ["fraud-ops"]


def test_list_shows_only_meshkit_buses_sorted_by_domain(mesh):
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="SomeoneElsesBus")
    for domain in ["sales", "marketing", "customer-support"]:
        mk.buses.create_domain_bus(domain)

    frame = mk.buses.list_domain_buses()

    assert frame.columns.tolist() == ["domain", "bus", "owner", "adopted", "arn"]
    assert frame.domain.tolist() == ["customer-support", "marketing", "sales"]
    assert frame.arn.tolist() == [
        ARN.format(b) for b in ["CustomerSupportEventBus", "MarketingEventBus", "SalesEventBus"]
    ]


def test_an_existing_bus_is_adopted_only_when_asked(mesh):
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="SalesEventBus")  # the article's plain call

    with pytest.raises(NotMeshkitResourceError, match="adopt=True"):
        mk.buses.create_domain_bus("sales")
    assert mk.buses.list_domain_buses().empty

    assert mk.buses.create_domain_bus("sales", adopt=True) == ARN.format("SalesEventBus")
    listed = mk.buses.list_domain_buses()
    assert listed.bus.tolist() == ["SalesEventBus"]
    assert listed.adopted.tolist() == [True]


def test_a_bus_of_another_domain_is_not_taken_over(mesh):
    mk.buses.create_domain_bus("sales", name="SharedBus")

    with pytest.raises(NotMeshkitResourceError, match="belongs to domain 'sales'"):
        mk.buses.create_domain_bus("marketing", name="SharedBus")


def test_an_adopted_bus_is_deleted_only_when_forced(mesh):
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="SalesEventBus")
    mk.buses.create_domain_bus("sales", adopt=True)

    with pytest.raises(NotMeshkitResourceError, match="force=True"):
        mk.buses.delete_domain_bus("sales")
    assert mk.buses.delete_domain_bus("sales", force=True) is True


def test_delete_refuses_a_bus_of_another_domain(mesh):
    mk.buses.create_domain_bus("sales")

    with pytest.raises(NotMeshkitResourceError, match="belongs to domain 'sales'"):
        mk.buses.delete_domain_bus("marketing", name="SalesEventBus")
    assert mk.buses.list_domain_buses().bus.tolist() == ["SalesEventBus"]


def test_delete_removes_only_meshkit_buses(mesh):
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="MarketingEventBus")
    mk.buses.create_domain_bus("sales")

    assert mk.buses.delete_domain_bus("sales") is True
    assert mk.buses.delete_domain_bus("sales") is False
    with pytest.raises(NotMeshkitResourceError, match="will not delete it"):
        mk.buses.delete_domain_bus("marketing")
    names = [bus["Name"] for bus in events.list_event_buses()["EventBuses"]]
    assert names == ["default", "MarketingEventBus"]


# -- issue 10, point 6: delete_domain_bus takes with it only the bus owner's own rules ----------
#
# AWS: "Deleting an event bus deletes the rules associated with that event bus" (EventBridge User
# Guide, https://docs.aws.amazon.com/eventbridge/latest/userguide/event-bus-delete.html), and the
# DeleteEventBus API reference asks for them to be deleted first
# (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_DeleteEventBus.html). So a
# bus deleted with another team's rules on it deletes their rules too.

SALES_EVENTS = {"source": ["sales.domain"]}


def _rule_names(events, bus: str) -> list[str]:
    return sorted(rule["Name"] for rule in events.list_rules(EventBusName=bus)["Rules"])


@pytest.fixture
def events(mesh):
    return mesh.session().client("events", endpoint_url=mesh.endpoint_url)


def test_delete_refuses_while_other_domains_or_hand_made_rules_are_on_the_bus(events, sent):
    # given: Sales' bus carries Marketing's subscription and a rule someone made by hand
    mk.buses.create_domain_bus("sales")
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=SALES_EVENTS)
    events.put_rule(Name="ops-watch", EventBusName="SalesEventBus", EventPattern="{}",
                    Tags=[{"Key": "team", "Value": "ops"}])  # fmt: skip
    sent.clear()

    # when: Sales deletes its bus without force
    with pytest.raises(mk.buses.BusInUseError) as refused:
        mk.buses.delete_domain_bus("sales")

    # then: the error lists both rules, whose they are, and the way out; nothing was changed
    message = str(refused.value)
    assert "'marketing-sales'" in message and "domain 'marketing'" in message
    assert "'ops-watch'" in message and "team=ops" in message
    assert "force=True" in message and "nothing was deleted" in message.lower()
    assert isinstance(refused.value, NotMeshkitResourceError)
    assert [rule["rule"] for rule in refused.value.rules] == ["marketing-sales", "ops-watch"]
    assert _rule_names(events, "SalesEventBus") == ["marketing-sales", "ops-watch"]
    assert not [r for r in sent if r.operation.split(".")[-1].startswith(("Delete", "Remove"))]


def test_delete_refuses_a_rule_of_its_own_domain_that_carries_another_teams_target(mesh, events):
    mk.buses.create_domain_bus("sales")
    sub = mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=SALES_EVENTS)
    events.put_targets(Rule=sub.name, EventBusName="SalesEventBus",
                       Targets=[{"Id": "pager", "Arn": sub.dlq_arn}])  # fmt: skip

    with pytest.raises(mk.buses.BusInUseError, match=r"'sales-sales'.*'pager'"):
        mk.buses.delete_domain_bus("sales")

    assert _rule_names(events, "SalesEventBus") == ["sales-sales"]


def test_the_bus_owners_own_subscriptions_and_forwards_go_with_the_bus(mesh, events, sent):
    # given: only Sales' own meshkit rules are on Sales' bus
    mk.buses.create_domain_bus("sales")
    marketing = mk.buses.create_domain_bus("marketing")
    mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=SALES_EVENTS)
    mk.subscriptions.forward("SalesEventBus", marketing, pattern=SALES_EVENTS, name="to-mkt")
    sent.clear()

    # when
    assert mk.buses.delete_domain_bus("sales") is True

    # then: the rules were deleted before the bus, as the DeleteEventBus reference asks
    calls = [r.operation.split(".")[-1] for r in sent]
    assert calls.count("DeleteRule") == 2
    assert calls.index("DeleteEventBus") > max(i for i, c in enumerate(calls) if c == "DeleteRule")
    assert "SalesEventBus" not in mk.buses.list_domain_buses().bus.tolist()


def test_forced_delete_removes_foreign_rules_and_says_which(mesh, events, caplog):
    caplog.set_level("INFO", logger="meshkit")
    mk.buses.create_domain_bus("sales")
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=SALES_EVENTS)
    events.put_rule(Name="ops-watch", EventBusName="SalesEventBus", EventPattern="{}")

    assert mk.buses.delete_domain_bus("sales", force=True) is True

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("marketing-sales" in w and "'marketing'" in w for w in warnings)
    assert any("ops-watch" in w and "not made by meshkit" in w for w in warnings)
    assert "SalesEventBus" not in mk.buses.list_domain_buses().bus.tolist()


# -- issue 10, point 6: bad inputs to the bus functions -------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        pytest.param(lambda: mk.buses.create_domain_bus(None),
                     ["domain must be a string", "'sales'"], id="create-domain-None"),
        pytest.param(lambda: mk.buses.create_domain_bus(42),
                     ["domain must be a string", "not int"], id="create-domain-int"),
        pytest.param(lambda: mk.buses.create_domain_bus(b"sales"),
                     ["domain must be a string", "not bytes"], id="create-domain-bytes"),
        pytest.param(lambda: mk.buses.create_domain_bus("   "),
                     ["domain", "must start with a letter"], id="create-domain-blank"),
        pytest.param(lambda: mk.buses.create_domain_bus("ventes-été"),
                     ["domain 'ventes-été'", "only letters, digits"], id="create-domain-accent"),
        pytest.param(lambda: mk.buses.create_domain_bus("x" * 249),
                     ["domain", "249 characters", "at most 248"], id="create-domain-249"),
        pytest.param(lambda: mk.buses.delete_domain_bus("sales.domain"),
                     ["domain 'sales.domain'", "e.g. 'sales'"], id="delete-domain-dot"),
        pytest.param(lambda: mk.buses.delete_domain_bus(["sales"]),
                     ["domain must be a string", "not list"], id="delete-domain-list"),
        pytest.param(lambda: mk.buses.delete_domain_bus("sales", force="false"),
                     ["force is 'false'", "True or False"], id="delete-force-str"),
        pytest.param(lambda: mk.buses.create_domain_bus("sales", adopt="yes"),
                     ["adopt is 'yes'", "True or False"], id="create-adopt-str"),
        pytest.param(lambda: mk.buses.create_domain_bus("sales", owner=42),
                     ["owner must be a string", "'sales-team'"], id="create-owner-int"),
        pytest.param(lambda: mk.buses.create_domain_bus("sales", owner="o" * 257),
                     ["owner", "257 characters", "256"], id="create-owner-257"),
        pytest.param(lambda: mk.buses.create_domain_bus("sales", description="d" * 513),
                     ["description", "513 characters", "512"], id="create-description-513"),
        pytest.param(lambda: mk.buses.create_domain_bus("sales", description=7),
                     ["description must be a string", "'Sales domain event bus'"],
                     id="create-description-int"),
        pytest.param(lambda: mk.buses.create_domain_bus(
            "sales", name="arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus"),
                     ["bus name", "is an ARN", "'SalesEventBus'"], id="create-name-arn"),
        pytest.param(lambda: mk.buses.delete_domain_bus("sales", name=""),
                     ["name is empty", "1 to 256"], id="delete-name-empty"),
    ],
)  # fmt: skip
def test_bad_input_to_the_bus_functions_is_refused_before_any_call(mesh, sent, call, words):
    """Limits: bus names 1-256 of [.-_A-Za-z0-9] (CreateEventBus,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateEventBus.html, which
    also caps Description at 512 characters); tag values 0-256 characters (Tag,
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Tag.html)."""
    with pytest.raises(ValidationError) as refused:
        call()

    for word in words:
        assert word in str(refused.value)
    assert sent == []


def test_adopting_refuses_a_bus_tagged_for_another_domain(events):
    events.create_event_bus(Name="SharedBus", Tags=[{"Key": "meshkit:domain", "Value": "sales"}])

    with pytest.raises(NotMeshkitResourceError, match=r"belongs to domain 'sales'.*another name"):
        mk.buses.create_domain_bus("marketing", name="SharedBus", adopt=True)

    tags = events.list_tags_for_resource(ResourceARN=ARN.format("SharedBus"))["Tags"]
    assert tags == [{"Key": "meshkit:domain", "Value": "sales"}]


def test_moto_rejects_a_slash_in_a_bus_name_as_aws_does(events):
    """AWS and moto agree: custom bus names may not contain '/' (it is for partner buses).
    https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateEventBus.html"""
    with pytest.raises(ClientError) as raised:
        events.create_event_bus(Name="Sales/EventBus")

    assert raised.value.response["Error"]["Code"] == "ValidationException"


# -- a bus named by its ARN: this account's is the same bus; only its owner deletes it ----------


def test_the_domain_bus_named_by_its_arn_is_deleted(mesh):
    arn = mk.buses.create_domain_bus("sales")

    assert mk.buses.delete_domain_bus("sales", name=arn) is True
    assert mk.buses.delete_domain_bus("sales", name=arn) is False


def test_another_accounts_bus_arn_is_refused_for_deletion(mesh):
    mk.buses.create_domain_bus("sales")
    theirs = "arn:aws:events:us-west-2:222222222222:event-bus/SalesEventBus"

    with pytest.raises(mk.events.ForeignBusError, match="only the bus's own account can delete"):
        mk.buses.delete_domain_bus("sales", name=theirs)

    assert "SalesEventBus" in set(mk.buses.list_domain_buses()["bus"])  # moto's local bus kept
