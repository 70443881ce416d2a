"""The soak: a minute of mixed load with vendor invoices arriving during audits.

    python -m bench.soak --size S --seconds 60 --backend both      # `make soak`

For each backend: a fresh seeded database (bench.seed), uvicorn with 2 workers, then for
`--seconds`, all at once from this process:
- two loops running the audited month's audit (POST /audits);
- one loop reading that month's customer-audit report, profitability and trends;
- two loops taking in invoices OF THE AUDITED MONTH: one through the signed vendor
  webhook (each delivery sent twice, as vendors redeliver), one through JSON POST with an
  Idempotency-Key (each retried once with the same key), and one loop deleting some of
  the acknowledged invoices again;
- one loop paging the lists.
It counts every answer by operation and status, then compares the invoices stored for
the month with the ones acknowledged (200/201) minus the ones deleted: nothing lost,
nothing extra, no duplicate. The run fails (exit 1) on any 5xx or any difference.
Results are in BENCHMARKS.md ("Soak").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.core.signature import sign
from bench.generate import Dataset, ingest_payload
from bench.run import ADMIN_KEY, BENCH_DIR, Server
from bench.seed import database_url, reachable_backends, seed

INVOICE_LINES = 25


@dataclass
class SoakResult:
    backend: str
    size: str
    seconds: float
    answers: dict[str, Counter[int]] = field(default_factory=dict)
    transport_errors: Counter[str] = field(default_factory=Counter)
    acknowledged: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    stored: list[str] = field(default_factory=list)
    # Retries (Idempotency-Key) and redeliveries (webhook-id) answered otherwise than the
    # first attempt, which the client already holds: e.g. a 409 "still being processed".
    replay_mismatches: Counter[str] = field(default_factory=Counter)

    def count(self, operation: str, status: int) -> None:
        self.answers.setdefault(operation, Counter())[status] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.answers.values() for status, n in c.items() if status >= 500)

    @property
    def missing(self) -> set[str]:
        return self.acknowledged - self.deleted - set(self.stored)

    @property
    def unexpected(self) -> set[str]:
        return set(self.stored) - (self.acknowledged - self.deleted)

    @property
    def duplicates(self) -> int:
        return len(self.stored) - len(set(self.stored))

    @property
    def ok(self) -> bool:
        return not (
            self.server_errors
            or self.transport_errors
            or self.replay_mismatches
            or self.missing
            or self.unexpected
            or self.duplicates
        )


def _payload(data: Dataset, period: str, number: str) -> dict[str, Any]:
    """A small invoice of the audited month, from the benchmark's vendor pool."""
    body = ingest_payload(data, vendor_id=1, lines=INVOICE_LINES, number=number)
    year, month = (int(part) for part in period.split("-"))
    return {**body, "period": period, "invoice_date": f"{year:04d}-{month:02d}-28"}


