"""check_access and access_grid: the offline evaluator against AWS's documented evaluation logic.

Every case cites the page of the IAM User Guide (and its section) that documents the behaviour,
by the short name given here:

- EVAL, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  (explicit deny; "Resource-based policies" within one account, by principal type);
- CROSS, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
  (both sides must allow);
- OPERATORS, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  (String, Numeric, Date, Bool, IP address, ARN, ...IfExists, Null);
- CONDITION, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
  (key names are case-insensitive);
- VARIABLES, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
  (substitution, special characters, default values, no value);
- MULTIVALUED, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  (ForAllValues, ForAnyValue);
- NOTPRINCIPAL, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html;
- GRAMMAR, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html;
- VERSION, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html;
- PRINCIPAL, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html;
- SIMULATOR, https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from iam_policies import ACCOUNT, OTHER, QUEUE, RULE, SALES_BUS, allow, deny, policy, when

import meshkit as mk
from meshkit.exceptions import MeshkitError, ValidationError
from meshkit.iam import (
    MalformedPolicyError,
    UnknownResourceAccountError,
    UnsupportedConditionError,
    check_access,
)

MARKETING_BUS = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/MarketingEventBus"
BUCKET = "arn:aws:s3:::sales-data-products"
OBJECT = BUCKET + "/2026/sales.parquet"

PRODUCER = f"arn:aws:iam::{OTHER}:user/sales-producer"  # in another account
SAME_ACCOUNT_PRODUCER = f"arn:aws:iam::{ACCOUNT}:role/sales-producer"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/sales-producer/lambda-1"
OTHER_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/sales-producer/lambda-1"


def admits(principal, action="events:PutEvents", resource=SALES_BUS, effect="Allow", **extra):
    """A resource policy of one statement naming ``principal``."""
    principal = principal if principal == "*" else {"AWS": principal}
    return policy({"Effect": effect, "Principal": principal, "Action": action,
                   "Resource": resource, **extra})  # fmt: skip


NOTHING = policy()
ANYTHING = policy(allow("*", "*"))


# -- copied from tests/test_iam.py: the documented logic, case by case (EVAL, OPERATORS) ---------

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
    """EVAL and OPERATORS, one documented rule per case."""
    decision = check_access(policies, action, resource, context)

    assert decision.decision == expected
    assert decision.allowed is (expected == "allowed")
    assert decision.evaluated_by == "meshkit evaluator"


def test_the_deciding_statement_and_the_reason_are_named():
    """EVAL: an explicit deny wins; the answer names the statement that decided."""
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


def test_an_implicit_deny_names_the_statement_whose_condition_failed():
    """OPERATORS: a condition that does not hold keeps its statement from applying."""
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")

    decision = check_access(
        {"sales-producer": producer}, "events:PutEvents", SALES_BUS, {"events:source": "x.domain"}
    )

    assert decision.decision == "implicit deny" and decision.statement is None
    assert decision.reason.startswith("statement PublishOwnEvents of sales-producer would allow")


def central_bus_policy(**kwargs) -> dict:
    return mk.iam.bus_policy(SALES_BUS, publisher_accounts=[OTHER], **kwargs)


def test_across_accounts_both_the_caller_and_the_bus_must_allow():
    """CROSS: the identity policy in the trusted account and the resource policy must allow."""
    ask = dict(resource_policy=central_bus_policy(sources=["sales.domain"]), principal=PRODUCER)

    both = check_access(policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
                        {"events:source": "sales.domain"}, **ask)  # fmt: skip
    only_caller = check_access(policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
                               {"events:source": "fraud.domain"}, **ask)  # fmt: skip
    only_bus = check_access(policy(), "events:PutEvents", SALES_BUS,
                            {"events:source": "sales.domain"}, **ask)  # fmt: skip

    assert both.allowed
    assert (only_caller.decision, only_bus.decision) == ("implicit deny", "implicit deny")
    assert "the resource policy does not" in only_caller.reason
    assert "the caller's policies does not" in only_bus.reason


def test_a_deny_in_the_resource_policy_beats_the_callers_allow():
    """EVAL, "Deny evaluation": an explicit deny in any policy wins."""
    bus = admits("*", effect="Deny")

    decision = check_access(policy(allow()), "events:PutEvents", SALES_BUS, resource_policy=bus,
                            principal=SAME_ACCOUNT_PRODUCER)  # fmt: skip

    assert decision.decision == "explicit deny"


def test_an_organization_wide_bus_policy_admits_only_the_organization():
    """CROSS, and OPERATORS on aws:PrincipalOrgID: Principal "*" with the organization's id."""
    bus = mk.iam.bus_policy(SALES_BUS, organization_id="o-mesh123456", sources=["sales.domain"])
    context = {"events:source": "sales.domain"}

    inside = check_access(
        policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
        {**context, "aws:PrincipalOrgID": "o-mesh123456"}, resource_policy=bus, principal=PRODUCER,
    )  # fmt: skip
    outside = check_access(
        policy(allow(resource="*")), "events:PutEvents", SALES_BUS,
        {**context, "aws:PrincipalOrgID": "o-other"}, resource_policy=bus, principal=PRODUCER,
    )  # fmt: skip

    assert inside.allowed and not outside.allowed


def test_a_queue_policy_admits_eventbridge_for_its_rule_only():
    """EVAL: a resource policy that names a service principal grants it directly."""
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
    """CROSS and VARIABLES: events:creatorAccount against ${aws:PrincipalAccount}."""
    bus = mk.iam.bus_policy(SALES_BUS, rule_accounts=[OTHER])
    kwargs = dict(resource_policy=bus, principal=f"arn:aws:iam::{OTHER}:role/marketing")

    own = check_access(policy(allow("events:PutRule", "*")), "events:PutRule", RULE,
                       {"events:creatorAccount": OTHER}, **kwargs)  # fmt: skip
    foreign = check_access(policy(allow("events:PutRule", "*")), "events:PutRule", RULE,
                           {"events:creatorAccount": ACCOUNT}, **kwargs)  # fmt: skip

    assert own.allowed and not foreign.allowed


# -- class 1: the accounts of the caller and of the resource (CROSS, EVAL) -----------------------


@pytest.mark.parametrize(
    ("principal", "action", "resource", "resource_account", "expected"),
    [
        (PRODUCER, "events:PutEvents", SALES_BUS, None, "implicit deny"),
        (OTHER_SESSION, "events:PutEvents", SALES_BUS, None, "implicit deny"),
        (OTHER, "sqs:SendMessage", QUEUE, None, "implicit deny"),
        (PRODUCER, "s3:GetObject", OBJECT, ACCOUNT, "implicit deny"),
        (SAME_ACCOUNT_PRODUCER, "events:PutEvents", SALES_BUS, None, "allowed"),
        (SESSION, "sqs:SendMessage", QUEUE, None, "allowed"),
        (PRODUCER, "s3:GetObject", OBJECT, OTHER, "allowed"),
        (ACCOUNT, "s3:ListBucket", BUCKET, ACCOUNT, "allowed"),
    ],
    ids=["user across accounts", "role session across accounts", "account id across accounts",
         "S3 object of another account", "role in the bus's account",
         "session in the queue's account", "S3 object of the caller's account",
         "S3 bucket, account id principal"],
)  # fmt: skip
def test_an_identity_policy_alone_allows_only_within_its_account(
    principal, action, resource, resource_account, expected
):
    """CROSS: across accounts "the identity-based policy ... and the resource-based policy ...
    must both allow"; with no resource policy the request is implicitly denied. An S3 ARN names
    no account: resource_account= gives it."""
    decision = check_access(ANYTHING, action, resource, principal=principal,
                            resource_account=resource_account)  # fmt: skip

    assert decision.decision == expected
    if expected == "implicit deny":
        assert "no resource policy was given" in decision.reason
        assert "pass resource_policy=" in decision.reason


