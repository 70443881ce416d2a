"""Unit tests of the reference model (tests/reference.py) on real vendor bills
(docs/vendor-bills.md): charge periods, kinds, credits, metered services, re-billed and
arrears lines. Pure Python: no database, no HTTP. Every expected figure is worked out by hand
in the comment above it.

The world: vendor 1 sells seats (service 1, list 22.00, standard cost 12.00, SKU MS-BP) and
metered Azure (service 2, SKU AZ); customer 1 is the vendor's account ACME.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from fractions import Fraction

from tests import reference as ref

VENDOR = 1
CUSTOMER = 1
SEATS = 1
AZURE = 2

_ids = itertools.count(1)


def world(standard: str = "12.00") -> ref.World:
    w = ref.World(customers=[CUSTOMER])
    w.services[SEATS] = ref.Service(SEATS, Decimal("22.00"), Decimal(standard), VENDOR, "MS-BP")
    w.services[AZURE] = ref.Service(
        AZURE, Decimal("0.00"), Decimal("0.10"), VENDOR, "AZ", metered=True
    )
    w.vendor_accounts.append(ref.VendorAccount(CUSTOMER, VENDOR, "ACME"))
    return w


def contract(
    w: ref.World,
    quantity: str,
    unit_price: str = "22.00",
    service: int = SEATS,
    end: date | None = None,
) -> None:
    """A contract from 1 January 2026 (open-ended unless `end`) with one line."""
    contract_id = len(w.contracts) + 1
    w.contracts[contract_id] = ref.Contract(contract_id, CUSTOMER, date(2026, 1, 1), end)
    w.lines.append(
        ref.Line(len(w.lines) + 1, contract_id, service, Decimal(quantity), Decimal(unit_price))
    )


def vline(
    quantity: str,
    amount: str,
    start: date | None = None,
    end: date | None = None,
    unit_cost: str = "12.00",
    kind: str = "recurring",
    sku: str = "MS-BP",
    account: str = "ACME",
) -> ref.VendorLine:
    return ref.VendorLine(
        next(_ids),
        sku,
        account,
        Decimal(quantity),
        Decimal(unit_cost),
        Decimal(amount),
        kind=kind,
        charge_start=start,
        charge_end=end,
    )


def invoice(
    w: ref.World,
    period: str,
    lines: list[ref.VendorLine],
    number: str | None = None,
    invoice_date: date | None = None,
    total: str | None = None,
) -> ref.VendorInvoice:
    """A vendor invoice whose total is its lines' (unless `total`), dated the 5th of its
    period unless `invoice_date`."""
    inv = ref.VendorInvoice(
        len(w.vendor_invoices) + 1,
        VENDOR,
        number or f"INV-{len(w.vendor_invoices) + 1}",
        invoice_date or ref.first_day(period).replace(day=5),
        period,
        Decimal(total) if total is not None else sum((x.amount for x in lines), Decimal(0)),
        lines,
    )
    w.vendor_invoices.append(inv)
    return inv


def findings(w: ref.World, period: str) -> set[tuple[str, Decimal]]:
    """(type, impact) of the vendor's findings of the month (the vendor filter leaves out
    MISSING_BILLING and UNBILLED_ASSETS, which these cases are not about)."""
    return {(f.type, f.impact) for f in ref.audit(w, period, VENDOR)}


def pair(w: ref.World, period: str, service: int = SEATS) -> ref.Pair:
    return ref.pairs(w, period)[(CUSTOMER, service)]


NOV = "2026-11"


# ---------------------------------------------------------------------------- share


def test_share_of_the_docs_table() -> None:
    # docs/vendor-bills.md#share: a whole month 1, 15-30 November 16/30, 15 November -
    # 14 December 16/30 + 14/31, a year from 1 December 12.
    assert ref.share(date(2026, 11, 1), date(2026, 11, 30)) == 1
    assert ref.share(date(2026, 11, 15), date(2026, 11, 30)) == Fraction(16, 30)
    assert ref.share(date(2026, 11, 15), date(2026, 12, 14)) == Fraction(16, 30) + Fraction(14, 31)
    assert ref.share(date(2026, 12, 1), date(2027, 11, 30)) == 12


# ---------------------------------------------------------------------------- prorated pair


def test_prorated_pair_counts_the_units_of_the_month_end() -> None:
    # A quantity change on 11 November, billed as a prorated pair on November's invoice:
    #   10 seats 1-10 Nov:  10 x 12.00 x 10/30 = 40.00
    #   12 seats 11-30 Nov: 12 x 12.00 x 20/30 = 96.00
    # Vendor units = the lines in force on 30 November = 12 (not 10 + 12 = 22).
    # Cost in November = 40.00 + 96.00 = 136.00.
    # Mean unit cost = monthly amount of the 12-seat line / 12 = (96.00 / (20/30)) / 12
    #   = 144.00 / 12 = 12.00.
    # The contract bills 12 seats: no UNBILLED_UNITS (22 units would give 10 x 22.00 = 220.00).
    w = world()
    contract(w, "12")
    invoice(
        w,
        NOV,
        [
            vline("10", "40.00", date(2026, 11, 1), date(2026, 11, 10)),
            vline("12", "96.00", date(2026, 11, 11), date(2026, 11, 30)),
        ],
    )
    p = pair(w, NOV)
    assert p.vendor_units == 12
    assert p.vendor_cost == Decimal("136.00")
    assert p.vendor_mean_unit_cost == 12
    assert findings(w, NOV) == set()
    # Sold 10 instead: UNBILLED_UNITS (12 - 10) x 22.00 = 44.00.
    w.lines[0].quantity = Decimal("10")
    assert findings(w, NOV) == {("UNBILLED_UNITS", Decimal("44.00"))}


# ---------------------------------------------------------------------------- add-on delta


def test_base_plus_add_on_delta() -> None:
    # 10 seats for the whole of November: 120.00; 2 seats added from 11 November:
    # 2 x 12.00 x 20/30 = 16.00. Both are in force on 30 November: 10 + 2 = 12 units.
    # Cost 120.00 + 16.00 = 136.00. Mean = (120.00 / 1 + 16.00 / (20/30)) / 12
    #   = (120.00 + 24.00) / 12 = 12.00.
    # Contract 10 seats at 22.00: UNBILLED_UNITS (12 - 10) x 22.00 = 44.00.
    w = world()
    contract(w, "10")
    invoice(
        w,
        NOV,
        [vline("10", "120.00"), vline("2", "16.00", date(2026, 11, 11), date(2026, 11, 30))],
    )
    p = pair(w, NOV)
    assert (p.vendor_units, p.vendor_cost, p.vendor_mean_unit_cost) == (12, Decimal("136.00"), 12)
    assert findings(w, NOV) == {("UNBILLED_UNITS", Decimal("44.00"))}


# ---------------------------------------------------------------------------- cancellation


def test_cancellation_credit_clears_the_month_but_keeps_the_days_used() -> None:
    # The customer cancels on 10 November. November's invoice charged 10 seats for the whole
    # month (120.00); December's invoice credits them for 11-30 November:
    # -10 x 12.00 x 20/30 = -80.00.
    # Units on 30 November: 10 + (-10) = 0, contracted units 0 -> no ORPHANED_COST (units net
    # to zero, no usage or one-time cost).
    # Cost in November: 120.00 - 80.00 = 40.00 (1-10 November, used and owed).
    # The credit costs nothing in December: its charge period is November's,
    # R(-80.00 x 1) - R(-80.00 x 1) = 0.00.
    # Revenue in November: 10 x 22.00 x 10/30 = 73.33; profit 73.33 - 40.00 = 33.33.
    w = world()
    contract(w, "10", end=date(2026, 11, 10))
    invoice(w, NOV, [vline("10", "120.00")])
    invoice(w, "2026-12", [vline("-10", "-80.00", date(2026, 11, 11), date(2026, 11, 30))])
    p = pair(w, NOV)
    assert p.vendor_units == 0 and p.vendor_mean_unit_cost is None
    assert p.vendor_cost == Decimal("40.00")
    assert findings(w, NOV) == set()
    assert ref.pairs(w, "2026-12")[(CUSTOMER, SEATS)].vendor_cost == 0
    row = ref.customer_audit(w, CUSTOMER, NOV).rows[SEATS]
    assert (row.revenue, row.cost, row.profit) == (
        Decimal("73.33"),
        Decimal("40.00"),
        Decimal("33.33"),
    )


# ---------------------------------------------------------------------------- anniversary


def test_anniversary_cycle_spreads_each_line_over_its_two_months() -> None:
    # 10 seats at 12.00 renewing on the 15th:
    #   line A, 15 Oct - 14 Nov on October's invoice: share S_A = 17/31 + 14/30 = 944/930,
    #     amount 120.00 x 944/930 = 121.806... -> 121.81;
    #   line B, 15 Nov - 14 Dec on November's invoice: S_B = 16/30 + 14/31 = 916/930,
    #     amount 120.00 x 916/930 = 118.193... -> 118.19.
    # A in October: R(121.81 x (17/31) / (944/930)) = R(121.81 x 510/944) = R(65.8062...)
    #   = 65.81; in November 121.81 - 65.81 = 56.00.
    # B in November: R(118.19 x (16/30) / (916/930)) = R(118.19 x 496/916) = R(63.9980...)
    #   = 64.00; in December 118.19 - 64.00 = 54.19.
    # November: cost 56.00 + 64.00 = 120.00; units on 30 Nov: B only = 10;
    # mean = 118.19 / (916/930) / 10 = 11.9996... (under the 22.00 sold: no finding).
    w = world()
    contract(w, "10")
    invoice(w, "2026-10", [vline("10", "121.81", date(2026, 10, 15), date(2026, 11, 14))])
    invoice(w, NOV, [vline("10", "118.19", date(2026, 11, 15), date(2026, 12, 14))])
    assert pair(w, "2026-10").vendor_cost == Decimal("65.81")
    p = pair(w, NOV)
    assert p.vendor_cost == Decimal("120.00")
    assert p.vendor_units == 10
    assert p.vendor_mean_unit_cost == Fraction("118.19") * Fraction(930, 916) / 10
    assert pair(w, "2026-12").vendor_cost == Decimal("54.19")
    assert findings(w, NOV) == set()


# ---------------------------------------------------------------------------- annual


def test_annual_prepaid_costs_one_twelfth_a_month_and_adds_up() -> None:
    # 5 seats prepaid for 2027 on January's invoice, amount 1,000.00 (5 x 16.6667 x 12 =
    # 1,000.002 -> 1,000.00), which 12 does not divide. Cumulative rounding of 1000 x k/12:
    #   k:        1      2      3      4      5      6      7      8      9     10     11   12
    #   R:     83.33 166.67 250.00 333.33 416.67 500.00 583.33 666.67 750.00 833.33 916.67 1000
    # month costs: 83.33, 83.34, 83.33, 83.33, 83.34, 83.33, 83.33, 83.34, 83.33, 83.33,
    # 83.34, 83.33 -> together exactly 1,000.00; nothing in December 2026 or January 2028.
    # Units 5 at every month's end; mean = (1000 / 12) / 5 = 16.6666...
    # PRICE_INCREASE on January's invoice (standard 16.00):
    #   (16.6667 - 16.00) x 5 x 12 = 40.002 -> 40.00.
    # June 2027 has no invoice of its own, but the annual line is in force on 30 June, so the
    # vendor "has an invoice for June": 6 seats contracted -> OVERBILLED_UNITS
    # (6 - 5) x 22.00 = 22.00.
    w = world(standard="16.00")
    contract(w, "6")
    invoice(
        w,
        "2027-01",
        [vline("5", "1000.00", date(2027, 1, 1), date(2027, 12, 31), unit_cost="16.6667")],
    )
    months = [f"2027-{m:02d}" for m in range(1, 13)]
    costs = [pair(w, m).vendor_cost for m in months]
    assert costs == [Decimal(c) for c in ["83.33", "83.34", "83.33"] * 4]
    assert sum(costs, Decimal(0)) == Decimal("1000.00")
    assert ref.pairs(w, "2026-12").get((CUSTOMER, SEATS), ref.Pair()).vendor_cost == 0
    assert ref.pairs(w, "2028-01").get((CUSTOMER, SEATS), ref.Pair()).vendor_cost == 0
    assert pair(w, "2027-06").vendor_units == 5
    assert pair(w, "2027-06").vendor_mean_unit_cost == Fraction(1000, 12) / 5
    assert ("PRICE_INCREASE", Decimal("40.00")) in findings(w, "2027-01")
    assert findings(w, "2027-06") == {("OVERBILLED_UNITS", Decimal("22.00"))}
    # PRICE_INCREASE belongs to the invoice's month only.
    assert not any(t == "PRICE_INCREASE" for t, _ in findings(w, "2027-02"))


# ---------------------------------------------------------------------------- usage, metered


def test_usage_on_a_metered_service_is_cost_against_revenue() -> None:
    # Azure consumption in November: 1,000 units at 0.15 = 150.00 (cost in November: the
    # line covers its invoice's month).
    # (a) no contract, no customer invoice: revenue 0 -> ORPHANED_COST 150.00.
    w = world()
    invoice(w, NOV, [vline("1000", "150.00", unit_cost="0.15", kind="usage", sku="AZ")])
    assert pair(w, NOV, AZURE).vendor_cost == Decimal("150.00")
    assert pair(w, NOV, AZURE).vendor_units == 0  # usage is never units
    assert findings(w, NOV) == {("ORPHANED_COST", Decimal("150.00"))}
    # (b) a contract line of 1 x 120.00 for November (revenue 120.00) and a customer invoice
    # line of 130.00 for Azure: revenue = max(120.00, 130.00) = 130.00, cost 150.00 ->
    # NEGATIVE_MARGIN 150.00 - 130.00 = 20.00. The contracted unit against 0 vendor units is
    # no OVERBILLED_UNITS (metered), and 0.15 above the standard 0.10 no PRICE_INCREASE.
    contract(w, "1", unit_price="120.00", service=AZURE)
    w.customer_invoices.append(
        ref.CustomerInvoice(
            CUSTOMER,
            NOV,
            "posted",
            [ref.CustomerInvoiceLine(AZURE, Decimal(1), Decimal("130.00"))],
        )
    )
    assert findings(w, NOV) == {("NEGATIVE_MARGIN", Decimal("20.00"))}
    # (c) billed 200.00 instead: revenue 200.00 > cost 150.00 -> nothing.
    w.customer_invoices[0].lines[0].amount = Decimal("200.00")
    assert findings(w, NOV) == set()


def test_usage_on_a_per_unit_service_without_a_contract_is_orphaned() -> None:
    # Usage of 8.50 billed under the seats SKU to a customer with no seats sold: contracted
    # units 0, vendor units 0, usage cost in November 8.50 != 0 -> ORPHANED_COST
    # 0 x mean + 8.50 = 8.50.
    w = world()
    invoice(w, NOV, [vline("85", "8.50", unit_cost="0.10", kind="usage")])
    assert findings(w, NOV) == {("ORPHANED_COST", Decimal("8.50"))}


# ---------------------------------------------------------------------------- one-time fee


def test_one_time_fee_costs_in_the_month_of_its_charge_start() -> None:
    # A 50.00 setup fee on November's invoice for work on 3 December: cost 0.00 in November,
    # 50.00 in December (the whole amount, in the month of charge_start).
    # The customer has no seats contracted and no units: per-unit ORPHANED_COST of the
    # one-time cost, 50.00, in December; nothing in November.
    w = world()
    fee = vline("1", "50.00", date(2026, 12, 3), date(2026, 12, 3), "50.00", kind="one_time")
    invoice(w, NOV, [fee])
    assert pair(w, NOV).vendor_cost == 0
    assert pair(w, "2026-12").vendor_cost == Decimal("50.00")
    assert findings(w, NOV) == set()
    assert findings(w, "2026-12") == {("ORPHANED_COST", Decimal("50.00"))}
    # With 10 seats sold and charged in December (120.00), December's cost is 170.00 and the
    # fee is no finding (contracted units > 0; one-time lines are not units).
    contract(w, "10")
    invoice(w, "2026-12", [vline("10", "120.00")])
    assert pair(w, "2026-12").vendor_cost == Decimal("170.00")
    assert pair(w, "2026-12").vendor_units == 10
    assert findings(w, "2026-12") == set()


# ---------------------------------------------------------------------------- rebate


def test_rebate_is_unallocated_and_never_unmapped() -> None:
    # November's invoice: 10 seats 120.00, a rebate (adjustment) of -25.00 with no SKU or
    # account, and an adjustment of -10.00 that names MS-BP and ACME (never matched anyway).
    # Pair cost 120.00; unallocated cost -25.00 + -10.00 = -35.00; no UNMAPPED_*.
    # The invoice total 85.00 = 120.00 - 35.00: no INVOICE_TOTAL_MISMATCH.
    w = world()
    contract(w, "10")
    lines = [
        vline("10", "120.00"),
        vline("1", "-25.00", unit_cost="-25.00", kind="adjustment", sku="", account=""),
        vline("1", "-10.00", unit_cost="-10.00", kind="adjustment"),
    ]
    invoice(w, NOV, lines, total="85.00")
    assert pair(w, NOV).vendor_cost == Decimal("120.00")
    assert ref.unallocated_cost(w, [NOV]) == Decimal("-35.00")
    assert ref.unallocated_cost(w, ["2026-12"]) == 0
    assert findings(w, NOV) == set()
    report = ref.profitability(w, [NOV], ["customer"])
    assert report.unallocated_cost == Decimal("-35.00")
    assert report.rows[(CUSTOMER,)].cost == Decimal("120.00")
    # A total of 120.00 (rebates left out) differs from the lines by 35.00.
    w.vendor_invoices[0].total = Decimal("120.00")
    assert findings(w, NOV) == {("INVOICE_TOTAL_MISMATCH", Decimal("35.00"))}


# ---------------------------------------------------------------------------- duplicates


def test_identical_rebilled_line_is_a_duplicate_charge() -> None:
    # PAX-A (5 Nov) and PAX-B (20 Nov), both of November, each charge 10 seats for
    # November, 120.00: DUPLICATE_CHARGE = the copy on B (not the earliest), 120.00. Both
    # lines are in force on 30 November: 20 units against 10 sold -> UNBILLED_UNITS
    # (20 - 10) x 22.00 = 220.00; cost 240.00.
    w = world()
    contract(w, "10")
    invoice(w, NOV, [vline("10", "120.00")], "PAX-A", date(2026, 11, 5))
    invoice(w, NOV, [vline("10", "120.00")], "PAX-B", date(2026, 11, 20))
    assert findings(w, NOV) == {
        ("DUPLICATE_CHARGE", Decimal("120.00")),
        ("UNBILLED_UNITS", Decimal("220.00")),
    }
    assert pair(w, NOV).vendor_cost == Decimal("240.00")


def test_a_different_line_on_a_second_invoice_is_no_duplicate() -> None:
    # PAX-A 10 seats 120.00 and PAX-B 1 seat 12.00 (an add-on) for November: not identical,
    # so no DUPLICATE_CHARGE (before real bills: 12.00); 11 units -> UNBILLED_UNITS 22.00.
    w = world()
    contract(w, "10")
    invoice(w, NOV, [vline("10", "120.00")], "PAX-A", date(2026, 11, 5))
    invoice(w, NOV, [vline("1", "12.00")], "PAX-B", date(2026, 11, 20))
    assert findings(w, NOV) == {("UNBILLED_UNITS", Decimal("22.00"))}
    w.before_real_bills = True
    assert ("DUPLICATE_CHARGE", Decimal("12.00")) in findings(w, NOV)


def test_a_copy_on_the_next_months_invoice_is_that_months_finding() -> None:
    # November's invoice PAX-11 charges 10 seats for 1-30 November (120.00); December's
    # invoice PAX-12 charges the very same line again (1-30 November, 10, 120.00).
    # November: the copy is not on an invoice of November -> no DUPLICATE_CHARGE; both lines
    # are November's cost (240.00) and units (20 -> UNBILLED_UNITS 10 x 22.00 = 220.00).
    # December: the copy sits on December's invoice, PAX-11 is the earliest carrying the
    # charge -> DUPLICATE_CHARGE 120.00 in December. December's own charge (10 seats, 120.00,
    # 1-31 December, on PAX-12 too) is a different line: no more.
    w = world()
    contract(w, "10")
    november = vline("10", "120.00", date(2026, 11, 1), date(2026, 11, 30))
    invoice(w, NOV, [november], "PAX-11", date(2026, 11, 5))
    again = vline("10", "120.00", date(2026, 11, 1), date(2026, 11, 30))
    invoice(w, "2026-12", [again, vline("10", "120.00")], "PAX-12", date(2026, 12, 5))
    assert findings(w, NOV) == {("UNBILLED_UNITS", Decimal("220.00"))}
    assert pair(w, NOV).vendor_cost == Decimal("240.00")
    assert findings(w, "2026-12") == {("DUPLICATE_CHARGE", Decimal("120.00"))}
    assert pair(w, "2026-12").vendor_cost == Decimal("120.00")


# ---------------------------------------------------------------------------- arrears


def test_arrears_line_counts_for_the_month_it_charges() -> None:
    # November's invoice carries October's charge: 10 seats, 1-31 October, 120.00.
    # October: units 10, cost 120.00. The vendor has no invoice of October, but the line is
    # in force on 31 October, so 12 seats sold -> OVERBILLED_UNITS (12 - 10) x 22.00 = 44.00.
    # November: the line costs nothing and is no unit; with no November charge, units 0
    # against 12 -> OVERBILLED_UNITS 12 x 22.00 = 264.00 (November has an invoice).
    w = world()
    contract(w, "12")
    invoice(w, NOV, [vline("10", "120.00", date(2026, 10, 1), date(2026, 10, 31))])
    october = pair(w, "2026-10")
    assert (october.vendor_units, october.vendor_cost) == (10, Decimal("120.00"))
    assert findings(w, "2026-10") == {("OVERBILLED_UNITS", Decimal("44.00"))}
    assert pair(w, NOV).vendor_units == 0 and pair(w, NOV).vendor_cost == 0
    assert findings(w, NOV) == {("OVERBILLED_UNITS", Decimal("264.00"))}
    assert ref.profitability(w, ["2026-10"], ["month"]).rows[("2026-10",)].cost == Decimal("120.00")


# ---------------------------------------------------------------------------- credits


def test_a_credit_no_longer_offsets_a_price_increase() -> None:
    # November: 10 seats at 13.00 (130.00) and a credit of -2 seats at 13.00 (-26.00), standard
    # 12.00. PRICE_INCREASE counts recurring lines with quantity > 0 only:
    # (13.00 - 12.00) x 10 x 1 = 10.00 (before real bills the credit took off 2.00: 8.00).
    w = world()
    contract(w, "8")
    invoice(
        w, NOV, [vline("10", "130.00", unit_cost="13.00"), vline("-2", "-26.00", unit_cost="13.00")]
    )
    assert {f for f in findings(w, NOV) if f[0] == "PRICE_INCREASE"} == {
        ("PRICE_INCREASE", Decimal("10.00"))
    }
    w.before_real_bills = True
    assert {f for f in findings(w, NOV) if f[0] == "PRICE_INCREASE"} == {
        ("PRICE_INCREASE", Decimal("8.00"))
    }


def test_plain_lines_give_the_same_figures_either_way() -> None:
    # Plain lines (no kind, no dates) of November: 10 seats 120.00 and 3 at 12.50 (37.50).
    # Units 13, cost 157.50, mean 157.50 / 13; contract 12 at 22.00 -> UNBILLED_UNITS 22.00,
    # PRICE_INCREASE (12.50 - 12.00) x 3 = 1.50. The same with and without real bills.
    w = world()
    contract(w, "12")
    invoice(w, NOV, [vline("10", "120.00"), vline("3", "37.50", unit_cost="12.50")])
    now = findings(w, NOV)
    assert now == {("UNBILLED_UNITS", Decimal("22.00")), ("PRICE_INCREASE", Decimal("1.50"))}
    p = pair(w, NOV)
    assert (p.vendor_units, p.vendor_cost) == (13, Decimal("157.50"))
    assert p.vendor_mean_unit_cost == Fraction("157.50") / 13
    w.before_real_bills = True
    assert findings(w, NOV) == now
