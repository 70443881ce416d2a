"""Everything an audit of one period needs, gathered set-based: contract positions from
the month arithmetic, vendor charges through the shared matching query, assets and
customer invoices, each as one aggregate query (docs/month-arithmetic.md, docs/findings.md)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.assets.models import Asset
from app.billing.models import CustomerInvoice, CustomerInvoiceLine, InvoiceStatus
from app.contracts import month_sql
from app.contracts.models import Contract, ContractLine
from app.core.money import (
    AMOUNT_PLACES,
    QUANTITY_PLACES,
    VENDOR_PLACES,
    decimal_sum,
    from_cents,
)
from app.core.periods import Period, share
from app.customers.models import Customer
from app.services.costs import load_price_book, standard_cost_sql
from app.services.models import Service
from app.vendor_invoices import month as vendor_month
from app.vendor_invoices.charges import monthly_amount
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import LineKind, VendorInvoice, VendorInvoiceLine
from app.vendor_invoices.month import Duplicate, PairMonth
from app.vendors.models import Vendor

ZERO = Decimal(0)
Pair = tuple[int, int]  # (customer_id, service_id)


@dataclass(slots=True)
class ContractPosition:
    """A customer's lines of one service in the month (docs/month-arithmetic.md)."""

    units: Decimal = ZERO  # contracted units: quantity on the month's last day
    price_weight: Decimal = ZERO  # sum of units x unit_price of the lines counted
    revenue: Decimal = ZERO  # sum of the lines' rounded revenues
    in_house_cost: Decimal = ZERO  # the same proration at the service's unit_cost

    @property
    def unit_price(self) -> Fraction | None:
        """Contract unit price: the quantity-weighted mean of the unit prices of the lines
        counted in the contracted units, exact (docs/month-arithmetic.md#contract-unit-price)."""
        if self.units == 0:
            return None
        return Fraction(self.price_weight) / Fraction(self.units)


NO_POSITION = ContractPosition()  # for pairs with nothing contracted; never changed


def _first(item: tuple[Pair, Any]) -> Pair:
    """Sort (pair, position) items by the pair alone: half the comparisons of the tuples."""
    return item[0]


# The vendor side of a (customer, service) in the month (docs/vendor-bills.md#month-figures).
VendorPosition = PairMonth


@dataclass(frozen=True)
class PriceRise:
    """Recurring lines (quantity > 0) of one vendor invoice and one per-unit service above
    its standard unit_cost (docs/vendor-bills.md#rules-on-real-bills)."""

    invoice_id: int
    invoice_number: str
    vendor_id: int
    service_id: int
    quantity: Decimal  # sum of the quantities of those lines
    cost: Fraction  # sum of unit_cost x quantity x share of their charge periods, exact
    weight: Fraction  # sum of quantity x share: the standard cost is counted on it
    # Sum of standard x quantity x share, the standard of each line the one in effect on
    # its charge_start (docs/price-book.md#price_increase); None: the service's unit_cost
    # throughout.
    standard_cost: Fraction | None = None


@dataclass(frozen=True)
class UnmappedLine:
    line_id: int
    invoice_id: int
    invoice_number: str
    vendor_id: int
    vendor_sku: str
    account_ref: str
    amount: Decimal
    service_id: int | None
    customer_id: int | None


@dataclass(frozen=True)
class InvoiceTotal:
    invoice_id: int
    invoice_number: str
    vendor_id: int
    total: Decimal
    lines_total: Decimal


@dataclass
class AuditData:
    period: Period
    vendor_id: int | None
    customers: dict[int, str] = field(default_factory=dict)
    services: dict[int, Service] = field(default_factory=dict)
    vendors: dict[int, str] = field(default_factory=dict)
    contracts: dict[Pair, ContractPosition] = field(default_factory=dict)
    customer_revenue: dict[int, Decimal] = field(default_factory=dict)
    vendor_positions: dict[Pair, VendorPosition] = field(default_factory=dict)
    # Identical charges on several invoices, the copies on this month's (DUPLICATE_CHARGE).
    duplicates: dict[Pair, Duplicate] = field(default_factory=dict)
    # Vendors with an invoice for the month or a recurring line in force on its last day.
    vendors_invoicing: set[int] = field(default_factory=set)
    # Revenue of the month's customer invoice lines, for metered services' pairs.
    invoiced_revenue: dict[Pair, Decimal] = field(default_factory=dict)
    price_rises: list[PriceRise] = field(default_factory=list)
    previous_mean_cost: dict[int, Fraction] = field(default_factory=dict)
    unmapped: list[UnmappedLine] = field(default_factory=list)
    invoice_totals: list[InvoiceTotal] = field(default_factory=list)
    billed_customers: set[int] = field(default_factory=set)
    # Units on the month's customer invoices: gathered for the per-customer report only.
    invoiced_units: dict[Pair, Decimal] = field(default_factory=dict)
    deployed: dict[Pair, int] = field(default_factory=dict)
    # The earliest and latest installed_on of those assets, for the findings' messages.
    installed: dict[Pair, tuple[date, date]] = field(default_factory=dict)
    last_contract_end: dict[Pair, date] = field(default_factory=dict)
    # Narrowed to customers (the per-customer report): (customer, service, vendor invoice)
    # of their lines charged above the standard unit_cost; `price_rises` then holds those
    # invoices' rises, so that the PRICE_INCREASE rule says which of them are findings.
    price_rise_lines: set[tuple[int, int, int]] = field(default_factory=set)
    _vendor_pairs: list[tuple[Pair, ContractPosition, VendorPosition]] | None = field(
        default=None, repr=False
    )
    _metered: frozenset[int] | None = field(default=None, repr=False)

    @property
    def metered_services(self) -> frozenset[int]:
        """The ids of the metered services, worked out once (the rules ask per pair)."""
        if self._metered is None:
            self._metered = frozenset(sid for sid, s in self.services.items() if s.metered)
        return self._metered

    def vendor_pairs(self) -> list[tuple[Pair, ContractPosition, VendorPosition]]:
        """The (customer, service) pairs with vendor charges, in order, each with its
        contract position (empty when nothing is contracted) and vendor position: built
        once for the several rules that walk them."""
        if self._vendor_pairs is None:
            contracts = self.contracts
            self._vendor_pairs = [
                (pair, contracts.get(pair, NO_POSITION), charged)
                for pair, charged in sorted(self.vendor_positions.items(), key=_first)
            ]
        return self._vendor_pairs


