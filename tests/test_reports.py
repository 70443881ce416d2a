"""Profitability, trends, targets and CSV downloads through HTTP (docs/reports.md),
every number worked out by hand in the comment beside it.

The world of most tests (`build_world`), January and February 2026 (31 and 28 days):

Vendor V (Pax8). Services: S1 antivirus (V, sku AV, 10.00/unit), S2 helpdesk in-house
(unit_cost 30.00), S3 backup (V, sku BKP).

- A: contract C1 with L1 = S1 x 1 @ 10.00; contract C2 with L2 = S1 x 1, L3 = S1 x 1
  (both @ 10.00) and L4 = S2 x 2 @ 50.00 (in-house, cost 2 x 30.00 = 60.00 a month).
  Revenue per month: 10 + 10 + 10 + 100 = 130.00.
  Vendor cost: S1 10.00 in January (split 3.34 / 3.33 / 3.33 over L1, L2, L3), 12.00 in
  February (4.00 each); S3 1.50 in February with no contract line (contract_id null).
- B: contract C3 with L5 = S1 x 2 @ 10.00 from 2026-01-16: January 2 x 10 x 16/31 =
  10.3225... -> 10.32, February 20.00. Vendor cost S1 7.00 in January.
- C: no contract; vendor cost S3 5.00 in January (cost, no revenue: margin null).
- D: contract C4 from 2026-02-10 without lines (a gap in February); S3 charged +5.00 and
  -5.00 in February (revenue and cost both 0: left out).
- Unmatched vendor lines: sku UNKNOWN 2.50 (January), account NOPE 1.25 (February):
  unallocated 3.75. Lines of 2025-12 (100.00 matched, 9.99 unmatched) are outside.
"""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest

from app.core.money import margin, round_half_up
from app.core.pagination import encode_cursor
from app.core.periods import Period
from app.reports.targets import TARGET_CURSOR
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor

PROFIT = "/api/v1/reports/profitability"
TRENDS = "/api/v1/reports/trends"
RANGE = {"from": "2026-01", "to": "2026-02"}
CSV = {"Accept": "text/csv"}


async def vendor_invoice(
    client: httpx.AsyncClient,
    vendor_id: int,
    number: str,
    period: str,
    lines: list[tuple[str, str, str, str, str]],
) -> None:
    """lines: (vendor_sku, account_ref, quantity, unit_cost, amount)."""
    total = sum((Decimal(amount) for *_, amount in lines), Decimal(0))
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": vendor_id,
            "invoice_number": number,
            "invoice_date": f"{period}-28",
            "period": period,
            "total": str(total),
            "lines": [
                {
                    "vendor_sku": sku,
                    "account_ref": account,
                    "quantity": quantity,
                    "unit_cost": unit_cost,
                    "amount": amount,
                }
                for sku, account, quantity, unit_cost, amount in lines
            ],
        },
    )


async def customer_invoice(
    client: httpx.AsyncClient,
    customer_id: int,
    number: str,
    period: str,
    lines: list[tuple[int | None, str, str, str]],
    status: str = "posted",
) -> dict[str, Any]:
    """lines: (service_id, quantity, unit_price, amount)."""
    return await create(
        client,
        "customer-invoices",
        {
            "customer_id": customer_id,
            "number": number,
            "period": period,
            "issue_date": f"{period}-01",
            "status": status,
            "lines": [
                {
                    "service_id": service_id,
                    "description": "recurring",
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "amount": amount,
                }
                for service_id, quantity, unit_price, amount in lines
            ],
        },
    )


async def build_world(client: httpx.AsyncClient) -> dict[str, int]:
    v = (await vendor(client, "Pax8"))["id"]
    s1 = (
        await service(
            client, "AV", unit_price="10.00", unit_cost="3.00", vendor_id=v, vendor_sku="AV"
        )
    )["id"]
    s2 = (await service(client, "HELP", unit_price="50.00", unit_cost="30.00", unit="hour"))["id"]
    s3 = (
        await service(
            client, "BKP", unit_price="0.10", unit_cost="0.05", vendor_id=v, vendor_sku="BKP"
        )
    )["id"]
    ids = {"v": v, "s1": s1, "s2": s2, "s3": s3}
    for name, account in (("a", "A-ACC"), ("b", "B-ACC"), ("c", "C-ACC"), ("d", "D-ACC")):
        ids[name] = (await customer(client, f"Customer {name.upper()}"))["id"]
        await create(
            client,
            f"customers/{ids[name]}/vendor-accounts",
            {"vendor_id": v, "account_ref": account},
        )
    ids["c1"] = (await contract(client, ids["a"], "2026-01-01", name="C1"))["id"]
    ids["c2"] = (await contract(client, ids["a"], "2026-01-01", name="C2"))["id"]
    ids["c3"] = (await contract(client, ids["b"], "2026-01-01", name="C3"))["id"]
    ids["c4"] = (await contract(client, ids["d"], "2026-02-10", name="C4"))["id"]
    ids["l1"] = (await line(client, ids["c1"], s1, "1"))["id"]
    ids["l2"] = (await line(client, ids["c2"], s1, "1"))["id"]
    ids["l3"] = (await line(client, ids["c2"], s1, "1"))["id"]
    ids["l4"] = (await line(client, ids["c2"], s2, "2"))["id"]
    ids["l5"] = (await line(client, ids["c3"], s1, "2", start_date="2026-01-16"))["id"]

    await vendor_invoice(
        client,
        v,
        "V-2025-12",
        "2025-12",
        [("AV", "A-ACC", "3", "10.00", "100.00"), ("UNKNOWN", "A-ACC", "1", "9.99", "9.99")],
    )
    await vendor_invoice(
        client,
        v,
        "V-2026-01",
        "2026-01",
        [
            ("AV", "A-ACC", "3", "3.3333", "10.00"),
            ("AV", "B-ACC", "2", "3.50", "7.00"),
            ("BKP", "C-ACC", "100", "0.05", "5.00"),
            ("UNKNOWN", "A-ACC", "1", "2.50", "2.50"),
        ],
    )
    await vendor_invoice(
        client,
        v,
        "V-2026-02",
        "2026-02",
        [
            ("AV", "A-ACC", "3", "4.00", "12.00"),
            ("BKP", "A-ACC", "30", "0.05", "1.50"),
            ("BKP", "D-ACC", "100", "0.05", "5.00"),
            ("BKP", "D-ACC", "-100", "0.05", "-5.00"),
            ("AV", "NOPE", "1", "1.25", "1.25"),
        ],
    )
    return ids


