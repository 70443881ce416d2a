"""Tolerances (docs/tolerances.md), on SQLite and PostgreSQL: which rule decides a finding,
the unit and impact limits at their edges, what the audit's summary counts, the held-back
list, events, re-runs, the CSV download and the customer audit; the API's 404/409/422.

The world (`leaky_month`), October 2026, vendor Pax8, every number worked out by hand:

| finding (severity) | customer, service | figures | units | percent | impact |
| --- | --- | --- | --- | --- | --- |
| UNBILLED_UNITS (high) | Acme, AV | vendor 103, contracted 100 | 3 | 3 % | 3 x 10.00 = 30.00 |
| UNBILLED_ASSETS (high) | Acme, EDR | deployed 12, contracted 10 | 2 | 20 % | 2 x 8.00 = 16.00 |
| OVERBILLED_UNITS (medium) | Beta, AV | contracted 20, vendor 19 | 1 | 5 % | 1 x 10.00 = 10.00 |
| UNBILLED_ASSETS (high) | Beta, EDR | deployed 1, contracted 0 | 1 | infinite | 1 x 8.00 = 8.00 |
| UNMAPPED_SKU (low) | Acme, none | SKU "XX": 1 x 5.00 | - | - | 5.00 |

AV sells at 10.00 a seat (Pax8 charges 6.00), EDR at 8.00 (list price, used for Beta's
asset with nothing contracted; Pax8 charges 4.00). "units" is the unit difference,
"percent" the difference / contracted units x 100.

Without tolerances: 5 findings, 30 + 16 + 10 + 8 + 5 = 69.00.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.audits.models import FindingType
from app.audits.rules import Draft
from app.audits.tolerances import Rule, Tolerances, holds_back
from tests.helpers import assert_problem, contract, create, customer, line, service, vendor
from tests.test_audits import account, asset, bill, findings_of, summary_of, vendor_invoice, vline

API = "/api/v1"
PERIOD = "2026-10"

UU, OB, UA = "UNBILLED_UNITS", "OVERBILLED_UNITS", "UNBILLED_ASSETS"


class World:
    def __init__(self, ids: dict[str, int]) -> None:
        self.ids = ids

    def __getattr__(self, name: str) -> int:
        return self.ids[name]


async def leaky_month(client: httpx.AsyncClient) -> World:
    v = (await vendor(client, "Pax8"))["id"]
    av = await service(
        client, "AV", unit_price="10.00", unit_cost="6.00", vendor_id=v, vendor_sku="AV-V"
    )
    edr = await service(
        client, "EDR", unit_price="8.00", unit_cost="4.00", vendor_id=v, vendor_sku="EDR-V"
    )
    acme = (await customer(client, "Acme Ltd"))["id"]
    beta = (await customer(client, "Beta GmbH"))["id"]
    await account(client, acme, v, "ACME")
    await account(client, beta, v, "BETA")
    k = await contract(client, acme, "2026-01-01")
    await line(client, k["id"], av["id"], "100")
    await line(client, k["id"], edr["id"], "10")
    k = await contract(client, beta, "2026-01-01")
    await line(client, k["id"], av["id"], "20")
    for n in range(12):
        await asset(client, acme, edr["id"], f"acme-{n}")
    await asset(client, beta, edr["id"], "beta-0")
    await vendor_invoice(
        client,
        v,
        "P-1",
        "777.00",  # 618.00 + 114.00 + 40.00 + 5.00
        [
            vline("AV-V", "ACME", "103", "6.00"),  # 618.00
            vline("AV-V", "BETA", "19", "6.00"),  # 114.00
            vline("EDR-V", "ACME", "10", "4.00"),  # 40.00
            vline("XX", "ACME", "1", "5.00"),  # 5.00, an SKU of no service
        ],
    )
    await bill(client, acme, "A-1")
    await bill(client, beta, "B-1")
    return World({"vendor": v, "av": av["id"], "edr": edr["id"], "acme": acme, "beta": beta})


async def tolerance(client: httpx.AsyncClient, **body: Any) -> int:
    created = await create(client, "tolerances", body)
    return int(created["id"])


async def run(
    client: httpx.AsyncClient, **body: Any
) -> tuple[dict[str, Any], list[Any], list[Any]]:
    """An audit of the month: the audit, its findings and those held back, after checking
    the summary against both lists."""
    response = await client.post(f"{API}/audits", json={"period": PERIOD, **body})
    assert response.status_code == 201, response.text
    audit = response.json()
    found = await findings_of(client, audit["id"])
    held = await findings_of(client, audit["id"], listed="suppressed")
    assert audit["summary"] == summary_of(found, held)
    assert (await client.get(f"{API}/audits/{audit['id']}")).json() == audit
    return audit, found, held


def key(w: World, f: dict[str, Any]) -> tuple[str, str, str]:
    """A finding as (type, customer, impact) with the world's names."""
    names = {w.acme: "Acme", w.beta: "Beta", None: "-"}
    return f["type"], names[f["customer_id"]], f["impact"]


