"""Month arithmetic of contract lines (SPEC section 5): active days, quantity over time,
prorated revenue and in-house cost, contracted units. The reference for these rules:
schedules and billing runs call it. Audits and reports, which walk every line
of a month or a year, use its database form (month_sql.py: the same rules as SQL
statements, rounding in Python integers), which tests hold equal to this module line by
line and month by month, so a number is the same everywhere.

The functions are pure, over `LineTerms` (plain data, no session); `load_line_terms`
at the bottom builds them from the database with two set-based queries.
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
from app.core.money import half_up_int, round_half_up
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
            # Most lines are never adjusted: skip the sort (a benchmark hot spot when
            # audits and reports build 20,000 terms).
            object.__setattr__(self, "adjustments", ())
            return
        # Loaded terms already hold Adjustments; plain tuples (tests, callers) are wrapped.
        items = [a if type(a) is Adjustment else Adjustment(*a) for a in self.adjustments]
        ordered = tuple(sorted(items, key=_adjustment_order))
        object.__setattr__(self, "adjustments", ordered)
        object.__setattr__(self, "_dates", tuple(a.effective_date for a in ordered))

    @property
    def start(self) -> date:
        """First active day: the later of the line's and the contract's start (SPEC section 5)."""
        if self.line_start is None:
            return self.contract_start
        return max(self.line_start, self.contract_start)

    @property
    def end(self) -> date | None:
        """Last active day (inclusive), None when open-ended: the earlier of the line's
        and the contract's end (SPEC section 5)."""
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
    """SPEC section 5: active when the day is within the line's and the contract's dates
    (end inclusive, null = unbounded)."""
    end = terms.end
    return terms.start <= day and (end is None or day <= end)


def active_window(terms: LineTerms, period: Period) -> tuple[date, date] | None:
    """The active days of the line in the month as [first, last], or None (SPEC section 5)."""
    return overlap(terms.start, terms.end, period.first_day, period.last_day)


def active_days(terms: LineTerms, period: Period) -> int:
    """Number of active days of the line in the month (SPEC section 5)."""
    window = active_window(terms, period)
    return days_inclusive(*window) if window else 0


def quantity_on(terms: LineTerms, day: date) -> Decimal:
    """quantity(d), SPEC section 3/5: the base quantity, replaced from each adjustment's
    effective date on; the latest effective date <= d wins, and on one date the last
    recorded. Whether the line is active that day is not considered here."""
    index = bisect_right(terms._dates, day)
    return terms.adjustments[index - 1].quantity if index else terms.quantity


def segments(terms: LineTerms, first: date, last: date) -> Iterator[Segment]:
    """The active days of the line in [first, last], cut where the quantity changes
    (SPEC section 5). Adjustments outside the line's dates only matter where they
    overlap: one dated before the start sets the quantity from the start, one after
    the end never applies."""
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


def unit_months(terms: LineTerms, period: Period) -> Fraction:
    """Exact prorated quantity of the month: sum over active days d of quantity(d) /
    days_in(M) (SPEC section 5), by segments rather than day by day. Multiplied by a
    rate per unit per month it gives the month's amount before rounding."""
    unit_days = sum(
        (Fraction(seg.quantity) * seg.days for seg in segments(terms, *_bounds(period))),
        Fraction(0),
    )
    return unit_days / period.days


def prorated_amount(terms: LineTerms, period: Period, rate: Decimal) -> Decimal:
    """SPEC section 5: sum over active days d of quantity(d) x rate / days_in(M), exact,
    rounded half-up to the cent once for the line and month."""
    return round_half_up(unit_months(terms, period) * Fraction(rate))


def revenue(terms: LineTerms, period: Period) -> Decimal:
    """Revenue of the line in the month (SPEC section 5): proration at its unit_price."""
    return prorated_amount(terms, period, terms.unit_price)


def in_house_cost(terms: LineTerms, period: Period, unit_cost: Decimal) -> Decimal:
    """Cost of an in-house service line in the month (SPEC section 5): the same proration
    as revenue with the service's unit_cost in place of the line's unit_price."""
    return prorated_amount(terms, period, unit_cost)


