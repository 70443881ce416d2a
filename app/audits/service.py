"""Audit runs: gather, apply the rules, store the findings with the status history of the
same findings in earlier runs of the period; findings' status changes; the per-customer
audit report. The rules: docs/findings.md."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audits import data as audit_data
from app.audits.models import (
    Audit,
    AuditCreate,
    AuditRead,
    AuditSummary,
    Finding,
    FindingDetail,
    FindingEvent,
    FindingEventRead,
    FindingRead,
    FindingStatus,
    FindingType,
    FindingUpdate,
    Severity,
    SuppressedFindingRead,
    SuppressedSummary,
    TypeSummary,
)
from app.audits.reports import CustomerAuditReport, CustomerAuditRow
from app.audits.rules import Draft, run_rules, unit
from app.audits.tolerance_service import load_tolerances
from app.audits.tolerances import Tolerances
from app.core.bulk import bulk_insert
from app.core.crud import get_or_404, require_reference
from app.core.db import snapshot, snapshot_of, utcnow
from app.core.errors import Invalid, NotFound, field_error
from app.core.money import MAX_ABS, check_limit, margin
from app.core.pagination import Cursor, Page, PageParams, paginate
from app.core.periods import Period
from app.customers.models import Customer
from app.events import outbox
from app.events.models import EventType
from app.services.models import Service
from app.vendors.models import Vendor

ZERO = Decimal(0)
UNMAPPED = {FindingType.UNMAPPED_SKU, FindingType.UNMAPPED_ACCOUNT}


def fingerprint(period: Period, draft: Draft) -> str:
    """The same finding is the same type, customer, service, vendor and vendor invoice
    (and, for UNMAPPED_*, the same vendor_sku and account_ref), in the same period
    (docs/findings.md#re-runs)."""
    parts: list[Any] = [
        str(period),
        draft.type.value,
        draft.customer_id,
        draft.service_id,
        draft.vendor_id,
        draft.vendor_invoice_id,
    ]
    if draft.type in UNMAPPED:
        parts += [draft.vendor_sku, draft.account_ref]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _summary(audit: Audit) -> AuditSummary:
    return AuditSummary(
        count=audit.finding_count,
        total_impact=audit.total_impact,
        by_type={k: TypeSummary(**v) for k, v in json.loads(audit.by_type).items()},
        suppressed=SuppressedSummary(count=audit.suppressed_count, impact=audit.suppressed_impact),
    )


def _audit_read(audit: Audit) -> AuditRead:
    return AuditRead.model_validate({**audit.model_dump(), "summary": _summary(audit)})


async def run_audit(session: AsyncSession, *, data: AuditCreate, actor: str) -> AuditRead:
    # The inputs are read in one snapshot (invoices of the month arriving or going while
    # the audit reads must not make its queries disagree), before the request's session
    # takes its connection; the findings are then written in that session.
    async with snapshot(snapshot_of(session)) as reader:
        if data.vendor_id is not None:
            await require_reference(reader, Vendor, data.vendor_id, "vendor_id", "vendor")
        gathered = await audit_data.load(reader, period=data.period, vendor_id=data.vendor_id)
        drafts = run_rules(gathered)
        # Tolerances hold back some findings (docs/tolerances.md): stored, listed apart,
        # counted in the summary's `suppressed` only.
        tolerances = await load_tolerances(reader)
        held_by = [_held_by(tolerances, draft) for draft in drafts]
        prints = [fingerprint(data.period, draft) for draft in drafts]
        carried = await _carried_over(reader, data.period, set(prints))
        # Outbound events (docs/events.md#event-types): only when someone listens is the
        # question "found before?" asked at all.
        completed_to = await outbox.subscribed(reader, EventType.audit_completed)
        opened_to = await outbox.subscribed(reader, EventType.finding_opened)
        first_time: set[str] = set()
        if opened_to:
            high = {
                p
                for d, p, held in zip(drafts, prints, held_by, strict=True)
                if d.severity is Severity.high and held is None
            }
            first_time = high - await _found_before(reader, data.period, high)

    shown = [draft for draft, held in zip(drafts, held_by, strict=True) if held is None]
    by_type: dict[str, dict[str, Any]] = {}
    for draft in shown:
        entry = by_type.setdefault(draft.type.value, {"count": 0, "impact": ZERO})
        entry["count"] += 1
        entry["impact"] += draft.impact
    total = sum((draft.impact for draft in shown), ZERO)
    suppressed = sum((d.impact for d, held in zip(drafts, held_by, strict=True) if held), ZERO)
    _check_storable(data.period, drafts, by_type, total, suppressed)
    audit = Audit(
        period=str(data.period),
        vendor_id=data.vendor_id,
        created_by=actor,
        finding_count=len(shown),
        total_impact=total,
        by_type=json.dumps(
            {k: {"count": v["count"], "impact": f"{v['impact']:.2f}"} for k, v in by_type.items()}
        ),
        suppressed_count=len(drafts) - len(shown),
        suppressed_impact=suppressed,
    )
    session.add(audit)
    await session.flush()
    now = utcnow()
    rows = []
    for draft, print_, held in zip(drafts, prints, held_by, strict=True):
        previous = carried.get(print_)
        rows.append(
            {
                "audit_id": audit.id,
                "type": draft.type.value,
                "severity": draft.severity.value,
                "status": previous["status"] if previous else FindingStatus.open.value,
                "note": previous["note"] if previous else None,
                "status_changed_by": previous["status_changed_by"] if previous else None,
                "status_changed_at": previous["status_changed_at"] if previous else None,
                "resolution": previous["resolution"] if previous else None,
                "fingerprint": print_,
                "customer_id": draft.customer_id,
                "service_id": draft.service_id,
                "vendor_id": draft.vendor_id,
                "vendor_invoice_id": draft.vendor_invoice_id,
                "vendor_invoice_line_id": draft.vendor_invoice_line_id,
                "vendor_sku": draft.vendor_sku,
                "account_ref": draft.account_ref,
                "expected_quantity": draft.expected_quantity,
                "actual_quantity": draft.actual_quantity,
                "expected_unit_amount": draft.expected_unit_amount,
                "actual_unit_amount": draft.actual_unit_amount,
                "previous_unit_cost": draft.previous_unit_cost,
                "impact": draft.impact,
                "message": draft.message,
                "tolerance_id": held,
                "created_at": now,
            }
        )
    # COPY on PostgreSQL, a Core executemany elsewhere (not the ORM's bulk path, which
    # splits the rows into one statement per pattern of null columns).
    await bulk_insert(session, Finding.__table__, rows)  # type: ignore[attr-defined]
    await session.flush()
    read = _audit_read(audit)
    await outbox.emit(
        session,
        EventType.audit_completed,
        [read.model_dump(mode="json")],
        subscriptions=completed_to,
    )
    if first_time:
        # Each with its names, as the findings list shows it (docs/findings.md#finding-fields).
        opened = await session.execute(
            _named(
                _findings().where(
                    col(Finding.audit_id) == audit.id,
                    col(Finding.severity) == Severity.high.value,
                    col(Finding.tolerance_id).is_(None),
                )
            )
        )
        await outbox.emit(
            session,
            EventType.finding_opened,
            sorted(
                (
                    _finding_read(row).model_dump(mode="json")
                    for row in opened.all()
                    if row.fingerprint in first_time
                ),
                key=lambda finding: finding["id"],
            ),
            subscriptions=opened_to,
        )
    return read


def _held_by(tolerances: Tolerances, draft: Draft) -> int | None:
    """The id of the tolerance that holds the finding back, or None to show it."""
    if not tolerances:
        return None
    rule = tolerances.holding(draft)
    return None if rule is None else rule.id


# Fingerprints asked about per query: well under either database's limit on parameters.
_FOUND_BEFORE_CHUNK = 5000


async def _found_before(session: AsyncSession, period: Period, prints: set[str]) -> set[str]:
    """Which of these findings some earlier audit of the period produced already: a
    high-severity finding is "opened" once, on the first run that finds it
    (docs/events.md#event-types). One a tolerance held back was not produced
    (docs/tolerances.md#events)."""
    ordered = sorted(prints)
    found: set[str] = set()
    for start in range(0, len(ordered), _FOUND_BEFORE_CHUNK):
        chunk = ordered[start : start + _FOUND_BEFORE_CHUNK]
        found.update(
            (
                await session.scalars(
                    select(col(Finding.fingerprint))
                    .join(Audit, col(Audit.id) == col(Finding.audit_id))
                    .where(
                        col(Audit.period) == str(period),
                        col(Finding.fingerprint).in_(chunk),
                        col(Finding.tolerance_id).is_(None),
                    )
                    .distinct()
                )
            ).all()
        )
    return found


_FIGURES = (
    "impact",
    "expected_quantity",
    "actual_quantity",
    "expected_unit_amount",
    "actual_unit_amount",
    "previous_unit_cost",
)


def _check_storable(
    period: Period,
    drafts: list[Draft],
    by_type: dict[str, dict[str, Any]],
    total: Decimal,
    suppressed: Decimal,
) -> None:
    """Every figure stored with the audit stays under the per-value limit (README,
    "Limits"): a finding's impact, quantities and unit amounts, each type's impact and the
    total. Sums of many vendor lines can pass it however valid each line is; then the
    audit is a 422 naming them, before anything is stored."""
    # Messages only for the figures past the limit: an audit can hold 100,000 findings.
    figures: list[tuple[str, str, Decimal | None]] = [
        (
            "body.period",
            f"{draft.type.value} finding (customer {draft.customer_id}, service "
            f"{draft.service_id}, vendor invoice {draft.vendor_invoice_id}): {name}",
            value,
        )
        for draft in drafts
        for name in _FIGURES
        if (value := getattr(draft, name)) is not None and not -MAX_ABS < value < MAX_ABS
    ]
    figures += [
        ("body.period", f"the impact of the {kind} findings", entry["impact"])
        for kind, entry in by_type.items()
    ]
    figures.append(("body.period", f"the audit's total impact for {period}", total))
    figures.append(("body.period", f"the impact held back by tolerances for {period}", suppressed))
    check_limit(figures, f"The audit of {period} finds figures beyond the limit on amounts.")


async def _carried_over(
    session: AsyncSession, period: Period, prints: set[str]
) -> dict[str, dict[str, Any]]:
    """The latest status and note of each finding found again, from earlier audits of the
    period: read from the findings' change log, which holds only what someone changed
    (each entry the finding's whole state after the change), not from every finding
    ever stored for the period."""
    if not prints:
        return {}
    rows: Any = await session.execute(
        select(
            col(FindingEvent.fingerprint),
            col(FindingEvent.status),
            col(FindingEvent.note),
            col(FindingEvent.changed_by),
            col(FindingEvent.changed_at),
            col(FindingEvent.action),
            col(Finding.resolution),
        )
        .join(Finding, col(Finding.id) == col(FindingEvent.finding_id))
        .join(Audit, col(Audit.id) == col(Finding.audit_id))
        .where(col(Audit.period) == str(period))
        # The latest change wins, whichever run's finding it was made on.
        .order_by(col(FindingEvent.changed_at), col(FindingEvent.id))
    )
    carried: dict[str, dict[str, Any]] = {}
    for print_, status, note, by, at, action, fixed in rows.all():
        if print_ in prints:  # later changes replace earlier ones
            # A fix's resolution goes with the finding while it stays resolved (a note
            # added after it keeps it; docs/findings.md#fixes).
            before = carried.get(print_, {}).get("resolution")
            resolution = fixed if action is not None else before
            carried[print_] = {
                "status": status,
                "note": note,
                "status_changed_by": by,
                "status_changed_at": at,
                "resolution": resolution if status == FindingStatus.resolved.value else None,
            }
    return carried


async def list_audits(
    session: AsyncSession, *, page: PageParams, period: Period | None, vendor_id: int | None
) -> Page[AuditRead]:
    stmt = select(Audit)
    if period is not None:
        stmt = stmt.where(col(Audit.period) == str(period))
    if vendor_id is not None:
        stmt = stmt.where(col(Audit.vendor_id) == vendor_id)
    return await paginate(session, stmt, Audit.id, page, to_item=_audit_read)


async def get_audit(session: AsyncSession, *, audit_id: int) -> AuditRead:
    return _audit_read(await get_or_404(session, Audit, audit_id, "audit"))


# Biggest impact first, then by id: a page ends at its last (impact, id).
FINDINGS_CURSOR = Cursor("f1", Decimal, int)


def _encode(impact: Decimal, finding_id: int) -> str:
    return FINDINGS_CURSOR.encode(impact, finding_id)


def _decode(cursor: str) -> tuple[Decimal, int]:
    impact, finding_id = FINDINGS_CURSOR.decode(cursor)
    return impact, finding_id


def _findings() -> Any:
    """The finding table's columns, to narrow (by audit, filters, a page) before naming."""
    return select(Finding.__table__)  # type: ignore[attr-defined]


def _named(findings: Any) -> Any:
    """The findings a statement selects (filtered, and limited to a page, first), each with
    the names of its customer, service and vendor joined in the same statement, so the
    names are read in the snapshot the findings are (docs/findings.md#finding-fields);
    biggest impact first, then by id."""
    found = findings.subquery("found")
    return (
        select(
            found,
            col(Customer.name).label("customer_name"),
            col(Service.name).label("service_name"),
            col(Vendor.name).label("vendor_name"),
        )
        .select_from(found)
        .outerjoin(Customer, col(Customer.id) == found.c.customer_id)
        .outerjoin(Service, col(Service.id) == found.c.service_id)
        .outerjoin(Vendor, col(Vendor.id) == found.c.vendor_id)
        .order_by(found.c.impact.desc(), found.c.id)
    )


def _finding_read(row: Any) -> FindingRead:
    return FindingRead.model_validate(dict(row._mapping))


def _suppressed_read(row: Any) -> SuppressedFindingRead:
    return SuppressedFindingRead.model_validate(dict(row._mapping))


@dataclass(frozen=True)
class FindingFilters:
    """The filters of an audit's finding list; None lets everything through."""

    type: FindingType | None = None
    customer_id: int | None = None
    service_id: int | None = None
    vendor_id: int | None = None
    status: FindingStatus | None = None
    min_impact: Decimal | None = None


def _shown(held: bool) -> Any:
    """The findings an audit shows, or (held) those tolerances held back: every read of
    findings says which (docs/tolerances.md#held-back-findings)."""
    column = col(Finding.tolerance_id)
    return column.is_not(None) if held else column.is_(None)


async def _filtered_findings(
    session: AsyncSession, audit_id: int, filters: FindingFilters, *, held: bool = False
) -> Any:
    """The audit's findings (a 404 for an unknown audit) matching the filters: those it
    shows, or those tolerances held back."""
    await get_or_404(session, Audit, audit_id, "audit")
    stmt = _findings().where(col(Finding.audit_id) == audit_id, _shown(held))
    for column, value in (
        (Finding.type, filters.type.value if filters.type else None),
        (Finding.customer_id, filters.customer_id),
        (Finding.service_id, filters.service_id),
        (Finding.vendor_id, filters.vendor_id),
        (Finding.status, filters.status.value if filters.status else None),
    ):
        if value is not None:
            stmt = stmt.where(col(column) == value)
    if filters.min_impact is not None:
        stmt = stmt.where(col(Finding.impact) >= filters.min_impact)
    return stmt


async def list_findings(
    session: AsyncSession,
    *,
    audit_id: int,
    page: PageParams,
    filters: FindingFilters = FindingFilters(),
) -> Page[FindingRead]:
    """Biggest impact first (then by id), paged by a cursor on (impact, id)."""
    rows, next_cursor = await _findings_page(session, audit_id, page, filters, held=False)
    return Page[FindingRead](items=[_finding_read(row) for row in rows], next_cursor=next_cursor)


async def list_suppressed(
    session: AsyncSession,
    *,
    audit_id: int,
    page: PageParams,
    filters: FindingFilters = FindingFilters(),
) -> Page[SuppressedFindingRead]:
    """The findings tolerances held back, as list_findings lists the others, each naming
    its tolerance (docs/tolerances.md#held-back-findings)."""
    rows, next_cursor = await _findings_page(session, audit_id, page, filters, held=True)
    return Page[SuppressedFindingRead](
        items=[_suppressed_read(row) for row in rows], next_cursor=next_cursor
    )


async def _findings_page(
    session: AsyncSession, audit_id: int, page: PageParams, filters: FindingFilters, *, held: bool
) -> tuple[list[Any], str | None]:
    """One page of the audit's findings shown (or held back), named, and the next cursor."""
    stmt = await _filtered_findings(session, audit_id, filters, held=held)
    if page.cursor is not None:
        impact, last_id = _decode(page.cursor)
        stmt = stmt.where(
            or_(
                col(Finding.impact) < impact,
                and_(col(Finding.impact) == impact, col(Finding.id) > last_id),
            )
        )
    # The page first, then its names: not a join over every finding of the audit.
    page_stmt = stmt.order_by(col(Finding.impact).desc(), col(Finding.id)).limit(page.limit + 1)
    found = list((await session.execute(_named(page_stmt))).all())
    more = len(found) > page.limit
    found = found[: page.limit]
    last = found[-1] if more and found else None
    return found, _encode(last.impact, last.id) if last is not None else None


async def all_findings(
    session: AsyncSession, *, audit_id: int, filters: FindingFilters = FindingFilters()
) -> list[FindingRead]:
    """Every finding of the audit matching the filters, unpaged, in the list's order (the
    CSV download, docs/findings.md#csv): one statement."""
    stmt = await _filtered_findings(session, audit_id, filters)
    return [_finding_read(row) for row in (await session.execute(_named(stmt))).all()]


async def all_suppressed(
    session: AsyncSession, *, audit_id: int, filters: FindingFilters = FindingFilters()
) -> list[SuppressedFindingRead]:
    """Every finding of the audit tolerances held back, as all_findings (the CSV)."""
    stmt = await _filtered_findings(session, audit_id, filters, held=True)
    return [_suppressed_read(row) for row in (await session.execute(_named(stmt))).all()]


async def get_finding(session: AsyncSession, *, finding_id: int) -> FindingDetail:
    # A finding a tolerance held back is read only in its audit's suppressed list.
    row = (
        await session.execute(
            _named(_findings().where(col(Finding.id) == finding_id, _shown(held=False)))
        )
    ).first()
    if row is None:
        raise NotFound.of("finding", finding_id)
    events = (
        await session.scalars(
            select(FindingEvent)
            .where(col(FindingEvent.fingerprint) == row.fingerprint)
            .order_by(col(FindingEvent.id))
        )
    ).all()
    return FindingDetail.model_validate(
        {
            **_finding_read(row).model_dump(),
            "history": [FindingEventRead.model_validate(e) for e in events],
        }
    )


def latest_status(fingerprint: Any) -> Any:
    """The status of the latest change made to the finding with this fingerprint in any
    run of its period, or null when nobody changed it (a scalar subquery; `fingerprint` a
    value or a column to correlate with; docs/findings.md#re-runs)."""
    return (
        select(col(FindingEvent.status))
        .where(col(FindingEvent.fingerprint) == fingerprint)
        .order_by(col(FindingEvent.changed_at).desc(), col(FindingEvent.id).desc())
        .limit(1)
        .scalar_subquery()
    )


def record_change(
    session: AsyncSession,
    finding: Finding,
    *,
    status: str,
    note: str | None,
    actor: str,
    action: str | None = None,
) -> datetime:
    """Set the finding's status and note, and add the change to its history (by
    fingerprint, so later runs carry it: docs/findings.md#re-runs); `action` names the
    fix that made it (docs/findings.md#fixes). Answers the time of the change."""
    now = utcnow()
    finding.status, finding.note = status, note
    finding.status_changed_by, finding.status_changed_at = actor, now
    if status != FindingStatus.resolved.value:
        finding.resolution = None  # reopened or dismissed: no longer fixed
    assert finding.id is not None
    session.add(
        FindingEvent(
            fingerprint=finding.fingerprint,
            finding_id=finding.id,
            status=status,
            note=note,
            changed_by=actor,
            changed_at=now,
            action=action,
        )
    )
    return now


async def shown_finding(session: AsyncSession, finding_id: int) -> Finding:
    """The finding to change: a 404 for an unknown one and for one a tolerance held back,
    which is not shown (docs/tolerances.md#held-back-findings)."""
    finding = await session.get(Finding, finding_id)
    if finding is None or finding.tolerance_id is not None:
        raise NotFound.of("finding", finding_id)
    return finding


async def update_finding(
    session: AsyncSession, *, finding_id: int, data: FindingUpdate, actor: str
) -> FindingDetail:
    finding = await shown_finding(session, finding_id)
    values = data.model_dump(exclude_unset=True)
    if not values:
        raise Invalid(
            "Nothing to change: send status and/or note.",
            errors=[field_error("body", "send status and/or note", "missing")],
        )
    if "status" in values and values["status"] is None:
        raise Invalid(
            "status cannot be null.", errors=[field_error("body.status", "must not be null")]
        )
    status = FindingStatus(values["status"]).value if "status" in values else finding.status
    note = values["note"] if "note" in values else finding.note
    if (status, note) == (finding.status, finding.note):
        # Nothing changes: no history entry, and the last change keeps its author and time.
        return await get_finding(session, finding_id=finding_id)
    record_change(session, finding, status=status, note=note, actor=actor)
    await session.flush()
    return await get_finding(session, finding_id=finding_id)


# --- the per-customer audit report -----------------------------------------------------------


async def customer_audit(
    session: AsyncSession, *, customer_id: int, period: Period
) -> CustomerAuditReport:
    """One row per service the customer has a contract line, a vendor charge or a
    deployed asset for in the month, with the finding types that apply
    (docs/findings.md#customer-audit)."""
    customer = await get_or_404(session, Customer, customer_id, "customer")
    gathered = await audit_data.load(session, period=period, customer_ids=[customer_id])
    types: dict[int | None, set[str]] = defaultdict(set)
    rises: set[tuple[int | None, int | None]] = set()  # (vendor invoice, service)
    # As an audit run now would show them: without what tolerances hold back.
    tolerances = await load_tolerances(session)
    for draft in run_rules(gathered):
        if _held_by(tolerances, draft) is not None:
            continue
        if draft.customer_id == customer_id:
            types[draft.service_id].add(draft.type.value)
        if draft.type is FindingType.PRICE_INCREASE:
            rises.add((draft.vendor_invoice_id, draft.service_id))
    # PRICE_INCREASE findings name no customer: they apply to the customer's services
    # charged above the standard on an invoice for which the audit produces one.
    for _customer, service_id, invoice_id in gathered.price_rise_lines:
        if (invoice_id, service_id) in rises:
            types[service_id].add(FindingType.PRICE_INCREASE.value)

    services = (
        {s for c, s in gathered.contracts if c == customer_id}
        | {s for c, s in gathered.vendor_positions if c == customer_id}
        | {s for c, s in gathered.deployed if c == customer_id}
        | {s for c, s in gathered.invoiced_units if c == customer_id}
    )
    rows = []
    for service_id in sorted(services):
        pair = (customer_id, service_id)
        service = gathered.services[service_id]
        contract = gathered.contracts.get(pair, audit_data.ContractPosition())
        charged = gathered.vendor_positions.get(pair)
        revenue = contract.revenue
        cost = (
            (charged.cost_amount if charged else ZERO)
            if service.vendor_id is not None
            else contract.in_house_cost
        )
        profit = revenue - cost
        rows.append(
            CustomerAuditRow(
                service_id=service_id,
                service_name=service.name,
                sku=service.sku,
                vendor_id=service.vendor_id,
                vendor_name=None
                if service.vendor_id is None
                else gathered.vendors.get(service.vendor_id),
                contracted_units=contract.units,
                vendor_units=charged.units if charged else ZERO,
                deployed_units=Decimal(gathered.deployed.get(pair, 0)),
                invoiced_units=gathered.invoiced_units.get(pair, ZERO),
                contract_unit_price=unit(contract.unit_price),
                vendor_mean_unit_cost=unit(charged.mean_cost) if charged else None,
                revenue=revenue,
                cost=cost,
                profit=profit,
                margin=margin(revenue, profit),
                finding_types=sorted(types.get(service_id, set())),
            )
        )
    revenue = sum((row.revenue for row in rows), ZERO)
    cost = sum((row.cost for row in rows), ZERO)
    return CustomerAuditReport(
        customer_id=customer_id,
        customer_name=customer.name,
        period=period,
        rows=rows,
        revenue=revenue,
        cost=cost,
        profit=revenue - cost,
        margin=margin(revenue, revenue - cost),
        # Every type that applies to the customer: its rows' and its own (MISSING_BILLING).
        finding_types=sorted(set().union(*types.values())),
    )
