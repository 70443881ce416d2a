"""Contracts, their lines and the lines' quantity adjustments: plain async functions, no
HTTP. The month arithmetic itself lives in app.contracts.arithmetic."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.contracts import arithmetic
from app.contracts.models import (
    AdjustmentCreate,
    AdjustmentRead,
    Contract,
    ContractCancel,
    ContractCreate,
    ContractDetail,
    ContractLine,
    ContractLineAdjustment,
    ContractRead,
    ContractSchedule,
    ContractStatus,
    ContractUpdate,
    LineCreate,
    LineRead,
    LineUpdate,
    ScheduleLineMonth,
    ScheduleMonth,
    ScheduleSegment,
)
from app.core.crud import (
    apply,
    changes,
    ensure_unique_external_ref,
    ensure_unreferenced,
    get_or_404,
    require_reference,
    search,
)
from app.core.errors import Invalid, NotFound, field_error
from app.core.money import line_amount_error
from app.core.pagination import Page, PageParams, paginate
from app.core.periods import Period, day_before, months_between, period_range_params
from app.customers.models import Customer
from app.services.models import Service

# A schedule longer than ten years is a mistake more often than a need, and its size
# grows with lines x months.
MAX_SCHEDULE_MONTHS = 120


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, errors=[field_error(field, message)])


# --- contracts -------------------------------------------------------------------------------


async def _check_external_ref(
    session: AsyncSession, external_ref: str | None, exclude_id: int | None
) -> None:
    await ensure_unique_external_ref(
        session, Contract, external_ref, exclude_id=exclude_id, kind="contract"
    )


def _check_contract_dates(start_date: date, end_date: date | None) -> None:
    if end_date is not None and end_date < start_date:
        raise _invalid(
            "body.end_date",
            f"end_date {end_date} is before start_date {start_date}; "
            "to end a contract before it starts, cancel it.",
        )


async def create_contract(session: AsyncSession, *, data: ContractCreate) -> ContractRead:
    await require_reference(session, Customer, data.customer_id, "customer_id", "customer")
    _check_contract_dates(data.start_date, data.end_date)
    await _check_external_ref(session, data.external_ref, None)
    contract = Contract(**data.model_dump())
    session.add(contract)
    await session.flush()
    return ContractRead.model_validate(contract)


async def _contract_row(session: AsyncSession, contract_id: int) -> Contract:
    """The contract's row, to read, change or check against: a 404 when there is none."""
    return await get_or_404(session, Contract, contract_id, "contract")


async def get_contract_detail(session: AsyncSession, *, contract_id: int) -> ContractDetail:
    """The contract with all its lines, each with its adjustment history: three queries
    whatever the number of lines."""
    contract = await _contract_row(session, contract_id)
    lines = (
        await session.scalars(
            select(ContractLine)
            .where(col(ContractLine.contract_id) == contract_id)
            .order_by(col(ContractLine.id))
        )
    ).all()
    history = await _adjustments_by_line(session, col(ContractLine.contract_id) == contract_id)
    return ContractDetail.model_validate(
        {
            **ContractRead.model_validate(contract).model_dump(),
            "lines": [_line_read(line, history.get(_id(line), [])) for line in lines],
        }
    )


async def list_contracts(
    session: AsyncSession,
    *,
    page: PageParams,
    customer_id: int | None = None,
    status: ContractStatus | None = None,
    q: str | None = None,
    active_on: date | None = None,
) -> Page[ContractRead]:
    stmt = select(Contract)
    stmt = search(stmt, [Contract.name, Contract.external_ref], q)
    if customer_id is not None:
        stmt = stmt.where(col(Contract.customer_id) == customer_id)
    if status is not None:
        stmt = stmt.where(col(Contract.status) == status.value)
    if active_on is not None:
        stmt = stmt.where(
            col(Contract.start_date) <= active_on,
            or_(col(Contract.end_date).is_(None), col(Contract.end_date) >= active_on),
        )
    return await paginate(session, stmt, Contract.id, page, ContractRead.model_validate)


async def update_contract(
    session: AsyncSession, *, contract_id: int, data: ContractUpdate
) -> ContractRead:
    contract = await _contract_row(session, contract_id)
    values = changes(data, required=("name", "start_date"))
    if "start_date" in values or "end_date" in values:
        # The merged state must hold (a cancellation the day before the start is the one
        # way to get end_date < start_date, and it does not go through PATCH).
        _check_contract_dates(
            values.get("start_date", contract.start_date),
            values.get("end_date", contract.end_date),
        )
    if contract.status == ContractStatus.cancelled.value and "end_date" in values:
        new_end, current_end = values["end_date"], contract.end_date
        if new_end is None or (current_end is not None and new_end > current_end):
            # A cancellation only ever shortens; reopening would bill months the customer
            # cancelled (docs/month-arithmetic.md#cancellation).
            raise _invalid(
                "body.end_date",
                f"contract {contract_id} is cancelled: its end_date ({current_end}) may only "
                "move earlier.",
            )
    if "external_ref" in values:
        await _check_external_ref(session, values["external_ref"], contract_id)
    apply(contract, values)
    await session.flush()
    await session.refresh(contract)
    return ContractRead.model_validate(contract)


