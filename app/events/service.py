"""Event subscriptions and their delivery history: plain async functions, no HTTP. The
secret is generated here and shown once (docs/events.md#subscriptions)."""

from __future__ import annotations

import base64
import json
import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.config import Settings
from app.core.crud import apply, changes, get_or_404
from app.core.db import utcnow
from app.core.errors import Conflict, Invalid, NotFound, field_error
from app.core.pagination import Page, PageParams, paginate
from app.core.signature import SECRET_PREFIX
from app.events import outbox, targets
from app.events.models import (
    DeliveryStatus,
    EventAttempt,
    EventAttemptRead,
    EventDelivery,
    EventDeliveryRead,
    EventSubscription,
    EventSubscriptionCreate,
    EventSubscriptionCreated,
    EventSubscriptionRead,
    EventSubscriptionUpdate,
    SecretRotated,
)

SECRET_BYTES = 32


def generate_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def _check_url(url: str, settings: Settings) -> None:
    try:
        await targets.check(url, allow_private=settings.events_allow_private)
    except targets.TargetRefused as exc:
        raise Invalid(
            f"Events cannot be sent to {url}: {exc}.",
            errors=[field_error("body.url", str(exc), "url_refused")],
        ) from None


async def create_subscription(
    session: AsyncSession, *, data: EventSubscriptionCreate, settings: Settings
) -> EventSubscriptionCreated:
    await _check_url(data.url, settings)
    subscription = EventSubscription(
        url=data.url, events=[e.value for e in data.events], secret=generate_secret()
    )
    session.add(subscription)
    await session.flush()
    return EventSubscriptionCreated.model_validate(subscription)


async def list_subscriptions(
    session: AsyncSession, *, page: PageParams
) -> Page[EventSubscriptionRead]:
    return await paginate(
        session,
        select(EventSubscription),
        EventSubscription.id,
        page,
        EventSubscriptionRead.model_validate,
    )


async def get_subscription(session: AsyncSession, *, subscription_id: int) -> EventSubscriptionRead:
    return EventSubscriptionRead.model_validate(
        await get_or_404(session, EventSubscription, subscription_id, "event subscription")
    )


async def update_subscription(
    session: AsyncSession,
    *,
    subscription_id: int,
    data: EventSubscriptionUpdate,
    settings: Settings,
) -> EventSubscriptionRead:
    subscription = await get_or_404(
        session, EventSubscription, subscription_id, "event subscription"
    )
    values = changes(data, required=("url", "events", "active"))
    if "url" in values:
        await _check_url(values["url"], settings)
    if "events" in values:
        values["events"] = [str(e) for e in values["events"]]
    apply(subscription, values)
    await session.flush()
    await session.refresh(subscription)
    return EventSubscriptionRead.model_validate(subscription)


async def delete_subscription(session: AsyncSession, *, subscription_id: int) -> None:
    """The subscription goes with its delivery history (which means nothing without
    it); pending deliveries are never sent."""
    subscription = await get_or_404(
        session, EventSubscription, subscription_id, "event subscription"
    )
    deliveries = select(col(EventDelivery.id)).where(
        col(EventDelivery.subscription_id) == subscription_id
    )
    await session.execute(delete(EventAttempt).where(col(EventAttempt.delivery_id).in_(deliveries)))
    await session.execute(
        delete(EventDelivery).where(col(EventDelivery.subscription_id) == subscription_id)
    )
    await session.delete(subscription)
    await session.flush()


async def rotate_secret(
    session: AsyncSession, *, subscription_id: int, settings: Settings
) -> SecretRotated:
    """A new secret, shown once; the one it replaces keeps signing, as a second signature,
    for the overlap (docs/events.md#rotating-the-secret). A secret replaced earlier, still
    in its overlap, stops signing now."""
    subscription = await get_or_404(
        session, EventSubscription, subscription_id, "event subscription"
    )
    now = utcnow()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + timedelta(
        seconds=settings.events_secret_overlap_seconds
    )
    subscription.secret = generate_secret()
    subscription.updated_at = now
    await session.flush()
    return SecretRotated.model_validate(subscription)


async def redeliver(
    session: AsyncSession, *, subscription_id: int, delivery_id: int
) -> EventDeliveryRead:
    """A delivered or failed delivery scheduled again, due now, with its webhook-id and
    body, and a new round of retries (docs/events.md#redelivery). A pending one is a 409:
    it is on its way."""
    await get_or_404(session, EventSubscription, subscription_id, "event subscription")
    delivery = await session.get(EventDelivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(
            f"delivery {delivery_id} does not exist for event subscription {subscription_id}"
        )
    if delivery.status == DeliveryStatus.pending.value:
        raise Conflict(
            f"Delivery {delivery_id} is pending: its next attempt is due "
            f"{delivery.next_attempt_at}; nothing to redeliver."
        )
    delivery.status = DeliveryStatus.pending.value
    delivery.next_attempt_at = utcnow()
    delivery.attempt_count = 0
    delivery.first_attempt_at = None
    delivery.delivered_at = None
    await session.flush()
    outbox.nudge_after_commit(session)
    return (await _deliveries_read(session, [delivery]))[0]


async def list_deliveries(
    session: AsyncSession,
    *,
    subscription_id: int,
    page: PageParams,
    status: DeliveryStatus | None = None,
) -> Page[EventDeliveryRead]:
    """Oldest first, each with its attempts."""
    await get_or_404(session, EventSubscription, subscription_id, "event subscription")
    stmt = select(EventDelivery).where(col(EventDelivery.subscription_id) == subscription_id)
    if status is not None:
        stmt = stmt.where(col(EventDelivery.status) == status.value)
    page_rows: Page[EventDelivery] = await paginate(session, stmt, EventDelivery.id, page)
    items = await _deliveries_read(session, page_rows.items)
    return Page[EventDeliveryRead](items=items, next_cursor=page_rows.next_cursor)


async def _deliveries_read(
    session: AsyncSession, rows: Sequence[EventDelivery]
) -> list[EventDeliveryRead]:
    """The deliveries with their attempts: one query for the attempts of all of them."""
    ids = [row.id for row in rows]
    attempts: dict[int, list[EventAttemptRead]] = defaultdict(list)
    if ids:
        for attempt in (
            await session.scalars(
                select(EventAttempt)
                .where(col(EventAttempt.delivery_id).in_(ids))
                .order_by(col(EventAttempt.id))
            )
        ).all():
            attempts[attempt.delivery_id].append(EventAttemptRead.model_validate(attempt))
    return [
        EventDeliveryRead.model_validate(
            {
                **row.model_dump(exclude={"body"}),
                "event": json.loads(row.body),
                "attempts": attempts[row.id] if row.id is not None else [],
            }
        )
        for row in rows
    ]
