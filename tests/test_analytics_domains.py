"""CustomerSupport's cases and Marketing's sales per minute (issue 13, point 2): consumers of
FraudSuspected and SaleRecorded that process a redelivered event once."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pandas as pd
import pytest

import meshkit as mk
from meshkit.analytics import domains as dom
from meshkit.exceptions import NotMeshkitResourceError, ValidationError

SQS_SAMPLE = json.loads((Path(__file__).parent / "events" / "sqs_event.json").read_text())
AT = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def suspicion(card="card-1", kind="card_burst", score=0.5, **extra):
    found = mk.analytics.Suspicion.make(
        kind, card, [f"{card}-S-1", f"{card}-S-2"], {"sales": 2}, AT,
        customer_id="cust-1", score=score,
    )  # fmt: skip
    return {**found.detail, **extra}


def body(detail_type, data, source="fraud.domain"):
    """The body EventBridge puts on the queue: the whole event, meshkit's envelope as detail."""
    event = json.loads(SQS_SAMPLE["Records"][0]["body"])
    event.update({"detail-type": detail_type, "source": source})
    event["detail"] = {"metadata": {"idempotency_key": "k", "schema_version": "1.0"}, "data": data}
    return json.dumps(event)


def sqs_event(*bodies):
    """An SQS event in the canonical shape (tests/events/sqs_event.json), one record per body."""
    records = []
    for i, text in enumerate(bodies):
        record = copy.deepcopy(SQS_SAMPLE["Records"][0])
        record.update({"messageId": f"m-{i}", "body": text})
        records.append(record)
    return {"Records": records}


def tap(mesh, bus, name="tap"):
    """A queue subscribed to everything on ``bus``; returns a function that drains it."""
    sub = mk.subscriptions.subscribe(
        "audit", bus=bus, pattern={"source": ["customer-support.domain"]}, name=name
    )
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)

    def drain():
        bodies = []
        while batch := sqs.receive_message(QueueUrl=sub.queue_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            bodies += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(
                QueueUrl=sub.queue_url,
                Entries=[
                    {"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch
                ],
            )
        return bodies

    return drain


@pytest.fixture
def support(mesh):
    """The Fraud and CustomerSupport buses, the cases table, a tap on CustomerSupport's bus."""
    mk.buses.create_domain_bus("fraud")
    mk.buses.create_domain_bus("customer-support")
    dom.create_cases_table()
    return tap(mesh, "CustomerSupportEventBus")


@pytest.fixture
def minutes(mesh):
    mk.buses.create_domain_bus("sales")
    dom.create_sales_minutes_table()


# -- CustomerSupport ----------------------------------------------------------------------------


def test_redelivered_suspicion_opens_one_case_end_to_end(support):
    """Given CustomerSupport subscribed to FraudSuspected on the Fraud bus,
    when the same suspicion is published twice and the queue is run,
    then both deliveries succeed, one case is open and CaseOpened was published once
    (issue 13's acceptance: the case-opening consumer processes a redelivered suspicion once)."""
    sub = mk.subscriptions.subscribe(
        "customer-support",
        bus="FraudEventBus",
        pattern={"source": ["fraud.domain"], "detail-type": ["FraudSuspected"]},
    )
    event = mk.analytics.Suspicion.make("card_testing", "card-9", ["S-1"], {}, AT).to_event()
    for _ in range(2):  # a producer's retry: EventBridge gives it a new id, SQS a new message
        assert mk.events.publish("FraudEventBus", [event]).ok

    summary = mk.consumers.run(dom.case_handler(), sub.queue_url, max_messages=2)

    assert (summary.processed, summary.failed) == (2, 0)
    cases = dom.list_cases()
    assert cases[["suspicion_id", "kind", "status", "priority"]].values.tolist() == [
        [event.detail["suspicion_id"], "card_testing", "open", "high"]
    ]
    assert re.fullmatch(r"case-[0-9a-f]{16}", cases["case_id"][0])
    opened = support()
    assert [e["detail-type"] for e in opened] == ["CaseOpened"]
    assert opened[0]["source"] == "customer-support.domain"
    assert opened[0]["detail"]["data"]["case_id"] == cases["case_id"][0]
    assert bool(cases["announced"][0]) is True


def test_case_holds_the_suspicion(support):
    """Given a suspicion with a customer and a high score, then its case holds its fields."""
    handler = dom.case_handler(publish_opened=False)

    assert handler(sqs_event(body("FraudSuspected", suspicion(score=0.9))), None) == {
        "batchItemFailures": []
    }

    case = dom.list_cases(status="open").iloc[0]
    assert case["sale_ids"] == ["card-1-S-1", "card-1-S-2"]
    assert (case["card_id"], case["customer_id"], case["kind"]) == (
        "card-1",
        "cust-1",
        "card_burst",
    )
    assert (case["priority"], case["score"]) == ("high", 0.9)
    assert case["opened_at"].tzinfo is not None
    assert support() == []  # publish_opened=False


def test_malformed_suspicions_fail_only_their_records(support):
    """Given a batch with a good suspicion, one without kind, one of an unknown kind, one that is
    not JSON and one that is not an EventBridge event, then only the bad four are reported, and
    the good one opens its case and is announced."""
    good = suspicion()
    no_kind = {k: v for k, v in suspicion(card="card-2").items() if k != "kind"}
    event = sqs_event(
        body("FraudSuspected", good),
        body("FraudSuspected", no_kind),
        body("FraudSuspected", suspicion(card="card-3", kind="shoplifting")),
        "not json",
        json.dumps(["no", "detail"]),
    )

    answer = dom.case_handler()(event, None)

    assert answer == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (1, 2, 3, 4)]}
    assert dom.list_cases()["card_id"].tolist() == ["card-1"]
    assert len(support()) == 1


