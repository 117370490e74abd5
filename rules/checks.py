"""What a tenant admin learns about a draft before publishing it: warnings from static analysis,
and the results of the example cases shipped with the ruleset."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.conditions import negation_normal_form, predicate
from rules.engine import Program, evaluate
from rules.language import KINDS, All, Condition, Leaf, Rule, Ruleset, leaves_of
from rules.outcome import WINNER_TAKES_ALL
from rules.vocabulary import DATE, FACTS, STR, complete_facts

SAMPLES = 400


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    path: str
    message: str


def _bounds(condition: Condition) -> dict[str, tuple[int, int]] | None:
    """Interval per integer fact if ``condition`` is a plain conjunction of range/equality leaves,
    else None (no claim)."""
    nnf = negation_normal_form(condition)
    items = nnf.items if isinstance(nnf, All) else (nnf,)
    if not all(isinstance(i, Leaf) for i in items):
        return None
    bounds: dict[str, tuple[int, int]] = {}
    for leaf in items:
        assert isinstance(leaf, Leaf)
        spec = FACTS[leaf.fact]
        if spec.type == STR or leaf.op in ("ne", "not_in"):
            continue
        low, high = bounds.get(leaf.fact, (spec.low, spec.high))
        if leaf.op == "eq":
            low, high = max(low, leaf.value), min(high, leaf.value)
        elif leaf.op == "in":
            low, high = max(low, min(leaf.value)), min(high, max(leaf.value))
        elif leaf.op == "between":
            low, high = max(low, leaf.value[0]), min(high, leaf.value[1])
        elif leaf.op == "lt":
            high = min(high, leaf.value - 1)
        elif leaf.op == "lte":
            high = min(high, leaf.value)
        elif leaf.op == "gt":
            low = max(low, leaf.value + 1)
        elif leaf.op == "gte":
            low = max(low, leaf.value)
        bounds[leaf.fact] = (low, high)
    return bounds


def _candidates(ruleset: Ruleset) -> dict[str, list[Any]]:
    """Values worth trying per fact: the constants rules mention, their neighbours, the default."""
    values: dict[str, set[Any]] = {name: {spec.default} for name, spec in FACTS.items()}
    for rule in ruleset.rules:
        for leaf in leaves_of(rule.when):
            constants = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            for c in constants:
                values[leaf.fact].add(c)
                if FACTS[leaf.fact].type != STR:
                    values[leaf.fact].update({c - 1, c + 1})
    for name, spec in FACTS.items():
        if spec.choices:
            values[name].update(spec.choices)
        if spec.type == DATE:
            values[name] = {v for v in values[name] if isinstance(v, int) and v > 0} or {20300101}
    return {name: sorted(v, key=str) for name, v in values.items()}


def sample_facts(ruleset: Ruleset, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Deterministic fact sets built from the constants the ruleset mentions."""
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    candidates = _candidates(ruleset)
    return [
        {name: rng.choice(options) for name, options in candidates.items()} for _ in range(count)
    ]


def analyse(ruleset: Ruleset) -> list[Warning]:
    """Warnings (never errors): unreachable rules, same-priority rules of a winner-takes-all kind
    that can both match, and parameters outside the ruleset's guardrails."""
    warnings: list[Warning] = []
    path = {rule.id: f"/rules/{rule.position}" for rule in ruleset.rules}
    samples = [complete_facts(f) for f in sample_facts(ruleset, SAMPLES)]
    holds = {rule.id: predicate(rule.when) for rule in ruleset.rules}
    hits = {
        rule.id: [i for i, f in enumerate(samples) if holds[rule.id](f)] for rule in ruleset.rules
    }

    for rule in ruleset.rules:
        bounds = _bounds(rule.when)
        if bounds is not None and any(low > high for low, high in bounds.values()):
            warnings.append(
                Warning(
                    "unreachable",
                    path[rule.id],
                    "The conditions contradict each other; the rule can never match.",
                )
            )
        elif rule.kind in WINNER_TAKES_ALL:
            shadow = _shadowed_by(ruleset, rule)
            if shadow:
                warnings.append(
                    Warning(
                        "unreachable",
                        path[rule.id],
                        f"Rule {shadow} always matches with a higher priority, so this rule never decides.",
                    )
                )

    for kind in WINNER_TAKES_ALL:
        rules = ruleset.of_kind(kind)
        for i, a in enumerate(rules):
            for b in rules[i + 1 :]:
                if a.priority != b.priority:
                    continue
                both = set(hits[a.id]) & set(hits[b.id])
                if both:
                    witness = {k: v for k, v in samples[min(both)].items() if v != FACTS[k].default}
                    warnings.append(
                        Warning(
                            "overlap",
                            path[b.id],
                            f"Rules {a.id} and {b.id} have the same priority and can both match (e.g. {witness}); document order decides.",
                        )
                    )
    warnings.extend(_guardrail_warnings(ruleset, path))
    return warnings


