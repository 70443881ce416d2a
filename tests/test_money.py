"""Money is exact (SPEC section 2): rounding, parsing, formatting, and storage whose sums
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
    round_half_up,
    sql_product,
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


def _service_row(i: int, price: Decimal, cost: Decimal) -> dict[str, Any]:
    return {
        "name": f"P{i}",
        "sku": f"P-{i}",
        "unit": "GB",
        "unit_price": price,
        "unit_cost": cost,
        "active": True,
    }


async def test_sql_product_sums_exactly(client: httpx.AsyncClient, app: Any) -> None:
    """sql_product multiplies the stored values (scaled integers on SQLite, whose scales
    add up to 8 places) so that SUM(quantity x unit_cost) is exact on both backends."""
    pairs = [
        (Decimal("1.5"), Decimal("0.0875")),  # 0.13125
        (Decimal("3"), Decimal("0.3333")),  # 0.9999
        (Decimal("987.3"), Decimal("0.0875")),  # 86.38875
        (Decimal("0.0001"), Decimal("0.0001")),  # 0.00000001, the smallest product
        (Decimal("99999.9999"), Decimal("0.0003")),  # 29.99999997
        (Decimal("0"), Decimal("7.77")),
    ]
    rng = random.Random(20261128)
    # (Without 99999.9999: its square, summed a few dozen times, is past what SQLite's
    # 64-bit integers hold at 8 places; see the test below.)
    small = [value for value in AWKWARD if value != "99999.9999"]
    pairs += [(Decimal(rng.choice(small)), Decimal(rng.choice(small))) for _ in range(2000)]
    async with app.state.sessionmaker() as session:
        await session.execute(
            insert(Service), [_service_row(i, price, cost) for i, (price, cost) in enumerate(pairs)]
        )
        await session.commit()
        product = sql_product(col(Service.unit_price), 4, col(Service.unit_cost), 4)
        total = await session.scalar(select(func.sum(product)))
        first_two = await session.scalar(
            select(func.sum(product)).where(col(Service.sku).in_(["P-0", "P-1"]))
        )
        each = (
            await session.execute(select(col(Service.sku), product).order_by(col(Service.id)))
        ).all()
    # 1.5 x 0.0875 + 3 x 0.3333 = 0.13125 + 0.9999 = 1.13115
    assert first_two == Decimal("1.13115")
    assert isinstance(total, Decimal)
    expected = sum((price * cost for price, cost in pairs), Decimal(0))
    assert total == expected
    assert str(total) == f"{expected:.8f}"  # eight places: the scales added up
    assert [value for _, value in each[:6]] == [
        Decimal("0.13125"),
        Decimal("0.9999"),
        Decimal("86.38875"),
        Decimal("0.00000001"),
        Decimal("29.99999997"),
        Decimal("0"),
    ]
    assert all(isinstance(value, Decimal) for _, value in each)


async def test_sql_product_of_large_valid_values(
    client: httpx.AsyncClient, app: Any, backend: str, request: pytest.FixtureRequest
) -> None:
    """1000 x 100000000 = 10^11: both inputs, and the amount, are within the bounds of
    SPEC section 2 (MAX_ABS = 10^12)."""
    if backend == "sqlite":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="BUG: on SQLite the scaled integers multiply to 10^11 x 10^8 = 10^19, "
                "past SQLite's 64-bit integers: the product turns into a REAL and "
                "ExactDecimal raises TypeError (and a SUM of in-range products past "
                "9.2 x 10^10 raises 'integer overflow'): a 500 wherever sql_product meets "
                "such lines",
            )
        )
    async with app.state.sessionmaker() as session:
        await session.execute(insert(Service), [_service_row(0, Decimal(1000), Decimal(10**8))])
        await session.commit()
        product = sql_product(col(Service.unit_price), 4, col(Service.unit_cost), 4)
        total = await session.scalar(select(func.sum(product)))
    assert total == Decimal(10**11)


def test_multiplying_an_exact_decimal_column_in_sql_is_refused() -> None:
    """On SQLite the stored form is a scaled integer: price x 2 would double the scale's
    meaning silently. Only +, - and comparisons are allowed; products use sql_product."""
    price = col(Service.unit_price)
    with pytest.raises(TypeError, match="sql_product"):
        _ = price * 2
    with pytest.raises(TypeError, match="sql_product"):
        _ = 2 * price
    with pytest.raises(TypeError, match="sql_product"):
        _ = price * col(Service.unit_cost)
    with pytest.raises(TypeError, match="sql_product"):
        _ = price / 30
    with pytest.raises(TypeError, match="sql_product"):
        _ = price % 7
    # Sums, differences and comparisons stay available.
    assert price + col(Service.unit_cost) is not None
    assert price - 1 is not None
    assert (price > 0) is not None
