"""Vendor invoice lines as distributors bill them (docs/vendor-bills.md): kind, charge
period, subscription ref, and the default amount over the charge period; services'
`metered` flag. The same line through JSON, the CSV import and the signed webhook."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import assert_problem, create, service, vendor
from tests.test_csv_import import post_csv
from tests.test_faults import deliver

API = "/api/v1"


def _invoice(vendor_id: int, lines: list[dict[str, Any]], total: str) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "invoice_number": "PC-2026-11",
        "invoice_date": "2026-11-30",
        "period": "2026-11",
        "total": total,
        "lines": lines,
    }


LINES: list[dict[str, Any]] = [
    # A plain line: the invoice's month, kind recurring, 10 x 12.00 = 120.00.
    {"vendor_sku": "M365", "account_ref": "A", "quantity": "10", "unit_cost": "12"},
    # 12 seats for 15-30 November: 16 of 30 days, 12 x 12.00 x 16/30 = 76.80.
    {"vendor_sku": "M365", "account_ref": "A", "quantity": "12", "unit_cost": "12",
     "charge_start": "2026-11-15", "charge_end": "2026-11-30", "subscription_ref": "SUB-1"},
    # A year paid up front from 1 December: 5 x 20.00 x 12 months = 1,200.00.
    {"vendor_sku": "M365", "account_ref": "A", "quantity": "5", "unit_cost": "20",
     "charge_start": "2026-12-01", "charge_end": "2027-11-30", "subscription_ref": "SUB-2"},
    # Anniversary billing, 15 November to 14 December: 16/30 of November and 14/31 of
    # December; 3 x 10.00 x (16/30 + 14/31) = 29.5484 -> 29.55.
    {"vendor_sku": "M365", "account_ref": "A", "quantity": "3", "unit_cost": "10",
     "charge_start": "2026-11-15", "charge_end": "2026-12-14"},
    # Usage: cost only, no share: 123.5 x 0.0875 = 10.80625 -> 10.81.
    {"vendor_sku": "AZURE", "account_ref": "A", "quantity": "123.5", "unit_cost": "0.0875",
     "kind": "usage", "charge_start": "2026-11-01", "charge_end": "2026-11-30"},
    # A one-time fee: 1 x 50.00.
    {"vendor_sku": "SETUP", "account_ref": "A", "quantity": "1", "unit_cost": "50",
     "kind": "one_time"},
    # A rebate tied to no customer or service: SKU and account left empty.
    {"quantity": "1", "unit_cost": "-25", "kind": "adjustment", "description": "Q4 rebate"},
]  # fmt: skip
AMOUNTS = ["120.00", "76.80", "1200.00", "29.55", "10.81", "50.00", "-25.00"]
TOTAL = "1462.16"  # the amounts above added


async def test_lines_with_charge_periods(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    stored = await create(client, "vendor-invoices", _invoice(v["id"], LINES, TOTAL))
    assert [line["amount"] for line in stored["lines"]] == AMOUNTS
    assert stored["lines_total"] == TOTAL
    first, second, annual, _, usage, fee, rebate = stored["lines"]
    assert (first["kind"], first["charge_start"], first["charge_end"]) == (
        "recurring",
        "2026-11-01",
        "2026-11-30",
    )
    assert first["subscription_ref"] is None
    assert (second["charge_start"], second["subscription_ref"]) == ("2026-11-15", "SUB-1")
    assert (annual["charge_start"], annual["charge_end"]) == ("2026-12-01", "2027-11-30")
    assert (usage["kind"], fee["kind"], rebate["kind"]) == ("usage", "one_time", "adjustment")
    assert (rebate["vendor_sku"], rebate["account_ref"]) == ("", "")
    again = await client.get(f"{API}/vendor-invoices/{stored['id']}")
    assert again.json()["lines"] == stored["lines"]


async def test_a_given_amount_is_kept(client: httpx.AsyncClient) -> None:
    """The vendor's own figure wins over the default, as for plain lines."""
    v = await vendor(client)
    line = {**LINES[1], "amount": "76.79"}
    stored = await create(client, "vendor-invoices", _invoice(v["id"], [line], "76.79"))
    assert stored["lines"][0]["amount"] == "76.79"


