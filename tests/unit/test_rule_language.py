"""The rule language (rules/language.py), its documents (rules/documents.py) and the semantics of
conditions (rules/conditions.py): every validation error located by JSON pointer, limits, YAML,
content hashes, date-part derivation, negation normal form and "why not"."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import language
from rules.conditions import negation_normal_form, predicate, why_not
from rules.documents import canonical_json, content_hash, load_document
from rules.language import (
    ALWAYS,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_GROUPS_PER_RULE,
    MAX_LEAVES_PER_RULE,
    MAX_RULES,
    MAX_SET_SIZE,
    MAX_TESTS,
    MAX_VALUES_PER_RULE,
    All,
    AnyOf,
    Condition,
    Leaf,
    Not,
    RulesetInvalid,
)
from rules.parsing import parse_facts, parse_ruleset
from rules.vocabulary import complete_facts
from tests.support.rules import leaf

# ---- helpers ------------------------------------------------------------------------------------

SEASON = {"id": "s", "kind": "season", "then": {"multiplier": "1.1"}}


def doc_with_rule(**rule: Any) -> dict[str, Any]:
    return {"rules": [{**SEASON, **rule}]}


def doc_with_when(when: Any) -> dict[str, Any]:
    return doc_with_rule(when=when)


def errors_of(document: Any) -> list[dict[str, str]]:
    with pytest.raises(RulesetInvalid) as info:
        parse_ruleset(document)
    errors = info.value.errors
    assert errors, "RulesetInvalid without errors"
    for error in errors:
        assert set(error) == {"path", "message"}
        assert error["path"].startswith("/")
        assert error["message"]
    return errors


def only_error(document: Any) -> dict[str, str]:
    errors = errors_of(document)
    assert len(errors) == 1, errors
    return errors[0]


def nested(depth: int) -> dict[str, Any]:
    """A condition whose leaf sits under ``depth`` all-groups."""
    condition: dict[str, Any] = leaf("guests", "gt", 1)
    for _ in range(depth):
        condition = {"all": [condition]}
    return condition


# ---- a valid document ---------------------------------------------------------------------------


def test_valid_document_is_parsed_into_frozen_values() -> None:
    ruleset = parse_ruleset(
        {
            "stacking": "ordered_stack",
            "guardrails": {"min_multiplier": 0.8, "max_multiplier": "2.5"},
            "rules": [
                {
                    "id": "summer",
                    "kind": "season",
                    "priority": 7,
                    "when": {"not": {"fact": "service_month", "op": "in", "value": [7, 7, 8]}},
                    "then": {"multiplier": 1.1},
                },
                {"id": "lm", "kind": "last_minute", "then": {"percent_off": "12.5"}},
                {
                    "id": "d",
                    "kind": "season",
                    "when": leaf("service_date", "between", ["2027-01-01", "2027-12-31"]),
                    "then": {"multiplier": "0.9000"},
                },
            ],
        }
    )
    summer, lm, dated = ruleset.rules
    assert ruleset.stacking == "ordered_stack"
    assert ruleset.guardrails.min_multiplier == Decimal("0.8")
    assert ruleset.guardrails.max_multiplier == Decimal("2.5")
    assert ruleset.guardrails.max_total_discount_percent == Decimal(50)  # default
    assert summer.when == Not(Leaf("service_month", "in", (7, 8)))  # duplicates dropped
    # a float parameter is read as the decimal it is written as, not its binary value
    assert summer.then["multiplier"] == Decimal("1.1")
    assert summer.priority == 7 and summer.position == 0
    assert lm.when == ALWAYS and lm.priority == 0 and lm.position == 1
    assert lm.then == {"percent_off": Decimal("12.5"), "group": "default"}
    assert dated.when == Leaf("service_date", "between", (20270101, 20271231))
    assert dated.then["multiplier"] == Decimal("0.9")
    assert ruleset.of_kind("season") == (summer, dated)
    with pytest.raises(AttributeError):
        summer.priority = 1  # type: ignore[misc]


def test_default_ruleset_is_valid() -> None:
    from rules.defaults import DEFAULT_RULESET

    ruleset = parse_ruleset(copy.deepcopy(DEFAULT_RULESET))
    assert {r.kind for r in ruleset.rules} == set(language.KINDS)
    assert len(ruleset.tests) == 5


# ---- errors, located -----------------------------------------------------------------------------

LONG = "x" * 101

ERROR_CASES: list[tuple[str, Any, str, str]] = [
    # top level
    ("document not an object", [], "/", "Must be an object"),
    ("unknown top-level field", {"rules": [], "bogus": 1}, "/bogus", "Unknown field"),
    ("missing rules", {"stacking": "best_only"}, "/rules", "Missing required field"),
    ("rules not a list", {"rules": {"a": 1}}, "/rules", "at most 1000 rules"),
    ("bad stacking", {"rules": [], "stacking": "sum"}, "/stacking", "Must be one of"),
    ("description too long", {"rules": [], "description": "d" * 2001}, "/description", "2000"),
    ("guardrails not an object", {"rules": [], "guardrails": 3}, "/guardrails", "object"),
    (
        "unknown guardrail",
        {"rules": [], "guardrails": {"max_mult": 2}},
        "/guardrails/max_mult",
        "Unknown field",
    ),
    (
        "min_multiplier too low",
        {"rules": [], "guardrails": {"min_multiplier": "0.05"}},
        "/guardrails/min_multiplier",
        "between 0.1 and 10",
    ),
    (
        "max_multiplier too high",
        {"rules": [], "guardrails": {"max_multiplier": 11}},
        "/guardrails/max_multiplier",
        "between 0.1 and 10",
    ),
    (
        "min above max",
        {"rules": [], "guardrails": {"min_multiplier": "2", "max_multiplier": "1.5"}},
        "/guardrails/min_multiplier",
        "must not be above",
    ),
    (
        "discount cap above 100",
        {"rules": [], "guardrails": {"max_total_discount_percent": "100.01"}},
        "/guardrails/max_total_discount_percent",
        "between 0 and 100",
    ),
    (
        "discount cap with too many places",
        {"rules": [], "guardrails": {"max_total_discount_percent": "10.125"}},
        "/guardrails/max_total_discount_percent",
        "2 decimal places",
    ),
    # rule level
    ("rule not an object", {"rules": ["x"]}, "/rules/0", "Must be an object"),
    ("unknown rule field", doc_with_rule(colour="red"), "/rules/0/colour", "Unknown field"),
    ("missing id", {"rules": [{"kind": "season", "then": {}}]}, "/rules/0/id", "Missing"),
    ("missing then", {"rules": [{"id": "a", "kind": "season"}]}, "/rules/0/then", "Missing"),
    ("id not a string", doc_with_rule(id=5), "/rules/0/id", "Must be a string"),
    ("id with spaces", doc_with_rule(id="Bad Id"), "/rules/0/id", "lowercase"),
    ("id too long", doc_with_rule(id="a" * 65), "/rules/0/id", "64"),
    ("unknown kind", doc_with_rule(kind="discount"), "/rules/0/kind", "Must be one of"),
    ("priority below range", doc_with_rule(priority=-1), "/rules/0/priority", "between 0"),
    ("priority above range", doc_with_rule(priority=10_001), "/rules/0/priority", "10000"),
    ("priority as string", doc_with_rule(priority="5"), "/rules/0/priority", "integer"),
    ("priority as bool", doc_with_rule(priority=True), "/rules/0/priority", "integer"),
    ("priority as float", doc_with_rule(priority=1.5), "/rules/0/priority", "integer"),
    (
        "rule description too long",
        doc_with_rule(description="d" * 501),
        "/rules/0/description",
        "500",
    ),
    # conditions
    ("empty condition", doc_with_when({}), "/rules/0/when", "Must be an object"),
    (
        "condition not an object",
        doc_with_when([leaf("guests", "gt", 1)]),
        "/rules/0/when",
        "object",
    ),
    (
        "unknown group",
        doc_with_when({"some": [leaf("guests", "gt", 1)]}),
        "/rules/0/when/some",
        "Unknown field",
    ),
    (
        "group with two keys",
        doc_with_when({"all": [leaf("guests", "gt", 1)], "any": [leaf("guests", "gt", 1)]}),
        "/rules/0/when",
        "exactly one",
    ),
    ("empty all", doc_with_when({"all": []}), "/rules/0/when/all", "1 to 50"),
    (
        "any not a list",
        doc_with_when({"any": leaf("guests", "gt", 1)}),
        "/rules/0/when/any",
        "1 to 50",
    ),
    (
        "51 items",
        doc_with_when({"any": [leaf("guests", "eq", i) for i in range(51)]}),
        "/rules/0/when/any",
        "1 to 50",
    ),
    (
        "item not an object",
        doc_with_when({"all": [leaf("guests", "gt", 1), 7]}),
        "/rules/0/when/all/1",
        "object",
    ),
    ("not of nothing", doc_with_when({"not": {}}), "/rules/0/when/not", "object"),
    (
        "unknown leaf field",
        doc_with_when({**leaf("guests", "gt", 1), "unit": "people"}),
        "/rules/0/when/unit",
        "Unknown field",
    ),
    (
        "leaf without value",
        doc_with_when({"fact": "guests", "op": "gt"}),
        "/rules/0/when/value",
        "Missing",
    ),
    (
        "leaf without op",
        doc_with_when({"fact": "guests", "value": 1}),
        "/rules/0/when/op",
        "Missing",
    ),
    ("unknown fact", doc_with_when(leaf("nights", "gt", 1)), "/rules/0/when/fact", "Unknown fact"),
    (
        "fact as a list",
        doc_with_when(leaf(["guests"], "gt", 1)),
        "/rules/0/when/fact",
        "Unknown fact",
    ),  # type: ignore[arg-type]
    (
        "fact as an object",
        doc_with_when(leaf({"a": 1}, "gt", 1)),
        "/rules/0/when/fact",
        "Unknown fact",
    ),  # type: ignore[arg-type]
    ("unknown op", doc_with_when(leaf("guests", "like", 1)), "/rules/0/when/op", "Must be one of"),
    (
        "op as a list",
        doc_with_when(leaf("guests", ["eq"], 1)),
        "/rules/0/when/op",
        "Must be one of",
    ),  # type: ignore[arg-type]
    (
        "string fact with lt",
        doc_with_when(leaf("segment", "lt", "m")),
        "/rules/0/when/op",
        "string fact",
    ),
    (
        "string fact with gte",
        doc_with_when(leaf("tier_id", "gte", "m")),
        "/rules/0/when/op",
        "string fact",
    ),
    (
        "string fact with between",
        doc_with_when(leaf("currency", "between", ["A", "Z"])),
        "/rules/0/when/op",
        "string fact",
    ),
    (
        "int fact given a string",
        doc_with_when(leaf("guests", "gt", "3")),
        "/rules/0/when/value",
        "integer",
    ),
    (
        "int fact given a bool",
        doc_with_when(leaf("guests", "eq", True)),
        "/rules/0/when/value",
        "integer",
    ),
    (
        "int fact given a float",
        doc_with_when(leaf("guests", "eq", 2.0)),
        "/rules/0/when/value",
        "integer",
    ),
    (
        "int above range",
        doc_with_when(leaf("guests", "lt", 1001)),
        "/rules/0/when/value",
        "between 0 and 1000",
    ),
    (
        "int below range",
        doc_with_when(leaf("level_delta", "eq", -4)),
        "/rules/0/when/value",
        "between -3 and 3",
    ),
    (
        "string fact given an int",
        doc_with_when(leaf("segment", "eq", 3)),
        "/rules/0/when/value",
        "string",
    ),
    (
        "string too long",
        doc_with_when(leaf("segment", "eq", LONG)),
        "/rules/0/when/value",
        "100 characters",
    ),
    (
        "choice not allowed",
        doc_with_when(leaf("availability", "eq", "closed")),
        "/rules/0/when/value",
        "Must be one of",
    ),
    (
        "in not a list",
        doc_with_when(leaf("guests", "in", 3)),
        "/rules/0/when/value",
        "list of 1 to 100",
    ),
    (
        "in empty",
        doc_with_when(leaf("guests", "in", [])),
        "/rules/0/when/value",
        "list of 1 to 100",
    ),
    (
        "set too large",
        doc_with_when(leaf("guests", "not_in", list(range(MAX_SET_SIZE + 1)))),
        "/rules/0/when/value",
        "list of 1 to 100",
    ),
    (
        "bad member of in",
        doc_with_when(leaf("guests", "in", [1, 2, "3"])),
        "/rules/0/when/value/2",
        "integer",
    ),
    (
        "bad choice in not_in",
        doc_with_when(leaf("booking_status", "not_in", ["paid", "void"])),
        "/rules/0/when/value/1",
        "Must be one of",
    ),
    (
        "between not a pair",
        doc_with_when(leaf("guests", "between", [1, 2, 3])),
        "/rules/0/when/value",
        "[low, high]",
    ),
    (
        "between scalar",
        doc_with_when(leaf("guests", "between", 2)),
        "/rules/0/when/value",
        "[low, high]",
    ),
    (
        "between reversed",
        doc_with_when(leaf("guests", "between", [5, 2])),
        "/rules/0/when/value",
        "low must not be above high",
    ),
    (
        "between bad high",
        doc_with_when(leaf("guests", "between", [1, 5000])),
        "/rules/0/when/value/1",
        "between 0 and 1000",
    ),
    # dates
    (
        "date as an int",
        doc_with_when(leaf("service_date", "gt", 20270101)),
        "/rules/0/when/value",
        "YYYY-MM-DD",
    ),
    (
        "impossible date",
        doc_with_when(leaf("service_date", "eq", "2027-02-30")),
        "/rules/0/when/value",
        "YYYY-MM-DD",
    ),
    (
        "date in another format",
        doc_with_when(leaf("service_date", "eq", "10/07/2027")),
        "/rules/0/when/value",
        "YYYY-MM-DD",
    ),
    (
        "bad date in a set",
        doc_with_when(leaf("service_date", "in", ["2027-01-01", "2027-13-01"])),
        "/rules/0/when/value/1",
        "YYYY-MM-DD",
    ),
    (
        "dates reversed",
        doc_with_when(leaf("service_date", "between", ["2027-12-31", "2027-01-01"])),
        "/rules/0/when/value",
        "low must not be above high",
    ),
    (
        "nested error",
        doc_with_when(
            {"all": [leaf("guests", "gt", 1), {"not": {"any": [leaf("guests", "gt", -5)]}}]}
        ),
        "/rules/0/when/all/1/not/any/0/value",
        "between 0 and 1000",
    ),
    # actions
    ("then not an object", doc_with_rule(then=1.5), "/rules/0/then", "object"),
    (
        "unknown action field",
        doc_with_rule(then={"multiplier": "1.1", "bonus": 1}),
        "/rules/0/then/bonus",
        "Unknown field",
    ),
    ("missing multiplier", doc_with_rule(then={}), "/rules/0/then/multiplier", "Missing"),
    (
        "multiplier too low",
        doc_with_rule(then={"multiplier": "0.09"}),
        "/rules/0/then/multiplier",
        "between 0.1 and 10",
    ),
    (
        "multiplier too high",
        doc_with_rule(then={"multiplier": 10.5}),
        "/rules/0/then/multiplier",
        "between 0.1 and 10",
    ),
    (
        "multiplier too precise",
        doc_with_rule(then={"multiplier": "1.00001"}),
        "/rules/0/then/multiplier",
        "4 decimal places",
    ),
    (
        "multiplier not a number",
        doc_with_rule(then={"multiplier": "abc"}),
        "/rules/0/then/multiplier",
        "Not a decimal",
    ),
    (
        "multiplier NaN",
        doc_with_rule(then={"multiplier": "NaN"}),
        "/rules/0/then/multiplier",
        "between",
    ),
    (
        "multiplier infinite",
        doc_with_rule(then={"multiplier": "Infinity"}),
        "/rules/0/then/multiplier",
        "between",
    ),
    (
        "multiplier bool",
        doc_with_rule(then={"multiplier": True}),
        "/rules/0/then/multiplier",
        "number",
    ),
    (
        "multiplier null",
        doc_with_rule(then={"multiplier": None}),
        "/rules/0/then/multiplier",
        "number",
    ),
    (
        "percent above 100",
        doc_with_rule(kind="last_minute", then={"percent_off": "100.5"}),
        "/rules/0/then/percent_off",
        "between 0 and 100",
    ),
    (
        "percent negative",
        doc_with_rule(kind="last_minute", then={"percent_off": -1}),
        "/rules/0/then/percent_off",
        "between 0 and 100",
    ),
    (
        "percent too precise",
        doc_with_rule(kind="last_minute", then={"percent_off": "10.125"}),
        "/rules/0/then/percent_off",
        "2 decimal places",
    ),
    (
        "group too long",
        doc_with_rule(kind="last_minute", then={"percent_off": 5, "group": "g" * 33}),
        "/rules/0/then/group",
        "32",
    ),
    (
        "rate too precise",
        doc_with_rule(kind="commission", then={"rate_percent": "10.0001"}),
        "/rules/0/then/rate_percent",
        "3 decimal places",
    ),
    (
        "fixed negative",
        doc_with_rule(kind="commission", then={"rate_percent": 5, "fixed": -1}),
        "/rules/0/then/fixed",
        "between 0",
    ),
    (
        "min above max",
        doc_with_rule(kind="commission", then={"rate_percent": 5, "min": 10, "max": 5}),
        "/rules/0/then/min",
        "must not be above max",
    ),
    (
        "allow not a bool",
        doc_with_rule(kind="upgrade", then={"allow": "yes", "reason": "ok"}),
        "/rules/0/then/allow",
        "true or false",
    ),
    (
        "reason not a code",
        doc_with_rule(kind="upgrade", then={"allow": True, "reason": "Not OK"}),
        "/rules/0/then/reason",
        "reason code",
    ),
    (
        "no strategies",
        doc_with_rule(kind="fallback", then={"strategies": []}),
        "/rules/0/then/strategies",
        "1 to 5",
    ),
    (
        "unknown strategy",
        doc_with_rule(kind="fallback", then={"strategies": [{"type": "refund"}]}),
        "/rules/0/then/strategies/0/type",
        "Must be one of",
    ),
    (
        "direction on dates",
        doc_with_rule(
            kind="fallback", then={"strategies": [{"type": "nearby_dates", "direction": "up"}]}
        ),
        "/rules/0/then/strategies/0/direction",
        "Only other_tier",
    ),
    (
        "bad direction",
        doc_with_rule(
            kind="fallback", then={"strategies": [{"type": "other_tier", "direction": "sideways"}]}
        ),
        "/rules/0/then/strategies/0/direction",
        "up, down or nearest",
    ),
    (
        "days out of range",
        doc_with_rule(kind="fallback", then={"strategies": [{"type": "nearby_dates", "days": 15}]}),
        "/rules/0/then/strategies/0/days",
        "between 1 and 14",
    ),
    (
        "max_results zero",
        doc_with_rule(
            kind="fallback", then={"strategies": [{"type": "other_segment"}], "max_results": 0}
        ),
        "/rules/0/then/max_results",
        "between 1 and 10",
    ),
    (
        "unknown offer",
        doc_with_rule(kind="upsell", then={"offer": "gift", "message_key": "m"}),
        "/rules/0/then/offer",
        "tier, add_on or none",
    ),
    (
        "tier offer without level",
        doc_with_rule(kind="upsell", then={"offer": "tier", "message_key": "m"}),
        "/rules/0/then/target_level",
        "integer",
    ),
    (
        "add-on offer with level",
        doc_with_rule(
            kind="upsell",
            then={"offer": "add_on", "add_on": "spa", "target_level": 2, "message_key": "m"},
        ),
        "/rules/0/then/target_level",
        "no target_level",
    ),
    (
        "tier offer with add-on",
        doc_with_rule(
            kind="upsell",
            then={"offer": "tier", "target_level": 2, "add_on": "spa", "message_key": "m"},
        ),
        "/rules/0/then/add_on",
        "no add_on",
    ),
    # example cases
    ("tests not a list", {"rules": [], "tests": {}}, "/tests", "at most 200"),
    ("test not an object", {"rules": [], "tests": [1]}, "/tests/0", "object"),
    (
        "test without expect",
        {"rules": [], "tests": [{"name": "t", "facts": {}}]},
        "/tests/0/expect",
        "Missing",
    ),
    (
        "test with unknown field",
        {"rules": [], "tests": [{"name": "t", "facts": {}, "expect": {"season": {}}, "why": 1}]},
        "/tests/0/why",
        "Unknown field",
    ),
    (
        "facts not an object",
        {"rules": [], "tests": [{"name": "t", "facts": [], "expect": {"season": {}}}]},
        "/tests/0/facts",
        "object of facts",
    ),
    (
        "unknown test fact",
        {"rules": [], "tests": [{"name": "t", "facts": {"nights": 2}, "expect": {"season": {}}}]},
        "/tests/0/facts/nights",
        "Unknown fact",
    ),
    (
        "bad test fact",
        {"rules": [], "tests": [{"name": "t", "facts": {"guests": -1}, "expect": {"season": {}}}]},
        "/tests/0/facts/guests",
        "between 0 and 1000",
    ),
    (
        "bad test date",
        {
            "rules": [],
            "tests": [
                {"name": "t", "facts": {"service_date": "2027-02-29"}, "expect": {"season": {}}}
            ],
        },
        "/tests/0/facts/service_date",
        "YYYY-MM-DD",
    ),
    (
        "empty expect",
        {"rules": [], "tests": [{"name": "t", "facts": {}, "expect": {}}]},
        "/tests/0/expect",
        "keyed by rule kind",
    ),
    (
        "unknown expect key",
        {"rules": [], "tests": [{"name": "t", "facts": {}, "expect": {"price": {}}}]},
        "/tests/0/expect/price",
        "rule kind or 'fired'",
    ),
    (
        "test name too long",
        {"rules": [], "tests": [{"name": "n" * 201, "facts": {}, "expect": {"season": {}}}]},
        "/tests/0/name",
        "200",
    ),
]


@pytest.mark.parametrize(
    ("document", "path", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_each_error_is_located_by_json_pointer(document: Any, path: str, fragment: str) -> None:
    error = only_error(document)
    assert error["path"] == path
    assert fragment in error["message"]


def test_duplicate_ids_point_at_the_later_rule_and_name_the_first() -> None:
    rules = [{**SEASON, "id": "a"}, {**SEASON, "id": "b"}, {**SEASON, "id": "a"}]
    error = only_error({"rules": rules})
    assert error == {"path": "/rules/2/id", "message": "Duplicate id; also used by /rules/0."}


def test_nesting_up_to_max_depth_is_accepted_and_one_more_level_is_not() -> None:
    # `when` is level 1: MAX_DEPTH - 1 groups put the leaf on level MAX_DEPTH
    deepest = parse_ruleset(doc_with_when(nested(MAX_DEPTH - 1))).rules[0].when
    levels = 0
    while isinstance(deepest, All):
        deepest, levels = deepest.items[0], levels + 1
    assert levels == MAX_DEPTH - 1 and isinstance(deepest, Leaf)

    error = only_error(doc_with_when(nested(MAX_DEPTH)))
    assert error["path"] == "/rules/0/when" + "/all/0" * MAX_DEPTH
    assert f"at most {MAX_DEPTH} levels" in error["message"]
    # `not` counts as a level too
    error = only_error(doc_with_when({"not": nested(MAX_DEPTH - 1)}))
    assert error["path"] == "/rules/0/when/not" + "/all/0" * (MAX_DEPTH - 1)


def test_too_many_comparisons_in_one_rule() -> None:
    ok = {"any": [leaf("guests", "eq", i) for i in range(MAX_LEAVES_PER_RULE)]}
    parse_ruleset(doc_with_when(ok))
    too_many = {
        "any": [
            {"all": [leaf("guests", "eq", i) for i in range(MAX_LEAVES_PER_RULE // 2 + 1)]},
            {"all": [leaf("amount", "eq", i) for i in range(MAX_LEAVES_PER_RULE // 2)]},
        ]
    }
    error = only_error(doc_with_when(too_many))
    assert error["path"] == "/rules/0/when"
    assert f"At most {MAX_LEAVES_PER_RULE} comparisons" in error["message"]


def test_too_many_compared_values_in_one_rule() -> None:
    """More than 511 alternatives in one durable rule hang the engine; a rule is never split."""
    per = MAX_VALUES_PER_RULE // 4
    ok = {"any": [leaf("amount", "in", list(range(i * per, (i + 1) * per))) for i in range(4)]}
    parse_ruleset(doc_with_when(ok))
    over = {"any": [*ok["any"], leaf("guests", "eq", 1)]}
    error = only_error(doc_with_when(over))
    assert error["path"] == "/rules/0/when"
    assert f"At most {MAX_VALUES_PER_RULE} compared values" in error["message"]
    # not_in and between count as well (each between is two tests)
    over = {
        "all": [
            *[leaf("amount", "not_in", list(range(i * 100, i * 100 + 100))) for i in range(4)],
            leaf("guests", "between", [1, 2]),
        ]
    }
    assert only_error(doc_with_when(over))["path"] == "/rules/0/when"


def test_too_many_groups_in_one_rule() -> None:
    """durable's expression table holds 15 groups per rule (error 113 beyond)."""
    betweens = [leaf("amount", "between", [i, i + 100]) for i in range(MAX_GROUPS_PER_RULE - 1)]
    parse_ruleset(doc_with_when({"all": betweens}))  # all + 14 between = 15
    error = only_error(doc_with_when({"all": [*betweens, leaf("guests", "in", [1, 2])]}))
    assert error["path"] == "/rules/0/when"
    assert f"At most {MAX_GROUPS_PER_RULE} groups" in error["message"]
    # `not` adds no group; a one-value in adds none either
    parse_ruleset(doc_with_when({"not": {"all": [*betweens, leaf("guests", "in", [1, 1])]}}))


