"""Customer invoices (recorded from the PSA) and billing runs through HTTP, on both databases
(docs/exports.md). Every amount is worked out by hand in the comments."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from app.core.config import Settings
from tests.helpers import assert_problem, contract, create, customer, line, service

API = "/api/v1"
NOV = "2026-11"  # 30 days


# --- small builders --------------------------------------------------------------------------


def iline(quantity: str, unit_price: str, **extra: Any) -> dict[str, Any]:
    """A customer invoice line; amount defaults to quantity x unit_price rounded half-up."""
    return {
        "description": extra.pop("description", "Managed services"),
        "quantity": quantity,
        "unit_price": unit_price,
        **extra,
    }


def invoice_body(
    customer_id: int,
    number: str,
    lines: list[dict[str, Any]],
    *,
    period: str = NOV,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "number": number,
        "period": period,
        "issue_date": extra.pop("issue_date", "2026-11-30"),
        "lines": lines,
        **extra,
    }


async def record(
    client: httpx.AsyncClient,
    customer_id: int,
    number: str,
    lines: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return await create(
        client,
        "customer-invoices",
        invoice_body(customer_id, number, lines or [iline("1", "10.00")], **extra),
    )


async def patch_status(client: httpx.AsyncClient, invoice_id: int, status: str) -> httpx.Response:
    return await client.patch(f"{API}/customer-invoices/{invoice_id}", json={"status": status})


async def all_items(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a collection, following the cursor two at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}/{path}", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def invoices(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return await all_items(client, "customer-invoices", **params)


async def detail(client: httpx.AsyncClient, invoice_id: int) -> dict[str, Any]:
    response = await client.get(f"{API}/customer-invoices/{invoice_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def billing_run(client: httpx.AsyncClient, period: str = NOV) -> dict[str, Any]:
    return await create(client, "billing-runs", {"period": period})


def consistent(line_: dict[str, Any]) -> bool:
    """QuickBooks' rule (error 6070): round(Qty x UnitPrice, 2) == Amount, half-up, exact."""
    from app.core.money import round_half_up

    product = Decimal(line_["quantity"]) * Decimal(line_["unit_price"])
    return round_half_up(product) == Decimal(line_["amount"])


# --- recorded invoices -----------------------------------------------------------------------


