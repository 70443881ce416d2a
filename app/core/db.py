"""The async engine, one session per request, and the shared metadata naming convention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from weakref import WeakKeyDictionary

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Constraint names Alembic can address later (ARCHITECTURE: naming_convention).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
metadata = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are aware UTC on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside a writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLite's lower() folds ASCII only; searches must find "Überall" as PostgreSQL does.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _drop_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """On checkout, replace a pooled connection that is already known to be closed.

    PostgreSQL closing a connection (a restart, pg_terminate_backend, an idle timeout)
    reaches asyncpg as end of file on its socket, which the event loop reads at once:
    the connection then says it is closed, without a round trip. Raising
    DisconnectionError makes the pool drop it and check out another (SQLAlchemy's
    documented checkout-event recipe). A connection that dies unnoticed (the server has
    not closed it yet) fails its first statement instead: SQLAlchemy invalidates it and
    every older pooled connection ("optimistic" disconnect handling); a read then runs
    once more on a new connection (app/core/routing.py), a write answers 503 and stores
    nothing. This replaces pool_pre_ping, which spent three round trips (BEGIN, a ping,
    ROLLBACK) on every checkout, for every request.
    """
    connection = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


def create_engine(url: str, *, echo: bool = False, pool_size: int = 20) -> AsyncEngine:
    # Statement parameters hold secrets (webhook secrets, key hashes): never in logs or
    # error messages, even with echo on. aiosqlite's DEBUG lines would print them too.
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # A steady pool, no overflow: a connection PostgreSQL has to fork and asyncpg has
        # to set up costs CPU on each side, so a burst beyond the pool waits
        # for a connection (an asyncio wait, up to pool_timeout) rather than opening
        # connections that would be closed again on return, which made bursts worse on a
        # busy machine. Last-in first-out keeps the connections in use, and their prepared
        # statements, few and warm; those left idle at the bottom are replaced after
        # half an hour (no round trip), before a firewall or NAT drops them unseen.
        # READ COMMITTED is set, not inherited from the server's defaults: GET sessions
        # run in autocommit (read_sessionmaker), which is the same only at this level.
        # JIT compilation off: this service's heaviest statements (a month's contract
        # positions, vendor positions, a year's report) are short enough that compiling
        # them costs more than it saves (BENCHMARKS.md#figures-behind-design-choices).
        kwargs.update(
            pool_size=pool_size,
            max_overflow=0,
            pool_use_lifo=True,
            pool_recycle=1800,
            isolation_level="READ COMMITTED",
            connect_args={"server_settings": {"jit": "off"}},
        )
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # The engine travels in the sessions' info, so that a service holding a request's
    # session can open a snapshot beside it (snapshot_of).
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, info={"engine": engine}
    )


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A read-only session on a connection of its own whose every query sees one
    consistent state of the database, whatever commits meanwhile: a REPEATABLE READ READ
    ONLY transaction on PostgreSQL (its snapshot is taken at the first query), an explicit
    read transaction on SQLite (WAL keeps its snapshot from the first read until it
    ends). For work that reads in several queries and relies on them agreeing (audits and
    reports: invoices of the month read in one query and looked up after later ones must
    not vanish or appear in between). Rolled back at the end; nothing is written.

    The connection is taken when the block starts: open it before the request's own
    session has used a connection, so that a request holds one pooled connection at a
    time (a burst of such requests cannot starve the pool)."""
    async with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            # pysqlite begins a transaction only before a write; BEGIN makes the reads
            # one transaction (deferred: it takes no lock until its first read).
            await connection.exec_driver_sql("BEGIN")
        session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
        try:
            yield session
        finally:
            await session.close()
            await connection.rollback()


async def repeatable_reads(session: AsyncSession) -> None:
    """On PostgreSQL, run the session's coming transaction at REPEATABLE READ: its reads see
    the state of its first statement and its own writes, whatever commits meanwhile. For a
    write that reads in several statements after writing (an invoice taken in and checked,
    docs/checks.md#consistency) and updates no row another transaction may update (which
    would end in a serialization failure). Does nothing once the session has begun (it
    keeps its level), nor on SQLite, where a write transaction holds the one write lock and
    reads its own state."""
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def snapshot_of(session: AsyncSession) -> AsyncEngine:
    """The engine behind a request's session, to open a snapshot beside it."""
    engine = session.info.get("engine")
    if isinstance(engine, AsyncEngine):
        return engine
    bind = session.bind
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session is not bound to an engine")
    return bind


