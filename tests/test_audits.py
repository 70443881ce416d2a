"""Audits through HTTP (docs/findings.md), on SQLite and PostgreSQL.

Every number below is worked out by hand in a comment next to it: the eleven finding
types with their quantities, unit amounts, impacts and messages, their boundaries
(impact 0, equal quantities, the vendor filter, credits, duplicate ordering), the audit
API (summary, filters, paging, statuses that survive re-runs), the per-customer audit
report, and deleting a vendor invoice an audit used.

The audited month is 2026-10 (31 days) unless a test says otherwise; its previous month
2026-09 has 30 days. Unit amounts on a finding follow the module docstring of
app/audits/rules.py: `expected_*` is the contract's side (contracted units, contract
unit price, or the standard cost for PRICE_INCREASE), `actual_*` what was observed
(vendor units and mean unit cost, or deployed units).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from app.audits.models import FindingRead, FindingType
from tests.conftest import ROOT, make_client
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor

API = "/api/v1"
PERIOD = "2026-10"


# --- small builders --------------------------------------------------------------------------


async def account(client: httpx.AsyncClient, customer_id: int, vendor_id: int, ref: str) -> None:
    """How the vendor names the customer on its invoices."""
    await create(
        client,
        f"customers/{customer_id}/vendor-accounts",
        {"vendor_id": vendor_id, "account_ref": ref},
    )


def vline(sku: str, ref: str, quantity: str, unit_cost: str, **extra: Any) -> dict[str, Any]:
    """A vendor invoice line; amount defaults to quantity x unit_cost rounded."""
    return {
        "vendor_sku": sku,
        "account_ref": ref,
        "quantity": quantity,
        "unit_cost": unit_cost,
        **extra,
    }


async def vendor_invoice(
    client: httpx.AsyncClient,
    vendor_id: int,
    number: str,
    total: str,
    lines: list[dict[str, Any]],
    *,
    period: str = PERIOD,
    invoice_date: str = "2026-10-31",
) -> dict[str, Any]:
    return await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": vendor_id,
            "invoice_number": number,
            "invoice_date": invoice_date,
            "period": period,
            "total": total,
            "lines": lines,
        },
    )


async def bill(
    client: httpx.AsyncClient,
    customer_id: int,
    number: str,
    *,
    period: str = PERIOD,
    status: str = "posted",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Record a customer invoice for the period (so MISSING_BILLING stays out of the way)."""
    return await create(
        client,
        "customer-invoices",
        {
            "customer_id": customer_id,
            "number": number,
            "period": period,
            "issue_date": "2026-10-31",
            "status": status,
            "lines": lines
            or [{"description": "Managed services", "quantity": "1", "unit_price": "0.00"}],
        },
    )


async def asset(
    client: httpx.AsyncClient,
    customer_id: int,
    service_id: int,
    name: str,
    installed_on: str = "2026-09-01",
    removed_on: str | None = None,
) -> None:
    payload: dict[str, Any] = {
        "customer_id": customer_id,
        "service_id": service_id,
        "name": name,
        "installed_on": installed_on,
    }
    if removed_on is not None:
        payload["removed_on"] = removed_on
    await create(client, "assets", payload)


async def new_key(client: httpx.AsyncClient, name: str, *scopes: str) -> str:
    response = await client.post(f"{API}/api-keys", json={"name": name, "scopes": list(scopes)})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def findings_of(
    client: httpx.AsyncClient, audit_id: int, *, listed: str = "findings", **params: Any
) -> list[dict[str, Any]]:
    """Every finding of the audit (all pages), biggest impact first; with
    listed="suppressed", those tolerances held back."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/audits/{audit_id}/{listed}", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def summary_of(
    found: list[dict[str, Any]], held: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What the audit's summary must be for these findings and those tolerances held back
    (docs/findings.md#summary, docs/tolerances.md#summary)."""
    held = held or []
    by_type: dict[str, dict[str, Any]] = {}
    for f in found:
        entry = by_type.setdefault(f["type"], {"count": 0, "impact": Decimal(0)})
        entry["count"] += 1
        entry["impact"] += Decimal(f["impact"])
    return {
        "count": len(found),
        "total_impact": f"{sum((Decimal(f['impact']) for f in found), Decimal(0)):.2f}",
        "by_type": {
            k: {"count": v["count"], "impact": f"{v['impact']:.2f}"} for k, v in by_type.items()
        },
        "suppressed": {
            "count": len(held),
            "impact": f"{sum((Decimal(f['impact']) for f in held), Decimal(0)):.2f}",
        },
    }


async def audit(
    client: httpx.AsyncClient, period: str = PERIOD, vendor_id: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run an audit; return it with its findings, after checking that its summary (in the
    POST answer and in GET /audits/{id}) equals the findings and that they come biggest
    impact first, then by id."""
    body: dict[str, Any] = {"period": period}
    if vendor_id is not None:
        body["vendor_id"] = vendor_id
    response = await client.post(f"{API}/audits", json=body)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    assert run["period"] == period and run["vendor_id"] == vendor_id
    found = await findings_of(client, run["id"])
    held = await findings_of(client, run["id"], listed="suppressed")
    assert run["summary"] == summary_of(found, held)
    assert (await client.get(f"{API}/audits/{run['id']}")).json() == run
    keys = [(-Decimal(f["impact"]), f["id"]) for f in found]
    assert keys == sorted(keys)
    assert all(f["audit_id"] == run["id"] for f in found)
    return run, found


def brief(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, impact) of each finding, in the order listed."""
    return [(f["type"], f["impact"]) for f in found]


def check(finding: dict[str, Any], **expected: Any) -> None:
    assert {k: finding[k] for k in expected} == expected, finding


async def pax8_world(
    client: httpx.AsyncClient,
    *,
    customer_name: str = "Acme Ltd",
    ref: str = "ACME-1",
    sku: str = "AV",
    service_name: str = "Antivirus",
    unit_price: str = "15.00",
    unit_cost: str = "10.00",
) -> tuple[int, int, int]:
    """Vendor Pax8, a customer known to it as `ref`, and a Pax8 service: their ids."""
    v = await vendor(client, "Pax8")
    c = await customer(client, customer_name)
    await account(client, c["id"], v["id"], ref)
    s = await service(
        client,
        sku,
        name=service_name,
        unit_price=unit_price,
        unit_cost=unit_cost,
        vendor_id=v["id"],
        vendor_sku=f"{sku}-V",
    )
    return v["id"], c["id"], s["id"]


# --- ORPHANED_COST ---------------------------------------------------------------------------


async def test_orphaned_cost(client: httpx.AsyncClient) -> None:
    v, beta, s = await pax8_world(
        client,
        customer_name="Beta GmbH",
        ref="BETA-1",
        sku="M365-BP",
        service_name="Microsoft 365 Business Premium",
        unit_price="22.00",
        unit_cost="21.00",
    )
    # Beta's contract is cancelled with 2026-09-30 as its last day: 0 contracted units in
    # October, and no revenue (so no MISSING_BILLING either).
    k = await contract(client, beta, "2026-01-01")
    await line(client, k["id"], s, "5")
    cancel = await client.post(
        f"{API}/contracts/{k['id']}/cancel", json={"effective_date": "2026-09-30"}
    )
    assert cancel.status_code == 200, cancel.text
    # Gamma never had a contract line for the service.
    gamma = await customer(client, "Gamma AG")
    await account(client, gamma["id"], v, "GAMMA-1")
    # Delta was charged 1 and credited 1: amount 21.00 - 21.00 = 0.00, impact 0, no finding.
    delta = await customer(client, "Delta SA")
    await account(client, delta["id"], v, "DELTA-1")
    invoice = await vendor_invoice(
        client,
        v,
        "P-1001",
        # 5 x 21.00 + 2 x 21.00 + 21.00 - 21.00 = 105.00 + 42.00 = 147.00
        "147.00",
        [
            vline("M365-BP-V", "BETA-1", "5", "21.00"),
            vline("M365-BP-V", "GAMMA-1", "2", "21.00"),
            vline("M365-BP-V", "DELTA-1", "1", "21.00"),
            vline("M365-BP-V", "DELTA-1", "-1", "21.00"),
        ],
    )
    assert invoice["lines_total"] == "147.00"

    run, found = await audit(client)
    # unit_cost 21.00 is the standard: no PRICE_INCREASE; total = lines: no mismatch.
    assert brief(found) == [("ORPHANED_COST", "105.00"), ("ORPHANED_COST", "42.00")]
    assert run["summary"] == {
        "count": 2,
        "total_impact": "147.00",  # 105.00 + 42.00
        "by_type": {"ORPHANED_COST": {"count": 2, "impact": "147.00"}},
        "suppressed": {"count": 0, "impact": "0.00"},
    }
    first, second = found
    check(
        first,
        severity="high",
        status="open",
        customer_id=beta,
        service_id=s,
        vendor_id=v,
        vendor_invoice_id=None,
        expected_quantity="0",
        actual_quantity="5",
        expected_unit_amount=None,
        actual_unit_amount="21.00",  # 105.00 / 5
        previous_unit_cost=None,
        message="Beta GmbH: Pax8 charged 5 x Microsoft 365 Business Premium (105.00) for "
        "2026-10, but no active contract covers it (contract ended 2026-09-30).",
    )
    check(
        second,
        customer_id=gamma["id"],
        service_id=s,
        vendor_id=v,
        expected_quantity="0",
        actual_quantity="2",
        actual_unit_amount="21.00",  # 42.00 / 2
        message="Gamma AG: Pax8 charged 2 x Microsoft 365 Business Premium (42.00) for "
        "2026-10, but no active contract covers it (no contract line at the end of the month).",
    )


# --- UNBILLED_UNITS and the contract unit price ----------------------------------------------


async def test_unbilled_units_with_weighted_mean_price(client: httpx.AsyncClient) -> None:
    v, acme, s = await pax8_world(client, unit_price="10.00", unit_cost="5.00")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "3", unit_price="10.00")
    # Starts mid-month: prorated revenue, but counted in full in the contracted units
    # (the quantity on the month's last day).
    await line(client, k["id"], s, "1", unit_price="14.00", start_date="2026-10-16")
    await vendor_invoice(client, v, "P-1", "30.00", [vline("AV-V", "ACME-1", "6", "5.00")])

    _, found = await audit(client)
    # Contracted units on 2026-10-31: 3 + 1 = 4.
    # Contract unit price: (3 x 10.00 + 1 x 14.00) / 4 = 44.00 / 4 = 11.00.
    # UNBILLED_UNITS: (6 - 4) x 11.00 = 22.00.
    # Revenue: 3 x 10.00 x 31/31 = 30.00; 1 x 14.00 x 16/31 = 224/31 = 7.2258 -> 7.23;
    # 30.00 + 7.23 = 37.23, not invoiced: MISSING_BILLING 37.23.
    # Mean cost 5.00 < 11.00: no NEGATIVE_MARGIN.
    assert brief(found) == [("MISSING_BILLING", "37.23"), ("UNBILLED_UNITS", "22.00")]
    missing, unbilled = found
    check(
        unbilled,
        severity="high",
        customer_id=acme,
        service_id=s,
        vendor_id=v,
        vendor_invoice_id=None,
        expected_quantity="4",
        actual_quantity="6",
        expected_unit_amount="11.00",
        actual_unit_amount="5.00",  # 30.00 / 6
        previous_unit_cost=None,
        message="Acme Ltd: Pax8 charged 6 x Antivirus for 2026-10 but the contract bills 4; "
        "2 unbilled at 11.00 = 22.00.",
    )
    check(
        missing,
        severity="high",
        customer_id=acme,
        service_id=None,
        vendor_id=None,
        vendor_invoice_id=None,
        message="Acme Ltd: contracted revenue of 37.23 for 2026-10, but no customer invoice "
        "for the month.",
    )


