"""Open-loop load generator: GET requests at a fixed rate for a fixed time against a
server on 127.0.0.1, run as its own process so it does not share a CPU core's event loop
with what it measures. Prints one JSON object: latencies (p50/p95/p99/max, ms),
throughput, status counts.

    python -m bench.loadgen --url http://127.0.0.1:8765 --key KEY --rate 200 --duration 10 \
        /api/v1/customers /api/v1/contracts

Requests are sent on schedule whether or not earlier ones have answered (so a slow
server shows as latency, not as a lower offered rate), with at most --max-in-flight
outstanding; each has a timeout, and the whole run stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, int(round(fraction * len(values) + 0.5)) - 1))
    return values[rank]


async def run(
    url: str, key: str, paths: list[str], rate: float, duration: float, max_in_flight: int
) -> dict[str, object]:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only targets the local machine")
    total = int(rate * duration)
    latencies: list[float] = []
    by_path: dict[str, list[float]] = {path: [] for path in paths}
    statuses: Counter[str] = Counter()
    dropped = 0
    slots = asyncio.Semaphore(max_in_flight)
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {key}"},
        limits=limits,
        timeout=httpx.Timeout(5.0),
    ) as client:
        # Warm the connections and the server's caches; not measured.
        for path in paths:
            await client.get(path)

        async def one(path: str) -> None:
            began = time.perf_counter()
            try:
                answer = await client.get(path)
                await answer.aread()
                statuses[str(answer.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            finally:
                elapsed_ms = (time.perf_counter() - began) * 1000
                latencies.append(elapsed_ms)
                by_path[path].append(elapsed_ms)
                slots.release()

        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        for index in range(total):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if slots.locked():
                dropped += 1  # the server is that far behind: count it, don't queue
                continue
            await slots.acquire()
            tasks.append(asyncio.create_task(one(paths[index % len(paths)])))
        sent_for = time.perf_counter() - started
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        elapsed = time.perf_counter() - started
    latencies.sort()
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return {
        "offered_rate": rate,
        "duration_s": round(sent_for, 3),
        "requests": len(latencies),
        "ok": ok,
        "dropped": dropped,
        "statuses": dict(statuses),
        "throughput_rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "paths": {
            path: {
                "n": len(values),
                "p50_ms": round(percentile(sorted(values), 0.50), 2),
                "p99_ms": round(percentile(sorted(values), 0.99), 2),
            }
            for path, values in by_path.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-in-flight", type=int, default=64)
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    if not 0 < args.rate <= 5_000 or not 0 < args.duration <= 600:
        raise SystemExit("rate must be in (0, 5000] and duration in (0, 600] seconds")
    result = asyncio.run(
        run(args.url, args.key, args.paths, args.rate, args.duration, args.max_in_flight)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
