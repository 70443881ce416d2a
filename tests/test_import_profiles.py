"""Import profiles through HTTP (docs/vendor-bills.md#import-profiles): the resource and
its validation, and distributors' files imported unedited through the built-in profiles,
every line checked against hand-worked figures.

The sample files are written by the helpers below (tests/samples/), in the layout and
with the column names of the distributors' exports; no figure in them comes from
anywhere else.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.import_profiles.parsing import LINE_PLACES, parse_date, parse_number
from app.vendor_invoices.models import VendorInvoice, VendorInvoiceLine
from tests.helpers import assert_problem, create, customer, service, vendor

PROFILES = "/api/v1/import-profiles"
IMPORT = "/api/v1/vendor-invoices/import"
SAMPLES = Path(__file__).resolve().parent / "samples"


# --- the sample files ----------------------------------------------------------------------

PC_COLUMNS = (
    "PartnerId,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,InvoiceNumber,"
    "MpnId,Tier2MpnId,OrderId,OrderDate,ProductId,SkuId,AvailabilityId,SkuName,ProductName,"
    "ChargeType,UnitPrice,Quantity,Subtotal,TaxTotal,Total,Currency,"
    "PriceAdjustmentDescription,PublisherName,PublisherId,SubscriptionDescription,"
    "SubscriptionId,ChargeStartDate,ChargeEndDate,TermAndBillingCycle,EffectiveUnitPrice,"
    "UnitType,AlternateId,BillableQuantity,BillingFrequency,PricingCurrency,"
    "PCToBCExchangeRate,PCToBCExchangeRateDate,MeterDescription,ReservationOrderId,"
    "CreditReasonCode,SubscriptionStartDate,SubscriptionEndDate,ReferenceId,"
    "ProductQualifiers,PromotionId,ProductCategory"
).split(",")

CUSTOMERS = {
    "A": ("3f2c1a9e-7b4d-4e1a-9c2f-000000000a01", "Acme Ltd", "acme.onmicrosoft.com"),
    "B": ("3f2c1a9e-7b4d-4e1a-9c2f-000000000b02", "Beta GmbH", "betagmbh.onmicrosoft.com"),
    "C": ("3f2c1a9e-7b4d-4e1a-9c2f-000000000c03", "Cyan Inc", "cyaninc.onmicrosoft.com"),
}
PRODUCTS = {
    "BP": ("CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium"),
    "DEF": ("CFQ7TTC0LH18", "0001", "Microsoft Defender for Business"),
    "E3": ("CFQ7TTC0LFLZ", "0001", "Microsoft 365 E3"),
    "E5": ("CFQ7TTC0LFK5", "0001", "Microsoft 365 E5"),
    "AZ": ("DZH318Z0BPS6", "0001", "Azure plan"),
}
G1, G2 = "G012345678", "G012345679"

# invoice, customer, product, ChargeType, UnitPrice, BillableQuantity, Subtotal,
# ChargeStartDate, ChargeEndDate, UnitType, BillingFrequency;
# then what the line must be: kind, charge_start, charge_end, quantity, unit_cost, amount.
PC_ROWS: list[tuple[str, str]] = [
    # A month of 10 seats.
    (
        "G012345678|A|BP|cycleCharge|22.00|10|220.00|11/01/2026|11/30/2026|Licenses|Monthly",
        "recurring|2026-11-01|2026-11-30|10|22.00|220.00",
    ),
    # A prorated pair: 5 seats to the 14th (5 x 3.00 x 14/30 = 7.00), 8 from the 15th
    # (8 x 3.00 x 16/30 = 12.80).
    (
        "G012345678|A|DEF|cycleCharge|3.00|5|7.00|11/01/2026|11/14/2026|Licenses|Monthly",
        "recurring|2026-11-01|2026-11-14|5|3.00|7.00",
    ),
    (
        "G012345678|A|DEF|addQuantity|3.00|8|12.80|11/15/2026|11/30/2026|Licenses|Monthly",
        "recurring|2026-11-15|2026-11-30|8|3.00|12.80",
    ),
    # Annual terms: the unit price is for 12 months: 264.00 / 12 = 22.00;
    # 250.00 / 12 = 20.83333... -> 20.833333 (6 places, half-up).
    (
        "G012345678|B|BP|new|264.00|3|792.00|11/10/2026|11/09/2027|Licenses|Annual",
        "recurring|2026-11-10|2027-11-09|3|22.00|792.00",
    ),
    (
        "G012345678|B|E3|new|250.00|1|250.00|11/01/2026|10/31/2027|Licenses|Annual",
        "recurring|2026-11-01|2027-10-31|1|20.833333|250.00",
    ),
    # Triennial: 1000.00 / 36 = 27.7777... -> 27.777778 (half-up); a thousands separator.
    (
        "G012345678|C|E5|new|1000.00|2|2,000.00|11/05/2026|11/04/2029|Licenses|Triennial",
        "recurring|2026-11-05|2029-11-04|2|27.777778|2000.00",
    ),
    # customerCredit: a one-time credit, whatever its unit type.
    (
        "G012345678|A|BP|customerCredit|22.00|-2|-14.67|11/20/2026|11/30/2026|Licenses|Monthly",
        "one_time|2026-11-20|2026-11-30|-2|22.00|-14.67",
    ),
    # Usage with more places than a line holds (6) and an amount: rounded half-up to 6.
    # 123.4567894 -> 123.456789, 0.08751254 -> 0.087513; 10.0000005 -> 10.000001,
    # 0.1234565 -> 0.123457.
    (
        "G012345678|A|AZ|new|0.08751254|123.4567894|10.80|11/01/2026|11/30/2026|1 Hour|",
        "usage|2026-11-01|2026-11-30|123.456789|0.087513|10.80",
    ),
    (
        "G012345678|B|AZ|new|0.1234565|10.0000005|1.23|11/01/2026|11/30/2026|1 GB|",
        "usage|2026-11-01|2026-11-30|10.000001|0.123457|1.23",
    ),
    (
        "G012345678|C|BP|cycleCharge|22.00|60|1,320.00|11/01/2026|11/30/2026|Licenses|Monthly",
        "recurring|2026-11-01|2026-11-30|60|22.00|1320.00",
    ),
    # A seat removed from the 15th: a recurring credit, 1 x 3.00 x 16/30 = 1.60.
    (
        "G012345678|B|DEF|removeQuantity|3.00|-1|-1.60|11/15/2026|11/30/2026|Licenses|Monthly",
        "recurring|2026-11-15|2026-11-30|-1|3.00|-1.60",
    ),
    (
        "G012345678|C|BP|customerCredit|22.00|-5|-110.00|11/01/2026|11/30/2026|Licenses|Monthly",
        "one_time|2026-11-01|2026-11-30|-5|22.00|-110.00",
    ),
    (
        "G012345678|A|E3|cycleCharge|36.00|4|144.00|11/01/2026|11/30/2026|Licenses|Monthly",
        "recurring|2026-11-01|2026-11-30|4|36.00|144.00",
    ),
    (
        "G012345678|B|AZ|new|0.0452|200|9.04|11/01/2026|11/30/2026|1 Hour|",
        "usage|2026-11-01|2026-11-30|200|0.0452|9.04",
    ),
    # The second invoice of the file.
    (
        "G012345679|A|BP|cycleCharge|22.00|12|264.00|11/15/2026|12/14/2026|Licenses|Monthly",
        "recurring|2026-11-15|2026-12-14|12|22.00|264.00",
    ),
    (
        "G012345679|B|BP|cycleCharge|22.00|4|88.00|12/01/2026|12/31/2026|Licenses|Monthly",
        "recurring|2026-12-01|2026-12-31|4|22.00|88.00",
    ),
    (
        "G012345679|C|DEF|cycleCharge|3.00|2|6.00|12/01/2026|12/31/2026|Licenses|Monthly",
        "recurring|2026-12-01|2026-12-31|2|3.00|6.00",
    ),
    (
        "G012345679|A|DEF|customerCredit|3.00|-1|-3.00|12/01/2026|12/31/2026|Licenses|Monthly",
        "one_time|2026-12-01|2026-12-31|-1|3.00|-3.00",
    ),
    # 432.00 / 12 = 36.00.
    (
        "G012345679|B|E3|new|432.00|2|864.00|12/01/2026|11/30/2027|Licenses|Annual",
        "recurring|2026-12-01|2027-11-30|2|36.00|864.00",
    ),
    (
        "G012345679|C|AZ|new|0.0875|10|0.88|12/01/2026|12/31/2026|1 Hour|",
        "usage|2026-12-01|2026-12-31|10|0.0875|0.88",
    ),
]
PC_TABLE = [(tuple(cells.split("|")), tuple(line.split("|"))) for cells, line in PC_ROWS]
# Hand-summed line amounts: the totals when the form gives none.
PC_TOTALS = {G1: "4640.60", G2: "1219.88"}


def _csv(header: list[str], rows: list[dict[str, str]], *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def _save(name: str, content: bytes) -> bytes:
    SAMPLES.mkdir(exist_ok=True)
    path = SAMPLES / name
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)
    return content


def pc_row(number: int, cells: tuple[str, ...], **override: str) -> dict[str, str]:
    invoice, who, product, charge, price, quantity, subtotal, start, end, unit, freq = cells
    customer_id, name, domain = CUSTOMERS[who]
    product_id, sku_id, sku_name = PRODUCTS[product]
    term = {"Annual": "1 Year", "Triennial": "3 Years"}.get(freq, "1 Month" if freq else "")
    row = {
        "PartnerId": "0e195b37-4574-4539-bc42-0e539b9684c0",
        "CustomerId": customer_id,
        "CustomerName": name,
        "CustomerDomainName": domain,
        "CustomerCountry": "US",
        "InvoiceNumber": invoice,
        "MpnId": "6034453",
        "Tier2MpnId": "",
        "OrderId": f"0ET2qaZvJGfF9wgSKnWzR5JLmhp10lOc{number:02d}",
        "OrderDate": start,
        "ProductId": product_id,
        "SkuId": sku_id,
        "AvailabilityId": "DZH318Z09MW0",
        "SkuName": sku_name,
        "ProductName": sku_name,
        "ChargeType": charge,
        "UnitPrice": price,
        "Quantity": quantity.lstrip("-"),
        "Subtotal": subtotal,
        "TaxTotal": "0",
        "Total": subtotal,
        "Currency": "USD",
        "PriceAdjustmentDescription": "",
        "PublisherName": "Microsoft Corporation",
        "PublisherId": "",
        "SubscriptionDescription": sku_name,
        "SubscriptionId": f"6dc5c039-750a-4f6e-9c3a-{number:012d}",
        "ChargeStartDate": start,
        "ChargeEndDate": end,
        "TermAndBillingCycle": f"{term} Subscription" if term else "",
        "EffectiveUnitPrice": price,
        "UnitType": unit,
        "AlternateId": f"{number:012x}",
        "BillableQuantity": quantity,
        "BillingFrequency": freq,
        "PricingCurrency": "USD",
        "PCToBCExchangeRate": "1",
        "PCToBCExchangeRateDate": "10/31/2026",
        "MeterDescription": "",
        "ReservationOrderId": "",
        "CreditReasonCode": "Seat removal" if charge == "customerCredit" else "",
        "SubscriptionStartDate": start,
        "SubscriptionEndDate": end,
        "ReferenceId": "",
        "ProductQualifiers": "",
        "PromotionId": "",
        "ProductCategory": "Azure" if product == "AZ" else "OnlineServicesNCE",
    }
    row.update(override)
    return row


def partner_center_file(overrides: dict[int, dict[str, str]] | None = None) -> bytes:
    """The new-commerce billed invoice reconciliation file, as Partner Center exports it
    (UTF-8 with a BOM, CRLF, MM/DD/YYYY dates)."""
    overrides = overrides or {}
    rows = [
        pc_row(i, cells, **overrides.get(i, {})) for i, (cells, _) in enumerate(PC_TABLE, start=1)
    ]
    content = _csv(PC_COLUMNS, rows, bom=True)
    return _save("partner_center_recon.csv", content) if not overrides else content


PAX8_COLUMNS = (
    "id,invoiceId,companyId,companyName,productId,productName,sku,description,type,"
    "chargeType,term,startPeriod,endPeriod,quantity,price,subTotal,cost,costTotal,"
    "billingFee,rateType,currencyCode,subscriptionId,purchaseOrderNumber,externalId"
).split(",")
COMPANIES = {"1": "Acme Ltd", "2": "Beta GmbH", "3": "Cyan Inc", "": ""}

# companyId, sku, description, type, term, startPeriod, endPeriod, quantity, cost,
# costTotal; then kind, charge_start, charge_end, quantity, unit_cost, amount.
PAX8_ROWS: list[tuple[str, str]] = [
    (
        "1|MST-365-BP-M|Microsoft 365 Business Premium|subscription|"
        "Monthly|2026-11-01|2026-11-30|10|18.50|185.00",
        "recurring|2026-11-01|2026-11-30|10|18.50|185.00",
    ),
    # A prorated pair: 2 seats added on the 15th (2 x 18.50 x 16/30 = 19.73), one removed on
    # the 20th (1 x 18.50 x 11/30 = 6.78, written "(6.78)").
    (
        "1|MST-365-BP-M|Microsoft 365 Business Premium|prorate|"
        "Monthly|2026-11-15|2026-11-30|2|18.50|19.73",
        "recurring|2026-11-15|2026-11-30|2|18.50|19.73",
    ),
    (
        "1|MST-365-BP-M|Microsoft 365 Business Premium|prorate|"
        "Monthly|2026-11-20|2026-11-30|-1|18.50|(6.78)",
        "recurring|2026-11-20|2026-11-30|-1|18.50|-6.78",
    ),
    # Annual: 264.00 / 12 = 22.00; 1,234.56 / 12 = 102.88; thousands separators.
    (
        "2|MST-365-BP-M|Microsoft 365 Business Premium|subscription|"
        "Annual|2026-11-01|2027-10-31|5|264.00|1,320.00",
        "recurring|2026-11-01|2027-10-31|5|22.00|1320.00",
    ),
    (
        "2|MST-EXO-P2-A|Exchange Online (Plan 2)|subscription|Annual|"
        "2026-11-10|2027-11-09|1|1,234.56|1,234.56",
        "recurring|2026-11-10|2027-11-09|1|102.88|1234.56",
    ),
    # Currency signs.
    (
        "3|S1-CTRL|SentinelOne Control|subscription|Monthly|2026-11-01|2026-11-30|25|$4.25|$106.25",
        "recurring|2026-11-01|2026-11-30|25|4.25|106.25",
    ),
    (
        "1|PAX8-ONB|Onboarding fee|one-time|One-Time|2026-11-03|2026-11-03|1|150.00|150.00",
        "one_time|2026-11-03|2026-11-03|1|150.00|150.00",
    ),
    # Usage: 1234.5678915 -> 1234.567892 and 0.0456785 -> 0.045679 (half-up to 6), the
    # amount as billed.
    (
        "2|ACR-BKP-GB|Acronis Cyber Protect - Backup (per GB)|usage|"
        "Monthly|2026-11-01|2026-11-30|1234.5678915|0.0456785|56.39",
        "usage|2026-11-01|2026-11-30|1234.567892|0.045679|56.39",
    ),
    # A spreadsheet's text marker before a number.
    (
        "3|ACR-BKP-GB|Acronis Cyber Protect - Backup (per GB)|usage|"
        "Monthly|2026-11-01|2026-11-30|'500|0.045|22.50",
        "usage|2026-11-01|2026-11-30|500|0.045|22.50",
    ),
    # Credits, rebates and fees: adjustments, with or without a company.
    (
        "||Service credit: outage on 2026-11-12|credit||2026-11-30|2026-11-30|1|(12.00)|(12.00)",
        "adjustment|2026-11-30|2026-11-30|1|-12.00|-12.00",
    ),
    (
        "||Partner rebate Q3|rebate||2026-11-30|2026-11-30|1|(25.00)|(25.00)",
        "adjustment|2026-11-30|2026-11-30|1|-25.00|-25.00",
    ),
    (
        "1|MST-DEF-M|Microsoft Defender for Business|subscription|"
        "Monthly|2026-11-01|2026-11-30|10|3.00|30.00",
        "recurring|2026-11-01|2026-11-30|10|3.00|30.00",
    ),
    (
        "2|MST-DEF-M|Microsoft Defender for Business|prorate|Monthly|"
        "2026-11-15|2026-11-30|3|3.00|4.80",
        "recurring|2026-11-15|2026-11-30|3|3.00|4.80",
    ),
    (
        "2|MST-DEF-M|Microsoft Defender for Business|prorate|Monthly|"
        "2026-11-15|2026-11-30|-2|3.00|(3.20)",
        "recurring|2026-11-15|2026-11-30|-2|3.00|-3.20",
    ),
    (
        "3|MST-365-BP-M|Microsoft 365 Business Premium|subscription|"
        "Monthly|2026-11-01|2026-11-30|1,200|18.50|22,200.00",
        "recurring|2026-11-01|2026-11-30|1200|18.50|22200.00",
    ),
    (
        "1||Late payment fee|fee||2026-11-30|2026-11-30|1|5.00|5.00",
        "adjustment|2026-11-30|2026-11-30|1|5.00|5.00",
    ),
    (
        "3|HW-FW-60F|Fortinet FortiGate 60F|one-time|One-Time|"
        "2026-11-04|2026-11-04|2|595.00|1,190.00",
        "one_time|2026-11-04|2026-11-04|2|595.00|1190.00",
    ),
    # 12.3456789 -> 12.345679.
    (
        "1|MST-AZ-PLAN|Azure plan|usage|Monthly|2026-11-01|2026-11-30|12.3456789|1.00|12.35",
        "usage|2026-11-01|2026-11-30|12.345679|1.00|12.35",
    ),
    (
        "2|MST-365-BP-M|Microsoft 365 Business Premium|subscription|"
        "Monthly|2026-11-01|2026-11-30|20|18.50|370.00",
        "recurring|2026-11-01|2026-11-30|20|18.50|370.00",
    ),
]
PAX8_TABLE = [(tuple(cells.split("|")), tuple(line.split("|"))) for cells, line in PAX8_ROWS]
PAX8_TOTAL = "26859.60"


def pax8_file() -> bytes:
    """Pax8's invoice items export (ISO dates, a comma file)."""
    rows = []
    for i, (cells, _) in enumerate(PAX8_TABLE, start=1):
        company, sku, description, kind, term, start, end, quantity, cost, cost_total = cells
        rows.append(
            {
                "id": f"8a7b6c5d-{i:04d}-4000-8000-00000000{i:04d}",
                "invoiceId": "5f1e2d3c-0000-4000-8000-000000002611",
                "companyId": f"c0a8012{company}-0000-4000-8000-00000000000{company}"
                if company
                else "",
                "companyName": COMPANIES[company],
                "productId": f"p-{sku.lower()}" if sku else "",
                "productName": description,
                "sku": sku,
                "description": description,
                "type": kind,
                "chargeType": "Credit" if cost.startswith("(") else "Charge",
                "term": term,
                "startPeriod": start,
                "endPeriod": end,
                "quantity": quantity,
                "price": cost,
                "subTotal": cost_total,
                "cost": cost,
                "costTotal": cost_total,
                "billingFee": "0.00",
                "rateType": "Flat",
                "currencyCode": "USD",
                "subscriptionId": f"sub-{i:04d}" if kind in ("subscription", "prorate") else "",
                "purchaseOrderNumber": "",
                "externalId": "",
            }
        )
    return _save("pax8_invoice_items.csv", _csv(PAX8_COLUMNS, rows))


