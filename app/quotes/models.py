"""Quote previews: price a prospective contract on real costs; nothing is stored."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from app.core.money import AmountOut, PriceOut, Quantity, QuantityOut, UnitPrice
from app.core.periods import PeriodField
from app.core.schemas import InputModel
from app.core.types import Id


class CostBasis(StrEnum):
    vendor_mean = "vendor_mean"  # the latest month's actual mean vendor unit cost
    standard = "standard"  # the service's standard unit cost today (docs/price-book.md#quotes)


class QuoteLineIn(InputModel):
    service_id: Id
    quantity: Quantity
    unit_price: UnitPrice | None = Field(
        default=None, description="Defaults to the service's list price"
    )


class QuoteCreate(InputModel):
    customer_id: Id | None = Field(default=None, description="Optional: who the quote is for")
    lines: list[QuoteLineIn] = Field(min_length=1, max_length=500)
    margin_floor: Decimal | None = Field(
        default=None,
        ge=Decimal("-10"),
        le=Decimal("1"),
        max_digits=6,
        decimal_places=4,
        description="Warn below this margin; defaults to the setting MSP_QUOTE_MARGIN_FLOOR",
    )


class QuoteLine(BaseModel):
    service_id: int
    service_name: str
    quantity: QuantityOut
    unit_price: PriceOut
    unit_cost: PriceOut = Field(description="The expected cost per unit per month")
    cost_basis: CostBasis
    cost_period: PeriodField | None = Field(
        description="The month whose vendor invoices gave the mean cost (vendor_mean only)"
    )
    revenue: AmountOut = Field(description="Monthly revenue: quantity x unit_price, rounded")
    cost: AmountOut = Field(description="Monthly expected cost: quantity x unit_cost, rounded")
    profit: AmountOut
    margin: Decimal | None = Field(description="profit / revenue, 4 decimals; null at 0 revenue")
    below_margin_floor: bool


class QuoteWarning(BaseModel):
    line: int = Field(description="Index of the line in the request")
    message: str


class QuotePreview(BaseModel):
    customer_id: int | None
    margin_floor: Decimal
    lines: list[QuoteLine]
    revenue: AmountOut
    cost: AmountOut
    profit: AmountOut
    margin: Decimal | None
    warnings: list[QuoteWarning]
