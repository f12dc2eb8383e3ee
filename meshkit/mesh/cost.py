"""What an EventBridge mesh costs: a month of a workload, or one run, from a dated price table.

The estimate prices Custom Event Bus - Classic (the bus notebooks 01-04 use) line by line:
events published, deliveries to targets in the same account and in other accounts, the archive
and replays. Every amount is a ``decimal.Decimal``, so a run of a few thousand events shows its
fractions of a cent exactly instead of rounding to zero.

The new Custom Event Bus is reported beside it, line by line, as **not priced**: AWS prices it per
KB published, delivered and retained, but no official figures were found as of 2026-12-02, and
meshkit does not make them up. Its lines carry the volumes (KB) and the pricing page to check.

``PRICES`` holds summaries of AWS's price list for us-east-1 from third-party pages (March to June
2026): check them against https://aws.amazon.com/eventbridge/pricing/ before quoting a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

import pandas as pd

from ..exceptions import ValidationError

__all__ = [
    "CLASSIC",
    "CUSTOM_BUS",
    "DAYS_PER_MONTH",
    "KB_PER_GB",
    "MAX_EVENT_KB",
    "PRICES",
    "PRICING_PAGE",
    "CostEstimate",
    "InvalidWorkloadError",
    "LineItem",
    "Price",
    "PriceTable",
    "Workload",
    "estimate",
    "estimate_run",
]

PRICING_PAGE = "https://aws.amazon.com/eventbridge/pricing/"
"""AWS's official EventBridge pricing page: the source every price here is checked against."""

DAYS_PER_MONTH = 30
"""A month in these estimates: 30 days (AWS bills calendar months; 30 keeps months comparable)."""

MAX_EVENT_KB = 1024
"""The largest PutEvents entry, 1 MB, in KB."""

KB_PER_GB = 1024 * 1024
"""Binary units, as AWS meters storage: 1 GB = 1,048,576 KB."""

CLASSIC = "Custom Event Bus - Classic"
"""The ``bus`` of the line items priced from ``PRICES``."""

CUSTOM_BUS = "Custom Event Bus"
"""The ``bus`` of the new bus's line items, all not priced."""

_NOT_PRICED = "not priced"
_MILLION = 1_000_000


