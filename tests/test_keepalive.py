"""Through a real uvicorn server and a raw HTTP/1.1 keep-alive connection: an idempotent
retry sent the moment the first answer arrives replays that answer (the record is stored
before the answer leaves), and HEAD answers on the same connection without a body."""

from __future__ import annotations

import asyncio
import http.client
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.conftest import ADMIN_KEY
from tests.live_server import running_server

PATH = "/api/v1/customers"
PAIRS = 60


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    content = response.read()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, content)


def back_to_back_pairs(port: int, pairs: int) -> list[tuple[Answer, Answer]]:
    """POST, then the same POST the moment the answer is read, on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.connect()
    first_socket = connection.sock
    answers = []
    try:
        for number in range(pairs):
            body = json.dumps({"name": f"Keep-alive {number}"}).encode()
            headers = {
                "Authorization": f"Bearer {ADMIN_KEY}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"keep-alive-{number}",
            }
            first = exchange(connection, "POST", PATH, body, headers)
            again = exchange(connection, "POST", PATH, body, headers)
            answers.append((first, again))
        # http.client reconnects silently when the server closes: prove it never did.
        assert connection.sock is first_socket
    finally:
        connection.close()
    return answers


@pytest.mark.parametrize("http_impl", ["h11", "httptools"])
async def test_back_to_back_retry_replays_on_one_connection(
    settings: Settings, client: httpx.AsyncClient, http_impl: str
) -> None:
    with running_server(settings, http_impl) as port:
        answers = await asyncio.to_thread(back_to_back_pairs, port, PAIRS)
    statuses = [again.status for _, again in answers]
    assert statuses.count(409) == 0, f"{statuses.count(409)} of {PAIRS} retries were 409"
    for first, again in answers:
        assert first.status == 201, first.body
        assert "idempotent-replayed" not in first.headers
        assert first.headers["content-length"] == str(len(first.body))
        assert first.headers["x-request-id"]
        assert again.status == 201, again.body
        assert again.headers["idempotent-replayed"] == "true"
        assert again.body == first.body
    ids = {json.loads(first.body)["id"] for first, _ in answers}
    assert len(ids) == PAIRS
    listed = await client.get(PATH, params={"limit": 100})
    assert len(listed.json()["items"]) == PAIRS


def head_then_get(port: int) -> list[tuple[Answer, Answer]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    answers = []
    try:
        for path, headers in (
            ("/healthz", {}),
            ("/readyz", {}),
            ("/openapi.json", {}),
            (PATH, auth),
            (PATH, {}),
            (f"{PATH}/999999", auth),
        ):
            head = exchange(connection, "HEAD", path, headers=headers)
            get = exchange(connection, "GET", path, headers=headers)
            answers.append((head, get))
    finally:
        connection.close()
    return answers


def comparable(headers: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in headers.items() if k not in {"x-request-id", "date"}}


async def test_head_on_a_real_connection(settings: Settings, client: httpx.AsyncClient) -> None:
    with running_server(settings, "httptools") as port:
        answers = await asyncio.to_thread(head_then_get, port)
    for head, get in answers:
        assert head.status == get.status, (head, get)
        assert head.body == b""
        assert comparable(head.headers) == comparable(get.headers)
        assert int(head.headers["content-length"]) == len(get.body) > 0
    assert [head.status for head, _ in answers] == [200, 200, 200, 200, 401, 404]
