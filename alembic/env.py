"""Alembic environment: async engine, every table from app.models, batch mode on SQLite."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from sqlalchemy.engine import Connection

from alembic import context
from app.core.config import get_settings
from app.core.db import UtcDateTime, create_engine
from app.core.money import ExactDecimal
from app.models import metadata

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    # Tests pass their URL through the config; everyone else uses MSP_DATABASE_URL.
    return str(config.attributes.get("database_url") or get_settings().resolved_database_url)


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    # ExactDecimal is BIGINT on SQLite and NUMERIC on PostgreSQL: compare what it
    # really is on this database.
    if isinstance(metadata_type, ExactDecimal):
        impl = metadata_type.load_dialect_impl(context.dialect)
        return _differs(context, inspected_type, impl)
    return None


def _differs(context: Any, inspected_type: Any, impl: Any) -> bool:
    inspected = inspected_type.compile(dialect=context.dialect).upper()
    expected = impl.compile(dialect=context.dialect).upper()
    return inspected.replace(" ", "") != expected.replace(" ", "")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    if type_ == "type" and isinstance(obj, ExactDecimal):
        # Migrations stay plain SQLAlchemy: what ExactDecimal is on each database.
        return (
            f"sa.Numeric(precision={obj.precision}, scale={obj.scale})"
            '.with_variant(sa.BigInteger(), "sqlite")'
        )
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=compare_type,
        render_item=render_item,
    )


def _run_sync(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch mode rebuilds a table to alter it (copy, drop, rename): with foreign keys
        # enforced, dropping a table that others reference fails. Off for the migration
        # (outside any transaction, where SQLite honours it), checked, then on again.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            connection.commit()
            if broken:
                raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


async def run_async_migrations() -> None:
    engine = create_engine(database_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=database_url().startswith("sqlite"),
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(run_async_migrations())
