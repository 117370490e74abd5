"""Ruleset documents used by the rules benchmark (bench/rules_bench.py).

* ``REPRESENTATIVE`` — 27 rules covering all six kinds, the way a tenant with a real season
  calendar would write them.
* ``TENANT_SMALL`` — 6 rules, one per kind: what a typical small tenant has (the RSS test loads
  1,000 of these).
* ``generated(n)`` — ``n`` rules of mixed kinds with equality and range conditions, deterministic.
"""

from __future__ import annotations

import random
from typing import Any

REPRESENTATIVE: dict[str, Any] = {
    "description": "A ski-and-summer resort: seasons by month, weekday and date ranges, "
    "last-minute and early-bird tiers, upgrade policy, fallbacks, commissions, upsell experiment.",
    "stacking": "exclusive_groups",
    "guardrails": {
        "min_multiplier": "0.6",
        "max_multiplier": "2.5",
        "max_total_discount_percent": "35",
    },
    "rules": [
        # ---- season (7)
        {
            "id": "summer-peak",
            "kind": "season",
            "priority": 100,
            "when": {"fact": "service_month", "op": "in", "value": [7, 8]},
            "then": {"multiplier": "1.25"},
        },
        {
            "id": "shoulder",
            "kind": "season",
            "priority": 90,
            "when": {"fact": "service_month", "op": "in", "value": [5, 6, 9]},
            "then": {"multiplier": "1.1"},
        },
        {
            "id": "weekend",
            "kind": "season",
            "priority": 50,
            "when": {"fact": "service_weekday", "op": "in", "value": [6, 7]},
            "then": {"multiplier": "1.1"},
        },
        {
            "id": "christmas-new-year",
            "kind": "season",
            "priority": 200,
            "when": {
                "fact": "service_date",
                "op": "between",
                "value": ["2027-12-20", "2028-01-03"],
            },
            "then": {"multiplier": "1.5"},
        },
        {
            "id": "easter-2027",
            "kind": "season",
            "priority": 150,
            "when": {
                "fact": "service_date",
                "op": "between",
                "value": ["2027-03-26", "2027-04-05"],
            },
            "then": {"multiplier": "1.3"},
        },
        {
            "id": "low-season-midweek",
            "kind": "season",
            "priority": 40,
            "when": {
                "all": [
                    {"fact": "service_month", "op": "in", "value": [1, 2, 11]},
                    {"fact": "service_weekday", "op": "between", "value": [1, 4]},
                ]
            },
            "then": {"multiplier": "0.85"},
        },
        {
            "id": "scarcity",
            "kind": "season",
            "priority": 30,
            "when": {
                "all": [
                    {"fact": "units_left", "op": "between", "value": [1, 4]},
                    {"fact": "availability", "op": "eq", "value": "available"},
                ]
            },
            "then": {"multiplier": "1.15"},
        },
        # ---- last_minute (4)
        {
            "id": "lm-same-day",
            "kind": "last_minute",
            "priority": 100,
            "when": {
                "all": [
                    {"fact": "lead_days", "op": "eq", "value": 0},
                    {"fact": "segment", "op": "ne", "value": "luxury"},
                ]
            },
            "then": {"percent_off": "25", "group": "late"},
        },
        {
            "id": "lm-3-days",
            "kind": "last_minute",
            "priority": 90,
            "when": {
                "all": [
                    {"fact": "lead_days", "op": "between", "value": [1, 3]},
                    {"fact": "segment", "op": "ne", "value": "luxury"},
                ]
            },
            "then": {"percent_off": "15", "group": "late"},
        },
        {
            "id": "lm-week",
            "kind": "last_minute",
            "priority": 80,
            "when": {"fact": "lead_days", "op": "between", "value": [4, 7]},
            "then": {"percent_off": "5", "group": "late"},
        },
        {
            "id": "early-bird",
            "kind": "last_minute",
            "priority": 50,
            "when": {
                "all": [
                    {"fact": "lead_days", "op": "gte", "value": 120},
                    {"not": {"fact": "service_month", "op": "in", "value": [12]}},
                ]
            },
            "then": {"percent_off": "10", "group": "early"},
        },
        # ---- upgrade (5)
        {
            "id": "no-change-after-cancel",
            "kind": "upgrade",
            "priority": 300,
            "when": {"fact": "booking_status", "op": "in", "value": ["cancelled", "refunded"]},
            "then": {"allow": False, "reason": "booking_closed"},
        },
        {
            "id": "vip-any-change",
            "kind": "upgrade",
            "priority": 250,
            "when": {
                "all": [
                    {"fact": "segment", "op": "eq", "value": "vip"},
                    {"fact": "level_delta", "op": "ne", "value": 0},
                ]
            },
            "then": {"allow": True, "reason": "vip"},
        },
        {
            "id": "no-downgrade-after-payment",
            "kind": "upgrade",
            "priority": 200,
            "when": {
                "all": [
                    {"fact": "level_delta", "op": "lt", "value": 0},
                    {"fact": "booking_status", "op": "eq", "value": "paid"},
                ]
            },
            "then": {"allow": False, "reason": "downgrade_after_payment"},
        },
        {
            "id": "upgrade-up",
            "kind": "upgrade",
            "priority": 100,
            "when": {
                "all": [
                    {"fact": "level_delta", "op": "gt", "value": 0},
                    {"fact": "booking_status", "op": "in", "value": ["none", "pending", "paid"]},
                ]
            },
            "then": {"allow": True, "reason": "upgrade_allowed"},
        },
        {
            "id": "downgrade-before-payment",
            "kind": "upgrade",
            "priority": 50,
            "when": {
                "all": [
                    {"fact": "level_delta", "op": "lt", "value": 0},
                    {"fact": "booking_status", "op": "in", "value": ["none", "pending"]},
                ]
            },
            "then": {"allow": True, "reason": "downgrade_allowed"},
        },
        # ---- fallback (3)
        {
            "id": "fallback-sold-out",
            "kind": "fallback",
            "priority": 100,
            "when": {"fact": "availability", "op": "eq", "value": "sold_out"},
            "then": {
                "strategies": [
                    {"type": "other_tier", "direction": "nearest"},
                    {"type": "nearby_dates", "days": 2},
                ],
                "max_results": 4,
            },
        },
        {
            "id": "fallback-blackout",
            "kind": "fallback",
            "priority": 90,
            "when": {"fact": "availability", "op": "eq", "value": "blacked_out"},
            "then": {
                "strategies": [{"type": "nearby_dates", "days": 7}, {"type": "other_segment"}],
                "max_results": 3,
            },
        },
        {
            "id": "fallback-default",
            "kind": "fallback",
            "priority": 0,
            "then": {
                "strategies": [
                    {"type": "other_tier", "direction": "up"},
                    {"type": "nearby_dates", "days": 3},
                ],
                "max_results": 3,
            },
        },
        # ---- commission (4)
        {
            "id": "commission-vip",
            "kind": "commission",
            "priority": 300,
            "when": {"fact": "segment", "op": "eq", "value": "vip"},
            "then": {"rate_percent": "8", "min": 500},
        },
        {
            "id": "commission-large",
            "kind": "commission",
            "priority": 200,
            "when": {"fact": "amount", "op": "gte", "value": 500000},
            "then": {"rate_percent": "7", "max": 100000},
        },
        {
            "id": "commission-small",
            "kind": "commission",
            "priority": 100,
            "when": {"fact": "amount", "op": "between", "value": [1, 4999]},
            "then": {"rate_percent": "0", "fixed": 300},
        },
        {
            "id": "commission-standard",
            "kind": "commission",
            "priority": 0,
            "then": {"rate_percent": "10", "min": 100},
        },
        # ---- upsell (4)
        {
            "id": "upsell-exp-a",
            "kind": "upsell",
            "priority": 300,
            "when": {
                "all": [
                    {"fact": "experiment", "op": "eq", "value": "upsell-2027"},
                    {"fact": "variant", "op": "eq", "value": "a"},
                    {"fact": "tier_level", "op": "lt", "value": 3},
                ]
            },
            "then": {
                "offer": "tier",
                "target_level": 3,
                "percent_off": "10",
                "message_key": "upsell.a",
            },
        },
        {
            "id": "upsell-exp-b",
            "kind": "upsell",
            "priority": 300,
            "when": {
                "all": [
                    {"fact": "experiment", "op": "eq", "value": "upsell-2027"},
                    {"fact": "variant", "op": "eq", "value": "b"},
                    {"fact": "add_on_count", "op": "eq", "value": 0},
                ]
            },
            "then": {"offer": "add_on", "add_on": "breakfast", "message_key": "upsell.b"},
        },
        {
            "id": "upsell-groups",
            "kind": "upsell",
            "priority": 200,
            "when": {"fact": "guests", "op": "gte", "value": 6},
            "then": {"offer": "add_on", "add_on": "private-guide", "message_key": "upsell.groups"},
        },
        {
            "id": "upsell-next-tier",
            "kind": "upsell",
            "priority": 10,
            "when": {"fact": "tier_level", "op": "between", "value": [1, 2]},
            "then": {"offer": "tier", "target_level": 3, "message_key": "upsell.next"},
        },
    ],
    "tests": [
        {
            "name": "christmas saturday, 2 days ahead",
            "facts": {
                "service_date": "2027-12-25",
                "lead_days": 2,
                "segment": "standard",
                "tier_level": 1,
            },
            "expect": {
                "season": {"multiplier": "1.65"},
                "last_minute": {"percent_off": "15"},
                "fired": [
                    "christmas-new-year",
                    "weekend",
                    "lm-3-days",
                    "fallback-default",
                    "commission-standard",
                    "upsell-next-tier",
                ],
            },
        },
        {
            "name": "downgrade after payment is denied",
            "facts": {"level_delta": -1, "booking_status": "paid"},
            "expect": {"upgrade": {"allow": False, "reason": "downgrade_after_payment"}},
        },
    ],
}


