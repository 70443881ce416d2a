"""HTTP for customer invoices."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from app.auth.dependencies import ReadKey, WriteKey
from app.billing import quickbooks, runs, service
from app.billing.models import (
    BillingRunCreate,
    BillingRunDryRun,
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
    """Customer invoices in id order, one page at a time, optionally for one period,
    customer or status."""
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
    """One customer invoice with its lines."""
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


MAPPING_409 = (
    "A 409 problem when the customer or a service has no `quickbooks_id`: its `missing` lists "
    "every gap as {kind: customer|service, id, name}; lines without a service need "
    "MSP_QUICKBOOKS_DEFAULT_ITEM_ID (then `missing_settings` names it). This service's own "
    "ids are never sent instead."
)


@router.get(
    "/{invoice_id}/quickbooks",
    response_model=quickbooks.QBDocument,
    summary="The invoice as a QuickBooks Online Invoice, or CreditMemo when its total is negative",
    description="QuickBooks' own JSON (numbers, not strings), ready to POST: CustomerRef and "
    "ItemRef carry the customer's and the services' `quickbooks_id`. Every line keeps Amount = "
    "Qty x UnitPrice to the cent (QuickBooks error 6070), prorated lines included, with "
    "UnitPrice >= 0 and Qty signed; a credit memo carries the lines with their signs turned, "
    "so that TotalAmt is positive. DocNumber has at most 21 characters. " + MAPPING_409,
    responses=problem_responses(401, 403, 404, 409),
)
async def invoice_quickbooks(
    invoice_id: IdPath, request: Request, session: SessionDep, _: ReadKey
) -> Response:
    body = await quickbooks.invoice_json(
        session,
        invoice_id=invoice_id,
        default_item_id=request.app.state.settings.quickbooks_default_item_id,
    )
    return Response(body, media_type=JSON)


@runs_router.post(
    "",
    status_code=201,
    response_model=BillingRunRead,
    summary="Draft the customer invoices of a period, or show what the run would draft",
    description="A draft invoice for each customer with contracted revenue in the period and "
    "no invoice for it yet, one line per contract line, prorated. Drafts of earlier runs of the "
    "period are regenerated from the current contracts; posted, void and recorded invoices are "
    "never touched; nothing is duplicated. Answers 201 with the run. With `dry_run: true`, "
    "answers 200 with the drafts the run would make (no ids for new ones) and, per customer, "
    "the revenue they bill, the cost known so far (as the profitability report counts it), "
    "profit and margin, and stores nothing (docs/exports.md#dry-run).",
    responses={
        201: {"description": "The run; its drafts are stored"},
        200: {
            "model": BillingRunDryRun,
            "description": "`dry_run: true`: what the run would draft, with each customer's "
            "figures; nothing is stored",
        },
        **problem_responses(401, 403, 422),
    },
)
async def run_billing(
    body: BillingRunCreate, request: Request, session: SessionDep, principal: WriteKey
) -> BillingRunRead | Response:
    if body.dry_run:
        preview = await runs.dry_run(
            session, period=body.period, cost_of=request.app.state.customer_cost
        )
        return JSONResponse(preview.model_dump(mode="json"), status_code=200)
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
    """Billing runs in id order, optionally for one period, each with the invoices it
    created and regenerated, the customers it skipped and its total
    (docs/exports.md#billing-runs)."""
    return await runs.list_runs(session, page=page, period=period)


@exports_router.get(
    "/quickbooks",
    response_model=list[quickbooks.QBBatch],
    summary="Every customer invoice of a period as QuickBooks Online batch request bodies",
    description="A list of bodies for QuickBooks' batch endpoint, at most 30 items each, one "
    "`create` of an Invoice or CreditMemo per invoice of the period that is not void, in "
    "number order; `bId` is the invoice number (unique). An empty list when there is none. "
    + MAPPING_409,
    responses=problem_responses(401, 403, 409, 422),
)
async def export_quickbooks(
    request: Request, session: SessionDep, _: ReadKey, period: PeriodQuery
) -> Response:
    body = await quickbooks.export_json(
        session,
        period=period,
        default_item_id=request.app.state.settings.quickbooks_default_item_id,
    )
    return Response(body, media_type=JSON)


@exports_router.get(
    "/quickbooks/unmapped",
    response_model=quickbooks.Unmapped,
    summary="The customers and services of a period's invoices without a quickbooks_id",
    description="What to map (PATCH `quickbooks_id`) before the period exports to QuickBooks "
    "Online: the customers and services, in id order, of the period's invoices that are not "
    "void.",
    responses=problem_responses(401, 403, 422),
)
async def unmapped_quickbooks(
    session: SessionDep, _: ReadKey, period: PeriodQuery
) -> quickbooks.Unmapped:
    return await quickbooks.unmapped(session, period=period)


@exports_router.get(
    "/quickbooks.iif",
    response_class=Response,
    summary="Every customer invoice of a period as QuickBooks Desktop IIF",
    description="Tab-separated !TRNS/!SPL/!ENDTRNS blocks in Windows-1252 with CRLF line ends: "
    "TRNSTYPE INVOICE, or CREDIT MEMO for a negative total; the total to the receivable "
    "account (MSP_QUICKBOOKS_AR_ACCOUNT) on TRNS, one SPL per line to its income account. "
    "Names, not QuickBooks Ids: no mapping is needed. A character Windows-1252 lacks becomes "
    "its closest ASCII form; header X-Transliterated then lists the original names that "
    "changed, percent-encoded UTF-8, comma-separated.",
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "IIF, encoded in Windows-1252 as QuickBooks Desktop reads it",
            "headers": {
                "X-Transliterated": {
                    "description": "The original names that had to be spelled otherwise, "
                    "percent-encoded UTF-8, comma-separated; absent when none",
                    "schema": {"type": "string"},
                }
            },
        },
        **problem_responses(401, 403, 422),
    },
)
async def export_iif(
    request: Request, session: SessionDep, _: ReadKey, period: PeriodQuery
) -> Response:
    export = await quickbooks.export_iif(
        session, period=period, ar_account=request.app.state.settings.quickbooks_ar_account
    )
    headers = {"Content-Disposition": f'attachment; filename="invoices-{period}.iif"'}
    if export.transliterated_header is not None:
        headers["X-Transliterated"] = export.transliterated_header
    return Response(export.content, media_type="text/plain; charset=windows-1252", headers=headers)
