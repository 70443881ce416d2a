"""Quote previews priced on real costs, through HTTP on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.quotes import service as quotes
from tests.helpers import assert_problem, create, customer, service, vendor

PREVIEW = "/api/v1/quotes/preview"


async def _invoice(
    client: httpx.AsyncClient, vendor_id: int, number: str, period: str, lines: list[dict[str, Any]]
) -> None:
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": vendor_id,
            "invoice_number": number,
            "invoice_date": f"{period}-28",
            "period": period,
            "total": "0.00",
            "lines": lines,
        },
    )


async def test_costs_come_from_the_latest_month_else_the_standard(
    client: httpx.AsyncClient,
) -> None:
    v = await vendor(client)
    m365 = await service(
        client, "M365", unit_price="22.00", unit_cost="18.00", vendor_id=v["id"], vendor_sku="CFQ"
    )
    edr = await service(
        client, "EDR", unit_price="6.00", unit_cost="3.50", vendor_id=v["id"], vendor_sku="EDR-1"
    )
    helpdesk = await service(client, "HELP", unit_price="40.00", unit_cost="25.00")
    # September: 10 seats for 180.00 (mean 18.00). October, the latest month: 5 seats at
    # 19.00 and 2 at 19.50 for one customer account, 3 at 20.00 for an account nobody
    # mapped (the service still matches): (95.00 + 39.00 + 60.00) / 10 = 19.40.
    await _invoice(
        client,
        v["id"],
        "S-1",
        "2026-09",
        [{"vendor_sku": "CFQ", "account_ref": "A", "quantity": 10, "unit_cost": "18"}],
    )
    await _invoice(
        client,
        v["id"],
        "O-1",
        "2026-10",
        [
            {"vendor_sku": "CFQ", "account_ref": "A", "quantity": 5, "unit_cost": "19.00"},
            {"vendor_sku": "CFQ", "account_ref": "A", "quantity": 2, "unit_cost": "19.50"},
            {"vendor_sku": "CFQ", "account_ref": "B", "quantity": 3, "unit_cost": "20.00"},
        ],
    )
    response = await client.post(
        PREVIEW,
        json={
            "lines": [
                {"service_id": m365["id"], "quantity": "12"},
                {"service_id": edr["id"], "quantity": "4", "unit_price": "5.00"},
                {"service_id": helpdesk["id"], "quantity": "2.5"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    first, second, third = body["lines"]
    # 12 x 22.00 = 264.00; cost 12 x 19.40 = 232.80; profit 31.20; margin 31.20 / 264 =
    # 0.11818... -> 0.1182, below the default floor 0.20.
    assert first["cost_basis"] == "vendor_mean" and first["cost_period"] == "2026-10"
    assert (first["unit_price"], first["unit_cost"]) == ("22.00", "19.40")
    assert (first["revenue"], first["cost"], first["profit"]) == ("264.00", "232.80", "31.20")
    assert first["margin"] == "0.1182" and first["below_margin_floor"] is True
    # EDR has no vendor lines: its standard cost 3.50. 4 x 5.00 = 20.00, cost 14.00,
    # profit 6.00, margin 0.3000.
    assert second["cost_basis"] == "standard" and second["cost_period"] is None
    assert (second["revenue"], second["cost"], second["margin"]) == ("20.00", "14.00", "0.3000")
    assert second["below_margin_floor"] is False
    # In-house helpdesk: standard 25.00. 2.5 x 40.00 = 100.00, cost 62.50, margin 0.3750.
    assert third["cost_basis"] == "standard"
    assert (third["revenue"], third["cost"], third["profit"]) == ("100.00", "62.50", "37.50")
    # Totals: 384.00 revenue, 309.30 cost, 74.70 profit, margin 0.19453... -> 0.1945.
    assert (body["revenue"], body["cost"], body["profit"]) == ("384.00", "309.30", "74.70")
    assert body["margin"] == "0.1945"
    assert [w["line"] for w in body["warnings"]] == [0]
    assert "below the floor" in body["warnings"][0]["message"]


async def test_the_price_book_of_today(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/price-book.md#quotes: an entry in effect today and newer than the latest vendor
    month is the cost; one not yet in effect is not."""
    v = await vendor(client)
    m365 = await service(
        client, "M365", unit_price="22.00", unit_cost="18.00", vendor_id=v["id"], vendor_sku="CFQ"
    )
    helpdesk = await service(client, "HELP", unit_price="40.00", unit_cost="25.00")
    await _invoice(
        client,
        v["id"],
        "N-1",
        "2026-11",
        [{"vendor_sku": "CFQ", "account_ref": "A", "quantity": 10, "unit_cost": "18"}],
    )
    for s, day, cost in ((m365, "2026-12-01", "19.80"), (helpdesk, "2027-01-01", "27.00")):
        await create(
            client, f"services/{s['id']}/costs", {"effective_from": day, "unit_cost": cost}
        )
    lines = [
        {"service_id": m365["id"], "quantity": "10"},
        {"service_id": helpdesk["id"], "quantity": "1"},
    ]

    async def quoted_on(day: str) -> list[tuple[str, str | None, str, str]]:
        now = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
        monkeypatch.setattr(quotes, "utcnow", lambda: now)
        response = await client.post(PREVIEW, json={"lines": lines})
        assert response.status_code == 200, response.text
        return [
            (x["cost_basis"], x["cost_period"], x["unit_cost"], x["cost"])
            for x in response.json()["lines"]
        ]

    # 30 November: November's mean 18.00 (10 x 18.00 = 180.00); the helpdesk at its catalog
    # 25.00, the January entry not in effect.
    assert await quoted_on("2026-11-30") == [
        ("vendor_mean", "2026-11", "18.00", "180.00"),
        ("standard", None, "25.00", "25.00"),
    ]
    # 6 December: the December entry is newer than November's bill: 10 x 19.80 = 198.00.
    assert await quoted_on("2026-12-06") == [
        ("standard", None, "19.80", "198.00"),
        ("standard", None, "25.00", "25.00"),
    ]
    # 2 January: the helpdesk's entry too.
    assert (await quoted_on("2027-01-02"))[1] == ("standard", None, "27.00", "27.00")


