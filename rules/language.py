"""The rule language: a ruleset document (JSON or YAML) parsed into frozen values.

A ruleset::

    {"stacking": "best_only" | "ordered_stack" | "exclusive_groups",
     "guardrails": {"min_multiplier": "0.5", "max_multiplier": "3", "max_total_discount_percent": "50"},
     "rules": [{"id": "peak-summer", "kind": "season", "priority": 100,
                "description": "...",
                "when": {"all": [{"fact": "service_month", "op": "in", "value": [7, 8]}]},
                "then": {"multiplier": "1.25"}}, ...],
     "tests": [{"name": "...", "facts": {...}, "expect": {"season": {"multiplier": "1.25"}}}]}

Conditions: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}`` and leaves
``{"fact": name, "op": op, "value": v}`` with ``op`` one of eq, ne, lt, lte, gt, gte, in, not_in,
between (``value`` is ``[low, high]``, inclusive). A rule without ``when`` always matches.
Decimal parameters are strings or numbers ("1.25", 1.25); they are read as exact decimals.

Every error is reported with the JSON pointer of the offending value; nothing here runs code or
reaches I/O: a ruleset is data.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from pricing.facts import date_number
from rules.vocabulary import DATE, FACTS, INT, STR

KINDS = ("upgrade", "fallback", "season", "last_minute", "commission", "upsell")
OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "between")
ORDER_OPS = ("lt", "lte", "gt", "gte", "between")
STACKING = ("best_only", "ordered_stack", "exclusive_groups")
FALLBACK_STRATEGIES = ("other_tier", "nearby_dates", "other_segment")

#: Limits. Besides keeping documents small, they keep every ruleset inside what the durable-rules
#: engine handles correctly (see rules/durable_binding.py and ../shared/DESIGN.md).
MAX_RULES = 1000
MAX_TESTS = 200
MAX_DEPTH = 6  # nesting of all/any/not
MAX_LEAVES_PER_RULE = 32
#: A rule is one engine rule whatever the chunking, so it must fit durable-rules by itself:
#: - its compared values (``in``/``not_in`` count each value, ``between`` two) become alpha tests,
#:   and more than 511 below one node make the engine loop forever;
#: - its groups (all, any, between, and in/not_in of several values, each one ``$and``/``$or``)
#:   fill a 32-entry expression table: a 16th group fails compilation (error 113).
MAX_VALUES_PER_RULE = 400
MAX_GROUPS_PER_RULE = 15
MAX_SET_SIZE = 100  # values in one in / not_in
MAX_STRING = 100
MAX_DOCUMENT_BYTES = 512 * 1024
PRIORITY_RANGE = (0, 10_000)
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class RulesetInvalid(ValueError):
    """The document is not a valid ruleset; ``errors`` lists ``{"path", "message"}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__(
            f"{len(errors)} error(s) in ruleset: "
            + "; ".join(f"{e['path']}: {e['message']}" for e in errors[:5])
        )


# ---- values -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    fact: str
    op: str
    value: Any  # int | str | tuple[int|str, ...] | tuple[int, int] for between


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = Leaf | All | AnyOf | Not
ALWAYS = All(())


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str
    priority: int
    when: Condition
    then: dict[str, Any]  # normalised action parameters (Decimals for fractions)
    description: str = ""
    position: int = 0  # index in the document: ties of priority keep document order


@dataclass(frozen=True, slots=True)
class RuleTest:
    name: str
    facts: dict[str, Any]
    expect: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Guardrails:
    min_multiplier: Decimal = Decimal("0.5")
    max_multiplier: Decimal = Decimal("3")
    max_total_discount_percent: Decimal = Decimal("50")


@dataclass(frozen=True, slots=True)
class Ruleset:
    rules: tuple[Rule, ...]
    stacking: str = "best_only"
    guardrails: Guardrails = field(default_factory=Guardrails)
    tests: tuple[RuleTest, ...] = ()

    def of_kind(self, kind: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind == kind)


# ---- parsing ----------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path or "/", "message": message})