def _shadowed_by(ruleset: Ruleset, rule: Rule) -> str | None:
    for other in ruleset.of_kind(rule.kind):
        if (
            other.id != rule.id
            and other.when == All(())
            and (other.priority, -other.position) > (rule.priority, -rule.position)
        ):
            return other.id
    return None


def _guardrail_warnings(ruleset: Ruleset, path: Mapping[str, str]) -> list[Warning]:
    g = ruleset.guardrails
    out = []
    for rule in ruleset.rules:
        if (
            rule.kind == "season"
            and not g.min_multiplier <= rule.then["multiplier"] <= g.max_multiplier
        ):
            out.append(
                Warning(
                    "outside_guardrails",
                    f"{path[rule.id]}/then/multiplier",
                    f"Multiplier {rule.then['multiplier']} is outside the guardrails [{g.min_multiplier}, {g.max_multiplier}] and will be clamped.",
                )
            )
        if rule.kind == "last_minute" and rule.then["percent_off"] > g.max_total_discount_percent:
            out.append(
                Warning(
                    "outside_guardrails",
                    f"{path[rule.id]}/then/percent_off",
                    f"{rule.then['percent_off']} % is above the maximum total discount of {g.max_total_discount_percent} % and will be capped.",
                )
            )
    return out


# ---- example cases ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str
    passed: bool
    mismatches: tuple[str, ...]
    decisions: Mapping[str, Any]


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(actual, Decimal) and not isinstance(expected, bool):
        try:
            return Decimal(str(expected)) == actual
        except (InvalidOperation, ValueError):
            return False
    return bool(expected == actual)


def run_cases(program: Program) -> list[CaseResult]:
    """Evaluate every example case of the program's ruleset and compare with its expectations.

    ``expect`` maps a kind to the decision fields to check (others are ignored), and may list the
    ids of the rules that must have ``fired`` (exactly).
    """
    results = []
    for case in program.ruleset.tests:
        outcome = evaluate(program, case.facts, KINDS)
        mismatches = []
        for key, expected in case.expect.items():
            if key == "fired":
                if sorted(outcome.fired) != sorted(expected):
                    mismatches.append(
                        f"fired: expected {sorted(expected)}, got {sorted(outcome.fired)}"
                    )
                continue
            decision = outcome.decisions[key]
            if not isinstance(expected, dict):
                mismatches.append(f"{key}: expectation must be an object")
                continue
            for field_name, value in expected.items():
                if field_name not in decision or not _same(value, decision[field_name]):
                    mismatches.append(
                        f"{key}.{field_name}: expected {value!r}, got {decision.get(field_name)!r}"
                    )
        results.append(CaseResult(case.name, not mismatches, tuple(mismatches), outcome.decisions))
    return results


def unknown_experiment_values(
    ruleset: Ruleset, variants_by_experiment: Mapping[str, set[str]]
) -> list[dict[str, str]]:
    """Located errors for conditions on ``experiment`` / ``variant`` naming an experiment or a
    variant the tenant does not have (a typo there would silently never match)."""
    known_variants = (
        set().union(*variants_by_experiment.values()) if variants_by_experiment else set()
    )
    errors = []
    for rule in ruleset.rules:
        for leaf in leaves_of(rule.when):
            if leaf.fact not in ("experiment", "variant"):
                continue
            values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
            known = variants_by_experiment if leaf.fact == "experiment" else known_variants
            for value in values:
                if value != "" and value not in known:
                    errors.append(
                        {
                            "path": f"/rules/{rule.position}/when",
                            "message": f"Unknown {leaf.fact} {value!r}: no experiment of this tenant has it.",
                        }
                    )
    return errors
