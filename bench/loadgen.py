"""Open-loop load generator: GET requests at a fixed rate for a fixed time against a
server on 127.0.0.1, run as its own process so it does not share a CPU core's event loop
with what it measures. Prints one JSON object: latencies (p50/p95/p99/max, ms),
throughput, status counts, per-path figures, and the CPU time the generator itself used.

    python -m bench.loadgen --url http://127.0.0.1:8765 --key KEY --rate 200 --duration 10 \
        /api/v1/customers /api/v1/contracts

Requests are sent on schedule whether or not earlier ones have answered (so a slow
server shows as latency, not as a lower offered rate), with at most --max-in-flight
outstanding (a request due when that many are outstanding is counted as dropped, not
queued); each has a timeout, and the whole run stops by itself.

It shares the machine with the server and the database, so it is kept lean: plain
HTTP/1.1 over keep-alive connections on asyncio protocols (uvloop when installed), each
request's bytes built once, answers parsed only as far as the status, the headers and
the body's length. --connections keep-alive connections are opened and warmed before the
clock starts and used in turn (the least recently used first), as many clients would;
more are opened when all are busy, up to --max-in-flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import cast
from urllib.parse import urlsplit

TIMEOUT_S = 5.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, int(round(fraction * len(values) + 0.5)) - 1))
    return values[rank]


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ProtocolError(Exception):
    """The server answered something that is not HTTP/1.1 as this client reads it."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time (no pipelining).

    `request()` writes the request and waits for the whole answer: the status line,
    the headers, then a Content-Length body or a chunked one. Returns the status and
    whether the connection may be used again."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False
        # The answer being read: status, whether to keep the connection, where the
        # body starts, its length (None: chunked), and how far chunked parsing got.
        self._status = 0
        self._keep = True
        self._body_at = -1
        self._length: int | None = None
        self._chunk_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionResetError("the server closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        try:
            done = self._parse()
        except (ProtocolError, ValueError) as exc:
            self.waiter.set_exception(ProtocolError(str(exc)))
            return
        if done:
            self.waiter.set_result((self._status, self._keep))

    def _parse(self) -> bool:
        buffer = self.buffer
        if self._body_at < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            head = bytes(buffer[:end]).split(b"\r\n")
            status_line = head[0]
            if not status_line.startswith(b"HTTP/1."):
                raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
            self._status = int(status_line[9:12])
            self._keep = status_line.startswith(b"HTTP/1.1")
            self._length = 0
            chunked = False
            for line in head[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    self._length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection":
                    token = value.strip().lower()
                    self._keep = token != b"close" and (self._keep or token == b"keep-alive")
            if chunked:
                self._length = None
            self._body_at = self._chunk_at = end + 4
        if self._length is not None:
            if len(buffer) - self._body_at < self._length:
                return False
            self._consume(self._body_at + self._length)
            return True
        # Chunked: hex size, CRLF, data, CRLF; a zero size, trailers, CRLF ends it.
        while True:
            line_end = buffer.find(b"\r\n", self._chunk_at)
            if line_end < 0:
                return False
            size = int(bytes(buffer[self._chunk_at : line_end]).split(b";")[0], 16)
            if size == 0:
                end = buffer.find(b"\r\n\r\n", line_end)
                if end < 0:
                    return False
                self._consume(end + 4)
                return True
            if len(buffer) < line_end + 2 + size + 2:
                return False
            self._chunk_at = line_end + 2 + size + 2

    def _consume(self, upto: int) -> None:
        del self.buffer[:upto]
        self._body_at = -1

    async def request(self, payload: bytes) -> tuple[int, bool]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


class Pool:
    """Keep-alive connections to one host, the least recently used taken first."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: deque[_Connection] = deque()
        self.opened = 0

    async def take(self) -> _Connection:
        while self.idle:
            connection = self.idle.popleft()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _transport, connection = await loop.create_connection(_Connection, self.host, self.port)
        self.opened += 1
        return connection

    def give_back(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not connection.closed:
            self.idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        while self.idle:
            self.idle.popleft().close()


def request_bytes(host: str, port: int, key: str, path: str) -> bytes:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {key}\r\n"
        "Accept: application/json\r\nUser-Agent: msp-bench-loadgen\r\n\r\n"
    ).encode("latin-1")


async def fetch(pool: Pool, payload: bytes, timeout: float = TIMEOUT_S) -> int:
    """One GET: its status. Raises on a timeout, a refused or reset connection, or an
    answer that is not HTTP (the connection is then dropped, never reused)."""
    connection: _Connection | None = None
    reusable = False
    try:
        async with asyncio.timeout(timeout):
            connection = await pool.take()
            status, reusable = await connection.request(payload)
        return status
    finally:
        if connection is not None:
            pool.give_back(connection, reusable)


async def run(
    url: str,
    key: str,
    paths: list[str],
    rate: float,
    duration: float,
    max_in_flight: int,
    connections: int = 16,
) -> dict[str, object]:
    parts = urlsplit(url)
    host = parts.hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only targets the local machine")
    port = parts.port or 80
    payloads = {path: request_bytes(host, port, key, path) for path in paths}
    total = int(rate * duration)
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {path: [] for path in paths}
    statuses: Counter[str] = Counter()
    dropped = 0
    in_flight = 0
    pool = Pool(host, port)

    # Open and warm the connections and the server's caches; not measured.
    warm = [await pool.take() for _ in range(max(1, min(connections, max_in_flight)))]
    for index, connection in enumerate(warm):
        _status, reusable = await connection.request(payloads[paths[index % len(paths)]])
        pool.give_back(connection, reusable)
    for path in paths:
        await fetch(pool, payloads[path])

    perf_counter = time.perf_counter

    async def one(path: str) -> None:
        nonlocal in_flight
        began = perf_counter()
        try:
            status = await fetch(pool, payloads[path])
            statuses[str(status)] += 1
        except TimeoutError:
            statuses["Timeout"] += 1
        except (OSError, ProtocolError, EOFError) as exc:
            statuses[type(exc).__name__] += 1
        finally:
            elapsed_ms = (perf_counter() - began) * 1000
            latencies.append(elapsed_ms)
            by_path[path].append(elapsed_ms)
            in_flight -= 1

    tasks: set[asyncio.Task[None]] = set()
    cpu_started = cpu_seconds()
    started = perf_counter()
    for index in range(total):
        due = started + index / rate
        delay = due - perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if in_flight >= max_in_flight:
            dropped += 1  # the server is that far behind: count it, don't queue
            continue
        in_flight += 1
        task = asyncio.create_task(one(paths[index % len(paths)]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_for = perf_counter() - started
    if tasks:
        await asyncio.wait(tasks, timeout=TIMEOUT_S + 25)
    elapsed = perf_counter() - started
    cpu_used = cpu_seconds() - cpu_started
    pool.close()
    latencies.sort()
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return {
        "offered_rate": rate,
        "duration_s": round(sent_for, 3),
        "requests": len(latencies),
        "ok": ok,
        "dropped": dropped,
        "statuses": dict(statuses),
        "throughput_rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "connections": pool.opened,
        "loadgen_cpu_s": round(cpu_used, 3),
        "loadgen_cpu_ms_per_request": round(1000 * cpu_used / max(1, len(latencies)), 3),
        "paths": {
            path: {
                "n": len(values),
                "p50_ms": round(percentile(sorted(values), 0.50), 2),
                "p99_ms": round(percentile(sorted(values), 0.99), 2),
            }
            for path, values in by_path.items()
        },
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop (installed with uvicorn[standard]) when present: less CPU per request."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections opened up front"
    )
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    if not 0 < args.rate <= 5_000 or not 0 < args.duration <= 600:
        raise SystemExit("rate must be in (0, 5000] and duration in (0, 600] seconds")
    if not 1 <= args.max_in_flight <= 1_000 or not 1 <= args.connections <= 1_000:
        raise SystemExit("--max-in-flight and --connections must be in [1, 1000]")
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        result = runner.run(
            run(
                args.url,
                args.key,
                args.paths,
                args.rate,
                args.duration,
                args.max_in_flight,
                args.connections,
            )
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
