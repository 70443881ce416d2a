"""Outbound events (docs/events.md): subscriptions, targets refused, the outbox written
with the change that causes it, delivery to a real local HTTP receiver with retries,
Standard Webhooks signatures checked with the reference library, restart."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlmodel import col
from standardwebhooks import Webhook

from app.core.config import Settings
from app.core.db import create_engine
from app.events.models import EventDelivery
from app.events.sender import next_attempt, retry_delay
from app.main import create_app
from tests.conftest import database_url_for, make_client, run_alembic
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.receiver import Received, closed_port_url, receiver
from tests.test_webhooks import deliver

API = "/api/v1"
SUBS = f"{API}/event-subscriptions"
FAST = {"events_allow_private": True, "events_first_retry_seconds": 0.05}


async def wait_for(check: Callable[[], Awaitable[Any]], seconds: float = 10.0) -> Any:
    """Poll `check` until it answers something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def subscribe(client: httpx.AsyncClient, url: str, *events: str) -> dict[str, Any]:
    return await create(client, "event-subscriptions", {"url": url, "events": list(events)})


async def deliveries(client: httpx.AsyncClient, sub_id: int, **params: Any) -> list[Any]:
    response = await client.get(f"{SUBS}/{sub_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def verified(secret: str, request: Received) -> dict[str, Any]:
    """The event, verified with the reference Standard Webhooks library (which raises on
    a bad signature or a stale timestamp)."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


def invoice_payload(vendor_id: int, number: str = "INV-1", **extra: Any) -> dict[str, Any]:
    return {
        "vendor_id": vendor_id,
        "invoice_number": number,
        "invoice_date": "2026-03-31",
        "period": "2026-03",
        "total": "20.00",
        "lines": [{"vendor_sku": "AV", "account_ref": "ACME", "quantity": "10", "unit_cost": "2"}],
        **extra,
    }


# --- subscriptions ---------------------------------------------------------------------------


async def test_subscription_lifecycle_shows_the_secret_once(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(events_allow_private=True)
    created = await subscribe(
        client, "http://127.0.0.1:9/hook", "audit.completed", "vendor_invoice.received"
    )
    assert created["secret"].startswith("whsec_")
    assert len(Webhook(created["secret"])._whsecret) == 32  # the key, base64-decoded
    assert created["events"] == ["vendor_invoice.received", "audit.completed"]
    assert created["active"] is True
    sub_id = created["id"]

    got = (await client.get(f"{SUBS}/{sub_id}")).json()
    assert "secret" not in got and got["url"] == "http://127.0.0.1:9/hook"
    listed = (await client.get(SUBS)).json()
    assert [s["id"] for s in listed["items"]] == [sub_id] and "secret" not in listed["items"][0]

    changed = await client.patch(
        f"{SUBS}/{sub_id}", json={"events": ["billing_run.completed"], "active": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["billing_run.completed"]
    assert changed.json()["active"] is False
    assert_problem(await client.patch(f"{SUBS}/{sub_id}", json={"events": None}), 422)
    assert_problem(await client.patch(f"{SUBS}/{sub_id}", json={"secret": "x"}), 422)

    assert (await client.delete(f"{SUBS}/{sub_id}")).status_code == 204
    assert_problem(await client.get(f"{SUBS}/{sub_id}"), 404)
    assert_problem(await client.get(f"{SUBS}/{sub_id}/deliveries"), 404)


async def test_bad_subscriptions_are_422(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(events_allow_private=True)
    for body, field in (
        ({"url": "http://127.0.0.1/h", "events": ["invoice.paid"]}, "body.events"),
        ({"url": "http://127.0.0.1/h", "events": []}, "body.events"),
        ({"url": "ftp://127.0.0.1/h", "events": ["audit.completed"]}, "body.url"),
        ({"url": "127.0.0.1/h", "events": ["audit.completed"]}, "body.url"),
        ({"url": "http:///h", "events": ["audit.completed"]}, "body.url"),
        ({"url": "http://127.0.0.1:99999/h", "events": ["audit.completed"]}, "body.url"),
    ):
        assert_problem(await client.post(SUBS, json=body), 422, field)
    assert (await client.get(SUBS)).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::5]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",
    ],
)
async def test_private_loopback_and_link_local_targets_are_refused(
    client: httpx.AsyncClient, url: str
) -> None:
    problem = assert_problem(
        await client.post(SUBS, json={"url": url, "events": ["audit.completed"]}), 422, "url"
    )
    assert "MSP_EVENTS_ALLOW_PRIVATE" in problem["errors"][0]["message"]
    assert (await client.get(SUBS)).json()["items"] == []


async def test_public_targets_are_accepted_and_private_ones_only_when_allowed(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    public = await subscribe(client, "https://93.184.215.14/hook", "billing_run.completed")
    refused = await client.patch(f"{SUBS}/{public['id']}", json={"url": "http://10.0.0.8/h"})
    assert_problem(refused, 422, "url")
    assert (await client.get(f"{SUBS}/{public['id']}")).json()["url"] == (
        "https://93.184.215.14/hook"
    )
    app_settings(events_allow_private=True)
    allowed = await client.patch(f"{SUBS}/{public['id']}", json={"url": "http://10.0.0.8/h"})
    assert allowed.status_code == 200, allowed.text
    await subscribe(client, "http://127.0.0.1:8080/hook", "audit.completed")


async def test_subscriptions_need_the_admin_scope(app: Any, client: httpx.AsyncClient) -> None:
    key = await client.post(f"{API}/api-keys", json={"name": "w", "scopes": ["read", "write"]})
    assert key.status_code == 201, key.text
    async with make_client(app, key.json()["key"]) as writer:
        body = {"url": "https://93.184.215.14/h", "events": ["audit.completed"]}
        assert_problem(await writer.post(SUBS, json=body), 403)
        assert_problem(await writer.get(SUBS), 403)


# --- retries ---------------------------------------------------------------------------------


def test_the_retry_schedule_doubles_caps_at_an_hour_and_gives_up_after_a_day() -> None:
    settings = Settings()
    delays = [retry_delay(n, settings) for n in range(1, 13)]
    assert delays == [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
    # Attempts that fail at once: the 10th starts 10+20+...+2560 = 5110 s after the
    # first, then one an hour; the 32nd at 5110 + 22 x 3600 = 84310 s, and a 33rd would
    # start at 87910 s, past the 86400 s (24 hours) after the first: failed for good.
    first = datetime(2026, 12, 1, tzinfo=UTC)
    at = first
    times = [0.0]
    for attempts in range(1, 100):
        due = next_attempt(first, attempts, at, settings)
        if due is None:
            break
        at = due
        times.append((at - first).total_seconds())
    assert len(times) == 32
    assert times[:4] == [0, 10, 30, 70] and times[9] == 5110 and times[-1] == 84310
    assert next_attempt(first, 31, first + timedelta(seconds=80710), settings) == (
        first + timedelta(seconds=84310)
    )
    assert next_attempt(first, 32, first + timedelta(seconds=84310), settings) is None


async def test_a_down_receiver_never_fails_the_request_and_the_retry_is_scheduled(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    """Nothing listens on the target: the invoice is stored (201, at once), the attempt
    is recorded as an error, and the next one is due 10 seconds after it started."""
    app_settings(events_allow_private=True)
    sub = await subscribe(client, closed_port_url(), "vendor_invoice.received")
    v = await vendor(client)
    started = time.monotonic()
    response = await client.post(f"{API}/vendor-invoices", json=invoice_payload(v["id"]))
    assert response.status_code == 201, response.text
    assert time.monotonic() - started < 5

    async def attempted() -> list[Any]:
        items = await deliveries(client, sub["id"])
        return items if items and items[0]["attempt_count"] == 1 else []

    (delivery,) = await wait_for(attempted)
    assert delivery["status"] == "pending"
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"]
    assert attempt["duration_ms"] >= 0
    first = datetime.fromisoformat(delivery["first_attempt_at"])
    assert datetime.fromisoformat(attempt["attempted_at"]) == first
    assert datetime.fromisoformat(delivery["last_attempt_at"]) == first
    assert datetime.fromisoformat(delivery["next_attempt_at"]) == first + timedelta(seconds=10)
    assert delivery["event"]["data"]["id"] == response.json()["id"]


async def test_a_paused_subscription_keeps_its_pending_deliveries_unsent(
    app: Any, client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    """Paused with a retry due: nothing is attempted, and the sender does not count it
    as due (it would wake again at once, forever); resumed, it is attempted."""
    app_settings(events_allow_private=True)
    sub = await subscribe(client, closed_port_url(), "vendor_invoice.received")
    v = await vendor(client)
    await create(client, "vendor-invoices", invoice_payload(v["id"]))

    async def attempted() -> list[Any]:
        items = await deliveries(client, sub["id"])
        return items if items and items[0]["attempt_count"] == 1 else []

    await wait_for(attempted)
    await client.patch(f"{SUBS}/{sub['id']}", json={"active": False})
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(EventDelivery).values(next_attempt_at=datetime.now(UTC) - timedelta(hours=1))
        )
        await session.commit()
    sender = app.state.event_sender
    assert await sender.seconds_to_next(4.0) == 4.0
    assert await sender.run_once() == 0
    (delivery,) = await deliveries(client, sub["id"])
    assert delivery["attempt_count"] == 1 and delivery["status"] == "pending"
    await client.patch(f"{SUBS}/{sub['id']}", json={"active": True})
    sender.nudge()  # the PATCH writes no delivery; the next poll would find it too
    await wait_for(lambda: _attempts(client, sub["id"], 2))


async def _attempts(client: httpx.AsyncClient, sub_id: int, n: int) -> bool:
    (delivery,) = await deliveries(client, sub_id)
    return bool(delivery["attempt_count"] >= n)


async def test_a_receiver_failing_at_first_gets_the_event_signed_after_retries(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    settings = app_settings(**FAST)
    with receiver(fail_first=3) as hook:
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        v = await vendor(client)
        stored = await create(client, "vendor-invoices", invoice_payload(v["id"], total="123.45"))

        async def done() -> list[Any]:
            items = await deliveries(client, sub["id"])
            return items if items and items[0]["status"] == "delivered" else []

        (delivery,) = await wait_for(done)
    assert [r.status for r in hook.requests] == [503, 503, 503, 204]
    # One event, one webhook-id (the delivery's id) on every attempt, each signed anew.
    assert {r.headers["webhook-id"] for r in hook.requests} == {str(delivery["id"])}
    events = [verified(sub["secret"], r) for r in hook.requests]
    assert all(e == events[0] for e in events)
    event = events[0]
    assert event["type"] == "vendor_invoice.received"
    assert datetime.fromisoformat(event["timestamp"]) <= datetime.now(UTC)
    data = event["data"]
    assert (data["id"], data["vendor_id"], data["invoice_number"], data["period"]) == (
        stored["id"], v["id"], "INV-1", "2026-03",
    )  # fmt: skip
    assert data["total"] == "123.45" and data["lines_total"] == "20.00"
    # With the invoice's checks, as the answer gave them: 123.45 - 20.00 = 103.45 apart.
    assert data["checks"] == stored["checks"]
    assert ("INVOICE_TOTAL_MISMATCH", "103.45") in {
        (c["type"], c["impact"]) for c in data["checks"]
    }
    assert delivery["event"] == event
    assert delivery["attempt_count"] == 4 and delivery["next_attempt_at"] is None
    codes = [a["status_code"] for a in delivery["attempts"]]
    assert codes == [503, 503, 503, 204]
    # Each retry waits at least twice as long as the one before: 0.05, 0.1, 0.2 s.
    times = [datetime.fromisoformat(a["attempted_at"]) for a in delivery["attempts"]]
    for n, (before, after) in enumerate(zip(times, times[1:], strict=False), start=1):
        assert (after - before).total_seconds() >= retry_delay(n, settings)
    assert datetime.fromisoformat(delivery["delivered_at"]) >= times[-1]
    # A forged or tampered body fails the reference verification.
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(sub["secret"]).verify(hook.requests[-1].body + b" ", hook.requests[-1].headers)


async def test_a_delivery_fails_for_good_after_the_give_up_time(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    """Retries 0.05, 0.1, 0.2 s ... and nothing later than 0.3 s after the first attempt:
    on time, attempts start at 0, 0.05 and 0.15 s, and a fourth would start at 0.35 s, so
    the third failure is the last (a busy machine starts them later: the rule is checked
    on the times recorded). Redirects are failures, never followed."""
    settings = app_settings(**FAST, events_give_up_seconds=0.3)
    with receiver(fail_first=100) as hook:
        hook.fail_status = 307
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        v = await vendor(client)
        await create(client, "vendor-invoices", invoice_payload(v["id"]))

        async def failed() -> list[Any]:
            return await deliveries(client, sub["id"], status="failed")

        (delivery,) = await wait_for(failed)
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"] is None
    codes = [a["status_code"] for a in delivery["attempts"]]
    assert len(codes) >= 2 and set(codes) == {307}
    times = [datetime.fromisoformat(a["attempted_at"]) for a in delivery["attempts"]]
    limit = times[0] + timedelta(seconds=0.3)
    for n, at in enumerate(times, start=1):
        due = at + timedelta(seconds=retry_delay(n, settings))
        assert (due > limit) == (n == len(times))  # only the last one's retry falls past
    assert len(hook.requests) == len(codes)  # the Location was never asked for
    assert {r.headers["webhook-id"] for r in hook.requests} == {str(delivery["id"])}


async def test_the_target_is_checked_again_before_each_attempt(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    """Accepted while private addresses were allowed; no longer allowed when the event
    is sent: the attempt is refused, recorded with the reason, and nothing is sent."""
    with receiver() as hook:
        app_settings(events_allow_private=True)
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        app_settings(events_allow_private=False)
        v = await vendor(client)
        await create(client, "vendor-invoices", invoice_payload(v["id"]))

        async def attempted() -> list[Any]:
            items = await deliveries(client, sub["id"])
            return items if items and items[0]["attempts"] else []

        (delivery,) = await wait_for(attempted)
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("refused: the host 127.0.0.1 resolves to 127.0.0.1")
    assert delivery["status"] == "pending" and hook.requests == []


async def test_every_way_in_and_every_producer_writes_its_events(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST)
    with receiver() as hook:
        sub = await subscribe(
            client,
            hook.url,
            "vendor_invoice.received",
            "audit.completed",
            "finding.opened",
            "billing_run.completed",
        )
        v = await vendor(client)
        s = await service(client, "AV", vendor_id=v["id"], vendor_sku="AV")
        c = await customer(client)
        await create(
            client,
            f"customers/{c['id']}/vendor-accounts",
            {"vendor_id": v["id"], "account_ref": "ACME"},
        )
        # JSON, CSV and webhook: one vendor_invoice.received each.
        json_invoice = await create(client, "vendor-invoices", invoice_payload(v["id"]))
        csv = await client.post(
            f"{API}/vendor-invoices/import",
            data={"vendor_id": str(v["id"]), "invoice_number": "CSV-1",
                  "invoice_date": "2026-04-30", "period": "2026-04", "total": "4.00"},
            files={"file": ("i.csv", b"vendor_sku,account_ref,description,quantity,unit_cost,"
                            b"amount\nAV,ACME,x,2,2.00,\n", "text/csv")},
        )  # fmt: skip
        assert csv.status_code == 201, csv.text
        pushed = await deliver(
            client,
            v["id"],
            v["webhook_secret"],
            {
                k: w
                for k, w in invoice_payload(v["id"], "HOOK-1", period="2026-05").items()
                if k != "vendor_id"
            },
        )
        assert pushed.status_code == 200, pushed.text
        # Refused requests write nothing: a duplicate number (409), a bad invoice (422).
        again = await client.post(f"{API}/vendor-invoices", json=invoice_payload(v["id"]))
        assert_problem(again, 409)
        # The audit of March: ORPHANED_COST (high) for the 10 seats nobody is billed for,
        # opened once; the re-run completes again but opens nothing.
        first = await create(client, "audits", {"period": "2026-03"})
        second = await create(client, "audits", {"period": "2026-03"})
        # A billing run of April drafts one invoice: 3 seats x 22.00.
        k = await contract(client, c["id"], start_date="2026-04-01")
        await line(client, k["id"], s["id"], "3")
        run = await create(client, "billing-runs", {"period": "2026-04"})

        await wait_for(lambda: _count(hook.delivered, 7))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for request in hook.delivered():
        event = verified(sub["secret"], request)
        by_type.setdefault(event["type"], []).append(event["data"])
    received = sorted(by_type["vendor_invoice.received"], key=lambda d: d["id"])
    assert [(d["invoice_number"], d["source"], d["total"]) for d in received] == [
        ("INV-1", "api", "20.00"), ("CSV-1", "csv", "4.00"), ("HOOK-1", "webhook", "20.00"),
    ]  # fmt: skip
    assert received[0]["id"] == json_invoice["id"]
    audits = sorted(by_type["audit.completed"], key=lambda d: d["id"])
    assert [a["id"] for a in audits] == [first["id"], second["id"]]
    assert audits[0]["summary"] == first["summary"]
    (opened,) = by_type["finding.opened"]
    findings = (await client.get(f"{API}/audits/{first['id']}/findings")).json()["items"]
    orphaned = [f for f in findings if f["type"] == "ORPHANED_COST"]
    assert len(orphaned) == 1
    assert opened["id"] == orphaned[0]["id"] and opened["severity"] == "high"
    assert opened["audit_id"] == first["id"] and opened["impact"] == "20.00"
    (billed,) = by_type["billing_run.completed"]
    assert billed["id"] == run["id"] and billed["invoices_created"] == 1
    assert billed["total"] == "66.00"
    assert len(await deliveries(client, sub["id"])) == 7
    # The receiver answers before the sender records the answer.
    await wait_for(lambda: _delivered(client, sub["id"], 7))
    assert await deliveries(client, sub["id"], status="pending") == []


async def _count(delivered: Callable[[], list[Received]], n: int) -> bool:
    got = len(delivered())
    assert got <= n, f"{got} events, expected {n}"
    return got == n


async def test_one_delivery_per_subscription_and_none_for_inactive_ones(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST)
    with receiver() as one, receiver() as two:
        a = await subscribe(client, one.url, "vendor_invoice.received")
        b = await subscribe(client, two.url, "vendor_invoice.received", "audit.completed")
        paused = await subscribe(client, two.url, "vendor_invoice.received")
        await client.patch(f"{SUBS}/{paused['id']}", json={"active": False})
        await subscribe(client, two.url, "audit.completed")
        v = await vendor(client)
        await create(client, "vendor-invoices", invoice_payload(v["id"]))
        await wait_for(lambda: _count(two.delivered, 1))
        await wait_for(lambda: _count(one.delivered, 1))
    assert verified(a["secret"], one.requests[0])["type"] == "vendor_invoice.received"
    assert verified(b["secret"], two.requests[0])["type"] == "vendor_invoice.received"
    assert await deliveries(client, paused["id"]) == []


async def test_deliveries_are_paged(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST)
    with receiver() as hook:
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        v = await vendor(client)
        for n in range(3):
            await create(client, "vendor-invoices", invoice_payload(v["id"], f"INV-{n}"))
        await wait_for(lambda: _count(hook.delivered, 3))
    page = (await client.get(f"{SUBS}/{sub['id']}/deliveries", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await client.get(
        f"{SUBS}/{sub['id']}/deliveries", params={"limit": 2, "cursor": page["next_cursor"]}
    )
    numbers = [d["event"]["data"]["invoice_number"] for d in page["items"] + rest.json()["items"]]
    assert numbers == ["INV-0", "INV-1", "INV-2"] and rest.json()["next_cursor"] is None


# --- restart ---------------------------------------------------------------------------------


async def test_pending_deliveries_resume_after_a_restart(backend: str, tmp_path: Path) -> None:
    """The first app stops with the delivery pending (the receiver failed); a new app on
    the same database delivers it."""
    url = await database_url_for(backend, tmp_path, "events_restart")
    await run_alembic(url, "upgrade", "head")
    settings = Settings(
        database_url=url,
        admin_api_key="msp_restart_admin_key_0123456789",
        log_json=False,
        events_allow_private=True,
        events_first_retry_seconds=0.2,
    )
    with receiver() as hook:
        hook.failing = True
        first = create_app(settings)
        async with first.router.lifespan_context(first):
            async with make_client(first, "msp_restart_admin_key_0123456789") as http:
                sub = await subscribe(http, hook.url, "vendor_invoice.received")
                v = await vendor(http)
                await create(http, "vendor-invoices", invoice_payload(v["id"]))
                await wait_for(lambda: _attempts(http, sub["id"], 1))
        stopped = datetime.now(UTC)
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                state = (
                    await connection.execute(
                        select(col(EventDelivery.status), col(EventDelivery.attempt_count))
                    )
                ).all()
        finally:
            await engine.dispose()
        ((status, tried),) = state
        assert status == "pending" and tried >= 1
        hook.failing = False

        second = create_app(settings)
        async with second.router.lifespan_context(second):
            async with make_client(second, "msp_restart_admin_key_0123456789") as http:
                await wait_for(lambda: _delivered(http, sub["id"], 1))
                (delivery,) = await deliveries(http, sub["id"])
    assert delivery["status"] == "delivered"
    # The attempts recorded by the first app, then the one of the second.
    assert delivery["attempt_count"] == tried + 1
    assert [a["status_code"] for a in delivery["attempts"]] == [503] * tried + [204]
    assert datetime.fromisoformat(delivery["attempts"][-1]["attempted_at"]) > stopped
    assert len(hook.delivered()) == 1
    event = verified(sub["secret"], hook.delivered()[0])
    assert event["data"]["invoice_number"] == "INV-1"
    assert json.loads(hook.requests[0].body) == event


async def _delivered(client: httpx.AsyncClient, sub_id: int, n: int) -> bool:
    return len(await deliveries(client, sub_id, status="delivered")) == n


async def _at_least(items: list[Any], n: int) -> bool:
    return len(items) >= n


# --- redelivery and secret rotation (docs/events.md#redelivery, #rotating-the-secret) -------


async def test_a_failed_delivery_is_sent_again_by_hand(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST, events_give_up_seconds=0.3)
    with receiver(fail_first=100) as hook:
        hook.failing = True
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        v = await vendor(client)
        await create(client, "vendor-invoices", invoice_payload(v["id"]))

        async def failed() -> list[Any]:
            return await deliveries(client, sub["id"], status="failed")

        (delivery,) = await wait_for(failed)
        earlier = len(delivery["attempts"])
        # The receiver is fixed; the failed event goes again, due now, a new round.
        hook.failing, hook.fail_first = False, 0
        again = await client.post(f"{SUBS}/{sub['id']}/deliveries/{delivery['id']}/redeliver")
        assert again.status_code == 200, again.text
        scheduled = again.json()
        assert scheduled["status"] == "pending" and scheduled["attempt_count"] == 0
        assert scheduled["first_attempt_at"] is None and scheduled["next_attempt_at"]
        assert len(scheduled["attempts"]) == earlier  # the history kept
        # Pending: nothing to redeliver.
        busy = await client.post(f"{SUBS}/{sub['id']}/deliveries/{delivery['id']}/redeliver")
        assert_problem(busy, 409)

        async def delivered() -> list[Any]:
            return await deliveries(client, sub["id"], status="delivered")

        (done,) = await wait_for(delivered)
    assert done["id"] == delivery["id"] and done["attempt_count"] == 1
    assert len(done["attempts"]) == earlier + 1 and done["attempts"][-1]["status_code"] == 204
    # The same event and webhook-id as every earlier attempt.
    assert {r.headers["webhook-id"] for r in hook.requests} == {str(delivery["id"])}
    assert verified(sub["secret"], hook.delivered()[0]) == delivery["event"]
    # Delivered: it can go again (a receiver that lost it); another subscription's id: 404.
    assert (
        await client.post(f"{SUBS}/{sub['id']}/deliveries/{delivery['id']}/redeliver")
    ).status_code == 200
    other = await subscribe(client, hook.url, "audit.completed")
    assert_problem(
        await client.post(f"{SUBS}/{other['id']}/deliveries/{delivery['id']}/redeliver"), 404
    )


async def test_a_rotated_secret_signs_beside_the_new_one_for_the_overlap(
    client: httpx.AsyncClient, app_settings: Callable[..., Settings]
) -> None:
    app_settings(**FAST, events_secret_overlap_seconds=3600)
    with receiver() as hook:
        sub = await subscribe(client, hook.url, "vendor_invoice.received")
        rotated = await client.post(f"{SUBS}/{sub['id']}/secret")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()
        assert new["secret"].startswith("whsec_") and new["secret"] != sub["secret"]
        until = datetime.fromisoformat(new["previous_secret_until"])
        assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
        # The secret is shown in that answer only.
        assert "secret" not in (await client.get(f"{SUBS}/{sub['id']}")).json()
        v = await vendor(client)
        await create(client, "vendor-invoices", invoice_payload(v["id"]))
        await wait_for(lambda: _delivered_count(hook, 1))
        # Two signatures: each secret verifies the event with the reference library.
        request = hook.delivered()[0]
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        assert verified(new["secret"], request) == verified(sub["secret"], request)
        # Rotated again with no overlap: the first secret no longer signs, nor the second.
        app_settings(events_secret_overlap_seconds=0)
        newest = (await client.post(f"{SUBS}/{sub['id']}/secret")).json()
        await create(client, "vendor-invoices", invoice_payload(v["id"], "INV-2"))
        await wait_for(lambda: _delivered_count(hook, 2))
    last = hook.delivered()[1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    verified(newest["secret"], last)
    for stale in (sub["secret"], new["secret"]):
        with pytest.raises(Exception, match="No matching signature"):
            Webhook(stale).verify(last.body, last.headers)
    assert_problem(await client.post(f"{SUBS}/999999/secret"), 404)


async def _delivered_count(hook: Any, n: int) -> bool:
    return len(hook.delivered()) >= n
