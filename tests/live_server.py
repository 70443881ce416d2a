"""A real uvicorn server for tests that need a socket (raw HTTP/1.1, a browser)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from app.core.config import Settings
from app.main import create_app


@contextmanager
def running_server(settings: Settings, http_impl: str) -> Iterator[int]:
    """A uvicorn server on a free port, in a thread with its own event loop and its own
    app (engine and pool), as in production."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        create_app(settings), lifespan="on", log_level="warning", http=http_impl
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
