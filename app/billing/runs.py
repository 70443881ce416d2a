"""Billing runs (docs/exports.md#billing-runs): a draft invoice per customer with contracted
revenue in the period, one line per contract line, amounts from the one month-arithmetic
module."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.billing.models import (
    BillingRun,
    BillingRunRead,
    CustomerInvoice,
    CustomerInvoiceLine,
    InvoiceOrigin,
    InvoiceStatus,
)
from app.billing.quantities import quantity_and_price
from app.contracts import arithmetic
from app.contracts.models import Contract
from app.core.bulk import bulk_insert, chunks
from app.core.money import check_limit
from app.core.pagination import Page, PageParams, paginate
from app.core.periods import Period
from app.events import outbox
from app.events.models import EventType
from app.services.models import Service

ZERO = Decimal(0)


def _is_run_draft(invoice: CustomerInvoice) -> bool:
    return (
        invoice.origin == InvoiceOrigin.billing_run.value
        and invoice.status == InvoiceStatus.draft.value
    )


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
    first, last = period.first_day, period.last_day
    run = await _start_run(session, period=period, actor=actor)
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
    stale_drafts: list[int] = []
    regenerated: list[int] = []  # drafts whose lines are replaced
    billed: list[tuple[CustomerInvoice, list[tuple[arithmetic.LineTerms, Any]]]] = []
    for customer_id in sorted(set(billable) | set(by_customer)):
        invoices = by_customer.get(customer_id, [])
        drafts = [i for i in invoices if _is_run_draft(i)]
        billed_elsewhere = any(
            not _is_run_draft(i) and i.status != InvoiceStatus.void.value for i in invoices
        )
        lines = billable.get(customer_id, [])
        if billed_elsewhere or not lines:
            if lines:
                run.customers_skipped += 1
            # Nothing to bill (any more), or billed another way: earlier drafts go.
            stale_drafts += [d.id for d in drafts if d.id is not None]
            continue
        if drafts:
            invoice = drafts[0]
            stale_drafts += [d.id for d in drafts[1:] if d.id is not None]
            if invoice.id is not None:
                regenerated.append(invoice.id)
            invoice.billing_run_id = run.id
            run.invoices_regenerated += 1
        else:
            invoice = CustomerInvoice(
                customer_id=customer_id,
                number=_number(period, customer_id, taken),
                period=str(period),
                issue_date=first,
                status=InvoiceStatus.draft.value,
                origin=InvoiceOrigin.billing_run.value,
                billing_run_id=run.id,
            )
            session.add(invoice)
            run.invoices_created += 1
        billed.append((invoice, lines))
    _check_totals(period, billed)
    # Set-based writes: one flush inserts every new invoice (a multi-row INSERT), and the
    # old lines of regenerated and stale drafts go in a few DELETEs, not one per customer
    # (a round trip per customer was most of a large run's time;
    # BENCHMARKS.md#figures-behind-design-choices).
    await session.flush()
    for chunk in chunks(regenerated + stale_drafts):
        await session.execute(
            delete(CustomerInvoiceLine).where(col(CustomerInvoiceLine.invoice_id).in_(chunk))
        )
    for chunk in chunks(stale_drafts):
        await session.execute(delete(CustomerInvoice).where(col(CustomerInvoice.id).in_(chunk)))
    new_lines: list[dict[str, Any]] = []
    total = ZERO
    for invoice, lines in billed:
        for number, (line, month) in enumerate(lines, start=1):
            quantity, price = quantity_and_price(month.unit_months, line.unit_price, month.revenue)
            service = services[line.service_id]
            new_lines.append(
                {
                    "invoice_id": invoice.id,
                    "line_no": number,
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
    await bulk_insert(session, CustomerInvoiceLine.__table__, new_lines)  # type: ignore[attr-defined]
    run.total = total
    await session.flush()
    read = BillingRunRead.model_validate(run)
    # docs/events.md#event-types: written with the run, sent once it is committed.
    await outbox.emit(session, EventType.billing_run_completed, [read.model_dump(mode="json")])
    return read


def _check_totals(
    period: Period, billed: list[tuple[CustomerInvoice, list[tuple[arithmetic.LineTerms, Any]]]]
) -> None:
    """Each drafted invoice's total and the run's total stay under the per-value limit, as
    a recorded invoice's must (README, "Limits"); otherwise the run is a 422 that names
    them, and the caller's transaction, never committed, stores nothing."""
    totals = {
        invoice.customer_id: sum((month.revenue for _line, month in lines), ZERO)
        for invoice, lines in billed
    }
    figures = [
        ("body.period", f"the {period} invoice of customer {customer}", total)
        for customer, total in sorted(totals.items())
    ]
    figures.append(
        ("body.period", f"the billing run's total for {period}", sum(totals.values(), ZERO))
    )
    check_limit(figures, f"The billing run for {period} would exceed the limit on amounts.")


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