def contracted_units(terms: LineTerms, period: Period) -> Decimal:
    """SPEC section 5: the quantity in effect on the last day of the month if the line is
    active that day, else 0."""
    last = period.last_day
    return quantity_on(terms, last) if is_active_on(terms, last) else ZERO


def line_month(terms: LineTerms, period: Period) -> LineMonth:
    """Everything about one line and one month in one call (SPEC section 5)."""
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
    of the lines' rounded revenues (SPEC section 5)."""
    return sum((revenue(terms, period) for terms in lines), ZERO)


def _bounds(period: Period) -> tuple[date, date]:
    return period.first_day, period.last_day


# --- a range of months in one pass ------------------------------------------------------------
# Reports walk thousands of lines over many months. The functions below give exactly the
# numbers of `prorated_amount` and `contracted_units` for every month of a range at once,
# in integer arithmetic on values scaled by 10^4 (quantities, unit prices and unit costs
# carry at most 4 decimals, SPEC section 2); a value with more places falls back to the
# reference functions above, so the answer is the same whatever the input.

_SCALE_PLACES = 4


def scaled(value: Decimal) -> int | None:
    """value x 10^4 as an exact int; None when value has more than 4 decimals."""
    scaled = value.scaleb(_SCALE_PLACES)
    whole = int(scaled)
    return whole if whole == scaled else None


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


@dataclass(frozen=True, slots=True)
class RangeFigures:
    """One line over a range of months: `amounts[k][i]` is the line's prorated amount at
    the k-th rate in month i, in cents (= prorated_amount(...) x 100); `units[i]` its
    contracted units in month i."""

    amounts: tuple[list[int], ...]
    units: list[Decimal]


def range_figures(terms: LineTerms, months: MonthRange, *rates: Decimal) -> RangeFigures:
    """Every month of the range in one pass over the line's segments (SPEC section 5):
    for each rate, sum over active days d of quantity(d) x rate / days_in(M), rounded
    half-up to the cent once per month, as integer cents; and the contracted units.
    Equal, month by month, to `prorated_amount` and `contracted_units`."""
    count = len(months.periods)
    units = [ZERO] * count
    unit_days = [0] * count  # sum of quantity x 10^4 x active days, per month
    exact = True
    starts, ends = months.starts, months.ends
    if terms.adjustments:
        cuts: Iterable[Segment] = segments(terms, months.first_day, months.last_day)
    else:  # one quantity throughout: the active window is the only segment
        window = overlap(terms.start, terms.end, months.first_day, months.last_day)
        cuts = () if window is None else (Segment(window[0], window[1], terms.quantity),)
    for seg in cuts:
        quantity = scaled(seg.quantity)
        if quantity is None:
            exact = False
        lo, hi = seg.first.toordinal(), seg.last.toordinal()
        index = months.index_of(seg.first)
        while index < count and starts[index] <= hi:
            month_end = ends[index]
            if quantity is not None:
                month_start = starts[index]
                days = (hi if hi < month_end else month_end) - (
                    lo if lo > month_start else month_start
                )
                unit_days[index] += quantity * (days + 1)
            if lo <= month_end <= hi:
                units[index] = seg.quantity
            index += 1
    amounts: list[list[int]] = []
    for rate in rates:
        scaled_rate = scaled(rate) if exact else None
        if scaled_rate is None:
            amounts.append(
                [int(prorated_amount(terms, period, rate).scaleb(2)) for period in months.periods]
            )
            continue
        cents = []
        for month_days, amount in zip(months.days, unit_days, strict=True):
            if amount == 0:
                cents.append(0)
                continue
            # amount x rate / (10^8 x days) in money, so x 100 / (10^8 x days) in cents;
            # rounded by the one half-up rule.
            cents.append(half_up_int(amount * scaled_rate, 1_000_000 * month_days))
        amounts.append(cents)
    return RangeFigures(amounts=tuple(amounts), units=units)


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
        # Active on some day of [first, last] (SPEC section 5): the latest of the line's
        # start (null = the contract's), the contract's start and `first` is on or before
        # the earliest of the line's end, the contract's end and `last` (null = unbounded),
        # which is: every one of those starts <= every one of those ends.
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
