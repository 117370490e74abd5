"""How one rule reaches the durable-rules engine: its condition split into *parts* (engine rules)
and the formula over them, and what that costs (``rules.plan`` puts the parts of every rule into
engine rulesets and holds the ruleset to its limits).

**Alternatives.** durable-rules walks its alpha network path by path: an ``$or`` nested in an
``$and`` is not expanded when the ruleset is compiled, but a fact that satisfies k₁ branches of
one group and k₂ of the next is carried along k₁·k₂ paths, and every path that reaches the end
fires the rule once (one action to drain, its frames kept in the session). So the cost of a
condition in negation normal form is its number of *alternatives* — the disjunctive-normal-form
terms one fact set can satisfy at once::

    alternatives(leaf) = 1        (in: values are distinct, at most one equals the fact)
    alternatives(all)  = Π alternatives(items)
    alternatives(any)  = Σ alternatives(items)

``all`` of 10 ``any`` groups of 3 range tests plus an ``any`` of 2 is 3¹⁰·2 = 118,098: measured
here (2.0.28) at 0.11 s and +32 MiB of session memory per decision for that one rule.

**Parts.** So a rule is not always one engine rule. A condition is one engine rule when it has at
most ``MAX_PART_ALTERNATIVES`` alternatives or at most one per comparison (*narrow*); a wider one
is split where it multiplies: the items of an ``all`` become separate engine rules (*parts*) as
soon as packing them together would no longer be narrow, and an ``any`` keeps its narrow items
in one part and splits its wide ones. The rule matches when the boolean formula over its parts
holds (``Formula``, evaluated in Python on the parts that fired). Every part is narrow, so a
rule costs at most one alternative per comparison (32) and never more than as one engine rule:
the rule above becomes 11 parts and 32 alternatives. A rule without ``when`` always matches and
costs the engine nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rules.conditions import COMPARE, negation_normal_form
from rules.language import All, AnyOf, Condition, Leaf, Rule, leaves_of
from rules.vocabulary import FACTS, STR

#: Alternatives a part (engine rule) may always have. At 4 no part has more alternatives than
#: comparisons (2·2 = 2 + 2, 3 + 1...), so splitting never costs extra actions.
MAX_PART_ALTERNATIVES = 4


def alternatives(condition: Condition) -> int:
    """DNF terms of a condition in negation normal form that one fact set can satisfy at once
    (an upper bound): what durable-rules fires for it as one engine rule."""
    if isinstance(condition, Leaf):
        return 1
    if isinstance(condition, All):
        product = 1
        for item in condition.items:
            product *= alternatives(item)
        return product
    assert isinstance(condition, AnyOf)
    by_fact: dict[str, list[Leaf]] = {}
    total = 0
    for item in condition.items:
        if isinstance(item, Leaf):
            by_fact.setdefault(item.fact, []).append(item)
        else:
            total += alternatives(item)
    return total + sum(_most_at_once(leaves) for leaves in by_fact.values())


def _most_at_once(leaves: list[Leaf]) -> int:
    """Most of these comparisons of one fact that one value satisfies (``amount < 10`` and
    ``amount > 20``, a negated ``between``: one at a time). Any value of the fact's type is
    tried, not only those of its range: callers' facts are not held to it."""
    if len(leaves) == 1:
        return 1
    numeric = FACTS[leaves[0].fact].type != STR
    candidates: set[Any] = set()
    tests: list[tuple[str, Any]] = []
    for leaf in leaves:
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        candidates.update(values)
        if numeric:  # and a value on each side: what lies between constants, and beyond
            candidates.update(v + step for v in values for step in (-1, 1))
        if leaf.op in ("in", "eq", "not_in", "ne"):
            tests.append((leaf.op, frozenset(values)))
        else:
            tests.append((leaf.op, leaf.value))
    if not numeric:
        candidates.add(None)  # a string no comparison names (None equals no constant)
    return max(sum(_holds(op, operand, value) for op, operand in tests) for value in candidates)


def _holds(op: str, operand: Any, value: Any) -> bool:
    if op in ("in", "eq"):
        return value in operand
    if op in ("not_in", "ne"):
        return value not in operand
    if op == "between":
        return bool(operand[0] <= value <= operand[1])
    return bool(COMPARE[op](value, operand))


def tests_of(condition: Condition) -> int:
    """Alpha tests the engine compiles for a condition: one per compared value (``between``
    two, ``in`` / ``not_in`` one per value)."""
    if isinstance(condition, Leaf):
        if condition.op in ("in", "not_in"):
            return len(condition.value)
        return 2 if condition.op == "between" else 1
    assert isinstance(condition, All | AnyOf)
    return sum(tests_of(item) for item in condition.items)


@dataclass(frozen=True, slots=True)
class Part:
    """One engine rule: a condition in negation normal form, not trivially true or false."""

    condition: Condition
    alternatives: int
    tests: int


#: A rule's condition over its parts: a part index, or ("all" | "any", sub-formulas).
Formula = int | tuple[str, tuple["Formula", ...]]


def holds(formula: Formula, fired: set[int]) -> bool:
    """Whether ``formula`` holds given the indexes of the rule's parts that fired."""
    if isinstance(formula, int):
        return formula in fired
    how, items = formula
    if how == "all":
        return all(holds(item, fired) for item in items)
    return any(holds(item, fired) for item in items)