async def load(
    session: AsyncSession,
    *,
    period: Period,
    vendor_id: int | None = None,
    customer_ids: Collection[int] | None = None,
    invoice_ids: Collection[int] | None = None,
    service_ids: Collection[int] | None = None,
) -> AuditData:
    """Gather the audit's inputs for the period; `customer_ids` narrows everything to
    those customers (the per-customer report). `invoice_ids` (with their vendor
    as `vendor_id`) gathers what the checks at ingest need (docs/checks.md): the findings
    about vendor invoices as such for those invoices alone, the (customer, service) side for
    `customer_ids`, and nothing about assets or customer invoices but metered revenue;
    `service_ids` narrows the contract positions to those services."""
    data = AuditData(period=period, vendor_id=vendor_id)
    dialect = session.get_bind().dialect.name
    last = period.last_day
    month = str(period)

    data.services = {s.id: s for s in (await session.scalars(select(Service))).all() if s.id}
    vendor_rows: Any = (await session.execute(select(col(Vendor.id), col(Vendor.name)))).all()
    data.vendors = dict(vendor_rows)

    # Contract positions (docs/month-arithmetic.md): each line's unit-days and contracted units
    # computed in the database (month_sql, held equal to the arithmetic module by a
    # test); revenue and in-house cost rounded per line here, in exact integers.
    # In-house cost at the standard in effect on the month's first day
    # (docs/price-book.md#in-house-cost).
    in_house = {sid: s.unit_cost for sid, s in data.services.items() if s.vendor_id is None}
    book = await load_price_book(session, in_house, until=period.first_day)
    _contract_positions(
        data,
        await month_sql.month_line_figures(
            session, period, customer_ids=customer_ids, service_ids=service_ids
        ),
        {sid: book.on(sid, period.first_day) for sid in in_house},
    )

    line_t = VendorInvoiceLine
    # Lines of the month's invoices (price rises, unmapped lines, totals, duplicates).
    vendor_filter: list[Any] = [col(line_t.period) == month]
    if vendor_id is not None:
        vendor_filter.append(col(line_t.vendor_id) == vendor_id)
    if invoice_ids is not None:
        vendor_filter.append(col(line_t.invoice_id).in_(sorted(invoice_ids)))
    matched_filter = [*vendor_filter, *vendor_month.matched_filters(None, customer_ids)]

    # Vendor positions: matched lines of invoices of any period, as they bear on the month
    # (docs/vendor-bills.md#month-figures).
    data.vendor_positions = await vendor_month.pair_months(
        session, period, vendor_id=vendor_id, customer_ids=customer_ids
    )
    data.duplicates = await vendor_month.duplicate_charges(
        session, period, vendor_id=vendor_id, customer_ids=customer_ids
    )
    invoices = await _invoices(session, month, vendor_id, invoice_ids)
    if invoice_ids is None:
        (data.vendors_invoicing,) = await vendor_month.vendors_billing(
            session, period, period, vendor_id=vendor_id
        )

    if customer_ids is None or invoice_ids is not None:
        await _load_vendor_side(session, data, vendor_filter, invoices)
    else:
        rises: Any = await session.execute(
            join_matches(
                select(matched_customer_id, matched_service_id, col(line_t.invoice_id)).select_from(
                    line_t
                )
            )
            .where(*matched_filter, *rising(session.get_bind().dialect.name))
            .distinct()
        )
        data.price_rise_lines = {(c, s, i) for c, s, i in rises.all()}
        if data.price_rise_lines:
            # Those invoices' rises over all their lines (any customer, matched or not), as
            # the audit computes them: a rise whose impact rounds to 0.00 is no finding.
            ids = sorted({i for _c, _s, i in data.price_rise_lines})
            await _load_price_rises(
                session, data, [*vendor_filter, col(line_t.invoice_id).in_(ids)], invoices
            )

    if invoice_ids is None:  # the checks at ingest ask nothing of assets or billing
        # Customer invoices: who is billed for the month (MISSING_BILLING), and the units
        # invoiced (the per-customer report).
        billed = (
            select(col(CustomerInvoice.customer_id))
            .where(
                col(CustomerInvoice.period) == month,
                col(CustomerInvoice.status) != InvoiceStatus.void.value,
            )
            .distinct()
        )
        invoiced = _invoiced_per_pair(
            month,
            decimal_sum(col(CustomerInvoiceLine.quantity), dialect, QUANTITY_PLACES),
            col(CustomerInvoiceLine.service_id).isnot(None),
        )
        # Deployed units: assets counted on the month's last day
        # (docs/month-arithmetic.md#deployed-units).
        deployed = (
            select(
                col(Asset.customer_id),
                col(Asset.service_id),
                func.count(),
                func.min(col(Asset.installed_on)),
                func.max(col(Asset.installed_on)),
            )
            .where(
                col(Asset.installed_on) <= last,
                or_(col(Asset.removed_on).is_(None), col(Asset.removed_on) > last),
            )
            .group_by(col(Asset.customer_id), col(Asset.service_id))
        )
        if customer_ids is not None:
            ids = list(customer_ids)
            billed = billed.where(col(CustomerInvoice.customer_id).in_(ids))
            invoiced = invoiced.where(col(CustomerInvoice.customer_id).in_(ids))
            deployed = deployed.where(col(Asset.customer_id).in_(ids))
        data.billed_customers = set((await session.scalars(billed)).all())
        if customer_ids is not None:  # no rule reads them: the per-customer report shows them
            data.invoiced_units = {
                (c, s): q for c, s, q in (await session.execute(invoiced)).all() if s is not None
            }
        deployed_rows: Any = (await session.execute(deployed)).all()
        data.deployed = {(c, s): n for c, s, n, _first, _last in deployed_rows}
        data.installed = {(c, s): (first, last) for c, s, _n, first, last in deployed_rows}
    metered = sorted(data.metered_services)
    if metered:
        # Metered services are judged on revenue: the larger of contracted and invoiced.
        revenue = _invoiced_per_pair(
            month,
            decimal_sum(col(CustomerInvoiceLine.amount), dialect, AMOUNT_PLACES),
            col(CustomerInvoiceLine.service_id).in_(metered),
        )
        if customer_ids is not None:
            revenue = revenue.where(col(CustomerInvoice.customer_id).in_(list(customer_ids)))
        revenue_rows: Any = await session.execute(revenue)
        data.invoiced_revenue = {(c, s): amount for c, s, amount in revenue_rows.all()}

    await _last_contract_ends(session, data, period)
    customer_query = select(col(Customer.id), col(Customer.name))
    if customer_ids is not None:
        customer_query = customer_query.where(col(Customer.id).in_(list(customer_ids)))
    customer_rows: Any = (await session.execute(customer_query)).all()
    data.customers = dict(customer_rows)
    return data


