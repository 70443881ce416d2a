"""Small shared input types: trimmed names, optional references, ISO 4217 currencies."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

# ISO 4217 active codes (fund and precious-metal codes left out).
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG
    """.split()
)


def _currency(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().upper()
        if value not in ISO_4217:
            raise ValueError("must be an ISO 4217 currency code such as USD or EUR")
    return value


Currency = Annotated[
    str,
    BeforeValidator(_currency),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["USD"]}),
]


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it on both backends alike.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Characters that show nothing on their own, beyond what str.strip() removes: format
# characters (zero-width space and joiners, word joiner, BOM, soft hyphen, bidi marks and
# isolates, tags), controls, variation selectors, the combining grapheme joiner, and the
# Hangul fillers and blank Braille cell that fonts draw empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
_INVISIBLE_CHARACTERS = frozenset("\u034f\u115f\u1160\u2800\u3164\uffa0")


def _invisible(char: str) -> bool:
    return (
        unicodedata.category(char) in _INVISIBLE_CATEGORIES
        or char in _INVISIBLE_CHARACTERS
        or "\ufe00" <= char <= "\ufe0f"
        or "\U000e0100" <= char <= "\U000e01ef"
    )


def _blank(value: str) -> bool:
    """Empty to a reader: nothing but whitespace and characters that show nothing."""
    return all(_invisible(char) for char in value)


def _not_blank(value: str) -> str:
    value = _no_nul(value).strip()
    if _blank(value):
        raise ValueError("must not be blank")
    return value


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = _no_nul(value).strip()
    return None if _blank(value) else value


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
ShortText = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
OptionalRef = Annotated[
    str | None, Field(default=None, max_length=200), AfterValidator(_blank_to_none)
]

# An Id QuickBooks Online gave a record (its customer or item), as the integrator copies
# it in: a short token, so whitespace around it is dropped and anything unseen inside it is
# refused rather than stored (docs/exports.md#mapping-to-quickbooks).
QUICKBOOKS_ID_MAX_LENGTH = 64


def _quickbooks_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = _not_blank(value)
    if any(unicodedata.category(char) in {"Cc", "Cf"} for char in value):
        raise ValueError("must not contain control or format characters")
    return value


QuickBooksId = Annotated[
    str | None,
    Field(default=None, max_length=QUICKBOOKS_ID_MAX_LENGTH),
    AfterValidator(_quickbooks_id),
]

FreeText = Annotated[
    str | None, Field(default=None, max_length=2000), AfterValidator(_blank_to_none)
]

# Ids fit PostgreSQL's integer; anything larger names nothing (404/422, never a 500).
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]

# The calendar this service reasons about; outside it no month arithmetic is meaningful.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


def _in_calendar(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


Day = Annotated[date, AfterValidator(_in_calendar)]
