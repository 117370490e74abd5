"""What the durable-rules engine sees of a ruleset, and what that costs: the one cost model that
both the compiler (``rules.engine``) and validation (``cost_errors``) use.

Each rule becomes engine rules (*parts*, ``rules.parts``: at most one alternative per comparison
whatever its ``any`` groups), and the parts are grouped into engine rulesets (*chunks*,
``rules.chunks``) that stay inside durable-rules' own limits.

**Memory.** What a compiled ruleset keeps is estimated from the model of the engine's network
(``ruleset_bytes``, ``state_bytes``, ``python_bytes``; constants fitted to measurements): the
cache of compiled programs (``rules.programs``) counts in these bytes.

**Limits** (docs/rules.md, "Limits"; ``cost_errors``). A ruleset may cost the engine at most
``MAX_RULESET_ALTERNATIVES`` alternatives (actions per decision, all matching at once),
``MAX_RULESET_COMPARED_VALUES`` compared values (compile time) and ``MAX_RULESET_BYTES`` of
compiled memory. They were chosen from measurement so that the worst
valid ruleset compiles in well under 100 ms to under 5 MiB and decides in under 1 ms
(bench/rules_bench.py builds it and prints the figures beside the limits). Nothing here imports
the engine: this is arithmetic over the parsed ruleset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rules.chunks import Chunk, PartRef, chunk_parts
from rules.language import MAX_LEAVES_PER_RULE, Rule, Ruleset, leaves_of
from rules.parts import NOTHING, RuleCost, RulePlan, plan_rule

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
