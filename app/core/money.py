"""Exact money: Decimal API types, half-up rounding, a column type exact on both databases.

docs/README.md#money: amounts carry 2 decimals, unit prices, unit costs and quantities 4,
vendor lines' quantities and unit costs 6; more is a 422, never a silent rounding;
rounding is half-up (away from zero); never a binary float in the money path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from sqlalchemy import BigInteger, Numeric, String, cast, func, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

CENT = Decimal("0.01")
AMOUNT_PLACES = 2
PRICE_PLACES = 4
QUANTITY_PLACES = 4
# Vendor lines' quantities and unit costs, and the unit figures derived from them
# (docs/vendor-bills.md#precision).
VENDOR_PLACES = 6
# Bound on every stored magnitude: fits a BIGINT at 6 decimals on SQLite (sums are split:
# exact_sum), and a NUMERIC(20, 6) on PostgreSQL.
MAX_ABS = Decimal(10) ** 12
# For quantize() and formatting of computed figures (report totals), exact at any size:
# the default context's 28 digits would raise on them.
WIDE = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def half_up_int(numerator: int, denominator: int) -> int:
    """numerator / denominator (denominator > 0) rounded to an integer, half away from
    zero: the one rounding rule (docs/README.md#rounding), for callers counting in integers."""
    whole, rest = divmod(abs(numerator), denominator)
    if 2 * rest >= denominator:
        whole += 1
    return whole if numerator >= 0 else -whole


def _places(whole: int, places: int) -> Decimal:
    # From text: exact at any size (scaleb and quantize round past 28 digits).
    return Decimal(f"{whole}E-{places}")


def round_half_up(value: Decimal | Fraction | int, places: int = AMOUNT_PLACES) -> Decimal:
    """Round exactly, half away from zero (docs/README.md#rounding), to `places` decimals.

    Accepts a Fraction so that proration (x / days_in_month) stays exact until
    this single rounding step.
    """
    # From the exact integer ratio, without normalising a Fraction first (audits and
    # reports round some 100,000 values a request; this is the same arithmetic).
    numerator, denominator = value.as_integer_ratio()
    return _places(half_up_int(numerator * 10**places, denominator), places)


def margin(revenue: Decimal | int, profit: Decimal | int) -> Decimal | None:
    """docs/month-arithmetic.md#margin: profit / revenue, 4 decimals half-up, null when
    revenue is 0. Integers are taken as cents over cents and stay in integer arithmetic."""
    if revenue == 0:
        return None
    if isinstance(revenue, int) and isinstance(profit, int):
        sign = -1 if revenue < 0 else 1
        return _places(half_up_int(sign * profit * 10_000, abs(revenue)), 4)
    return round_half_up(Fraction(profit) / Fraction(revenue), 4)


def limit_error(field: str, figure: str, value: Decimal) -> dict[str, str]:
    """A 422 entry for a figure at or past MAX_ABS, naming it, its value and the limit."""
    from app.core.errors import field_error

    return field_error(
        field,
        f"{figure} = {value:f} must be less than {MAX_ABS:f} in absolute value",
        "value_too_large",
    )


def line_amount_error(field: str, quantity: Decimal, price: Decimal, figure: str) -> Any:
    """The limit_error of quantity x price rounded to the cent, or None within the limit."""
    amount = round_half_up(quantity * price)
    return limit_error(field, figure, amount) if abs(amount) >= MAX_ABS else None


def line_amounts(
    lines: Sequence[tuple[Decimal | None, Decimal, Decimal]],
    field_prefix: str,
    price_name: str = "unit_price",
) -> list[Decimal]:
    """The amount of each (amount, quantity, unit price) line: the given one, else quantity
    x unit price rounded half-up (docs/README.md#money). Each line's quantity x unit price and
    the lines' total must stay under MAX_ABS (README, "Limits"): otherwise a 422 naming
    the figure, never a storage overflow nor a total no read can show."""
    from app.core.errors import Invalid

    amounts = [
        amount if amount is not None else round_half_up(quantity * price)
        for amount, quantity, price in lines
    ]
    errors = [
        error
        for i, (_amount, quantity, price) in enumerate(lines)
        if (
            error := line_amount_error(
                f"{field_prefix}.{i}.amount", quantity, price, f"quantity x {price_name}"
            )
        )
    ]
    total = sum(amounts, Decimal(0))
    if not errors and abs(total) >= MAX_ABS:
        errors.append(limit_error(field_prefix, "the total of the line amounts", total))
    if errors:
        raise Invalid("Some amounts are too large.", errors=errors)
    return amounts


def check_limit(figures: Iterable[tuple[str, str, Decimal | None]], title: str) -> None:
    """A 422 naming every (field, figure, value) at or past MAX_ABS: for figures the service
    computes and stores, refused whole before anything is stored."""
    from app.core.errors import Invalid

    errors = [
        limit_error(field, figure, value)
        for field, figure, value in figures
        if value is not None and abs(value) >= MAX_ABS
    ]
    if errors:
        raise Invalid(title, errors=errors[:50])


# --- column type ---------------------------------------------------------------------------


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC on PostgreSQL; a scaled BIGINT on SQLite, whose NUMERIC is floating point.

    SUM() over the column keeps the column type in SQLAlchemy, so aggregates come
    back as exact Decimals on both backends.
    """

    impl = Numeric
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator[Decimal]):  # noqa: N801 - SQLAlchemy's name
        """Only +, - and comparisons are exact on the stored form of both databases (a
        scaled integer on SQLite). Group by one factor and multiply in Python instead:
        a product of scaled integers can also pass SQLite's 64-bit range."""

        def _refuse(self, *args: Any, **kwargs: Any) -> Any:
            raise TypeError(
                "multiplying or dividing an ExactDecimal column in SQL is not exact on "
                "SQLite's scaled integers: group by one factor and multiply in Python"
            )

        __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __mod__ = __floordiv__ = _refuse

    def __init__(self, scale: int = 4, precision: int = 20) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        dec = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "sqlite":
            scaled = dec.scaleb(self.scale)
            integral = scaled.to_integral_value()
            if scaled != integral:
                raise ValueError(f"{dec} has more than {self.scale} decimal places")
            return int(integral)
        return dec

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, float):  # only ever from an AVG(): refuse to guess
                raise TypeError("float result from an ExactDecimal column")
            return Decimal(int(value)).scaleb(-self.scale)
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale), context=WIDE)

    def __repr__(self) -> str:
        return f"ExactDecimal(scale={self.scale}, precision={self.precision})"


