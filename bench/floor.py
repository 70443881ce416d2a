"""The floor of a month's audit: the aggregate queries the audit needs, hand-written and
run straight on the database, their rows fetched and nothing else (no findings built
or stored). What the service does above this is its own overhead.

Contract revenue and contracted units are computed in SQL too (SPEC section 5): each
line's active window in the month, cut into segments at its adjustments by a window
function, each segment's quantity x days summed, x unit_price / days_in(M), rounded
half-up per line. On SQLite money is stored as integers scaled by 10^4 (quantities,
prices) or 10^2 (amounts), so the same formula runs in integer arithmetic there.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.periods import Period


def _contract_positions(dialect: str, period: Period) -> str:
    first, last, days = f"'{period.first_day}'", f"'{period.last_day}'", period.days
    if dialect == "postgresql":
        first, last = f"DATE {first}", f"DATE {last}"
        greatest, least = "GREATEST", "LEAST"
        after_hi = "a.hi + 1"
        span = f"(COALESCE(s.next_d, {after_hi}) - s.d)"
        revenue = f"ROUND(p.unit_days * p.unit_price / {days}, 2)"
        in_house = f"ROUND(p.unit_days * p.unit_cost / {days}, 2)"
    else:
        greatest, least = "max", "min"
        after_hi = "date(a.hi, '+1 day')"
        span = f"CAST(julianday(COALESCE(s.next_d, {after_hi})) - julianday(s.d) AS INTEGER)"
        # Scaled integers: unit_days x 10^4, price x 10^4; cents, half-up (all >= 0).
        denominator = 2 * 1_000_000 * days
        revenue = f"((2 * p.unit_days * p.unit_price + {denominator // 2}) / {denominator})"
        in_house = f"((2 * p.unit_days * p.unit_cost + {denominator // 2}) / {denominator})"
    return f"""
WITH lines AS (
    SELECT cl.id, cl.service_id, c.customer_id, cl.quantity, cl.unit_price,
           {greatest}(COALESCE(cl.start_date, c.start_date), c.start_date, {first}) AS lo,
           {least}(COALESCE(cl.end_date, {last}), COALESCE(c.end_date, {last}), {last}) AS hi
    FROM contract_line cl JOIN contract c ON c.id = cl.contract_id
),
active AS (SELECT * FROM lines WHERE lo <= hi),
pts AS (
    SELECT a.id AS line_id, a.lo AS d, 0 AS ord,
           COALESCE((SELECT x.quantity FROM contract_line_adjustment x
                     WHERE x.line_id = a.id AND x.effective_date <= a.lo
                     ORDER BY x.effective_date DESC, x.id DESC LIMIT 1), a.quantity) AS q
    FROM active a
    UNION ALL
    SELECT x.line_id, x.effective_date, x.id, x.quantity
    FROM contract_line_adjustment x JOIN active a ON a.id = x.line_id
    WHERE x.effective_date > a.lo AND x.effective_date <= a.hi
),
seg AS (
    SELECT line_id, q, d, LEAD(d) OVER (PARTITION BY line_id ORDER BY d, ord) AS next_d
    FROM pts
),
per_line AS (
    SELECT a.id, a.customer_id, a.service_id, a.unit_price, sv.unit_cost, sv.vendor_id,
           SUM(s.q * {span}) AS unit_days,
           SUM(CASE WHEN s.next_d IS NULL AND a.hi = {last} THEN s.q ELSE 0 END) AS units
    FROM seg s JOIN active a ON a.id = s.line_id JOIN service sv ON sv.id = a.service_id
    GROUP BY a.id, a.customer_id, a.service_id, a.unit_price, sv.unit_cost, sv.vendor_id
)
SELECT p.customer_id, p.service_id, SUM(p.units) AS units,
       SUM(p.units * p.unit_price) AS price_weight,
       SUM({revenue}) AS revenue,
       SUM(CASE WHEN p.vendor_id IS NULL THEN {in_house} ELSE 0 END) AS in_house_cost
