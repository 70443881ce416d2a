"""Tolerances: rules that hold back findings too small to act on
(docs/tolerances.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field as PField
from sqlalchemy import Column, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.audits.models import FindingType
from app.core.columns import created_at_field, decimal_field, fk_field
from app.core.money import AMOUNT_PLACES, VENDOR_PLACES, NonNegativeAmount, PercentLimit, UnitsLimit
from app.core.schemas import InputModel, ReadModel
from app.core.types import Id


class Tolerance(SQLModel, table=True):
    __tablename__ = "tolerance"
    __table_args__ = (UniqueConstraint("scope"),)

    id: int | None = Field(default=None, primary_key=True)
    type: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    customer_id: int | None = fk_field("customer.id", nullable=True, index=False)
    service_id: int | None = fk_field("service.id", nullable=True, index=False)
    max_units: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    max_percent: Decimal | None = decimal_field(AMOUNT_PLACES, nullable=True)
    max_impact: Decimal | None = decimal_field(AMOUNT_PLACES, nullable=True)
    # type, customer_id and service_id in one key ("*" for a field the rule leaves open):
    # one rule per scope, held by the database even when two requests race
    # (docs/tolerances.md#one-rule-per-scope).
    scope: str = Field(sa_column=Column(String(80), nullable=False))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = created_at_field()


def scope_key(type_: str | None, customer_id: int | None, service_id: int | None) -> str:
    return "|".join("*" if part is None else str(part) for part in (type_, customer_id, service_id))


class ToleranceCreate(InputModel):
    type: FindingType | None = PField(
        default=None, description="Only findings of this type; absent: every type"
    )
    customer_id: Id | None = PField(
        default=None, description="Only findings about this customer; absent: every customer"
    )
    service_id: Id | None = PField(
        default=None, description="Only findings about this service; absent: every service"
    )
    max_units: UnitsLimit | None = PField(
        default=None,
        description="UNBILLED_UNITS, OVERBILLED_UNITS, UNBILLED_ASSETS: held back when the "
        "unit difference is at most this (docs/tolerances.md#unit-limits)",
    )
    max_percent: PercentLimit | None = PField(
        default=None,
        description="UNBILLED_UNITS, OVERBILLED_UNITS, UNBILLED_ASSETS: held back when the "
        "unit difference / contracted units x 100 is at most this "
        "(docs/tolerances.md#unit-limits)",
    )
    max_impact: NonNegativeAmount | None = PField(
        default=None,
        description="Any type: held back when the impact is at most this "
        "(docs/tolerances.md#impact-limit)",
    )


class ToleranceRead(ReadModel):
    id: int
    type: FindingType | None
    customer_id: int | None
    service_id: int | None
    max_units: UnitsLimit | None
    max_percent: PercentLimit | None
    max_impact: NonNegativeAmount | None
    created_by: str
    created_at: datetime
