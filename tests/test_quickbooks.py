"""Customer invoices for accounting through HTTP, on both databases (docs/exports.md):
QuickBooks Online JSON (exact JSON numbers, every line keeping Amount == round(Qty x
UnitPrice, 2), QuickBooks error 6070 otherwise), the period export with its Items, and
QuickBooks Desktop IIF parsed back and balanced. Every number is worked out by hand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from tests.helpers import assert_problem, contract, create, customer, line, service

API = "/api/v1"
NOV = "2026-11"  # 30 days
DEC = "2026-12"  # 31 days
CENT = Decimal("0.01")


def qb_rule(qb_line: dict[str, Any]) -> bool:
    """QuickBooks' check, in exact Decimal arithmetic: Amount == round(Qty x UnitPrice, 2)."""
    detail = qb_line["SalesItemLineDetail"]
    product = Decimal(detail["Qty"]) * Decimal(detail["UnitPrice"])
    return product.quantize(CENT, rounding=ROUND_HALF_UP) == Decimal(qb_line["Amount"])


def is_number(value: Any) -> bool:
    """A JSON number (read as Decimal or int by parse_float=Decimal), not a string."""
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def parse_qb(response: httpx.Response) -> Any:
    """The raw text read with exact numbers; every money field must be a JSON number."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = json.loads(response.text, parse_float=Decimal)
    invoices = document["Invoice"] if "Invoice" in document else [document]
    for invoice in invoices:
        assert is_number(invoice["TotalAmt"]), invoice
        assert len(invoice["DocNumber"]) <= 21
        for qb_line in invoice["Line"]:
            detail = qb_line["SalesItemLineDetail"]
            assert qb_line["DetailType"] == "SalesItemLineDetail"
            assert is_number(qb_line["Amount"]), qb_line
            assert is_number(detail["Qty"]) and is_number(detail["UnitPrice"]), qb_line
            assert qb_rule(qb_line), qb_line
        assert sum((Decimal(ln["Amount"]) for ln in invoice["Line"]), Decimal(0)) == Decimal(
            invoice["TotalAmt"]
        )
    return document


def brief(invoice: dict[str, Any]) -> list[tuple[str | None, Decimal, Decimal, Decimal]]:
    """(ItemRef value, Qty, UnitPrice, Amount) of each line, as exact Decimals."""
    result = []
    for qb_line in invoice["Line"]:
        detail = qb_line["SalesItemLineDetail"]
        item = detail.get("ItemRef")
        result.append(
            (
                item["value"] if item else None,
                Decimal(detail["Qty"]),
                Decimal(detail["UnitPrice"]),
                Decimal(qb_line["Amount"]),
            )
        )
    return result


def D(text: str) -> Decimal:  # noqa: N802 - short for the tables below
    return Decimal(text)


@dataclass
class World:
    acme: int
    beta: int
    av: int
    backup: int
    m365: int
    dns: int
    projects: int
    old: int
    acme_nov: dict[str, Any]  # the billing run's drafts
    acme_dec: dict[str, Any]
    beta_dec: dict[str, Any]
    beta_recorded: dict[str, Any]  # recorded from the PSA, November
    acme_void: dict[str, Any]


async def world(client: httpx.AsyncClient) -> World:
    av = await service(
        client,
        "AV-EDR",
        name="Antivirus EDR",
        unit_price="27.50",
        revenue_account="4100 Managed Services",
    )
    backup = await service(
        client,
        "BK-GB",
        name="Backup per GB",
        unit="GB",
        unit_price="0.0875",
        unit_cost="0.05",
        revenue_account="4200 Backup",
    )
    # No revenue account: its Item goes to "Sales".
    m365 = await service(
        client, "M365-BP", name="Microsoft 365 Business Premium", unit_price="33.3333"
    )
    dns = await service(
        client,
        "DNS-Q",
        name="DNS filtering queries",
        unit="query",
        unit_price="0.0001",
        unit_cost="0",
        revenue_account="4300 Usage",
    )
    projects = await service(
        client,
        "PRO-HR",
        name="Project work",
        unit="hour",
        unit_price="999.99",
        unit_cost="0",
        revenue_account="4400 Projects",
    )
    old = await service(client, "OLD", name="Retired service", revenue_account="4900 Retired")

    acme = (await customer(client, "Acme Ltd", external_ref="QB-ACME-1"))["id"]
    acme_k = (await contract(client, acme, "2026-01-01", name="Acme MSA"))["id"]
    # November (30 days):
    # 9 x 27.50 from the 14th, 17 of 30 days: 9 x 17/30 = 5.1, 5.1 x 27.50 = 140.25.
    await line(client, acme_k, av["id"], "9", start_date="2026-11-14")
    # 987.3 GB x 0.0875, full month: 86.38875 -> 86.39.
    await line(client, acme_k, backup["id"], "987.3")
    # 987.3 GB x 0.0875 from the 14th: 987.3 x 17/30 = 559.47, x 0.0875 = 48.953625 -> 48.95.
    await line(client, acme_k, backup["id"], "987.3", start_date="2026-11-14")
    # 1 x 0.0001 = 0.0001 -> 0.00: no revenue, no invoice line.
    await line(client, acme_k, dns["id"], "1")
    # Acme, November: 140.25 + 86.39 + 48.95 = 275.59.
    # December (31 days), all full: 9 x 27.50 = 247.50, 86.39, 86.39; total 420.28.

    beta = (await customer(client, "Beta GmbH"))["id"]
    beta_k = (await contract(client, beta, "2026-12-21", name="Beta"))["id"]
    # From 2026-12-21, 11 of 31 days: 7 x 33.3333 x 11/31 = 2566.6641/31 = 82.795616... -> 82.80;
    # Qty 77/31 = 2.483870... -> 2.4839 keeps the price: 2.4839 x 33.3333 = 82.79658... -> 82.80.
    await line(client, beta_k, m365["id"], "7")
    # 1 x 999.99 on the 31st only: 999.99/31 = 32.257741... -> 32.26. Qty 1/31 -> 0.0323 at
    # 999.99 gives 32.299677 -> 32.30 (6070!), so the price becomes 32.26/0.0323 =
    # 998.761609... -> 998.7616: 0.0323 x 998.7616 = 32.25999968 -> 32.26.
    await line(client, beta_k, projects["id"], "1", start_date="2026-12-31")
    # Beta, December: 82.80 + 32.26 = 115.06.

    beta_recorded = await create(
        client,
        "customer-invoices",
        {
            "customer_id": beta,
            "number": "PSA-B-2026-11",
            "period": NOV,
            "issue_date": "2026-11-30",
            "status": "posted",
            "lines": [
                # 1 x 0.0001 -> 0.00
                {
                    "service_id": dns["id"],
                    "description": "DNS queries",
                    "quantity": "1",
                    "unit_price": "0.0001",
                },
                # Given 86.00 where 987.3 x 0.0875 = 86.39: no 4-place price at Qty 987.3 makes
                # 86.00 (0.0871 -> 85.99, 0.0872 -> 86.09), so Qty 1 x 86.
                {
                    "service_id": backup["id"],
                    "description": "Backup, agreed flat",
                    "quantity": "987.3",
                    "unit_price": "0.0875",
                    "amount": "86.00",
                },
                # Given 29.99 where 3 x 10.00 = 30.00: 29.99/3 = 9.99666... -> 9.9967,
                # 3 x 9.9967 = 29.9901 -> 29.99.
                {
                    "service_id": av["id"],
                    "description": "Antivirus, discounted",
                    "quantity": "3",
                    "unit_price": "10.00",
                    "amount": "29.99",
                },
                # No service; a description with a tab and line breaks: 2 x 60.00 = 120.00.
                {
                    "description": "Onsite visit\tafter hours\r\nfollow-up\nnext day",
                    "quantity": "2",
                    "unit_price": "60.00",
                },
                # 2 x 33.3333 = 66.6666 -> 66.67
                {
                    "service_id": m365["id"],
                    "description": "Microsoft 365",
                    "quantity": "2",
                    "unit_price": "33.3333",
                },
            ],
        },
    )
    # 0.00 + 86.00 + 29.99 + 120.00 + 66.67 = 302.66
    assert beta_recorded["total"] == "302.66"
    # A voided invoice of the period is not exported (nor its service's Item).
    acme_void = await create(
        client,
        "customer-invoices",
        {
            "customer_id": acme,
            "number": "PSA-A-VOID",
            "period": NOV,
            "issue_date": "2026-11-15",
            "status": "void",
            "lines": [
                {
                    "service_id": old["id"],
                    "description": "x",
                    "quantity": "1",
                    "unit_price": "5",
                }
            ],
        },
    )

    for period in (NOV, DEC):
        assert (
            await client.post(f"{API}/billing-runs", json={"period": period})
        ).status_code == 201

    async def draft(customer_id: int, period: str) -> dict[str, Any]:
        found = await client.get(
            f"{API}/customer-invoices",
            params={"customer_id": customer_id, "period": period, "status": "draft"},
        )
        (item,) = found.json()["items"]
        return item  # type: ignore[no-any-return]

    return World(
        acme=acme,
        beta=beta,
        av=av["id"],
        backup=backup["id"],
        m365=m365["id"],
        dns=dns["id"],
        projects=projects["id"],
        old=old["id"],
        acme_nov=await draft(acme, NOV),
        acme_dec=await draft(acme, DEC),
        beta_dec=await draft(beta, DEC),
        beta_recorded=beta_recorded,
        acme_void=acme_void,
    )


async def qb_invoice(client: httpx.AsyncClient, invoice_id: int) -> Any:
    return parse_qb(await client.get(f"{API}/customer-invoices/{invoice_id}/quickbooks"))


# --- one invoice -----------------------------------------------------------------------------


async def test_invoice_as_quickbooks_json(client: httpx.AsyncClient) -> None:
    w = await world(client)

    acme = await qb_invoice(client, w.acme_nov["id"])
    assert acme["DocNumber"] == w.acme_nov["number"]
    assert acme["TxnDate"] == "2026-11-01"
    assert acme["CustomerRef"] == {"value": "QB-ACME-1", "name": "Acme Ltd"}
    assert acme["TotalAmt"] == D("275.59")
    assert brief(acme) == [
        ("AV-EDR", D("5.1"), D("27.50"), D("140.25")),
        ("BK-GB", D("987.3"), D("0.0875"), D("86.39")),
        ("BK-GB", D("559.47"), D("0.0875"), D("48.95")),
    ]
    assert [ln["LineNum"] for ln in acme["Line"]] == [1, 2, 3]
    assert acme["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {
        "value": "AV-EDR",
        "name": "Antivirus EDR",
    }
    assert "17 of 30 days" in acme["Line"][0]["Description"]
    # Numbers in the raw text, not strings.
    raw = (await client.get(f"{API}/customer-invoices/{w.acme_nov['id']}/quickbooks")).text
    assert '"Amount":140.25' in raw.replace(" ", "")
    assert '"TotalAmt":275.59' in raw.replace(" ", "")
    assert '"140.25"' not in raw

    dec = await qb_invoice(client, w.acme_dec["id"])
    # December in full: 9 x 27.50 = 247.50; 987.3 x 0.0875 = 86.39 twice; 420.28 in all.
    assert brief(dec) == [
        ("AV-EDR", D("9"), D("27.50"), D("247.50")),
        ("BK-GB", D("987.3"), D("0.0875"), D("86.39")),
        ("BK-GB", D("987.3"), D("0.0875"), D("86.39")),
    ]
    assert dec["TotalAmt"] == D("420.28")

    beta_dec = await qb_invoice(client, w.beta_dec["id"])
    # Beta has no external_ref: CustomerRef is its id.
    assert beta_dec["CustomerRef"] == {"value": str(w.beta), "name": "Beta GmbH"}
    assert brief(beta_dec) == [
        ("M365-BP", D("2.4839"), D("33.3333"), D("82.80")),
        ("PRO-HR", D("0.0323"), D("998.7616"), D("32.26")),
    ]
    assert beta_dec["TotalAmt"] == D("115.06")

    recorded = await qb_invoice(client, w.beta_recorded["id"])
    assert recorded["DocNumber"] == "PSA-B-2026-11"
    assert recorded["TxnDate"] == "2026-11-30"
    # Amounts stay as recorded; Qty and UnitPrice are chosen so that QuickBooks accepts them.
    assert brief(recorded) == [
        ("DNS-Q", D("1"), D("0.0001"), D("0.00")),
        ("BK-GB", D("1"), D("86"), D("86.00")),
        ("AV-EDR", D("3"), D("9.9967"), D("29.99")),
        (None, D("2"), D("60"), D("120.00")),
        ("M365-BP", D("2"), D("33.3333"), D("66.67")),
    ]
    assert recorded["TotalAmt"] == D("302.66")
    # JSON carries the description as it is (JSON escapes tabs and line breaks).
    assert recorded["Line"][3]["Description"] == "Onsite visit\tafter hours\r\nfollow-up\nnext day"

    # A void invoice still renders on its own (it is only left out of the period's export).
    assert brief(await qb_invoice(client, w.acme_void["id"])) == [
        ("OLD", D("1"), D("5"), D("5.00"))
    ]

    assert_problem(await client.get(f"{API}/customer-invoices/999999/quickbooks"), 404)


# --- the period export -----------------------------------------------------------------------


async def test_period_export_with_items(client: httpx.AsyncClient) -> None:
    w = await world(client)
    response = await client.get(f"{API}/exports/quickbooks", params={"period": NOV})
    nov = parse_qb(response)
    assert nov["period"] == NOV
    # Every invoice of the period but the void one, each as GET .../quickbooks renders it.
    assert sorted(i["DocNumber"] for i in nov["Invoice"]) == sorted(
        [w.acme_nov["number"], "PSA-B-2026-11"]
    )
    for invoice in (w.acme_nov, w.beta_recorded):
        (exported,) = [i for i in nov["Invoice"] if i["DocNumber"] == invoice["number"]]
        assert exported == await qb_invoice(client, invoice["id"])
    # 275.59 + 302.66 = 578.25
    assert sum(Decimal(i["TotalAmt"]) for i in nov["Invoice"]) == D("578.25")
    # One Item per service used (not the void invoice's), its income account, else "Sales".
    assert nov["Item"] == [
        {
            "Name": "Antivirus EDR",
            "Sku": "AV-EDR",
            "Type": "Service",
            "UnitPrice": D("27.5"),
            "IncomeAccountRef": {"value": "4100 Managed Services"},
        },
        {
            "Name": "Backup per GB",
            "Sku": "BK-GB",
            "Type": "Service",
            "UnitPrice": D("0.0875"),
            "IncomeAccountRef": {"value": "4200 Backup"},
        },
        {
            "Name": "Microsoft 365 Business Premium",
            "Sku": "M365-BP",
            "Type": "Service",
            "UnitPrice": D("33.3333"),
            "IncomeAccountRef": {"value": "Sales"},
        },
        {
            "Name": "DNS filtering queries",
            "Sku": "DNS-Q",
            "Type": "Service",
            "UnitPrice": D("0.0001"),
            "IncomeAccountRef": {"value": "4300 Usage"},
        },
    ]
    # Every ItemRef names an exported Item.
    skus = {item["Sku"] for item in nov["Item"]}
    refs = {
        ln["SalesItemLineDetail"]["ItemRef"]["value"]
        for i in nov["Invoice"]
        for ln in i["Line"]
        if "ItemRef" in ln["SalesItemLineDetail"]
    }
    assert refs == skus

    dec = parse_qb(await client.get(f"{API}/exports/quickbooks", params={"period": DEC}))
    assert sorted(i["DocNumber"] for i in dec["Invoice"]) == sorted(
        [w.acme_dec["number"], w.beta_dec["number"]]
    )
    assert [item["Sku"] for item in dec["Item"]] == ["AV-EDR", "BK-GB", "M365-BP", "PRO-HR"]
    assert dec["Item"][3]["IncomeAccountRef"] == {"value": "4400 Projects"}
    assert dec["Item"][3]["UnitPrice"] == D("999.99")

    empty = parse_qb(await client.get(f"{API}/exports/quickbooks", params={"period": "2027-01"}))
    assert empty == {"period": "2027-01", "Invoice": [], "Item": []}

    for path in ("exports/quickbooks", "exports/quickbooks.iif"):
        for bad in ("2026-13", "2026-1", "november", ""):
            assert_problem(await client.get(f"{API}/{path}", params={"period": bad}), 422)
        assert_problem(await client.get(f"{API}/{path}"), 422)


# --- IIF -------------------------------------------------------------------------------------


@dataclass
class Transaction:
    trns: dict[str, str]
    spl: list[dict[str, str]]


def parse_iif(text: str) -> list[Transaction]:
    """Tab-separated rows: the !TRNS, !SPL and !ENDTRNS headers, then per invoice one TRNS,
    its SPLs and an ENDTRNS. Every data row has exactly its header's columns."""
    assert text.endswith("\r\n")
    rows = [row.split("\t") for row in text[: -len("\r\n")].split("\r\n")]
    headers = {row[0].lstrip("!"): row[1:] for row in rows[:3]}
    assert [row[0] for row in rows[:3]] == ["!TRNS", "!SPL", "!ENDTRNS"]
    transactions: list[Transaction] = []
    current: Transaction | None = None
    for row in rows[3:]:
        kind, values = row[0], row[1:]
        if kind == "ENDTRNS":
            assert current is not None and values == []
            transactions.append(current)
            current = None
            continue
        assert len(values) == len(headers[kind]), row
        record = dict(zip(headers[kind], values, strict=True))
        if kind == "TRNS":
            assert current is None
            current = Transaction(record, [])
        else:
            assert kind == "SPL" and current is not None, row
            current.spl.append(record)
    assert current is None
    return transactions


