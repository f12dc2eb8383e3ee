"""meshkit.mesh.archives: archive a domain bus, and replay its events to a consumer that joins late.

AWS pages cited below:
- CreateArchive: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_CreateArchive.html
- StartReplay: https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_StartReplay.html
- User guide, archiving and replaying events:
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html and
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from queues import drain

import meshkit as mk
import meshkit._aws
import meshkit.mesh.archives as rp
from meshkit.exceptions import (
    ConflictError,
    MeshkitError,
    NotFoundError,
    NotMeshkitResourceError,
    TargetError,
    ValidationError,
)

EVENTS = Path(__file__).parent / "events"
LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)
SALE = {"source": ["sales.domain"]}


# -- helpers ------------------------------------------------------------------------------------


def _clients(mesh):
    session = mesh.session()
    return (
        session.client("events", endpoint_url=mesh.endpoint_url),
        session.client("sqs", endpoint_url=mesh.endpoint_url),
    )


def _sales(*ids: int) -> list[mk.events.DomainEvent]:
    return [
        mk.events.DomainEvent(
            "sales.domain",
            "SaleRecorded",
            {"sale_id": f"S-{i}", "amount": 10.0 + i, "timestamp": "2026-01-29T10:00:00"},
            idempotency_key=f"sale-S-{i}",
        )
        for i in ids
    ]


def _keys(bodies: list[dict]) -> list[str]:
    return sorted(body["detail"]["metadata"]["idempotency_key"] for body in bodies)


@pytest.fixture
def archived(mesh):
    """SalesEventBus archived; Marketing subscribed from the start; three sales published and
    received by Marketing; Audit subscribes afterwards, with nothing in its queue."""
    mk.buses.create_domain_bus("sales")
    arn = rp.create_archive("SalesEventBus", name="sales")
    marketing = mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=SALE)
    assert mk.events.publish("SalesEventBus", _sales(1, 2, 3)).sent == 3
    events, sqs = _clients(mesh)
    assert len(drain(sqs, marketing.queue_url)) == 3
    audit = mk.subscriptions.subscribe("audit", bus="SalesEventBus", pattern=SALE)
    return dataclasses.make_dataclass("Archived", ["arn", "marketing", "audit", "events", "sqs"])(
        arn, marketing, audit, events, sqs
    )


# -- create_archive -----------------------------------------------------------------------------


def test_create_archive_is_idempotent_and_marks_meshkit_in_the_description(mesh):
    """Given a meshkit domain bus, when its archive is created twice with the same settings,
    then the same ARN comes back and the archive's Description carries meshkit's ownership
    (CreateArchive takes no Tags); with another retention or pattern it is refused, unchanged
    (API_CreateArchive: RetentionDays 0 = indefinitely)."""
    bus = mk.buses.create_domain_bus("sales", owner="sales-platform")
    events, _ = _clients(mesh)

    first = rp.create_archive("SalesEventBus", retention_days=7, pattern=SALE)
    again = rp.create_archive(bus, retention_days=7, pattern={"source": ["sales.domain"]})

    assert first == again == "arn:aws:events:us-west-2:123456789012:archive/SalesEventBus-archive"
    described = events.describe_archive(ArchiveName="SalesEventBus-archive")
    assert described["EventSourceArn"] == bus
    assert described["RetentionDays"] == 7
    assert json.loads(described["EventPattern"]) == SALE
    assert described["Description"] == (
        "meshkit:workbook=true; meshkit:domain=sales; meshkit:owner=sales-platform"
    )
    assert rp.archive_owner(described["Description"])["meshkit:domain"] == "sales"
    with pytest.raises(rp.ArchiveConflictError, match=r"retention_days=7, not 0") as other:
        rp.create_archive("SalesEventBus", retention_days=0, pattern=SALE)
    assert isinstance(other.value, ConflictError)
    with pytest.raises(rp.ArchiveConflictError, match=r"pattern .*not none \(every event\)"):
        rp.create_archive("SalesEventBus", retention_days=7)
    assert events.describe_archive(ArchiveName="SalesEventBus-archive")["RetentionDays"] == 7


def test_create_archive_defaults_to_a_finite_retention_and_every_event(mesh):
    """Given no retention or pattern, when the archive is created, then it keeps events 30
    days (not AWS's default of forever) and archives every event (no EventPattern)."""
    mk.buses.create_domain_bus("sales")
    events, _ = _clients(mesh)

    rp.create_archive("SalesEventBus", name="sales")

    described = events.describe_archive(ArchiveName="sales")
    assert described["RetentionDays"] == rp.DEFAULT_RETENTION_DAYS == 30
    assert "EventPattern" not in described


def test_create_archive_refuses_a_bus_meshkit_did_not_make_and_one_that_is_missing(mesh):
    """Given a bus made by hand (no meshkit:workbook tag), when it is to be archived, then
    meshkit refuses and creates nothing; a bus that does not exist is named as missing."""
    events, _ = _clients(mesh)
    events.create_event_bus(Name="HandMadeBus")

    with pytest.raises(rp.NotMeshkitBusError, match="HandMadeBus was not created by meshkit"):
        rp.create_archive("HandMadeBus")
    with pytest.raises(rp.UnknownBusError, match="'NoSuchEventBus' does not exist") as missing:
        rp.create_archive("NoSuchEventBus", name="x")

    assert isinstance(missing.value, NotFoundError)
    assert events.list_archives()["Archives"] == []


def test_create_archive_refuses_an_archive_of_that_name_it_did_not_make(mesh):
    """Given an archive created by hand under the name meshkit would use, when meshkit creates
    its archive, then it refuses rather than adopt it (its Description has no marker)."""
    bus = mk.buses.create_domain_bus("sales")
    events, _ = _clients(mesh)
    events.create_archive(ArchiveName="SalesEventBus-archive", EventSourceArn=bus)

    with pytest.raises(rp.NotMeshkitArchiveError, match="meshkit did not create it"):
        rp.create_archive("SalesEventBus")


# -- replay: the backfill -----------------------------------------------------------------------


def test_a_late_consumer_is_backfilled_and_sees_replay_name(archived):
    """Given three sales archived before Audit subscribed, when the whole archive is replayed
    to every rule (StartReplay without FilterArns; the user guide: replayed events carry
    replay-name and are not archived again), then Audit receives the three sales with their
    idempotency keys and replay-name; Marketing, which had them, receives them again, marked
    as replayed, so it stays idempotent on the key."""
    result = rp.replay("sales", start=LONG_AGO, name="audit-backfill")

    assert (result.name, result.state, result.archive, result.bus) == (
        "audit-backfill",
        "COMPLETED",
        "sales",
        "SalesEventBus",
    )
    assert result.arn == "arn:aws:events:us-west-2:123456789012:replay/audit-backfill"
    assert result.rules is None and result.archive_event_count == 3 and result.start == LONG_AGO
    audit = drain(archived.sqs, archived.audit.queue_url)
    again = drain(archived.sqs, archived.marketing.queue_url)
    assert _keys(audit) == _keys(again) == ["sale-S-1", "sale-S-2", "sale-S-3"]
    assert {rp.replay_name(body) for body in audit + again} == {"audit-backfill"}
    # Replayed events are not archived again.
    described = archived.events.describe_archive(ArchiveName="sales")
    assert described["EventCount"] == 3


def test_naming_every_enabled_rule_runs_offline_and_sends_filter_arns(archived):
    """Given rules naming every enabled rule of the bus (by name and by ARN), when replayed
    offline, then moto's behaviour (every rule) is what AWS would do, so it runs; the request
    carries their ARNs in Destination.FilterArns (API_StartReplay, ReplayDestination)."""
    result = rp.replay(
        "sales",
        start=LONG_AGO,
        rules=[archived.audit.name, archived.marketing.rule_arn, archived.audit.rule_arn],
        name="everyone",
    )

    assert result.rules == (archived.audit.rule_arn, archived.marketing.rule_arn)
    stored = archived.events.describe_replay(ReplayName="everyone")["Destination"]
    assert stored == {
        "Arn": BUS_ARN,
        "FilterArns": [archived.audit.rule_arn, archived.marketing.rule_arn],
    }
    assert len(drain(archived.sqs, archived.audit.queue_url)) == 3


def test_a_default_replay_name_is_unique_and_the_end_defaults_to_now(archived):
    """Given no name and no end, when replayed twice, then each replay has its own name (names
    stay taken: StartReplay answers ResourceAlreadyExistsException) and the window ends now."""
    before = datetime.now(timezone.utc)
    first = rp.replay("sales", start=LONG_AGO)
    second = rp.replay(archived.arn, start=LONG_AGO)

    assert first.name != second.name
    assert first.name.startswith("sales-") and len(first.name) == len("sales-") + 17
    assert before <= first.end <= datetime.now(timezone.utc)
    rp.replay("sales", start=LONG_AGO, name="sales-backfill")
    with pytest.raises(rp.ReplayExistsError, match="'sales-backfill' exists already"):
        rp.replay("sales", start=LONG_AGO, name="sales-backfill")


# -- replay: what moto would not honour is refused offline --------------------------------------


def _nothing_replayed(archived) -> None:
    assert archived.events.list_replays()["Replays"] == []
    assert drain(archived.sqs, archived.audit.queue_url) == []
    assert drain(archived.sqs, archived.marketing.queue_url) == []


def test_offline_a_window_that_starts_after_the_archive_was_made_is_refused(archived):
    """Given a window starting after the archive was created, when replayed on the embedded
    AWS, then meshkit refuses, naming start, the archive's creation and the fix: moto would
    replay every archived event (parity P19), AWS only those in the window (API_StartReplay:
    "Only events that occurred between the EventStartTime and EventEndTime are replayed")."""
    created = archived.events.describe_archive(ArchiveName="sales")["CreationTime"]

    with pytest.raises(rp.ReplayNotHonouredOfflineError) as refused:
        rp.replay("sales", start=created + timedelta(milliseconds=1))

    message = str(refused.value)
    assert message.startswith("start ")
    assert created.isoformat() in message
    assert "Widen the window" in message and "MESHKIT_TARGET=aws" in message
    assert isinstance(refused.value, TargetError)
    _nothing_replayed(archived)


def test_offline_a_window_that_ends_before_now_is_refused(archived):
    """Given a window ending before now, when replayed on the embedded AWS, then meshkit
    refuses, naming end (moto would also replay what was archived after it)."""
    with pytest.raises(rp.ReplayNotHonouredOfflineError, match=r"^end .* is before now"):
        rp.replay("sales", start=LONG_AGO, end=datetime.now(timezone.utc) - timedelta(seconds=1))

    _nothing_replayed(archived)


def test_offline_rules_that_leave_out_an_enabled_rule_are_refused(archived):
    """Given rules naming only Audit's rule while Marketing's is enabled on the bus, when
    replayed on the embedded AWS, then meshkit refuses, naming Marketing's rule: moto ignores
    FilterArns and would send Marketing the events again (parity P19)."""
    with pytest.raises(rp.ReplayNotHonouredOfflineError) as refused:
        rp.replay("sales", start=LONG_AGO, rules=[archived.audit.rule_arn])

    message = str(refused.value)
    assert message.startswith("rules leaves out 'marketing-sales' of bus SalesEventBus")
    assert "'audit-sales'" not in message  # named, so not left out
    assert "Events-Archive-sales" not in message  # the archive's managed rule does not count
    _nothing_replayed(archived)


def test_offline_a_disabled_rule_left_out_does_not_stop_the_replay(archived):
    """Given Marketing's rule disabled, when Audit's rule alone is named, then the replay runs:
    AWS sends nothing to a disabled rule either way. moto still does, as it does with published
    events (the ledger's "rule DISABLED ignored" line), which meshkit cannot prevent."""
    archived.events.disable_rule(Name=archived.marketing.name, EventBusName="SalesEventBus")

    result = rp.replay("sales", start=LONG_AGO, rules=[archived.audit.name], name="audit-only")

    assert result.state == "COMPLETED"
    assert _keys(drain(archived.sqs, archived.audit.queue_url)) == [
        "sale-S-1",
        "sale-S-2",
        "sale-S-3",
    ]
    assert len(drain(archived.sqs, archived.marketing.queue_url)) == 3  # moto, not AWS


# -- replay: every invalid input refused by name, before anything is sent ------------------------

NAIVE = datetime(2026, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"archive": 3}, "archive", "must be a string"),
        ({"archive": ""}, "archive", "1 to 48"),
        ({"archive": "a" * 49}, "archive", "1 to 48"),
        ({"archive": "sales archive"}, "archive", "letters, digits"),
        (
            {"archive": "arn:aws:events:us-west-2:123456789012:bus/x"},
            "archive",
            "not an archive ARN",
        ),
        (
            {"archive": "arn:aws:events:us-west-2:111122223333:archive/sales"},
            "archive",
            "account 111122223333",
        ),
        ({"start": NAIVE}, "start", "no time zone"),
        ({"start": date(2026, 1, 1)}, "start", "must be a datetime"),
        ({"start": "2026-01-01T00:00:00Z"}, "start", "must be a datetime"),
        ({"end": NAIVE}, "end", "no time zone"),
        ({"end": LONG_AGO}, "end", "is not after start"),
        ({"start": LONG_AGO + timedelta(days=1), "end": LONG_AGO}, "end", "is not after start"),
        ({"rules": "marketing-sales"}, "rules", "must be a list"),
        ({"rules": []}, "rules", "is empty"),
        ({"rules": [3]}, "rules[0]", "not a string"),
        ({"rules": ["ok", "bad name!"]}, "rules[1]", "letters, digits"),
        ({"rules": ["r" * 65]}, "rules[0]", "1 to 64"),
        ({"rules": ["arn:aws:events:us-west-2:123456789012:nope"]}, "rules[0]", "not a rule ARN"),
        (
            {"rules": ["arn:aws:events:us-west-2:123456789012:rule/OtherBus/audit-sales"]},
            "rules[0]",
            "rule of bus OtherBus",
        ),
        ({"name": ""}, "name", "1 to 64"),
        ({"name": "r" * 65}, "name", "1 to 64"),
        ({"name": 7}, "name", "must be a string"),
        ({"wait": "yes"}, "wait", "True or False"),
        ({"timeout_s": 0}, "timeout_s", "above 0"),
        ({"timeout_s": True}, "timeout_s", "above 0"),
        ({"timeout_s": float("nan")}, "timeout_s", "above 0"),
        ({"timeout_s": "60"}, "timeout_s", "above 0"),
    ],
)
def test_replay_refuses_each_invalid_input_by_name(archived, kwargs, field, words):
    """Given an argument StartReplay's model or meshkit's rules refuse (API_StartReplay:
    ReplayName 1-64 of [.-_A-Za-z0-9]; EventStartTime before EventEndTime), when replay is
    called, then a ValidationError names the field and the rule, and nothing is replayed."""
    arguments = {"archive": "sales", "start": LONG_AGO, **kwargs}

    with pytest.raises(ValidationError) as refused:
        rp.replay(**arguments)

    assert str(refused.value).startswith(f"{field} ")
    assert words in str(refused.value)
    _nothing_replayed(archived)