class InvalidWorkloadError(ValidationError):
    """A workload or run was refused: ``field`` names the argument; the message, limit and fix."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Price:
    """One line of a price list: USD per a number of units, and where the figure comes from.

    Attributes
    ----------
    item : str
        What is charged, e.g. ``"events published"``.
    usd : Decimal or None
        USD per ``per`` units; None when AWS publishes no price (the line is "not priced").
    per : int
        How many units ``usd`` buys, e.g. 1,000,000 for "USD 1.00 per million".
    unit : str
        The unit, e.g. ``"event (64 KB chunk)"``.
    source : str
        The page to check the figure against.
    chunk_kb : int or None
        When set, each event is metered in chunks of this many KB (a 200 KB event in 64 KB
        chunks counts as 4).
    note : str
        Who pays, or why there is no price.

    Examples
    --------
    >>> from decimal import Decimal
    >>> from meshkit.mesh.cost import Price
    >>> price = Price("events published", Decimal("1.00"), 1_000_000, "event", "https://x")
    >>> price.priced, price.unit_usd
    (True, Decimal('0.000001'))
    """

    item: str
    usd: Decimal | None
    per: int
    unit: str
    source: str
    chunk_kb: int | None = None
    note: str = ""

    @property
    def priced(self) -> bool:
        """Whether AWS publishes a figure for this line (False: "not priced")."""
        return self.usd is not None

    @property
    def unit_usd(self) -> Decimal | None:
        """USD for one unit (``usd / per``), or None when not priced."""
        return None if self.usd is None else _exact(self.usd / self.per)


@dataclass(frozen=True)
class PriceTable:
    """EventBridge's prices on a date, in one region, each line with its unit and source.

    Attributes
    ----------
    as_of : date
        When the Classic figures were current.
    region : str
        The region they are for.
    source : str
        The official page to check them against.
    caveat : str
        How far to trust them.
    publish, same_account_delivery, cross_account_delivery : Price
        Custom events published to a Classic bus, and their delivery to targets.
    archive_processing, archive_storage, replay : Price
        Archiving events (GB processed, GB-months stored) and replaying them.
    custom_bus_publish, custom_bus_delivery, custom_bus_retention : Price
        The new Custom Event Bus: all not priced (``usd`` None).
    custom_bus_checked : date
        When official prices for the new bus were last looked for, and not found.

    Examples
    --------
    >>> from meshkit.mesh.cost import PRICES
    >>> PRICES.as_of.isoformat(), PRICES.region, str(PRICES.publish.usd), PRICES.publish.per
    ('2026-06-01', 'us-east-1', '1.00', 1000000)
    >>> PRICES.custom_bus_publish.usd is None
    True
    """

    as_of: date
    region: str
    source: str
    caveat: str
    publish: Price
    same_account_delivery: Price
    cross_account_delivery: Price
    archive_processing: Price
    archive_storage: Price
    replay: Price
    custom_bus_publish: Price
    custom_bus_delivery: Price
    custom_bus_retention: Price
    custom_bus_checked: date

    def lines(self) -> tuple[tuple[str, Price], ...]:
        """Every price, with the bus it belongs to: Classic first, then the new bus.

        Returns
        -------
        tuple of (str, Price)
            ``(CLASSIC or CUSTOM_BUS, price)`` pairs.

        Examples
        --------
        >>> from meshkit.mesh.cost import PRICES
        >>> [price.item for bus, price in PRICES.lines()][:2]
        ['events published', 'same-account deliveries']
        """
        return tuple(
            (CUSTOM_BUS if field.name.startswith("custom_bus_") else CLASSIC, value)
            for field in fields(self)
            if isinstance(value := getattr(self, field.name), Price)
        )

    def frame(self) -> pd.DataFrame:
        """The price table as a DataFrame: one row per price, "not priced" ones included.

        Returns
        -------
        pandas.DataFrame
            Columns ``bus``, ``item``, ``usd``, ``per``, ``unit``, ``chunk_kb``, ``note``,
            ``source``; ``usd`` is None where AWS publishes no price.

        Examples
        --------
        >>> from meshkit.mesh.cost import PRICES
        >>> table = PRICES.frame()
        >>> print(table[["item", "usd", "per"]].head(3).to_string(index=False))
                            item  usd     per
                events published 1.00 1000000
         same-account deliveries    0       1
        cross-account deliveries 1.00 1000000
        """
        columns = ["bus", "item", "usd", "per", "unit", "chunk_kb", "note", "source"]
        rows = [
            {
                "bus": bus,
                "item": price.item,
                "usd": price.usd,
                "per": price.per,
                "unit": price.unit,
                "chunk_kb": price.chunk_kb,
                "note": price.note,
                "source": price.source,
            }
            for bus, price in self.lines()
        ]
        return pd.DataFrame(rows, columns=columns)


_CUSTOM_BUS_UNPRICED = (
    f"{_NOT_PRICED}: AWS prices the new Custom Event Bus per KB published, delivered and "
    f"retained, but no official figures were found as of 2026-12-02; check {PRICING_PAGE}"
)

PRICES = PriceTable(
    as_of=date(2026, 6, 1),  # June 2026, the latest of the summaries; the day is nominal
    region="us-east-1",
    source=PRICING_PAGE,
    caveat=(
        "summaries of AWS's price list from third-party pages (March to June 2026), not AWS's "
        f"own figures: check them against {PRICING_PAGE}"
    ),
    publish=Price(
        "events published",
        Decimal("1.00"),
        _MILLION,
        "event (64 KB chunk)",
        PRICING_PAGE,
        chunk_kb=64,
        note="custom events put on a Classic bus; each 64 KB chunk of an event counts as one",
    ),
    same_account_delivery=Price(
        "same-account deliveries",
        Decimal("0"),
        1,
        "delivery",
        PRICING_PAGE,
        note="free: delivery to targets in the bus's own account",
    ),
    cross_account_delivery=Price(
        "cross-account deliveries",
        Decimal("1.00"),
        _MILLION,
        "event delivered",
        PRICING_PAGE,
        note="charged to the sending account",
    ),
    archive_processing=Price(
        "archive processing",
        Decimal("0.10"),
        1,
        "GB processed",
        PRICING_PAGE,
        note="every archived event's size",
    ),
    archive_storage=Price(
        "archive storage",
        Decimal("0.023"),
        1,
        "GB-month",
        PRICING_PAGE,
        note="what the archive holds, month by month",
    ),
    replay=Price(
        "replays",
        Decimal("1.00"),
        _MILLION,
        "event replayed",
        PRICING_PAGE,
        note="events replayed from an archive",
    ),
    custom_bus_publish=Price(
        "KB published", None, 1, "KB published", PRICING_PAGE, note=_CUSTOM_BUS_UNPRICED
    ),
    custom_bus_delivery=Price(
        "KB delivered",
        None,
        1,
        "KB delivered (same- and cross-account subscribers)",
        PRICING_PAGE,
        note=_CUSTOM_BUS_UNPRICED,
    ),
    custom_bus_retention=Price(
        "KB retained",
        None,
        1,
        "KB retained (metering period not published)",
        PRICING_PAGE,
        note=_CUSTOM_BUS_UNPRICED,
    ),
    custom_bus_checked=date(2026, 12, 2),
)
"""EventBridge's prices in us-east-1 as of June 2026 (summaries: check ``PRICING_PAGE``)."""


