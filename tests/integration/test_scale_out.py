"""Scale-out over real processes: ``tierwise serve`` instances in server mode sharing one
PostgreSQL database (a scratch one, its rows committed, as production has them) and Redis.

* A ruleset published through one instance is in force on the other within 1 s: the contract,
  asserted by polling the other instance with a deadline of 1 s from the publish's answer.
* SIGTERM lets an in-flight request finish: a quote is held mid-transaction by a lock this test
  takes on the tenant's decision chain head (its append waits for it), as is the worker's
  decision spool with the records of an offer already answered; SIGTERM goes in while they wait,
  the worker logs that it is stopping, the lock is released, and the quote still answers 201,
  its decision and the offer's committed before the process exits 0.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url

from config import Settings
from storage.db import Database, migrate
from tests.conftest import build_tenant
from tests.support.databases import drop_database, scratch_database
from tests.support.embedded import TIERWISE
from tests.support.private_servers import free_port, stop_process
from tests.support.rules import hot_summer_document, publish_draft
from tests.support.server_mode import libpq, server_env
from tests.support.timing import eventually

START_SECONDS = 60.0
#: The contract: a publish through one instance is in force on every other within this.
PROPAGATION_SECONDS = 1.0
FACTS = {"service_date": "2027-07-10", "lead_days": 2}


class Answer:
    """A response with the Flask test client's interface (for tests.support.rules)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self._body = body

    def get_json(self) -> Any:
        return json.loads(self._body)


