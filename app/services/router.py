"""HTTP for the catalog of services: parse, call the service, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery
from app.services import costs, service
from app.services.models import (
    ServiceCostCreate,
    ServiceCostRead,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
)

router = api_router(prefix="/services", tags=["services"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=ServiceRead,
    summary="Add a service to the catalog",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_service(body: ServiceCreate, session: SessionDep, _: WriteKey) -> ServiceRead:
    """A catalog entry: what the MSP sells (`unit_price`, the list price per unit per
    month) and what it costs (`unit_cost`). A vendor service names the vendor and its
    `vendor_sku`, which matches vendor invoice lines to it; `sku` is unique (409)."""
    return await service.create_service(session, data=body)


@router.get(
    "",
    response_model=Page[ServiceRead],
    summary="List the catalog",
    responses={**AUTH, **problem_responses(422)},
)
async def list_services(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    q: Annotated[str | None, Query(description="Search in name and sku")] = None,
    vendor_id: IdQuery = None,
    active: bool | None = None,
    sku: Annotated[str | None, Query(description="Exact SKU")] = None,
    quickbooks_id: Annotated[
        str | None, Query(description="Exact QuickBooks Online Id (its ItemRef)")
    ] = None,
) -> Page[ServiceRead]:
    """The catalog in id order, one page at a time, optionally searched and filtered."""
    return await service.list_services(
        session,
        page=page,
        q=q,
        vendor_id=vendor_id,
        active=active,
        sku=sku,
        quickbooks_id=quickbooks_id,
    )


@router.get(
    "/{service_id}",
    response_model=ServiceRead,
    summary="Get a service",
    responses={**AUTH, **problem_responses(404)},
)
async def get_service(service_id: IdPath, session: SessionDep, _: ReadKey) -> ServiceRead:
    """One service by id; 404 when no service has it."""
    return await service.get_service(session, service_id=service_id)


@router.patch(
    "/{service_id}",
    response_model=ServiceRead,
    summary="Change a service",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_service(
    service_id: IdPath, body: ServiceUpdate, session: SessionDep, _: WriteKey
) -> ServiceRead:
    """Changes only the fields the body names. A new list price applies to lines added from
    now on; existing contract lines keep their own unit_price."""
    return await service.update_service(session, service_id=service_id, data=body)


@router.delete(
    "/{service_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a service that nothing references (its price book included)",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_service(service_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    """Only while no other record refers to it: otherwise a 409 whose `referenced_by` says
    what still does (e.g. "4 contract lines"). Deactivate (`active: false`) to keep history."""
    await service.delete_service(session, service_id=service_id)


@router.post(
    "/{service_id}/costs",
    status_code=201,
    response_model=ServiceCostRead,
    summary="Add a price-book entry: the standard unit cost from a day on",
    description="The service's standard unit cost from `effective_from` until the next "
    "entry (docs/price-book.md). A second entry with the same `effective_from` is a 409.",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def create_service_cost(
    service_id: IdPath, body: ServiceCostCreate, session: SessionDep, _: WriteKey
) -> ServiceCostRead:
    return await costs.add_cost(session, service_id=service_id, data=body)


@router.get(
    "/{service_id}/costs",
    response_model=Page[ServiceCostRead],
    summary="List the service's price book, by effective_from",
    description="The entries, earliest first: the standard unit cost on a day is the entry "
    "with the latest `effective_from` on or before it, else the service's `unit_cost` "
    "(docs/price-book.md#standard-unit-cost).",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def list_service_costs(
    service_id: IdPath, session: SessionDep, _: ReadKey, page: PageDep
) -> Page[ServiceCostRead]:
    return await costs.list_costs(session, service_id=service_id, page=page)


@router.delete(
    "/{service_id}/costs/{entry_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a price-book entry",
    description="The standard falls back to the entry before it (or the service's "
    "`unit_cost`); audits run afterwards hold lines to that.",
    responses={**AUTH, **problem_responses(404)},
)
async def delete_service_cost(
    service_id: IdPath, entry_id: IdPath, session: SessionDep, _: WriteKey
) -> None:
    await costs.delete_cost(session, service_id=service_id, entry_id=entry_id)
