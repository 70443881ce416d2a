"""Customer invoices for accounting: QuickBooks Online Invoice objects (QuickBooks' own JSON,
numbers not strings) with the Items they use, and QuickBooks Desktop IIF (docs/exports.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import CustomerInvoice, CustomerInvoiceLine, InvoiceStatus
from app.billing.quantities import quantity_and_price
from app.core.crud import get_or_404
from app.core.periods import Period
from app.customers.models import Customer
from app.services.models import Service

DEFAULT_INCOME_ACCOUNT = "Sales"
AR_ACCOUNT = "Accounts Receivable"


# --- exact JSON numbers --------------------------------------------------------------------


def render(value: Any) -> str:
    """json.dumps for the types used here, writing Decimals as JSON numbers from their
    exact text."""
    import json

    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if "." not in text else text.rstrip("0").rstrip(".") or "0"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


# --- OpenAPI description of QuickBooks' shapes (documentation only) -----------------------

Number = Annotated[Decimal, WithJsonSchema({"type": "number"})]


class Ref(BaseModel):
    value: str
    name: str | None = None


class SalesItemLineDetail(BaseModel):
    ItemRef: Ref | None = None
    Qty: Number
    UnitPrice: Number


class QBLine(BaseModel):
    LineNum: int
    Description: str
    Amount: Number
    DetailType: str = "SalesItemLineDetail"
    SalesItemLineDetail: SalesItemLineDetail


class QBInvoice(BaseModel):
    DocNumber: str = Field(max_length=21)
    TxnDate: str
    CustomerRef: Ref
    Line: list[QBLine]
    TotalAmt: Number
    PrivateNote: str | None = None


class QBItem(BaseModel):
    Name: str
    Sku: str
    Type: str = "Service"
    UnitPrice: Number
    IncomeAccountRef: Ref


class QBExport(BaseModel):
    period: str
    Invoice: list[QBInvoice]
    Item: list[QBItem]


# --- building ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    invoices: Sequence[CustomerInvoice]
    lines: dict[int, list[CustomerInvoiceLine]]
    customers: dict[int, Customer]
    services: dict[int, Service]


async def _load(session: AsyncSession, invoices: Sequence[CustomerInvoice]) -> _Loaded:
    ids = [i.id for i in invoices if i.id is not None]
    lines: dict[int, list[CustomerInvoiceLine]] = defaultdict(list)
    if ids:
        for line in (
            await session.scalars(
                select(CustomerInvoiceLine)
                .where(col(CustomerInvoiceLine.invoice_id).in_(ids))
                .order_by(col(CustomerInvoiceLine.invoice_id), col(CustomerInvoiceLine.line_no))
            )
        ).all():
            lines[line.invoice_id].append(line)
    customer_ids = {i.customer_id for i in invoices}
    service_ids = {ln.service_id for group in lines.values() for ln in group if ln.service_id}
    customers = {
        c.id: c
        for c in (
            await session.scalars(select(Customer).where(col(Customer.id).in_(customer_ids)))
        ).all()
        if c.id is not None
    }
    services = {
        s.id: s
        for s in (
            await session.scalars(select(Service).where(col(Service.id).in_(service_ids)))
        ).all()
        if s.id is not None
    }
    return _Loaded(invoices, lines, customers, services)


def _customer_ref(customer: Customer) -> dict[str, str]:
    return {"value": customer.external_ref or str(customer.id), "name": customer.name}


def _item_ref(service: Service) -> dict[str, str]:
    return {"value": service.sku, "name": service.name}


def _qb_lines(lines: list[CustomerInvoiceLine], services: dict[int, Service]) -> list[Any]:
    """Every line keeps Amount == round(Qty x UnitPrice, 2) (QuickBooks error 6070)."""
    result = []
    for number, line in enumerate(lines, start=1):
        quantity, price = quantity_and_price(line.quantity, line.unit_price, line.amount)
        detail: dict[str, Any] = {"Qty": quantity.normalize(), "UnitPrice": price.normalize()}
        service = services.get(line.service_id or 0)
        if service is not None:
            detail = {"ItemRef": _item_ref(service), **detail}
        result.append(
            {
                "LineNum": number,
                "Description": line.description,
                "Amount": line.amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail,
            }
        )
    return result


def _qb_invoice(invoice: CustomerInvoice, loaded: _Loaded) -> dict[str, Any]:
    lines = loaded.lines.get(invoice.id or 0, [])
    return {
        "DocNumber": invoice.number,
        "TxnDate": invoice.issue_date.isoformat(),
        "CustomerRef": _customer_ref(loaded.customers[invoice.customer_id]),
        "Line": _qb_lines(lines, loaded.services),
        "TotalAmt": sum((line.amount for line in lines), Decimal("0.00")),
        "PrivateNote": f"{invoice.period} ({invoice.status})",
    }


def _qb_item(service: Service) -> dict[str, Any]:
    return {
        "Name": service.name,
        "Sku": service.sku,
        "Type": "Service",
        "UnitPrice": service.unit_price.normalize(),
        "IncomeAccountRef": {"value": service.revenue_account or DEFAULT_INCOME_ACCOUNT},
    }


async def invoice_json(session: AsyncSession, *, invoice_id: int) -> str:
    invoice = await get_or_404(session, CustomerInvoice, invoice_id, "customer invoice")
    loaded = await _load(session, [invoice])
    return render(_qb_invoice(invoice, loaded))


async def _period_invoices(session: AsyncSession, period: Period) -> Sequence[CustomerInvoice]:
    """The period's invoices for accounting: every one but the void."""
    return (
        await session.scalars(
            select(CustomerInvoice)
            .where(
                col(CustomerInvoice.period) == str(period),
                col(CustomerInvoice.status) != InvoiceStatus.void.value,
            )
            .order_by(col(CustomerInvoice.number))
        )
    ).all()


