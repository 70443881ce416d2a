"""Headless Chromium driven over the Chrome DevTools Protocol, for tests that look at a page
as a person would. Every request the page makes is paused and let through only to the
server under test; anything else is failed and recorded, so a page that needs the
internet shows it. Debian's chromium (/usr/bin/chromium) and the websockets client are
all it needs: no browser download."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.conftest import IN_CI

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,1800",
    # No name resolves but the loopback address: a request elsewhere cannot leave.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--remote-debugging-port=0",
]


def chromium_path() -> str | None:
    found = os.environ.get("MSP_TEST_CHROMIUM") or shutil.which("chromium")
    return found or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


def require_chromium(what: str) -> str:
    """Debian's chromium for a browser test of `what`: skipped, said why, when it is not
    installed, and a failure under CI=true (.ci/run installs it)."""
    found = chromium_path()
    if found is None:
        reason = "chromium is not installed (Debian: apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{reason}: CI must run the browser test of {what}")
        pytest.skip(reason)
    return found


@dataclass
class Page:
    """One tab. `allowed` is the origin requests may reach (http://127.0.0.1:port)."""

    socket: ClientConnection
    allowed: str
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.socket.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if url.startswith(self.allowed + "/") or url.startswith("data:"):
                self._send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                self.blocked.append(url)
                self._send(
                    "Fetch.failRequest",
                    requestId=params["requestId"],
                    errorReason="BlockedByClient",
                )
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(str(details.get("exception", {}).get("description") or details))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")

    def _send(self, method: str, **params: Any) -> None:
        # A command whose answer nobody waits for (answers are matched by id and skipped).
        self.socket.send(json.dumps({"id": next(self._ids), "method": method, "params": params}))

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        """Poll a JavaScript expression until it is truthy; the events keep flowing."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}; errors: {self.errors}")
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def click(self, selector: str) -> None:
        self.wait_for(f"document.querySelector({json.dumps(selector)}) !== null")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def type_into(self, selector: str, text: str) -> None:
        """Focus the field and type as a keyboard would (React sees real input events)."""
        self.wait_for(f"document.querySelector({json.dumps(selector)}) !== null")
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def open_page(allowed: str) -> Iterator[Page]:
    """A fresh Chromium (its own empty profile) and one page of it."""
    executable = chromium_path()
    assert executable, "chromium is not installed"
    with tempfile.TemporaryDirectory(prefix="msp-chromium-", ignore_cleanup_errors=True) as profile:
        # Its own process group: the browser's helper processes end with it.
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not port_file.exists() or not port_file.read_text().strip():
                assert process.poll() is None, "chromium exited at start"
                assert time.monotonic() < deadline, "chromium did not start in 30 s"
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            [target] = [t for t in targets if t["type"] == "page"]
            with connect(target["webSocketDebuggerUrl"], max_size=None) as socket:
                page = Page(socket, allowed)
                for domain in ("Page", "Runtime", "Log"):
                    page.call(f"{domain}.enable")
                page.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
                yield page
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue
