"""The benchmark's load generator (bench/loadgen.py) reads HTTP/1.1 answers right: a
Content-Length body, a chunked one, `Connection: close`, a timeout; keep-alive
connections are reused; a short run reports what it did, its own CPU time included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bench.loadgen import Pool, fetch, request_bytes, run

HEAD_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path == b"/len":
                writer.write(HEAD_OK + b'content-length: 11\r\n\r\n{"ok":true}')
            elif path == b"/chunked":
                writer.write(
                    b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b'4\r\n{"ok\r\n7;ext=1\r\n":true}\r\n0\r\n\r\n'
                )
            elif path == b"/close":
                writer.write(b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            elif path == b"/slow":
                await asyncio.sleep(1)
                writer.write(HEAD_OK + b"content-length: 0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[int]:
    listening = await asyncio.start_server(_answer, "127.0.0.1", 0)
    port: int = listening.sockets[0].getsockname()[1]
    async with listening:
        yield port


async def test_answers_are_read_and_connections_kept(server: int) -> None:
    pool = Pool("127.0.0.1", server)

    def get(path: str) -> bytes:
        return request_bytes("127.0.0.1", server, "key", path)

    try:
        assert await fetch(pool, get("/len")) == 200
        assert await fetch(pool, get("/chunked")) == 201
        assert await fetch(pool, get("/missing")) == 404
        assert pool.opened == 1  # one keep-alive connection for all three
        assert await fetch(pool, get("/close")) == 503
        assert await fetch(pool, get("/len")) == 200
        assert pool.opened == 2  # the server closed the first: a new one
        with pytest.raises(TimeoutError):
            await fetch(pool, get("/slow"), timeout=0.1)
        assert await fetch(pool, get("/len")) == 200
        assert pool.opened == 3  # the timed-out connection is never reused
    finally:
        pool.close()


async def test_a_short_run_reports_its_figures(server: int) -> None:
    result = await run(
        f"http://127.0.0.1:{server}", "key", ["/len", "/chunked"], 100, 0.2, 8, connections=2
    )
    assert result["requests"] == result["ok"] == 20
    assert result["dropped"] == 0
    assert result["statuses"] == {"200": 10, "201": 10}
    paths = result["paths"]
    assert isinstance(paths, dict) and set(paths) == {"/len", "/chunked"}
    assert isinstance(result["loadgen_cpu_s"], float)


async def test_only_the_local_machine() -> None:
    with pytest.raises(SystemExit):
        await run("http://example.com", "key", ["/"], 1, 1, 1)
