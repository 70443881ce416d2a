"""Checks at ingest (docs/checks.md): every way a vendor invoice comes in answers it with
what the audit of its month would find about it alone; through HTTP on both databases,
the figures worked out by hand, and each invoice's checks held equal to the findings the
month's audit reports for it right after."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.audits import checks
from tests.helpers import contract, create, customer, line, service, vendor
from tests.test_import_profiles import partner_center_file, partner_center_setup, post_file
from tests.test_webhooks import deliver

API = "/api/v1"
# The types a check can have, as the audit's findings (docs/checks.md#what-is-checked).
OF_INVOICE = {"PRICE_INCREASE", "UNMAPPED_SKU", "UNMAPPED_ACCOUNT", "INVOICE_TOTAL_MISMATCH"}
OF_PAIRS = {"ORPHANED_COST", "DUPLICATE_CHARGE"}


def shown(item: dict[str, Any]) -> tuple[Any, ...]:
    """What a check and a finding share."""
    return (
        item["type"],
        item["severity"],
        item["impact"],
        item["customer_id"],
        item["customer_name"],
        item["service_id"],
        item["service_name"],
        item["vendor_sku"],
        item["account_ref"],
        item["message"],
    )


async def audit_of(client: httpx.AsyncClient, period: str) -> list[dict[str, Any]]:
    """Every finding of a new audit of the month, in the list's order."""
    audit = await create(client, "audits", {"period": period})
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"{API}/audits/{audit['id']}/findings", params=params)).json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


def duplicated_on(message: str) -> set[str]:
    """The invoice numbers a DUPLICATE_CHARGE message names: the copies and the earlier
    charges they copy."""
    found = re.search(r" again on (.*) for \d{4}-\d{2}: the same charge as on (.*) \(", message)
    assert found, message
    return {number for group in found.groups() for number in group.split(", ")}