async def iif(client: httpx.AsyncClient, period: str) -> list[Transaction]:
    response = await client.get(f"{API}/exports/quickbooks.iif", params={"period": period})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert f"invoices-{period}.iif" in response.headers["content-disposition"]
    transactions = parse_iif(response.text)
    for t in transactions:
        assert t.trns["TRNSTYPE"] == "INVOICE" and t.trns["ACCNT"] == "Accounts Receivable"
        assert all(s["TRNSTYPE"] == "INVOICE" for s in t.spl)
        assert all(s["DOCNUM"] == t.trns["DOCNUM"] and s["DATE"] == t.trns["DATE"] for s in t.spl)
        # Balanced, exactly: the TRNS amount is minus the sum of its SPL amounts.
        assert Decimal(t.trns["AMOUNT"]) == -sum(Decimal(s["AMOUNT"]) for s in t.spl), t
        # Each SPL keeps QuickBooks' rule: round(QNTY x PRICE, 2) == AMOUNT (both negative).
        for s in t.spl:
            product = Decimal(s["QNTY"]) * Decimal(s["PRICE"])
            assert product.quantize(CENT, rounding=ROUND_HALF_UP) == Decimal(s["AMOUNT"]), s
    return transactions


def spl_brief(t: Transaction) -> list[tuple[str, str, str, str, str]]:
    return [(s["ACCNT"], s["AMOUNT"], s["QNTY"], s["PRICE"], s["INVITEM"]) for s in t.spl]


