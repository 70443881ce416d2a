"""Vendors through HTTP: the webhook secret is shown once, on create."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from app.auth.keys import display_prefix, generate_key, hash_key
from app.auth.models import ApiKey
from tests.conftest import make_client
from tests.helpers import assert_problem, create, customer, service, vendor


def _decoded_secret(secret: str) -> bytes:
    assert secret.startswith("whsec_"), secret
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


async def test_create_get_list_update_delete(client: httpx.AsyncClient) -> None:
    created = await vendor(client, "Pax8")
    assert created["name"] == "Pax8"
    assert created["currency"] == "USD"
    assert len(_decoded_secret(created["webhook_secret"])) == 32

    got = await client.get(f"/api/v1/vendors/{created['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == {k: v for k, v in created.items() if k != "webhook_secret"}

    listed = (await client.get("/api/v1/vendors")).json()
    assert [v["id"] for v in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None

    patched = await client.patch(
        f"/api/v1/vendors/{created['id']}", json={"name": "Pax8 Inc", "currency": "eur"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Pax8 Inc" and patched.json()["currency"] == "EUR"
    assert "webhook_secret" not in patched.json()
    # A partial PATCH leaves the other fields alone.
    renamed = await client.patch(f"/api/v1/vendors/{created['id']}", json={"name": "Pax 8"})
    assert renamed.json()["currency"] == "EUR"

    assert (await client.delete(f"/api/v1/vendors/{created['id']}")).status_code == 204
    assert_problem(await client.get(f"/api/v1/vendors/{created['id']}"), 404)
    assert_problem(await client.delete(f"/api/v1/vendors/{created['id']}"), 404)


async def test_secret_is_returned_only_on_create(client: httpx.AsyncClient) -> None:
    first = await vendor(client, "Pax8")
    second = await vendor(client, "Ingram Micro", currency="USD")
    # Generated secrets are random, not derived from anything.
    assert first["webhook_secret"] != second["webhook_secret"]
    for secret in (first["webhook_secret"], second["webhook_secret"]):
        assert len(_decoded_secret(secret)) == 32
        for path in (
            "/api/v1/vendors",
            f"/api/v1/vendors/{first['id']}",
            f"/api/v1/vendors/{second['id']}",
            "/api/v1/vendors?q=pax",
        ):
            response = await client.get(path)
            assert response.status_code == 200
            assert "webhook_secret" not in response.text
            assert secret not in response.text
        patched = await client.patch(f"/api/v1/vendors/{first['id']}", json={"name": "Pax8 Ltd"})
        assert secret not in patched.text and "webhook_secret" not in patched.json()


async def test_given_secret_is_kept(client: httpx.AsyncClient) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    created = await vendor(client, "Sherweb", webhook_secret=secret)
    assert created["webhook_secret"] == secret
    # The patch body has no secret field: PATCH refuses it (rotation has its own path).
    patched = await client.patch(
        f"/api/v1/vendors/{created['id']}", json={"webhook_secret": "whsec_x"}
    )
    assert_problem(patched, 422, "body.webhook_secret")


async def test_stored_secret_is_unchanged(app: Any, client: httpx.AsyncClient) -> None:
    from app.vendors.models import Vendor

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    created = await vendor(client, "Sherweb", webhook_secret=secret)
    await client.patch(f"/api/v1/vendors/{created['id']}", json={"name": "Sherweb Inc"})
    async with app.state.sessionmaker() as session:
        stored = await session.get(Vendor, created["id"])
        assert stored is not None and stored.webhook_secret == secret


async def test_invalid_secret(client: httpx.AsyncClient) -> None:
    good_key = base64.b64encode(secrets.token_bytes(32)).decode()
    for bad in (
        good_key,  # no whsec_ prefix
        "whsec_not base64!!",
        "whsec_" + good_key[:-2] + "=",  # broken padding
        "whsec_" + base64.b64encode(b"short").decode(),  # too short a key
        "whsec_" + base64.b64encode(secrets.token_bytes(16)).decode(),
        "whsec_",
        "",
    ):
        response = await client.post(
            "/api/v1/vendors", json={"name": "Pax8", "webhook_secret": bad}
        )
        assert_problem(response, 422, "body.webhook_secret")
    assert (await client.get("/api/v1/vendors")).json()["items"] == []


async def test_validation(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/api/v1/vendors", json={}), 422, "body.name")
    assert_problem(await client.post("/api/v1/vendors", json={"name": " "}), 422, "body.name")
    bad_currency = await client.post("/api/v1/vendors", json={"name": "Pax8", "currency": "XYZ"})
    assert_problem(bad_currency, 422, "body.currency")
    assert_problem(await client.patch("/api/v1/vendors/999999", json={"name": "x"}), 404)
    assert_problem(await client.get("/api/v1/vendors/999999"), 404)
    created = await vendor(client)
    for field in ("name", "currency"):
        response = await client.patch(f"/api/v1/vendors/{created['id']}", json={field: None})
        assert_problem(response, 422, f"body.{field}")
    response = await client.patch(f"/api/v1/vendors/{created['id']}", json={"currency": "usdx"})
    assert_problem(response, 422, "body.currency")
    assert (await client.get(f"/api/v1/vendors/{created['id']}")).json()["currency"] == "USD"


async def test_delete_refused_while_referenced(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    s = await service(client, "AV-1", vendor_id=v["id"], vendor_sku="AV")
    body = assert_problem(await client.delete(f"/api/v1/vendors/{v['id']}"), 409)
    assert "service" in body["detail"]
    assert (await client.delete(f"/api/v1/services/{s['id']}")).status_code == 204

    c = await customer(client)
    account = await create(
        client,
        f"customers/{c['id']}/vendor-accounts",
        {"vendor_id": v["id"], "account_ref": "ACME-1"},
    )
    body = assert_problem(await client.delete(f"/api/v1/vendors/{v['id']}"), 409)
    assert "vendor account" in body["detail"]
    gone = await client.delete(f"/api/v1/customers/{c['id']}/vendor-accounts/{account['id']}")
    assert gone.status_code == 204
    assert (await client.delete(f"/api/v1/vendors/{v['id']}")).status_code == 204


async def test_search_and_pagination(client: httpx.AsyncClient) -> None:
    ids = [(await vendor(client, f"Distributor {i}"))["id"] for i in range(5)]
    other = await vendor(client, "Pax8")
    found = (await client.get("/api/v1/vendors", params={"q": "DISTRIB"})).json()
    assert [v["id"] for v in found["items"]] == ids
    percent = (await client.get("/api/v1/vendors", params={"q": "%"})).json()
    assert percent["items"] == []
    blank = (await client.get("/api/v1/vendors", params={"q": "  "})).json()
    assert len(blank["items"]) == 6

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/vendors", params=params)).json()
        assert len(page["items"]) <= 2
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [*ids, other["id"]]
    assert_problem(await client.get("/api/v1/vendors", params={"cursor": "nope"}), 422)


@asynccontextmanager
async def read_only_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a stored key with only the read scope."""
    key = generate_key()
    async with app.state.sessionmaker() as session:
        session.add(
            ApiKey(name="reader", prefix=display_prefix(key), key_hash=hash_key(key), scopes="read")
        )
        await session.commit()
    async with make_client(app, key) as http:
        yield http


async def test_auth(app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    v = await vendor(client)
    assert_problem(await anon.get("/api/v1/vendors"), 401)
    assert_problem(await anon.get(f"/api/v1/vendors/{v['id']}"), 401)
    assert_problem(await anon.post("/api/v1/vendors", json={"name": "x"}), 401)
    async with read_only_client(app) as reader:
        assert (await reader.get("/api/v1/vendors")).status_code == 200
        assert (await reader.get(f"/api/v1/vendors/{v['id']}")).status_code == 200
        assert_problem(await reader.post("/api/v1/vendors", json={"name": "x"}), 403)
        assert_problem(await reader.patch(f"/api/v1/vendors/{v['id']}", json={"name": "y"}), 403)
        assert_problem(await reader.delete(f"/api/v1/vendors/{v['id']}"), 403)
    assert len((await client.get("/api/v1/vendors")).json()["items"]) == 1
