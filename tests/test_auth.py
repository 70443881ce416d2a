"""API keys and scopes through HTTP (docs/README.md#authentication)."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from app.auth.keys import ensure_admin_key
from app.auth.models import ApiKey
from app.core.config import Settings
from app.core.db import create_sessionmaker
from app.main import bootstrap_key_delivery, create_app
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import assert_problem, customer


async def new_key(
    client: httpx.AsyncClient, *scopes: str, name: str = "test key"
) -> dict[str, Any]:
    response = await client.post("/api/v1/api-keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_key(app: Any, key_id: int) -> ApiKey | None:
    async with app.state.sessionmaker() as session:
        row: ApiKey | None = await session.get(ApiKey, key_id)
        return row


async def test_no_key_is_401_with_challenge(anon: httpx.AsyncClient) -> None:
    response = await anon.get("/api/v1/customers")
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["detail"]
    # Not a bearer scheme at all is the same as no key.
    basic = await anon.get("/api/v1/customers", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert_problem(basic, 401)


async def test_wrong_key_is_401(app: Any, client: httpx.AsyncClient) -> None:
    async with make_client(app, "msp_not_a_real_key") as wrong:
        response = await wrong.get("/api/v1/customers")
    assert_problem(response, 401)
    assert "www-authenticate" in response.headers


async def test_read_key_reads_but_cannot_write(app: Any, client: httpx.AsyncClient) -> None:
    created = await new_key(client, "read")
    assert created["scopes"] == ["read"]
    async with make_client(app, created["key"]) as reader:
        assert (await reader.get("/api/v1/customers")).status_code == 200
        body = assert_problem(await reader.post("/api/v1/customers", json={"name": "X"}), 403)
        assert "write" in body["detail"]
        assert_problem(await reader.get("/api/v1/api-keys"), 403)
    listed = await client.get("/api/v1/customers")
    assert listed.json()["items"] == []


async def test_write_key_writes_but_cannot_manage_keys(app: Any, client: httpx.AsyncClient) -> None:
    created = await new_key(client, "write")
    async with make_client(app, created["key"]) as writer:
        made = await writer.post("/api/v1/customers", json={"name": "Written"})
        assert made.status_code == 201, made.text
        # write implies read
        assert (await writer.get(f"/api/v1/customers/{made.json()['id']}")).status_code == 200
        assert_problem(await writer.get("/api/v1/api-keys"), 403)
        assert_problem(await writer.get(f"/api/v1/api-keys/{created['id']}"), 403)
        assert_problem(
            await writer.post("/api/v1/api-keys", json={"name": "x", "scopes": ["admin"]}), 403
        )
        assert_problem(await writer.delete(f"/api/v1/api-keys/{created['id']}"), 403)


async def test_admin_key_manages_keys(app: Any, client: httpx.AsyncClient) -> None:
    admin = await new_key(client, "admin", name="second admin")
    # Scopes are stored and shown in rank order, without duplicates.
    both = await new_key(client, "write", "read", "write")
    assert both["scopes"] == ["read", "write"]
    async with make_client(app, admin["key"]) as other_admin:
        made = await other_admin.post("/api/v1/api-keys", json={"name": "k", "scopes": ["read"]})
        assert made.status_code == 201, made.text
        assert (await other_admin.post("/api/v1/customers", json={"name": "A"})).status_code == 201
        deleted = await other_admin.delete(f"/api/v1/api-keys/{made.json()['id']}")
        assert deleted.status_code == 204
    assert_problem(await client.get(f"/api/v1/api-keys/{made.json()['id']}"), 404)
    assert_problem(await client.delete(f"/api/v1/api-keys/{made.json()['id']}"), 404)
    assert_problem(await client.get("/api/v1/api-keys/abc"), 422)


async def test_env_admin_key_works(client: httpx.AsyncClient) -> None:
    assert client.headers["authorization"] == f"Bearer {ADMIN_KEY}"
    assert (await client.get("/api/v1/api-keys")).status_code == 200
    assert (await client.post("/api/v1/customers", json={"name": "A"})).status_code == 201
    # The environment key is not a stored key.
    assert (await client.get("/api/v1/api-keys")).json()["items"] == []


async def test_created_key_is_shown_once_and_stored_as_hash(
    app: Any, client: httpx.AsyncClient
) -> None:
    created = await new_key(client, "read", "write", name="PSA integration")
    plain = created["key"]
    assert plain.startswith("msp_") and len(plain) > 40
    assert created["prefix"] == plain[:12]
    assert created["name"] == "PSA integration"
    assert created["last_used_at"] is None
    assert "key_hash" not in created

    got = (await client.get(f"/api/v1/api-keys/{created['id']}")).json()
    listed = (await client.get("/api/v1/api-keys")).json()
    assert listed["next_cursor"] is None
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    for shown in (got, listed["items"][0]):
        assert "key" not in shown and "key_hash" not in shown
        assert plain not in str(shown)
        assert shown == {k: v for k, v in created.items() if k != "key"}

    row = await stored_key(app, created["id"])
    assert row is not None
    assert row.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    for value in row.model_dump().values():
        assert plain not in str(value)


async def test_list_pages(client: httpx.AsyncClient) -> None:
    ids = [(await new_key(client, "read", name=f"k{i}"))["id"] for i in range(3)]
    first = (await client.get("/api/v1/api-keys", params={"limit": 2})).json()
    assert [k["id"] for k in first["items"]] == ids[:2]
    rest = await client.get("/api/v1/api-keys", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [k["id"] for k in rest.json()["items"]] == ids[2:]
    assert rest.json()["next_cursor"] is None


async def test_last_used_at_is_set_after_use(app: Any, client: httpx.AsyncClient) -> None:
    created = await new_key(client, "read")
    async with make_client(app, created["key"]) as reader:
        assert (await reader.get("/api/v1/customers")).status_code == 200
    got = (await client.get(f"/api/v1/api-keys/{created['id']}")).json()
    assert got["last_used_at"] is not None
    assert got["last_used_at"] >= created["created_at"]
    row = await stored_key(app, created["id"])
    assert row is not None and row.last_used_at is not None


async def test_first_use_of_a_key_may_write(app: Any, client: httpx.AsyncClient) -> None:
    # The touch of last_used_at commits in its own transaction beside the request's.
    created = await new_key(client, "write")
    async with make_client(app, created["key"]) as writer:
        made = await writer.post("/api/v1/customers", json={"name": "First use"})
    assert made.status_code == 201, made.text


async def test_deleted_key_is_401(app: Any, client: httpx.AsyncClient) -> None:
    created = await new_key(client, "write")
    async with make_client(app, created["key"]) as writer:
        assert (await writer.get("/api/v1/customers")).status_code == 200
        assert (await client.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 204
        assert_problem(await writer.get("/api/v1/customers"), 401)
    assert await stored_key(app, created["id"]) is None


async def test_probes_need_no_key(anon: httpx.AsyncClient) -> None:
    assert (await anon.get("/healthz")).status_code == 200
    assert (await anon.get("/readyz")).status_code == 200


async def test_invalid_create_bodies(client: httpx.AsyncClient) -> None:
    bad_scope = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["root"]})
    assert_problem(bad_scope, 422, "body.scopes.0")
    assert_problem(
        await client.post("/api/v1/api-keys", json={"name": "k", "scopes": []}), 422, "body.scopes"
    )
    assert_problem(
        await client.post("/api/v1/api-keys", json={"name": "  ", "scopes": ["read"]}),
        422,
        "body.name",
    )
    assert_problem(await client.post("/api/v1/api-keys", json={"scopes": ["read"]}), 422)
    # Nothing was stored by the failed attempts.
    assert (await client.get("/api/v1/api-keys")).json()["items"] == []


async def test_ensure_admin_key_bootstraps_once(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    unset = settings.model_copy(update={"admin_api_key": None})
    maker = app.state.sessionmaker
    # With the environment key set nothing is created.
    assert await ensure_admin_key(maker, settings) is None

    key = await ensure_admin_key(maker, unset)
    assert key is not None and key.startswith("msp_")
    async with maker() as session:
        rows = (await session.scalars(select(ApiKey))).all()
    assert len(rows) == 1
    assert rows[0].key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert rows[0].scopes == "read,write,admin"
    assert all(key not in str(value) for value in rows[0].model_dump().values())

    assert await ensure_admin_key(maker, unset) is None
    async with maker() as session:
        count = len((await session.scalars(select(col(ApiKey.id)))).all())
    assert count == 1

    async with make_client(app, key) as bootstrap:
        assert (await bootstrap.get("/api/v1/api-keys")).status_code == 200
        await customer(bootstrap, "Made by the bootstrap key")


async def test_bootstrap_key_printed_once_to_the_terminal(
    app: Any, client: httpx.AsyncClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    unset = settings.model_copy(update={"admin_api_key": None, "bootstrap_key_file": None})
    key = await ensure_admin_key(app.state.sessionmaker, unset, bootstrap_key_delivery(unset))
    assert key is not None
    assert f"    {key}\n" in capsys.readouterr().err


async def test_bootstrap_key_written_to_a_file_and_not_to_the_logs(
    app: Any,
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Docker image sets MSP_BOOTSTRAP_KEY_FILE: the key goes to that file, readable by
    its owner only, and the container's logs only say where (README.md#docker)."""
    path = tmp_path / "var" / "bootstrap-admin-key"
    unset = settings.model_copy(update={"admin_api_key": None, "bootstrap_key_file": path})
    key = await ensure_admin_key(app.state.sessionmaker, unset, bootstrap_key_delivery(unset))
    assert key is not None
    assert path.read_text() == key + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    told = capsys.readouterr().err
    assert str(path) in told and key not in told and key[:8] not in told
    async with make_client(app, key) as bootstrap:
        assert (await bootstrap.get("/api/v1/api-keys")).status_code == 200


