"""Differential tests: the durable-rules matcher against the pure-Python reference matcher.

Random VALID rulesets (all six kinds, nested all/any/not over the whole fact vocabulary with every
operator, tied and distinct priorities, every stacking policy) are compiled with both engines and
must give identical Outcomes (decisions and the explanation of every rule) for every fact set.
Fact sets are biased towards the constants the rules mention, so rules both match and do not.

Rulesets built to push durable-rules' own limits (many rules split into chunks, many equality
alternatives, many tests matching at once) run in a child process: a regression there crashes or
hangs the engine, and the child's exit code and timeout turn that into a plain test failure.
"""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules.engine import Program, compile_program, evaluate
from rules.language import (
    FALLBACK_STRATEGIES,
    KINDS,
    MAX_GROUPS_PER_RULE,
    MAX_VALUES_PER_RULE,
    OPS,
    STACKING,
    Ruleset,
    RulesetInvalid,
    leaves_of,
)
from rules.outcome import Outcome
from rules.parsing import parse_ruleset
from rules.parts import unsplit_cost
from rules.plan import plan_ruleset
from rules.vocabulary import DATE, FACTS, STR, complete_facts

ROOT = Path(__file__).resolve().parents[2]
RULESETS = 40
FACT_SETS_PER_RULESET = 260

# ---- random valid rulesets -------------------------------------------------------------------------

STRINGS = (
    "",
    "spa",
    "gold",
    "Gold",
    "gold ",
    "Zürich",
    'say "hi"',
    "back\\slash",
    "1",
    "0",
    "true",
    "null",
    "日本",
    "a" * 100,
    "tab\there",
)
DATES = (20260101, 20270228, 20270301, 20270710, 20271231, 20280229)


def iso(number: int) -> str:
    return f"{number // 10000:04d}-{number // 100 % 100:02d}-{number % 100:02d}"


