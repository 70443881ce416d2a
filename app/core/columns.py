"""Column helpers shared by the tables, so every table spells them the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field

from app.core.db import UtcDateTime, utcnow
from app.core.money import ExactDecimal


def created_at_field() -> Any:
    return Field(
        default_factory=utcnow, sa_column=Column(UtcDateTime(), nullable=False, default=utcnow)
    )


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_column=Column(UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    )


def fk_field(target: str, *, nullable: bool = False, index: bool = True) -> Any:
    """A reference that refuses deletion of what it points at (never a cascade)."""
    return Field(
        default=None if nullable else ...,
        sa_column=Column(
            Integer, ForeignKey(target, ondelete="RESTRICT"), nullable=nullable, index=index
        ),
    )


def decimal_field(scale: int, *, nullable: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(ExactDecimal(scale=scale), nullable=nullable),
    )


__all__ = ["created_at_field", "updated_at_field", "fk_field", "decimal_field", "datetime"]
