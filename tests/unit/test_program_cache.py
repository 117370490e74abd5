"""rules.programs.ProgramCache: lazy build once per key, LRU eviction, close after release."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from rules.engine import Program, compile_program, evaluate
from rules.language import Ruleset, parse_ruleset
from rules.programs import ProgramCache

EMPTY = Ruleset(())


class CountingMatcher:
    def __init__(self) -> None:
        self.closed = 0

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
            time.sleep(self.delay)
            program = Program(EMPTY, CountingMatcher(), "stub", str(key))
            with self._lock:
                self.built.setdefault(key, []).append(program)
            return program

        return build

    def closes(self, key: Any) -> list[int]:
        return [p.matcher.closed for p in self.built.get(key, [])]  # type: ignore[attr-defined]


def test_builds_lazily_once_per_key() -> None:
    cache, builder = ProgramCache(capacity=4), Builder()
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
    cache, builder = ProgramCache(capacity=4), Builder(delay=0.05)
    barrier = threading.Barrier(8)
    seen: list[Program] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with cache.acquire("hot", builder("hot")) as program:
                seen.append(program)
                time.sleep(0.01)
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
    cache = ProgramCache(capacity=16)
    calls: dict[int, int] = {}
    running = peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def build(key: int) -> Program:
        nonlocal running, peak
        with lock:
            calls[key] = calls.get(key, 0) + 1
            running += 1
            peak = max(peak, running)
        time.sleep(0.1)
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
    cache, builder = ProgramCache(capacity=2), Builder()
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
    cache, builder = ProgramCache(capacity=1), Builder()
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
    cache, builder = ProgramCache(capacity=1), Builder()
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
    cache, builder = ProgramCache(capacity=1), Builder()
    with pytest.raises(RuntimeError), cache.acquire("a", builder("a")):
        raise RuntimeError("request failed")
    with cache.acquire("b", builder("b")):
        pass
    assert builder.closes("a") == [1]


def test_a_failing_build_caches_nothing_and_can_be_retried() -> None:
    cache, builder = ProgramCache(capacity=2), Builder()

    def broken() -> Program:
        raise ValueError("does not compile")

    with pytest.raises(ValueError), cache.acquire("a", broken):
        pass
    assert len(cache) == 0 and cache.compiled == 0
    with cache.acquire("a", builder("a")) as program:
        assert program.name == "a"
    assert builder.calls == {"a": 1}


def test_clear_closes_idle_programs_now_and_held_ones_on_release() -> None:
    cache, builder = ProgramCache(capacity=4), Builder()
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


def test_zero_capacity_still_serves_and_closes_each_program_after_use() -> None:
    cache, builder = ProgramCache(capacity=0), Builder()
    with cache.acquire("a", builder("a")):
        assert builder.closes("a") == [0]
    assert builder.closes("a") == [1] and len(cache) == 0


def test_with_real_durable_programs() -> None:
    document = {
        "rules": [
            {"id": "big", "kind": "season", "when": {"fact": "guests", "op": "gte", "value": 4},
             "then": {"multiplier": "1.5"}}
        ]
    }  # fmt: skip
    ruleset = parse_ruleset(document)
    cache = ProgramCache(capacity=1)

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
    cache, builder = ProgramCache(capacity=1), Builder(delay=0.001)

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
