"""Names next to ids in report rows and findings, in JSON and CSV, read set-based
(docs/reports.md#names, docs/findings.md#csv). The world is test_reports.py's
`build_world`: customers "Customer A".."Customer D", contracts C1..C4, services
"Service AV", "Service HELP" (in-house) and "Service BKP", vendor "Pax8"."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.audits.models import FindingRead
from tests.helpers import assert_problem, create, customer, service, vendor
from tests.test_reports import CSV, PROFIT, RANGE, TRENDS, build_world, report

API = "/api/v1"


def expected_names(ids: dict[str, int]) -> dict[str, dict[int | None, str | None]]:
    return {
        "customer_id": {ids[k]: f"Customer {k.upper()}" for k in "abcd"},
        "contract_id": {ids[f"c{n}"]: f"C{n}" for n in range(1, 5)} | {None: None},
        "service_id": {
            ids["s1"]: "Service AV",
            ids["s2"]: "Service HELP",
            ids["s3"]: "Service BKP",
        },
        "vendor_id": {ids["v"]: "Pax8", None: None},
    }


@contextmanager
def name_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that read a customer's, contract's, service's or vendor's name."""
    seen: list[str] = []

    def before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        for table in ("customer", "contract", "service", "vendor"):
            if f"{table}.name" in statement:
                seen.append(table)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


# --- reports ---------------------------------------------------------------------------------


