"""Offers benchmark: prints numbers, asserts nothing.

1. In-process time of one 3-tier offer (all tiers priced by the rules, upsell, decisions written),
   with the durable engine and with the reference evaluator, and without writing decisions
   (to show what the decision log costs).
2. HTTP load with ``wrk`` on ``tierwise serve --workers 2`` against PostgreSQL and Redis, for the
   durable engine and for the reference evaluator (printed as a ratio) and without the decision
   log: three interleaved rounds of 10 s per row, medians printed (a shared VM's speed drifts
   by a fifth from one minute to the next; interleaving spreads that over every row).

Needs PostgreSQL and Redis on their standard local ports and ``wrk`` (Debian package ``wrk``).
Run: ``make bench`` or ``.venv/bin/python -m bench.offers_bench``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

BENCH_DB = "tierwise_bench"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_URL = "redis://127.0.0.1:6379/13"
ENV = {
    "DATABASE_URL": PG_URL,
    "REDIS_URL": REDIS_URL,
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "API_KEY_PEPPER": "bench-pepper-" + "y" * 40,
    "QUOTE_SECRET": "bench-quote-" + "z" * 40,
    "PAYMENTS_BACKEND": "local",  # offers never reach the payment provider
    "STRIPE_WEBHOOK_SECRET": "bench-webhook-" + "w" * 40,
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_STOREFRONT": "1000000/minute",  # one key at ~1,000 req/s: counted, never reached
}
RESULTS = Path("var/bench/offers.json")


def header(title: str = "tierwise offers benchmark") -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    info = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average": os.getloadavg(),
        "python_loop_s": python_loop(),
    }
    print(title)
    for key, value in info.items():
        print(f"  {key:<13} {value}")
    return info


def python_loop() -> float:
    """CPU seconds of a fixed pure-Python loop: how fast this (shared) machine runs right now. It
    drifts by a fifth within an hour here; printed before and after so a run can be compared."""
    started = time.process_time()
    total = 0
    for i in range(5_000_000):
        total += i % 7
    return round(time.process_time() - started, 3)


def fresh_database() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def seed() -> tuple[str, str]:
    """Migrate, seed the demo tenant; return (storefront key, tenant id)."""
    env = {**os.environ, **ENV}
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = re.search(r"storefront API key:\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    tenant = re.search(r"demo tenant:\s+\S+ \(([^)]+)\)", out).group(1)  # type: ignore[union-attr]
    return key, tenant


def service_date() -> dt.date:
    """A weekday two days ahead (last-minute discount applies, no weekend uplift)."""
    day = dt.date.today() + dt.timedelta(days=2)
    while day.isoweekday() >= 6:
        day += dt.timedelta(days=1)
    return day


def in_process(engine: str, write_decisions: bool, calls: int = 2000) -> dict:
    from app import create_app
    from app.services import offers as offers_module
    from app.services import tenants
    from config import Settings

    settings = Settings.from_env({**ENV, "RULES_ENGINE": engine})
    app = create_app(settings)
    svc = app.extensions["tierwise"]
    tenant = tenants.get_tenant(svc.db, "demo")
    selection = offers_module.Selection("premium", service_date(), 2, ("breakfast",))
    original = offers_module.add_decisions
    if not write_decisions:
        offers_module.add_decisions = lambda session, records: None  # measure the log's cost only
    try:
        now = dt.datetime.now(dt.UTC)
        for _ in range(200):
            offers_module.quote_offers(svc.offers, tenant, selection, now, "bench")
        times = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            offers_module.quote_offers(svc.offers, tenant, selection, now, "bench")
            times.append((time.perf_counter_ns() - started) / 1e6)
    finally:
        offers_module.add_decisions = original
        svc.db.dispose()
    times.sort()
    return {
        "engine": engine,
        "decisions_written": write_decisions,
        "calls": calls,
        "p50_ms": round(times[len(times) // 2], 3),
        "p99_ms": round(times[int(len(times) * 0.99)], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def settle() -> None:
    """VACUUM ANALYZE what the in-process runs wrote, so that no autovacuum of thousands of fresh
    decision rows lands in the middle of one HTTP run and not the others."""
    url = f"postgresql://postgres@127.0.0.1:5432/{BENCH_DB}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server's processes (gunicorn master and workers) and by
    PostgreSQL's (every backend and helper), from /proc: each process's own time and its reaped
    children's (a gunicorn worker recycled after ``max_requests``, a PostgreSQL backend whose
    connection closed), so a process ending between two readings takes no time away."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        pid, ppid, seconds = (
            int(entry.name),
            int(fields[1]),
            sum(int(f) for f in fields[11:15]) / ticks,  # utime, stime, cutime, cstime
        )
        if pid == server_pid or ppid == server_pid:
            used["server"] += seconds
        elif name.startswith("postgres"):
            used["postgres"] += seconds
    return used


def http_load(
    engine: str, key: str, seconds: int, connections: int, *, decision_log: bool = True
) -> dict:
    port = free_port()
    env = {**os.environ, **ENV, "RULES_ENGINE": engine}
    entry = "app.cli" if decision_log else "bench.serve_without_log"
    command = [sys.executable, "-m", entry, "serve", "--port", str(port)]
    command += ["--workers", "2", "--threads", "1"]
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/v1/storefront/segments/premium/offers?date={service_date()}&guests=2&add_ons=breakfast"
    try:
        for _ in range(100):
            try:
                request = urllib.request.Request(url, headers={"X-Api-Key": key})
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - localhost
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        warm = ["wrk", "-t2", f"-c{connections}", "-d3s", "-H", f"X-Api-Key: {key}", url]
        subprocess.run(warm, capture_output=True, check=True)
        command = [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"X-Api-Key: {key}",
            url,
        ]
        before = _cpu_seconds(server.pid)
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        after = _cpu_seconds(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    result = {
        "engine": engine,
        "decision_log": decision_log,
        "connections": connections,
        "seconds": seconds,
        **parse_wrk(output),
    }
    served = result["requests_per_s"] * seconds
    for group in ("server", "postgres"):  # CPU per request: steadier than req/s on a noisy VM
        result[f"{group}_cpu_ms"] = round((after[group] - before[group]) * 1000 / served, 2)
    return result


#: The HTTP rows: (engine, decisions written).
HTTP_CONFIGS = (("durable", True), ("reference", True), ("durable", False))
ROUNDS, SECONDS, CONNECTIONS = 3, 10, 8


def summary(engine: str, decision_log: bool, runs: list[dict]) -> dict:
    """One row of several runs: the median of each figure, the range of req/s, every run kept."""

    def median(name: str) -> float:
        return round(statistics.median(r[name] for r in runs), 2)

    rates = [r["requests_per_s"] for r in runs]
    return {
        "engine": engine,
        "decision_log": decision_log,
        "runs": runs,
        "requests_per_s": statistics.median(rates),
        "requests_per_s_min": min(rates),
        "requests_per_s_max": max(rates),
        "p50_ms": median("p50_ms"),
        "p90_ms": median("p90_ms"),
        "p99_ms": median("p99_ms"),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "server_cpu_ms": median("server_cpu_ms"),
        "postgres_cpu_ms": median("postgres_cpu_ms"),
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(output: str) -> dict:
    result: dict = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    }  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)
        result[f"p{pct}_ms"] = round(_ms(found.group(1)), 2) if found else None
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    return result


def main() -> int:
    info = header()
    fresh_database()
    key, _ = seed()
    print("\n1. In-process, one offer of 3 tiers (premium, 2 guests, 1 add-on, 2 days ahead)")
    rows = [
        in_process("durable", True),
        in_process("reference", True),
        in_process("durable", False),
    ]
    print(
        f"  {'engine':<10} {'decisions':<10} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}"
    )
    for r in rows:
        print(
            f"  {r['engine']:<10} {('written' if r['decisions_written'] else 'skipped'):<10} {r['calls']:>6} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['mean_ms']:>8}"
        )
    log_cost = rows[0]["mean_ms"] / rows[2]["mean_ms"]
    print(
        f"  single-request latency without the log / with it: {1 / log_cost:.2f}"
        " (one thread: waits on PostgreSQL count in full; throughput is measured in 2.)"
    )

    http: list[dict] = []
    if shutil.which("wrk") is None:
        print("\n2. HTTP load: skipped, wrk is not installed (apt-get install wrk)")
    else:
        print(
            f"\n2. HTTP load: wrk -t2 -c{CONNECTIONS}, {ROUNDS} rounds of {SECONDS} s per row, rows"
            " interleaved (medians; req/s range in brackets), against"
            " `tierwise serve --workers 2 --threads 1` (PostgreSQL + Redis)"
        )
        runs: dict[tuple[str, bool], list[dict]] = {config: [] for config in HTTP_CONFIGS}
        for _ in range(ROUNDS):  # interleaved: a slow minute of the VM hits every row alike
            for engine, log in HTTP_CONFIGS:
                settle()
                runs[(engine, log)].append(
                    http_load(engine, key, SECONDS, CONNECTIONS, decision_log=log)
                )
        http = [summary(engine, log, runs[(engine, log)]) for engine, log in HTTP_CONFIGS]
        print(
            f"  {'engine':<10} {'decisions':<10} {'req/s':>6} {'(range)':>12} {'p50 ms':>7} {'p90 ms':>7}"
            f" {'p99 ms':>7} {'non-2xx':>8} {'server CPU ms/req':>18} {'PostgreSQL CPU ms/req':>22}"
        )
        for r in http:
            log = "written" if r["decision_log"] else "skipped"
            spread = f"({r['requests_per_s_min']:.0f}-{r['requests_per_s_max']:.0f})"
            print(
                f"  {r['engine']:<10} {log:<10} {r['requests_per_s']:>6.0f} {spread:>12} {r['p50_ms']:>7}"
                f" {r['p90_ms']:>7} {r['p99_ms']:>7} {r['non_2xx']:>8} {r['server_cpu_ms']:>18}"
                f" {r['postgres_cpu_ms']:>22}"
            )
        ratio = http[0]["requests_per_s"] / http[1]["requests_per_s"]
        print(
            f"  durable / reference throughput: {ratio:.2f} (target ≥ 0.8); targets: ≥ 1,000 req/s, p99 ≤ 25 ms"
        )
        kept = http[0]["requests_per_s"] / http[2]["requests_per_s"]
        print(f"  throughput with the decision log / without: {kept:.2f} (must not halve it)")
    info["python_loop_s_after"] = python_loop()
    print(
        f"\n  python_loop_s before / after: {info['python_loop_s']} / {info['python_loop_s_after']}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": info, "in_process": rows, "http": http}, indent=2))
    print(f"\nJSON: {RESULTS}")
    return 0


if __name__ == "__main__":
    from rules.durable_binding import ensure_steady_malloc

    ensure_steady_malloc()  # the in-process rows run here: as `tierwise serve` runs
    sys.exit(main())
