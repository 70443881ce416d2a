"""Property test of audits and the customer audit report (docs/findings.md).

Seeded random MSP data (mid-month starts and ends, cancellations, lines with their own
dates, adjustments, fractional quantities and 4-decimal prices, vendor invoices of the
month and the month before with price raises, credits, duplicates, unmapped SKUs and
accounts, wrong totals, assets around month end, customer invoices incl. draft and void)
is created through the HTTP API; the audit, the customer audit report and contract
schedules must then agree to the cent with `tests/reference.py`, an independent
day-by-day model of docs/month-arithmetic.md and docs/findings.md, on both databases.

Six seeds by default; `MSP_PROPERTY_SEEDS=1-200` runs a wider sweep.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest

from tests import reference as ref

API = "/api/v1"


def _seeds() -> list[int]:
    """MSP_PROPERTY_SEEDS="1-200" (or "7,9") runs a wider sweep; six seeds by default."""
    spec = os.environ.get("MSP_PROPERTY_SEEDS", "1-6")
    seeds: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


SEEDS = _seeds()
# Real vendor bills (docs/vendor-bills.md): charge periods, kinds, credits, metered services,
# re-billed and arrears lines in the random worlds, held to the reference's rules for them.
# False: exactly the worlds of plain lines, under the rules the service implements today.
REAL_BILLS = True
# Price-book entries (docs/price-book.md) on the services of the random worlds.
PRICE_BOOK = True
PERIODS = ["2026-02", "2026-03", "2026-10", "2027-01", "2028-02", "2026-05"]


# ---------------------------------------------------------------------------- helpers


def d4(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))


def d6(value: Decimal) -> Decimal:
    """Vendor lines' places (docs/vendor-bills.md#precision)."""
    return value.quantize(Decimal("0.000001"))


def add_months(period: str, months: int) -> str:
    year, month = ref.parse_period(period)
    index = year * 12 + (month - 1) + months
    return f"{index // 12}-{index % 12 + 1:02d}"