def _decimal(
    value: Any, path: str, errors: _Errors, low: Decimal, high: Decimal, places: int
) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.add(path, "Must be a number or a decimal string.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, "Not a decimal number.")
        return None
    if not number.is_finite() or not low <= number <= high:
        errors.add(path, f"Must be between {low} and {high}.")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.add(path, f"At most {places} decimal places.")
        return None
    # normalize() alone turns 10 into 1E+1, which would reach API responses as "1E+1"
    return Decimal(format(number.normalize(), "f"))


def _int(value: Any, path: str, errors: _Errors, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "Must be an integer.")
        return None
    if not low <= value <= high:
        errors.add(path, f"Must be between {low} and {high}.")
        return None
    return value


def _str(value: Any, path: str, errors: _Errors, max_length: int = MAX_STRING) -> str | None:
    if not isinstance(value, str):
        errors.add(path, "Must be a string.")
        return None
    if len(value) > max_length:
        errors.add(path, f"At most {max_length} characters.")
        return None
    return value


def _object(
    value: Any,
    path: str,
    errors: _Errors,
    allowed: set[str],
    required: frozenset[str] | set[str] = frozenset(),
) -> bool:
    if not isinstance(value, dict):
        errors.add(path, "Must be an object.")
        return False
    for key in sorted(set(value) - allowed):
        errors.add(f"{path}/{key}", "Unknown field.")
    for key in sorted(required - set(value)):
        errors.add(f"{path}/{key}", "Missing required field.")
    return not (set(value) - allowed) and not (required - set(value))


def _fact_value(fact: str, value: Any, path: str, errors: _Errors) -> int | str | None:
    spec = FACTS[fact]
    if spec.type == DATE:
        if not isinstance(value, str):
            errors.add(path, "Must be a date string YYYY-MM-DD.")
            return None
        try:
            return date_number(dt.date.fromisoformat(value))
        except ValueError:
            errors.add(path, "Must be a date string YYYY-MM-DD.")
            return None
    if spec.type == INT:
        return _int(value, path, errors, spec.low, spec.high)
    text = _str(value, path, errors)
    if text is not None and spec.choices and text not in spec.choices:
        errors.add(path, f"Must be one of {', '.join(spec.choices)}.")
        return None
    return text


def _condition(
    value: Any, path: str, errors: _Errors, depth: int, leaves: list[int]
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


def _leaf(value: dict[str, Any], path: str, errors: _Errors, leaves: list[int]) -> Leaf | None:
    if not _object(value, path, errors, {"fact", "op", "value"}, {"fact", "op", "value"}):
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
        items = [_fact_value(fact, v, f"{vpath}/{i}", errors) for i, v in enumerate(raw)]
        if any(i is None for i in items):
            return None
        return Leaf(fact, op, tuple(dict.fromkeys(items)))
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            errors.add(vpath, "Must be a list [low, high].")
            return None
        low, high = (_fact_value(fact, v, f"{vpath}/{i}", errors) for i, v in enumerate(raw))
        if low is None or high is None:
            return None
        if low > high:  # type: ignore[operator]
            errors.add(vpath, "low must not be above high.")
            return None
        return Leaf(fact, op, (low, high))
    single = _fact_value(fact, raw, vpath, errors)
    return None if single is None else Leaf(fact, op, single)


# ---- actions ----------------------------------------------------------------------------------

ONE = Decimal(1)


def _action(kind: str, value: Any, path: str, errors: _Errors) -> dict[str, Any] | None:
    before = len(errors.items)
    if kind == "upgrade":
        if not _object(value, path, errors, {"allow", "reason"}, {"allow", "reason"}):
            return None
        if not isinstance(value["allow"], bool):
            errors.add(f"{path}/allow", "Must be true or false.")
        reason = _str(value["reason"], f"{path}/reason", errors, 64)
        if reason is not None and not ID_PATTERN.match(reason):
            errors.add(f"{path}/reason", "A reason code: lowercase letters, digits, '_', '-', '.'.")
        out: dict[str, Any] = {"allow": value["allow"], "reason": reason}
    elif kind == "fallback":
        if not _object(value, path, errors, {"strategies", "max_results"}, {"strategies"}):
            return None
        strategies = value["strategies"]
        if not isinstance(strategies, list) or not 1 <= len(strategies) <= 5:
            errors.add(f"{path}/strategies", "Must be a list of 1 to 5 strategies.")
            return None
        parsed = []
        for i, s in enumerate(strategies):
            spath = f"{path}/strategies/{i}"
            if not _object(s, spath, errors, {"type", "direction", "days"}, {"type"}):
                continue
            if s["type"] not in FALLBACK_STRATEGIES:
                errors.add(f"{spath}/type", f"Must be one of {', '.join(FALLBACK_STRATEGIES)}.")
                continue
            item: dict[str, Any] = {"type": s["type"]}
            if s["type"] == "other_tier":
                direction = s.get("direction", "up")
                if direction not in ("up", "down", "nearest"):
                    errors.add(f"{spath}/direction", "Must be up, down or nearest.")
                item["direction"] = direction
            elif "direction" in s:
                errors.add(f"{spath}/direction", "Only other_tier takes a direction.")
            if s["type"] == "nearby_dates":
                item["days"] = _int(s.get("days", 3), f"{spath}/days", errors, 1, 14)
            elif "days" in s:
                errors.add(f"{spath}/days", "Only nearby_dates takes days.")
            parsed.append(item)
        out = {
            "strategies": parsed,
            "max_results": _int(value.get("max_results", 3), f"{path}/max_results", errors, 1, 10),
        }
    elif kind == "season":
        if not _object(value, path, errors, {"multiplier"}, {"multiplier"}):
            return None
        out = {
            "multiplier": _decimal(
                value["multiplier"], f"{path}/multiplier", errors, Decimal("0.1"), Decimal(10), 4
            )
        }
    elif kind == "last_minute":
        if not _object(value, path, errors, {"percent_off", "group"}, {"percent_off"}):
            return None
        group = _str(value.get("group", "default"), f"{path}/group", errors, 32)
        out = {
            "percent_off": _decimal(
                value["percent_off"], f"{path}/percent_off", errors, Decimal(0), Decimal(100), 2
            ),
            "group": group,
        }
    elif kind == "commission":
        if not _object(
            value, path, errors, {"rate_percent", "fixed", "min", "max"}, {"rate_percent"}
        ):
            return None
        out = {
            "rate_percent": _decimal(
                value["rate_percent"], f"{path}/rate_percent", errors, Decimal(0), Decimal(100), 3
            ),
            "fixed": _int(value.get("fixed", 0), f"{path}/fixed", errors, 0, 10**9),
            "min": _int(value.get("min", 0), f"{path}/min", errors, 0, 10**12),
            "max": _int(value["max"], f"{path}/max", errors, 0, 10**12) if "max" in value else None,
        }
        if out["max"] is not None and out["min"] is not None and out["min"] > out["max"]:
            errors.add(f"{path}/min", "min must not be above max.")
    elif kind == "upsell":
        if not _object(
            value,
            path,
            errors,
            {"offer", "target_level", "add_on", "percent_off", "message_key"},
            {"offer", "message_key"},
        ):
            return None
        offer = value["offer"]
        out = {
            "offer": offer,
            "message_key": _str(value["message_key"], f"{path}/message_key", errors, 64),
        }
        if offer == "tier":
            out["target_level"] = _int(
                value.get("target_level"), f"{path}/target_level", errors, 1, 3
            )
            if "add_on" in value:
                errors.add(f"{path}/add_on", "A tier offer has no add_on.")
        elif offer == "add_on":
            out["add_on"] = _str(value.get("add_on"), f"{path}/add_on", errors, 64)
            if "target_level" in value:
                errors.add(f"{path}/target_level", "An add-on offer has no target_level.")
        elif offer == "none":
            pass
        else:
            errors.add(f"{path}/offer", "Must be tier, add_on or none.")
        out["percent_off"] = _decimal(
            value.get("percent_off", 0), f"{path}/percent_off", errors, Decimal(0), Decimal(100), 2
        )
    else:  # pragma: no cover - kinds are checked before
        raise AssertionError(kind)
    return out if len(errors.items) == before else None


# ---- document ---------------------------------------------------------------------------------


def parse_ruleset(document: Any) -> Ruleset:
    """Validate ``document`` (already decoded from JSON/YAML) and return the Ruleset.

    Raises RulesetInvalid listing every error with its JSON pointer.
    """
    errors = _Errors()
    if not _object(
        document, "", errors, {"stacking", "guardrails", "rules", "tests", "description"}, {"rules"}
    ):
        raise RulesetInvalid(errors.items)
    stacking = document.get("stacking", "best_only")
    if stacking not in STACKING:
        errors.add("/stacking", f"Must be one of {', '.join(STACKING)}.")
    guardrails = _guardrails(document.get("guardrails", {}), errors)
    if "description" in document:
        _str(document["description"], "/description", errors, 2000)

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


def _guardrails(value: Any, errors: _Errors) -> Guardrails | None:
    if not _object(
        value,
        "/guardrails",
        errors,
        {"min_multiplier", "max_multiplier", "max_total_discount_percent"},
    ):
        return None
    default = Guardrails()
    low = _decimal(
        value.get("min_multiplier", default.min_multiplier),
        "/guardrails/min_multiplier",
        errors,
        Decimal("0.1"),
        Decimal(10),
        4,
    )
    high = _decimal(
        value.get("max_multiplier", default.max_multiplier),
        "/guardrails/max_multiplier",
        errors,
        Decimal("0.1"),
        Decimal(10),
        4,
    )
    cap = _decimal(
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


def _rule(raw: Any, path: str, index: int, errors: _Errors) -> Rule | None:
    if not _object(
        raw,
        path,
        errors,
        {"id", "kind", "priority", "description", "when", "then"},
        {"id", "kind", "then"},
    ):
        return None
    rule_id = _str(raw["id"], f"{path}/id", errors, 64)
    if rule_id is not None and not ID_PATTERN.match(rule_id):
        errors.add(f"{path}/id", "Use 1-64 lowercase letters, digits, '_', '-', '.'.")
        rule_id = None
    kind = raw["kind"]
    if kind not in KINDS:
        errors.add(f"{path}/kind", f"Must be one of {', '.join(KINDS)}.")
        return None
    priority = _int(raw.get("priority", 0), f"{path}/priority", errors, *PRIORITY_RANGE)
    description = _str(raw.get("description", ""), f"{path}/description", errors, 500)
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
    then = _action(kind, raw["then"], f"{path}/then", errors)
    if None in (rule_id, priority, description, when, then):
        return None
    return Rule(rule_id, kind, priority, when, then, description, index)  # type: ignore[arg-type]


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


def _tests(raw: Any, errors: _Errors) -> tuple[RuleTest, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_TESTS:
        errors.add("/tests", f"Must be a list of at most {MAX_TESTS} test cases.")
        return ()
    out = []
    for i, case in enumerate(raw):
        path = f"/tests/{i}"
        if not _object(
            case, path, errors, {"name", "facts", "expect"}, {"name", "facts", "expect"}
        ):
            continue
        name = _str(case["name"], f"{path}/name", errors, 200)
        facts = case["facts"]
        if not isinstance(facts, dict):
            errors.add(f"{path}/facts", "Must be an object of facts.")
            continue
        parsed_facts: dict[str, Any] = {}
        for fact, value in facts.items():
            if fact not in FACTS:
                errors.add(f"{path}/facts/{fact}", "Unknown fact.")
                continue
            parsed = _fact_value(fact, value, f"{path}/facts/{fact}", errors)
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


def leaves_of(condition: Condition) -> list[Leaf]:
    if isinstance(condition, Leaf):
        return [condition]
    if isinstance(condition, Not):
        return leaves_of(condition.item)
    return [leaf for item in condition.items for leaf in leaves_of(item)]


def parse_facts(raw: Any, path: str = "") -> dict[str, Any]:
    """Facts as callers write them (dates as "YYYY-MM-DD") -> evaluation facts. Date parts
    (month, weekday, ...) are derived from ``service_date`` unless given. RulesetInvalid on error."""
    errors = _Errors()
    if not isinstance(raw, dict):
        errors.add(path, "Must be an object of facts.")
        raise RulesetInvalid(errors.items)
    facts: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in FACTS:
            errors.add(f"{path}/{name}", "Unknown fact; see the fact vocabulary.")
            continue
        parsed = _fact_value(name, value, f"{path}/{name}", errors)
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
        derived = {"service_year": day.year, "service_month": day.month, "service_day": day.day,
                   "service_weekday": iso.weekday, "service_week": iso.week}  # fmt: skip
        facts = {**derived, **facts}
    return facts