def test_replay_names_an_unknown_archive_and_an_unknown_rule(archived):
    """Given an archive name or a rule name that does not exist, when replay is called, then a
    NotFoundError names it (AWS was asked), and nothing is replayed."""
    with pytest.raises(rp.UnknownArchiveError, match="archive 'nope' does not exist"):
        rp.replay("nope", start=LONG_AGO)
    with pytest.raises(rp.UnknownRuleError, match=r"rules\[1\] 'ghost': there is no rule") as gone:
        rp.replay("sales", start=LONG_AGO, rules=[archived.audit.name, "ghost"])

    assert isinstance(gone.value, NotFoundError)
    _nothing_replayed(archived)


@pytest.mark.parametrize("where", ["444455556666:rule", "123456789012:rule"])
def test_replay_refuses_a_rule_arn_of_another_account_or_region(archived, where):
    """A rule ARN names its account and Region: another one's rule of the same name is not this
    bus's rule, and is refused rather than swapped for the local one."""
    region = "eu-west-1" if where.startswith("123") else "us-west-2"
    arn = f"arn:aws:events:{region}:{where}/SalesEventBus/{archived.audit.name}"

    with pytest.raises(ValidationError, match=r"rules\[0\] .* is a rule of account"):
        rp.replay("sales", start=LONG_AGO, rules=[arn])

    _nothing_replayed(archived)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"retention_days": 2**31}, "retention_days", "int32"),
        ({"bus": 3}, "bus", "must be a string"),
        ({"bus": "Sales Bus"}, "bus", "not one EventBridge takes"),
        ({"retention_days": True}, "retention_days", "whole number"),
        ({"retention_days": -1}, "retention_days", "whole number"),
        ({"retention_days": 1.5}, "retention_days", "whole number"),
        ({"retention_days": "7"}, "retention_days", "whole number"),
        ({"name": ""}, "name", "1 to 48"),
        ({"name": "a" * 49}, "name", "1 to 48"),
        ({"name": "sales/archive"}, "name", "letters, digits"),
        ({"pattern": {"source": "sales.domain"}}, "event pattern at source", "must be a list"),
    ],
)
def test_create_archive_refuses_each_invalid_input_by_name(mesh, kwargs, field, words):
    """Given an argument CreateArchive would refuse (API_CreateArchive: ArchiveName 1-48 of
    [.-_A-Za-z0-9]; RetentionDays an integer of at least 0) or an invalid pattern, when
    create_archive is called, then a ValidationError names it and no archive is made."""
    mk.buses.create_domain_bus("sales")
    events, _ = _clients(mesh)

    with pytest.raises(ValidationError) as refused:
        rp.create_archive(**{"bus": "SalesEventBus", **kwargs})

    assert str(refused.value).startswith(field)
    assert words in str(refused.value)
    assert events.list_archives()["Archives"] == []


