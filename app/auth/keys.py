"""API keys: generation, hashing, constant-time checks, scopes, the key cache, and who is
calling (authenticate)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from app.auth.models import SCOPE_RANK, ApiKey, Scope
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Unauthorized

logger = logging.getLogger("app.auth")

KEY_PREFIX = "msp_"
ENV_ADMIN_NAME = "admin (MSP_ADMIN_API_KEY)"


def bearer_token(authorization: str | None) -> str | None:
    """The key in an Authorization header, read as FastAPI's HTTPBearer reads it (the
    scheme's name in any case, then the credentials)."""
    scheme, credentials = get_authorization_scheme_param(authorization)
    if not credentials or scheme.lower() != "bearer":
        return None
    return credentials


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:12]


def parse_scopes(text: str) -> list[Scope]:
    return [Scope(part) for part in text.split(",") if part]


def format_scopes(scopes: list[Scope]) -> str:
    return ",".join(sorted({s.value for s in scopes}, key=lambda s: SCOPE_RANK[Scope(s)]))


@dataclass(frozen=True)
class Principal:
    """Who is calling: a stored key or the environment's admin key."""

    key_id: int | None
    name: str
    scopes: frozenset[Scope]
    # Hash of the presented key; scopes Idempotency-Key records to the caller.
    key_hash: str

    def allows(self, scope: Scope) -> bool:
        return max((SCOPE_RANK[s] for s in self.scopes), default=0) >= SCOPE_RANK[scope]


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="msp-ledger"'}


@dataclass
class _Verified:
    principal: Principal
    key: ApiKey
    expires: float


class KeyCache:
    """Keys this process verified in the last few seconds, so most requests check their
    key without a database round trip. A key deleted through this process stops working
    at once; in another worker process within `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, _Verified] = {}

    def get(self, key_hash: str) -> _Verified | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry.expires < time.monotonic():
            self._entries.pop(key_hash, None)
            return None
        return entry

    def put(self, principal: Principal, key: ApiKey) -> None:
        if self.ttl > 0:
            if len(self._entries) > 10_000:  # bounded: drop everything rather than grow
                self._entries.clear()
            expires = time.monotonic() + self.ttl
            self._entries[principal.key_hash] = _Verified(principal, key, expires)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)


async def authenticate(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    token: str | None,
    cache: KeyCache | None = None,
) -> Principal:
    if not token:
        raise Unauthorized(
            "An API key is required: send `Authorization: Bearer <key>`.", headers=_challenge()
        )
    presented = hash_key(token)
    env_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    if env_key and hmac.compare_digest(presented, hash_key(env_key)):
        return Principal(None, ENV_ADMIN_NAME, frozenset(Scope), presented)
    cached = cache.get(presented) if cache is not None else None
    if cached is not None:
        await _touch(maker, cached.key, settings)
        return cached.principal
    lookup = select(ApiKey).where(col(ApiKey.key_hash) == presented)
    # A short session of its own, closed before _touch takes a connection: a request
    # never holds two pooled connections at once (a burst would starve the pool).
    async with maker() as session:
        stored = (await session.execute(lookup)).scalar()
    # The lookup is by hash; compare again in constant time all the same.
    if stored is None or not hmac.compare_digest(stored.key_hash, presented):
        raise Unauthorized("The API key is not valid.", headers=_challenge())
    await _touch(maker, stored, settings)
    principal = Principal(stored.id, stored.name, frozenset(parse_scopes(stored.scopes)), presented)
    if cache is not None:
        cache.put(principal, stored)
    return principal


async def _touch(maker: async_sessionmaker[AsyncSession], key: ApiKey, settings: Settings) -> None:
    """Record last_used_at in its own short transaction, at most once a minute, so
    that reads stay cheap and a failed request still counts as a use."""
    now = utcnow()
    last = key.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    interval = timedelta(seconds=settings.api_key_touch_interval_seconds)
    if last is not None and now - last < interval:
        return
    async with maker() as other:
        await other.execute(update(ApiKey).where(col(ApiKey.id) == key.id).values(last_used_at=now))
        await other.commit()
    key.last_used_at = now


async def ensure_admin_key(
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    deliver: Callable[[str], None] | None = None,
) -> str | None:
    """On first start without MSP_ADMIN_API_KEY, create an admin key and return it; only
    its hash is stored. `deliver` hands the key over (printed, or written to a file)
    before the key is committed, so a key that could not be handed over is not kept
    either. None when nothing was created."""
    if settings.admin_api_key is not None:
        return None
    async with maker() as session:
        existing = await session.scalar(
            select(col(ApiKey.id)).where(col(ApiKey.scopes).contains(Scope.admin.value)).limit(1)
        )
        if existing is not None:
            return None
        key = generate_key()
        session.add(
            ApiKey(
                name="bootstrap admin",
                prefix=display_prefix(key),
                key_hash=hash_key(key),
                scopes=format_scopes([Scope.read, Scope.write, Scope.admin]),
            )
        )
        await session.flush()
        if deliver is not None:
            deliver(key)
        await session.commit()
        return key
