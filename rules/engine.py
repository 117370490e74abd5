"""The one interface the rest of tierwise uses: compile a ruleset into a ``Program`` and
``evaluate(program, facts) -> Outcome``.

Two matchers implement the same contract (which rules' conditions hold for a complete fact set):

* ``durable`` — the durable-rules C engine, reached only through ``rules.durable_binding``. A
  ruleset is split into chunks that each stay inside the engine's limits (tests that can match
  at once, tests in total; see ``chunk_rules``), and every chunk is one engine ruleset.
* ``reference`` — pure Python closures over the same language (``rules.conditions``); used for
  dry runs (validation, simulation) and as the oracle of the differential tests.

Resolution per kind (composition, defaults) is shared: ``rules.outcome.resolve``.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pricing.errors import DomainError
from rules.conditions import negation_normal_form, predicate
from rules.language import KINDS, All, AnyOf, Condition, Leaf, Rule, Ruleset, leaves_of
from rules.outcome import Outcome, RuleIndex, resolve
from rules.vocabulary import complete_facts

#: Per engine ruleset (chunk), from durable-rules 2.0.28's C core (events.c / rete.c):
#: * matching walks the alpha network with a fixed stack of 64 nodes: 65 alpha tests of ANY kind
#:   (eq, ne, range) matching the same fact at once crash the process (segfault), so a chunk's
#:   tests that can match at once are budgeted (``_matching_bound``);
#: * the children of every alpha node live in one 512-slot open-addressing table shared by all
#:   facts: when it fills up, compiling or matching loops forever, so a chunk holds at most this
#:   many tests in total (all facts together);
#: * an alpha node links at most 256 rules (error 108); the first budget keeps a chunk far below.
#: A single rule always fits: rules/language.py bounds its comparisons and groups.
MAX_MATCHING_TESTS_PER_CHUNK = 60
MAX_TESTS_PER_CHUNK = 400
ALWAYS_FACT = "_t"  # constant 1 in every fact set; a rule without conditions tests it


class RulesEngineError(DomainError):
    """The engine failed; no price may be produced from this evaluation."""

    code = "rules_engine_error"


class Matcher(Protocol):
    def match(self, facts: Mapping[str, Any]) -> set[str]: ...
    def close(self) -> None: ...


@dataclass
class Program:
    """A compiled ruleset, ready to evaluate. Thread-safe; close() when no request uses it."""

    ruleset: Ruleset
    matcher: Matcher
    engine: str
    name: str = ""
    index: RuleIndex = field(init=False, repr=False)
    _closed: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.index = RuleIndex(self.ruleset)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.matcher.close()


def evaluate(
    program: Program,
    facts: Mapping[str, Any],
    kinds: Iterable[str] = KINDS,
    *,
    explain: bool = True,
) -> Outcome:
    """Resolve the decisions of ``kinds`` for ``facts`` (missing facts take their defaults).
    ``explain=False`` leaves ``why_not`` empty (the hot path; decisions explain when read)."""
    complete = complete_facts(dict(facts))
    matched = program.matcher.match(complete)
    return resolve(program.ruleset, matched, complete, kinds, program.index, explain=explain)


# ---- reference ---------------------------------------------------------------------------------


class ReferenceMatcher:
    def __init__(self, ruleset: Ruleset) -> None:
        self._rules = [(rule.id, predicate(rule.when)) for rule in ruleset.rules]

    def match(self, facts: Mapping[str, Any]) -> set[str]:
        return {rule_id for rule_id, holds in self._rules if holds(facts)}

    def close(self) -> None:
        return None


# ---- durable ------------------------------------------------------------------------------------


def _durable_expr(condition: Condition) -> dict[str, Any]:
    """A condition in negation normal form -> durable's match expression."""
    if isinstance(condition, Leaf):
        fact, op, value = condition.fact, condition.op, condition.value
        if op == "eq":
            return {fact: value}
        if op == "ne":
            return {"$neq": {fact: value}}
        if op in ("lt", "lte", "gt", "gte"):
            return {f"${op}": {fact: value}}
        if op == "in":
            return {fact: value[0]} if len(value) == 1 else {"$or": [{fact: v} for v in value]}
        if op == "not_in":
            parts = [{"$neq": {fact: v}} for v in value]
            return parts[0] if len(parts) == 1 else {"$and": parts}
        if op == "between":
            return {"$and": [{"$gte": {fact: value[0]}}, {"$lte": {fact: value[1]}}]}
        raise AssertionError(op)
    if isinstance(condition, All):
        if not condition.items:
            return {ALWAYS_FACT: 1}
        return {"$and": [_durable_expr(i) for i in condition.items]}
    assert isinstance(condition, AnyOf)
    if not condition.items:
        return {ALWAYS_FACT: 0}  # never: the constant is 1
    return {"$or": [_durable_expr(i) for i in condition.items]}