async def test_unbilled_units_non_terminating_mean_is_rounded_once(
    client: httpx.AsyncClient,
) -> None:
    v, acme, s = await pax8_world(client, unit_price="10.00", unit_cost="5.00")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "1", unit_price="10.00")
    await line(client, k["id"], s, "2", unit_price="10.01")
    await bill(client, acme, "C-1")
    # 53 x 5.00 = 265.00
    await vendor_invoice(client, v, "P-1", "265.00", [vline("AV-V", "ACME-1", "53", "5.00")])

    _, found = await audit(client)
    # Contracted units 1 + 2 = 3; price (1 x 10.00 + 2 x 10.01) / 3 = 30.02 / 3
    # = 10.00666..., shown as 10.006667.
    # UNBILLED_UNITS: (53 - 3) x 30.02 / 3 = 1501 / 3 = 500.3333... -> 500.33. (Rounding
    # the mean to 10.0067 first would give 50 x 10.0067 = 500.335 -> 500.34.)
    assert brief(found) == [("UNBILLED_UNITS", "500.33")]
    check(
        found[0],
        expected_quantity="3",
        actual_quantity="53",
        expected_unit_amount="10.006667",
        actual_unit_amount="5.00",
        message="Acme Ltd: Pax8 charged 53 x Antivirus for 2026-10 but the contract bills 3; "
        "50 unbilled at 10.006667 = 500.33.",
    )


async def test_contracted_units_are_the_quantity_on_the_last_day(
    client: httpx.AsyncClient,
) -> None:
    v, acme, s = await pax8_world(client, unit_price="10.00", unit_cost="5.00")
    k = await contract(client, acme, "2026-01-01")
    grown = await line(client, k["id"], s, "2", unit_price="10.00")
    adjusted = await client.post(
        f"{API}/contracts/{k['id']}/lines/{grown['id']}/adjustments",
        json={"effective_date": "2026-10-22", "quantity": "4"},
    )
    assert adjusted.status_code == 201, adjusted.text
    # Ends 2026-10-15: revenue for 15 days, but 0 contracted units on 2026-10-31, and its
    # price 12.00 plays no part in the contract unit price.
    await line(client, k["id"], s, "5", unit_price="12.00", end_date="2026-10-15")
    await vendor_invoice(client, v, "P-1", "30.00", [vline("AV-V", "ACME-1", "6", "5.00")])

    _, found = await audit(client)
    # Contracted units: 4 (the adjusted quantity on 2026-10-31) + 0 = 4; price 4 x 10.00
    # / 4 = 10.00. UNBILLED_UNITS (6 - 4) x 10.00 = 20.00.
    # Revenue: line 1: (21 days x 2 + 10 days x 4) x 10.00 / 31 = 820/31 = 26.4516 ->
    # 26.45; line 2: 15 days x 5 x 12.00 / 31 = 900/31 = 29.0322 -> 29.03; 55.48.
    assert brief(found) == [("MISSING_BILLING", "55.48"), ("UNBILLED_UNITS", "20.00")]
    check(found[1], expected_quantity="4", actual_quantity="6", expected_unit_amount="10.00")


async def test_equal_quantities_give_no_unit_findings(client: httpx.AsyncClient) -> None:
    v, acme, s = await pax8_world(client, unit_price="10.00", unit_cost="5.00")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "5")
    await bill(client, acme, "C-1")
    # Credits reduce vendor units and amounts: 7 - 2 = 5 units, 35.00 - 10.00 = 25.00.
    # Without the credit: UNBILLED_UNITS (7 - 5) x 10.00 = 20.00.
    await vendor_invoice(
        client,
        v,
        "P-1",
        "25.00",
        [vline("AV-V", "ACME-1", "7", "5.00"), vline("AV-V", "ACME-1", "-2", "5.00")],
    )
    _, found = await audit(client)
    assert found == []


# --- OVERBILLED_UNITS ------------------------------------------------------------------------


