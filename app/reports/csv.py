"""CSV downloads of reports (`Accept: text/csv`): the negotiation (also of the other
media types a report offers), the response and its OpenAPI entry, shared by every report
router."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

CSV_MEDIA_TYPE = "text/csv"
_JSON_TYPES = ("application/json", "application/problem+json")
# Text a spreadsheet would run as a formula; numbers (-12.50) are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _quality(accept: str, media_types: Sequence[str]) -> float:
    best = 0.0
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() not in media_types:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)  # a header weight, not money
                except ValueError:
                    quality = 0.0
        best = max(best, quality)
    return best


def preferred(request: Request, *offered: str) -> str | None:
    """Of the offered media types other than JSON, the one the client asks for most, if
    at least as much as for JSON (the first offered on a tie); None means JSON."""
    accept = request.headers.get("accept", "")
    best, best_quality = None, _quality(accept, _JSON_TYPES)
    for media_type in offered:
        quality = _quality(accept, (media_type,))
        if quality > 0 and quality >= best_quality and (best is None or quality > best_quality):
            best, best_quality = media_type, quality
    return best


def wants_csv(request: Request) -> bool:
    """True when the client asks for text/csv at least as much as for JSON."""
    return preferred(request, CSV_MEDIA_TYPE) == CSV_MEDIA_TYPE


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, list | tuple):
        return ";".join(_cell(item) for item in value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        try:
            Decimal(text)
        except ArithmeticError:
            return "'" + text
    return text


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], filename: str) -> Response:
    """A CSV document (RFC 4180, CRLF line ends) with a header line, as a download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return Response(
        content=buffer.getvalue(),
        media_type=f"{CSV_MEDIA_TYPE}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def model_rows(items: Iterable[BaseModel], columns: Sequence[str]) -> list[list[Any]]:
    """The named fields of each model, as the JSON answer spells them."""
    dumped = (item.model_dump(mode="json", by_alias=True) for item in items)
    return [[row.get(column) for column in columns] for row in dumped]


def csv_responses(example: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry: the 200 answer is also available as text/csv."""
    return {
        200: {
            "description": "The report as JSON, or as CSV with `Accept: text/csv`",
            "content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}, "example": example}},
        }
    }
