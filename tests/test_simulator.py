"""Tests of meshkit.analytics.simulator: seeded sales with injected fraud, the truth kept aside."""

from __future__ import annotations

import inspect
import itertools
import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import meshkit as mk
from meshkit.analytics import simulator
from meshkit.exceptions import ValidationError

RULES = mk.analytics.FRAUD_THRESHOLDS
BURST_S = RULES.burst_window.total_seconds()
TESTING_S = RULES.testing_window.total_seconds()


@pytest.fixture(scope="module")
def simulation() -> mk.analytics.SalesSimulation:
    """20,000 sales over two days, 4% of them fraud: 200 sales of each kind."""
    return mk.analytics.simulate_sales(20_000, seed=13, days=2, fraud_rate=0.04)


# -- helpers: the definitions of FraudThresholds, written independently of the module ------------


def seconds(frame: pd.DataFrame) -> np.ndarray:
    return (frame["time"] - pd.Timestamp("2000-01-01", tz="UTC")).dt.total_seconds().to_numpy()


def runs_within(frame: pd.DataFrame, length: int, window_s: float) -> pd.Series:
    """Per sale: does it end a run of ``length`` sales of its card within ``window_s``?"""
    ordered = frame.sort_values(["card_id", "time"], kind="stable")
    earlier = ordered.groupby("card_id")["time"].shift(length - 1)
    within = (ordered["time"] - earlier).dt.total_seconds() <= window_s
    return within.reindex(frame.index)


def with_places(sim: mk.analytics.SalesSimulation) -> pd.DataFrame:
    stores = sim.stores.set_index("store_id")[["latitude", "longitude"]]
    return sim.labelled_frame().join(stores, on="store_id")


