"""Month arithmetic of contract lines (docs/month-arithmetic.md), pure: every number worked
out by hand in the comment beside it."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from app.contracts.arithmetic import (
    Adjustment,
    LineTerms,
    MonthRange,
    Segment,
    active_days,
    contracted_units,
    in_house_cost,
    is_active_on,
    line_month,
    prorated_amount,
    quantity_on,
    revenue,
    segments,
    total_revenue,
    unit_months,
)
from app.core.money import from_cents
from app.core.periods import Period
from bench.figures import range_figures

D = Decimal
JAN, FEB, MAR, APR, MAY, JUN, JUL = (Period(2026, m) for m in range(1, 8))


def terms(
    quantity: str = "1",
    unit_price: str = "10.00",
    *,
    line_start: date | None = None,
    line_end: date | None = None,
    contract_start: date = date(2026, 1, 1),
    contract_end: date | None = None,
    adjustments: tuple[tuple[date, str, int], ...] = (),
    line_id: int = 1,
) -> LineTerms:
    return LineTerms(
        line_id=line_id,
        service_id=10,
        customer_id=20,
        contract_id=30,
        quantity=D(quantity),
        unit_price=D(unit_price),
        line_start=line_start,
        line_end=line_end,
        contract_start=contract_start,
        contract_end=contract_end,
        adjustments=tuple(Adjustment(d, D(q), order) for d, q, order in adjustments),
    )


def test_full_month_and_open_ended() -> None:
    line = terms("5", "30.00")
    # 5 x 30.00 = 150.00 in every whole month, far into the future too.
    assert revenue(line, MAR) == D("150.00")
    assert revenue(line, Period(2031, 11)) == D("150.00")
    assert active_days(line, MAR) == 31
    assert contracted_units(line, MAR) == D(5)
    # Before the contract starts: nothing.
    assert revenue(line, Period(2025, 12)) == D("0.00")
    assert active_days(line, Period(2025, 12)) == 0
    assert contracted_units(line, Period(2025, 12)) == D(0)


def test_start_mid_month_and_end_mid_month() -> None:
    line = terms("5", "30.00", contract_start=date(2026, 1, 15), contract_end=date(2026, 4, 10))
    # January (31 days), active 15..31 = 17 days: 150 x 17/31 = 2550/31 = 82.258... -> 82.26
    assert active_days(line, JAN) == 17
    assert revenue(line, JAN) == D("82.26")
    assert contracted_units(line, JAN) == D(5)
    # February 2026 (28 days), all active: 150.00
    assert revenue(line, FEB) == D("150.00")
    # April (30 days), active 1..10 = 10 days: 150 x 10/30 = 50.00; not active on the 30th
    assert active_days(line, APR) == 10
    assert revenue(line, APR) == D("50.00")
    assert contracted_units(line, APR) == D(0)
    assert revenue(line, MAY) == D("0.00")


def test_start_and_end_in_the_same_month() -> None:
    line = terms("10", "22.00", line_start=date(2026, 3, 10), line_end=date(2026, 3, 20))
    # March (31 days), active 10..20 = 11 days: 10 x 22 x 11/31 = 2420/31 = 78.064... -> 78.06
    assert active_days(line, MAR) == 11
    assert revenue(line, MAR) == D("78.06")
    # The line ended on the 20th, before the month's last day: no contracted units.
    assert contracted_units(line, MAR) == D(0)


def test_adjustment_mid_month() -> None:
    line = terms("10", "20.00", adjustments=((date(2026, 4, 16), "16", 1),))
    # April (30 days): days 1..15 at 10 = 150 unit-days, 16..30 at 16 = 240 unit-days;
    # 390 x 20.00 / 30 = 260.00; 16 in effect on the 30th.
    assert list(segments(line, APR.first_day, APR.last_day)) == [
        Segment(date(2026, 4, 1), date(2026, 4, 15), D(10)),
        Segment(date(2026, 4, 16), date(2026, 4, 30), D(16)),
    ]
    assert unit_months(line, APR) == Fraction(390, 30)
    assert revenue(line, APR) == D("260.00")
    assert contracted_units(line, APR) == D(16)
    # March is before the change: 10 x 20.00 = 200.00; May after it: 16 x 20.00 = 320.00
    assert revenue(line, MAR) == D("200.00")
    assert revenue(line, MAY) == D("320.00")
    assert quantity_on(line, date(2026, 4, 15)) == D(10)
    assert quantity_on(line, date(2026, 4, 16)) == D(16)


def test_in_house_cost_is_the_same_proration_at_the_unit_cost() -> None:
    line = terms("10", "20.00", adjustments=((date(2026, 4, 16), "16", 1),))
    # 390 unit-days (see above) x 15.00 / 30 = 195.00
    assert in_house_cost(line, APR, D("15.00")) == D("195.00")
    # 390 x 0.0333 / 30 = 12.987 / 30 = 0.4329 -> 0.43
    assert in_house_cost(line, APR, D("0.0333")) == D("0.43")


def test_two_adjustments_in_one_month() -> None:
    line = terms(
        "4", "12.50", adjustments=((date(2026, 6, 11), "6", 1), (date(2026, 6, 21), "3", 2))
    )
    # June (30 days): 1..10 at 4 = 40, 11..20 at 6 = 60, 21..30 at 3 = 30 -> 130 unit-days;
    # 130 x 12.50 / 30 = 1625/30 = 54.1666... -> 54.17; 3 in effect on the 30th.
    assert revenue(line, JUN) == D("54.17")
    assert contracted_units(line, JUN) == D(3)


def test_the_latest_effective_date_wins_not_the_latest_recorded() -> None:
    # Recorded late: the 06-11 change (id 2) was entered after the 06-21 one (id 1). The
    # 06-21 quantity still applies from the 21st on: same 130 unit-days -> 54.17.
    line = terms(
        "4", "12.50", adjustments=((date(2026, 6, 21), "3", 1), (date(2026, 6, 11), "6", 2))
    )
    assert revenue(line, JUN) == D("54.17")
    assert quantity_on(line, date(2026, 6, 15)) == D(6)
    assert contracted_units(line, JUN) == D(3)


def test_two_adjustments_on_one_date_last_recorded_wins() -> None:
    # Given out of order on purpose: id 7 (quantity 8) was recorded after id 3 (quantity 6).
    line = terms(
        "4", "12.50", adjustments=((date(2026, 6, 11), "8", 7), (date(2026, 6, 11), "6", 3))
    )
    # June: 1..10 at 4 = 40, 11..30 at 8 = 160 -> 200 unit-days; 200 x 12.50 / 30
    # = 2500/30 = 83.333... -> 83.33
    assert quantity_on(line, date(2026, 6, 11)) == D(8)
    assert list(segments(line, JUN.first_day, JUN.last_day)) == [
        Segment(date(2026, 6, 1), date(2026, 6, 10), D(4)),
        Segment(date(2026, 6, 11), date(2026, 6, 30), D(8)),
    ]
    assert revenue(line, JUN) == D("83.33")
    assert contracted_units(line, JUN) == D(8)


def test_cancellation_cuts_a_longer_line() -> None:
    line = terms(
        "3",
        "40.00",
        line_end=date(2026, 12, 31),
        contract_end=date(2026, 5, 12),  # cancelled: last day of service May 12th
    )
    # May (31 days), active 1..12 = 12 days: 3 x 40 x 12/31 = 1440/31 = 46.451... -> 46.45
    assert active_days(line, MAY) == 12
    assert revenue(line, MAY) == D("46.45")
    # Not active on May 31st: 0 units, although the line itself runs to December.
    assert contracted_units(line, MAY) == D(0)
    assert revenue(line, JUN) == D("0.00")
    assert contracted_units(line, JUN) == D(0)
    assert is_active_on(line, date(2026, 5, 12)) and not is_active_on(line, date(2026, 5, 13))


def test_cancelled_the_day_before_it_started() -> None:
    line = terms("3", "40.00", contract_start=date(2026, 3, 1), contract_end=date(2026, 2, 28))
    # No day is both >= 03-01 and <= 02-28: nothing, ever.
    for period in (FEB, MAR, APR):
        assert active_days(line, period) == 0
        assert revenue(line, period) == D("0.00")
        assert contracted_units(line, period) == D(0)


def test_february_in_a_leap_year_and_not() -> None:
    leap = terms("1", "29.00", contract_start=date(2028, 2, 15))
    # February 2028 has 29 days; active 15..29 = 15 days: 29.00 x 15/29 = 15.00
    assert active_days(leap, Period(2028, 2)) == 15
    assert revenue(leap, Period(2028, 2)) == D("15.00")
    plain = terms("1", "29.00", contract_start=date(2027, 2, 15))
    # February 2027 has 28 days; active 15..28 = 14 days: 29.00 x 14/28 = 14.50
    assert active_days(plain, Period(2027, 2)) == 14
    assert revenue(plain, Period(2027, 2)) == D("14.50")
    # The line ending on Feb 28th 2028 is not active on the 29th: 0 units that month.
    ends_28th = terms("1", "29.00", contract_start=date(2028, 2, 1), line_end=date(2028, 2, 28))
    # 28 of 29 days: 29.00 x 28/29 = 28.00
    assert revenue(ends_28th, Period(2028, 2)) == D("28.00")
    assert contracted_units(ends_28th, Period(2028, 2)) == D(0)


def test_thirty_one_day_months() -> None:
    ends_30th = terms("1", "31.00", line_end=date(2026, 7, 30))
    # July (31 days), active 1..30: 31.00 x 30/31 = 30.00; not active on the 31st -> 0 units
    assert revenue(ends_30th, JUL) == D("30.00")
    assert contracted_units(ends_30th, JUL) == D(0)
    starts_31st = terms("2", "31.00", line_start=date(2026, 7, 31))
    # one day: 2 x 31.00 x 1/31 = 2.00; active on the 31st -> 2 units
    assert active_days(starts_31st, JUL) == 1
    assert revenue(starts_31st, JUL) == D("2.00")
    assert contracted_units(starts_31st, JUL) == D(2)


def test_fractional_quantities() -> None:
    backup = terms("987.3", "0.0875")
    # 987.3 GB x 0.0875 = 86.38875 -> 86.39
    assert revenue(backup, JUN) == D("86.39")
    assert contracted_units(backup, JUN) == D("987.3")
    from_11th = terms("987.3", "0.0875", line_start=date(2026, 3, 11))
    # March (31 days), 11..31 = 21 days: 86.38875 x 21/31 = 1814.16375/31 = 58.5214... -> 58.52
    assert revenue(from_11th, MAR) == D("58.52")


def test_four_decimal_prices() -> None:
    # 3 x 1.2345 = 3.7035 -> 3.70
    assert revenue(terms("3", "1.2345"), JUN) == D("3.70")
    # 7 x 0.3333 = 2.3331 over June (30 days) for 20 days: 2.3331 x 20/30 = 1.5554 -> 1.56
    assert revenue(terms("7", "0.3333", line_end=date(2026, 6, 20)), JUN) == D("1.56")


def test_half_cent_ties_round_up() -> None:
    # 1 x 0.0150 for the full month = 0.015 exactly -> 0.02 (half-up, not to even)
    assert revenue(terms("1", "0.0150"), JUN) == D("0.02")
    # 1 x 0.0250 = 0.025 -> 0.03 (banker's rounding would give 0.02)
    assert revenue(terms("1", "0.0250"), JUN) == D("0.03")
    # Prorated tie: 1 x 10.0100 for 15 of April's 30 days = 5.005 exactly -> 5.01
    # (in binary floating point 10.01 * 15 / 30 is 5.00499999..., which rounds to 5.00).
    assert revenue(terms("1", "10.0100", line_end=date(2026, 4, 15)), APR) == D("5.01")


def test_just_below_the_tie_rounds_down() -> None:
    # 1 x 10.0099 for 15 of 30 days = 5.00495 -> 5.00
    assert revenue(terms("1", "10.0099", line_end=date(2026, 4, 15)), APR) == D("5.00")
    # 1 x 0.0149 for the full month = 0.0149 -> 0.01
    assert revenue(terms("1", "0.0149"), JUN) == D("0.01")
    # 1 x 0.0150 for 29 of June's 30 days = 0.0145 -> 0.01
    assert revenue(terms("1", "0.0150", line_end=date(2026, 6, 29)), JUN) == D("0.01")


def test_rounded_once_per_line_and_month_not_per_segment() -> None:
    line = terms("1", "0.0100", adjustments=((date(2026, 4, 16), "3", 1),))
    # April: 1..15 at 1 -> 0.01 x 15/30 = 0.005; 16..30 at 3 -> 0.03 x 15/30 = 0.015;
    # exact sum 0.020 -> 0.02. Rounding each segment would give 0.01 + 0.02 = 0.03.
    assert revenue(line, APR) == D("0.02")


def test_a_group_sums_the_rounded_line_revenues() -> None:
    half = date(2026, 4, 15)
    lines = [terms("1", "0.0100", line_id=n, line_end=half) for n in (1, 2)]
    # Each line: 0.01 x 15/30 = 0.005 -> 0.01; the contract's revenue is 0.01 + 0.01 = 0.02
    # (docs/month-arithmetic.md#revenue), not round(0.005 + 0.005) = 0.01.
    assert total_revenue(lines, APR) == D("0.02")


def test_adjustment_before_the_line_start_applies_from_the_start() -> None:
    line = terms(
        "5", "31.00", line_start=date(2026, 3, 10), adjustments=((date(2026, 2, 1), "7", 1),)
    )
    # The change from Feb 1st overlaps the line from March 10th: 7 units from the start.
    # March: 10..31 = 22 days x 7 x 31.00 / 31 = 154.00
    assert revenue(line, MAR) == D("154.00")
    assert contracted_units(line, MAR) == D(7)
    assert revenue(line, FEB) == D("0.00")


def test_adjustment_after_the_line_end_never_applies() -> None:
    line = terms(
        "5",
        "31.00",
        line_start=date(2026, 3, 10),
        line_end=date(2026, 3, 20),
        adjustments=((date(2026, 3, 25), "100", 1),),
    )
    # March: 10..20 = 11 days x 5 x 31.00 / 31 = 55.00; the 100 from the 25th is past the end.
    assert revenue(line, MAR) == D("55.00")
    assert contracted_units(line, MAR) == D(0)


def test_future_adjustment_and_adjustment_to_zero() -> None:
    line = terms("10", "6.00", adjustments=((date(2026, 6, 16), "0", 1),))
    # June (30 days): 1..15 at 10 = 150 unit-days, 16..30 at 0: 150 x 6.00 / 30 = 30.00.
    # The line is still active on the 30th, with 0 in effect: 0 units.
    assert revenue(line, JUN) == D("30.00")
    assert contracted_units(line, JUN) == D(0)
    assert revenue(line, MAY) == D("60.00")  # 10 x 6.00, before the change


def test_line_dates_outside_the_contract_count_only_where_they_overlap() -> None:
    line = terms(
        "2",
        "31.00",
        line_start=date(2025, 12, 1),
        line_end=date(2026, 8, 31),
        contract_start=date(2026, 1, 10),
        contract_end=date(2026, 7, 15),
    )
    # January: 10..31 = 22 days: 2 x 31.00 x 22/31 = 44.00
    assert revenue(line, JAN) == D("44.00")
    # July: 1..15 = 15 days: 2 x 31.00 x 15/31 = 30.00, and the contract is over on the 31st
    assert revenue(line, JUL) == D("30.00")
    assert contracted_units(line, JUL) == D(0)
    assert revenue(line, Period(2025, 12)) == D("0.00")


def test_line_month_bundles_the_figures() -> None:
    line = terms("10", "20.00", adjustments=((date(2026, 4, 16), "16", 1),))
    figures = line_month(line, APR)
    # See test_adjustment_mid_month: 390/30 unit-months, 260.00, 16 units, 30 days.
    assert figures.active_days == 30
    assert figures.units == D(16)
    assert figures.unit_price == D("20.00")
    assert figures.unit_months == Fraction(13)
    assert figures.revenue == D("260.00")
    assert prorated_amount(line, APR, D("1.00")) == D("13.00")


def test_terms_accept_plain_tuples_and_sort_them() -> None:
    line = LineTerms(
        line_id=1,
        service_id=2,
        customer_id=3,
        contract_id=4,
        quantity=D(1),
        unit_price=D("1.00"),
        line_start=None,
        line_end=None,
        contract_start=date(2026, 1, 1),
        contract_end=None,
        adjustments=(  # type: ignore[arg-type]  # plain tuples, as the brief allows
            (date(2026, 3, 1), D(3), 5),
            (date(2026, 2, 1), D(2), 9),
        ),
    )
    assert [a.order for a in line.adjustments] == [9, 5]
    assert quantity_on(line, date(2026, 2, 15)) == D(2)
    assert quantity_on(line, date(2026, 3, 1)) == D(3)


# --- the one-pass range functions equal the reference functions -----------------------------


def _random_terms(rng: random.Random, line_id: int) -> LineTerms:
    """A line with random dates, quantities, prices and adjustments around 2024-2027,
    sometimes with more than 4 decimals (the fallback path) or a zero quantity."""

    def day() -> date:
        return date(2024, 1, 1) + timedelta(days=rng.randrange(0, 4 * 366))

    def amount(places: int) -> Decimal:
        return Decimal(rng.randrange(0, 10**6)).scaleb(-places)

    places = 6 if rng.random() < 0.05 else 4
    contract_start = day()
    contract_end = day() if rng.random() < 0.5 else None
    line_start = day() if rng.random() < 0.5 else None
    line_end = day() if rng.random() < 0.4 else None
    adjustments = tuple(
        Adjustment(day(), amount(rng.choice((0, 1, 2, places))), order)
        for order in range(rng.choice((0, 0, 1, 2, 4)))
    )
    return LineTerms(
        line_id=line_id,
        service_id=1,
        customer_id=1,
        contract_id=1,
        quantity=amount(rng.choice((0, 2, places))),
        unit_price=amount(rng.choice((2, 4, places))),
        line_start=line_start,
        line_end=line_end,
        contract_start=contract_start,
        contract_end=contract_end,
        adjustments=adjustments,
    )


# --- the bench's range form (bench/figures.py) ----------------------------------------------


def test_range_figures_equal_the_reference_functions_on_random_lines() -> None:
    rng = random.Random(20260101)
    months = MonthRange.of(Period(2023, 11), Period(2028, 2))
    for line_id in range(1500):
        line = _random_terms(rng, line_id)
        cost = Decimal(rng.randrange(0, 10**7)).scaleb(-rng.choice((2, 4, 5)))
        figures = range_figures(line, months, line.unit_price, cost)
        for index, period in enumerate(months.periods):
            expected_revenue = revenue(line, period)
            assert from_cents(figures.amounts[0][index]) == expected_revenue, (line, period)
            assert from_cents(figures.amounts[1][index]) == in_house_cost(line, period, cost), (
                line,
                period,
            )
            assert figures.units[index] == contracted_units(line, period), (line, period)


def test_range_figures_on_a_hand_worked_line() -> None:
    # 9 x 27.50 from 2026-01-14, 12 from 2026-02-10, cancelled 2026-03-20:
    # Jan: 9 x 27.50 x 18/31 = 143.709... -> 143.71; units 9.
    # Feb: (9 x 9 + 12 x 19) x 27.50 / 28 = 309 x 27.50 / 28 = 303.482... -> 303.48; units 12.
    # Mar: 12 x 27.50 x 20/31 = 212.903... -> 212.90; units 0 (not active on the 31st).
    # Apr: nothing.
    line = terms(
        "9",
        "27.50",
        line_start=date(2026, 1, 14),
        contract_end=date(2026, 3, 20),
        adjustments=((date(2026, 2, 10), "12", 1),),
    )
    figures = range_figures(line, MonthRange.of(JAN, APR), D("27.50"))
    assert figures.amounts[0] == [14371, 30348, 21290, 0]
    assert figures.units == [D(9), D(12), D(0), D(0)]
