"""The new Custom Event Bus offline: requests checked against the eventbridgev2 service model, and
the embedded AWS refused before any call.

The rules come from the model botocore ships; each case cites the API reference page that states
the same limit (https://docs.aws.amazon.com/eventbridgev2/latest/APIReference/). botocore's own
validation is shown to let each invalid request through, so these checks are the only thing that
refuses it before AWS does.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

import meshkit as mk
from meshkit.custom_bus import InvalidRequestError, RequestProblem, check_request, request_problems
from meshkit.exceptions import ValidationError

API = "https://docs.aws.amazon.com/eventbridgev2/latest/APIReference/"
BUS_ARN = "arn:aws:events:us-east-1:111122223333:event-busv2/sales/abcdefghij0123456789klmno"
SUBSCRIBER_ARN = (
    "arn:aws:events:us-east-1:444455556666:subscriber/marketing-sales/abcdefghij0123456789klmno"
)
ROLE_ARN = "arn:aws:iam::444455556666:role/marketing-subscriber"
QUEUE_ARN = "arn:aws:sqs:us-east-1:444455556666:marketing-sales"
DLQ_ARN = "arn:aws:sqs:us-east-1:444455556666:marketing-sales-dlq"


def subscriber(**changes):
    """A full CreateSubscriber request (API_CreateSubscriber), changed as asked."""
    request = {
        "Name": "marketing-sales",
        "EventBusArn": BUS_ARN,
        "InvokeConfiguration": {"RoleArn": ROLE_ARN, "TargetArn": QUEUE_ARN},
        "FilterConfiguration": {
            "Language": "EVENT_BRIDGE_PATTERN",
            "Filters": [{"Pattern": '{"detail-type": ["SaleRecorded"]}', "Scope": "METADATA"}],
        },
        "Type": "UNORDERED",
        "StartingPosition": "LATEST",
        "RetryPolicy": {"MaxRetryAttempts": 5, "MaxEventAgeInSeconds": 300},
        "OnFailureConfiguration": {"Arn": DLQ_ARN},
        "State": "RUNNING",
        "Tags": {"meshkit:workbook": "true", "meshkit:domain": "marketing"},
    }
    request.update(changes)
    return request


def entries(count):
    return [
        {"Source": "sales.domain", "DetailType": "SaleRecorded", "Detail": f'{{"n": {n}}}'}
        for n in range(count)
    ]


# -- Valid requests, shaped as the API reference's request syntax shows them -----------------------

VALID = {
    "CreateEventBus (API_CreateEventBus)": (
        "CreateEventBus",
        {
            "Name": "sales",
            "Description": "The Sales domain's events",
            "StorageConfiguration": {"RetentionPeriodInDays": 7},
            "Tags": {"meshkit:workbook": "true"},
            "ClientToken": "create-sales-bus-1",
        },
    ),
    "CreateEventBus, a year's retention": (
        "CreateEventBus",
        {"Name": "sales.v2_events-1", "StorageConfiguration": {"RetentionPeriodInDays": 365}},
    ),
    "CreateSubscriber (API_CreateSubscriber)": ("CreateSubscriber", subscriber()),
    "CreateSubscriber, FIFO from a point in time": (
        "CreateSubscriber",
        subscriber(
            Type="FIFO",
            StartingPosition="POINT_IN_TIME",
            PointInTimeConfiguration={
                "PointType": "TIMESTAMP",
                "StartingPoint": dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            },
            InvokeConfiguration={
                "RoleArn": ROLE_ARN,
                "TargetArn": QUEUE_ARN + ".fifo",
                "SqsParameters": {"MessageGroupId": "{% $events.SystemMetadata.EventGroupId %}"},
            },
            Transformer={
                "Type": "JSONATA",
                "JsonataConfiguration": {"Expression": "{% $events.Data %}"},
            },
        ),
    ),
    "PutEvents (API_PutEvents), 100 entries with event groups": (
        "PutEvents",
        {
            "EventBusArn": BUS_ARN,
            "Entries": [
                {**entry, "SystemMetadata": {"EventGroupId": "card-1", "DeduplicationId": "d"}}
                for entry in entries(100)
            ],
        },
    ),
    "PutEvents, content-based dedup": (
        "PutEvents",
        {
            "EventBusArn": BUS_ARN,
            "Entries": entries(1),
            "DeduplicationConfiguration": {"DeduplicationType": "CONTENT_BASED"},
        },
    ),
    "UpdateSubscriber (API_UpdateSubscriber), paused": (
        "UpdateSubscriber",
        {"SubscriberArn": SUBSCRIBER_ARN, "State": "STOPPED"},
    ),
    "ListEventBuses (API_ListEventBuses)": ("ListEventBuses", {"MaxResults": 10}),
    "RevokeResource (API_RevokeResource)": ("RevokeResource", {"Arn": SUBSCRIBER_ARN}),
}


@pytest.mark.parametrize("operation, request_", VALID.values(), ids=VALID.keys())
def test_a_valid_request_passes_unchanged(operation, request_):
    assert mk.custom_bus.request_problems(operation, request_) == []
    assert check_request(operation, request_) == request_


# -- Invalid requests: each refused, naming the field ----------------------------------------------

INVALID = {
    # API_StorageConfiguration: RetentionPeriodInDays, 1 to 365.
    "retention of 400 days": (
        "CreateEventBus",
        {"Name": "sales", "StorageConfiguration": {"RetentionPeriodInDays": 400}},
        "StorageConfiguration.RetentionPeriodInDays",
        "above the maximum, 365",
    ),
    "retention of 0 days": (
        "CreateEventBus",
        {"Name": "sales", "StorageConfiguration": {"RetentionPeriodInDays": 0}},
        "StorageConfiguration.RetentionPeriodInDays",
        "below the minimum, 1",
    ),
    # API_CreateEventBus: Name, 1-256, [A-Za-z0-9][\.\-_A-Za-z0-9]*.
    "a bus name with a space": (
        "CreateEventBus",
        {"Name": "sales events"},
        "Name",
        "does not match the pattern",
    ),
    "a bus name starting with a dot": (
        "CreateEventBus",
        {"Name": ".sales"},
        "Name",
        "does not match the pattern",
    ),
    "a bus name of 257 characters": (
        "CreateEventBus",
        {"Name": "s" * 257},
        "Name",
        "has 257 characters, more than 256",
    ),
    "an empty bus name": ("CreateEventBus", {"Name": ""}, "Name", "is empty"),
    "an unknown parameter": (
        "CreateEventBus",
        {"Name": "sales", "RetentionPeriodInDays": 7},
        "RetentionPeriodInDays",
        "not a parameter of CreateEventBus",
    ),
    # API_CreateEventBus: Tags, a map of at most 200; TagKey 1-128.
    "201 tags": (
        "CreateEventBus",
        {"Name": "sales", "Tags": {f"k{n}": "v" for n in range(201)}},
        "Tags",
        "has 201 entries, more than 200",
    ),
    "a tag key with a trailing space": (
        "CreateEventBus",
        {"Name": "sales", "Tags": {"owner ": "sales"}},
        "Tags(key 'owner ')",
        "does not match the pattern",
    ),
    # API_CreateEventBus: ClientToken, 1-64 printable ASCII.
    "a client token of 65 characters": (
        "CreateEventBus",
        {"Name": "sales", "ClientToken": "t" * 65},
        "ClientToken",
        "more than 64",
    ),
    # API_CreateSubscriber: Type, FIFO | UNORDERED.
    "ordering type LIFO": (
        "CreateSubscriber",
        subscriber(Type="LIFO"),
        "Type",
        "'LIFO' is not allowed",
    ),
    "starting position TRIM_HORIZON (a Kinesis word)": (
        "CreateSubscriber",
        subscriber(StartingPosition="TRIM_HORIZON"),
        "StartingPosition",
        "not allowed",
    ),
    # API_CreateSubscriber: EventBusArn, a Custom Event Bus ARN with its id.
    "a Classic bus's ARN": (
        "CreateSubscriber",
        subscriber(EventBusArn="arn:aws:events:us-east-1:111122223333:event-bus/SalesEventBus"),
        "EventBusArn",
        "does not match the pattern",
    ),
    "a bus ARN without its id": (
        "CreateSubscriber",
        subscriber(EventBusArn="arn:aws:events:us-east-1:111122223333:event-busv2/sales"),
        "EventBusArn",
        "does not match the pattern",
    ),
    "no invoke configuration": (
        "CreateSubscriber",
        {key: value for key, value in subscriber().items() if key != "InvokeConfiguration"},
        "InvokeConfiguration",
        "missing, and required",
    ),
    # API_InvokeConfiguration: RoleArn, an IAM role ARN.
    "a user ARN for the role": (
        "CreateSubscriber",
        subscriber(
            InvokeConfiguration={
                "RoleArn": "arn:aws:iam::444455556666:user/alice",
                "TargetArn": QUEUE_ARN,
            }
        ),
        "InvokeConfiguration.RoleArn",
        "does not match the pattern",
    ),
    # API_RetryPolicy: MaxRetryAttempts 0-185, MaxEventAgeInSeconds 60-86400.
    "186 retry attempts": (
        "CreateSubscriber",
        subscriber(RetryPolicy={"MaxRetryAttempts": 186}),
        "RetryPolicy.MaxRetryAttempts",
        "above the maximum, 185",
    ),
    "an event age of 30 s": (
        "CreateSubscriber",
        subscriber(RetryPolicy={"MaxEventAgeInSeconds": 30}),
        "RetryPolicy.MaxEventAgeInSeconds",
        "below the minimum, 60",
    ),
    # API_OnFailureConfiguration: Arn, an SQS queue ARN.
    "an SNS topic as the failure destination": (
        "CreateSubscriber",
        subscriber(OnFailureConfiguration={"Arn": "arn:aws:sns:us-east-1:444455556666:failed"}),
        "OnFailureConfiguration.Arn",
        "does not match the pattern",
    ),
    # API_FilterConfiguration: Filters, 1 to 50; Scope DATA | METADATA | SYSTEM_METADATA.
    "no filters": (
        "CreateSubscriber",
        subscriber(FilterConfiguration={"Filters": []}),
        "FilterConfiguration.Filters",
        "is empty",
    ),
    "51 filters": (
        "CreateSubscriber",
        subscriber(FilterConfiguration={"Filters": [{"Pattern": "{}", "Scope": "DATA"}] * 51}),
        "FilterConfiguration.Filters",
        "has 51 entries, more than 50",
    ),
    "a filter scope of DETAIL": (
        "CreateSubscriber",
        subscriber(FilterConfiguration={"Filters": [{"Pattern": "{}", "Scope": "DETAIL"}]}),
        "FilterConfiguration.Filters[0].Scope",
        "not allowed",
    ),
    "a pattern of 4097 characters": (
        "CreateSubscriber",
        subscriber(FilterConfiguration={"Filters": [{"Pattern": " " * 4097, "Scope": "DATA"}]}),
        "FilterConfiguration.Filters[0].Pattern",
        "more than 4096",
    ),
    # API_BatchConfiguration: MaxBatchSize 1-500.
    "a batch of 501": (
        "CreateSubscriber",
        subscriber(BatchConfiguration={"MaxBatchSize": 501}),
        "BatchConfiguration.MaxBatchSize",
        "above the maximum, 500",
    ),
    # API_JsonataConfiguration: Expression written as {% ... %}.
    "a JSONata expression without its braces": (
        "CreateSubscriber",
        subscriber(
            Transformer={"Type": "JSONATA", "JsonataConfiguration": {"Expression": "$events"}}
        ),
        "Transformer.JsonataConfiguration.Expression",
        "does not match the pattern",
    ),
    "retention as a string": (
        "CreateEventBus",
        {"Name": "sales", "StorageConfiguration": {"RetentionPeriodInDays": "7"}},
        "StorageConfiguration.RetentionPeriodInDays",
        "'7' is a str",
    ),
    # API_PutEvents: Entries, 1 to 100.
    "101 entries": (
        "PutEvents",
        {"EventBusArn": BUS_ARN, "Entries": entries(101)},
        "Entries",
        "has 101 entries, more than 100",
    ),
    "no entries": ("PutEvents", {"EventBusArn": BUS_ARN, "Entries": []}, "Entries", "is empty"),
    # API_PutEventsRequestEntry: DetailType 1-128; Source required.
    "a detail type of 129 characters": (
        "PutEvents",
        {"EventBusArn": BUS_ARN, "Entries": [{**entries(1)[0], "DetailType": "D" * 129}]},
        "Entries[0].DetailType",
        "more than 128",
    ),
    "an entry without a source": (
        "PutEvents",
        {"EventBusArn": BUS_ARN, "Entries": [{"DetailType": "SaleRecorded", "Detail": "{}"}]},
        "Entries[0].Source",
        "missing, and required",
    ),
    "a Classic entry's EventBusName": (
        "PutEvents",
        {"EventBusArn": BUS_ARN, "Entries": [{**entries(1)[0], "EventBusName": "sales"}]},
        "Entries[0].EventBusName",
        "not a parameter of Entries[0]",
    ),
    # API_PutEventsSystemMetadata: EventGroupId 1-128.
    "an event group id of 129 characters": (
        "PutEvents",
        {
            "EventBusArn": BUS_ARN,
            "Entries": [{**entries(1)[0], "SystemMetadata": {"EventGroupId": "g" * 129}}],
        },
        "Entries[0].SystemMetadata.EventGroupId",
        "more than 128",
    ),
    "dedup type EXACT": (
        "PutEvents",
        {
            "EventBusArn": BUS_ARN,
            "Entries": entries(1),
            "DeduplicationConfiguration": {"DeduplicationType": "EXACT"},
        },
        "DeduplicationConfiguration.DeduplicationType",
        "not allowed",
    ),
}


@pytest.mark.parametrize(
    "operation, request_, field, problem", INVALID.values(), ids=INVALID.keys()
)
def test_an_invalid_request_is_refused_naming_the_field(operation, request_, field, problem):
    with pytest.raises(InvalidRequestError) as raised:
        check_request(operation, request_)

    assert [p.field for p in raised.value.problems] == [field]
    assert problem in raised.value.problems[0].problem
    assert raised.value.problems[0].fix  # every problem says what to do
    assert field in str(raised.value)
    assert isinstance(raised.value, ValidationError)


# botocore refuses these itself (a minimum, an unknown member); the others reach the wire.
BOTOCORE_CATCHES = {
    "retention of 0 days",
    "an empty bus name",
    "an unknown parameter",
    "an event age of 30 s",
    "no filters",
    "no entries",
    "a Classic entry's EventBusName",
    "no invoke configuration",
    "an entry without a source",
    "retention as a string",
}
PASSED_BY_BOTOCORE = {name: case for name, case in INVALID.items() if name not in BOTOCORE_CATCHES}


@pytest.mark.parametrize(
    "operation, request_, field, problem",
    PASSED_BY_BOTOCORE.values(),
    ids=PASSED_BY_BOTOCORE.keys(),
)
def test_botocore_lets_each_out_of_model_request_through(operation, request_, field, problem):
    """botocore checks required members and types only: the request reaches the wire."""
    client = boto3.client(
        "eventbridgev2",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    method = client.meta.method_to_api_mapping
    name = next(python for python, api in method.items() if api == operation)
    with Stubber(client) as stub:
        stub.add_response(name, {}, None)
        try:
            getattr(client, name)(**request_)
        except ParamValidationError as err:  # pragma: no cover - the point of the test
            pytest.fail(f"botocore refused it itself: {err}")
        except Exception:
            pass  # the stubbed response may not fit the output shape; the request was accepted


def test_every_problem_of_a_request_is_reported_at_once():
    request = subscriber(Type="LIFO", RetryPolicy={"MaxRetryAttempts": 500}, Colour="blue")

    problems = mk.custom_bus.request_problems("CreateSubscriber", request)

    assert [p.field for p in problems] == ["Type", "RetryPolicy.MaxRetryAttempts", "Colour"]


def test_a_near_miss_is_named():
    problems = mk.custom_bus.request_problems(
        "CreateSubscriber", subscriber(Type="FIFI", StartingPositon="LATEST")
    )

    assert problems == [
        RequestProblem(
            "Type", "'FIFI' is not allowed (did you mean FIFO?)", "use one of FIFO, UNORDERED"
        ),
        RequestProblem(
            "StartingPositon",
            "not a parameter of CreateSubscriber",
            "did you mean StartingPosition?",
        ),
    ]


@pytest.mark.parametrize("value", [None, "sales", 7, True, ["Name"]])
def test_a_request_that_is_not_a_dict_is_refused(value):
    with pytest.raises(InvalidRequestError, match=r"\(request\): .* give a dict"):
        check_request("CreateEventBus", value)


def test_a_bool_is_not_a_whole_number():
    problems = mk.custom_bus.request_problems(
        "CreateEventBus", {"Name": "sales", "StorageConfiguration": {"RetentionPeriodInDays": True}}
    )

    assert [p.field for p in problems] == ["StorageConfiguration.RetentionPeriodInDays"]


def test_an_unknown_operation_is_refused_with_the_nearest_name():
    with pytest.raises(ValidationError, match="did you mean 'PutEvents'"):
        check_request("PutEvent", {})


def test_a_union_takes_exactly_one_member():
    problems = mk.custom_bus.request_problems(
        "CreateEventSource",
        {
            "Name": "webhooks",
            "EventBusArn": BUS_ARN,
            "Configuration": {},
        },
    )

    assert any(p.field == "Configuration" and "exactly one" in p.fix for p in problems)


def test_the_checks_follow_the_model_botocore_ships():
    model = mk.custom_bus.service_model()

    assert model.metadata["apiVersion"] == "2025-05-15"
    retention = model.shape_for("RetentionPeriodInDays")
    assert (retention.metadata["min"], retention.metadata["max"]) == (1, 365)


# -- Where the new bus can be called ---------------------------------------------------------------


def test_the_embedded_aws_is_refused_before_any_call(mesh, monkeypatch):
    created = []
    monkeypatch.setattr(boto3.Session, "client", lambda *a, **k: created.append(a) or None)

    with pytest.raises(mk.custom_bus.CustomBusUnavailableError, match="check_request"):
        mk.custom_bus.client()

    assert created == []  # not even a client was made


# -- The planner: the Classic mesh as new buses and subscribers ------------------------------------


@pytest.fixture
def classic_mesh(mesh):
    """The mesh of notebooks 01-04 in small: three domain buses, subscriptions across them."""
    for domain in ("sales", "marketing", "fraud"):
        mk.buses.create_domain_bus(domain)
    sales = {"source": ["sales.domain"], "detail-type": ["SaleRecorded", "SaleDeleted"]}
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=sales)
    mk.subscriptions.subscribe("customer-support", bus="SalesEventBus", pattern=sales)
    mk.subscriptions.subscribe(
        "fraud",
        bus="SalesEventBus",
        pattern={
            "source": ["sales.domain"],
            "detail": {"data": {"amount": [{"numeric": [">", 1000]}]}},
        },
        retry_attempts=3,
        max_event_age_s=600,
    )
    mk.subscriptions.subscribe(
        "customer-support", bus="FraudEventBus", pattern={"source": ["fraud.domain"]}
    )
    return mesh


def test_the_plan_of_the_classic_mesh_holds_to_the_service_model(classic_mesh):
    plan = mk.custom_bus.plan_migration(retention_days=30)

    assert plan.problems() == []
    assert plan.check() is plan
    frame = plan.frame()
    assert frame["operation"].value_counts().to_dict() == {
        "CreateEventBus": 3,
        "CreateSubscriber": 4,
    }
    assert plan.notes == ()


def test_a_rule_and_its_target_become_one_subscriber_as_aws_maps_them(classic_mesh):
    """https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-migrate.html"""
    plan = mk.custom_bus.plan_migration()
    fraud = next(p for p in plan.requests if p.request["Name"] == "fraud-sales").request
    rule_pattern = (
        classic_mesh.session()
        .client("events", endpoint_url=classic_mesh.endpoint_url)
        .describe_rule(Name="fraud-sales", EventBusName="SalesEventBus")["EventPattern"]
    )

    assert fraud["FilterConfiguration"]["Filters"] == [{"Pattern": rule_pattern, "Scope": "DATA"}]
    assert fraud["RetryPolicy"] == {"MaxRetryAttempts": 3, "MaxEventAgeInSeconds": 600}
    assert fraud["OnFailureConfiguration"]["Arn"].endswith(":fraud-sales-dlq")
    assert fraud["InvokeConfiguration"]["TargetArn"].endswith(":fraud-sales")
    assert fraud["EventBusArn"] == mk.custom_bus.stand_in_arn(
        plan.region, plan.account, "SalesEventBus"
    )
    marketing = next(p for p in plan.requests if p.request["Name"] == "marketing-sales").request
    assert marketing["RetryPolicy"] == {"MaxRetryAttempts": 185, "MaxEventAgeInSeconds": 86400}


def test_the_real_bus_arns_replace_the_stand_ins(classic_mesh):
    plan = mk.custom_bus.plan_migration(buses=["SalesEventBus"])
    real = (
        "arn:aws:events:us-west-2:123456789012:event-busv2/SalesEventBus/k2j4h5g6f7d8s9a0q1w2e3r4t"
    )

    placed = plan.with_bus_arns({"SalesEventBus": real})

    assert {p.request["EventBusArn"] for p in placed.requests[1:]} == {real}
    assert placed.problems() == []
    with pytest.raises(ValidationError, match="no ARN for SalesEventBus"):
        plan.with_bus_arns({})


def test_a_wildcard_pattern_is_left_out_with_a_note(classic_mesh):
    mk.subscriptions.subscribe(
        "audit", bus="SalesEventBus", pattern={"source": [{"wildcard": "sales.*"}]}
    )

    plan = mk.custom_bus.plan_migration(buses=["SalesEventBus"])

    assert "audit-sales" not in set(plan.frame()["name"])
    assert any("wildcard" in note for note in plan.notes)


@pytest.mark.parametrize("days", [0, 366, "7", True, 7.5])
def test_a_retention_outside_1_to_365_days_is_refused(classic_mesh, days):
    with pytest.raises(ValidationError, match="retention_days"):
        mk.custom_bus.plan_migration(retention_days=days)


def test_a_bus_meshkit_did_not_make_is_refused(classic_mesh):
    with pytest.raises(ValidationError, match="NoSuchBus"):
        mk.custom_bus.plan_migration(buses=["NoSuchBus"])


def test_the_template_passes_cfn_lint(classic_mesh):
    from cfnlint.api import ManualArgs, lint

    template = mk.custom_bus.plan_migration().template()

    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert [str(match) for match in matches] == []
    kinds = [resource["Type"] for resource in template["Resources"].values()]
    assert kinds.count("AWS::EventsV2::EventBus") == 3
    assert kinds.count("AWS::EventsV2::Subscriber") == 4
    assert kinds.count("AWS::IAM::Role") == 3  # one per consumer domain


def test_cfn_lint_catches_a_broken_subscriber(classic_mesh):
    """The test above can fail: cfn-lint knows AWS::EventsV2 and refuses a bad property."""
    from cfnlint.api import ManualArgs, lint

    template = mk.custom_bus.plan_migration().template()
    subscriber = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::EventsV2::Subscriber"
    )
    subscriber["Properties"]["Type"] = "LIFO"

    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert any("LIFO" in str(match) for match in matches)


# -- On real AWS: request shapes, with botocore's Stubber in place of AWS -------------------------
# Stubber checks each request against the model botocore ships and answers what the test says;
# the answers are the test's, never shown as AWS's behaviour.

OWN_BUS = (
    "arn:aws:events:us-east-1:123456789012:event-busv2/SalesEventBus/abcdefghij0123456789klmno"
)
MESHKIT_TAGS = {
    "meshkit:workbook": "true",
    "meshkit:domain": "sales",
    "meshkit:owner": "sales-team",
}


@pytest.fixture
def real_aws(mesh, monkeypatch):
    """Stubbed eventbridgev2 and RAM clients where meshkit would reach real AWS."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    clients = {name: session.client(name) for name in ("eventbridgev2", "ram")}
    stubs = {name: Stubber(client) for name, client in clients.items()}
    real_client = mk._aws.client
    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: clients["eventbridgev2"])
    monkeypatch.setattr(
        mk._aws,
        "client",
        lambda name, s=None, **kw: clients[name] if name in clients else real_client(name, s, **kw),
    )
    for stub in stubs.values():
        stub.activate()
    yield stubs
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def test_create_bus_sends_the_checked_request_and_waits_for_active(real_aws):
    stub = real_aws["eventbridgev2"]
    stub.add_response("list_event_buses", {"EventBuses": []}, {"NamePrefix": "SalesEventBus"})
    request = mk.custom_bus.bus_request("sales", retention_days=30)
    stub.add_response(
        "create_event_bus",
        {"EventBusArn": OWN_BUS, "Name": "SalesEventBus", "State": "CREATING"},
        request,
    )
    stub.add_response("describe_event_bus", {"State": "ACTIVE"}, {"EventBusArn": OWN_BUS})

    assert mk.custom_bus.create_bus("sales", retention_days=30) == OWN_BUS
    assert request["StorageConfiguration"] == {"RetentionPeriodInDays": 30}
    assert request["Tags"] == MESHKIT_TAGS


