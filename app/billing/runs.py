"""Billing runs (docs/exports.md#billing-runs): a draft invoice per customer with contracted
revenue in the period, one line per contract line, amounts from the one month-arithmetic
module; worked out by plan_run, then written by run_billing or shown by dry_run
(docs/exports.md#dry-run)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import (
    BillingRun,
    BillingRunDryRun,
    BillingRunRead,
    CustomerInvoice,
    CustomerInvoiceLine,
    DryRunCustomerFigures,
    DryRunInvoiceDetail,
    DryRunInvoiceLineRead,
    InvoiceOrigin,
    InvoiceStatus,
)
from app.billing.quantities import quantity_and_price
from app.contracts import arithmetic
from app.contracts.models import Contract
from app.core.bulk import bulk_insert, chunks
from app.core.db import snapshot, snapshot_of
from app.core.money import check_limit, from_cents, margin, to_cents
from app.core.pagination import Page, PageParams, paginate
from app.core.periods import Period
from app.customers.models import Customer
from app.events import outbox
from app.events.models import EventType
from app.services.models import Service

ZERO = Decimal(0)


def _is_run_draft(invoice: CustomerInvoice) -> bool:
    return (
        invoice.origin == InvoiceOrigin.billing_run.value
        and invoice.status == InvoiceStatus.draft.value
    )


@dataclass
class Draft:
    """An invoice a run makes: a new one, or the run draft of an earlier run of the period
    that it regenerates (`existing`, which keeps its id and number)."""

    customer_id: int
    number: str
    existing: CustomerInvoice | None
    lines: list[dict[str, Any]]  # the rows of customer_invoice_line, without invoice_id
    total: Decimal


@dataclass
class Plan:
    """What a run of the period does, read before anything is written: the drafts, in
    customer order, the run drafts it deletes, the customers it skips, and the customers
    billed another way (a non-void invoice that is not a run draft)."""

    drafts: list[Draft] = field(default_factory=list)
    stale_drafts: list[int] = field(default_factory=list)
    customers_skipped: int = 0
    billed_elsewhere: set[int] = field(default_factory=set)

    @property
    def total(self) -> Decimal:
        return sum((draft.total for draft in self.drafts), ZERO)


async def run_billing(
    session: AsyncSession, *, period: Period, actor: str, customer_id: int | None = None
) -> BillingRunRead:
    """Customers that already have an invoice for the month (recorded, posted, or a draft
    edited into another status) are skipped; drafts of earlier runs of the period are
    regenerated from the current contracts (and removed when nothing is left to bill);
    posted, void and recorded invoices are never touched; nothing is duplicated. A void
    invoice does not count as billing the customer (docs/findings.md#missing_billing), so
    it does not stop a new draft. `customer_id` bills that customer alone, by the same
    rules (the fix of a MISSING_BILLING finding, docs/findings.md#fixes)."""
    run = await _start_run(session, period=period, actor=actor)
    plan = await plan_run(session, period=period, customer_id=customer_id)
    invoices: list[CustomerInvoice] = []
    for draft in plan.drafts:
        if draft.existing is not None:
            invoice = draft.existing
            invoice.billing_run_id = run.id
            run.invoices_regenerated += 1
        else:
            invoice = CustomerInvoice(
                customer_id=draft.customer_id,
                number=draft.number,
                period=str(period),
                issue_date=period.first_day,
                status=InvoiceStatus.draft.value,
                origin=InvoiceOrigin.billing_run.value,
                billing_run_id=run.id,
            )
            session.add(invoice)
            run.invoices_created += 1
        invoices.append(invoice)
    run.customers_skipped = plan.customers_skipped
    # Set-based writes: one flush inserts every new invoice (a multi-row INSERT), and the
    # old lines of regenerated and stale drafts go in a few DELETEs, not one per customer
    # (a round trip per customer was most of a large run's time;
    # BENCHMARKS.md#figures-behind-design-choices).
    await session.flush()
    regenerated = [
        draft.existing.id
        for draft in plan.drafts
        if draft.existing is not None and draft.existing.id is not None
    ]
    for chunk in chunks(regenerated + plan.stale_drafts):
        await session.execute(
            delete(CustomerInvoiceLine).where(col(CustomerInvoiceLine.invoice_id).in_(chunk))
        )
    for chunk in chunks(plan.stale_drafts):
        await session.execute(delete(CustomerInvoice).where(col(CustomerInvoice.id).in_(chunk)))
    new_lines = [
        {"invoice_id": invoice.id, **line}
        for invoice, draft in zip(invoices, plan.drafts, strict=True)
        for line in draft.lines
    ]
    await bulk_insert(session, CustomerInvoiceLine.__table__, new_lines)  # type: ignore[attr-defined]
    run.total = plan.total
    await session.flush()
    read = BillingRunRead.model_validate(run)
    # docs/events.md#event-types: written with the run, sent once it is committed.
    await outbox.emit(session, EventType.billing_run_completed, [read.model_dump(mode="json")])
    return read


async def plan_run(
    session: AsyncSession, *, period: Period, customer_id: int | None = None
) -> Plan:
    """The run of `period` (of one customer's, with `customer_id`) worked out from what
    `session` sees, writing nothing: the real run writes it (run_billing), the dry run
    shows it (dry_run). Over the limit on amounts, a 422 (_check_totals)."""
    first, last = period.first_day, period.last_day
    only = None if customer_id is None else [customer_id]
    terms = await arithmetic.load_line_terms(session, overlapping=(first, last), customer_ids=only)
    billable: dict[int, list[tuple[arithmetic.LineTerms, arithmetic.LineMonth]]] = defaultdict(list)
    for line in terms:
        month = arithmetic.line_month(line, period)
        if month.revenue > 0:
            billable[line.customer_id].append((line, month))

    of_period = select(CustomerInvoice).where(col(CustomerInvoice.period) == str(period))
    if customer_id is not None:
        of_period = of_period.where(col(CustomerInvoice.customer_id) == customer_id)
    existing = (await session.scalars(of_period)).all()
    by_customer: dict[int, list[CustomerInvoice]] = defaultdict(list)
    for invoice in existing:
        by_customer[invoice.customer_id].append(invoice)

    services = {s.id: s for s in (await session.scalars(select(Service))).all()}
    contract_names: Any = dict(
        (
            await session.execute(
                select(col(Contract.id), col(Contract.name)).where(
                    col(Contract.id).in_({line.contract_id for line in terms} or {0})
                )
            )
        ).all()
    )

    taken = set(
        (
            await session.scalars(
                select(col(CustomerInvoice.number)).where(
                    col(CustomerInvoice.number).like(f"{_prefix(period)}%")
                )
            )
        ).all()
    )
    plan = Plan()
    for customer_id in sorted(set(billable) | set(by_customer)):
        invoices = by_customer.get(customer_id, [])
        drafts = [i for i in invoices if _is_run_draft(i)]
        billed_elsewhere = any(
            not _is_run_draft(i) and i.status != InvoiceStatus.void.value for i in invoices
        )
        if billed_elsewhere:
            plan.billed_elsewhere.add(customer_id)
        lines = billable.get(customer_id, [])
        if billed_elsewhere or not lines:
            if lines:
                plan.customers_skipped += 1
            # Nothing to bill (any more), or billed another way: earlier drafts go.
            plan.stale_drafts += [d.id for d in drafts if d.id is not None]
            continue
        existing_draft = None
        if drafts:
            existing_draft = drafts[0]
            plan.stale_drafts += [d.id for d in drafts[1:] if d.id is not None]
            number = existing_draft.number
        else:
            number = _number(period, customer_id, taken)
        draft_lines: list[dict[str, Any]] = []
        total = ZERO
        for line_no, (line, month) in enumerate(lines, start=1):
            quantity, price = quantity_and_price(month.unit_months, line.unit_price, month.revenue)
            service = services[line.service_id]
            draft_lines.append(
                {
                    "line_no": line_no,
                    "service_id": line.service_id,
                    "contract_line_id": line.line_id,
                    "description": _description(
                        service, contract_names.get(line.contract_id, ""), month, period
                    ),
                    "quantity": quantity,
                    "unit_price": price,
                    "amount": month.revenue,
                }
            )
            total += month.revenue
        plan.drafts.append(Draft(customer_id, number, existing_draft, draft_lines, total))
    _check_totals(period, plan.drafts)
    return plan


def _check_totals(period: Period, drafts: list[Draft]) -> None:
    """Each drafted invoice's total and the run's total stay under the per-value limit, as
    a recorded invoice's must (README, "Limits"); otherwise the run is a 422 that names
    them, and the caller's transaction, never committed, stores nothing."""
    figures = [
        ("body.period", f"the {period} invoice of customer {draft.customer_id}", draft.total)
        for draft in drafts
    ]
    figures.append(
        (
            "body.period",
            f"the billing run's total for {period}",
            sum((draft.total for draft in drafts), ZERO),
        )
    )
    check_limit(figures, f"The billing run for {period} would exceed the limit on amounts.")


class CustomerCost(Protocol):
    """Each customer's cost of the period in cents, as the profitability report gives it
    (app/reports/service.py:customer_cost). The cost rules live in reports, which read the
    customer invoices, so billing is handed them (app/main.py) rather than importing them
    (packages import one way, tests/test_layers.py)."""

    async def __call__(self, session: AsyncSession, *, period: Period) -> dict[int, int]: ...


async def dry_run(
    session: AsyncSession, *, period: Period, cost_of: CustomerCost
) -> BillingRunDryRun:
    """The drafts the run of `period` would make and, per customer, the revenue they bill,
    the cost known so far, profit and margin (docs/exports.md#dry-run). Read in one
    snapshot beside the request's session, which is left untouched: nothing is written,
    no run is recorded, no event is emitted, no id is drawn."""
    async with snapshot(snapshot_of(session)) as reader:
        plan = await plan_run(reader, period=period)
        costs = await cost_of(reader, period=period)
        revenue = {draft.customer_id: to_cents(draft.total) for draft in plan.drafts}
        # With a draft, or with cost and nothing billing them: a customer billed another
        # way is outside the run, and their revenue is not what it bills.
        customers = sorted(
            set(revenue)
            | {c for c, cents in costs.items() if cents and c not in plan.billed_elsewhere}
        )
        names = await _customer_names(reader, customers)
    invoices = [
        DryRunInvoiceDetail(
            id=None if draft.existing is None else draft.existing.id,
            customer_id=draft.customer_id,
            number=draft.number,
            period=str(period),
            issue_date=period.first_day,
            status=InvoiceStatus.draft,
            origin=InvoiceOrigin.billing_run,
            total=draft.total,
            lines=[DryRunInvoiceLineRead.model_validate(line) for line in draft.lines],
        )
        for draft in plan.drafts
    ]
    figures = []
    for customer_id in customers:
        revenue_cents, cost_cents = revenue.get(customer_id, 0), costs.get(customer_id, 0)
        profit = revenue_cents - cost_cents
        figures.append(
            DryRunCustomerFigures(
                customer_id=customer_id,
                customer_name=names.get(customer_id),
                revenue=from_cents(revenue_cents),
                cost=from_cents(cost_cents),
                profit=from_cents(profit),
                margin=margin(revenue_cents, profit),
            )
        )
    return BillingRunDryRun(period=str(period), invoices=invoices, customers=figures)


async def _customer_names(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    names: dict[int, str] = {}
    for chunk in chunks(ids):
        rows: Any = await session.execute(
            select(col(Customer.id), col(Customer.name)).where(col(Customer.id).in_(chunk))
        )
        names.update(rows.all())
    return names


# pg_advisory_xact_lock(namespace, key): "BILL", then the period as YYYYMM.
_LOCK_NAMESPACE = 0x42494C4C


async def _start_run(session: AsyncSession, *, period: Period, actor: str) -> BillingRun:
    """Runs of one period go one at a time, so that two at once cannot both regenerate a
    draft (each deleting the lines it saw, then inserting its own: twice the lines) or
    both create one. PostgreSQL: a transaction-scoped advisory lock on the period, taken
    before anything is read. SQLite: the run's INSERT, made before anything is read,
    takes the database's write lock until the commit."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
            {"namespace": _LOCK_NAMESPACE, "key": period.year * 100 + period.month},
        )
    run = BillingRun(
        period=str(period),
        created_by=actor,
        invoices_created=0,
        invoices_regenerated=0,
        customers_skipped=0,
        total=ZERO,
    )
    session.add(run)
    await session.flush()
    return run


def _prefix(period: Period) -> str:
    return f"BR{period.year:04d}{period.month:02d}-"


def _number(period: Period, customer_id: int, taken: set[str]) -> str:
    """Unique, at most 21 characters (QuickBooks' DocNumber): BR202611-000042[-n]."""
    base = f"{_prefix(period)}{customer_id:06d}"
    number, n = base, 1
    while number in taken:
        n += 1
        number = f"{base}-{n}"
    taken.add(number)
    return number


def _description(
    service: Service, contract_name: str, month: arithmetic.LineMonth, period: Period
) -> str:
    text = f"{service.name} ({contract_name}), {period}"
    if month.active_days != period.days:
        text += f", {month.active_days} of {period.days} days"
    return text


async def list_runs(
    session: AsyncSession, *, page: PageParams, period: Period | None
) -> Page[BillingRunRead]:
    stmt = select(BillingRun)
    if period is not None:
        stmt = stmt.where(col(BillingRun.period) == str(period))
    return await paginate(session, stmt, BillingRun.id, page, to_item=BillingRunRead.model_validate)