FROM per_line p
GROUP BY p.customer_id, p.service_id
"""


def floor_queries(dialect: str, period: Period) -> dict[str, str]:
    month, previous = f"'{period}'", f"'{period.previous()}'"
    last = f"'{period.last_day}'"
    if dialect == "postgresql":
        last = f"DATE {last}"
    matched = """
        FROM vendor_invoice_line l
        JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
        JOIN vendor_account va ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
    """
    return {
        "catalog": "SELECT id, name, sku, unit_price, unit_cost, vendor_id FROM service",
        "vendors": "SELECT id, name FROM vendor",
        "contract positions": _contract_positions(dialect, period),
        "vendor positions": f"""
            SELECT va.customer_id, s.id, l.vendor_id, l.invoice_id,
                   SUM(l.quantity), SUM(l.amount), COUNT(*)
            {matched}
            WHERE l.period = {month}
            GROUP BY va.customer_id, s.id, l.vendor_id, l.invoice_id""",
        "invoices": f"""
            SELECT id, invoice_number, invoice_date, vendor_id, total
            FROM vendor_invoice WHERE period = {month}""",
        "price rises": f"""
            SELECT l.invoice_id, l.vendor_id, s.id, l.unit_cost, SUM(l.quantity)
            FROM vendor_invoice_line l
            JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            WHERE l.period = {month} AND l.unit_cost > s.unit_cost
            GROUP BY l.invoice_id, l.vendor_id, s.id, l.unit_cost""",
        "previous mean cost": f"""
            SELECT s.id, SUM(l.quantity), SUM(l.amount)
            FROM vendor_invoice_line l
            JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            WHERE l.period = {previous}
            GROUP BY s.id""",
        "unmapped lines": f"""
            SELECT l.id, l.invoice_id, l.vendor_id, l.vendor_sku, l.account_ref, l.amount,
                   s.id, va.customer_id
            FROM vendor_invoice_line l
            LEFT JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            LEFT JOIN vendor_account va
                   ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
            WHERE l.period = {month} AND (s.id IS NULL OR va.customer_id IS NULL)""",
        "invoice totals": f"""
            SELECT invoice_id, SUM(amount) FROM vendor_invoice_line
            WHERE period = {month} GROUP BY invoice_id""",
        "billed customers": f"""
            SELECT DISTINCT customer_id FROM customer_invoice
            WHERE period = {month} AND status <> 'void'""",
        "invoiced units": f"""
            SELECT i.customer_id, il.service_id, SUM(il.quantity)
            FROM customer_invoice_line il JOIN customer_invoice i ON i.id = il.invoice_id
            WHERE i.period = {month} AND i.status <> 'void' AND il.service_id IS NOT NULL
            GROUP BY i.customer_id, il.service_id""",
        "deployed assets": f"""
            SELECT customer_id, service_id, COUNT(*) FROM asset
            WHERE installed_on <= {last} AND (removed_on IS NULL OR removed_on > {last})
            GROUP BY customer_id, service_id""",
        "customers": "SELECT id, name FROM customer",
    }


async def run_floor(engine: AsyncEngine, period: Period) -> tuple[float, dict[str, float]]:
    """Every floor query once, in sequence on one connection: total seconds, and seconds
    per query (with its rows fetched)."""
    queries = floor_queries(engine.dialect.name, period)
    each: dict[str, float] = {}
    async with engine.connect() as conn:
        started = time.perf_counter()
        for name, sql in queries.items():
            began = time.perf_counter()
            rows: Any = (await conn.execute(text(sql))).all()
            del rows
            each[name] = time.perf_counter() - began
        total = time.perf_counter() - started
    return total, each


async def contract_totals(engine: AsyncEngine, period: Period) -> tuple[Any, Any]:
    """Total contracted units and revenue of the month by the floor's SQL (a cross-check
    of its arithmetic against the service's)."""
    sql = _contract_positions(engine.dialect.name, period)
    async with engine.connect() as conn:
        row = (await conn.execute(text(f"SELECT SUM(units), SUM(revenue) FROM ({sql}) t"))).one()
    return row[0], row[1]
