"""Domain errors and the one translation of every failure into RFC 9457 problem details."""

from __future__ import annotations

import logging
import sys
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
)
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.context import current_request_id

logger = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:msp-ledger:problem:"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. body.lines.0.quantity")
    message: str
    type: str = Field(description="Machine-readable error kind")


class MissingRecord(BaseModel):
    kind: str = Field(description="customer or service", examples=["customer"])
    id: int
    name: str


class Problem(BaseModel):
    """RFC 9457 problem details (docs/README.md#errors): the members every answer has, and
    those some answers add."""

    type: str = Field(
        description="urn:msp-ledger:problem: and a code", examples=[PROBLEM_BASE + "not-found"]
    )
    title: str = Field(description="The status's name", examples=["Not Found"])
    status: int = Field(description="The HTTP status", examples=[404])
    detail: str | None = Field(
        default=None, description="What went wrong", examples=["customer 42 does not exist"]
    )
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = Field(
        default=None, description="Also in the X-Request-ID header; quote it when reporting"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="Field-level problems (422, and 409 on a duplicate)"
    )
    event_id: int | None = Field(
        default=None, description="The webhook event stored for this delivery or replayed"
    )
    invoice_id: int | None = Field(
        default=None,
        description="The vendor invoice that already holds the number (409 duplicate-invoice), "
        "or that a processed webhook event made",
    )
    referenced_by: list[str] | None = Field(
        default=None,
        description="What still refers to the record a DELETE asked for (409)",
        examples=[["2 contract lines"]],
    )
    error_count: int | None = Field(
        default=None,
        description="How many errors a CSV import found; `errors` lists the first 100",
    )
    missing: list[MissingRecord] | None = Field(
        default=None,
        description="Customers and services without a quickbooks_id (409 on a QuickBooks export)",
    )
    tolerance_id: int | None = Field(
        default=None,
        description="The tolerance that already covers the scope (409 on POST /tolerances)",
    )
    missing_settings: list[str] | None = Field(
        default=None,
        description="Settings a QuickBooks export needs that are not set (409)",
        examples=[["MSP_QUICKBOOKS_DEFAULT_ITEM_ID"]],
    )


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


# What a 503 asks the client to wait before trying again: long enough for a restart or
# a failover to finish, short enough that nobody gives up.
RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(AppError):
    status = 503
    code = "service-unavailable"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(self.headers or {})}


# SQLSTATE classes that say the database cannot serve now, not that the request is wrong:
# 08 connection exception (08003: the connection no longer exists), 53 insufficient
# resources (53300: too many connections), 57 operator intervention (57P01 an administrator
# shut the server down, 57P02 it crashed, 57P03 "the database system is shutting down" or
# starting up, 57014 a statement cancelled).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
# What the driver says when the server closed the connection under a statement.
_CLOSED_CONNECTION = ("connection is closed", "connection was closed")


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot serve right now (unreachable, shutting down,
    restarting, saturated): a 503 with Retry-After, not a fault of the request or a bug.

    SQLAlchemy wraps the driver's error (`.orig`), which asyncpg's adapter wraps again
    (`__cause__`); a shutdown can surface as any layer of that chain, and on connect it is
    a plain DBAPIError that SQLAlchemy does not mark as a disconnect, so every layer is
    looked at."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        if _unavailable_link(link):
            return True
        pending += [getattr(link, "orig", None), link.__cause__]
    return False


def _unavailable_link(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | PoolTimeout | DisconnectionError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
        return True
    if _is_interface_error(exc) and any(words in str(exc) for words in _CLOSED_CONNECTION):
        return True
    # Refused, reset, timed out, no route, a name that does not resolve: the network path
    # to the database. An OSError without an errno is some other fault.
    return isinstance(exc, ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and exc.errno is not None
    )


def _is_interface_error(exc: BaseException) -> bool:
    # The driver's own class is checked only when the driver is loaded: an error of a
    # driver that was never imported cannot be raised.
    asyncpg = sys.modules.get("asyncpg")
    return isinstance(exc, SAInterfaceError) or (
        asyncpg is not None and isinstance(exc, asyncpg.InterfaceError)
    )


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


def problem_body(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one shape of every problem answer (RFC 9457, docs/README.md#errors): type,
    title, status, detail, the path as `instance`, the request id, field `errors` and
    any extra members (`event_id`, `referenced_by`, ...). Used by the exception
    handlers, the last-resort handler, the Idempotency-Key and authentication
    middlewares and the webhook inbox, which stores the answers it replays."""
    title = status_title(status)
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (code or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


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
    body = problem_body(
        status,
        code=code,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=errors,
        extra=extra,
    )
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
    detail = "The request is not valid: see errors."
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # FastAPI names the body by the character where parsing stopped
            # (("body", 17)), which reads like a list index: say it in words instead.
            reason, at = _json_reason(err)
            errors.append(field_error("body", reason + at, "json_invalid"))
            detail = f"The body is not valid JSON: {reason}."
            continue
        message = str(err.get("msg", "invalid value"))
        # pydantic prefixes messages raised from our validators with "Value error, ".
        message = message.removeprefix("Value error, ")
        errors.append(field_error(_loc_to_field(err.get("loc", ())), message, err.get("type", "")))
    return problem_response(request, 422, code="validation-error", detail=detail, errors=errors)


def _json_reason(err: Any) -> tuple[str, str]:
    """Why the body is not JSON, and where (" at character N", or "" at the start)."""
    reason = str((err.get("ctx") or {}).get("error") or "malformed JSON")
    loc = tuple(err.get("loc", ()))
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else 0
    return reason, f" at character {position}" if position > 0 else ""


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
