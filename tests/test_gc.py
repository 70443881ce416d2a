"""serve(), uvicorn's factory, tunes the garbage collector once the app is built
(app.main.tune_gc): the startup heap frozen, the young generation collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from app.core.config import get_settings
from app.main import serve


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serve_builds_the_app_and_tunes_the_collector(
    restored_gc: None, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("MSP_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/gc.db")
    # The process's logging stays as the test run set it up.
    monkeypatch.setattr("app.main.configure_logging", lambda *args: None)
    gc.unfreeze()
    get_settings.cache_clear()  # read the environment set here, and forget it after
    try:
        app = serve()
    finally:
        get_settings.cache_clear()
    assert isinstance(app, FastAPI)
    assert gc.get_threshold()[0] == 10_000
    assert gc.get_freeze_count() > 10_000  # modules, routes and schemas are frozen
