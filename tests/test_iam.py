"""Governance: the evaluator against AWS's documented evaluation logic, builders, lint, enforcement.

The evaluator cases follow the IAM User Guide: "Policy evaluation logic", "IAM JSON policy
elements: Condition operators" (missing keys, negated operators, ...IfExists, Null), "NotAction",
"NotResource", "Policy variables" and "Cross-account policy evaluation logic".
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

import meshkit as mk
from meshkit.iam import UnsupportedConditionError, check_access

ACCOUNT, OTHER = "123456789012", "222222222222"
SALES_BUS = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/SalesEventBus"
MARKETING_BUS = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/MarketingEventBus"
QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:marketing-sales"
RULE = f"arn:aws:events:us-west-2:{ACCOUNT}:rule/SalesEventBus/marketing-sales"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="events:PutEvents", resource=SALES_BUS, **extra) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action="events:PutEvents", resource=SALES_BUS, **extra) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def when(operator: str, key: str, value) -> dict:
    return {"Condition": {operator: {key: value}}}


# (name, policies, action, resource, context, expected decision)
CASES = [
    ("an allow that matches", policy(allow()), "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("no statement matches", policy(allow()), "events:PutEvents", MARKETING_BUS, {},
     "implicit deny"),
    ("an empty policy denies", policy(), "events:PutEvents", SALES_BUS, {}, "implicit deny"),
    ("explicit deny wins in one policy", policy(allow(), deny()), "events:PutEvents",
     SALES_BUS, {}, "explicit deny"),
    ("explicit deny wins across policies", {"a": policy(allow()), "b": policy(deny())},
     "events:PutEvents", SALES_BUS, {}, "explicit deny"),
    ("a deny elsewhere does not matter", policy(allow(), deny(resource=MARKETING_BUS)),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("wildcard in an action", policy(allow("events:Put*")), "events:PutEvents", SALES_BUS, {},
     "allowed"),
    ("actions are case-insensitive", policy(allow("EVENTS:putevents")), "events:PutEvents",
     SALES_BUS, {}, "allowed"),
    ("a service's wildcard stays in its service", policy(allow("events:*", "*")),
     "sqs:SendMessage", QUEUE, {}, "implicit deny"),
    ("a lone * is every action", policy(allow("*", "*")), "sqs:SendMessage", QUEUE, {},
     "allowed"),
    ("wildcard in a resource",
     policy(allow(resource="arn:aws:events:*:*:event-bus/Sales*")), "events:PutEvents",
     SALES_BUS, {}, "allowed"),
    ("a resource wildcard that does not cover",
     policy(allow(resource="arn:aws:events:*:*:event-bus/Sales*")), "events:PutEvents",
     MARKETING_BUS, {}, "implicit deny"),
    ("? is one character", policy(allow(resource=SALES_BUS.replace("Sales", "Sale?"))),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("resources are case-sensitive", policy(allow(resource=SALES_BUS.lower())),
     "events:PutEvents", SALES_BUS, {}, "implicit deny"),
    ("a list of actions", policy(allow(["events:DescribeEventBus", "events:PutEvents"]))
     , "events:DescribeEventBus", SALES_BUS, {}, "allowed"),
    ("NotAction allows all but", policy({"Effect": "Allow", "NotAction": "events:Delete*",
                                         "Resource": "*"}),
     "events:DeleteEventBus", SALES_BUS, {}, "implicit deny"),
    ("NotAction allows the others", policy({"Effect": "Allow", "NotAction": "events:Delete*",
                                            "Resource": "*"}),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("Deny with NotAction denies everything else",
     policy(allow("*", "*"), {"Effect": "Deny", "NotAction": "events:PutEvents",
                              "Resource": "*"}),
     "events:DeleteEventBus", SALES_BUS, {}, "explicit deny"),
    ("NotResource", policy({"Effect": "Allow", "Action": "events:PutEvents",
                            "NotResource": MARKETING_BUS}),
     "events:PutEvents", MARKETING_BUS, {}, "implicit deny"),
    ("StringEquals that holds", policy(allow(**when("StringEquals", "events:source",
                                                   "sales.domain"))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
    ("StringEquals that fails", policy(allow(**when("StringEquals", "events:source",
                                                   "sales.domain"))),
     "events:PutEvents", SALES_BUS, {"events:source": "fraud.domain"}, "implicit deny"),
    ("values of a key are OR-ed",
     policy(allow(**when("StringEquals", "events:source", ["a.domain", "sales.domain"]))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
    ("a missing key fails a condition",
     policy(allow(**when("StringEquals", "events:source", "sales.domain"))),
     "events:PutEvents", SALES_BUS, {}, "implicit deny"),
    ("a missing key passes a negated operator",
     policy(allow(**when("StringNotEquals", "events:source", "fraud.domain"))),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("negated operators AND their values",
     policy(allow(**when("StringNotEquals", "events:source", ["a.domain", "sales.domain"]))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "implicit deny"),
    ("IfExists passes when the key is missing",
     policy(allow(**when("StringEqualsIfExists", "events:source", "sales.domain"))),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("IfExists checks a present key",
     policy(allow(**when("StringEqualsIfExists", "events:source", "sales.domain"))),
     "events:PutEvents", SALES_BUS, {"events:source": "fraud.domain"}, "implicit deny"),
    ("StringLike with a wildcard",
     policy(allow(**when("StringLike", "events:source", "sales.*"))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
    ("StringEqualsIgnoreCase",
     policy(allow(**when("StringEqualsIgnoreCase", "events:source", "SALES.DOMAIN"))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
    ("StringNotEqualsIgnoreCase",
     policy(allow(**when("StringNotEqualsIgnoreCase", "events:source", "FRAUD.DOMAIN"))),
     "events:PutEvents", SALES_BUS, {"events:source": "fraud.domain"}, "implicit deny"),
    ("StringNotLike",
     policy(allow(**when("StringNotLike", "events:source", "fraud.*"))),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
    ("ArnNotLike",
     policy(allow("sqs:SendMessage", QUEUE,
                  **when("ArnNotLike", "aws:SourceArn", "arn:aws:events:*:*:rule/Fraud*"))),
     "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE}, "allowed"),
    ("ArnEquals on aws:SourceArn",
     policy(allow("sqs:SendMessage", QUEUE, **when("ArnEquals", "aws:SourceArn", RULE))),
     "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE}, "allowed"),
    ("ArnLike with a wildcard",
     policy(allow("sqs:SendMessage", QUEUE,
                  **when("ArnLike", "aws:SourceArn", RULE.rsplit("/", 1)[0] + "/*"))),
     "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE}, "allowed"),
    ("ArnNotEquals denies other rules",
     policy(allow("sqs:SendMessage", QUEUE),
            deny("sqs:SendMessage", QUEUE, **when("ArnNotEquals", "aws:SourceArn", RULE))),
     "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE + "-other"}, "explicit deny"),
    ("Bool: deny requests without TLS",
     policy(allow(), deny("*", "*", **when("Bool", "aws:SecureTransport", "false"))),
     "events:PutEvents", SALES_BUS, {"aws:SecureTransport": False}, "explicit deny"),
    ("Null: true when the key is absent",
     policy(allow(**when("Null", "aws:PrincipalOrgID", "true"))),
     "events:PutEvents", SALES_BUS, {}, "allowed"),
    ("Null: false when the key is present",
     policy(allow(**when("Null", "aws:PrincipalOrgID", "true"))),
     "events:PutEvents", SALES_BUS, {"aws:PrincipalOrgID": "o-1"}, "implicit deny"),
    ("keys of one operator are AND-ed",
     policy(allow(Condition={"StringEquals": {"events:source": "sales.domain",
                                               "events:detail-type": "SaleRecorded"}})),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain",
                                     "events:detail-type": "SaleDeleted"}, "implicit deny"),
    ("operators are AND-ed",
     policy(allow(Condition={"StringEquals": {"events:source": "sales.domain"},
                             "Bool": {"aws:SecureTransport": "true"}})),
     "events:PutEvents", SALES_BUS, {"events:source": "sales.domain",
                                     "aws:SecureTransport": True}, "allowed"),
    ("a policy variable takes the request's value",
     policy(allow("events:PutRule", "*",
                  **when("StringEquals", "events:creatorAccount", "${aws:PrincipalAccount}"))),
     "events:PutRule", RULE, {"events:creatorAccount": ACCOUNT,
                              "aws:PrincipalAccount": ACCOUNT}, "allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policies", "action", "resource", "context", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_evaluator_follows_awss_documented_logic(policies, action, resource, context, expected):
    decision = check_access(policies, action, resource, context)

    assert decision.decision == expected
    assert decision.allowed is (expected == "allowed")
    assert decision.evaluated_by == "meshkit evaluator"


def test_the_deciding_statement_and_the_reason_are_named():
    decision = check_access(
        {"sales-producer": mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")},
        "events:PutEvents",
        SALES_BUS,
        {"events:source": "sales.domain"},
    )
    assert decision.statement == "PublishOwnEvents of sales-producer"
    assert "allows events:PutEvents" in decision.reason

    unnamed = check_access(policy(allow(), deny()), "events:PutEvents", SALES_BUS)
    assert unnamed.statement == "#2 of policy"
    assert "a Deny always wins" in unnamed.reason


@pytest.mark.parametrize(
    "statement",
    [
        allow(**when("NumericLessThan", "aws:MultiFactorAuthAge", "3600")),
        allow(**when("ForAnyValue:StringEquals", "aws:TagKeys", ["team"])),
        allow(**when("DateGreaterThan", "aws:CurrentTime", "2026-01-01T00:00:00Z")),
        {"Effect": "Allow", "NotPrincipal": {"AWS": "*"}, "Action": "*", "Resource": "*"},
    ],
)
def test_what_the_evaluator_does_not_support_is_an_error_never_a_silent_allow(statement):
    with pytest.raises(UnsupportedConditionError, match=r"simulate_custom_policy|NotPrincipal"):
        check_access(policy(statement), "events:PutEvents", SALES_BUS, {})


# -- resource policies and accounts -------------------------------------------------------------

PRODUCER = f"arn:aws:iam::{OTHER}:user/sales-producer"
SAME_ACCOUNT_PRODUCER = f"arn:aws:iam::{ACCOUNT}:role/sales-producer"


def central_bus_policy(**kwargs) -> dict:
    return mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], **kwargs)


def test_across_accounts_both_the_caller_and_the_bus_must_allow():
    both = check_access(
        policy(allow(resource="*")),
        "events:PutEvents",
        SALES_BUS,
        {"events:source": "sales.domain"},
        resource_policy=central_bus_policy(sources=["sales.domain"]),
        principal=PRODUCER,
    )
    only_caller = check_access(
        policy(allow(resource="*")),
        "events:PutEvents",
        SALES_BUS,
        {"events:source": "fraud.domain"},
        resource_policy=central_bus_policy(sources=["sales.domain"]),
        principal=PRODUCER,
    )
    only_bus = check_access(
        policy(),
        "events:PutEvents",
        SALES_BUS,
        {"events:source": "sales.domain"},
        resource_policy=central_bus_policy(sources=["sales.domain"]),
        principal=PRODUCER,
    )

    assert both.allowed
    assert (only_caller.decision, only_bus.decision) == ("implicit deny", "implicit deny")
    assert "the resource policy does not" in only_caller.reason
    assert "the caller's policies does not" in only_bus.reason


def test_within_one_account_the_resource_policy_alone_can_allow():
    same_account_bus = mk.iam.bus_policy(SALES_BUS, publisher_accounts=[ACCOUNT])

    decision = check_access(
        policy(), "events:PutEvents", SALES_BUS, resource_policy=same_account_bus,
        principal=SAME_ACCOUNT_PRODUCER,
    )  # fmt: skip

    assert decision.allowed and decision.statement.endswith("of resource policy")


def test_a_deny_in_the_resource_policy_beats_the_callers_allow():
    bus = policy({"Effect": "Deny", "Principal": "*", "Action": "events:PutEvents",
                  "Resource": SALES_BUS})  # fmt: skip

    decision = check_access(
        policy(allow()), "events:PutEvents", SALES_BUS, resource_policy=bus,
        principal=SAME_ACCOUNT_PRODUCER,
    )  # fmt: skip

    assert decision.decision == "explicit deny"


def test_an_organization_wide_bus_policy_admits_only_the_organization():
    bus = mk.iam.bus_policy(SALES_BUS, organization_id="o-mesh1234", sources=["sales.domain"])
    context = {"events:source": "sales.domain"}

    inside = check_access(
        policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
        {**context, "aws:PrincipalOrgID": "o-mesh1234"}, resource_policy=bus, principal=PRODUCER,
    )  # fmt: skip
    outside = check_access(
        policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
        {**context, "aws:PrincipalOrgID": "o-other"}, resource_policy=bus, principal=PRODUCER,
    )  # fmt: skip

    assert inside.allowed and not outside.allowed


def test_a_queue_policy_admits_eventbridge_for_its_rule_only():
    queue = mk.subscriptions.queue_policy(QUEUE, RULE)

    ours = check_access(
        policy(), "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE}, resource_policy=queue,
        principal="events.amazonaws.com",
    )  # fmt: skip
    theirs = check_access(
        policy(), "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE + "-x"},
        resource_policy=queue, principal="events.amazonaws.com",
    )  # fmt: skip

    assert ours.allowed and not theirs.allowed


def test_rule_accounts_may_manage_only_their_own_rules():
    bus = mk.iam.bus_policy(SALES_BUS, rule_accounts=[OTHER])
    kwargs = dict(resource_policy=bus, principal=f"arn:aws:iam::{OTHER}:role/marketing")

    own = check_access(policy(allow("events:PutRule", "*")), "events:PutRule", RULE,
                       {"events:creatorAccount": OTHER}, **kwargs)  # fmt: skip
    foreign = check_access(policy(allow("events:PutRule", "*")), "events:PutRule", RULE,
                           {"events:creatorAccount": ACCOUNT}, **kwargs)  # fmt: skip

    assert own.allowed and not foreign.allowed


# -- builders and lint --------------------------------------------------------------------------


def generated_policies() -> dict[str, dict]:
    where = {"account": ACCOUNT, "region": "us-west-2"}
    return {
        "sales-producer": mk.iam.producer_policy("sales", **where),
        "marketing-consumer": mk.iam.consumer_policy("marketing", **where),
        "marketing-consumer-listed": mk.iam.consumer_policy("marketing", queue_arns=[QUEUE]),
        "platform-admin": mk.iam.platform_admin_policy(**where),
        "lambda-trust": mk.iam.trust_policy(service="lambda.amazonaws.com"),
        "central-bus": mk.iam.bus_policy(
            SALES_BUS,
            publisher_accounts=[OTHER],
            sources=["sales.domain"],
            rule_accounts=[OTHER],
        ),
        "org-bus": mk.iam.bus_policy(SALES_BUS, organization_id="o-mesh1234"),
        "queue": mk.subscriptions.queue_policy(QUEUE, RULE),
    }


def test_every_policy_meshkit_generates_is_clean_under_parliament_and_the_mesh_rules():
    findings = mk.iam.lint(generated_policies(), kinds={"platform-admin": "admin"})

    assert findings.empty, findings.to_string()


def test_the_producer_policy_is_the_articles_plus_a_source_condition():
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")
    article = mk.iam.article_policy()

    [article_statement] = article["Statement"]
    assert {s["Action"] for s in producer["Statement"]} == set(article_statement["Action"])
    assert {s["Resource"] for s in producer["Statement"]} == {article_statement["Resource"]}
    assert producer["Statement"][0]["Condition"] == {
        "StringEquals": {"events:source": "sales.domain"}
    }


@pytest.mark.parametrize(
    ("name", "bad", "issue"),
    [
        ("wildcards", policy(allow("events:*", "*")), "PRODUCER_WILDCARD_ACTION"),
        ("any bus", policy(allow(resource="*")), "PRODUCER_WILDCARD_RESOURCE"),
        ("open bus", mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER]),
         "BUS_POLICY_WITHOUT_SOURCE_CONDITION"),
        ("open queue", policy({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                               "Action": "sqs:SendMessage", "Resource": QUEUE}),
         "QUEUE_POLICY_WITHOUT_SOURCE_ARN"),
        ("unknown action", policy(allow("events:PutEvent")), "UNKNOWN_ACTION"),
    ],
)  # fmt: skip
def test_the_linter_flags_what_governance_forbids(name, bad, issue):
    findings = mk.iam.lint({name: bad})

    assert issue in set(findings["issue"]), findings.to_string()


# -- enforcement on the embedded AWS --------------------------------------------------------------

PUBLISH_ANYWHERE = policy(allow(["events:PutEvents", "events:DescribeEventBus"], "*"))


def test_under_enforcement_an_action_outside_the_policy_is_refused(mesh):
    mk.buses.create_domain_bus("sales")
    sale = mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})

    with mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}) as sessions:
        producer = sessions["sales-producer"]
        published = mk.events.publish("SalesEventBus", [sale], boto3_session=producer)
        with pytest.raises(ClientError) as refused:
            producer.client("events").delete_event_bus(Name="SalesEventBus")

    assert published.sent == 1
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "not authorized to perform: events:DeleteEventBus" in str(refused.value)
    assert list(mk.buses.list_domain_buses()["bus"]) == ["SalesEventBus"]  # off again


def test_under_enforcement_sqs_resources_are_checked(mesh):
    mk.buses.create_domain_bus("sales")
    pattern = {"source": ["sales.domain"]}
    marketing = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=pattern)
    fraud = mk.subscriptions.subscribe("fraud", bus="SalesEventBus", pattern=pattern)
    reader = mk.iam.consumer_policy("marketing", queue_arns=[marketing.queue_arn])

    with mk.iam.enforcement({"marketing-consumer": reader}) as sessions:
        sqs = sessions["marketing-consumer"].client("sqs")
        own = sqs.receive_message(QueueUrl=marketing.queue_url)
        with pytest.raises(ClientError) as refused:
            sqs.receive_message(QueueUrl=fraud.queue_url)

    assert own["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_enforcement_is_switched_off_even_when_the_block_fails(mesh):
    with pytest.raises(RuntimeError), mk.iam.enforcement({"nobody": policy(deny("*", "*"))}):
        raise RuntimeError("boom")

    assert mk.buses.list_domain_buses().empty  # the default credentials work again


# -- several accounts ---------------------------------------------------------------------------


def test_events_cross_one_account_boundary_per_rule(mesh):
    """sts.assume_role reaches other accounts (moto: any role ARN); a rule on Sales' bus sends to
    the governance account's central bus and to Marketing's bus, one hop each, as AWS allows.
    The bus policies are stored; moto does not enforce them, AWS does."""
    governance = mk.iam.assume_role("arn:aws:iam::111111111111:role/mesh-governance")
    sales = mk.iam.assume_role("arn:aws:iam::222222222222:role/sales-domain")
    marketing = mk.iam.assume_role("arn:aws:iam::333333333333:role/marketing-domain")
    central = mk.buses.create_domain_bus("mesh", name="MeshCentralBus", boto3_session=governance)
    mk.buses.create_domain_bus("sales", boto3_session=sales)
    marketing_bus = mk.buses.create_domain_bus("marketing", boto3_session=marketing)
    admits_sales = mk.iam.bus_policy(
        central, publisher_accounts=["222222222222"], sources=["sales.domain"]
    )
    mk.iam.attach_bus_policy("MeshCentralBus", admits_sales, boto3_session=governance)
    pattern = {"source": ["sales.domain"]}
    for name, destination in (("to-central", central), ("to-marketing", marketing_bus)):
        mk.subscriptions.forward("SalesEventBus", destination, pattern=pattern, name=name,
                                 boto3_session=sales)  # fmt: skip
    sub = mk.subscriptions.subscribe("marketing", bus="MarketingEventBus", pattern=pattern,
                                     boto3_session=marketing)  # fmt: skip
    audit = mk.subscriptions.subscribe("mesh", bus="MeshCentralBus", pattern=pattern,
                                       name="mesh-audit", boto3_session=governance)  # fmt: skip

    mk.events.publish(
        "SalesEventBus",
        [mk.events.DomainEvent("sales.domain", "SaleDeleted", {"sale_id": "S-1"})],
        boto3_session=sales,
    )

    for session, queue in ((marketing, sub), (governance, audit)):
        [message] = session.client("sqs").receive_message(QueueUrl=queue.queue_url)["Messages"]
        assert json.loads(message["Body"])["detail"]["data"] == {"sale_id": "S-1"}
    assert sub.queue_arn.split(":")[4] == "333333333333"
    stored = governance.client("events").describe_event_bus(Name="MeshCentralBus")["Policy"]
    assert json.loads(stored) == admits_sales


def test_an_implicit_deny_names_the_statement_whose_condition_failed():
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")

    decision = check_access(
        {"sales-producer": producer}, "events:PutEvents", SALES_BUS, {"events:source": "x.domain"}
    )

    assert decision.decision == "implicit deny" and decision.statement is None
    assert decision.reason.startswith("statement PublishOwnEvents of sales-producer would allow")


def test_on_real_aws_check_access_asks_the_policy_simulator(monkeypatch):
    """Offline tests cannot reach AWS: stub IAM and check the question and the answer's mapping."""
    import boto3
    from botocore.stub import ANY, Stubber

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")
    target = mk.sandbox.Target("aws", None, ACCOUNT, "us-west-2", None)
    monkeypatch.setattr(mk.sandbox, "current", lambda: target)
    monkeypatch.setattr(mk._aws, "client", lambda name, session=None: iam)
    expected = {
        "PolicyInputList": [json.dumps(producer)],
        "ActionNames": ["events:PutEvents"],
        "ResourceArns": [SALES_BUS],
        "ContextEntries": [
            {"ContextKeyName": "events:source", "ContextKeyValues": ["fraud.domain"],
             "ContextKeyType": "string"}
        ],
        "CallerArn": PRODUCER,
        "ResourcePolicy": ANY,
    }  # fmt: skip
    answer = {
        "EvaluationResults": [
            {
                "EvalActionName": "events:PutEvents",
                "EvalDecision": "implicitDeny",
                "MatchedStatements": [],
            }
        ]
    }

    with Stubber(iam) as stub:
        stub.add_response("simulate_custom_policy", answer, expected)
        decision = check_access(
            {"sales-producer": producer}, "events:PutEvents", SALES_BUS,
            {"events:source": "fraud.domain"}, resource_policy=central_bus_policy(),
            principal=PRODUCER,
        )  # fmt: skip

    assert (decision.decision, decision.allowed) == ("implicit deny", False)
    assert decision.evaluated_by == "IAM policy simulator"


