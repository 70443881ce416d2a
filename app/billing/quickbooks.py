"""Customer invoices for accounting: QuickBooks Online Invoice and CreditMemo objects
(QuickBooks' own JSON, numbers not strings, referring to QuickBooks' own Ids), batch request
bodies for a period, and QuickBooks Desktop IIF (docs/exports.md)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import CustomerInvoice, CustomerInvoiceLine, InvoiceStatus
from app.billing.quantities import quantity_and_price
from app.core.cp1252 import transliterate
from app.core.crud import get_or_404
from app.core.errors import Conflict
from app.core.periods import Period
from app.core.wording import counted
from app.customers.models import Customer
from app.services.models import Service

DEFAULT_INCOME_ACCOUNT = "Sales"
# QuickBooks Online's recommended ceiling for one batch request (docs/exports.md#batches).
BATCH_SIZE = 30
DEFAULT_ITEM_SETTING = "MSP_QUICKBOOKS_DEFAULT_ITEM_ID"


# --- exact JSON numbers --------------------------------------------------------------------


def render(value: Any) -> str:
    """json.dumps for the types used here, writing Decimals as JSON numbers from their
    exact text."""
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
    value: str = Field(description="QuickBooks Online's Id of the record")
    name: str | None = None


class SalesItemLineDetail(BaseModel):
    ItemRef: Ref
    Qty: Number = Field(description="Signed so that Amount = Qty x UnitPrice")
    UnitPrice: Number = Field(ge=0)


class QBLine(BaseModel):
    LineNum: int
    Description: str
    Amount: Number
    DetailType: Literal["SalesItemLineDetail"] = "SalesItemLineDetail"
    SalesItemLineDetail: SalesItemLineDetail


class QBTransaction(BaseModel):
    """An Invoice or a CreditMemo: the same fields."""

    DocNumber: str = Field(max_length=21)
    TxnDate: str
    CustomerRef: Ref
    Line: list[QBLine]
    TotalAmt: Number = Field(ge=0)
    PrivateNote: str | None = None


class QBInvoiceDocument(BaseModel):
    Invoice: QBTransaction


class QBCreditMemoDocument(BaseModel):
    CreditMemo: QBTransaction


QBDocument = QBInvoiceDocument | QBCreditMemoDocument


class QBBatchInvoice(QBInvoiceDocument):
    bId: str
    operation: Literal["create"] = "create"


class QBBatchCreditMemo(QBCreditMemoDocument):
    bId: str
    operation: Literal["create"] = "create"


class QBBatch(BaseModel):
    BatchItemRequest: list[QBBatchInvoice | QBBatchCreditMemo] = Field(max_length=BATCH_SIZE)


class UnmappedRecord(BaseModel):
    id: int
    name: str


class Unmapped(BaseModel):
    customers: list[UnmappedRecord]
    services: list[UnmappedRecord]


# --- loading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    invoices: Sequence[CustomerInvoice]
    lines: dict[int, list[CustomerInvoiceLine]]
    customers: dict[int, Customer]
    services: dict[int, Service]

    def lines_of(self, invoice: CustomerInvoice) -> list[CustomerInvoiceLine]:
        return self.lines.get(invoice.id or 0, [])


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


async def _period_invoices(session: AsyncSession, period: Period) -> Sequence[CustomerInvoice]:
    """The period's invoices for accounting: every one but the void, in number order."""
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


def _total(lines: Sequence[CustomerInvoiceLine]) -> Decimal:
    return sum((line.amount for line in lines), Decimal("0.00"))


# --- QuickBooks Online ---------------------------------------------------------------------