def test_too_many_rules_and_tests() -> None:
    rules = [{**SEASON, "id": f"r{i}"} for i in range(MAX_RULES)]
    assert len(parse_ruleset({"rules": rules}).rules) == MAX_RULES
    error = only_error({"rules": [*rules, {**SEASON, "id": "one-more"}]})
    assert error["path"] == "/rules" and str(MAX_RULES) in error["message"]
    case = {"name": "t", "facts": {}, "expect": {"season": {}}}
    error = only_error({"rules": [], "tests": [case] * (MAX_TESTS + 1)})
    assert error["path"] == "/tests"


def test_several_errors_are_reported_at_once_in_document_order() -> None:
    document = {
        "stacking": "most",
        "guardrails": {"min_multiplier": "0"},
        "rules": [
            {"id": "ok", "kind": "season", "then": {"multiplier": "1.2"}},
            {
                "id": "BAD",
                "kind": "season",
                "priority": -5,
                "when": {"all": [leaf("segment", "gt", "a"), leaf("guests", "eq", "x")]},
                "then": {"multiplier": "99"},
            },
            {"id": "ok", "kind": "upgrade", "then": {"allow": True, "reason": "fine"}},
        ],
        "tests": [{"name": "t", "facts": {"nights": 1}, "expect": {"season": {}}}],
    }
    errors = errors_of(document)
    assert [e["path"] for e in errors] == [
        "/stacking",
        "/guardrails/min_multiplier",
        "/rules/1/id",
        "/rules/1/priority",
        "/rules/1/when/all/0/op",
        "/rules/1/when/all/1/value",
        "/rules/1/then/multiplier",
        "/rules/2/id",
        "/tests/0/facts/nights",
    ]
    with pytest.raises(RulesetInvalid) as info:
        parse_ruleset(document)
    assert str(info.value).startswith("9 error(s) in ruleset: /stacking: ")