def test_a_derived_archive_name_too_long_asks_for_a_name(mesh):
    """Given a bus whose name leaves no room for '-archive' within 48 characters, when archived
    without a name, then meshkit asks for name=..., rather than cut the name."""
    with pytest.raises(ValidationError, match=r"is 49 characters; CreateArchive allows 48"):
        rp.create_archive("B" * 41)


# -- delete_archive -----------------------------------------------------------------------------


def test_delete_archive_deletes_only_meshkits_archives(mesh):
    """Given meshkit's archive and one made by hand on the same bus, when both are deleted,
    then meshkit's goes (its managed rule with it, so the bus can be deleted next) and the other
    is refused and kept; a missing archive answers False."""
    bus = mk.buses.create_domain_bus("sales")
    events, _ = _clients(mesh)
    events.create_archive(ArchiveName="by-hand", EventSourceArn=bus, Description="ours")
    arn = rp.create_archive("SalesEventBus", name="sales")

    with pytest.raises(rp.NotMeshkitArchiveError, match="will not delete it") as refused:
        rp.delete_archive("by-hand")
    assert isinstance(refused.value, NotMeshkitResourceError)
    assert rp.delete_archive(arn) is True
    assert rp.delete_archive("sales") is False

    names = [archive["ArchiveName"] for archive in events.list_archives()["Archives"]]
    assert names == ["by-hand"]
    events.delete_archive(ArchiveName="by-hand")
    assert mk.buses.delete_domain_bus("sales") is True


