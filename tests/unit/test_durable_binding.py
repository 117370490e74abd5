"""rules.durable_binding against the real durable_rules_engine C extension."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rules import durable_binding
from rules.durable_binding import CompiledRuleset, DurableError, compiles_in_process
from tests.support.heap import rss_kib

Fact = dict[str, Any]

# Every operator we rely on, each paired with a Python predicate used as the reference.
OPERATOR_RULES: dict[str, tuple[dict[str, Any], Callable[[Fact], bool]]] = {
    "eq_plain": ({"tier": "gold"}, lambda f: f.get("tier") == "gold"),
    "eq_op": ({"$eq": {"tier": "silver"}}, lambda f: f.get("tier") == "silver"),
    "neq": ({"$neq": {"tier": "gold"}}, lambda f: "tier" in f and f["tier"] != "gold"),
    "lt": ({"$lt": {"amount": 100}}, lambda f: "amount" in f and f["amount"] < 100),
    "lte": ({"$lte": {"amount": 100}}, lambda f: "amount" in f and f["amount"] <= 100),
    "gt": ({"$gt": {"nights": 3}}, lambda f: "nights" in f and f["nights"] > 3),
    "gte": ({"$gte": {"nights": 3}}, lambda f: "nights" in f and f["nights"] >= 3),
    "and_or": (
        {
            "$and": [
                {"$or": [{"channel": "web"}, {"$gt": {"party": 4}}]},
                {"$or": [{"tier": "gold"}, {"$and": [{"vip": True}, {"$lte": {"amount": 50.5}}]}]},
            ]
        },
        lambda f: (
            (f.get("channel") == "web" or ("party" in f and f["party"] > 4))
            and (f.get("tier") == "gold" or (f.get("vip") is True and f.get("amount", 1e9) <= 50.5))
        ),
    ),
    "ex": ({"$ex": {"coupon": 1}}, lambda f: "coupon" in f),
    "nex": ({"$nex": {"coupon": 1}}, lambda f: "coupon" not in f),
    "unicode": ({"city": 'Zürich "old"'}, lambda f: f.get("city") == 'Zürich "old"'),
}


def operator_rules() -> dict[str, dict[str, Any]]:
    return {name: {"all": [{"m": cond}]} for name, (cond, _) in OPERATOR_RULES.items()}


def expected(fact: Fact) -> list[str]:
    """All rules have the default priority, so they fire in definition order."""
    return [name for name, (_, pred) in OPERATOR_RULES.items() if pred(fact)]


def random_fact(rng: random.Random) -> Fact:
    fact: Fact = {
        "tier": rng.choice(["gold", "silver", "bronze"]),
        "amount": rng.choice([rng.randint(0, 200), round(rng.uniform(0, 200), 2), 50.5, 100]),
        "nights": rng.randint(0, 6),
        "channel": rng.choice(["web", "app"]),
        "party": rng.randint(1, 6),
        "vip": rng.choice([True, False]),
        "city": rng.choice(["Zürich", 'Zürich "old"', "Lyon"]),
    }
    for key in ("tier", "amount", "coupon", "nights", "party"):
        if rng.random() < 0.15:
            fact.pop(key, None)
    if rng.random() < 0.5:
        fact["coupon"] = rng.choice(["SAVE10", "X"])
    return fact


@pytest.fixture
def ruleset() -> Iterator[CompiledRuleset]:
    compiled = CompiledRuleset("operators", operator_rules())
    yield compiled
    compiled.close()


@pytest.mark.parametrize(
    ("fact", "rules"),
    [
        ({"tier": "gold"}, ["eq_plain", "nex"]),
        ({"tier": "silver"}, ["eq_op", "neq", "nex"]),
        ({"amount": 99.99}, ["lt", "lte", "nex"]),
        ({"amount": 100}, ["lte", "nex"]),
        ({"amount": 100.5}, ["nex"]),
        ({"nights": 3}, ["gte", "nex"]),
        ({"nights": 4}, ["gt", "gte", "nex"]),
        ({"channel": "web", "tier": "gold", "coupon": "X"}, ["eq_plain", "and_or", "ex"]),
        ({"party": 5, "vip": True, "amount": 50.5}, ["lt", "lte", "and_or", "nex"]),
        ({"party": 5, "vip": True, "amount": 50.6}, ["lt", "lte", "nex"]),
        ({"party": 4, "vip": True, "amount": 1}, ["lt", "lte", "nex"]),
        ({"city": 'Zürich "old"', "coupon": "é"}, ["ex", "unicode"]),
        # every branch of both `$or`s is true: the engine fires and_or 4 times, reported once
        (
            {"channel": "web", "party": 5, "tier": "gold", "vip": True, "amount": 1},
            ["eq_plain", "lt", "lte", "and_or", "nex"],
        ),
    ],
)
def test_operators(ruleset: CompiledRuleset, fact: Fact, rules: list[str]) -> None:
    assert ruleset.match(fact) == rules == expected(fact)


def test_no_match_returns_empty(ruleset: CompiledRuleset) -> None:
    assert ruleset.match({"coupon": "X", "tier": "gold"}) == ["eq_plain", "ex"]
    assert ruleset.match({"coupon": "X"}) == ["ex"]
    only_gold = CompiledRuleset("gold", {"gold": {"all": [{"m": {"tier": "gold"}}]}})
    try:
        assert only_gold.match({"tier": "lead"}) == []
        assert only_gold.match({}) == []
        assert only_gold.match({"tier": "gold"}) == ["gold"]
    finally:
        only_gold.close()


def test_engine_state_fact_is_not_reported() -> None:
    """A fresh session's state fact has no `coupon`, so it fires `$nex` once; hide it."""
    compiled = CompiledRuleset("nex", {"nex": {"all": [{"m": {"$nex": {"coupon": 1}}}]}})
    try:
        assert compiled.match({"coupon": "X"}) == []
        assert compiled.match({"coupon": "X"}) == []
        assert compiled.match({"tier": "gold"}) == ["nex"]
    finally:
        compiled.close()