# -- a grid of decisions ------------------------------------------------------------------------

FRAUD_QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:fraud-sales"
GUARDRAIL = policy(deny(["events:DeleteEventBus", "sqs:DeleteQueue"], "*"))


def test_the_grid_asks_each_principal_each_action_on_the_resources_of_its_service():
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")
    consumer = mk.iam.consumer_policy("marketing", queue_arns=[QUEUE])
    principals = {
        "sales-producer": {"sales-producer": producer, "guardrail": GUARDRAIL},
        "marketing-consumer": [consumer, GUARDRAIL],
    }
    actions = ["events:PutEvents", "events:DeleteEventBus", "sqs:ReceiveMessage"]
    resources = [SALES_BUS, MARKETING_BUS, QUEUE, FRAUD_QUEUE]

    grid = mk.iam.access_grid(principals, actions, resources, {"events:source": "sales.domain"})

    assert list(grid.columns) == ["principal", "action", "resource", "decision", "allowed",
                                  "statement"]  # fmt: skip
    assert len(grid) == 2 * (2 * 2 + 1 * 2), "no events action asked of a queue, nor vice versa"
    assert list(grid["principal"].unique()) == list(principals), "in the order given"
    got = {(row.principal, row.action, row.resource): row.decision for row in grid.itertuples()}
    assert got[("sales-producer", "events:PutEvents", SALES_BUS)] == "allowed"
    assert got[("sales-producer", "events:PutEvents", MARKETING_BUS)] == "implicit deny"
    assert got[("sales-producer", "events:DeleteEventBus", SALES_BUS)] == "explicit deny"
    assert got[("marketing-consumer", "sqs:ReceiveMessage", QUEUE)] == "allowed"
    assert got[("marketing-consumer", "sqs:ReceiveMessage", FRAUD_QUEUE)] == "implicit deny"
    for row in grid.itertuples():  # each cell is check_access's answer
        expected = check_access(principals[row.principal], row.action, row.resource,
                                {"events:source": "sales.domain"})  # fmt: skip
        assert (row.decision, row.allowed, row.statement) == (
            expected.decision,
            expected.allowed,
            expected.statement,
        )


def test_the_grid_takes_resource_policies_and_principals_across_accounts():
    publisher = policy(allow(resource="*"))
    outsider = "arn:aws:iam::333333333333:user/marketing-producer"

    grid = mk.iam.access_grid(
        {"sales": publisher, "marketing": publisher},
        ["events:PutEvents"],
        [SALES_BUS],
        {"events:source": "sales.domain"},
        resource_policies={SALES_BUS: central_bus_policy(sources=["sales.domain"])},
        principal_arns={"sales": PRODUCER, "marketing": outsider},
    )

    assert list(grid["decision"]) == ["allowed", "implicit deny"]
    assert grid.loc[0, "statement"] == f"PutEventsFrom{OTHER} of resource policy"


def test_the_grid_asks_a_star_resource_of_every_action():
    grid = mk.iam.access_grid({"admin": policy(allow("*", "*"))}, ["events:PutEvents",
                              "sqs:ReceiveMessage"], ["*"])  # fmt: skip

    assert list(grid["allowed"]) == [True, True]
