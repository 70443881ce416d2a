"""The route class every API router uses: JSON bodies are parsed with Decimal numbers,
so a money amount is read from its text and never passes through a binary float."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import READ_METHODS
from app.core.pagination import (
    NEXT_LINK_HEADER,
    NextCursor,
    is_page,
    next_link,
    recording_next_cursor,
)

logger = logging.getLogger("app.routing")


def _constant(name: str) -> Decimal:
    # NaN, Infinity, -Infinity: kept as Decimal so that validation names the field.
    return Decimal(name)


def loads_body(body: bytes) -> Any:
    """A JSON body with its numbers as Decimal. Anything that cannot be read is a
    JSONDecodeError saying why, so that it is answered like any malformed JSON (a 422
    naming the body), never FastAPI's generic 400."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_constant)
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
    except RecursionError:
        # The parser recurses once per level of arrays and objects.
        raise json.JSONDecodeError("arrays and objects are nested too deeply", "", 0) from None
    except ValueError as exc:
        # The other refusal of json.loads: an integer longer than Python converts.
        reason = str(exc)
        if "integer string conversion" in reason:
            reason = f"a number has more than {sys.get_int_max_str_digits()} digits"
        raise json.JSONDecodeError(reason, "", 0) from None


class DecimalJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_body(await self.body())
        return self._json


class DecimalRoute(APIRoute):
    """Bodies parsed with Decimal numbers; a write's transaction committed once its
    endpoint has answered a success (_commit). Also: a read (GET, HEAD) whose database
    connection turns out dead, closed by the server before the pool could see it (a
    restart, pg_terminate_backend), runs once more on a new connection instead of
    answering 503. Reads cannot write (their sessions refuse it, app/core/db.py), so
    running one twice changes nothing; a write that loses its connection still answers
    503 and stores nothing. A list whose answer has a next page carries the RFC 8288
    `Link: <...>; rel="next"` header (app/core/pagination.py)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        model = kwargs.get("response_model")
        if model is None or isinstance(model, DefaultPlaceholder):
            model = get_typed_return_annotation(endpoint)
        self.lists_pages = is_page(model)
        if self.lists_pages:
            endpoint = recording_next_cursor(endpoint)
            responses = dict(kwargs.get("responses") or {})
            ok = dict(responses.get(200, {}))
            ok["headers"] = {**ok.get("headers", {}), "Link": NEXT_LINK_HEADER}
            responses[200] = ok
            kwargs["responses"] = responses
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        lists_pages = self.lists_pages

        async def answer(request: Request) -> Response:
            decimal_request = DecimalJSONRequest(request.scope, request.receive)
            if not lists_pages:
                return await handler(decimal_request)
            with NextCursor() as found:
                response = await handler(decimal_request)
            if found.cursor is not None and response.status_code == 200:
                response.headers.append("Link", next_link(request.url, found.cursor))
            return response

        async def decimal_handler(request: Request) -> Response:
            try:
                response = await answer(request)
                await _commit(request, response)
                return response
            except DBAPIError as exc:
                # connection_invalidated: the driver's connection died under the request;
                # SQLAlchemy has dropped it, and every older connection in the pool.
                if request.method not in READ_METHODS or not exc.connection_invalidated:
                    raise
                logger.warning("a read lost its database connection; running it once more")
                return await answer(request)

        return decimal_handler


async def _commit(request: Request, response: Response) -> None:
    """The request owns its transaction (ARCHITECTURE.md): a write that answered a success
    is committed here, before the answer leaves, so that a failing commit is answered as
    the failure it is (409, 503) and never after a 2xx. An answer of 4xx or 5xx that was
    returned rather than raised stores nothing of the request either."""
    session = getattr(request.state, "write_session", None)
    if not isinstance(session, AsyncSession) or not session.in_transaction():
        return
    if response.status_code < 400:
        await session.commit()
    else:
        await session.rollback()


def api_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=DecimalRoute, **kwargs)
