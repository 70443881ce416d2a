"""The month figures of a vendor line (app/vendor_invoices/charges.py), worked by hand
(docs/vendor-bills.md#month-figures)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from app.core.periods import Period, months_between
from app.vendor_invoices.charges import (
    monthly_amount,
    spread_by_month,
    spread_cents,
    spread_over,
)

NOV = Period(2026, 11)


def test_a_month_inside_one_month_costs_its_amount_there() -> None:
    assert spread_cents(7680, date(2026, 11, 15), date(2026, 11, 30), NOV) == 7680
    assert spread_cents(7680, date(2026, 11, 15), date(2026, 11, 30), NOV.next()) == 0


def test_an_annual_line_costs_a_twelfth_a_month_and_its_amount_in_all() -> None:
    # 1,000.00 for 2027: 83.33 a month by cumulative rounding: R(1000 x k/12) - R(1000 x
    # (k-1)/12) gives 83.33, 83.34, 83.33, 83.33, 83.34, 83.33, ... and 1,000.00 in all.
    start, end = date(2027, 1, 1), date(2027, 12, 31)
    costs = [
        spread_cents(100_000, start, end, m)
        for m in months_between(Period(2027, 1), Period(2027, 12))
    ]
    assert costs == [8333, 8334, 8333, 8333, 8334, 8333, 8333, 8334, 8333, 8333, 8334, 8333]
    assert sum(costs) == 100_000
    assert spread_cents(100_000, start, end, Period(2026, 12)) == 0
    assert spread_cents(100_000, start, end, Period(2028, 1)) == 0


def test_an_anniversary_line_is_spread_by_days() -> None:
    # 29.55 for 15 November - 14 December: S = 16/30 + 14/31 = 916/930.
    # November: R(29.55 x (16/30) / S) = R(2955 x 496/916 cents) = R(1600.09) = 1600;
    # December: 2955 - 1600 = 1355.
    start, end = date(2026, 11, 15), date(2026, 12, 14)
    assert spread_cents(2955, start, end, NOV) == 1600
    assert spread_cents(2955, start, end, NOV.next()) == 1355


@pytest.mark.parametrize(
    ("start", "end", "first", "last", "expected"),
    [
        # The annual line over part of its year: the same cents as month by month.
        (date(2027, 1, 1), date(2027, 12, 31), Period(2027, 3), Period(2027, 6),
         [(Period(2027, 3), 8333), (Period(2027, 4), 8333), (Period(2027, 5), 8334),
          (Period(2027, 6), 8333)]),
        # A range wider than the charge: only the months it touches.
        (date(2026, 11, 15), date(2026, 12, 14), Period(2026, 1), Period(2027, 12),
         [(NOV, 54148), (NOV.next(), 45852)]),
        # Inside one month, in and out of the range.
        (date(2026, 11, 15), date(2026, 11, 30), NOV, NOV, [(NOV, 100_000)]),
        (date(2026, 11, 15), date(2026, 11, 30), NOV.next(), Period(2027, 3), []),
    ],
)  # fmt: skip
def test_spread_by_month_is_spread_cents_in_one_pass(
    start: date, end: date, first: Period, last: Period, expected: list[tuple[Period, int]]
) -> None:
    # 1,000.00 over 15 November - 14 December: S = 16/30 + 14/31, s(Nov) / S = (16/30) / S
    # = 496/916; November R(100000 x 496/916) = R(54148.47) = 54148, December the rest,
    # 45852. The annual line: R(100000 x k/12) - R(100000 x (k-1)/12), March to June.
    assert list(spread_by_month(100_000, start, end, first, last)) == expected
    for month, cents in expected:
        assert spread_cents(100_000, start, end, month) == cents
    assert sum(c for _, c in expected) == spread_over(100_000, start, end, first, last)


def test_a_credit_spreads_like_a_charge() -> None:
    costs = [
        spread_cents(-100_000, date(2027, 1, 1), date(2027, 12, 31), m)
        for m in months_between(Period(2027, 1), Period(2027, 12))
    ]
    assert costs[:2] == [-8333, -8334] and sum(costs) == -100_000


def test_monthly_amount() -> None:
    # 12 seats charged 76.80 for 15-30 November: 76.80 / (16/30) = 144.00 a month.
    assert monthly_amount(Decimal("76.80"), date(2026, 11, 15), date(2026, 11, 30)) == 144
    assert monthly_amount(Decimal("1200"), date(2026, 12, 1), date(2027, 11, 30)) == 100
    assert monthly_amount(Decimal("10"), date(2026, 11, 1), date(2026, 11, 30)) == Fraction(10)


def test_a_range_costs_what_its_months_cost() -> None:
    """spread_over (the months of a range in one step) equals the months added up."""
    from app.vendor_invoices.charges import spread_over

    lines = [
        (100_000, date(2027, 1, 1), date(2027, 12, 31)),
        (2955, date(2026, 11, 15), date(2026, 12, 14)),
        (-12_345, date(2026, 10, 10), date(2027, 3, 9)),
        (7680, date(2026, 11, 15), date(2026, 11, 30)),
    ]
    for first, last in ((Period(2026, 11), Period(2027, 2)), (Period(2027, 3), Period(2027, 12))):
        for cents, start, end in lines:
            months = sum(spread_cents(cents, start, end, m) for m in months_between(first, last))
            assert spread_over(cents, start, end, first, last) == months, (cents, first, last)
