"""The month arithmetic in SQL (app/contracts/month_sql.py: the one-month form of audits and
the range form of reports) against the reference module (app/contracts/arithmetic.py),
line by line and month by month, on both databases: active window, segments
at adjustments (before the start, on the first and last day, several on one date, after
the end), contracted units and the rounded revenue and in-house cost
(docs/month-arithmetic.md)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.contracts import arithmetic, month_sql
from app.core.db import create_sessionmaker
from app.core.money import from_cents, from_scaled
from app.core.periods import Period
from tests import helpers

PERIODS = ["2026-01", "2026-02", "2026-03", "2026-06", "2026-12", "2027-02", "2028-02"]


def _day(rng: random.Random, low: date, high: date) -> date:
    return low + timedelta(days=rng.randint(0, (high - low).days))


def _amount(rng: random.Random) -> str:
    return f"{rng.randint(0, 99_999)}.{rng.randint(0, 9_999):04d}"


async def _random_lines(client: httpx.AsyncClient, rng: random.Random) -> None:
    customer = await helpers.customer(client)
    services = [
        await helpers.service(client, f"SKU-{n}", unit_price=_amount(rng), unit_cost=_amount(rng))
        for n in range(3)
    ]
    low, high = date(2025, 11, 1), date(2028, 3, 31)
    for n in range(30):
        start = _day(rng, low, high)
        extra: dict[str, Any] = {}
        if rng.random() < 0.5:
            extra["end_date"] = str(_day(rng, start, high))
        contract = await helpers.contract(client, customer["id"], str(start), **extra)
        for _ in range(rng.randint(1, 3)):
            body: dict[str, Any] = {"unit_price": _amount(rng)}
            if rng.random() < 0.4:
                body["start_date"] = str(_day(rng, start, high))
            if rng.random() < 0.4:
                body["end_date"] = str(_day(rng, start, high))
            if (
                "start_date" in body
                and "end_date" in body
                and body["end_date"] < body["start_date"]
            ):
                body["start_date"], body["end_date"] = body["end_date"], body["start_date"]
            service = services[(n + len(body)) % len(services)]
            line = await helpers.line(
                client,
                contract["id"],
                service["id"],
                f"{rng.randint(0, 500)}.{rng.randint(0, 9_999):04d}",
                **body,
            )
            path = f"/api/v1/contracts/{contract['id']}/lines/{line['id']}/adjustments"
            for _ in range(rng.choice([0, 0, 1, 2, 4])):
                # Month starts and ends, and repeated dates, are the edges that matter.
                effective = rng.choice(
                    [
                        _day(rng, low, high),
                        date(2026, 2, 28),
                        date(2026, 3, 1),
                        date(2026, 6, 30),
                        start,
                        start - timedelta(days=3),
                    ]
                )
                answer = await client.post(
                    path,
                    json={"effective_date": str(effective), "quantity": str(rng.randint(0, 40))},
                )
                assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_sql_figures_equal_the_arithmetic_module(
    client: httpx.AsyncClient, engine: AsyncEngine, seed: int
) -> None:
    rng = random.Random(seed)
    await _random_lines(client, rng)
    maker = create_sessionmaker(engine)
    async with maker() as session:
        terms = await arithmetic.load_line_terms(session)
        services = {s["id"]: s for s in (await client.get("/api/v1/services")).json()["items"]}
        checked = 0
        for text in PERIODS:
            period = Period.parse(text)
            figures = await month_sql.month_line_figures(session, period)
            by_line = {f.line_id: f for f in figures}
            for line in terms:
                cost = Decimal(services[line.service_id]["unit_cost"])
                expected_days = arithmetic.active_days(line, period)
                got = by_line.get(line.line_id)
                if expected_days == 0:
                    assert got is None, (text, line)
                    continue
                assert got is not None, (text, line)
                checked += 1
                # Plain ints on both databases (no Decimal from PostgreSQL's NUMERIC sums).
                assert all(type(value) is int for value in got[:5]), got
                assert got.units is None or type(got.units) is int, got
                assert (got.customer_id, got.service_id) == (line.customer_id, line.service_id)
                assert Decimal(got.unit_price).scaleb(-4) == line.unit_price
                units = arithmetic.contracted_units(line, period)
                on_last = arithmetic.is_active_on(line, period.last_day)
                assert (got.units is not None) == on_last, (text, line)
                assert Decimal(got.units or 0).scaleb(-4) == units, (text, line)
                revenue = Decimal(
                    month_sql.cents(got.quantity_days, got.unit_price, period.days)
                ).scaleb(-2)
                assert revenue == arithmetic.revenue(line, period), (text, line)
                scaled_cost = int(cost.scaleb(4))
                in_house = Decimal(
                    month_sql.cents(got.quantity_days, scaled_cost, period.days)
                ).scaleb(-2)
                assert in_house == arithmetic.in_house_cost(line, period, cost), (text, line)
            assert set(by_line) <= {line.line_id for line in terms}
            narrowed = await month_sql.month_line_figures(
                session, period, customer_ids={terms[0].customer_id}
            )
            assert narrowed == figures  # one customer owns every line here
            assert await month_sql.month_line_figures(session, period, customer_ids=()) == []
    assert checked > 60


def test_cents_rounds_half_up_once_per_line() -> None:
    # 3 seats x 10 days at 10.00 over a 30-day month: 3 x 10 x 10 / 30 = 10.00 exactly.
    assert month_sql.cents(3 * 10 * 10_000, 10 * 10_000, 30) == 1000
    # 1 seat x 1 day at 0.0050 over 31 days = 0.000161..., rounds to 0.00.
    assert month_sql.cents(10_000, 50, 31) == 0
    # 1 seat x 15 days at 0.01 over 30 days = 0.005: a half rounds up to 0.01.
    assert month_sql.cents(15 * 10_000, 100, 30) == 1
    # Values past 64 bits stay exact: 10^12 - 1 units for 31 days at 999,999.9999.
    big = month_sql.cents((10**12 - 1) * 10_000 * 31, 9_999_999_999, 31)
    exact = Decimal(10**12 - 1) * Decimal("999999.9999") * 100  # 24 digits: exact
    assert big == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- the range form ----------------------------------------------------------------------------

RANGES = [
    ("2025-11", "2028-03"),  # the whole span of the random lines, leap February 2028 included
    ("2026-01", "2026-12"),
    ("2026-02", "2026-02"),
    ("2027-12", "2028-03"),
]


async def _assert_range_equal(
    session: Any, services: dict[int, dict[str, Any]], first_text: str, last_text: str
) -> int:
    """range_line_figures against the reference functions of the arithmetic module, line
    by line and month by month: active or not, unit-days rounded at the unit price and at
    the unit cost, and contracted units (docs/month-arithmetic.md). Returns the
    line-months checked."""
    first, last = Period.parse(first_text), Period.parse(last_text)
    months = arithmetic.MonthRange.of(first, last)
    terms = await arithmetic.load_line_terms(session)
    figures = await month_sql.range_line_figures(session, first, last)
    assert [f.line_id for f in figures] == sorted(f.line_id for f in figures)
    by_line = {f.line_id: f for f in figures}
    checked = 0
    for line in terms:
        active = [arithmetic.active_days(line, period) for period in months.periods]
        got = by_line.get(line.line_id)
        if not any(active):
            assert got is None, (first_text, last_text, line)
            continue
        assert got is not None, (first_text, last_text, line)
        assert (got.customer_id, got.contract_id, got.service_id) == (
            line.customer_id,
            line.contract_id,
            line.service_id,
        )
        assert Decimal(got.unit_price).scaleb(-4) == line.unit_price
        cost = Decimal(services[line.service_id]["unit_cost"])
        scaled_cost = int(cost.scaleb(4))
        monthly = got.monthly(months.days)
        for index, period in enumerate(months.periods):
            where = (str(period), line)
            month = monthly[index]
            if active[index] == 0:
                assert month is None, where
                continue
            assert month is not None, where
            quantity_days, units = month
            assert from_cents(
                month_sql.cents(quantity_days, got.unit_price, period.days)
            ) == arithmetic.revenue(line, period), where
            assert from_cents(
                month_sql.cents(quantity_days, scaled_cost, period.days)
            ) == arithmetic.in_house_cost(line, period, cost), where
            assert (units is not None) == arithmetic.is_active_on(line, period.last_day), where
            assert from_scaled(units or 0, 4) == arithmetic.contracted_units(line, period), where
            checked += 1
        # A run's whole months: the shortcut gives the same cents as the unit-days.
        for first_index, last_index, quantity in got.runs:
            assert first_index <= last_index
            for index in range(first_index, last_index + 1):
                assert index not in got.partial
                days = months.days[index]
                assert month_sql.whole_month_cents(quantity, got.unit_price) == (
                    month_sql.cents(quantity * days, got.unit_price, days)
                )
    assert set(by_line) <= {line.line_id for line in terms}
    return checked


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_range_figures_equal_the_arithmetic_module(
    client: httpx.AsyncClient, engine: AsyncEngine, seed: int
) -> None:
    rng = random.Random(seed)
    await _random_lines(client, rng)
    services = {s["id"]: s for s in (await client.get("/api/v1/services")).json()["items"]}
    maker = create_sessionmaker(engine)
    async with maker() as session:
        checked = 0
        for first_text, last_text in RANGES:
            checked += await _assert_range_equal(session, services, first_text, last_text)
        first, last = Period.parse("2025-11"), Period.parse("2028-03")
        everything = await month_sql.range_line_figures(session, first, last)
        customer = everything[0].customer_id
        # One customer owns every line here; a service narrows to its lines.
        assert (
            await month_sql.range_line_figures(session, first, last, customer_ids={customer})
            == everything
        )
        service_id = everything[0].service_id
        assert await month_sql.range_line_figures(
            session, first, last, service_ids={service_id}
        ) == [f for f in everything if f.service_id == service_id]
        assert await month_sql.range_line_figures(session, first, last, service_ids=()) == []
        assert await month_sql.range_line_figures(session, first, last, customer_ids=()) == []
    assert checked > 500


async def test_range_figures_at_month_edges(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    """Lines starting and ending inside months, adjustments on a month's first and last
    day, several on one date (the last recorded wins) and leap February 2028."""
    customer = await helpers.customer(client)
    service = await helpers.service(client, "EDGE", unit_price="10.0000", unit_cost="3.3333")
    contract = await helpers.contract(client, customer["id"], "2027-12-17", end_date="2028-04-10")
    mid = await helpers.line(
        client, contract["id"], service["id"], "3", unit_price="9.9900", end_date="2028-03-14"
    )
    whole = await helpers.line(
        client, contract["id"], service["id"], "1.5", unit_price="0.0001", start_date="2028-01-01"
    )
    for line_id, effective, quantity in [
        (mid["id"], "2028-02-01", "5"),  # first day of February
        (mid["id"], "2028-02-29", "7"),  # leap day, the last of February...
        (mid["id"], "2028-02-29", "2"),  # ...twice: the last recorded wins
        (mid["id"], "2027-12-01", "4"),  # before the start: in force from the start
        (whole["id"], "2028-01-31", "0"),  # last day of January
        (whole["id"], "2028-03-01", "11"),  # first day of March
        (whole["id"], "2028-06-01", "9"),  # after the end: never applies
    ]:
        answer = await client.post(
            f"/api/v1/contracts/{contract['id']}/lines/{line_id}/adjustments",
            json={"effective_date": effective, "quantity": quantity},
        )
        assert answer.status_code == 201, answer.text
    services = {service["id"]: service}
    maker = create_sessionmaker(engine)
    async with maker() as session:
        checked = 0
        for first_text, last_text in [("2027-11", "2028-05"), ("2028-02", "2028-02")]:
            checked += await _assert_range_equal(session, services, first_text, last_text)
        assert checked == 4 + 4 + 2  # mid Dec-Mar, whole Jan-Apr, then February alone
        figures = await month_sql.range_line_figures(
            session, Period.parse("2027-11"), Period.parse("2028-05")
        )
    by_line = {f.line_id: f for f in figures}
    days = [30, 31, 31, 29, 31, 30, 31]  # 2027-11 .. 2028-05
    mid_months = by_line[mid["id"]].monthly(days)
    # December from the 17th at 4 (the adjustment before the start), January whole at 4,
    # February 1-28 at 5 and the 29th at 2 (the last recorded of that date), March 1-14.
    assert mid_months[1] == (4 * 10_000 * 15, 4 * 10_000)
    assert mid_months[2] == (4 * 10_000 * 31, 4 * 10_000)
    assert mid_months[3] == (5 * 10_000 * 28 + 2 * 10_000, 2 * 10_000)
    assert mid_months[4] == (2 * 10_000 * 14, None)
    assert mid_months[0] is None and mid_months[5] is None
    # 4 x 9.99 x 15 / 31 = 19.3354... -> 19.34; February (5 x 28 + 2) x 9.99 / 29 = 48.9165...
    assert month_sql.cents(mid_months[1][0], 99_900, 31) == 1934
    assert month_sql.cents(mid_months[3][0], 99_900, 29) == 4892
    whole_months = by_line[whole["id"]].monthly(days)
    assert whole_months[2] == (15_000 * 30, 0)  # January 1-30 at 1.5, the 31st at 0
    assert whole_months[3] == (0, 0)  # February at 0: active, no unit-days
    assert whole_months[4] == (11 * 10_000 * 31, 11 * 10_000)
    assert whole_months[5] == (11 * 10_000 * 10, None)  # the contract ends on April 10
