"""HTTP for vendors: parse, call the service, shape. The webhook secret appears only in
the answer to the create."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath
from app.vendors import service
from app.vendors.models import (
    VendorCreate,
    VendorCreated,
    VendorRead,
    VendorUpdate,
    WebhookSecretRotate,
    WebhookSecretRotated,
)

router = api_router(prefix="/vendors", tags=["vendors"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=VendorCreated,
    summary="Create a vendor (the answer shows its webhook secret, once)",
    responses={**AUTH, **problem_responses(422)},
)
async def create_vendor(body: VendorCreate, session: SessionDep, _: WriteKey) -> VendorCreated:
    """A vendor or distributor. Its `webhook_secret` (`whsec_` + base64) signs its webhook
    deliveries (docs/webhooks.md); it is generated when not given and returned only in
    this answer."""
    return await service.create_vendor(session, data=body)


@router.get(
    "",
    response_model=Page[VendorRead],
    summary="List vendors",
    responses={**AUTH, **problem_responses(422)},
)
async def list_vendors(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    q: Annotated[str | None, Query(description="Search in name")] = None,
) -> Page[VendorRead]:
    """Vendors in id order, one page at a time, optionally searched by name."""
    return await service.list_vendors(session, page=page, q=q)


@router.get(
    "/{vendor_id}",
    response_model=VendorRead,
    summary="Get a vendor",
    responses={**AUTH, **problem_responses(404)},
)
async def get_vendor(vendor_id: IdPath, session: SessionDep, _: ReadKey) -> VendorRead:
    """One vendor by id (never its webhook secret); 404 when no vendor has it."""
    return await service.get_vendor(session, vendor_id=vendor_id)


@router.patch(
    "/{vendor_id}",
    response_model=VendorRead,
    summary="Change a vendor",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def update_vendor(
    vendor_id: IdPath, body: VendorUpdate, session: SessionDep, _: WriteKey
) -> VendorRead:
    """Changes only the fields the body names; the webhook secret changes through POST
    /vendors/{vendor_id}/webhook-secret."""
    return await service.update_vendor(session, vendor_id=vendor_id, data=body)


@router.delete(
    "/{vendor_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a vendor that nothing references",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_vendor(vendor_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    """Only while no other record refers to it: otherwise a 409 whose `referenced_by` says
    what still does (e.g. "3 services")."""
    await service.delete_vendor(session, vendor_id=vendor_id)


@router.post(
    "/{vendor_id}/webhook-secret",
    response_model=WebhookSecretRotated,
    summary="Rotate the webhook secret (the old one keeps verifying for 24 hours)",
    description="Returns the new secret, once. Send no body to have one generated.",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def rotate_webhook_secret(
    vendor_id: IdPath,
    session: SessionDep,
    _: WriteKey,
    body: Annotated[WebhookSecretRotate | None, Body()] = None,
) -> WebhookSecretRotated:
    return await service.rotate_webhook_secret(
        session, vendor_id=vendor_id, data=body or WebhookSecretRotate()
    )
