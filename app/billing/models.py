"""Customer invoices (recorded from the PSA or drafted by billing runs) and billing runs."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from pydantic import Field as PField
from sqlalchemy import Column, Date, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, decimal_field, fk_field, updated_at_field
from app.core.money import (
    Amount,
    AmountOut,
    NonNegativeAmount,
    SignedQuantity,
    UnitPrice,
)
from app.core.periods import PeriodField
from app.core.schemas import InputModel, ReadModel
from app.core.types import Day, Id

# QuickBooks' DocNumber holds at most 21 characters (docs/exports.md#customer-invoices).
MAX_NUMBER_LENGTH = 21


class InvoiceStatus(StrEnum):
    draft = "draft"
    posted = "posted"
    void = "void"


class InvoiceOrigin(StrEnum):
    recorded = "recorded"  # issued elsewhere (the PSA) and recorded here
    billing_run = "billing_run"  # drafted by a billing run


class BillingRun(SQLModel, table=True):
    __tablename__ = "billing_run"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(sa_column=Column(String(7), nullable=False, index=True))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    invoices_created: int = Field(sa_column=Column(Integer, nullable=False))
    invoices_regenerated: int = Field(sa_column=Column(Integer, nullable=False))
    customers_skipped: int = Field(sa_column=Column(Integer, nullable=False))
    total: Decimal = decimal_field(2)
    created_at: datetime = created_at_field()


class CustomerInvoice(SQLModel, table=True):
    __tablename__ = "customer_invoice"
    __table_args__ = (Index("ix_customer_invoice_period_customer_id", "period", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk_field("customer.id", index=False)
    number: str = Field(sa_column=Column(String(MAX_NUMBER_LENGTH), nullable=False, unique=True))
    period: str = Field(sa_column=Column(String(7), nullable=False))
    issue_date: date = Field(sa_column=Column(Date, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    origin: str = Field(sa_column=Column(String(16), nullable=False))
    billing_run_id: int | None = fk_field("billing_run.id", nullable=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CustomerInvoiceLine(SQLModel, table=True):
    __tablename__ = "customer_invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = fk_field("customer_invoice.id")
    line_no: int = Field(sa_column=Column(Integer, nullable=False))
    service_id: int | None = fk_field("service.id", nullable=True)
    # The contract line a billing run billed (null on recorded invoices).
    contract_line_id: int | None = fk_field("contract_line.id", nullable=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    quantity: Decimal = decimal_field(4)
    unit_price: Decimal = decimal_field(4)
    amount: Decimal = decimal_field(2)


# --- schemas ---------------------------------------------------------------------------------


def _invoice_number(value: str) -> str:
    """An identifier QuickBooks is given as it is (its RefNumber, an IIF field): not
    blank, no tabs or line breaks, which would break a line of the export."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain tabs, line breaks or other control characters")
    return value


InvoiceNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NUMBER_LENGTH),
    AfterValidator(_invoice_number),
]


class CustomerInvoiceLineIn(InputModel):
    service_id: Id | None = None
    description: str = PField(min_length=1, max_length=2000)
    # Negative for a credit or a discount line, as PSA invoices carry them.
    quantity: SignedQuantity
    unit_price: UnitPrice
    amount: Amount | None = PField(
        default=None, description="Defaults to quantity x unit_price rounded half-up to the cent"
    )


class CustomerInvoiceCreate(InputModel):
    customer_id: Id
    number: InvoiceNumber = PField(examples=["INV-2026-0042"])
    period: PeriodField
    issue_date: Day
    status: InvoiceStatus = InvoiceStatus.posted
    lines: list[CustomerInvoiceLineIn] = PField(min_length=1, max_length=10_000)


class CustomerInvoiceUpdate(InputModel):
    """draft -> posted or void; posted -> void; a void invoice stays void."""

    status: InvoiceStatus


class CustomerInvoiceLineRead(ReadModel):
    id: int
    line_no: int
    service_id: int | None
    contract_line_id: int | None
    description: str
    quantity: SignedQuantity
    unit_price: UnitPrice
    amount: Amount


class CustomerInvoiceRead(ReadModel):
    id: int
    customer_id: int
    number: str
    period: str
    issue_date: date
    status: InvoiceStatus
    origin: InvoiceOrigin
    billing_run_id: int | None
    total: AmountOut
    created_at: datetime
    updated_at: datetime


class CustomerInvoiceDetail(CustomerInvoiceRead):
    lines: list[CustomerInvoiceLineRead]


class BillingRunCreate(InputModel):
    period: PeriodField
    dry_run: bool = PField(
        default=False,
        description="true: answer 200 with the drafts the run would make and each customer's "
        "revenue, cost so far, profit and margin, storing nothing (docs/exports.md#dry-run)",
    )


class BillingRunRead(ReadModel):
    id: int
    period: str
    created_by: str
    invoices_created: int
    invoices_regenerated: int
    customers_skipped: int
    total: NonNegativeAmount
    created_at: datetime


# --- dry run (docs/exports.md#dry-run) -------------------------------------------------------

MARGIN_DESCRIPTION = "profit / revenue, 4 decimals, half-up; null when revenue is 0"


class DryRunInvoiceLineRead(ReadModel):
    """A line as the run would store it (no id: nothing is stored)."""

    line_no: int
    service_id: int | None
    contract_line_id: int | None
    description: str
    quantity: SignedQuantity
    unit_price: UnitPrice
    amount: Amount


class DryRunInvoiceDetail(ReadModel):
    """A draft the run would make, in the shape of a customer invoice without what only
    storing it gives (billing_run_id, timestamps)."""

    id: int | None = PField(
        description="The draft of an earlier run of the period that the run would regenerate "
        "(it keeps its id and number); null for a new invoice"
    )
    customer_id: int
    number: str
    period: str
    issue_date: date
    status: InvoiceStatus
    origin: InvoiceOrigin
    total: AmountOut
    lines: list[DryRunInvoiceLineRead]


class DryRunCustomerFigures(ReadModel):
    """A customer's month as the run would bill it: revenue = the total of its draft (0
    without one), cost = its cost in the profitability report of the period so far."""

    customer_id: int
    customer_name: str | None
    revenue: AmountOut
    cost: AmountOut
    profit: AmountOut
    margin: Decimal | None = PField(description=MARGIN_DESCRIPTION)


class BillingRunDryRun(ReadModel):
    period: str = PField(examples=["2026-10"])
    invoices: list[DryRunInvoiceDetail]
    customers: list[DryRunCustomerFigures]
