"""Governance: the evaluator against AWS's documented evaluation logic, builders, lint, enforcement.

The evaluator cases follow the IAM User Guide: "Policy evaluation logic", "IAM JSON policy
elements: Condition operators" (missing keys, negated operators, ...IfExists, Null), "NotAction",
"NotResource", "Policy variables" and "Cross-account policy evaluation logic".
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from iam_policies import ACCOUNT, OTHER, QUEUE, RULE, SALES_BUS, allow, deny, policy, when

import meshkit as mk
from meshkit.exceptions import (
    ConflictError,
    NotFoundError,
    NotMeshkitResourceError,
    ValidationError,
)
from meshkit.iam import check_access

# -- resource policies and accounts -------------------------------------------------------------


def central_bus_policy(**kwargs) -> dict:
    return mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], **kwargs)


# -- builders and lint --------------------------------------------------------------------------


def generated_policies() -> dict[str, dict]:
    where = {"account": ACCOUNT, "region": "us-west-2"}
    return {
        "sales-producer": mk.iam.producer_policy("sales", **where),
        "marketing-consumer": mk.iam.consumer_policy("marketing", producers=["sales"], **where),
        "marketing-consumer-listed": mk.iam.consumer_policy("marketing", queue_arns=[QUEUE]),
        "platform-admin": mk.iam.platform_admin_policy(**where),
        "lambda-trust": mk.iam.trust_policy(service="lambda.amazonaws.com"),
        "central-bus": mk.iam.bus_policy(
            SALES_BUS,
            publisher_accounts=[OTHER],
            sources=["sales.domain"],
            rule_accounts=[OTHER],
        ),
        "org-bus": mk.iam.bus_policy(SALES_BUS, organization_id="o-a1b2c3d4e5"),
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


# -- a grid of decisions ------------------------------------------------------------------------

FRAUD_QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:fraud-sales"
GUARDRAIL = policy(deny(["events:DeleteEventBus", "sqs:DeleteQueue"], "*"))


# -- issue 10, point 3: builders name exactly what they grant, and refuse bad input ---------------

MARKETING_EVENTS = {"source": ["marketing.domain"]}


def test_consumer_policy_grants_no_queue_of_a_domain_whose_name_extends_its_own(mesh):
    """Given consumers "sales" and "sales-ops" subscribed to Marketing's events, when Sales'
    policy is made, then Sales reads its own queues (a custom-named one too) and none of Sales
    Ops'. In a resource ARN ``*`` matches any characters, ``-`` included, so ``sales-*`` would
    cover ``sales-ops-marketing``
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
    """
    mk.buses.create_domain_bus("marketing")
    sales = mk.subscriptions.subscribe("sales", bus="MarketingEventBus", pattern=MARKETING_EVENTS)
    ledger = mk.subscriptions.subscribe(
        "sales", bus="MarketingEventBus", pattern=MARKETING_EVENTS, name="ledger"
    )
    ops = mk.subscriptions.subscribe("sales-ops", bus="MarketingEventBus", pattern=MARKETING_EVENTS)

    reader = mk.iam.consumer_policy("sales")

    def decision(queue_arn: str) -> str:
        return check_access({"sales": reader}, "sqs:ReceiveMessage", queue_arn).decision

    assert ops.queue_arn.endswith(":sales-ops-marketing")
    for own in (sales.queue_arn, sales.dlq_arn, ledger.queue_arn, ledger.dlq_arn):
        assert decision(own) == "allowed", own
    for theirs in (ops.queue_arn, ops.dlq_arn):
        assert decision(theirs) == "implicit deny", theirs


def test_consumer_policy_names_its_producers_queues_without_asking_aws():
    """Given the producers a consumer subscribes to, when its policy is made, then it names the
    queue and DLQ ``subscribe`` gives each by default, and nothing that merely shares a prefix."""
    reader = mk.iam.consumer_policy(
        "sales", producers=["marketing"], account=ACCOUNT, region="us-west-2"
    )
    own = f"arn:aws:sqs:us-west-2:{ACCOUNT}:sales-marketing"

    assert check_access(reader, "sqs:ReceiveMessage", own).allowed
    assert check_access(reader, "sqs:DeleteMessage", own + "-dlq").allowed
    assert not check_access(
        reader, "sqs:ReceiveMessage", f"arn:aws:sqs:us-west-2:{ACCOUNT}:sales-ops-marketing"
    ).allowed


def test_consumer_policy_of_a_domain_without_subscriptions_says_how_to_name_its_queues(mesh):
    with pytest.raises(
        mk.iam.DomainQueuesNotFoundError, match=r"no queues.*subscribe.*producers=.*queue_arns="
    ) as refused:
        mk.iam.consumer_policy("sales")

    assert isinstance(refused.value, NotFoundError)  # AWS was asked, and knows no such queue


def test_bus_policy_refuses_a_string_where_it_takes_a_list_of_accounts():
    """Given one account as a bare string, when the bus policy is made, then it is refused:
    iterating "111122223333" would admit accounts "1", "2" and "3"."""
    with pytest.raises(ValidationError, match=r"publisher_accounts.*\['111122223333'\]"):
        mk.iam.bus_policy(SALES_BUS, publisher_accounts="111122223333")


def test_bus_policy_admits_each_account_once():
    bus = mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER, OTHER], sources=["sales.domain"])

    assert [s["Sid"] for s in bus["Statement"]] == [f"PutEventsFrom{OTHER}"]


def _role_policy() -> dict:
    return policy(allow())


# (id, call, words the message must hold: the field and the fix)
BAD_BUILDER_INPUTS = [
    ("publisher_accounts a string",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts="111122223333"),
     ["publisher_accounts", "list", "['111122223333']"]),
    ("publisher_accounts a dict",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts={OTHER: True}),
     ["publisher_accounts", "list"]),
    ("publisher account too short",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=["12345"]),
     ["publisher_accounts[0]", "12 digits"]),
    ("publisher account an int",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=[222222222222]),
     ["publisher_accounts[0]", "string", "leading zeros"]),
    ("publisher account an ARN",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=[f"arn:aws:iam::{OTHER}:root"]),
     ["publisher_accounts[0]", "12 digits"]),
    ("rule_accounts a string",
     lambda: mk.iam.bus_policy(SALES_BUS, rule_accounts=OTHER), ["rule_accounts", "list"]),
    ("sources a string",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], sources="sales.domain"),
     ["sources", "list", "['sales.domain']"]),
    ("an empty source",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], sources=[""]),
     ["sources[0]", "empty"]),
    ("a wildcard source",
     lambda: mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], sources=["sales.*"]),
     ["sources[0]", "literally", "list each source"]),
    ("organization id too short",
     lambda: mk.iam.bus_policy(SALES_BUS, organization_id="o-mesh1234"),
     ["organization_id", "'o-' followed by 10 to 32"]),
    ("organization id a list",
     lambda: mk.iam.bus_policy(SALES_BUS, organization_id=["o-a1b2c3d4e5"]),
     ["organization_id", "string"]),
    ("a bus name for bus_arn",
     lambda: mk.iam.bus_policy("SalesEventBus", publisher_accounts=[OTHER]),
     ["bus_arn", "arn:aws:events:<region>:<account>:event-bus/<name>"]),
    ("bus_arn None", lambda: mk.iam.bus_policy(None, publisher_accounts=[OTHER]),
     ["bus_arn", "event-bus/<name>"]),
    ("nobody admitted", lambda: mk.iam.bus_policy(SALES_BUS),
     ["publisher_accounts=", "organization_id=", "rule_accounts="]),
    ("producer account too short",
     lambda: mk.iam.producer_policy("sales", account="12345", region="us-west-2"),
     ["account", "12 digits"]),
    ("producer account an int",
     lambda: mk.iam.producer_policy("sales", account=int(ACCOUNT), region="us-west-2"),
     ["account", "string"]),
    ("producer region with spaces",
     lambda: mk.iam.producer_policy("sales", account=ACCOUNT, region="us west 2"),
     ["region", "us-west-2"]),
    ("queue_arns a string",
     lambda: mk.iam.consumer_policy("sales", queue_arns=QUEUE), ["queue_arns", "list"]),
    ("queue_arns empty", lambda: mk.iam.consumer_policy("sales", queue_arns=[]),
     ["queue_arns", "empty", "producers="]),
    ("a queue ARN with a wildcard",
     lambda: mk.iam.consumer_policy(
         "sales", queue_arns=[f"arn:aws:sqs:us-west-2:{ACCOUNT}:sales-*"]),
     ["queue_arns[0]", "wildcard", "sales-ops"]),
    ("a bus ARN for a queue ARN",
     lambda: mk.iam.consumer_policy("sales", queue_arns=[SALES_BUS]),
     ["queue_arns[0]", "arn:aws:sqs:<region>:<account>:<queue name>"]),
    ("producers a string",
     lambda: mk.iam.consumer_policy("sales", producers="marketing", account=ACCOUNT,
                                    region="us-west-2"),
     ["producers", "list", "['marketing']"]),
    ("a producer that is no domain",
     lambda: mk.iam.consumer_policy("sales", producers=["9 lives!"], account=ACCOUNT,
                                    region="us-west-2"),
     ["producers[0]", "domain"]),
    ("producers and queue_arns",
     lambda: mk.iam.consumer_policy("sales", producers=["marketing"], queue_arns=[QUEUE]),
     ["producers=", "queue_arns=", "not both"]),
    ("admin region not a string",
     lambda: mk.iam.platform_admin_policy(account=ACCOUNT, region=2), ["region", "us-west-2"]),
    ("trusted account too short", lambda: mk.iam.trust_policy(account="1234"),
     ["account", "12 digits"]),
    ("trusted service without its domain", lambda: mk.iam.trust_policy(service="lambda"),
     ["service", "lambda.amazonaws.com"]),
    ("article bus with a space", lambda: mk.iam.article_policy(bus="Sales Bus"),
     ["bus name", "'Sales-Bus'"]),
    ("role purpose with a slash",
     lambda: mk.iam.create_domain_role("sales", "producer/v2", _role_policy()),
     ["purpose", "letters, digits"]),
    ("role name too long",
     lambda: mk.iam.create_domain_role("sales", "p" * 60, _role_policy()),
     ["role name", "64"]),
    ("role policy a string",
     lambda: mk.iam.create_domain_role("sales", "producer", "allow everything"),
     ["policy", "dict"]),
    ("bus policy to attach a string",
     lambda: mk.iam.attach_bus_policy("SalesEventBus", json.dumps(policy())),
     ["policy", "dict"]),
    ("a bus policy statement without a Sid",
     lambda: mk.iam.attach_bus_policy("SalesEventBus", policy(
         {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "events:PutEvents",
          "Resource": SALES_BUS})),
     ["Sid", "statement #1"]),
    ("merge and replace at once",
     lambda: mk.iam.attach_bus_policy("SalesEventBus", central_bus_policy(), merge=True,
                                      replace=True),
     ["merge=True", "replace=True"]),
    ("enforcement users a string", lambda: mk.iam.enforcement("sales-producer").__enter__(),
     ["users", "dict of user name -> policy"]),
    ("an IAM user name with a space",
     lambda: mk.iam.enforcement({"sales producer": _role_policy()}).__enter__(),
     ["user name", "'sales producer'"]),
    # policies no JSON encoder could send are refused before any call
    ("a role policy nested 5000 deep",
     lambda: mk.iam.create_domain_role("sales", "producer", policy(nested(5000))),
     ["policy: ['Statement'][0]", "nests more than 16 levels", "IAM's grammar"]),
    ("a trust policy with a 5001-digit Sid",
     lambda: mk.iam.create_domain_role("sales", "producer", _role_policy(),
                                       trust=policy({"Sid": HUGE})),
     ["trust: ['Statement'][0]['Sid']", "more than 4300 digits", "as a string"]),
    ("a bus policy containing itself",
     lambda: mk.iam.attach_bus_policy("SalesEventBus", _itself()),
     ["policy: ['Statement']", "contains itself"]),
    ("an enforced policy with a 5001-digit condition",
     lambda: mk.iam.enforcement({"sales-producer": policy(
         allow(**when("NumericLessThan", "s3:max-keys", HUGE)))}).__enter__(),
     ["users['sales-producer']", "more than 4300 digits"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "words"),
    [case[1:] for case in BAD_BUILDER_INPUTS],
    ids=[case[0] for case in BAD_BUILDER_INPUTS],
)
def test_bad_input_to_a_policy_builder_is_refused_naming_the_field_and_the_fix(call, words):
    """Account ids are 12 digits (https://docs.aws.amazon.com/accounts/latest/reference/
    manage-acct-identifiers.html); an organization id is "o-" and 10 to 32 lower-case letters or
    digits (https://docs.aws.amazon.com/organizations/latest/APIReference/API_Organization.html);
    IAM names use letters, digits and ``+=,.@_-``, up to 64 characters for users and roles
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
    with pytest.raises(ValidationError) as refused:
        call()

    for word in words:
        assert word in str(refused.value), str(refused.value)


# -- issue 10, point 3: lint sees public access and reads malformed policies ----------------------


def statement(principal, action, resource=QUEUE, **extra) -> dict:
    return {"Sid": "Open", "Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": resource, **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("principal", "action", "resource"),
    [
        ({"AWS": "*"}, "sqs:SendMessage", QUEUE),
        ("*", "sqs:SendMessage", QUEUE),
        ({"AWS": [f"arn:aws:iam::{OTHER}:root", "*"]}, "sqs:SendMessage", QUEUE),
        ({"AWS": "*"}, "events:PutEvents", SALES_BUS),
        ("*", "sqs:ReceiveMessage", QUEUE),
    ],
)
def test_lint_reports_a_resource_anyone_on_the_internet_may_use(principal, action, resource):
    """A Principal of "*" or {"AWS": "*"} with no condition on who calls grants everyone,
    anonymous callers included
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
    "All principals"); SQS's best practice is that queues are not publicly accessible
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html)."""
    findings = mk.iam.lint({"open": policy(statement(principal, action, resource))})

    public = findings[findings["issue"] == "PUBLIC_ACCESS"]
    assert list(public["severity"]) == ["CRITICAL"], findings.to_string()
    assert "anyone" in public.iloc[0]["detail"] and action in public.iloc[0]["detail"]
    assert "aws:PrincipalOrgID" in public.iloc[0]["detail"]


@pytest.mark.parametrize(
    ("condition", "public"),
    [
        ({"StringEquals": {"events:source": "sales.domain"}}, True),  # what, not who
        ({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, False),
        ({"StringEquals": {"AWS:PrincipalOrgId": "o-a1b2c3d4e5"}}, False),  # keys: any case
        ({"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, True),
        ({"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, True),
        ({"StringLike": {"aws:SourceAccount": "*"}}, True),
        ({"ArnEquals": {"aws:SourceArn": RULE}}, False),
    ],
)
def test_only_a_condition_on_who_calls_makes_a_public_principal_private(condition, public):
    """IAM Access Analyzer's rule: a statement for "*" is public unless a condition limits the
    callers: aws:PrincipalOrgID, aws:SourceArn, aws:SourceAccount and the like, with a positive
    operator and a value without wildcards
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-resources.html)."""
    bus = policy(statement({"AWS": "*"}, "events:PutEvents", SALES_BUS, Condition=condition))

    findings = mk.iam.lint({"bus": bus})

    assert ("PUBLIC_ACCESS" in set(findings["issue"])) is public, findings.to_string()


def test_lint_reports_notprincipal_with_allow_and_a_wildcard_action_on_a_resource_policy():
    """NotPrincipal with Allow admits every principal not listed, anonymous ones included
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html)."""
    everyone_else = {"Sid": "AllBut", "Effect": "Allow",
                     "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                     "Action": "sqs:SendMessage", "Resource": QUEUE}  # fmt: skip
    every_action = statement({"AWS": f"arn:aws:iam::{OTHER}:root"}, "*")

    findings = mk.iam.lint({"queue": policy(everyone_else, every_action)})

    got = dict(zip(findings["issue"], findings["severity"], strict=True))
    assert got.get("NOT_PRINCIPAL_WITH_ALLOW") == "CRITICAL", findings.to_string()
    assert got.get("RESOURCE_POLICY_WILDCARD_ACTION") == "HIGH", findings.to_string()


def test_lint_reads_a_policy_given_as_a_json_string_as_the_policy_itself():
    open_queue = policy(statement({"AWS": "*"}, "sqs:SendMessage"))

    as_text = mk.iam.lint({"open": json.dumps(open_queue)})
    as_dict = mk.iam.lint({"open": open_queue})

    assert as_text.equals(as_dict) and not as_text.empty


GOOD = allow("sqs:ReceiveMessage", QUEUE)
HUGE = 10**5000  # more digits than Python converts to text (4300)


def nested(depth: int) -> list:
    """``[[[...]]]``, ``depth`` lists deep, built without recursion."""
    inner: list = []
    for _ in range(depth):
        inner = [inner]
    return inner


def _itself() -> dict:
    looped = dict(GOOD)
    looped["Condition"] = {"StringEquals": {"aws:SourceArn": [looped]}}
    return policy(looped)


# (id, policy, issue, words of the detail)
MALFORMED_POLICIES = [
    ("not JSON", '{"Statement": [', "MALFORMED_POLICY", ["JSON", "dict"]),
    ("None", None, "MALFORMED_POLICY", ["NoneType", "dict"]),
    ("a list of statements", [GOOD], "MALFORMED_POLICY", ["list", '{"Version"']),
    ("no Statement", {"Version": "2012-10-17"}, "MALFORMED_POLICY", ["Statement"]),
    ("a statement that is a string", policy("Allow everything"), "MALFORMED_STATEMENT",
     ["#1", "str"]),
    ("Effect in lower case", policy({**GOOD, "Effect": "allow"}), "MALFORMED_STATEMENT",
     ["Effect", "'Allow' or 'Deny'"]),
    ("an Action that is a number", policy({**GOOD, "Action": 5}), "MALFORMED_STATEMENT",
     ["Action", "string"]),
    ("no Action", policy({"Effect": "Allow", "Resource": QUEUE}), "MALFORMED_STATEMENT",
     ["Action or NotAction"]),
    ("a Condition that is a list", policy({**GOOD, "Condition": ["aws:SourceArn"]}),
     "MALFORMED_STATEMENT", ["Condition", "operator"]),
    ("an identity statement without Resource",
     policy({"Effect": "Allow", "Action": "sqs:ReceiveMessage"}), "MALFORMED_STATEMENT",
     ["Resource"]),
    ("a resource policy statement without Principal",
     policy(statement({"AWS": OTHER}, "sqs:SendMessage"), GOOD), "MALFORMED_STATEMENT",
     ["#2", "Principal"]),
    ("a Principal that is a number", policy(statement({"AWS": 5}, "sqs:SendMessage")),
     "MALFORMED_STATEMENT", ["Principal"]),
    # beyond any policy: a finding too, never a raw error
    ("JSON nested beyond reason", "[" * 100_000, "MALFORMED_POLICY", ["not valid JSON", "dict"]),
    ("a condition number of 5001 digits",
     policy(allow("sqs:ReceiveMessage", QUEUE, **when("NumericLessThan", "s3:max-keys", HUGE))),
     "MALFORMED_POLICY", ["['NumericLessThan']['s3:max-keys']", "more than 4300 digits",
                         "as a string"]),
    ("an Action of 5001 digits", policy({**GOOD, "Action": HUGE}), "MALFORMED_POLICY",
     ["['Action']", "more than 4300 digits"]),
    ("a Sid of 5001 digits", policy(statement({"AWS": OTHER}, "sqs:SendMessage", Sid=HUGE)),
     "MALFORMED_POLICY", ["['Sid']", "more than 4300 digits"]),
    ("a condition value nested 5000 deep",
     policy({**GOOD, **when("StringEquals", "aws:SourceArn", nested(5000))}), "MALFORMED_POLICY",
     ["['Condition']", "nests more than 16 levels", "IAM's grammar"]),
    ("a Principal nested 5000 deep", policy(statement({"AWS": nested(5000)}, "sqs:SendMessage")),
     "MALFORMED_POLICY", ["['Principal']", "nests more than 16 levels"]),
    ("an unknown element nested 5000 deep", {**policy(GOOD), "Extra": nested(5000)},
     "MALFORMED_POLICY", ["['Extra']", "nests more than 16 levels"]),
    ("a statement containing itself", _itself(), "MALFORMED_POLICY",
     ["contains itself", "IAM's grammar"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "issue", "words"),
    [case[1:] for case in MALFORMED_POLICIES],
    ids=[case[0] for case in MALFORMED_POLICIES],
)
def test_bad_input_to_lint_is_a_finding_never_a_crash(bad, issue, words):
    """Effect is "Allow" or "Deny"; a statement has Action or NotAction; an identity policy's
    statement needs Resource, a resource policy's Principal
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    findings = mk.iam.lint({"bad": bad, "good": policy(GOOD)})

    found = findings[findings["issue"] == issue]
    assert list(found["policy"]) == ["bad"], findings.to_string()
    assert found.iloc[0]["severity"] == "CRITICAL"
    for word in words:
        assert word in found.iloc[0]["detail"], found.iloc[0]["detail"]


def test_a_malformed_statement_does_not_hide_a_public_one():
    findings = mk.iam.lint({"queue": policy("junk", statement({"AWS": "*"}, "sqs:SendMessage"))})

    assert set(findings["issue"]) == {"MALFORMED_STATEMENT", "PUBLIC_ACCESS"}


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: mk.iam.lint(policy(GOOD)), ["dict of name -> policy", "{'my-policy': policy}"]),
        (lambda: mk.iam.lint({"p": policy(GOOD)}, kinds={"p": "producr"}),
         ["kinds", "'producer'"]),
        (lambda: mk.iam.lint({"p": policy(GOOD)}, kinds={"p": nested(5000)}),
         ["kinds['p'] is [[", "'producer'"]),
        (lambda: mk.iam.lint({"p": policy(GOOD)}, kinds={HUGE: "producr"}),
         ["kinds[<a number of", "'producer'"]),
        (lambda: mk.iam.lint({"p": policy(GOOD)}, kinds=nested(5000)),
         ["kinds takes a dict", "[["]),
    ],
    ids=["one policy instead of a dict of them", "an unknown kind", "a kind nested 5000 deep",
         "a policy name of 5001 digits", "kinds nested 5000 deep"],
)  # fmt: skip
def test_bad_input_to_lint_arguments_is_refused_naming_the_fix(call, words):
    with pytest.raises(ValidationError) as refused:
        call()

    for word in words:
        assert word in str(refused.value), str(refused.value)


# -- issue 10, point 6: only what meshkit created -------------------------------------------------

LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action":
                "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip


def test_create_domain_role_refuses_a_role_meshkit_did_not_create(mesh):
    """Given a role someone else made, when meshkit is asked for a role of that name, then it
    refuses and leaves the role's trust policy as it was."""
    iam = mesh.session().client("iam", endpoint_url=mesh.endpoint_url)
    theirs = mk.iam.trust_policy(account=OTHER)
    iam.create_role(RoleName="sales-producer", AssumeRolePolicyDocument=json.dumps(theirs))

    with pytest.raises(NotMeshkitResourceError) as refused:
        mk.iam.create_domain_role("sales", "producer", policy(allow()))

    message = str(refused.value)
    assert "sales-producer" in message and "meshkit:workbook" in message
    assert "another purpose" in message and "tag it" in message
    role = iam.get_role(RoleName="sales-producer")["Role"]
    assert role["AssumeRolePolicyDocument"] == theirs
    assert iam.list_role_policies(RoleName="sales-producer")["PolicyNames"] == []


def test_create_domain_role_refuses_another_domains_role_of_the_same_name(mesh):
    mk.iam.create_domain_role("sales-ops", "producer", policy(allow()))

    with pytest.raises(NotMeshkitResourceError, match=r"sales-ops-producer.*domain 'sales-ops'"):
        mk.iam.create_domain_role("sales", "ops-producer", policy(allow()))


def test_create_domain_role_updates_a_role_meshkit_made(mesh):
    arn = mk.iam.create_domain_role("sales", "producer", policy(allow()))
    again = mk.iam.create_domain_role(
        "sales", "producer", policy(allow(resource="*")), trust=mk.iam.trust_policy(account=OTHER)
    )

    iam = mesh.session().client("iam", endpoint_url=mesh.endpoint_url)
    role = iam.get_role(RoleName="sales-producer")["Role"]
    assert again == arn
    assert role["AssumeRolePolicyDocument"] == mk.iam.trust_policy(account=OTHER)
    stored = iam.get_role_policy(RoleName="sales-producer", PolicyName="producer")
    assert stored["PolicyDocument"] == policy(allow(resource="*"))


def test_enforcement_keeps_the_access_keys_it_did_not_create(mesh):
    """Given a meshkit user whose owner added an access key of their own, when enforcement runs
    twice, then that key survives and meshkit's own keys are gone after each block (IAM allows
    two keys per user: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
    iam = mesh.session().client("iam", endpoint_url=mesh.endpoint_url)
    with mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}):
        pass
    assert iam.list_access_keys(UserName="sales-producer")["AccessKeyMetadata"] == []
    own = iam.create_access_key(UserName="sales-producer")["AccessKey"]["AccessKeyId"]

    for _ in range(2):
        with mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}):
            pass

    keys = iam.list_access_keys(UserName="sales-producer")["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [own]


def test_enforcement_refuses_a_user_meshkit_did_not_create(mesh):
    iam = mesh.session().client("iam", endpoint_url=mesh.endpoint_url)
    iam.create_user(UserName="sales-producer")
    theirs = iam.create_access_key(UserName="sales-producer")["AccessKey"]["AccessKeyId"]

    with pytest.raises(NotMeshkitResourceError, match=r"sales-producer.*meshkit:workbook"):
        mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}).__enter__()

    keys = iam.list_access_keys(UserName="sales-producer")["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in keys] == [theirs]
    assert iam.list_user_policies(UserName="sales-producer")["PolicyNames"] == []
    assert mk.buses.list_domain_buses().empty  # enforcement was never switched on


def test_enforcement_refuses_a_meshkit_user_whose_owner_holds_both_keys(mesh):
    iam = mesh.session().client("iam", endpoint_url=mesh.endpoint_url)
    with mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}):
        pass
    theirs = [iam.create_access_key(UserName="sales-producer")["AccessKey"]["AccessKeyId"]
              for _ in range(2)]  # fmt: skip

    with pytest.raises(
        mk.iam.TooManyAccessKeysError, match=r"sales-producer has 2 access keys.*delete one"
    ) as refused:
        mk.iam.enforcement({"sales-producer": PUBLISH_ANYWHERE}).__enter__()

    assert isinstance(refused.value, ConflictError)  # the user's state stops it; nothing changed

    keys = iam.list_access_keys(UserName="sales-producer")["AccessKeyMetadata"]
    assert sorted(key["AccessKeyId"] for key in keys) == sorted(theirs)


def _bus_statements(mesh, bus: str = "SalesEventBus") -> dict[str, dict]:
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    stored = json.loads(events.describe_event_bus(Name=bus).get("Policy", '{"Statement": []}'))
    return {s["Sid"]: s for s in stored["Statement"]}


def _their_statement(mesh) -> None:
    """A partner's statement, put on the bus by someone else (plain PutPermission)."""
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.put_permission(EventBusName="SalesEventBus", Action="events:PutEvents",
                          Principal="444444444444", StatementId="LegacyPartner")  # fmt: skip


def test_attach_bus_policy_refuses_to_drop_statements_meshkit_did_not_write(mesh):
    """PutPermission with a Policy sets the bus's policy document
    (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutPermission.html):
    attaching meshkit's would silently drop a partner's statement."""
    bus = mk.buses.create_domain_bus("sales")
    _their_statement(mesh)

    with pytest.raises(mk.iam.ForeignStatementsError) as refused:
        mk.iam.attach_bus_policy(
            "SalesEventBus", mk.iam.bus_policy(bus, publisher_accounts=[OTHER],
                                               sources=["sales.domain"])
        )  # fmt: skip

    assert refused.value.sids == ["LegacyPartner"]
    assert "merge=True" in str(refused.value) and "replace=True" in str(refused.value)
    assert set(_bus_statements(mesh)) == {"LegacyPartner"}


def test_attach_bus_policy_merges_or_replaces_when_asked_and_logs_it(mesh, caplog):
    bus = mk.buses.create_domain_bus("sales")
    ours = mk.iam.bus_policy(bus, publisher_accounts=[OTHER], sources=["sales.domain"])
    _their_statement(mesh)

    with caplog.at_level("INFO", logger="meshkit.iam"):
        merged = mk.iam.attach_bus_policy("SalesEventBus", ours, merge=True)
    assert set(_bus_statements(mesh)) == {"LegacyPartner", f"PutEventsFrom{OTHER}"}
    assert {s["Sid"] for s in merged["Statement"]} == set(_bus_statements(mesh))
    assert "kept LegacyPartner" in caplog.text and f"added PutEventsFrom{OTHER}" in caplog.text

    with caplog.at_level("INFO", logger="meshkit.iam"):
        mk.iam.attach_bus_policy("SalesEventBus", ours, replace=True)
    assert set(_bus_statements(mesh)) == {f"PutEventsFrom{OTHER}"}
    assert "dropped LegacyPartner" in caplog.text


def test_attach_bus_policy_updates_its_own_statements_without_asking(mesh):
    bus = mk.buses.create_domain_bus("sales")
    mk.iam.attach_bus_policy(
        "SalesEventBus", mk.iam.bus_policy(bus, publisher_accounts=[OTHER], sources=["a.domain"])
    )

    mk.iam.attach_bus_policy(
        "SalesEventBus", mk.iam.bus_policy(bus, publisher_accounts=["333333333333"],
                                           sources=["sales.domain"])
    )  # fmt: skip

    assert set(_bus_statements(mesh)) == {"PutEventsFrom333333333333"}


def test_attach_bus_policy_refuses_a_bus_meshkit_does_not_govern(mesh):
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.create_event_bus(Name="SalesEventBus")

    with pytest.raises(
        NotMeshkitResourceError, match=r"SalesEventBus.*meshkit:workbook.*adopt=True"
    ):
        mk.iam.attach_bus_policy("SalesEventBus", central_bus_policy())

    assert _bus_statements(mesh) == {}


def test_attach_bus_policy_takes_this_accounts_bus_by_arn_and_refuses_anothers(mesh):
    arn = mk.buses.create_domain_bus("sales")
    theirs = arn.replace(ACCOUNT, OTHER)

    mk.iam.attach_bus_policy(arn, central_bus_policy())
    with pytest.raises(mk.events.ForeignBusError, match="only the bus's own account can set"):
        mk.iam.attach_bus_policy(theirs, central_bus_policy(), replace=True)

    assert set(_bus_statements(mesh)) == {s["Sid"] for s in central_bus_policy()["Statement"]}