def _contract_positions(
    data: AuditData, lines: list[month_sql.LineMonthFigures], unit_costs: dict[int, Decimal]
) -> None:
    """Sum the month's lines per (customer, service) and per customer, in integers scaled
    as month_sql gives them, then as Decimals: units and revenue exactly as the sums of
    the lines' `contracted_units` and rounded `revenue` (docs/month-arithmetic.md#revenue);
    in-house cost at `unit_costs`, the in-house services' standard unit costs."""
    days = data.period.days
    # in-house services' standard unit cost x 10^6 (a price-book entry has 6 places)
    costs = {sid: month_sql.to_scaled(cost, VENDOR_PLACES) for sid, cost in unit_costs.items()}
    # pair -> [units x 10^4, any line counted, units x price x 10^8, revenue, in-house cost]
    sums: dict[Pair, list[int]] = {}
    revenue_by_customer: dict[int, int] = {}
    for line in lines:
        pair = (line.customer_id, line.service_id)
        acc = sums.get(pair)
        if acc is None:
            acc = sums[pair] = [0, 0, 0, 0, 0]
        if line.units is not None:
            acc[0] += line.units
            acc[1] = 1
            acc[2] += line.units * line.unit_price
        revenue = month_sql.cents(line.quantity_days, line.unit_price, days)
        acc[3] += revenue
        cost = costs.get(line.service_id)
        if cost is not None:
            acc[4] += month_sql.cents(line.quantity_days, cost, days, VENDOR_PLACES)
        revenue_by_customer[line.customer_id] = (
            revenue_by_customer.get(line.customer_id, 0) + revenue
        )
    places = -month_sql.DECIMALS
    quantities: dict[int, Decimal] = {}  # the same few unit counts recur: convert once
    for pair, (units, counted, weight, revenue, cost) in sums.items():
        if counted:
            quantity = quantities.get(units)
            if quantity is None:
                quantity = quantities[units] = month_sql.from_scaled(units)
            data.contracts[pair] = ContractPosition(
                quantity,
                Decimal(weight).scaleb(2 * places),
                from_cents(revenue),
                from_cents(cost) if pair[1] in costs else ZERO,
            )
        else:
            data.contracts[pair] = ContractPosition(
                ZERO,
                ZERO,
                from_cents(revenue),
                from_cents(cost) if pair[1] in costs else ZERO,
            )
    data.customer_revenue = {
        customer_id: from_cents(cents) for customer_id, cents in revenue_by_customer.items()
    }


def _invoiced_per_pair(month: str, figure: Any, *filters: Any) -> Any:
    """A sum over the lines of the month's customer invoices (a void one does not
    count), per (customer, service)."""
    return (
        select(col(CustomerInvoice.customer_id), col(CustomerInvoiceLine.service_id), figure)
        .join(CustomerInvoice, col(CustomerInvoice.id) == col(CustomerInvoiceLine.invoice_id))
        .where(
            col(CustomerInvoice.period) == month,
            col(CustomerInvoice.status) != InvoiceStatus.void.value,
            *filters,
        )
        .group_by(col(CustomerInvoice.customer_id), col(CustomerInvoiceLine.service_id))
    )


class _Invoice(NamedTuple):
    number: str
    invoice_date: date
    vendor_id: int
    total: Decimal
    lines_total: Decimal  # the sum of its lines, kept on the invoice at ingestion


