"""What the durable-rules engine sees of a ruleset, and what that costs: the one cost model that
both the compiler (``rules.engine``) and validation (``cost_errors``) use.

**Alternatives.** durable-rules walks its alpha network path by path: an ``$or`` nested in an
``$and`` is not expanded when the ruleset is compiled, but a fact that satisfies k₁ branches of
one group and k₂ of the next is carried along k₁·k₂ paths, and every path that reaches the end
fires the rule once (one action to drain, its frames kept in the session). So the cost of a
condition in negation normal form is its number of *alternatives* — the disjunctive-normal-form
terms one fact set can satisfy at once::

    alternatives(leaf) = 1        (in: values are distinct, at most one equals the fact)
    alternatives(all)  = Π alternatives(items)
    alternatives(any)  = Σ alternatives(items)

``all`` of 10 ``any`` groups of 3 range tests plus an ``any`` of 2 is 3¹⁰·2 = 118,098: measured
here (2.0.28) at 0.11 s and +32 MiB of session memory per decision for that one rule.

**Parts.** So a rule is not always one engine rule. A condition is one engine rule when it has at
most ``MAX_PART_ALTERNATIVES`` alternatives or at most one per comparison (*narrow*); a wider one
is split where it multiplies: the items of an ``all`` become separate engine rules (*parts*) as
soon as packing them together would no longer be narrow, and an ``any`` keeps its narrow items
in one part and splits its wide ones. The rule matches when the boolean formula over its parts
holds (``Formula``, evaluated in Python on the parts that fired). Every part is narrow, so a
rule costs at most one alternative per comparison (32) and never more than as one engine rule:
the rule above becomes 11 parts and 32 alternatives. A rule without ``when`` always matches and
costs the engine nothing.

**Chunks.** Parts are grouped into engine rulesets (*chunks*) that stay inside durable-rules' own
limits, checked on a model of the engine's alpha network (``_Network``).

**Memory.** What a compiled ruleset keeps is estimated from that model (``engine_bytes``,
``python_bytes``; constants fitted to measurements): the cache of compiled programs
(``rules.programs``) counts in these bytes.

**Limits** (docs/rules.md, "Limits"; ``cost_errors``). A ruleset may cost the engine at most
``MAX_RULESET_ALTERNATIVES`` alternatives (actions per decision, all matching at once),
``MAX_RULESET_COMPARED_VALUES`` compared values (compile time) and ``MAX_RULESET_BYTES`` of
compiled memory. They were chosen from measurement so that the worst
valid ruleset compiles in well under 100 ms to under 5 MiB and decides in under 1 ms
(bench/rules_bench.py builds it and prints the figures beside the limits). Nothing here imports
the engine: this is arithmetic over the parsed ruleset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from rules.conditions import COMPARE, negation_normal_form
from rules.language import (
    MAX_LEAVES_PER_RULE,
    All,
    AnyOf,
    Condition,
    Leaf,
    Rule,
    Ruleset,
    leaves_of,
)
from rules.vocabulary import FACTS, STR

#: Alternatives a part (engine rule) may always have. At 4 no part has more alternatives than
#: comparisons (2·2 = 2 + 2, 3 + 1...), so splitting never costs extra actions.
MAX_PART_ALTERNATIVES = 4

#: Per rule: at most one alternative per comparison (what the parts guarantee; checked all the
#: same). Per ruleset: alternatives, and estimated bytes of the compiled ruleset (engine rulesets
#: and Python objects; the engine sessions it may keep come on top, within
#: ``PROGRAM_BYTES_CEILING``).
MAX_RULE_ALTERNATIVES = MAX_LEAVES_PER_RULE
MAX_RULESET_ALTERNATIVES = 500
MAX_RULESET_BYTES = 4 * 1024 * 1024
#: Per ruleset: compared values, as written (the engine compiles every one, even the equal
#: ones it shares: about 4 µs each here, planning included).
MAX_RULESET_COMPARED_VALUES = 10_000

# ---- alternatives and parts ---------------------------------------------------------------------


def alternatives(condition: Condition) -> int:
    """DNF terms of a condition in negation normal form that one fact set can satisfy at once
    (an upper bound): what durable-rules fires for it as one engine rule."""
    if isinstance(condition, Leaf):
        return 1
    if isinstance(condition, All):
        product = 1
        for item in condition.items:
            product *= alternatives(item)
        return product
    assert isinstance(condition, AnyOf)
    by_fact: dict[str, list[Leaf]] = {}
    total = 0
    for item in condition.items:
        if isinstance(item, Leaf):
            by_fact.setdefault(item.fact, []).append(item)
        else:
            total += alternatives(item)
    return total + sum(_most_at_once(leaves) for leaves in by_fact.values())


def _most_at_once(leaves: list[Leaf]) -> int:
    """Most of these comparisons of one fact that one value satisfies (``amount < 10`` and
    ``amount > 20``, a negated ``between``: one at a time). Any value of the fact's type is
    tried, not only those of its range: callers' facts are not held to it."""
    if len(leaves) == 1:
        return 1
    numeric = FACTS[leaves[0].fact].type != STR
    candidates: set[Any] = set()
    tests: list[tuple[str, Any]] = []
    for leaf in leaves:
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        candidates.update(values)
        if numeric:  # and a value on each side: what lies between constants, and beyond
            candidates.update(v + step for v in values for step in (-1, 1))
        if leaf.op in ("in", "eq", "not_in", "ne"):
            tests.append((leaf.op, frozenset(values)))
        else:
            tests.append((leaf.op, leaf.value))
    if not numeric:
        candidates.add(None)  # a string no comparison names (None equals no constant)
    return max(sum(_holds(op, operand, value) for op, operand in tests) for value in candidates)