def test_events_of_other_types_are_skipped(support):
    """Given a SaleRecorded on the cases queue (a too-wide pattern), then it succeeds, no case."""
    sale = {"sale_id": "S-1", "amount": 1.0, "timestamp": "2026-06-01T12:00:00Z"}
    answer = dom.case_handler()(sqs_event(body("SaleRecorded", sale)), None)
    assert answer == {"batchItemFailures": []}
    assert dom.list_cases().empty


def test_every_record_failing_is_a_partial_response_not_an_exception(support):
    """Given a batch whose records all fail, then each is reported (Lambda retries them alone)."""
    answer = dom.case_handler()(sqs_event("x", "y"), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}


def test_case_opened_is_published_again_only_while_unannounced(support, monkeypatch):
    """Given the publish of CaseOpened fails once after the case was written,
    when the suspicion is delivered again, then the case is announced (once), and a third
    delivery publishes nothing."""
    event = sqs_event(body("FraudSuspected", suspicion()))
    handler = dom.case_handler()
    real_publish = mk.events.publish
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise mk.events.PublishError("EventBridge was unreachable", result=None)
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(mk.events, "publish", flaky)

    assert handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert bool(dom.list_cases()["announced"][0]) is False
    assert handler(event, None) == {"batchItemFailures": []}
    assert handler(event, None) == {"batchItemFailures": []}

    assert len(calls) == 2
    assert len(dom.list_cases()) == 1
    assert [e["detail-type"] for e in support()] == ["CaseOpened"]


def test_a_missing_table_fails_every_record_and_opens_nothing(mesh):
    """Given no cases table, then every record is reported failed (retried), nothing raised."""
    handler = dom.case_handler(table_name="NoSuchCases", publish_opened=False)
    answer = handler(sqs_event(body("FraudSuspected", suspicion())), None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}


def test_case_priority_follows_kind_and_score():
    """Given each kind at a low and a high score, then the priorities go as documented."""
    low = [dom.case_priority(kind, 0.5) for kind in mk.analytics.FRAUD_KINDS]
    high = [dom.case_priority(kind, 0.8) for kind in mk.analytics.FRAUD_KINDS]
    by_kind = dict(zip(mk.analytics.FRAUD_KINDS, zip(low, high, strict=True), strict=True))
    assert by_kind == {
        "card_testing": ("high", "urgent"),
        "card_burst": ("medium", "high"),
        "new_customer_high_amount": ("low", "medium"),
        "impossible_travel": ("high", "urgent"),
    }


def test_cases_table_is_idempotent_and_refuses_what_is_not_its_own(mesh):
    """Given the cases table, when created again then the same ARN; given a table of another key
    schema or without meshkit's tags, then create and delete refuse it and leave it."""
    arn = dom.create_cases_table()
    assert dom.create_cases_table() == arn
    dynamodb = mesh.session().client("dynamodb", endpoint_url=mesh.endpoint_url)
    for name, key in (("ForeignCases", "case_id"), ("OtherKeyCases", "id")):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    with pytest.raises(NotMeshkitResourceError, match="meshkit did not create it"):
        dom.create_cases_table(name="ForeignCases")
    with pytest.raises(ValidationError, match=r"key schema.*not case_id"):
        dom.create_cases_table(name="OtherKeyCases")
    with pytest.raises(NotMeshkitResourceError, match="delete it yourself"):
        dom.delete_cases_table(name="ForeignCases")
    with pytest.raises(NotMeshkitResourceError, match="belongs to domain 'marketing'"):
        dom.create_sales_minutes_table(name="Minutes")
        dom.delete_cases_table(name="Minutes")
    assert {"ForeignCases", "OtherKeyCases", "Minutes"} <= set(dynamodb.list_tables()["TableNames"])
    assert dom.delete_cases_table() is True


