"""Deleting a record something still references is a 409 that names every holder, with
the guards read off the schema's foreign keys (app/core/crud.py), so none is forgotten:
a customer's invoices, a service's invoice lines, a vendor's audits."""

from __future__ import annotations

import httpx

from app.core.crud import referencing_columns
from app.core.db import metadata
from app.models import metadata as all_tables  # every table registered
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor

API = "/api/v1"


def test_every_foreign_key_guards_its_target() -> None:
    assert all_tables is metadata
    for table in metadata.sorted_tables:
        expected = {
            (fk.parent.table.name, fk.parent.name)
            for other in metadata.sorted_tables
            for fk in other.foreign_keys
            if fk.column.table is table
        }
        found = {(c.table.name, c.name) for c in referencing_columns(table)}  # type: ignore[attr-defined]
        assert found == expected, table.name
    customer_refs = {
        (c.table.name, c.name)  # type: ignore[attr-defined]
        for c in referencing_columns(metadata.tables["customer"])
    }
    assert {("customer_invoice", "customer_id"), ("contract", "customer_id")} <= customer_refs


async def test_holders_are_named_and_counted(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    s = await service(client, "AV", vendor_id=v["id"], vendor_sku="V-AV")
    c = await customer(client)
    await create(client, "customer-invoices", {
        "customer_id": c["id"], "number": "INV-1", "period": "2026-03",
        "issue_date": "2026-03-31",
        "lines": [{"service_id": s["id"], "description": "AV", "quantity": "2",
                   "unit_price": "5.00"},
                  {"service_id": s["id"], "description": "AV", "quantity": "1",
                   "unit_price": "5.00"}],
    })  # fmt: skip
    await create(client, "audits", {"period": "2026-03", "vendor_id": v["id"]})

    gone = assert_problem(await client.delete(f"{API}/customers/{c['id']}"), 409)
    assert gone["referenced_by"] == ["1 customer invoice"]
    assert gone["detail"].startswith(
        f"customer {c['id']} is still referenced by 1 customer invoice;"
    )

    gone = assert_problem(await client.delete(f"{API}/services/{s['id']}"), 409)
    assert gone["referenced_by"] == ["2 customer invoice lines"]

    gone = assert_problem(await client.delete(f"{API}/vendors/{v['id']}"), 409)
    assert set(gone["referenced_by"]) == {"1 service", "1 audit"}


async def test_a_billed_contract_line_is_kept(client: httpx.AsyncClient) -> None:
    s = await service(client, "AV")
    c = await customer(client)
    k = await contract(client, c["id"], "2026-03-01")
    ln = await line(client, k["id"], s["id"], "3")
    await create(client, "billing-runs", {"period": "2026-03"})
    gone = assert_problem(await client.delete(f"{API}/contracts/{k['id']}/lines/{ln['id']}"), 409)
    assert gone["referenced_by"] == ["1 customer invoice line"]
    # Nothing was deleted: the line is still there.
    assert (await client.get(f"{API}/contracts/{k['id']}")).status_code == 200
