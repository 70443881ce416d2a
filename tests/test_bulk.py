"""app/core/bulk.py: COPY on PostgreSQL, executemany on SQLite, both inside the session's
transaction and storing exactly what an INSERT would."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from app.audits.models import Audit, Finding
from app.core.bulk import bulk_insert
from app.core.db import create_sessionmaker
from app.vendor_invoices.models import VendorInvoiceLine
from tests.helpers import vendor


def _line(invoice_id: int, vendor_id: int, number: int, **extra: Any) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "vendor_id": vendor_id,
        "period": "2026-03",
        "line_no": number,
        "vendor_sku": "SKU",
        "account_ref": "ACC",
        "description": None,
        "quantity": Decimal("1"),
        "unit_cost": Decimal("0.0001"),
        "amount": Decimal("0.00"),
        "kind": "recurring",
        "charge_start": date(2026, 3, 1),
        "charge_end": date(2026, 3, 31),
        "subscription_ref": None,
        **extra,
    }


async def _invoice(client: httpx.AsyncClient) -> tuple[int, int]:
    v = await vendor(client)
    body = {
        "vendor_id": v["id"],
        "invoice_number": "INV-1",
        "invoice_date": "2026-03-31",
        "period": "2026-03",
        "total": "10.00",
        "lines": [
            {"vendor_sku": "SKU", "account_ref": "ACC", "quantity": "1", "unit_cost": "10.00"}
        ],
    }
    created = await client.post("/api/v1/vendor-invoices", json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"], v["id"]


async def _line_count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            await connection.scalar(select(func.count()).select_from(VendorInvoiceLine)) or 0
        )


async def test_rows_are_part_of_the_transaction(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    invoice_id, vendor_id = await _invoice(client)
    table: Any = VendorInvoiceLine.__table__  # type: ignore[attr-defined]
    maker = create_sessionmaker(engine)
    async with maker() as session:
        # The first statement of the session: still inside its transaction.
        await bulk_insert(session, table, [_line(invoice_id, vendor_id, n) for n in range(2, 52)])
        await session.rollback()
    assert await _line_count(engine) == 1  # the invoice's own line only
    async with maker() as session:
        await bulk_insert(session, table, [])
        await bulk_insert(session, table, [_line(invoice_id, vendor_id, n) for n in range(2, 52)])
        await session.commit()
    assert await _line_count(engine) == 51


async def test_values_are_stored_exactly(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    invoice_id, vendor_id = await _invoice(client)
    awkward = _line(
        invoice_id,
        vendor_id,
        2,
        quantity=Decimal("-999999999.9999"),
        unit_cost=Decimal("0.0001"),
        amount=Decimal("-100000.00"),
        description="Überall – tab\tand 'quote'",
    )
    maker = create_sessionmaker(engine)
    async with maker() as session:
        await bulk_insert(session, VendorInvoiceLine.__table__, [awkward])  # type: ignore[attr-defined]
        audit = Audit(
            period="2026-03",
            created_by="test",
            finding_count=1,
            total_impact=Decimal("0.01"),
            by_type="{}",
        )
        session.add(audit)
        await session.flush()
        naive_utc = datetime(2026, 3, 31, 23, 59, 59)  # stored as UTC, as an INSERT would
        finding = {
            "audit_id": audit.id,
            "type": "ORPHANED_COST",
            "severity": "high",
            "status": "open",
            "fingerprint": "f" * 64,
            "impact": Decimal("0.01"),
            "expected_unit_amount": Decimal("0.0875"),
            "message": "m",
            "created_at": naive_utc,
        }
        await bulk_insert(session, Finding.__table__, [finding])  # type: ignore[attr-defined]
        await session.commit()
    async with maker() as session:
        second = select(VendorInvoiceLine).where(col(VendorInvoiceLine.line_no) == 2)
        line = (await session.scalars(second)).one()
        assert (line.quantity, line.unit_cost, line.amount) == (
            Decimal("-999999999.9999"),
            Decimal("0.0001"),
            Decimal("-100000.00"),
        )
        assert line.description == "Überall – tab\tand 'quote'"
        stored = (await session.scalars(select(Finding))).one()
        assert stored.expected_unit_amount == Decimal("0.0875")
        assert stored.created_at == naive_utc.replace(tzinfo=UTC)


async def test_errors_are_sqlalchemys(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    """A constraint broken by the rows (say, by a concurrent delete) is SQLAlchemy's
    IntegrityError whichever path the rows took, and a value PostgreSQL refuses its
    DataError: the app answers them 409 and 422 (app/core/errors.py), not 500."""
    invoice_id, vendor_id = await _invoice(client)
    table: Any = VendorInvoiceLine.__table__  # type: ignore[attr-defined]
    maker = create_sessionmaker(engine)
    async with maker() as session:
        with pytest.raises(IntegrityError):
            await bulk_insert(session, table, [_line(invoice_id + 1000, vendor_id, 2)])
        await session.rollback()
    if engine.dialect.name == "postgresql":  # SQLite stores text of any length
        async with maker() as session:
            with pytest.raises(DataError):
                too_long = _line(invoice_id, vendor_id, 2, period="2026-03-31")  # VARCHAR(7)
                await bulk_insert(session, table, [too_long])
            await session.rollback()
    assert await _line_count(engine) == 1


async def test_rows_must_carry_python_defaults(engine: AsyncEngine) -> None:
    """COPY applies no Python-side defaults, so neither path accepts rows without them."""
    table: Any = Finding.__table__  # type: ignore[attr-defined]
    maker = create_sessionmaker(engine)
    async with maker() as session:
        with pytest.raises(ValueError, match="created_at"):
            await bulk_insert(session, table, [{"audit_id": 1, "type": "ORPHANED_COST"}])
