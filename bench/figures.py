"""The month arithmetic over a range of months in one pass, for the data generator: the
numbers of `arithmetic.prorated_amount` and `arithmetic.contracted_units` for every month
of a range at once, in integer arithmetic on values scaled by 10^4 (quantities, unit
prices and unit costs carry at most 4 decimals, docs/README.md#money); a value with more
places falls back to the reference functions, so the answer is the same whatever the
input. tests/test_arithmetic.py holds it equal to them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from app.contracts.arithmetic import (
    ZERO,
    LineTerms,
    MonthRange,
    Segment,
    prorated_amount,
    segments,
)
from app.core.money import PRICE_PLACES, QUANTITY_PLACES, half_up_int, to_scaled
from app.core.periods import overlap


@dataclass(frozen=True, slots=True)
class RangeFigures:
    """One line over a range of months: `amounts[k][i]` is the line's prorated amount at
    the k-th rate in month i, in cents (= prorated_amount(...) x 100); `units[i]` its
    contracted units in month i."""

    amounts: tuple[list[int], ...]
    units: list[Decimal]


def range_figures(terms: LineTerms, months: MonthRange, *rates: Decimal) -> RangeFigures:
    """Every month of the range in one pass over the line's segments
    (docs/month-arithmetic.md#revenue):
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
        quantity = to_scaled(seg.quantity, QUANTITY_PLACES)
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
        scaled_rate = to_scaled(rate, PRICE_PLACES) if exact else None
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