def pax8_company(key: str) -> str:
    return f"c0a8012{key}-0000-4000-8000-00000000000{key}"


# --- helpers ---------------------------------------------------------------------------------


async def post_file(
    client: httpx.AsyncClient, content: bytes, **form: str | int | None
) -> httpx.Response:
    data = {name: str(value) for name, value in form.items() if value is not None}
    return await client.post(IMPORT, data=data, files={"file": ("export.csv", content, "text/csv")})


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        invoices = await connection.scalar(select(func.count()).select_from(VendorInvoice))
        lines = await connection.scalar(select(func.count()).select_from(VendorInvoiceLine))
    return int(invoices or 0), int(lines or 0)


def line_figures(line: dict[str, Any]) -> tuple[str, ...]:
    return (
        line["kind"],
        line["charge_start"],
        line["charge_end"],
        line["quantity"],
        line["unit_cost"],
        line["amount"],
    )


async def partner_center_setup(client: httpx.AsyncClient) -> dict[str, Any]:
    v = await vendor(client, "Microsoft (direct)")
    bp = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="CFQ7TTC0LCHC:0002")
    ids = {}
    for key in ("A", "B"):
        c = await customer(client, CUSTOMERS[key][1])
        await create(
            client,
            f"customers/{c['id']}/vendor-accounts",
            {"vendor_id": v["id"], "account_ref": CUSTOMERS[key][0]},
        )
        ids[key] = c["id"]
    return {"vendor": v, "service": bp, "customers": ids}


