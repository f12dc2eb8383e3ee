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
from meshkit.custom_bus import InvalidRequestError, RequestProblem, check_request
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


def test_moto_cannot_answer_the_new_bus_api(mesh):
    """Why meshkit refuses: the call fails inside botocore, not with AWS's ClientError."""
    client = mesh.session().client("eventbridgev2", endpoint_url=mesh.endpoint_url)

    with pytest.raises(Exception) as raised:
        client.list_event_buses()

    assert type(raised.value).__name__ in {"ResponseParserError", "AttributeError"}


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
