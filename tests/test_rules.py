"""The audit rules of app/audits/rules.py as pure functions: `AuditData` built by hand, no
database and no HTTP, so these run once, not once per backend.

One table row per rule and per edge. Each row lists every finding `run_rules` must give
for its data (so a row also proves that no other rule fires), worked out by hand in the
comment above it: type, customer, service, vendor, vendor invoice, expected/actual
quantity and unit amount, impact to the cent, severity and the key parts of the message.
The rules themselves are written up in docs/findings.md, and as they read on real vendor
bills in docs/vendor-bills.md ("Month figures", "Rules on real bills").

The vendor side of a (customer, service) is a `PairMonth` (app/vendor_invoices/month.py):
`units` of the recurring lines in force on the month's last day, their monthly amounts
(`whole` for lines charging the whole calendar month, `partial` = amount / share for the
others), and `cost`, the cents the month carries, of which `other_cost` is usage and
one-time. A plain line (kind recurring, charge period the invoice's month) is whole and
costs its amount: `charged()` below builds those, `billed()` the rest.

The audited month is 2026-11 (30 days, last day 2026-11-30; previous month 2026-10).
Unit amounts on a finding are rounded to 4 places half-up; impacts are computed from
exact values and rounded half-up to the cent once.

The catalog used by every row:
  vendors    1 Pax8, 2 Ingram Micro
  customers  1 Acme Ltd, 2 Beta GmbH, 3 Gamma AG
  services   10 Microsoft 365 Business Premium  Pax8    list 22.00  standard cost 18.00
             20 Managed endpoint (EDR)          Pax8    list  8.00  standard cost  4.50
             30 Cloud backup (per GB)           Ingram  list  0.10  standard cost  0.05
             40 Managed workstation             in-house list 45.00  cost 20.00
             50 Azure plan (metered)            Pax8    list  1.00  standard cost  1.00
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

import pytest

from app.audits.data import (
    AuditData,
    ContractPosition,
    InvoiceTotal,
    PriceRise,
    UnmappedLine,
    VendorPosition,
)
from app.audits.models import FindingType, Severity
from app.audits.rules import RULES, Draft, run_rules
from app.core.periods import Period
from app.services.models import Service
from app.vendor_invoices.month import Copy, Duplicate

T = FindingType
NOV = Period(2026, 11)

PAX8, INGRAM = 1, 2
ACME, BETA, GAMMA = 1, 2, 3
M365, EDR, BACKUP, WORKSTATION, AZURE = 10, 20, 30, 40, 50


# --- builders --------------------------------------------------------------------------------


def d(text: str) -> Decimal:
    return Decimal(text)


def _service(
    service_id: int,
    name: str,
    price: str,
    cost: str,
    vendor_id: int | None,
    sku: str,
    metered: bool = False,
) -> Service:
    return Service(
        id=service_id,
        name=name,
        sku=sku,
        unit="seat",
        unit_price=d(price),
        unit_cost=d(cost),
        vendor_id=vendor_id,
        vendor_sku=sku if vendor_id is not None else None,
        metered=metered,
    )


SERVICES = {
    M365: _service(M365, "Microsoft 365 Business Premium", "22.00", "18.00", PAX8, "CFQ7TTC0LCHC"),
    EDR: _service(EDR, "Managed endpoint (EDR)", "8.00", "4.50", PAX8, "EDR-AGENT"),
    BACKUP: _service(BACKUP, "Cloud backup", "0.10", "0.05", INGRAM, "BK-GB"),
    WORKSTATION: _service(WORKSTATION, "Managed workstation", "45.00", "20.00", None, "MWS"),
    AZURE: _service(AZURE, "Azure plan", "1.00", "1.00", PAX8, "AZ-PLAN", metered=True),
}
CUSTOMERS = {ACME: "Acme Ltd", BETA: "Beta GmbH", GAMMA: "Gamma AG"}
VENDORS = {PAX8: "Pax8", INGRAM: "Ingram Micro"}


def contract(*lines: tuple[str, str], revenue: str = "0.00") -> ContractPosition:
    """A (customer, service) position from its lines counted on the month's last day,
    each (units, unit price): the contract unit price is their quantity-weighted mean."""
    units = sum((d(u) for u, _ in lines), Decimal(0))
    weight = sum((d(u) * d(p) for u, p in lines), Decimal(0))
    return ContractPosition(units=units, price_weight=weight, revenue=d(revenue))


def ended(revenue: str = "0.00") -> ContractPosition:
    """Lines in the month, none active on its last day: 0 contracted units."""
    return ContractPosition(revenue=d(revenue))


def cents(amount: str) -> int:
    value = d(amount).scaleb(2)
    assert value == value.to_integral_value(), amount
    return int(value)


def charged(vendor_id: int, units: str, amount: str, lines: int = 1) -> VendorPosition:
    """Plain matched vendor lines of one (customer, service) (recurring, charging the whole
    month): their summed quantity and amount, which is also the month's cost."""
    return VendorPosition(
        vendor_id, d(units), whole=d(amount), line_count=lines, cost=cents(amount)
    )


def billed(
    vendor_id: int,
    units: str = "0",
    *,
    whole: str = "0.00",
    partial: Fraction = Fraction(0),
    lines: int = 0,
    cost: str = "0.00",
    other: str = "0.00",
) -> VendorPosition:
    """Any vendor position: `cost` is everything the month carries, `other` the part of it
    from usage and one-time lines."""
    return VendorPosition(
        vendor_id,
        d(units),
        whole=d(whole),
        partial=partial,
        line_count=lines,
        cost=cents(cost),
        other_cost=cents(other),
    )


def rise(
    invoice_id: int, number: str, vendor_id: int, service_id: int, quantity: str, cost: str
) -> PriceRise:
    """Plain lines above the standard cost (share 1): the weight is the quantity."""
    return PriceRise(
        invoice_id,
        number,
        vendor_id,
        service_id,
        d(quantity),
        Fraction(d(cost)),
        Fraction(d(quantity)),
    )


def copy(invoice_id: int, number: str, day: int, amount: str) -> Copy:
    """A copy of a charge on an invoice of 2026-11 dated 2026-11-`day`."""
    return Copy(invoice_id, number, date(2026, 11, day), "2026-11", d(amount))


def audit(**fields: Any) -> AuditData:
    """AuditData for 2026-11 with the catalog above; `fields` fill in the rest."""
    return AuditData(
        period=NOV,
        vendor_id=fields.pop("vendor_id", None),
        customers=dict(CUSTOMERS),
        services=dict(SERVICES),
        vendors=dict(VENDORS),
        **fields,
    )


class Want(NamedTuple):
    """One expected finding: every field of the draft, and parts of its message."""

    type: FindingType
    impact: str  # compared as text: exactly two places
    severity: Severity
    says: tuple[str, ...]  # each must occur in the message
    customer: int | None = None
    service: int | None = None
    vendor: int | None = None
    invoice: int | None = None
    line: int | None = None
    sku: str | None = None
    account: str | None = None
    expected_qty: str | None = None
    actual_qty: str | None = None
    expected_unit: str | None = None
    actual_unit: str | None = None
    previous_unit: str | None = None


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def wanted(want: Want) -> dict[str, Any]:
    return {
        "type": want.type,
        "impact": want.impact,
        "severity": want.severity,
        "customer_id": want.customer,
        "service_id": want.service,
        "vendor_id": want.vendor,
        "vendor_invoice_id": want.invoice,
        "vendor_invoice_line_id": want.line,
        "vendor_sku": want.sku,
        "account_ref": want.account,
        "expected_quantity": _dec(want.expected_qty),
        "actual_quantity": _dec(want.actual_qty),
        "expected_unit_amount": _dec(want.expected_unit),
        "actual_unit_amount": _dec(want.actual_unit),
        "previous_unit_cost": _dec(want.previous_unit),
    }


def seen(draft: Draft) -> dict[str, Any]:
    return {
        "type": draft.type,
        "impact": str(draft.impact),
        "severity": draft.severity,
        "customer_id": draft.customer_id,
        "service_id": draft.service_id,
        "vendor_id": draft.vendor_id,
        "vendor_invoice_id": draft.vendor_invoice_id,
        "vendor_invoice_line_id": draft.vendor_invoice_line_id,
        "vendor_sku": draft.vendor_sku,
        "account_ref": draft.account_ref,
        "expected_quantity": draft.expected_quantity,
        "actual_quantity": draft.actual_quantity,
        "expected_unit_amount": draft.expected_unit_amount,
        "actual_unit_amount": draft.actual_unit_amount,
        "previous_unit_cost": draft.previous_unit_cost,
    }


