"""Pure-Python semantics of conditions: negation normal form, closures for evaluation (the
reference evaluator) and the compact "why not" of a condition that did not match."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from rules.language import All, AnyOf, Condition, Leaf, Not

Facts = Mapping[str, Any]
Predicate = Callable[[Facts], bool]

NEGATED_OP = {
    "eq": "ne",
    "ne": "eq",
    "lt": "gte",
    "gte": "lt",
    "gt": "lte",
    "lte": "gt",
    "in": "not_in",
    "not_in": "in",
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
SYMBOL = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "in",
    "not_in": "not in",
    "between": "between",
}


def negation_normal_form(condition: Condition, negate: bool = False) -> Condition:
    """An equivalent condition with ``not`` pushed down to the leaves and removed.

    Exact because every fact is always present with its declared type (rules/vocabulary.py).
    """
    if isinstance(condition, Not):
        return negation_normal_form(condition.item, not negate)
    if isinstance(condition, All | AnyOf):
        items = tuple(negation_normal_form(i, negate) for i in condition.items)
        if not negate:
            return type(condition)(items)
        if not items:  # not(always): can't be written without a leaf; keep it impossible
            return AnyOf(())
        return AnyOf(items) if isinstance(condition, All) else All(items)
    if not negate:
        return condition
    if condition.op == "between":
        low, high = condition.value
        return AnyOf((Leaf(condition.fact, "lt", low), Leaf(condition.fact, "gt", high)))
    return Leaf(condition.fact, NEGATED_OP[condition.op], condition.value)


def predicate(condition: Condition) -> Predicate:
    """Compile a condition into a closure over a complete fact mapping."""
    if isinstance(condition, Leaf):
        fact, op, expected = condition.fact, condition.op, condition.value
        if op in ("in", "not_in"):
            members = frozenset(expected)
            if op == "in":
                return lambda facts: facts[fact] in members
            return lambda facts: facts[fact] not in members
        if op == "between":
            low, high = expected
            return lambda facts: low <= facts[fact] <= high
        compare = COMPARE[op]
        return lambda facts: compare(facts[fact], expected)
    if isinstance(condition, Not):
        inner = predicate(condition.item)
        return lambda facts: not inner(facts)
    parts = tuple(predicate(i) for i in condition.items)
    if isinstance(condition, All):
        if not parts:
            return lambda facts: True
        return lambda facts: all(p(facts) for p in parts)
    return lambda facts: any(p(facts) for p in parts)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def why_not(condition: Condition, facts: Facts) -> str | None:
    """None if ``condition`` holds; otherwise a short reason naming the failing comparisons,
    e.g. ``lead_days=10 is not < 3``."""
    return explainer(condition)(facts)


Explainer = Callable[[Facts], "str | None"]


def explainer(condition: Condition) -> Explainer:
    """``why_not`` compiled for one condition (negation normal form and texts prepared once)."""
    return _explainer(negation_normal_form(condition))


def _explainer(condition: Condition) -> Explainer:
    if isinstance(condition, Leaf):
        holds = predicate(condition)
        fact = condition.fact
        tail = f" is not {SYMBOL[condition.op]} {_show(condition.value)}"

        def leaf(facts: Facts) -> str | None:
            return None if holds(facts) else f"{fact}={_show(facts[fact])}{tail}"

        return leaf
    assert not isinstance(condition, Not)  # negation normal form has none
    parts = [_explainer(item) for item in condition.items]
    if isinstance(condition, All):

        def every(facts: Facts) -> str | None:
            for part in parts:
                reason = part(facts)
                if reason:
                    return reason
            return None

        return every

    def some(facts: Facts) -> str | None:
        reasons = []
        for part in parts:
            reason = part(facts)
            if reason is None:
                return None
            reasons.append(reason)
        return "none of: " + "; ".join(reasons) if reasons else "never matches"

    return some
