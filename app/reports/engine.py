"""The reports' aggregation engine: revenue and cost of every (customer, contract, service,
vendor, month) of a range, summed straight into the cells of the projections a report
asks for. Revenue from the month arithmetic in its database form (month_sql's range form,
held equal to the arithmetic module by tests) or from the customer invoices; cost from
the service's standard unit cost (in-house, docs/price-book.md#in-house-cost) or the
matched vendor lines (cost.py).

Every figure is carried as integer cents while it is summed, and becomes a Decimal only
in the answer: never a float (docs/reports.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import CustomerInvoice, CustomerInvoiceLine, InvoiceStatus
from app.contracts import arithmetic, month_sql
from app.contracts.models import ContractLine
from app.core.money import VENDOR_PLACES, cents_sum
from app.core.periods import Period
from app.reports.cost import Add, Holders, vendor_cost
from app.reports.models import Basis
from app.services.costs import load_price_book
from app.services.models import Service

# The full key of a cell, in this order; a report keeps the parts it groups by.
FULL_KEY = ("customer", "contract", "service", "vendor", "month")
KEY_FIELDS = {
    "customer": "customer_id",
    "contract": "contract_id",
    "service": "service_id",
    "vendor": "vendor_id",
}

Cells = dict[Any, list[int]]  # projected key -> [revenue cents, cost cents]


@dataclass
class Projection:
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
        # docs/month-arithmetic.md#revenue) is added as a difference: +amount at its first month and
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
class Gathered:
    months: arithmetic.MonthRange
    projections: list[Projection]
    unallocated: int = 0


async def _services(session: AsyncSession) -> dict[int, tuple[int | None, Decimal]]:
    rows: Any = await session.execute(
        select(col(Service.id), col(Service.vendor_id), col(Service.unit_cost))
    )
    return {sid: (vendor_id, unit_cost) for sid, vendor_id, unit_cost in rows.all()}


async def gather(
    session: AsyncSession,
    *,
    first: Period,
    last: Period,
    basis: Basis,
    projections: list[Projection],
) -> Gathered:
    """Revenue and cost of every (customer, contract, service, vendor, month) of the range,
    summed straight into each projection's cells (docs/reports.md#profitability).

    Queries: the catalog, the contract lines' whole-month runs and partial months (one
    statement, month_sql.range_line_figures; each line-month rounded here, in Python
    integers, as docs/month-arithmetic.md#revenue requires), the matched and the
    unallocated vendor cost in one query grouped by as much of (customer, service,
    period) as the report needs (cost.py) and, on the invoiced basis, the invoice lines
    grouped likewise: however many lines, customers or months."""
    months = arithmetic.MonthRange.of(first, last)
    gathered = Gathered(months=months, projections=projections)
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
    unit_costs = await _in_house_rates(session, services, months)
    # (customer, service, month) -> [(line_id, contract_id, units)] of vendor services
    units_of: Holders = defaultdict(list)
    for line in lines:
        vendor_id = services[line.service_id][0]
        in_house = vendor_id is None
        part = (line.customer_id, line.contract_id, line.service_id, vendor_id)
        # (slot, rate, places): revenue at the line's unit price (x 10^4), in-house cost at
        # the service's standard unit cost of each month (x 10^6, a list when the price
        # book changes it within the range: docs/price-book.md#in-house-cost).
        rates: list[tuple[int, int | list[int], int]] = (
            [(0, line.unit_price, month_sql.DECIMALS)] if contracted else []
        )
        if in_house:
            rates.append((1, unit_costs[line.service_id], VENDOR_PLACES))
        for slot, rate, places in rates:
            total = 0
            for run_first, run_last, quantity in line.runs:
                pieces = (
                    ((run_first, run_last, rate),)
                    if isinstance(rate, int)
                    else _at_one_rate(rate, run_first, run_last)
                )
                for first_index, last_index, month_rate in pieces:
                    # A whole month at one quantity, rounded once per month
                    # (docs/month-arithmetic.md#revenue).
                    cents = month_sql.whole_month_cents(quantity, month_rate, places)
                    if cents == 0:
                        continue
                    total += cents * (last_index - first_index + 1)
                    for projection in costly if slot else monthly:
                        projection.add_run(part, slot, first_index, last_index, cents)
            for index, (quantity_days, _) in line.partial.items():
                # The partial month's unit-days, rounded once.
                month_rate = rate if isinstance(rate, int) else rate[index]
                cents = month_sql.cents(quantity_days or 0, month_rate, days[index], places)
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

    gathered.unallocated = await vendor_cost(
        session,
        first=first,
        last=last,
        needed={d for p in projections if p.cost for d in p.dims},
        services=services,
        index_of=index_of,
        units_of=units_of,
        by_contract=by_contract,
        add=add,
    )
    if not contracted:
        await _invoiced_revenue(session, first, last, by_contract, services, index_of, add)
    return gathered


async def _in_house_rates(
    session: AsyncSession,
    services: dict[int, tuple[int | None, Decimal]],
    months: arithmetic.MonthRange,
) -> dict[int, int | list[int]]:
    """Each in-house service's standard unit cost x 10^6 on the first day of each month of
    the range (docs/price-book.md#in-house-cost): one number when it is the same all
    along, else one per month."""
    catalog = {sid: cost for sid, (vendor_id, cost) in services.items() if vendor_id is None}
    firsts = [period.first_day for period in months.periods]
    book = await load_price_book(session, catalog, until=firsts[-1])
    rates: dict[int, int | list[int]] = {}
    for sid, cost in catalog.items():
        if not book.has_entries(sid):
            rates[sid] = month_sql.to_scaled(cost, VENDOR_PLACES)
            continue
        each = [month_sql.to_scaled(book.on(sid, day), VENDOR_PLACES) for day in firsts]
        rates[sid] = each[0] if len(set(each)) == 1 else each
    return rates


def _at_one_rate(rate: list[int], first: int, last: int) -> Iterator[tuple[int, int, int]]:
    """The months first..last (indexes) cut into runs at one rate: (first, last, rate)."""
    start = first
    for index in range(first + 1, last + 2):
        if index > last or rate[index] != rate[start]:
            yield start, index - 1, rate[start]
            start = index


async def _invoiced_revenue(
    session: AsyncSession,
    first: Period,
    last: Period,
    by_contract: bool,
    services: dict[int, tuple[int | None, Decimal]],
    index_of: dict[str, int],
    add: Add,
) -> None:
    """The invoiced basis (docs/reports.md#parameters): the non-void customer invoice lines
    of each period, grouped by (customer, period, service) and, for the contract split,
    the contract of the line a billing run billed (null on recorded invoices)."""
    invoice, invoice_line = CustomerInvoice, CustomerInvoiceLine
    contract_column: Any = col(ContractLine.contract_id) if by_contract else None
    columns: list[Any] = [
        col(invoice.customer_id),
        col(invoice.period),
        col(invoice_line.service_id),
        cents_sum(col(invoice_line.amount), session.get_bind().dialect.name),
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
