"""Seeded generator of realistic MSP data (issue 6): vendors and their catalog, customers
with vendor accounts, contracts with lines, adjustments and cancellations, deployed
assets, a year of vendor invoices and the customer invoices recorded from the PSA.

The data is built in memory as rows keyed by table name (ids assigned here, so rows can
refer to each other without a round trip), with the leaks an audit exists to find sown
in at realistic rates: cancelled customers still charged, price rises, units nobody
bills, unmapped SKUs and accounts, duplicate charges, totals that do not add up,
customers nobody invoiced. The vendor invoices are billed as distributors bill
(docs/vendor-bills.md, `_RealBills`): anniversary terms, prorated pairs, credits, annual
prepaid lines, usage of a metered service, one-time fees, rebates, lines billed again.
"""

from __future__ import annotations

import base64
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from app.contracts.arithmetic import Adjustment, LineTerms, MonthRange
from app.core.money import from_cents, round_half_up
from app.core.periods import Period, share
from bench.figures import RangeFigures, range_figures

Row = dict[str, Any]
ZERO = Decimal(0)
LAST_MONTH = Period(2025, 12)
CREATED = date(2025, 1, 1)


@dataclass(frozen=True)
class Size:
    name: str
    customers: int
    contract_lines: int
    months: int
    vendor_lines_per_month: int
    assets: int


SIZES = {
    "S": Size("S", customers=100, contract_lines=400, months=3, vendor_lines_per_month=400,
              assets=200),
    "M": Size("M", customers=1_000, contract_lines=4_000, months=12,
              vendor_lines_per_month=4_000, assets=2_000),
    "L": Size("L", customers=5_000, contract_lines=20_000, months=12,
              vendor_lines_per_month=20_000, assets=10_000),
}  # fmt: skip


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    name: str
    unit: str
    price: str
    cost: str
    vendor: int | None  # index into VENDORS, None for in-house work
    vendor_sku: str | None
    device: bool = False  # deployed as assets
    metered: bool = False  # the vendor bills consumption (usage lines)


VENDORS = [("Pax8", "PAX"), ("Ingram Micro", "IM"), ("TD SYNNEX", "TDS"), ("Sophos", "SOP")]

# sku | name | unit | list price | standard cost | vendor (index into VENDORS, - for
# in-house work) | vendor sku | flags (d: deployed as assets; m: metered, billed by the
# vendor in usage lines, docs/vendor-bills.md#metered-services)
_CATALOG_TABLE = """
M365-BB    | Microsoft 365 Business Basic      | user   | 7.20   | 6.00   | 0 | CFQ7TTC0LH18 |
M365-BS    | Microsoft 365 Business Standard   | user   | 15.00  | 12.50  | 0 | CFQ7TTC0LDPB |
M365-BP    | Microsoft 365 Business Premium    | user   | 26.40  | 22.00  | 0 | CFQ7TTC0LCHC |
EXO-P1     | Exchange Online Plan 1            | user   | 4.80   | 4.00   | 0 | CFQ7TTC0LH16 |
DEF-EP     | Defender for Endpoint P1          | user   | 3.60   | 3.00   | 0 | CFQ7TTC0LGZW |
TEAMS-PH   | Teams Phone Standard              | user   | 9.60   | 8.00   | 0 | CFQ7TTC0J1FV |
ENTRA-P1   | Entra ID P1                       | user   | 7.20   | 6.00   | 0 | CFQ7TTC0LFLX |
PAX-INTUNE | Intune Plan 1                     | user   | 9.60   | 8.00   | 0 | CFQ7TTC0LCHB |
ACR-BKP    | Acronis Cyber Backup              | GB     | 0.0900 | 0.0625 | 1 | ACR-CP-GB    |
VEEAM-365  | Veeam Backup for Microsoft 365    | user   | 3.50   | 2.10   | 1 | V-VBO365     |
AZ-VM      | Azure VM B2s                      | device | 45.00  | 38.40  | 1 | AZ-B2S       |
DATTO-RMM  | Datto RMM agent                   | device | 4.00   | 2.75   | 1 | DRMM-AGT     | d
KEEPER     | Keeper Business                   | user   | 4.50   | 3.75   | 1 | KPR-BIZ      |
WASABI     | Wasabi hot storage                | GB     | 0.0085 | 0.0059 | 1 | WAS-HOT-GB   | m
ESET-EP    | ESET Endpoint Protection          | device | 3.20   | 2.20   | 2 | ESET-EPA     | d
S1-CORE    | SentinelOne Core                  | device | 5.50   | 3.90   | 2 | S1-CORE-AGT  | d
HUNTRESS   | Huntress Managed EDR              | device | 3.50   | 2.50   | 2 | HNT-EDR      | d
KNOWBE4    | KnowBe4 Security Awareness        | user   | 2.40   | 1.60   | 2 | KB4-DIA      |
DUO-MFA    | Duo MFA                           | user   | 3.60   | 3.00   | 2 | DUO-ESS      |
MIMECAST   | Mimecast Email Security           | user   | 4.20   | 3.10   | 2 | MC-ESP       |
SOP-IX     | Sophos Intercept X Advanced       | device | 4.75   | 3.25   | 3 | CIXA         | d
SOP-EMAIL  | Sophos Central Email              | user   | 2.90   | 2.05   | 3 | CEMA         |
SOP-XGS    | Sophos XGS firewall subscription  | device | 39.00  | 29.50  | 3 | XGS-XPROT    | d
SOP-MDR    | Sophos MDR Complete               | device | 9.50   | 7.40   | 3 | MDR-COMP     | d
SOP-ZTNA   | Sophos ZTNA                       | user   | 3.00   | 2.25   | 3 | ZTNA-USR     |
MWS        | Managed workstation               | device | 55.00  | 31.00  | - | -            | d
MSRV       | Managed server                    | device | 150.00 | 82.00  | - | -            | d
HELPDESK   | Helpdesk block                    | hour   | 95.00  | 48.00  | - | -            |
VCIO       | vCIO advisory                     | user   | 12.00  | 5.50   | - | -            |
NETMON     | Network monitoring                | device | 8.00   | 2.40   | - | -            | d
ONSITE     | On-site visits                    | hour   | 120.00 | 65.00  | - | -            |
"""