def test_float_with_binary_noise_is_refused_not_rounded() -> None:
    error = only_error(doc_with_rule(then={"multiplier": 0.1 + 0.2}))  # 0.30000000000000004
    assert error["path"] == "/rules/0/then/multiplier"
    assert "4 decimal places" in error["message"]


# ---- documents -----------------------------------------------------------------------------------

YAML_DOC = """
stacking: exclusive_groups
guardrails: {max_total_discount_percent: "40"}
rules:
  - id: weekend
    kind: season
    priority: 5
    when: {fact: service_weekday, op: in, value: [6, 7]}
    then: {multiplier: "1.15"}
  - id: late
    kind: last_minute
    when:
      all:
        - {fact: lead_days, op: between, value: [0, 2]}
        - not: {fact: segment, op: eq, value: luxury}
    then: {percent_off: 10, group: late}
"""


def test_yaml_is_accepted() -> None:
    ruleset = parse_ruleset(load_document(YAML_DOC, "application/yaml"))
    assert ruleset.stacking == "exclusive_groups"
    assert ruleset.guardrails.max_total_discount_percent == Decimal(40)
    weekend, late = ruleset.rules
    assert weekend.when == Leaf("service_weekday", "in", (6, 7))
    assert weekend.then["multiplier"] == Decimal("1.15")
    assert late.when == All(
        (Leaf("lead_days", "between", (0, 2)), Not(Leaf("segment", "eq", "luxury")))
    )
    assert late.then == {"percent_off": Decimal(10), "group": "late"}


