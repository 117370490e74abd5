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

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from rules.conditions import Explainer, explainer
from rules.language import KINDS, Rule, Ruleset

ONE = Decimal(1)
HUNDRED = Decimal(100)
COMPOSED_MEMO = 1024
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


class Outcome:
    """The decision of each kind asked for, and every rule of those kinds as ``considered``
    (matched, fired, why it did not match) — built when first read: the hot path only needs the
    decisions and ``considered_rows``. Equal outcomes have equal decisions and considered rules."""

    __slots__ = ("_considered", "_rows", "_source", "decisions")

    def __init__(
        self,
        decisions: Mapping[str, Mapping[str, Any]],
        considered: tuple[RuleResult, ...] | None = None,
        *,
        source: _Source | None = None,
    ) -> None:
        assert considered is not None or source is not None
        self.decisions = decisions  # kind -> resolved decision
        self._considered = considered
        self._source = source
        self._rows: list[list[Any]] | None = None

    @property
    def considered(self) -> tuple[RuleResult, ...]:
        if self._considered is None:
            assert self._source is not None
            self._considered = self._source.considered()
        return self._considered

    @property
    def fired(self) -> tuple[str, ...]:
        if self._considered is None and self._source is not None:
            return self._source.fired_order
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
        version, so it is computed when a decision is read, not on the hot path). Built once:
        a reused offer sheet's outcomes give their rows to every record made from them, which
        read them and never change them."""
        if self._rows is None:
            if self._considered is None and self._source is not None:
                self._rows = self._source.rows()
            else:
                self._rows = [[r.rule_id, r.matched, r.fired] for r in self.considered]
        return self._rows

    def for_kind(self, kind: str) -> Outcome:
        return Outcome(
            {kind: self.decisions[kind]}, tuple(r for r in self.considered if r.kind == kind)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return self.decisions == other.decisions and self.considered == other.considered

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Outcome(decisions={self.decisions!r}, considered={self.considered!r})"


class _Source:
    """What ``considered`` is built from, kept by an outcome until it is read."""

    __slots__ = ("explain", "facts", "fired_order", "index", "kinds", "matched")

    def __init__(
        self,
        index: RuleIndex,
        kinds: tuple[str, ...],
        matched: set[str] | frozenset[str],
        fired_order: tuple[str, ...],
        facts: Mapping[str, Any],
        explain: bool,
    ) -> None:
        self.index, self.kinds, self.matched = index, kinds, matched
        self.fired_order = fired_order
        self.facts, self.explain = facts, explain

    @property
    def fired(self) -> frozenset[str]:
        return frozenset(self.fired_order)

    def considered(self) -> tuple[RuleResult, ...]:
        matched, fired, explain = self.matched, self.fired, self.index.explain
        return tuple(
            RuleResult(
                r.id,
                kind,
                r.priority,
                r.id in matched,
                r.id in fired,
                None if r.id in matched or not self.explain else explain[r.id](self.facts),
            )
            for kind in self.kinds
            for r in self.index.by_kind[kind]
        )

    def rows(self) -> list[list[Any]]:
        matched, fired = self.matched, self.fired
        return [
            [rule_id, rule_id in matched, rule_id in fired]
            for kind in self.kinds
            for rule_id in self.index.ids[kind]
        ]


def ordered(rules: Iterable[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (-r.priority, r.position))


def _season(ruleset: Ruleset, matched: list[Rule]) -> tuple[dict[str, Any], list[Rule]]:
    product = ONE
    for rule in matched:
        product *= rule.then["multiplier"]
    g = ruleset.guardrails
    clamped = min(max(product, g.min_multiplier), g.max_multiplier)
    return {"multiplier": clamped, "unclamped": product, "clamped": clamped != product}, matched


def _keep(rule: Rule) -> Decimal:
    """The share of the price a last-minute rule leaves: 1 - percent / 100."""
    percent: Decimal = rule.then["percent_off"]
    return ONE - percent / HUNDRED


def _compound(keeps: Iterable[Decimal]) -> Decimal:
    keep = ONE
    for factor in keeps:
        keep *= factor
    return (ONE - keep) * HUNDRED


def _best(rules: list[Rule]) -> Rule:
    """The largest discount; ties to the higher priority, then the earlier rule: the first of
    the largest, as ``rules`` come in decision order."""
    best = rules[0]
    for rule in rules[1:]:
        if rule.then["percent_off"] > best.then["percent_off"]:
            best = rule
    return best


def _last_minute(
    ruleset: Ruleset, matched: list[Rule], keeps: Mapping[str, Decimal]
) -> tuple[dict[str, Any], list[Rule]]:
    if not matched:
        applied: list[Rule] = []
    elif ruleset.stacking == "best_only":
        applied = [_best(matched)]
    elif ruleset.stacking == "ordered_stack":
        applied = matched
    else:
        groups: dict[str, list[Rule]] = {}
        for rule in matched:
            groups.setdefault(rule.then["group"], []).append(rule)
        applied = ordered(_best(rules) for rules in groups.values())
    total = _compound(keeps[r.id] for r in applied)
    cap = ruleset.guardrails.max_total_discount_percent
    decision = {
        "percent_off": min(total, cap),
        "uncapped": total,
        "capped": total > cap,
        "max_total_discount_percent": cap,
    }
    return decision, applied


class _Explainers(Mapping[str, Explainer]):
    """rule id -> its compiled "why not", compiled on first use (most decisions never ask)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._conditions = {rule.id: rule.when for rule in rules}
        self._built: dict[str, Explainer] = {}

    def __getitem__(self, rule_id: str) -> Explainer:
        built = self._built.get(rule_id)
        if built is None:
            built = self._built[rule_id] = explainer(self._conditions[rule_id])
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(self._conditions)

    def __len__(self) -> int:
        return len(self._conditions)