def test_delete_archive_refuses_an_other_accounts_arn_and_a_bad_name(mesh):
    """Given an archive ARN of another account, or a name AWS would refuse, when deleted, then
    meshkit refuses by name, before any call: DeleteArchive takes only a name, which would
    reach this account's archive of that name."""
    with pytest.raises(ValidationError, match=r"^name .* account 111122223333"):
        rp.delete_archive("arn:aws:events:us-west-2:111122223333:archive/sales")
    with pytest.raises(ValidationError, match=r"^name must be a string"):
        rp.delete_archive(None)


# -- replay_name --------------------------------------------------------------------------------


def test_replay_name_reads_bodies_records_and_text():
    """Given the SQS event sample of the Lambda developer guide (tests/events/sqs_event.json),
    when replay_name reads a record, its body's text or the parsed body, then a live event gives
    None, and the same event with replay-name gives the replay's name."""
    record = json.loads((EVENTS / "sqs_event.json").read_text())["Records"][0]
    body = json.loads(record["body"])
    replayed = {**body, "replay-name": "marketing-backfill"}

    assert rp.replay_name(record) is None
    assert rp.replay_name(record["body"]) is None
    assert rp.replay_name(body) is None
    assert rp.replay_name(replayed) == "marketing-backfill"
    assert rp.replay_name(json.dumps(replayed).encode()) == "marketing-backfill"
    assert rp.replay_name({**record, "body": json.dumps(replayed)}) == "marketing-backfill"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"Records": []}, "whole Lambda event"),
        ("not json", "not JSON"),
        ("[1, 2]", "a list, not an EventBridge event"),
        (3, "int, not an EventBridge event"),
        ({"id": "x"}, "no 'detail-type' or 'source'"),
        ({"source": "s", "detail-type": "d", "replay-name": 5}, "replay-name is a int"),
    ],
)
def test_replay_name_refuses_what_is_not_one_event(event, words):
    """Given something that is not one delivered EventBridge event, when replay_name reads it,
    then a ValidationError says what to pass instead (never a KeyError or TypeError)."""
    with pytest.raises(ValidationError, match="event") as refused:
        rp.replay_name(event)

    assert words in str(refused.value)


