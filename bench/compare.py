"""Two versions of the service side by side, requests alternated between them, so that
whatever else loads the machine falls on both alike (BENCHMARKS.md, "Real vendor bills at
L, after the fixes").

Each version is a source tree (a `git worktree` of some commit) serving its own seeded
database with one uvicorn process; each measure is requested `--runs` times from each,
old then new then new then old, and the medians of the wall time and of the server
process's CPU time (`/proc`, utime + stime) are printed with their ratios. On PostgreSQL
the server's CPU leaves out the database's own.

    git worktree add /tmp/old f54fcd8
    (cd /tmp/old && MSP_BENCH_DIR=/tmp/msp_bench_old python -m bench.seed --size L)
    python -m bench.compare --old-tree /tmp/old \\
        --old-url sqlite+aiosqlite:////tmp/msp_bench_old/bench-L.sqlite3 \\
        --new-tree . --new-url sqlite+aiosqlite:////tmp/msp_bench/bench-L.sqlite3
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_KEY = "msp_bench_admin_key_0123456789abcdef"
REQUESTS: dict[str, tuple[str, str, Any]] = {
    "audit of 2025-11": ("POST", "/api/v1/audits", {"period": "2025-11"}),
    "profitability by customer": (
        "GET",
        "/api/v1/reports/profitability?from=2025-01&to=2025-12&group_by=customer",
        None,
    ),
    "profitability by customer,month": (
        "GET",
        "/api/v1/reports/profitability?from=2025-01&to=2025-12&group_by=customer,month",
        None,
    ),
    "trends revenue by customer": (
        "GET",
        "/api/v1/reports/trends?metric=revenue&from=2025-01&to=2025-12&group_by=customer",
        None,
    ),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve(tree: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = dict(os.environ, MSP_DATABASE_URL=url, MSP_ADMIN_API_KEY=ADMIN_KEY)
    env["MSP_LOG_LEVEL"] = "WARNING"
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"{tree} did not start on {url}")


def compare(old: tuple[Path, str], new: tuple[Path, str], runs: int) -> None:
    servers = {"old": _serve(*old), "new": _serve(*new)}
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600) as c:
            for name, (method, path, body) in REQUESTS.items():
                timings: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
                for which in ("old", "new"):  # warm caches and pools
                    c.request(method, servers[which][1] + path, json=body).raise_for_status()
                for run in range(runs):
                    for which in ("old", "new") if run % 2 == 0 else ("new", "old"):
                        process, base = servers[which]
                        cpu, started = _cpu_seconds(process.pid), time.perf_counter()
                        c.request(method, base + path, json=body).raise_for_status()
                        wall = time.perf_counter() - started
                        timings[which].append((wall, _cpu_seconds(process.pid) - cpu))
                walls = {k: statistics.median(w for w, _ in v) for k, v in timings.items()}
                cpus = {k: statistics.median(u for _, u in v) for k, v in timings.items()}
                print(
                    f"| {name} | {walls['old']:.3f} ({cpus['old']:.2f}) "
                    f"| {walls['new']:.3f} ({cpus['new']:.2f}) "
                    f"| {walls['new'] / walls['old']:.2f}x "
                    f"| {cpus['new'] / max(cpus['old'], 0.01):.2f}x |",
                    flush=True,
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old-tree", type=Path, required=True)
    parser.add_argument("--old-url", required=True)
    parser.add_argument("--new-tree", type=Path, default=Path("."))
    parser.add_argument("--new-url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| measure | old: wall (server CPU) | new | ratio (wall) | ratio (server CPU) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    compare((args.old_tree, args.old_url), (args.new_tree, args.new_url), args.runs)


if __name__ == "__main__":
    main()
