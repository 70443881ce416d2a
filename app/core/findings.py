"""The vocabulary of findings, shared by the audit that produces them and the ingest
answers that carry checks (docs/findings.md, docs/checks.md)."""

from __future__ import annotations

from enum import StrEnum


class FindingType(StrEnum):
    ORPHANED_COST = "ORPHANED_COST"
    UNBILLED_UNITS = "UNBILLED_UNITS"
    OVERBILLED_UNITS = "OVERBILLED_UNITS"
    PRICE_INCREASE = "PRICE_INCREASE"
    NEGATIVE_MARGIN = "NEGATIVE_MARGIN"
    UNMAPPED_SKU = "UNMAPPED_SKU"
    UNMAPPED_ACCOUNT = "UNMAPPED_ACCOUNT"
    DUPLICATE_CHARGE = "DUPLICATE_CHARGE"
    INVOICE_TOTAL_MISMATCH = "INVOICE_TOTAL_MISMATCH"
    MISSING_BILLING = "MISSING_BILLING"
    UNBILLED_ASSETS = "UNBILLED_ASSETS"


class Severity(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"
