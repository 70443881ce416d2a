"""Devices and seats deployed at customers (the PSA's configuration items)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field as PField
from sqlalchemy import Column, Date, Index, String
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, fk_field, updated_at_field
from app.core.schemas import InputModel, ReadModel
from app.core.types import Day, Id, Name, OptionalRef


class Asset(SQLModel, table=True):
    __tablename__ = "asset"
    __table_args__ = (Index("ix_asset_customer_id_service_id", "customer_id", "service_id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk_field("customer.id", index=False)
    service_id: int = fk_field("service.id")
    name: str = Field(sa_column=Column(String(200), nullable=False))
    serial: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    external_ref: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    installed_on: date = Field(sa_column=Column(Date, nullable=False))
    # Counted on day d when installed_on <= d < removed_on
    # (docs/month-arithmetic.md#deployed-units).
    removed_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class AssetCreate(InputModel):
    customer_id: Id
    service_id: Id
    name: Name
    serial: OptionalRef = None
    external_ref: OptionalRef = PField(default=None, description="The PSA's configuration item id")
    installed_on: Day
    removed_on: Day | None = PField(default=None, description="First day no longer deployed")


class AssetUpdate(InputModel):
    customer_id: Id | None = None
    service_id: Id | None = None
    name: Name | None = None
    serial: OptionalRef = None
    external_ref: OptionalRef = None
    installed_on: Day | None = None
    removed_on: Day | None = None


class AssetRead(ReadModel):
    id: int
    customer_id: int
    service_id: int
    name: str
    serial: str | None
    external_ref: str | None
    installed_on: date
    removed_on: date | None
    created_at: datetime
    updated_at: datetime
