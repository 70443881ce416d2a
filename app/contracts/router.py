"""HTTP for contracts, their lines, adjustments and revenue schedules: parse, call the
service, shape."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.contracts import service
from app.contracts.models import (
    AdjustmentCreate,
    AdjustmentRead,
    ContractCancel,
    ContractCreate,
    ContractDetail,
    ContractRead,
    ContractSchedule,
    ContractStatus,
    ContractUpdate,
    LineCreate,
    LineRead,
    LineUpdate,
)
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery

router = api_router(prefix="/contracts", tags=["contracts"])

AUTH = problem_responses(401, 403)
LINE_PATH = "/{contract_id}/lines/{line_id}"


# --- contracts -------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=ContractRead,
    summary="Create a contract",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_contract(body: ContractCreate, session: SessionDep, _: WriteKey) -> ContractRead:
    """A recurring contract of a customer, from `start_date` to `end_date` (inclusive;
    null: open-ended), status active. Add what it sells with POST
    /contracts/{contract_id}/lines."""
    return await service.create_contract(session, data=body)


@router.get(
    "",
    response_model=Page[ContractRead],
    summary="List contracts",
    responses={**AUTH, **problem_responses(422)},
)
async def list_contracts(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    customer_id: IdQuery = None,
    status: ContractStatus | None = None,
    q: Annotated[str | None, Query(description="Search in name and external_ref")] = None,
    active_on: Annotated[
        date | None,
        Query(description="Only contracts in force that day: start_date <= d <= end_date"),
    ] = None,
) -> Page[ContractRead]:
    """Contracts in id order, one page at a time, optionally filtered by customer, status,
    a search or the day they are in force."""
    return await service.list_contracts(
        session, page=page, customer_id=customer_id, status=status, q=q, active_on=active_on
    )


@router.get(
    "/{contract_id}",
    response_model=ContractDetail,
    summary="Get a contract with its lines and their adjustment history",
    responses={**AUTH, **problem_responses(404)},
)
async def get_contract(contract_id: IdPath, session: SessionDep, _: ReadKey) -> ContractDetail:
    """One contract with its lines and each line's adjustment history."""
    return await service.get_contract_detail(session, contract_id=contract_id)