async def test_profitability_rows_carry_names(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    ids = await build_world(client)
    names = expected_names(ids)
    for group_by in ("customer", "contract,service", "vendor,month", "service,customer"):
        with name_queries(engine) as queries:
            body = await report(client, PROFIT, group_by=group_by)
        keys = [k for k in group_by.split(",") if k != "month"]
        # One query per kind of name, however many rows.
        assert sorted(queries) == sorted(keys), (group_by, queries)
        assert body["rows"]
        for row in body["rows"]:
            for key in keys:
                # Every id with the name it has; a null id (cost without contracted units,
                # in-house work) with a null name.
                assert row[f"{key}_name"] == names[f"{key}_id"][row[f"{key}_id"]], row
    # By contract: the cost of S3 (A's backup, C's) with no contracted units sits on
    # contract_id null, named null.
    body = await report(client, PROFIT, group_by="contract")
    assert [(r["contract_id"], r["contract_name"]) for r in body["rows"]] == [
        (ids["c1"], "C1"),
        (ids["c2"], "C2"),
        (ids["c3"], "C3"),
        (None, None),
    ]


async def test_profitability_csv_carries_names(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    response = await client.get(PROFIT, params={**RANGE, "group_by": "vendor"}, headers=CSV)
    assert response.status_code == 200
    assert response.text.splitlines() == [
        "vendor_id,vendor_name,revenue,cost,profit,margin",
        # Pax8: revenue (S1) A 2 x 30.00 + B 10.32 + 20.00 = 90.32; cost January 10.00 +
        # 7.00 + 5.00, February 12.00 + 1.50 = 35.50; profit 54.82; margin 54.82 / 90.32
        # = 0.60695... -> 0.6070. In-house (S2, no vendor, no name): 2 x 100.00 revenue,
        # 2 x 60.00 cost, profit 80.00, margin 0.4000.
        f"{ids['v']},Pax8,90.32,35.50,54.82,0.6070",
        ",,200.00,120.00,80.00,0.4000",
    ]


async def test_trends_series_and_gaps_carry_names(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    ids = await build_world(client)
    with name_queries(engine) as queries:
        body = await report(client, TRENDS, metric="revenue", group_by="customer")
    # The series and the gaps share one query for customer names.
    assert queries == ["customer"]
    assert [(s["customer_id"], s["customer_name"]) for s in body["series"]] == [
        (ids["a"], "Customer A"),
        (ids["b"], "Customer B"),
        (ids["c"], "Customer C"),
    ]
    # D's contract starts 2026-02-10 and has no line: a gap in February.
    assert body["gaps"] == [
        {"customer_id": ids["d"], "customer_name": "Customer D", "month": "2026-02"}
    ]
    with name_queries(engine) as queries:
        body = await report(client, TRENDS, metric="cost", group_by="service")
    assert sorted(queries) == ["customer", "service"]
    assert [s["service_name"] for s in body["series"]] == [
        "Service AV",
        "Service HELP",
        "Service BKP",
    ]
    # One series for everything: no key, so no name either.
    body = await report(client, TRENDS, metric="revenue")
    assert set(body["series"][0]) == {"values", "changes"}


async def test_customer_audit_csv_names_the_customer_and_vendor(
    client: httpx.AsyncClient,
) -> None:
    ids = await build_world(client)
    params = {"customer_id": str(ids["a"]), "period": "2026-01"}
    body = (await client.get(f"{API}/reports/customer-audit", params=params)).json()
    assert [(r["service_name"], r["vendor_name"]) for r in body["rows"]] == [
        ("Service AV", "Pax8"),
        ("Service HELP", None),  # in-house
    ]
    response = await client.get(f"{API}/reports/customer-audit", params=params, headers=CSV)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert response.text.splitlines()[0].startswith(
        "customer_id,customer_name,service_id,service_name,sku,vendor_id,vendor_name,"
    )
    assert [(r["customer_name"], r["service_name"], r["vendor_name"]) for r in rows] == [
        ("Customer A", "Service AV", "Pax8"),
        ("Customer A", "Service HELP", ""),
    ]


# --- findings --------------------------------------------------------------------------------


async def formula_world(client: httpx.AsyncClient) -> dict[str, int]:
    """Names a spreadsheet would run as formulas. January 2026: Pax8 charges "=Evil Corp"
    2 x 5.00 of "@Backup", which it was never sold (ORPHANED_COST 10.00), and bills Acme
    a SKU "-X" that matches no service (UNMAPPED_SKU 3.00)."""
    v = (await vendor(client, "Pax8"))["id"]
    backup = (
        await service(
            client,
            "BK",
            name="@Backup",
            unit_price="8.00",
            unit_cost="5.00",
            vendor_id=v,
            vendor_sku="BK",
        )
    )["id"]
    evil = (await customer(client, "=Evil Corp"))["id"]
    acme = (await customer(client, "Acme Ltd"))["id"]
    for customer_id, ref in ((evil, "EVIL"), (acme, "ACME")):
        await create(
            client,
            f"customers/{customer_id}/vendor-accounts",
            {"vendor_id": v, "account_ref": ref},
        )
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": v,
            "invoice_number": "P-1",
            "invoice_date": "2026-01-31",
            "period": "2026-01",
            "total": "13.00",
            "lines": [
                {"vendor_sku": "BK", "account_ref": "EVIL", "quantity": "2", "unit_cost": "5.00"},
                {"vendor_sku": "-X", "account_ref": "ACME", "quantity": "1", "unit_cost": "3.00"},
            ],
        },
    )
    audit = await create(client, "audits", {"period": "2026-01"})
    return {"v": v, "backup": backup, "evil": evil, "acme": acme, "audit": audit["id"]}


async def test_findings_carry_names(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    ids = await formula_world(client)
    with name_queries(engine) as queries:
        listed = (await client.get(f"{API}/audits/{ids['audit']}/findings")).json()
    # The names come in the findings' own statement (joined), not one query per finding.
    assert len(queries) == 3 and len(set(queries)) == 3
    got = [
        (f["type"], f["impact"], f["customer_name"], f["service_name"], f["vendor_name"])
        for f in listed["items"]
    ]
    assert got == [
        ("ORPHANED_COST", "10.00", "=Evil Corp", "@Backup", "Pax8"),
        # The unmapped SKU's account is Acme's; it matches no service: no service name.
        ("UNMAPPED_SKU", "3.00", "Acme Ltd", None, "Pax8"),
    ]
    finding_id = listed["items"][0]["id"]
    one = (await client.get(f"{API}/findings/{finding_id}")).json()
    assert (one["customer_name"], one["service_name"], one["vendor_name"]) == (
        "=Evil Corp",
        "@Backup",
        "Pax8",
    )
    changed = await client.patch(f"{API}/findings/{finding_id}", json={"status": "acknowledged"})
    assert changed.status_code == 200
    assert changed.json()["customer_name"] == "=Evil Corp"
    # A rename shows at once: the name is the record's, not the audit's.
    await client.patch(f"{API}/customers/{ids['evil']}", json={"name": "Evil Corp"})
    again = (await client.get(f"{API}/findings/{finding_id}")).json()
    assert again["customer_name"] == "Evil Corp"


async def test_findings_csv_every_finding_unpaged_and_neutralised(
    client: httpx.AsyncClient,
) -> None:
    ids = await formula_world(client)
    path = f"{API}/audits/{ids['audit']}/findings"
    json_items = (await client.get(path)).json()["items"]
    # limit and cursor do not apply: every finding of the audit.
    response = await client.get(path, params={"limit": 1}, headers=CSV)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        response.headers["content-disposition"]
        == f'attachment; filename="audit-{ids["audit"]}-findings.csv"'
    )
    assert "link" not in response.headers
    lines = response.text.split("\r\n")
    columns = list(FindingRead.model_fields)
    assert lines[0] == ",".join(columns)
    assert lines[0].startswith(
        "id,audit_id,type,severity,status,customer_id,customer_name,service_id,service_name,"
        "vendor_id,vendor_name,"
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(json_items) == 2
    orphan, unmapped = rows
    # Formula-looking text gets a leading apostrophe; numbers stay numbers.
    assert (orphan["customer_name"], orphan["service_name"], orphan["vendor_name"]) == (
        "'=Evil Corp",
        "'@Backup",
        "Pax8",
    )
    assert (orphan["type"], orphan["impact"], orphan["actual_quantity"]) == (
        "ORPHANED_COST",
        "10.00",
        "2",
    )
    assert unmapped["vendor_sku"] == "'-X" and unmapped["service_name"] == ""
    # Every other cell as the JSON list has it (nulls empty).
    for row, item in zip(rows, json_items, strict=True):
        for name in columns:
            value = item[name]
            text = "" if value is None else str(value)
            if text[:1] in ("=", "@") or (text[:1] == "-" and name == "vendor_sku"):
                text = "'" + text
            assert row[name] == text, name
    # The list's filters apply.
    only = await client.get(path, params={"type": "UNMAPPED_SKU"}, headers=CSV)
    assert [r["type"] for r in csv.DictReader(io.StringIO(only.text))] == ["UNMAPPED_SKU"]
    # An unknown audit is still a problem, whatever the Accept.
    assert_problem(await client.get(f"{API}/audits/999999/findings", headers=CSV), 404)
