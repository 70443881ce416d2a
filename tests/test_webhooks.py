"""Signed vendor webhooks and their inbox through HTTP (docs/webhooks.md), on both backends."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.core.db import utcnow
from app.core.signature import (
    SignatureError,
    check_timestamp,
    read_headers,
    secret_key,
    sign,
    verify,
)
from app.vendor_invoices.models import VendorInvoice, VendorInvoiceLine
from app.vendors.models import Vendor
from app.webhooks import service as webhook_service
from app.webhooks.models import WebhookEvent
from tests.helpers import assert_problem, vendor

EVENTS = "/api/v1/webhook-events"


def hook_path(vendor_id: int) -> str:
    return f"/api/v1/webhooks/vendors/{vendor_id}/invoices"


def invoice(number: str = "INV-1001", **extra: Any) -> dict[str, Any]:
    return {
        "invoice_number": number,
        "invoice_date": "2026-03-31",
        "period": "2026-03",
        "total": "110.00",
        "lines": [
            {"vendor_sku": "AV-SEAT", "account_ref": "ACME-1", "quantity": "10", "unit_cost": "11"}
        ],
        **extra,
    }


def signed(
    secret: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
        "content-type": "application/json",
    }


async def deliver(
    http: httpx.AsyncClient,
    vendor_id: int,
    secret: str,
    payload: dict[str, Any] | bytes,
    **kwargs: Any,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await http.post(
        hook_path(vendor_id), content=body, headers=signed(secret, body, **kwargs)
    )


async def counts(app: Any) -> tuple[int, int, int]:
    """(webhook events, vendor invoices, invoice lines) stored."""
    async with app.state.sessionmaker() as session:
        events = await session.scalar(select(func.count()).select_from(WebhookEvent))
        invoices = await session.scalar(select(func.count()).select_from(VendorInvoice))
        lines = await session.scalar(select(func.count()).select_from(VendorInvoiceLine))
    return int(events or 0), int(invoices or 0), int(lines or 0)


async def stored_event(app: Any, event_id: int) -> WebhookEvent:
    async with app.state.sessionmaker() as session:
        event = await session.get(WebhookEvent, event_id)
    assert event is not None
    return event


@pytest.fixture
async def pax8(client: httpx.AsyncClient) -> dict[str, Any]:
    return await vendor(client, "Pax8")


# --- the signature on its own ----------------------------------------------------------------


def test_standard_webhooks_test_vector() -> None:
    # The example of the Standard Webhooks specification and its reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, ts, body) == expected
    headers = read_headers(msg_id, str(ts), f"v1,bm9wZQ== {expected}")
    verify(headers, body, ["whsec_" + base64.b64encode(b"x" * 32).decode(), secret])
    with pytest.raises(SignatureError):
        verify(headers, body + b" ", [secret])
    with pytest.raises(SignatureError):
        verify(read_headers(msg_id, str(ts), "v2," + expected[3:]), body, [secret])
    check_timestamp(ts, now=ts + 300)
    check_timestamp(ts, now=ts - 300)
    with pytest.raises(SignatureError):
        check_timestamp(ts, now=ts + 301)
    for bad in ("-5", "1e9", "12.5", "", " ", "٣٣"):
        with pytest.raises(SignatureError):
            read_headers(msg_id, bad, expected)


def reference_signature(raw_key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """A v1 signature computed as the specification describes it, from the key bytes."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(raw_key, content, hashlib.sha256).digest()).decode()