def test_create_bus_returns_the_bus_meshkit_made_and_refuses_anyone_elses(real_aws):
    stub = real_aws["eventbridgev2"]
    listed = {"EventBuses": [{"Name": "SalesEventBus", "EventBusArn": OWN_BUS}]}
    stub.add_response("list_event_buses", listed)
    stub.add_response("list_tags_for_resource", {"Tags": MESHKIT_TAGS})
    stub.add_response("describe_event_bus", {"State": "ACTIVE"})
    assert mk.custom_bus.create_bus("sales") == OWN_BUS

    stub.add_response("list_event_buses", listed)
    stub.add_response("list_tags_for_resource", {"Tags": {"team": "someone-else"}})
    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="did not create it"):
        mk.custom_bus.create_bus("sales")


def test_a_bus_shared_with_this_account_is_not_taken_for_its_own(real_aws):
    """ListEventBuses lists buses shared with the account too (eb-custom-bus-sharing)."""
    stub = real_aws["eventbridgev2"]
    theirs = OWN_BUS.replace("123456789012", "111122223333")
    stub.add_response(
        "list_event_buses", {"EventBuses": [{"Name": "SalesEventBus", "EventBusArn": theirs}]}
    )
    stub.add_response("create_event_bus", {"EventBusArn": OWN_BUS})
    stub.add_response("describe_event_bus", {"State": "ACTIVE"})

    assert mk.custom_bus.create_bus("sales") == OWN_BUS


