"""Money is exact (docs/README.md#money): rounding, parsing, formatting, and storage whose sums
stay exact on both databases."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, insert, select
from sqlmodel import col

from app.core.money import (
    Amount,
    Quantity,
    UnitPrice,
    format_amount,
    format_price,
    format_quantity,
    from_scaled,
    round_half_up,
    split_cents,
    to_scaled,
)
from app.services.models import Service


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.005"), "0.01"),  # the half-cent tie rounds up
        (Decimal("0.004999"), "0.00"),
        (Decimal("-0.005"), "-0.01"),  # half away from zero
        (Decimal("2.675"), "2.68"),  # a float would give 2.67
        (Fraction(1, 3), "0.33"),
        (Fraction(2, 3), "0.67"),
        (Fraction(1001, 200), "5.01"),  # 5.005 exactly
        (Fraction(-1001, 200), "-5.01"),
        (Fraction(9 * 2750 * 17, 100 * 30), "140.25"),  # 9 x 27.50 x 17/30 = 140.25
        (0, "0.00"),
    ],
)
def test_round_half_up(value: Decimal | Fraction | int, expected: str) -> None:
    assert str(round_half_up(value)) == expected


def test_round_to_four_places() -> None:
    assert str(round_half_up(Fraction(1, 6), 4)) == "0.1667"
    assert str(round_half_up(Decimal("0.00005"), 4)) == "0.0001"


def test_formats() -> None:
    assert format_amount(Decimal("1234.5")) == "1234.50"
    assert format_amount(Decimal("-0.1")) == "-0.10"
    assert format_price(Decimal("27.5000")) == "27.50"
    assert format_price(Decimal("0.0875")) == "0.0875"
    assert format_price(Decimal("1.2340")) == "1.234"
    assert format_quantity(Decimal("5.0000")) == "5"
    assert format_quantity(Decimal("987.3000")) == "987.3"
    assert format_quantity(Decimal("100")) == "100"


class _Body(BaseModel):
    amount: Amount | None = None
    price: UnitPrice | None = None
    quantity: Quantity | None = None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "1.001"),
        ("price", "1.00001"),
        ("quantity", "-1"),
        ("price", "-0.01"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "-Infinity"),
        ("amount", "abc"),
        ("amount", True),
        ("amount", [1]),
        ("quantity", "1e20"),
    ],
)
def test_rejected_inputs(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        _Body(**{field: value})


def test_accepted_inputs_are_read_from_their_text() -> None:
    body = _Body(amount="-12.5", price=0.1, quantity=3)
    assert body.amount == Decimal("-12.50")
    assert body.price == Decimal("0.1000")
    assert body.quantity == Decimal("3")
    # Trailing zeros carry no extra precision.
    assert _Body(price="1.500000").price == Decimal("1.5")
    assert body.model_dump(mode="json") == {"amount": "-12.50", "price": "0.10", "quantity": "3"}


async def test_json_numbers_never_pass_through_a_float(client: httpx.AsyncClient) -> None:
    # 0.1 + 0.2 style values sent as bare JSON numbers, with 4 decimals.
    raw = (
        b'{"name": "X", "sku": "X", "unit": "GB", "unit_price": 0.0875, "unit_cost": 1234567.1234}'
    )
    response = await client.post(
        "/api/v1/services", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["unit_price"] == "0.0875"
    assert response.json()["unit_cost"] == "1234567.1234"
    nan = b'{"name": "Y", "sku": "Y", "unit": "GB", "unit_price": NaN, "unit_cost": 1}'
    rejected = await client.post(
        "/api/v1/services", content=nan, headers={"content-type": "application/json"}
    )
    assert rejected.status_code == 422
    assert any(e["field"] == "body.unit_price" for e in rejected.json()["errors"])


AWKWARD = ["0.10", "0.20", "0.3333", "0.0001", "0.6667", "1.005", "99999.9999", "0.0875", "7.77"]


async def test_thousands_of_awkward_amounts_sum_exactly(
    client: httpx.AsyncClient, app: Any
) -> None:
    """SQLite's NUMERIC is floating point; ExactDecimal must keep SUM() exact anyway."""
    rng = random.Random(20261127)
    values = [Decimal(rng.choice(AWKWARD)) for _ in range(5000)]
    rows = [
        {
            "name": f"S{i}",
            "sku": f"SKU-{i}",
            "unit": "seat",
            "unit_price": value,
            "unit_cost": Decimal("0.1000") * (i % 7),
            "active": True,
        }
        for i, value in enumerate(values)
    ]
    async with app.state.sessionmaker() as session:
        await session.execute(insert(Service), rows)
        await session.commit()
        total_price = await session.scalar(select(func.sum(Service.unit_price)))
        total_cost = await session.scalar(select(func.sum(Service.unit_cost)))
    assert isinstance(total_price, Decimal)
    assert total_price == sum(values, Decimal(0))
    assert total_cost == sum((Decimal("0.1") * (i % 7) for i in range(5000)), Decimal(0))
    assert str(total_price) == f"{sum(values, Decimal(0)):.4f}"