def tenant_small(number: int) -> dict[str, Any]:
    """A 6-rule ruleset, one rule per kind, with constants varying a little per tenant."""
    peak = [6 + number % 3, 7 + number % 3]
    return {
        "stacking": "best_only",
        "rules": [
            {
                "id": "peak",
                "kind": "season",
                "priority": 100,
                "when": {"fact": "service_month", "op": "in", "value": peak},
                "then": {"multiplier": "1.2"},
            },
            {
                "id": "last-minute",
                "kind": "last_minute",
                "priority": 100,
                "when": {"fact": "lead_days", "op": "between", "value": [0, 2 + number % 5]},
                "then": {"percent_off": "10"},
            },
            {
                "id": "upgrade-up",
                "kind": "upgrade",
                "priority": 100,
                "when": {"fact": "level_delta", "op": "gt", "value": 0},
                "then": {"allow": True, "reason": "upgrade_allowed"},
            },
            {
                "id": "fallback-default",
                "kind": "fallback",
                "priority": 0,
                "then": {"strategies": [{"type": "other_tier", "direction": "up"}]},
            },
            {
                "id": "commission",
                "kind": "commission",
                "priority": 0,
                "then": {"rate_percent": str(8 + number % 5)},
            },
            {
                "id": "upsell",
                "kind": "upsell",
                "priority": 10,
                "when": {"fact": "tier_level", "op": "lt", "value": 3},
                "then": {"offer": "tier", "target_level": 3, "message_key": "upsell.next"},
            },
        ],
    }