# --- integer cents and scaled integers --------------------------------------------------------
# Audits and reports sum money as Python integers (cents, or quantities and prices x 10^4)
# and turn them into Decimals only in the answer: exact, and quicker than Decimal sums.


def from_cents(cents: int) -> Decimal:
    """Integer cents as an amount (2 places)."""
    return Decimal(cents).scaleb(-AMOUNT_PLACES)


def to_cents(amount: Decimal) -> int:
    """An amount (2 places) as integer cents."""
    return int(amount.scaleb(AMOUNT_PLACES))


def from_scaled(whole: int, places: int) -> Decimal:
    """An integer counted x 10^places as the Decimal it stands for."""
    return Decimal(whole).scaleb(-places)


def to_scaled(value: Decimal, places: int) -> int | None:
    """value x 10^places as an exact int; None when value has more than `places` decimals."""
    scaled = value.scaleb(places)
    whole = int(scaled)
    return whole if whole == scaled else None


def split_cents(total: int, weights: Sequence[tuple[int, Decimal]]) -> dict[int, int]:
    """Split `total` cents over ids in proportion to their weights (> 0), by largest
    remainder: each gets the floor of its exact share, and the cents left over go one each
    to the largest remainders, ties to the lowest id (docs/reports.md#contract-split).
    A negative total (credits) is split as its absolute value, then negated."""
    sign = -1 if total < 0 else 1
    whole = abs(total)
    # Exact shares whole x w / sum(w) over one common denominator: integers when the
    # weights have at most 4 decimals, Fractions otherwise.
    scaled = [to_scaled(w, QUANTITY_PLACES) for _, w in weights]
    numbers: list[Any] = scaled if None not in scaled else [Fraction(w) for _, w in weights]
    weight_sum = sum(numbers)
    shares: dict[int, int] = {}
    remainders: list[tuple[Any, int]] = []
    for (ident, _), number in zip(weights, numbers, strict=True):
        floor, rest = divmod(whole * number, weight_sum)
        shares[ident] = int(floor)
        remainders.append((rest, ident))
    left = whole - sum(shares.values())
    for _, ident in sorted(remainders, key=lambda r: (-r[0], r[1]))[:left]:
        shares[ident] += 1
    return {ident: sign * cents for ident, cents in shares.items()}


# --- exact sums in SQL ----------------------------------------------------------------------


class _WholeNumber(TypeDecorator[int]):
    """A whole NUMERIC read as a Python int (exact at any size)."""

    impl = Numeric(60, 0)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


_SPLIT = 10**9


class _SplitSum(TypeDecorator[Any]):
    """SQLite's "high:low" text of a split SUM read back as one Python int, or as a
    Decimal of `scale` places when a scale is given."""

    impl = String
    cache_ok = True

    def __init__(self, scale: int | None = None) -> None:
        super().__init__()
        self.scale = scale

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        high, low = str(value).split(":")
        whole = int(high) * _SPLIT + int(low)
        return whole if self.scale is None else Decimal(whole).scaleb(-self.scale)


