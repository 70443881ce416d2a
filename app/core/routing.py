"""The route class every API router uses: JSON bodies are parsed with Decimal numbers,
so a money amount is read from its text and never passes through a binary float."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute


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
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def decimal_handler(request: Request) -> Response:
            return await handler(DecimalJSONRequest(request.scope, request.receive))

        return decimal_handler


def api_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=DecimalRoute, **kwargs)
