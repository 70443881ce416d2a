"""CSV import of vendor invoices (`/vendor-invoices/import`,
docs/month-arithmetic.md#vendor-invoices): reading the files distributors really export
into the same invoice as the JSON POST.

Parsing is plain functions, no HTTP. Every row goes through `InvoiceLineIn`, so the money
rules (docs/README.md#money) stay in one place; a bad row fails the whole import, and the errors
name the file's line (as an editor numbers it) and the column, for every bad row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import repeatable_reads
from app.core.errors import Invalid, field_error
from app.core.money import Amount
from app.core.periods import PeriodField
from app.core.types import Currency, Day, Id, Name
from app.vendor_invoices import service
from app.vendor_invoices.models import (
    MAX_LINES,
    InvoiceLineIn,
    InvoiceSource,
    VendorInvoicePayload,
    VendorInvoiceReceived,
)
from app.vendors.models import Vendor

BASE_COLUMNS = ("vendor_sku", "account_ref", "description", "quantity", "unit_cost", "amount")
# Optional, for real distributor bills (docs/vendor-bills.md): ISO dates.
CHARGE_COLUMNS = ("kind", "charge_start", "charge_end", "subscription_ref", "term_end")
COLUMNS = BASE_COLUMNS + CHARGE_COLUMNS
HEADER = ",".join(BASE_COLUMNS)
REQUIRED_COLUMNS = ("vendor_sku", "account_ref", "quantity", "unit_cost")
NUMBER_COLUMNS = frozenset({"quantity", "unit_cost", "amount"})
# Errors listed in one answer; the rest are counted (`error_count`).
MAX_ERRORS = 100
# 50,000 rows with long descriptions stay well below this.
MAX_FILE_BYTES = 32 * 1024 * 1024
FORM_FIELDS = ("vendor_id", "invoice_number", "invoice_date", "period", "total", "currency")


class ImportForm(BaseModel):
    """The form fields: the invoice header of `VendorInvoiceCreate`, with the same types."""

    vendor_id: Id
    invoice_number: Name
    invoice_date: Day
    period: PeriodField
    currency: Currency | None = None
    total: Amount


@dataclass
class ErrorList:
    """Field errors of one import, capped at MAX_ERRORS listed; all are counted."""

    items: list[dict[str, str]] = field(default_factory=list)
    count: int = 0

    def add(self, where: str, message: str, kind: str = "value_error") -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(field_error(where, message, kind))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        detail = f"The import is not valid ({self.count} error{'s' if self.count > 1 else ''})"
        if self.count > len(self.items):
            detail += f"; the first {len(self.items)} are listed"
        raise Invalid(
            detail + ": see errors. Nothing was stored.",
            errors=self.items,
            extra={"error_count": self.count},
        )


def _message(error: Mapping[str, Any]) -> str:
    # pydantic prefixes messages raised from our validators with "Value error, ".
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


# --- form --------------------------------------------------------------------------------------


def parse_form(fields: Mapping[str, str | None], errors: ErrorList) -> ImportForm | None:
    """The form fields as an ImportForm; None (and errors `form.<name>`) when not valid."""
    given = {name: value for name, value in fields.items() if value is not None and value != ""}
    try:
        return ImportForm.model_validate(given)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"])
            message = "is required" if error["type"] == "missing" else _message(error)
            errors.add(f"form.{name}", message, error["type"])
        return None


# --- file --------------------------------------------------------------------------------------


def decode(content: bytes | None, errors: ErrorList) -> str | None:
    """The file's text: UTF-8, with or without a BOM. None (and an error on `file`) else."""
    if content is None:
        errors.add("file", "a CSV file is required", "missing")
        return None
    if len(content) > MAX_FILE_BYTES:
        errors.add("file", f"the file is larger than {MAX_FILE_BYTES // 2**20} MiB", "too_large")
        return None
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        errors.add("file", "the file is UTF-16 text; export it as CSV UTF-8", "encoding")
        return None
    if content.startswith(b"PK\x03\x04"):
        errors.add(
            "file", "the file is a spreadsheet (xlsx), not CSV; export it as CSV UTF-8", "encoding"
        )
        return None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start]
        errors.add(
            f"file.line {line}",
            f"the file is not UTF-8 text (byte 0x{byte:02X} on line {line}); "
            "export it as CSV UTF-8",
            "encoding",
        )
        return None
    if not text.strip():
        errors.add("file", "the file is empty", "empty")
        return None
    return text


def detect_separator(text: str) -> str:
    """`;` or `,`: whichever the header line (the first non-blank one) holds more of."""
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


