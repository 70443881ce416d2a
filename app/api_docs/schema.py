"""The OpenAPI document as client generators and readers need it
(docs/README.md#openapi-and-generated-clients): an operationId per operation that reads as
a method name, every failure answer an RFC 9457 problem with an example of its own status,
413 and 503 where they can happen, a description on every parameter and an example on
every request body."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.routing import APIRoute

from app.api_docs.examples import REQUEST_EXAMPLES
from app.core.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    RETRY_AFTER_SECONDS,
    FieldError,
    MissingRecord,
    Problem,
    status_title,
)
from app.core.idempotency import is_idempotent_path

API = "/api/v1"

# The method name of every operation whose endpoint function is not already named as a
# client would call it (a generated client groups operations by tag, so the name says
# what it acts on: `list_vendor_invoices`, not `list_invoices`).
OPERATION_IDS: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "get_health",
    ("GET", "/readyz"): "get_readiness",
    ("POST", f"{API}/customers/{{customer_id}}/vendor-accounts"): "create_vendor_account",
    ("GET", f"{API}/contracts/{{contract_id}}/schedule"): "get_contract_schedule",
    ("POST", f"{API}/contracts/{{contract_id}}/lines"): "create_contract_line",
    ("GET", f"{API}/contracts/{{contract_id}}/lines"): "list_contract_lines",
    ("GET", f"{API}/contracts/{{contract_id}}/lines/{{line_id}}"): "get_contract_line",
    ("PATCH", f"{API}/contracts/{{contract_id}}/lines/{{line_id}}"): "update_contract_line",
    ("DELETE", f"{API}/contracts/{{contract_id}}/lines/{{line_id}}"): "delete_contract_line",
    ("POST", f"{API}/contracts/{{contract_id}}/lines/{{line_id}}/adjustments"): (
        "create_adjustment"
    ),
    ("POST", f"{API}/vendor-invoices/import"): "import_vendor_invoice",
    ("POST", f"{API}/vendor-invoices"): "create_vendor_invoice",
    ("GET", f"{API}/vendor-invoices"): "list_vendor_invoices",
    ("GET", f"{API}/vendor-invoices/{{invoice_id}}"): "get_vendor_invoice",
    ("DELETE", f"{API}/vendor-invoices/{{invoice_id}}"): "delete_vendor_invoice",
    ("GET", f"{API}/unmapped"): "list_unmapped",
    ("POST", f"{API}/webhooks/vendors/{{vendor_id}}/invoices"): "receive_vendor_invoice",
    ("GET", f"{API}/webhook-events"): "list_webhook_events",
    ("GET", f"{API}/webhook-events/{{event_id}}"): "get_webhook_event",
    ("POST", f"{API}/webhook-events/{{event_id}}/replay"): "replay_webhook_event",
    ("POST", f"{API}/customer-invoices"): "create_customer_invoice",
    ("GET", f"{API}/customer-invoices"): "list_customer_invoices",
    ("GET", f"{API}/customer-invoices/{{invoice_id}}"): "get_customer_invoice",
    ("PATCH", f"{API}/customer-invoices/{{invoice_id}}"): "update_customer_invoice",
    ("GET", f"{API}/customer-invoices/{{invoice_id}}/quickbooks"): "get_quickbooks_invoice",
    ("POST", f"{API}/billing-runs"): "create_billing_run",
    ("GET", f"{API}/billing-runs"): "list_billing_runs",
    ("GET", f"{API}/exports/quickbooks/unmapped"): "list_quickbooks_unmapped",
    ("GET", f"{API}/exports/quickbooks.iif"): "export_quickbooks_iif",
    ("POST", f"{API}/audits"): "create_audit",
    ("GET", f"{API}/reports/customer-audit"): "get_customer_audit_report",
    ("GET", f"{API}/reports/profitability"): "get_profitability_report",
    ("GET", f"{API}/reports/trends"): "get_trends_report",
    ("POST", f"{API}/quotes/preview"): "preview_quote",
}


def operation_id(route: APIRoute) -> str:
    """FastAPI's generate_unique_id_function: the endpoint function's name unless
    OPERATION_IDS names the operation otherwise (tests/test_openapi.py keeps them unique
    and snake_case)."""
    [method] = sorted(route.methods or ())
    return OPERATION_IDS.get((method, route.path_format), route.name)


def shape(schema: dict[str, Any]) -> None:
    """Everything the routes do not say for themselves, in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, FieldError, MissingRecord):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        components[model.__name__] = model_schema
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _shape_operation(path, method, operation, components)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    text = json.dumps(schema.get("paths", {})) + json.dumps(components)
    for name in [n for n in components if f'"#/components/schemas/{n}"' not in text]:
        if name not in ("Problem", "FieldError", "MissingRecord"):
            components.pop(name)
    _distinct_names(schema)


