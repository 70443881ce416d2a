"""Audits and reports on vendor bills as distributors send them (docs/vendor-bills.md),
through HTTP on both databases, every figure worked out by hand: a prorated pair, a base
plus an add-on, a cancellation credit, anniversary billing, an annual prepaid line, usage
on a metered service, a one-time fee, a rebate, an identical re-billed line and a line
billed in arrears."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import contract, create, customer, line, service, vendor

API = "/api/v1"


class World:
    def __init__(self, vendor_id: int, seats: int, acme: int) -> None:
        self.vendor_id, self.seats, self.acme = vendor_id, seats, acme


async def world(client: httpx.AsyncClient, seats: str | None = "10") -> World:
    """Pax8; seats sold at 22.00 with a standard cost of 18.00; Acme (account ACME) with
    `seats` seats from 2026-01-01."""
    v = await vendor(client, "Pax8")
    s = await service(client, "M365", vendor_id=v["id"], vendor_sku="M365-V")
    c = await customer(client, "Acme Ltd")
    await create(
        client,
        f"customers/{c['id']}/vendor-accounts",
        {"vendor_id": v["id"], "account_ref": "ACME"},
    )
    if seats is not None:
        k = await contract(client, c["id"], "2026-01-01")
        await line(client, k["id"], s["id"], seats)
    return World(v["id"], s["id"], c["id"])


def seat(
    quantity: str, start: str | None = None, end: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "vendor_sku": "M365-V", "account_ref": "ACME", "quantity": quantity, "unit_cost": "18",
        **extra,
    }  # fmt: skip
    if start is not None:
        body |= {"charge_start": start, "charge_end": end}
    return body


async def invoice(
    client: httpx.AsyncClient,
    w: World,
    number: str,
    period: str,
    lines: list[dict[str, Any]],
    invoice_date: str | None = None,
) -> dict[str, Any]:
    body = {
        "vendor_id": w.vendor_id,
        "invoice_number": number,
        "invoice_date": invoice_date or f"{period}-28",
        "period": period,
        "total": "0.00",
        "lines": lines,
    }
    # The total the lines make: ask the service for the defaults, then send it.
    probe = await client.post(f"{API}/vendor-invoices", json={**body, "invoice_number": "PROBE"})
    assert probe.status_code == 201, probe.text
    total = probe.json()["lines_total"]
    deleted = await client.delete(f"{API}/vendor-invoices/{probe.json()['id']}?force=true")
    assert deleted.status_code == 204
    return await create(client, "vendor-invoices", {**body, "total": total})


async def findings(client: httpx.AsyncClient, w: World, period: str) -> list[tuple[str, str]]:
    """The audit of `period` for the vendor (no MISSING_BILLING or UNBILLED_ASSETS)."""
    audit = await create(client, "audits", {"period": period, "vendor_id": w.vendor_id})
    page = await client.get(f"{API}/audits/{audit['id']}/findings", params={"limit": 500})
    return sorted((f["type"], f["impact"]) for f in page.json()["items"])


async def row(client: httpx.AsyncClient, w: World, period: str) -> dict[str, Any]:
    report = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": w.acme, "period": period}
    )
    assert report.status_code == 200, report.text
    [found] = [r for r in report.json()["rows"] if r["service_id"] == w.seats]
    return found  # type: ignore[no-any-return]


async def costs(client: httpx.AsyncClient, first: str, last: str) -> dict[str, Any]:
    report = await client.get(
        f"{API}/reports/profitability",
        params={"from": first, "to": last, "group_by": "month"},
    )
    assert report.status_code == 200, report.text
    body = report.json()
    return {
        "months": {r["month"]: r["cost"] for r in body["rows"]},
        "unallocated": body["unallocated_cost"],
    }


async def test_prorated_pair(client: httpx.AsyncClient) -> None:
    w = await world(client, "12")
    # 10 seats for 1-10 November: 10 x 18 x 10/30 = 60.00; 12 for 11-30: 12 x 18 x 20/30
    # = 144.00. On 30 November 12 seats are in force (not 22): nothing unbilled.
    await invoice(
        client,
        w,
        "P-11",
        "2026-11",
        [seat("10", "2026-11-01", "2026-11-10"), seat("12", "2026-11-11", "2026-11-30")],
    )
    assert await findings(client, w, "2026-11") == []
    found = await row(client, w, "2026-11")
    # Mean unit cost: 144.00 / (20/30) = 216.00 a month over 12 seats = 18.00.
    assert (found["vendor_units"], found["cost"], found["vendor_mean_unit_cost"]) == (
        "12",
        "204.00",
        "18.00",
    )
    assert (await costs(client, "2026-11", "2026-11"))["months"] == {"2026-11": "204.00"}


async def test_base_plus_add_on(client: httpx.AsyncClient) -> None:
    w = await world(client, "12")
    # 10 seats for the month (180.00) and 2 more from 11 November (2 x 18 x 20/30 = 24.00).
    await invoice(client, w, "P-11", "2026-11", [seat("10"), seat("2", "2026-11-11", "2026-11-30")])
    assert await findings(client, w, "2026-11") == []
    found = await row(client, w, "2026-11")
    assert (found["vendor_units"], found["cost"]) == ("12", "204.00")


async def test_cancellation_credit(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    [k] = (await client.get(f"{API}/contracts")).json()["items"]
    await client.post(f"{API}/contracts/{k['id']}/cancel", json={"effective_date": "2026-11-10"})
    # 10 seats for November (180.00), then -10 for 11-30 November (-120.00): nothing in
    # force on the 30th, so no ORPHANED_COST; the first ten days (60.00) stay a cost.
    await invoice(
        client, w, "P-11", "2026-11", [seat("10"), seat("-10", "2026-11-11", "2026-11-30")]
    )
    assert await findings(client, w, "2026-11") == []
    found = await row(client, w, "2026-11")
    # Revenue: 10 x 22 x 10/30 = 73.33; profit 13.33.
    assert (found["vendor_units"], found["cost"], found["revenue"], found["profit"]) == (
        "0",
        "60.00",
        "73.33",
        "13.33",
    )


async def test_anniversary_cycle(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    # 15 October - 14 November: 10 x 18 x (17/31 + 14/30) = 182.71 on October's invoice;
    # 15 November - 14 December: 10 x 18 x (16/30 + 14/31) = 177.29 on November's.
    await invoice(client, w, "P-10", "2026-10", [seat("10", "2026-10-15", "2026-11-14")])
    await invoice(client, w, "P-11", "2026-11", [seat("10", "2026-11-15", "2026-12-14")])
    assert await findings(client, w, "2026-11") == []
    # Spread by days, cumulative rounding: the first line is 98.71 in October (R(18271 x
    # (17/31) / (944/930)) = 9871 cents) and 84.00 in November; the second 96.00 in
    # November (R(17729 x (16/30) / (916/930)) = 9600) and 81.29 in December.
    assert (await costs(client, "2026-10", "2026-12"))["months"] == {
        "2026-10": "98.71",
        "2026-11": "180.00",
        "2026-12": "81.29",
    }
    assert (await row(client, w, "2026-11"))["vendor_units"] == "10"


async def test_annual_prepaid(client: httpx.AsyncClient) -> None:
    w = await world(client, "6")
    # 5 seats for 2026 paid in January: 1,000.00 (about 16.6667 a seat a month).
    await invoice(
        client,
        w,
        "P-01",
        "2026-01",
        [seat("5", "2026-01-01", "2026-12-31", unit_cost="16.6667", amount="1000.00")],
    )
    # One twelfth a month by cumulative rounding: 83.33, 83.34, 83.33, 83.33, 83.34, ...
    months = (await costs(client, "2026-01", "2026-12"))["months"]
    assert [months[f"2026-{m:02d}"] for m in range(1, 7)] == [
        "83.33", "83.34", "83.33", "83.33", "83.34", "83.33",
    ]  # fmt: skip
    total = sum(int(value.replace(".", "")) for value in months.values())
    assert total == 100_000  # exactly the amount over the year
    # November has no invoice, but the annual line is in force: 6 contracted, 5 charged.
    assert await findings(client, w, "2026-11") == [("OVERBILLED_UNITS", "22.00")]


async def test_usage_on_a_metered_service(client: httpx.AsyncClient) -> None:
    w = await world(client, None)
    azure = await service(
        client, "AZURE", vendor_id=w.vendor_id, vendor_sku="AZ", unit_price="100", metered=True
    )
    k = await contract(client, w.acme, "2026-01-01")
    await line(client, k["id"], azure["id"], "1")  # 100.00 a month
    beta = await customer(client, "Beta GmbH")
    await create(
        client,
        f"customers/{beta['id']}/vendor-accounts",
        {"vendor_id": w.vendor_id, "account_ref": "BETA"},
    )
    usage = {"vendor_sku": "AZ", "kind": "usage", "unit_cost": "0.0875"}
    # Acme: 1,234.5678 hours x 0.0875 = 108.0246... -> 108.02 against 100.00 of revenue:
    # NEGATIVE_MARGIN 8.02, and no UNBILLED_UNITS for the hours (usage is no units).
    # Beta: 50 hours x 0.0875 = 4.375 -> 4.38 and no revenue: ORPHANED_COST 4.38.
    await invoice(
        client,
        w,
        "P-11",
        "2026-11",
        [
            {**usage, "account_ref": "ACME", "quantity": "1234.5678"},
            {**usage, "account_ref": "BETA", "quantity": "50"},
        ],
    )
    assert await findings(client, w, "2026-11") == [
        ("NEGATIVE_MARGIN", "8.02"),
        ("ORPHANED_COST", "4.38"),
    ]
    # Invoiced 120.00 for November's usage: revenue is the larger, 120.00 > 108.02.
    await create(client, "customer-invoices", {
        "customer_id": w.acme, "number": "C-11", "period": "2026-11", "issue_date": "2026-11-30",
        "lines": [{"service_id": azure["id"], "description": "Azure", "quantity": "1",
                   "unit_price": "120.00"}],
    })  # fmt: skip
    assert await findings(client, w, "2026-11") == [("ORPHANED_COST", "4.38")]


async def test_one_time_fee(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    beta = await customer(client, "Beta GmbH")
    await create(
        client,
        f"customers/{beta['id']}/vendor-accounts",
        {"vendor_id": w.vendor_id, "account_ref": "BETA"},
    )
    fee = {"vendor_sku": "M365-V", "kind": "one_time", "quantity": "1", "unit_cost": "50"}
    # Acme: 10 seats (180.00) and a setup fee (50.00): 230.00 of cost, 10 = 10 seats.
    # Beta, with no contract: the fee alone is ORPHANED_COST 50.00 (no units in force).
    await invoice(
        client,
        w,
        "P-11",
        "2026-11",
        [seat("10"), {**fee, "account_ref": "ACME"}, {**fee, "account_ref": "BETA"}],
    )
    assert await findings(client, w, "2026-11") == [("ORPHANED_COST", "50.00")]
    assert (await row(client, w, "2026-11"))["cost"] == "230.00"


async def test_rebate(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    # A rebate of -25.00 tied to no customer or service: no UNMAPPED_*, unallocated.
    rebate = {"kind": "adjustment", "quantity": "1", "unit_cost": "-25", "description": "Q4"}
    await invoice(client, w, "P-11", "2026-11", [seat("10"), rebate])
    assert await findings(client, w, "2026-11") == []
    report = await costs(client, "2026-11", "2026-11")
    assert report == {"months": {"2026-11": "180.00"}, "unallocated": "-25.00"}


async def test_identical_re_billed_line(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    await invoice(client, w, "P-11", "2026-11", [seat("10")], "2026-11-30")
    await invoice(client, w, "P-11-B", "2026-11", [seat("10")], "2026-12-02")
    # The same charge on two invoices of November: the copy (180.00) beyond the earliest
    # invoice, P-11; 20 seats in force against 10: UNBILLED_UNITS 10 x 22 = 220.00.
    assert await findings(client, w, "2026-11") == [
        ("DUPLICATE_CHARGE", "180.00"),
        ("UNBILLED_UNITS", "220.00"),
    ]
    # A third copy of November's charge on December's invoice is December's finding, not
    # November's; its seats are in force on 30 November all the same (30 against 10:
    # 20 x 22 = 440.00 unbilled).
    await invoice(client, w, "P-12", "2026-12", [seat("10", "2026-11-01", "2026-11-30")])
    december = await findings(client, w, "2026-12")
    assert ("DUPLICATE_CHARGE", "180.00") in december
    assert await findings(client, w, "2026-11") == [
        ("DUPLICATE_CHARGE", "180.00"),
        ("UNBILLED_UNITS", "440.00"),
    ]


async def test_arrears_line_on_a_later_invoice(client: httpx.AsyncClient) -> None:
    w = await world(client, "10")
    # October's 10 seats billed on November's invoice: they count for October.
    await invoice(client, w, "P-11", "2026-11", [seat("10", "2026-10-01", "2026-10-31")])
    assert await findings(client, w, "2026-10") == []
    assert (await row(client, w, "2026-10"))["cost"] == "180.00"
    # November's row is the contract's revenue with no cost.
    assert (await costs(client, "2026-10", "2026-11"))["months"] == {
        "2026-10": "180.00",
        "2026-11": "0.00",
    }
    # November: nothing in force on the 30th, and the vendor invoiced November.
    assert await findings(client, w, "2026-11") == [("OVERBILLED_UNITS", "220.00")]


async def test_an_invoice_an_audit_of_a_later_month_used_is_kept(
    client: httpx.AsyncClient,
) -> None:
    """A line counts for every month of its charge period, so an audit of any of them has
    used its invoice: deleting it is a 409 (admin and force=true to insist)."""
    w = await world(client, "5")
    annual = seat("5", "2026-01-01", "2026-12-31", amount="1080.00")
    stored = await invoice(client, w, "P-01", "2026-01", [annual])
    await create(client, "audits", {"period": "2026-06", "vendor_id": w.vendor_id})
    refused = await client.delete(f"{API}/vendor-invoices/{stored['id']}")
    assert refused.status_code == 409, refused.text
    assert "audit" in refused.json()["detail"]


async def test_a_default_amount_over_many_months_stays_under_the_limit(
    client: httpx.AsyncClient,
) -> None:
    """quantity x unit_cost is under 10^12, but over 60 months its default amount is not:
    a 422 naming the line's amount, nothing stored."""
    w = await world(client, "5")
    big = seat("1", "2026-01-01", "2030-12-31", unit_cost="100000000000")  # 10^11 a month
    answer = await client.post(
        f"{API}/vendor-invoices",
        json={"vendor_id": w.vendor_id, "invoice_number": "BIG", "invoice_date": "2026-01-31",
              "period": "2026-01", "total": "0.00", "lines": [big]},
    )  # fmt: skip
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "body.lines.0.amount"
    assert (await client.get(f"{API}/vendor-invoices")).json()["items"] == []