# --- the resource ----------------------------------------------------------------------------

MY_PROFILE: dict[str, Any] = {
    "name": "ingram-de",
    "delimiter": ";",
    "decimal_separator": ",",
    "date_format": "DD.MM.YYYY",
    "columns": {
        "vendor_sku": "{Hersteller}-{Artikel}",
        "account_ref": "Kundennummer",
        "description": "Bezeichnung",
        "quantity": "Menge",
        "unit_cost": "Einzelpreis",
        "amount": "Betrag",
        "charge_start": "Von",
        "charge_end": "Bis",
        "invoice_number": "Rechnung",
        "invoice_date": "Rechnungsdatum",
        "cycle": "Laufzeit",
    },
    "kinds": [
        {"column": "Art", "equals": "Gutschrift", "kind": "adjustment"},
        {"column": "Art", "equals": "Einmalig", "kind": "one_time"},
    ],
    "cycle_months": {"Jahr": 12, "*": 1},
    "skip": [{"column": "Art", "equals": "Zwischensumme"}],
}


async def test_built_in_profiles_are_listed_and_read_only(client: httpx.AsyncClient) -> None:
    listed = await client.get(PROFILES)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [p["name"] for p in items] == ["canonical", "microsoft-partner-center", "pax8"]
    assert all(p["built_in"] and p["id"] is None for p in items)
    assert listed.json()["next_cursor"] is None

    pc = (await client.get(f"{PROFILES}/microsoft-partner-center")).json()
    assert pc["date_format"] == "MM/DD/YYYY"
    assert pc["columns"]["vendor_sku"] == "{ProductId}:{SkuId}"
    assert pc["columns"]["amount"] == "Subtotal"
    assert pc["kinds"] == [
        {"column": "ChargeType", "equals": "customerCredit", "kind": "one_time"},
        {"column": "UnitType", "equals": "Licenses", "kind": "recurring"},
        {"column": "UnitType", "equals": "*", "kind": "usage"},
    ]
    assert pc["cycle_months"] == {"Monthly": 1, "Annual": 12, "Triennial": 36, "*": 1}
    pax8 = (await client.get(f"{PROFILES}/pax8")).json()
    assert pax8["columns"]["unit_cost"] == "cost" and pax8["columns"]["amount"] == "costTotal"
    assert pax8["kinds"][-1] == {"column": "type", "equals": "*", "kind": "adjustment"}
    assert pax8["cycle_months"] == {"Annual": 12, "*": 1}
    canonical = (await client.get(f"{PROFILES}/canonical")).json()
    assert canonical["columns"]["kind"] == "kind"

    for method in ("PATCH", "DELETE"):
        body = {"date_format": "DD/MM/YYYY"} if method == "PATCH" else None
        answer = await client.request(method, f"{PROFILES}/pax8", json=body)
        problem = assert_problem(answer, 409)
        assert "built-in" in problem["detail"]
    assert_problem(await client.get(f"{PROFILES}/nope"), 404)
    assert_problem(await client.get(f"{PROFILES}/999"), 404)


