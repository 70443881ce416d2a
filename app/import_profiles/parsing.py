"""Reading a distributor's CSV file through an import profile
(docs/vendor-bills.md#import-profiles): headers, numbers, dates, kinds, billing cycles
and skipped rows. Plain functions, no HTTP, no database.

Each row becomes an `InvoiceLineIn`, so the line rules stay in one place; a bad cell is
reported with its file line, field, column and value, and every bad cell is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from app.core.money import VENDOR_PLACES, round_half_up
from app.core.periods import share
from app.import_profiles.models import ANY, template_headers
from app.vendor_invoices.csv_import import (
    MAX_LINES,
    CsvSyntaxError,
    ErrorList,
    _message,
    _quote,
    _records,
    header_key,
    row_too_long,
)
from app.vendor_invoices.models import (
    MAX_CHARGE_DAYS,
    InvoiceLineIn,
    LineKind,
)

# The decimal places the import rounds a quantity or unit cost to (a usage line's, or a
# unit cost divided by its billing cycle): the most a vendor invoice line can hold
# (docs/vendor-bills.md#precision).
LINE_PLACES = VENDOR_PLACES

NUMBER_FIELDS = ("quantity", "unit_cost", "amount")
DATE_FIELDS = ("charge_start", "charge_end", "term_end")


@dataclass(frozen=True)
class Profile:
    """What the parser reads of a profile, built-in or stored."""

    name: str
    columns: Mapping[str, str]
    id: int | None = None
    vendor_id: int | None = None
    delimiter: str | None = None
    decimal_separator: str = "."
    date_format: str = "YYYY-MM-DD"
    kinds: tuple[tuple[str, str, LineKind], ...] = ()
    cycle_months: Mapping[str, int] = field(default_factory=dict)
    skip: tuple[tuple[str, str], ...] = ()
    # Fields whose columns a file may leave out (the canonical file's optional columns).
    optional: frozenset[str] = frozenset()
    # The import's own format, read as it always has been (csv_import.parse_csv).
    canonical: bool = False


@dataclass
class ParsedLine:
    row: int  # the file line the record starts on (0 for the canonical reader)
    line: InvoiceLineIn
    invoice_number: str | None = None
    invoice_date: date | None = None
    currency: str | None = None


# --- cells ---------------------------------------------------------------------------------

_CURRENCY_SIGNS = "$\u20ac\u00a3"
_NUMBER = re.compile(r"^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


def parse_number(raw: str, decimal_separator: str = ".") -> Decimal:
    """A number as spreadsheets and distributors write it: surrounding spaces, a currency
    sign, a leading apostrophe and the thousands separator (the other of "." and ",", in
    groups of three) are ignored; `(12.00)` is -12.00. ValueError saying why otherwise."""
    thousands = "," if decimal_separator == "." else "."
    example = f"1{thousands}234{decimal_separator}50"
    text = raw.strip().replace("\u00a0", " ")
    if text.startswith("'"):
        text = text[1:].strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    sign = ""
    for _ in range(3):  # a sign and a currency sign, in either order, either end
        if text[:1] in ("+", "-") and not sign:
            sign, text = text[0], text[1:].strip()
        elif text[:1] and text[:1] in _CURRENCY_SIGNS:
            text = text[1:].strip()
        elif text[-1:] and text[-1:] in _CURRENCY_SIGNS:
            text = text[:-1].strip()
    if negative and sign:
        raise ValueError(f"must be a number such as {example} or ({example})")
    whole, _, fraction = text.partition(decimal_separator)
    if decimal_separator in fraction or thousands in fraction:
        raise ValueError(f"must be a number such as {example}")
    if thousands in whole:
        groups = whole.split(thousands)
        if not (
            1 <= len(groups[0]) <= 3
            and all(g.isascii() and g.isdigit() for g in groups)
            and all(len(g) == 3 for g in groups[1:])
        ):
            raise ValueError(f"must be a number such as {example} (thousands in groups of 3)")
        whole = "".join(groups)
    plain = whole + ("." + fraction if decimal_separator in text else "")
    if not _NUMBER.match(plain):
        raise ValueError(f"must be a number such as {example}")
    try:
        value = Decimal(plain)
    except InvalidOperation:
        raise ValueError(f"must be a number such as {example}") from None
    return -value if negative or sign == "-" else value


_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE_PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "YYYY-MM-DD": (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + "$", re.ASCII), "ymd"),
    "MM/DD/YYYY": (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME + "$", re.ASCII), "mdy"),
    "DD/MM/YYYY": (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})" + _TIME + "$", re.ASCII), "dmy"),
    "DD.MM.YYYY": (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})" + _TIME + "$", re.ASCII), "dmy"),
}


def parse_date(raw: str, date_format: str = "YYYY-MM-DD") -> date:
    """A date in the profile's format or in ISO (always read); a time after it (a
    distributor's midnight) is ignored. ValueError saying why otherwise."""
    text = raw.strip()
    for name in dict.fromkeys(("YYYY-MM-DD", date_format)):
        pattern, order = _DATE_PATTERNS[name]
        found = pattern.match(text)
        if found:
            parts = dict(zip(order, (int(g) for g in found.groups()), strict=True))
            try:
                return date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                raise ValueError(f"is not a day of the calendar in {name}") from None
    also = "" if date_format == "YYYY-MM-DD" else " or YYYY-MM-DD"
    raise ValueError(f"must be a date written {date_format}{also}")


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _matches(cell: str, equals: str) -> bool:
    return equals == ANY or cell.strip().casefold() == equals.strip().casefold()


