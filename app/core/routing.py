"""The route class every API router uses: JSON bodies are parsed with Decimal numbers,
so a money amount is read from its text and never passes through a binary float."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError

from app.core.db import READ_METHODS

logger = logging.getLogger("app.routing")


def _constant(name: str) -> Decimal:
    # NaN, Infinity, -Infinity: kept as Decimal so that validation names the field.
    return Decimal(name)


class DecimalJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, parse_float=Decimal, parse_constant=_constant)
            except UnicodeDecodeError as exc:
                # Answered like any malformed JSON (a 422 naming the body), not FastAPI's
                # generic 400.
                raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
        return self._json


class DecimalRoute(APIRoute):
    """Also: a read (GET, HEAD) whose database connection turns out dead, closed by the
    server before the pool could see it (a restart, pg_terminate_backend), runs once more
    on a new connection instead of answering 503. Reads cannot write (their sessions
    refuse it, app/core/db.py), so running one twice changes nothing; a write that loses
    its connection still answers 503 and stores nothing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            try:
                return await handler(DecimalJSONRequest(request.scope, request.receive))
            except DBAPIError as exc:
                # connection_invalidated: the driver's connection died under the request;
                # SQLAlchemy has dropped it, and every older connection in the pool.
                if request.method not in READ_METHODS or not exc.connection_invalidated:
                    raise
                logger.warning("a read lost its database connection; running it once more")
                return await handler(DecimalJSONRequest(request.scope, request.receive))

        return decimal_handler


def api_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=DecimalRoute, **kwargs)
