"""The month arithmetic of SPEC section 5 for one month, in the database: each active
line's unit-days (sum over its active days d of quantity(d)) and its contracted units,
from one statement instead of thousands of `LineTerms`.

It implements the same rules as `arithmetic.py` (the reference, which schedules and
billing runs use), and a test holds the two equal line by line on both databases:

- active window: [max(line start or contract start, contract start, first day),
  min(line end, contract end, last day)], null ends unbounded (SPEC section 5);
- quantity(d): the base quantity, replaced from each adjustment's effective date on;
  the latest effective date <= d wins, on one date the last recorded (highest id);
- the window is cut into segments at the adjustments inside it (a window function),
  and unit-days is the sum of quantity x days over the segments;
- contracted units: the quantity of the last segment when the window reaches the
  month's last day, else none.

The figures are exact integers: quantities and prices scaled by 10^4 (they carry at most
4 decimals, SPEC section 2), as SQLite stores them already and PostgreSQL computes them
from NUMERIC. What needs rounding (revenue and in-house cost, half-up to the cent per
line) is left to `cents()`, in Python's unbounded integers: a product of two scaled
values can pass a 64-bit integer, which SQLite would turn into a float.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import half_up_int
from app.core.periods import Period

DECIMALS = 4  # quantities and prices carry at most 4 decimals (SPEC section 2)
SCALE = 10**DECIMALS


@dataclass(frozen=True, slots=True)
class LineMonthFigures:
    """One contract line active in the month. `quantity_days` is the sum over its active
    days of quantity(d) x 10^4; `units` its contracted units x 10^4, None when it is not
    active on the month's last day; `unit_price` x 10^4."""

    line_id: int
    customer_id: int
    service_id: int
    unit_price: int
    quantity_days: int
    units: int | None


def cents(quantity_days: int, rate: int, days: int) -> int:
    """SPEC section 5: sum over active days of quantity(d) x rate / days_in(M), rounded
    half-up to the cent, as integer cents; `quantity_days` and `rate` scaled by 10^4.
    The same division as `arithmetic.range_figures`."""
    if quantity_days == 0:
        return 0
    # (quantity_days / 10^4) x (rate / 10^4) / days x 100 cents
    return half_up_int(quantity_days * rate, 1_000_000 * days)


def _statement(dialect: str, customer_filter: bool) -> str:
    if dialect == "postgresql":
        greatest, least = "GREATEST", "LEAST"
        span = "(COALESCE(s.next_d, a.hi + 1) - s.d)"

        def scaled(expr: str) -> str:
            return f"CAST({expr} * {SCALE} AS BIGINT)"
    else:  # SQLite: dates are ISO text, money columns are integers scaled by 10^4 already
        greatest, least = "max", "min"
        span = (
            "CAST(julianday(COALESCE(s.next_d, date(a.hi, '+1 day'))) - julianday(s.d) AS INTEGER)"
        )

        def scaled(expr: str) -> str:
            return expr

    customers = "AND c.customer_id IN :customer_ids" if customer_filter else ""
    return f"""
WITH active AS (
    SELECT cl.id, cl.service_id, c.customer_id, cl.quantity, cl.unit_price,
           {greatest}(COALESCE(cl.start_date, c.start_date), c.start_date, :first) AS lo,
           {least}(COALESCE(cl.end_date, :last), COALESCE(c.end_date, :last), :last) AS hi
    FROM contract_line cl JOIN contract c ON c.id = cl.contract_id
    WHERE c.start_date <= :last AND (cl.start_date IS NULL OR cl.start_date <= :last)
      AND (c.end_date IS NULL OR c.end_date >= :first)
      AND (cl.end_date IS NULL OR cl.end_date >= :first)
      {customers}
),
points AS (
    SELECT a.id AS line_id, a.lo AS d, 0 AS ord,
           COALESCE((SELECT x.quantity FROM contract_line_adjustment x
                     WHERE x.line_id = a.id AND x.effective_date <= a.lo
                     ORDER BY x.effective_date DESC, x.id DESC LIMIT 1), a.quantity) AS q
    FROM active a WHERE a.lo <= a.hi
    UNION ALL
    SELECT x.line_id, x.effective_date, x.id, x.quantity
    FROM contract_line_adjustment x JOIN active a ON a.id = x.line_id
    WHERE a.lo <= a.hi AND x.effective_date > a.lo AND x.effective_date <= a.hi
),
segments AS (
    SELECT line_id, q, d, LEAD(d) OVER (PARTITION BY line_id ORDER BY d, ord) AS next_d
    FROM points
)
SELECT a.id, a.customer_id, a.service_id, {scaled("a.unit_price")},
       SUM({scaled("s.q")} * {span}),
       MAX(CASE WHEN s.next_d IS NULL AND a.hi = :last THEN {scaled("s.q")} END)
FROM segments s JOIN active a ON a.id = s.line_id
GROUP BY a.id, a.customer_id, a.service_id, a.unit_price
ORDER BY a.id
"""


async def month_line_figures(
    session: AsyncSession, period: Period, *, customer_ids: Collection[int] | None = None
) -> list[LineMonthFigures]:
    """Every contract line active on some day of the month, in line id order, with its
    unit-days and contracted units (SPEC section 5); `customer_ids` narrows to those
    customers' contracts."""
    if customer_ids is not None and not customer_ids:
        return []
    dialect = session.get_bind().dialect.name
    statement = text(_statement(dialect, customer_ids is not None)).bindparams(
        bindparam("first", period.first_day, type_=Date),
        bindparam("last", period.last_day, type_=Date),
    )
    if customer_ids is not None:
        statement = statement.bindparams(
            bindparam("customer_ids", sorted(customer_ids), expanding=True)
        )
    rows: Any = (await session.execute(statement)).all()
    return [
        LineMonthFigures(
            line_id=line_id,
            customer_id=customer_id,
            service_id=service_id,
            unit_price=int(unit_price),
            quantity_days=int(quantity_days),
            units=None if units is None else int(units),
        )
        for line_id, customer_id, service_id, unit_price, quantity_days, units in rows
    ]
