"""A small, independent pure-Python reference of docs/month-arithmetic.md,
docs/findings.md and docs/vendor-bills.md (real vendor bills).

Written from the rules only (not from the service's code), so that the property test
in `test_audit_property.py` can hold the service to it. Everything is computed day by day
with exact fractions; money is rounded half-up (away from zero) to the cent once, at the
very end (docs/README.md#rounding). No database, no HTTP: plain records in, plain results out.

Readings that are easy to get wrong (the service agrees with each):
- of two adjustments with the same effective date, the one recorded later wins; an
  adjustment dated before the line starts sets the quantity the line starts with;
- PRICE_INCREASE carries no customer; its previous unit cost is the mean (sum amount / sum
  quantity) over every line of M-1 matched to the service, whether or not its account is
  mapped, and its actual quantity is the units of the raised lines;
- UNMAPPED_SKU names the customer when the line's account is mapped, UNMAPPED_ACCOUNT the
  service when its SKU is;
- expected / actual quantity of the per-(customer, service) types are the contracted units
  against the vendor units (deployed units for UNBILLED_ASSETS);
- the customer audit report has a row for each service with a line active on some day of
  the month, a matched vendor line of the month, an asset deployed at the month's end or a
  line on a (not void) customer invoice of the month; a row's finding types are those of
  the audit's findings for (customer, service), plus PRICE_INCREASE when a produced
  PRICE_INCREASE covers a raised line of that customer; the customer-level types are
  MISSING_BILLING only;
- profitability: a customer invoice line is revenue of the invoice's customer and period,
  of its service (null when it has none) and that service's vendor, and of the contract of
  its contract line (null for recorded lines, which name none); the contract split divides
  a negative cost like its magnitude (the cents of -x are minus the cents of x), and only
  lines with contracted units > 0 take part; a billing run drafts, for each customer with
  contracted revenue in M and no invoice of M at all, one line per contract line active on
  some day of M, its amount the line's revenue.

Readings of real vendor bills (docs/vendor-bills.md) that are easy to get wrong, chosen
from the rules' text where it leaves room (the service does not implement them yet):
- a vendor line "matched" to (customer, service) matches both; an adjustment line matches
  nothing even when its SKU and account would, so its cost is unallocated (in its
  invoice's month) and it is never an UNMAPPED_* finding; lines matched to one side only
  are unallocated cost in each month their charge period covers;
- a usage line spreads its amount over its charge period like a recurring line (by the
  same cumulative rounding); with no dates that is its invoice's month, all of it;
- a one-time fee costs its whole amount in the month of its charge_start, whichever
  invoice carries it;
- vendor units count only recurring lines in force on the month's last day, credits
  included (a credit in force cancels the seats it names); the mean unit cost is none when
  those quantities add up to 0, whatever the amounts;
- per-unit ORPHANED_COST: vendor units x mean unit cost is the sum of the monthly amounts
  of the lines in force on the last day, plus the usage and one-time cost in M; vendor
  units <= 0 count as none. A recurring charge that ended before the month's last day
  (1-10 November, then cancelled) is cost of the month in reports but no ORPHANED_COST;
- metered rules (and the per-unit rules they replace) apply to a metered service with a
  vendor; an in-house service keeps the per-unit reading. The metered revenue
  max(contracted, invoiced) is the rules' only: the customer-audit row and profitability
  keep contracted revenue (or invoiced revenue on that basis). Invoiced revenue is the sum
  of the amounts of the customer's non-void invoice lines of M for the service. The
  metered ORPHANED_COST and NEGATIVE_MARGIN compare money, so they carry no expected or
  actual quantity;
- "the vendor has an invoice for M" (OVERBILLED_UNITS): an invoice of period M, or a
  recurring line of the vendor, matched or not, in force on the last day of M;
- the price book (docs/price-book.md): a line is held to the standard in effect on its
  charge_start (the invoice month's first day when it has no dates), an in-house line's
  cost of M to the standard of M's first day; two entries of one service never share a
  day;
- PRICE_INCREASE: the impact multiplies by the charge period's share, the actual quantity
  does not (it is the raised lines' units); the previous unit cost is the mean unit cost
  (monthly amounts / quantities) of the service's recurring lines in force on the last day
  of M-1, on invoices of any period, accounts mapped or not;
- DUPLICATE_CHARGE: identical lines match customer and service (so one vendor), and share
  kind, charge period (the default one included), quantity and amount; unit_cost and
  subscription_ref do not matter. Copies on the earliest invoice carrying the charge never
  count (two identical lines on one invoice are not duplicates of each other), a copy on an
  invoice of period M counts its whole amount (not its cost in M) in M, credits included;
- UNMAPPED_* impacts are the line's whole amount, on its invoice's period, whatever its
  charge period;
- the customer audit has a row for a service with a matched line that charges something of
  M (its charge period meets M; a one-time fee in the month of its charge_start): a line of
  M's invoice charging another month belongs to that month's report; its cost is the cost
  in M, and PRICE_INCREASE is added when one
  of the customer's raised lines sits on an invoice given that finding;
- `World.before_real_bills` keeps the three rules that real bills deliberately change as
  they read before (for a service that does not implement them yet); every other figure of
  plain lines is the same either way.
"""

from __future__ import annotations

import calendar
import functools
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

ZERO = Fraction(0)


# ---------------------------------------------------------------------------- records