def _costs(condition: Condition) -> tuple[int, int, Counter[tuple[str, Any]]]:
    """Of a condition in negation normal form, as ``_durable_expr`` compiles it: (tests other than
    equalities that can all match one fact set, tests in total, equality tests by (fact, value)).
    Each ``$or`` counts one join node; ``between`` two tests, ``not_in`` one per value."""
    others = total = 0
    equalities: Counter[tuple[str, Any]] = Counter()
    stack = [condition]
    while stack:
        item = stack.pop()
        if isinstance(item, Leaf):
            if item.op in ("eq", "in"):
                values = item.value if item.op == "in" else (item.value,)
                equalities.update((item.fact, v) for v in values)
                total += len(values)
                others += int(len(values) > 1)
            else:
                count = len(item.value) if item.op == "not_in" else 1 + (item.op == "between")
                others, total = others + count, total + count
        elif not item.items:  # type: ignore[union-attr]
            equalities[(ALWAYS_FACT, int(isinstance(item, All)))] += 1
            total += 1
        else:
            others += isinstance(item, AnyOf)
            stack.extend(item.items)  # type: ignore[union-attr]
    return others, total, equalities


def _matching_bound(others: int, equalities: Counter[tuple[str, Any]]) -> int:
    """Most tests that can match one fact set at once: all the others, and per fact only the
    equality tests of one value (the fact's)."""
    most: dict[str, int] = {}
    for (fact, _), count in equalities.items():
        most[fact] = max(most.get(fact, 0), count)
    return others + sum(most.values())


def chunk_rules(rules: Iterable[Rule]) -> list[list[tuple[Rule, Condition]]]:
    """Group rules (with their conditions in negation normal form) into engine-sized chunks."""
    chunks: list[list[tuple[Rule, Condition]]] = []
    current: list[tuple[Rule, Condition]] = []
    others = total = 0
    equalities: Counter[tuple[str, Any]] = Counter()
    for rule in rules:
        nnf = negation_normal_form(rule.when)
        rule_others, rule_total, rule_equalities = _costs(nnf)
        fits = (
            _matching_bound(others + rule_others, equalities + rule_equalities)
            <= MAX_MATCHING_TESTS_PER_CHUNK
            and total + rule_total <= MAX_TESTS_PER_CHUNK
        )
        if current and not fits:
            chunks.append(current)
            current, others, total, equalities = [], 0, 0, Counter()
        current.append((rule, nnf))
        others, total = others + rule_others, total + rule_total
        equalities += rule_equalities
    if current:
        chunks.append(current)
    return chunks


_names = itertools.count()
_names_lock = threading.Lock()


def _unique_name(prefix: str) -> str:
    with _names_lock:
        return f"{prefix}.{next(_names)}"


class DurableMatcher:
    def __init__(self, ruleset: Ruleset, name: str) -> None:
        from rules import durable_binding

        self._binding = durable_binding
        self._engines: list[Any] = []
        self._ids: list[dict[str, str]] = []
        self._fields: list[tuple[str, ...]] = []  # the facts a chunk tests: all the engine sees
        try:
            for number, chunk in enumerate(chunk_rules(ruleset.rules)):
                names = {f"r{i}": rule.id for i, (rule, _) in enumerate(chunk)}
                spec = {
                    f"r{i}": {"all": [{"m": _durable_expr(nnf)}]}
                    for i, (_, nnf) in enumerate(chunk)
                }
                self._engines.append(
                    durable_binding.CompiledRuleset(_unique_name(f"{name}.c{number}"), spec)
                )
                self._ids.append(names)
                tested = {leaf.fact for rule, _ in chunk for leaf in leaves_of(rule.when)}
                self._fields.append(tuple(sorted(tested)))
        except durable_binding.DurableError as error:
            self.close()
            raise RulesEngineError(
                f"The rules engine could not compile the ruleset: {error}."
            ) from None

    def match(self, facts: Mapping[str, Any]) -> set[str]:
        matched: set[str] = set()
        try:
            for engine, names, fields in zip(self._engines, self._ids, self._fields, strict=True):
                fact = {name: facts[name] for name in fields}
                fact[ALWAYS_FACT] = 1
                matched.update(names[n] for n in engine.match(fact))
        except self._binding.DurableError as error:
            raise RulesEngineError(f"The rules engine failed: {error}.") from None
        return matched

    def close(self) -> None:
        engines, self._engines = self._engines, []
        for engine in engines:
            engine.close()


def compile_program(ruleset: Ruleset, *, engine: str = "durable", name: str = "ruleset") -> Program:
    if engine == "reference":
        return Program(ruleset, ReferenceMatcher(ruleset), engine, name)
    if engine == "durable":
        return Program(ruleset, DurableMatcher(ruleset, name), engine, name)
    raise ValueError(f"unknown rules engine {engine!r}")