def test_a_bus_that_failed_to_create_says_why(real_aws):
    stub = real_aws["eventbridgev2"]
    stub.add_response("list_event_buses", {"EventBuses": []})
    stub.add_response("create_event_bus", {"EventBusArn": OWN_BUS})
    stub.add_response(
        "describe_event_bus", {"State": "CREATE_FAILED", "StateReason": "KMS key disabled"}
    )

    with pytest.raises(mk.exceptions.ConflictError, match=r"CREATE_FAILED.*KMS key disabled"):
        mk.custom_bus.create_bus("sales")


def test_share_bus_uses_the_managed_permission_and_adds_only_missing_principals(real_aws):
    """AWS RAM's four managed permissions, at arn:aws:ram::aws:permission/<name>
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-sharing.html)."""
    events, ram = real_aws["eventbridgev2"], real_aws["ram"]
    share = "arn:aws:ram:us-east-1:123456789012:resource-share/abc"
    events.add_response("list_tags_for_resource", {"Tags": MESHKIT_TAGS})
    ram.add_response("get_resource_shares", {"resourceShares": []})
    ram.add_response(
        "create_resource_share",
        {"resourceShare": {"resourceShareArn": share}},
        {
            "name": "SalesEventBus-subscribe",
            "resourceArns": [OWN_BUS],
            "principals": ["444455556666"],
            "permissionArns": [
                "arn:aws:ram::aws:permission/AWSRAMEventBridgeEventBusV2SubscribeOnly"
            ],
            "allowExternalPrincipals": True,
            "tags": [{"key": k, "value": v} for k, v in MESHKIT_TAGS.items()],
        },
    )
    assert mk.custom_bus.share_bus(OWN_BUS, ["444455556666"]) == share

    events.add_response("list_tags_for_resource", {"Tags": MESHKIT_TAGS})
    ram.add_response(
        "get_resource_shares",
        {
            "resourceShares": [
                {
                    "resourceShareArn": share,
                    "tags": [{"key": k, "value": v} for k, v in MESHKIT_TAGS.items()],
                }
            ]
        },
    )
    ram.add_response(
        "get_resource_share_associations",
        {
            "resourceShareAssociations": [
                {"associatedEntity": "444455556666", "status": "ASSOCIATED"}
            ]
        },
    )
    ram.add_response(
        "associate_resource_share", {}, {"resourceShareArn": share, "principals": ["777788889999"]}
    )
    assert mk.custom_bus.share_bus(OWN_BUS, ["444455556666", "777788889999"]) == share