def _require_mappings(loaded: _Loaded, default_item_id: str | None) -> None:
    """Every customer and service the invoices name must carry its QuickBooks Id, and lines
    without a service need the default item: otherwise one 409 that lists every gap, so
    that one round of mapping fixes them all (docs/exports.md#mapping-to-quickbooks)."""
    customers: dict[int, Customer] = {}
    services: dict[int, Service] = {}
    needs_default_item = False
    for invoice in loaded.invoices:
        customer = loaded.customers[invoice.customer_id]
        if customer.quickbooks_id is None:
            customers[invoice.customer_id] = customer
        for line in loaded.lines_of(invoice):
            if line.service_id is None:
                needs_default_item = True
                continue
            service = loaded.services[line.service_id]
            if service.quickbooks_id is None:
                services[line.service_id] = service
    missing_setting = needs_default_item and default_item_id is None
    if not customers and not services and not missing_setting:
        return
    missing = [
        {"kind": "customer", "id": ident, "name": record.name}
        for ident, record in sorted(customers.items())
    ] + [
        {"kind": "service", "id": ident, "name": record.name}
        for ident, record in sorted(services.items())
    ]
    reasons = []
    if missing:
        have = "has" if len(missing) == 1 else "have"
        reasons.append(f"{counted(len(missing), 'record')} {have} no quickbooks_id (see missing)")
    extra: dict[str, Any] = {"missing": missing}
    if missing_setting:
        reasons.append(f"lines without a service need {DEFAULT_ITEM_SETTING}, which is not set")
        extra["missing_settings"] = [DEFAULT_ITEM_SETTING]
    raise Conflict(
        "The export cannot refer to QuickBooks' own records: " + "; ".join(reasons) + ".",
        extra=extra,
    )


def _item_ref(service: Service | None, default_item_id: str | None) -> dict[str, str]:
    if service is None:
        # Checked by _require_mappings before anything is built.
        assert default_item_id is not None
        return {"value": default_item_id}
    assert service.quickbooks_id is not None
    return {"value": service.quickbooks_id, "name": service.name}


def _document(
    invoice: CustomerInvoice, loaded: _Loaded, default_item_id: str | None
) -> tuple[str, dict[str, Any]]:
    """("Invoice" | "CreditMemo", the object). A negative total is a credit memo: the
    same lines with their signs turned, so that its total is positive
    (docs/exports.md#invoice-and-creditmemo)."""
    lines = loaded.lines_of(invoice)
    total = _total(lines)
    credit = total < 0
    kind = "CreditMemo" if credit else "Invoice"

    def signed(value: Decimal) -> Decimal:
        # Unary minus, not -1 x: it keeps a zero a plain 0.
        return -value if credit else value

    qb_lines = []
    for number, line in enumerate(lines, start=1):
        # UnitPrice >= 0 always; the quantity carries the sign of the amount.
        quantity, price = quantity_and_price(line.quantity, line.unit_price, line.amount)
        item = loaded.services.get(line.service_id) if line.service_id else None
        qb_lines.append(
            {
                "LineNum": number,
                "Description": line.description,
                "Amount": signed(line.amount),
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": _item_ref(item, default_item_id),
                    "Qty": signed(quantity).normalize(),
                    "UnitPrice": price.normalize(),
                },
            }
        )
    customer = loaded.customers[invoice.customer_id]
    assert customer.quickbooks_id is not None
    return kind, {
        "DocNumber": invoice.number,
        "TxnDate": invoice.issue_date.isoformat(),
        "CustomerRef": {"value": customer.quickbooks_id, "name": customer.name},
        "Line": qb_lines,
        "TotalAmt": signed(total),
        "PrivateNote": f"{invoice.period} ({invoice.status})",
    }


async def invoice_json(
    session: AsyncSession, *, invoice_id: int, default_item_id: str | None
) -> str:
    """`{"Invoice": {...}}` or `{"CreditMemo": {...}}`, ready to POST to QuickBooks Online."""
    invoice = await get_or_404(session, CustomerInvoice, invoice_id, "customer invoice")
    loaded = await _load(session, [invoice])
    _require_mappings(loaded, default_item_id)
    kind, document = _document(invoice, loaded, default_item_id)
    return render({kind: document})


async def export_json(session: AsyncSession, *, period: Period, default_item_id: str | None) -> str:
    """The period's invoices as QuickBooks Online batch request bodies of at most
    BATCH_SIZE creates each; each item's bId is the invoice number, unique
    (docs/exports.md#batches)."""
    loaded = await _load(session, await _period_invoices(session, period))
    _require_mappings(loaded, default_item_id)
    items = []
    for invoice in loaded.invoices:
        kind, document = _document(invoice, loaded, default_item_id)
        items.append({"bId": invoice.number, "operation": "create", kind: document})
    return render(
        [
            {"BatchItemRequest": items[start : start + BATCH_SIZE]}
            for start in range(0, len(items), BATCH_SIZE)
        ]
    )


