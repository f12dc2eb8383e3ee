"""Fraud detection (issue 13): the four rules, their state in DynamoDB, the Lambda handlers."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest

import meshkit as mk
from meshkit.analytics import detectors as det
from meshkit.exceptions import ValidationError

PARIS, BERLIN = (48.8566, 2.3522), (52.52, 13.405)  # 877 km apart
STORES = {"paris-1": PARIS, "paris-2": (48.86, 2.36), "berlin-1": BERLIN}
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def sale(n, seconds, amount=30.0, card="c-1", customer="u-1", store="paris-1"):
    stamp = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"sale_id": f"S-{n:03d}", "amount": amount, "timestamp": stamp, "card_id": card,
            "customer_id": customer, "store_id": store, "currency": "EUR"}  # fmt: skip


def detect(sales, **kwargs):
    detector = det.FraudDetector(STORES, **kwargs)
    detector.state.save({"customer#u-1": {"first": 0, "last": 0, "expires_at": 2**40}})
    return detector.process(sales)


def kinds(found):
    return [(s.kind, s.sale_ids) for s in found]


# -- the rules, at their boundaries ------------------------------------------------------------


def test_burst_at_exactly_the_window_is_suspected():
    """Given 5 sales of one card spanning exactly burst_window (600 s), then they are a burst."""
    found = detect([sale(i, i * 150) for i in range(5)])
    assert kinds(found) == [("card_burst", ("S-000", "S-001", "S-002", "S-003", "S-004"))]
    assert found[0].evidence["sales"] == 5 and found[0].evidence["window_s"] == 600


def test_burst_one_second_too_slow_or_one_sale_short_is_not():
    """Given 5 sales over 601 s, or 4 sales within 600 s, then no burst."""
    assert detect([sale(i, i * 150 + (1 if i == 4 else 0)) for i in range(5)]) == []
    assert detect([sale(i, i * 100) for i in range(4)]) == []


def test_burst_grows_without_repeating_sales():
    """Given 7 sales of a burst, then the later suspicions name only the new sales."""
    found = detect([sale(i, i * 60) for i in range(7)])
    assert [s.sale_ids for s in found] == [
        ("S-000", "S-001", "S-002", "S-003", "S-004"), ("S-005",), ("S-006",)]  # fmt: skip
    assert len({s.suspicion_id for s in found}) == 3


def test_card_testing_at_the_boundaries():
    """Given 3 tiny sales within 600 s (1.99 each), then a card test; 2.00 is not tiny, and
    3 tiny over 601 s are not a test."""
    found = detect([sale(i, i * 300, amount=1.99) for i in range(3)])
    assert kinds(found) == [("card_testing", ("S-000", "S-001", "S-002"))]
    assert detect([sale(i, i * 300, amount=2.00 if i == 2 else 1.5) for i in range(3)]) == []
    assert detect([sale(i, i * 300 + (1 if i == 2 else 0), amount=1.0) for i in range(3)]) == []


def test_card_testing_followed_by_a_large_sale():
    """Given a card test, then the first sale of at least 250 within 30 min is suspected too;
    one at 249.99, or after 30 min, is not."""
    tiny = [sale(i, i * 60, amount=0.5) for i in range(3)]
    found = detect([*tiny, sale(9, 120 + 1800, amount=250.0)])
    assert kinds(found)[-1] == ("card_testing", ("S-009",))
    assert len(detect([*tiny, sale(9, 300, amount=249.99)])) == 1
    assert len(detect([*tiny, sale(9, 120 + 1801, amount=900.0)])) == 1


def test_card_test_of_five_is_not_also_a_burst():
    """Given 5 tiny sales within 10 minutes, then a card test only (not a burst as well)."""
    assert {s.kind for s in detect([sale(i, i * 60, amount=1.0) for i in range(5)])} == {
        "card_testing"
    }


def test_new_customer_high_amount_at_the_boundaries():
    """Given a new customer's first sale of exactly 1000, then suspected; 999.99 is not, nor a
    known customer's 5000."""
    detector = det.FraudDetector(STORES)
    found = detector.process([sale(1, 0, amount=1000.0, customer="new-1", card="n-1")])
    assert kinds(found) == [("new_customer_high_amount", ("S-001",))]
    assert detector.process([sale(2, 0, amount=999.99, customer="new-2", card="n-2")]) == []
    assert detector.process([sale(3, 60, amount=5000.0, customer="new-2", card="n-2")]) == []


