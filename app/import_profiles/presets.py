"""The built-in import profiles (docs/vendor-bills.md#built-in-profiles): defined here, not
stored, so that they are the same on every deployment and nobody can change them. They
are addressed by name; they have no id."""

from __future__ import annotations

from app.import_profiles.parsing import Profile
from app.vendor_invoices.csv_import import CHARGE_COLUMNS
from app.vendor_invoices.models import LineKind

CANONICAL = "canonical"
PARTNER_CENTER = "microsoft-partner-center"
PAX8 = "pax8"

_canonical_fields = ("vendor_sku", "account_ref", "description", "quantity", "unit_cost", "amount")

PRESETS: tuple[Profile, ...] = (
    # The import's own format: read by csv_import.parse_csv, as it always has been.
    Profile(
        name=CANONICAL,
        columns={name: name for name in (*_canonical_fields, *CHARGE_COLUMNS)},
        optional=frozenset({"description", "amount", *CHARGE_COLUMNS}),
        canonical=True,
    ),
    # Partner Center's new-commerce billed invoice reconciliation file.
    Profile(
        name=PARTNER_CENTER,
        date_format="MM/DD/YYYY",
        columns={
            "vendor_sku": "{ProductId}:{SkuId}",
            "account_ref": "CustomerId",
            "description": "SkuName",
            "quantity": "BillableQuantity",
            "unit_cost": "UnitPrice",
            "amount": "Subtotal",
            "charge_start": "ChargeStartDate",
            "charge_end": "ChargeEndDate",
            "subscription_ref": "SubscriptionId",
            "term_end": "SubscriptionEndDate",
            "invoice_number": "InvoiceNumber",
            "currency": "Currency",
            "cycle": "BillingFrequency",
        },
        kinds=(
            ("ChargeType", "customerCredit", LineKind.one_time),
            ("UnitType", "Licenses", LineKind.recurring),
            ("UnitType", "*", LineKind.usage),
        ),
        cycle_months={"Monthly": 1, "Annual": 12, "Triennial": 36, "*": 1},
        # Older exports and hand-trimmed files may lack it: the term then ends with the
        # charge (docs/cancellations.md#term-end).
        optional=frozenset({"term_end"}),
    ),
    # Pax8's invoice items export.
    Profile(
        name=PAX8,
        columns={
            "vendor_sku": "sku",
            "account_ref": "companyId",
            "description": "description",
            "quantity": "quantity",
            "unit_cost": "cost",
            "amount": "costTotal",
            "charge_start": "startPeriod",
            "charge_end": "endPeriod",
            "subscription_ref": "subscriptionId",
            "currency": "currencyCode",
            "cycle": "term",
        },
        kinds=(
            ("type", "subscription", LineKind.recurring),
            ("type", "prorate", LineKind.recurring),
            ("type", "one-time", LineKind.one_time),
            ("type", "usage", LineKind.usage),
            ("type", "*", LineKind.adjustment),
        ),
        cycle_months={"Annual": 12, "*": 1},
    ),
)

BY_NAME = {profile.name: profile for profile in PRESETS}
