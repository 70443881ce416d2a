"""Contracts, lines, adjustments and schedules through HTTP (docs/month-arithmetic.md), plus
the set-based loader of the month arithmetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import event

from app.contracts.arithmetic import load_line_terms, revenue
from app.core.periods import Period
from tests.conftest import make_client
from tests.helpers import assert_problem, contract, customer, line, service

API = "/api/v1"


async def _setup(client: httpx.AsyncClient, **contract_extra: Any) -> tuple[int, int, int]:
    """A customer, a service at 22.00 list price, a contract: their ids."""
    c = await customer(client)
    s = await service(client, "M365-BP", unit_price="22.00")
    k = await contract(client, c["id"], **contract_extra)
    return c["id"], s["id"], k["id"]


# --- contracts -------------------------------------------------------------------------------


async def test_contract_crud(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    created = await contract(
        client,
        c["id"],
        "2026-01-15",
        name="Managed workstations",
        external_ref="PSA-C-1",
        end_date="2026-12-31",
    )
    assert created["customer_id"] == c["id"]
    assert created["name"] == "Managed workstations"
    assert created["external_ref"] == "PSA-C-1"
    assert created["start_date"] == "2026-01-15" and created["end_date"] == "2026-12-31"
    assert created["status"] == "active"

    got = await client.get(f"{API}/contracts/{created['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == {**created, "lines": []}

    patched = await client.patch(
        f"{API}/contracts/{created['id']}", json={"name": "Renamed", "end_date": None}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["name"] == "Renamed" and body["end_date"] is None
    assert body["start_date"] == "2026-01-15" and body["external_ref"] == "PSA-C-1"

    assert (await client.delete(f"{API}/contracts/{created['id']}")).status_code == 204
    assert_problem(await client.get(f"{API}/contracts/{created['id']}"), 404)
    assert_problem(await client.delete(f"{API}/contracts/{created['id']}"), 404)
    assert_problem(await client.patch(f"{API}/contracts/999999", json={"name": "x"}), 404)


async def test_contract_validation(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    missing_customer = await client.post(
        f"{API}/contracts", json={"customer_id": 999999, "name": "X", "start_date": "2026-01-01"}
    )
    assert_problem(missing_customer, 422, "body.customer_id")
    backwards = await client.post(
        f"{API}/contracts",
        json={
            "customer_id": c["id"],
            "name": "X",
            "start_date": "2026-03-01",
            "end_date": "2026-02-28",
        },
    )
    assert_problem(backwards, 422, "body.end_date")
    # A one-day contract is fine.
    await contract(client, c["id"], "2026-03-01", end_date="2026-03-01", name="One day")
    assert_problem(
        await client.post(f"{API}/contracts", json={"customer_id": c["id"], "name": "X"}),
        422,
        "body.start_date",
    )
    assert_problem(
        await client.post(
            f"{API}/contracts",
            json={"customer_id": c["id"], "name": " ", "start_date": "2026-01-01"},
        ),
        422,
        "body.name",
    )
    assert_problem(
        await client.post(
            f"{API}/contracts",
            json={"customer_id": c["id"], "name": "X", "start_date": "2026-02-30"},
        ),
        422,
        "body.start_date",
    )

    first = await contract(client, c["id"], external_ref="REF-1")
    dup = await client.post(
        f"{API}/contracts",
        json={
            "customer_id": c["id"],
            "name": "X",
            "start_date": "2026-01-01",
            "external_ref": "REF-1",
        },
    )
    assert_problem(dup, 409, "external_ref")
    other = await contract(client, c["id"], external_ref="REF-2", end_date="2026-06-30")
    assert_problem(
        await client.patch(f"{API}/contracts/{other['id']}", json={"external_ref": "REF-1"}), 409
    )
    # Keeping its own ref is no clash.
    same = await client.patch(f"{API}/contracts/{first['id']}", json={"external_ref": "REF-1"})
    assert same.status_code == 200, same.text

    # PATCH validates the merged state: a start after the stored end, an end before the
    # stored start.
    url = f"{API}/contracts/{other['id']}"
    assert_problem(await client.patch(url, json={"start_date": "2026-07-01"}), 422, "body.end_date")
    assert_problem(await client.patch(url, json={"end_date": "2025-12-31"}), 422, "body.end_date")
    moved = await client.patch(url, json={"start_date": "2026-07-01", "end_date": "2026-09-30"})
    assert moved.status_code == 200, moved.text
    assert_problem(await client.patch(url, json={"name": None}), 422, "body.name")
    assert_problem(await client.patch(url, json={"start_date": None}), 422, "body.start_date")
    # Nothing of the refused changes was stored.
    stored = (await client.get(url)).json()
    assert stored["start_date"] == "2026-07-01" and stored["end_date"] == "2026-09-30"
    assert stored["external_ref"] == "REF-2"


async def test_contract_list_filters(client: httpx.AsyncClient) -> None:
    a = await customer(client, "Alpha")
    b = await customer(client, "Beta")
    k1 = await contract(client, a["id"], "2026-01-01", end_date="2026-03-31", name="Backup")
    k2 = await contract(client, a["id"], "2026-04-01", name="Workstations", external_ref="WS-9")
    k3 = await contract(client, b["id"], "2026-02-15", end_date="2026-12-31", name="Security")

    async def ids(**params: Any) -> list[int]:
        response = await client.get(f"{API}/contracts", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [k1["id"], k2["id"], k3["id"]]
    assert await ids(customer_id=a["id"]) == [k1["id"], k2["id"]]
    assert await ids(q="work") == [k2["id"]]
    assert await ids(q="ws-9") == [k2["id"]]
    # active_on: start_date <= d and (end_date null or >= d), both ends inclusive.
    assert await ids(active_on="2026-03-31") == [k1["id"], k3["id"]]
    assert await ids(active_on="2026-04-01") == [k2["id"], k3["id"]]
    assert await ids(active_on="2026-02-14") == [k1["id"]]
    assert await ids(active_on="2030-01-01") == [k2["id"]]
    await client.post(f"{API}/contracts/{k3['id']}/cancel", json={"effective_date": "2026-06-30"})
    assert await ids(status="cancelled") == [k3["id"]]
    assert await ids(status="active", customer_id=b["id"]) == []
    page = (await client.get(f"{API}/contracts", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert_problem(await client.get(f"{API}/contracts", params={"status": "gone"}), 422)
    assert_problem(await client.get(f"{API}/contracts", params={"active_on": "2026-13-01"}), 422)


async def test_cancel_rules(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    k = await contract(client, c["id"], "2026-03-01", end_date="2026-12-31")
    url = f"{API}/contracts/{k['id']}/cancel"

    # Two days before the start: too early.
    assert_problem(
        await client.post(url, json={"effective_date": "2026-02-27"}), 422, "body.effective_date"
    )
    # After the current end_date: a cancellation only shortens.
    assert_problem(
        await client.post(url, json={"effective_date": "2027-01-01"}), 422, "body.effective_date"
    )
    assert_problem(await client.post(url, json={}), 422, "body.effective_date")
    unchanged = (await client.get(f"{API}/contracts/{k['id']}")).json()
    assert unchanged["status"] == "active" and unchanged["end_date"] == "2026-12-31"

    # On the end_date itself: allowed.
    same = await client.post(url, json={"effective_date": "2026-12-31"})
    assert same.status_code == 200, same.text
    assert same.json()["status"] == "cancelled" and same.json()["end_date"] == "2026-12-31"
    # Again, earlier: allowed; then later than the new end: refused.
    earlier = await client.post(url, json={"effective_date": "2026-06-30"})
    assert earlier.status_code == 200 and earlier.json()["end_date"] == "2026-06-30"
    assert_problem(
        await client.post(url, json={"effective_date": "2026-07-01"}), 422, "body.effective_date"
    )
    # The day before the start: never started.
    never = await client.post(url, json={"effective_date": "2026-02-28"})
    assert never.status_code == 200, never.text
    assert never.json()["end_date"] == "2026-02-28" and never.json()["status"] == "cancelled"
    # Such a contract still answers a name change (no date in the PATCH).
    renamed = await client.patch(f"{API}/contracts/{k['id']}", json={"name": "Never started"})
    assert renamed.status_code == 200, renamed.text

    # Open-ended: any date from the day before the start on, future ones included.
    open_ended = await contract(client, c["id"], "2026-01-01")
    later = await client.post(
        f"{API}/contracts/{open_ended['id']}/cancel", json={"effective_date": "2030-05-31"}
    )
    assert later.status_code == 200 and later.json()["end_date"] == "2030-05-31"
    assert_problem(
        await client.post(f"{API}/contracts/999999/cancel", json={"effective_date": "2026-01-01"}),
        404,
    )


async def test_cancelled_contract_end_date_only_moves_earlier(client: httpx.AsyncClient) -> None:
    """A cancellation only ever shortens (docs/month-arithmetic.md#cancellation): PATCH
    cannot reopen a cancelled contract, by clearing its end_date or moving it later; moving
    it earlier is fine."""
    c = await customer(client)
    k = await contract(client, c["id"], "2026-01-01", end_date="2026-12-31")
    url = f"{API}/contracts/{k['id']}"
    cancelled = await client.post(f"{url}/cancel", json={"effective_date": "2026-06-30"})
    assert cancelled.status_code == 200, cancelled.text

    assert_problem(await client.patch(url, json={"end_date": None}), 422, "body.end_date")
    assert_problem(await client.patch(url, json={"end_date": "2026-07-01"}), 422, "body.end_date")
    # Back to the end it had before the cancellation: still later, still refused.
    assert_problem(await client.patch(url, json={"end_date": "2026-12-31"}), 422, "body.end_date")
    # Along with an allowed change, nothing is stored.
    assert_problem(
        await client.patch(url, json={"name": "Reopened", "end_date": None}), 422, "body.end_date"
    )
    stored = (await client.get(url)).json()
    assert stored["end_date"] == "2026-06-30" and stored["status"] == "cancelled"
    assert stored["name"] == "Managed services"

    # The same date and an earlier one are fine; the status stays cancelled.
    same = await client.patch(url, json={"end_date": "2026-06-30"})
    assert same.status_code == 200, same.text
    earlier = await client.patch(url, json={"end_date": "2026-05-31"})
    assert earlier.status_code == 200, earlier.text
    assert earlier.json()["end_date"] == "2026-05-31" and earlier.json()["status"] == "cancelled"
    # ...and from there, the old 2026-06-30 is now "later".
    assert_problem(await client.patch(url, json={"end_date": "2026-06-30"}), 422, "body.end_date")
    # A PATCH without end_date still works on a cancelled contract.
    renamed = await client.patch(url, json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["end_date"] == "2026-05-31"

    # A contract cancelled while open-ended cannot be made open-ended again either.
    open_ended = await contract(client, c["id"], "2026-01-01", name="Open")
    open_url = f"{API}/contracts/{open_ended['id']}"
    await client.post(f"{open_url}/cancel", json={"effective_date": "2026-03-31"})
    assert_problem(await client.patch(open_url, json={"end_date": None}), 422, "body.end_date")
    assert_problem(
        await client.patch(open_url, json={"end_date": "2030-01-01"}), 422, "body.end_date"
    )
    assert (await client.get(open_url)).json()["end_date"] == "2026-03-31"

    # An active contract may still be made open-ended or longer through PATCH.
    active = await contract(client, c["id"], "2026-01-01", end_date="2026-03-31", name="Active")
    longer = await client.patch(f"{API}/contracts/{active['id']}", json={"end_date": "2027-03-31"})
    assert longer.status_code == 200 and longer.json()["end_date"] == "2027-03-31"
    unbounded = await client.patch(f"{API}/contracts/{active['id']}", json={"end_date": None})
    assert unbounded.status_code == 200 and unbounded.json()["end_date"] is None


async def test_auth(app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    c = await customer(client)
    k = await contract(client, c["id"])
    assert_problem(await anon.get(f"{API}/contracts"), 401)
    assert_problem(await anon.get(f"{API}/contracts/{k['id']}"), 401)
    assert_problem(
        await anon.get(f"{API}/contracts/{k['id']}/schedule?from=2026-01&to=2026-02"), 401
    )
    key = await client.post(f"{API}/api-keys", json={"name": "reader", "scopes": ["read"]})
    assert key.status_code == 201, key.text
    async with make_client(app, key.json()["key"]) as reader:
        assert (await reader.get(f"{API}/contracts/{k['id']}")).status_code == 200
        assert (await reader.get(f"{API}/contracts/{k['id']}/lines")).status_code == 200
        body = {"customer_id": c["id"], "name": "X", "start_date": "2026-01-01"}
        assert_problem(await reader.post(f"{API}/contracts", json=body), 403)
        assert_problem(await reader.patch(f"{API}/contracts/{k['id']}", json={"name": "Y"}), 403)
        assert_problem(await reader.delete(f"{API}/contracts/{k['id']}"), 403)
        assert_problem(
            await reader.post(
                f"{API}/contracts/{k['id']}/cancel", json={"effective_date": "2026-01-01"}
            ),
            403,
        )
        assert_problem(
            await reader.post(f"{API}/contracts/{k['id']}/lines", json={"service_id": 1}), 403
        )


# --- lines -----------------------------------------------------------------------------------


async def test_lines_default_price_and_dates(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-01-01", end_date="2026-12-31")
    plain = await line(client, k, s, "5")
    # The service's list price; null dates = follows the contract.
    assert plain["unit_price"] == "22.00"
    assert plain["quantity"] == "5"
    assert plain["start_date"] is None and plain["end_date"] is None
    assert plain["contract_id"] == k and plain["service_id"] == s
    assert plain["adjustments"] == []

    priced = await line(
        client,
        k,
        s,
        "987.3",
        unit_price="0.0875",
        start_date="2026-03-01",
        end_date="2026-03-31",
        description="Backup GB",
    )
    assert priced["unit_price"] == "0.0875" and priced["quantity"] == "987.3"
    assert priced["start_date"] == "2026-03-01" and priced["description"] == "Backup GB"
    free = await line(client, k, s, "1", unit_price=0)
    assert free["unit_price"] == "0.00"

    # The contract's dates change later: the line still follows them (stored null).
    await client.patch(f"{API}/contracts/{k}", json={"start_date": "2026-02-01"})
    got = (await client.get(f"{API}/contracts/{k}/lines/{plain['id']}")).json()
    assert got["start_date"] is None and got["end_date"] is None
    schedule = (await client.get(f"{API}/contracts/{k}/schedule?from=2026-01&to=2026-02")).json()
    jan = [r for r in schedule["lines"] if r["line_id"] == plain["id"] and r["month"] == "2026-01"]
    assert jan[0]["active_days"] == 0 and jan[0]["revenue"] == "0.00"

    listed = (await client.get(f"{API}/contracts/{k}/lines")).json()
    assert [item["id"] for item in listed["items"]] == [plain["id"], priced["id"], free["id"]]
    detail = (await client.get(f"{API}/contracts/{k}")).json()
    assert [item["id"] for item in detail["lines"]] == [plain["id"], priced["id"], free["id"]]


async def test_line_validation(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-03-01", end_date="2026-12-31")
    url = f"{API}/contracts/{k}/lines"
    assert_problem(
        await client.post(url, json={"service_id": 999999, "quantity": "1"}), 422, "body.service_id"
    )
    assert_problem(await client.post(url, json={"service_id": s}), 422, "body.quantity")
    assert_problem(
        await client.post(url, json={"service_id": s, "quantity": "1.00001"}), 422, "body.quantity"
    )
    assert_problem(
        await client.post(url, json={"service_id": s, "quantity": "-1"}), 422, "body.quantity"
    )
    assert_problem(
        await client.post(url, json={"service_id": s, "quantity": "1", "unit_price": "1.23456"}),
        422,
        "body.unit_price",
    )
    assert_problem(
        await client.post(
            url,
            json={
                "service_id": s,
                "quantity": "1",
                "start_date": "2026-05-01",
                "end_date": "2026-04-30",
            },
        ),
        422,
        "body.end_date",
    )
    # Only an end date, before the contract's start (the line's start when null).
    assert_problem(
        await client.post(url, json={"service_id": s, "quantity": "1", "end_date": "2026-02-28"}),
        422,
        "body.end_date",
    )
    assert_problem(
        await client.post(f"{API}/contracts/999999/lines", json={"service_id": s, "quantity": "1"}),
        404,
    )
    # Dates outside the contract are accepted: only the overlap counts.
    outside = await line(client, k, s, "2", start_date="2025-06-01", end_date="2027-06-30")
    assert outside["start_date"] == "2025-06-01"
    one_day = await line(client, k, s, "2", start_date="2026-04-01", end_date="2026-04-01")

    line_url = f"{url}/{one_day['id']}"
    assert_problem(
        await client.patch(line_url, json={"end_date": "2026-03-31"}), 422, "body.end_date"
    )
    assert_problem(
        await client.patch(line_url, json={"start_date": "2026-04-02"}), 422, "body.end_date"
    )
    # The quantity changes only through adjustments (the line's history stays as
    # recorded): PATCH does not know the field, and an unknown field is a 422 naming it.
    for quantity in (None, "3"):
        refused = assert_problem(
            await client.patch(line_url, json={"quantity": quantity}), 422, "body.quantity"
        )
        assert refused["errors"][0]["type"] == "extra_forbidden"
    refused_with_others = await client.patch(
        line_url, json={"quantity": "3", "unit_price": "19.5", "description": "x"}
    )
    assert_problem(refused_with_others, 422, "body.quantity")
    unchanged = (await client.get(line_url)).json()
    assert unchanged["quantity"] == "2" and unchanged["unit_price"] == "22.00"
    assert unchanged["description"] is None
    assert_problem(await client.patch(line_url, json={"unit_price": None}), 422, "body.unit_price")
    patched = await client.patch(
        line_url, json={"unit_price": "19.5", "end_date": None, "description": "x"}
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["quantity"] == "2" and body["unit_price"] == "19.50"
    assert body["start_date"] == "2026-04-01" and body["end_date"] is None
    assert body["description"] == "x"
    # Back to following the contract's start.
    follows = await client.patch(line_url, json={"start_date": None})
    assert follows.status_code == 200 and follows.json()["start_date"] is None
    assert_problem(await client.patch(f"{url}/999999", json={"description": "y"}), 404)


async def test_adjustments_history_and_deletes(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-01-01")
    ln = await line(client, k, s, "10")
    url = f"{API}/contracts/{k}/lines/{ln['id']}/adjustments"

    async def adjust(effective_date: str, quantity: str, note: str | None = None) -> dict[str, Any]:
        response = await client.post(
            url, json={"effective_date": effective_date, "quantity": quantity, "note": note}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    # Recorded out of order, one in the past, one in the future, one before the contract.
    may = await adjust("2026-05-01", "14", "added a site")
    march = await adjust("2026-03-01", "12")
    march_fix = await adjust("2026-03-01", "11", "correction: 11, not 12")
    future = await adjust("2031-01-01", "0.5")
    before = await adjust("2025-06-01", "9")
    assert may["line_id"] == ln["id"] and may["quantity"] == "14" and may["note"] == "added a site"
    assert future["quantity"] == "0.5"

    history = [before["id"], march["id"], march_fix["id"], may["id"], future["id"]]
    got = (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).json()
    assert [a["id"] for a in got["adjustments"]] == history
    detail = (await client.get(f"{API}/contracts/{k}")).json()
    assert [a["id"] for a in detail["lines"][0]["adjustments"]] == history
    listed = (await client.get(url)).json()
    assert [a["id"] for a in listed["items"]] == [
        may["id"],
        march["id"],
        march_fix["id"],
        future["id"],
        before["id"],
    ]  # recording order
    # March has 11 (the last recorded on 03-01): 11 x 22.00 = 242.00
    schedule = (await client.get(f"{API}/contracts/{k}/schedule?from=2026-03&to=2026-03")).json()
    assert schedule["lines"][0]["units"] == "11" and schedule["lines"][0]["revenue"] == "242.00"

    assert_problem(
        await client.post(url, json={"effective_date": "2026-01-01"}), 422, "body.quantity"
    )
    assert_problem(
        await client.post(url, json={"effective_date": "2026-01-01", "quantity": "-2"}),
        422,
        "body.quantity",
    )
    assert_problem(await client.post(url, json={"quantity": "2"}), 422, "body.effective_date")

    # Deletes: a contract with lines, a line with adjustments -> 409.
    assert_problem(await client.delete(f"{API}/contracts/{k}"), 409)
    conflict = assert_problem(await client.delete(f"{API}/contracts/{k}/lines/{ln['id']}"), 409)
    assert conflict["referenced_by"] == ["5 contract line adjustments"]
    # Adjustments are history: there is no DELETE of one (no route at that path), and a
    # mistaken entry is corrected by recording another one on the same date.
    gone = assert_problem(await client.delete(f"{url}/{march['id']}"), 404)
    assert "No resource" in gone["detail"]
    # The collection only answers GET and POST.
    collection_delete = await client.delete(url)
    not_allowed = assert_problem(collection_delete, 405)
    assert "DELETE" in not_allowed["detail"]
    assert collection_delete.headers["allow"] == "GET, POST"
    got = (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).json()
    assert [a["id"] for a in got["adjustments"]] == history
    assert_problem(await client.delete(f"{API}/contracts/{k}/lines/{ln['id']}"), 409)

    # A line without adjustments deletes; then its contract, once it has no lines.
    other = (await contract(client, (await customer(client, "Other"))["id"], name="Other"))["id"]
    plain = await line(client, other, s, "3")
    assert (await client.delete(f"{API}/contracts/{other}/lines/{plain['id']}")).status_code == 204
    assert_problem(await client.get(f"{API}/contracts/{other}/lines/{plain['id']}"), 404)
    assert_problem(await client.delete(f"{API}/contracts/{other}/lines/{plain['id']}"), 404)
    assert (await client.delete(f"{API}/contracts/{other}")).status_code == 204
    assert_problem(await client.get(f"{API}/contracts/{other}"), 404)
    # The first contract and its line are untouched.
    assert (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).status_code == 200


async def test_line_of_another_contract_is_404(client: httpx.AsyncClient) -> None:
    c, s, k = await _setup(client)
    other = (await contract(client, c, name="Other"))["id"]
    ln = await line(client, k, s, "1")
    adj = await client.post(
        f"{API}/contracts/{k}/lines/{ln['id']}/adjustments",
        json={"effective_date": "2026-02-01", "quantity": "2"},
    )
    assert adj.status_code == 201
    wrong = f"{API}/contracts/{other}/lines/{ln['id']}"
    assert_problem(await client.get(wrong), 404)
    assert_problem(await client.patch(wrong, json={"description": "moved"}), 404)
    assert_problem(await client.delete(wrong), 404)
    assert_problem(await client.get(f"{wrong}/adjustments"), 404)
    assert_problem(
        await client.post(
            f"{wrong}/adjustments", json={"effective_date": "2026-03-01", "quantity": "3"}
        ),
        404,
    )
    # An adjustment of another line, through a line of the right contract: not listed.
    ln2 = await line(client, k, s, "1")
    other_history = (await client.get(f"{API}/contracts/{k}/lines/{ln2['id']}/adjustments")).json()
    assert other_history["items"] == []
    assert_problem(await client.get(f"{API}/contracts/999999/lines"), 404)
    # Nothing changed on the real line.
    got = (await client.get(f"{API}/contracts/{k}/lines/{ln['id']}")).json()
    assert got["quantity"] == "1" and len(got["adjustments"]) == 1
    assert got["description"] is None


# --- schedule --------------------------------------------------------------------------------


async def test_schedule_numbers(client: httpx.AsyncClient) -> None:
    c = await customer(client)
    av = await service(client, "AV", unit_price="30.00")
    m365 = await service(client, "M365", unit_price="22.00")
    k = (await contract(client, c["id"], "2026-01-15"))["id"]
    a = await line(client, k, av["id"], "5")  # 30.00 list price, follows the contract
    b = await line(client, k, m365["id"], "10", unit_price="20.00")
    adj = await client.post(
        f"{API}/contracts/{k}/lines/{b['id']}/adjustments",
        json={"effective_date": "2026-04-16", "quantity": "16"},
    )
    assert adj.status_code == 201
    cancel = await client.post(f"{API}/contracts/{k}/cancel", json={"effective_date": "2026-05-12"})
    assert cancel.status_code == 200

    response = await client.get(
        f"{API}/contracts/{k}/schedule", params={"from": "2026-01", "to": "2026-06"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["contract_id"] == k and body["from"] == "2026-01" and body["to"] == "2026-06"
    rows = {(r["line_id"], r["month"]): r for r in body["lines"]}
    assert len(rows) == 12  # every line in every month

    def check(line_id: int, month: str, days: int, units: str, revenue: str) -> None:
        row = rows[(line_id, month)]
        assert (row["active_days"], row["units"], row["revenue"]) == (days, units, revenue), row

    # Line A: 5 x 30.00 = 150.00 a month.
    # Jan (31 days), active 15..31 = 17: 150 x 17/31 = 2550/31 = 82.258 -> 82.26
    check(a["id"], "2026-01", 17, "5", "82.26")
    check(a["id"], "2026-02", 28, "5", "150.00")
    check(a["id"], "2026-03", 31, "5", "150.00")
    check(a["id"], "2026-04", 30, "5", "150.00")
    # May (31 days), cancelled after the 12th: 150 x 12/31 = 1800/31 = 58.064 -> 58.06; 0 units
    check(a["id"], "2026-05", 12, "0", "58.06")
    check(a["id"], "2026-06", 0, "0", "0.00")
    # Line B: 10 x 20.00 = 200.00 a month until April 15th, then 16 units (320.00 a month).
    # Jan: 200 x 17/31 = 3400/31 = 109.677 -> 109.68
    check(b["id"], "2026-01", 17, "10", "109.68")
    check(b["id"], "2026-02", 28, "10", "200.00")
    check(b["id"], "2026-03", 31, "10", "200.00")
    # Apr (30): 1..15 at 10 = 150 unit-days, 16..30 at 16 = 240; 390 x 20 / 30 = 260.00
    check(b["id"], "2026-04", 30, "16", "260.00")
    # May: 12 days at 16 = 192 unit-days x 20 / 31 = 3840/31 = 123.870 -> 123.87; 0 units
    check(b["id"], "2026-05", 12, "0", "123.87")
    check(b["id"], "2026-06", 0, "0", "0.00")
    assert rows[(b["id"], "2026-04")]["unit_price"] == "20.00"
    assert rows[(a["id"], "2026-04")]["service_id"] == av["id"]
    # April's 16 units alone do not explain 260.00: the segments do, 15 days at 10 and 15
    # at 16, (15 x 10 + 15 x 16) x 20.00 / 30 = 260.00.
    assert rows[(b["id"], "2026-04")]["segments"] == [
        {"first_day": "2026-04-01", "last_day": "2026-04-15", "days": 15, "quantity": "10"},
        {"first_day": "2026-04-16", "last_day": "2026-04-30", "days": 15, "quantity": "16"},
    ]
    assert rows[(a["id"], "2026-01")]["segments"] == [
        {"first_day": "2026-01-15", "last_day": "2026-01-31", "days": 17, "quantity": "5"}
    ]
    assert rows[(b["id"], "2026-05")]["segments"] == [
        {"first_day": "2026-05-01", "last_day": "2026-05-12", "days": 12, "quantity": "16"}
    ]
    assert rows[(b["id"], "2026-06")]["segments"] == []

    # Month totals: the sum of the rounded line revenues.
    # Jan 82.26 + 109.68 = 191.94; Feb/Mar 150 + 200 = 350.00; Apr 150 + 260 = 410.00;
    # May 58.06 + 123.87 = 181.93; Jun 0.00. Total 191.94 + 350 + 350 + 410 + 181.93 = 1483.87
    assert body["months"] == [
        {"month": "2026-01", "revenue": "191.94"},
        {"month": "2026-02", "revenue": "350.00"},
        {"month": "2026-03", "revenue": "350.00"},
        {"month": "2026-04", "revenue": "410.00"},
        {"month": "2026-05", "revenue": "181.93"},
        {"month": "2026-06", "revenue": "0.00"},
    ]
    assert body["total_revenue"] == "1483.87"


async def test_schedule_rounds_half_up_per_line(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-04-01")
    await line(client, k, s, "1", unit_price="0.0150")  # full month: 0.015 -> 0.02
    # 15 of April's 30 days at 10.0100 = 5.005 -> 5.01
    await line(client, k, s, "1", unit_price="10.0100", end_date="2026-04-15")
    body = (await client.get(f"{API}/contracts/{k}/schedule?from=2026-04&to=2026-04")).json()
    assert [r["revenue"] for r in body["lines"]] == ["0.02", "5.01"]
    assert body["total_revenue"] == "5.03"


async def test_schedule_query_validation(client: httpx.AsyncClient) -> None:
    _, _, k = await _setup(client)
    url = f"{API}/contracts/{k}/schedule"
    assert_problem(await client.get(url, params={"to": "2026-02"}), 422, "query.from")
    assert_problem(await client.get(url, params={"from": "2026-02"}), 422, "query.to")
    assert_problem(
        await client.get(url, params={"from": "2026-13", "to": "2027-01"}), 422, "query.from"
    )
    assert_problem(
        await client.get(url, params={"from": "2026-1", "to": "2027-01"}), 422, "query.from"
    )
    assert_problem(
        await client.get(url, params={"from": "2026-01", "to": "2026-01-31"}), 422, "query.to"
    )
    assert_problem(
        await client.get(url, params={"from": "2026-03", "to": "2026-02"}), 422, "query.to"
    )
    # 120 months is the cap: 2026-01..2035-12 is fine, one more is not.
    ok = await client.get(url, params={"from": "2026-01", "to": "2035-12"})
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["months"]) == 120
    assert_problem(
        await client.get(url, params={"from": "2026-01", "to": "2036-01"}), 422, "query.to"
    )
    one = await client.get(url, params={"from": "2026-01", "to": "2026-01"})
    assert one.status_code == 200 and one.json()["lines"] == []
    assert one.json()["total_revenue"] == "0.00"
    assert_problem(
        await client.get(
            f"{API}/contracts/999999/schedule", params={"from": "2026-01", "to": "2026-01"}
        ),
        404,
    )


# --- schedule edge cases, every number worked by hand (docs/month-arithmetic.md) -------------
#
# Revenue of a line in month M = sum over its active days of quantity(d) x unit_price, over
# days_in(M), exact (fractions below), rounded half-up to the cent once per line and month.
# Units = the quantity on M's last day if the line is active then, else 0.

Row = tuple[int, str, str]  # (active_days, units, revenue)


async def _schedule(
    client: httpx.AsyncClient, contract_id: int, first: str, last: str
) -> dict[str, Any]:
    response = await client.get(
        f"{API}/contracts/{contract_id}/schedule", params={"from": first, "to": last}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _rows(body: dict[str, Any]) -> dict[tuple[int, str], Row]:
    return {
        (r["line_id"], r["month"]): (r["active_days"], r["units"], r["revenue"])
        for r in body["lines"]
    }


async def _adjust(
    client: httpx.AsyncClient, contract_id: int, line_id: int, effective_date: str, quantity: str
) -> None:
    response = await client.post(
        f"{API}/contracts/{contract_id}/lines/{line_id}/adjustments",
        json={"effective_date": effective_date, "quantity": quantity},
    )
    assert response.status_code == 201, response.text


async def test_schedule_february_of_a_leap_year(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2027-02-15")
    # 3 x 10.00 = 30.00 a month on every line.
    whole = await line(client, k, s, "3", unit_price="10.00")
    cut = await line(client, k, s, "3", unit_price="10.00", end_date="2028-02-14")
    leap_day = await line(client, k, s, "3", unit_price="10.00", start_date="2028-02-29")
    rows = _rows(await _schedule(client, k, "2027-02", "2028-02"))

    # Feb 2027 has 28 days; the 15th..28th = 14: 30 x 14/28 = 15 -> 15.00, active on the 28th.
    assert rows[(whole["id"], "2027-02")] == (14, "3", "15.00")
    assert rows[(cut["id"], "2027-02")] == (14, "3", "15.00")
    # Feb 2028 has 29 days: the whole month is 29/29 -> 30.00, active on the 29th.
    assert rows[(whole["id"], "2028-02")] == (29, "3", "30.00")
    # The same 14 days are now 14/29 of a month: 30 x 14/29 = 420/29 = 14.4827... -> 14.48;
    # not active on the 29th -> 0 units.
    assert rows[(cut["id"], "2028-02")] == (14, "0", "14.48")
    # The leap day alone: 30 x 1/29 = 30/29 = 1.0344... -> 1.03, and it is the last day.
    assert rows[(leap_day["id"], "2028-02")] == (1, "3", "1.03")
    assert rows[(leap_day["id"], "2028-01")] == (0, "0", "0.00")


async def test_schedule_start_on_the_31st(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-01-31")
    ln = await line(client, k, s, "1", unit_price="100.00")
    late = await line(client, k, s, "2", unit_price="15.50", start_date="2026-03-31")
    rows = _rows(await _schedule(client, k, "2026-01", "2026-03"))
    # January has 31 days, only the 31st active: 100 x 1/31 = 100/31 = 3.2258... -> 3.23;
    # the 31st is the last day, so 1 unit.
    assert rows[(ln["id"], "2026-01")] == (1, "1", "3.23")
    assert rows[(ln["id"], "2026-02")] == (28, "1", "100.00")
    assert rows[(ln["id"], "2026-03")] == (31, "1", "100.00")
    # 2 x 15.50 = 31.00 a month, one day of March's 31: 31 x 1/31 = 1.00.
    assert rows[(late["id"], "2026-03")] == (1, "2", "1.00")
    assert rows[(late["id"], "2026-02")] == (0, "0", "0.00")


async def test_schedule_two_adjustments_in_one_month(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-01-01")
    ln = await line(client, k, s, "10", unit_price="2.50")
    # Recorded out of order: the effective dates decide.
    await _adjust(client, k, ln["id"], "2026-04-21", "4")
    await _adjust(client, k, ln["id"], "2026-04-11", "17")
    rows = _rows(await _schedule(client, k, "2026-03", "2026-05"))
    # March: 10 x 2.50 = 25.00.
    assert rows[(ln["id"], "2026-03")] == (31, "10", "25.00")
    # April (30 days): 1..10 at 10 = 100, 11..20 at 17 = 170, 21..30 at 4 = 40 unit-days;
    # 310 x 2.50 / 30 = 775/30 = 25.8333... -> 25.83; 4 units on the 30th.
    assert rows[(ln["id"], "2026-04")] == (30, "4", "25.83")
    # May: 4 x 2.50 = 10.00.
    assert rows[(ln["id"], "2026-05")] == (31, "4", "10.00")


async def test_schedule_two_adjustments_on_one_date(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-01-01")
    ln = await line(client, k, s, "5", unit_price="8.00")
    await _adjust(client, k, ln["id"], "2026-06-16", "9")
    await _adjust(client, k, ln["id"], "2026-06-16", "7")  # recorded last on the 16th: wins
    # Recorded later still, but on an earlier date: it does not override the 16th.
    await _adjust(client, k, ln["id"], "2026-06-01", "6")
    rows = _rows(await _schedule(client, k, "2026-05", "2026-07"))
    assert rows[(ln["id"], "2026-05")] == (31, "5", "40.00")  # 5 x 8.00
    # June (30 days): 1..15 at 6 = 90, 16..30 at 7 = 105 unit-days;
    # 195 x 8.00 / 30 = 1560/30 = 52.00 (with 9 winning it would be 60.00).
    assert rows[(ln["id"], "2026-06")] == (30, "7", "52.00")
    assert rows[(ln["id"], "2026-07")] == (31, "7", "56.00")  # 7 x 8.00


async def test_schedule_fractional_quantity_and_four_decimal_price(
    client: httpx.AsyncClient,
) -> None:
    _, s, k = await _setup(client, start_date="2026-03-01")
    backup = await line(client, k, s, "987.3", unit_price="0.0875")
    late = await line(client, k, s, "987.3", unit_price="0.0875", start_date="2026-03-10")
    priced = await line(client, k, s, "3", unit_price="12.3456")
    april = await line(client, k, s, "3", unit_price="12.3456", start_date="2026-04-14")
    rows = _rows(await _schedule(client, k, "2026-03", "2026-04"))
    # 987.3 x 0.0875 = 9873/10 x 7/80 = 69111/800 = 86.38875 -> 86.39.
    assert rows[(backup["id"], "2026-03")] == (31, "987.3", "86.39")
    # From the 10th: 22 of March's 31 days: 69111/800 x 22/31 = 760221/12400
    # = 61.3081... -> 61.31.
    assert rows[(late["id"], "2026-03")] == (22, "987.3", "61.31")
    assert rows[(late["id"], "2026-04")] == (30, "987.3", "86.39")
    # 3 x 12.3456 = 37.0368 -> 37.04.
    assert rows[(priced["id"], "2026-03")] == (31, "3", "37.04")
    # From April 14th: 17 of 30 days: 37.0368 x 17/30 = 629.6256/30 = 20.98752 -> 20.99.
    assert rows[(april["id"], "2026-04")] == (17, "3", "20.99")
    assert rows[(april["id"], "2026-03")] == (0, "0", "0.00")
    schedule = await _schedule(client, k, "2026-03", "2026-04")
    # March: 86.39 + 61.31 + 37.04 + 0.00 = 184.74; April: 86.39 + 86.39 + 37.04 + 20.99 = 230.81.
    assert schedule["months"] == [
        {"month": "2026-03", "revenue": "184.74"},
        {"month": "2026-04", "revenue": "230.81"},
    ]
    assert schedule["total_revenue"] == "415.55"


async def test_schedule_half_cent_ties_round_up(client: httpx.AsyncClient) -> None:
    _, s, k = await _setup(client, start_date="2026-04-01")
    # 1 x 1.0050 = 1.005 exactly: the tie rounds up -> 1.01 (a binary float of 1.005 is
    # 1.00499999..., which would round down).
    tie = await line(client, k, s, "1", unit_price="1.0050")
    # 1 x 1.0049 = 1.0049 -> 1.00.
    below = await line(client, k, s, "1", unit_price="1.0049")
    # Prorated: 20.01 x 15/30 = 10.005 exactly -> 10.01.
    prorated_tie = await line(client, k, s, "1", unit_price="20.01", end_date="2026-04-15")
    # 20.0099 x 15/30 = 10.00495, just below the tie -> 10.00.
    prorated_below = await line(client, k, s, "1", unit_price="20.0099", end_date="2026-04-15")
    body = await _schedule(client, k, "2026-04", "2026-04")
    rows = _rows(body)
    assert rows[(tie["id"], "2026-04")] == (30, "1", "1.01")
    assert rows[(below["id"], "2026-04")] == (30, "1", "1.00")
    assert rows[(prorated_tie["id"], "2026-04")] == (15, "0", "10.01")
    assert rows[(prorated_below["id"], "2026-04")] == (15, "0", "10.00")
    # The month sums the rounded lines: 1.01 + 1.00 + 10.01 + 10.00 = 22.02 (rounding the
    # exact sum 22.01945 would give 22.02 as well; each line was rounded on its own above).
    assert body["total_revenue"] == "22.02"


async def test_schedule_cancellation_mid_month(client: httpx.AsyncClient) -> None:
    c, s, k = await _setup(client, start_date="2026-01-01")
    ln = await line(client, k, s, "4", unit_price="25.00")  # 100.00 a month
    # An increase recorded after the cancellation date never applies.
    await _adjust(client, k, ln["id"], "2026-03-20", "8")
    cancelled = await client.post(
        f"{API}/contracts/{k}/cancel", json={"effective_date": "2026-03-10"}
    )
    assert cancelled.status_code == 200, cancelled.text
    # Cancelled on the month's last day: still active then, so the units count.
    k2 = (await contract(client, c, "2026-01-01", name="To month end"))["id"]
    ln2 = await line(client, k2, s, "4", unit_price="25.00")
    await client.post(f"{API}/contracts/{k2}/cancel", json={"effective_date": "2026-03-31"})

    rows = _rows(await _schedule(client, k, "2026-02", "2026-04"))
    assert rows[(ln["id"], "2026-02")] == (28, "4", "100.00")
    # March: the 1st..10th of 31 days at 4: 100 x 10/31 = 1000/31 = 32.258... -> 32.26;
    # not active on the 31st -> 0 units.
    assert rows[(ln["id"], "2026-03")] == (10, "0", "32.26")
    assert rows[(ln["id"], "2026-04")] == (0, "0", "0.00")
    rows2 = _rows(await _schedule(client, k2, "2026-03", "2026-04"))
    assert rows2[(ln2["id"], "2026-03")] == (31, "4", "100.00")
    assert rows2[(ln2["id"], "2026-04")] == (0, "0", "0.00")


# --- the loader of the month arithmetic -------------------------------------------------------


async def test_load_line_terms_two_queries(app: Any, client: httpx.AsyncClient) -> None:
    c1 = await customer(client, "One")
    c2 = await customer(client, "Two")
    s = await service(client, "AV", unit_price="30.00")
    k1 = (await contract(client, c1["id"], "2026-01-15", end_date="2026-12-31"))["id"]
    k2 = (await contract(client, c2["id"], "2026-03-01"))["id"]
    lines = [await line(client, k1, s["id"], str(n)) for n in (1, 2, 3)]
    late = await line(client, k2, s["id"], "4", start_date="2027-01-01")
    for ln in lines:
        for effective, quantity in (("2026-06-01", "7"), ("2026-02-01", "5"), ("2026-06-01", "8")):
            response = await client.post(
                f"{API}/contracts/{k1}/lines/{ln['id']}/adjustments",
                json={"effective_date": effective, "quantity": quantity},
            )
            assert response.status_code == 201

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    sync_engine = app.state.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        async with app.state.sessionmaker() as session:
            everything = await load_line_terms(session)
            by_customer = await load_line_terms(session, customer_ids=[c1["id"]])
            by_line = await load_line_terms(session, line_ids=[late["id"]])
            by_contract = await load_line_terms(session, contract_ids=[k2])
            # Active on some day of 2026: the line starting in 2027 is left out.
            in_2026 = await load_line_terms(
                session, overlapping=(date(2026, 1, 1), date(2026, 12, 31))
            )
            assert await load_line_terms(session, contract_ids=[]) == []
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert len(statements) == 2 * 5  # two queries per call, however many lines

    assert [t.line_id for t in everything] == [ln["id"] for ln in lines] + [late["id"]]
    assert [t.line_id for t in by_customer] == [ln["id"] for ln in lines]
    assert [t.line_id for t in by_line] == [t.line_id for t in by_contract] == [late["id"]]
    assert [t.line_id for t in in_2026] == [ln["id"] for ln in lines]

    first = everything[0]
    assert (first.customer_id, first.contract_id, first.service_id) == (c1["id"], k1, s["id"])
    assert first.quantity == Decimal(1) and first.unit_price == Decimal("30.00")
    assert first.line_start is None and first.contract_start == date(2026, 1, 15)
    assert first.contract_end == date(2026, 12, 31)
    assert [(a.effective_date, a.quantity) for a in first.adjustments] == [
        (date(2026, 2, 1), Decimal(5)),
        (date(2026, 6, 1), Decimal(7)),
        (date(2026, 6, 1), Decimal(8)),
    ]
    # June: the last recorded of the two 06-01 changes, 8 x 30.00 = 240.00
    assert revenue(first, Period(2026, 6)) == Decimal("240.00")
    assert everything[-1].adjustments == ()
