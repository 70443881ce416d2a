"""Sessions (app/core/db.py): GET requests read on PostgreSQL without a transaction of
their own (no BEGIN, no ROLLBACK) and cannot write; other methods keep one transaction
per request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import WriteInRead, create_sessionmaker, read_sessionmaker, repeatable_reads
from app.customers.models import Customer
from tests.helpers import create


def _driver(connection: AsyncConnection) -> Any:
    """The adapted DBAPI connection under a session's connection."""
    return connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]


async def test_read_sessions_run_in_autocommit(app: Any, backend: str) -> None:
    maker = app.state.sessionmaker
    reader = read_sessionmaker(maker)
    assert read_sessionmaker(maker) is reader  # made once per session factory
    if backend == "sqlite":
        assert reader is maker  # SQLite starts no transaction for a read anyway
        return
    started = text("SELECT transaction_timestamp()")
    async with reader() as session:
        # Each statement is a transaction of its own.
        assert await session.scalar(started) != await session.scalar(started)
        assert _driver(await session.connection()).autocommit
    async with maker() as session:  # the pooled connection is back to its default
        assert await session.scalar(started) == await session.scalar(started)
        assert not _driver(await session.connection()).autocommit


async def test_a_read_session_refuses_to_write(
    app: Any, backend: str, client: httpx.AsyncClient
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite reads use the ordinary sessions")
    await create(client, "customers", {"name": "Kept Ltd"})
    async with read_sessionmaker(app.state.sessionmaker)() as session:
        session.add(Customer(name="Sneaky Ltd"))
        with pytest.raises(WriteInRead):
            await session.flush()
    async with read_sessionmaker(app.state.sessionmaker)() as session:
        with pytest.raises(WriteInRead):
            await session.execute(text("DELETE FROM customer"))
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Customer)) == 1


async def test_reads_and_writes_over_http(client: httpx.AsyncClient) -> None:
    """The same pool serves both kinds of session, one after the other."""
    for n in range(3):
        created = await create(client, "customers", {"name": f"Customer {n}"})
        listed = await client.get("/api/v1/customers")
        assert [c["id"] for c in listed.json()["items"]][-1] == created["id"]
        assert (await client.get(f"/api/v1/customers/{created['id']}")).status_code == 200


async def test_postgresql_connections_run_without_jit(engine: AsyncEngine) -> None:
    """JIT compilation costs more than it saves on this service's statements (app/core/db.py)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    async with engine.connect() as connection:
        assert (await connection.execute(text("SHOW jit"))).scalar() == "off"


async def test_repeatable_reads_for_a_new_transaction_only(engine: AsyncEngine) -> None:
    """An invoice taken in is checked in one state (docs/checks.md#consistency): its
    transaction runs at REPEATABLE READ on PostgreSQL; a session already begun keeps its
    level, and the level does not outlive the transaction on the pooled connection."""
    maker = create_sessionmaker(engine)
    show = text("SHOW transaction_isolation")
    if engine.dialect.name != "postgresql":
        async with maker() as session:
            await repeatable_reads(session)  # nothing to set on SQLite
            assert not session.in_transaction()
        return
    async with maker() as session:
        await repeatable_reads(session)
        assert (await session.execute(show)).scalar() == "repeatable read"
    async with maker() as session:
        assert (await session.execute(show)).scalar() == "read committed"
        await repeatable_reads(session)  # begun already: unchanged
        assert (await session.execute(show)).scalar() == "read committed"
