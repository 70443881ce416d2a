"""The month arithmetic (docs/month-arithmetic.md) in the database: each active line's
unit-days (sum over its active days d of quantity(d)) and its contracted units, from one
statement instead of thousands of `LineTerms`. Two forms: `month_line_figures` for one
month (audits) and `range_line_figures` for a range of months (reports); the table at
the top of arithmetic.py says which caller uses which.

Both implement the same rules as `arithmetic.py` (the reference, which schedules and
billing runs use), and tests/test_month_sql.py holds each equal to it line by line and
month by month on both databases:

- active window: [max(line start or contract start, contract start, first day),
  min(line end, contract end, last day)], null ends unbounded
  (docs/month-arithmetic.md#active-days);
- quantity(d): the base quantity, replaced from each adjustment's effective date on;
  the latest effective date <= d wins, on one date the last recorded (highest id);
- the window is cut into segments at the adjustments inside it (a window function),
  and unit-days is the sum of quantity x days over the segments;
- contracted units: the quantity of the last segment when the window reaches the
  month's last day, else none.

The figures are exact integers: quantities and prices scaled by 10^4 (they carry at most
4 decimals, docs/README.md#money), as SQLite stores them already and PostgreSQL computes them
from NUMERIC. What needs rounding (revenue and in-house cost, half-up to the cent per
line) is left to `cents()`, in Python's unbounded integers: a product of two scaled
values can pass a 64-bit integer, which SQLite would turn into a float.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.money import from_scaled as _from_scaled
from app.core.money import half_up_int
from app.core.money import to_scaled as _to_scaled
from app.core.periods import Period

DECIMALS = 4  # quantities and prices carry at most 4 decimals (docs/README.md#money)
SCALE = 10**DECIMALS


def to_scaled(value: Decimal, places: int = DECIMALS) -> int:
    """A stored quantity, unit price or unit cost x 10^4, as the statements below count
    them (or x 10^places: a price-book unit cost has 6). Stored values carry at most that
    many decimals; anything else is refused, not rounded."""
    whole = _to_scaled(value, places)
    if whole is None:
        raise ValueError(f"{value} has more than {places} decimals")
    return whole


def from_scaled(value: int) -> Decimal:
    """The Decimal of a quantity or price counted x 10^4."""
    return _from_scaled(value, DECIMALS)


class LineMonthFigures(NamedTuple):
    """One contract line active in the month. `quantity_days` is the sum over its active
    days of quantity(d) x 10^4; `units` its contracted units x 10^4, None when it is not
    active on the month's last day; `unit_price` x 10^4. (A tuple: an audit builds
    20,000 of them.)"""

    line_id: int
    customer_id: int
    service_id: int
    unit_price: int
    quantity_days: int
    units: int | None


def cents(quantity_days: int, rate: int, days: int, rate_places: int = DECIMALS) -> int:
    """Sum over active days of quantity(d) x rate / days_in(M), rounded half-up to the
    cent, as integer cents; `quantity_days` scaled by 10^4 and `rate` by 10^rate_places
    (docs/month-arithmetic.md#revenue)."""
    if quantity_days == 0:
        return 0
    # (quantity_days / 10^4) x (rate / 10^rate_places) / days x 100 cents
    return half_up_int(quantity_days * rate, 10 ** (DECIMALS + rate_places - 2) * days)


@dataclass(frozen=True)
class _Dialect:
    """The SQL that differs between the two databases, for the statements below."""

    greatest: str
    least: str
    scaled: Callable[[str], str]  # a quantity or price column x 10^4, as an integer
    month_index: Callable[[str], str]  # months since the range's first (:base)
    day_before: Callable[[str], str]
    month_start: Callable[[str], str]
    month_end: Callable[[str], str]
    days_from: Callable[[str, str], str]  # days of [first, last], both included


_POSTGRESQL = _Dialect(
    greatest="GREATEST",
    least="LEAST",
    scaled=lambda expr: f"CAST({expr} * {SCALE} AS BIGINT)",
    month_index=lambda day: (
        f"(CAST(EXTRACT(YEAR FROM {day}) AS INTEGER) * 12"
        f" + CAST(EXTRACT(MONTH FROM {day}) AS INTEGER) - :base)"
    ),
    day_before=lambda day: f"({day} - 1)",
    month_start=lambda day: f"CAST(date_trunc('month', {day}) AS DATE)",
    month_end=lambda day: f"(CAST(date_trunc('month', {day}) + INTERVAL '1 month' AS DATE) - 1)",
    days_from=lambda first, last: f"({last} - {first} + 1)",
)
# SQLite: dates are ISO text; money columns are integers scaled by 10^4 already.
_SQLITE = _Dialect(
    greatest="max",
    least="min",
    scaled=lambda expr: expr,
    month_index=lambda day: (
        f"(CAST(substr({day}, 1, 4) AS INTEGER) * 12"
        f" + CAST(substr({day}, 6, 2) AS INTEGER) - :base)"
    ),
    day_before=lambda day: f"date({day}, '-1 day')",
    month_start=lambda day: f"date({day}, 'start of month')",
    month_end=lambda day: f"date({day}, 'start of month', '+1 month', '-1 day')",
    days_from=lambda first, last: f"(CAST(julianday({last}) - julianday({first}) AS INTEGER) + 1)",
)


def _dialect(name: str) -> _Dialect:
    return _POSTGRESQL if name == "postgresql" else _SQLITE


def _window_ctes(greatest: str, least: str, filters: str) -> str:
    """The CTEs both statements start from (docs/month-arithmetic.md#adjustments): `active`, each
    line's active window [lo, hi] clipped to [:first, :last] (null ends unbounded), and `points`,
    where its quantity is set: the window's first day, at the quantity in force then (the latest
    adjustment dated on or before it, the last recorded on one date, else the line's own), and each
    adjustment inside the window (`ord` = recording order)."""
    return f"""
WITH active AS (
    SELECT cl.id, cl.contract_id, cl.service_id, c.customer_id, cl.quantity, cl.unit_price,
           {greatest}(COALESCE(cl.start_date, c.start_date), c.start_date, :first) AS lo,
           {least}(COALESCE(cl.end_date, :last), COALESCE(c.end_date, :last), :last) AS hi
    FROM contract_line cl JOIN contract c ON c.id = cl.contract_id
    WHERE c.start_date <= :last AND (cl.start_date IS NULL OR cl.start_date <= :last)
      AND (c.end_date IS NULL OR c.end_date >= :first)
      AND (cl.end_date IS NULL OR cl.end_date >= :first)
      {filters}
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
),"""


def _statement(dialect: str, customer_filter: bool, service_filter: bool = False) -> str:
    sql = _dialect(dialect)
    greatest, least, scaled = sql.greatest, sql.least, sql.scaled
    # Days of a segment: from its first day to the day before the next, or to hi.
    span = sql.days_from("s.d", f"COALESCE({sql.day_before('s.next_d')}, a.hi)")
    customers = "AND c.customer_id IN :customer_ids" if customer_filter else ""
    services = "AND cl.service_id IN :service_ids" if service_filter else ""
    return f"""{_window_ctes(greatest, least, f"{customers} {services}")}
segments AS (
    SELECT line_id, q, d, LEAD(d) OVER (PARTITION BY line_id ORDER BY d, ord) AS next_d
    FROM points
)
SELECT a.id, a.customer_id, a.service_id, {scaled("a.unit_price")},
       CAST(SUM({scaled("s.q")} * {span}) AS BIGINT),
       MAX(CASE WHEN s.next_d IS NULL AND a.hi = :last THEN {scaled("s.q")} END)
FROM segments s JOIN active a ON a.id = s.line_id
GROUP BY a.id, a.customer_id, a.service_id, a.unit_price
ORDER BY a.id
"""


async def month_line_figures(
    session: AsyncSession,
    period: Period,
    *,
    customer_ids: Collection[int] | None = None,
    service_ids: Collection[int] | None = None,
) -> list[LineMonthFigures]:
    """Every contract line active on some day of the month, in line id order, with its
    unit-days and contracted units (docs/month-arithmetic.md#contracted-units);
    `customer_ids` narrows to those customers' contracts, `service_ids` to lines of those
    services."""
    if any(ids is not None and not ids for ids in (customer_ids, service_ids)):
        return []
    dialect = session.get_bind().dialect.name
    statement = text(
        _statement(dialect, customer_ids is not None, service_ids is not None)
    ).bindparams(
        bindparam("first", period.first_day, type_=Date),
        bindparam("last", period.last_day, type_=Date),
    )
    if customer_ids is not None:
        statement = statement.bindparams(
            bindparam("customer_ids", sorted(customer_ids), expanding=True)
        )
    if service_ids is not None:
        statement = statement.bindparams(
            bindparam("service_ids", sorted(service_ids), expanding=True)
        )
    # Every column is an integer on both databases (the sum cast back from PostgreSQL's
    # NUMERIC: at most 31 x 10^16 for a line, within the bounds of docs/README.md#money).
    rows: Any = (await session.execute(statement)).all()
    return [LineMonthFigures._make(row) for row in rows]


# --- a range of months in one statement ------------------------------------------------------
# Reports walk every line over up to 36 months. Most line-months are whole months at one quantity,
# whose prorated amount does not depend on the month's length (docs/month-arithmetic.md#revenue: q x
# rate x days_in(M) / days_in(M) = q x rate). So the statement below does not return one row per
# line and month: it returns, per segment of a line's active window (cut at its adjustments as
# above), a run of the whole months it covers and at most two partial months (where it starts or
# ends inside a month). `LineRange.monthly` expands them to the per-month figures, which a test
# holds equal to the arithmetic module.


@dataclass(frozen=True, slots=True)
class LineRange:
    """One contract line active on some day of a range of months (months numbered from 0
    for the range's first). `runs` are (first, last, quantity x 10^4): every day of the
    months first..last is active at that quantity, so each of those months' unit-days is
    quantity x days_in(M) and its contracted units the quantity. `partial` maps each other
    month with active days to [unit-days x 10^4, contracted units x 10^4 or None when the
    line is not active on the month's last day]. `unit_price` x 10^4."""

    line_id: int
    customer_id: int
    contract_id: int
    service_id: int
    unit_price: int
    runs: list[tuple[int, int, int]]
    partial: dict[int, list[int | None]]

    def monthly(self, days: Sequence[int]) -> list[tuple[int, int | None] | None]:
        """Per month of the range (`days` = days_in(M) of each): (unit-days x 10^4,
        contracted units x 10^4 or None), or None when the line has no active day in it
        (docs/month-arithmetic.md)."""
        out: list[tuple[int, int | None] | None] = [None] * len(days)
        for first, last, quantity in self.runs:
            for index in range(first, last + 1):
                out[index] = (quantity * days[index], quantity)
        for index, (quantity_days, units) in self.partial.items():
            assert quantity_days is not None
            out[index] = (quantity_days, units)
        return out


def whole_month_cents(quantity: int, rate: int, rate_places: int = DECIMALS) -> int:
    """The revenue rule for a month every day of which is active at one quantity: sum over
    its days of quantity x rate / days_in(M) = quantity x rate, rounded half-up to the
    cent; `quantity` scaled by 10^4 and `rate` by 10^rate_places. Equal to cents(quantity
    x days, rate, days) for any days: the same rational number, so the same rounding."""
    if quantity == 0:
        return 0
    return half_up_int(quantity * rate, 10 ** (DECIMALS + rate_places - 2))


def _range_statement(dialect: str, service_filter: bool, customer_filter: bool) -> str:
    sql = _dialect(dialect)
    greatest, least, scaled = sql.greatest, sql.least, sql.scaled
    month_index, day_before, days_from = sql.month_index, sql.day_before, sql.days_from
    month_start, month_end = sql.month_start, sql.month_end

    services = "AND cl.service_id IN :service_ids" if service_filter else ""
    customers = "AND c.customer_id IN :customer_ids" if customer_filter else ""
    # Per segment [d, e] at quantity q (docs/month-arithmetic.md#revenue): the whole months it
    # covers are the run from d's month (d's month included when d is its first day) to e's month
    # (included when e is its last day); a head piece [d, min(e, end of d's month)] when d is not a
    # first day; a tail piece [start of e's month, e] (or [d, e] within one month) when e is not a
    # last day and the head did not already take those days.
    return f"""{_window_ctes(greatest, least, f"{services} {customers}")}
cuts AS (
    SELECT line_id, q, d, LEAD(d) OVER (PARTITION BY line_id ORDER BY d, ord) AS next_d
    FROM points
),
segments AS (
    SELECT s.line_id, a.customer_id, a.contract_id, a.service_id,
           {scaled("a.unit_price")} AS unit_price, {scaled("s.q")} AS q, s.d,
           COALESCE({day_before("s.next_d")}, a.hi) AS e
    FROM cuts s JOIN active a ON a.id = s.line_id
    WHERE s.next_d IS NULL OR s.next_d > s.d
),
bounds AS (
    SELECT line_id, customer_id, contract_id, service_id, unit_price, q, d, e,
           {month_index("d")} AS d_index, {month_index("e")} AS e_index,
           CASE WHEN d = {month_start("d")} THEN 1 ELSE 0 END AS d_first,
           CASE WHEN e = {month_end("e")} THEN 1 ELSE 0 END AS e_last,
           {month_end("d")} AS d_month_end, {month_start("e")} AS e_month_start
    FROM segments
),
pieces AS (
    SELECT line_id, customer_id, contract_id, service_id, unit_price,
           d_index + 1 - d_first AS first_index, e_index - 1 + e_last AS last_index,
           q, NULL AS quantity_days, 1 AS at_end
    FROM bounds WHERE d_index + 1 - d_first <= e_index - 1 + e_last
    UNION ALL
    SELECT line_id, customer_id, contract_id, service_id, unit_price, d_index, d_index, q,
           q * {days_from("d", f"{least}(e, d_month_end)")},
           CASE WHEN e >= d_month_end THEN 1 ELSE 0 END
    FROM bounds WHERE d_first = 0
    UNION ALL
    SELECT line_id, customer_id, contract_id, service_id, unit_price, e_index, e_index, q,
           q * {days_from(f"{greatest}(d, e_month_start)", "e")}, 0
    FROM bounds WHERE e_last = 0 AND (e_index > d_index OR d_first = 1)
)
SELECT line_id, customer_id, contract_id, service_id, unit_price,
       first_index, last_index, q, quantity_days, at_end
FROM pieces
ORDER BY line_id, first_index
"""


async def range_line_figures(
    session: AsyncSession,
    first: Period,
    last: Period,
    *,
    service_ids: Collection[int] | None = None,
    customer_ids: Collection[int] | None = None,
) -> list[LineRange]:
    """Every contract line active on some day of the months first..last, in line id
    order, with its whole-month runs and partial months (docs/month-arithmetic.md; see
    `LineRange`). `service_ids` and `customer_ids` narrow to those services and those
    customers' contracts. One statement."""
    if any(ids is not None and not ids for ids in (service_ids, customer_ids)):
        return []
    dialect = session.get_bind().dialect.name
    statement = text(
        _range_statement(dialect, service_ids is not None, customer_ids is not None)
    ).bindparams(
        bindparam("first", first.first_day, type_=Date),
        bindparam("last", last.last_day, type_=Date),
        bindparam("base", first.year * 12 + first.month),
    )
    if service_ids is not None:
        statement = statement.bindparams(
            bindparam("service_ids", sorted(service_ids), expanding=True)
        )
    if customer_ids is not None:
        statement = statement.bindparams(
            bindparam("customer_ids", sorted(customer_ids), expanding=True)
        )
    result: Any = await session.execute(statement)
    lines: list[LineRange] = []
    current: LineRange | None = None
    for (
        line_id,
        customer_id,
        contract_id,
        service_id,
        unit_price,
        first_index,
        last_index,
        quantity,
        quantity_days,
        at_end,
    ) in result.all():
        if current is None or current.line_id != line_id:
            current = LineRange(
                line_id, customer_id, contract_id, service_id, int(unit_price), [], {}
            )
            lines.append(current)
        if quantity_days is None:
            current.runs.append((first_index, last_index, int(quantity)))
            continue
        # Several segments can share a partial month (an adjustment inside it): their
        # unit-days add up, and the one reaching the month's last day gives the units.
        held = current.partial.get(first_index)
        units = int(quantity) if at_end else None
        if held is None:
            current.partial[first_index] = [int(quantity_days), units]
        else:
            held[0] = int(held[0] or 0) + int(quantity_days)
            if units is not None:
                held[1] = units
    return lines
