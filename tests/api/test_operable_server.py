"""A real ``tierwise serve --workers 2`` on the test PostgreSQL (a scratch database) and Redis,
for what only two worker processes show: ``/metrics`` counts every worker's requests (prometheus
multiprocess mode), a rate limit holds across workers (its counters in Redis), every log line is
one JSON object (``LOG_FORMAT=json``), and traces reach an OTLP/HTTP receiver (a tiny HTTP
server here) with Flask, SQLAlchemy and Redis spans.

One server for the module: it takes a few seconds to boot on a loaded machine."""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.services import tenants
from app.services.demo import seed_demo
from config.settings import ENVIRONMENT_VARIABLES
from storage.db import Database, migrate
from tests.conftest import TEST_REDIS_URL
from tests.support.databases import scratch_database
from tests.support.embedded import TIERWISE
from tests.support.private_servers import free_port

METRICS_TOKEN = "metrics-token-" + "m" * 20
STOREFRONT_LIMIT = 5
JSON_KEYS = {"time", "level", "event", "request_id", "tenant", "route", "status", "duration_ms"}


@dataclass
class Receiver:
    """An OTLP/HTTP receiver: keeps the body of every ``POST /v1/traces``."""

    server: http.server.ThreadingHTTPServer
    bodies: list[bytes] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def scopes(self) -> set[str]:
        """The instrumentation scopes of every span received so far."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        names = set()
        for body in list(self.bodies):
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    if scope.spans:
                        names.add(scope.scope.name)
        return names


def receiver() -> Receiver:
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/v1/traces":
                bodies.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Receiver(server, bodies)


@dataclass
class Served:
    port: int
    keys: tuple[str, str]
    tenant_id: str
    lines: list[str]
    traces: Receiver
    pid: int  # gunicorn's master

    def get(self, path: str, headers: dict[str, str] | None = None):
        """(status, headers, body) over a new connection (so gunicorn's workers take turns)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers={"Connection": "close", **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def metrics(self) -> dict[str, float]:
        status, _, body = self.get("/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200, body[:300]
        return {
            f"{sample.name}{json.dumps(sample.labels, sort_keys=True)}": sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    def json_lines(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines) if line.strip()]

    def access_pids(self, route: str) -> set[int]:
        return {
            line["pid"]
            for line in self.json_lines()
            if line["event"] == "request" and line["route"] == route
        }


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    url = scratch_database("operable")
    migrate(url)
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    env.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": TEST_REDIS_URL,
            "JWT_SECRET": "obs-secret-" + "x" * 40,
            "API_KEY_PEPPER": "obs-pepper-" + "y" * 40,
            "QUOTE_SECRET": "obs-quote-" + "z" * 40,
            "PAYMENTS_BACKEND": "local",
            "STRIPE_WEBHOOK_SECRET": "obs-webhook-" + "w" * 40,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "METRICS_TOKEN": METRICS_TOKEN,
            "RATE_LIMIT_STOREFRONT": f"{STOREFRONT_LIMIT}/minute",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    db = Database.from_url(url)
    try:
        tenant = seed_demo(db, dt.date.today())
        pepper = env["API_KEY_PEPPER"]
        keys = tuple(tenants.create_api_key(db, pepper, tenant, n)["key"] for n in "ab")
    finally:
        db.dispose()
    traces = receiver()
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = traces.endpoint
    port = free_port()
    folder = tmp_path_factory.mktemp("operable")
    process = subprocess.Popen(
        [str(TIERWISE), "serve", "--port", str(port), "--workers", "2", "--threads", "1"],
        cwd=folder,
        env={**env, "XDG_RUNTIME_DIR": str(folder)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    booted: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "Booting worker" in line:
                booted.append(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 120
    server = Served(port, keys, tenant.id, lines, traces, process.pid)  # type: ignore[arg-type]
    while time.monotonic() < deadline and process.poll() is None:
        if len(booted) == 2:
            try:
                if server.get("/readyz")[0] == 200:
                    break
            except OSError:
                pass
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("".join(lines))
    try:
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        traces.server.shutdown()
        traces.server.server_close()


def poll(condition, seconds: float = 60.0, step=None) -> bool:
    """True as soon as ``condition()`` is; False after ``seconds``. ``step()`` runs between looks."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if step is not None:
            step()
        time.sleep(0.05)
    return condition()


def test_metrics_count_the_requests_of_both_workers(served: Served) -> None:
    assert served.get("/metrics")[0] == 401  # METRICS_TOKEN set: a bearer is required
    # gunicorn hands each connection to whichever worker accepts first: ask until both answered
    assert poll(
        lambda: len(served.access_pids("/healthz")) == 2,
        step=lambda: served.get("/healthz") and None,
    ), served.json_lines()[-5:]
    scraped = served.metrics()
    counted = scraped[
        'tierwise_http_request_duration_seconds_count{"method": "GET", "route": "/healthz", '
        '"status": "200"}'
    ]

    def answered() -> int:
        lines = served.json_lines()
        return sum(
            1 for line in lines if line["event"] == "request" and line["route"] == "/healthz"
        )

    # one worker answered the scrape, yet every /healthz either of them answered is counted
    assert poll(lambda: answered() == counted), (answered(), counted)
    # a gauge summed over the live workers: each has a pool of ten (storage/db.py)
    assert scraped['tierwise_db_pool_size{"pool": "durable"}'] == 2 * 10


def test_route_templates_never_ids(served: Served) -> None:
    key = {"X-Api-Key": served.keys[1]}
    served.get("/v1/storefront/segments", key)
    missing = "/v1/storefront/segments/no-such-segment/comparison"
    assert served.get(missing, key)[0] == 404
    text = served.get("/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})[2].decode()
    assert 'route="/v1/storefront/segments/<segment>/comparison",status="404"' in text
    assert "no-such-segment" not in text
    # the workers' pools: the durable one and the autocommit one browsed offers use
    assert 'tierwise_db_pool_size{pool="relaxed"} 10.0' in text


def test_a_rate_limit_holds_across_both_workers_and_per_key(served: Served) -> None:
    flooding, other = ({"X-Api-Key": k} for k in served.keys)
    answers = [served.get("/v1/storefront/segments", flooding) for _ in range(STOREFRONT_LIMIT)]
    assert [status for status, _, _ in answers] == [200] * STOREFRONT_LIMIT
    assert all("Retry-After" not in h and "RateLimit-Limit" not in h for _, h, _ in answers)
    status, headers, body = served.get("/v1/storefront/segments", flooding)
    assert status == 429, body
    error = json.loads(body)
    assert error["error"]["code"] == "rate_limited"
    assert error["request_id"] == headers["X-Request-Id"]
    assert 1 <= int(headers["Retry-After"]) <= 61  # whole seconds, rounded up
    assert headers["RateLimit-Limit"] == str(STOREFRONT_LIMIT)
    assert headers["RateLimit-Remaining"] == "0"
    # the other key of the same tenant is not limited by this one's flood
    assert served.get("/v1/storefront/segments", other)[0] == 200
    # the flood's answers came from both workers (their count shared in Redis)
    route = "/v1/storefront/segments"
    assert poll(lambda: len(served.access_pids(route)) == 2, seconds=10), served.json_lines()[-8:]


def test_every_line_is_one_json_object(served: Served) -> None:
    served.get("/healthz?logged=1")
    assert poll(
        lambda: any(line.get("path") == "/healthz?logged=1" for line in served.json_lines())
    )
    lines = served.json_lines()  # every line parses, or this raises
    assert all(set(line) >= JSON_KEYS for line in lines)
    assert all(dt.datetime.fromisoformat(line["time"]).utcoffset() is not None for line in lines)
    booting = [line for line in lines if line["event"].startswith("Booting worker")]
    assert len(booting) == 2 and booting[0]["logger"] == "gunicorn.error"
    request = next(line for line in lines if line.get("path") == "/healthz?logged=1")
    assert request["route"] == "/healthz" and request["status"] == 200
    assert request["duration_ms"] > 0 and len(request["request_id"]) == 32
    served.get("/v1/storefront/segments", {"X-Api-Key": served.keys[1]})
    assert poll(
        lambda: any(
            line.get("tenant") == served.tenant_id and line["route"] == "/v1/storefront/segments"
            for line in served.json_lines()
        )
    )


def test_each_worker_freezes_its_startup_heap(served: Served) -> None:
    """Once its app is loaded, each worker moves what importing and making it left out of the
    cyclic collector's reach (app.http.serving.FrozenStartupHeap), and says how much."""

    def settled() -> list[dict]:
        return [
            line for line in served.json_lines() if line["event"].startswith("Worker heap settled")
        ]

    assert poll(lambda: len(settled()) >= 2, seconds=30), served.json_lines()[:10]
    frozen = [int(line["event"].rsplit(": ", 1)[1].split()[0]) for line in settled()]
    assert all(count > 50_000 for count in frozen), frozen  # the imports alone are ~200,000


def test_traces_reach_the_otlp_receiver(served: Served) -> None:
    served.get("/readyz")  # a database ping and a Redis ping
    served.get("/v1/storefront/segments", {"X-Api-Key": served.keys[1]})
    wanted = {
        "opentelemetry.instrumentation.flask",
        "opentelemetry.instrumentation.sqlalchemy",
        "opentelemetry.instrumentation.redis",
    }
    assert poll(lambda: wanted <= served.traces.scopes(), seconds=30), served.traces.scopes()


def test_no_opentelemetry_without_an_endpoint(tmp_path: Path) -> None:
    """Not even imported: an app built without OTEL_EXPORTER_OTLP_ENDPOINT."""
    script = (
        "import sys\n"
        "from app import create_app\n"
        "from config import Settings\n"
        f"create_app(Settings.from_env({{'TIERWISE_MODE': 'embedded', "
        f"'DATABASE_URL': 'sqlite:///{tmp_path}/x.db'}}))\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES}
    out = subprocess.run(
        [str(TIERWISE.parent / "python"), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_a_replaced_worker_boots_and_the_metrics_go_on(served: Served) -> None:
    """A worker that exits (max_requests, a scale-down) must not take the metric files' folder
    with it: the worker started after it would fail to boot and gunicorn would halt."""

    def events(prefix: str) -> int:
        return sum(1 for line in served.json_lines() if line["event"].startswith(prefix))

    booted = events("Booting worker")
    os.kill(served.pid, signal.SIGTTOU)  # one worker fewer: it exits
    assert poll(lambda: events("Worker exiting") >= 1, seconds=30), served.json_lines()[-5:]
    os.kill(served.pid, signal.SIGTTIN)  # and one more again: a new worker boots
    assert poll(lambda: events("Booting worker") == booted + 1, seconds=30)
    assert poll(lambda: served.get("/readyz")[0] == 200, seconds=30)
    assert events("Exception in worker process") == 0, served.json_lines()[-10:]
    for _ in range(4):  # both workers, the new one among them, answer and count
        assert served.get("/healthz")[0] == 200
        assert served.metrics()
