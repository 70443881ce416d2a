"""The one calendar: YYYY-MM periods, their days and month ends (SPEC section 2 and 5)."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True, slots=True)
class Period:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
        if not match:
            raise ValueError("must be a period written YYYY-MM, e.g. 2026-10")
        year, month = int(match.group(1)), int(match.group(2))
        if year < 1900:
            raise ValueError("year must be 1900 or later")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

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
