"""HTTP for customer invoices."""

from __future__ import annotations

from app.billing import service
from app.billing.models import (
    CustomerInvoiceCreate,
    CustomerInvoiceDetail,
    CustomerInvoiceRead,
    CustomerInvoiceUpdate,
    InvoiceStatus,
)
from app.core.auth import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.periods import OptionalPeriodQuery
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery

router = api_router(prefix="/customer-invoices", tags=["customer-invoices"])


@router.post(
    "",
    status_code=201,
    response_model=CustomerInvoiceDetail,
    summary="Record a customer invoice issued elsewhere (the PSA)",
    description="Every invoice but a void one counts as billing the customer for its period. "
    "A line's amount defaults to quantity x unit_price rounded half-up; `number` is unique "
    "and at most 21 characters (QuickBooks' DocNumber).",
    responses=problem_responses(401, 403, 409, 422),
)
async def record_invoice(body: CustomerInvoiceCreate, session: SessionDep, _: WriteKey) -> object:
    return await service.record_invoice(session, data=body)


@router.get(
    "",
    response_model=Page[CustomerInvoiceRead],
    summary="List customer invoices",
    responses=problem_responses(401, 403, 422),
)
async def list_invoices(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    period: OptionalPeriodQuery,
    customer_id: IdQuery = None,
    status: InvoiceStatus | None = None,
) -> object:
    return await service.list_invoices(
        session, page=page, customer_id=customer_id, period=period, status=status
    )


@router.get(
    "/{invoice_id}",
    response_model=CustomerInvoiceDetail,
    summary="Get a customer invoice with its lines",
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(invoice_id: IdPath, session: SessionDep, _: ReadKey) -> object:
    return await service.get_invoice(session, invoice_id=invoice_id)


@router.patch(
    "/{invoice_id}",
    response_model=CustomerInvoiceDetail,
    summary="Post or void a customer invoice",
    description="draft -> posted or void; posted -> void; a void invoice stays void.",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_invoice(
    invoice_id: IdPath, body: CustomerInvoiceUpdate, session: SessionDep, _: WriteKey
) -> object:
    return await service.update_invoice(session, invoice_id=invoice_id, data=body)