def test_yaml_aliases_are_refused() -> None:
    text = """
base: &base {fact: guests, op: gt, value: 1}
rules:
  - {id: a, kind: season, when: *base, then: {multiplier: "1.1"}}
"""
    with pytest.raises(RulesetInvalid) as info:
        load_document(text, "application/yaml")
    assert info.value.errors[0]["path"] == "/"
    assert "aliases are not allowed" in info.value.errors[0]["message"]


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    with pytest.raises(RulesetInvalid):
        load_document("\n".join(lines), "application/yaml")


def test_yaml_tags_that_build_objects_are_refused() -> None:
    with pytest.raises(RulesetInvalid):
        load_document("rules: !!python/object/apply:os.system ['true']", "application/yaml")


def test_invalid_json_and_yaml_are_located_at_the_root() -> None:
    for text, media in (("{", "application/json"), ("rules: [", "application/yaml")):
        with pytest.raises(RulesetInvalid) as info:
            load_document(text, media)
        (error,) = info.value.errors
        assert error["path"] == "/"
        assert error["message"].startswith(
            "Not valid JSON" if "json" in media else "Not valid YAML"
        )


def test_oversize_document_is_refused_before_decoding() -> None:
    padding = " " * (MAX_DOCUMENT_BYTES - len('{"rules": []}'))
    assert load_document('{"rules": []}' + padding) == {"rules": []}
    for text in ('{"rules": []}' + padding + " ", ('{"rules": []}' + padding + " ").encode()):
        with pytest.raises(RulesetInvalid) as info:
            load_document(text)
        assert info.value.errors == [
            {"path": "/", "message": f"A ruleset is at most {MAX_DOCUMENT_BYTES} bytes."}
        ]