async def invoice_the_contracted_revenue(client: httpx.AsyncClient, ids: dict[str, int]) -> None:
    """Customer invoices carrying exactly the contracted revenue, per service and month,
    plus a void one that must not count."""
    s1, s2 = ids["s1"], ids["s2"]
    for month in ("01", "02"):
        await customer_invoice(
            client,
            ids["a"],
            f"A-{month}",
            f"2026-{month}",
            [(s1, "3", "10.00", "30.00"), (s2, "2", "50.00", "100.00")],
        )
    await customer_invoice(client, ids["b"], "B-01", "2026-01", [(s1, "2", "5.16", "10.32")])
    await customer_invoice(client, ids["b"], "B-02", "2026-02", [(s1, "2", "10.00", "20.00")])
    await customer_invoice(
        client, ids["c"], "C-01", "2026-01", [(ids["s3"], "1", "999.00", "999.00")], status="void"
    )


async def report(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params={**RANGE, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def figures(revenue: str, cost: str, profit: str, margin: str | None) -> dict[str, Any]:
    return {"revenue": revenue, "cost": cost, "profit": profit, "margin": margin}


def rows_by(body: dict[str, Any], *keys: str) -> dict[Any, dict[str, Any]]:
    out = {}
    for row in body["rows"]:
        key = tuple(row[k] for k in keys)
        out[key if len(keys) > 1 else key[0]] = {
            k: row[k] for k in ("revenue", "cost", "profit", "margin")
        }
        # Each id with its name beside it (docs/reports.md#names); a month has none.
        names = {k.removesuffix("_id") + "_name" for k in keys if k != "month"}
        assert set(row) == {*keys, *names, "revenue", "cost", "profit", "margin"}, row
    return out


# --- profitability ---------------------------------------------------------------------------


async def test_profitability_by_customer(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, PROFIT)  # group_by defaults to customer, basis to contracted
    assert body["group_by"] == ["customer"] and body["basis"] == "contracted"
    assert body["from"] == "2026-01" and body["to"] == "2026-02"
    assert rows_by(body, "customer_id") == {
        # A: revenue 2 x 130.00 = 260.00; cost S1 10.00 + 12.00, S2 2 x 60.00, S3 1.50
        # = 143.50; profit 116.50; margin 116.50 / 260 = 0.44807... -> 0.4481.
        ids["a"]: figures("260.00", "143.50", "116.50", "0.4481"),
        # B: 10.32 + 20.00 = 30.32; cost 7.00; 23.32 / 30.32 = 0.76912... -> 0.7691.
        ids["b"]: figures("30.32", "7.00", "23.32", "0.7691"),
        # C: cost without revenue: margin null.
        ids["c"]: figures("0.00", "5.00", "-5.00", None),
        # D: +5.00 - 5.00 and no revenue: left out.
    }
    assert [row["customer_id"] for row in body["rows"]] == [ids["a"], ids["b"], ids["c"]]
    # Totals: 290.32 revenue, 155.50 cost, 134.82 profit, 134.82 / 290.32 = 0.46438 -> 0.4644.
    assert body["totals"] == figures("290.32", "155.50", "134.82", "0.4644")
    # 2.50 (sku UNKNOWN) + 1.25 (account NOPE); December's 9.99 is outside the range.
    assert body["unallocated_cost"] == "3.75"


async def test_profitability_by_contract_splits_vendor_cost(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, PROFIT, group_by="contract")
    assert rows_by(body, "contract_id") == {
        # C1 (L1): revenue 20.00; cost January 10.00 split 1:1:1 over L1, L2, L3 = 3.333...
        # each, floors 3.33 and the extra cent to the earliest line L1: 3.34; February
        # 12.00 / 3 = 4.00. Cost 7.34, profit 12.66, margin 0.6330.
        ids["c1"]: figures("20.00", "7.34", "12.66", "0.6330"),
        # C2 (L2, L3, L4): revenue 40.00 + 200.00 = 240.00; cost 3.33 + 3.33 + 4.00 + 4.00
        # + in-house 2 x 60.00 = 134.66; profit 105.34; 105.34 / 240 = 0.43891 -> 0.4389.
        ids["c2"]: figures("240.00", "134.66", "105.34", "0.4389"),
        # C3 (L5): 30.32 revenue, 7.00 cost (B's 2 units in January).
        ids["c3"]: figures("30.32", "7.00", "23.32", "0.7691"),
        # No contracted units: A's S3 1.50 and C's S3 5.00 (D's 0.00 is left out).
        None: figures("0.00", "6.50", "-6.50", None),
    }
    assert body["rows"][-1]["contract_id"] is None  # nulls last
    # The split moves cost between contracts, never loses a cent.
    assert body["totals"] == figures("290.32", "155.50", "134.82", "0.4644")


async def test_profitability_by_customer_and_contract(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, PROFIT, group_by="customer,contract")
    assert rows_by(body, "customer_id", "contract_id") == {
        (ids["a"], ids["c1"]): figures("20.00", "7.34", "12.66", "0.6330"),
        (ids["a"], ids["c2"]): figures("240.00", "134.66", "105.34", "0.4389"),
        # A's S3 cost with no contract line for S3: contract_id null.
        (ids["a"], None): figures("0.00", "1.50", "-1.50", None),
        (ids["b"], ids["c3"]): figures("30.32", "7.00", "23.32", "0.7691"),
        (ids["c"], None): figures("0.00", "5.00", "-5.00", None),
    }


async def test_contract_split_month_by_month(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, PROFIT, group_by="contract,month")
    rows = rows_by(body, "contract_id", "month")
    # January: C1 = L1 10.00 revenue, 3.34 cost; C2 = L2 + L3 + L4 = 120.00, 3.33 + 3.33
    # + 60.00 = 66.66. February: C1 10.00 / 4.00; C2 120.00 / 8.00 + 60.00 = 68.00.
    assert rows[(ids["c1"], "2026-01")] == figures("10.00", "3.34", "6.66", "0.6660")
    assert rows[(ids["c2"], "2026-01")] == figures("120.00", "66.66", "53.34", "0.4445")
    assert rows[(ids["c1"], "2026-02")] == figures("10.00", "4.00", "6.00", "0.6000")
    assert rows[(ids["c2"], "2026-02")] == figures("120.00", "68.00", "52.00", "0.4333")
    # C3: January 10.32 / 7.00 -> 3.32 / 10.32 = 0.32170 -> 0.3217; February 20.00 / 0.
    assert rows[(ids["c3"], "2026-01")] == figures("10.32", "7.00", "3.32", "0.3217")
    assert rows[(ids["c3"], "2026-02")] == figures("20.00", "0.00", "20.00", "1.0000")
    # No contracted units: C's 5.00 in January, A's 1.50 in February (D's 0 left out).
    assert rows[(None, "2026-01")] == figures("0.00", "5.00", "-5.00", None)
    assert rows[(None, "2026-02")] == figures("0.00", "1.50", "-1.50", None)
    assert len(rows) == 8


async def test_profitability_by_service_vendor_and_month(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    by_service = rows_by(await report(client, PROFIT, group_by="service"), "service_id")
    assert by_service == {
        # S1: A 60.00 + B 30.32 = 90.32; cost 22.00 + 7.00 = 29.00; 61.32 / 90.32 -> 0.6789.
        ids["s1"]: figures("90.32", "29.00", "61.32", "0.6789"),
        # S2 in-house: 200.00 revenue, cost 2 x 2 x 30.00 = 120.00.
        ids["s2"]: figures("200.00", "120.00", "80.00", "0.4000"),
        # S3: C 5.00 + A 1.50 + D 0.00.
        ids["s3"]: figures("0.00", "6.50", "-6.50", None),
    }
    by_vendor = rows_by(await report(client, PROFIT, group_by="vendor"), "vendor_id")
    assert by_vendor == {
        # V: S1 + S3 = 90.32 / 35.50 -> 54.82, 54.82 / 90.32 = 0.60695 -> 0.6070.
        ids["v"]: figures("90.32", "35.50", "54.82", "0.6070"),
        # In-house work: vendor_id null.
        None: figures("200.00", "120.00", "80.00", "0.4000"),
    }
    by_month = rows_by(await report(client, PROFIT, group_by="month"), "month")
    assert by_month == {
        # January: 130.00 + 10.32 = 140.32; cost 10 + 60 + 7 + 5 = 82.00; 58.32 / 140.32
        # = 0.41562 -> 0.4156.
        "2026-01": figures("140.32", "82.00", "58.32", "0.4156"),
        # February: 130.00 + 20.00 = 150.00; cost 12 + 60 + 1.50 + 0 = 73.50 -> 0.5100.
        "2026-02": figures("150.00", "73.50", "76.50", "0.5100"),
    }
    by_service_vendor = rows_by(
        await report(client, PROFIT, group_by="vendor,service"), "vendor_id", "service_id"
    )
    assert by_service_vendor == {
        (ids["v"], ids["s1"]): by_service[ids["s1"]],
        (ids["v"], ids["s3"]): by_service[ids["s3"]],
        (None, ids["s2"]): by_service[ids["s2"]],
    }


async def test_profitability_by_customer_and_month(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, PROFIT, group_by="customer,month")
    assert rows_by(body, "customer_id", "month") == {
        # A January: 130.00 / 10.00 + 60.00 = 70.00 -> 60.00, 60 / 130 = 0.46153 -> 0.4615.
        (ids["a"], "2026-01"): figures("130.00", "70.00", "60.00", "0.4615"),
        # A February: 130.00 / 12.00 + 60.00 + 1.50 = 73.50 -> 56.50 / 130 = 0.43461 -> 0.4346.
        (ids["a"], "2026-02"): figures("130.00", "73.50", "56.50", "0.4346"),
        (ids["b"], "2026-01"): figures("10.32", "7.00", "3.32", "0.3217"),
        (ids["b"], "2026-02"): figures("20.00", "0.00", "20.00", "1.0000"),
        (ids["c"], "2026-01"): figures("0.00", "5.00", "-5.00", None),
        # (D, February): 0 and 0, left out.
    }
    # Rows in key order: customer, then month.
    assert [(r["customer_id"], r["month"]) for r in body["rows"]] == sorted(
        (r["customer_id"], r["month"]) for r in body["rows"]
    )


async def test_invoiced_basis_equals_contracted_when_invoices_carry_it(
    client: httpx.AsyncClient,
) -> None:
    ids = await build_world(client)
    await invoice_the_contracted_revenue(client, ids)
    for group_by in ("customer", "service", "vendor", "month", "customer,month", "service,month"):
        contracted = await report(client, PROFIT, group_by=group_by)
        invoiced = await report(client, PROFIT, group_by=group_by, basis="invoiced")
        assert invoiced["basis"] == "invoiced"
        assert invoiced["rows"] == contracted["rows"], group_by
        assert invoiced["totals"] == contracted["totals"]
        assert invoiced["unallocated_cost"] == contracted["unallocated_cost"] == "3.75"


async def test_invoiced_basis_counts_non_void_invoice_lines(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    # A draft for A in January: 99.99 on S1 and 0.01 on a line without a service; B's
    # February invoice is void, and one of 2025-12 is outside the range.
    await customer_invoice(
        client,
        ids["a"],
        "A-01",
        "2026-01",
        [(ids["s1"], "1", "99.99", "99.99"), (None, "1", "0.01", "0.01")],
        status="draft",
    )
    voided = await customer_invoice(
        client, ids["b"], "B-02", "2026-02", [(ids["s1"], "1", "20.00", "20.00")]
    )
    response = await client.patch(
        f"/api/v1/customer-invoices/{voided['id']}", json={"status": "void"}
    )
    assert response.status_code == 200, response.text
    await customer_invoice(
        client, ids["b"], "B-12", "2025-12", [(ids["s1"], "1", "50.00", "50.00")]
    )
    body = await report(client, PROFIT, group_by="service", basis="invoiced")
    assert rows_by(body, "service_id") == {
        # S1: 99.99 invoiced; cost unchanged 29.00; 70.99 / 99.99 = 0.70997 -> 0.7100.
        ids["s1"]: figures("99.99", "29.00", "70.99", "0.7100"),
        # S2: nothing invoiced, in-house cost 120.00.
        ids["s2"]: figures("0.00", "120.00", "-120.00", None),
        ids["s3"]: figures("0.00", "6.50", "-6.50", None),
        # The invoice line without a service: service_id null.
        None: figures("0.01", "0.00", "0.01", "1.0000"),
    }
    # By contract on the invoiced basis: recorded invoices name no contract line, so their
    # revenue sits on the null contract with the cost no contracted units took.
    by_contract = rows_by(
        await report(client, PROFIT, group_by="contract", basis="invoiced"), "contract_id"
    )
    assert by_contract == {
        ids["c1"]: figures("0.00", "7.34", "-7.34", None),
        ids["c2"]: figures("0.00", "134.66", "-134.66", None),
        ids["c3"]: figures("0.00", "7.00", "-7.00", None),
        # 99.99 + 0.01 revenue; 1.50 + 5.00 cost.
        None: figures("100.00", "6.50", "93.50", "0.9350"),
    }


async def test_in_house_cost_stays_on_its_line(client: httpx.AsyncClient) -> None:
    # Two contracts of one customer on the in-house service: each keeps its own proration.
    s = (await service(client, "ONSITE", unit_price="40.00", unit_cost="25.00"))["id"]
    a = (await customer(client))["id"]
    k1 = (await contract(client, a, "2026-01-01", name="K1"))["id"]
    k2 = (await contract(client, a, "2026-01-01", name="K2"))["id"]
    await line(client, k1, s, "3")
    # From 2026-01-11: 21 of 31 days.
    await line(client, k2, s, "1", start_date="2026-01-11")
    body = await report(client, PROFIT, group_by="contract", **{"from": "2026-01", "to": "2026-01"})
    assert rows_by(body, "contract_id") == {
        # K1: 3 x 40.00 = 120.00; cost 3 x 25.00 = 75.00; 45 / 120 = 0.3750.
        k1: figures("120.00", "75.00", "45.00", "0.3750"),
        # K2: 40 x 21/31 = 27.0967... -> 27.10; cost 25 x 21/31 = 16.9354... -> 16.94;
        # 10.16 / 27.10 = 0.37490... -> 0.3749.
        k2: figures("27.10", "16.94", "10.16", "0.3749"),
    }
    assert body["unallocated_cost"] == "0.00"


async def test_contract_split_by_largest_remainder_and_ties(client: httpx.AsyncClient) -> None:
    v = (await vendor(client))["id"]
    s = (await service(client, "RMM", unit_price="2.00", vendor_id=v, vendor_sku="RMM"))["id"]
    a = (await customer(client))["id"]
    await create(client, f"customers/{a}/vendor-accounts", {"vendor_id": v, "account_ref": "A"})
    k1 = (await contract(client, a, "2026-01-01", name="K1"))["id"]
    k2 = (await contract(client, a, "2026-01-01", name="K2"))["id"]
    k3 = (await contract(client, a, "2026-01-01", name="K3"))["id"]
    # Units 1 (K1), 2 (K2), 0 after an end on 2026-01-30 (K3: not active on the 31st).
    await line(client, k1, s, "1")
    await line(client, k2, s, "2")
    await line(client, k3, s, "5", end_date="2026-01-30")
    await vendor_invoice(client, v, "R-1", "2026-01", [("RMM", "A", "3", "0.3333", "1.00")])
    body = await report(client, PROFIT, group_by="contract", **{"from": "2026-01", "to": "2026-01"})
    costs = {row["contract_id"]: row["cost"] for row in body["rows"]}
    # 100 cents over units 1 : 2 = 33.33... and 66.66...: floors 33 + 66 = 99, the cent
    # left goes to the largest remainder (0.66... of K2): 0.33 and 0.67. K3 has no units,
    # so no cost (its revenue 5 x 2.00 x 30/31 = 9.677... -> 9.68 keeps its row).
    assert costs == {k1: "0.33", k2: "0.67", k3: "0.00"}
    assert body["totals"]["cost"] == "1.00"


# --- trends ----------------------------------------------------------------------------------


async def test_trends_revenue_total_with_changes(client: httpx.AsyncClient) -> None:
    await build_world(client)
    body = await report(client, TRENDS, metric="revenue")
    assert body["metric"] == "revenue" and body["basis"] == "contracted"
    assert body["group_by"] == "none"
    assert body["months"] == ["2026-01", "2026-02"]
    # January 140.32, February 150.00: +9.68.
    assert body["series"] == [{"values": ["140.32", "150.00"], "changes": [None, "9.68"]}]
    assert body["total"] == ["140.32", "150.00"]
    assert body["total_changes"] == [None, "9.68"]


async def test_trends_profit_by_customer(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, TRENDS, metric="profit", group_by="customer")
    assert body["series"] == [
        # A: 130.00 - 70.00 = 60.00; 130.00 - 73.50 = 56.50: -3.50.
        {
            "customer_id": ids["a"],
            "customer_name": "Customer A",
            "values": ["60.00", "56.50"],
            "changes": [None, "-3.50"],
        },
        # B: 10.32 - 7.00 = 3.32; 20.00: +16.68.
        {
            "customer_id": ids["b"],
            "customer_name": "Customer B",
            "values": ["3.32", "20.00"],
            "changes": [None, "16.68"],
        },
        # C: -5.00 then 0.00: +5.00. D (0 and 0) has no series.
        {
            "customer_id": ids["c"],
            "customer_name": "Customer C",
            "values": ["-5.00", "0.00"],
            "changes": [None, "5.00"],
        },
    ]
    # Total: 58.32, 76.50: +18.18.
    assert body["total"] == ["58.32", "76.50"]
    assert body["total_changes"] == [None, "18.18"]


async def test_trends_cost_by_service(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, TRENDS, metric="cost", group_by="service")
    assert body["series"] == [
        # S1: A 10.00 + B 7.00 = 17.00; A 12.00: -5.00.
        {
            "service_id": ids["s1"],
            "service_name": "Service AV",
            "values": ["17.00", "12.00"],
            "changes": [None, "-5.00"],
        },
        # S2: 60.00 in-house each month.
        {
            "service_id": ids["s2"],
            "service_name": "Service HELP",
            "values": ["60.00", "60.00"],
            "changes": [None, "0.00"],
        },
        # S3: C 5.00; A 1.50 + D 0.00.
        {
            "service_id": ids["s3"],
            "service_name": "Service BKP",
            "values": ["5.00", "1.50"],
            "changes": [None, "-3.50"],
        },
    ]
    assert body["total"] == ["82.00", "73.50"]
    assert body["targets"] == []  # targets apply to revenue and profit only


async def test_trends_margin_by_vendor(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, TRENDS, metric="margin", group_by="vendor")
    assert body["series"] == [
        # V January: revenue 30.00 + 10.32 = 40.32, cost 17.00 + 5.00 = 22.00, profit
        # 18.32 / 40.32 = 0.45436 -> 0.4544. February: 50.00 / 13.50 -> 36.50 / 50 = 0.7300.
        {
            "vendor_id": ids["v"],
            "vendor_name": "Pax8",
            "values": ["0.4544", "0.7300"],
            "changes": [None, "0.2756"],
        },
        # In-house: 40.00 / 100.00 both months; no vendor, no name.
        {
            "vendor_id": None,
            "vendor_name": None,
            "values": ["0.4000", "0.4000"],
            "changes": [None, "0.0000"],
        },
    ]
    # Total margin: 58.32 / 140.32 = 0.4156; 76.50 / 150.00 = 0.5100: +0.0944.
    assert body["total"] == ["0.4156", "0.5100"]
    assert body["total_changes"] == [None, "0.0944"]


async def test_trends_margin_null_when_revenue_is_zero(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await report(client, TRENDS, metric="margin", group_by="customer")
    series = {s["customer_id"]: s for s in body["series"]}
    # C: no revenue either month: margin null, and so its change.
    assert series[ids["c"]] == {
        "customer_id": ids["c"],
        "customer_name": "Customer C",
        "values": [None, None],
        "changes": [None, None],
    }
    # A: 60 / 130 = 0.4615, 56.50 / 130 = 0.4346: -0.0269.
    assert series[ids["a"]]["values"] == ["0.4615", "0.4346"]
    assert series[ids["a"]]["changes"] == [None, "-0.0269"]


async def test_trends_gaps(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    e = (await customer(client, "Customer E"))["id"]
    # E's contract ended on 2026-01-10 (cancelled): active in January only, with no line.
    await contract(client, e, "2025-06-01", end_date="2026-01-10")
    body = await report(client, TRENDS, metric="revenue", group_by="customer")
    # D: contract from 2026-02-10, no revenue in February. E: January. C has no contract,
    # so its empty months are no gaps; B's line starts 2026-01-16 but has January revenue.
    assert body["gaps"] == sorted(
        [
            {"customer_id": ids["d"], "customer_name": "Customer D", "month": "2026-02"},
            {"customer_id": e, "customer_name": "Customer E", "month": "2026-01"},
        ],
        key=lambda g: g["customer_id"],
    )
    # Invoiced basis: A and B are invoiced in January only, so February is a gap for them.
    await customer_invoice(client, ids["a"], "A-01", "2026-01", [(ids["s1"], "1", "5.00", "5.00")])
    await customer_invoice(client, ids["b"], "B-01", "2026-01", [(ids["s1"], "1", "5.00", "5.00")])
    invoiced = await report(client, TRENDS, metric="cost", basis="invoiced")
    assert invoiced["basis"] == "invoiced"
    gaps = {(g["customer_id"], g["month"]) for g in invoiced["gaps"]}
    assert gaps == {
        (ids["a"], "2026-02"),
        (ids["b"], "2026-02"),
        (ids["d"], "2026-02"),
        (e, "2026-01"),
    }


async def test_trends_targets_and_attainment(client: httpx.AsyncClient) -> None:
    await build_world(client)
    for period, revenue, profit in (("2026-01", "150.00", "50.00"), ("2026-02", "0", "100")):
        response = await client.put(
            f"/api/v1/targets/{period}", json={"revenue": revenue, "profit": profit}
        )
        assert response.status_code == 200, response.text
    params = {"from": "2026-01", "to": "2026-03"}
    body = (await client.get(TRENDS, params={"metric": "revenue", **params})).json()
    assert body["targets"] == [
        # 140.32 / 150.00 = 0.93546... -> 0.9355.
        {"month": "2026-01", "target": "150.00", "actual": "140.32", "attainment": "0.9355"},
        # A target of 0: no attainment.
        {"month": "2026-02", "target": "0.00", "actual": "150.00", "attainment": None},
        # March: no target set; revenue 130.00 + 20.00.
        {"month": "2026-03", "target": None, "actual": "150.00", "attainment": None},
    ]
    body = (await client.get(TRENDS, params={"metric": "profit", **params})).json()
    assert body["targets"] == [
        # 58.32 / 50.00 = 1.1664.
        {"month": "2026-01", "target": "50.00", "actual": "58.32", "attainment": "1.1664"},
        # 76.50 / 100.00 = 0.7650.
        {"month": "2026-02", "target": "100.00", "actual": "76.50", "attainment": "0.7650"},
        # March: 150.00 revenue - in-house 60.00 = 90.00, no vendor invoices.
        {"month": "2026-03", "target": None, "actual": "90.00", "attainment": None},
    ]
    # A negative profit goal (a planned loss): no attainment either, -a / -b is no ratio of
    # achievement.
    await client.put("/api/v1/targets/2026-03", json={"revenue": "1", "profit": "-5"})
    body = (await client.get(TRENDS, params={"metric": "profit", **params})).json()
    assert body["targets"][2] == {
        "month": "2026-03",
        "target": "-5.00",
        "actual": "90.00",
        "attainment": None,
    }
    body = (await client.get(TRENDS, params={"metric": "margin", **params})).json()
    assert body["targets"] == []


# --- targets ---------------------------------------------------------------------------------


async def test_targets_put_get_list(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/targets/2026-01"), 404)
    first = await client.put("/api/v1/targets/2026-01", json={"revenue": "1000", "profit": 250.5})
    assert first.status_code == 200, first.text
    assert first.json()["period"] == "2026-01"
    assert (first.json()["revenue"], first.json()["profit"]) == ("1000.00", "250.50")
    # Upsert: the same period again replaces the goal; a planned loss is allowed.
    again = await client.put("/api/v1/targets/2026-01", json={"revenue": "900.10", "profit": "-5"})
    assert again.status_code == 200
    got = (await client.get("/api/v1/targets/2026-01")).json()
    assert (got["revenue"], got["profit"]) == ("900.10", "-5.00")
    assert got["created_at"] == first.json()["created_at"]
    for period in ("2026-03", "2025-12", "2026-02"):
        await client.put(f"/api/v1/targets/{period}", json={"revenue": "1", "profit": "1"})
    listed = (await client.get("/api/v1/targets")).json()
    assert [t["period"] for t in listed["items"]] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert listed["next_cursor"] is None
    ranged = (
        await client.get("/api/v1/targets", params={"from": "2026-01", "to": "2026-02"})
    ).json()
    assert [t["period"] for t in ranged["items"]] == ["2026-01", "2026-02"]
    # Pages of one, in period order.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, "from": "2026-01"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/targets", params=params)).json()
        seen += [t["period"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["2026-01", "2026-02", "2026-03"]
    # Only a cursor the target list issued: an id list's, or one naming no valid month, is
    # the 422 of an invalid cursor.
    issued = (await client.get("/api/v1/targets", params={"limit": 1})).json()["next_cursor"]
    assert TARGET_CURSOR.decode(issued) == (Period(2025, 12),)
    for bad in (encode_cursor(24311), TARGET_CURSOR.encode("2025-1"), issued + "\n"):
        answer = await client.get("/api/v1/targets", params={"limit": 1, "cursor": bad})
        assert_problem(answer, 422, "query.cursor")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("2026-13", {"revenue": "1", "profit": "1"}, "path.period"),
        ("2026-01", {"revenue": "-1", "profit": "1"}, "body.revenue"),
        ("2026-01", {"revenue": "1.001", "profit": "1"}, "body.revenue"),
        ("2026-01", {"revenue": "1"}, "body.profit"),
        ("2026-01", {"revenue": "1", "profit": "1", "loss": "2"}, "body.loss"),
    ],
)
async def test_target_validation(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.put(f"/api/v1/targets/{path}", json=body), 422, field)
    assert (await client.get("/api/v1/targets")).json()["items"] == []


async def test_targets_list_validation(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/targets", params={"from": "2026"}), 422, "query.from")
    assert_problem(
        await client.get("/api/v1/targets", params={"from": "2026-02", "to": "2026-01"}),
        422,
        "query.to",
    )
    assert_problem(await client.get("/api/v1/targets/nope"), 422, "path.period")


# --- CSV -------------------------------------------------------------------------------------


def parse_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_profitability_csv(client: httpx.AsyncClient) -> None:
    await build_world(client)
    for group_by in ("customer,month", "contract", "vendor"):
        params = {**RANGE, "group_by": group_by}
        body = (await client.get(PROFIT, params=params)).json()
        response = await client.get(PROFIT, params=params, headers=CSV)
        # Each id with its name beside it; a month has no name.
        keys = [
            key
            for k in group_by.split(",")
            for key in (["month"] if k == "month" else [f"{k}_id", f"{k}_name"])
        ]
        assert response.text.splitlines()[0] == ",".join(
            [*keys, "revenue", "cost", "profit", "margin"]
        )
        parsed = parse_csv(response)
        # Back to the same numbers; nulls are empty cells.
        expected = [
            {
                k: "" if row[k] is None else str(row[k])
                for k in [*keys, "revenue", "cost", "profit", "margin"]
            }
            for row in body["rows"]
        ]
        assert parsed == expected
    # JSON stays the default, and wins when preferred.
    response = await client.get(
        PROFIT, params=RANGE, headers={"Accept": "application/json, text/csv;q=0.5"}
    )
    assert response.headers["content-type"].startswith("application/json")
    # A problem stays a problem, whatever the Accept.
    assert_problem(await client.get(PROFIT, params={**RANGE, "group_by": "x"}, headers=CSV), 422)


async def test_trends_csv(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    response = await client.get(
        TRENDS, params={**RANGE, "metric": "profit", "group_by": "customer"}, headers=CSV
    )
    assert response.text.splitlines()[0] == (
        "customer_id,customer_name,month,value,change,incomplete"
    )
    # Pax8 billed December 2025, January and February: every month final.
    assert [list(row.values()) for row in parse_csv(response)] == [
        [str(ids["a"]), "Customer A", "2026-01", "60.00", "", "false"],
        [str(ids["a"]), "Customer A", "2026-02", "56.50", "-3.50", "false"],
        [str(ids["b"]), "Customer B", "2026-01", "3.32", "", "false"],
        [str(ids["b"]), "Customer B", "2026-02", "20.00", "16.68", "false"],
        [str(ids["c"]), "Customer C", "2026-01", "-5.00", "", "false"],
        [str(ids["c"]), "Customer C", "2026-02", "0.00", "5.00", "false"],
    ]
    # Through March: Pax8 has not billed it yet.
    total = await client.get(
        TRENDS, params={"from": "2026-01", "to": "2026-03", "metric": "margin"}, headers=CSV
    )
    assert parse_csv(total) == [
        {"month": "2026-01", "value": "0.4156", "change": "", "incomplete": "false"},
        {"month": "2026-02", "value": "0.5100", "change": "0.0944", "incomplete": "false"},
        # March: revenue 150.00, in-house cost 60.00 only: 90.00 / 150.00 = 0.6000.
        {"month": "2026-03", "value": "0.6000", "change": "0.0900", "incomplete": "true"},
    ]


async def test_customer_audit_csv(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    params = {"customer_id": str(ids["a"]), "period": "2026-01"}
    body = (await client.get("/api/v1/reports/customer-audit", params=params)).json()
    parsed = parse_csv(
        await client.get("/api/v1/reports/customer-audit", params=params, headers=CSV)
    )
    assert len(parsed) == len(body["rows"]) == 2  # S1 and S2
    for row, json_row in zip(parsed, body["rows"], strict=True):
        for name, value in json_row.items():
            expected = (
                ";".join(value) if isinstance(value, list) else "" if value is None else str(value)
            )
            assert row[name] == expected, name
    s1 = next(r for r in parsed if r["service_id"] == str(ids["s1"]))
    # A's S1 in January: 3 lines x 1 unit, revenue 30.00, vendor 3 units for 10.00.
    assert (s1["contracted_units"], s1["vendor_units"], s1["revenue"], s1["cost"]) == (
        "3",
        "3",
        "30.00",
        "10.00",
    )


def test_reports_document_text_csv(app: Any) -> None:
    paths = app.openapi()["paths"]
    for path in ("/reports/profitability", "/reports/trends", "/reports/customer-audit"):
        content = paths[f"/api/v1{path}"]["get"]["responses"]["200"]["content"]
        assert "application/json" in content and "text/csv" in content, path


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (PROFIT, {"group_by": "customer,color"}, "query.group_by"),
        (PROFIT, {"group_by": "customer,service,month"}, "query.group_by"),
        (PROFIT, {"group_by": "month,month"}, "query.group_by"),
        (PROFIT, {"group_by": ""}, "query.group_by"),
        (PROFIT, {"basis": "billed"}, "query.basis"),
        (PROFIT, {"from": "2026-03", "to": "2026-01"}, "query.to"),
        (PROFIT, {"from": "2026-1"}, "query.from"),
        (PROFIT, {"from": "2020-01", "to": "2026-01"}, "query.to"),  # over 36 months
        (TRENDS, {"metric": "volume"}, "query.metric"),
        (TRENDS, {"group_by": "contract"}, "query.group_by"),
        (TRENDS, {"basis": "cash"}, "query.basis"),
        (TRENDS, {"from": "2026-03", "to": "2026-01"}, "query.to"),
    ],
)
async def test_report_validation(
    client: httpx.AsyncClient, path: str, params: dict[str, str], field: str
) -> None:
    assert_problem(await client.get(path, params={**RANGE, **params}), 422, field)


async def test_reports_need_from_and_to(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(PROFIT, params={"to": "2026-01"}), 422, "query.from")
    assert_problem(await client.get(TRENDS, params={"from": "2026-01"}), 422, "query.to")


async def test_empty_range(client: httpx.AsyncClient) -> None:
    body = await report(client, PROFIT)
    assert body["rows"] == [] and body["unallocated_cost"] == "0.00"
    assert body["totals"] == figures("0.00", "0.00", "0.00", None)
    trends = await report(client, TRENDS, metric="margin", group_by="customer")
    assert trends["series"] == [] and trends["total"] == [None, None]


async def test_every_grouping_has_the_same_totals(client: httpx.AsyncClient) -> None:
    await build_world(client)
    keys = ["customer", "contract", "service", "vendor", "month"]
    groupings = keys + [f"{a},{b}" for a in keys for b in keys if a != b]
    for basis in ("contracted", "invoiced"):
        seen = set()
        for group_by in groupings:
            body = await report(client, PROFIT, group_by=group_by, basis=basis)
            assert body["group_by"] == group_by.split(",")
            # The rows add up to the totals, whatever the grouping.
            revenue = sum((Decimal(r["revenue"]) for r in body["rows"]), Decimal(0))
            cost = sum((Decimal(r["cost"]) for r in body["rows"]), Decimal(0))
            assert (str(revenue), str(cost)) == (body["totals"]["revenue"], body["totals"]["cost"])
            seen.add((body["totals"]["revenue"], body["totals"]["cost"], body["unallocated_cost"]))
        # Contracted: 290.32 / 155.50; invoiced without invoices: 0.00 / 155.50.
        assert seen == {("290.32" if basis == "contracted" else "0.00", "155.50", "3.75")}


def test_margin_in_cents_equals_the_exact_quotient() -> None:
    rng = random.Random(6)
    for _ in range(20_000):
        revenue = rng.choice([rng.randint(-(10**9), 10**9), rng.choice([1, 3, -7, 16, 10_000])])
        profit = rng.randint(-(10**9), 10**9) if rng.random() < 0.5 else rng.randint(-50, 50)
        if revenue == 0:
            continue
        expected = round_half_up(Fraction(profit) / Fraction(revenue), 4)
        got = margin(revenue, profit)
        assert got == expected and str(got) == str(expected), (revenue, profit)
    # 1 / 8 = 0.125 exactly -> 0.1250; 1 / 3 -> 0.3333; -2 / 3 -> -0.6667 (half away from 0).
    assert [str(margin(8, 1)), str(margin(3, 1)), str(margin(3, -2))] == [
        "0.1250",
        "0.3333",
        "-0.6667",
    ]
    assert margin(0, 5) is None
    assert str(margin(5, 0)) == "0.0000" and str(margin(Decimal("5"), Decimal("0"))) == "0.0000"