def test_an_s3_resource_without_its_account_is_refused_when_the_answer_depends_on_it():
    """CROSS: whether an identity policy suffices depends on the bucket owner's account, which
    an S3 ARN does not name."""
    with pytest.raises(UnknownResourceAccountError) as refused:
        check_access(ANYTHING, "s3:GetObject", OBJECT, principal=PRODUCER)

    assert "resource_account=" in str(refused.value)
    assert "12-digit" in str(refused.value)
    assert isinstance(refused.value, MeshkitError)


@pytest.mark.parametrize(
    ("policies", "expected"),
    [(policy(deny("s3:*", "*"), allow("*", "*")), "explicit deny"), (NOTHING, "implicit deny")],
    ids=["a deny holds in any account", "nothing allows in any account"],
)
def test_an_s3_resource_without_its_account_is_answered_when_the_answer_does_not_depend(
    policies, expected
):
    """EVAL: an explicit deny, or the absence of any allow, decides whatever the accounts."""
    decision = check_access(policies, "s3:GetObject", OBJECT, principal=PRODUCER)

    assert decision.decision == expected


def test_without_a_principal_the_caller_is_assumed_in_the_resources_account_and_it_says_so():
    """EVAL: within one account an identity policy's allow suffices; the answer names the
    assumption it rests on."""
    decision = check_access(policy(allow()), "events:PutEvents", SALES_BUS)

    assert decision.allowed
    assert decision.reason.endswith(
        f"no principal given, so the caller is assumed to be in the resource's account ({ACCOUNT})"
    )


# -- class 2: a same-account resource policy naming the account delegates (EVAL) ----------------


@pytest.mark.parametrize(
    ("named", "identity", "expected", "said"),
    [
        (ACCOUNT, NOTHING, "implicit deny", "names the caller's account, which delegates"),
        (f"arn:aws:iam::{ACCOUNT}:root", NOTHING, "implicit deny",
         "names the caller's account, which delegates"),
        (f"arn:aws:iam::{ACCOUNT}:root", policy(allow()), "allowed", "statement #1 of policy"),
        (SAME_ACCOUNT_PRODUCER, NOTHING, "allowed", "statement #1 of resource policy allows"),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", NOTHING, "implicit deny", "no statement allows"),
        ("*", NOTHING, "allowed", "statement #1 of resource policy allows"),
    ],
    ids=["account id, no identity allow", "account root ARN, no identity allow",
         "account root ARN and an identity allow", "the caller's role",
         "another user of the account", "everyone"],
)  # fmt: skip
def test_a_resource_policy_naming_its_own_account_delegates_to_the_identity_policies(
    named, identity, expected, said
):
    """EVAL, "Resource-based policies": within one account a resource-based policy that names
    the IAM role, user or session grants directly; one that names the account grants nothing by
    itself (the account's identity policies decide)."""
    decision = check_access(identity, "events:PutEvents", SALES_BUS, resource_policy=admits(named),
                            principal=SAME_ACCOUNT_PRODUCER)  # fmt: skip

    assert decision.decision == expected
    assert said in decision.reason


def test_the_user_guides_queue_policy_for_an_account_needs_an_identity_allow_too():
    """OPERATORS, "ARN condition operators": the SQS queue policy that admits account
    123456789012 (``"Principal": {"AWS": "123456789012"}``, ``"SQS:SendMessage"``); EVAL: the
    same account's user needs its own identity Allow."""
    queue_policy = admits(ACCOUNT, "SQS:SendMessage", QUEUE,
                          **when("ArnEquals", "aws:SourceArn",
                                 f"arn:aws:sns:us-west-2:{ACCOUNT}:TOPIC-ID"))  # fmt: skip
    ask = dict(resource_policy=queue_policy, principal=f"arn:aws:iam::{ACCOUNT}:user/alice")
    context = {"aws:SourceArn": f"arn:aws:sns:us-west-2:{ACCOUNT}:TOPIC-ID"}

    alone = check_access(NOTHING, "sqs:SendMessage", QUEUE, context, **ask)
    with_identity = check_access(policy(allow("sqs:SendMessage", QUEUE)), "sqs:SendMessage",
                                 QUEUE, context, **ask)  # fmt: skip

    assert alone.decision == "implicit deny"
    assert with_identity.allowed


def test_a_resource_policy_naming_a_role_of_another_account_still_needs_its_identity_allow():
    """CROSS: across accounts both sides must allow, whichever principal the resource names."""
    bus = admits(f"arn:aws:iam::{OTHER}:role/sales-producer")

    alone = check_access(NOTHING, "events:PutEvents", SALES_BUS, resource_policy=bus,
                         principal=OTHER_SESSION)  # fmt: skip
    both = check_access(policy(allow()), "events:PutEvents", SALES_BUS, resource_policy=bus,
                        principal=OTHER_SESSION)  # fmt: skip

    assert (alone.decision, both.decision) == ("implicit deny", "allowed")


# -- class 3: a role named in a resource policy covers its sessions (EVAL, PRINCIPAL) ------------


@pytest.mark.parametrize(
    ("named", "effect", "caller", "expected"),
    [
        (SAME_ACCOUNT_PRODUCER, "Allow", SESSION, "allowed"),
        (f"arn:aws:iam::{ACCOUNT}:role/mesh/sales-producer", "Allow", SESSION, "allowed"),
        (SAME_ACCOUNT_PRODUCER, "Allow",
         f"arn:aws:sts::{ACCOUNT}:assumed-role/fraud-producer/lambda-1", "implicit deny"),
        (SESSION, "Allow", SESSION, "allowed"),
        (SESSION, "Allow", SESSION.replace("lambda-1", "lambda-2"), "implicit deny"),
        (SAME_ACCOUNT_PRODUCER, "Deny", SESSION, "explicit deny"),
        (f"arn:aws:iam::{OTHER}:role/sales-producer", "Deny", OTHER_SESSION, "explicit deny"),
    ],
    ids=["allow: the role's session", "allow: a role with a path", "allow: another role's session",
         "allow: the session itself", "allow: another session", "deny: the role's session",
         "deny: the role's session from another account"],
)  # fmt: skip
def test_a_resource_policy_naming_a_role_applies_to_the_roles_sessions(
    named, effect, caller, expected
):
    """EVAL, "Resource-based policies": "When you assume a role and make a request, the principal
    making the request is the IAM role session ARN"; a policy that names the role ARN covers it
    (PRINCIPAL, "IAM role principals"), one that names a session covers only that session."""
    identity = policy(allow()) if effect == "Deny" else NOTHING
    bus = policy(
        {"Effect": effect, "Principal": {"AWS": named}, "Action": "events:PutEvents",
         "Resource": SALES_BUS},
        *([{"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "events:PutEvents",
            "Resource": SALES_BUS}] if effect == "Deny" else []),
    )  # fmt: skip

    decision = check_access(identity, "events:PutEvents", SALES_BUS, resource_policy=bus,
                            principal=caller)  # fmt: skip

    assert decision.decision == expected


# -- class 4: condition keys and policy variables (CONDITION, VARIABLES) -------------------------

