"""What metrics and rate limits cost per request: prints numbers, asserts nothing.

Three apps on one database and Redis, called in process through the WSGI test client (the
client's own cost is in every row alike): ``bare`` (the request-duration hooks and the rate
limits taken out), ``+metrics`` (the request histogram), ``full`` (and the rate limits: the
storefront's per-key counter in Redis). ``/healthz`` (no limit, the floor) and a storefront
offer (the hot route). Interleaved rounds (each app first in turn), medians of the per-request means, so a shared
machine's drift spreads over every row.

Needs PostgreSQL and Redis on their standard local ports. Run:
``.venv/bin/python -m bench.observability_bench`` (ROUNDS, CALLS to change the work). Then
one storefront limit check alone, with Redis counters (leased in batches, and counted on every
request as before the leases) and in-process ones: the whole-request differences drift with a
shared machine's load, the check alone much less.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

BENCH_DB = "tierwise_bench_obs"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"
ENV = {
    "DATABASE_URL": PG_URL,
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "JWT_SECRET": "bench-secret-" + "x" * 40,
    "API_KEY_PEPPER": "bench-pepper-" + "y" * 40,
    "QUOTE_SECRET": "bench-quote-" + "z" * 40,
    "PAYMENTS_BACKEND": "local",
    "STRIPE_WEBHOOK_SECRET": "bench-webhook-" + "w" * 40,
    "LOG_LEVEL": "WARNING",
    "RATE_LIMIT_STOREFRONT": "1000000/minute",  # counted, never reached
}
ROUNDS = int(os.environ.get("ROUNDS", "5"))
CALLS = int(os.environ.get("CALLS", "200"))


def seed() -> str:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "demo"],
        env={**os.environ, **ENV},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"storefront API key:\s+(\S+)", out).group(1)  # type: ignore[union-attr]


def strip(app: Any, *, metrics: bool, limits: bool) -> None:
    """Take the request-duration hooks and/or the rate limits out of ``app``."""
    names = set()
    if metrics:
        names |= {"_start_clock", "_observe"}
    if limits:
        names |= {"_check_request_limit", "_rate_limit_headers", "__release_context"}
        for endpoint, view in list(app.view_functions.items()):
            if getattr(view, "__rate_limited__", False):
                app.view_functions[endpoint] = inspect.unwrap(view)  # every limit's layer

    def kept(fn: Any) -> bool:
        name = getattr(fn, "__name__", "") or getattr(getattr(fn, "func", None), "__name__", "")
        return not any(name.endswith(n) for n in names) and not (
            limits and "inject_headers" in name
        )

    for funcs in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        funcs[None] = [f for f in funcs.get(None, []) if kept(f)]


def per_request_us(call: Callable[[], Any], calls: int) -> float:
    """CPU µs of this process per call (other processes' load on a shared machine left out;
    the Redis and PostgreSQL round trips' waiting too, their servers' work not counted)."""
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1e6


def limit_check_us(app: Any, rounds: int = 7, calls: int = 2000) -> tuple[float, float]:
    """(CPU µs, wall µs) of one storefront limit check alone, medians: a request's principal
    set, flask-limiter asked as the view's wrapper asks it."""
    from flask import g

    from app.adapters.credentials import Principal
    from pricing.catalog import Tenant

    limiter = next(iter(app.extensions["limiter"]))
    name = next(n for n in limiter._marked_for_limiting if "storefront" in n)
    tenant = Tenant(id="bench", slug="bench", name="Bench", currency="EUR", time_zone="UTC")
    cpu, wall = [], []
    with app.test_request_context("/v1/storefront/segments"):
        g.principal = Principal("storefront", "storefront", "tw_pk_bench000", tenant)
        for _ in range(rounds):
            started, clock = time.process_time(), time.perf_counter()
            for _ in range(calls):
                limiter._check_request_limit(callable_name=name, in_middleware=False)
                limiter.context.reset()
            cpu.append((time.process_time() - started) / calls * 1e6)
            wall.append((time.perf_counter() - clock) / calls * 1e6)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    key = seed()
    os.environ.update(ENV)
    from app import create_app
    from config import Settings

    settings = Settings.from_env({**ENV})
    apps = {}
    for name, (no_metrics, no_limits) in {
        "bare": (True, True),
        "+metrics": (False, True),
        "full": (False, False),
    }.items():
        app = create_app(settings)
        strip(app, metrics=no_metrics, limits=no_limits)
        apps[name] = app.test_client()
    day = dt.date.today() + dt.timedelta(days=2)
    while day.isoweekday() >= 6:
        day += dt.timedelta(days=1)
    offers = f"/v1/storefront/segments/premium/offers?date={day.isoformat()}&guests=2"
    routes = {
        "/healthz": ("/healthz", {}),
        "offers": (offers, {"X-Api-Key": key}),
    }
    for client in apps.values():  # warm: compiled rules, caches, pools
        for path, headers in routes.values():
            for _ in range(20):
                assert client.get(path, headers=headers).status_code == 200
    results: dict[tuple[str, str], list[float]] = {}
    names = list(apps)
    for round_ in range(ROUNDS):
        for route, (path, headers) in routes.items():
            calls = CALLS if route == "offers" else CALLS * 10
            for name in names[round_ % 3 :] + names[: round_ % 3]:  # each goes first in turn
                client = apps[name]
                spent = per_request_us(
                    lambda c=client, p=path, h=headers: c.get(p, headers=h), calls
                )
                results.setdefault((route, name), []).append(spent)
    print(f"observability overhead, CPU µs per request (median of {ROUNDS} interleaved rounds)")
    print(f"  load average {os.getloadavg()}")
    for route in routes:
        bare = statistics.median(results[(route, "bare")])
        for name in apps:
            value = statistics.median(results[(route, name)])
            print(f"  {route:<9} {name:<9} {value:9.1f}  (+{value - bare:6.1f} over bare)")
    limit_checks(settings)


def limit_checks(settings: Any) -> None:
    """One storefront limit check alone: Redis counters leased in batches (the server's way at
    ``1000000/minute``: app/http/rate_leases.py), Redis counted on every request (limits' own
    fixed window, as before the leases), in-process counters. Round trips per check: the
    window's counter in Redis counts every leased or counted request, n per round trip."""
    import redis
    from limits.strategies import FixedWindowRateLimiter

    from app import create_app
    from app.http.rate_leases import lease_size

    client = redis.Redis.from_url(ENV["REDIS_URL"])
    print("one storefront limit check alone (µs, median of 7 x 2,000)")
    for name, backend in (("leased", "redis"), ("exact", "redis"), ("memory", "memory")):
        checked = create_app(settings.replace(cache_backend=backend))
        limiter = next(iter(checked.extensions["limiter"]))
        if name == "exact":
            limiter._limiter = FixedWindowRateLimiter(limiter.storage)
        for key in client.scan_iter("*tw-rate/key:bench:*"):
            client.delete(key)
        cpu, wall = limit_check_us(checked)
        trips = ""
        if backend == "redis":
            (key,) = client.scan_iter("*tw-rate/key:bench:*")
            counted = int(client.get(key) or 0)
            size = lease_size(1000000) if name == "leased" else 1
            trips = f"   Redis round trips per check {counted / size / 14000:.3f}"
        print(f"  {name:<7} CPU {cpu:6.1f}   wall {wall:6.1f}{trips}")
    client.close()


if __name__ == "__main__":
    main()