# ---- generated ----------------------------------------------------------------------------------

_SEGMENTS = [f"seg-{i}" for i in range(12)] + ["vip", "luxury", "standard"]
_STATUSES = ["none", "pending", "paid", "cancelled", "refunded"]
_AVAILABILITY = ["available", "sold_out", "blacked_out"]
_VARIANTS = ["a", "b", "c", "control"]
_KINDS = ["season", "season", "last_minute", "upgrade", "fallback", "commission", "upsell"]


def _date(rng: random.Random) -> str:
    return f"{rng.choice([2026, 2027, 2028])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _leaf(rng: random.Random) -> dict[str, Any]:
    """One comparison: roughly half equality (eq / in / ne), half range (lt .. between)."""
    pick = rng.randrange(14)
    if pick == 0:
        return {"fact": "segment", "op": "eq", "value": rng.choice(_SEGMENTS)}
    if pick == 1:
        return {"fact": "segment", "op": "in", "value": rng.sample(_SEGMENTS, rng.randint(2, 4))}
    if pick == 2:
        return {"fact": "booking_status", "op": "in", "value": rng.sample(_STATUSES, 2)}
    if pick == 3:
        return {"fact": "availability", "op": rng.choice(["eq", "ne"]), "value": "available"}
    if pick == 4:
        return {"fact": "variant", "op": "eq", "value": rng.choice(_VARIANTS)}
    if pick == 5:
        months = sorted(rng.sample(range(1, 13), rng.randint(1, 3)))
        return {"fact": "service_month", "op": "in", "value": months}
    if pick == 6:
        return {"fact": "service_weekday", "op": "in", "value": rng.sample(range(1, 8), 2)}
    if pick == 7:
        return {"fact": "tier_level", "op": "eq", "value": rng.randint(1, 3)}
    if pick == 8:
        low = rng.randint(0, 60)
        return {"fact": "lead_days", "op": "between", "value": [low, low + rng.randint(0, 14)]}
    if pick == 9:
        return {
            "fact": "amount",
            "op": rng.choice(["lt", "gte"]),
            "value": rng.choice([5000, 20000, 100000, 500000]),
        }
    if pick == 10:
        return {"fact": "guests", "op": rng.choice(["gte", "gt"]), "value": rng.randint(2, 10)}
    if pick == 11:
        first, second = sorted([_date(rng), _date(rng)])
        return {"fact": "service_date", "op": "between", "value": [first, second]}
    if pick == 12:
        return {"fact": "units_left", "op": "lte", "value": rng.randint(1, 20)}
    return {"fact": "level_delta", "op": rng.choice(["gt", "lt", "ne"]), "value": 0}


