"""``tierwise serve`` (gunicorn, both worker kinds) over real HTTP, for what only a real server
shows: gunicorn's own refusals (an over-long request line) answer in the one error shape, and a
client's ``X-Request-Id`` reaches the access log only as a safe token.

The server runs in the embedded mode on an empty SQLite file: ``/healthz`` needs no tables."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.embedded import TIERWISE, embedded_env
from tests.support.private_servers import free_port

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
ACCESS_LINE = re.compile(r'^\S+ \[[^\]]+\] "GET (\S+) HTTP/1\.1" (\d{3}) \S+ \S+ (\S+)$')


def get(port: int, target: str, headers: dict[str, str] | None = None):
    """(status, headers, body) of ``GET target``; headers are sent as latin-1, as HTTP has it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value.encode("latin-1"))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def assert_json_error(status: int, headers: dict, body: bytes, expected: int, code: str) -> None:
    assert status == expected, body[:300]
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)
    assert set(error) == {"error", "request_id"}
    assert error["error"]["code"] == code and error["error"]["message"]
    assert error["request_id"] == headers["X-Request-Id"]


@pytest.fixture(params=["1", "2"], ids=["sync", "gthread"])
def server(request, tmp_path: Path):
    """A running ``tierwise serve --threads N``; yields (port, a function stopping it and
    returning everything it wrote: its log and access log)."""
    port = free_port()
    env = embedded_env(tmp_path)
    with tempfile.TemporaryDirectory(prefix="tw-") as runtime_dir:
        process = subprocess.Popen(
            [
                str(TIERWISE),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--threads",
                request.param,
            ],
            cwd=tmp_path,
            env={**env, "XDG_RUNTIME_DIR": runtime_dir},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        started = []
        for line in process.stdout:  # the arbiter listens before it boots a worker
            started.append(line)
            if b"Booting worker" in line:
                break
        else:
            pytest.fail(b"".join(started).decode(errors="replace"))

        def stop() -> str:
            process.terminate()
            rest, _ = process.communicate(timeout=60)
            return b"".join(started).decode() + rest.decode(errors="replace")

        try:
            yield port, stop
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=30)


def test_over_long_urls_and_forged_request_ids_over_real_http(server):
    port, stop = server
    assert get(port, "/healthz")[0] == 200
    # far beyond gunicorn's request-line limit: gunicorn itself refuses it, in the error shape
    assert_json_error(*get(port, "/healthz?x=" + "a" * 20_000), 414, "uri_too_long")
    # beyond the app's limit but within gunicorn's: the app refuses it
    assert_json_error(*get(port, "/healthz?x=" + "a" * 8_100), 414, "uri_too_long")
    assert get(port, "/healthz?x=" + "a" * 7_000)[0] == 200  # within both: served

    status, headers, _ = get(port, "/healthz?safe", {"X-Request-Id": "order-42:retry.1"})
    assert (status, headers["X-Request-Id"]) == (200, "order-42:retry.1")
    forged = 'x" 200 1 1.0ms y\tz\x85127.0.0.1 [06/Dec/2026] "GET /admin'
    status, headers, _ = get(port, "/healthz?forged", {"X-Request-Id": forged})
    generated = headers["X-Request-Id"]
    assert status == 200 and GENERATED_ID.fullmatch(generated)
    status, headers, _ = get(port, '/healthz?quote="', {"X-Request-Id": "q"})
    assert status == 200

    log = stop()
    access = {m.group(1): m.group(3) for m in map(ACCESS_LINE.match, log.splitlines()) if m}
    assert access["/healthz?safe"] == "order-42:retry.1"
    assert access["/healthz?forged"] == generated
    assert access['/healthz?quote=\\"'] == "q"
    assert "\t" not in log and "\x85" not in log and "/admin" not in log
    # both worker kinds froze their startup heap once the app was loaded (FrozenStartupHeap)
    assert re.search(r"Worker heap settled \(pid: \d+\): \d{5,} objects frozen", log), log[-2000:]