async def delete_contract(session: AsyncSession, *, contract_id: int) -> None:
    contract = await _contract_row(session, contract_id)
    await ensure_unreferenced(session, Contract, contract_id, "contract")
    await session.delete(contract)
    await session.flush()


async def cancel_contract(
    session: AsyncSession, *, contract_id: int, data: ContractCancel
) -> ContractRead:
    """effective_date is the last day of service, at least the day before start_date
    (never started) and at most the current end_date (a cancellation only shortens); it
    becomes end_date and the status becomes cancelled (docs/month-arithmetic.md#cancellation)."""
    contract = await _contract_row(session, contract_id)
    effective = data.effective_date
    earliest = day_before(contract.start_date)
    if effective < earliest:
        raise _invalid(
            "body.effective_date",
            f"effective_date must be on or after {earliest} (the day before start_date).",
        )
    if contract.end_date is not None and effective > contract.end_date:
        raise _invalid(
            "body.effective_date",
            f"effective_date must be on or before the current end_date {contract.end_date}.",
        )
    contract.end_date = effective
    contract.status = ContractStatus.cancelled.value
    await session.flush()
    await session.refresh(contract)
    return ContractRead.model_validate(contract)


# --- lines -----------------------------------------------------------------------------------


def _id(obj: ContractLine | ContractLineAdjustment | Contract) -> int:
    assert obj.id is not None
    return obj.id


def _line_read(line: ContractLine, adjustments: Sequence[ContractLineAdjustment]) -> LineRead:
    return LineRead.model_validate(
        {
            **line.model_dump(),
            "adjustments": [AdjustmentRead.model_validate(a) for a in adjustments],
        }
    )


async def _adjustments_by_line(
    session: AsyncSession, condition: ColumnElement[bool]
) -> dict[int, list[ContractLineAdjustment]]:
    """The adjustments of every line matching `condition` (on ContractLine), one query, each
    line's in effective-date order (ties: recording order, the last one being the one that
    applies)."""
    rows = (
        await session.scalars(
            select(ContractLineAdjustment)
            .join(ContractLine, col(ContractLine.id) == col(ContractLineAdjustment.line_id))
            .where(condition)
            .order_by(col(ContractLineAdjustment.effective_date), col(ContractLineAdjustment.id))
        )
    ).all()
    grouped: dict[int, list[ContractLineAdjustment]] = defaultdict(list)
    for row in rows:
        grouped[row.line_id].append(row)
    return grouped


async def _get_line(session: AsyncSession, contract_id: int, line_id: int) -> ContractLine:
    await _contract_row(session, contract_id)
    line = await session.get(ContractLine, line_id)
    if line is None or line.contract_id != contract_id:
        raise NotFound(f"contract line {line_id} does not exist in contract {contract_id}")
    return line


def _check_line_dates(contract: Contract, start_date: date | None, end_date: date | None) -> None:
    """A line may reach outside its contract (only the overlap counts), but it may not end
    before it starts; a null start is the contract's start."""
    start = start_date if start_date is not None else contract.start_date
    if end_date is not None and end_date < start:
        raise _invalid(
            "body.end_date",
            f"end_date {end_date} is before the line's start {start}"
            + ("" if start_date is not None else " (the contract's start_date)"),
        )


def _check_line_amount(field: str, quantities: Sequence[Decimal], unit_price: Decimal) -> None:
    """A line's month at any of its quantities (the line's own and each adjustment's),
    quantity x unit_price, stays under the per-value limit, so that its revenue, a billing
    run's line and an audit's contract price can be stored and read (README, "Limits")."""
    # Quantities are >= 0: the largest gives the largest amount.
    error = line_amount_error(field, max(quantities), unit_price, "quantity x unit_price")
    if error:
        raise Invalid("The line's monthly amount is too large.", errors=[error])


async def add_line(session: AsyncSession, *, contract_id: int, data: LineCreate) -> LineRead:
    contract = await _contract_row(session, contract_id)
    service = await require_reference(session, Service, data.service_id, "service_id", "service")
    _check_line_dates(contract, data.start_date, data.end_date)
    values: dict[str, Any] = data.model_dump()
    if values["unit_price"] is None:
        values["unit_price"] = service.unit_price  # the service's list price
    _check_line_amount("body.quantity", [data.quantity], values["unit_price"])
    # Null dates are stored as null: the line follows the contract's dates, even when
    # those change later.
    line = ContractLine(contract_id=contract_id, **values)
    session.add(line)
    await session.flush()
    return _line_read(line, [])


