"""Idempotency-Key on creates (SPEC section 2): replay, reuse with another body, in-progress
retries, scoping to API key and path, expiry, and what is never stored."""

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
