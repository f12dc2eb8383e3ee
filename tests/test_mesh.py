"""The live mesh operated (mk.mesh): discover, lint (a seeded mesh per finding), `meshkit lint`,
the mesh as CloudFormation deployed and checked, and teardown by tag.

AWS pages the rules come from:
- targets, retries and DLQs: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
- queue policies for EventBridge: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
- one cross-account hop: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-account.html
- ListRules / ListTargetsByRule / ListEventBuses pagination (NextToken):
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRules.html
- CloudFormation change sets: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html
"""

from __future__ import annotations

import json
import warnings

import pytest

import meshkit as mk
from meshkit.cli import main
from meshkit.exceptions import ValidationError
from meshkit.mesh import Mesh, Rule, Target, TeardownError, export_stacks, lint_stacks

ACCOUNT = "123456789012"
OTHER = "444455556666"
THIRD = "777788889999"


@pytest.fixture
def workbook_mesh(mesh):
    """A mesh shaped like notebooks 01-05's: domain buses, subscriptions with DLQs, a bus
    policy with a source condition, and one domain consuming its own events."""
    for domain in ("sales", "marketing", "fraud", "governance"):
        mk.buses.create_domain_bus(domain)
    pattern = {"source": ["sales.domain"]}
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=pattern)
    mk.subscriptions.subscribe("fraud", bus="SalesEventBus", pattern=pattern)
    mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=pattern, name="sales-landing")
    mk.subscriptions.subscribe(
        "marketing",
        bus="GovernanceEventBus",
        pattern={"source": ["governance.domain"], "account": [ACCOUNT]},
    )
    return mesh


def _events(mesh, session=None):
    return (session or mesh.session()).client("events", endpoint_url=mesh.endpoint_url)


def _sqs(mesh, session=None):
    return (session or mesh.session()).client("sqs", endpoint_url=mesh.endpoint_url)


def _issues(findings) -> set[tuple[str, str]]:
    return {(row.issue, row.resource) for row in findings.itertuples()}


def _meshkit_lint(capsys, *args: str) -> tuple[int, set[tuple[str, str]]]:
    """`meshkit lint --format json` as a pipeline runs it: exit status, (issue, resource)s."""
    capsys.readouterr()
    status = main(["lint", "--format", "json", *args])
    found = json.loads(capsys.readouterr().out)
    return status, {(finding["issue"], finding["resource"]) for finding in found}


def _target(mesh, rule: str, bus: str = "SalesEventBus") -> dict:
    [target] = _events(mesh).list_targets_by_rule(Rule=rule, EventBusName=bus)["Targets"]
    return target


def _rule_arn(rule: str, bus: str = "SalesEventBus", account: str = ACCOUNT) -> str:
    return f"arn:aws:events:us-west-2:{account}:rule/{bus}/{rule}"


def _queue_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:sqs:us-west-2:{account}:{name}"


# -- discover ----------------------------------------------------------------------------------


def test_discover_reads_buses_rules_targets_queues_and_dlqs(workbook_mesh):
    """Given the workbook-like mesh, when discovered, then every bus, rule (with its target, DLQ
    and retry policy) and queue (with its redrive DLQ, policy and tags) is in the model."""
    found = mk.mesh.discover()

    assert {bus.name for bus in found.buses} == {
        "SalesEventBus", "MarketingEventBus", "FraudEventBus", "GovernanceEventBus",
    }  # fmt: skip
    rules = {rule.name: rule for rule in found.rules}
    assert set(rules) == {"marketing-sales", "fraud-sales", "sales-landing", "marketing-governance"}
    [target] = rules["marketing-sales"].targets
    assert target.arn == _queue_arn("marketing-sales")
    assert target.dead_letter_arn == _queue_arn("marketing-sales-dlq")
    assert target.retry_policy == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    queue = found.queue(_queue_arn("marketing-sales"))
    assert queue.dead_letter_arn == _queue_arn("marketing-sales-dlq")
    assert queue.policy is not None and queue.tags["meshkit:domain"] == "marketing"
    assert found.queue(_queue_arn("marketing-sales-dlq")) is not None
    assert found.accounts == (ACCOUNT,) and found.embedded


def test_discover_leaves_out_managed_rules_and_an_empty_default_bus(workbook_mesh):
    """Given an archive (whose Events-Archive-* rule AWS manages), when discovered, then that
    rule is not in the model, the archive is, and the empty default bus is not."""
    events = _events(workbook_mesh)
    bus = events.describe_event_bus(Name="SalesEventBus")["Arn"]
    events.create_archive(ArchiveName="sales-archive", EventSourceArn=bus, RetentionDays=7)

    found = mk.mesh.discover()

    assert not [rule for rule in found.rules if rule.name.startswith("Events-Archive-")]
    assert [archive.name for archive in found.archives] == ["sales-archive"]
    assert "default" not in {bus.name for bus in found.buses}


