"""Inserting thousands of rows in one statement's time: audit findings, vendor invoice
lines, a billing run's invoice lines.

On PostgreSQL the rows go in with COPY (asyncpg's binary `copy_records_to_table`) on the
session's own connection, so inside its transaction: a rollback removes them like any
other write. A Core executemany sends one Bind/Execute per row and took twice as long
for the 4,369 findings of a 5,000-customer audit (bench/, BENCHMARKS.md). Elsewhere
(SQLite, in-process) a Core executemany is already a tight loop in C.

Values are passed through each column type's bind processing first (exact decimals,
UTC timestamps), exactly as SQLAlchemy does for an INSERT, so both paths store the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession


async def bulk_insert(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, column names of `table`) in the session's
    transaction."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "asyncpg":
        await connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
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
    # SQLAlchemy's asyncpg adapter opens its transaction at the first statement: make sure
    # there was one, so that the COPY is part of the session's transaction.
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=records, columns=columns, schema_name=table.schema
    )
