"""CSV import of vendor invoices through HTTP (docs/month-arithmetic.md#vendor-invoices):
the files distributors really export, every bad row reported, nothing stored on error."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.vendor_invoices.csv_import import MAX_ERRORS
from app.vendor_invoices.models import MAX_LINES, VendorInvoice, VendorInvoiceLine
from tests.conftest import make_client
from tests.helpers import assert_problem, customer, service, vendor

IMPORT = "/api/v1/vendor-invoices/import"
HEADER = "vendor_sku,account_ref,description,quantity,unit_cost,amount\n"


async def post_csv(
    client: httpx.AsyncClient,
    content: bytes | str | None,
    vendor_id: int | str | None,
    *,
    filename: str = "invoice.csv",
    **form: str | None,
) -> httpx.Response:
    fields: dict[str, Any] = {
        "vendor_id": None if vendor_id is None else str(vendor_id),
        "invoice_number": "INV-1001",
        "invoice_date": "2026-10-31",
        "period": "2026-10",
        "total": "0.00",
        **form,
    }
    data = {name: value for name, value in fields.items() if value is not None}
    if content is None:
        # A multipart body without a file part.
        return await client.post(IMPORT, data=data, files={"other": ("x", b"x")})
    raw = content.encode() if isinstance(content, str) else content
    return await client.post(IMPORT, data=data, files={"file": (filename, raw, "text/csv")})


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        invoices = await connection.scalar(select(func.count()).select_from(VendorInvoice))
        lines = await connection.scalar(select(func.count()).select_from(VendorInvoiceLine))
    return int(invoices or 0), int(lines or 0)


def fields_of(body: dict[str, Any]) -> list[str]:
    return [error["field"] for error in body["errors"]]


async def test_realistic_distributor_file(client: httpx.AsyncClient) -> None:
    v = await vendor(client, "Ingram", currency="EUR")
    svc = await service(client, "AV-SEAT", vendor_id=v["id"], vendor_sku="ESET-EP")
    c = await customer(client)
    account = await client.post(
        f"/api/v1/customers/{c['id']}/vendor-accounts",
        json={"vendor_id": v["id"], "account_ref": "ACME-001"},
    )
    assert account.status_code == 201, account.text
    # What a European export looks like: BOM, `;`, CRLF, upper-case padded header in
    # another order with an unknown column, quoted fields holding the separator, quotes
    # and a newline, decimal commas, a blank line inside and blank lines at the end.
    text = (
        " Vendor_SKU ; ACCOUNT_REF ;Description;Quantity;Unit_Cost;Amount;Reseller PO\r\n"
        'ESET-EP;ACME-001;"Endpoint; protection ""Advanced""";25;1,50;37,50;PO-1\r\n'
        "\r\n"
        'BACKUP-GB;ACME-001;"Backup\r\nper GB";987,3;0,0875;;\r\n'
        "ESET-EP;ACME-001;Credit: 2 seats removed;-2;1,50;-3,00;\r\n"
        'ESET-EP;"GLOBEX;9";;10;1.5;15.00;\r\n'
        "\r\n\r\n"
    )
    content = b"\xef\xbb\xbf" + text.encode()
    response = await post_csv(client, content, v["id"], total="135.89")
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert invoice["source"] == "csv"
    assert invoice["currency"] == "EUR"  # the vendor's, by default
    assert invoice["invoice_number"] == "INV-1001"
    assert invoice["period"] == "2026-10"
    assert invoice["invoice_date"] == "2026-10-31"
    assert invoice["total"] == "135.89"
    assert invoice["line_count"] == 4
    lines = invoice["lines"]
    assert [line["line_no"] for line in lines] == [1, 2, 3, 4]
    assert [line["vendor_sku"] for line in lines] == ["ESET-EP", "BACKUP-GB", "ESET-EP", "ESET-EP"]
    assert [line["account_ref"] for line in lines] == ["ACME-001"] * 3 + ["GLOBEX;9"]
    assert [line["description"] for line in lines] == [
        'Endpoint; protection "Advanced"',
        "Backup\r\nper GB",
        "Credit: 2 seats removed",
        None,
    ]
    assert [line["quantity"] for line in lines] == ["25", "987.3", "-2", "10"]
    assert [line["unit_cost"] for line in lines] == ["1.50", "0.0875", "1.50", "1.50"]
    # 987.3 x 0.0875 = 86.38875 -> 86.39 (half-up).
    assert [line["amount"] for line in lines] == ["37.50", "86.39", "-3.00", "15.00"]
    assert invoice["lines_total"] == "135.89"
    assert [line["service_id"] for line in lines] == [svc["id"], None, svc["id"], svc["id"]]
    assert [line["customer_id"] for line in lines] == [c["id"]] * 3 + [None]

    got = await client.get(f"/api/v1/vendor-invoices/{invoice['id']}")
    # Checks at ingest (docs/checks.md): 23 x 1.50 charged for Acme with no contract; the
    # backup line matches no service, the ESET line no customer.
    assert [(c["type"], c["impact"], c["customer_name"]) for c in invoice.pop("checks")] == [
        ("UNMAPPED_SKU", "86.39", "Acme Ltd"),
        ("ORPHANED_COST", "34.50", "Acme Ltd"),
        ("UNMAPPED_ACCOUNT", "15.00", None),
    ]
    assert got.status_code == 200 and got.json() == invoice
    listed = await client.get("/api/v1/vendor-invoices", params={"vendor_id": v["id"]})
    assert [i["id"] for i in listed.json()["items"]] == [invoice["id"]]


