"""Import profiles: how one distributor's CSV file becomes vendor invoices
(docs/vendor-bills.md#import-profiles). The table holds the MSP's own profiles; the
built-in ones live in code (presets.py) and are read-only."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, model_validator
from pydantic import Field as PField
from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, fk_field, updated_at_field
from app.core.money import AmountOut, PriceOut, QuantityOut
from app.core.schemas import InputModel, ReadModel
from app.core.types import MAX_ID, Id, Name
from app.vendor_invoices.models import (
    InvoiceCheck,
    InvoiceSource,
    LineKind,
    VendorInvoiceReceived,
)

# What a profile's `columns` may map: the line's fields, the invoice's header fields a
# file may carry, `cycle` (the billing cycle, read through cycle_months) and `kind` (a
# column holding the kind itself, as the canonical file has).
LINE_FIELDS = (
    "vendor_sku",
    "account_ref",
    "description",
    "quantity",
    "unit_cost",
    "amount",
    "charge_start",
    "charge_end",
    "subscription_ref",
    "term_end",
)
INVOICE_FIELDS = ("invoice_number", "invoice_date", "currency")
FIELDS = (*LINE_FIELDS, *INVOICE_FIELDS, "cycle", "kind")
REQUIRED_FIELDS = ("quantity", "unit_cost")
DATE_FORMATS = ("YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY", "DD.MM.YYYY")
DateFormat = Literal["YYYY-MM-DD", "MM/DD/YYYY", "DD/MM/YYYY", "DD.MM.YYYY"]
DecimalSeparator = Literal[".", ","]
MAX_RULES = 100
# A cycle longer than the longest charge period a line may cover makes no sense.
MAX_CYCLE_MONTHS = 60
ANY = "*"


def name_key(name: str) -> str:
    """How profile names compare: case ignored (the built-in ones included)."""
    return name.lower()


class ImportProfile(SQLModel, table=True):
    __tablename__ = "import_profile"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    # The name as names are compared (case ignored), unique: the database settles a race
    # between "Pax8 EU" and "pax8 eu", not a check before the insert.
    name_key: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    vendor_id: int | None = fk_field("vendor.id", nullable=True)
    delimiter: str | None = Field(default=None, sa_column=Column(String(1), nullable=True))
    decimal_separator: str = Field(
        default=".", sa_column=Column(String(1), nullable=False, default=".")
    )
    date_format: str = Field(
        default="YYYY-MM-DD", sa_column=Column(String(10), nullable=False, default="YYYY-MM-DD")
    )
    # Small documents read whole with the profile; never queried inside.
    columns: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    kinds: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    cycle_months: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    skip: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# --- settings ------------------------------------------------------------------------------

_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")


def template_headers(spec: str) -> list[str]:
    """The headers a column spec names: itself, or each `{Header}` of a template."""
    if "{" not in spec and "}" not in spec:
        return [spec]
    return _TEMPLATE_PART.findall(spec)


def _check_spec(spec: str) -> str:
    spec = spec.strip()
    if not spec:
        raise ValueError("must name a header or be a template such as {ProductId}:{SkuId}")
    if "{" in spec or "}" in spec:
        rest = _TEMPLATE_PART.sub("", spec)
        if "{" in rest or "}" in rest:
            raise ValueError(
                f"the template {spec!r} has unbalanced braces; write headers as {{Header}}"
            )
        if any(not part.strip() for part in _TEMPLATE_PART.findall(spec)):
            raise ValueError(f"the template {spec!r} has an empty {{}}; name a header in it")
    return spec


ColumnSpec = Annotated[str, PField(max_length=500), AfterValidator(_check_spec)]
Header = Annotated[str, PField(min_length=1, max_length=200), AfterValidator(_check_spec)]
CellValue = Annotated[str, PField(max_length=200)]


class KindRule(BaseModel):
    column: Header = PField(description="A header of the file")
    equals: CellValue = PField(
        description='The cell\'s value (case and surrounding spaces ignored); "*" matches anything'
    )
    kind: LineKind


class SkipRule(BaseModel):
    column: Header = PField(description="A header of the file")
    equals: CellValue = PField(
        description='Rows whose cell holds this value are left out; "*" matches anything'
    )


def _check_columns(columns: dict[str, str]) -> dict[str, str]:
    unknown = [name for name in columns if name not in FIELDS]
    if unknown:
        raise ValueError(
            f"unknown field {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}"
        )
    return columns


def _check_cycles(cycles: dict[str, int]) -> dict[str, int]:
    bad = [key for key, months in cycles.items() if not 1 <= months <= MAX_CYCLE_MONTHS]
    if bad:
        raise ValueError(
            f"months must be between 1 and {MAX_CYCLE_MONTHS} (for {', '.join(map(repr, bad))})"
        )
    return cycles


Columns = Annotated[
    dict[Annotated[str, PField(max_length=50)], ColumnSpec],
    PField(max_length=len(FIELDS)),
    AfterValidator(_check_columns),
]
CycleMonths = Annotated[
    dict[CellValue, int], PField(max_length=MAX_RULES), AfterValidator(_check_cycles)
]


_INTEGER = re.compile(r"[+-]?\d+")


def _check_name(value: str) -> str:
    if _INTEGER.fullmatch(value):
        raise ValueError("must not be only digits: a number in the path is an id")
    return value


def check_ref(value: str) -> str:
    """A profile's id or name in a path: a number must be an id in range."""
    if _INTEGER.fullmatch(value.strip()) and not 1 <= int(value) <= MAX_ID:
        raise ValueError(f"an id is a whole number between 1 and {MAX_ID}")
    return value


