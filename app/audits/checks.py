"""Checks at ingest: the findings of the month's audit that concern one vendor invoice,
worked out by the audit's own rules over its inputs narrowed to that invoice, stored
nowhere as findings (docs/checks.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audits import data as audit_data
from app.audits.models import FindingType
from app.audits.rules import RULES, Draft
from app.audits.tolerance_service import load_tolerances
from app.core.periods import Period
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import InvoiceCheck, LineKind, VendorInvoice, VendorInvoiceLine

# The types that can concern one invoice (docs/checks.md#what-is-checked), in the
# audit's order.
CHECKED = (
    FindingType.ORPHANED_COST,
    FindingType.PRICE_INCREASE,
    FindingType.UNMAPPED_SKU,
    FindingType.UNMAPPED_ACCOUNT,
    FindingType.DUPLICATE_CHARGE,
    FindingType.INVOICE_TOTAL_MISMATCH,
)
# Of those, the ones the audit ties to a vendor invoice by id.
_OF_INVOICE = {
    FindingType.PRICE_INCREASE,
    FindingType.UNMAPPED_SKU,
    FindingType.UNMAPPED_ACCOUNT,
    FindingType.INVOICE_TOTAL_MISMATCH,
}
# Past this many customers the pair side is gathered for the vendor's whole month rather
# than through a list of ids (each id is a bound parameter; both databases cap them).
MAX_NARROWED_CUSTOMERS = 2000


async def invoice_checks(session: AsyncSession, invoice: VendorInvoice) -> list[InvoiceCheck]:
    """The checks of one stored (flushed) invoice, read in the caller's transaction: what
    the audit of the invoice's month would find about it, were it run now."""
    assert invoice.id is not None
    line = VendorInvoiceLine
    # The (customer, service) pairs its lines charge, and every customer one of its lines
    # names (a line matched to a customer but to no service names the customer too).
    rows: Any = await session.execute(
        join_matches(select(matched_customer_id, matched_service_id).select_from(line))
        .where(col(line.invoice_id) == invoice.id, col(line.kind) != LineKind.adjustment.value)
        .distinct()
    )
    charged = rows.all()
    pairs = {(c, s) for c, s in charged if c is not None and s is not None}
    customers = sorted({c for c, _s in charged if c is not None})
    period = Period.parse(invoice.period)
    gathered = await audit_data.load(
        session,
        period=period,
        vendor_id=invoice.vendor_id,
        customer_ids=customers if len(customers) <= MAX_NARROWED_CUSTOMERS else None,
        invoice_id=invoice.id,
        # Only the pairs it charges are judged: their services' contract lines.
        service_ids=sorted({s for _c, s in pairs}),
    )
    # A webhook event processed again reads at READ COMMITTED (docs/checks.md#consistency):
    # a service created between the statements is not in the catalog read first.
    gathered.price_rises = [r for r in gathered.price_rises if r.service_id in gathered.services]
    # What a tolerance would hold back from the audit is held back here too
    # (docs/tolerances.md): the checks are what the audit would show.
    tolerances = await load_tolerances(session)
    drafts = [
        draft
        for kind in CHECKED
        for draft in RULES[kind](gathered)
        if _concerns(draft, invoice, pairs, gathered) and tolerances.holding(draft) is None
    ]
    # Biggest impact first, as an audit's findings are listed (ties in the rules' order).
    drafts.sort(key=lambda draft: -draft.impact)
    return [_check(draft, gathered) for draft in drafts]


async def checks_of(
    session: AsyncSession, invoices: Sequence[VendorInvoice]
) -> dict[int, list[InvoiceCheck]]:
    """Each invoice's checks by its id, once all of them are stored: invoices of one import
    see each other, as the month's audit will."""
    found: dict[int, list[InvoiceCheck]] = {}
    for invoice in invoices:
        assert invoice.id is not None
        found[invoice.id] = await invoice_checks(session, invoice)
    return found


def _concerns(
    draft: Draft,
    invoice: VendorInvoice,
    pairs: set[tuple[int, int]],
    gathered: audit_data.AuditData,
) -> bool:
    """Whether a finding of the narrowed audit is about this invoice
    (docs/checks.md#what-is-checked)."""
    if draft.type in _OF_INVOICE:
        return draft.vendor_invoice_id == invoice.id
    assert draft.customer_id is not None and draft.service_id is not None
    pair = (draft.customer_id, draft.service_id)
    if pair not in pairs:
        return False
    if draft.type is FindingType.DUPLICATE_CHARGE:
        # The copies this invoice carries, or the earlier charges it is copied from.
        duplicate = gathered.duplicates[pair]
        return invoice.invoice_number in duplicate.earliest or any(
            copy.invoice_id == invoice.id for copy in duplicate.copies
        )
    return True


def _check(draft: Draft, gathered: audit_data.AuditData) -> InvoiceCheck:
    service = gathered.services.get(draft.service_id or 0)
    return InvoiceCheck(
        type=draft.type,
        severity=draft.severity,
        impact=draft.impact,
        customer_id=draft.customer_id,
        customer_name=gathered.customers.get(draft.customer_id or 0),
        service_id=draft.service_id,
        service_name=service.name if service else None,
        vendor_sku=draft.vendor_sku,
        account_ref=draft.account_ref,
        message=draft.message,
    )
