"""Audit runs, their findings, the status history that survives re-runs
(docs/findings.md#re-runs), and the tolerances that hold findings back
(docs/tolerances.md)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, field_validator
from pydantic import Field as PField
from sqlalchemy import Column, Index, Integer, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.core.columns import created_at_field, decimal_field, fk_field
from app.core.db import UtcDateTime
from app.core.findings import FindingType, Severity
from app.core.money import (
    AMOUNT_PLACES,
    VENDOR_PLACES,
    AmountOut,
    ExactDecimal,
    NonNegativeAmount,
    PercentLimit,
    PriceOut,
    QuantityOut,
    UnitsLimit,
)
from app.core.periods import PeriodField
from app.core.schemas import InputModel, ReadModel
from app.core.types import Day, FreeText, Id


class FindingStatus(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    dismissed = "dismissed"


class Audit(SQLModel, table=True):
    __tablename__ = "audit"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(sa_column=Column(String(7), nullable=False, index=True))
    vendor_id: int | None = fk_field("vendor.id", nullable=True, index=False)
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    finding_count: int = Field(sa_column=Column(Integer, nullable=False))
    total_impact: Decimal = decimal_field(2)
    # {"TYPE": {"count": n, "impact": "..."}}: fixed when the audit runs.
    by_type: str = Field(sa_column=Column(Text, nullable=False))
    # The findings tolerances held back (docs/tolerances.md#summary): in none of the above.
    suppressed_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    suppressed_impact: Decimal = Field(
        default=Decimal(0),
        sa_column=Column(ExactDecimal(scale=2), nullable=False, server_default=text("0")),
    )
    created_at: datetime = created_at_field()


class Finding(SQLModel, table=True):
    __tablename__ = "finding"
    __table_args__ = (
        Index("ix_finding_audit_id_type", "audit_id", "type"),
        Index("ix_finding_fingerprint", "fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = fk_field("audit.id", index=False)
    type: str = Field(sa_column=Column(String(32), nullable=False))
    severity: str = Field(sa_column=Column(String(8), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    # Same type, customer, service, vendor, vendor invoice (and sku/account for the
    # UNMAPPED_* types) in the same period: the same finding across re-runs.
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    customer_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    service_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    vendor_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    vendor_invoice_id: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True, index=True)
    )
    vendor_invoice_line_id: int | None = Field(
        default=None, sa_column=Column(Integer, nullable=True)
    )
    vendor_sku: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    account_ref: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    expected_quantity: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    actual_quantity: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    expected_unit_amount: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    actual_unit_amount: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    previous_unit_cost: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    impact: Decimal = decimal_field(2)
    message: str = Field(sa_column=Column(Text, nullable=False))
    # The tolerance that held the finding back (docs/tolerances.md#held-back-findings);
    # null for a finding shown. No foreign key: the tolerance may be deleted later, and
    # the audit keeps what it held back.
    tolerance_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status_changed_by: str | None = Field(
        default=None, sa_column=Column(String(200), nullable=True)
    )
    status_changed_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True)
    )
    # The fix that resolved it, as JSON `{action, at, changes}` (docs/findings.md#fixes).
    resolution: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()


class FindingEvent(SQLModel, table=True):
    """A status or note change, kept by fingerprint so a re-run's finding shows it too."""

    __tablename__ = "finding_event"

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    finding_id: int = fk_field("finding.id", index=False)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_by: str = Field(sa_column=Column(String(200), nullable=False))
    changed_at: datetime = created_at_field()
    # The fix action when the change was a fix (docs/findings.md#fixes), else null.
    action: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))


# --- schemas ---------------------------------------------------------------------------------


class AuditCreate(InputModel):
    period: PeriodField
    vendor_id: Id | None = PField(
        default=None,
        description="Only findings about this vendor's invoices and services "
        "(MISSING_BILLING and UNBILLED_ASSETS are left out)",
    )


class TypeSummary(BaseModel):
    count: int
    impact: AmountOut


class SuppressedSummary(BaseModel):
    count: int = PField(description="Findings held back by tolerances")
    impact: AmountOut = PField(description="Their impact, summed")


class AuditSummary(BaseModel):
    count: int
    total_impact: AmountOut
    by_type: dict[str, TypeSummary]
    suppressed: SuppressedSummary = PField(
        description="What tolerances held back: in none of the figures above "
        "(docs/tolerances.md#summary)"
    )


class AuditRead(ReadModel):
    id: int
    period: str
    vendor_id: int | None
    created_by: str
    created_at: datetime
    summary: AuditSummary


class FixAction(StrEnum):
    """What `POST /findings/{id}/fix` can do (docs/findings.md#fixes)."""

    match_contract = "match_contract"
    adopt_cost = "adopt_cost"
    bill = "bill"


class FindingEventRead(ReadModel):
    status: FindingStatus
    note: str | None
    changed_by: str
    changed_at: datetime
    action: FixAction | None = PField(
        default=None, description="The fix that made this change, or null"
    )


class FixChange(BaseModel):
    """One record a fix made, with the path to read it."""

    resource: str = PField(
        description="contract_line_adjustment, service_cost or billing_run",
        examples=["service_cost"],
    )
    id: int
    href: str = PField(description="Where to read it", examples=["/api/v1/services/3/costs"])
    detail: str = PField(description="What it changed, in words")


class Resolution(BaseModel):
    action: FixAction
    at: datetime
    changes: list[FixChange]


class FindingFix(InputModel):
    action: FixAction
    effective_date: Day | None = PField(
        default=None,
        description="match_contract: the day the contract's quantity changes, by default "
        "the first day of the finding's period",
    )