def test_paged_reads_every_page():
    """Given a list call that answers in three pages, then paged returns every item, in order,
    passing each NextToken on (the List* APIs page with NextToken)."""
    pages = {None: (["a", "b"], "t1"), "t1": (["c"], "t2"), "t2": (["d"], None)}
    calls = []

    def call(**kwargs):
        calls.append(kwargs.get("NextToken"))
        items, token = pages[kwargs.get("NextToken")]
        return {"Items": items, **({"NextToken": token} if token else {})}

    from meshkit._shared import paged

    assert paged(call, "Items", Limit=2) == ["a", "b", "c", "d"]
    assert calls == [None, "t1", "t2"]


def test_discover_across_accounts_reads_a_cross_account_queue_and_draws_the_edge(workbook_mesh):
    """Given a rule in this account whose target is a queue in another account, when discovered
    with that account's session, then the queue is read there and the picture draws the arrow
    thick, inside one box per account."""
    other = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")
    url = _sqs(workbook_mesh, other).create_queue(QueueName="audit-sales")["QueueUrl"]
    events = _events(workbook_mesh)
    events.put_targets(
        Rule="fraud-sales",
        EventBusName="SalesEventBus",
        Targets=[{"Id": "audit", "Arn": _queue_arn("audit-sales", OTHER)}],
    )

    found = mk.mesh.discover(other_accounts=[other])

    assert found.accounts == (ACCOUNT, OTHER)
    assert found.queue(_queue_arn("audit-sales", OTHER)).url == url
    picture = found.picture()
    assert f'subgraph a1["account {OTHER}"]' in picture
    assert '==>|"fraud-sales"|' in picture
    frame = found.frames()["subscriptions"]
    assert frame[frame["target"] == "audit-sales"]["cross_account"].tolist() == [True]


@pytest.mark.parametrize("given", ["a session", [object()], 42])
def test_discover_refuses_other_accounts_that_are_not_sessions(mesh, given):
    with pytest.raises(ValidationError, match="other_accounts"):
        mk.mesh.discover(other_accounts=given)


def test_the_picture_gives_names_with_dashes_and_dots_nodes_of_their_own(mesh):
    """Given buses named a-b and a.b (Mermaid would read either as syntax), then each is one
    node with a generated id, its name only in the label."""
    events = _events(mesh)
    for name in ("a-b", "a.b"):
        events.create_event_bus(Name=name)

    picture = mk.mesh.discover().picture()

    assert '(["a-b"])' in picture and '(["a.b"])' in picture


# -- lint: the workbook's mesh is clean, each seeded problem is found ----------------------------


def test_lint_finds_nothing_in_a_mesh_meshkit_built(workbook_mesh):
    assert mk.mesh.lint().empty


def test_lint_target_without_dlq(workbook_mesh, capsys):
    target = _target(workbook_mesh, "marketing-sales")
    del target["DeadLetterConfig"]
    _events(workbook_mesh).put_targets(Rule="marketing-sales", EventBusName="SalesEventBus",
                                       Targets=[target])  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    where = f"{_rule_arn('marketing-sales')} -> {_queue_arn('marketing-sales')}"
    assert _issues(found) == {("TARGET_WITHOUT_DLQ", where)}
    assert found["severity"].tolist() == ["HIGH"]
    assert status == 1 and from_the_command == _issues(found)


def test_lint_target_without_retry_policy(workbook_mesh, capsys):
    target = _target(workbook_mesh, "fraud-sales")
    del target["RetryPolicy"]
    _events(workbook_mesh).put_targets(Rule="fraud-sales", EventBusName="SalesEventBus",
                                       Targets=[target])  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    where = f"{_rule_arn('fraud-sales')} -> {_queue_arn('fraud-sales')}"
    assert _issues(found) == {("TARGET_WITHOUT_RETRY_POLICY", where)}
    assert found["severity"].tolist() == ["LOW"]
    assert status == 1 and from_the_command == _issues(found)


def test_lint_target_queue_not_found(workbook_mesh, capsys):
    sqs = _sqs(workbook_mesh)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="fraud-sales")["QueueUrl"])

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    assert ("TARGET_NOT_FOUND", f"{_rule_arn('fraud-sales')} -> {_queue_arn('fraud-sales')}") in (
        _issues(found)
    )
    assert status == 1 and from_the_command == _issues(found)


@pytest.mark.parametrize(
    "arn, why",
    [
        ("arn:aws:dynamodb:us-west-2:123456789012:table/Sales", "does not deliver to dynamodb"),
        ("arn:aws:lambda:us-west-2:123456789012:function:audit", "embedded AWS (moto) cannot"),
    ],
)
def test_lint_unsupported_target(workbook_mesh, arn, why, capsys):
    """A DynamoDB table is no EventBridge target anywhere; a Lambda function is one, but the
    embedded AWS fails PutEvents for the whole bus when a rule targets it."""
    events = _events(workbook_mesh)
    events.put_rule(Name="audit", EventBusName="SalesEventBus",
                    EventPattern=json.dumps({"source": ["sales.domain"]}))  # fmt: skip
    events.tag_resource(ResourceARN=_rule_arn("audit"),
                        Tags=[{"Key": "meshkit:owner", "Value": "audit-team"}])  # fmt: skip
    events.put_targets(
        Rule="audit",
        EventBusName="SalesEventBus",
        Targets=[{"Id": "t", "Arn": arn, "RetryPolicy": {"MaximumRetryAttempts": 3},
                  "DeadLetterConfig": {"Arn": _queue_arn("fraud-sales-dlq")}}],
    )  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    # fraud-sales-dlq admits its own rule only: the audit rule's failures could not land there
    assert set(found["issue"]) == {"UNSUPPORTED_TARGET", "DLQ_POLICY_NOT_FOR_RULE"}
    assert why in found[found["issue"] == "UNSUPPORTED_TARGET"]["why"].iloc[0]
    assert status == 1 and from_the_command == _issues(found)


