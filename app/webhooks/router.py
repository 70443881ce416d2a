"""HTTP for vendor webhooks and their inbox. The delivery route reads the raw body itself:
the signature covers the exact bytes, so nothing may parse them before it is checked."""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery
from app.vendor_invoices.models import VendorInvoicePayload
from app.webhooks import service
from app.webhooks.models import (
    EventStatus,
    WebhookDelivered,
    WebhookEventDetail,
    WebhookEventRead,
)

router = api_router(tags=["webhooks"])

AUTH = problem_responses(401, 403)


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Webhook handling runs several short transactions (the inbox insert, a redelivery's
    read, recording a crash), so it takes the session factory, not one session."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


MakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


def _inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The payload's JSON schema with its $defs inlined, so the request body documents
    itself without depending on which components other routes happen to produce."""
    schema = copy.deepcopy(schema)
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_PAYLOAD_SCHEMA = _inline_schema(VendorInvoicePayload.model_json_schema())

_DELIVERY_DESCRIPTION = """
The vendor invoice of `POST /api/v1/vendor-invoices` without `vendor_id`, signed as the
[Standard Webhooks](https://www.standardwebhooks.com/) specification says: `webhook-id`,
`webhook-timestamp` (unix seconds, at most 5 minutes off) and `webhook-signature`
(space-separated `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
base64 part of the vendor's `whsec_` secret). No API key.

- Bad or missing signature, unknown vendor, stale or future timestamp: 401, nothing stored.
- Otherwise the event is kept (see `/webhook-events`) and processed: 200 with the event and
  the invoice id; 422 (invalid body) or 409 (invoice number already sent) with `event_id`,
  the event kept as failed and replayable.
- The same `webhook-id` again gets the first answer again (with the header
  `Webhook-Replayed: true`); nothing is processed twice.
"""


@router.post(
    "/webhooks/vendors/{vendor_id}/invoices",
    response_model=WebhookDelivered,
    summary="Receive a signed vendor invoice (Standard Webhooks)",
    description=_DELIVERY_DESCRIPTION,
    responses=problem_responses(401, 409, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _PAYLOAD_SCHEMA}},
        }
    },
)
async def receive_invoice(
    # Any id, even one that names nothing, is answered 401 like a bad signature.
    vendor_id: int,
    request: Request,
    maker: MakerDep,
    webhook_id: Annotated[
        str | None, Header(description="Unique per delivery; redeliveries repeat it")
    ] = None,
    webhook_timestamp: Annotated[
        str | None, Header(description="Unix seconds when the delivery was signed")
    ] = None,
    webhook_signature: Annotated[
        str | None, Header(description="Space-separated `v1,<base64>` signatures")
    ] = None,
) -> Response:
    # The header parameters document the contract; the service reads the same values
    # from the request headers.
    del webhook_id, webhook_timestamp, webhook_signature
    body = await request.body()
    answer = await service.receive(maker, vendor_id=vendor_id, headers=request.headers, body=body)
    headers = {"Webhook-Replayed": "true"} if answer.replayed else None
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers
    )


@router.get(
    "/webhook-events",
    response_model=Page[WebhookEventRead],
    summary="List received webhook events (the inbox)",
    responses={**AUTH, **problem_responses(422)},
)
async def list_events(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    vendor_id: IdQuery = None,
    status: Annotated[
        EventStatus | None, Query(description="received, processed or failed")
    ] = None,
) -> Page[WebhookEventRead]:
    """The inbox of signed vendor deliveries (docs/webhooks.md#inbox), in id order,
    optionally for one vendor or status; failed events can be replayed."""
    return await service.list_events(session, page=page, vendor_id=vendor_id, status=status)


@router.get(
    "/webhook-events/{event_id}",
    response_model=WebhookEventDetail,
    summary="Get a webhook event with its headers and raw body",
    responses={**AUTH, **problem_responses(404)},
)
async def get_event(event_id: IdPath, session: SessionDep, _: ReadKey) -> WebhookEventDetail:
    """One received event with the headers and raw body it arrived with, its status, error
    and the invoice it made."""
    return await service.get_event(session, event_id=event_id)


@router.post(
    "/webhook-events/{event_id}/replay",
    response_model=WebhookEventRead,
    summary="Process a failed webhook event again (e.g. after fixing the vendor)",
    description="Answers the event with its new outcome: processed with its invoice, or "
    "failed with the new error. An event already processed is a 409.",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def replay_event(event_id: IdPath, maker: MakerDep, _: WriteKey) -> WebhookEventRead:
    return await service.replay_event(maker, event_id=event_id)