async def test_profile_crud(client: httpx.AsyncClient) -> None:
    v = await vendor(client, "Ingram Micro", currency="EUR")
    created = await client.post(PROFILES, json={**MY_PROFILE, "vendor_id": v["id"]})
    assert created.status_code == 201, created.text
    profile = created.json()
    assert profile["id"] >= 1 and profile["built_in"] is False
    assert profile["columns"] == MY_PROFILE["columns"]
    assert profile["kinds"] == MY_PROFILE["kinds"]
    assert profile["cycle_months"] == {"Jahr": 12, "*": 1}
    assert profile["vendor_id"] == v["id"]

    by_id = (await client.get(f"{PROFILES}/{profile['id']}")).json()
    by_name = (await client.get(f"{PROFILES}/ingram-de")).json()
    assert by_id == by_name == profile

    assert_problem(await client.post(PROFILES, json=MY_PROFILE), 409, "body.name")
    assert_problem(await client.post(PROFILES, json={**MY_PROFILE, "name": "PAX8"}), 409)

    second = await create(client, "import-profiles", {**MY_PROFILE, "name": "second"})
    # Paged like every list, the built-in profiles first.
    first_page = await client.get(PROFILES, params={"limit": 2})
    assert [p["name"] for p in first_page.json()["items"]] == [
        "canonical",
        "microsoft-partner-center",
    ]
    names = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(PROFILES, params=params)).json()
        names += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["canonical", "microsoft-partner-center", "pax8", "ingram-de", "second"]
    assert_problem(await client.get(PROFILES, params={"cursor": "bogus"}), 422, "query.cursor")

    changed = await client.patch(
        f"{PROFILES}/{profile['id']}",
        json={"date_format": "DD/MM/YYYY", "cycle_months": {"Jahr": 12, "3 Jahre": 36}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["date_format"] == "DD/MM/YYYY"
    assert changed.json()["cycle_months"] == {"Jahr": 12, "3 Jahre": 36}
    assert changed.json()["columns"] == MY_PROFILE["columns"]
    renamed = await client.patch(f"{PROFILES}/second", json={"name": "third", "vendor_id": None})
    assert renamed.status_code == 200 and renamed.json()["name"] == "third"
    assert_problem(await client.patch(f"{PROFILES}/third", json={"name": "ingram-de"}), 409)
    # The whole profile must still hold together.
    no_cycle = {k: v for k, v in MY_PROFILE["columns"].items() if k != "cycle"}
    assert_problem(await client.patch(f"{PROFILES}/third", json={"columns": no_cycle}), 422, "body")
    assert_problem(await client.patch(f"{PROFILES}/third", json={"columns": None}), 422)

    assert (await client.delete(f"{PROFILES}/{second['id']}")).status_code == 204
    assert_problem(await client.get(f"{PROFILES}/third"), 404)
    assert_problem(await client.delete(f"{PROFILES}/third"), 404)
    # A vendor a profile names is not deleted from under it.
    assert_problem(await client.delete(f"/api/v1/vendors/{v['id']}"), 409)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"columns": {**MY_PROFILE["columns"], "sku": "Artikel"}}, "body.columns", "unknown field"),
        (
            {"columns": {**MY_PROFILE["columns"], "vendor_sku": "{Artikel"}},
            "body.columns",
            "braces",
        ),
        ({"columns": {**MY_PROFILE["columns"], "vendor_sku": "{}:x"}}, "body.columns", "empty"),
        ({"columns": {**MY_PROFILE["columns"], "vendor_sku": " "}}, "body.columns", "header"),
        (
            {"kinds": [{"column": "Art", "equals": "x", "kind": "rebate"}]},
            "body.kinds",
            "recurring",
        ),
        ({"cycle_months": {"Jahr": 0}}, "body.cycle_months", "between 1"),
        ({"columns": {"quantity": "Menge"}}, "body", "unit_cost"),
        (
            {"cycle_months": {"Jahr": 12}, "columns": {"quantity": "a", "unit_cost": "b"}},
            "body",
            "cycle",
        ),
        ({"decimal_separator": ";"}, "body.decimal_separator", ""),
        ({"date_format": "YYYY/MM/DD"}, "body.date_format", ""),
        ({"delimiter": "ab"}, "body.delimiter", ""),
        ({"name": "12"}, "body.name", "digits"),
        ({"vendor_id": 999_999}, "body.vendor_id", "does not exist"),
        ({"colour": "red"}, "body.colour", ""),
    ],
)
async def test_profile_validation(
    client: httpx.AsyncClient, change: dict[str, Any], field: str, words: str
) -> None:
    body = assert_problem(await client.post(PROFILES, json={**MY_PROFILE, **change}), 422)
    messages = [e["message"] for e in body["errors"] if e["field"].startswith(field)]
    assert messages, body
    assert any(words in message for message in messages), body


