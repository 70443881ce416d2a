"""HTTP for audits, findings and the per-customer audit report."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query, Request, Response
from pydantic import TypeAdapter, ValidationError

from app.audits import fixes, service
from app.audits.models import (
    AuditCreate,
    AuditRead,
    FindingDetail,
    FindingFix,
    FindingRead,
    FindingStatus,
    FindingType,
    FindingUpdate,
    SuppressedFindingRead,
)
from app.audits.reports import CustomerAuditReport, CustomerAuditRow
from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep, SnapshotSessionDep
from app.core.errors import Invalid, field_error, problem_responses
from app.core.money import NonNegativeAmount
from app.core.pagination import Page, PageDep
from app.core.periods import OptionalPeriodQuery, PeriodQuery
from app.core.routing import api_router
from app.core.types import MAX_ID, IdPath, IdQuery
from app.reports.csv import csv_response, csv_responses, model_rows, wants_csv

router = api_router()

_AMOUNT = TypeAdapter(NonNegativeAmount)


async def _min_impact(
    min_impact: Annotated[
        str | None, Query(description="Only findings with at least this impact", examples=["10"])
    ] = None,
) -> Decimal | None:
    if min_impact is None:
        return None
    try:
        return _AMOUNT.validate_python(min_impact)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise Invalid(
            "min_impact is not valid.", errors=[field_error("query.min_impact", message)]
        ) from None


def _filters(
    min_impact: Annotated[Decimal | None, Depends(_min_impact)],
    type: FindingType | None = None,
    customer_id: IdQuery = None,
    service_id: IdQuery = None,
    vendor_id: IdQuery = None,
    status: FindingStatus | None = None,
) -> service.FindingFilters:
    """The filters of a list of an audit's findings, shown or held back."""
    return service.FindingFilters(
        type=type,
        customer_id=customer_id,
        service_id=service_id,
        vendor_id=vendor_id,
        status=status,
        min_impact=min_impact,
    )


FiltersDep = Annotated[service.FindingFilters, Depends(_filters)]


def _findings_csv(
    items: Sequence[FindingRead], model: type[FindingRead], filename: str
) -> Response:
    """Findings as a CSV download (docs/findings.md#csv): the model's fields as columns, a
    fix's resolution in one cell as its JSON."""
    columns = list(model.model_fields)
    rows = model_rows(items, columns)
    at = columns.index("resolution")
    for row in rows:
        row[at] = None if row[at] is None else json.dumps(row[at], separators=(",", ":"))
    return csv_response(columns, rows, filename)


@router.post(
    "/audits",
    status_code=201,
    response_model=AuditRead,
    tags=["audits"],
    summary="Run an audit of a period",
    description="Computes every finding type of docs/findings.md for the period (optionally one "
    "vendor) and stores the run; findings found again keep their status, note and history.",
    responses=problem_responses(401, 403, 422),
)
async def run_audit(body: AuditCreate, session: SessionDep, principal: WriteKey) -> AuditRead:
    return await service.run_audit(session, data=body, actor=principal.name)


@router.get(
    "/audits",
    response_model=Page[AuditRead],
    tags=["audits"],
    summary="List audits",
    responses=problem_responses(401, 403, 422),
)
async def list_audits(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    period: OptionalPeriodQuery,
    vendor_id: IdQuery = None,
) -> Page[AuditRead]:
    """Audits in id order, one page at a time, optionally for one period or vendor, each
    with its summary."""
    return await service.list_audits(session, page=page, period=period, vendor_id=vendor_id)


@router.get(
    "/audits/{audit_id}",
    response_model=AuditRead,
    tags=["audits"],
    summary="Get an audit with its summary",
    responses=problem_responses(401, 403, 404),
)
async def get_audit(audit_id: IdPath, session: SessionDep, _: ReadKey) -> AuditRead:
    """One audit with its summary: findings and money at stake per finding type
    (docs/findings.md#summary)."""
    return await service.get_audit(session, audit_id=audit_id)


@router.get(
    "/audits/{audit_id}/findings",
    response_model=Page[FindingRead],
    tags=["audits"],
    summary="List an audit's findings, biggest impact first",
    description="Each finding names its customer, service and vendor beside their ids. "
    "With `Accept: text/csv`, every finding of the audit that matches the filters, unpaged "
    "(`limit` and `cursor` do not apply), as a CSV download (docs/findings.md#csv).",
    responses={
        **csv_responses(
            "id,audit_id,type,severity,status,customer_id,customer_name,...\r\n"
            "1,1,ORPHANED_COST,high,open,1,Beta GmbH,..."
        ),
        **problem_responses(401, 403, 404, 422),
    },
)
async def list_findings(
    request: Request,
    audit_id: IdPath,
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    filters: FiltersDep,
) -> Page[FindingRead] | Response:
    """The audit's findings, biggest impact first then id, one page at a time, filterable
    by type, customer, service, vendor, status and minimum impact (docs/findings.md); all
    of them as CSV with `Accept: text/csv` (docs/findings.md#csv)."""
    if not wants_csv(request):
        return await service.list_findings(session, audit_id=audit_id, page=page, filters=filters)
    findings = await service.all_findings(session, audit_id=audit_id, filters=filters)
    return _findings_csv(findings, FindingRead, f"audit-{audit_id}-findings.csv")


