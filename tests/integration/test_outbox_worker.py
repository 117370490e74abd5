"""``tierwise worker`` as a real process against PostgreSQL: SIGKILLed while events are pending
(some claimed, some in flight), restarted: every event is delivered, none lost, each under its
own ``webhook-id`` (those in flight possibly twice)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from app.services import tenants
from storage import outbox
from storage.db import Database, migrate
from tests.support.databases import drop_database, scratch_database
from tests.support.timing import eventually
from tests.support.webhook_receiver import receiver

EVENTS = 20
CONCURRENCY = 4
SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def worker_db():
    url = scratch_database("worker")
    migrate(url)
    db = Database.from_url(url)
    yield url, db
    db.dispose()
    drop_database(url)


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "TIERWISE_"))},
        "TIERWISE_MODE": "server",
        "DATABASE_URL": url,
        "CACHE_BACKEND": "memory",
        "JWT_SECRET": SECRET,
        "API_KEY_PEPPER": SECRET,
        "QUOTE_SECRET": SECRET,
        "PAYMENTS_BACKEND": "local",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    }
    cli = Path(sys.executable).parent / "tierwise"
    with log.open("ab") as stderr:
        return subprocess.Popen(
            [
                str(cli),
                "worker",
                "--idle",
                "0.05",
                "--lease",
                "2",
                "--concurrency",
                str(CONCURRENCY),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def test_a_killed_worker_loses_nothing(worker_db, tmp_path):
    url, db = worker_db
    log = tmp_path / "worker.log"
    tenant = tenants.create_tenant(
        db,
        {
            "slug": "hooks",
            "name": "Hooks",
            "currency": "EUR",
            "time_zone": "Europe/Berlin",
            "default_capacity": 1,
        },
    )
    now = dt.datetime.now(dt.UTC)
    with receiver() as hooks:
        hooks.hold_after = 5  # the 6th request hangs: the worker is mid-send when killed
        with db.transaction() as s:
            endpoint = outbox.add_endpoint(
                s,
                tenant.id,
                url=hooks.url,
                events=["booking.*"],
                description="",
                secret="whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                now=now,
            )
        with db.transaction() as s:
            ids = {
                outbox.emit(s, tenant.id, "booking.confirmed", {"n": n}, now) for n in range(EVENTS)
            }
        first = start_worker(url, log)
        try:
            eventually(lambda: len(hooks.requests) >= 6, 30, "six requests")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        with db.transaction() as s:
            assert outbox.pending_count(s) >= EVENTS - 5  # claimed, never recorded
        hooks.release.set()
        hooks.hold_after = None
        second = start_worker(url, log)
        try:
            eventually(
                lambda: {r.headers["webhook-id"] for r in hooks.requests} >= ids,
                30,
                "every event delivered",
            )
            eventually(lambda: _pending(db) == 0, 10, "every delivery recorded")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()
        received = list(hooks.requests)
    for request in received:
        Webhook(endpoint.secrets[0]).verify(request.body, request.headers)
    delivered = [r.headers["webhook-id"] for r in received]
    assert set(delivered) == ids
    assert len(delivered) - len(ids) <= CONCURRENCY  # at most those in flight, again


def _pending(db: Database) -> int:
    with db.transaction() as s:
        return outbox.pending_count(s)
