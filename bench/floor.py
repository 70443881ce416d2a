"""The floor of a month's audit: the aggregate queries the audit needs, hand-written and
run straight on the database, their rows fetched and nothing else (no findings built
or stored). What the service does above this is its own overhead.

Contract revenue and contracted units are computed in SQL too (docs/month-arithmetic.md),
in-house cost at the standard unit cost of the month's first day (docs/price-book.md): each
line's active window in the month, cut into segments at its adjustments by a window
function, each segment's quantity x days summed, x unit_price / days_in(M), rounded
half-up per line. On SQLite money is stored as integers scaled by 10^4 (quantities,
prices), 10^6 (vendor lines' quantities and unit costs) or 10^2 (amounts), so the same
formula runs in integer arithmetic there. The
vendor side is the month figures of docs/vendor-bills.md in SQL (`_vendor_months`):
matched lines of invoices of any period, units in force on the last day, monthly
amounts, cost spread over charge periods.
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
        revenue = _pg_money("p.unit_days * p.unit_price", str(days))
        in_house = _pg_money("p.unit_days * p.unit_cost", str(days))
        cost_scale = ""
    else:
        greatest, least = "max", "min"
        after_hi = "date(a.hi, '+1 day')"
        span = f"CAST(julianday(COALESCE(s.next_d, {after_hi})) - julianday(s.d) AS INTEGER)"
        # Scaled integers: unit_days x 10^4, price x 10^4 (the standard cost x 10^6);
        # cents, half-up (all >= 0).
        denominator = 2 * 1_000_000 * days
        revenue = f"((2 * p.unit_days * p.unit_price + {denominator // 2}) / {denominator})"
        in_house = f"((2 * p.unit_days * p.unit_cost + {denominator * 50}) / {denominator * 100})"
        cost_scale = " * 100"
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
standard AS (
    SELECT sv.id, sv.vendor_id,
           COALESCE((SELECT pb.unit_cost FROM service_cost pb
                     WHERE pb.service_id = sv.id AND pb.effective_from <= {first}
                     ORDER BY pb.effective_from DESC LIMIT 1),
                    sv.unit_cost{cost_scale}) AS unit_cost
    FROM service sv
),
per_line AS (
    SELECT a.id, a.customer_id, a.service_id, a.unit_price, sv.unit_cost, sv.vendor_id,
           SUM(s.q * {span}) AS unit_days,
           SUM(CASE WHEN s.next_d IS NULL AND a.hi = {last} THEN s.q ELSE 0 END) AS units
    FROM seg s JOIN active a ON a.id = s.line_id JOIN standard sv ON sv.id = a.service_id
    GROUP BY a.id, a.customer_id, a.service_id, a.unit_price, sv.unit_cost, sv.vendor_id
)
SELECT p.customer_id, p.service_id, SUM(p.units) AS units,
       SUM(p.units * p.unit_price) AS price_weight,
       SUM({revenue}) AS revenue,
       SUM(CASE WHEN p.vendor_id IS NULL THEN {in_house} ELSE 0 END) AS in_house_cost
FROM per_line p
GROUP BY p.customer_id, p.service_id
"""


def _standard_cost(dialect: str, day: str = "l.charge_start", service: str = "s") -> str:
    """The standard unit cost of `service` on `day` (docs/price-book.md#standard-unit-cost)
    on the scale of a vendor line's (SQLite: integers x 10^6): the price-book entry with
    the latest effective_from <= day, else the service's unit_cost (SQLite: 10^4 -> 10^6)."""
    catalog = f"{service}.unit_cost" if dialect == "postgresql" else f"{service}.unit_cost * 100"
    return f"""COALESCE((SELECT pb.unit_cost FROM service_cost pb
                  WHERE pb.service_id = {service}.id AND pb.effective_from <= {day}
                  ORDER BY pb.effective_from DESC LIMIT 1), {catalog})"""


