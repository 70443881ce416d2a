"""Idempotency-Key on creates (docs/idempotency.md): replay, reuse with another body,
in-progress retries, scoping to API key and path, expiry, and what is never stored."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.core.db import utcnow
from app.core.idempotency import IdempotencyRecord
from app.customers import service as customers_service
from app.customers.models import Customer
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import assert_problem

PATH = "/api/v1/customers"
JSON = {"content-type": "application/json"}


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


async def post(
    client: httpx.AsyncClient, key: str | None, payload: dict[str, Any], path: str = PATH
) -> httpx.Response:
    headers = dict(JSON)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(path, content=body_bytes(payload), headers=headers)


async def count(app: Any, model: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def records(app: Any) -> list[IdempotencyRecord]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(IdempotencyRecord))).all())


async def test_retry_replays_the_first_answer(app: Any, client: httpx.AsyncClient) -> None:
    first = await post(client, "create-acme-1", {"name": "Acme"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = await post(client, "create-acme-1", {"name": "Acme"})
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert await count(app, Customer) == 1
    [record] = await records(app)
    assert record.status_code == 201
    assert record.scope == hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    # Without the header every POST creates.
    assert (await post(client, None, {"name": "Acme"})).status_code == 201
    assert await count(app, Customer) == 2


async def test_same_key_other_body_is_422(app: Any, client: httpx.AsyncClient) -> None:
    assert (await post(client, "k-body", {"name": "Acme"})).status_code == 201
    other = await post(client, "k-body", {"name": "Acme Corp"})
    body = assert_problem(other, 422)
    assert "idempotency" in body["type"]
    assert "idempotent-replayed" not in other.headers
    # Same data, other bytes: still another body.
    spaced = await client.post(
        PATH, content=b'{"name":  "Acme"}', headers={**JSON, "Idempotency-Key": "k-body"}
    )
    assert_problem(spaced, 422)
    assert await count(app, Customer) == 1


async def test_key_is_scoped_to_path_and_api_key(app: Any, client: httpx.AsyncClient) -> None:
    assert (await post(client, "shared", {"name": "Acme"})).status_code == 201
    # Another path: independent (a body that is valid there).
    made = await post(client, "shared", {"name": "k", "scopes": ["write"]}, "/api/v1/api-keys")
    assert made.status_code == 201, made.text
    assert "idempotent-replayed" not in made.headers
    # Another API key, same path and body: runs for real.
    async with make_client(app, made.json()["key"]) as other:
        second = await post(other, "shared", {"name": "Acme"})
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert await count(app, Customer) == 2
    assert len(await records(app)) == 3


async def test_client_errors_are_replayed(app: Any, client: httpx.AsyncClient) -> None:
    invalid = await post(client, "bad-1", {"name": ""})
    assert_problem(invalid, 422, "body.name")
    replay = await post(client, "bad-1", {"name": ""})
    assert replay.status_code == 422 and replay.content == invalid.content
    assert replay.headers["idempotent-replayed"] == "true"

    holder = await post(client, None, {"name": "First", "external_ref": "X1"})
    assert holder.status_code == 201
    duplicate = await post(client, "dup-1", {"name": "Second", "external_ref": "X1"})
    assert_problem(duplicate, 409)
    # Even once the clash is gone the retry answers what the first attempt got.
    assert (await client.delete(f"{PATH}/{holder.json()['id']}")).status_code == 204
    retry = await post(client, "dup-1", {"name": "Second", "external_ref": "X1"})
    assert retry.status_code == 409 and retry.content == duplicate.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await count(app, Customer) == 0


async def test_retry_while_in_progress_is_409(app: Any, client: httpx.AsyncClient) -> None:
    payload = {"name": "Acme"}
    async with app.state.sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                method="POST",
                path=PATH,
                key="running",
                fingerprint=hashlib.sha256(body_bytes(payload)).hexdigest(),
                status_code=None,
            )
        )
        await session.commit()
    response = await post(client, "running", payload)
    body = assert_problem(response, 409)
    assert "in-progress" in body["type"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert await count(app, Customer) == 0
    # Another body with the busy key is still a reuse: 422.
    assert_problem(await post(client, "running", {"name": "Other"}), 422)


async def test_expired_record_is_ignored(app: Any, client: httpx.AsyncClient) -> None:
    payload = {"name": "Acme"}
    async with app.state.sessionmaker() as session:
        session.add(
            IdempotencyRecord(
                scope=hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
                method="POST",
                path=PATH,
                key="old",
                fingerprint=hashlib.sha256(b"another body altogether").hexdigest(),
                status_code=201,
                content_type="application/json",
                body=b'{"stale": true}',
                created_at=utcnow() - timedelta(hours=24, minutes=1),
            )
        )
        await session.commit()
    response = await post(client, "old", payload)
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers
    assert response.json()["name"] == "Acme"
    assert await count(app, Customer) == 1
    [record] = await records(app)
    assert record.status_code == 201 and record.created_at > utcnow() - timedelta(minutes=1)
    # The fresh record now replays.
    assert (await post(client, "old", payload)).headers["idempotent-replayed"] == "true"


async def test_server_errors_are_not_stored(
    app: Any, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(customers_service, "create_customer", broken)
    failed = await post(client, "flaky", {"name": "Acme"})
    assert_problem(failed, 500)
    assert "boom" not in failed.text
    assert await records(app) == []
    monkeypatch.undo()
    retry = await post(client, "flaky", {"name": "Acme"})
    assert retry.status_code == 201, retry.text
    assert "idempotent-replayed" not in retry.headers
    assert await count(app, Customer) == 1


async def test_auth_failures_are_not_stored(app: Any, client: httpx.AsyncClient) -> None:
    async with make_client(app, "msp_wrong") as wrong:
        assert_problem(await post(wrong, "auth-1", {"name": "Acme"}), 401)
    assert await records(app) == []


async def test_bad_idempotency_key_is_422(app: Any, client: httpx.AsyncClient) -> None:
    too_long = await post(client, "x" * 256, {"name": "Acme"})
    assert_problem(too_long, 422)
    empty = await post(client, "", {"name": "Acme"})
    assert_problem(empty, 422)
    assert await count(app, Customer) == 0


def asgi_scope(headers: dict[str, str], path: str = PATH) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


async def raw_post(
    app: Any, headers: dict[str, str], body: bytes
) -> tuple[int, list[dict[str, Any]]]:
    """POST through the ASGI interface: how often the app read the body, what it sent."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(asgi_scope(headers), receive, send)
    return reads, sent