@pytest.mark.parametrize(
    ("principals", "message"),
    [
        ("444455556666", "a list"),
        ([], "empty"),
        (["4444"], "not account ids"),
        ([444455556666], "not account ids"),
        ([["444455556666"]], "not account ids"),
    ],
)
def test_share_bus_refuses_principals_it_cannot_share_with(real_aws, principals, message):
    with pytest.raises(ValidationError, match=message):
        mk.custom_bus.share_bus(OWN_BUS, principals)


def test_share_bus_refuses_a_bus_meshkit_did_not_make(real_aws):
    real_aws["eventbridgev2"].add_response("list_tags_for_resource", {"Tags": {}})

    with pytest.raises(mk.exceptions.NotMeshkitResourceError):
        mk.custom_bus.share_bus(OWN_BUS, ["444455556666"])


def test_a_fifo_subscriber_orders_by_the_events_group_and_dedup_id():
    """SQS FIFO target: MessageGroupId from the event's group
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-target-sqs.html)."""
    request = mk.custom_bus.subscriber_request(
        "fraud",
        bus=OWN_BUS,
        target_arn="arn:aws:sqs:us-east-1:444455556666:fraud-sales.fifo",
        role_arn=ROLE_ARN,
        ordered=True,
        start="horizon",
        dead_letter_arn=DLQ_ARN,
        max_retry_attempts=185,
        max_event_age_s=86400,
    )

    assert request["Type"] == "FIFO"
    assert request["InvokeConfiguration"]["SqsParameters"] == {
        "MessageGroupId": "{% $events.SystemMetadata.EventGroupId %}",
        "MessageDeduplicationId": "{% $events.SystemMetadata.DeduplicationId %}",
    }
    assert request["StartingPosition"] == "POINT_IN_TIME"
    assert request["PointInTimeConfiguration"] == {"PointType": "HORIZON"}
    assert request["RetryPolicy"] == {"MaxRetryAttempts": 185, "MaxEventAgeInSeconds": 86400}
    assert request["Name"] == "fraud-sales"