def floor_queries(dialect: str, period: Period) -> dict[str, str]:
    month = f"'{period}'"
    last = f"'{period.last_day}'"
    if dialect == "postgresql":
        last = f"DATE {last}"
    before = f"'{period.previous().last_day}'"
    if dialect == "postgresql":
        before = f"DATE {before}"
    return {
        "catalog": "SELECT id, name, sku, unit_price, unit_cost, vendor_id FROM service",
        "vendors": "SELECT id, name FROM vendor",
        "contract positions": _contract_positions(dialect, period),
        "vendor positions": _vendor_months(dialect, period),
        "invoices": f"""
            SELECT id, invoice_number, invoice_date, vendor_id, total
            FROM vendor_invoice WHERE period = {month}""",
        "price rises": f"""
            SELECT r.invoice_id, r.vendor_id, r.service_id, r.unit_cost, r.a, r.b, r.standard,
                   SUM(r.quantity)
            FROM (SELECT l.invoice_id, l.vendor_id, s.id AS service_id, l.unit_cost,
                         l.charge_start AS a, l.charge_end AS b, l.quantity,
                         {_standard_cost(dialect)} AS standard
                  FROM vendor_invoice_line l
                  JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
                  WHERE l.period = {month} AND l.kind = 'recurring' AND l.quantity > 0
                    AND NOT s.metered) r
            WHERE r.unit_cost > r.standard
            GROUP BY r.invoice_id, r.vendor_id, r.service_id, r.unit_cost, r.a, r.b,
                     r.standard""",
        "previous mean cost": f"""
            SELECT s.id, l.charge_start, l.charge_end, SUM(l.quantity), SUM(l.amount)
            FROM vendor_invoice_line l
            JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            WHERE l.kind = 'recurring' AND l.charge_start <= {before}
              AND l.charge_end >= {before}
            GROUP BY s.id, l.charge_start, l.charge_end""",
        "unmapped lines": f"""
            SELECT l.id, l.invoice_id, l.vendor_id, l.vendor_sku, l.account_ref, l.amount,
                   s.id, va.customer_id
            FROM vendor_invoice_line l
            LEFT JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            LEFT JOIN vendor_account va
                   ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
            WHERE l.period = {month} AND l.kind <> 'adjustment'
              AND (s.id IS NULL OR va.customer_id IS NULL)""",
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
# Each rule (docs/findings.md, docs/vendor-bills.md#rules-on-real-bills) as one
# INSERT ... SELECT into `finding`, over two
# temporary tables of positions (contract, vendor per (customer, service) and month), then
# the audit's totals: the work of POST /audits (find, store, summarise) with no Python
# between the statements. It runs in a transaction that is rolled back, so the database is
# left as it was.
#
# The vendor side is the month figures of docs/vendor-bills.md in SQL, over the matched
# lines (never adjustments) of
# invoices of any period: a line's share of a month is worked out from its charge dates
# (days in the month of charge_start and charge_end, month indexes) as an integer over
# days(start month) x days(end month), so that units in force, monthly amounts, the cost
# spread by cumulative rounding, the price rises times share and the identical copies are
# all plain SQL.
#
# PostgreSQL computes in NUMERIC, and every rounding to the cent that a division feeds is
# an exact integer half-up division (DIV). On SQLite the columns are integers scaled by 10^4
# (contract quantities, prices; price weights by 10^8), 10^6 (vendor quantities and unit
# costs; the contract units are brought to it in floor_cp) or 10^2 (amounts), so the
# formulas are integer half-up divisions in cents, split where a product could pass 64
# bits. Two
# figures are not plain decimals: a recurring line's monthly amount when its charge period
# is not the month itself (amount / share: the quotients are summed at 30 decimals and
# rounded to 25 on PostgreSQL; on SQLite their integer parts are exact and the remainders,
# below 1 per distinct share, add up in REAL with a margin of 10^-12), and NEGATIVE_MARGIN's
# per-unit impact on SQLite (REAL, as hand-written SQL would: its products pass 64 bits).
# `run_audit_floor` returns its findings by type so that the benchmark checks the floor and
# the service agree, count and impact, rule by rule.
# The benchmark's data defines no tolerances (docs/tolerances.md): the service shows every
# finding it finds, and the floor stores them all as shown (tolerance_id null).

_POSITION_TABLES = ("floor_cp", "floor_vp")

# A common multiple of every days(month a) x days(month b) (28 to 31 days): a share's
# denominator divides it, so shares of several charge periods add up in integers.
_SHARE_LCM = 2**4 * 3**2 * 5**2 * 7**2 * 29**2 * 31**2
assert all(_SHARE_LCM % (a * b) == 0 for a in range(28, 32) for b in range(28, 32))


def _sqlite_half_up(k: str, w: str, u: str) -> str:
    """SQLite, integers: k x w / (u x 10^6) rounded half-up (k >= 0, u > 0), where k x w
    could pass 64 bits. floor(k w / u) = k (w div u) + (k (w mod u)) div u, and adding
    the half after that floor rounds the same as before it (the dropped part is < 1)."""
    whole = f"({k} * ({w} / {u}) + ({k} * ({w} % {u})) / {u})"
    return f"(({whole} + 500000) / 1000000)"


def _half_up(x: str, d: str, pg: bool) -> str:
    """The integer x / d (d > 0) rounded half away from zero, exactly, x of any sign; on
    SQLite x itself must fit 64 bits (2x need not)."""
    if pg:
        return (
            f"(SIGN({x}) * (DIV(ABS({x}), {d})"
            f" + CASE WHEN 2 * MOD(ABS({x}), {d}) >= {d} THEN 1 ELSE 0 END))"
        )
    return (
        f"((CASE WHEN {x} < 0 THEN -1 ELSE 1 END) * (ABS({x}) / {d}"
        f" + CASE WHEN 2 * (ABS({x}) % {d}) >= {d} THEN 1 ELSE 0 END))"
    )


def _pg_money(n: str, d: str) -> str:
    """PostgreSQL: n / d (d > 0) rounded half away from zero to the cent, exactly (DIV
    truncates an exact quotient, whatever the scales of n and d)."""
    return f"ROUND(SIGN({n}) * DIV(200 * ABS({n}) + {d}, 2 * {d}) * 0.01, 2)"


def _day_literal(day: object, pg: bool) -> str:
    return f"DATE '{day}'" if pg else f"'{day}'"


def _date_parts(d: str, pg: bool) -> tuple[str, str, str]:
    """(days in d's month, d's day of the month, d's month index year x 12 + month)."""
    if pg:
        days = (
            f"EXTRACT(DAY FROM date_trunc('month', CAST({d} AS TIMESTAMP))"
            " + INTERVAL '1 month' - INTERVAL '1 day')"
        )
        return (
            days,
            f"EXTRACT(DAY FROM {d})",
            f"(EXTRACT(YEAR FROM {d}) * 12 + EXTRACT(MONTH FROM {d}))",
        )
    return (
        f"CAST(strftime('%d', {d}, 'start of month', '+1 month', '-1 day') AS INTEGER)",
        f"CAST(strftime('%d', {d}) AS INTEGER)",
        f"(CAST(strftime('%Y', {d}) AS INTEGER) * 12 + CAST(strftime('%m', {d}) AS INTEGER))",
    )


def _with_share(select: str, pg: bool) -> str:
    """`select` (a query with columns a = charge_start and b = charge_end) with the parts of
    its share: da, ya, ma and db, yb, mb (days in the month, day, month index of a and b)
    and sh = share(a, b) x da x db, an integer (docs/vendor-bills.md#share: the days of
    [a, b] in each month
    touched over that month's days: (da - ya + 1) / da + the whole months between + yb / db,
    which is (yb - ya + 1) / da when a and b are in one month)."""
    da, ya, ma = _date_parts("x.a", pg)
    db, yb, mb = _date_parts("x.b", pg)
    return f"""
        SELECT z.*, (z.da - z.ya + 1) * z.db + (z.mb - z.ma - 1) * z.da * z.db + z.yb * z.da AS sh
        FROM (SELECT x.*, {da} AS da, {ya} AS ya, {ma} AS ma, {db} AS db, {yb} AS yb,
                     {mb} AS mb
              FROM ({select}) x) z"""


_MATCHED = """
        FROM vendor_invoice_line l
        JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
        JOIN vendor_account va ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
"""


def _vendor_months(dialect: str, period: Period) -> str:
    """The month figures (docs/vendor-bills.md#month-figures) per (customer, service)
    for the month, from the matched lines (never an
    adjustment) of invoices of any period touching it: units (recurring lines in force on
    the last day), their monthly amounts (amount / share) as `whole` (lines charging the
    month itself) and `partial` (others; NULL when none), and the month's cost in all and
    of usage and one-time lines (`other_cost`). Money in cents on SQLite."""
    pg = dialect == "postgresql"
    first, last = _day_literal(period.first_day, pg), _day_literal(period.last_day, pg)
    month = period.year * 12 + period.month
    lines = f"""
        SELECT va.customer_id, s.id AS service_id, l.vendor_id, l.kind, l.quantity,
               {"l.amount * 100" if pg else "l.amount"} AS c,
               l.charge_start AS a, l.charge_end AS b
        {_MATCHED}
        WHERE l.kind <> 'adjustment' AND l.charge_start <= {last} AND l.charge_end >= {first}"""
    # The share up to the last day of M (a month end before b): n1 / da; of M - 1: n0 / da.
    n1 = f"((y.da - y.ya + 1) + ({month} - y.ma) * y.da)"
    n0 = f"({n1} - y.da)"
    # Cost in M: R(c x s(M) / S) - R(c x s(M - 1) / S), with s(k) / S = n x db / sh; a line
    # inside one month costs its amount there (it touches M, so there); a one-time fee in
    # the month of its charge_start. |c| < 10^14 cents and n x db <= 61 x 31 x 31: it fits.
    spread = (
        f"CASE WHEN y.b <= {last} THEN y.c ELSE {_half_up(f'y.c * {n1} * y.db', 'y.sh', pg)} END"
        f" - CASE WHEN y.ma < {month} THEN {_half_up(f'y.c * {n0} * y.db', 'y.sh', pg)}"
        " ELSE 0 END"
    )
    cost = (
        f"CASE WHEN y.kind = 'one_time' THEN CASE WHEN y.a >= {first} THEN y.c ELSE 0 END"
        f" WHEN y.ma = y.mb THEN y.c ELSE {spread} END"
    )
    in_force = f"y.kind = 'recurring' AND y.b >= {last}"
    whole_month = f"y.a = {first} AND y.b = {last}"
    # Per line, then per (pair, share): the monthly amount of a line in force whose charge
    # period is not the month itself is c x da db / sh; the numerators of one share add up
    # in integers, and only one division per distinct share remains.
    per_share = f"""
        SELECT y.customer_id, y.service_id, y.sh, y.da * y.db AS dd,
               MIN(y.vendor_id) AS vendor_id,
               SUM(CASE WHEN {in_force} THEN y.quantity ELSE 0 END) AS units,
               SUM(CASE WHEN {in_force} AND {whole_month} THEN y.c ELSE 0 END) AS whole,
               SUM(CASE WHEN {in_force} AND NOT ({whole_month}) THEN y.c * y.da * y.db END)
                   AS pn,
               SUM({cost}) AS cost,
               SUM(CASE WHEN y.kind <> 'recurring' THEN {cost} ELSE 0 END) AS other_cost
        FROM ({_with_share(lines, pg)}) y
        GROUP BY y.customer_id, y.service_id, y.sh, y.da * y.db"""
    if pg:
        # Each quotient at 30 decimals, their sum rounded to 25: exact whenever the true
        # sum has at most 25 decimals (a half cent has 3), and otherwise within 10^-25.
        whole = "0.01 * SUM(g.whole)"
        partial = "0.01 * ROUND(SUM(CAST(g.pn AS NUMERIC(60, 30)) / g.sh), 25)"
        money = "0.01 * "
    else:
        # Cents: the integer quotients join `whole` and the remainders (in [0, 1) per
        # share) add up in REAL as `partial`, NULL when no such line is in force.
        floor_q = "(g.pn / g.sh - CASE WHEN g.pn % g.sh < 0 THEN 1 ELSE 0 END)"
        whole = f"SUM(g.whole) + SUM(CASE WHEN g.pn IS NULL THEN 0 ELSE {floor_q} END)"
        partial = f"SUM((g.pn - {floor_q} * g.sh) * 1.0 / g.sh)"
        money = ""
    return f"""
        SELECT g.customer_id, g.service_id, MIN(g.vendor_id) AS vendor_id,
               SUM(g.units) AS units, {whole} AS whole, {partial} AS partial,
               {money}SUM(g.cost) AS cost, {money}SUM(g.other_cost) AS other_cost
        FROM ({per_share}) g
        GROUP BY g.customer_id, g.service_id"""


def _price_rises(dialect: str, period: Period) -> str:
    """PRICE_INCREASE's rows: recurring lines with quantity > 0 of the month's invoices,
    matched to a per-unit service, above its standard unit_cost; per invoice and service,
    sum of (unit_cost - standard) x quantity x share, rounded half-up to the cent, exact:
    the shares brought to the common denominator _SHARE_LCM."""
    pg = dialect == "postgresql"
    # Each line's standard is the one in effect on its charge_start
    # (docs/price-book.md#price_increase), looked up once per line in the inner select.
    lines = f"""
        SELECT r.invoice_id, r.vendor_id, r.service_id, r.a, r.b,
               SUM((r.unit_cost - r.standard) * r.quantity) AS dq
        FROM (SELECT l.invoice_id, l.vendor_id, s.id AS service_id, l.unit_cost, l.quantity,
                     l.charge_start AS a, l.charge_end AS b,
                     {_standard_cost(dialect)} AS standard
              FROM vendor_invoice_line l
              JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
              WHERE l.period = '{period}' AND l.kind = 'recurring' AND l.quantity > 0
                AND NOT s.metered) r
        WHERE r.unit_cost > r.standard
        GROUP BY r.invoice_id, r.vendor_id, r.service_id, r.a, r.b"""
    head = """
        SELECT NULL AS customer_id, g.service_id, g.vendor_id,
               g.invoice_id AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
               NULL AS vendor_sku, NULL AS account_ref,"""
    if pg:
        lcm = _SHARE_LCM
        return f"""{head}
               {_pg_money(f"SUM(g.dq * g.sh * DIV({lcm}, g.da * g.db))", str(lcm))} AS impact
        FROM ({_with_share(lines, pg)}) g
        GROUP BY g.invoice_id, g.vendor_id, g.service_id"""
    # SQLite: dq is scaled by 10^12 (> 0). Each group's dq x sh / (da db) = q + r / (da db)
    # (dq split by da db first, so that dq x sh is never formed), the remainders brought to
    # _SHARE_LCM; the sum is I + F / LCM with 0 <= F < LCM, and rounded to cents (10^10 of
    # the scale) it is I's own rounding: with I = Q x 10^10 + R, R + F / LCM reaches the
    # half (5 x 10^9) exactly when the integer R does.
    lcm, scale = _SHARE_LCM, 10**10
    whole = "g.da * g.db"
    quotient = (
        f"CASE WHEN g.sh = {whole} THEN g.dq"
        f" ELSE g.dq / ({whole}) * g.sh + g.dq % ({whole}) * g.sh / ({whole}) END"
    )
    remainder = (
        f"CASE WHEN g.sh = {whole} THEN 0"
        f" ELSE g.dq % ({whole}) * g.sh % ({whole}) * ({lcm} / ({whole})) END"
    )
    return f"""{head.replace("g.", "h.")}
               h.i / {scale} + CASE WHEN h.i % {scale} >= {scale // 2} THEN 1 ELSE 0 END
                   AS impact
        FROM (SELECT k.invoice_id, k.vendor_id, k.service_id, k.q + k.r / {lcm} AS i
              FROM (SELECT g.invoice_id, g.vendor_id, g.service_id,
                           SUM({quotient}) AS q, SUM({remainder}) AS r
                    FROM ({_with_share(lines, pg)}) g
                    GROUP BY g.invoice_id, g.vendor_id, g.service_id) k) h"""


def _duplicates(period: Period) -> str:
    """DUPLICATE_CHARGE's rows: matched lines (never adjustments) identical on several
    invoices of a vendor (customer, service, kind, charge period, quantity, amount), one
    of them of the month; per (customer, service), the amounts of the copies on the
    month's invoices other than the earliest invoice carrying the charge (by
    invoice_date, then invoice_number). The lines of any period are reached through the
    month's charges (a hash join on the line's own columns), then matched and grouped."""
    keys = "k.vendor_id, k.customer_id, k.service_id, k.kind, k.a, k.b, k.quantity, k.amount"
    return f"""
        SELECT r.customer_id, r.service_id, MIN(r.vendor_id) AS vendor_id,
               NULL AS vendor_invoice_id, NULL AS vendor_invoice_line_id,
               NULL AS vendor_sku, NULL AS account_ref, SUM(r.amount * r.n) AS impact
        FROM (SELECT c.*,
                     ROW_NUMBER() OVER (PARTITION BY {keys.replace("k.", "c.")}
                                        ORDER BY c.invoice_date, c.invoice_number) AS rank,
                     COUNT(*) OVER (PARTITION BY {keys.replace("k.", "c.")}) AS invoices
              FROM (SELECT {keys}, i.period, i.invoice_date, i.invoice_number,
                           COUNT(*) AS n
                    FROM vendor_invoice_line l
                    CROSS JOIN (SELECT DISTINCT l.vendor_id, va.customer_id,
                                       s.id AS service_id, l.kind, l.charge_start AS a,
                                       l.charge_end AS b, l.quantity, l.amount
                                {_MATCHED}
                                WHERE l.period = '{period}' AND l.kind <> 'adjustment') k
                    JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
                    JOIN vendor_account va
                      ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
                    JOIN vendor_invoice i ON i.id = l.invoice_id
                    WHERE l.vendor_id = k.vendor_id AND l.amount = k.amount
                      AND l.quantity = k.quantity AND l.charge_start = k.a
                      AND l.charge_end = k.b AND l.kind = k.kind
                      AND s.id = k.service_id AND va.customer_id = k.customer_id
                    GROUP BY {keys}, i.id, i.period, i.invoice_date, i.invoice_number) c) r
        WHERE r.invoices > 1 AND r.rank > 1 AND r.period = '{period}'
        GROUP BY r.customer_id, r.service_id"""


def _audit_floor_statements(dialect: str, period: Period) -> list[tuple[str, str]]:
    pg = dialect == "postgresql"
    month, last = f"'{period}'", _day_literal(period.last_day, pg)
    # The vendor's monthly amounts of the lines in force (whole + partial); money in cents
    # on SQLite, where `partial` is REAL.
    monthly = "(vp.whole + COALESCE(vp.partial, 0))"
    # Revenue of a metered pair: the larger of contracted and invoiced
    # (docs/vendor-bills.md#month-figures).
    revenue = f"{'GREATEST' if pg else 'max'}(COALESCE(cp.revenue, 0), COALESCE(ir.revenue, 0))"
    if pg:
        unbilled = _pg_money("(vp.units - cp.units) * cp.price_weight", "cp.units")
        overbilled = _pg_money("(cp.units - COALESCE(vp.units, 0)) * cp.price_weight", "cp.units")
        below = f"cp.price_weight * vp.units < {monthly} * cp.units"
        # (mean - price) x min(cu, vu) = (monthly cu - weight vu) / max(cu, vu).
        negative = _pg_money(
            f"{monthly} * cp.units - cp.price_weight * vp.units", "GREATEST(cp.units, vp.units)"
        )
        orphaned = (
            "ROUND(CASE WHEN vp.units > 0 THEN vp.whole + COALESCE(vp.partial, 0) ELSE 0 END"
            " + vp.other_cost, 2)"
        )
        assets = (
            "CASE WHEN COALESCE(cp.units, 0) > 0 THEN "
            + _pg_money("(d.n - cp.units) * cp.price_weight", "cp.units")
            + " ELSE ROUND(d.n * s.unit_price, 2) END"
        )
    else:
        unbilled = _sqlite_half_up("(vp.units - cp.units)", "cp.price_weight", "cp.units")
        overbilled = _sqlite_half_up(
            "(cp.units - COALESCE(vp.units, 0))", "cp.price_weight", "cp.units"
        )
        below = f"cp.price_weight * 1.0 * vp.units < {monthly} * 1000000.0 * cp.units"
        negative = (
            f"CAST(ROUND(({monthly} * 1.0 * cp.units - cp.price_weight * 1.0 * vp.units"
            " / 1000000.0) / max(cp.units, vp.units)) AS INTEGER)"
        )
        # whole + other_cost are integers, partial the REAL sum of a few remainders in
        # [0, 1): its integer part is taken with a margin of 10^-12, and the rest rounds
        # half away from zero with the same margin, which is below the distance of any
        # sum of two shares' remainders from a half cent that is not on it.
        base = "(CASE WHEN vp.units > 0 THEN vp.whole ELSE 0 END + vp.other_cost)"
        lift = "CAST(vp.partial + 1e-12 AS INTEGER)"
        j, f = f"({base} + {lift})", f"(vp.partial - {lift})"
        orphaned = (
            f"CASE WHEN vp.units > 0 AND vp.partial IS NOT NULL THEN {j} + CASE WHEN {j} >= 0"
            f" THEN CASE WHEN {f} + 1e-12 >= 0.5 THEN 1 ELSE 0 END"
            f" ELSE CASE WHEN {f} > 0.5 + 1e-12 THEN 1 ELSE 0 END END ELSE {base} END"
        )
        assets = (
            "CASE WHEN COALESCE(cp.units, 0) > 0 THEN "
            + _sqlite_half_up("(d.n * 1000000 - cp.units)", "cp.price_weight", "cp.units")
            + " ELSE (2 * d.n * 10000 * s.unit_price + 1000000) / 2000000 END"
        )

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

    # The pairs charged in the month, with their contract position, service and (metered
    # services) invoiced revenue.
    charged = f"""
            FROM floor_vp vp JOIN service s ON s.id = vp.service_id
            LEFT JOIN floor_cp cp
              ON cp.customer_id = vp.customer_id AND cp.service_id = vp.service_id
            LEFT JOIN (SELECT i.customer_id, il.service_id, SUM(il.amount) AS revenue
                       FROM customer_invoice_line il
                       JOIN customer_invoice i ON i.id = il.invoice_id
                       JOIN service ms ON ms.id = il.service_id
                       WHERE i.period = {month} AND i.status <> 'void' AND ms.metered
                       GROUP BY i.customer_id, il.service_id) ir
              ON ir.customer_id = vp.customer_id AND ir.service_id = vp.service_id"""

    def unmapped(missing: str, service: str, customer: str) -> str:
        """Each line of the month (never an adjustment) whose `missing` match is NULL,
        with the other match."""
        return f"""
            SELECT {customer} AS customer_id, {service} AS service_id, l.vendor_id,
                   l.invoice_id AS vendor_invoice_id, l.id AS vendor_invoice_line_id,
                   l.vendor_sku, l.account_ref, l.amount AS impact
            FROM vendor_invoice_line l
            LEFT JOIN service s ON s.vendor_id = l.vendor_id AND s.vendor_sku = l.vendor_sku
            LEFT JOIN vendor_account va
                   ON va.vendor_id = l.vendor_id AND va.account_ref = l.account_ref
            WHERE l.period = {month} AND l.kind <> 'adjustment' AND {missing} IS NULL"""

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
            SELECT p.customer_id, p.service_id, p.units{"" if pg else " * 100 AS units"},
                   p.price_weight, p.revenue
            FROM ({_contract_positions(dialect, period)}) p""",
        ),
        (
            "vendor positions",
            f"CREATE TEMP TABLE floor_vp AS {_vendor_months(dialect, period)}",
        ),
        (
            "index contract positions",
            "CREATE INDEX floor_cp_pair ON floor_cp (customer_id, service_id)",
        ),
        (
            "index vendor positions",
            "CREATE INDEX floor_vp_pair ON floor_vp (customer_id, service_id)",
        ),
        (
            "ORPHANED_COST",
            store(
                "ORPHANED_COST",
                "high",
                pair(
                    f"CASE WHEN s.metered THEN vp.cost ELSE {orphaned} END",
                    f"""{charged}
            WHERE CASE WHEN s.metered THEN vp.cost > 0 AND {revenue} = 0
                       ELSE COALESCE(cp.units, 0) = 0
                            AND (vp.units > 0 OR vp.other_cost <> 0) END""",
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
            JOIN service s ON s.id = vp.service_id
            WHERE vp.units > cp.units AND cp.units > 0 AND NOT s.metered""",
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
            WHERE cp.units > 0 AND cp.units > COALESCE(vp.units, 0) AND NOT s.metered
              AND s.vendor_id IN (SELECT vendor_id FROM vendor_invoice WHERE period = {month}
                                  UNION
                                  SELECT vendor_id FROM vendor_invoice_line
                                  WHERE kind = 'recurring' AND charge_start <= {last}
                                    AND charge_end >= {last})""",
            ),
        ),
        ("PRICE_INCREASE", store("PRICE_INCREASE", "medium", _price_rises(dialect, period))),
        (
            "NEGATIVE_MARGIN",
            store(
                "NEGATIVE_MARGIN",
                "medium",
                pair(
                    f"CASE WHEN s.metered THEN vp.cost - {revenue} ELSE {negative} END",
                    f"""{charged}
            WHERE CASE WHEN s.metered THEN {revenue} > 0 AND vp.cost > {revenue}
                       ELSE cp.units > 0 AND vp.units > 0 AND {below} END""",
                ),
            ),
        ),
        ("UNMAPPED_SKU", store("UNMAPPED_SKU", "low", unmapped("s.id", "NULL", "va.customer_id"))),
        (
            "UNMAPPED_ACCOUNT",
            store("UNMAPPED_ACCOUNT", "low", unmapped("va.customer_id", "s.id", "NULL")),
        ),
        ("DUPLICATE_CHARGE", store("DUPLICATE_CHARGE", "high", _duplicates(period))),
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
            WHERE d.n * {1 if pg else 1000000} > COALESCE(cp.units, 0)""",
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
