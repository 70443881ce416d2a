"""Profile one benchmark request in-process with pyinstrument (the `bench` extra), on a
database already seeded by `python -m bench.seed`.

    python -m bench.profile --backend postgresql --size L audit
    python -m bench.profile --backend sqlite --size L profitability --html /tmp/p.html
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx

from app.core.config import Settings
from app.main import create_app, tune_gc
from bench.seed import database_url

ADMIN_KEY = "msp_bench_admin_key_0123456789abcdef"


def requests_for(target: str, period: str, first: str, last: str) -> tuple[str, str, Any]:
    if target == "audit":
        return "POST", "/api/v1/audits", {"period": period}
    if target == "billing":
        return "POST", "/api/v1/billing-runs", {"period": last}
    if target == "profitability":
        return (
            "GET",
            f"/api/v1/reports/profitability?from={first}&to={last}&group_by=customer",
            None,
        )
    if target == "profitability-month":
        return (
            "GET",
            f"/api/v1/reports/profitability?from={first}&to={last}&group_by=customer,month",
            None,
        )
    if target == "trends":
        return (
            "GET",
            f"/api/v1/reports/trends?metric=revenue&from={first}&to={last}&group_by=customer",
            None,
        )
    raise SystemExit(f"unknown target {target}")


async def profile(args: argparse.Namespace) -> None:
    from pyinstrument import Profiler

    settings = Settings(
        database_url=database_url(args.backend, args.size),
        admin_api_key=ADMIN_KEY,
        log_level="WARNING",
        log_json=False,
    )
    app = create_app(settings)
    tune_gc()  # as `serve()` does in production
    method, path, body = requests_for(args.target, args.period, args.first, args.last)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=600,
        ) as client:
            await client.request(method, path, json=body)  # warm up caches and the pool
            profiler = Profiler(async_mode="enabled", interval=0.0005)
            started = time.perf_counter()
            profiler.start()
            answer = await client.request(method, path, json=body)
            profiler.stop()
            elapsed = time.perf_counter() - started
    print(f"{method} {path}: {answer.status_code} in {elapsed:.3f} s")
    if args.html:
        with open(args.html, "w") as handle:
            handle.write(profiler.output_html())
        print(f"wrote {args.html}")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "target", choices=["audit", "billing", "profitability", "profitability-month", "trends"]
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--size", default="L")
    parser.add_argument("--period", default="2025-11")
    parser.add_argument("--first", default="2025-01")
    parser.add_argument("--last", default="2025-12")
    parser.add_argument("--html", default=None)
    asyncio.run(profile(parser.parse_args()))


if __name__ == "__main__":
    main()
