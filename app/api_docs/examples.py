"""One request body per operation that takes one, as a client would send it: shown in
Swagger UI's "Try it out" and ReDoc, and read by client generators. tests/test_openapi.py
checks that each one is valid for its operation's body model."""

from __future__ import annotations

from typing import Any

_INVOICE = {
    "invoice_number": "INV-2026-10-001",
    "invoice_date": "2026-11-02",
    "period": "2026-10",
    "currency": "USD",
    "total": "1312.50",
    "lines": [
        {
            "vendor_sku": "AV-ENDPOINT",
            "account_ref": "ACME-001",
            "description": "Endpoint protection, October",
            "quantity": "45",
            "unit_cost": "3.50",
        },
        {
            "vendor_sku": "CFQ7TTC0LCHC:0002",
            "account_ref": "ACME-001",
            "quantity": "10",
            "unit_cost": "22.00",
            "charge_start": "2026-10-01",
            "charge_end": "2026-10-31",
            "subscription_ref": "6dc5c039-750a-4f6e-9c3a-000000000001",
            "term_end": "2027-09-30",
        },
        {
            "kind": "usage",
            "vendor_sku": "BACKUP-GB",
            "account_ref": "ACME-001",
            "quantity": "987.3",
            "unit_cost": "0.087512",
            "amount": "86.40",
        },
    ],
}

REQUEST_EXAMPLES: dict[str, Any] = {
    "create_customer": {
        "name": "Acme Dental",
        "external_ref": "PSA-1001",
        "quickbooks_id": "58",
        "active": True,
    },
    "update_customer": {"name": "Acme Dental Group", "active": True},
    "create_vendor_account": {"vendor_id": 3, "account_ref": "ACME-001"},
    "create_vendor": {"name": "Microsoft (direct)", "currency": "USD", "cancel_window_days": 7},
    "update_vendor": {"name": "Pax8 US", "cancel_window_days": None},
    "rotate_webhook_secret": {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
    "create_service": {
        "name": "Endpoint protection",
        "sku": "AV-SEAT",
        "unit": "seat",
        "unit_price": "6.00",
        "unit_cost": "3.50",
        "vendor_id": 3,
        "vendor_sku": "AV-ENDPOINT",
        "revenue_account": "4100 Managed Services",
    },
    "update_service": {"unit_price": "6.50"},
    "create_service_cost": {"effective_from": "2027-01-01", "unit_cost": "3.850000"},
    "create_tolerance": {
        "type": "UNBILLED_UNITS",
        "service_id": 3,
        "max_units": "1",
        "max_percent": "2.00",
        "max_impact": "25.00",
    },
    "create_event_subscription": {
        "url": "https://psa.example.com/hooks/msp-ledger",
        "events": ["vendor_invoice.received", "finding.opened"],
    },
    "update_event_subscription": {"active": False},
    "create_contract": {
        "customer_id": 7,
        "name": "Managed services 2026",
        "external_ref": "AGR-2026-07",
        "start_date": "2026-01-01",
        "end_date": None,
    },
    "update_contract": {"end_date": "2026-12-31"},
    "cancel_contract": {"effective_date": "2026-10-15"},
    "create_contract_line": {
        "service_id": 12,
        "quantity": "45",
        "unit_price": "6.00",
        "start_date": "2026-01-01",
    },
    "update_contract_line": {"unit_price": "6.50", "description": "Endpoint protection"},
    "create_adjustment": {
        "effective_date": "2026-10-15",
        "quantity": "48",
        "note": "3 new hires",
    },
    "create_asset": {
        "customer_id": 7,
        "service_id": 12,
        "name": "ACME-WS-014",
        "serial": "5CD1234XYZ",
        "installed_on": "2026-03-02",
    },
    "update_asset": {"removed_on": "2026-10-20"},
    "import_vendor_invoice": {
        "file": "vendor_sku,account_ref,description,quantity,unit_cost,amount\r\n"
        "AV-ENDPOINT,ACME-001,Endpoint protection,45,3.50,157.50\r\n",
        "vendor_id": 3,
        "invoice_number": "INV-2026-10-001",
        "invoice_date": "2026-11-02",
        "period": "2026-10",
        "total": "157.50",
    },
    "create_vendor_invoice": {"vendor_id": 3, **_INVOICE},
    "create_import_profile": {
        "name": "pax8-monthly",
        "vendor_id": 3,
        "date_format": "MM/DD/YYYY",
        "columns": {
            "vendor_sku": "{ProductId}:{SkuId}",
            "account_ref": "CompanyId",
            "quantity": "Qty",
            "unit_cost": "Price",
            "charge_start": "StartDate",
            "charge_end": "EndDate",
        },
        "kinds": [{"column": "ChargeType", "equals": "Usage", "kind": "usage"}],
        "skip": [{"column": "Qty", "equals": "0"}],
    },
    "update_import_profile": {"delimiter": ";", "decimal_separator": ","},
    "receive_vendor_invoice": _INVOICE,
    "create_customer_invoice": {
        "customer_id": 7,
        "number": "C-2026-10-0042",
        "period": "2026-10",
        "issue_date": "2026-10-01",
        "status": "posted",
        "lines": [
            {
                "service_id": 12,
                "description": "Endpoint protection",
                "quantity": "45",
                "unit_price": "6.00",
            },
            {"description": "Onboarding (one-off)", "quantity": "1", "unit_price": "250.00"},
        ],
    },
    "update_customer_invoice": {"status": "posted"},
    "create_billing_run": {"period": "2026-10"},
    "create_audit": {"period": "2026-10", "vendor_id": 3},
    "update_finding": {"status": "acknowledged", "note": "Seat count fixed in the PSA"},
    "fix_finding": {"action": "match_contract", "effective_date": "2026-10-01"},
    "put_target": {"revenue": "50000.00", "profit": "15000.00"},
    "preview_quote": {
        "customer_id": 7,
        "lines": [
            {"service_id": 12, "quantity": "45"},
            {"service_id": 14, "quantity": "500", "unit_price": "0.15"},
        ],
        "margin_floor": "0.25",
    },
    "create_api_key": {"name": "PSA integration", "scopes": ["read", "write"]},
}
