"""QuickBooks' acceptance rules, checked field by field on what the exports answer, written
from QuickBooks' side and independent of app/billing/quickbooks.py (docs/exports.md).

QuickBooks Online (Invoice and CreditMemo create, batch): CustomerRef.value required; every
line a SalesItemLineDetail with Amount, ItemRef.value, Qty and UnitPrice, and Amount =
round(Qty x UnitPrice, 2) (error 6070); DocNumber at most 21 characters; TotalAmt the sum
of the lines; a batch request of at most 30 items, each with a unique bId.

QuickBooks Desktop IIF: !TRNS, !SPL and !ENDTRNS header rows, every data row with exactly
its header's columns, CRLF line ends, Windows-1252, and each transaction summing to zero."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

CENT = Decimal("0.01")
MAX_DOC_NUMBER = 21
MAX_BATCH = 30
TRANSACTION_KEYS = {"DocNumber", "TxnDate", "CustomerRef", "Line", "TotalAmt", "PrivateNote"}
LINE_KEYS = {"LineNum", "Description", "Amount", "DetailType", "SalesItemLineDetail"}


def is_number(value: Any) -> bool:
    """A JSON number (read as Decimal or int by parse_float=Decimal), not a string."""
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def rounds_to(quantity: Decimal, price: Decimal, amount: Decimal) -> bool:
    """QuickBooks' check, in exact arithmetic: Amount == round(Qty x UnitPrice, 2)."""
    return (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP) == amount


