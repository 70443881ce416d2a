"""HTTP for API keys (admin scope only): parse, call the service, shape."""

from __future__ import annotations

from fastapi import Request, Response

from app.auth import service
from app.auth.dependencies import AdminKey
from app.auth.models import ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath

router = api_router(prefix="/api-keys", tags=["api-keys"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is shown only in this answer)",
    responses={**AUTH, **problem_responses(422)},
)
async def create_api_key(body: ApiKeyCreate, session: SessionDep, _: AdminKey) -> ApiKeyCreated:
    """A key with the scopes given (read, write, admin; docs/README.md#authentication). The
    key itself is in this answer only: the service keeps its hash. Admin only."""
    return await service.create_api_key(session, data=body)


@router.get(
    "",
    response_model=Page[ApiKeyRead],
    summary="List API keys",
    responses={**AUTH, **problem_responses(422)},
)
async def list_api_keys(session: SessionDep, _: AdminKey, page: PageDep) -> Page[ApiKeyRead]:
    """API keys in id order, with their names, scopes and last use; never the keys
    themselves. Admin only."""
    return await service.list_api_keys(session, page=page)


@router.get(
    "/{key_id}",
    response_model=ApiKeyRead,
    summary="Get an API key",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def get_api_key(key_id: IdPath, session: SessionDep, _: AdminKey) -> ApiKeyRead:
    """One API key's name, scopes and last use; never the key itself. Admin only."""
    return await service.get_api_key(session, key_id=key_id)


@router.delete(
    "/{key_id}",
    status_code=204,
    response_class=Response,
    summary="Delete (revoke) an API key",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def delete_api_key(
    key_id: IdPath, request: Request, session: SessionDep, _: AdminKey
) -> None:
    """Revokes the key: it is refused at once by this process and within a few seconds by
    the others (MSP_API_KEY_CACHE_SECONDS). Admin only."""
    key_hash = await service.delete_api_key(session, key_id=key_id)
    request.app.state.key_cache.forget(key_hash)
