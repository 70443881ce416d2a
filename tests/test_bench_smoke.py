"""The benchmark's data still fits the schema: size S is generated, bulk-loaded after
`alembic upgrade head` and audited through the app, on both backends, and the audit
agrees with the benchmark's SQL floor. (The benchmark
itself is not part of the test run; this keeps it from rotting as the schema moves.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core.db import create_engine
from app.core.periods import Period
from app.main import create_app
from bench.floor import run_audit_floor
from bench.generate import SIZES, generate
from bench.seed import bulk_load
from tests.conftest import database_url_for, make_client, run_alembic


async def test_size_s_loads_and_audits(backend: str, tmp_path: Path, settings: Any) -> None:
    data = generate(SIZES["S"], 42)
    url = await database_url_for(backend, tmp_path, "bench_smoke")
    await run_alembic(url, "upgrade", "head")
    engine = create_engine(url)
    try:
        rows = await bulk_load(engine, data)
    finally:
        await engine.dispose()
    assert rows == sum(len(table) for table in data.tables.values()) > 1000

    app = create_app(settings.model_copy(update={"database_url": url}))
    async with app.router.lifespan_context(app):
        async with make_client(app) as http:
            # Every month of the data: a month's figures read the lines of invoices of any
            # period (docs/vendor-bills.md#month-figures), so earlier months take in later
            # invoices' credits, arrears and copies.
            periods = sorted({row["period"] for row in data.tables["vendor_invoice"]})
            for period in periods:
                audit = await http.post("/api/v1/audits", json={"period": period})
                assert audit.status_code == 201, audit.text
                summary = audit.json()["summary"]
                assert summary["count"] > 0
                # The benchmark's floor, the same audit in hand-written SQL, finds the
                # same: count and impact of every finding type (an independent check of
                # the rules).
                _seconds, _each, by_type = await run_audit_floor(
                    app.state.engine, Period.parse(period)
                )
                floor = {k: (n, f"{impact:.2f}") for k, (n, impact) in by_type.items()}
                service = {k: (v["count"], v["impact"]) for k, v in summary["by_type"].items()}
                assert floor == service, period
                again = await http.get(f"/api/v1/audits/{audit.json()['id']}")
                assert again.json()["summary"] == summary  # the floor rolled its writes back
            listed = await http.get("/api/v1/vendor-invoices", params={"limit": 5})
            assert listed.status_code == 200 and listed.json()["items"]