def _holds(op: str, operand: Any, value: Any) -> bool:
    if op in ("in", "eq"):
        return value in operand
    if op in ("not_in", "ne"):
        return value not in operand
    if op == "between":
        return bool(operand[0] <= value <= operand[1])
    return bool(COMPARE[op](value, operand))


def tests_of(condition: Condition) -> int:
    """Alpha tests the engine compiles for a condition: one per compared value (``between``
    two, ``in`` / ``not_in`` one per value)."""
    if isinstance(condition, Leaf):
        if condition.op in ("in", "not_in"):
            return len(condition.value)
        return 2 if condition.op == "between" else 1
    assert isinstance(condition, All | AnyOf)
    return sum(tests_of(item) for item in condition.items)


@dataclass(frozen=True, slots=True)
class Part:
    """One engine rule: a condition in negation normal form, not trivially true or false."""

    condition: Condition
    alternatives: int
    tests: int


#: A rule's condition over its parts: a part index, or ("all" | "any", sub-formulas).
Formula = int | tuple[str, tuple["Formula", ...]]


def holds(formula: Formula, fired: set[int]) -> bool:
    """Whether ``formula`` holds given the indexes of the rule's parts that fired."""
    if isinstance(formula, int):
        return formula in fired
    how, items = formula
    if how == "all":
        return all(holds(item, fired) for item in items)
    return any(holds(item, fired) for item in items)