@dataclass(frozen=True)
class Workload:
    """A steady mesh workload: what one bus carries on an average day, checked on creation.

    Every event is taken to be ``event_kb`` in size: metering is per event, so for events of
    very different sizes, estimate each size as its own workload and add the totals.

    Attributes
    ----------
    events_per_day : float
        Custom events published to the bus per day (an average may be fractional).
    event_kb : float
        The average event's size in KB, more than 0 and at most 1024 (a PutEvents entry holds
        at most 1 MB).
    subscribers_per_event : float, default 1
        Targets in the bus's own account each event is delivered to (free on Classic).
    cross_account_per_event : float, default 0
        Deliveries of each event to other accounts' buses (charged to the sender).
    archived : bool, default False
        Whether an archive keeps every event.
    archive_retention_days : int, optional
        How long the archive keeps an event, in whole days; required when ``archived`` (an
        archive that keeps events forever never reaches a steady size to price).
    replayed_per_month : float, default 0
        Events replayed from the archive per month.

    Raises
    ------
    meshkit.mesh.cost.InvalidWorkloadError
        For a negative, infinite, NaN or non-number value (bools are refused), an event over
        1 MB, or an archive retention missing or given without an archive; the message names
        the field, the limit and the fix.

    Examples
    --------
    >>> from meshkit.mesh.cost import Workload
    >>> Workload(events_per_day=100_000, event_kb=2).cross_account_per_event
    0
    >>> Workload(events_per_day=100_000, event_kb=2048)
    Traceback (most recent call last):
    ...
    meshkit.mesh.cost.InvalidWorkloadError: event_kb is 2048: a PutEvents entry holds at most ...
    """

    events_per_day: float
    event_kb: float
    subscribers_per_event: float = 1
    cross_account_per_event: float = 0
    archived: bool = False
    archive_retention_days: int | None = None
    replayed_per_month: float = 0

    def __post_init__(self) -> None:
        _count("events_per_day", self.events_per_day)
        _event_kb("event_kb", self.event_kb)
        _count("subscribers_per_event", self.subscribers_per_event)
        _count("cross_account_per_event", self.cross_account_per_event)
        _count("replayed_per_month", self.replayed_per_month)
        archived: object = self.archived
        if not isinstance(archived, bool):
            raise InvalidWorkloadError(
                "archived", f"archived is {archived!r:.40}: give True or False"
            )
        _retention(archived, self.archive_retention_days)