ProfileName = Annotated[Name, PField(max_length=100), AfterValidator(_check_name)]
Delimiter = Annotated[str, PField(min_length=1, max_length=1)]


def _check_delimiter(value: str | None) -> str | None:
    if value is not None and (value in '"\r\n' or value.isalnum() or value == " "):
        raise ValueError("must be one character such as , ; | or a tab, not a quote or letter")
    return value


class ProfileSettings(InputModel):
    """Everything but the name: what the parser reads."""

    vendor_id: Id | None = PField(
        default=None, description="The vendor whose files these are; the import's default"
    )
    delimiter: Annotated[Delimiter | None, AfterValidator(_check_delimiter)] = PField(
        default=None, description="One character; read from the header line when absent"
    )
    decimal_separator: DecimalSeparator = PField(
        default=".", description='"." or ","; the other one is the thousands separator'
    )
    date_format: DateFormat = PField(
        default="YYYY-MM-DD", description="How the file writes dates; ISO dates always read"
    )
    columns: Columns = PField(
        description="field -> a header of the file, or a template joining headers such as "
        '"{ProductId}:{SkuId}". Fields: ' + ", ".join(FIELDS),
        examples=[{"vendor_sku": "{ProductId}:{SkuId}", "quantity": "Qty", "unit_cost": "Price"}],
    )
    kinds: list[KindRule] = PField(
        default_factory=list,
        max_length=MAX_RULES,
        description="The first rule whose column holds its value gives the line's kind; "
        "no match: recurring",
    )
    cycle_months: CycleMonths = PField(
        default_factory=dict,
        description="The `cycle` column's value (or \"*\") -> n: the file's unit price is for "
        "n months and is divided by n",
    )
    skip: list[SkipRule] = PField(
        default_factory=list, max_length=MAX_RULES, description="Rows to leave out"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ProfileSettings:
        missing = [name for name in REQUIRED_FIELDS if name not in self.columns]
        if missing:
            raise ValueError(f"columns must map {' and '.join(missing)}")
        if self.cycle_months and "cycle" not in self.columns:
            raise ValueError("cycle_months needs the cycle field mapped in columns")
        return self


class ImportProfileCreate(ProfileSettings):
    name: ProfileName


class ImportProfileUpdate(InputModel):
    """The fields to change; each replaces the stored value whole."""

    name: ProfileName | None = None
    vendor_id: Id | None = None
    delimiter: Annotated[Delimiter | None, AfterValidator(_check_delimiter)] = None
    decimal_separator: DecimalSeparator | None = None
    date_format: DateFormat | None = None
    columns: Columns | None = None
    kinds: list[KindRule] | None = PField(default=None, max_length=MAX_RULES)
    cycle_months: CycleMonths | None = None
    skip: list[SkipRule] | None = PField(default=None, max_length=MAX_RULES)


class ImportProfileRead(ReadModel):
    id: int | None = PField(description="null for a built-in profile: use its name")
    name: str
    built_in: bool
    vendor_id: int | None
    delimiter: str | None
    decimal_separator: DecimalSeparator
    date_format: DateFormat
    columns: dict[str, str]
    kinds: list[KindRule]
    cycle_months: dict[str, int]
    skip: list[SkipRule]
    created_at: datetime | None
    updated_at: datetime | None


# --- import answers ------------------------------------------------------------------------


class ImportedInvoices(BaseModel):
    """The answer to an import that names a `profile`: every invoice the file made."""

    invoices: list[VendorInvoiceReceived]


class LinePreview(BaseModel):
    line_no: int
    vendor_sku: str
    account_ref: str
    description: str | None
    quantity: QuantityOut
    unit_cost: PriceOut
    amount: AmountOut
    kind: LineKind
    charge_start: date
    charge_end: date
    subscription_ref: str | None
    term_end: date | None
    service_id: int | None = PField(description="The service the line matches, or null")
    customer_id: int | None = PField(description="The customer the line matches, or null")


class InvoicePreview(BaseModel):
    vendor_id: int
    invoice_number: str
    invoice_date: date
    period: str
    currency: str
    total: AmountOut
    lines_total: AmountOut
    line_count: int
    source: InvoiceSource
    lines: list[LinePreview]
    checks: list[InvoiceCheck] = PField(
        description="What the audit of the invoice's month would find about it, were it "
        "stored (docs/checks.md)"
    )


class ImportPreview(BaseModel):
    """The answer to `dry_run=true`: the invoices as they would be stored; nothing is."""

    dry_run: Literal[True] = True
    invoices: list[InvoicePreview]
    unmapped_skus: int = PField(
        description="Distinct vendor SKUs that match no service (adjustment lines left out)"
    )
    unmapped_accounts: int = PField(
        description="Distinct account refs that match no customer (adjustment lines left out)"
    )