def rand_date(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def to_fraction(text: str | None) -> Fraction | None:
    return None if text is None else Fraction(Decimal(text))


# ---------------------------------------------------------------------------- the plan


@dataclass
class ServicePlan:
    key: int
    sku: str
    unit: str
    unit_price: Decimal
    unit_cost: Decimal
    vendor: int | None
    vendor_sku: str | None
    metered: bool = False
    # Price-book entries (docs/price-book.md): (effective_from, unit_cost), days distinct.
    costs: list[tuple[date, Decimal]] = field(default_factory=list)


@dataclass
class ContractPlan:
    key: int
    customer: int
    start: date
    end: date | None
    cancel_on: date | None


@dataclass
class LinePlan:
    key: int
    contract: int
    service: int
    quantity: Decimal
    unit_price: Decimal | None  # None: the service's list price
    start: date | None
    end: date | None
    adjustments: list[tuple[date, Decimal]] = field(default_factory=list)


@dataclass
class VLinePlan:
    vendor_sku: str
    account_ref: str
    quantity: Decimal
    unit_cost: Decimal
    amount: Decimal | None  # None: the default, quantity x unit_cost rounded
    kind: str = "recurring"  # docs/vendor-bills.md#kinds
    charge_start: date | None = None  # both or neither: the invoice's month
    charge_end: date | None = None
    subscription_ref: str | None = None


@dataclass
class InvoicePlan:
    vendor: int
    number: str
    invoice_date: date
    period: str
    lines: list[VLinePlan] = field(default_factory=list)
    total_delta: Decimal = Decimal("0.00")


@dataclass
class AssetPlan:
    customer: int
    service: int
    installed_on: date
    removed_on: date | None


@dataclass
class CustomerInvoicePlan:
    customer: int
    number: str
    period: str
    status: str  # posted, draft, or void (created posted, then voided)
    lines: list[tuple[int | None, Decimal, Decimal]]  # service, quantity, unit price


@dataclass
class Plan:
    period: str
    vendors: list[str]
    customers: list[str]
    services: list[ServicePlan]
    accounts: dict[tuple[int, int], str]  # (customer, vendor) -> account_ref
    contracts: list[ContractPlan]
    lines: list[LinePlan]
    invoices: list[InvoicePlan]  # in creation order
    assets: list[AssetPlan]
    customer_invoices: list[CustomerInvoicePlan]


def line_amount(vline: VLinePlan) -> Decimal:
    """The given amount, else quantity x unit_cost (x the share of the charge period for a
    recurring line) rounded once (docs/vendor-bills.md#amount)."""
    if vline.amount is not None:
        return vline.amount
    exact = Fraction(vline.quantity) * Fraction(vline.unit_cost)
    if vline.kind == "recurring" and vline.charge_start and vline.charge_end:
        exact *= ref.share(vline.charge_start, vline.charge_end)
    return ref.cents(exact)


def ref_line(line_id: int, vl: VLinePlan, amount: Decimal) -> ref.VendorLine:
    return ref.VendorLine(
        line_id,
        vl.vendor_sku,
        vl.account_ref,
        vl.quantity,
        vl.unit_cost,
        amount,
        kind=vl.kind,
        charge_start=vl.charge_start,
        charge_end=vl.charge_end,
        subscription_ref=vl.subscription_ref,
    )


def line_payload(vl: VLinePlan) -> dict[str, Any]:
    """A vendor line as JSON; the fields of real bills only when they are not the default
    (so that plain lines are sent exactly as before)."""
    item: dict[str, Any] = {
        "vendor_sku": vl.vendor_sku,
        "account_ref": vl.account_ref,
        "quantity": str(vl.quantity),
        "unit_cost": str(vl.unit_cost),
    }
    if vl.kind == "adjustment":  # may name no SKU or account: send none then
        item = {k: v for k, v in item.items() if v != ""}
    if vl.amount is not None:
        item["amount"] = str(vl.amount)
    if vl.kind != "recurring":
        item["kind"] = vl.kind
    if vl.charge_start is not None and vl.charge_end is not None:
        item["charge_start"] = iso(vl.charge_start)
        item["charge_end"] = iso(vl.charge_end)
    if vl.subscription_ref is not None:
        item["subscription_ref"] = vl.subscription_ref
    return item


def cline_amount(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """A customer invoice line's default amount: quantity x unit_price rounded."""
    return ref.cents(Fraction(quantity) * Fraction(unit_price))


def local_world(plan: Plan) -> ref.World:
    """The plan as the reference sees it, with the plan's own keys as ids."""
    world = ref.World(customers=list(range(len(plan.customers))), before_real_bills=not REAL_BILLS)
    for s in plan.services:
        world.services[s.key] = ref.Service(
            s.key, s.unit_price, s.unit_cost, s.vendor, s.vendor_sku, s.metered, list(s.costs)
        )
    for k in plan.contracts:
        end = k.cancel_on if k.cancel_on is not None else k.end
        world.contracts[k.key] = ref.Contract(k.key, k.customer, k.start, end)
    for ln in plan.lines:
        price = ln.unit_price if ln.unit_price is not None else plan.services[ln.service].unit_price
        world.lines.append(
            ref.Line(
                ln.key,
                ln.contract,
                ln.service,
                ln.quantity,
                price,
                ln.start,
                ln.end,
                [ref.Adjustment(day, qty) for day, qty in ln.adjustments],
            )
        )
    for (customer, vendor), account_ref in plan.accounts.items():
        world.vendor_accounts.append(ref.VendorAccount(customer, vendor, account_ref))
    line_ids = iter(range(1, 1_000_000))
    for key, inv in enumerate(plan.invoices):
        amounts = [line_amount(vl) for vl in inv.lines]
        world.vendor_invoices.append(
            ref.VendorInvoice(
                key,
                inv.vendor,
                inv.number,
                inv.invoice_date,
                inv.period,
                sum(amounts, Decimal("0.00")) + inv.total_delta,
                [ref_line(next(line_ids), vl, a) for vl, a in zip(inv.lines, amounts, strict=True)],
            )
        )
    for asset in plan.assets:
        world.assets.append(
            ref.Asset(asset.customer, asset.service, asset.installed_on, asset.removed_on)
        )
    for ci in plan.customer_invoices:
        world.customer_invoices.append(
            ref.CustomerInvoice(
                ci.customer,
                ci.period,
                ci.status,
                [ref.CustomerInvoiceLine(s, q, cline_amount(q, p)) for s, q, p in ci.lines],
            )
        )
    return world


def generate(seed: int) -> Plan:
    rng = random.Random(seed)
    period = PERIODS[(seed - 1) % len(PERIODS)]
    start_m, end_m = ref.first_day(period), ref.last_day(period)
    prev = ref.previous_period(period)
    vendors = ["Pax8", "Ingram Micro", "TD Synnex"]
    customers = [f"Customer {i} GmbH" for i in range(8)]

    def price(base: str, spread: float = 0.2) -> Decimal:
        factor = Decimal(str(round(rng.uniform(1 - spread, 1 + spread), 4)))
        return d4(Decimal(base) * factor)

    catalog = [
        ("M365-BP", "seat", "22.00", "18.00", 0, "MS-365-BP"),
        ("M365-E3", "seat", "36.00", "31.50", 0, "MS-365-E3"),
        ("AV-SEAT", "seat", "4.50", "2.75", 1, "ESET-EP"),
        ("BACKUP-GB", "GB", "0.125", "0.0875", 1, "ACR-GB"),
        ("RMM-AGENT", "device", "3.00", "1.25", 2, "NABLE-RMM"),
        # Another vendor's SKU under the same vendor_sku: matching is per vendor.
        ("M365-BP-TD", "seat", "21.00", "17.50", 2, "MS-365-BP"),
        ("HELPDESK", "hour", "95.00", "40.00", None, None),
        ("MANAGED-WS", "device", "45.50", "12.00", None, None),
    ]
    services = [
        ServicePlan(i, sku, unit, price(p), price(c, 0.05), v, vsku)
        for i, (sku, unit, p, c, v, vsku) in enumerate(catalog)
    ]

    def quantity(service: int) -> Decimal:
        unit = services[service].unit
        if unit == "GB":
            return Decimal(rng.randint(500, 20000)) / 10
        if unit == "hour":
            return Decimal(rng.choice([1, 2, 2.5, 4, 7.25, 10])).quantize(Decimal("0.01"))
        return Decimal(rng.randint(1, 25))

    # Vendors 1 and 2 use the same account names for different customers: matching is per
    # vendor.
    accounts = {
        (c, v): f"{vendors[v][:3].upper()}-{1000 + 7 * c}"
        if v == 0
        else f"ACCT-{(c + v) % len(customers)}"
        for c in range(len(customers))
        for v in range(len(vendors))
        if rng.random() < 0.75
    }

    contracts: list[ContractPlan] = []
    lines: list[LinePlan] = []
    window_start = ref.first_day(add_months(period, -14))
    for c in range(len(customers)):
        for _ in range(rng.choice([1, 1, 2])):
            roll = rng.random()
            if roll < 0.2:
                start = rand_date(rng, start_m, end_m)  # starts mid-month in M
            elif roll < 0.25:
                start = rand_date(rng, end_m + timedelta(days=1), end_m + timedelta(days=40))
            else:
                start = rand_date(rng, window_start, start_m)
            end = None
            if rng.random() < 0.35:
                end = rand_date(
                    rng, max(start, start_m - timedelta(days=45)), end_m + timedelta(days=60)
                )
            cancel_on = None
            if rng.random() < 0.3:
                low = max(start - timedelta(days=1), start_m - timedelta(days=40))
                high = min(end or end_m + timedelta(days=20), end_m + timedelta(days=20))
                if low <= high:
                    cancel_on = (
                        start - timedelta(days=1)
                        if rng.random() < 0.15
                        else rand_date(rng, low, high)
                    )
            contract = ContractPlan(len(contracts), c, start, end, cancel_on)
            contracts.append(contract)
            for _ in range(rng.randint(1, 3)):
                service = rng.randrange(len(services))
                unit_price = (
                    None if rng.random() < 0.4 else price(str(services[service].unit_price))
                )
                line_start = None
                line_end = None
                if rng.random() < 0.3:
                    line_start = rand_date(
                        rng, start - timedelta(days=20), max(start, end_m) + timedelta(days=5)
                    )
                if rng.random() < 0.25:
                    line_end = rand_date(
                        rng,
                        line_start or start,
                        max(line_start or start, end_m + timedelta(days=30)),
                    )
                plan_line = LinePlan(
                    len(lines),
                    contract.key,
                    service,
                    quantity(service),
                    unit_price,
                    line_start,
                    line_end,
                )
                for _ in range(rng.choice([0, 0, 1, 2, 3])):
                    if plan_line.adjustments and rng.random() < 0.25:
                        day = plan_line.adjustments[-1][0]  # a second one on the same date
                    elif rng.random() < 0.2:
                        day = rng.choice([start_m, end_m, end_m + timedelta(days=1)])
                    else:
                        day = rand_date(
                            rng, start_m - timedelta(days=35), end_m + timedelta(days=20)
                        )
                    qty = Decimal(0) if rng.random() < 0.1 else quantity(service)
                    plan_line.adjustments.append((day, qty))
                lines.append(plan_line)

    plan = Plan(period, vendors, customers, services, accounts, contracts, lines, [], [], [])
    world = local_world(plan)
    table = ref.pairs(world, period)

    # Vendor invoices of M (and M-1, and one of M+1 that must be ignored).
    used_numbers: set[str] = set()

    def number(v: int) -> str:
        while True:
            candidate = f"{vendors[v][:2].upper()}-{rng.randint(1, 99999):05d}"
            if candidate not in used_numbers:
                used_numbers.add(candidate)
                return candidate

    def vline(
        c: int | None, s: int, qty: Decimal, cost: Decimal, acct: str | None = None
    ) -> VLinePlan:
        sku = services[s].vendor_sku
        assert sku is not None
        account = acct if acct is not None else accounts[(c, services[s].vendor)]  # type: ignore[index]
        amount = None
        if rng.random() < 0.15:
            amount = ref.cents(Fraction(qty) * Fraction(cost)) + Decimal(rng.randint(-5, 5)) / 100
        return VLinePlan(sku, account, qty, cost, amount)

    invoices: list[InvoicePlan] = []
    for v in range(len(vendors)):
        vendor_services = [s.key for s in services if s.vendor == v]
        if rng.random() < 0.1 or (seed % 3 == 0 and v == 2):
            continue  # this vendor sent nothing for M: no OVERBILLED_UNITS for it
        count = rng.choice([1, 1, 2, 3])
        mine = [
            InvoicePlan(v, number(v), rand_date(rng, start_m, end_m + timedelta(days=10)), period)
            for _ in range(count)
        ]
        for c in range(len(customers)):
            if (c, v) not in accounts:
                continue
            for s in vendor_services:
                pair = table.get((c, s), ref.Pair())
                units = pair.contracted_units
                if units > 0:
                    if rng.random() > 0.85:
                        continue
                    roll = rng.random()
                    qty = Decimal(units.numerator) / Decimal(units.denominator)
                    if roll < 0.25:
                        qty += quantity(s) / 4 if services[s].unit == "GB" else rng.randint(1, 4)
                    elif roll < 0.4:
                        qty = max(Decimal(0), qty - rng.randint(1, 4))
                elif pair.has_line and rng.random() < 0.6 or rng.random() < 0.1:
                    qty = quantity(s)
                else:
                    continue
                qty = d4(qty)
                if qty == 0:
                    continue
                standard = services[s].unit_cost
                roll = rng.random()
                if roll < 0.2:
                    # A rise, to 6 places on real bills (12.0001 x 1.0375 = 12.45010375).
                    rise = standard * Decimal(str(round(rng.uniform(1.03, 1.3), 4)))
                    cost = d6(rise) if REAL_BILLS else d4(rise)
                elif roll < 0.28:
                    cost = d4(standard * 3)  # more than the customer pays: negative margin
                elif roll < 0.35:
                    cost = d4(standard * Decimal("0.9"))
                else:
                    cost = standard
                target = rng.choice(mine)
                target.lines.append(vline(c, s, qty, cost))
                if rng.random() < 0.12:  # a credit for part of it
                    credit = -min(qty, Decimal(rng.randint(1, 3)))
                    target.lines.append(vline(c, s, credit, cost))
                if rng.random() < 0.2:  # charged again on another invoice of M
                    other = InvoicePlan(
                        v,
                        number(v),
                        target.invoice_date
                        if rng.random() < 0.5
                        else rand_date(rng, start_m, end_m),
                        period,
                    )
                    mine.append(other)
                    other.lines.append(vline(c, s, qty if rng.random() < 0.7 else qty + 1, cost))
                    if rng.random() < 0.2:  # and credited there
                        other.lines.append(vline(c, s, -qty, cost))
        for invoice in mine:
            if rng.random() < 0.5:  # a SKU this vendor does not sell (maybe another vendor's)
                foreign = rng.choice([s for s in services if s.vendor not in (None, v)])
                sku = rng.choice(
                    [f"{vendors[v][:3].upper()}-NEW-{rng.randint(1, 9)}", foreign.vendor_sku]
                )
                account = rng.choice(
                    [a for (c, vv), a in accounts.items() if vv == v] or ["GHOST-0"]
                )
                qty = Decimal(rng.randint(1, 9))
                invoice.lines.append(VLinePlan(str(sku), account, qty, price("5.00"), None))
            if vendor_services and rng.random() < 0.5:  # an account nobody mapped
                s = rng.choice(vendor_services)
                invoice.lines.append(
                    vline(
                        None, s, quantity(s), services[s].unit_cost, f"GHOST-{rng.randint(1, 99)}"
                    )
                )
            if vendor_services and rng.random() < 0.4:  # half a cent over: rounds half-up
                s = rng.choice(vendor_services)
                c = rng.choice([c for (c, vv) in accounts if vv == v] or [0])
                raise_by = rng.choice([Decimal("0.0050"), Decimal("0.0049")])
                invoice.lines.append(
                    vline(
                        None,
                        s,
                        Decimal(1),
                        services[s].unit_cost + raise_by,
                        accounts.get((c, v), "GHOST-5"),
                    )
                )
            if rng.random() < 0.2:  # both unknown: two findings for one line
                invoice.lines.append(
                    VLinePlan(
                        "MYSTERY-SKU", "MYSTERY-ACCT", Decimal("2.5"), Decimal("9.9999"), None
                    )
                )
            if rng.random() < 0.15:  # an unmapped credit: no finding (impact <= 0)
                invoice.lines.append(
                    VLinePlan("REFUND-SKU", "GHOST-REFUND", Decimal("-1"), Decimal("12.00"), None)
                )
            if not invoice.lines:
                invoice.lines.append(
                    VLinePlan("MYSTERY-SKU", "MYSTERY-ACCT", Decimal("1"), Decimal("1.00"), None)
                )
            roll = rng.random()
            if roll < 0.15:
                invoice.total_delta = Decimal(rng.randint(1, 5000)) / 100
            elif roll < 0.25:
                invoice.total_delta = -Decimal(rng.randint(1, 5000)) / 100
        invoices.extend(mine)
        # The month before: the previous unit costs of PRICE_INCREASE.
        if vendor_services and rng.random() < 0.8:
            before = InvoicePlan(v, number(v), ref.first_day(period) - timedelta(days=3), prev)
            for c in range(len(customers)):
                for s in vendor_services:
                    if (c, v) in accounts and rng.random() < 0.5:
                        cost = services[s].unit_cost
                        if rng.random() < 0.3:
                            cost = d4(cost * Decimal("1.02"))
                        before.lines.append(vline(c, s, quantity(s), cost))
            if rng.random() < 0.5:  # an unmapped account still counts for the service's mean
                s = rng.choice(vendor_services)
                cost = d4(services[s].unit_cost * Decimal("0.8"))
                before.lines.append(vline(None, s, quantity(s), cost, "GHOST-PREV"))
            if before.lines:
                invoices.append(before)
        if vendor_services and rng.random() < 0.3:  # next month's: ignored
            s = rng.choice(vendor_services)
            c = rng.choice([c for (c, vv) in accounts if vv == v] or [0])
            after = InvoicePlan(v, number(v), end_m + timedelta(days=20), add_months(period, 1))
            after.lines.append(
                vline(c, s, Decimal(99), services[s].unit_cost * 2, accounts.get((c, v), "GHOST-9"))
            )
            invoices.append(after)
    rng.shuffle(invoices)  # creation order (ids) differs from date and number order

    assets: list[AssetPlan] = []
    for c in range(len(customers)):
        for _ in range(rng.choice([0, 1, 2, 4])):
            s = rng.choice([s.key for s in services if s.unit in ("seat", "device")])
            installed = rand_date(rng, start_m - timedelta(days=90), end_m + timedelta(days=5))
            removed = None
            if rng.random() < 0.4:
                removed = rng.choice(
                    [
                        end_m,
                        end_m + timedelta(days=1),
                        rand_date(rng, installed + timedelta(days=1), end_m + timedelta(days=30)),
                    ]
                )
                if removed <= installed:
                    removed = installed + timedelta(days=1)
            for _ in range(rng.choice([1, 1, 3])):
                assets.append(AssetPlan(c, s, installed, removed))

    customer_invoices: list[CustomerInvoicePlan] = []
    for c in range(len(customers)):
        roll = rng.random()
        mine_lines = [ln for ln in plan.lines if contracts[ln.contract].customer == c]
        body: list[tuple[int | None, Decimal, Decimal]] = [
            (ln.service, ln.quantity, services[ln.service].unit_price) for ln in mine_lines[:3]
        ] or [(None, Decimal(1), Decimal("10.00"))]
        if rng.random() < 0.3:
            body.append((None, Decimal(1), Decimal("25.00")))
        status = None
        inv_period = period
        if roll < 0.45:
            status = "posted"
        elif roll < 0.55:
            status = "draft"
        elif roll < 0.7:
            status = "void"
        elif roll < 0.8:
            status, inv_period = "posted", prev
        if status is not None:
            customer_invoices.append(
                CustomerInvoicePlan(c, f"INV-{seed}-{c:03d}", inv_period, status, body)
            )
            if status == "void" and rng.random() < 0.5:  # voided, then issued again
                customer_invoices.append(
                    CustomerInvoicePlan(c, f"INV-{seed}-{c:03d}B", period, "posted", body)
                )

    # Two customers drawn last (so that the draws above stay as they were). Customer 8 buys
    # one vendor service on three lines of two contracts with small, often equal quantities:
    # the contract split over lines, its largest remainder and its ties. Customer 9 is
    # charged by a vendor without ever having a contract: cost and no revenue.
    months = [add_months(period, -1), period, add_months(period, 1)]
    split_c, orphan_c = len(customers), len(customers) + 1
    customers.extend(["Customer 8 (split) GmbH", "Customer 9 (no contract) GmbH"])
    split_s = rng.choice([s.key for s in services if s.vendor == 0])
    orphan_s = rng.choice([s.key for s in services if s.vendor == 1])
    accounts[(split_c, 0)] = "PAX-SPLIT"
    accounts[(orphan_c, 1)] = "ACCT-ORPHAN"
    twins = [ContractPlan(len(contracts) + i, split_c, window_start, None, None) for i in (0, 1)]
    contracts.extend(twins)
    twin_lines: list[LinePlan] = []
    for contract_key in rng.sample([twins[0].key, twins[0].key, twins[1].key], 3):
        twin = LinePlan(
            len(lines), contract_key, split_s, Decimal(rng.randint(1, 3)), None, None, None
        )
        if rng.random() < 0.5:  # other units from M on
            twin.adjustments.append((ref.first_day(period), Decimal(rng.randint(0, 3))))
        twin_lines.append(twin)
        lines.append(twin)
    for month in months:
        charged = sum((ln.quantity for ln in twin_lines), Decimal(0)) + rng.randint(0, 2)
        cost = services[split_s].unit_cost
        amount = ref.cents(Fraction(charged) * Fraction(cost)) + Decimal(rng.randint(-9, 9)) / 100
        charge = InvoicePlan(0, number(0), ref.first_day(month) + timedelta(days=4), month)
        charge.lines.append(
            VLinePlan(services[split_s].vendor_sku or "", "PAX-SPLIT", charged, cost, amount)
        )
        invoices.append(charge)
        if month == period or rng.random() < 0.5:
            orphan = services[orphan_s]
            charge = InvoicePlan(1, number(1), ref.first_day(month) + timedelta(days=6), month)
            charge.lines.append(
                VLinePlan(
                    orphan.vendor_sku or "",
                    "ACCT-ORPHAN",
                    quantity(orphan_s),
                    orphan.unit_cost,
                    None,
                )
            )
            invoices.append(charge)

    plan.invoices = invoices
    plan.assets = assets
    plan.customer_invoices = customer_invoices
    if REAL_BILLS:
        add_real_bills(plan, seed)
    if PRICE_BOOK:
        add_price_book(plan, seed)
    return plan


def add_price_book(plan: Plan, seed: int) -> None:
    """Price-book entries on most services (docs/price-book.md), from their own generator
    so that the rest of the world stays as it is: 6-place costs around the catalog's, from
    days before, on and inside the month and the month before (so that lines charged from
    the month before, mid-month anniversaries and the month's in-house cost each meet
    another standard), some from the month after (in the reports' later months)."""
    rng = random.Random(f"price-book-{seed}")
    period = plan.period
    prev, nxt = add_months(period, -1), add_months(period, 1)
    start_m, end_m = ref.first_day(period), ref.last_day(period)
    for s in plan.services:
        if rng.random() < 0.3:
            continue
        candidates = [
            ref.first_day(prev),
            rand_date(rng, ref.first_day(prev), ref.last_day(prev)),
            start_m,
            rand_date(rng, start_m + timedelta(days=1), end_m),
            rand_date(rng, start_m + timedelta(days=1), end_m),
            ref.first_day(nxt),
            ref.first_day(add_months(period, -14)),
        ]
        days = sorted(set(rng.sample(candidates, rng.randint(1, 3))))
        for day in days:
            factor = Decimal(str(round(rng.uniform(0.85, 1.15), 6)))
            s.costs.append((day, d6(s.unit_cost * factor)))


def add_real_bills(plan: Plan, seed: int) -> None:
    """Real vendor bills on top of the plain world (docs/vendor-bills.md), drawn from their
    own generator so that the plain world stays as it is: metered services with usage,
    prorated pairs, add-ons, cancellation credits, anniversary and annual terms, one-time
    fees, rebates, identical lines billed again (on the month's or the next month's
    invoice) and lines billed in arrears."""
    rng = random.Random(f"real-bills-{seed}")
    period = plan.period
    start_m, end_m = ref.first_day(period), ref.last_day(period)
    prev, nxt = add_months(period, -1), add_months(period, 1)
    services = plan.services
    for s in services:
        if s.sku == "BACKUP-GB":
            s.metered = True  # billed per GB consumed
    azure = ServicePlan(
        len(services), "AZURE", "unit", Decimal("150.00"), Decimal("0.00"), 0, "MS-AZURE", True
    )
    services.append(azure)
    used = {inv.number for inv in plan.invoices}

    def new_invoice(v: int, month: str, day: date) -> InvoicePlan:
        while True:
            number = f"RB-{v}-{rng.randint(1, 99999):05d}"
            if number not in used:
                used.add(number)
                invoice = InvoicePlan(v, number, day, month)
                plan.invoices.append(invoice)
                return invoice

    # Azure sold to some customers (a monthly fee), and invoiced to some.
    for c in range(len(plan.customers)):
        mine = [k for k in plan.contracts if k.customer == c]
        if mine and rng.random() < 0.4:
            fee = d4(Decimal(rng.randint(5000, 25000)) / 100)
            plan.lines.append(
                LinePlan(
                    len(plan.lines), rng.choice(mine).key, azure.key, Decimal(1), fee, None, None
                )
            )
    for ci in plan.customer_invoices:
        if rng.random() < 0.4:
            ci.lines.append((azure.key, Decimal(1), d4(Decimal(rng.randint(5000, 30000)) / 100)))

    mapped = set(plan.accounts.values())

    def at(invoice: InvoicePlan, line: VLinePlan) -> int:
        return next(j for j, other in enumerate(invoice.lines) if other is line)

    of_month = [inv for inv in plan.invoices if inv.period == period]
    for invoice in of_month:
        v = invoice.vendor
        for i, vl in enumerate(list(invoice.lines)):
            if vl.quantity <= 0 or vl.account_ref not in mapped or vl.charge_start:
                continue
            roll = rng.random()
            day = rand_date(rng, start_m + timedelta(days=1), end_m)
            if roll < 0.1:  # a prorated pair: other units until `day`, these from it
                before = max(Decimal(0), vl.quantity + rng.choice([-3, -1, 2, 5]))
                invoice.lines[at(invoice, vl)] = replace(
                    vl, amount=None, charge_start=day, charge_end=end_m
                )
                if before:
                    invoice.lines.append(
                        replace(
                            vl,
                            quantity=before,
                            amount=None,
                            charge_start=start_m,
                            charge_end=day - timedelta(days=1),
                        )
                    )
            elif roll < 0.18:  # seats added from `day`
                invoice.lines.append(
                    replace(
                        vl,
                        quantity=Decimal(rng.randint(1, 3)),
                        amount=None,
                        charge_start=day,
                        charge_end=end_m,
                    )
                )
            elif roll < 0.26:  # removed (or cancelled) from `day`: a credit, maybe next month
                credit = replace(
                    vl,
                    quantity=-vl.quantity if rng.random() < 0.5 else -Decimal(1),
                    amount=None,
                    charge_start=day,
                    charge_end=end_m,
                )
                target = invoice
                if rng.random() < 0.4:
                    target = new_invoice(v, nxt, end_m + timedelta(days=rng.randint(1, 15)))
                target.lines.append(credit)
            elif roll < 0.34:  # renews on the 15th: this month's term and the last one's
                anniversary = start_m.replace(day=15)
                invoice.lines[at(invoice, vl)] = replace(
                    vl,
                    amount=None,
                    charge_start=anniversary,
                    charge_end=ref.first_day(nxt).replace(day=14),
                    subscription_ref=f"SUB-{seed}-{i}",
                )
                earlier = new_invoice(v, prev, ref.first_day(prev).replace(day=15))
                earlier.lines.append(
                    replace(
                        vl,
                        amount=None,
                        charge_start=ref.first_day(prev).replace(day=15),
                        charge_end=start_m.replace(day=14),
                        subscription_ref=f"SUB-{seed}-{i}",
                    )
                )
            elif roll < 0.4:  # an annual term bought k months ago, on that month's invoice
                k = rng.randint(0, 11)
                month = add_months(period, -k)
                invoice.lines.pop(at(invoice, vl))
                annual = new_invoice(v, month, ref.first_day(month) + timedelta(days=2))
                annual.lines.append(
                    replace(
                        vl,
                        amount=None,
                        charge_start=ref.first_day(month),
                        charge_end=ref.first_day(add_months(month, 12)) - timedelta(days=1),
                    )
                )
            elif roll < 0.47:  # the identical line billed again, this month or the next
                copy = replace(vl, charge_start=start_m, charge_end=end_m)
                others = [o for o in of_month if o.vendor == v and o is not invoice]
                if others and rng.random() < 0.6:
                    rng.choice(others).lines.append(copy)
                else:
                    later = new_invoice(
                        v, nxt, ref.first_day(nxt) + timedelta(days=rng.randint(0, 12))
                    )
                    later.lines.append(copy)
            elif roll < 0.52:  # billed in arrears, on next month's invoice
                invoice.lines.pop(at(invoice, vl))
                arrears = new_invoice(v, nxt, ref.first_day(nxt) + timedelta(days=3))
                arrears.lines.append(replace(vl, charge_start=start_m, charge_end=end_m))
            elif roll < 0.56:  # last month's charge in arrears on this month's invoice
                invoice.lines.append(
                    replace(
                        vl,
                        charge_start=ref.first_day(prev),
                        charge_end=ref.last_day(prev),
                    )
                )
            elif roll < 0.6:  # its own dates, the same as the default
                invoice.lines[at(invoice, vl)] = replace(vl, charge_start=start_m, charge_end=end_m)
        # Usage of the metered services, one-time fees and rebates.
        for (_, vv), account in plan.accounts.items():
            if vv != v:
                continue
            for s in services:
                if s.vendor == v and s.metered and rng.random() < 0.5:
                    # Metered to 6 places: 0.1 to 5,000 GB at 0.005 to 0.2.
                    qty = Decimal(rng.randint(100_000, 5_000_000_000)) / 1_000_000
                    cost = Decimal(rng.randint(5_000, 200_000)) / 1_000_000
                    usage = VLinePlan(s.vendor_sku or "", account, qty, cost, None, "usage")
                    if rng.random() < 0.2:  # last month's usage
                        usage.charge_start, usage.charge_end = (
                            ref.first_day(prev),
                            ref.last_day(prev),
                        )
                    invoice.lines.append(usage)
        if rng.random() < 0.5:
            s = rng.choice([s for s in services if s.vendor == v])
            account = rng.choice(
                [a for (c, vv), a in plan.accounts.items() if vv == v] or ["GHOST-FEE"]
            )
            setup = VLinePlan(
                s.vendor_sku or "",
                account,
                Decimal(1),
                d4(Decimal(rng.randint(25, 150))),
                None,
                "one_time",
            )
            if rng.random() < 0.5:  # for work done next month
                setup.charge_start = setup.charge_end = rand_date(
                    rng, ref.first_day(nxt), ref.last_day(nxt)
                )
            invoice.lines.append(setup)
        if rng.random() < 0.5:
            rebate = -d4(Decimal(rng.randint(100, 5000)) / 100)
            if rng.random() < 0.3:  # a fee rather than a rebate
                rebate = -rebate
            named = rng.random() < 0.3  # names a SKU and account: never matched all the same
            s = rng.choice([s for s in services if s.vendor == v])
            account = rng.choice([a for (c, vv), a in plan.accounts.items() if vv == v] or [""])
            invoice.lines.append(
                VLinePlan(
                    s.vendor_sku or "" if named else "",
                    account if named else "",
                    Decimal(1),
                    rebate,
                    None,
                    "adjustment",
                )
            )
    rng.shuffle(plan.invoices)


# ---------------------------------------------------------------------------- HTTP


async def post(client: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{API}/{path}", json=payload)
    assert response.status_code in (200, 201), (path, payload, response.text)
    body: dict[str, Any] = response.json()
    return body


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


@dataclass
class Created:
    world: ref.World
    vendor_ids: list[int]
    customer_ids: list[int]
    service_ids: list[int]
    contract_ids: list[int]


async def create_all(client: httpx.AsyncClient, plan: Plan) -> Created:
    world = ref.World(before_real_bills=not REAL_BILLS)
    vendor_ids = [(await post(client, "vendors", {"name": name}))["id"] for name in plan.vendors]
    customer_ids = [
        (await post(client, "customers", {"name": name}))["id"] for name in plan.customers
    ]
    world.customers = list(customer_ids)
    service_ids: list[int] = []
    for s in plan.services:
        body = await post(
            client,
            "services",
            {
                "name": s.sku.title(),
                "sku": s.sku,
                "unit": s.unit,
                "unit_price": str(s.unit_price),
                "unit_cost": str(s.unit_cost),
                "vendor_id": None if s.vendor is None else vendor_ids[s.vendor],
                "vendor_sku": s.vendor_sku,
                **({"metered": True} if s.metered else {}),
            },
        )
        service_ids.append(body["id"])
        world.services[body["id"]] = ref.Service(
            body["id"],
            s.unit_price,
            s.unit_cost,
            None if s.vendor is None else vendor_ids[s.vendor],
            s.vendor_sku,
            s.metered,
            list(s.costs),
        )
        for day, cost in s.costs:
            await post(
                client,
                f"services/{body['id']}/costs",
                {"effective_from": iso(day), "unit_cost": str(cost)},
            )
    for (c, v), account_ref in plan.accounts.items():
        await post(
            client,
            f"customers/{customer_ids[c]}/vendor-accounts",
            {"vendor_id": vendor_ids[v], "account_ref": account_ref},
        )
        world.vendor_accounts.append(ref.VendorAccount(customer_ids[c], vendor_ids[v], account_ref))

    contract_ids: list[int] = []
    for k in plan.contracts:
        body = await post(
            client,
            "contracts",
            {
                "customer_id": customer_ids[k.customer],
                "name": f"Contract {k.key}",
                "start_date": iso(k.start),
                "end_date": iso(k.end),
            },
        )
        contract_ids.append(body["id"])
        world.contracts[body["id"]] = ref.Contract(
            body["id"], customer_ids[k.customer], k.start, k.end
        )
    for ln in plan.lines:
        contract_id = contract_ids[ln.contract]
        payload: dict[str, Any] = {
            "service_id": service_ids[ln.service],
            "quantity": str(ln.quantity),
        }
        if ln.unit_price is not None:
            payload["unit_price"] = str(ln.unit_price)
        if ln.start is not None:
            payload["start_date"] = iso(ln.start)
        if ln.end is not None:
            payload["end_date"] = iso(ln.end)
        body = await post(client, f"contracts/{contract_id}/lines", payload)
        price = ln.unit_price if ln.unit_price is not None else plan.services[ln.service].unit_price
        assert Decimal(body["unit_price"]) == price
        line = ref.Line(
            body["id"], contract_id, service_ids[ln.service], ln.quantity, price, ln.start, ln.end
        )
        for day, qty in ln.adjustments:
            await post(
                client,
                f"contracts/{contract_id}/lines/{line.id}/adjustments",
                {"effective_date": iso(day), "quantity": str(qty)},
            )
            line.adjustments.append(ref.Adjustment(day, qty))
        world.lines.append(line)
    for k, contract_id in zip(plan.contracts, contract_ids, strict=True):
        if k.cancel_on is not None:
            await post(
                client, f"contracts/{contract_id}/cancel", {"effective_date": iso(k.cancel_on)}
            )
            world.contracts[contract_id].end_date = k.cancel_on

    for inv in plan.invoices:
        amounts = [line_amount(vl) for vl in inv.lines]
        total = sum(amounts, Decimal("0.00")) + inv.total_delta
        lines_payload = [line_payload(vl) for vl in inv.lines]
        body = await post(
            client,
            "vendor-invoices",
            {
                "vendor_id": vendor_ids[inv.vendor],
                "invoice_number": inv.number,
                "invoice_date": iso(inv.invoice_date),
                "period": inv.period,
                "total": str(total),
                "lines": lines_payload,
            },
        )
        detail = (await client.get(f"{API}/vendor-invoices/{body['id']}")).json()
        stored = sorted(detail["lines"], key=lambda x: x["line_no"])
        assert len(stored) == len(inv.lines)
        world.vendor_invoices.append(
            ref.VendorInvoice(
                body["id"],
                vendor_ids[inv.vendor],
                inv.number,
                inv.invoice_date,
                inv.period,
                total,
                [
                    ref_line(s["id"], vl, amount)
                    for s, vl, amount in zip(stored, inv.lines, amounts, strict=True)
                ],
            )
        )
        for s, amount in zip(stored, amounts, strict=True):
            assert Decimal(s["amount"]) == amount, (s, amount)

    for a in plan.assets:
        payload = {
            "customer_id": customer_ids[a.customer],
            "service_id": service_ids[a.service],
            "name": "Laptop",
            "installed_on": iso(a.installed_on),
            "removed_on": iso(a.removed_on),
        }
        await post(client, "assets", payload)
        world.assets.append(
            ref.Asset(
                customer_ids[a.customer], service_ids[a.service], a.installed_on, a.removed_on
            )
        )

    for ci in plan.customer_invoices:
        body = await post(
            client,
            "customer-invoices",
            {
                "customer_id": customer_ids[ci.customer],
                "number": ci.number,
                "period": ci.period,
                "issue_date": iso(ref.first_day(ci.period)),
                "status": "draft" if ci.status == "draft" else "posted",
                "lines": [
                    {
                        "service_id": None if s is None else service_ids[s],
                        "description": "Managed services",
                        "quantity": str(q),
                        "unit_price": str(p),
                    }
                    for s, q, p in ci.lines
                ],
            },
        )
        assert [
            Decimal(x["amount"]) for x in sorted(body["lines"], key=lambda x: x["line_no"])
        ] == [cline_amount(q, p) for _, q, p in ci.lines]
        if ci.status == "void":
            response = await client.patch(
                f"{API}/customer-invoices/{body['id']}", json={"status": "void"}
            )
            assert response.status_code == 200, response.text
        world.customer_invoices.append(
            ref.CustomerInvoice(
                customer_ids[ci.customer],
                ci.period,
                ci.status,
                [
                    ref.CustomerInvoiceLine(
                        None if s is None else service_ids[s], q, cline_amount(q, p)
                    )
                    for s, q, p in ci.lines
                ],
            )
        )
    return Created(world, vendor_ids, customer_ids, service_ids, contract_ids)


async def all_findings(client: httpx.AsyncClient, audit_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        response = await client.get(f"{API}/audits/{audit_id}/findings", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def all_suppressed(client: httpx.AsyncClient, audit_id: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/audits/{audit_id}/suppressed", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def exact_text(value: Fraction, places: int) -> str:
    """A fraction with at most `places` decimals, written exactly."""
    scaled = value * 10**places
    assert scaled.denominator == 1, value
    return str(Decimal(scaled.numerator).scaleb(-places))


def tolerance_bodies(
    rng: random.Random, expected: list[ref.Finding], customer_ids: list[int]
) -> list[dict[str, Any]]:
    """Rules around the findings the audit makes (docs/tolerances.md): unit limits at a
    finding's own difference (held) or a millionth under it (shown), at every level of
    precedence, with or without its type; percentages rounded up (held) or down (shown);
    a global max_impact at the median impact; an exemption of one customer. One rule a
    scope."""
    bodies: dict[tuple[Any, ...], dict[str, Any]] = {}

    def add(body: dict[str, Any]) -> None:
        bodies.setdefault((body.get("type"), body.get("customer_id"), body.get("service_id")), body)

    unit = [f for f in expected if f.type in ref.UNIT_FINDINGS]
    for f in rng.sample(unit, min(len(unit), 5)):
        assert f.actual_quantity is not None and f.expected_quantity is not None
        difference = abs(f.actual_quantity - f.expected_quantity)
        body: dict[str, Any] = rng.choice(
            [
                {"customer_id": f.customer_id, "service_id": f.service_id},
                {"service_id": f.service_id},
                {"customer_id": f.customer_id},
                {},
            ]
        )
        if rng.random() < 0.5:
            body["type"] = f.type
        under = rng.random() < 0.3 and difference > 0
        body["max_units"] = exact_text(difference - (Fraction(1, 10**6) if under else 0), 6)
        if rng.random() < 0.5 and f.expected_quantity > 0:
            percent = difference / f.expected_quantity * 100 * 100
            rounded = percent.__ceil__() if rng.random() < 0.7 else percent.__floor__()
            body["max_percent"] = exact_text(Fraction(rounded, 100), 2)
        add(body)
    if expected:
        impacts = sorted(f.impact for f in expected)
        add({"max_impact": str(impacts[len(impacts) // 2])})
    if customer_ids:
        add({"customer_id": rng.choice(customer_ids)})  # no limit: an exemption
    return list(bodies.values())


async def check_tolerances(
    client: httpx.AsyncClient, seed: int, period: str, expected: list[ref.Finding], created: Any
) -> None:
    """The audit with tolerances: what it shows, what it holds back (and by which rule) and
    its summary agree with the reference's precedence and limits."""
    rng = random.Random(f"tolerances-{seed}")
    rules = []
    for body in tolerance_bodies(rng, expected, created.customer_ids):
        made = await post(client, "tolerances", body)
        rules.append(
            ref.Tolerance(
                made["id"],
                body.get("type"),
                body.get("customer_id"),
                body.get("service_id"),
                to_fraction(body.get("max_units")),
                to_fraction(body.get("max_percent")),
                None if "max_impact" not in body else Decimal(body["max_impact"]),
            )
        )
    shown, held = ref.apply_tolerances(expected, rules)
    response = await client.post(f"{API}/audits", json={"period": period})
    assert response.status_code == 201, response.text
    audit = response.json()
    actual = await all_findings(client, audit["id"])
    assert actual_keys(actual) == expected_keys(shown), diff(
        expected_keys(shown), actual_keys(actual)
    )
    suppressed = await all_suppressed(client, audit["id"])
    want = Counter((*next(iter(expected_keys([f]))), rule) for f, rule in held)
    got = Counter((*next(iter(actual_keys([f]))), f["tolerance_id"]) for f in suppressed)
    assert got == want, (seed, diff(want, got))
    summary = audit["summary"]
    assert summary["count"] == len(shown)
    assert summary["suppressed"] == {
        "count": len(held),
        "impact": f"{sum((f.impact for f, _ in held), Decimal(0)):.2f}",
    }


# ---------------------------------------------------------------------------- comparison

UNMAPPED = {"UNMAPPED_SKU", "UNMAPPED_ACCOUNT"}
# Types whose expected/actual quantities the reference defines (the pair's contracted units
# against vendor or deployed units; the raised lines' units for PRICE_INCREASE).
WITH_QUANTITIES = {
    "ORPHANED_COST",
    "UNBILLED_UNITS",
    "OVERBILLED_UNITS",
    "NEGATIVE_MARGIN",
    "UNBILLED_ASSETS",
    "PRICE_INCREASE",
}
PER_INVOICE = {"PRICE_INCREASE", "INVOICE_TOTAL_MISMATCH", *UNMAPPED}


def key_of(
    type_: str,
    customer_id: int | None,
    service_id: int | None,
    vendor_id: int | None,
    vendor_invoice_id: int | None,
    vendor_sku: str | None,
    account_ref: str | None,
    impact: Decimal,
) -> tuple[Any, ...]:
    return (
        type_,
        customer_id,
        service_id,
        vendor_id,
        vendor_invoice_id if type_ in PER_INVOICE else None,
        vendor_sku if type_ in UNMAPPED else None,
        account_ref if type_ in UNMAPPED else None,
        impact,
    )


def expected_keys(findings: list[ref.Finding]) -> Counter[tuple[Any, ...]]:
    return Counter(
        key_of(
            f.type,
            f.customer_id,
            f.service_id,
            f.vendor_id,
            f.vendor_invoice_id,
            f.vendor_sku,
            f.account_ref,
            f.impact,
        )
        for f in findings
    )


def actual_keys(findings: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(
        key_of(
            f["type"],
            f["customer_id"],
            f["service_id"],
            f["vendor_id"],
            f["vendor_invoice_id"],
            f["vendor_sku"],
            f["account_ref"],
            Decimal(f["impact"]),
        )
        for f in findings
    )


def diff(expected: Counter[tuple[Any, ...]], actual: Counter[tuple[Any, ...]]) -> str:
    missing = sorted((expected - actual).elements(), key=repr)
    extra = sorted((actual - expected).elements(), key=repr)
    return f"\nonly in the reference: {missing}\nonly in the service: {extra}"


def detail_of(f: ref.Finding) -> tuple[Any, ...]:
    return (
        f.type,
        f.customer_id,
        f.service_id,
        f.vendor_invoice_id if f.type in PER_INVOICE else None,
        f.vendor_invoice_line_id if f.type in UNMAPPED else None,
        f.expected_quantity if f.type in WITH_QUANTITIES else None,
        f.actual_quantity if f.type in WITH_QUANTITIES else None,
    )


def actual_detail(f: dict[str, Any]) -> tuple[Any, ...]:
    return (
        f["type"],
        f["customer_id"],
        f["service_id"],
        f["vendor_invoice_id"] if f["type"] in PER_INVOICE else None,
        f["vendor_invoice_line_id"] if f["type"] in UNMAPPED else None,
        to_fraction(f["expected_quantity"]) if f["type"] in WITH_QUANTITIES else None,
        to_fraction(f["actual_quantity"]) if f["type"] in WITH_QUANTITIES else None,
    )


def same_rounded(exact: Fraction | None, shown: str | None) -> bool:
    """The service shows an exact mean rounded half-up to the places it prints."""
    if exact is None or shown is None:
        return exact is None and shown is None
    places = max(0, -Decimal(shown).as_tuple().exponent)  # type: ignore[operator]
    return places >= 2 and ref.round_half_up(exact, places) == Decimal(shown)


def row_diff(
    world: ref.World,
    period: str,
    customer_id: int,
    rows: dict[int, dict[str, Any]],
    want: ref.CustomerAudit,
) -> str:
    out = [f"customer {customer_id} in {period}"]
    for service_id in sorted(set(rows) ^ set(want.rows)):
        side = "service only" if service_id in rows else "reference only"
        out.append(f"{side}: service {service_id}: {rows.get(service_id) or want.rows[service_id]}")
        for line in world.lines:
            if line.service_id == service_id and ref.customer_of(world, line) == customer_id:
                contract = world.contracts[line.contract_id]
                out.append(f"  line {line} of {contract}")
        for asset in world.assets:
            if asset.service_id == service_id and asset.customer_id == customer_id:
                out.append(f"  asset {asset}")
    return "\n".join(out)


GROUPINGS = [
    ["customer"],
    ["service"],
    ["vendor"],
    ["contract"],
    ["month"],
    ["customer", "month"],
    ["contract", "month"],
    ["service", "vendor"],
]
KEY_FIELD = {
    "customer": "customer_id",
    "contract": "contract_id",
    "service": "service_id",
    "vendor": "vendor_id",
    "month": "month",
}


def figures_of(body: dict[str, Any]) -> ref.Figures:
    return ref.Figures(
        Decimal(body["revenue"]),
        Decimal(body["cost"]),
        Decimal(body["profit"]),
        None if body["margin"] is None else Decimal(body["margin"]),
    )


async def check_profitability(
    client: httpx.AsyncClient, world: ref.World, seed: int, months: list[str]
) -> None:
    """Every grouping on both bases equals the reference's cells, totals and unallocated
    cost over the months, to the cent."""
    for basis in ("contracted", "invoiced"):
        for group_by in GROUPINGS:
            response = await client.get(
                f"{API}/reports/profitability",
                params={
                    "from": months[0],
                    "to": months[-1],
                    "group_by": ",".join(group_by),
                    "basis": basis,
                },
            )
            assert response.status_code == 200, response.text
            report = response.json()
            want = ref.profitability(world, months, group_by, basis)
            context = (seed, basis, group_by)
            assert report["basis"] == basis and report["group_by"] == group_by, context
            got = {
                tuple(row[KEY_FIELD[key]] for key in group_by): figures_of(row)
                for row in report["rows"]
            }
            assert len(got) == len(report["rows"]), (context, "a group twice")
            if got != want.rows:
                wrong = {
                    key: (want.rows.get(key), got.get(key))
                    for key in set(got) | set(want.rows)
                    if got.get(key) != want.rows.get(key)
                }
                raise AssertionError(f"{context}: (reference, service) differ at {wrong}")
            assert figures_of(report["totals"]) == want.totals, context
            assert Decimal(report["unallocated_cost"]) == want.unallocated_cost, context


# ---------------------------------------------------------------------------- the test


def test_generator_covers_the_rules() -> None:
    """The default seeds exercise every finding type and the edge cases worth having."""
    types: Counter[str] = Counter()
    features: Counter[str] = Counter()
    for seed in range(1, 7):
        plan = generate(seed)
        world = local_world(plan)
        month = plan.period
        findings = ref.audit(world, month)
        types.update(f.type for f in findings)
        # The tolerances check_tolerances posts hold some findings back, by either limit,
        # and miss some by a hair.
        bodies = tolerance_bodies(random.Random(f"tolerances-{seed}"), findings, world.customers)
        rules = [
            ref.Tolerance(
                n,
                b.get("type"),
                b.get("customer_id"),
                b.get("service_id"),
                to_fraction(b.get("max_units")),
                to_fraction(b.get("max_percent")),
                None if "max_impact" not in b else Decimal(b["max_impact"]),
            )
            for n, b in enumerate(bodies, start=1)
        ]
        _shown, held = ref.apply_tolerances(findings, rules)
        by_rule = {r.id: r for r in rules}
        features.update(
            "held by max_impact" if by_rule[r].max_impact is not None else "held by unit limits"
            for _f, r in held
        )
        for f in findings:
            rule = ref.deciding_tolerance(f, rules)
            if rule is not None and rule.max_units is not None and not ref.tolerance_holds(rule, f):
                features["unit limit missed"] += 1
        features.update(
            "previous cost" if f.previous_unit_cost is not None else "no previous cost"
            for f in findings
            if f.type == "PRICE_INCREASE"
        )
        for ln in plan.lines:
            days = [day for day, _ in ln.adjustments]
            features["same-date adjustments"] += len(days) != len(set(days))
            features["line dates"] += ln.start is not None or ln.end is not None
        for k in plan.contracts:
            features["cancelled"] += k.cancel_on is not None
            features["cancelled before start"] += k.cancel_on == k.start - timedelta(days=1)
            features["starts mid-month"] += ref.first_day(month) < k.start <= ref.last_day(month)
        invoiced = {inv.vendor_id for inv in world.vendor_invoices if inv.period == month}
        features["vendor without an invoice for M"] += len(invoiced) < len(plan.vendors)
        for pair in ref.pairs(world, month).values():
            dates = {m.invoice.id: m.invoice.invoice_date for m in pair.vendor_lines}
            if len(dates) > 1:
                tie = len(set(dates.values())) < len(dates)
                features["duplicate on one date" if tie else "duplicate"] += 1
            features["matched credit"] += any(m.line.quantity < 0 for m in pair.vendor_lines)
        lines_per_pair = Counter(
            (ref.customer_of(world, line), line.service_id) for line in world.lines
        )
        features["several lines for one customer and service"] += max(lines_per_pair.values()) > 1
        features.update(ci.status for ci in plan.customer_invoices)
        for f in findings:
            features["impact 0.01"] += f.impact == Decimal("0.01")
        months = [add_months(month, -1), month, add_months(month, 1)]
        for split in (split for m in months for split in ref.vendor_cost_splits(world, m)):
            weights = [units for _, units, _ in split.lines]
            features["cost with no contracted units"] += not split.lines
            features["cost split over lines"] += len(split.lines) > 1
            features["split tie to the earliest line"] += ref.split_tie_decides(split.cost, weights)
            by_contract: dict[int, Fraction] = {}
            for line, units, _ in split.lines:
                by_contract[line.contract_id] = (
                    by_contract.get(line.contract_id, Fraction(0)) + units
                )
            per_line: dict[int, Decimal] = {}
            for line, _, share in split.lines:
                per_line[line.contract_id] = per_line.get(line.contract_id, Decimal(0)) + share
            per_contract = (
                ref.split_cents(split.cost, list(by_contract.values())) if weights else []
            )
            features["split by lines, not by contracts"] += per_contract != list(per_line.values())
        features["unallocated cost"] += ref.unallocated_cost(world, months) != 0
        for basis in ("contracted", "invoiced"):
            rows = ref.profitability(world, months, ["customer"], basis).rows.values()
            features[f"{basis}: cost and no revenue"] += any(
                r.revenue == 0 and r.cost != 0 for r in rows
            )
            features[f"{basis}: negative margin"] += any(
                r.margin is not None and r.margin < 0 for r in rows
            )
        features["invoice line without a service"] += any(
            s is None for ci in plan.customer_invoices for s, _, _ in ci.lines
        )
        if REAL_BILLS:  # docs/vendor-bills.md
            for f in findings:
                metered = f.service_id is not None and world.services[f.service_id].metered
                features[f"{'metered' if metered else 'per-unit'} {f.type}"] += 1
            for inv in world.vendor_invoices:
                for vl in inv.lines:
                    features[vl.kind] += 1
                    if vl.charge_start is None or vl.charge_end is None:
                        continue
                    span = ref.share(vl.charge_start, vl.charge_end)
                    features["annual" if span == 12 else "charge period"] += 1
                    features["arrears"] += vl.charge_end < ref.first_day(inv.period)
                    features["credit with dates"] += vl.quantity < 0
    assert set(types) == {
        "ORPHANED_COST",
        "UNBILLED_UNITS",
        "OVERBILLED_UNITS",
        "PRICE_INCREASE",
        "NEGATIVE_MARGIN",
        "UNMAPPED_SKU",
        "UNMAPPED_ACCOUNT",
        "DUPLICATE_CHARGE",
        "INVOICE_TOTAL_MISMATCH",
        "MISSING_BILLING",
        "UNBILLED_ASSETS",
    }, types
    wanted = {
        "held by max_impact",
        "held by unit limits",
        "unit limit missed",
        "previous cost",
        "no previous cost",
        "same-date adjustments",
        "line dates",
        "cancelled",
        "cancelled before start",
        "starts mid-month",
        "vendor without an invoice for M",
        "duplicate",
        "duplicate on one date",
        "matched credit",
        "several lines for one customer and service",
        "posted",
        "draft",
        "void",
        "impact 0.01",
        "cost with no contracted units",
        "cost split over lines",
        "split tie to the earliest line",
        "split by lines, not by contracts",
        "unallocated cost",
        "contracted: cost and no revenue",
        "contracted: negative margin",
        "invoiced: cost and no revenue",
        "invoiced: negative margin",
        "invoice line without a service",
    }
    if REAL_BILLS:
        wanted |= {
            "metered ORPHANED_COST",
            "metered NEGATIVE_MARGIN",
            "per-unit DUPLICATE_CHARGE",
            "usage",
            "one_time",
            "adjustment",
            "annual",
            "charge period",
            "arrears",
            "credit with dates",
        }
    assert all(features[name] > 0 for name in wanted), features


@pytest.mark.parametrize("seed", SEEDS)
async def test_audit_agrees_with_reference(client: httpx.AsyncClient, seed: int) -> None:
    plan = generate(seed)
    created = await create_all(client, plan)
    world = created.world
    period = plan.period

    expected = ref.audit(world, period)
    response = await client.post(f"{API}/audits", json={"period": period})
    assert response.status_code == 201, response.text
    audit_body = response.json()
    actual = await all_findings(client, audit_body["id"])
    assert actual_keys(actual) == expected_keys(expected), diff(
        expected_keys(expected), actual_keys(actual)
    )

    # The numbers each finding carries.
    assert Counter(actual_detail(f) for f in actual) == Counter(detail_of(f) for f in expected), (
        diff(Counter(detail_of(f) for f in expected), Counter(actual_detail(f) for f in actual))
    )
    previous = {
        (f.vendor_invoice_id, f.service_id): f.previous_unit_cost
        for f in expected
        if f.type == "PRICE_INCREASE"
    }
    for item in actual:
        if item["type"] == "PRICE_INCREASE":
            exact = previous[(item["vendor_invoice_id"], item["service_id"])]
            assert same_rounded(exact, item["previous_unit_cost"]), (item, exact)

    # The summary.
    summary = audit_body["summary"]
    assert summary["count"] == len(expected)
    assert Decimal(summary["total_impact"]) == sum((f.impact for f in expected), Decimal(0))
    by_type: dict[str, list[Decimal]] = {}
    for f in expected:
        by_type.setdefault(f.type, []).append(f.impact)
    assert {t: (v["count"], Decimal(v["impact"])) for t, v in summary["by_type"].items()} == {
        t: (len(v), sum(v, Decimal(0))) for t, v in by_type.items()
    }

    # With a vendor filter.
    for vendor_id in created.vendor_ids:
        response = await client.post(
            f"{API}/audits", json={"period": period, "vendor_id": vendor_id}
        )
        assert response.status_code == 201, response.text
        mine = await all_findings(client, response.json()["id"])
        want = expected_keys(ref.audit(world, period, vendor_id))
        assert actual_keys(mine) == want, diff(want, actual_keys(mine))

    # The customer audit report.
    for customer_id in created.customer_ids:
        response = await client.get(
            f"{API}/reports/customer-audit", params={"customer_id": customer_id, "period": period}
        )
        assert response.status_code == 200, response.text
        report = response.json()
        want_report = ref.customer_audit(world, customer_id, period)
        rows = {row["service_id"]: row for row in report["rows"]}
        assert set(rows) == set(want_report.rows), row_diff(
            world, period, customer_id, rows, want_report
        )
        for service_id, want_row in want_report.rows.items():
            row = rows[service_id]
            context = (seed, customer_id, service_id, row, want_row)
            assert to_fraction(row["contracted_units"]) == want_row.contracted_units, context
            assert to_fraction(row["vendor_units"]) == want_row.vendor_units, context
            assert to_fraction(row["deployed_units"]) == want_row.deployed_units, context
            assert to_fraction(row["invoiced_units"]) == want_row.invoiced_units, context
            assert same_rounded(want_row.contract_unit_price, row["contract_unit_price"]), context
            assert same_rounded(want_row.vendor_mean_unit_cost, row["vendor_mean_unit_cost"]), (
                context
            )
            assert Decimal(row["revenue"]) == want_row.revenue, context
            assert Decimal(row["cost"]) == want_row.cost, context
            assert Decimal(row["profit"]) == want_row.profit, context
            assert (None if row["margin"] is None else Decimal(row["margin"])) == want_row.margin, (
                context
            )
            assert set(row["finding_types"]) == want_row.finding_types, context
        assert Decimal(report["revenue"]) == want_report.revenue
        assert Decimal(report["cost"]) == want_report.cost
        assert Decimal(report["profit"]) == want_report.profit
        assert (
            None if report["margin"] is None else Decimal(report["margin"])
        ) == want_report.margin
        assert set(report["finding_types"]) == want_report.finding_types

    # Contract schedules around the month.
    months = [add_months(period, -1), period, add_months(period, 1)]
    for contract_id in created.contract_ids[:: max(1, len(created.contract_ids) // 4)]:
        response = await client.get(
            f"{API}/contracts/{contract_id}/schedule", params={"from": months[0], "to": months[-1]}
        )
        assert response.status_code == 200, response.text
        got = {
            (e["line_id"], e["month"]): (
                to_fraction(e["units"]),
                e["active_days"],
                Decimal(e["revenue"]),
            )
            for e in response.json()["lines"]
        }
        expected_schedule = {
            (e.line_id, e.month): (e.units, e.active_days, e.revenue)
            for e in ref.schedule(world, contract_id, months)
        }
        assert got == expected_schedule, (seed, contract_id)

    # Profitability over M-1..M+1, after a billing run drafted M+1's invoices from the
    # contracts (invoice lines that name their contract line).
    response = await client.post(f"{API}/billing-runs", json={"period": months[-1]})
    assert response.status_code == 201, response.text
    ref.billing_run(world, months[-1])
    await check_profitability(client, world, seed, months)

    # Last, as rules change every later audit: tolerances.
    await check_tolerances(client, seed, period, expected, created)
