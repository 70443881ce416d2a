"""Cancellation deadlines (docs/cancellations.md): term_end on vendor lines (JSON, CSV,
webhook and the Partner Center preset), cancel_window_days on vendors, and
`GET /alerts/cancellations` on both databases, every date and amount worked out by hand
in the comments.

share(a, b) is the share of docs/vendor-bills.md#share: the days of [a, b] in each month
it touches over that month's days, added up."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.test_import_profiles import (
    PC_COLUMNS,
    PC_TABLE,
    _csv,
    partner_center_setup,
    pc_row,
    post_file,
)
from tests.test_webhooks import deliver

API = "/api/v1"
ALERTS = f"{API}/alerts/cancellations"


class Setup:
    def __init__(self, vendor_id: int, service_id: int, customer_id: int) -> None:
        self.vendor_id, self.service_id, self.customer_id = vendor_id, service_id, customer_id


async def setup(client: httpx.AsyncClient, window: int | None = 7) -> Setup:
    """Microsoft (cancel window `window` days) sells M365 (SKU M365-V); Beta (account
    BETA) has no contract: every seat charged for it is orphaned."""
    v = await vendor(client, "Microsoft", cancel_window_days=window)
    s = await service(client, "M365", vendor_id=v["id"], vendor_sku="M365-V")
    c = await customer(client, "Beta GmbH")
    await create(
        client,
        f"customers/{c['id']}/vendor-accounts",
        {"vendor_id": v["id"], "account_ref": "BETA"},
    )
    return Setup(v["id"], s["id"], c["id"])


def seats(quantity: str, unit_cost: str, start: str | None, end: str | None, **extra: Any) -> dict:
    body: dict[str, Any] = {
        "vendor_sku": "M365-V", "account_ref": "BETA", "quantity": quantity,
        "unit_cost": unit_cost, **extra,
    }  # fmt: skip
    if start is not None:
        body |= {"charge_start": start, "charge_end": end}
    return body


async def bill(
    client: httpx.AsyncClient, s: Setup, number: str, period: str, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    body = {
        "vendor_id": s.vendor_id, "invoice_number": number, "invoice_date": f"{period}-28",
        "period": period, "total": "0.00", "lines": lines,
    }  # fmt: skip
    probe = await client.post(f"{API}/vendor-invoices", json={**body, "invoice_number": "PROBE"})
    assert probe.status_code == 201, probe.text
    total = probe.json()["lines_total"]
    gone = await client.delete(f"{API}/vendor-invoices/{probe.json()['id']}?force=true")
    assert gone.status_code == 204
    return await create(client, "vendor-invoices", {**body, "total": total})


async def audit(client: httpx.AsyncClient, period: str, **extra: Any) -> list[dict[str, Any]]:
    """The audit's ORPHANED_COST findings."""
    run = await create(client, "audits", {"period": period, **extra})
    page = await client.get(
        f"{API}/audits/{run['id']}/findings", params={"type": "ORPHANED_COST", "limit": 500}
    )
    assert page.status_code == 200, page.text
    found: list[dict[str, Any]] = page.json()["items"]
    return found


