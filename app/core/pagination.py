"""Cursor pagination for every list: {items, next_cursor}, keyed on the id so it is
stable under inserts (a new row never shifts a page the client already has)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import Invalid, field_error
from app.core.types import MAX_ID

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )


class PageParams(BaseModel):
    limit: int
    cursor: str | None


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500)")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(description="Opaque cursor from the previous page's next_cursor")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


# async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a hop
# that cost more than everything this one does, on every list request.
PageDep = Annotated[PageParams, Depends(page_params)]


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        version, _, value = text.partition(":")
        last_id = int(value)
        if version != "v1" or not 0 <= last_id <= MAX_ID:
            raise ValueError
        # Only the exact text this service issues: base64 decoding skips stray characters
        # and int() reads "+7", " 7", "0_7" and non-ASCII digits such as ٧ or ７, so a
        # cursor that decodes is not yet one that was issued.
        if encode_cursor(last_id) != cursor:
            raise ValueError
        return last_id
    except (ValueError, binascii.Error, UnicodeError):
        raise Invalid(
            "The cursor is not one this service issued.",
            errors=[field_error("query.cursor", "invalid cursor", "cursor_invalid")],
        ) from None


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[Any] | Any,
    params: PageParams,
    to_item: Callable[[Any], T] | None = None,
) -> Page[T]:
    """Run `stmt` (selecting one entity) one page at a time in id order."""
    if params.cursor is not None:
        stmt = stmt.where(id_column > decode_cursor(params.cursor))
    stmt = stmt.order_by(id_column).limit(params.limit + 1)
    rows: Sequence[Any] = (await session.scalars(stmt)).all()
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    items = [to_item(row) if to_item else row for row in rows]
    next_cursor = encode_cursor(rows[-1].id) if more and rows else None
    return Page[T](items=items, next_cursor=next_cursor)