async def _soak(base: str, data: Dataset, result: SoakResult) -> None:
    period = str(data.audit_period)
    first = str(data.months[0])
    secret = data.vendor_secrets[1]
    deadline = time.monotonic() + result.seconds
    deletable: list[tuple[int, str]] = []
    rng = random.Random(7)

    async def call(
        client: httpx.AsyncClient, operation: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        try:
            answer = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            result.transport_errors[f"{operation}: {type(exc).__name__}"] += 1
            return None
        result.count(operation, answer.status_code)
        return answer

    async def audits(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            await call(client, "POST /audits", "POST", "/api/v1/audits", json={"period": period})

    async def reports(client: httpx.AsyncClient) -> None:
        customer = 1
        while time.monotonic() < deadline:
            await call(
                client,
                "GET /reports/customer-audit",
                "GET",
                "/api/v1/reports/customer-audit",
                params={"customer_id": customer, "period": period},
            )
            customer = customer % len(data.tables["customer"]) + 1
            await call(
                client,
                "GET /reports/profitability",
                "GET",
                "/api/v1/reports/profitability",
                params={"from": first, "to": period, "group_by": "customer"},
            )
            await call(
                client,
                "GET /reports/trends",
                "GET",
                "/api/v1/reports/trends",
                params={"from": first, "to": period, "metric": "profit", "group_by": "vendor"},
            )

    async def webhooks(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            number = f"SOAK-W-{uuid.uuid4().hex[:12]}"
            body = json.dumps(_payload(data, period, number)).encode()
            msg_id = f"msg_{uuid.uuid4().hex}"
            stamp = int(time.time())
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": sign(secret, msg_id, stamp, body),
                "content-type": "application/json",
            }
            first: int | None = None
            for attempt in range(2):  # the vendor redelivers: the same event twice
                answer = await call(
                    client,
                    "POST webhook" + (" (redelivery)" if attempt else ""),
                    "POST",
                    "/api/v1/webhooks/vendors/1/invoices",
                    content=body,
                    headers=headers,
                )
                if answer is None:
                    break
                if attempt == 0:
                    first = answer.status_code
                elif answer.status_code != first:
                    result.replay_mismatches[f"webhook {first} then {answer.status_code}"] += 1
                if answer.status_code == 200:
                    result.acknowledged.add(number)
                    invoice_id = answer.json().get("invoice_id")
                    if attempt == 0 and invoice_id:
                        deletable.append((invoice_id, number))

    async def json_posts(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            number = f"SOAK-J-{uuid.uuid4().hex[:12]}"
            payload = {"vendor_id": 1, **_payload(data, period, number)}
            key = uuid.uuid4().hex
            first: int | None = None
            for attempt in range(2):  # a client retrying with its Idempotency-Key
                answer = await call(
                    client,
                    "POST /vendor-invoices" + (" (retry)" if attempt else ""),
                    "POST",
                    "/api/v1/vendor-invoices",
                    json=payload,
                    headers={"Idempotency-Key": key},
                )
                if answer is None:
                    break
                if attempt == 0:
                    first = answer.status_code
                elif answer.status_code != first:
                    result.replay_mismatches[f"JSON {first} then {answer.status_code}"] += 1
                if answer.status_code == 201:
                    result.acknowledged.add(number)
                    if attempt == 0:
                        deletable.append((answer.json()["id"], number))

    async def deletes(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if not deletable or rng.random() < 0.5:
                continue
            invoice_id, number = deletable.pop(rng.randrange(len(deletable)))
            answer = await call(
                client,
                "DELETE /vendor-invoices",
                "DELETE",
                f"/api/v1/vendor-invoices/{invoice_id}",
                params={"force": "true"},
            )
            if answer is not None and answer.status_code == 204:
                result.deleted.add(number)

    async def lists(client: httpx.AsyncClient) -> None:
        paths = ["/api/v1/vendor-invoices", "/api/v1/audits", "/api/v1/webhook-events"]
        while time.monotonic() < deadline:
            for path in paths:
                await call(client, f"GET {path}", "GET", path, params={"limit": 50})

    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    clients = [httpx.AsyncClient(base_url=base, headers=headers, timeout=120) for _ in range(8)]
    try:
        await asyncio.gather(
            audits(clients[0]),
            audits(clients[1]),
            reports(clients[2]),
            webhooks(clients[3]),
            json_posts(clients[4]),
            deletes(clients[5]),
            lists(clients[6]),
        )
        result.stored = await _stored_numbers(clients[7], period)
    finally:
        for client in clients:
            await client.aclose()


async def _stored_numbers(client: httpx.AsyncClient, period: str) -> list[str]:
    """Every soak invoice stored for the month (all pages)."""
    numbers: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"period": period, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/vendor-invoices", params=params)).json()
        numbers += [
            item["invoice_number"]
            for item in page["items"]
            if item["invoice_number"].startswith("SOAK-")
        ]
        cursor = page["next_cursor"]
        if not cursor:
            return numbers


async def soak_backend(backend: str, size: str, seconds: float) -> SoakResult:
    print(f"\n== soak: {backend}, size {size}, {seconds:.0f} s ==", flush=True)
    data, report = await seed(backend, size)
    print(f"  seeded {report.rows:,} rows", flush=True)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    server = Server(database_url(backend, size), BENCH_DIR / f"soak-{backend}-{size}.log")
    result = SoakResult(backend, size, seconds)
    try:
        await server.wait_ready()
        await _soak(server.base, data, result)
    finally:
        server.stop()
    return result


def render(result: SoakResult) -> str:
    lines = [
        f"### Soak: {result.backend}, size {result.size}, {result.seconds:.0f} s",
        "",
        "| operation | answers | by status |",
        "| --- | ---: | --- |",
    ]
    for operation, counts in sorted(result.answers.items()):
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        lines.append(f"| {operation} | {sum(counts.values())} | {statuses} |")
    lines += [
        "",
        f"- 5xx answers: {result.server_errors}; transport errors: "
        f"{sum(result.transport_errors.values())} {dict(result.transport_errors) or ''}",
        f"- retries answered otherwise than the first attempt: "
        f"{sum(result.replay_mismatches.values())} {dict(result.replay_mismatches) or ''}",
        f"- invoices acknowledged: {len(result.acknowledged)}, deleted: {len(result.deleted)}, "
        f"stored: {len(result.stored)} (missing {len(result.missing)}, unexpected "
        f"{len(result.unexpected)}, duplicated {result.duplicates})",
        f"- {'PASS' if result.ok else 'FAIL'}",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> list[SoakResult]:
    return [
        await soak_backend(backend, args.size, args.seconds)
        for backend in await reachable_backends(args.backend, "soaking")
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["S", "M", "L"], default="S")
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    print()
    for result in results:
        print(render(result))
        print()
    sys.exit(0 if results and all(result.ok for result in results) else 1)


if __name__ == "__main__":
    main()