async def test_overbilled_units(client: httpx.AsyncClient) -> None:
    v, acme, s = await pax8_world(client, unit_price="20.00", unit_cost="8.00")
    beta = (await customer(client, "Beta GmbH"))["id"]
    gamma = (await customer(client, "Gamma AG"))["id"]
    await account(client, gamma, v, "GAMMA-1")
    for who, quantity in ((acme, "5"), (beta, "2"), (gamma, "3")):
        k = await contract(client, who, "2026-01-01")
        await line(client, k["id"], s, quantity)
        await bill(client, who, f"C-{who}")
    # Datto sent nothing for 2026-10 (only for 2026-09): its service is never OVERBILLED.
    datto = (await vendor(client, "Datto"))["id"]
    await account(client, acme, datto, "ACME-D")
    backup = await service(
        client,
        "BK",
        name="Backup",
        unit_price="15.00",
        unit_cost="5.00",
        vendor_id=datto,
        vendor_sku="BK-V",
    )
    kd = await contract(client, acme, "2026-01-01", name="Backup")
    await line(client, kd["id"], backup["id"], "4")
    await vendor_invoice(
        client,
        datto,
        "D-9",
        "20.00",
        [vline("BK-V", "ACME-D", "4", "5.00")],
        period="2026-09",
        invoice_date="2026-09-30",
    )
    # Pax8 for 2026-10: 3 x 8.00 = 24.00 for Acme, 3 x 8.00 = 24.00 for Gamma; nothing for
    # Beta.
    await vendor_invoice(
        client,
        v,
        "P-1",
        "48.00",
        [vline("AV-V", "ACME-1", "3", "8.00"), vline("AV-V", "GAMMA-1", "3", "8.00")],
    )

    _, found = await audit(client)
    # Acme: (5 - 3) x 20.00 = 40.00; Beta: (2 - 0) x 20.00 = 40.00 (vendor units 0: Pax8
    # has an invoice for the month, just no line for Beta); Gamma: 3 = 3, none.
    # Equal impacts: by id, Acme's first (the rule walks customers in id order).
    assert brief(found) == [("OVERBILLED_UNITS", "40.00"), ("OVERBILLED_UNITS", "40.00")]
    acme_f, beta_f = found
    check(
        acme_f,
        severity="medium",
        customer_id=acme,
        service_id=s,
        vendor_id=v,
        vendor_invoice_id=None,
        expected_quantity="5",
        actual_quantity="3",
        expected_unit_amount="20.00",
        actual_unit_amount="8.00",  # 24.00 / 3
        message="Acme Ltd: the contract bills 5 x Antivirus for 2026-10 but Pax8 charged 3; "
        "2 units at 20.00 = 40.00 billed without a vendor seat.",
    )
    check(
        beta_f,
        customer_id=beta,
        service_id=s,
        vendor_id=v,
        expected_quantity="2",
        actual_quantity="0",
        expected_unit_amount="20.00",
        actual_unit_amount=None,
        message="Beta GmbH: the contract bills 2 x Antivirus for 2026-10 but Pax8 charged 0; "
        "2 units at 20.00 = 40.00 billed without a vendor seat.",
    )


async def test_no_overbilled_units_without_a_vendor_invoice(client: httpx.AsyncClient) -> None:
    _, acme, s = await pax8_world(client)
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "5")
    await bill(client, acme, "C-1")
    _, found = await audit(client)
    assert found == []


# --- PRICE_INCREASE --------------------------------------------------------------------------


async def test_price_increase_with_and_without_previous_mean(client: httpx.AsyncClient) -> None:
    v, acme, m365 = await pax8_world(
        client,
        sku="M365-BP",
        service_name="Microsoft 365 Business Premium",
        unit_price="25.00",
        unit_cost="18.00",
    )
    backup = (
        await service(
            client,
            "BK",
            name="Backup",
            unit="GB",
            unit_price="0.10",
            unit_cost="0.05",
            vendor_id=v,
            vendor_sku="BK-V",
        )
    )["id"]
    mail = (
        await service(
            client,
            "ES",
            name="Email security",
            unit_price="4.00",
            unit_cost="3.00",
            vendor_id=v,
            vendor_sku="ES-V",
        )
    )["id"]
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], m365, "16")
    await line(client, k["id"], backup, "1000")
    await line(client, k["id"], mail, "7")
    await bill(client, acme, "C-1")
    # September: 10 x 18.00 = 180.00 and 5 x 18.30 = 91.50; mean (180.00 + 91.50) / 15
    # = 271.50 / 15 = 18.10. Nothing for Backup in September.
    await vendor_invoice(
        client,
        v,
        "P-09",
        "271.50",
        [vline("M365-BP-V", "ACME-1", "10", "18.00"), vline("M365-BP-V", "ACME-1", "5", "18.30")],
        period="2026-09",
        invoice_date="2026-09-30",
    )
    october = await vendor_invoice(
        client,
        v,
        "P-10",
        # 195.00 + 36.00 + 81.00 + 57.50 + 21.00 = 390.50
        "390.50",
        [
            vline("M365-BP-V", "ACME-1", "10", "19.50"),  # 195.00
            vline("M365-BP-V", "ACME-1", "2", "18.00"),  # 36.00, at the standard
            vline("M365-BP-V", "ACME-1", "4", "20.25"),  # 81.00
            vline("BK-V", "ACME-1", "1000", "0.0575"),  # 57.50
            vline("ES-V", "ACME-1", "7", "3.00"),  # 21.00, at the standard: no finding
        ],
    )

    _, found = await audit(client)
    # M365: lines above 18.00: (19.50 - 18.00) x 10 + (20.25 - 18.00) x 4 = 15.00 + 9.00
    # = 24.00, on 14 units at a mean (195.00 + 81.00) / 14 = 19.714285... -> 19.714286.
    # Backup: (0.0575 - 0.05) x 1000 = 7.50.
    # Units: 16 = 10 + 2 + 4, 1000 = 1000, 7 = 7; mean costs 312.00 / 16 = 19.50 < 25.00,
    # 0.0575 < 0.10, 3.00 < 4.00: nothing else.
    assert brief(found) == [("PRICE_INCREASE", "24.00"), ("PRICE_INCREASE", "7.50")]
    rise, no_history = found
    check(
        rise,
        severity="medium",
        customer_id=None,
        service_id=m365,
        vendor_id=v,
        vendor_invoice_id=october["id"],
        expected_quantity=None,
        actual_quantity="14",
        expected_unit_amount="18.00",
        actual_unit_amount="19.714286",
        previous_unit_cost="18.10",
        message="Pax8 invoice P-10 charged Microsoft 365 Business Premium at a mean 19.714286 "
        "per unit against the standard cost 18.00 (14 units, 24.00 more); the mean unit cost "
        "in 2026-09 was 18.10.",
    )
    check(
        no_history,
        service_id=backup,
        vendor_id=v,
        vendor_invoice_id=october["id"],
        actual_quantity="1000",
        expected_unit_amount="0.05",
        actual_unit_amount="0.0575",
        previous_unit_cost=None,
        message="Pax8 invoice P-10 charged Backup at a mean 0.0575 per unit against the "
        "standard cost 0.05 (1000 units, 7.50 more).",
    )


# --- NEGATIVE_MARGIN -------------------------------------------------------------------------


async def test_negative_margin(client: httpx.AsyncClient) -> None:
    v, acme, s = await pax8_world(
        client, sku="RMM", service_name="RMM agent", unit_price="10.00", unit_cost="12.00"
    )
    beta = (await customer(client, "Beta GmbH"))["id"]
    await account(client, beta, v, "BETA-1")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "4")
    kb = await contract(client, beta, "2026-01-01")
    await line(client, kb["id"], s, "2", unit_price="11.00")
    await bill(client, acme, "C-1")
    await bill(client, beta, "C-2")
    await vendor_invoice(
        client,
        v,
        "P-1",
        # 33.00 + 24.00 + 22.00 = 79.00
        "79.00",
        [
            vline("RMM-V", "ACME-1", "3", "11.00"),
            vline("RMM-V", "ACME-1", "2", "12.00"),
            vline("RMM-V", "BETA-1", "2", "11.00"),
        ],
    )
    _, found = await audit(client)
    # Acme: 5 vendor units, 57.00, mean 57.00 / 5 = 11.40 > the contract price 10.00:
    # NEGATIVE_MARGIN (11.40 - 10.00) x min(4, 5) = 5.60; UNBILLED_UNITS (5 - 4) x 10.00
    # = 10.00. Beta: mean 22.00 / 2 = 11.00 = its price 11.00: impact 0, none.
    # No line is above the standard 12.00: no PRICE_INCREASE.
    assert brief(found) == [("UNBILLED_UNITS", "10.00"), ("NEGATIVE_MARGIN", "5.60")]
    check(
        found[1],
        severity="medium",
        customer_id=acme,
        service_id=s,
        vendor_id=v,
        vendor_invoice_id=None,
        expected_quantity="4",
        actual_quantity="5",
        expected_unit_amount="10.00",
        actual_unit_amount="11.40",
        message="Acme Ltd: RMM agent sells at 10.00 per unit but Pax8 charges a mean 11.40 "
        "for 2026-10; 4 units lose 5.60.",
    )