async def alerts(client: httpx.AsyncClient, as_of: str, within_days: int | None = None) -> list:
    params: dict[str, Any] = {"as_of": as_of}
    if within_days is not None:
        params["within_days"] = within_days
    answer = await client.get(ALERTS, params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["as_of"] == as_of
    items: list[dict[str, Any]] = body["items"]
    return items


def brief(item: dict[str, Any]) -> tuple[Any, ...]:
    return (
        item["subscription_ref"],
        item["act_by"],
        item["term_end"],
        item["monthly_cost"],
        item["committed_cost"],
    )


# --- the deadline -----------------------------------------------------------------------------


async def test_a_monthly_charge_of_an_annual_term(client: httpx.AsyncClient) -> None:
    """10 seats at 22.00 for November 2026 (220.00), a term to 2027-10-31, a 7-day window:
    the window runs 2026-11-01 + 7 - 1 = 2026-11-07. monthly_cost 220.00 (a whole month).
      as_of 11-03: act_by 11-07; committed 220 x share(11-03, 2027-10-31)
                   = 220 x (28/30 + 11) = 220 x 358/30 = 2625.333... -> 2625.33
      as_of 11-07: the window's last day: act_by 11-07; 220 x (24/30 + 11) = 2596.00
      as_of 11-08: past the window: act_by 2027-10-31, 220 x (23/30 + 11) = 2588.666...
                   -> 2588.67 (listed only when 2027-10-31 <= 11-08 + within_days)
      as_of 11-10: 220 x (21/30 + 11) = 220 x 11.7 = 2574.00
      as_of 2027-10-31: the term's last day: 220 x 1/31 = 7.096... -> 7.10
      as_of 2027-11-01: past the term: act_by 2027-10-31, committed 0.00."""
    s = await setup(client)
    await bill(
        client,
        s,
        "MS-11",
        "2026-11",
        [seats("10", "22.00", "2026-11-01", "2026-11-30", subscription_ref="SUB-1",
               term_end="2027-10-31")],
    )  # fmt: skip
    (finding,) = await audit(client, "2026-11")
    assert finding["impact"] == "220.00"

    (item,) = await alerts(client, "2026-11-03")
    assert item == {
        "subscription_ref": "SUB-1",
        "customer_id": s.customer_id,
        "service_id": s.service_id,
        "vendor_id": s.vendor_id,
        "finding_id": finding["id"],
        "act_by": "2026-11-07",
        "term_end": "2027-10-31",
        "monthly_cost": "220.00",
        "committed_cost": "2625.33",
    }
    assert [brief(i) for i in await alerts(client, "2026-11-07", 0)] == [
        ("SUB-1", "2026-11-07", "2027-10-31", "220.00", "2596.00")
    ]
    # The window closed: the term's end is 357 days away, beyond the default 30 ...
    assert await alerts(client, "2026-11-08") == []
    assert await alerts(client, "2026-11-08", 356) == []
    # ... and within 357 (2026-11-08 + 357 = 2027-10-31).
    assert [brief(i) for i in await alerts(client, "2026-11-08", 357)] == [
        ("SUB-1", "2027-10-31", "2027-10-31", "220.00", "2588.67")
    ]
    assert [brief(i) for i in await alerts(client, "2026-11-10", 365)] == [
        ("SUB-1", "2027-10-31", "2027-10-31", "220.00", "2574.00")
    ]
    assert [brief(i) for i in await alerts(client, "2027-10-31", 0)] == [
        ("SUB-1", "2027-10-31", "2027-10-31", "220.00", "7.10")
    ]
    # Past the term: still listed (the deadline has passed), nothing more committed.
    assert [brief(i) for i in await alerts(client, "2027-11-01", 0)] == [
        ("SUB-1", "2027-10-31", "2027-10-31", "220.00", "0.00")
    ]
    # Before the window's last day with within_days 0: not yet due.
    assert await alerts(client, "2026-11-03", 0) == []


async def test_without_a_window_the_term_end_is_the_deadline(client: httpx.AsyncClient) -> None:
    """A vendor with no window (null, and 0 alike): act_by is the term's end. An annual term
    billed upfront, no term_end: 3 seats at 22.00 for 2026-11-10 to 2027-11-09,
    3 x 22.00 x 12 = 792.00, share 21/30 + 11 + 9/30 = 12: monthly 792.00 / 12 = 66.00; the
    term ends with the charge, 2027-11-09.
      as_of 2026-12-01: committed 66 x share(2026-12-01, 2027-11-09) = 66 x (11 + 9/30)
                        = 66 x 11.3 = 745.80."""
    s = await setup(client, window=None)
    await bill(
        client, s, "P-11", "2026-11",
        [seats("3", "22.00", "2026-11-10", "2027-11-09", subscription_ref="sub-0004")],
    )  # fmt: skip
    (finding,) = await audit(client, "2026-11")
    assert finding["impact"] == "66.00"  # 3 units x 22.00, the month's share of the term
    assert await alerts(client, "2026-12-01", 342) == []  # 12-01 + 342 = 2027-11-08
    expected = [("sub-0004", "2027-11-09", "2027-11-09", "66.00", "745.80")]
    assert [brief(i) for i in await alerts(client, "2026-12-01", 343)] == expected
    # A window of 0 days is no window either.
    changed = await client.patch(f"{API}/vendors/{s.vendor_id}", json={"cancel_window_days": 0})
    assert changed.status_code == 200 and changed.json()["cancel_window_days"] == 0
    assert [brief(i) for i in await alerts(client, "2026-12-01", 343)] == expected
    # A window of 30 days from 2026-11-10: to 2026-12-09, so as_of 2026-12-01 is in it.
    await client.patch(f"{API}/vendors/{s.vendor_id}", json={"cancel_window_days": 30})
    assert [brief(i) for i in await alerts(client, "2026-12-01", 8)] == [
        ("sub-0004", "2026-12-09", "2027-11-09", "66.00", "745.80")
    ]


async def test_plain_lines_are_one_subscription(client: httpx.AsyncClient) -> None:
    """Lines naming no subscription, of one (customer, service), are taken together, with
    subscription_ref null. The README tour: 12 seats at 19.00 on Pax8's November invoice,
    no charge dates (the invoice's month), no window: 228.00 a month, the term ends with
    the charge on 2026-11-30.
      as_of 2026-11-20: act_by 11-30; committed 228 x 11/30 = 83.60."""
    s = await setup(client, window=None)
    await bill(client, s, "PAX-2026-11", "2026-11", [seats("12", "19.00", None, None)])
    (finding,) = await audit(client, "2026-11")
    assert finding["impact"] == "228.00"
    (item,) = await alerts(client, "2026-11-20")
    assert item["finding_id"] == finding["id"]
    assert brief(item) == (None, "2026-11-30", "2026-11-30", "228.00", "83.60")


async def test_the_latest_lines_make_the_monthly_cost(client: httpx.AsyncClient) -> None:
    """SUB-2: 2 seats for a year from 2026-11-01 at 20.00 (480.00, 40.00 a month), term to
    2027-10-31; a seat added from 2027-01-01 to the term's end (10 months, 200.00, 20.00 a
    month) on January's invoice. The latest charge_start is 2027-01-01; both lines are in
    force that day: monthly 40.00 + 20.00 = 60.00 (not the added seat's 20.00 alone). The
    window (7 days) restarts with the latest charge: to 2027-01-07.
      as_of 2027-01-05: act_by 2027-01-07; committed 60 x share(01-05, 10-31)
                        = 60 x (27/31 + 9) = 540 + 52.258... = 592.258... -> 592.26.
    Another subscription of the pair, SUB-3 (1 seat at 22.00 for December 2026, a term to
    2026-12-31), is listed apart: past its window on 2027-01-05, and past its term too:
    act_by 2026-12-31, 22.00 a month, nothing committed. Sorted by act_by: SUB-3 first."""
    s = await setup(client)
    await bill(
        client, s, "MS-11", "2026-11",
        [seats("2", "20.00", "2026-11-01", "2027-10-31", subscription_ref="SUB-2",
               term_end="2027-10-31")],
    )  # fmt: skip
    await bill(
        client, s, "MS-12", "2026-12",
        [seats("1", "22.00", "2026-12-01", "2026-12-31", subscription_ref="SUB-3",
               term_end="2026-12-31")],
    )  # fmt: skip
    await bill(
        client, s, "MS-01", "2027-01",
        [seats("1", "20.00", "2027-01-01", "2027-10-31", subscription_ref="SUB-2",
               term_end="2027-10-31")],
    )  # fmt: skip
    # December: 2 + 1 seats orphaned, 40.00 + 22.00.
    (finding,) = await audit(client, "2026-12")
    assert finding["impact"] == "62.00"
    items = await alerts(client, "2027-01-05")
    assert [brief(i) for i in items] == [
        ("SUB-3", "2026-12-31", "2026-12-31", "22.00", "0.00"),
        ("SUB-2", "2027-01-07", "2027-10-31", "60.00", "592.26"),
    ]
    assert {i["finding_id"] for i in items} == {finding["id"]}


# --- which findings count -----------------------------------------------------------------------


async def test_only_open_or_acknowledged_current_findings(client: httpx.AsyncClient) -> None:
    """One subscription (SUB-1, 220.00 a month, window to 2026-11-07), audited in November
    and December: listed once, under December's finding (the latest month). Resolving it
    leaves November's (still open); dismissing that too clears the list; acknowledging
    brings it back. A re-run of December with the customer under contract no longer
    reports the pair: December's finding is no longer current."""
    s = await setup(client)
    sub = {"subscription_ref": "SUB-1", "term_end": "2027-10-31"}
    await bill(
        client, s, "MS-11", "2026-11", [seats("10", "22.00", "2026-11-01", "2026-11-30", **sub)]
    )
    await bill(
        client, s, "MS-12", "2026-12", [seats("10", "22.00", "2026-12-01", "2026-12-31", **sub)]
    )
    (november,) = await audit(client, "2026-11")
    (december,) = await audit(client, "2026-12")
    # The latest charge_start is 2026-12-01: the window runs to 2026-12-07.
    (item,) = await alerts(client, "2026-12-02")
    assert (item["finding_id"], item["act_by"]) == (december["id"], "2026-12-07")

    async def status(finding: dict[str, Any], value: str) -> None:
        changed = await client.patch(f"{API}/findings/{finding['id']}", json={"status": value})
        assert changed.status_code == 200, changed.text

    await status(december, "resolved")
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [november["id"]]
    await status(november, "dismissed")
    assert await alerts(client, "2026-12-02") == []
    await status(november, "acknowledged")
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [november["id"]]
    await status(december, "open")

    # An audit of another vendor does not clear Microsoft's finding.
    other = await vendor(client, "Pax8")
    assert await audit(client, "2026-12", vendor_id=other["id"]) == []
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [december["id"]]

    # A re-run of December finds the same finding again: it carries its status, and the
    # new run's finding is the one listed. A change made afterwards on the older run's
    # finding is the finding's status all the same (the latest change wins).
    (again,) = await audit(client, "2026-12", vendor_id=s.vendor_id)
    assert again["id"] != december["id"]
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [again["id"]]
    await status(december, "dismissed")
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [november["id"]]
    await status(december, "open")

    # Beta signs for the seats from 2026-12-01: December's re-run has no ORPHANED_COST.
    k = await contract(client, s.customer_id, "2026-12-01")
    await line(client, k["id"], s.service_id, "10")
    assert await audit(client, "2026-12") == []
    assert [i["finding_id"] for i in await alerts(client, "2026-12-02")] == [november["id"]]


async def test_subscriptions_of_the_findings_month(client: httpx.AsyncClient) -> None:
    """A finding takes the subscriptions whose recurring lines charge its month: SUB-A
    (November only) is not December's; SUB-B (December) is. Lines of other kinds name no
    subscription here: a one-time fee's ref is not listed. SUB-C, 2 seats for December
    credited from the 16th (-2 x 10.00 x 16/31 = -10.322... -> -10.32), nets to 0 units on
    its latest charge_start: cancelled already, not listed."""
    s = await setup(client, window=None)
    await bill(
        client, s, "MS-11", "2026-11",
        [seats("1", "10.00", "2026-11-01", "2026-11-30", subscription_ref="SUB-A")],
    )  # fmt: skip
    await bill(
        client, s, "MS-12", "2026-12",
        [
            seats("2", "10.00", "2026-12-01", "2026-12-31", subscription_ref="SUB-B"),
            seats("1", "50.00", "2026-12-03", "2026-12-03", subscription_ref="FEE-1",
                  kind="one_time"),
            seats("2", "10.00", "2026-12-01", "2026-12-31", subscription_ref="SUB-C"),
            seats("-2", "10.00", "2026-12-16", "2026-12-31", subscription_ref="SUB-C"),
        ],
    )  # fmt: skip
    (finding,) = await audit(client, "2026-12")
    # SUB-B 20.00 a month, SUB-C 20.00 - 10.32 x 31/16 = 20.00 - 19.995 = 0.005, and the
    # 50.00 fee: 70.005 -> 70.01.
    assert finding["impact"] == "70.01"
    # SUB-B: 20.00 a month, its term ends 2026-12-31; from 12-01, 20.00 x 31/31.
    assert [brief(i) for i in await alerts(client, "2026-12-01")] == [
        ("SUB-B", "2026-12-31", "2026-12-31", "20.00", "20.00")
    ]


# --- input --------------------------------------------------------------------------------------


async def test_term_end_on_lines(client: httpx.AsyncClient) -> None:
    """term_end is kept and returned; it must not precede charge_start (or, without charge
    dates, the invoice's first day), stays within 1,830 days of it, and belongs to recurring
    lines only: a 422 naming the line's term_end, and nothing stored."""
    s = await setup(client)
    made = await bill(
        client, s, "MS-11", "2026-11",
        [
            seats("1", "10.00", "2026-11-15", "2026-11-30", term_end="2026-11-15"),
            seats("1", "10.00", None, None, term_end="2026-11-01"),
            seats("1", "10.00", None, None),
        ],
    )  # fmt: skip
    assert [x["term_end"] for x in made["lines"]] == ["2026-11-15", "2026-11-01", None]
    stored = (await client.get(f"{API}/vendor-invoices/{made['id']}")).json()
    assert [x["term_end"] for x in stored["lines"]] == ["2026-11-15", "2026-11-01", None]

    def body(*lines: dict[str, Any]) -> dict[str, Any]:
        return {
            "vendor_id": s.vendor_id, "invoice_number": "BAD", "invoice_date": "2026-11-28",
            "period": "2026-11", "total": "10.00", "lines": list(lines),
        }  # fmt: skip

    for bad in (
        seats("1", "10.00", "2026-11-15", "2026-11-30", term_end="2026-11-14"),
        seats("1", "10.00", None, None, term_end="2026-10-31"),
        seats("1", "10.00", "2026-11-01", "2026-11-30", term_end="2031-11-05"),
        seats("1", "10.00", None, None, term_end="2026-11-31"),
        seats("1", "10.00", None, None, kind="usage", term_end="2027-10-31"),
        seats("1", "10.00", None, None, kind="one_time", term_end="2027-10-31"),
        seats("1", "10.00", None, None, kind="adjustment", term_end="2027-10-31"),
    ):
        answer = await client.post(f"{API}/vendor-invoices", json=body(bad))
        assert_problem(answer, 422, "body.lines.0.term_end")
    # 2026-11-01 to 2031-11-04 is 1,830 days: the longest term.
    longest = seats("1", "10.00", "2026-11-01", "2026-11-30", term_end="2031-11-04")
    assert (await client.post(f"{API}/vendor-invoices", json=body(longest))).status_code == 201


async def test_term_end_by_csv_and_webhook(
    client: httpx.AsyncClient, anon: httpx.AsyncClient
) -> None:
    """The canonical CSV takes an optional term_end column (ISO dates), the webhook body the
    field, as JSON does."""
    v = await create(client, "vendors", {"name": "Microsoft", "cancel_window_days": 7})
    content = (
        b"vendor_sku,account_ref,quantity,unit_cost,subscription_ref,term_end\r\n"
        b"M365-V,BETA,10,22.00,SUB-1,2027-10-31\r\n"
        b"M365-V,BETA,1,22.00,SUB-2,\r\n"
    )
    form = {
        "vendor_id": v["id"], "invoice_number": "CSV-1", "invoice_date": "2026-11-28",
        "period": "2026-11", "total": "242.00",
    }  # fmt: skip
    imported = await post_file(client, content, **form)
    assert imported.status_code == 201, imported.text
    assert [x["term_end"] for x in imported.json()["lines"]] == ["2027-10-31", None]
    form["invoice_number"] = "CSV-2"
    dated = (
        b"vendor_sku,account_ref,quantity,unit_cost,charge_start,charge_end,term_end\r\n"
        b"M365-V,BETA,10,22.00,2026-11-15,2026-11-30,2026-11-14\r\n"
    )
    assert_problem(await post_file(client, dated, **form), 422, "file.line 2.term_end")
    # Without charge dates the line covers the invoice's month: checked against its 1st.
    early = content.replace(b"2027-10-31", b"2026-10-31")
    assert_problem(await post_file(client, early, **form), 422, "form.lines.0.term_end")

    payload = {
        "invoice_number": "HOOK-1", "invoice_date": "2026-11-28", "period": "2026-11",
        "total": "220.00",
        "lines": [seats("10", "22.00", "2026-11-01", "2026-11-30", term_end="2027-10-31")],
    }  # fmt: skip
    answer = await deliver(anon, v["id"], v["webhook_secret"], payload)
    assert answer.status_code == 200, answer.text
    stored = (await client.get(f"{API}/vendor-invoices/{answer.json()['invoice_id']}")).json()
    assert [x["term_end"] for x in stored["lines"]] == ["2027-10-31"]
    refused = {**payload, "invoice_number": "HOOK-2"}
    refused["lines"] = [seats("10", "22.00", "2026-11-01", "2026-11-30", term_end="2026-10-01")]
    failed = await deliver(anon, v["id"], v["webhook_secret"], json.dumps(refused).encode())
    assert_problem(failed, 422, "body.lines.0.term_end")


async def test_cancel_window_on_vendors(client: httpx.AsyncClient) -> None:
    """cancel_window_days: optional, 0 to 365, null clears it."""
    plain = await vendor(client, "Pax8")
    assert plain["cancel_window_days"] is None
    v = await vendor(client, "Microsoft", cancel_window_days=7)
    assert v["cancel_window_days"] == 7
    assert (await client.get(f"{API}/vendors/{v['id']}")).json()["cancel_window_days"] == 7
    path = f"{API}/vendors/{v['id']}"
    for bad in (-1, 366, "seven", 7.5):
        answer = await client.patch(path, json={"cancel_window_days": bad})
        assert_problem(answer, 422, "body.cancel_window_days")
        created = await client.post(f"{API}/vendors", json={"name": "X", "cancel_window_days": bad})
        assert_problem(created, 422, "body.cancel_window_days")
    assert (await client.patch(path, json={"cancel_window_days": 365})).json()[
        "cancel_window_days"
    ] == 365
    assert (await client.patch(path, json={"name": "Microsoft NCE"})).json()[
        "cancel_window_days"
    ] == 365
    cleared = await client.patch(path, json={"cancel_window_days": None})
    assert cleared.json()["cancel_window_days"] is None


async def test_query_parameters(client: httpx.AsyncClient) -> None:
    """as_of is a day of the calendar (default today), within_days 0 to 3660 (default 30)."""
    answer = await client.get(ALERTS)
    assert answer.status_code == 200, answer.text
    assert answer.json()["items"] == [] and len(answer.json()["as_of"]) == 10
    for params, field in (
        ({"as_of": "2026-11-31"}, "query.as_of"),
        ({"as_of": "1899-12-31"}, "query.as_of"),
        ({"within_days": "-1"}, "query.within_days"),
        ({"within_days": "3661"}, "query.within_days"),
        ({"within_days": "ten"}, "query.within_days"),
    ):
        assert_problem(await client.get(ALERTS, params=params), 422, field)
    # The calendar's last day with the longest look ahead: no overflow.
    assert (await client.get(ALERTS, params={"as_of": "9998-12-31", "within_days": 3660})).json()[
        "items"
    ] == []


async def test_needs_a_read_key(anon: httpx.AsyncClient) -> None:
    assert_problem(await anon.get(ALERTS), 401)


# --- Partner Center -----------------------------------------------------------------------------


async def test_partner_center_subscription_end_date(client: httpx.AsyncClient) -> None:
    """The microsoft-partner-center preset reads term_end from SubscriptionEndDate, on
    recurring lines only (a credit or usage row names its subscription's end too).
    The file: Acme's Business Premium billed monthly on an annual term ending 2027-10-31
    (row 1: 10 seats, 11/01/2026-11/30/2026, 220.00); its one-time credit (row 7) and Azure
    usage (row 8) carry the same SubscriptionEndDate. Acme has no contract, Microsoft a
    7-day window: on 2026-11-03 the subscription must be cancelled by 2026-11-07, with
    220 x (28/30 + 11) = 2625.33 committed (as in test_a_monthly_charge_of_an_annual_term)."""
    pc = await partner_center_setup(client)
    await client.patch(f"{API}/vendors/{pc['vendor']['id']}", json={"cancel_window_days": 7})
    rows = [
        pc_row(number, PC_TABLE[number - 1][0], SubscriptionEndDate="10/31/2027")
        for number in (1, 7, 8)
    ]
    answer = await post_file(
        client,
        _csv(PC_COLUMNS, rows, bom=True),
        profile="microsoft-partner-center",
        vendor_id=pc["vendor"]["id"],
        invoice_date="2026-12-08",
    )
    assert answer.status_code == 201, answer.text
    (made,) = answer.json()["invoices"]
    assert [(x["kind"], x["term_end"]) for x in made["lines"]] == [
        ("recurring", "2027-10-31"),
        ("one_time", None),
        ("usage", None),
    ]
    (finding,) = await audit(client, "2026-11")
    assert (finding["customer_id"], finding["impact"]) == (pc["customers"]["A"], "205.33")
    (item,) = await alerts(client, "2026-11-03")
    assert brief(item) == (
        "6dc5c039-750a-4f6e-9c3a-000000000001", "2026-11-07", "2027-10-31", "220.00", "2625.33",
    )  # fmt: skip
    assert item["finding_id"] == finding["id"]


async def test_partner_center_file_without_subscription_end(client: httpx.AsyncClient) -> None:
    """A file without the SubscriptionEndDate column still imports: no term_end, the term
    ends with the charge. A recurring row whose SubscriptionEndDate precedes its charge is
    a bad cell."""
    pc = await partner_center_setup(client)
    columns = [c for c in PC_COLUMNS if c != "SubscriptionEndDate"]
    row = pc_row(1, PC_TABLE[0][0])
    del row["SubscriptionEndDate"]
    form = {"profile": "microsoft-partner-center", "vendor_id": pc["vendor"]["id"]}
    answer = await post_file(client, _csv(columns, [row]), invoice_date="2026-12-08", **form)
    assert answer.status_code == 201, answer.text
    assert [x["term_end"] for x in answer.json()["invoices"][0]["lines"]] == [None]

    early = pc_row(1, PC_TABLE[0][0], SubscriptionEndDate="10/31/2026", InvoiceNumber="G2")
    bad = await post_file(client, _csv(PC_COLUMNS, [early]), invoice_date="2026-12-08", **form)
    body = assert_problem(bad, 422, "file.line 2.term_end")
    assert "SubscriptionEndDate" in body["errors"][0]["message"]
