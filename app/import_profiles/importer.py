"""A distributor's file in, through a profile (docs/vendor-bills.md#importing-through-a-profile):
the form fills what the profile does not map, each invoice number of the file becomes an
invoice, all in the request's one transaction; a dry run answers what would be stored
and stores nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audits.checks import checks_of
from app.core.db import repeatable_reads
from app.core.errors import Invalid, field_error
from app.core.money import Amount
from app.core.periods import Period, PeriodField
from app.core.types import Currency, Day, Id, Name
from app.import_profiles import service as profiles
from app.import_profiles.models import (
    ImportedInvoices,
    ImportPreview,
    InvoicePreview,
    LinePreview,
)
from app.import_profiles.parsing import ParsedLine, Profile, parse_file
from app.vendor_invoices import service as invoices
from app.vendor_invoices.csv_import import ErrorList, _message, decode, parse_csv
from app.vendor_invoices.models import (
    InvoiceSource,
    LineKind,
    VendorInvoicePayload,
    VendorInvoiceReceived,
)
from app.vendors.models import Vendor


class ProfileForm(BaseModel):
    """The form fields of an import through a profile: each fills what the profile does
    not map, so each is optional here; what is still missing is reported after."""

    vendor_id: Id | None = None
    invoice_number: Name | None = None
    invoice_date: Day | None = None
    period: PeriodField | None = None
    currency: Currency | None = None
    total: Amount | None = None


def _form(fields: Mapping[str, str | None], errors: ErrorList) -> ProfileForm:
    given = {name: value for name, value in fields.items() if value is not None and value != ""}
    try:
        return ProfileForm.model_validate(given)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"])
            errors.add(f"form.{name}", _message(error), error["type"])
            given.pop(name, None)
        return ProfileForm.model_validate(given)


@dataclass
class _Invoice:
    number: str
    from_file: bool
    lines: list[ParsedLine] = field(default_factory=list)


def _group(parsed: list[ParsedLine], form: ProfileForm, errors: ErrorList) -> list[_Invoice]:
    """The file's invoices in the order they first appear; rows without a number belong to
    the form's invoice_number."""
    groups: dict[str, _Invoice] = {}
    missing = False
    for line in parsed:
        number = line.invoice_number or form.invoice_number
        if number is None:
            missing = True
            continue
        groups.setdefault(number, _Invoice(number, line.invoice_number is not None))
        groups[number].lines.append(line)
    if missing:
        errors.add(
            "form.invoice_number",
            "is required: the profile maps no invoice number, or some rows leave it empty",
            "missing",
        )
    return list(groups.values())


def _one(values: list[tuple[int, object]], name: str, number: str, errors: ErrorList) -> object:
    """The one value rows of an invoice give for a header field (None when none does)."""
    given = [(row, value) for row, value in values if value is not None]
    if not given:
        return None
    first_row, first = given[0]
    for row, value in given[1:]:
        if value != first:
            errors.add(
                f"file.line {row}.{name}",
                f"invoice {number} has {name} {first} on line {first_row} and {value} here",
                "inconsistent",
            )
    return first


def derived_period(lines: list[ParsedLine]) -> Period | None:
    """The month most of an invoice's lines start in (the later one on a tie): a
    distributor's invoice bills the month most of its charges begin
    (docs/vendor-bills.md#importing-through-a-profile)."""
    months = Counter(
        Period.of(line.line.charge_start) for line in lines if line.line.charge_start is not None
    )
    if not months:
        return None
    return max(months, key=lambda month: (months[month], month))