# --- UNMAPPED_SKU and UNMAPPED_ACCOUNT -------------------------------------------------------


async def test_unmapped_sku_and_account(client: httpx.AsyncClient) -> None:
    v, beta, s = await pax8_world(
        client, customer_name="Beta GmbH", ref="BETA-1", unit_price="25.00", unit_cost="21.00"
    )
    invoice = await vendor_invoice(
        client,
        v,
        "U-1",
        # 7.50 + 4.00 + 42.00 - 2.50 + 0.00 = 51.00
        "51.00",
        [
            vline("MYSTERY", "NOBODY", "3", "2.50"),  # both unmapped: two findings
            vline("MYSTERY-2", "BETA-1", "1", "4.00"),  # SKU unmapped, customer known
            vline("AV-V", "NOBODY-2", "2", "21.00"),  # account unmapped, service known
            vline("MYSTERY", "NOBODY", "-1", "2.50"),  # a credit: -2.50, no finding
            vline("ZERO", "NOBODY", "0", "1.00"),  # 0.00: no finding
        ],
    )
    ids = [x["id"] for x in invoice["lines"]]
    _, found = await audit(client)
    # By impact, then id (the SKU rule runs before the account rule).
    assert brief(found) == [
        ("UNMAPPED_ACCOUNT", "42.00"),
        ("UNMAPPED_SKU", "7.50"),
        ("UNMAPPED_ACCOUNT", "7.50"),
        ("UNMAPPED_SKU", "4.00"),
    ]
    both_sku, both_account = found[1], found[2]
    for f in (both_sku, both_account):
        check(
            f,
            severity="low",
            customer_id=None,
            service_id=None,
            vendor_id=v,
            vendor_invoice_id=invoice["id"],
            vendor_invoice_line_id=ids[0],
            vendor_sku="MYSTERY",
            account_ref="NOBODY",
            expected_quantity=None,
            actual_quantity=None,
        )
    assert both_sku["message"] == (
        "Pax8 invoice U-1: SKU 'MYSTERY' matches no service of Pax8: set a service's "
        "vendor_sku (7.50 for 2026-10)."
    )
    assert both_account["message"] == (
        "Pax8 invoice U-1: account 'NOBODY' matches no customer's Pax8 account: add a vendor "
        "account to the customer (7.50 for 2026-10)."
    )
    check(
        found[0],
        customer_id=None,
        service_id=s,
        vendor_invoice_line_id=ids[2],
        vendor_sku="AV-V",
        account_ref="NOBODY-2",
    )
    check(
        found[3],
        customer_id=beta,
        service_id=None,
        vendor_invoice_line_id=ids[1],
        vendor_sku="MYSTERY-2",
        account_ref="BETA-1",
    )


# --- DUPLICATE_CHARGE ------------------------------------------------------------------------


async def test_duplicate_charge_ordering(client: httpx.AsyncClient) -> None:
    """Identical lines on several invoices of the vendor (docs/vendor-bills.md): all but
    the earliest invoice carrying the charge, by (invoice_date, number), are copies."""
    v, acme, s = await pax8_world(client, unit_price="15.00", unit_cost="10.00")
    beta = (await customer(client, "Beta GmbH"))["id"]
    await account(client, beta, v, "BETA-1")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "7")
    kb = await contract(client, beta, "2026-01-01")
    await line(client, kb["id"], s, "2")
    await bill(client, acme, "C-1")
    await bill(client, beta, "C-2")
    # Created in this order (so by id INV-200 would be the first) ...
    await vendor_invoice(
        client,
        v,
        "INV-200",
        "20.00",
        [
            vline("AV-V", "ACME-1", "2", "10.00"),  # 20.00
            vline("AV-V", "BETA-1", "1", "10.00"),  # Beta: +10.00 - 10.00 = 0.00
            vline("AV-V", "BETA-1", "-1", "10.00"),
        ],
        invoice_date="2026-10-01",
    )
    await vendor_invoice(
        client,
        v,
        "INV-100",
        "40.00",
        [vline("AV-V", "ACME-1", "2", "10.00"), vline("AV-V", "BETA-1", "2", "10.00")],
        invoice_date="2026-10-01",
    )
    # ... and by number alone INV-050 would be.
    await vendor_invoice(
        client,
        v,
        "INV-050",
        "30.00",
        [vline("AV-V", "ACME-1", "2", "10.00"), vline("AV-V", "ACME-1", "1", "10.00")],
        invoice_date="2026-10-15",
    )
    _, found = await audit(client)
    # Acme's 2 seats at 20.00 are on three invoices; by (invoice_date, number) the
    # earliest is INV-100 (10-01, before INV-200 of the same day), so the copies are on
    # INV-200 and INV-050: 20.00 + 20.00 = 40.00. The 1 seat on INV-050 is no copy (another
    # quantity). Units 2 + 2 + 2 + 1 = 7 = contracted. Beta's lines differ from one
    # another (1, -1, 2 seats): no copy; units 1 - 1 + 2 = 2.
    assert brief(found) == [("DUPLICATE_CHARGE", "40.00")]
    check(
        found[0],
        severity="high",
        customer_id=acme,
        service_id=s,
        vendor_id=v,
        vendor_invoice_id=None,
        message="Acme Ltd: Pax8 charged Antivirus again on INV-050, INV-200 for 2026-10: the "
        "same charge as on INV-100 (40.00).",
    )


# --- INVOICE_TOTAL_MISMATCH ------------------------------------------------------------------


async def test_invoice_total_mismatch(client: httpx.AsyncClient) -> None:
    v, acme, s = await pax8_world(client, unit_price="40.00", unit_cost="33.33")
    refs = {"ACME-1": acme}
    for name, ref in (("Beta GmbH", "BETA-1"), ("Gamma AG", "GAMMA-1")):
        refs[ref] = (await customer(client, name))["id"]
        await account(client, refs[ref], v, ref)
    for who in refs.values():
        k = await contract(client, who, "2026-01-01")
        await line(client, k["id"], s, "3")
        await bill(client, who, f"C-{who}")
    # Each invoice: 3 x 33.33 = 99.99, for a different customer (no duplicates).
    over = await vendor_invoice(client, v, "T-1", "100.00", [vline("AV-V", "ACME-1", "3", "33.33")])
    under = await vendor_invoice(client, v, "T-2", "95.00", [vline("AV-V", "BETA-1", "3", "33.33")])
    await vendor_invoice(client, v, "T-3", "99.99", [vline("AV-V", "GAMMA-1", "3", "33.33")])
    _, found = await audit(client)
    # T-2: |95.00 - 99.99| = 4.99; T-1: |100.00 - 99.99| = 0.01; T-3 equal: none.
    assert brief(found) == [("INVOICE_TOTAL_MISMATCH", "4.99"), ("INVOICE_TOTAL_MISMATCH", "0.01")]
    check(
        found[0],
        severity="medium",
        customer_id=None,
        service_id=None,
        vendor_id=v,
        vendor_invoice_id=under["id"],
        message="Pax8 invoice T-2: the total is 95.00 but its lines add up to 99.99 "
        "(difference 4.99).",
    )
    check(
        found[1],
        vendor_invoice_id=over["id"],
        message="Pax8 invoice T-1: the total is 100.00 but its lines add up to 99.99 "
        "(difference 0.01).",
    )


# --- MISSING_BILLING -------------------------------------------------------------------------


