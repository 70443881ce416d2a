"""HEAD answers wherever GET does: the same status and headers (Content-Length of the GET
body), no body, and the same authentication."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.helpers import assert_problem, customer


def get_paths(app: Any) -> list[str]:
    """Every GET path of the app (the documented ones and the documentation's own),
    path parameters filled with 1."""
    documented = [path for path, ops in app.openapi()["paths"].items() if "get" in ops]
    undocumented = [
        route.path
        for route in app.routes
        if isinstance(route, Route) and "GET" in (route.methods or ()) and "{" not in route.path
    ]
    return sorted({re.sub(r"\{[^}]+\}", "1", path) for path in documented + undocumented})


def comparable(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in {"x-request-id", "date"}}


async def test_every_get_path_answers_head(app: Any, client: httpx.AsyncClient) -> None:
    made = await customer(client)
    paths = get_paths(app) + [f"/api/v1/customers/{made['id']}"]
    assert {"/healthz", "/readyz", "/openapi.json", "/docs", "/api/v1/customers"} <= set(paths)
    statuses = {}
    for path in paths:
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code, (path, head.status_code, get.text)
        assert head.content == b"", path
        assert comparable(head) == comparable(get), path
        assert head.headers["content-length"] == str(len(get.content)), path
        statuses[path] = head.status_code
    assert statuses["/healthz"] == statuses[f"/api/v1/customers/{made['id']}"] == 200
    assert statuses["/openapi.json"] == statuses["/docs"] == 200


async def test_head_needs_a_key_like_get(app: Any, anon: httpx.AsyncClient) -> None:
    for path in [p for p in get_paths(app) if p.startswith("/api/v1/")]:
        get = await anon.get(path)
        head = await anon.head(path)
        assert_problem(get, 401)
        assert head.status_code == 401 and head.content == b"", path
        assert comparable(head) == comparable(get), path
        assert head.headers["www-authenticate"].startswith("Bearer")


async def test_other_methods_are_unchanged(client: httpx.AsyncClient) -> None:
    # A path without GET: HEAD is refused as GET is.
    get = await client.get("/api/v1/quotes/preview")
    head = await client.head("/api/v1/quotes/preview")
    assert get.status_code == head.status_code == 405
    assert comparable(head) == comparable(get)
    assert_problem(await client.put("/api/v1/customers", json={}), 405)
    assert (await client.post("/api/v1/customers", json={"name": "A"})).status_code == 201


async def test_head_is_logged_as_head(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.request"):
        assert (await client.head("/healthz")).status_code == 200
    methods = [getattr(r, "method", None) for r in caplog.records if r.name == "app.request"]
    assert methods == ["HEAD"]
