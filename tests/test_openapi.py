"""The committed openapi/openapi.json is what the app serves, and every route is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from app.openapi import document, render

COMMITTED = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


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
            if path.startswith("/api/v1/"):
                assert operation.get("security") == [{"ApiKey": []}], f"{where} lacks security"
                assert "401" in responses and "403" in responses, f"{where} lacks 401/403"
                for code, answer in responses.items():
                    if code[0] in "45":
                        content = answer["content"]
                        assert "application/problem+json" in content, f"{where} {code}"
            for code in success:
                if code != "204":
                    assert "content" in responses[code], f"{where} {code} has no response model"


async def test_the_app_serves_the_document_and_swagger(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == document()
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
