"""What a vendor line means for a month (docs/vendor-bills.md#month-figures): the cost it
brings to the month, spread over its charge period by cumulative rounding, and the
monthly amount of a recurring line (its mean unit cost per month). Pure functions over
integer cents and exact fractions; audits and reports call them on the rows their
queries bring back, so a line costs the same everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from app.core.money import half_up_int
from app.core.periods import Period, share, share_through


def within_one_month(start: date, end: date) -> bool:
    """A charge period inside one calendar month costs its whole amount in that month."""
    return (start.year, start.month) == (end.year, end.month)


def spread_cents(cents: int, start: date, end: date, month: Period) -> int:
    """The cost in `month` of an amount spread over [start, end]: with S the share of the
    whole period and s(k) its share up to the last day of month k,
    R(amount x s(M) / S) - R(amount x s(M-1) / S), R rounding half-up to the cent. Over
    the months of the period these add up to the amount exactly (each is a difference of
    the same cumulative sequence, which ends at the amount)."""
    return spread_over(cents, start, end, month, month)


def spread_over(cents: int, start: date, end: date, first: Period, last: Period) -> int:
    """The cost in the months first..last together: the costs of those months add up to
    R(amount x s(last) / S) - R(amount x s(first - 1) / S), the same cumulative sequence."""
    if within_one_month(start, end):
        return cents if first <= Period.of(start) <= last else 0
    through, before = _parts(start, end, first, last)
    if through == before:
        return 0
    return _rounded(cents, through) - _rounded(cents, before)


@lru_cache(maxsize=8192)  # a month's lines share a few hundred charge periods
def _parts(start: date, end: date, first: Period, last: Period) -> tuple[Fraction, Fraction]:
    """s(last) / S and s(first - 1) / S of the charge period [start, end]."""
    whole = share(start, end)
    return (
        share_through(start, end, last) / whole,
        share_through(start, end, first.previous()) / whole,
    )


def spread_by_month(
    cents: int, start: date, end: date, first: Period, last: Period
) -> Iterator[tuple[Period, int]]:
    """spread_cents for each month of first..last the charge period touches, in order,
    from one pass over the cumulative sequence (each R(amount x s(k) / S) once)."""
    if within_one_month(start, end):
        month = Period.of(start)
        if first <= month <= last:
            yield month, cents
        return
    base, months = _month_ratios(start, end, first, last)
    before = _rounded(cents, base)
    for month, ratio in months:
        through = _rounded(cents, ratio)
        yield month, through - before
        before = through


@lru_cache(maxsize=8192)
def _month_ratios(
    start: date, end: date, first: Period, last: Period
) -> tuple[Fraction, tuple[tuple[Period, Fraction], ...]]:
    """s(k) / S of [start, end] at the month before the first month of first..last it
    touches, then at each month of first..last it touches."""
    whole = share(start, end)
    month = max(first, Period.of(start))
    final = min(last, Period.of(end))
    base = share_through(start, end, month.previous()) / whole
    months = []
    while month <= final:
        months.append((month, share_through(start, end, month) / whole))
        month = month.next()
    return base, tuple(months)


def _rounded(cents: int, ratio: Fraction) -> int:
    return half_up_int(cents * ratio.numerator, ratio.denominator)


def monthly_amount(amount: Decimal, start: date, end: date) -> Fraction:
    """A recurring line's amount for one month of its charge period: amount / share,
    exact (12 seats charged 76.80 for 15-30 November cost 144.00 a month)."""
    return Fraction(amount) / share(start, end)