class _Splitter:
    """Splits one rule's condition into parts; remembers each node's alternatives and
    comparisons (by identity: the tree does not change while it is split)."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self._alternatives: dict[int, int] = {}
        self._leaves: dict[int, int] = {}

    def alternatives(self, condition: Condition) -> int:
        count = self._alternatives.get(id(condition))
        if count is None:
            count = self._alternatives[id(condition)] = alternatives(condition)
        return count

    def leaves(self, condition: Condition) -> int:
        count = self._leaves.get(id(condition))
        if count is None:
            count = self._leaves[id(condition)] = len(leaves_of(condition))
        return count

    def narrow(self, condition: Condition) -> bool:
        return _narrow(self.alternatives(condition), self.leaves(condition))

    def part(self, condition: Condition) -> int:
        self.parts.append(Part(condition, self.alternatives(condition), tests_of(condition)))
        return len(self.parts) - 1

    def split(self, condition: Condition) -> Formula:
        """Parts of a non-trivial condition in negation normal form, and the formula over
        them: every part has at most one alternative per comparison, and so has the rule."""
        if self.narrow(condition):
            return self.part(condition)
        if isinstance(condition, AnyOf):
            narrow = [i for i in condition.items if self.narrow(i)]
            formulas: list[Formula] = [self.part(_group(AnyOf, narrow))] if narrow else []
            formulas += [self.split(i) for i in condition.items if not self.narrow(i)]
            return formulas[0] if len(formulas) == 1 else ("any", tuple(formulas))
        assert isinstance(condition, All)
        groups: list[list[Condition]] = []
        product = leaves = 0  # of the last group
        wide: list[Condition] = []
        # plain comparisons first: they multiply nothing
        for item in sorted(condition.items, key=self.alternatives):
            count, items_leaves = self.alternatives(item), self.leaves(item)
            if not self.narrow(item):
                wide.append(item)
            elif groups and _narrow(product * count, leaves + items_leaves):
                groups[-1].append(item)
                product, leaves = product * count, leaves + items_leaves
            else:
                groups.append([item])
                product, leaves = count, items_leaves
        formulas = [self.part(_group(All, group)) for group in groups]
        formulas += [self.split(item) for item in wide]
        return formulas[0] if len(formulas) == 1 else ("all", tuple(formulas))


def _narrow(alternatives: int, leaves: int) -> bool:
    """Whether a condition of these alternatives and comparisons can be one part: at most
    ``MAX_PART_ALTERNATIVES`` alternatives, or at most one per comparison (a wide ``any`` of
    plain comparisons: splitting it would not save an action)."""
    return alternatives <= max(MAX_PART_ALTERNATIVES, leaves)


def _group(how: type[All] | type[AnyOf], items: Sequence[Condition]) -> Condition:
    return items[0] if len(items) == 1 else how(tuple(items))


@dataclass(frozen=True, slots=True)
class RuleCost:
    engine_rules: int
    tests: int
    alternatives: int

    def __add__(self, other: RuleCost) -> RuleCost:
        return RuleCost(
            self.engine_rules + other.engine_rules,
            self.tests + other.tests,
            self.alternatives + other.alternatives,
        )

    def describe(self) -> str:
        return ", ".join(
            f"{count:,} {unit if count == 1 else unit + 's'}"
            for count, unit in (
                (self.alternatives, "alternative"),
                (self.engine_rules, "engine rule"),
                (self.tests, "compared value"),
            )
        )


NOTHING = RuleCost(0, 0, 0)
ALWAYS, NEVER = All(()), AnyOf(())


@dataclass(frozen=True, slots=True)
class RulePlan:
    """How one rule reaches the engine. ``always``: no condition, the engine is not asked.
    Otherwise the rule matches when ``formula`` holds over its ``parts`` (a rule of one part
    matches when that part fires)."""

    rule: Rule
    parts: tuple[Part, ...]
    formula: Formula | None
    always: bool = False

    @property
    def cost(self) -> RuleCost:
        return RuleCost(
            len(self.parts),
            sum(p.tests for p in self.parts),
            sum(p.alternatives for p in self.parts),
        )


def _simplify(condition: Condition) -> Condition:
    """Without empty groups inside (``all()`` always holds, ``any()`` never does): the language
    never nests them, but a part must not be one."""
    if isinstance(condition, Leaf):
        return condition
    assert isinstance(condition, All | AnyOf)
    items = [_simplify(item) for item in condition.items]
    neutral, absorbing = (ALWAYS, NEVER) if isinstance(condition, All) else (NEVER, ALWAYS)
    if absorbing in items:
        return absorbing
    kept = tuple(item for item in items if item != neutral)
    if len(kept) == 1:
        return kept[0]
    return type(condition)(kept)


def plan_rule(rule: Rule) -> RulePlan:
    nnf = _simplify(negation_normal_form(rule.when))
    if nnf == All(()):
        return RulePlan(rule, (), None, always=True)
    if nnf == AnyOf(()):  # `not` of "always": never matches, nothing to ask
        return RulePlan(rule, (), None)
    splitter = _Splitter()
    formula = splitter.split(nnf)
    parts = tuple(splitter.parts)
    return RulePlan(rule, parts, None if len(parts) == 1 else formula)


def unsplit_cost(rule: Rule) -> RuleCost:
    """What the rule would cost as one engine rule (how tierwise compiled it before parts)."""
    nnf = _simplify(negation_normal_form(rule.when))
    if nnf in (ALWAYS, NEVER):
        return NOTHING
    return RuleCost(1, tests_of(nnf), alternatives(nnf))
