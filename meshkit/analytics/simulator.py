"""Simulated sales with realistic shapes and injected fraud, the ground truth kept aside.

``simulate_sales`` makes a seeded, deterministic day (or days) of card sales in stores across
European cities, and mixes into them fraud of the kinds in ``FRAUD_KINDS``. What a detector sees
is ``SalesSimulation.sales`` (or the ``SaleRecorded`` events of ``SalesSimulation.events()``);
which sales are fraud is in ``SalesSimulation.truth``, a separate table, to score detectors with.

Shapes
------
- Stores: cities with their coordinates, each store of a type (grocery, cafe, pharmacy, fuel,
  fashion, electronics) with a log-normal amount (a median and a spread per type).
- Time of day: a daily curve in each city's local time (standard time, no daylight saving):
  few sales at night, peaks at lunch and in the early evening.
- Customers: each lives in one city and shops there, has one card or two, and buys again and
  again with weights that fall as a shifted power law (Zipf-like): a few buy often, most a few
  times. No card makes more than 24 sales a day.

Fraud, and what is guaranteed
-----------------------------
Exactly ``round(count * fraud_rate)`` of the ``count`` sales are fraudulent. They are split as
evenly as possible over ``kinds`` (the first kinds take the remainder); a kind whose share is too
small for one incident gives it to the kind with the largest share. Each kind follows its
definition in ``FRAUD_THRESHOLDS`` (a ``FraudThresholds``), and legitimate sales never do:

``card_burst``
    Many sales (5 to 12) from one existing card in one city, 5 s to 2 min apart: at least
    ``burst_sales`` of them within ``burst_window``. Legitimate sales of one card are at least
    3 minutes apart, so never ``burst_sales`` within ``burst_window``.
``card_testing``
    A run of 3 to 5 tiny amounts (under ``tiny_amount``) from one existing card at one store
    within ``testing_window``, at any hour, often followed by a large one (250 to 900) within
    half an hour. Legitimate tiny amounts exist (a coffee), but never ``testing_sales`` of one
    card within ``testing_window``.
``new_customer_high_amount``
    A customer never seen before whose first sale is at least ``high_amount``, at an
    electronics or fashion store. No legitimate first sale of a customer, and no other fraud,
    reaches ``high_amount``.
``impossible_travel``
    One or two sales with a copy of an existing card in a city at least 300 km from where the
    card was just used (or is about to be), sooner than a plane could fly there: the speed
    between them exceeds ``travel_speed_kmh`` by a quarter at least. Legitimate sales of a card
    are all in its owner's city (stores of one city lie within 10 km of each other, cities at
    least ``travel_min_km`` apart).
"""

from __future__ import annotations

import hashlib
import logging
import math
import numbers
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..events import DomainEvent
from ..exceptions import ValidationError

__all__ = [
    "FRAUD_KINDS",
    "FRAUD_THRESHOLDS",
    "MAX_SALES",
    "FraudThresholds",
    "SalesSimulation",
    "distance_km",
    "simulate_sales",
]

_logger = logging.getLogger(__name__)

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]

FRAUD_KINDS: tuple[str, ...] = (
    "card_burst",
    "card_testing",
    "new_customer_high_amount",
    "impossible_travel",
)
MAX_SALES = 10_000_000  # about 2 GB of frames and a few seconds; more is a job for a cluster
_MAX_DAYS = 366
_MAX_STORES = 10_000
_MAX_FRAUD_RATE = 0.5
_DEFAULT_START = datetime(2026, 6, 1, tzinfo=timezone.utc)
_DAY_S = 86_400


@dataclass(frozen=True)
class FraudThresholds:
    """The definitions each kind of injected fraud meets, and legitimate sales never do.

    Attributes
    ----------
    burst_sales : int
        ``card_burst``: at least this many sales of one card ...
    burst_window : timedelta
        ... within this time (first to last).
    tiny_amount : float
        ``card_testing``: an amount under this is tiny ...
    testing_sales : int
        ... and at least this many tiny sales of one card ...
    testing_window : timedelta
        ... within this time (first to last) make a card test.
    high_amount : float
        ``new_customer_high_amount``: a customer's first sale of at least this amount.
    travel_speed_kmh : float
        ``impossible_travel``: two sales of one card whose distance divided by the time between
        them is above this speed (a plane's, about 900 km/h) ...
    travel_min_km : float
        ... at stores at least this far apart (stores of one city are closer than this).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.FRAUD_THRESHOLDS.travel_speed_kmh
    900.0
    >>> mk.analytics.FRAUD_THRESHOLDS.burst_window
    datetime.timedelta(seconds=600)
    """

    burst_sales: int = 5
    burst_window: timedelta = timedelta(minutes=10)
    tiny_amount: float = 2.00
    testing_sales: int = 3
    testing_window: timedelta = timedelta(minutes=10)
    high_amount: float = 1000.00
    travel_speed_kmh: float = 900.0
    travel_min_km: float = 100.0


FRAUD_THRESHOLDS = FraudThresholds()


class _City(NamedTuple):
    name: str
    country: str
    latitude: float
    longitude: float
    utc_offset_h: int  # standard time
    weight: float  # how many stores it gets, roughly its population in millions


