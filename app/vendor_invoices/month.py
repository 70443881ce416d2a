"""The vendor side of one month, per (customer, service), from matched lines of invoices
of any period (docs/vendor-bills.md#month-figures): units and monthly amounts of the
recurring lines in force on the month's last day, and the cost the month carries. Set-based:
a few grouped queries, then the exact arithmetic of charges.py on the groups."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.bulk import chunks
from app.core.money import AMOUNT_PLACES, VENDOR_PLACES, decimal_sum, from_cents, to_cents
from app.core.periods import Period, share
from app.vendor_invoices.charges import spread_cents
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import LineKind, VendorInvoice, VendorInvoiceLine

Pair = tuple[int, int]  # (customer_id, service_id)
ZERO = Decimal(0)
Line = VendorInvoiceLine


@dataclass(slots=True)
class PairMonth:
    """One (customer, service) in the month, as its vendor charged it."""

    vendor_id: int
    units: Decimal = ZERO  # recurring lines in force on the month's last day
    # Their amounts for one month (amount / share), in two parts: the lines charging a
    # whole calendar month (share 1, most lines) as a Decimal, the others exactly.
    whole: Decimal = ZERO
    partial: Fraction = Fraction(0)
    line_count: int = 0  # those lines
    cost: int = 0  # cents the month carries: recurring, usage and one-time lines
    other_cost: int = 0  # of which usage and one-time lines

    @property
    def monthly(self) -> Fraction:
        """The monthly amounts of the lines in force, exact."""
        return Fraction(self.whole) + self.partial if self.partial else Fraction(self.whole)

    @property
    def mean_cost(self) -> Fraction | None:
        """Vendor mean unit cost: monthly amounts / units (none when units are 0)."""
        if self.units == 0:
            return None
        return self.monthly / Fraction(self.units)

    @property
    def cost_amount(self) -> Decimal:
        return from_cents(self.cost)


def matched_filters(
    vendor_id: int | None = None, customer_ids: Collection[int] | None = None
) -> list[Any]:
    """Lines matched to a (customer, service): never an adjustment, which belongs to no
    customer or service."""
    filters: list[Any] = [
        matched_service_id.isnot(None),
        matched_customer_id.isnot(None),
        col(Line.kind) != LineKind.adjustment.value,
    ]
    if vendor_id is not None:
        filters.append(col(Line.vendor_id) == vendor_id)
    if customer_ids is not None:
        filters.append(matched_customer_id.in_(list(customer_ids)))
    return filters


def spread_over_months() -> Any:
    """Recurring and usage lines: spread over their charge period."""
    return col(Line.kind).in_([LineKind.recurring.value, LineKind.usage.value])


async def pair_months(
    session: AsyncSession,
    period: Period,
    *,
    vendor_id: int | None = None,
    customer_ids: Collection[int] | None = None,
) -> dict[Pair, PairMonth]:
    """Every (customer, service) with a recurring line in force on the month's last day
    or a cost in the month, with its figures."""
    first, last = period.first_day, period.last_day
    dialect = session.get_bind().dialect.name
    filters = matched_filters(vendor_id, customer_ids)
    pairs: dict[Pair, PairMonth] = {}

    def at(customer: int, service: int, vendor: int) -> PairMonth:
        found = pairs.get((customer, service))
        if found is None:
            found = pairs[(customer, service)] = PairMonth(vendor)
        return found

    # Units and monthly amounts: recurring lines in force on the last day, grouped by
    # charge period (the share is per period; plain lines share their month's).
    in_force: Any = await session.execute(
        join_matches(
            select(
                matched_customer_id,
                matched_service_id,
                col(Line.vendor_id),
                col(Line.charge_start),
                col(Line.charge_end),
                decimal_sum(col(Line.quantity), dialect, VENDOR_PLACES),
                decimal_sum(col(Line.amount), dialect, AMOUNT_PLACES),
                func.count(),
            ).select_from(Line)
        )
        .where(
            *filters,
            col(Line.kind) == LineKind.recurring.value,
            col(Line.charge_start) <= last,
            col(Line.charge_end) >= last,
        )
        .group_by(
            matched_customer_id,
            matched_service_id,
            col(Line.vendor_id),
            col(Line.charge_start),
            col(Line.charge_end),
        )
    )
    for customer, service, vendor, start, end, quantity, amount, count in in_force.all():
        pair = at(customer, service, vendor)
        pair.units += quantity
        if start == period.first_day and end == last:
            pair.whole += amount
        else:
            pair.partial += Fraction(amount) / share(start, end)
        pair.line_count += count

    # The month's cost of lines whose charge lies inside one month (most lines): their
    # amounts, whole; a one-time fee in the month of its charge_start.
    inside = or_(
        and_(
            spread_over_months(),
            col(Line.charge_start) >= first,
            col(Line.charge_end) <= last,
        ),
        and_(
            col(Line.kind) == LineKind.one_time.value,
            col(Line.charge_start) >= first,
            col(Line.charge_start) <= last,
        ),
    )
    whole: Any = await session.execute(
        join_matches(
            select(
                matched_customer_id,
                matched_service_id,
                col(Line.vendor_id),
                col(Line.kind),
                decimal_sum(col(Line.amount), dialect, AMOUNT_PLACES),
            ).select_from(Line)
        )
        .where(*filters, inside)
        .group_by(matched_customer_id, matched_service_id, col(Line.vendor_id), col(Line.kind))
    )
    for customer, service, vendor, kind, amount in whole.all():
        _add_cost(at(customer, service, vendor), kind, to_cents(amount))

    # Lines spread over several months that touch this one: their part of the month, by
    # cumulative rounding, line by line (equal lines grouped: each rounds alike).
    spread: Any = await session.execute(
        join_matches(
            select(
                matched_customer_id,
                matched_service_id,
                col(Line.vendor_id),
                col(Line.kind),
                col(Line.charge_start),
                col(Line.charge_end),
                col(Line.amount),
                func.count(),
            ).select_from(Line)
        )
        .where(
            *filters,
            spread_over_months(),
            col(Line.charge_start) <= last,
            col(Line.charge_end) >= first,
            not_(and_(col(Line.charge_start) >= first, col(Line.charge_end) <= last)),
        )
        .group_by(
            matched_customer_id,
            matched_service_id,
            col(Line.vendor_id),
            col(Line.kind),
            col(Line.charge_start),
            col(Line.charge_end),
            col(Line.amount),
        )
    )
    for customer, service, vendor, kind, start, end, amount, count in spread.all():
        cents = spread_cents(to_cents(amount), start, end, period) * count
        _add_cost(at(customer, service, vendor), kind, cents)
    return pairs


def _add_cost(pair: PairMonth, kind: str, cents: int) -> None:
    pair.cost += cents
    if kind != LineKind.recurring:
        pair.other_cost += cents


@dataclass(frozen=True)
class Copy:
    """A charge found on more than one invoice of its vendor: one invoice carrying it."""

    invoice_id: int
    invoice_number: str
    invoice_date: date
    period: str
    amount: Decimal  # the amounts of the charge's lines on this invoice


@dataclass(frozen=True)
class Duplicate:
    """The copies of identical charges of one (customer, service) that sit on invoices of
    the month other than the earliest invoice carrying each charge."""

    vendor_id: int
    earliest: list[str]  # the invoice numbers kept (the earliest of each charge)
    copies: list[Copy]

    @property
    def amount(self) -> Decimal:
        return sum((copy.amount for copy in self.copies), ZERO)


async def duplicate_charges(
    session: AsyncSession,
    period: Period,
    *,
    vendor_id: int | None = None,
    customer_ids: Collection[int] | None = None,
) -> dict[Pair, Duplicate]:
    """Lines on invoices of the month identical to a line on another invoice of the same
    vendor: same customer, service, kind, charge period, quantity and amount
    (docs/findings.md#duplicate_charge). Two grouped queries: the charges carried by more
    than one invoice, one of them of this month; then where each of those sits."""
    filters = matched_filters(vendor_id, customer_ids)
    month = str(period)
    signature = [
        col(Line.vendor_id),
        matched_customer_id,
        matched_service_id,
        col(Line.kind),
        col(Line.charge_start),
        col(Line.charge_end),
        col(Line.quantity),
        col(Line.amount),
    ]
    # Only lines that can be copies of this month's: the same vendor and charge period as
    # a line of an invoice of the month (the charge-date indexes keep this to a few months
    # of lines, not every line ever stored).
    of_month_filters: list[Any] = [col(Line.period) == month]
    if vendor_id is not None:
        of_month_filters.append(col(Line.vendor_id) == vendor_id)
    of_month = select(col(Line.vendor_id), col(Line.charge_start), col(Line.charge_end)).where(
        *of_month_filters
    )
    # The first and last charge_start of the month's lines bound the scan by the
    # charge-date index before the row-value test.
    bounds: Any = (
        await session.execute(
            select(func.min(col(Line.charge_start)), func.max(col(Line.charge_start))).where(
                *of_month_filters
            )
        )
    ).one()
    if bounds[0] is None:
        return {}
    same_charge = and_(
        col(Line.charge_start) >= bounds[0],
        col(Line.charge_start) <= bounds[1],
        tuple_(col(Line.vendor_id), col(Line.charge_start), col(Line.charge_end)).in_(
            of_month.distinct()
        ),
    )
    repeated: Any = await session.execute(
        join_matches(select(*signature).select_from(Line))
        .where(*filters, same_charge)
        .group_by(*signature)
        .having(
            func.count(func.distinct(col(Line.invoice_id))) > 1,
            func.max(case((col(Line.period) == month, 1), else_=0)) == 1,
        )
    )
    keys = [tuple(row) for row in repeated.all()]
    if not keys:
        return {}
    found: dict[tuple[Any, ...], list[tuple[int, str, date, str, int]]] = {}
    for chunk in chunks(keys, 500):
        rows: Any = await session.execute(
            join_matches(
                select(
                    *signature,
                    col(VendorInvoice.id),
                    col(VendorInvoice.invoice_number),
                    col(VendorInvoice.invoice_date),
                    col(VendorInvoice.period),
                    func.count(),
                ).select_from(Line)
            )
            .join(VendorInvoice, col(VendorInvoice.id) == col(Line.invoice_id))
            .where(*filters, tuple_(*signature).in_(chunk))
            .group_by(
                *signature,
                col(VendorInvoice.id),
                col(VendorInvoice.invoice_number),
                col(VendorInvoice.invoice_date),
                col(VendorInvoice.period),
            )
        )
        for *key, invoice_id, number, day, invoice_period, count in rows.all():
            found.setdefault(tuple(key), []).append(
                (invoice_id, number, day, invoice_period, count)
            )
    duplicates: dict[Pair, Duplicate] = {}
    for key, invoices in sorted(found.items(), key=lambda item: repr(item[0])):
        vendor, customer, service, _kind, _start, _end, _quantity, amount = key
        earliest = min(invoices, key=lambda i: (i[2], i[1]))
        copies = [
            Copy(invoice_id, number, day, invoice_period, amount * count)
            for invoice_id, number, day, invoice_period, count in invoices
            if invoice_period == month and invoice_id != earliest[0]
        ]
        if not copies:
            continue
        pair = (customer, service)
        known = duplicates.get(pair)
        duplicates[pair] = Duplicate(
            vendor,
            [*(known.earliest if known else []), earliest[1]],
            [*(known.copies if known else []), *copies],
        )
    return duplicates
