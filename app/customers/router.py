"""HTTP for customers and their vendor accounts: parse, call the service, shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery
from app.customers import service
from app.customers.models import (
    CustomerCreate,
    CustomerRead,
    CustomerUpdate,
    VendorAccountCreate,
    VendorAccountRead,
)

router = api_router(prefix="/customers", tags=["customers"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=CustomerRead,
    summary="Create a customer",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_customer(body: CustomerCreate, session: SessionDep, _: WriteKey) -> CustomerRead:
    """A customer the MSP bills. `external_ref` (the PSA's id) and `quickbooks_id` are
    optional; an external_ref already used by another customer is a 409."""
    return await service.create_customer(session, data=body)


@router.get(
    "",
    response_model=Page[CustomerRead],
    summary="List customers",
    responses={**AUTH, **problem_responses(422)},
)
async def list_customers(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    q: Annotated[str | None, Query(description="Search in name and external_ref")] = None,
    active: bool | None = None,
    external_ref: Annotated[str | None, Query(description="Exact PSA id")] = None,
    quickbooks_id: Annotated[
        str | None, Query(description="Exact QuickBooks Online Id (its CustomerRef)")
    ] = None,
) -> Page[CustomerRead]:
    """Customers in id order, one page at a time (docs/README.md#lists-and-cursors),
    optionally searched and filtered."""
    return await service.list_customers(
        session,
        page=page,
        q=q,
        active=active,
        external_ref=external_ref,
        quickbooks_id=quickbooks_id,
    )


@router.get(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Get a customer",
    responses={**AUTH, **problem_responses(404)},
)
async def get_customer(customer_id: IdPath, session: SessionDep, _: ReadKey) -> CustomerRead:
    """One customer by id; 404 when no customer has it."""
    return await service.get_customer(session, customer_id=customer_id)


@router.patch(
    "/{customer_id}",
    response_model=CustomerRead,
    summary="Change a customer",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_customer(
    customer_id: IdPath, body: CustomerUpdate, session: SessionDep, _: WriteKey
) -> CustomerRead:
    """Changes only the fields the body names (explicit null clears an optional field). An
    external_ref already used by another customer is a 409."""
    return await service.update_customer(session, customer_id=customer_id, data=body)


@router.delete(
    "/{customer_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a customer that nothing references",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_customer(customer_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    """Only while no other record refers to it: otherwise a 409 whose `referenced_by` says
    what still does (e.g. "2 contracts"). Deactivate (`active: false`) to keep history."""
    await service.delete_customer(session, customer_id=customer_id)


@router.post(
    "/{customer_id}/vendor-accounts",
    status_code=201,
    response_model=VendorAccountRead,
    summary="Record how a vendor names this customer on its invoices",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def add_vendor_account(
    customer_id: IdPath, body: VendorAccountCreate, session: SessionDep, _: WriteKey
) -> VendorAccountRead:
    """How a vendor names this customer on its invoices (`account_ref`); vendor invoice
    lines carrying it are matched to the customer when audits and reports run, so old
    invoices match too. Unique per vendor: 409."""
    return await service.add_vendor_account(session, customer_id=customer_id, data=body)


@router.get(
    "/{customer_id}/vendor-accounts",
    response_model=Page[VendorAccountRead],
    summary="List the customer's vendor accounts",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def list_vendor_accounts(
    customer_id: IdPath,
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    vendor_id: IdQuery = None,
) -> Page[VendorAccountRead]:
    """The customer's vendor accounts in id order, optionally for one vendor; 404 when the
    customer does not exist."""
    return await service.list_vendor_accounts(
        session, customer_id=customer_id, page=page, vendor_id=vendor_id
    )


@router.delete(
    "/{customer_id}/vendor-accounts/{account_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a vendor account",
    responses={**AUTH, **problem_responses(404)},
)
async def delete_vendor_account(
    customer_id: IdPath, account_id: IdPath, session: SessionDep, _: WriteKey
) -> None:
    """Removes the mapping: the vendor's lines with that account_ref stop matching the
    customer from the next audit or report on."""
    await service.delete_vendor_account(session, customer_id=customer_id, account_id=account_id)
