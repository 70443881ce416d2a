"""Quote previews priced on real costs: the latest month's actual mean vendor unit cost of
each service (docs/month-arithmetic.md#matching-vendor-lines), else, or when a price-book
entry in effect today is newer than that month, its standard unit cost today
(docs/price-book.md#quotes)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crud import require_reference
from app.core.db import utcnow
from app.core.errors import Invalid, field_error
from app.core.money import AMOUNT_PLACES, VENDOR_PLACES, decimal_sum, margin, round_half_up
from app.core.periods import Period
from app.customers.models import Customer
from app.quotes.models import (
    CostBasis,
    QuoteCreate,
    QuoteLine,
    QuotePreview,
    QuoteWarning,
)
from app.services.costs import load_price_book
from app.services.models import Service
from app.vendor_invoices.matching import join_matches, matched_service_id
from app.vendor_invoices.models import VendorInvoiceLine

ZERO = Decimal(0)


async def latest_mean_costs(
    session: AsyncSession, service_ids: set[int]
) -> dict[int, tuple[Period, Fraction]]:
    """Per service, the latest period with matched vendor lines (and a non-zero quantity)
    and its mean unit cost there: sum of amounts / sum of quantities. One grouped query."""
    line = VendorInvoiceLine
    dialect = session.get_bind().dialect.name
    rows: Any = await session.execute(
        join_matches(
            select(
                matched_service_id,
                col(line.period),
                decimal_sum(col(line.quantity), dialect, VENDOR_PLACES),
                decimal_sum(col(line.amount), dialect, AMOUNT_PLACES),
            ).select_from(line)
        )
        .where(matched_service_id.in_(service_ids))
        .group_by(matched_service_id, col(line.period))
    )
    latest: dict[int, tuple[Period, Fraction]] = {}
    for service_id, period, quantity, amount in rows.all():
        if not quantity:
            continue
        month = Period.stored(period)
        if service_id not in latest or month > latest[service_id][0]:
            latest[service_id] = (month, Fraction(amount) / Fraction(quantity))
    return latest


async def preview(
    session: AsyncSession, *, data: QuoteCreate, default_floor: Decimal
) -> QuotePreview:
    if data.customer_id is not None:
        await require_reference(session, Customer, data.customer_id, "customer_id", "customer")
    wanted = {line.service_id for line in data.lines}
    services = {
        s.id: s
        for s in (await session.scalars(select(Service).where(col(Service.id).in_(wanted)))).all()
        if s.id is not None
    }
    missing = [
        field_error(f"body.lines.{i}.service_id", f"service {line.service_id} does not exist")
        for i, line in enumerate(data.lines)
        if line.service_id not in services
    ]
    if missing:
        raise Invalid("Some lines name services that do not exist.", errors=missing)
    vendor_services = {sid for sid, s in services.items() if s.vendor_id is not None}
    means = await latest_mean_costs(session, vendor_services) if vendor_services else {}
    today = utcnow().date()
    book = await load_price_book(
        session, {sid: s.unit_cost for sid, s in services.items()}, until=today
    )
    floor = data.margin_floor if data.margin_floor is not None else default_floor

    lines: list[QuoteLine] = []
    warnings: list[QuoteWarning] = []
    for index, item in enumerate(data.lines):
        service = services[item.service_id]
        price = item.unit_price if item.unit_price is not None else service.unit_price
        found = means.get(item.service_id)
        entry = book.since(item.service_id, today)
        if found is not None and (entry is None or entry <= found[0].last_day):
            basis, period, unit_cost = CostBasis.vendor_mean, found[0], found[1]
        else:
            # No vendor month yet, or the price book knows a newer cost (an announced rise
            # in effect): the standard of today.
            standard = Fraction(book.on(item.service_id, today))
            basis, period, unit_cost = CostBasis.standard, None, standard
        revenue = round_half_up(Fraction(item.quantity) * Fraction(price))
        cost = round_half_up(Fraction(item.quantity) * unit_cost)
        profit = revenue - cost
        line_margin = margin(revenue, profit)
        below = (
            line_margin is None and profit < 0 or (line_margin is not None and line_margin < floor)
        )
        if below:
            shown = "n/a" if line_margin is None else f"{line_margin:.4f}"
            warnings.append(
                QuoteWarning(
                    line=index,
                    message=f"{service.name}: margin {shown} is below the floor {floor:.4f} "
                    f"(cost {round_half_up(unit_cost, 4)} per unit, {basis.value}).",
                )
            )
        lines.append(
            QuoteLine(
                service_id=item.service_id,
                service_name=service.name,
                quantity=item.quantity,
                unit_price=price,
                unit_cost=round_half_up(unit_cost, 4),
                cost_basis=basis,
                cost_period=period,
                revenue=revenue,
                cost=cost,
                profit=profit,
                margin=line_margin,
                below_margin_floor=bool(below),
            )
        )
    revenue = sum((line.revenue for line in lines), ZERO)
    cost = sum((line.cost for line in lines), ZERO)
    return QuotePreview(
        customer_id=data.customer_id,
        margin_floor=floor,
        lines=lines,
        revenue=revenue,
        cost=cost,
        profit=revenue - cost,
        margin=margin(revenue, revenue - cost),
        warnings=warnings,
    )