def test_all_matching_rules_come_back_in_priority_order() -> None:
    pris = {"p5_first": 5, "p0": 0, "p10": 10, "default": None, "p1": 1, "p5_second": 5}
    rules: dict[str, dict[str, Any]] = {}
    for name, pri in pris.items():
        rules[name] = {"all": [{"m": {"$gte": {"amount": 0}}}]}
        if pri is not None:
            rules[name]["pri"] = pri
    rules["never"] = {"all": [{"m": {"$lt": {"amount": 0}}}], "pri": 0}
    compiled = CompiledRuleset("priorities", rules)
    try:
        order = ["p0", "default", "p1", "p5_first", "p5_second", "p10"]
        for _ in range(3):
            assert compiled.match({"amount": 7}) == order
    finally:
        compiled.close()


@pytest.mark.parametrize("pri", [-1, 65536, True, 1.5])
def test_priorities_the_engine_would_misread_are_rejected(pri: object) -> None:
    with pytest.raises(ValueError, match="pri"):
        CompiledRuleset("bad", {"r": {"all": [{"m": {"x": 1}}], "pri": pri}})


@pytest.mark.parametrize(
    "rule",
    [
        {"all": [{"m": {"x": 1}}], "description": "kept on the Python side"},
        {"all": [{"m": {"x": 1}}, {"n": {"y": 1}}]},
        {"all": [{"first": {"x": 1}}]},
        {"any": [{"m": {"x": 1}}]},
    ],
)
def test_unsupported_rule_shapes_are_rejected(rule: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="rule 'r'"):
        CompiledRuleset("bad", {"r": rule})