async def test_record_get_and_default_amounts(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    m365 = (await service(client, "M365-BP", unit_price="22.00"))["id"]
    backup = (await service(client, "BK-GB", unit_price="0.0875", unit="GB"))["id"]
    created = await record(
        client,
        acme,
        "INV-2026-0042",
        [
            # 3 x 22.00 = 66.00
            iline("3", "22.00", service_id=m365, description="Microsoft 365 Business Premium"),
            # 987.3 x 0.0875 = 86.38875 -> 86.39
            iline("987.3", "0.0875", service_id=backup, description="Backup, GB"),
            # ties: 3 x 0.0050 = 0.015 -> 0.02, and 5 x 0.005 = 0.025 -> 0.03 (half-up;
            # half-even would give 0.02)
            iline("3", "0.0050", description="Tie one"),
            iline("5", "0.005", description="Tie two"),
            # a given amount is kept as given, even when it differs from 1 x 9.99
            iline("1", "9.99", amount="10.00", description="Rounded by the PSA"),
        ],
        status="draft",
    )
    assert created["customer_id"] == acme
    assert created["number"] == "INV-2026-0042"
    assert created["period"] == NOV and created["issue_date"] == "2026-11-30"
    assert created["status"] == "draft" and created["origin"] == "recorded"
    assert created["billing_run_id"] is None
    amounts = [ln["amount"] for ln in created["lines"]]
    assert amounts == ["66.00", "86.39", "0.02", "0.03", "10.00"]
    # 66.00 + 86.39 + 0.02 + 0.03 + 10.00 = 162.44
    assert created["total"] == "162.44"
    assert [ln["line_no"] for ln in created["lines"]] == [1, 2, 3, 4, 5]
    assert [ln["service_id"] for ln in created["lines"]] == [m365, backup, None, None, None]
    assert all(ln["contract_line_id"] is None for ln in created["lines"])
    assert created["lines"][1]["quantity"] == "987.3"
    assert created["lines"][1]["unit_price"] == "0.0875"
    assert await detail(client, created["id"]) == created

    # Numbers as JSON numbers are read from their text: 0.1 x 3 = 0.30, never 0.30000000004.
    from_numbers = await client.post(
        f"{API}/customer-invoices",
        content=(
            f'{{"customer_id": {acme}, "number": "INV-N", "period": "{NOV}", '
            '"issue_date": "2026-11-30", "lines": [{"description": "x", "quantity": 3, '
            '"unit_price": 0.1}]}'
        ),
        headers={"content-type": "application/json"},
    )
    assert from_numbers.status_code == 201, from_numbers.text
    assert from_numbers.json()["lines"][0]["amount"] == "0.30"
    # The default status of a recorded invoice is posted (it was issued elsewhere).
    assert from_numbers.json()["status"] == "posted"

    assert_problem(await client.get(f"{API}/customer-invoices/999999"), 404)


async def test_list_filters_and_pagination(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    beta = (await customer(client, "Beta GmbH"))["id"]
    a_nov = await record(client, acme, "A-11", status="posted")
    a_oct = await record(client, acme, "A-10", period="2026-10", status="posted")
    a_nov_void = await record(client, acme, "A-11-V", status="void")
    b_nov = await record(client, beta, "B-11", status="draft")
    b_dec = await record(client, beta, "B-12", period="2026-12", status="draft")
    everything = [a_nov, a_oct, a_nov_void, b_nov, b_dec]

    def ids(items: list[dict[str, Any]]) -> list[int]:
        return [item["id"] for item in items]

    # Pages of two, in id order, with no invoice twice; list items carry the total.
    listed = await invoices(client)
    assert ids(listed) == ids(everything)
    assert all(item["total"] == "10.00" for item in listed)
    assert "lines" not in listed[0]
    assert ids(await invoices(client, customer_id=acme)) == ids([a_nov, a_oct, a_nov_void])
    assert ids(await invoices(client, period=NOV)) == ids([a_nov, a_nov_void, b_nov])
    assert ids(await invoices(client, status="draft")) == ids([b_nov, b_dec])
    assert ids(await invoices(client, customer_id=acme, period=NOV, status="void")) == [
        a_nov_void["id"]
    ]
    assert await invoices(client, customer_id=999999) == []

    for bad in ({"period": "2026-13"}, {"period": "2026-1"}, {"status": "paid"}, {"limit": 501}):
        assert_problem(await client.get(f"{API}/customer-invoices", params=bad), 422)
    assert_problem(await client.get(f"{API}/customer-invoices", params={"customer_id": "x"}), 422)


async def test_record_validation(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    m365 = (await service(client, "M365-BP"))["id"]
    url = f"{API}/customer-invoices"
    first = await record(client, acme, "INV-1")

    # The same number again: 409, never a second copy (for any customer).
    beta = (await customer(client, "Beta GmbH"))["id"]
    assert_problem(await client.post(url, json=invoice_body(beta, "INV-1", [iline("1", "1")])), 409)

    # At most 21 characters (QuickBooks' DocNumber): 21 is fine, 22 is a 422.
    ok = await record(client, acme, "X" * 21)
    assert ok["number"] == "X" * 21
    assert_problem(
        await client.post(url, json=invoice_body(acme, "Y" * 22, [iline("1", "1")])),
        422,
        "body.number",
    )
    # Blank, or holding a tab or line break (they would break an IIF line): 422.
    for number in ("", "   ", "INV\t3", "INV-\n3", "INV\r3"):
        assert_problem(
            await client.post(url, json=invoice_body(acme, number, [iline("1", "1")])),
            422,
            "body.number",
        )
    # Surrounding spaces are not part of the number.
    padded = await record(client, acme, "  INV-9  ")
    assert padded["number"] == "INV-9"

    # Unknown customer, unknown service on line 1 (line 0 is fine): 422 naming the field.
    assert_problem(
        await client.post(url, json=invoice_body(999999, "INV-2", [iline("1", "1")])),
        422,
        "body.customer_id",
    )
    bad_service = assert_problem(
        await client.post(
            url,
            json=invoice_body(
                acme,
                "INV-2",
                [iline("1", "1", service_id=m365), iline("1", "1", service_id=999999)],
            ),
        ),
        422,
    )
    assert [e["field"] for e in bad_service["errors"]] == ["body.lines.1.service_id"]

    # No lines, unknown fields, malformed numbers: 422.
    assert_problem(await client.post(url, json=invoice_body(acme, "INV-2", [])), 422, "body.lines")
    assert_problem(
        await client.post(url, json={**invoice_body(acme, "INV-2", [iline("1", "1")]), "x": 1}),
        422,
    )
    assert_problem(
        await client.post(url, json=invoice_body(acme, "INV-2", [iline("1", "1", colour="red")])),
        422,
        "body.lines.0",
    )
    for field, value in (
        ("quantity", "1.00001"),  # 5 places
        ("unit_price", "0.00001"),
        ("amount", "1.001"),  # amounts carry 2
        ("unit_price", "-1"),
        ("unit_price", "abc"),
    ):
        body = invoice_body(acme, "INV-2", [{**iline("1", "1"), field: value}])
        assert_problem(await client.post(url, json=body), 422, f"body.lines.0.{field}")
    for field, value in (("period", "2026-13"), ("issue_date", "2026-02-30"), ("status", "paid")):
        body = {**invoice_body(acme, "INV-2", [iline("1", "1")]), field: value}
        assert_problem(await client.post(url, json=body), 422, f"body.{field}")
    # A defaulted amount beyond what an amount may hold is a 422, not a 500.
    huge = invoice_body(acme, "INV-2", [iline("999999999999", "999999999999")])
    assert_problem(await client.post(url, json=huge), 422, "body.lines.0.amount")

    # Nothing partial was stored: the two good invoices only.
    assert [i["number"] for i in await invoices(client)] == ["INV-1", "X" * 21, "INV-9"]
    assert first["total"] == "10.00"


async def test_status_transitions(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    draft = await record(client, acme, "INV-1", status="draft")
    posted = await patch_status(client, draft["id"], "posted")
    assert posted.status_code == 200 and posted.json()["status"] == "posted", posted.text
    assert posted.json()["lines"] == draft["lines"]
    assert_problem(await patch_status(client, draft["id"], "draft"), 422, "body.status")
    voided = await patch_status(client, draft["id"], "void")
    assert voided.status_code == 200 and voided.json()["status"] == "void", voided.text
    for status in ("posted", "draft"):
        problem = assert_problem(
            await patch_status(client, draft["id"], status), 422, "body.status"
        )
        assert "void" in problem["detail"]
    assert (await detail(client, draft["id"]))["status"] == "void"

    # draft -> void directly.
    other = await record(client, acme, "INV-2", status="draft")
    assert (await patch_status(client, other["id"], "void")).json()["status"] == "void"

    # Bad bodies and unknown invoices.
    assert_problem(await patch_status(client, other["id"], "paid"), 422, "body.status")
    assert_problem(
        await client.patch(
            f"{API}/customer-invoices/{other['id']}", json={"status": "void", "number": "N"}
        ),
        422,
    )
    assert_problem(await patch_status(client, 999999, "void"), 404)


# --- billing runs ----------------------------------------------------------------------------


async def schedule_revenues(client: httpx.AsyncClient, contract_id: int) -> dict[int, str]:
    """line id -> revenue in November, as GET /contracts/{id}/schedule says."""
    response = await client.get(
        f"{API}/contracts/{contract_id}/schedule", params={"from": NOV, "to": NOV}
    )
    assert response.status_code == 200, response.text
    return {row["line_id"]: row["revenue"] for row in response.json()["lines"]}


def summary(run: dict[str, Any]) -> tuple[int, int, int, str]:
    return (
        run["invoices_created"],
        run["invoices_regenerated"],
        run["customers_skipped"],
        run["total"],
    )


async def test_billing_runs(client: httpx.AsyncClient) -> None:
    m365 = (await service(client, "M365-BP", name="Microsoft 365", unit_price="22.00"))["id"]
    av = (await service(client, "AV-EDR", name="Antivirus EDR", unit_price="27.50"))["id"]
    backup = (await service(client, "BK-GB", name="Backup", unit_price="0.0875", unit="GB"))["id"]
    helpdesk = (
        await service(client, "HD", name="Helpdesk", unit_price="60.00", unit_cost="35.00")
    )["id"]

    # Acme, contract all year:
    acme = (await customer(client, "Acme Ltd"))["id"]
    acme_k = (await contract(client, acme, "2026-01-01", name="Acme MSA"))["id"]
    # 10 seats x 22.00, 13 from 2026-11-21: (10 x 20 + 13 x 10) / 30 = 330/30 = 11 unit-months,
    # 11 x 22.00 = 242.00.
    acme_m365 = await line(client, acme_k, m365, "10")
    await create(
        client,
        f"contracts/{acme_k}/lines/{acme_m365['id']}/adjustments",
        {"effective_date": "2026-11-21", "quantity": "13"},
    )
    # 9 x 27.50 from 2026-11-14, 17 of 30 days: 9 x 17/30 = 5.1 unit-months, 5.1 x 27.50 = 140.25.
    acme_av = await line(client, acme_k, av, "9", start_date="2026-11-14")
    # 987.3 GB x 0.0875 = 86.38875 -> 86.39.
    acme_backup = await line(client, acme_k, backup, "987.3")
    # A line at price 0 has no revenue: no invoice line.
    await line(client, acme_k, helpdesk, "2", unit_price="0")
    # Acme: 242.00 + 140.25 + 86.39 = 468.64

    # Beta from 2026-11-20 (11 of 30 days): 7 x 33.3333 x 11/30 = 2566.6641/30 = 85.55547 -> 85.56.
    beta = (await customer(client, "Beta GmbH"))["id"]
    beta_k = (await contract(client, beta, "2026-11-20", name="Beta"))["id"]
    await line(client, beta_k, m365, "7", unit_price="33.3333")

    # Gamma: a full month of 2 x 60.00 = 120.00 (its contract is cancelled later on).
    gamma = (await customer(client, "Gamma AG"))["id"]
    gamma_k = (await contract(client, gamma, "2026-01-01", name="Gamma"))["id"]
    await line(client, gamma_k, helpdesk, "2")
    # Gamma's earlier invoice for the month was voided: a void invoice does not bill it.
    gamma_void = await record(client, gamma, "PSA-G-11", status="void")

    # Delta: cost but no revenue (in-house helpdesk at price 0, cost 2 x 35.00): nothing.
    delta = (await customer(client, "Delta BV"))["id"]
    await line(
        client, (await contract(client, delta, "2026-01-01"))["id"], helpdesk, "2", unit_price="0"
    )

    # Echo (posted) and Foxtrot (draft) were invoiced in the PSA: skipped, left alone.
    echo = (await customer(client, "Echo Inc"))["id"]
    await line(client, (await contract(client, echo, "2026-01-01"))["id"], m365, "1")
    echo_invoice = await record(client, echo, "PSA-E-11", status="posted")
    foxtrot = (await customer(client, "Foxtrot SA"))["id"]
    await line(client, (await contract(client, foxtrot, "2026-01-01"))["id"], m365, "1")
    foxtrot_invoice = await record(client, foxtrot, "PSA-F-11", status="draft")

    # Hotel's contract ended before November: no revenue, no invoice.
    hotel = (await customer(client, "Hotel Ltd"))["id"]
    hotel_k = (await contract(client, hotel, "2026-01-01"))["id"]
    await line(client, hotel_k, m365, "4")
    await client.post(f"{API}/contracts/{hotel_k}/cancel", json={"effective_date": "2026-10-31"})

    # --- run 1: Acme, Beta and Gamma get drafts --------------------------------------------
    first = await billing_run(client)
    assert first["period"] == NOV
    # 468.64 + 85.56 + 120.00 = 674.20; Echo and Foxtrot skipped.
    assert summary(first) == (3, 0, 2, "674.20")
    drafts = await invoices(client, period=NOV, status="draft")
    by_customer = {i["customer_id"]: i for i in drafts if i["origin"] == "billing_run"}
    assert sorted(by_customer) == sorted([acme, beta, gamma])
    assert sum(Decimal(i["total"]) for i in by_customer.values()) == Decimal(first["total"])

    acme_draft = await detail(client, by_customer[acme]["id"])
    assert acme_draft["status"] == "draft" and acme_draft["billing_run_id"] == first["id"]
    assert acme_draft["period"] == NOV and acme_draft["issue_date"] == "2026-11-01"
    assert acme_draft["total"] == "468.64"
    # One line per contract line with revenue, amounts equal to the contract's schedule.
    revenues = await schedule_revenues(client, acme_k)
    billed = {ln["contract_line_id"]: ln for ln in acme_draft["lines"]}
    assert list(billed) == [acme_m365["id"], acme_av["id"], acme_backup["id"]]
    assert {k: ln["amount"] for k, ln in billed.items()} == {k: revenues[k] for k in billed}
    assert [ln["amount"] for ln in acme_draft["lines"]] == ["242.00", "140.25", "86.39"]
    assert [ln["service_id"] for ln in acme_draft["lines"]] == [m365, av, backup]
    # Quantity and price: 11 x 22.00, 5.1 x 27.50, 987.3 x 0.0875; each rounds to its amount.
    assert [(ln["quantity"], ln["unit_price"]) for ln in acme_draft["lines"]] == [
        ("11", "22.00"),
        ("5.1", "27.50"),
        ("987.3", "0.0875"),
    ]
    assert "17 of 30 days" in acme_draft["lines"][1]["description"]
    beta_draft = await detail(client, by_customer[beta]["id"])
    # 77/30 = 2.56666... -> 2.5667; 2.5667 x 33.3333 = 85.55658... -> 85.56.
    assert [(ln["quantity"], ln["unit_price"], ln["amount"]) for ln in beta_draft["lines"]] == [
        ("2.5667", "33.3333", "85.56")
    ]
    gamma_draft = await detail(client, by_customer[gamma]["id"])
    assert gamma_draft["total"] == "120.00"
    for invoice in (acme_draft, beta_draft, gamma_draft):
        assert all(consistent(ln) for ln in invoice["lines"]), invoice
        assert len(invoice["number"]) <= 21

    # The recorded invoices are untouched.
    assert await detail(client, echo_invoice["id"]) == echo_invoice
    assert await detail(client, foxtrot_invoice["id"]) == foxtrot_invoice
    assert await detail(client, gamma_void["id"]) == gamma_void

    # --- run 2: regenerated from the current contracts -------------------------------------
    # Acme's antivirus goes to 12 seats from 2026-11-24: 9 x 10 days (14th..23rd) +
    # 12 x 7 days (24th..30th) = 174 seat-days, 174/30 = 5.8 x 27.50 = 159.50.
    await create(
        client,
        f"contracts/{acme_k}/lines/{acme_av['id']}/adjustments",
        {"effective_date": "2026-11-24", "quantity": "12"},
    )
    second = await billing_run(client)
    # 468.64 - 140.25 + 159.50 = 487.89; + 85.56 + 120.00 = 693.45
    assert summary(second) == (0, 3, 2, "693.45")
    regenerated = await detail(client, acme_draft["id"])
    assert regenerated["number"] == acme_draft["number"]
    assert regenerated["billing_run_id"] == second["id"]
    assert [ln["amount"] for ln in regenerated["lines"]] == ["242.00", "159.50", "86.39"]
    assert regenerated["lines"][1]["quantity"] == "5.8"
    assert regenerated["total"] == "487.89"
    assert {ln["contract_line_id"]: ln["amount"] for ln in regenerated["lines"]} == {
        k: v for k, v in (await schedule_revenues(client, acme_k)).items() if v != "0.00"
    }
    assert all(consistent(ln) for ln in regenerated["lines"])
    # Nothing duplicated: still one invoice per customer.
    nov = await invoices(client, period=NOV)
    assert sorted(i["customer_id"] for i in nov) == sorted(
        [acme, beta, gamma, gamma, echo, foxtrot]
    )

    # --- run 3: a posted draft stays; a cancelled contract's draft goes ---------------------
    posted = await patch_status(client, beta_draft["id"], "posted")
    assert posted.status_code == 200, posted.text
    beta_posted = posted.json()
    cancelled = await client.post(
        f"{API}/contracts/{gamma_k}/cancel", json={"effective_date": "2026-10-31"}
    )
    assert cancelled.status_code == 200, cancelled.text
    third = await billing_run(client)
    # Acme regenerated (487.89); Beta now skipped with Echo and Foxtrot; Gamma has nothing.
    assert summary(third) == (0, 1, 3, "487.89")
    assert await detail(client, beta_draft["id"]) == beta_posted
    assert_problem(await client.get(f"{API}/customer-invoices/{gamma_draft['id']}"), 404)
    assert await detail(client, gamma_void["id"]) == gamma_void
    assert await invoices(client, customer_id=delta) == []
    assert await invoices(client, customer_id=hotel) == []

    # --- run 4: Beta's posted invoice is voided, so Beta gets a new draft --------------------
    assert (await patch_status(client, beta_draft["id"], "void")).status_code == 200
    fourth = await billing_run(client)
    # Acme 487.89 + Beta 85.56 = 573.45
    assert summary(fourth) == (1, 1, 2, "573.45")
    beta_invoices = await invoices(client, customer_id=beta)
    assert [i["status"] for i in beta_invoices] == ["void", "draft"]
    assert beta_invoices[1]["total"] == "85.56"
    assert beta_invoices[1]["number"] != beta_draft["number"]

    # --- run 5: Acme's invoice was recorded from the PSA after all --------------------------
    # Acme is now billed elsewhere: skipped, and the run's draft goes (never billed twice).
    acme_psa = await record(client, acme, "PSA-A-11", status="posted")
    fifth = await billing_run(client)
    # Beta regenerated (85.56); Acme, Echo and Foxtrot skipped.
    assert summary(fifth) == (0, 1, 3, "85.56")
    assert_problem(await client.get(f"{API}/customer-invoices/{acme_draft['id']}"), 404)
    assert await detail(client, acme_psa["id"]) == acme_psa
    assert [i["id"] for i in await invoices(client, customer_id=acme)] == [acme_psa["id"]]

    # Every invoice number is unique and fits QuickBooks' DocNumber.
    numbers = [i["number"] for i in await invoices(client)]
    assert len(numbers) == len(set(numbers))
    assert all(len(n) <= 21 for n in numbers)

    # GET /billing-runs lists the runs with their totals, oldest first.
    runs = await all_items(client, "billing-runs")
    assert [summary(r) for r in runs] == [
        summary(first),
        summary(second),
        summary(third),
        summary(fourth),
        summary(fifth),
    ]
    assert runs == [first, second, third, fourth, fifth]
    assert await all_items(client, "billing-runs", period=NOV) == runs
    assert await all_items(client, "billing-runs", period="2026-12") == []


async def test_billing_run_total_is_the_sum_of_its_drafts(client: httpx.AsyncClient) -> None:
    m365 = (await service(client, "M365-BP", unit_price="22.00"))["id"]
    # Three customers whose revenues each round: 1 x 22.00 x 1/30 = 0.7333 -> 0.73,
    # x 2/30 = 1.4666 -> 1.47, x 3/30 = 2.20. Total 4.40.
    expected = []
    for days, amount in ((1, "0.73"), (2, "1.47"), (3, "2.20")):
        c = (await customer(client, f"Customer {days}"))["id"]
        k = (await contract(client, c, f"2026-11-{31 - days:02d}"))["id"]
        await line(client, k, m365, "1")
        expected.append((c, amount))
    run = await billing_run(client)
    assert summary(run) == (3, 0, 0, "4.40")
    drafts = await invoices(client, period=NOV)
    assert [(i["customer_id"], i["total"]) for i in drafts] == expected
    for invoice in drafts:
        assert all(consistent(ln) for ln in (await detail(client, invoice["id"]))["lines"])

    # A month with no revenue: a run that drafts nothing.
    empty = await billing_run(client, "2026-09")
    assert summary(empty) == (0, 0, 0, "0.00")

    url = f"{API}/billing-runs"
    assert_problem(await client.post(url, json={"period": "2026-13"}), 422, "body.period")
    assert_problem(await client.post(url, json={}), 422, "body.period")
    assert_problem(await client.post(url, json={"period": NOV, "dryRun": True}), 422)
    assert_problem(await client.get(url, params={"period": "11-2026"}), 422)


async def test_missing_billing_disappears_after_a_billing_run(client: httpx.AsyncClient) -> None:
    acme = (await customer(client, "Acme Ltd"))["id"]
    m365 = (await service(client, "M365-BP", unit_price="22.00"))["id"]
    # From 2026-11-14: 9 x 22.00 x 17/30 = 3366/30 = 112.20.
    await line(client, (await contract(client, acme, "2026-11-14"))["id"], m365, "9")

    async def missing_billing() -> list[tuple[int, str]]:
        response = await client.post(f"{API}/audits", json={"period": NOV})
        assert response.status_code == 201, response.text
        found = await client.get(
            f"{API}/audits/{response.json()['id']}/findings", params={"type": "MISSING_BILLING"}
        )
        assert found.status_code == 200, found.text
        return [(f["customer_id"], f["impact"]) for f in found.json()["items"]]

    assert await missing_billing() == [(acme, "112.20")]
    run = await billing_run(client)
    assert summary(run) == (1, 0, 0, "112.20")
    assert await missing_billing() == []


async def test_concurrent_runs_duplicate_nothing(client: httpx.AsyncClient) -> None:
    """Runs of one period at the same time go one after the other: no invoice twice (the
    number is unique) and no draft with its lines twice (each regeneration deletes the
    lines it saw, then inserts its own: on PostgreSQL, two at once without the turn-taking
    would leave both)."""
    m365 = (await service(client, "M365-BP", unit_price="22.00"))["id"]
    customers = []
    for i in range(3):
        c = (await customer(client, f"Customer {i}"))["id"]
        k = (await contract(client, c, "2026-01-01"))["id"]
        for _ in range(10):
            await line(client, k, m365, "1")  # 10 lines x 22.00 = 220.00 a customer
        customers.append(c)

    for _ in range(2):  # the first round creates the drafts, the second regenerates them
        answers = await asyncio.gather(
            *[client.post(f"{API}/billing-runs", json={"period": NOV}) for _ in range(4)]
        )
        assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
        drafts = await invoices(client, period=NOV)
        assert [(i["customer_id"], i["total"]) for i in drafts] == [
            (c, "220.00") for c in customers
        ]
        for invoice in drafts:
            assert len((await detail(client, invoice["id"]))["lines"]) == 10
    runs = await all_items(client, "billing-runs")
    # 3 drafts created once, then regenerated by each of the 7 other runs.
    assert sorted((r["invoices_created"], r["invoices_regenerated"]) for r in runs) == [
        (0, 3)
    ] * 7 + [(3, 0)]
    assert all(r["total"] == "660.00" for r in runs)


async def test_a_recorded_invoice_may_carry_a_credit_line(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    """PSA invoices carry discounts and credits: a negative quantity at a positive price.
    10 x 22.00 = 220.00, less 1 x 15.00 = 205.00; QuickBooks gets Qty -1 x 15 = -15 (the
    discount without a service as the default item)."""
    import json
    from decimal import Decimal

    app_settings(quickbooks_default_item_id="1")
    c = await customer(client, quickbooks_id="58")
    s = await service(client, "M365", unit_price="22.00", unit_cost="18.00", quickbooks_id="7")
    body = {
        "customer_id": c["id"],
        "number": "INV-CR",
        "period": "2026-10",
        "issue_date": "2026-10-01",
        "lines": [
            {"service_id": s["id"], "description": "Seats", "quantity": "10", "unit_price": "22"},
            {"description": "Loyalty discount", "quantity": "-1", "unit_price": "15.00"},
        ],
    }
    created = await client.post("/api/v1/customer-invoices", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["total"] == "205.00"
    assert [ln["amount"] for ln in created.json()["lines"]] == ["220.00", "-15.00"]
    got = await client.get(f"/api/v1/customer-invoices/{created.json()['id']}")
    assert got.json()["lines"][1]["quantity"] == "-1"
    qb = json.loads(
        (await client.get(f"/api/v1/customer-invoices/{created.json()['id']}/quickbooks")).text,
        parse_float=Decimal,
    )
    credit = qb["Invoice"]["Line"][1]
    assert credit["Amount"] == Decimal("-15")
    assert credit["SalesItemLineDetail"]["Qty"] == -1
    assert credit["SalesItemLineDetail"]["UnitPrice"] == 15
    assert credit["SalesItemLineDetail"]["ItemRef"] == {"value": "1"}
