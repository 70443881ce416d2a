"""One-call fixes (docs/findings.md#fixes): each action makes its change through the same
code as the user's own call, resolves the finding with what changed, and the audit run
again no longer reports it; through HTTP on both databases, figures worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx

from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.test_audits import asset, bill

API = "/api/v1"
PERIOD = "2026-10"


class Shop:
    """Pax8; M365 sold at 22.00, standard cost 18.00 (vendor SKU M); EDR sold at 6.00,
    cost 4.00, deployed as assets (no vendor); Acme (account ACME) with a contract from
    2026-01-01."""

    def __init__(self, vendor: int, m365: int, edr: int, acme: int, contract: int) -> None:
        self.vendor, self.m365, self.edr, self.acme, self.contract = (
            vendor, m365, edr, acme, contract,
        )  # fmt: skip


async def shop(client: httpx.AsyncClient) -> Shop:
    v = await vendor(client, "Pax8")
    m365 = await service(client, "M365", name="Microsoft 365", vendor_id=v["id"], vendor_sku="M")
    edr = await service(client, "EDR", name="EDR", unit_price="6.00", unit_cost="4.00")
    acme = await customer(client, "Acme Ltd")
    await create(
        client,
        f"customers/{acme['id']}/vendor-accounts",
        {"vendor_id": v["id"], "account_ref": "ACME"},
    )
    k = await contract(client, acme["id"], "2026-01-01")
    return Shop(vendor=v["id"], m365=m365["id"], edr=edr["id"], acme=acme["id"], contract=k["id"])


async def vendor_bill(
    client: httpx.AsyncClient, s: Shop, number: str, lines: list[dict[str, Any]], total: str
) -> None:
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": s.vendor, "invoice_number": number, "invoice_date": "2026-10-31",
            "period": PERIOD, "total": total, "lines": lines,
        },
    )  # fmt: skip


def seats(quantity: str, unit_cost: str = "18.00", **extra: Any) -> dict[str, Any]:
    return {
        "vendor_sku": "M", "account_ref": "ACME", "quantity": quantity, "unit_cost": unit_cost,
        **extra,
    }  # fmt: skip


async def audit(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create(client, "audits", {"period": PERIOD})


async def findings(client: httpx.AsyncClient, audit_id: int) -> list[dict[str, Any]]:
    page = await client.get(f"{API}/audits/{audit_id}/findings", params={"limit": 500})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def the_finding(client: httpx.AsyncClient, kind: str) -> dict[str, Any]:
    """A new audit of the period and its one finding of `kind`."""
    made = await audit(client)
    [found] = [f for f in await findings(client, made["id"]) if f["type"] == kind]
    return found


async def fix(client: httpx.AsyncClient, finding_id: int, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/findings/{finding_id}/fix", json=body)


async def types_found(client: httpx.AsyncClient) -> list[str]:
    made = await audit(client)
    return sorted(f["type"] for f in await findings(client, made["id"]))


async def adjustments(client: httpx.AsyncClient, s: Shop, line_id: int) -> list[tuple[str, str]]:
    page = await client.get(f"{API}/contracts/{s.contract}/lines/{line_id}/adjustments")
    return [(a["effective_date"], a["quantity"]) for a in page.json()["items"]]


async def revenue(client: httpx.AsyncClient, s: Shop, service_id: int) -> str:
    report = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": s.acme, "period": PERIOD}
    )
    [row] = [r for r in report.json()["rows"] if r["service_id"] == service_id]
    return str(row["revenue"])


# --- match_contract ------------------------------------------------------------------------------


async def test_match_contract_on_unbilled_units(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    found = await the_finding(client, "UNBILLED_UNITS")
    # 12 vendor seats against 10 contracted at 22.00: 2 x 22.00 = 44.00 a month.
    assert (found["expected_quantity"], found["actual_quantity"], found["impact"]) == (
        "10", "12", "44.00",
    )  # fmt: skip
    assert found["resolution"] is None
    response = await fix(client, found["id"], action="match_contract")
    assert response.status_code == 200, response.text
    fixed = response.json()
    assert fixed["id"] == found["id"] and fixed["status"] == "resolved"
    resolution = fixed["resolution"]
    assert resolution["action"] == "match_contract"
    [change] = resolution["changes"]
    assert change["resource"] == "contract_line_adjustment"
    assert change["href"] == f"{API}/contracts/{s.contract}/lines/{seat_line['id']}/adjustments"
    assert change["detail"] == f"contract line {seat_line['id']}: quantity 12 from 2026-10-01 (+2)"
    assert fixed["history"][-1]["status"] == "resolved"
    assert fixed["history"][-1]["action"] == "match_contract"
    assert fixed["status_changed_at"] == resolution["at"]
    # From the first day of the finding's period on, 12 seats: October bills 12 x 22.00.
    assert await adjustments(client, s, seat_line["id"]) == [("2026-10-01", "12")]
    assert await revenue(client, s, s.m365) == "264.00"
    assert await types_found(client) == []
    # The finding shows its resolution wherever it is shown: the list and the CSV.
    listed = await findings(client, found["audit_id"])
    assert [f["resolution"] for f in listed if f["id"] == found["id"]] == [resolution]
    download = await client.get(
        f"{API}/audits/{found['audit_id']}/findings", headers={"Accept": "text/csv"}
    )
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    assert json.loads(row["resolution"]) == resolution


async def test_match_contract_from_a_day_keeps_later_changes(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    # A change already planned: 11 seats from December.
    await create(
        client,
        f"contracts/{s.contract}/lines/{seat_line['id']}/adjustments",
        {"effective_date": "2026-12-01", "quantity": "11"},
    )
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("13")], "234.00")
    found = await the_finding(client, "UNBILLED_UNITS")
    response = await fix(client, found["id"], action="match_contract", effective_date="2026-10-16")
    assert response.status_code == 200, response.text
    # +3 from 16 October, and the December change moved by the same 3: 13, then 14.
    assert await adjustments(client, s, seat_line["id"]) == [
        ("2026-12-01", "11"),
        ("2026-10-16", "13"),
        ("2026-12-01", "14"),
    ]
    details = [c["detail"] for c in response.json()["resolution"]["changes"]]
    assert details == [
        f"contract line {seat_line['id']}: quantity 13 from 2026-10-16 (+3)",
        f"contract line {seat_line['id']}: quantity 14 from 2026-12-01 (+3)",
    ]
    # October: 10 seats for 15 days, 13 for 16: (10 x 15 + 13 x 16) / 31 x 22.00
    # = 358 / 31 x 22 = 254.06 (254.064...).
    assert await revenue(client, s, s.m365) == "254.06"
    assert await types_found(client) == []


async def test_match_contract_on_overbilled_units(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("7")], "126.00")
    found = await the_finding(client, "OVERBILLED_UNITS")
    assert (found["expected_quantity"], found["actual_quantity"]) == ("10", "7")
    response = await fix(client, found["id"], action="match_contract")
    assert response.status_code == 200, response.text
    assert await adjustments(client, s, seat_line["id"]) == [("2026-10-01", "7")]
    # 7 x 22.00 = 154.00 billed; the vendor's 7 x 18.00 = 126.00 under it.
    assert await revenue(client, s, s.m365) == "154.00"
    assert await types_found(client) == []


async def test_match_contract_on_unbilled_assets(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    # Two lines of EDR: 2 from January, 1 more from June, the latest start.
    await line(client, s.contract, s.edr, "2")
    later = await line(client, s.contract, s.edr, "1", start_date="2026-06-01")
    await bill(client, s.acme, "C-1")
    for n in range(5):
        await asset(client, s.acme, s.edr, f"PC-{n}")
    found = await the_finding(client, "UNBILLED_ASSETS")
    # 5 deployed, 3 contracted: 2 x 6.00 = 12.00.
    assert (found["expected_quantity"], found["actual_quantity"], found["impact"]) == (
        "3", "5", "12.00",
    )  # fmt: skip
    response = await fix(client, found["id"], action="match_contract")
    assert response.status_code == 200, response.text
    # The line with the latest start takes the difference: 1 + 2 = 3.
    assert await adjustments(client, s, later["id"]) == [("2026-10-01", "3")]
    assert await revenue(client, s, s.edr) == "30.00"  # 5 x 6.00
    assert await types_found(client) == []


async def test_match_contract_refuses_a_negative_quantity(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "8")
    later = await line(client, s.contract, s.m365, "2", start_date="2026-06-01")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("5")], "90.00")
    found = await the_finding(client, "OVERBILLED_UNITS")
    # 5 - 10 = -5 on the line of 2: -3.
    response = await fix(client, found["id"], action="match_contract")
    assert_problem(response, 422)
    assert response.json()["errors"][0]["type"] == "negative_quantity"
    assert f"line {later['id']} would hold -3 units from 2026-10-01 (2 -5)" in response.text
    # Nothing changed: no adjustment, the finding still open.
    assert await adjustments(client, s, later["id"]) == []
    still = (await client.get(f"{API}/findings/{found['id']}")).json()
    assert still["status"] == "open" and still["resolution"] is None


async def test_match_contract_needs_a_line(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await bill(client, s.acme, "C-1")
    await asset(client, s.acme, s.edr, "PC-1")
    found = await the_finding(client, "UNBILLED_ASSETS")
    response = await fix(client, found["id"], action="match_contract")
    assert_problem(response, 422)
    assert response.json()["errors"][0]["type"] == "no_line"
    assert "has no contract line of service" in response.text


# --- adopt_cost ----------------------------------------------------------------------------------


async def test_adopt_cost_on_a_price_increase(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "12")
    await bill(client, s.acme, "C-1")
    # 10 seats at 19.50 all month, 2 more at 19.80 from 11 October (charge period
    # 11-31 October: 2 x 19.80 x 21/31 = 26.83 (26.8258...)).
    lines = [
        seats("10", "19.50"),
        seats("2", "19.80", charge_start="2026-10-11", charge_end="2026-10-31"),
    ]
    await vendor_bill(client, s, "P-10", lines, "221.83")
    found = await the_finding(client, "PRICE_INCREASE")
    response = await fix(client, found["id"], action="adopt_cost")
    assert response.status_code == 200, response.text
    [change] = response.json()["resolution"]["changes"]
    assert change["resource"] == "service_cost"
    assert change["detail"] == f"service {s.m365}: standard unit cost 19.80 from 2026-10-01"
    book = (await client.get(f"{API}/services/{s.m365}/costs")).json()["items"]
    assert [(e["id"], e["effective_from"], e["unit_cost"]) for e in book] == [
        (change["id"], "2026-10-01", "19.80")
    ]
    assert "PRICE_INCREASE" not in await types_found(client)


async def test_adopt_cost_conflicting_entry_changes_nothing(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("10", "19.50")], "195.00")
    found = await the_finding(client, "PRICE_INCREASE")
    # Someone entered the new cost already: no line is above the standard any more.
    await create(
        client, f"services/{s.m365}/costs", {"effective_from": "2026-10-01", "unit_cost": "19.50"}
    )
    response = await fix(client, found["id"], action="adopt_cost")
    assert_problem(response, 409)
    assert "is above the standard cost any more; run the audit again" in response.text
    still = (await client.get(f"{API}/findings/{found['id']}")).json()
    assert still["status"] == "open" and still["resolution"] is None


# --- bill ----------------------------------------------------------------------------------------


async def test_bill_on_missing_billing(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.edr, "3")
    other = await customer(client, "Beta GmbH")
    k = await contract(client, other["id"], "2026-01-01")
    await line(client, k["id"], s.edr, "1")
    made = await audit(client)
    [acme] = [
        f
        for f in await findings(client, made["id"])
        if f["type"] == "MISSING_BILLING" and f["customer_id"] == s.acme
    ]
    assert acme["impact"] == "18.00"  # 3 x 6.00
    response = await fix(client, acme["id"], action="bill")
    assert response.status_code == 200, response.text
    run, invoice = response.json()["resolution"]["changes"]
    assert run["resource"] == "billing_run" and invoice["resource"] == "customer_invoice"
    drafted = (await client.get(f"{API}/customer-invoices/{invoice['id']}")).json()
    assert (drafted["customer_id"], drafted["period"], drafted["status"]) == (
        s.acme, PERIOD, "draft",
    )  # fmt: skip
    assert drafted["total"] == "18.00"
    # Acme alone was billed: Beta is still missing its invoice.
    again = await audit(client)
    assert [(f["type"], f["customer_id"]) for f in await findings(client, again["id"])] == [
        ("MISSING_BILLING", other["id"])
    ]


# --- what cannot be fixed ------------------------------------------------------------------------


async def test_refusals(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "200.00")
    made = await audit(client)
    by_type = {f["type"]: f for f in await findings(client, made["id"])}
    unbilled, mismatch = by_type["UNBILLED_UNITS"], by_type["INVOICE_TOTAL_MISMATCH"]
    # Another action for the type.
    response = await fix(client, unbilled["id"], action="adopt_cost")
    assert_problem(response, 422)
    assert "adopt_cost does not fix UNBILLED_UNITS findings: their action is match_contract" in (
        response.text
    )
    # A type no action fixes.
    response = await fix(client, mismatch["id"], action="bill")
    assert_problem(response, 422)
    assert "no action fixes this type" in response.text
    # effective_date belongs to match_contract.
    response = await fix(client, mismatch["id"], action="bill", effective_date="2026-10-01")
    assert_problem(response, 422)
    # Unknown action, unknown finding.
    assert_problem(await fix(client, unbilled["id"], action="refund"), 422)
    assert_problem(await fix(client, 999_999, action="bill"), 404)
    # Not open or acknowledged: a 409, whatever the action.
    await client.patch(f"{API}/findings/{unbilled['id']}", json={"status": "dismissed"})
    for action in ("match_contract", "bill"):
        response = await fix(client, unbilled["id"], action=action)
        assert_problem(response, 409)
        assert "is dismissed: only an open or acknowledged finding can be fixed" in response.text
    # Acknowledged is fixable; resolved by the fix, a second fix is a 409.
    await client.patch(f"{API}/findings/{unbilled['id']}", json={"status": "acknowledged"})
    assert (await fix(client, unbilled["id"], action="match_contract")).status_code == 200
    assert_problem(await fix(client, unbilled["id"], action="match_contract"), 409)


async def test_a_held_back_finding_is_not_fixed(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    # Two seats out of ten are accepted: the UNBILLED_UNITS finding is held back.
    await create(client, "tolerances", {"type": "UNBILLED_UNITS", "max_units": "2"})
    made = await audit(client)
    assert await findings(client, made["id"]) == []
    held = (await client.get(f"{API}/audits/{made['id']}/suppressed")).json()["items"]
    assert [f["type"] for f in held] == ["UNBILLED_UNITS"]
    assert_problem(await fix(client, held[0]["id"], action="match_contract"), 404)


# --- the state a fix finds ------------------------------------------------------------------------


async def test_an_earlier_runs_copy_is_not_fixed_again(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    first = await the_finding(client, "UNBILLED_UNITS")
    second = await the_finding(client, "UNBILLED_UNITS")  # a re-run: the same finding
    assert (await fix(client, second["id"], action="match_contract")).status_code == 200
    # The first run's copy still reads open, but the finding is resolved: a 409, and the
    # contract holds 12, not 14.
    response = await fix(client, first["id"], action="match_contract")
    assert_problem(response, 409)
    assert "is resolved: only an open or acknowledged finding can be fixed" in response.text
    assert await adjustments(client, s, seat_line["id"]) == [("2026-10-01", "12")]


async def test_a_contract_changed_since_the_audit(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    found = await the_finding(client, "UNBILLED_UNITS")
    # Someone raised the contract by hand meanwhile: adding 2 again would overshoot.
    await create(
        client,
        f"contracts/{s.contract}/lines/{seat_line['id']}/adjustments",
        {"effective_date": "2026-10-01", "quantity": "12"},
    )
    response = await fix(client, found["id"], action="match_contract")
    assert_problem(response, 409)
    assert "the contract changed since the audit (10 units contracted then, 12 now" in (
        response.text
    )


async def test_bill_with_nothing_left_to_bill(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.edr, "3")
    made = await audit(client)
    [missing] = [f for f in await findings(client, made["id"]) if f["type"] == "MISSING_BILLING"]
    await bill(client, s.acme, "C-1")  # billed another way after the audit
    response = await fix(client, missing["id"], action="bill")
    assert_problem(response, 409)
    assert "nothing to bill customer" in response.text
    runs = (await client.get(f"{API}/billing-runs")).json()["items"]
    assert runs == []  # no empty run stored


async def test_adopt_cost_raises_an_entry_of_the_same_day(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    # Two invoices of October above the standard 18.00: 19.00 and 19.50.
    await vendor_bill(client, s, "P-10", [seats("10", "19.00")], "190.00")
    await vendor_bill(client, s, "Q-10", [seats("10", "19.50")], "195.00")
    made = await audit(client)
    rises = sorted(
        (f for f in await findings(client, made["id"]) if f["type"] == "PRICE_INCREASE"),
        key=lambda f: f["impact"],
    )
    assert [f["impact"] for f in rises] == ["10.00", "15.00"]
    assert (await fix(client, rises[0]["id"], action="adopt_cost")).status_code == 200
    # The second, still above the new 19.00: the entry of 1 October gives way to 19.50.
    response = await fix(client, rises[1]["id"], action="adopt_cost")
    assert response.status_code == 200, response.text
    details = [c["detail"] for c in response.json()["resolution"]["changes"]]
    assert details == [
        f"service {s.m365}: entry of 19.00 from 2026-10-01 deleted",
        f"service {s.m365}: standard unit cost 19.50 from 2026-10-01",
    ]
    book = (await client.get(f"{API}/services/{s.m365}/costs")).json()["items"]
    assert [(e["effective_from"], e["unit_cost"]) for e in book] == [("2026-10-01", "19.50")]
    assert "PRICE_INCREASE" not in await types_found(client)


async def test_the_resolution_follows_the_finding(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    seat_line = await line(client, s.contract, s.m365, "10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    found = await the_finding(client, "UNBILLED_UNITS")
    # Fixed from November: October still finds it, resolved, with the fix's resolution.
    response = await fix(client, found["id"], action="match_contract", effective_date="2026-11-01")
    resolution = response.json()["resolution"]
    assert await adjustments(client, s, seat_line["id"]) == [("2026-11-01", "12")]
    again = await the_finding(client, "UNBILLED_UNITS")
    assert again["status"] == "resolved" and again["resolution"] == resolution
    # A note keeps it; reopening clears it, on the finding and on the next run.
    await client.patch(f"{API}/findings/{again['id']}", json={"note": "from November on"})
    assert (await the_finding(client, "UNBILLED_UNITS"))["resolution"] == resolution
    await client.patch(f"{API}/findings/{again['id']}", json={"status": "open"})
    reopened = (await client.get(f"{API}/findings/{again['id']}")).json()
    assert reopened["status"] == "open" and reopened["resolution"] is None
    assert (await the_finding(client, "UNBILLED_UNITS"))["resolution"] is None


async def test_a_line_starting_in_the_period_is_named(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    late = await line(client, s.contract, s.m365, "10", start_date="2026-10-10")
    await bill(client, s.acme, "C-1")
    await vendor_bill(client, s, "P-10", [seats("12")], "216.00")
    found = await the_finding(client, "UNBILLED_UNITS")
    # No line on 1 October, the default day: the answer names the one that starts later.
    response = await fix(client, found["id"], action="match_contract")
    assert_problem(response, 422)
    assert f"line {late['id']} starts on 2026-10-10: send that effective_date" in response.text
    response = await fix(client, found["id"], action="match_contract", effective_date="2026-10-10")
    assert response.status_code == 200, response.text
    assert await adjustments(client, s, late["id"]) == [("2026-10-10", "12")]