async def list_lines(
    session: AsyncSession, *, contract_id: int, page: PageParams
) -> Page[LineRead]:
    await _contract_row(session, contract_id)
    stmt = select(ContractLine).where(col(ContractLine.contract_id) == contract_id)
    lines: Page[ContractLine] = await paginate(session, stmt, ContractLine.id, page)
    ids = [_id(line) for line in lines.items]
    history = await _adjustments_by_line(session, col(ContractLine.id).in_(ids)) if ids else {}
    return Page[LineRead](
        items=[_line_read(line, history.get(_id(line), [])) for line in lines.items],
        next_cursor=lines.next_cursor,
    )


async def _line_with_history(session: AsyncSession, line: ContractLine) -> LineRead:
    history = await _adjustments_by_line(session, col(ContractLine.id) == line.id)
    return _line_read(line, history.get(_id(line), []))


async def get_line(session: AsyncSession, *, contract_id: int, line_id: int) -> LineRead:
    line = await _get_line(session, contract_id, line_id)
    return await _line_with_history(session, line)


async def update_line(
    session: AsyncSession, *, contract_id: int, line_id: int, data: LineUpdate
) -> LineRead:
    line = await _get_line(session, contract_id, line_id)
    values = changes(data, required=("unit_price",))
    if "unit_price" in values:
        history = await _adjustments_by_line(session, col(ContractLine.id) == line_id)
        quantities = [line.quantity, *(a.quantity for a in history.get(line_id, []))]
        _check_line_amount("body.unit_price", quantities, values["unit_price"])
    if "start_date" in values or "end_date" in values:
        contract = await _contract_row(session, contract_id)
        _check_line_dates(
            contract,
            values.get("start_date", line.start_date),
            values.get("end_date", line.end_date),
        )
    apply(line, values)
    await session.flush()
    await session.refresh(line)
    return await _line_with_history(session, line)


async def delete_line(session: AsyncSession, *, contract_id: int, line_id: int) -> None:
    line = await _get_line(session, contract_id, line_id)
    await ensure_unreferenced(session, ContractLine, line_id, "contract line")
    await session.delete(line)
    await session.flush()


# --- adjustments -----------------------------------------------------------------------------


async def add_adjustment(
    session: AsyncSession, *, contract_id: int, line_id: int, data: AdjustmentCreate
) -> AdjustmentRead:
    """Dates in the past, the future, or outside the line are all accepted: only the part
    that overlaps the line's active days counts (docs/month-arithmetic.md#adjustments)."""
    line = await _get_line(session, contract_id, line_id)
    _check_line_amount("body.quantity", [data.quantity], line.unit_price)
    adjustment = ContractLineAdjustment(line_id=line_id, **data.model_dump())
    session.add(adjustment)
    await session.flush()
    return AdjustmentRead.model_validate(adjustment)


async def list_adjustments(
    session: AsyncSession, *, contract_id: int, line_id: int, page: PageParams
) -> Page[AdjustmentRead]:
    await _get_line(session, contract_id, line_id)
    stmt = select(ContractLineAdjustment).where(col(ContractLineAdjustment.line_id) == line_id)
    return await paginate(
        session, stmt, ContractLineAdjustment.id, page, AdjustmentRead.model_validate
    )


# --- schedule --------------------------------------------------------------------------------


def schedule_range(from_text: str, to_text: str) -> tuple[Period, Period]:
    """The `from`/`to` query of a schedule: two periods, in order, at most 120 months."""
    return period_range_params(from_text, to_text, max_months=MAX_SCHEDULE_MONTHS)


async def contract_schedule(
    session: AsyncSession, *, contract_id: int, first: Period, last: Period
) -> ContractSchedule:
    """Every line of the contract in every month of [first, last]: the month's total is
    the sum of the lines' rounded revenues (docs/month-arithmetic.md#revenue)."""
    await _contract_row(session, contract_id)
    lines = await arithmetic.load_line_terms(session, contract_ids=[contract_id])
    rows: list[ScheduleLineMonth] = []
    months: list[ScheduleMonth] = []
    for period in months_between(first, last):
        month_total = Decimal(0)
        for terms in lines:
            figures = arithmetic.line_month(terms, period)
            month_total += figures.revenue
            rows.append(
                ScheduleLineMonth(
                    line_id=terms.line_id,
                    service_id=terms.service_id,
                    month=period,
                    units=figures.units,
                    unit_price=figures.unit_price,
                    active_days=figures.active_days,
                    segments=[
                        ScheduleSegment(
                            first_day=segment.first,
                            last_day=segment.last,
                            days=segment.days,
                            quantity=segment.quantity,
                        )
                        for segment in arithmetic.month_segments(terms, period)
                    ],
                    revenue=figures.revenue,
                )
            )
        months.append(ScheduleMonth(month=period, revenue=month_total))
    return ContractSchedule(
        contract_id=contract_id,
        from_=first,
        to=last,
        lines=rows,
        months=months,
        total_revenue=sum((m.revenue for m in months), Decimal(0)),
    )