def read_json(response: httpx.Response) -> Any:
    """The raw text read with exact numbers."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text, parse_float=Decimal)


@dataclass
class Refs:
    """The QuickBooks Ids an export may use, and this service's own ids, which it never
    may: a reference that is not a mapped QuickBooks Id fails the check."""

    customers: set[str]
    items: set[str]
    own_ids: set[str] = field(default_factory=set)


def check_transaction(kind: str, document: dict[str, Any], refs: Refs) -> None:
    """One Invoice or CreditMemo object as QuickBooks Online reads it."""
    assert kind in {"Invoice", "CreditMemo"}, kind
    assert set(document) <= TRANSACTION_KEYS, document.keys()
    assert isinstance(document["DocNumber"], str)
    assert 1 <= len(document["DocNumber"]) <= MAX_DOC_NUMBER, document["DocNumber"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", document["TxnDate"]), document["TxnDate"]
    customer = document["CustomerRef"]
    assert isinstance(customer["value"], str) and customer["value"], customer
    assert customer["value"] in refs.customers, (customer, refs.customers)
    assert customer["value"] not in refs.own_ids, customer
    assert document["Line"], "QuickBooks needs at least one line"
    total = Decimal(0)
    for number, line in enumerate(document["Line"], start=1):
        assert set(line) <= LINE_KEYS, line.keys()
        assert line["LineNum"] == number
        assert line["DetailType"] == "SalesItemLineDetail", line
        detail = line["SalesItemLineDetail"]
        assert set(detail) == {"ItemRef", "Qty", "UnitPrice"}, detail
        item = detail["ItemRef"]
        assert isinstance(item["value"], str) and item["value"], line
        assert item["value"] in refs.items, (item, refs.items)
        assert item["value"] not in refs.own_ids, item
        amount, quantity, price = line["Amount"], detail["Qty"], detail["UnitPrice"]
        assert is_number(amount) and is_number(quantity) and is_number(price), line
        assert Decimal(amount) == Decimal(amount).quantize(CENT), line
        assert Decimal(price) >= 0, line
        assert rounds_to(Decimal(quantity), Decimal(price), Decimal(amount)), line
        total += Decimal(amount)
    assert is_number(document["TotalAmt"]), document
    assert Decimal(document["TotalAmt"]) == total, (document["TotalAmt"], total)
    if kind == "CreditMemo":
        assert total > 0, "a credit memo's total is positive"
    else:
        assert total >= 0, "a negative total goes out as a credit memo"


def check_document(body: Any, refs: Refs) -> tuple[str, dict[str, Any]]:
    """`{"Invoice": {...}}` or `{"CreditMemo": {...}}`: exactly one of them."""
    assert isinstance(body, dict) and len(body) == 1, body
    ((kind, document),) = body.items()
    check_transaction(kind, document, refs)
    return kind, document


def check_batches(body: Any, refs: Refs) -> list[tuple[str, str, dict[str, Any]]]:
    """A list of batch request bodies: (bId, kind, object) of every item, in order."""
    assert isinstance(body, list), body
    items = []
    for batch in body:
        assert set(batch) == {"BatchItemRequest"}, batch.keys()
        requests = batch["BatchItemRequest"]
        assert 1 <= len(requests) <= MAX_BATCH, len(requests)
        for request in requests:
            assert request["operation"] == "create", request
            assert isinstance(request["bId"], str) and request["bId"], request
            kinds = set(request) - {"bId", "operation"}
            assert len(kinds) == 1, request.keys()
            (kind,) = kinds
            check_transaction(kind, request[kind], refs)
            items.append((request["bId"], kind, request[kind]))
    bids = [bid for bid, _, _ in items]
    assert len(set(bids)) == len(bids), "bIds are unique"
    return items


# --- IIF -------------------------------------------------------------------------------------


@dataclass
class Transaction:
    trns: dict[str, str]
    spl: list[dict[str, str]]


def parse_iif(content: bytes) -> list[Transaction]:
    """Windows-1252 bytes, CRLF line ends; the !TRNS, !SPL and !ENDTRNS headers, then per
    transaction one TRNS, its SPLs and an ENDTRNS, every data row with exactly its header's
    columns."""
    text = content.decode("cp1252")  # strict: a byte cp1252 leaves undefined fails here
    assert text.encode("cp1252") == content
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "") and "\r" not in text.replace("\r\n", "")
    rows = [row.split("\t") for row in text[: -len("\r\n")].split("\r\n")]
    assert [row[0] for row in rows[:3]] == ["!TRNS", "!SPL", "!ENDTRNS"]
    assert rows[2] == ["!ENDTRNS"]
    headers = {row[0].lstrip("!"): row[1:] for row in rows[:3]}
    transactions: list[Transaction] = []
    current: Transaction | None = None
    for row in rows[3:]:
        kind, values = row[0], row[1:]
        if kind == "ENDTRNS":
            assert current is not None and values == []
            transactions.append(current)
            current = None
            continue
        assert kind in {"TRNS", "SPL"}, row
        assert len(values) == len(headers[kind]), row
        record = dict(zip(headers[kind], values, strict=True))
        if kind == "TRNS":
            assert current is None
            current = Transaction(record, [])
        else:
            assert current is not None, row
            current.spl.append(record)
    assert current is None
    return transactions


def check_iif(
    content: bytes, *, ar_account: str = "Accounts Receivable", accounts: Iterable[str] = ()
) -> list[Transaction]:
    """Parsed, balanced, and signed as QuickBooks Desktop books an invoice (the receivable
    debited by a positive total, income credited by negative splits) and a credit memo
    (the reverse)."""
    transactions = parse_iif(content)
    for t in transactions:
        kind = t.trns["TRNSTYPE"]
        assert kind in {"INVOICE", "CREDIT MEMO"}, t.trns
        assert t.trns["ACCNT"] == ar_account
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", t.trns["DATE"]), t.trns
        assert t.trns["NAME"], t.trns
        total = Decimal(t.trns["AMOUNT"])
        assert total >= 0 if kind == "INVOICE" else total < 0, t.trns
        assert t.spl, "a transaction has at least one split"
        for s in t.spl:
            assert s["TRNSTYPE"] == kind and s["DATE"] == t.trns["DATE"], s
            assert s["DOCNUM"] == t.trns["DOCNUM"] and s["NAME"] == t.trns["NAME"], s
            if accounts:
                assert s["ACCNT"] in set(accounts), s
            amount, quantity, price = (Decimal(s[k]) for k in ("AMOUNT", "QNTY", "PRICE"))
            assert amount == amount.quantize(CENT), s
            assert price >= 0, s
            assert rounds_to(quantity, price, amount), s
        # Balanced, exactly: the TRNS amount and its SPL amounts add up to zero.
        assert total + sum(Decimal(s["AMOUNT"]) for s in t.spl) == 0, t
    return transactions
