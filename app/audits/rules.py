"""One rule per finding type of docs/findings.md, named after its code. Each reads the
aggregates of `AuditData` (gathered set-based in data.py) and returns finding drafts;
impacts are computed exactly and rounded half-up once; a finding whose impact rounds to
0.00 or less is not produced.

Quantities and unit amounts on a finding: `expected_*` is the contract's side (contracted
units, contract unit price, or the standard cost for PRICE_INCREASE), `actual_*` is what
was observed (vendor units and mean unit cost, or deployed units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from app.audits.data import NO_POSITION, AuditData, ContractPosition, Pair, VendorPosition
from app.audits.models import FindingType, Severity
from app.core.money import (
    VENDOR_PLACES,
    format_amount,
    format_price,
    format_quantity,
    round_half_up,
)
from app.core.wording import counted

ZERO = Decimal(0)
NO_CONTRACT = NO_POSITION


@dataclass(frozen=True)
class Draft:
    type: FindingType
    impact: Decimal
    message: str
    customer_id: int | None = None
    service_id: int | None = None
    vendor_id: int | None = None
    vendor_invoice_id: int | None = None
    vendor_invoice_line_id: int | None = None
    vendor_sku: str | None = None
    account_ref: str | None = None
    expected_quantity: Decimal | None = None
    actual_quantity: Decimal | None = None
    expected_unit_amount: Decimal | None = None
    actual_unit_amount: Decimal | None = None
    previous_unit_cost: Decimal | None = None

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.type]


SEVERITY = {
    FindingType.ORPHANED_COST: Severity.high,
    FindingType.UNBILLED_UNITS: Severity.high,
    FindingType.MISSING_BILLING: Severity.high,
    FindingType.UNBILLED_ASSETS: Severity.high,
    FindingType.DUPLICATE_CHARGE: Severity.high,
    FindingType.PRICE_INCREASE: Severity.medium,
    FindingType.NEGATIVE_MARGIN: Severity.medium,
    FindingType.OVERBILLED_UNITS: Severity.medium,
    FindingType.INVOICE_TOTAL_MISMATCH: Severity.medium,
    FindingType.UNMAPPED_SKU: Severity.low,
    FindingType.UNMAPPED_ACCOUNT: Severity.low,
}


def unit(value: Fraction | Decimal | None) -> Decimal | None:
    """A unit amount as stored on a finding: 6 places, as vendor unit costs carry
    (docs/vendor-bills.md#precision), half-up; the impact itself is computed from the
    exact value."""
    return None if value is None else round_half_up(value, VENDOR_PLACES)


class _Names:
    def __init__(self, data: AuditData) -> None:
        self.data = data

    def customer(self, customer_id: int | None) -> str:
        return self.data.customers.get(customer_id or 0, f"customer {customer_id}")

    def service(self, service_id: int | None) -> str:
        service = self.data.services.get(service_id or 0)
        return service.name if service else f"service {service_id}"

    def vendor(self, vendor_id: int | None) -> str:
        return self.data.vendors.get(vendor_id or 0, f"vendor {vendor_id}")


def _q(value: Decimal) -> str:
    return format_quantity(value)


def _m(value: Decimal | Fraction) -> str:
    return format_amount(round_half_up(value))


def _p(value: Fraction | Decimal) -> str:
    """A unit figure in a message: as the finding stores it."""
    return format_price(round_half_up(value, VENDOR_PLACES))


def _pairs(data: AuditData) -> list[tuple[Pair, ContractPosition, VendorPosition]]:
    """Each (customer, service) charged by a vendor, in order, with both positions."""
    return data.vendor_pairs()


def metered_revenue(data: AuditData, pair: Pair, contract: ContractPosition) -> Decimal:
    """A metered service's revenue in the rules: the larger of the contracted and the
    invoiced revenue, so an invoice drafted from the contract is not counted twice
    (docs/vendor-bills.md#month-figures)."""
    return max(contract.revenue, data.invoiced_revenue.get(pair, ZERO))


def _metered(data: AuditData, service_id: int) -> bool:
    return service_id in data.metered_services


def ORPHANED_COST(data: AuditData) -> list[Draft]:  # noqa: N802 - named after its code
    """The MSP pays a vendor for something nobody is billed for
    (docs/vendor-bills.md#rules-on-real-bills). Per-unit service: contracted units 0, and
    vendor units > 0 or a usage or one-time cost in the month; impact: vendor units x
    mean unit cost + that usage and one-time cost. Metered service: a cost in the month
    and no revenue; impact: the cost."""
    names, drafts = _Names(data), []
    for (customer_id, service_id), contract, charged in _pairs(data):
        if _metered(data, service_id):
            if not (
                charged.cost > 0 and metered_revenue(data, (customer_id, service_id), contract) == 0
            ):
                continue
            impact = round_half_up(charged.cost_amount)
        else:
            if contract.units != 0 or not (charged.units > 0 or charged.other_cost != 0):
                continue
            units_part = charged.monthly if charged.units > 0 else Fraction(0)
            impact = round_half_up(units_part + Fraction(charged.other_cost, 100))
        if impact <= 0:
            continue
        ended = data.last_contract_end.get((customer_id, service_id))
        why = f"contract ended {ended}" if ended else "no contract line at the end of the month"
        metered = _metered(data, service_id)  # judged on money: no units to show
        drafts.append(
            Draft(
                FindingType.ORPHANED_COST,
                impact,
                _orphan_message(names, data, customer_id, service_id, charged, impact, why),
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=charged.vendor_id,
                expected_quantity=None if metered else contract.units,
                actual_quantity=None if metered else charged.units,
                actual_unit_amount=None if metered else unit(charged.mean_cost),
            )
        )
    return drafts


def _orphan_message(
    names: _Names,
    data: AuditData,
    customer_id: int,
    service_id: int,
    charged: VendorPosition,
    impact: Decimal,
    why: str,
) -> str:
    who = f"{names.customer(customer_id)}: {names.vendor(charged.vendor_id)} charged"
    service = names.service(service_id)
    if _metered(data, service_id):
        return (
            f"{who} {format_amount(impact)} for {service} in {data.period}, but nothing is "
            f"billed for it ({why})."
        )
    if charged.units > 0:
        return (
            f"{who} {_q(charged.units)} x {service} ({format_amount(impact)}) for "
            f"{data.period}, but no active contract covers it ({why})."
        )
    return (
        f"{who} {format_amount(impact)} of usage and one-time fees for {service} in "
        f"{data.period}, but no active contract covers it ({why})."
    )


def UNBILLED_UNITS(data: AuditData) -> list[Draft]:  # noqa: N802
    """Vendor units > contracted units > 0. Impact: (vendor - contracted units) x contract
    unit price."""
    names, drafts = _Names(data), []
    for (customer_id, service_id), contract, charged in _pairs(data):
        # Compare first: the exact price is worked out for findings only.
        if not charged.units > contract.units > 0 or _metered(data, service_id):
            continue
        price = contract.unit_price
        if price is None:
            continue
        missing = charged.units - contract.units
        impact = round_half_up(Fraction(missing) * price)
        if impact <= 0:
            continue
        drafts.append(
            Draft(
                FindingType.UNBILLED_UNITS,
                impact,
                f"{names.customer(customer_id)}: {names.vendor(charged.vendor_id)} charged "
                f"{_q(charged.units)} x {names.service(service_id)} for {data.period} but the "
                f"contract bills {_q(contract.units)}; {_q(missing)} unbilled at {_p(price)} "
                f"= {format_amount(impact)}.",
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=charged.vendor_id,
                expected_quantity=contract.units,
                actual_quantity=charged.units,
                expected_unit_amount=unit(price),
                actual_unit_amount=unit(charged.mean_cost),
            )
        )
    return drafts


def OVERBILLED_UNITS(data: AuditData) -> list[Draft]:  # noqa: N802
    """Contracted units > vendor units, for a vendor service whose vendor has at least one
    invoice for the month. Impact: (contracted - vendor units) x contract unit price."""
    names, drafts = _Names(data), []
    # Services of the vendors that invoiced the month (of the one vendor audited).
    invoiced_services = {
        service_id: service.vendor_id
        for service_id, service in data.services.items()
        if service.vendor_id is not None
        and not service.metered
        and service.vendor_id in data.vendors_invoicing
        and (data.vendor_id is None or service.vendor_id == data.vendor_id)
    }
    for (customer_id, service_id), contract in sorted(data.contracts.items()):
        vendor_id = invoiced_services.get(service_id)
        if vendor_id is None or contract.units <= 0:
            continue
        charged = data.vendor_positions.get((customer_id, service_id))
        vendor_units = charged.units if charged else ZERO
        if not contract.units > vendor_units:
            continue
        price = contract.unit_price
        if price is None:
            continue
        extra = contract.units - vendor_units
        impact = round_half_up(Fraction(extra) * price)
        if impact <= 0:
            continue
        drafts.append(
            Draft(
                FindingType.OVERBILLED_UNITS,
                impact,
                f"{names.customer(customer_id)}: the contract bills {_q(contract.units)} x "
                f"{names.service(service_id)} for {data.period} but {names.vendor(vendor_id)} "
                f"charged {_q(vendor_units)}; {counted(extra, 'unit')} at {_p(price)} "
                f"= {format_amount(impact)} billed without a vendor seat.",
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=vendor_id,
                expected_quantity=contract.units,
                actual_quantity=vendor_units,
                expected_unit_amount=unit(price),
                actual_unit_amount=unit(charged.mean_cost) if charged else None,
            )
        )
    return drafts


def PRICE_INCREASE(data: AuditData) -> list[Draft]:  # noqa: N802
    """Recurring lines (quantity > 0) matched to a per-unit service whose unit_cost exceeds
    the service's standard unit cost on their charge_start, one finding per (vendor
    invoice, service). Impact:
    sum over those lines of (unit_cost - standard) x quantity x share of their charge
    period (docs/vendor-bills.md#rules-on-real-bills)."""
    names, drafts = _Names(data), []
    for rise in sorted(data.price_rises, key=lambda r: (r.invoice_id, r.service_id)):
        service = data.services[rise.service_id]
        # The standard of each line is the one in effect on its charge_start
        # (docs/price-book.md#price_increase); several lines, their weighted mean.
        if rise.standard_cost is None:
            standard: Decimal = service.unit_cost
            standard_cost = Fraction(standard) * rise.weight
        else:
            standard_cost = rise.standard_cost
            standard = round_half_up(standard_cost / rise.weight, VENDOR_PLACES)
        impact = round_half_up(rise.cost - standard_cost)
        if impact <= 0:
            continue
        mean = rise.cost / rise.weight if rise.weight else None
        previous = data.previous_mean_cost.get(rise.service_id)
        before = (
            f"; the mean unit cost in {data.period.previous()} was {_p(previous)}"
            if previous is not None
            else ""
        )
        charged = f"a mean {_p(mean)}" if mean is not None else "more"
        drafts.append(
            Draft(
                FindingType.PRICE_INCREASE,
                impact,
                f"{names.vendor(rise.vendor_id)} invoice {rise.invoice_number} charged "
                f"{names.service(rise.service_id)} at {charged} per unit against the standard "
                f"cost {format_price(standard)} ({counted(rise.quantity, 'unit')}, "
                f"{format_amount(impact)} more){before}.",
                service_id=rise.service_id,
                vendor_id=rise.vendor_id,
                vendor_invoice_id=rise.invoice_id,
                actual_quantity=rise.quantity,
                expected_unit_amount=standard,
                actual_unit_amount=unit(mean),
                previous_unit_cost=unit(previous),
            )
        )
    return drafts


def _below(weight: Decimal, units: Decimal, amount: Decimal, vendor_units: Decimal) -> bool:
    """weight / units < amount / vendor_units (both divisors > 0), exactly, by integer
    cross-multiplication: the cheap test before any Fraction is built."""
    a, b = weight.as_integer_ratio()
    c, d = units.as_integer_ratio()
    e, f = amount.as_integer_ratio()
    g, h = vendor_units.as_integer_ratio()
    # (a/b) / (c/d) < (e/f) / (g/h)  <=>  a*d*f*g < e*h*b*c, every factor's sign known.
    return a * d * f * g < e * h * b * c


def NEGATIVE_MARGIN(data: AuditData) -> list[Draft]:  # noqa: N802
    """Per-unit service: contracted units > 0 and vendor units > 0, and the contract unit
    price < the vendor's mean unit cost; impact: (mean cost - contract unit price) x
    min(contracted, vendor units). Metered service: revenue > 0 and the month's cost above
    it; impact: cost - revenue (docs/vendor-bills.md#rules-on-real-bills)."""
    names, drafts = _Names(data), []
    for (customer_id, service_id), contract, charged in _pairs(data):
        if _metered(data, service_id):
            revenue = metered_revenue(data, (customer_id, service_id), contract)
            if not (revenue > 0 and charged.cost_amount > revenue):
                continue
            impact = round_half_up(charged.cost_amount - revenue)
            if impact <= 0:
                continue
            drafts.append(
                Draft(
                    FindingType.NEGATIVE_MARGIN,
                    impact,
                    f"{names.customer(customer_id)}: {names.service(service_id)} earns "
                    f"{format_amount(revenue)} for {data.period} but "
                    f"{names.vendor(charged.vendor_id)} charged "
                    f"{format_amount(charged.cost_amount)}; it loses {format_amount(impact)}.",
                    customer_id=customer_id,
                    service_id=service_id,
                    vendor_id=charged.vendor_id,
                )
            )
            continue
        if not (contract.units > 0 and charged.units > 0):
            continue
        if not charged.partial and not _below(
            contract.price_weight, contract.units, charged.whole, charged.units
        ):
            continue
        price, cost = contract.unit_price, charged.mean_cost
        if price is None or cost is None or not price < cost:
            continue
        units = min(contract.units, charged.units)
        impact = round_half_up((cost - price) * Fraction(units))
        if impact <= 0:
            continue
        drafts.append(
            Draft(
                FindingType.NEGATIVE_MARGIN,
                impact,
                f"{names.customer(customer_id)}: {names.service(service_id)} sells at "
                f"{_p(price)} per unit but {names.vendor(charged.vendor_id)} charges a mean "
                f"{_p(cost)} for {data.period}; {counted(units, 'unit')} "
                f"{'loses' if units == 1 else 'lose'} {format_amount(impact)}.",
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=charged.vendor_id,
                expected_quantity=contract.units,
                actual_quantity=charged.units,
                expected_unit_amount=unit(price),
                actual_unit_amount=unit(cost),
            )
        )
    return drafts


def _unmapped(data: AuditData, kind: FindingType) -> list[Draft]:
    names, drafts = _Names(data), []
    for line in sorted(data.unmapped, key=lambda u: u.line_id):
        if kind is FindingType.UNMAPPED_SKU and line.service_id is not None:
            continue
        if kind is FindingType.UNMAPPED_ACCOUNT and line.customer_id is not None:
            continue
        impact = round_half_up(line.amount)
        if impact <= 0:
            continue
        vendor = names.vendor(line.vendor_id)
        if kind is FindingType.UNMAPPED_SKU:
            what = (
                f"SKU '{line.vendor_sku}' matches no service of {vendor}: set a service's "
                "vendor_sku"
            )
        else:
            what = (
                f"account '{line.account_ref}' matches no customer's {vendor} account: add a "
                "vendor account to the customer"
            )
        drafts.append(
            Draft(
                kind,
                impact,
                f"{vendor} invoice {line.invoice_number}: {what} ({format_amount(impact)} "
                f"for {data.period}).",
                customer_id=line.customer_id,
                service_id=line.service_id,
                vendor_id=line.vendor_id,
                vendor_invoice_id=line.invoice_id,
                vendor_invoice_line_id=line.line_id,
                vendor_sku=line.vendor_sku,
                account_ref=line.account_ref,
            )
        )
    return drafts


def UNMAPPED_SKU(data: AuditData) -> list[Draft]:  # noqa: N802
    """A vendor line whose vendor_sku matches no service of that vendor. Impact: its amount."""
    return _unmapped(data, FindingType.UNMAPPED_SKU)


def UNMAPPED_ACCOUNT(data: AuditData) -> list[Draft]:  # noqa: N802
    """A vendor line whose account_ref matches no customer's vendor account. Impact: its
    amount."""
    return _unmapped(data, FindingType.UNMAPPED_ACCOUNT)


def DUPLICATE_CHARGE(data: AuditData) -> list[Draft]:  # noqa: N802
    """A line on an invoice of the month identical to a line on another invoice of the same
    vendor (customer, service, kind, charge period, quantity, amount). Impact: the amounts
    of the copies on the month's invoices other than the earliest invoice carrying the
    charge (by invoice_date, then number), per (customer, service); a copy on a later
    month's invoice is that month's finding (docs/vendor-bills.md#rules-on-real-bills)."""
    names, drafts = _Names(data), []
    for (customer_id, service_id), duplicate in sorted(data.duplicates.items()):
        impact = round_half_up(duplicate.amount)
        if impact <= 0:
            continue
        copies = sorted({c.invoice_number for c in duplicate.copies})
        first = sorted(set(duplicate.earliest))
        drafts.append(
            Draft(
                FindingType.DUPLICATE_CHARGE,
                impact,
                f"{names.customer(customer_id)}: {names.vendor(duplicate.vendor_id)} charged "
                f"{names.service(service_id)} again on {', '.join(copies)} for {data.period}: "
                f"the same charge as on {', '.join(first)} ({format_amount(impact)}).",
                customer_id=customer_id,
                service_id=service_id,
                # No vendor invoice: the finding stays the same one (its status and note
                # kept) when another copy turns up on a re-run.
                vendor_id=duplicate.vendor_id,
            )
        )
    return drafts


def INVOICE_TOTAL_MISMATCH(data: AuditData) -> list[Draft]:  # noqa: N802
    """A vendor invoice whose total differs from the sum of its line amounts. Impact: the
    absolute difference."""
    names, drafts = _Names(data), []
    for invoice in sorted(data.invoice_totals, key=lambda i: i.invoice_id):
        impact = round_half_up(abs(invoice.total - invoice.lines_total))
        if impact <= 0:
            continue
        drafts.append(
            Draft(
                FindingType.INVOICE_TOTAL_MISMATCH,
                impact,
                f"{names.vendor(invoice.vendor_id)} invoice {invoice.invoice_number}: the total "
                f"is {format_amount(invoice.total)} but its lines add up to "
                f"{format_amount(invoice.lines_total)} (difference {format_amount(impact)}).",
                vendor_id=invoice.vendor_id,
                vendor_invoice_id=invoice.invoice_id,
            )
        )
    return drafts


def MISSING_BILLING(data: AuditData) -> list[Draft]:  # noqa: N802
    """A customer with contracted revenue > 0 in the month and no customer invoice for it
    (a void one does not count). Impact: the contracted revenue."""
    if data.vendor_id is not None:
        return []
    names, drafts = _Names(data), []
    for customer_id, revenue in sorted(data.customer_revenue.items()):
        if revenue <= 0 or customer_id in data.billed_customers:
            continue
        drafts.append(
            Draft(
                FindingType.MISSING_BILLING,
                revenue,
                f"{names.customer(customer_id)}: contracted revenue of {format_amount(revenue)} "
                f"for {data.period}, but no customer invoice for the month.",
                customer_id=customer_id,
            )
        )
    return drafts


def UNBILLED_ASSETS(data: AuditData) -> list[Draft]:  # noqa: N802
    """Deployed units > contracted units for (customer, service). Impact: (deployed -
    contracted units) x contract unit price, or the service's list price when nothing is
    contracted."""
    if data.vendor_id is not None:
        return []
    names, drafts = _Names(data), []
    for (customer_id, service_id), count in sorted(data.deployed.items()):
        contract = data.contracts.get((customer_id, service_id), NO_CONTRACT)
        deployed = Decimal(count)
        if not deployed > contract.units:
            continue
        service = data.services[service_id]
        price = contract.unit_price
        if price is None:
            price = Fraction(service.unit_price)
        missing = deployed - contract.units
        impact = round_half_up(Fraction(missing) * price)
        if impact <= 0:
            continue
        drafts.append(
            Draft(
                FindingType.UNBILLED_ASSETS,
                impact,
                f"{names.customer(customer_id)}: {_q(deployed)} x {service.name} deployed by "
                f"{data.period.last_day}{_installed(data, (customer_id, service_id))} but the "
                f"contract bills {_q(contract.units)}; {_q(missing)} at {_p(price)} = "
                f"{format_amount(impact)} unbilled.",
                customer_id=customer_id,
                service_id=service_id,
                vendor_id=service.vendor_id,
                expected_quantity=contract.units,
                actual_quantity=deployed,
                expected_unit_amount=unit(price),
            )
        )
    return drafts


def _installed(data: AuditData, pair: Pair) -> str:
    """When the assets counted at the month's end were installed: they are counted on its
    last day (docs/month-arithmetic.md#deployed-units), not deployed on it."""
    dates = data.installed.get(pair)
    if dates is None:
        return ""
    first, last = dates
    if first == last:
        return f" (installed {first})"
    return f" (installed between {first} and {last})"


RULES: dict[FindingType, Callable[[AuditData], list[Draft]]] = {
    FindingType.ORPHANED_COST: ORPHANED_COST,
    FindingType.UNBILLED_UNITS: UNBILLED_UNITS,
    FindingType.OVERBILLED_UNITS: OVERBILLED_UNITS,
    FindingType.PRICE_INCREASE: PRICE_INCREASE,
    FindingType.NEGATIVE_MARGIN: NEGATIVE_MARGIN,
    FindingType.UNMAPPED_SKU: UNMAPPED_SKU,
    FindingType.UNMAPPED_ACCOUNT: UNMAPPED_ACCOUNT,
    FindingType.DUPLICATE_CHARGE: DUPLICATE_CHARGE,
    FindingType.INVOICE_TOTAL_MISMATCH: INVOICE_TOTAL_MISMATCH,
    FindingType.MISSING_BILLING: MISSING_BILLING,
    FindingType.UNBILLED_ASSETS: UNBILLED_ASSETS,
}


def run_rules(data: AuditData) -> list[Draft]:
    return [draft for rule in RULES.values() for draft in rule(data)]