async def test_answer_is_stored_before_it_is_sent(app: Any, client: httpx.AsyncClient) -> None:
    """A client may retry the moment it holds the answer: by then the record must say
    what to replay, not 'still running'."""
    seen_at_start: list[IdempotencyRecord] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body_bytes({"name": "Acme"}), "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen_at_start.extend(await records(app))
        sent.append(message)

    headers = {"authorization": f"Bearer {ADMIN_KEY}", "idempotency-key": "before-send", **JSON}
    await app(asgi_scope(headers), receive, send)
    assert sent[0]["status"] == 201
    [record] = seen_at_start
    assert record.status_code == 201 and record.body is not None


async def test_first_answer_keeps_every_header(app: Any, client: httpx.AsyncClient) -> None:
    plain = await post(client, None, {"name": "Plain"})
    keyed = await post(client, "headers-1", {"name": "Keyed"})
    assert keyed.status_code == plain.status_code == 201
    assert set(keyed.headers) == set(plain.headers)
    assert keyed.headers["content-length"] == str(len(keyed.content))
    assert keyed.headers["x-request-id"]


async def test_answer_is_sent_when_the_record_cannot_be_stored(
    app: Any,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The create has committed: the client gets its answer, and the claim stays, so a
    retry is a 409 (not a second create) until the claim is abandoned."""
    from app.core import idempotency

    async def failing_store(*args: Any, **kwargs: Any) -> None:
        raise OSError("database gone")

    monkeypatch.setattr(idempotency, "_store", failing_store)
    first = await post(client, "store-fails", {"name": "Acme"})
    assert first.status_code == 201, first.text
    assert first.json()["name"] == "Acme"
    assert "could not store" in caplog.text
    monkeypatch.undo()
    retry = await post(client, "store-fails", {"name": "Acme"})
    assert_problem(retry, 409)
    assert await count(app, Customer) == 1
    [record] = await records(app)
    assert record.status_code is None


async def test_unauthenticated_post_reads_and_writes_nothing(
    app: Any, client: httpx.AsyncClient, engine: Any
) -> None:
    """Authentication comes first: no record claimed (not even claimed and released),
    and the body is not read."""
    from sqlalchemy import event

    writes: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            writes.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", spy)
    try:
        for authorization in ("Bearer msp_wrong", None, "Basic dXNlcjpwdw=="):
            headers = {"idempotency-key": "unauth-1", **JSON}
            if authorization:
                headers["authorization"] = authorization
            reads, sent = await raw_post(app, headers, b'{"name": "A"}')
            assert sent[0]["status"] == 401, authorization
            assert reads == 0, authorization
            # The same problem the endpoint gives without an Idempotency-Key.
            async with make_client(app, None) as anon:
                plain_headers = {"authorization": authorization} if authorization else {}
                plain = await anon.post(PATH, json={"name": "A"}, headers=plain_headers)
            keyed = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
            expected = assert_problem(plain, 401)
            assert {**keyed, "request_id": None} == {**expected, "request_id": None}
            keyed_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
            assert keyed_headers["www-authenticate"] == plain.headers["www-authenticate"]
            assert keyed_headers["content-type"] == plain.headers["content-type"]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", spy)
    assert writes == []
    assert await records(app) == []
    # A bad Idempotency-Key does not tell an unknown caller anything either.
    async with make_client(app, "msp_wrong") as wrong:
        assert_problem(await post(wrong, "x" * 300, {"name": "Acme"}), 401)
