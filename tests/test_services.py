"""The catalog through HTTP: unique SKUs, vendor SKUs per vendor, exact
prices, and no deletion while contract lines or assets use a service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.test_vendors import read_only_client

BASE = {"name": "Managed workstation", "sku": "MW", "unit": "device"}


def body(**extra: Any) -> dict[str, Any]:
    return {**BASE, "unit_price": "45.00", "unit_cost": "12.00", **extra}


async def test_create_get_list_update_delete(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    created = await service(
        client,
        "M365-BP",
        name="Microsoft 365 Business Premium",
        unit="user",
        unit_price="22.00",
        unit_cost="18.0000",
        vendor_id=v["id"],
        vendor_sku="CFQ7TTC0LCHC",
        revenue_account="4100 Managed Services",
    )
    assert created["sku"] == "M365-BP"
    assert created["unit_price"] == "22.00" and created["unit_cost"] == "18.00"
    assert created["vendor_id"] == v["id"] and created["vendor_sku"] == "CFQ7TTC0LCHC"
    assert created["revenue_account"] == "4100 Managed Services"
    assert created["active"] is True

    got = await client.get(f"/api/v1/services/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    listed = (await client.get("/api/v1/services")).json()
    assert listed["items"] == [created] and listed["next_cursor"] is None

    patched = await client.patch(
        f"/api/v1/services/{created['id']}",
        json={"unit_price": "23.5", "active": False, "revenue_account": None},
    )
    assert patched.status_code == 200, patched.text
    result = patched.json()
    assert result["unit_price"] == "23.50" and result["active"] is False
    assert result["revenue_account"] is None
    assert result["unit_cost"] == "18.00" and result["vendor_sku"] == "CFQ7TTC0LCHC"

    assert (await client.delete(f"/api/v1/services/{created['id']}")).status_code == 204
    assert_problem(await client.get(f"/api/v1/services/{created['id']}"), 404)
    assert_problem(await client.delete(f"/api/v1/services/{created['id']}"), 404)
    assert_problem(await client.patch(f"/api/v1/services/{created['id']}", json={"name": "x"}), 404)


async def test_in_house_service(client: httpx.AsyncClient) -> None:
    created = await create(client, "services", body(sku="HD-HOUR", unit="hour"))
    assert created["vendor_id"] is None and created["vendor_sku"] is None
    # A blank vendor_sku means none.
    blank = await create(client, "services", body(sku="HD-2", vendor_sku="  "))
    assert blank["vendor_sku"] is None


async def test_sku_unique(client: httpx.AsyncClient) -> None:
    await service(client, "AV-1")
    assert_problem(await client.post("/api/v1/services", json=body(sku="AV-1")), 409, "body.sku")
    other = await service(client, "AV-2")
    clash = await client.patch(f"/api/v1/services/{other['id']}", json={"sku": "AV-1"})
    assert_problem(clash, 409, "body.sku")
    # Setting a service's own sku again is no clash.
    same = await client.patch(f"/api/v1/services/{other['id']}", json={"sku": "AV-2"})
    assert same.status_code == 200, same.text
    assert len((await client.get("/api/v1/services")).json()["items"]) == 2


async def test_vendor_sku_unique_per_vendor(client: httpx.AsyncClient) -> None:
    pax8 = await vendor(client, "Pax8")
    ingram = await vendor(client, "Ingram")
    first = await service(client, "A", vendor_id=pax8["id"], vendor_sku="X-100")
    dup = await client.post(
        "/api/v1/services", json=body(sku="B", vendor_id=pax8["id"], vendor_sku="X-100")
    )
    assert_problem(dup, 409, "body.vendor_sku")
    # Another vendor may use the same vendor SKU.
    other = await service(client, "C", vendor_id=ingram["id"], vendor_sku="X-100")
    # Moving it to the first vendor clashes, by vendor_id alone or by vendor_sku alone.
    moved = await client.patch(f"/api/v1/services/{other['id']}", json={"vendor_id": pax8["id"]})
    assert_problem(moved, 409, "body.vendor_sku")
    third = await service(client, "D", vendor_id=pax8["id"], vendor_sku="X-200")
    renamed = await client.patch(f"/api/v1/services/{third['id']}", json={"vendor_sku": "X-100"})
    assert_problem(renamed, 409, "body.vendor_sku")
    unchanged = (await client.get(f"/api/v1/services/{third['id']}")).json()
    assert unchanged["vendor_sku"] == "X-200"
    # Its own pair again is no clash.
    own = await client.patch(f"/api/v1/services/{first['id']}", json={"vendor_sku": "X-100"})
    assert own.status_code == 200, own.text


async def test_vendor_sku_needs_vendor(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/services", json=body(vendor_sku="X-1"))
    assert_problem(response, 422, "body.vendor_sku")
    v = await vendor(client)
    in_house = await service(client, "IH")
    # PATCH is checked against the merged record.
    patched = await client.patch(f"/api/v1/services/{in_house['id']}", json={"vendor_sku": "X"})
    assert_problem(patched, 422, "body.vendor_sku")
    sold = await service(client, "V", vendor_id=v["id"], vendor_sku="X-1")
    drop_vendor = await client.patch(f"/api/v1/services/{sold['id']}", json={"vendor_id": None})
    assert_problem(drop_vendor, 422, "body.vendor_sku")
    assert (await client.get(f"/api/v1/services/{sold['id']}")).json()["vendor_id"] == v["id"]
    # Dropping both at once makes it in-house.
    both = await client.patch(
        f"/api/v1/services/{sold['id']}", json={"vendor_id": None, "vendor_sku": None}
    )
    assert both.status_code == 200, both.text
    assert both.json()["vendor_id"] is None and both.json()["vendor_sku"] is None
    # And giving both at once to an in-house service works too.
    given = await client.patch(
        f"/api/v1/services/{in_house['id']}", json={"vendor_id": v["id"], "vendor_sku": "Y"}
    )
    assert given.status_code == 200, given.text
    assert given.json()["vendor_sku"] == "Y"


async def test_vendor_must_exist(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/services", json=body(vendor_id=999999))
    assert_problem(response, 422, "body.vendor_id")
    created = await service(client, "S")
    patched = await client.patch(f"/api/v1/services/{created['id']}", json={"vendor_id": 999999})
    assert_problem(patched, 422, "body.vendor_id")
    assert (await client.get("/api/v1/services")).json()["items"] == [created]


async def test_required_fields(client: httpx.AsyncClient) -> None:
    for field in ("name", "sku", "unit", "unit_price", "unit_cost"):
        payload = body()
        del payload[field]
        assert_problem(await client.post("/api/v1/services", json=payload), 422, f"body.{field}")
    assert_problem(await client.post("/api/v1/services", json=body(sku=" ")), 422, "body.sku")
    assert_problem(await client.post("/api/v1/services", json=body(unit="")), 422, "body.unit")
    created = await service(client, "S")
    for field in ("name", "sku", "unit", "unit_price", "unit_cost", "active"):
        response = await client.patch(f"/api/v1/services/{created['id']}", json={field: None})
        assert_problem(response, 422, f"body.{field}")
    assert (await client.get(f"/api/v1/services/{created['id']}")).json() == created


@pytest.mark.parametrize("field", ["unit_price", "unit_cost"])
@pytest.mark.parametrize(
    "value",
    [
        "1.00001",
        "0.00001",
        "-1",
        "-0.01",
        "NaN",
        "Infinity",
        "-Infinity",
        "abc",
        "",
        "1,5",
        True,
        False,
        None,
        [],
        {},
    ],
)
async def test_bad_money_is_422(client: httpx.AsyncClient, field: str, value: Any) -> None:
    response = await client.post("/api/v1/services", json=body(**{field: value}))
    assert_problem(response, 422, f"body.{field}")
    created = await service(client, "S")
    patched = await client.patch(f"/api/v1/services/{created['id']}", json={field: value})
    assert_problem(patched, 422, f"body.{field}")
    assert (await client.get("/api/v1/services")).json()["items"] == [created]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "0.12345"])
async def test_bad_json_number_literal_is_422(client: httpx.AsyncClient, literal: str) -> None:
    raw = '{"name": "N", "sku": "N", "unit": "seat", "unit_cost": 1, "unit_price": ' + literal + "}"
    response = await client.post(
        "/api/v1/services", content=raw, headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "body.unit_price")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.1, "0.10"),
        ("27.5", "27.50"),
        (27.5, "27.50"),
        (22, "22.00"),
        ("0.0875", "0.0875"),
        (0.0875, "0.0875"),
        ("1.10", "1.10"),
        ("0", "0.00"),
        ("1e2", "100.00"),
        (" 3.25 ", "3.25"),
        ("999999999999.9999", "999999999999.9999"),
    ],
)
async def test_money_round_trips_exactly(client: httpx.AsyncClient, value: Any, shown: str) -> None:
    created = await create(client, "services", body(unit_price=value, unit_cost=value))
    assert created["unit_price"] == shown and created["unit_cost"] == shown
    stored = (await client.get(f"/api/v1/services/{created['id']}")).json()
    assert stored["unit_price"] == shown and stored["unit_cost"] == shown
    assert Decimal(shown) == Decimal(str(value).strip())


async def test_raw_json_number_is_read_from_its_text(client: httpx.AsyncClient) -> None:
    raw = '{"name": "N", "sku": "N", "unit": "GB", "unit_price": 0.1, "unit_cost": 0.0001}'
    response = await client.post(
        "/api/v1/services", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["unit_price"] == "0.10"
    assert response.json()["unit_cost"] == "0.0001"


async def test_filters(client: httpx.AsyncClient) -> None:
    pax8 = await vendor(client, "Pax8")
    ingram = await vendor(client, "Ingram")
    m365 = await service(
        client, "M365-BP", name="Microsoft 365", vendor_id=pax8["id"], vendor_sku="P1"
    )
    backup = await service(
        client, "BKP-GB", name="Cloud backup", unit="GB", vendor_id=ingram["id"], vendor_sku="I1"
    )
    helpdesk = await service(client, "HD-HOUR", name="Helpdesk", unit="hour", active=False)

    async def ids(**params: Any) -> list[int]:
        response = await client.get("/api/v1/services", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert await ids() == [m365["id"], backup["id"], helpdesk["id"]]
    assert await ids(q="microsoft") == [m365["id"]]
    assert await ids(q="bkp") == [backup["id"]]  # matches the sku
    assert await ids(q="-") == [m365["id"], backup["id"], helpdesk["id"]]
    assert await ids(q="_") == []  # a LIKE wildcard is taken literally
    assert await ids(vendor_id=pax8["id"]) == [m365["id"]]
    assert await ids(vendor_id=ingram["id"], q="cloud") == [backup["id"]]
    assert await ids(active=True) == [m365["id"], backup["id"]]
    assert await ids(active=False) == [helpdesk["id"]]
    assert await ids(sku="HD-HOUR") == [helpdesk["id"]]
    assert await ids(sku="hd-hour") == []  # exact
    assert await ids(sku="HD") == []
    assert_problem(await client.get("/api/v1/services", params={"active": "maybe"}), 422)
    assert_problem(await client.get("/api/v1/services", params={"vendor_id": "x"}), 422)


async def test_pagination(client: httpx.AsyncClient) -> None:
    made = [(await service(client, f"S{i}"))["id"] for i in range(5)]
    first = (await client.get("/api/v1/services", params={"limit": 2})).json()
    assert [s["id"] for s in first["items"]] == made[:2]
    second = (
        await client.get("/api/v1/services", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [s["id"] for s in second["items"]] == made[2:4]
    last = (
        await client.get("/api/v1/services", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert [s["id"] for s in last["items"]] == made[4:] and last["next_cursor"] is None
    assert_problem(await client.get("/api/v1/services", params={"limit": 501}), 422)


async def test_delete_refused_while_referenced(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    on_contract = await service(client, "ON-CONTRACT")
    msa = await contract(client, c["id"])
    sold = await line(client, msa["id"], on_contract["id"], "5")
    refused = assert_problem(await client.delete(f"/api/v1/services/{on_contract['id']}"), 409)
    assert "contract line" in refused["detail"]
    assert (await client.get(f"/api/v1/services/{on_contract['id']}")).status_code == 200
    # Not even an inactive service disappears while a line names it.
    await client.patch(f"/api/v1/services/{on_contract['id']}", json={"active": False})
    assert_problem(await client.delete(f"/api/v1/services/{on_contract['id']}"), 409)
    assert sold["service_id"] == on_contract["id"]

    deployed = await service(client, "DEPLOYED")
    asset = await create(
        client,
        "assets",
        {
            "customer_id": c["id"],
            "service_id": deployed["id"],
            "name": "LAPTOP-01",
            "installed_on": "2026-01-05",
        },
    )
    refused = assert_problem(await client.delete(f"/api/v1/services/{deployed['id']}"), 409)
    assert "asset" in refused["detail"]
    assert (await client.delete(f"/api/v1/assets/{asset['id']}")).status_code == 204
    assert (await client.delete(f"/api/v1/services/{deployed['id']}")).status_code == 204


async def test_auth(app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    s = await service(client, "S")
    assert_problem(await anon.get("/api/v1/services"), 401)
    assert_problem(await anon.post("/api/v1/services", json=body()), 401)
    async with read_only_client(app) as reader:
        assert (await reader.get(f"/api/v1/services/{s['id']}")).status_code == 200
        assert_problem(await reader.post("/api/v1/services", json=body(sku="R")), 403)
        assert_problem(await reader.patch(f"/api/v1/services/{s['id']}", json={"name": "R"}), 403)
        assert_problem(await reader.delete(f"/api/v1/services/{s['id']}"), 403)
    assert (await client.get("/api/v1/services")).json()["items"] == [s]