@dataclass
class Service:
    id: int
    unit_price: Decimal
    unit_cost: Decimal
    vendor_id: int | None = None
    vendor_sku: str | None = None
    metered: bool = False  # billed by consumption (docs/vendor-bills.md#metered-services)
    # The price book (docs/price-book.md): (effective_from, unit_cost), in any order.
    costs: list[tuple[date, Decimal]] = field(default_factory=list)


@dataclass
class Contract:
    id: int
    customer_id: int
    start_date: date
    end_date: date | None = None  # inclusive; None = open-ended


@dataclass
class Adjustment:
    effective_date: date
    quantity: Decimal


@dataclass
class Line:
    id: int
    contract_id: int
    service_id: int
    quantity: Decimal
    unit_price: Decimal
    start_date: date | None = None
    end_date: date | None = None
    adjustments: list[Adjustment] = field(default_factory=list)  # in the order recorded


@dataclass
class VendorAccount:
    customer_id: int
    vendor_id: int
    account_ref: str


@dataclass
class VendorLine:
    id: int
    vendor_sku: str
    account_ref: str
    quantity: Decimal
    unit_cost: Decimal
    amount: Decimal
    # docs/vendor-bills.md#kinds: recurring, usage, one_time or adjustment.
    kind: str = "recurring"
    # docs/vendor-bills.md#charge-period: both or neither; None = the invoice's month.
    charge_start: date | None = None
    charge_end: date | None = None
    subscription_ref: str | None = None


@dataclass
class VendorInvoice:
    id: int
    vendor_id: int
    number: str
    invoice_date: date
    period: str
    total: Decimal
    lines: list[VendorLine] = field(default_factory=list)


@dataclass
class Asset:
    customer_id: int
    service_id: int
    installed_on: date
    removed_on: date | None = None  # first day no longer deployed


@dataclass
class CustomerInvoiceLine:
    service_id: int | None
    quantity: Decimal
    amount: Decimal = Decimal("0.00")
    contract_line_id: int | None = None  # set on the lines a billing run drafts


@dataclass
class CustomerInvoice:
    customer_id: int
    period: str
    status: str  # draft, posted, void
    lines: list[CustomerInvoiceLine] = field(default_factory=list)


@dataclass
class World:
    customers: list[int] = field(default_factory=list)
    services: dict[int, Service] = field(default_factory=dict)
    contracts: dict[int, Contract] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)  # in creation order
    vendor_accounts: list[VendorAccount] = field(default_factory=list)
    vendor_invoices: list[VendorInvoice] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    customer_invoices: list[CustomerInvoice] = field(default_factory=list)
    # True: the three rules that real vendor bills deliberately change read as they did
    # before them (DUPLICATE_CHARGE on any second invoice of M for the pair, credits
    # offsetting PRICE_INCREASE, ORPHANED_COST on any matched line whatever its units),
    # for a service that does not implement docs/vendor-bills.md yet. On plain lines every
    # other figure is the same either way.
    before_real_bills: bool = False


# ---------------------------------------------------------------------------- numbers


