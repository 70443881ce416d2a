"""Vendors and distributors the MSP buys from; each signs its webhooks with a secret."""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel
from pydantic import Field as PField
from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, updated_at_field
from app.core.db import UtcDateTime
from app.core.schemas import InputModel, ReadModel
from app.core.signature import SECRET_PREFIX, secret_key
from app.core.types import Currency, Name


class Vendor(SQLModel, table=True):
    __tablename__ = "vendor"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    currency: str = Field(default="USD", sa_column=Column(String(3), nullable=False, default="USD"))
    # Kept as given: verifying an HMAC needs the key itself. Never returned after
    # creation: write-only (docs/webhooks.md#signatures).
    webhook_secret: str = Field(sa_column=Column(String(200), nullable=False))
    # After a rotation the old secret keeps verifying until this moment (24 hours).
    previous_webhook_secret: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True)
    )
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    # Days from a term's start in which it may still be cancelled; None: no window
    # (docs/cancellations.md#cancel-window).
    cancel_window_days: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


def _check_secret(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith(SECRET_PREFIX):
        raise ValueError("must start with whsec_ followed by base64")
    try:
        key = secret_key(value)
    except (binascii.Error, ValueError):
        raise ValueError("the part after whsec_ must be valid base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("the key must decode to between 24 and 64 bytes")
    return value


MAX_CANCEL_WINDOW_DAYS = 365

CancelWindowDays = Annotated[
    int | None,
    PField(
        ge=0,
        le=MAX_CANCEL_WINDOW_DAYS,
        description="Days from the start of a subscription's term (or renewal) in which the "
        "vendor still takes a cancellation, e.g. 7 for Microsoft's new commerce; null or 0: "
        "no window, a term runs to its end (docs/cancellations.md#cancel-window)",
        examples=[7],
    ),
]

WebhookSecret = Annotated[
    str | None,
    PField(default=None, max_length=200, examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]),
    AfterValidator(_check_secret),
]


class VendorCreate(InputModel):
    name: Name
    currency: Currency = "USD"
    webhook_secret: WebhookSecret = PField(
        default=None,
        description="whsec_ + base64 of 24 to 64 random bytes; generated when not given.",
    )
    cancel_window_days: CancelWindowDays = None


class VendorUpdate(InputModel):
    name: Name | None = None
    currency: Currency | None = None
    cancel_window_days: CancelWindowDays = None


class VendorRead(ReadModel):
    id: int
    name: str
    currency: str
    cancel_window_days: int | None
    created_at: datetime
    updated_at: datetime


class VendorCreated(VendorRead):
    webhook_secret: str = PField(
        description="The webhook signing secret. Shown only in this answer: store it now."
    )


class WebhookSecretRotate(InputModel):
    webhook_secret: WebhookSecret = PField(
        default=None,
        description="The new secret, whsec_ + base64 of 24 to 64 random bytes; generated "
        "when not given.",
    )


class WebhookSecretRotated(BaseModel):
    webhook_secret: str = PField(
        description="The new webhook signing secret. Shown only in this answer: store it now."
    )
    previous_secret_expires_at: datetime = PField(
        description="Until this moment (24 hours from now) the previous secret still verifies."
    )