class RuleIndex:
    """Per-ruleset work done once: rules of each kind in decision order (and their ids), every
    rule's position in that order (all kinds in ``KINDS`` order), the range of positions of
    each kind, and a compiled "why not" explanation per rule."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.by_kind = {kind: ordered(ruleset.of_kind(kind)) for kind in KINDS}
        self.ids = {kind: [r.id for r in rules] for kind, rules in self.by_kind.items()}
        self.in_order = [rule for kind in KINDS for rule in self.by_kind[kind]]
        self.ids_in_order = [rule.id for rule in self.in_order]
        self.position = {rule_id: n for n, rule_id in enumerate(self.ids_in_order)}
        self.bounds: dict[str, tuple[int, int]] = {}
        start = 0
        for kind in KINDS:
            self.bounds[kind] = (start, start + len(self.by_kind[kind]))
            start += len(self.by_kind[kind])
        self.explain: Mapping[str, Explainer] = _Explainers(ruleset.rules)
        self.keeps = {r.id: _keep(r) for r in self.by_kind["last_minute"]}
        #: kind -> positions of the matched rules -> the composed season / last-minute decision
        #: and the ids of the rules that shaped it: a pure function of the ruleset and those
        #: rules, worth remembering (Decimal products, the stacking policy); at most
        #: ``COMPOSED_MEMO`` per kind
        self.composed: dict[str, dict[tuple[int, ...], tuple[dict[str, Any], list[str]]]] = {
            "season": {},
            "last_minute": {},
        }


def resolve(
    ruleset: Ruleset,
    matched_ids: set[str] | frozenset[str],
    facts: Mapping[str, Any],
    kinds: Iterable[str] = KINDS,
    index: RuleIndex | None = None,
    *,
    explain: bool = True,
) -> Outcome:
    """The decisions of ``kinds`` given the ids of the rules whose conditions matched ``facts``."""
    index = index or RuleIndex(ruleset)
    kinds = tuple(kinds)
    if len(matched_ids) * 4 < len(index.in_order):  # few match: sort their positions
        positions = sorted(map(index.position.__getitem__, matched_ids))
    else:  # many: walk the rules in order
        positions = [n for n, rule_id in enumerate(index.ids_in_order) if rule_id in matched_ids]
    rules, bounds = index.in_order, index.bounds
    decisions: dict[str, Mapping[str, Any]] = {}
    fired_order: list[str] = []
    for kind in kinds:
        start, end = bounds[kind]
        low = bisect_left(positions, start)
        high = bisect_left(positions, end, low)
        if kind == "season" or kind == "last_minute":
            key = tuple(positions[low:high])
            memo = index.composed[kind]
            composed = memo.get(key)
            if composed is None:
                matched = [rules[n] for n in key]
                if kind == "season":
                    template, fired = _season(ruleset, matched)
                else:
                    template, fired = _last_minute(ruleset, matched, index.keeps)
                if len(memo) >= COMPOSED_MEMO:
                    memo.clear()
                composed = memo[key] = (template, [r.id for r in fired])
            decision = dict(composed[0])
            ids = list(composed[1])
        elif low < high:
            first = rules[positions[low]]
            decision, ids = dict(first.then), [first.id]
        else:
            decision, ids = dict(DEFAULTS[kind]), []
        decision["rules"] = ids
        decisions[kind] = decision
        fired_order += ids
    return Outcome(
        decisions,
        source=_Source(index, kinds, matched_ids, tuple(fired_order), facts, explain),
    )
