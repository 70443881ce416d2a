"""Profitability, trends and monthly targets (SPEC sections 5 and 6): revenue from the
month arithmetic in its database form (month_sql, held equal to the arithmetic module by
tests) or from the customer invoices, vendor cost through the shared matching query,
aggregated in the database and walked once in Python.

Every figure is carried as integer cents while it is summed, and becomes a Decimal only
in the answer: never a float.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate
from operator import itemgetter
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import CustomerInvoice, CustomerInvoiceLine, InvoiceStatus
from app.contracts import arithmetic, month_sql
from app.contracts.models import Contract, ContractLine
from app.core.db import utcnow
from app.core.errors import Invalid, NotFound, field_error
from app.core.money import AMOUNT_PLACES, exact_sum, from_cents, margin, round_half_up
from app.core.pagination import Page, PageParams, decode_cursor, encode_cursor
from app.core.periods import Period, parse_period_param, period_range_params
from app.reports.models import (
    Basis,
    Figures,
    Gap,
    GroupKey,
    Metric,
    ProfitabilityReport,
    ProfitabilityRow,
    Target,
    TargetAttainment,
    TargetPut,
    TargetRead,
    TrendGroup,
    TrendSeries,
    TrendsReport,
)
from app.services.models import Service
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import VendorInvoiceLine

# A report covers at most three years: enough for year-over-year trends, bounded work.
MAX_REPORT_MONTHS = 36
MAX_GROUP_KEYS = 2

# The full key of a cell, in this order; a report keeps the parts it groups by.
FULL_KEY = ("customer", "contract", "service", "vendor", "month")
_KEY_FIELDS = {
    "customer": "customer_id",
    "contract": "contract_id",
    "service": "service_id",
    "vendor": "vendor_id",
}


# --- parameters ------------------------------------------------------------------------------


def report_range(from_text: str, to_text: str) -> tuple[Period, Period]:
    """The inclusive `from`/`to` periods of a report, at most MAX_REPORT_MONTHS."""
    return period_range_params(from_text, to_text, max_months=MAX_REPORT_MONTHS)


def parse_group_by(text: str | None) -> list[GroupKey]:
    """`group_by`: one or two of customer, contract, service, vendor, month,
    comma-separated (SPEC section 6); customer when not given."""
    if text is None:
        return [GroupKey.customer]
    names = [part.strip() for part in text.split(",")]
    allowed = ", ".join(key.value for key in GroupKey)
    problems = []
    keys: list[GroupKey] = []
    for name in names:
        if name not in GroupKey.__members__:
            problems.append(f"'{name}' is not one of {allowed}")
        elif GroupKey(name) in keys:
            problems.append(f"'{name}' is named twice")
        else:
            keys.append(GroupKey(name))
    if not problems and not 1 <= len(names) <= MAX_GROUP_KEYS:
        problems.append(f"name one or two of {allowed}, comma-separated")
    if problems:
        message = "; ".join(problems)
        raise Invalid(
            f"group_by is not valid: {message}.",
            errors=[field_error("query.group_by", message, "group_by")],
        )
    return keys


# --- gathering -------------------------------------------------------------------------------


Cells = dict[Any, list[int]]  # projected key -> [revenue cents, cost cents]


@dataclass
class _Projection:
    """Cells summed by some of the full key's parts; `cost=False` for one that only needs
    revenue (the per-customer revenue behind the gaps of a trend)."""

    dims: tuple[str, ...]
    cost: bool = True
    cells: Cells = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def __post_init__(self) -> None:
        # itemgetter of one index gives the bare value: fine as a dict key too.
        self.key: Callable[[tuple[Any, ...]], Any] = itemgetter(
            *(FULL_KEY.index(d) for d in self.dims)
        )
        # With a month in the key, a run of months at one amount (a line's whole months,
        # SPEC section 5) is added as a difference: +amount at its first month and
        # -amount after its last, under the key's other parts, and summed month by month
        # into the cells once at the end (`flush_runs`), not month by month per line.
        self.monthly = "month" in self.dims
        others = [FULL_KEY.index(d) for d in self.dims if d != "month"]
        self.month_first = self.dims[0] == "month"
        self.month_alone = not others
        self.base: Callable[[tuple[Any, ...]], Any] = (
            itemgetter(*others) if others else (lambda full: None)
        )
        self.runs: dict[Any, list[list[int]]] = {}
        self.month_count = 0  # months of the range, set by the gathering

    def add_run(self, part: tuple[Any, ...], slot: int, first: int, last: int, cents: int) -> None:
        base = self.base(part)
        diffs = self.runs.get(base)
        if diffs is None:
            size = self.month_count + 1
            diffs = self.runs[base] = [[0] * size, [0] * size]
        row = diffs[slot]
        row[first] += cents
        row[last + 1] -= cents

    def flush_runs(self) -> None:
        cells = self.cells
        for base, (revenue, cost) in self.runs.items():
            for index, (r, c) in enumerate(zip(accumulate(revenue), accumulate(cost), strict=True)):
                if r == 0 and c == 0:
                    continue
                if self.month_alone:
                    key: Any = index
                elif self.month_first:
                    key = (index, base)
                else:
                    key = (base, index)
                cell = cells[key]
                cell[0] += r
                cell[1] += c
        self.runs = {}


@dataclass
class _Gathered:
    months: arithmetic.MonthRange
    projections: list[_Projection]
    unallocated: int = 0


async def _services(session: AsyncSession) -> dict[int, tuple[int | None, Decimal]]:
    rows: Any = await session.execute(
        select(col(Service.id), col(Service.vendor_id), col(Service.unit_cost))
    )
    return {sid: (vendor_id, unit_cost) for sid, vendor_id, unit_cost in rows.all()}


def _sum_cents(session: AsyncSession, amount: Any) -> Any:
    """SUM of an amount column as exact integer cents (money.exact_sum)."""
    return exact_sum(amount, session.get_bind().dialect.name, AMOUNT_PLACES)


def split_cents(total: int, weights: Sequence[tuple[int, Decimal]]) -> dict[int, int]:
    """Split `total` cents over ids in proportion to their weights (> 0), by largest
    remainder: each gets the floor of its exact share, and the cents left over go one each
    to the largest remainders, ties to the lowest id (SPEC section 6, the contract split).
    A negative total (credits) is split as its absolute value, then negated."""
    sign = -1 if total < 0 else 1
    whole = abs(total)
    # Exact shares whole x w / sum(w) over one common denominator: integers when the
    # weights have at most 4 decimals, Fractions otherwise.
    scaled = [arithmetic.scaled(w) for _, w in weights]
    numbers: list[Any] = scaled if None not in scaled else [Fraction(w) for _, w in weights]
    weight_sum = sum(numbers)
    shares: dict[int, int] = {}
    remainders: list[tuple[Any, int]] = []
    for (ident, _), number in zip(weights, numbers, strict=True):
        floor, rest = divmod(whole * number, weight_sum)
        shares[ident] = int(floor)
        remainders.append((rest, ident))
    left = whole - sum(shares.values())
    for _, ident in sorted(remainders, key=lambda r: (-r[0], r[1]))[:left]:
        shares[ident] += 1
    return {ident: sign * cents for ident, cents in shares.items()}


async def _gather(
    session: AsyncSession,
    *,
    first: Period,
    last: Period,
    basis: Basis,
    projections: list[_Projection],
) -> _Gathered:
    """Revenue and cost of every (customer, contract, service, vendor, month) of the range,
    summed straight into each projection's cells (SPEC sections 5 and 6).

    Queries: the catalog, the contract lines' whole-month runs and partial months (one
    statement, month_sql.range_line_figures; each line-month rounded here, in Python
    integers, as SPEC section 5 requires), the matched and the unallocated vendor cost in
    one query grouped by as much of (customer, service, period) as the report needs and,
    on the invoiced basis, the invoice lines grouped likewise: however many lines,
    customers or months."""
    months = arithmetic.MonthRange.of(first, last)
    gathered = _Gathered(months=months, projections=projections)
    index_of = {str(p): i for i, p in enumerate(months.periods)}
    by_contract = any("contract" in p.dims for p in projections)
    contracted = basis is Basis.contracted
    services = await _services(session)

    def add(full: tuple[Any, ...], slot: int, cents: int, month_only: bool | None = None) -> None:
        # month_only: True adds to the projections keyed by month only, False to the
        # others only, None to all.
        for projection in projections:
            if month_only is not None and projection.monthly is not month_only:
                continue
            if slot == 0 or projection.cost:
                projection.cells[projection.key(full)][slot] += cents

    # Contract lines: revenue (contracted basis), in-house cost, and the contracted units
    # that split vendor cost over contracts. On the invoiced basis without the contract
    # split only in-house lines matter.
    service_filter = None
    if not contracted and not by_contract:
        service_filter = [sid for sid, (vendor_id, _) in services.items() if vendor_id is None]
    lines = await month_sql.range_line_figures(session, first, last, service_ids=service_filter)
    days = months.days
    count = len(days)
    for projection in projections:
        projection.month_count = count
    monthly = [p for p in projections if p.monthly]
    costly = [p for p in monthly if p.cost]
    unit_costs = {sid: month_sql.to_scaled(cost) for sid, (_, cost) in services.items()}
    # (customer, service, month) -> [(line_id, contract_id, units)] of vendor services
    units_of: dict[tuple[int, int, int], list[tuple[int, int, Decimal]]] = defaultdict(list)
    for line in lines:
        vendor_id = services[line.service_id][0]
        in_house = vendor_id is None
        part = (line.customer_id, line.contract_id, line.service_id, vendor_id)
        # (slot, rate): revenue at the line's unit price, in-house cost at the service's
        # unit cost (SPEC section 5), both x 10^4.
        rates: list[tuple[int, int]] = [(0, line.unit_price)] if contracted else []
        if in_house:
            rates.append((1, unit_costs[line.service_id]))
        for slot, rate in rates:
            total = 0
            for first_index, last_index, quantity in line.runs:
                # SPEC section 5: a whole month at one quantity, rounded once per month.
                cents = month_sql.whole_month_cents(quantity, rate)
                if cents == 0:
                    continue
                total += cents * (last_index - first_index + 1)
                for projection in costly if slot else monthly:
                    projection.add_run(part, slot, first_index, last_index, cents)
            for index, (quantity_days, _) in line.partial.items():
                # SPEC section 5: the partial month's unit-days, rounded once.
                cents = month_sql.cents(quantity_days or 0, rate, days[index])
                if cents == 0:
                    continue
                total += cents
                if monthly:
                    add((*part, index), slot, cents, month_only=True)
            if total and len(monthly) < len(projections):
                add((*part, None), slot, total, month_only=False)
        if by_contract and not in_house:
            for first_index, last_index, quantity in line.runs:
                if quantity > 0:
                    units = month_sql.from_scaled(quantity)
                    for index in range(first_index, last_index + 1):
                        units_of[(line.customer_id, line.service_id, index)].append(
                            (line.line_id, line.contract_id, units)
                        )
            for index, (_, held_units) in line.partial.items():
                if held_units is not None and held_units > 0:
                    units_of[(line.customer_id, line.service_id, index)].append(
                        (line.line_id, line.contract_id, month_sql.from_scaled(held_units))
                    )
    for projection in monthly:
        projection.flush_runs()

    await _vendor_cost(
        session, gathered, first, last, services, index_of, units_of, by_contract, add
    )
    if not contracted:
        await _invoiced_revenue(session, first, last, by_contract, services, index_of, add)
    return gathered


async def _vendor_cost(
    session: AsyncSession,
    gathered: _Gathered,
    first: Period,
    last: Period,
    services: dict[int, tuple[int | None, Decimal]],
    index_of: dict[str, int],
    units_of: dict[tuple[int, int, int], list[tuple[int, int, Decimal]]],
    by_contract: bool,
    add: Callable[[tuple[Any, ...], int, int], None],
) -> None:
    """SPEC section 5: the cost of (customer, service, M) for a vendor service is the sum
    of the amounts of the vendor lines of period M matched to them. Summed in the database
    by the parts of (customer, service, period) some key needs (all three for the contract
    split); what no match took is the unallocated cost."""
    line_t = VendorInvoiceLine
    in_range = [col(line_t.period) >= str(first), col(line_t.period) <= str(last)]
    needed = {d for p in gathered.projections if p.cost for d in p.dims}
    if by_contract:
        needed |= {"customer", "service", "month"}
    columns: dict[str, Any] = {}
    if "customer" in needed:
        columns["customer"] = matched_customer_id
    if "service" in needed:
        columns["service"] = matched_service_id
    elif "vendor" in needed:
        # Matched by (vendor_id, vendor_sku): the service's vendor is the line's.
        columns["vendor"] = col(line_t.vendor_id)
    if "month" in needed:
        columns["month"] = col(line_t.period)
    # One scan for both: the lines no (customer, service) match took are summed under
    # unmatched = 1 (the unallocated cost), the others by the key's columns.
    unmatched = case((or_(matched_customer_id.is_(None), matched_service_id.is_(None)), 1), else_=0)
    rows: Any = await session.execute(
        join_matches(
            select(unmatched, *columns.values(), _sum_cents(session, col(line_t.amount)))
            .select_from(line_t)
            .where(*in_range)
            .group_by(unmatched, *columns.values())
        )
    )
    matched_rows = []
    for row in rows.all():
        if row[0]:
            gathered.unallocated += row[-1]
        else:
            matched_rows.append(row[1:])
    if not columns:
        return
    names = list(columns)
    at = {name: names.index(name) if name in columns else None for name in FULL_KEY}
    customer_at, service_at, vendor_at, month_at = (
        at["customer"],
        at["service"],
        at["vendor"],
        at["month"],
    )
    for row in matched_rows:
        cents = row[-1]
        customer: Any = None if customer_at is None else row[customer_at]
        service: Any = None if service_at is None else row[service_at]
        if service is not None:
            vendor_id = services[service][0]
        else:
            vendor_id = None if vendor_at is None else row[vendor_at]
        index = None if month_at is None else index_of[row[month_at]]
        holders = None
        if by_contract and index is not None:  # the split always has the month
            holders = units_of.get((customer, service, index))
        if not holders:
            add((customer, None, service, vendor_id, index), 1, cents)
            continue
        shares = split_cents(cents, [(line_id, units) for line_id, _, units in holders])
        for line_id, contract, _ in holders:
            if shares[line_id]:
                add((customer, contract, service, vendor_id, index), 1, shares[line_id])


async def _invoiced_revenue(
    session: AsyncSession,
    first: Period,
    last: Period,
    by_contract: bool,
    services: dict[int, tuple[int | None, Decimal]],
    index_of: dict[str, int],
    add: Callable[[tuple[Any, ...], int, int], None],
) -> None:
    """The invoiced basis: the non-void customer invoice lines of each period, grouped by
    (customer, period, service) and, for the contract split, the contract of the line a
    billing run billed (null on recorded invoices)."""
    invoice, invoice_line = CustomerInvoice, CustomerInvoiceLine
    contract_column: Any = col(ContractLine.contract_id) if by_contract else None
    columns: list[Any] = [
        col(invoice.customer_id),
        col(invoice.period),
        col(invoice_line.service_id),
        _sum_cents(session, col(invoice_line.amount)),
    ]
    group: list[Any] = [col(invoice.customer_id), col(invoice.period), col(invoice_line.service_id)]
    stmt = select(*columns).join(invoice, col(invoice.id) == col(invoice_line.invoice_id))
    if by_contract:
        stmt = stmt.add_columns(contract_column).outerjoin(
            ContractLine, col(ContractLine.id) == col(invoice_line.contract_line_id)
        )
        group.append(contract_column)
    rows: Any = await session.execute(
        stmt.where(
            col(invoice.status) != InvoiceStatus.void.value,
            col(invoice.period) >= str(first),
            col(invoice.period) <= str(last),
        ).group_by(*group)
    )
    for row in rows.all():
        customer, period, service, amount = row[:4]
        contract = row[4] if by_contract else None
        vendor_id = services[service][0] if service is not None else None
        add((customer, contract, service, vendor_id, index_of[period]), 0, amount or 0)


# --- figures ---------------------------------------------------------------------------------


def _figures(revenue_cents: int, cost_cents: int) -> dict[str, Any]:
    profit = revenue_cents - cost_cents
    return {
        "revenue": from_cents(revenue_cents),
        "cost": from_cents(cost_cents),
        "profit": from_cents(profit),
        "margin": margin(revenue_cents, profit),
    }


def _sort_key(key: Iterable[Any]) -> tuple[tuple[bool, Any], ...]:
    # Nulls (in-house, unsplit cost, lines without a service) after the ids.
    return tuple((value is None, 0 if value is None else value) for value in key)


def _sorted_cells(cells: Cells, width: int) -> list[tuple[Any, list[int]]]:
    """The cells in key order, nulls after the ids (as `_sort_key`); keys without a null
    sort as they are, which is quicker for tens of thousands of cells."""
    if width > 1:
        plain = all(None not in key for key in cells)
    else:
        plain = None not in cells
    if plain:
        return sorted(cells.items(), key=itemgetter(0))
    return sorted(cells.items(), key=lambda item: _sort_key(item[0] if width > 1 else (item[0],)))


# --- profitability ---------------------------------------------------------------------------


async def profitability(
    session: AsyncSession,
    *,
    first: Period,
    last: Period,
    group_by: list[GroupKey],
    basis: Basis = Basis.contracted,
) -> ProfitabilityReport:
    """Revenue, cost, profit and margin per group (SPEC section 6), rows whose revenue and
    cost are both 0 left out, totals over all rows and the unallocated vendor cost."""
    dims = tuple(key.value for key in group_by)
    projection = _Projection(dims)
    gathered = await _gather(session, first=first, last=last, basis=basis, projections=[projection])
    months = [str(period) for period in gathered.months.periods]
    rows = []
    total_revenue = total_cost = 0
    fields = [None if dim == "month" else _KEY_FIELDS[dim] for dim in dims]
    for key, (revenue, cost) in _sorted_cells(projection.cells, len(dims)):
        if revenue == 0 and cost == 0:
            continue
        values = key if len(dims) > 1 else (key,)
        keys: dict[str, Any] = {}
        for name, value in zip(fields, values, strict=True):
            if name is None:
                keys["month"] = months[value]
            else:
                keys[name] = value
        rows.append(ProfitabilityRow(**keys, **_figures(revenue, cost)))
        total_revenue += revenue
        total_cost += cost
    return ProfitabilityReport(
        from_=first,
        to=last,
        basis=basis,
        group_by=list(group_by),
        rows=rows,
        totals=Figures(**_figures(total_revenue, total_cost)),
        unallocated_cost=from_cents(gathered.unallocated),
    )


# --- trends ----------------------------------------------------------------------------------


def _metric_value(metric: Metric, revenue: int, cost: int) -> Decimal | None:
    if metric is Metric.revenue:
        return from_cents(revenue)
    if metric is Metric.cost:
        return from_cents(cost)
    if metric is Metric.profit:
        return from_cents(revenue - cost)
    return margin(revenue, revenue - cost)


def _changes(values: list[Decimal | None]) -> list[Decimal | None]:
    """Month-over-month: value - the previous month's; null for the first month and where
    either value is null."""
    return [None] + [
        None if now is None or before is None else now - before
        for before, now in zip(values, values[1:], strict=False)
    ]


async def trends(
    session: AsyncSession,
    *,
    metric: Metric,
    first: Period,
    last: Period,
    group_by: TrendGroup,
    basis: Basis = Basis.contracted,
) -> TrendsReport:
    """One series per customer, service or vendor (or one for everything), one value per
    month, the total, month-over-month changes, revenue gaps and target attainment
    (SPEC section 6)."""
    grouped = group_by is not TrendGroup.none
    main = _Projection((group_by.value, "month") if grouped else ("month",))
    projections = [main]
    by_customer = main
    if group_by is not TrendGroup.customer:
        by_customer = _Projection(("customer", "month"), cost=False)
        projections.append(by_customer)
    gathered = await _gather(session, first=first, last=last, basis=basis, projections=projections)
    periods = gathered.months.periods
    count = len(periods)

    # Cents per series key and month; every cell belongs to one series, so the totals
    # are the sums over the series.
    per_key: dict[Any, list[list[int]]] = {}
    totals = [[0, 0] for _ in range(count)]
    for cell_key, (revenue, cost) in main.cells.items():
        series_key, index = cell_key if grouped else (None, cell_key)
        if revenue == 0 and cost == 0:
            continue
        slots = per_key.setdefault(series_key, [[0, 0] for _ in range(count)])
        slots[index][0] += revenue
        slots[index][1] += cost
        totals[index][0] += revenue
        totals[index][1] += cost

    series = []
    for series_key in sorted(per_key, key=lambda k: _sort_key((k,))):
        values = [_metric_value(metric, r, c) for r, c in per_key[series_key]]
        named = {_KEY_FIELDS[group_by.value]: series_key} if grouped else {}
        series.append(TrendSeries(**named, values=values, changes=_changes(values)))
    total = [_metric_value(metric, r, c) for r, c in totals]

    gaps = await _gaps(session, gathered.months, by_customer.cells)
    targets: list[TargetAttainment] = []
    if metric in (Metric.revenue, Metric.profit):
        set_targets = await _targets_between(session, first, last)
        for index, period in enumerate(periods):
            target_row = set_targets.get(str(period))
            goal = None
            if target_row is not None:
                goal = target_row.revenue if metric is Metric.revenue else target_row.profit
            actual = total[index]
            assert actual is not None
            targets.append(
                TargetAttainment(
                    month=str(period),
                    target=goal,
                    actual=actual,
                    # A ratio to a goal of zero or below says nothing (-585 / -5 is not
                    # "117 times the goal"): null then, as when no goal is set.
                    attainment=None
                    if goal is None or goal <= 0
                    else round_half_up(Fraction(actual) / Fraction(goal), 4),
                )
            )
    return TrendsReport(
        metric=metric,
        basis=basis,
        group_by=group_by,
        months=[str(p) for p in periods],
        series=series,
        total=total,
        total_changes=_changes(total),
        gaps=gaps,
        targets=targets,
    )


async def _gaps(
    session: AsyncSession, months: arithmetic.MonthRange, customer_cells: Cells
) -> list[Gap]:
    """SPEC section 6: a month in which a customer whose contract is active on some day of
    it has no revenue on the chosen basis. One query for the contracts of the range."""
    first_day, last_day = months.first_day, months.last_day
    rows: Any = await session.execute(
        select(col(Contract.customer_id), col(Contract.start_date), col(Contract.end_date))
        .where(
            col(Contract.start_date) <= last_day,
            or_(col(Contract.end_date).is_(None), col(Contract.end_date) >= first_day),
        )
        .distinct()
    )
    active: set[tuple[int, int]] = set()
    for customer, start, end in rows.all():
        lo = max(start, first_day)
        hi = last_day if end is None else min(end, last_day)
        if lo > hi:  # cancelled before it started
            continue
        for index in range(months.index_of(lo), months.index_of(hi) + 1):
            active.add((customer, index))
    return [
        Gap(customer_id=customer, month=str(months.periods[index]))
        for customer, index in sorted(active)
        if customer_cells.get((customer, index), (0, 0))[0] == 0
    ]


# --- targets ---------------------------------------------------------------------------------


async def _targets_between(session: AsyncSession, first: Period, last: Period) -> dict[str, Target]:
    rows = await session.scalars(
        select(Target).where(col(Target.period) >= str(first), col(Target.period) <= str(last))
    )
    return {row.period: row for row in rows.all()}


async def put_target(session: AsyncSession, *, period: Period, data: TargetPut) -> Target:
    """Set the month's goal, creating or replacing it (an upsert, safe under races)."""
    now = utcnow()
    values = {"period": str(period), "revenue": data.revenue, "profit": data.profit}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Target).values(**values, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[col(Target.period)],
        set_={"revenue": data.revenue, "profit": data.profit, "updated_at": now},
    )
    await session.execute(stmt)
    await session.flush()
    return await get_target(session, period=period)


