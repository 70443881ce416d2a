"""Swagger UI and ReDoc in a real browser with no internet (docs/README.md#interactive-
documentation): Debian's headless Chromium against a real uvicorn server, every request to
anything but that server blocked and recorded. Swagger UI must list the operations, and its
Authorize dialog must make "Try it out" send the API key. Skipped when chromium is not
installed, except in CI (CI=true), where that is a failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.config import Settings
from app.openapi import document
from tests.browser import Page, open_page, require_chromium
from tests.conftest import ADMIN_KEY
from tests.live_server import running_server

# Where to keep the screenshots (e.g. to look at them); a temporary folder otherwise.
SCREENSHOTS = os.environ.get("MSP_DOCS_SCREENSHOTS")

# GET /api/v1/customers, marked by the test once the page shows it.
LIST_CUSTOMERS = '[data-test="list-customers"]'
MARK_LIST_CUSTOMERS = (
    "document.querySelector('.opblock-get .opblock-summary-path[data-path=\"/api/v1/customers\"]')"
    ".closest('.opblock').setAttribute('data-test', 'list-customers')"
)


@pytest.fixture
def browser_needed() -> None:
    require_chromium("/docs and /redoc")


@pytest.fixture
def server(browser_needed: None, settings: Settings, client: httpx.AsyncClient) -> Iterator[str]:
    # `client` empties the tables afterwards.
    with running_server(settings, "h11") as port:
        yield f"http://127.0.0.1:{port}"


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(folder / name)


def _execute_list_customers(page: Page) -> str:
    """Press Execute on GET /customers and read the status Swagger UI shows."""
    live = f"document.querySelector('{LIST_CUSTOMERS} .live-responses-table')"
    if page.evaluate(f"{live} !== null"):
        page.click(f"{LIST_CUSTOMERS} button.btn-clear")
        page.wait_for(f"{live} === null")
    page.click(f"{LIST_CUSTOMERS} button.execute")
    cell = f"{LIST_CUSTOMERS} .live-responses-table tbody .response-col_status"
    status: str = page.wait_for(f"document.querySelector('{cell}')?.textContent.trim()")
    return status


def test_swagger_ui_works_offline_and_authorizes(server: str, tmp_path: Path) -> None:
    operations = sum(len(ops) for ops in document()["paths"].values())
    with open_page(server) as page:
        page.goto(f"{server}/docs")
        shown = page.wait_for(
            f"document.querySelectorAll('.opblock').length >= {operations} "
            "&& document.querySelectorAll('.opblock').length"
        )
        assert shown == operations
        assert page.evaluate("document.querySelector('.info .title').textContent").startswith(
            "MSP Ledger"
        )
        _shot(page, tmp_path, "docs.png")

        page.evaluate(MARK_LIST_CUSTOMERS)
        page.click(f"{LIST_CUSTOMERS} .opblock-summary-control")
        page.click(f"{LIST_CUSTOMERS} .try-out__btn")
        assert _execute_list_customers(page) == "401"  # no key yet

        page.click(".scheme-container button.authorize")
        page.type_into(".modal-ux input", ADMIN_KEY)
        page.click(".modal-ux button.authorize")
        page.wait_for("document.querySelector('.modal-ux .btn-done') !== null")
        page.click(".modal-ux .btn-done")
        page.wait_for("document.querySelector('.modal-ux') === null")
        assert _execute_list_customers(page) == "200"
        body = page.evaluate(
            f"document.querySelector('{LIST_CUSTOMERS} .live-responses-table "
            ".response-col_description pre').textContent"
        )
        assert '"items"' in body and '"next_cursor"' in body
        _shot(page, tmp_path, "docs-authorized.png")

        assert page.blocked == [], f"the page reached beyond the server: {page.blocked}"
        # The browser logs the 401 it was answered as a failed resource load.
        unexpected = [e for e in page.errors if "status of 401" not in e]
        assert unexpected == []


def test_redoc_works_offline(server: str, tmp_path: Path) -> None:
    with open_page(server) as page:
        page.goto(f"{server}/redoc")
        page.wait_for("document.querySelector('h1')?.textContent.startsWith('MSP Ledger')")
        # One entry per operation in the menu on the left.
        operations = sum(len(ops) for ops in document()["paths"].values())
        shown = page.wait_for("document.querySelectorAll('li[data-item-id^=\"tag/\"] li').length")
        assert shown >= operations
        _shot(page, tmp_path, "redoc.png")
        assert page.blocked == [], f"the page reached beyond the server: {page.blocked}"
        # ReDoc's menu footer always asks for Redocly's logo from a CDN and drops it when
        # it cannot load; the page's policy refuses it before it reaches the network.
        logo = "https://cdn.redoc.ly/redoc/logo-mini.svg"
        unexpected = [e for e in page.errors if not (e.startswith("security:") and logo in e)]
        assert unexpected == []