async def _invoices(
    session: AsyncSession,
    month: str,
    vendor_id: int | None,
    invoice_ids: Collection[int] | None = None,
) -> dict[int, _Invoice]:
    """The month's vendor invoices (of the one vendor audited), by id: one query for what
    the charges, the rises, the unmapped lines and the totals rule need of them."""
    query = select(
        col(VendorInvoice.id),
        col(VendorInvoice.invoice_number),
        col(VendorInvoice.invoice_date),
        col(VendorInvoice.vendor_id),
        col(VendorInvoice.total),
        col(VendorInvoice.lines_total),
    ).where(col(VendorInvoice.period) == month)
    if vendor_id is not None:
        query = query.where(col(VendorInvoice.vendor_id) == vendor_id)
    if invoice_ids is not None:
        query = query.where(col(VendorInvoice.id).in_(sorted(invoice_ids)))
    rows: Any = (await session.execute(query)).all()
    return {invoice_id: _Invoice(*rest) for invoice_id, *rest in rows}


async def _load_vendor_side(
    session: AsyncSession,
    data: AuditData,
    vendor_filter: list[Any],
    invoices: dict[int, _Invoice],
) -> None:
    """Findings about vendor invoices as such: price rises, unmapped lines, totals."""
    line_t = VendorInvoiceLine
    dialect = session.get_bind().dialect.name
    await _load_price_rises(session, data, vendor_filter, invoices)
    if data.price_rises:
        # The previous month's mean unit cost per service: its recurring lines in force
        # on that month's last day (any account), monthly amounts over units.
        before = data.period.previous().last_day
        prior_filter: list[Any] = [
            col(line_t.kind) == LineKind.recurring.value,
            col(line_t.charge_start) <= before,
            col(line_t.charge_end) >= before,
            matched_service_id.in_(sorted({rise.service_id for rise in data.price_rises})),
        ]
        if data.vendor_id is not None:
            prior_filter.append(col(line_t.vendor_id) == data.vendor_id)
        prior: Any = await session.execute(
            join_matches(
                select(
                    matched_service_id,
                    col(line_t.charge_start),
                    col(line_t.charge_end),
                    decimal_sum(col(line_t.quantity), dialect, VENDOR_PLACES),
                    decimal_sum(col(line_t.amount), dialect, AMOUNT_PLACES),
                ).select_from(line_t)
            )
            .where(*prior_filter)
            .group_by(matched_service_id, col(line_t.charge_start), col(line_t.charge_end))
        )
        sums: dict[int, list[Any]] = {}
        for service_id, start, end, quantity, amount in prior.all():
            acc = sums.setdefault(service_id, [ZERO, Fraction(0)])
            acc[0] += quantity
            acc[1] += monthly_amount(amount, start, end)
        data.previous_mean_cost = {
            service_id: monthly / Fraction(units)
            for service_id, (units, monthly) in sums.items()
            if units
        }

    # UNMAPPED_SKU / UNMAPPED_ACCOUNT: one per vendor line that matches nothing.
    unmapped: Any = await session.execute(
        join_matches(
            select(
                col(line_t.id),
                col(line_t.invoice_id),
                col(line_t.vendor_id),
                col(line_t.vendor_sku),
                col(line_t.account_ref),
                col(line_t.amount),
                matched_service_id,
                matched_customer_id,
            ).select_from(line_t)
        ).where(
            *vendor_filter,
            col(line_t.kind) != LineKind.adjustment.value,
            or_(matched_service_id.is_(None), matched_customer_id.is_(None)),
        )
    )
    data.unmapped = [
        UnmappedLine(
            line_id, invoice_id, invoices[invoice_id].number, vendor, sku, ref, amount, sid, cid
        )
        for line_id, invoice_id, vendor, sku, ref, amount, sid, cid in unmapped.all()
    ]

    # INVOICE_TOTAL_MISMATCH: each invoice's total against the sum of its lines.
    data.invoice_totals = [
        InvoiceTotal(invoice_id, i.number, i.vendor_id, i.total, i.lines_total)
        for invoice_id, i in invoices.items()
    ]


