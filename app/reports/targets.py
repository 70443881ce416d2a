"""Monthly revenue and profit targets: set (an upsert, per database), read, list
(docs/reports.md#targets)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.pagination import Cursor, Page, PageParams, paginate
from app.core.periods import Period
from app.reports.models import Target, TargetPut, TargetRead

# Targets are listed in period order: a page ends at its last period.
TARGET_CURSOR = Cursor("t1", Period)


async def put_target(session: AsyncSession, *, period: Period, data: TargetPut) -> TargetRead:
    """Set the month's goal, creating or replacing it (an upsert, safe under races)."""
    now = utcnow()
    values = {"period": str(period), "revenue": data.revenue, "profit": data.profit}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Target).values(**values, created_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[col(Target.period)],
        set_={"revenue": data.revenue, "profit": data.profit, "updated_at": now},
    )
    await session.execute(stmt)
    await session.flush()
    return TargetRead.model_validate(await _target_row(session, period))


async def get_target(session: AsyncSession, *, period: Period) -> TargetRead:
    return TargetRead.model_validate(await _target_row(session, period))


async def _target_row(session: AsyncSession, period: Period) -> Target:
    """The month's target row as stored now (an upsert bypasses the identity map, so
    the row is read afresh): a 404 when none is set."""
    target = await session.scalar(
        select(Target)
        .where(col(Target.period) == str(period))
        .execution_options(populate_existing=True)
    )
    if target is None:
        raise NotFound(f"no target is set for {period}")
    return target


async def list_targets(
    session: AsyncSession, *, page: PageParams, first: Period | None, last: Period | None
) -> Page[TargetRead]:
    """Targets in period order, optionally within [first, last]; the period is unique,
    so a page never shifts under inserts."""
    stmt = select(Target)
    if first is not None:
        stmt = stmt.where(col(Target.period) >= str(first))
    if last is not None:
        stmt = stmt.where(col(Target.period) <= str(last))
    return await paginate(
        session,
        stmt,
        col(Target.period),
        page,
        TargetRead.model_validate,
        cursor=TARGET_CURSOR,
        key=lambda row: Period.stored(row.period),
        bound=str,
    )


async def targets_between(session: AsyncSession, first: Period, last: Period) -> dict[str, Target]:
    """The target rows set for the months first..last, by period (for the reports)."""
    rows = await session.scalars(
        select(Target).where(col(Target.period) >= str(first), col(Target.period) <= str(last))
    )
    return {row.period: row for row in rows.all()}