def test_an_unpadded_secret_names_the_same_key() -> None:
    """The reference libraries decode a secret after adding padding (Python's
    standardwebhooks: b64decode(secret + "==")), so a secret written without its `=`
    padding is the same key as the padded one."""
    raw = bytes(range(32))
    padded = "whsec_" + base64.b64encode(raw).decode()
    unpadded = padded.rstrip("=")
    assert unpadded != padded
    assert secret_key(unpadded) == secret_key(padded) == raw
    body = b'{"test": 2432232314}'
    expected = reference_signature(raw, "msg_1", 1614265330, body)
    assert sign(unpadded, "msg_1", 1614265330, body) == expected
    verify(read_headers("msg_1", "1614265330", expected), body, [unpadded])
    # Still strict about everything else: characters outside the alphabet, a length that
    # no padding completes.
    for bad in (unpadded[:-1] + "*", unpadded[:-1] + "\n", unpadded + "AB", padded + "="):
        with pytest.raises(binascii.Error):
            secret_key(bad)


@pytest.mark.parametrize("size", [24, 32, 40, 64])
async def test_an_unpadded_secret_is_accepted_and_verifies(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, size: int
) -> None:
    raw = secrets.token_bytes(size)
    unpadded = "whsec_" + base64.b64encode(raw).decode().rstrip("=")
    made = await vendor(client, "Unpadded", webhook_secret=unpadded)
    assert made["webhook_secret"] == unpadded
    body = json.dumps(invoice()).encode()
    now = int(time.time())
    headers = {
        "webhook-id": "msg_unpadded",
        "webhook-timestamp": str(now),
        "webhook-signature": reference_signature(raw, "msg_unpadded", now, body),
        "content-type": "application/json",
    }
    response = await anon.post(hook_path(made["id"]), content=body, headers=headers)
    assert response.status_code == 200, response.text

    other = secrets.token_bytes(size)
    rotated_to = "whsec_" + base64.b64encode(other).decode().rstrip("=")
    rotated = await client.post(
        f"/api/v1/vendors/{made['id']}/webhook-secret", json={"webhook_secret": rotated_to}
    )
    assert rotated.status_code == 200, rotated.text
    body = json.dumps(invoice("INV-1002")).encode()
    headers["webhook-id"] = "msg_rotated"
    headers["webhook-signature"] = reference_signature(other, "msg_rotated", now, body)
    response = await anon.post(hook_path(made["id"]), content=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "secret",
    ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La*aSw", "MfKQ"],
    ids=["length-no-padding-completes", "outside-the-alphabet", "no-prefix"],
)
async def test_a_secret_that_is_not_base64_is_still_refused(
    client: httpx.AsyncClient, secret: str
) -> None:
    response = await client.post("/api/v1/vendors", json={"name": "Bad", "webhook_secret": secret})
    assert_problem(response, 422, "body.webhook_secret")


# --- delivery --------------------------------------------------------------------------------


