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
from decimal import Decimal
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
    """Every input query of the audit once, in sequence on one connection: total seconds,
    and seconds per query (with its rows fetched). The lower bound of any audit, since it
    computes and stores no findings; `run_audit_floor` is the floor of the same audit."""
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


# --- the same audit in hand-written SQL --------------------------------------------------
# Each rule of SPEC section 6 as one INSERT ... SELECT into `finding`, over three temporary
# tables of positions (contract, vendor per invoice, vendor), then the audit's totals: the
# work of POST /audits (find, store, summarise) with no Python between the statements.
# It runs in a transaction that is rolled back, so the database is left as it was.
#
# PostgreSQL computes in NUMERIC; its divisions carry at least 16 decimals, so each
# half-up ROUND to the cent is exact for these magnitudes. On SQLite the columns are
# integers scaled by 10^4 (quantities, prices, price weights by 10^8) or 10^2 (amounts),
# so the formulas are integer half-up divisions in cents: (2n + d) / (2d). Products that
# could pass 64 bits on SQLite (NEGATIVE_MARGIN) use REAL, as hand-written SQL would;
# `run_audit_floor` returns its findings by type so that the benchmark checks the floor
# and the service agree, count and impact, rule by rule.

_POSITION_TABLES = ("floor_cp", "floor_vpi", "floor_vp")


def _sqlite_half_up(k: str, w: str, u: str) -> str:
    """SQLite, integers: k x w / (u x 10^6) rounded half-up (k >= 0, u > 0), where k x w
    could pass 64 bits. floor(k w / u) = k (w div u) + (k (w mod u)) div u, and adding
    the half after that floor rounds the same as before it (the dropped part is < 1)."""
    whole = f"({k} * ({w} / {u}) + ({k} * ({w} % {u})) / {u})"
    return f"(({whole} + 500000) / 1000000)"


