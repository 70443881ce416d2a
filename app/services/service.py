"""The catalog: plain async functions, no HTTP. A vendor_sku needs a vendor, and
(vendor_id, vendor_sku) is what vendor invoice lines are matched on, so it is unique."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crud import (
    apply,
    changes,
    ensure_unique,
    ensure_unreferenced,
    get_or_404,
    require_reference,
    search,
)
from app.core.errors import Invalid, field_error
from app.core.pagination import Page, PageParams, paginate
from app.services.models import Service, ServiceCreate, ServiceRead, ServiceUpdate
from app.vendors.models import Vendor

REQUIRED = ("name", "sku", "unit", "unit_price", "unit_cost", "active", "metered")


def _check_vendor_sku(vendor_id: int | None, vendor_sku: str | None) -> None:
    if vendor_sku is not None and vendor_id is None:
        message = "vendor_sku needs a vendor_id: an in-house service has no vendor SKU"
        raise Invalid(
            "A vendor_sku is only allowed on a service with a vendor_id.",
            errors=[field_error("body.vendor_sku", message, "vendor_required")],
        )


async def _check_sku(session: AsyncSession, sku: str, exclude_id: int | None) -> None:
    await ensure_unique(
        session,
        Service,
        [col(Service.sku) == sku],
        exclude_id=exclude_id,
        field="sku",
        message=f"A service with sku '{sku}' already exists.",
    )


async def _check_vendor_sku_unique(
    session: AsyncSession, vendor_id: int | None, vendor_sku: str | None, exclude_id: int | None
) -> None:
    if vendor_id is None or vendor_sku is None:
        return
    await ensure_unique(
        session,
        Service,
        [col(Service.vendor_id) == vendor_id, col(Service.vendor_sku) == vendor_sku],
        exclude_id=exclude_id,
        field="vendor_sku",
        message=f"Vendor {vendor_id} already has a service with vendor_sku '{vendor_sku}'.",
    )


async def _service_row(session: AsyncSession, service_id: int) -> Service:
    """The service's row, to change or delete it: a 404 when there is none."""
    return await get_or_404(session, Service, service_id, "service")


async def create_service(session: AsyncSession, *, data: ServiceCreate) -> ServiceRead:
    _check_vendor_sku(data.vendor_id, data.vendor_sku)
    await require_reference(session, Vendor, data.vendor_id, "vendor_id", "vendor")
    await _check_sku(session, data.sku, None)
    await _check_vendor_sku_unique(session, data.vendor_id, data.vendor_sku, None)
    service = Service(**data.model_dump())
    session.add(service)
    await session.flush()
    return ServiceRead.model_validate(service)


async def get_service(session: AsyncSession, *, service_id: int) -> ServiceRead:
    return ServiceRead.model_validate(await _service_row(session, service_id))


async def list_services(
    session: AsyncSession,
    *,
    page: PageParams,
    q: str | None = None,
    vendor_id: int | None = None,
    active: bool | None = None,
    sku: str | None = None,
    quickbooks_id: str | None = None,
) -> Page[ServiceRead]:
    stmt = search(select(Service), [Service.name, Service.sku], q)
    if vendor_id is not None:
        stmt = stmt.where(col(Service.vendor_id) == vendor_id)
    if active is not None:
        stmt = stmt.where(col(Service.active) == active)
    if sku is not None:
        stmt = stmt.where(col(Service.sku) == sku)
    if quickbooks_id is not None:
        stmt = stmt.where(col(Service.quickbooks_id) == quickbooks_id)
    return await paginate(session, stmt, Service.id, page, ServiceRead.model_validate)


async def update_service(
    session: AsyncSession, *, service_id: int, data: ServiceUpdate
) -> ServiceRead:
    service = await _service_row(session, service_id)
    values: dict[str, Any] = changes(data, required=REQUIRED)
    # The vendor rules hold for the record as it will be, not just for the body.
    vendor_id = values.get("vendor_id", service.vendor_id)
    vendor_sku = values.get("vendor_sku", service.vendor_sku)
    _check_vendor_sku(vendor_id, vendor_sku)
    if "vendor_id" in values:
        await require_reference(session, Vendor, vendor_id, "vendor_id", "vendor")
    if "sku" in values:
        await _check_sku(session, values["sku"], service_id)
    if "vendor_id" in values or "vendor_sku" in values:
        await _check_vendor_sku_unique(session, vendor_id, vendor_sku, service_id)
    apply(service, values)
    await session.flush()
    await session.refresh(service)
    return ServiceRead.model_validate(service)


async def delete_service(session: AsyncSession, *, service_id: int) -> None:
    service = await _service_row(session, service_id)
    await ensure_unreferenced(session, Service, service_id, "service")
    await session.delete(service)
    await session.flush()
