"""Answers of the alerts: what needs doing by a date (docs/cancellations.md)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel
from pydantic import Field as PField

from app.core.money import AmountOut


class CancellationItem(BaseModel):
    subscription_ref: str | None = PField(
        description="The vendor's subscription id; null for the lines of the pair that name "
        "none, taken together (docs/cancellations.md#subscriptions)"
    )
    customer_id: int
    service_id: int
    vendor_id: int
    finding_id: int = PField(
        description="The ORPHANED_COST finding (open or acknowledged) the subscription is charged "
        "under, of the latest month that has one"
    )
    act_by: date = PField(
        description="The last day of the vendor's cancel window while as_of is in it, else the "
        "end of the current term, by which auto-renewal must be off "
        "(docs/cancellations.md#act-by)"
    )
    term_end: date = PField(
        description="The last day of the current term: the term_end of the subscription's "
        "latest lines, else their charge_end (docs/cancellations.md#current-term)"
    )
    monthly_cost: AmountOut = PField(
        description="What the subscription's latest lines cost a month: their amounts over the "
        "months they cover (docs/cancellations.md#monthly-cost)"
    )
    committed_cost: AmountOut = PField(
        description="monthly_cost x share(as_of, term end), rounded half-up to the cent; 0.00 "
        "once the term has ended (docs/cancellations.md#committed-cost)"
    )


class Cancellations(BaseModel):
    as_of: date
    items: list[CancellationItem] = PField(description="Earliest act_by first")