async def export_json(session: AsyncSession, *, period: Period) -> str:
    loaded = await _load(session, await _period_invoices(session, period))
    return render(
        {
            "period": str(period),
            "Invoice": [_qb_invoice(invoice, loaded) for invoice in loaded.invoices],
            "Item": [_qb_item(s) for _, s in sorted(loaded.services.items())],
        }
    )


def _iif_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def _iif_text(text: str) -> str:
    # Tabs and line breaks would break the format's rows and columns.
    return " ".join(text.replace("\t", " ").split())


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


async def export_iif(session: AsyncSession, *, period: Period) -> str:
    """QuickBooks Desktop IIF: one TRNS (INVOICE, Accounts Receivable, the total) and one
    SPL per line (the income account, minus the amount) per invoice, then ENDTRNS."""
    loaded = await _load(session, await _period_invoices(session, period))
    rows = [
        "!TRNS\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO",
        "!SPL\tTRNSTYPE\tDATE\tACCNT\tNAME\tAMOUNT\tDOCNUM\tMEMO\tQNTY\tPRICE\tINVITEM",
        "!ENDTRNS",
    ]
    for invoice in loaded.invoices:
        lines = loaded.lines.get(invoice.id or 0, [])
        customer = _iif_text(loaded.customers[invoice.customer_id].name)
        day = _iif_date(invoice.issue_date)
        # The number is free text too (a tab in it would shift every later column).
        number = _iif_text(invoice.number)
        total = sum((line.amount for line in lines), Decimal(0))
        rows.append(
            f"TRNS\tINVOICE\t{day}\t{AR_ACCOUNT}\t{customer}\t{_money(total)}\t"
            f"{number}\t{invoice.period}"
        )
        for line in lines:
            service = loaded.services.get(line.service_id or 0)
            account = (service.revenue_account if service else None) or DEFAULT_INCOME_ACCOUNT
            quantity, price = quantity_and_price(line.quantity, line.unit_price, line.amount)
            rows.append(
                f"SPL\tINVOICE\t{day}\t{_iif_text(account)}\t{customer}\t{_money(-line.amount)}\t"
                f"{number}\t{_iif_text(line.description)}\t"
                f"{format(-quantity.normalize(), 'f')}\t{format(price.normalize(), 'f')}\t"
                f"{_iif_text(service.sku) if service else ''}"
            )
        rows.append("ENDTRNS")
    return "\r\n".join(rows) + "\r\n"