@router.patch(
    "/{contract_id}",
    response_model=ContractRead,
    summary="Change a contract's name, reference or dates",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_contract(
    contract_id: IdPath, body: ContractUpdate, session: SessionDep, _: WriteKey
) -> ContractRead:
    """Changes only the fields the body names; the revenue of every month is worked out
    again from the new dates when audits and reports run (docs/month-arithmetic.md)."""
    return await service.update_contract(session, contract_id=contract_id, data=body)


@router.delete(
    "/{contract_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a contract that has no lines",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_contract(contract_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    """Only a contract without lines (409 otherwise): cancel a contract that has run, to
    keep its history."""
    await service.delete_contract(session, contract_id=contract_id)


@router.post(
    "/{contract_id}/cancel",
    response_model=ContractRead,
    summary="Cancel a contract: effective_date becomes its last day of service",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def cancel_contract(
    contract_id: IdPath, body: ContractCancel, session: SessionDep, _: WriteKey
) -> ContractRead:
    """Sets `end_date` to `effective_date` (at least the day before start_date, at most the
    current end_date) and the status to cancelled; revenue stops after that day
    (docs/month-arithmetic.md#cancellation)."""
    return await service.cancel_contract(session, contract_id=contract_id, data=body)


@router.get(
    "/{contract_id}/schedule",
    response_model=ContractSchedule,
    summary="Revenue schedule: every line in every month of a range (docs/month-arithmetic.md)",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def contract_schedule(
    contract_id: IdPath,
    session: SessionDep,
    _: ReadKey,
    from_: Annotated[
        str, Query(alias="from", description="First period, YYYY-MM", examples=["2026-01"])
    ],
    to: Annotated[
        str,
        Query(description="Last period, YYYY-MM (at most 120 months)", examples=["2026-12"]),
    ],
) -> ContractSchedule:
    """What each line of the contract earns in each month of the range, prorated by active
    days and rounded once per line and month, with the month totals
    (docs/month-arithmetic.md#revenue)."""
    first, last = service.schedule_range(from_, to)
    return await service.contract_schedule(session, contract_id=contract_id, first=first, last=last)


# --- lines -----------------------------------------------------------------------------------


@router.post(
    "/{contract_id}/lines",
    status_code=201,
    response_model=LineRead,
    summary="Add a line; price and dates default to the service's list price and the "
    "contract's dates",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def add_line(
    contract_id: IdPath, body: LineCreate, session: SessionDep, _: WriteKey
) -> LineRead:
    """A service sold under the contract: `quantity` units at `unit_price` (default: the
    service's list price) per month, between the line's dates (default: the contract's).
    Only the overlap with the contract's dates counts."""
    return await service.add_line(session, contract_id=contract_id, data=body)


@router.get(
    "/{contract_id}/lines",
    response_model=Page[LineRead],
    summary="List the contract's lines",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def list_lines(
    contract_id: IdPath, session: SessionDep, _: ReadKey, page: PageDep
) -> Page[LineRead]:
    """The contract's lines in id order, each with its adjustment history; 404 when the
    contract does not exist."""
    return await service.list_lines(session, contract_id=contract_id, page=page)


@router.get(
    LINE_PATH,
    response_model=LineRead,
    summary="Get a contract line with its adjustment history",
    responses={**AUTH, **problem_responses(404)},
)
async def get_line(
    contract_id: IdPath, line_id: IdPath, session: SessionDep, _: ReadKey
) -> LineRead:
    """One line of the contract with its adjustment history; 404 when the line is not the
    contract's."""
    return await service.get_line(session, contract_id=contract_id, line_id=line_id)


@router.patch(
    LINE_PATH,
    response_model=LineRead,
    summary="Change a contract line",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def update_line(
    contract_id: IdPath, line_id: IdPath, body: LineUpdate, session: SessionDep, _: WriteKey
) -> LineRead:
    """Changes the line's unit price, dates or description; quantity changes are
    adjustments (POST .../adjustments), so the history of quantities is kept."""
    return await service.update_line(session, contract_id=contract_id, line_id=line_id, data=body)


@router.delete(
    LINE_PATH,
    status_code=204,
    response_class=Response,
    summary="Delete a contract line that has no adjustments",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_line(
    contract_id: IdPath, line_id: IdPath, session: SessionDep, _: WriteKey
) -> None:
    """Only a line without adjustments (409 otherwise)."""
    await service.delete_line(session, contract_id=contract_id, line_id=line_id)


# --- adjustments -----------------------------------------------------------------------------


@router.post(
    LINE_PATH + "/adjustments",
    status_code=201,
    response_model=AdjustmentRead,
    summary="Record a quantity change from a date on (past or future)",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def add_adjustment(
    contract_id: IdPath, line_id: IdPath, body: AdjustmentCreate, session: SessionDep, _: WriteKey
) -> AdjustmentRead:
    """From `effective_date` on, the line's quantity is `quantity`; days before keep the
    quantity they had. The date may lie in the past or the future
    (docs/month-arithmetic.md#adjustments)."""
    return await service.add_adjustment(
        session, contract_id=contract_id, line_id=line_id, data=body
    )


@router.get(
    LINE_PATH + "/adjustments",
    response_model=Page[AdjustmentRead],
    summary="List a line's adjustments in recording order",
    responses={**AUTH, **problem_responses(404, 422)},
)
async def list_adjustments(
    contract_id: IdPath, line_id: IdPath, session: SessionDep, _: ReadKey, page: PageDep
) -> Page[AdjustmentRead]:
    """The line's quantity changes, one page at a time, in the order they were recorded."""
    return await service.list_adjustments(
        session, contract_id=contract_id, line_id=line_id, page=page
    )
