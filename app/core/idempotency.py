"""Idempotency-Key on every create (docs/idempotency.md, the IETF draft): the same key and
body replays the first final answer, another body is a 422, a retry while the first
is still running is a 409. Records are scoped to the API key, method and path. The caller
is authenticated before the body is read or a record written, and the first answer is
stored before it is sent."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Integer, LargeBinary, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.db import UtcDateTime, utcnow
from app.core.errors import PROBLEM_JSON, problem_body

logger = logging.getLogger("app.idempotency")

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
# Answers that say nothing about the request itself are not kept: a retry with
# a valid key, or after a transient failure, must run for real.
_NOT_STORED = {401, 403, 408, 429}


def _is_stored(status: int) -> bool:
    return 200 <= status < 500 and status not in _NOT_STORED


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "method", "path", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(sa_column=Column(String(64), nullable=False))
    method: str = Field(sa_column=Column(String(10), nullable=False))
    path: str = Field(sa_column=Column(String(500), nullable=False))
    key: str = Field(sa_column=Column(String(MAX_KEY_LENGTH), nullable=False))
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    content_type: str | None = Field(default=None, sa_column=Column(String(100), nullable=True))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(UtcDateTime(), nullable=False, index=True, default=utcnow),
    )


# Secrets shown once (a new API key, a vendor's webhook secret) are not kept for replay:
# a replay answers the same record with the secret left out.
SECRET_FIELDS = ("key", "webhook_secret")
REDACTED = "[shown only in the first answer]"


def redact(body: bytes) -> bytes:
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if not isinstance(document, dict) or not any(
        isinstance(document.get(name), str) for name in SECRET_FIELDS
    ):
        return body
    for name in SECRET_FIELDS:
        if isinstance(document.get(name), str):
            document[name] = REDACTED
    return json.dumps(document, separators=(",", ":")).encode()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _problem(status: int, code: str, detail: str, path: str) -> tuple[int, bytes]:
    body = problem_body(status, code=code, detail=detail, instance=path)
    return status, json.dumps(body).encode()


async def _send_raw(
    send: Send, status: int, body: bytes, content_type: str, replayed: bool
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def is_idempotent_path(path: str) -> bool:
    """POSTs that honour Idempotency-Key: every API path but the vendor webhooks, which
    have their own redelivery key (webhook-id, docs/webhooks.md#redelivery)."""
    return path.startswith("/api/v1/") and not path.startswith("/api/v1/webhooks/")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not is_idempotent_path(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        key = _header(scope, HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        maker = state.sessionmaker
        settings = state.settings
        # The caller was authenticated before anything was read (app/auth/middleware.py);
        # without one there is nothing to scope a record to, and the endpoint answers.
        principal = scope.get("state", {}).get("principal")
        key_hash = getattr(principal, "key_hash", None)
        if not isinstance(key_hash, str):
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            status, body = _problem(
                422,
                "validation-error",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                scope["path"],
            )
            await _send_raw(send, status, body, PROBLEM_JSON, replayed=False)
            return

        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw_body = b"".join(chunks)
        fingerprint = hashlib.sha256(raw_body).hexdigest()
        path = scope["path"]

        ttl = timedelta(seconds=settings.idempotency_ttl_seconds)
        abandon_after = timedelta(seconds=settings.idempotency_abandon_seconds)
        record_id = await self._claim(
            maker, ttl, abandon_after, key_hash, path, key, fingerprint, send
        )
        if record_id is None:
            return

        sent_body = False

        async def replay_receive() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": raw_body, "more_body": False}
            return await receive()

        # The answer is held back until the record says what it was: a client that
        # retries the moment it has the answer (on the same connection, the server
        # reads the retry as soon as the answer is out) must get it replayed, not a 409.
        # The answers of creates are small JSON documents.
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        try:
            await self.app(scope, replay_receive, hold)
        except BaseException:
            await self._release(maker, record_id)
            raise
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        answered: int | None = start["status"] if start is not None else None
        if start is not None and answered is not None and _is_stored(answered):
            content_type = "application/json"
            for name, value in start.get("headers", []):
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
            answer = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
            try:
                await _store(maker, record_id, answered, content_type, redact(answer))
            except Exception:
                # The client still gets its answer: after a 2xx the work is committed,
                # and a 503 would invite a retry that repeats it. The claim stays, so a
                # retry is a 409 until the claim counts as abandoned.
                logger.error(
                    "could not store the answer of idempotency record %s", record_id, exc_info=True
                )
        else:
            await self._release(maker, record_id)
        for message in held:
            await send(message)

    async def _claim(
        self,
        maker: Any,
        ttl: timedelta,
        abandon_after: timedelta,
        record_scope: str,
        path: str,
        key: str,
        fingerprint: str,
        send: Send,
    ) -> int | None:
        """Insert the in-progress record (the unique constraint settles races), or
        answer from the existing one. Returns the new record's id, or None when the
        answer has been sent."""
        for _attempt in range(2):
            async with maker() as session:
                record = IdempotencyRecord(
                    scope=record_scope, method="POST", path=path, key=key, fingerprint=fingerprint
                )
                session.add(record)
                try:
                    await session.commit()
                    return record.id
                except IntegrityError:
                    await session.rollback()
                existing = await session.scalar(
                    select(IdempotencyRecord).where(
                        col(IdempotencyRecord.scope) == record_scope,
                        col(IdempotencyRecord.method) == "POST",
                        col(IdempotencyRecord.path) == path,
                        col(IdempotencyRecord.key) == key,
                    )
                )
                if existing is None:
                    continue  # released meanwhile: claim again
                age = utcnow() - _aware(existing.created_at)
                # A record still in progress long after any request could take belongs
                # to a process that died: it must not block retries for 24 hours.
                abandoned = existing.status_code is None and age > abandon_after
                if age > ttl or abandoned:
                    await session.execute(
                        delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == existing.id)
                    )
                    await session.commit()
                    continue
                if existing.fingerprint != fingerprint:
                    status, body = _problem(
                        422,
                        "idempotency-key-reused",
                        "This Idempotency-Key was already used with a different request body.",
                        path,
                    )
                    await _send_raw(send, status, body, PROBLEM_JSON, replayed=False)
                    return None
                if existing.status_code is None:
                    status, body = _problem(
                        409,
                        "idempotency-in-progress",
                        "A request with this Idempotency-Key is still being processed.",
                        path,
                    )
                    await _send_raw(send, status, body, PROBLEM_JSON, replayed=False)
                    return None
                await _send_raw(
                    send,
                    existing.status_code,
                    existing.body or b"",
                    existing.content_type or "application/json",
                    replayed=True,
                )
                return None
        status, body = _problem(
            409, "idempotency-in-progress", "The Idempotency-Key is busy; retry.", path
        )
        await _send_raw(send, status, body, PROBLEM_JSON, replayed=False)
        return None

    async def _release(self, maker: Any, record_id: int) -> None:
        try:
            async with maker() as session:
                await session.execute(
                    delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id)
                )
                await session.commit()
        except Exception:  # the database may be what failed; the TTL cleans up
            logger.warning("could not release idempotency record %s", record_id)


async def _store(maker: Any, record_id: int, status: int, content_type: str, body: bytes) -> None:
    async with maker() as session:
        record = await session.get(IdempotencyRecord, record_id)
        if record is not None:
            record.status_code = status
            record.content_type = content_type
            record.body = body
            await session.commit()


async def purge_expired(maker: Any, ttl_seconds: int) -> int:
    """Drop records past their 24 hours (called at start-up)."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    async with maker() as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
        )
        await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
