"""Webhook delivery benchmark: prints numbers, asserts nothing.

One ``tierwise worker`` process delivers N booking events from the outbox to a local receiver
(``http.server`` in a thread of this process, answering 200 at once); printed: events delivered
per second, from the first request received to the last (the worker's start-up left out), and
the p50/p99 gap between consecutive requests.

Needs PostgreSQL on 127.0.0.1:5432 (database ``tierwise_bench_events``, made afresh and dropped).
Run: ``make bench`` or ``.venv/bin/python -m bench.events_bench [N]``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from app.services import tenants
from storage import outbox
from storage.db import Database, migrate
from tests.support.databases import drop_database, recreate_database
from tests.support.timing import eventually
from tests.support.webhook_receiver import receiver

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tierwise_bench_events"
SECRET = "bench-secret-" + "x" * 40
ENV = {
    "TIERWISE_MODE": "server",
    "DATABASE_URL": PG_URL,
    "CACHE_BACKEND": "memory",
    "JWT_SECRET": SECRET,
    "API_KEY_PEPPER": SECRET,
    "QUOTE_SECRET": SECRET,
    "PAYMENTS_BACKEND": "local",
    "STRIPE_WEBHOOK_SECRET": SECRET,
    "WEBHOOK_ALLOW_HTTP": "true",
    "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "LOG_LEVEL": "ERROR",
}


def main() -> int:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    recreate_database(PG_URL)
    migrate(PG_URL)
    db = Database.from_url(PG_URL)
    try:
        tenant = tenants.create_tenant(
            db,
            {
                "slug": "bench",
                "name": "Bench",
                "currency": "EUR",
                "time_zone": "Europe/Berlin",
                "default_capacity": 1,
            },
        )
        now = dt.datetime.now(dt.UTC)
        with receiver() as hooks:
            with db.transaction() as s:
                outbox.add_endpoint(
                    s,
                    tenant.id,
                    url=hooks.url,
                    events=["booking.*"],
                    description="bench",
                    secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    now=now,
                )
            with db.transaction() as s:
                for n in range(events):
                    outbox.emit(s, tenant.id, "booking.confirmed", {"n": n}, now)
            arrivals: list[float] = []
            original = hooks.requests

            class Timed(list):  # type: ignore[type-arg]
                def append(self, item: object) -> None:
                    arrivals.append(time.perf_counter())
                    super().append(item)

            hooks.requests = Timed(original)
            cli = Path(sys.executable).parent / "tierwise"
            worker = subprocess.Popen(
                [str(cli), "worker", "--idle", "0.05"],
                env={**os.environ, **ENV},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                eventually(lambda: len(hooks.requests) >= events, 600, "every event")
            finally:
                worker.terminate()
                worker.wait(30)
        span = arrivals[-1] - arrivals[0]
        gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
        print(f"events bench: one worker, {events} booking events to a local receiver")
        print(f"  delivered/s          {(events - 1) / span:8.0f}")
        print(
            f"  gap p50 / p99 (ms)   {statistics.median(gaps) * 1000:8.2f} / "
            f"{gaps[int(len(gaps) * 0.99)] * 1000:.2f}"
        )
    finally:
        db.dispose()
        drop_database(PG_URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
