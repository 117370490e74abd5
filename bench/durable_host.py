"""durable-rules' own ``Host`` layer (``durable.lang``) running a ruleset: a BASELINE for the
benchmark (how much the direct binding saves), never used to serve. Single thread only: the Host
layer segfaults under threads and its timer threads never stop (see DESIGN.md); run it in a
process you throw away. The one module outside ``rules/`` that imports durable-rules: it is only
a yardstick for ``bench/rules_bench.py``; what serves goes through ``rules.engine``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from rules.language import All, AnyOf, Condition, Leaf, Ruleset
from rules.parts import holds
from rules.plan import plan_ruleset


def _lang_expr(condition: Condition) -> Any:
    """A condition in negation normal form -> a durable.lang expression on ``m``."""
    from durable.lang import m

    if isinstance(condition, Leaf):
        attr = getattr(m, condition.fact)
        op, value = condition.op, condition.value
        if op == "eq":
            return attr == value
        if op == "ne":
            return attr != value
        if op == "lt":
            return attr < value
        if op == "lte":
            return attr <= value
        if op == "gt":
            return attr > value
        if op == "gte":
            return attr >= value
        if op == "between":
            return (attr >= value[0]) & (getattr(m, condition.fact) <= value[1])
        parts = [
            (getattr(m, condition.fact) == v) if op == "in" else (getattr(m, condition.fact) != v)
            for v in value
        ]
        return _combine(parts, "or" if op == "in" else "and")
    if isinstance(condition, All):
        return _combine([_lang_expr(i) for i in condition.items], "and")
    assert isinstance(condition, AnyOf) and condition.items  # the plan keeps no trivial part
    return _combine([_lang_expr(i) for i in condition.items], "or")


def _combine(parts: list[Any], how: str) -> Any:
    expr = parts[0]
    for part in parts[1:]:
        expr = (expr & part) if how == "and" else (expr | part)
    return expr


def _collector(fired: set[tuple[int, int]], rule_index: int, index: int) -> Callable[[Any], None]:
    def action(c: Any) -> None:  # exactly one parameter: durable runs it synchronously
        fired.add((rule_index, index))

    return action


def host_decider(
    ruleset: Ruleset, prefix: str
) -> tuple[Callable[[dict[str, Any]], set[str]], list[str]]:
    """A function answering which rules match a complete fact set, through the Host layer, and
    the names of the Host rulesets it made (one per engine chunk of ``rules.plan``)."""
    from durable import engine as durable_engine
    from durable import lang

    plan = plan_ruleset(ruleset)
    fired: set[tuple[int, int]] = set()
    names = []
    for number, chunk in enumerate(plan.chunks):
        name = f"{prefix}_{number}"
        with lang.ruleset(name):
            for ref in chunk.parts:
                lang.when_all(_lang_expr(ref.condition))(
                    _collector(fired, ref.rule_index, ref.index)
                )
        names.append(name)
    host = lang.get_host()
    not_handled: type[BaseException] = durable_engine.MessageNotHandledException
    always = {r.rule.id for r in plan.rules if r.always}

    def decide(fact: dict[str, Any]) -> set[str]:
        fired.clear()
        for name in names:
            with contextlib.suppress(not_handled):  # no rule matched
                host.assert_fact(name, fact)
            with contextlib.suppress(not_handled):
                host.retract_fact(name, fact)
        matched = set(always)
        for rule_index, rule_plan in enumerate(plan.rules):
            parts = {index for r, index in fired if r == rule_index}
            if parts and (rule_plan.formula is None or holds(rule_plan.formula, parts)):
                matched.add(rule_plan.rule.id)
        return matched

    return decide, names
