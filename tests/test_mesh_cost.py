"""Cost estimates of an EventBridge mesh: Classic priced line by line, the new bus not priced.

The expected amounts are worked out by hand from the figures summarised in DESIGN.md section 8,
which are to be checked against AWS's pricing page, https://aws.amazon.com/eventbridge/pricing/:
custom events USD 1.00 per million in 64 KB chunks, cross-account delivery USD 1.00 per million
(the sender pays), same-account delivery free, archive USD 0.10 per GB processed and USD 0.023 per
GB-month stored, replay USD 1.00 per million events. No official price of the new Custom Event Bus
was found as of 2026-12-02, so its lines must say "not priced" and carry no amount.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date
from decimal import Decimal

import pytest

from meshkit.exceptions import ValidationError
from meshkit.mesh.cost import (
    CLASSIC,
    CUSTOM_BUS,
    PRICES,
    CostEstimate,
    InvalidWorkloadError,
    Workload,
    estimate,
    estimate_run,
)

PRICING_PAGE = "https://aws.amazon.com/eventbridge/pricing/"


def line(cost: CostEstimate, item: str, bus: str = CLASSIC):
    """The one line of ``cost`` for ``item`` on ``bus``."""
    (found,) = [each for each in cost.lines if each.item == item and each.bus == bus]
    return found


@pytest.mark.parametrize(
    ("event_kb", "chunks"),
    [(1, 1), (64, 1), (64.001, 2), (128, 2), (200, 4), (1024, 16)],
)
def test_published_events_are_metered_in_64_kb_chunks(event_kb, chunks):
    """Given a million events of one size, when the run is costed, then each counts as one event
    per started 64 KB: 64 KB is 1, 64.001 KB is 2, 200 KB is 4, at USD 1.00 per million."""
    published = line(estimate_run(events=1_000_000, event_kb=event_kb), "events published")

    assert published.quantity == chunks * 1_000_000
    assert published.usd == Decimal(chunks)
    assert published.unit_usd == Decimal("0.000001")


def test_a_month_is_30_days_of_the_daily_volume():
    """Given a million 1 KB events a day, when a month is estimated, then 30 million events are
    published for USD 30, and the estimate says the month is 30 days."""
    cost = estimate(Workload(events_per_day=1_000_000, event_kb=1))

    assert line(cost, "events published").quantity == 30_000_000
    assert line(cost, "events published").usd == Decimal(30)
    assert cost.total == Decimal(30)
    assert "30 days" in cost.period
    assert "30 days" in str(cost)


def test_cross_account_deliveries_are_charged_to_the_sender():
    """Given 10,000 events a day each delivered to 2 other accounts, when a month is estimated,
    then 600,000 deliveries cost USD 0.60, said to be paid by the sending account."""
    cost = estimate(Workload(events_per_day=10_000, event_kb=1, cross_account_per_event=2))
    cross = line(cost, "cross-account deliveries")

    assert cross.quantity == 600_000
    assert cross.usd == Decimal("0.6")
    assert "sending account" in cross.note
    assert cost.total == Decimal("0.3") + Decimal("0.6")


def test_same_account_deliveries_are_free():
    """Given 5 subscribers in the bus's account, when a month is estimated, then 1.5 million
    deliveries are listed at USD 0 and the total is the same as with no subscriber."""
    busy = estimate(Workload(events_per_day=10_000, event_kb=1, subscribers_per_event=5))
    quiet = estimate(Workload(events_per_day=10_000, event_kb=1, subscribers_per_event=0))
    same = line(busy, "same-account deliveries")

    assert same.quantity == 1_500_000
    assert same.usd == 0
    assert "free" in same.note
    assert busy.total == quiet.total == Decimal("0.3")


def test_an_archive_costs_the_gb_processed_and_the_gb_months_it_holds():
    """Given 1 GB a day (1024 events of 1 MB) archived for 10 days, when a month is estimated,
    then 30 GB are processed (USD 3.00) and 10 GB are held all month (USD 0.23)."""
    workload = Workload(
        events_per_day=1024, event_kb=1024, archived=True, archive_retention_days=10
    )
    cost = estimate(workload)

    assert line(cost, "archive processing").quantity == 30
    assert line(cost, "archive processing").usd == Decimal("3")
    assert line(cost, "archive storage").quantity == 10
    assert line(cost, "archive storage").usd == Decimal("0.23")
    published = 1024 * 30 * 16  # 1024 KB is 16 chunks of 64 KB
    assert cost.total == Decimal(published) / 1_000_000 + Decimal("3.23")


def test_archive_storage_holds_the_whole_retention_when_it_passes_a_month():
    """Given 1 GB a day kept 90 days, when a month is estimated, then the archive holds 90 GB at
    steady state: 90 GB-months, USD 2.07."""
    workload = Workload(
        events_per_day=1024, event_kb=1024, archived=True, archive_retention_days=90
    )

    assert line(estimate(workload), "archive storage").usd == Decimal("2.07")


def test_without_an_archive_the_archive_lines_are_zero():
    """Given no archive, when a month is estimated, then nothing is processed or stored."""
    cost = estimate(Workload(events_per_day=1024, event_kb=1024))

    assert line(cost, "archive processing").usd == 0
    assert line(cost, "archive storage").usd == 0


def test_replays_cost_a_dollar_per_million_events():
    """Given 2.5 million events replayed a month, when it is estimated, then they cost USD 2.50."""
    cost = estimate(Workload(events_per_day=0, event_kb=1, replayed_per_month=2_500_000))

    assert line(cost, "replays").quantity == 2_500_000
    assert line(cost, "replays").usd == Decimal("2.5")
    assert cost.total == Decimal("2.5")


def test_the_new_custom_event_bus_is_reported_as_not_priced():
    """Given any workload, when it is estimated, then each line of the new Custom Event Bus has
    no amount and says "not priced", why, and where to look; the total counts Classic only."""
    cost = estimate(Workload(events_per_day=10_000, event_kb=2, cross_account_per_event=1))

    assert [each.item for each in cost.custom_bus] == [
        "KB published",
        "KB delivered",
        "KB retained",
    ]
    for each in cost.custom_bus:
        assert each.bus == CUSTOM_BUS
        assert each.usd is None and each.unit_usd is None and not each.priced
        assert each.note.startswith("not priced")
        assert "2026-12-02" in each.note and PRICING_PAGE in each.note
    assert line(cost, "KB published", CUSTOM_BUS).quantity == 600_000
    assert line(cost, "KB delivered", CUSTOM_BUS).quantity == 1_200_000  # 1 subscriber + 1 account
    assert str(cost).count("not priced") >= 3
    assert cost.total == Decimal("0.3") + Decimal("0.3")


def test_the_price_table_is_dated_sourced_and_leaves_the_new_bus_unpriced():
    """Given the price table, when it is read, then it is dated June 2026 for us-east-1, every
    line points at AWS's pricing page, Classic has the summarised figures and the new bus none."""
    assert (PRICES.as_of.year, PRICES.as_of.month) == (2026, 6)
    assert PRICES.region == "us-east-1"
    assert PRICES.custom_bus_checked == date(2026, 12, 2)
    assert PRICING_PAGE in PRICES.caveat
    table = PRICES.frame()
    assert set(table["source"]) == {PRICING_PAGE}
    classic = table[table["bus"] == CLASSIC].set_index("item")
    assert classic.loc["events published", ["usd", "per", "chunk_kb"]].tolist() == [
        Decimal("1.00"),
        1_000_000,
        64,
    ]
    assert classic.loc["cross-account deliveries", "usd"] == Decimal("1.00")
    assert classic.loc["same-account deliveries", "usd"] == 0
    assert classic.loc["archive processing", "usd"] == Decimal("0.10")
    assert classic.loc["archive storage", "usd"] == Decimal("0.023")
    assert classic.loc["replays", "usd"] == Decimal("1.00")
    assert table[table["bus"] == CUSTOM_BUS]["usd"].isna().all()


