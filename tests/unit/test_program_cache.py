"""rules.programs.ProgramCache: lazy build once per key, bounded by memory with least recently
used eviction, close after release (the engine's memory back)."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from rules.engine import Program, compile_program, evaluate
from rules.language import Ruleset
from rules.parsing import parse_ruleset
from rules.plan import plan_ruleset
from rules.programs import DEFAULT_MAX_BYTES, ProgramCache
from tests.support.heap import heap_bytes

EMPTY = Ruleset(())


MiB = 1024 * 1024


class CountingMatcher:
    def __init__(self, memory_bytes: int = MiB) -> None:
        self.closed = 0
        self.memory_bytes = memory_bytes

    def match(self, facts: Mapping[str, Any]) -> set[str]:
        if self.closed:
            raise AssertionError("matched after close")
        return set()

    def close(self) -> None:
        self.closed += 1


class Builder:
    """build() callables that count their calls and keep what they built."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: dict[Any, int] = {}
        self.built: dict[Any, list[Program]] = {}
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self, key: Any) -> Any:
        def build() -> Program:
            with self._lock:
                self.calls[key] = self.calls.get(key, 0) + 1
            time.sleep(self.delay)  # the scenario: a slow compile, nothing waited for
            program = Program(EMPTY, CountingMatcher(), "stub", str(key))
            with self._lock:
                self.built.setdefault(key, []).append(program)
            return program

        return build

    def closes(self, key: Any) -> list[int]:
        return [p.matcher.closed for p in self.built.get(key, [])]  # type: ignore[attr-defined]


def test_builds_lazily_once_per_key() -> None:
    cache, builder = ProgramCache(max_bytes=4 * MiB), Builder()
    assert len(cache) == 0 and builder.calls == {}
    with cache.acquire("a", builder("a")) as first:
        pass
    with cache.acquire("a", builder("a")) as again:
        assert again is first
    with cache.acquire(("tenant", 2), builder(("tenant", 2))) as other:
        assert other is not first
    assert builder.calls == {"a": 1, ("tenant", 2): 1}
    assert cache.compiled == 2 and cache.evicted == 0 and len(cache) == 2


def test_eight_threads_racing_on_one_key_build_it_once() -> None:
    cache, builder = ProgramCache(max_bytes=4 * MiB), Builder(delay=0.05)
    barrier = threading.Barrier(8)
    seen: list[Program] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with cache.acquire("hot", builder("hot")) as program:
                seen.append(program)
                time.sleep(0.01)  # the scenario: the program in use a while, nothing waited for
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert builder.calls == {"hot": 1}
    assert len(seen) == 8 and all(p is seen[0] for p in seen)
    assert cache.compiled == 1 and builder.closes("hot") == [0]


def test_racing_on_different_keys_builds_each_once_and_in_parallel() -> None:
    cache = ProgramCache(max_bytes=16 * MiB)
    calls: dict[int, int] = {}
    running = peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    alongside = threading.Event()

    def build(key: int) -> Program:
        nonlocal running, peak
        with lock:
            calls[key] = calls.get(key, 0) + 1
            running += 1
            peak = max(peak, running)
            if running > 1:
                alongside.set()
        alongside.wait(timeout=10)  # a build lasts until another runs alongside (if one can)
        with lock:
            running -= 1
        return Program(EMPTY, CountingMatcher(), "stub", str(key))

    def worker(n: int) -> None:
        barrier.wait()
        with cache.acquire(n % 4, lambda: build(n % 4)):
            pass

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert calls == {0: 1, 1: 1, 2: 1, 3: 1}
    assert peak > 1  # builds of different keys do not wait for each other


def test_least_recently_used_is_evicted_and_closed() -> None:
    cache, builder = ProgramCache(max_bytes=2 * MiB), Builder()
    for key in ("a", "b"):
        with cache.acquire(key, builder(key)):
            pass
    with cache.acquire("a", builder("a")):  # a is now the most recently used
        pass
    with cache.acquire("c", builder("c")):
        pass
    assert builder.closes("b") == [1] and builder.closes("a") == [0]
    assert cache.evicted == 1 and len(cache) == 2
    with cache.acquire("b", builder("b")):  # rebuilt, which evicts a
        pass
    assert builder.calls == {"a": 1, "b": 2, "c": 1}
    assert builder.closes("b") == [1, 0] and builder.closes("a") == [1]
    assert cache.compiled == 4 and cache.evicted == 2


