"""Names next to ids in the reports' rows (docs/reports.md#names): one query per kind of
name, read in the session the report's figures were read in (its snapshot), so a name and
its figures describe the same state."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.contracts.models import Contract
from app.core.bulk import chunks
from app.customers.models import Customer
from app.services.models import Service
from app.vendors.models import Vendor

# The named kinds of a report key, and the field each name goes in beside its `<kind>_id`.
MODELS: dict[str, Any] = {
    "customer": Customer,
    "contract": Contract,
    "service": Service,
    "vendor": Vendor,
}
NAME_FIELDS = {kind: f"{kind}_name" for kind in MODELS}

# Ids bound in one SQLite statement: under its limit on a statement's parameters (32,766),
# and above the customers of a large MSP, so one query a kind.
_IDS_PER_QUERY = 30_000


async def names_of(session: AsyncSession, kind: str, ids: Iterable[int | None]) -> dict[int, str]:
    """The names of the `kind` records with these ids (nulls skipped): a record deleted
    since has none."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    model = MODELS[kind]
    names: dict[int, str] = {}
    statement = select(col(model.id), col(model.name))
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter: asyncpg binds thousands of separate parameters (an IN
        # list) at several times the cost (BENCHMARKS.md#names-in-reports).
        ids_param = bindparam("ids", wanted, type_=ARRAY(Integer))
        rows: Any = await session.execute(statement.where(col(model.id) == func.any(ids_param)))
        return dict(rows.all())
    for part in chunks(wanted, _IDS_PER_QUERY):
        rows = await session.execute(statement.where(col(model.id).in_(part)))
        names.update(rows.all())
    return names