HOME = "arn:aws:s3:::amzn-s3-demo-bucket/home"


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "expected"),
    [
        # CONDITION: "Context key names are not case-sensitive" ...
        ([allow(**when("StringEquals", "EVENTS:Source", "sales.domain"))], "events:PutEvents",
         SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
        ([allow(**when("StringEquals", "events:source", "sales.domain"))], "events:PutEvents",
         SALES_BUS, {"Events:SOURCE": "sales.domain"}, "allowed"),
        # ... values are, for the String operators that do not ignore case
        ([allow(**when("StringEquals", "events:source", "Sales.Domain"))], "events:PutEvents",
         SALES_BUS, {"events:source": "sales.domain"}, "implicit deny"),
        # VARIABLES, "Where you can use policy variables": Resource and String conditions
        ([allow("s3:GetObject", HOME + "/${aws:username}/*")], "s3:GetObject",
         HOME + "/alice/notes.txt", {"aws:username": "alice"}, "allowed"),
        # a substituted value is literal: a * in it is no wildcard
        ([allow("s3:GetObject", HOME + "/${aws:username}/*")], "s3:GetObject",
         HOME + "/bob/notes.txt", {"aws:username": "*"}, "implicit deny"),
        ([allow("s3:ListBucket", "*", **when("StringLike", "s3:prefix", "home/${aws:username}/"))],
         "s3:ListBucket", HOME, {"s3:prefix": "home/bob/", "aws:username": "*"}, "implicit deny"),
        # VARIABLES, "Special characters": ${*} is a literal *
        ([allow(**when("StringEquals", "events:source", "${*}"))], "events:PutEvents", SALES_BUS,
         {"events:source": "*"}, "allowed"),
        ([allow(**when("StringLike", "events:source", "${*}"))], "events:PutEvents", SALES_BUS,
         {"events:source": "sales.domain"}, "implicit deny"),
        # VARIABLES, "Policy variables with no value": no match ...
        ([allow(**when("StringEquals", "events:source", "${aws:PrincipalTag/domain}.domain"))],
         "events:PutEvents", SALES_BUS, {"events:source": ".domain"}, "implicit deny"),
        # ... negated operators too
        ([allow(**when("StringNotEquals", "events:source", "${aws:PrincipalTag/domain}"))],
         "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "implicit deny"),
        ([allow(), deny(**when("StringNotEquals", "events:source", "${aws:PrincipalTag/domain}"))],
         "events:PutEvents", SALES_BUS, {"events:source": "fraud.domain"}, "allowed"),
        ([allow("s3:GetObject", HOME + "/${aws:username}/*")], "s3:GetObject",
         HOME + "//notes.txt", {}, "implicit deny"),
        # VARIABLES, "Specifying default values"
        ([allow(**when("StringEquals", "events:source",
                       "${aws:PrincipalTag/domain, 'sales'}.domain"))],
         "events:PutEvents", SALES_BUS, {"events:source": "sales.domain"}, "allowed"),
        ([allow(**when("StringEquals", "events:source",
                       "${aws:PrincipalTag/domain, 'sales'}.domain"))],
         "events:PutEvents", SALES_BUS,
         {"events:source": "sales.domain", "aws:PrincipalTag/domain": "fraud"}, "implicit deny"),
        # a variable's key name is case-insensitive too
        ([allow("s3:GetObject", HOME + "/${AWS:UserName}/*")], "s3:GetObject",
         HOME + "/alice/notes.txt", {"aws:username": "alice"}, "allowed"),
        # a multivalued key cannot be a variable
        ([allow(**when("StringEquals", "events:source", "${aws:TagKeys}"))], "events:PutEvents",
         SALES_BUS, {"events:source": "team", "aws:TagKeys": ["team"]}, "implicit deny"),
        # NotResource substitutes variables as Resource does
        ([allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*",
                               "NotResource": HOME + "/${aws:username}/*"}],
         "s3:GetObject", HOME + "/alice/notes.txt", {"aws:username": "alice"}, "allowed"),
        ([allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:*",
                               "NotResource": HOME + "/${aws:username}/*"}],
         "s3:GetObject", HOME + "/bob/notes.txt", {"aws:username": "alice"}, "explicit deny"),
    ],
    ids=["a policy key in another case", "a request key in another case",
         "values keep their case", "a variable in Resource",
         "a * in a variable is literal (Resource)", "a * in a variable is literal (StringLike)",
         "${*} equals a *", "${*} is no wildcard",
         "no value: no match", "no value: StringNotEquals does not match either",
         "no value: a negated Deny does not apply", "no value in Resource: no match",
         "a default when the key is missing", "the key's value over the default",
         "a variable's key in another case", "a multivalued key is no variable",
         "NotResource with a variable spares its own",
         "NotResource with a variable denies the rest"],
)  # fmt: skip
def test_condition_keys_and_policy_variables_follow_the_user_guide(
    statements, action, resource, context, expected
):
    decision = check_access(policy(*statements), action, resource, context)

    assert decision.decision == expected


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_without_version_2012_a_variable_is_a_literal_string(version):
    """VERSION: with 2008-10-17 "variables such as ${aws:username} aren't recognized as
    variables and are instead treated as literal strings"; an omitted Version means it."""
    document = policy(allow("s3:GetObject", HOME + "/${aws:username}/*"))
    if version:
        document["Version"] = version
    else:
        del document["Version"]

    alice = check_access(document, "s3:GetObject", HOME + "/alice/x", {"aws:username": "alice"})
    literal = check_access(document, "s3:GetObject", HOME + "/${aws:username}/x",
                           {"aws:username": "alice"})  # fmt: skip

    assert (alice.decision, literal.decision) == ("implicit deny", "allowed")


# -- class 5: malformed policies are errors, never an allow or a deny (GRAMMAR) ------------------


def named_statement(**statement) -> dict:
    return {"Sid": "Broken", **statement}


@pytest.mark.parametrize(
    ("policies", "resource_policy", "words"),
    [
        (policy(named_statement(Effect="Allow", Action="events:PutEvents")), None,
         ["statement Broken", "'policy'", "no Resource"]),
        (NOTHING, policy(named_statement(Effect="Allow", Action="events:PutEvents",
                                         Resource=SALES_BUS)),
         ["statement Broken", "'resource policy'", "no Principal"]),
        (policy(allow(Effect="allow")), None, ["statement #1", "Effect is 'allow'", '"Allow"']),
        (policy(allow(Effect="Permit")), None, ["Effect is 'Permit'", '"Deny"']),
        (policy({"Effect": "Allow", "Resource": "*"}), None, ["no Action", "NotAction"]),
        (policy(allow(NotAction="events:DeleteEventBus")), None,
         ["both Action and NotAction", "keep one"]),
        (policy(allow(Principal="*")), None, ["Principal", "identity policy", "resource_policy="]),
        (policy(allow(Resources="*")), None, ["Resources", "does not know"]),
        (policy(allow("PutEvents")), None, ["Action 'PutEvents'", "<service>:<action>"]),
        (policy(allow(resource="SalesEventBus")), None, ["Resource 'SalesEventBus'", "ARN"]),
        ('{"Version": "2012-10-17", "Statement": [', None, ["not valid JSON", "as a dict"]),
        ({"Version": "2012-10-18", "Statement": []}, None, ["Version '2012-10-18'",
                                                           "'2012-10-17'"]),
        ({"Version": "2012-10-17"}, None, ["no Statement", "add a list of statements"]),
        (policy(allow(Condition=[{"StringEquals": {"events:source": "x"}}])), None,
         ["Condition must be a dict"]),
        (policy(allow(**when("NumericLessThan", "s3:max-keys", "ten"))), None,
         ["NumericLessThan 's3:max-keys'", "'ten' is not a number"]),
        (policy(allow(**when("NumericLessThan", "s3:max-keys", "${aws:username}"))), None,
         ["policy variables cannot be used"]),
        (policy(allow(**when("Bool", "aws:SecureTransport", "yes"))), None,
         ['takes "true" or "false"']),
        (policy(allow(**when("StringEquals", "events:source", {"a": 1}))), None,
         ["Condition StringEquals 'events:source'", "string, number or boolean"]),
        (NOTHING, admits(f"arn:aws:iam::{ACCOUNT}:user/*"),
         ["has a wildcard", "aws:PrincipalArn"]),
        (NOTHING, policy({"Effect": "Allow", "Principal": {"User": "alice"},
                          "Action": "events:PutEvents", "Resource": SALES_BUS}),
         ["Principal type 'User'", "AWS, Service"]),
        (NOTHING, admits("sales-team"), ["'sales-team' is not an account id",
                                         "arn:aws:iam::123456789012:root"]),
        (policy(allow(**when("NullIfExists", "aws:TokenIssueTime", "true"))), None,
         ["NullIfExists is not an operator", 'write "Null"']),
        ("[" * 100_000, None, ["not valid JSON", "recursion"]),
        ('{"Version": "2012-10-17", "Statement": [], "Statement": [{}]}', None,
         ["'Statement' appears twice", "keep one"]),
    ],
    ids=["identity statement without Resource", "resource statement without Principal",
         "Effect in lower case", "Effect neither Allow nor Deny", "no Action",
         "both Action and NotAction", "Principal in an identity policy", "unknown element",
         "Action without a service", "Resource not an ARN", "invalid JSON", "unknown Version",
         "no Statement", "Condition a list", "Numeric value not a number",
         "Numeric value a variable", "Bool value not a boolean", "Condition value a dict",
         "Principal with a partial wildcard", "unknown Principal type",
         "Principal AWS not an ARN", "NullIfExists", "JSON nested beyond reason",
         "JSON with a key twice"],
)  # fmt: skip
def test_bad_input_policy_is_refused_naming_the_policy_statement_and_element(
    policies, resource_policy, words
):
    """GRAMMAR: these policies break IAM's policy grammar; AWS refuses them, so an answer about
    them would be false whatever it was."""
    with pytest.raises(MalformedPolicyError) as refused:
        check_access(policies, "events:PutEvents", SALES_BUS, resource_policy=resource_policy,
                     principal=SAME_ACCOUNT_PRODUCER)  # fmt: skip

    assert isinstance(refused.value, ValidationError)
    for word in words:
        assert word in str(refused.value)


