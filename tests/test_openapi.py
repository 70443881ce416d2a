"""The committed openapi/openapi.json is what the app serves, and every route is documented."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs

from app.api_docs.examples import REQUEST_EXAMPLES
from app.api_docs.schema import OPERATION_IDS
from app.openapi import document, render

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "openapi" / "openapi.json"
APP = ROOT / "app"
WEBHOOKS = "/api/v1/webhooks/"


def test_committed_copy_matches_the_app() -> None:
    assert COMMITTED.exists(), "run `make openapi` and commit openapi/openapi.json"
    assert json.loads(COMMITTED.read_text()) == document(), (
        "openapi/openapi.json drifted from the app: run `make openapi` and commit it"
    )
    assert COMMITTED.read_text() == render()


def test_every_operation_is_documented() -> None:
    spec: dict[str, Any] = document()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer msp_...`",
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), f"{where} has no summary"
            assert operation.get("tags"), f"{where} has no tag"
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, f"{where} documents no success response"
            if path.startswith(WEBHOOKS):
                # The vendor webhooks are the one API path without a key (docs/webhooks.md);
                # they authenticate by signature, and say so with a 401.
                assert not operation.get("security"), f"{where} must not demand an API key"
                assert "401" in responses, f"{where} does not document its 401"
                assert "403" not in responses, f"{where} has no scopes to refuse"
            elif path.startswith("/api/v1/"):
                assert operation.get("security") == [{"ApiKey": []}], f"{where} lacks security"
                assert "401" in responses and "403" in responses, f"{where} lacks 401/403"
            if path.startswith("/api/v1/"):
                for code, answer in responses.items():
                    if code[0] in "45":
                        content = answer["content"]
                        assert "application/problem+json" in content, f"{where} {code}"
            for code in success:
                if code != "204":
                    assert "content" in responses[code], f"{where} {code} has no response model"


def test_every_create_documents_idempotency() -> None:
    """Every POST under /api/v1 takes an Idempotency-Key and may answer 409
    (a retry while the first is still running); the webhooks have their own webhook-id."""
    spec: dict[str, Any] = document()
    posts = [
        (path, operations["post"])
        for path, operations in spec["paths"].items()
        if path.startswith("/api/v1/") and "post" in operations
    ]
    assert len(posts) >= 10
    for path, operation in posts:
        where = f"POST {path}"
        headers = [p for p in operation.get("parameters", []) if p["in"] == "header"]
        idempotency = [p for p in headers if p["name"].lower() == "idempotency-key"]
        if path.startswith(WEBHOOKS):
            assert idempotency == [], f"{where} is keyed by webhook-id, not Idempotency-Key"
            continue
        assert len(idempotency) == 1, f"{where} does not document Idempotency-Key"
        [header] = idempotency
        assert header["required"] is False, where
        assert header["schema"] == {"type": "string", "maxLength": 255}, where
        assert "409" in operation["responses"], f"{where} does not document 409"
        answer = operation["responses"]["409"]
        assert "application/problem+json" in answer["content"], where
    # Only creates take the header.
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "post":
                names = [p["name"].lower() for p in operation.get("parameters", [])]
                assert "idempotency-key" not in names, f"{method.upper()} {path}"


async def test_the_app_serves_the_document_and_swagger(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == document()
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    # The pages name their assets on this server, never a CDN.
    redoc = await client.get("/redoc")
    for page in (docs, redoc):
        assert "http" not in page.text.replace("http-equiv", ""), page.text
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            answer = await client.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 500, asset


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def test_operation_ids_are_method_names() -> None:
    """A generated client names its methods after operationIds: snake_case verbs with no
    path or method fragments (`list_customers`, not `list_customers_api_v1_customers_get`),
    each used once, and every renaming in OPERATION_IDS still names a route."""
    spec: dict[str, Any] = document()
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for ident in ids:
        assert re.fullmatch(r"[a-z]+(_[a-z0-9]+)*", ident), ident
        assert "api_v1" not in ident and not re.search(r"_(get|post|put|patch|delete)$", ident)
    assert {"list_customers", "get_customer", "create_customer", "create_audit"} <= set(ids)
    assert "list_vendor_invoices" in ids and "list_customer_invoices" in ids
    routes = {(method.upper(), path) for path, method, _ in _operations(spec)}
    assert set(OPERATION_IDS) <= routes, set(OPERATION_IDS) - routes


def test_every_operation_and_parameter_is_described() -> None:
    spec: dict[str, Any] = document()
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        assert len(operation.get("description", "")) >= 20, f"{where} has no description"
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), f"{where}: {parameter['name']} undescribed"
    customer = spec["paths"]["/api/v1/contracts/{contract_id}/lines/{line_id}"]["get"]
    descriptions = {p["name"]: p["description"] for p in customer["parameters"]}
    assert descriptions == {"contract_id": "The contract's id", "line_id": "The contract line's id"}


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def test_every_request_body_has_a_valid_example() -> None:
    """Shown in Swagger UI's "Try it out" and ReDoc: each example must be a body the
    operation's schema accepts."""
    spec: dict[str, Any] = document()
    bodies = 0
    for path, method, operation in _operations(spec):
        if "requestBody" not in operation:
            continue
        for media_type, media in operation["requestBody"]["content"].items():
            where = f"{method.upper()} {path} {media_type}"
            assert "example" in media, f"{where} has no example"
            bodies += 1
            example = media["example"]
            assert example == REQUEST_EXAMPLES[operation["operationId"]]
            if media_type == "multipart/form-data":
                fields = _resolve(spec, media["schema"])["properties"]
                assert set(example) <= set(fields), where
                continue
            schema = {**media["schema"], "components": spec["components"]}
            errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(example)]
            assert errors == [], f"{where}: {errors}"
    assert bodies == len(REQUEST_EXAMPLES), "an example names no operation with a body"


