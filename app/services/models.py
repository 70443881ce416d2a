"""The catalog: what the MSP sells, at what list price and standard cost, and how the
vendor names it on its invoices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field as PField
from sqlalchemy import Boolean, CheckConstraint, Column, Date, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, decimal_field, fk_field, updated_at_field
from app.core.money import VENDOR_PLACES, StandardUnitCost, UnitPrice
from app.core.schemas import InputModel, ReadModel
from app.core.types import (
    QUICKBOOKS_ID_MAX_LENGTH,
    Day,
    Id,
    Name,
    OptionalRef,
    QuickBooksId,
    ShortText,
)


class Service(SQLModel, table=True):
    __tablename__ = "service"
    __table_args__ = (
        UniqueConstraint("vendor_id", "vendor_sku"),
        CheckConstraint(
            "vendor_sku IS NULL OR vendor_id IS NOT NULL", name="vendor_sku_needs_vendor"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    sku: str = Field(sa_column=Column(String(100), nullable=False, unique=True))
    unit: str = Field(sa_column=Column(String(100), nullable=False))
    unit_price: Decimal = decimal_field(4)
    unit_cost: Decimal = decimal_field(4)
    vendor_id: int | None = fk_field("vendor.id", nullable=True)
    vendor_sku: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    revenue_account: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # QuickBooks Online's Id of the item this service is sold as
    # (docs/exports.md#mapping-to-quickbooks).
    quickbooks_id: str | None = Field(
        default=None,
        sa_column=Column(String(QUICKBOOKS_ID_MAX_LENGTH), nullable=True, index=True),
    )
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    # Billed by the vendor by consumption (usage lines): no per-unit rules apply to it
    # (docs/vendor-bills.md#metered-services).
    metered: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, default=False, server_default=sa_false()),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


QB_ID_FIELD = PField(
    default=None,
    description="The Id in QuickBooks Online of the item this service is sold as, the ItemRef "
    "of its exported invoice lines; null clears it",
    examples=["12"],
)


class ServiceCreate(InputModel):
    name: Name
    sku: ShortText
    unit: ShortText
    unit_price: UnitPrice
    unit_cost: UnitPrice
    vendor_id: Id | None = None
    vendor_sku: OptionalRef = None
    revenue_account: OptionalRef = None
    quickbooks_id: QuickBooksId = QB_ID_FIELD
    active: bool = True
    metered: bool = PField(
        default=False,
        description="The vendor bills it by consumption (usage lines): the per-unit rules "
        "do not apply (docs/vendor-bills.md#metered-services)",
    )


class ServiceUpdate(InputModel):
    name: Name | None = None
    sku: ShortText | None = None
    unit: ShortText | None = None
    unit_price: UnitPrice | None = None
    unit_cost: UnitPrice | None = None
    vendor_id: Id | None = None
    vendor_sku: OptionalRef = None
    revenue_account: OptionalRef = None
    quickbooks_id: QuickBooksId = QB_ID_FIELD
    active: bool | None = None
    metered: bool | None = None


class ServiceRead(ReadModel):
    id: int
    name: str
    sku: str
    unit: str
    unit_price: UnitPrice
    unit_cost: UnitPrice
    vendor_id: int | None
    vendor_sku: str | None
    revenue_account: str | None
    quickbooks_id: str | None
    active: bool
    metered: bool
    created_at: datetime
    updated_at: datetime


class ServiceCost(SQLModel, table=True):
    """A price-book entry: the service's standard unit cost from `effective_from` on, until
    the next entry (docs/price-book.md#standard-unit-cost)."""

    __tablename__ = "service_cost"
    __table_args__ = (UniqueConstraint("service_id", "effective_from"),)

    id: int | None = Field(default=None, primary_key=True)
    # The unique (service_id, effective_from) index serves the lookups by service.
    service_id: int = fk_field("service.id", index=False)
    effective_from: date = Field(sa_column=Column(Date, nullable=False))
    unit_cost: Decimal = decimal_field(VENDOR_PLACES)
    created_at: datetime = created_at_field()


class ServiceCostCreate(InputModel):
    effective_from: Day = PField(description="First day this standard unit cost applies")
    unit_cost: StandardUnitCost


class ServiceCostRead(ReadModel):
    id: int
    service_id: int
    effective_from: date
    unit_cost: StandardUnitCost
    created_at: datetime