# --- distributors' files -------------------------------------------------------------------


async def test_partner_center_file(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    setup = await partner_center_setup(client)
    content = partner_center_file()
    response = await post_file(
        client,
        content,
        profile="microsoft-partner-center",
        vendor_id=setup["vendor"]["id"],
        invoice_date="2026-12-08",
    )
    assert response.status_code == 201, response.text
    made = response.json()["invoices"]
    assert [i["invoice_number"] for i in made] == [G1, G2]
    # The period: the month most of an invoice's lines start in.
    assert [i["period"] for i in made] == ["2026-11", "2026-12"]
    assert [i["total"] for i in made] == [PC_TOTALS[G1], PC_TOTALS[G2]]
    assert [i["lines_total"] for i in made] == [PC_TOTALS[G1], PC_TOTALS[G2]]
    assert all(i["currency"] == "USD" and i["source"] == "csv" for i in made)
    assert all(i["invoice_date"] == "2026-12-08" for i in made)
    lines = made[0]["lines"] + made[1]["lines"]
    assert [line_figures(line) for line in lines] == [expected for _, expected in PC_TABLE]
    for line, (cells, _) in zip(lines, PC_TABLE, strict=True):
        product_id, sku_id, sku_name = PRODUCTS[cells[2]]
        assert line["vendor_sku"] == f"{product_id}:{sku_id}"
        assert line["account_ref"] == CUSTOMERS[cells[1]][0]
        assert line["description"] == sku_name
        assert line["subscription_ref"].startswith("6dc5c039-")
        matched = cells[2] == "BP"
        assert line["service_id"] == (setup["service"]["id"] if matched else None)
        assert line["customer_id"] == setup["customers"].get(cells[1])
    # The hand-summed totals are the sums of the hand-worked amounts.
    for number, total in PC_TOTALS.items():
        amounts = [Decimal(e[5]) for c, e in PC_TABLE if c[0] == number]
        assert sum(amounts) == Decimal(total)
    assert await counts(engine) == (2, len(PC_TABLE))
    stored = await client.get(f"/api/v1/vendor-invoices/{made[1]['id']}")
    # Each invoice answered with its own checks (docs/checks.md); tests/test_checks.py
    # works such figures out by hand.
    assert [sorted({c["type"] for c in m.pop("checks")}) for m in made] == [
        ["ORPHANED_COST", "PRICE_INCREASE", "UNMAPPED_ACCOUNT", "UNMAPPED_SKU"]
    ] * 2
    assert stored.json() == made[1]


async def test_pax8_file(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client, "Pax8")
    bp = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="MST-365-BP-M")
    acme = await customer(client, "Acme Ltd")
    await create(
        client,
        f"customers/{acme['id']}/vendor-accounts",
        {"vendor_id": v["id"], "account_ref": pax8_company("1")},
    )
    response = await post_file(
        client,
        pax8_file(),
        profile="pax8",
        vendor_id=v["id"],
        invoice_number="PAX8-2026-11",
        invoice_date="2026-12-05",
    )
    assert response.status_code == 201, response.text
    (invoice,) = response.json()["invoices"]
    assert invoice["period"] == "2026-11"
    assert invoice["total"] == invoice["lines_total"] == PAX8_TOTAL
    assert sum(Decimal(e[5]) for _, e in PAX8_TABLE) == Decimal(PAX8_TOTAL)
    lines = invoice["lines"]
    assert [line_figures(line) for line in lines] == [expected for _, expected in PAX8_TABLE]
    assert [line["vendor_sku"] for line in lines] == [c[1] for c, _ in PAX8_TABLE]
    assert [line["account_ref"] for line in lines] == [
        pax8_company(c[0]) if c[0] else "" for c, _ in PAX8_TABLE
    ]
    assert [line["service_id"] for line in lines] == [
        bp["id"] if c[1] == "MST-365-BP-M" else None for c, _ in PAX8_TABLE
    ]
    assert [line["customer_id"] for line in lines] == [
        acme["id"] if c[0] == "1" else None for c, _ in PAX8_TABLE
    ]
    assert lines[0]["subscription_ref"] == "sub-0001" and lines[6]["subscription_ref"] is None
    assert await counts(engine) == (1, len(PAX8_TABLE))


