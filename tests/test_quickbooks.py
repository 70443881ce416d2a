"""Customer invoices for accounting through HTTP, on both databases (docs/exports.md): every
document checked against QuickBooks' own rules (tests/quickbooks_rules.py) and its figures
worked out by hand. QuickBooks Online JSON refers to QuickBooks' Ids only (`quickbooks_id`),
never to this service's own ids, and refuses with one 409 that lists every gap; a negative
invoice is a CreditMemo; a period is a list of batch request bodies; QuickBooks Desktop IIF
is Windows-1252 with names spelled in it, balanced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx

from app.core.config import Settings
from tests.helpers import assert_problem, contract, create, customer, line, service
from tests.quickbooks_rules import (
    Refs,
    Transaction,
    check_batches,
    check_document,
    check_iif,
    read_json,
)

API = "/api/v1"
NOV = "2026-11"  # 30 days
DEC = "2026-12"  # 31 days
FEB = "2027-02"  # 28 days

SettingsChange = Callable[..., Settings]

# QuickBooks Online's Ids of the records of the tests below: strings, like QuickBooks', and
# far from any id this service hands out, so that a fallback to one of ours would show.
CUSTOMER = {"acme": "80000001", "beta": "80000002", "mapped": "80000003"}
ITEM = {
    "av": "90000011",
    "backup": "90000012",
    "m365": "90000013",
    "dns": "90000014",
    "projects": "90000015",
    "old": "90000016",
}
DEFAULT_ITEM = "90000099"


def D(text: str) -> Decimal:  # noqa: N802 - short for the tables below
    return Decimal(text)


def brief(document: dict[str, Any]) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """(ItemRef value, Qty, UnitPrice, Amount) of each line, as exact Decimals."""
    return [
        (
            ln["SalesItemLineDetail"]["ItemRef"]["value"],
            Decimal(ln["SalesItemLineDetail"]["Qty"]),
            Decimal(ln["SalesItemLineDetail"]["UnitPrice"]),
            Decimal(ln["Amount"]),
        )
        for ln in document["Line"]
    ]


async def own_ids(client: httpx.AsyncClient) -> set[str]:
    """Every id of this service's customers, services and invoices, as QuickBooks would
    read it: none may appear as a QuickBooks reference."""
    ids: set[str] = set()
    for path in ("customers", "services", "customer-invoices"):
        cursor = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(f"{API}/{path}", params=params)).json()
            ids |= {str(item["id"]) for item in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
    return ids


async def refs(client: httpx.AsyncClient, *items: str) -> Refs:
    """The QuickBooks Ids the tests' records map to (plus `items`, e.g. the default)."""
    return Refs(
        customers=set(CUSTOMER.values()) | set(FEB_CUSTOMER.values()),
        items=set(ITEM.values()) | set(FEB_ITEM.values()) | set(items),
        own_ids=await own_ids(client),
    )


@dataclass
class World:
    acme: int
    beta: int
    av: int
    backup: int
    m365: int
    dns: int
    projects: int
    old: int
    acme_nov: dict[str, Any]  # the billing run's drafts
    acme_dec: dict[str, Any]
    beta_dec: dict[str, Any]
    beta_recorded: dict[str, Any]  # recorded from the PSA, November
    acme_void: dict[str, Any]


