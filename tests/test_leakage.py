"""The leakage report (docs/reports.md#leakage), through HTTP on both databases: a year of
audits, acknowledgements, dismissals and fixes replayed on a clock, and every month's
figures worked out by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.audits import service as audits
from tests.helpers import assert_problem, create, line
from tests.test_audits import bill
from tests.test_fixes import Shop, fix, seats, shop

API = "/api/v1"
TYPE = "INVOICE_TOTAL_MISMATCH"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def at(self, day: str) -> None:
        self.now = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time of every change: the findings' status changes and the fixes."""
    clock = Clock()
    # Both go through audits.service.record_change.
    monkeypatch.setattr(audits, "utcnow", lambda: clock.now)
    return clock


async def month_bill(client: httpx.AsyncClient, s: Shop, month: int, lines: list[Any]) -> None:
    """The vendor's invoice of 2026-`month`, its total `month` x 10.00 above its lines: an
    INVOICE_TOTAL_MISMATCH of month x 10.00."""
    period = f"2026-{month:02d}"
    amount = sum(Decimal(x["quantity"]) * Decimal(x["unit_cost"]) for x in lines)
    await create(
        client,
        "vendor-invoices",
        {
            "vendor_id": s.vendor, "invoice_number": f"T-{month}",
            "invoice_date": f"{period}-28", "period": period,
            "total": f"{amount + 10 * month:.2f}", "lines": lines,
        },
    )  # fmt: skip
    await bill(client, s.acme, f"C-{month}", period=period)


async def audit_findings(client: httpx.AsyncClient, period: str) -> dict[str, dict[str, Any]]:
    made = await create(client, "audits", {"period": period})
    page = await client.get(f"{API}/audits/{made['id']}/findings", params={"limit": 500})
    return {f["type"]: f for f in page.json()["items"]}


async def status(client: httpx.AsyncClient, finding: dict[str, Any], value: str) -> None:
    response = await client.patch(f"{API}/findings/{finding['id']}", json={"status": value})
    assert response.status_code == 200, response.text


