"""Inserting thousands of rows in one statement's time: audit findings, vendor invoice
lines, a billing run's invoice lines.

On PostgreSQL the rows go in with COPY (asyncpg's binary `copy_records_to_table`) on the
session's own connection, so inside its transaction: a rollback removes them like any
other write. A Core executemany sends one Bind/Execute per row, which is much slower for
the thousands of findings of a large audit (BENCHMARKS.md#figures-behind-design-choices).
Elsewhere (SQLite, in-process) a Core executemany is already a tight loop in C.

The COPY path behaves as an INSERT would:
- values pass through each column type's bind processing first (exact decimals, UTC
  timestamps), so both paths store the same;
- the driver's errors become SQLAlchemy's (IntegrityError, DataError, and a lost
  connection as an invalidated OperationalError), so a constraint a concurrent request
  broke is a 409, a value out of range a 422 and a dead database a 503, as for any
  other statement (app/core/errors.py, app/core/logging.py);
- Python-side column defaults are not applied by COPY, so rows must carry those
  columns, on both databases alike (a ValueError, a programming error, otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import Table, insert, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


async def bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, column names of `table`) in the session's
    transaction."""
    if not rows:
        return
    columns = list(rows[0])
    missing = sorted(
        c.name for c in table.columns if c.default is not None and c.name not in rows[0]
    )
    if missing:
        raise ValueError(f"bulk_insert into {table.name}: rows must carry {', '.join(missing)}")
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg":
        await connection.execute(insert(table), rows)
        return
    processors = [
        (index, process)
        for index, name in enumerate(columns)
        if (process := table.c[name].type.bind_processor(dialect)) is not None
    ]
    records: list[tuple[Any, ...]] = []
    for row in rows:
        values = [row[name] for name in columns]
        for index, process in processors:
            if values[index] is not None:
                values[index] = process(values[index])
        records.append(tuple(values))
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's asyncpg adapter opens its transaction at the first statement.
        await connection.execute(text("SELECT 1"))
    if not driver.is_in_transaction():  # an autocommit (read) session: never write there
        raise RuntimeError(f"bulk_insert into {table.name} outside a transaction")
    try:
        await driver.copy_records_to_table(
            table.name, records=records, columns=columns, schema_name=table.schema
        )
    except asyncpg.IntegrityConstraintViolationError as error:
        raise sa_exc.IntegrityError(f"COPY {table.name}", None, error) from error
    except asyncpg.DataError as error:
        raise sa_exc.DataError(f"COPY {table.name}", None, error) from error
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError) as error:
        await _invalidate(connection, error)
        raise sa_exc.OperationalError(
            f"COPY {table.name}", None, error, connection_invalidated=True
        ) from error


async def _invalidate(connection: AsyncConnection, error: BaseException) -> None:
    """Drop the pooled connection that failed under the COPY, as SQLAlchemy does for a
    statement that loses its connection."""
    try:
        await connection.invalidate(error if isinstance(error, Exception) else None)
    except Exception:  # already gone: nothing more to drop
        pass


T = TypeVar("T")


def chunks(items: Sequence[T], size: int = 1_000) -> list[list[T]]:
    """`items` in lists of at most `size`: for IN lists a statement can bind at once."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]
