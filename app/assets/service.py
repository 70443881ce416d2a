"""Deployed assets: plain async functions, no HTTP. An asset is counted on day d when
installed_on <= d < removed_on (docs/month-arithmetic.md#deployed-units), so removed_on
must come after installed_on."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assets.models import Asset, AssetCreate, AssetRead, AssetUpdate
from app.core.crud import (
    apply,
    changes,
    ensure_unique_external_ref,
    get_or_404,
    require_reference,
    search,
)
from app.core.errors import Invalid, field_error
from app.core.pagination import Page, PageParams, paginate
from app.customers.models import Customer
from app.services.models import Service

REQUIRED = ("customer_id", "service_id", "name", "installed_on")


def _check_dates(installed_on: date, removed_on: date | None) -> None:
    if removed_on is not None and removed_on <= installed_on:
        message = (
            f"removed_on ({removed_on}) must be after installed_on ({installed_on}): "
            "it is the first day the asset is no longer deployed"
        )
        raise Invalid(message, errors=[field_error("body.removed_on", message, "date_order")])


async def _check_external_ref(
    session: AsyncSession, external_ref: str | None, exclude_id: int | None
) -> None:
    await ensure_unique_external_ref(
        session, Asset, external_ref, exclude_id=exclude_id, kind="asset"
    )


async def _asset_row(session: AsyncSession, asset_id: int) -> Asset:
    """The asset's row, to change or delete it: a 404 when there is none."""
    return await get_or_404(session, Asset, asset_id, "asset")


async def create_asset(session: AsyncSession, *, data: AssetCreate) -> AssetRead:
    _check_dates(data.installed_on, data.removed_on)
    await require_reference(session, Customer, data.customer_id, "customer_id", "customer")
    await require_reference(session, Service, data.service_id, "service_id", "service")
    await _check_external_ref(session, data.external_ref, None)
    asset = Asset(**data.model_dump())
    session.add(asset)
    await session.flush()
    return AssetRead.model_validate(asset)


async def get_asset(session: AsyncSession, *, asset_id: int) -> AssetRead:
    return AssetRead.model_validate(await _asset_row(session, asset_id))


async def list_assets(
    session: AsyncSession,
    *,
    page: PageParams,
    customer_id: int | None = None,
    service_id: int | None = None,
    q: str | None = None,
    active_on: date | None = None,
) -> Page[AssetRead]:
    stmt = search(select(Asset), [Asset.name, Asset.serial, Asset.external_ref], q)
    if customer_id is not None:
        stmt = stmt.where(col(Asset.customer_id) == customer_id)
    if service_id is not None:
        stmt = stmt.where(col(Asset.service_id) == service_id)
    if active_on is not None:
        stmt = stmt.where(
            col(Asset.installed_on) <= active_on,
            or_(col(Asset.removed_on).is_(None), col(Asset.removed_on) > active_on),
        )
    return await paginate(session, stmt, Asset.id, page, AssetRead.model_validate)


async def update_asset(session: AsyncSession, *, asset_id: int, data: AssetUpdate) -> AssetRead:
    asset = await _asset_row(session, asset_id)
    values: dict[str, Any] = changes(data, required=REQUIRED)
    # The date rule holds for the record as it will be, not just for the body.
    _check_dates(
        values.get("installed_on", asset.installed_on), values.get("removed_on", asset.removed_on)
    )
    if "customer_id" in values:
        await require_reference(session, Customer, values["customer_id"], "customer_id", "customer")
    if "service_id" in values:
        await require_reference(session, Service, values["service_id"], "service_id", "service")
    if "external_ref" in values:
        await _check_external_ref(session, values["external_ref"], asset_id)
    apply(asset, values)
    await session.flush()
    await session.refresh(asset)
    return AssetRead.model_validate(asset)


async def delete_asset(session: AsyncSession, *, asset_id: int) -> None:
    asset = await _asset_row(session, asset_id)
    await session.delete(asset)
    await session.flush()