def shown(w: World, found: list[Any]) -> list[tuple[str, str, str]]:
    return [key(w, f) for f in found]


def held_by(w: World, held: list[Any]) -> list[tuple[str, str, str, int]]:
    return [(*key(w, f), f["tolerance_id"]) for f in held]


ALL = [
    (UU, "Acme", "30.00"),
    (UA, "Acme", "16.00"),
    (OB, "Beta", "10.00"),
    (UA, "Beta", "8.00"),
    ("UNMAPPED_SKU", "Acme", "5.00"),
]


# --- nothing changes without a rule that holds something back ------------------------------


async def test_without_tolerances_every_finding_is_shown(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    audit, found, held = await run(client)
    assert shown(w, found) == ALL and held == []
    assert audit["summary"]["count"] == 5 and audit["summary"]["total_impact"] == "69.00"
    assert audit["summary"]["suppressed"] == {"count": 0, "impact": "0.00"}


async def test_a_rule_with_no_limit_holds_back_nothing(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    await tolerance(client)  # global, no limit
    await tolerance(client, type="PRICE_INCREASE", max_units="5")  # a limit that never applies
    _audit, found, held = await run(client)
    assert shown(w, found) == ALL and held == []


# --- precedence ------------------------------------------------------------------------------


async def test_the_most_specific_matching_rule_decides_alone(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    everything = await tolerance(client, max_impact="100.00")  # global: would hold it all
    beta = await tolerance(client, customer_id=w.beta)  # no limit: Beta exempt from global
    av = await tolerance(client, service_id=w.av, max_units="1")
    acme_edr = await tolerance(client, customer_id=w.acme, service_id=w.edr, max_percent="20")
    audit, found, held = await run(client)
    # Acme AV UNBILLED_UNITS: the service rule decides alone: 3 > 1 shown (the global rule,
    #   which would hold 30.00 <= 100.00, is not consulted).
    # Beta EDR UNBILLED_ASSETS: Beta's customer rule, no limit: shown.
    assert shown(w, found) == [(UU, "Acme", "30.00"), (UA, "Beta", "8.00")]
    # Acme EDR: customer and service rule, 2 / 10 x 100 = 20 % <= 20. Beta AV: the service
    #   rule outranks Beta's customer rule: 1 <= 1. The unmapped line (Acme, no service):
    #   no Acme rule, the global one: 5.00 <= 100.00.
    assert held_by(w, held) == [
        (UA, "Acme", "16.00", acme_edr),
        (OB, "Beta", "10.00", av),
        ("UNMAPPED_SKU", "Acme", "5.00", everything),
    ]
    assert beta not in {f["tolerance_id"] for f in held}
    # Shown 30.00 + 8.00 = 38.00; held back 16.00 + 10.00 + 5.00 = 31.00.
    assert audit["summary"]["count"] == 2 and audit["summary"]["total_impact"] == "38.00"
    assert audit["summary"]["by_type"] == {
        UU: {"count": 1, "impact": "30.00"},
        UA: {"count": 1, "impact": "8.00"},
    }
    assert audit["summary"]["suppressed"] == {"count": 3, "impact": "31.00"}


async def test_customer_and_service_outranks_service_outranks_customer(
    client: httpx.AsyncClient,
) -> None:
    w = await leaky_month(client)
    acme = await tolerance(client, customer_id=w.acme, max_impact="1000")
    _audit, found, held = await run(client)
    # The customer rule holds every Acme finding: 30.00, 16.00 and 5.00.
    assert shown(w, found) == [(OB, "Beta", "10.00"), (UA, "Beta", "8.00")]
    assert {f["tolerance_id"] for f in held} == {acme} and len(held) == 3

    # A service rule for AV with no limit outranks Acme's: Acme's AV finding is shown.
    av = await tolerance(client, service_id=w.av)
    _audit, found, held = await run(client)
    assert shown(w, found) == [(UU, "Acme", "30.00"), (OB, "Beta", "10.00"), (UA, "Beta", "8.00")]
    # Acme and AV together outrank the service rule: held again (3 <= 3).
    pair = await tolerance(client, customer_id=w.acme, service_id=w.av, max_units="3")
    _audit, found, held = await run(client)
    assert held_by(w, held) == [
        (UU, "Acme", "30.00", pair),
        (UA, "Acme", "16.00", acme),
        ("UNMAPPED_SKU", "Acme", "5.00", acme),
    ]
    assert av not in {f["tolerance_id"] for f in held}


async def test_a_rule_naming_the_type_outranks_the_same_rule_without(
    client: httpx.AsyncClient,
) -> None:
    w = await leaky_month(client)
    everything = await tolerance(client, max_impact="100")
    await tolerance(client, type=UU)  # no limit: exempts UNBILLED_UNITS from the global rule
    beta = await tolerance(client, customer_id=w.beta, max_impact="100")
    beta_assets = await tolerance(client, customer_id=w.beta, type=UA, max_impact="7.99")
    _audit, found, held = await run(client)
    # Acme UU: the global rule naming the type, no limit: shown. Beta's assets: Beta's rule
    #   naming UNBILLED_ASSETS: 8.00 > 7.99, shown (Beta's other rule is not consulted).
    assert shown(w, found) == [(UU, "Acme", "30.00"), (UA, "Beta", "8.00")]
    assert held_by(w, held) == [
        (UA, "Acme", "16.00", everything),
        (OB, "Beta", "10.00", beta),
        ("UNMAPPED_SKU", "Acme", "5.00", everything),
    ]
    assert beta_assets not in {f["tolerance_id"] for f in held}


# --- the limits at their edges ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "held_types"),
    [
        # max_units: differences UU 3, UA(Acme) 2, OB 1, UA(Beta) 1.
        ({"max_units": "3"}, [(UU, "Acme"), (UA, "Acme"), (OB, "Beta"), (UA, "Beta")]),
        ({"max_units": "2.999999"}, [(UA, "Acme"), (OB, "Beta"), (UA, "Beta")]),
        ({"max_units": "1"}, [(OB, "Beta"), (UA, "Beta")]),
        ({"max_units": "0.99"}, []),
        # max_percent: UU 3/100 = 3 %, UA(Acme) 2/10 = 20 %, OB 1/20 = 5 %; Beta's assets
        # against 0 contracted: never within.
        ({"max_percent": "3"}, [(UU, "Acme")]),
        ({"max_percent": "2.99"}, []),
        ({"max_percent": "5.00"}, [(UU, "Acme"), (OB, "Beta")]),
        ({"max_percent": "4.99"}, [(UU, "Acme")]),
        ({"max_percent": "19.99"}, [(UU, "Acme"), (OB, "Beta")]),
        ({"max_percent": "1000"}, [(UU, "Acme"), (UA, "Acme"), (OB, "Beta")]),
        # Both: within each. UU 3 > 2; UA(Acme) 20 % > 10 %; OB 1 <= 2 and 5 % <= 10 %;
        # UA(Beta) 1 <= 2 but the percentage is infinite.
        ({"max_units": "2", "max_percent": "10"}, [(OB, "Beta")]),
        # max_impact, any type: 10.00 <= 10.00, 8.00, 5.00; 0.01 less and OB shows.
        ({"max_impact": "10.00"}, [(OB, "Beta"), (UA, "Beta"), ("UNMAPPED_SKU", "Acme")]),
        ({"max_impact": "9.99"}, [(UA, "Beta"), ("UNMAPPED_SKU", "Acme")]),
        ({"max_impact": "0"}, []),
        # Unit limits or max_impact: UU 3 > 1 and 30.00 > 16.00 shown; UA(Acme) 2 > 1 but
        # 16.00 <= 16.00; OB and UA(Beta) by units; the unmapped line by impact.
        (
            {"max_units": "1", "max_impact": "16.00"},
            [(UA, "Acme"), (OB, "Beta"), (UA, "Beta"), ("UNMAPPED_SKU", "Acme")],
        ),
    ],
)
async def test_limits_hold_back_what_is_within_them(
    client: httpx.AsyncClient, limits: dict[str, str], held_types: list[tuple[str, str]]
) -> None:
    w = await leaky_month(client)
    rule = await tolerance(client, **limits)
    audit, found, held = await run(client)
    assert sorted((t, c) for t, c, _i, _r in held_by(w, held)) == sorted(held_types)
    assert all(f["tolerance_id"] == rule for f in held)
    assert sorted([*shown(w, found), *(key(w, f) for f in held)]) == sorted(ALL)
    impact = sum((Decimal(f["impact"]) for f in held), Decimal(0))
    assert audit["summary"]["suppressed"] == {"count": len(held), "impact": f"{impact:.2f}"}
    assert Decimal(audit["summary"]["total_impact"]) == Decimal("69.00") - impact


# --- what a held-back finding is, and is not -------------------------------------------------


async def test_held_back_findings_are_listed_apart_in_the_findings_shape(
    client: httpx.AsyncClient,
) -> None:
    w = await leaky_month(client)
    _before, baseline, _ = await run(client)
    rule = await tolerance(client, max_units="1")  # OB (1) and Beta's assets (1)
    audit, found, held = await run(client)
    assert held_by(w, held) == [(OB, "Beta", "10.00", rule), (UA, "Beta", "8.00", rule)]
    # The findings' fields, the same figures as when shown, and the tolerance's id.
    was = {(f["type"], f["customer_id"]): f for f in baseline}
    skip = {"id", "audit_id", "created_at"}
    for item in held:
        before = was[(item["type"], item["customer_id"])]
        assert {k: v for k, v in item.items() if k not in skip | {"tolerance_id"}} == {
            k: v for k, v in before.items() if k not in skip
        }
        assert item["audit_id"] == audit["id"] and item["status"] == "open"
    assert held[0]["customer_name"] == "Beta GmbH" and held[0]["service_name"] == "Service AV"
    # Filters as the findings list has them.
    only = await findings_of(client, audit["id"], listed="suppressed", type=UA)
    assert [f["id"] for f in only] == [held[1]["id"]]
    assert await findings_of(client, audit["id"], listed="suppressed", min_impact="9") == [held[0]]
    # Not a finding of the audit: 404 by id, for reading and changing alike.
    for item in held:
        assert_problem(await client.get(f"{API}/findings/{item['id']}"), 404)
        patch = await client.patch(f"{API}/findings/{item['id']}", json={"status": "dismissed"})
        assert_problem(patch, 404)
    # The findings list, the CSV and the summary leave them out.
    csv = await client.get(f"{API}/audits/{audit['id']}/findings", headers={"Accept": "text/csv"})
    assert csv.status_code == 200
    rows = csv.text.strip().split("\r\n")
    assert len(rows) == 1 + 3  # header and the 3 findings shown
    assert not any(str(item["id"]) == row.split(",")[0] for item in held for row in rows[1:])
    held_csv = await client.get(
        f"{API}/audits/{audit['id']}/suppressed", headers={"Accept": "text/csv"}
    )
    assert held_csv.status_code == 200
    header, *lines = held_csv.text.strip().split("\r\n")
    assert header.startswith("id,audit_id,type,") and header.endswith(",tolerance_id")
    assert [r.split(",")[0] for r in lines] == [str(f["id"]) for f in held]
    assert all(r.endswith(f",{rule}") for r in lines)
    # An unknown audit: 404.
    assert_problem(await client.get(f"{API}/audits/999999/suppressed"), 404)
    # 30.00 + 16.00 + 5.00 = 51.00 shown; 10.00 + 8.00 = 18.00 held back.
    assert audit["summary"] == {
        "count": 3,
        "total_impact": "51.00",
        "by_type": {
            UU: {"count": 1, "impact": "30.00"},
            UA: {"count": 1, "impact": "16.00"},
            "UNMAPPED_SKU": {"count": 1, "impact": "5.00"},
        },
        "suppressed": {"count": 2, "impact": "18.00"},
    }


async def test_held_back_findings_are_paged(client: httpx.AsyncClient) -> None:
    await leaky_month(client)
    await tolerance(client, max_impact="100")
    audit, _found, held = await run(client)
    first = (await client.get(f"{API}/audits/{audit['id']}/suppressed?limit=2")).json()
    assert [f["id"] for f in first["items"]] == [f["id"] for f in held[:2]]
    rest = await client.get(
        f"{API}/audits/{audit['id']}/suppressed",
        params={"limit": 2, "cursor": first["next_cursor"]},
    )
    assert [f["id"] for f in rest.json()["items"]] == [f["id"] for f in held[2:4]]


async def test_re_runs_tolerances_added_and_removed(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    first, found, _ = await run(client)
    acme_uu = next(f for f in found if f["type"] == UU)
    ack = await client.patch(
        f"{API}/findings/{acme_uu['id']}", json={"status": "acknowledged", "note": "PSA fixed"}
    )
    assert ack.status_code == 200, ack.text

    rule = await tolerance(client, customer_id=w.acme, service_id=w.av, max_units="3")
    second, found, held = await run(client)
    # Held back, with the status and note it carries from the first run.
    ((item),) = held
    assert (item["type"], item["status"], item["note"]) == (UU, "acknowledged", "PSA fixed")
    assert item["tolerance_id"] == rule and UU not in second["summary"]["by_type"]
    # The first audit is what it was: tolerances apply to audits run after them.
    again, found_again, _ = await run_again(client, first["id"])
    assert again == first and UU in {f["type"] for f in found_again}

    deleted = await client.delete(f"{API}/tolerances/{rule}")
    assert deleted.status_code == 204
    third, found, held = await run(client)
    assert held == [] and third["summary"]["suppressed"] == {"count": 0, "impact": "0.00"}
    shown_again = next(f for f in found if f["type"] == UU)
    assert (shown_again["status"], shown_again["note"]) == ("acknowledged", "PSA fixed")
    # The second audit keeps what the deleted tolerance held back, naming it.
    kept = await findings_of(client, second["id"], listed="suppressed")
    assert [f["tolerance_id"] for f in kept] == [rule]
    assert (await client.get(f"{API}/audits/{second['id']}")).json() == second


async def run_again(
    client: httpx.AsyncClient, audit_id: int
) -> tuple[dict[str, Any], list[Any], list[Any]]:
    audit = (await client.get(f"{API}/audits/{audit_id}")).json()
    return (
        audit,
        await findings_of(client, audit_id),
        await findings_of(client, audit_id, listed="suppressed"),
    )


async def test_a_held_back_finding_opens_no_event_until_it_is_shown(
    client: httpx.AsyncClient,
) -> None:
    w = await leaky_month(client)
    sub = await create(
        client,
        "event-subscriptions",
        {"url": "https://93.184.215.14/h", "events": ["finding.opened"]},
    )

    async def opened() -> list[tuple[str, str, str]]:
        answer = await client.get(f"{API}/event-subscriptions/{sub['id']}/deliveries")
        return sorted(key(w, d["event"]["data"]) for d in answer.json()["items"])

    # Acme's AV finding (high) and Beta's assets (high) held back; Acme's assets (high)
    # shown: one event. OVERBILLED_UNITS (medium) and UNMAPPED_SKU (low) open none.
    rule = await tolerance(client, max_units="1", type=UA)  # Beta's assets: 1 <= 1
    uu = await tolerance(client, type=UU, max_percent="3")  # Acme AV: 3 % <= 3 %
    _a, _f, held = await run(client)
    assert {f["tolerance_id"] for f in held} == {rule, uu}
    assert await opened() == [(UA, "Acme", "16.00")]
    # Without the tolerances, both are shown for the first time: opened now, once.
    for ident in (rule, uu):
        assert (await client.delete(f"{API}/tolerances/{ident}")).status_code == 204
    await run(client)
    assert await opened() == [(UA, "Acme", "16.00"), (UA, "Beta", "8.00"), (UU, "Acme", "30.00")]
    await run(client)
    assert len(await opened()) == 3


async def test_the_customer_audit_leaves_out_held_back_types(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    params: dict[str, str | int] = {"customer_id": w.acme, "period": PERIOD}
    before = (await client.get(f"{API}/reports/customer-audit", params=params)).json()
    assert before["finding_types"] == [UA, UU]  # the unmapped line names no service row
    await tolerance(client, customer_id=w.acme, type=UA, max_units="2")
    after = (await client.get(f"{API}/reports/customer-audit", params=params)).json()
    assert after["finding_types"] == [UU]
    edr = next(r for r in after["rows"] if r["service_id"] == w.edr)
    assert edr["finding_types"] == []


async def test_the_vendor_filter_applies_tolerances_too(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    rule = await tolerance(client, service_id=w.av, max_impact="30")
    audit, found, held = await run(client, vendor_id=w.vendor)
    # No UNBILLED_ASSETS with a vendor filter; both AV findings held (30.00, 10.00).
    assert shown(w, found) == [("UNMAPPED_SKU", "Acme", "5.00")]
    assert held_by(w, held) == [(UU, "Acme", "30.00", rule), (OB, "Beta", "10.00", rule)]
    assert audit["summary"]["suppressed"] == {"count": 2, "impact": "40.00"}


# --- the API ---------------------------------------------------------------------------------


async def test_create_list_get_delete(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    made = await create(
        client,
        "tolerances",
        {"type": UU, "customer_id": w.acme, "service_id": w.av, "max_units": 2,
         "max_percent": "2.5", "max_impact": "12.5"},
    )  # fmt: skip
    assert {k: made[k] for k in made if k not in {"id", "created_at", "created_by"}} == {
        "type": UU,
        "customer_id": w.acme,
        "service_id": w.av,
        "max_units": "2",
        "max_percent": "2.50",
        "max_impact": "12.50",
    }
    bare = await create(client, "tolerances", {})
    assert (bare["type"], bare["customer_id"], bare["service_id"]) == (None, None, None)
    assert (bare["max_units"], bare["max_percent"], bare["max_impact"]) == (None, None, None)
    assert (await client.get(f"{API}/tolerances/{made['id']}")).json() == made
    listed = (await client.get(f"{API}/tolerances")).json()
    assert [t["id"] for t in listed["items"]] == [made["id"], bare["id"]]
    page = (await client.get(f"{API}/tolerances", params={"limit": 1})).json()
    assert [t["id"] for t in page["items"]] == [made["id"]] and page["next_cursor"]
    only = (await client.get(f"{API}/tolerances", params={"customer_id": w.acme})).json()
    assert [t["id"] for t in only["items"]] == [made["id"]]
    only = (await client.get(f"{API}/tolerances", params={"type": OB})).json()
    assert only["items"] == []

    assert (await client.delete(f"{API}/tolerances/{made['id']}")).status_code == 204
    assert_problem(await client.delete(f"{API}/tolerances/{made['id']}"), 404)
    assert_problem(await client.get(f"{API}/tolerances/{made['id']}"), 404)
    assert [t["id"] for t in (await client.get(f"{API}/tolerances")).json()["items"]] == [
        bare["id"]
    ]


async def test_one_rule_per_scope(client: httpx.AsyncClient) -> None:
    w = await leaky_month(client)
    first = await tolerance(client, max_impact="5")
    again = await client.post(f"{API}/tolerances", json={"max_units": "1"})
    problem = assert_problem(again, 409)
    assert problem["tolerance_id"] == first
    scoped = await tolerance(client, customer_id=w.acme, type=UU)
    problem = assert_problem(
        await client.post(
            f"{API}/tolerances", json={"type": UU, "customer_id": w.acme, "max_units": "1"}
        ),
        409,
    )
    assert problem["tolerance_id"] == scoped
    # Another scope is another rule; a deleted rule's scope is free again.
    await tolerance(client, customer_id=w.acme)
    await tolerance(client, customer_id=w.acme, service_id=w.av)
    await tolerance(client, type=UU)
    assert (await client.delete(f"{API}/tolerances/{first}")).status_code == 204
    await tolerance(client, max_units="1")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "LEAK"}, "type"),
        ({"customer_id": 999999}, "customer_id"),
        ({"service_id": 999999}, "service_id"),
        ({"customer_id": 0}, "customer_id"),
        ({"max_units": "-1"}, "max_units"),
        ({"max_units": "0.0000001"}, "max_units"),
        ({"max_percent": "1.001"}, "max_percent"),
        ({"max_percent": -5}, "max_percent"),
        ({"max_impact": "0.001"}, "max_impact"),
        ({"max_impact": "-0.01"}, "max_impact"),
        ({"max_impact": "NaN"}, "max_impact"),
        ({"max_impact": 1.5e300}, "max_impact"),
        ({"max_amount": "5"}, "max_amount"),
    ],
)
async def test_bad_rules_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post(f"{API}/tolerances", json=body), 422, field)
    assert (await client.get(f"{API}/tolerances")).json()["items"] == []


async def test_scopes_and_references(app: Any, client: httpx.AsyncClient) -> None:
    from tests.conftest import make_client

    w = await leaky_month(client)
    rule = await tolerance(client, customer_id=w.beta, service_id=w.edr)
    # A customer or service a tolerance names cannot be deleted (409 naming it).
    problem = assert_problem(await client.delete(f"{API}/customers/{w.beta}"), 409)
    assert "1 tolerance" in problem["referenced_by"]
    assert (await client.delete(f"{API}/tolerances/{rule}")).status_code == 204
    key = await client.post(f"{API}/api-keys", json={"name": "r", "scopes": ["read"]})
    async with make_client(app, key.json()["key"]) as reader:
        assert (await reader.get(f"{API}/tolerances")).status_code == 200
        assert_problem(await reader.post(f"{API}/tolerances", json={}), 403)
        assert_problem(await reader.delete(f"{API}/tolerances/1"), 403)


# --- the rules themselves, without a database ------------------------------------------------


def draft(type_: str, expected: str | None, actual: str | None, impact: str, **ids: Any) -> Draft:
    return Draft(
        FindingType(type_),
        Decimal(impact),
        "",
        expected_quantity=None if expected is None else Decimal(expected),
        actual_quantity=None if actual is None else Decimal(actual),
        **ids,
    )


@pytest.mark.parametrize(
    ("limits", "finding", "held"),
    [
        # 0.5 units over 10 contracted: 5 %.
        ({"max_units": Decimal("0.5")}, draft(UU, "10", "10.5", "1.00"), True),
        ({"max_units": Decimal("0.499999")}, draft(UU, "10", "10.5", "1.00"), False),
        ({"max_percent": Decimal("5")}, draft(OB, "10", "9.5", "1.00"), True),
        ({"max_percent": Decimal("4.99")}, draft(OB, "10", "9.5", "1.00"), False),
        # 1 of 3: 33.333... % (exact, no rounding): within 33.34, not 33.33.
        ({"max_percent": Decimal("33.34")}, draft(UU, "3", "4", "1.00"), True),
        ({"max_percent": Decimal("33.33")}, draft(UU, "3", "4", "1.00"), False),
        # Nothing contracted: no percentage is within.
        ({"max_percent": Decimal("999999")}, draft(UA, "0", "1", "8.00"), False),
        ({"max_units": Decimal("1")}, draft(UA, "0", "1", "8.00"), True),
        # Unit limits do not apply to other types; max_impact applies to every type.
        ({"max_units": Decimal("100")}, draft("ORPHANED_COST", "0", "3", "9.00"), False),
        ({"max_impact": Decimal("9.00")}, draft("ORPHANED_COST", "0", "3", "9.00"), True),
        ({"max_impact": Decimal("8.99")}, draft("ORPHANED_COST", "0", "3", "9.00"), False),
        ({}, draft(UU, "10", "11", "0.01"), False),
    ],
)
def test_holds_back(limits: dict[str, Decimal], finding: Draft, held: bool) -> None:
    assert holds_back(Rule(1, None, None, None, **limits), finding) is held


def test_the_order_of_precedence() -> None:
    """Eight scopes, from the most specific: each rule removed in turn hands the finding
    to the next."""
    scopes = [
        (UU, 1, 2),
        (None, 1, 2),
        (UU, None, 2),
        (None, None, 2),
        (UU, 1, None),
        (None, 1, None),
        (UU, None, None),
        (None, None, None),
    ]
    rules = [Rule(n, t, c, s) for n, (t, c, s) in enumerate(scopes, start=1)]
    finding = draft(UU, "1", "2", "1.00", customer_id=1, service_id=2)
    for n in range(len(rules)):
        decided = Tolerances(rules[n:]).rule_for(finding)
        assert decided is not None and decided.id == n + 1
    # Other types, customers and services match only the rules that leave them open.
    other = draft(OB, "2", "1", "1.00", customer_id=3, service_id=2)
    decided = Tolerances(rules).rule_for(other)
    assert decided is not None and decided.id == 4  # (any type, any customer, service 2)
    nothing = draft(OB, "2", "1", "1.00", customer_id=3, service_id=9)
    decided = Tolerances(rules[:7]).rule_for(nothing)
    assert decided is None
