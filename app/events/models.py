"""Outbound events: subscriptions, the outbox of deliveries and their attempts
(docs/events.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field as PField
from pydantic import field_validator
from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, fk_field, updated_at_field
from app.core.db import UtcDateTime
from app.core.schemas import InputModel, ReadModel


class EventType(StrEnum):
    vendor_invoice_received = "vendor_invoice.received"
    audit_completed = "audit.completed"
    finding_opened = "finding.opened"
    billing_run_completed = "billing_run.completed"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its first or next attempt
    delivered = "delivered"  # a 2xx answer
    failed = "failed"  # given up: no 2xx within the retry window


MAX_URL_LENGTH = 2000


class EventSubscription(SQLModel, table=True):
    __tablename__ = "event_subscription"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(String(MAX_URL_LENGTH), nullable=False))
    # The event types, as a JSON list of strings.
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # Kept as given: signing needs the key itself. Shown once, in the create's answer.
    secret: str = Field(sa_column=Column(String(200), nullable=False))
    # After a rotation, the secret replaced: it signs too until `previous_secret_until`
    # (docs/events.md#rotating-the-secret).
    previous_secret: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    previous_secret_until: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EventDelivery(SQLModel, table=True):
    """One event for one subscription: the outbox row, written in the transaction of the
    change that caused the event, then worked off by the sender (docs/events.md#delivery)."""

    __tablename__ = "event_delivery"
    # The sender's question: which pending deliveries are due.
    __table_args__ = (Index("ix_event_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = fk_field("event_subscription.id")
    event_type: str = Field(sa_column=Column(String(40), nullable=False))
    # The exact bytes every attempt sends (and signs), as text.
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    attempt_count: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    # When the next attempt is due; while an attempt runs, when its claim lapses.
    next_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    first_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    last_attempt_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    created_at: datetime = created_at_field()


class EventAttempt(SQLModel, table=True):
    __tablename__ = "event_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = fk_field("event_delivery.id")
    attempted_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    # The receiver's HTTP status, or null when no answer came (then `error` says why).
    status_code: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))


# --- API schemas ----------------------------------------------------------------------------

Url = Annotated[
    str,
    PField(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where events are POSTed: an http or https URL whose host resolves to "
        "public addresses only, unless MSP_EVENTS_ALLOW_PRIVATE=true.",
        examples=["https://psa.example.com/hooks/msp-ledger"],
    ),
]
Events = Annotated[
    list[EventType],
    PField(min_length=1, description="The event types to send (docs/events.md#event-types)."),
]


def _distinct(events: list[EventType] | None) -> list[EventType] | None:
    if events is None:
        return None
    return sorted(set(events), key=list(EventType).index)


class EventSubscriptionCreate(InputModel):
    url: Url
    events: Events

    _events = field_validator("events")(_distinct)


class EventSubscriptionUpdate(InputModel):
    url: Url | None = None
    events: Events | None = None
    active: bool | None = None

    _events = field_validator("events")(_distinct)


class EventSubscriptionRead(ReadModel):
    id: int
    url: str
    events: list[EventType]
    active: bool
    created_at: datetime
    updated_at: datetime


class EventSubscriptionCreated(EventSubscriptionRead):
    secret: str = PField(
        description="whsec_ + base64: the key of the signatures (Standard Webhooks). "
        "Shown only in this answer."
    )


class SecretRotated(EventSubscriptionCreated):
    previous_secret_until: datetime = PField(
        description="Until then every attempt carries a second signature, by the secret "
        "replaced (docs/events.md#rotating-the-secret)"
    )


class EventAttemptRead(ReadModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class EventDeliveryRead(ReadModel):
    id: int = PField(description="Also the webhook-id header of every attempt.")
    subscription_id: int
    event_type: EventType
    status: DeliveryStatus
    attempt_count: int = PField(
        description="Attempts since the delivery was scheduled (again, after a redelivery); "
        "`attempts` lists every attempt ever made"
    )
    next_attempt_at: datetime | None = PField(
        description="When the next attempt is due (pending deliveries only)."
    )
    first_attempt_at: datetime | None = PField(
        description="The first attempt since the delivery was scheduled (again, after a "
        "redelivery): its retries and give-up time count from it"
    )
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    event: dict[str, Any] = PField(description="The body sent: {type, timestamp, data}.")
    attempts: list[EventAttemptRead]