def _audit_floor_statements(dialect: str, period: Period) -> list[tuple[str, str]]:
    pg = dialect == "postgresql"
    month, last = f"'{period}'", f"'{period.last_day}'"
    if pg:
        last = f"DATE {last}"
    matched = """
        FROM vendor_invoice_line l
        JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
        JOIN vendor_account va ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
    """
    if pg:
        unbilled = "ROUND((vp.units - cp.units) * cp.price_weight / cp.units, 2)"
        overbilled = "ROUND((cp.units - COALESCE(vp.units, 0)) * cp.price_weight / cp.units, 2)"
        below = "cp.price_weight * vp.units < vp.amount * cp.units"
        negative = (
            "ROUND((vp.amount / vp.units - cp.price_weight / cp.units)"
            " * LEAST(cp.units, vp.units), 2)"
        )
        assets = (
            "ROUND((d.n - COALESCE(cp.units, 0)) * CASE WHEN COALESCE(cp.units, 0) > 0"
            " THEN cp.price_weight / cp.units ELSE s.unit_price END, 2)"
        )
        rise = "ROUND(SUM((l.unit_cost - s.unit_cost) * l.quantity), 2)"
    else:
        unbilled = _sqlite_half_up("(vp.units - cp.units)", "cp.price_weight", "cp.units")
        overbilled = _sqlite_half_up(
            "(cp.units - COALESCE(vp.units, 0))", "cp.price_weight", "cp.units"
        )
        below = "cp.price_weight * 1.0 * vp.units < vp.amount * 1000000.0 * cp.units"
        negative = (
            "CAST(ROUND((vp.amount * 10000.0 / vp.units - cp.price_weight * 1.0"
            " / (cp.units * 100)) * min(cp.units, vp.units) / 10000.0) AS INTEGER)"
        )
        assets = (
            "CASE WHEN COALESCE(cp.units, 0) > 0 THEN "
            + _sqlite_half_up("(d.n * 10000 - cp.units)", "cp.price_weight", "cp.units")
            + " ELSE (2 * d.n * 10000 * s.unit_price + 1000000) / 2000000 END"
        )
        rise = "(2 * SUM((l.unit_cost - s.unit_cost) * l.quantity) + 1000000) / 2000000"

    def fingerprint(*parts: str) -> str:
        joined = " || '|' || ".join(f"COALESCE(CAST({p} AS TEXT), '')" for p in parts)
        return f"md5({joined})" if pg else f"substr({joined}, 1, 64)"

    def store(kind: str, severity: str, select: str) -> str:
        """INSERT the rows of `select` (customer_id, service_id, vendor_id,
        vendor_invoice_id, vendor_invoice_line_id, vendor_sku, account_ref, impact) with
        a message naming the customer and service, for impacts above zero."""
        print_ = fingerprint(
            month,
            f"'{kind}'",
            "f.customer_id",
            "f.service_id",
            "f.vendor_id",
            "f.vendor_invoice_id",
            "f.vendor_sku",
            "f.account_ref",
        )
        # A bare NULL in a sub-select is text to PostgreSQL: the ids are cast back.
        ids = ", ".join(
            f"CAST(f.{c} AS INTEGER)"
            for c in (
                "customer_id",
                "service_id",
                "vendor_id",
                "vendor_invoice_id",
                "vendor_invoice_line_id",
            )
        )
        return f"""
            INSERT INTO finding (audit_id, type, severity, status, fingerprint, customer_id,
                service_id, vendor_id, vendor_invoice_id, vendor_invoice_line_id, vendor_sku,
                account_ref, impact, message, created_at)
            SELECT (SELECT MAX(id) FROM audit), '{kind}', '{severity}', 'open', {print_},
                {ids}, CAST(f.vendor_sku AS VARCHAR), CAST(f.account_ref AS VARCHAR), f.impact,
                '{kind}: ' || COALESCE(c.name, '') || ' ' || COALESCE(sv.name, '')
                    || ' ' || CAST(f.impact AS TEXT),
                CURRENT_TIMESTAMP
            FROM ({select}) f
            LEFT JOIN customer c ON c.id = CAST(f.customer_id AS INTEGER)
            LEFT JOIN service sv ON sv.id = CAST(f.service_id AS INTEGER)
            WHERE f.impact > 0"""

    def pair(impact: str, rest: str) -> str:
        return (
            "SELECT vp.customer_id, vp.service_id, vp.vendor_id, NULL AS vendor_invoice_id,"
            " NULL AS vendor_invoice_line_id, NULL AS vendor_sku, NULL AS account_ref,"
            f" {impact} AS impact {rest}"
        )

    def unmapped(missing: str, service: str, customer: str) -> str:
        """Each line of the month whose `missing` match is NULL, with the other match."""
        return f"""
            SELECT {customer} AS customer_id, {service} AS service_id, l.vendor_id,
                   l.invoice_id AS vendor_invoice_id, l.id AS vendor_invoice_line_id,
                   l.vendor_sku, l.account_ref, l.amount AS impact
            FROM vendor_invoice_line l
            LEFT JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            LEFT JOIN vendor_account va
                   ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
            WHERE l.period = {month} AND {missing} IS NULL"""

    return [
        (
            "audit row",
            f"""
            INSERT INTO audit (period, vendor_id, created_by, finding_count, total_impact,
                               by_type, created_at)
            VALUES ({month}, NULL, 'floor', 0, 0, '{{}}', CURRENT_TIMESTAMP)""",
        ),
        (
            "contract positions",
            f"""
            CREATE TEMP TABLE floor_cp AS
            SELECT p.customer_id, p.service_id, p.units, p.price_weight, p.revenue
            FROM ({_contract_positions(dialect, period)}) p""",
        ),
        (
            "vendor positions",
            f"""
            CREATE TEMP TABLE floor_vpi AS
            SELECT va.customer_id, s.id AS service_id, l.vendor_id, l.invoice_id,
                   SUM(l.quantity) AS units, SUM(l.amount) AS amount
            {matched}
            WHERE l.period = {month}
            GROUP BY va.customer_id, s.id, l.vendor_id, l.invoice_id""",
        ),
        (
            "index contract positions",
            "CREATE INDEX floor_cp_pair ON floor_cp (customer_id, service_id)",
        ),
        (
            "vendor totals",
            """
            CREATE TEMP TABLE floor_vp AS
            SELECT customer_id, service_id, MIN(vendor_id) AS vendor_id,
                   SUM(units) AS units, SUM(amount) AS amount, COUNT(*) AS invoices
            FROM floor_vpi GROUP BY customer_id, service_id""",
        ),
        (
            "index vendor positions",
            "CREATE INDEX floor_vpi_pair ON floor_vpi (customer_id, service_id)",
        ),
        (
            "ORPHANED_COST",
            store(
                "ORPHANED_COST",
                "high",
                pair(
                    "vp.amount",
                    """
            FROM floor_vp vp LEFT JOIN floor_cp cp
              ON cp.customer_id = vp.customer_id AND cp.service_id = vp.service_id
            WHERE COALESCE(cp.units, 0) = 0""",
                ),
            ),
        ),
        (
            "UNBILLED_UNITS",
            store(
                "UNBILLED_UNITS",
                "high",
                pair(
                    unbilled,
                    """
            FROM floor_vp vp JOIN floor_cp cp
              ON cp.customer_id = vp.customer_id AND cp.service_id = vp.service_id
            WHERE vp.units > cp.units AND cp.units > 0""",
                ),
            ),
        ),
        (
            "OVERBILLED_UNITS",
            store(
                "OVERBILLED_UNITS",
                "medium",
                f"""
            SELECT cp.customer_id, cp.service_id, s.vendor_id, NULL AS vendor_invoice_id,
                   NULL AS vendor_invoice_line_id, NULL AS vendor_sku, NULL AS account_ref,
                   {overbilled} AS impact
            FROM floor_cp cp JOIN service s ON s.id = cp.service_id
            LEFT JOIN floor_vp vp
              ON vp.customer_id = cp.customer_id AND vp.service_id = cp.service_id
            WHERE cp.units > 0 AND cp.units > COALESCE(vp.units, 0)
              AND s.vendor_id IN (SELECT vendor_id FROM vendor_invoice
                                  WHERE period = {month})""",
            ),
        ),
        (
            "PRICE_INCREASE",
            store(
                "PRICE_INCREASE",
                "medium",
                f"""
            SELECT NULL AS customer_id, s.id AS service_id, l.vendor_id,
                   l.invoice_id AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
                   NULL AS vendor_sku, NULL AS account_ref, {rise} AS impact
            FROM vendor_invoice_line l
            JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            WHERE l.period = {month} AND l.unit_cost > s.unit_cost
            GROUP BY l.invoice_id, l.vendor_id, s.id""",
            ),
        ),
        (
            "NEGATIVE_MARGIN",
            store(
                "NEGATIVE_MARGIN",
                "medium",
                pair(
                    negative,
                    f"""
            FROM floor_vp vp JOIN floor_cp cp
              ON cp.customer_id = vp.customer_id AND cp.service_id = vp.service_id
            WHERE cp.units > 0 AND vp.units > 0 AND {below}""",
                ),
            ),
        ),
        ("UNMAPPED_SKU", store("UNMAPPED_SKU", "low", unmapped("s.id", "NULL", "va.customer_id"))),
        (
            "UNMAPPED_ACCOUNT",
            store("UNMAPPED_ACCOUNT", "low", unmapped("va.customer_id", "s.id", "NULL")),
        ),
        (
            "DUPLICATE_CHARGE",
            store(
                "DUPLICATE_CHARGE",
                "high",
                """
            SELECT r.customer_id, r.service_id, MIN(r.vendor_id) AS vendor_id,
                   NULL AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
                   NULL AS vendor_sku, NULL AS account_ref,
                   SUM(CASE WHEN r.n > 1 THEN r.amount ELSE 0 END) AS impact
            FROM (SELECT x.customer_id, x.service_id, x.vendor_id, x.amount,
                         ROW_NUMBER() OVER (PARTITION BY x.customer_id, x.service_id
                                            ORDER BY i.invoice_date, i.invoice_number) AS n
                  FROM floor_vp vp
                  JOIN floor_vpi x
                    ON x.customer_id = vp.customer_id AND x.service_id = vp.service_id
                  JOIN vendor_invoice i ON i.id = x.invoice_id
                  WHERE vp.invoices > 1) r
            GROUP BY r.customer_id, r.service_id""",
            ),
        ),
        (
            "INVOICE_TOTAL_MISMATCH",
            store(
                "INVOICE_TOTAL_MISMATCH",
                "medium",
                f"""
            SELECT NULL AS customer_id, NULL AS service_id, i.vendor_id,
                   i.id AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
                   NULL AS vendor_sku, NULL AS account_ref,
                   ABS(i.total - i.lines_total) AS impact
            FROM vendor_invoice i WHERE i.period = {month}""",
            ),
        ),
        (
            "MISSING_BILLING",
            store(
                "MISSING_BILLING",
                "high",
                f"""
            SELECT cp.customer_id, NULL AS service_id, NULL AS vendor_id,
                   NULL AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
                   NULL AS vendor_sku, NULL AS account_ref, SUM(cp.revenue) AS impact
            FROM floor_cp cp
            WHERE cp.customer_id NOT IN (SELECT customer_id FROM customer_invoice
                                         WHERE period = {month} AND status <> 'void')
            GROUP BY cp.customer_id""",
            ),
        ),
        (
            "UNBILLED_ASSETS",
            store(
                "UNBILLED_ASSETS",
                "high",
                f"""
            SELECT d.customer_id, d.service_id, s.vendor_id, NULL AS vendor_invoice_id,
                   NULL AS vendor_invoice_line_id, NULL AS vendor_sku, NULL AS account_ref,
                   {assets} AS impact
            FROM (SELECT customer_id, service_id, COUNT(*) AS n FROM asset
                  WHERE installed_on <= {last}
                    AND (removed_on IS NULL OR removed_on > {last})
                  GROUP BY customer_id, service_id) d
            JOIN service s ON s.id = d.service_id
            LEFT JOIN floor_cp cp
              ON cp.customer_id = d.customer_id AND cp.service_id = d.service_id
            WHERE d.n * {1 if pg else 10000} > COALESCE(cp.units, 0)""",
            ),
        ),
        (
            "summary",
            """
            UPDATE audit SET
                finding_count = (SELECT COUNT(*) FROM finding WHERE audit_id = audit.id),
                total_impact = (SELECT COALESCE(SUM(impact), 0) FROM finding
                                WHERE audit_id = audit.id)
            WHERE id = (SELECT MAX(id) FROM audit)""",
        ),
        (
            "by type",
            """
            SELECT type, COUNT(*), SUM(impact) FROM finding
            WHERE audit_id = (SELECT MAX(id) FROM audit) GROUP BY type""",
        ),
    ]


async def run_audit_floor(
    engine: AsyncEngine, period: Period
) -> tuple[float, dict[str, float], dict[str, tuple[int, Decimal]]]:
    """The audit of the month as hand-written SQL (findings inserted, totals stored),
    rolled back: seconds in all, seconds per statement, and {type: (count, impact)}."""
    statements = _audit_floor_statements(engine.dialect.name, period)
    each: dict[str, float] = {}
    by_type: dict[str, tuple[int, Decimal]] = {}
    cents = engine.dialect.name != "postgresql"
    async with engine.connect() as conn:
        for table in _POSITION_TABLES:  # SQLite commits DDL at once: start clean
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await conn.commit()
        started = time.perf_counter()
        for name, sql in statements:
            began = time.perf_counter()
            result: Any = await conn.execute(text(sql))
            if result.returns_rows:
                for kind, count, impact in result.all():
                    amount = Decimal(impact).scaleb(-2) if cents else Decimal(impact)
                    by_type[kind] = (count, amount)
            each[name] = time.perf_counter() - began
        total = time.perf_counter() - started
        await conn.rollback()
        for table in _POSITION_TABLES:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await conn.commit()
    return total, each, by_type
