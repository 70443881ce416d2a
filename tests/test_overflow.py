"""The largest values the API accepts, through billing runs, audits and reports, on both
databases: a figure that would pass the limit of 10^12 is a 422 naming it, never a 500,
and after any accepted write every list and detail answers 200."""

from __future__ import annotations

import json
import os
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import helpers as h
from tests.conftest import empty_tables
from tests.helpers import assert_problem

API = "/api/v1"
LIMIT = Decimal(10) ** 12
LARGEST = Decimal("999999999999.9999")  # the largest quantity, unit price or unit cost
LARGEST_AMOUNT = Decimal("999999999999.99")
PERIOD = "2026-03"


def near_limit_price(quantity: Decimal) -> Decimal:
    """The largest 4-place price whose product with `quantity` stays under the limit."""
    if quantity == 0:
        return LARGEST
    price = ((LIMIT - Decimal("0.01")) / quantity).quantize(Decimal("0.0001"), ROUND_DOWN)
    return min(price, LARGEST)


async def _scenario(client: httpx.AsyncClient) -> dict[str, Any]:
    """A vendor, a vendor service, two customers with vendor accounts, one contract each;
    the customers and the service mapped to QuickBooks."""
    vendor = await h.vendor(client)
    service = await h.service(
        client,
        "SEAT",
        vendor_id=vendor["id"],
        vendor_sku="V-SEAT",
        unit_price="1",
        unit_cost="1",
        quickbooks_id="QB-SEAT",
    )
    customers = []
    for name, ref in (("Acme", "ACME"), ("Beta", "BETA")):
        # Mapped to QuickBooks, so that the QuickBooks export reads them too.
        customer = await h.customer(client, name, quickbooks_id=f"QB-{ref}")
        await h.create(
            client,
            f"customers/{customer['id']}/vendor-accounts",
            {"vendor_id": vendor["id"], "account_ref": ref},
        )
        customers.append(customer)
    contracts = [await h.contract(client, c["id"], "2026-01-01") for c in customers]
    return {"vendor": vendor, "service": service, "customers": customers, "contracts": contracts}


async def _assert_reads(client: httpx.AsyncClient) -> None:
    """Every list and detail the scenario's records appear in answers 200."""

    async def ok(path: str) -> Any:
        response = await client.get(f"{API}/{path}")
        assert response.status_code == 200, (path, response.text)
        return response.json()

    for run in (await ok("billing-runs"))["items"]:
        assert Decimal(run["total"]) < LIMIT
    for invoice in (await ok("customer-invoices"))["items"]:
        await ok(f"customer-invoices/{invoice['id']}")
    for invoice in (await ok("vendor-invoices"))["items"]:
        await ok(f"vendor-invoices/{invoice['id']}")
    for audit in (await ok("audits"))["items"]:
        await ok(f"audits/{audit['id']}")
        for finding in (await ok(f"audits/{audit['id']}/findings"))["items"]:
            await ok(f"findings/{finding['id']}")
    for contract in (await ok("contracts"))["items"]:
        await ok(f"contracts/{contract['id']}")
        await ok(f"contracts/{contract['id']}/lines")
        await ok(f"contracts/{contract['id']}/schedule?from=2026-01&to=2026-03")
    await ok("exports/quickbooks?period=" + PERIOD)


def _not_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_problem(response, response.status_code)


# --- refused up front -----------------------------------------------------------------------


async def test_contract_line_amount_beyond_the_limit_is_422(client: httpx.AsyncClient) -> None:
    s = await _scenario(client)
    contract_id, service_id = s["contracts"][0]["id"], s["service"]["id"]
    path = f"{API}/contracts/{contract_id}/lines"
    body = assert_problem(
        await client.post(
            path, json={"service_id": service_id, "quantity": str(LARGEST), "unit_price": "2"}
        ),
        422,
        "body.quantity",
    )
    assert "1000000000000" in str(body)
    line = await h.line(client, contract_id, service_id, "500000000000", unit_price="1.9999")
    # A later quantity, or a new price, is held to the same limit.
    assert_problem(
        await client.post(
            f"{path}/{line['id']}/adjustments",
            json={"effective_date": "2026-02-01", "quantity": "600000000000"},
        ),
        422,
        "body.quantity",
    )
    assert_problem(
        await client.patch(f"{path}/{line['id']}", json={"unit_price": "2"}),
        422,
        "body.unit_price",
    )
    await client.post(
        f"{path}/{line['id']}/adjustments",
        json={"effective_date": "2026-02-01", "quantity": "100"},
    )
    assert_problem(
        await client.patch(f"{path}/{line['id']}", json={"unit_price": "2"}),
        422,
        "body.unit_price",
    )
    await _assert_reads(client)