# -- on real AWS: requests checked with botocore's Stubber --------------------------------------
# The answers below are the test's, in the shapes of the API reference, never shown as AWS's.

BUS_ARN = "arn:aws:events:us-west-2:123456789012:event-bus/SalesEventBus"
ARCHIVE_ARN = "arn:aws:events:us-west-2:123456789012:archive/sales"
AUDIT_RULE = "arn:aws:events:us-west-2:123456789012:rule/SalesEventBus/audit-sales"
CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
WINDOW = (datetime(2026, 2, 1, tzinfo=timezone.utc), datetime(2026, 2, 2, tzinfo=timezone.utc))


@pytest.fixture
def aws(mesh, monkeypatch):
    """The real-AWS path: the target says aws, and EventBridge is a stubbed client."""
    client = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2"
    ).client("events")
    real = dataclasses.replace(mesh, mode="aws")
    monkeypatch.setattr(meshkit._aws, "target", lambda: real)
    monkeypatch.setattr(meshkit._aws, "client", lambda name, s=None, **kw: client)
    sleeps: list[float] = []
    monkeypatch.setattr(rp.time, "sleep", sleeps.append)
    with Stubber(client) as stub:
        stub.sleeps = sleeps
        yield stub
        stub.assert_no_pending_responses()


def _archive_answer(stub: Stubber) -> None:
    stub.add_response(
        "describe_archive",
        {
            "ArchiveArn": ARCHIVE_ARN,
            "ArchiveName": "sales",
            "EventSourceArn": BUS_ARN,
            "Description": "meshkit:workbook=true; meshkit:domain=sales",
            "State": "ENABLED",
            "EventCount": 42,
            "CreationTime": CREATED,
        },
        {"ArchiveName": "sales"},
    )


