"""Vendor invoices through HTTP, the JSON side (docs/month-arithmetic.md#vendor-invoices):
create, read, list, delete, money rules, uniqueness, matching and the unmapped to-do list."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.vendor_invoices.models import VendorInvoice, VendorInvoiceLine
from tests.helpers import assert_problem, customer, service, vendor

INVOICES = "/api/v1/vendor-invoices"


def a_line(sku: str = "M365-BP", account: str = "ACME-001", **extra: Any) -> dict[str, Any]:
    return {
        "vendor_sku": sku,
        "account_ref": account,
        "quantity": "1",
        "unit_cost": "10.00",
        **extra,
    }


def invoice_body(
    vendor_id: int,
    number: str = "INV-1",
    *,
    lines: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "invoice_number": number,
        "invoice_date": "2026-10-31",
        "period": "2026-10",
        "total": "10.00",
        "lines": [a_line()] if lines is None else lines,
        **extra,
    }


async def create_invoice(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(INVOICES, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        invoices = await connection.scalar(select(func.count()).select_from(VendorInvoice))
        lines = await connection.scalar(select(func.count()).select_from(VendorInvoiceLine))
    return int(invoices or 0), int(lines or 0)


async def post_raw(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.post(INVOICES, content=text, headers={"Content-Type": "application/json"})


async def test_create_get_list_delete(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    w = await vendor(client, "TD Synnex")
    lines = [
        a_line(description="Business Premium", quantity="25", unit_cost="18.70"),
        a_line("BACKUP-GB", quantity="987.3", unit_cost="0.0875", amount="86.39"),
    ]
    first = await create_invoice(client, invoice_body(v["id"], "INV-1", lines=lines))
    assert first["vendor_id"] == v["id"]
    assert first["invoice_number"] == "INV-1"
    assert first["invoice_date"] == "2026-10-31"
    assert first["period"] == "2026-10"
    assert first["currency"] == "USD"
    assert first["source"] == "api"
    assert first["total"] == "10.00"
    assert first["line_count"] == 2
    assert first["lines_total"] == "553.89"
    assert [(x["line_no"], x["quantity"], x["unit_cost"], x["amount"]) for x in first["lines"]] == [
        (1, "25", "18.70", "467.50"),
        (2, "987.3", "0.0875", "86.39"),
    ]
    assert first["lines"][0]["description"] == "Business Premium"
    assert first["lines"][1]["description"] is None

    got = await client.get(f"{INVOICES}/{first['id']}")
    # GET shows the invoice; the checks belong to the answer that took it in.
    checks = first.pop("checks")
    # No service or customer matches: each line unmapped both ways; 553.89 - 10.00 apart.
    # Biggest first, ties in the audit's order of types.
    assert [(c["type"], c["impact"]) for c in checks] == [
        ("INVOICE_TOTAL_MISMATCH", "543.89"),
        ("UNMAPPED_SKU", "467.50"),
        ("UNMAPPED_ACCOUNT", "467.50"),
        ("UNMAPPED_SKU", "86.39"),
        ("UNMAPPED_ACCOUNT", "86.39"),
    ]
    assert got.status_code == 200 and got.json() == first

    second = await create_invoice(client, invoice_body(v["id"], "INV-2", period="2026-11"))
    third = await create_invoice(client, invoice_body(w["id"], "INV-1"))

    async def ids(**params: Any) -> list[int]:
        response = await client.get(INVOICES, params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [first["id"], second["id"], third["id"]]
    assert await ids(vendor_id=v["id"]) == [first["id"], second["id"]]
    assert await ids(period="2026-10") == [first["id"], third["id"]]
    assert await ids(period="2026-10", vendor_id=w["id"]) == [third["id"]]
    assert await ids(invoice_number="INV-1") == [first["id"], third["id"]]
    assert await ids(invoice_number=" INV-2 ") == [second["id"]]
    assert await ids(invoice_number="nope") == []
    listed = (await client.get(INVOICES, params={"vendor_id": v["id"]})).json()["items"][0]
    assert "lines" not in listed
    assert listed["line_count"] == 2 and listed["lines_total"] == "553.89"
    assert_problem(await client.get(INVOICES, params={"period": "2026-1"}), 422, "query.period")

    page = (await client.get(INVOICES, params={"limit": 2})).json()
    assert [i["id"] for i in page["items"]] == [first["id"], second["id"]]
    rest = (await client.get(INVOICES, params={"limit": 2, "cursor": page["next_cursor"]})).json()
    assert [i["id"] for i in rest["items"]] == [third["id"]] and rest["next_cursor"] is None

    assert await counts(engine) == (3, 4)
    deleted = await client.delete(f"{INVOICES}/{first['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(await client.get(f"{INVOICES}/{first['id']}"), 404)
    assert_problem(await client.delete(f"{INVOICES}/{first['id']}"), 404)
    assert await counts(engine) == (2, 2)
    assert await ids() == [second["id"], third["id"]]
    assert_problem(await client.get(f"{INVOICES}/999999"), 404)
    assert_problem(await client.delete(f"{INVOICES}/999999"), 404)
    # Out-of-range ids and NUL characters are bad input, never a 500.
    huge = 10**12
    assert_problem(await client.get(f"{INVOICES}/{huge}"), 422)
    assert_problem(await client.delete(f"{INVOICES}/{huge}"), 422)
    assert_problem(await client.get(INVOICES, params={"vendor_id": huge}), 422, "query.vendor_id")
    nul = await client.get(INVOICES, params={"invoice_number": "INV\x001"})
    assert_problem(nul, 422, "query.invoice_number")


async def test_amount_defaults_half_up_and_credits(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    lines = [
        a_line(quantity="3", unit_cost="0.005"),  # 0.015 -> 0.02
        a_line(quantity="1", unit_cost="-0.005"),  # -0.005 -> -0.01 (away from zero)
        a_line(quantity="-3", unit_cost="0.0050"),  # -0.015 -> -0.02
        a_line(quantity="1", unit_cost="0.0049"),  # 0.0049 -> 0.00
        a_line(quantity="-2", unit_cost="18.70", amount="-37.40"),  # a credit as sent
        a_line(quantity="1", unit_cost="9.99", amount="10.00"),  # a given amount is kept
        # JSON numbers are read from their text: as a float 2.675 would round to 2.67.
        a_line(quantity=1, unit_cost=2.675),
        a_line(quantity=0.1, unit_cost=0.3),  # 0.03 exactly, not 0.030000000000000002
    ]
    created = await create_invoice(client, invoice_body(v["id"], lines=lines, total=-24.71))
    amounts = [line["amount"] for line in created["lines"]]
    assert amounts == ["0.02", "-0.01", "-0.02", "0.00", "-37.40", "10.00", "2.68", "0.03"]
    assert [line["quantity"] for line in created["lines"]][:3] == ["3", "1", "-3"]
    assert created["lines"][1]["unit_cost"] == "-0.005"
    assert created["lines_total"] == "-24.70"
    assert created["total"] == "-24.71"


async def test_currency(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client, currency="EUR")
    mismatch = await client.post(INVOICES, json=invoice_body(v["id"], currency="USD"))
    body = assert_problem(mismatch, 422, "body.currency")
    assert "EUR" in body["detail"]
    assert_problem(await client.post(INVOICES, json=invoice_body(v["id"], currency="EURO")), 422)
    assert await counts(engine) == (0, 0)
    defaulted = await create_invoice(client, invoice_body(v["id"], "A"))
    assert defaulted["currency"] == "EUR"
    lower = await create_invoice(client, invoice_body(v["id"], "B", currency="eur"))
    assert lower["currency"] == "EUR"


async def test_duplicate_number_is_409_never_a_copy(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    v = await vendor(client)
    first = await create_invoice(client, invoice_body(v["id"], "INV-9"))
    again = await client.post(
        INVOICES, json=invoice_body(v["id"], "INV-9", lines=[a_line(), a_line()])
    )
    body = assert_problem(again, 409, "body.invoice_number")
    assert body["invoice_id"] == first["id"]
    # Surrounding spaces do not make another number.
    assert_problem(await client.post(INVOICES, json=invoice_body(v["id"], " INV-9 ")), 409)
    assert await counts(engine) == (1, 1)


async def test_decimal_places(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    ok = await create_invoice(
        client,
        invoice_body(
            v["id"],
            lines=[
                a_line(quantity="1.2345", unit_cost="0.0001"),
                a_line(quantity="2.50000", unit_cost="1.23450"),  # trailing zeros are fine
                a_line(quantity=0.5, unit_cost=1.2345, amount=0.62),
                # Six places on a vendor line (docs/vendor-bills.md#precision):
                # 123.456789 x 0.0239 = 2.9506172... -> 2.95.
                a_line(quantity="123.456789", unit_cost="0.0239"),
                a_line(quantity=1.000001, unit_cost=0.000125),  # 0.000125... -> 0.00
                a_line(quantity="-2", unit_cost="12.345678"),  # -24.691356 -> -24.69
            ],
        ),
    )
    assert [line["quantity"] for line in ok["lines"]] == [
        "1.2345",
        "2.5",
        "0.5",
        "123.456789",
        "1.000001",
        "-2",
    ]
    assert [line["unit_cost"] for line in ok["lines"]] == [
        "0.0001",
        "1.2345",
        "1.2345",
        "0.0239",
        "0.000125",
        "12.345678",
    ]
    assert [line["amount"] for line in ok["lines"]] == [
        "0.00",
        "3.09",
        "0.62",
        "2.95",
        "0.00",
        "-24.69",
    ]
    again = await client.get(f"{INVOICES}/{ok['id']}")
    assert [line["quantity"] for line in again.json()["lines"]][3:] == [
        "123.456789",
        "1.000001",
        "-2",
    ]

    bad_cases: list[tuple[dict[str, Any], str]] = [
        ({"quantity": "1.2345678"}, "body.lines.0.quantity"),
        ({"quantity": 1.2345678}, "body.lines.0.quantity"),
        ({"unit_cost": "0.0000001"}, "body.lines.0.unit_cost"),
        ({"unit_cost": 0.0000001}, "body.lines.0.unit_cost"),
        ({"amount": "1.234"}, "body.lines.0.amount"),
        ({"amount": 1.234}, "body.lines.0.amount"),
        ({"quantity": "ten"}, "body.lines.0.quantity"),
        ({"quantity": True}, "body.lines.0.quantity"),
        ({"quantity": None}, "body.lines.0.quantity"),
    ]
    for number, (change, field) in enumerate(bad_cases):
        body = invoice_body(v["id"], f"BAD-{number}", lines=[a_line(**change)])
        assert_problem(await client.post(INVOICES, json=body), 422, field)
    total = invoice_body(v["id"], "BAD-total", total="10.001")
    assert_problem(await client.post(INVOICES, json=total), 422, "body.total")
    assert await counts(engine) == (1, 6)


async def test_nan_and_infinity(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    for literal in ("NaN", "Infinity", "-Infinity"):
        for field in ("quantity", "unit_cost", "amount"):
            body = invoice_body(v["id"], lines=[a_line(**{field: "@"})])
            response = await post_raw(client, json.dumps(body).replace('"@"', literal))
            assert_problem(response, 422, f"body.lines.0.{field}")
        body = invoice_body(v["id"], total="@")
        response = await post_raw(client, json.dumps(body).replace('"@"', literal))
        assert_problem(response, 422, "body.total")
    for text in ("NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN"):
        body = invoice_body(v["id"], lines=[a_line(unit_cost=text)])
        assert_problem(await client.post(INVOICES, json=body), 422, "body.lines.0.unit_cost")
        body = invoice_body(v["id"], total=text)
        assert_problem(await client.post(INVOICES, json=body), 422, "body.total")
    assert await counts(engine) == (0, 0)


async def test_other_validation(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    cases = [
        (invoice_body(v["id"], lines=[]), "body.lines"),
        ({k: val for k, val in invoice_body(v["id"]).items() if k != "lines"}, "body.lines"),
        (invoice_body(999_999), "body.vendor_id"),
        (invoice_body(10**12), "body.vendor_id"),
        (invoice_body(v["id"], invoice_date="0001-01-01"), "body.invoice_date"),
        (invoice_body(v["id"], lines=[a_line(description="a\x00b")]), "body.lines.0.description"),
        (invoice_body(v["id"], lines=[a_line(description="x" * 2001)]), "body.lines.0.description"),
        (invoice_body(v["id"], period="2026-13"), "body.period"),
        (invoice_body(v["id"], period="2026-1"), "body.period"),
        (invoice_body(v["id"], invoice_date="2026-02-30"), "body.invoice_date"),
        (invoice_body(v["id"], invoice_number="  "), "body.invoice_number"),
        (invoice_body(v["id"], lines=[a_line(sku=" ")]), "body.lines.0.vendor_sku"),
        (invoice_body(v["id"], lines=[a_line(account="")]), "body.lines.0.account_ref"),
    ]
    for body, field in cases:
        assert_problem(await client.post(INVOICES, json=body), 422, field)
    assert await counts(engine) == (0, 0)


async def _map_vendor_account(
    client: httpx.AsyncClient, customer_id: int, vendor_id: int, ref: str
) -> None:
    response = await client.post(
        f"/api/v1/customers/{customer_id}/vendor-accounts",
        json={"vendor_id": vendor_id, "account_ref": ref},
    )
    assert response.status_code == 201, response.text


async def test_matching_shown_and_repaired_later(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    w = await vendor(client, "Other")
    m365 = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="MS-BP")
    backup = await service(client, "BACKUP", vendor_id=v["id"])  # no vendor_sku yet
    c = await customer(client)
    other = await customer(client, "Globex")
    await _map_vendor_account(client, c["id"], v["id"], "ACME-001")
    await _map_vendor_account(client, other["id"], w["id"], "GLOBEX")  # another vendor's name

    lines = [
        a_line("MS-BP", "ACME-001", unit_cost="20.00"),
        a_line("BK-GB", "ACME-001", unit_cost="5.00"),
        a_line("MS-BP", "GLOBEX", unit_cost="7.00"),
        a_line("BK-GB", "GLOBEX", unit_cost="3.00"),
    ]
    created = await create_invoice(client, invoice_body(v["id"], lines=lines))
    matched = [(x["service_id"], x["customer_id"]) for x in created["lines"]]
    assert matched == [(m365["id"], c["id"]), (None, c["id"]), (m365["id"], None), (None, None)]

    todo = (await client.get("/api/v1/unmapped", params={"period": "2026-10"})).json()
    assert todo["skus"] == [
        {
            "period": "2026-10",
            "vendor_id": v["id"],
            "vendor_sku": "BK-GB",
            "line_count": 2,
            "amount": "8.00",
        }
    ]
    # The line unmatched on both appears in both lists.
    assert todo["accounts"] == [
        {
            "period": "2026-10",
            "vendor_id": v["id"],
            "account_ref": "GLOBEX",
            "line_count": 2,
            "amount": "10.00",
        }
    ]

    # Mappings added later repair the old invoice without re-ingesting it.
    patched = await client.patch(f"/api/v1/services/{backup['id']}", json={"vendor_sku": "BK-GB"})
    assert patched.status_code == 200, patched.text
    await _map_vendor_account(client, other["id"], v["id"], "GLOBEX")
    again = (await client.get(f"{INVOICES}/{created['id']}")).json()
    matched = [(x["service_id"], x["customer_id"]) for x in again["lines"]]
    assert matched == [
        (m365["id"], c["id"]),
        (backup["id"], c["id"]),
        (m365["id"], other["id"]),
        (backup["id"], other["id"]),
    ]
    todo = (await client.get("/api/v1/unmapped", params={"period": "2026-10"})).json()
    assert todo == {"period": "2026-10", "skus": [], "accounts": [], "next_cursor": None}


async def test_unmapped_list(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    w = await vendor(client, "Other")
    await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="MAPPED")
    c = await customer(client)
    await _map_vendor_account(client, c["id"], v["id"], "KNOWN")
    october = [
        a_line("MAPPED", "KNOWN", unit_cost="1000.00"),  # matched on both: on neither list
        a_line("SMALL", "KNOWN", unit_cost="1.00"),
        a_line("BIG", "KNOWN", unit_cost="50.00"),
        a_line("BIG", "KNOWN", quantity="-1", unit_cost="10.00"),  # credits count too
        a_line("MAPPED", "NEW-ACC", unit_cost="30.00"),
    ]
    await create_invoice(client, invoice_body(v["id"], "A", lines=october))
    await create_invoice(
        client, invoice_body(v["id"], "B", lines=[a_line("SMALL", "NEW-ACC", unit_cost="2.00")])
    )
    # The same names at another vendor are other to-dos.
    await create_invoice(
        client, invoice_body(w["id"], "A", lines=[a_line("MAPPED", "KNOWN", unit_cost="5.00")])
    )
    # Another period is not listed.
    await create_invoice(
        client, invoice_body(v["id"], "C", period="2026-09", lines=[a_line("OLD", "OLD")])
    )
    # A rebate matches nothing on purpose: no to-do (nor an UNMAPPED_* finding).
    rebate = a_line("", "", kind="adjustment", quantity="1", unit_cost="-25.00")
    await create_invoice(
        client, invoice_body(v["id"], "R", period="2026-08", total="-25.00", lines=[rebate])
    )

    todo = (await client.get("/api/v1/unmapped", params={"period": "2026-10"})).json()
    assert todo["period"] == "2026-10"
    oct_ = {"period": "2026-10"}
    assert todo["skus"] == [
        {**oct_, "vendor_id": v["id"], "vendor_sku": "BIG", "line_count": 2, "amount": "40.00"},
        {**oct_, "vendor_id": w["id"], "vendor_sku": "MAPPED", "line_count": 1, "amount": "5.00"},
        {**oct_, "vendor_id": v["id"], "vendor_sku": "SMALL", "line_count": 2, "amount": "3.00"},
    ]
    assert todo["accounts"] == [
        {
            **oct_,
            "vendor_id": v["id"],
            "account_ref": "NEW-ACC",
            "line_count": 2,
            "amount": "32.00",
        },
        {**oct_, "vendor_id": w["id"], "account_ref": "KNOWN", "line_count": 1, "amount": "5.00"},
    ]
    assert todo["next_cursor"] is None
    only_v = (
        await client.get("/api/v1/unmapped", params={"period": "2026-10", "vendor_id": v["id"]})
    ).json()
    assert [s["vendor_sku"] for s in only_v["skus"]] == ["BIG", "SMALL"]
    assert [a["account_ref"] for a in only_v["accounts"]] == ["NEW-ACC"]
    september = (await client.get("/api/v1/unmapped", params={"period": "2026-09"})).json()
    assert [s["vendor_sku"] for s in september["skus"]] == ["OLD"]
    empty = (await client.get("/api/v1/unmapped", params={"period": "2025-01"})).json()
    assert empty == {"period": "2025-01", "skus": [], "accounts": [], "next_cursor": None}
    bad = await client.get("/api/v1/unmapped", params={"period": "October"})
    assert_problem(bad, 422, "query.period")

    # Without a period: every period, newest first, a page holding `limit` periods.
    everything = (await client.get("/api/v1/unmapped")).json()
    assert everything["period"] is None and everything["next_cursor"] is None
    assert [(s["period"], s["vendor_sku"]) for s in everything["skus"]] == [
        ("2026-10", "BIG"),
        ("2026-10", "MAPPED"),
        ("2026-10", "SMALL"),
        ("2026-09", "OLD"),
    ]
    assert [(a["period"], a["account_ref"]) for a in everything["accounts"]] == [
        ("2026-10", "NEW-ACC"),
        ("2026-10", "KNOWN"),
        ("2026-09", "OLD"),
    ]
    first = await client.get("/api/v1/unmapped", params={"limit": 1, "vendor_id": v["id"]})
    page = first.json()
    assert [(s["period"], s["vendor_sku"]) for s in page["skus"]] == [
        ("2026-10", "BIG"),
        ("2026-10", "SMALL"),
    ]
    assert [a["account_ref"] for a in page["accounts"]] == ["NEW-ACC"]
    assert page["next_cursor"] is not None
    nxt = f"http://testserver/api/v1/unmapped?limit=1&vendor_id={v['id']}&cursor={page['next_cursor']}"
    assert first.headers["link"] == f'<{nxt}>; rel="next"'
    last = (await client.get(nxt)).json()
    assert [(s["period"], s["vendor_sku"]) for s in last["skus"]] == [("2026-09", "OLD")]
    assert [a["account_ref"] for a in last["accounts"]] == ["OLD"]
    assert last["next_cursor"] is None
    # With a period the cursor still applies: nothing of 2026-10 comes after 2026-10.
    after = {"period": "2026-10", "cursor": page["next_cursor"]}
    assert (await client.get("/api/v1/unmapped", params=after)).json()["skus"] == []
    assert_problem(
        await client.get("/api/v1/unmapped", params={"cursor": "x"}), 422, "query.cursor"
    )


@contextmanager
def count_inserts(engine: AsyncEngine) -> Iterator[list[tuple[str, bool]]]:
    """Every INSERT the engine sends to the driver (an executemany is one call)."""
    seen: list[tuple[str, bool]] = []

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append((statement, executemany))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def test_lines_are_inserted_in_bulk(
    client: httpx.AsyncClient, app: Any, engine: AsyncEngine, backend: str
) -> None:
    v = await vendor(client)
    lines = [a_line(f"SKU-{i % 7}", f"ACC-{i % 13}") for i in range(1000)]
    with count_inserts(app.state.engine) as inserts:
        created = await create_invoice(client, invoice_body(v["id"], lines=lines))
    assert created["line_count"] == 1000
    line_inserts = [s for s, _ in inserts if "vendor_invoice_line" in s]
    if backend == "postgresql":
        assert line_inserts == []  # one COPY on the driver connection (app/core/bulk.py)
    else:
        assert 1 <= len(line_inserts) <= 5, inserts
    assert len(inserts) <= 10
    assert await counts(engine) == (1, 1000)


async def test_ten_thousand_lines(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    lines = []
    expected = Decimal(0)
    for i in range(10_000):
        quantity = Decimal(i % 50 + 1) / 4  # quarters: 0.25 .. 12.5
        if i % 10 == 0:
            quantity = -quantity  # some credits
        unit_cost = Decimal(1000 + i % 997) / 10_000  # 0.1 .. 0.1996, four places
        expected += (quantity * unit_cost).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        lines.append(
            a_line(
                f"SKU-{i % 11}", f"ACC-{i % 101}", quantity=str(quantity), unit_cost=str(unit_cost)
            )
        )
    started = time.perf_counter()
    response = await client.post(INVOICES, json=invoice_body(v["id"], lines=lines, total="1.00"))
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["line_count"] == 10_000
    assert len(created["lines"]) == 10_000
    assert Decimal(created["lines_total"]) == expected
    assert sum(Decimal(line["amount"]) for line in created["lines"]) == expected
    assert [line["line_no"] for line in created["lines"]] == list(range(1, 10_001))
    assert elapsed < 30, elapsed  # generous: a guard against one statement per line
    listed = (await client.get(INVOICES)).json()["items"]
    assert listed[0]["line_count"] == 10_000
    assert Decimal(listed[0]["lines_total"]) == expected
    assert await counts(engine) == (1, 10_000)


async def test_a_default_amount_too_large_to_store_is_422(client: httpx.AsyncClient) -> None:
    v = (await client.post("/api/v1/vendors", json={"name": "Huge"})).json()
    response = await client.post(
        "/api/v1/vendor-invoices",
        json={
            "vendor_id": v["id"],
            "invoice_number": "H-1",
            "invoice_date": "2026-10-31",
            "period": "2026-10",
            "total": "1.00",
            "lines": [
                {"vendor_sku": "S", "account_ref": "A", "quantity": "1", "unit_cost": "1"},
                {
                    "vendor_sku": "S",
                    "account_ref": "A",
                    "quantity": "999999999999",
                    "unit_cost": "999999999999",
                },
            ],
        },
    )
    assert_problem(response, 422, "body.lines.1.amount")
    assert (await client.get("/api/v1/vendor-invoices")).json()["items"] == []
