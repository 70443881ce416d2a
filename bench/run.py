"""The benchmark (issue 6): seed, serve, time, load, compare with the SQL floor.

    python -m bench.run --size M --backend both          # what `make bench` runs

For each backend: a fresh database seeded in bulk (bench.seed), uvicorn with 2 workers
started as a subprocess on 127.0.0.1, then, as medians of --runs runs through HTTP:
a 10,000-line invoice through the signed webhook, one month's audit, 12-month
profitability by customer and by customer and month, trends, a billing run; then list
endpoints under a fixed-rate load from a second process (bench.loadgen), the server's
peak memory, and the audit's SQL floor (bench.floor) with our time as a ratio to it.
PostgreSQL is used when it answers at MSP_BENCH_POSTGRES_URL (database msp_bench,
created when missing); when it does not, SQLite alone is benched, and said so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.core.db import create_engine
from app.core.signature import sign
from bench.floor import run_audit_floor, run_floor
from bench.generate import SIZES, Dataset, generate, ingest_payload
from bench.seed import BENCH_DIR, ROOT, LoadReport, database_url, reachable_backends, seed

ADMIN_KEY = "msp_bench_admin_" + "0123456789abcdef0123456789"
INGEST_LINES = 10_000
READY_TIMEOUT = 90.0

# Targets from issues 3, 4, 5 and 6.
AUDIT_TARGET = {"postgresql": 2.0, "sqlite": 5.0}
FLOOR_RATIO_TARGET = 1.5
PROFITABILITY_TARGET = 2.0
INGEST_TARGET = 1.0
P99_TARGET_MS = 50.0
RSS_TARGET_MB = 500.0


@dataclass
class Timing:
    name: str
    seconds: list[float]
    target: float | None = None
    note: str = ""
    # CPU seconds the server's processes spent on each run (user + system): steady where
    # wall time is not, on a machine shared with other work.
    cpu: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return bool(self.seconds) and not self.note and self.median < self.target


@dataclass
class BackendResult:
    backend: str
    size: str
    load: dict[str, Any] | None = None
    timings: list[Timing] = field(default_factory=list)
    paired_audit: Timing | None = None  # the audit again, in turn with the floor
    floor: Timing | None = None  # the same audit in hand-written SQL (bench.floor)
    floor_queries: dict[str, float] = field(default_factory=dict)
    inputs_floor: Timing | None = None  # the audit's input queries only: a lower bound
    # {type: [count, impact]} of the last audit through HTTP and of the SQL floor
    audit_by_type: dict[str, list[Any]] = field(default_factory=dict)
    floor_by_type: dict[str, list[Any]] = field(default_factory=dict)
    load_test: dict[str, Any] | None = None
    rss_mb: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """Each process of the machine as (pid, command name, the stat fields after it),
    from /proc/<pid>/stat ("pid (comm) state ppid ...": comm may hold spaces and
    parentheses, so it ends at the last ')')."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(")")
        yield int(entry.name), name, rest.split()


def _cpu_seconds(fields: list[str]) -> int:
    """utime + stime in clock ticks (stat fields 14 and 15)."""
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    return [child for child, _name, fields in _processes() if int(fields[1]) == pid]


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def server_cpu(master: int) -> float:
    """User + system CPU seconds of uvicorn's master and workers so far."""
    family = {master, *_children(master)}
    ticks = sum(_cpu_seconds(fields) for pid, _name, fields in _processes() if pid in family)
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float | None:
    """User + system CPU seconds of the local PostgreSQL's processes so far (all of them:
    the backends serving the benchmark and the background writers); None when none can be
    read (no local PostgreSQL)."""
    ticks = [_cpu_seconds(f) for _pid, name, f in _processes() if name.startswith("postgres")]
    return sum(ticks) / os.sysconf("SC_CLK_TCK") if ticks else None


