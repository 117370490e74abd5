"""What the durable-rules engine is given: each part's match expression, and the parts grouped
into engine rulesets (*chunks*) that stay inside durable-rules' own limits, checked on a model of
the engine's alpha network (``_Network``). The sizes it counts are what ``rules.plan``'s memory
estimate is made of. Nothing here imports the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rules.language import All, AnyOf, Condition, Leaf
from rules.vocabulary import FACTS


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