def _distinct_names(schema: dict[str, Any]) -> None:
    """Two models of one class name (say the Unmapped of vendor invoices and of the
    QuickBooks export) are keyed by FastAPI with their modules
    (`app__billing__quickbooks__Unmapped`) but keep the same title, and generators name
    classes by title: each gets a name of its own from its module (`BillingQuickbooksUnmapped`)."""
    components = schema["components"]["schemas"]
    renames = {key: _class_name(key) for key in components if "__" in key}
    if not renames:
        return
    text = json.dumps(schema)
    for old, new in renames.items():
        assert new not in components, new
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    renamed = json.loads(text)
    renamed["components"]["schemas"] = {
        renames.get(key, key): {**model, "title": renames[key]} if key in renames else model
        for key, model in renamed["components"]["schemas"].items()
    }
    schema.clear()
    schema.update(renamed)


def _class_name(key: str) -> str:
    parts = [part for part in key.split("__") if part not in ("app", "models")]
    return "".join(part[:1].upper() + part[1:] for p in parts for part in p.split("_"))


def _shape_operation(
    path: str, method: str, operation: dict[str, Any], components: dict[str, Any]
) -> None:
    responses = operation.setdefault("responses", {})
    if method == "post" and is_idempotent_path(path):
        _document_idempotency(operation)
    if operation.get("security"):
        for status in ("401", "403"):
            responses.setdefault(status, {"description": status_title(int(status))})
    if "requestBody" in operation:
        # The body limit (docs/README.md#errors) holds for every body.
        responses.setdefault("413", {"description": status_title(413)})
        _body_example(operation)
    if path.startswith(API) or path == "/readyz":
        # Anything that reads the database answers 503 while it is unreachable
        # (docs/consistency.md#unavailable).
        responses.setdefault("503", {"description": status_title(503)})
    for status, answer in responses.items():
        if status[0] in "45":
            if answer.get("description") == "Validation Error":
                answer["description"] = status_title(422)
            example = problem_example(int(status), path, method, operation, components)
            answer["content"] = {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            }
            if status == "503":
                answer["headers"] = {
                    "Retry-After": {
                        "description": "Seconds to wait before trying again",
                        "schema": {"type": "integer", "example": RETRY_AFTER_SECONDS},
                    }
                }
    for parameter in operation.get("parameters", []):
        parameter.setdefault("description", _parameter_description(path, parameter))


def _document_idempotency(operation: dict[str, Any]) -> None:
    """Every create takes an Idempotency-Key (docs/idempotency.md#scope)."""
    operation.setdefault("parameters", []).append(
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retry-safe creates: the same key and body answer the first answer "
            "again and create nothing; the same key with another body is a 422; a retry while "
            "the first is still running is a 409. Kept 24 hours, per API key.",
            "schema": {"type": "string", "maxLength": 255},
        }
    )
    operation["responses"].setdefault("409", {"description": "Conflict"})


def _body_example(operation: dict[str, Any]) -> None:
    example = REQUEST_EXAMPLES.get(operation["operationId"])
    if example is None:
        return
    for media in operation["requestBody"]["content"].values():
        media.setdefault("example", example)


# --- problems --------------------------------------------------------------------------------

_PARAM = re.compile(r"\{([^}]+)\}")


_NOUNS = {"lines": "contract line", "api-keys": "API key"}


def _noun(segment: str) -> str:
    """A collection's path segment as the service names one of its records in problems
    ("vendor-invoices" -> "vendor invoice")."""
    if segment in _NOUNS:
        return _NOUNS[segment]
    words = segment.replace("-", " ")
    return words[:-1] if words.endswith("s") else words


