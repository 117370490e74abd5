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

Documents are parsed by ``rules.parsing`` (every error located by its JSON pointer); this module
defines the language: its kinds and operators, its limits, and the frozen values a ruleset
is parsed into.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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
MAX_LABEL_LENGTH = 80  # a rule's customer-facing label
#: Where a storefront shows an upsell: its own step (the default), or also as a banner on the
#: tier card.
PLACEMENTS = ("step", "banner")
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
    #: What the customer reads on a price line this rule made ("Weekend +10 %"); empty: the
    #: line's own words. Plain text, shown as text (never markup).
    label: str = ""


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


def leaves_of(condition: Condition) -> list[Leaf]:
    if isinstance(condition, Leaf):
        return [condition]
    if isinstance(condition, Not):
        return leaves_of(condition.item)
    return [leaf for item in condition.items for leaf in leaves_of(item)]
