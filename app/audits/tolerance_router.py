"""HTTP for tolerances (docs/tolerances.md)."""

from __future__ import annotations

from fastapi import Response

from app.audits import tolerance_service as service
from app.audits.models import FindingType, ToleranceCreate, ToleranceRead
from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.core.types import IdPath, IdQuery

router = api_router(prefix="/tolerances", tags=["tolerances"])

AUTH = problem_responses(401, 403)


@router.post(
    "",
    status_code=201,
    response_model=ToleranceRead,
    operation_id="create_tolerance",
    summary="Add a tolerance: findings within it are held back from audits",
    description="Scope: `type`, `customer_id`, `service_id` (each absent: any). Limits: "
    "`max_units` and `max_percent` for UNBILLED_UNITS, OVERBILLED_UNITS and UNBILLED_ASSETS, "
    "`max_impact` for any type. For each finding the most specific matching rule alone "
    "decides; one without a limit that applies holds back nothing, which exempts its scope "
    "from broader rules (docs/tolerances.md). Applies to audits run afterwards. A second "
    "rule with the same scope is a 409; an unknown customer or service a 422.",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_tolerance(
    body: ToleranceCreate, session: SessionDep, principal: WriteKey
) -> ToleranceRead:
    return await service.create_tolerance(session, data=body, actor=principal.name)


@router.get(
    "",
    response_model=Page[ToleranceRead],
    operation_id="list_tolerances",
    summary="List tolerances",
    responses={**AUTH, **problem_responses(422)},
)
async def list_tolerances(
    session: SessionDep,
    _: ReadKey,
    page: PageDep,
    type: FindingType | None = None,
    customer_id: IdQuery = None,
    service_id: IdQuery = None,
) -> Page[ToleranceRead]:
    """The rules in id order, one page at a time; `type`, `customer_id` and `service_id`
    keep the rules naming that type, customer or service (docs/tolerances.md)."""
    return await service.list_tolerances(
        session, page=page, type=type, customer_id=customer_id, service_id=service_id
    )


@router.get(
    "/{tolerance_id}",
    response_model=ToleranceRead,
    operation_id="get_tolerance",
    summary="Get a tolerance",
    responses={**AUTH, **problem_responses(404)},
)
async def get_tolerance(tolerance_id: IdPath, session: SessionDep, _: ReadKey) -> ToleranceRead:
    """One rule: its scope and limits, who added it and when (docs/tolerances.md)."""
    return await service.get_tolerance(session, tolerance_id=tolerance_id)


@router.delete(
    "/{tolerance_id}",
    status_code=204,
    response_class=Response,
    operation_id="delete_tolerance",
    summary="Remove a tolerance",
    description="Audits run afterwards no longer apply it; audits already run keep what it "
    "held back, listed under GET /audits/{id}/suppressed with its id.",
    responses={**AUTH, **problem_responses(404)},
)
async def delete_tolerance(tolerance_id: IdPath, session: SessionDep, _: WriteKey) -> None:
    await service.delete_tolerance(session, tolerance_id=tolerance_id)