def test_a_subscriber_can_start_at_a_moment_in_the_retained_past():
    moment = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    request = mk.custom_bus.subscriber_request(
        "fraud", bus=OWN_BUS, target_arn=QUEUE_ARN, role_arn=ROLE_ARN, start=moment
    )
    assert request["PointInTimeConfiguration"] == {
        "PointType": "TIMESTAMP",
        "StartingPoint": moment,
    }


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"start": dt.datetime(2026, 12, 1)}, ValidationError, "naive"),
        ({"start": "yesterday"}, ValidationError, "'latest'"),
        ({"ordered": "yes"}, ValidationError, "ordered"),
        ({"pattern": {"source": [{"wildcard": "sales.*"}]}}, ValidationError, "wildcard"),
        ({"pattern": {"source": "sales.domain"}}, mk.patterns.PatternError, "list"),
        ({"max_retry_attempts": 186}, InvalidRequestError, "RetryPolicy.MaxRetryAttempts"),
        ({"max_event_age_s": 30}, InvalidRequestError, "RetryPolicy.MaxEventAgeInSeconds"),
        ({"role_arn": "arn:aws:iam::444455556666:user/me"}, InvalidRequestError, "RoleArn"),
        ({"dead_letter_arn": "arn:aws:sns:us-east-1:1:x"}, InvalidRequestError, "OnFailure"),
        ({"bus": "SalesEventBus"}, ValidationError, "event-busv2"),
        ({"name": "x" * 257}, InvalidRequestError, "Name"),
    ],
)
def test_a_bad_subscription_is_refused_naming_what_to_fix(changes, error, message):
    arguments = {"bus": OWN_BUS, "target_arn": QUEUE_ARN, "role_arn": ROLE_ARN} | changes
    with pytest.raises(error, match=message):
        mk.custom_bus.subscriber_request("marketing", **arguments)


