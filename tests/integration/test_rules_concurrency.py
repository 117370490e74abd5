"""Durable programs shared by threads: right answers under contention, under eviction by a small
ProgramCache, and constant memory over a long run."""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rules.defaults import DEFAULT_RULESET
from rules.engine import Program, compile_program, evaluate
from rules.language import Ruleset
from rules.outcome import Outcome
from rules.parsing import parse_ruleset
from rules.plan import plan_ruleset
from rules.programs import ProgramCache
from tests.integration.test_rules_differential import Generator
from tests.support.heap import rss_kib

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
EVALUATIONS_PER_THREAD = 2_000


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, so the calls of one match
    interleave with other threads' calls."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def corpus(seed: int, rules: int) -> tuple[Ruleset, list[dict[str, Any]], list[Outcome]]:
    """A random ruleset, fact sets for it and the reference outcomes."""
    generator = Generator(seed)
    ruleset = parse_ruleset(generator.ruleset_document(rules=rules))
    reference = compile_program(ruleset, engine="reference")
    facts = [generator.facts(ruleset) for _ in range(200)]
    return ruleset, facts, [evaluate(reference, f) for f in facts]


def run_threads(target: Callable[[int], None], count: int = THREADS) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(number: int) -> None:
        try:
            barrier.wait()
            target(number)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive(), "a thread is stuck"
    return errors


def test_shared_durable_programs_give_reference_answers_under_contention() -> None:
    corpora = [corpus(1000 + n, rules) for n, rules in enumerate((4, 20, 45, 120))]
    default = parse_ruleset(DEFAULT_RULESET)
    reference = compile_program(default, engine="reference")
    default_facts = [Generator(7).facts(default) for _ in range(200)]
    corpora.append((default, default_facts, [evaluate(reference, f) for f in default_facts]))
    chunks = [chunk for rs, _, _ in corpora for chunk in plan_ruleset(rs).chunks]
    assert any(len(plan_ruleset(rs).chunks) > 1 for rs, _, _ in corpora)  # several engine chunks
    # engine sessions kept between decisions, and made afresh for each
    assert {chunk.keep_state for chunk in chunks} == {True, False}
    programs = [
        compile_program(rs, engine="durable", name=f"shared{n}")
        for n, (rs, _, _) in enumerate(corpora)
    ]
    mismatches: list[str] = []
    done = [0] * THREADS

    def work(number: int) -> None:
        rng = random.Random(number)
        for _ in range(EVALUATIONS_PER_THREAD):
            which = rng.randrange(len(corpora))
            _, facts, expected = corpora[which]
            i = rng.randrange(len(facts))
            outcome = evaluate(programs[which], facts[i])
            if outcome != expected[i]:
                mismatches.append(f"ruleset {which}, facts {facts[i]}")
            done[number] += 1

    try:
        errors = run_threads(work)
    finally:
        for program in programs:
            program.close()
    assert errors == []
    assert mismatches == [], mismatches[:3]
    assert sum(done) == THREADS * EVALUATIONS_PER_THREAD


