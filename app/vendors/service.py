"""Vendors: plain async functions, no HTTP. The webhook secret is written once and
never read back through the API (SPEC section 3)."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.crud import apply, changes, ensure_unreferenced, get_or_404, search
from app.core.pagination import Page, PageParams, paginate
from app.customers.models import VendorAccount
from app.services.models import Service
from app.vendors.models import SECRET_PREFIX, Vendor, VendorCreate, VendorUpdate

SECRET_BYTES = 32


def generate_webhook_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def create_vendor(session: AsyncSession, *, data: VendorCreate) -> Vendor:
    vendor = Vendor(
        name=data.name,
        currency=data.currency,
        webhook_secret=data.webhook_secret or generate_webhook_secret(),
    )
    session.add(vendor)
    await session.commit()
    return vendor


async def get_vendor(session: AsyncSession, *, vendor_id: int) -> Vendor:
    return await get_or_404(session, Vendor, vendor_id, "vendor")


async def list_vendors(
    session: AsyncSession, *, page: PageParams, q: str | None = None
) -> Page[Vendor]:
    stmt = search(select(Vendor), [Vendor.name], q)
    return await paginate(session, stmt, Vendor.id, page)


async def update_vendor(session: AsyncSession, *, vendor_id: int, data: VendorUpdate) -> Vendor:
    vendor = await get_vendor(session, vendor_id=vendor_id)
    apply(vendor, changes(data, required=("name", "currency")))
    await session.commit()
    await session.refresh(vendor)
    return vendor


async def delete_vendor(session: AsyncSession, *, vendor_id: int) -> None:
    vendor = await get_vendor(session, vendor_id=vendor_id)
    await ensure_unreferenced(
        session,
        "vendor",
        vendor_id,
        [
            ("services", Service.vendor_id),
            ("vendor accounts", VendorAccount.vendor_id),
        ],
    )
    await session.delete(vendor)
    await session.commit()
