"""Deployed assets through HTTP (docs/month-arithmetic.md#deployed-units): counted on day d when
installed_on <= d < removed_on, so removed_on must come after installed_on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_problem, create, customer, service
from tests.test_vendors import read_only_client


async def asset(
    client: httpx.AsyncClient,
    customer_id: int,
    service_id: int,
    name: str = "LAPTOP-01",
    installed_on: str = "2026-01-05",
    **extra: Any,
) -> dict[str, Any]:
    payload = {
        "customer_id": customer_id,
        "service_id": service_id,
        "name": name,
        "installed_on": installed_on,
        **extra,
    }
    return await create(client, "assets", payload)


async def test_create_get_list_update_delete(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    created = await asset(
        client, c["id"], s["id"], serial="SN-123", external_ref="CI-1", installed_on="2026-01-05"
    )
    assert created["customer_id"] == c["id"] and created["service_id"] == s["id"]
    assert created["name"] == "LAPTOP-01" and created["serial"] == "SN-123"
    assert created["external_ref"] == "CI-1"
    assert created["installed_on"] == "2026-01-05" and created["removed_on"] is None

    got = await client.get(f"/api/v1/assets/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    listed = (await client.get("/api/v1/assets")).json()
    assert listed["items"] == [created] and listed["next_cursor"] is None

    patched = await client.patch(
        f"/api/v1/assets/{created['id']}", json={"removed_on": "2026-03-01", "serial": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["removed_on"] == "2026-03-01" and patched.json()["serial"] is None
    assert patched.json()["name"] == "LAPTOP-01" and patched.json()["external_ref"] == "CI-1"
    # Put back into service: removed_on can be cleared.
    back = await client.patch(f"/api/v1/assets/{created['id']}", json={"removed_on": None})
    assert back.status_code == 200 and back.json()["removed_on"] is None

    assert (await client.delete(f"/api/v1/assets/{created['id']}")).status_code == 204
    assert_problem(await client.get(f"/api/v1/assets/{created['id']}"), 404)
    assert_problem(await client.delete(f"/api/v1/assets/{created['id']}"), 404)
    assert_problem(await client.patch(f"/api/v1/assets/{created['id']}", json={"name": "x"}), 404)
    # Nothing holds the customer or the service any more.
    assert (await client.delete(f"/api/v1/services/{s['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/customers/{c['id']}")).status_code == 204


async def test_references_must_exist(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    base = {"name": "PC", "installed_on": "2026-01-01"}
    missing_customer = await client.post(
        "/api/v1/assets", json={**base, "customer_id": 999999, "service_id": s["id"]}
    )
    assert_problem(missing_customer, 422, "body.customer_id")
    missing_service = await client.post(
        "/api/v1/assets", json={**base, "customer_id": c["id"], "service_id": 999999}
    )
    assert_problem(missing_service, 422, "body.service_id")
    created = await asset(client, c["id"], s["id"])
    for field in ("customer_id", "service_id"):
        response = await client.patch(f"/api/v1/assets/{created['id']}", json={field: 999999})
        assert_problem(response, 422, f"body.{field}")
    # Moving to another existing customer and service works.
    other_customer = await customer(client, "Other")
    other_service = await service(client, "AV")
    moved = await client.patch(
        f"/api/v1/assets/{created['id']}",
        json={"customer_id": other_customer["id"], "service_id": other_service["id"]},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["customer_id"] == other_customer["id"]
    assert moved.json()["service_id"] == other_service["id"]
    # The asset now holds the new customer and service.
    assert_problem(await client.delete(f"/api/v1/customers/{other_customer['id']}"), 409)
    assert (await client.delete(f"/api/v1/customers/{c['id']}")).status_code == 204


@pytest.mark.parametrize("removed_on", ["2026-01-05", "2026-01-04", "2025-12-31"])
async def test_removed_on_must_follow_installed_on(
    client: httpx.AsyncClient, removed_on: str
) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    response = await client.post(
        "/api/v1/assets",
        json={
            "customer_id": c["id"],
            "service_id": s["id"],
            "name": "PC",
            "installed_on": "2026-01-05",
            "removed_on": removed_on,
        },
    )
    assert_problem(response, 422, "body.removed_on")
    assert (await client.get("/api/v1/assets")).json()["items"] == []

    # On PATCH, against the record as it would be.
    created = await asset(client, c["id"], s["id"], installed_on="2026-01-05")
    patched = await client.patch(f"/api/v1/assets/{created['id']}", json={"removed_on": removed_on})
    assert_problem(patched, 422, "body.removed_on")
    removed = await asset(
        client, c["id"], s["id"], "PC-2", installed_on="2025-06-01", removed_on=removed_on
    )
    later_install = await client.patch(
        f"/api/v1/assets/{removed['id']}", json={"installed_on": "2026-01-05"}
    )
    assert_problem(later_install, 422, "body.removed_on")
    assert (await client.get(f"/api/v1/assets/{removed['id']}")).json() == removed
    # Changing both together to a valid pair is fine.
    both = await client.patch(
        f"/api/v1/assets/{removed['id']}",
        json={"installed_on": "2026-01-05", "removed_on": "2026-01-06"},
    )
    assert both.status_code == 200, both.text


async def test_one_day_deployment(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    created = await asset(
        client, c["id"], s["id"], installed_on="2026-01-05", removed_on="2026-01-06"
    )

    async def on(day: str) -> list[int]:
        response = await client.get("/api/v1/assets", params={"active_on": day})
        return [a["id"] for a in response.json()["items"]]

    assert await on("2026-01-04") == []
    assert await on("2026-01-05") == [created["id"]]
    assert await on("2026-01-06") == []


async def test_external_ref_unique(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    await asset(client, c["id"], s["id"], external_ref="CI-1")
    dup = await client.post(
        "/api/v1/assets",
        json={
            "customer_id": c["id"],
            "service_id": s["id"],
            "name": "PC-2",
            "installed_on": "2026-01-01",
            "external_ref": "CI-1",
        },
    )
    assert_problem(dup, 409, "body.external_ref")
    other = await asset(client, c["id"], s["id"], "PC-3", external_ref="CI-2")
    clash = await client.patch(f"/api/v1/assets/{other['id']}", json={"external_ref": "CI-1"})
    assert_problem(clash, 409, "body.external_ref")
    same = await client.patch(f"/api/v1/assets/{other['id']}", json={"external_ref": "CI-2"})
    assert same.status_code == 200, same.text
    # Many assets may have no external_ref.
    await asset(client, c["id"], s["id"], "PC-4")
    await asset(client, c["id"], s["id"], "PC-5", external_ref="  ")
    assert len((await client.get("/api/v1/assets")).json()["items"]) == 4


async def test_validation(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    full = {
        "customer_id": c["id"],
        "service_id": s["id"],
        "name": "PC",
        "installed_on": "2026-01-01",
    }
    for field in full:
        payload = {k: v for k, v in full.items() if k != field}
        assert_problem(await client.post("/api/v1/assets", json=payload), 422, f"body.{field}")
    bad_date = await client.post("/api/v1/assets", json={**full, "installed_on": "2026-02-30"})
    assert_problem(bad_date, 422, "body.installed_on")
    bad_name = await client.post("/api/v1/assets", json={**full, "name": " "})
    assert_problem(bad_name, 422, "body.name")
    created = await asset(client, c["id"], s["id"])
    for field in ("customer_id", "service_id", "name", "installed_on"):
        response = await client.patch(f"/api/v1/assets/{created['id']}", json={field: None})
        assert_problem(response, 422, f"body.{field}")
    assert (await client.get(f"/api/v1/assets/{created['id']}")).json() == created
    assert_problem(await client.get("/api/v1/assets", params={"active_on": "soon"}), 422)


async def test_filters(client: httpx.AsyncClient) -> None:
    acme = await customer(client, "Acme")
    beta = await customer(client, "Beta")
    mw = await service(client, "MW")
    av = await service(client, "AV")
    laptop = await asset(
        client, acme["id"], mw["id"], "Laptop Alice", serial="SN-AAA", installed_on="2026-01-10"
    )
    gone = await asset(
        client,
        acme["id"],
        av["id"],
        "Desktop Bob",
        installed_on="2025-11-01",
        removed_on="2026-01-31",
        external_ref="PSA-77",
    )
    beta_pc = await asset(client, beta["id"], mw["id"], "Reception PC", installed_on="2026-02-01")

    async def ids(**params: Any) -> list[int]:
        response = await client.get("/api/v1/assets", params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await ids(customer_id=acme["id"]) == [laptop["id"], gone["id"]]
    assert await ids(service_id=mw["id"]) == [laptop["id"], beta_pc["id"]]
    assert await ids(customer_id=acme["id"], service_id=mw["id"]) == [laptop["id"]]
    assert await ids(q="alice") == [laptop["id"]]
    assert await ids(q="sn-aaa") == [laptop["id"]]  # serial
    assert await ids(q="psa-7") == [gone["id"]]  # external_ref
    assert await ids(q="pc") == [beta_pc["id"]]
    # active_on: installed_on <= d < removed_on (removed_on is the first day gone).
    assert await ids(active_on="2025-10-31") == []
    assert await ids(active_on="2025-11-01") == [gone["id"]]
    assert await ids(active_on="2026-01-10") == [laptop["id"], gone["id"]]
    assert await ids(active_on="2026-01-30") == [laptop["id"], gone["id"]]
    assert await ids(active_on="2026-01-31") == [laptop["id"]]
    assert await ids(active_on="2026-02-01") == [laptop["id"], beta_pc["id"]]
    assert await ids(active_on="2026-02-01", customer_id=beta["id"]) == [beta_pc["id"]]
    assert await ids(customer_id=999999) == []


async def test_pagination(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    made = [(await asset(client, c["id"], s["id"], f"PC-{i}"))["id"] for i in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "customer_id": c["id"]}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/assets", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


async def test_auth(app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client, "MW")
    a = await asset(client, c["id"], s["id"])
    assert_problem(await anon.get("/api/v1/assets"), 401)
    assert_problem(await anon.delete(f"/api/v1/assets/{a['id']}"), 401)
    async with read_only_client(app) as reader:
        assert (await reader.get(f"/api/v1/assets/{a['id']}")).status_code == 200
        payload = {"customer_id": c["id"], "service_id": s["id"], "name": "X"}
        assert_problem(
            await reader.post("/api/v1/assets", json={**payload, "installed_on": "2026-01-01"}),
            403,
        )
        assert_problem(await reader.patch(f"/api/v1/assets/{a['id']}", json={"name": "R"}), 403)
        assert_problem(await reader.delete(f"/api/v1/assets/{a['id']}"), 403)
    assert (await client.get("/api/v1/assets")).json()["items"] == [a]