def test_an_evicted_program_in_use_is_closed_only_after_release() -> None:
    cache, builder = ProgramCache(max_bytes=1 * MiB), Builder()
    with cache.acquire("a", builder("a")) as held:
        with cache.acquire("b", builder("b")):
            pass
        assert len(cache) == 1 and cache.evicted == 1
        assert builder.closes("a") == [0]
        assert held.matcher.match({}) == set()  # still usable while held
        with cache.acquire("a", builder("a")) as fresh:  # a new copy for a new request
            assert fresh is not held
    assert builder.closes("a") == [1, 0]  # the held one closed on release, exactly once


def test_a_program_held_twice_is_closed_after_the_last_release() -> None:
    cache, builder = ProgramCache(max_bytes=1 * MiB), Builder()
    first = cache.acquire("a", builder("a"))
    second = cache.acquire("a", builder("a"))
    program = first.__enter__()
    assert second.__enter__() is program
    with cache.acquire("b", builder("b")):
        pass
    first.__exit__(None, None, None)
    assert builder.closes("a") == [0]
    second.__exit__(None, None, None)
    assert builder.closes("a") == [1]


def test_release_happens_when_the_body_raises() -> None:
    cache, builder = ProgramCache(max_bytes=1 * MiB), Builder()
    with pytest.raises(RuntimeError), cache.acquire("a", builder("a")):
        raise RuntimeError("request failed")
    with cache.acquire("b", builder("b")):
        pass
    assert builder.closes("a") == [1]


def test_a_failing_build_caches_nothing_and_can_be_retried() -> None:
    cache, builder = ProgramCache(max_bytes=2 * MiB), Builder()

    def broken() -> Program:
        raise ValueError("does not compile")

    with pytest.raises(ValueError), cache.acquire("a", broken):
        pass
    assert len(cache) == 0 and cache.compiled == 0
    with cache.acquire("a", builder("a")) as program:
        assert program.name == "a"
    assert builder.calls == {"a": 1}


def test_clear_closes_idle_programs_now_and_held_ones_on_release() -> None:
    cache, builder = ProgramCache(max_bytes=4 * MiB), Builder()
    with cache.acquire("idle", builder("idle")):
        pass
    with cache.acquire("busy", builder("busy")):
        cache.clear()
        assert len(cache) == 0
        assert builder.closes("idle") == [1] and builder.closes("busy") == [0]
    assert builder.closes("busy") == [1]
    with cache.acquire("idle", builder("idle")):  # built again after clear
        pass
    assert builder.calls["idle"] == 2


def test_a_zero_ceiling_still_serves_and_closes_each_program_after_use() -> None:
    cache, builder = ProgramCache(max_bytes=0), Builder()
    with cache.acquire("a", builder("a")):
        assert builder.closes("a") == [0]
    assert builder.closes("a") == [1] and len(cache) == 0


def test_with_real_durable_programs() -> None:
    document = {
        "rules": [
            {
                "id": "big",
                "kind": "season",
                "when": {"fact": "guests", "op": "gte", "value": 4},
                "then": {"multiplier": "1.5"},
            }
        ]
    }
    ruleset = parse_ruleset(document)
    cache = ProgramCache(max_bytes=plan_ruleset(ruleset).memory_bytes)  # room for one

    def build() -> Program:
        return compile_program(ruleset, engine="durable")

    with cache.acquire("v1", build) as program:
        assert evaluate(program, {"guests": 5}).fired == ("big",)
        with cache.acquire("v2", build):
            pass
        assert evaluate(program, {"guests": 5}).fired == ("big",)  # evicted but held
    assert program._closed
    cache.clear()


def test_every_program_is_closed_after_racing_builds_and_evictions() -> None:
    """Threads acquiring a few keys through a cache smaller than that: a waiter woken after its
    key was built and evicted again must not build a second copy beside another thread's (the
    overwritten copy would never be closed)."""
    cache, builder = ProgramCache(max_bytes=1 * MiB), Builder(delay=0.001)

    def worker(number: int) -> None:
        rng = random.Random(number)
        for _ in range(300):
            key = rng.randrange(3)
            with cache.acquire(key, builder(key)) as program:
                assert program.matcher.match({}) == set()  # never closed while held

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(before)
    cache.clear()
    built = [p for programs in builder.built.values() for p in programs]
    assert len(built) == cache.compiled > 3
    assert sorted({p.matcher.closed for p in built}) == [1]  # type: ignore[attr-defined]


# ---- bounded by memory ---------------------------------------------------------------------------


