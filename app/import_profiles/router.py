"""HTTP for import profiles: parse, call the service, shape. A profile is addressed by its
id or its name; built-in ones by name only, and they are read-only (409)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response
from pydantic import AfterValidator

from app.auth.dependencies import ReadKey, WriteKey
from app.core.db import SessionDep
from app.core.errors import problem_responses
from app.core.pagination import Page, PageDep
from app.core.routing import api_router
from app.import_profiles import service
from app.import_profiles.models import (
    ImportProfileCreate,
    ImportProfileRead,
    ImportProfileUpdate,
    check_ref,
)

router = api_router(prefix="/import-profiles", tags=["import-profiles"])

AUTH = problem_responses(401, 403)
ProfileRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The profile's id, or its name (built-in profiles have only a name)",
        examples=["microsoft-partner-center"],
    ),
    AfterValidator(check_ref),
]


@router.post(
    "",
    status_code=201,
    response_model=ImportProfileRead,
    summary="Create an import profile",
    description="Names are unique (a 409), built-in names included. `columns` must map "
    "quantity and unit_cost; see docs/vendor-bills.md#import-profiles.",
    responses={**AUTH, **problem_responses(409, 422)},
)
async def create_import_profile(
    body: ImportProfileCreate, session: SessionDep, _: WriteKey
) -> ImportProfileRead:
    return await service.create_profile(session, data=body)


@router.get(
    "",
    response_model=Page[ImportProfileRead],
    summary="List import profiles: the built-in ones first, then yours by id",
    responses={**AUTH, **problem_responses(422)},
)
async def list_import_profiles(
    session: SessionDep, _: ReadKey, page: PageDep
) -> Page[ImportProfileRead]:
    return await service.list_profiles(session, page=page)


@router.get(
    "/{profile}",
    response_model=ImportProfileRead,
    summary="Get an import profile by id or name",
    responses={**AUTH, **problem_responses(404)},
)
async def get_import_profile(
    profile: ProfileRef, session: SessionDep, _: ReadKey
) -> ImportProfileRead:
    return await service.get_profile(session, ref=profile)


@router.patch(
    "/{profile}",
    response_model=ImportProfileRead,
    summary="Change an import profile (a built-in one: 409)",
    description="Each field given replaces the stored one whole; the profile must still "
    "hold together (columns map quantity and unit_cost; cycle_months needs cycle).",
    responses={**AUTH, **problem_responses(404, 409, 422)},
)
async def update_import_profile(
    profile: ProfileRef, body: ImportProfileUpdate, session: SessionDep, _: WriteKey
) -> ImportProfileRead:
    return await service.update_profile(session, ref=profile, data=body)


@router.delete(
    "/{profile}",
    status_code=204,
    response_class=Response,
    summary="Delete an import profile (a built-in one: 409)",
    responses={**AUTH, **problem_responses(404, 409)},
)
async def delete_import_profile(profile: ProfileRef, session: SessionDep, _: WriteKey) -> None:
    await service.delete_profile(session, ref=profile)