class CsvSyntaxError(Exception):
    """The file stops being CSV in the record that starts on `line`."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _records(text: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the file line it starts on (quoted fields may span lines).
    Blank records come too, as []."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=separator,
        quotechar='"',
        doublequote=True,
        skipinitialspace=True,
        strict=True,
    )
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvSyntaxError(start, str(exc)) from None
        yield start, record
        start = reader.line_num + 1


def header_key(cell: str) -> str:
    """A header as it is matched: case, spaces, `_` and `-` ignored (`Vendor SKU`,
    `vendor-sku` and `VendorSku` are one header; docs/vendor-bills.md#import-profiles)."""
    text = cell.strip().lstrip("\ufeff").lower()
    return "".join(char for char in text if not char.isspace() and char not in "_-")


_COLUMN_BY_KEY = {header_key(name): name for name in COLUMNS}


def _column_name(cell: str) -> str:
    return _COLUMN_BY_KEY.get(header_key(cell), "")


def _header_positions(cells: list[str], line: int, errors: ErrorList) -> dict[str, int] | None:
    """Where each known column is; unknown columns are ignored, order is free."""
    positions: dict[str, int] = {}
    ok = True
    for index, cell in enumerate(cells):
        name = _column_name(cell)
        if name not in COLUMNS:
            continue
        if name in positions:
            errors.add(
                f"file.header.{name}", f"the column {name} appears twice (line {line})", "header"
            )
            ok = False
        positions[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in positions:
            errors.add(
                f"file.header.{name}",
                f"the header (line {line}) has no {name} column; expected {HEADER} "
                f"(description and amount are optional, as are {', '.join(CHARGE_COLUMNS)})",
                "header",
            )
            ok = False
    return positions if ok else None


def _quote(value: str, limit: int = 40) -> str:
    return f'"{value}"' if len(value) <= limit else f'"{value[:limit]}..."'


def _number(raw: str, separator: str) -> str:
    # With `;` as separator, exports from decimal-comma locales write "1,50". Only a value
    # with one comma and no dot is read so: "1,234.50" or "1,234,567" stay errors.
    if separator == ";" and "." not in raw and raw.count(",") == 1:
        return raw.replace(",", ".")
    return raw


def _row_values(cells: list[str], positions: Mapping[str, int], separator: str) -> dict[str, str]:
    values = {}
    for name, index in positions.items():
        raw = cells[index].strip() if index < len(cells) else ""
        if raw:
            values[name] = _number(raw, separator) if name in NUMBER_COLUMNS else raw
    return values


def row_too_long(
    cells: list[str], width: int, start: int, separator: str, errors: ErrorList
) -> bool:
    """A row with more fields than the header (a separator inside an unquoted field):
    an error on its line."""
    if len(cells) > width and any(cell.strip() for cell in cells[width:]):
        errors.add(
            f"file.line {start}",
            f"the row has {len(cells)} fields but the header has {width}; quote "
            f'fields that contain the separator "{separator}"',
            "row_length",
        )
        return True
    return False


def parse_csv(text: str, errors: ErrorList) -> list[InvoiceLineIn]:
    """The invoice lines of a decoded file; errors for each bad row and column."""
    separator = detect_separator(text)
    positions: dict[str, int] | None = None
    width = 0
    header_seen = False
    lines: list[InvoiceLineIn] = []
    rows = 0
    try:
        for start, cells in _records(text, separator):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, or lines of separators only
            if not header_seen:
                header_seen = True
                width = len(cells)
                positions = _header_positions(cells, start, errors)
                if positions is None:
                    return []  # without the columns no row can be read
                continue
            assert positions is not None
            rows += 1
            if rows > MAX_LINES:
                errors.add(
                    "file",
                    f"the file has more than {MAX_LINES} rows, the most one invoice may "
                    "have; split it",
                    "too_many_rows",
                )
                return []
            if row_too_long(cells, width, start, separator, errors):
                continue
            values = _row_values(cells, positions, separator)
            try:
                lines.append(InvoiceLineIn.model_validate(values))
            except ValidationError as exc:
                for error in exc.errors(include_url=False):
                    column = str(error["loc"][0]) if error["loc"] else ""
                    if error["type"] == "missing":
                        message = "is empty; a value is required"
                    else:
                        message = _message(error)
                        if column in values:
                            message += f" (found {_quote(values[column])})"
                    # A rule across columns (charge dates, an empty SKU) names the row.
                    where = f"file.line {start}.{column}" if column else f"file.line {start}"
                    errors.add(where, message, error["type"])
    except CsvSyntaxError as exc:
        errors.add(
            f"file.line {exc.line}", f"the file is not valid CSV from this line: {exc}", "csv"
        )
        return []
    if not header_seen:
        errors.add("file", f"the file has no header line; expected {HEADER}", "header")
    elif rows == 0:
        errors.add("file", "the file has a header but no data rows", "empty")
    return lines


# --- the import --------------------------------------------------------------------------------


def build_payload(
    fields: Mapping[str, str | None], content: bytes | None
) -> tuple[int, VendorInvoicePayload]:
    """The vendor id and the invoice of a form and its file; Invalid with every error else.

    The form and the file are both checked, so one answer lists everything to fix."""
    errors = ErrorList()
    form = parse_form(fields, errors)
    text = decode(content, errors)
    lines = parse_csv(text, errors) if text is not None else []
    errors.raise_if_any()
    assert form is not None
    return form.vendor_id, _payload(form, lines)


def _payload(form: ImportForm, lines: list[InvoiceLineIn]) -> VendorInvoicePayload:
    data = {**form.model_dump(exclude={"vendor_id"}), "lines": lines}
    try:
        return VendorInvoicePayload.model_validate(data)
    except ValidationError as exc:  # the form and rows passed already: a safety net
        errors = ErrorList()
        for error in exc.errors(include_url=False):
            where = ".".join(str(part) for part in error["loc"])
            errors.add(f"form.{where}", _message(error), error["type"])
        errors.raise_if_any()
        raise


async def import_invoice(
    session: AsyncSession, *, fields: Mapping[str, str | None], content: bytes | None
) -> VendorInvoiceReceived:
    """Store the CSV invoice through the one ingestion path, in one commit; answered with
    its checks (docs/checks.md)."""
    vendor_id, payload = build_payload(fields, content)
    await repeatable_reads(session)  # its checks read one state (docs/checks.md#consistency)
    vendor = await session.get(Vendor, vendor_id)
    if vendor is None:
        message = f"vendor {vendor_id} does not exist"
        raise Invalid(message, errors=[field_error("form.vendor_id", message, "not_found")])
    invoice = await service.ingest(
        session, vendor=vendor, payload=payload, source=InvoiceSource.csv, field_prefix="form"
    )
    checks = await service.announce(session, [invoice])
    await session.flush()
    assert invoice.id is not None
    return await service.received(session, invoice, checks[invoice.id])