async def unmapped(session: AsyncSession, *, period: Period) -> Unmapped:
    """The customers and services of the period's exported invoices that have no
    quickbooks_id yet, in id order: one query each, the rows never loaded."""
    invoices = select(col(CustomerInvoice.id)).where(
        col(CustomerInvoice.period) == str(period),
        col(CustomerInvoice.status) != InvoiceStatus.void.value,
    )

    async def lacking(model: Any, used: Any) -> list[UnmappedRecord]:
        rows = await session.execute(
            select(col(model.id), col(model.name))
            .where(col(model.quickbooks_id).is_(None), col(model.id).in_(used))
            .order_by(col(model.id))
        )
        return [UnmappedRecord(id=i, name=n) for i, n in rows.all()]

    return Unmapped(
        customers=await lacking(
            Customer,
            select(col(CustomerInvoice.customer_id)).where(col(CustomerInvoice.id).in_(invoices)),
        ),
        services=await lacking(
            Service,
            select(col(CustomerInvoiceLine.service_id)).where(
                col(CustomerInvoiceLine.invoice_id).in_(invoices)
            ),
        ),
    )


# --- QuickBooks Desktop IIF ----------------------------------------------------------------

TRNS_COLUMNS = ("TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO")
SPL_COLUMNS = (*TRNS_COLUMNS, "QNTY", "PRICE", "INVITEM")


@dataclass(frozen=True)
class IIFExport:
    """The file's bytes in Windows-1252, and the names it had to spell otherwise."""

    content: bytes
    transliterated: list[str]

    @property
    def transliterated_header(self) -> str | None:
        """X-Transliterated: the original names, percent-encoded UTF-8 (a comma inside a
        name is encoded too), comma-separated; None when no name changed."""
        if not self.transliterated:
            return None
        return ",".join(quote(name, safe="") for name in self.transliterated)


class _IIFText:
    """Cells of an IIF row: one line each, in Windows-1252. Names that had to change are
    remembered, once each, in the order they first appear."""

    def __init__(self) -> None:
        self.changed: dict[str, None] = {}

    def name(self, text: str) -> str:
        cell = self.text(text)
        if cell != _flat(text):
            self.changed.setdefault(text, None)
        return cell

    def text(self, text: str) -> str:
        return transliterate(_flat(text))


def _flat(text: str) -> str:
    # Tabs and line breaks would break the format's rows and columns.
    return " ".join(text.replace("\t", " ").split())


def _iif_date(day: date) -> str:
    return day.strftime("%m/%d/%Y")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


async def export_iif(session: AsyncSession, *, period: Period, ar_account: str) -> IIFExport:
    """QuickBooks Desktop IIF: per invoice one TRNS (INVOICE, or CREDIT MEMO for a negative
    total: the total to the receivable account) and one SPL per line (the line's income
    account, minus the amount), then ENDTRNS; every transaction sums to zero
    (docs/exports.md#iif)."""
    loaded = await _load(session, await _period_invoices(session, period))
    cells = _IIFText()
    rows = ["\t".join(("!TRNS", *TRNS_COLUMNS)), "\t".join(("!SPL", *SPL_COLUMNS)), "!ENDTRNS"]
    for invoice in loaded.invoices:
        receivable = cells.name(ar_account)
        lines = loaded.lines_of(invoice)
        total = _total(lines)
        kind = "CREDIT MEMO" if total < 0 else "INVOICE"
        customer = cells.name(loaded.customers[invoice.customer_id].name)
        day = _iif_date(invoice.issue_date)
        # The number is free text too (validated without tabs, but any script).
        number = cells.name(invoice.number)
        head = [kind, day, receivable, customer, _money(total), number, invoice.period]
        rows.append("\t".join(("TRNS", *head)))
        for line in lines:
            service = loaded.services.get(line.service_id) if line.service_id else None
            account = (service.revenue_account if service else None) or DEFAULT_INCOME_ACCOUNT
            quantity, price = quantity_and_price(line.quantity, line.unit_price, line.amount)
            split = [
                kind,
                day,
                cells.name(account),
                customer,
                _money(-line.amount),
                number,
                cells.text(line.description),
                _number(-quantity),
                _number(price),
                cells.name(service.sku) if service else "",
            ]
            rows.append("\t".join(("SPL", *split)))
        rows.append("ENDTRNS")
    text = "\r\n".join(rows) + "\r\n"
    return IIFExport(text.encode("cp1252"), list(cells.changed))