def _catalog() -> list[CatalogItem]:
    items = []
    for row in _CATALOG_TABLE.strip().splitlines():
        sku, name, unit, price, cost, vendor, vendor_sku, flags = (
            cell.strip() for cell in row.split("|")
        )
        items.append(
            CatalogItem(
                sku,
                name,
                unit,
                price,
                cost,
                None if vendor == "-" else int(vendor),
                None if vendor_sku == "-" else vendor_sku,
                device="d" in flags,
                metered="m" in flags,
            )
        )
    return items


CATALOG = _catalog()

COMPANY_WORDS = (
    "Alpen Apex Beta Birch Cedar Delta Elbe Falcon Granite Harbor Iris Juniper Kestrel "
    "Linden Maple Nordic Orion Pioneer Quartz Rhein Summit Tundra Unity Vertex Willow Zenit"
).split()
COMPANY_KINDS = (
    "Dental Logistics Legal Bakery Architects Clinic Motors Consulting Foods Print Tax "
    "Engineering Realty Travel Textiles Pharma Studios Robotics Veterinary Insurance"
).split()
COMPANY_FORMS = ["GmbH", "AG", "LLC", "Inc.", "Ltd", "KG", "& Partner", "SARL", "BV", "Co."]


@dataclass
class Dataset:
    """Rows per table, in insertion order, and facts the benchmark needs about them."""

    size: Size
    seed: int
    months: list[Period]
    tables: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    vendor_secrets: dict[int, str] = field(default_factory=dict)
    # (vendor_id, vendor_sku, account_ref, unit_cost) samples for a vendor's webhook ingest.
    ingest_pool: dict[int, list[tuple[str, str, Decimal]]] = field(default_factory=dict)

    @property
    def audit_period(self) -> Period:
        """The month audited: the second-latest, so the one before it exists (price rises
        name the previous month's mean cost) and customer invoices are recorded for it."""
        return self.months[-2] if len(self.months) > 1 else self.months[-1]

    @property
    def billing_period(self) -> Period:
        """The latest month: no customer invoices recorded yet, so a billing run drafts
        one for every customer with revenue."""
        return self.months[-1]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def _money(value: Decimal, places: int = 2) -> Decimal:
    return round_half_up(value, places)


def _day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _quantity(rng: random.Random, item: CatalogItem) -> Decimal:
    if item.unit == "GB":
        return Decimal(rng.randint(50, 20_000)) + Decimal(rng.randint(0, 9)) / 10
    if item.unit == "hour":
        return Decimal(rng.choice([2, 4, 5, 8, 10, 16, 20])) + Decimal(rng.choice([0, 5])) / 10
    if item.unit == "device" and Decimal(item.price) >= 39:
        return Decimal(rng.randint(1, 6))
    # Seats: most small businesses have a handful, a few have hundreds.
    return Decimal(max(1, int(rng.lognormvariate(2.3, 0.9))))