def case(case_id: str, inputs: dict[str, Any], *findings: Want) -> Any:
    return pytest.param(inputs, list(findings), id=case_id)


# --- the vendor filter: one data set, audited without and with vendor_id -------------------


def _filter_inputs(vendor_id: int | None) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        # Pax8 still charges Beta's 12 seats (the loader keeps only Pax8's lines when
        # filtering; here Pax8 is the only vendor with lines anyway).
        "vendor_positions": {(BETA, M365): charged(PAX8, "12", "228.00")},
        # Acme: 2 endpoints (Pax8) and 1000 GB of backup (Ingram), neither charged.
        "contracts": {
            (ACME, EDR): contract(("2", "8.00"), revenue="16.00"),
            (ACME, BACKUP): contract(("1000", "0.10"), revenue="100.00"),
        },
        # Both vendors sent an invoice for the month. With vendor_id=1 the loader reads
        # only Pax8's invoices; {1, 2} here proves OVERBILLED_UNITS filters on its own.
        "vendors_invoicing": {PAX8, INGRAM},
        "customer_revenue": {ACME: d("116.00")},  # 16.00 + 100.00, and no invoice
        "deployed": {(ACME, EDR): 3},
    }


# ORPHANED_COST (Beta, M365), the same with or without the filter: 12 seats charged,
# 0 contracted; impact 228.00; mean cost 228.00 / 12 = 19.0000.
_FILTER_ORPHANED = Want(
    T.ORPHANED_COST,
    "228.00",
    Severity.high,
    ("Beta GmbH: Pax8 charged 12 x Microsoft 365 Business Premium (228.00) for 2026-11",),
    customer=BETA,
    service=M365,
    vendor=PAX8,
    expected_qty="0",
    actual_qty="12",
    actual_unit="19.0000",
)
# OVERBILLED_UNITS (Acme, EDR): Pax8 invoiced the month, charged Acme 0 endpoints;
# (2 - 0) x 8.00 = 16.00, medium.
_FILTER_OVERBILLED_EDR = Want(
    T.OVERBILLED_UNITS,
    "16.00",
    Severity.medium,
    ("but Pax8 charged 0; 2 units at 8.00 = 16.00 billed without a vendor seat.",),
    customer=ACME,
    service=EDR,
    vendor=PAX8,
    expected_qty="2",
    actual_qty="0",
    expected_unit="8.0000",
)