def server_memory(master: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of uvicorn's master and each worker, in MB."""
    workers = [p for p in _children(master) if "resource_tracker" not in _cmdline(p)]
    peaks = {f"worker {n}": _status_kb(p, "VmHWM") / 1024 for n, p in enumerate(workers, 1)}
    peaks["master"] = _status_kb(master, "VmHWM") / 1024
    return peaks


class Server:
    """uvicorn with 2 workers on 127.0.0.1, started and stopped by this process only."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **os.environ,
            "MSP_DATABASE_URL": url,
            "MSP_ADMIN_API_KEY": ADMIN_KEY,
            "MSP_LOG_JSON": "true",
        }
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "app.main:serve",
                "--workers",
                "2",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",  # the app logs each request itself
            ],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"uvicorn exited; see {self.log_path}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        # Both workers: a few more answers, so each has started.
                        for _ in range(10):
                            await client.get("/readyz")
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
        raise RuntimeError(f"uvicorn not ready after {READY_TIMEOUT:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its workers
                self.process.wait(timeout=10)
        self.log.close()


async def timed(
    name: str,
    runs: int,
    call: Callable[[int], Awaitable[httpx.Response]],
    expect: int,
    target: float | None = None,
    server: int | None = None,
) -> Timing:
    """`runs` timed calls; a call answering anything but `expect` ends the measure with
    a note (the rest of the benchmark goes on). With the server's pid, also the CPU
    time its processes spent on each call."""
    timing = Timing(name, [], target)
    for index in range(runs):
        cpu_before = server_cpu(server) if server else 0.0
        started = time.perf_counter()
        answer = await call(index)
        elapsed = time.perf_counter() - started
        if server:
            timing.cpu.append(server_cpu(server) - cpu_before)
        if answer.status_code != expect:
            timing.note = f"HTTP {answer.status_code} (expected {expect}): {answer.text[:300]}"
            print(f"    {name}: {timing.note}", flush=True)
            return timing
        timing.seconds.append(elapsed)
        cpu = f" (server CPU {timing.cpu[-1]:.2f} s)" if server else ""
        print(f"    {name} run {index + 1}: {elapsed:.3f} s{cpu}", flush=True)
    return timing


async def bench_backend(
    backend: str,
    size: str,
    runs: int,
    rate: float,
    duration: float,
    reuse: bool,
    load_only: bool = False,
) -> BackendResult:
    result = BackendResult(backend=backend, size=size)
    result.notes.append(
        f"1-minute load average when this backend started: {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    url = database_url(backend, size)
    print(f"\n== {backend}, size {size} ==", flush=True)
    data: Dataset
    if reuse:
        data = generate(SIZES[size])
        result.notes.append("database reused from an earlier seed (--reuse)")
    else:
        data, report = await seed(backend, size)
        result.load = _load_summary(report)
        print(
            f"  seeded {report.rows:,} rows: generated {report.generate_seconds:.1f} s, "
            f"loaded {report.load_seconds:.1f} s",
            flush=True,
        )
    period, billing = str(data.audit_period), str(data.billing_period)
    first, last = str(data.months[0]), str(data.months[-1])

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    server = Server(url, BENCH_DIR / f"server-{backend}-{size}.log")
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(
            base_url=server.base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600
        ) as client:
            if not load_only:
                await _timings(
                    client,
                    result,
                    data,
                    runs,
                    backend,
                    period,
                    billing,
                    first,
                    last,
                    server.process.pid,
                )
            read_key = (
                await client.post("/api/v1/api-keys", json={"name": "bench", "scopes": ["read"]})
            ).json()["key"]
            audits = (await client.get("/api/v1/audits?limit=1")).json()["items"]
            paths = _load_paths(audits[0]["id"] if audits else None)
        print(f"  load: {rate:.0f} req/s for {duration:.0f} s over {len(paths)} paths", flush=True)
        cpu_before, load_before = server_cpu(server.process.pid), os.getloadavg()[0]
        db_before = postgres_cpu() if backend == "postgresql" else None
        result.load_test = _load_test(server.base, read_key, paths, rate, duration)
        cpu_used = server_cpu(server.process.pid) - cpu_before
        requests = max(1, result.load_test["requests"])
        result.load_test["server_cpu_s"] = round(cpu_used, 2)
        result.load_test["server_cpu_ms_per_request"] = round(1000 * cpu_used / requests, 2)
        db_after = postgres_cpu() if db_before is not None else None
        if db_before is not None and db_after is not None:
            result.load_test["postgres_cpu_s"] = round(db_after - db_before, 2)
            result.load_test["postgres_cpu_ms_per_request"] = round(
                1000 * (db_after - db_before) / requests, 2
            )
        result.load_test["loadavg_1m_before"] = round(load_before, 2)
        result.load_test["target_p99_ms"] = P99_TARGET_MS
        result.rss_mb = server_memory(server.process.pid)
        if not load_only:
            await _audit_against_floor(result, server.base, url, period, runs)
    finally:
        server.stop()
    return result


async def _audit_against_floor(
    result: BackendResult, base: str, url: str, period: str, runs: int
) -> None:
    """The audit and its SQL floor timed in turn (audit, floor, audit, floor, ...), so
    that both meet the database and the machine in the same state: the ratio compares
    like with like. The audit goes through HTTP as before; the floor runs here."""
    from app.core.periods import Period

    print(f"  audit and its SQL floor in turn, {runs} times", flush=True)
    engine = create_engine(url)
    audit_seconds, floor_seconds, inputs_seconds = [], [], []
    try:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=600
        ) as client:
            for _ in range(runs):
                began = time.perf_counter()
                answer = await client.post("/api/v1/audits", json={"period": period})
                audit_seconds.append(time.perf_counter() - began)
                if answer.status_code != 201:
                    result.notes.append(f"audit beside the floor answered {answer.status_code}")
                    return
                by_type = answer.json()["summary"]["by_type"]
                result.audit_by_type = {k: [v["count"], v["impact"]] for k, v in by_type.items()}
                total, each, found = await run_audit_floor(engine, Period.parse(period))
                floor_seconds.append(total)
                result.floor_queries = {k: round(v, 4) for k, v in each.items()}
                result.floor_by_type = {k: [n, f"{amount:.2f}"] for k, (n, amount) in found.items()}
                inputs_seconds.append((await run_floor(engine, Period.parse(period)))[0])
    finally:
        await engine.dispose()
    result.paired_audit = Timing(f"audit of {period}, timed in turn with the floor", audit_seconds)
    result.floor = Timing(f"audit SQL floor ({period}, the same audit in SQL)", floor_seconds)
    result.inputs_floor = Timing(f"audit input queries only ({period})", inputs_seconds)


async def _timings(
    client: httpx.AsyncClient,
    result: BackendResult,
    data: Dataset,
    runs: int,
    backend: str,
    period: str,
    billing: str,
    first: str,
    last: str,
    server_pid: int,
) -> None:
    # Ingest: a new invoice number and webhook-id each run, signed as the vendor does.
    vendor_id = 1
    secret = data.vendor_secrets[vendor_id]
    bodies = [
        json.dumps(
            ingest_payload(
                data, vendor_id=vendor_id, lines=INGEST_LINES, number=f"BENCH-{uuid.uuid4().hex}"
            )
        ).encode()
        for _ in range(runs)
    ]

    checked: list[int] = []

    async def ingest(index: int) -> httpx.Response:
        msg_id = f"msg_{uuid.uuid4().hex}"
        stamp = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secret, msg_id, stamp, bodies[index]),
            "content-type": "application/json",
        }
        answer = await client.post(
            f"/api/v1/webhooks/vendors/{vendor_id}/invoices", content=bodies[index], headers=headers
        )
        if answer.status_code == 200:  # answered with its checks (docs/checks.md)
            checked.append(len(answer.json().get("checks", [])))
        return answer

    async def measure(
        name: str,
        call: Callable[[int], Awaitable[httpx.Response]],
        expect: int,
        target: float | None = None,
    ) -> None:
        result.timings.append(await timed(name, runs, call, expect, target, server_pid))

    await measure(f"ingest {INGEST_LINES:,}-line invoice (webhook)", ingest, 200, INGEST_TARGET)
    if checked:
        result.notes.append(
            f"each {INGEST_LINES:,}-line ingest answered with its checks: "
            f"{', '.join(str(n) for n in checked)} checks"
        )

    await measure(
        f"audit of {period}",
        lambda _i: client.post("/api/v1/audits", json={"period": period}),
        201,
        AUDIT_TARGET[backend],
    )
    spec = (await client.get("/openapi.json")).json()
    if "/api/v1/reports/profitability" in spec.get("paths", {}):
        window = f"from={first}&to={last}"
        for label, query in (
            ("profitability by customer", "group_by=customer"),
            ("profitability by customer,month", "group_by=customer,month"),
        ):
            url = f"/api/v1/reports/profitability?{window}&{query}"

            def report(_index: int, url: str = url) -> Awaitable[httpx.Response]:
                return client.get(url)

            await measure(f"{label} ({first}..{last})", report, 200, PROFITABILITY_TARGET)
        if "/api/v1/reports/trends" in spec["paths"]:
            await measure(
                f"trends revenue by customer ({first}..{last})",
                lambda _i: client.get(
                    f"/api/v1/reports/trends?metric=revenue&{window}&group_by=customer"
                ),
                200,
            )
    else:
        result.notes.append("no /reports routes in this build: profitability and trends skipped")
    await measure(
        f"billing run {billing}",
        lambda _i: client.post("/api/v1/billing-runs", json={"period": billing}),
        201,
    )


def _load_paths(audit_id: int | None) -> list[str]:
    paths = [
        "/api/v1/customers?limit=50",
        "/api/v1/contracts?limit=50",
        "/api/v1/services",
        "/api/v1/assets?limit=50",
        "/api/v1/vendor-invoices?limit=50",
        "/api/v1/customer-invoices?limit=50",
        "/api/v1/webhook-events?limit=50",
        "/api/v1/customers/17",
    ]
    if audit_id is not None:
        paths.append(f"/api/v1/audits/{audit_id}/findings?limit=50")
    return paths


def _load_test(
    base: str, key: str, paths: list[str], rate: float, duration: float
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        base,
        "--key",
        key,
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        *paths,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 120, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _load_summary(report: LoadReport) -> dict[str, Any]:
    summary = asdict(report)
    summary["generate_seconds"] = round(report.generate_seconds, 2)
    summary["load_seconds"] = round(report.load_seconds, 2)
    return summary


# --- output ----------------------------------------------------------------------------------


def _mark(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def render(result: BackendResult) -> str:
    out = [f"### {result.backend}, size {result.size}", ""]
    if result.load:
        out.append(
            f"Seeded {result.load['rows']:,} rows in {result.load['load_seconds']:.1f} s "
            f"(generated in {result.load['generate_seconds']:.1f} s)."
        )
        out.append("")
    out += [
        "| measure | median | min | max | server CPU (median) | runs | target | |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    floors = [t for t in (result.paired_audit, result.floor, result.inputs_floor) if t is not None]
    for timing in result.timings + floors:
        target = f"< {timing.target:g} s" if timing.target is not None else ""
        cpu = f"{statistics.median(timing.cpu):.2f} s" if timing.cpu else ""
        if not timing.seconds:
            out.append(f"| {timing.name} | failed | | | | 0 | {target} | {timing.note} |")
            continue
        out.append(
            f"| {timing.name} | {timing.median:.3f} s | {min(timing.seconds):.3f} s | "
            f"{max(timing.seconds):.3f} s | {cpu} | {len(timing.seconds)} | {target} | "
            f"{_mark(timing.met)} |"
        )
    audit = result.paired_audit
    if audit and audit.seconds and result.floor and result.floor.seconds:
        ratio = audit.median / result.floor.median
        out.append(
            f"| audit / SQL floor | {ratio:.2f}x | | | | | < {FLOOR_RATIO_TARGET}x | "
            f"{_mark(ratio < FLOOR_RATIO_TARGET)} |"
        )
        if result.inputs_floor and result.inputs_floor.seconds:
            lower = audit.median / result.inputs_floor.median
            out.append(f"| audit / input queries only | {lower:.2f}x | | | | | | |")
    if result.floor_by_type:
        if result.floor_by_type == result.audit_by_type:
            count = sum(n for n, _ in result.floor_by_type.values())
            out += [
                "",
                f"The SQL floor finds what the service finds: {count:,} findings, the same "
                "count and impact for every type.",
            ]
        else:
            out += [
                "",
                "**The SQL floor and the service disagree** (type: service / floor): "
                + "; ".join(
                    f"{kind}: {result.audit_by_type.get(kind)} / {result.floor_by_type.get(kind)}"
                    for kind in sorted(set(result.audit_by_type) | set(result.floor_by_type))
                    if result.audit_by_type.get(kind) != result.floor_by_type.get(kind)
                ),
            ]
    if result.load_test:
        lt = result.load_test
        out += [
            "",
            f"Load: GET list endpoints at {lt['offered_rate']:g} req/s for "
            f"{lt['duration_s']:.1f} s (uvicorn, 2 workers):",
            "",
            "| requests | ok | dropped | throughput | p50 | p95 | p99 | max | target p99 | |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            f"| {lt['requests']} | {lt['ok']} | {lt['dropped']} | {lt['throughput_rps']} req/s | "
            f"{lt['p50_ms']} ms | {lt['p95_ms']} ms | {lt['p99_ms']} ms | {lt['max_ms']} ms | "
            f"< {P99_TARGET_MS:g} ms | {_mark(lt['p99_ms'] < P99_TARGET_MS)} |",
        ]
        if "server_cpu_s" in lt:
            out += [
                "",
                f"The server's processes used {lt['server_cpu_s']} CPU-seconds for the run, "
                f"{lt['server_cpu_ms_per_request']} ms per request (the machine's 1-minute "
                f"load average was {lt['loadavg_1m_before']} on {os.cpu_count()} CPUs before "
                "it started).",
            ]
        if "loadgen_cpu_s" in lt:
            out.append(
                f"The load generator used {lt['loadgen_cpu_s']} CPU-seconds, "
                f"{lt['loadgen_cpu_ms_per_request']} ms per request, over "
                f"{lt.get('connections', '?')} keep-alive connections."
            )
        if "postgres_cpu_s" in lt:
            out.append(
                f"PostgreSQL's processes used {lt['postgres_cpu_s']} CPU-seconds, "
                f"{lt['postgres_cpu_ms_per_request']} ms per request (all of the "
                "machine's PostgreSQL, so other work on it counts too)."
            )
        per_path = lt.get("paths", {})
        if per_path:
            out += ["", "| path | requests | p50 | p99 |", "| --- | ---: | ---: | ---: |"]
            out += [
                f"| `{path}` | {v['n']} | {v['p50_ms']} ms | {v['p99_ms']} ms |"
                for path, v in per_path.items()
            ]
        if set(lt["statuses"]) - {"200"}:
            out.append(f"\nStatuses: {lt['statuses']}")
    if result.rss_mb:
        peak = max(v for k, v in result.rss_mb.items() if k != "master")
        detail = ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(result.rss_mb.items()))
        out += [
            "",
            f"Peak RSS (VmHWM) of the server: {detail}; largest worker {peak:.0f} MB "
            f"(target < {RSS_TARGET_MB:g} MB: {_mark(peak < RSS_TARGET_MB)}).",
        ]
    if result.floor_queries:
        slowest = sorted(result.floor_queries.items(), key=lambda kv: -kv[1])[:4]
        out += [
            "",
            "SQL floor, slowest statements (last run): "
            + ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in slowest)
            + ".",
        ]
    for note in result.notes:
        out += ["", f"Note: {note}"]
    return "\n".join(out)


def machine() -> str:
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{os.cpu_count()} CPUs{memory}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


async def main_async(args: argparse.Namespace) -> list[BackendResult]:
    results = []
    for backend in await reachable_backends(args.backend, "benching"):
        results.append(
            await bench_backend(
                backend,
                args.size,
                args.runs,
                args.rate,
                args.duration,
                args.reuse or args.load_only,
                args.load_only,
            )
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="M")
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="runs per timing (the median)")
    parser.add_argument("--rate", type=float, default=200, help="load: requests per second")
    parser.add_argument("--duration", type=float, default=10, help="load: seconds")
    parser.add_argument("--reuse", action="store_true", help="skip seeding (already seeded)")
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="only the load test and memory, on databases seeded earlier (implies --reuse)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if not 1 <= args.runs <= 50:
        raise SystemExit("--runs must be between 1 and 50")
    results = asyncio.run(main_async(args))
    print(f"\n## Results ({machine()})\n")
    for result in results:
        print(render(result))
        print()
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
