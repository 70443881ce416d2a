"""One-call fixes of findings: the change a finding calls for, made through the same
service code a user's own call would use, and the finding marked resolved with what
changed, in one transaction (docs/findings.md#fixes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audits.data import rising
from app.audits.models import (
    Audit,
    Finding,
    FindingDetail,
    FindingFix,
    FindingStatus,
    FindingType,
    FixAction,
    FixChange,
    Resolution,
)
from app.audits.service import get_finding, latest_status, record_change, shown_finding
from app.billing.models import CustomerInvoice
from app.billing.runs import run_billing
from app.contracts import arithmetic
from app.contracts import service as contracts
from app.contracts.models import AdjustmentCreate
from app.core.crud import get_or_404
from app.core.errors import Conflict, Invalid, field_error
from app.core.money import format_price, format_quantity
from app.core.periods import Period
from app.services import costs
from app.services.models import Service, ServiceCost, ServiceCostCreate
from app.vendor_invoices.models import VendorInvoiceLine

API = "/api/v1"
# The action each type calls for (docs/findings.md#fixes).
ACTIONS = {
    FindingType.UNBILLED_UNITS: FixAction.match_contract,
    FindingType.OVERBILLED_UNITS: FixAction.match_contract,
    FindingType.UNBILLED_ASSETS: FixAction.match_contract,
    FindingType.PRICE_INCREASE: FixAction.adopt_cost,
    FindingType.MISSING_BILLING: FixAction.bill,
}
FIXABLE = {FindingStatus.open.value, FindingStatus.acknowledged.value}


async def fix_finding(
    session: AsyncSession, *, finding_id: int, data: FindingFix, actor: str
) -> FindingDetail:
    finding = await shown_finding(session, finding_id)
    # The same finding of every run of the period is locked, so that two fixes of it run
    # one after the other; its status is the latest change made to it in any run (an
    # earlier run's copy may still say open: docs/findings.md#re-runs).
    await session.execute(
        select(col(Finding.id))
        .where(col(Finding.fingerprint) == finding.fingerprint)
        .with_for_update()
    )
    status = await session.scalar(select(latest_status(finding.fingerprint))) or finding.status
    if status not in FIXABLE:
        raise Conflict(
            f"Finding {finding_id} is {status}: only an open or acknowledged finding can be fixed."
        )
    kind = FindingType(finding.type)
    action = ACTIONS.get(kind)
    if action is not data.action:
        wanted = f"their action is {action.value}" if action else "no action fixes this type"
        message = f"{data.action.value} does not fix {kind.value} findings: {wanted}"
        raise Invalid(
            f"Finding {finding_id}: {message}.",
            errors=[field_error("body.action", message, "invalid_action")],
        )
    if data.effective_date is not None and action is not FixAction.match_contract:
        message = "applies to match_contract only"
        raise Invalid(
            f"effective_date {message}.",
            errors=[field_error("body.effective_date", message, "not_applicable")],
        )
    audit = await get_or_404(session, Audit, finding.audit_id, "audit")
    period = Period.parse(audit.period)
    changes = await _HANDLERS[action](session, finding, period, data, actor)
    at = record_change(
        session,
        finding,
        status=FindingStatus.resolved.value,
        note=finding.note,
        actor=actor,
        action=action.value,
    )
    finding.resolution = Resolution(action=action, at=at, changes=changes).model_dump_json()
    await session.flush()
    return await get_finding(session, finding_id=finding_id)


async def _match_contract(
    session: AsyncSession, finding: Finding, period: Period, data: FindingFix, actor: str
) -> list[FixChange]:
    """The customer's line of the service active on the day with the latest start: its
    quantity changes by (vendor or deployed units - contracted units) from that day on,
    as adjustments (docs/findings.md#fixes)."""
    assert finding.customer_id is not None and finding.service_id is not None
    assert finding.actual_quantity is not None and finding.expected_quantity is not None
    day = data.effective_date or period.first_day
    delta = finding.actual_quantity - finding.expected_quantity
    terms = await arithmetic.load_line_terms(
        session, customer_ids=[finding.customer_id], service_ids=[finding.service_id]
    )
    # The difference holds only while the contract is as the audit saw it.
    now_units = sum((arithmetic.contracted_units(t, period) for t in terms), Decimal(0))
    if now_units != finding.expected_quantity:
        raise Conflict(
            f"Finding {finding.id}: the contract changed since the audit ("
            f"{format_quantity(finding.expected_quantity)} units contracted then, "
            f"{format_quantity(now_units)} now for {period}); run the audit again."
        )
    active = [t for t in terms if arithmetic.is_active_on(t, day)]
    if not active:
        # A line starting later in the period can take the change from its start.
        later = [t for t in terms if day < t.start <= period.last_day]
        hint = (
            f"line {later[0].line_id} starts on {later[0].start}: send that effective_date"
            if later
            else "add one (POST /contracts/{id}/lines)"
        )
        message = (
            f"customer {finding.customer_id} has no contract line of service "
            f"{finding.service_id} active on {day}: {hint}"
        )
        raise Invalid(
            f"Nothing to match: {message}.",
            errors=[field_error("body.effective_date", message, "no_line")],
        )
    line = max(active, key=lambda t: (t.start, t.line_id))
    # The quantity on the day, and on each later day an adjustment changes it, all moved
    # by the difference: the change holds from the day on, later changes kept.
    days = sorted({day} | {a.effective_date for a in line.adjustments if a.effective_date > day})
    planned = [(d, arithmetic.quantity_on(line, d) + delta) for d in days]
    negative = [(d, q) for d, q in planned if q < 0]
    if negative:
        d, q = negative[0]
        message = (
            f"line {line.line_id} would hold {format_quantity(q)} units from {d} "
            f"({format_quantity(arithmetic.quantity_on(line, d))} {_signed(delta)})"
        )
        raise Invalid(
            f"The contract cannot match: {message}.",
            errors=[field_error("body.effective_date", message, "negative_quantity")],
        )
    changes = []
    for d, quantity in planned:
        try:
            body = AdjustmentCreate(
                effective_date=d,
                quantity=quantity,
                note=f"fix of finding {finding.id} ({finding.type})",
            )
        except ValidationError as exc:
            message = (
                f"the new quantity {quantity} is not a contract quantity: {exc.errors()[0]['msg']}"
            )
            raise Invalid(
                f"The contract cannot match: {message}.",
                errors=[field_error("body.action", message, "invalid_quantity")],
            ) from exc
        made = await contracts.add_adjustment(
            session, contract_id=line.contract_id, line_id=line.line_id, data=body
        )
        changes.append(
            FixChange(
                resource="contract_line_adjustment",
                id=made.id,
                href=f"{API}/contracts/{line.contract_id}/lines/{line.line_id}/adjustments",
                detail=f"contract line {line.line_id}: quantity {format_quantity(quantity)} "
                f"from {d} ({_signed(delta)})",
            )
        )
    return changes


def _signed(delta: Decimal) -> str:
    return f"+{format_quantity(delta)}" if delta >= 0 else f"-{format_quantity(-delta)}"


async def _adopt_cost(
    session: AsyncSession, finding: Finding, period: Period, data: FindingFix, actor: str
) -> list[FixChange]:
    """A price-book entry at the highest unit_cost of the finding's lines, from the
    earliest charge_start among them (docs/findings.md#fixes)."""
    assert finding.service_id is not None
    line = VendorInvoiceLine
    dialect = session.get_bind().dialect.name
    highest, earliest = (
        await session.execute(
            select(func.max(col(line.unit_cost)), func.min(col(line.charge_start)))
            .join(
                Service,
                and_(
                    col(Service.vendor_id) == col(line.vendor_id),
                    col(Service.vendor_sku) == col(line.vendor_sku),
                ),
            )
            .where(
                col(line.invoice_id) == finding.vendor_invoice_id,
                col(Service.id) == finding.service_id,
                *rising(dialect),
            )
        )
    ).one()
    if highest is None:
        raise Conflict(
            f"Finding {finding.id}: no line of vendor invoice {finding.vendor_invoice_id} is "
            "above the standard cost any more; run the audit again."
        )
    cost = Decimal(highest)
    start: date = earliest
    href = f"{API}/services/{finding.service_id}/costs"
    changes = []
    # An entry of the same day below the cost (another invoice's fix, say) gives way to
    # it, as a user would delete it and enter the new one; one at or above it is a 409.
    same_day = await session.scalar(
        select(ServiceCost).where(
            col(ServiceCost.service_id) == finding.service_id,
            col(ServiceCost.effective_from) == start,
        )
    )
    if same_day is not None and same_day.unit_cost < cost:
        assert same_day.id is not None
        await costs.delete_cost(session, service_id=finding.service_id, entry_id=same_day.id)
        changes.append(
            FixChange(
                resource="service_cost",
                id=same_day.id,
                href=href,
                detail=f"service {finding.service_id}: entry of {format_price(same_day.unit_cost)} "
                f"from {start} deleted",
            )
        )
    entry = await costs.add_cost(
        session,
        service_id=finding.service_id,
        data=ServiceCostCreate(effective_from=start, unit_cost=cost),
    )
    changes.append(
        FixChange(
            resource="service_cost",
            id=entry.id,
            href=href,
            detail=f"service {finding.service_id}: standard unit cost {format_price(cost)} "
            f"from {start}",
        )
    )
    return changes


async def _bill(
    session: AsyncSession, finding: Finding, period: Period, data: FindingFix, actor: str
) -> list[FixChange]:
    """The billing run of the finding's customer and period (docs/findings.md#fixes)."""
    assert finding.customer_id is not None
    run = await run_billing(session, period=period, actor=actor, customer_id=finding.customer_id)
    invoices = (
        await session.scalars(
            select(CustomerInvoice).where(col(CustomerInvoice.billing_run_id) == run.id)
        )
    ).all()
    if not invoices:
        # Judged on the run itself, under its lock; the 409 rolls the empty run (and its
        # event) back with the request.
        raise Conflict(
            f"Finding {finding.id}: there is nothing to bill customer {finding.customer_id} "
            f"for {period} any more (billed another way, or no contracted revenue); run the "
            "audit again."
        )
    changes = [
        FixChange(
            resource="billing_run",
            id=run.id,
            href=f"{API}/billing-runs",
            detail=f"billing run of {period} for customer {finding.customer_id}",
        )
    ]
    changes += [
        FixChange(
            resource="customer_invoice",
            id=invoice.id or 0,
            href=f"{API}/customer-invoices/{invoice.id}",
            detail=f"draft invoice {invoice.number}",
        )
        for invoice in invoices
    ]
    return changes


_HANDLERS: dict[
    FixAction,
    Callable[[AsyncSession, Finding, Period, FindingFix, str], Awaitable[list[FixChange]]],
] = {
    FixAction.match_contract: _match_contract,
    FixAction.adopt_cost: _adopt_cost,
    FixAction.bill: _bill,
}
