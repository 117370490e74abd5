"""Static warnings (rules/checks.py analyse) and the example cases of a ruleset (run_cases)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rules.checks import Warning, analyse, run_cases, sample_facts
from rules.defaults import DEFAULT_RULESET
from rules.engine import Program, compile_program
from rules.parsing import parse_ruleset
from tests.support.rules import leaf


def warnings_of(rules: list[dict[str, Any]], **document: Any) -> list[Warning]:
    return analyse(parse_ruleset({"rules": rules, **document}))


def codes(warnings: list[Warning]) -> list[tuple[str, str]]:
    return [(w.code, w.path) for w in warnings]


COMMISSION = {"rate_percent": "10"}


def test_default_ruleset_has_no_warnings() -> None:
    assert analyse(parse_ruleset(DEFAULT_RULESET)) == []


@pytest.mark.parametrize(
    "when",
    [
        {"all": [leaf("guests", "gt", 5), leaf("guests", "lt", 3)]},
        {"all": [leaf("guests", "eq", 2), leaf("guests", "eq", 3)]},
        {"all": [leaf("lead_days", "between", [0, 3]), leaf("lead_days", "gte", 4)]},
        {"all": [leaf("service_month", "in", [1, 2]), leaf("service_month", "in", [7, 8])]},
        {"not": {"any": [leaf("tier_level", "gte", 1), leaf("tier_level", "lte", 1)]}},
        leaf("service_month", "gt", 12),  # above the fact's range
    ],
)
def test_contradictory_conditions_are_unreachable(when: dict[str, Any]) -> None:
    warnings = warnings_of(
        [
            {"id": "fine", "kind": "season", "then": {"multiplier": "1.1"}},
            {"id": "never", "kind": "season", "when": when, "then": {"multiplier": "1.2"}},
        ]
    )
    assert codes(warnings) == [("unreachable", "/rules/1")]
    assert "contradict" in warnings[0].message


@pytest.mark.parametrize(
    "when",
    [
        {"all": [leaf("guests", "gt", 2), leaf("guests", "lt", 4)]},  # guests = 3
        {"all": [leaf("guests", "gt", 5), leaf("segment", "eq", "a")]},
        {"all": [leaf("guests", "ne", 2), leaf("guests", "eq", 3)]},  # ne is not used for bounds
    ],
)
def test_satisfiable_conditions_are_not_flagged(when: dict[str, Any]) -> None:
    rules = [{"id": "ok", "kind": "season", "when": when, "then": {"multiplier": "1.2"}}]
    assert warnings_of(rules) == []


def test_rule_shadowed_by_an_unconditional_higher_priority_rule() -> None:
    warnings = warnings_of(
        [
            {
                "id": "vip",
                "kind": "commission",
                "priority": 5,
                "when": leaf("segment", "eq", "vip"),
                "then": {"rate_percent": "5"},
            },
            {"id": "always", "kind": "commission", "priority": 10, "then": COMMISSION},
            {
                "id": "season-ok",
                "kind": "season",
                "priority": 1,
                "when": leaf("segment", "eq", "vip"),
                "then": {"multiplier": "1.1"},
            },
            {
                "id": "season-always",
                "kind": "season",
                "priority": 10,
                "then": {"multiplier": "1.1"},
            },
        ]
    )
    # only winner-takes-all kinds: season rules all apply, so nothing is shadowed there
    assert codes(warnings) == [("unreachable", "/rules/0")]
    assert "Rule always always matches with a higher priority" in warnings[0].message


def test_equal_priority_unconditional_rule_earlier_in_the_document_shadows() -> None:
    warnings = warnings_of(
        [
            {
                "id": "first",
                "kind": "upsell",
                "priority": 3,
                "then": {"offer": "none", "message_key": "m"},
            },
            {
                "id": "second",
                "kind": "upsell",
                "priority": 3,
                "when": leaf("guests", "gt", 1),
                "then": {"offer": "none", "message_key": "m"},
            },
        ]
    )
    assert ("unreachable", "/rules/1") in codes(warnings)
    # ...and a later unconditional rule never shadows an earlier one of the same priority
    warnings = warnings_of(
        [
            {
                "id": "first",
                "kind": "upsell",
                "priority": 3,
                "when": leaf("guests", "gt", 1),
                "then": {"offer": "none", "message_key": "m"},
            },
            {
                "id": "second",
                "kind": "upsell",
                "priority": 3,
                "then": {"offer": "none", "message_key": "m"},
            },
        ]
    )
    assert ("unreachable", "/rules/0") not in codes(warnings)


def test_same_priority_winner_takes_all_rules_that_can_both_match_overlap() -> None:
    warnings = warnings_of(
        [
            {
                "id": "big-party",
                "kind": "commission",
                "priority": 5,
                "when": leaf("guests", "gte", 4),
                "then": COMMISSION,
            },
            {
                "id": "summer",
                "kind": "commission",
                "priority": 5,
                "when": leaf("service_month", "in", [7, 8]),
                "then": {"rate_percent": "12"},
            },
            {
                "id": "other-priority",
                "kind": "commission",
                "priority": 6,
                "when": leaf("guests", "gte", 4),
                "then": COMMISSION,
            },
            {
                "id": "exclusive",
                "kind": "commission",
                "priority": 5,
                "when": leaf("guests", "lt", 4),
                "then": COMMISSION,
            },
        ]
    )
    assert codes(warnings) == [("overlap", "/rules/1"), ("overlap", "/rules/3")]
    first, second = warnings
    assert first.message.startswith("Rules big-party and summer have the same priority")
    assert "guests" in first.message and "service_month" in first.message  # the witness
    assert second.message.startswith("Rules summer and exclusive")


def test_same_priority_season_rules_do_not_overlap() -> None:
    rules = [
        {"id": f"s{i}", "kind": "season", "priority": 5, "then": {"multiplier": "1.1"}}
        for i in range(3)
    ]
    assert warnings_of(rules, guardrails={"max_multiplier": "2"}) == []


def test_parameters_outside_the_guardrails() -> None:
    warnings = warnings_of(
        [
            {
                "id": "low",
                "kind": "season",
                "when": leaf("guests", "eq", 1),
                "then": {"multiplier": "0.4"},
            },
            {
                "id": "edge",
                "kind": "season",
                "when": leaf("guests", "eq", 2),
                "then": {"multiplier": "2.5"},
            },
            {
                "id": "high",
                "kind": "season",
                "when": leaf("guests", "eq", 3),
                "then": {"multiplier": "2.51"},
            },
            {"id": "big", "kind": "last_minute", "then": {"percent_off": "30.01"}},
            {"id": "cap", "kind": "last_minute", "then": {"percent_off": "30"}},
        ],
        guardrails={
            "min_multiplier": "0.5",
            "max_multiplier": "2.5",
            "max_total_discount_percent": "30",
        },
    )
    assert codes(warnings) == [
        ("outside_guardrails", "/rules/0/then/multiplier"),
        ("outside_guardrails", "/rules/2/then/multiplier"),
        ("outside_guardrails", "/rules/3/then/percent_off"),
    ]
    assert "0.4 is outside the guardrails [0.5, 2.5]" in warnings[0].message
    assert "30.01 % is above the maximum total discount of 30 %" in warnings[2].message


def test_sample_facts_are_deterministic_and_use_the_rules_constants() -> None:
    ruleset = parse_ruleset(
        {
            "rules": [
                {
                    "id": "a",
                    "kind": "season",
                    "when": leaf("guests", "eq", 17),
                    "then": {"multiplier": "1.1"},
                }
            ]
        }
    )
    samples = sample_facts(ruleset, 200)
    assert samples == sample_facts(ruleset, 200)
    assert {s["guests"] for s in samples} == {0, 16, 17, 18}


# ---- example cases -------------------------------------------------------------------------------

CASES_DOC: dict[str, Any] = {
    "stacking": "ordered_stack",
    "rules": [
        {
            "id": "summer",
            "kind": "season",
            "priority": 10,
            "when": leaf("service_month", "in", [7, 8]),
            "then": {"multiplier": "1.2"},
        },
        {
            "id": "late",
            "kind": "last_minute",
            "when": leaf("lead_days", "between", [0, 3]),
            "then": {"percent_off": "10"},
        },
        {
            "id": "later",
            "kind": "last_minute",
            "when": leaf("lead_days", "between", [0, 1]),
            "then": {"percent_off": "20"},
        },
        {"id": "fee", "kind": "commission", "then": {"rate_percent": "7.5"}},
    ],
    "tests": [
        {
            "name": "passes",
            "facts": {"service_date": "2027-07-10", "lead_days": 1},
            "expect": {
                "season": {"multiplier": "1.2"},
                "last_minute": {"percent_off": 28},
                "commission": {"rate_percent": "7.500"},
                "fired": ["fee", "later", "late", "summer"],
            },
        },
        {
            "name": "wrong values",
            "facts": {"service_date": "2027-03-10", "lead_days": 3},
            "expect": {
                "season": {"multiplier": "1.2"},
                "last_minute": {"percent_off": "10"},
                "commission": {"rate_percent": "8", "fixed": 0},
            },
        },
        {"name": "wrong fired", "facts": {"lead_days": 9}, "expect": {"fired": ["fee", "summer"]}},
        {
            "name": "odd expectations",
            "facts": {},
            "expect": {
                "season": "1.0",
                "commission": {"discount": 1},
                "upgrade": {"allow": False, "reason": "no_matching_rule"},
            },
        },
    ],
}


@pytest.fixture(params=["reference", "durable"])
def cases_program(request: pytest.FixtureRequest) -> Iterator[Program]:
    program = compile_program(parse_ruleset(CASES_DOC), engine=request.param)
    yield program
    program.close()


def test_run_cases_reports_pass_and_fail_with_mismatches(cases_program: Program) -> None:
    results = {r.name: r for r in run_cases(cases_program)}
    assert list(results) == ["passes", "wrong values", "wrong fired", "odd expectations"]

    assert results["passes"].passed is True and results["passes"].mismatches == ()

    wrong = results["wrong values"]
    assert wrong.passed is False
    assert wrong.mismatches == (
        "season.multiplier: expected '1.2', got Decimal('1')",
        "commission.rate_percent: expected '8', got Decimal('7.5')",
    )
    assert wrong.decisions["last_minute"]["percent_off"] == 10

    fired = results["wrong fired"]
    assert fired.mismatches == ("fired: expected ['fee', 'summer'], got ['fee']",)

    odd = results["odd expectations"]
    assert odd.mismatches == (
        "season: expectation must be an object",
        "commission.discount: expected 1, got None",
    )


def test_default_ruleset_cases_pass_on_both_engines() -> None:
    for engine in ("reference", "durable"):
        program = compile_program(parse_ruleset(DEFAULT_RULESET), engine=engine)
        try:
            assert [r.passed for r in run_cases(program)] == [True] * 5
        finally:
            program.close()
