"""From the set of matching rules to the decision of each kind. Composition, per kind:

* ``season``: every matching rule applies; multipliers **multiply**, and the product is clamped to
  the ruleset's guardrails ``[min_multiplier, max_multiplier]``.
* ``last_minute``: the ruleset's **stacking policy** decides which matching discounts apply:
  ``best_only`` (the largest one), ``ordered_stack`` (all, in priority order, compounding:
  ``1 - Π(1 - pᵢ/100)``) or ``exclusive_groups`` (the largest per ``group``, groups compounding).
  The total is capped at ``max_total_discount_percent``.
* ``upgrade``, ``fallback``, ``commission``, ``upsell``: the **highest priority** matching rule wins
  (ties: the earlier rule in the document). With no matching rule: upgrade is denied
  (``no_matching_rule``), no fallback strategies, commission 0 %, no upsell.

Rules are ordered by priority descending, then document position. "Fired" rules are those that
shaped the decision; "matched" rules that lost to a higher-priority one are reported as matched but
not fired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from rules.conditions import explainer
from rules.language import KINDS, Rule, Ruleset

ONE = Decimal(1)
HUNDRED = Decimal(100)
WINNER_TAKES_ALL = ("upgrade", "fallback", "commission", "upsell")
DEFAULTS: dict[str, dict[str, Any]] = {
    "upgrade": {"allow": False, "reason": "no_matching_rule"},
    "fallback": {"strategies": [], "max_results": 0},
    "commission": {"rate_percent": Decimal(0), "fixed": 0, "min": 0, "max": None},
    "upsell": {"offer": "none", "message_key": "", "percent_off": Decimal(0)},
}


class RuleResult(NamedTuple):  # a tuple: cheap to build ~25 times per decision
    rule_id: str
    kind: str
    priority: int
    matched: bool
    fired: bool
    why_not: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    decisions: Mapping[str, Mapping[str, Any]]  # kind -> resolved decision
    considered: tuple[RuleResult, ...]

    @property
    def fired(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.considered if r.fired)

    @property
    def matched(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.considered if r.matched)

    def considered_records(self) -> list[dict[str, Any]]:
        """Every rule considered, with why it did not match, as explanations show them."""
        return [r._asdict() for r in self.considered]

    def considered_rows(self) -> list[list[Any]]:
        """Every rule considered as a compact ``[rule_id, matched, fired]`` row: what decision
        records store (why a rule did not match follows from the stored facts and ruleset
        version, so it is computed when a decision is read, not on the hot path)."""
        return [[r.rule_id, r.matched, r.fired] for r in self.considered]

    def for_kind(self, kind: str) -> Outcome:
        return Outcome(
            {kind: self.decisions[kind]}, tuple(r for r in self.considered if r.kind == kind)
        )


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (-r.priority, r.position))


def _season(ruleset: Ruleset, matched: list[Rule]) -> tuple[dict[str, Any], list[Rule]]:
    product = ONE
    for rule in matched:
        product *= rule.then["multiplier"]
    g = ruleset.guardrails
    clamped = min(max(product, g.min_multiplier), g.max_multiplier)
    return {"multiplier": clamped, "unclamped": product, "clamped": clamped != product}, matched


def _compound(percents: Iterable[Decimal]) -> Decimal:
    keep = ONE
    for p in percents:
        keep *= ONE - p / HUNDRED
    return (ONE - keep) * HUNDRED


def _last_minute(ruleset: Ruleset, matched: list[Rule]) -> tuple[dict[str, Any], list[Rule]]:
    def best(rules: list[Rule]) -> Rule:
        return max(rules, key=lambda r: (r.then["percent_off"], r.priority, -r.position))

    if not matched:
        applied: list[Rule] = []
    elif ruleset.stacking == "best_only":
        applied = [best(matched)]
    elif ruleset.stacking == "ordered_stack":
        applied = matched
    else:
        groups: dict[str, list[Rule]] = {}
        for rule in matched:
            groups.setdefault(rule.then["group"], []).append(rule)
        applied = ordered(best(rules) for rules in groups.values())
    total = _compound(r.then["percent_off"] for r in applied)
    cap = ruleset.guardrails.max_total_discount_percent
    decision = {
        "percent_off": min(total, cap),
        "uncapped": total,
        "capped": total > cap,
        "max_total_discount_percent": cap,
    }
    return decision, applied


class RuleIndex:
    """Per-ruleset work done once: rules of each kind in decision order, and a compiled "why not"
    explanation per rule."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.by_kind = {kind: ordered(ruleset.of_kind(kind)) for kind in KINDS}
        self.explain = {rule.id: explainer(rule.when) for rule in ruleset.rules}


def resolve(
    ruleset: Ruleset,
    matched_ids: set[str],
    facts: Mapping[str, Any],
    kinds: Iterable[str] = KINDS,
    index: RuleIndex | None = None,
    *,
    explain: bool = True,
) -> Outcome:
    """The decisions of ``kinds`` given the ids of the rules whose conditions matched ``facts``."""
    index = index or RuleIndex(ruleset)
    decisions: dict[str, Mapping[str, Any]] = {}
    considered: list[RuleResult] = []
    for kind in kinds:
        rules = index.by_kind[kind]
        matched = [r for r in rules if r.id in matched_ids]
        if kind == "season":
            decision, fired = _season(ruleset, matched)
        elif kind == "last_minute":
            decision, fired = _last_minute(ruleset, matched)
        else:
            fired = matched[:1]
            decision = dict(fired[0].then) if fired else dict(DEFAULTS[kind])
        decision["rules"] = [r.id for r in fired]
        decisions[kind] = decision
        fired_ids = {r.id for r in fired}
        considered.extend(
            RuleResult(
                r.id,
                kind,
                r.priority,
                r.id in matched_ids,
                r.id in fired_ids,
                None if r.id in matched_ids or not explain else index.explain[r.id](facts),
            )
            for r in rules
        )
    return Outcome(decisions, tuple(considered))