def test_on_aws_replay_sends_the_window_and_filter_arns_then_waits(aws):
    """Given real AWS, when a one-day window is replayed to Audit's rule only, then meshkit
    looks the rule up, checks no replay of the archive is running (ListReplays), sends
    StartReplay with EventStartTime, EventEndTime and Destination.FilterArns exactly
    (API_StartReplay), and polls DescribeReplay until COMPLETED; nothing is refused, since AWS
    honours the window and the rules."""
    _archive_answer(aws)
    aws.add_response(
        "describe_rule",
        {"Name": "audit-sales", "Arn": AUDIT_RULE},
        {"Name": "audit-sales", "EventBusName": "SalesEventBus"},
    )
    aws.add_response(
        "list_replays",
        {"Replays": [{"ReplayName": "old", "State": "COMPLETED"}], "NextToken": "t"},
        {"EventSourceArn": ARCHIVE_ARN},
    )
    aws.add_response(
        "list_replays",
        {"Replays": [{"ReplayName": "older", "State": "FAILED"}]},
        {"EventSourceArn": ARCHIVE_ARN, "NextToken": "t"},
    )
    aws.add_response(
        "start_replay",
        {"ReplayArn": "arn:aws:events:us-west-2:123456789012:replay/audit", "State": "STARTING"},
        {
            "ReplayName": "audit",
            "Description": "meshkit:workbook=true",
            "EventSourceArn": ARCHIVE_ARN,
            "EventStartTime": WINDOW[0],
            "EventEndTime": WINDOW[1],
            "Destination": {"Arn": BUS_ARN, "FilterArns": [AUDIT_RULE]},
        },
    )
    aws.add_response("describe_replay", {"State": "RUNNING"}, {"ReplayName": "audit"})
    aws.add_response("describe_replay", {"State": "COMPLETED"}, {"ReplayName": "audit"})

    result = rp.replay(
        ARCHIVE_ARN, start=WINDOW[0], end=WINDOW[1], rules=["audit-sales"], name="audit"
    )

    assert result == rp.ReplayResult(
        name="audit",
        arn="arn:aws:events:us-west-2:123456789012:replay/audit",
        archive="sales",
        bus="SalesEventBus",
        state="COMPLETED",
        start=WINDOW[0],
        end=WINDOW[1],
        rules=(AUDIT_RULE,),
        archive_event_count=42,
    )
    assert aws.sleeps == [rp._POLL_S]