def test_impossible_travel_at_the_speed_limit():
    """Given Paris then Berlin (877 km) slightly faster than 900 km/h, then the Berlin sale is
    suspected; at exactly the time a plane needs, it is not; nearby stores never are."""
    km = mk.analytics.distance_km(*PARIS, *BERLIN)
    plane_s = km / 900 * 3600
    fast = detect([sale(1, 0), sale(2, int(plane_s) - 1, store="berlin-1")])
    assert kinds(fast) == [("impossible_travel", ("S-002",))]
    assert fast[0].evidence["speed_kmh"] > 900
    slow = dataclasses.replace(mk.analytics.FRAUD_THRESHOLDS, travel_speed_kmh=km)
    assert detect([sale(1, 0), sale(2, 3600, store="berlin-1")], thresholds=slow) == []
    assert detect([sale(1, 0), sale(2, 1, store="paris-2")]) == []


def test_impossible_travel_blames_the_outlier_before_the_anchor():
    """Given Paris, Berlin (reachable), Paris again too soon, then Berlin is the outlier."""
    found = detect([sale(1, 0), sale(2, 7200, store="berlin-1"), sale(3, 7800)])
    assert kinds(found) == [("impossible_travel", ("S-002",))]


def test_same_sales_give_the_same_ids():
    """Given the same sales twice to two detectors, then the same suspicions."""
    burst = [sale(i, i * 60) for i in range(5)]
    assert detect(burst) == detect(list(reversed(burst)))


# -- the simulator's fraud ----------------------------------------------------------------------


def test_simulated_fraud_found_with_precision_and_recall_one():
    """Given a seeded 20,000-sale simulation, then every kind is found exactly."""
    simulation = mk.analytics.simulate_sales(20_000, seed=0)
    scores = det.score_detections(det.detect_fraud(simulation), simulation)
    assert scores["precision"].tolist() == [1.0] * 5
    assert scores["recall"].tolist() == [1.0] * 5


def test_simulated_fraud_seed_1_has_one_legitimate_sale_inside_a_burst():
    """Given seed 1, then recall is 1.0 and one legitimate sale, made during a burst of its
    card, is suspected with it (measured: 51 suspected, 50 fraudulent)."""
    simulation = mk.analytics.simulate_sales(20_000, seed=1)
    scores = det.score_detections(det.detect_fraud(simulation), simulation)
    assert scores.loc["card_burst", ["suspected", "true_positives"]].tolist() == [51, 50]
    assert scores["recall"].tolist() == [1.0] * 5
    incidents = det.score_detections(det.detect_fraud(simulation), simulation, level="incident")
    assert incidents["recall"].tolist() == [1.0] * 5


def test_threshold_sweep_trades_recall_for_precision():
    """Given burst_sales from 3 to 8, then recall falls as the limit rises."""
    simulation = mk.analytics.simulate_sales(5_000, seed=3)
    sweep = det.threshold_sweep(simulation, None, "card_burst", "burst_sales", [3, 5, 8])
    assert sweep["recall"].is_monotonic_decreasing
    assert sweep.loc[5, "recall"] == 1.0


def test_batches_give_what_one_pass_gives():
    """Given a simulation cut into batches of 97, then the same suspicions as in one pass."""
    simulation = mk.analytics.simulate_sales(3_000, seed=5)
    whole = det.FraudDetector(simulation.stores).process(simulation)
    detector = det.FraudDetector(simulation.stores)
    events = list(simulation.events())
    batched = [s for i in range(0, len(events), 97) for s in detector.process(events[i : i + 97])]
    assert {s.suspicion_id for s in batched} == {s.suspicion_id for s in whole}


# -- DynamoDB state and the handlers -------------------------------------------------------------


def sqs_event(sales, prefix="m"):
    records = []
    for i, detail in enumerate(sales):
        body = {"detail-type": "SaleRecorded", "source": "sales.domain",
                "detail": {"metadata": {}, "data": detail}}  # fmt: skip
        records.append({"messageId": f"{prefix}-{i}", "body": json.dumps(body)})
    return {"Records": records}


