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
from app.audits.tolerances import Tolerances
from app.core.periods import Period
from app.vendor_invoices.matching import join_matches, matched_customer_id, matched_service_id
from app.vendor_invoices.models import InvoiceCheck, LineKind, VendorInvoice, VendorInvoiceLine
from app.vendor_invoices.service import stored_id

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


async def checks_of(
    session: AsyncSession, invoices: Sequence[VendorInvoice]
) -> dict[int, list[InvoiceCheck]]:
    """Each invoice's checks by its id, read in the caller's transaction once all of them
    are stored (invoices of one import see each other, as the month's audit will): what
    the audit of an invoice's month would find about it, were it run now. One gathering
    and one run of the rules for the invoices of each vendor and month, however many
    invoice numbers a file holds."""
    groups: dict[tuple[int, str], list[VendorInvoice]] = {}
    for invoice in invoices:
        groups.setdefault((invoice.vendor_id, invoice.period), []).append(invoice)
    if not groups:
        return {}
    tolerances = await load_tolerances(session)
    found: dict[int, list[InvoiceCheck]] = {}
    for (vendor_id, period), group in groups.items():
        found.update(await _group_checks(session, vendor_id, period, group, tolerances))
    return found


async def _group_checks(
    session: AsyncSession,
    vendor_id: int,
    period: str,
    invoices: list[VendorInvoice],
    tolerances: Tolerances,
) -> dict[int, list[InvoiceCheck]]:
    line = VendorInvoiceLine
    ids = sorted(stored_id(invoice) for invoice in invoices)
    # The (customer, service) pairs each invoice's lines charge, and every customer one of
    # their lines names (a line matched to a customer but to no service names it too).
    rows: Any = await session.execute(
        join_matches(
            select(col(line.invoice_id), matched_customer_id, matched_service_id).select_from(line)
        )
        .where(col(line.invoice_id).in_(ids), col(line.kind) != LineKind.adjustment.value)
        .distinct()
    )
    pairs: dict[int, set[tuple[int, int]]] = {invoice_id: set() for invoice_id in ids}
    customers: set[int] = set()
    for invoice_id, customer_id, service_id in rows.all():
        if customer_id is not None:
            customers.add(customer_id)
            if service_id is not None:
                pairs[invoice_id].add((customer_id, service_id))
    gathered = await audit_data.load(
        session,
        period=Period.parse(period),
        vendor_id=vendor_id,
        customer_ids=sorted(customers) if len(customers) <= MAX_NARROWED_CUSTOMERS else None,
        invoice_ids=ids,
        # Only the pairs they charge are judged: their services' contract lines.
        service_ids=sorted({s for charged in pairs.values() for _c, s in charged}),
    )
    # A webhook event processed again reads at READ COMMITTED (docs/checks.md#consistency):
    # a service created between the statements is not in the catalog read first.
    gathered.price_rises = [r for r in gathered.price_rises if r.service_id in gathered.services]
    # What a tolerance would hold back from the audit is held back here too
    # (docs/tolerances.md): the checks are what the audit would show.
    drafts = [
        draft
        for kind in CHECKED
        for draft in RULES[kind](gathered)
        if tolerances.holding(draft) is None
    ]
    # Biggest impact first, as an audit's findings are listed (ties in the rules' order).
    drafts.sort(key=lambda draft: -draft.impact)
    return {
        stored_id(invoice): [
            _check(draft, gathered)
            for draft in drafts
            if _concerns(draft, invoice, pairs[stored_id(invoice)], gathered)
        ]
        for invoice in invoices
    }


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