async def test_iif_export_parses_back_and_balances(client: httpx.AsyncClient) -> None:
    w = await world(client)
    nov = {t.trns["DOCNUM"]: t for t in await iif(client, NOV)}
    assert sorted(nov) == sorted([w.acme_nov["number"], "PSA-B-2026-11"])  # not the void one

    acme = nov[w.acme_nov["number"]]
    assert acme.trns["DATE"] == "11/01/2026"
    assert acme.trns["NAME"] == "Acme Ltd"
    assert acme.trns["AMOUNT"] == "275.59"
    # -140.25 - 86.39 - 48.95 = -275.59
    assert spl_brief(acme) == [
        ("4100 Managed Services", "-140.25", "-5.1", "27.5", "AV-EDR"),
        ("4200 Backup", "-86.39", "-987.3", "0.0875", "BK-GB"),
        ("4200 Backup", "-48.95", "-559.47", "0.0875", "BK-GB"),
    ]

    beta = nov["PSA-B-2026-11"]
    assert beta.trns["DATE"] == "11/30/2026"
    assert beta.trns["NAME"] == "Beta GmbH"
    assert beta.trns["AMOUNT"] == "302.66"
    assert [s["AMOUNT"] for s in beta.spl] == ["0.00", "-86.00", "-29.99", "-120.00", "-66.67"]
    assert [s["ACCNT"] for s in beta.spl] == [
        "4300 Usage",
        "4200 Backup",
        "4100 Managed Services",
        "Sales",  # no service: the default income account
        "Sales",  # a service without a revenue account
    ]
    # The tab and line breaks of the description are flattened to spaces.
    assert beta.spl[3]["MEMO"] == "Onsite visit after hours follow-up next day"
    assert beta.spl[3]["INVITEM"] == ""

    dec = {t.trns["DOCNUM"]: t for t in await iif(client, DEC)}
    assert dec[w.acme_dec["number"]].trns["AMOUNT"] == "420.28"
    assert dec[w.acme_dec["number"]].trns["DATE"] == "12/01/2026"
    beta_dec = dec[w.beta_dec["number"]]
    assert beta_dec.trns["AMOUNT"] == "115.06"
    assert spl_brief(beta_dec) == [
        ("Sales", "-82.80", "-2.4839", "33.3333", "M365-BP"),
        ("4400 Projects", "-32.26", "-0.0323", "998.7616", "PRO-HR"),
    ]

    assert await iif(client, "2027-01") == []


