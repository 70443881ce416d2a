"""Counted nouns agree with their number in every message (app/core/wording.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.core.wording import counted


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [
        (1, "contract", "1 contract"),
        (0, "contract", "0 contracts"),
        (2, "customer invoice line", "2 customer invoice lines"),
        (3, "entry", "3 entries"),
        (2, "api key", "2 api keys"),
        (2, "box", "2 boxes"),
        (1, "entry", "1 entry"),
        (Decimal("1.0000"), "unit", "1 unit"),
        (Decimal("0.5"), "unit", "0.5 units"),
        (Decimal("-1"), "unit", "-1 units"),
        (Decimal("12.50"), "seat", "12.5 seats"),
    ],
)
def test_counted(count: int | Decimal, word: str, expected: str) -> None:
    assert counted(count, word) == expected


def test_an_irregular_plural_is_given() -> None:
    assert counted(2, "person", "people") == "2 people"
    assert counted(1, "person", "people") == "1 person"