async def test_missing_billing_follows_customer_invoices(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    beta = (await customer(client, "Beta GmbH"))["id"]
    gamma = (await customer(client, "Gamma AG"))["id"]
    mw = (
        await service(
            client, "MW", name="Managed workstation", unit_price="45.00", unit_cost="20.00"
        )
    )["id"]
    # Acme from 2026-10-10: 2 x 45.00 x 22/31 = 1980/31 = 63.8709... -> 63.87.
    await line(client, (await contract(client, acme, "2026-10-10"))["id"], mw, "2")
    # Beta at a price of 0.00: revenue 0, no finding.
    await line(client, (await contract(client, beta, "2026-01-01"))["id"], mw, "2", unit_price="0")
    # Gamma's contract ended before the month: revenue 0, no finding.
    await line(
        client, (await contract(client, gamma, "2026-01-01", end_date="2026-09-30"))["id"], mw, "1"
    )
    # An invoice for another month does not bill October.
    await bill(client, acme, "C-09", period="2026-09")

    _, found = await audit(client)
    assert brief(found) == [("MISSING_BILLING", "63.87")]
    check(
        found[0],
        severity="high",
        customer_id=acme,
        service_id=None,
        vendor_id=None,
        vendor_invoice_id=None,
        message="Acme Ltd: contracted revenue of 63.87 for 2026-10, but no customer invoice for "
        "the month.",
    )
    # A draft counts as billing the customer.
    draft = await bill(client, acme, "C-10", status="draft")
    assert (await audit(client))[1] == []
    # Voided, it does not: the finding is back.
    voided = await client.patch(f"{API}/customer-invoices/{draft['id']}", json={"status": "void"})
    assert voided.status_code == 200 and voided.json()["status"] == "void", voided.text
    assert brief((await audit(client))[1]) == [("MISSING_BILLING", "63.87")]
    posted = await bill(client, acme, "C-10B")  # recorded as posted
    assert (await audit(client))[1] == []
    # A posted invoice voided: back again.
    await client.patch(f"{API}/customer-invoices/{posted['id']}", json={"status": "void"})
    assert brief((await audit(client))[1]) == [("MISSING_BILLING", "63.87")]


# --- UNBILLED_ASSETS -------------------------------------------------------------------------


async def test_unbilled_assets(client: httpx.AsyncClient) -> None:
    v = (await vendor(client, "Pax8"))["id"]
    acme = (await customer(client, "Acme Ltd"))["id"]
    mw = (
        await service(
            client, "MW", name="Managed workstation", unit_price="35.00", unit_cost="20.00"
        )
    )["id"]
    fw = (
        await service(
            client,
            "FW",
            name="Managed firewall",
            unit_price="35.00",
            unit_cost="25.00",
            vendor_id=v,
            vendor_sku="FW-V",
        )
    )["id"]
    srv = (await service(client, "SRV", name="Managed server", unit_price="99.00"))["id"]
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], mw, "2", unit_price="30.00")
    await line(client, k["id"], srv, "1")
    await bill(client, acme, "C-1")
    for n in range(2):
        await asset(client, acme, mw, f"PC-{n}")
    await asset(client, acme, mw, "PC-2", installed_on="2026-10-20")
    await asset(client, acme, mw, "PC-OUT", removed_on="2026-10-31")  # gone on the last day
    await asset(client, acme, mw, "PC-LAST", removed_on="2026-11-01")  # still there on it
    await asset(client, acme, mw, "PC-NEXT", installed_on="2026-11-01")  # not yet
    await asset(client, acme, fw, "FW-1")
    await asset(client, acme, srv, "SRV-1")  # 1 deployed = 1 contracted: none

    _, found = await audit(client)
    # Managed workstation: counted on 2026-10-31: PC-0..2 and PC-LAST = 4, installed from
    # 2026-09-01 to 2026-10-20; contracted 2 at 30.00: (4 - 2) x 30.00 = 60.00.
    # Managed firewall: 1 deployed, nothing contracted: 1 x the list price 35.00 = 35.00.
    # (Pax8 has no invoice for the month: no OVERBILLED_UNITS on the firewall either.)
    assert brief(found) == [("UNBILLED_ASSETS", "60.00"), ("UNBILLED_ASSETS", "35.00")]
    check(
        found[0],
        severity="high",
        customer_id=acme,
        service_id=mw,
        vendor_id=None,
        vendor_invoice_id=None,
        expected_quantity="2",
        actual_quantity="4",
        expected_unit_amount="30.00",
        actual_unit_amount=None,
        message="Acme Ltd: 4 x Managed workstation deployed by 2026-10-31 (installed between "
        "2026-09-01 and 2026-10-20) but the contract bills 2; 2 at 30.00 = 60.00 unbilled.",
    )
    check(
        found[1],
        customer_id=acme,
        service_id=fw,
        vendor_id=v,
        expected_quantity="0",
        actual_quantity="1",
        expected_unit_amount="35.00",
        message="Acme Ltd: 1 x Managed firewall deployed by 2026-10-31 (installed 2026-09-01) "
        "but the contract bills 0; 1 at 35.00 = 35.00 unbilled.",
    )


# --- the vendor filter -----------------------------------------------------------------------


async def leak_world(client: httpx.AsyncClient) -> dict[str, int]:
    """Two vendors and one customer with a finding of each kind the filter decides on."""
    pax8, acme, av = await pax8_world(client, unit_price="15.00", unit_cost="10.00")
    datto = (await vendor(client, "Datto"))["id"]
    await account(client, acme, datto, "ACME-D")
    bk = (
        await service(
            client,
            "BK",
            name="Backup",
            unit_price="20.00",
            unit_cost="5.00",
            vendor_id=datto,
            vendor_sku="BK-V",
        )
    )["id"]
    rmm = (
        await service(
            client,
            "DR",
            name="Datto RMM",
            unit_price="7.00",
            unit_cost="3.00",
            vendor_id=datto,
            vendor_sku="DR-V",
        )
    )["id"]
    mw = (await service(client, "MW", name="Managed workstation", unit_price="50.00"))["id"]
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], av, "2")
    await line(client, k["id"], rmm, "1")
    await asset(client, acme, mw, "PC-1")
    pax8_invoice = await vendor_invoice(
        client,
        pax8,
        "P-1",
        "33.00",  # 30.00 + 3.00
        [vline("AV-V", "ACME-1", "3", "10.00"), vline("X", "ACME-1", "1", "3.00")],
    )
    datto_invoice = await vendor_invoice(
        client,
        datto,
        "D-1",
        "12.00",
        [vline("BK-V", "ACME-D", "2", "5.00")],  # lines 10.00
    )
    return {
        "pax8": pax8,
        "datto": datto,
        "acme": acme,
        "av": av,
        "bk": bk,
        "rmm": rmm,
        "mw": mw,
        "pax8_invoice": pax8_invoice["id"],
        "datto_invoice": datto_invoice["id"],
    }


async def test_vendor_filter(client: httpx.AsyncClient) -> None:
    w = await leak_world(client)
    everything, found = await audit(client)
    # Pax8: UNBILLED_UNITS (3 - 2) x 15.00 = 15.00; UNMAPPED_SKU X: 3.00.
    # Datto: ORPHANED_COST Backup 2 x 5.00 = 10.00; INVOICE_TOTAL_MISMATCH |12.00 - 10.00|
    # = 2.00; OVERBILLED_UNITS Datto RMM (1 - 0) x 7.00 = 7.00 (Datto invoiced the month).
    # Neither: UNBILLED_ASSETS 1 x the list price 50.00 = 50.00; MISSING_BILLING
    # 2 x 15.00 + 1 x 7.00 = 37.00.
    assert sorted(brief(found)) == sorted(
        [
            ("UNBILLED_ASSETS", "50.00"),
            ("MISSING_BILLING", "37.00"),
            ("UNBILLED_UNITS", "15.00"),
            ("ORPHANED_COST", "10.00"),
            ("OVERBILLED_UNITS", "7.00"),
            ("UNMAPPED_SKU", "3.00"),
            ("INVOICE_TOTAL_MISMATCH", "2.00"),
        ]
    )
    assert everything["summary"]["total_impact"] == "124.00"  # 50+37+15+10+7+3+2

    only_pax8, found = await audit(client, vendor_id=w["pax8"])
    assert brief(found) == [("UNBILLED_UNITS", "15.00"), ("UNMAPPED_SKU", "3.00")]
    assert {f["vendor_id"] for f in found} == {w["pax8"]}
    assert only_pax8["summary"]["total_impact"] == "18.00"
    only_datto, found = await audit(client, vendor_id=w["datto"])
    assert brief(found) == [
        ("ORPHANED_COST", "10.00"),
        ("OVERBILLED_UNITS", "7.00"),
        ("INVOICE_TOTAL_MISMATCH", "2.00"),
    ]
    assert {f["vendor_id"] for f in found} == {w["datto"]}
    assert only_datto["summary"]["total_impact"] == "19.00"

    listed = (await client.get(f"{API}/audits", params={"vendor_id": w["datto"]})).json()
    assert [a["id"] for a in listed["items"]] == [only_datto["id"]]
    missing = await client.post(f"{API}/audits", json={"period": PERIOD, "vendor_id": 999999})
    assert_problem(missing, 422, "vendor_id")
    assert_problem(await client.post(f"{API}/audits", json={"period": "2026-13"}), 422, "period")
    assert_problem(await client.post(f"{API}/audits", json={}), 422, "period")
    assert len((await client.get(f"{API}/audits")).json()["items"]) == 3


