"""Vendor cost of a report's range in SQL: the matched vendor lines summed by as much of
(customer, service, period) as the report needs, split over contracts where it is grouped
by contract, and the unallocated cost (docs/month-arithmetic.md#vendor-cost,
docs/reports.md#contract-split, docs/reports.md#unallocated-cost)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.money import cents_sum, split_cents
from app.core.periods import Period
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import VendorInvoiceLine

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
    """The cost of (customer, service, M) for a vendor service is the sum of the amounts
    of the vendor lines of period M matched to them (docs/month-arithmetic.md#vendor-cost).
    Summed in the database by the parts of (customer, service, period) in `needed` (all
    three for the contract split), each sum handed to `add`; returns the cents no match
    took, the unallocated cost."""
    line_t = VendorInvoiceLine
    in_range = [col(line_t.period) >= str(first), col(line_t.period) <= str(last)]
    needed = set(needed)
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
    dialect = session.get_bind().dialect.name
    rows: Any = await session.execute(
        join_matches(
            select(unmatched, *columns.values(), cents_sum(col(line_t.amount), dialect))
            .select_from(line_t)
            .where(*in_range)
            .group_by(unmatched, *columns.values())
        )
    )
    unallocated = 0
    matched_rows = []
    for row in rows.all():
        if row[0]:
            unallocated += row[-1]
        else:
            matched_rows.append(row[1:])
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
