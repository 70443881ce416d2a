"""Test fixtures: one migrated database per backend (SQLite file and PostgreSQL), the app
with its lifespan, and HTTP clients. Every test that touches the database runs against
both backends.

The schema comes from `alembic upgrade head`, never create_all. Each test starts from
empty tables: the app commits for real (idempotency records and webhook inboxes run in
their own transactions, and concurrency tests need real commits), so instead of a
rolled-back outer transaction the tables are emptied after each test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from app.core.config import Settings
from app.core.db import create_engine, create_postgres_database
from app.main import create_app
from app.models import metadata

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "msp_test_admin_key_0123456789abcdef"
POSTGRES_URL = os.environ.get(
    "MSP_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/msp_test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
BACKENDS = [
    b.strip() for b in os.environ.get("MSP_TEST_BACKENDS", "sqlite,postgresql").split(",") if b
]

_postgres_skip_reason: list[str] = []


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    return config


async def run_alembic(url: str, action: str, *args: Any) -> None:
    """Alembic's env.py runs its own event loop, so give it a thread."""
    await asyncio.to_thread(getattr(command, action), alembic_config(url), *args)


async def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def database_url_for(backend: str, tmp_dir: Path, name: str) -> str:
    """A fresh, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_dir / (name + '.sqlite3')}"
    url = str(make_url(POSTGRES_URL).set(database=f"{make_url(POSTGRES_URL).database}_{name}"))
    if name == "main":
        url = POSTGRES_URL
    reason = await create_postgres_database(url)
    if reason is not None:
        message = f"PostgreSQL not reachable at {POSTGRES_URL} ({reason})"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires the PostgreSQL run.", pytrace=False)
        if not _postgres_skip_reason:
            _postgres_skip_reason.append(message)
        pytest.skip(f"{message}: the PostgreSQL run was skipped")
    await reset_postgres(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="session")
async def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = await database_url_for(backend, tmp_path_factory.mktemp(backend), "main")
    await run_alembic(url, "upgrade", "head")
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, admin_api_key=ADMIN_KEY, log_json=False)


@pytest_asyncio.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def app_settings(app: Any) -> Iterator[Callable[..., Settings]]:
    """Changes settings of the running app for one test, e.g.
    `app_settings(quickbooks_default_item_id="1")`; they are restored after it (by hand:
    pytest's monkeypatch cannot restore an attribute of Starlette's State)."""
    original: Settings = app.state.settings

    def change(**values: Any) -> Settings:
        changed: Settings = app.state.settings.model_copy(update=values)
        app.state.settings = changed
        return changed

    yield change
    app.state.settings = original


@pytest_asyncio.fixture(scope="session")
async def engine(app: Any) -> AsyncEngine:
    return app.state.engine  # type: ignore[no-any-return]


async def empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{name}"' for name in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await connection.execute(text(f'DELETE FROM "{name}"'))


def make_client(app: Any, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        headers=headers,
    )


@pytest_asyncio.fixture
async def client(app: Any, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client on a database whose tables are empty."""
    async with make_client(app) as http:
        yield http
    await empty_tables(engine)


@pytest_asyncio.fixture
async def anon(app: Any, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a key (shares the emptying of `client`)."""
    async with make_client(app, None) as http:
        yield http


@pytest.fixture
def tmp_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """Name of the backend, for tests that create their own database."""
    yield backend


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _postgres_skip_reason:
        terminalreporter.write_sep(
            "!", "PostgreSQL run SKIPPED: tests ran on SQLite only", yellow=True, bold=True
        )
        terminalreporter.write_line(_postgres_skip_reason[0])
        terminalreporter.write_line(
            "Start PostgreSQL (see README) or set MSP_TEST_POSTGRES_URL to run both backends."
        )