class WriteInRead(RuntimeError):
    """A GET tried to write: a bug (answered 500), never stored."""


READ_METHODS = frozenset({"GET", "HEAD"})  # requests that only read (read_sessionmaker)
# Statements that write or change the schema, by their first word. A tripwire against
# a GET that writes by mistake, not a parser: a write inside a CTE (WITH ... INSERT) or
# a function call is not seen; reviews and tests are the guarantee.
_WRITES = (
    "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY",
    "CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "LOCK",
)  # fmt: skip
_Maker = async_sessionmaker[AsyncSession]
_READERS: WeakKeyDictionary[_Maker, _Maker] = WeakKeyDictionary()


def _refuse_writes(
    _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
) -> None:
    if (context is not None and (context.isinsert or context.isupdate or context.isdelete)) or (
        statement.lstrip()[:8].upper().startswith(_WRITES)
    ):
        raise WriteInRead("a read-only (GET) request tried to write to the database")


def read_sessionmaker(maker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for GET requests. On PostgreSQL their connections run in autocommit: no
    BEGIN before the first query and no ROLLBACK after the last, two round trips of the
    three a one-query GET made. Reads see what they saw before: under READ COMMITTED (the
    default, and this service sets no other) each statement takes its own snapshot inside
    a transaction as well (the engine sets that level, create_engine). Writes are refused
    (WriteInRead) rather than committed one statement at a time. What needs a
    transaction cannot run here: a GET that must see one snapshot across its statements,
    or stream with a server-side cursor, takes `app.state.sessionmaker` itself. SQLite
    starts no transaction for a read anyway: unchanged."""
    reader = _READERS.get(maker)
    if reader is None:
        reader = maker
        bind = maker.kw.get("bind")
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            engine = bind.execution_options(isolation_level="AUTOCOMMIT")
            event.listen(engine.sync_engine, "before_cursor_execute", _refuse_writes)
            options = {name: value for name, value in maker.kw.items() if name != "bind"}
            reader = async_sessionmaker(engine, class_=maker.class_, **options)
        _READERS[maker] = reader
    return reader


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, and the request owns its transaction: services flush and
    never commit; the route commits once the endpoint has returned a success
    (app/core/routing.py), and anything else is rolled back when the session closes, so a
    failure stores nothing (docs/consistency.md#writes). GET and HEAD only read
    (read_sessionmaker)."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    if request.method in READ_METHODS:
        maker = read_sessionmaker(maker)
    async with maker() as session:
        if request.method not in READ_METHODS:
            request.state.write_session = session
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_snapshot_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session that sees one consistent state for the whole request (reports
    that read in several queries; see `snapshot`)."""
    async with snapshot(request.app.state.engine) as session:
        yield session


SnapshotSessionDep = Annotated[AsyncSession, Depends(get_snapshot_session)]


async def create_postgres_database(url: str) -> str | None:
    """Make sure the PostgreSQL database of `url` exists, creating it when missing (for
    the test suite and the benchmark; the service itself never creates databases).
    None when the server answers; else why it could not be reached."""
    import asyncpg

    server = make_url(url)
    try:
        conn = await asyncio.wait_for(
            asyncpg.connect(
                host=server.host,
                port=server.port or 5432,
                user=server.username,
                password=server.password,
                database="postgres",
            ),
            timeout=5,
        )
    except Exception as exc:  # any failure to connect means: no PostgreSQL here
        return f"{type(exc).__name__}: {exc}"
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", server.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{server.database}"')
    finally:
        await conn.close()
    return None


# --- SQLite index hints ------------------------------------------------------------------------


def _sqlite_from_hint(self: SQLiteCompiler, table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy's SQLite compiler renders no table hints; SQLite takes INDEXED BY after a table
# name. Only statements that ask for one (indexed_by) carry a hint.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign,assignment]


SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]


def indexed_by(stmt: SelectT, table: Any, index: str) -> SelectT:
    """`stmt` reading `table` through `index` on SQLite (INDEXED BY): where SQLite's
    planner, with no statistics, would rather drive a join from a small table through a
    broad index (docs/vendor-bills.md#reading-lines-by-charge-date). Other databases plan on their
    own."""
    return stmt.with_hint(table, f"INDEXED BY {index}", "sqlite")