def generate(size: Size, seed: int = 42) -> Dataset:
    rng = random.Random(seed)
    months: list[Period] = []
    current = LAST_MONTH
    for _ in range(size.months):
        months.append(current)
        current = current.previous()
    months.reverse()
    data = Dataset(size=size, seed=seed, months=months)
    t = data.tables
    first_day, last_day = months[0].first_day, months[-1].last_day
    now = date(2026, 1, 5)

    # Vendors and the catalog.
    for vendor_id, (name, _prefix) in enumerate(VENDORS, start=1):
        secret = "whsec_" + base64.b64encode(rng.randbytes(32)).decode()
        data.vendor_secrets[vendor_id] = secret
        t["vendor"].append(
            {"id": vendor_id, "name": name, "currency": "USD", "webhook_secret": secret}
        )
    services: dict[int, CatalogItem] = {}
    for service_id, item in enumerate(CATALOG, start=1):
        services[service_id] = item
        t["service"].append(
            {
                "id": service_id,
                "name": item.name,
                "sku": item.sku,
                "unit": item.unit,
                "unit_price": Decimal(item.price),
                "unit_cost": Decimal(item.cost),
                "vendor_id": None if item.vendor is None else item.vendor + 1,
                "vendor_sku": item.vendor_sku,
                "revenue_account": "4100 Managed Services"
                if item.vendor is None
                else "4200 Cloud Resale",
                "active": True,
                "metered": item.metered,
            }
        )
    vendor_service_ids = [s for s, item in services.items() if item.vendor is not None]
    device_service_ids = [s for s, item in services.items() if item.device]
    _price_book(data, services)

    # Customers and how each vendor names them (a few accounts never mapped).
    account_refs: dict[tuple[int, int], str] = {}
    for customer_id in range(1, size.customers + 1):
        name = (
            f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} "
            f"{rng.choice(COMPANY_FORMS)} {customer_id:05d}"
        )
        t["customer"].append(
            {
                "id": customer_id,
                "name": name,
                "external_ref": f"PSA-{customer_id:06d}",
                "active": True,
            }
        )
        for vendor_id, (_name, prefix) in enumerate(VENDORS, start=1):
            ref = f"{prefix}-{customer_id * 7919 % 1_000_003:07d}"
            account_refs[(customer_id, vendor_id)] = ref
            if rng.random() < 0.985:
                t["vendor_account"].append(
                    {
                        "id": len(t["vendor_account"]) + 1,
                        "customer_id": customer_id,
                        "vendor_id": vendor_id,
                        "account_ref": ref,
                    }
                )

    # Contracts: one or two per customer, some cancelled during the year, some fixed-term;
    # lines spread over them, a few starting mid-month, many adjusted over time.
    lines_left = size.contract_lines
    terms: list[LineTerms] = []
    for customer_id in range(1, size.customers + 1):
        remaining_customers = size.customers - customer_id + 1
        share = lines_left // remaining_customers
        n_lines = max(1, min(lines_left - (remaining_customers - 1), share + rng.randint(-2, 2)))
        n_lines = max(1, min(n_lines, len(services)))
        lines_left -= n_lines
        n_contracts = 2 if n_lines >= 4 and rng.random() < 0.4 else 1
        chosen = rng.sample(list(services), n_lines)
        for index in range(n_contracts):
            contract_id = len(t["contract"]) + 1
            start = _day_between(rng, date(2022, 1, 1), months[-1].first_day - timedelta(days=20))
            if rng.random() < 0.7:
                start = start.replace(day=1)
            end: date | None = None
            status = "active"
            roll = rng.random()
            if roll < 0.06 and start < first_day + timedelta(days=60):
                end = _day_between(rng, max(start, first_day), last_day - timedelta(days=15))
                status = "cancelled"
            elif roll < 0.14:
                end = date(start.year + 3, start.month, 1) - timedelta(days=1)
            t["contract"].append(
                {
                    "id": contract_id,
                    "customer_id": customer_id,
                    "name": f"Managed services {index + 1}",
                    "external_ref": f"CTR-{contract_id:06d}",
                    "start_date": start,
                    "end_date": end,
                    "status": status,
                }
            )
            for service_id in chosen[index::n_contracts]:
                item = services[service_id]
                line_id = len(t["contract_line"]) + 1
                quantity = _quantity(rng, item)
                price = Decimal(item.price)
                if rng.random() < 0.25:  # a negotiated discount
                    price = _money(price * Decimal(rng.choice(["0.9", "0.95", "0.85"])), 4)
                line_start: date | None = None
                line_end: date | None = None
                if rng.random() < 0.15:
                    line_start = _day_between(rng, start, last_day - timedelta(days=30))
                if rng.random() < 0.04:
                    line_end = _day_between(rng, first_day, last_day)
                t["contract_line"].append(
                    {
                        "id": line_id,
                        "contract_id": contract_id,
                        "service_id": service_id,
                        "quantity": quantity,
                        "unit_price": price,
                        "start_date": line_start,
                        "end_date": line_end,
                        "description": None,
                    }
                )
                adjustments: list[Adjustment] = []
                if rng.random() < 0.35:
                    q = quantity
                    for _ in range(rng.randint(1, 3)):
                        when = _day_between(rng, first_day, last_day)
                        step = Decimal(rng.randint(-3, 5))
                        if item.unit == "GB":
                            step *= 250
                        q = max(ZERO, q + step)
                        adjustment_id = len(t["contract_line_adjustment"]) + 1
                        t["contract_line_adjustment"].append(
                            {
                                "id": adjustment_id,
                                "line_id": line_id,
                                "effective_date": when,
                                "quantity": q,
                                "note": None,
                            }
                        )
                        adjustments.append(Adjustment(when, q, adjustment_id))
                terms.append(
                    LineTerms(
                        line_id=line_id,
                        service_id=service_id,
                        customer_id=customer_id,
                        contract_id=contract_id,
                        quantity=quantity,
                        unit_price=price,
                        line_start=line_start,
                        line_end=line_end,
                        contract_start=start,
                        contract_end=end,
                        adjustments=tuple(adjustments),
                    )
                )

    # Month figures of every line, by the app's own arithmetic.
    month_range = MonthRange.of(months[0], months[-1])
    figures = {line.line_id: range_figures(line, month_range, line.unit_price) for line in terms}

    # Assets: devices deployed at customers that buy a device service (some never billed).
    device_lines = [line for line in terms if line.service_id in device_service_ids]
    for asset_id in range(1, size.assets + 1):
        if device_lines and rng.random() < 0.93:
            line = rng.choice(device_lines)
            customer_id, service_id = line.customer_id, line.service_id
            installed = _day_between(rng, max(line.start, date(2023, 1, 1)), last_day)
        else:
            customer_id = rng.randint(1, size.customers)
            service_id = rng.choice(device_service_ids)
            installed = _day_between(rng, date(2023, 1, 1), last_day)
        removed = (
            _day_between(rng, installed + timedelta(days=1), now) if rng.random() < 0.1 else None
        )
        t["asset"].append(
            {
                "id": asset_id,
                "customer_id": customer_id,
                "service_id": service_id,
                "name": f"WS-{customer_id:05d}-{asset_id:06d}",
                "serial": f"SN{rng.randrange(16**10):010X}",
                "external_ref": f"CI-{asset_id:07d}",
                "installed_on": installed,
                "removed_on": removed,
            }
        )

    _vendor_invoices(data, rng, terms, figures, services, account_refs, vendor_service_ids)
    _customer_invoices(data, rng, terms, figures, services)
    return data