def test_subscribe_retries_a_concurrent_modification_as_aws_advises(real_aws, monkeypatch):
    monkeypatch.setattr(mk.custom_bus.subscribers.time, "sleep", lambda s: None)
    stub = real_aws["eventbridgev2"]
    stub.add_response("list_subscribers", {"Subscribers": []})
    stub.add_client_error("create_subscriber", "ConcurrentModificationException")
    stub.add_response("create_subscriber", {"SubscriberArn": SUBSCRIBER_ARN})

    arn = mk.custom_bus.subscribe(
        "marketing", bus=OWN_BUS, target_arn=QUEUE_ARN, role_arn=ROLE_ARN,
        pattern={"detail-type": ["SaleRecorded"]},
    )  # fmt: skip

    assert arn == SUBSCRIBER_ARN


def test_pause_and_resume_change_only_the_state(real_aws):
    stub = real_aws["eventbridgev2"]
    mine = {"Tags": {"meshkit:workbook": "true", "meshkit:domain": "marketing"}}
    stub.add_response("list_tags_for_resource", mine)
    stub.add_response(
        "update_subscriber",
        {"State": "STOPPED"},
        {"SubscriberArn": SUBSCRIBER_ARN, "State": "STOPPED"},
    )
    stub.add_response("list_tags_for_resource", mine)
    stub.add_response(
        "update_subscriber",
        {"State": "RUNNING"},
        {"SubscriberArn": SUBSCRIBER_ARN, "State": "RUNNING", "ResumePosition": "LAST_PROCESSED"},
    )

    assert mk.custom_bus.pause(SUBSCRIBER_ARN) == "STOPPED"
    assert mk.custom_bus.resume(SUBSCRIBER_ARN) == "RUNNING"


def test_only_meshkits_subscribers_are_deleted_or_paused(real_aws):
    stub = real_aws["eventbridgev2"]
    stub.add_response("list_tags_for_resource", {"Tags": {}})
    stub.add_response("list_tags_for_resource", {"Tags": {}})

    with pytest.raises(mk.exceptions.NotMeshkitResourceError):
        mk.custom_bus.unsubscribe(SUBSCRIBER_ARN)
    with pytest.raises(mk.exceptions.NotMeshkitResourceError):
        mk.custom_bus.pause(SUBSCRIBER_ARN)  # no UpdateSubscriber, no DeleteSubscriber queued


def test_revoke_sends_revoke_resource_for_the_subscriber(real_aws):
    real_aws["eventbridgev2"].add_response(
        "revoke_resource", {"Arn": SUBSCRIBER_ARN}, {"Arn": SUBSCRIBER_ARN}
    )
    assert mk.custom_bus.revoke(SUBSCRIBER_ARN) == SUBSCRIBER_ARN


@pytest.mark.parametrize(
    "call",
    [
        lambda: mk.custom_bus.create_bus("sales"),
        lambda: mk.custom_bus.delete_bus(OWN_BUS),
        lambda: mk.custom_bus.share_bus(OWN_BUS, ["444455556666"]),
        lambda: mk.custom_bus.subscribe(
            "marketing", bus=OWN_BUS, target_arn=QUEUE_ARN, role_arn=ROLE_ARN
        ),
        lambda: mk.custom_bus.pause(SUBSCRIBER_ARN),
        lambda: mk.custom_bus.revoke(SUBSCRIBER_ARN),
        lambda: mk.custom_bus.unsubscribe(SUBSCRIBER_ARN),
        lambda: mk.events.publish(OWN_BUS, [sale(1)]),
    ],
    ids=["create", "delete", "share", "subscribe", "pause", "revoke", "unsubscribe", "publish"],
)
def test_every_call_is_refused_on_the_embedded_aws_before_any_request(mesh, call, monkeypatch):
    monkeypatch.setattr(boto3.Session, "client", lambda *a, **k: pytest.fail("a client was made"))
    with pytest.raises(mk.custom_bus.CustomBusUnavailableError):
        call()


# -- Publishing to the new bus with mk.events.publish ----------------------------------------------


def sale(n, group=None, key=None):
    return mk.events.DomainEvent(
        "sales.domain",
        "SaleRecorded",
        {"sale_id": f"S-{n}", "amount": 10.0, "timestamp": "2026-12-01T09:00:00Z"},
        idempotency_key=key or f"sale-S-{n}",
        event_group=group,
    )


