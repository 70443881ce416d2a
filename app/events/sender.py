"""The sender: a background task of the API process that claims due deliveries, POSTs
them signed (Standard Webhooks) and records every attempt; retries back off
exponentially (docs/events.md#delivery).

Its own short transactions are the point here (a claim; the records of the attempts
that finished meanwhile), as for the webhook inbox: it works outside any request."""

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
    # A secret rotated away, still in its overlap: it signs too
    # (docs/events.md#rotating-the-secret).
    previous_secret: str | None = None


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    status_code: int | None
    error: str | None
    started: datetime
    duration_ms: int


class Sender:
    """One per app (started and stopped by its lifespan). Up to events_batch_size
    attempts run at once; as each ends a free place is filled from the due deliveries,
    so a slow receiver holds the places of its own deliveries, not a whole round.
    Finished attempts are recorded together, in one transaction for all that finished
    meanwhile. `settings` is read anew each time: a change applies at once."""

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
        self._finished = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._attempts: set[asyncio.Task[None]] = set()
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
        self._tasks = [
            asyncio.create_task(self._run(), name="event-sender"),
            asyncio.create_task(self._recorder(), name="event-recorder"),
        ]

    async def stop(self) -> None:
        if self._wake_on is not None:
            outbox.unregister(self._wake_on)
        for task in [*self._tasks, *self._attempts]:
            task.cancel()
        for task in [*self._tasks, *self._attempts]:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []
        # Attempts that ended are recorded; those cut short are due again at once, in
        # the next process.
        try:
            await self._record_finished()
        except Exception:
            logger.warning("could not record the last attempts", exc_info=True)
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
            wait = self._settings().events_poll_seconds
            try:
                free = self._settings().events_batch_size - len(self._in_flight)
                if free > 0 and await self.run_once(free) < free:
                    wait = await self.seconds_to_next(wait)
                # Else every place is taken: a finished attempt wakes this loop.
            except Exception:
                logger.exception("the event sender failed to claim; trying again later")
            if wait > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass

    async def _recorder(self) -> None:
        while True:
            await self._finished.wait()
            self._finished.clear()
            try:
                await self._record_finished()
            except Exception:
                logger.exception("the event sender failed to record attempts")
            self._wake.set()  # places are free again

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

    async def run_once(self, limit: int | None = None) -> int:
        """Claim due deliveries (at most `limit`, by default a batch) and start their
        attempts; answers how many were claimed."""
        claims = await self._claim(limit or self._settings().events_batch_size)
        for claim in claims:
            task = asyncio.create_task(self._attempt(claim))
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
        return len(claims)

    async def _claim(self, limit: int) -> list[Claim]:
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
            .limit(limit)
        )
        # A read first: with nothing due, no write transaction is opened at all (SQLite
        # has one writer at a time, and an idle sender polls every few seconds).
        async with self._maker() as reader:
            if await reader.scalar(picked.limit(1)) is None:
                return []
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
                sub_id: (url, secret, previous if until is not None and until > now else None)
                for sub_id, url, secret, previous, until in (
                    await session.execute(
                        select(
                            col(EventSubscription.id),
                            col(EventSubscription.url),
                            col(EventSubscription.secret),
                            col(EventSubscription.previous_secret),
                            col(EventSubscription.previous_secret_until),
                        ).where(col(EventSubscription.id).in_({row[1] for row in rows}))
                    )
                ).all()
            }
        claims = sorted(
            (
                Claim(
                    int(row[0] or 0),
                    subs[row[1]][0],
                    subs[row[1]][1],
                    row[2].encode(),
                    row[3],
                    row[4],
                    subs[row[1]][2],
                )
                for row in rows
            ),
            key=lambda claim: claim.id,
        )
        self._in_flight.update(claim.id for claim in claims)
        return claims

    async def _attempt(self, claim: Claim) -> None:
        started = self.clock()
        try:
            outcome = await self._post(claim)
        except Exception as exc:  # whatever went wrong is this attempt's error
            logger.warning("delivery %s: the attempt failed", claim.id, exc_info=True)
            outcome = Outcome(
                claim, None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH], started, 0
            )
        self._outcomes.append(outcome)
        self._finished.set()

    async def _post(self, claim: Claim) -> Outcome:
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
            # Standard Webhooks: signatures separated by spaces, any one of them valid.
            "webhook-signature": " ".join(
                sign(secret, msg_id, timestamp, claim.body)
                for secret in (claim.secret, claim.previous_secret)
                if secret is not None
            ),
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
        return Outcome(claim, status_code, error and error[:MAX_ERROR_LENGTH], started, duration_ms)

    async def _record_finished(self) -> None:
        """Record the attempts finished so far: one transaction for all of them; if that
        fails (a delivery deleted meanwhile), one each, so one bad row costs only its
        own record (its claim lapses and it is sent again)."""
        outcomes, self._outcomes = self._outcomes, []
        if not outcomes:
            return
        try:
            await self._record(outcomes)
        except Exception:
            for outcome in outcomes:
                try:
                    await self._record([outcome])
                except Exception:
                    logger.warning(
                        "delivery %s: the attempt could not be recorded",
                        outcome.claim.id,
                        exc_info=True,
                    )
        for outcome in outcomes:
            self._in_flight.discard(outcome.claim.id)

    async def _record(self, outcomes: list[Outcome]) -> None:
        settings = self._settings()
        attempts = []
        changes = []
        for outcome in outcomes:
            claim, started = outcome.claim, outcome.started
            count = claim.attempt_count + 1
            first = claim.first_attempt_at or started
            attempts.append(
                {
                    "delivery_id": claim.id,
                    "attempted_at": started,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "duration_ms": outcome.duration_ms,
                }
            )
            change: dict[str, object] = {
                "id": claim.id,
                "attempt_count": count,
                "first_attempt_at": first,
                "last_attempt_at": started,
                "delivered_at": None,
            }
            if outcome.status_code is not None and 200 <= outcome.status_code < 300:
                change.update(
                    status=DeliveryStatus.delivered.value,
                    next_attempt_at=None,
                    delivered_at=self.clock(),
                )
            else:
                due = next_attempt(first, count, started, settings)
                status = DeliveryStatus.pending if due is not None else DeliveryStatus.failed
                change.update(status=status.value, next_attempt_at=due)
            changes.append(change)
        async with self._maker.begin() as session:
            await session.execute(insert(EventAttempt), attempts)
            # Updates by primary key, one executemany.
            await session.execute(update(EventDelivery), changes)
