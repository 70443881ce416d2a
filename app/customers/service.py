"""Customers and their vendor accounts: plain async functions, no HTTP."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.crud import (
    apply,
    changes,
    ensure_unique,
    ensure_unique_external_ref,
    ensure_unreferenced,
    get_or_404,
    require_reference,
    search,
)
from app.core.errors import NotFound
from app.core.pagination import Page, PageParams, paginate
from app.customers.models import (
    Customer,
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    VendorAccount,
    VendorAccountCreate,
    VendorAccountRead,
)
from app.vendors.models import Vendor


async def _check_external_ref(
    session: AsyncSession, external_ref: str | None, exclude_id: int | None
) -> None:
    await ensure_unique_external_ref(
        session, Customer, external_ref, exclude_id=exclude_id, kind="customer"
    )


async def _customer_row(session: AsyncSession, customer_id: int) -> Customer:
    """The customer's row, to change or delete it: a 404 when there is none."""
    return await get_or_404(session, Customer, customer_id, "customer")


async def create_customer(session: AsyncSession, *, data: CustomerCreate) -> CustomerRead:
    await _check_external_ref(session, data.external_ref, None)
    customer = Customer(**data.model_dump())
    session.add(customer)
    await session.flush()
    return CustomerRead.model_validate(customer)


async def get_customer(session: AsyncSession, *, customer_id: int) -> CustomerRead:
    return CustomerRead.model_validate(await _customer_row(session, customer_id))


async def list_customers(
    session: AsyncSession,
    *,
    page: PageParams,
    q: str | None = None,
    active: bool | None = None,
    external_ref: str | None = None,
    quickbooks_id: str | None = None,
) -> Page[CustomerRead]:
    stmt = select(Customer)
    stmt = search(stmt, [Customer.name, Customer.external_ref], q)
    if active is not None:
        stmt = stmt.where(col(Customer.active) == active)
    if external_ref is not None:
        stmt = stmt.where(col(Customer.external_ref) == external_ref)
    if quickbooks_id is not None:
        stmt = stmt.where(col(Customer.quickbooks_id) == quickbooks_id)
    return await paginate(session, stmt, Customer.id, page, CustomerRead.model_validate)


async def update_customer(
    session: AsyncSession, *, customer_id: int, data: CustomerUpdate
) -> CustomerRead:
    customer = await _customer_row(session, customer_id)
    values = changes(data, required=("name", "active"))
    if "external_ref" in values:
        await _check_external_ref(session, values["external_ref"], customer_id)
    apply(customer, values)
    await session.flush()
    await session.refresh(customer)
    return CustomerRead.model_validate(customer)


async def delete_customer(session: AsyncSession, *, customer_id: int) -> None:
    customer = await _customer_row(session, customer_id)
    await ensure_unreferenced(session, Customer, customer_id, "customer")
    await session.delete(customer)
    await session.flush()


async def add_vendor_account(
    session: AsyncSession, *, customer_id: int, data: VendorAccountCreate
) -> VendorAccountRead:
    await _customer_row(session, customer_id)
    await require_reference(session, Vendor, data.vendor_id, "vendor_id", "vendor")
    await ensure_unique(
        session,
        VendorAccount,
        [
            col(VendorAccount.vendor_id) == data.vendor_id,
            col(VendorAccount.account_ref) == data.account_ref,
        ],
        exclude_id=None,
        field="account_ref",
        message=f"Vendor {data.vendor_id} already uses account_ref '{data.account_ref}'.",
    )
    account = VendorAccount(customer_id=customer_id, **data.model_dump())
    session.add(account)
    await session.flush()
    return VendorAccountRead.model_validate(account)


async def list_vendor_accounts(
    session: AsyncSession, *, customer_id: int, page: PageParams, vendor_id: int | None = None
) -> Page[VendorAccountRead]:
    await _customer_row(session, customer_id)
    stmt = select(VendorAccount).where(col(VendorAccount.customer_id) == customer_id)
    if vendor_id is not None:
        stmt = stmt.where(col(VendorAccount.vendor_id) == vendor_id)
    return await paginate(session, stmt, VendorAccount.id, page, VendorAccountRead.model_validate)


async def delete_vendor_account(
    session: AsyncSession, *, customer_id: int, account_id: int
) -> None:
    account = await get_or_404(session, VendorAccount, account_id, "vendor account")
    if account.customer_id != customer_id:
        raise NotFound.of("vendor account", account_id)
    await session.delete(account)
    await session.flush()