class _Splitter:
    """Splits one rule's condition into parts; remembers each node's alternatives and
    comparisons (by identity: the tree does not change while it is split)."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self._alternatives: dict[int, int] = {}
        self._leaves: dict[int, int] = {}

    def alternatives(self, condition: Condition) -> int:
        count = self._alternatives.get(id(condition))
        if count is None:
            count = self._alternatives[id(condition)] = alternatives(condition)
        return count

    def leaves(self, condition: Condition) -> int:
        count = self._leaves.get(id(condition))
        if count is None:
            count = self._leaves[id(condition)] = len(leaves_of(condition))
        return count

    def narrow(self, condition: Condition) -> bool:
        return _narrow(self.alternatives(condition), self.leaves(condition))

    def part(self, condition: Condition) -> int:
        self.parts.append(Part(condition, self.alternatives(condition), tests_of(condition)))
        return len(self.parts) - 1

    def split(self, condition: Condition) -> Formula:
        """Parts of a non-trivial condition in negation normal form, and the formula over
        them: every part has at most one alternative per comparison, and so has the rule."""
        if self.narrow(condition):
            return self.part(condition)
        if isinstance(condition, AnyOf):
            narrow = [i for i in condition.items if self.narrow(i)]
            formulas: list[Formula] = [self.part(_group(AnyOf, narrow))] if narrow else []
            formulas += [self.split(i) for i in condition.items if not self.narrow(i)]
            return formulas[0] if len(formulas) == 1 else ("any", tuple(formulas))
        assert isinstance(condition, All)
        groups: list[list[Condition]] = []
        product = leaves = 0  # of the last group
        wide: list[Condition] = []
        # plain comparisons first: they multiply nothing
        for item in sorted(condition.items, key=self.alternatives):
            count, items_leaves = self.alternatives(item), self.leaves(item)
            if not self.narrow(item):
                wide.append(item)
            elif groups and _narrow(product * count, leaves + items_leaves):
                groups[-1].append(item)
                product, leaves = product * count, leaves + items_leaves
            else:
                groups.append([item])
                product, leaves = count, items_leaves
        formulas = [self.part(_group(All, group)) for group in groups]
        formulas += [self.split(item) for item in wide]
        return formulas[0] if len(formulas) == 1 else ("all", tuple(formulas))


def _narrow(alternatives: int, leaves: int) -> bool:
    """Whether a condition of these alternatives and comparisons can be one part: at most
    ``MAX_PART_ALTERNATIVES`` alternatives, or at most one per comparison (a wide ``any`` of
    plain comparisons: splitting it would not save an action)."""
    return alternatives <= max(MAX_PART_ALTERNATIVES, leaves)


def _group(how: type[All] | type[AnyOf], items: Sequence[Condition]) -> Condition:
    return items[0] if len(items) == 1 else how(tuple(items))


@dataclass(frozen=True, slots=True)
class RuleCost:
    engine_rules: int
    tests: int
    alternatives: int

    def __add__(self, other: RuleCost) -> RuleCost:
        return RuleCost(
            self.engine_rules + other.engine_rules,
            self.tests + other.tests,
            self.alternatives + other.alternatives,
        )

    def describe(self) -> str:
        return ", ".join(
            f"{count:,} {unit if count == 1 else unit + 's'}"
            for count, unit in (
                (self.alternatives, "alternative"),
                (self.engine_rules, "engine rule"),
                (self.tests, "compared value"),
            )
        )


NOTHING = RuleCost(0, 0, 0)
ALWAYS, NEVER = All(()), AnyOf(())


@dataclass(frozen=True, slots=True)
class RulePlan:
    """How one rule reaches the engine. ``always``: no condition, the engine is not asked.
    Otherwise the rule matches when ``formula`` holds over its ``parts`` (a rule of one part
    matches when that part fires)."""

    rule: Rule
    parts: tuple[Part, ...]
    formula: Formula | None
    always: bool = False

    @property
    def cost(self) -> RuleCost:
        return RuleCost(
            len(self.parts),
            sum(p.tests for p in self.parts),
            sum(p.alternatives for p in self.parts),
        )


def _simplify(condition: Condition) -> Condition:
    """Without empty groups inside (``all()`` always holds, ``any()`` never does): the language
    never nests them, but a part must not be one."""
    if isinstance(condition, Leaf):
        return condition
    assert isinstance(condition, All | AnyOf)
    items = [_simplify(item) for item in condition.items]
    neutral, absorbing = (ALWAYS, NEVER) if isinstance(condition, All) else (NEVER, ALWAYS)
    if absorbing in items:
        return absorbing
    kept = tuple(item for item in items if item != neutral)
    if len(kept) == 1:
        return kept[0]
    return type(condition)(kept)


def plan_rule(rule: Rule) -> RulePlan:
    nnf = _simplify(negation_normal_form(rule.when))
    if nnf == All(()):
        return RulePlan(rule, (), None, always=True)
    if nnf == AnyOf(()):  # `not` of "always": never matches, nothing to ask
        return RulePlan(rule, (), None)
    splitter = _Splitter()
    formula = splitter.split(nnf)
    parts = tuple(splitter.parts)
    return RulePlan(rule, parts, None if len(parts) == 1 else formula)


def unsplit_cost(rule: Rule) -> RuleCost:
    """What the rule would cost as one engine rule (how tierwise compiled it before parts)."""
    nnf = _simplify(negation_normal_form(rule.when))
    if nnf in (ALWAYS, NEVER):
        return NOTHING
    return RuleCost(1, tests_of(nnf), alternatives(nnf))


# ---- what the engine is given ------------------------------------------------------------------


def _order(item: Condition) -> int:
    """``all`` items go to the engine equalities first: an equality matches one value of its
    fact, so the chain of tests behind it is only walked for that value."""
    if isinstance(item, Leaf):
        return {"eq": 0, "in": 1}.get(item.op, 2)
    return 3


def _fnv1a_32(text: str) -> int:
    """durable-rules' hash of a property name (state.c ``fnv1Hash32``)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