@dataclass(frozen=True)
class LineItem:
    """One line of an estimate: a quantity of a unit, its price, the USD, and the source.

    Attributes
    ----------
    bus : str
        ``CLASSIC`` or ``CUSTOM_BUS``.
    item : str
        What is charged.
    quantity : Decimal or None
        How many units (None when not even the unit's metering is published).
    unit : str
        The unit.
    unit_usd : Decimal or None
        USD per unit; None when not priced.
    usd : Decimal or None
        ``quantity * unit_usd``, exact; None when not priced.
    source : str
        The page to check the price against.
    note : str
        Who pays, or ``"not priced: ..."`` with the reason.

    Examples
    --------
    >>> from decimal import Decimal
    >>> from meshkit.mesh.cost import CLASSIC, LineItem
    >>> line = LineItem(CLASSIC, "replays", Decimal(3), "event", Decimal("0.000001"),
    ...                 Decimal("0.000003"), "https://x", "")
    >>> line.priced, str(line.usd)
    (True, '0.000003')
    """

    bus: str
    item: str
    quantity: Decimal | None
    unit: str
    unit_usd: Decimal | None
    usd: Decimal | None
    source: str
    note: str

    @property
    def priced(self) -> bool:
        """Whether the line has a USD amount (False: "not priced")."""
        return self.usd is not None


@dataclass(frozen=True)
class CostEstimate:
    """Line items for Classic (priced) and the new Custom Event Bus (not priced), with a total.

    Attributes
    ----------
    period : str
        What the estimate covers: ``"one month (30 days)"`` or ``"one run"``.
    lines : tuple of LineItem
        Classic's lines, then the new bus's.
    prices : PriceTable
        The prices used.

    Examples
    --------
    >>> from meshkit.mesh.cost import Workload, estimate
    >>> cost = estimate(Workload(events_per_day=100_000, event_kb=2))
    >>> cost.total
    Decimal('3')
    >>> [line.note[:10] for line in cost.lines if not line.priced]
    ['not priced', 'not priced', 'not priced']
    """

    period: str
    lines: tuple[LineItem, ...]
    prices: PriceTable

    @property
    def total(self) -> Decimal:
        """USD on Custom Event Bus - Classic, exact (the new bus is not priced)."""
        return _exact(sum((line.usd or Decimal(0) for line in self.classic), Decimal(0)))

    @property
    def classic(self) -> tuple[LineItem, ...]:
        """The Classic bus's lines, all priced."""
        return tuple(line for line in self.lines if line.bus == CLASSIC)

    @property
    def custom_bus(self) -> tuple[LineItem, ...]:
        """The new Custom Event Bus's lines, all "not priced"."""
        return tuple(line for line in self.lines if line.bus == CUSTOM_BUS)

    def frame(self) -> pd.DataFrame:
        """The line items as a DataFrame, amounts as exact ``Decimal`` values.

        Returns
        -------
        pandas.DataFrame
            Columns ``bus``, ``item``, ``quantity``, ``unit``, ``unit_usd``, ``usd``, ``note``,
            ``source``; ``usd`` is None on the lines that are not priced.

        Examples
        --------
        >>> from meshkit.mesh.cost import estimate_run
        >>> table = estimate_run(events=3000, event_kb=1.5, cross_account=3000).frame()
        >>> print(table[["item", "quantity", "usd"]].to_string(index=False))
                            item quantity   usd
                events published     3000 0.003
         same-account deliveries        0     0
        cross-account deliveries     3000 0.003
              archive processing        0     0
                 archive storage        0     0
                         replays        0     0
                    KB published     4500  None
                    KB delivered     4500  None
                     KB retained     None  None
        """
        columns = ["bus", "item", "quantity", "unit", "unit_usd", "usd", "note", "source"]
        rows = [
            {
                "bus": line.bus,
                "item": line.item,
                "quantity": line.quantity,
                "unit": line.unit,
                "unit_usd": line.unit_usd,
                "usd": line.usd,
                "note": line.note,
                "source": line.source,
            }
            for line in self.lines
        ]
        return pd.DataFrame(rows, columns=columns)

    def __str__(self) -> str:
        prices = self.prices
        checked = prices.custom_bus_checked.isoformat()
        rows: list[tuple[str, str, str, str] | str] = [f"{CLASSIC}:"]
        rows += [
            (
                line.item,
                _plain(line.quantity),
                line.unit,
                f"USD {_plain(line.usd)}" if line.priced else _NOT_PRICED,
            )
            for line in self.classic
        ]
        rows.append(("total", "", "", f"USD {_plain(self.total)}"))
        rows.append(f"{CUSTOM_BUS} (new): {_NOT_PRICED}, no official prices as of {checked}")
        rows += [
            (line.item, "?" if line.quantity is None else _plain(line.quantity), "KB", _NOT_PRICED)
            for line in self.custom_bus
        ]
        cells = [row for row in rows if isinstance(row, tuple)]
        item_width, quantity_width, unit_width = (
            max(len(cell[column]) for cell in cells) for column in range(3)
        )
        as_of = f"{prices.as_of:%B %Y}"
        out = [f"EventBridge cost for {self.period}, {prices.region}, prices as of {as_of}"]
        for row in rows:
            if isinstance(row, str):
                out.append(row)
            else:
                item, quantity, unit, amount = row
                out.append(
                    f"  {item:<{item_width}}  {quantity:>{quantity_width}} "
                    f"{unit:<{unit_width}}  {amount}".rstrip()
                )
        out.append(f"Prices: {prices.caveat}")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        caption = (
            f"EventBridge cost for {self.period}, {self.prices.region}, prices as of "
            f"{self.prices.as_of:%B %Y}: Classic total USD {_plain(self.total)}; the new "
            f"{CUSTOM_BUS} is {_NOT_PRICED}. Check {self.prices.source}."
        )
        return f"<p>{caption}</p>" + self.frame().to_html(index=False, na_rep=_NOT_PRICED)