async def test_a_bootstrap_key_that_cannot_be_written_is_not_kept(
    app: Any, client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    unset = settings.model_copy(
        update={"admin_api_key": None, "bootstrap_key_file": blocker / "key"}
    )
    with pytest.raises(OSError):
        await ensure_admin_key(app.state.sessionmaker, unset, bootstrap_key_delivery(unset))
    async with app.state.sessionmaker() as session:
        assert (await session.scalars(select(ApiKey))).all() == []
    # Empty in the environment means unset: printed, as without the variable.
    assert Settings(bootstrap_key_file="").bootstrap_key_file is None


async def test_first_use_needs_only_one_connection(
    app: Any, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Recording last_used_at must not wait for a second pooled connection while the
    request holds the first: under a burst of requests that starves the pool."""
    created = await new_key(client, "read")
    small = create_app(settings)
    engine = create_async_engine(
        settings.resolved_database_url, pool_size=1, max_overflow=0, pool_timeout=2
    )
    small.state.settings = settings
    small.state.engine = engine
    small.state.sessionmaker = create_sessionmaker(engine)
    try:
        async with make_client(small, created["key"]) as reader:
            response = await reader.get("/api/v1/customers")
    finally:
        await engine.dispose()
    assert response.status_code == 200, response.text
    row = await stored_key(app, created["id"])
    assert row is not None and row.last_used_at is not None


async def test_verified_keys_are_cached_briefly_per_process(
    client: httpx.AsyncClient, app: Any
) -> None:
    """A key deleted by another worker process (here: straight in the database) keeps
    working at most api_key_cache_seconds in this one; deleting through the API stops it
    at once."""
    from sqlalchemy import delete as sql_delete

    from app.auth.models import ApiKey as KeyRow

    created = (await client.post("/api/v1/api-keys", json={"name": "c", "scopes": ["read"]})).json()
    async with make_client(app, created["key"]) as reader:
        assert (await reader.get("/api/v1/customers")).status_code == 200
        async with app.state.sessionmaker() as session:
            await session.execute(sql_delete(KeyRow).where(KeyRow.id == created["id"]))  # type: ignore[arg-type]
            await session.commit()
        # Still trusted from the cache...
        assert (await reader.get("/api/v1/customers")).status_code == 200
        # ...until it expires.
        for entry in app.state.key_cache._entries.values():
            entry.expires = 0
        assert (await reader.get("/api/v1/customers")).status_code == 401

    second = (await client.post("/api/v1/api-keys", json={"name": "d", "scopes": ["read"]})).json()
    async with make_client(app, second["key"]) as reader:
        assert (await reader.get("/api/v1/customers")).status_code == 200
        assert (await client.delete(f"/api/v1/api-keys/{second['id']}")).status_code == 204
        assert (await reader.get("/api/v1/customers")).status_code == 401


async def _call(app: Any, scope: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """One request through the ASGI interface: how often the body was read, what was sent."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b'{"name": "B"}', "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return reads, sent


async def test_an_unknown_caller_is_answered_before_the_body_is_read(
    app: Any, client: httpx.AsyncClient
) -> None:
    """Every /api/v1 request but the vendor webhooks is authenticated first
    (app/auth/middleware.py): a bad or missing key gets its 401 without the body being
    read, whatever the method, with or without an Idempotency-Key."""
    from tests.test_idempotency import asgi_scope

    created = await client.post("/api/v1/customers", json={"name": "Acme"})
    assert created.status_code == 201
    for method, path in (
        ("POST", "/api/v1/customers"),
        ("PATCH", f"/api/v1/customers/{created.json()['id']}"),
        ("PUT", "/api/v1/targets/2026-03"),
        ("POST", "/api/v1/vendor-invoices/import"),
    ):
        for authorization in ("Bearer msp_wrong", None):
            headers = {"content-type": "application/json"}
            if authorization:
                headers["authorization"] = authorization
            scope = {**asgi_scope(headers, path), "method": method}
            reads, sent = await _call(app, scope)
            assert sent[0]["status"] == 401, (method, path, authorization)
            assert reads == 0, (method, path, authorization)
    listed = await client.get("/api/v1/customers")
    assert [c["name"] for c in listed.json()["items"]] == ["Acme"]
    # The vendor webhooks are not behind a key: they are signed (401 for a bad signature).
    hook = await client.post("/api/v1/webhooks/vendors/1/invoices", content=b"{}")
    assert hook.status_code == 401


async def test_a_key_name_is_trimmed_and_refuses_nul(client: httpx.AsyncClient) -> None:
    made = await client.post("/api/v1/api-keys", json={"name": "  PSA  ", "scopes": ["read"]})
    assert made.status_code == 201 and made.json()["name"] == "PSA"
    for name in ("\u0000PSA", " \u200b "):
        refused = await client.post("/api/v1/api-keys", json={"name": name, "scopes": ["read"]})
        assert_problem(refused, 422)
        assert refused.json()["errors"][0]["field"] == "body.name", name
