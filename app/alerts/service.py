"""Cancellation deadlines (docs/cancellations.md): the subscriptions a vendor still
charges for customers nobody bills (open or acknowledged ORPHANED_COST findings), with the
day by which each must be cancelled, or its auto-renewal turned off, and the money its
current term still commits.

Two statements, however many findings: the subscriptions of the current findings, and the
latest lines of those subscriptions, grouped by charge period; the exact arithmetic
(share, monthly amounts) then runs in Python on the groups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.alerts.models import CancellationItem, Cancellations
from app.audits.models import Audit, Finding, FindingStatus, FindingType
from app.audits.service import latest_status
from app.core.db import indexed_by
from app.core.money import (
    AMOUNT_PLACES,
    VENDOR_PLACES,
    cents_sum,
    exact_sum,
    from_cents,
    round_half_up,
)
from app.core.periods import share
from app.core.types import LAST_DAY
from app.vendor_invoices.charges import monthly_amount
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import ACCOUNT_INDEX, LineKind, VendorInvoiceLine
from app.vendor_invoices.month import month_of
from app.vendors.models import Vendor

Line = VendorInvoiceLine
# (customer_id, service_id, vendor_id, subscription_ref or "")
Key = tuple[int, int, int, str]
LIVE = (FindingStatus.open.value, FindingStatus.acknowledged.value)


def current_findings() -> Any:
    """The ORPHANED_COST findings of the latest audit of their month that looked at their
    vendor (one for every vendor, or for theirs): a later run that no longer reports one
    has cleared it. Its status is that of the latest change made to the same finding in
    any run of the month, else its own, and must be open or acknowledged
    (docs/cancellations.md#findings)."""
    later = Audit.__table__.alias("later")  # type: ignore[attr-defined]
    status = func.coalesce(latest_status(col(Finding.fingerprint)), col(Finding.status))
    return (
        select(
            col(Finding.id).label("finding_id"),
            col(Finding.customer_id).label("customer_id"),
            col(Finding.service_id).label("service_id"),
            col(Finding.vendor_id).label("vendor_id"),
            col(Audit.period).label("period"),
        )
        .join(Audit, col(Audit.id) == col(Finding.audit_id))
        .where(
            col(Finding.type) == FindingType.ORPHANED_COST.value,
            # Held back by a tolerance: not shown, so not an alert (docs/tolerances.md).
            col(Finding.tolerance_id).is_(None),
            col(Finding.customer_id).isnot(None),
            col(Finding.service_id).isnot(None),
            col(Finding.vendor_id).isnot(None),
            ~exists().where(
                later.c.period == col(Audit.period),
                later.c.id > col(Audit.id),
                or_(later.c.vendor_id.is_(None), later.c.vendor_id == col(Finding.vendor_id)),
            ),
            status.in_(LIVE),
        )
        .subquery("current")
    )


def _subscription_ref() -> Any:
    # Lines naming no subscription are taken together as one ("" never is a ref: an empty
    # one is stored as null) (docs/cancellations.md#subscriptions).
    return func.coalesce(col(Line.subscription_ref), literal(""))


def _recurring_lines(*columns: Any) -> Any:
    """The matched recurring lines, with `columns`, reached from the few customers asked
    about through their accounts: SQLite, without statistics, would rather index every
    line of the table for the query (docs/cancellations.md#reading-it-in-the-database)."""
    statement = join_matches(select(*columns).select_from(Line)).where(
        col(Line.kind) == LineKind.recurring.value,
        matched_service_id.isnot(None),
        matched_customer_id.isnot(None),
    )
    return indexed_by(statement, Line, ACCOUNT_INDEX)


def members(dialect: str) -> Any:
    """Each current finding with the subscriptions it is charged under: the distinct
    subscriptions of its vendor's recurring lines matched to its (customer, service) whose
    charge touches its month."""
    found = current_findings()
    return (
        _recurring_lines(
            found.c.finding_id,
            found.c.period,
            found.c.customer_id,
            found.c.service_id,
            found.c.vendor_id,
            _subscription_ref().label("ref"),
        )
        .join(
            found,
            and_(
                found.c.customer_id == matched_customer_id,
                found.c.service_id == matched_service_id,
                found.c.vendor_id == col(Line.vendor_id),
            ),
        )
        .where(
            month_of(col(Line.charge_start), dialect) <= found.c.period,
            month_of(col(Line.charge_end), dialect) >= found.c.period,
        )
        .distinct()
    )


def latest_lines(dialect: str, subscriptions: Any) -> Any:
    """The latest lines of each subscription: those in force on the latest charge_start of
    its recurring lines (of any invoice), grouped by charge period, with their amounts in
    cents and the latest term_end they give (docs/cancellations.md#current-term)."""
    key = (
        matched_customer_id,
        matched_service_id,
        col(Line.vendor_id),
        _subscription_ref(),
    )
    ranked_lines = _recurring_lines(
        matched_customer_id.label("customer_id"),
        matched_service_id.label("service_id"),
        col(Line.vendor_id).label("vendor_id"),
        _subscription_ref().label("ref"),
        col(Line.charge_start).label("charge_start"),
        col(Line.charge_end).label("charge_end"),
        col(Line.term_end).label("term_end"),
        col(Line.amount).label("amount"),
        col(Line.quantity).label("quantity"),
        func.max(col(Line.charge_start)).over(partition_by=key).label("latest"),
    ).join(
        subscriptions,
        and_(
            subscriptions.c.customer_id == matched_customer_id,
            subscriptions.c.service_id == matched_service_id,
            subscriptions.c.vendor_id == col(Line.vendor_id),
            subscriptions.c.ref == _subscription_ref(),
        ),
    )
    if dialect == "sqlite":
        # The customers first: their accounts lead to their lines alone. (PostgreSQL,
        # which takes the subscriptions for one row, would test this per line: 87 million
        # comparisons at size L.)
        ranked_lines = ranked_lines.where(
            matched_customer_id.in_(select(subscriptions.c.customer_id))
        )
    ranked = ranked_lines.subquery("ranked")
    r = ranked.c
    return (
        select(
            r.customer_id,
            r.service_id,
            r.vendor_id,
            r.ref,
            r.latest,
            r.charge_start,
            r.charge_end,
            cents_sum(r.amount, dialect),
            exact_sum(r.quantity, dialect, VENDOR_PLACES),
            func.max(r.term_end),
        )
        .where(r.charge_start <= r.latest, r.charge_end >= r.latest)
        .group_by(
            r.customer_id, r.service_id, r.vendor_id, r.ref, r.latest, r.charge_start, r.charge_end
        )
    )


@dataclass
class _Subscription:
    latest: date  # the latest charge_start of its recurring lines
    monthly: Fraction = Fraction(0)
    units: int = 0  # x 10^6
    term_end: date | None = None  # the latest term_end its latest lines give
    charge_end: date | None = None  # the latest charge_end of its latest lines

    @property
    def ends(self) -> date:
        return self.term_end or self.charge_end or self.latest


def act_by(as_of: date, latest: date, term_end: date, window_days: int | None) -> date:
    """The last day of the cancel window while as_of is in it, else the term's last day
    (docs/cancellations.md#act-by)."""
    if window_days:
        window_end = latest + timedelta(days=window_days - 1)
        if as_of <= window_end:
            return window_end
    return term_end


def committed(monthly: Fraction, as_of: date, term_end: date) -> Fraction:
    """What the rest of the term costs: the monthly amount x share(as_of, term_end); none
    once the term has ended (docs/cancellations.md#committed-cost)."""
    if as_of > term_end:
        return Fraction(0)
    return monthly * share(as_of, term_end)


async def cancellations(session: AsyncSession, *, as_of: date, within_days: int) -> Cancellations:
    dialect = session.get_bind().dialect.name
    found = members(dialect).subquery("members")
    # Each subscription is listed once, under the finding of the latest month that
    # charges it (then the latest finding).
    finding_of: dict[Key, tuple[str, int]] = {}
    rows: Any = (await session.execute(select(found))).all()
    for finding_id, period, customer_id, service_id, vendor_id, ref in rows:
        key = (customer_id, service_id, vendor_id, ref)
        finding_of[key] = max(finding_of.get(key, (period, finding_id)), (period, finding_id))
    if not finding_of:
        return Cancellations(as_of=as_of, items=[])

    # Worked out once and read twice below: a materialized CTE, not a subquery each
    # reference repeats (on PostgreSQL the repeated one ran once per line: 9 s at size L).
    subscriptions = (
        select(found.c.customer_id, found.c.service_id, found.c.vendor_id, found.c.ref)
        .distinct()
        .cte("subscriptions")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    held: dict[Key, _Subscription] = {}
    groups: Any = (await session.execute(latest_lines(dialect, subscriptions))).all()
    for (
        customer_id,
        service_id,
        vendor_id,
        ref,
        latest,
        start,
        end,
        cents,
        units,
        term_end,
    ) in groups:
        key = (customer_id, service_id, vendor_id, ref)
        sub = held.setdefault(key, _Subscription(latest))
        sub.monthly += monthly_amount(from_cents(cents), start, end)
        sub.units += units
        if term_end is not None and (sub.term_end is None or term_end > sub.term_end):
            sub.term_end = term_end
        if sub.charge_end is None or end > sub.charge_end:
            sub.charge_end = end

    windows = dict(
        (
            await session.execute(
                select(col(Vendor.id), col(Vendor.cancel_window_days)).where(
                    col(Vendor.id).in_(sorted({key[2] for key in held}))
                )
            )
        ).all()
    )
    horizon = as_of + timedelta(days=min(within_days, (LAST_DAY - as_of).days))
    items = []
    for key, sub in held.items():
        if sub.units <= 0:
            continue  # credited as much as charged: cancelled already
        customer_id, service_id, vendor_id, ref = key
        ends = sub.ends
        deadline = act_by(as_of, sub.latest, ends, windows.get(vendor_id))
        if deadline > horizon:
            continue
        items.append(
            CancellationItem(
                subscription_ref=ref or None,
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=vendor_id,
                finding_id=finding_of[key][1],
                act_by=deadline,
                term_end=ends,
                monthly_cost=round_half_up(sub.monthly, AMOUNT_PLACES),
                committed_cost=round_half_up(committed(sub.monthly, as_of, ends), AMOUNT_PLACES),
            )
        )
    items.sort(
        key=lambda i: (i.act_by, i.customer_id, i.service_id, i.vendor_id, i.subscription_ref or "")
    )
    return Cancellations(as_of=as_of, items=items)
