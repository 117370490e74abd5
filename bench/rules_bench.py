"""Rules engine benchmark: prints numbers, asserts nothing about time.

Run from the project root (about 2 minutes on 2 cores)::

    .venv/bin/python -m bench.rules_bench          # or: .venv/bin/python bench/rules_bench.py

What it measures (see ../shared/DESIGN.md, "durable-rules: what we measured", and
docs/benchmarks.md, "Rules engine"):

1. Latency per decision for a representative 27-rule ruleset (bench/rulesets.py) and generated
   rulesets of 10 / 100 / 300 mixed rules: the durable matcher alone (``matcher.match`` on
   complete facts), a decision (``evaluate(..., explain=False)``: match and resolve, what
   serving asks), a decision and its record (``considered_rows``, ``fired``), and the
   pure-Python reference matcher and decision; engine actions per decision.
2. Compile time, engine rulesets (chunks) and memory per ruleset: the estimate of
   ``rules.plan`` (what the program cache counts) beside the C heap measured.
3. durable-rules' own ``Host`` layer (``durable.lang``) on the representative ruleset, in a child
   process that is killed afterwards (its timer threads never stop), against our wrapper.
4. RSS with 1,000 tenants' small rulesets loaded, one decision each (child process).
5. The worst valid rulesets (child process): for each way of spending the limits
   (``bench.rulesets.worst_valid``: alternatives, engine rulesets, engine nodes, compared
   values, with up to 1,000 rules), the largest that validation accepts, every comparison matching: compile time,
   time per decision, memory kept, beside the limits and the ceilings of issue 15.
6. Soak: 1,000,000 ``matcher.match`` calls, RSS every 250,000 (child process).

The figures are also written as JSON to var/bench/rules.json (var/ is not in git).

Timing: ``time.perf_counter_ns`` around each call after a warm-up (wall), and for the
decisions of 1 and 5 ``time.thread_time_ns`` too (CPU of this thread: the machine is shared, and
other processes' turns inflate wall time); decisions/s is calls divided by the sum of the
per-call times. GC stays enabled (as when serving). Child processes, and this process (it
re-executes itself once if needed), run with the GLIBC_TUNABLES of DESIGN.md.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import gc
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(ROOT))

from bench.rulesets import (  # noqa: E402
    REPRESENTATIVE,
    WORST_FACTS,
    equality_rules,
    generated,
    tenant_small,
    worst_valid,
)
from rules.checks import run_cases, sample_facts  # noqa: E402
from rules.durable_binding import GLIBC_TUNABLES, ensure_steady_malloc  # noqa: E402
from rules.engine import Program, compile_program, evaluate  # noqa: E402
from rules.language import MAX_RULES, Ruleset  # noqa: E402
from rules.parsing import parse_ruleset  # noqa: E402
from rules.plan import (  # noqa: E402
    MAX_RULESET_ALTERNATIVES,
    MAX_RULESET_BYTES,
    PROGRAM_BYTES_CEILING,
    cost_errors,
    plan_ruleset,
)
from rules.vocabulary import complete_facts  # noqa: E402

RESULTS = ROOT / "var" / "bench" / "rules.json"
SCRIPT = Path(__file__).resolve()

CALLS = 10_000  # per measurement
BIG_RULESET_BUDGET_S = 6.0  # per measurement on the 300-rule ruleset: fewer calls if slow
MIN_CALLS = 1_000
WORST_CALLS = 2_000
#: issue 15: targets, and the figures of the code before it (docs/benchmarks.md, "Rules engine")
TARGET_MIXED_100_US, BEFORE_MIXED_100_US = 40.0, 87.0
TARGET_TENANTS_MIB, BEFORE_TENANTS_MIB = 150.0, 258.0
CEILING_COMPILE_MS, CEILING_DECISION_US, CEILING_MEMORY = 100.0, 1000.0, 5 * 1024 * 1024
SAMPLE_FACTS = 1_000  # distinct fact sets, cycled
SOAK_CALLS = 1_000_000
SOAK_EVERY = 250_000
TENANTS = 1_000


# ---- helpers ------------------------------------------------------------------------------------


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def heap_bytes() -> int:
    """Bytes glibc's malloc has handed out (mallinfo2): the engine's memory, which tracemalloc
    does not see."""

    class MallInfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in (
                *("arena", "ordblks", "smblks", "hblks", "hblkhd"),
                *("usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"),
            )
        ]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def malloc_trim() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile, in µs."""
    rank = max(1, math.ceil(q * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1000


def summarize(times_ns: list[int]) -> dict[str, Any]:
    times_ns.sort()
    total = sum(times_ns)
    return {
        "calls": len(times_ns),
        "per_s": round(len(times_ns) * 1e9 / total, 1),
        "mean_us": round(total / len(times_ns) / 1000, 2),
        "p50_us": round(percentile(times_ns, 0.50), 2),
        "p99_us": round(percentile(times_ns, 0.99), 2),
        "max_us": round(times_ns[-1] / 1000, 2),
    }


def time_calls(
    call: Callable[[Any], Any],
    inputs: Sequence[Any],
    calls: int,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> list[int]:
    size = len(inputs)
    times = [0] * calls
    for i in range(calls):
        item = inputs[i % size]
        start = clock()
        call(item)
        times[i] = clock() - start
    return times


def measure(
    call: Callable[[Any], Any],
    inputs: Sequence[Any],
    *,
    warmup: int,
    budget_s: float | None,
    cpu: bool = False,
    calls: int = CALLS,
) -> dict[str, Any]:
    """Warm up, then time ``calls`` calls (fewer, at least MIN_CALLS, if a time budget is given
    and the warm-up says they would not fit in it); with ``cpu`` also their CPU time."""
    warm = time_calls(call, inputs, warmup)
    wanted = calls
    if budget_s is not None:
        estimate_s = statistics.fmean(warm) / 1e9
        calls = max(MIN_CALLS, min(calls, int(budget_s / estimate_s)))
    gc.collect()
    result = summarize(time_calls(call, inputs, calls))
    result["reduced"] = calls < wanted
    if cpu:
        gc.collect()
        on_cpu = summarize(time_calls(call, inputs, calls, time.thread_time_ns))
        result["cpu_p50_us"], result["cpu_p99_us"] = on_cpu["p50_us"], on_cpu["p99_us"]
    return result


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GLIBC_TUNABLES"] = GLIBC_TUNABLES
    env["PYTHONUNBUFFERED"] = "1"
    return env


def emit(record: dict[str, Any]) -> None:
    """A child's report line to the parent."""
    print(json.dumps(record), flush=True)


def run_child(
    kind: str, timeout_s: float, on_record: Callable[[dict[str, Any]], None], *, kill_after: bool
) -> dict[str, Any]:
    """Run ``--child kind`` in a new interpreter, pass each JSON line it prints to ``on_record``,
    and return its ``result`` record. With ``kill_after`` the child is killed (by its pid) as
    soon as it has reported its result; it is killed anyway after ``timeout_s``."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--child", kind],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
    timed_out = threading.Event()

    def watchdog() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_s, watchdog)
    timer.start()
    result: dict[str, Any] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                print(f"    [{kind} child] {line.rstrip()}")
                continue
            if record.get("event") == "result":
                result = record
                if kill_after:
                    proc.kill()
                    break
            else:
                on_record(record)
    finally:
        timer.cancel()
        returncode = proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    result["child_returncode"] = returncode
    if timed_out.is_set():
        result["error"] = f"timed out after {timeout_s:.0f} s and was killed"
    elif not result or "event" not in result:
        result["error"] = f"child exited with code {returncode} before reporting a result"
    return result


# ---- 1 + 2: latency, compile time and memory ----------------------------------------------------


def rulesets_under_test() -> Iterator[tuple[str, dict[str, Any]]]:
    yield "representative", REPRESENTATIVE
    for size in (10, 100, 300):
        yield f"generated-{size}", generated(size)
    yield "equality-100", equality_rules(100)


def compile_times(ruleset: Ruleset, repeats: int) -> dict[str, Any]:
    durable_ms = []
    for i in range(repeats):
        start = time.perf_counter_ns()
        program = compile_program(ruleset, name=f"bench-compile-{i}")
        durable_ms.append((time.perf_counter_ns() - start) / 1e6)
        program.close()
    start = time.perf_counter_ns()
    compile_program(ruleset, engine="reference").close()
    reference_ms = (time.perf_counter_ns() - start) / 1e6
    plan = plan_ruleset(ruleset)
    return {
        "repeats": repeats,
        "durable_ms_median": round(statistics.median(durable_ms), 3),
        "durable_ms_min": round(min(durable_ms), 3),
        "reference_ms": round(reference_ms, 3),
        "chunks": len(plan.chunks),
        "chunks_keeping_a_session": sum(chunk.keep_state for chunk in plan.chunks),
        "engine_rules": plan.cost.engine_rules,
        "alternatives": plan.cost.alternatives,
    }


def decision(program: Program) -> Callable[[dict[str, Any]], Any]:
    """A served decision and what its record keeps (app/services/offers.py)."""

    def decide(facts: dict[str, Any]) -> Any:
        outcome = evaluate(program, facts, explain=False)
        return outcome.considered_rows(), outcome.fired

    return decide


def bench_ruleset(label: str, document: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter_ns()
    ruleset = parse_ruleset(document)
    parse_ms = (time.perf_counter_ns() - start) / 1e6
    size = len(ruleset.rules)
    big = size >= 300
    out: dict[str, Any] = {"ruleset": label, "rules": size, "parse_ms": round(parse_ms, 3)}
    out["valid"] = not cost_errors(ruleset)
    out["compile"] = compile_times(ruleset, 5 if big else 20)

    raw_facts = sample_facts(ruleset, SAMPLE_FACTS)
    facts = [complete_facts(f) for f in raw_facts]
    plan = plan_ruleset(ruleset)
    gc.collect()
    before = heap_bytes()
    durable = compile_program(ruleset, engine="durable", name=f"bench-{label}")
    evaluate(durable, {})  # its kept sessions come into being
    gc.collect()
    out["memory"] = {
        "estimate_kib": round(plan.memory_bytes / 1024, 1),
        "estimate_engine_kib": round((plan.memory_bytes - plan.python_bytes) / 1024, 1),
        "heap_kib": round((heap_bytes() - before) / 1024, 1),
    }
    reference = compile_program(ruleset, engine="reference")
    try:
        check = facts[:300]
        actions = durable.matcher.actions  # type: ignore[attr-defined]
        durable_sets = [durable.matcher.match(f) for f in check]
        out["actions_per_decision"] = round(
            (durable.matcher.actions - actions) / len(check),  # type: ignore[attr-defined]
            2,
        )
        agree = sum(
            d == reference.matcher.match(f) for d, f in zip(durable_sets, check, strict=True)
        )
        out["agreement"] = {"facts": len(check), "same_matches": agree}
        out["mean_rules_matched"] = round(statistics.fmean(len(s) for s in durable_sets), 2)
        if label == "representative":
            cases = run_cases(durable)
            out["example_cases"] = {"passed": sum(c.passed for c in cases), "total": len(cases)}

        warmup = 200 if big else 1000
        budget = BIG_RULESET_BUDGET_S if big else None
        paths: list[tuple[str, Callable[[Any], Any], Sequence[Any], bool]] = [
            ("durable matcher.match", durable.matcher.match, facts, False),
            ("durable decision", lambda f: evaluate(durable, f, explain=False), raw_facts, True),
            ("durable decision+record", decision(durable), raw_facts, False),
            ("reference matcher.match", reference.matcher.match, facts, False),
            (
                "reference decision",
                lambda f: evaluate(reference, f, explain=False),
                raw_facts,
                False,
            ),
        ]
        out["latency"] = {}
        for name, call, inputs, cpu in paths:
            out["latency"][name] = measure(call, inputs, warmup=warmup, budget_s=budget, cpu=cpu)
    finally:
        durable.close()
        reference.close()
    return out


# ---- 3: durable's Host layer (child) ------------------------------------------------------------


def child_host() -> None:
    from bench.durable_host import host_decider

    ruleset = parse_ruleset(REPRESENTATIVE)
    decide, names = host_decider(ruleset, "bench_host")

    facts = [complete_facts(f) for f in sample_facts(ruleset, SAMPLE_FACTS)]
    host_facts = facts
    wrapper = compile_program(ruleset, name="bench-host-wrapper")
    check = list(zip(host_facts[:300], facts[:300], strict=True))
    agree = sum(decide(h) == wrapper.matcher.match(f) for h, f in check)
    wrapper.close()

    result = measure(decide, host_facts, warmup=1000, budget_s=None)
    threads = threading.active_count()
    before = resource.getrusage(resource.RUSAGE_SELF)
    time.sleep(2.0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    idle_cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    emit(
        {
            "event": "result",
            "host": result,
            "host_rulesets": len(names),
            "agreement": {"facts": len(check), "same_matches": agree},
            "threads_alive": threads,
            "idle_cpu_ms_per_2s": round(idle_cpu_ms, 1),
        }
    )
    time.sleep(3600)  # the parent kills us; Host's timer threads would keep running anyway


# ---- 4: RSS with 1,000 tenants (child) ----------------------------------------------------------


def child_tenants() -> None:
    probe = compile_program(parse_ruleset(tenant_small(0)), name="probe")  # engine's lazy init
    evaluate(probe, {})
    probe.close()
    gc.collect()
    base = rss_kib()
    programs = []
    start = time.perf_counter()
    for i in range(TENANTS):
        programs.append(compile_program(parse_ruleset(tenant_small(i)), name=f"tenant-{i:04d}"))
    compile_s = time.perf_counter() - start
    gc.collect()
    loaded = rss_kib()
    facts = {"service_month": 7, "lead_days": 1, "level_delta": 1, "tier_level": 1}
    for program in programs:
        evaluate(program, facts)
    gc.collect()
    used = rss_kib()
    estimate = sum(program.memory_bytes for program in programs)
    plans = [program.matcher.plan for program in programs]  # type: ignore[attr-defined]
    kept = sum(chunk.keep_state for plan in plans for chunk in plan.chunks)
    for program in programs:
        program.close()
    programs.clear()
    gc.collect()
    closed = rss_kib()
    trimmed = malloc_trim()
    after_trim = rss_kib()
    emit(
        {
            "event": "result",
            "tenants": TENANTS,
            "rules_per_tenant": len(tenant_small(0)["rules"]),
            "compile_s": round(compile_s, 3),
            "rss_kib": {
                "before": base,
                "loaded": loaded,
                "after_one_decision_each": used,
                "after_close": closed,
                "after_close_and_malloc_trim": after_trim,
            },
            "malloc_trim_released": trimmed,
            "estimate_kib": round(estimate / 1024),
            "sessions_kept": kept,
        }
    )


# ---- 5: the worst valid rulesets (child) --------------------------------------------------------

#: How a ruleset can spend the limits (``bench.rulesets.worst_valid``): name, the kind of rule
#: to grow, and whether to fill it up to MAX_RULES with rules without condition.
WORST_SHAPES = (
    ("alternatives", "wide", False),  # all(any 2 x 8): 16 alternatives, 4 parts per rule
    ("alternatives, 1,000 rules", "wide", True),
    ("engine rulesets", "flat", False),  # any of 30: about one engine ruleset per rule
    ("engine rulesets, 1,000 rules", "flat", True),
    ("engine nodes", "chain", False),  # all of 32: the most engine nodes per rule
    ("engine nodes, 1,000 rules", "chain", True),
    ("compared values", "shared", False),  # any of 4 sets of the same 100 values
    ("compared values, 1,000 rules", "shared", True),
)


def _largest_valid(make: Callable[[int], dict[str, Any]], high: int) -> int:
    """The largest n in [0, high] for which ``make(n)`` passes validation (monotone)."""
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if cost_errors(parse_ruleset(make(middle))):
            high = middle - 1
        else:
            low = middle
    return low


def worst_document(kind: str, fill: bool) -> dict[str, Any]:
    def make(count: int, always: int = 0) -> dict[str, Any]:
        return worst_valid(
            wide=count if kind == "wide" else 0,
            flat=count if kind == "flat" else 0,
            chain=count if kind == "chain" else 0,
            always=always,
            shared=count if kind == "shared" else 0,
        )

    count = _largest_valid(make, 200)
    always = _largest_valid(lambda n: make(count, n), MAX_RULES - count) if fill else 0
    return make(count, always)


def child_worst() -> None:
    results = []
    for label, kind, fill in WORST_SHAPES:
        ruleset = parse_ruleset(worst_document(kind, fill))
        assert not cost_errors(ruleset), label
        plan = plan_ruleset(ruleset)
        compile_ms = []
        for i in range(5):
            gc.collect()
            start = time.perf_counter_ns()
            compile_program(ruleset, name=f"worst-{i}").close()
            compile_ms.append((time.perf_counter_ns() - start) / 1e6)
        gc.collect()
        before = heap_bytes()
        start = time.thread_time_ns()
        program = compile_program(ruleset, name="worst")
        compile_cpu_ms = (time.thread_time_ns() - start) / 1e6
        try:
            decide = decision(program)
            actions = program.matcher.actions  # type: ignore[attr-defined]
            decide(WORST_FACTS)
            actions = program.matcher.actions - actions  # type: ignore[attr-defined]
            latency = measure(
                decide, [WORST_FACTS], warmup=200, budget_s=None, cpu=True, calls=WORST_CALLS
            )
            gc.collect()
            kept = heap_bytes() - before
        finally:
            program.close()
        cost = plan.cost
        results.append(
            {
                "shape": label,
                "rules": len(ruleset.rules),
                "alternatives": cost.alternatives,
                "engine_rules": cost.engine_rules,
                "compared_values": cost.tests,
                "chunks": len(plan.chunks),
                "sessions_kept": sum(chunk.keep_state for chunk in plan.chunks),
                "estimate_ruleset_kib": round(plan.ruleset_bytes / 1024, 1),
                "estimate_kib": round(plan.memory_bytes / 1024, 1),
                "compile_ms_median": round(statistics.median(compile_ms), 2),
                "compile_cpu_ms": round(compile_cpu_ms, 2),
                "actions_per_decision": actions,
                "decision": latency,
                "memory_kib": round(kept / 1024, 1),
            }
        )
    emit({"event": "result", "worst": results})


# ---- 6: soak (child) ----------------------------------------------------------------------------


def child_soak() -> None:
    start_rss = rss_kib()
    ruleset = parse_ruleset(REPRESENTATIVE)
    program = compile_program(ruleset, name="bench-soak")
    facts = [complete_facts(f) for f in sample_facts(ruleset, SAMPLE_FACTS)]
    match = program.matcher.match
    for f in facts:
        match(f)
    gc.collect()
    emit({"event": "rss", "done": 0, "rss_kib": rss_kib(), "note": "after compile + 1,000 calls"})
    size = len(facts)
    done = 0
    begin = time.perf_counter()
    matched = 0
    while done < SOAK_CALLS:
        t0 = time.perf_counter()
        for i in range(SOAK_EVERY):
            matched += len(match(facts[i % size]))
        done += SOAK_EVERY
        block_s = time.perf_counter() - t0
        emit(
            {
                "event": "rss",
                "done": done,
                "rss_kib": rss_kib(),
                "per_s": round(SOAK_EVERY / block_s, 1),
            }
        )
    total_s = time.perf_counter() - begin
    program.close()
    gc.collect()
    emit(
        {
            "event": "result",
            "calls": done,
            "seconds": round(total_s, 2),
            "per_s": round(done / total_s, 1),
            "rules_matched_total": matched,
            "rss_kib_before_compile": start_rss,
            "rss_kib_after_close": rss_kib(),
        }
    )


# ---- report -------------------------------------------------------------------------------------


def header() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "durable_rules": importlib.metadata.version("durable_rules"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def mib(kib: float) -> str:
    return f"{kib / 1024:,.1f}"


def print_latency(results: list[dict[str, Any]]) -> None:
    print("\n1. Latency per decision (µs; decisions/s = calls / sum of per-call times)")
    print(
        f"  {'ruleset':<15}{'rules':>6}{'chunks':>7}  {'path':<25}{'calls':>8}"
        f"{'dec/s':>10}{'p50':>9}{'p99':>9}{'mean':>9}{'cpu p50':>9}"
    )
    for r in results:
        for name, m in r["latency"].items():
            calls = f"{m['calls']:,}" + ("*" if m["reduced"] else "")
            cpu = f"{m['cpu_p50_us']:>9.1f}" if "cpu_p50_us" in m else ""
            print(
                f"  {r['ruleset']:<15}{r['rules']:>6}{r['compile']['chunks']:>7}  {name:<25}"
                f"{calls:>8}{m['per_s']:>10,.0f}{m['p50_us']:>9.1f}{m['p99_us']:>9.1f}"
                f"{m['mean_us']:>9.1f}{cpu}"
            )
    if any(m["reduced"] for r in results for m in r["latency"].values()):
        print(
            f"  * fewer than {CALLS:,} calls: the 300-rule ruleset gets ~{BIG_RULESET_BUDGET_S:.0f} s"
            f" per measurement (at least {MIN_CALLS:,} calls)"
        )
    print(
        "  decision = evaluate(explain=False), what serving asks; +record = with the"
        " [id, matched, fired] rows and fired ids a decision record keeps"
    )
    for r in results:
        a = r["agreement"]
        extra = ""
        if "example_cases" in r:
            extra = (
                f"; example cases {r['example_cases']['passed']}/{r['example_cases']['total']} pass"
            )
        print(
            f"  {r['ruleset']}: durable == reference on {a['same_matches']}/{a['facts']} fact sets"
            f"; {r['mean_rules_matched']} rules match, {r['actions_per_decision']} engine actions"
            f" per decision on average{extra}"
        )


def print_compile(results: list[dict[str, Any]]) -> None:
    print("\n2. Compile time (ms) and memory (KiB: rules.plan's estimate, and the C heap measured)")
    print(
        f"  {'ruleset':<15}{'rules':>6}{'parts':>6}{'chunks':>7}{'kept':>5}{'parse':>8}"
        f"{'durable med':>12}{'reference':>10}{'est. KiB':>10}{'engine est.':>12}{'heap KiB':>10}"
        f"{'valid':>7}"
    )
    for r in results:
        c, m = r["compile"], r["memory"]
        print(
            f"  {r['ruleset']:<15}{r['rules']:>6}{c['engine_rules']:>6}{c['chunks']:>7}"
            f"{c['chunks_keeping_a_session']:>5}{r['parse_ms']:>8.2f}{c['durable_ms_median']:>12.2f}"
            f"{c['reference_ms']:>10.2f}{m['estimate_kib']:>10,.0f}{m['estimate_engine_kib']:>12,.0f}"
            f"{m['heap_kib']:>10,.0f}{'yes' if r['valid'] else 'NO':>7}"
        )
    print(
        "  kept: engine rulesets keeping their session between decisions; heap: compile and a"
        " first decision (the engine; Python's small objects are not in malloc's count)"
    )


def print_host(host: dict[str, Any], wrapper: dict[str, Any]) -> dict[str, Any]:
    print("\n3. durable-rules Host layer (durable.lang, 1 thread, child process) vs our wrapper")
    if "error" in host:
        print(f"  Host child failed: {host['error']}")
        return {}
    h = host["host"]
    match, full = wrapper["durable matcher.match"], wrapper["durable decision"]
    ratios = {
        "host_p50_over_wrapper_match_p50": round(h["p50_us"] / match["p50_us"], 2),
        "host_p50_over_wrapper_evaluate_p50": round(h["p50_us"] / full["p50_us"], 2),
    }
    print(f"  {'path':<42}{'calls':>8}{'dec/s':>10}{'p50':>9}{'p99':>9}")
    for name, m in (
        ("Host assert_fact + retract_fact", h),
        ("wrapper matcher.match", match),
        ("wrapper decision (match + resolve)", full),
    ):
        print(
            f"  {name:<42}{m['calls']:>8,}{m['per_s']:>10,.0f}{m['p50_us']:>9.1f}{m['p99_us']:>9.1f}"
        )
    a = host["agreement"]
    verdict = "met" if ratios["host_p50_over_wrapper_match_p50"] >= 5 else "NOT met"
    print(
        f"  ratio Host/wrapper p50: matcher {ratios['host_p50_over_wrapper_match_p50']:.1f}x, "
        f"decision {ratios['host_p50_over_wrapper_evaluate_p50']:.1f}x "
        f"(target: wrapper >= 5x faster -> {verdict} for the matcher)"
    )
    print(
        f"  Host matched the same rules as the wrapper on {a['same_matches']}/{a['facts']} fact sets;"
        f" {host['host_rulesets']} Host ruleset(s); {host['threads_alive']} threads alive;"
        f" idle CPU {host['idle_cpu_ms_per_2s']} ms per 2 s; child killed "
        f"(return code {host['child_returncode']})"
    )
    return ratios


def print_tenants(t: dict[str, Any]) -> None:
    print(f"\n4. RSS with {TENANTS:,} tenants' rulesets loaded (child process)")
    if "error" in t:
        print(f"  tenants child failed: {t['error']}")
        return
    r = t["rss_kib"]
    base = r["before"]
    print(
        f"  {t['rules_per_tenant']} rules per tenant; {t['tenants']:,} compiled in {t['compile_s']:.2f} s"
    )
    rows = [
        ("before", r["before"]),
        ("all compiled", r["loaded"]),
        ("after one decision each", r["after_one_decision_each"]),
        ("after close()", r["after_close"]),
        ("after close() + malloc_trim(0)", r["after_close_and_malloc_trim"]),
    ]
    print(f"  {'stage':<34}{'RSS MiB':>10}{'+MiB':>10}{'per tenant KiB':>16}")
    for name, kib in rows:
        print(
            f"  {name:<34}{mib(kib):>10}{mib(kib - base):>10}{(kib - base) / t['tenants']:>16,.1f}"
        )
    print(
        "  (close() frees the engine's memory, but glibc keeps it for reuse: GLIBC_TUNABLES sets"
        " trim_threshold to 256 MiB;\n   malloc_trim(0) shows what is really still allocated)"
    )
    print(
        f"  rules.plan's estimate for the {t['tenants']:,} programs: {mib(t['estimate_kib'])} MiB"
        f" (what the program cache counts); engine sessions kept: {t['sessions_kept']}"
        " (a chunk of fewer than 8 parts makes one per decision)"
    )


def print_worst(worst: dict[str, Any]) -> dict[str, Any]:
    print(
        "\n5. The worst valid rulesets (child process): the largest validation accepts for each way"
        " of spending the limits,\n   every comparison matching (bench.rulesets.worst_valid,"
        " WORST_FACTS); decision = evaluate + record"
    )
    if "error" in worst:
        print(f"  worst child failed: {worst['error']}")
        return {}
    print(
        f"  {'spends':<30}{'rules':>6}{'alts':>6}{'parts':>6}{'values':>7}{'chunks':>7}"
        f"{'kept':>5}{'compile ms':>11}{'p50 µs':>8}{'p99 µs':>8}{'cpu p50':>8}{'actions':>8}"
        f"{'est. KiB':>9}{'heap KiB':>9}"
    )
    for w in worst["worst"]:
        d = w["decision"]
        print(
            f"  {w['shape']:<30}{w['rules']:>6}{w['alternatives']:>6}{w['engine_rules']:>6}"
            f"{w['compared_values']:>7}{w['chunks']:>7}{w['sessions_kept']:>5}"
            f"{w['compile_ms_median']:>11.1f}{d['p50_us']:>8.0f}{d['p99_us']:>8.0f}"
            f"{d['cpu_p50_us']:>8.0f}{w['actions_per_decision']:>8}{w['estimate_kib']:>9,.0f}"
            f"{w['memory_kib']:>9,.0f}"
        )
    rows = worst["worst"]
    summary = {
        "compile_ms": max(w["compile_ms_median"] for w in rows),
        "decision_p50_us": max(w["decision"]["p50_us"] for w in rows),
        "decision_cpu_p50_us": max(w["decision"]["cpu_p50_us"] for w in rows),
        "memory_kib": max(w["memory_kib"] for w in rows),
        "alternatives": max(w["alternatives"] for w in rows),
        "estimate_ruleset_kib": max(w["estimate_ruleset_kib"] for w in rows),
    }
    print(
        f"  limits: {MAX_RULESET_ALTERNATIVES} alternatives and {MAX_RULESET_BYTES // 1024:,} KiB"
        f" compiled per ruleset (sessions kept within {PROGRAM_BYTES_CEILING // 1024:,} KiB);"
        " heap: compiled, sessions kept, after the decisions"
    )
    print(
        f"  worst of them: compile {summary['compile_ms']:.1f} ms (ceiling {CEILING_COMPILE_MS:.0f}),"
        f" decision p50 {summary['decision_p50_us']:.0f} µs wall / "
        f"{summary['decision_cpu_p50_us']:.0f} µs CPU (ceiling {CEILING_DECISION_US:.0f}),"
        f" memory {summary['memory_kib'] / 1024:.2f} MiB (ceiling {CEILING_MEMORY / 2**20:.0f})"
    )
    return summary


def print_targets(
    results: list[dict[str, Any]], tenants: dict[str, Any], worst: dict[str, Any]
) -> dict[str, Any]:
    """Issue 15's figures, beside its targets and what the code before it measured."""
    mixed = next(r for r in results if r["ruleset"] == "generated-100")["latency"]
    tenants_mib = (
        (tenants["rss_kib"]["after_one_decision_each"] - tenants["rss_kib"]["before"]) / 1024
        if "rss_kib" in tenants
        else float("nan")
    )
    figures = {
        "mixed_100_decision_p50_us": mixed["durable decision"]["p50_us"],
        "mixed_100_decision_cpu_p50_us": mixed["durable decision"]["cpu_p50_us"],
        "tenants_1000_mib": round(tenants_mib, 1),
        "worst": worst,
    }
    print("\nIssue 15: targets (before: the figures of the code before it, docs/benchmarks.md)")
    print(
        f"  100 mixed range rules (generated-100), p50 per decision: "
        f"{figures['mixed_100_decision_p50_us']:.1f} µs wall, "
        f"{figures['mixed_100_decision_cpu_p50_us']:.1f} µs CPU"
        f" (target <= {TARGET_MIXED_100_US:.0f}; before {BEFORE_MIXED_100_US:.0f})"
    )
    print(
        f"  1,000 active tenants, per worker: +{tenants_mib:.0f} MiB"
        f" (target <= {TARGET_TENANTS_MIB:.0f}; before ~{BEFORE_TENANTS_MIB:.0f})"
    )
    if worst:
        print(
            f"  worst valid ruleset: compile {worst['compile_ms']:.1f} ms"
            f" (<= {CEILING_COMPILE_MS:.0f}), p50 decision {worst['decision_p50_us']:.0f} µs"
            f" (<= {CEILING_DECISION_US:.0f}), {worst['memory_kib'] / 1024:.2f} MiB"
            f" (<= {CEILING_MEMORY / 2**20:.0f}); limits {MAX_RULESET_ALTERNATIVES} alternatives,"
            f" {MAX_RULESET_BYTES // 1024:,} KiB"
        )
    return figures


def print_soak(points: list[dict[str, Any]], soak: dict[str, Any]) -> None:
    print(f"\n6. Soak: {SOAK_CALLS:,} durable matcher.match calls, representative ruleset (child)")
    if "error" in soak:
        print(f"  soak child failed: {soak['error']}")
    if not points:
        return
    print(f"  RSS before compile: {mib(soak.get('rss_kib_before_compile', 0))} MiB")
    print(f"  {'calls done':>12}{'RSS MiB':>10}{'Δ from start KiB':>18}{'dec/s (block)':>15}")
    start = points[0]["rss_kib"]
    for p in points:
        rate = f"{p['per_s']:,.0f}" if "per_s" in p else "-"
        print(f"  {p['done']:>12,}{mib(p['rss_kib']):>10}{p['rss_kib'] - start:>18,}{rate:>15}")
    if "calls" in soak:
        growth = points[-1]["rss_kib"] - points[1]["rss_kib"] if len(points) > 1 else 0
        print(
            f"  {soak['calls']:,} calls in {soak['seconds']:.1f} s ({soak['per_s']:,.0f}/s); "
            f"RSS growth from {SOAK_EVERY:,} to {SOAK_CALLS:,} calls: {growth:,} KiB; "
            f"after close: {mib(soak['rss_kib_after_close'])} MiB"
        )


def main() -> None:
    began = time.perf_counter()
    meta = header()
    print("tierwise rules benchmark")
    for key in ("date", "python", "platform", "cpu_count", "cpus_usable", "cpu_model"):
        print(f"  {key:<15}{meta[key]}")
    print(f"  {'durable_rules':<15}{meta['durable_rules']}")
    print(f"  {'GLIBC_TUNABLES':<15}{meta['glibc_tunables'] or '(unset)'}")
    print(f"  {'load average':<15}{meta['loadavg_at_start']} (other processes add noise)")

    results = []
    for label, document in rulesets_under_test():
        print(f"  ... {label}", flush=True)
        results.append(bench_ruleset(label, document))
    print_latency(results)
    print_compile(results)

    print("\n  ... Host child", flush=True)
    host = run_child("host", 120, lambda record: None, kill_after=True)
    ratios = print_host(host, results[0]["latency"])

    print("\n  ... tenants child", flush=True)
    tenants = run_child("tenants", 180, lambda record: None, kill_after=False)
    print_tenants(tenants)

    print("\n  ... worst rulesets child", flush=True)
    worst = run_child("worst", 300, lambda record: None, kill_after=False)
    worst_summary = print_worst(worst)

    print("\n  ... soak child (RSS lines as they come)", flush=True)
    points: list[dict[str, Any]] = []

    def on_soak(record: dict[str, Any]) -> None:
        points.append(record)
        print(f"    {record['done']:>9,} calls  RSS {mib(record['rss_kib'])} MiB", flush=True)

    soak = run_child("soak", 300, on_soak, kill_after=False)
    print_soak(points, soak)

    targets = print_targets(results, tenants, worst_summary)

    elapsed = time.perf_counter() - began
    meta["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"\nTotal {elapsed:.0f} s; load average at the end {meta['loadavg_at_end']}."
        f" JSON: {RESULTS.relative_to(ROOT)}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "meta": meta,
        "settings": {
            "calls_per_measurement": CALLS,
            "big_ruleset_budget_s": BIG_RULESET_BUDGET_S,
            "min_calls": MIN_CALLS,
            "sample_facts": SAMPLE_FACTS,
        },
        "rulesets": results,
        "host": {**host, "ratios": ratios},
        "tenants": tenants,
        "worst": worst,
        "targets": targets,
        "soak": {**soak, "points": points},
        "elapsed_s": round(elapsed, 1),
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


def entry(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--child", choices=("host", "tenants", "worst", "soak"))
    args = parser.parse_args(argv)
    ensure_steady_malloc()  # glibc reads its tunables at start-up only
    if args.child == "host":
        child_host()
    elif args.child == "tenants":
        child_tenants()
    elif args.child == "worst":
        child_worst()
    elif args.child == "soak":
        child_soak()
    else:
        main()


if __name__ == "__main__":
    entry()