def test_on_aws_every_rule_means_no_filter_arns_and_wait_false_returns_at_once(aws):
    """Given rules=None and wait=False, when replayed on AWS, then Destination has no
    FilterArns (AWS's default: every rule) and replay returns StartReplay's state unpolled."""
    _archive_answer(aws)
    aws.add_response("list_replays", {"Replays": []}, {"EventSourceArn": ARCHIVE_ARN})
    aws.add_response(
        "start_replay",
        {"ReplayArn": "arn:aws:events:us-west-2:123456789012:replay/all", "State": "STARTING"},
        {
            "ReplayName": "all",
            "Description": "meshkit:workbook=true",
            "EventSourceArn": ARCHIVE_ARN,
            "EventStartTime": WINDOW[0],
            "EventEndTime": WINDOW[1],
            "Destination": {"Arn": BUS_ARN},
        },
    )

    result = rp.replay("sales", start=WINDOW[0], end=WINDOW[1], name="all", wait=False)

    assert (result.state, result.rules) == ("STARTING", None)
    assert aws.sleeps == []


def test_on_aws_a_running_replay_of_the_archive_stops_another(aws):
    """Given a replay of the archive still RUNNING, when another is asked for, then meshkit
    refuses, naming the running one and what to do, and sends no StartReplay."""
    _archive_answer(aws)
    aws.add_response(
        "list_replays",
        {"Replays": [{"ReplayName": "first", "State": "RUNNING"}]},
        {"EventSourceArn": ARCHIVE_ARN},
    )

    with pytest.raises(rp.ReplayInProgressError, match=r"replay 'first' .* is still RUNNING"):
        rp.replay("sales", start=WINDOW[0], end=WINDOW[1], name="second")


def test_on_aws_a_replay_still_running_after_the_timeout_raises_with_its_state(aws, monkeypatch):
    """Given a replay that stays RUNNING, when waiting longer than timeout_s, then a
    ReplayTimeoutError carries the state and the result (the replay goes on at AWS)."""
    clock = iter([0.0, 0.0, 20.0])
    monkeypatch.setattr(rp.time, "monotonic", lambda: next(clock))
    _archive_answer(aws)
    aws.add_response("list_replays", {"Replays": []})
    aws.add_response(
        "start_replay", {"ReplayArn": "arn:aws:events:us-west-2:123456789012:replay/slow"}
    )
    aws.add_response("describe_replay", {"State": "RUNNING", "StateReason": "in progress"})
    aws.add_response("describe_replay", {"State": "RUNNING"})

    with pytest.raises(rp.ReplayTimeoutError, match="still RUNNING after 10 s") as late:
        rp.replay("sales", start=WINDOW[0], end=WINDOW[1], name="slow", timeout_s=10)

    assert late.value.state == "RUNNING" and late.value.result.name == "slow"
    assert isinstance(late.value, MeshkitError) and isinstance(late.value, TimeoutError)
    assert aws.sleeps == [5.0]


def test_on_aws_a_taken_replay_name_is_refused_by_name(aws):
    """Given a replay name already used (StartReplay: ResourceAlreadyExistsException), when
    replayed, then ReplayExistsError says replay names stay taken and what to pass."""
    _archive_answer(aws)
    aws.add_response("list_replays", {"Replays": []})
    aws.add_client_error("start_replay", "ResourceAlreadyExistsException", "exists")

    with pytest.raises(rp.ReplayExistsError, match="pass another name") as taken:
        rp.replay("sales", start=WINDOW[0], end=WINDOW[1], name="audit")

    assert isinstance(taken.value, ConflictError)
