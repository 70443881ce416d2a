"""The billing dry run, `POST /billing-runs {"period", "dry_run": true}`, through HTTP on
both databases (docs/exports.md#dry-run): the drafts the run would make and each
customer's revenue, cost known so far, profit and margin; nothing stored, no event, the
same drafts as the real run. Every figure is worked out by hand in the comments.

The world of most tests (`build_world`), November 2026 (30 days). Vendor Pax8; services
M365 (Pax8, sku M365, 22.00 a seat) and HELP (in-house, 50.00 an hour, standard unit cost
49.9975):

- Acme: M365 x 9 from 2026-11-14, prorated: 9 x 22.00 x 17/30 = 3366/30 = 112.20
  (quantity 9 x 17/30 = 5.1 at 22.00). Pax8 billed 9 seats at 10.50 = 94.50. Profit
  17.70, margin 17.70 / 112.20 = 0.157754... -> 0.1578.
- Birch: HELP x 4, the whole month: 200.00; in-house cost 4 x 49.9975 = 199.99. Profit
  0.01, margin 0.01 / 200.00 = 0.00005 exactly -> 0.0001 (half-up; half-even would
  give 0.0000).
- Cedar: M365 x 3, the whole month: 66.00; Pax8 has not billed Cedar yet: cost 0.00,
  profit 66.00, margin 1.0000.
- Dune: no contract; Pax8 billed 1 seat at 15.00: revenue 0.00, cost 15.00, profit
  -15.00, margin null. In `customers` (cost, nothing billing it), with no draft.
- Elm: M365 x 1 (22.00) already billed by a posted invoice from the PSA; Pax8 billed
  18.00. Skipped by the run, so in neither list.
- A Pax8 line of an unknown sku (2.50) is unallocated: nobody's cost.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.money import margin
from app.core.periods import Period
from app.models import metadata
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.receiver import receiver
from tests.test_events import FAST, deliveries, subscribe, wait_for

API = "/api/v1"
RUNS = f"{API}/billing-runs"
NOV = "2026-11"


async def build_world(client: httpx.AsyncClient) -> dict[str, int]:
    pax8 = (await vendor(client, "Pax8"))["id"]
    m365 = await service(
        client, "M365", unit_price="22.00", unit_cost="18.00", vendor_id=pax8, vendor_sku="M365"
    )
    help_ = await service(client, "HELP", unit_price="50.00", unit_cost="49.9975", unit="hour")
    ids = {"pax8": pax8, "m365": m365["id"], "help": help_["id"]}
    for name in ("Acme", "Birch", "Cedar", "Dune", "Elm"):
        key = name.lower()
        ids[key] = (await customer(client, name))["id"]
        await create(
            client,
            f"customers/{ids[key]}/vendor-accounts",
            {"vendor_id": pax8, "account_ref": f"{name.upper()}-ACC"},
        )
    terms = {
        "acme": ("2026-11-14", ids["m365"], "9"),
        "birch": ("2026-11-01", ids["help"], "4"),
        "cedar": ("2026-11-01", ids["m365"], "3"),
        "elm": ("2026-11-01", ids["m365"], "1"),
    }
    for key, (start, service_id, quantity) in terms.items():
        ids[f"{key}_contract"] = (await contract(client, ids[key], start))["id"]
        ids[f"{key}_line"] = (await line(client, ids[f"{key}_contract"], service_id, quantity))[
            "id"
        ]
    await create(
        client,
        "customer-invoices",
        {
            "customer_id": ids["elm"],
            "number": "PSA-ELM-11",
            "period": NOV,
            "issue_date": "2026-11-01",
            "lines": [{"service_id": ids["m365"], "description": "M365", "quantity": "1",
                       "unit_price": "22.00"}],
        },
    )  # fmt: skip
    await pax8_bill(
        client,
        pax8,
        "P8-2026-11",
        [
            ("M365", "ACME-ACC", "9", "10.50", "94.50"),
            ("M365", "DUNE-ACC", "1", "15.00", "15.00"),
            ("M365", "ELM-ACC", "1", "18.00", "18.00"),
            ("UNKNOWN", "ACME-ACC", "1", "2.50", "2.50"),
        ],
    )
    return ids


async def pax8_bill(
    client: httpx.AsyncClient,
    vendor_id: int,
    number: str,
    lines: list[tuple[str, str, str, str, str]],
    period: str = NOV,
) -> None:
    """lines: (vendor_sku, account_ref, quantity, unit_cost, amount)."""
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": vendor_id,
            "invoice_number": number,
            "invoice_date": f"{period}-28",
            "period": period,
            "total": str(sum((Decimal(amount) for *_, amount in lines), Decimal(0))),
            "lines": [
                {"vendor_sku": sku, "account_ref": account, "quantity": quantity,
                 "unit_cost": unit_cost, "amount": amount}
                for sku, account, quantity, unit_cost, amount in lines
            ],
        },
    )  # fmt: skip


async def cancel_before_november(client: httpx.AsyncClient, contract_id: int) -> None:
    cancelled = await client.post(
        f"{API}/contracts/{contract_id}/cancel", json={"effective_date": "2026-10-31"}
    )
    assert cancelled.status_code == 200, cancelled.text


async def dry_run(client: httpx.AsyncClient, period: str = NOV, **headers: str) -> dict[str, Any]:
    response = await client.post(RUNS, json={"period": period, "dry_run": True}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def real_run(client: httpx.AsyncClient, period: str = NOV) -> dict[str, Any]:
    return await create(client, "billing-runs", {"period": period})


async def stored_drafts(client: httpx.AsyncClient, period: str = NOV) -> list[dict[str, Any]]:
    """The period's run drafts with their lines, in customer order."""
    listed = await client.get(
        f"{API}/customer-invoices", params={"period": period, "status": "draft", "limit": 100}
    )
    assert listed.status_code == 200, listed.text
    found = []
    for item in listed.json()["items"]:
        detail = await client.get(f"{API}/customer-invoices/{item['id']}")
        assert detail.status_code == 200, detail.text
        found.append(detail.json())
    return sorted(found, key=lambda invoice: invoice["customer_id"])