async def test_six_decimal_places(client: httpx.AsyncClient) -> None:
    """Vendor quantities and unit costs carry 6 places (docs/vendor-bills.md#precision),
    and compare with the service's 4-place standard as the numbers they are."""
    w = await world(client, "11")
    azure = await service(
        client, "AZURE", vendor_id=w.vendor_id, vendor_sku="AZ", unit_price="100", metered=True
    )
    k = await contract(client, w.acme, "2026-01-01")
    await line(client, k["id"], azure["id"], "1")  # 100.00 a month
    made = await invoice(
        client,
        w,
        "P-11",
        "2026-11",
        [
            # 10 seats at 18.0005: 180.005 -> 180.01, a rise of 0.0005 a seat.
            seat("10", unit_cost="18.0005"),
            # 1 seat at 17.999999 (18.00 rounded): below the standard 18.00, no rise,
            # though 17999999 > 180000 as the integers SQLite stores.
            seat("1", unit_cost="17.999999"),
            # 123.456789 GB at 0.087512 = 10.80395... -> 10.80.
            {
                "vendor_sku": "AZ",
                "account_ref": "ACME",
                "kind": "usage",
                "quantity": "123.456789",
                "unit_cost": "0.087512",
            },
        ],
    )
    assert [(li["quantity"], li["unit_cost"], li["amount"]) for li in made["lines"]] == [
        ("10", "18.0005", "180.01"),
        ("1", "17.999999", "18.00"),
        ("123.456789", "0.087512", "10.80"),
    ]
    # PRICE_INCREASE: (18.0005 - 18.00) x 10 = 0.005 -> 0.01 (the 17.999999 seat takes no
    # part; with it the sum would be 0.004999 -> 0.00 and no finding). 11 seats contracted,
    # 11 charged; Azure 10.80 of cost against 100.00 of revenue: nothing else.
    audit = await create(client, "audits", {"period": "2026-11", "vendor_id": w.vendor_id})
    page = await client.get(f"{API}/audits/{audit['id']}/findings")
    [rise] = page.json()["items"]
    assert (rise["type"], rise["impact"], rise["actual_quantity"]) == (
        "PRICE_INCREASE",
        "0.01",
        "10",
    )
    assert (rise["expected_unit_amount"], rise["actual_unit_amount"]) == ("18.00", "18.0005")
    found = await row(client, w, "2026-11")
    assert (found["vendor_units"], found["cost"]) == ("11", "198.01")