class FindingRead(ReadModel):
    id: int
    audit_id: int
    type: FindingType
    severity: Severity
    status: FindingStatus
    customer_id: int | None
    customer_name: str | None = PField(
        description="The customer's name as it is now; null without a customer"
    )
    service_id: int | None
    service_name: str | None = PField(
        description="The service's name as it is now; null without a service"
    )
    vendor_id: int | None
    vendor_name: str | None = PField(
        description="The vendor's name as it is now; null without a vendor"
    )
    vendor_invoice_id: int | None
    vendor_invoice_line_id: int | None
    vendor_sku: str | None
    account_ref: str | None
    expected_quantity: QuantityOut | None = PField(
        description="Units on the contract's side: the contracted units (UNBILLED_UNITS, "
        "OVERBILLED_UNITS, NEGATIVE_MARGIN, UNBILLED_ASSETS; 0 for ORPHANED_COST); null for "
        "other types (docs/findings.md#unit-amounts)"
    )
    actual_quantity: QuantityOut | None = PField(
        description="Units observed: the vendor units (ORPHANED_COST, UNBILLED_UNITS, "
        "OVERBILLED_UNITS, NEGATIVE_MARGIN), the units of the lines above the standard cost "
        "(PRICE_INCREASE) or the deployed units (UNBILLED_ASSETS); null for other types"
    )
    expected_unit_amount: PriceOut | None = PField(
        description="A sale price, except for PRICE_INCREASE: the contract unit price, what the "
        "customer pays per unit (UNBILLED_UNITS, OVERBILLED_UNITS, NEGATIVE_MARGIN, "
        "UNBILLED_ASSETS, whose impact it prices; for UNBILLED_ASSETS with nothing contracted, "
        "the service's list price); for PRICE_INCREASE the standard unit cost, what the MSP "
        "expects to pay; null for other types (docs/findings.md#unit-amounts)"
    )
    actual_unit_amount: PriceOut | None = PField(
        description="Always a cost: the vendor's mean unit cost, what the MSP pays per unit "
        "(ORPHANED_COST, UNBILLED_UNITS, OVERBILLED_UNITS when the vendor charges any, "
        "NEGATIVE_MARGIN; for PRICE_INCREASE, of the lines above the standard); null for "
        "other types (docs/findings.md#unit-amounts)"
    )
    previous_unit_cost: PriceOut | None = PField(
        description="PRICE_INCREASE: the service's mean unit cost in the month before, when "
        "there was one"
    )
    impact: AmountOut
    message: str
    note: str | None
    status_changed_by: str | None
    status_changed_at: datetime | None
    resolution: Resolution | None = PField(
        default=None,
        description="The fix that resolved the finding, or null (docs/findings.md#fixes)",
    )
    created_at: datetime

    @field_validator("resolution", mode="before")
    @classmethod
    def _parse_resolution(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class SuppressedFindingRead(FindingRead):
    tolerance_id: int = PField(
        description="The tolerance that held the finding back (it may since have been deleted)"
    )


class FindingDetail(FindingRead):
    history: list[FindingEventRead]


class FindingUpdate(InputModel):
    status: FindingStatus | None = None
    note: FreeText = None


# --- tolerances (docs/tolerances.md) ---------------------------------------------------------


class Tolerance(SQLModel, table=True):
    __tablename__ = "tolerance"
    __table_args__ = (UniqueConstraint("scope"),)

    id: int | None = Field(default=None, primary_key=True)
    type: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    customer_id: int | None = fk_field("customer.id", nullable=True, index=False)
    service_id: int | None = fk_field("service.id", nullable=True, index=False)
    max_units: Decimal | None = decimal_field(VENDOR_PLACES, nullable=True)
    max_percent: Decimal | None = decimal_field(AMOUNT_PLACES, nullable=True)
    max_impact: Decimal | None = decimal_field(AMOUNT_PLACES, nullable=True)
    # type, customer_id and service_id in one key ("*" for a field the rule leaves open):
    # one rule per scope, held by the database even when two requests race
    # (docs/tolerances.md#one-rule-per-scope).
    scope: str = Field(sa_column=Column(String(80), nullable=False))
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = created_at_field()


def scope_key(type_: str | None, customer_id: int | None, service_id: int | None) -> str:
    return "|".join("*" if part is None else str(part) for part in (type_, customer_id, service_id))


class ToleranceCreate(InputModel):
    type: FindingType | None = PField(
        default=None, description="Only findings of this type; absent: every type"
    )
    customer_id: Id | None = PField(
        default=None, description="Only findings about this customer; absent: every customer"
    )
    service_id: Id | None = PField(
        default=None, description="Only findings about this service; absent: every service"
    )
    max_units: UnitsLimit | None = PField(
        default=None,
        description="UNBILLED_UNITS, OVERBILLED_UNITS, UNBILLED_ASSETS: held back when the "
        "unit difference is at most this (docs/tolerances.md#unit-limits)",
    )
    max_percent: PercentLimit | None = PField(
        default=None,
        description="UNBILLED_UNITS, OVERBILLED_UNITS, UNBILLED_ASSETS: held back when the "
        "unit difference / contracted units x 100 is at most this "
        "(docs/tolerances.md#unit-limits)",
    )
    max_impact: NonNegativeAmount | None = PField(
        default=None,
        description="Any type: held back when the impact is at most this "
        "(docs/tolerances.md#impact-limit)",
    )


class ToleranceRead(ReadModel):
    id: int
    type: FindingType | None
    customer_id: int | None
    service_id: int | None
    max_units: UnitsLimit | None
    max_percent: PercentLimit | None
    max_impact: NonNegativeAmount | None
    created_by: str
    created_at: datetime