def test_lint_queue_without_a_policy(workbook_mesh, capsys):
    sqs = _sqs(workbook_mesh)
    url = sqs.get_queue_url(QueueName="marketing-sales")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    where = f"{_rule_arn('marketing-sales')} -> {_queue_arn('marketing-sales')}"
    assert _issues(found) == {("QUEUE_POLICY_MISSING", where)}
    assert status == 1 and from_the_command == _issues(found)


def test_lint_queue_policy_not_scoped_by_source_arn(workbook_mesh, capsys):
    """A queue policy admitting EventBridge with no aws:SourceArn: any rule in any account
    could fill the queue (mk.iam.lint's finding), and this rule is not named (ours)."""
    sqs = _sqs(workbook_mesh)
    url = sqs.get_queue_url(QueueName="marketing-sales")["QueueUrl"]
    open_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": _queue_arn("marketing-sales")}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(open_policy)})

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    assert ("QUEUE_POLICY_WITHOUT_SOURCE_ARN", _queue_arn("marketing-sales")) in _issues(found)
    assert (
        "QUEUE_POLICY_NOT_FOR_RULE",
        f"{_rule_arn('marketing-sales')} -> {_queue_arn('marketing-sales')}",
    ) in _issues(found)
    assert status == 1 and from_the_command == _issues(found)


def test_lint_bus_policy_without_source_or_organization_condition(workbook_mesh, capsys):
    """A bus policy that lets another account put any event: the bus is shared, so its rules
    without an `account` filter take that account's events as the domain's own."""
    _events(workbook_mesh).put_permission(
        EventBusName="SalesEventBus", Action="events:PutEvents", Principal=OTHER,
        StatementId="partner",
    )  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    bus = f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/SalesEventBus"
    assert ("BUS_POLICY_WITHOUT_SOURCE_CONDITION", bus) in _issues(found)
    without_filter = {r for i, r in _issues(found) if i == "RULE_WITHOUT_ACCOUNT_FILTER"}
    assert without_filter == {_rule_arn(r) for r in ("marketing-sales", "fraud-sales",
                                                      "sales-landing")}  # fmt: skip
    assert status == 1 and from_the_command == _issues(found)


def test_lint_a_rule_with_an_account_filter_on_a_shared_bus_is_fine(workbook_mesh):
    _events(workbook_mesh).put_permission(
        EventBusName="GovernanceEventBus", Action="events:PutEvents", Principal=OTHER,
        StatementId="partner",
    )  # fmt: skip

    found = mk.mesh.lint()

    assert "RULE_WITHOUT_ACCOUNT_FILTER" not in set(found["issue"])


def test_lint_chain_of_two_cross_account_hops(workbook_mesh, capsys):
    """Sales forwards to a hub bus in another account, which forwards on to a third account:
    AWS does not deliver that second hop."""
    hub = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")
    hub_events = _events(workbook_mesh, hub)
    hub_arn = hub_events.create_event_bus(Name="HubEventBus")["EventBusArn"]
    third = f"arn:aws:events:us-west-2:{THIRD}:event-bus/AnalyticsEventBus"
    for events, bus, rule, target in (
        (_events(workbook_mesh), "SalesEventBus", "to-hub", hub_arn),
        (hub_events, "HubEventBus", "to-analytics", third),
    ):
        events.put_rule(Name=rule, EventBusName=bus, EventPattern='{"source":["sales.domain"]}')
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[{
            "Id": "bus", "Arn": target, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/forward",
            "DeadLetterConfig": {"Arn": _queue_arn("fraud-sales-dlq")},
            "RetryPolicy": {"MaximumRetryAttempts": 3}}])  # fmt: skip

    found = mk.mesh.lint(mk.mesh.discover(other_accounts=[hub]))
    status, from_the_command = _meshkit_lint(capsys, "--role", f"arn:aws:iam::{OTHER}:role/x")

    chains = {r for i, r in _issues(found) if i == "CROSS_ACCOUNT_CHAIN"}
    assert chains == {f"{_rule_arn('to-analytics', 'HubEventBus', OTHER)} -> {third}"}
    assert status == 1 and from_the_command == _issues(found)