async def report(client: httpx.AsyncClient, first: str, last: str) -> dict[str, Any]:
    response = await client.get(f"{API}/reports/leakage", params={"from": first, "to": last})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def table(body: dict[str, Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {
        (r["month"], r["type"]): (
            r["found"],
            r["resolved"],
            r["recovered"],
            r["dismissed"],
            r["open"],
        )
        for r in body["rows"]
    }


async def test_a_year_replayed(client: httpx.AsyncClient, clock: Clock) -> None:
    clock.at("2026-01-01")
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for month in range(1, 13):
        period = f"2026-{month:02d}"
        # 10 seats at 18.00 in January and February; 12 from March (2 unbilled until the
        # March finding is fixed); at 19.00 in June, a price rise of 12 x 1.00 = 12.00,
        # adopted as the standard by the fix, so the months after charge 19.00 unflagged.
        quantity = "10" if month < 3 else "12"
        cost = "18.00" if month < 6 else "19.00"
        clock.at(f"2026-{month:02d}-28")
        await month_bill(client, s, month, [seats(quantity, cost)])
        # The audit of the month on the 3rd of the next, again on the 20th (a re-run:
        # nothing counts twice).
        after = (2027, 1) if month == 12 else (2026, month + 1)
        clock.at(f"{after[0]}-{after[1]:02d}-03")
        found[period] = await audit_findings(client, period)
        # What people and fixes do in the weeks after.
        if month == 1:
            clock.at("2026-02-10")
            await status(client, found[period][TYPE], "dismissed")
        if month == 2:
            clock.at("2026-03-05")
            await status(client, found[period][TYPE], "acknowledged")
            clock.at("2026-03-20")
            await status(client, found[period][TYPE], "resolved")
        if month == 3:
            assert found[period]["UNBILLED_UNITS"]["impact"] == "44.00"  # 2 x 22.00
            clock.at("2026-04-04")
            response = await fix(
                client, found[period]["UNBILLED_UNITS"]["id"], action="match_contract"
            )
            assert response.status_code == 200, response.text
        if month == 6:
            assert found[period]["PRICE_INCREASE"]["impact"] == "12.00"
            clock.at("2026-07-04")
            response = await fix(client, found[period]["PRICE_INCREASE"]["id"], action="adopt_cost")
            assert response.status_code == 200, response.text
        if month == 7:  # dismissed, then taken back two days later
            clock.at("2026-08-10")
            await status(client, found[period][TYPE], "dismissed")
            clock.at("2026-08-12")
            await status(client, found[period][TYPE], "open")
        if month == 11:
            clock.at("2026-12-10")
            await status(client, found[period][TYPE], "dismissed")
        if month == 12:
            clock.at("2027-01-10")  # after the report's range
            await status(client, found[period][TYPE], "dismissed")
        clock.at(f"{after[0]}-{after[1]:02d}-20")
        again = await audit_findings(client, period)
        # The re-run carries the finding's latest status over.
        first = await client.get(f"{API}/findings/{found[period][TYPE]['id']}")
        assert again[TYPE]["status"] == first.json()["status"]
    # Every other month's audit found the mismatch alone.
    assert {p: sorted(f) for p, f in found.items() if p not in {"2026-03", "2026-06"}} == {
        p: [TYPE] for p in found if p not in {"2026-03", "2026-06"}
    }
    assert sorted(found["2026-03"]) == [TYPE, "UNBILLED_UNITS"]
    assert sorted(found["2026-06"]) == [TYPE, "PRICE_INCREASE"]

    clock.at("2027-02-01")
    year = await report(client, "2026-01", "2026-12")
    assert year["from"] == "2026-01" and year["to"] == "2026-12"
    # (found, resolved, recovered, dismissed, open), open as of the end of December.
    mismatch = {
        "2026-01": ("10.00", "0.00", "0.00", "0.00", "0.00"),  # dismissed 10 February
        "2026-02": ("20.00", "0.00", "0.00", "10.00", "0.00"),  # January's dismissed
        "2026-03": ("30.00", "20.00", "0.00", "0.00", "30.00"),  # February's resolved by hand
        "2026-04": ("40.00", "0.00", "0.00", "0.00", "40.00"),
        "2026-05": ("50.00", "0.00", "0.00", "0.00", "50.00"),
        "2026-06": ("60.00", "0.00", "0.00", "0.00", "60.00"),
        "2026-07": ("70.00", "0.00", "0.00", "0.00", "70.00"),
        "2026-08": ("80.00", "0.00", "0.00", "0.00", "80.00"),  # July's dismissal taken back
        "2026-09": ("90.00", "0.00", "0.00", "0.00", "90.00"),
        "2026-10": ("100.00", "0.00", "0.00", "0.00", "100.00"),
        "2026-11": ("110.00", "0.00", "0.00", "0.00", "0.00"),  # dismissed 10 December
        "2026-12": ("120.00", "0.00", "0.00", "110.00", "120.00"),  # dismissed in January
    }
    expected = {(month, TYPE): figures for month, figures in mismatch.items()}
    expected |= {
        ("2026-03", "UNBILLED_UNITS"): ("44.00", "0.00", "0.00", "0.00", "0.00"),
        ("2026-04", "UNBILLED_UNITS"): ("0.00", "44.00", "44.00", "0.00", "0.00"),
        ("2026-06", "PRICE_INCREASE"): ("12.00", "0.00", "0.00", "0.00", "0.00"),
        ("2026-07", "PRICE_INCREASE"): ("0.00", "12.00", "12.00", "0.00", "0.00"),
    }
    assert table(year) == expected
    # In month order, types in the findings' order within a month.
    assert [(r["month"], r["type"]) for r in year["rows"]][2:5] == [
        ("2026-03", "UNBILLED_UNITS"), ("2026-03", TYPE), ("2026-04", "UNBILLED_UNITS"),
    ]  # fmt: skip
    # 10 + 20 + ... + 120 = 780.00 found; 20.00 resolved; 10 + 110 = 120.00 dismissed;
    # 780 - 10 - 20 - 110 = 640.00 open.
    assert {t["type"]: (t["found"], t["resolved"], t["recovered"], t["dismissed"], t["open"])
            for t in year["totals"]} == {
        "UNBILLED_UNITS": ("44.00", "44.00", "44.00", "0.00", "0.00"),
        "PRICE_INCREASE": ("12.00", "12.00", "12.00", "0.00", "0.00"),
        TYPE: ("780.00", "20.00", "0.00", "120.00", "640.00"),
    }  # fmt: skip

    # March to April: open as of the end of April (the fix of 4 April counted, January's
    # findings out of the range, February's resolution in March in).
    spring = await report(client, "2026-03", "2026-04")
    assert table(spring) == {
        ("2026-03", "UNBILLED_UNITS"): ("44.00", "0.00", "0.00", "0.00", "0.00"),
        ("2026-03", TYPE): ("30.00", "20.00", "0.00", "0.00", "30.00"),
        ("2026-04", "UNBILLED_UNITS"): ("0.00", "44.00", "44.00", "0.00", "0.00"),
        ("2026-04", TYPE): ("40.00", "0.00", "0.00", "0.00", "40.00"),
    }
    # March alone: the fix came after March ended, so the finding is still open then.
    march = await report(client, "2026-03", "2026-03")
    assert table(march)[("2026-03", "UNBILLED_UNITS")] == ("44.00", "0.00", "0.00", "0.00", "44.00")

    # As CSV: the rows, the same figures.
    download = await client.get(
        f"{API}/reports/leakage",
        params={"from": "2026-03", "to": "2026-04"},
        headers={"Accept": "text/csv"},
    )
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["month", "type", "found", "resolved", "recovered", "dismissed", "open"]
    assert rows[1:] == [[m, t, *figures] for (m, t), figures in table(spring).items()]


async def test_the_current_month_reads_now(client: httpx.AsyncClient, clock: Clock) -> None:
    clock.at("2026-10-01")
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    clock.at("2026-10-28")
    await month_bill(client, s, 10, [seats("10")])
    clock.at("2026-10-29")  # audited before the month ends, dismissed the day after
    mismatch = (await audit_findings(client, "2026-10"))[TYPE]
    clock.at("2026-10-30")
    before = await report(client, "2026-10", "2026-10")
    assert table(before) == {("2026-10", TYPE): ("100.00", "0.00", "0.00", "0.00", "100.00")}
    await status(client, mismatch, "dismissed")
    after = await report(client, "2026-10", "2026-10")
    assert table(after) == {("2026-10", TYPE): ("100.00", "0.00", "0.00", "100.00", "0.00")}


async def test_empty_and_bad_ranges(client: httpx.AsyncClient) -> None:
    assert await report(client, "2026-01", "2026-12") == {
        "from": "2026-01", "to": "2026-12", "rows": [], "totals": [],
    }  # fmt: skip
    assert_problem(
        await client.get(f"{API}/reports/leakage", params={"from": "2026-05", "to": "2026-04"}),
        422,
    )
    assert_problem(
        await client.get(f"{API}/reports/leakage", params={"from": "2026-13", "to": "2026-12"}), 422
    )
    assert_problem(await client.get(f"{API}/reports/leakage"), 422)


async def test_a_note_after_a_fix_keeps_it_recovered(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    clock.at("2026-10-01")
    s = await shop(client)
    await line(client, s.contract, s.m365, "10")
    clock.at("2026-10-28")
    await month_bill(client, s, 10, [seats("12")])
    clock.at("2026-11-03")
    unbilled = (await audit_findings(client, "2026-10"))["UNBILLED_UNITS"]
    clock.at("2026-11-04")
    assert (await fix(client, unbilled["id"], action="match_contract")).status_code == 200
    clock.at("2026-11-05")
    await client.patch(f"{API}/findings/{unbilled['id']}", json={"note": "done, thanks"})
    row = table(await report(client, "2026-11", "2026-11"))[("2026-11", "UNBILLED_UNITS")]
    assert row == ("0.00", "44.00", "44.00", "0.00", "0.00")
