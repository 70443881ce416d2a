"""HTTP for deployed assets: parse, call the service, shape."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Response

from app.assets import service
from app.assets.models import AssetCreate, AssetRead, AssetUpdate
from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery

router = api_router(prefix="/assets", tags=["assets"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=AssetRead,
    summary="Record an asset deployed at a customer",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_asset(body: AssetCreate, session: SessionDep, _: WriteKey) -> AssetRead:
    """A device or seat deployed at a customer (a PSA configuration item), counted on each
    day from `installed_on` until the day before `removed_on`; compared with contracted
    and vendor units by audits (docs/findings.md)."""
    return await service.create_asset(session, data=body)


@router.get(
    "",
    response_model=Page[AssetRead],
    summary="List assets",
    responses={**AUTH, **problem_responses(422)},
)
async def list_assets(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    customer_id: IdQuery = None,
    service_id: IdQuery = None,
    q: Annotated[str | None, Query(description="Search in name, serial and external_ref")] = None,
    active_on: Annotated[
        date | None,
        Query(description="Only assets counted that day: installed_on <= day < removed_on"),
    ] = None,
) -> Page[AssetRead]:
    """Assets in id order, one page at a time, optionally filtered by customer, service, a
    search or the day they are counted."""
    return await service.list_assets(
        session,
        page=page,
        customer_id=customer_id,
        service_id=service_id,
        q=q,
        active_on=active_on,
    )


@router.get(
    "/{asset_id}",
    response_model=AssetRead,
    summary="Get an asset",
    responses={**AUTH, **problem_responses(404)},
)
async def get_asset(asset_id: IdPath, session: SessionDep, _: ReadKey) -> AssetRead:
    """One asset by id; 404 when no asset has it."""
    return await service.get_asset(session, asset_id=asset_id)


@router.patch(
    "/{asset_id}",
    response_model=AssetRead,
    summary="Change an asset (set removed_on when it is taken away)",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_asset(
    asset_id: IdPath, body: AssetUpdate, session: SessionDep, _: WriteKey
) -> AssetRead:
    """Changes only the fields the body names; set `removed_on` when the device or seat is
    taken away (it must come after installed_on, else 422)."""
    return await service.update_asset(session, asset_id=asset_id, data=body)


@router.delete(
    "/{asset_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an asset",
    responses={**AUTH, **problem_responses(404)},
)
async def delete_asset(asset_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    """Deletes the asset as if it had never been deployed; to record that it was taken
    away, set `removed_on` instead."""
    await service.delete_asset(session, asset_id=asset_id)
