"""Vendor invoices: the cost side of every audit (docs/month-arithmetic.md#vendor-invoices)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ValidationInfo, field_validator, model_validator
from pydantic import Field as PField
from pydantic_core import PydanticCustomError
from sqlalchemy import Column, Date, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, decimal_field, fk_field
from app.core.findings import FindingType, Severity
from app.core.money import VENDOR_PLACES, Amount, AmountOut, VendorQuantity, VendorUnitCost
from app.core.periods import PeriodField, days_inclusive
from app.core.schemas import ReadModel
from app.core.types import Currency, Day, FreeText, Id, Name, OptionalRef

MAX_LINES = 50_000


class LineKind(StrEnum):
    """What a vendor line charges (docs/vendor-bills.md#kinds)."""

    recurring = "recurring"  # a subscription: `quantity` units over the charge period
    usage = "usage"  # metered consumption: cost only, never units
    one_time = "one_time"  # a fee: cost only, in the month of charge_start
    adjustment = "adjustment"  # a rebate, fee or credit tied to no customer or service


# The longest charge period a line may cover (a triannual term and some).
MAX_CHARGE_DAYS = 1830


class InvoiceSource(StrEnum):
    api = "api"
    csv = "csv"
    webhook = "webhook"


class VendorInvoice(SQLModel, table=True):
    __tablename__ = "vendor_invoice"
    __table_args__ = (
        UniqueConstraint("vendor_id", "invoice_number"),
        Index("ix_vendor_invoice_period_vendor_id", "period", "vendor_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vendor_id: int = fk_field("vendor.id", index=False)
    invoice_number: str = Field(sa_column=Column(String(100), nullable=False))
    invoice_date: date = Field(sa_column=Column(Date, nullable=False))
    # YYYY-MM: text sorts and compares like the calendar.
    period: str = Field(sa_column=Column(String(7), nullable=False))
    currency: str = Field(sa_column=Column(String(3), nullable=False))
    total: Decimal = decimal_field(2)
    # Fixed at ingestion (an invoice never changes): lists and audits read them without
    # summing the lines again.
    line_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    lines_total: Decimal = decimal_field(2)
    source: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = created_at_field()


# Named for the queries that ask SQLite for them (core/db.indexed_by): the month figures
# (vendor_invoices/month.py) and the reports' vendor cost (reports/cost.py).
CHARGE_START_INDEX = "ix_vendor_invoice_line_charge_start"
# (charge_end, charge_start): a month's lines end on or after its first day and start on
# or before its last; the later months' lines are passed over inside the index.
CHARGE_END_INDEX = "ix_vendor_invoice_line_charge_span"
# (vendor_id, account_ref): a customer's lines, through its vendor accounts (the
# cancellation alerts, app/alerts/service.py).
ACCOUNT_INDEX = "ix_vendor_invoice_line_vendor_id_account_ref"


class VendorInvoiceLine(SQLModel, table=True):
    """One charge. vendor_id and period repeat the invoice's (invoices never change) so
    that matching and audits filter and join lines without the invoice table."""

    __tablename__ = "vendor_invoice_line"
    __table_args__ = (
        Index("ix_vendor_invoice_line_period_vendor_id", "period", "vendor_id"),
        Index("ix_vendor_invoice_line_vendor_id_vendor_sku", "vendor_id", "vendor_sku"),
        Index(ACCOUNT_INDEX, "vendor_id", "account_ref"),
        # A month's figures read lines by their charge period, whatever invoice carries
        # them (docs/vendor-bills.md#month-figures).
        Index(CHARGE_START_INDEX, "charge_start"),
        Index(CHARGE_END_INDEX, "charge_end", "charge_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = fk_field("vendor_invoice.id")
    vendor_id: int = fk_field("vendor.id", index=False)
    period: str = Field(sa_column=Column(String(7), nullable=False))
    line_no: int = Field(sa_column=Column(Integer, nullable=False))
    vendor_sku: str = Field(sa_column=Column(String(200), nullable=False))
    account_ref: str = Field(sa_column=Column(String(200), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # docs/vendor-bills.md#precision
    quantity: Decimal = decimal_field(VENDOR_PLACES)
    unit_cost: Decimal = decimal_field(VENDOR_PLACES)
    amount: Decimal = decimal_field(2)
    kind: str = Field(
        default=LineKind.recurring.value,
        sa_column=Column(
            String(16), nullable=False, default=LineKind.recurring.value, server_default="recurring"
        ),
    )
    # The days the charge covers, both included; the invoice's month when not given.
    charge_start: date = Field(sa_column=Column(Date, nullable=False))
    charge_end: date = Field(sa_column=Column(Date, nullable=False))
    subscription_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # The last day of the commitment the line belongs to (docs/cancellations.md#term-end).
    term_end: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


# --- schemas ---------------------------------------------------------------------------------


class InvoiceLineIn(BaseModel):
    # First: whether the SKU and account may be empty depends on it.
    kind: LineKind = PField(
        default=LineKind.recurring,
        description="recurring (default), usage, one_time or adjustment "
        "(docs/vendor-bills.md#kinds)",
    )
    vendor_sku: OptionalRef = PField(
        default=None,
        validate_default=True,
        description="How the vendor names the service (may be empty on an adjustment line)",
    )
    account_ref: OptionalRef = PField(
        default=None,
        validate_default=True,
        description="How the vendor names the customer (may be empty on an adjustment line)",
    )
    description: FreeText = None
    quantity: VendorQuantity
    unit_cost: VendorUnitCost = PField(
        description="The price of one unit for one month, whatever the vendor's billing cycle"
    )
    amount: Amount | None = PField(
        default=None,
        description="Defaults to quantity x unit_cost (x the months the charge period covers, "
        "for a recurring line) rounded half-up to the cent (docs/vendor-bills.md#amount)",
    )
    charge_start: Day | None = PField(
        default=None,
        description="First day the charge covers; with charge_end, or neither (default: the "
        "invoice's month)",
    )
    charge_end: Day | None = PField(
        default=None, description="Last day the charge covers, included"
    )
    subscription_ref: OptionalRef = PField(
        default=None, description="The vendor's subscription id, kept and returned"
    )
    term_end: Day | None = PField(
        default=None,
        description="The last day of the commitment (term) the line belongs to: on or after "
        "charge_start, recurring lines only (docs/cancellations.md#term-end)",
    )

    @field_validator("vendor_sku", "account_ref")
    @classmethod
    def _named(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("kind") is not LineKind.adjustment:
            raise PydanticCustomError("missing", "Field required")
        return value

    @field_validator("term_end")
    @classmethod
    def _term(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        if info.data.get("kind", LineKind.recurring) is not LineKind.recurring:
            raise PydanticCustomError(
                "term_end_kind",
                "term_end belongs to recurring lines only (the commitment of a subscription)",
            )
        start = info.data.get("charge_start")
        if start is not None:
            check_term_end(start, value)
        return value

    @model_validator(mode="after")
    def _charge(self) -> InvoiceLineIn:
        if (self.charge_start is None) != (self.charge_end is None):
            raise ValueError("charge_start and charge_end go together: give both or neither")
        if self.charge_start is not None and self.charge_end is not None:
            if self.charge_start > self.charge_end:
                raise ValueError("charge_start must not be after charge_end")
            if days_inclusive(self.charge_start, self.charge_end) > MAX_CHARGE_DAYS:
                raise ValueError(f"a charge period covers at most {MAX_CHARGE_DAYS} days")
        return self


def check_term_end(charge_start: date, term_end: date) -> None:
    """A term ends on or after the first day its line charges, and within the longest
    charge period a line may cover (docs/cancellations.md#term-end)."""
    if term_end < charge_start:
        raise ValueError(f"term_end must not be before charge_start ({charge_start})")
    if days_inclusive(charge_start, term_end) > MAX_CHARGE_DAYS:
        raise ValueError(f"a term covers at most {MAX_CHARGE_DAYS} days from charge_start")


class VendorInvoicePayload(BaseModel):
    """A vendor invoice as a vendor sends it (the webhook body: no vendor_id)."""

    invoice_number: Name
    invoice_date: Day
    period: PeriodField
    currency: Currency | None = PField(
        default=None, description="Must equal the vendor's currency; defaults to it"
    )
    total: Amount
    lines: list[InvoiceLineIn] = PField(min_length=1, max_length=MAX_LINES)


class VendorInvoiceCreate(VendorInvoicePayload):
    vendor_id: Id


class InvoiceLineRead(ReadModel):
    id: int
    line_no: int
    vendor_sku: str
    account_ref: str
    description: str | None
    quantity: VendorQuantity
    unit_cost: VendorUnitCost
    amount: Amount
    kind: LineKind
    charge_start: date
    charge_end: date
    subscription_ref: str | None
    term_end: date | None = PField(
        description="The last day of the line's commitment, when the vendor gave it"
    )
    service_id: int | None = PField(
        description="The service matched by (vendor_id, vendor_sku), or null "
        "(docs/month-arithmetic.md#matching-vendor-lines)"
    )
    customer_id: int | None = PField(
        description="The customer matched by (vendor_id, account_ref), or null "
        "(docs/month-arithmetic.md#matching-vendor-lines)"
    )


class VendorInvoiceRead(ReadModel):
    id: int
    vendor_id: int
    invoice_number: str
    invoice_date: date
    period: str
    currency: str
    total: Amount
    lines_total: AmountOut = PField(description="Sum of the line amounts")
    line_count: int
    source: InvoiceSource
    created_at: datetime


class VendorInvoiceDetail(VendorInvoiceRead):
    lines: list[InvoiceLineRead]


class InvoiceCheck(BaseModel):
    """A finding the month's audit would report about a vendor invoice just taken in,
    worked out by the same rule, stored nowhere as a finding (docs/checks.md)."""

    type: FindingType
    severity: Severity
    impact: AmountOut = PField(description="The money at stake, as the finding's impact")
    customer_id: int | None
    customer_name: str | None = PField(description="The customer's name; null without a customer")
    service_id: int | None
    service_name: str | None = PField(description="The service's name; null without a service")
    vendor_sku: str | None = PField(description="UNMAPPED_*: the line's vendor SKU")
    account_ref: str | None = PField(description="UNMAPPED_*: the line's account ref")
    message: str


class VendorInvoiceReceived(VendorInvoiceDetail):
    """The answer to a vendor invoice taken in: the invoice and its checks."""

    checks: list[InvoiceCheck] = PField(
        description="What the audit of the invoice's month would find about this invoice "
        "alone (docs/checks.md): price rises, unmapped lines, total mismatch, duplicate "
        "charges, and orphaned cost of the (customer, service) pairs it charges"
    )


class UnmappedSku(BaseModel):
    period: PeriodField
    vendor_id: int
    vendor_sku: str
    line_count: int
    amount: AmountOut


class UnmappedAccount(BaseModel):
    period: PeriodField
    vendor_id: int
    account_ref: str
    line_count: int
    amount: AmountOut


class Unmapped(BaseModel):
    """The to-do list before an audit, one page of periods
    (docs/month-arithmetic.md#unmapped-lines)."""

    period: PeriodField | None = PField(
        description="The period asked for; null when every period is listed"
    )
    skus: list[UnmappedSku] = PField(
        description="Vendor SKUs that match no service of their vendor, per period (newest "
        "first), biggest amount first"
    )
    accounts: list[UnmappedAccount] = PField(
        description="Account refs that match no customer's vendor account, per period (newest "
        "first), biggest amount first"
    )
    next_cursor: str | None = PField(
        description="Pass as `cursor` for the next page of periods; null on the last page."
    )