class Generator:
    """Random ruleset documents; each ruleset draws a few constants per fact and reuses them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.constants: dict[str, list[Any]] = {}

    def constant(self, fact: str) -> Any:
        """A constant of ``fact`` in its evaluation form (dates as YYYYMMDD)."""
        pool = self.constants.get(fact)
        if pool is None:
            pool = self.constants[fact] = [self.fresh(fact) for _ in range(self.rng.randint(2, 4))]
        return self.rng.choice(pool) if self.rng.random() < 0.85 else self.fresh(fact)

    def fresh(self, fact: str) -> Any:
        spec, rng = FACTS[fact], self.rng
        if spec.type == STR:
            return rng.choice(spec.choices or STRINGS)
        if spec.type == DATE:
            return rng.choice(DATES)
        if spec.high - spec.low <= 60:
            return rng.randint(spec.low, spec.high)
        return rng.choice(
            [
                spec.low,
                spec.high,
                spec.default,
                rng.randint(spec.low, min(spec.high, 100)),
                rng.randint(spec.low, spec.high),
                min(spec.high, 2**31),
                min(spec.high, 2**31 - 1),
            ]
        )

    def written(self, fact: str, value: Any) -> Any:
        return iso(value) if FACTS[fact].type == DATE else value

    def leaf(self) -> dict[str, Any]:
        rng = self.rng
        fact = rng.choice(list(FACTS))
        ops = [op for op in OPS if FACTS[fact].type != STR or op in ("eq", "ne", "in", "not_in")]
        op = rng.choice(ops)
        if op in ("in", "not_in"):
            if rng.random() < 0.9:
                values = [self.constant(fact) for _ in range(rng.choice([1, 1, 2, 3, 5]))]
            else:  # a long list: mostly fresh values
                values = [self.fresh(fact) for _ in range(rng.randint(10, 60))]
                values.append(self.constant(fact))
            value: Any = [self.written(fact, v) for v in values]
        elif op == "between":
            low, high = sorted((self.constant(fact), self.constant(fact)))
            value = [self.written(fact, low), self.written(fact, high)]
        else:
            value = self.written(fact, self.constant(fact))
        return {"fact": fact, "op": op, "value": value}

    def condition(self, depth: int) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if depth >= 4 or roll < 0.45:
            return self.leaf()
        if roll < 0.6:
            return {"not": self.condition(depth + 1)}
        group = "all" if roll < 0.8 else "any"
        return {group: [self.condition(depth + 1) for _ in range(rng.randint(1, 4))]}

    def action(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "upgrade":
            return {
                "allow": rng.random() < 0.5,
                "reason": rng.choice(["ok", "no_downgrade", "vip"]),
            }
        if kind == "fallback":
            strategies: list[dict[str, Any]] = []
            for kind_ in rng.sample(FALLBACK_STRATEGIES, rng.randint(1, 3)):
                item: dict[str, Any] = {"type": kind_}
                if kind_ == "other_tier" and rng.random() < 0.7:
                    item["direction"] = rng.choice(["up", "down", "nearest"])
                if kind_ == "nearby_dates" and rng.random() < 0.7:
                    item["days"] = rng.randint(1, 14)
                strategies.append(item)
            return {"strategies": strategies, "max_results": rng.randint(1, 10)}
        if kind == "season":
            return {"multiplier": str(Decimal(rng.randint(5000, 20000)) / 10000)}
        if kind == "last_minute":
            then: dict[str, Any] = {"percent_off": str(Decimal(rng.randint(0, 6000)) / 100)}
            if rng.random() < 0.7:
                then["group"] = rng.choice(["early", "late", "member"])
            return then
        if kind == "commission":
            then = {"rate_percent": str(Decimal(rng.randint(0, 30000)) / 1000)}
            if rng.random() < 0.5:
                then["fixed"] = rng.randint(0, 500)
            if rng.random() < 0.5:
                then["min"], then["max"] = sorted((rng.randint(0, 1000), rng.randint(0, 5000)))
            return then
        offer = rng.choice(["tier", "add_on", "none"])
        then = {"offer": offer, "message_key": rng.choice(["upsell.a", "upsell.b"])}
        if offer == "tier":
            then["target_level"] = rng.randint(1, 3)
        elif offer == "add_on":
            then["add_on"] = rng.choice(["spa", "breakfast"])
        if rng.random() < 0.5:
            then["percent_off"] = rng.choice([0, 5, "12.5"])
        return then

    def ruleset_document(self, rules: int) -> dict[str, Any]:
        rng = self.rng
        documents = []
        for i in range(rules):
            kind = KINDS[i % len(KINDS)] if i < len(KINDS) else rng.choice(KINDS)
            rule: dict[str, Any] = {"id": f"r{i}-{kind}", "kind": kind, "then": self.action(kind)}
            if rng.random() < 0.8:
                rule["priority"] = rng.choice([0, 1, 5, 5, 10, 100, 10_000])
            if rng.random() < 0.9:  # the rest always match
                while True:
                    when = self.condition(1)
                    try:  # keep only conditions inside the language's limits
                        parse_ruleset({"rules": [{**rule, "when": when}]})
                        break
                    except RulesetInvalid:
                        continue
                rule["when"] = when
            documents.append(rule)
        rng.shuffle(documents)  # document order is not id order
        low = Decimal(rng.randint(3, 10)) / 10
        return {
            "stacking": rng.choice(STACKING),
            "guardrails": {
                "min_multiplier": str(low),
                "max_multiplier": str(low + Decimal(rng.randint(5, 25)) / 10),
                "max_total_discount_percent": str(rng.choice([20, 35, 50, "62.5", 100])),
            },
            "rules": documents,
        }

    def facts(self, ruleset: Ruleset) -> dict[str, Any]:
        """A complete fact set; each fact mostly one of the constants the rules mention (or its
        neighbour), else anything of its type."""
        rng = self.rng
        mentioned: dict[str, list[Any]] = collections.defaultdict(list)
        for rule in ruleset.rules:
            for leaf in leaves_of(rule.when):
                values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
                mentioned[leaf.fact].extend(values)
        facts: dict[str, Any] = {}
        for name, spec in FACTS.items():
            roll = rng.random()
            if mentioned[name] and roll < 0.75:
                value = rng.choice(mentioned[name])
                if spec.type != STR and rng.random() < 0.3:
                    value = min(max(value + rng.choice([-1, 1]), spec.low), spec.high)
            elif roll < 0.9:
                value = spec.default
            else:
                value = self.fresh(name)
            facts[name] = value
        return complete_facts(facts)


# ---- helpers ------------------------------------------------------------------------------------


def compile_both(ruleset: Ruleset, programs: list[Program], name: str) -> tuple[Program, Program]:
    durable = compile_program(ruleset, engine="durable", name=name)
    programs.append(durable)
    return durable, compile_program(ruleset, engine="reference", name=name)


def difference(durable: Outcome, reference: Outcome) -> str:
    return f"durable matched {sorted(durable.matched)}, reference {sorted(reference.matched)}"


# ---- the differential test -----------------------------------------------------------------------


def test_random_rulesets_agree_with_the_reference(programs: list[Program]) -> None:
    mismatches: list[str] = []
    evaluations = 0
    pairs = matched_pairs = 0  # (fact set, conditional rule) pairs, and how many matched
    ops: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    stackings: set[str] = set()
    fired_somewhere: set[str] = set()
    for seed in range(RULESETS):
        generator = Generator(seed)
        document = generator.ruleset_document(rules=generator.rng.randint(6, 30))
        ruleset = parse_ruleset(document)
        stackings.add(ruleset.stacking)
        conditional = {r.id for r in ruleset.rules if leaves_of(r.when)}
        for rule in ruleset.rules:
            kinds[rule.kind] += 1
            ops.update(leaf.op for leaf in leaves_of(rule.when))
        durable, reference = compile_both(ruleset, programs, f"diff{seed}")
        for _ in range(FACT_SETS_PER_RULESET):
            facts = generator.facts(ruleset)
            expected = evaluate(reference, facts)
            actual = evaluate(durable, facts)
            evaluations += 1
            if actual != expected and len(mismatches) < 5:
                mismatches.append(
                    f"seed {seed}, facts {facts}: {difference(actual, expected)}\n"
                    f"  durable {actual.decisions}\n  reference {expected.decisions}"
                )
            matched = set(expected.matched)
            pairs += len(conditional)
            matched_pairs += len(conditional & matched)
            fired_somewhere.update(
                r.kind for r in expected.considered if r.fired and r.rule_id in conditional
            )
    assert not mismatches, "\n".join(mismatches)
    assert evaluations >= 10_000
    # the generator exercised what it claims to
    assert set(ops) == set(OPS), ops
    assert set(kinds) == set(KINDS) and stackings == set(STACKING)
    assert fired_somewhere == set(KINDS)
    # both outcomes of conditions are common, so the comparison means something
    share = matched_pairs / pairs
    print(f"\n{evaluations} fact sets, {pairs} conditional rule checks, {share:.1%} matched")
    assert 0.2 < share < 0.8, share


def test_the_generator_makes_valid_conditions_of_every_shape() -> None:
    generator = Generator(1234)
    documents = [generator.ruleset_document(rules=30) for _ in range(5)]
    rulesets = [parse_ruleset(d) for d in documents]
    leaves = [leaf for rs in rulesets for r in rs.rules for leaf in leaves_of(r.when)]
    assert any(isinstance(leaf.value, tuple) and len(leaf.value) >= 10 for leaf in leaves)
    text = json.dumps(documents)
    for shape in ('"not"', '"all"', '"any"', '"between"', '"not_in"', '"service_date"'):
        assert shape in text
    assert any(not leaves_of(r.when) for rs in rulesets for r in rs.rules)  # unconditional rules


def test_edge_values_agree(programs: list[Program]) -> None:
    """Strings that look like other JSON values, unicode, quotes, backslashes; ints around 2**31
    and 2**53; negative numbers; dates."""
    rules = []
    for i, text in enumerate(STRINGS):
        rules.append(
            {
                "id": f"eq{i}",
                "kind": "season",
                "when": {"fact": "segment", "op": "eq", "value": text},
                "then": {"multiplier": "1.01"},
            }
        )
        rules.append(
            {
                "id": f"ne{i}",
                "kind": "season",
                "when": {"fact": "variant", "op": "ne", "value": text},
                "then": {"multiplier": "1.01"},
            }
        )
    for i, number in enumerate([0, 1, 2**31 - 1, 2**31, 2**32 + 1, 10**12 - 1, 10**12]):
        for op in ("eq", "lt", "gt", "lte", "gte", "ne"):
            rules.append(
                {
                    "id": f"n{i}-{op}",
                    "kind": "last_minute",
                    "when": {"fact": "amount", "op": op, "value": number},
                    "then": {"percent_off": 1},
                }
            )
    for op in ("eq", "lt", "gte"):
        rules.append(
            {
                "id": f"neg-{op}",
                "kind": "commission",
                "when": {"fact": "level_delta", "op": op, "value": -2},
                "then": {"rate_percent": 1},
            }
        )
        rules.append(
            {
                "id": f"lead-{op}",
                "kind": "upsell",
                "when": {"fact": "lead_days", "op": op, "value": -1},
                "then": {"offer": "none", "message_key": "m"},
            }
        )
    rules.append(
        {
            "id": "dates",
            "kind": "fallback",
            "when": {
                "fact": "service_date",
                "op": "between",
                "value": ["2027-02-28", "2027-03-01"],
            },
            "then": {"strategies": [{"type": "other_segment"}]},
        }
    )
    ruleset = parse_ruleset({"stacking": "ordered_stack", "rules": rules})
    durable, reference = compile_both(ruleset, programs, "edges")
    numbers = [
        0,
        1,
        2,
        2**31 - 2,
        2**31 - 1,
        2**31,
        2**31 + 1,
        2**53 - 1,
        2**53,
        2**53 + 1,
        2**53 + 2,
        10**12 - 1,
        10**12,
    ]
    checked = 0
    for text in (*STRINGS, "gol", "Zurich", 'say "hi', "back\\\\slash", "null "):
        for number in numbers:
            for delta in (-3, -2, -1, 0, 1):
                for date in (20270227, 20270228, 20270301, 20270302, 0):
                    facts = {
                        "segment": text,
                        "variant": text,
                        "amount": number,
                        "level_delta": delta,
                        "lead_days": delta + 1,
                        "service_date": date,
                    }
                    expected, actual = evaluate(reference, facts), evaluate(durable, facts)
                    assert actual == expected, (facts, difference(actual, expected))
                    checked += 1
    assert checked > 5_000


def test_three_hundred_rules_with_range_tests_are_chunked_and_agree(
    programs: list[Program],
) -> None:
    rng = random.Random(300)
    rules = []
    for i in range(300):
        fact = rng.choice(["amount", "guests", "lead_days", "units_left", "service_date"])
        spec = FACTS[fact]
        if fact == "service_date":
            low, high = sorted(rng.sample(DATES, 2))
            value: Any = [iso(low), iso(high)]
            op = "between"
        else:
            top = min(spec.high, 400)
            low, high = sorted((rng.randint(spec.low, top), rng.randint(spec.low, top)))
            op = rng.choice(["lt", "lte", "gt", "gte", "between"])
            value = [low, high] if op == "between" else low
        when: dict[str, Any] = {"fact": fact, "op": op, "value": value}
        if i % 3 == 0:
            when = {
                "all": [
                    when,
                    {
                        "fact": "guests",
                        "op": rng.choice(["gt", "lte"]),
                        "value": rng.randint(0, 20),
                    },
                ]
            }
        kind = rng.choice(KINDS)
        then = Generator(i).action(kind)
        rules.append(
            {"id": f"r{i}", "kind": kind, "priority": rng.randint(0, 3), "when": when, "then": then}
        )
    ruleset = parse_ruleset({"stacking": "exclusive_groups", "rules": rules})
    assert len(plan_ruleset(ruleset).chunks) >= 5
    durable, reference = compile_both(ruleset, programs, "ranges")
    matches = 0
    for _ in range(300):
        facts = {
            "amount": rng.randint(0, 420),
            "guests": rng.randint(0, 25),
            "lead_days": rng.randint(-1, 420),
            "units_left": rng.randint(0, 420),
            "service_date": rng.choice(DATES),
        }
        expected, actual = evaluate(reference, facts), evaluate(durable, facts)
        assert actual == expected, (facts, difference(actual, expected))
        matches += len(expected.matched)
    assert matches / 300 > 60  # many tests match at once: more than one engine chunk can take


def test_more_than_400_equality_alternatives_on_one_fact_are_chunked_and_agree(
    programs: list[Program],
) -> None:
    tier_ids = [f"tier-{n:04d}" for n in range(600)]
    rules = (
        [
            {
                "id": f"t{k}",
                "kind": KINDS[k % 6],
                "priority": k % 4,
                "when": {"fact": "tier_id", "op": "in", "value": tier_ids[k * 50 : k * 50 + 50]},
                "then": Generator(k).action(KINDS[k % 6]),
            }
            for k in range(12)
        ]
        + [
            {
                "id": f"x{k}",
                "kind": "season",
                "when": {"not": {"fact": "tier_id", "op": "in", "value": tier_ids[k::7][:60]}},
                "then": {"multiplier": "1.01"},
            }
            for k in range(7)
        ]
        + [
            {
                "id": "amounts",
                "kind": "season",
                "when": {
                    "any": [
                        {"fact": "amount", "op": "in", "value": list(range(s, s + 100))}
                        for s in range(0, 400, 100)
                    ]
                },
                "then": {"multiplier": "1.1"},
            },
        ]
    )
    ruleset = parse_ruleset({"rules": rules})
    assert len(plan_ruleset(ruleset).chunks) >= 2
    durable, reference = compile_both(ruleset, programs, "equalities")
    rng = random.Random(400)
    for tier_id in [*tier_ids, "tier-0600", "", "tier-"]:
        facts = {
            "tier_id": tier_id,
            "amount": rng.choice([0, 99, 100, 399, 400, rng.randint(0, 500)]),
        }
        expected, actual = evaluate(reference, facts), evaluate(durable, facts)
        assert actual == expected, (facts, difference(actual, expected))


# ---- wide any groups: rules the engine is given in parts ---------------------------------------------

WIDE_FACTS = ("amount", "guests", "lead_days", "units_left", "segment", "service_date")


def wide_leaf(rng: random.Random) -> dict[str, Any]:
    """A comparison on a few facts with a few constants: true and false about equally."""
    fact = rng.choice(WIDE_FACTS)
    if fact == "segment":
        op = rng.choice(["eq", "ne", "in", "not_in"])
        pool = ["spa", "gold", ""]
        value: Any = rng.sample(pool, 2) if op in ("in", "not_in") else rng.choice(pool)
        return {"fact": fact, "op": op, "value": value}
    if fact == "service_date":
        low, high = sorted(rng.sample(DATES, 2))
        op = rng.choice(["between", "gte", "lt"])
        value = [iso(low), iso(high)] if op == "between" else iso(low)
        return {"fact": fact, "op": op, "value": value}
    op = rng.choice(["lt", "lte", "gt", "gte", "between", "eq", "ne", "in"])
    constants = sorted(rng.sample(range(0, 8), 3))
    value = {"between": constants[:2], "in": constants}.get(op, constants[1])
    return {"fact": fact, "op": op, "value": value}


def wide_condition(rng: random.Random) -> dict[str, Any]:
    """All of several any-groups (products the engine would expand), any of such, or the
    negation of one: within the language's limits (32 comparisons, 15 groups, 6 levels)."""
    shape = rng.choice(["all_of_any", "all_of_any", "any_of_all_of_any", "not", "flat_any"])
    groups, width = rng.randint(3, 6), rng.randint(2, 4)
    if shape == "flat_any":
        return {"any": [wide_leaf(rng) for _ in range(rng.randint(8, 32))]}
    if shape == "any_of_all_of_any":
        return {
            "any": [
                {"all": [{"any": [wide_leaf(rng) for _ in range(2)]} for _ in range(3)]},
                {"all": [{"any": [wide_leaf(rng) for _ in range(3)]}, wide_leaf(rng)]},
                wide_leaf(rng),
            ]
        }
    anys = [{"any": [wide_leaf(rng) for _ in range(width)]} for _ in range(groups)]
    condition = {"all": [*anys, wide_leaf(rng)]}
    return {"not": condition} if shape == "not" else condition


