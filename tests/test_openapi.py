"""The committed openapi/openapi.json is what the app serves, and every route is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from app.openapi import document, render

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
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