def detect_delimiter(text: str) -> str:
    """The delimiter of a file: whichever of `,` `;` tab `|` its header line (the first
    non-blank one) holds most of; `,` on a tie."""
    for line in text.splitlines():
        if line.strip():
            counts = {sep: line.count(sep) for sep in (",", ";", "\t", "|")}
            best = max(counts.values())
            return next(sep for sep in counts if counts[sep] == best)
    return ","


# --- the file ------------------------------------------------------------------------------


@dataclass
class _Layout:
    """Where the headers a profile names sit in one file."""

    index: dict[str, int]  # header key -> position
    fields: dict[str, str]  # the fields read from this file -> their column spec


def _layout(cells: list[str], line: int, profile: Profile, errors: ErrorList) -> _Layout | None:
    index: dict[str, int] = {}
    twice: set[str] = set()
    for position, cell in enumerate(cells):
        key = header_key(cell)
        if key in index:
            twice.add(key)
        index.setdefault(key, position)
    ok = True

    def need(header: str, where: str, purpose: str) -> bool:
        key = header_key(header)
        if key in twice:
            errors.add(where, f'the column "{header}" appears twice (line {line})', "header")
            return False
        if key not in index:
            errors.add(
                where, f'the header (line {line}) has no column "{header}" ({purpose})', "header"
            )
            return False
        return True

    fields: dict[str, str] = {}
    for name, spec in profile.columns.items():
        headers = template_headers(spec)
        if name in profile.optional and not all(header_key(h) in index for h in headers):
            continue
        found = [need(h, f"file.header.{name}", f"for {name}") for h in headers]  # all named
        if all(found):
            fields[name] = spec
        else:
            ok = False
    for number, (column, _equals, _kind) in enumerate(profile.kinds):
        ok = need(column, f"file.header.kinds.{number}", "named by a kinds rule") and ok
    for number, (column, _equals) in enumerate(profile.skip):
        ok = need(column, f"file.header.skip.{number}", "named by a skip rule") and ok
    return _Layout(index, fields) if ok else None


def parse_file(text: str, profile: Profile, errors: ErrorList) -> list[ParsedLine]:
    """The lines of a decoded file, read through the profile; errors for every bad cell."""
    separator = profile.delimiter or detect_delimiter(text)
    layout: _Layout | None = None
    width = 0
    rows = 0
    parsed: list[ParsedLine] = []
    try:
        for start, cells in _records(text, separator):
            if not any(cell.strip() for cell in cells):
                continue
            if layout is None:
                width = len(cells)
                layout = _layout(cells, start, profile, errors)
                if layout is None:
                    return []
                continue
            rows += 1
            if rows > MAX_LINES:
                errors.add(
                    "file", f"the file has more than {MAX_LINES} rows; split it", "too_many_rows"
                )
                return []
            if row_too_long(cells, width, start, separator, errors):
                continue
            line = _row(start, cells, layout, profile, errors)
            if line is not None:
                parsed.append(line)
    except CsvSyntaxError as exc:
        errors.add(
            f"file.line {exc.line}", f"the file is not valid CSV from this line: {exc}", "csv"
        )
        return []
    if layout is None and not errors.count:
        errors.add("file", "the file has no header line", "header")
    elif layout is not None and rows == 0:
        errors.add("file", "the file has a header but no data rows", "empty")
    return parsed


