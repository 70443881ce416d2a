"""Counted nouns in messages, in agreement with their number: "1 contract", "2 contracts",
"1.5 units"; one rule for every message that counts."""

from __future__ import annotations

from decimal import Decimal

from app.core.money import format_quantity


def plural(word: str) -> str:
    """The regular English plural of a noun or of a phrase ending in one ("contract line"
    -> "contract lines", "entry" -> "entries", "key" -> "keys", "box" -> "boxes")."""
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def counted(count: int | Decimal, word: str, many: str | None = None) -> str:
    """`count` and the noun, singular only for exactly one: "1 seat", "0 seats",
    "0.5 seats"; `many` for a plural that is not the regular one. Decimals are written as
    quantities are (as few places as they need)."""
    text = format_quantity(count) if isinstance(count, Decimal) else str(count)
    return f"{text} {word if count == 1 else (many or plural(word))}"
