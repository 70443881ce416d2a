"""HTTP for event subscriptions and their deliveries (docs/events.md). Admin scope:
a subscription sends the service's data to another system."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response

from app.auth.dependencies import AdminKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath
from app.events import service
from app.events.models import (
    DeliveryStatus,
    EventDeliveryRead,
    EventSubscriptionCreate,
    EventSubscriptionCreated,
    EventSubscriptionRead,
    EventSubscriptionUpdate,
    SecretRotated,
)

router = api_router(prefix="/event-subscriptions", tags=["events"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=EventSubscriptionCreated,
    operation_id="create_event_subscription",
    summary="Subscribe a URL to events (the answer shows its signing secret, once)",
    description="Events are POSTed as `{type, timestamp, data}`, signed as Standard "
    "Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the secret in "
    "this answer. Only http(s) URLs; hosts resolving to loopback, private or link-local "
    "addresses are a 422 unless MSP_EVENTS_ALLOW_PRIVATE=true.",
    responses={**AUTH, **problem_responses(422)},
)
async def create_event_subscription(
    body: EventSubscriptionCreate, request: Request, session: SessionDep, _: AdminKey
) -> EventSubscriptionCreated:
    return await service.create_subscription(
        session, data=body, settings=request.app.state.settings
    )


@router.get(
    "",
    response_model=Page[EventSubscriptionRead],
    operation_id="list_event_subscriptions",
    summary="List event subscriptions",
    responses={**AUTH, **problem_responses(422)},
)
async def list_event_subscriptions(
    session: SessionDep, _: AdminKey, page: PageDep
) -> Page[EventSubscriptionRead]:
    """Every subscription (URL, events, active), oldest first, one page at a time; the
    signing secrets are never shown again (docs/events.md#subscriptions)."""
    return await service.list_subscriptions(session, page=page)


@router.get(
    "/{subscription_id}",
    response_model=EventSubscriptionRead,
    operation_id="get_event_subscription",
    summary="Get an event subscription",
    responses={**AUTH, **problem_responses(404)},
)
async def get_event_subscription(
    subscription_id: IdPath, session: SessionDep, _: AdminKey
) -> EventSubscriptionRead:
    """One subscription: its URL, events and whether it is active (docs/events.md)."""
    return await service.get_subscription(session, subscription_id=subscription_id)


@router.patch(
    "/{subscription_id}",
    response_model=EventSubscriptionRead,
    operation_id="update_event_subscription",
    summary="Change an event subscription's URL, events or active flag",
    description="An inactive subscription gets no new deliveries; its pending ones wait "
    "until it is active again.",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def update_event_subscription(
    subscription_id: IdPath,
    body: EventSubscriptionUpdate,
    request: Request,
    session: SessionDep,
    _: AdminKey,
) -> EventSubscriptionRead:
    return await service.update_subscription(
        session,
        subscription_id=subscription_id,
        data=body,
        settings=request.app.state.settings,
    )


@router.delete(
    "/{subscription_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_event_subscription",
    summary="Delete an event subscription with its delivery history",
    responses={**AUTH, **problem_responses(404)},
)
async def delete_event_subscription(
    subscription_id: IdPath, session: SessionDep, _: AdminKey
) -> None:
    """The subscription and its delivery history are deleted; pending deliveries to it
    are never sent (docs/events.md#subscriptions)."""
    await service.delete_subscription(session, subscription_id=subscription_id)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[EventDeliveryRead],
    operation_id="list_event_deliveries",
    summary="List a subscription's deliveries with their attempts",
    description="Oldest first. Each delivery is one event for this subscription: its "
    "body, status (pending, delivered, failed), when the next attempt is due, and every "
    "attempt (time, HTTP status or error, duration).",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def list_event_deliveries(
    subscription_id: IdPath,
    session: SessionDep,
    _: AdminKey,
    page: PageDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status")] = None,
) -> Page[EventDeliveryRead]:
    return await service.list_deliveries(
        session, subscription_id=subscription_id, page=page, status=status
    )


@router.post(
    "/{subscription_id}/secret",
    response_model=SecretRotated,
    operation_id="rotate_event_subscription_secret",
    summary="Rotate a subscription's signing secret",
    responses={**AUTH, **problem_responses(404)},
)
async def rotate_event_subscription_secret(
    subscription_id: IdPath, request: Request, session: SessionDep, _: AdminKey
) -> SecretRotated:
    """A new secret, shown once in this answer. The secret it replaces keeps signing every
    attempt as a second signature until `previous_secret_until` (MSP_EVENTS_SECRET_OVERLAP_
    SECONDS, a day by default), so a receiver can take the new one without losing an event
    (docs/events.md#rotating-the-secret)."""
    return await service.rotate_secret(
        session, subscription_id=subscription_id, settings=request.app.state.settings
    )


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    response_model=EventDeliveryRead,
    operation_id="redeliver_event",
    summary="Send a delivered or failed event again",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def redeliver_event(
    subscription_id: IdPath, delivery_id: IdPath, session: SessionDep, _: AdminKey
) -> EventDeliveryRead:
    """The delivery is pending again, due now: the same body and webhook-id (a receiver
    that processed it before can drop it), a new round of retries for 24 hours, and its
    attempts so far kept. A pending delivery is a 409 (docs/events.md#redelivery)."""
    return await service.redeliver(
        session, subscription_id=subscription_id, delivery_id=delivery_id
    )
