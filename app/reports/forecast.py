"""The margin forecast (docs/price-book.md#margin-forecast): for a month, every (customer,
service) under contract at the end of the month before, with its margin at the standard
unit cost of that last day and at the standard of the month's first day, and what the
change does to a month's profit. A price rise entered in the price book shows here before
the first vendor invoice carries it."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.dependencies import ReadKey
from app.contracts import month_sql
from app.core.db import SnapshotSessionDep
from app.core.errors import problem_responses
from app.core.money import VENDOR_PLACES, AmountOut, PriceOut, QuantityOut, round_half_up
from app.core.periods import Period, PeriodField, PeriodQuery
from app.core.routing import api_router
from app.reports.csv import csv_response, csv_responses, model_rows, wants_csv
from app.reports.names import names_of
from app.services.costs import load_price_book
from app.services.models import Service

MarginOut = Annotated[
    Decimal | None,
    Field(
        description="(contract unit price - unit cost) / contract unit price, 4 decimals; "
        "null when the price is 0"
    ),
]


class MarginForecastRow(BaseModel):
    customer_id: int
    customer_name: str
    service_id: int
    service_name: str
    contracted_units: QuantityOut = Field(
        description="Contracted units at the end of the month before `period`"
    )
    contract_unit_price: PriceOut = Field(
        description="Quantity-weighted mean unit price of the lines counted "
        "(docs/month-arithmetic.md#contract-unit-price), 6 places"
    )
    unit_cost_before: PriceOut = Field(
        description="Standard unit cost on the last day of the month before `period`"
    )
    unit_cost: PriceOut = Field(description="Standard unit cost on the first day of `period`")
    margin_before: MarginOut
    margin: MarginOut
    monthly_profit_change: AmountOut = Field(
        description="contracted_units x (unit_cost_before - unit_cost), to the cent"
    )


class MarginForecast(BaseModel):
    period: PeriodField
    rows: list[MarginForecastRow] = Field(description="Biggest loss of profit first")


def _margin(price: Fraction, cost: Decimal) -> Decimal | None:
    if price == 0:
        return None
    return round_half_up((price - Fraction(cost)) / price, 4)


async def forecast(session: AsyncSession, *, period: Period) -> MarginForecast:
    """Contract positions of the month before from the month arithmetic in SQL (one
    statement), the standard costs of the services under contract from the price book (one
    query), the names (two): however many lines."""
    before = period.previous()
    # (customer, service) -> [units x 10^4, units x unit price x 10^8] of the lines active
    # on the last day of the month before (docs/month-arithmetic.md#contracted-units).
    sums: dict[tuple[int, int], list[int]] = {}
    for line in await month_sql.month_line_figures(session, before):
        if line.units is None:
            continue
        acc = sums.setdefault((line.customer_id, line.service_id), [0, 0])
        acc[0] += line.units
        acc[1] += line.units * line.unit_price
    held = {pair: acc for pair, acc in sums.items() if acc[0] > 0}
    if not held:
        return MarginForecast(period=period, rows=[])
    service_ids = sorted({s for _c, s in held})
    customer_ids = sorted({c for c, _s in held})
    services: Any = (
        await session.execute(
            select(col(Service.id), col(Service.name), col(Service.unit_cost)).where(
                col(Service.id).in_(service_ids)
            )
        )
    ).all()
    service_names = {sid: name for sid, name, _cost in services}
    customer_names = await names_of(session, "customer", customer_ids)
    book = await load_price_book(
        session, {sid: cost for sid, _name, cost in services}, until=period.first_day
    )
    scale = 10**month_sql.DECIMALS
    rows = []
    for (customer_id, service_id), (units, weight) in held.items():
        quantity = month_sql.from_scaled(units)
        price = Fraction(weight, units * scale)  # (units x price x 10^8) / (units x 10^4)
        cost_before = book.on(service_id, before.last_day)
        cost = book.on(service_id, period.first_day)
        rows.append(
            MarginForecastRow(
                customer_id=customer_id,
                customer_name=customer_names[customer_id],
                service_id=service_id,
                service_name=service_names[service_id],
                contracted_units=quantity,
                contract_unit_price=round_half_up(price, VENDOR_PLACES),
                unit_cost_before=cost_before,
                unit_cost=cost,
                margin_before=_margin(price, cost_before),
                margin=_margin(price, cost),
                monthly_profit_change=round_half_up(
                    Fraction(quantity) * (Fraction(cost_before) - Fraction(cost))
                ),
            )
        )
    rows.sort(key=lambda r: (r.monthly_profit_change, r.customer_id, r.service_id))
    return MarginForecast(period=period, rows=rows)


router = api_router()


@router.get(
    "/reports/margin-forecast",
    response_model=MarginForecast,
    tags=["reports"],
    summary="Margins before and after the standard costs change at the start of a month",
    description="docs/price-book.md#margin-forecast: every (customer, service) with "
    "contracted units at the end of the month before `period`, with the contract unit price, "
    "the standard unit cost on that last day and on the first day of `period`, both margins "
    "and the change in a month's profit (contracted units x (cost before - cost)); the "
    "biggest loss first.",
    responses={
        **csv_responses(
            "customer_id,customer_name,service_id,...,monthly_profit_change\r\n"
            "7,Acme,3,...,-12.50\r\n"
        ),
        **problem_responses(401, 403, 422),
    },
)
async def margin_forecast(
    request: Request,
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    period: PeriodQuery,
) -> MarginForecast | Response:
    report = await forecast(session, period=period)
    if not wants_csv(request):
        return report
    columns = list(MarginForecastRow.model_fields)
    return csv_response(columns, model_rows(report.rows, columns), f"margin-forecast-{period}.csv")