async def test_iif_flattens_names_and_numbers(client: httpx.AsyncClient) -> None:
    """Free text that reaches an IIF cell cannot break its rows and columns."""
    odd = (await customer(client, "Odd\tName Ltd"))["id"]
    svc = await service(client, "ODD", revenue_account="4100\tManaged\nServices")
    created = await client.post(
        f"{API}/customer-invoices",
        json={
            "customer_id": odd,
            "number": "INV-7",
            "period": NOV,
            "issue_date": "2026-11-05",
            "lines": [
                {
                    "service_id": svc["id"],
                    "description": "line\none",
                    "quantity": "1",
                    "unit_price": "10",
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    (t,) = await iif(client, NOV)
    assert t.trns["NAME"] == "Odd Name Ltd"
    assert t.spl[0]["ACCNT"] == "4100 Managed Services"
    assert t.spl[0]["MEMO"] == "line one"
    # Numbers cannot hold tabs or line breaks at all (a 422 when recorded, test_billing).
    assert t.trns["DOCNUM"] == t.spl[0]["DOCNUM"] == "INV-7"
    assert t.trns["AMOUNT"] == "10.00" and t.spl[0]["AMOUNT"] == "-10.00"


async def test_iif_is_windows_1252(client: httpx.AsyncClient) -> None:
    """QuickBooks Desktop reads IIF as Windows-1252: "Söhne" arrives as one byte 0xF6,
    and a character the code page lacks becomes "?" rather than garbling the row."""
    c = (await customer(client, "Müller & Söhne GmbH ✓"))["id"]
    s = await service(client, "EUR")
    created = await client.post(
        f"{API}/customer-invoices",
        json={
            "customer_id": c,
            "number": "INV-1252",
            "period": NOV,
            "issue_date": "2026-11-05",
            "lines": [
                {"service_id": s["id"], "description": "Café", "quantity": "1", "unit_price": "10"}
            ],
        },
    )
    assert created.status_code == 201, created.text
    response = await client.get(f"{API}/exports/quickbooks.iif", params={"period": NOV})
    assert response.headers["content-type"] == "text/plain; charset=windows-1252"
    assert "Müller & Söhne GmbH ?".encode("cp1252") in response.content
    assert "Café".encode("cp1252") in response.content
    (t,) = await iif(client, NOV)
    assert t.trns["NAME"] == "Müller & Söhne GmbH ?"
