"""Transliteration for Windows-1252 (docs/exports.md#transliteration), table-driven: what
the code page holds stays byte for byte, the rest becomes its closest ASCII form."""

from __future__ import annotations

import pytest

from app.core.cp1252 import LETTERS, transliterate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Acme Ltd", "Acme Ltd"),
        # Windows-1252 has these: they stay.
        ("Müller GmbH", "Müller GmbH"),
        ("Café Łódź", "Café Lódz"),  # ó and é stay; Ł by the table, ź through NFKD
        ("Ærø Œuvre Straße Þór Ø € ™", "Ærø Œuvre Straße Þór Ø € ™"),
        # Letters NFKD does not decompose.
        ("Đorđević", "Dordevic"),
        ("Łukasz Ħal ıi", "Lukasz Hal ii"),
        # Marks NFKD separates.
        ("Dvořák Şahin Nguyễn Ő", "Dvorák Sahin Nguyen O"),
        # Compatibility forms.
        ("ﬁne ｆｕｌｌ", "fine full"),
        # Cyrillic and Greek.
        ("Иванов ООО", "Ivanov OOO"),
        ("Щукин Йогурт Ёж Київ", "Shchukin Yogurt Yozh Kiyiv"),
        ("Αθήνα Ελλάς", "Athina Ellas"),
        # Nothing close in ASCII.
        ("漢字 ✓", "?? ?"),
    ],
)
def test_transliterate(text: str, expected: str) -> None:
    assert transliterate(text) == expected
    transliterate(text).encode("cp1252")  # always encodable


def test_table_maps_only_what_windows_1252_lacks_to_ascii() -> None:
    for letter, latin in LETTERS.items():
        with pytest.raises(UnicodeEncodeError):
            letter.encode("cp1252")
        assert latin.isascii() and latin, letter
