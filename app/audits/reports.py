"""Schemas of the per-customer audit report (docs/findings.md#customer-audit)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from app.core.money import AmountOut, PriceOut, QuantityOut
from app.core.periods import PeriodField


class CustomerAuditRow(BaseModel):
    service_id: int
    service_name: str
    sku: str
    vendor_id: int | None
    vendor_name: str | None = Field(description="null for an in-house service")
    contracted_units: QuantityOut
    vendor_units: QuantityOut
    deployed_units: QuantityOut
    invoiced_units: QuantityOut
    contract_unit_price: PriceOut | None = Field(
        description="Quantity-weighted mean unit price of the lines counted "
        "(docs/month-arithmetic.md#contract-unit-price)"
    )
    vendor_mean_unit_cost: PriceOut | None = Field(
        description="The monthly amounts of the recurring lines in force at the month's end over "
        "their units (docs/vendor-bills.md#month-figures)"
    )
    revenue: AmountOut
    cost: AmountOut
    profit: AmountOut
    margin: Decimal | None = Field(
        description="profit / revenue, 4 decimals; null when revenue is 0"
    )
    finding_types: list[str] = Field(description="Finding types that apply (docs/findings.md)")


class CustomerAuditReport(BaseModel):
    customer_id: int
    customer_name: str
    period: PeriodField
    rows: list[CustomerAuditRow]
    revenue: AmountOut
    cost: AmountOut
    profit: AmountOut
    margin: Decimal | None
    finding_types: list[str] = Field(
        description="Every finding type that applies to the customer in the period: those of "
        "its rows and the customer-level ones (MISSING_BILLING)"
    )
