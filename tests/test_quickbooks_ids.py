"""quickbooks_id on customers and services through HTTP (docs/exports.md#mapping-to-quickbooks):
set on create, changed and cleared by PATCH, read back, validated, and filtered on so an
integrator can map QuickBooks' Ids back to our records."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_problem, customer, service

API = "/api/v1"


async def make(client: httpx.AsyncClient, kind: str, n: int, **extra: Any) -> dict[str, Any]:
    if kind == "customers":
        return await customer(client, f"Customer {n}", **extra)
    return await service(client, f"SKU-{n}", **extra)


@pytest.mark.parametrize("kind", ["customers", "services"])
async def test_set_read_change_clear_and_filter(client: httpx.AsyncClient, kind: str) -> None:
    first = await make(client, kind, 1, quickbooks_id="  58 ")
    assert first["quickbooks_id"] == "58"  # trimmed
    second = await make(client, kind, 2)
    assert second["quickbooks_id"] is None
    # Two of our records may map to one QuickBooks record (e.g. two sites, one customer).
    third = await make(client, kind, 3, quickbooks_id="58")
    got = await client.get(f"{API}/{kind}/{first['id']}")
    assert got.json()["quickbooks_id"] == "58"

    async def found(value: str) -> list[int]:
        response = await client.get(f"{API}/{kind}", params={"quickbooks_id": value})
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await found("58") == [first["id"], third["id"]]
    assert await found("5") == []  # exact, not a search

    patched = await client.patch(f"{API}/{kind}/{second['id']}", json={"quickbooks_id": "104"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["quickbooks_id"] == "104"
    assert await found("104") == [second["id"]]
    # A PATCH without the field leaves it alone; null clears it.
    untouched = await client.patch(f"{API}/{kind}/{second['id']}", json={"active": False})
    assert untouched.json()["quickbooks_id"] == "104"
    cleared = await client.patch(f"{API}/{kind}/{second['id']}", json={"quickbooks_id": None})
    assert cleared.status_code == 200 and cleared.json()["quickbooks_id"] is None
    assert await found("104") == []


@pytest.mark.parametrize("kind", ["customers", "services"])
@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "\u200b",  # shows nothing
        "x" * 65,
        "12\t3",
        "1\x002",
        "1\u200b2",
        "1\x7f2",
        17,
    ],
)
async def test_validation(client: httpx.AsyncClient, kind: str, value: Any) -> None:
    payload = (
        {"name": "X", "quickbooks_id": value}
        if kind == "customers"
        else {
            "name": "X",
            "sku": "X",
            "unit": "seat",
            "unit_price": "1",
            "unit_cost": "1",
            "quickbooks_id": value,
        }
    )
    assert_problem(await client.post(f"{API}/{kind}", json=payload), 422, "body.quickbooks_id")
    existing = await make(client, kind, 9)
    assert_problem(
        await client.patch(f"{API}/{kind}/{existing['id']}", json={"quickbooks_id": value}),
        422,
        "body.quickbooks_id",
    )


@pytest.mark.parametrize("kind", ["customers", "services"])
async def test_longest_id_fits_and_whitespace_around_is_trimmed(
    client: httpx.AsyncClient, kind: str
) -> None:
    created = await make(client, kind, 1, quickbooks_id="9" * 64)
    assert created["quickbooks_id"] == "9" * 64
    trimmed = await make(client, kind, 2, quickbooks_id="\t12\n")
    assert trimmed["quickbooks_id"] == "12"
