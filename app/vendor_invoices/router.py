"""HTTP for vendor invoices and the unmapped to-do list."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.auth.models import Scope
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.periods import OptionalPeriodQuery
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery
from app.vendor_invoices import service
from app.vendor_invoices.models import (
    Unmapped,
    VendorInvoiceCreate,
    VendorInvoiceDetail,
    VendorInvoiceRead,
    VendorInvoiceReceived,
)

router = api_router(tags=["vendor-invoices"])


@router.post(
    "/vendor-invoices",
    status_code=201,
    response_model=VendorInvoiceReceived,
    summary="Record a vendor invoice",
    description="`amount` defaults to quantity x unit_cost rounded half-up; the currency "
    "must be the vendor's; the same (vendor_id, invoice_number) again is a 409. The answer "
    "carries `checks`: what the audit of the invoice's month would find about it alone "
    "(price rises, unmapped lines, a total mismatch, duplicate charges, orphaned cost), "
    "before the bill is paid (docs/checks.md).",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_invoice(
    body: VendorInvoiceCreate, session: SessionDep, _: WriteKey
) -> VendorInvoiceReceived:
    return await service.create_invoice(session, data=body)


@router.get(
    "/vendor-invoices",
    response_model=Page[VendorInvoiceRead],
    summary="List vendor invoices",
    responses=problem_responses(401, 403, 422),
)
async def list_invoices(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    period: OptionalPeriodQuery,
    vendor_id: IdQuery = None,
    invoice_number: str | None = None,
) -> Page[VendorInvoiceRead]:
    """Vendor invoices in id order, one page at a time, optionally for one period, vendor
    or invoice number."""
    return await service.list_invoices(
        session, page=page, vendor_id=vendor_id, period=period, invoice_number=invoice_number
    )


@router.get(
    "/vendor-invoices/{invoice_id}",
    response_model=VendorInvoiceDetail,
    summary="Get a vendor invoice with its lines and what each matches",
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(invoice_id: IdPath, session: SessionDep, _: ReadKey) -> VendorInvoiceDetail:
    """One vendor invoice with its lines, and for each line the service and customer it
    matches now (matching follows the current mappings,
    docs/month-arithmetic.md#matching-vendor-lines)."""
    return await service.get_invoice(session, invoice_id=invoice_id)


@router.delete(
    "/vendor-invoices/{invoice_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a vendor invoice",
    description="A 409 once an audit has used it, unless `force=true` with an admin key.",
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_invoice(
    invoice_id: IdPath,
    session: SessionDep,
    principal: WriteKey,
    force: Annotated[bool, Query(description="Delete even if an audit used it (admin)")] = False,
) -> None:
    await service.delete_invoice(
        session, invoice_id=invoice_id, force=force, is_admin=principal.allows(Scope.admin)
    )


@router.get(
    "/unmapped",
    response_model=Unmapped,
    summary="Vendor SKUs and account refs that match nothing, per period",
    description="The to-do list to clear before an audit: add a service's vendor_sku or a "
    "customer's vendor account and old invoices match without re-ingesting them. With "
    "`period`, that month; without it, every month that has such lines, newest first, "
    "`limit` months a page (docs/month-arithmetic.md#unmapped-lines).",
    responses=problem_responses(401, 403, 422),
)
async def unmapped(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    period: OptionalPeriodQuery,
    vendor_id: IdQuery = None,
) -> Unmapped:
    return await service.unmapped(session, period=period, page=page, vendor_id=vendor_id)
