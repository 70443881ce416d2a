"""A real HTTP server on a free local port, in a thread, for outbound-event tests: it
records every request and answers `fail_status` (503) to the first `fail_first` of
them (or to all while `failing` is set), 204 after."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    url: str
    fail_first: int = 0
    failing: bool = False
    fail_status: int = 503
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            failed = self.failing or len(self.requests) < self.fail_first
            status = self.fail_status if failed else 204
            self.requests.append(Received(headers, body, status))
            return status

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status < 300]


@contextmanager
def receiver(fail_first: int = 0, path: str = "/hook") -> Iterator[Receiver]:
    state = Receiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            status = state.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("location", state.url + "/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A local URL nothing listens on: every attempt fails to connect."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