#: The engine knows facts by one-letter keys: shorter JSON to parse and to echo in every action
#: (~10 % of the engine's time per decision). durable-rules matches property names by hash; these
#: hashes differ from each other and from the engine's own names (sid, id, $s, $forward).
ENGINE_KEYS = {name: chr(ord("a") + number) for number, name in enumerate(FACTS)}
assert len(ENGINE_KEYS) <= 26
assert len({_fnv1a_32(k) for k in [*ENGINE_KEYS.values(), "sid", "id", "$s", "$forward"]}) == (
    len(ENGINE_KEYS) + 4
)


def engine_expression(condition: Condition) -> dict[str, Any]:
    """A part's condition (negation normal form) -> durable-rules' match expression."""
    if isinstance(condition, Leaf):
        fact, op, value = ENGINE_KEYS[condition.fact], condition.op, condition.value
        if op == "eq":
            return {fact: value}
        if op == "ne":
            return {"$neq": {fact: value}}
        if op in ("lt", "lte", "gt", "gte"):
            return {f"${op}": {fact: value}}
        if op == "in":
            return {fact: value[0]} if len(value) == 1 else {"$or": [{fact: v} for v in value]}
        if op == "not_in":
            tests = [{"$neq": {fact: v}} for v in value]
            return tests[0] if len(tests) == 1 else {"$and": tests}
        if op == "between":
            return {"$and": [{"$gte": {fact: value[0]}}, {"$lte": {fact: value[1]}}]}
        raise AssertionError(op)
    if isinstance(condition, All):
        return {"$and": [engine_expression(i) for i in sorted(condition.items, key=_order)]}
    assert isinstance(condition, AnyOf) and condition.items  # plan_rule keeps no trivial part
    return {"$or": [engine_expression(i) for i in condition.items]}


#: The rule ``rules.durable_binding`` adds to every engine ruleset (a test of ``$s`` = 1).
STATE_RULE_EXPRESSION: dict[str, Any] = {"$s": 1}


# ---- chunks: a model of durable-rules' alpha network ----------------------------------------------

#: durable-rules 2.0.28 (rete.c, events.c) builds one alpha network per engine ruleset: a test
#: node per (parent, fact, operator, value), an ``$and`` as a chain, an ``$or`` as its branches
#: joined by a *forward* node, and matching walks it depth first with a fixed stack of 64 nodes
#: (error 303 past it: measured, 64 matching tests under one node pass, 65 fail). Each node keeps
#: its test children in a 512-slot open-addressing table (full: compiling or matching never
#: ends), at most 128 forward nodes (error 107) and at most 256 rules (error 108). A chunk is
#: kept inside these with margins, the stack checked on a worst case: every test matches at once
#: except equalities of one fact (one value at a time).
MAX_STACK = 60
MAX_TEST_CHILDREN = 450
MAX_FORWARD_CHILDREN = 120
MAX_RULES_PER_NODE = 250


