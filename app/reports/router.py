"""HTTP for profitability, trends and monthly targets: parse, call the service, shape (JSON,
CSV with `Accept: text/csv`, or for trends an SVG chart with `Accept: image/svg+xml`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request, Response

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep, SnapshotSessionDep
from app.core.errors import Invalid, field_error, problem_responses
from app.core.pagination import Page, PageDep
from app.core.periods import Period
from app.core.routing import api_router
from app.reports import params, service, targets
from app.reports.chart import SVG_MEDIA_TYPE, svg_response, trends_svg
from app.reports.csv import CSV_MEDIA_TYPE, csv_response, csv_responses, preferred, wants_csv
from app.reports.models import (
    Basis,
    Metric,
    ProfitabilityReport,
    TargetPut,
    TargetRead,
    TrendGroup,
    TrendsReport,
)
from app.reports.names import NAME_FIELDS

router = api_router()

FromQuery = Annotated[
    str, Query(alias="from", description="First period, YYYY-MM (inclusive)", examples=["2026-01"])
]
ToQuery = Annotated[
    str,
    Query(
        description=f"Last period, YYYY-MM (inclusive; at most {params.MAX_REPORT_MONTHS} "
        "months from `from`)",
        examples=["2026-12"],
    ),
]
BasisQuery = Annotated[
    Basis,
    Query(
        description="contracted: revenue by the month arithmetic of the contract lines "
        "(docs/month-arithmetic.md#revenue); invoiced: the non-void customer invoice lines of "
        "each period"
    ),
]
PROBLEMS = problem_responses(401, 403, 422)


@router.get(
    "/reports/profitability",
    response_model=ProfitabilityReport,
    response_model_exclude_unset=True,
    tags=["reports"],
    summary="Revenue, cost, profit and margin per customer, contract, service, vendor or month",
    description="docs/reports.md#profitability: rows carry only the keys named in `group_by`; "
    "rows whose "
    "revenue and cost are both 0 are left out. Grouped by contract, each (customer, service, "
    "month)'s vendor cost is split over the customer's lines of the service in proportion to "
    "their contracted units (largest remainder, ties to the earliest line); cost without "
    "contracted units is on a row whose contract_id is null. `unallocated_cost` is the vendor "
    "cost no customer/service match took.",
    responses={
        **csv_responses(
            "customer_id,customer_name,revenue,cost,profit,margin\r\n"
            "7,Acme Ltd,1250.00,900.00,350.00,0.2800"
        ),
        **PROBLEMS,
    },
)
async def profitability(
    request: Request,
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    from_: FromQuery,
    to: ToQuery,
    group_by: Annotated[
        str | None,
        Query(
            description="One or two of customer, contract, service, vendor, month, "
            "comma-separated (default customer)",
            examples=["customer,month"],
        ),
    ] = None,
    basis: BasisQuery = Basis.contracted,
) -> ProfitabilityReport | Response:
    first, last = params.report_range(from_, to)
    keys = params.parse_group_by(group_by)
    report = await service.profitability(
        session, first=first, last=last, group_by=keys, basis=basis
    )
    if not wants_csv(request):
        return report
    key_fields = [
        field
        for key in report.group_by
        for field in (
            ["month"] if key.value == "month" else [f"{key.value}_id", NAME_FIELDS[key.value]]
        )
    ]
    header = [*key_fields, "revenue", "cost", "profit", "margin"]
    rows = ([getattr(row, name) for name in header] for row in report.rows)
    return csv_response(header, rows, f"profitability-{first}-{last}.csv")


@router.get(
    "/reports/trends",
    response_model=TrendsReport,
    response_model_exclude_unset=True,
    tags=["reports"],
    summary="A metric month by month, per customer, service or vendor, against the targets",
    description="docs/reports.md#trends: one value per month per series, the total, "
    "month-over-month "
    "changes, `gaps` (a customer with a contract active in a month and no revenue in it) and, "
    "for revenue and profit, the month's target and its attainment (actual / target); "
    "`incomplete` lists the months a vendor has not billed yet (cost not final). With "
    "`Accept: image/svg+xml`, the same figures as a line chart (docs/reports.md#chart).",
    responses={
        200: {
            "description": "The report as JSON, as CSV with `Accept: text/csv`, or as an SVG "
            "line chart with `Accept: image/svg+xml`",
            "content": {
                **csv_responses(
                    "customer_id,customer_name,month,value,change,incomplete\r\n"
                    "7,Acme Ltd,2026-01,1250.00,,false\r\n"
                )[200]["content"],
                SVG_MEDIA_TYPE: {"schema": {"type": "string"}},
            },
        },
        **PROBLEMS,
    },
)
async def trends(
    request: Request,
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    from_: FromQuery,
    to: ToQuery,
    metric: Annotated[Metric, Query(description="revenue, cost, profit or margin")] = (
        Metric.revenue
    ),
    group_by: Annotated[
        TrendGroup, Query(description="customer, service, vendor or none (one total series)")
    ] = TrendGroup.none,
    basis: BasisQuery = Basis.contracted,
) -> TrendsReport | Response:
    first, last = params.report_range(from_, to)
    report = await service.trends(
        session, metric=metric, first=first, last=last, group_by=group_by, basis=basis
    )
    media_type = preferred(request, CSV_MEDIA_TYPE, SVG_MEDIA_TYPE)
    filename = f"trends-{metric.value}-{first}-{last}"
    if media_type is None:
        return report
    if media_type == SVG_MEDIA_TYPE:
        return svg_response(trends_svg(report), f"{filename}.svg")
    keys = (
        [] if group_by is TrendGroup.none else [f"{group_by.value}_id", NAME_FIELDS[group_by.value]]
    )
    # Each row says whether its month's cost is final (docs/reports.md#incomplete-months).
    header = [*keys, "month", "value", "change", "incomplete"]
    incomplete = set(report.incomplete)
    rows = (
        [*(getattr(series, key) for key in keys), month, value, change, month in incomplete]
        for series in report.series
        for month, value, change in zip(report.months, series.values, series.changes, strict=True)
    )
    return csv_response(header, rows, f"{filename}.csv")


# --- targets ---------------------------------------------------------------------------------


PeriodPath = Annotated[
    str,
    Path(
        description="A calendar month, YYYY-MM",
        examples=["2026-10"],
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
    ),
]


def _period(period: str) -> Period:
    try:
        return Period.parse(period)
    except ValueError as exc:
        raise Invalid(
            "period is not a valid period.",
            errors=[field_error("path.period", str(exc), "period")],
        ) from None


@router.put(
    "/targets/{period}",
    response_model=TargetRead,
    tags=["reports"],
    summary="Set the month's revenue and profit target",
    description="Creates or replaces the goal of the month (YYYY-MM); the trends report "
    "measures the revenue and profit metrics against it.",
    responses=problem_responses(401, 403, 422),
)
async def put_target(
    period: PeriodPath, body: TargetPut, session: SessionDep, _: WriteKey
) -> TargetRead:
    return await targets.put_target(session, period=_period(period), data=body)


@router.get(
    "/targets/{period}",
    response_model=TargetRead,
    tags=["reports"],
    summary="Get the month's target",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_target(period: PeriodPath, session: SessionDep, _: ReadKey) -> TargetRead:
    """The revenue and profit goal set for the month; 404 when none is set."""
    return await targets.get_target(session, period=_period(period))


@router.get(
    "/targets",
    response_model=Page[TargetRead],
    tags=["reports"],
    summary="List targets in period order",
    responses=problem_responses(401, 403, 422),
)
async def list_targets(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    from_: Annotated[
        str | None, Query(alias="from", description="First period, YYYY-MM", examples=["2026-01"])
    ] = None,
    to: Annotated[
        str | None, Query(description="Last period, YYYY-MM", examples=["2026-12"])
    ] = None,
) -> Page[TargetRead]:
    """Every month's revenue and profit goal, in period order, one page at a time."""
    first, last = params.target_range(from_, to)
    return await targets.list_targets(session, page=page, first=first, last=last)