def test_wide_any_groups_compiled_in_parts_agree_with_the_reference(
    programs: list[Program],
) -> None:
    rng = random.Random(15)
    rules = []
    for i in range(60):
        while True:
            kind = rng.choice(KINDS)
            candidate = {
                "id": f"w{i}",
                "kind": kind,
                "priority": rng.choice([0, 5, 5, 50]),
                "when": wide_condition(rng),
                "then": Generator(i).action(kind),
            }
            try:
                parse_ruleset({"rules": [candidate]})
                break
            except RulesetInvalid:  # a between or set pushed a rule past 15 groups
                continue
        rules.append(candidate)
    ruleset = parse_ruleset({"stacking": "ordered_stack", "rules": rules})
    plan = plan_ruleset(ruleset)
    split = [r for r in plan.rules if r.formula is not None]
    assert len(split) >= 25  # most of them reach the engine in parts
    assert max(unsplit_cost(r.rule).alternatives for r in split) >= 3**5
    durable, reference = compile_both(ruleset, programs, "wide")
    pairs = matched = 0
    for n in range(600):
        facts: dict[str, Any] = {
            "amount": rng.randint(0, 8),
            "guests": rng.randint(0, 8),
            "units_left": rng.randint(0, 8),
            "lead_days": rng.randint(-1, 8),
            "segment": rng.choice(["spa", "gold", "", "x"]),
            "service_date": rng.choice([*DATES, 0]),
        }
        if n % 50 == 0:  # every range comparison at once, as far as they can
            facts.update(amount=8, guests=8, units_left=8, lead_days=8)
        expected, actual = evaluate(reference, facts), evaluate(durable, facts)
        assert actual == expected, (facts, difference(actual, expected))
        pairs += len(rules)
        matched += len(expected.matched)
    assert 0.2 < matched / pairs < 0.8, matched / pairs


