"""rules/plan.py: what the engine is given (parts, chunks), what it costs, the limits validation
applies, and that docs/rules.md states them. Plus the ruinous rule of issue 15 on the real
engine: cheap now."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import parts as plan_module
from rules.conditions import negation_normal_form, predicate
from rules.engine import compile_program, evaluate
from rules.language import (
    MAX_DEPTH,
    MAX_GROUPS_PER_RULE,
    MAX_LEAVES_PER_RULE,
    MAX_RULES,
    MAX_SET_SIZE,
    MAX_VALUES_PER_RULE,
    All,
    AnyOf,
    Condition,
    Leaf,
    Not,
    Rule,
    leaves_of,
)
from rules.parsing import parse_ruleset
from rules.parts import MAX_PART_ALTERNATIVES, alternatives, holds, plan_rule, unsplit_cost
from rules.plan import (
    MAX_RULE_ALTERNATIVES,
    MAX_RULESET_ALTERNATIVES,
    MAX_RULESET_BYTES,
    MAX_RULESET_COMPARED_VALUES,
    cost_errors,
    plan_ruleset,
)
from rules.vocabulary import complete_facts
from tests.support.heap import heap_bytes
from tests.support.rules import leaf

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def ruinous_when() -> dict[str, Any]:
    """Issue 15: all of 10 any-groups of 3 range comparisons, plus an any of 2."""
    groups = [
        {
            "any": [
                leaf("amount", "gte", g),
                leaf("guests", "lt", g + 1),
                leaf("units_left", "gt", g),
            ]
        }
        for g in range(10)
    ]
    return {"all": [*groups, {"any": [leaf("lead_days", "gte", 3), leaf("lead_days", "gte", 4)]}]}


#: every comparison of ``ruinous_when`` holds: the costliest decision for it
ALL_TRUE = {"amount": 10**6, "guests": 0, "units_left": 10**5, "lead_days": 9}


def season(rule_id: str, when: dict[str, Any] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": rule_id, "kind": "season", "then": {"multiplier": "1.1"}}
    if when is not None:
        rule["when"] = when
    return rule


# ---- the ruinous rule ---------------------------------------------------------------------------


def test_the_ruinous_rule_is_118098_alternatives_as_one_engine_rule_and_32_in_parts() -> None:
    rule = parse_ruleset({"rules": [season("ruinous", ruinous_when())]}).rules[0]
    assert unsplit_cost(rule).alternatives == 3**10 * 2 == 118_098
    planned = plan_rule(rule)
    assert planned.cost.alternatives == 32 == len(leaves_of(rule.when))
    assert planned.cost.engine_rules == 11 and planned.cost.tests == 32
    assert all(part.alternatives <= MAX_PART_ALTERNATIVES for part in planned.parts)
    assert cost_errors(parse_ruleset({"rules": [season("ruinous", ruinous_when())]})) == []


def test_the_engine_fires_the_ruinous_rule_32_times_and_keeps_no_memory_for_it() -> None:
    """Before parts, one decision with every comparison true took 0.1 s and left 32 MiB in the
    engine's session (3^10 * 2 actions)."""
    document = {"rules": [season(f"ruinous-{n}", ruinous_when()) for n in range(3)]}
    program = compile_program(parse_ruleset(document), engine="durable", name="ruinous")
    try:
        evaluate(program, {})  # the session exists
        before = heap_bytes()
        outcome = evaluate(program, ALL_TRUE)
        grown = heap_bytes() - before
        assert outcome.fired == ("ruinous-0", "ruinous-1", "ruinous-2")
        assert grown < 256 * 1024, f"the engine kept {grown:,} bytes"
        actions = program.matcher.actions  # type: ignore[attr-defined]
        evaluate(program, ALL_TRUE)
        assert program.matcher.actions - actions == 3 * 32  # type: ignore[attr-defined]
    finally:
        program.close()


# ---- parts are exact -----------------------------------------------------------------------------