# --- the audit API ---------------------------------------------------------------------------


async def test_audits_list_get_and_404(client: httpx.AsyncClient) -> None:
    await leak_world(client)
    october, _ = await audit(client)
    september, found = await audit(client, "2026-09")
    # September: no vendor invoice; the asset and the unbilled contract are there already.
    assert brief(found) == [("UNBILLED_ASSETS", "50.00"), ("MISSING_BILLING", "37.00")]
    empty, found = await audit(client, "2025-01")
    assert found == [] and empty["summary"] == {
        "count": 0,
        "total_impact": "0.00",
        "by_type": {},
        "suppressed": {"count": 0, "impact": "0.00"},
    }
    assert october["created_by"] == "admin (MSP_ADMIN_API_KEY)"
    listed = (await client.get(f"{API}/audits", params={"period": "2026-10"})).json()
    assert listed == {"items": [october], "next_cursor": None}
    listed = (await client.get(f"{API}/audits", params={"period": "2026-09"})).json()
    assert [a["id"] for a in listed["items"]] == [september["id"]]
    assert_problem(await client.get(f"{API}/audits", params={"period": "10-2026"}), 422)
    assert_problem(await client.get(f"{API}/audits/999999"), 404)
    assert_problem(await client.get(f"{API}/audits/999999/findings"), 404)
    assert_problem(await client.get(f"{API}/findings/999999"), 404)
    assert_problem(await client.patch(f"{API}/findings/999999", json={"status": "resolved"}), 404)
    assert_problem(await client.get(f"{API}/audits/abc"), 422)


async def test_findings_filters(client: httpx.AsyncClient) -> None:
    w = await leak_world(client)
    run, found = await audit(client)
    url = f"{API}/audits/{run['id']}/findings"

    async def listed(**params: Any) -> list[tuple[str, str]]:
        response = await client.get(url, params=params)
        assert response.status_code == 200, response.text
        return brief(response.json()["items"])

    assert await listed(type="ORPHANED_COST") == [("ORPHANED_COST", "10.00")]
    assert await listed(customer_id=w["acme"]) == [
        ("UNBILLED_ASSETS", "50.00"),
        ("MISSING_BILLING", "37.00"),
        ("UNBILLED_UNITS", "15.00"),
        ("ORPHANED_COST", "10.00"),
        ("OVERBILLED_UNITS", "7.00"),
        ("UNMAPPED_SKU", "3.00"),  # the line's account is Acme's; its SKU is unknown
    ]
    assert await listed(service_id=w["rmm"]) == [("OVERBILLED_UNITS", "7.00")]
    assert await listed(vendor_id=w["datto"]) == [
        ("ORPHANED_COST", "10.00"),
        ("OVERBILLED_UNITS", "7.00"),
        ("INVOICE_TOTAL_MISMATCH", "2.00"),
    ]
    # min_impact is inclusive.
    assert await listed(min_impact="15") == [
        ("UNBILLED_ASSETS", "50.00"),
        ("MISSING_BILLING", "37.00"),
        ("UNBILLED_UNITS", "15.00"),
    ]
    assert await listed(min_impact="15.01", vendor_id=w["pax8"]) == []
    assert await listed(type="UNMAPPED_SKU", status="open") == [("UNMAPPED_SKU", "3.00")]
    orphan = next(f for f in found if f["type"] == "ORPHANED_COST")
    await client.patch(f"{API}/findings/{orphan['id']}", json={"status": "dismissed"})
    assert await listed(status="dismissed") == [("ORPHANED_COST", "10.00")]
    assert len(await listed(status="open")) == 6
    for bad in ({"min_impact": "abc"}, {"min_impact": "-1"}, {"min_impact": "1.001"}):
        assert_problem(await client.get(url, params=bad), 422, "min_impact")
    assert_problem(await client.get(url, params={"type": "LEAK"}), 422)
    assert_problem(await client.get(url, params={"status": "closed"}), 422)
    assert_problem(await client.get(url, params={"cursor": "garbage"}), 422)


async def test_findings_pages_through_equal_impacts(client: httpx.AsyncClient) -> None:
    v = (await vendor(client, "Pax8"))["id"]
    # Six lines of 1.00 matching nothing: 12 findings of 1.00 (SKU and account each);
    # one of 5.00 (and its twin) comes first. Total 6 x 1.00 + 5.00 = 11.00.
    lines = [vline(f"SKU-{n}", f"REF-{n}", "1", "1.00") for n in range(6)]
    await vendor_invoice(client, v, "U-1", "11.00", [*lines, vline("BIG", "BIG", "1", "5.00")])
    run, found = await audit(client)
    assert brief(found) == [("UNMAPPED_SKU", "5.00"), ("UNMAPPED_ACCOUNT", "5.00")] + [
        (kind, "1.00") for kind in ["UNMAPPED_SKU"] * 6 + ["UNMAPPED_ACCOUNT"] * 6
    ]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{API}/audits/{run['id']}/findings", params=params)).json()
        pages += 1
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3  # 5 + 5 + 4
    assert seen == [f["id"] for f in found]
    assert seen[2:] == sorted(seen[2:])  # equal impacts: by id


async def test_status_changes_and_carry_over(app: Any, client: httpx.AsyncClient) -> None:
    w = await leak_world(client)
    first, found = await audit(client)
    by_type = {f["type"]: f for f in found}
    unbilled, unmapped = by_type["UNBILLED_UNITS"], by_type["UNMAPPED_SKU"]

    writer_key = await new_key(client, "Finance lead", "read", "write")
    reader_key = await new_key(client, "Viewer", "read")
    async with make_client(app, writer_key) as writer, make_client(app, reader_key) as reader:
        assert_problem(
            await reader.patch(f"{API}/findings/{unbilled['id']}", json={"status": "resolved"}),
            403,
        )
        changed = await writer.patch(
            f"{API}/findings/{unbilled['id']}",
            json={"status": "acknowledged", "note": "Asked Pax8 for the seat list"},
        )
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert body["status"] == "acknowledged"
        assert body["note"] == "Asked Pax8 for the seat list"
        assert body["status_changed_by"] == "Finance lead"
        assert body["status_changed_at"] is not None
        assert [(e["status"], e["note"], e["changed_by"]) for e in body["history"]] == [
            ("acknowledged", "Asked Pax8 for the seat list", "Finance lead")
        ]
        # A note alone keeps the status.
        noted = (
            await writer.patch(f"{API}/findings/{unbilled['id']}", json={"note": "3rd seat: Bob"})
        ).json()
        assert noted["status"] == "acknowledged" and noted["note"] == "3rd seat: Bob"
        assert len(noted["history"]) == 2
        # Sending what is already there changes nothing: no history entry, same author.
        for same in ({"status": "acknowledged"}, {"note": "3rd seat: Bob"}):
            unchanged = await writer.patch(f"{API}/findings/{unbilled['id']}", json=same)
            assert unchanged.status_code == 200
            assert unchanged.json() == noted
        await writer.patch(f"{API}/findings/{unmapped['id']}", json={"status": "dismissed"})
        got = (await reader.get(f"{API}/findings/{unbilled['id']}")).json()
        assert got == noted

    for bad in ({"status": "closed"}, {}, {"status": None}, {"note": 5}):
        assert_problem(await client.patch(f"{API}/findings/{unbilled['id']}", json=bad), 422)

    # Repair the unknown SKU: the line now matches a Pax8 service Acme has no contract for,
    # so UNMAPPED_SKU disappears and a new ORPHANED_COST (1 x 3.00 = 3.00) appears.
    await service(
        client,
        "XS",
        name="Extra",
        unit_price="4.00",
        unit_cost="3.00",
        vendor_id=w["pax8"],
        vendor_sku="X",
    )
    second, found = await audit(client)
    assert second["id"] != first["id"]
    by_type = {f["type"]: f for f in found}
    assert "UNMAPPED_SKU" not in by_type
    again = by_type["UNBILLED_UNITS"]
    assert again["id"] != unbilled["id"]
    check(
        again,
        status="acknowledged",
        note="3rd seat: Bob",
        status_changed_by="Finance lead",
        status_changed_at=noted["status_changed_at"],
    )
    history = (await client.get(f"{API}/findings/{again['id']}")).json()["history"]
    assert [(e["status"], e["note"]) for e in history] == [
        ("acknowledged", "Asked Pax8 for the seat list"),
        ("acknowledged", "3rd seat: Bob"),
    ]
    new = [f for f in found if f["type"] == "ORPHANED_COST" and f["service_id"] != w["bk"]]
    assert brief(new) == [("ORPHANED_COST", "3.00")]
    check(new[0], status="open", note=None, status_changed_by=None, status_changed_at=None)
    assert (await client.get(f"{API}/findings/{new[0]['id']}")).json()["history"] == []

    # A run with the vendor filter carries over too.
    _, found = await audit(client, vendor_id=w["pax8"])
    filtered = next(f for f in found if f["type"] == "UNBILLED_UNITS")
    check(filtered, status="acknowledged", note="3rd seat: Bob", status_changed_by="Finance lead")
    # A change made on the filtered run is carried over to the next full run.
    await client.patch(f"{API}/findings/{filtered['id']}", json={"status": "resolved"})
    _, found = await audit(client)
    check(
        next(f for f in found if f["type"] == "UNBILLED_UNITS"),
        status="resolved",
        note="3rd seat: Bob",
        status_changed_by="admin (MSP_ADMIN_API_KEY)",
    )
    # Other periods keep their own statuses.
    assert all(f["status"] == "open" for f in (await audit(client, "2026-09"))[1])


