"""Audits and reports read one consistent state while vendor invoices of the same month
come and go (docs: consistency). Two invoices are created and deleted in loops while
audits, the customer-audit report and profitability run beside them: every answer is a
success, and each one equals the answer of one of the four quiet states (neither invoice,
either one, both), never a mix of two states."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.helpers import contract, create, customer, line, service, vendor

PERIOD = "2026-03"
CHURN_SECONDS = 2.5


def _invoice(
    vendor_id: int, number: str, lines: list[dict[str, Any]], total: str
) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "invoice_number": number,
        "invoice_date": "2026-03-31",
        "period": PERIOD,
        "total": total,
        "lines": lines,
    }


async def _world(client: httpx.AsyncClient) -> tuple[int, dict[str, dict[str, Any]]]:
    """A customer with 10 seats at 22.00, and two invoices that each leave their mark on
    several rules: A charges 12 seats (UNBILLED_UNITS), an unknown SKU (UNMAPPED_SKU) and
    a total 5.00 off the lines (INVOICE_TOTAL_MISMATCH); B charges A's 12 seats again
    (DUPLICATE_CHARGE beside A), 3 seats at 20.00 (PRICE_INCREASE) and an unknown
    account."""
    v = await vendor(client, "Pax8")
    seats = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="V-M365")
    c = await customer(client, "Acme Ltd")
    await create(
        client, f"customers/{c['id']}/vendor-accounts", {"vendor_id": v["id"], "account_ref": "A0"}
    )
    k = await contract(client, c["id"], "2026-01-01")
    await line(client, k["id"], seats["id"], "10")
    a_lines = [
        {"vendor_sku": "V-M365", "account_ref": "A0", "quantity": "12", "unit_cost": "18"},
        {"vendor_sku": "V-UNKNOWN", "account_ref": "A0", "quantity": "1", "unit_cost": "7"},
    ]
    b_lines = [
        # The same charge as A's (identical line): DUPLICATE_CHARGE beside it.
        {"vendor_sku": "V-M365", "account_ref": "A0", "quantity": "12", "unit_cost": "18"},
        {"vendor_sku": "V-M365", "account_ref": "A0", "quantity": "3", "unit_cost": "20"},
        {"vendor_sku": "V-M365", "account_ref": "NOBODY", "quantity": "2", "unit_cost": "18"},
    ]
    invoices = {
        "A": _invoice(v["id"], "CHURN-A", a_lines, "228.00"),  # lines: 216 + 7 = 223.00
        "B": _invoice(v["id"], "CHURN-B", b_lines, "312.00"),
    }
    return c["id"], invoices


def _summary(audit: dict[str, Any]) -> Any:
    return audit["summary"]


def _customer_rows(report: dict[str, Any]) -> Any:
    return [
        (r["service_id"], r["vendor_units"], r["cost"], tuple(r["finding_types"]))
        for r in report["rows"]
    ]


async def _answers(client: httpx.AsyncClient, customer_id: int) -> tuple[Any, Any, Any]:
    audit = await client.post("/api/v1/audits", json={"period": PERIOD})
    report = await client.get(
        "/api/v1/reports/customer-audit", params={"customer_id": customer_id, "period": PERIOD}
    )
    profit = await client.get(
        "/api/v1/reports/profitability", params={"from": PERIOD, "to": PERIOD}
    )
    assert (audit.status_code, report.status_code, profit.status_code) == (201, 200, 200)
    return _summary(audit.json()), _customer_rows(report.json()), profit.json()


async def test_audits_and_reports_under_live_ingestion(client: httpx.AsyncClient) -> None:
    customer_id, invoices = await _world(client)

    # The four quiet states and what each answers.
    states: dict[frozenset[str], tuple[Any, Any, Any]] = {}
    for present in (frozenset(), frozenset("A"), frozenset("B"), frozenset("AB")):
        ids = [
            (await create(client, "vendor-invoices", invoices[name]))["id"]
            for name in sorted(present)
        ]
        states[present] = await _answers(client, customer_id)
        for invoice_id in ids:
            deleted = await client.delete(f"/api/v1/vendor-invoices/{invoice_id}?force=true")
            assert deleted.status_code == 204, deleted.text
    summaries = [state[0] for state in states.values()]
    assert len({repr(s) for s in summaries}) == 4, "each state must answer differently"
    assert "INVOICE_TOTAL_MISMATCH" in states[frozenset("A")][0]["by_type"]
    assert "DUPLICATE_CHARGE" in states[frozenset("AB")][0]["by_type"]

    deadline = time.monotonic() + CHURN_SECONDS
    statuses: list[int] = []
    seen: dict[str, list[Any]] = {"audit": [], "customer": [], "profit": []}

    async def churn(name: str) -> None:
        while time.monotonic() < deadline:
            made = await client.post("/api/v1/vendor-invoices", json=invoices[name])
            statuses.append(made.status_code)
            if made.status_code == 201:
                gone = await client.delete(
                    f"/api/v1/vendor-invoices/{made.json()['id']}?force=true"
                )
                statuses.append(gone.status_code)

    async def audits() -> None:
        while time.monotonic() < deadline:
            answer = await client.post("/api/v1/audits", json={"period": PERIOD})
            statuses.append(answer.status_code)
            if answer.status_code == 201:
                seen["audit"].append(_summary(answer.json()))

    async def reports() -> None:
        while time.monotonic() < deadline:
            report = await client.get(
                "/api/v1/reports/customer-audit",
                params={"customer_id": customer_id, "period": PERIOD},
            )
            statuses.append(report.status_code)
            if report.status_code == 200:
                seen["customer"].append(_customer_rows(report.json()))
            profit = await client.get(
                "/api/v1/reports/profitability", params={"from": PERIOD, "to": PERIOD}
            )
            statuses.append(profit.status_code)
            if profit.status_code == 200:
                seen["profit"].append(profit.json())

    await asyncio.gather(churn("A"), churn("B"), audits(), audits(), reports())

    assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
    assert set(statuses) <= {200, 201, 204}, sorted(set(statuses))
    assert len(seen["audit"]) >= 4 and len(seen["customer"]) >= 4
    for index, kind in enumerate(("audit", "customer", "profit")):
        allowed = [state[index] for state in states.values()]
        mixed = [answer for answer in seen[kind] if answer not in allowed]
        assert not mixed, (kind, mixed[:2], allowed)
