"""Text for programs that read Windows-1252 only (QuickBooks Desktop's IIF): every character
the code page holds stays, every other becomes its closest ASCII form
(docs/exports.md#transliteration)."""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def _table(originals: str, latin: str) -> dict[str, str]:
    """Pairs a string of letters with a space-separated list of their Latin forms."""
    forms = latin.split()
    assert len(originals) == len(forms), (originals, forms)
    return dict(zip(originals, forms, strict=True))


# Letters that Unicode does not decompose into a base letter and a mark (so NFKD leaves
# them whole), and the Cyrillic and Greek alphabets, which are not Latin at all. Cyrillic
# follows the usual passport romanisation (Ж -> Zh, Щ -> Shch), Greek its ELOT 743 forms;
# letters with accents (Й, Ё, Ї, ά) are listed or reach their base letter through NFKD.
LETTERS: dict[str, str] = {
    **_table("ŁłĐđĦħıĸŊŋŦŧĿŀĲĳſẞƏə", "L l D d H h i k N n T t L l IJ ij s SS E e"),
    **_table(
        "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
        "A B V G D E Yo Zh Z I Y K L M N O P R S T U F Kh Ts Ch Sh Shch ' Y ' E Yu Ya",
    ),
    **_table(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch ' y ' e yu ya",
    ),
    **_table(
        "ІіЇїЄєҐґЎўЈјЉљЊњЋћЏџЂђЅѕ",
        "I i Yi yi Ye ye G g U u J j Lj lj Nj nj C c Dz dz Dj dj Dz dz",
    ),
    **_table(
        "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ",
        "A V G D E Z I Th I K L M N X O P R S T Y F Ch Ps O",
    ),
    **_table(
        "αβγδεζηθικλμνξοπρσςτυφχψω",
        "a v g d e z i th i k l m n x o p r s s t y f ch ps o",
    ),
}

UNKNOWN = "?"


def _fits(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


@lru_cache(maxsize=4096)
def _character(char: str) -> str:
    if _fits(char):
        return char
    if char in LETTERS:
        return LETTERS[char]
    # ź is z and a combining acute, ﬁ is f and i: keep the parts the code page holds,
    # drop the marks.
    parts = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(part):
            continue
        if _fits(part):
            parts.append(part)
        elif part in LETTERS:
            parts.append(LETTERS[part])
        else:
            parts.append(UNKNOWN)
    return "".join(parts) or UNKNOWN


def transliterate(text: str) -> str:
    """`text` with every character Windows-1252 lacks replaced by its closest ASCII form
    ("Łódź" -> "Lódz", "Иванов" -> "Ivanov"), or "?" when it has none."""
    if _fits_all(text):
        return text
    return "".join(_character(char) for char in text)


def _fits_all(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
