"""API keys: create (the plain key returned once), list, get, delete. Only hashes are stored."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import display_prefix, format_scopes, generate_key, hash_key, parse_scopes
from app.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyRead
from app.core.crud import get_or_404
from app.core.pagination import Page, PageParams, paginate


def to_read(key: ApiKey) -> ApiKeyRead:
    """The table keeps scopes as a comma string; the API speaks a list."""
    assert key.id is not None
    return ApiKeyRead(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=parse_scopes(key.scopes),
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


async def create_api_key(session: AsyncSession, *, data: ApiKeyCreate) -> ApiKeyCreated:
    plain = generate_key()
    key = ApiKey(
        name=data.name,
        prefix=display_prefix(plain),
        key_hash=hash_key(plain),
        scopes=format_scopes(data.scopes),
    )
    session.add(key)
    await session.flush()
    return ApiKeyCreated(**to_read(key).model_dump(), key=plain)


async def get_api_key(session: AsyncSession, *, key_id: int) -> ApiKeyRead:
    return to_read(await get_or_404(session, ApiKey, key_id, "API key"))


async def list_api_keys(session: AsyncSession, *, page: PageParams) -> Page[ApiKeyRead]:
    return await paginate(session, select(ApiKey), ApiKey.id, page, to_read)


async def delete_api_key(session: AsyncSession, *, key_id: int) -> str:
    """Revoke a key; returns its hash so the caller can drop it from the key cache."""
    key = await get_or_404(session, ApiKey, key_id, "API key")
    key_hash = key.key_hash
    await session.delete(key)
    await session.flush()
    return key_hash