# -- Marketing ----------------------------------------------------------------------------------


def sale_body(sale_id, amount=10.0, timestamp="2026-06-01T12:03:41Z", **extra):
    data = {"sale_id": sale_id, "amount": amount, "timestamp": timestamp, **extra}
    return body("SaleRecorded", data, source="sales.domain")


def test_aggregate_equals_a_pandas_groupby_end_to_end(minutes):
    """Given Marketing subscribed to SaleRecorded and 150 simulated sales published, the first
    20 twice (a producer's retries),
    when the queue is run,
    then the per-minute and per-city counts and amounts equal a pandas groupby of the sales."""
    simulation = mk.analytics.simulate_sales(150, seed=3)
    sub = mk.subscriptions.subscribe(
        "marketing",
        bus="SalesEventBus",
        pattern={"source": ["sales.domain"], "detail-type": ["SaleRecorded"]},
    )
    handler = dom.minute_aggregate_handler(stores=simulation)
    published = list(simulation.events())
    assert mk.events.publish("SalesEventBus", published).ok
    assert mk.events.publish("SalesEventBus", published[:20]).ok

    summary = mk.consumers.run(handler, sub.queue_url, max_messages=170, time_budget_s=300)

    assert (summary.processed, summary.failed) == (170, 0)
    sales = simulation.sales.assign(minute=simulation.sales["time"].dt.floor("min"))
    for keys, by_city in ((["minute"], False), (["minute", "city"], True)):
        expected = (
            sales.groupby(keys)
            .agg(sales=("sale_id", "size"), amount=("amount", "sum"))
            .reset_index()
            .sort_values(keys, ignore_index=True)
        )
        got = dom.sales_per_minute(by_city=by_city)
        expected["minute"] = expected["minute"].astype(got["minute"].dtype)
        expected["amount"] = expected["amount"].round(2)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["sales"].sum() == 150


def test_a_redelivered_sale_counts_once(minutes):
    """Given one sale delivered twice in a batch and again in the next invocation, and another
    sale of the same minute, then the minute counts two sales and their amount exactly."""
    handler = dom.minute_aggregate_handler()
    assert handler(sqs_event(sale_body("S-1", 0.1), sale_body("S-1", 0.1)), None) == {
        "batchItemFailures": []
    }
    assert handler(sqs_event(sale_body("S-1", 0.1), sale_body("S-2", 0.2)), None) == {
        "batchItemFailures": []
    }
    frame = dom.sales_per_minute()
    assert frame.to_dict("records") == [
        {"minute": pd.Timestamp("2026-06-01 12:03", tz="UTC"), "sales": 2, "amount": 0.3}
    ]  # decimal sums: 0.1 + 0.2 is 0.3, not 0.30000000000000004
    assert dom.sales_per_minute(by_city=True).empty  # no city known


def test_ctrl_c_before_the_deletes_loses_nothing_and_counts_nothing_twice(minutes, mesh):
    """Given a run stopped by Ctrl-C after a batch was counted but before SQS deleted it,
    when the queue is run again, then every sale is counted exactly once."""
    sub = mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern={"source": ["sales.domain"]},
        visibility_timeout_s=5,
    )  # fmt: skip
    simulation = mk.analytics.simulate_sales(30, seed=3)
    assert mk.events.publish("SalesEventBus", simulation.events()).ok
    handler = dom.minute_aggregate_handler()
    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=mesh.session().region_name,
    )
    presses = []

    def ctrl_c(**_):
        presses.append(1)
        if len(presses) == 2:
            raise KeyboardInterrupt

    session.events.register("before-call.sqs.DeleteMessageBatch", ctrl_c)

    with pytest.raises(KeyboardInterrupt) as raised:
        mk.consumers.run(handler, sub.queue_url, function_timeout_s=5, boto3_session=session)
    first = raised.value.summary
    rest = mk.consumers.run(handler, sub.queue_url, time_budget_s=300, function_timeout_s=5)

    assert first.processed + rest.processed == 30
    assert mk.analytics.simulate_sales(30, seed=3).sales["amount"].sum().round(2) == (
        dom.sales_per_minute()["amount"].sum().round(2)
    )
    assert dom.sales_per_minute()["sales"].sum() == 30


