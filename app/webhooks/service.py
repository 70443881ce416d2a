"""Vendor webhooks (docs/webhooks.md): verify, keep the raw event (the inbox), process it
into a vendor invoice, and answer every redelivery of a webhook-id with its first answer.

Redelivery is settled by the unique (vendor_id, webhook_id) constraint, never by a
check-then-insert: a second INSERT of the same id blocks until the first transaction
ends (PostgreSQL's unique index; SQLite's write lock), then fails, and the loser reads
and answers the stored response.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer
from sqlmodel import col

from app.core import signature
from app.core.db import repeatable_reads, utcnow
from app.core.errors import (
    PROBLEM_JSON,
    AppError,
    Conflict,
    Invalid,
    NotFound,
    Unauthorized,
    field_error,
    problem_response,
)
from app.core.pagination import Page, PageParams, paginate
from app.core.routing import loads_body
from app.core.types import MAX_ID
from app.vendor_invoices.models import InvoiceSource, VendorInvoicePayload
from app.vendor_invoices.service import DUPLICATE_NUMBER, DuplicateInvoice, announce, ingest
from app.vendors.models import Vendor
from app.webhooks.models import (
    EventStatus,
    WebhookDelivered,
    WebhookEvent,
    WebhookEventDetail,
    WebhookEventRead,
)

logger = logging.getLogger("app.webhooks")

T = TypeVar("T")

# The path a stored problem names as its `instance` (replays answer it too).
WEBHOOK_PATH = "/api/v1/webhooks/vendors/{vendor_id}/invoices"
# Headers kept with the event, for whoever debugs a delivery later.
KEPT_HEADERS = (
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "user-agent",
)
INTERNAL_ERROR = "internal error"
MAX_ERRORS_IN_SUMMARY = 20

_payload = TypeAdapter(VendorInvoicePayload)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a delivery, as stored on its event."""

    status: int
    body: bytes
    replayed: bool = False

    @property
    def media_type(self) -> str:
        return PROBLEM_JSON if self.status >= 400 else "application/json"


# --- receiving ---------------------------------------------------------------------------


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in KEPT_HEADERS if name in headers}


def _valid_secrets(vendor: Vendor, now: datetime) -> list[str]:
    secrets = [vendor.webhook_secret]
    expires = vendor.previous_secret_expires_at
    if vendor.previous_webhook_secret and expires is not None and expires > now:
        secrets.append(vendor.previous_webhook_secret)
    return secrets


async def _verified_vendor(
    maker: async_sessionmaker[AsyncSession],
    *,
    vendor_id: int,
    headers: Mapping[str, str],
    body: bytes,
) -> signature.SignedHeaders:
    """401 for anything that is not a fresh delivery signed by this vendor; nothing stored.
    An unknown vendor answers like a bad signature, so ids cannot be probed."""
    try:
        signed = signature.read_headers(
            headers.get("webhook-id"),
            headers.get("webhook-timestamp"),
            headers.get("webhook-signature"),
        )
        now = utcnow()
        signature.check_timestamp(signed.timestamp, now=now.timestamp())
        vendor = None
        if 0 < vendor_id <= MAX_ID:
            async with maker() as session:
                vendor = await session.get(Vendor, vendor_id)
        if vendor is None:
            raise signature.SignatureError("no webhook-signature matches the vendor's secret")
        signature.verify(signed, body, _valid_secrets(vendor, now))
    except signature.SignatureError as exc:
        logger.info("webhook for vendor %s rejected: %s", vendor_id, exc)
        raise Unauthorized(f"The webhook was not accepted: {exc}.") from None
    return signed


async def receive(
    maker: async_sessionmaker[AsyncSession],
    *,
    vendor_id: int,
    headers: Mapping[str, str],
    body: bytes,
) -> Answer:
    """Handle one delivery (docs/webhooks.md#outcomes) and return the answer to give."""
    signed = await _verified_vendor(maker, vendor_id=vendor_id, headers=headers, body=body)
    stored_headers = json.dumps(kept_headers(headers), sort_keys=True)

    async def first_delivery() -> Answer | None:
        async with maker() as session:
            # A new event and invoice only, no row another transaction updates: its
            # checks read one state (docs/checks.md#consistency).
            await repeatable_reads(session)
            # The inbox row comes first, in the same transaction as the invoice: the
            # event and its outcome commit together, or not at all.
            event = WebhookEvent(
                vendor_id=vendor_id,
                webhook_id=signed.msg_id,
                status=EventStatus.received.value,
                headers=stored_headers,
                body=body,
                attempts=1,
            )
            session.add(event)
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                return None  # a delivery of this webhook-id got there first
            answer = await _process(session, event)
            await session.commit()
            return answer

    async def record_crash() -> None:
        async with maker() as session:
            session.add(
                WebhookEvent(
                    vendor_id=vendor_id,
                    webhook_id=signed.msg_id,
                    status=EventStatus.failed.value,
                    error=INTERNAL_ERROR,
                    headers=stored_headers,
                    body=body,
                    attempts=1,
                )
            )
            await session.commit()

    answer = await _guarded(first_delivery, record_crash)
    if answer is not None:
        return answer
    return await _redelivery(maker, vendor_id=vendor_id, webhook_id=signed.msg_id)