def test_content_hash_ignores_key_order_and_formatting_but_not_content() -> None:
    a = {
        "stacking": "best_only",
        "rules": [{"id": "x", "kind": "season", "then": {"multiplier": "1.1"}}],
    }
    b = json.loads(
        '{"rules":[{"then":{"multiplier":"1.1"},"kind":"season","id":"x"}],  "stacking":"best_only"}'
    )
    assert canonical_json(a) == canonical_json(b)
    assert content_hash(a) == content_hash(b)
    assert len(content_hash(a)) == 64 and int(content_hash(a), 16) >= 0
    c = copy.deepcopy(a)
    c["rules"][0]["then"]["multiplier"] = "1.10"
    assert content_hash(c) != content_hash(a)
    d = copy.deepcopy(a)
    d["rules"].append(d["rules"][0])
    assert content_hash(d) != content_hash(a)
    # the same document as YAML and as JSON hashes the same
    yaml_doc = load_document(YAML_DOC, "application/yaml")
    assert content_hash(load_document(json.dumps(yaml_doc))) == content_hash(yaml_doc)


# ---- facts ---------------------------------------------------------------------------------------


def test_parse_facts_derives_date_parts() -> None:
    facts = parse_facts({"service_date": "2027-07-10", "lead_days": 2, "segment": "spa"})
    assert facts == {
        "service_date": 20270710,
        "service_year": 2027,
        "service_month": 7,
        "service_day": 10,
        "service_weekday": 6,  # a Saturday
        "service_week": 27,
        "lead_days": 2,
        "segment": "spa",
    }
    # ISO week of 1 January 2027 belongs to 2026's week 53
    assert parse_facts({"service_date": "2027-01-01"})["service_week"] == 53
    # a part given explicitly wins
    assert parse_facts({"service_date": "2027-07-10", "service_month": 8})["service_month"] == 8
    assert parse_facts({"guests": 2}) == {"guests": 2}