async def test_charge_period_and_kind_rules(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    base = {"vendor_sku": "M365", "account_ref": "A", "quantity": "1", "unit_cost": "1"}
    bad = [
        ({**base, "charge_start": "2026-11-01"}, "give both or neither"),
        ({**base, "charge_end": "2026-11-30"}, "give both or neither"),
        ({**base, "charge_start": "2026-11-02", "charge_end": "2026-11-01"}, "not be after"),
        ({**base, "charge_start": "2026-01-01", "charge_end": "2031-01-05"}, "at most 1830"),
        ({**base, "kind": "monthly"}, "recurring"),
    ]
    for line, message in bad:
        body = assert_problem(
            await client.post(f"{API}/vendor-invoices", json=_invoice(v["id"], [line], "1.00")),
            422,
        )
        assert message in json.dumps(body), (line, body)
    # 1,830 days is the longest charge period (five years and change).
    longest = {**base, "charge_start": "2026-01-01", "charge_end": "2031-01-04"}
    ok = await client.post(f"{API}/vendor-invoices", json=_invoice(v["id"], [longest], "60.13"))
    assert ok.status_code == 201, ok.text
    # Only an adjustment may leave the SKU and the account empty.
    for kind in ("recurring", "usage", "one_time"):
        line = {"quantity": "1", "unit_cost": "1", "kind": kind}
        body = assert_problem(
            await client.post(f"{API}/vendor-invoices", json=_invoice(v["id"], [line], "1.00")),
            422,
        )
        fields = {error["field"] for error in body["errors"]}
        assert fields == {"body.lines.0.vendor_sku", "body.lines.0.account_ref"}, body


async def test_the_csv_import_takes_the_same_columns(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    header = "vendor_sku,account_ref,description,quantity,unit_cost,amount,kind,charge_start,"
    header += "charge_end,subscription_ref"
    rows = [
        "M365,A,,10,12,,,,,",
        "M365,A,,12,12,,recurring,2026-11-15,2026-11-30,SUB-1",
        "M365,A,,5,20,,,2026-12-01,2027-11-30,SUB-2",
        "M365,A,,3,10,,,2026-11-15,2026-12-14,",
        "AZURE,A,,123.5,0.0875,,usage,2026-11-01,2026-11-30,",
        "SETUP,A,,1,50,,one_time,,,",
        ",,Q4 rebate,1,-25,,adjustment,,,",
    ]
    answer = await post_csv(
        client, "\n".join([header, *rows]) + "\n", v["id"], period="2026-11", total=TOTAL
    )
    assert answer.status_code == 201, answer.text
    assert [line["amount"] for line in answer.json()["lines"]] == AMOUNTS
    assert answer.json()["lines"][1]["subscription_ref"] == "SUB-1"
    # A bad pair of dates names the row.
    bad = await post_csv(
        client, header + "\nM365,A,,1,1,,,2026-11-15,,\n", v["id"], invoice_number="X"
    )
    body = assert_problem(bad, 422)
    assert [e["field"] for e in body["errors"]] == ["file.line 2"], body


async def test_the_webhook_takes_the_same_fields(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    payload = _invoice(v["id"], LINES, TOTAL)
    del payload["vendor_id"]
    answer = await deliver(client, v, payload, "msg_charges_1")
    assert answer.status_code == 200, answer.text
    stored = await client.get(f"{API}/vendor-invoices/{answer.json()['invoice_id']}")
    assert [line["amount"] for line in stored.json()["lines"]] == AMOUNTS
    assert stored.json()["lines"][2]["charge_end"] == "2027-11-30"


async def test_metered_services(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    azure = await service(client, "AZURE", vendor_id=v["id"], vendor_sku="AZ", metered=True)
    seats = await service(client, "SEATS")
    assert (azure["metered"], seats["metered"]) == (True, False)
    changed = await client.patch(f"{API}/services/{seats['id']}", json={"metered": True})
    assert changed.json()["metered"] is True
    assert_problem(
        await client.patch(f"{API}/services/{seats['id']}", json={"metered": None}),
        422,
        "body.metered",
    )
