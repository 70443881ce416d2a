"""Tolerances kept, listed and removed; the rules an audit applies, read in one query
(docs/tolerances.md)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audits.models import FindingType, Tolerance, ToleranceCreate, ToleranceRead, scope_key
from app.audits.tolerances import Rule, Tolerances
from app.core.crud import get_or_404, require_reference
from app.core.errors import Conflict
from app.core.pagination import Page, PageParams, paginate
from app.customers.models import Customer
from app.services.models import Service


def _describe(data: ToleranceCreate) -> str:
    return (
        f"type {data.type.value if data.type else 'any'}, "
        f"customer {data.customer_id if data.customer_id is not None else 'any'}, "
        f"service {data.service_id if data.service_id is not None else 'any'}"
    )


async def create_tolerance(
    session: AsyncSession, *, data: ToleranceCreate, actor: str
) -> ToleranceRead:
    await require_reference(session, Customer, data.customer_id, "customer_id", "customer")
    await require_reference(session, Service, data.service_id, "service_id", "service")
    kind = data.type.value if data.type else None
    scope = scope_key(kind, data.customer_id, data.service_id)
    existing = await session.scalar(select(col(Tolerance.id)).where(col(Tolerance.scope) == scope))
    if existing is not None:
        message = (
            f"Tolerance {existing} already covers this scope ({_describe(data)}); "
            "delete it first to replace it."
        )
        raise Conflict(message, extra={"tolerance_id": existing})
    tolerance = Tolerance(
        type=kind,
        customer_id=data.customer_id,
        service_id=data.service_id,
        max_units=data.max_units,
        max_percent=data.max_percent,
        max_impact=data.max_impact,
        scope=scope,
        created_by=actor,
    )
    session.add(tolerance)
    await session.flush()
    return ToleranceRead.model_validate(tolerance)


async def list_tolerances(
    session: AsyncSession,
    *,
    page: PageParams,
    type: FindingType | None = None,
    customer_id: int | None = None,
    service_id: int | None = None,
) -> Page[ToleranceRead]:
    stmt = select(Tolerance)
    if type is not None:
        stmt = stmt.where(col(Tolerance.type) == type.value)
    if customer_id is not None:
        stmt = stmt.where(col(Tolerance.customer_id) == customer_id)
    if service_id is not None:
        stmt = stmt.where(col(Tolerance.service_id) == service_id)
    return await paginate(session, stmt, Tolerance.id, page, to_item=ToleranceRead.model_validate)


async def get_tolerance(session: AsyncSession, *, tolerance_id: int) -> ToleranceRead:
    return ToleranceRead.model_validate(
        await get_or_404(session, Tolerance, tolerance_id, "tolerance")
    )


async def delete_tolerance(session: AsyncSession, *, tolerance_id: int) -> None:
    tolerance = await get_or_404(session, Tolerance, tolerance_id, "tolerance")
    await session.delete(tolerance)
    await session.flush()


async def load_tolerances(session: AsyncSession) -> Tolerances:
    """Every rule, for one audit run: a handful of rows, read once."""
    rows = (await session.scalars(select(Tolerance))).all()
    return Tolerances(
        Rule(
            id=row.id or 0,
            type=row.type,
            customer_id=row.customer_id,
            service_id=row.service_id,
            max_units=row.max_units,
            max_percent=row.max_percent,
            max_impact=row.max_impact,
        )
        for row in rows
    )
