"""HTTP for import profiles: parse, call the service, shape. A profile is addressed by its
id or its name; built-in ones by name only, and they are read-only (409)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import File, Form, Path, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import DecimalRoute, api_router
from app.import_profiles import importer, service
from app.import_profiles.models import (
    ImportedInvoices,
    ImportPreview,
    ImportProfileCreate,
    ImportProfileRead,
    ImportProfileUpdate,
    check_ref,
)
from app.vendor_invoices import csv_import
from app.vendor_invoices.models import VendorInvoiceReceived

router = api_router(prefix="/import-profiles", tags=["import-profiles"])

AUTH = problem_responses(401, 403)
ProfileRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The profile's id, or its name (built-in profiles have only a name)",
        examples=["microsoft-partner-center"],
    ),
    AfterValidator(check_ref),
]


@router.post(
    "",
    status_code=201,
    response_model=ImportProfileRead,
    summary="Create an import profile",
    description="Names are unique (a 409), built-in names included. `columns` must map "
    "quantity and unit_cost; see docs/vendor-bills.md#import-profiles.",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_import_profile(
    body: ImportProfileCreate, session: SessionDep, _: WriteKey
) -> ImportProfileRead:
    return await service.create_profile(session, data=body)


@router.get(
    "",
    response_model=Page[ImportProfileRead],
    summary="List import profiles: the built-in ones first, then yours by id",
    responses={**AUTH, **problem_responses(422)},
)
async def list_import_profiles(
    session: SessionDep, _: ReadKey, page: PageDep
) -> Page[ImportProfileRead]:
    """How distributors' CSV files are read (docs/vendor-bills.md): the built-in profiles
    first, then the ones created here, in id order."""
    return await service.list_profiles(session, page=page)


@router.get(
    "/{profile}",
    response_model=ImportProfileRead,
    summary="Get an import profile by id or name",
    responses={**AUTH, **problem_responses(404)},
)
async def get_import_profile(
    profile: ProfileRef, session: SessionDep, _: ReadKey
) -> ImportProfileRead:
    """One import profile, named by its id or its name; 404 when none matches."""
    return await service.get_profile(session, ref=profile)


@router.patch(
    "/{profile}",
    response_model=ImportProfileRead,
    summary="Change an import profile (a built-in one: 409)",
    description="Each field given replaces the stored one whole; the profile must still "
    "hold together (columns map quantity and unit_cost; cycle_months needs cycle).",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_import_profile(
    profile: ProfileRef, body: ImportProfileUpdate, session: SessionDep, _: WriteKey
) -> ImportProfileRead:
    return await service.update_profile(session, ref=profile, data=body)


@router.delete(
    "/{profile}",
    status_code=204,
    response_class=Response,
    summary="Delete an import profile (a built-in one: 409)",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_import_profile(profile: ProfileRef, session: SessionDep, _: WriteKey) -> None:
    """Deletes a profile created here; the built-in profiles cannot be deleted (409)."""
    await service.delete_profile(session, ref=profile)


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
) -> VendorInvoiceReceived | ImportedInvoices | JSONResponse:
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


# The import of vendor invoices lives here, with the profiles it reads files through:
# vendor invoices are what it makes, and that package knows nothing of profiles.
import_router = api_router(tags=["vendor-invoices"])
import_router.add_api_route(
    "/vendor-invoices/import",
    import_invoice,
    methods=["POST"],
    status_code=201,
    response_model=VendorInvoiceReceived | ImportedInvoices,
    summary="Import vendor invoices from a CSV file, through an import profile",
    description=IMPORT_DESCRIPTION,
    responses={
        201: {
            "description": "Without `profile`: the invoice (VendorInvoiceReceived), as before. "
            "With `profile`: `{invoices: [...]}` (ImportedInvoices), one per invoice number"
        },
        200: {"model": ImportPreview, "description": "`dry_run=true`: nothing was stored"},
        **problem_responses(401, 403, 409, 422),
    },
    route_class_override=FormRoute,
)