# --- products in SQL -------------------------------------------------------------------------


async def test_price_increase_of_large_valid_values(client: httpx.AsyncClient) -> None:
    """1000 x 100000000 = 10^11: every value below 10^12 (docs/README.md#money). The audit
    multiplies in Python, never the scaled integers in SQL (which would pass SQLite's
    64-bit integers: 10^11 x 10^8)."""
    v = (await client.post("/api/v1/vendors", json={"name": "Big"})).json()
    s = await client.post(
        "/api/v1/services",
        json={
            "name": "Rack",
            "sku": "RACK",
            "unit": "rack",
            "unit_price": "200000000",
            "unit_cost": "99999999.9999",
            "vendor_id": v["id"],
            "vendor_sku": "BIG",
        },
    )
    assert s.status_code == 201, s.text
    invoice = await client.post(
        "/api/v1/vendor-invoices",
        json={
            "vendor_id": v["id"],
            "invoice_number": "B-1",
            "invoice_date": "2026-03-31",
            "period": "2026-03",
            "total": "100000000000.00",
            "lines": [
                {
                    "vendor_sku": "BIG",
                    "account_ref": "A1",
                    "quantity": "1000",
                    "unit_cost": "100000000",
                }
            ],
        },
    )
    assert invoice.status_code == 201, invoice.text
    audit = await client.post("/api/v1/audits", json={"period": "2026-03"})
    assert audit.status_code == 201, audit.text
    # (100000000 - 99999999.9999) x 1000 = 0.0001 x 1000 = 0.10
    assert audit.json()["summary"]["by_type"]["PRICE_INCREASE"] == {"count": 1, "impact": "0.10"}


def test_multiplying_an_exact_decimal_column_in_sql_is_refused() -> None:
    """On SQLite the stored form is a scaled integer: price x 2 would double the scale's
    meaning silently. Only +, - and comparisons are allowed."""
    price = col(Service.unit_price)
    with pytest.raises(TypeError, match="scaled integers"):
        _ = price * 2
    with pytest.raises(TypeError, match="scaled integers"):
        _ = 2 * price
    with pytest.raises(TypeError, match="scaled integers"):
        _ = price * col(Service.unit_cost)
    with pytest.raises(TypeError, match="scaled integers"):
        _ = price / 30
    with pytest.raises(TypeError, match="scaled integers"):
        _ = price % 7
    # Sums, differences and comparisons stay available.
    assert price + col(Service.unit_cost) is not None
    assert price - 1 is not None
    assert (price > 0) is not None


# --- integer cents -----------------------------------------------------------------------------


def test_split_cents_pure() -> None:
    """The contract split's largest remainder (docs/reports.md#contract-split)."""
    # 10.00 over 1 : 1 : 1 -> 3.34, 3.33, 3.33: the tie goes to the lowest id.
    assert split_cents(1000, [(5, Decimal(1)), (6, Decimal(1)), (7, Decimal(1))]) == {
        5: 334,
        6: 333,
        7: 333,
    }
    # Listed out of order, the lowest id still wins the tie.
    assert split_cents(1, [(9, Decimal(1)), (3, Decimal(1))]) == {9: 0, 3: 1}
    # Credits: -10.00 -> -3.34, -3.33, -3.33.
    assert split_cents(-1000, [(1, Decimal(1)), (2, Decimal(1)), (3, Decimal(1))]) == {
        1: -334,
        2: -333,
        3: -333,
    }
    # Fractional units 0.5 : 1.25 of 1.01: 0.28857... and 0.72142... -> 28 + 72 = 100,
    # the last cent to the larger remainder (0.857 of id 1): 29 and 72.
    assert split_cents(101, [(1, Decimal("0.5")), (2, Decimal("1.25"))]) == {1: 29, 2: 72}


def test_scaled_integers() -> None:
    assert to_scaled(Decimal("12.3456"), 4) == 123456
    assert to_scaled(Decimal("-0.5"), 4) == -5000
    assert to_scaled(Decimal("0.00001"), 4) is None  # more places than the scale: refused
    assert from_scaled(123456, 4) == Decimal("12.3456")
    assert from_scaled(-5, 2) == Decimal("-0.05")
