"""Cursor pagination for every list: {items, next_cursor}, keyed on a unique sort key so it
is stable under inserts (a new row never shifts a page the client already has), the one
cursor codec every list uses, and the RFC 8288 `Link: <...>; rel="next"` header of a
page that has a next one (docs/README.md#lists-and-cursors)."""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from starlette.datastructures import URL

from app.core.errors import Invalid, field_error
from app.core.periods import Period
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


# --- the cursor codec ------------------------------------------------------------------------


def _id(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_ID:
        raise ValueError
    return value


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError
    return value


# What a cursor may carry: each kind's reader from text (str() writes it). A reader may
# accept more than str() writes (int() reads "+7", " 7", "0_7" and non-ASCII digits);
# `Cursor.decode` refuses those by writing the value again.
_READERS: dict[type, Callable[[str], Any]] = {int: _id, Decimal: _decimal, Period: Period.parse}


class Cursor:
    """A cursor format: a version tag and a small tuple of typed values (ids, Decimals,
    periods), written "tag:value:value" in URL-safe base64 without padding. Only exactly
    what `encode` issues decodes; anything else is the 422 problem of an invalid cursor."""

    __slots__ = ("kinds", "tag")

    def __init__(self, tag: str, *kinds: type) -> None:
        assert ":" not in tag and kinds and all(kind in _READERS for kind in kinds)
        self.tag = tag
        self.kinds = kinds

    def encode(self, *values: Any) -> str:
        text = ":".join([self.tag, *(str(value) for value in values)])
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> tuple[Any, ...]:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            tag, *parts = base64.urlsafe_b64decode(padded.encode("ascii")).decode().split(":")
            if tag != self.tag or len(parts) != len(self.kinds):
                raise ValueError
            values = tuple(
                _READERS[kind](part) for kind, part in zip(self.kinds, parts, strict=True)
            )
            # Only the exact text this service issues: base64 decoding skips stray
            # characters, and the readers accept more than str() writes.
            if self.encode(*values) != cursor:
                raise ValueError
            return values
        except (ValueError, binascii.Error, UnicodeError, ArithmeticError):
            raise Invalid(
                "The cursor is not one this service issued.",
                errors=[field_error("query.cursor", "invalid cursor", "cursor_invalid")],
            ) from None


ID_CURSOR = Cursor("v1", int)  # lists in id order: the last id given


def encode_cursor(last_id: int) -> str:
    return ID_CURSOR.encode(last_id)


def decode_cursor(cursor: str) -> int:
    (last_id,) = ID_CURSOR.decode(cursor)
    return int(last_id)


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[Any] | Any,
    params: PageParams,
    to_item: Callable[[Any], T] | None = None,
    *,
    cursor: Cursor = ID_CURSOR,
    key: Callable[[Any], Any] = lambda row: row.id,
    bound: Callable[[Any], Any] = lambda value: value,
) -> Page[T]:
    """Run `stmt` (selecting one entity) one page at a time in the order of `id_column`,
    a unique key: by default the id. Otherwise `cursor` is the key's format, `key` gives a
    row's key value and `bound` turns a decoded value into what the column compares to."""
    if params.cursor is not None:
        (after,) = cursor.decode(params.cursor)
        stmt = stmt.where(id_column > bound(after))
    stmt = stmt.order_by(id_column).limit(params.limit + 1)
    rows: Sequence[Any] = (await session.scalars(stmt)).all()
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    items = [to_item(row) if to_item else row for row in rows]
    next_cursor = cursor.encode(key(rows[-1])) if more and rows else None
    return Page[T](items=items, next_cursor=next_cursor)


# --- the Link header -------------------------------------------------------------------------

# Set by the route (app/core/routing.py) around a list endpoint's call: the endpoint's
# answer puts its next_cursor here, and the route turns it into the Link header.
_next_cursors: ContextVar[list[str | None] | None] = ContextVar("next_cursors", default=None)


def is_page(model: Any) -> bool:
    """A list's answer: a model with a `next_cursor` (Page[T], or a list of another shape)."""
    return (
        isinstance(model, type)
        and issubclass(model, BaseModel)
        and ("next_cursor" in model.model_fields)
    )


def recording_next_cursor(
    endpoint: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    """The list endpoint, telling the route the next_cursor of what it answers. Its
    signature stays the endpoint's (functools.wraps), so FastAPI reads the same
    parameters."""
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"list endpoint {endpoint.__name__} must be `async def`")

    @functools.wraps(endpoint)
    async def endpoint_recording_next_cursor(*args: Any, **kwargs: Any) -> Any:
        answer = await endpoint(*args, **kwargs)
        cursors = _next_cursors.get()
        if cursors is not None:
            cursors.append(getattr(answer, "next_cursor", None))
        return answer

    return endpoint_recording_next_cursor


class NextCursor:
    """Around one call of a list endpoint: `with NextCursor() as found: ...`, then
    `found.cursor` is the next_cursor it answered (None on the last page)."""

    __slots__ = ("_cursors", "_token")

    def __enter__(self) -> NextCursor:
        self._cursors: list[str | None] = []
        self._token = _next_cursors.set(self._cursors)
        return self

    def __exit__(self, *exc: object) -> None:
        _next_cursors.reset(self._token)

    @property
    def cursor(self) -> str | None:
        return self._cursors[-1] if self._cursors else None


# How a list's 200 answer documents the header (OpenAPI).
NEXT_LINK_HEADER = {
    "description": 'When there is a next page: `<its URL>; rel="next"` (RFC 8288), the '
    "request's URL with the same query parameters and `cursor` set to `next_cursor`.",
    "schema": {"type": "string"},
}


def next_link(url: URL, cursor: str) -> str:
    """RFC 8288: the URL of the next page, the request's own with its query parameters
    kept and `cursor` replaced (limit, filters and all), as `<...>; rel="next"`."""
    return f'<{url.include_query_params(cursor=cursor)}>; rel="next"'