def test_lint_pattern_check_pattern_refuses(workbook_mesh, capsys):
    """moto stores a pattern with an unknown operator (and then matches everything with it)."""
    events = _events(workbook_mesh)
    events.put_rule(Name="marketing-sales", EventBusName="SalesEventBus",
                    EventPattern=json.dumps({"source": [{"like": "sales%"}]}))  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    assert _issues(found) == {("PATTERN_REFUSED", _rule_arn("marketing-sales"))}
    assert status == 1 and from_the_command == _issues(found)


def test_lint_untagged_and_ownerless_resources(workbook_mesh, capsys):
    events = _events(workbook_mesh)
    bus = events.create_event_bus(Name="orders")["EventBusArn"]
    queue = _sqs(workbook_mesh).create_queue(QueueName="orders-audit",
                                             tags={"team": "audit"})["QueueUrl"]  # fmt: skip
    del queue
    events.put_rule(Name="audit", EventBusName="orders", EventPattern='{"source":["orders"]}',
                    Tags=[{"Key": "meshkit:domain", "Value": "audit"}])  # fmt: skip
    events.put_targets(Rule="audit", EventBusName="orders", Targets=[{
        "Id": "q", "Arn": _queue_arn("orders-audit"),
        "DeadLetterConfig": {"Arn": _queue_arn("fraud-sales-dlq")},
        "RetryPolicy": {"MaximumRetryAttempts": 3}}])  # fmt: skip

    found = mk.mesh.lint()
    status, from_the_command = _meshkit_lint(capsys)

    owners = {(i, r) for i, r in _issues(found) if i in ("UNTAGGED", "NO_OWNER")}
    assert owners == {
        ("UNTAGGED", bus),
        ("NO_OWNER", _rule_arn("audit", "orders")),
        ("NO_OWNER", _queue_arn("orders-audit")),
    }
    assert status == 1 and from_the_command == _issues(found)


def test_lint_sorts_most_severe_first_and_failing_filters_by_severity():
    logs = Target("t", f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:x")
    rule = Rule(_rule_arn("r"), "r", "SalesEventBus", '{"source":["x"]}', "ENABLED",
                targets=(logs,))  # fmt: skip

    found = mk.mesh.lint(Mesh(rules=(rule,), accounts=(ACCOUNT,)))

    assert found["severity"].tolist() == ["HIGH", "MEDIUM", "LOW"]
    assert len(mk.mesh.failing(found, at="MEDIUM")) == 2
    with pytest.raises(ValidationError, match="use one of LOW, MEDIUM, HIGH, CRITICAL"):
        mk.mesh.failing(found, at="high")


@pytest.mark.parametrize("given", [{}, "mesh", 3])
def test_lint_refuses_what_is_not_a_mesh(mesh, given):
    with pytest.raises(ValidationError, match="mesh must be a Mesh"):
        mk.mesh.lint(given)


# -- meshkit lint, the command -----------------------------------------------------------------


def test_meshkit_lint_exits_0_on_a_clean_mesh(workbook_mesh, capsys):
    assert main(["lint"]) == 0
    assert "No findings" in capsys.readouterr().out


def test_meshkit_lint_exits_1_and_prints_json_for_a_pipeline(workbook_mesh, capsys):
    _events(workbook_mesh).create_event_bus(Name="orders")

    status = main(["lint", "--format", "json"])

    assert status == 1
    [finding] = json.loads(capsys.readouterr().out)
    assert finding["issue"] == "UNTAGGED" and finding["severity"] == "MEDIUM"
    assert set(finding) == {"severity", "issue", "resource", "why", "fix"}


def test_meshkit_lint_fail_on_high_lets_medium_findings_pass(workbook_mesh, capsys):
    _events(workbook_mesh).create_event_bus(Name="orders")

    assert main(["lint", "--fail-on", "high"]) == 0
    assert "1 finding(s), 0 at or above HIGH" in capsys.readouterr().out


def test_meshkit_lint_refuses_to_read_a_new_empty_aws(monkeypatch, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("MESHKIT_TARGET", raising=False)

    assert main(["lint"]) == 2
    assert "no mesh named" in capsys.readouterr().err


# -- the mesh as code --------------------------------------------------------------------------


def test_exported_stacks_pass_cfn_lint_one_stack_per_domain(workbook_mesh):
    stacks = export_stacks(mk.mesh.discover())

    assert set(stacks.templates) == {f"meshkit-{d}" for d in
                                     ("sales", "marketing", "fraud", "governance")}  # fmt: skip
    assert lint_stacks(stacks).empty
    sales = stacks.templates["meshkit-sales"]
    rule = sales["Resources"]["RuleMarketingSales"]["Properties"]
    assert rule["EventBusName"] == {"Fn::GetAtt": ["BusSalesEventBus", "Name"]}
    assert rule["Targets"][0]["Arn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${MarketingAccountId}:marketing-sales"
    }
    assert sales["Parameters"]["MarketingAccountId"]["Default"] == ACCOUNT


def test_cfn_lint_fails_a_broken_template(workbook_mesh):
    """The check can fail: a rule whose State is not a state is an error."""
    stacks = export_stacks(mk.mesh.discover())
    stacks.templates["meshkit-sales"]["Resources"]["RuleMarketingSales"]["Properties"]["State"] = (
        "SOMETIMES"
    )

    found = lint_stacks(stacks)

    assert set(found["stack"]) == {"meshkit-sales"} and found["rule"].str.startswith("E").all()


def test_stacks_deploy_with_change_sets_and_the_deployed_mesh_is_the_exported_one(workbook_mesh):
    """Given the workbook-like mesh exported, when deployed into another account of the
    embedded AWS (a server deploy_stacks did not start), then every stack completes, every
    declared resource exists except the types moto skips (named, P27), and the deployed mesh's
    map equals the exported one except what moto drops (bus tags, policies; named)."""
    expected = mk.mesh.discover()
    stacks = export_stacks(expected)
    production = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")

    with warnings.catch_warnings():  # moto warns once per resource type it skips
        warnings.simplefilter("ignore", UserWarning)
        deployed = mk.mesh.deploy_stacks(stacks, boto3_session=production)
    checked = mk.mesh.check_deployed(stacks, expected, boto3_session=production)

    assert set(deployed["status"]) == {"CREATE_COMPLETE"}
    missing = checked[~checked["exists"]]
    assert set(missing["type"]) <= {"AWS::SQS::QueuePolicy", "map: bus-tags", "map: queue-policy"}
    assert missing["note"].str.contains("embedded AWS").all()
    assert (
        len(checked[checked["exists"]])
        == len(stacks.resources()) - (stacks.resources()["type"] == "AWS::SQS::QueuePolicy").sum()
    )


def test_a_second_deploy_changes_nothing_and_a_deleted_queue_is_reported(workbook_mesh):
    expected = mk.mesh.discover()
    stacks = export_stacks(expected)
    production = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mk.mesh.deploy_stacks(stacks, boto3_session=production)
        again = mk.mesh.deploy_stacks(stacks, boto3_session=production)
    sqs = _sqs(workbook_mesh, production)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="fraud-sales")["QueueUrl"])

    checked = mk.mesh.check_deployed(stacks, expected, boto3_session=production)

    assert set(again["status"]) <= {"UNCHANGED", "UPDATE_COMPLETE"}
    gone = checked[(checked["resource"] == "fraud-sales") & ~checked["exists"]]
    assert "declared, but not found" in set(gone["note"])