class FakeBus:
    """An eventbridgev2 client that checks each PutEvents request with botocore's own validator
    and answers with what the test scripts (a function of the request's entries)."""

    def __init__(self, answer):
        from botocore.validate import ParamValidator

        self.model = boto3.Session(region_name="us-east-1").client("eventbridgev2").meta
        self.validator = ParamValidator()
        self.answer = answer
        self.requests = []

    def describe_event_bus(self, **request):
        return {"EventBusArn": request["EventBusArn"], "State": "ACTIVE"}

    def put_events(self, **request):
        shape = self.model.service_model.operation_model("PutEvents").input_shape
        report = self.validator.validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert check_request("PutEvents", request) == request
        self.requests.append(request)
        return {"Entries": [self.answer(entry) for entry in request["Entries"]]}


def published(entry):
    return {
        "EventId": "e-" + entry["SystemMetadata"]["DeduplicationId"],
        "SuccessCode": "PUBLISHED",
    }


def test_publish_sends_100_entries_a_request_with_the_bus_arn_once(mesh, monkeypatch):
    """PutEvents: 1-100 entries, the bus ARN once per request
    (https://docs.aws.amazon.com/eventbridgev2/latest/APIReference/API_PutEvents.html)."""
    fake = FakeBus(published)
    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: fake)

    result = mk.events.publish(OWN_BUS, [sale(n, group=f"card-{n % 3}") for n in range(250)])

    assert [len(r["Entries"]) for r in fake.requests] == [100, 100, 50]
    assert {r["EventBusArn"] for r in fake.requests} == {OWN_BUS}
    first = fake.requests[0]["Entries"][0]
    assert "EventBusName" not in first
    assert first["SystemMetadata"] == {"DeduplicationId": "sale-S-0", "EventGroupId": "card-0"}
    assert json.loads(first["Detail"])["metadata"]["event_group"] == "card-0"
    assert (result.sent, result.failed, result.api_calls) == (250, [], 3)
    assert result.event_ids[0] == "e-sale-S-0"


def test_a_deduplicated_event_is_a_success_not_counted_as_sent(mesh, monkeypatch):
    """SuccessCode DEDUPLICATED: "Treat it as a success" and do not count it as a new event
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-ordering.html)."""
    seen = set()

    def answer(entry):
        key = entry["SystemMetadata"]["DeduplicationId"]
        if key in seen:
            return {"EventId": "e-dup", "SuccessCode": "DEDUPLICATED"}
        seen.add(key)
        return published(entry)

    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: FakeBus(answer))

    result = mk.events.publish(OWN_BUS, [sale(1), sale(2), sale(1, key="sale-S-1")])

    assert (result.sent, result.deduplicated, result.ok) == (2, ["sale-S-1"], True)
    assert "deduplicated=1" in repr(result)
    assert sorted(result.outcomes_frame()["status"]) == ["deduplicated", "sent", "sent"]


def test_partial_failures_on_the_new_bus_are_retried_or_returned(mesh, monkeypatch):
    monkeypatch.setattr(mk.events, "_sleep", lambda s: None)
    throttled = {"sale-S-1"}

    def answer(entry):
        key = entry["SystemMetadata"]["DeduplicationId"]
        if key in throttled:
            throttled.discard(key)
            return {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
        if key == "sale-S-2":
            return {"ErrorCode": "AccessDeniedException", "ErrorMessage": "KMS key"}
        return published(entry)

    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: FakeBus(answer))

    result = mk.events.publish(OWN_BUS, [sale(n) for n in range(4)])

    assert (result.sent, result.retried) == (3, 1)
    assert [(f.event.idempotency_key, f.error_code) for f in result.failed] == [
        ("sale-S-2", "AccessDeniedException")
    ]


def test_an_idempotency_key_too_long_for_a_dedup_id_is_refused_before_sending(mesh, monkeypatch):
    fake = FakeBus(published)
    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: fake)

    with pytest.raises(ValidationError, match=r"idempotency_key is 129 characters.*128"):
        mk.events.publish(OWN_BUS, [sale(1), sale(2, key="k" * 129)])
    assert fake.requests == []


@pytest.mark.parametrize(
    ("group", "message"),
    [("", "event_group is empty"), (7, "must be a string"), ("g" * 129, "128")],
)
def test_a_bad_event_group_is_refused(group, message):
    with pytest.raises(ValidationError, match=message):
        sale(1, group=group).to_custom_bus_entry()


def test_batch_plan_shows_the_new_buses_requests_offline(mesh):
    plan = mk.events.batch_plan([sale(n) for n in range(150)], OWN_BUS)
    assert plan.groupby("request").size().tolist() == [100, 50]


def test_a_malformed_new_bus_arn_is_refused_naming_its_shape(mesh):
    with pytest.raises(ValidationError, match="25-character id"):
        mk.events.publish(OWN_BUS[:-3], [sale(1)])


def test_a_plan_can_move_consumers_one_at_a_time(classic_mesh):
    plan = mk.custom_bus.plan_migration(buses=["SalesEventBus"], subscriptions=["fraud-sales"])
    assert list(plan.frame()["name"]) == ["SalesEventBus", "fraud-sales"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"buses": "SalesEventBus"}, "give a list"),
        ({"subscriptions": "fraud-sales"}, "give a list"),
        ({"buses": ["SalesEventBus"], "subscriptions": ["audit-sales"]}, "audit-sales"),
    ],
)
def test_a_plan_of_something_that_is_not_there_is_refused(classic_mesh, arguments, message):
    with pytest.raises(ValidationError, match=message):
        mk.custom_bus.plan_migration(**arguments)


def test_each_target_of_a_rule_becomes_a_subscriber_and_only_queues_are_planned(classic_mesh):
    """ "For each rule, create one subscriber for each of its targets"
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-custom-bus-migrate.html)."""
    events = mk._aws.client("events")
    queue = events.list_targets_by_rule(Rule="fraud-sales", EventBusName="SalesEventBus")
    events.put_targets(
        Rule="fraud-sales",
        EventBusName="SalesEventBus",
        Targets=[
            {"Id": "copy", "Arn": queue["Targets"][0]["Arn"]},
            {"Id": "logs", "Arn": "arn:aws:logs:us-west-2:123456789012:log-group:/audit"},
        ],
    )

    plan = mk.custom_bus.plan_migration(buses=["SalesEventBus"], subscriptions=["fraud-sales"])

    names = plan.frame().query("operation == 'CreateSubscriber'")["name"].tolist()
    assert sorted(names) == sorted(["fraud-sales-copy", f"fraud-sales-{mk.buses.QUEUE_TARGET_ID}"])
    assert any("not an SQS queue" in note for note in plan.notes)
    assert plan.problems() == []