INT_FACTS = {"guests": (0, 4), "lead_days": (-1, 3), "amount": (0, 3)}


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    if draw(st.booleans()):
        fact = draw(st.sampled_from(sorted(INT_FACTS)))
        low, high = INT_FACTS[fact]
        value = st.integers(low, high)
        op = draw(st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte", "in", "between"]))
    else:
        fact, value = "segment", st.sampled_from(["", "spa", "gold"])
        op = draw(st.sampled_from(["eq", "ne", "in", "not_in"]))
    if op in ("in", "not_in"):
        return Leaf(fact, op, tuple(draw(st.lists(value, min_size=1, max_size=3, unique=True))))
    if op == "between":
        return Leaf(fact, op, tuple(sorted((draw(value), draw(value)))))
    return Leaf(fact, op, draw(value))


conditions = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda items: All(tuple(items))),
        st.lists(children, min_size=1, max_size=4).map(lambda items: AnyOf(tuple(items))),
        children.map(Not),
    ),
    max_leaves=24,
)


@st.composite
def fact_sets(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {f: draw(st.integers(lo, hi)) for f, (lo, hi) in INT_FACTS.items()}
    facts["segment"] = draw(st.sampled_from(["", "spa", "gold", "x"]))
    return complete_facts(facts)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(condition=conditions, facts=st.lists(fact_sets(), min_size=1, max_size=8))
def test_a_rule_matches_exactly_when_the_formula_over_its_parts_holds(
    condition: Condition, facts: list[dict[str, Any]]
) -> None:
    rule = Rule("r", "season", 0, condition, {"multiplier": 1})
    planned = plan_rule(rule)
    whole = predicate(condition)
    parts = [predicate(part.condition) for part in planned.parts]
    for fact_set in facts:
        fired = {index for index, holds_ in enumerate(parts) if holds_(fact_set)}
        if planned.always:
            matched = True
        elif planned.formula is None:
            matched = bool(fired)
        else:
            matched = holds(planned.formula, fired)
        assert matched == whole(fact_set)
    # what the engine pays: never more than the condition as one rule, at most one alternative
    # per comparison, in every part too
    cost = planned.cost
    assert cost.alternatives <= max(1, alternatives(negation_normal_form(condition)))
    assert cost.alternatives <= len(leaves_of(condition))
    for part in planned.parts:
        assert part.alternatives <= max(MAX_PART_ALTERNATIVES, len(leaves_of(part.condition)))


# ---- limits --------------------------------------------------------------------------------------


def test_rules_without_condition_cost_the_engine_nothing() -> None:
    ruleset = parse_ruleset({"rules": [season(f"r{n}") for n in range(MAX_RULES)]})
    plan = plan_ruleset(ruleset)
    assert plan.chunks == () and plan.cost.engine_rules == 0
    assert cost_errors(ruleset) == []


def wide(rule_id: str, first: int) -> dict[str, Any]:
    """16 alternatives (in 4 parts): all of 8 pairs of range comparisons."""
    pairs = [
        {"any": [leaf("amount", "gte", first + 2 * g), leaf("amount", "gte", first + 2 * g + 1)]}
        for g in range(8)
    ]
    return season(rule_id, {"all": pairs})


def test_too_many_alternatives_point_at_the_rule_that_crosses_the_limit() -> None:
    rules = [wide(f"w{n}", 16 * n) for n in range(MAX_RULESET_ALTERNATIVES // 16 + 2)]
    ruleset = parse_ruleset({"rules": rules})
    crossing = MAX_RULESET_ALTERNATIVES // 16
    assert cost_errors(ruleset) == [
        {
            "path": f"/rules/{crossing}",
            "message": f"Rule w{crossing} (16 alternatives, 4 engine rules, 16 compared values) "
            f"takes the ruleset to {16 * (crossing + 1)} alternatives: at most "
            f"{MAX_RULESET_ALTERNATIVES} per ruleset (all its rules' conditions matching at once).",
        }
    ]  # reported once, though the rule after it is over too
    assert cost_errors(parse_ruleset({"rules": rules[:crossing]})) == []


def test_too_much_memory_points_at_the_rule_that_crosses_the_limit() -> None:
    chain = [
        season(f"c{n}", {"all": [leaf("amount", "gte", 32 * n + k) for k in range(32)]})
        for n in range(60)
    ]
    ruleset = parse_ruleset({"rules": chain})
    [error] = cost_errors(ruleset)
    crossing = int(error["path"].rsplit("/", 1)[1])
    assert error["message"].startswith(
        f"Rule c{crossing} (1 alternative, 1 engine rule, 32 compared values) takes the compiled "
        "ruleset to about "
    )
    assert error["message"].endswith(f" of memory: at most {MAX_RULESET_BYTES // 1024:,} KiB.")
    assert plan_ruleset(parse_ruleset({"rules": chain[:crossing]})).ruleset_bytes <= (
        MAX_RULESET_BYTES
    )
    assert plan_ruleset(parse_ruleset({"rules": chain[: crossing + 1]})).ruleset_bytes > (
        MAX_RULESET_BYTES
    )


def test_too_many_compared_values_point_at_the_rule_that_crosses_the_limit() -> None:
    """Equal values share engine nodes (little memory) but are all compiled: 40 rules of the
    same four lists of 100 values took 65 ms to compile, 125 of them 0.9 s."""
    lists = [
        leaf(fact, "in", list(range(500, 600)))
        for fact in ("amount", "guests", "units_left", "lead_days")
    ]
    rules = [season(f"s{n}", {"any": lists}) for n in range(30)]
    ruleset = parse_ruleset({"rules": rules})
    crossing = MAX_RULESET_COMPARED_VALUES // 400
    assert plan_ruleset(ruleset).ruleset_bytes < MAX_RULESET_BYTES  # shared: not a memory matter
    assert cost_errors(ruleset) == [
        {
            "path": f"/rules/{crossing}",
            "message": f"Rule s{crossing} (4 alternatives, 1 engine rule, 400 compared values) takes "
            f"the ruleset to {400 * (crossing + 1):,} compared values: at most "
            f"{MAX_RULESET_COMPARED_VALUES:,} per ruleset (the engine compiles each).",
        }
    ]


def test_a_rule_past_its_own_limit_is_refused_where_its_condition_is() -> None:
    """No rule within the language's limits gets there (parts guarantee one alternative per
    comparison); with wider parts allowed, the ruinous rule would."""
    ruleset = parse_ruleset({"rules": [season("ok"), season("ruinous", ruinous_when())]})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plan_module, "_narrow", lambda alternatives, leaves: True)
        error, _over_the_ruleset_limit_too = cost_errors(ruleset)
    assert error == {
        "path": "/rules/1/when",
        "message": "Rule ruinous costs the engine 118,098 alternatives, 1 engine rule, 32 "
        f"compared values; at most {MAX_RULE_ALTERNATIVES} alternatives per rule.",
    }


# ---- docs -----------------------------------------------------------------------------------------


def limits_section() -> str:
    return DOCS.read_text().split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_docs_state_the_cost_limits_the_code_applies() -> None:
    rows = {
        cells[0]: cells[1]
        for line in limits_section().splitlines()
        if line.startswith("| ") and not line.startswith("| ---")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert number(rows["alternatives per rule"]) == MAX_RULE_ALTERNATIVES
    assert number(rows["alternatives per ruleset"]) == MAX_RULESET_ALTERNATIVES
    assert number(rows["compared values per ruleset"]) == MAX_RULESET_COMPARED_VALUES
    assert rows["compiled memory per ruleset"] == f"{MAX_RULESET_BYTES // 1024:,} KiB"


def test_docs_state_the_language_limits_the_code_applies() -> None:
    text = limits_section().split("\n### ", 1)[0]
    found = re.search(
        r"at most ([\d,]+) rules, .* Conditions nest at most (\d+) levels; a\s+rule has at most "
        r"(\d+) comparisons, (\d+) compared values and (\d+) groups .* a set has at most (\d+)",
        text,
        re.S,
    )
    assert found, text
    assert tuple(number(g) for g in found.groups()) == (
        MAX_RULES,
        MAX_DEPTH,
        MAX_LEAVES_PER_RULE,
        MAX_VALUES_PER_RULE,
        MAX_GROUPS_PER_RULE,
        MAX_SET_SIZE,
    )
