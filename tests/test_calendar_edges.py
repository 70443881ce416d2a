"""The first and last months of the calendar (1900-01 and 9998-12) through audits and the
three reports on a database holding data, and the months past it refused with a 422
(9999-12's last day is Python's last date, which PostgreSQL's driver sends as
'infinity')."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import assert_problem, contract, create, customer, line, service, vendor


async def _world(client: httpx.AsyncClient, period: str, start: str) -> int:
    v = await vendor(client, "Pax8")
    seats = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="V-M365")
    c = await customer(client, "Acme Ltd")
    await create(
        client, f"customers/{c['id']}/vendor-accounts", {"vendor_id": v["id"], "account_ref": "A0"}
    )
    k = await contract(client, c["id"], start)  # open-ended
    await line(client, k["id"], seats["id"], "10")
    await create(
        client,
        "assets",
        {"customer_id": c["id"], "service_id": seats["id"], "name": "PC", "installed_on": start},
    )
    year, month = period.split("-")
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": v["id"],
            "invoice_number": f"INV-{period}",
            "invoice_date": f"{year}-{month}-28",
            "period": period,
            "total": "250.00",
            "lines": [
                {"vendor_sku": "V-M365", "account_ref": "A0", "quantity": "12", "unit_cost": "19"},
                {"vendor_sku": "V-NEW", "account_ref": "A0", "quantity": "1", "unit_cost": "7"},
            ],
        },
    )
    return int(c["id"])


@pytest.mark.parametrize(
    ("period", "start", "first"),
    [("9998-12", "9998-01-01", "9998-01"), ("1900-01", "1900-01-01", "1900-01")],
)
async def test_the_calendars_edges_audit_and_report(
    client: httpx.AsyncClient, period: str, start: str, first: str
) -> None:
    customer_id = await _world(client, period, start)
    audit = await client.post("/api/v1/audits", json={"period": period})
    assert audit.status_code == 201, audit.text
    by_type = audit.json()["summary"]["by_type"]
    # 12 seats charged for 10 contracted at 22.00; 19.00 above the 18.00 standard.
    assert by_type["UNBILLED_UNITS"] == {"count": 1, "impact": "44.00"}
    assert by_type["PRICE_INCREASE"] == {"count": 1, "impact": "12.00"}
    assert by_type["UNMAPPED_SKU"] == {"count": 1, "impact": "7.00"}
    report = await client.get(
        "/api/v1/reports/customer-audit", params={"customer_id": customer_id, "period": period}
    )
    assert report.status_code == 200, report.text
    assert report.json()["revenue"] == "220.00"
    for path, params in (
        ("profitability", {"from": first, "to": period, "group_by": "customer,month"}),
        ("trends", {"from": first, "to": period, "metric": "profit", "group_by": "customer"}),
    ):
        answer = await client.get(f"/api/v1/reports/{path}", params=params)
        assert answer.status_code == 200, answer.text
    profit = await client.get(
        "/api/v1/reports/profitability", params={"from": period, "to": period}
    )
    assert profit.json()["totals"] == {
        "revenue": "220.00",
        "cost": "228.00",
        "profit": "-8.00",
        "margin": "-0.0364",
    }


@pytest.mark.parametrize("period", ["9999-12", "9999-01", "1899-12"])
async def test_months_past_the_calendar_are_422(client: httpx.AsyncClient, period: str) -> None:
    customer_id = await _world(client, "9998-12", "9998-01-01")
    assert_problem(await client.post("/api/v1/audits", json={"period": period}), 422, "period")
    checks: tuple[tuple[str, dict[str, Any]], ...] = (
        ("customer-audit", {"customer_id": customer_id, "period": period}),
        ("profitability", {"from": "9998-12", "to": period}),
        ("trends", {"from": "9998-12", "to": period}),
    )
    for path, params in checks:
        answer = await client.get(f"/api/v1/reports/{path}", params=params)
        assert_problem(answer, 422)
