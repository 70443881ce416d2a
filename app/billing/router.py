"""HTTP for customer invoices."""

from __future__ import annotations

from fastapi import Response

from app.auth.dependencies import ReadKey, WriteKey
from app.billing import quickbooks, runs, service
from app.billing.models import (
    BillingRunCreate,
    BillingRunRead,
    CustomerInvoiceCreate,
    CustomerInvoiceDetail,
    CustomerInvoiceRead,
    CustomerInvoiceUpdate,
    InvoiceStatus,
)
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.periods import OptionalPeriodQuery, PeriodQuery
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery

router = api_router(prefix="/customer-invoices", tags=["customer-invoices"])
runs_router = api_router(prefix="/billing-runs", tags=["billing-runs"])
exports_router = api_router(prefix="/exports", tags=["exports"])


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
async def record_invoice(
    body: CustomerInvoiceCreate, session: SessionDep, _: WriteKey
) -> CustomerInvoiceDetail:
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
) -> Page[CustomerInvoiceRead]:
    return await service.list_invoices(
        session, page=page, customer_id=customer_id, period=period, status=status
    )


@router.get(
    "/{invoice_id}",
    response_model=CustomerInvoiceDetail,
    summary="Get a customer invoice with its lines",
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(invoice_id: IdPath, session: SessionDep, _: ReadKey) -> CustomerInvoiceDetail:
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
) -> CustomerInvoiceDetail:
    return await service.update_invoice(session, invoice_id=invoice_id, data=body)


JSON = "application/json"


@router.get(
    "/{invoice_id}/quickbooks",
    response_model=quickbooks.QBInvoice,
    summary="The invoice as a QuickBooks Online Invoice object",
    description="QuickBooks' own JSON (numbers, not strings). Every line keeps Amount = Qty x "
    "UnitPrice to the cent (QuickBooks error 6070), prorated lines included; DocNumber has at "
    "most 21 characters; ItemRef names the service by its sku.",
    responses=problem_responses(401, 403, 404),
)
async def invoice_quickbooks(invoice_id: IdPath, session: SessionDep, _: ReadKey) -> Response:
    return Response(await quickbooks.invoice_json(session, invoice_id=invoice_id), media_type=JSON)


@runs_router.post(
    "",
    status_code=201,
    response_model=BillingRunRead,
    summary="Draft the customer invoices of a period",
    description="A draft invoice for each customer with contracted revenue in the period and "
    "no invoice for it yet, one line per contract line, prorated. Drafts of earlier runs of the "
    "period are regenerated from the current contracts; posted, void and recorded invoices are "
    "never touched; nothing is duplicated.",
    responses=problem_responses(401, 403, 422),
)
async def run_billing(
    body: BillingRunCreate, session: SessionDep, principal: WriteKey
) -> BillingRunRead:
    return await runs.run_billing(session, period=body.period, actor=principal.name)


@runs_router.get(
    "",
    response_model=Page[BillingRunRead],
    summary="List billing runs with their totals",
    responses=problem_responses(401, 403, 422),
)
async def list_runs(
    session: SessionDep, _: ReadKey, page: PageDep, period: OptionalPeriodQuery
) -> Page[BillingRunRead]:
    return await runs.list_runs(session, page=page, period=period)


@exports_router.get(
    "/quickbooks",
    response_model=quickbooks.QBExport,
    summary="Every customer invoice of a period for QuickBooks Online, with its Items",
    description="Void invoices are left out. Each service used appears once in `Item` with "
    "its revenue account as IncomeAccountRef.",
    responses=problem_responses(401, 403, 422),
)
async def export_quickbooks(session: SessionDep, _: ReadKey, period: PeriodQuery) -> Response:
    return Response(await quickbooks.export_json(session, period=period), media_type=JSON)


@exports_router.get(
    "/quickbooks.iif",
    response_class=Response,
    summary="Every customer invoice of a period as QuickBooks Desktop IIF",
    description="Tab-separated !TRNS/!SPL/!ENDTRNS blocks: TRNSTYPE INVOICE, the total to "
    "Accounts Receivable on TRNS, one SPL per line to the service's income account.",
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "IIF, encoded in Windows-1252 as QuickBooks Desktop reads it",
        },
        **problem_responses(401, 403, 422),
    },
)
async def export_iif(session: SessionDep, _: ReadKey, period: PeriodQuery) -> Response:
    # QuickBooks Desktop reads IIF as Windows-1252; a character it cannot hold becomes "?".
    text = await quickbooks.export_iif(session, period=period)
    return Response(
        text.encode("cp1252", errors="replace"),
        media_type="text/plain; charset=windows-1252",
        headers={"Content-Disposition": f'attachment; filename="invoices-{period}.iif"'},
    )
