"""Vendors: plain async functions, no HTTP. The webhook secret is written once and
never read back through the API (docs/webhooks.md#signatures)."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crud import apply, changes, ensure_unreferenced, get_or_404, search
from app.core.db import utcnow
from app.core.errors import Invalid, field_error
from app.core.pagination import Page, PageParams, paginate
from app.vendors.models import (
    SECRET_PREFIX,
    Vendor,
    VendorCreate,
    VendorCreated,
    VendorRead,
    VendorUpdate,
    WebhookSecretRotate,
    WebhookSecretRotated,
)

SECRET_BYTES = 32
# How long the replaced secret keeps verifying, so a vendor can switch without a gap.
ROTATION_GRACE = timedelta(hours=24)


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def _vendor_row(session: AsyncSession, vendor_id: int) -> Vendor:
    """The vendor's row, secrets included: a 404 when there is none."""
    return await get_or_404(session, Vendor, vendor_id, "vendor")


async def create_vendor(session: AsyncSession, *, data: VendorCreate) -> VendorCreated:
    """The new vendor with its webhook secret: the one answer that shows it."""
    vendor = Vendor(
        name=data.name,
        currency=data.currency,
        cancel_window_days=data.cancel_window_days,
        webhook_secret=data.webhook_secret or generate_webhook_secret(),
    )
    session.add(vendor)
    await session.flush()
    return VendorCreated.model_validate(vendor)


async def get_vendor(session: AsyncSession, *, vendor_id: int) -> VendorRead:
    return VendorRead.model_validate(await _vendor_row(session, vendor_id))


async def list_vendors(
    session: AsyncSession, *, page: PageParams, q: str | None = None
) -> Page[VendorRead]:
    stmt = search(select(Vendor), [Vendor.name], q)
    return await paginate(session, stmt, Vendor.id, page, VendorRead.model_validate)


async def update_vendor(session: AsyncSession, *, vendor_id: int, data: VendorUpdate) -> VendorRead:
    vendor = await _vendor_row(session, vendor_id)
    apply(vendor, changes(data, required=("name", "currency")))
    await session.flush()
    await session.refresh(vendor)
    return VendorRead.model_validate(vendor)


async def delete_vendor(session: AsyncSession, *, vendor_id: int) -> None:
    vendor = await _vendor_row(session, vendor_id)
    await ensure_unreferenced(session, Vendor, vendor_id, "vendor")
    await session.delete(vendor)
    await session.flush()


async def rotate_webhook_secret(
    session: AsyncSession, *, vendor_id: int, data: WebhookSecretRotate
) -> WebhookSecretRotated:
    """A new secret verifies at once; the old one keeps verifying for ROTATION_GRACE.
    A second rotation within the grace period retires the oldest secret at once: only
    the current and the one before it ever verify."""
    vendor = await _vendor_row(session, vendor_id)
    new_secret = data.webhook_secret or generate_webhook_secret()
    if new_secret == vendor.webhook_secret:
        message = "must differ from the current secret"
        raise Invalid(
            f"The new webhook secret {message}.",
            errors=[field_error("body.webhook_secret", message, "unchanged")],
        )
    expires_at = utcnow() + ROTATION_GRACE
    vendor.previous_webhook_secret = vendor.webhook_secret
    vendor.previous_secret_expires_at = expires_at
    vendor.webhook_secret = new_secret
    await session.flush()
    return WebhookSecretRotated(webhook_secret=new_secret, previous_secret_expires_at=expires_at)
