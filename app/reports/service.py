"""Profitability and trends (docs/reports.md): the entry points the router calls, over the
aggregation engine (engine.py), shaped into the answers. Query parsing is in params.py,
targets in targets.py."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from operator import itemgetter
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.contracts import arithmetic
from app.contracts.models import Contract
from app.core.money import from_cents, margin, round_half_up
from app.core.periods import Period, months_between
from app.reports.engine import KEY_FIELDS, Cells, Projection, gather
from app.reports.models import (
    Basis,
    Figures,
    Gap,
    GroupKey,
    Metric,
    ProfitabilityReport,
    ProfitabilityRow,
    TargetAttainment,
    TrendGroup,
    TrendSeries,
    TrendsReport,
)
from app.reports.names import NAME_FIELDS, names_of
from app.reports.targets import targets_between
from app.vendor_invoices.month import vendors_billing

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
    """Revenue, cost, profit and margin per group (docs/reports.md#profitability), rows
    whose revenue and cost are both 0 left out, totals over all rows and the unallocated
    vendor cost."""
    dims = tuple(key.value for key in group_by)
    projection = Projection(dims)
    gathered = await gather(session, first=first, last=last, basis=basis, projections=[projection])
    months = [str(period) for period in gathered.months.periods]
    rows = []
    total_revenue = total_cost = 0
    fields = [None if dim == "month" else KEY_FIELDS[dim] for dim in dims]
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
    await _name_rows(session, {dim: rows for dim in dims if dim != "month"})
    return ProfitabilityReport(
        from_=first,
        to=last,
        basis=basis,
        group_by=list(group_by),
        rows=rows,
        totals=Figures(**_figures(total_revenue, total_cost)),
        unallocated_cost=from_cents(gathered.unallocated),
    )


async def customer_cost(session: AsyncSession, *, period: Period) -> dict[int, int]:
    """Each customer's cost of the month in cents, the `cost` of its row in the
    profitability report grouped by customer from `period` to `period` (vendor and in-house
    cost; the unallocated cost belongs to no customer): the billing dry run's cost
    (docs/exports.md#dry-run). Customers whose cost is 0 are left out."""
    projection = Projection(("customer",))
    await gather(
        session, first=period, last=period, basis=Basis.contracted, projections=[projection]
    )
    return {
        customer: cost
        for customer, (_revenue, cost) in projection.cells.items()
        if customer is not None and cost
    }


async def _name_rows(session: AsyncSession, rows_by_kind: dict[str, list[Any]]) -> None:
    """Each row's `<kind>_name` beside its `<kind>_id`, null with a null id
    (docs/reports.md#names): one query per kind, in the report's snapshot."""
    for kind, rows in rows_by_kind.items():
        id_field, name_field = KEY_FIELDS[kind], NAME_FIELDS[kind]
        found = await names_of(session, kind, (getattr(row, id_field) for row in rows))
        for row in rows:
            key = getattr(row, id_field)
            setattr(row, name_field, None if key is None else found.get(key))


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
    (docs/reports.md#trends)."""
    grouped = group_by is not TrendGroup.none
    main = Projection((group_by.value, "month") if grouped else ("month",))
    projections = [main]
    by_customer = main
    if group_by is not TrendGroup.customer:
        by_customer = Projection(("customer", "month"), cost=False)
        projections.append(by_customer)
    gathered = await gather(session, first=first, last=last, basis=basis, projections=projections)
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
        named = {KEY_FIELDS[group_by.value]: series_key} if grouped else {}
        series.append(TrendSeries(**named, values=values, changes=_changes(values)))
    total = [_metric_value(metric, r, c) for r, c in totals]

    gaps = await _gaps(session, gathered.months, by_customer.cells)
    # Customer names for the gaps and, grouped by customer, the series: one query.
    to_name: dict[str, list[Any]] = {"customer": list(gaps)}
    if grouped:
        to_name.setdefault(group_by.value, []).extend(series)
    await _name_rows(session, to_name)
    targets: list[TargetAttainment] = []
    if metric in (Metric.revenue, Metric.profit):
        set_targets = await targets_between(session, first, last)
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
        incomplete=await _incomplete(session, first, last),
    )


async def _incomplete(session: AsyncSession, first: Period, last: Period) -> list[str]:
    """The months of the range in which a vendor that billed the month before has not
    billed (docs/reports.md#incomplete-months): their cost is not final."""
    billing = await vendors_billing(session, first.previous(), last)
    return [
        str(period)
        for period, before, now in zip(
            months_between(first, last), billing[:-1], billing[1:], strict=True
        )
        if before - now
    ]


async def _gaps(
    session: AsyncSession, months: arithmetic.MonthRange, customer_cells: Cells
) -> list[Gap]:
    """A month in which a customer whose contract is active on some day of it has no
    revenue on the chosen basis (docs/reports.md#gaps). One query for the contracts of
    the range."""
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
        Gap(customer_id=customer, customer_name=None, month=str(months.periods[index]))
        for customer, index in sorted(active)
        if customer_cells.get((customer, index), (0, 0))[0] == 0
    ]