def estimate(workload: Workload, *, prices: PriceTable = PRICES) -> CostEstimate:
    """Estimate a month (30 days) of a workload on Classic, and list the new bus unpriced.

    Events published are metered in 64 KB chunks (``Price.chunk_kb``): a 200 KB event counts as
    4. The archive processes every event's size; its storage is priced at steady state: the
    archive holds ``archive_retention_days`` days of events, i.e. a day's volume times the
    retention, every month (in the first weeks it holds less, so this is an upper bound then).
    Replays are charged per event replayed; their deliveries are not added.

    Parameters
    ----------
    workload : Workload
        What the bus carries on an average day.
    prices : PriceTable, default PRICES
        The prices to use (``dataclasses.replace(PRICES, ...)`` to try others).

    Returns
    -------
    CostEstimate
        The month's line items, exact to the fraction of a cent; ``.total`` is Classic's.

    Raises
    ------
    meshkit.mesh.cost.InvalidWorkloadError
        When ``workload`` is not a ``Workload``.

    Examples
    --------
    >>> from meshkit.mesh.cost import Workload, estimate
    >>> workload = Workload(events_per_day=100_000, event_kb=200, cross_account_per_event=1,
    ...                     archived=True, archive_retention_days=7, replayed_per_month=50_000)
    >>> print(estimate(workload))  # doctest: +ELLIPSIS
    EventBridge cost for one month (30 days), us-east-1, prices as of June 2026
    Custom Event Bus - Classic:
      events published                12,000,000 event (64 KB chunk)  USD 12
      same-account deliveries          3,000,000 delivery             USD 0
      cross-account deliveries         3,000,000 event delivered      USD 3
      archive processing         572.20458984375 GB processed         USD 57.220458984375
      archive storage           133.514404296875 GB-month             USD 3.070831298828125
      replays                             50,000 event replayed       USD 0.05
      total                                                           USD 75.341290283203125
    Custom Event Bus (new): not priced, no official prices as of 2026-12-02
      KB published                   600,000,000 KB                   not priced
      KB delivered                 1,200,000,000 KB                   not priced
      KB retained                              ? KB                   not priced
    Prices: summaries of AWS's price list from third-party pages (March to June 2026), ...
    """
    if not isinstance(workload, Workload):
        raise InvalidWorkloadError(
            "workload",
            f"workload is {type(workload).__name__}: give a meshkit.mesh.cost.Workload, e.g. "
            "Workload(events_per_day=10_000, event_kb=2)",
        )
    prices = _prices(prices)
    events = _number(workload.events_per_day) * DAYS_PER_MONTH
    event_kb = _number(workload.event_kb)
    day_gb = _number(workload.events_per_day) * event_kb / KB_PER_GB
    retention = workload.archive_retention_days or 0
    return CostEstimate(
        period=f"one month ({DAYS_PER_MONTH} days)",
        lines=_lines(
            prices,
            events=events,
            event_kb=event_kb,
            same_account=events * _number(workload.subscribers_per_event),
            cross_account=events * _number(workload.cross_account_per_event),
            archived_gb=events * event_kb / KB_PER_GB if workload.archived else Decimal(0),
            stored_gb_months=day_gb * retention if workload.archived else Decimal(0),
            replayed=_number(workload.replayed_per_month),
        ),
        prices=prices,
    )