class SizedBuilder(Builder):
    """Stub programs of the given sizes (MiB), by key."""

    def __init__(self, sizes: dict[str, int]) -> None:
        super().__init__()
        self.sizes = sizes

    def __call__(self, key: Any) -> Any:
        def build() -> Program:
            self.calls[key] = self.calls.get(key, 0) + 1
            program = Program(EMPTY, CountingMatcher(self.sizes[key] * MiB), "stub", str(key))
            self.built.setdefault(key, []).append(program)
            return program

        return build


def test_the_default_cache_is_bounded_by_memory_not_by_count() -> None:
    """It used to keep 256 programs whatever their size; the default is 128 MiB per worker."""
    cache = ProgramCache()
    builder = SizedBuilder({f"v{n}": 10 for n in range(30)})
    for n in range(30):
        with cache.acquire(f"v{n}", builder(f"v{n}")):
            pass
    assert cache.max_bytes == DEFAULT_MAX_BYTES == 128 * MiB
    assert len(cache) == 12 and cache.bytes == 120 * MiB
    assert [builder.closes(f"v{n}") for n in range(30)] == [[1]] * 18 + [[0]] * 12


def test_least_recently_used_go_until_the_rest_fits() -> None:
    cache, builder = ProgramCache(max_bytes=8 * MiB), SizedBuilder({"a": 3, "b": 2, "c": 4, "d": 6})
    for key in ("a", "b", "a"):  # a is now the most recently used
        with cache.acquire(key, builder(key)):
            pass
    assert cache.bytes == 5 * MiB
    with cache.acquire("c", builder("c")):  # 9 MiB: b goes
        pass
    assert (builder.closes("b"), cache.bytes, len(cache)) == ([1], 7 * MiB, 2)
    with cache.acquire("d", builder("d")):  # 13 MiB: a, then c go
        pass
    assert builder.closes("a") == [1] and builder.closes("c") == [1]
    assert (cache.bytes, len(cache), cache.evicted) == (6 * MiB, 1, 3)


def test_a_program_larger_than_the_ceiling_is_served_then_closed() -> None:
    cache, builder = ProgramCache(max_bytes=4 * MiB), SizedBuilder({"small": 1, "huge": 5})
    with cache.acquire("small", builder("small")):
        pass
    with cache.acquire("huge", builder("huge")) as huge:
        assert huge.matcher.match({}) == set()  # served while held
        assert builder.closes("small") == [1] and builder.closes("huge") == [0]
    assert builder.closes("huge") == [1]
    assert (len(cache), cache.bytes) == (0, 0)


def real_rulesets() -> list[dict[str, Any]]:
    from bench.rulesets import REPRESENTATIVE, equality_rules, generated, tenant_small

    return [tenant_small(1), REPRESENTATIVE, generated(30), generated(100), equality_rules(60)]


def test_memory_estimates_are_close_to_what_the_engine_allocates() -> None:
    """rules.plan's estimate of the engine's part against the C heap: compile, then a decision
    (the sessions kept come into being)."""
    for document in real_rulesets():
        ruleset = parse_ruleset(document)
        plan = plan_ruleset(ruleset)
        before = heap_bytes()
        program = compile_program(ruleset, engine="durable")
        try:
            evaluate(program, {})
            used = heap_bytes() - before
        finally:
            program.close()
        estimate = plan.memory_bytes - plan.python_bytes
        assert 0.75 < estimate / used < 1.35, (len(ruleset.rules), estimate, used)


def test_evicted_programs_give_the_engine_memory_back() -> None:
    """Sessions first, then the rulesets (DESIGN.md: a session left behind leaks ~425 KiB)."""
    from bench.rulesets import generated

    rulesets = [parse_ruleset(generated(60, seed=n)) for n in range(8)]
    sizes = [plan_ruleset(ruleset).memory_bytes for ruleset in rulesets]
    cache = ProgramCache(max_bytes=2 * max(sizes))
    before = heap_bytes()
    peak = 0
    for key, ruleset in enumerate(rulesets):
        with cache.acquire(key, lambda r=ruleset: compile_program(r, engine="durable")) as p:
            evaluate(p, {"guests": 3})
        peak = max(peak, heap_bytes() - before)
    assert cache.evicted >= 5 and cache.bytes <= cache.max_bytes
    assert peak < 3 * max(sizes)  # never much more than the ceiling
    cache.clear()
    assert heap_bytes() - before < 256 * 1024  # all of it back
