"""Parsing a ruleset document (already decoded from JSON or YAML; see ``rules.language``) into
its frozen values, and the facts callers write into evaluation facts.

Every error is reported with the JSON pointer of the offending value; nothing here runs code or
reaches I/O: a ruleset is data.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from rules.actions import parse_action
from rules.fields import Errors, check_object, parse_decimal, parse_fact_value, parse_int, parse_str
from rules.language import (
    ALWAYS,
    ID_PATTERN,
    KINDS,
    MAX_DEPTH,
    MAX_GROUPS_PER_RULE,
    MAX_LABEL_LENGTH,
    MAX_LEAVES_PER_RULE,
    MAX_RULES,
    MAX_SET_SIZE,
    MAX_TESTS,
    MAX_VALUES_PER_RULE,
    OPS,
    ORDER_OPS,
    PRIORITY_RANGE,
    STACKING,
    All,
    AnyOf,
    Condition,
    Guardrails,
    Leaf,
    Not,
    Rule,
    Ruleset,
    RulesetInvalid,
    RuleTest,
)
from rules.vocabulary import FACTS, STR

# ---- document ---------------------------------------------------------------------------------


def parse_ruleset(document: Any) -> Ruleset:
    """Validate ``document`` (already decoded from JSON/YAML) and return the Ruleset.

    Raises RulesetInvalid listing every error with its JSON pointer.
    """
    errors = Errors()
    if not check_object(
        document, "", errors, {"stacking", "guardrails", "rules", "tests", "description"}, {"rules"}
    ):
        raise RulesetInvalid(errors.items)
    stacking = document.get("stacking", "best_only")
    if stacking not in STACKING:
        errors.add("/stacking", f"Must be one of {', '.join(STACKING)}.")
    guardrails = _guardrails(document.get("guardrails", {}), errors)
    if "description" in document:
        parse_str(document["description"], "/description", errors, 2000)

    raw_rules = document["rules"]
    rules: list[Rule] = []
    if not isinstance(raw_rules, list) or len(raw_rules) > MAX_RULES:
        errors.add("/rules", f"Must be a list of at most {MAX_RULES} rules.")
        raw_rules = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        rule = _rule(raw, f"/rules/{index}", index, errors)
        if rule is None:
            continue
        if rule.id in seen:
            errors.add(f"/rules/{index}/id", f"Duplicate id; also used by /rules/{seen[rule.id]}.")
        seen[rule.id] = index
        rules.append(rule)

    tests = _tests(document.get("tests", []), errors)
    if errors.items:
        raise RulesetInvalid(errors.items)
    return Ruleset(tuple(rules), stacking, guardrails or Guardrails(), tests)


def _guardrails(value: Any, errors: Errors) -> Guardrails | None:
    if not check_object(
        value,
        "/guardrails",
        errors,
        {"min_multiplier", "max_multiplier", "max_total_discount_percent"},
    ):
        return None
    default = Guardrails()
    low = parse_decimal(
        value.get("min_multiplier", default.min_multiplier),
        "/guardrails/min_multiplier",
        errors,
        Decimal("0.1"),
        Decimal(10),
        4,
    )
    high = parse_decimal(
        value.get("max_multiplier", default.max_multiplier),
        "/guardrails/max_multiplier",
        errors,
        Decimal("0.1"),
        Decimal(10),
        4,
    )
    cap = parse_decimal(
        value.get("max_total_discount_percent", default.max_total_discount_percent),
        "/guardrails/max_total_discount_percent",
        errors,
        Decimal(0),
        Decimal(100),
        2,
    )
    if low is None or high is None or cap is None:
        return None
    if low > high:
        errors.add("/guardrails/min_multiplier", "min_multiplier must not be above max_multiplier.")
        return None
    return Guardrails(low, high, cap)


def _rule(raw: Any, path: str, index: int, errors: Errors) -> Rule | None:
    if not check_object(
        raw,
        path,
        errors,
        {"id", "kind", "priority", "description", "label", "when", "then"},
        {"id", "kind", "then"},
    ):
        return None
    rule_id = parse_str(raw["id"], f"{path}/id", errors, 64)
    if rule_id is not None and not ID_PATTERN.match(rule_id):
        errors.add(f"{path}/id", "Use 1-64 lowercase letters, digits, '_', '-', '.'.")
        rule_id = None
    kind = raw["kind"]
    if kind not in KINDS:
        errors.add(f"{path}/kind", f"Must be one of {', '.join(KINDS)}.")
        return None
    priority = parse_int(raw.get("priority", 0), f"{path}/priority", errors, *PRIORITY_RANGE)
    description = parse_str(raw.get("description", ""), f"{path}/description", errors, 500)
    label = parse_str(raw.get("label", ""), f"{path}/label", errors, MAX_LABEL_LENGTH)
    if label is not None and (label != label.strip() or any(not c.isprintable() for c in label)):
        errors.add(f"{path}/label", "One line of printable text, no leading or trailing spaces.")
        label = None
    leaves: list[int] = []
    when = _condition(raw["when"], f"{path}/when", errors, 1, leaves) if "when" in raw else ALWAYS
    if len(leaves) > MAX_LEAVES_PER_RULE:
        errors.add(f"{path}/when", f"At most {MAX_LEAVES_PER_RULE} comparisons per rule.")
        when = None
    elif when is not None:
        values, groups = _engine_size(when)
        if values > MAX_VALUES_PER_RULE:
            errors.add(f"{path}/when", f"At most {MAX_VALUES_PER_RULE} compared values per rule.")
            when = None
        elif groups > MAX_GROUPS_PER_RULE:
            errors.add(
                f"{path}/when",
                f"At most {MAX_GROUPS_PER_RULE} groups per rule (all, any, between, in/not_in "
                "of several values).",
            )
            when = None
    then = parse_action(kind, raw["then"], f"{path}/then", errors)
    if None in (rule_id, priority, description, label, when, then):
        return None
    return Rule(rule_id, kind, priority, when, then, description, index, label)  # type: ignore[arg-type]


def _engine_size(condition: Condition) -> tuple[int, int]:
    """(compared values, groups) of a condition as the durable engine compiles it (unchanged by
    pushing ``not`` down: in <-> not_in, between <-> lt or gt, all <-> any)."""
    if isinstance(condition, Not):
        return _engine_size(condition.item)
    if isinstance(condition, Leaf):
        if condition.op == "between":
            return 2, 1
        if condition.op in ("in", "not_in"):
            return len(condition.value), int(len(condition.value) > 1)
        return 1, 0
    sizes = [_engine_size(item) for item in condition.items]
    return sum(v for v, _ in sizes), sum(g for _, g in sizes) + int(bool(condition.items))


# ---- conditions -------------------------------------------------------------------------------


def _condition(
    value: Any, path: str, errors: Errors, depth: int, leaves: list[int]
) -> Condition | None:
    if depth > MAX_DEPTH:
        errors.add(path, f"Conditions nest at most {MAX_DEPTH} levels.")
        return None
    if not isinstance(value, dict) or len(value) == 0:
        errors.add(
            path,
            "Must be an object: {all: [...]}, {any: [...]}, {not: {...}} or {fact, op, value}.",
        )
        return None
    if "fact" in value or "op" in value:
        return _leaf(value, path, errors, leaves)
    if len(value) != 1:
        errors.add(path, "A group has exactly one of all, any, not.")
        return None
    ((key, inner),) = value.items()
    if key == "not":
        item = _condition(inner, f"{path}/not", errors, depth + 1, leaves)
        return Not(item) if item is not None else None
    if key not in ("all", "any"):
        errors.add(f"{path}/{key}", "Unknown field; use all, any, not or a leaf.")
        return None
    if not isinstance(inner, list) or not 1 <= len(inner) <= 50:
        errors.add(f"{path}/{key}", "Must be a list of 1 to 50 conditions.")
        return None
    items = [
        _condition(c, f"{path}/{key}/{i}", errors, depth + 1, leaves) for i, c in enumerate(inner)
    ]
    if any(i is None for i in items):
        return None
    group = tuple(i for i in items if i is not None)
    return All(group) if key == "all" else AnyOf(group)


def _leaf(value: dict[str, Any], path: str, errors: Errors, leaves: list[int]) -> Leaf | None:
    if not check_object(value, path, errors, {"fact", "op", "value"}, {"fact", "op", "value"}):
        return None
    leaves.append(1)
    fact, op, raw = value["fact"], value["op"], value["value"]
    if not isinstance(fact, str) or fact not in FACTS:
        errors.add(f"{path}/fact", "Unknown fact; see the fact vocabulary.")
        return None
    if op not in OPS:
        errors.add(f"{path}/op", f"Must be one of {', '.join(OPS)}.")
        return None
    spec = FACTS[fact]
    if spec.type == STR and op in ORDER_OPS:
        errors.add(f"{path}/op", f"{fact} is a string fact: use eq, ne, in or not_in.")
        return None
    vpath = f"{path}/value"
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SET_SIZE:
            errors.add(vpath, f"Must be a list of 1 to {MAX_SET_SIZE} values.")
            return None
        items = [parse_fact_value(fact, v, f"{vpath}/{i}", errors) for i, v in enumerate(raw)]
        if any(i is None for i in items):
            return None
        return Leaf(fact, op, tuple(dict.fromkeys(items)))
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            errors.add(vpath, "Must be a list [low, high].")
            return None
        low, high = (parse_fact_value(fact, v, f"{vpath}/{i}", errors) for i, v in enumerate(raw))
        if low is None or high is None:
            return None
        if low > high:  # type: ignore[operator]
            errors.add(vpath, "low must not be above high.")
            return None
        return Leaf(fact, op, (low, high))
    single = parse_fact_value(fact, raw, vpath, errors)
    return None if single is None else Leaf(fact, op, single)


# ---- test cases and facts ---------------------------------------------------------------------


def _tests(raw: Any, errors: Errors) -> tuple[RuleTest, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_TESTS:
        errors.add("/tests", f"Must be a list of at most {MAX_TESTS} test cases.")
        return ()
    out = []
    for i, case in enumerate(raw):
        path = f"/tests/{i}"
        if not check_object(
            case, path, errors, {"name", "facts", "expect"}, {"name", "facts", "expect"}
        ):
            continue
        name = parse_str(case["name"], f"{path}/name", errors, 200)
        facts = case["facts"]
        if not isinstance(facts, dict):
            errors.add(f"{path}/facts", "Must be an object of facts.")
            continue
        parsed_facts: dict[str, Any] = {}
        for fact, value in facts.items():
            if fact not in FACTS:
                errors.add(f"{path}/facts/{fact}", "Unknown fact.")
                continue
            parsed = parse_fact_value(fact, value, f"{path}/facts/{fact}", errors)
            if parsed is not None:
                parsed_facts[fact] = parsed
        expect = case["expect"]
        if not isinstance(expect, dict) or not expect:
            errors.add(f"{path}/expect", "Must be an object keyed by rule kind (or 'fired').")
            continue
        for key in expect:
            if key not in (*KINDS, "fired"):
                errors.add(
                    f"{path}/expect/{key}", "Expectations are keyed by rule kind or 'fired'."
                )
        if name is not None:
            out.append(RuleTest(name, _with_date_parts(parsed_facts), expect))
    return tuple(out)


def parse_facts(raw: Any, path: str = "") -> dict[str, Any]:
    """Facts as callers write them (dates as "YYYY-MM-DD") -> evaluation facts. Date parts
    (month, weekday, ...) are derived from ``service_date`` unless given. RulesetInvalid on error."""
    errors = Errors()
    if not isinstance(raw, dict):
        errors.add(path, "Must be an object of facts.")
        raise RulesetInvalid(errors.items)
    facts: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in FACTS:
            errors.add(f"{path}/{name}", "Unknown fact; see the fact vocabulary.")
            continue
        parsed = parse_fact_value(name, value, f"{path}/{name}", errors)
        if parsed is not None:
            facts[name] = parsed
    if errors.items:
        raise RulesetInvalid(errors.items)
    return _with_date_parts(facts)


def _with_date_parts(facts: dict[str, Any]) -> dict[str, Any]:
    """Date parts (month, weekday, ...) derived from ``service_date`` unless given."""
    if "service_date" in facts:
        number = facts["service_date"]
        day = dt.date(number // 10000, number // 100 % 100, number % 100)
        iso = day.isocalendar()
        derived = {
            "service_year": day.year,
            "service_month": day.month,
            "service_day": day.day,
            "service_weekday": iso.weekday,
            "service_week": iso.week,
        }
        facts = {**derived, **facts}
    return facts