# --- the per-customer audit report -----------------------------------------------------------


async def test_customer_audit_report(client: httpx.AsyncClient) -> None:
    v, acme, m365 = await pax8_world(
        client,
        sku="M365-BP",
        service_name="Microsoft 365 Business Premium",
        unit_price="22.00",
        unit_cost="18.00",
    )
    backup = (
        await service(
            client,
            "BK",
            name="Backup",
            unit="GB",
            unit_price="0.10",
            unit_cost="0.05",
            vendor_id=v,
            vendor_sku="BK-V",
        )
    )["id"]
    mw = (
        await service(
            client, "MW", name="Managed workstation", unit_price="45.00", unit_cost="12.00"
        )
    )["id"]
    onboarding = (
        await service(client, "ONB", name="Onboarding", unit_price="150.00", unit_cost="100.00")
    )["id"]
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], m365, "3")  # at the list price 22.00
    await line(client, k["id"], m365, "2", unit_price="20.00", start_date="2026-10-11")
    await line(client, k["id"], mw, "3", unit_price="40.00", start_date="2026-10-11")
    for n in range(4):
        await asset(client, acme, mw, f"PC-{n}")
    await bill(
        client,
        acme,
        "C-1",
        lines=[
            {"service_id": m365, "description": "M365", "quantity": "5", "unit_price": "22.00"},
            {"service_id": mw, "description": "Workstations", "quantity": "3", "unit_price": "40"},
            {
                "service_id": onboarding,
                "description": "Setup",
                "quantity": "1",
                "unit_price": "150",
            },
            {"description": "Travel", "quantity": "1", "unit_price": "30.00"},
        ],
    )
    await bill(
        client,
        acme,
        "C-2",
        status="draft",
        lines=[{"service_id": m365, "description": "M365", "quantity": "1", "unit_price": "22"}],
    )
    void = await bill(
        client,
        acme,
        "C-3",
        status="draft",
        lines=[{"service_id": m365, "description": "M365", "quantity": "100", "unit_price": "1"}],
    )
    await client.patch(f"{API}/customer-invoices/{void['id']}", json={"status": "void"})
    # Another customer of Pax8's service, with nothing charged for it.
    beta = (await customer(client, "Beta GmbH"))["id"]
    await line(client, (await contract(client, beta, "2026-01-01"))["id"], m365, "2")
    await vendor_invoice(
        client,
        v,
        "P-1",
        # 111.00 - 18.50 + 10.00 = 102.50
        "102.50",
        [
            vline("M365-BP-V", "ACME-1", "6", "18.50"),  # 111.00
            vline("M365-BP-V", "ACME-1", "-1", "18.50"),  # a credit: -18.50
            vline("BK-V", "ACME-1", "200", "0.05"),  # 10.00
        ],
    )

    report = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": acme, "period": PERIOD}
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["customer_id"], body["customer_name"], body["period"]) == (
        acme,
        "Acme Ltd",
        PERIOD,
    )
    # Every type its rows list (below); no MISSING_BILLING: billed for the month.
    assert body["finding_types"] == ["ORPHANED_COST", "PRICE_INCREASE", "UNBILLED_ASSETS"]
    assert body["rows"] == [
        {
            # Contracted units on 10-31: 3 + 2 = 5; price (3 x 22.00 + 2 x 20.00) / 5
            # = 106.00 / 5 = 21.20. Vendor: 6 - 1 = 5 units, 111.00 - 18.50 = 92.50,
            # mean 92.50 / 5 = 18.50. Invoiced: 5 (C-1) + 1 (C-2, a draft) = 6; the void
            # C-3 does not count.
            # Revenue: 3 x 22.00 = 66.00; 2 x 20.00 x 21/31 = 840/31 = 27.0967 -> 27.10;
            # 93.10. Cost: the matched amounts, 92.50. Profit 0.60; margin 0.60 / 93.10
            # = 0.006444... -> 0.0064.
            # PRICE_INCREASE: 18.50 > 18.00 on the 6 charged seats; the credit does not
            # offset a rise (docs/vendor-bills.md#rules-on-real-bills): 6 x 0.50 = 3.00.
            "service_id": m365,
            "service_name": "Microsoft 365 Business Premium",
            "sku": "M365-BP",
            "vendor_id": v,
            "vendor_name": "Pax8",
            "contracted_units": "5",
            "vendor_units": "5",
            "deployed_units": "0",
            "invoiced_units": "6",
            "contract_unit_price": "21.20",
            "vendor_mean_unit_cost": "18.50",
            "revenue": "93.10",
            "cost": "92.50",
            "profit": "0.60",
            "margin": "0.0064",
            "finding_types": ["PRICE_INCREASE"],
        },
        {
            # Charged 200 x 0.05 = 10.00, never sold: ORPHANED_COST; no revenue, so the
            # margin is null.
            "service_id": backup,
            "service_name": "Backup",
            "sku": "BK",
            "vendor_id": v,
            "vendor_name": "Pax8",
            "contracted_units": "0",
            "vendor_units": "200",
            "deployed_units": "0",
            "invoiced_units": "0",
            "contract_unit_price": None,
            "vendor_mean_unit_cost": "0.05",
            "revenue": "0.00",
            "cost": "10.00",
            "profit": "-10.00",
            "margin": None,
            "finding_types": ["ORPHANED_COST"],
        },
        {
            # In-house, from 2026-10-11 (21 days): revenue 3 x 40.00 x 21/31 = 2520/31
            # = 81.2903 -> 81.29; cost at the service's unit_cost 3 x 12.00 x 21/31
            # = 756/31 = 24.3870 -> 24.39; profit 56.90; margin 56.90 / 81.29 = 0.69996
            # -> 0.7000. 4 deployed > 3 contracted: UNBILLED_ASSETS.
            "service_id": mw,
            "service_name": "Managed workstation",
            "sku": "MW",
            "vendor_id": None,
            "vendor_name": None,
            "contracted_units": "3",
            "vendor_units": "0",
            "deployed_units": "4",
            "invoiced_units": "3",
            "contract_unit_price": "40.00",
            "vendor_mean_unit_cost": None,
            "revenue": "81.29",
            "cost": "24.39",
            "profit": "56.90",
            "margin": "0.7000",
            "finding_types": ["UNBILLED_ASSETS"],
        },
        {
            # Only invoiced.
            "service_id": onboarding,
            "service_name": "Onboarding",
            "sku": "ONB",
            "vendor_id": None,
            "vendor_name": None,
            "contracted_units": "0",
            "vendor_units": "0",
            "deployed_units": "0",
            "invoiced_units": "1",
            "contract_unit_price": None,
            "vendor_mean_unit_cost": None,
            "revenue": "0.00",
            "cost": "0.00",
            "profit": "0.00",
            "margin": None,
            "finding_types": [],
        },
    ]
    # Totals: revenue 93.10 + 81.29 = 174.39; cost 92.50 + 10.00 + 24.39 = 126.89;
    # profit 47.50; margin 47.50 / 174.39 = 0.27237... -> 0.2724.
    assert (body["revenue"], body["cost"], body["profit"], body["margin"]) == (
        "174.39",
        "126.89",
        "47.50",
        "0.2724",
    )

    beta_report = (
        await client.get(
            f"{API}/reports/customer-audit", params={"customer_id": beta, "period": PERIOD}
        )
    ).json()
    # Beta: 2 x 22.00 = 44.00 of revenue, not billed (MISSING_BILLING), and Pax8, which
    # invoiced the month, charged 0: OVERBILLED_UNITS. Margin 44.00 / 44.00 = 1.0000.
    assert beta_report["finding_types"] == ["MISSING_BILLING", "OVERBILLED_UNITS"]
    (row,) = beta_report["rows"]
    check(
        row,
        service_id=m365,
        contracted_units="2",
        vendor_units="0",
        contract_unit_price="22.00",
        vendor_mean_unit_cost=None,
        revenue="44.00",
        cost="0.00",
        profit="44.00",
        margin="1.0000",
        finding_types=["OVERBILLED_UNITS"],
    )

    # The audit agrees: the same finding types, per customer and service.
    _, found = await audit(client)
    assert brief(found) == [
        ("OVERBILLED_UNITS", "44.00"),  # Beta: 2 x 22.00
        ("MISSING_BILLING", "44.00"),  # Beta
        ("UNBILLED_ASSETS", "40.00"),  # Acme: (4 - 3) x 40.00
        ("ORPHANED_COST", "10.00"),  # Acme, Backup
        ("PRICE_INCREASE", "3.00"),  # P-1, M365: 6 x 0.50, the credit not offsetting
    ]

    nobody = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": 999999, "period": PERIOD}
    )
    assert_problem(nobody, 404)
    bad: list[dict[str, Any]] = [
        {"customer_id": acme, "period": "2026-13"},
        {"customer_id": acme},
        {"period": PERIOD},
        {"customer_id": "x", "period": PERIOD},
    ]
    for params in bad:
        assert_problem(await client.get(f"{API}/reports/customer-audit", params=params), 422)
    quiet = (
        await client.get(
            f"{API}/reports/customer-audit", params={"customer_id": acme, "period": "2025-01"}
        )
    ).json()
    assert quiet["rows"] == [] and quiet["margin"] is None and quiet["revenue"] == "0.00"


