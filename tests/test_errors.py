"""Problem details, request ids, the last-resort handler, logs and probes
(docs/README.md#errors)."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.logging import JsonFormatter
from app.main import create_app
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import assert_problem

UNREACHABLE_DB = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


async def test_healthz_and_readyz(anon: httpx.AsyncClient) -> None:
    health = await anon.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = await anon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    assert body["type"].startswith("urn:msp-ledger:problem:")
    assert_problem(await client.get("/nowhere"), 404)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/customers", json={})
    body = assert_problem(response, 405)
    assert "PUT" in body["detail"]
    assert response.headers["allow"] == "GET, POST"
    one = await client.put("/api/v1/customers/1", json={})
    assert_problem(one, 405)
    assert one.headers["allow"] == "GET, PATCH, DELETE"


async def test_malformed_json_is_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/customers",
        content=b'{"name": "Acme',
        headers={"content-type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert body["errors"] and body["errors"][0]["field"].startswith("body")
    assert (await client.get("/api/v1/customers")).json()["items"] == []


async def test_validation_errors_name_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/customers", json={"name": 7, "active": "maybe"})
    body = assert_problem(response, 422)
    assert body["detail"]
    fields = {error["field"] for error in body["errors"]}
    assert {"body.name", "body.active"} <= fields
    for error in body["errors"]:
        assert set(error) == {"field", "message", "type"}
        assert not error["message"].startswith("Value error")
    blank = assert_problem(await client.post("/api/v1/customers", json={"name": " "}), 422)
    assert blank["errors"][0] == {
        "field": "body.name",
        "message": "must not be blank",
        "type": "value_error",
    }
    query = assert_problem(await client.get("/api/v1/customers", params={"limit": "x"}), 422)
    assert query["errors"][0]["field"] == "query.limit"


async def test_unexpected_exception_is_500_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    async with app.router.lifespan_context(app), make_client(app) as http:
        response = await http.get("/api/v1/boom", headers={"X-Request-ID": "trace-500"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "trace-500" == response.headers["x-request-id"]
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert "Traceback" not in response.text


async def test_request_id_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/api/v1/customers", headers={"X-Request-ID": "abc-123.x_y"})
    assert given.headers["x-request-id"] == "abc-123.x_y"
    made = await client.get("/api/v1/customers")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert made.headers["x-request-id"] != (await client.get("/healthz")).headers["x-request-id"]
    # A header that could smuggle text into logs is replaced, not echoed.
    unsafe = await client.get("/api/v1/customers", headers={"X-Request-ID": "a b\tc"})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
    problem = await client.get("/api/v1/customers/999999", headers={"X-Request-ID": "rid-404"})
    assert assert_problem(problem, 404)["request_id"] == "rid-404"


@pytest.fixture
async def unreachable_app(settings: Settings) -> Any:
    """An app whose database went away after it started. (The lifespan itself touches the
    database at start-up, so the state is set up by hand.)"""
    down = settings.model_copy(update={"database_url": UNREACHABLE_DB})
    app = create_app(down)
    engine = create_engine(down.resolved_database_url)
    app.state.settings = down
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    yield app
    await engine.dispose()


async def test_unreachable_database_is_503(unreachable_app: Any) -> None:
    async with make_client(unreachable_app, None) as anon:
        assert (await anon.get("/healthz")).status_code == 200
        ready = await anon.get("/readyz")
    assert_problem(ready, 503)
    async with make_client(unreachable_app, ADMIN_KEY) as http:
        listed = await http.get("/api/v1/customers", headers={"X-Request-ID": "db-down"})
        body = assert_problem(listed, 503)
        assert body["request_id"] == "db-down"
        assert "nowhere" not in listed.text and "127.0.0.1" not in listed.text
        assert listed.headers.get("retry-after")
        created = await http.post(
            "/api/v1/customers", json={"name": "A"}, headers={"Idempotency-Key": "k1"}
        )
        assert_problem(created, 503)
    # A stored key needs the database to be checked: still 503, never 500.
    async with make_client(unreachable_app, "msp_some_stored_key") as stored:
        assert_problem(await stored.get("/api/v1/customers"), 503)


async def test_json_logs_carry_the_request_id(client: httpx.AsyncClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    request_logger = logging.getLogger("app.request")
    old_level = request_logger.level
    request_logger.addHandler(handler)
    request_logger.setLevel(logging.INFO)
    try:
        await client.get("/api/v1/customers", headers={"X-Request-ID": "log-me-1"})
    finally:
        request_logger.removeHandler(handler)
        request_logger.setLevel(old_level)
    lines = [line for line in stream.getvalue().splitlines() if line]
    assert lines
    entries = [json.loads(line) for line in lines]  # one JSON object per line
    access = [e for e in entries if e.get("request_id") == "log-me-1"]
    assert access, entries
    entry = access[-1]
    assert entry["method"] == "GET" and entry["path"] == "/api/v1/customers"
    assert entry["status"] == 200 and entry["level"] == "INFO"
    assert isinstance(entry["duration_ms"], float | int)
    assert ADMIN_KEY not in stream.getvalue()


def test_json_formatter_outside_a_request() -> None:
    record = logging.LogRecord("app.test", logging.ERROR, __file__, 1, "a\nb %s", ("x",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "a\nb x" and entry["level"] == "ERROR"
    assert "request_id" not in entry


async def test_exhausted_pool_is_503(settings: Settings) -> None:
    app = create_app(settings)
    engine = create_async_engine(
        settings.resolved_database_url, pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    try:
        async with engine.connect(), make_client(app) as http:
            response = await http.get("/api/v1/customers")
    finally:
        await engine.dispose()
    assert_problem(response, 503)
    assert response.headers.get("retry-after")
