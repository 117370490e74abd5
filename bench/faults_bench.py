"""Faults benchmark: prints numbers, asserts nothing.

Offers in-process (Flask test client, one thread, the demo tenant: 3 tiers, 2 guests, 1 add-on)
against PostgreSQL and a private ``redis-server``, as that Redis is normal, frozen (SIGSTOP: the
kernel still accepts connections, nothing answers, every call waits for its 0.25 s socket
timeout) and thawed again:

* ``normal``: Redis answering;
* ``frozen, no breaker``: a cool-down of 0 (every call is a trial): what every call paid before
  the breaker, fewer requests since each waits for the timeout;
* ``frozen, breaker``: the circuit breaker as configured (``BREAKER_COOL_DOWN_SECONDS``): one
  call per cool-down meets the timeout, the others skip Redis;
* ``thawed``: Redis answering again; the breaker closes by itself at its next trial, at most a
  cool-down after the thaw (the time printed).

Needs PostgreSQL on 127.0.0.1:5432 (database ``tierwise_bench_faults``, made afresh and dropped)
and ``redis-server`` on PATH. Run: ``make bench`` or ``.venv/bin/python -m bench.faults_bench``.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.support.private_servers import PrivateRedis, private_redis
from tests.support.timing import eventually

BENCH_DB = "tierwise_bench_faults"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
ENV = {
    "DATABASE_URL": PG_URL,
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "API_KEY_PEPPER": "bench-pepper-" + "y" * 40,
    "QUOTE_SECRET": "bench-quote-" + "z" * 40,
    "PAYMENTS_BACKEND": "local",  # offers never reach the payment provider
    "STRIPE_WEBHOOK_SECRET": "bench-webhook-" + "w" * 40,
    "LOG_LEVEL": "ERROR",  # the breaker's two lines would interleave with the table
}
CALLS, SLOW_CALLS, WARM_UP = 1500, 40, 100


def header() -> None:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    print("tierwise faults benchmark: offers in-process, Redis normal / frozen / thawed")
    for key, value in {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": memory,
        "load_average": os.getloadavg(),
    }.items():
        print(f"  {key:<13} {value}")


def fresh_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def seed(redis_url: str) -> str:
    """Migrate and seed the demo tenant (``tierwise demo``); its storefront key."""
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        env={**os.environ, **ENV, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"storefront API key:\s+(\S+)", out).group(1)  # type: ignore[union-attr]


def service_date() -> dt.date:
    """A weekday two days ahead (last-minute discount applies, no weekend uplift)."""
    day = dt.date.today() + dt.timedelta(days=2)
    while day.isoweekday() >= 6:
        day += dt.timedelta(days=1)
    return day


def timed(request: Callable[[], int], calls: int, warm_up: int = WARM_UP) -> dict:
    """p50, p99 and max of ``calls`` requests, in ms, after ``warm_up`` more; every one must
    answer 200."""
    times = []
    for n in range(warm_up + calls):
        started = time.perf_counter_ns()
        status = request()
        if n >= warm_up:
            times.append((time.perf_counter_ns() - started) / 1e6)
        if status != 200:
            raise RuntimeError(f"offers answered {status}")
    times.sort()
    return {
        "calls": calls,
        "p50_ms": round(times[len(times) // 2], 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        "max_ms": round(times[-1], 2),
    }


def offers_client(redis: PrivateRedis, key: str, cool_down_seconds: float | None):
    """A request function for a new app (a new worker: empty in-process caches) and its cache."""
    from app import create_app
    from app.adapters.cache import RedisCache
    from config import Settings

    settings = Settings.from_env({**ENV, "REDIS_URL": redis.url})
    cache = (
        RedisCache(redis.url)
        if cool_down_seconds is None
        else RedisCache(redis.url, cool_down_seconds=cool_down_seconds)
    )
    app = create_app(settings, cache=cache)
    client = app.test_client()
    url = f"/v1/storefront/segments/premium/offers?date={service_date()}&guests=2&add_ons=breakfast"

    def request() -> int:
        return client.get(url, headers={"X-Api-Key": key}).status_code

    return request, cache, app.extensions["tierwise"].db


def run(redis: PrivateRedis, key: str) -> list[tuple[str, dict, str]]:
    rows = []
    request, cache, db = offers_client(redis, key, None)
    rows.append(("normal", timed(request, CALLS), cache.breaker.state))
    redis.freeze()
    try:  # the row without a breaker first: the breaker's row then ends within one cool-down
        slow, _, slow_db = offers_client(redis, key, 0.0)
        rows.append(("frozen, no breaker", timed(slow, SLOW_CALLS, warm_up=3), "(none)"))
        slow_db.dispose()
        rows.append(("frozen, breaker", timed(request, CALLS), cache.breaker.state))
    finally:
        redis.thaw()
    started = time.monotonic()
    eventually(lambda: request() == 200 and cache.breaker.state == "closed", 30, "recovery")
    recovered = f"closed {time.monotonic() - started:.1f} s after the thaw"
    rows.append(("thawed", timed(request, CALLS), recovered))
    db.dispose()
    return rows


def main() -> int:
    header()
    fresh_database()
    try:
        with private_redis() as redis:
            key = seed(redis.url)
            rows = run(redis, key)
    finally:
        drop_database()
    print(f"\n  {'Redis':<20} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  breaker")
    for name, r, state in rows:
        print(
            f"  {name:<20} {r['calls']:>6} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}  {state}"
        )
    frozen, normal = rows[2][1]["p50_ms"], rows[0][1]["p50_ms"]
    print(f"\n  p50 frozen (breaker) / normal: {frozen / normal:.2f} (target: within 2x)")
    return 0


if __name__ == "__main__":
    from rules.durable_binding import ensure_steady_malloc

    ensure_steady_malloc()  # as `tierwise serve` runs
    sys.exit(main())