async def world(client: httpx.AsyncClient) -> World:
    av = await service(
        client,
        "AV-EDR",
        name="Antivirus EDR",
        unit_price="27.50",
        revenue_account="4100 Managed Services",
        quickbooks_id=ITEM["av"],
    )
    backup = await service(
        client,
        "BK-GB",
        name="Backup per GB",
        unit="GB",
        unit_price="0.0875",
        unit_cost="0.05",
        revenue_account="4200 Backup",
        quickbooks_id=ITEM["backup"],
    )
    # No revenue account: its Item goes to "Sales".
    m365 = await service(
        client,
        "M365-BP",
        name="Microsoft 365 Business Premium",
        unit_price="33.3333",
        quickbooks_id=ITEM["m365"],
    )
    dns = await service(
        client,
        "DNS-Q",
        name="DNS filtering queries",
        unit="query",
        unit_price="0.0001",
        unit_cost="0",
        revenue_account="4300 Usage",
        quickbooks_id=ITEM["dns"],
    )
    projects = await service(
        client,
        "PRO-HR",
        name="Project work",
        unit="hour",
        unit_price="999.99",
        unit_cost="0",
        revenue_account="4400 Projects",
        quickbooks_id=ITEM["projects"],
    )
    old = await service(
        client,
        "OLD",
        name="Retired service",
        revenue_account="4900 Retired",
        quickbooks_id=ITEM["old"],
    )

    # The PSA's reference is not QuickBooks' Id: exports never use it.
    acme = (
        await customer(
            client, "Acme Ltd", external_ref="PSA-ACME-1", quickbooks_id=CUSTOMER["acme"]
        )
    )["id"]
    acme_k = (await contract(client, acme, "2026-01-01", name="Acme MSA"))["id"]
    # November (30 days):
    # 9 x 27.50 from the 14th, 17 of 30 days: 9 x 17/30 = 5.1, 5.1 x 27.50 = 140.25.
    await line(client, acme_k, av["id"], "9", start_date="2026-11-14")
    # 987.3 GB x 0.0875, full month: 86.38875 -> 86.39.
    await line(client, acme_k, backup["id"], "987.3")
    # 987.3 GB x 0.0875 from the 14th: 987.3 x 17/30 = 559.47, x 0.0875 = 48.953625 -> 48.95.
    await line(client, acme_k, backup["id"], "987.3", start_date="2026-11-14")
    # 1 x 0.0001 = 0.0001 -> 0.00: no revenue, no invoice line.
    await line(client, acme_k, dns["id"], "1")
    # Acme, November: 140.25 + 86.39 + 48.95 = 275.59.
    # December (31 days), all full: 9 x 27.50 = 247.50, 86.39, 86.39; total 420.28.

    beta = (await customer(client, "Beta GmbH", quickbooks_id=CUSTOMER["beta"]))["id"]
    beta_k = (await contract(client, beta, "2026-12-21", name="Beta"))["id"]
    # From 2026-12-21, 11 of 31 days: 7 x 33.3333 x 11/31 = 2566.6641/31 = 82.795616... -> 82.80;
    # Qty 77/31 = 2.483870... -> 2.4839 keeps the price: 2.4839 x 33.3333 = 82.79658... -> 82.80.
    await line(client, beta_k, m365["id"], "7")
    # 1 x 999.99 on the 31st only: 999.99/31 = 32.257741... -> 32.26. Qty 1/31 -> 0.0323 at
    # 999.99 gives 32.299677 -> 32.30 (6070!), so the price becomes 32.26/0.0323 =
    # 998.761609... -> 998.7616: 0.0323 x 998.7616 = 32.25999968 -> 32.26.
    await line(client, beta_k, projects["id"], "1", start_date="2026-12-31")
    # Beta, December: 82.80 + 32.26 = 115.06.

    beta_recorded = await create(
        client,
        "customer-invoices",
        {
            "customer_id": beta,
            "number": "PSA-B-2026-11",
            "period": NOV,
            "issue_date": "2026-11-30",
            "status": "posted",
            "lines": [
                # 1 x 0.0001 -> 0.00
                {
                    "service_id": dns["id"],
                    "description": "DNS queries",
                    "quantity": "1",
                    "unit_price": "0.0001",
                },
                # Given 86.00 where 987.3 x 0.0875 = 86.39: no 4-place price at Qty 987.3 makes
                # 86.00 (0.0871 -> 85.99, 0.0872 -> 86.09), so Qty 1 x 86.
                {
                    "service_id": backup["id"],
                    "description": "Backup, agreed flat",
                    "quantity": "987.3",
                    "unit_price": "0.0875",
                    "amount": "86.00",
                },
                # Given 29.99 where 3 x 10.00 = 30.00: 29.99/3 = 9.99666... -> 9.9967,
                # 3 x 9.9967 = 29.9901 -> 29.99.
                {
                    "service_id": av["id"],
                    "description": "Antivirus, discounted",
                    "quantity": "3",
                    "unit_price": "10.00",
                    "amount": "29.99",
                },
                # No service; a description with a tab and line breaks: 2 x 60.00 = 120.00.
                {
                    "description": "Onsite visit\tafter hours\r\nfollow-up\nnext day",
                    "quantity": "2",
                    "unit_price": "60.00",
                },
                # 2 x 33.3333 = 66.6666 -> 66.67
                {
                    "service_id": m365["id"],
                    "description": "Microsoft 365",
                    "quantity": "2",
                    "unit_price": "33.3333",
                },
            ],
        },
    )
    # 0.00 + 86.00 + 29.99 + 120.00 + 66.67 = 302.66
    assert beta_recorded["total"] == "302.66"
    # A voided invoice of the period is not exported (nor its service's Item).
    acme_void = await create(
        client,
        "customer-invoices",
        {
            "customer_id": acme,
            "number": "PSA-A-VOID",
            "period": NOV,
            "issue_date": "2026-11-15",
            "status": "void",
            "lines": [
                {
                    "service_id": old["id"],
                    "description": "x",
                    "quantity": "1",
                    "unit_price": "5",
                }
            ],
        },
    )

    for period in (NOV, DEC):
        assert (
            await client.post(f"{API}/billing-runs", json={"period": period})
        ).status_code == 201

    async def draft(customer_id: int, period: str) -> dict[str, Any]:
        found = await client.get(
            f"{API}/customer-invoices",
            params={"customer_id": customer_id, "period": period, "status": "draft"},
        )
        (item,) = found.json()["items"]
        return item  # type: ignore[no-any-return]

    return World(
        acme=acme,
        beta=beta,
        av=av["id"],
        backup=backup["id"],
        m365=m365["id"],
        dns=dns["id"],
        projects=projects["id"],
        old=old["id"],
        acme_nov=await draft(acme, NOV),
        acme_dec=await draft(acme, DEC),
        beta_dec=await draft(beta, DEC),
        beta_recorded=beta_recorded,
        acme_void=acme_void,
    )