def _payloads(
    groups: list[_Invoice], form: ProfileForm, errors: ErrorList
) -> list[tuple[VendorInvoicePayload, bool, str]]:
    """Each invoice as the payload ingestion takes, whether its total was given, and the
    prefix its errors are named by."""
    if form.total is not None and len(groups) > 1:
        errors.add(
            "form.total",
            f"the file holds {len(groups)} invoices; a total given in the form fits one only "
            "(each invoice's total is then the sum of its line amounts)",
            "ambiguous",
        )
    out = []
    for group in groups:
        invoice_date = _one(
            [(line.row, line.invoice_date) for line in group.lines],
            "invoice_date",
            group.number,
            errors,
        )
        currency = _one(
            [(line.row, line.currency) for line in group.lines], "currency", group.number, errors
        )
        invoice_date = invoice_date or form.invoice_date
        period = form.period or derived_period(group.lines)
        where = f"invoice {group.number}: " if group.from_file else ""
        if invoice_date is None:
            errors.add(
                "form.invoice_date",
                f"{where}is required: the profile maps no invoice date",
                "missing",
            )
        if period is None:
            errors.add(
                "form.period",
                f"{where}is required: the profile maps no period and the lines carry no "
                "charge dates to derive it from",
                "missing",
            )
        if invoice_date is None or period is None:
            continue
        assert isinstance(invoice_date, date)
        try:
            payload = VendorInvoicePayload(
                invoice_number=group.number,
                invoice_date=invoice_date,
                period=period,
                currency=str(currency) if currency else form.currency,
                total=form.total if form.total is not None else Decimal(0),
                lines=[line.line for line in group.lines],
            )
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                name = ".".join(str(part) for part in error["loc"])
                errors.add(f"form.{name}", f"{where}{_message(error)}", error["type"])
            continue
        prefix = f"file.invoice {group.number}" if group.from_file else "form"
        out.append((payload, form.total is not None, prefix))
    return out


def _lines(profile: Profile, text: str, errors: ErrorList) -> list[ParsedLine]:
    if profile.canonical:
        return [ParsedLine(row=0, line=line) for line in parse_csv(text, errors)]
    return parse_file(text, profile, errors)


async def import_file(
    session: AsyncSession,
    *,
    profile_ref: str | None,
    fields: Mapping[str, str | None],
    content: bytes | None,
    dry_run: bool,
) -> ImportedInvoices | ImportPreview:
    """Every invoice of the file stored (flushed, not committed: the request commits), or
    with `dry_run` only shown. Invalid with every error of the form and the file else;
    nothing is stored then, nor when any one invoice fails."""
    # The invoices' checks read one state (docs/checks.md#consistency).
    await repeatable_reads(session)
    profile = await profiles.resolve(session, profile_ref)
    errors = ErrorList()
    form = _form(fields, errors)
    vendor_id = form.vendor_id or profile.vendor_id
    if form.vendor_id and profile.vendor_id and form.vendor_id != profile.vendor_id:
        errors.add(
            "form.vendor_id",
            f"the profile {profile.name} is vendor {profile.vendor_id}'s, not {form.vendor_id}'s",
            "mismatch",
        )
    elif vendor_id is None and "vendor_id" not in {e["field"] for e in errors.items}:
        errors.add("form.vendor_id", "is required: the profile names no vendor", "missing")
    text = decode(content, errors)
    parsed = _lines(profile, text, errors) if text is not None else []
    payloads = _payloads(_group(parsed, form, errors), form, errors) if parsed else []
    errors.raise_if_any()
    assert vendor_id is not None
    vendor = await session.get(Vendor, vendor_id)
    if vendor is None:
        message = f"vendor {vendor_id} does not exist"
        raise Invalid(message, errors=[field_error("form.vendor_id", message, "not_found")])
    stored = []
    for payload, total_given, prefix in payloads:
        invoice = await invoices.ingest(
            session, vendor=vendor, payload=payload, source=InvoiceSource.csv, field_prefix=prefix
        )
        if not total_given:
            invoice.total = invoice.lines_total
        stored.append(invoice)
    # Each invoice answered with its own checks (docs/checks.md); a dry run announces
    # nothing.
    if dry_run:
        await session.flush()
        checks = await checks_of(session, stored)
    else:
        checks = await invoices.announce(session, stored)
    details = [await invoices.received(session, i, checks[invoices.stored_id(i)]) for i in stored]
    if dry_run:
        # Everything ran through the one ingestion path, matching and checks, as a real
        # import would; dropping the request's transaction here is what makes it a dry run.
        await session.rollback()
        return preview(details)
    return ImportedInvoices(invoices=details)


def preview(details: list[VendorInvoiceReceived]) -> ImportPreview:
    skus: set[str] = set()
    accounts: set[str] = set()
    shown = []
    for detail in details:
        lines = [LinePreview.model_validate(line.model_dump()) for line in detail.lines]
        for line in lines:
            if line.kind is LineKind.adjustment:
                continue
            if line.service_id is None:
                skus.add(line.vendor_sku)
            if line.customer_id is None:
                accounts.add(line.account_ref)
        shown.append(
            InvoicePreview.model_validate({**detail.model_dump(exclude={"lines"}), "lines": lines})
        )
    return ImportPreview(invoices=shown, unmapped_skus=len(skus), unmapped_accounts=len(accounts))