class _Node:
    __slots__ = (
        "deepest",
        "equal_facts",
        "forwards",
        "others",
        "parents",
        "peak",
        "rules",
        "tests",
    )

    def __init__(self, parent: _Node | None = None) -> None:
        self.tests: dict[tuple[str, str, Any], _Node] = {}  # (fact, operator, value) -> node
        self.forwards: list[_Node] = []
        self.parents: list[_Node] = [parent] if parent is not None else []
        self.rules = 0
        self.equal_facts: set[str] = set()  # facts of its equality children: one each matches
        self.others = 0  # its other test children: all may match at once
        self.deepest = 0  # the largest peak of its children
        self.peak = 0  # most stack entries processing this node can add (worst case)

    def add_test(self, test: tuple[str, str, Any]) -> _Node:
        child = self.tests[test] = _Node(self)
        if test[1] == "eq":
            self.equal_facts.add(test[0])
        else:
            self.others += 1
        return child

    def update_peak(self) -> None:
        """From its children's (peaks only grow as parts come), then tell its parents."""
        pushed = len(self.forwards) + len(self.equal_facts) + self.others
        self.peak = pushed - 1 + max(1, self.deepest) if pushed else 0
        for parent in self.parents:
            parent.deepest = max(parent.deepest, self.peak)