def kinesis_event(sales):
    records = []
    for i, detail in enumerate(sales):
        body = {"detail-type": "SaleRecorded", "detail": {"metadata": {}, "data": detail}}
        data = base64.b64encode(json.dumps(body).encode()).decode()
        records.append({"kinesis": {"sequenceNumber": f"{i:05d}", "data": data}})
    return {"Records": records}


@pytest.fixture
def fraud(mesh):
    """The Fraud bus, the detector table, and a subscription queue that sees every suspicion."""
    mk.buses.create_domain_bus("fraud")
    det.create_detector_table()
    _SEEN.clear()
    return mk.subscriptions.subscribe(
        "risk", bus="FraudEventBus", pattern={"source": ["fraud.domain"]}, visibility_timeout_s=1
    )


_SEEN: dict[str, list[str]] = {}


def published(subscription):
    """Every suspicion id the subscription queue received so far (drained, kept here)."""
    sqs = boto3.client("sqs", endpoint_url=mk.sandbox.current().endpoint_url)
    seen = _SEEN.setdefault(subscription.queue_url, [])
    while messages := sqs.receive_message(
        QueueUrl=subscription.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages", []):
        for message in messages:
            seen.append(json.loads(message["Body"])["detail"]["data"]["suspicion_id"])
            sqs.delete_message(
                QueueUrl=subscription.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
    return sorted(seen)


def test_create_detector_table_is_idempotent_and_tagged(mesh):
    """Given the table created twice, then one table, tagged for fraud, with TTL on."""
    arn = det.create_detector_table()
    assert det.create_detector_table() == arn
    dynamodb = boto3.client("dynamodb", endpoint_url=mesh.endpoint_url)
    tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags["meshkit:domain"] == "fraud"
    ttl = dynamodb.describe_time_to_live(TableName=det.DETECTOR_TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    assert det.delete_detector_table() and not det.delete_detector_table()


def test_state_survives_across_two_invocations(fraud):
    """Given a burst split over two SQS batches (3 then 2 sales), then the second invocation,
    with a fresh handler, finds the burst from the state in DynamoDB."""
    burst = [sale(i, i * 60) for i in range(5)]
    assert det.fraud_handler(STORES)(sqs_event(burst[:3], "a"), None) == {"batchItemFailures": []}
    assert published(fraud) == []
    assert det.fraud_handler(STORES)(sqs_event(burst[3:], "b"), None) == {"batchItemFailures": []}
    ids = published(fraud)
    assert len(ids) == 1 and ids[0].startswith("card_burst/c-1/")


def test_redelivered_batch_publishes_nothing_twice(fraud):
    """Given the same batch delivered twice, then each suspicion reaches the queue once."""
    handler = det.fraud_handler(STORES)
    event = sqs_event([sale(i, i * 60) for i in range(5)])
    handler(event, None)
    handler(event, None)
    assert len(published(fraud)) == 1


def test_expired_state_is_pruned_on_read(fraud):
    """Given a card's item past its expires_at (moto runs no TTL), then it is not used."""
    handler = det.fraud_handler(STORES)
    handler(sqs_event([sale(1, 0)]), None)
    later = sale(2, 2 * 86_400 + 60, store="berlin-1")
    handler(sqs_event([later], "b"), None)  # 2 days on: Paris is forgotten, no travel
    assert published(fraud) == []


def test_sqs_and_kinesis_handlers_end_to_end(fraud):
    """Given a small simulation through each handler in batches, then what it publishes is the
    in-memory detector's suspicions."""
    simulation = mk.analytics.simulate_sales(600, seed=2, fraud_rate=0.05)
    expected = sorted(det.detect_fraud(simulation)["suspicion_id"])
    details = [e.detail for e in simulation.events()]
    sqs = det.fraud_handler(simulation.stores)
    for i in range(0, 600, 100):
        assert sqs(sqs_event(details[i : i + 100], f"b{i}"), None) == {"batchItemFailures": []}
    assert published(fraud) == expected
    det.delete_detector_table()
    det.create_detector_table()
    kinesis = det.fraud_handler(simulation.stores, event_source="kinesis")
    for i in range(0, 600, 100):
        assert kinesis(kinesis_event(details[i : i + 100]), None) == {"batchItemFailures": []}
    assert len(published(fraud)) == 2 * len(expected)  # published again: a new detector state


def test_undelivered_suspicion_fails_the_batch_and_saves_no_state(fraud, monkeypatch):
    """Given publishing that fails, then every record is reported and the retry finds the same
    suspicion under the same id."""
    handler = det.fraud_handler(STORES)
    event = sqs_event([sale(i, i * 60) for i in range(5)])
    real = mk.events.publish

    def broken(bus, events, **kwargs):
        result = real(bus, [], **kwargs)
        result.unsent.extend(mk.events.UnsentEvent(e, "test") for e in events)
        return result

    monkeypatch.setattr(mk.events, "publish", broken)
    assert len(handler(event, None)["batchItemFailures"]) == 5
    monkeypatch.setattr(mk.events, "publish", real)
    assert handler(event, None) == {"batchItemFailures": []}
    assert len(published(fraud)) == 1


# -- bad input ----------------------------------------------------------------------------------


def test_bad_input_records_are_reported_the_rest_go_on(fraud):
    """Given bad records among good ones, then only the bad ones are reported."""
    good = sqs_event([sale(i, i * 60) for i in range(5)])["Records"]
    bad = [
        {"messageId": "no-json", "body": "{"},
        {"messageId": "no-card", "body": json.dumps({"detail": {"sale_id": "X"}})},
        *sqs_event([sale(9, 0, store="nowhere")], "unknown-store")["Records"],
        *sqs_event([{**sale(8, 0), "amount": "12"}], "text-amount")["Records"],
        *sqs_event([{**sale(7, 0), "timestamp": "2026-06-01T12:00:00"}], "naive")["Records"],
    ]
    answer = det.fraud_handler(STORES)({"Records": [*bad, *good]}, None)
    reported = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert reported == ["no-json", "no-card", "unknown-store-0", "text-amount-0", "naive-0"]
    assert len(published(fraud)) == 1


def test_bad_input_kinesis_data_not_base64(fraud):
    """Given a Kinesis record whose data is not base64, then it alone is reported."""
    event = {"Records": [{"kinesis": {"sequenceNumber": "1", "data": "%%%"}}]}
    handler = det.fraud_handler(STORES, event_source="kinesis")
    assert handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "1"}]}


