"""The vendor side of one month, per (customer, service), from matched lines of invoices
of any period (docs/vendor-bills.md#month-figures): units and monthly amounts of the
recurring lines in force on the month's last day, and the cost the month carries. Set-based:
one grouped pass for the figures and one for the copies
(docs/vendor-bills.md#reading-lines-by-charge-date), then the exact arithmetic of
charges.py on the groups."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import String, case, cast, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.bulk import chunks
from app.core.db import indexed_by
from app.core.money import (
    AMOUNT_PLACES,
    VENDOR_PLACES,
    exact_sum,
    from_cents,
    from_scaled,
    scaled_int,
)
from app.core.periods import Period, months_between, share
from app.vendor_invoices.charges import spread_cents
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import (
    CHARGE_END_INDEX,
    CHARGE_START_INDEX,
    LineKind,
    VendorInvoice,
    VendorInvoiceLine,
)

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


def month_of(day: Any, dialect: str) -> Any:
    """A date column's month as 'YYYY-MM', the text of a period (SQLite keeps dates as
    ISO text)."""
    if dialect == "postgresql":
        return func.to_char(day, "YYYY-MM")
    return func.substr(day, 1, 7)


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

    # One pass over the matched lines whose charge touches the month, grouped by charge
    # period and amount (equal lines round alike); the charge-end index reaches them.
    # Amounts come back as cents and quantities x 10^6, integers: exact, and no Decimal
    # per row. Core execution: the rows are plain tuples.
    statement = indexed_by(
        join_matches(
            select(
                matched_customer_id,
                matched_service_id,
                col(Line.vendor_id),
                col(Line.kind),
                col(Line.charge_start),
                col(Line.charge_end),
                scaled_int(col(Line.amount), dialect, AMOUNT_PLACES),
                exact_sum(col(Line.quantity), dialect, VENDOR_PLACES),
                func.count(),
            ).select_from(Line)
        )
        .where(*filters, col(Line.charge_end) >= first, col(Line.charge_start) <= last)
        .group_by(
            matched_customer_id,
            matched_service_id,
            col(Line.vendor_id),
            col(Line.kind),
            col(Line.charge_start),
            col(Line.charge_end),
            col(Line.amount),
        ),
        Line,
        CHARGE_END_INDEX,
    )
    rows = (await (await session.connection()).execute(statement)).all()
    units: dict[Pair, int] = {}  # x 10^6
    whole: dict[Pair, int] = {}  # cents
    recurring = LineKind.recurring.value
    one_time = LineKind.one_time.value
    for customer, service, vendor, kind, start, end, cents, quantity, count in rows:
        if kind == one_time and start < first:
            continue  # a fee costs only the month of its charge_start: an earlier one
        key = (customer, service)
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = PairMonth(vendor)
        if kind == recurring and end >= last:
            # In force on the last day: units and the amounts for one month (amount /
            # share; plain lines share their month's).
            units[key] = units.get(key, 0) + quantity
            pair.line_count += count
            if start == first and end == last:
                whole[key] = whole.get(key, 0) + cents * count
            else:
                pair.partial += Fraction(cents * count, 100) / share(start, end)
        if kind == one_time or (start >= first and end <= last):
            month_cost = cents  # a fee of the month, or a charge inside it: its amount
        else:
            month_cost = spread_cents(cents, start, end, period)  # its part, cumulatively
        pair.cost += month_cost * count
        if kind != recurring:
            pair.other_cost += month_cost * count
    for key, scaled in units.items():
        pairs[key].units = from_scaled(scaled, VENDOR_PLACES)
    for key, cents in whole.items():
        pairs[key].whole = from_cents(cents)
    return pairs


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
    (docs/findings.md#duplicate_charge). One grouped query finds the charges carried by
    more than one invoice, one of them of this month, with the invoices of their lines."""
    filters = matched_filters(vendor_id, customer_ids)
    dialect = session.get_bind().dialect.name
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
    same_charge = [col(Line.charge_start) >= bounds[0], col(Line.charge_start) <= bounds[1]]
    if dialect == "sqlite":
        # SQLite joins line by line: dropping the lines of other charge periods first
        # saves their lookups. PostgreSQL hashes the joins, and a row-value IN would only
        # mislead its estimate of how many lines pass (BENCHMARKS.md).
        same_charge.append(
            tuple_(col(Line.vendor_id), col(Line.charge_start), col(Line.charge_end)).in_(
                of_month.distinct()
            )
        )
    # Each repeated charge with the invoices of its lines, one id per line: one scan,
    # then the invoices (a few) by their ids.
    if dialect == "postgresql":
        invoice_ids = func.string_agg(cast(col(Line.invoice_id), String), ",")
    else:
        invoice_ids = func.group_concat(col(Line.invoice_id))
    repeated: Any = await (await session.connection()).execute(
        indexed_by(
            join_matches(select(*signature, invoice_ids).select_from(Line))
            .where(*filters, *same_charge)
            .group_by(*signature)
            .having(
                func.count(func.distinct(col(Line.invoice_id))) > 1,
                func.max(case((col(Line.period) == month, 1), else_=0)) == 1,
            ),
            Line,
            CHARGE_START_INDEX,
        )
    )
    carried: list[tuple[tuple[Any, ...], Counter[int]]] = [
        (tuple(key), Counter(int(i) for i in ids.split(","))) for *key, ids in repeated.all()
    ]
    if not carried:
        return {}
    ids = sorted({i for _, lines in carried for i in lines})
    carriers: dict[int, tuple[str, date, str]] = {}
    for chunk in chunks(ids, 500):
        rows: Any = await session.execute(
            select(
                col(VendorInvoice.id),
                col(VendorInvoice.invoice_number),
                col(VendorInvoice.invoice_date),
                col(VendorInvoice.period),
            ).where(col(VendorInvoice.id).in_(chunk))
        )
        carriers.update({i: (number, day, p) for i, number, day, p in rows.all()})
    # An invoice deleted between the two statements (a write transaction on PostgreSQL
    # reads at READ COMMITTED: the checks at ingest, docs/checks.md#consistency) no
    # longer carries anything.
    found = {
        key: [(i, *carriers[i], count) for i, count in lines.items() if i in carriers]
        for key, lines in carried
    }
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


