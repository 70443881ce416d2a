"""Limits and defences: body size (413 problem), security headers, CORS only when
configured, no key in the logs, on both backends."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import ADMIN_KEY, make_client
from tests.helpers import assert_problem


@pytest.fixture
async def small_app(settings: Any, client: httpx.AsyncClient) -> Any:
    """The app with a 2 KiB body limit and one CORS origin, on the test database."""
    app = create_app(
        settings.model_copy(
            update={"max_body_bytes": 2048, "cors_origins": ["https://portal.example"]}
        )
    )
    async with app.router.lifespan_context(app):
        yield app


async def test_a_declared_large_body_is_413(small_app: Any) -> None:
    async with make_client(small_app) as http:
        response = await http.post("/api/v1/customers", json={"name": "x" * 4000})
        assert_problem(response, 413)
        assert response.json()["title"] == "Content Too Large"
        # Nothing stored.
        assert (await http.get("/api/v1/customers")).json()["items"] == []


async def test_a_streamed_large_body_is_413(small_app: Any) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b'{"name": "' + b"y" * 500 + b'"}'

    async with make_client(small_app) as http:
        response = await http.post(
            "/api/v1/customers", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413)
        # Through the idempotency middleware, which buffers bodies, too.
        again = await http.post(
            "/api/v1/customers",
            content=chunks(),
            headers={"content-type": "application/json", "Idempotency-Key": "big-1"},
        )
        assert_problem(again, 413)
        assert (await http.get("/api/v1/customers")).json()["items"] == []


async def test_bodies_under_the_limit_pass(small_app: Any) -> None:
    async with make_client(small_app) as http:
        response = await http.post("/api/v1/customers", json={"name": "Acme"})
        assert response.status_code == 201, response.text


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/customers")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers
    problem = await client.get("/api/v1/nowhere")
    assert problem.headers["x-content-type-options"] == "nosniff"
    # The documentation pages may run their own scripts, from this origin only.
    for page in ("/docs", "/redoc"):
        docs = await client.get(page)
        assert docs.status_code == 200, page
        policy = docs.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy, policy
        assert "http" not in policy and "*" not in policy, policy


async def test_cors_is_off_unless_configured(client: httpx.AsyncClient, small_app: Any) -> None:
    preflight = {
        "Origin": "https://portal.example",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    off = await client.options("/api/v1/customers", headers=preflight)
    assert "access-control-allow-origin" not in off.headers
    simple = await client.get("/api/v1/customers", headers={"Origin": "https://portal.example"})
    assert "access-control-allow-origin" not in simple.headers
    async with make_client(small_app) as http:
        on = await http.options("/api/v1/customers", headers=preflight)
        assert on.status_code == 200
        assert on.headers["access-control-allow-origin"] == "https://portal.example"
        other = await http.get("/api/v1/customers", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_keys_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        created = await client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["read"]})
        key = created.json()["key"]
        async with make_client(client._transport.app, key) as reader:  # type: ignore[attr-defined]
            await reader.get("/api/v1/customers")
        await client.post("/api/v1/vendors", json={"name": "V"})
        async with make_client(client._transport.app, "msp_wrong") as wrong:  # type: ignore[attr-defined]
            await wrong.get("/api/v1/customers")
    text = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for secret in (key, ADMIN_KEY, "msp_wrong", "whsec_"):
        assert secret not in text