async def test_good_signature_stores_the_invoice(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    response = await deliver(anon, pax8["id"], pax8["webhook_secret"], invoice(), msg_id="msg_1")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    event = answer["event"]
    assert event["status"] == "processed" and event["error"] is None
    assert event["vendor_id"] == pax8["id"] and event["webhook_id"] == "msg_1"
    assert event["invoice_id"] == answer["invoice_id"] and event["attempts"] == 1
    assert event["processed_at"] and event["received_at"]

    got = await client.get(f"/api/v1/vendor-invoices/{answer['invoice_id']}")
    assert got.status_code == 200, got.text
    stored = got.json()
    assert stored["invoice_number"] == "INV-1001" and stored["source"] == "webhook"
    assert stored["currency"] == "USD" and stored["total"] == "110.00"
    assert [line["amount"] for line in stored["lines"]] == ["110.00"]

    listed = (await client.get(EVENTS)).json()
    assert [e["id"] for e in listed["items"]] == [event["id"]]
    assert listed["items"][0] == event
    assert await counts(app) == (1, 1, 1)


async def test_credit_line(client: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    v = await vendor(client, "Ingram")
    payload = invoice(
        "CR-7",
        total="-30.00",
        lines=[
            {
                "vendor_sku": "AV-SEAT",
                "account_ref": "ACME-1",
                "quantity": -2,
                "unit_cost": 15.0,
                "amount": "-30.00",
            },
            {"vendor_sku": "BACKUP", "account_ref": "ACME-1", "quantity": "-3.5", "unit_cost": 2},
        ],
    )
    response = await deliver(anon, v["id"], v["webhook_secret"], payload)
    assert response.status_code == 200, response.text
    lines = (await client.get(f"/api/v1/vendor-invoices/{response.json()['invoice_id']}")).json()[
        "lines"
    ]
    assert [(x["quantity"], x["amount"]) for x in lines] == [("-2", "-30.00"), ("-3.5", "-7.00")]


async def test_ten_thousand_lines(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    lines = [
        {
            "vendor_sku": f"SKU-{i % 50}",
            "account_ref": f"ACC-{i % 300}",
            "quantity": "1.5",
            "unit_cost": "0.3333",
        }
        for i in range(10_000)
    ]
    payload = invoice("BIG-1", total="4999.50", lines=lines)
    started = time.perf_counter()
    response = await deliver(anon, pax8["id"], pax8["webhook_secret"], payload)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:500]
    got = await client.get("/api/v1/vendor-invoices", params={"invoice_number": "BIG-1"})
    summary = got.json()["items"][0]
    assert summary["line_count"] == 10_000 and summary["lines_total"] == "5000.00"
    assert await counts(app) == (1, 1, 10_000)
    assert elapsed < 30, elapsed  # a sanity bound; the benchmark measures the real target


async def test_no_bearer_key_needed_nor_used(
    client: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    # An admin key does not replace the signature.
    body = json.dumps(invoice()).encode()
    headers = signed(pax8["webhook_secret"], body)
    headers["webhook-signature"] = "v1," + base64.b64encode(b"0" * 32).decode()
    assert_problem(await client.post(hook_path(pax8["id"]), content=body, headers=headers), 401)


def _tamper(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    return headers, body.replace(b"110.00", b"1.00")


def _drop(name: str) -> Any:
    def change(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {k: v for k, v in headers.items() if k != name}, body

    return change


def _set(name: str, value: str) -> Any:
    def change(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        return {**headers, name: value}, body

    return change


REJECTIONS = {
    "tampered body": _tamper,
    "missing webhook-id": _drop("webhook-id"),
    "missing webhook-timestamp": _drop("webhook-timestamp"),
    "missing webhook-signature": _drop("webhook-signature"),
    "empty webhook-signature": _set("webhook-signature", ""),
    "timestamp not a number": _set("webhook-timestamp", "yesterday"),
    "changed webhook-id": _set("webhook-id", "msg_other"),
    "unknown signature version": lambda h, b: (
        {**h, "webhook-signature": h["webhook-signature"].replace("v1,", "v2,")},
        b,
    ),
}


@pytest.mark.parametrize("case", list(REJECTIONS))
async def test_rejected_delivery_stores_nothing(
    app: Any, anon: httpx.AsyncClient, pax8: dict[str, Any], case: str
) -> None:
    body = json.dumps(invoice()).encode()
    headers, body = REJECTIONS[case](signed(pax8["webhook_secret"], body), body)
    response = await anon.post(hook_path(pax8["id"]), content=body, headers=headers)
    problem = assert_problem(response, 401)
    assert pax8["webhook_secret"] not in response.text
    assert problem["detail"]
    assert await counts(app) == (0, 0, 0)


async def test_wrong_secret_unknown_vendor_and_clock_skew(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    other = await vendor(client, "Other")
    secret, payload = pax8["webhook_secret"], invoice()
    # Another vendor's secret, or a random one.
    assert_problem(await deliver(anon, pax8["id"], other["webhook_secret"], payload), 401)
    random_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    assert_problem(await deliver(anon, pax8["id"], random_secret, payload), 401)
    # Unknown vendors, including ids no integer column holds.
    for vendor_id in (other["id"] + 1000, 0, 2**40):
        assert_problem(await deliver(anon, vendor_id, secret, payload), 401)
    now = int(time.time())
    stale = await deliver(anon, pax8["id"], secret, payload, timestamp=now - 6 * 60)
    assert "5 minutes" in assert_problem(stale, 401)["detail"]
    future = await deliver(anon, pax8["id"], secret, payload, timestamp=now + 6 * 60)
    assert_problem(future, 401)
    assert await counts(app) == (0, 0, 0)

    # Just inside the tolerance, both ways.
    old = await deliver(anon, pax8["id"], secret, invoice("A-1"), timestamp=now - 4 * 60 - 50)
    assert old.status_code == 200, old.text
    ahead = await deliver(anon, pax8["id"], secret, invoice("A-2"), timestamp=now + 4 * 60 + 50)
    assert ahead.status_code == 200, ahead.text
    assert await counts(app) == (2, 2, 2)


async def test_several_signatures_of_which_one_is_good(
    anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    body = json.dumps(invoice()).encode()
    headers = signed(pax8["webhook_secret"], body)
    wrong = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    bad = sign(wrong, headers["webhook-id"], headers["webhook-timestamp"], body)
    headers["webhook-signature"] = f"{bad} v1a,abc {headers['webhook-signature']}  v1,Zm9v"
    response = await anon.post(hook_path(pax8["id"]), content=body, headers=headers)
    assert response.status_code == 200, response.text
    headers["webhook-signature"] = f"{bad} v1,Zm9v"
    headers["webhook-id"] = "msg_all_bad"
    assert_problem(await anon.post(hook_path(pax8["id"]), content=body, headers=headers), 401)


async def test_secret_rotation(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    old = pax8["webhook_secret"]
    before = utcnow()
    rotated = await client.post(f"/api/v1/vendors/{pax8['id']}/webhook-secret")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new != old and new.startswith("whsec_")
    assert len(base64.b64decode(new.removeprefix("whsec_"))) == 32
    expires = rotated.json()["previous_secret_expires_at"]
    from datetime import datetime

    grace = datetime.fromisoformat(expires) - before
    assert timedelta(hours=23, minutes=59) < grace < timedelta(hours=24, minutes=1)
    # The secret is not readable anywhere else.
    for path in (f"/api/v1/vendors/{pax8['id']}", "/api/v1/vendors"):
        text = (await client.get(path)).text
        assert new not in text and old not in text

    # Both verify during the grace period.
    assert (await deliver(anon, pax8["id"], old, invoice("R-1"))).status_code == 200
    assert (await deliver(anon, pax8["id"], new, invoice("R-2"))).status_code == 200

    # After it, only the new one.
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Vendor)
            .where(Vendor.id == pax8["id"])  # type: ignore[arg-type]
            .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    assert_problem(await deliver(anon, pax8["id"], old, invoice("R-3")), 401)
    assert (await deliver(anon, pax8["id"], new, invoice("R-4"))).status_code == 200
    assert (await counts(app))[:2] == (3, 3)

    # A given secret is validated like on create, and must be a change.
    given = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    path = f"/api/v1/vendors/{pax8['id']}/webhook-secret"
    chosen = await client.post(path, json={"webhook_secret": given})
    assert chosen.status_code == 200 and chosen.json()["webhook_secret"] == given
    assert_problem(await client.post(path, json={"webhook_secret": given}), 422)
    bad = await client.post(path, json={"webhook_secret": "whsec_short"})
    assert_problem(bad, 422, "body.webhook_secret")
    assert (await deliver(anon, pax8["id"], given, invoice("R-5"))).status_code == 200
    # The secret replaced by the second rotation (`new`) keeps its grace period.
    assert (await deliver(anon, pax8["id"], new, invoice("R-6"))).status_code == 200
    assert_problem(await deliver(anon, pax8["id"], old, invoice("R-7")), 401)
    assert_problem(await client.post("/api/v1/vendors/999999/webhook-secret"), 404)
    assert_problem(await anon.post(path), 401)


async def test_sequential_redelivery_answers_the_first_answer(
    app: Any, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    secret = pax8["webhook_secret"]
    first = await deliver(anon, pax8["id"], secret, invoice(), msg_id="msg_seq")
    assert first.status_code == 200, first.text
    again = await deliver(anon, pax8["id"], secret, invoice(), msg_id="msg_seq")
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers.get("webhook-replayed") == "true"
    # Same id, another body (signed anew): still the first answer, nothing processed.
    other = await deliver(anon, pax8["id"], secret, invoice("INV-2"), msg_id="msg_seq")
    assert other.status_code == 200 and other.json() == first.json()
    assert await counts(app) == (1, 1, 1)
    event = await stored_event(app, first.json()["event"]["id"])
    assert event.attempts == 1


async def test_concurrent_redelivery_processes_once(
    app: Any, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    body = json.dumps(invoice()).encode()
    headers = signed(pax8["webhook_secret"], body, msg_id="msg_race")
    responses = await asyncio.gather(
        *(anon.post(hook_path(pax8["id"]), content=body, headers=headers) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert all(r.json() == responses[0].json() for r in responses)
    assert sum(r.headers.get("webhook-replayed") == "true" for r in responses) == 4
    assert await counts(app) == (1, 1, 1)


async def test_concurrent_deliveries_of_one_invoice_number(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    # Five webhook-ids racing with the same invoice number: one invoice, four 409s.
    responses = await asyncio.gather(
        *(deliver(anon, pax8["id"], pax8["webhook_secret"], invoice("RACE-1")) for _ in range(5))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert assert_problem(response, 409)["event_id"]
    assert await counts(app) == (5, 1, 1)
    failed = (await client.get(EVENTS, params={"status": "failed"})).json()["items"]
    assert [e["error"] for e in failed] == ["duplicate invoice number"] * 4


async def test_duplicate_invoice_number(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    secret = pax8["webhook_secret"]
    first = await deliver(anon, pax8["id"], secret, invoice("DUP-1"))
    assert first.status_code == 200, first.text
    second = await deliver(anon, pax8["id"], secret, invoice("DUP-1"), msg_id="msg_dup")
    problem = assert_problem(second, 409)
    assert "duplicate invoice number" in problem["detail"]
    assert problem["instance"] == hook_path(pax8["id"])
    event = (await client.get(f"{EVENTS}/{problem['event_id']}")).json()
    assert event["status"] == "failed" and event["error"] == "duplicate invoice number"
    assert event["webhook_id"] == "msg_dup" and event["invoice_id"] is None
    # Its redelivery answers the same 409; a replay still fails the same way.
    again = await deliver(anon, pax8["id"], secret, invoice("DUP-1"), msg_id="msg_dup")
    assert again.status_code == 409 and again.json() == second.json()
    replayed = await client.post(f"{EVENTS}/{problem['event_id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "failed" and replayed.json()["attempts"] == 2
    assert await counts(app) == (2, 1, 1)
    # An invoice created through the JSON API counts too.
    api = await client.post(
        "/api/v1/vendor-invoices", json={**invoice("API-1"), "vendor_id": pax8["id"]}
    )
    assert api.status_code == 201, api.text
    assert_problem(await deliver(anon, pax8["id"], secret, invoice("API-1")), 409)


async def test_invalid_payload_kept_and_replayed_after_fixing_the_vendor(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    secret = pax8["webhook_secret"]
    response = await deliver(anon, pax8["id"], secret, invoice(currency="EUR"), msg_id="msg_eur")
    problem = assert_problem(response, 422, "body.currency")
    event_id = problem["event_id"]
    event = (await client.get(f"{EVENTS}/{event_id}")).json()
    assert event["status"] == "failed" and "currency" in event["error"]
    assert await counts(app) == (1, 0, 0)

    # The vendor really bills in EUR: fix it, then replay.
    patched = await client.patch(f"/api/v1/vendors/{pax8['id']}", json={"currency": "EUR"})
    assert patched.status_code == 200
    replayed = await client.post(f"{EVENTS}/{event_id}/replay")
    assert replayed.status_code == 200, replayed.text
    fixed = replayed.json()
    assert fixed["status"] == "processed" and fixed["error"] is None
    assert fixed["invoice_id"] and fixed["attempts"] == 2 and fixed["processed_at"]
    got = await client.get(f"/api/v1/vendor-invoices/{fixed['invoice_id']}")
    assert got.json()["currency"] == "EUR"
    assert await counts(app) == (1, 1, 1)

    # A redelivery now answers the current outcome.
    again = await deliver(anon, pax8["id"], secret, invoice(currency="EUR"), msg_id="msg_eur")
    assert again.status_code == 200, again.text
    assert again.json()["invoice_id"] == fixed["invoice_id"]

    # A processed event is not processed twice.
    twice = assert_problem(await client.post(f"{EVENTS}/{event_id}/replay"), 409)
    assert "already processed" in twice["detail"]
    assert_problem(await client.post(f"{EVENTS}/999999/replay"), 404)
    assert_problem(await anon.post(f"{EVENTS}/{event_id}/replay"), 401)
    assert await counts(app) == (1, 1, 1)


async def test_validation_errors_name_the_fields(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    payload = invoice()
    payload["lines"][0]["quantity"] = "1.2345678"
    payload["period"] = "2026-13"
    del payload["total"]
    response = await deliver(anon, pax8["id"], pax8["webhook_secret"], payload)
    problem = assert_problem(response, 422, "body.lines.0.quantity")
    fields = {error["field"] for error in problem["errors"]}
    assert {"body.lines.0.quantity", "body.period", "body.total"} <= fields
    event = (await client.get(f"{EVENTS}/{problem['event_id']}")).json()
    assert "body.lines.0.quantity" in event["error"] and "body.total" in event["error"]
    # Floats are read from their text: 0.1 + 0.2 stays exact.
    exact = invoice("EXACT", total=0.3)
    exact["lines"] = [
        {"vendor_sku": "A", "account_ref": "B", "quantity": 1, "unit_cost": 0.1},
        {"vendor_sku": "A", "account_ref": "B", "quantity": 1, "unit_cost": 0.2},
    ]
    ok = await deliver(anon, pax8["id"], pax8["webhook_secret"], exact)
    assert ok.status_code == 200, ok.text
    nan = await deliver(anon, pax8["id"], pax8["webhook_secret"], b'{"total": NaN}')
    assert_problem(nan, 422, "body.total")
    nul = invoice("NUL-1")
    nul["lines"][0]["description"] = "seat\u0000s"
    refused = await deliver(anon, pax8["id"], pax8["webhook_secret"], nul)
    assert_problem(refused, 422, "body.lines.0.description")


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\xff\xfe\x00garbage", b"[" * 100_000, b'"a string"']
)
async def test_malformed_body_is_a_failed_event(
    app: Any, client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any], body: bytes
) -> None:
    response = await deliver(anon, pax8["id"], pax8["webhook_secret"], body)
    problem = assert_problem(response, 422, "body")
    event = (await client.get(f"{EVENTS}/{problem['event_id']}")).json()
    assert event["status"] == "failed" and event["error"]
    assert await counts(app) == (1, 0, 0)


async def test_event_detail_and_list_filters(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    other = await vendor(client, "Ingram")
    body = b'{"invoice_number": "x"'
    bad = await deliver(anon, pax8["id"], pax8["webhook_secret"], body, msg_id="msg_bad")
    bad_id = assert_problem(bad, 422)["event_id"]
    good = await deliver(anon, pax8["id"], pax8["webhook_secret"], invoice(), msg_id="msg_ok")
    good_id = good.json()["event"]["id"]
    third = await deliver(anon, other["id"], other["webhook_secret"], invoice())
    third_id = third.json()["event"]["id"]

    detail = await client.get(f"{EVENTS}/{bad_id}")
    assert detail.status_code == 200, detail.text
    shown = detail.json()
    assert shown["body"] == body.decode()
    assert shown["headers"]["webhook-id"] == "msg_bad"
    assert shown["headers"]["webhook-signature"].startswith("v1,")
    assert shown["headers"]["content-type"] == "application/json"
    assert set(shown["headers"]) <= set(webhook_service.KEPT_HEADERS)
    assert pax8["webhook_secret"] not in detail.text
    assert_problem(await client.get(f"{EVENTS}/999999"), 404)
    assert_problem(await client.get(f"{EVENTS}/{2**40}"), 422)

    async def ids(**params: Any) -> list[int]:
        response = await client.get(EVENTS, params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["items"]]

    assert await ids() == [bad_id, good_id, third_id]
    assert await ids(vendor_id=pax8["id"]) == [bad_id, good_id]
    assert await ids(vendor_id=other["id"], status="processed") == [third_id]
    assert await ids(status="failed") == [bad_id]
    assert await ids(status="received") == []
    first_page = (await client.get(EVENTS, params={"limit": 2})).json()
    assert [e["id"] for e in first_page["items"]] == [bad_id, good_id]
    rest = await ids(limit=2, cursor=first_page["next_cursor"])
    assert rest == [third_id]
    assert_problem(await client.get(EVENTS, params={"status": "done"}), 422, "query.status")
    assert_problem(await anon.get(EVENTS), 401)
    assert_problem(await anon.get(f"{EVENTS}/{bad_id}"), 401)


async def test_unexpected_error_is_kept_and_a_redelivery_processes_again(
    app: Any,
    client: httpx.AsyncClient,
    anon: httpx.AsyncClient,
    pax8: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_ingest = webhook_service.ingest
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("secret internals")
        return await real_ingest(*args, **kwargs)

    monkeypatch.setattr(webhook_service, "ingest", flaky)
    secret = pax8["webhook_secret"]
    crashed = await deliver(anon, pax8["id"], secret, invoice(), msg_id="msg_crash")
    assert_problem(crashed, 500)
    assert "secret internals" not in crashed.text
    listed = (await client.get(EVENTS)).json()["items"]
    assert [(e["status"], e["error"]) for e in listed] == [("failed", "internal error")]
    event = await stored_event(app, listed[0]["id"])
    assert event.response_status is None and event.invoice_id is None
    assert await counts(app) == (1, 0, 0)

    again = await deliver(anon, pax8["id"], secret, invoice(), msg_id="msg_crash")
    assert again.status_code == 200, again.text
    assert again.json()["event"]["attempts"] == 2
    assert again.json()["event"]["status"] == "processed"
    assert await counts(app) == (1, 1, 1)
    third = await deliver(anon, pax8["id"], secret, invoice(), msg_id="msg_crash")
    assert third.json() == again.json()


async def test_vendor_with_invoices_or_events_cannot_be_deleted(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, pax8: dict[str, Any]
) -> None:
    bad = await deliver(anon, pax8["id"], pax8["webhook_secret"], b"nope")
    assert bad.status_code == 422
    problem = assert_problem(await client.delete(f"/api/v1/vendors/{pax8['id']}"), 409)
    assert "1 webhook event" in problem["detail"]
    good = await deliver(anon, pax8["id"], pax8["webhook_secret"], invoice())
    assert good.status_code == 200
    problem = assert_problem(await client.delete(f"/api/v1/vendors/{pax8['id']}"), 409)
    assert "1 vendor invoice" in problem["detail"]


def test_openapi_documents_the_delivery() -> None:
    from app.openapi import document

    operation = document()["paths"]["/api/v1/webhooks/vendors/{vendor_id}/invoices"]["post"]
    assert "security" not in operation
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["title"] == "VendorInvoicePayload"
    assert "vendor_id" not in schema["properties"]
    assert schema["properties"]["lines"]["items"]["title"] == "InvoiceLineIn"
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert {"200", "401", "409", "422"} <= set(operation["responses"])
