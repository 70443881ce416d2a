"""The audit rules of app/audits/rules.py as pure functions: `AuditData` built by hand, no
database and no HTTP, so these run once, not once per backend.

One table row per rule and per edge. Each row lists every finding `run_rules` must give
for its data (so a row also proves that no other rule fires), worked out by hand in the
comment above it: type, customer, service, vendor, vendor invoice, expected/actual
quantity and unit amount, impact to the cent, severity and the key parts of the message.
The rules themselves are written up in docs/findings.md.

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
    InvoiceCharge,
    InvoiceTotal,
    PriceRise,
    UnmappedLine,
    VendorPosition,
)
from app.audits.models import FindingType, Severity
from app.audits.rules import RULES, Draft, run_rules
from app.core.periods import Period
from app.services.models import Service

T = FindingType
NOV = Period(2026, 11)

PAX8, INGRAM = 1, 2
ACME, BETA, GAMMA = 1, 2, 3
M365, EDR, BACKUP, WORKSTATION = 10, 20, 30, 40


# --- builders --------------------------------------------------------------------------------


def d(text: str) -> Decimal:
    return Decimal(text)


def _service(
    service_id: int, name: str, price: str, cost: str, vendor_id: int | None, sku: str
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
    )


SERVICES = {
    M365: _service(M365, "Microsoft 365 Business Premium", "22.00", "18.00", PAX8, "CFQ7TTC0LCHC"),
    EDR: _service(EDR, "Managed endpoint (EDR)", "8.00", "4.50", PAX8, "EDR-AGENT"),
    BACKUP: _service(BACKUP, "Cloud backup", "0.10", "0.05", INGRAM, "BK-GB"),
    WORKSTATION: _service(WORKSTATION, "Managed workstation", "45.00", "20.00", None, "MWS"),
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


def charged(vendor_id: int, units: str, amount: str, lines: int = 1) -> VendorPosition:
    """Matched vendor lines of one (customer, service): their summed quantity and amount."""
    return VendorPosition(vendor_id, d(units), d(amount), lines)


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
    # 18.50: 6 units, weight 19.99 + 92.50 = 112.49, price 112.49 / 6 = 18.748333...
    # Pax8 charges 9 seats for 162.00 (mean 18.00). Missing 3: exactly 3 x 112.49 / 6 =
    # 56.245 -> 56.25 half-up. (Rounding the price first would give 3 x 18.7483 = 56.2449
    # -> 56.24.) Stored unit 18.7483 (4 places); no NEGATIVE_MARGIN (18.75 > 18.00).
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
                "the contract bills 6; 3 unbilled at 18.7483 = 56.25.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
            expected_qty="6",
            actual_qty="9",
            expected_unit="18.7483",
            actual_unit="18.0000",
        ),
    ),
    # Half-up at exactly half a cent: 1000 GB contracted at 0.10, Ingram charges 1000.05 GB
    # for 50.00. (1000.05 - 1000) x 0.10 = 0.005 -> 0.01 (half-even would give 0.00 and no
    # finding). Mean cost 50.00 / 1000.05 = 0.04999750... -> 0.0500.
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
            actual_unit="0.0500",
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
    # Pax8 invoice 7 (PAX-2026-11): 32 seats at 19.00 = 608.00 above the standard 18.00;
    # no October figure. PRICE_INCREASE medium, service M365, Pax8, invoice 7, no customer:
    # actual 32, expected unit 18.00 (the standard), actual unit 19.0000, no previous;
    # 608.00 - 18.00 x 32 = 32.00. The message ends "more)." (no October clause).
    case(
        "price-increase/no-previous-month",
        {"price_rises": [PriceRise(7, "PAX-2026-11", PAX8, M365, d("32"), d("608.00"))]},
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
    # 19.1667. October's mean cost 56.00 / 3 = 18.6666... -> previous 18.6667.
    case(
        "price-increase/with-previous-month",
        {
            "price_rises": [PriceRise(7, "PAX-2026-11", PAX8, M365, d("15"), d("287.50"))],
            "previous_mean_cost": {M365: Fraction(56, 3)},
        },
        Want(
            T.PRICE_INCREASE,
            "17.50",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at a mean "
                "19.1667 per unit against the standard cost 18.00 (15 units, 17.50 more); "
                "the mean unit cost in 2026-10 was 18.6667.",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="15",
            expected_unit="18.00",
            actual_unit="19.1667",
            previous_unit="18.6667",
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
                PriceRise(8, "PAX-2026-11-B", PAX8, M365, d("2"), d("38.00")),
                PriceRise(7, "PAX-2026-11", PAX8, EDR, d("3"), d("15.00")),
                PriceRise(7, "PAX-2026-11", PAX8, M365, d("12"), d("228.00")),
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
    # Quantities netting to 0: 5 seats at 20.00 and a credit of -5 at 19.00, both above
    # 18.00: quantity 0, cost 100.00 - 95.00 = 5.00; impact 5.00 - 18.00 x 0 = 5.00 (as
    # (2.00 x 5) + (1.00 x -5) = 5.00). No mean (0 units): no actual unit, and the message
    # says "at more per unit" (current wording).
    case(
        "price-increase/quantity-nets-to-zero",
        {"price_rises": [PriceRise(7, "PAX-2026-11", PAX8, M365, d("0"), d("5.00"))]},
        Want(
            T.PRICE_INCREASE,
            "5.00",
            Severity.medium,
            (
                "Pax8 invoice PAX-2026-11 charged Microsoft 365 Business Premium at more per "
                "unit against the standard cost 18.00 (0 units, 5.00 more).",
            ),
            service=M365,
            vendor=PAX8,
            invoice=7,
            actual_qty="0",
            expected_unit="18.00",
        ),
    ),
    # Rounds to 0.00: Ingram charges 40 GB at 0.0501 (cost 2.004) against 0.05:
    # 2.004 - 2.000 = 0.004 -> 0.00, no finding.
    case(
        "price-increase/rounds-to-zero",
        {"price_rises": [PriceRise(9, "ING-2026-11", INGRAM, BACKUP, d("40"), d("2.004"))]},
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
    # Acme's M365 on two Pax8 invoices: 8 PAX-2026-11-B dated 2026-11-01 (190.00) and 9
    # PAX-2026-11-A dated 2026-11-30 (38.00). The earliest by date is B (though A comes
    # first by number): impact 38.00, high; no invoice id, no quantities. 12 seats charged
    # in all (228.00, mean 19.00) and 12 contracted at 22.00, so no other rule fires.
    case(
        "duplicate-charge/earliest-by-date",
        {
            "contracts": {(ACME, M365): contract(("12", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "12", "228.00", lines=2)},
            "charges": {
                (ACME, M365): [
                    InvoiceCharge(9, "PAX-2026-11-A", date(2026, 11, 30), d("38.00")),
                    InvoiceCharge(8, "PAX-2026-11-B", date(2026, 11, 1), d("190.00")),
                ]
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "38.00",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Microsoft 365 Business Premium on 2 invoices for "
                "2026-11 (PAX-2026-11-B, PAX-2026-11-A); 38.00 beyond the first, "
                "PAX-2026-11-B.",
            ),
            customer=ACME,
            service=M365,
            vendor=PAX8,
        ),
    ),
    # Three invoices of the same date: the earliest by number, PAX-0101 (id 13, listed
    # second), is kept; 9.00 (PAX-0103) + 4.50 (PAX-0102) = 13.50. 5 endpoints charged in
    # all (22.50, mean 4.50), 5 contracted at 8.00: nothing else.
    case(
        "duplicate-charge/same-date-by-number",
        {
            "contracts": {(ACME, EDR): contract(("5", "8.00"))},
            "vendor_positions": {(ACME, EDR): charged(PAX8, "5", "22.50", lines=3)},
            "charges": {
                (ACME, EDR): [
                    InvoiceCharge(11, "PAX-0103", date(2026, 11, 30), d("9.00")),
                    InvoiceCharge(13, "PAX-0101", date(2026, 11, 30), d("9.00")),
                    InvoiceCharge(12, "PAX-0102", date(2026, 11, 30), d("4.50")),
                ]
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "13.50",
            Severity.high,
            (
                "Acme Ltd: Pax8 charged Managed endpoint (EDR) on 3 invoices for 2026-11 "
                "(PAX-0101, PAX-0102, PAX-0103); 13.50 beyond the first, PAX-0101.",
            ),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
        ),
    ),
    # CURRENT BEHAVIOUR, which docs/findings.md ("DUPLICATE_CHARGE": "by invoice_date,
    # then invoice_number") leaves open: numbers compare as text, so on the same date
    # "PAX-10" comes before "PAX-9" and PAX-10 is the one kept; PAX-9's 9.00 is the impact.
    case(
        "duplicate-charge/same-date-number-as-text",
        {
            "contracts": {(ACME, EDR): contract(("4", "8.00"))},
            "vendor_positions": {(ACME, EDR): charged(PAX8, "4", "18.00", lines=2)},
            "charges": {
                (ACME, EDR): [
                    InvoiceCharge(1, "PAX-9", date(2026, 11, 30), d("9.00")),
                    InvoiceCharge(2, "PAX-10", date(2026, 11, 30), d("9.00")),
                ]
            },
            "vendors_invoicing": {PAX8},
        },
        Want(
            T.DUPLICATE_CHARGE,
            "9.00",
            Severity.high,
            ("on 2 invoices for 2026-11 (PAX-10, PAX-9); 9.00 beyond the first, PAX-10.",),
            customer=ACME,
            service=EDR,
            vendor=PAX8,
        ),
    ),
    # Rounds to 0.00: the later invoice charges 0.00 for the pair: no finding.
    case(
        "duplicate-charge/copies-zero",
        {
            "contracts": {(ACME, M365): contract(("12", "22.00"))},
            "vendor_positions": {(ACME, M365): charged(PAX8, "12", "228.00", lines=2)},
            "charges": {
                (ACME, M365): [
                    InvoiceCharge(8, "PAX-2026-11", date(2026, 11, 1), d("228.00")),
                    InvoiceCharge(9, "PAX-2026-11-ADJ", date(2026, 11, 15), d("0.00")),
                ]
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
    # Acme: 2 endpoints contracted at 7.50 (not the list 8.00), 3 deployed; no vendor
    # invoiced, so no OVERBILLED. UNBILLED_ASSETS high, vendor Pax8 (the service's):
    # expected 2, actual 3, expected unit 7.5000, no actual unit; 1 x 7.50 = 7.50.
    case(
        "unbilled-assets/with-contracted-units",
        {
            "contracts": {(ACME, EDR): contract(("2", "7.50"))},
            "deployed": {(ACME, EDR): 3},
        },
        Want(
            T.UNBILLED_ASSETS,
            "7.50",
            Severity.high,
            (
                "Acme Ltd: 3 x Managed endpoint (EDR) deployed on 2026-11-30 but the "
                "contract bills 2; 1 at 7.50 = 7.50 unbilled.",
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
    # all: 2 x 45.00 = 90.00, no vendor. Ordered by (customer, service).
    case(
        "unbilled-assets/nothing-contracted-list-price",
        {
            "contracts": {(BETA, EDR): ended(revenue="4.00")},
            "deployed": {(BETA, WORKSTATION): 2, (BETA, EDR): 1},
        },
        Want(
            T.UNBILLED_ASSETS,
            "8.00",
            Severity.high,
            (
                "Beta GmbH: 1 x Managed endpoint (EDR) deployed on 2026-11-30 but the contract "
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
                "Beta GmbH: 2 x Managed workstation deployed on 2026-11-30 but the contract "
                "bills 0; 2 at 45.00 = 90.00 unbilled.",
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
            ("Acme Ltd: 3 x Managed endpoint (EDR) deployed on 2026-11-30",),
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
        charges={
            (ACME, M365): o(
                [
                    InvoiceCharge(8, "PAX-2026-11-B", date(2026, 11, 1), d("190.00")),
                    InvoiceCharge(7, "PAX-2026-11", date(2026, 11, 30), d("152.00")),
                ]
            )
        },
        vendors_invoicing={PAX8, INGRAM},
        price_rises=o(
            [
                PriceRise(8, "PAX-2026-11-B", PAX8, M365, d("2"), d("38.00")),
                PriceRise(7, "PAX-2026-11", PAX8, EDR, d("3"), d("15.00")),
                PriceRise(7, "PAX-2026-11", PAX8, M365, d("12"), d("228.00")),
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
