"""Small helpers for HTTP tests: create records and check problem answers."""

from __future__ import annotations

from typing import Any

import httpx


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"]
    if field is not None:
        fields = [error["field"] for error in body.get("errors") or []]
        assert any(f == field or f.endswith("." + field) or f.startswith(field) for f in fields), (
            body
        )
    return body


async def create(client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/api/v1/{path}", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def customer(
    client: httpx.AsyncClient, name: str = "Acme Ltd", **extra: Any
) -> dict[str, Any]:
    return await create(client, "customers", {"name": name, **extra})


async def vendor(client: httpx.AsyncClient, name: str = "Pax8", **extra: Any) -> dict[str, Any]:
    return await create(client, "vendors", {"name": name, **extra})


async def service(
    client: httpx.AsyncClient,
    sku: str = "M365-BP",
    *,
    unit_price: str = "22.00",
    unit_cost: str = "18.00",
    **extra: Any,
) -> dict[str, Any]:
    payload = {
        "name": extra.pop("name", f"Service {sku}"),
        "sku": sku,
        "unit": extra.pop("unit", "seat"),
        "unit_price": unit_price,
        "unit_cost": unit_cost,
        **extra,
    }
    return await create(client, "services", payload)


async def contract(
    client: httpx.AsyncClient, customer_id: int, start_date: str = "2026-01-01", **extra: Any
) -> dict[str, Any]:
    payload = {
        "customer_id": customer_id,
        "name": extra.pop("name", "Managed services"),
        "start_date": start_date,
        **extra,
    }
    return await create(client, "contracts", payload)


async def line(
    client: httpx.AsyncClient, contract_id: int, service_id: int, quantity: str = "1", **extra: Any
) -> dict[str, Any]:
    return await create(
        client,
        f"contracts/{contract_id}/lines",
        {"service_id": service_id, "quantity": quantity, **extra},
    )
