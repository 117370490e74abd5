"""The one interface the rest of tierwise uses: compile a ruleset into a ``Program`` and
``evaluate(program, facts) -> Outcome``.

Two matchers implement the same contract (which rules' conditions hold for a complete fact set):

* ``durable`` — the durable-rules C engine, reached only through ``rules.durable_binding``. What
  it is given is planned by ``rules.plan``: a rule becomes one engine rule, or several *parts*
  when its ``any`` groups would multiply (the rule then matches when a formula over its parts
  holds; ``rules.parts``), or none when it has no condition; parts are grouped into chunks that
  each stay inside the engine's limits, and every chunk is one engine ruleset (``rules.chunks``).
* ``reference`` — pure Python closures over the same language (``rules.conditions``); used for
  dry runs (validation, simulation) and as the oracle of the differential tests.

Resolution per kind (composition, defaults) is shared: ``rules.outcome.resolve``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orjson import dumps

from pricing.errors import DomainError
from rules.chunks import ENGINE_KEYS, engine_expression
from rules.conditions import predicate
from rules.language import KINDS, Ruleset, leaves_of
from rules.outcome import Outcome, RuleIndex, resolve
from rules.parts import Formula, holds
from rules.plan import EnginePlan, plan_ruleset, python_bytes
from rules.vocabulary import complete_facts


class RulesEngineError(DomainError):
    """The engine failed; no price may be produced from this evaluation."""

    code = "rules_engine_error"


class Matcher(Protocol):
    #: estimated bytes the matcher keeps while cached (``rules.plan``): the cache's currency
    memory_bytes: int

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
    #: The customer-facing labels of the rules that have one, by rule id.
    labels: dict[str, str] = field(init=False, repr=False)
    _closed: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.index = RuleIndex(self.ruleset)
        self.labels = {rule.id: rule.label for rule in self.ruleset.rules if rule.label}

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes this program keeps (engine and Python side)."""
        return self.matcher.memory_bytes

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
    complete = complete_facts(facts)
    matched = program.matcher.match(complete)
    return resolve(program.ruleset, matched, complete, kinds, program.index, explain=explain)


# ---- reference ---------------------------------------------------------------------------------


class ReferenceMatcher:
    def __init__(self, ruleset: Ruleset) -> None:
        self._rules = [(rule.id, predicate(rule.when)) for rule in ruleset.rules]
        self.memory_bytes = python_bytes(ruleset)

    def match(self, facts: Mapping[str, Any]) -> set[str]:
        return {rule_id for rule_id, holds in self._rules if holds(facts)}

    def close(self) -> None:
        return None


# ---- durable ------------------------------------------------------------------------------------


_names = itertools.count()
_names_lock = threading.Lock()


def _unique_name(prefix: str) -> str:
    with _names_lock:
        return f"{prefix}.{next(_names)}"


class DurableMatcher:
    """Asks the engine which parts fire (one engine ruleset per chunk of the plan) and turns
    them into matching rules: a rule of one part when it fires, a split rule when its formula
    holds over its parts that fired, a rule without condition always."""

    def __init__(self, ruleset: Ruleset, name: str, plan: EnginePlan | None = None) -> None:
        from rules import durable_binding

        self._binding = durable_binding
        self._sid = durable_binding.SID
        self.plan = plan = plan or plan_ruleset(ruleset)
        self._always = frozenset(r.rule.id for r in plan.rules if r.always)
        split = [(r.rule.id, r.formula) for r in plan.rules if r.formula is not None]
        self._split: list[tuple[str, Formula]] = split
        split_slots = {rule_id: slot for slot, (rule_id, _) in enumerate(split)}
        #: per chunk: the engine ruleset (reporting for each engine rule the id of its rule, or
        #: (split rule slot, part index)), the facts it tests (all it is sent: (name, engine
        #: key)), and whether it has parts of split rules
        self._chunks: list[tuple[Any, tuple[tuple[str, str], ...], bool]] = []
        try:
            for number, chunk in enumerate(plan.chunks):
                labels: dict[str, str | tuple[int, int]] = {}
                spec: dict[str, Any] = {}
                for ref in chunk.parts:
                    rule = plan.rules[ref.rule_index].rule
                    engine_name = f"r{ref.number}"  # ASCII: the engine's messages stay ASCII
                    spec[engine_name] = {"all": [{"m": engine_expression(ref.condition)}]}
                    labels[engine_name] = (
                        (split_slots[rule.id], ref.index) if rule.id in split_slots else rule.id
                    )
                tested = {leaf.fact for ref in chunk.parts for leaf in leaves_of(ref.condition)}
                compiled = durable_binding.CompiledRuleset(
                    _unique_name(f"{name}.c{number}"),
                    spec,
                    keep_state=chunk.keep_state,
                    labels=labels,
                )
                fields = tuple((fact, ENGINE_KEYS[fact]) for fact in sorted(tested))
                has_split = any(isinstance(label, tuple) for label in labels.values())
                self._chunks.append((compiled, fields, has_split))
        except durable_binding.DurableError as error:
            self.close()
            raise RulesEngineError(
                f"The rules engine could not compile the ruleset: {error}."
            ) from None
        self.memory_bytes = plan.memory_bytes

    def match(self, facts: Mapping[str, Any]) -> set[str]:
        matched = set(self._always)
        parts: dict[int, set[int]] = {}
        try:
            for engine, fields, has_split in self._chunks:
                fact = {key: facts[name] for name, key in fields}
                fact["sid"] = self._sid  # keys are one letter: never a reserved one
                labels = engine.match_json(dumps(fact).decode())
                if not has_split:
                    matched.update(labels)
                    continue
                for label in labels:
                    if isinstance(label, str):
                        matched.add(label)
                    else:
                        parts.setdefault(label[0], set()).add(label[1])
        except self._binding.DurableError as error:
            raise RulesEngineError(f"The rules engine failed: {error}.") from None
        for slot, fired in parts.items():
            rule_id, formula = self._split[slot]
            if holds(formula, fired):
                matched.add(rule_id)
        return matched

    @property
    def actions(self) -> int:
        """Engine actions drained so far, all chunks together."""
        return sum(engine.actions for engine, _, _ in self._chunks)

    def close(self) -> None:
        chunks, self._chunks = self._chunks, []
        for engine, _, _ in chunks:
            engine.close()


def compile_program(ruleset: Ruleset, *, engine: str = "durable", name: str = "ruleset") -> Program:
    if engine == "reference":
        return Program(ruleset, ReferenceMatcher(ruleset), engine, name)
    if engine == "durable":
        return Program(ruleset, DurableMatcher(ruleset, name), engine, name)
    raise ValueError(f"unknown rules engine {engine!r}")
