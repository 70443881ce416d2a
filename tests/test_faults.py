"""Faults, on both backends: the database going away answers 503 problem details
(webhooks: a 5xx, so the vendor retries) and stores nothing partial; racing redeliveries
store one invoice; concurrent audits of one period agree; a restart loses nothing that
was acknowledged."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.core.config import Settings
from app.core.db import _drop_closed_connection, create_sessionmaker
from app.core.signature import sign
from app.main import create_app
from app.vendor_invoices.models import VendorInvoice, VendorInvoiceLine
from app.webhooks import service as webhook_service
from app.webhooks.models import WebhookEvent
from tests.conftest import POSTGRES_URL, make_client
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor

# What a 503 must never show: the exception, the driver, the database's address.
INTERNALS = ("Traceback", "OperationalError", "sqlalchemy", "asyncpg", "sqlite", "127.0.0.1")


def hook_path(vendor_id: int) -> str:
    return f"/api/v1/webhooks/vendors/{vendor_id}/invoices"


def invoice(number: str, *, lines: int = 3, period: str = "2026-03") -> dict[str, Any]:
    return {
        "invoice_number": number,
        "invoice_date": "2026-03-31",
        "period": period,
        "total": f"{11 * 10 * lines}.00",
        "lines": [
            {
                "vendor_sku": "AV-SEAT",
                "account_ref": f"ACME-{i}",
                "quantity": "10",
                "unit_cost": "11",
            }
            for i in range(lines)
        ],
    }


def signed(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    now = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, msg_id, now, body),
        "content-type": "application/json",
    }


async def deliver(
    http: httpx.AsyncClient, hook: dict[str, Any], payload: dict[str, Any], msg_id: str
) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await http.post(
        hook_path(hook["id"]), content=body, headers=signed(hook["webhook_secret"], body, msg_id)
    )


async def counts(app: Any) -> tuple[int, int, int]:
    """(webhook events, vendor invoices, vendor invoice lines) stored."""
    async with app.state.sessionmaker() as session:
        found = []
        for model in (WebhookEvent, VendorInvoice, VendorInvoiceLine):
            found.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return found[0], found[1], found[2]


async def stored_event(app: Any, vendor_id: int, msg_id: str) -> WebhookEvent | None:
    async with app.state.sessionmaker() as session:
        event: WebhookEvent | None = await session.scalar(
            select(WebhookEvent).where(
                WebhookEvent.vendor_id == vendor_id,  # type: ignore[arg-type]
                WebhookEvent.webhook_id == msg_id,  # type: ignore[arg-type]
            )
        )
    return event


def assert_unavailable(response: httpx.Response) -> None:
    """503 problem details that tell the client to retry and nothing about the cause."""
    body = assert_problem(response, 503)
    assert response.headers.get("retry-after"), response.headers
    assert set(body) <= {"type", "title", "status", "detail", "instance", "request_id"}, body
    for word in INTERNALS:
        assert word.lower() not in response.text.lower(), response.text


@pytest.fixture
async def pax8(client: httpx.AsyncClient) -> dict[str, Any]:
    return await vendor(client, "Pax8")


# --- a. the database goes away ---------------------------------------------------------------


def unreachable_url(backend: str, tmp_path: Path) -> str:
    """A database of the backend that cannot be reached: a closed port, or a SQLite file
    in a directory that does not exist."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'db.sqlite3'}"
    return str(make_url(POSTGRES_URL).set(host="127.0.0.1", port=1))


@pytest_asyncio.fixture
async def database_gone(
    app: Any, backend: str, tmp_path: Path
) -> AsyncIterator[Callable[[bool], None]]:
    """database_gone(True) points the running app at a database that is no longer there;
    database_gone(False) brings the real one back (as does the end of the test)."""
    broken = create_async_engine(unreachable_url(backend, tmp_path), hide_parameters=True)
    real = (app.state.engine, app.state.sessionmaker)

    def gone(yes: bool = True) -> None:
        # Set by hand: monkeypatch cannot restore attributes of starlette's State.
        if yes:
            app.state.engine, app.state.sessionmaker = broken, create_sessionmaker(broken)
        else:
            app.state.engine, app.state.sessionmaker = real

    try:
        yield gone
    finally:
        gone(False)
        await broken.dispose()