def estimate_run(
    *,
    events: int,
    event_kb: float,
    deliveries: int = 0,
    cross_account: int = 0,
    archived_events: int = 0,
    archive_days: float = 0,
    replayed: int = 0,
    prices: PriceTable = PRICES,
) -> CostEstimate:
    """What one run (a notebook's, a benchmark's) would have cost on AWS, exactly.

    Parameters
    ----------
    events : int
        Custom events the run published.
    event_kb : float
        Their average size in KB, more than 0 and at most 1024.
    deliveries : int, default 0
        Deliveries to targets in the same account, in all (free on Classic).
    cross_account : int, default 0
        Deliveries to other accounts, in all (charged to the sender).
    archived_events : int, default 0
        Events an archive took in (each ``event_kb`` in size).
    archive_days : float, default 0
        How long the archive kept them: storage is charged for ``archive_days / 30`` months.
    replayed : int, default 0
        Events replayed from an archive.
    prices : PriceTable, default PRICES

    Returns
    -------
    CostEstimate
        The run's line items; ``.total`` is Classic's, in exact USD (fractions of a cent are
        kept, never rounded to zero).

    Raises
    ------
    meshkit.mesh.cost.InvalidWorkloadError
        For a count that is not a whole number of 0 or more, a size outside 0 to 1024 KB, or a
        negative, infinite or NaN ``archive_days``; the message names the field.

    Examples
    --------
    >>> from meshkit.mesh.cost import estimate_run
    >>> run = estimate_run(events=3000, event_kb=1.5, deliveries=6000, archived_events=3000)
    >>> run.total
    Decimal('0.0034291534423828125')
    >>> estimate_run(events=-1, event_kb=1)
    Traceback (most recent call last):
    ...
    meshkit.mesh.cost.InvalidWorkloadError: events is -1: give a whole number of 0 or more, ...
    """
    counts = {
        "events": events,
        "deliveries": deliveries,
        "cross_account": cross_account,
        "archived_events": archived_events,
        "replayed": replayed,
    }
    for name, value in counts.items():
        _whole(name, value)
    _event_kb("event_kb", event_kb)
    _count("archive_days", archive_days)
    prices = _prices(prices)
    kb = _number(event_kb)
    archived_gb = Decimal(archived_events) * kb / KB_PER_GB
    return CostEstimate(
        period="one run",
        lines=_lines(
            prices,
            events=Decimal(events),
            event_kb=kb,
            same_account=Decimal(deliveries),
            cross_account=Decimal(cross_account),
            archived_gb=archived_gb,
            stored_gb_months=archived_gb * _number(archive_days) / DAYS_PER_MONTH,
            replayed=Decimal(replayed),
        ),
        prices=prices,
    )


def _lines(
    prices: PriceTable,
    *,
    events: Decimal,
    event_kb: Decimal,
    same_account: Decimal,
    cross_account: Decimal,
    archived_gb: Decimal,
    stored_gb_months: Decimal,
    replayed: Decimal,
) -> tuple[LineItem, ...]:
    chunk_kb = prices.publish.chunk_kb
    chunks = math.ceil(event_kb / chunk_kb) if chunk_kb else 1
    classic = [
        (prices.publish, events * chunks),
        (prices.same_account_delivery, same_account),
        (prices.cross_account_delivery, cross_account),
        (prices.archive_processing, archived_gb),
        (prices.archive_storage, stored_gb_months),
        (prices.replay, replayed),
    ]
    unpriced: list[tuple[Price, Decimal | None]] = [
        (prices.custom_bus_publish, events * event_kb),
        (prices.custom_bus_delivery, (same_account + cross_account) * event_kb),
        (prices.custom_bus_retention, None),  # how retention is metered is not published
    ]
    return tuple(_line(CLASSIC, price, quantity) for price, quantity in classic) + tuple(
        _line(CUSTOM_BUS, price, quantity) for price, quantity in unpriced
    )