CASES = [
    # ---- ORPHANED_COST ----------------------------------------------------------------------
    # Beta has no contract line for M365 at all; Pax8 charges 12 seats for 228.00.
    # ORPHANED_COST high, Beta/M365/Pax8, no invoice: expected 0, actual 12, actual unit
    # 228.00 / 12 = 19.0000; impact 228.00; "(no contract line at the end of the month)".
    case(
        "orphaned-cost/no-contract-line",
        {
            "vendor_positions": {(BETA, M365): charged(PAX8, "12", "228.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.ORPHANED_COST,
            "228.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 12 x Microsoft 365 Business Premium (228.00) for "
                "2026-11, but no active contract covers it "
                "(no contract line at the end of the month).",
            ),
            customer=BETA,
            service=M365,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="12",
            actual_unit="19.0000",
        ),
    ),
    # Beta cancelled: its M365 line ended 2026-10-31 (a position with 0 units); the same
    # charge. Same finding, the message names the end: "(contract ended 2026-10-31)".
    # No OVERBILLED_UNITS: 0 contracted units are never overbilled.
    case(
        "orphaned-cost/cancelled-contract",
        {
            "contracts": {(BETA, M365): ended()},
            "last_contract_end": {(BETA, M365): date(2026, 10, 31)},
            "vendor_positions": {(BETA, M365): charged(PAX8, "12", "228.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.ORPHANED_COST,
            "228.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 12 x Microsoft 365 Business Premium (228.00) for "
                "2026-11, but no active contract covers it (contract ended 2026-10-31).",
            ),
            customer=BETA,
            service=M365,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="12",
            actual_unit="19.0000",
        ),
    ),
    # Impact <= 0.00: Beta's 12 seats charged and credited (0 units, 0.00), and 2 endpoints
    # credited (-2 units, -9.00). Sums of 0.00 and -9.00: no finding.
    case(
        "orphaned-cost/nets-to-zero-or-credit",
        {
            "vendor_positions": {
                (BETA, M365): charged(PAX8, "0", "0.00", lines=2),
                (BETA, EDR): charged(PAX8, "-2", "-9.00"),
            },
            "vendors_invoicing": {PAX8},
        },
    ),
    # A cancellation credit (docs/vendor-bills.md#month-figures): Pax8 charges Beta 10 seats
    # for the whole month (190.00) and credits -10 seats for 11-30 November: share 20/30,
    # amount -190.00 x 20/30 = -126.666... -> -126.67, monthly -126.67 / (2/3) = -190.005.
    # Units on 30 November 10 - 10 = 0; the month carries 190.00 - 126.67 = 63.33, none
    # of it usage or one-time. Units net to 0 and no other cost: no ORPHANED_COST
    # (docs/vendor-bills.md
    # 7: "a cancellation credit clears the month"), and nothing else.
    case(
        "orphaned-cost/cancellation-credit-clears-the-month",
        {
            "vendor_positions": {
                (BETA, M365): billed(
                    PAX8,
                    "0",
                    whole="190.00",
                    partial=Fraction(d("-126.67")) / Fraction(20, 30),
                    lines=2,
                    cost="63.33",
                )
            },
            "vendors_invoicing": {PAX8},
        },
    ),
    # Usage or one-time cost alone, with 0 vendor units (docs/vendor-bills.md#rules-on-real-bills:
    # "or usage/one-time cost
    # in M of the pair != 0"):
    #   (Beta, M365): the cancellation above (units 0, month cost 63.33 of recurring lines)
    #     plus a one-time fee of 5.00: cost 68.33, other 5.00. Impact: no units part (0
    #     units) + 5.00 = 5.00; actual 0, no mean unit cost.
    #   (Beta, EDR): no recurring line, a one-time onboarding fee of 25.00: impact 25.00.
    # Both ORPHANED_COST high, expected 0, actual 0, no unit amounts; ordered by service.
    case(
        "orphaned-cost/other-cost-without-units",
        {
            "vendor_positions": {
                (BETA, EDR): billed(PAX8, cost="25.00", other="25.00"),
                (BETA, M365): billed(
                    PAX8,
                    "0",
                    whole="190.00",
                    partial=Fraction(d("-126.67")) / Fraction(20, 30),
                    lines=2,
                    cost="68.33",
                    other="5.00",
                ),
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.ORPHANED_COST,
            "5.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 5.00 of usage and one-time fees for Microsoft 365 "
                "Business Premium in 2026-11, but no active contract covers it "
                "(no contract line at the end of the month).",
            ),
            customer=BETA,
            service=M365,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="0",
        ),
        Want(
            T.ORPHANED_COST,
            "25.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 25.00 of usage and one-time fees for Managed "
                "endpoint (EDR)",
            ),
            customer=BETA,
            service=EDR,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="0",
        ),
    ),
    # Vendor units > 0 and other cost (impact = vendor units x mean unit cost + usage and
    # one-time cost, not the month's cost):
    #   (Beta, M365): 12 seats charged 76.80 for 15-30 November (share 16/30): monthly
    #     76.80 x 30/16 = 144.00, mean 144.00 / 12 = 12.0000; plus a one-time setup fee of
    #     10.00. The month carries 76.80 + 10.00 = 86.80, but the impact is 12 x 12.00 +
    #     10.00 = 154.00.
    #   (Beta, EDR): 3 endpoints for the month, 13.50 (mean 4.5000), plus 2.25 of usage:
    #     13.50 + 2.25 = 15.75.
    # Contract ended 2026-10-31 for both: "(contract ended 2026-10-31)".
    case(
        "orphaned-cost/units-and-other-cost",
        {
            "contracts": {(BETA, M365): ended(), (BETA, EDR): ended()},
            "last_contract_end": {
                (BETA, M365): date(2026, 10, 31),
                (BETA, EDR): date(2026, 10, 31),
            },
            "vendor_positions": {
                (BETA, M365): billed(
                    PAX8,
                    "12",
                    partial=Fraction(d("76.80")) / Fraction(16, 30),
                    lines=1,
                    cost="86.80",
                    other="10.00",
                ),
                (BETA, EDR): billed(PAX8, "3", whole="13.50", lines=1, cost="15.75", other="2.25"),
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.ORPHANED_COST,
            "154.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 12 x Microsoft 365 Business Premium (154.00) for "
                "2026-11, but no active contract covers it (contract ended 2026-10-31).",
            ),
            customer=BETA,
            service=M365,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="12",
            actual_unit="12.0000",
        ),
        Want(
            T.ORPHANED_COST,
            "15.75",
            Severity.high,
            ("Beta GmbH: Pax8 charged 3 x Managed endpoint (EDR) (15.75) for 2026-11",),
            customer=BETA,
            service=EDR,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="3",
            actual_unit="4.5000",
        ),
    ),
    # ---- UNBILLED_UNITS --------------------------------------------------------------------
    # Acme: 2 endpoints contracted at 8.00, Pax8 charges 3 for 13.50 (mean 4.50).
    # UNBILLED_UNITS high: expected 2, actual 3, units 8.0000 / 4.5000; (3 - 2) x 8.00 =
    # 8.00. No NEGATIVE_MARGIN: 8.00 > 4.50.
    case(
        "unbilled-units",
        {
            "contracts": {(ACME, EDR): contract(("2", "8.00"))},
            "vendor_positions": {(ACME, EDR): charged(PAX8, "3", "13.50")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.UNBILLED_UNITS,
            "8.00",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged 3 x Managed endpoint (EDR) for 2026-11 but the "
                "contract bills 2; 1 unbilled at 8.00 = 8.00.",
            ),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
            expected_qty="2",
            actual_qty="3",
            expected_unit="8.0000",
            actual_unit="4.5000",
        ),
    ),
    # Weighted contract unit price with more than 4 decimals: 1 seat at 19.99 and 5 at
    # 18.50: 6 units, weight 19.99 + 92.50 = 112.49, price 112.49 / 6 = 18.74833333...
    # Pax8 charges 9 seats for 162.00 (mean 18.00). Missing 3: exactly 3 x 112.49 / 6 =
    # 56.245 -> 56.25 half-up. (Rounding the price first to 4 places would give
    # 3 x 18.7483 = 56.2449 -> 56.24.) Stored unit 18.748333 (6 places); no NEGATIVE_MARGIN
    # (18.75 > 18.00).
    case(
        "unbilled-units/weighted-price-exact-until-rounded",
        {
            "contracts": {(ACME, M365): contract(("1", "19.99"), ("5", "18.50"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "9", "162.00", lines=2)},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.UNBILLED_UNITS,
            "56.25",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged 9 x Microsoft 365 Business Premium for 2026-11 but "
                "the contract bills 6; 3 unbilled at 18.748333 = 56.25.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="6",
            actual_qty="9",
            expected_unit="18.748333",
            actual_unit="18.0000",
        ),
    ),
    # Half-up at exactly half a cent: 1000 GB contracted at 0.10, Ingram charges 1000.05 GB
    # for 50.00. (1000.05 - 1000) x 0.10 = 0.005 -> 0.01 (half-even would give 0.00 and no
    # finding). Mean cost 50.00 / 1000.05 = 0.04999750... -> 0.049998.
    case(
        "unbilled-units/half-cent-rounds-up",
        {
            "contracts": {(ACME, BACKUP): contract(("1000", "0.10"))},
            "vendor_positions": {(ACME, BACKUP): charged(INGRAM, "1000.05", "50.00")},
            "vendors_invoicing": {INGRAM},
        },
        Want(
            T.UNBILLED_UNITS,
            "0.01",
            Severity.high,
            (
                "Acme Ltd: Ingram Micro charged 1000.05 x Cloud backup for 2026-11 but the "
                "contract bills 1000; 0.05 unbilled at 0.10 = 0.01.",
            ),
            customer=ACME,
            service=BACKUP,
            vendor=INGRAM,
            expected_qty="1000",
            actual_qty="1000.05",
            expected_unit="0.1000",
            actual_unit="0.049998",
        ),
    ),
    # Rounds to 0.00: 1000.04 GB charged, 1000 contracted at 0.10: 0.04 x 0.10 = 0.004 ->
    # 0.00, no finding.
    case(
        "unbilled-units/rounds-to-zero",
        {
            "contracts": {(ACME, BACKUP): contract(("1000", "0.10"))},
            "vendor_positions": {(ACME, BACKUP): charged(INGRAM, "1000.04", "50.00")},
            "vendors_invoicing": {INGRAM},
        },
    ),
    # Equal units: 10 seats contracted at 22.00, 10 charged for 180.00 (mean 18.00), 10
    # deployed. Not UNBILLED (10 > 10 is false), not OVERBILLED, not NEGATIVE_MARGIN
    # (22.00 > 18.00), not UNBILLED_ASSETS, not ORPHANED (10 contracted): nothing.
    case(
        "equal-units-nothing",
        {
            "contracts": {(ACME, M365): contract(("10", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "10", "180.00")},
            "vendors_invoicing": {PAX8},
            "deployed": {(ACME, M365): 10},
        },
    ),
    # ---- OVERBILLED_UNITS -------------------------------------------------------------------
    # Acme: 20 seats contracted at 22.00, Pax8 charges 18 for 342.00 (mean 19.00).
    # OVERBILLED_UNITS medium: expected 20, actual 18, units 22.0000 / 19.0000;
    # (20 - 18) x 22.00 = 44.00.
    case(
        "overbilled-units",
        {
            "contracts": {(ACME, M365): contract(("20", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "18", "342.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.OVERBILLED_UNITS,
            "44.00",
            Severity.medium,
            (
                "Acme Ltd: the contract bills 20 x Microsoft 365 Business Premium for 2026-11 "
                "but Pax8 charged 18; 2 units at 22.00 = 44.00 billed without a vendor seat.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="20",
            actual_qty="18",
            expected_unit="22.0000",
            actual_unit="19.0000",
        ),
    ),
    # Contracted but no vendor charge: 2 endpoints at 8.00, Pax8 invoiced the month but
    # charged Acme nothing. OVERBILLED_UNITS medium: actual 0, no actual unit;
    # 2 x 8.00 = 16.00.
    case(
        "overbilled-units/contracted-no-vendor-charge",
        {
            "contracts": {(ACME, EDR): contract(("2", "8.00"))},
            "vendors_invoicing": {PAX8},
        },
        _FILTER_OVERBILLED_EDR,
    ),
    # The same, but only Ingram invoiced the month: Pax8's silence is no evidence.
    case(
        "overbilled-units/vendor-sent-no-invoice",
        {
            "contracts": {(ACME, EDR): contract(("2", "8.00"))},
            "vendors_invoicing": {INGRAM},
        },
    ),
    # Zero contracted units and no vendor charge (the line ended in the month, revenue
    # 100.00): nothing to overbill, nothing orphaned.
    case(
        "zero-contracted-units-no-charge",
        {
            "contracts": {(ACME, M365): ended(revenue="100.00")},
            "vendors_invoicing": {PAX8},
        },
    ),
    # In-house service (vendor_id None): 5 workstations at 45.00, both vendors invoiced,
    # nobody charges them. Never OVERBILLED_UNITS.
    case(
        "overbilled-units/in-house-service-never",
        {
            "contracts": {(ACME, WORKSTATION): contract(("5", "45.00"))},
            "vendors_invoicing": {PAX8, INGRAM},
        },
    ),
    # Rounds to 0.00: 1000.04 GB contracted at 0.10, 1000 charged: 0.004 -> 0.00.
    case(
        "overbilled-units/rounds-to-zero",
        {
            "contracts": {(ACME, BACKUP): contract(("1000.04", "0.10"))},
            "vendor_positions": {(ACME, BACKUP): charged(INGRAM, "1000", "50.00")},
            "vendors_invoicing": {INGRAM},
        },
    ),
    # ---- PRICE_INCREASE ---------------------------------------------------------------------
    # `rise()` gives plain lines (share 1): weight = quantity, cost = unit_cost x quantity.
    # Impact = cost - standard x weight; mean = cost / weight
    # (docs/vendor-bills.md#rules-on-real-bills).
    #
    # Pax8 invoice 7 (PAX-2026-11): 32 seats at 19.00 = 608.00 above the standard 18.00;
    # no October figure. PRICE_INCREASE medium, service M365, Pax8, invoice 7, no customer:
    # actual 32, expected unit 18.00 (the standard), actual unit 19.0000, no previous;
    # 608.00 - 18.00 x 32 = 32.00. The message ends "more)." (no October clause).
    case(
        "price-increase/no-previous-month",
        {"price_rises": [rise(7, "PAX-2026-11", PAX8, M365, "32", "608.00")]},
        Want(
            T.PRICE_INCREASE,
            "32.00",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at a mean "
                "19.00 per unit against the standard cost 18.00 (32 units, 32.00 more).",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="32",
            expected_unit="18.00",
            actual_unit="19.0000",
        ),
    ),
    # Invoice 7: 10 seats at 19.00 and 5 at 19.50: quantity 15, cost 190.00 + 97.50 =
    # 287.50; impact 287.50 - 18.00 x 15 = 17.50; mean 287.50 / 15 = 19.1666... ->
    # 19.166667. October's mean cost 56.00 / 3 = 18.6666... -> previous 18.666667.
    case(
        "price-increase/with-previous-month",
        {
            "price_rises": [rise(7, "PAX-2026-11", PAX8, M365, "15", "287.50")],
            "previous_mean_cost": {M365: Fraction(56, 3)},
        },
        Want(
            T.PRICE_INCREASE,
            "17.50",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at a mean "
                "19.166667 per unit against the standard cost 18.00 (15 units, 17.50 more); "
                "the mean unit cost in 2026-10 was 18.666667.",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="15",
            expected_unit="18.00",
            actual_unit="19.166667",
            previous_unit="18.666667",
        ),
    ),
    # One finding per (invoice, service), given out of order, found ordered:
    #   (7, M365)  12 x 19.00 = 228.00 - 12 x 18.00 = 12.00, mean 19.0000
    #   (7, EDR)    3 x  5.00 =  15.00 -  3 x  4.50 =  1.50, mean 5.0000, previous 4.5000
    #   (8, M365)   2 x 19.00 =  38.00 -  2 x 18.00 =  2.00, mean 19.0000
    case(
        "price-increase/one-per-invoice-and-service",
        {
            "price_rises": [
                rise(8, "PAX-2026-11-B", PAX8, M365, "2", "38.00"),
                rise(7, "PAX-2026-11", PAX8, EDR, "3", "15.00"),
                rise(7, "PAX-2026-11", PAX8, M365, "12", "228.00"),
            ],
            "previous_mean_cost": {EDR: Fraction(9, 2)},
        },
        Want(
            T.PRICE_INCREASE,
            "12.00",
            Severity.medium,
            ("PAX-2026-11 charged Microsoft 365 Business Premium", "(12 units, 12.00 more)."),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="12",
            expected_unit="18.00",
            actual_unit="19.0000",
        ),
        Want(
            T.PRICE_INCREASE,
            "1.50",
            Severity.medium,
            (
                "PAX-2026-11 charged Managed endpoint (EDR) at a mean 5.00 per unit against "
                "the standard cost 4.50 (3 units, 1.50 more); the mean unit cost in 2026-10 "
                "was 4.50.",
            ),
            service=EDR,
            vendor=PAX8,
            invoice=7,
            actual_qty="3",
            expected_unit="4.50",
            actual_unit="5.0000",
            previous_unit="4.5000",
        ),
        Want(
            T.PRICE_INCREASE,
            "2.00",
            Severity.medium,
            ("Pax8 invoice PAX-2026-11-B charged Microsoft 365", "(2 units, 2.00 more)."),
            service=M365,
            vendor=PAX8,
            invoice=8,
            actual_qty="2",
            expected_unit="18.00",
            actual_unit="19.0000",
        ),
    ),
    # Dropped: "price-increase/quantity-nets-to-zero" (5 seats at 20.00 and a credit of -5
    # at 19.00 giving 5.00 on 0 units). A credit no longer offsets a rise
    # (docs/vendor-bills.md#rules-on-real-bills: only
    # recurring lines with quantity > 0 count, chosen by the loader), so a rise on 0 units
    # cannot be built any more.
    #
    # Lines charging other than one whole month: the standard cost is counted on the
    # weight (quantity x share), not on the quantity.
    #   (7, M365): 10 seats at 18.50 for the month (cost 185.00, weight 10) and 12 seats at
    #     19.00 for 15-30 November (share 16/30: cost 19.00 x 12 x 16/30 = 121.60, weight
    #     12 x 16/30 = 6.4): quantity 22, cost 306.60, weight 16.4. Impact 306.60 - 18.00 x
    #     16.4 = 306.60 - 295.20 = 11.40 (= 0.50 x 10 + 1.00 x 6.4); mean 306.60 / 16.4 =
    #     18.69512221... -> 18.695122. (On the quantity: 306.60 - 18.00 x 22 < 0, no finding.)
    #   (8, EDR): 3 endpoints at 5.00 a month for a year from 2026-11-01 (share 12): cost
    #     5.00 x 3 x 12 = 180.00, weight 36; impact 180.00 - 4.50 x 36 = 18.00, mean 5.0000.
    case(
        "price-increase/weighted-by-share",
        {
            "price_rises": [
                PriceRise(8, "PAX-2026-11-B", PAX8, EDR, d("3"), Fraction(180), Fraction(36)),
                PriceRise(
                    7, "PAX-2026-11", PAX8, M365, d("22"), Fraction("306.60"), Fraction("16.4")
                ),
            ]
        },
        Want(
            T.PRICE_INCREASE,
            "11.40",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at a mean "
                "18.695122 per unit against the standard cost 18.00 (22 units, 11.40 more).",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="22",
            expected_unit="18.00",
            actual_unit="18.695122",
        ),
        Want(
            T.PRICE_INCREASE,
            "18.00",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11-B charged Managed endpoint (EDR) at a mean 5.00 per "
                "unit against the standard cost 4.50 (3 units, 18.00 more).",
            ),
            service=EDR,
            vendor=PAX8,
            invoice=8,
            actual_qty="3",
            expected_unit="4.50",
            actual_unit="5.0000",
        ),
    ),
    # Rounds to 0.00: Ingram charges 40 GB at 0.0501 (cost 2.004) against 0.05:
    # 2.004 - 2.000 = 0.004 -> 0.00, no finding.
    case(
        "price-increase/rounds-to-zero",
        {"price_rises": [rise(9, "ING-2026-11", INGRAM, BACKUP, "40", "2.004")]},
    ),
    # ---- NEGATIVE_MARGIN --------------------------------------------------------------------
    # Acme: 10 seats contracted at 18.50, Pax8 charges 12 for 228.00 (mean 19.00).
    #   UNBILLED_UNITS high: (12 - 10) x 18.50 = 37.00.
    #   NEGATIVE_MARGIN medium: (19.00 - 18.50) x min(10, 12) = 5.00; units 18.5000 /
    #   19.0000, expected 10, actual 12.
    case(
        "negative-margin/fewer-contracted",
        {
            "contracts": {(ACME, M365): contract(("10", "18.50"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "12", "228.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.UNBILLED_UNITS,
            "37.00",
            Severity.high,
            ("the contract bills 10; 2 unbilled at 18.50 = 37.00.",),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="10",
            actual_qty="12",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
        Want(
            T.NEGATIVE_MARGIN,
            "5.00",
            Severity.medium,
            (
                "Acme Ltd: Microsoft 365 Business Premium sells at 18.50 per unit but Pax8 "
                "charges a mean 19.00 for 2026-11; 10 units lose 5.00.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="10",
            actual_qty="12",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
    ),
    # 12 contracted at 18.50, 10 charged for 190.00 (mean 19.00).
    #   OVERBILLED_UNITS medium: (12 - 10) x 18.50 = 37.00.
    #   NEGATIVE_MARGIN medium: (19.00 - 18.50) x min(12, 10) = 5.00.
    case(
        "negative-margin/fewer-charged",
        {
            "contracts": {(ACME, M365): contract(("12", "18.50"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "10", "190.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.OVERBILLED_UNITS,
            "37.00",
            Severity.medium,
            ("but Pax8 charged 10; 2 units at 18.50 = 37.00 billed without a vendor seat.",),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="12",
            actual_qty="10",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
        Want(
            T.NEGATIVE_MARGIN,
            "5.00",
            Severity.medium,
            ("sells at 18.50 per unit but Pax8 charges a mean 19.00 for 2026-11; 10 units lose",),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="12",
            actual_qty="10",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
    ),
    # One unit is "1 unit", in every message that counts units: 2 seats contracted at
    # 18.50, Pax8 charges 1 at 19.00 on invoice 7, above the standard 18.00.
    #   OVERBILLED_UNITS: (2 - 1) x 18.50 = 18.50, "1 unit at 18.50".
    #   PRICE_INCREASE: 19.00 - 18.00 x 1 = 1.00, "(1 unit, 1.00 more)".
    #   NEGATIVE_MARGIN: (19.00 - 18.50) x min(2, 1) = 0.50, "1 unit loses 0.50".
    case(
        "one-unit-is-singular",
        {
            "contracts": {(ACME, M365): contract(("2", "18.50"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "1", "19.00")},
            "vendors_invoicing": {PAX8},
            "price_rises": [rise(7, "PAX-2026-11", PAX8, M365, "1", "19.00")],
        },
        Want(
            T.OVERBILLED_UNITS,
            "18.50",
            Severity.medium,
            (
                "Acme Ltd: the contract bills 2 x Microsoft 365 Business Premium for 2026-11 "
                "but Pax8 charged 1; 1 unit at 18.50 = 18.50 billed without a vendor seat.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="2",
            actual_qty="1",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
        Want(
            T.PRICE_INCREASE,
            "1.00",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at a mean "
                "19.00 per unit against the standard cost 18.00 (1 unit, 1.00 more).",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="1",
            expected_unit="18.00",
            actual_unit="19.0000",
        ),
        Want(
            T.NEGATIVE_MARGIN,
            "0.50",
            Severity.medium,
            (
                "Acme Ltd: Microsoft 365 Business Premium sells at 18.50 per unit but Pax8 "
                "charges a mean 19.00 for 2026-11; 1 unit loses 0.50.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="2",
            actual_qty="1",
            expected_unit="18.5000",
            actual_unit="19.0000",
        ),
    ),
    # Price equal to the mean cost (10 at 19.00, 10 charged for 190.00): not below, nothing.
    case(
        "negative-margin/price-equals-cost",
        {
            "contracts": {(ACME, M365): contract(("10", "19.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "10", "190.00")},
            "vendors_invoicing": {PAX8},
        },
    ),
    # Rounds to 0.00: 10 at 18.9999 against a mean 19.00: 0.0001 x 10 = 0.001 -> 0.00.
    case(
        "negative-margin/rounds-to-zero",
        {
            "contracts": {(ACME, M365): contract(("10", "18.9999"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "10", "190.00")},
            "vendors_invoicing": {PAX8},
        },
    ),
    # A part-month line in the mean unit cost (docs/vendor-bills.md#month-figures: monthly amount
    # = amount / share).
    # Acme: 12 seats contracted at 19.00 (revenue 228.00). Pax8 charges 10 seats for the
    # month at 19.00 (190.00, whole) and 2 more for 15-30 November at 21.00: 2 x 21.00 x
    # 16/30 = 22.40, monthly 22.40 x 30/16 = 42.00 (partial). Units 12, monthly 232.00,
    # mean 232.00 / 12 = 19.333333... > 19.00. NEGATIVE_MARGIN medium: (232/12 - 19.00) x
    # min(12, 12) = 232.00 - 228.00 = 4.00; units 19.00 / 19.333333. (The whole lines
    # alone, 190.00 / 12 = 15.83, or the month's cost, 212.40 / 12 = 17.70, are below
    # 19.00: no finding.) 12 = 12 units: no UNBILLED or OVERBILLED.
    case(
        "negative-margin/part-month-mean-cost",
        {
            "contracts": {(ACME, M365): contract(("12", "19.00"), revenue="228.00")},
            "vendor_positions": {
                (ACME, M365): billed(
                    PAX8,
                    "12",
                    whole="190.00",
                    partial=Fraction(d("22.40")) / Fraction(16, 30),
                    lines=2,
                    cost="212.40",
                )
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.NEGATIVE_MARGIN,
            "4.00",
            Severity.medium,
            (
                "Acme Ltd: Microsoft 365 Business Premium sells at 19.00 per unit but Pax8 "
                "charges a mean 19.333333 for 2026-11; 12 units lose 4.00.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="12",
            actual_qty="12",
            expected_unit="19.0000",
            actual_unit="19.333333",
        ),
    ),
    # ---- metered services (docs/vendor-bills.md)
    # -----------------------------------------------------
    # Azure plan is metered: no UNBILLED_UNITS, OVERBILLED_UNITS or per-unit NEGATIVE_MARGIN.
    #   (Acme, Azure): 2 units contracted at 10.00 (revenue 20.00); Pax8 charges 3 units
    #     for the month, 60.00 (mean 20.00). Per-unit this would be UNBILLED (3 - 2) x
    #     10.00 = 10.00 and NEGATIVE_MARGIN (20.00 - 10.00) x 2 = 20.00. Metered: revenue
    #     max(20.00, invoiced 0) = 20.00 > 0 and cost 60.00 > 20.00: NEGATIVE_MARGIN medium
    #     60.00 - 20.00 = 40.00, no quantities or unit amounts.
    #   (Beta, Azure): 5 units contracted at 10.00 (revenue 50.00), Pax8 invoiced the month
    #     and charged Beta nothing. Per-unit this would be OVERBILLED 5 x 10.00 = 50.00:
    #     nothing.
    case(
        "metered/no-per-unit-rules",
        {
            "contracts": {
                (ACME, AZURE): contract(("2", "10.00"), revenue="20.00"),
                (BETA, AZURE): contract(("5", "10.00"), revenue="50.00"),
            },
            "vendor_positions": {(ACME, AZURE): charged(PAX8, "3", "60.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.NEGATIVE_MARGIN,
            "40.00",
            Severity.medium,
            (
                "Acme Ltd: Azure plan earns 20.00 for 2026-11 but Pax8 charged 60.00; it "
                "loses 40.00.",
            ),
            customer=ACME,
            service=AZURE,
            vendor=PAX8,
        ),
    ),
    # ORPHANED_COST on a metered service: cost in the month > 0 and revenue 0; impact the
    # month's cost.
    #   (Beta, Azure): contract ended 2026-10-31 (0 units, revenue 0.00). 2 units for 15-30
    #     November, 16.00 (monthly 16.00 x 30/16 = 30.00, mean 15.0000) and 40.00 of usage:
    #     cost 56.00. Impact 56.00 (the per-unit formula would give 30.00 + 40.00 = 70.00).
    #   (Gamma, Azure): no contract line, 123.45 of usage: impact 123.45.
    #   A metered finding is judged on money: no quantities or unit amounts on it (the
    #   message still names the vendor units).
    #   (Acme, Azure): no contract line but invoiced 100.00 for Azure in the month; 80.00 of
    #     usage. Revenue max(0.00, 100.00) = 100.00: not orphaned, and 80.00 <= 100.00: no
    #     NEGATIVE_MARGIN.
    #   (Acme, EDR) is per-unit and contracted (1 at 8.00, 1 charged 4.50): nothing.
    case(
        "metered/orphaned-cost",
        {
            "contracts": {(BETA, AZURE): ended(), (ACME, EDR): contract(("1", "8.00"))},
            "last_contract_end": {(BETA, AZURE): date(2026, 10, 31)},
            "vendor_positions": {
                (GAMMA, AZURE): billed(PAX8, cost="123.45", other="123.45"),
                (BETA, AZURE): billed(
                    PAX8,
                    "2",
                    partial=Fraction(d("16.00")) / Fraction(16, 30),
                    lines=1,
                    cost="56.00",
                    other="40.00",
                ),
                (ACME, AZURE): billed(PAX8, cost="80.00", other="80.00"),
                (ACME, EDR): charged(PAX8, "1", "4.50"),
            },
            "invoiced_revenue": {(ACME, AZURE): d("100.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.ORPHANED_COST,
            "56.00",
            Severity.high,
            (
                "Beta GmbH: Pax8 charged 56.00 for Azure plan in 2026-11, but nothing is "
                "billed for it (contract ended 2026-10-31).",
            ),
            customer=BETA,
            service=AZURE,
            vendor=PAX8,
        ),
        Want(
            T.ORPHANED_COST,
            "123.45",
            Severity.high,
            (
                "Gamma AG: Pax8 charged 123.45 for Azure plan in 2026-11, but nothing is "
                "billed for it (no contract line at the end of the month).",
            ),
            customer=GAMMA,
            service=AZURE,
            vendor=PAX8,
        ),
    ),
    # No cost, or a credit, with no revenue: (Acme, Azure) a usage credit of -5.00, (Beta,
    # Azure) usage of 0.00. Cost not > 0: no ORPHANED_COST, and revenue 0: no
    # NEGATIVE_MARGIN.
    case(
        "metered/no-cost-no-finding",
        {
            "vendor_positions": {
                (ACME, AZURE): billed(PAX8, cost="-5.00", other="-5.00"),
                (BETA, AZURE): billed(PAX8),
            },
            "vendors_invoicing": {PAX8},
        },
    ),
    # Revenue is the larger of the contracted and the invoiced revenue (an invoice drafted
    # from the contract is not counted twice):
    #   (Acme, Azure): contracted 1 x 100.00 = 100.00, invoiced 120.00 (the contract and
    #     20.00 of usage passed on); cost 150.00. Revenue 120.00: NEGATIVE_MARGIN 150.00 -
    #     120.00 = 30.00. (Contracted alone: 50.00; both added, 220.00: no finding.)
    #   (Beta, Azure): contracted 100.00, invoiced 80.00, cost 90.00. Revenue 100.00: no
    #     finding (invoiced alone would give 10.00).
    #   (Gamma, Azure): contracted 50.00, nothing invoiced, cost 50.00: not above, nothing.
    case(
        "metered/negative-margin-revenue-is-the-larger",
        {
            "contracts": {
                (ACME, AZURE): contract(("1", "100.00"), revenue="100.00"),
                (BETA, AZURE): contract(("1", "100.00"), revenue="100.00"),
                (GAMMA, AZURE): contract(("1", "50.00"), revenue="50.00"),
            },
            "vendor_positions": {
                (ACME, AZURE): billed(PAX8, cost="150.00", other="150.00"),
                (BETA, AZURE): billed(PAX8, cost="90.00", other="90.00"),
                (GAMMA, AZURE): billed(PAX8, cost="50.00", other="50.00"),
            },
            "invoiced_revenue": {(ACME, AZURE): d("120.00"), (BETA, AZURE): d("80.00")},
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.NEGATIVE_MARGIN,
            "30.00",
            Severity.medium,
            (
                "Acme Ltd: Azure plan earns 120.00 for 2026-11 but Pax8 charged 150.00; it "
                "loses 30.00.",
            ),
            customer=ACME,
            service=AZURE,
            vendor=PAX8,
        ),
    ),
    # ---- UNMAPPED_SKU / UNMAPPED_ACCOUNT ----------------------------------------------------
    # Line 101 of Pax8 invoice 7: SKU AZ-RI-3Y matches no service, ACME-001 is Acme.
    # UNMAPPED_SKU low: customer Acme, no service, Pax8, invoice 7, line 101; 120.00.
    case(
        "unmapped-sku",
        {
            "unmapped": [
                UnmappedLine(
                    101, 7, "PAX-2026-11", PAX8, "AZ-RI-3Y", "ACME-001", d("120.00"), None, ACME
                )
            ]
        },
        Want(
            T.UNMAPPED_SKU,
            "120.00",
            Severity.low,
            (
                "Pax8 invoice PAX-2026-11: SKU 'AZ-RI-3Y' matches no service of Pax8: set a "
                "service's vendor_sku (120.00 for 2026-11).",
            ),
            customer=ACME,
            vendor=PAX8,
            invoice=7,
            line=101,
            sku="AZ-RI-3Y",
            account="ACME-001",
        ),
    ),
    # Line 102: the M365 SKU for account GAMMA-9, which no customer has at Pax8.
    # UNMAPPED_ACCOUNT low: service M365, no customer, Pax8, invoice 7, line 102; 38.00.
    case(
        "unmapped-account",
        {
            "unmapped": [
                UnmappedLine(
                    102, 7, "PAX-2026-11", PAX8, "CFQ7TTC0LCHC", "GAMMA-9", d("38.00"), M365, None
                )
            ]
        },
        Want(
            T.UNMAPPED_ACCOUNT,
            "38.00",
            Severity.low,
            (
                "Pax8 invoice PAX-2026-11: account 'GAMMA-9' matches no customer's Pax8 "
                "account: add a vendor account to the customer (38.00 for 2026-11).",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            line=102,
            sku="CFQ7TTC0LCHC",
            account="GAMMA-9",
        ),
    ),
    # Ingram invoice 9, lines given out of order: 105 (neither mapped, 0.00), 104 (neither
    # mapped, credit -5.00), 103 (neither mapped, 5.00). Only 103 gives findings, one of
    # each type (all UNMAPPED_SKU come before all UNMAPPED_ACCOUNT): 5.00 each, low.
    case(
        "unmapped/both-and-zero-or-credit",
        {
            "unmapped": [
                UnmappedLine(105, 9, "ING-2026-11", INGRAM, "BK-X", "ZETA", d("0.00"), None, None),
                UnmappedLine(104, 9, "ING-2026-11", INGRAM, "BK-X", "ZETA", d("-5.00"), None, None),
                UnmappedLine(103, 9, "ING-2026-11", INGRAM, "BK-X", "ZETA", d("5.00"), None, None),
            ]
        },
        Want(
            T.UNMAPPED_SKU,
            "5.00",
            Severity.low,
            ("Ingram Micro invoice ING-2026-11: SKU 'BK-X' matches no service of Ingram Micro",),
            vendor=INGRAM,
            invoice=9,
            line=103,
            sku="BK-X",
            account="ZETA",
        ),
        Want(
            T.UNMAPPED_ACCOUNT,
            "5.00",
            Severity.low,
            ("account 'ZETA' matches no customer's Ingram Micro account", "(5.00 for 2026-11)"),
            vendor=INGRAM,
            invoice=9,
            line=103,
            sku="BK-X",
            account="ZETA",
        ),
    ),
    # ---- DUPLICATE_CHARGE -------------------------------------------------------------------
    # docs/vendor-bills.md#rules-on-real-bills: a line on an invoice of M identical to one on
    # another invoice of the vendor
    # (customer, service, kind, charge period, quantity, amount). The loader
    # (app/vendor_invoices/month.py duplicate_charges, checked against a database in
    # tests/test_audits.py) finds the earliest invoice of each charge, by invoice_date then
    # number, and hands the rule the copies on the month's other invoices, per (customer,
    # service). The old rows about choosing the earliest invoice among every invoice
    # charging a pair ("earliest-by-date", "same-date-by-number", "same-date-number-as-
    # text") were about the old rule, where any second invoice charging a pair was a
    # duplicate: dropped, and rewritten below on copies.
    #
    # One copy: Acme's 2 M365 seats (38.00) on Pax8's PAX-2026-11-B of 2026-11-01 (kept)
    # and again on PAX-2026-11-A (id 9) of 2026-11-30. DUPLICATE_CHARGE high, impact 38.00,
    # Acme/M365/Pax8, no quantities, no vendor invoice (the finding stays the same one when
    # another copy turns up on a re-run). 14 seats charged in all
    # (266.00, mean 19.00) and 14 contracted at 22.00: no other rule fires.
    case(
        "duplicate-charge/one-copy",
        {
            "contracts": {(ACME, M365): contract(("14", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "14", "266.00", lines=3)},
            "duplicates": {
                (ACME, M365): Duplicate(
                    PAX8, ["PAX-2026-11-B"], [copy(9, "PAX-2026-11-A", 30, "38.00")]
                )
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "38.00",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Microsoft 365 Business Premium again on "
                "PAX-2026-11-A for 2026-11: the same charge as on PAX-2026-11-B (38.00).",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
        ),
    ),
    # Copies on several invoices, of two charges: Acme's endpoints
    #   charge A, 2 endpoints for 9.00, on PAX-0101 (kept), PAX-0102 (id 12), PAX-0103
    #     (id 11): copies 9.00 + 9.00;
    #   charge B, 1 endpoint for 4.50, on PAX-0102 (kept) and PAX-0103 (id 11): copy 4.50.
    # Impact 9.00 + 9.00 + 4.50 = 22.50; copies on two invoices, so no vendor_invoice_id.
    # The message lists the copies' invoices once each, sorted (PAX-0102, PAX-0103), and
    # the kept ones (PAX-0101, PAX-0102). Endpoints: 3 x 2 + 2 x 1 = 8 charged (36.00,
    # mean 4.50), 8 contracted at 8.00: nothing else.
    case(
        "duplicate-charge/copies-on-several-invoices",
        {
            "contracts": {(ACME, EDR): contract(("8", "8.00"))},
            "vendor_positions": {(ACME, EDR): charged(PAX8, "8", "36.00", lines=5)},
            "duplicates": {
                (ACME, EDR): Duplicate(
                    PAX8,
                    ["PAX-0101", "PAX-0102"],
                    [
                        copy(12, "PAX-0102", 30, "9.00"),
                        copy(11, "PAX-0103", 30, "9.00"),
                        copy(11, "PAX-0103", 30, "4.50"),
                    ],
                )
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "22.50",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Managed endpoint (EDR) again on PAX-0102, PAX-0103 "
                "for 2026-11: the same charge as on PAX-0101, PAX-0102 (22.50).",
            ),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
        ),
    ),
    # Two charges copied onto one invoice, kept on the same one: Acme's 10 seats (190.00)
    # and 2 seats (38.00) on PAX-2026-11 (kept) and again on PAX-2026-11-R (id 8): impact
    # 228.00, no vendor invoice, each number named once. 24 seats charged (456.00, mean
    # 19.00), 24 contracted at 22.00: nothing else.
    case(
        "duplicate-charge/two-charges-one-copy-invoice",
        {
            "contracts": {(ACME, M365): contract(("24", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "24", "456.00", lines=4)},
            "duplicates": {
                (ACME, M365): Duplicate(
                    PAX8,
                    ["PAX-2026-11", "PAX-2026-11"],
                    [
                        copy(8, "PAX-2026-11-R", 20, "190.00"),
                        copy(8, "PAX-2026-11-R", 20, "38.00"),
                    ],
                )
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "228.00",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Microsoft 365 Business Premium again on "
                "PAX-2026-11-R for 2026-11: the same charge as on PAX-2026-11 (228.00).",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
        ),
    ),
    # CURRENT BEHAVIOUR: the message sorts invoice numbers as text, so PAX-10 comes before
    # PAX-9. Copies of a 9.00 charge kept on PAX-1: PAX-9 (id 2) and PAX-10 (id 3), given
    # in that order: 18.00. Pairs come out by (customer, service): Acme's EDR, then Beta's
    # EDR (a copy of 4.50 on PAX-9, kept on PAX-1), though given the other way round.
    # Acme: 3 x 2 = 6 endpoints (27.00), Beta 2 x 1 = 2 (9.00), as contracted at 8.00.
    case(
        "duplicate-charge/numbers-as-text-pairs-in-order",
        {
            "contracts": {
                (ACME, EDR): contract(("6", "8.00")),
                (BETA, EDR): contract(("2", "8.00")),
            },
            "vendor_positions": {
                (ACME, EDR): charged(PAX8, "6", "27.00", lines=3),
                (BETA, EDR): charged(PAX8, "2", "9.00", lines=2),
            },
            "duplicates": {
                (BETA, EDR): Duplicate(PAX8, ["PAX-1"], [copy(2, "PAX-9", 30, "4.50")]),
                (ACME, EDR): Duplicate(
                    PAX8,
                    ["PAX-1"],
                    [copy(2, "PAX-9", 30, "9.00"), copy(3, "PAX-10", 30, "9.00")],
                ),
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "18.00",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Managed endpoint (EDR) again on PAX-10, PAX-9 for "
                "2026-11: the same charge as on PAX-1 (18.00).",
            ),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
        ),
        Want(
            T.DUPLICATE_CHARGE,
            "4.50",
            Severity.high,
            ("Beta GmbH: Pax8 charged Managed endpoint (EDR) again on PAX-9 for 2026-11",),
            customer=BETA,
            service=EDR,
            vendor=PAX8,
        ),
    ),
    # Rounds to 0.00 or less: identical 0.00 lines on two invoices (Acme, M365), and an
    # identical credit of -4.50 copied on PAX-2026-11-ADJ (Acme, EDR): impacts 0.00 and
    # -4.50, no finding. (Acme's seats and endpoints are charged as contracted.)
    case(
        "duplicate-charge/copies-zero-or-credit",
        {
            "contracts": {
                (ACME, M365): contract(("12", "22.00")),
                (ACME, EDR): contract(("1", "8.00")),
            },
            "vendor_positions": {
                (ACME, M365): charged(PAX8, "12", "228.00", lines=3),
                (ACME, EDR): charged(PAX8, "1", "4.50", lines=4),
            },
            "duplicates": {
                (ACME, M365): Duplicate(
                    PAX8, ["PAX-2026-11"], [copy(9, "PAX-2026-11-ADJ", 15, "0.00")]
                ),
                (ACME, EDR): Duplicate(
                    PAX8, ["PAX-2026-11"], [copy(9, "PAX-2026-11-ADJ", 15, "-4.50")]
                ),
            },
            "vendors_invoicing": {PAX8},
        },
    ),
    # ---- INVOICE_TOTAL_MISMATCH -------------------------------------------------------------
    # Invoice 7 (Pax8): total 621.50, lines 620.00 -> 1.50. Invoice 5 (Ingram): total
    # 100.00, lines 101.25 -> |-1.25| = 1.25. Invoice 6: 50.00 = 50.00, nothing. Ordered
    # by invoice id: 5, then 7; medium, vendor and invoice set, no customer.
    case(
        "invoice-total-mismatch",
        {
            "invoice_totals": [
                InvoiceTotal(7, "PAX-2026-11", PAX8, d("621.50"), d("620.00")),
                InvoiceTotal(5, "ING-77", INGRAM, d("100.00"), d("101.25")),
                InvoiceTotal(6, "PAX-2026-11-B", PAX8, d("50.00"), d("50.00")),
            ]
        },
        Want(
            T.INVOICE_TOTAL_MISMATCH,
            "1.25",
            Severity.medium,
            (
                "Ingram Micro invoice ING-77: the total is 100.00 but its lines add up to "
                "101.25 (difference 1.25).",
            ),
            vendor=INGRAM,
            invoice=5,
        ),
        Want(
            T.INVOICE_TOTAL_MISMATCH,
            "1.50",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11: the total is 621.50 but its lines add up to "
                "620.00 (difference 1.50).",
            ),
            vendor=PAX8,
            invoice=7,
        ),
    ),
    # ---- MISSING_BILLING --------------------------------------------------------------------
    # Acme (456.00) is invoiced, Beta (117.33) is not, Gamma's revenue is 0.00.
    # MISSING_BILLING high for Beta only: impact 117.33, no service or vendor.
    case(
        "missing-billing",
        {
            "customer_revenue": {BETA: d("117.33"), ACME: d("456.00"), GAMMA: d("0.00")},
            "billed_customers": {ACME},
        },
        Want(
            T.MISSING_BILLING,
            "117.33",
            Severity.high,
            (
                "Beta GmbH: contracted revenue of 117.33 for 2026-11, but no customer "
                "invoice for the month.",
            ),
            customer=BETA,
        ),
    ),
    # ---- UNBILLED_ASSETS --------------------------------------------------------------------
    # Acme: 2 endpoints contracted at 7.50 (not the list 8.00), 3 deployed, installed on
    # 2026-11-02; no vendor invoiced, so no OVERBILLED. UNBILLED_ASSETS high, vendor Pax8
    # (the service's): expected 2, actual 3, expected unit 7.5000, no actual unit;
    # 1 x 7.50 = 7.50. The message says when they were installed, not the month's end.
    case(
        "unbilled-assets/with-contracted-units",
        {
            "contracts": {(ACME, EDR): contract(("2", "7.50"))},
            "deployed": {(ACME, EDR): 3},
            "installed": {(ACME, EDR): (date(2026, 11, 2), date(2026, 11, 2))},
        },
        Want(
            T.UNBILLED_ASSETS,
            "7.50",
            Severity.high,
            (
                "Acme Ltd: 3 x Managed endpoint (EDR) deployed by 2026-11-30 (installed "
                "2026-11-02) but the contract bills 2; 1 at 7.50 = 7.50 unbilled.",
            ),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
            expected_qty="2",
            actual_qty="3",
            expected_unit="7.5000",
        ),
    ),
    # Nothing contracted, so the list price: Beta's EDR line ended (0 units) with 1 device
    # deployed: 1 x 8.00 = 8.00, vendor Pax8; 2 workstations (in-house) with no line at
    # all, installed on two dates: 2 x 45.00 = 90.00, no vendor. Ordered by (customer,
    # service).
    case(
        "unbilled-assets/nothing-contracted-list-price",
        {
            "contracts": {(BETA, EDR): ended(revenue="4.00")},
            "deployed": {(BETA, WORKSTATION): 2, (BETA, EDR): 1},
            "installed": {(BETA, WORKSTATION): (date(2025, 3, 31), date(2026, 11, 30))},
        },
        Want(
            T.UNBILLED_ASSETS,
            "8.00",
            Severity.high,
            (
                "Beta GmbH: 1 x Managed endpoint (EDR) deployed by 2026-11-30 but the contract "
                "bills 0; 1 at 8.00 = 8.00 unbilled.",
            ),
            customer=BETA,
            service=EDR,
            vendor=PAX8,
            expected_qty="0",
            actual_qty="1",
            expected_unit="8.0000",
        ),
        Want(
            T.UNBILLED_ASSETS,
            "90.00",
            Severity.high,
            (
                "Beta GmbH: 2 x Managed workstation deployed by 2026-11-30 (installed between "
                "2025-03-31 and 2026-11-30) but the contract bills 0; 2 at 45.00 = 90.00 "
                "unbilled.",
            ),
            customer=BETA,
            service=WORKSTATION,
            expected_qty="0",
            actual_qty="2",
            expected_unit="45.0000",
        ),
    ),
    # Deployed not above contracted: 10 of 10 seats, 1 of 2 endpoints: nothing.
    case(
        "unbilled-assets/not-above-contracted",
        {
            "contracts": {
                (ACME, M365): contract(("10", "22.00")),
                (ACME, EDR): contract(("2", "8.00")),
            },
            "deployed": {(ACME, M365): 10, (ACME, EDR): 1},
        },
    ),
    # Rounds to 0.00: endpoints included free (contract price 0.00), 3 deployed, 2
    # contracted: 1 x 0.00 = 0.00, no finding.
    case(
        "unbilled-assets/free-contract-price",
        {
            "contracts": {(ACME, EDR): contract(("2", "0.00"))},
            "deployed": {(ACME, EDR): 3},
        },
    ),
    # ---- the vendor filter -----------------------------------------------------------------
    # Without a filter (_filter_inputs): ORPHANED (Beta, M365) 228.00; OVERBILLED (Acme,
    # EDR) 16.00 (Pax8); OVERBILLED (Acme, backup) (1000 - 0) x 0.10 = 100.00 (Ingram);
    # MISSING_BILLING Acme 116.00; UNBILLED_ASSETS (Acme, EDR) (3 - 2) x 8.00 = 8.00.
    case(
        "vendor-filter/off",
        _filter_inputs(None),
        _FILTER_ORPHANED,
        _FILTER_OVERBILLED_EDR,
        Want(
            T.OVERBILLED_UNITS,
            "100.00",
            Severity.medium,
            ("but Ingram Micro charged 0; 1000 units at 0.10 = 100.00",),
            customer=ACME,
            service=BACKUP,
            vendor=INGRAM,
            expected_qty="1000",
            actual_qty="0",
            expected_unit="0.1000",
        ),
        Want(
            T.MISSING_BILLING,
            "116.00",
            Severity.high,
            ("Acme Ltd: contracted revenue of 116.00 for 2026-11",),
            customer=ACME,
        ),
        Want(
            T.UNBILLED_ASSETS,
            "8.00",
            Severity.high,
            ("Acme Ltd: 3 x Managed endpoint (EDR) deployed by 2026-11-30",),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
            expected_qty="2",
            actual_qty="3",
            expected_unit="8.0000",
        ),
    ),
    # With vendor_id = Pax8: MISSING_BILLING and UNBILLED_ASSETS are left out, and
    # Ingram's OVERBILLED backup goes; Pax8's ORPHANED and OVERBILLED stay as they were.
    case(
        "vendor-filter/on",
        _filter_inputs(PAX8),
        _FILTER_ORPHANED,
        _FILTER_OVERBILLED_EDR,
    ),
]


@pytest.mark.parametrize(("inputs", "expected"), CASES)
def test_rules(inputs: dict[str, Any], expected: list[Want]) -> None:
    drafts = run_rules(audit(**inputs))
    assert [seen(draft) for draft in drafts] == [wanted(want) for want in expected]
    for draft, want in zip(drafts, expected, strict=True):
        for part in want.says:
            assert part in draft.message, f"{part!r} not in {draft.message!r}"


# --- the order of run_rules ------------------------------------------------------------------


def _everything(reverse: bool) -> AuditData:
    """Inputs for many findings of every rule; with `reverse` every dict and list is built
    in the opposite order (sets have none to give)."""

    def o(items: list[Any]) -> list[Any]:
        return items[::-1] if reverse else items

    return audit(
        contracts=dict(
            o(
                [
                    ((ACME, EDR), contract(("2", "8.00"))),
                    ((ACME, M365), contract(("20", "22.00"))),
                    ((BETA, EDR), contract(("1", "8.00"))),
                    ((ACME, WORKSTATION), contract(("1", "45.00"))),
                ]
            )
        ),
        vendor_positions=dict(
            o(
                [
                    ((BETA, M365), charged(PAX8, "12", "228.00")),
                    ((ACME, EDR), charged(PAX8, "3", "13.50")),
                    ((ACME, M365), charged(PAX8, "18", "342.00", lines=2)),
                    ((BETA, BACKUP), charged(INGRAM, "100", "5.00")),
                ]
            )
        ),
        duplicates=dict(
            o(
                [
                    (
                        (ACME, M365),
                        Duplicate(
                            PAX8,
                            ["PAX-2026-11-B"],
                            o(
                                [
                                    copy(7, "PAX-2026-11", 30, "171.00"),
                                    copy(7, "PAX-2026-11", 30, "0.00"),
                                ]
                            ),
                        ),
                    ),
                    (
                        (ACME, EDR),
                        Duplicate(PAX8, ["PAX-2026-11"], [copy(8, "PAX-2026-11-B", 1, "4.50")]),
                    ),
                ]
            )
        ),
        vendors_invoicing={PAX8, INGRAM},
        price_rises=o(
            [
                rise(8, "PAX-2026-11-B", PAX8, M365, "2", "38.00"),
                rise(7, "PAX-2026-11", PAX8, EDR, "3", "15.00"),
                rise(7, "PAX-2026-11", PAX8, M365, "12", "228.00"),
            ]
        ),
        unmapped=o(
            [
                UnmappedLine(
                    102, 7, "PAX-2026-11", PAX8, "CFQ7TTC0LCHC", "GAMMA-9", d("38.00"), M365, None
                ),
                UnmappedLine(
                    101, 7, "PAX-2026-11", PAX8, "AZ-RI-3Y", "ACME-001", d("120.00"), None, ACME
                ),
                UnmappedLine(103, 9, "ING-2026-11", INGRAM, "BK-X", "ZETA", d("5.00"), None, None),
            ]
        ),
        invoice_totals=o(
            [
                InvoiceTotal(7, "PAX-2026-11", PAX8, d("621.50"), d("620.00")),
                InvoiceTotal(5, "ING-77", INGRAM, d("100.00"), d("101.25")),
            ]
        ),
        customer_revenue=dict(o([(BETA, d("8.00")), (ACME, d("501.00"))])),
        deployed=dict(o([((BETA, WORKSTATION), 2), ((ACME, EDR), 5)])),
    )


def test_run_rules_order_is_deterministic() -> None:
    # Types in the order of docs/findings.md (RULES), and within a type by (customer,
    # service), (vendor invoice, service), vendor invoice line, invoice or customer.
    expected = [
        (T.ORPHANED_COST, BETA, M365, None, None),
        (T.ORPHANED_COST, BETA, BACKUP, None, None),
        (T.UNBILLED_UNITS, ACME, EDR, None, None),
        (T.OVERBILLED_UNITS, ACME, M365, None, None),
        (T.OVERBILLED_UNITS, BETA, EDR, None, None),
        (T.PRICE_INCREASE, None, M365, 7, None),
        (T.PRICE_INCREASE, None, EDR, 7, None),
        (T.PRICE_INCREASE, None, M365, 8, None),
        (T.UNMAPPED_SKU, ACME, None, 7, 101),
        (T.UNMAPPED_SKU, None, None, 9, 103),
        (T.UNMAPPED_ACCOUNT, None, M365, 7, 102),
        (T.UNMAPPED_ACCOUNT, None, None, 9, 103),
        (T.DUPLICATE_CHARGE, ACME, M365, None, None),
        (T.DUPLICATE_CHARGE, ACME, EDR, None, None),
        (T.INVOICE_TOTAL_MISMATCH, None, None, 5, None),
        (T.INVOICE_TOTAL_MISMATCH, None, None, 7, None),
        (T.MISSING_BILLING, ACME, None, None, None),
        (T.MISSING_BILLING, BETA, None, None, None),
        (T.UNBILLED_ASSETS, ACME, EDR, None, None),
        (T.UNBILLED_ASSETS, BETA, WORKSTATION, None, None),
    ]
    forward = run_rules(_everything(reverse=False))
    keys = [
        (f.type, f.customer_id, f.service_id, f.vendor_invoice_id, f.vendor_invoice_line_id)
        for f in forward
    ]
    assert keys == expected
    # The same findings, in the same order, whatever order the inputs came in, and again
    # on a second run over the same data (which reuses its cached vendor pairs).
    assert run_rules(_everything(reverse=True)) == forward
    data = _everything(reverse=False)
    assert run_rules(data) == run_rules(data) == forward
    # The types come in the order RULES lists them.
    order = list(RULES)
    assert [f.type for f in forward] == sorted((f.type for f in forward), key=order.index)
