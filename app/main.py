"""create_app(): settings, engine lifespan, middleware, routers and error handlers."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi

from app.alerts.router import router as alerts_router
from app.api_docs.pages import install_doc_pages
from app.api_docs.schema import operation_id, shape
from app.assets.router import router as assets_router
from app.audits.checks import checks_of
from app.audits.leakage import router as leakage_router
from app.audits.router import router as audits_router
from app.audits.tolerance_router import router as tolerances_router
from app.auth.keys import KeyCache, ensure_admin_key
from app.auth.middleware import AuthenticationMiddleware
from app.auth.router import router as api_keys_router
from app.billing.router import exports_router, runs_router
from app.billing.router import router as billing_router
from app.contracts.router import router as contracts_router
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.errors import install_error_handlers
from app.core.http import BodyLimitMiddleware, HeadAsGetMiddleware, SecurityHeadersMiddleware
from app.core.idempotency import IdempotencyMiddleware, purge_expired
from app.core.logging import RequestContextMiddleware, configure_logging
from app.customers.router import router as customers_router
from app.events.router import router as events_router
from app.events.sender import Sender
from app.health import router as health_router
from app.import_profiles.router import import_router as vendor_invoice_import_router
from app.import_profiles.router import router as import_profiles_router
from app.quotes.router import router as quotes_router
from app.reports.forecast import router as forecast_router
from app.reports.router import router as reports_router
from app.reports.service import customer_cost
from app.services.router import router as services_router
from app.vendor_invoices.router import router as vendor_invoices_router
from app.vendor_invoices.service import install_checker
from app.vendors.router import router as vendors_router
from app.webhooks.router import router as webhooks_router

logger = logging.getLogger("app")

API_PREFIX = "/api/v1"
# Connections of the event sender: a claim, and attempts' records, are short transactions.
EVENTS_POOL_SIZE = 4

DESCRIPTION = """
Stops money leaking out of a managed service provider: the catalog, contracts,
deployed assets and vendor invoices, the audits that find leaks, and profitability.

Every `/api/v1` path needs `Authorization: Bearer <api key>` (use **Authorize**).
Money is exchanged as decimal strings; errors are RFC 9457 problem details.
"""

TAGS = [
    {"name": "customers", "description": "Customers and how vendors name them"},
    {"name": "vendors", "description": "Vendors and distributors"},
    {"name": "services", "description": "The catalog of what the MSP sells"},
    {"name": "contracts", "description": "Recurring contracts, lines, adjustments, schedules"},
    {"name": "assets", "description": "Devices and seats deployed at customers"},
    {"name": "vendor-invoices", "description": "Vendor invoices in, matching, unmapped lines"},
    {"name": "import-profiles", "description": "How a distributor's CSV file becomes invoices"},
    {"name": "webhooks", "description": "Signed vendor pushes and their inbox"},
    {"name": "customer-invoices", "description": "Invoices to customers"},
    {"name": "billing-runs", "description": "Draft the month's customer invoices"},
    {"name": "exports", "description": "Invoices for accounting (QuickBooks)"},
    {"name": "audits", "description": "Audits: leaks (docs/findings.md) and the money at stake"},
    {"name": "reports", "description": "Reports"},
    {"name": "alerts", "description": "What needs doing by a date: cancellation deadlines"},
    {"name": "quotes", "description": "Quotes priced on real costs"},
    {"name": "events", "description": "Outbound events: subscriptions and deliveries (admin)"},
    {"name": "api-keys", "description": "API keys (admin)"},
    {"name": "health", "description": "Probes"},
]


def bootstrap_key_delivery(settings: Settings) -> Callable[[str], None]:
    """How the admin key made on first start is handed over, once: printed straight to
    the terminal (keys never go through the logs), or, with MSP_BOOTSTRAP_KEY_FILE set
    (as the Docker image does), written to that file, readable by its owner only, so
    that it stays out of the container's logs."""
    banner = "=" * 72
    path = settings.bootstrap_key_file

    def deliver(key: str) -> None:
        if path is None:
            told = (
                f"It is shown only now; only its hash is stored:\n\n    {key}\n\n"
                f"Use it as: Authorization: Bearer {key[:8]}..."
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                os.fchmod(file.fileno(), 0o600)  # an existing file keeps its mode otherwise
                file.write(key + "\n")
            told = (
                f"It was written to {path} (readable by its owner only); only its hash is "
                "stored. Keep it elsewhere and delete the file."
            )
        print(
            f"\n{banner}\nNo MSP_ADMIN_API_KEY is set, so an admin API key was created.\n"
            f"{told}\n{banner}\n",
            file=sys.stderr,
            flush=True,
        )

    return deliver


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Every invoice taken in is answered with the audit's checks (docs/checks.md).
    install_checker(checks_of)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url, echo=settings.sql_echo)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.key_cache = KeyCache(settings.api_key_cache_seconds)
        # Outbound events are sent from this process, in the background; deliveries
        # pending from before a restart are in the database and go out from here
        # (docs/events.md#delivery). The sender has a small pool of its own: it never
        # waits for a request's connection, nor takes one from a request.
        events_engine = create_engine(
            settings.resolved_database_url, echo=settings.sql_echo, pool_size=EVENTS_POOL_SIZE
        )
        sender = Sender(
            create_sessionmaker(events_engine), lambda: app.state.settings, wake_on=engine
        )
        app.state.event_sender = sender
        try:
            await ensure_admin_key(
                app.state.sessionmaker, settings, bootstrap_key_delivery(settings)
            )
            try:
                await purge_expired(app.state.sessionmaker, settings.idempotency_ttl_seconds)
            except Exception:  # housekeeping must not stop the start; /readyz tells the rest
                logger.warning("could not purge expired idempotency records", exc_info=True)
            await sender.start()
            yield
        finally:
            await sender.stop()
            await events_engine.dispose()
            await engine.dispose()

    app = FastAPI(
        title="MSP Ledger",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # Served from the package rather than a CDN (app/api_docs/pages.py).
        docs_url=None,
        redoc_url=None,
    )
    # The billing dry run's cost is the profitability report's (app/billing/runs.py).
    app.state.customer_cost = customer_cost
    install_doc_pages(app)
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(AuthenticationMiddleware)  # outside the records it scopes
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Idempotent-Replayed", "Link"],
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts)
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(RequestContextMiddleware)  # outermost: wraps everything above

    app.include_router(health_router)
    for router in (
        customers_router,
        vendors_router,
        services_router,
        contracts_router,
        assets_router,
        vendor_invoice_import_router,  # before /vendor-invoices/{invoice_id}
        vendor_invoices_router,
        import_profiles_router,
        webhooks_router,
        billing_router,
        runs_router,
        exports_router,
        audits_router,
        tolerances_router,
        reports_router,
        forecast_router,
        leakage_router,
        alerts_router,
        quotes_router,
        events_router,
        api_keys_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        shape(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def serve() -> FastAPI:
    """uvicorn's factory (`uvicorn --factory app.main:serve`): logging, then the app."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings)
    tune_gc()
    return app


def tune_gc() -> None:
    """Once per server process, after the app is built: move what exists now (modules,
    routes, schemas: hundreds of thousands of objects that live as long as the process)
    out of the cyclic garbage collector's reach, and collect the young generation every
    10,000 allocations instead of 700. A large audit builds many short-lived objects, and
    with the default settings a good part of its time goes to rescanning the whole heap
    (BENCHMARKS.md#figures-behind-design-choices). Reference counting still frees almost
    everything at once; cycles are still collected, less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
