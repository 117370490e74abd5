"""Storefront requests against the framework's floor (issue 22): prints numbers, asserts nothing.

One ``tierwise serve --workers 2 --threads 1`` (PostgreSQL + Redis), ``wrk -t2 -c8``, three
rounds; in each round every route runs once (``/healthz``, the segments list, offers with their
decision records written, quotes, checkouts), so a slow minute of the shared VM hits every route
of that round alike. Each route's throughput is printed as a ratio of ``/healthz`` in the same
round (median of the rounds), beside the targets: segments ≥ 0.6, offers ≥ 0.5, offers p99 ≤
10 ms. Run: ``make bench`` or ``.venv/bin/python -m bench.storefront_bench``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.offers_bench import ENV, PG_URL, fresh_database, header, python_loop, seed
from bench.storefront_load import ROUTES, Routes, Server

ROUNDS, SECONDS, CONNECTIONS = 3, 10, 8
RESULTS = Path("var/bench/storefront.json")
#: Target ratios of /healthz's throughput, and the offers p99 (ms).
TARGETS = {"segments": 0.6, "offers": 0.5}
OFFERS_P99_MS = 10.0


def run_rounds(routes: Routes, rounds: int, seconds: int) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {route: [] for route in ROUTES}
    for number in range(rounds):
        order = ROUTES if number % 2 == 0 else ROUTES[::-1]
        for route in order:
            runs[route].append(routes.measure(route, seconds, CONNECTIONS))
        print(f"  round {number + 1}/{rounds} done", flush=True)
    return runs


def table(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """A row per route: medians, and the ratio to /healthz of the same round."""
    floor = [r["requests_per_s"] for r in runs["healthz"]]
    rows = []
    for route in ROUTES:
        got = runs[route]
        ratios = [r["requests_per_s"] / f for r, f in zip(got, floor, strict=True)]
        rows.append(
            {
                "route": route,
                "requests_per_s": statistics.median(r["requests_per_s"] for r in got),
                "range": (
                    min(r["requests_per_s"] for r in got),
                    max(r["requests_per_s"] for r in got),
                ),
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                "p50_ms": statistics.median(r["p50_ms"] for r in got),
                "p99_ms": statistics.median(r["p99_ms"] for r in got),
                "non_2xx": sum(r["non_2xx"] for r in got),
                "server_cpu_ms": statistics.median(r["server_cpu_ms"] for r in got),
                "postgres_cpu_ms": statistics.median(r["postgres_cpu_ms"] for r in got),
                "runs": got,
            }
        )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"  {'route':<10} {'req/s':>6} {'(range)':>12} {'× healthz':>9} {'(per round)':>20}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8} {'server CPU ms/req':>18} {'PostgreSQL':>11}"
    )
    for r in rows:
        spread = f"({r['range'][0]:.0f}-{r['range'][1]:.0f})"
        each = "/".join(f"{x:.2f}" for x in r["ratios"])
        print(
            f"  {r['route']:<10} {r['requests_per_s']:>6.0f} {spread:>12} {r['ratio']:>9.2f}"
            f" {each:>20} {r['p50_ms']:>7} {r['p99_ms']:>7} {r['non_2xx']:>8}"
            f" {r['server_cpu_ms']:>18} {r['postgres_cpu_ms']:>11}"
        )
    by = {r["route"]: r for r in rows}
    for route, target in TARGETS.items():
        print(f"  {route} / healthz: {by[route]['ratio']:.2f} (target ≥ {target})")
    print(f"  offers p99: {by['offers']['p99_ms']} ms (target ≤ {OFFERS_P99_MS})")


def main() -> int:
    info = header("tierwise storefront routes against /healthz")
    fresh_database()
    key, _ = seed()
    print(
        f"\nStorefront routes: wrk -t2 -c{CONNECTIONS}, {ROUNDS} rounds of {SECONDS} s per route,"
        " routes interleaved, one `tierwise serve --workers 2 --threads 1` (PostgreSQL + Redis)"
    )
    server = Server(sys.executable, None, {**os.environ, **ENV, "RULES_ENGINE": "durable"})
    try:
        runs = run_rounds(Routes(server, key, PG_URL), ROUNDS, SECONDS)
    finally:
        server.stop()
    rows = table(runs)
    print_table(rows)
    info["python_loop_s_after"] = python_loop()
    print(
        f"\n  python_loop_s before / after: {info['python_loop_s']} / {info['python_loop_s_after']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": info, "routes": rows}, indent=2))
    print(f"\nJSON: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
