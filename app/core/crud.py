"""The small steps every resource repeats: fetch or 404, uniqueness and reference checks
that answer 409/422 problems, and PATCH application."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Column, ColumnElement, Select, Table, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import metadata
from app.core.errors import Conflict, Invalid, NotFound, field_error
from app.core.wording import counted

M = TypeVar("M")


async def get_or_404(session: AsyncSession, model: type[M], ident: int, kind: str) -> M:
    obj = await session.get(model, ident)
    if obj is None:
        raise NotFound.of(kind, ident)
    return obj


async def require_reference(
    session: AsyncSession, model: type[Any], ident: int | None, field: str, kind: str
) -> Any:
    """A body field naming another record: a missing one is a 422 on that field."""
    if ident is None:
        return None
    obj = await session.get(model, ident)
    if obj is None:
        raise Invalid(
            f"{kind} {ident} does not exist",
            errors=[field_error(f"body.{field}", f"{kind} {ident} does not exist", "not_found")],
        )
    return obj


async def ensure_unique(
    session: AsyncSession,
    model: type[Any],
    conditions: Sequence[ColumnElement[bool]],
    *,
    exclude_id: int | None,
    field: str,
    message: str,
) -> None:
    stmt = select(model.id).where(*conditions).limit(1)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    if await session.scalar(stmt) is not None:
        raise Conflict(message, errors=[field_error(f"body.{field}", message, "duplicate")])


async def ensure_unique_external_ref(
    session: AsyncSession,
    model: type[Any],
    external_ref: str | None,
    *,
    exclude_id: int | None,
    kind: str,
) -> None:
    """The PSA's id of a record (`external_ref`) names one record at most: a 409."""
    if external_ref is not None:
        await ensure_unique(
            session,
            model,
            [model.external_ref == external_ref],
            exclude_id=exclude_id,
            field="external_ref",
            message=f"external_ref '{external_ref}' is already used by another {kind}.",
        )


def referencing_columns(table: Table) -> list[Column[Any]]:
    """Every column of the schema with a foreign key to `table`, in table order: read off
    the metadata, so a new reference is guarded the day its foreign key is declared."""
    return [
        fk.parent
        for other in metadata.sorted_tables
        for fk in sorted(other.foreign_keys, key=lambda fk: fk.parent.name)
        if fk.column.table is table
    ]


def _plural(table_name: str, count: int) -> str:
    return counted(count, table_name.replace("_", " "))


async def ensure_unreferenced(
    session: AsyncSession, model: type[Any], ident: int, kind: str
) -> None:
    """Deleting something still referenced is a 409 naming what holds it
    (`referenced_by`), never a cascade that loses history. The references are the
    foreign keys to the model's table, counted in one query."""
    table: Table = model.__table__
    columns = referencing_columns(table)
    if not columns:
        return
    counts = (
        await session.execute(
            select(
                *(
                    select(func.count())
                    .select_from(column.table)
                    .where(column == ident)
                    .scalar_subquery()
                    for column in columns
                )
            )
        )
    ).one()
    holders = [
        _plural(str(getattr(column.table, "name", "")), count)
        for column, count in zip(columns, counts, strict=True)
        if count
    ]
    if holders:
        raise Conflict(
            f"{kind} {ident} is still referenced by {', '.join(holders)}; "
            "remove or reassign those first.",
            extra={"referenced_by": holders},
        )


def changes(update: BaseModel, *, required: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets. Explicit null on a field that cannot be empty is a 422."""
    data = update.model_dump(exclude_unset=True)
    bad = [name for name in required if name in data and data[name] is None]
    if bad:
        raise Invalid(
            "Some fields cannot be set to null.",
            errors=[field_error(f"body.{name}", "must not be null", "null") for name in bad],
        )
    return data


def apply(obj: Any, data: dict[str, Any]) -> None:
    for name, value in data.items():
        setattr(obj, name, value)


def search(stmt: Select[Any], columns: Sequence[Any], q: str | None) -> Select[Any]:
    """Case-insensitive substring search over the given columns (the `q` filter)."""
    if not q or not q.strip():
        return stmt
    if "\x00" in q:
        raise Invalid(
            "The search text is not valid.",
            errors=[field_error("query.q", "must not contain NUL characters", "value_error")],
        )
    needle = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{needle}%"
    return stmt.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in columns)))