async def test_vendor_invoice_beyond_the_limit_is_422(client: httpx.AsyncClient) -> None:
    s = await _scenario(client)

    def invoice(number: str, lines: list[dict[str, Any]], total: str) -> dict[str, Any]:
        return {
            "vendor_id": s["vendor"]["id"],
            "invoice_number": number,
            "invoice_date": "2026-03-31",
            "period": PERIOD,
            "total": total,
            "lines": [{"vendor_sku": "V-SEAT", "account_ref": "ACME", **x} for x in lines],
        }

    # quantity x unit_cost past the limit, even with an amount given
    too_large = {"quantity": str(LARGEST), "unit_cost": str(LARGEST), "amount": "1.00"}
    assert_problem(
        await client.post(f"{API}/vendor-invoices", json=invoice("V-1", [too_large], "1.00")),
        422,
        "body.lines.0",
    )
    # lines within the limit one by one, not together
    half = {"quantity": "1", "unit_cost": "600000000000"}
    assert_problem(
        await client.post(
            f"{API}/vendor-invoices", json=invoice("V-2", [half, half], "999999999999.99")
        ),
        422,
        "body.lines",
    )
    ok = await client.post(
        f"{API}/vendor-invoices",
        json=invoice("V-3", [{"quantity": "1", "unit_cost": str(LARGEST_AMOUNT)}], "-1"),
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["lines_total"] == str(LARGEST_AMOUNT)
    await _assert_reads(client)


async def test_customer_invoice_beyond_the_limit_is_422(client: httpx.AsyncClient) -> None:
    s = await _scenario(client)
    customer_id = s["customers"][0]["id"]

    def invoice(number: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "customer_id": customer_id,
            "number": number,
            "period": PERIOD,
            "issue_date": "2026-03-01",
            "lines": [{"description": "x", **x} for x in lines],
        }

    too_large = {"quantity": str(LARGEST), "unit_price": str(LARGEST), "amount": "1.00"}
    assert_problem(
        await client.post(f"{API}/customer-invoices", json=invoice("C-1", [too_large])),
        422,
        "body.lines.0",
    )
    half = {"quantity": "1", "unit_price": "600000000000"}
    assert_problem(
        await client.post(f"{API}/customer-invoices", json=invoice("C-2", [half, half])),
        422,
        "body.lines",
    )
    await _assert_reads(client)


# --- computed, then refused whole -----------------------------------------------------------


async def test_billing_run_total_beyond_the_limit_is_422_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    s = await _scenario(client)
    service_id = s["service"]["id"]
    # One customer's invoice would pass the limit: two lines, each within it.
    for _ in range(2):
        await h.line(client, s["contracts"][0]["id"], service_id, "1", unit_price="600000000000")
    body = assert_problem(await client.post(f"{API}/billing-runs", json={"period": PERIOD}), 422)
    assert "1000000000000" in str(body)
    await _assert_reads(client)
    assert (await client.get(f"{API}/billing-runs")).json()["items"] == []
    assert (await client.get(f"{API}/customer-invoices")).json()["items"] == []


async def test_billing_run_over_customers_beyond_the_limit_is_422(
    client: httpx.AsyncClient,
) -> None:
    s = await _scenario(client)
    service_id = s["service"]["id"]
    # Each invoice within the limit, the run's total past it.
    lines = [
        await h.line(client, contract["id"], service_id, "1", unit_price="600000000000")
        for contract in s["contracts"]
    ]
    assert_problem(await client.post(f"{API}/billing-runs", json={"period": PERIOD}), 422)
    await _assert_reads(client)
    assert (await client.get(f"{API}/billing-runs")).json()["items"] == []
    # At the limit less a cent, stored and read back.
    patched = await client.patch(
        f"{API}/contracts/{s['contracts'][1]['id']}/lines/{lines[1]['id']}",
        json={"unit_price": "399999999999.99"},
    )
    assert patched.status_code == 200, patched.text
    run = await client.post(f"{API}/billing-runs", json={"period": PERIOD})
    assert run.status_code == 201, run.text
    assert run.json()["total"] == "999999999999.99"
    await _assert_reads(client)


async def test_billing_run_line_of_a_tiny_prorated_quantity_reads_back(
    client: httpx.AsyncClient,
) -> None:
    """0.0003 units for 15 of 31 days is 0.0001 units to 4 places: its amount over that
    quantity would be a unit price past the limit, so the line is one unit at its amount."""
    s = await _scenario(client)
    await h.line(
        client,
        s["contracts"][0]["id"],
        s["service"]["id"],
        "0.0003",
        unit_price="900000000000",
        start_date="2026-03-17",
    )
    run = await client.post(f"{API}/billing-runs", json={"period": PERIOD})
    assert run.status_code == 201, run.text
    (invoice,) = (await client.get(f"{API}/customer-invoices")).json()["items"]
    detail = await client.get(f"{API}/customer-invoices/{invoice['id']}")
    assert detail.status_code == 200, detail.text
    (line,) = detail.json()["lines"]
    assert (line["quantity"], line["unit_price"], line["amount"]) == (
        "1",
        "130645161.29",
        "130645161.29",
    )
    await _assert_reads(client)


async def test_audit_impact_beyond_the_limit_is_422_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    s = await _scenario(client)
    # One unit contracted at the largest price; the vendor charges the largest quantity
    # (at no cost): (vendor units - contracted units) x contract price is ~10^24.
    await h.line(
        client, s["contracts"][0]["id"], s["service"]["id"], "1", unit_price="999999999999"
    )
    response = await client.post(
        f"{API}/vendor-invoices",
        json={
            "vendor_id": s["vendor"]["id"],
            "invoice_number": "V-1",
            "invoice_date": "2026-03-31",
            "period": PERIOD,
            "total": "0.00",
            "lines": [
                {
                    "vendor_sku": "V-SEAT",
                    "account_ref": "ACME",
                    "quantity": str(LARGEST),
                    "unit_cost": "0",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    body = assert_problem(await client.post(f"{API}/audits", json={"period": PERIOD}), 422)
    assert "1000000000000" in str(body)
    await _assert_reads(client)
    assert (await client.get(f"{API}/audits")).json()["items"] == []
    customer_id = s["customers"][0]["id"]
    report = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": customer_id, "period": PERIOD}
    )
    assert report.status_code == 200, report.text


# --- property: the largest values through everything ----------------------------------------

quantities = st.one_of(
    st.sampled_from([LARGEST, Decimal("999999999999"), Decimal("500000000000"), Decimal(1)]),
    st.decimals(min_value=0, max_value=LARGEST, places=4),
)
prices = st.one_of(
    st.sampled_from([LARGEST, Decimal("0.0001"), Decimal(0), Decimal(1)]),
    st.decimals(min_value=0, max_value=LARGEST, places=4),
)


@st.composite
def lines(draw: st.DrawFn) -> tuple[Decimal, Decimal]:
    """(quantity, price): near the limit most of the time, anything allowed otherwise."""
    quantity = draw(quantities)
    if draw(st.booleans()):
        return quantity, near_limit_price(quantity)
    return quantity, draw(prices)


@settings(
    # MSP_OVERFLOW_EXAMPLES=500 runs a wider sweep.
    max_examples=int(os.environ.get("MSP_OVERFLOW_EXAMPLES", "12")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    contract_lines=st.lists(st.tuples(st.integers(0, 1), lines()), min_size=1, max_size=3),
    adjustment=st.none() | quantities,
    vendor_lines=st.lists(st.tuples(st.integers(0, 1), lines()), min_size=1, max_size=3),
    previous_cost=prices,
    customer_line=st.none() | lines(),
)
async def test_largest_values_never_5xx(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    contract_lines: list[tuple[int, tuple[Decimal, Decimal]]],
    adjustment: Decimal | None,
    vendor_lines: list[tuple[int, tuple[Decimal, Decimal]]],
    previous_cost: Decimal,
    customer_line: tuple[Decimal, Decimal] | None,
) -> None:
    await empty_tables(engine)
    s = await _scenario(client)
    service_id = s["service"]["id"]
    for which, (quantity, price) in contract_lines:
        contract_id = s["contracts"][which]["id"]
        response = await client.post(
            f"{API}/contracts/{contract_id}/lines",
            json={"service_id": service_id, "quantity": str(quantity), "unit_price": str(price)},
        )
        _not_5xx(response)
        if response.status_code == 201 and adjustment is not None:
            _not_5xx(
                await client.post(
                    f"{API}/contracts/{contract_id}/lines/{response.json()['id']}/adjustments",
                    json={"effective_date": "2026-03-10", "quantity": str(adjustment)},
                )
            )
    refs = ["ACME", "BETA"]
    for number, period, rows in (
        ("V-PREV", "2026-02", [(0, (Decimal(1), previous_cost))]),
        ("V-NOW", PERIOD, vendor_lines),
    ):
        _not_5xx(
            await client.post(
                f"{API}/vendor-invoices",
                json={
                    "vendor_id": s["vendor"]["id"],
                    "invoice_number": number,
                    "invoice_date": "2026-03-31",
                    "period": period,
                    "total": str(LARGEST_AMOUNT),
                    "lines": [
                        {
                            "vendor_sku": "V-SEAT",
                            "account_ref": refs[which],
                            "quantity": str(quantity),
                            "unit_cost": str(cost),
                        }
                        for which, (quantity, cost) in rows
                    ],
                },
            )
        )
    if customer_line is not None:
        quantity, price = customer_line
        _not_5xx(
            await client.post(
                f"{API}/customer-invoices",
                json={
                    "customer_id": s["customers"][1]["id"],
                    "number": "INV-1",
                    "period": PERIOD,
                    "issue_date": "2026-03-01",
                    "lines": [
                        {
                            "service_id": service_id,
                            "description": "seats",
                            "quantity": str(quantity),
                            "unit_price": str(price),
                        }
                    ],
                },
            )
        )
    await _assert_reads(client)
    for _ in range(2):  # a second run regenerates the drafts of the first
        _not_5xx(await client.post(f"{API}/billing-runs", json={"period": PERIOD}))
        _not_5xx(await client.post(f"{API}/audits", json={"period": PERIOD}))
        await _assert_reads(client)
    for customer in s["customers"]:
        report = await client.get(
            f"{API}/reports/customer-audit",
            params={"customer_id": customer["id"], "period": PERIOD},
        )
        assert report.status_code == 200, report.text
    for basis in ("contracted", "invoiced"):
        for group_by in ("customer", "service", "contract"):
            report = await client.get(
                f"{API}/reports/profitability",
                params={"from": "2026-01", "to": PERIOD, "basis": basis, "group_by": group_by},
            )
            assert report.status_code == 200, report.text
    for metric in ("revenue", "cost", "profit", "margin"):
        report = await client.get(
            f"{API}/reports/trends",
            params={"from": "2026-01", "to": PERIOD, "metric": metric, "group_by": "customer"},
        )
        assert report.status_code == 200, report.text


async def test_audit_sums_past_64_bits(client: httpx.AsyncClient) -> None:
    """A thousand valid lines of one customer and service, each near the largest
    quantity: their sum (about 10^15, past SQLite's 64-bit SUM at 4 decimals) is gathered
    exactly. The audit then refuses to store a quantity beyond the limit (422 naming it),
    and the customer-audit report, which stores nothing, shows it exactly."""
    world = await _scenario(client)
    quantity = Decimal("999999999999")
    lines = [
        {"vendor_sku": "V-SEAT", "account_ref": "ACME", "quantity": str(quantity),
         "unit_cost": "0.0001", "amount": "99999999.99"}
        for _ in range(1000)
    ]  # fmt: skip
    await h.create(client, "vendor-invoices", {
        "vendor_id": world["vendor"]["id"], "invoice_number": "MANY", "invoice_date": "2026-03-31",
        "period": PERIOD, "total": "99999999990.00", "lines": lines,
    })  # fmt: skip
    audit = await client.post(f"{API}/audits", json={"period": PERIOD})
    problem = assert_problem(audit, 422)
    assert "999999999999000" in json.dumps(problem), problem
    report = await client.get(
        f"{API}/reports/customer-audit",
        params={"customer_id": world["customers"][0]["id"], "period": PERIOD},
    )
    assert report.status_code == 200, report.text
    [row] = report.json()["rows"]
    assert row["vendor_units"] == str(quantity * 1000)
    assert row["cost"] == "99999999990.00"
    profit = await client.get(f"{API}/reports/profitability", params={"from": PERIOD, "to": PERIOD})
    assert profit.status_code == 200 and profit.json()["totals"]["cost"] == "99999999990.00"
