"""Event subscriptions and their delivery history: plain async functions, no HTTP. The
secret is generated here and shown once (docs/events.md#subscriptions)."""

from __future__ import annotations

import base64
import json
import secrets
from collections import defaultdict

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.config import Settings
from app.core.crud import apply, changes, get_or_404
from app.core.errors import Invalid, field_error
from app.core.pagination import Page, PageParams, paginate
from app.core.signature import SECRET_PREFIX
from app.events import targets
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
    ids = [row.id for row in page_rows.items]
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
    items = [
        EventDeliveryRead.model_validate(
            {
                **row.model_dump(exclude={"body"}),
                "event": json.loads(row.body),
                "attempts": attempts[row.id] if row.id is not None else [],
            }
        )
        for row in page_rows.items
    ]
    return Page[EventDeliveryRead](items=items, next_cursor=page_rows.next_cursor)