def impossible_pairs(card_sales: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs of sales of one card far apart and too close in time for a plane."""
    pairs = []
    rows = list(card_sales.itertuples())
    for a, b in itertools.combinations(rows, 2):
        km = mk.analytics.distance_km(a.latitude, a.longitude, b.latitude, b.longitude)
        hours = abs((b.time - a.time).total_seconds()) / 3600
        if km >= RULES.travel_min_km and (hours == 0 or km / hours > RULES.travel_speed_kmh):
            pairs.append((a.sale_id, b.sale_id))
    return pairs


def assert_every_kind_meets_its_definition(sim: mk.analytics.SalesSimulation) -> None:
    sales = with_places(sim)
    first_of_customer = ~sales.sort_values("time", kind="stable").duplicated("customer_id")
    for incident_id, incident in sales.dropna(subset=["incident_id"]).groupby("incident_id"):
        kind = incident["fraud_kind"].iloc[0]
        assert incident["fraud_kind"].eq(kind).all(), incident_id
        assert incident["card_id"].nunique() == 1, incident_id  # every kind is one card's
        if kind == "card_burst":
            assert len(incident) >= RULES.burst_sales
            assert runs_within(incident, RULES.burst_sales, BURST_S).any(), incident_id
            gaps = incident["time"].diff().dropna().dt.total_seconds()
            assert gaps.between(5, 120).all(), incident_id  # 5 s to 2 min apart
            assert incident["city"].nunique() == 1
        elif kind == "card_testing":
            tiny = incident[incident["amount"] < RULES.tiny_amount]
            assert runs_within(tiny, RULES.testing_sales, TESTING_S).any(), incident_id
            assert tiny["store_id"].nunique() == 1
            assert (tiny["time"].max() - tiny["time"].min()).total_seconds() <= TESTING_S
            rest = incident.drop(tiny.index)
            assert len(rest) <= 1  # often followed by one large sale, after the tiny ones
            if len(rest):
                assert rest["amount"].iloc[0] >= 250 and rest.index[0] > tiny.index.max()
        elif kind == "new_customer_high_amount":
            (sale,) = incident.itertuples()
            assert sale.amount >= RULES.high_amount
            assert first_of_customer[sale.Index], incident_id
        else:
            card = sales[sales["card_id"] == incident["card_id"].iloc[0]]
            pairs = impossible_pairs(card)
            for sale_id in incident["sale_id"]:
                assert any(sale_id in pair for pair in pairs), (incident_id, sale_id)


# -- determinism -----------------------------------------------------------------------------------


def test_the_same_seed_gives_identical_frames():
    """Given two simulations with the same arguments, then every frame is identical."""
    first = mk.analytics.simulate_sales(5_000, seed=3, fraud_rate=0.05)
    second = mk.analytics.simulate_sales(5_000, seed=3, fraud_rate=0.05)

    assert_frame_equal(first.sales, second.sales)
    assert_frame_equal(first.truth, second.truth)
    assert_frame_equal(first.stores, second.stores)


def test_different_seeds_differ():
    """Given two seeds, then the sales differ, and so do the sale ids (no accidental
    de-duplication when both are published)."""
    first = mk.analytics.simulate_sales(1_000, seed=1)
    second = mk.analytics.simulate_sales(1_000, seed=2)

    assert not first.sales["amount"].equals(second.sales["amount"])
    assert not first.sales["time"].equals(second.sales["time"])
    assert set(first.sales["sale_id"]).isdisjoint(second.sales["sale_id"])


def test_other_arguments_give_other_sale_ids_and_the_same_give_the_same():
    """Given the same seed with another count, then no sale id is shared; with the same
    arguments, the ids repeat (the same facts)."""
    base = mk.analytics.simulate_sales(100, seed=1)
    other = mk.analytics.simulate_sales(101, seed=1)

    assert set(base.sales["sale_id"]).isdisjoint(other.sales["sale_id"])
    assert base.sales["sale_id"].equals(mk.analytics.simulate_sales(100, seed=1).sales["sale_id"])


# -- the fraud mix --------------------------------------------------------------------------------


def test_the_fraud_mix_is_exact(simulation):
    """Given 20,000 sales at 4%, then exactly 800 are fraud, 200 of each kind."""
    mix = simulation.fraud_mix_frame()

    assert list(mix.index) == list(mk.analytics.FRAUD_KINDS)
    assert mix["sales"].tolist() == [200, 200, 200, 200]
    assert mix["share"].tolist() == [0.01] * 4
    assert len(simulation.truth) == 800
    incidents = simulation.truth.groupby("fraud_kind")["incident_id"].nunique()
    assert mix["incidents"].to_dict() == incidents.to_dict()


@pytest.mark.parametrize(
    ("count", "rate"),
    [(1, 0.5), (3, 0.5), (10, 0.2), (997, 0.013), (1_234, 0.0371), (5_000, 0.5), (777, 0.0)],
)
def test_the_number_of_fraudulent_sales_is_round_count_times_rate(count, rate):
    """Given any count and rate, then round(count * rate) sales are fraud, and count in all."""
    sim = mk.analytics.simulate_sales(count, seed=5, fraud_rate=rate)

    assert len(sim.sales) == count
    assert len(sim.truth) == round(count * rate)
    assert sim.fraud_mix_frame()["sales"].sum() == round(count * rate)
    assert_every_kind_meets_its_definition(sim)


def test_a_share_too_small_for_an_incident_goes_to_the_largest_other_share():
    """Given 13 fraudulent sales over four kinds (4, 3, 3, 3), then card_burst's 4, fewer than
    one burst, go to card_testing, the first of the largest other shares."""
    sim = mk.analytics.simulate_sales(1_000, seed=2, fraud_rate=0.013)

    assert sim.fraud_mix_frame()["sales"].to_dict() == {
        "card_burst": 0,
        "card_testing": 7,
        "new_customer_high_amount": 3,
        "impossible_travel": 3,
    }


def test_kinds_choose_the_fraud_and_no_fraud_without_a_rate():
    """Given one kind, then all fraud is of that kind; given fraud_rate=0, none."""
    only = mk.analytics.simulate_sales(2_000, seed=1, fraud_rate=0.05, kinds=["card_testing"])
    clean = mk.analytics.simulate_sales(2_000, seed=1, fraud_rate=0, kinds=())

    assert set(only.truth["fraud_kind"]) == {"card_testing"}
    assert len(only.truth) == 100
    assert clean.truth.empty and list(clean.truth.columns) == [
        "sale_id",
        "fraud_kind",
        "incident_id",
    ]
    assert clean.fraud_mix_frame().empty


# -- each kind, and the legitimate sales ----------------------------------------------------------


def test_every_incident_meets_its_kind_definition(simulation):
    """Given the module's simulation, then each incident meets the definition of its kind, as
    FraudThresholds states it (checked here without the module's code)."""
    assert_every_kind_meets_its_definition(simulation)


@pytest.mark.parametrize(
    "arguments",
    [
        {"count": 3_000, "stores": 2, "fraud_rate": 0.1},  # Paris and Berlin only
        {"count": 3_000, "days": 7, "fraud_rate": 0.1, "customers": 200},
        {"count": 2_000, "start": datetime(2026, 6, 1, 23, 59, tzinfo=timezone.utc)},
        {"count": 500, "customers": 21, "fraud_rate": 0.5},  # cards at their 24-a-day limit
    ],
)
def test_every_incident_meets_its_definition_at_the_edges(arguments):
    """Given few stores, many days, a start at 23:59, or busy cards, then the definitions
    still hold and every sale lies in the period."""
    sim = mk.analytics.simulate_sales(seed=8, **arguments)
    start = arguments.get("start", datetime(2026, 6, 1, tzinfo=timezone.utc))
    end = start + timedelta(days=arguments.get("days", 1))

    assert_every_kind_meets_its_definition(sim)
    assert sim.sales["time"].between(start, end, inclusive="left").all()
    assert sim.sales["time"].is_monotonic_increasing


def test_legitimate_sales_never_meet_a_definition(simulation):
    """Given the legitimate sales alone, then none meets any kind's definition: no card has
    burst_sales within burst_window, nor testing_sales tiny ones within testing_window; a
    card's sales all lie in one city; and no customer's first sale is high."""
    sales = with_places(simulation)
    legit = sales[sales["fraud_kind"].isna()]

    assert not runs_within(legit, RULES.burst_sales, BURST_S).any()
    tiny = legit[legit["amount"] < RULES.tiny_amount]
    assert len(tiny) > 0  # tiny legitimate amounts exist (a coffee) ...
    assert not runs_within(tiny, RULES.testing_sales, TESTING_S).any()  # ... never in a run
    assert legit.groupby("card_id")["city"].nunique().max() == 1
    firsts = sales.sort_values("time", kind="stable").drop_duplicates("customer_id")
    high_firsts = firsts[firsts["amount"] >= RULES.high_amount]
    assert (high_firsts["fraud_kind"] == "new_customer_high_amount").all()
    assert len(high_firsts) == 200


def test_busy_cards_never_meet_a_definition_legitimately():
    """Given cards at their limit of 24 sales a day, then their legitimate sales are still at
    least 3 minutes apart (never burst_sales within burst_window), and no more than
    testing_sales - 1 tiny ones fall within testing_window."""
    sim = mk.analytics.simulate_sales(20_000, seed=3, customers=850, fraud_rate=0.01)
    sales = sim.labelled_frame()
    legit = sales[sales["fraud_kind"].isna()]
    ordered = legit.sort_values(["card_id", "time"])
    gaps = ordered.groupby("card_id")["time"].diff().dropna().dt.total_seconds()

    assert legit["card_id"].value_counts().max() == 24
    assert gaps.min() >= 180
    assert not runs_within(legit, RULES.burst_sales, BURST_S).any()
    tiny = legit[legit["amount"] < RULES.tiny_amount]
    assert not runs_within(tiny, RULES.testing_sales, TESTING_S).any()


def test_tiny_amounts_in_a_run_are_raised_and_the_rest_kept():
    """Given one card's tiny amounts 1 minute apart and another card's 10 minutes apart, when
    the simulator spreads tiny amounts, then every third tiny sale of the first card is
    raised to tiny_amount or more, and the second card's are kept (an attack on the mechanism
    behind the guarantee, which random data rarely exercises)."""
    card = np.array([1, 1, 1, 1, 1, 2, 2, 2], dtype=np.int64)
    time = np.array([0, 60, 120, 180, 240, 0, 601, 1202], dtype=np.int64)
    amount = np.array([1.0, 1.5, 1.2, 1.9, 0.5, 1.0, 1.0, 1.0])
    order = np.lexsort((time, card))

    spread = simulator._spread_tiny(np.random.default_rng(0), card, time, amount, order)

    assert (spread[[0, 1, 5, 6, 7]] == amount[[0, 1, 5, 6, 7]]).all()
    assert (spread[[2, 3, 4]] >= RULES.tiny_amount).all()
    assert not runs_within(
        pd.DataFrame({"card_id": card, "time": pd.to_datetime(time, unit="s")})[
            spread < RULES.tiny_amount
        ],
        RULES.testing_sales,
        TESTING_S,
    ).any()


def test_a_card_s_sales_are_spaced_out_inside_the_period():
    """Given 24 sales of one card all in the last second of the day, when spaced out, then
    they are 3 minutes apart and still inside the day."""
    card = np.zeros(24, dtype=np.int64)
    time = np.full(24, 86_399, dtype=np.int64)

    _, spaced = simulator._space_out(card, time, 1)

    assert np.sort(spaced).tolist() == list(range(86_399 - 23 * 180, 86_400, 180))


def test_cities_lie_further_apart_than_travel_min_km_and_stores_near_their_city():
    """Given the 19 cities' stores, then stores of two cities are at least travel_min_km
    apart, and stores of one city within 10 km: legitimate travel never looks impossible."""
    stores = mk.analytics.simulate_sales(10, stores=400, seed=4).stores
    lat, lon = stores["latitude"].to_numpy(), stores["longitude"].to_numpy()
    km = mk.analytics.distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    same_city = stores["city"].to_numpy()[:, None] == stores["city"].to_numpy()[None, :]

    assert stores["city"].nunique() == 19
    assert km[same_city].max() < 10
    assert km[~same_city].min() >= RULES.travel_min_km


# -- realistic shapes ------------------------------------------------------------------------------


def test_sales_follow_a_daily_curve_in_local_time(simulation):
    """Given the sales in local time, then nights are quiet and lunch and evening are busy."""
    offsets = {"Lisbon": 0, "Dublin": 0, "Helsinki": 2, "Athens": 2}
    local_hour = (
        simulation.sales["time"].dt.hour
        + simulation.sales["city"].map(offsets).fillna(1).astype(int)
    ) % 24
    per_hour = local_hour.value_counts().reindex(range(24), fill_value=0)

    assert per_hour[2:5].sum() * 10 < per_hour[12:14].sum()
    assert per_hour[12] > per_hour[15] < per_hour[18]


def test_amounts_customers_and_cards_have_realistic_shapes(simulation):
    """Given the legitimate sales, then amounts are log-normal per store type (electronics
    dearer than cafes), a few customers buy often and most rarely, with one card or two."""
    sales = simulation.labelled_frame()
    legit = sales[sales["fraud_kind"].isna()].join(
        simulation.stores.set_index("store_id")["store_type"], on="store_id"
    )
    medians = legit.groupby("store_type")["amount"].median()
    per_customer = legit["customer_id"].value_counts()
    cards = legit.groupby("customer_id")["card_id"].nunique()

    assert medians["cafe"] < medians["grocery"] < medians["electronics"]
    assert (legit["amount"] >= 0.5).all() and (legit["amount"] == legit["amount"].round(2)).all()
    assert np.log(legit["amount"]).skew() == pytest.approx(0, abs=0.5)
    assert per_customer.max() >= 5 * per_customer.median()
    assert set(cards.unique()) == {1, 2}
    assert per_customer.max() <= 24 * 2 * 2  # two cards, two days, 24 sales a card a day


def test_sales_hold_no_label_and_the_truth_only_fraud(simulation):
    """Given a simulation, then the sales carry no label, the truth names only sales that
    exist, and a labelled copy changes nothing of the sales."""
    before = simulation.sales.copy()
    labelled = simulation.labelled_frame()
    labelled.loc[:, "fraud_kind"] = "tampered"

    assert list(simulation.sales.columns) == [
        "sale_id", "time", "customer_id", "card_id", "store_id", "city", "amount", "currency",
    ]  # fmt: skip
    assert simulation.truth["sale_id"].isin(simulation.sales["sale_id"]).all()
    assert simulation.sales["sale_id"].is_unique
    assert str(simulation.sales["time"].dt.tz) == "UTC"
    assert_frame_equal(simulation.sales, before)


# -- events ---------------------------------------------------------------------------------------


def test_events_are_sale_recorded_1_1_with_the_sales_fields():
    """Given a simulation, then each sale gives one SaleRecorded 1.1 event of sales.domain with
    the contract's fields (timestamp in UTC with Z), the extras, and keys from the sale id."""
    sim = mk.analytics.simulate_sales(50, seed=3)
    events = list(sim.events())
    first, row = events[0], sim.sales.iloc[0]
    contract = mk.contracts.default_registry().get("sales.domain", "SaleRecorded", "1.1")

    assert len(events) == 50
    assert all(isinstance(event, mk.events.DomainEvent) for event in events)
    assert (first.source, first.detail_type, first.schema_version) == (
        "sales.domain", "SaleRecorded", "1.1",
    )  # fmt: skip
    assert first.detail == {
        "sale_id": row["sale_id"],
        "amount": row["amount"],
        "timestamp": row["time"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        "currency": "EUR",
        "customer_id": row["customer_id"],
        "card_id": row["card_id"],
        "store_id": row["store_id"],
    }
    assert first.idempotency_key == f"sale-recorded/{row['sale_id']}"
    assert first.time == row["time"].to_pydatetime() and first.time.tzinfo is not None
    assert [event.detail["sale_id"] for event in events] == sim.sales["sale_id"].tolist()
    for event in events:
        contract.validate(event.detail)
    assert [e.correlation_id for e in sim.events()] == [e.correlation_id for e in events]


def test_events_are_made_lazily(monkeypatch):
    """Given 5,000 sales, when one event is read, then a generator made it and at most a
    chunk of events exists; reading on resumes where it stopped."""
    made = []

    class Counted(mk.events.DomainEvent):
        def __init__(self, *args, **kwargs) -> None:
            made.append(kwargs["idempotency_key"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(simulator, "DomainEvent", Counted)
    sim = mk.analytics.simulate_sales(5_000, seed=1)
    events = sim.events()

    assert inspect.isgenerator(events)
    assert made == []
    first = next(events)
    assert len(made) == 1
    assert next(events).detail["sale_id"] == sim.sales["sale_id"].iloc[1] != first.detail["sale_id"]
    assert len(made) == 2


def test_publish_accepts_the_events_and_delivers_the_extra_fields(sales_tap):
    """Given the Sales bus, when 25 simulated events are published, then all are delivered
    as the contract allows (its content model is open: extra properties validate)."""
    sim = mk.analytics.simulate_sales(1_000, seed=9, fraud_rate=0.05)

    result = mk.events.publish("SalesEventBus", itertools.islice(sim.events(), 25))
    delivered = sales_tap()

    assert (result.sent, result.failed) == (25, [])
    assert sorted(body["detail"]["data"]["sale_id"] for body in delivered) == sorted(
        sim.sales["sale_id"].iloc[:25]
    )
    data = delivered[0]["detail"]["data"]
    assert {"customer_id", "card_id", "store_id", "currency"} <= set(data)
    assert {body["detail"]["metadata"]["schema_version"] for body in delivered} == {"1.1"}


def test_a_non_utc_start_is_converted_to_utc():
    """Given a start at midnight in UTC+2, then the sales begin at 22:00 UTC the day before."""
    start = datetime(2026, 6, 1, tzinfo=timezone(timedelta(hours=2)))
    sim = mk.analytics.simulate_sales(2_000, seed=1, start=start)

    assert sim.sales["time"].min() >= pd.Timestamp("2026-05-31T22:00Z")
    assert sim.sales["time"].max() < pd.Timestamp("2026-06-01T22:00Z")
    assert next(sim.events()).detail["timestamp"].endswith("Z")


# -- bad input -------------------------------------------------------------------------------------


def refused(match_field: str, fix: str, **arguments) -> str:
    with pytest.raises(ValidationError) as caught:
        mk.analytics.simulate_sales(**{"count": 100, **arguments})
    message = str(caught.value)
    assert match_field in message and fix in message, message
    return message


@pytest.mark.parametrize("count", [0, -1, True, 1.5, "100", None, mk.analytics.MAX_SALES + 1])
def test_bad_input_count(count):
    """Given a count that is not an int from 1 to MAX_SALES (a bool is not), then refused,
    naming the field, the limit and an example."""
    message = refused("count", "simulate_sales(10_000)", count=count)
    assert "10,000,000" in message


@pytest.mark.parametrize("seed", [-1, True, 1.0, "7"])
def test_bad_input_seed(seed):
    """Given a seed that is not an int of 0 or more, then refused."""
    refused("seed", "seed=7", seed=seed)


@pytest.mark.parametrize(
    ("start", "fix"),
    [
        (datetime(2026, 6, 1), "tzinfo=datetime.timezone.utc"),
        (date(2026, 6, 1), "timezone-aware datetime"),
        ("2026-06-01", "timezone-aware datetime"),
    ],
)
def test_bad_input_start(start, fix):
    """Given a naive datetime, a date or a string, then refused: the sales' times are UTC."""
    refused("start", fix, start=start)


@pytest.mark.parametrize(
    ("field", "value", "fix"),
    [
        ("days", 0, "days=7"),
        ("days", 367, "days=7"),
        ("days", 1.5, "days=7"),
        ("stores", 1, "stores=40"),
        ("stores", 10_001, "stores=40"),
        ("customers", 0, "customers=None"),
        ("customers", False, "customers=None"),
    ],
)
def test_bad_input_days_stores_customers(field, value, fix):
    """Given days, stores or customers out of range or of the wrong type, then refused."""
    refused(field, fix, **{field: value})


def test_bad_input_too_few_customers():
    """Given more legitimate sales than customers' cards can make (24 a day each), then
    refused with the smallest number of customers that works."""
    message = refused("customers", "customers=5 or more", count=100, customers=4, fraud_rate=0)
    assert "24" in message
    assert len(mk.analytics.simulate_sales(96, customers=4, fraud_rate=0).sales) == 96


@pytest.mark.parametrize("rate", [-0.01, 0.51, math.nan, math.inf, True, "0.1", None])
def test_bad_input_fraud_rate(rate):
    """Given a fraud_rate outside 0 to 0.5, NaN, or not a number, then refused."""
    refused("fraud_rate", "fraud_rate=0.01", fraud_rate=rate)


@pytest.mark.parametrize(
    ("kinds", "fix"),
    [
        (("card_burst", "phishing"), "FRAUD_KINDS: card_burst, card_testing"),
        ("card_burst", "kinds=('card_burst',)"),
        (("card_burst", "card_burst"), "give each kind once"),
        (42, "FRAUD_KINDS"),
        ((), "fraud_rate=0"),
    ],
)
def test_bad_input_kinds(kinds, fix):
    """Given an unknown kind, a bare string, a repeat, no iterable, or no kinds with a rate,
    then refused."""
    refused("kinds", fix, kinds=kinds)


def test_bad_input_too_few_fraudulent_sales_for_an_incident():
    """Given 3 fraudulent sales for card_burst alone (an incident is 5 at least), then
    refused, saying how many and what to change."""
    message = refused(
        "fraud_rate", "'new_customer_high_amount'", fraud_rate=0.03, kinds=("card_burst",)
    )
    assert "3 fraudulent" in message and "(5)" in message


@pytest.mark.parametrize("currency", ["eur", "EURO", 978, ""])
def test_bad_input_currency(currency):
    """Given a currency that is not three capital letters, then refused (the contract's
    pattern)."""
    refused("currency", "currency='EUR'", currency=currency)