def test_a_request_the_model_refuses_is_unsent_not_in_doubt(mesh, monkeypatch):
    """Nothing is lost and nothing is misreported: a request refused before sending leaves its
    events unsent (publish them again), not "may have been delivered"."""
    fake = FakeBus(published)
    monkeypatch.setattr(mk._aws, "eventbridgev2_client", lambda s=None: fake)
    refusal = InvalidRequestError("PutEvents", [RequestProblem("Entries", "refused", "fix it")])
    monkeypatch.setattr(
        mk.custom_bus.checks, "check_request", lambda *a: (_ for _ in ()).throw(refusal)
    )

    with pytest.raises(mk.events.PublishError) as raised:
        mk.events.publish(OWN_BUS, [sale(n) for n in range(3)])

    result = raised.value.result
    assert fake.requests == []
    assert (result.sent, result.failed, len(result.unsent)) == (0, [], 3)


# -- Adversarial inputs (found by a review pass) --------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"Name": "sales", "Description": None}, "Description"),
        (
            {"Name": "s", "StorageConfiguration": __import__("types").MappingProxyType({})},
            "Storage",
        ),
        (
            subscriber(
                InvokeConfiguration={
                    "RoleArn": "arn:aws:iam::١١١١٢٢٢٢٣٣٣٣:role/r",
                    "TargetArn": QUEUE_ARN,
                }
            ),
            "RoleArn",
        ),
    ],
    ids=["None member", "mapping that is not a dict", "non-ASCII digits"],
)
def test_what_botocore_would_refuse_is_refused_first(request_, field):
    operation = "CreateEventBus" if "Name" in request_ and "EventBusArn" not in request_ else None
    problems = request_problems(operation or "CreateSubscriber", request_)
    assert any(p.field.startswith(field) or field in p.field for p in problems), problems


@pytest.mark.parametrize(
    "moment",
    ["yesterday", dt.date(2026, 1, 1), float("nan"), float("inf"), 10**20, 10**400],
    ids=["word", "date", "nan", "inf", "1e20", "1e400"],
)
def test_a_starting_point_that_is_not_a_time_is_refused(moment):
    """PointInTimeConfiguration.StartingPoint is a Timestamp (API_PointInTimeConfiguration);
    botocore refuses these, or crashes serializing them."""
    request_ = subscriber(
        StartingPosition="POINT_IN_TIME",
        PointInTimeConfiguration={"PointType": "TIMESTAMP", "StartingPoint": moment},
    )
    problems = request_problems("CreateSubscriber", request_)
    assert [p.field for p in problems] == ["PointInTimeConfiguration.StartingPoint"]


def test_an_operation_that_is_not_a_string_is_refused_by_name():
    with pytest.raises(ValidationError, match="operation is a list"):
        check_request(["CreateEventBus"], {})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"buses": 5}, "give a list"),
        ({"buses": [None]}, "not a name"),
        ({"subscriptions": [["x"]]}, "not a name"),
        ({"subscriptions": b"fraud-sales"}, "give a list"),
    ],
)
def test_plan_arguments_are_refused_by_name(classic_mesh, arguments, message):
    with pytest.raises(ValidationError, match=message):
        mk.custom_bus.plan_migration(**arguments)


def test_a_plan_reads_an_iterator_of_names_once_and_each_bus_once(classic_mesh):
    plan = mk.custom_bus.plan_migration(
        buses=["SalesEventBus", "SalesEventBus"], subscriptions=iter(["fraud-sales"])
    )
    assert plan.frame()["name"].tolist() == ["SalesEventBus", "fraud-sales"]


def test_names_that_would_share_a_logical_id_are_refused(classic_mesh):
    mk.subscriptions.subscribe("audit", bus="SalesEventBus", pattern={"source": ["x"]},
                               name="fraud_sales")  # fmt: skip
    with pytest.raises(ValidationError, match="FraudSales"):
        mk.custom_bus.plan_migration(buses=["SalesEventBus"])


def test_a_lambda_whose_name_holds_sqs_is_not_planned_as_a_queue(classic_mesh):
    events = mk._aws.client("events")
    events.put_targets(
        Rule="fraud-sales",
        EventBusName="SalesEventBus",
        Targets=[{"Id": "fn", "Arn": "arn:aws:lambda:us-west-2:123456789012:function:sqs:live"}],
    )
    plan = mk.custom_bus.plan_migration(buses=["SalesEventBus"], subscriptions=["fraud-sales"])
    assert any("not an SQS queue" in note for note in plan.notes)
    assert "fraud-sales-fn" not in plan.frame()["name"].tolist()


def test_a_template_states_a_starting_point_in_epoch_seconds():
    """CloudFormation's PointInTimeConfiguration.StartingPoint is an integer."""
    moment = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    request_ = mk.custom_bus.subscriber_request(
        "fraud", bus=mk.custom_bus.stand_in_arn("us-east-1", "111122223333", "SalesEventBus"),
        target_arn=QUEUE_ARN, role_arn=ROLE_ARN, start=moment,
    )  # fmt: skip
    plan = mk.custom_bus.MigrationPlan(
        "us-east-1",
        "111122223333",
        (
            mk.custom_bus.PlannedRequest("CreateEventBus", {"Name": "SalesEventBus"}, "Sales", ""),
            mk.custom_bus.PlannedRequest("CreateSubscriber", request_, "FraudSales", ""),
        ),
    )
    point = plan.template()["Resources"]["FraudSales"]["Properties"]["PointInTimeConfiguration"]
    assert point["StartingPoint"] == int(moment.timestamp())
    json.dumps(plan.template())


def test_a_template_of_a_subscriber_without_its_bus_is_refused():
    request_ = subscriber(EventBusArn=BUS_ARN)
    plan = mk.custom_bus.MigrationPlan(
        "us-east-1",
        "111122223333",
        (mk.custom_bus.PlannedRequest("CreateSubscriber", request_, "S", ""),),
    )
    with pytest.raises(ValidationError, match="plan the bus too"):
        plan.template()
    with pytest.raises(ValidationError, match="give a dict"):
        plan.with_bus_arns(None)