def test_malformed_sales_fail_only_their_records(minutes):
    """Given sales without an amount, with a negative amount, with a timestamp that is not ISO
    8601, then only those are reported, and the good sale is counted."""
    event = sqs_event(
        sale_body("S-1"),
        body("SaleRecorded", {"sale_id": "S-2", "timestamp": "2026-06-01T12:00:00Z"}),
        sale_body("S-3", amount=-5),
        sale_body("S-4", timestamp="yesterday at noon"),
    )
    answer = dom.minute_aggregate_handler()(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (1, 2, 3)]}
    assert dom.sales_per_minute()["sales"].tolist() == [1]


def test_a_sale_city_and_stores_give_the_city_rows(minutes):
    """Given a sale with its own city, one of a listed store and one of an unlisted store,
    then the city rows are its city, the store's city and "unknown"."""
    handler = dom.minute_aggregate_handler(stores={"st-1": "Paris"})
    event = sqs_event(
        sale_body("S-1", city="Oslo", store_id="st-1"),
        sale_body("S-2", store_id="st-1"),
        sale_body("S-3", store_id="st-9"),
    )
    assert handler(event, None) == {"batchItemFailures": []}
    frame = dom.sales_per_minute(by_city=True)
    assert frame[["city", "sales"]].values.tolist() == [["Oslo", 1], ["Paris", 1], ["unknown", 1]]


def test_a_crash_between_the_minute_and_the_city_rows_completes_on_retry(minutes, monkeypatch):
    """Given DynamoDB fails the city row's update after the minute's row counted the sale,
    then the record fails; when it is delivered again, the city row counts it and the minute's
    row does not count it twice."""
    from botocore.exceptions import ClientError

    class Failing:
        def __init__(self, client):
            self.client = client

        def __getattr__(self, name):
            return getattr(self.client, name)

        def update_item(self, **kwargs):
            if "#city#" in kwargs["Key"]["pk"]["S"]:
                raise ClientError(
                    {"Error": {"Code": "InternalServerError", "Message": "try again"}}, "UpdateItem"
                )
            return self.client.update_item(**kwargs)

    real = dom._aws.client
    monkeypatch.setattr(dom._aws, "client", lambda *args: Failing(real(*args)))
    event = sqs_event(sale_body("S-1", city="Oslo"))
    assert dom.minute_aggregate_handler()(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "m-0"}]
    }
    monkeypatch.undo()
    assert dom.minute_aggregate_handler()(event, None) == {"batchItemFailures": []}

    assert dom.sales_per_minute()["sales"].tolist() == [1]
    assert dom.sales_per_minute(by_city=True)[["city", "sales"]].values.tolist() == [["Oslo", 1]]


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field", "fix"),
    [
        (lambda: dom.case_handler(table_name="ab"), "table_name", "3 to 255"),
        (lambda: dom.case_handler(table_name=5), "table_name", "e.g. table_name="),
        (lambda: dom.case_handler(bus="no spaces here"), "bus", "e.g. 'SalesEventBus'"),
        (lambda: dom.case_handler(publish_opened="yes"), "publish_opened", "True or"),
        (lambda: dom.list_cases(status=""), "status", "'open'"),
        (lambda: dom.create_cases_table(name="a b"), "name", "3 to 255"),
        (lambda: dom.delete_cases_table(name=None), "name", "e.g. name="),
        (lambda: dom.case_priority("shoplifting"), "kind", "card_burst"),
        (lambda: dom.case_priority("card_burst", 2), "score", "0 to 1"),
        (lambda: dom.case_priority("card_burst", True), "score", "0 to 1"),
        (lambda: dom.case_priority("card_burst", "0.5"), "score", "0 to 1"),
        (lambda: dom.minute_aggregate_handler(stores=5), "stores", "dict"),
        (lambda: dom.minute_aggregate_handler(stores={"s": 1}), "stores", "dict"),
        (
            lambda: dom.minute_aggregate_handler(stores=pd.DataFrame({"x": [1]})),
            "stores",
            "SalesSimulation.stores",
        ),
        (lambda: dom.sales_per_minute(by_city="yes"), "by_city", "True or"),
        (lambda: dom.create_sales_minutes_table(name="x"), "name", "3 to 255"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(mesh, sent, call, field, fix):
    """Given a bad argument, then ValidationError names the field and the fix; nothing sent."""
    with pytest.raises(ValidationError) as raised:
        call()
    assert field in str(raised.value) and fix in str(raised.value)
    assert sent == []


@pytest.mark.parametrize("make", [dom.case_handler, lambda: dom.minute_aggregate_handler()])
@pytest.mark.parametrize("event", [None, {}, {"Records": "m-1"}, [1]])
def test_bad_input_event_without_records(mesh, sent, make, event):
    """Given an invocation event without a Records list, then ValidationError says what to pass;
    nothing was sent."""
    handler = make()
    with pytest.raises(ValidationError, match='"Records" list'):
        handler(event, None)
    assert sent == []
