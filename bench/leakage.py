"""The leakage report over a year of findings at bench size (docs/reports.md#leakage):
seed the generated data, audit each of its 12 months, act on the findings as people
would (acknowledge, dismiss, resolve by hand, fix), then time `GET /reports/leakage` over
the year against its target (BENCHMARKS.md).

    python -m bench.leakage --size L --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import httpx

from bench.run import ADMIN_KEY, Server, machine
from bench.seed import BENCH_DIR, database_url, reachable_backends, seed

TARGET = 1.0  # seconds, the leakage report over 12 months of L data
# Of each month's findings: acknowledged, dismissed, resolved by hand; and fixes per month.
SHARES = {"acknowledged": 0.10, "dismissed": 0.05, "resolved": 0.05}
FIXES_PER_MONTH = 20
FIXABLE = {"UNBILLED_UNITS": "match_contract", "MISSING_BILLING": "bill"}


async def act(client: httpx.AsyncClient, audit_id: int, rng: random.Random) -> dict[str, int]:
    """Status changes and fixes on one audit's findings, through the API."""
    findings: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/api/v1/audits/{audit_id}/findings", params=params)).json()
        findings += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    rng.shuffle(findings)
    done = {"fixed": 0, **dict.fromkeys(SHARES, 0)}
    fixes = [f for f in findings if f["type"] in FIXABLE][:FIXES_PER_MONTH]
    for finding in fixes:
        answer = await client.post(
            f"/api/v1/findings/{finding['id']}/fix", json={"action": FIXABLE[finding["type"]]}
        )
        done["fixed"] += answer.status_code == 200
    rest = [f for f in findings if f not in fixes]
    start = 0
    for status, share in SHARES.items():
        count = int(len(rest) * share)
        for finding in rest[start : start + count]:
            answer = await client.patch(
                f"/api/v1/findings/{finding['id']}", json={"status": status}
            )
            assert answer.status_code == 200, answer.text
            done[status] += 1
        start += count
    return done


async def bench(backend: str, size: str, runs: int) -> dict[str, Any]:
    data, _report = await seed(backend, size)
    first, last = str(data.months[0]), str(data.months[-1])
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    server = Server(database_url(backend, size), BENCH_DIR / f"leakage-{backend}-{size}.log")
    rng = random.Random(42)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(
            base_url=server.base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600
        ) as client:
            acted = {"findings": 0, "fixed": 0, **dict.fromkeys(SHARES, 0)}
            for period in data.months:
                made = await client.post("/api/v1/audits", json={"period": str(period)})
                assert made.status_code == 201, made.text
                audit = made.json()
                acted["findings"] += audit["summary"]["count"]
                for name, count in (await act(client, audit["id"], rng)).items():
                    acted[name] += count
                print(f"  {backend}: audited {period}: {audit['summary']['count']} findings")
            url = f"/api/v1/reports/leakage?from={first}&to={last}"
            seconds = []
            for run in range(runs):
                started = time.perf_counter()
                answer = await client.get(url)
                seconds.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                print(f"  leakage {first}..{last} run {run + 1}: {seconds[-1]:.3f} s")
            rows = len(answer.json()["rows"])
    finally:
        server.stop()
    return {"backend": backend, "seconds": seconds, "rows": rows, **acted}


async def main_async(args: argparse.Namespace) -> None:
    backends = await reachable_backends(args.backend, "the leakage bench runs on")
    results = [await bench(b, args.size, args.runs) for b in backends]
    print(f"\n## Leakage report, size {args.size} ({machine()})\n")
    print("| backend | median | min | max | runs | rows | findings | acted on | target |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        acted = sum(r[name] for name in ("fixed", *SHARES))
        median = statistics.median(r["seconds"])
        print(
            f"| {r['backend']} | {median:.3f} s | {min(r['seconds']):.3f} s | "
            f"{max(r['seconds']):.3f} s | {len(r['seconds'])} | {r['rows']} | "
            f"{r['findings']:,} | {acted:,} ({r['fixed']} fixes) | < {TARGET:.0f} s: "
            f"{'met' if median < TARGET else 'MISSED'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="L")
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