def test_other_prices_can_be_given():
    """Given a table where publishing costs USD 2.00 per million, when a month is estimated with
    it, then the events cost twice as much."""
    dearer = dataclasses.replace(
        PRICES, publish=dataclasses.replace(PRICES.publish, usd=Decimal("2.00"))
    )

    cost = estimate(Workload(events_per_day=1_000_000, event_kb=1), prices=dearer)

    assert cost.total == Decimal(60)


def test_a_one_off_run_costs_a_small_exact_amount():
    """Given a notebook's run of 3,000 1 KB events delivered twice in its account and archived,
    when it is costed, then it shows USD 0.003286102294921875 exactly, not a rounded 0."""
    run = estimate_run(events=3000, event_kb=1, deliveries=6000, archived_events=3000)

    assert line(run, "events published").usd == Decimal("0.003")
    # 3000 KB / 1,048,576 KB per GB * USD 0.10
    assert line(run, "archive processing").usd == Decimal("0.000286102294921875")
    assert run.total == Decimal("0.003286102294921875")
    assert "USD 0.003286102294921875" in str(run)
    assert run.period == "one run"


def test_a_run_kept_in_the_archive_for_30_days_stores_its_gb_for_a_month():
    """Given a run of 1 GB archived and kept 30 days, when it is costed, then storage is one
    GB-month, USD 0.023."""
    run = estimate_run(events=1024, event_kb=1024, archived_events=1024, archive_days=30)

    assert line(run, "archive storage").quantity == 1
    assert line(run, "archive storage").usd == Decimal("0.023")


def test_the_frame_lists_every_line_with_its_amount():
    """Given a run's estimate, when it is shown as a DataFrame, then it has Classic's six lines
    and the new bus's three, amounts exact and None where not priced."""
    table = estimate_run(events=3000, event_kb=1.5, cross_account=3000).frame()

    assert table.columns.tolist() == [
        "bus",
        "item",
        "quantity",
        "unit",
        "unit_usd",
        "usd",
        "note",
        "source",
    ]
    assert table["bus"].tolist() == [CLASSIC] * 6 + [CUSTOM_BUS] * 3
    assert table.loc[table["item"] == "cross-account deliveries", "usd"].item() == Decimal("0.003")
    assert table[table["bus"] == CUSTOM_BUS]["usd"].isna().all()


