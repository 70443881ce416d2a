"""The endpoints' side of authentication: the scope each one needs (ReadKey, WriteKey,
AdminKey) and the security scheme Swagger UI's Authorize button fills."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.keys import Principal, authenticate
from app.auth.models import Scope
from app.core.errors import Forbidden

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer msp_...`",
)


def require_scope(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> Principal:
        # Usually known already: the middleware authenticated the caller before anything
        # was read (app/auth/middleware.py).
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            principal = await authenticate(
                request.app.state.sessionmaker,
                request.app.state.settings,
                credentials.credentials if credentials else None,
                getattr(request.app.state, "key_cache", None),
            )
            request.state.principal = principal
        if not principal.allows(scope):
            raise Forbidden(f"This API key lacks the '{scope.value}' scope.")
        return principal

    return dependency


ReadKey = Annotated[Principal, Depends(require_scope(Scope.read))]
WriteKey = Annotated[Principal, Depends(require_scope(Scope.write))]
AdminKey = Annotated[Principal, Depends(require_scope(Scope.admin))]
