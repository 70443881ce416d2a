"""The leakage report (docs/reports.md#leakage): per month and finding type, the money found
by audits, resolved, recovered by a fix, dismissed, and still open, read from the findings
and their history. A finding is its fingerprint (the same finding across re-runs,
docs/findings.md#re-runs), counted at its impact as first found."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.audits.models import Audit, Finding, FindingEvent, FindingStatus, FindingType
from app.auth.dependencies import ReadKey
from app.core.db import SnapshotSessionDep
from app.core.errors import problem_responses
from app.core.money import AMOUNT_PLACES, AmountOut, decimal_sum
from app.core.periods import Period, PeriodField, months_between
from app.core.routing import api_router
from app.reports import params
from app.reports.csv import csv_response, csv_responses, model_rows, wants_csv

ZERO = Decimal(0)
CLOSED = {FindingStatus.resolved.value, FindingStatus.dismissed.value}
FIGURES = ("found", "resolved", "recovered", "dismissed", "open")


class LeakageFigures(BaseModel):
    found: AmountOut = Field(
        description="Impact of the findings of this month's audits (first found)"
    )
    resolved: AmountOut = Field(description="Impact of the findings resolved during the month")
    recovered: AmountOut = Field(description="Of those resolved, the ones resolved by a fix")
    dismissed: AmountOut = Field(description="Impact of the findings dismissed during the month")
    open: AmountOut = Field(
        description="Of this month's findings, those open or acknowledged at the end of the "
        "report's last month (now, if that month has not ended)"
    )


class _Type(BaseModel):
    type: FindingType


class _MonthType(BaseModel):
    month: str = Field(examples=["2026-10"])
    type: FindingType


# The keys first, then the figures (pydantic orders the fields of the later base first).
class LeakageRow(LeakageFigures, _MonthType):
    pass


class LeakageTotal(LeakageFigures, _Type):
    pass


class LeakageReport(BaseModel):
    from_: PeriodField = Field(serialization_alias="from")
    to: PeriodField
    rows: list[LeakageRow]
    totals: list[LeakageTotal]


def _start(period: Period) -> datetime:
    return datetime.combine(period.first_day, time(0), tzinfo=UTC)


def _first_findings(*conditions: Any) -> Any:
    """The first finding (the least id) of each fingerprint among the findings matching
    `conditions`, with its fingerprint; held back by a tolerance, a finding is not shown
    and not leakage (docs/tolerances.md)."""
    return (
        select(col(Finding.fingerprint), func.min(col(Finding.id)).label("id"))
        .join(Audit, col(Audit.id) == col(Finding.audit_id))
        .where(col(Finding.tolerance_id).is_(None), *conditions)
        .group_by(col(Finding.fingerprint))
    )


async def leakage(session: AsyncSession, *, first: Period, last: Period) -> LeakageReport:
    """Two statements: the findings of the range's periods grouped by period and type (as
    first found), and the history entries up to the range's end with their finding's
    period, type and first impact; the flows are counted from the history here, one pass
    (docs/reports.md#leakage)."""
    dialect = session.get_bind().dialect.name
    months = {str(p) for p in months_between(first, last)}
    in_range = col(Audit.period).between(str(first), str(last))
    # The first finding of each fingerprint whose period is in the range (a fingerprint
    # holds its period, so all of its findings are audits of that period).
    earliest = _first_findings(in_range).subquery("earliest")
    found_rows: Any = await session.execute(
        select(
            col(Audit.period),
            col(Finding.type),
            decimal_sum(col(Finding.impact), dialect, AMOUNT_PLACES),
        )
        .join(earliest, earliest.c.id == col(Finding.id))
        .join(Audit, col(Audit.id) == col(Finding.audit_id))
        .group_by(col(Audit.period), col(Finding.type))
    )
    figures: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: dict.fromkeys(FIGURES, ZERO)
    )
    for period, kind, amount in found_rows.all():
        entry = figures[(period, kind)]
        entry["found"] = amount
        entry["open"] = amount  # less what is closed by the range's end, below

    # The range's end; for a month not yet ended, every entry so far: now.
    end = _start(last.next())
    # Every history entry up to the range's end, with its finding's period, type and
    # first impact: the entries are people's and fixes' changes, not one per finding.
    first_of = _first_findings(
        col(Finding.fingerprint).in_(
            select(col(FindingEvent.fingerprint)).where(col(FindingEvent.changed_at) < end)
        )
    ).subquery("first_of")
    event_rows: Any = await session.execute(
        select(
            col(FindingEvent.fingerprint),
            col(FindingEvent.status),
            col(FindingEvent.action),
            col(FindingEvent.changed_at),
            col(Audit.period),
            col(Finding.type),
            col(Finding.impact),
        )
        .join(first_of, first_of.c.fingerprint == col(FindingEvent.fingerprint))
        .join(Finding, col(Finding.id) == first_of.c.id)
        .join(Audit, col(Audit.id) == col(Finding.audit_id))
        .where(col(FindingEvent.changed_at) < end)
        .order_by(col(FindingEvent.fingerprint), col(FindingEvent.changed_at), col(FindingEvent.id))
    )
    start = _start(first)
    # fingerprint -> its status after the entries seen so far: in the end, at the range's
    # end (or now); and, per calendar month with entries, the status it started the month
    # with and the entry that left it as it ended the month.
    state: dict[str, str] = {}
    about: dict[str, tuple[str, str, Decimal]] = {}
    month_change: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    for fingerprint, status, action, changed_at, period, kind, impact in event_rows.all():
        about[fingerprint] = (period, kind, impact)
        before = state.get(fingerprint, FindingStatus.open.value)
        state[fingerprint] = status
        if changed_at < start:
            continue
        key = (fingerprint, str(Period.of(changed_at.date())))
        started, _ended, how = month_change.get(key, (before, before, None))
        # The action of the entry that set the status: a note added after a fix keeps it.
        month_change[key] = (started, status, action if status != before else how)
    # A finding resolved or dismissed in a month: it ends the month so, and did not start
    # it so (a dismissal taken back within the month counts for nothing).
    for (fingerprint, month), (started, ended, action) in month_change.items():
        if ended not in CLOSED or ended == started:
            continue
        _period, kind, impact = about[fingerprint]
        entry = figures[(month, kind)]
        if ended == FindingStatus.resolved.value:
            entry["resolved"] += impact
            if action is not None:
                entry["recovered"] += impact
        else:
            entry["dismissed"] += impact
    for fingerprint, status in state.items():
        period, kind, impact = about[fingerprint]
        if status in CLOSED and first <= Period.parse(period) <= last:
            figures[(period, kind)]["open"] -= impact

    order = {kind.value: index for index, kind in enumerate(FindingType)}
    rows = [
        LeakageRow(month=month, type=FindingType(kind), **values)
        for (month, kind), values in sorted(
            figures.items(), key=lambda item: (item[0][0], order[item[0][1]])
        )
        if month in months and any(values.values())
    ]
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(FIGURES, ZERO))
    for row in rows:
        for name in FIGURES:
            totals[row.type.value][name] += getattr(row, name)
    return LeakageReport(
        from_=first,
        to=last,
        rows=rows,
        totals=[
            LeakageTotal(type=FindingType(kind), **values)
            for kind, values in sorted(totals.items(), key=lambda item: order[item[0]])
        ],
    )