async def test_margin_floor_and_zero_revenue(client: httpx.AsyncClient) -> None:
    s = await service(client, "X", unit_price="10.00", unit_cost="8.00")
    # Floor 0.15: margin 0.2000 is fine.
    fine = await client.post(
        PREVIEW, json={"margin_floor": "0.15", "lines": [{"service_id": s["id"], "quantity": "1"}]}
    )
    assert fine.status_code == 200 and fine.json()["warnings"] == []
    # Floor 0.25: margin 0.2000 is below. A free line (price 0) carries a cost of 8.00 with
    # no revenue: margin null, and below the floor all the same.
    low = (
        await client.post(
            PREVIEW,
            json={
                "margin_floor": "0.25",
                "lines": [
                    {"service_id": s["id"], "quantity": "1"},
                    {"service_id": s["id"], "quantity": "1", "unit_price": "0"},
                ],
            },
        )
    ).json()
    assert [w["line"] for w in low["warnings"]] == [0, 1]
    assert low["lines"][1]["margin"] is None and low["lines"][1]["profit"] == "-8.00"


async def test_validation_and_nothing_stored(client: httpx.AsyncClient, app: Any) -> None:
    s = await service(client, "X", unit_price="10.00", unit_cost="8.00")
    assert_problem(
        await client.post(PREVIEW, json={"lines": [{"service_id": 999999, "quantity": "1"}]}),
        422,
        "body.lines.0.service_id",
    )
    assert_problem(
        await client.post(
            PREVIEW,
            json={"customer_id": 999999, "lines": [{"service_id": s["id"], "quantity": "1"}]},
        ),
        422,
        "body.customer_id",
    )
    assert_problem(await client.post(PREVIEW, json={"lines": []}), 422, "body.lines")
    assert_problem(
        await client.post(PREVIEW, json={"lines": [{"service_id": s["id"], "quantity": "-1"}]}),
        422,
        "body.lines.0.quantity",
    )
    c = await customer(client)
    ok = await client.post(
        PREVIEW, json={"customer_id": c["id"], "lines": [{"service_id": s["id"], "quantity": "3"}]}
    )
    assert ok.status_code == 200 and ok.json()["customer_id"] == c["id"]
    # A preview stores nothing: no contract or invoice appeared.
    assert (await client.get("/api/v1/contracts")).json()["items"] == []
    assert (await client.get("/api/v1/customer-invoices")).json()["items"] == []


async def test_a_read_key_may_preview(client: httpx.AsyncClient, app: Any) -> None:
    from tests.conftest import make_client

    s = await service(client, "X", unit_price="10.00", unit_cost="8.00")
    key = (await client.post("/api/v1/api-keys", json={"name": "r", "scopes": ["read"]})).json()
    async with make_client(app, key["key"]) as reader:
        response = await reader.post(
            PREVIEW, json={"lines": [{"service_id": s["id"], "quantity": "1"}]}
        )
    assert response.status_code == 200, response.text