def test_parse_facts_errors_are_located() -> None:
    with pytest.raises(RulesetInvalid) as info:
        parse_facts(
            {"service_date": "2027-02-30", "nights": 1, "guests": "2", "availability": "x"},
            "/json/facts/0",
        )
    assert [e["path"] for e in info.value.errors] == [
        "/json/facts/0/service_date",
        "/json/facts/0/nights",
        "/json/facts/0/guests",
        "/json/facts/0/availability",
    ]
    with pytest.raises(RulesetInvalid) as info:
        parse_facts([1], "/facts")
    assert info.value.errors == [{"path": "/facts", "message": "Must be an object of facts."}]


def test_example_case_facts_derive_date_parts_like_callers_facts() -> None:
    ruleset = parse_ruleset(
        {
            "rules": [],
            "tests": [
                {"name": "t", "facts": {"service_date": "2027-07-10"}, "expect": {"season": {}}}
            ],
        }
    )
    assert ruleset.tests[0].facts == parse_facts({"service_date": "2027-07-10"})


def test_complete_facts_fills_defaults_and_rejects_wrong_types() -> None:
    facts = complete_facts({"guests": 3})
    assert (
        facts["guests"] == 3 and facts["lead_days"] == -1 and facts["availability"] == "available"
    )
    assert facts["segment"] == "" and facts["service_date"] == 0
    with pytest.raises(ValueError, match="unknown facts"):
        complete_facts({"nights": 1})
    with pytest.raises(ValueError, match="integer"):
        complete_facts({"guests": True})
    with pytest.raises(ValueError, match="string"):
        complete_facts({"segment": 1})


