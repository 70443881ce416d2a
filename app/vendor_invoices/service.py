"""Vendor invoices in: one ingestion path for JSON, CSV and webhooks, views with matching,
the unmapped to-do list, deletion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.bulk import bulk_insert
from app.core.crud import get_or_404, require_reference
from app.core.db import metadata, repeatable_reads
from app.core.errors import Conflict, Forbidden, Invalid, field_error
from app.core.money import AMOUNT_PLACES, check_limit, decimal_sum, line_amounts, round_half_up
from app.core.pagination import Cursor, Page, PageParams, paginate
from app.core.periods import Period, share
from app.customers.models import VendorAccount
from app.events import outbox
from app.events.models import EventType
from app.services.models import Service
from app.vendor_invoices.matching import join_matches, matched_lines
from app.vendor_invoices.models import (
    InvoiceCheck,
    InvoiceLineRead,
    InvoiceSource,
    LineKind,
    Unmapped,
    UnmappedAccount,
    UnmappedSku,
    VendorInvoice,
    VendorInvoiceCreate,
    VendorInvoiceDetail,
    VendorInvoiceLine,
    VendorInvoicePayload,
    VendorInvoiceRead,
    VendorInvoiceReceived,
    check_term_end,
)
from app.vendors.models import Vendor

DUPLICATE_NUMBER = "duplicate invoice number"

# The checks at ingest are the audit's own rules (docs/checks.md), in the audits package,
# which is built on this one: create_app installs them here, so that this package never
# imports that one.
Checker = Callable[
    [AsyncSession, Sequence[VendorInvoice]], Awaitable[dict[int, list[InvoiceCheck]]]
]
_checker: Checker | None = None


def install_checker(checker: Checker) -> None:
    """Set the function that works out the checks of invoices just taken in."""
    global _checker
    _checker = checker


class DuplicateInvoice(Conflict):
    """The vendor already sent this invoice number: a 409, never a copy
    (docs/month-arithmetic.md#vendor-invoices)."""

    code = "duplicate-invoice"


async def ingest(
    session: AsyncSession,
    *,
    vendor: Vendor,
    payload: VendorInvoicePayload,
    source: InvoiceSource,
    field_prefix: str = "body",
) -> VendorInvoice:
    """Validate against the vendor and store the invoice with its lines in bulk; the
    answer is the stored row, for the callers to build their own answers from.

    Does not commit: the caller's transaction also holds, for a webhook, the inbox
    event. A race on the invoice number ends in the unique constraint."""
    assert vendor.id is not None
    currency = payload.currency or vendor.currency
    if currency != vendor.currency:
        message = f"the invoice currency {currency} differs from the vendor's {vendor.currency}"
        raise Invalid(
            f"Invoice {payload.invoice_number}: {message}.",
            errors=[field_error(f"{field_prefix}.currency", message, "currency_mismatch")],
        )
    existing = await session.scalar(
        select(col(VendorInvoice.id)).where(
            col(VendorInvoice.vendor_id) == vendor.id,
            col(VendorInvoice.invoice_number) == payload.invoice_number,
        )
    )
    if existing is not None:
        raise DuplicateInvoice(
            f"Vendor {vendor.id} already sent invoice {payload.invoice_number} "
            f"(invoice {existing}): {DUPLICATE_NUMBER}.",
            errors=[field_error(f"{field_prefix}.invoice_number", DUPLICATE_NUMBER, "duplicate")],
            extra={"invoice_id": existing},
        )
    # The charge period defaults to the invoice's month; the amount to quantity x
    # unit_cost, times the months the period covers for a recurring line, rounded once
    # (docs/vendor-bills.md#amount).
    first, last = payload.period.first_day, payload.period.last_day
    charges = [(line.charge_start or first, line.charge_end or last) for line in payload.lines]
    # A term_end is checked against charge_start by the line itself; against the invoice's
    # month here, where the line gives no charge dates (docs/cancellations.md#term-end).
    term_errors = []
    for number, line in enumerate(payload.lines):
        if line.term_end is not None and line.charge_start is None:
            try:
                check_term_end(first, line.term_end)
            except ValueError as exc:
                where = f"{field_prefix}.lines.{number}.term_end"
                term_errors.append(field_error(where, str(exc), "value_error"))
    if term_errors:
        raise Invalid("Some lines' term_end is not valid: see errors.", errors=term_errors[:50])
    given = [
        line.amount
        if line.amount is not None
        or line.kind is not LineKind.recurring
        or (start, end) == (first, last)
        else round_half_up(Fraction(line.quantity) * Fraction(line.unit_cost) * share(start, end))
        for line, (start, end) in zip(payload.lines, charges, strict=True)
    ]
    # A default over a long charge period is quantity x unit_cost x up to 60 months: the
    # amount itself must fit too.
    check_limit(
        (
            (f"{field_prefix}.lines.{i}.amount", "quantity x unit_cost x share", amount)
            for i, (amount, line) in enumerate(zip(given, payload.lines, strict=True))
            if line.amount is None
        ),
        "Some amounts are too large.",
    )
    amounts = line_amounts(
        [
            (amount, line.quantity, line.unit_cost)
            for amount, line in zip(given, payload.lines, strict=True)
        ],
        f"{field_prefix}.lines",
        "unit_cost",
    )
    period = str(payload.period)
    invoice = VendorInvoice(
        vendor_id=vendor.id,
        invoice_number=payload.invoice_number,
        invoice_date=payload.invoice_date,
        period=period,
        currency=currency,
        total=payload.total,
        line_count=len(amounts),
        lines_total=sum(amounts, Decimal(0)),
        source=source.value,
    )
    session.add(invoice)
    await session.flush()
    rows = [
        {
            "invoice_id": invoice.id,
            "vendor_id": vendor.id,
            "period": period,
            "line_no": number,
            "vendor_sku": line.vendor_sku or "",
            "account_ref": line.account_ref or "",
            "description": line.description,
            "quantity": line.quantity,
            "unit_cost": line.unit_cost,
            "amount": amount,
            "kind": line.kind.value,
            "charge_start": start,
            "charge_end": end,
            "subscription_ref": line.subscription_ref,
            "term_end": line.term_end,
        }
        for number, (line, amount, (start, end)) in enumerate(
            zip(payload.lines, amounts, charges, strict=True), start=1
        )
    ]
    # One COPY (PostgreSQL) or executemany, not one statement per line (nor the ORM's
    # bulk path, which costs more per row and splits rows by their pattern of nulls).
    await bulk_insert(session, VendorInvoiceLine.__table__, rows)  # type: ignore[attr-defined]
    return invoice


async def announce(
    session: AsyncSession, invoices: Sequence[VendorInvoice]
) -> dict[int, list[InvoiceCheck]]:
    """The checks of invoices just taken in, by invoice id (docs/checks.md), and their
    vendor_invoice.received events, each with its checks, written to the outbox in the
    same transaction (docs/events.md#event-types). Called by each way in once the
    invoices are final (an import may still set a total after ingest)."""
    await session.flush()
    assert _checker is not None, "create_app installs the checks (install_checker)"
    checks = await _checker(session, invoices)
    if invoices:
        data = [
            VendorInvoiceRead.model_validate(i).model_dump(mode="json")
            | {"checks": [c.model_dump(mode="json") for c in checks[stored_id(i)]]}
            for i in invoices
        ]
        await outbox.emit(session, EventType.vendor_invoice_received, data)
    return checks


async def create_invoice(
    session: AsyncSession, *, data: VendorInvoiceCreate
) -> VendorInvoiceReceived:
    await repeatable_reads(session)  # its checks read one state (docs/checks.md#consistency)
    vendor = await require_reference(session, Vendor, data.vendor_id, "vendor_id", "vendor")
    invoice = await ingest(session, vendor=vendor, payload=data, source=InvoiceSource.api)
    checks = await announce(session, [invoice])
    await session.flush()
    return await received(session, invoice, checks[stored_id(invoice)])


async def received(
    session: AsyncSession, invoice: VendorInvoice, checks: list[InvoiceCheck]
) -> VendorInvoiceReceived:
    """The answer to an invoice taken in: as GET shows it, with its checks."""
    detail = await get_invoice(session, invoice_id=stored_id(invoice))
    return VendorInvoiceReceived.model_validate({**detail.model_dump(), "checks": checks})


def stored_id(invoice: VendorInvoice) -> int:
    """The id of an invoice stored (flushed)."""
    assert invoice.id is not None
    return invoice.id


def _summaries(invoices: Sequence[VendorInvoice]) -> list[VendorInvoiceRead]:
    return [VendorInvoiceRead.model_validate(invoice) for invoice in invoices]


async def get_invoice(session: AsyncSession, *, invoice_id: int) -> VendorInvoiceDetail:
    invoice = await get_or_404(session, VendorInvoice, invoice_id, "vendor invoice")
    rows = (
        await session.execute(
            matched_lines(col(VendorInvoiceLine.invoice_id) == invoice_id).order_by(
                col(VendorInvoiceLine.line_no)
            )
        )
    ).all()
    lines = [
        InvoiceLineRead.model_validate(
            {**line.model_dump(), "service_id": service_id, "customer_id": customer_id}
        )
        for line, service_id, customer_id in rows
    ]
    (summary,) = _summaries([invoice])
    return VendorInvoiceDetail.model_validate({**summary.model_dump(), "lines": lines})


async def list_invoices(
    session: AsyncSession,
    *,
    page: PageParams,
    vendor_id: int | None = None,
    period: Period | None = None,
    invoice_number: str | None = None,
) -> Page[VendorInvoiceRead]:
    stmt = select(VendorInvoice)
    if vendor_id is not None:
        stmt = stmt.where(col(VendorInvoice.vendor_id) == vendor_id)
    if period is not None:
        stmt = stmt.where(col(VendorInvoice.period) == str(period))
    if invoice_number is not None:
        if "\x00" in invoice_number:  # PostgreSQL text cannot hold NUL: a 422, not a 500
            message = "must not contain NUL characters"
            raise Invalid(
                "The invoice_number filter is not valid.",
                errors=[field_error("query.invoice_number", message, "value_error")],
            )
        stmt = stmt.where(col(VendorInvoice.invoice_number) == invoice_number.strip())
    found: Page[VendorInvoice] = await paginate(session, stmt, VendorInvoice.id, page)
    return Page[VendorInvoiceRead](items=_summaries(found.items), next_cursor=found.next_cursor)


# Tables of the packages built on vendor invoices (audits, the webhook inbox), read by name
# from the shared metadata: they depend on this package, not the other way round.
def _table(name: str) -> Table:
    return metadata.tables[name]


async def invoice_in_use(session: AsyncSession, *, invoice: VendorInvoice) -> str | None:
    """Why the invoice may not simply be deleted, or None: an audit (for every vendor, or
    for its own) of its period or of a month its lines charge has used it, so its findings
    rest on it (docs/vendor-bills.md#month-figures: a line counts for every month of its
    charge period)."""
    audit = _table("audit")
    first, last = (
        await session.execute(
            select(
                func.min(col(VendorInvoiceLine.charge_start)),
                func.max(col(VendorInvoiceLine.charge_end)),
            ).where(col(VendorInvoiceLine.invoice_id) == invoice.id)
        )
    ).one()
    periods = audit.c.period == invoice.period
    if first is not None and last is not None:
        periods = or_(
            periods,
            and_(audit.c.period >= str(Period.of(first)), audit.c.period <= str(Period.of(last))),
        )
    audits = (
        await session.scalars(
            select(audit.c.id)
            .where(
                periods,
                or_(audit.c.vendor_id.is_(None), audit.c.vendor_id == invoice.vendor_id),
            )
            .order_by(audit.c.id)
        )
    ).all()
    if not audits:
        return None
    listed = ", ".join(str(audit_id) for audit_id in audits[:10])
    return f"was used by audit{'s' if len(audits) > 1 else ''} {listed}"


async def delete_invoice(
    session: AsyncSession, *, invoice_id: int, force: bool, is_admin: bool
) -> None:
    invoice = await get_or_404(session, VendorInvoice, invoice_id, "vendor invoice")
    reason = await invoice_in_use(session, invoice=invoice)
    if reason is not None:
        if not force:
            raise Conflict(
                f"Vendor invoice {invoice_id} {reason}; delete with ?force=true (admin key)."
            )
        if not is_admin:
            raise Forbidden("Deleting an invoice an audit used needs an admin key.")
    # The inbox keeps the event; it just no longer points at an invoice.
    event = _table("webhook_event")
    await session.execute(
        update(event).where(event.c.invoice_id == invoice_id).values(invoice_id=None)
    )
    await session.execute(
        delete(VendorInvoiceLine).where(col(VendorInvoiceLine.invoice_id) == invoice_id)
    )
    await session.execute(delete(VendorInvoice).where(col(VendorInvoice.id) == invoice_id))
    await session.flush()


# The unmapped list's cursor: the last period given (periods come newest first).
UNMAPPED_CURSOR = Cursor("u1", Period)


async def unmapped(
    session: AsyncSession,
    *,
    period: Period | None,
    page: PageParams,
    vendor_id: int | None = None,
) -> Unmapped:
    """The to-do list before an audit: distinct unmatched SKUs and account refs per
    period, with their line counts and amounts, newest period first and biggest amount
    first within it; a page holds `page.limit` periods, of every period unless one is
    asked (docs/month-arithmetic.md#unmapped-lines)."""
    line = VendorInvoiceLine
    # Adjustment lines (rebates, fees) are matched to nothing on purpose: never a to-do,
    # as never an UNMAPPED_* finding (docs/vendor-bills.md#kinds).
    conditions: list[Any] = [col(line.kind) != LineKind.adjustment.value]
    if vendor_id is not None:
        conditions.append(col(line.vendor_id) == vendor_id)
    before = UNMAPPED_CURSOR.decode(page.cursor)[0] if page.cursor is not None else None
    if period is not None:
        periods = [str(period)] if before is None or period < before else []
    else:
        # The page's periods: those holding a line that matches no service or no customer.
        if before is not None:
            conditions.append(col(line.period) < str(before))
        unmatched = or_(col(Service.id).is_(None), col(VendorAccount.id).is_(None))
        found = await session.scalars(
            join_matches(select(col(line.period)).select_from(line))
            .where(*conditions, unmatched)
            .distinct()
            .order_by(col(line.period).desc())
            .limit(page.limit + 1)
        )
        periods = list(found.all())
    more = len(periods) > page.limit
    periods = periods[: page.limit]
    next_cursor = UNMAPPED_CURSOR.encode(periods[-1]) if more else None
    if not periods:
        return Unmapped(period=period, skus=[], accounts=[], next_cursor=None)
    conditions.append(
        col(line.period) == periods[0] if len(periods) == 1 else col(line.period).in_(periods)
    )
    # Exact at any size (a SQL sum over scaled integers can overflow on SQLite), so the
    # biggest-first order is taken in Python: the list holds one row per SKU or account.
    amount = decimal_sum(col(line.amount), session.get_bind().dialect.name, AMOUNT_PLACES)
    sku_rows: Any = await session.execute(
        join_matches(
            select(
                col(line.period), col(line.vendor_id), col(line.vendor_sku), func.count(), amount
            ).select_from(line)
        )
        .where(*conditions, col(Service.id).is_(None))
        .group_by(col(line.period), col(line.vendor_id), col(line.vendor_sku))
    )
    account_rows: Any = await session.execute(
        join_matches(
            select(
                col(line.period), col(line.vendor_id), col(line.account_ref), func.count(), amount
            ).select_from(line)
        )
        .where(*conditions, col(VendorAccount.id).is_(None))
        .group_by(col(line.period), col(line.vendor_id), col(line.account_ref))
    )
    order = {p: i for i, p in enumerate(periods)}  # newest first
    skus = sorted(sku_rows.all(), key=lambda r: (order[r[0]], -r[4], r[1], r[2]))
    accounts = sorted(account_rows.all(), key=lambda r: (order[r[0]], -r[4], r[1], r[2]))
    return Unmapped(
        period=period,
        skus=[
            UnmappedSku(period=p, vendor_id=v, vendor_sku=sku, line_count=n, amount=a)
            for p, v, sku, n, a in skus
        ],
        accounts=[
            UnmappedAccount(period=p, vendor_id=v, account_ref=ref, line_count=n, amount=a)
            for p, v, ref, n, a in accounts
        ],
        next_cursor=next_cursor,
    )
