"""Trends' `incomplete` months (docs/reports.md#incomplete-months): a month in which a
vendor that billed the month before (an invoice for it, or a recurring line in force on
its last day) has not billed yet. Every case worked out by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import contract, create, customer, line, service, vendor
from tests.test_reports import TRENDS, vendor_invoice


async def trends(client: httpx.AsyncClient, first: str, last: str, **params: str) -> Any:
    response = await client.get(TRENDS, params={"from": first, "to": last, **params})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_month_without_the_vendors_invoice_is_incomplete(
    client: httpx.AsyncClient,
) -> None:
    # Acme holds 10 seats at 10.00 from September (100.00 a month); Pax8 charges them at
    # 6.00 (60.00) for September and October, and has not sent November's invoice yet.
    v = (await vendor(client, "Pax8"))["id"]
    av = await service(
        client, "AV", unit_price="10.00", unit_cost="6.00", vendor_id=v, vendor_sku="AV"
    )
    acme = (await customer(client, "Acme Ltd"))["id"]
    await create(
        client, f"customers/{acme}/vendor-accounts", {"vendor_id": v, "account_ref": "ACME"}
    )
    await line(client, (await contract(client, acme, "2026-09-01"))["id"], av["id"], "10")
    for period in ("2026-09", "2026-10"):
        await vendor_invoice(
            client, v, f"P-{period}", period, [("AV", "ACME", "10", "6.00", "60.00")]
        )

    body = await trends(client, "2026-09", "2026-11", metric="margin")
    # September and October: (100.00 - 60.00) / 100.00 = 0.4000. November has no cost
    # yet, so it reads as all profit, 1.0000, and is listed as not final.
    assert body["total"] == ["0.4000", "0.4000", "1.0000"]
    assert body["incomplete"] == ["2026-11"]
    # The same months whatever the metric or grouping: a property of the months.
    for metric, group_by in (("cost", "customer"), ("revenue", "vendor"), ("profit", "none")):
        again = await trends(client, "2026-09", "2026-11", metric=metric, group_by=group_by)
        assert again["incomplete"] == ["2026-11"]
    # A range that ends before it: nothing missing (October follows September's invoice).
    assert (await trends(client, "2026-09", "2026-10"))["incomplete"] == []

    # November's invoice arrives: final, 0.4000.
    await vendor_invoice(client, v, "P-2026-11", "2026-11", [("AV", "ACME", "10", "6.00", "60.00")])
    body = await trends(client, "2026-09", "2026-11", metric="margin")
    assert body["total"] == ["0.4000", "0.4000", "0.4000"]
    assert body["incomplete"] == []


async def test_a_line_in_force_bills_the_month(client: httpx.AsyncClient) -> None:
    # Microsoft bills a year in advance on its January invoice: one recurring line for
    # 2026-01-01..2026-12-31 (12 x 10.00 = 120.00). It is in force on the last day of
    # every month of 2026, so February to December are billed without an invoice of
    # their own; January 2027, after the term, is not: incomplete.
    ms = (await vendor(client, "Microsoft"))["id"]
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": ms,
            "invoice_number": "MS-2026",
            "invoice_date": "2026-01-05",
            "period": "2026-01",
            "total": "120.00",
            "lines": [
                {
                    "vendor_sku": "E3-ANNUAL",
                    "account_ref": "T-1",
                    "quantity": "1",
                    "unit_cost": "10.00",
                    "charge_start": "2026-01-01",
                    "charge_end": "2026-12-31",
                }
            ],
        },
    )
    body = await trends(client, "2026-01", "2027-01")
    assert body["incomplete"] == ["2027-01"]
    # The month before the term (December 2025) had nothing from Microsoft: January is
    # no missing month, it is the first.
    assert (await trends(client, "2025-11", "2026-02"))["incomplete"] == []


async def test_the_month_before_the_range_counts_and_a_stop_shows_once(
    client: httpx.AsyncClient,
) -> None:
    # Ingram billed November and December 2025, then stopped; Pax8 starts in February
    # 2026 and bills March too. From January to March 2026: January (Ingram billed
    # December, the month before the range) is incomplete; February and March are not
    # (Ingram billed neither January nor February; Pax8 billed nothing in January and
    # billed February before March).
    ingram = (await vendor(client, "Ingram"))["id"]
    pax8 = (await vendor(client, "Pax8"))["id"]
    for period in ("2025-11", "2025-12"):
        await vendor_invoice(
            client, ingram, f"I-{period}", period, [("X", "Y", "1", "5.00", "5.00")]
        )
    for period in ("2026-02", "2026-03"):
        await vendor_invoice(client, pax8, f"P-{period}", period, [("X", "Y", "1", "5.00", "5.00")])
    assert (await trends(client, "2026-01", "2026-03"))["incomplete"] == ["2026-01"]
    # From April: Pax8 billed March, not April.
    assert (await trends(client, "2026-01", "2026-04"))["incomplete"] == ["2026-01", "2026-04"]
    # No vendor at all in range or before it: nothing to wait for.
    assert (await trends(client, "2024-01", "2024-03"))["incomplete"] == []
