"""The database cannot serve (down, shutting down, restarting, saturated): a 503 with
Retry-After, whatever layer the failure surfaces in, and every other database error as
before. The mapper is tested with each kind as the driver and SQLAlchemy raise it, then
through HTTP on both backends with the failure injected where connections are made."""

from __future__ import annotations

import errno
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.db import create_sessionmaker
from app.core.errors import ServiceUnavailable, is_unavailable
from tests.conftest import POSTGRES_URL
from tests.helpers import assert_problem

INTERNALS = ("Traceback", "sqlalchemy", "asyncpg", "sqlite", "127.0.0.1", "shutting down")


def shutting_down() -> Exception:
    return asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")


def starting_up() -> Exception:
    return asyncpg.exceptions.CannotConnectNowError("the database system is starting up")


def admin_shutdown() -> Exception:
    return asyncpg.exceptions.AdminShutdownError(
        "terminating connection due to administrator command"
    )


def crash_shutdown() -> Exception:
    return asyncpg.exceptions.CrashShutdownError(
        "terminating connection because of crash of another server process"
    )


def too_many_connections() -> Exception:
    return asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")


def connection_gone() -> Exception:
    return asyncpg.exceptions.ConnectionDoesNotExistError(
        "connection was closed in the middle of operation"
    )


def connection_closed() -> Exception:
    return asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed")


def refused() -> Exception:
    return ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


def reset() -> Exception:
    return ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")


def no_route() -> Exception:
    return OSError(errno.EHOSTUNREACH, "No route to host")


def unknown_host() -> Exception:
    return socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def timed_out() -> Exception:
    return TimeoutError()


KINDS: dict[str, Callable[[], Exception]] = {
    "57P03-shutting-down": shutting_down,
    "57P03-starting-up": starting_up,
    "57P01-admin-shutdown": admin_shutdown,
    "57P02-crash-shutdown": crash_shutdown,
    "53300-too-many-connections": too_many_connections,
    "08003-connection-does-not-exist": connection_gone,
    "interface-connection-closed": connection_closed,
    "connection-refused": refused,
    "connection-reset": reset,
    "no-route": no_route,
    "unknown-host": unknown_host,
    "connect-timeout": timed_out,
}


def failing_engine(url: str, make_error: Callable[[], Exception]) -> Any:
    """An engine whose every new connection fails with make_error(): what a pool meets
    while the server shuts down or restarts."""

    async def connect() -> Any:
        raise make_error()

    return create_async_engine(url, async_creator=connect)


async def raised_on_connect(url: str, make_error: Callable[[], Exception]) -> BaseException:
    engine = failing_engine(url, make_error)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        return exc
    finally:
        await engine.dispose()
    raise AssertionError("the connection did not fail")


# --- the mapper ----------------------------------------------------------------------------


@pytest.mark.parametrize("make_error", KINDS.values(), ids=KINDS.keys())
def test_driver_errors_of_unavailability(make_error: Callable[[], Exception]) -> None:
    assert is_unavailable(make_error())


# No server is contacted: the connection fails before any is made.
DIALECT_URLS = {
    "postgresql": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    "sqlite": "sqlite+aiosqlite:///:memory:",
}


@pytest.mark.parametrize("url", DIALECT_URLS.values(), ids=DIALECT_URLS.keys())
@pytest.mark.parametrize("make_error", KINDS.values(), ids=KINDS.keys())
async def test_unavailability_as_sqlalchemy_raises_it(
    url: str, make_error: Callable[[], Exception]
) -> None:
    """On connect SQLAlchemy wraps a 57P03 as a plain DBAPIError not marked as a
    disconnect: the SQLSTATE of the driver's error underneath decides."""
    raised = await raised_on_connect(url, make_error)
    assert is_unavailable(raised), repr(raised)


def wrapped(cls: type[DBAPIError], driver_error: Exception, *, invalidated: bool = False) -> Any:
    """A SQLAlchemy error around a driver error, as the adapter chains them."""
    adapted = Exception(str(driver_error))
    adapted.__cause__ = driver_error
    return cls("SELECT 1", None, adapted, connection_invalidated=invalidated)


