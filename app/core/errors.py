"""Domain errors and the one translation of every failure into RFC 9457 problem details."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

logger = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:msp-ledger:problem:"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. body.lines.0.quantity")
    message: str
    type: str = Field(description="Machine-readable error kind")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:msp-ledger:problem:not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(default=None, examples=["customer 42 does not exist"])
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = None
    errors: list[FieldError] | None = None


class AppError(Exception):
    """Raised by services; never an HTTPException (ARCHITECTURE: layers talk one way)."""

    status: int = 500
    code: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers


class Invalid(AppError):
    status = 422
    code = "validation-error"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not-found"

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFound:
        return cls(f"{kind} {ident} does not exist")


class Conflict(AppError):
    status = 409
    code = "conflict"


class ServiceUnavailable(AppError):
    status = 503
    code = "service-unavailable"


# RFC 9110 titles, fixed here so answers and the OpenAPI document do not depend on the
# Python version (3.13 renamed several http.HTTPStatus phrases).
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def field_error(field: str, message: str, kind: str = "value_error") -> dict[str, str]:
    return {"field": field, "message": message, "type": kind}


def problem_response(
    request: Request | None,
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    from app.core.logging import current_request_id

    title = status_title(status)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        request,
        exc.status,
        code=exc.code,
        detail=exc.detail,
        errors=exc.errors,
        extra=exc.extra,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value"))
        # pydantic prefixes messages raised from our validators with "Value error, ".
        message = message.removeprefix("Value error, ")
        errors.append(field_error(_loc_to_field(err.get("loc", ())), message, err.get("type", "")))
    return problem_response(
        request,
        422,
        code="validation-error",
        detail="The request is not valid: see errors.",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}"
        # Starlette's Allow names only the first route on the path; list them all.
        allowed = _allowed_methods(request)
        if allowed:
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path, found by asking the routes
    (FastAPI keeps included routers nested, so there is no flat list to read)."""
    allowed = []
    for method in _METHODS:
        probe = {
            "type": "http",
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "method": method,
            "headers": [],
        }
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # A race lost against a uniqueness or reference check that the service made
    # first: the database constraint is the final word.
    logger.info("integrity error: %s", exc.__class__.__name__)
    return problem_response(
        request,
        409,
        code="conflict",
        detail="The change conflicts with existing data (a duplicate or a record still in use).",
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    # The last line of defence behind validation: a value the database refuses (out of
    # range, a character it cannot store) is the client's input, not a server fault.
    logger.info("data error: %s", exc.__class__.__name__)
    return problem_response(
        request,
        422,
        code="validation-error",
        detail="A value cannot be stored: it is out of range or holds characters the "
        "database refuses.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry documenting problem answers for a route."""
    return {
        status: {
            "description": status_title(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
