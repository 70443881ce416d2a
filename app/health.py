"""Liveness and readiness probes (no key needed, docs/README.md#authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from app.core.errors import ServiceUnavailable, problem_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str | None = None


@router.get(
    "/healthz",
    summary="The process is up",
    response_model=Health,
    response_model_exclude_none=True,
)
async def healthz() -> Health:
    """Liveness: 200 while the process answers; touches nothing else. No API key."""
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable",
    response_model=Health,
    responses=problem_responses(503),
)
async def readyz(request: Request) -> Health:
    """Readiness: 200 when the database answers a query, else 503 with Retry-After
    (docs/consistency.md#unavailable). No API key."""
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        raise ServiceUnavailable("The database is not reachable.") from None
    return Health(status="ok", database="ok")