async def _load_price_rises(
    session: AsyncSession,
    data: AuditData,
    filters: list[Any],
    invoices: dict[int, _Invoice],
) -> None:
    """PRICE_INCREASE (docs/vendor-bills.md#rules-on-real-bills): recurring lines with a
    quantity > 0, matched to a per-unit service, above the standard unit cost in effect on
    their charge_start (docs/price-book.md#price_increase), per vendor invoice and service,
    into `data.price_rises`."""
    line_t = VendorInvoiceLine
    dialect = session.get_bind().dialect.name
    # Grouped by unit_cost and charge period as well, so each group's cost is unit_cost x
    # sum(quantity) x share: exact in Python, with no product of scaled integers in SQL
    # (which could overflow SQLite's 64-bit integers for large, valid values). The
    # standard depends only on the service and charge_start, both grouped on.
    rises: Any = await session.execute(
        select(
            col(line_t.invoice_id),
            col(line_t.vendor_id),
            col(Service.id),
            col(line_t.unit_cost),
            col(line_t.charge_start),
            col(line_t.charge_end),
            decimal_sum(col(line_t.quantity), dialect, VENDOR_PLACES),
            _standard(dialect),
        )
        .join(
            Service,
            and_(
                col(Service.vendor_id) == col(line_t.vendor_id),
                col(Service.vendor_sku) == col(line_t.vendor_sku),
            ),
        )
        .where(*filters, *rising(dialect))
        .group_by(
            col(line_t.invoice_id),
            col(line_t.vendor_id),
            col(Service.id),
            col(line_t.unit_cost),
            col(line_t.charge_start),
            col(line_t.charge_end),
        )
    )
    grouped: dict[tuple[int, int, int], list[Any]] = {}
    for invoice_id, vendor, service_id, unit_cost, start, end, quantity, standard in rises.all():
        totals = grouped.setdefault(
            (invoice_id, vendor, service_id), [ZERO, Fraction(0), Fraction(0), Fraction(0)]
        )
        weight = Fraction(quantity) * share(start, end)
        totals[0] += quantity
        totals[1] += Fraction(unit_cost) * weight
        totals[2] += weight
        totals[3] += Fraction(standard) * weight
    data.price_rises = [
        PriceRise(invoice_id, invoices[invoice_id].number, vendor, service_id, *totals)
        for (invoice_id, vendor, service_id), totals in sorted(grouped.items())
    ]


def _standard(dialect: str) -> Any:
    """The standard unit cost of the matched service on the line's charge_start, on the
    line's scale (docs/price-book.md#standard-unit-cost)."""
    return standard_cost_sql(
        col(Service.id), col(Service.unit_cost), col(VendorInvoiceLine.charge_start), dialect
    )


def rising(dialect: str) -> list[Any]:
    """Lines that can raise a price: recurring, quantity > 0, of a per-unit service, above
    the standard unit cost in effect on their charge_start (a credit no longer offsets a
    rise)."""
    line_t = VendorInvoiceLine
    return [
        col(line_t.kind) == LineKind.recurring.value,
        col(line_t.quantity) > 0,
        col(Service.metered).is_(False),
        col(line_t.unit_cost) > _standard(dialect),
    ]


async def _last_contract_ends(session: AsyncSession, data: AuditData, period: Period) -> None:
    """For messages about orphaned cost: when the pair's last contract line ended (a
    line's end is the earlier of its own and its contract's: docs/month-arithmetic.md), among
    lines that ended before the month's last day."""
    orphans = {
        pair for pair in data.vendor_positions if data.contracts.get(pair, NO_POSITION).units == 0
    }
    if not orphans:
        return
    line_end, contract_end = col(ContractLine.end_date), col(Contract.end_date)
    end = case(
        (line_end.is_(None), contract_end),
        (contract_end.is_(None), line_end),
        (line_end < contract_end, line_end),
        else_=contract_end,
    )
    rows: Any = await session.execute(
        select(col(Contract.customer_id), col(ContractLine.service_id), func.max(end))
        .join(Contract, col(Contract.id) == col(ContractLine.contract_id))
        .where(
            end < period.last_day,
            col(Contract.customer_id).in_(sorted({c for c, _ in orphans})),
            col(ContractLine.service_id).in_(sorted({s for _, s in orphans})),
        )
        .group_by(col(Contract.customer_id), col(ContractLine.service_id))
    )
    data.last_contract_end = {
        (customer_id, service_id): ended
        for customer_id, service_id, ended in rows.all()
        if (customer_id, service_id) in orphans
    }