def _split_sum(column: Any, scale: int | None) -> Any:
    # SQLite's SUM over integers raises "integer overflow" past 2^63 (some 900 quantities
    # near the limit at 4 decimals): the parts over and under 10^9 are summed apart (each
    # part's sum has room for billions of rows) and joined in Python. Integer division
    # and remainder both truncate toward zero, so high x 10^9 + low holds for negative
    # values too.
    stored = type_coerce(column, BigInteger)
    return type_coerce(
        func.sum(stored.op("/")(_SPLIT)).op("||")(":").op("||")(func.sum(stored % _SPLIT)),
        _SplitSum(scale),
    )


def exact_sum(column: Any, dialect: str, scale: int) -> Any:
    """SUM of an ExactDecimal column of `scale` decimals as the exact integer
    sum x 10^scale, at any size and any number of rows (from_cents turns cents back
    into an amount)."""
    if dialect == "sqlite":
        return _split_sum(column, None)
    return cast(func.sum(type_coerce(column, Numeric())) * 10**scale, _WholeNumber())


def cents_sum(column: Any, dialect: str) -> Any:
    """SUM of an amount column (2 decimals) as exact integer cents (exact_sum)."""
    return exact_sum(column, dialect, AMOUNT_PLACES)


def scaled_int(column: Any, dialect: str, places: int) -> Any:
    """An ExactDecimal column of `places` decimals read as the integer value x 10^places
    (cents, for an amount): what SQLite stores, and an exact product on PostgreSQL."""
    if dialect == "sqlite":
        return type_coerce(column, BigInteger)
    return cast(type_coerce(column, Numeric()) * 10**places, BigInteger)


def rescaled(column: Any, dialect: str, places: int, to_places: int) -> Any:
    """An ExactDecimal column of `places` decimals, to compare with one of `to_places`
    (more): SQLite stores each as an integer x 10^scale, so the smaller scale is raised
    there; PostgreSQL's NUMERICs compare as they are."""
    if dialect == "sqlite":
        return type_coerce(column, BigInteger) * 10 ** (to_places - places)
    return column


def decimal_sum(column: Any, dialect: str, scale: int) -> Any:
    """SUM of an ExactDecimal column of `scale` decimals as an exact Decimal, at any size
    (PostgreSQL's NUMERIC sum is exact as it is)."""
    if dialect == "sqlite":
        return _split_sum(column, scale)
    return func.sum(column)


# --- API types -----------------------------------------------------------------------------


def _parse(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("must be a number or a decimal string")
    if isinstance(value, Decimal):
        dec = value
    elif isinstance(value, int):
        dec = Decimal(value)
    elif isinstance(value, float):
        # Request bodies are parsed with parse_float=Decimal, so a float only
        # reaches here from Python callers; read it from its shortest text.
        dec = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.match(text) and text.lower().lstrip("+-") not in _SPECIALS:
            raise ValueError("must be a decimal number such as 12.50")
        try:
            dec = Decimal(text)
        except InvalidOperation:
            raise ValueError("must be a decimal number such as 12.50") from None
    else:
        raise ValueError("must be a number or a decimal string")
    if not dec.is_finite():
        raise ValueError("must be a finite number (no NaN or Infinity)")
    return dec


_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
# Named so that the answer says "finite", not "not a number".
_SPECIALS = {"nan", "snan", "inf", "infinity"}


def _validator(places: int, non_negative: bool) -> BeforeValidator:
    def validate(value: Any) -> Decimal:
        dec = _parse(value)
        exponent = dec.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > places:
            raise ValueError(f"at most {places} decimal places are allowed")
        if non_negative and dec < 0:
            raise ValueError("must be greater than or equal to 0")
        if abs(dec) >= MAX_ABS:
            raise ValueError(f"must be less than {MAX_ABS:f} in absolute value")
        # + 0 turns -0 into 0, so the answer and later reads agree.
        return dec.quantize(Decimal(1).scaleb(-places)) + 0

    return BeforeValidator(validate)


def format_amount(value: Decimal) -> str:
    """Amounts: always two places (docs/README.md#money)."""
    return f"{value.quantize(CENT, context=WIDE):f}"


def format_price(value: Decimal) -> str:
    """Unit prices and costs: at least two places, and as many as the value has (27.50,
    0.0875, 0.087512)."""
    if value == value.quantize(CENT, context=WIDE):
        return f"{value.quantize(CENT, context=WIDE):f}"
    return f"{value.normalize():f}"


def format_quantity(value: Decimal) -> str:
    """Quantities: as few places as the value needs (5, 987.3, 0.25)."""
    if value == value.to_integral_value():
        return f"{value.quantize(Decimal(1), context=WIDE):f}"
    return f"{value.normalize():f}"


def _schema(description: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number"}],
            "description": description,
            "examples": [example],
        },
        mode="validation",
    )


