"""Matching of vendor invoice lines (docs/month-arithmetic.md#matching-vendor-lines): a
line's service by (vendor_id, vendor_sku), its customer by (vendor_id, account_ref)
through the vendor accounts.

The one query builder for it, shared by invoice views, the unmapped list, audits and
reports. Matching happens when they run, so a mapping added later repairs old invoices
without re-ingesting them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Label, Select, and_, select
from sqlmodel import col

from app.customers.models import VendorAccount
from app.services.models import Service
from app.vendor_invoices.models import VendorInvoiceLine

Line = VendorInvoiceLine
S = TypeVar("S", bound=Select)  # type: ignore[type-arg]

# The matched ids; NULL where nothing matches.
matched_service_id: Label[int | None] = col(Service.id).label("service_id")
matched_customer_id: Label[int | None] = col(VendorAccount.customer_id).label("customer_id")


def join_matches(stmt: S) -> S:
    """Add the two outer joins that match `vendor_invoice_line` rows to a statement
    selecting from it. Both pairs are unique per vendor, so no line is repeated."""
    return stmt.outerjoin(
        Service,
        and_(
            col(Service.vendor_id) == col(Line.vendor_id),
            col(Service.vendor_sku) == col(Line.vendor_sku),
        ),
    ).outerjoin(
        VendorAccount,
        and_(
            col(VendorAccount.vendor_id) == col(Line.vendor_id),
            col(VendorAccount.account_ref) == col(Line.account_ref),
        ),
    )


def matched_lines(*conditions: Any) -> Select[VendorInvoiceLine, int | None, int | None]:
    """Every column of the lines meeting `conditions`, with service_id and customer_id."""
    stmt = select(Line, matched_service_id, matched_customer_id).select_from(Line)
    return join_matches(stmt).where(*conditions)