def sqlstate_error(sqlstate: str) -> Exception:
    error = asyncpg.exceptions.PostgresError("from the server")
    error.sqlstate = sqlstate  # type: ignore[attr-defined]
    return error


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(DBAPIError, admin_shutdown()),
        wrapped(DBAPIError, crash_shutdown()),
        wrapped(DBAPIError, shutting_down()),
        wrapped(InterfaceError, connection_gone()),
        wrapped(InterfaceError, connection_closed()),
        wrapped(DBAPIError, RuntimeError("anything"), invalidated=True),
        wrapped(DBAPIError, sqlstate_error("57014")),  # a statement cancelled
        wrapped(DBAPIError, sqlstate_error("08006")),  # connection failure
        OperationalError("SELECT 1", None, Exception("database is locked")),
        PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=lambda exc: repr(exc)[:60],
)
def test_wrapped_errors_of_unavailability(exc: BaseException) -> None:
    assert is_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(IntegrityError, sqlstate_error("23505")),
        wrapped(DataError, sqlstate_error("22003")),
        wrapped(ProgrammingError, sqlstate_error("42P01")),
        wrapped(DBAPIError, sqlstate_error("40001")),  # serialization failure
        wrapped(DBAPIError, sqlstate_error("XX000")),
        wrapped(
            InterfaceError, asyncpg.exceptions.InterfaceError("another operation is in progress")
        ),
        ValueError("a bug"),
        RuntimeError("a bug"),
        OSError("no errno: not the network"),
        KeyError("connection"),
    ],
    ids=lambda exc: repr(exc)[:60],
)
def test_other_errors_are_not_unavailability(exc: BaseException) -> None:
    assert not is_unavailable(exc)


def test_a_bug_while_handling_a_lost_connection_is_still_a_bug() -> None:
    """Only explicit chaining counts: an error raised while handling another is its own."""
    try:
        try:
            raise refused()
        except OSError:
            raise KeyError("unrelated") from None
    except KeyError as exc:
        assert not is_unavailable(exc)


def test_service_unavailable_says_when_to_retry() -> None:
    assert ServiceUnavailable("down").headers == {"Retry-After": "5"}
    assert ServiceUnavailable("down", headers={"Retry-After": "30"}).headers == {
        "Retry-After": "30"
    }


# --- through HTTP --------------------------------------------------------------------------


@pytest_asyncio.fixture
async def connections_fail(
    app: Any, backend: str, tmp_path: Path
) -> AsyncIterator[Callable[[Callable[[], Exception]], None]]:
    """connections_fail(kind) makes every new database connection of the running app fail
    with that kind of error; the real engine comes back at the end of the test."""
    real = (app.state.engine, app.state.sessionmaker)
    url = POSTGRES_URL if backend == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    engines = []

    def fail(make_error: Callable[[], Exception]) -> None:
        engine = failing_engine(url, make_error)
        engines.append(engine)
        app.state.engine, app.state.sessionmaker = engine, create_sessionmaker(engine)

    try:
        yield fail
    finally:
        app.state.engine, app.state.sessionmaker = real
        for engine in engines:
            await engine.dispose()


def assert_unavailable(response: httpx.Response) -> None:
    body = assert_problem(response, 503)
    assert response.headers.get("retry-after") == "5", response.headers
    assert body["type"].endswith(":service-unavailable")
    for word in INTERNALS:
        assert word.lower() not in response.text.lower(), response.text


@pytest.mark.parametrize("make_error", KINDS.values(), ids=KINDS.keys())
async def test_database_shutting_down_is_503(
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    connections_fail: Callable[[Callable[[], Exception]], None],
    make_error: Callable[[], Exception],
) -> None:
    connections_fail(make_error)
    assert_unavailable(await client.get("/api/v1/customers"))
    assert_unavailable(await client.post("/api/v1/customers", json={"name": "Acme"}))
    assert_unavailable(
        await client.post(
            "/api/v1/customers", json={"name": "Acme"}, headers={"Idempotency-Key": "shutdown-1"}
        )
    )
    ready = await anon.get("/readyz")
    assert_problem(ready, 503)
    assert ready.headers.get("retry-after") == "5"