def test_evaluations_stay_right_while_a_small_cache_compiles_and_evicts() -> None:
    corpora = [corpus(2000 + n, 6 + 4 * n) for n in range(6)]
    sizes = sorted(plan_ruleset(ruleset).memory_bytes for ruleset, _, _ in corpora)
    cache = ProgramCache(max_bytes=sizes[2] + sizes[3])  # room for about two
    serials = itertools.count()
    closed: list[int] = []  # serial numbers of the programs closed, once each

    def builder(key: int) -> Callable[[], Program]:
        def build() -> Program:
            program = compile_program(corpora[key][0], engine="durable", name=f"cached{key}")
            serial, close = next(serials), program.close

            def close_once() -> None:
                if not program._closed:
                    closed.append(serial)
                close()

            program.close = close_once  # type: ignore[method-assign]
            return program

        return build

    mismatches: list[str] = []
    stop = threading.Event()
    evaluators = THREADS - 1

    def work(number: int) -> None:
        rng = random.Random(number)
        if number == evaluators:  # the churner: compiles other keys, clears now and then
            rounds = 0
            while not stop.is_set():
                key = rng.randrange(len(corpora))
                with cache.acquire(key, builder(key)):
                    pass
                rounds += 1
                if rounds % 25 == 0:
                    cache.clear()
            return
        try:
            for _ in range(EVALUATIONS_PER_THREAD // 4):
                key = rng.randrange(len(corpora))
                _, facts, expected = corpora[key]
                i = rng.randrange(len(facts))
                with cache.acquire(key, builder(key)) as program:
                    outcome = evaluate(program, facts[i])
                if outcome != expected[i]:
                    mismatches.append(f"ruleset {key}, facts {facts[i]}")
        finally:
            if number == 0:
                stop.set()

    errors = run_threads(work)
    stop.set()
    cache.clear()
    assert errors == []
    assert mismatches == [], mismatches[:3]
    assert cache.evicted > 10 and cache.compiled > len(corpora)  # eviction really happened
    # every program built was closed, once, when no one held it any more
    assert sorted(closed) == list(range(cache.compiled))


def test_soak_memory_stays_flat() -> None:
    """200,000 evaluations of one durable program: the engine's state is reused, not leaked."""
    ruleset = parse_ruleset(
        {
            "stacking": "ordered_stack",
            "rules": [
                {
                    "id": "summer",
                    "kind": "season",
                    "when": {"fact": "service_month", "op": "in", "value": [7, 8]},
                    "then": {"multiplier": "1.2"},
                },
                {
                    "id": "late",
                    "kind": "last_minute",
                    "when": {"fact": "lead_days", "op": "between", "value": [0, 3]},
                    "then": {"percent_off": "10"},
                },
                {
                    "id": "up",
                    "kind": "upgrade",
                    "when": {"fact": "level_delta", "op": "gt", "value": 0},
                    "then": {"allow": True, "reason": "up"},
                },
                {
                    "id": "fallback",
                    "kind": "fallback",
                    "then": {"strategies": [{"type": "other_tier"}]},
                },
                {
                    "id": "fee",
                    "kind": "commission",
                    "when": {"not": {"fact": "segment", "op": "eq", "value": "vip"}},
                    "then": {"rate_percent": "10"},
                },
                {
                    "id": "offer",
                    "kind": "upsell",
                    "when": {
                        "any": [
                            {"fact": "tier_level", "op": "lt", "value": 3},
                            {"fact": "variant", "op": "eq", "value": "b"},
                        ]
                    },
                    "then": {"offer": "tier", "target_level": 3, "message_key": "m"},
                },
            ],
        }
    )
    program = compile_program(ruleset, engine="durable", name="soak")
    reference = compile_program(ruleset, engine="reference")
    rng = random.Random(99)
    facts = [
        {
            "service_month": rng.randint(1, 12),
            "lead_days": rng.randint(-1, 10),
            "level_delta": rng.randint(-3, 3),
            "segment": rng.choice(["vip", "std"]),
            "tier_level": rng.randint(0, 3),
            "variant": rng.choice(["a", "b"]),
        }
        for _ in range(500)
    ]
    expected = [evaluate(reference, f) for f in facts]
    try:
        for i in range(5_000):  # warm up allocator pools and caches
            evaluate(program, facts[i % 500])
        before = rss_kib()
        wrong = 0
        for i in range(200_000):
            outcome = evaluate(program, facts[i % 500])
            if i % 97 == 0 and outcome != expected[i % 500]:
                wrong += 1
        after = rss_kib()
    finally:
        program.close()
    growth = (after - before) / 1024
    print(f"\nsoak: RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB ({growth:+.2f} MiB)")
    assert wrong == 0
    assert growth < 30


CLOSE_UNMATCHED = """
from rules.engine import compile_program, evaluate
from rules.parsing import parse_ruleset
from rules.plan import plan_ruleset

ruleset = parse_ruleset({"rules": [{"id": "a", "kind": "season", "then": {"multiplier": "1.1"},
                                    "when": {"fact": "guests", "op": "eq", "value": 5}}]})
for size in range(1_000, 200_000, 1_000):
    junk = b"A" * size  # leave non-zero bytes in freed heap blocks the engine will reuse
    del junk
    program = compile_program(ruleset, engine="durable")
    assert evaluate(program, {"guests": 1}).fired == ()
    program.close()
print("OK")
"""


def test_closing_a_program_whose_facts_never_matched_is_safe() -> None:
    """durable-rules frees a state's uninitialised action context in delete_state when no action
    ever ran on it; found by the eviction test above (the cache closed such programs)."""
    child = subprocess.run(
        [sys.executable, "-c", CLOSE_UNMATCHED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, f"exit {child.returncode}: {child.stderr[-1000:]}"
    assert child.stdout.strip() == "OK"
