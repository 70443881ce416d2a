"""Report schemas (profitability, trends) and the monthly targets table (docs/reports.md)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import Column, String
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel

from app.core.columns import created_at_field, decimal_field, updated_at_field
from app.core.money import Amount, AmountOut, NonNegativeAmount
from app.core.periods import PeriodField
from app.core.schemas import InputModel, ReadModel

# --- the targets table -----------------------------------------------------------------------


class Target(SQLModel, table=True):
    """A month's revenue and profit goal (`PUT /targets/{period}`)."""

    __tablename__ = "target"

    id: int | None = SQLField(default=None, primary_key=True)
    period: str = SQLField(sa_column=Column(String(7), nullable=False, unique=True))
    revenue: Decimal = decimal_field(2)
    profit: Decimal = decimal_field(2)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class TargetPut(InputModel):
    revenue: NonNegativeAmount = Field(description="The month's revenue goal, >= 0")
    profit: Amount = Field(description="The month's profit goal; may be negative (a planned loss)")


class TargetRead(ReadModel):
    period: str
    revenue: AmountOut
    profit: AmountOut
    created_at: datetime
    updated_at: datetime


# --- parameters ------------------------------------------------------------------------------


class Basis(StrEnum):
    contracted = (
        "contracted"  # docs/month-arithmetic.md: the month arithmetic of the contract lines
    )
    invoiced = "invoiced"  # the non-void customer invoice lines of each period


class GroupKey(StrEnum):
    customer = "customer"
    contract = "contract"
    service = "service"
    vendor = "vendor"
    month = "month"


class Metric(StrEnum):
    revenue = "revenue"
    cost = "cost"
    profit = "profit"
    margin = "margin"


class TrendGroup(StrEnum):
    customer = "customer"
    service = "service"
    vendor = "vendor"
    none = "none"


# --- profitability ---------------------------------------------------------------------------

MARGIN_DESCRIPTION = "profit / revenue, 4 decimals, half-up; null when revenue is 0"


class Figures(BaseModel):
    revenue: AmountOut
    cost: AmountOut
    profit: AmountOut
    margin: Decimal | None = Field(description=MARGIN_DESCRIPTION)


class ProfitabilityRow(Figures):
    """One group. Only the keys named in `group_by` are present, each id with its name
    beside it (`customer_name` next to `customer_id`, ...); a present `contract_id`
    of null holds cost that no contracted units took, a present `vendor_id` of null is
    in-house work, a present `service_id` of null invoice lines without a service (their
    names are null too)."""

    customer_id: int | None = None
    customer_name: str | None = None
    contract_id: int | None = None
    contract_name: str | None = None
    service_id: int | None = None
    service_name: str | None = None
    vendor_id: int | None = None
    vendor_name: str | None = None
    month: str | None = Field(default=None, examples=["2026-10"])


class ProfitabilityReport(BaseModel):
    from_: PeriodField = Field(serialization_alias="from")
    to: PeriodField
    basis: Basis
    group_by: list[GroupKey]
    rows: list[ProfitabilityRow]
    totals: Figures = Field(description="The same figures over all rows")
    unallocated_cost: AmountOut = Field(
        description="Vendor cost of the range that no (customer, service) match took: lines "
        "whose vendor_sku or account_ref matches nothing"
    )


# --- trends ----------------------------------------------------------------------------------


class TrendSeries(BaseModel):
    """One customer, service or vendor (the key named by `group_by`, with its name beside
    it; none for the total). Values are amounts with 2 decimals, or margins with 4 (null
    when revenue is 0)."""

    customer_id: int | None = None
    customer_name: str | None = None
    service_id: int | None = None
    service_name: str | None = None
    vendor_id: int | None = None
    vendor_name: str | None = None
    values: list[Decimal | None] = Field(description="One per month")
    changes: list[Decimal | None] = Field(
        description="Month-over-month change: value - the previous month's value; null for "
        "the first month and where either value is null"
    )


class Gap(BaseModel):
    customer_id: int
    customer_name: str | None
    month: str = Field(examples=["2026-10"])


class TargetAttainment(BaseModel):
    month: str = Field(examples=["2026-10"])
    target: AmountOut | None = Field(description="null when no target is set for the month")
    actual: AmountOut
    attainment: Decimal | None = Field(
        description="actual / target, 4 decimals, half-up; null when the target is unset, 0 or "
        "negative (a ratio to such a goal means nothing)"
    )


class TrendsReport(BaseModel):
    metric: Metric
    basis: Basis
    group_by: TrendGroup
    months: list[str]
    series: list[TrendSeries]
    total: list[Decimal | None] = Field(description="The metric over everything, per month")
    total_changes: list[Decimal | None] = Field(
        description="Month-over-month change of the total; null for the first month"
    )
    gaps: list[Gap] = Field(
        description="Months in which a customer with a contract active on some day of the "
        "month has no revenue on the chosen basis"
    )
    targets: list[TargetAttainment] = Field(
        description="Per month, for the revenue and profit metrics (empty for the others)"
    )
    incomplete: list[str] = Field(
        description="Months in which a vendor that billed the month before has not billed "
        "yet (no invoice for the month, no recurring line in force on its last day): their "
        "cost, profit and margin are not final (docs/reports.md#incomplete-months)",
        examples=[["2026-11"]],
    )
