"""Recurring contracts, their lines, and the quantity adjustments of each line."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import Column, Date, String, Text
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, decimal_field, fk_field, updated_at_field
from app.core.money import AmountOut, Quantity, QuantityOut, UnitPrice
from app.core.periods import PeriodField
from app.core.schemas import InputModel, ReadModel
from app.core.types import Day, FreeText, Id, Name, OptionalRef


class ContractStatus(StrEnum):
    active = "active"
    cancelled = "cancelled"


class Contract(SQLModel, table=True):
    __tablename__ = "contract"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = fk_field("customer.id")
    name: str = Field(sa_column=Column(String(200), nullable=False))
    external_ref: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True, unique=True)
    )
    start_date: date = Field(sa_column=Column(Date, nullable=False))
    end_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    status: str = Field(
        default=ContractStatus.active.value,
        sa_column=Column(String(16), nullable=False, default=ContractStatus.active.value),
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ContractLine(SQLModel, table=True):
    __tablename__ = "contract_line"

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = fk_field("contract.id")
    service_id: int = fk_field("service.id")
    # The quantity from the line's start; adjustments change it from their date on.
    quantity: Decimal = decimal_field(4)
    unit_price: Decimal = decimal_field(4)
    # Null: the contract's date applies.
    start_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    end_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ContractLineAdjustment(SQLModel, table=True):
    __tablename__ = "contract_line_adjustment"

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = fk_field("contract_line.id")
    effective_date: date = Field(sa_column=Column(Date, nullable=False))
    quantity: Decimal = decimal_field(4)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()


# --- schemas ---------------------------------------------------------------------------------


class ContractCreate(InputModel):
    customer_id: Id
    name: Name
    external_ref: OptionalRef = None
    start_date: Day
    end_date: Day | None = PField(
        default=None, description="Last day of service; null = open-ended"
    )


class ContractUpdate(InputModel):
    name: Name | None = None
    external_ref: OptionalRef = None
    start_date: Day | None = None
    end_date: Day | None = None


class ContractRead(ReadModel):
    id: int
    customer_id: int
    name: str
    external_ref: str | None
    start_date: date
    end_date: date | None
    status: ContractStatus
    created_at: datetime
    updated_at: datetime


class ContractCancel(InputModel):
    effective_date: Day = PField(
        description="Last day of service: at least the day before start_date, "
        "at most the current end_date."
    )


class AdjustmentCreate(InputModel):
    effective_date: Day = PField(description="The new quantity applies from this day on")
    quantity: Quantity
    note: FreeText = None


class AdjustmentRead(ReadModel):
    id: int
    line_id: int
    effective_date: date
    quantity: Quantity
    note: str | None
    created_at: datetime


class LineCreate(InputModel):
    service_id: Id
    quantity: Quantity
    unit_price: UnitPrice | None = PField(
        default=None, description="Defaults to the service's list price"
    )
    start_date: Day | None = PField(default=None, description="Defaults to the contract's dates")
    end_date: Day | None = None
    description: FreeText = None


class LineUpdate(InputModel):
    """Corrections of a line. Its quantity changes only through adjustments, so that the
    line's history stays as recorded."""

    unit_price: UnitPrice | None = None
    start_date: Day | None = None
    end_date: Day | None = None
    description: FreeText = None


class LineRead(ReadModel):
    id: int
    contract_id: int
    service_id: int
    quantity: Quantity
    unit_price: UnitPrice
    start_date: date | None
    end_date: date | None
    description: str | None
    adjustments: list[AdjustmentRead] = PField(
        description="Quantity changes, in effective-date order (the line's history)"
    )
    created_at: datetime
    updated_at: datetime


class ContractDetail(ContractRead):
    lines: list[LineRead]


class ScheduleSegment(BaseModel):
    """Consecutive active days of a line with one quantity (docs/month-arithmetic.md#revenue)."""

    first_day: date
    last_day: date
    days: int
    quantity: QuantityOut


class ScheduleLineMonth(BaseModel):
    line_id: int
    service_id: int
    month: PeriodField
    units: QuantityOut = PField(
        description="Quantity in effect on the month's last day, if active then: the "
        "contracted units, not what the revenue was computed on when the quantity changed "
        "during the month (see segments)"
    )
    unit_price: UnitPrice
    active_days: int
    segments: list[ScheduleSegment] = PField(
        description="The active days cut where the quantity changes, in date order: revenue "
        "= sum of days x quantity over them x unit_price / days in the month, rounded once "
        "(docs/month-arithmetic.md#worked-example)"
    )
    revenue: AmountOut


class ScheduleMonth(BaseModel):
    month: PeriodField
    revenue: AmountOut


class ContractSchedule(ReadModel):
    contract_id: int
    from_: PeriodField = PField(alias="from", serialization_alias="from")
    to: PeriodField
    lines: list[ScheduleLineMonth] = PField(
        description="Every line of the contract in every month of the range, month by "
        "month, lines in id order (inactive months included, with 0 days and 0.00)"
    )
    months: list[ScheduleMonth] = PField(
        description="Each month's revenue: the sum of its lines' rounded revenues"
    )
    total_revenue: AmountOut

    model_config = {"populate_by_name": True}