async def get_target(session: AsyncSession, *, period: Period) -> Target:
    target = await session.scalar(
        select(Target)
        .where(col(Target.period) == str(period))
        .execution_options(populate_existing=True)
    )
    if target is None:
        raise NotFound(f"no target is set for {period}")
    return target


def _ordinal(period: Period) -> int:
    return period.year * 12 + period.month - 1


async def list_targets(
    session: AsyncSession, *, page: PageParams, first: Period | None, last: Period | None
) -> Page[TargetRead]:
    """Targets in period order, optionally within [first, last]; the cursor is the last
    period's month number, so a page never shifts under inserts."""
    stmt = select(Target)
    if first is not None:
        stmt = stmt.where(col(Target.period) >= str(first))
    if last is not None:
        stmt = stmt.where(col(Target.period) <= str(last))
    if page.cursor is not None:
        after = decode_cursor(page.cursor)
        stmt = stmt.where(col(Target.period) > str(Period(after // 12, after % 12 + 1)))
    rows = list(
        (await session.scalars(stmt.order_by(col(Target.period)).limit(page.limit + 1))).all()
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = None
    if more:
        next_cursor = encode_cursor(_ordinal(Period.stored(rows[-1].period)))
    return Page[TargetRead](
        items=[TargetRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def validate_target_range(
    from_text: str | None, to_text: str | None
) -> tuple[Period | None, Period | None]:
    """`from`/`to` of the target list: each optional; both given, in order."""
    if from_text is not None and to_text is not None:
        first, last = period_range_params(from_text, to_text, max_months=10**6)
        return first, last
    return (
        None if from_text is None else parse_period_param(from_text, "from"),
        None if to_text is None else parse_period_param(to_text, "to"),
    )