def _line(bus: str, price: Price, quantity: Decimal | None) -> LineItem:
    unit_usd = price.unit_usd
    usd = None if unit_usd is None or quantity is None else _exact(quantity * unit_usd)
    note = price.note
    if not price.priced and not note.startswith(_NOT_PRICED):  # a table given without the reason
        note = f"{_NOT_PRICED}: {note or f'no price in the table; check {price.source}'}"
    return LineItem(
        bus=bus,
        item=price.item,
        quantity=None if quantity is None else _exact(quantity),
        unit=price.unit,
        unit_usd=unit_usd,
        usd=usd,
        source=price.source,
        note=note,
    )


_MAX_COUNT = 10**15
_MAX_DAYS = 36_500


def _prices(prices: object) -> PriceTable:
    if not isinstance(prices, PriceTable):
        raise InvalidWorkloadError(
            "prices",
            f"prices is {type(prices).__name__}: give a PriceTable, such as mk.mesh.PRICES "
            "(the default), or dataclasses.replace(PRICES, ...) with your own figures",
        )
    return prices


def _number(value: object) -> Decimal:
    """A checked number as a Decimal, through its shortest text (64.001 stays 64.001)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _finite(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise InvalidWorkloadError(
            name, f"{name} is {value!r:.40} ({type(value).__name__}): give a number, e.g. {name}=0"
        )
    number = _number(value)
    if not number.is_finite():
        raise InvalidWorkloadError(name, f"{name} is {value}: give a finite number, e.g. {name}=0")
    return number


def _count(name: str, value: object) -> None:
    number = _finite(name, value)
    if number < 0:
        raise InvalidWorkloadError(
            name, f"{name} is {value}: it cannot be negative; give 0 or more, e.g. {name}=0"
        )
    _at_most(name, number)


def _at_most(name: str, number: Decimal | int) -> None:
    if number > _MAX_COUNT:
        raise InvalidWorkloadError(
            name,
            f"{name} is {number:.3g}: over 10**15, beyond what any account's quotas allow "
            "(500,000 events a second is 4.3 * 10**10 a day); give a realistic figure",
        )


def _whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidWorkloadError(
            name, f"{name} is {value!r:.40}: give a whole number of 0 or more, e.g. {name}=0"
        )
    _at_most(name, value)


def _event_kb(name: str, value: object) -> None:
    size = _finite(name, value)
    if size <= 0:
        raise InvalidWorkloadError(
            name, f"{name} is {value}: give the average event's size in KB, more than 0, e.g. 2"
        )
    if size > MAX_EVENT_KB:
        raise InvalidWorkloadError(
            name,
            f"{name} is {value}: a PutEvents entry holds at most 1 MB ({MAX_EVENT_KB} KB); "
            "give a size up to 1024, and publish bigger payloads to S3 with a reference in the "
            "event (a claim check)",
        )


def _retention(archived: bool, days: object) -> None:
    name = "archive_retention_days"
    if days is None:
        if archived:
            raise InvalidWorkloadError(
                name,
                f"{name} is None but archived is True: give how many days the archive keeps "
                "events (1 or more), e.g. archive_retention_days=30; an archive kept forever "
                "grows without end and has no monthly cost to estimate",
            )
        return
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_DAYS:
        raise InvalidWorkloadError(
            name,
            f"{name} is {days!r:.40}: give a whole number of days from 1 to {_MAX_DAYS:,} "
            "(a century), e.g. 30",
        )
    if not archived:
        raise InvalidWorkloadError(
            name,
            f"{name} is {days} but archived is False: set archived=True, or leave {name} out",
        )


def _exact(value: Decimal) -> Decimal:
    """Trailing zeros dropped, without scientific notation for whole numbers (1E+3 -> 1000)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _plain(value: Decimal | None) -> str:
    """A quantity or amount with thousands separators and every digit it has."""
    return _NOT_PRICED if value is None else f"{value:,f}"