# ---- engine limits, in a child process -----------------------------------------------------------


def rule(rule_id: str, when: Any = None, kind: str = "season") -> dict[str, Any]:
    then = Generator(len(rule_id)).action(kind)
    out = {"id": rule_id, "kind": kind, "then": then}
    if when is not None:
        out["when"] = when
    return out


def limit_rulesets() -> dict[str, dict[str, Any]]:
    """Rulesets that break durable-rules unless chunked and bounded correctly."""
    leaf = lambda fact, op, value: {"fact": fact, "op": op, "value": value}  # noqa: E731
    defaults = {name: spec.default for name, spec in FACTS.items() if spec.type != DATE}
    names = sorted(defaults)
    return {
        # 65+ tests matching one fact set at once crash durable (fixed 64-slot stack)
        "ne": {"rules": [rule(f"ne{i}", leaf("segment", "ne", f"s{i}")) for i in range(200)]},
        "not_in": {
            "rules": [
                rule(f"ni{i}", leaf("amount", "not_in", [i + 1, 10**6 + i])) for i in range(120)
            ]
        },
        "ranges": {
            "rules": [rule(f"rg{i}", leaf("units_left", "lte", 1000 + i)) for i in range(150)]
        },
        "any_ne": {
            "rules": [
                rule(f"an{i}", {"any": [leaf("currency", "ne", f"c{i}-{j}") for j in range(8)]})
                for i in range(40)
            ]
        },
        "defaults": {
            "rules": [
                rule(
                    f"d{i}-{j}",
                    {
                        "all": [
                            leaf(a, "eq", defaults[a]),
                            leaf(b, "eq", defaults[b]),
                            leaf("units_left", "gte", j),
                        ]
                    },
                )
                for i, (a, b) in enumerate(zip(names, names[1:] + names[:1], strict=True))
                for j in range(4)
            ]
            + [rule(f"single-{n}", leaf(n, "eq", defaults[n])) for n in names]
        },
        # equality tests on different facts all match at once too (one value per fact)
        "eq_and_ne": {
            "rules": [rule(f"eq-{n}", leaf(n, "eq", defaults[n])) for n in names]
            + [rule(f"ne{i}", leaf("amount", "ne", i + 1)) for i in range(64 - len(names) + 4)]
        },
        # more than 256 rules on one engine node fail to compile (error 108)
        "unconditional": {"rules": [rule(f"u{i}", None, KINDS[i % 6]) for i in range(600)]},
        "identical": {"rules": [rule(f"i{i}", leaf("guests", "eq", 2)) for i in range(300)]},
        # more than 511 tests below one node make durable loop forever
        "across_facts": {
            "rules": [
                rule(f"{fact}{k}", leaf(fact, "in", list(range(k * 100, k * 100 + 100))))
                for fact in ("amount", "guests", "units_left")
                for k in range(4)
            ]
        },
        # issue 15: 118,098 alternatives each as one engine rule; in parts, 32
        "ruinous": {
            "rules": [
                rule(
                    f"ruinous{i}",
                    {
                        "all": [
                            *[
                                {
                                    "any": [
                                        leaf("amount", "gte", g + i),
                                        leaf("guests", "lt", g + 1),
                                        leaf("units_left", "gt", g),
                                    ]
                                }
                                for g in range(10)
                            ],
                            {"any": [leaf("lead_days", "gte", 3), leaf("lead_days", "gte", 4 + i)]},
                        ]
                    },
                )
                for i in range(12)
            ]
        },
        # one rule at the language's limits still compiles and agrees
        "biggest_rule": {
            "rules": [
                rule(
                    "values",
                    {
                        "any": [
                            leaf("amount", "in", list(range(s, s + 100)))
                            for s in range(0, MAX_VALUES_PER_RULE, 100)
                        ]
                    },
                ),
                rule(
                    "groups",
                    {
                        "all": [
                            leaf("amount", "between", [0, 10**6 + i])
                            for i in range(MAX_GROUPS_PER_RULE - 1)
                        ]
                    },
                ),
                rule(
                    "nested",
                    {
                        "all": [
                            {"any": [leaf("amount", "gte", i), leaf("guests", "in", [i, i + 1])]}
                            for i in range(MAX_GROUPS_PER_RULE // 2)
                        ]
                    },
                ),
            ]
        },
    }


def check_limit_ruleset(name: str) -> str:
    """Run in the child: compile one limit ruleset and compare with the reference."""
    document = limit_rulesets()[name]
    ruleset = parse_ruleset(document)
    durable = compile_program(ruleset, engine="durable", name=name)
    reference = compile_program(ruleset, engine="reference")
    rng = random.Random(name)
    fact_sets: list[dict[str, Any]] = [
        {},
        {"amount": 5, "guests": 2},
        {"guests": 2, "units_left": 3},
        {"amount": 10**6, "guests": 0, "units_left": 10**5, "lead_days": 3650},  # ranges all true
    ]
    for _ in range(150):
        generator = Generator(rng.randint(0, 10**6))
        fact_sets.append(generator.facts(ruleset))
        fact_sets.append(
            {
                "amount": rng.randint(0, 500),
                "guests": rng.randint(0, 500),
                "units_left": rng.randint(0, 500),
                "segment": rng.choice(["", "s1", "x"]),
            }
        )
    matched = 0
    try:
        for facts in fact_sets:
            expected, actual = evaluate(reference, facts), evaluate(durable, facts)
            if actual != expected:
                return f"MISMATCH {facts}: {difference(actual, expected)}"
            matched = max(matched, len(expected.matched))
    finally:
        durable.close()
    return f"OK chunks={len(plan_ruleset(ruleset).chunks)} max_matched={matched}"


@pytest.mark.parametrize("name", sorted(limit_rulesets()))
def test_engine_limits_are_respected(name: str) -> None:
    code = (
        "import sys; from tests.integration.test_rules_differential import check_limit_ruleset; "
        f"print(check_limit_ruleset({name!r}))"
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: the durable engine hung")
    assert child.returncode == 0, f"{name}: exit {child.returncode}\n{child.stderr[-2000:]}"
    result = child.stdout.strip().splitlines()[-1]
    assert result.startswith("OK"), result
    print(name, result)