async def test_database_unreachable_is_503_problem(
    app: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    database_gone: Callable[[bool], None],
) -> None:
    body = json.dumps(invoice("GONE-1")).encode()
    headers = signed(pax8["webhook_secret"], body, "msg_gone")
    database_gone(True)

    assert_unavailable(await client.get("/api/v1/customers"))
    assert_unavailable(await client.post("/api/v1/customers", json={"name": "Lost Ltd"}))
    assert_unavailable(
        await client.post(
            "/api/v1/customers", json={"name": "Lost Ltd"}, headers={"Idempotency-Key": "k-1"}
        )
    )
    assert_unavailable(await client.post("/api/v1/audits", json={"period": "2026-03"}))
    # The vendor gets a 5xx, which Standard Webhooks senders retry.
    assert_unavailable(await anon.post(hook_path(pax8["id"]), content=body, headers=headers))
    # Readiness says so; liveness does not depend on the database.
    assert_problem(await anon.get("/readyz"), 503)
    assert (await anon.get("/healthz")).status_code == 200


async def test_database_back_after_outage(
    app: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    database_gone: Callable[[bool], None],
) -> None:
    """The webhook the vendor retries after the outage is processed once; a create that
    failed stored nothing."""
    payload = invoice("BACK-1")
    database_gone(True)
    assert_unavailable(await deliver(anon, pax8, payload, "msg_back"))
    assert_unavailable(await client.post("/api/v1/customers", json={"name": "Lost Ltd"}))
    database_gone(False)

    retried = await deliver(anon, pax8, payload, "msg_back")
    assert retried.status_code == 200, retried.text
    assert await counts(app) == (1, 1, 3)
    assert (await client.get("/api/v1/customers")).json()["items"] == []


async def test_pool_disposed_between_requests(app: Any, client: httpx.AsyncClient) -> None:
    """Every pooled connection closed (a failover, a restarted database): the next
    request connects again."""
    await create(client, "customers", {"name": "Before Ltd"})
    await app.state.engine.dispose()
    assert len((await client.get("/api/v1/customers")).json()["items"]) == 1
    await create(client, "customers", {"name": "After Ltd"})


async def test_pool_exhausted_is_503(app: Any, client: httpx.AsyncClient) -> None:
    """Every connection busy past the pool timeout (the database saturated): 503, not a
    request hanging or a 500. A pool of one, held by the test."""
    tiny = create_async_engine(
        app.state.settings.resolved_database_url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
        hide_parameters=True,
    )
    real = (app.state.engine, app.state.sessionmaker)
    try:
        async with tiny.connect() as held:
            await held.execute(text("SELECT 1"))
            app.state.engine, app.state.sessionmaker = tiny, create_sessionmaker(tiny)
            assert_unavailable(await client.get("/api/v1/customers"))
            assert_unavailable(await client.post("/api/v1/customers", json={"name": "Late"}))
        # Released: the same pool serves again.
        assert (await client.get("/api/v1/customers")).json()["items"] == []
    finally:
        app.state.engine, app.state.sessionmaker = real
        await tiny.dispose()