# ---- conditions: negation normal form ------------------------------------------------------------

#: a few facts of each type with small domains, so comparisons are often true and often false
INT_FACTS = {"guests": (0, 6), "level_delta": (-3, 3), "lead_days": (-1, 5)}
STR_FACTS = {
    "segment": ("", "spa", "gold"),
    "availability": ("available", "sold_out", "blacked_out"),
}
DATES = (20270101, 20270615, 20271231)


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    kind = draw(st.sampled_from(["int", "str", "date"]))
    if kind == "str":
        fact = draw(st.sampled_from(sorted(STR_FACTS)))
        pool = st.sampled_from(STR_FACTS[fact])
        op = draw(st.sampled_from(["eq", "ne", "in", "not_in"]))
    else:
        if kind == "int":
            fact = draw(st.sampled_from(sorted(INT_FACTS)))
            low, high = INT_FACTS[fact]
            pool = st.integers(low, high)
        else:
            fact, pool = "service_date", st.sampled_from(DATES)
        op = draw(
            st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "between"])
        )
    if op in ("in", "not_in"):
        value: Any = tuple(draw(st.lists(pool, min_size=1, max_size=3, unique=True)))
    elif op == "between":
        value = tuple(sorted((draw(pool), draw(pool))))
    else:
        value = draw(pool)
    return Leaf(fact, op, value)