async def test_several_invoices_are_one_transaction(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    setup = await partner_center_setup(client)
    vendor_id = setup["vendor"]["id"]
    form = {"profile": "microsoft-partner-center", "vendor_id": vendor_id}
    # A bad cell in the second invoice: nothing of the first is stored.
    bad = partner_center_file({17: {"BillableQuantity": "two"}})
    body = assert_problem(await post_file(client, bad, invoice_date="2026-12-08", **form), 422)
    assert [e["field"] for e in body["errors"]] == ["file.line 18.quantity"]
    assert await counts(engine) == (0, 0)
    # The second invoice already stored: a 409 for it, and the first is not kept either.
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": vendor_id,
            "invoice_number": G2,
            "invoice_date": "2026-12-08",
            "period": "2026-12",
            "total": "1.00",
            "lines": [{"vendor_sku": "X", "account_ref": "Y", "quantity": 1, "unit_cost": "1"}],
        },
    )
    duplicate = await post_file(client, partner_center_file(), invoice_date="2026-12-08", **form)
    problem = assert_problem(duplicate, 409)
    assert G2 in problem["detail"]
    assert await counts(engine) == (1, 1)
    # One form total cannot be two invoices' totals.
    body = assert_problem(
        await post_file(
            client, partner_center_file(), invoice_date="2026-12-08", total="5.00", **form
        ),
        422,
    )
    assert [e["field"] for e in body["errors"]] == ["form.total"]


