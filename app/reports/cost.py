"""Vendor cost of a report's range in SQL: the matched vendor lines summed by as much of
(customer, service, period) as the report needs, split over contracts where it is grouped
by contract, and the unallocated cost (docs/month-arithmetic.md#vendor-cost,
docs/reports.md#contract-split, docs/reports.md#unallocated-cost)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import indexed_by
from app.core.money import cents_sum, split_cents, to_cents
from app.core.periods import Period
from app.vendor_invoices.charges import spread_by_month, spread_over
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import CHARGE_START_INDEX, LineKind, VendorInvoiceLine
from app.vendor_invoices.month import month_of, spread_over_months

# add((customer, contract, service, vendor, month index), slot, cents): slot 1 is cost.
Add = Callable[[tuple[Any, ...], int, int], None]
# (customer, service, month index) -> [(line_id, contract_id, contracted units)]
Holders = dict[tuple[int, int, int], list[tuple[int, int, Decimal]]]


async def vendor_cost(
    session: AsyncSession,
    *,
    first: Period,
    last: Period,
    needed: Collection[str],
    services: dict[int, tuple[int | None, Decimal]],
    index_of: dict[str, int],
    units_of: Holders,
    by_contract: bool,
    add: Add,
) -> int:
    """The cost of (customer, service, M) for a vendor service is the cost in M of its
    matched lines (docs/vendor-bills.md#month-figures): lines inside one month cost their
    amount there, one-time fees in the month of charge_start, and lines spread over
    several months a part in each by cumulative rounding (charges.py). Summed in the
    database by the parts of (customer, service, month) in `needed` (all three for the
    contract split), each sum handed to `add`; returns the cents no match took (lines
    matched to no pair, and adjustments), the unallocated cost."""
    line_t = VendorInvoiceLine
    needed = set(needed)
    if by_contract:
        needed |= {"customer", "service", "month"}
    dialect = session.get_bind().dialect.name
    columns: dict[str, Any] = {}
    if "customer" in needed:
        columns["customer"] = matched_customer_id
    if "service" in needed:
        columns["service"] = matched_service_id
    elif "vendor" in needed:
        # Matched by (vendor_id, vendor_sku): the service's vendor is the line's.
        columns["vendor"] = col(line_t.vendor_id)

    month_of_charge = month_of(col(line_t.charge_start), dialect)
    if "month" in needed:
        columns["month"] = month_of_charge
    month_of_end = month_of(col(line_t.charge_end), dialect)
    spread = spread_over_months()
    first_day, last_day = first.first_day, last.last_day
    # Adjustments belong to no (customer, service): unallocated, in their invoice's month.
    adjustments: Any = await session.scalar(
        select(cents_sum(col(line_t.amount), dialect)).where(
            col(line_t.kind) == LineKind.adjustment.value,
            col(line_t.period) >= str(first),
            col(line_t.period) <= str(last),
        )
    )
    # A spread line whose charge period lies inside the range costs the range its whole
    # amount (its months add up to it: docs/vendor-bills.md#month-figures); split by month,
    # only a line inside one month is whole.
    inside = and_(col(line_t.charge_start) >= first_day, col(line_t.charge_end) <= last_day)
    if "month" in columns:
        inside = and_(inside, month_of_charge == month_of_end)
    # Whole: one-time fees in the month of charge_start, the spread lines inside. Both
    # start in the range, which the charge-start index reaches on SQLite.
    whole = and_(
        col(line_t.kind) != LineKind.adjustment.value,
        col(line_t.charge_start) >= first_day,
        col(line_t.charge_start) <= last_day,
        or_(col(line_t.kind) == LineKind.one_time.value, inside),
    )
    # One scan for both: the lines no (customer, service) match took are summed under
    # unmatched = 1, the others by the key.
    unmatched = case((or_(matched_customer_id.is_(None), matched_service_id.is_(None)), 1), else_=0)
    rows: Any = await session.execute(
        indexed_by(
            join_matches(
                select(unmatched, *columns.values(), cents_sum(col(line_t.amount), dialect))
                .select_from(line_t)
                .where(whole)
                .group_by(unmatched, *columns.values())
            ),
            line_t,
            CHARGE_START_INDEX,
        )
    )
    whole_rows = rows.all()
    # The other spread lines that touch the range: a part in each month, line by line
    # (equal lines grouped: each rounds alike).
    key_columns = [c for name, c in columns.items() if name != "month"]
    spread_rows: Any = await session.execute(
        join_matches(
            select(
                unmatched,
                *key_columns,
                col(line_t.charge_start),
                col(line_t.charge_end),
                col(line_t.amount),
                func.count(),
            )
            .select_from(line_t)
            .where(
                spread,
                col(line_t.charge_start) <= last_day,
                col(line_t.charge_end) >= first_day,
                not_(inside),
            )
            .group_by(
                unmatched,
                *key_columns,
                col(line_t.charge_start),
                col(line_t.charge_end),
                col(line_t.amount),
            )
        )
    )
    with_month = "month" in columns
    unallocated = adjustments or 0
    # One sum per key, so that the contract split divides the key's whole cost.
    summed: dict[tuple[Any, ...], int] = {}

    def take(flag: int, key: tuple[Any, ...], cents: int) -> None:
        nonlocal unallocated
        if flag:
            unallocated += cents
        else:
            summed[key] = summed.get(key, 0) + cents

    for flag, *key, cents in whole_rows:
        take(flag, tuple(key), cents)
    for flag, *keys, start, end, amount, count in spread_rows.all():
        cents = to_cents(amount)
        if not with_month:  # the range's months together, in one step
            take(flag, tuple(keys), spread_over(cents, start, end, first, last) * count)
            continue
        for month, part in spread_by_month(cents, start, end, first, last):
            if part:
                take(flag, (*keys, str(month)), part * count)
    matched_rows = [(*key, cents) for key, cents in summed.items()]
    if not columns:
        return unallocated
    names = list(columns)
    customer_at, service_at, vendor_at, month_at = (
        names.index(name) if name in columns else None
        for name in ("customer", "service", "vendor", "month")
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
    return unallocated