# Paris and Berlin first: two stores already give two cities 877 km apart (impossible travel).
_CITIES = (
    _City("Paris", "FR", 48.8566, 2.3522, 1, 11.0),
    _City("Berlin", "DE", 52.5200, 13.4050, 1, 4.5),
    _City("Madrid", "ES", 40.4168, -3.7038, 1, 6.7),
    _City("Rome", "IT", 41.9028, 12.4964, 1, 4.3),
    _City("Amsterdam", "NL", 52.3676, 4.9041, 1, 2.5),
    _City("Vienna", "AT", 48.2082, 16.3738, 1, 2.9),
    _City("Lisbon", "PT", 38.7223, -9.1393, 0, 2.9),
    _City("Dublin", "IE", 53.3498, -6.2603, 0, 2.0),
    _City("Helsinki", "FI", 60.1699, 24.9384, 2, 1.5),
    _City("Athens", "GR", 37.9838, 23.7275, 2, 3.7),
    _City("Barcelona", "ES", 41.3874, 2.1686, 1, 5.6),
    _City("Milan", "IT", 45.4642, 9.1900, 1, 4.3),
    _City("Munich", "DE", 48.1351, 11.5820, 1, 2.9),
    _City("Hamburg", "DE", 53.5511, 9.9937, 1, 2.6),
    _City("Brussels", "BE", 50.8503, 4.3517, 1, 2.1),
    _City("Lyon", "FR", 45.7640, 4.8357, 1, 2.3),
    _City("Marseille", "FR", 43.2965, 5.3698, 1, 1.9),
    _City("Frankfurt", "DE", 50.1109, 8.6821, 1, 2.3),
    _City("Naples", "IT", 40.8518, 14.2681, 1, 3.0),
)
_JITTER_DEG = 0.03  # a store lies within about 3.3 km of its city's centre, north-south


class _StoreType(NamedTuple):
    name: str
    weight: float  # share of stores, and of a city's sales
    median: float  # of the log-normal amount
    sigma: float  # its spread (standard deviation of the log)
    high_value: bool  # where new customers' fraud buys


_STORE_TYPES = (
    _StoreType("grocery", 0.35, 28.0, 0.70, False),
    _StoreType("cafe", 0.25, 6.5, 0.50, False),
    _StoreType("pharmacy", 0.10, 18.0, 0.60, False),
    _StoreType("fuel", 0.07, 55.0, 0.35, False),
    _StoreType("fashion", 0.15, 55.0, 0.60, True),
    _StoreType("electronics", 0.08, 120.0, 0.90, True),
)

# Sales per hour of local time, 00:00 to 23:00: quiet nights, lunch and early-evening peaks.
_HOURLY = np.array(
    [
        *(0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 2.5, 3.0, 3.5, 4.5),
        *(6.5, 6.0, 4.0, 3.5, 4.0, 5.5, 6.5, 5.5, 4.0, 2.5, 1.5, 0.8),
    ]
)
_HOURLY_P = _HOURLY / _HOURLY.sum()

_MIN_AMOUNT = 0.50
_SECOND_CARD_SHARE = 0.35
_CARD_SALES_PER_DAY = 24
_LEGIT_GAP_S = 180  # 4 gaps of 3 min exceed burst_window: never burst_sales legit sales in it
_INCIDENT_SIZES = {  # sales per incident, smallest and largest
    "card_burst": (5, 12),
    "card_testing": (3, 6),
    "new_customer_high_amount": (1, 1),
    "impossible_travel": (1, 2),
}
_BURST_GAP_S = (5, 120)
_BURST_AMOUNT = (20.0, 900.0)
_TESTING_GAP_S = (10, 120)  # 5 tiny sales span at most 8 minutes
_TESTING_BIG_AFTER_S = (120, 1680)  # with the last gap, within 30 min
_TESTING_BIG_AMOUNT = (250.0, 900.0)
_TESTING_BIG_SHARE = 0.6
_NEW_CUSTOMER_AMOUNT = (1000.0, 4000.0)
_TRAVEL_DESTINATION_KM = 300.0
_TRAVEL_SLACK = 0.8  # the gap is at most 80% of the plane's flight time: speed >= 1.25 x plane
_TRAVEL_MIN_GAP_S = 60
_CHUNK = 1024  # rows turned into events at a time