async def vendors_billing(
    session: AsyncSession, first: Period, last: Period, *, vendor_id: int | None = None
) -> list[set[int]]:
    """For each month first..last, the vendors that bill it: an invoice for the month, or a
    recurring line in force on its last day (docs/vendor-bills.md#month-figures; the
    audit's OVERBILLED_UNITS and the trends' incomplete months). Two queries whatever the
    range: the invoices' (period, vendor), and the recurring lines reaching past the
    first month's end grouped by (vendor, charge_end) with their earliest charge_start (a
    line of the group is in force on a day between the two); for one month (the audit)
    simply the vendors of the lines in force on its last day."""
    periods = list(months_between(first, last))
    index_of = {str(p): i for i, p in enumerate(periods)}
    billing: list[set[int]] = [set() for _ in periods]
    invoices = select(col(VendorInvoice.period), col(VendorInvoice.vendor_id)).where(
        col(VendorInvoice.period) >= str(first), col(VendorInvoice.period) <= str(last)
    )
    recurring: list[Any] = [
        col(Line.kind) == LineKind.recurring.value,
        col(Line.charge_end) >= first.last_day,
        col(Line.charge_start) <= last.last_day,
    ]
    if vendor_id is not None:
        invoices = invoices.where(col(VendorInvoice.vendor_id) == vendor_id)
        recurring.append(col(Line.vendor_id) == vendor_id)
    rows: Any = await session.execute(invoices.distinct())
    for period, vendor in rows.all():
        billing[index_of[period]].add(vendor)
    if first == last:
        # One day to test: the distinct vendors, no groups to bring back (the audit).
        in_force = select(col(Line.vendor_id)).where(*recurring).distinct()
        billing[0].update((await session.scalars(in_force)).all())
        return billing
    rows = await session.execute(
        select(col(Line.vendor_id), col(Line.charge_end), func.min(col(Line.charge_start)))
        .where(*recurring)
        .group_by(col(Line.vendor_id), col(Line.charge_end))
    )
    month_ends = [p.last_day for p in periods]
    for vendor, end, start in rows.all():
        for index, day in enumerate(month_ends):
            if start <= day <= end:
                billing[index].add(vendor)
    return billing
