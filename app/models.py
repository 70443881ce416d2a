"""Every table, imported in one place for Alembic and the tests."""

from app.assets.models import Asset
from app.audits.models import Audit, Finding, FindingEvent, Tolerance
from app.auth.models import ApiKey
from app.billing.models import BillingRun, CustomerInvoice, CustomerInvoiceLine
from app.contracts.models import Contract, ContractLine, ContractLineAdjustment
from app.core.db import metadata
from app.core.idempotency import IdempotencyRecord
from app.customers.models import Customer, VendorAccount
from app.events.models import EventAttempt, EventDelivery, EventSubscription
from app.import_profiles.models import ImportProfile
from app.reports.models import Target
from app.services.models import Service, ServiceCost
from app.vendor_invoices.models import VendorInvoice, VendorInvoiceLine
from app.vendors.models import Vendor
from app.webhooks.models import WebhookEvent

# Ids are never reused on SQLite either (AUTOINCREMENT), so an id a client stored, or
# an idempotent replay, never names another record later.
for _table in metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True

__all__ = [
    "ApiKey",
    "Audit",
    "BillingRun",
    "CustomerInvoice",
    "CustomerInvoiceLine",
    "Finding",
    "FindingEvent",
    "Asset",
    "Contract",
    "ContractLine",
    "ContractLineAdjustment",
    "Customer",
    "EventAttempt",
    "EventDelivery",
    "EventSubscription",
    "IdempotencyRecord",
    "ImportProfile",
    "Service",
    "ServiceCost",
    "Target",
    "Tolerance",
    "Vendor",
    "VendorAccount",
    "VendorInvoice",
    "VendorInvoiceLine",
    "WebhookEvent",
    "metadata",
]