def frac(value: Decimal | int | str) -> Fraction:
    return Fraction(Decimal(value)) if not isinstance(value, int) else Fraction(value)


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Half-up, away from zero, to `places` decimals, from an exact fraction."""
    scale = 10**places
    magnitude = math.floor(abs(value) * scale + Fraction(1, 2))
    signed = -magnitude if value < 0 else magnitude
    return Decimal(signed).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def cents(value: Fraction) -> Decimal:
    return round_half_up(value, 2)


# ---------------------------------------------------------------------------- months


def parse_period(period: str) -> tuple[int, int]:
    year, month = period.split("-")
    return int(year), int(month)


def days_in(period: str) -> int:
    year, month = parse_period(period)
    return calendar.monthrange(year, month)[1]


def first_day(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, 1)


def last_day(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, days_in(period))


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@functools.cache
def share(start: date, end: date) -> Fraction:
    """docs/vendor-bills.md#share: over each day of [start, end], 1 / the days of its month,
    added up exactly (1 for a whole month, 16/30 for 15-30 November, 12 for a year from the
    1st; 0 when start is after end)."""
    total = ZERO
    day = start
    while day <= end:
        total += Fraction(1, days_in(month_of(day)))
        day += timedelta(days=1)
    return total


def days_of(period: str) -> list[date]:
    start = first_day(period)
    return [start + timedelta(days=i) for i in range(days_in(period))]


# ---------------------------------------------------------------------------- section 5


def line_active(world: World, line: Line, day: date) -> bool:
    """Within the line's dates and the contract's dates (end dates inclusive)."""
    contract = world.contracts[line.contract_id]
    for start in (contract.start_date, line.start_date):
        if start is not None and day < start:
            return False
    for end in (contract.end_date, line.end_date):
        if end is not None and day > end:
            return False
    return True


def line_quantity(line: Line, day: date) -> Fraction:
    """The line's quantity, changed by each adjustment from its effective date on; of two
    adjustments on one date the later recorded wins."""
    quantity = frac(line.quantity)
    ordered = sorted(enumerate(line.adjustments), key=lambda a: (a[1].effective_date, a[0]))
    for _, adjustment in ordered:
        if adjustment.effective_date <= day:
            quantity = frac(adjustment.quantity)
    return quantity


def line_active_days(world: World, line: Line, period: str) -> int:
    return sum(1 for day in days_of(period) if line_active(world, line, day))


def line_prorated(world: World, line: Line, period: str, price: Decimal) -> Decimal:
    """Sum over the active days d of quantity(d) x price / days_in(M), rounded once."""
    exact = sum(
        (
            line_quantity(line, day) * frac(price)
            for day in days_of(period)
            if line_active(world, line, day)
        ),
        ZERO,
    ) / days_in(period)
    return cents(exact)


def line_revenue(world: World, line: Line, period: str) -> Decimal:
    return line_prorated(world, line, period, line.unit_price)


def line_units(world: World, line: Line, period: str) -> Fraction:
    end = last_day(period)
    return line_quantity(line, end) if line_active(world, line, end) else ZERO


def customer_of(world: World, line: Line) -> int:
    return world.contracts[line.contract_id].customer_id


@dataclass
class Matched:
    invoice: VendorInvoice
    line: VendorLine
    service_id: int | None
    customer_id: int | None


def match(world: World, invoice: VendorInvoice) -> list[Matched]:
    """Each line with the service and customer it matches; an adjustment line matches
    nothing, whatever its SKU and account (docs/vendor-bills.md#kinds)."""
    services = {
        (s.vendor_id, s.vendor_sku): s.id
        for s in world.services.values()
        if s.vendor_id is not None and s.vendor_sku is not None
    }
    accounts = {(a.vendor_id, a.account_ref): a.customer_id for a in world.vendor_accounts}
    return [
        Matched(invoice, vline, None, None)
        if vline.kind == "adjustment"
        else Matched(
            invoice,
            vline,
            services.get((invoice.vendor_id, vline.vendor_sku)),
            accounts.get((invoice.vendor_id, vline.account_ref)),
        )
        for vline in invoice.lines
    ]


def matched_lines(world: World, period: str) -> list[Matched]:
    """The lines of the vendor invoices of period M (the invoice-level rules read these)."""
    return [m for inv in world.vendor_invoices if inv.period == period for m in match(world, inv)]


def all_matched(world: World) -> list[Matched]:
    """The lines of every vendor invoice, of any period (the month figures read these)."""
    return [m for inv in world.vendor_invoices for m in match(world, inv)]


# ---------------------------------------------------------------------------- vendor lines


def charge_period(m: Matched) -> tuple[date, date]:
    """docs/vendor-bills.md#charge-period: the line's own dates, else its invoice's month."""
    if m.line.charge_start is None or m.line.charge_end is None:
        return first_day(m.invoice.period), last_day(m.invoice.period)
    return m.line.charge_start, m.line.charge_end


def share_upto(m: Matched, period: str) -> Fraction:
    """s(M): the share of the part of the line's charge period up to the last day of M."""
    start, end = charge_period(m)
    return share(start, min(end, last_day(period)))


def in_force(m: Matched, day: date) -> bool:
    """A recurring line is in force on each day of its charge period."""
    start, end = charge_period(m)
    return m.line.kind == "recurring" and start <= day <= end


def monthly_amount(m: Matched) -> Fraction:
    """A recurring line's amount for one month: amount / share(charge period), exact."""
    return frac(m.line.amount) / share(*charge_period(m))


def line_cost(m: Matched, period: str) -> Decimal:
    """The cost of one vendor line in M. A one-time fee costs its amount in the month of its
    charge_start, an adjustment in its invoice's period; a recurring or usage line spreads
    its amount over its charge period by cumulative rounding,
    R(amount x s(M) / S) - R(amount x s(M-1) / S), so its months add up to its amount."""
    start, end = charge_period(m)
    if m.line.kind == "one_time":
        return m.line.amount if month_of(start) == period else Decimal("0.00")
    if m.line.kind == "adjustment":
        return m.line.amount if m.invoice.period == period else Decimal("0.00")
    whole = share(start, end)
    amount = frac(m.line.amount)
    return cents(amount * share_upto(m, period) / whole) - cents(
        amount * share_upto(m, previous_period(period)) / whole
    )


def touches(m: Matched, period: str) -> bool:
    """Whether the line charges something of M (its cost there may still round to 0.00)."""
    start, end = charge_period(m)
    if m.line.kind == "one_time":
        return month_of(start) == period
    if m.line.kind == "adjustment":
        return m.invoice.period == period
    return start <= last_day(period) and first_day(period) <= end


@dataclass
class Pair:
    """Everything section 5 says about one (customer, service) in one month."""

    contracted_units: Fraction = ZERO
    priced_units: Fraction = ZERO  # sum of units x unit_price over the counted lines
    revenue: Decimal = Decimal("0.00")
    in_house_cost: Decimal = Decimal("0.00")
    has_line: bool = False  # a line active on some day of the month
    # The matched lines that charge something of M or sit on an invoice of period M.
    vendor_lines: list[Matched] = field(default_factory=list)
    vendor_units: Fraction = ZERO  # recurring lines in force on the last day of M
    monthly_amounts: Fraction = ZERO  # of those same lines
    vendor_cost: Decimal = Decimal("0.00")  # the costs in M of the matched lines
    usage_cost: Decimal = Decimal("0.00")  # the part of it from usage and one-time lines
    deployed_units: Fraction = ZERO
    invoiced_units: Fraction = ZERO
    invoiced_revenue: Decimal = Decimal("0.00")  # the customer invoice lines' amounts
    invoiced: bool = False  # a line of a customer invoice (not void) of the month

    @property
    def contract_unit_price(self) -> Fraction | None:
        if self.contracted_units == 0:
            return None
        return self.priced_units / self.contracted_units

    @property
    def vendor_mean_unit_cost(self) -> Fraction | None:
        """Sum of the monthly amounts / sum of the quantities of the recurring lines in
        force on the month's last day; none when those quantities add up to 0."""
        if self.vendor_units == 0:
            return None
        return self.monthly_amounts / self.vendor_units


def pairs(world: World, period: str) -> dict[tuple[int, int], Pair]:
    result: dict[tuple[int, int], Pair] = defaultdict(Pair)
    for line in world.lines:
        service = world.services[line.service_id]
        pair = result[(customer_of(world, line), line.service_id)]
        pair.has_line = pair.has_line or line_active_days(world, line, period) > 0
        units = line_units(world, line, period)
        pair.contracted_units += units
        pair.priced_units += units * frac(line.unit_price)
        pair.revenue += line_revenue(world, line, period)
        if service.vendor_id is None:
            # At the standard of the month's first day (docs/price-book.md#in-house-cost).
            cost = standard_cost(world, line.service_id, first_day(period))
            pair.in_house_cost += line_prorated(world, line, period, cost)
    end = last_day(period)
    for m in all_matched(world):
        if m.customer_id is None or m.service_id is None:
            continue
        if not (touches(m, period) or m.invoice.period == period):
            continue
        pair = result[(m.customer_id, m.service_id)]
        pair.vendor_lines.append(m)
        cost = line_cost(m, period)
        pair.vendor_cost += cost
        if m.line.kind in ("usage", "one_time"):
            pair.usage_cost += cost
        if in_force(m, end):
            pair.vendor_units += frac(m.line.quantity)
            pair.monthly_amounts += monthly_amount(m)
    for asset in world.assets:
        pair = result[(asset.customer_id, asset.service_id)]
        if asset.installed_on <= end and (asset.removed_on is None or end < asset.removed_on):
            pair.deployed_units += 1
    for invoice in world.customer_invoices:
        if invoice.period != period or invoice.status == "void":
            continue
        for cline in invoice.lines:
            if cline.service_id is not None:
                pair = result[(invoice.customer_id, cline.service_id)]
                pair.invoiced = True
                pair.invoiced_units += frac(cline.quantity)
                pair.invoiced_revenue += cline.amount
    return dict(result)


def pair_cost(world: World, service_id: int, pair: Pair) -> Decimal:
    if world.services[service_id].vendor_id is None:
        return pair.in_house_cost
    return pair.vendor_cost


# ---------------------------------------------------------------------------- section 6


@dataclass(frozen=True)
class Finding:
    type: str
    customer_id: int | None
    service_id: int | None
    vendor_id: int | None
    vendor_invoice_id: int | None
    impact: Decimal
    vendor_invoice_line_id: int | None = None
    vendor_sku: str | None = None
    account_ref: str | None = None
    expected_quantity: Fraction | None = None
    actual_quantity: Fraction | None = None
    previous_unit_cost: Fraction | None = None


def _keep(findings: list[Finding], finding: Finding) -> None:
    """A finding whose impact rounds to 0.00 or less is not produced."""
    if finding.impact > 0:
        findings.append(finding)


def pair_finding(
    world: World, key: tuple[int, int], pair: Pair, type_: str, exact: Fraction
) -> Finding:
    """A per-(customer, service) finding naming contracted against vendor units."""
    customer_id, service_id = key
    return Finding(
        type_,
        customer_id,
        service_id,
        world.services[service_id].vendor_id,
        None,
        cents(exact),
        expected_quantity=pair.contracted_units,
        actual_quantity=pair.vendor_units,
    )


def money_finding(world: World, key: tuple[int, int], type_: str, exact: Fraction) -> Finding:
    """A metered service's finding: cost against revenue, no quantities."""
    customer_id, service_id = key
    vendor = world.services[service_id].vendor_id
    return Finding(type_, customer_id, service_id, vendor, None, cents(exact))


def is_metered(world: World, service_id: int) -> bool:
    """A vendor service billed by consumption (docs/vendor-bills.md#metered-services)."""
    service = world.services[service_id]
    return service.metered and service.vendor_id is not None


def vendors_invoiced(world: World, period: str) -> set[int]:
    """The vendors that "have an invoice for M": an invoice of period M, or a recurring line
    (matched or not) in force on the last day of M."""
    end = last_day(period)
    return {inv.vendor_id for inv in world.vendor_invoices if inv.period == period} | {
        m.invoice.vendor_id for m in all_matched(world) if in_force(m, end)
    }


def duplicates(world: World, period: str) -> dict[tuple[int, int], Fraction]:
    """DUPLICATE_CHARGE per (customer, service): the amounts of the copies of an identical
    charge (same customer, service, kind, charge period, quantity and amount, on invoices of
    one vendor) that sit on invoices of period M other than the earliest invoice carrying
    that charge (by invoice_date, then invoice_number)."""
    if world.before_real_bills:
        return duplicates_before_real_bills(world, period)
    groups: dict[tuple[object, ...], list[Matched]] = defaultdict(list)
    for m in all_matched(world):
        if m.customer_id is None or m.service_id is None:
            continue
        start, end = charge_period(m)
        key = (
            m.invoice.vendor_id,
            m.customer_id,
            m.service_id,
            m.line.kind,
            start,
            end,
            frac(m.line.quantity),
            frac(m.line.amount),
        )
        groups[key].append(m)
    copies: dict[tuple[int, int], Fraction] = defaultdict(Fraction)
    for group in groups.values():
        invoices = {m.invoice.id: m.invoice for m in group}
        if len(invoices) < 2:
            continue
        earliest = min(invoices.values(), key=lambda inv: (inv.invoice_date, inv.number))
        for m in group:
            if m.invoice.id != earliest.id and m.invoice.period == period:
                assert m.customer_id is not None and m.service_id is not None
                copies[(m.customer_id, m.service_id)] += frac(m.line.amount)
    return dict(copies)


def duplicates_before_real_bills(world: World, period: str) -> dict[tuple[int, int], Fraction]:
    """DUPLICATE_CHARGE as it read before real vendor bills: a (customer, service) charged on
    more than one invoice of M, the amounts on all but the earliest invoice."""
    copies: dict[tuple[int, int], Fraction] = {}
    for key, pair in pairs(world, period).items():
        lines = [m for m in pair.vendor_lines if m.invoice.period == period]
        invoices = {m.invoice.id: m.invoice for m in lines}
        if len(invoices) > 1:
            earliest = min(invoices.values(), key=lambda inv: (inv.invoice_date, inv.number))
            copies[key] = sum(
                (frac(m.line.amount) for m in lines if m.invoice.id != earliest.id), ZERO
            )
    return copies


def standard_cost(world: World, service_id: int, day: date) -> Decimal:
    """The service's standard unit cost on `day`: the price-book entry with the latest
    effective_from on or before it, else the service's unit_cost."""
    service = world.services[service_id]
    effective = [(start, cost) for start, cost in service.costs if start <= day]
    return max(effective)[1] if effective else service.unit_cost


def line_standard(world: World, m: Matched) -> Decimal:
    """The standard a vendor line is held to: the one in effect on its charge_start."""
    assert m.service_id is not None
    return standard_cost(world, m.service_id, charge_period(m)[0])


def raised(world: World, m: Matched, period: str) -> bool:
    """A line PRICE_INCREASE counts: a recurring line with quantity > 0 on an invoice of
    period M, matched to a per-unit service, above the service's standard unit cost on
    the line's charge_start."""
    if world.before_real_bills:  # any line above the standard, credits included
        return (
            m.invoice.period == period
            and m.service_id is not None
            and m.line.unit_cost > line_standard(world, m)
        )
    return (
        m.invoice.period == period
        and m.line.kind == "recurring"
        and m.line.quantity > 0
        and m.service_id is not None
        and not is_metered(world, m.service_id)
        and m.line.unit_cost > line_standard(world, m)
    )


def audit(world: World, period: str, vendor_id: int | None = None) -> list[Finding]:
    findings: list[Finding] = []
    table = pairs(world, period)
    invoiced_vendors = vendors_invoiced(world, period)
    copies = duplicates(world, period)

    for key, pair in sorted(table.items()):
        customer_id, service_id = key
        service = world.services[service_id]
        svc_vendor = service.vendor_id
        price = pair.contract_unit_price
        contracted = pair.contracted_units
        vendor_units = pair.vendor_units
        mean_cost = pair.vendor_mean_unit_cost

        if is_metered(world, service_id):
            # docs/vendor-bills.md#metered-services: cost against revenue, no unit rules.
            revenue = max(pair.revenue, pair.invoiced_revenue)
            cost = pair.vendor_cost
            if cost > 0 and revenue == 0:
                _keep(
                    findings,
                    money_finding(world, key, "ORPHANED_COST", frac(cost)),
                )
            if revenue > 0 and cost > revenue:
                _keep(
                    findings,
                    money_finding(world, key, "NEGATIVE_MARGIN", frac(cost - revenue)),
                )
        else:
            if world.before_real_bills:
                if contracted == 0 and pair.vendor_lines:
                    _keep(
                        findings,
                        pair_finding(world, key, pair, "ORPHANED_COST", frac(pair.vendor_cost)),
                    )
            elif contracted == 0 and (vendor_units > 0 or pair.usage_cost != 0):
                # vendor units x mean unit cost = the monthly amounts of the lines in force.
                exact = pair.monthly_amounts if vendor_units > 0 else ZERO
                _keep(
                    findings,
                    pair_finding(world, key, pair, "ORPHANED_COST", exact + frac(pair.usage_cost)),
                )
            if price is not None and vendor_units > contracted > 0:
                _keep(
                    findings,
                    pair_finding(
                        world, key, pair, "UNBILLED_UNITS", (vendor_units - contracted) * price
                    ),
                )
            if (
                price is not None
                and svc_vendor is not None
                and svc_vendor in invoiced_vendors
                and contracted > vendor_units
            ):
                _keep(
                    findings,
                    pair_finding(
                        world, key, pair, "OVERBILLED_UNITS", (contracted - vendor_units) * price
                    ),
                )
            if (
                contracted > 0
                and vendor_units > 0
                and price is not None
                and mean_cost is not None
                and price < mean_cost
            ):
                _keep(
                    findings,
                    pair_finding(
                        world,
                        key,
                        pair,
                        "NEGATIVE_MARGIN",
                        (mean_cost - price) * min(contracted, vendor_units),
                    ),
                )
        if (customer_id, service_id) in copies:
            _keep(
                findings,
                Finding(
                    "DUPLICATE_CHARGE",
                    customer_id,
                    service_id,
                    svc_vendor,
                    None,
                    cents(copies[(customer_id, service_id)]),
                ),
            )
        if pair.deployed_units > contracted:
            unit = price if price is not None else frac(service.unit_price)
            _keep(
                findings,
                Finding(
                    "UNBILLED_ASSETS",
                    customer_id,
                    service_id,
                    svc_vendor,
                    None,
                    cents((pair.deployed_units - contracted) * unit),
                    expected_quantity=contracted,
                    actual_quantity=pair.deployed_units,
                ),
            )

    # The previous unit cost of PRICE_INCREASE: the mean unit cost of the service's recurring
    # lines in force on the last day of M-1, whether or not their accounts are mapped.
    before_end = last_day(previous_period(period))
    previous = [
        m for m in all_matched(world) if m.service_id is not None and in_force(m, before_end)
    ]
    for invoice in sorted(world.vendor_invoices, key=lambda inv: inv.id):
        if invoice.period != period:
            continue
        lines = match(world, invoice)
        by_service: dict[int, Fraction] = defaultdict(Fraction)
        raised_units: dict[int, Fraction] = defaultdict(Fraction)
        for m in lines:
            if m.service_id is None or not raised(world, m, period):
                continue
            standard = line_standard(world, m)
            by_service[m.service_id] += (
                frac(m.line.unit_cost - standard) * frac(m.line.quantity) * share(*charge_period(m))
            )
            raised_units[m.service_id] += frac(m.line.quantity)
        for service_id, exact in sorted(by_service.items()):
            before = [p for p in previous if p.service_id == service_id]
            quantity = sum((frac(p.line.quantity) for p in before), ZERO)
            amount = sum((monthly_amount(p) for p in before), ZERO)
            previous_cost = amount / quantity if before and quantity != 0 else None
            _keep(
                findings,
                Finding(
                    "PRICE_INCREASE",
                    None,
                    service_id,
                    invoice.vendor_id,
                    invoice.id,
                    cents(exact),
                    actual_quantity=raised_units[service_id],
                    previous_unit_cost=previous_cost,
                ),
            )
        for m in lines:
            if m.line.kind == "adjustment":
                continue  # never matched, never UNMAPPED_*
            if m.service_id is None:
                _keep(
                    findings,
                    Finding(
                        "UNMAPPED_SKU",
                        m.customer_id,
                        None,
                        invoice.vendor_id,
                        invoice.id,
                        cents(frac(m.line.amount)),
                        vendor_invoice_line_id=m.line.id,
                        vendor_sku=m.line.vendor_sku,
                        account_ref=m.line.account_ref,
                    ),
                )
            if m.customer_id is None:
                _keep(
                    findings,
                    Finding(
                        "UNMAPPED_ACCOUNT",
                        None,
                        m.service_id,
                        invoice.vendor_id,
                        invoice.id,
                        cents(frac(m.line.amount)),
                        vendor_invoice_line_id=m.line.id,
                        vendor_sku=m.line.vendor_sku,
                        account_ref=m.line.account_ref,
                    ),
                )
        lines_total = sum((vline.amount for vline in invoice.lines), Decimal(0))
        _keep(
            findings,
            Finding(
                "INVOICE_TOTAL_MISMATCH",
                None,
                None,
                invoice.vendor_id,
                invoice.id,
                cents(abs(frac(invoice.total) - frac(lines_total))),
            ),
        )

    billed = {
        inv.customer_id
        for inv in world.customer_invoices
        if inv.period == period and inv.status != "void"
    }
    for customer_id in sorted(world.customers):
        revenue = sum(
            (
                line_revenue(world, line, period)
                for line in world.lines
                if customer_of(world, line) == customer_id
            ),
            Decimal(0),
        )
        if revenue > 0 and customer_id not in billed:
            _keep(findings, Finding("MISSING_BILLING", customer_id, None, None, None, revenue))

    if vendor_id is not None:
        findings = [
            f
            for f in findings
            if f.type not in {"MISSING_BILLING", "UNBILLED_ASSETS"} and f.vendor_id == vendor_id
        ]
    return findings


# ---------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class AuditRow:
    service_id: int
    contracted_units: Fraction
    vendor_units: Fraction
    deployed_units: Fraction
    invoiced_units: Fraction
    contract_unit_price: Fraction | None
    vendor_mean_unit_cost: Fraction | None
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    margin: Decimal | None
    finding_types: frozenset[str]


@dataclass(frozen=True)
class CustomerAudit:
    customer_id: int
    rows: dict[int, AuditRow]
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    margin: Decimal | None
    finding_types: frozenset[str]


def margin(profit: Decimal, revenue: Decimal) -> Decimal | None:
    """Profit / revenue, 4 decimals, null when revenue is 0."""
    if revenue == 0:
        return None
    return round_half_up(frac(profit) / frac(revenue), 4)


def customer_audit(world: World, customer_id: int, period: str) -> CustomerAudit:
    table = pairs(world, period)
    findings = audit(world, period)
    rows: dict[int, AuditRow] = {}
    for (cust, service_id), pair in table.items():
        if cust != customer_id:
            continue
        # One row per service the customer has a contract line (active in the month), a
        # vendor charge, an asset (deployed at the month's end) or an invoice line for.
        charged = any(touches(m, period) for m in pair.vendor_lines)
        if not (pair.has_line or charged or pair.deployed_units or pair.invoiced):
            continue
        cost = pair_cost(world, service_id, pair)
        profit = pair.revenue - cost
        types = {
            f.type for f in findings if f.customer_id == customer_id and f.service_id == service_id
        }
        raised_invoices = {m.invoice.id for m in pair.vendor_lines if raised(world, m, period)}
        if any(
            f.type == "PRICE_INCREASE"
            and f.service_id == service_id
            and f.vendor_invoice_id in raised_invoices
            for f in findings
        ):
            types.add("PRICE_INCREASE")
        rows[service_id] = AuditRow(
            service_id=service_id,
            contracted_units=pair.contracted_units,
            vendor_units=pair.vendor_units,
            deployed_units=pair.deployed_units,
            invoiced_units=pair.invoiced_units,
            contract_unit_price=pair.contract_unit_price,
            vendor_mean_unit_cost=pair.vendor_mean_unit_cost,
            revenue=pair.revenue,
            cost=cost,
            profit=profit,
            margin=margin(profit, pair.revenue),
            finding_types=frozenset(types),
        )
    revenue = sum((r.revenue for r in rows.values()), Decimal("0.00"))
    cost = sum((r.cost for r in rows.values()), Decimal("0.00"))
    profit = revenue - cost
    return CustomerAudit(
        customer_id=customer_id,
        rows=rows,
        revenue=revenue,
        cost=cost,
        profit=profit,
        margin=margin(profit, revenue),
        # The rows' types and the customer's own (MISSING_BILLING).
        finding_types=frozenset(
            {t for r in rows.values() for t in r.finding_types}
            | {
                f.type
                for f in findings
                if f.customer_id == customer_id and f.type == "MISSING_BILLING"
            }
        ),
    )


@dataclass(frozen=True)
class ScheduleEntry:
    line_id: int
    month: str
    units: Fraction
    active_days: int
    revenue: Decimal


def schedule(world: World, contract_id: int, periods: list[str]) -> list[ScheduleEntry]:
    return [
        ScheduleEntry(
            line.id,
            period,
            line_units(world, line, period),
            line_active_days(world, line, period),
            line_revenue(world, line, period),
        )
        for period in periods
        for line in world.lines
        if line.contract_id == contract_id
    ]


# ---------------------------------------------------------------------------- profitability

GROUP_KEYS = ("customer", "contract", "service", "vendor", "month")
# A cell: (customer_id, contract_id, service_id, vendor_id, month); any may be None but month.
Cell = tuple[int | None, int | None, int | None, int | None, str]


@dataclass(frozen=True)
class Figures:
    revenue: Decimal
    cost: Decimal
    profit: Decimal
    margin: Decimal | None


def figures(revenue: Decimal, cost: Decimal) -> Figures:
    profit = revenue - cost
    return Figures(revenue, cost, profit, margin(profit, revenue))


@dataclass(frozen=True)
class Profitability:
    rows: dict[tuple[int | str | None, ...], Figures]  # group key values, in group_by order
    totals: Figures
    unallocated_cost: Decimal


def split_cents(amount: Decimal, weights: list[Fraction]) -> list[Decimal]:
    """`amount` split in proportion to `weights` (all > 0): every share floored to the cent,
    the cents left over one each to the largest remainders, ties to the earlier weight."""
    sign = -1 if amount < 0 else 1
    total = int(abs(amount) * 100)
    whole = sum(weights, ZERO)
    exact = [total * w / whole for w in weights]
    shares = [math.floor(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return [Decimal(sign * share).scaleb(-2).quantize(Decimal("0.01")) for share in shares]


def split_tie_decides(amount: Decimal, weights: list[Fraction]) -> bool:
    """Whether the earliest-line tie-break decides who takes a cent in this split."""
    total = int(abs(amount) * 100)
    whole = sum(weights, ZERO)
    remainders = sorted(
        ((total * w / whole) - math.floor(total * w / whole) for w in weights), reverse=True
    )
    left = round(sum(remainders, ZERO))
    return 0 < left < len(remainders) and remainders[left - 1] == remainders[left]


@dataclass(frozen=True)
class CostSplit:
    """The vendor cost of one (customer, service, month) and the lines it goes to."""

    customer_id: int
    service_id: int
    period: str
    cost: Decimal
    lines: list[tuple[Line, Fraction, Decimal]]  # line, its contracted units, its share


def vendor_cost_splits(world: World, period: str) -> list[CostSplit]:
    """Section 6's contract split of every matched (customer, service)'s vendor cost; no
    lines when the customer has no contracted units of the service (the null contract)."""
    cost = {
        key: pair.vendor_cost for key, pair in pairs(world, period).items() if pair.vendor_lines
    }
    splits = []
    for (customer_id, service_id), amount in sorted(cost.items()):
        counted = [
            (line, units)
            for line in world.lines  # in creation order
            if line.service_id == service_id
            and customer_of(world, line) == customer_id
            and (units := line_units(world, line, period)) > 0
        ]
        shares = split_cents(amount, [units for _, units in counted]) if counted else []
        splits.append(
            CostSplit(
                customer_id,
                service_id,
                period,
                amount,
                [
                    (line, units, share)
                    for (line, units), share in zip(counted, shares, strict=True)
                ],
            )
        )
    return splits


def unallocated_cost(world: World, periods: list[str]) -> Decimal:
    """The costs in the periods of the vendor lines (of invoices of any period) that no
    (customer, service) match took, adjustments included."""
    return sum(
        (
            line_cost(m, period)
            for period in periods
            for m in all_matched(world)
            if m.customer_id is None or m.service_id is None
        ),
        Decimal("0.00"),
    )


def profitability_cells(world: World, period: str, basis: str) -> dict[Cell, list[Decimal]]:
    """[revenue, cost] of every (customer, contract, service, vendor) in one month."""
    cells: dict[Cell, list[Decimal]] = defaultdict(lambda: [Decimal("0.00"), Decimal("0.00")])

    def vendor_of(service_id: int | None) -> int | None:
        return None if service_id is None else world.services[service_id].vendor_id

    def cell_of(line: Line) -> Cell:
        customer = customer_of(world, line)
        return (customer, line.contract_id, line.service_id, vendor_of(line.service_id), period)

    if basis == "contracted":
        for line in world.lines:
            cells[cell_of(line)][0] += line_revenue(world, line, period)
    else:
        contract_of = {line.id: line.contract_id for line in world.lines}
        for invoice in world.customer_invoices:
            if invoice.period != period or invoice.status == "void":
                continue
            for cline in invoice.lines:
                contract = None
                if cline.contract_line_id is not None:
                    contract = contract_of[cline.contract_line_id]
                key = (
                    invoice.customer_id,
                    contract,
                    cline.service_id,
                    vendor_of(cline.service_id),
                    period,
                )
                cells[key][0] += cline.amount
    for line in world.lines:  # in-house cost stays on the line that produced it
        service = world.services[line.service_id]
        if service.vendor_id is None:
            cost = standard_cost(world, line.service_id, first_day(period))
            cells[cell_of(line)][1] += line_prorated(world, line, period, cost)
    for split in vendor_cost_splits(world, period):
        vendor = vendor_of(split.service_id)
        if not split.lines:
            cells[(split.customer_id, None, split.service_id, vendor, period)][1] += split.cost
        for line, _, share in split.lines:
            cells[cell_of(line)][1] += share
    return cells


def profitability(
    world: World, periods: list[str], group_by: list[str], basis: str = "contracted"
) -> Profitability:
    """GET /reports/profitability: rows per group, totals, unallocated cost."""
    positions = [GROUP_KEYS.index(key) for key in group_by]
    sums: dict[tuple[int | str | None, ...], list[Decimal]] = defaultdict(
        lambda: [Decimal("0.00"), Decimal("0.00")]
    )
    for period in periods:
        for cell, (revenue, cost) in profitability_cells(world, period, basis).items():
            group = sums[tuple(cell[i] for i in positions)]
            group[0] += revenue
            group[1] += cost
    rows = {
        key: figures(revenue, cost)
        for key, (revenue, cost) in sums.items()
        if revenue != 0 or cost != 0
    }
    return Profitability(
        rows,
        figures(
            sum((f.revenue for f in rows.values()), Decimal("0.00")),
            sum((f.cost for f in rows.values()), Decimal("0.00")),
        ),
        unallocated_cost(world, periods),
    )


def billing_run(world: World, period: str) -> None:
    """POST /billing-runs of a period no customer has an invoice for yet: a draft per customer
    with contracted revenue, one line per contract line active in the month, prorated."""
    billed = {
        invoice.customer_id for invoice in world.customer_invoices if invoice.period == period
    }
    for customer_id in world.customers:
        if customer_id in billed:
            continue
        lines = [
            # The drafted quantity is not modelled (only the amount counts here).
            CustomerInvoiceLine(
                line.service_id, Decimal(0), line_revenue(world, line, period), line.id
            )
            for line in world.lines
            if customer_of(world, line) == customer_id and line_active_days(world, line, period)
        ]
        if sum((cline.amount for cline in lines), Decimal(0)) > 0:
            world.customer_invoices.append(CustomerInvoice(customer_id, period, "draft", lines))


# --- tolerances (docs/tolerances.md) -------------------------------------------------------------

UNIT_FINDINGS = {"UNBILLED_UNITS", "OVERBILLED_UNITS", "UNBILLED_ASSETS"}


@dataclass(frozen=True)
class Tolerance:
    id: int
    type: str | None = None
    customer_id: int | None = None
    service_id: int | None = None
    max_units: Fraction | None = None
    max_percent: Fraction | None = None
    max_impact: Decimal | None = None


def deciding_tolerance(finding: Finding, tolerances: list[Tolerance]) -> Tolerance | None:
    """The rule that decides a finding: of those whose every named field is the finding's,
    the one naming the most, service weighing more than customer (customer and service >
    service > customer > none), and naming the type breaking a tie."""
    matching = [
        t
        for t in tolerances
        if t.type in (None, finding.type)
        and t.customer_id in (None, finding.customer_id)
        and t.service_id in (None, finding.service_id)
    ]
    if not matching:
        return None
    return max(
        matching,
        key=lambda t: (
            2 * (t.service_id is not None) + (t.customer_id is not None),
            t.type is not None,
        ),
    )


def tolerance_holds(t: Tolerance, finding: Finding) -> bool:
    """Within every unit limit the rule sets (a unit finding; the percentage of the
    contracted units, none within when nothing is contracted), or an impact at most the
    rule's max_impact (any finding)."""
    if finding.type in UNIT_FINDINGS and (t.max_units is not None or t.max_percent is not None):
        assert finding.expected_quantity is not None and finding.actual_quantity is not None
        difference = abs(finding.actual_quantity - finding.expected_quantity)
        units_ok = t.max_units is None or difference <= t.max_units
        percent_ok = t.max_percent is None or (
            finding.expected_quantity > 0
            and difference / finding.expected_quantity * 100 <= t.max_percent
        )
        if units_ok and percent_ok:
            return True
    return t.max_impact is not None and finding.impact <= t.max_impact


def apply_tolerances(
    findings: list[Finding], tolerances: list[Tolerance]
) -> tuple[list[Finding], list[tuple[Finding, int]]]:
    """The findings shown, and those held back each with the id of the rule holding it."""
    shown: list[Finding] = []
    held: list[tuple[Finding, int]] = []
    for finding in findings:
        rule = deciding_tolerance(finding, tolerances)
        if rule is not None and tolerance_holds(rule, finding):
            held.append((finding, rule.id))
        else:
            shown.append(finding)
    return shown, held