router = api_router()


@router.get(
    "/reports/leakage",
    response_model=LeakageReport,
    tags=["reports"],
    summary="Money leaking, found and recovered, per month and finding type",
    responses={
        **csv_responses(
            "month,type,found,resolved,recovered,dismissed,open\r\n"
            "2026-10,UNBILLED_UNITS,44.00,44.00,44.00,0.00,0.00"
        ),
        **problem_responses(401, 403, 422),
    },
)
async def leakage_report(
    request: Request,
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    from_: Annotated[
        str,
        Query(alias="from", description="First month, YYYY-MM (inclusive)", examples=["2026-01"]),
    ],
    to: Annotated[
        str,
        Query(
            description=f"Last month, YYYY-MM (inclusive; at most {params.MAX_REPORT_MONTHS} "
            "months from `from`)",
            examples=["2026-12"],
        ),
    ],
) -> LeakageReport | Response:
    """Per month and finding type: `found`, the impact (as first found) of the findings of
    that month's audits; `resolved` and `dismissed`, of the findings that became resolved or
    dismissed during that calendar month (whatever their period); `recovered`, of those
    resolved by a fix; `open`, of that month's findings still open or acknowledged at the
    end of `to` (now, if `to` has not ended). `totals` per type. Rows with nothing are left
    out (docs/reports.md#leakage). CSV with `Accept: text/csv`."""
    first, last = params.report_range(from_, to)
    report = await leakage(session, first=first, last=last)
    if not wants_csv(request):
        return report
    columns = ["month", "type", *FIGURES]
    return csv_response(columns, model_rows(report.rows, columns), f"leakage-{first}-{last}.csv")