def test_a_policy_as_json_text_and_a_single_statement_as_a_dict_are_read_as_aws_reads_them():
    """GRAMMAR: ``"Statement"`` is a statement or a list of them; a policy's JSON text is the
    policy."""
    single = {"Version": "2012-10-17", "Statement": allow()}

    as_text = check_access(json.dumps(policy(allow())), "events:PutEvents", SALES_BUS)
    as_dict = check_access(single, "events:PutEvents", SALES_BUS)
    named = check_access({"producer": json.dumps(single)}, "events:PutEvents", SALES_BUS)
    bus = check_access(NOTHING, "events:PutEvents", SALES_BUS, principal=SAME_ACCOUNT_PRODUCER,
                       resource_policy=json.dumps(admits(SAME_ACCOUNT_PRODUCER)))  # fmt: skip

    assert [d.decision for d in (as_text, as_dict, named, bus)] == ["allowed"] * 4
    assert named.statement == "#1 of producer"


# -- class 6: the operators a mesh's policies need (OPERATORS, MULTIVALUED, NOTPRINCIPAL) --------

LISTING = "arn:aws:s3:::example_bucket"
ACCESS_KEYS = f"arn:aws:iam::{ACCOUNT}:user/alice"
ATTRIBUTES = ["PostDateTime", "Message", "Tags"]
THREAD = f"arn:aws:dynamodb:us-west-2:{ACCOUNT}:table/Thread"


def listing(operator: str, value="10") -> list[dict]:
    return [allow("s3:ListBucket", LISTING, **when(operator, "s3:max-keys", value))]


