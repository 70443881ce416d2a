"""The price book (docs/price-book.md): entries of a service's standard unit cost over time,
PRICE_INCREASE against the standard in effect on a line's charge_start, in-house cost at
the standard of each month's first day, and the margin forecast; through HTTP on both
databases, every figure worked out by hand."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.test_real_bills import World, invoice, seat, world

API = "/api/v1"


async def entry(
    client: httpx.AsyncClient, service_id: int, effective_from: str, unit_cost: str | float
) -> dict[str, Any]:
    return await create(
        client,
        f"services/{service_id}/costs",
        {"effective_from": effective_from, "unit_cost": unit_cost},
    )


async def book(client: httpx.AsyncClient, service_id: int, **params: Any) -> dict[str, Any]:
    answer = await client.get(f"{API}/services/{service_id}/costs", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


# --- the resource -----------------------------------------------------------------------------


async def test_entries_are_listed_by_effective_from(client: httpx.AsyncClient) -> None:
    s = await service(client, "AV", unit_cost="18.00")
    later = await entry(client, s["id"], "2026-12-01", "19.123456")
    assert later["service_id"] == s["id"]
    assert (later["effective_from"], later["unit_cost"]) == ("2026-12-01", "19.123456")
    await entry(client, s["id"], "2026-03-16", "18.5")
    await entry(client, s["id"], "2026-07-01", 18.75)  # a JSON number, read from its text
    listed = await book(client, s["id"])
    assert [(e["effective_from"], e["unit_cost"]) for e in listed["items"]] == [
        ("2026-03-16", "18.50"),
        ("2026-07-01", "18.75"),
        ("2026-12-01", "19.123456"),
    ]
    assert listed["next_cursor"] is None
    # One at a time, still in effective_from order.
    first = await book(client, s["id"], limit=1)
    assert [e["effective_from"] for e in first["items"]] == ["2026-03-16"]
    second = await book(client, s["id"], limit=1, cursor=first["next_cursor"])
    assert [e["effective_from"] for e in second["items"]] == ["2026-07-01"]
    third = await book(client, s["id"], limit=1, cursor=second["next_cursor"])
    assert [e["effective_from"] for e in third["items"]] == ["2026-12-01"]
    assert third["next_cursor"] is None
    bad = await client.get(f"{API}/services/{s['id']}/costs", params={"cursor": "nope"})
    assert_problem(bad, 422, "query.cursor")


async def test_the_same_day_again_is_a_conflict(client: httpx.AsyncClient) -> None:
    s = await service(client, "AV")
    other = await service(client, "EDR")
    await entry(client, s["id"], "2026-11-16", "19.50")
    again = await client.post(
        f"{API}/services/{s['id']}/costs", json={"effective_from": "2026-11-16", "unit_cost": "20"}
    )
    assert_problem(again, 409, "body.effective_from")
    # Another service may use the day; the first entry is unchanged.
    await entry(client, other["id"], "2026-11-16", "20")
    assert [e["unit_cost"] for e in (await book(client, s["id"]))["items"]] == ["19.50"]


async def test_bad_entries_are_refused(client: httpx.AsyncClient) -> None:
    s = await service(client, "AV")
    path = f"{API}/services/{s['id']}/costs"
    for body, field in [
        ({"effective_from": "2026-11-01", "unit_cost": "1.1234567"}, "body.unit_cost"),
        ({"effective_from": "2026-11-01", "unit_cost": "-0.01"}, "body.unit_cost"),
        ({"effective_from": "2026-11-31", "unit_cost": "1"}, "body.effective_from"),
        ({"unit_cost": "1"}, "body.effective_from"),
        ({"effective_from": "2026-11-01"}, "body.unit_cost"),
    ]:
        assert_problem(await client.post(path, json=body), 422, field)
    assert (await book(client, s["id"]))["items"] == []


async def test_unknown_service_or_entry_is_404(client: httpx.AsyncClient) -> None:
    s = await service(client, "AV")
    other = await service(client, "EDR")
    e = await entry(client, s["id"], "2026-11-01", "19")
    body = {"effective_from": "2026-11-01", "unit_cost": "1"}
    assert_problem(await client.post(f"{API}/services/999999/costs", json=body), 404)
    assert_problem(await client.get(f"{API}/services/999999/costs"), 404)
    # An entry is reached through its own service only.
    assert_problem(await client.delete(f"{API}/services/{other['id']}/costs/{e['id']}"), 404)
    assert_problem(await client.delete(f"{API}/services/{s['id']}/costs/999999"), 404)
    deleted = await client.delete(f"{API}/services/{s['id']}/costs/{e['id']}")
    assert deleted.status_code == 204
    assert_problem(await client.delete(f"{API}/services/{s['id']}/costs/{e['id']}"), 404)
    assert (await book(client, s["id"]))["items"] == []


async def test_a_service_with_a_price_book_is_kept(client: httpx.AsyncClient) -> None:
    """Deleting a service still holding entries is a 409 naming them, as for any
    reference (docs/README.md#errors); without them it goes."""
    s = await service(client, "AV")
    a = await entry(client, s["id"], "2026-11-01", "19")
    b = await entry(client, s["id"], "2026-12-01", "20")
    gone = assert_problem(await client.delete(f"{API}/services/{s['id']}"), 409)
    assert gone["referenced_by"] == ["2 service costs"]
    for e in (a, b):
        assert (await client.delete(f"{API}/services/{s['id']}/costs/{e['id']}")).status_code == 204
    assert (await client.delete(f"{API}/services/{s['id']}")).status_code == 204


# --- PRICE_INCREASE -----------------------------------------------------------------------------


async def rises(client: httpx.AsyncClient, w: World, period: str) -> list[dict[str, Any]]:
    audit = await create(client, "audits", {"period": period, "vendor_id": w.vendor_id})
    page = await client.get(
        f"{API}/audits/{audit['id']}/findings", params={"type": "PRICE_INCREASE"}
    )
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_each_line_is_held_to_the_standard_of_its_charge_start(
    client: httpx.AsyncClient,
) -> None:
    """Catalog standard 18.00; a price-book entry of 19.50 from 2026-11-16. Invoice of
    2026-11 (share of 16-30 November: 15/30 = 1/2):
      A: 10 seats at 19.00 for the whole of November: charge_start 11-01, before the entry,
         so against 18.00: (19.00 - 18.00) x 10 x 1 = 10.00.
      B: 4 seats at 19.50 for 16-30 November: against 19.50, not above: no part.
      C: 2 seats at 20.00 for 16-30 November: (20.00 - 19.50) x 2 x 1/2 = 0.50.
    Impact 10.50; weights 10 (A) and 1 (C): standard (18.00 x 10 + 19.50 x 1) / 11 =
    199.50 / 11 = 18.136363... -> 18.136364, charged (190.00 + 20.00) / 11 = 19.090909...
    Before the entry (all against 18.00) B rises too: 1.50 x 4 x 1/2 = 3.00, C 2.00 x 2 x
    1/2 = 2.00: 15.00."""
    w = await world(client, "16")
    await invoice(
        client,
        w,
        "P-11",
        "2026-11",
        [
            seat("10", unit_cost="19.00"),
            seat("4", "2026-11-16", "2026-11-30", unit_cost="19.50"),
            seat("2", "2026-11-16", "2026-11-30", unit_cost="20.00"),
        ],
    )
    [before] = await rises(client, w, "2026-11")
    assert (before["impact"], before["expected_unit_amount"]) == ("15.00", "18.00")

    await entry(client, w.seats, "2026-11-16", "19.50")
    [rise] = await rises(client, w, "2026-11")
    assert rise["impact"] == "10.50"
    assert rise["actual_quantity"] == "12"  # A and C: B is not above its standard
    assert (rise["expected_unit_amount"], rise["actual_unit_amount"]) == (
        "18.136364",
        "19.090909",
    )

    # The entry one day later (11-17): B and C start before it, against 18.00 again.
    await entry(client, w.seats, "2026-11-17", "19.50")
    entries = (await book(client, w.seats))["items"]
    await client.delete(f"{API}/services/{w.seats}/costs/{entries[0]['id']}")
    [rise] = await rises(client, w, "2026-11")
    assert rise["impact"] == "15.00"


async def test_an_entry_before_the_month_applies_to_its_lines(client: httpx.AsyncClient) -> None:
    """An entry of 19.00 from 2026-10-01: November's lines at 19.00 are no rise; an entry
    of 20.00 from 2026-12-01 is not yet in effect for them."""
    w = await world(client)
    await entry(client, w.seats, "2026-10-01", "19.00")
    await entry(client, w.seats, "2026-12-01", "20.00")
    await invoice(client, w, "P-11", "2026-11", [seat("10", unit_cost="19.00")])
    assert await rises(client, w, "2026-11") == []
    # 19.25 is above 19.00: 0.25 x 10 = 2.50.
    await invoice(client, w, "P-11B", "2026-11", [seat("10", unit_cost="19.25")])
    [rise] = await rises(client, w, "2026-11")
    assert (rise["impact"], rise["expected_unit_amount"]) == ("2.50", "19.00")


async def test_six_place_standards_compare_exactly(client: httpx.AsyncClient) -> None:
    """10 seats at 18.0005. Against the catalog's 18.00: 0.0005 x 10 = 0.005 -> 0.01, a
    finding. Against an entry of 18.000001: 0.000499 x 10 = 0.00499 -> 0.00, none.
    Against an entry of 18.0005: not above. Against 18.000499: 0.000001 x 10 = 0.00001
    -> 0.00, none; the line is above it all the same (18000500 > 18000499 as SQLite's
    integers), which the 17.999999 entry shows: 0.000501 x 10 = 0.00501 -> 0.01."""
    w = await world(client)
    await invoice(client, w, "P-11", "2026-11", [seat("10", unit_cost="18.0005")])
    [rise] = await rises(client, w, "2026-11")
    assert rise["impact"] == "0.01"
    for cost, impact in [
        ("18.000001", None),
        ("18.0005", None),
        ("18.000499", None),
        ("17.999999", "0.01"),
    ]:
        for old in (await book(client, w.seats))["items"]:
            await client.delete(f"{API}/services/{w.seats}/costs/{old['id']}")
        await entry(client, w.seats, "2026-11-01", cost)
        found = await rises(client, w, "2026-11")
        assert [r["impact"] for r in found] == ([impact] if impact else []), cost
        if impact:
            assert found[0]["expected_unit_amount"] == "17.999999"


# --- in-house cost ------------------------------------------------------------------------------


async def test_in_house_cost_uses_the_standard_of_the_first_day(
    client: httpx.AsyncClient,
) -> None:
    """Helpdesk (in-house) at 50.00 a unit, catalog cost 30.00; an entry of 33.123456
    from 2026-03-15 (mid-month: March keeps 30.00), in effect from April.
      L1: 2 units from 2026-01-01. L2: 1 unit from 2026-04-16 (15 of April's 30 days).
    Cost: February 2 x 30.00 = 60.00; March 60.00 (the entry is not in effect on
    03-01); April 2 x 33.123456 = 66.246912 -> 66.25 and 15/30 x 33.123456 = 16.561728
    -> 16.56: 82.81. Revenue April 100.00 + 25.00 = 125.00: profit 42.19, margin
    0.33752 -> 0.3375."""
    s = await service(client, "HELP", unit_price="50.00", unit_cost="30.00")
    c = await customer(client)
    k = await contract(client, c["id"], "2026-01-01")
    await line(client, k["id"], s["id"], "2")
    await line(client, k["id"], s["id"], "1", start_date="2026-04-16")
    await entry(client, s["id"], "2026-03-15", "33.123456")

    answer = await client.get(
        f"{API}/reports/profitability",
        params={"from": "2026-02", "to": "2026-04", "group_by": "month"},
    )
    assert answer.status_code == 200, answer.text
    assert [(r["month"], r["revenue"], r["cost"]) for r in answer.json()["rows"]] == [
        ("2026-02", "100.00", "60.00"),
        ("2026-03", "100.00", "60.00"),
        ("2026-04", "125.00", "82.81"),
    ]
    # One row over the three months: the run of whole months at 2 units is cut where
    # the cost changes (60.00 + 60.00 + 66.25 + 16.56 = 202.81).
    answer = await client.get(
        f"{API}/reports/profitability",
        params={"from": "2026-02", "to": "2026-04", "group_by": "customer"},
    )
    [row] = answer.json()["rows"]
    assert (row["revenue"], row["cost"]) == ("325.00", "202.81")
    trend = await client.get(
        f"{API}/reports/trends", params={"from": "2026-02", "to": "2026-04", "metric": "cost"}
    )
    assert trend.json()["total"] == ["60.00", "60.00", "82.81"]

    # The audit's figures (the per-customer report) agree.
    for period, cost in [("2026-03", "60.00"), ("2026-04", "82.81")]:
        report = await client.get(
            f"{API}/reports/customer-audit", params={"customer_id": c["id"], "period": period}
        )
        [row] = report.json()["rows"]
        assert row["cost"] == cost, period
    report = await client.get(
        f"{API}/reports/customer-audit", params={"customer_id": c["id"], "period": "2026-04"}
    )
    [row] = report.json()["rows"]
    assert (row["revenue"], row["profit"], row["margin"]) == ("125.00", "42.19", "0.3375")


# --- the margin forecast ------------------------------------------------------------------------


async def forecast(client: httpx.AsyncClient, period: str) -> list[dict[str, Any]]:
    answer = await client.get(f"{API}/reports/margin-forecast", params={"period": period})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == period
    rows: list[dict[str, Any]] = body["rows"]
    return rows


async def test_margin_forecast_of_an_announced_rise(client: httpx.AsyncClient) -> None:
    """Pax8 announces M365 at 19.80 from 2026-12-01 (catalog 18.00) and EDR at 4.20 from
    2026-11-20 (catalog 4.00; already in effect on 11-30, so no change in December).
    Contracts at the end of November:
      Acme: M365 10 seats at 22.00 and 5 at 20.00 (a second line): 15 seats, price
        (220 + 100) / 15 = 21.3333... -> 21.333333; margin before (21.3333 - 18.00) /
        21.3333 = 3.3333 / 21.3333 = 0.15625 -> 0.1563; after (21.3333 - 19.80) /
        21.3333 = 1.5333 / 21.3333 = 0.071875 -> 0.0719; change 15 x (18.00 - 19.80) =
        -27.00.
      Beta: M365 3 seats at 19.00: margin 1 / 19 = 0.052631 -> 0.0526, after -0.80 / 19 =
        -0.042105 -> -0.0421; change 3 x -1.80 = -5.40.
      Beta: EDR 8 at 0.00 (given away): margins null; cost 4.20 before and after: 0.00.
      Gamma: M365 ended 2026-11-15: not under contract on 11-30, no row.
    Worst first: Acme -27.00, Beta -5.40, Beta EDR 0.00."""
    v = await vendor(client)
    m365 = await service(client, "M365", vendor_id=v["id"], vendor_sku="M365-V")
    edr = await service(client, "EDR", unit_price="6.00", unit_cost="4.00")
    acme, beta, gamma = (
        await customer(client, "Acme"),
        await customer(client, "Beta"),
        await customer(client, "Gamma"),
    )
    k = await contract(client, acme["id"], "2026-01-01")
    await line(client, k["id"], m365["id"], "10")
    await line(client, k["id"], m365["id"], "5", unit_price="20.00")
    k = await contract(client, beta["id"], "2026-06-01")
    await line(client, k["id"], m365["id"], "3", unit_price="19.00")
    await line(client, k["id"], edr["id"], "8", unit_price="0")
    k = await contract(client, gamma["id"], "2026-01-01", end_date="2026-11-15")
    await line(client, k["id"], m365["id"], "40")
    await entry(client, m365["id"], "2026-12-01", "19.80")
    await entry(client, edr["id"], "2026-11-20", "4.20")

    rows = await forecast(client, "2026-12")
    assert [
        (
            r["customer_name"],
            r["service_name"],
            r["contracted_units"],
            r["contract_unit_price"],
            r["unit_cost_before"],
            r["unit_cost"],
            r["margin_before"],
            r["margin"],
            r["monthly_profit_change"],
        )
        for r in rows
    ] == [
        ("Acme", "Service M365", "15", "21.333333", "18.00", "19.80", "0.1563", "0.0719", "-27.00"),
        ("Beta", "Service M365", "3", "19.00", "18.00", "19.80", "0.0526", "-0.0421", "-5.40"),
        ("Beta", "Service EDR", "8", "0.00", "4.20", "4.20", None, None, "0.00"),
    ]
    assert [(r["customer_id"], r["service_id"]) for r in rows] == [
        (acme["id"], m365["id"]),
        (beta["id"], m365["id"]),
        (beta["id"], edr["id"]),
    ]

    # November, seen from October: EDR's entry (11-20) is not in effect on 11-01, and
    # M365's is still a month away: every change 0.00, in (customer, service) order;
    # Gamma is under contract on 10-31: 40 x 22.00, margin 4 / 22 = 0.1818.
    rows = await forecast(client, "2026-11")
    assert [(r["customer_name"], r["service_name"], r["monthly_profit_change"]) for r in rows] == [
        ("Acme", "Service M365", "0.00"),
        ("Beta", "Service M365", "0.00"),
        ("Beta", "Service EDR", "0.00"),
        ("Gamma", "Service M365", "0.00"),
    ]
    assert rows[3]["margin"] == rows[3]["margin_before"] == "0.1818"

    # A cut in cost is a gain: M365 at 17.123456 from 2027-01-01, the contracts as they are.
    await entry(client, m365["id"], "2027-01-01", "17.123456")
    rows = await forecast(client, "2027-01")
    # Acme: 15 x (19.80 - 17.123456) = 15 x 2.676544 = 40.14816 -> 40.15;
    # Beta: 3 x 2.676544 = 8.029632 -> 8.03. EDR 0.00 first.
    assert [(r["customer_name"], r["unit_cost"], r["monthly_profit_change"]) for r in rows] == [
        ("Beta", "4.20", "0.00"),
        ("Beta", "17.123456", "8.03"),
        ("Acme", "17.123456", "40.15"),
    ]


async def test_margin_forecast_csv_and_errors(client: httpx.AsyncClient) -> None:
    assert await forecast(client, "2026-12") == []
    s = await service(client, "AV", unit_price="10.00", unit_cost="8.00")
    c = await customer(client, "=Acme")
    k = await contract(client, c["id"], "2026-01-01")
    await line(client, k["id"], s["id"], "4")
    await entry(client, s["id"], "2026-12-01", "8.50")
    answer = await client.get(
        f"{API}/reports/margin-forecast",
        params={"period": "2026-12"},
        headers={"Accept": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert lines[0] == (
        "customer_id,customer_name,service_id,service_name,contracted_units,"
        "contract_unit_price,unit_cost_before,unit_cost,margin_before,margin,"
        "monthly_profit_change"
    )
    # 4 x (8.00 - 8.50) = -2.00; margins 2 / 10 = 0.2000 and 1.5 / 10 = 0.1500; the
    # formula-looking name is neutralised.
    assert lines[1] == (
        f"{c['id']},'=Acme,{s['id']},Service AV,4,10.00,8.00,8.50,0.2000,0.1500,-2.00"
    )
    for period in ("2026-13", "26-12", ""):
        bad = await client.get(f"{API}/reports/margin-forecast", params={"period": period})
        assert_problem(bad, 422, "query.period")
    assert_problem(await client.get(f"{API}/reports/margin-forecast"), 422)
    # The calendar's first month has a month before it (1899-12): nothing under contract.
    assert await forecast(client, "1900-01") == []