PROBLEM_STATUSES = {"401", "403", "404", "409", "413", "422", "503"}


def test_every_error_answer_shows_an_example_of_its_own_status() -> None:
    spec: dict[str, Any] = document()
    problem = spec["components"]["schemas"]["Problem"]
    seen: set[str] = set()
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        if "requestBody" in operation:
            assert "413" in responses, f"{where} does not document the body limit"
        if path.startswith("/api/v1/"):
            assert "503" in responses, f"{where} does not document 503"
            retry = responses["503"]["headers"]["Retry-After"]
            assert retry["schema"]["type"] == "integer", where
        for code, answer in responses.items():
            if code[0] not in "45":
                continue
            seen.add(code)
            example = answer["content"]["application/problem+json"]["example"]
            assert example["status"] == int(code), f"{where} {code}: {example}"
            assert example["title"] == answer["description"], f"{where} {code}"
            assert example["type"].startswith("urn:msp-ledger:problem:"), f"{where} {code}"
            assert example["detail"], f"{where} {code}"
            unknown = set(example) - set(problem["properties"])
            assert not unknown, f"{where} {code}: {unknown} not in Problem"
            if code == "422":
                assert example["errors"], f"{where} 422 names no field"
    assert seen == PROBLEM_STATUSES
    by_id = {op["operationId"]: op for _, _, op in _operations(spec)}
    answer = by_id["delete_customer"]["responses"]["409"]["content"]["application/problem+json"]
    assert answer["example"]["referenced_by"] == ["1 contract", "2 vendor accounts"]
    answer = by_id["get_customer"]["responses"]["404"]["content"]["application/problem+json"]
    assert answer["example"]["detail"] == "customer 42 does not exist"


def test_problem_documents_every_extra_member() -> None:
    """Every member some answer adds to a problem (`extra={...}` or `extra["..."]` where
    the errors are raised) is a documented property of Problem, so clients can read it."""
    properties = document()["components"]["schemas"]["Problem"]["properties"]
    # (app/core/logging.py passes `extra` to log records, not to problems.)
    source = "\n".join(p.read_text() for p in APP.rglob("*.py") if p.name != "logging.py")
    extras = set(re.findall(r'(?<!\w)extra=\{\s*"(\w+)"', source))
    extras |= set(re.findall(r'(?<!\w)extra\["(\w+)"\]', source))
    extras |= set(re.findall(r'extra=\{\s*\*\*exc\.extra,[^}]*?"(\w+)"', source, re.S))
    assert {"event_id", "invoice_id", "referenced_by", "error_count"} <= extras
    assert {"missing_settings"} <= extras
    extras.discard("instance")  # a standard member, given explicitly by the webhook inbox
    assert extras <= set(properties), extras - set(properties)
    assert {"missing", "request_id", "errors", "instance"} <= set(properties)


MONEY = re.compile(r"(price|cost|amount|total|revenue|profit|impact|quantity|units)$")


def test_money_in_answers_is_a_decimal_string_with_an_example() -> None:
    """A generated client types money as a string; the schema says how it is written."""
    spec: dict[str, Any] = document()
    checked = 0
    for name, schema in spec["components"]["schemas"].items():
        if not name.endswith(("Read", "Detail", "Row", "Figures")):
            continue
        for field, prop in schema.get("properties", {}).items():
            if not MONEY.search(field):
                continue
            for choice in prop.get("anyOf", [prop]):
                if choice.get("type") == "null":
                    continue
                where = f"{name}.{field}"
                assert choice.get("type") == "string", where
                assert choice.get("examples") or prop.get("examples"), where
                checked += 1
    assert checked >= 20
    unit_price = spec["components"]["schemas"]["ServiceRead"]["properties"]["unit_price"]
    assert unit_price["examples"] == ["27.50"] and re.fullmatch(unit_price["pattern"], "0.0875")
    total = spec["components"]["schemas"]["VendorInvoiceRead"]["properties"]["total"]
    assert re.fullmatch(total["pattern"], "-1234.50") and not re.fullmatch(total["pattern"], "1.5")