_OPERATORS = {"$neq": "ne", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte"}


class _Network:
    """The alpha network of one engine ruleset, as parts are added; counts what it allocates."""

    def __init__(self) -> None:
        self.root = _Node()
        self.test_nodes = 0
        self.forward_nodes = 0
        self.rules = 0
        self.over = False  # some node is past an engine limit
        self._touched: list[_Node] = []
        self.add(STATE_RULE_EXPRESSION)

    def add(self, expression: dict[str, Any]) -> None:
        self.rules += 1
        self._touched = [self.root]
        end = self._create(expression, self.root)
        end.rules += 1
        self.over |= end.rules > MAX_RULES_PER_NODE
        for node in reversed(self._touched):  # children were touched after their parents
            node.update_peak()

    @property
    def peak(self) -> int:
        return self.root.peak

    def _create(self, expression: dict[str, Any], parent: _Node) -> _Node:
        ((key, value),) = expression.items()
        if key == "$and":
            node = parent
            for item in value:
                node = self._create(item, node)
            return node
        if key == "$or":
            forward = _Node()
            self.forward_nodes += 1
            for item in value:
                end = self._create(item, parent)
                end.forwards.append(forward)
                forward.parents.append(end)
                self.over |= len(end.forwards) > MAX_FORWARD_CHILDREN
            self._touched.append(forward)
            return forward
        if key in _OPERATORS:
            ((fact, operand),) = value.items()
            test = (fact, _OPERATORS[key], operand)
        else:
            test = (key, "eq", value)
        found = parent.tests.get(test)
        if found is None:
            found = parent.add_test(test)
            self.test_nodes += 1
            self.over |= len(parent.tests) > MAX_TEST_CHILDREN
        self._touched.append(found)
        return found

    def fits(self) -> bool:
        return not self.over and self.peak <= MAX_STACK


@dataclass(frozen=True, slots=True)
class PartRef:
    """A part placed in the program: ``number`` names it in the engine."""

    number: int
    rule_index: int  # in the ruleset (and the plan)
    index: int  # in the rule's parts
    condition: Condition


@dataclass(frozen=True, slots=True)
class Chunk:
    """One engine ruleset: its parts, what its network allocates (and had allocated after each
    part: ``growth``), whether it keeps a session."""

    parts: tuple[PartRef, ...]
    test_nodes: int
    forward_nodes: int
    peak: int
    growth: tuple[tuple[int, int], ...] = ()  # (test nodes, forward nodes) after each part
    keep_state: bool = False

    @property
    def engine_rules(self) -> int:
        return len(self.parts) + 1  # and the binding's state rule


def chunk_parts(parts: Iterable[PartRef]) -> list[Chunk]:
    """Group parts, in order, into engine rulesets that stay inside durable-rules' limits."""
    chunks: list[Chunk] = []
    current: list[PartRef] = []
    growth: list[tuple[int, int]] = []
    network = _Network()
    peak = 0
    for part in parts:
        expression = engine_expression(part.condition)
        network.add(expression)
        if current and not network.fits():
            test_nodes, forward_nodes = growth[-1]
            chunks.append(Chunk(tuple(current), test_nodes, forward_nodes, peak, tuple(growth)))
            network, current, growth = _Network(), [], []  # the part opens the next chunk
            network.add(expression)
        current.append(part)
        growth.append((network.test_nodes, network.forward_nodes))
        peak = network.peak
    if current:
        test_nodes, forward_nodes = growth[-1]
        chunks.append(Chunk(tuple(current), test_nodes, forward_nodes, peak, tuple(growth)))
    return chunks


# ---- the program --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnginePlan:
    """Every rule's plan (in document order) and the engine rulesets (chunks) of their parts."""

    rules: tuple[RulePlan, ...]
    chunks: tuple[Chunk, ...]
    python_bytes: int

    @property
    def cost(self) -> RuleCost:
        total = NOTHING
        for rule in self.rules:
            total += rule.cost
        return total

    @property
    def ruleset_bytes(self) -> int:
        """Estimated bytes of the compiled ruleset without engine sessions: what the limit
        ``MAX_RULESET_BYTES`` bounds."""
        return self.python_bytes + sum(ruleset_bytes(chunk) for chunk in self.chunks)

    @property
    def memory_bytes(self) -> int:
        """Estimated bytes the compiled program keeps between decisions (sessions included)."""
        return self.ruleset_bytes + sum(
            state_bytes(chunk) for chunk in self.chunks if chunk.keep_state
        )


def plan_ruleset(ruleset: Ruleset) -> EnginePlan:
    rules = tuple(plan_rule(rule) for rule in ruleset.rules)
    refs: list[PartRef] = []
    for rule_index, rule_plan in enumerate(rules):
        for index, part in enumerate(rule_plan.parts):
            refs.append(PartRef(len(refs), rule_index, index, part.condition))
    chunks = chunk_parts(refs)
    plan = EnginePlan(rules, tuple(chunks), python_bytes(ruleset))
    total = plan.ruleset_bytes
    for number, chunk in enumerate(chunks):
        state = state_bytes(chunk)
        if len(chunk.parts) >= KEEP_STATE_MIN_PARTS and total + state <= PROGRAM_BYTES_CEILING:
            chunks[number] = replace(chunk, keep_state=True)
            total += state
    return replace(plan, chunks=tuple(chunks))


# ---- memory -------------------------------------------------------------------------------------

#: A session (``sid``) kept between decisions saves the engine creating one per decision: ~2 µs
#: for a chunk of a few parts, ~20 µs for one of 60. It costs at least 110 KiB (16 message slots
#: of 255 properties each) and 12 KiB per part. So a chunk of fewer than ``KEEP_STATE_MIN_PARTS``
#: parts starts a fresh session per decision (1,000 small tenants: over 120 MiB saved), and a
#: program keeps sessions for its other chunks, in order, while it stays within
#: ``PROGRAM_BYTES_CEILING``: past it (only the largest rulesets) the memory goes first.
KEEP_STATE_MIN_PARTS = 8
PROGRAM_BYTES_CEILING = 4_608 * 1024  # 4.5 MiB

#: Heap bytes of durable-rules 2.0.28 structures, fitted to mallinfo2 measurements here (glibc,
#: 64-bit; within -5 %..+15 % on 26 chunks of 2 to 283 rules, bench/rules_bench.py prints the
#: model beside measurements). A compiled ruleset: its base (the ruleset structure with its
#: 1,024-entry session index and a pool of 8 sessions), per test node (every node is one union
#: as large as a 32-expression sequence, 1.8 KiB, and one with test children has a 512-slot
#: table), per forward node and per rule (a beta and an action node). A session: its base (16
#: message slots of 255 properties) and per rule a beta state (two 512-entry indexes, frame
#: pools) and an action state.
RULESET_BYTES = 56_000
TEST_NODE_BYTES = 3_800
FORWARD_NODE_BYTES = 700
RULE_NODE_BYTES = 3_700
STATE_BYTES = 110_000
STATE_RULE_BYTES = 12_500
#: Python objects of a compiled program (the parsed rules, the index, the plan, the engine's
#: labels), per rule, per comparison and per compared value (tracemalloc, within ~10 %).
PYTHON_RULE_BYTES = 700
PYTHON_LEAF_BYTES = 360
PYTHON_VALUE_BYTES = 40


def ruleset_bytes(chunk: Chunk) -> int:
    """Estimated heap bytes of a chunk's compiled engine ruleset."""
    return (
        RULESET_BYTES
        + TEST_NODE_BYTES * chunk.test_nodes
        + FORWARD_NODE_BYTES * chunk.forward_nodes
        + RULE_NODE_BYTES * chunk.engine_rules
    )


def state_bytes(chunk: Chunk) -> int:
    """Estimated heap bytes of a chunk's engine session (kept, or made per decision)."""
    return STATE_BYTES + STATE_RULE_BYTES * chunk.engine_rules


def engine_bytes(plan: EnginePlan) -> int:
    """Estimated heap bytes the engine keeps for a compiled ruleset between decisions."""
    return plan.memory_bytes - plan.python_bytes


def _rule_python_bytes(rule: Rule) -> int:
    leaves = leaves_of(rule.when)
    values = sum(len(leaf.value) for leaf in leaves if leaf.op in ("in", "not_in"))
    return PYTHON_RULE_BYTES + PYTHON_LEAF_BYTES * len(leaves) + PYTHON_VALUE_BYTES * values


def python_bytes(ruleset: Ruleset) -> int:
    """Estimated bytes of the Python objects of a compiled ruleset."""
    return sum(_rule_python_bytes(rule) for rule in ruleset.rules)


# ---- limits -------------------------------------------------------------------------------------


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KiB"


def cost_errors(ruleset: Ruleset) -> list[dict[str, str]]:
    """Located errors for a ruleset that would cost the engine more than the limits allow: per
    rule, and for the ruleset at the first rule that takes it past a limit (each limit once),
    naming the rule and its cost."""
    plan = plan_ruleset(ruleset)
    # bytes of the compiled ruleset once each rule's parts are in: every chunk closed so far,
    # the open one as far as it goes, and the Python objects of the rules so far
    after: dict[int, int] = {}
    closed = 0
    for chunk in plan.chunks:
        for ref, (test_nodes, forward_nodes) in zip(chunk.parts, chunk.growth, strict=True):
            partial = replace(
                chunk,
                parts=chunk.parts[: ref.number - chunk.parts[0].number + 1],
                test_nodes=test_nodes,
                forward_nodes=forward_nodes,
            )
            after[ref.rule_index] = closed + ruleset_bytes(partial)
        closed += ruleset_bytes(chunk)
    errors: list[dict[str, str]] = []
    alternatives_so_far = values_so_far = python_so_far = engine_so_far = 0
    reported: set[str] = set()
    for index, rule_plan in enumerate(plan.rules):
        rule, cost = rule_plan.rule, rule_plan.cost
        path = f"/rules/{rule.position}"
        if cost.alternatives > MAX_RULE_ALTERNATIVES:
            errors.append(
                {
                    "path": f"{path}/when",
                    "message": f"Rule {rule.id} costs the engine {cost.describe()}; "
                    f"at most {MAX_RULE_ALTERNATIVES} alternatives per rule.",
                }
            )
        alternatives_so_far += cost.alternatives
        values_so_far += cost.tests
        python_so_far += _rule_python_bytes(rule)
        engine_so_far = after.get(index, engine_so_far)
        size = python_so_far + engine_so_far
        if alternatives_so_far > MAX_RULESET_ALTERNATIVES and "alternatives" not in reported:
            reported.add("alternatives")
            errors.append(
                {
                    "path": path,
                    "message": f"Rule {rule.id} ({cost.describe()}) takes the ruleset to "
                    f"{alternatives_so_far:,} alternatives: at most {MAX_RULESET_ALTERNATIVES:,} "
                    "per ruleset (all its rules' conditions matching at once).",
                }
            )
        if values_so_far > MAX_RULESET_COMPARED_VALUES and "values" not in reported:
            reported.add("values")
            errors.append(
                {
                    "path": path,
                    "message": f"Rule {rule.id} ({cost.describe()}) takes the ruleset to "
                    f"{values_so_far:,} compared values: at most "
                    f"{MAX_RULESET_COMPARED_VALUES:,} per ruleset (the engine compiles each).",
                }
            )
        if size > MAX_RULESET_BYTES and "memory" not in reported:
            reported.add("memory")
            errors.append(
                {
                    "path": path,
                    "message": f"Rule {rule.id} ({cost.describe()}) takes the compiled ruleset "
                    f"to about {_kib(size)} of memory: at most {_kib(MAX_RULESET_BYTES)}.",
                }
            )
    return errors