def figures(
    customer_id: int, name: str, revenue: str, cost: str, profit: str, ratio: str | None
) -> dict[str, Any]:
    """A customer's entry in `customers`."""
    return {
        "customer_id": customer_id,
        "customer_name": name,
        "revenue": revenue,
        "cost": cost,
        "profit": profit,
        "margin": ratio,
    }


# --- the answer ------------------------------------------------------------------------------


async def test_the_drafts_and_each_customers_figures(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    body = await dry_run(client)
    assert set(body) == {"period", "invoices", "customers"}
    assert body["period"] == NOV

    def draft(key: str, total: str, description: str, quantity: str, price: str) -> Any:
        service_id = ids["help"] if key == "birch" else ids["m365"]
        return {
            "id": None,  # a new invoice: nothing is stored, so no id
            "customer_id": ids[key],
            "number": f"BR202611-{ids[key]:06d}",
            "period": NOV,
            "issue_date": "2026-11-01",
            "status": "draft",
            "origin": "billing_run",
            "total": total,
            "lines": [
                {
                    "line_no": 1,
                    "service_id": service_id,
                    "contract_line_id": ids[f"{key}_line"],
                    "description": description,
                    "quantity": quantity,
                    "unit_price": price,
                    "amount": total,
                }
            ],
        }

    assert body["invoices"] == [
        # 9 x 17/30 = 5.1 seats x 22.00 = 112.20 (QuickBooks' Qty x UnitPrice, step 1).
        draft("acme", "112.20", "Service M365 (Managed services), 2026-11, 17 of 30 days",
              "5.1", "22.00"),
        draft("birch", "200.00", "Service HELP (Managed services), 2026-11", "4", "50.00"),
        draft("cedar", "66.00", "Service M365 (Managed services), 2026-11", "3", "22.00"),
    ]  # fmt: skip
    assert body["customers"] == [
        figures(ids["acme"], "Acme", "112.20", "94.50", "17.70", "0.1578"),
        figures(ids["birch"], "Birch", "200.00", "199.99", "0.01", "0.0001"),
        figures(ids["cedar"], "Cedar", "66.00", "0.00", "66.00", "1.0000"),
        figures(ids["dune"], "Dune", "0.00", "15.00", "-15.00", None),
    ]
    # The margins are the reports' helper's: 1770 / 11220 cents, 1 / 20000, 6600 / 6600.
    assert margin(11220, 1770) == Decimal("0.1578")
    assert margin(20000, 1) == Decimal("0.0001")
    assert margin(6600, 6600) == Decimal("1.0000")


async def test_cost_is_the_profitability_reports(client: httpx.AsyncClient) -> None:
    """Cost per customer is the profitability report's for the month (group_by=customer);
    revenue is what the drafts bill, which for a customer the run drafts is the report's
    contracted revenue. Elm (billed by the PSA) and the unallocated 2.50 stay out."""
    ids = await build_world(client)
    body = await dry_run(client)
    report = await client.get(
        f"{API}/reports/profitability", params={"from": NOV, "to": NOV, "group_by": "customer"}
    )
    assert report.status_code == 200, report.text
    rows = {row["customer_id"]: row for row in report.json()["rows"]}
    assert report.json()["unallocated_cost"] == "2.50"
    assert rows[ids["elm"]]["cost"] == "18.00"
    previewed = {c["customer_id"]: c for c in body["customers"]}
    assert set(previewed) == set(rows) - {ids["elm"]}
    for customer_id, row in previewed.items():
        assert row == {k: rows[customer_id][k] for k in row}, customer_id
    # The sum of the figures: 378.20 revenue (112.20 + 200.00 + 66.00), 309.49 cost
    # (94.50 + 199.99 + 0.00 + 15.00).
    assert sum(Decimal(c["revenue"]) for c in body["customers"]) == Decimal("378.20")
    assert sum(Decimal(c["cost"]) for c in body["customers"]) == Decimal("309.49")


async def test_cost_known_so_far_grows_as_bills_arrive(client: httpx.AsyncClient) -> None:
    ids = await build_world(client)
    before = {c["customer_id"]: c for c in (await dry_run(client))["customers"]}
    assert before[ids["cedar"]]["cost"] == "0.00"
    # Pax8's bill for Cedar arrives: 3 seats at 17.60 = 52.80. Profit 66.00 - 52.80 =
    # 13.20, margin 13.20 / 66.00 = 0.2 -> 0.2000. The drafts do not change.
    await pax8_bill(client, ids["pax8"], "P8-2026-11-B", [("M365", "CEDAR-ACC", "3", "17.60",
                                                            "52.80")])  # fmt: skip
    after = await dry_run(client)
    cedar = next(c for c in after["customers"] if c["customer_id"] == ids["cedar"])
    assert cedar == figures(ids["cedar"], "Cedar", "66.00", "52.80", "13.20", "0.2000")
    assert [i["total"] for i in after["invoices"]] == ["112.20", "200.00", "66.00"]


async def test_a_month_with_nothing_to_bill(client: httpx.AsyncClient) -> None:
    await build_world(client)
    # October: no contract has started, no bill: nothing at all.
    assert await dry_run(client, "2026-10") == {"period": "2026-10", "invoices": [],
                                                "customers": []}  # fmt: skip


# --- nothing stored --------------------------------------------------------------------------


async def _state(engine: AsyncEngine) -> dict[str, Any]:
    """Every table's rows (the API keys' only by count: a request sets last_used_at) and,
    on PostgreSQL, every sequence's position."""
    state: dict[str, Any] = {}
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == "api_key":
                rows: Any = await connection.execute(text('SELECT count(*) FROM "api_key"'))
                state[table.name] = rows.scalar_one()
                continue
            rows = await connection.execute(table.select())
            state[table.name] = sorted(tuple(map(repr, row)) for row in rows.all())
        if connection.dialect.name == "postgresql":
            rows = await connection.execute(
                text("SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename")
            )
            state["sequences"] = rows.all()
    return state


async def test_a_dry_run_stores_nothing(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    ids = await build_world(client)
    # A first real run leaves drafts, so the dry run also goes past drafts it would
    # regenerate and one it would delete: Cedar's contract is then cancelled before November.
    first = await real_run(client)
    assert (first["invoices_created"], first["customers_skipped"]) == (3, 1)
    await cancel_before_november(client, ids["cedar_contract"])
    before = await _state(engine)
    assert len(before["customer_invoice"]) == 4 and len(before["billing_run"]) == 1
    for period in (NOV, "2026-12"):
        await dry_run(client, period)
    assert await _state(engine) == before


async def test_a_dry_run_emits_no_event(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST)
    with receiver() as hook:
        sub = await subscribe(client, hook.url, "billing_run.completed")
        await build_world(client)
        await dry_run(client)
        assert await deliveries(client, sub["id"]) == []
        # The real run emits its one event: the subscription listens.
        run = await real_run(client)
        (delivery,) = await deliveries(client, sub["id"])
        assert delivery["event_type"] == "billing_run.completed"
        await wait_for(lambda: _one(hook.delivered))
    assert f'"id":{run["id"]}' in hook.delivered()[0].body.decode()


async def _one(delivered: Callable[[], list[Any]]) -> bool:
    return len(delivered()) == 1


async def test_an_idempotency_key_replays_the_first_dry_run(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """As for any POST (docs/idempotency.md): the key's record is all that is stored,
    and the same key and body replay the first answer, the preview of that moment."""
    ids = await build_world(client)
    before = await _state(engine)
    first = await client.post(
        RUNS, json={"period": NOV, "dry_run": True}, headers={"Idempotency-Key": "preview-1"}
    )
    assert first.status_code == 200, first.text
    after = await _state(engine)
    assert len(after.pop("idempotency_record")) == len(before.pop("idempotency_record")) + 1
    after.pop("sequences", None), before.pop("sequences", None)  # the record's id
    assert after == before
    await pax8_bill(client, ids["pax8"], "P8-LATE", [("M365", "CEDAR-ACC", "3", "1.00",
                                                      "3.00")])  # fmt: skip
    again = await client.post(
        RUNS, json={"period": NOV, "dry_run": True}, headers={"Idempotency-Key": "preview-1"}
    )
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # The real run under the same key is another body: refused, nothing run.
    refused = await client.post(
        RUNS, json={"period": NOV}, headers={"Idempotency-Key": "preview-1"}
    )
    assert_problem(refused, 422)
    fresh = await dry_run(client)
    cedar = next(c for c in fresh["customers"] if c["customer_id"] == ids["cedar"])
    assert cedar["cost"] == "3.00"


# --- the same drafts as the real run ---------------------------------------------------------


def _without_stored_fields(invoice: dict[str, Any]) -> dict[str, Any]:
    kept = {
        k: v
        for k, v in invoice.items()
        if k not in ("id", "billing_run_id", "created_at", "updated_at")
    }
    kept["lines"] = [{k: v for k, v in ln.items() if k != "id"} for ln in invoice["lines"]]
    return kept


async def test_the_real_run_makes_the_drafts_the_dry_run_showed(
    client: httpx.AsyncClient,
) -> None:
    ids = await build_world(client)
    preview = await dry_run(client)
    run = await real_run(client)
    stored = await stored_drafts(client)
    assert [_without_stored_fields(i) for i in stored] == [
        _without_stored_fields(i) for i in preview["invoices"]
    ]
    assert all(i["id"] is None for i in preview["invoices"])
    assert all(i["billing_run_id"] == run["id"] for i in stored)
    # The run's total is the drafts': 112.20 + 200.00 + 66.00 = 378.20.
    assert run["total"] == "378.20"

    # A second round: Acme goes to 10 seats from 2026-11-20 (its draft is regenerated and
    # keeps its id), Fir is new (a new draft), Cedar's contract is cancelled before
    # November (its draft is deleted: no invoice, no figures; no cost either).
    # Acme: 9 seats for 6 days (14th-19th), 10 for 11 (20th-30th), the month rounded once:
    # (9 x 6 + 10 x 11) / 30 = 164/30 = 5.4666... seats x 22.00 = 120.2666... -> 120.27;
    # quantity 5.4667 x 22.00 = 120.2674 -> 120.27 (step 1).
    await create(
        client,
        f"contracts/{ids['acme_contract']}/lines/{ids['acme_line']}/adjustments",
        {"quantity": "10", "effective_date": "2026-11-20"},
    )
    fir = (await customer(client, "Fir"))["id"]
    fir_contract = (await contract(client, fir, "2026-11-01"))["id"]
    await line(client, fir_contract, ids["help"], "1")
    await cancel_before_november(client, ids["cedar_contract"])
    old = {i["customer_id"]: i["id"] for i in stored}

    preview = await dry_run(client)
    assert [(i["customer_id"], i["id"], i["total"]) for i in preview["invoices"]] == [
        (ids["acme"], old[ids["acme"]], "120.27"),
        (ids["birch"], old[ids["birch"]], "200.00"),
        (fir, None, "50.00"),
    ]
    # Acme: 120.27 - 94.50 = 25.77, 25.77 / 120.27 = 0.214268... -> 0.2143. Fir: one
    # hour, 50.00 - 49.9975 = 0.0025 -> cost rounds to 50.00 once: profit 0.00, margin
    # 0.0000.
    by_customer = {c["customer_id"]: c for c in preview["customers"]}
    assert by_customer[ids["acme"]] == figures(
        ids["acme"], "Acme", "120.27", "94.50", "25.77", "0.2143"
    )
    assert by_customer[fir] == figures(fir, "Fir", "50.00", "50.00", "0.00", "0.0000")
    assert ids["cedar"] not in by_customer
    second = await real_run(client)
    assert (second["invoices_created"], second["invoices_regenerated"]) == (1, 2)
    stored = await stored_drafts(client)
    kept = [i for i in preview["invoices"] if i["id"] is not None]
    assert [_without_stored_fields(i) | {"id": i["id"]} for i in stored[:2]] == kept
    assert [_without_stored_fields(i) for i in stored] == [
        _without_stored_fields(i) for i in preview["invoices"]
    ]


# --- one snapshot ----------------------------------------------------------------------------


async def test_the_dry_run_reads_one_snapshot(app: Any, client: httpx.AsyncClient) -> None:
    """A bill committed between the dry run's reading of the contracts and of the cost is
    not seen: both are read in one snapshot (docs/consistency.md#snapshot)."""
    ids = await build_world(client)
    real_cost = app.state.customer_cost

    async def cost_after_a_bill_arrives(session: Any, *, period: Period) -> dict[int, int]:
        await pax8_bill(client, ids["pax8"], "P8-MID", [("M365", "CEDAR-ACC", "3", "10.00",
                                                         "30.00")])  # fmt: skip
        figures_: dict[int, int] = await real_cost(session, period=period)
        return figures_

    app.state.customer_cost = cost_after_a_bill_arrives
    try:
        during = await dry_run(client)
    finally:
        app.state.customer_cost = real_cost
    cedar = [c for c in during["customers"] if c["customer_id"] == ids["cedar"]]
    assert cedar[0]["cost"] == "0.00"
    after = await dry_run(client)
    cedar = [c for c in after["customers"] if c["customer_id"] == ids["cedar"]]
    # 30.00 once committed: 66.00 - 30.00 = 36.00, 36 / 66 = 0.5454... -> 0.5455.
    assert cedar[0] == figures(ids["cedar"], "Cedar", "66.00", "30.00", "36.00", "0.5455")


# --- refused as the real run is --------------------------------------------------------------


async def test_bad_input_is_refused_as_for_the_real_run(
    app: Any, client: httpx.AsyncClient
) -> None:
    for body, field in (
        ({"period": "2026-13", "dry_run": True}, "body.period"),
        ({"dry_run": True}, "body.period"),
        ({"period": NOV, "dry_run": [True]}, "body.dry_run"),
        ({"period": NOV, "dry_run": "maybe"}, "body.dry_run"),
        ({"period": NOV, "dry_run": None}, "body.dry_run"),
    ):
        assert_problem(await client.post(RUNS, json=body), 422, field)
    assert_problem(await client.post(RUNS, json={"period": NOV, "dry_run": True, "x": 1}), 422)
    # The write scope, as the run: a read key may not.
    made = await client.post(f"{API}/api-keys", json={"name": "reader", "scopes": ["read"]})
    assert made.status_code == 201, made.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {made.json()['key']}"},
    ) as reader:
        assert_problem(await reader.post(RUNS, json={"period": NOV, "dry_run": True}), 403)


async def test_amounts_over_the_limit_are_the_same_422(client: httpx.AsyncClient) -> None:
    """Two lines of 999,999,999,999.00 a month on one invoice: a total of
    1,999,999,999,998.00, past the per-value limit (README, "Limits"), in the dry run as
    in the run; nothing stored either way."""
    big = (await service(client, "BIG", unit_price="999999999999.00", unit_cost="0"))["id"]
    acme = (await customer(client, "Acme"))["id"]
    k = (await contract(client, acme, "2026-11-01"))["id"]
    await line(client, k, big, "1")
    await line(client, k, big, "1")
    dry = assert_problem(await client.post(RUNS, json={"period": NOV, "dry_run": True}), 422)
    real = assert_problem(await client.post(RUNS, json={"period": NOV}), 422)
    assert dry["detail"] == "The billing run for 2026-11 would exceed the limit on amounts."
    assert real["detail"] == dry["detail"]
    assert dry["errors"] == real["errors"]
    runs = await client.get(RUNS)
    assert runs.json()["items"] == []
