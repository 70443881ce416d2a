"""Query parameters of the reports and the target list: month ranges and `group_by`
(docs/reports.md#parameters)."""

from __future__ import annotations

from app.core.errors import Invalid, field_error
from app.core.periods import Period, parse_period_param, period_range_params
from app.reports.models import GroupKey

# A report covers at most three years: enough for year-over-year trends, bounded work.
MAX_REPORT_MONTHS = 36
MAX_GROUP_KEYS = 2


def report_range(from_text: str, to_text: str) -> tuple[Period, Period]:
    """The inclusive `from`/`to` periods of a report, at most MAX_REPORT_MONTHS."""
    return period_range_params(from_text, to_text, max_months=MAX_REPORT_MONTHS)


def parse_group_by(text: str | None) -> list[GroupKey]:
    """`group_by`: one or two of customer, contract, service, vendor, month,
    comma-separated (docs/reports.md#profitability); customer when not given."""
    if text is None:
        return [GroupKey.customer]
    names = [part.strip() for part in text.split(",")]
    allowed = ", ".join(key.value for key in GroupKey)
    problems = []
    keys: list[GroupKey] = []
    for name in names:
        if name not in GroupKey.__members__:
            problems.append(f"'{name}' is not one of {allowed}")
        elif GroupKey(name) in keys:
            problems.append(f"'{name}' is named twice")
        else:
            keys.append(GroupKey(name))
    if not problems and not 1 <= len(names) <= MAX_GROUP_KEYS:
        problems.append(f"name one or two of {allowed}, comma-separated")
    if problems:
        message = "; ".join(problems)
        raise Invalid(
            f"group_by is not valid: {message}.",
            errors=[field_error("query.group_by", message, "group_by")],
        )
    return keys


def target_range(from_text: str | None, to_text: str | None) -> tuple[Period | None, Period | None]:
    """`from`/`to` of the target list: each optional; both given, in order."""
    if from_text is not None and to_text is not None:
        first, last = period_range_params(from_text, to_text, max_months=10**6)
        return first, last
    return (
        None if from_text is None else parse_period_param(from_text, "from"),
        None if to_text is None else parse_period_param(to_text, "to"),
    )