async def _redelivery(
    maker: async_sessionmaker[AsyncSession], *, vendor_id: int, webhook_id: str
) -> Answer:
    """The first answer again; or, when the first handling crashed (no stored answer),
    process the stored event once more."""
    event = await _find(maker, vendor_id=vendor_id, webhook_id=webhook_id)
    if event.response_status is None:
        assert event.id is not None
        answer = await _reprocess(
            maker, event_id=event.id, when=col(WebhookEvent.response_status).is_(None)
        )
        if answer is not None:
            return answer
        # Another delivery reprocessed it meanwhile: answer what it stored.
        event = await _find(maker, vendor_id=vendor_id, webhook_id=webhook_id)
    assert event.response_status is not None and event.response_body is not None
    return Answer(event.response_status, event.response_body.encode(), replayed=True)


async def _find(
    maker: async_sessionmaker[AsyncSession], *, vendor_id: int, webhook_id: str
) -> WebhookEvent:
    async with maker() as session:
        event = await session.scalar(
            select(WebhookEvent).where(
                col(WebhookEvent.vendor_id) == vendor_id,
                col(WebhookEvent.webhook_id) == webhook_id,
            )
        )
    if event is None:
        # The INSERT failed on something other than the webhook-id: the vendor was
        # deleted between the signature check and the insert.
        raise Unauthorized("The webhook was not accepted: the vendor no longer exists.")
    return event


# --- processing --------------------------------------------------------------------------


async def _guarded(
    run: Callable[[], Awaitable[T]], record_crash: Callable[[], Awaitable[None]]
) -> T:
    """Run one handling. Losing the race on the invoice number (the unique constraint at
    flush) is retried once; the retry then sees the duplicate and answers 409. Anything
    unexpected is recorded on the event as "internal error" with no stored answer (so a
    redelivery processes again), then re-raised for the 500."""
    for attempt in (1, 2):
        try:
            return await run()
        except AppError:
            raise
        except IntegrityError:
            if attempt == 1:
                logger.info("webhook processing lost a race; retrying once")
                continue
            await _record(record_crash)
            raise
        except Exception:
            await _record(record_crash)
            raise
    raise AssertionError("unreachable")


async def _record(record_crash: Callable[[], Awaitable[None]]) -> None:
    try:
        await record_crash()
    except Exception:  # the database may be what failed; the 500 goes out regardless
        logger.warning("could not record the failed webhook event", exc_info=True)


async def _reprocess(
    maker: async_sessionmaker[AsyncSession], *, event_id: int, when: ColumnElement[bool]
) -> Answer | None:
    """Process a stored event again if `when` holds for it, else None. The guarded
    UPDATE comes first and takes the row's write lock, so two reprocessings of one
    event run one after the other and the second sees the first's outcome."""

    async def run() -> Answer | None:
        async with maker() as session:
            claimed = await session.scalar(
                update(WebhookEvent)
                .where(col(WebhookEvent.id) == event_id, when)
                .values(attempts=col(WebhookEvent.attempts) + 1)
                .returning(col(WebhookEvent.id))
            )
            if claimed is None:
                return None
            event = await session.get(WebhookEvent, event_id)
            assert event is not None
            answer = await _process(session, event)
            await session.commit()
            return answer

    async def record_crash() -> None:
        async with maker() as session:
            await session.execute(
                update(WebhookEvent)
                .where(col(WebhookEvent.id) == event_id)
                .values(
                    status=EventStatus.failed.value,
                    error=INTERNAL_ERROR,
                    response_status=None,
                    response_body=None,
                    attempts=col(WebhookEvent.attempts) + 1,
                )
            )
            await session.commit()

    return await _guarded(run, record_crash)


def _parse(body: bytes) -> VendorInvoicePayload:
    """The body as an invoice: numbers read as Decimal from their text (docs/README.md#money),
    errors named by field path like any other 422."""
    try:
        data = loads_body(body)
    except json.JSONDecodeError as exc:
        at = f" at character {exc.pos}" if exc.pos > 0 else ""
        raise Invalid(
            f"The body is not valid JSON: {exc.msg}.",
            errors=[field_error("body", exc.msg + at, "json_invalid")],
        ) from None
    # JSON carries NUL only as the escape \u0000 (a raw control character is invalid), so
    # a UTF-8 body holding neither that escape nor a zero byte (which any UTF-16/32 body
    # holds) has none: skip the walk over every field of a 10,000-line invoice.
    maybe_nul = b"\\u0000" in body or b"\x00" in body
    nul = list(_nul_fields(data, "body")) if maybe_nul else []
    if nul:
        message = "must not contain NUL characters"
        raise Invalid(
            "The invoice is not valid: see errors.",
            errors=[field_error(field, message, "value_error") for field in nul],
        )
    try:
        return _payload.validate_python(data)
    except ValidationError as exc:
        errors = [
            field_error(
                ".".join(["body", *(str(part) for part in err["loc"])]),
                str(err["msg"]).removeprefix("Value error, "),
                err["type"],
            )
            for err in exc.errors()
        ]
        raise Invalid("The invoice is not valid: see errors.", errors=errors) from None