# --- deleting a vendor invoice an audit used -------------------------------------------------


async def test_delete_vendor_invoice_after_an_audit(app: Any, client: httpx.AsyncClient) -> None:
    v, _, _ = await pax8_world(client)
    datto = (await vendor(client, "Datto"))["id"]
    used = await vendor_invoice(client, v, "P-1", "10.00", [vline("AV-V", "ACME-1", "1", "10.00")])
    other = await vendor_invoice(client, v, "P-2", "10.00", [vline("AV-V", "ACME-1", "1", "10.00")])
    september = await vendor_invoice(
        client,
        v,
        "P-9",
        "10.00",
        [vline("AV-V", "ACME-1", "1", "10.00")],
        period="2026-09",
        invoice_date="2026-09-30",
    )
    # An audit of another vendor does not use Pax8's invoices.
    await audit(client, vendor_id=datto)
    assert (await client.delete(f"{API}/vendor-invoices/{other['id']}")).status_code == 204
    await audit(client)
    url = f"{API}/vendor-invoices/{used['id']}"
    assert_problem(await client.delete(url), 409)
    assert (await client.get(url)).status_code == 200
    writer_key = await new_key(client, "Bookkeeper", "read", "write")
    async with make_client(app, writer_key) as writer:
        assert_problem(await writer.delete(url, params={"force": "true"}), 403)
        assert_problem(await writer.delete(url), 409)
    assert (await client.get(url)).status_code == 200
    assert (await client.delete(url, params={"force": "true"})).status_code == 204
    assert_problem(await client.get(url), 404)
    # No audit of 2026-09: deleted without force.
    assert (await client.delete(f"{API}/vendor-invoices/{september['id']}")).status_code == 204


async def test_customer_audit_report_price_increase_only_where_the_audit_finds_one(
    client: httpx.AsyncClient,
) -> None:
    v, acme, s = await pax8_world(client, unit_price="25.00", unit_cost="18.00")
    other = (
        await service(
            client,
            "ES",
            name="Email security",
            unit_price="5.00",
            unit_cost="3.00",
            vendor_id=v,
            vendor_sku="ES-V",
        )
    )["id"]
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], s, "1")
    await line(client, k["id"], other, "2")
    await bill(client, acme, "C-1")
    await vendor_invoice(
        client,
        v,
        "P-1",
        # 18.004 -> 18.00; 3.10 x 3 = 9.30; -3.10 x 1 = -3.10: 18.00 + 9.30 - 3.10 = 24.20
        "24.20",
        [
            # 1 x 18.0040 against the standard 18.00: impact 0.004 -> 0.00, no finding.
            vline("AV-V", "ACME-1", "1", "18.0040"),
            # Email security: 3 x 3.10 and a credit -1 x 3.10: a credit no longer
            # offsets a rise, 3 x (3.10 - 3.00) = 0.30 -> a finding.
            vline("ES-V", "ACME-1", "3", "3.10"),
            vline("ES-V", "ACME-1", "-1", "3.10"),
        ],
    )
    # A credit above the standard alone: (-1) x (3.10 - 3.00) = -0.10, no finding.
    await vendor_invoice(client, v, "P-2", "-3.10", [vline("ES-V", "ACME-1", "-1", "3.10")])
    # Antivirus: 1 contracted = 1 charged. Email security: 2 contracted, 3 - 1 - 1 = 1
    # charged: OVERBILLED_UNITS (2 - 1) x 5.00 = 5.00. Both invoices charge it (same date;
    # P-1 is the earliest by number): the amount beyond is -3.10, no DUPLICATE_CHARGE.
    # Mean costs 18.00 < 25.00 and (6.20 - 3.10) / 1 = 3.10 < 5.00: no NEGATIVE_MARGIN.
    _, found = await audit(client)
    assert brief(found) == [("OVERBILLED_UNITS", "5.00"), ("PRICE_INCREASE", "0.30")]
    rows = (
        await client.get(
            f"{API}/reports/customer-audit", params={"customer_id": acme, "period": PERIOD}
        )
    ).json()["rows"]
    assert [(r["service_id"], r["finding_types"]) for r in rows] == [
        (s, []),
        (other, ["OVERBILLED_UNITS", "PRICE_INCREASE"]),
    ]


def test_unit_amounts_say_which_is_a_price_and_which_a_cost() -> None:
    """expected_unit_amount is a sale price (the standard cost for PRICE_INCREASE) and
    actual_unit_amount always a cost: the OpenAPI descriptions say so, and
    docs/findings.md#unit-amounts gives every type's quantities and unit amounts."""
    properties = FindingRead.model_json_schema()["properties"]
    expected = properties["expected_unit_amount"]["description"]
    assert expected.startswith("A sale price, except for PRICE_INCREASE")
    assert "for PRICE_INCREASE the standard unit cost" in expected
    assert properties["actual_unit_amount"]["description"].startswith("Always a cost")
    assert "docs/findings.md#unit-amounts" in expected
    section = (ROOT / "docs" / "findings.md").read_text().split("### Unit amounts\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [
        row.split("|")[1]
        for row in section.splitlines()
        if row.startswith("| ") and not row.startswith(("| type", "| ---"))
    ]
    assert {name.strip() for row in rows for name in row.split(",")} == {
        t.value for t in FindingType
    }
