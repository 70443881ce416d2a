"""HTTP for alerts: what needs doing by a date."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

from app.alerts import service
from app.alerts.models import Cancellations
from app.auth.dependencies import ReadKey
from app.core.db import SnapshotSessionDep, utcnow
from app.core.errors import problem_responses
from app.core.routing import api_router
from app.core.types import Day

router = api_router()

# The longest look ahead: a term runs at most 1,830 days; twice that is plenty.
MAX_WITHIN_DAYS = 3660


@router.get(
    "/alerts/cancellations",
    response_model=Cancellations,
    tags=["alerts"],
    summary="Orphaned subscriptions and the day by which to cancel each",
    description="docs/cancellations.md: the subscriptions charged under open or acknowledged "
    "ORPHANED_COST findings whose `act_by` (the last day of the vendor's cancel window while "
    "`as_of` is in it, else the end of the current term, by which auto-renewal must be off) "
    "is on or before `as_of` + `within_days`, with their monthly cost and the cost the rest of "
    "the term commits; earliest `act_by` first.",
    responses=problem_responses(401, 403, 422),
)
async def list_cancellations(
    _: ReadKey,  # before the session: no connection is taken for a refused caller
    session: SnapshotSessionDep,
    as_of: Annotated[
        Day | None,
        Query(description="The day to judge from, YYYY-MM-DD; default today (UTC)"),
    ] = None,
    within_days: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_WITHIN_DAYS,
            description="List what must be done by as_of + within_days (default 30)",
        ),
    ] = 30,
) -> Cancellations:
    """Every orphaned subscription whose deadline falls within the window asked, with the
    finding it is charged under, its act_by, monthly cost and committed cost."""
    day: date = as_of if as_of is not None else utcnow().date()
    return await service.cancellations(session, as_of=day, within_days=within_days)