async def findings_about(
    client: httpx.AsyncClient, invoice: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The findings the month's audit reports about the invoice: those naming it, the
    orphaned cost of the pairs its lines charge, and duplicate charges of those pairs that
    it carries or is copied from."""
    pairs = {
        (x["customer_id"], x["service_id"])
        for x in invoice["lines"]
        if x["customer_id"] is not None
        and x["service_id"] is not None
        and x["kind"] != "adjustment"
    }
    about = []
    for finding in await audit_of(client, invoice["period"]):
        if finding["type"] in OF_INVOICE:
            if finding["vendor_invoice_id"] == invoice["id"]:
                about.append(finding)
        elif finding["type"] in OF_PAIRS:
            pair = (finding["customer_id"], finding["service_id"])
            if pair in pairs and (
                finding["type"] == "ORPHANED_COST"
                or invoice["invoice_number"] in duplicated_on(finding["message"])
            ):
                about.append(finding)
    return [shown(f) for f in about]


async def assert_checks_are_the_audits(client: httpx.AsyncClient, answer: dict[str, Any]) -> None:
    checks = [shown(c) for c in answer["checks"]]
    assert checks == await findings_about(client, answer)


class Shop:
    """Pax8; M365 (standard cost 18.00, price 22.00) and EDR (4.00, 6.00); Acme with 10
    M365 seats from 2026-01-01; Globex with 5 M365 seats until its contract ended on
    2026-10-31 (cancelled)."""

    def __init__(self, ids: dict[str, int], secret: str) -> None:
        self.ids, self.secret = ids, secret

    def __getattr__(self, name: str) -> int:
        return self.ids[name]


async def shop(client: httpx.AsyncClient) -> Shop:
    v = await vendor(client, "Pax8")
    m365 = await service(client, "M365", name="Microsoft 365", vendor_id=v["id"], vendor_sku="M")
    edr = await service(
        client, "EDR", name="EDR", unit_price="6.00", unit_cost="4.00", vendor_id=v["id"],
        vendor_sku="E",
    )  # fmt: skip
    acme = await customer(client, "Acme Ltd")
    globex = await customer(client, "Globex")
    for c, ref in ((acme, "ACME"), (globex, "GLOBEX")):
        await create(
            client,
            f"customers/{c['id']}/vendor-accounts",
            {"vendor_id": v["id"], "account_ref": ref},
        )
    k = await contract(client, acme["id"], "2026-01-01")
    await line(client, k["id"], m365["id"], "10")
    g = await contract(client, globex["id"], "2026-01-01", end_date="2026-10-31")
    await line(client, g["id"], m365["id"], "5")
    return Shop(
        {"vendor": v["id"], "m365": m365["id"], "edr": edr["id"], "acme": acme["id"],
         "globex": globex["id"]},
        v["webhook_secret"],
    )  # fmt: skip


def bill(
    s: Shop, number: str, lines: list[dict[str, Any]], total: str, period: str = "2026-11"
) -> dict[str, Any]:
    return {
        "vendor_id": s.vendor,
        "invoice_number": number,
        "invoice_date": f"{period}-28",
        "period": period,
        "total": total,
        "lines": lines,
    }


def seats(sku: str, account: str, quantity: str, unit_cost: str, **extra: Any) -> dict[str, Any]:
    return {
        "vendor_sku": sku, "account_ref": account, "quantity": quantity, "unit_cost": unit_cost,
        **extra,
    }  # fmt: skip


async def test_a_price_rise_an_unmapped_sku_and_a_cancelled_customer(
    client: httpx.AsyncClient,
) -> None:
    s = await shop(client)
    lines = [
        # 10 seats at 19.50 against a standard of 18.00: (19.50 - 18.00) x 10 = 15.00.
        seats("M", "ACME", "10", "19.50"),
        # Globex's contract ended on 31 October: 5 x 18.00 = 90.00 paid for nobody.
        seats("M", "GLOBEX", "5", "18.00"),
        # A SKU no service carries: 3 x 7.00 = 21.00.
        seats("TEAMS-PHONE", "ACME", "3", "7.00"),
    ]
    # 195.00 + 90.00 + 21.00 = 306.00: the total agrees.
    answer = await create(client, "vendor-invoices", bill(s, "P-1", lines, "306.00"))
    assert [(c["type"], c["impact"], c["customer_name"], c["service_name"]) for c in answer[
        "checks"
    ]] == [
        ("ORPHANED_COST", "90.00", "Globex", "Microsoft 365"),
        ("UNMAPPED_SKU", "21.00", "Acme Ltd", None),
        ("PRICE_INCREASE", "15.00", None, "Microsoft 365"),
    ]  # fmt: skip
    orphan, unmapped, rise = answer["checks"]
    assert orphan["severity"] == "high" and orphan["customer_id"] == s.globex
    assert orphan["message"] == (
        "Globex: Pax8 charged 5 x Microsoft 365 (90.00) for 2026-11, but no active contract "
        "covers it (contract ended 2026-10-31)."
    )
    assert (unmapped["vendor_sku"], unmapped["account_ref"]) == ("TEAMS-PHONE", "ACME")
    assert unmapped["service_id"] is None and unmapped["severity"] == "low"
    assert rise["service_id"] == s.m365 and rise["customer_id"] is None
    assert "19.50" in rise["message"] and "18.00" in rise["message"]
    # Stored nowhere as findings: no audit exists until one is asked for.
    assert (await client.get(f"{API}/audits")).json()["items"] == []
    await assert_checks_are_the_audits(client, answer)


async def test_a_clean_invoice_has_no_checks(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    answer = await create(
        client, "vendor-invoices", bill(s, "P-1", [seats("M", "ACME", "10", "18.00")], "180.00")
    )
    assert answer["checks"] == []
    await assert_checks_are_the_audits(client, answer)


async def test_a_total_that_disagrees(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    # 180.00 of lines, 200.00 stated: 20.00 apart.
    answer = await create(
        client, "vendor-invoices", bill(s, "P-1", [seats("M", "ACME", "10", "18.00")], "200.00")
    )
    assert [(c["type"], c["impact"]) for c in answer["checks"]] == [
        ("INVOICE_TOTAL_MISMATCH", "20.00")
    ]
    await assert_checks_are_the_audits(client, answer)


async def test_a_charge_billed_again(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    first = await create(
        client, "vendor-invoices", bill(s, "P-1", [seats("M", "ACME", "10", "18.00")], "180.00")
    )
    assert first["checks"] == []
    # The same 10 seats for November on a second invoice: 180.00 paid twice. Acme then has
    # 20 vendor units against 10 contracted, which is UNBILLED_UNITS, not a check.
    again = bill(s, "P-2", [seats("M", "ACME", "10", "18.00")], "180.00")
    again["invoice_date"] = "2026-11-29"
    second = await create(client, "vendor-invoices", again)
    assert [(c["type"], c["impact"], c["customer_name"]) for c in second["checks"]] == [
        ("DUPLICATE_CHARGE", "180.00", "Acme Ltd")
    ]
    assert second["checks"][0]["message"] == (
        "Acme Ltd: Pax8 charged Microsoft 365 again on P-2 for 2026-11: the same charge as on "
        "P-1 (180.00)."
    )
    await assert_checks_are_the_audits(client, second)


async def test_orphaned_cost_counts_the_pairs_other_lines(client: httpx.AsyncClient) -> None:
    """The orphaned cost of a pair the invoice charges is the month's, as the audit sees
    it: an annual line on an earlier invoice counts too."""
    s = await shop(client)
    # October: Globex's EDR for a year upfront, 12 x 4.00 x 12 = 576.00 (no EDR contract).
    annual = seats("E", "GLOBEX", "12", "4.00", charge_start="2026-10-01", charge_end="2027-09-30")
    october = await create(
        client, "vendor-invoices", bill(s, "A-10", [annual], "576.00", "2026-10")
    )
    # Globex has M365 to 31 October and no EDR: the year's line is orphaned, a month of it
    # in October, 576.00 / 12 = 48.00.
    assert [(c["type"], c["impact"]) for c in october["checks"]] == [("ORPHANED_COST", "48.00")]
    # November: 2 more EDR seats for November, 2 x 4.00 = 8.00; the pair's month carries
    # 48.00 of the annual line as well: 56.00 at stake.
    november = await create(
        client, "vendor-invoices", bill(s, "P-11", [seats("E", "GLOBEX", "2", "4.00")], "8.00")
    )
    assert [(c["type"], c["impact"], c["service_name"]) for c in november["checks"]] == [
        ("ORPHANED_COST", "56.00", "EDR")
    ]
    await assert_checks_are_the_audits(client, november)


async def test_csv_import_answers_with_checks(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    content = (
        b"vendor_sku,account_ref,description,quantity,unit_cost,amount\n"
        b"M,GLOBEX,M365,5,18.00,\n"
        b"M,NEWCO,M365,2,18.00,\n"
    )
    response = await post_file(
        client,
        content,
        vendor_id=s.vendor,
        invoice_number="CSV-1",
        invoice_date="2026-11-30",
        period="2026-11",
        total="126.00",
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    # Globex: 5 x 18.00 = 90.00 orphaned; NEWCO names no customer: 2 x 18.00 = 36.00.
    assert [(c["type"], c["impact"], c["account_ref"]) for c in answer["checks"]] == [
        ("ORPHANED_COST", "90.00", None),
        ("UNMAPPED_ACCOUNT", "36.00", "NEWCO"),
    ]
    await assert_checks_are_the_audits(client, answer)


async def test_a_profile_import_answers_each_invoice_with_its_own(
    client: httpx.AsyncClient,
) -> None:
    setup = await partner_center_setup(client)
    for dry_run in (True, False):
        response = await post_file(
            client,
            partner_center_file(),
            profile="microsoft-partner-center",
            vendor_id=setup["vendor"]["id"],
            invoice_date="2026-12-08",
            dry_run=str(dry_run).lower(),
        )
        assert response.status_code == (200 if dry_run else 201), response.text
        made = response.json()["invoices"]
        if dry_run:
            previewed = [invoice["checks"] for invoice in made]
            continue
        # The preview showed the checks the import then gave.
        assert [invoice["checks"] for invoice in made] == previewed
    assert len(made) == 2 and all(invoice["checks"] for invoice in made)
    for invoice in made:
        await assert_checks_are_the_audits(client, invoice)


async def test_a_webhook_answers_with_checks(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    s = await shop(client)
    payload = {
        "invoice_number": "W-1",
        "invoice_date": "2026-11-28",
        "period": "2026-11",
        "total": "90.00",
        "lines": [seats("M", "GLOBEX", "5", "18.00")],
    }
    response = await deliver(anon, s.vendor, s.secret, payload, msg_id="msg_c1")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [(c["type"], c["impact"]) for c in answer["checks"]] == [("ORPHANED_COST", "90.00")]
    # A redelivery of the same webhook-id answers as the first time.
    again = await deliver(anon, s.vendor, s.secret, payload, msg_id="msg_c1")
    assert again.json()["checks"] == answer["checks"]
    invoice = (await client.get(f"{API}/vendor-invoices/{answer['invoice_id']}")).json()
    await assert_checks_are_the_audits(client, {**invoice, "checks": answer["checks"]})


async def test_checks_agree_with_the_audit_on_random_bills(client: httpx.AsyncClient) -> None:
    """Seeded random invoices over a small shop: after each, its checks are what the
    month's audit reports about it."""
    rng = random.Random(20261206)
    v = await vendor(client, "Pax8")
    services = [
        await service(
            client, f"S{i}", unit_cost=f"{2 + i}.00", unit_price=f"{4 + i}.00",
            vendor_id=v["id"], vendor_sku=f"V{i}",
        )
        for i in range(4)
    ]  # fmt: skip
    customers = []
    for i in range(5):
        c = await customer(client, f"Customer {i}")
        await create(
            client,
            f"customers/{c['id']}/vendor-accounts",
            {"vendor_id": v["id"], "account_ref": f"A{i}"},
        )
        k = await contract(client, c["id"], "2026-01-01", end_date="2026-11-15" if i == 4 else None)
        for s in services[: 1 + i % 3]:
            await line(client, k["id"], s["id"], str(1 + i))
        customers.append(c)
    sent: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number in range(12):
        lines = []
        for _ in range(rng.randint(1, 6)):
            if sent and rng.random() < 0.2:  # a line of an earlier invoice, billed again
                lines.append(dict(rng.choice(rng.choice(sent)["lines"])))
                continue
            i = rng.randrange(5)
            sku = f"V{rng.randrange(5)}"  # V4 is no service's
            account = f"A{i}" if rng.random() < 0.9 else "NOBODY"
            unit_cost = Decimal(2 + int(sku[1])) + Decimal(rng.choice(["0", "0", "0.25", "-0.5"]))
            body = seats(sku, account, str(rng.randint(1, 9)), str(unit_cost))
            if rng.random() < 0.3:
                body |= {"charge_start": "2026-11-11", "charge_end": "2026-11-30"}
            lines.append(body)
        total = "0.00" if rng.random() < 0.2 else None
        payload = {
            "vendor_id": v["id"],
            "invoice_number": f"R-{number}",
            "invoice_date": f"2026-11-{10 + number:02d}",
            "period": "2026-11",
            "total": total or "0.00",
            "lines": lines,
        }
        if total is None:  # the total the lines make: the default amounts, summed
            probe = await client.post(
                f"{API}/vendor-invoices", json={**payload, "invoice_number": "PROBE"}
            )
            payload["total"] = probe.json()["lines_total"]
            await client.delete(f"{API}/vendor-invoices/{probe.json()['id']}?force=true")
        answer = await create(client, "vendor-invoices", payload)
        sent.append(payload)
        await assert_checks_are_the_audits(client, answer)
        seen.update(c["type"] for c in answer["checks"])
    # The bills gave every kind of check somewhere.
    assert seen == OF_INVOICE | OF_PAIRS


async def test_a_tolerance_holds_back_a_check_as_the_audit_would(client: httpx.AsyncClient) -> None:
    s = await shop(client)
    # Differences in a total of 25.00 or less are accepted.
    await create(client, "tolerances", {"type": "INVOICE_TOTAL_MISMATCH", "max_impact": "25.00"})
    lines = [seats("M", "ACME", "10", "18.00")]
    small = await create(client, "vendor-invoices", bill(s, "P-1", lines, "200.00"))
    assert small["checks"] == []  # 200.00 - 180.00 = 20.00 <= 25.00: held back
    big = await create(client, "vendor-invoices", bill(s, "P-2", lines, "210.00"))
    assert [(c["type"], c["impact"]) for c in big["checks"]] == [
        ("DUPLICATE_CHARGE", "180.00"),
        ("INVOICE_TOTAL_MISMATCH", "30.00"),
    ]
    await assert_checks_are_the_audits(client, big)


async def test_a_file_of_many_invoices_is_checked_at_once(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One gathering for the invoices of one vendor and month (docs/checks.md): a file of
    40 invoice numbers is checked with one run of the audit's gathering, and each invoice
    still gets its own checks."""
    s = await shop(client)
    lines = ["vendor_sku,account_ref,quantity,unit_cost,amount,invoice_number"]
    for n in range(40):
        account = "GLOBEX" if n % 2 else "ACME"
        lines.append(f"M,{account},5,18.00,90.00,B-{n:02d}")
    gathered = 0
    load = checks.audit_data.load

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal gathered
        gathered += 1
        return await load(*args, **kwargs)

    columns = ["vendor_sku", "account_ref", "quantity", "unit_cost", "amount", "invoice_number"]
    await create(
        client,
        "import-profiles",
        {
            "name": "per-customer-invoices",
            "vendor_id": s.vendor,
            "columns": {c: c for c in columns},
        },
    )
    monkeypatch.setattr(checks.audit_data, "load", counted)
    response = await post_file(
        client,
        "\n".join(lines).encode(),
        profile="per-customer-invoices",
        vendor_id=s.vendor,
        invoice_date="2026-11-30",
        period="2026-11",
    )
    assert response.status_code == 201, response.text
    assert gathered == 1
    made = response.json()["invoices"]
    assert len(made) == 40
    # Globex's 20 invoices of 5 seats each (90.00): the pair's month holds 100 seats with no
    # contract, 20 x 90.00 = 1800.00 orphaned, a check on each invoice charging it; the
    # same charge on 20 invoices: 19 copies, 19 x 90.00 = 1710.00 duplicated. Acme's
    # charges repeat as well (19 x 90.00); its 100 seats against 10 contracted are
    # UNBILLED_UNITS, a finding for the audit, not a check.
    globex = made[1]
    assert [(c["type"], c["impact"], c["customer_name"]) for c in globex["checks"]] == [
        ("ORPHANED_COST", "1800.00", "Globex"),
        ("DUPLICATE_CHARGE", "1710.00", "Globex"),
    ]
    acme = made[0]
    assert [(c["type"], c["impact"]) for c in acme["checks"]] == [("DUPLICATE_CHARGE", "1710.00")]
    monkeypatch.setattr(checks.audit_data, "load", load)
    await assert_checks_are_the_audits(client, globex)
    await assert_checks_are_the_audits(client, acme)