def _when(rng: random.Random) -> dict[str, Any] | None:
    shape = rng.random()
    if shape < 0.05:
        return None  # always
    if shape < 0.45:
        return _leaf(rng)
    if shape < 0.85:
        return {"all": [_leaf(rng) for _ in range(rng.randint(2, 3))]}
    if shape < 0.95:
        return {"any": [_leaf(rng), {"all": [_leaf(rng), _leaf(rng)]}]}
    return {"all": [_leaf(rng), {"not": _leaf(rng)}]}


def _then(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "season":
        return {"multiplier": rng.choice(["0.8", "0.9", "1.05", "1.1", "1.2", "1.35"])}
    if kind == "last_minute":
        return {"percent_off": str(rng.choice([5, 10, 15, 20])), "group": rng.choice(["a", "b"])}
    if kind == "upgrade":
        allow = rng.random() < 0.6
        return {"allow": allow, "reason": "allowed" if allow else "denied"}
    if kind == "fallback":
        return {"strategies": [{"type": "nearby_dates", "days": rng.randint(1, 7)}]}
    if kind == "commission":
        return {"rate_percent": str(rng.randint(5, 15)), "min": rng.choice([0, 100, 500])}
    return {"offer": "tier", "target_level": 3, "message_key": f"upsell.{rng.randint(1, 9)}"}


def generated(count: int, seed: int = 2027) -> dict[str, Any]:
    """``count`` rules, kinds mixed (season twice as often), each with 0-5 comparisons."""
    rng = random.Random(seed + count)  # noqa: S311 - benchmark data, not security
    rules = []
    for i in range(count):
        kind = _KINDS[i % len(_KINDS)]
        rule: dict[str, Any] = {
            "id": f"g{i:04d}-{kind.replace('_', '-')}",
            "kind": kind,
            "priority": rng.randint(0, 1000),
            "then": _then(kind, rng),
        }
        when = _when(rng)
        if when is not None:
            rule["when"] = when
        rules.append(rule)
    return {"stacking": "exclusive_groups", "rules": rules}


def equality_rules(count: int) -> dict[str, Any]:
    """``count`` rules that each test equalities only (segment, tier level, month, variant): the
    shape of most real tenant rules, where at most a few can match one fact set."""
    rules = []
    for i in range(count):
        kind = _KINDS[i % len(_KINDS)]
        when = {
            "all": [
                {"fact": "segment", "op": "eq", "value": _SEGMENTS[i % len(_SEGMENTS)]},
                {"fact": "service_month", "op": "eq", "value": 1 + i % 12},
                {"fact": "tier_level", "op": "eq", "value": 1 + i % 3},
            ]
        }
        rules.append(
            {
                "id": f"e{i:04d}",
                "kind": kind,
                "priority": i,
                "when": when,
                "then": _then(kind, random.Random(i)),  # noqa: S311 - benchmark data
            }
        )
    return {"stacking": "best_only", "rules": rules}


# ---- the worst valid ruleset --------------------------------------------------------------------

#: Facts every range test of ``worst_valid`` holds for: the costliest decision it can take.
WORST_FACTS: dict[str, Any] = {
    "amount": 10**12,
    "guests": 1000,
    "units_left": 100_000,
    "lead_days": 3650,
    "service_year": 9999,
}
_RANGE_FACTS = tuple(WORST_FACTS)


def _holding(number: int) -> dict[str, Any]:
    """A range test ``WORST_FACTS`` satisfy, distinct for every ``number`` (no shared node)."""
    fact = _RANGE_FACTS[number % len(_RANGE_FACTS)]
    return {"fact": fact, "op": "gte", "value": number // len(_RANGE_FACTS)}


def _wide(number: int, first: int) -> dict[str, Any]:
    """All of 8 pairs of holding range tests: 2⁸ = 256 alternatives as one engine rule; as
    tierwise compiles it, 4 parts of 4 alternatives (16 actions when everything holds)."""
    pairs = [{"any": [_holding(first + 2 * g), _holding(first + 2 * g + 1)]} for g in range(8)]
    return {
        "id": f"wide-{number:03d}",
        "kind": "season",
        "when": {"all": pairs},
        "then": {"multiplier": "1.0001"},
    }


def _flat(number: int, first: int) -> dict[str, Any]:
    """Any of 30 holding range tests: one part whose 30 tests all match at once, so that about
    two fill an engine ruleset (a new chunk, a new session per decision)."""
    return {
        "id": f"flat-{number:03d}",
        "kind": "last_minute",
        "when": {"any": [_holding(first + k) for k in range(30)]},
        "then": {"percent_off": "1", "group": f"g{number % 7}"},
    }


def _chain(number: int, first: int) -> dict[str, Any]:
    """All of 32 holding range tests: the most engine nodes one rule can have."""
    return {
        "id": f"chain-{number:03d}",
        "kind": "commission",
        "when": {"all": [_holding(first + k) for k in range(32)]},
        "then": {"rate_percent": "1"},
    }


def _shared(number: int) -> dict[str, Any]:
    """Any of 4 sets of the same 100 holding values, in every rule: 400 compared values the
    engine compiles, sharing their nodes (the most compile work for the least memory)."""
    sets = [{"fact": fact, "op": "in", "value": list(range(100))} for fact in _RANGE_FACTS[1:]]
    for leaf in sets:
        leaf["value"][-1] = WORST_FACTS[leaf["fact"]]  # the fact's value is in every set
    then = {"offer": "none", "message_key": "m"}
    return {"id": f"shared-{number:03d}", "kind": "upsell", "when": {"any": sets}, "then": then}


def _always(number: int) -> dict[str, Any]:
    kind = ("season", "upsell", "upgrade", "fallback")[number % 4]
    then = {
        "season": {"multiplier": "1.0001"},
        "upsell": {"offer": "none", "message_key": "m"},
        "upgrade": {"allow": True, "reason": "ok"},
        "fallback": {"strategies": [{"type": "other_segment"}]},
    }[kind]
    return {"id": f"always-{number:04d}", "kind": kind, "priority": number % 100, "then": then}


def worst_valid(wide: int, flat: int, chain: int, always: int, shared: int = 0) -> dict[str, Any]:
    """A ruleset of ``wide``, ``flat`` and ``chain`` rules (every test distinct, every test
    holding for ``WORST_FACTS``), ``shared`` rules (the same sets of values) and ``always``
    rules without condition."""
    rules: list[dict[str, Any]] = [_shared(number) for number in range(shared)]
    first = 0
    for number in range(wide):
        rules.append(_wide(number, first))
        first += 16
    for number in range(flat):
        rules.append(_flat(number, first))
        first += 30
    for number in range(chain):
        rules.append(_chain(number, first))
        first += 32
    rules += [_always(number) for number in range(always)]
    return {"stacking": "exclusive_groups", "rules": rules}
