"""Which tolerance decides a finding, and whether it holds the finding back
(docs/tolerances.md). Pure: the rules are read once per audit, every finding is then
looked up in a dict, never a query per finding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from app.audits.models import FindingType
from app.audits.rules import Draft

# The unit findings: the types max_units and max_percent apply to.
UNIT_TYPES = frozenset(
    {FindingType.UNBILLED_UNITS, FindingType.OVERBILLED_UNITS, FindingType.UNBILLED_ASSETS}
)


@dataclass(frozen=True)
class Rule:
    id: int
    type: str | None
    customer_id: int | None
    service_id: int | None
    max_units: Decimal | None = None
    max_percent: Decimal | None = None
    max_impact: Decimal | None = None


def holds_back(rule: Rule, draft: Draft) -> bool:
    """A unit finding is held back when the rule sets max_units or max_percent and the
    finding is within every one of them it sets; any finding is held back when the rule
    sets max_impact and the impact is at most that; a rule with no limit that applies
    holds back nothing (docs/tolerances.md#limits)."""
    if draft.type in UNIT_TYPES and (rule.max_units is not None or rule.max_percent is not None):
        expected = draft.expected_quantity or Decimal(0)
        difference = abs((draft.actual_quantity or Decimal(0)) - expected)
        within = True
        if rule.max_units is not None:
            within = within and difference <= rule.max_units
        if rule.max_percent is not None:
            # difference / contracted x 100 <= max_percent, without dividing: exact. Nothing
            # contracted makes the percentage infinite: never within.
            within = within and expected > 0 and difference * 100 <= rule.max_percent * expected
        if within:
            return True
    return rule.max_impact is not None and draft.impact <= rule.max_impact


class Tolerances:
    """The rules of one audit run, by scope."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._by_scope = {(r.type, r.customer_id, r.service_id): r for r in rules}

    def __bool__(self) -> bool:
        return bool(self._by_scope)

    def rule_for(self, draft: Draft) -> Rule | None:
        """The most specific rule matching the finding: customer and service, then service,
        then customer, then global; at each level the rule naming the finding's type before
        the one that does not (docs/tolerances.md#precedence)."""
        kind, customer, service = draft.type.value, draft.customer_id, draft.service_id
        for scope in (
            (kind, customer, service),
            (None, customer, service),
            (kind, None, service),
            (None, None, service),
            (kind, customer, None),
            (None, customer, None),
            (kind, None, None),
            (None, None, None),
        ):
            rule = self._by_scope.get(scope)
            if rule is not None:
                return rule
        return None

    def holding(self, draft: Draft) -> Rule | None:
        """The rule that holds the finding back, or None when it is shown."""
        rule = self.rule_for(draft)
        return rule if rule is not None and holds_back(rule, draft) else None
