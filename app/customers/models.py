"""Customers and their vendor accounts (how each vendor names the customer)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field as PField
from sqlalchemy import Boolean, Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, fk_field, updated_at_field
from app.core.schemas import InputModel, ReadModel
from app.core.types import QUICKBOOKS_ID_MAX_LENGTH, Id, Name, OptionalRef, QuickBooksId


class Customer(SQLModel, table=True):
    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    external_ref: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    # QuickBooks Online's Id of this customer (docs/exports.md#mapping-to-quickbooks).
    quickbooks_id: str | None = Field(
        default=None,
        sa_column=Column(String(QUICKBOOKS_ID_MAX_LENGTH), nullable=True, index=True),
    )
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class VendorAccount(SQLModel, table=True):
    __tablename__ = "vendor_account"
    __table_args__ = (UniqueConstraint("vendor_id", "account_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk_field("customer.id")
    vendor_id: int = fk_field("vendor.id", index=False)
    account_ref: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = created_at_field()


QB_ID_FIELD = PField(
    default=None,
    description="The customer's Id in QuickBooks Online, the CustomerRef of its exported "
    "invoices; null clears it",
    examples=["58"],
)


class CustomerCreate(InputModel):
    name: Name
    external_ref: OptionalRef = None
    quickbooks_id: QuickBooksId = QB_ID_FIELD
    active: bool = True


class CustomerUpdate(InputModel):
    name: Name | None = None
    external_ref: OptionalRef = None
    quickbooks_id: QuickBooksId = QB_ID_FIELD
    active: bool | None = None


class CustomerRead(ReadModel):
    id: int
    name: str
    external_ref: str | None
    quickbooks_id: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class VendorAccountCreate(InputModel):
    vendor_id: Id
    account_ref: Name


class VendorAccountRead(ReadModel):
    id: int
    customer_id: int
    vendor_id: int
    account_ref: str
    created_at: datetime
