"""API keys: stored only as a SHA-256 hash, shown once on creation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field as PField
from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, utcnow
from app.core.schemas import InputModel, ReadModel
from app.core.types import Name


class Scope(StrEnum):
    """read: GET; write: create and change data, run audits (implies read);
    admin: manage keys (implies write and read)."""

    read = "read"
    write = "write"
    admin = "admin"


SCOPE_RANK = {Scope.read: 1, Scope.write: 2, Scope.admin: 3}


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # The first characters of the key, so people can tell keys apart in a list.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    scopes: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False, default=utcnow)
    )
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class ApiKeyCreate(InputModel):
    # Trimmed, not blank, no NUL (PostgreSQL text cannot hold it): as every other name.
    name: Name = PField(examples=["PSA integration"])
    scopes: list[Scope] = PField(min_length=1, examples=[["read", "write"]])


class ApiKeyRead(ReadModel):
    id: int
    name: str
    prefix: str = PField(description="The key's first characters, to tell keys apart")
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = PField(description="The secret key. Shown only in this answer: store it now.")