def test_bad_input_record_without_identifier_fails_the_invocation(mesh):
    """Given a record with no messageId, then ValidationError (Lambda retries the batch)."""
    with pytest.raises(ValidationError, match="messageId"):
        det.fraud_handler(STORES)({"Records": [{"body": "{}"}]}, None)
    with pytest.raises(ValidationError, match="Records"):
        det.fraud_handler(STORES)({"records": []}, None)


def test_bad_input_arguments():
    """Given bad arguments, then ValidationError naming the field and nothing detected."""
    with pytest.raises(ValidationError, match="event_source"):
        det.fraud_handler(STORES, event_source="sns")
    with pytest.raises(ValidationError, match="thresholds"):
        det.FraudDetector(STORES, thresholds={"burst_sales": 5})
    with pytest.raises(ValidationError, match="kinds"):
        det.FraudDetector(STORES, kinds=("card_cloning",))
    with pytest.raises(ValidationError, match="stores"):
        det.FraudDetector([("paris-1", 1, 2)])
    with pytest.raises(ValidationError, match="parameter"):
        det.threshold_sweep(mk.analytics.simulate_sales(100), None, "card_burst", "nope", [1])
    with pytest.raises(ValidationError, match="level"):
        det.score_detections([], mk.analytics.simulate_sales(100), level="card")


def test_bad_input_sales_change_no_state():
    """Given a batch with one bad sale, then ValidationError naming it and no state saved."""
    detector = det.FraudDetector(STORES)
    with pytest.raises(ValidationError, match=r"sale 1.*amount"):
        detector.process([sale(1, 0), {**sale(2, 0), "amount": float("nan")}])
    with pytest.raises(ValidationError, match="store_id"):
        detector.process([sale(1, 0, store="nowhere")])
    with pytest.raises(ValidationError, match="sales is str"):
        detector.process("S-1")
    assert len(detector.state) == 0


def test_bad_input_caller_generator_raises_nothing_saved():
    """Given a generator of sales that raises, then the error passes and no state is saved."""
    detector = det.FraudDetector(STORES)

    def sales():
        yield sale(1, 0)
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError, match="source broke"):
        detector.process(sales())
    assert len(detector.state) == 0