def test_compile_error_carries_engine_code() -> None:
    before = compiles_in_process()
    with pytest.raises(DurableError) as info:
        CompiledRuleset("bad", {"r": {"all": [{"m": {"$nope": {"x": 1}}}]}})
    assert info.value.code == 202
    assert compiles_in_process() == before


@pytest.mark.parametrize("key", ["sid", "id", "$s"])
def test_reserved_fact_keys_are_rejected(ruleset: CompiledRuleset, key: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        ruleset.match({key: "x"})


def test_many_calls_are_correct_and_do_not_grow_memory(ruleset: CompiledRuleset) -> None:
    rng = random.Random(20_000)
    facts = [random_fact(rng) for _ in range(2_000)]
    for fact in facts[:500]:  # warm up allocator and engine pools
        ruleset.match(fact)
    before = rss_kib()
    wrong = sum(ruleset.match(fact) != expected(fact) for fact in facts * 10)
    after = rss_kib()
    print(f"20,000 matches: RSS {before} KiB -> {after} KiB ({after - before:+d} KiB)")
    assert wrong == 0
    assert after - before < 20 * 1024


def test_threads_share_one_ruleset_without_wrong_answers(ruleset: CompiledRuleset) -> None:
    """A tiny switch interval makes the GIL change threads between the engine calls of one
    match(); without the binding's lock about 70% of these answers come back wrong."""
    wrong = [0] * 8
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(index: int) -> None:
        try:
            rng = random.Random(index)
            start.wait()
            for _ in range(2_000):
                fact = random_fact(rng)
                wrong[index] += ruleset.match(fact) != expected(fact)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert wrong == [0] * 8


def test_engine_error_leaves_ruleset_usable(ruleset: CompiledRuleset) -> None:
    with pytest.raises(DurableError) as info:
        ruleset.match({f"field{i}": i for i in range(300)})
    assert info.value.code == 302  # ERR_EVENT_MAX_PROPERTIES
    assert ruleset.match({"tier": "gold"}) == ["eq_plain", "nex"]


class FailingEngine:
    """Delegates to the real engine; the first complete_and_start_action fails mid-drain."""

    def __init__(self) -> None:
        self.real = durable_binding._engine
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def complete_and_start_action(self, handle: int, state_offset: int) -> str | None:
        if self.failures:
            self.failures -= 1
            raise self.real.error("Could not complete and start action, error code: 307")
        result: str | None = self.real.complete_and_start_action(handle, state_offset)
        return result


def test_failure_mid_action_resets_the_session(
    ruleset: CompiledRuleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a reset the started action's lease would hide all actions (and the fact would
    stay asserted), so later calls would silently return []."""
    monkeypatch.setattr(durable_binding, "_engine", FailingEngine())
    fact = {"tier": "gold", "amount": 10}
    with pytest.raises(DurableError) as info:
        ruleset.match(fact)
    assert info.value.code == 307
    for _ in range(3):
        assert ruleset.match(fact) == ["eq_plain", "lt", "lte", "nex"]
        assert ruleset.match({"tier": "silver"}) == ["eq_op", "neq", "nex"]


def test_close_is_idempotent_and_the_name_can_be_reused() -> None:
    before = compiles_in_process()
    first = CompiledRuleset("same-name", {"a": {"all": [{"m": {"x": 1}}]}})
    assert first.match({"x": 1}) == ["a"]
    first.close()
    first.close()
    with pytest.raises(DurableError, match="closed"):
        first.match({"x": 1})
    second = CompiledRuleset("same-name", {"b": {"all": [{"m": {"x": 2}}]}})
    try:
        assert second.match({"x": 1}) == []
        assert second.match({"x": 2}) == ["b"]
    finally:
        second.close()
    second.close()
    assert compiles_in_process() == before + 2


def test_unused_ruleset_can_be_closed() -> None:
    CompiledRuleset("never-matched", {"a": {"all": [{"m": {"x": 1}}]}}).close()
