"""Domain buses: naming, validation before any call, idempotency, ownership tags."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("domain", ["", "2fast", "sales!", "sales.domain", None])
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