def _row(
    start: int, cells: list[str], layout: _Layout, profile: Profile, errors: ErrorList
) -> ParsedLine | None:
    def cell(header: str) -> str:
        position = layout.index[header_key(header)]
        return cells[position].strip() if position < len(cells) else ""

    for column, equals in profile.skip:
        if _matches(cell(column), equals):
            return None

    def value(name: str) -> str:
        spec = layout.fields.get(name)
        if spec is None:
            return ""
        headers = template_headers(spec)
        if headers == [spec]:
            return cell(spec)
        parts = [cell(h) for h in headers]
        if not any(parts):
            return ""
        return re.sub(r"\{([^{}]*)\}", lambda m: cell(m.group(1)), spec).strip()

    before = errors.count

    def bad(name: str, reason: str, found: str, kind: str = "value_error") -> None:
        column = layout.fields.get(name, name)
        errors.add(
            f"file.line {start}.{name}",
            f'{reason} (column "{column}", found {_quote(found)})',
            kind,
        )

    def read(name: str, reader: Callable[[str], Any]) -> Any:
        raw = value(name)
        if not raw:
            return None
        try:
            return reader(raw)
        except ValueError as exc:
            bad(name, str(exc), raw)
            return None

    kind = value("kind") or _kind(profile, cell).value
    numbers = {
        name: read(name, lambda raw: parse_number(raw, profile.decimal_separator))
        for name in NUMBER_FIELDS
    }
    # A distributor names the subscription's end on each of its rows, credits and usage
    # included; only a recurring line commits to it, so only there is it read
    # (docs/cancellations.md#term-end).
    dates = {
        name: read(name, lambda raw: parse_date(raw, profile.date_format))
        for name in DATE_FIELDS
        if name != "term_end" or kind == LineKind.recurring.value
    }
    invoice_date = read("invoice_date", lambda raw: parse_date(raw, profile.date_format))
    months = _cycle(profile, value("cycle"))
    if months is None:
        bad("cycle", "is not a billing cycle the profile knows", value("cycle"), "cycle")

    quantity, price, amount = numbers["quantity"], numbers["unit_cost"], numbers["amount"]
    rounds = kind == LineKind.usage.value and amount is not None
    unit_cost = price
    if price is not None and months is not None and months > 1:
        # The file's price is for `months` months; a line's unit cost is for one.
        unit_cost = round_half_up(Fraction(price) / months, LINE_PLACES)
        if amount is None and quantity is not None:
            amount = _undivided_amount(kind, quantity, price, months, dates)
    for name, number in (("quantity", quantity), ("unit_cost", unit_cost)):
        if number is None or decimal_places(number) <= LINE_PLACES:
            continue
        if rounds:
            if name == "quantity":
                quantity = round_half_up(number, LINE_PLACES)
            else:
                unit_cost = round_half_up(number, LINE_PLACES)
        else:
            bad(
                name,
                f"has {decimal_places(number)} decimal places; at most {LINE_PLACES} are "
                "allowed (a usage line's are rounded when it has an amount)",
                value(name),
            )
    if errors.count > before:
        return None

    data: dict[str, Any] = {
        "kind": kind,
        "vendor_sku": value("vendor_sku") or None,
        "account_ref": value("account_ref") or None,
        "description": value("description") or None,
        "quantity": None if quantity is None else f"{quantity:f}",
        "unit_cost": None if unit_cost is None else f"{unit_cost:f}",
        "amount": None if amount is None else f"{amount:f}",
        "charge_start": dates["charge_start"],
        "charge_end": dates["charge_end"],
        "subscription_ref": value("subscription_ref") or None,
        "term_end": dates.get("term_end"),
    }
    try:
        line = InvoiceLineIn.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] == "missing":
                message = "is empty; a value is required"
                spec = layout.fields.get(name)
                if spec is None and name:
                    message = "is required, and the profile maps no column to it"
                elif spec is not None:
                    message += f' (column "{spec}")'
                errors.add(f"file.line {start}.{name}", message, "missing")
            elif name:
                bad(name, _message(error), value(name) or str(data.get(name) or ""), error["type"])
            else:
                errors.add(f"file.line {start}", _message(error), error["type"])
        return None
    return ParsedLine(
        row=start,
        line=line,
        invoice_number=value("invoice_number") or None,
        invoice_date=invoice_date,
        currency=value("currency").upper() or None,
    )


def _kind(profile: Profile, cell: Callable[[str], str]) -> LineKind:
    for column, equals, kind in profile.kinds:
        if _matches(cell(column), equals):
            return kind
    return LineKind.recurring


def _cycle(profile: Profile, raw: str) -> int | None:
    """The months the file's price is for: 1 without cycle_months; None when the value
    matches no entry and there is no "*"."""
    if not profile.cycle_months:
        return 1
    for key, months in profile.cycle_months.items():
        if key != ANY and _matches(raw, key):
            return months
    return profile.cycle_months.get(ANY, None if raw else 1)


def _undivided_amount(
    kind: str, quantity: Decimal, price: Decimal, months: int, dates: Mapping[str, date | None]
) -> Decimal:
    # Without an amount in the file, work it out from the file's own price, so that the
    # rounding of the divided unit cost does not reach the amount
    # (docs/vendor-bills.md#billing-cycles).
    start, end = dates["charge_start"], dates["charge_end"]
    if kind != LineKind.recurring.value:
        return round_half_up(Fraction(quantity) * Fraction(price))
    sensible = start and end and 0 <= (end - start).days < MAX_CHARGE_DAYS
    months_covered = share(start, end) if start and end and sensible else Fraction(1)
    return round_half_up(Fraction(quantity) * Fraction(price) * months_covered / months)