def _price_book(data: Dataset, services: dict[int, CatalogItem]) -> None:
    """A few price-book entries (docs/price-book.md), drawn from no random generator so the
    rest of the data stays as it was: the first per-unit vendor service 0.05 cheaper from
    the 15th of the audited month (lines charged from that day on, anniversary bills, rise
    against it; earlier ones keep the catalog's standard), the second 0.000001 cheaper
    from the first month (rises that round to nothing unless summed), and the first
    in-house service at a 6-place cost from the 10th of the middle month (in-house cost
    changes from the month after)."""
    per_unit = [s for s, item in services.items() if item.vendor is not None and not item.metered]
    in_house = [s for s, item in services.items() if item.vendor is None]
    audited, middle = data.audit_period, data.months[len(data.months) // 2]
    entries = [
        (per_unit[0], audited.first_day + timedelta(days=14), Decimal("-0.05")),
        (per_unit[1], data.months[0].first_day, Decimal("-0.000001")),
        (in_house[0], middle.first_day + timedelta(days=9), Decimal("1.123456")),
    ]
    for entry_id, (service_id, day, change) in enumerate(entries, start=1):
        data.tables["service_cost"].append(
            {
                "id": entry_id,
                "service_id": service_id,
                "effective_from": day,
                "unit_cost": Decimal(services[service_id].cost) + change,
            }
        )


def _vendor_invoices(
    data: Dataset,
    rng: random.Random,
    terms: list[LineTerms],
    figures: dict[int, RangeFigures],
    services: dict[int, CatalogItem],
    account_refs: dict[tuple[int, int], str],
    vendor_service_ids: list[int],
) -> None:
    """One invoice per vendor and month, the month's lines shared among the vendors, plus
    a small supplementary invoice now and then that charges some seats twice; then the
    month's lines billed as distributors do (`_RealBills`, docs/vendor-bills.md)."""
    size = data.size
    # One vendor raises one price in the second half of the year.
    raised = {sid: Decimal("1.08") for sid in rng.sample(vendor_service_ids, 2)}
    vendor_terms = [line for line in terms if services[line.service_id].vendor is not None]
    # Real bills draw from their own generator, so the plain data (contracts, the plain
    # vendor charges, customer invoices, the ingest pool) stays what it was.
    bills = _RealBills(data, vendor_terms, services, account_refs)
    pool: dict[int, list[tuple[str, str, Decimal]]] = defaultdict(list)
    for index, month in enumerate(data.months):
        charges: list[tuple[int, int, Decimal, Decimal]] = []  # customer, service, qty, cost
        for line in vendor_terms:
            units = figures[line.line_id].units[index]
            item = services[line.service_id]
            cost = Decimal(item.cost)
            if line.service_id in raised and index >= len(data.months) // 2:
                cost = _money(cost * raised[line.service_id], 4)
            if units == 0:
                # Cancelled, but the vendor subscription was never stopped.
                if line.end is not None and line.end < month.first_day and rng.random() < 0.3:
                    units = line.quantity or Decimal(1)
                else:
                    continue
            roll = rng.random()
            if roll < 0.05:
                units += Decimal(rng.randint(1, 4))  # deployed, never billed
            elif roll < 0.08 and units > 1:
                units -= 1  # billed, no longer bought
            charges.append((line.customer_id, line.service_id, units, cost))
        rng.shuffle(charges)
        target = size.vendor_lines_per_month
        unmapped = max(2, target // 200)
        charges = charges[: target - unmapped]
        # Distributors list seats per user or per tenant: split lines until the target.
        while len(charges) < target - unmapped and charges:
            pick = rng.randrange(len(charges))
            customer_id, service_id, units, cost = charges[pick]
            if units < 2:
                charges.append((rng.randint(1, size.customers), service_id, Decimal(1), cost))
                continue
            part = Decimal(rng.randint(1, int(units) - 1))
            charges[pick] = (customer_id, service_id, units - part, cost)
            charges.append((customer_id, service_id, part, cost))
        by_vendor: dict[int, list[Row]] = defaultdict(list)
        for customer_id, service_id, units, cost in charges:
            item = services[service_id]
            assert item.vendor is not None and item.vendor_sku is not None
            vendor_id = item.vendor + 1
            account = account_refs[(customer_id, vendor_id)]
            by_vendor[vendor_id].append(
                {
                    "vendor_sku": item.vendor_sku,
                    "account_ref": account,
                    "description": f"{item.name} {month}",
                    "quantity": units,
                    "unit_cost": cost,
                    "amount": _money(units * cost),
                    _PAIR: (customer_id, service_id),
                }
            )
            if len(pool[vendor_id]) < 50_000:
                pool[vendor_id].append((item.vendor_sku, account, cost))
        for n in range(unmapped):
            vendor_id = rng.randint(1, len(VENDORS))
            sku = f"NEW-SKU-{n % 7}" if n % 2 else rng.choice(vendor_skus_of(services, vendor_id))
            account = (
                f"UNKNOWN-{rng.randint(1, 99):04d}"
                if n % 2 == 0
                else account_refs[(rng.randint(1, size.customers), vendor_id)]
            )
            quantity = Decimal(rng.randint(1, 20))
            cost = Decimal("3.1500")
            by_vendor[vendor_id].append(
                {
                    "vendor_sku": sku,
                    "account_ref": account,
                    "description": "unmapped",
                    "quantity": quantity,
                    "unit_cost": cost,
                    "amount": _money(quantity * cost),
                }
            )
        invoice_date = month.next().first_day + timedelta(days=2)
        for vendor_id, plain in sorted(by_vendor.items()):
            prefix = VENDORS[vendor_id - 1][1]
            mismatch = Decimal("0.37") if vendor_id == 2 and index % 3 == 0 else ZERO
            supplementary = vendor_id == 1 and index % 4 == 1
            # Drawn from the plain lines, as before real bills, so `rng` runs as it did.
            picked = rng.sample(range(len(plain)), min(20, len(plain))) if supplementary else []
            billed = bills.bill(index, vendor_id, plain)
            lines = [line for rows in billed for line in rows] + bills.extras(index, vendor_id)
            _add_invoice(data, vendor_id, f"{prefix}-{month}-0001", invoice_date, month,
                         lines, mismatch)  # fmt: skip
            if supplementary:
                # A supplementary invoice charging a few seats a second time.
                again = [dict(line) for i in picked for line in billed[i]]
                _add_invoice(data, vendor_id, f"{prefix}-{month}-0002",
                             invoice_date + timedelta(days=9), month, again, ZERO)  # fmt: skip
    data.ingest_pool = dict(pool)


# A generated line's (customer, service), kept while the month's lines are billed; not a
# column (dropped by _add_invoice).
_PAIR = "_pair"
ONE_TIME_FEES = ["25.00", "49.00", "75.00", "99.50", "150.00", "240.00"]


class _RealBills:
    """The month's plain lines billed as distributors bill them (docs/vendor-bills.md),
    from a generator of its own (seeded from the data set's seed):

    - a metered service (WASABI, GB) billed in usage lines: the GB consumed (0.6 to 1.4
      times the contracted GB, 6 decimals), 12 % of them last month's usage in arrears;
    - 3 % of the (customer, service) pairs of per-unit services prepaid for a year from a
      month of the data set: that month's invoice charges 12 months (quantity x unit_cost
      x 12) and the next months' invoices nothing for them;
    - 5 % of pairs billed on an anniversary day d (2 to 28): each month's lines run from
      day d to day d - 1 of the next month, so every month is covered by two terms on two
      invoices, last month's (to day d - 1) and this month's (in force at its end);
    - of the other lines, 3 % a prorated pair (a quantity for the 1st to the day before a
      change, the line's quantity from that day to the month's end) and 2 % a
      cancellation credit (k more seats for the month, -k from a day to the month's end;
      40 % of the credits on the next month's invoice);
    - per invoice: one-time fees (0.25 % of the lines, at least one: a setup or
      onboarding fee of a pair charged, one in five for a random customer's account; a
      quarter of them for work in the next month), one invoice-level adjustment (a
      rebate, one in five a fee; no SKU, no account), and a few lines of the vendor's
      previous month's invoice billed again identically (0.1 % of the lines, at least
      one).

    Amounts are exact: quantity x unit_cost x share of the charge period rounded half-up
    once (docs/vendor-bills.md#amount), as given for fees and adjustments."""

    def __init__(
        self,
        data: Dataset,
        vendor_terms: list[LineTerms],
        services: dict[int, CatalogItem],
        account_refs: dict[tuple[int, int], str],
    ) -> None:
        self.rng = random.Random(f"real-bills-{data.seed}")
        self.months = data.months
        self.customers = data.size.customers
        self.services = services
        self.account_refs = account_refs
        pairs = sorted(
            {
                (line.customer_id, line.service_id)
                for line in vendor_terms
                if not services[line.service_id].metered
            }
        )
        self.annual: dict[tuple[int, int], int] = {}  # pair -> index of the month bought
        self.anniversary: dict[tuple[int, int], int] = {}  # pair -> day of the month
        for pair in pairs:
            roll = self.rng.random()
            if roll < 0.03:
                self.annual[pair] = self.rng.randrange(len(self.months))
            elif roll < 0.08:
                self.anniversary[pair] = self.rng.randint(2, 28)
        # Lines for the next month's invoice (credits); each vendor's matched lines of
        # last month's invoice and of this month's.
        self.pending: dict[tuple[int, int], list[Row]] = defaultdict(list)
        self.previous: dict[int, list[Row]] = {}
        self.current: dict[int, list[Row]] = {}

    def bill(self, index: int, vendor_id: int, plain: list[Row]) -> list[list[Row]]:
        """Each plain line of the vendor's month as the lines that bill it (none for a
        pair prepaid for the year)."""
        month = self.months[index]
        billed = [self._bill_one(index, vendor_id, month, line) for line in plain]
        self.current[vendor_id] = [
            line for rows in billed for line in rows if line.get(_PAIR) is not None
        ]
        return billed

    def _bill_one(self, index: int, vendor_id: int, month: Period, line: Row) -> list[Row]:
        pair = line.get(_PAIR)
        if pair is None:
            return [line]  # unmapped: as it was
        rng = self.rng
        customer_id, service_id = pair
        first, last = month.first_day, month.last_day
        quantity: Decimal = line["quantity"]
        if self.services[service_id].metered:
            used = round_half_up(quantity * Decimal(rng.randint(600, 1400)) / 1000, 4)
            # Metered to the byte: 6 decimals (docs/vendor-bills.md#precision).
            used += Decimal(rng.randint(0, 99)).scaleb(-6)
            if rng.random() < 0.12:  # last month's usage, billed in arrears
                before = month.previous()
                first, last = before.first_day, before.last_day
            return [_charge(line, first, last, used, kind="usage", description="usage (GB)")]
        ref = f"SUB-{vendor_id}-{customer_id:05d}-{service_id:02d}"
        bought = self.annual.get(pair)
        if bought is not None and index >= bought:
            if index > bought:
                return []  # prepaid on that month's invoice
            end = Period(month.year + 1, month.month).first_day - timedelta(days=1)
            return [_charge(line, first, end, quantity, ref=ref, description="annual term")]
        day = self.anniversary.get(pair)
        if day is not None:
            following = month.next()
            end = following.first_day.replace(day=day) - timedelta(days=1)
            return [_charge(line, first.replace(day=day), end, quantity, ref=ref)]
        roll = rng.random()
        if roll < 0.03 and quantity >= 1:  # a prorated pair: the quantity changed on `day`
            change = first + timedelta(days=rng.randint(1, month.days - 1))
            before_q = max(ZERO, quantity + rng.choice([-3, -2, -1, 1, 2, 4]))
            rows = [_charge(line, change, last, quantity, description="prorated from change")]
            if before_q > 0:
                rows.insert(
                    0,
                    _charge(
                        line,
                        first,
                        change - timedelta(days=1),
                        before_q,
                        description="prorated to change",
                    ),
                )
            return rows
        if roll < 0.05 and quantity >= 1:  # k seats removed on `day`: a credit for the rest
            removed = Decimal(rng.randint(1, 3))
            day_removed = first + timedelta(days=rng.randint(1, month.days - 1))
            credit = _charge(line, day_removed, last, -removed, description="cancellation credit")
            rows = [_charge(line, first, last, quantity + removed)]
            if index + 1 < len(self.months) and rng.random() < 0.4:
                self.pending[(index + 1, vendor_id)].append(credit)  # next month's invoice
            else:
                rows.append(credit)
            return rows
        return [line]

    def extras(self, index: int, vendor_id: int) -> list[Row]:
        """Lines of the vendor's invoice for the month beyond its plain ones (after
        `bill`): last month's credits, lines of last month's invoice billed again,
        one-time fees, a rebate."""
        rng, month = self.rng, self.months[index]
        rows = self.pending.pop((index, vendor_id), [])
        mine = self.current.get(vendor_id, [])
        before = self.previous.get(vendor_id, [])
        if before:  # billed again, identical (DUPLICATE_CHARGE of this month)
            last_month = month.previous()
            count = min(len(before), max(1, len(mine) // 1000))
            for line in rng.sample(before, count):
                again = dict(line)
                again.setdefault("charge_start", last_month.first_day)
                again.setdefault("charge_end", last_month.last_day)
                rows.append(again)
        self.previous[vendor_id] = mine
        skus = vendor_skus_of(self.services, vendor_id)
        for _ in range(max(1, round(len(mine) * 0.0025))):
            if mine and rng.random() < 0.8:
                source = rng.choice(mine)
                sku, account = source["vendor_sku"], source["account_ref"]
            else:  # for a customer who may buy nothing of it
                sku = rng.choice(skus)
                account = self.account_refs[(rng.randint(1, self.customers), vendor_id)]
            quantity = Decimal(rng.choice([1, 1, 1, 2, 5]))
            fee = Decimal(rng.choice(ONE_TIME_FEES))
            day = month.first_day + timedelta(days=rng.randrange(month.days))
            if rng.random() < 0.25:  # for work in the next month
                day = month.next().first_day + timedelta(days=rng.randrange(month.next().days))
            rows.append(
                {
                    "vendor_sku": sku,
                    "account_ref": account,
                    "description": rng.choice(["Setup fee", "Onboarding", "Migration"]),
                    "quantity": quantity,
                    "unit_cost": fee,
                    "amount": quantity * fee,
                    "kind": "one_time",
                    "charge_start": day,
                    "charge_end": day,
                }
            )
        rebate = Decimal(rng.randint(2_500, 90_000)) / 100
        if rng.random() < 0.2:
            label = "Late payment fee"
        else:
            label, rebate = "Partner rebate", -rebate
        rows.append(
            {
                "vendor_sku": "",
                "account_ref": "",
                "description": label,
                "quantity": Decimal(1),
                "unit_cost": rebate,
                "amount": rebate,
                "kind": "adjustment",
            }
        )
        return rows


def _charge(
    line: Row,
    start: date,
    end: date,
    quantity: Decimal,
    *,
    kind: str = "recurring",
    ref: str | None = None,
    description: str | None = None,
) -> Row:
    """`line` for `quantity` over [start, end], its amount quantity x unit_cost (x the
    share of the period for a recurring line) rounded half-up once."""
    amount = Fraction(quantity) * Fraction(line["unit_cost"])
    if kind == "recurring":
        amount *= share(start, end)
    row = dict(line)
    row.update(
        quantity=quantity,
        amount=round_half_up(amount),
        kind=kind,
        charge_start=start,
        charge_end=end,
        subscription_ref=ref,
    )
    if description is not None:
        row["description"] = f"{line['description']} {description}"
    return row


def vendor_skus_of(services: dict[int, CatalogItem], vendor_id: int) -> list[str]:
    return [
        item.vendor_sku
        for item in services.values()
        if item.vendor == vendor_id - 1 and item.vendor_sku is not None
    ]


def _add_invoice(
    data: Dataset,
    vendor_id: int,
    number: str,
    invoice_date: date,
    month: Period,
    lines: list[Row],
    mismatch: Decimal,
) -> None:
    t = data.tables
    invoice_id = len(t["vendor_invoice"]) + 1
    lines_total = sum((line["amount"] for line in lines), ZERO)
    t["vendor_invoice"].append(
        {
            "id": invoice_id,
            "vendor_id": vendor_id,
            "invoice_number": number,
            "invoice_date": invoice_date,
            "period": str(month),
            "currency": "USD",
            "total": lines_total + mismatch,
            # Kept on the invoice at ingestion (migration 0005); bulk loading sets them.
            "line_count": len(lines),
            "lines_total": lines_total,
            "source": "api",
        }
    )
    rows = t["vendor_invoice_line"]
    for line_no, line in enumerate(lines, start=1):
        rows.append(
            {
                "id": len(rows) + 1,
                "invoice_id": invoice_id,
                "vendor_id": vendor_id,
                "period": str(month),
                "line_no": line_no,
                # Unless the line says otherwise: a recurring charge over the invoice's month.
                "kind": "recurring",
                "charge_start": month.first_day,
                "charge_end": month.last_day,
                "subscription_ref": None,
                **{key: value for key, value in line.items() if key != _PAIR},
            }
        )


def _customer_invoices(
    data: Dataset,
    rng: random.Random,
    terms: list[LineTerms],
    figures: dict[int, RangeFigures],
    services: dict[int, CatalogItem],
) -> None:
    """Invoices the PSA issued, recorded here: every month but the latest, for most
    customers (the rest are MISSING_BILLING), one line per contract line with revenue."""
    t = data.tables
    by_customer: dict[int, list[LineTerms]] = defaultdict(list)
    for line in terms:
        by_customer[line.customer_id].append(line)
    for index, month in enumerate(data.months[:-1]):
        for customer_id, lines in by_customer.items():
            billed = []
            for line in lines:
                cents = figures[line.line_id].amounts[0][index]
                if cents:
                    billed.append((line, from_cents(cents)))
            if not billed or rng.random() < 0.04:
                continue
            invoice_id = len(t["customer_invoice"]) + 1
            t["customer_invoice"].append(
                {
                    "id": invoice_id,
                    "customer_id": customer_id,
                    "number": f"INV-{month.year}{month.month:02d}-{customer_id:05d}",
                    "period": str(month),
                    "issue_date": month.last_day,
                    "status": "posted",
                    "origin": "recorded",
                    "billing_run_id": None,
                }
            )
            rows = t["customer_invoice_line"]
            for line_no, (line, amount) in enumerate(billed, start=1):
                units = figures[line.line_id].units[index]
                rows.append(
                    {
                        "id": len(rows) + 1,
                        "invoice_id": invoice_id,
                        "line_no": line_no,
                        "service_id": line.service_id,
                        "contract_line_id": None,
                        "description": services[line.service_id].name,
                        "quantity": units,
                        "unit_price": line.unit_price,
                        "amount": amount,
                    }
                )


def ingest_payload(data: Dataset, *, vendor_id: int, lines: int, number: str) -> dict[str, Any]:
    """A vendor invoice as the vendor's webhook sends it, `lines` lines long, for a month
    after the generated year (so it leaves the audited month alone)."""
    pool = data.ingest_pool[vendor_id]
    rng = random.Random(f"{data.seed}-{number}")
    period = LAST_MONTH.next()
    body_lines = []
    total = ZERO
    for _ in range(lines):
        sku, account, cost = rng.choice(pool)
        quantity = Decimal(rng.randint(1, 40))
        amount = _money(quantity * cost)
        total += amount
        body_lines.append(
            {
                "vendor_sku": sku,
                "account_ref": account,
                "description": "Monthly subscription",
                "quantity": str(quantity),
                "unit_cost": str(cost),
                "amount": str(amount),
            }
        )
    return {
        "invoice_number": number,
        "invoice_date": str(period.next().first_day),
        "period": str(period),
        "currency": "USD",
        "total": str(total),
        "lines": body_lines,
    }
