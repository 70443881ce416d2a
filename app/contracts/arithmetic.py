"""Month arithmetic of contract lines (docs/month-arithmetic.md): active days, quantity
over time, prorated revenue and in-house cost, contracted units. The reference for these
rules, in Python over `LineTerms` (plain data, no session); `load_line_terms` at the
bottom builds them from the database with two set-based queries.

The same rules exist in one more form, for callers that walk every line of a month or a
year; tests hold each equal to this module line by line and month by month, so a number
is the same everywhere:

| form | module | caller |
| --- | --- | --- |
| `revenue`, `in_house_cost`, `contracted_units` over `LineTerms` | here | schedules, billing runs |
| `month_line_figures`: one month, one statement | month_sql.py | audits (audits/data.py) |
| `range_line_figures`: months, one statement | month_sql.py | reports (reports/engine.py) |
| `range_figures`: months over `LineTerms`, in integers | bench/figures.py | the bench's generator |

The SQL forms return unit-days and units as integers x 10^4; the rounding to the cent
stays in Python (`month_sql.cents`), by the one half-up rule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.contracts.models import Contract, ContractLine, ContractLineAdjustment
from app.core.money import round_half_up
from app.core.periods import Period, days_inclusive, overlap

ZERO = Decimal(0)
_ONE_DAY = timedelta(days=1)


class Adjustment(NamedTuple):
    """A quantity change of a line: from `effective_date` on, the quantity is `quantity`.
    `order` is the recording order (the adjustment's id): on one date the last recorded
    wins."""

    effective_date: date
    quantity: Decimal
    order: int


@dataclass(frozen=True, slots=True)
class LineTerms:
    """What the month arithmetic needs to know about one contract line."""

    line_id: int
    service_id: int
    customer_id: int
    contract_id: int
    quantity: Decimal
    unit_price: Decimal
    # Null line dates follow the contract's; a null contract end is open-ended.
    line_start: date | None
    line_end: date | None
    contract_start: date
    contract_end: date | None
    adjustments: tuple[Adjustment, ...] = ()
    # Derived in __post_init__: adjustments sorted by (date, order), and their dates.
    _dates: tuple[date, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.adjustments:
            # Most lines are never adjusted: skip the sort (20,000 terms per billing run).
            object.__setattr__(self, "adjustments", ())
            return
        # Loaded terms already hold Adjustments; plain tuples (tests, callers) are wrapped.
        items = [a if type(a) is Adjustment else Adjustment(*a) for a in self.adjustments]
        ordered = tuple(sorted(items, key=_adjustment_order))
        object.__setattr__(self, "adjustments", ordered)
        object.__setattr__(self, "_dates", tuple(a.effective_date for a in ordered))

    @property
    def start(self) -> date:
        """First active day: the later of the line's and the contract's start
        (docs/month-arithmetic.md#active-days)."""
        if self.line_start is None:
            return self.contract_start
        return max(self.line_start, self.contract_start)

    @property
    def end(self) -> date | None:
        """Last active day (inclusive), None when open-ended: the earlier of the line's
        and the contract's end (docs/month-arithmetic.md#active-days)."""
        ends = [d for d in (self.line_end, self.contract_end) if d is not None]
        return min(ends) if ends else None


def _adjustment_order(adjustment: Adjustment) -> tuple[date, int]:
    return adjustment.effective_date, adjustment.order


class Segment(NamedTuple):
    """Consecutive active days [first, last] (inclusive) with one quantity."""

    first: date
    last: date
    quantity: Decimal

    @property
    def days(self) -> int:
        return days_inclusive(self.first, self.last)


@dataclass(frozen=True, slots=True)
class LineMonth:
    """One line in one month, as a schedule, a billing run or a report shows it."""

    line_id: int
    period: Period
    active_days: int
    units: Decimal
    unit_price: Decimal
    unit_months: Fraction
    revenue: Decimal


# --- pure arithmetic -------------------------------------------------------------------------


def is_active_on(terms: LineTerms, day: date) -> bool:
    """Active when the day is within the line's and the contract's dates (end inclusive,
    null = unbounded; docs/month-arithmetic.md#active-days)."""
    end = terms.end
    return terms.start <= day and (end is None or day <= end)


def active_window(terms: LineTerms, period: Period) -> tuple[date, date] | None:
    """The active days of the line in the month as [first, last], or None
    (docs/month-arithmetic.md#active-days)."""
    return overlap(terms.start, terms.end, period.first_day, period.last_day)


def active_days(terms: LineTerms, period: Period) -> int:
    """Number of active days of the line in the month (docs/month-arithmetic.md#active-days)."""
    window = active_window(terms, period)
    return days_inclusive(*window) if window else 0


def quantity_on(terms: LineTerms, day: date) -> Decimal:
    """quantity(d) (docs/month-arithmetic.md#adjustments): the base quantity, replaced
    from each adjustment's effective date on; the latest effective date <= d wins, and on
    one date the last recorded. Whether the line is active that day is not considered
    here."""
    index = bisect_right(terms._dates, day)
    return terms.adjustments[index - 1].quantity if index else terms.quantity


def segments(terms: LineTerms, first: date, last: date) -> Iterator[Segment]:
    """The active days of the line in [first, last], cut where the quantity changes
    (docs/month-arithmetic.md#adjustments). Adjustments outside the line's dates only
    matter where they overlap: one dated before the start sets the quantity from the
    start, one after the end never applies."""
    window = overlap(terms.start, terms.end, first, last)
    if window is None:
        return
    lo, hi = window
    dates, adjustments = terms._dates, terms.adjustments
    index = bisect_right(dates, lo)
    quantity = adjustments[index - 1].quantity if index else terms.quantity
    seg_start = lo
    while index < len(dates) and dates[index] <= hi:
        effective = dates[index]
        # Several adjustments on one date: skip to the last recorded of them.
        index = bisect_right(dates, effective)
        yield Segment(seg_start, effective - _ONE_DAY, quantity)
        seg_start, quantity = effective, adjustments[index - 1].quantity
    yield Segment(seg_start, hi, quantity)


def month_segments(terms: LineTerms, period: Period) -> list[Segment]:
    """The line's segments in the month: what its revenue is summed over, for a schedule
    to show (docs/month-arithmetic.md#worked-example)."""
    return list(segments(terms, *_bounds(period)))


def unit_months(terms: LineTerms, period: Period) -> Fraction:
    """Exact prorated quantity of the month: sum over active days d of quantity(d) /
    days_in(M) (docs/month-arithmetic.md#revenue), by segments rather than day by day.
    Multiplied by a rate per unit per month it gives the month's amount before rounding."""
    unit_days = sum(
        (Fraction(seg.quantity) * seg.days for seg in segments(terms, *_bounds(period))),
        Fraction(0),
    )
    return unit_days / period.days


def prorated_amount(terms: LineTerms, period: Period, rate: Decimal) -> Decimal:
    """Sum over active days d of quantity(d) x rate / days_in(M), exact, rounded half-up
    to the cent once for the line and month (docs/month-arithmetic.md#revenue)."""
    return round_half_up(unit_months(terms, period) * Fraction(rate))


def revenue(terms: LineTerms, period: Period) -> Decimal:
    """Revenue of the line in the month (docs/month-arithmetic.md#revenue): proration at
    its unit_price."""
    return prorated_amount(terms, period, terms.unit_price)


def in_house_cost(terms: LineTerms, period: Period, unit_cost: Decimal) -> Decimal:
    """Cost of an in-house service line in the month (docs/month-arithmetic.md#in-house-cost):
    the same proration
    as revenue with the service's unit_cost in place of the line's unit_price."""
    return prorated_amount(terms, period, unit_cost)


def contracted_units(terms: LineTerms, period: Period) -> Decimal:
    """The quantity in effect on the last day of the month if the line is active that
    day, else 0 (docs/month-arithmetic.md#contracted-units)."""
    last = period.last_day
    return quantity_on(terms, last) if is_active_on(terms, last) else ZERO


def line_month(terms: LineTerms, period: Period) -> LineMonth:
    """Everything about one line and one month in one call (docs/month-arithmetic.md)."""
    months = unit_months(terms, period)
    return LineMonth(
        line_id=terms.line_id,
        period=period,
        active_days=active_days(terms, period),
        units=contracted_units(terms, period),
        unit_price=terms.unit_price,
        unit_months=months,
        revenue=round_half_up(months * Fraction(terms.unit_price)),
    )


def total_revenue(lines: Iterable[LineTerms], period: Period) -> Decimal:
    """Revenue of a set of lines (a contract, a customer, a service) in the month: the sum
    of the lines' rounded revenues (docs/month-arithmetic.md#revenue)."""
    return sum((revenue(terms, period) for terms in lines), ZERO)


def _bounds(period: Period) -> tuple[date, date]:
    return period.first_day, period.last_day


# --- the months of a range ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthRange:
    """The months of [first, last] with their first and last days as ordinals."""

    periods: tuple[Period, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    days: tuple[int, ...]
    first_day: date
    last_day: date

    @classmethod
    def of(cls, first: Period, last: Period) -> MonthRange:
        periods = []
        current = first
        while current <= last:
            periods.append(current)
            current = current.next()
        return cls(
            periods=tuple(periods),
            starts=tuple(p.first_day.toordinal() for p in periods),
            ends=tuple(p.last_day.toordinal() for p in periods),
            days=tuple(p.days for p in periods),
            first_day=first.first_day,
            last_day=last.last_day,
        )

    def index_of(self, day: date) -> int:
        first = self.periods[0]
        return (day.year - first.year) * 12 + day.month - first.month


# --- loading ---------------------------------------------------------------------------------


async def load_line_terms(
    session: AsyncSession,
    *,
    contract_ids: Collection[int] | None = None,
    customer_ids: Collection[int] | None = None,
    line_ids: Collection[int] | None = None,
    service_ids: Collection[int] | None = None,
    overlapping: tuple[date, date] | None = None,
) -> list[LineTerms]:
    """The terms of every line matching all the given filters (None = no filter), in
    line id order. `overlapping=(first, last)` keeps only lines active on some day of
    that range. Two queries in all, however many lines: the lines joined with their
    contracts, then the adjustments of those same lines (the filters repeated as a join,
    not a list of ids)."""
    if any(
        ids is not None and not ids for ids in (contract_ids, customer_ids, line_ids, service_ids)
    ):
        return []
    conditions = _filters(contract_ids, customer_ids, line_ids, service_ids, overlapping)
    line_rows: Sequence[Any] = (
        await session.execute(
            select(
                col(ContractLine.id),
                col(ContractLine.service_id),
                col(Contract.customer_id),
                col(ContractLine.contract_id),
                col(ContractLine.quantity),
                col(ContractLine.unit_price),
                col(ContractLine.start_date),
                col(ContractLine.end_date),
                col(Contract.start_date),
                col(Contract.end_date),
            )
            .join(Contract, col(Contract.id) == col(ContractLine.contract_id))
            .where(*conditions)
            .order_by(col(ContractLine.id))
        )
    ).all()
    if not line_rows:
        return []
    adjustment_rows: Sequence[Any] = (
        await session.execute(
            select(
                col(ContractLineAdjustment.line_id),
                col(ContractLineAdjustment.effective_date),
                col(ContractLineAdjustment.quantity),
                col(ContractLineAdjustment.id),
            )
            .join(ContractLine, col(ContractLine.id) == col(ContractLineAdjustment.line_id))
            .join(Contract, col(Contract.id) == col(ContractLine.contract_id))
            .where(*conditions)
        )
    ).all()
    by_line: dict[int, list[Adjustment]] = defaultdict(list)
    for line_id, effective_date, quantity, adjustment_id in adjustment_rows:
        by_line[line_id].append(Adjustment(effective_date, quantity, adjustment_id))
    return [
        LineTerms(
            line_id=row[0],
            service_id=row[1],
            customer_id=row[2],
            contract_id=row[3],
            quantity=row[4],
            unit_price=row[5],
            line_start=row[6],
            line_end=row[7],
            contract_start=row[8],
            contract_end=row[9],
            adjustments=tuple(by_line.get(row[0], ())),
        )
        for row in line_rows
    ]


def _filters(
    contract_ids: Collection[int] | None,
    customer_ids: Collection[int] | None,
    line_ids: Collection[int] | None,
    service_ids: Collection[int] | None,
    overlapping: tuple[date, date] | None,
) -> list[Any]:
    conditions: list[Any] = []
    if contract_ids is not None:
        conditions.append(col(ContractLine.contract_id).in_(list(contract_ids)))
    if customer_ids is not None:
        conditions.append(col(Contract.customer_id).in_(list(customer_ids)))
    if line_ids is not None:
        conditions.append(col(ContractLine.id).in_(list(line_ids)))
    if service_ids is not None:
        conditions.append(col(ContractLine.service_id).in_(list(service_ids)))
    if overlapping is not None:
        # Active on some day of [first, last] (docs/month-arithmetic.md#active-days): the
        # latest of the line's start (null = the contract's), the contract's start and
        # `first` is on or before the earliest of the line's end, the contract's end and
        # `last` (null = unbounded), which is: every one of those starts <= every one of
        # those ends.
        first, last = overlapping
        starts = [
            func.coalesce(col(ContractLine.start_date), col(Contract.start_date)),
            col(Contract.start_date),
        ]
        ends = [
            func.coalesce(col(ContractLine.end_date), col(Contract.end_date)),
            col(Contract.end_date),
        ]
        for start in starts:
            conditions.append(start <= last)
            conditions += [or_(end.is_(None), start <= end) for end in ends]
        conditions += [or_(end.is_(None), end >= first) for end in ends]
    return [and_(*conditions)] if conditions else []