@router.get(
    "/audits/{audit_id}/suppressed",
    response_model=Page[SuppressedFindingRead],
    tags=["audits"],
    operation_id="list_suppressed_findings",
    summary="List the findings tolerances held back from an audit",
    description="In the findings' shape, each with the `tolerance_id` that held it back, "
    "biggest impact first, with the findings list's filters; in none of the audit's "
    "findings, counts or totals, but in its summary's `suppressed`. With `Accept: text/csv`, "
    "all of them, unpaged (docs/tolerances.md#held-back-findings).",
    responses={
        **csv_responses(
            "id,audit_id,type,severity,status,customer_id,customer_name,...,tolerance_id\r\n"
            "7,1,UNBILLED_UNITS,high,open,1,Acme Ltd,...,2"
        ),
        **problem_responses(401, 403, 404, 422),
    },
)
async def list_suppressed_findings(
    request: Request,
    audit_id: IdPath,
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    filters: FiltersDep,
) -> Page[SuppressedFindingRead] | Response:
    if not wants_csv(request):
        return await service.list_suppressed(session, audit_id=audit_id, page=page, filters=filters)
    held = await service.all_suppressed(session, audit_id=audit_id, filters=filters)
    return _findings_csv(held, SuppressedFindingRead, f"audit-{audit_id}-suppressed.csv")


@router.get(
    "/findings/{finding_id}",
    response_model=FindingDetail,
    tags=["audits"],
    summary="Get a finding with its status history",
    responses=problem_responses(401, 403, 404),
)
async def get_finding(finding_id: IdPath, session: SessionDep, _: ReadKey) -> FindingDetail:
    """One finding with the history of its status changes (who, when, note)."""
    return await service.get_finding(session, finding_id=finding_id)


@router.patch(
    "/findings/{finding_id}",
    response_model=FindingDetail,
    tags=["audits"],
    summary="Set a finding's status and note",
    description="open, acknowledged, resolved or dismissed; records who (the key's name) and "
    "when. The status and note carry over to the same finding in later audits of the period.",
    responses=problem_responses(401, 403, 404, 422),
)
async def update_finding(
    finding_id: IdPath, body: FindingUpdate, session: SessionDep, principal: WriteKey
) -> FindingDetail:
    return await service.update_finding(
        session, finding_id=finding_id, data=body, actor=principal.name
    )


@router.post(
    "/findings/{finding_id}/fix",
    response_model=FindingDetail,
    tags=["audits"],
    summary="Fix a finding: make the change it calls for and resolve it",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def fix_finding(
    finding_id: IdPath, body: FindingFix, session: SessionDep, principal: WriteKey
) -> FindingDetail:
    """In one transaction, through the same code as the user's own call: `match_contract`
    (UNBILLED_UNITS, OVERBILLED_UNITS, UNBILLED_ASSETS) changes the customer's contract
    line by the unit difference from `effective_date` (default: the first day of the
    finding's period) as adjustments; `adopt_cost` (PRICE_INCREASE) adds a price-book entry
    at the highest unit cost of the finding's lines from their earliest charge_start;
    `bill` (MISSING_BILLING) runs billing for that customer and period. The finding is then
    resolved, with `resolution` `{action, at, changes}`. A finding not open or
    acknowledged is a 409; another action for the type is a 422 (docs/findings.md#fixes)."""
    return await fixes.fix_finding(session, finding_id=finding_id, data=body, actor=principal.name)


@router.get(
    "/reports/customer-audit",
    response_model=CustomerAuditReport,
    tags=["reports"],
    summary="A customer's audit for a period, one row per service",
    description="Contracted, vendor, deployed and invoiced units, contract unit price, vendor "
    "mean unit cost, revenue, cost, profit, margin and the finding types that apply.",
    responses={
        **csv_responses(
            "customer_id,customer_name,service_id,service_name,sku,vendor_id,vendor_name,...,"
            "finding_types\r\n2,Acme Ltd,3,Antivirus,AV,1,Pax8,...,"
        ),
        **problem_responses(401, 403, 404, 422),
    },
)
async def customer_audit(
    request: Request,
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    period: PeriodQuery,
    customer_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> CustomerAuditReport | Response:
    report = await service.customer_audit(session, customer_id=customer_id, period=period)
    if not wants_csv(request):
        return report
    # Each row names the customer too: a spreadsheet row stands on its own.
    columns = list(CustomerAuditRow.model_fields)
    customer = [report.customer_id, report.customer_name]
    rows = [[*customer, *row] for row in model_rows(report.rows, columns)]
    filename = f"customer-audit-{customer_id}-{period}.csv"
    return csv_response(["customer_id", "customer_name", *columns], rows, filename)
