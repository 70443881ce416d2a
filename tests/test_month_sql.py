"""The month arithmetic in SQL (app/contracts/month_sql.py) against the reference module
(app/contracts/arithmetic.py), line by line, on both databases: active window, segments
at adjustments (before the start, on the first and last day, several on one date, after
the end), contracted units and the rounded revenue and in-house cost (SPEC section 5)."""

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
