"""Offers before and after a change, in one run on one machine: prints numbers, asserts nothing.

Two checkouts of tierwise (``--before DIR`` and ``--after DIR``, each with its own ``.venv``; ``make
bench-compare BEFORE=<rev>`` makes the first from a git revision) are measured turn about:

1. in-process, one 3-tier offer with its decisions written (each tree's own
   ``bench.offers_bench.in_process``, p50 and mean of 2,000 calls), and
2. HTTP load, ``wrk`` on every storefront route (``bench/storefront_load.py``: ``/healthz``,
   segments, offers, quotes, checkouts) against each tree's ``tierwise serve --workers 2
   --threads 1`` on its own PostgreSQL database (both on the same server, Redis db 13 flushed
   between runs), each route also as a ratio of ``/healthz`` on the same server,

``ROUNDS`` rounds, the two trees interleaved in every round so that a slow minute of a shared VM
hits both alike; medians and the after/before ratio are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import psycopg

from bench.offers_bench import python_loop
from bench.storefront_load import ROUTES, Routes, Server

ROUNDS, SECONDS, CONNECTIONS = 3, 8, 8
REDIS_URL = "redis://127.0.0.1:6379/13"
SECRETS = {
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "API_KEY_PEPPER": "bench-pepper-" + "y" * 40,
    "QUOTE_SECRET": "bench-quote-" + "z" * 40,
    "PAYMENTS_BACKEND": "local",
    "STRIPE_WEBHOOK_SECRET": "bench-webhook-" + "w" * 40,
    "LOG_LEVEL": "WARNING",
    "RULES_ENGINE": "durable",
    # counted, never reached (the default, 60000/minute, is: offers, segments and quotes of one
    # key pass 1,000 per second)
    "RATE_LIMIT_STOREFRONT": "1000000/minute",
}

IN_PROCESS = """
import json, sys
import bench.offers_bench as b
b.ENV.update(DATABASE_URL=sys.argv[1], REDIS_URL=sys.argv[2])
from rules.durable_binding import ensure_steady_malloc
ensure_steady_malloc()
print(json.dumps(b.in_process("durable", True)))
"""


class Tree:
    def __init__(self, name: str, root: Path) -> None:
        self.name, self.root = name, root.resolve()
        self.python = str(self.root / ".venv" / "bin" / "python")
        self.database = f"tierwise_bench_{name}"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}"
        self.env = {
            **os.environ,
            **SECRETS,
            "DATABASE_URL": self.url,
            "REDIS_URL": REDIS_URL,
            "PYTHONPATH": str(self.root),
        }

    def seed(self) -> str:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{self.database}"')
        out = self.run("-m", "app.cli", "demo")
        line = next(x for x in out.splitlines() if "storefront API key:" in x)
        return line.split("storefront API key:", 1)[1].split()[0]

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.python, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            sys.exit(f"{self.name}: {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def in_process(self) -> dict:
        out = self.run("-c", IN_PROCESS, self.url, REDIS_URL)
        return dict(json.loads(out.strip().splitlines()[-1]))

    def http(self, key: str) -> dict[str, dict]:
        """Every storefront route (``bench.storefront_load.ROUTES``) on one server of this tree."""
        flush_redis()
        vacuum(self.database)
        server = Server(self.python, self.root, self.env)
        try:
            routes = Routes(server, key, self.url)
            return {route: routes.measure(route, SECONDS, CONNECTIONS) for route in ROUTES}
        finally:
            server.stop()


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def vacuum(database: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path("."))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    trees = [Tree("before", args.before), Tree("after", args.after)]
    print("tierwise offers, before and after, interleaved")
    for tree in trees:
        rev = subprocess.run(
            ["git", "-C", str(tree.root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        print(f"  {tree.name:<7} {tree.root} ({rev or 'not a git checkout'})")
    print(f"  cpus {os.cpu_count()}, load {os.getloadavg()}, python_loop_s {python_loop()}")
    keys = {tree.name: tree.seed() for tree in trees}
    rows: dict[str, dict[str, list[float]]] = {t.name: {} for t in trees}

    def keep(name: str, prefix: str, figures: dict) -> None:
        for figure, value in figures.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                rows[name].setdefault(prefix + figure, []).append(float(value))

    for number in range(1, args.rounds + 1):
        order = trees if number % 2 else trees[::-1]  # who goes first alternates
        for tree in order:
            keep(tree.name, "in_process_", tree.in_process())
            for route, figures in tree.http(keys[tree.name]).items():
                keep(tree.name, f"{route}_", figures)
        print(f"  round {number}/{args.rounds} done", flush=True)

    figures = [
        ("in_process_p50_ms", "in-process offer p50 ms", "{:.3f}"),
        ("in_process_mean_ms", "in-process offer mean ms", "{:.3f}"),
    ]
    for route in ROUTES:
        figures += [
            (f"{route}_requests_per_s", f"{route} req/s", "{:.0f}"),
            (f"{route}_p99_ms", f"{route} p99 ms", "{:.2f}"),
            (f"{route}_server_cpu_ms", f"{route} server CPU ms/req", "{:.3f}"),
        ]
    print(
        f"\n  {'median of ' + str(args.rounds) + ' rounds':<30} {'before':>10} {'after':>10} ratio"
    )
    for figure, label, fmt in figures:
        values = [statistics.median(rows[t.name][figure]) for t in trees]
        before, after = values
        print(
            f"  {label:<30} {fmt.format(before):>10} {fmt.format(after):>10} {after / before:.3f}"
        )
    print("\n  throughput as a ratio of /healthz in the same round (median of the rounds):")
    print(f"  {'route':<12} {'before':>8} {'after':>8}")
    for route in ROUTES[1:]:
        ratios = []
        for tree in trees:
            got, floor = (
                rows[tree.name][f"{route}_requests_per_s"],
                rows[tree.name]["healthz_requests_per_s"],
            )
            ratios.append(statistics.median(g / f for g, f in zip(got, floor, strict=True)))
        print(f"  {route:<12} {ratios[0]:>8.2f} {ratios[1]:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