def _out(fmt: Any) -> PlainSerializer:
    return PlainSerializer(fmt, return_type=str, when_used="json")


# How each kind is written in answers (docs/README.md#money), for readers and generated
# clients: a string, never a JSON number.
_WRITTEN = {
    format_amount: ("Decimal string, always 2 places", r"^-?[0-9]+\.[0-9]{2}$"),
    format_price: ("Decimal string, at least 2 places", r"^-?[0-9]+\.[0-9]{2,}$"),
    format_quantity: ("Decimal string, as few places as needed", r"^-?[0-9]+(\.[0-9]+)?$"),
}


def _written(fmt: Any, example: str) -> WithJsonSchema:
    description, pattern = _WRITTEN[fmt]
    return WithJsonSchema(
        {"type": "string", "pattern": pattern, "description": description, "examples": [example]},
        mode="serialization",
    )


Amount = Annotated[
    Decimal,
    _validator(AMOUNT_PLACES, non_negative=False),
    _out(format_amount),
    _schema("Money amount, at most 2 decimal places; may be negative (credits).", "1234.50"),
    _written(format_amount, "1234.50"),
]
NonNegativeAmount = Annotated[
    Decimal,
    _validator(AMOUNT_PLACES, non_negative=True),
    _out(format_amount),
    _schema("Money amount >= 0, at most 2 decimal places.", "1234.50"),
    _written(format_amount, "1234.50"),
]
UnitPrice = Annotated[
    Decimal,
    _validator(PRICE_PLACES, non_negative=True),
    _out(format_price),
    _schema("Price or cost per unit per month, >= 0, at most 4 decimal places.", "27.50"),
    _written(format_price, "27.50"),
]
SignedUnitPrice = Annotated[
    Decimal,
    _validator(PRICE_PLACES, non_negative=False),
    _out(format_price),
    _schema("Price or cost per unit, at most 4 decimal places.", "0.0875"),
    _written(format_price, "0.0875"),
]
Quantity = Annotated[
    Decimal,
    _validator(QUANTITY_PLACES, non_negative=True),
    _out(format_quantity),
    _schema("Quantity >= 0, at most 4 decimal places (backup is sold per GB).", "987.3"),
    _written(format_quantity, "987.3"),
]
SignedQuantity = Annotated[
    Decimal,
    _validator(QUANTITY_PLACES, non_negative=False),
    _out(format_quantity),
    _schema("Quantity, at most 4 decimal places; negative for credits.", "-2"),
    _written(format_quantity, "-2"),
]
VendorQuantity = Annotated[
    Decimal,
    _validator(VENDOR_PLACES, non_negative=False),
    _out(format_quantity),
    _schema("Quantity, at most 6 decimal places (metered usage); negative for credits.", "-2"),
    _written(format_quantity, "-2"),
]
VendorUnitCost = Annotated[
    Decimal,
    _validator(VENDOR_PLACES, non_negative=False),
    _out(format_price),
    _schema("Cost of one unit for one month, at most 6 decimal places.", "0.087512"),
    _written(format_price, "0.087512"),
]
StandardUnitCost = Annotated[
    Decimal,
    _validator(VENDOR_PLACES, non_negative=True),
    _out(format_price),
    _schema(
        "Standard cost of one unit for one month, >= 0, at most 6 decimal places (as vendor "
        "lines).",
        "0.087512",
    ),
    _written(format_price, "0.087512"),
]
UnitsLimit = Annotated[
    Decimal,
    _validator(VENDOR_PLACES, non_negative=True),
    _out(format_quantity),
    _schema("Units >= 0, at most 6 decimal places (as vendor lines count them).", "2"),
    _written(format_quantity, "2"),
]
PercentLimit = Annotated[
    Decimal,
    _validator(AMOUNT_PLACES, non_negative=True),
    _out(format_amount),
    _schema("A percentage >= 0, at most 2 decimal places (5 is 5 %).", "5.00"),
    _written(format_amount, "5.00"),
]
# Output-only: computed amounts (revenue, totals).
AmountOut = Annotated[
    Decimal,
    _out(format_amount),
    _written(format_amount, "1234.50"),
]
QuantityOut = Annotated[
    Decimal,
    _out(format_quantity),
    _written(format_quantity, "5"),
]
PriceOut = Annotated[
    Decimal,
    _out(format_price),
    _written(format_price, "27.50"),
]
