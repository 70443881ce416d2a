"""Customer invoices: recorded from the PSA (and drafted by billing runs, runs.py)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import (
    CustomerInvoice,
    CustomerInvoiceCreate,
    CustomerInvoiceDetail,
    CustomerInvoiceLine,
    CustomerInvoiceLineRead,
    CustomerInvoiceRead,
    CustomerInvoiceUpdate,
    InvoiceOrigin,
    InvoiceStatus,
)
from app.core.crud import ensure_unique, get_or_404, require_reference
from app.core.errors import Invalid, field_error
from app.core.money import line_amounts
from app.core.pagination import Page, PageParams, paginate
from app.core.periods import Period
from app.customers.models import Customer
from app.services.models import Service

ZERO = Decimal(0)

# draft -> posted or void; posted -> void; void is final.
TRANSITIONS = {
    InvoiceStatus.draft: {InvoiceStatus.draft, InvoiceStatus.posted, InvoiceStatus.void},
    InvoiceStatus.posted: {InvoiceStatus.posted, InvoiceStatus.void},
    InvoiceStatus.void: {InvoiceStatus.void},
}


async def record_invoice(
    session: AsyncSession, *, data: CustomerInvoiceCreate
) -> CustomerInvoiceDetail:
    """An invoice issued elsewhere (the PSA): it counts as billing the customer for its
    period unless void (docs/findings.md#missing_billing)."""
    await require_reference(session, Customer, data.customer_id, "customer_id", "customer")
    amounts = line_amounts(
        [(line.amount, line.quantity, line.unit_price) for line in data.lines], "body.lines"
    )
    service_ids = {line.service_id for line in data.lines if line.service_id is not None}
    if service_ids:
        known = set(
            (
                await session.scalars(
                    select(col(Service.id)).where(col(Service.id).in_(service_ids))
                )
            ).all()
        )
        missing = [
            field_error(f"body.lines.{i}.service_id", f"service {line.service_id} does not exist")
            for i, line in enumerate(data.lines)
            if line.service_id is not None and line.service_id not in known
        ]
        if missing:
            raise Invalid("Some lines name services that do not exist.", errors=missing)
    await ensure_unique(
        session,
        CustomerInvoice,
        [col(CustomerInvoice.number) == data.number],
        exclude_id=None,
        field="number",
        message=f"A customer invoice numbered {data.number} already exists.",
    )
    invoice = CustomerInvoice(
        customer_id=data.customer_id,
        number=data.number,
        period=str(data.period),
        issue_date=data.issue_date,
        status=data.status.value,
        origin=InvoiceOrigin.recorded.value,
    )
    session.add(invoice)
    await session.flush()
    await session.execute(
        insert(CustomerInvoiceLine),
        [
            {
                "invoice_id": invoice.id,
                "line_no": number,
                "service_id": line.service_id,
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "amount": amount,
            }
            for number, (line, amount) in enumerate(zip(data.lines, amounts, strict=True), start=1)
        ],
    )
    await session.flush()
    assert invoice.id is not None
    return await get_invoice(session, invoice_id=invoice.id)


async def _reads(
    session: AsyncSession, invoices: Sequence[CustomerInvoice]
) -> list[CustomerInvoiceRead]:
    ids = [invoice.id for invoice in invoices if invoice.id is not None]
    totals: dict[int, Decimal] = {}
    if ids:
        rows: Any = await session.execute(
            select(col(CustomerInvoiceLine.invoice_id), func.sum(col(CustomerInvoiceLine.amount)))
            .where(col(CustomerInvoiceLine.invoice_id).in_(ids))
            .group_by(col(CustomerInvoiceLine.invoice_id))
        )
        totals = dict(rows.all())
    return [
        CustomerInvoiceRead.model_validate(
            {**invoice.model_dump(), "total": totals.get(invoice.id or 0, ZERO)}
        )
        for invoice in invoices
    ]


async def get_invoice(session: AsyncSession, *, invoice_id: int) -> CustomerInvoiceDetail:
    invoice = await get_or_404(session, CustomerInvoice, invoice_id, "customer invoice")
    lines = (
        await session.scalars(
            select(CustomerInvoiceLine)
            .where(col(CustomerInvoiceLine.invoice_id) == invoice_id)
            .order_by(col(CustomerInvoiceLine.line_no))
        )
    ).all()
    (read,) = await _reads(session, [invoice])
    return CustomerInvoiceDetail.model_validate(
        {
            **read.model_dump(),
            "lines": [CustomerInvoiceLineRead.model_validate(line) for line in lines],
        }
    )


async def list_invoices(
    session: AsyncSession,
    *,
    page: PageParams,
    customer_id: int | None = None,
    period: Period | None = None,
    status: InvoiceStatus | None = None,
) -> Page[CustomerInvoiceRead]:
    stmt = select(CustomerInvoice)
    if customer_id is not None:
        stmt = stmt.where(col(CustomerInvoice.customer_id) == customer_id)
    if period is not None:
        stmt = stmt.where(col(CustomerInvoice.period) == str(period))
    if status is not None:
        stmt = stmt.where(col(CustomerInvoice.status) == status.value)
    found: Page[CustomerInvoice] = await paginate(session, stmt, CustomerInvoice.id, page)
    return Page[CustomerInvoiceRead](
        items=await _reads(session, found.items), next_cursor=found.next_cursor
    )


async def update_invoice(
    session: AsyncSession, *, invoice_id: int, data: CustomerInvoiceUpdate
) -> CustomerInvoiceDetail:
    invoice = await get_or_404(session, CustomerInvoice, invoice_id, "customer invoice")
    current = InvoiceStatus(invoice.status)
    if data.status not in TRANSITIONS[current]:
        message = f"a {current.value} invoice cannot become {data.status.value}"
        raise Invalid(
            f"Customer invoice {invoice_id}: {message}.",
            errors=[field_error("body.status", message, "status_transition")],
        )
    invoice.status = data.status.value
    await session.flush()
    return await get_invoice(session, invoice_id=invoice_id)