def _nul_fields(node: Any, path: str) -> Iterator[str]:
    """Strings holding NUL, which PostgreSQL text cannot store: refused on both backends
    as a 422 naming the field, never a database error halfway through."""
    if isinstance(node, str):
        if "\x00" in node:
            yield path
    elif isinstance(node, dict):
        for key, value in node.items():
            if "\x00" in key:
                yield path
            else:
                yield from _nul_fields(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nul_fields(value, f"{path}.{index}")


def _summary(exc: AppError) -> str:
    if isinstance(exc, DuplicateInvoice):
        return DUPLICATE_NUMBER
    if not exc.errors:
        return exc.detail
    parts = [f"{e['field']}: {e['message']}" for e in exc.errors[:MAX_ERRORS_IN_SUMMARY]]
    if len(exc.errors) > MAX_ERRORS_IN_SUMMARY:
        parts.append(f"and {len(exc.errors) - MAX_ERRORS_IN_SUMMARY} more errors")
    return "; ".join(parts)


async def _process(session: AsyncSession, event: WebhookEvent) -> Answer:
    """Turn the stored body into an invoice and record the outcome and the answer on the
    event. Does not commit. ingest validates before it writes, so a refusal leaves
    nothing but the event in the transaction."""
    assert event.id is not None
    vendor = await session.get(Vendor, event.vendor_id)
    assert vendor is not None  # the event references it; vendors in use cannot go
    try:
        payload = _parse(event.body)
        invoice = await ingest(
            session, vendor=vendor, payload=payload, source=InvoiceSource.webhook
        )
    except (Invalid, Conflict) as exc:
        event.status = EventStatus.failed.value
        event.error = _summary(exc)
        event.invoice_id = None
        response = problem_response(
            None,
            exc.status,
            code=exc.code,
            detail=exc.detail,
            errors=exc.errors,
            extra={
                **exc.extra,
                "instance": WEBHOOK_PATH.format(vendor_id=event.vendor_id),
                "event_id": event.id,
            },
        )
        answer = Answer(exc.status, bytes(response.body))
    else:
        checks = await announce(session, [invoice])
        event.status = EventStatus.processed.value
        event.error = None
        event.invoice_id = invoice.id
        event.processed_at = utcnow()
        assert invoice.id is not None
        delivered = WebhookDelivered(
            event=WebhookEventRead.model_validate(event),
            invoice_id=invoice.id,
            checks=checks[invoice.id],
        )
        answer = Answer(200, delivered.model_dump_json().encode())
    event.response_status = answer.status
    event.response_body = answer.body.decode()
    await session.flush()
    return answer


# --- the inbox ---------------------------------------------------------------------------


async def list_events(
    session: AsyncSession,
    *,
    page: PageParams,
    vendor_id: int | None = None,
    status: EventStatus | None = None,
) -> Page[WebhookEventRead]:
    # The list shows no bodies: leave each raw invoice (megabytes for a big one) unread.
    stmt = select(WebhookEvent).options(
        defer(WebhookEvent.body, raiseload=True),  # type: ignore[arg-type]
        defer(WebhookEvent.response_body, raiseload=True),  # type: ignore[arg-type]
    )
    if vendor_id is not None:
        stmt = stmt.where(col(WebhookEvent.vendor_id) == vendor_id)
    if status is not None:
        stmt = stmt.where(col(WebhookEvent.status) == status.value)
    return await paginate(session, stmt, WebhookEvent.id, page, WebhookEventRead.model_validate)


async def get_event(session: AsyncSession, *, event_id: int) -> WebhookEventDetail:
    event = await session.get(WebhookEvent, event_id) if 0 < event_id <= MAX_ID else None
    if event is None:
        raise NotFound.of("webhook event", event_id)
    headers: dict[str, Any] = json.loads(event.headers)
    return WebhookEventDetail.model_validate(
        {
            **WebhookEventRead.model_validate(event).model_dump(),
            "headers": {str(k): str(v) for k, v in headers.items()},
            "body": event.body.decode("utf-8", errors="replace"),
        }
    )


async def replay_event(
    maker: async_sessionmaker[AsyncSession], *, event_id: int
) -> WebhookEventRead:
    """Process a stored event again, e.g. after fixing the vendor. The signature was
    verified on receipt. The new answer is stored, so a redelivery answers the current
    outcome."""
    if not 0 < event_id <= MAX_ID:
        raise NotFound.of("webhook event", event_id)
    answer = await _reprocess(
        maker, event_id=event_id, when=col(WebhookEvent.status) != EventStatus.processed.value
    )
    async with maker() as session:
        event = await session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound.of("webhook event", event_id)
    if answer is None:
        raise Conflict(
            f"Webhook event {event_id} is already processed (invoice {event.invoice_id}).",
            extra={"event_id": event_id, "invoice_id": event.invoice_id},
        )
    return WebhookEventRead.model_validate(event)
