"""Composition of the matching rules into one decision per kind (rules/outcome.py), with exact
Decimal values, through both matchers (durable and reference)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rules.engine import Program, compile_program, evaluate
from rules.language import KINDS
from rules.outcome import RuleResult
from rules.parsing import parse_ruleset
from tests.support.rules import leaf

D = Decimal


def rule(
    rule_id: str, kind: str, then: dict[str, Any], priority: int = 0, when: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rule_id, "kind": kind, "priority": priority, "then": then}
    if when is not None:
        out["when"] = when
    return out


def season(rule_id: str, multiplier: str, priority: int = 0, when: Any = None) -> dict[str, Any]:
    return rule(rule_id, "season", {"multiplier": multiplier}, priority, when)


def discount(
    rule_id: str, percent: str, priority: int = 0, group: str = "default", when: Any = None
) -> dict[str, Any]:
    return rule(rule_id, "last_minute", {"percent_off": percent, "group": group}, priority, when)


@pytest.fixture(params=["reference", "durable"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def build(engine: str, programs: list[Program]) -> Any:
    def make(rules: list[dict[str, Any]], **document: Any) -> Program:
        program = compile_program(parse_ruleset({"rules": rules, **document}), engine=engine)
        programs.append(program)
        return program

    return make


# ---- season: multipliers multiply, clamped to the guardrails --------------------------------------


def test_season_multipliers_multiply(build: Any) -> None:
    program = build(
        [
            season("weekend", "1.1", 50, leaf("service_weekday", "in", [6, 7])),
            season("summer", "1.2", 100, leaf("service_month", "in", [7, 8])),
            season("winter", "0.8", 100, leaf("service_month", "in", [12, 1])),
        ]
    )
    decision = evaluate(program, {"service_month": 7, "service_weekday": 6}).decisions["season"]
    assert decision["multiplier"] == D("1.32")
    assert decision["unclamped"] == D("1.32")
    assert decision["clamped"] is False
    assert decision["rules"] == ["summer", "weekend"]  # priority order
    only_weekend = evaluate(program, {"service_month": 3, "service_weekday": 7}).decisions["season"]
    assert only_weekend["multiplier"] == D("1.1") and only_weekend["rules"] == ["weekend"]
    nothing = evaluate(program, {"service_month": 3, "service_weekday": 2}).decisions["season"]
    assert nothing["multiplier"] == D(1) and nothing["rules"] == [] and nothing["clamped"] is False


def test_season_product_is_clamped_to_max(build: Any) -> None:
    program = build(
        [season("a", "1.5"), season("b", "1.5"), season("c", "1.0001")],
        guardrails={"max_multiplier": "2"},
    )
    decision = evaluate(program, {}).decisions["season"]
    assert decision["unclamped"] == D("2.25") * D("1.0001")
    assert decision["multiplier"] == D(2)
    assert decision["clamped"] is True
    assert decision["rules"] == ["a", "b", "c"]  # every matching rule applied, even when clamped


def test_season_product_is_clamped_to_min(build: Any) -> None:
    program = build([season("a", "0.6"), season("b", "0.7")], guardrails={"min_multiplier": "0.5"})
    decision = evaluate(program, {}).decisions["season"]
    assert decision["unclamped"] == D("0.42")
    assert decision["multiplier"] == D("0.5")
    assert decision["clamped"] is True


def test_a_single_multiplier_outside_the_guardrails_is_clamped(build: Any) -> None:
    program = build([season("a", "5")])  # default guardrails [0.5, 3]
    decision = evaluate(program, {}).decisions["season"]
    assert (decision["multiplier"], decision["unclamped"], decision["clamped"]) == (
        D(3),
        D(5),
        True,
    )


# ---- last minute: stacking policies ---------------------------------------------------------------

LAST_MINUTE = [
    discount("ten", "10", 100, when=leaf("lead_days", "between", [0, 7])),
    discount("twenty", "20", 50, when=leaf("lead_days", "between", [0, 3])),
]


def test_best_only_takes_the_largest_discount(build: Any) -> None:
    program = build(LAST_MINUTE, stacking="best_only")
    decision = evaluate(program, {"lead_days": 2}).decisions["last_minute"]
    assert decision["percent_off"] == D(20) and decision["rules"] == ["twenty"]
    assert decision["capped"] is False
    decision = evaluate(program, {"lead_days": 5}).decisions["last_minute"]
    assert decision["percent_off"] == D(10) and decision["rules"] == ["ten"]
    decision = evaluate(program, {"lead_days": 30}).decisions["last_minute"]
    assert decision["percent_off"] == D(0) and decision["rules"] == []


def test_best_only_ties_go_to_priority_then_document_order(build: Any) -> None:
    program = build(
        [discount("first", "10", 1), discount("high", "10", 5), discount("later", "10", 5)],
        stacking="best_only",
    )
    assert evaluate(program, {}).decisions["last_minute"]["rules"] == ["high"]


def test_ordered_stack_compounds(build: Any) -> None:
    program = build(LAST_MINUTE, stacking="ordered_stack")
    decision = evaluate(program, {"lead_days": 2}).decisions["last_minute"]
    assert decision["percent_off"] == D(28)  # 1 - 0.9 * 0.8
    assert decision["uncapped"] == D(28) and decision["capped"] is False
    assert decision["rules"] == ["ten", "twenty"]  # priority order


def test_ordered_stack_is_capped(build: Any) -> None:
    program = build(
        [discount("a", "10", 3), discount("b", "20", 2), discount("c", "50", 1)],
        stacking="ordered_stack",
        guardrails={"max_total_discount_percent": "50"},
    )
    decision = evaluate(program, {}).decisions["last_minute"]
    assert decision["uncapped"] == D(64)  # 1 - 0.9 * 0.8 * 0.5
    assert decision["percent_off"] == D(50)
    assert decision["capped"] is True
    assert decision["rules"] == ["a", "b", "c"]


def test_exclusive_groups_take_the_best_per_group_and_compound_groups(build: Any) -> None:
    program = build(
        [
            discount("a-small", "10", 9, "a"),
            discount("b-only", "20", 5, "b"),
            discount("a-big", "15", 1, "a"),
        ],
        stacking="exclusive_groups",
        guardrails={"max_total_discount_percent": "40"},
    )
    decision = evaluate(program, {}).decisions["last_minute"]
    assert decision["percent_off"] == D(32)  # 1 - 0.85 * 0.8
    assert decision["capped"] is False
    assert decision["rules"] == ["b-only", "a-big"]  # the applied rules in priority order

    capped = build(
        [discount("a", "30", group="a"), discount("b", "30", group="b")],
        stacking="exclusive_groups",
        guardrails={"max_total_discount_percent": "40"},
    )
    decision = evaluate(capped, {}).decisions["last_minute"]
    assert decision["uncapped"] == D(51) and decision["percent_off"] == D(40)
    assert decision["capped"] is True


def test_best_only_discount_is_capped(build: Any) -> None:
    program = build([discount("big", "60")], guardrails={"max_total_discount_percent": "25.5"})
    decision = evaluate(program, {}).decisions["last_minute"]
    assert decision["percent_off"] == D("25.5") and decision["uncapped"] == D(60)
    assert decision["capped"] is True


def test_fractional_percentages_compound_exactly(build: Any) -> None:
    program = build([discount("a", "12.5"), discount("b", "7.25")], stacking="ordered_stack")
    decision = evaluate(program, {}).decisions["last_minute"]
    assert decision["percent_off"] == (1 - D("0.875") * D("0.9275")) * 100
    assert decision["percent_off"] == D("18.84375")


# ---- winner takes all ----------------------------------------------------------------------------


def test_commission_highest_priority_wins(build: Any) -> None:
    program = build(
        [
            rule("low", "commission", {"rate_percent": "5"}, 10),
            rule(
                "high",
                "commission",
                {"rate_percent": "8.5", "fixed": 50, "max": 900},
                20,
                leaf("guests", "gte", 2),
            ),
        ]
    )
    outcome = evaluate(program, {"guests": 3})
    assert outcome.decisions["commission"] == {
        "rate_percent": D("8.5"),
        "fixed": 50,
        "min": 0,
        "max": 900,
        "rules": ["high"],
    }
    assert outcome.fired == ("high",)
    assert outcome.matched == ("high", "low")
    assert evaluate(program, {"guests": 1}).decisions["commission"]["rules"] == ["low"]


@pytest.mark.parametrize("kind", ["upgrade", "fallback", "commission", "upsell"])
def test_priority_ties_keep_document_order(build: Any, kind: str) -> None:
    then = {
        "upgrade": lambda n: {"allow": n % 2 == 0, "reason": f"r{n}"},
        "fallback": lambda n: {
            "strategies": [{"type": "nearby_dates", "days": n}],
            "max_results": n,
        },
        "commission": lambda n: {"rate_percent": n},
        "upsell": lambda n: {"offer": "tier", "target_level": n, "message_key": f"m{n}"},
    }[kind]
    program = build(
        [
            rule("low", kind, then(1), 1),
            rule("first", kind, then(2), 7, leaf("guests", "lt", 5)),
            rule("second", kind, then(3), 7),
        ]
    )
    outcome = evaluate(program, {"guests": 1}, [kind])
    assert outcome.decisions[kind]["rules"] == ["first"]
    assert {k: v for k, v in outcome.decisions[kind].items() if k != "rules"} == {
        k: v for k, v in program.ruleset.rules[1].then.items()
    }
    assert [(r.rule_id, r.matched, r.fired) for r in outcome.considered] == [
        ("first", True, True),
        ("second", True, False),
        ("low", True, False),
    ]
    # when the first stops matching, the tie goes to the other one
    assert evaluate(program, {"guests": 9}, [kind]).decisions[kind]["rules"] == ["second"]


def test_default_ruleset_upgrades(engine: str) -> None:
    from rules.defaults import DEFAULT_RULESET

    program = compile_program(parse_ruleset(DEFAULT_RULESET), engine=engine)
    try:

        def upgrade(**facts: Any) -> dict[str, Any]:
            return dict(evaluate(program, facts, ["upgrade"]).decisions["upgrade"])

        assert upgrade(level_delta=-1, booking_status="paid") == {
            "allow": False,
            "reason": "downgrade_after_booking",
            "rules": ["no-downgrade-after-booking"],
        }
        assert upgrade(level_delta=-1)["reason"] == "downgrade_allowed"
        assert upgrade(level_delta=2, booking_status="paid")["reason"] == "upgrade_allowed"
        assert upgrade(level_delta=0) == {"allow": False, "reason": "no_matching_rule", "rules": []}
    finally:
        program.close()


# ---- defaults ------------------------------------------------------------------------------------


def test_defaults_when_nothing_matches(build: Any) -> None:
    program = build(
        [
            rule(
                "never-upgrade",
                "upgrade",
                {"allow": True, "reason": "x"},
                1,
                leaf("guests", "gt", 999),
            ),
            rule(
                "never-commission", "commission", {"rate_percent": 9}, 1, leaf("guests", "gt", 999)
            ),
        ]
    )
    decisions = evaluate(program, {"guests": 2}).decisions
    assert decisions["upgrade"] == {"allow": False, "reason": "no_matching_rule", "rules": []}
    assert decisions["commission"] == {
        "rate_percent": D(0),
        "fixed": 0,
        "min": 0,
        "max": None,
        "rules": [],
    }
    assert decisions["fallback"] == {"strategies": [], "max_results": 0, "rules": []}
    assert decisions["upsell"] == {
        "offer": "none",
        "message_key": "",
        "percent_off": D(0),
        "rules": [],
    }
    assert decisions["season"]["multiplier"] == D(1) and decisions["season"]["rules"] == []
    assert decisions["last_minute"]["percent_off"] == D(0)
    assert decisions["last_minute"]["rules"] == []


def test_empty_ruleset_gives_every_default(build: Any) -> None:
    outcome = evaluate(build([]), {})
    assert list(outcome.decisions) == list(KINDS)
    assert outcome.considered == () and outcome.fired == ()
    assert outcome.decisions["upgrade"]["reason"] == "no_matching_rule"
    assert outcome.decisions["commission"]["rate_percent"] == D(0)


def test_a_decision_is_a_copy(build: Any) -> None:
    program = build([rule("c", "commission", {"rate_percent": 3})])
    evaluate(program, {}).decisions["commission"]["rate_percent"] = D(99)  # type: ignore[index]
    assert evaluate(program, {}).decisions["commission"]["rate_percent"] == D(3)
    assert program.ruleset.rules[0].then["rate_percent"] == D(3)


# ---- considered ----------------------------------------------------------------------------------


def test_considered_lists_every_rule_of_the_requested_kinds(build: Any) -> None:
    program = build(
        [
            season("summer", "1.2", 10, leaf("service_month", "in", [7, 8])),
            rule("c-default", "commission", {"rate_percent": 10}, 0),
            season("weekend", "1.1", 20, leaf("service_weekday", "gte", 6)),
            rule(
                "c-vip",
                "commission",
                {"rate_percent": 5},
                5,
                {"all": [leaf("guests", "gte", 4), leaf("segment", "eq", "vip")]},
            ),
            discount("late", "10", when=leaf("lead_days", "lt", 3)),
        ]
    )
    facts = {"service_month": 7, "service_weekday": 2, "guests": 5, "segment": "std"}
    outcome = evaluate(program, facts, ["commission", "season"])
    assert list(outcome.decisions) == ["commission", "season"]
    assert outcome.considered == (
        RuleResult("c-vip", "commission", 5, False, False, "segment='std' is not = 'vip'"),
        RuleResult("c-default", "commission", 0, True, True, None),
        RuleResult("weekend", "season", 20, False, False, "service_weekday=2 is not ≥ 6"),
        RuleResult("summer", "season", 10, True, True, None),
    )
    assert outcome.fired == ("c-default", "summer")
    assert outcome.matched == ("c-default", "summer")
    only = outcome.for_kind("season")
    assert list(only.decisions) == ["season"] and [r.rule_id for r in only.considered] == [
        "weekend",
        "summer",
    ]
    every = evaluate(program, facts)
    assert {r.rule_id for r in every.considered} == {r.id for r in program.ruleset.rules}
    late = next(r for r in every.considered if r.rule_id == "late")
    # lead_days is -1 (its default) when not given, and -1 < 3
    assert late.matched and late.fired and late.why_not is None


def test_evaluate_does_not_change_the_callers_facts(build: Any) -> None:
    program = build([season("a", "1.1", when=leaf("guests", "gt", 1))])
    facts = {"guests": 2}
    evaluate(program, facts)
    assert facts == {"guests": 2}


def test_unknown_facts_are_the_callers_mistake(build: Any) -> None:
    program = build([season("a", "1.1")])
    with pytest.raises(ValueError, match="unknown facts"):
        evaluate(program, {"nights": 2})