async def test_dry_run_stores_nothing(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    setup = await partner_center_setup(client)
    form = {
        "profile": "microsoft-partner-center",
        "vendor_id": setup["vendor"]["id"],
        "invoice_date": "2026-12-08",
    }
    response = await post_file(client, partner_center_file(), dry_run="true", **form)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["dry_run"] is True
    assert [i["invoice_number"] for i in preview["invoices"]] == [G1, G2]
    assert [i["total"] for i in preview["invoices"]] == [PC_TOTALS[G1], PC_TOTALS[G2]]
    lines = preview["invoices"][0]["lines"] + preview["invoices"][1]["lines"]
    assert [line_figures(line) for line in lines] == [expected for _, expected in PC_TABLE]
    assert "id" not in preview["invoices"][0] and "id" not in lines[0]
    assert lines[0]["service_id"] == setup["service"]["id"]
    assert lines[0]["customer_id"] == setup["customers"]["A"]
    # Defender, E3, E5 and the Azure plan match no service; customer C no customer.
    assert preview["unmapped_skus"] == 4
    assert preview["unmapped_accounts"] == 1
    assert await counts(engine) == (0, 0)
    # The same file for real afterwards: stored as previewed.
    real = await post_file(client, partner_center_file(), **form)
    assert real.status_code == 201, real.text
    assert [line_figures(line) for i in real.json()["invoices"] for line in i["lines"]] == [
        line_figures(line) for line in lines
    ]
    # A dry run answers what a real import would: here a duplicate.
    again = await post_file(client, partner_center_file(), dry_run="true", **form)
    assert_problem(again, 409)


async def test_every_bad_cell_is_reported(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    setup = await partner_center_setup(client)
    bad = partner_center_file(
        {
            1: {"ChargeStartDate": "13/45/2026"},  # line 2: not MM/DD/YYYY
            2: {"Subtotal": "7.001"},  # line 3: three places in an amount
            3: {"UnitPrice": "3,00"},  # line 4: a comma where the profile reads "."
            # line 5: a licence row with more places than a line holds
            4: {"BillableQuantity": "3.1234567"},
            5: {"BillingFrequency": "Annual", "ChargeEndDate": "10/31/2037"},  # 11 years
            # line 9: usage with too many places and no amount: not rounded
            8: {"Subtotal": ""},
        }
    )
    response = await post_file(
        client,
        bad,
        profile="microsoft-partner-center",
        vendor_id=setup["vendor"]["id"],
        invoice_date="2026-12-08",
    )
    body = assert_problem(response, 422)
    errors = {e["field"]: e["message"] for e in body["errors"]}
    assert list(errors) == [
        "file.line 2.charge_start",
        "file.line 3.amount",
        "file.line 4.unit_cost",
        "file.line 5.quantity",
        "file.line 6",
        "file.line 9.quantity",
        "file.line 9.unit_cost",
    ], body
    assert 'column "ChargeStartDate", found "13/45/2026"' in errors["file.line 2.charge_start"]
    assert "MM/DD/YYYY" in errors["file.line 2.charge_start"]
    assert 'column "Subtotal", found "7.001"' in errors["file.line 3.amount"]
    assert 'column "UnitPrice", found "3,00"' in errors["file.line 4.unit_cost"]
    assert f"at most {LINE_PLACES}" in errors["file.line 5.quantity"]
    assert '"BillableQuantity", found "3.1234567"' in errors["file.line 5.quantity"]
    assert "1830 days" in errors["file.line 6"]
    assert '"0.08751254"' in errors["file.line 9.unit_cost"]
    assert body["error_count"] == 7 and "Nothing was stored" in body["detail"]
    assert await counts(engine) == (0, 0)

    # The header must carry every column the profile names.
    header_only = b"CustomerId,InvoiceNumber\r\nx,y\r\n"
    body = assert_problem(
        await post_file(
            client, header_only, profile="pax8", vendor_id=setup["vendor"]["id"], period="2026-11"
        ),
        422,
    )
    assert "file.header.quantity" in [e["field"] for e in body["errors"]]
    # An unknown profile; no vendor anywhere.
    assert_problem(
        await post_file(client, header_only, profile="nope", vendor_id=1), 422, "form.profile"
    )
    assert_problem(await post_file(client, header_only, profile="pax8"), 422, "form.vendor_id")


async def test_own_profile(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client, "Ingram Micro", currency="EUR")
    await create(client, "import-profiles", {**MY_PROFILE, "vendor_id": v["id"]})
    # A German export: `;`, decimal commas, thousands dots, DD.MM.YYYY, a subtotal row.
    text = (
        "Rechnung;Rechnungsdatum;Kundennummer;Hersteller;Artikel;Bezeichnung;Art;Laufzeit;"
        "Von;Bis;Menge;Einzelpreis;Betrag\r\n"
        "R-1;30.11.2026;K-1;ESET;EP;Endpoint;Abo;Monat;01.11.2026;30.11.2026;25;1,50;37,50\r\n"
        "R-1;30.11.2026;K-1;ESET;EP;Endpoint;Abo;Jahr;01.11.2026;31.10.2027;2;"
        "1.234,56;2.469,12\r\n"
        "R-1;30.11.2026;;;;Summe;Zwischensumme;;;;;;2.506,62\r\n"
        "R-1;30.11.2026;K-1;;;Kulanz;Gutschrift;;30.11.2026;30.11.2026;1;-5,00;\r\n"
        "R-1;30.11.2026;K-1;ACME;SETUP;Einrichtung;Einmalig;;2026-11-03;2026-11-03;1;"
        "€ 99,00;\r\n"
    )
    response = await post_file(client, text.encode(), profile="ingram-de")
    assert response.status_code == 201, response.text
    (invoice,) = response.json()["invoices"]
    assert (invoice["vendor_id"], invoice["invoice_number"]) == (v["id"], "R-1")
    assert (invoice["invoice_date"], invoice["period"], invoice["currency"]) == (
        "2026-11-30",
        "2026-11",
        "EUR",
    )
    lines = invoice["lines"]
    assert [line["vendor_sku"] for line in lines] == ["ESET-EP", "ESET-EP", "", "ACME-SETUP"]
    # 1,234.56 / 12 = 102.88; an adjustment's amount defaults to 1 x -5.00; a one-time fee
    # to 1 x 99.00.
    assert [line_figures(line) for line in lines] == [
        ("recurring", "2026-11-01", "2026-11-30", "25", "1.50", "37.50"),
        ("recurring", "2026-11-01", "2027-10-31", "2", "102.88", "2469.12"),
        ("adjustment", "2026-11-30", "2026-11-30", "1", "-5.00", "-5.00"),
        ("one_time", "2026-11-03", "2026-11-03", "1", "99.00", "99.00"),
    ]
    assert invoice["total"] == "2600.62"
    # The vendor comes from the profile; another one in the form is refused.
    other = await vendor(client, "Other")
    clash = await post_file(client, text.encode(), profile="ingram-de", vendor_id=other["id"])
    assert_problem(clash, 422, "form.vendor_id")
    assert await counts(engine) == (1, 4)


async def test_canonical_profile_and_the_old_answer(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    text = (
        "vendor_sku,account_ref,quantity,unit_cost,kind,charge_start,charge_end\n"
        "M365,ACME,12,12.00,recurring,2026-11-15,2026-11-30\n"
        "AZ,ACME,1,10.81,usage,2026-11-01,2026-11-30\n"
    )
    form = {"vendor_id": v["id"], "invoice_date": "2026-11-30"}
    # Naming the profile: the invoices wrapper, period and total worked out.
    named = await post_file(client, text.encode(), profile="canonical", invoice_number="A", **form)
    assert named.status_code == 201, named.text
    (invoice,) = named.json()["invoices"]
    # 12 x 12.00 x 16/30 = 76.80; 10.81.
    assert [line["amount"] for line in invoice["lines"]] == ["76.80", "10.81"]
    assert (invoice["period"], invoice["total"]) == ("2026-11", "87.61")
    # Without a profile: the invoice itself, and the form's fields required, as before.
    plain = await post_file(
        client, text.encode(), invoice_number="B", period="2026-11", total="87.61", **form
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["invoice_number"] == "B" and "invoices" not in plain.json()
    missing = await post_file(client, text.encode(), invoice_number="C", **form)
    assert {"form.period", "form.total"} <= {e["field"] for e in missing.json()["errors"]}


# --- cells -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "separator", "value"),
    [
        (" 12.50 ", ".", "12.50"),
        ("$1,234.50", ".", "1234.50"),
        ("-$5.00", ".", "-5.00"),
        ("$-5.00", ".", "-5.00"),
        ("(12.00)", ".", "-12.00"),
        ("($1,200.00)", ".", "-1200.00"),
        ("'42", ".", "42"),
        ("1.234,56 €", ",", "1234.56"),
        ("£3", ".", "3"),
        ("-0,5", ",", "-0.5"),
        ("1,234,567.891234", ".", "1234567.891234"),
    ],
)
def test_numbers(raw: str, separator: str, value: str) -> None:
    assert parse_number(raw, separator) == Decimal(value)


@pytest.mark.parametrize(
    ("raw", "separator"),
    [("1,50", "."), ("12,34.5", "."), ("1.2.3", "."), ("abc", "."), ("-(5)", "."), ("", ".")],
)
def test_not_numbers(raw: str, separator: str) -> None:
    with pytest.raises(ValueError):
        parse_number(raw, separator)


def test_dates() -> None:
    assert str(parse_date("11/05/2026", "MM/DD/YYYY")) == "2026-11-05"
    assert str(parse_date("11/05/2026", "DD/MM/YYYY")) == "2026-05-11"
    assert str(parse_date("5.11.2026", "DD.MM.YYYY")) == "2026-11-05"
    assert str(parse_date("2026-11-05", "MM/DD/YYYY")) == "2026-11-05"  # ISO always
    assert str(parse_date("11/5/2026 12:00:00 AM", "MM/DD/YYYY")) == "2026-11-05"
    for bad, fmt in (
        ("13/05/2026", "MM/DD/YYYY"),
        ("2026/11/05", "YYYY-MM-DD"),
        ("x", "DD.MM.YYYY"),
    ):
        with pytest.raises(ValueError):
            parse_date(bad, fmt)


async def test_names_differing_only_in_case_are_one_name(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Two profiles named alike but for case cannot both be stored, even when created at
    the same moment: the database's unique key settles it (one 201, one 409)."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    answers = await asyncio.gather(
        client.post(PROFILES, json={**MY_PROFILE, "name": "Pax8 EU"}),
        client.post(PROFILES, json={**MY_PROFILE, "name": "pax8 eu"}),
    )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    # Straight into the table, past the service's check: refused all the same.
    async with engine.connect() as connection:
        with pytest.raises(IntegrityError):
            await connection.execute(
                text(
                    "INSERT INTO import_profile (name, name_key, decimal_separator, date_format, "
                    "columns, kinds, cycle_months, skip, created_at, updated_at) VALUES "
                    "('PAX8 eu', 'pax8 eu', '.', 'YYYY-MM-DD', '{}', '[]', '{}', '[]', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
        await connection.rollback()
    listed = (await client.get(PROFILES, params={"limit": 50})).json()["items"]
    assert len([p for p in listed if p["name"].lower() == "pax8 eu"]) == 1
