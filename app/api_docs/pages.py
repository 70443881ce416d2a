"""Swagger UI at /docs and ReDoc at /redoc, their scripts and styles served by the service
itself from the pinned fastapi-offline package, so both work with no internet
(docs/README.md#interactive-documentation). Each page's Content-Security-Policy allows
nothing but this origin, so a page that tried to reach a CDN would fail the browser test
rather than quietly depend on one."""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"
# swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js and favicon.png.
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

# No badge fetched from the public validator.
SWAGGER_PARAMETERS = {"validatorUrl": None, "displayRequestDuration": True}

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def _csp(html: bytes) -> str:
    """This origin only. Swagger UI starts from one inline script, allowed by its hash;
    ReDoc styles itself with inline <style> elements and indexes for search in a blob
    worker."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}".rstrip()
        + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    response.headers["content-security-policy"] = _csp(bytes(response.body))
    response.headers["cache-control"] = "no-cache"
    return response


def install_doc_pages(app: FastAPI) -> None:
    """Mount the assets and add the two pages (the app is built with docs_url and
    redoc_url set to None, so FastAPI's CDN pages are not there)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                swagger_ui_parameters=SWAGGER_PARAMETERS,
            )
        )

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _page(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                with_google_fonts=False,
            )
        )