def _last_record(path: str) -> tuple[str, str] | None:
    """The noun and parameter of the last record the path names (the one a 404 is about
    is the innermost: /contracts/{contract_id}/lines/{line_id} -> line)."""
    parts = path.strip("/").split("/")
    for index in range(len(parts) - 1, 0, -1):
        match = _PARAM.fullmatch(parts[index])
        if match:
            return _noun(parts[index - 1]), match.group(1)
    return None


def problem_example(
    status: int,
    path: str,
    method: str,
    operation: dict[str, Any],
    components: dict[str, Any],
) -> dict[str, Any]:
    """An answer of this status as the service gives it on this operation."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + _code(status),
        "title": status_title(status),
        "status": status,
        "detail": None,
        "instance": _instance(path),
        "request_id": "5f0c6b1e9a2d4c7e8b3a1f6d2e9c4b7a",
    }
    specific = _SPECIFIC_PROBLEMS.get((operation.get("operationId", ""), status))
    if specific is not None:
        body.update(specific)
        return body
    if status == 401:
        if path.startswith(f"{API}/webhooks/"):
            body["detail"] = "The webhook was not accepted: no webhook-signature matches the "
            body["detail"] += "vendor's secret."
        else:
            body["detail"] = "An API key is required: send `Authorization: Bearer <key>`."
    elif status == 403:
        scope = "read" if method == "get" else "admin" if "/api-keys" in path else "write"
        body["detail"] = f"This API key lacks the '{scope}' scope."
    elif status == 404:
        record = _last_record(path)
        noun = record[0] if record else "record"
        body["detail"] = f"{noun} 42 does not exist"
        if noun == "contract line":
            body["detail"] += " in contract 42"
    elif status == 409:
        if method == "delete":
            record = _last_record(path)
            noun = record[0] if record else "record"
            body["detail"] = (
                f"{noun} 42 is still referenced by 2 contract lines; remove or reassign those "
                "first."
            )
            body["referenced_by"] = ["2 contract lines"]
        elif method == "post":
            body["type"] = PROBLEM_BASE + "idempotency-in-progress"
            body["detail"] = "A request with this Idempotency-Key is still being processed."
        else:
            body["detail"] = (
                "The change conflicts with existing data (a duplicate or a record still in use)."
            )
    elif status == 413:
        body["detail"] = "The request body is larger than 20971520 bytes."
        body.pop("request_id")
    elif status == 422:
        field, message, kind = _invalid_field(method, operation, components)
        body["detail"] = "The request is not valid: see errors."
        body["errors"] = [{"field": field, "message": message, "type": kind}]
    elif status == 503:
        body["detail"] = "The database is unavailable; retry later."
    return body


def _code(status: int) -> str:
    return {
        401: "unauthorized",
        403: "forbidden",
        404: "not-found",
        409: "conflict",
        413: "content-too-large",
        422: "validation-error",
        503: "service-unavailable",
    }.get(status, status_title(status).lower().replace(" ", "-"))


def _instance(path: str) -> str:
    return _PARAM.sub("42", path)


def _invalid_field(
    method: str, operation: dict[str, Any], components: dict[str, Any]
) -> tuple[str, str, str]:
    """A field of this operation, what validation says when it is wrong, and its type."""
    names = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        if "multipart/form-data" in content:
            return "form.total", "at most 2 decimal places are allowed", "value_error"
        schema = content["application/json"]["schema"]
        for choice in schema.get("anyOf", [schema]):
            model = components.get(choice.get("$ref", "").rsplit("/", 1)[-1], choice)
            if model.get("required"):
                return f"body.{model['required'][0]}", "Field required", "missing"
            if method == "patch" and model.get("properties"):
                # docs/README.md#errors: a PATCH may not null a field that cannot be empty.
                return f"body.{next(iter(model['properties']))}", "must not be null", "null"
        return "body", "Field required", "missing"
    if ("query", "limit") in names:
        return "query.limit", "Input should be less than or equal to 500", "less_than_equal"
    for where, name in sorted(names):
        if where == "path" and name.endswith("_id"):
            return f"path.{name}", "Input should be a valid integer", "int_parsing"
        if where == "path" and name == "period":
            return "path.period", "must be a period written YYYY-MM, e.g. 2026-10", "value_error"
        if where == "path":
            return f"path.{name}", "String should have at most 200 characters", "string_too_long"
    for where, name in sorted(names):
        if where == "query" and parameter_required(operation, name):
            return f"query.{name}", "Field required", "missing"
    return "query", "Input should be a valid value", "value_error"


def parameter_required(operation: dict[str, Any], name: str) -> bool:
    return any(p["name"] == name and p.get("required") for p in operation.get("parameters", []))


def _referenced(noun: str, holders: list[str]) -> dict[str, Any]:
    return {
        "detail": f"{noun} 42 is still referenced by {', '.join(holders)}; remove or reassign "
        "those first.",
        "referenced_by": holders,
    }


_DUPLICATE_INVOICE = {
    "type": PROBLEM_BASE + "duplicate-invoice",
    "detail": "Vendor 3 already sent invoice INV-2026-10-001 (invoice 42): duplicate invoice "
    "number.",
    "errors": [
        {
            "field": "body.invoice_number",
            "message": "duplicate invoice number",
            "type": "duplicate",
        }
    ],
    "invoice_id": 42,
}
_MISSING_QUICKBOOKS = {
    "detail": "The export cannot refer to QuickBooks' own records: 2 record(s) have no "
    "quickbooks_id (see missing); lines without a service need "
    "MSP_QUICKBOOKS_DEFAULT_ITEM_ID, which is not set.",
    "missing": [
        {"kind": "customer", "id": 7, "name": "Acme Dental"},
        {"kind": "service", "id": 12, "name": "Managed workstation"},
    ],
    "missing_settings": ["MSP_QUICKBOOKS_DEFAULT_ITEM_ID"],
}

# Answers that carry more than the usual members, by operation and status.
_SPECIFIC_PROBLEMS: dict[tuple[str, int], dict[str, Any]] = {
    ("create_vendor_invoice", 409): _DUPLICATE_INVOICE,
    ("import_vendor_invoice", 409): _DUPLICATE_INVOICE,
    ("import_vendor_invoice", 422): {
        "detail": "The import is not valid (2 errors): see errors. Nothing was stored.",
        "errors": [
            {
                "field": "file.line 3.quantity",
                "message": "at most 6 decimal places are allowed",
                "type": "value_error",
            },
            {
                "field": "file.line 7.unit_cost",
                "message": "Field required",
                "type": "missing",
            },
        ],
        "error_count": 2,
    },
    ("receive_vendor_invoice", 409): {
        **_DUPLICATE_INVOICE,
        "event_id": 118,
    },
    ("receive_vendor_invoice", 422): {
        "detail": "The invoice is not valid: see errors.",
        "errors": [
            {
                "field": "body.lines.0.unit_cost",
                "message": "at most 6 decimal places are allowed",
                "type": "value_error",
            }
        ],
        "event_id": 118,
    },
    ("replay_webhook_event", 409): {
        "detail": "Webhook event 42 is already processed (invoice 57).",
        "event_id": 42,
        "invoice_id": 57,
    },
    ("get_quickbooks_invoice", 409): _MISSING_QUICKBOOKS,
    ("export_quickbooks", 409): _MISSING_QUICKBOOKS,
    ("delete_customer", 409): _referenced("customer", ["1 contract", "2 vendor accounts"]),
    ("delete_vendor", 409): _referenced("vendor", ["3 services", "12 vendor invoices"]),
    ("delete_service", 409): _referenced("service", ["4 contract lines", "2 assets"]),
    ("delete_contract", 409): _referenced("contract", ["3 contract lines"]),
    ("get_customer_audit_report", 404): {"detail": "customer 42 does not exist"},
    ("get_target", 404): {"detail": "no target is set for 2026-10"},
    ("get_readiness", 503): {"detail": "The database is not reachable."},
}


# --- parameters ------------------------------------------------------------------------------

_FILTERS = {
    "active": "Only active (true) or inactive (false) records",
    "status": "Only those in this status",
    "type": "Only findings of this type",
    "invoice_number": "Only the invoice with this number (exact)",
}


def _parameter_description(path: str, parameter: dict[str, Any]) -> str:
    """Words for the parameters every domain shares (record ids and filters), so each
    route does not repeat them."""
    name: str = parameter["name"]
    if parameter["in"] == "path":
        segment = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
        return f"The {_noun(segment)}'s id"
    if name.endswith("_id"):
        noun = name.removesuffix("_id").replace("_", " ")
        if parameter.get("required"):
            return f"The {noun}'s id"
        return f"Only those of this {noun} (its id)"
    return _FILTERS.get(name, "")
