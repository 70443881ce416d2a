"""Quantity and unit price for an invoice line whose amount is fixed (a prorated revenue):
QuickBooks refuses a line unless Amount == Qty x UnitPrice to the cent (error 6070), and
both carry at most 4 decimals here."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from app.core.money import MAX_ABS, round_half_up


def consistent(quantity: Decimal, unit_price: Decimal, amount: Decimal) -> bool:
    return round_half_up(quantity * unit_price) == amount


def quantity_and_price(
    quantity: Fraction | Decimal, unit_price: Decimal, amount: Decimal
) -> tuple[Decimal, Decimal]:
    """The closest honest (Qty, UnitPrice) whose product rounds to `amount` exactly.

    1. the quantity (for a prorated line: units x active days / days in month) to 4
       places at the line's own price;
    2. that quantity at the price amount / quantity, to 4 places, below MAX_ABS;
    3. one unit at the amount itself (always exact): minus one unit for a negative
       amount, so that the price is never negative (docs/exports.md#qty-and-unitprice).
    """
    qty = round_half_up(Fraction(quantity), 4)
    if qty != 0:
        if consistent(qty, unit_price, amount):
            return qty, unit_price
        price = round_half_up(Fraction(amount) / Fraction(qty), 4)
        # A quantity rounded down to a few ten-thousandths can ask for a price past the
        # per-value limit (README, "Limits"), which no unit price may reach.
        if 0 <= price < MAX_ABS and consistent(qty, price, amount):
            return qty, price
    one = Decimal("-1.0000") if amount < 0 else Decimal("1.0000")
    return one, abs(amount).quantize(Decimal("0.0001"))
