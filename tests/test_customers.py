"""Customers and vendor accounts through HTTP."""

from __future__ import annotations

import httpx

from tests.helpers import assert_problem, customer


async def test_create_get_list_update_delete(client: httpx.AsyncClient) -> None:
    created = await customer(client, "Beta GmbH", external_ref="PSA-17")
    assert created["name"] == "Beta GmbH"
    assert created["external_ref"] == "PSA-17"
    assert created["active"] is True
    got = await client.get(f"/api/v1/customers/{created['id']}")
    assert got.status_code == 200 and got.json() == created

    listed = await client.get("/api/v1/customers", params={"q": "beta"})
    assert [c["id"] for c in listed.json()["items"]] == [created["id"]]
    assert listed.json()["next_cursor"] is None

    patched = await client.patch(
        f"/api/v1/customers/{created['id']}", json={"active": False, "external_ref": None}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False and patched.json()["external_ref"] is None
    assert patched.json()["name"] == "Beta GmbH"

    deleted = await client.delete(f"/api/v1/customers/{created['id']}")
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/api/v1/customers/{created['id']}"), 404)


async def test_external_ref_unique(client: httpx.AsyncClient) -> None:
    await customer(client, "A", external_ref="X1")
    response = await client.post("/api/v1/customers", json={"name": "B", "external_ref": "X1"})
    assert_problem(response, 409, "external_ref")
    other = await customer(client, "C", external_ref="X2")
    clash = await client.patch(f"/api/v1/customers/{other['id']}", json={"external_ref": "X1"})
    assert_problem(clash, 409)


async def test_validation(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/customers", json={"name": "  "}), 422, "body.name")
    assert_problem(await client.post("/api/v1/customers", json={}), 422, "body.name")
    assert_problem(await client.patch("/api/v1/customers/1", json={"name": "x"}), 404)
    created = await customer(client)
    assert_problem(
        await client.patch(f"/api/v1/customers/{created['id']}", json={"name": None}),
        422,
        "body.name",
    )


async def test_vendor_accounts(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    other = await customer(client, "Other")
    v = (await client.post("/api/v1/vendors", json={"name": "Pax8"})).json()
    r = await client.post(
        f"/api/v1/customers/{c['id']}/vendor-accounts",
        json={"vendor_id": v["id"], "account_ref": "ACME-001"},
    )
    assert r.status_code == 201, r.text
    account = r.json()
    dup = await client.post(
        f"/api/v1/customers/{other['id']}/vendor-accounts",
        json={"vendor_id": v["id"], "account_ref": "ACME-001"},
    )
    assert_problem(dup, 409)
    missing_vendor = await client.post(
        f"/api/v1/customers/{c['id']}/vendor-accounts",
        json={"vendor_id": 999999, "account_ref": "X"},
    )
    assert_problem(missing_vendor, 422, "body.vendor_id")
    listed = await client.get(f"/api/v1/customers/{c['id']}/vendor-accounts")
    assert [a["id"] for a in listed.json()["items"]] == [account["id"]]
    # The customer is referenced by its account: no cascade.
    assert_problem(await client.delete(f"/api/v1/customers/{c['id']}"), 409)
    wrong_owner = await client.delete(
        f"/api/v1/customers/{other['id']}/vendor-accounts/{account['id']}"
    )
    assert_problem(wrong_owner, 404)
    ok = await client.delete(f"/api/v1/customers/{c['id']}/vendor-accounts/{account['id']}")
    assert ok.status_code == 204
    assert (await client.delete(f"/api/v1/customers/{c['id']}")).status_code == 204


async def test_pagination_is_stable_under_inserts(client: httpx.AsyncClient) -> None:
    ids = [(await customer(client, f"C{i:02d}"))["id"] for i in range(7)]
    first = (await client.get("/api/v1/customers", params={"limit": 3})).json()
    assert [c["id"] for c in first["items"]] == ids[:3]
    await customer(client, "Inserted meanwhile")
    second = (
        await client.get("/api/v1/customers", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [c["id"] for c in second["items"]] == ids[3:6]
    seen = [c["id"] for c in first["items"] + second["items"]]
    cursor = second["next_cursor"]
    while cursor:
        page = (await client.get("/api/v1/customers", params={"limit": 3, "cursor": cursor})).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 8
    assert_problem(await client.get("/api/v1/customers", params={"cursor": "garbage!"}), 422)
    assert_problem(await client.get("/api/v1/customers", params={"limit": 501}), 422)
    assert_problem(await client.get("/api/v1/customers", params={"limit": 0}), 422)
