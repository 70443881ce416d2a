"""The webhook inbox: every signed delivery, kept raw, with its outcome
(docs/webhooks.md#inbox)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel
from pydantic import Field as PField
from sqlalchemy import Column, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.columns import fk_field
from app.core.db import UtcDateTime, utcnow
from app.core.schemas import ReadModel
from app.vendor_invoices.models import InvoiceCheck


class EventStatus(StrEnum):
    received = "received"
    processed = "processed"
    failed = "failed"


class WebhookEvent(SQLModel, table=True):
    __tablename__ = "webhook_event"
    __table_args__ = (
        # Redelivery of one webhook-id is settled by this constraint, not by a
        # check-then-insert, even when deliveries race (docs/webhooks.md#redelivery).
        UniqueConstraint("vendor_id", "webhook_id"),
        Index("ix_webhook_event_status", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    vendor_id: int = fk_field("vendor.id", index=False)
    webhook_id: str = Field(sa_column=Column(String(255), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    invoice_id: int | None = fk_field("vendor_invoice.id", nullable=True)
    headers: str = Field(sa_column=Column(Text, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The answer given, replayed to a redelivery of the same webhook-id.
    response_status: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = Field(default=1, sa_column=Column(Integer, nullable=False, default=1))
    received_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(UtcDateTime(), nullable=False, default=utcnow),
    )
    processed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )


class WebhookEventRead(ReadModel):
    id: int
    vendor_id: int
    webhook_id: str
    status: EventStatus
    error: str | None
    invoice_id: int | None
    attempts: int = PField(description="How often the event was processed (replays count)")
    received_at: datetime
    processed_at: datetime | None


class WebhookEventDetail(WebhookEventRead):
    headers: dict[str, str] = PField(description="The webhook-* and content headers received")
    body: str = PField(description="The raw body as received")


class WebhookDelivered(BaseModel):
    """The answer to a processed delivery (and to every redelivery of its webhook-id)."""

    event: WebhookEventRead
    invoice_id: int = PField(description="The vendor invoice the delivery created")
    checks: list[InvoiceCheck] = PField(
        default_factory=list,
        description="What the audit of the invoice's month would find about it alone, as "
        "it was when the delivery was processed (docs/checks.md)",
    )