conditions = st.recursive(
    leaves(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda items: All(tuple(items))),
        st.lists(children, min_size=1, max_size=4).map(lambda items: AnyOf(tuple(items))),
        children.map(Not),
        st.just(ALWAYS),
    ),
    max_leaves=12,
)


@st.composite
def fact_sets(draw: st.DrawFn) -> dict[str, Any]:
    facts: dict[str, Any] = {f: draw(st.integers(lo, hi)) for f, (lo, hi) in INT_FACTS.items()}
    facts.update({f: draw(st.sampled_from(values)) for f, values in STR_FACTS.items()})
    facts["service_date"] = draw(st.sampled_from((*DATES, DATES[1] - 1, DATES[1] + 1)))
    return complete_facts(facts)


def contains_not(condition: Condition) -> bool:
    if isinstance(condition, Not):
        return True
    if isinstance(condition, Leaf):
        return False
    return any(contains_not(i) for i in condition.items)


@settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(condition=conditions, facts=st.lists(fact_sets(), min_size=1, max_size=6))
def test_negation_normal_form_is_equivalent_and_has_no_not(
    condition: Condition, facts: list[dict[str, Any]]
) -> None:
    nnf = negation_normal_form(condition)
    assert not contains_not(nnf)
    negated = negation_normal_form(Not(condition))
    assert not contains_not(negated)
    original, normal, opposite = predicate(condition), predicate(nnf), predicate(negated)
    for f in facts:
        assert original(f) == normal(f)
        assert opposite(f) == (not original(f))
        # why_not explains exactly the fact sets where the condition fails
        assert (why_not(condition, f) is None) == original(f)


def test_negation_normal_form_examples() -> None:
    a, b = Leaf("guests", "gt", 2), Leaf("segment", "in", ("spa", "gold"))
    assert negation_normal_form(Not(All((a, b)))) == AnyOf(
        (Leaf("guests", "lte", 2), Leaf("segment", "not_in", ("spa", "gold")))
    )
    assert negation_normal_form(Not(Not(a))) == a
    assert negation_normal_form(Not(Leaf("lead_days", "between", (0, 3)))) == AnyOf(
        (Leaf("lead_days", "lt", 0), Leaf("lead_days", "gt", 3))
    )
    never = negation_normal_form(Not(ALWAYS))
    assert never == AnyOf(())
    assert predicate(never)(complete_facts({})) is False
    assert predicate(ALWAYS)(complete_facts({})) is True


# ---- conditions: why not -------------------------------------------------------------------------


def test_why_not_names_the_failing_comparison() -> None:
    facts = complete_facts({"lead_days": 10, "service_month": 3, "segment": "luxury", "guests": 4})
    assert why_not(Leaf("lead_days", "lt", 3), facts) == "lead_days=10 is not < 3"
    assert (
        why_not(Leaf("lead_days", "between", (0, 3)), facts) == "lead_days=10 is not between [0, 3]"
    )
    assert why_not(Leaf("service_month", "in", (7, 8)), facts) == "service_month=3 is not in [7, 8]"
    assert (
        why_not(Not(Leaf("segment", "eq", "luxury")), facts) == "segment='luxury' is not ≠ 'luxury'"
    )
    # the first failing comparison of an all, not the ones that hold
    both = All((Leaf("guests", "gte", 2), Leaf("lead_days", "lte", 7), Leaf("guests", "eq", 9)))
    assert why_not(both, facts) == "lead_days=10 is not ≤ 7"
    # every alternative of an any
    either = AnyOf((Leaf("guests", "gt", 5), Leaf("segment", "not_in", ("luxury", "spa"))))
    assert (
        why_not(either, facts)
        == "none of: guests=4 is not > 5; segment='luxury' is not not in ['luxury', 'spa']"
    )
    assert why_not(Not(ALWAYS), facts) == "never matches"
    assert why_not(ALWAYS, facts) is None
    assert why_not(Leaf("guests", "eq", 4), facts) is None
