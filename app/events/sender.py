"""The sender: a background task of the API process that claims due deliveries, POSTs
them signed (Standard Webhooks) and records every attempt; retries back off
exponentially (docs/events.md#delivery).

Its own short transactions are the point here (a claim, then an attempt's record), so
it commits, as the webhook inbox does: it works outside any request."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from app.core.config import Settings
from app.core.db import utcnow
from app.core.signature import sign
from app.events import outbox, targets
from app.events.models import DeliveryStatus, EventAttempt, EventDelivery, EventSubscription

logger = logging.getLogger("app.events")

MAX_ERROR_LENGTH = 500
# A claimed delivery whose attempt never got recorded (the process died) is due again
# this long after its timeout.
CLAIM_MARGIN_SECONDS = 60.0
USER_AGENT = "msp-ledger-events/1"
_subscription_of_delivery = col(EventSubscription.id) == col(EventDelivery.subscription_id)


def retry_delay(attempts: int, settings: Settings) -> float:
    """Seconds from the `attempts`-th failed attempt to the next: the first retry after
    events_first_retry_seconds, then twice as long each time, capped
    (docs/events.md#retries)."""
    doublings = min(max(attempts - 1, 0), 40)
    return float(
        min(settings.events_first_retry_seconds * 2**doublings, settings.events_max_retry_seconds)
    )


def next_attempt(
    first_attempt_at: datetime, attempts: int, failed_at: datetime, settings: Settings
) -> datetime | None:
    """When to try again after the `attempts`-th failure (an attempt that started at
    `failed_at`), or None: the
    delivery has failed for good, the next try falling past the give-up time after the
    first attempt."""
    due = failed_at + timedelta(seconds=retry_delay(attempts, settings))
    if due > first_attempt_at + timedelta(seconds=settings.events_give_up_seconds):
        return None
    return due


@dataclass(frozen=True)
class Claim:
    id: int
    url: str
    secret: str
    body: bytes
    attempt_count: int
    first_attempt_at: datetime | None


class Sender:
    """One per app (started and stopped by its lifespan). `settings` is read anew every
    round, so a change of the app's settings applies to the next round."""

    def __init__(
        self,
        maker: async_sessionmaker[AsyncSession],
        settings: Callable[[], Settings],
        *,
        wake_on: AsyncEngine | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._maker = maker
        # Commits that write deliveries through this engine wake the sender (outbox).
        self._wake_on = wake_on
        self._settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._in_flight: set[int] = set()

    def nudge(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        # No redirects: a 3xx is a failed attempt, so a receiver cannot point the sender
        # at an address the target check would refuse.
        self._client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        if self._wake_on is not None:
            outbox.register(self._wake_on, self.nudge)
        self._task = asyncio.create_task(self._run(), name="event-sender")

    async def stop(self) -> None:
        if self._wake_on is not None:
            outbox.unregister(self._wake_on)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        # Attempts cut short by the stop are due again at once, in the next process.
        if self._in_flight:
            try:
                async with self._maker.begin() as session:
                    await session.execute(
                        update(EventDelivery)
                        .where(
                            col(EventDelivery.id).in_(sorted(self._in_flight)),
                            col(EventDelivery.status) == DeliveryStatus.pending.value,
                        )
                        .values(next_attempt_at=self.clock())
                    )
            except Exception:  # the claims lapse on their own
                logger.warning("could not release deliveries in flight", exc_info=True)
            self._in_flight.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            settings = self._settings()
            wait = settings.events_poll_seconds
            try:
                sent = await self.run_once()
                if sent >= settings.events_batch_size:
                    continue  # more may be due already
                wait = await self.seconds_to_next(wait)
            except Exception:
                logger.exception("the event sender's round failed; trying again later")
            if wait > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass

    async def seconds_to_next(self, longest: float) -> float:
        """Until the earliest pending delivery of an active subscription is due (those of
        paused subscriptions wait for a nudge or a poll), at most `longest`."""
        async with self._maker() as session:
            due = await session.scalar(
                select(col(EventDelivery.next_attempt_at))
                .join(EventSubscription, _subscription_of_delivery)
                .where(
                    col(EventDelivery.status) == DeliveryStatus.pending.value,
                    col(EventSubscription.active).is_(True),
                )
                .order_by(col(EventDelivery.next_attempt_at))
                .limit(1)
            )
        if due is None:
            return longest
        return max(0.0, min(longest, (due - self.clock()).total_seconds()))

    async def run_once(self) -> int:
        """Claim the due deliveries (one batch), attempt them concurrently, and answer
        how many were attempted."""
        claims = await self._claim()
        if claims:
            await asyncio.gather(*(self._attempt(claim) for claim in claims))
        return len(claims)

    async def _claim(self) -> list[Claim]:
        """Mark a batch of due deliveries of active subscriptions as taken, in one short
        transaction: their next_attempt_at moves past the attempt's timeout, so another
        sender (another worker process) passes them over, and if this process dies they
        are due again then. On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED;
        SQLite runs one writer at a time, so its conditional UPDATE claims alone."""
        settings = self._settings()
        now = self.clock()
        lease = now + timedelta(seconds=settings.events_timeout_seconds + CLAIM_MARGIN_SECONDS)
        pending = col(EventDelivery.status) == DeliveryStatus.pending.value
        due = col(EventDelivery.next_attempt_at) <= now
        picked = (
            select(col(EventDelivery.id))
            .join(EventSubscription, _subscription_of_delivery)
            .where(pending, due, col(EventSubscription.active).is_(True))
            .order_by(col(EventDelivery.next_attempt_at), col(EventDelivery.id))
            .limit(settings.events_batch_size)
        )
        async with self._maker.begin() as session:
            if session.bind is not None and session.bind.dialect.name == "postgresql":
                picked = picked.with_for_update(skip_locked=True, of=EventDelivery)
            rows = (
                await session.execute(
                    update(EventDelivery)
                    .where(col(EventDelivery.id).in_(picked.scalar_subquery()), pending, due)
                    .values(next_attempt_at=lease)
                    .returning(
                        col(EventDelivery.id),
                        col(EventDelivery.subscription_id),
                        col(EventDelivery.body),
                        col(EventDelivery.attempt_count),
                        col(EventDelivery.first_attempt_at),
                    )
                )
            ).all()
            if not rows:
                return []
            subs = {
                sub_id: (url, secret)
                for sub_id, url, secret in (
                    await session.execute(
                        select(
                            col(EventSubscription.id),
                            col(EventSubscription.url),
                            col(EventSubscription.secret),
                        ).where(col(EventSubscription.id).in_({row[1] for row in rows}))
                    )
                ).all()
            }
        claims = sorted(
            (
                Claim(int(row[0] or 0), *subs[row[1]], row[2].encode(), row[3], row[4])
                for row in rows
            ),
            key=lambda claim: claim.id,
        )
        self._in_flight.update(claim.id for claim in claims)
        return claims

    async def _attempt(self, claim: Claim) -> None:
        try:
            status_code, error, started, duration_ms = await self._post(claim)
            await self._record(claim, status_code, error, started, duration_ms)
        except asyncio.CancelledError:
            raise
        except Exception:  # e.g. the delivery was deleted meanwhile; its claim lapses
            logger.warning(
                "delivery %s: the attempt could not be recorded", claim.id, exc_info=True
            )
        self._in_flight.discard(claim.id)

    async def _post(self, claim: Claim) -> tuple[int | None, str | None, datetime, int]:
        settings = self._settings()
        started = self.clock()
        t0 = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        msg_id = str(claim.id)
        timestamp = int(started.timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(claim.secret, msg_id, timestamp, claim.body),
        }
        assert self._client is not None
        try:
            # Checked again on every attempt: what a name resolves to can change.
            await targets.check(claim.url, allow_private=settings.events_allow_private)
            # The answer's status is all that counts; its body is never read.
            async with self._client.stream(
                "POST",
                claim.url,
                content=claim.body,
                headers=headers,
                timeout=settings.events_timeout_seconds,
            ) as response:
                status_code = response.status_code
        except targets.TargetRefused as exc:
            error = f"refused: {exc}"
        except httpx.TimeoutException:
            error = f"no answer within {settings.events_timeout_seconds:g} seconds"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = round((time.perf_counter() - t0) * 1000)
        return status_code, (error or None) and error[:MAX_ERROR_LENGTH], started, duration_ms

    async def _record(
        self,
        claim: Claim,
        status_code: int | None,
        error: str | None,
        started: datetime,
        duration_ms: int,
    ) -> None:
        settings = self._settings()
        attempts = claim.attempt_count + 1
        first = claim.first_attempt_at or started
        values: dict[str, object] = {
            "attempt_count": attempts,
            "first_attempt_at": first,
            "last_attempt_at": started,
        }
        if status_code is not None and 200 <= status_code < 300:
            values.update(
                status=DeliveryStatus.delivered.value,
                next_attempt_at=None,
                delivered_at=self.clock(),
            )
        else:
            due = next_attempt(first, attempts, started, settings)
            status = DeliveryStatus.pending if due is not None else DeliveryStatus.failed
            values.update(status=status.value, next_attempt_at=due)
        async with self._maker.begin() as session:
            await session.execute(
                insert(EventAttempt).values(
                    delivery_id=claim.id,
                    attempted_at=started,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            await session.execute(
                update(EventDelivery).where(col(EventDelivery.id) == claim.id).values(**values)
            )