def issued(operator: str, value="2020-01-01T00:00:01Z") -> list[dict]:
    return [allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/*",
                  **when(operator, "aws:TokenIssueTime", value))]  # fmt: skip


def source_ip(operator: str, value=("203.0.113.0/24", "2001:DB8:1234:5678::/64")) -> list[dict]:
    return [allow("iam:*AccessKey*", f"arn:aws:iam::{ACCOUNT}:user/*",
                  **when(operator, "aws:SourceIp", list(value)))]  # fmt: skip


def attributes(qualifier: str, effect="Allow", operator="StringLike", values=None) -> list:
    condition = when(f"{qualifier}:{operator}", "dynamodb:Attributes", values or ATTRIBUTES)
    statement = {"Effect": effect, "Action": "dynamodb:GetItem", "Resource": THREAD, **condition}
    return [statement] if effect == "Allow" else [allow("dynamodb:*", "*"), statement]


OPERATOR_CASES = [
    # OPERATORS, "Numeric condition operators": NumericLessThanEquals s3:max-keys "10"
    ("NumericLessThanEquals at the limit", listing("NumericLessThanEquals"), "s3:ListBucket",
     LISTING, {"s3:max-keys": 10}, "allowed"),
    ("NumericLessThanEquals above it", listing("NumericLessThanEquals"), "s3:ListBucket",
     LISTING, {"s3:max-keys": "11"}, "implicit deny"),
    ("NumericLessThan", listing("NumericLessThan"), "s3:ListBucket", LISTING,
     {"s3:max-keys": "10"}, "implicit deny"),
    ("NumericEquals compares numbers", listing("NumericEquals", "10.0"), "s3:ListBucket",
     LISTING, {"s3:max-keys": "10"}, "allowed"),
    ("NumericNotEquals", listing("NumericNotEquals"), "s3:ListBucket", LISTING,
     {"s3:max-keys": 5}, "allowed"),
    ("NumericGreaterThan", listing("NumericGreaterThan"), "s3:ListBucket", LISTING,
     {"s3:max-keys": 10.5}, "allowed"),
    ("NumericGreaterThanEquals", listing("NumericGreaterThanEquals"), "s3:ListBucket", LISTING,
     {"s3:max-keys": 9}, "implicit deny"),
    ("Numeric with a missing key", listing("NumericLessThanEquals"), "s3:ListBucket", LISTING,
     {}, "implicit deny"),
    ("NumericLessThanEqualsIfExists with a missing key", listing("NumericLessThanEqualsIfExists"),
     "s3:ListBucket", LISTING, {}, "allowed"),
    ("NumericNotEquals with a missing key", listing("NumericNotEquals"), "s3:ListBucket",
     LISTING, {}, "allowed"),
    # OPERATORS, "Date condition operators": DateGreaterThan aws:TokenIssueTime 2020-01-01T00:00:01Z
    ("DateGreaterThan after", issued("DateGreaterThan"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:TokenIssueTime": "2020-06-01T00:00:00Z"}, "allowed"),
    ("DateGreaterThan before", issued("DateGreaterThan"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"}, "implicit deny"),
    ("DateGreaterThan with epoch seconds", issued("DateGreaterThan"), "iam:CreateAccessKey",
     ACCESS_KEYS, {"aws:TokenIssueTime": 1590969600}, "allowed"),
    ("DateGreaterThan with a datetime", issued("DateGreaterThan"), "iam:CreateAccessKey",
     ACCESS_KEYS, {"aws:TokenIssueTime": datetime(2020, 1, 1, 0, 0, 2, tzinfo=timezone.utc)},
     "allowed"),
    ("DateEquals across time zones", issued("DateEquals", "2020-01-01T01:00:00+01:00"),
     "iam:CreateAccessKey", ACCESS_KEYS, {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"},
     "allowed"),
    ("DateLessThan in epoch seconds", issued("DateLessThan", "1577836801"),
     "iam:CreateAccessKey", ACCESS_KEYS, {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"},
     "implicit deny"),
    ("DateLessThanEquals", issued("DateLessThanEquals", "1577836801"), "iam:CreateAccessKey",
     ACCESS_KEYS, {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}, "allowed"),
    ("DateNotEquals", issued("DateNotEquals"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}, "implicit deny"),
    ("DateGreaterThanEquals", issued("DateGreaterThanEquals"), "iam:CreateAccessKey",
     ACCESS_KEYS, {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}, "allowed"),
    ("Date with a missing key (an IAM user's access keys)", issued("DateGreaterThan"),
     "iam:CreateAccessKey", ACCESS_KEYS, {}, "implicit deny"),
    ("DateGreaterThanIfExists with a missing key", issued("DateGreaterThanIfExists"),
     "iam:CreateAccessKey", ACCESS_KEYS, {}, "allowed"),
    # OPERATORS, "IP address condition operators": 203.0.113.0/24 and 2001:DB8:1234:5678::/64
    ("IpAddress in the IPv4 range", source_ip("IpAddress"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:SourceIp": "203.0.113.7"}, "allowed"),
    ("IpAddress outside it", source_ip("IpAddress"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:SourceIp": "198.51.100.7"}, "implicit deny"),
    ("IpAddress in the IPv6 range", source_ip("IpAddress"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:SourceIp": "2001:db8:1234:5678::1"}, "allowed"),
    ("an address without a prefix is /32", source_ip("IpAddress", ["203.0.113.5"]),
     "iam:CreateAccessKey", ACCESS_KEYS, {"aws:SourceIp": "203.0.113.6"}, "implicit deny"),
    ("NotIpAddress", source_ip("NotIpAddress"), "iam:CreateAccessKey", ACCESS_KEYS,
     {"aws:SourceIp": "198.51.100.7"}, "allowed"),
    ("IpAddress with a missing key (a VPC endpoint)", source_ip("IpAddress"),
     "iam:CreateAccessKey", ACCESS_KEYS, {}, "implicit deny"),
    ("IpAddressIfExists with a missing key", source_ip("IpAddressIfExists"),
     "iam:CreateAccessKey", ACCESS_KEYS, {}, "allowed"),
    # OPERATORS, "ARN condition operators": each of the six parts is matched on its own
    ("StringLike spans colons",
     [allow("sqs:SendMessage", QUEUE,
            **when("StringLike", "aws:SourceArn", "arn:aws:someservice:*:111122223333:finance/*"))],
     "sqs:SendMessage", QUEUE,
     {"aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:"
                       "finance/document.txt"}, "allowed"),
    ("ArnLike does not",
     [allow("sqs:SendMessage", QUEUE,
            **when("ArnLike", "aws:SourceArn", "arn:aws:someservice:*:111122223333:finance/*"))],
     "sqs:SendMessage", QUEUE,
     {"aws:SourceArn": "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:"
                       "finance/document.txt"}, "implicit deny"),
    ("ArnEquals with a variable",
     [allow("sqs:SendMessage", QUEUE, **when("ArnEquals", "aws:SourceArn",
            "arn:aws:events:us-west-2:${aws:PrincipalAccount}:rule/SalesEventBus/*"))],
     "sqs:SendMessage", QUEUE, {"aws:SourceArn": RULE, "aws:PrincipalAccount": ACCOUNT},
     "allowed"),
    # MULTIVALUED: ForAllValues / ForAnyValue, the DynamoDB examples
    ("ForAllValues: every requested value listed", attributes("ForAllValues"),
     "dynamodb:GetItem", THREAD, {"dynamodb:Attributes": ["PostDateTime", "Message"]},
     "allowed"),
    ("ForAllValues: one value not listed", attributes("ForAllValues"), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": ["PostDateTime", "UserName"]}, "implicit deny"),
    ("ForAllValues: a missing key matches", attributes("ForAllValues"), "dynamodb:GetItem",
     THREAD, {}, "allowed"),
    ("ForAllValues: an empty set matches", attributes("ForAllValues"), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": []}, "allowed"),
    ("ForAnyValue: one value listed", attributes("ForAnyValue", "Deny", values=["ID",
                                                                                "PostDateTime"]),
     "dynamodb:GetItem", THREAD, {"dynamodb:Attributes": ["UserName", "Message", "PostDateTime"]},
     "explicit deny"),
    ("ForAnyValue: none listed", attributes("ForAnyValue", "Deny", values=["ID",
                                                                          "PostDateTime"]),
     "dynamodb:GetItem", THREAD, {"dynamodb:Attributes": ["UserName"]}, "allowed"),
    ("ForAnyValue: a missing key does not match",
     attributes("ForAnyValue", "Deny", values=["ID", "PostDateTime"]), "dynamodb:GetItem", THREAD,
     {}, "allowed"),
    ("ForAnyValue: an empty set does not match", attributes("ForAnyValue"), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": []}, "implicit deny"),
    ("ForAnyValue...IfExists: a missing key matches",
     attributes("ForAnyValue", operator="StringLikeIfExists"), "dynamodb:GetItem", THREAD, {},
     "allowed"),
    ("ForAllValues:StringNotEquals: no value listed",
     attributes("ForAllValues", operator="StringNotEquals", values=["ID"]), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": ["Message", "Tags"]}, "allowed"),
    ("ForAllValues:StringNotEquals: one value listed",
     attributes("ForAllValues", operator="StringNotEquals", values=["ID"]), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": ["Message", "ID"]}, "implicit deny"),
    ("ForAnyValue:StringNotEquals: one value not listed",
     attributes("ForAnyValue", operator="StringNotEquals", values=["ID"]), "dynamodb:GetItem",
     THREAD, {"dynamodb:Attributes": ["Message", "ID"]}, "allowed"),
    ("ForAnyValue:NumericGreaterThan",
     attributes("ForAnyValue", operator="NumericGreaterThan", values=["10"]),
     "dynamodb:GetItem", THREAD, {"dynamodb:Attributes": [3, 11]}, "allowed"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "expected"),
    [case[1:] for case in OPERATOR_CASES],
    ids=[case[0] for case in OPERATOR_CASES],
)
def test_the_operators_a_mesh_needs_follow_the_user_guides_examples(
    statements, action, resource, context, expected
):
    decision = check_access(policy(*statements), action, resource, context)

    assert decision.decision == expected


BOB = "arn:aws:iam::444455556666:user/Bob"
AUDIT = ("arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/"
         "cross-account-audit-app")  # fmt: skip
AUDIT_ROLE = "arn:aws:iam::444455556666:role/cross-account-read-only-role"


def deny_all_but(*listed: str) -> dict:
    """NOTPRINCIPAL's examples: deny every principal but those listed, plus an Allow for the
    account 444455556666 so that only the Deny decides."""
    return policy(
        {"Effect": "Deny", "NotPrincipal": {"AWS": list(listed)}, "Action": "s3:*",
         "Resource": [BUCKET, BUCKET + "/*"]},
        {"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "s3:*",
         "Resource": [BUCKET, BUCKET + "/*"]},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("listed", "caller", "expected"),
    [
        ((BOB, "arn:aws:iam::444455556666:root"), BOB, "allowed"),
        ((BOB, "arn:aws:iam::444455556666:root"), "arn:aws:iam::444455556666:user/Alice",
         "explicit deny"),
        ((BOB,), BOB, "explicit deny"),
        ((AUDIT, AUDIT_ROLE, "arn:aws:iam::444455556666:root"), AUDIT, "allowed"),
        ((AUDIT, AUDIT_ROLE, "arn:aws:iam::444455556666:root"), AUDIT.replace("app", "other"),
         "explicit deny"),
        ((AUDIT, "arn:aws:iam::444455556666:root"), AUDIT, "explicit deny"),
    ],
    ids=["Bob and his account listed", "Alice of the same account", "Bob without his account",
         "the audit session, its role and account", "another session of the role",
         "the session without its role"],
)  # fmt: skip
def test_notprincipal_with_deny_spares_only_principals_listed_with_their_role_and_account(
    listed, caller, expected
):
    """NOTPRINCIPAL, "NotPrincipal with Deny": list the principal's account (and role) too, or
    "the policy might deny access to the entire account"; the evaluator takes that worst case."""
    decision = check_access(policy(allow("s3:*", "*")), "s3:GetObject", OBJECT,
                            resource_policy=deny_all_but(*listed), principal=caller,
                            resource_account=ACCOUNT)  # fmt: skip

    assert decision.decision == expected


@pytest.mark.parametrize(
    ("caller", "expected"),
    [(f"arn:aws:iam::{ACCOUNT}:user/alice", "allowed"),
     (f"arn:aws:iam::{ACCOUNT}:user/mallory", "implicit deny")],
)  # fmt: skip
def test_notprincipal_with_allow_allows_every_principal_but_those_listed(caller, expected):
    """NOTPRINCIPAL, "NotPrincipal with Allow": it "allows all principals except the one
    named"."""
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    bus = policy({"Effect": "Allow", "NotPrincipal": {"AWS": mallory},
                  "Action": "events:PutEvents", "Resource": SALES_BUS})  # fmt: skip

    decision = check_access(NOTHING, "events:PutEvents", SALES_BUS, resource_policy=bus,
                            principal=caller)  # fmt: skip

    assert decision.decision == expected


@pytest.mark.parametrize(
    "statement",
    [
        allow(**when("BinaryEquals", "aws:SomeKey", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")),
        allow(**when("StringEqualz", "events:source", "sales.domain")),
        allow(**when("ForAnyValues:StringEquals", "aws:TagKeys", ["team"])),
        allow(**when("ForAllValues:Null", "aws:TagKeys", "true")),
    ],
    ids=["BinaryEquals", "a misspelt operator", "a misspelt qualifier", "a qualified Null"],
)
def test_what_the_evaluator_does_not_support_is_an_error_never_a_silent_allow(statement):
    """OPERATORS: BinaryEquals exists on AWS, the others do not; offline none can be answered."""
    with pytest.raises(UnsupportedConditionError, match="simulate_custom_policy") as refused:
        check_access(policy(statement), "events:PutEvents", SALES_BUS, {"aws:SomeKey": "x"})

    assert "statement #1 of policy" in str(refused.value)


def stubbed_iam(monkeypatch):
    """Offline tests cannot reach AWS: a stubbed IAM client stands in for it."""
    import boto3

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="x",
                       aws_secret_access_key="x")  # fmt: skip
    target = mk.sandbox.Target("aws", None, ACCOUNT, "us-west-2", None)
    monkeypatch.setattr(mk.sandbox, "current", lambda: target)
    monkeypatch.setattr(mk._aws, "client", lambda name, session=None: iam)
    return iam


# -- bad input: each a MeshkitError naming the field and the fix ---------------------------------

PUBLISH = policy(allow())
WITH_IP = policy(allow(**when("IpAddress", "aws:SourceIp", "203.0.113.0/24")))
WITH_NUMBER = policy(allow(**when("NumericLessThan", "s3:max-keys", "10")))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(action="PutEvents"), ValidationError, ["action 'PutEvents'", "'events:PutEvents'"]),
        (dict(action=None), ValidationError, ["action None", "<service>:<action>"]),
        (dict(action="events:Put*"), ValidationError, ["action 'events:Put*'", "no wildcards"]),
        (dict(resource="SalesEventBus"), ValidationError,
         ["resource 'SalesEventBus' is not an ARN", "arn:aws:events:"]),
        (dict(resource=42), ValidationError, ["resource 42", "pass the resource's ARN"]),
        (dict(policies=None), ValidationError, ["policies is a NoneType", "pass a policy"]),
        (dict(policies=42), ValidationError, ["policies is a int", "a list of policies"]),
        (dict(policies=[PUBLISH, 7]), MalformedPolicyError, ["'policy 2' is a int", "pass a dict"]),
        (dict(policies={7: PUBLISH}), ValidationError, ["policies", "must be strings"]),
        (dict(resource_policy=[admits("*")]), MalformedPolicyError,
         ["'resource policy' is a list", "pass a dict"]),
        (dict(context=["events:source"]), ValidationError, ["context is a list", "pass a dict"]),
        (dict(context={"events:source": {"name": "sales"}}), ValidationError,
         ["context['events:source']", "a string, number, boolean or date-time"]),
        (dict(context={5: "x"}), ValidationError, ["context key 5", "use strings"]),
        (dict(context={"aws:SourceIp": "1.2.3.4", "AWS:SOURCEIP": "5.6.7.8"}), ValidationError,
         ["'AWS:SOURCEIP' twice", "case-insensitive", "keep one"]),
        (dict(policies=WITH_IP, context={"aws:SourceIp": "my laptop"}), ValidationError,
         ["context['aws:sourceip'] = 'my laptop'", "IPv4 or IPv6 address", "IpAddress"]),
        (dict(policies=WITH_NUMBER, context={"s3:max-keys": "ten"}), ValidationError,
         ["context['s3:max-keys'] = 'ten'", "a number such as 10", "NumericLessThan"]),
        (dict(principal="sales-producer"), ValidationError,
         ["principal 'sales-producer'", "arn:aws:iam::123456789012:role/sales-producer"]),
        (dict(principal=123456789012), ValidationError, ["principal 123456789012",
                                                         "12-digit account id"]),
        (dict(principal="arn:aws:iam::12345:user/x"), ValidationError,
         ["principal 'arn:aws:iam::12345:user/x'", "not an IAM or STS ARN"]),
        (dict(resource=OBJECT, resource_account="1234"), ValidationError,
         ["resource_account '1234'", "12-digit account id", "'123456789012'"]),
        (dict(resource_account=OTHER), ValidationError,
         ["contradicts the account in the resource's ARN", "leave resource_account out"]),
        (dict(resource_policy=admits(SAME_ACCOUNT_PRODUCER)), ValidationError,
         ["statement #1 of resource policy names particular principals", "pass principal="]),
    ],
    ids=["action without a service", "action None", "action with a wildcard",
         "resource a name", "resource a number", "policies None", "policies a number",
         "a policy a number", "a policy name a number", "resource_policy a list",
         "context a list", "context value a dict", "context key a number",
         "context key twice in two cases", "context not an IP address",
         "context not a number", "principal a name", "principal a number",
         "principal with a short account", "resource_account too short",
         "resource_account contradicting the ARN", "principal missing where it decides"],
)  # fmt: skip
def test_bad_input_to_check_access_is_refused_naming_the_field_and_the_fix(kwargs, error, words):
    """Nothing is evaluated from a question that is not one; the message says what to pass."""
    ask = dict(policies=PUBLISH, action="events:PutEvents", resource=SALES_BUS) | kwargs
    positional = [ask.pop(name) for name in ("policies", "action", "resource")]

    with pytest.raises(error) as refused:
        check_access(*positional, **ask)

    assert isinstance(refused.value, MeshkitError)
    for word in words:
        assert word in str(refused.value)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(principals=[PUBLISH]), ["principals is a list", "dict keyed by principal name"]),
        (dict(actions="events:PutEvents"), ["actions must be a list of strings"]),
        (dict(resources=SALES_BUS), ["resources must be a list of strings"]),
        (dict(actions=["events:PutEvents", "PutEvents"]), ["action 'PutEvents'"]),
        (dict(resource_policies=[admits("*")]), ["resource_policies is a list",
                                                 "keyed by resource ARN"]),
        (dict(principals=None), ["principals is a NoneType", "pass a dict"]),
        (dict(principal_arns={"sales": "sales"}), ["principal 'sales'", "arn:aws:iam::"]),
        (dict(resource_policies={SALES_BUS: policy(allow())}),
         ["resource policy of " + SALES_BUS, "no Principal"]),
    ],
    ids=["principals a list", "actions a string", "resources a string", "one action malformed",
         "resource_policies a list", "principals None", "a principal ARN malformed",
         "a resource policy malformed"],
)  # fmt: skip
def test_bad_input_to_access_grid_is_refused_before_any_answer(monkeypatch, kwargs, words):
    """On AWS each answer is a simulate_custom_policy call: a stubbed IAM with no answer queued
    shows that none is asked before the refusal (the first, well-formed question comes first)."""
    from botocore.stub import Stubber

    iam = stubbed_iam(monkeypatch)
    ask = dict(principals={"first": PUBLISH, "sales": PUBLISH}, actions=["events:PutEvents"],
               resources=[SALES_BUS]) | kwargs  # fmt: skip

    with Stubber(iam), pytest.raises(ValidationError) as refused:
        mk.iam.access_grid(**ask)

    for word in words:
        assert word in str(refused.value)


# -- real AWS: the simulator gets the same question (SIMULATOR) ----------------------------------


ANSWER = {
    "EvaluationResults": [
        {"EvalActionName": "events:PutEvents", "EvalDecision": "implicitDeny",
         "MatchedStatements": []}
    ]
}  # fmt: skip


def test_on_real_aws_check_access_asks_the_policy_simulator(monkeypatch):
    """SIMULATOR: the question, as simulate_custom_policy takes it, and its answer mapped."""
    from botocore.stub import ANY, Stubber

    iam = stubbed_iam(monkeypatch)
    producer = mk.iam.producer_policy("sales", account=ACCOUNT, region="us-west-2")
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

    with Stubber(iam) as stub:
        stub.add_response("simulate_custom_policy", ANSWER, expected)
        decision = check_access(
            {"sales-producer": producer}, "events:PutEvents", SALES_BUS,
            {"events:source": "fraud.domain"}, resource_policy=central_bus_policy(),
            principal=PRODUCER,
        )  # fmt: skip

    assert (decision.decision, decision.allowed) == ("implicit deny", False)
    assert decision.evaluated_by == "IAM policy simulator"


def test_on_real_aws_the_simulator_gets_the_resource_owner_and_typed_context(monkeypatch):
    """SIMULATOR: ResourceOwner is "the owner of any simulated resource that does not identify
    its owner in the resource ARN" (S3), as arn:aws:iam::<account>:root; ContextKeyType is one
    of string, numeric, boolean, date, ip (and their lists)."""
    from botocore.stub import Stubber

    iam = stubbed_iam(monkeypatch)
    reader = policy(allow("s3:GetObject", "*"))
    user = f"arn:aws:iam::{OTHER}:user/analyst"
    expected = {
        "PolicyInputList": [json.dumps(reader)],
        "ActionNames": ["s3:GetObject"],
        "ResourceArns": [OBJECT],
        "ContextEntries": [
            {"ContextKeyName": "s3:max-keys", "ContextKeyValues": ["10"],
             "ContextKeyType": "numeric"},
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["203.0.113.7"],
             "ContextKeyType": "ip"},
            {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"],
             "ContextKeyType": "boolean"},
        ],
        "CallerArn": user,
        "ResourcePolicy": json.dumps(admits(OTHER, "s3:GetObject", OBJECT)),
        "ResourceOwner": f"arn:aws:iam::{ACCOUNT}:root",
    }  # fmt: skip

    with Stubber(iam) as stub:
        stub.add_response("simulate_custom_policy", ANSWER, expected)
        check_access(
            json.dumps(reader), "s3:GetObject", OBJECT,
            {"s3:max-keys": 10, "aws:SourceIp": "203.0.113.7", "aws:SecureTransport": True,
             "aws:TokenIssueTime": None},
            resource_policy=admits(OTHER, "s3:GetObject", OBJECT), principal=user,
            resource_account=ACCOUNT,
        )  # fmt: skip
        stub.assert_no_pending_responses()


def test_on_real_aws_a_resource_policy_without_the_caller_is_refused_before_asking(monkeypatch):
    """SIMULATOR: "CallerArn is required if you include a ResourcePolicy"."""
    from botocore.stub import Stubber

    iam = stubbed_iam(monkeypatch)

    with Stubber(iam), pytest.raises(ValidationError, match="pass principal="):
        check_access(PUBLISH, "events:PutEvents", SALES_BUS, resource_policy=admits("*"))


# -- a grid of decisions ------------------------------------------------------------------------

FRAUD_QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:fraud-sales"
GUARDRAIL = policy(deny(["events:DeleteEventBus", "sqs:DeleteQueue"], "*"))


def test_the_grid_asks_each_principal_each_action_on_the_resources_of_its_service():
    """Each cell is check_access's answer (EVAL)."""
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
    """CROSS: the bus admits one account; the other is refused."""
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


def test_the_grid_takes_the_accounts_of_resources_whose_arns_name_none():
    """CROSS, as in check_access: an S3 object of another account needs its bucket policy."""
    grid = mk.iam.access_grid(
        {"analyst": policy(allow("s3:GetObject", "*"))},
        ["s3:GetObject"],
        [OBJECT],
        principal_arns={"analyst": f"arn:aws:iam::{OTHER}:role/analyst"},
        resource_accounts={OBJECT: ACCOUNT},
    )

    assert list(grid["decision"]) == ["implicit deny"]


def test_the_grid_asks_a_star_resource_of_every_action():
    """EVAL: "Action": "*", "Resource": "*" allows every action."""
    grid = mk.iam.access_grid({"admin": policy(allow("*", "*"))}, ["events:PutEvents",
                              "sqs:ReceiveMessage"], ["*"])  # fmt: skip

    assert list(grid["allowed"]) == [True, True]


# -- the condition keys IAM sets from the caller ---------------------------------------------
# KEYS, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html:
# aws:PrincipalArn, aws:PrincipalAccount and aws:PrincipalType are in every signed request (for a
# role session, aws:PrincipalArn is the role's ARN); aws:username only for IAM users; aws:userid
# is the account id for the root user and "account:name" for a federated user (IAM users and
# role sessions carry unique ids meshkit cannot know); aws:PrincipalServiceName and
# aws:PrincipalIsAWSService for service principals; aws:CurrentTime and aws:EpochTime always.

ANALYST = f"arn:aws:iam::{OTHER}:role/analyst"
# every caller is in another account than the bus, so that the bus policy's condition decides
ALICE = f"arn:aws:iam::{OTHER}:user/engineering/alice"
ROOT = f"arn:aws:iam::{OTHER}:root"
FEDERATED = f"arn:aws:sts::{OTHER}:federated-user/bob"
PUBLISH_ANYWHERE = policy(allow(resource="*"))


def admits_if(operator: str, key: str, value) -> dict:
    """A bus policy admitting anyone, under one condition on the caller."""
    return admits("*", **when(operator, key, value))


@pytest.mark.parametrize(
    ("principal", "operator", "key", "value", "expected"),
    [
        (ANALYST, "ArnEquals", "aws:PrincipalArn", ANALYST, "allowed"),
        (OTHER_SESSION, "ArnEquals", "aws:PrincipalArn",
         f"arn:aws:iam::{OTHER}:role/sales-producer", "allowed"),
        (OTHER_SESSION, "ArnEquals", "aws:PrincipalArn", OTHER_SESSION, "implicit deny"),
        (ALICE, "ArnLike", "aws:PrincipalArn", f"arn:aws:iam::{OTHER}:user/*", "allowed"),
        (ROOT, "ArnEquals", "aws:PrincipalArn", ROOT, "allowed"),
        (FEDERATED, "ArnEquals", "aws:PrincipalArn", FEDERATED, "allowed"),
        (ANALYST, "StringEquals", "aws:PrincipalType", "AssumedRole", "allowed"),
        (OTHER_SESSION, "StringEquals", "aws:PrincipalType", "AssumedRole", "allowed"),
        (ALICE, "StringEquals", "aws:PrincipalType", "User", "allowed"),
        (ROOT, "StringEquals", "aws:PrincipalType", "Account", "allowed"),
        (FEDERATED, "StringEquals", "aws:PrincipalType", "FederatedUser", "allowed"),
        (ALICE, "StringEquals", "aws:username", "alice", "allowed"),
        (ANALYST, "Null", "aws:username", "true", "allowed"),
        (ALICE, "StringEquals", "aws:PrincipalType", "AssumedRole", "implicit deny"),
        (ROOT, "StringEquals", "aws:userid", OTHER, "allowed"),
        (FEDERATED, "StringEquals", "aws:userid", f"{OTHER}:bob", "allowed"),
        (ALICE, "Null", "aws:userid", "true", "allowed"),
        (ALICE, "Bool", "aws:PrincipalIsAWSService", "false", "allowed"),
        (ALICE, "Null", "aws:PrincipalServiceName", "true", "allowed"),
        ("sqs.amazonaws.com", "Bool", "aws:PrincipalIsAWSService", "true", "allowed"),
        ("sqs.amazonaws.com", "StringEquals", "aws:PrincipalServiceName", "sqs.amazonaws.com",
         "allowed"),
        ("sqs.amazonaws.com", "Null", "aws:PrincipalArn", "true", "allowed"),
        (OTHER, "Null", "aws:PrincipalArn", "true", "allowed"),
        (OTHER, "StringEquals", "aws:PrincipalAccount", OTHER, "allowed"),
        ("sqs.amazonaws.com", "Bool", "aws:PrincipalIsAWSService", "false", "implicit deny"),
    ],
    ids=["role's arn", "a session's arn is its role's", "a session's arn is not its own",
         "user with a path", "root user", "federated user", "role: an assumed role",
         "session: an assumed role", "user type", "root type", "federated type",
         "username of a user", "no username for a role", "a user is no assumed role",
         "userid of root", "userid of a federated user", "a user's unique id is unknown",
         "not a service", "no service name for a user", "a service", "service name",
         "a service has no principal arn", "an account alone has no principal arn",
         "an account alone has its account", "a service is a service"],
)  # fmt: skip
def test_condition_keys_iam_sets_from_the_caller_are_derived_from_principal(
    principal, operator, key, value, expected
):
    """KEYS: given a bus policy admitting anyone under a condition on the caller, when
    ``principal=`` asks, then the keys IAM sets from that caller decide, as on AWS."""
    service = principal.endswith(".amazonaws.com")  # no identity policy: the bus policy decides
    decision = check_access(NOTHING if service else PUBLISH_ANYWHERE, "events:PutEvents", SALES_BUS,
                            resource_policy=admits_if(operator, key, value),
                            principal=principal)  # fmt: skip

    assert decision.decision == expected, decision.reason


def test_a_users_name_fills_the_username_variable():
    """KEYS and VARIABLES: ``${aws:username}`` is the IAM user's name, without its path."""
    home = policy(allow("s3:GetObject", BUCKET + "/home/${aws:username}/*"))

    own = check_access(home, "s3:GetObject", BUCKET + "/home/alice/notes.txt", principal=ALICE,
                       resource_account=OTHER)  # fmt: skip
    other = check_access(home, "s3:GetObject", BUCKET + "/home/bob/notes.txt", principal=ALICE,
                         resource_account=OTHER)  # fmt: skip

    assert (own.decision, other.decision) == ("allowed", "implicit deny")


def test_a_key_the_caller_put_in_context_is_never_replaced():
    """A caller who passes a key knows better (a role's path, a session's tags): it stands."""
    with_path = f"arn:aws:iam::{OTHER}:role/data/analyst"
    bus_policy = admits_if("ArnEquals", "aws:PrincipalArn", with_path)

    decision = check_access(PUBLISH_ANYWHERE, "events:PutEvents", SALES_BUS,
                            {"aws:PrincipalArn": with_path}, resource_policy=bus_policy,
                            principal=f"arn:aws:sts::{OTHER}:assumed-role/analyst/s1")  # fmt: skip
    named = check_access(policy(allow("s3:GetObject", BUCKET + "/home/${aws:username}/*")),
                         "s3:GetObject", BUCKET + "/home/bob/x", {"aws:username": "bob"},
                         principal=ALICE, resource_account=OTHER)  # fmt: skip

    assert (decision.decision, named.decision) == ("allowed", "allowed")


@pytest.mark.parametrize(
    ("operator", "key", "value", "context", "expected"),
    [
        ("DateLessThan", "aws:CurrentTime", "2099-01-01T00:00:00Z", None, "allowed"),
        ("DateGreaterThan", "aws:CurrentTime", "2099-01-01T00:00:00Z", None, "implicit deny"),
        ("DateGreaterThan", "aws:CurrentTime", "2000-01-01T00:00:00Z", None, "allowed"),
        ("NumericGreaterThan", "aws:EpochTime", "946684800", None, "allowed"),
        ("DateLessThan", "aws:CurrentTime", "2099-01-01T00:00:00Z",
         {"aws:CurrentTime": "2100-01-01T00:00:00Z"}, "implicit deny"),
    ],
    ids=["before 2099", "not after 2099", "after 2000", "epoch after 2000",
         "the caller's time stands"],
)  # fmt: skip
def test_the_current_time_is_in_every_request(operator, key, value, context, expected):
    """KEYS: aws:CurrentTime and aws:EpochTime are in every request; without them in context the
    evaluator uses the time of the question."""
    decision = check_access(policy(allow(**when(operator, key, value))), "events:PutEvents",
                            SALES_BUS, context)  # fmt: skip

    assert decision.decision == expected, decision.reason


# -- values no policy or request can hold are refused, never a raw error ------------------------

HUGE = 10**5000  # more digits than Python converts to text (4300)


def nested(depth: int) -> list:
    """``[[[...]]]``, ``depth`` lists deep, built without recursion."""
    inner: list = []
    for _ in range(depth):
        inner = [inner]
    return inner


def _itself() -> dict:
    statement = allow()
    statement["Condition"] = {"StringEquals": {"events:source": [statement]}}
    return policy(statement)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        (dict(policies=policy(allow(**when("NumericLessThan", "s3:max-keys", HUGE)))),
         MalformedPolicyError, ["'policy'", "['NumericLessThan']['s3:max-keys']",
                                "more than 4300 digits", "as a string"]),
        (dict(policies=policy(allow(**when("StringEquals", "events:source", HUGE)))),
         MalformedPolicyError, ["['StringEquals']['events:source']", "more than 4300 digits"]),
        (dict(policies=policy(allow(Sid=HUGE))), MalformedPolicyError,
         ["['Sid']", "more than 4300 digits"]),
        (dict(resource_policy=admits({"AWS": [HUGE]})), MalformedPolicyError,
         ["'resource policy'", "['Principal']", "more than 4300 digits"]),
        (dict(policies=policy(allow(**when("StringEquals", "events:source", nested(5000))))),
         MalformedPolicyError, ["'policy'", "nests more than 16 levels", "IAM's grammar"]),
        (dict(policies=policy(allow(resource=nested(100)))), MalformedPolicyError,
         ["['Resource']", "nests more than 16 levels"]),
        (dict(policies=_itself()), MalformedPolicyError, ["contains itself", "IAM's grammar"]),
        (dict(policies='{"Version": "2012-10-17", "Statement": [' + "1" * 5000 + "]}"),
         MalformedPolicyError, ["not valid JSON", "as a dict"]),
        (dict(context={"events:source": nested(5000)}), ValidationError,
         ["context['events:source']", "a string, number, boolean or date-time"]),
        (dict(action=HUGE), ValidationError, ["action <a number of", "'events:PutEvents'"]),
        (dict(action=nested(5000)), ValidationError, ["action [[", "'events:PutEvents'"]),
        (dict(resource=nested(5000)), ValidationError, ["resource [[", "pass the resource's ARN"]),
        (dict(principal=HUGE), ValidationError, ["principal <a number of", "12-digit account id"]),
        (dict(resource=OBJECT, resource_account=HUGE), ValidationError,
         ["resource_account <a number of", "'123456789012'"]),
        (dict(policies=policy(allow(**when("DateLessThan", "aws:CurrentTime", "2099-01-01"))),
              context={"aws:CurrentTime": HUGE}), ValidationError,
         ["context['aws:currenttime'] = <a number of", "ISO 8601", "DateLessThan"]),
    ],
    ids=["Numeric value of 5001 digits", "String value of 5001 digits", "Sid of 5001 digits",
         "Principal of 5001 digits", "Condition value nested 5000 deep",
         "Resource nested 100 deep", "a statement containing itself",
         "JSON text with a 5000-digit number", "context value nested 5000 deep",
         "action of 5001 digits", "action nested 5000 deep", "resource nested 5000 deep",
         "principal of 5001 digits", "resource_account of 5001 digits",
         "context date of 5001 digits"],
)  # fmt: skip
def test_bad_input_beyond_any_policy_is_refused_naming_where_and_the_fix(kwargs, error, words):
    """GRAMMAR: a policy nests six levels at most (policy, Statement, statement, Condition,
    operator, values); numbers longer than Python converts to text are refused with a fix, not
    a raw ValueError or RecursionError from inside."""
    ask = dict(policies=PUBLISH, action="events:PutEvents", resource=SALES_BUS) | kwargs
    positional = [ask.pop(name) for name in ("policies", "action", "resource")]

    with pytest.raises(error) as refused:
        check_access(*positional, **ask)

    assert isinstance(refused.value, MeshkitError)
    for word in words:
        assert word in str(refused.value), str(refused.value)
    assert len(str(refused.value)) < 1000  # the value is abbreviated, not printed whole


@pytest.mark.parametrize(
    ("value", "expected"), [(HUGE, "implicit deny"), (-HUGE, "allowed")], ids=["huge", "-huge"]
)
def test_a_number_of_any_length_in_context_is_compared_exactly(value, expected):
    """OPERATORS: Numeric operators compare numbers; a context value is the caller's, and
    meshkit compares it exactly however long it is."""
    limited = policy(allow(**when("NumericLessThan", "s3:max-keys", "10")))

    decision = check_access(limited, "events:PutEvents", SALES_BUS, {"s3:max-keys": value})

    assert decision.decision == expected
