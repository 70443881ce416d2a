"""The outbox: events written as delivery rows in the transaction of the change that
causes them, and the nudge that wakes the sender once that transaction has committed
(docs/events.md#the-outbox)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session
from sqlmodel import col

from app.core.bulk import bulk_insert
from app.core.db import utcnow
from app.events.models import DeliveryStatus, EventDelivery, EventSubscription, EventType

# The sender of each engine, woken after a commit that wrote deliveries (app/main.py
# registers it for the app's engine while the app runs).
_senders: WeakKeyDictionary[AsyncEngine, Callable[[], None]] = WeakKeyDictionary()
_PENDING = "events.pending"
_LISTENING = "events.listening"


def register(engine: AsyncEngine, nudge: Callable[[], None]) -> None:
    _senders[engine] = nudge


def unregister(engine: AsyncEngine) -> None:
    _senders.pop(engine, None)


async def subscribed(session: AsyncSession, event_type: EventType) -> list[int]:
    """The active subscriptions to `event_type`, by id. Subscriptions are few: their
    event lists are read and filtered here rather than searched in JSON by the database."""
    rows = await session.execute(
        select(col(EventSubscription.id), col(EventSubscription.events)).where(
            col(EventSubscription.active).is_(True)
        )
    )
    return [sub_id for sub_id, events in rows.all() if sub_id and event_type.value in events]


async def emit(
    session: AsyncSession,
    event_type: EventType,
    data: Sequence[dict[str, Any]],
    *,
    subscriptions: Sequence[int] | None = None,
) -> int:
    """One event per item of `data` (JSON-ready dicts), one delivery row per event and
    active subscription, in the session's transaction: they are sent only if it commits,
    and are certain to be sent if it does. Answers how many rows were written.
    `subscriptions` spares the lookup when the caller has made it (subscribed)."""
    targets = subscriptions if subscriptions is not None else await subscribed(session, event_type)
    if not targets or not data:
        return 0
    now = utcnow()
    timestamp = now.isoformat().replace("+00:00", "Z")
    rows = []
    for item in data:
        body = json.dumps(
            {"type": event_type.value, "timestamp": timestamp, "data": item},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows += [
            {
                "subscription_id": sub_id,
                "event_type": event_type.value,
                "body": body,
                "status": DeliveryStatus.pending.value,
                "attempt_count": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub_id in targets
        ]
    await bulk_insert(session, EventDelivery.__table__, rows)  # type: ignore[attr-defined]
    nudge_after_commit(session)
    return len(rows)


def nudge_after_commit(session: AsyncSession) -> None:
    """Wake the sender once this transaction commits, not before: until then the rows
    are invisible to it (and a rollback takes them away)."""
    info = session.info
    info[_PENDING] = True
    if not info.get(_LISTENING):
        info[_LISTENING] = True
        event.listen(session.sync_session, "after_commit", _after_commit)
        event.listen(session.sync_session, "after_rollback", _after_rollback)


def _after_commit(sync_session: Session) -> None:
    if sync_session.info.pop(_PENDING, False):
        engine = sync_session.info.get("engine")
        nudge = _senders.get(engine) if isinstance(engine, AsyncEngine) else None
        if nudge is not None:
            nudge()


def _after_rollback(sync_session: Session) -> None:
    sync_session.info.pop(_PENDING, None)
