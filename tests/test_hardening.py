"""The foundation's hardening, through HTTP on both backends: ids are never reused,
secrets are not kept for idempotent replays, abandoned idempotency claims are reclaimed,
ids and dates are bounded, NUL characters and unknown fields are refused, money text is
strict, search folds non-ASCII case, HEAD /healthz answers, adjustments cannot be deleted.
Bad input is a 404/422 problem, never a 500 (docs/README.md#errors)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from app.auth.models import ApiKey
from app.core.db import utcnow
from app.core.idempotency import REDACTED, IdempotencyRecord
from app.core.types import MAX_ID
from app.customers.models import Customer
from app.models import metadata
from app.openapi import document
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import (
    assert_problem,
    contract,
    create,
    customer,
    line,
    service,
)

API = "/api/v1"
JSON = {"content-type": "application/json"}


async def idempotent_post(
    client: httpx.AsyncClient, path: str, key: str, payload: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        path, content=json.dumps(payload).encode(), headers={**JSON, "Idempotency-Key": key}
    )


async def stored_records(app: Any) -> list[IdempotencyRecord]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(IdempotencyRecord))).all())


async def count(app: Any, model: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- ids are never reused -----------------------------------------------------------------------


async def test_ids_are_never_reused(client: httpx.AsyncClient) -> None:
    """SQLite reuses the highest rowid after a delete unless the table is AUTOINCREMENT; an
    id a client stored (or an idempotent replay answered) must never name another record."""
    first = await customer(client, "First")
    assert (await client.delete(f"{API}/customers/{first['id']}")).status_code == 204
    second = await customer(client, "Second")
    assert second["id"] > first["id"]
    assert_problem(await client.get(f"{API}/customers/{first['id']}"), 404)

    s = await service(client)
    k = (await contract(client, second["id"]))["id"]
    ln = await line(client, k, s["id"])
    assert (await client.delete(f"{API}/contracts/{k}/lines/{ln['id']}")).status_code == 204
    assert (await line(client, k, s["id"]))["id"] > ln["id"]

    key = await create(client, "api-keys", {"name": "one", "scopes": ["read"]})
    assert (await client.delete(f"{API}/api-keys/{key['id']}")).status_code == 204
    assert (await create(client, "api-keys", {"name": "two", "scopes": ["read"]}))["id"] > key["id"]


async def test_every_table_hands_out_ids_once(app: Any, client: httpx.AsyncClient) -> None:
    """The migrations (not create_all) made every table with an integer id AUTOINCREMENT on
    SQLite; on PostgreSQL every such id comes from a sequence (which never goes back)."""
    with_ids = [t.name for t in metadata.sorted_tables if "id" in t.c and t.c["id"].primary_key]
    assert len(with_ids) >= 10
    async with app.state.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = (
                await connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
                )
            ).all()
            ddl: dict[str, str] = {str(row[0]): str(row[1]) for row in rows}
            missing = [name for name in with_ids if "AUTOINCREMENT" not in ddl[name].upper()]
        else:
            rows = (
                await connection.execute(
                    text(
                        "SELECT table_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND column_name = 'id' "
                        "AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')"
                    )
                )
            ).all()
            sequenced = {row[0] for row in rows}
            missing = [name for name in with_ids if name not in sequenced]
    assert missing == [], f"tables that may hand out an id twice: {missing}"


# --- secrets are not kept for idempotent replays -------------------------------------------------


async def test_api_key_replay_does_not_repeat_the_key(app: Any, client: httpx.AsyncClient) -> None:
    payload = {"name": "PSA integration", "scopes": ["read", "write"]}
    first = await idempotent_post(client, f"{API}/api-keys", "new-key-1", payload)
    assert first.status_code == 201, first.text
    plain = first.json()["key"]
    assert plain.startswith("msp_") and plain != REDACTED

    again = await idempotent_post(client, f"{API}/api-keys", "new-key-1", payload)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    replayed = again.json()
    assert replayed["key"] == "[shown only in the first answer]" == REDACTED
    # The same record, everything else as first answered.
    assert {**replayed, "key": plain} == first.json()
    assert await count(app, ApiKey) == 1

    [record] = await stored_records(app)
    assert record.body is not None and record.status_code == 201
    assert plain.encode() not in record.body
    assert json.loads(record.body)["key"] == REDACTED
    # The first answer's key is the real one.
    async with make_client(app, plain) as holder:
        assert (await holder.get(f"{API}/customers")).status_code == 200


async def test_vendor_replay_does_not_repeat_the_webhook_secret(
    app: Any, client: httpx.AsyncClient
) -> None:
    payload = {"name": "Pax8"}
    first = await idempotent_post(client, f"{API}/vendors", "new-vendor-1", payload)
    assert first.status_code == 201, first.text
    secret = first.json()["webhook_secret"]
    assert secret.startswith("whsec_")

    again = await idempotent_post(client, f"{API}/vendors", "new-vendor-1", payload)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["webhook_secret"] == REDACTED
    assert again.json()["id"] == first.json()["id"]
    assert {**again.json(), "webhook_secret": secret} == first.json()
    listed = (await client.get(f"{API}/vendors")).json()["items"]
    assert [v["id"] for v in listed] == [first.json()["id"]]

    [record] = await stored_records(app)
    assert record.body is not None
    assert secret.encode() not in record.body
    # Not even its base64 part (the secret minus its prefix).
    assert secret.removeprefix("whsec_").encode() not in record.body


async def test_answers_without_secrets_are_replayed_byte_for_byte(
    app: Any, client: httpx.AsyncClient
) -> None:
    first = await idempotent_post(client, f"{API}/customers", "plain-1", {"name": "Acme"})
    assert first.status_code == 201
    again = await idempotent_post(client, f"{API}/customers", "plain-1", {"name": "Acme"})
    assert again.content == first.content


# --- abandoned idempotency claims ------------------------------------------------------------


async def _in_progress(app: Any, key: str, payload: dict[str, Any], age: timedelta) -> None:
    async with app.state.sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                method="POST",
                path=f"{API}/customers",
                key=key,
                fingerprint=hashlib.sha256(json.dumps(payload).encode()).hexdigest(),
                status_code=None,
                created_at=utcnow() - age,
            )
        )
        await session.commit()


async def test_abandoned_in_progress_claim_is_reclaimed(
    app: Any, client: httpx.AsyncClient
) -> None:
    abandon = app.state.settings.idempotency_abandon_seconds
    assert abandon == 300
    payload = {"name": "Acme"}

    # Still young: the first request may be running, so a retry is a 409.
    await _in_progress(app, "young", payload, timedelta(seconds=abandon - 30))
    busy = await idempotent_post(client, f"{API}/customers", "young", payload)
    assert "in-progress" in assert_problem(busy, 409)["type"]
    assert await count(app, Customer) == 0

    # Older than the abandon time: its process died; the retry runs for real.
    await _in_progress(app, "orphan", payload, timedelta(seconds=abandon + 5))
    ran = await idempotent_post(client, f"{API}/customers", "orphan", payload)
    assert ran.status_code == 201, ran.text
    assert "idempotent-replayed" not in ran.headers
    assert await count(app, Customer) == 1
    records = {r.key: r for r in await stored_records(app)}
    assert records["orphan"].status_code == 201
    assert records["young"].status_code is None
    # From now on the reclaimed key replays.
    replay = await idempotent_post(client, f"{API}/customers", "orphan", payload)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == ran.content
    assert await count(app, Customer) == 1


# --- bounded ids: 404/422, never 500 -----------------------------------------------------------

TOO_BIG = ["2147483648", "3000000000", "99999999999999999999"]
NOT_IDS = [*TOO_BIG, "0", "-1"]


def _cursor(text_value: str) -> str:
    return base64.urlsafe_b64encode(text_value.encode()).decode().rstrip("=")


@pytest.mark.parametrize("ident", NOT_IDS)
async def test_path_ids_out_of_range_are_422(client: httpx.AsyncClient, ident: str) -> None:
    body = assert_problem(await client.get(f"{API}/customers/{ident}"), 422, "path.customer_id")
    assert body["errors"][0]["field"] == "path.customer_id"
    assert_problem(await client.patch(f"{API}/customers/{ident}", json={"name": "x"}), 422)
    assert_problem(await client.delete(f"{API}/api-keys/{ident}"), 422, "path.key_id")
    assert_problem(
        await client.get(f"{API}/contracts/1/lines/{ident}/adjustments"), 422, "path.line_id"
    )


async def test_the_largest_id_is_a_404(client: httpx.AsyncClient) -> None:
    assert MAX_ID == 2147483647
    assert_problem(await client.get(f"{API}/customers/{MAX_ID}"), 404)
    assert_problem(await client.get(f"{API}/contracts/{MAX_ID}/lines/{MAX_ID}"), 404)
    missing = await client.post(
        f"{API}/services",
        json={"name": "X", "sku": "X", "unit": "seat", "unit_price": "1", "unit_cost": "1"}
        | {"vendor_id": MAX_ID},
    )
    assert_problem(missing, 422, "body.vendor_id")


async def test_query_and_body_ids_out_of_range_are_422(client: httpx.AsyncClient) -> None:
    for ident in NOT_IDS:
        assert_problem(
            await client.get(f"{API}/assets", params={"customer_id": ident}),
            422,
            "query.customer_id",
        )
        assert_problem(
            await client.get(f"{API}/contracts", params={"customer_id": ident}),
            422,
            "query.customer_id",
        )
        assert_problem(
            await client.get(f"{API}/services", params={"vendor_id": ident}),
            422,
            "query.vendor_id",
        )
    c = await customer(client)
    s = await service(client)
    for big in (3000000000, 2**63, 10**20, 0, -5):
        created = await client.post(
            f"{API}/services",
            json={
                "name": "Big",
                "sku": f"BIG-{big}",
                "unit": "seat",
                "unit_price": "1",
                "unit_cost": "1",
                "vendor_id": big,
            },
        )
        assert_problem(created, 422, "body.vendor_id")
        assert_problem(
            await client.post(
                f"{API}/contracts",
                json={"customer_id": big, "name": "X", "start_date": "2026-01-01"},
            ),
            422,
            "body.customer_id",
        )
        assert_problem(
            await client.post(
                f"{API}/assets",
                json={
                    "customer_id": c["id"],
                    "service_id": big,
                    "name": "PC",
                    "installed_on": "2026-01-01",
                },
            ),
            422,
            "body.service_id",
        )
        assert_problem(
            await client.post(
                f"{API}/customers/{c['id']}/vendor-accounts",
                json={"vendor_id": big, "account_ref": "A-1"},
            ),
            422,
            "body.vendor_id",
        )
        assert_problem(
            await client.patch(f"{API}/services/{s['id']}", json={"vendor_id": big}),
            422,
            "body.vendor_id",
        )
    # Nothing was stored along the way.
    assert [x["id"] for x in (await client.get(f"{API}/services")).json()["items"]] == [s["id"]]


async def test_cursor_beyond_the_id_range_is_422(client: httpx.AsyncClient) -> None:
    await customer(client)
    for value in ("v1:999999999999", "v1:2147483648", "v1:-1", "v1:abc", "v2:1"):
        assert_problem(
            await client.get(f"{API}/customers", params={"cursor": _cursor(value)}),
            422,
            "query.cursor",
        )
    # The largest id is a valid cursor: nothing comes after it.
    last = await client.get(f"{API}/customers", params={"cursor": _cursor(f"v1:{MAX_ID}")})
    assert last.status_code == 200, last.text
    assert last.json() == {"items": [], "next_cursor": None}
    first = await client.get(f"{API}/customers", params={"cursor": _cursor("v1:0")})
    assert first.status_code == 200 and len(first.json()["items"]) == 1


async def test_no_path_id_anywhere_yields_a_500(client: httpx.AsyncClient) -> None:
    """Every documented route with an id in its path: out of range is a 422 problem naming
    the path parameter; the largest id names nothing (404) on GET and DELETE."""
    checked = 0
    for path, operations in document()["paths"].items():
        if "{" not in path:
            continue
        for method in operations:
            for ident in NOT_IDS:
                url = re.sub(r"\{[^}]+\}", ident, path)
                response = await client.request(method.upper(), url, json={})
                if path.startswith(f"{API}/webhooks/"):
                    # Signed, not keyed (docs/webhooks.md): an unsigned call may be refused
                    # before its path is read; a problem either way, never a 500.
                    assert response.status_code in (401, 404, 422), response.text
                    assert_problem(response, response.status_code)
                    continue
                body = assert_problem(response, 422)
                fields = [e["field"] for e in body.get("errors") or []]
                assert any(f.startswith("path.") for f in fields), (method, url, body)
                checked += 1
            if method in ("get", "delete") and "{period}" not in path:
                # (a period in the path is no id: a bad one is the 422 above, not a 404)
                url = re.sub(r"\{[^}]+\}", str(MAX_ID), path)
                # (the schedule's required range; other routes ignore it)
                period = {"from": "2026-01", "to": "2026-01"}
                assert_problem(await client.request(method.upper(), url, params=period), 404)
    assert checked > 50


# --- NUL characters ------------------------------------------------------------------------


async def test_nul_characters_are_422(client: httpx.AsyncClient) -> None:
    """PostgreSQL text cannot hold NUL: refused on both backends alike, as a 422."""
    assert_problem(
        await client.post(f"{API}/customers", json={"name": "a\u0000b"}), 422, "body.name"
    )
    c = await customer(client, "Acme")
    assert_problem(
        await client.patch(f"{API}/customers/{c['id']}", json={"external_ref": "X\u00001"}),
        422,
        "body.external_ref",
    )
    for resource in ("customers", "services", "contracts", "assets"):
        body = assert_problem(await client.get(f"{API}/{resource}?q=a%00b"), 422, "query.q")
        assert "NUL" in body["errors"][0]["message"]
    s = await service(client)
    k = (await contract(client, c["id"]))["id"]
    assert_problem(
        await client.post(
            f"{API}/contracts/{k}/lines",
            json={"service_id": s["id"], "quantity": "1", "description": "Backup\u0000GB"},
        ),
        422,
        "body.description",
    )
    ln = await line(client, k, s["id"])
    assert_problem(
        await client.patch(f"{API}/contracts/{k}/lines/{ln['id']}", json={"description": "\u0000"}),
        422,
        "body.description",
    )
    assert_problem(
        await client.post(
            f"{API}/contracts/{k}/lines/{ln['id']}/adjustments",
            json={"effective_date": "2026-02-01", "quantity": "2", "note": "a\u0000"},
        ),
        422,
        "body.note",
    )
    # Nothing stored: one customer, one line, no adjustment.
    assert len((await client.get(f"{API}/customers")).json()["items"]) == 1
    got = (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).json()
    assert got["description"] is None and got["adjustments"] == []


# --- unknown body fields -----------------------------------------------------------------------


async def test_unknown_body_fields_are_422_naming_the_field(client: httpx.AsyncClient) -> None:
    s = await service(client, unit_price="22.00")
    typo = await client.patch(f"{API}/services/{s['id']}", json={"unitprice": "9"})
    body = assert_problem(typo, 422, "body.unitprice")
    assert body["errors"] == [
        {
            "field": "body.unitprice",
            "message": "Extra inputs are not permitted",
            "type": "extra_forbidden",
        }
    ]
    assert (await client.get(f"{API}/services/{s['id']}")).json()["unit_price"] == "22.00"

    assert_problem(
        await client.post(f"{API}/customers", json={"name": "Acme", "nmae": "typo"}),
        422,
        "body.nmae",
    )
    c = await customer(client)
    # Fields that exist on the record but cannot be set this way.
    assert_problem(
        await client.post(
            f"{API}/contracts",
            json={
                "customer_id": c["id"],
                "name": "X",
                "start_date": "2026-01-01",
                "status": "cancelled",
            },
        ),
        422,
        "body.status",
    )
    k = await contract(client, c["id"])
    assert_problem(
        await client.patch(f"{API}/contracts/{k['id']}", json={"status": "active"}),
        422,
        "body.status",
    )
    assert_problem(await client.patch(f"{API}/customers/{c['id']}", json={"id": 7}), 422, "body.id")
    assert_problem(
        await client.post(
            f"{API}/api-keys", json={"name": "mine", "scopes": ["read"], "key": "msp_chosen"}
        ),
        422,
        "body.key",
    )
    assert (await client.get(f"{API}/api-keys")).json()["items"] == []
    assert [x["id"] for x in (await client.get(f"{API}/customers")).json()["items"]] == [c["id"]]


# --- money text ------------------------------------------------------------------------------


async def test_negative_zero_is_zero_everywhere(client: httpx.AsyncClient) -> None:
    created = await service(client, "ZERO", unit_price="-0", unit_cost="-0.0000")
    assert created["unit_price"] == "0.00" and created["unit_cost"] == "0.00"
    got = (await client.get(f"{API}/services/{created['id']}")).json()
    assert got["unit_price"] == "0.00" and got["unit_cost"] == "0.00"
    listed = (await client.get(f"{API}/services")).json()["items"][0]
    assert listed["unit_price"] == "0.00"

    # A bare JSON -0 too.
    raw = b'{"name": "N", "sku": "N", "unit": "seat", "unit_price": -0, "unit_cost": -0.0}'
    number = await client.post(f"{API}/services", content=raw, headers=JSON)
    assert number.status_code == 201, number.text
    assert number.json()["unit_price"] == "0.00" and number.json()["unit_cost"] == "0.00"

    c = await customer(client)
    k = (await contract(client, c["id"]))["id"]
    ln = await line(client, k, created["id"], "-0", unit_price="-0.00")
    assert ln["quantity"] == "0" and ln["unit_price"] == "0.00"
    stored = (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).json()
    assert stored["quantity"] == "0" and stored["unit_price"] == "0.00"
    patched = await client.patch(f"{API}/services/{number.json()['id']}", json={"unit_price": "-0"})
    assert patched.json()["unit_price"] == "0.00"


@pytest.mark.parametrize(
    "value", ["1_000", "1,000", "1 000", "0x10", "12.5.1", "", " ", "١٢", "１２", "12€", "e5"]
)
async def test_money_text_must_be_a_plain_decimal(client: httpx.AsyncClient, value: str) -> None:
    response = await client.post(
        f"{API}/services",
        json={"name": "X", "sku": "X", "unit": "seat", "unit_price": value, "unit_cost": "1"},
    )
    assert_problem(response, 422, "body.unit_price")
    assert (await client.get(f"{API}/services")).json()["items"] == []


@pytest.mark.parametrize(
    ("value", "stored"),
    [(" 12.5 ", "12.50"), ("\t7\n", "7.00"), ("+5", "5.00"), (".5", "0.50"), ("1e3", "1000.00")],
)
async def test_money_text_around_a_plain_decimal(
    client: httpx.AsyncClient, value: str, stored: str
) -> None:
    created = await service(client, "PAD", unit_price=value)
    assert created["unit_price"] == stored
    assert (await client.get(f"{API}/services/{created['id']}")).json()["unit_price"] == stored


# --- the calendar is bounded -----------------------------------------------------------------


async def test_dates_outside_1900_to_9998_are_422(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client)
    assert_problem(
        await client.post(
            f"{API}/contracts",
            json={"customer_id": c["id"], "name": "X", "start_date": "0001-01-01"},
        ),
        422,
        "body.start_date",
    )
    assert_problem(
        await client.post(
            f"{API}/contracts",
            json={"customer_id": c["id"], "name": "X", "start_date": "1899-12-31"},
        ),
        422,
        "body.start_date",
    )
    asset = {"customer_id": c["id"], "service_id": s["id"], "name": "PC-1"}
    assert_problem(
        await client.post(f"{API}/assets", json={**asset, "installed_on": "9999-12-31"}),
        422,
        "body.installed_on",
    )
    assert_problem(
        await client.post(
            f"{API}/assets",
            json={**asset, "installed_on": "2026-01-01", "removed_on": "9999-12-31"},
        ),
        422,
        "body.removed_on",
    )
    # The bounds themselves are in.
    k = await contract(client, c["id"], "1900-01-01", end_date="9998-12-31")
    assert k["start_date"] == "1900-01-01" and k["end_date"] == "9998-12-31"
    placed = await create(client, "assets", {**asset, "installed_on": "9998-12-31"})
    assert placed["installed_on"] == "9998-12-31"

    url = f"{API}/contracts/{k['id']}"
    assert_problem(await client.patch(url, json={"end_date": "9999-12-31"}), 422, "body.end_date")
    assert_problem(
        await client.post(f"{url}/cancel", json={"effective_date": "0001-01-01"}),
        422,
        "body.effective_date",
    )
    ln = await line(client, k["id"], s["id"])
    assert_problem(
        await client.post(
            f"{url}/lines/{ln['id']}/adjustments",
            json={"effective_date": "9999-12-31", "quantity": "2"},
        ),
        422,
        "body.effective_date",
    )
    assert_problem(
        await client.post(
            f"{url}/lines", json={"service_id": s["id"], "quantity": "1", "end_date": "9999-01-01"}
        ),
        422,
        "body.end_date",
    )
    # The schedule of the calendar's last month still answers.
    last = await client.get(f"{url}/schedule", params={"from": "9998-12", "to": "9998-12"})
    assert last.status_code == 200, last.text
    assert last.json()["lines"][0]["active_days"] == 31


# --- search folds non-ASCII case on both backends ---------------------------------------------


async def test_search_is_case_insensitive_beyond_ascii(client: httpx.AsyncClient) -> None:
    found = await customer(client, "Überall AG")
    await customer(client, "Uberall GmbH")  # no umlaut: not an "über" match
    for q in ("über", "ÜBER", "überALL ag", "Überall"):
        response = await client.get(f"{API}/customers", params={"q": q})
        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["items"]] == [found["id"]], q
    greek = await service(client, "ΩMEGA-1", name="Ωmega backup")
    by_name = await client.get(f"{API}/services", params={"q": "ωMEGA"})
    assert [x["id"] for x in by_name.json()["items"]] == [greek["id"]]


# --- small things --------------------------------------------------------------------------


async def test_head_healthz(anon: httpx.AsyncClient) -> None:
    response = await anon.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert (await anon.get("/healthz")).json() == {"status": "ok"}


async def test_adjustments_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    s = await service(client)
    k = (await contract(client, c["id"]))["id"]
    ln = await line(client, k, s["id"], "10")
    url = f"{API}/contracts/{k}/lines/{ln['id']}/adjustments"
    made = await client.post(url, json={"effective_date": "2026-03-01", "quantity": "12"})
    assert made.status_code == 201, made.text
    # No route at .../adjustments/{id} any more: a 404 problem (not a 500, not a delete).
    gone = assert_problem(await client.delete(f"{url}/{made.json()['id']}"), 404)
    assert "No resource" in gone["detail"]
    # The collection answers GET and POST only: a 405 problem that says so.
    refused = await client.delete(url)
    body = assert_problem(refused, 405)
    assert refused.headers["allow"] == "GET, POST"
    assert body["detail"] == f"Method DELETE is not allowed on {url}"
    history = (await client.get(url)).json()["items"]
    assert [a["id"] for a in history] == [made.json()["id"]]
    spec = document()["paths"]
    assert not any(
        "delete" in operations for path, operations in spec.items() if "/adjustments" in path
    )
