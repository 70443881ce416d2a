"""Bench databases: reset to an empty schema by `alembic upgrade head`, then the generated
rows in bulk (Core `insert(Table)` with a list of rows, in batches), straight into the
database: no HTTP, no ORM objects.

    python -m bench.seed --size M --backend sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from app.core.db import create_engine, create_postgres_database
from app.models import metadata
from bench.generate import SIZES, Dataset, generate

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("MSP_BENCH_DIR", "/tmp/msp_bench"))
POSTGRES_URL = os.environ.get(
    "MSP_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/msp_bench"
)
BATCH = 5_000


def sqlite_url(size: str) -> str:
    return f"sqlite+aiosqlite:///{BENCH_DIR / f'bench-{size}.sqlite3'}"


def database_url(backend: str, size: str) -> str:
    return POSTGRES_URL if backend == "postgresql" else sqlite_url(size)


@dataclass
class LoadReport:
    backend: str
    size: str
    rows: int
    generate_seconds: float
    load_seconds: float
    counts: dict[str, int]


async def postgres_available(url: str = POSTGRES_URL) -> str | None:
    """None when the PostgreSQL server answers (the bench database is created when
    missing); else the reason."""
    name = make_url(url).database
    if name is None or name.startswith("msp_test"):
        return f"refusing to use database {name!r} for the benchmark"
    return await create_postgres_database(url)


async def reachable_backends(choice: str, doing: str) -> list[str]:
    """The backends of `--backend` (postgresql, sqlite or both) that can run: PostgreSQL
    only when it answers, else said so (`doing`: what runs on SQLite alone)."""
    backends = ["postgresql", "sqlite"] if choice == "both" else [choice]
    if "postgresql" in backends:
        reason = await postgres_available()
        if reason:
            print(f"\nPostgreSQL is not reachable ({reason}): {doing} SQLite only.")
            backends.remove("postgresql")
    return backends


async def reset(url: str) -> None:
    """An empty database at the current schema, by the migrations."""
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["database_url"] = url
    config.attributes["configure_logger"] = False
    # env.py runs its own event loop: give it a thread.
    await asyncio.to_thread(command.upgrade, config, "head")


async def bulk_load(engine: AsyncEngine, data: Dataset) -> int:
    """Every generated row, table by table in dependency order, in batches."""
    total = 0
    async with engine.begin() as conn:
        for table in metadata.sorted_tables:
            rows: list[dict[str, Any]] = data.tables.get(table.name, [])
            for start in range(0, len(rows), BATCH):
                await conn.execute(insert(table), rows[start : start + BATCH])
            total += len(rows)
        if engine.dialect.name == "postgresql":
            # Ids were given explicitly: move each sequence past them.
            for table in metadata.sorted_tables:
                if data.tables.get(table.name) and "id" in table.c:
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
    # The state autovacuum keeps a database in service in: fresh statistics, and on
    # PostgreSQL a vacuumed heap (visibility map and hint bits set), so that the first
    # timed requests do not pay for the bulk load's aftermath that later ones and the
    # SQL floor (timed last) would not.
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return total


async def seed(backend: str, size: str, seed_value: int = 42) -> tuple[Dataset, LoadReport]:
    started = time.perf_counter()
    data = generate(SIZES[size], seed_value)
    generated = time.perf_counter()
    url = database_url(backend, size)
    await reset(url)
    engine = create_engine(url)
    try:
        rows = await bulk_load(engine, data)
    finally:
        await engine.dispose()
    loaded = time.perf_counter()
    return data, LoadReport(
        backend=backend,
        size=size,
        rows=rows,
        generate_seconds=generated - started,
        load_seconds=loaded - generated,
        counts=data.counts(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="M")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    if args.backend == "postgresql":
        reason = asyncio.run(postgres_available())
        if reason:
            raise SystemExit(f"PostgreSQL is not reachable: {reason}")
    _data, report = asyncio.run(seed(args.backend, args.size, args.seed))
    print(
        f"{report.backend} {report.size}: {report.rows:,} rows, generated in "
        f"{report.generate_seconds:.1f} s, loaded in {report.load_seconds:.1f} s"
    )
    for name, count in sorted(report.counts.items()):
        print(f"  {name:<28}{count:>10,}")


if __name__ == "__main__":
    main()