async def qb(client: httpx.AsyncClient, invoice_id: int) -> tuple[str, dict[str, Any]]:
    response = await client.get(f"{API}/customer-invoices/{invoice_id}/quickbooks")
    return check_document(read_json(response), await refs(client, DEFAULT_ITEM))


async def batches(client: httpx.AsyncClient, period: str) -> list[tuple[str, str, dict[str, Any]]]:
    response = await client.get(f"{API}/exports/quickbooks", params={"period": period})
    return check_batches(read_json(response), await refs(client, DEFAULT_ITEM))


# --- one invoice -----------------------------------------------------------------------------


async def test_invoice_as_quickbooks_json(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    app_settings(quickbooks_default_item_id=DEFAULT_ITEM)
    w = await world(client)

    kind, acme = await qb(client, w.acme_nov["id"])
    assert kind == "Invoice"
    assert acme["DocNumber"] == w.acme_nov["number"]
    assert acme["TxnDate"] == "2026-11-01"
    # QuickBooks' Id of the customer: not the PSA's external_ref, not our id.
    assert acme["CustomerRef"] == {"value": CUSTOMER["acme"], "name": "Acme Ltd"}
    assert acme["TotalAmt"] == D("275.59")
    assert brief(acme) == [
        (ITEM["av"], D("5.1"), D("27.50"), D("140.25")),
        (ITEM["backup"], D("987.3"), D("0.0875"), D("86.39")),
        (ITEM["backup"], D("559.47"), D("0.0875"), D("48.95")),
    ]
    assert [ln["LineNum"] for ln in acme["Line"]] == [1, 2, 3]
    assert acme["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {
        "value": ITEM["av"],
        "name": "Antivirus EDR",
    }
    assert "17 of 30 days" in acme["Line"][0]["Description"]
    assert acme["PrivateNote"] == "2026-11 (draft)"
    # Numbers in the raw text, not strings.
    raw = (await client.get(f"{API}/customer-invoices/{w.acme_nov['id']}/quickbooks")).text
    assert raw.replace(" ", "").startswith('{"Invoice":{')
    assert '"Amount":140.25' in raw.replace(" ", "")
    assert '"TotalAmt":275.59' in raw.replace(" ", "")
    assert '"140.25"' not in raw

    _, dec = await qb(client, w.acme_dec["id"])
    # December in full: 9 x 27.50 = 247.50; 987.3 x 0.0875 = 86.39 twice; 420.28 in all.
    assert brief(dec) == [
        (ITEM["av"], D("9"), D("27.50"), D("247.50")),
        (ITEM["backup"], D("987.3"), D("0.0875"), D("86.39")),
        (ITEM["backup"], D("987.3"), D("0.0875"), D("86.39")),
    ]
    assert dec["TotalAmt"] == D("420.28")

    _, beta_dec = await qb(client, w.beta_dec["id"])
    assert beta_dec["CustomerRef"] == {"value": CUSTOMER["beta"], "name": "Beta GmbH"}
    assert brief(beta_dec) == [
        (ITEM["m365"], D("2.4839"), D("33.3333"), D("82.80")),
        (ITEM["projects"], D("0.0323"), D("998.7616"), D("32.26")),
    ]
    assert beta_dec["TotalAmt"] == D("115.06")

    _, recorded = await qb(client, w.beta_recorded["id"])
    assert recorded["DocNumber"] == "PSA-B-2026-11"
    assert recorded["TxnDate"] == "2026-11-30"
    # Amounts stay as recorded; Qty and UnitPrice are chosen so that QuickBooks accepts them;
    # the line without a service is sold as the default item.
    assert brief(recorded) == [
        (ITEM["dns"], D("1"), D("0.0001"), D("0.00")),
        (ITEM["backup"], D("1"), D("86"), D("86.00")),
        (ITEM["av"], D("3"), D("9.9967"), D("29.99")),
        (DEFAULT_ITEM, D("2"), D("60"), D("120.00")),
        (ITEM["m365"], D("2"), D("33.3333"), D("66.67")),
    ]
    assert recorded["Line"][3]["SalesItemLineDetail"]["ItemRef"] == {"value": DEFAULT_ITEM}
    assert recorded["TotalAmt"] == D("302.66")
    # JSON carries the description as it is (JSON escapes tabs and line breaks).
    assert recorded["Line"][3]["Description"] == "Onsite visit\tafter hours\r\nfollow-up\nnext day"

    # A void invoice still renders on its own (it is only left out of the period's export).
    assert brief((await qb(client, w.acme_void["id"]))[1]) == [
        (ITEM["old"], D("1"), D("5"), D("5.00"))
    ]

    assert_problem(await client.get(f"{API}/customer-invoices/999999/quickbooks"), 404)


async def credit_invoice(client: httpx.AsyncClient, period: str = NOV) -> dict[str, Any]:
    """A recorded invoice whose total is negative, -81.25:
    -2 x 27.50 = -55.00 (seats returned), -1 x 20.00 = -20.00 without a service,
    100 GB x 0.0875 = +8.75, and a refund recorded as 1 x 15.00 with amount -15.00."""
    c = await customer(client, "Beta GmbH", quickbooks_id=CUSTOMER["beta"])
    av = await service(client, "AV-EDR", unit_price="27.50", quickbooks_id=ITEM["av"])
    backup = await service(client, "BK-GB", unit_price="0.0875", quickbooks_id=ITEM["backup"])
    return await create(
        client,
        "customer-invoices",
        {
            "customer_id": c["id"],
            "number": "CR-7",
            "period": period,
            "issue_date": "2026-11-20",
            "lines": [
                {
                    "service_id": av["id"],
                    "description": "Seats returned",
                    "quantity": "-2",
                    "unit_price": "27.50",
                },
                {"description": "Goodwill credit", "quantity": "-1", "unit_price": "20.00"},
                {
                    "service_id": backup["id"],
                    "description": "Backup",
                    "quantity": "100",
                    "unit_price": "0.0875",
                },
                {
                    "service_id": av["id"],
                    "description": "Refund, agreed",
                    "quantity": "1",
                    "unit_price": "15.00",
                    "amount": "-15.00",
                },
            ],
        },
    )


async def test_negative_invoice_is_a_credit_memo(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    app_settings(quickbooks_default_item_id=DEFAULT_ITEM)
    created = await credit_invoice(client)
    assert created["total"] == "-81.25"
    kind, memo = await qb(client, created["id"])
    assert kind == "CreditMemo"
    assert memo["DocNumber"] == "CR-7"
    # The same lines with their signs turned: a positive total, prices never negative, the
    # quantity signed so that Amount = Qty x UnitPrice.
    assert memo["TotalAmt"] == D("81.25")
    assert brief(memo) == [
        (ITEM["av"], D("2"), D("27.5"), D("55.00")),
        (DEFAULT_ITEM, D("1"), D("20"), D("20.00")),
        (ITEM["backup"], D("-100"), D("0.0875"), D("-8.75")),
        # Recorded as 1 x 15.00 = -15.00: no price makes that at Qty 1, so -1 x 15, turned.
        (ITEM["av"], D("1"), D("15"), D("15.00")),
    ]
    (batch,) = read_json(await client.get(f"{API}/exports/quickbooks", params={"period": NOV}))
    assert batch["BatchItemRequest"] == [
        {"bId": "CR-7", "operation": "create", "CreditMemo": memo},
    ]

    (t,) = check_iif(
        (await client.get(f"{API}/exports/quickbooks.iif", params={"period": NOV})).content
    )
    assert t.trns["TRNSTYPE"] == "CREDIT MEMO"
    # The receivable is credited with the total, income debited line by line.
    assert t.trns["AMOUNT"] == "-81.25"
    assert [(s["AMOUNT"], s["QNTY"], s["PRICE"]) for s in t.spl] == [
        ("55.00", "2", "27.5"),
        ("20.00", "1", "20"),
        ("-8.75", "-100", "0.0875"),
        ("15.00", "1", "15"),
    ]


async def test_an_invoice_of_zero_is_an_invoice(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    c = await customer(client, quickbooks_id=CUSTOMER["acme"])
    s = await service(client, "AV", quickbooks_id=ITEM["av"])
    created = await create(
        client,
        "customer-invoices",
        {
            "customer_id": c["id"],
            "number": "ZERO-1",
            "period": NOV,
            "issue_date": "2026-11-01",
            "lines": [
                {"service_id": s["id"], "description": "In", "quantity": "1", "unit_price": "9"},
                {"service_id": s["id"], "description": "Out", "quantity": "-1", "unit_price": "9"},
            ],
        },
    )
    kind, document = await qb(client, created["id"])
    assert kind == "Invoice" and document["TotalAmt"] == 0
    (t,) = check_iif(
        (await client.get(f"{API}/exports/quickbooks.iif", params={"period": NOV})).content
    )
    assert t.trns["TRNSTYPE"] == "INVOICE" and t.trns["AMOUNT"] == "0.00"


# --- mappings ------------------------------------------------------------------------------


async def test_missing_mappings_are_one_409_listing_every_gap(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    """Nothing falls back to this service's ids or the PSA's: every customer and service
    without a quickbooks_id is listed, once, and a line without a service needs the
    default item."""
    mapped = await customer(client, "Mapped Ltd", quickbooks_id=CUSTOMER["mapped"])
    acme = await customer(client, "Acme Ltd", external_ref="PSA-1")
    beta = await customer(client, "Beta GmbH")
    av = await service(client, "AV", name="Antivirus")
    dns = await service(client, "DNS", name="DNS filtering", quickbooks_id=ITEM["dns"])
    backup = await service(client, "BK", name="Backup")

    async def invoice(customer_id: int, number: str, *services: int | None, **extra: Any) -> Any:
        lines = [
            {
                **({"service_id": s} if s else {}),
                "description": "x",
                "quantity": "1",
                "unit_price": "10",
            }
            for s in services
        ]
        return await create(
            client,
            "customer-invoices",
            {
                "customer_id": customer_id,
                "number": number,
                "period": NOV,
                "issue_date": "2026-11-02",
                "lines": lines,
                **extra,
            },
        )

    first = await invoice(acme["id"], "A-1", av["id"], dns["id"], None, av["id"])
    await invoice(beta["id"], "B-1", backup["id"], av["id"])
    fine = await invoice(mapped["id"], "M-1", dns["id"])
    # A void invoice is not exported: its unmapped service is no gap.
    old = await service(client, "OLD", name="Retired")
    await invoice(mapped["id"], "M-VOID", old["id"], status="void")

    one = assert_problem(await client.get(f"{API}/customer-invoices/{first['id']}/quickbooks"), 409)
    assert one["missing"] == [
        {"kind": "customer", "id": acme["id"], "name": "Acme Ltd"},
        {"kind": "service", "id": av["id"], "name": "Antivirus"},
    ]
    assert one["missing_settings"] == ["MSP_QUICKBOOKS_DEFAULT_ITEM_ID"]
    assert "MSP_QUICKBOOKS_DEFAULT_ITEM_ID" in one["detail"]

    period = assert_problem(
        await client.get(f"{API}/exports/quickbooks", params={"period": NOV}), 409
    )
    assert period["missing"] == [
        {"kind": "customer", "id": acme["id"], "name": "Acme Ltd"},
        {"kind": "customer", "id": beta["id"], "name": "Beta GmbH"},
        {"kind": "service", "id": av["id"], "name": "Antivirus"},
        {"kind": "service", "id": backup["id"], "name": "Backup"},
    ]
    unmapped = await client.get(f"{API}/exports/quickbooks/unmapped", params={"period": NOV})
    assert unmapped.status_code == 200, unmapped.text
    assert unmapped.json() == {
        "customers": [
            {"id": acme["id"], "name": "Acme Ltd"},
            {"id": beta["id"], "name": "Beta GmbH"},
        ],
        "services": [
            {"id": av["id"], "name": "Antivirus"},
            {"id": backup["id"], "name": "Backup"},
        ],
    }
    # A fully mapped invoice exports on its own meanwhile.
    kind, document = await qb(client, fine["id"])
    assert kind == "Invoice" and document["CustomerRef"]["value"] == CUSTOMER["mapped"]

    # With the default item set, only the records are missing.
    app_settings(quickbooks_default_item_id=DEFAULT_ITEM)
    one = assert_problem(await client.get(f"{API}/customer-invoices/{first['id']}/quickbooks"), 409)
    assert "missing_settings" not in one and len(one["missing"]) == 2
    assert "2 records have no quickbooks_id" in one["detail"], one["detail"]
    # One gap left, counted in the singular.
    patched = await client.patch(
        f"{API}/customers/{acme['id']}", json={"quickbooks_id": CUSTOMER["acme"]}
    )
    assert patched.status_code == 200, patched.text
    one = assert_problem(await client.get(f"{API}/customer-invoices/{first['id']}/quickbooks"), 409)
    assert "1 record has no quickbooks_id" in one["detail"], one["detail"]

    # Mapping them (found again by the filter) clears every gap.
    for path, record, qb_id in (
        ("customers", acme, CUSTOMER["acme"]),
        ("customers", beta, CUSTOMER["beta"]),
        ("services", av, ITEM["av"]),
        ("services", backup, ITEM["backup"]),
    ):
        patched = await client.patch(f"{API}/{path}/{record['id']}", json={"quickbooks_id": qb_id})
        assert patched.status_code == 200, patched.text
    unmapped = await client.get(f"{API}/exports/quickbooks/unmapped", params={"period": NOV})
    assert unmapped.json() == {"customers": [], "services": []}
    items = await batches(client, NOV)
    assert [bid for bid, _, _ in items] == ["A-1", "B-1", "M-1"]
    assert items[0][2]["CustomerRef"] == {"value": CUSTOMER["acme"], "name": "Acme Ltd"}
    assert [ln["SalesItemLineDetail"]["ItemRef"]["value"] for ln in items[0][2]["Line"]] == [
        ITEM["av"],
        ITEM["dns"],
        DEFAULT_ITEM,
        ITEM["av"],
    ]
    by_qb_id = await client.get(f"{API}/customers", params={"quickbooks_id": CUSTOMER["beta"]})
    assert [c["id"] for c in by_qb_id.json()["items"]] == [beta["id"]]


async def test_unmapped_of_an_empty_period_and_bad_periods(client: httpx.AsyncClient) -> None:
    empty = await client.get(f"{API}/exports/quickbooks/unmapped", params={"period": "2030-01"})
    assert empty.status_code == 200 and empty.json() == {"customers": [], "services": []}
    for bad in ("2026-13", "november", ""):
        assert_problem(
            await client.get(f"{API}/exports/quickbooks/unmapped", params={"period": bad}), 422
        )


# --- the period export -----------------------------------------------------------------------


async def test_period_export_is_batch_request_bodies(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    app_settings(quickbooks_default_item_id=DEFAULT_ITEM)
    w = await world(client)
    nov = await batches(client, NOV)
    # Every invoice of the period but the void one, in number order, each as GET
    # .../quickbooks renders it; the bId is its number.
    assert [bid for bid, _, _ in nov] == sorted([w.acme_nov["number"], "PSA-B-2026-11"])
    for invoice in (w.acme_nov, w.beta_recorded):
        (exported,) = [(k, d) for bid, k, d in nov if bid == invoice["number"]]
        assert exported == await qb(client, invoice["id"])
    # 275.59 + 302.66 = 578.25
    assert sum(Decimal(d["TotalAmt"]) for _, _, d in nov) == D("578.25")

    dec = await batches(client, DEC)
    assert [bid for bid, _, _ in dec] == sorted([w.acme_dec["number"], w.beta_dec["number"]])

    empty = read_json(await client.get(f"{API}/exports/quickbooks", params={"period": "2027-01"}))
    assert empty == []

    for path in ("exports/quickbooks", "exports/quickbooks.iif"):
        for bad in ("2026-13", "2026-1", "november", ""):
            assert_problem(await client.get(f"{API}/{path}", params={"period": bad}), 422)
        assert_problem(await client.get(f"{API}/{path}"), 422)


async def test_batches_hold_at_most_30(client: httpx.AsyncClient) -> None:
    c = await customer(client, quickbooks_id=CUSTOMER["acme"])
    s = await service(client, "AV", quickbooks_id=ITEM["av"])
    for n in range(61):
        await create(
            client,
            "customer-invoices",
            {
                "customer_id": c["id"],
                "number": f"INV-{n:03d}",
                "period": NOV,
                "issue_date": "2026-11-03",
                "lines": [
                    {"service_id": s["id"], "description": "x", "quantity": "1", "unit_price": "1"}
                ],
            },
        )
    body = read_json(await client.get(f"{API}/exports/quickbooks", params={"period": NOV}))
    assert [len(b["BatchItemRequest"]) for b in body] == [30, 30, 1]
    items = check_batches(body, await refs(client))
    assert [bid for bid, _, _ in items] == [f"INV-{n:03d}" for n in range(61)]


# --- IIF -------------------------------------------------------------------------------------


async def iif(
    client: httpx.AsyncClient, period: str, **checks: Any
) -> tuple[httpx.Response, list[Transaction]]:
    response = await client.get(f"{API}/exports/quickbooks.iif", params={"period": period})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=windows-1252"
    assert f"invoices-{period}.iif" in response.headers["content-disposition"]
    return response, check_iif(response.content, **checks)


def spl_brief(t: Transaction) -> list[tuple[str, str, str, str, str]]:
    return [(s["ACCNT"], s["AMOUNT"], s["QNTY"], s["PRICE"], s["INVITEM"]) for s in t.spl]


async def test_iif_export_parses_back_and_balances(client: httpx.AsyncClient) -> None:
    """IIF names things by name: no quickbooks_id and no default item are needed."""
    w = await world(client)
    for record in ("customers", "services"):
        for item in (await client.get(f"{API}/{record}")).json()["items"]:
            await client.patch(f"{API}/{record}/{item['id']}", json={"quickbooks_id": None})
    response, transactions = await iif(client, NOV)
    assert "x-transliterated" not in response.headers
    nov = {t.trns["DOCNUM"]: t for t in transactions}
    assert sorted(nov) == sorted([w.acme_nov["number"], "PSA-B-2026-11"])  # not the void one

    acme = nov[w.acme_nov["number"]]
    assert acme.trns["TRNSTYPE"] == "INVOICE"
    assert acme.trns["DATE"] == "11/01/2026"
    assert acme.trns["NAME"] == "Acme Ltd"
    assert acme.trns["AMOUNT"] == "275.59"
    assert acme.trns["MEMO"] == NOV
    # -140.25 - 86.39 - 48.95 = -275.59
    assert spl_brief(acme) == [
        ("4100 Managed Services", "-140.25", "-5.1", "27.5", "AV-EDR"),
        ("4200 Backup", "-86.39", "-987.3", "0.0875", "BK-GB"),
        ("4200 Backup", "-48.95", "-559.47", "0.0875", "BK-GB"),
    ]

    beta = nov["PSA-B-2026-11"]
    assert beta.trns["DATE"] == "11/30/2026"
    assert beta.trns["NAME"] == "Beta GmbH"
    assert beta.trns["AMOUNT"] == "302.66"
    assert [s["AMOUNT"] for s in beta.spl] == ["0.00", "-86.00", "-29.99", "-120.00", "-66.67"]
    assert [s["ACCNT"] for s in beta.spl] == [
        "4300 Usage",
        "4200 Backup",
        "4100 Managed Services",
        "Sales",  # no service: the default income account
        "Sales",  # a service without a revenue account
    ]
    # The tab and line breaks of the description are flattened to spaces.
    assert beta.spl[3]["MEMO"] == "Onsite visit after hours follow-up next day"
    assert beta.spl[3]["INVITEM"] == ""

    _, transactions = await iif(client, DEC)
    dec = {t.trns["DOCNUM"]: t for t in transactions}
    assert dec[w.acme_dec["number"]].trns["AMOUNT"] == "420.28"
    assert dec[w.acme_dec["number"]].trns["DATE"] == "12/01/2026"
    beta_dec = dec[w.beta_dec["number"]]
    assert beta_dec.trns["AMOUNT"] == "115.06"
    assert spl_brief(beta_dec) == [
        ("Sales", "-82.80", "-2.4839", "33.3333", "M365-BP"),
        ("4400 Projects", "-32.26", "-0.0323", "998.7616", "PRO-HR"),
    ]

    assert (await iif(client, "2027-01"))[1] == []


async def test_iif_receivable_account_is_a_setting(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    app_settings(quickbooks_ar_account="1200 Należności")
    # A month without invoices names no account: nothing was transliterated.
    response, transactions = await iif(client, NOV, ar_account="1200 Naleznosci")
    assert transactions == [] and "x-transliterated" not in response.headers
    await credit_invoice(client)
    response, (t,) = await iif(client, NOV, ar_account="1200 Naleznosci")
    assert t.trns["TRNSTYPE"] == "CREDIT MEMO"
    assert unquote(response.headers["x-transliterated"]) == "1200 Należności"


async def test_iif_flattens_names_and_numbers(client: httpx.AsyncClient) -> None:
    """Free text that reaches an IIF cell cannot break its rows and columns."""
    odd = (await customer(client, "Odd\tName Ltd"))["id"]
    svc = await service(client, "ODD", revenue_account="4100\tManaged\nServices")
    created = await client.post(
        f"{API}/customer-invoices",
        json={
            "customer_id": odd,
            "number": "INV-7",
            "period": NOV,
            "issue_date": "2026-11-05",
            "lines": [
                {
                    "service_id": svc["id"],
                    "description": "line\none",
                    "quantity": "1",
                    "unit_price": "10",
                }
            ],
        },
    )
    assert created.status_code == 201, created.text
    response, (t,) = await iif(client, NOV)
    assert t.trns["NAME"] == "Odd Name Ltd"
    assert t.spl[0]["ACCNT"] == "4100 Managed Services"
    assert t.spl[0]["MEMO"] == "line one"
    # Flattening is not transliteration: nothing to report.
    assert "x-transliterated" not in response.headers
    # Numbers cannot hold tabs or line breaks at all (a 422 when recorded, test_billing).
    assert t.trns["DOCNUM"] == t.spl[0]["DOCNUM"] == "INV-7"
    assert t.trns["AMOUNT"] == "10.00" and t.spl[0]["AMOUNT"] == "-10.00"


async def test_iif_is_windows_1252_and_transliterates(client: httpx.AsyncClient) -> None:
    """QuickBooks Desktop reads IIF as Windows-1252: "Müller" arrives as one byte 0xFC and
    stays; a character the code page lacks becomes its closest ASCII form, and header
    X-Transliterated names the originals that changed."""
    names = ["Łódź Logistics", "Иванов ООО", "Müller & Söhne GmbH ✓", "Щука, Ёлка"]
    customers = [(await customer(client, name))["id"] for name in names]
    s = await service(client, "ΑΩ-1", revenue_account="4100 Umsätze")
    for n, c in enumerate(customers):
        await create(
            client,
            "customer-invoices",
            {
                "customer_id": c,
                "number": f"INV-{n}",
                "period": NOV,
                "issue_date": "2026-11-05",
                "lines": [
                    {
                        "service_id": s["id"],
                        "description": "Café € Ђ",
                        "quantity": "1",
                        "unit_price": "10",
                    }
                ],
            },
        )
    response, transactions = await iif(client, NOV)
    assert [t.trns["NAME"] for t in transactions] == [
        "Lódz Logistics",
        "Ivanov OOO",
        "Müller & Söhne GmbH ?",
        "Shchuka, Yolka",
    ]
    content = response.content
    assert b"M\xfcller & S\xf6hne" in content  # ü and ö as Windows-1252 bytes
    assert b"L\xf3dz Logistics" in content  # ó stays, Ł and ź lose what cp1252 lacks
    assert "Café € Dj".encode("cp1252") in content  # a description: transliterated too
    assert all(
        s["ACCNT"] == "4100 Umsätze" and s["INVITEM"] == "AO-1" for s in spl_of(transactions)
    )
    header = response.headers["x-transliterated"]
    assert header.isascii() and " " not in header
    # Percent-encoded UTF-8, comma-separated (a comma inside a name is encoded): the names
    # as stored, in the order they first appear; a description is not a name.
    assert [unquote(part) for part in header.split(",")] == [
        "Łódź Logistics",
        "ΑΩ-1",
        "Иванов ООО",
        "Müller & Söhne GmbH ✓",
        "Щука, Ёлка",
    ]


def spl_of(transactions: list[Transaction]) -> list[dict[str, str]]:
    return [s for t in transactions for s in t.spl]


# --- the whole of a hard period --------------------------------------------------------------

FEB_CUSTOMER = {"lodz": "80000101", "ivanov": "80000102", "muller": "80000103"}
FEB_ITEM = {"av": "90000111", "backup": "90000112"}


async def test_every_export_of_a_hard_period_passes_quickbooks_rules(
    client: httpx.AsyncClient, app_settings: SettingsChange
) -> None:
    """A month with prorated lines, a credit invoice, lines without a service, non-Latin
    names and more invoices than one batch holds: every document of every export keeps
    QuickBooks' rules, and none names a record by one of this service's ids."""
    app_settings(quickbooks_default_item_id=DEFAULT_ITEM)
    lodz = await customer(client, "Łódź Logistics", quickbooks_id=FEB_CUSTOMER["lodz"])
    ivanov = await customer(client, "Иванов ООО", quickbooks_id=FEB_CUSTOMER["ivanov"])
    muller = await customer(client, "Müller GmbH", quickbooks_id=FEB_CUSTOMER["muller"])
    av = await service(
        client,
        "AV-EDR",
        name="Antivirus EDR",
        unit_price="27.50",
        revenue_account="4100 Managed Services",
        quickbooks_id=FEB_ITEM["av"],
    )
    backup = await service(
        client, "BK-GB", unit="GB", unit_price="0.0875", quickbooks_id=FEB_ITEM["backup"]
    )
    # Łódź from 10 February, 19 of 28 days: 9 seats x 19/28 = 6.1071 unit-months,
    # 6.1071 x 27.50 = 167.945... -> 167.95; 987.3 GB x 19/28 = 669.9536 x 0.0875 = 58.62.
    k = await contract(client, lodz["id"], "2027-02-10", name="Łódź MSA")
    await line(client, k["id"], av["id"], "9")
    await line(client, k["id"], backup["id"], "987.3")
    # Иванов the whole month: 3 x 27.50 = 82.50.
    k = await contract(client, ivanov["id"], "2026-01-01", name="Договор")
    await line(client, k["id"], av["id"], "3")
    run = await client.post(f"{API}/billing-runs", json={"period": FEB})
    assert run.status_code == 201, run.text

    credit = await create(
        client,
        "customer-invoices",
        {
            "customer_id": muller["id"],
            "number": "GS-2027-02",
            "period": FEB,
            "issue_date": "2027-02-27",
            "lines": [
                {
                    "service_id": av["id"],
                    "description": "Gutschrift Lizenzen",
                    "quantity": "-2",
                    "unit_price": "27.50",
                },
                {"description": "Kulanz", "quantity": "-1", "unit_price": "20"},
            ],
        },
    )
    assert credit["total"] == "-75.00"
    for n in range(30):
        await create(
            client,
            "customer-invoices",
            {
                "customer_id": muller["id"],
                "number": f"M-2027-02-{n:02d}",
                "period": FEB,
                "issue_date": "2027-02-28",
                "lines": [
                    {"description": "Vor-Ort-Einsatz", "quantity": "1.5", "unit_price": "95"},
                    {
                        "service_id": backup["id"],
                        "description": "Backup",
                        "quantity": "123.4567",
                        "unit_price": "0.0875",
                    },
                ],
            },
        )
    invoices = (
        await client.get(f"{API}/customer-invoices", params={"period": FEB, "limit": 100})
    ).json()["items"]
    assert len(invoices) == 33

    # Every invoice on its own.
    kinds = {}
    for invoice in invoices:
        kind, document = await qb(client, invoice["id"])
        kinds[invoice["number"]] = kind
        assert document["CustomerRef"]["value"] in FEB_CUSTOMER.values()
    assert kinds["GS-2027-02"] == "CreditMemo"
    assert sorted(set(kinds.values())) == ["CreditMemo", "Invoice"]
    lodz_draft = next(i for i in invoices if i["customer_id"] == lodz["id"])
    _, document = await qb(client, lodz_draft["id"])
    assert document["CustomerRef"] == {"value": FEB_CUSTOMER["lodz"], "name": "Łódź Logistics"}
    assert brief(document) == [
        (FEB_ITEM["av"], D("6.1071"), D("27.5"), D("167.95")),
        (FEB_ITEM["backup"], D("669.9536"), D("0.0875"), D("58.62")),
    ]

    # The period: 33 items in batches of 30 and 3.
    body = read_json(await client.get(f"{API}/exports/quickbooks", params={"period": FEB}))
    assert [len(b["BatchItemRequest"]) for b in body] == [30, 3]
    items = check_batches(body, await refs(client, DEFAULT_ITEM))
    assert sorted(bid for bid, _, _ in items) == sorted(i["number"] for i in invoices)
    unmapped = await client.get(f"{API}/exports/quickbooks/unmapped", params={"period": FEB})
    assert unmapped.json() == {"customers": [], "services": []}

    # IIF: Windows-1252, balanced, the credit a CREDIT MEMO, the names spelled for it.
    response, transactions = await iif(client, FEB, accounts={"4100 Managed Services", "Sales"})
    by_number = {t.trns["DOCNUM"]: t for t in transactions}
    assert len(by_number) == 33
    assert by_number["GS-2027-02"].trns["TRNSTYPE"] == "CREDIT MEMO"
    assert by_number["GS-2027-02"].trns["AMOUNT"] == "-75.00"
    assert by_number["GS-2027-02"].trns["NAME"] == "Müller GmbH"
    assert by_number[lodz_draft["number"]].trns["NAME"] == "Lódz Logistics"
    assert {t.trns["NAME"] for t in transactions} == {
        "Lódz Logistics",
        "Ivanov OOO",
        "Müller GmbH",
    }
    # The drafts are numbered by customer id: Łódź's comes first.
    assert [unquote(p) for p in response.headers["x-transliterated"].split(",")] == [
        "Łódź Logistics",
        "Иванов ООО",
    ]
