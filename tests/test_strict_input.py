"""Input that only looks right is a 422 problem, on both backends: periods and cursors with
digits other than ASCII or with a trailing newline, names made only of characters that
show nothing, and JSON bodies that the parser refuses for their depth or a number's
length (problem details naming the body, not FastAPI's 400 "error parsing the body")."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.audits.service import _decode as decode_finding_cursor
from app.audits.service import _encode as encode_finding_cursor
from app.core.errors import Invalid
from app.core.pagination import decode_cursor, encode_cursor
from app.core.periods import Period
from app.core.types import MAX_ID
from tests.helpers import assert_problem, customer, vendor

API = "/api/v1"
JSON = {"content-type": "application/json"}

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


# --- periods -------------------------------------------------------------------------------

NOT_PERIODS = [
    "2026-10".translate(FULL_WIDTH),
    "2026-10".translate(ARABIC_INDIC),
    "２026-10",
    "2026-1٠",
    "2026-10\n",
    "2026-10\r\n",
    "\n2026-10",
    " 2026-10",
    "2026-10 ",
    "2026-10\t",
    "2026-10\u200b",
]


@pytest.mark.parametrize("text", NOT_PERIODS, ids=repr)
def test_period_parse_is_strict(text: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(text)


def test_period_parse_still_reads_periods() -> None:
    assert Period.parse("2026-10") == Period(2026, 10)
    assert Period.parse("1900-01") == Period(1900, 1)


@pytest.mark.parametrize("text", NOT_PERIODS, ids=repr)
async def test_period_query_is_strict(client: httpx.AsyncClient, text: str) -> None:
    for path in ("audits", "vendor-invoices"):
        response = await client.get(f"{API}/{path}", params={"period": text})
        assert_problem(response, 422, "query.period")
    assert (await client.get(f"{API}/audits", params={"period": "2026-10"})).status_code == 200


@pytest.mark.parametrize("text", NOT_PERIODS, ids=repr)
async def test_period_in_a_body_is_strict(client: httpx.AsyncClient, text: str) -> None:
    v = await vendor(client)
    payload = {
        "vendor_id": v["id"],
        "invoice_number": "INV-1",
        "invoice_date": "2026-10-31",
        "period": text,
        "total": "0",
        "lines": [],
    }
    response = await client.post(f"{API}/vendor-invoices", json=payload)
    assert_problem(response, 422, "body.period")


# --- cursors -------------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def not_issued_cursors(issued: str, payload: str) -> list[str]:
    """Texts that decode to the same position as `issued` without being it."""
    head, _, digits = payload.rpartition(":")
    return [
        _b64(f"{head}:{digits.translate(FULL_WIDTH)}"),
        _b64(f"{head}:{digits.translate(ARABIC_INDIC)}"),
        _b64(f"{head}:+{digits}"),
        _b64(f"{head}: {digits}"),
        _b64(f"{head}:{digits}\n"),
        _b64(f"{head}:0{digits}"),
        _b64(f"{head}:{digits[0]}_{digits[1:]}"),
        issued + "\n",
        issued + "=" * (-len(issued) % 4 or 4),
        issued[:2] + "\u200b" + issued[2:],
        issued[:2] + "*" + issued[2:],
        issued.translate(FULL_WIDTH),
    ]


def test_list_cursor_is_only_what_was_issued() -> None:
    issued = encode_cursor(1234)
    assert decode_cursor(issued) == 1234
    for cursor in not_issued_cursors(issued, "v1:1234"):
        with pytest.raises(Invalid):
            decode_cursor(cursor)


def test_findings_cursor_is_only_what_was_issued() -> None:
    issued = encode_finding_cursor(Decimal("-12.50"), 1234)
    assert decode_finding_cursor(issued) == (Decimal("-12.50"), 1234)
    for cursor in [
        *not_issued_cursors(issued, "f1:-12.50:1234"),
        _b64("f1:-١٢.٥٠:1234"),
        _b64("f1:-12.5_0:1234"),
        _b64("f1: -12.50:1234"),
        _b64("f1:+12.50:1234"),
    ]:
        with pytest.raises(Invalid):
            decode_finding_cursor(cursor)


async def test_cursor_query_is_strict(client: httpx.AsyncClient) -> None:
    for name in ("A", "B", "C"):
        await customer(client, name)
    first = (await client.get(f"{API}/customers", params={"limit": 1})).json()
    issued = first["next_cursor"]
    following = await client.get(f"{API}/customers", params={"limit": 1, "cursor": issued})
    assert following.status_code == 200
    last_id = decode_cursor(issued)
    for cursor in not_issued_cursors(issued, f"v1:{last_id}"):
        response = await client.get(f"{API}/customers", params={"limit": 1, "cursor": cursor})
        assert_problem(response, 422, "query.cursor")
    huge = _b64("v1:" + "9" * 5000)
    response = await client.get(f"{API}/customers", params={"cursor": huge})
    assert_problem(response, 422, "query.cursor")
    assert MAX_ID > last_id


# --- names ---------------------------------------------------------------------------------

INVISIBLE = [
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark, zero-width no-break space
    "\u2060",  # word joiner
    "\u00ad",  # soft hyphen
    "\u200e\u200f",  # left-to-right and right-to-left marks
    "\u202e",  # right-to-left override
    "\u2066\u2069",  # isolate and its end
    "\u200c\u200d",  # zero-width non-joiner and joiner
    "\u034f",  # combining grapheme joiner
    "\u3164",  # Hangul filler
    "\u2800",  # Braille pattern blank
    "\ufe0f",  # variation selector
    "\U000e0020",  # tag space
    " \u200b\u3000\u00a0\u200b ",  # mixed with whitespace
]


@pytest.mark.parametrize("name", INVISIBLE, ids=repr)
async def test_a_name_of_invisible_characters_is_blank(
    client: httpx.AsyncClient, name: str
) -> None:
    for path in ("customers", "vendors"):
        response = await client.post(f"{API}/{path}", json={"name": name})
        body = assert_problem(response, 422, "body.name")
        assert "must not be blank" in response.text, body
    made = await customer(client, "Acme")
    renamed = await client.patch(f"{API}/customers/{made['id']}", json={"name": name})
    assert_problem(renamed, 422, "body.name")


async def test_names_with_invisible_characters_inside_are_kept(client: httpx.AsyncClient) -> None:
    # Joiners and marks inside text are part of it (emoji sequences, Persian, Hebrew).
    for name in ("\u200fשלום", "می\u200cخواهم", "Team 👩\u200d💻", "Café\u00ad Bar"):
        assert (await customer(client, name))["name"] == name


# --- JSON the parser refuses ----------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"


def json_problem(response: httpx.Response, reason: str) -> dict[str, Any]:
    body = assert_problem(response, 422)
    assert body["type"].endswith(":validation-error"), body
    assert body["detail"] == f"The body is not valid JSON: {reason}.", body
    assert body["errors"] == [{"field": "body", "message": reason, "type": "json_invalid"}]
    return body


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
async def test_json_nested_too_deep_is_422(client: httpx.AsyncClient, depth: int) -> None:
    for n, content in enumerate((nested(depth), b"[" * depth + b"]" * depth)):
        for headers in (JSON, {**JSON, "Idempotency-Key": f"deep-{depth}-{n}"}):
            response = await client.post(f"{API}/customers", content=content, headers=headers)
            json_problem(response, "arrays and objects are nested too deeply")


@pytest.mark.parametrize("depth", [10, 100, 500])
async def test_json_nested_within_reach_is_an_ordinary_422(
    client: httpx.AsyncClient, depth: int
) -> None:
    """Depths the parser still reads come to validation, which names the field."""
    response = await client.post(f"{API}/customers", content=nested(depth), headers=JSON)
    body = assert_problem(response, 422, "body.name")
    assert response.status_code == 422, body


@pytest.mark.parametrize("digits", [4_301, 5_000, 100_000])
async def test_json_integer_too_long_is_422(client: httpx.AsyncClient, digits: int) -> None:
    for content in (
        b'{"name": "Acme", "external_ref": ' + b"7" * digits + b"}",
        b'{"name": ' + b"1" * digits + b"}",
        b"-" + b"9" * digits,
    ):
        response = await client.post(f"{API}/customers", content=content, headers=JSON)
        json_problem(response, "a number has more than 4300 digits")


async def test_json_syntax_errors_say_where(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{API}/customers", content=b'{"name": }', headers=JSON)
    body = assert_problem(response, 422)
    assert body["detail"] == "The body is not valid JSON: Expecting value."
    assert body["errors"] == [
        {"field": "body", "message": "Expecting value at character 9", "type": "json_invalid"}
    ]
    response = await client.post(f"{API}/customers", content=b"\xff\xfe{", headers=JSON)
    assert (
        assert_problem(response, 422)["detail"]
        == "The body is not valid JSON: the body is not UTF-8."
    )


async def test_a_long_decimal_is_not_an_integer(client: httpx.AsyncClient) -> None:
    """Only integers have Python's digit limit; a long decimal reaches validation."""
    response = await client.post(
        f"{API}/services",
        content=json.dumps(
            {"name": "S", "sku": "S-1", "unit": "seat", "unit_cost": "1", "unit_price": "1"}
        )
        .replace('"unit_price": "1"', '"unit_price": 1.' + "5" * 5000)
        .encode(),
        headers=JSON,
    )
    assert_problem(response, 422, "body.unit_price")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (nested(5_000), "arrays and objects are nested too deeply"),
        (b'{"total": ' + b"1" * 5000 + b"}", "a number has more than 4300 digits"),
    ],
    ids=["deep", "long-integer"],
)
async def test_webhook_json_the_parser_refuses_is_422(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, content: bytes, reason: str
) -> None:
    from tests.test_webhooks import deliver

    v = await vendor(client)
    response = await deliver(anon, v["id"], v["webhook_secret"], content)
    body = assert_problem(response, 422)
    assert body["detail"] == f"The body is not valid JSON: {reason}.", body
    assert body["errors"] == [{"field": "body", "message": reason, "type": "json_invalid"}]
