"""Who is calling, before anything else: every /api/v1 request but the vendor webhooks
(signed instead, docs/webhooks.md) is authenticated before its body is read or anything
is written. An unknown caller gets the 401 problem and leaves no trace; a known one is
kept in the request's state, where the endpoints' scope checks and the Idempotency-Key
records (scoped to the key) find it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.keys import authenticate, bearer_token
from app.core.errors import Unauthorized, problem_response

API_PREFIX = "/api/v1/"
UNAUTHENTICATED_PREFIXES = ("/api/v1/webhooks/",)


def needs_key(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(UNAUTHENTICATED_PREFIXES)


class AuthenticationMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # CORS preflights carry no credentials by design: the CORS middleware outside
        # answers them.
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not needs_key(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope["app"].state
        try:
            principal = await authenticate(
                state.sessionmaker,
                state.settings,
                bearer_token(request.headers.get("authorization")),
                getattr(state, "key_cache", None),
            )
        except Unauthorized as exc:
            response = problem_response(
                request, exc.status, code=exc.code, detail=exc.detail, headers=exc.headers
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
