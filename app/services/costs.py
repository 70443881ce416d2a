"""The price book: a service's standard unit cost over time (docs/price-book.md). Entries
are kept, listed and removed here, and the standard in effect on a day is read here, in
Python for a few days at once and as one SQL expression for queries over many lines."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crud import ensure_unique, get_or_404
from app.core.errors import NotFound
from app.core.money import PRICE_PLACES, VENDOR_PLACES, ExactDecimal, rescaled
from app.core.pagination import Cursor, Page, PageParams, paginate
from app.services.models import Service, ServiceCost, ServiceCostCreate, ServiceCostRead

# Entries are listed by effective_from: the cursor carries the last one's day number.
_COST_CURSOR = Cursor("c1", int)
_LAST_ORDINAL = date.max.toordinal()


async def add_cost(
    session: AsyncSession, *, service_id: int, data: ServiceCostCreate
) -> ServiceCostRead:
    await get_or_404(session, Service, service_id, "service")
    await ensure_unique(
        session,
        ServiceCost,
        [
            col(ServiceCost.service_id) == service_id,
            col(ServiceCost.effective_from) == data.effective_from,
        ],
        exclude_id=None,
        field="effective_from",
        message=(
            f"Service {service_id} already has a price-book entry effective from "
            f"{data.effective_from}."
        ),
    )
    entry = ServiceCost(service_id=service_id, **data.model_dump())
    session.add(entry)
    await session.flush()
    return ServiceCostRead.model_validate(entry)


async def list_costs(
    session: AsyncSession, *, service_id: int, page: PageParams
) -> Page[ServiceCostRead]:
    await get_or_404(session, Service, service_id, "service")
    stmt = select(ServiceCost).where(col(ServiceCost.service_id) == service_id)
    return await paginate(
        session,
        stmt,
        col(ServiceCost.effective_from),
        page,
        ServiceCostRead.model_validate,
        cursor=_COST_CURSOR,
        key=lambda row: row.effective_from.toordinal(),
        # A cursor holds any id-sized number: clamp it into the calendar.
        bound=lambda n: date.fromordinal(min(max(n, 1), _LAST_ORDINAL)),
    )


async def delete_cost(session: AsyncSession, *, service_id: int, entry_id: int) -> None:
    entry = await session.get(ServiceCost, entry_id)
    if entry is None or entry.service_id != service_id:
        raise NotFound.of("price-book entry", entry_id)
    await session.delete(entry)
    await session.flush()


# --- the standard unit cost on a day (docs/price-book.md#standard-unit-cost) -----------------


class PriceBook:
    """Entries of some services, in order, and their catalog unit_cost: the standard unit
    cost of a service on any day, worked out in Python (one query for every day asked)."""

    def __init__(
        self, fallback: dict[int, Decimal], entries: dict[int, list[tuple[date, Decimal]]]
    ) -> None:
        self.fallback = fallback
        self._days = {sid: [day for day, _ in rows] for sid, rows in entries.items()}
        self._costs = {sid: [cost for _, cost in rows] for sid, rows in entries.items()}

    def on(self, service_id: int, day: date) -> Decimal:
        """The entry with the latest effective_from <= day, else the service's unit_cost."""
        days = self._days.get(service_id)
        if days:
            index = bisect_right(days, day)
            if index:
                return self._costs[service_id][index - 1]
        return self.fallback[service_id]

    def since(self, service_id: int, day: date) -> date | None:
        """The effective_from of the entry in effect on the day, or None (the catalog's
        unit_cost is)."""
        days = self._days.get(service_id)
        index = bisect_right(days, day) if days else 0
        return days[index - 1] if days and index else None

    def has_entries(self, service_id: int) -> bool:
        return bool(self._days.get(service_id))


async def load_price_book(
    session: AsyncSession,
    services: dict[int, Decimal],
    *,
    until: date,
) -> PriceBook:
    """The price book of `services` (id -> catalog unit_cost) as far as `until`: the
    entries effective on or before it."""
    entries: dict[int, list[tuple[date, Decimal]]] = {}
    if services:
        rows: Any = await session.execute(
            select(
                col(ServiceCost.service_id),
                col(ServiceCost.effective_from),
                col(ServiceCost.unit_cost),
            )
            .where(
                col(ServiceCost.service_id).in_(sorted(services)),
                col(ServiceCost.effective_from) <= until,
            )
            .order_by(col(ServiceCost.service_id), col(ServiceCost.effective_from))
        )
        for service_id, day, cost in rows.all():
            entries.setdefault(service_id, []).append((day, cost))
    return PriceBook(services, entries)


def standard_cost_sql(service_id: Any, service_unit_cost: Any, day: Any, dialect: str) -> Any:
    """The standard unit cost of the service `service_id` on `day` (SQL expressions) as
    one expression on a vendor line's scale (6 places; on SQLite the integer x 10^6 that
    is stored): the price-book entry with the latest effective_from <= day, through the
    (service_id, effective_from) index, else the service's own unit_cost, raised from 4
    places."""
    entry = (
        select(col(ServiceCost.unit_cost))
        .where(col(ServiceCost.service_id) == service_id, col(ServiceCost.effective_from) <= day)
        .order_by(col(ServiceCost.effective_from).desc())
        .limit(1)
        .scalar_subquery()
    )
    catalog = rescaled(service_unit_cost, dialect, PRICE_PLACES, VENDOR_PLACES)
    return type_coerce(func.coalesce(entry, catalog), ExactDecimal(scale=VENDOR_PLACES))
