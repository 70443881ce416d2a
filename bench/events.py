"""Outbound event throughput: how many deliveries per second the API process's sender
gets through to a local receiver (docs/events.md#delivery).

    python -m bench.events --events 2000 --backend both

For each backend: a fresh database at the current schema, the app with its lifespan (so
its sender runs as in production, in the same event loop as the requests), a receiver
in a separate process (a minimal HTTP/1.1 server answering 204 to every POST, keep-alive)
and one subscription to it. Then `--events` events are written through the outbox in one
transaction, as a burst of changes would write them, and the clock runs from that commit
until the database shows every delivery delivered. Results are in BENCHMARKS.md
("Outbound events").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlmodel import col

from app.core.config import Settings
from app.core.db import create_postgres_database
from app.events import outbox
from app.events.models import DeliveryStatus, EventDelivery, EventSubscription, EventType
from app.main import create_app
from bench.run import ADMIN_KEY
from bench.seed import POSTGRES_URL, reachable_backends, reset, sqlite_url

RECEIVER = """
import asyncio, sys

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 204 No Content\\r\\ncontent-length: 0\\r\\n\\r\\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def database_url(backend: str) -> str:
    if backend == "sqlite":
        return sqlite_url("events")
    url = make_url(POSTGRES_URL)
    return str(url.set(database=f"{url.database}_events"))


async def run(backend: str, events: int, batch: int) -> float:
    url = database_url(backend)
    if backend == "postgresql":
        reason = await create_postgres_database(url)
        assert reason is None, reason
    await reset(url)
    settings = Settings(
        database_url=url,
        admin_api_key=ADMIN_KEY,
        log_json=False,
        events_allow_private=True,
        events_batch_size=batch,
    )
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            maker = app.state.sessionmaker
            async with maker() as session:
                sub = EventSubscription(
                    url=f"http://127.0.0.1:{port}/hook",
                    events=[EventType.audit_completed.value],
                    secret="whsec_" + "A" * 43 + "=",
                )
                session.add(sub)
                await session.commit()
                data = [
                    {"id": n, "period": "2026-11", "summary": {"count": 3, "total_impact": "12.50"}}
                    for n in range(events)
                ]
                written = time.perf_counter()
                await outbox.emit(session, EventType.audit_completed, data)
                await session.commit()
                commit_seconds = time.perf_counter() - written
            started = time.perf_counter()
            while True:
                async with maker() as session:
                    done = await session.scalar(
                        select(func.count())
                        .select_from(EventDelivery)
                        .where(col(EventDelivery.status) == DeliveryStatus.delivered.value)
                    )
                if done == events:
                    break
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - started
    finally:
        receiver.terminate()
        receiver.wait()
    rate = events / seconds
    print(
        f"{backend:10s} batch {batch:3d}: {events} events written in {commit_seconds:.2f} s; "
        f"delivered in {seconds:.2f} s = {rate:.0f} deliveries/s "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    return rate


async def main_async(args: argparse.Namespace) -> None:
    for backend in await reachable_backends(args.backend, "measuring"):
        for batch in args.batch:
            await run(backend, args.events, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--batch", type=int, nargs="+", default=[20, 100])
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