def distance_km(latitude_1: Any, longitude_1: Any, latitude_2: Any, longitude_2: Any) -> Any:
    """Great-circle distance in km (haversine, Earth radius 6,371 km); numbers or arrays.

    Parameters
    ----------
    latitude_1, longitude_1, latitude_2, longitude_2 : float or array-like
        Degrees. Arrays (numpy, pandas) are computed element-wise.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> import meshkit as mk
    >>> round(mk.analytics.distance_km(48.8566, 2.3522, 52.52, 13.405))
    877
    """
    lat1, lon1, lat2, lon2 = (
        np.radians(np.asarray(value, dtype=float))
        for value in (latitude_1, longitude_1, latitude_2, longitude_2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    km = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return float(km) if np.ndim(km) == 0 else km


@dataclass(frozen=True, eq=False)
class SalesSimulation:
    """Simulated sales, and apart from them the truth about which are fraud.

    Made by ``simulate_sales``; see there and the module's notes for the shapes and the
    guarantees.

    Attributes
    ----------
    sales : pandas.DataFrame
        One row per sale, sorted by time (``sale_id`` follows that order): ``sale_id``,
        ``time`` (UTC), ``customer_id``, ``card_id``, ``store_id``, ``city``, ``amount``,
        ``currency``. No label: this is what a detector sees.
    truth : pandas.DataFrame
        Only the fraudulent sales, in the same order: ``sale_id``, ``fraud_kind``,
        ``incident_id`` (the sales of one fraud incident share it).
    stores : pandas.DataFrame
        ``store_id``, ``city``, ``country``, ``store_type``, ``latitude``, ``longitude``.
    seed : int
    kinds : tuple of str
        The kinds asked for, in order (a kind may have had no share: see ``fraud_mix_frame``).

    Examples
    --------
    >>> import meshkit as mk
    >>> simulation = mk.analytics.simulate_sales(1_000, seed=7, fraud_rate=0.02)
    >>> simulation
    SalesSimulation(sales=1000, fraudulent=20, incidents=10, seed=7)
    >>> list(simulation.sales.columns)
    ['sale_id', 'time', 'customer_id', 'card_id', 'store_id', 'city', 'amount', 'currency']
    >>> list(simulation.truth.columns)
    ['sale_id', 'fraud_kind', 'incident_id']
    """

    sales: pd.DataFrame = field(repr=False)
    truth: pd.DataFrame = field(repr=False)
    stores: pd.DataFrame = field(repr=False)
    seed: int = 0
    kinds: tuple[str, ...] = FRAUD_KINDS

    def __repr__(self) -> str:
        return (
            f"SalesSimulation(sales={len(self.sales)}, fraudulent={len(self.truth)}, "
            f"incidents={self.truth['incident_id'].nunique()}, seed={self.seed})"
        )

    def fraud_mix_frame(self) -> pd.DataFrame:
        """Incidents and fraudulent sales per kind asked for.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``fraud_kind`` (the kinds asked for, in order): ``incidents``, ``sales``
            and ``share`` (of all sales).

        Examples
        --------
        >>> import meshkit as mk
        >>> simulation = mk.analytics.simulate_sales(10_000, seed=1, fraud_rate=0.02)
        >>> simulation.fraud_mix_frame()  # doctest: +NORMALIZE_WHITESPACE
                                  incidents  sales  share
        fraud_kind
        card_burst                        6     50  0.005
        card_testing                     11     50  0.005
        new_customer_high_amount         50     50  0.005
        impossible_travel                33     50  0.005
        """
        grouped = self.truth.groupby("fraud_kind", sort=False)
        mix = pd.DataFrame(
            {
                "incidents": grouped["incident_id"].nunique(),
                "sales": grouped.size(),
            }
        ).reindex(list(self.kinds), fill_value=0)
        mix = mix.astype("int64")
        mix["share"] = mix["sales"] / max(len(self.sales), 1)
        mix.index.name = "fraud_kind"
        return mix

    def labelled_frame(self) -> pd.DataFrame:
        """``sales`` with the truth joined: ``fraud_kind`` and ``incident_id``, None if legitimate.

        For scoring a detector, never for feeding it.

        Returns
        -------
        pandas.DataFrame

        Examples
        --------
        >>> import meshkit as mk
        >>> simulation = mk.analytics.simulate_sales(1_000, seed=7, fraud_rate=0.02)
        >>> int(simulation.labelled_frame()["fraud_kind"].notna().sum())
        20
        """
        labelled = self.sales.merge(self.truth, on="sale_id", how="left")
        for column in ("fraud_kind", "incident_id"):
            values = labelled[column].astype(object)
            labelled[column] = values.where(values.notna(), None)
        return labelled

    def events(self) -> Iterator[DomainEvent]:
        """Each sale as a ``SaleRecorded`` 1.1 event of ``sales.domain``, in time order, lazily.

        A generator: events are made as they are read (a thousand rows at a time), so
        ``mk.events.publish`` streams them with memory bounded by a batch. The detail is the
        contract's ``sale_id``, ``amount``, ``timestamp`` (ISO 8601 UTC, ``Z``) and
        ``currency``, plus ``customer_id``, ``card_id`` and ``store_id`` (the contract is open:
        extra properties are allowed). The same sale always gives the same event:
        ``idempotency_key`` ``sale-recorded/<sale_id>``, ``correlation_id``
        ``checkout/<sale_id>``, ``time`` the sale's time. No truth is in the events.

        Yields
        ------
        meshkit.events.DomainEvent

        Examples
        --------
        >>> import itertools, meshkit as mk
        >>> simulation = mk.analytics.simulate_sales(100, seed=7)
        >>> first = next(simulation.events())
        >>> first.detail_type, first.schema_version, first.idempotency_key
        ('SaleRecorded', '1.1', 'sale-recorded/sale-1eaa16-001')
        >>> sorted(first.detail)
        ['amount', 'card_id', 'currency', 'customer_id', 'sale_id', 'store_id', 'timestamp']
        >>> bus = mk.buses.create_domain_bus("simulated")
        >>> mk.events.publish("SimulatedEventBus", itertools.islice(simulation.events(), 25))
        PublishResult(sent=25, failed=0, api_calls=3, retried=0)
        >>> mk.buses.delete_domain_bus("simulated")
        True
        """
        sales = self.sales
        for begin in range(0, len(sales), _CHUNK):
            chunk = sales.iloc[begin : begin + _CHUNK]
            stamps = chunk["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()
            times = pd.DatetimeIndex(chunk["time"]).to_pydatetime().tolist()
            columns = zip(
                chunk["sale_id"].tolist(),
                chunk["amount"].tolist(),
                stamps,
                chunk["currency"].tolist(),
                chunk["customer_id"].tolist(),
                chunk["card_id"].tolist(),
                chunk["store_id"].tolist(),
                times,
                strict=True,
            )
            for sale_id, amount, stamp, currency, customer, card, store, when in columns:
                yield DomainEvent(
                    source="sales.domain",
                    detail_type="SaleRecorded",
                    detail={
                        "sale_id": sale_id,
                        "amount": amount,
                        "timestamp": stamp,
                        "currency": currency,
                        "customer_id": customer,
                        "card_id": card,
                        "store_id": store,
                    },
                    idempotency_key=f"sale-recorded/{sale_id}",
                    correlation_id=f"checkout/{sale_id}",
                    schema_version="1.1",
                    time=when,
                )


def simulate_sales(
    count: int,
    *,
    seed: int = 0,
    start: datetime = _DEFAULT_START,
    days: int = 1,
    customers: int | None = None,
    stores: int = 40,
    fraud_rate: float = 0.01,
    kinds: Iterable[str] = FRAUD_KINDS,
    currency: str = "EUR",
) -> SalesSimulation:
    """Simulate ``count`` card sales with fraud injected; the same arguments give the same data.

    Vectorised with numpy: 100,000 sales take a fraction of a second.

    Parameters
    ----------
    count : int
        Sales in all, fraud included: 1 to ``MAX_SALES`` (10,000,000).
    seed : int, default 0
        0 or more. Everything random follows from it.
    start : datetime, default 2026-06-01 00:00 UTC
        Beginning of the period; timezone-aware (any zone; the sales' times are UTC).
    days : int, default 1
        Length of the period, 1 to 366 days; sales fall in ``[start, start + days)``.
    customers : int, optional
        Legitimate customers (fraud adds its own new ones). Default ``count // 3`` (at least
        1). Each card makes at most 24 sales a day, so at least ``count / (24 * days)``.
    stores : int, default 40
        2 to 10,000. The first go one to each of 19 cities (Paris, Berlin, ...), the rest
        as the cities' sizes go.
    fraud_rate : float, default 0.01
        Share of the sales that are fraudulent, 0 to 0.5: exactly ``round(count * fraud_rate)``
        sales (Python's ``round``).
    kinds : iterable of str, default FRAUD_KINDS
        The kinds of fraud to inject, a subset of ``FRAUD_KINDS`` without repeats.
    currency : str, default "EUR"
        ISO 4217 code of every amount.

    Returns
    -------
    SalesSimulation

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an argument out of its range or of the wrong type (a bool is not a number), a
        naive ``start``, an unknown or repeated kind, too few customers for ``count``, or too
        few fraudulent sales for one incident of the kinds asked for.

    Examples
    --------
    >>> import meshkit as mk
    >>> simulation = mk.analytics.simulate_sales(10_000, seed=1, fraud_rate=0.02)
    >>> simulation.sales.iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'sale_id': 'sale-daf38b-00001', 'time': Timestamp('2026-06-01 00:03:08+0000', tz='UTC'),
     'customer_id': 'cust-3307', 'card_id': 'card-3769', 'store_id': 'store-31',
     'city': 'Helsinki', 'amount': 39.61, 'currency': 'EUR'}
    >>> simulation.truth["fraud_kind"].value_counts().sort_index()
    fraud_kind
    card_burst                  50
    card_testing                50
    impossible_travel           50
    new_customer_high_amount    50
    Name: count, dtype: int64
    """
    count = _check_int("count", count, 1, MAX_SALES, fix="e.g. simulate_sales(10_000)")
    seed = _check_int("seed", seed, 0, 2**63 - 1, fix="e.g. seed=7")
    start_utc = _check_start(start)
    days = _check_int("days", days, 1, _MAX_DAYS, fix="e.g. days=7")
    stores = _check_int("stores", stores, 2, _MAX_STORES, fix="e.g. stores=40")
    rate = _check_rate(fraud_rate)
    kinds_asked = _check_kinds(kinds)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValidationError(
            f"currency is {currency!r}; give an ISO 4217 code of three capital letters, "
            "e.g. currency='EUR' (the SaleRecorded 1.1 contract's pattern ^[A-Z]{3}$)"
        )
    n_fraud = min(round(count * rate), count - 1)
    shares = _fraud_shares(n_fraud, kinds_asked, count, rate)
    n_legit = count - n_fraud
    if customers is None:
        customers = max(1, count // 3)
    else:
        customers = _check_int(
            "customers", customers, 1, MAX_SALES, fix="or customers=None for count // 3"
        )
    if customers * _CARD_SALES_PER_DAY * days < n_legit:
        needed = math.ceil(n_legit / (_CARD_SALES_PER_DAY * days))
        raise ValidationError(
            f"customers is {customers}: too few for {n_legit:,} legitimate sales in {days} "
            f"day(s), as a card makes at most {_CARD_SALES_PER_DAY} sales a day; give "
            f"customers={needed} or more, more days, or customers=None"
        )

    rng = np.random.default_rng(seed)
    world = _World.make(rng, stores)
    legit = _legit_sales(rng, world, n_legit, customers, days)
    parts = [legit.sales]
    new_customers = 0
    for kind in kinds_asked:
        if shares[kind]:
            sizes = _incident_sizes(rng, kind, shares[kind])
            part = _FRAUD_MAKERS[kind](rng, world, legit, sizes, days, new_customers)
            new_customers += part.new_customers
            parts.append(part.sales)
    simulation = _assemble(
        rng, world, parts, legit, new_customers, start_utc, currency, seed, kinds_asked,
        _fingerprint(count, seed, start_utc, days, customers, stores, rate, kinds_asked, currency),
    )  # fmt: skip
    _logger.debug("simulated %r", simulation)
    return simulation


# -- checks --------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int, high: int, *, fix: str) -> int:
    """``value`` as an int (numpy's ints too: the same number names the same simulation)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(
            f"{name} is {type(value).__name__} {value!r}; give an int from {low:,} to "
            f"{high:,} ({fix})"
        )
    if not low <= value <= high:
        raise ValidationError(
            f"{name} is {value:,}; give {low:,} to {high:,} ({fix})"
            + (". MAX_SALES bounds what one process simulates" if name == "count" else "")
        )
    return int(value)


def _check_start(start: Any) -> datetime:
    if not isinstance(start, datetime):
        kind = "a date without a time" if isinstance(start, date) else type(start).__name__
        raise ValidationError(
            f"start is {kind} ({start!r}); give a timezone-aware datetime, e.g. "
            "datetime(2026, 6, 1, tzinfo=timezone.utc)"
        )
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValidationError(
            f"start is the naive datetime {start.isoformat()}; give a timezone-aware one, e.g. "
            f"{start.replace(tzinfo=timezone.utc)!r} (sales' times are UTC)"
        )
    return start.astimezone(timezone.utc)


def _check_rate(rate: Any) -> float:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise ValidationError(
            f"fraud_rate is {type(rate).__name__} {rate!r}; give a number from 0 to "
            f"{_MAX_FRAUD_RATE}, e.g. fraud_rate=0.01 (1% of the sales)"
        )
    value = float(rate)
    if not 0.0 <= value <= _MAX_FRAUD_RATE:  # NaN fails this too
        raise ValidationError(
            f"fraud_rate is {value}; give 0 to {_MAX_FRAUD_RATE} (more than half would not "
            "be fraud among sales but sales among fraud), e.g. fraud_rate=0.01"
        )
    return value


def _check_kinds(kinds: Any) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise ValidationError(
            f"kinds is {type(kinds).__name__} {kinds!r}; give a tuple of kinds from "
            f"FRAUD_KINDS, e.g. kinds=({kinds if isinstance(kinds, str) else 'card_burst'!r},)"
        )
    asked = tuple(kinds)
    for kind in asked:
        if kind not in FRAUD_KINDS:
            raise ValidationError(
                f"kinds holds {kind!r}, an unknown kind of fraud; give kinds from "
                f"FRAUD_KINDS: {', '.join(FRAUD_KINDS)}"
            )
    if len(set(asked)) != len(asked):
        twice = sorted({kind for kind in asked if asked.count(kind) > 1})
        raise ValidationError(
            f"kinds names {', '.join(twice)} more than once; give each kind once "
            "(the fraudulent sales are split evenly over the kinds)"
        )
    return asked


def _fraud_shares(n_fraud: int, kinds: tuple[str, ...], count: int, rate: float) -> dict[str, int]:
    """Fraudulent sales per kind: even, the first kinds taking the remainder; a share too
    small for one incident goes to the largest other share (the first of equals)."""
    if n_fraud and not kinds:
        raise ValidationError(
            f"kinds is empty but fraud_rate is {rate}; give kinds from FRAUD_KINDS, or "
            "fraud_rate=0 for sales without fraud"
        )
    shares = {kind: n_fraud // len(kinds) for kind in kinds} if kinds else {}
    for kind in kinds[: n_fraud % len(kinds)] if kinds else ():
        shares[kind] += 1
    while short := [k for k in kinds if 0 < shares[k] < _INCIDENT_SIZES[k][0]]:
        kind = short[0]
        others = [k for k in kinds if k != kind and (shares[k] or _INCIDENT_SIZES[k][0] == 1)]
        if not others:
            smallest = min(_INCIDENT_SIZES[k][0] for k in kinds)
            raise ValidationError(
                f"count * fraud_rate gives {n_fraud} fraudulent sale(s) of {count:,}, fewer "
                f"than one incident of the kinds asked for needs ({smallest}); give a larger "
                "count or fraud_rate, fraud_rate=0, or add 'new_customer_high_amount' or "
                "'impossible_travel' to kinds (one sale each)"
            )
        taker = max(others, key=lambda k: shares[k])  # max keeps the first of equals
        shares[taker] += shares[kind]
        shares[kind] = 0
    return shares


def _fingerprint(*arguments: Any) -> str:
    """Six hex digits naming the arguments: sale ids differ between different simulations."""
    return hashlib.blake2b(repr(arguments).encode(), digest_size=3).hexdigest()


# -- the world: cities, stores, customers --------------------------------------------------------


@dataclass
class _World:
    store_city: _Ints
    store_type: _Ints
    latitude: _Floats
    longitude: _Floats
    stores_in_city: list[_Ints]  # store indexes, per city
    cdf_in_city: list[_Floats]  # cumulative popularity of those stores
    frame: pd.DataFrame

    @classmethod
    def make(cls, rng: np.random.Generator, n_stores: int) -> _World:
        n_cities = len(_CITIES)
        weights = np.array([city.weight for city in _CITIES])
        first = np.arange(min(n_stores, n_cities))
        rest = rng.choice(n_cities, size=max(0, n_stores - n_cities), p=weights / weights.sum())
        store_city = np.concatenate([first, rest]).astype(np.int64)
        type_p = np.array([kind.weight for kind in _STORE_TYPES])
        store_type = rng.choice(len(_STORE_TYPES), size=n_stores, p=type_p / type_p.sum())
        store_type = store_type.astype(np.int64)
        city_lat = np.array([city.latitude for city in _CITIES])[store_city]
        city_lon = np.array([city.longitude for city in _CITIES])[store_city]
        jitter = rng.uniform(-_JITTER_DEG, _JITTER_DEG, size=(2, n_stores))
        latitude = np.round(city_lat + jitter[0], 5)
        longitude = np.round(city_lon + jitter[1] / np.cos(np.radians(city_lat)), 5)
        stores_in_city = [np.flatnonzero(store_city == c).astype(np.int64) for c in range(n_cities)]
        cdf_in_city = []
        for members in stores_in_city:
            popularity = type_p[store_type[members]]
            cdf_in_city.append(
                np.cumsum(popularity) / popularity.sum() if members.size else popularity
            )
        width = len(str(n_stores))
        frame = pd.DataFrame(
            {
                "store_id": [f"store-{i + 1:0{width}d}" for i in range(n_stores)],
                "city": [_CITIES[c].name for c in store_city],
                "country": [_CITIES[c].country for c in store_city],
                "store_type": [_STORE_TYPES[t].name for t in store_type],
                "latitude": latitude,
                "longitude": longitude,
            }
        )
        return cls(store_city, store_type, latitude, longitude, stores_in_city, cdf_in_city, frame)

    @property
    def cities_with_stores(self) -> _Ints:
        return np.flatnonzero([members.size > 0 for members in self.stores_in_city]).astype(
            np.int64
        )

    def far_stores(self, rng: np.random.Generator, cities: _Ints) -> _Ints:
        """A random store in a city at least ``_TRAVEL_DESTINATION_KM`` from each given city
        (the farthest city with stores if none is that far)."""
        centres = np.array([(city.latitude, city.longitude) for city in _CITIES])
        margin = 2 * 5.0  # a store lies within 5 km of its city's centre
        chosen = np.empty(cities.size, dtype=np.int64)
        for city in np.unique(cities):
            where = cities == city
            km = distance_km(centres[city, 0], centres[city, 1], centres[:, 0], centres[:, 1])
            km = np.where([members.size > 0 for members in self.stores_in_city], km, -1.0)
            far = np.flatnonzero(km >= _TRAVEL_DESTINATION_KM + margin)
            if not far.size:
                far = np.array([int(np.argmax(km))])
            candidates = np.concatenate([self.stores_in_city[c] for c in far])
            chosen[where] = candidates[rng.integers(0, candidates.size, size=int(where.sum()))]
        return chosen

    def pick_stores(self, rng: np.random.Generator, cities: _Ints) -> _Ints:
        """A store in each given city, the popular types more often."""
        chosen = np.empty(cities.size, dtype=np.int64)
        draws = rng.random(cities.size)
        for city in np.unique(cities):
            where = cities == city
            cdf = self.cdf_in_city[city]
            position = np.minimum(np.searchsorted(cdf, draws[where], side="right"), cdf.size - 1)
            chosen[where] = self.stores_in_city[city][position]
        return chosen

    def amounts(self, rng: np.random.Generator, stores: _Ints) -> _Floats:
        """Log-normal amounts, by the type of each store."""
        types = self.store_type[stores]
        median = np.array([kind.median for kind in _STORE_TYPES])[types]
        sigma = np.array([kind.sigma for kind in _STORE_TYPES])[types]
        values = median * np.exp(sigma * rng.standard_normal(stores.size))
        return np.maximum(np.round(values, 2), _MIN_AMOUNT)


def _times(
    rng: np.random.Generator, stores: _Ints, world: _World, days: int, *, uniform: bool = False
) -> _Ints:
    """Seconds from the start: a day, then an hour of the local daily curve (or any hour)."""
    n = stores.size
    hours = rng.integers(0, 24, size=n) if uniform else rng.choice(24, size=n, p=_HOURLY_P)
    local = hours * 3600 + rng.integers(0, 3600, size=n)
    offsets = np.array([city.utc_offset_h for city in _CITIES])[world.store_city[stores]] * 3600
    seconds: _Ints = rng.integers(0, days, size=n) * _DAY_S + (local - offsets) % _DAY_S
    return seconds.astype(np.int64)


# -- legitimate sales ----------------------------------------------------------------------------


@dataclass
class _Sales:
    time: _Ints  # seconds from the start (shifted to the start's time of day by _assemble)
    customer: _Ints
    card: _Ints
    store: _Ints
    amount: _Floats
    kind: _Ints  # -1 legitimate, else the index in FRAUD_KINDS
    incident: _Ints  # number of the incident within its kind, -1 legitimate


@dataclass
class _Legit:
    sales: _Sales
    customers: int
    cards: int
    card_owner: _Ints
    customer_city: _Ints
    cards_used: _Ints  # cards with at least one legitimate sale


def _legit_sales(
    rng: np.random.Generator, world: _World, n: int, n_customers: int, days: int
) -> _Legit:
    cities = world.cities_with_stores
    per_city = np.array([world.stores_in_city[c].size for c in cities], dtype=float)
    customer_city = cities[rng.choice(cities.size, size=n_customers, p=per_city / per_city.sum())]
    cards_per = 1 + (rng.random(n_customers) < _SECOND_CARD_SHARE).astype(np.int64)
    card_owner = np.repeat(np.arange(n_customers, dtype=np.int64), cards_per)
    first_card = np.cumsum(cards_per) - cards_per
    n_cards = card_owner.size

    # Zipf-like repeat purchases: weight 1 / (rank + n/10), ranks shuffled over customers
    ranks = rng.permutation(n_customers)
    weights = 1.0 / (ranks + max(1.0, n_customers / 10))
    customer = rng.choice(n_customers, size=n, p=weights / weights.sum())
    card = first_card[customer] + (rng.random(n) * cards_per[customer]).astype(np.int64)
    card = _cap_sales_per_card(rng, card, n_cards, _CARD_SALES_PER_DAY * days)
    customer = card_owner[card]

    store = world.pick_stores(rng, customer_city[customer])
    amount = world.amounts(rng, store)
    time = _times(rng, store, world, days)
    order, time = _space_out(card, time, days)
    amount = _spread_tiny(rng, card, time, amount, order)
    amount = _ordinary_first_sales(rng, customer, time, amount)
    empty = np.full(n, -1, dtype=np.int64)
    sales = _Sales(time, customer, card, store, amount, empty, empty.copy())
    return _Legit(sales, n_customers, n_cards, card_owner, customer_city, np.unique(card))


def _group_ranks(sorted_keys: _Ints) -> tuple[_Ints, _Ints]:
    """For keys sorted ascending: each position's rank in its group, and the rank from the end."""
    positions = np.arange(sorted_keys.size, dtype=np.int64)
    begins = np.searchsorted(sorted_keys, sorted_keys, side="left")
    ends = np.searchsorted(sorted_keys, sorted_keys, side="right")
    return positions - begins, ends - 1 - positions


def _cap_sales_per_card(rng: np.random.Generator, card: _Ints, n_cards: int, cap: int) -> _Ints:
    """Move the sales beyond ``cap`` of a card to random free places on other cards."""
    order = np.argsort(card, kind="stable")
    rank, _ = _group_ranks(card[order])
    excess = order[rank >= cap]
    if not excess.size:
        return card
    free = np.maximum(cap - np.bincount(card, minlength=n_cards), 0)
    shuffled = rng.permutation(n_cards)
    cumulative = np.cumsum(free[shuffled])
    places = rng.choice(int(cumulative[-1]), size=excess.size, replace=False)
    moved = card.copy()
    moved[excess] = shuffled[np.searchsorted(cumulative, places, side="right")]
    return moved


def _space_out(card: _Ints, time: _Ints, days: int) -> tuple[_Ints, _Ints]:
    """Keep a card's sales ``_LEGIT_GAP_S`` apart, inside the period; return the (card, time)
    order and the new times. Forward then backward: t'_i = max(t_i, t'_(i-1) + gap), then
    t''_i = min(t'_i, t''_(i+1) - gap, end - 1), each a running max/min per card."""
    gap, end = _LEGIT_GAP_S, days * _DAY_S
    order = np.lexsort((time, card))
    cards, times = card[order], time[order]
    rank, rank_from_end = _group_ranks(cards)
    reach = _CARD_SALES_PER_DAY * days * gap  # at most cap sales: a card's shift stays below it
    big = end + 2 * reach + 1  # one card's values never reach the next card's
    forward = np.maximum.accumulate(cards * big + times - rank * gap + reach)
    forward = forward - cards * big - reach + rank * gap
    limited = np.minimum(forward + rank_from_end * gap, end - 1)
    backward = np.minimum.accumulate((cards * big + limited)[::-1])[::-1]
    spaced = np.empty_like(time)
    spaced[order] = backward - cards * big - rank_from_end * gap
    return order, spaced


def _spread_tiny(
    rng: np.random.Generator, card: _Ints, time: _Ints, amount: _Floats, order: _Ints
) -> _Floats:
    """Raise a tiny amount that would be a card's ``testing_sales``-th within the window.

    One pass suffices: raising only removes tiny sales, and any remaining run would have had
    its last sale raised.
    """
    rules = FRAUD_THRESHOLDS
    back = rules.testing_sales - 1
    tiny = order[amount[order] < rules.tiny_amount]  # in (card, time) order
    if tiny.size <= back:
        return amount
    same_card = card[tiny][back:] == card[tiny][:-back]
    close = time[tiny][back:] - time[tiny][:-back] <= rules.testing_window.total_seconds()
    raised = tiny[back:][same_card & close]
    result = amount.copy()
    result[raised] = np.round(rng.uniform(rules.tiny_amount, 4.5, size=raised.size), 2)
    return result


def _ordinary_first_sales(
    rng: np.random.Generator, customer: _Ints, time: _Ints, amount: _Floats
) -> _Floats:
    """Bring a customer's first sale under ``high_amount`` (a fraction of it) when above."""
    order = np.lexsort((time, customer))
    firsts = order[np.r_[True, customer[order][1:] != customer[order][:-1]]]
    high = firsts[amount[firsts] >= FRAUD_THRESHOLDS.high_amount]
    result = amount.copy()
    fraction = rng.uniform(0.3, 0.95, size=high.size)
    result[high] = np.round(FRAUD_THRESHOLDS.high_amount * fraction, 2)
    return result


# -- fraud ---------------------------------------------------------------------------------------


def _incident_sizes(rng: np.random.Generator, kind: str, total: int) -> _Ints:
    """Sizes within the kind's bounds that add up to ``total`` exactly."""
    low, high = _INCIDENT_SIZES[kind]
    fewest, most = math.ceil(total / high), total // low
    incidents = min(max(round(2 * total / (low + high)), fewest), most)
    extra = total - incidents * low
    room = high - low
    sizes = np.full(incidents, low, dtype=np.int64)
    if extra:
        places = rng.choice(incidents * room, size=extra, replace=False)
        sizes += np.bincount(places // room, minlength=incidents)
    return sizes


class _Fraud(NamedTuple):
    sales: _Sales
    new_customers: int


def _incident_layout(sizes: _Ints) -> tuple[_Ints, _Ints, _Ints]:
    """For each sale: its incident, its place in the incident, and the incident's size."""
    incident = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
    place = np.arange(incident.size, dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return incident, place, sizes[incident]


def _offsets(rng: np.random.Generator, sizes: _Ints, low: int, high: int) -> _Ints:
    """Seconds from each incident's first sale: gaps of ``low`` to ``high`` seconds."""
    _, place, _ = _incident_layout(sizes)
    gaps = np.where(place == 0, 0, rng.integers(low, high + 1, size=place.size))
    running = np.cumsum(gaps)
    offsets: _Ints = running - np.repeat(running[np.cumsum(sizes) - sizes], sizes)
    return offsets.astype(np.int64)


def _fit(starts: _Ints, spans: _Ints, days: int) -> _Ints:
    """Move incidents that would run past the end of the period back into it."""
    return np.minimum(starts, days * _DAY_S - 1 - spans)


def _existing_cards(rng: np.random.Generator, legit: _Legit, n: int) -> _Ints:
    return legit.cards_used[rng.integers(0, legit.cards_used.size, size=n)]


def _fraud_sales(
    kind: str, time: _Ints, customer: _Ints, card: _Ints, store: _Ints, amount: _Floats,
    incident: _Ints,
) -> _Sales:  # fmt: skip
    code = np.full(time.size, FRAUD_KINDS.index(kind), dtype=np.int64)
    return _Sales(time, customer, card, store, amount, code, incident)


def _card_burst(
    rng: np.random.Generator, world: _World, legit: _Legit, sizes: _Ints, days: int, _new: int
) -> _Fraud:
    incident, _, _ = _incident_layout(sizes)
    cards = _existing_cards(rng, legit, sizes.size)
    owners = legit.card_owner[cards]
    offsets = _offsets(rng, sizes, *_BURST_GAP_S)
    spans = offsets[np.cumsum(sizes) - 1]
    first_stores = world.pick_stores(rng, legit.customer_city[owners])
    starts = _fit(_times(rng, first_stores, world, days), spans, days)
    store = world.pick_stores(rng, legit.customer_city[owners][incident])
    amount = np.clip(world.amounts(rng, store) * 1.5, *_BURST_AMOUNT)
    time = starts[incident] + offsets
    return _Fraud(
        _fraud_sales(
            "card_burst", time, owners[incident], cards[incident], store, amount, incident
        ),
        0,
    )


def _card_testing(
    rng: np.random.Generator, world: _World, legit: _Legit, sizes: _Ints, days: int, _new: int
) -> _Fraud:
    low, high = _INCIDENT_SIZES["card_testing"]
    incident, place, size = _incident_layout(sizes)
    # a large sale ends the incident: always at the largest size, never at the smallest
    big_ending = (sizes == high) | ((sizes > low) & (rng.random(sizes.size) < _TESTING_BIG_SHARE))
    is_big = big_ending[incident] & (place == size - 1)
    cards = _existing_cards(rng, legit, sizes.size)
    owners = legit.card_owner[cards]
    home = legit.customer_city[owners]
    offsets = _offsets(rng, sizes, *_TESTING_GAP_S)
    big_after = rng.integers(*_TESTING_BIG_AFTER_S, size=incident.size)
    offsets = offsets + np.where(is_big, big_after, 0)
    spans = offsets[np.cumsum(sizes) - 1]
    tested_at = world.pick_stores(rng, home)
    starts = _fit(_times(rng, tested_at, world, days, uniform=True), spans, days)
    store = np.where(is_big, world.pick_stores(rng, home[incident]), tested_at[incident])
    tiny = np.round(rng.uniform(_MIN_AMOUNT, FRAUD_THRESHOLDS.tiny_amount - 0.01, incident.size), 2)
    large = np.round(rng.uniform(*_TESTING_BIG_AMOUNT, size=incident.size), 2)
    amount = np.where(is_big, large, tiny)
    time = starts[incident] + offsets
    return _Fraud(
        _fraud_sales(
            "card_testing", time, owners[incident], cards[incident], store, amount, incident
        ),
        0,
    )


def _new_customer_high_amount(
    rng: np.random.Generator, world: _World, legit: _Legit, sizes: _Ints, days: int, new: int
) -> _Fraud:
    n = int(sizes.sum())  # one sale per incident
    high_value = np.flatnonzero([_STORE_TYPES[t].high_value for t in world.store_type])
    candidates = high_value if high_value.size else np.arange(world.store_type.size)
    store = candidates[rng.integers(0, candidates.size, size=n)].astype(np.int64)
    customer = legit.customers + new + np.arange(n, dtype=np.int64)
    card = legit.cards + new + np.arange(n, dtype=np.int64)
    amount = np.round(rng.uniform(*_NEW_CUSTOMER_AMOUNT, size=n), 2)
    time = _times(rng, store, world, days)
    incident = np.arange(n, dtype=np.int64)
    return _Fraud(
        _fraud_sales("new_customer_high_amount", time, customer, card, store, amount, incident),
        n,
    )


def _impossible_travel(
    rng: np.random.Generator, world: _World, legit: _Legit, sizes: _Ints, days: int, _new: int
) -> _Fraud:
    incident, place, _ = _incident_layout(sizes)
    anchors = rng.integers(0, legit.sales.time.size, size=sizes.size)
    anchor_store = legit.sales.store[anchors]
    anchor_time = legit.sales.time[anchors]
    destination = world.far_stores(rng, world.store_city[anchor_store])
    km = distance_km(
        world.latitude[anchor_store],
        world.longitude[anchor_store],
        world.latitude[destination],
        world.longitude[destination],
    )
    longest = np.floor(km / FRAUD_THRESHOLDS.travel_speed_kmh * 3600 * _TRAVEL_SLACK)
    longest = longest.astype(np.int64)[incident]
    gap = _TRAVEL_MIN_GAP_S + (rng.random(incident.size) * (longest - _TRAVEL_MIN_GAP_S))
    gap = np.where(place == 0, gap, gap * rng.uniform(0.5, 1.0, size=incident.size))
    gap = np.maximum(gap.astype(np.int64), _TRAVEL_MIN_GAP_S)
    at = anchor_time[incident]
    time = np.where(at + gap < days * _DAY_S, at + gap, at - gap)
    cards = legit.sales.card[anchors][incident]
    owners = legit.sales.customer[anchors][incident]
    store = destination[incident]
    amount = np.clip(world.amounts(rng, store), FRAUD_THRESHOLDS.tiny_amount, 900.0)
    return _Fraud(
        _fraud_sales("impossible_travel", time, owners, cards, store, amount, incident), 0
    )


_FRAUD_MAKERS = {
    "card_burst": _card_burst,
    "card_testing": _card_testing,
    "new_customer_high_amount": _new_customer_high_amount,
    "impossible_travel": _impossible_travel,
}


# -- the frames ----------------------------------------------------------------------------------


def _names(prefix: str, n: int) -> npt.NDArray[np.object_]:
    """``prefix0042``-style names, 1 to n, zero-padded to one width (numpy's string ufuncs)."""
    numbers = np.char.zfill(np.arange(1, n + 1).astype(str), len(str(n)))
    return np.char.add(prefix, numbers).astype(object)


def _assemble(
    rng: np.random.Generator,
    world: _World,
    parts: list[_Sales],
    legit: _Legit,
    new_customers: int,
    start: datetime,
    currency: str,
    seed: int,
    kinds: tuple[str, ...],
    fingerprint: str,
) -> SalesSimulation:
    def joined(name: str) -> Any:
        return np.concatenate([getattr(part, name) for part in parts])

    time, kind, incident = joined("time"), joined("kind"), joined("incident")
    count = time.size
    order = np.lexsort((rng.permutation(count), time))
    # names shuffled over what they name: a customer's or card's number says nothing of it
    n_customers, n_cards = legit.customers + new_customers, legit.cards + new_customers
    customer_names = _names("cust-", n_customers)[rng.permutation(n_customers)]
    card_names = _names("card-", n_cards)[rng.permutation(n_cards)]
    store = joined("store")[order]
    sale_ids = _names(f"sale-{fingerprint}-", count)
    start_ns = pd.Timestamp(start).value
    sales = pd.DataFrame(
        {
            "sale_id": sale_ids,
            "time": pd.to_datetime(start_ns + time[order] * 1_000_000_000, unit="ns", utc=True),
            "customer_id": customer_names[joined("customer")[order]],
            "card_id": card_names[joined("card")[order]],
            "store_id": world.frame["store_id"].to_numpy(dtype=object)[store],
            "city": world.frame["city"].to_numpy(dtype=object)[store],
            "amount": joined("amount")[order],
            "currency": currency,
        }
    )
    fraud = np.flatnonzero(kind[order] >= 0)
    kind_names = np.array(FRAUD_KINDS, dtype=object)[kind[order][fraud]]
    incident_numbers = incident[order][fraud] + 1
    truth = pd.DataFrame(
        {
            "sale_id": sale_ids[fraud],
            "fraud_kind": kind_names,
            "incident_id": [
                f"{k}-{i:04d}" for k, i in zip(kind_names, incident_numbers, strict=True)
            ],
        }
    )
    return SalesSimulation(sales, truth, world.frame, seed, kinds)
