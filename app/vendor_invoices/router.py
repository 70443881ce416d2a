"""HTTP for vendor invoices and the unmapped to-do list."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import File, Form, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.auth.dependencies import ReadKey, WriteKey
from app.auth.models import Scope
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.periods import OptionalPeriodQuery, PeriodQuery
from app.core.routing import DecimalRoute, api_router
from app.core.types import IdPath, IdQuery
from app.import_profiles import importer
from app.import_profiles.models import ImportedInvoices, ImportPreview
from app.vendor_invoices import csv_import, service
from app.vendor_invoices.models import (
    Unmapped,
    VendorInvoiceCreate,
    VendorInvoiceDetail,
    VendorInvoiceRead,
)

router = api_router(tags=["vendor-invoices"])


@router.post(
    "/vendor-invoices",
    status_code=201,
    response_model=VendorInvoiceDetail,
    summary="Record a vendor invoice",
    description="`amount` defaults to quantity x unit_cost rounded half-up; the currency "
    "must be the vendor's; the same (vendor_id, invoice_number) again is a 409.",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_invoice(
    body: VendorInvoiceCreate, session: SessionDep, _: WriteKey
) -> VendorInvoiceDetail:
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
    return await service.list_invoices(
        session, page=page, vendor_id=vendor_id, period=period, invoice_number=invoice_number
    )


class FormRoute(DecimalRoute):
    """Validation errors of a form route name `form.<field>` (and `file` for the upload),
    as the errors the import itself reports do, instead of FastAPI's `body.<field>`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def form_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError(
                    [_form_location(error) for error in exc.errors()], body=exc.body
                ) from None

        return form_handler


def _form_location(error: Any) -> Any:
    loc = tuple(error.get("loc", ()))
    if loc[:1] == ("body",) and len(loc) > 1:
        loc = ("file",) if loc[1] == "file" else ("form", *loc[1:])
    return {**error, "loc": loc}


IMPORT_DESCRIPTION = f"""
The same invoice as `POST /vendor-invoices`, its lines from a CSV file (UTF-8, with or
without a BOM) whose header is

    {csv_import.HEADER}

Columns may come in any order and in any case; `description` and `amount` are optional
(an empty amount is quantity x unit_cost rounded half-up); other columns are ignored. The
separator is `,` or `;` (read from the header line); with `;`, numbers may use a decimal
comma (`1,50`). Quoted fields, CRLF and blank lines are fine. At most {csv_import.MAX_LINES}
rows.

A bad row fails the whole import, nothing is stored: the 422 lists every bad row and
column as `file.line <n>.<column>`, `n` being the line of the file as an editor numbers it
(at most {csv_import.MAX_ERRORS} errors are listed; `error_count` counts them all). Bad
form fields are `form.<field>`.

**A distributor's own file** (docs/vendor-bills.md#import-profiles): name an import
profile in `profile` (`microsoft-partner-center`, `pax8`, `canonical` or your own, by name
or id) and upload the file as downloaded. The form then fills only what the profile does
not map: `invoice_number`, `invoice_date`, `period` (else the month most lines' charge_start
falls in) and `total` (else the sum of the line amounts). Each invoice number in the file
becomes an invoice, all stored or none; the answer is `{{"invoices": [...]}}` (201), even for
one. Bad cells are `file.line <n>.<field>`, the message naming the column and the value.
`dry_run=true` answers 200 with the invoices as they would be stored (no ids) and the
counts of unmapped SKUs and accounts, and stores nothing.
"""


async def import_invoice(
    session: SessionDep,
    _: WriteKey,
    file: Annotated[
        UploadFile | None, File(description=f"The CSV file; header: {csv_import.HEADER}")
    ] = None,
    vendor_id: Annotated[
        str | None,
        Form(
            description="The vendor's id (default: the profile's vendor)",
            json_schema_extra={"type": "integer"},
        ),
    ] = None,
    invoice_number: Annotated[
        str | None, Form(description="The vendor's invoice number, unless the profile maps it")
    ] = None,
    invoice_date: Annotated[
        str | None,
        Form(
            description="YYYY-MM-DD, unless the profile maps it",
            json_schema_extra={"format": "date"},
        ),
    ] = None,
    period: Annotated[
        str | None,
        Form(
            description="The month invoiced, YYYY-MM; with a profile, derived from the lines' "
            "charge_start when not given",
            examples=["2026-10"],
        ),
    ] = None,
    total: Annotated[
        str | None,
        Form(
            description="The invoice total, e.g. 1234.50; with a profile, the sum of the line "
            "amounts when not given"
        ),
    ] = None,
    currency: Annotated[
        str | None, Form(description="ISO 4217; must be the vendor's, which is the default")
    ] = None,
    profile: Annotated[
        str | None,
        Form(
            description="An import profile's id or name (see /import-profiles); default canonical"
        ),
    ] = None,
    dry_run: Annotated[
        bool, Form(description="Answer 200 with what would be stored, and store nothing")
    ] = False,
) -> VendorInvoiceDetail | ImportedInvoices | JSONResponse:
    # Read one byte past the limit so that the parser can tell a file that is too large.
    content = None if file is None else await file.read(csv_import.MAX_FILE_BYTES + 1)
    fields = {
        "vendor_id": vendor_id,
        "invoice_number": invoice_number,
        "invoice_date": invoice_date,
        "period": period,
        "total": total,
        "currency": currency,
    }
    if profile is None and not dry_run:
        # Without a profile the answer is the one invoice, as it always was.
        return await csv_import.import_invoice(session, fields=fields, content=content)
    result = await importer.import_file(
        session, profile_ref=profile, fields=fields, content=content, dry_run=dry_run
    )
    if isinstance(result, ImportPreview):
        return JSONResponse(result.model_dump(mode="json"), status_code=200)
    return result


# Registered before /vendor-invoices/{invoice_id}, so that no path parameter ever takes
# "import" for an id.
router.add_api_route(
    "/vendor-invoices/import",
    import_invoice,
    methods=["POST"],
    status_code=201,
    response_model=VendorInvoiceDetail | ImportedInvoices,
    summary="Import vendor invoices from a CSV file, through an import profile",
    description=IMPORT_DESCRIPTION,
    responses={
        201: {
            "description": "Without `profile`: the invoice (VendorInvoiceDetail), as before. "
            "With `profile`: `{invoices: [...]}` (ImportedInvoices), one per invoice number"
        },
        200: {"model": ImportPreview, "description": "`dry_run=true`: nothing was stored"},
        **problem_responses(401, 403, 409, 422),
    },
    route_class_override=FormRoute,
)


@router.get(
    "/vendor-invoices/{invoice_id}",
    response_model=VendorInvoiceDetail,
    summary="Get a vendor invoice with its lines and what each matches",
    responses=problem_responses(401, 403, 404),
)
async def get_invoice(invoice_id: IdPath, session: SessionDep, _: ReadKey) -> VendorInvoiceDetail:
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
    summary="Vendor SKUs and account refs that match nothing, for a period",
    description="The to-do list to clear before an audit: add a service's vendor_sku or a "
    "customer's vendor account and old invoices match without re-ingesting them.",
    responses=problem_responses(401, 403, 422),
)
async def unmapped(
    session: SessionDep,
    _: ReadKey,
    period: PeriodQuery,
    vendor_id: IdQuery = None,
) -> Unmapped:
    return await service.unmapped(session, period=period, vendor_id=vendor_id)