async def test_comma_file_other_order_without_amount(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    text = (
        "unit_cost, Quantity ,ACCOUNT_REF,vendor_sku\n"
        "0.0050,3,ACME,M365\n"  # 0.015: a half-cent tie rounds up to 0.02
        "0.0050,-3,ACME,M365\n"  # a credit's tie rounds away from zero: -0.02
        "0.0049,3,ACME,M365\n"  # 0.0147 -> 0.01
        '1000,1,"ACME, Inc.",BIG\n'  # quoted because of the comma
        "22,1.5,ACME,M365\n"
    )
    response = await post_csv(client, text, v["id"], total="1033.02")
    assert response.status_code == 201, response.text
    lines = response.json()["lines"]
    assert [line["amount"] for line in lines] == ["0.02", "-0.02", "0.01", "1000.00", "33.00"]
    assert [line["unit_cost"] for line in lines] == ["0.005", "0.005", "0.0049", "1000.00", "22.00"]
    assert [line["account_ref"] for line in lines] == ["ACME"] * 3 + ["ACME, Inc.", "ACME"]
    assert [line["description"] for line in lines] == [None] * 5
    assert response.json()["lines_total"] == "1033.01"
    # A decimal comma is only read with `;` as separator; thousands separators never.
    for bad in ('"1,50"', '"1,000.00"'):
        body = assert_problem(
            await post_csv(
                client,
                f"quantity,unit_cost,vendor_sku,account_ref\n1,{bad},M,A\n",
                v["id"],
                invoice_number=f"X{bad}",
            ),
            422,
        )
        assert fields_of(body) == ["file.line 2.unit_cost"]
    semicolon = "quantity;unit_cost;vendor_sku;account_ref\n1;1.000,50;M;A\n"
    body = assert_problem(await post_csv(client, semicolon, v["id"], invoice_number="Y"), 422)
    assert fields_of(body) == ["file.line 2.unit_cost"]


async def test_credits(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    text = HEADER + "M365,ACME,Credit,-5,12.00,-60.00\nM365,ACME,Credit tie,-1,0.005,\n"
    response = await post_csv(client, text, v["id"], total="-60.01")
    assert response.status_code == 201, response.text
    body = response.json()
    assert [line["quantity"] for line in body["lines"]] == ["-5", "-1"]
    assert [line["amount"] for line in body["lines"]] == ["-60.00", "-0.01"]
    assert body["lines_total"] == "-60.01"
    assert await counts(engine) == (1, 2)


async def test_bad_rows_fail_the_whole_import(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    v = await vendor(client)
    text = (
        HEADER  # line 1
        + "M365,ACME,ok,1,2.00,2.00\n"  # line 2: fine
        + "M365,ACME,x,abc,2.00,\n"  # line 3: quantity not a number
        + "\n"  # line 4: blank
        + "M365,ACME,x,1.1234567,2.00,\n"  # line 5: 7 decimals
        + "M365,ACME,x,1,2.1234567,2.12\n"  # line 6: unit_cost 7 decimals
        + "M365,ACME,x,1,2.00,2.001\n"  # line 7: amount 3 decimals
        + "M365,,x,1,2.00,2.00\n"  # line 8: account_ref empty
        + 'M365,ACME,"multi\nline",NaN,Infinity,\n'  # lines 9-10, starts on 9
        + "M365,ACME,a,b,1,2.00,2.00\n"  # line 11: one field too many (unquoted comma)
        + ",,x,,,\n"  # line 12: vendor_sku, account_ref, quantity, unit_cost missing
        + "M365,ACME,fine too,1,1,\n"  # line 13
    )
    response = await post_csv(client, text, v["id"])
    body = assert_problem(response, 422)
    assert fields_of(body) == [
        "file.line 3.quantity",
        "file.line 5.quantity",
        "file.line 6.unit_cost",
        "file.line 7.amount",
        "file.line 8.account_ref",
        "file.line 9.quantity",
        "file.line 9.unit_cost",
        "file.line 11",
        "file.line 12.vendor_sku",
        "file.line 12.account_ref",
        "file.line 12.quantity",
        "file.line 12.unit_cost",
    ]
    messages = {error["field"]: error["message"] for error in body["errors"]}
    assert "abc" in messages["file.line 3.quantity"]
    assert "6 decimal places" in messages["file.line 5.quantity"]
    assert "2 decimal places" in messages["file.line 7.amount"]
    assert "required" in messages["file.line 8.account_ref"]
    assert "NaN" in messages["file.line 9.quantity"] or "finite" in messages["file.line 9.quantity"]
    assert "7 fields" in messages["file.line 11"]
    assert body["error_count"] == 12
    assert "Nothing was stored" in body["detail"]
    assert await counts(engine) == (0, 0)


async def test_errors_are_capped_with_a_count(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    text = HEADER + "".join(f"M365,ACME,x,{i}.1234567,1,\n" for i in range(150))
    body = assert_problem(await post_csv(client, text, v["id"]), 422)
    assert len(body["errors"]) == MAX_ERRORS
    assert body["errors"][0]["field"] == "file.line 2.quantity"
    assert body["errors"][-1]["field"] == f"file.line {MAX_ERRORS + 1}.quantity"
    assert body["error_count"] == 150
    assert f"the first {MAX_ERRORS} are listed" in body["detail"]


async def test_file_level_errors(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    good_row = "M365,ACME,x,1,2.00,\n"

    async def problem(content: bytes | str | None, field: str, words: str) -> None:
        body = assert_problem(await post_csv(client, content, v["id"]), 422)
        errors = {error["field"]: error["message"] for error in body["errors"]}
        assert field in errors, body
        assert words in errors[field], body

    await problem(None, "file", "required")
    await problem(b"", "file", "empty")
    await problem(b"\xef\xbb\xbf\r\n  \r\n", "file", "empty")
    await problem(
        (HEADER + good_row + "M365,Caf\xe9,x,1,2.00,\n").encode("latin-1"), "file.line 3", "UTF-8"
    )
    await problem((HEADER + good_row).encode("utf-16"), "file", "UTF-16")
    await problem(b"PK\x03\x04\x14\x00\x06\x00", "file", "xlsx")
    await problem("vendor_sku,description,amount\n" + good_row, "file.header.account_ref", "no")
    await problem("sku;account;qty;cost\nA;B;1;2\n", "file.header.quantity", "vendor_sku")
    await problem(HEADER + "\r\n\r\n", "file", "no data rows")
    await problem(";;;\n\n ; \n", "file", "no header")
    await problem(HEADER + good_row + 'M365,"ACME,x,1,2.00,\n', "file.line 3", "CSV")
    await problem(
        HEADER + good_row + "M365,ACME,a\x00b,1,2.00,\n", "file.line 3.description", "NUL"
    )
    await problem(HEADER + 'M365,"AC"ME,x,1,2.00,\n', "file.line 2", "CSV")
    await problem(
        "vendor_sku,account_ref,quantity,unit_cost,Quantity\n" + good_row,
        "file.header.quantity",
        "twice",
    )
    assert await counts(engine) == (0, 0)


async def test_row_limit(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    rows = "M,A,,1,1,\n" * (MAX_LINES + 1)
    body = assert_problem(await post_csv(client, HEADER + rows, v["id"]), 422, "file")
    assert str(MAX_LINES) in body["errors"][0]["message"]
    assert await counts(engine) == (0, 0)


async def test_form_fields(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client, currency="EUR")
    text = HEADER + "M365,ACME,x,1,2.00,\n"

    async def problem(status: int, field: str, vendor_id: Any = v["id"], **form: Any) -> None:
        assert_problem(await post_csv(client, text, vendor_id, **form), status, field)

    await problem(422, "form.period", period="2026-13")
    await problem(422, "form.invoice_date", invoice_date="31/10/2026")
    await problem(422, "form.total", total="12.345")
    await problem(422, "form.total", total="NaN")
    await problem(422, "form.vendor_id", vendor_id="abc")
    await problem(422, "form.vendor_id", vendor_id=999_999)
    await problem(422, "form.vendor_id", vendor_id=10**12)
    await problem(422, "form.invoice_date", invoice_date="0001-01-01")
    await problem(422, "form.invoice_number", invoice_number="INV\x001")
    await problem(422, "form.vendor_id", vendor_id=None)
    await problem(422, "form.invoice_number", invoice_number=None)
    await problem(422, "form.invoice_number", invoice_number="   ")
    await problem(422, "form.currency", currency="XYZ")
    await problem(422, "form.currency", currency="USD")  # not the vendor's currency
    # The form and the file are checked together: one answer lists both.
    both = await post_csv(client, HEADER + "M365,ACME,x,abc,1,\n", v["id"], period="10/2026")
    assert fields_of(assert_problem(both, 422)) == ["form.period", "file.line 2.quantity"]
    # Not multipart at all.
    not_form = await client.post(IMPORT, json={"vendor_id": v["id"]})
    body = assert_problem(not_form, 422)
    assert {"file", "form.vendor_id", "form.period", "form.total"} <= set(fields_of(body))
    assert await counts(engine) == (0, 0)

    ok = await post_csv(client, text, v["id"], currency="eur", total="2.00")
    assert ok.status_code == 201, ok.text
    assert ok.json()["currency"] == "EUR"


async def test_duplicate_number_is_409(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    other = await vendor(client, "Other distributor")
    text = HEADER + "M365,ACME,x,1,2.00,\n"
    first = await post_csv(client, text, v["id"], invoice_number="INV-7")
    assert first.status_code == 201, first.text
    again = await post_csv(client, text, v["id"], invoice_number="INV-7")
    body = assert_problem(again, 409, "form.invoice_number")
    assert body["invoice_id"] == first.json()["id"]
    assert await counts(engine) == (1, 1)
    # The JSON side shares the uniqueness.
    json_dup = await client.post(
        "/api/v1/vendor-invoices",
        json={
            "vendor_id": v["id"],
            "invoice_number": "INV-7",
            "invoice_date": "2026-10-31",
            "period": "2026-10",
            "total": "2.00",
            "lines": [{"vendor_sku": "M", "account_ref": "A", "quantity": 1, "unit_cost": 2}],
        },
    )
    assert_problem(json_dup, 409)
    # The same number from another vendor is another invoice.
    assert (await post_csv(client, text, other["id"], invoice_number="INV-7")).status_code == 201
    assert await counts(engine) == (2, 2)


async def test_auth(client: httpx.AsyncClient, anon: httpx.AsyncClient, app: Any) -> None:
    v = await vendor(client)
    text = HEADER + "M365,ACME,x,1,2.00,\n"
    assert_problem(await post_csv(anon, text, v["id"]), 401)
    created = await client.post("/api/v1/api-keys", json={"name": "ro", "scopes": ["read"]})
    assert created.status_code == 201, created.text
    async with make_client(app, created.json()["key"]) as reader:
        assert_problem(await post_csv(reader, text, v["id"]), 403)


async def test_import_route_does_not_shadow_ids(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/vendor-invoices/import"), 422)
    assert_problem(await client.get("/api/v1/vendor-invoices/12345"), 404)
    assert_problem(await client.delete("/api/v1/vendor-invoices/12345"), 404)


async def test_long_values_are_quoted_short_in_errors(client: httpx.AsyncClient) -> None:
    v = await vendor(client)
    text = HEADER + f"M365,ACME,{'x' * 2001},1,2.00,\n"
    body = assert_problem(await post_csv(client, text, v["id"]), 422)
    (error,) = body["errors"]
    assert error["field"] == "file.line 2.description"
    assert len(error["message"]) < 200


async def test_idempotent_retry(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    request = client.build_request(
        "POST",
        IMPORT,
        data={
            "vendor_id": str(v["id"]),
            "invoice_number": "INV-1",
            "invoice_date": "2026-10-31",
            "period": "2026-10",
            "total": "2.00",
        },
        files={"file": ("invoice.csv", HEADER.encode() + b"M365,ACME,x,1,2.00,\n", "text/csv")},
    )
    body = request.read()
    headers = {"Content-Type": request.headers["Content-Type"], "Idempotency-Key": "import-1"}
    first = await client.post(IMPORT, content=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(IMPORT, content=body, headers=headers)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert await counts(engine) == (1, 1)


async def test_large_file(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    v = await vendor(client)
    rows = "".join(
        f"SKU-{i % 9};ACC-{i % 97};Seat {i};{i % 40 + 1};0,0875;\r\n" for i in range(10_000)
    )
    response = await post_csv(
        client, "vendor_sku;account_ref;description;quantity;unit_cost;amount\r\n" + rows, v["id"]
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["line_count"] == 10_000
    # sum over i of round_half_up((i % 40 + 1) x 0.0875): 250 cycles of the 40 amounts.
    cycle = sum(
        (Decimal(q) * Decimal("0.0875")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        for q in range(1, 41)
    )
    assert Decimal(created["lines_total"]) == cycle * 250
    assert await counts(engine) == (1, 10_000)