async def test_connections_killed_by_postgres(
    app: Any, backend: str, client: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    """PostgreSQL restarted under the pool: its connections are dead. The pool replaces
    those it sees closed at checkout (no ping round trip); a read that meets one the
    server has not closed yet runs once more, and SQLAlchemy renews the whole pool. So
    requests after it work (no 500, no 503)."""
    if backend != "postgresql":
        pytest.skip("connections to kill are PostgreSQL's")
    await create(client, "customers", {"name": "Before Ltd"})
    await _terminate_other_connections(app)
    assert len((await client.get("/api/v1/customers")).json()["items"]) == 1
    await create(client, "customers", {"name": "After Ltd"})


async def test_a_read_on_a_dead_connection_runs_once_more(
    app: Any, backend: str, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A connection that died before the pool could see it (here the check at checkout is
    off, so every pooled connection is handed out dead): a read runs once more on a new
    connection, and the write after it finds the pool renewed."""
    if backend != "postgresql":
        pytest.skip("connections to kill are PostgreSQL's")
    await create(client, "customers", {"name": "Before Ltd"})
    sync_engine = app.state.engine.sync_engine
    event.remove(sync_engine, "checkout", _drop_closed_connection)
    try:
        await _terminate_other_connections(app, wait=True)
        with caplog.at_level(logging.WARNING, logger="app.routing"):
            listed = await client.get("/api/v1/customers")
        assert listed.status_code == 200, listed.text
        assert len(listed.json()["items"]) == 1
        assert "running it once more" in caplog.text
        await create(client, "customers", {"name": "After Ltd"})
    finally:
        event.listen(sync_engine, "checkout", _drop_closed_connection)


async def _terminate_other_connections(app: Any, *, wait: bool = False) -> None:
    """Kill every session of the test database but the one asking."""
    killer = create_async_engine(app.state.settings.resolved_database_url)
    try:
        async with killer.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            # pg_terminate_backend only signals: wait until the backends have exited.
            for _ in range(100 if wait else 0):
                others = await connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                if not others:
                    break
                await asyncio.sleep(0.05)
    finally:
        await killer.dispose()


class CommitFails:
    """AsyncSession.commit raising OperationalError("connection lost") for the next
    `times` calls: the connection dies after the writes were flushed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
        self.left = times
        self.failed = 0
        original = AsyncSession.commit

        async def commit(session: AsyncSession) -> None:
            if self.left > 0:
                self.left -= 1
                self.failed += 1
                raise OperationalError("COMMIT", None, Exception("connection lost"))
            await original(session)

        monkeypatch.setattr(AsyncSession, "commit", commit)


async def test_commit_lost_on_a_create_is_503_and_stores_nothing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = CommitFails(monkeypatch, times=1)
    response = await client.post("/api/v1/customers", json={"name": "Half Ltd"})
    assert fault.failed == 1
    assert_unavailable(response)
    assert (await client.get("/api/v1/customers")).json()["items"] == []


@pytest.mark.parametrize("times", [1, 2], ids=["event-recorded", "nothing-recorded"])
async def test_commit_lost_on_a_webhook_is_5xx_and_no_partial_invoice(
    app: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    times: int,
) -> None:
    """The commit of the event with its invoice fails after the invoice and its lines
    were flushed. With one failure the crash is still recorded on the event (failed,
    "internal error", no answer kept); with two, not even that. Either way: a 5xx, no
    invoice, and the vendor's retry of the same webhook-id is processed, once."""
    payload = invoice("LOST-1", lines=5)
    fault = CommitFails(monkeypatch, times=times)
    crashed = await deliver(anon, pax8, payload, "msg_lost")
    assert fault.failed == times
    assert_unavailable(crashed)
    monkeypatch.undo()

    events, invoices, lines = await counts(app)
    assert (invoices, lines) == (0, 0)
    event = await stored_event(app, pax8["id"], "msg_lost")
    if times == 1:
        assert event is not None and events == 1
        assert (event.status, event.error, event.response_status) == (
            "failed",
            "internal error",
            None,
        )
    else:
        assert event is None and events == 0

    retried = await deliver(anon, pax8, payload, "msg_lost")
    assert retried.status_code == 200, retried.text
    assert await counts(app) == (1, 1, 5)
    again = await deliver(anon, pax8, payload, "msg_lost")
    assert again.status_code == 200 and again.json() == retried.json()
    assert again.headers.get("webhook-replayed") == "true"
    assert await counts(app) == (1, 1, 5)
    listed = (await client.get("/api/v1/vendor-invoices")).json()["items"]
    assert [i["invoice_number"] for i in listed] == ["LOST-1"]


async def test_connection_killed_mid_webhook(
    app: Any,
    backend: str,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL kills the delivery's connection while the invoice is being written:
    a 5xx (the connection is gone, so 503), nothing partial, the retry processed."""
    if backend != "postgresql":
        pytest.skip("a real connection kill needs PostgreSQL")
    original = webhook_service.ingest

    async def ingest_then_lose_the_connection(session: AsyncSession, **kwargs: Any) -> Any:
        invoice_row = await original(session, **kwargs)
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = create_async_engine(app.state.settings.resolved_database_url)
        try:
            async with killer.connect() as connection:
                await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await killer.dispose()
        return invoice_row

    monkeypatch.setattr(webhook_service, "ingest", ingest_then_lose_the_connection)
    payload = invoice("KILLED-1", lines=4)
    crashed = await deliver(anon, pax8, payload, "msg_killed")
    assert_unavailable(crashed)
    monkeypatch.undo()
    events, invoices, lines = await counts(app)
    assert (invoices, lines) == (0, 0)

    retried = await deliver(anon, pax8, payload, "msg_killed")
    assert retried.status_code == 200, retried.text
    assert await counts(app) == (1, 1, 4)


# --- b. racing redeliveries ------------------------------------------------------------------


async def test_fifty_concurrent_redeliveries_store_one_invoice(
    app: Any, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    body = json.dumps(invoice("RACE-50", lines=20)).encode()
    headers = signed(pax8["webhook_secret"], body, "msg_race_50")
    responses = await asyncio.gather(
        *(anon.post(hook_path(pax8["id"]), content=body, headers=headers) for _ in range(50))
    )
    assert [r.status_code for r in responses] == [200] * 50, {r.text for r in responses}
    first = responses[0].json()
    assert all(r.json() == first for r in responses)
    assert sum(r.headers.get("webhook-replayed") != "true" for r in responses) == 1
    assert await counts(app) == (1, 1, 20)
    event = await stored_event(app, pax8["id"], "msg_race_50")
    assert event is not None and event.attempts == 1 and event.invoice_id == first["invoice_id"]


# --- c. concurrent audits --------------------------------------------------------------------


async def _audit_data(client: httpx.AsyncClient) -> None:
    """A period with leaks of several kinds: unbilled seats, overbilled seats, an
    unmapped SKU and an unmapped account."""
    v = await vendor(client, "Pax8")
    seats = await service(client, "M365-BP", vendor_id=v["id"], vendor_sku="V-M365")
    backup = await service(
        client, "BACKUP", vendor_id=v["id"], vendor_sku="V-BKP", unit_price="5", unit_cost="3"
    )
    seats_billed_used = [("10", "12"), ("8", "5"), ("4", "4")]
    for n, (billed, _) in enumerate(seats_billed_used):
        c = await customer(client, f"Customer {n}")
        await create(
            client,
            f"customers/{c['id']}/vendor-accounts",
            {"vendor_id": v["id"], "account_ref": f"ACCT-{n}"},
        )
        k = await contract(client, c["id"], "2026-01-01")
        await line(client, k["id"], seats["id"], billed)
        await line(client, k["id"], backup["id"], "100")
    vendor_lines = [
        {"vendor_sku": "V-M365", "account_ref": f"ACCT-{n}", "quantity": used, "unit_cost": "18"}
        for n, (_, used) in enumerate(seats_billed_used)
    ] + [
        {"vendor_sku": "V-UNKNOWN", "account_ref": "ACCT-0", "quantity": "1", "unit_cost": "7"},
        {"vendor_sku": "V-M365", "account_ref": "NOBODY", "quantity": "3", "unit_cost": "18"},
    ]
    total = sum(int(item["quantity"]) * int(item["unit_cost"]) for item in vendor_lines)
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": v["id"],
            "invoice_number": "AUD-1",
            "invoice_date": "2026-03-31",
            "period": "2026-03",
            "total": f"{total}.00",
            "lines": vendor_lines,
        },
    )


async def _findings(client: httpx.AsyncClient, audit_id: int) -> list[tuple[Any, ...]]:
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"/api/v1/audits/{audit_id}/findings", params=params)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    return sorted((f["type"], f["customer_id"], f["service_id"], f["impact"]) for f in found)


async def test_two_audits_of_one_period_at_once(client: httpx.AsyncClient) -> None:
    await _audit_data(client)
    first, second = await asyncio.gather(
        client.post("/api/v1/audits", json={"period": "2026-03"}),
        client.post("/api/v1/audits", json={"period": "2026-03"}),
    )
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    a, b = first.json(), second.json()
    assert a["id"] != b["id"]
    assert a["summary"] == b["summary"]
    findings_a = await _findings(client, a["id"])
    assert findings_a == await _findings(client, b["id"])
    kinds = {finding[0] for finding in findings_a}
    assert {"UNBILLED_UNITS", "UNMAPPED_SKU", "UNMAPPED_ACCOUNT"} <= kinds, findings_a
    # Both are kept, and a third, later, audit agrees with them.
    listed = (await client.get("/api/v1/audits", params={"period": "2026-03"})).json()["items"]
    assert {item["id"] for item in listed} >= {a["id"], b["id"]}
    third = await create(client, "audits", {"period": "2026-03"})
    assert await _findings(client, third["id"]) == findings_a


# --- d. a restart during ingestion -----------------------------------------------------------


@pytest_asyncio.fixture
async def restarted(settings: Settings, app: Any) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    """Call it to stop the running app's database work (every pooled connection closed)
    and start a new app instance, lifespan and all, on the same database."""
    stack: list[Any] = []

    async def restart() -> Any:
        await app.state.engine.dispose()
        fresh = create_app(settings)
        lifespan = fresh.router.lifespan_context(fresh)
        await lifespan.__aenter__()
        stack.append(lifespan)
        return fresh

    yield restart
    for lifespan in reversed(stack):
        await lifespan.__aexit__(None, None, None)


async def test_restart_during_ingestion_loses_nothing_acknowledged(
    app: Any,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    restarted: Callable[[], Awaitable[Any]],
) -> None:
    original = webhook_service.ingest
    blocked = asyncio.Event()
    never = asyncio.Event()

    async def ingest(session: AsyncSession, **kwargs: Any) -> Any:
        number = kwargs["payload"].invoice_number
        if number == "CRASH-1":
            raise RuntimeError("an unexpected bug")
        if number == "INFLIGHT-1":
            blocked.set()
            await never.wait()  # the process dies here, mid-transaction
        return await original(session, **kwargs)

    monkeypatch.setattr(webhook_service, "ingest", ingest)

    acknowledged = {}
    for n in range(5):
        msg_id = f"msg_ack_{n}"
        response = await deliver(anon, pax8, invoice(f"ACK-{n}", lines=n + 1), msg_id)
        assert response.status_code == 200, response.text
        acknowledged[msg_id] = response.json()
    crashed = await deliver(anon, pax8, invoice("CRASH-1"), "msg_crash")
    assert_problem(crashed, 500)
    in_flight = asyncio.create_task(deliver(anon, pax8, invoice("INFLIGHT-1"), "msg_inflight"))
    await asyncio.wait_for(blocked.wait(), timeout=30)
    in_flight.cancel()  # killed with the process: never answered, so never acknowledged
    await asyncio.gather(in_flight, return_exceptions=True)
    monkeypatch.undo()

    fresh = await restarted()
    async with make_client(fresh) as admin, make_client(fresh, None) as vendor_side:
        for msg_id, answer in acknowledged.items():
            event = (await admin.get(f"/api/v1/webhook-events/{answer['event']['id']}")).json()
            assert (event["webhook_id"], event["status"]) == (msg_id, "processed")
            assert event["invoice_id"] == answer["invoice_id"]
            stored = await admin.get(f"/api/v1/vendor-invoices/{answer['invoice_id']}")
            assert stored.status_code == 200, stored.text
            assert len(stored.json()["lines"]) == int(msg_id.rsplit("_", 1)[1]) + 1
        assert await counts(fresh) == (6, 5, 15)  # the crash left its event, failed

        # The crashed event kept no answer, so its redelivery is processed now.
        event = await stored_event(fresh, pax8["id"], "msg_crash")
        assert event is not None and (event.status, event.response_status) == ("failed", None)
        redelivered = await deliver(vendor_side, pax8, invoice("CRASH-1"), "msg_crash")
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json()["event"]["id"] == event.id
        # The in-flight delivery committed nothing; the vendor's retry stores it.
        assert await stored_event(fresh, pax8["id"], "msg_inflight") is None
        retried = await deliver(vendor_side, pax8, invoice("INFLIGHT-1"), "msg_inflight")
        assert retried.status_code == 200, retried.text
        # Acknowledged deliveries are answered as before, nothing processed twice.
        for msg_id, answer in acknowledged.items():
            n = int(msg_id.rsplit("_", 1)[1])
            again = await deliver(vendor_side, pax8, invoice(f"ACK-{n}", lines=n + 1), msg_id)
            assert again.status_code == 200 and again.json() == answer
        assert await counts(fresh) == (7, 7, 21)