@dataclass
class Instance:
    """One ``tierwise serve`` process and everything it has written so far."""

    process: subprocess.Popen[bytes]
    port: int
    lines: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, headers=None, json_body=None) -> Answer:
        data = None if json_body is None else json.dumps(json_body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={**(headers or {}), **({"Content-Type": "application/json"} if data else {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Answer(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read())

    def get(self, path: str, headers=None) -> Answer:
        return self.request("GET", path, headers)

    def post(self, path: str, headers=None, json=None) -> Answer:
        return self.request("POST", path, headers, json)

    def accepts(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        except OSError:
            return False
        return True

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


@pytest.fixture(scope="module")
def shared_database() -> Iterator[str]:
    url = scratch_database("scale_out")
    migrate(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def tenant(shared_database):
    """A tenant committed to the shared database (version 1 of its ruleset in force)."""
    settings = Settings.from_env(server_env(shared_database))
    db = Database.from_url(shared_database)
    try:
        return build_tenant(db, settings, f"s{uuid.uuid4().hex[:8]}")
    finally:
        db.dispose()


@pytest.fixture
def start(shared_database, tmp_path: Path) -> Iterator[Any]:
    """Start ``tierwise serve`` instances on the shared database; every one stopped after."""
    started: list[Instance] = []
    runtime = tempfile.TemporaryDirectory(prefix="tw-")

    def launch() -> Instance:
        port = free_port()
        process = subprocess.Popen(
            [str(TIERWISE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env={**server_env(shared_database), "XDG_RUNTIME_DIR": runtime.name},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        instance = Instance(process, port)
        started.append(instance)
        assert process.stdout is not None
        reader = threading.Thread(
            target=lambda: instance.lines.extend(
                line.decode(errors="replace") for line in process.stdout
            ),
            daemon=True,
        )
        reader.start()
        return instance

    def run(count: int) -> list[Instance]:
        """``count`` instances, started side by side, each answering ``/healthz``."""
        instances = [launch() for _ in range(count)]
        for instance in instances:

            def up(instance: Instance = instance) -> bool:
                if instance.process.poll() is not None:
                    raise AssertionError("".join(instance.lines))
                return instance.accepts() and instance.get("/healthz").status_code == 200

            eventually(up, START_SECONDS, f"tierwise serve on port {instance.port}")
        return instances

    yield run
    for instance in started:
        stop_process(instance.process, seconds=30)
        assert instance.process.stdout is not None
        instance.process.stdout.close()
    runtime.cleanup()


def served(instance: Instance, fx) -> tuple[int, str]:
    """(version, season multiplier) the instance evaluates now for the tenant."""
    response = instance.post(
        "/v1/admin/rulesets/evaluate",
        headers=fx.admin,
        json={"facts": FACTS, "kinds": ["season"]},
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["version"], body["decisions"]["season"]["multiplier"]


def test_a_publish_through_one_instance_is_in_force_on_the_other_within_one_second(
    start, tenant, capsys
):
    one, two = start(2)
    assert served(one, tenant) == served(two, tenant) == (1, "1.32")  # both warm

    published = publish_draft(one, tenant, hot_summer_document(), name="hot")
    number = published["version"]["number"]
    since = time.monotonic()
    eventually(
        lambda: served(two, tenant) == (number, "1.65"),
        PROPAGATION_SECONDS,
        f"instance two serving version {number}",
    )
    with capsys.disabled():
        print(
            f"\ninstance two served the publish {time.monotonic() - since:.3f} s after its answer"
        )
    assert served(one, tenant) == (number, "1.65")

    # and back, the other way round: a rollback through instance two
    back = two.post(f"/v1/admin/rulesets/versions/{number - 1}/activate", headers=tenant.admin)
    assert back.status_code == 201, back.get_json()
    eventually(
        lambda: served(one, tenant) == (number - 1, "1.32"),
        PROPAGATION_SECONDS,
        f"instance one serving version {number - 1} again",
    )


def waiting_for_lock(conn: psycopg.Connection, database: str) -> int:
    """How many decision appends wait for a lock in ``database``."""
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
        " AND query LIKE '%%tw_append_decision%%'",  # either append function
        (database,),
    ).fetchone()
    return int(row[0]) if row else 0


def chain_head(conn: psycopg.Connection, tenant_id: str) -> int | None:
    row = conn.execute(
        "SELECT seq FROM decision_chains WHERE tenant_id = %s", (uuid.UUID(tenant_id),)
    ).fetchone()
    return int(row[0]) if row else None


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(start, tenant, shared_database):
    """A quote in flight when the worker is told to stop is answered, and the decision records
    an offer had handed to the worker's spool are written before it exits: both wait on the
    tenant's chain head, held locked here until after SIGTERM."""
    (server,) = start(1)
    day = "2027-03-12"
    offers = f"/v1/storefront/segments/{tenant.segment.key}/offers?date={day}&guests=2"
    quote = {"tier_id": tenant.tiers[0].id, "date": day, "guests": 2}
    answers: list[Answer] = []
    with (
        psycopg.connect(libpq(shared_database)) as holder,
        psycopg.connect(libpq(shared_database), autocommit=True) as watcher,
    ):
        assert server.get(offers, tenant.storefront).status_code == 200
        eventually(lambda: chain_head(watcher, tenant.tenant.id), 30, "the chain head")
        holder.execute(  # the head locked: every decision append waits for it
            "SELECT seq FROM decision_chains WHERE tenant_id = %s FOR UPDATE",
            (uuid.UUID(tenant.tenant.id),),
        )
        spooled = server.get(offers, tenant.storefront)  # answered; its records wait
        assert spooled.status_code == 200, spooled.get_json()

        def ask() -> None:
            answers.append(server.post("/v1/storefront/quotes", tenant.storefront, quote))

        in_flight = threading.Thread(target=ask, daemon=True)
        in_flight.start()
        database = make_url(shared_database).database
        eventually(
            lambda: waiting_for_lock(watcher, database) >= 2,
            30,
            "the quote and the spool waiting for the head",
        )

        server.process.send_signal(signal.SIGTERM)
        eventually(lambda: server.logged("Worker stopping"), 30, "the worker taking SIGTERM")
        assert in_flight.is_alive() and server.process.poll() is None  # still held by the lock
        holder.rollback()

        in_flight.join(timeout=60)
        assert not in_flight.is_alive()
        (answer,) = answers
        assert answer.status_code == 201, answer.get_json()
        assert server.process.wait(timeout=60) == 0
        ids = [uuid.UUID(x) for x in spooled.get_json()["decision_ids"]]
        committed = watcher.execute(
            "SELECT count(*) FILTER (WHERE id = ANY(%s)), count(*) FILTER (WHERE quote_id = %s)"
            " FROM decisions WHERE tenant_id = %s",
            (ids, answer.get_json()["quote_id"], uuid.UUID(tenant.tenant.id)),
        ).fetchone()
        assert committed == (len(ids), 1)
