"""The one calendar: YYYY-MM periods, their days and month ends (docs/consistency.md#calendar)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

# ASCII digits only (\d alone also matches ٢٠٢٦ or ２０２６), matched whole: `$` would let a
# trailing newline through.
_PERIOD_RE = re.compile(r"(\d{4})-(0[1-9]|1[0-2])", re.ASCII)


@lru_cache(maxsize=4096)  # audits and reports ask for the same few months' ends again and again
def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_RE.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise ValueError("must be a period written YYYY-MM, e.g. 2026-10")
        year, month = int(match.group(1)), int(match.group(2))
        # The calendar of dates (app/core/types.py: 1900-01-01 to 9998-12-31): the month
        # arithmetic steps a day past a month's end, and 9999-12-31 is the last date
        # Python has (PostgreSQL's driver sends it as 'infinity').
        if year < 1900:
            raise ValueError("year must be 1900 or later")
        if year > 9998:
            raise ValueError("year must be 9998 or earlier")
        return cls(year, month)

    @classmethod
    def stored(cls, text: str) -> Period:
        """A period read back from the database, written by this service: not validated
        again (one stored before a bound was tightened still reads)."""
        year, month = text.split("-")
        return cls(int(year), int(month))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def days(self) -> int:
        return _days_in(self.year, self.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, self.days)

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_between(first: Period, last: Period) -> Iterator[Period]:
    """Every period from first to last, both inclusive."""
    current = first
    while current <= last:
        yield current
        current = current.next()


def month_count(first: Period, last: Period) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def overlap(
    start: date | None, end: date | None, first: date, last: date
) -> tuple[date, date] | None:
    """The days of [first, last] that also lie in [start, end] (None = unbounded)."""
    lo = max(first, start) if start else first
    hi = min(last, end) if end else last
    return (lo, hi) if lo <= hi else None


def days_inclusive(first: date, last: date) -> int:
    return (last - first).days + 1


@lru_cache(maxsize=4096)  # a month's lines share a few hundred charge periods
def share(start: date, end: date) -> Fraction:
    """How many months [start, end] (both days included) covers: the sum over the months
    it touches of its days in the month / the month's days, exact (docs/vendor-bills.md#share).
    1 for a whole month, 16/30 for 15-30 November, 12 for a year from the 1st."""
    total = Fraction(0)
    month = Period.of(start)
    while month.first_day <= end:
        lo, hi = max(start, month.first_day), min(end, month.last_day)
        total += Fraction(days_inclusive(lo, hi), month.days)
        month = month.next()
    return total


def share_through(start: date, end: date, month: Period) -> Fraction:
    """The share of [start, end] up to the last day of `month` (0 before it starts)."""
    last = min(end, month.last_day)
    return share(start, last) if start <= last else Fraction(0)


def day_before(day: date) -> date:
    return day - timedelta(days=1)


def _parse_period(value: Any) -> Period:
    if isinstance(value, Period):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a period written YYYY-MM, e.g. 2026-10")
    return Period.parse(value)


PeriodField = Annotated[
    Period,
    BeforeValidator(_parse_period),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2026-10"]}
    ),
]


# --- query parameters ----------------------------------------------------------------------


def parse_period_param(text: str, name: str) -> Period:
    """A YYYY-MM query parameter; a bad one is a 422 naming `query.<name>`."""
    from app.core.errors import Invalid, field_error

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Invalid(
            f"{name} is not a valid period.",
            errors=[field_error(f"query.{name}", str(exc), "period")],
        ) from None


def period_range_params(from_text: str, to_text: str, *, max_months: int) -> tuple[Period, Period]:
    """The `from`/`to` query pair of a range: two periods, in order, at most `max_months`."""
    from app.core.errors import Invalid, field_error

    errors = []
    periods: dict[str, Period] = {}
    for name, text in (("from", from_text), ("to", to_text)):
        try:
            periods[name] = Period.parse(text)
        except ValueError as exc:
            errors.append(field_error(f"query.{name}", str(exc), "period"))
    if errors:
        raise Invalid("The period range is not valid: see errors.", errors=errors)
    first, last = periods["from"], periods["to"]
    if first > last:
        message = f"to ({last}) must not be before from ({first})."
        raise Invalid(message, errors=[field_error("query.to", message, "period_order")])
    if month_count(first, last) > max_months:
        message = f"a range covers at most {max_months} months."
        raise Invalid(message, errors=[field_error("query.to", message, "period_range")])
    return first, last


async def _period_query(
    period: Annotated[str, Query(description="A calendar month, YYYY-MM", examples=["2026-10"])],
) -> Period:
    return parse_period_param(period, "period")


async def _optional_period_query(
    period: Annotated[
        str | None, Query(description="A calendar month, YYYY-MM", examples=["2026-10"])
    ] = None,
) -> Period | None:
    return None if period is None else parse_period_param(period, "period")


PeriodQuery = Annotated[Period, Depends(_period_query)]
OptionalPeriodQuery = Annotated[Period | None, Depends(_optional_period_query)]
