"""The README's tour works as shown: its commands run, as written, against a real server
(uvicorn on a fresh SQLite file), every curl answered with a success, and the figures the
README states come out. Then its signed-webhook script and the replay that follows."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
KEY = "msp_readme_tour_key_0123456789abcdef"

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None, reason="needs curl and bash"
)


def block(after: str, language: str, skip: int = 0) -> str:
    """The first fenced block of `language` after the heading or text `after` (then
    `skip` more)."""
    text = README.split(after, 1)[1]
    blocks = re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    return str(blocks[skip])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`make run`, by hand: migrate a new SQLite file, serve it on a free port."""
    database = tmp_path_factory.mktemp("tour") / "msp.sqlite3"
    env = {
        **os.environ,
        "MSP_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "MSP_ADMIN_API_KEY": KEY,
        "MSP_LOG_JSON": "false",
        "MSP_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:serve"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_shell(commands: str, port: int, cwd: Path) -> list[Any]:
    """Run README shell commands as they are, but for the key and the port, with every
    curl failing on an error status (--fail-with-body); the answers, one per curl."""
    commands = commands.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    commands = re.sub(r"^export KEY=msp_\.\.\..*$", f"export KEY={KEY}", commands, flags=re.M)
    script = (
        "set -euo pipefail\n"
        'curl() { command curl --fail-with-body "$@"; printf "\\n"; }\n'
        f"API=http://127.0.0.1:{port}/api/v1\n"
        f'H=(-H "Authorization: Bearer {KEY}" -H "Content-Type: application/json")\n' + commands
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    answers = []
    for line in done.stdout.splitlines():
        try:
            answers.append(json.loads(line))
        except ValueError:
            answers.append(line)  # the IIF file, a 204's empty answer
    return answers


def test_the_tour_then_the_webhook_and_its_replay(server: int, tmp_path: Path) -> None:
    tour = block("## A five-minute tour", "sh")
    answers = run_shell(tour, server, tmp_path)
    secret = answers[0]["webhook_secret"]  # the first command creates the vendor
    # "The audit of November finds four leaks, with the money at stake":
    (audit,) = [a for a in answers if isinstance(a, dict) and "summary" in a]
    assert audit["summary"]["count"] == 4
    assert audit["summary"]["total_impact"] == "276.00"
    listed = re.findall(r"^#   ([A-Z_]+) +(\d+\.\d\d) ", tour, flags=re.MULTILINE)
    assert {t: s["impact"] for t, s in audit["summary"]["by_type"].items()} == dict(listed)
    assert len(listed) == 4
    # The endpoints' finding says when they were installed (docs/findings.md#unbilled_assets)
    # and the customer audit lists every type of Acme (docs/findings.md#customer-audit).
    (findings,) = [a["items"] for a in answers if isinstance(a, dict) and "items" in a][:1]
    (assets,) = [f for f in findings if f["type"] == "UNBILLED_ASSETS"]
    assert assets["message"] == (
        "Acme Ltd: 3 x Managed endpoint (EDR) deployed by 2026-11-30 (installed 2026-11-02) "
        "but the contract bills 2; 1 at 8.00 = 8.00 unbilled."
    )
    (acme,) = [a for a in answers if isinstance(a, dict) and a.get("customer_name") == "Acme Ltd"]
    assert acme["finding_types"] == ["PRICE_INCREASE", "UNBILLED_ASSETS", "UNBILLED_UNITS"]
    # The schedule's months, as the comment above it works them out.
    (schedule,) = [a for a in answers if isinstance(a, dict) and "total_revenue" in a]
    assert [m["revenue"] for m in schedule["months"]] == ["117.33", "249.81", "264.00"]
    # December's dry run: Acme's draft of 456.00, a new invoice, at no cost known so far;
    # then the run drafts the same invoice.
    (preview,) = [a for a in answers if isinstance(a, dict) and "customers" in a]
    [draft] = preview["invoices"]
    assert (draft["id"], draft["number"], draft["total"]) == (None, "BR202612-000002", "456.00")
    assert [(c["customer_name"], c["revenue"], c["cost"], c["margin"]) for c in
            preview["customers"]] == [("Acme Ltd", "456.00", "0.00", "1.0000")]  # fmt: skip
    (run,) = [a for a in answers if isinstance(a, dict) and "invoices_created" in a]
    assert (run["invoices_created"], run["total"]) == (1, "456.00")

    # "Billing dry run": November, after the tour, as the README shows it.
    section = block("## Billing dry run", "sh")
    (november,) = run_shell(section, server, tmp_path)
    shown = re.search(r"^# (\{.*?)(?=^[^#])", section + "\n.", flags=re.MULTILINE | re.DOTALL)
    assert shown is not None
    assert november == json.loads(re.sub(r"^#  ?", "", shown.group(1), flags=re.MULTILINE))

    script = tmp_path / "send_invoice.py"
    python = block("## Sending a signed webhook", "python")
    script.write_text(python.replace("127.0.0.1:8000", f"127.0.0.1:{server}"))
    env = {**os.environ, "WHSEC": secret}

    def send() -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=30
        )
        status, _, body = done.stdout.partition(" ")
        return int(status), json.loads(body)

    # "It prints 200 {"event": {..., "status": "processed", ...}, "invoice_id": 2}".
    status, body = send()
    assert (status, body["event"]["status"], body["invoice_id"]) == (200, "processed", 2)
    # "run the script again ... the answer is a 409 'duplicate invoice number'".
    status, body = send()
    assert status == 409 and body["event_id"] == 2
    assert "duplicate invoice number" in json.dumps(body)

    replay = run_shell(block("## Sending a signed webhook", "sh"), server, tmp_path)
    failed = replay[0]["items"]
    assert [(e["id"], e["error"]) for e in failed] == [(2, "duplicate invoice number")]
    replayed = [a for a in replay if isinstance(a, dict) and a.get("id") == 2]
    assert [(e["status"], e["invoice_id"]) for e in replayed] == [("processed", 3)]
    assert replay[-1]["webhook_secret"].startswith("whsec_")