WORKLOAD = {"events_per_day": 10_000, "event_kb": 2}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("events_per_day", -1),
        ("events_per_day", "10000"),
        ("events_per_day", True),
        ("events_per_day", math.nan),
        ("events_per_day", math.inf),
        ("event_kb", 0),
        ("event_kb", -2),
        ("event_kb", 1024.5),
        ("event_kb", None),
        ("subscribers_per_event", -1),
        ("subscribers_per_event", False),
        ("cross_account_per_event", math.nan),
        ("cross_account_per_event", -0.5),
        ("replayed_per_month", -5),
        ("replayed_per_month", -math.inf),
        ("archived", "yes"),
        ("archive_retention_days", 7),  # without an archive
    ],
)
def test_a_workload_refuses_a_bad_value_naming_its_field(field, value):
    """Given one bad value, when a Workload is made, then a ValidationError names the field."""
    with pytest.raises(InvalidWorkloadError) as refused:
        Workload(**{**WORKLOAD, field: value})

    assert isinstance(refused.value, ValidationError)
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field} is ")
    assert "give" in str(refused.value) or "set" in str(refused.value)  # the fix


@pytest.mark.parametrize("days", [None, 0, -1, 1.5, True, "30"])
def test_an_archive_needs_a_whole_number_of_retention_days(days):
    """Given an archive with no, zero, fractional or non-number retention, when the Workload is
    made, then it is refused naming archive_retention_days."""
    with pytest.raises(InvalidWorkloadError, match=r"^archive_retention_days is ") as refused:
        Workload(**WORKLOAD, archived=True, archive_retention_days=days)

    assert refused.value.field == "archive_retention_days"


def test_an_event_over_1_mb_is_refused_with_the_limit_and_a_fix():
    """Given a 2 MB event, when a Workload is made, then the message gives the 1 MB limit and the
    way around it (the payload in S3)."""
    with pytest.raises(InvalidWorkloadError, match=r"^event_kb is 2048") as refused:
        Workload(events_per_day=1, event_kb=2048)

    assert "1 MB (1024 KB)" in str(refused.value)
    assert "S3" in str(refused.value)


def test_estimate_refuses_what_is_not_a_workload():
    """Given a dict instead of a Workload, when it is estimated, then the error names it."""
    with pytest.raises(InvalidWorkloadError, match=r"^workload is dict") as refused:
        estimate(WORKLOAD)  # type: ignore[arg-type]

    assert refused.value.field == "workload"


RUN = {"events": 3000, "event_kb": 1}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("events", -1),
        ("events", 1.5),
        ("events", True),
        ("event_kb", 0),
        ("event_kb", 2000),
        ("event_kb", math.nan),
        ("deliveries", -1),
        ("cross_account", "3"),
        ("archived_events", None),
        ("archive_days", -1),
        ("archive_days", math.inf),
        ("replayed", 2.0),
    ],
)
def test_a_run_refuses_a_bad_value_naming_its_field(field, value):
    """Given one bad value, when a run is costed, then a ValidationError names the field."""
    with pytest.raises(InvalidWorkloadError, match=f"^{field} is ") as refused:
        estimate_run(**{**RUN, field: value})

    assert refused.value.field == field


def test_a_decimal_size_is_taken_as_written():
    """Given 3,000 events of 0.1 KB (a float that is not exactly 0.1), when the run is costed,
    then the new bus's volume is exactly 300 KB, not 300.00000000000001665..."""
    run = estimate_run(events=3000, event_kb=0.1)

    assert line(run, "KB published", CUSTOM_BUS).quantity == Decimal("300")


def test_a_price_removed_from_the_table_is_reported_as_not_priced():
    """Given a table whose replay price is None without a reason, when a month is estimated,
    then the replay line has no amount and says "not priced", and the total leaves it out."""
    unpriced = dataclasses.replace(
        PRICES, replay=dataclasses.replace(PRICES.replay, usd=None, note="")
    )

    cost = estimate(
        Workload(events_per_day=0, event_kb=1, replayed_per_month=1000), prices=unpriced
    )

    assert line(cost, "replays").usd is None
    assert line(cost, "replays").note.startswith("not priced")
    assert cost.total == 0


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: Workload(events_per_day=1e308, event_kb=1), "events_per_day"),
        (lambda: estimate_run(events=10**40, event_kb=1), "events"),
        (
            lambda: Workload(
                events_per_day=1, event_kb=1, archived=True, archive_retention_days=10**30
            ),
            "archive_retention_days",
        ),
        (lambda: estimate(Workload(events_per_day=1, event_kb=1), prices="x"), "prices"),
        (lambda: estimate_run(events=1, event_kb=1, prices=None), "prices"),
    ],
)
def test_numbers_beyond_any_account_and_prices_that_are_no_table_are_refused(call, field):
    """Given a count no account's quotas allow (10**15 and up) or prices that are not a price
    table, then the error names the field, before any arithmetic fails on it."""
    with pytest.raises(InvalidWorkloadError) as refused:
        call()

    assert refused.value.field == field