@pytest.mark.parametrize(
    "accounts, match",
    [({"sales": "12345"}, "12 digits"), ({"billing": ACCOUNT}, "no stack holds"), ("x", "dict")],
)
def test_deploy_refuses_bad_account_ids(workbook_mesh, accounts, match):
    stacks = export_stacks(mk.mesh.discover())

    with pytest.raises(ValidationError, match=match):
        mk.mesh.deploy_stacks(stacks, accounts=accounts)


# -- teardown ----------------------------------------------------------------------------------


def _untagged(mesh) -> dict[str, str]:
    """Resources someone else made, without meshkit's tag: a bus, a queue, a table, a bucket."""
    session = mesh.session()
    bus = _events(mesh).create_event_bus(Name="orders")["EventBusArn"]
    queue = _sqs(mesh).create_queue(QueueName="orders-audit")["QueueUrl"]
    dynamodb = session.client("dynamodb", endpoint_url=mesh.endpoint_url)
    dynamodb.create_table(TableName="Orders", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])  # fmt: skip
    session.client("s3", endpoint_url=mesh.endpoint_url).create_bucket(
        Bucket="orders-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    return {"bus": bus, "queue": queue}


def test_teardown_dry_run_lists_what_would_go_and_changes_nothing(workbook_mesh):
    before = mk.mesh.discover()

    report = mk.mesh.teardown()

    assert set(report.actions["status"]) == {"would"}
    assert mk.mesh.discover() == before
    assert not report.clean  # everything found is still there


def test_teardown_removes_every_tagged_resource_and_no_untagged_one(workbook_mesh):
    others = _untagged(workbook_mesh)
    mk.sales.create_sales_table() if hasattr(mk.sales, "create_sales_table") else None

    report = mk.mesh.teardown(dry_run=False)

    assert report.clean, report.remaining
    assert set(report.actions["status"]) == {"done"}
    steps = report.actions.groupby("kind")["step"].first()
    assert steps["rule"] < steps["event bus"] < steps["SQS queue"]  # dependency order
    session = workbook_mesh.session()
    assert [b["Name"] for b in _events(workbook_mesh).list_event_buses()["EventBuses"]] == [
        "default",
        "orders",
    ]
    assert _sqs(workbook_mesh).list_queues()["QueueUrls"] == [others["queue"]]
    assert session.client("dynamodb", endpoint_url=workbook_mesh.endpoint_url).list_tables()[
        "TableNames"
    ] == ["Orders"]
    buckets = session.client("s3", endpoint_url=workbook_mesh.endpoint_url).list_buckets()
    assert [b["Name"] for b in buckets["Buckets"]] == ["orders-data"]


def test_teardown_keeps_a_meshkit_bus_that_carries_someone_elses_rule(workbook_mesh):
    """EventBridge deletes a bus's rules with it: an untagged rule on meshkit's bus keeps it."""
    events = _events(workbook_mesh)
    events.put_rule(Name="their-rule", EventBusName="FraudEventBus",
                    EventPattern='{"source":["x"]}')  # fmt: skip

    report = mk.mesh.teardown(dry_run=False)

    kept = report.actions[report.actions["resource"].str.endswith("/FraudEventBus")]
    assert kept["action"].iloc[0].startswith("keep: carries rule(s) their-rule")
    assert events.describe_rule(Name="their-rule", EventBusName="FraudEventBus")["Name"]
    assert list(report.remaining["resource"]) == [
        f"arn:aws:events:us-west-2:{ACCOUNT}:event-bus/FraudEventBus"
    ]


def test_teardown_releases_an_adopted_bus_instead_of_deleting_it(mesh):
    events = _events(mesh)
    events.create_event_bus(Name="SalesEventBus")
    mk.buses.create_domain_bus("sales", adopt=True)

    report = mk.mesh.teardown(dry_run=False)

    assert report.actions["action"].tolist() == ["release"] and report.clean
    arn = events.describe_event_bus(Name="SalesEventBus")["Arn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


def test_teardown_removes_stacks_it_deployed_with_their_resources(workbook_mesh):
    stacks = export_stacks(mk.mesh.discover())
    production = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mk.mesh.deploy_stacks(stacks, boto3_session=production)

        report = mk.mesh.teardown(dry_run=False, boto3_session=production)

    assert set(report.actions["kind"]) == {"CloudFormation stack"} and report.clean
    assert mk.mesh.discover(boto3_session=production).buses == ()


def test_teardown_interrupted_says_how_far_it_got(workbook_mesh, monkeypatch):
    """Ctrl-C in the middle: TeardownError carries what was removed and what remains."""
    from meshkit.mesh import removal

    original = removal._delete_rule
    calls = []

    def interrupted(clients, found):
        calls.append(found.resource)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original(clients, found)

    monkeypatch.setattr(removal, "_KINDS", [
        (kind, scan, interrupted if remove is original else remove)
        for kind, scan, remove in removal._KINDS
    ])  # fmt: skip

    with pytest.raises(TeardownError) as stopped:
        mk.mesh.teardown(dry_run=False)

    report = stopped.value.report
    assert report.actions["status"].tolist()[:1] == ["done"]
    assert not report.clean and "run it again" in str(stopped.value)


@pytest.mark.parametrize("given", ["no", 0, None])
def test_teardown_refuses_a_dry_run_that_is_not_a_bool(mesh, given):
    with pytest.raises(ValidationError, match="dry_run must be True or False"):
        mk.mesh.teardown(dry_run=given)


# -- after an adversarial review ---------------------------------------------------------------


def test_teardown_keeps_a_bus_with_someone_elses_archive_and_the_archive(workbook_mesh):
    events = _events(workbook_mesh)
    bus = events.describe_event_bus(Name="FraudEventBus")["Arn"]
    events.create_archive(ArchiveName="theirs", EventSourceArn=bus, Description="by hand")

    report = mk.mesh.teardown(dry_run=False)

    kept = report.actions[report.actions["resource"] == bus]["action"].iloc[0]
    assert kept.startswith("keep: archive(s) theirs")
    assert [a["ArchiveName"] for a in events.list_archives()["Archives"]] == ["theirs"]


def test_teardown_releases_adopted_rules_glue_databases_and_roles(mesh):
    """meshkit:adopted=true means it existed before meshkit: its tags go, it stays."""
    session = mesh.session()
    adopted = {"meshkit:workbook": "true", "meshkit:adopted": "true"}
    events = _events(mesh)
    events.put_rule(Name="their-rule", EventPattern='{"source":["x"]}',
                    Tags=[{"Key": k, "Value": v} for k, v in adopted.items()])  # fmt: skip
    glue = session.client("glue", endpoint_url=mesh.endpoint_url)
    glue.create_database(DatabaseInput={"Name": "theirdb"}, Tags=adopted)
    iam = session.client("iam", endpoint_url=mesh.endpoint_url)
    iam.create_role(RoleName="their-role", AssumeRolePolicyDocument="{}",
                    Tags=[{"Key": k, "Value": v} for k, v in adopted.items()])  # fmt: skip

    report = mk.mesh.teardown(dry_run=False)

    assert set(report.actions["action"]) == {"release"} and report.clean
    assert events.describe_rule(Name="their-rule")["Name"] == "their-rule"
    assert glue.get_database(Name="theirdb")["Database"]["Name"] == "theirdb"
    assert iam.list_role_tags(RoleName="their-role")["Tags"] == []


def test_teardown_that_loses_the_connection_says_how_far_it_got(workbook_mesh):
    from botocore.exceptions import EndpointConnectionError

    client = mk._aws.client("events", None)

    def lost(**_):
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

    client.meta.events.register("before-call.events.DeleteEventBus", lost)
    try:
        with pytest.raises(TeardownError) as stopped:
            mk.mesh.teardown(dry_run=False)
    finally:
        client.meta.events.unregister("before-call.events.DeleteEventBus", lost)

    assert "EndpointConnectionError" in str(stopped.value)
    assert not stopped.value.report.clean


def test_deploy_refuses_to_update_a_stack_meshkit_did_not_deploy(workbook_mesh):
    cloudformation = workbook_mesh.session().client(
        "cloudformation", endpoint_url=workbook_mesh.endpoint_url
    )
    theirs = {"Resources": {"Q": {"Type": "AWS::SQS::Queue",
                                  "Properties": {"QueueName": "their-queue"}}}}  # fmt: skip
    cloudformation.create_stack(StackName="meshkit-sales", TemplateBody=json.dumps(theirs))

    with pytest.raises(mk.exceptions.NotMeshkitResourceError, match="meshkit did not deploy"):
        mk.mesh.deploy_stacks(export_stacks(mk.mesh.discover()).only("sales"))

    assert _sqs(workbook_mesh).get_queue_url(QueueName="their-queue")["QueueUrl"]


def test_export_carries_fifo_targets_transformers_queue_settings_and_descriptions(mesh):
    """What discover reads, the template declares, and the deployed mesh has again."""
    sqs, events = _sqs(mesh), _events(mesh)
    mk.buses.create_domain_bus("sales")
    sqs.create_queue(QueueName="orders.fifo", tags={"meshkit:owner": "o"},
                     Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"})  # fmt: skip
    events.put_rule(Name="ordered", EventBusName="SalesEventBus", Description="in order",
                    EventPattern='{"source":["sales.domain"]}')  # fmt: skip
    events.put_targets(Rule="ordered", EventBusName="SalesEventBus", Targets=[{
        "Id": "q", "Arn": _queue_arn("orders.fifo"),
        "SqsParameters": {"MessageGroupId": "sales"},
        "InputTransformer": {"InputPathsMap": {"id": "$.id"}, "InputTemplate": '{"id": <id>}'},
    }])  # fmt: skip
    expected = mk.mesh.discover()
    stacks = export_stacks(expected)
    production = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mk.mesh.deploy_stacks(stacks, boto3_session=production)
    checked = mk.mesh.check_deployed(stacks, expected, boto3_session=production)

    body = json.dumps(stacks.templates, indent=2)
    assert '"MessageGroupId": "sales"' in body and '"InputTemplate"' in body
    assert '"VisibilityTimeout": 300' in body and '"Description": "in order"' in body
    assert lint_stacks(stacks).empty
    assert checked[checked["type"].str.startswith("map: rule")].empty
    assert checked[checked["type"] == "map: queue"].empty


def test_deploy_where_the_resources_already_exist_is_a_deploy_error(workbook_mesh):
    with pytest.raises(mk.mesh.DeployError) as failed:
        mk.mesh.deploy_stacks(export_stacks(mk.mesh.discover()))

    assert "may already exist" in str(failed.value) or "ended" in str(failed.value)
    assert len(failed.value.results)


def test_discover_leaves_out_a_queue_deleted_while_it_reads(workbook_mesh):
    client = mk._aws.client("sqs", None)
    raw = _sqs(workbook_mesh)
    deleted = []

    def delete_first(params, **_):
        if not deleted:
            deleted.append(params["QueueUrl"])
            raw.delete_queue(QueueUrl=params["QueueUrl"])

    client.meta.events.register("provide-client-params.sqs.ListQueueTags", delete_first)
    try:
        found = mk.mesh.discover()
    finally:
        client.meta.events.unregister("provide-client-params.sqs.ListQueueTags", delete_first)

    assert deleted and deleted[0].rsplit("/", 1)[-1] not in {q.name for q in found.queues}


def test_lint_a_forward_with_meshkit_defaults_states_retries_and_wants_a_dlq(workbook_mesh):
    mk.subscriptions.forward("SalesEventBus", "MarketingEventBus",
                             pattern={"source": ["sales.domain"]}, name="to-marketing")  # fmt: skip
    dlq = _queue_arn("marketing-sales-dlq")
    mk.subscriptions.forward("SalesEventBus", "FraudEventBus", pattern={"source": ["sales.domain"]},
                             name="to-fraud", dead_letter_queue_arn=dlq)  # fmt: skip

    found = mk.mesh.lint()

    assert sorted((i, r.split(" ")[0]) for i, r in _issues(found)) == [
        ("DLQ_POLICY_NOT_FOR_RULE", _rule_arn("to-fraud")),  # that DLQ admits marketing-sales
        ("TARGET_WITHOUT_DLQ", _rule_arn("to-marketing")),
    ]


def test_lint_a_bus_shared_only_for_rules_asks_no_account_filter(workbook_mesh):
    sales = _events(workbook_mesh).describe_event_bus(Name="SalesEventBus")["Arn"]
    mk.iam.attach_bus_policy("SalesEventBus", mk.iam.bus_policy(sales, rule_accounts=[OTHER]))

    assert "RULE_WITHOUT_ACCOUNT_FILTER" not in set(mk.mesh.lint()["issue"])


def test_lint_reads_an_arn_like_source_arn_with_wildcards(workbook_mesh):
    sqs = _sqs(workbook_mesh)
    url = sqs.get_queue_url(QueueName="marketing-sales")["QueueUrl"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": _queue_arn("marketing-sales"),
        "Condition": {"ArnLike": {"aws:SourceArn": _rule_arn("*")}}}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    assert "QUEUE_POLICY_NOT_FOR_RULE" not in set(mk.mesh.lint()["issue"])


def test_lint_a_cross_account_queue_target_without_a_role(workbook_mesh):
    _events(workbook_mesh).put_targets(Rule="fraud-sales", EventBusName="SalesEventBus",
        Targets=[{"Id": "audit", "Arn": _queue_arn("audit-sales", OTHER),
                  "DeadLetterConfig": {"Arn": _queue_arn("fraud-sales-dlq")},
                  "RetryPolicy": {"MaximumRetryAttempts": 3}}])  # fmt: skip

    found = mk.mesh.lint()

    assert set(found["issue"]) == {"CROSS_ACCOUNT_TARGET_WITHOUT_ROLE"}


@pytest.mark.parametrize(
    "mesh_of, match",
    [
        (lambda q: (q("x", policy={"Statement": []}), q("x-policy")), "would both be"),
        (lambda q: (q("a-b"), q("a_b")), "would both be"),
    ],
)
def test_export_refuses_resources_whose_logical_ids_collide(mesh_of, match):
    from meshkit.mesh import Queue

    def queue(name, **settings):
        arn = f"arn:aws:sqs:us-west-2:{ACCOUNT}:{name}"
        return Queue(arn, "u", tags={"meshkit:domain": "d"}, **settings)

    with pytest.raises(ValidationError, match=match):
        export_stacks(Mesh(queues=mesh_of(queue), accounts=(ACCOUNT,)))


@pytest.mark.parametrize("prefix", ["meshkit_", "ü-", "m" * 65, "", 3])
def test_export_refuses_a_stack_prefix_cloudformation_would_refuse(prefix):
    with pytest.raises(ValidationError, match="stack_prefix"):
        export_stacks(Mesh(), stack_prefix=prefix)


def test_export_says_other_accounts_principals_by_parameter(workbook_mesh):
    _events(workbook_mesh).put_permission(EventBusName="FraudEventBus", Action="events:PutEvents",
                                          Principal=ACCOUNT, StatementId="own")  # fmt: skip

    stacks = export_stacks(mk.mesh.discover())

    assert ACCOUNT not in json.dumps(stacks.templates["meshkit-fraud"]["Resources"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: mk.mesh.discover(boto3_session="x"),
        lambda: mk.mesh.teardown(boto3_session=5),
        lambda: mk.mesh.lint_stacks(None),
        lambda: mk.mesh.lint_stacks(export_stacks(Mesh()), regions="us-east-1"),
        lambda: mk.mesh.failing(None),
        lambda: export_stacks(Mesh()).write(None),
        lambda: export_stacks(Mesh()).body([]),
        lambda: Mesh(buses=None),
        lambda: mk.mesh.arn_part("arn:aws:sqs:us-west-2:1:q", "nope"),
        lambda: mk.mesh.deploy_stacks(export_stacks(Mesh()), timeout_s=float("nan")),
        lambda: mk.mesh.deploy_stacks(export_stacks(Mesh()), timeout_s=float("inf")),
    ],
)
def test_bad_arguments_are_refused_by_name(mesh, call):
    with pytest.raises(ValidationError):
        call()


def test_meshkit_lint_with_a_role_that_is_no_arn_exits_2(workbook_mesh, capsys):
    assert main(["lint", "--role", "notanarn"]) == 2
    assert "not an IAM role ARN" in capsys.readouterr().err


def test_the_template_size_is_measured_as_sent(workbook_mesh):
    stacks = export_stacks(mk.mesh.discover())
    sent = json.dumps(stacks.templates["meshkit-sales"], separators=(",", ":"))

    assert len(sent) < len(stacks.body("meshkit-sales"))


def test_check_deployed_finds_a_queue_policy_that_exists(workbook_mesh):
    """CloudFormation on AWS makes queue policies; the check asks the queue, not the stack."""
    expected = mk.mesh.discover()
    stacks = export_stacks(expected)
    production = mk.iam.assume_role(f"arn:aws:iam::{OTHER}:role/platform")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mk.mesh.deploy_stacks(stacks, boto3_session=production)
    sqs = _sqs(workbook_mesh, production)
    url = sqs.get_queue_url(QueueName="fraud-sales")["QueueUrl"]
    policy = expected.queue(_queue_arn("fraud-sales")).policy
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    checked = mk.mesh.check_deployed(stacks, expected, boto3_session=production)

    policies = checked[checked["type"] == "AWS::SQS::QueuePolicy"]
    found = policies[policies["exists"]]["resource"].tolist()
    assert found == ["policy of QueueFraudSales"]
