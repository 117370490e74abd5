"""The storefront's requests under ``wrk``, on one ``tierwise serve --workers 2 --threads 1``:
``/healthz`` (the framework's floor), the segments list, offers (decision records written),
quotes and checkouts, each a row of the same run, so that each can be read as a ratio of
``/healthz`` (issue 22). Used by ``bench/storefront_bench.py`` (``make bench``) and
``bench/compare_trees.py`` (``make bench-compare``). Prints nothing itself; asserts nothing.

Checkouts hold a unit each: the benchmark's service date gets 10,000,000 units of the quoted tier
first, and every request carries its own ``Idempotency-Key`` (a wrk Lua script), so each is a real
checkout (a held unit, a pending booking, a local payment session), not a replay.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from bench.offers_bench import _cpu_seconds, free_port, parse_wrk, service_date

ROUTES = ("healthz", "segments", "offers", "quotes", "checkouts")
SCRIPTS = Path("var/bench/lua")
SERVER_LOG = Path("var/bench/server.log")

#: A POST with a JSON body; checkouts add an Idempotency-Key unique to the thread and request.
POST_LUA = """
local counter = 0
threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end
function init(args)
  prefix = args[1] or "r"
end
request = function()
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/json"
  if IDEMPOTENT then
    headers["Idempotency-Key"] = prefix .. "-" .. tostring(thread_id) .. "-" .. tostring(counter)
  end
  return wrk.format("POST", nil, headers, BODY)
end
"""


def _lua(name: str, body: dict[str, Any], idempotent: bool) -> Path:
    SCRIPTS.mkdir(parents=True, exist_ok=True)
    path = SCRIPTS / f"{name}.lua"
    text = json.dumps(json.dumps(body))  # a Lua string literal (JSON's escapes are Lua's)
    head = f"BODY = {text}\nIDEMPOTENT = {'true' if idempotent else 'false'}\n"
    path.write_text(head + POST_LUA)
    return path


def _call(url: str, key: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"X-Api-Key": key}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - localhost
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - localhost
        return json.loads(response.read())


class Server:
    """``tierwise serve --workers 2 --threads 1`` of one tree (``python``, ``cwd``, ``env``)."""

    def __init__(self, python: str, cwd: Path | None, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        serve = ["serve", "--port", str(self.port), "--workers", "2", "--threads", "1"]
        SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
        self.log = SERVER_LOG.open("ab")  # gunicorn's and the app's lines: why a run failed
        self.process = subprocess.Popen(
            [python, "-m", "app.cli", *serve],
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for _ in range(300):
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.1)  # starting: poll again
        self.stop()
        sys.exit(f"server at {self.base} never answered")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=20)
        self.log.close()


class Routes:
    """The requests of each route on ``server``, made ready: a quote token for checkouts, and
    capacity for every checkout the run can make."""

    def __init__(self, server: Server, key: str, database_url: str) -> None:
        self.server, self.key = server, key
        day = service_date().isoformat()
        query = f"date={day}&guests=2&add_ons=breakfast"
        offers_path = f"/v1/storefront/segments/premium/offers?{query}"
        sheet = _call(server.base + offers_path, key)
        tier_id = sheet["offers"][0]["tier"]["id"]
        _plenty_of_units(database_url, tier_id, day)
        quote = {"tier_id": tier_id, "date": day, "guests": 2, "add_ons": ["breakfast"]}
        self.quote_body = quote
        self.paths = {
            "healthz": "/healthz",
            "segments": "/v1/storefront/segments",
            "offers": offers_path,
            "quotes": "/v1/storefront/quotes",
            "checkouts": "/v1/storefront/checkouts",
        }
        self.scripts = {"quotes": _lua("quotes", quote, idempotent=False)}

    def _checkout_script(self) -> Path:
        """A fresh quote token (tokens expire) in the checkout script."""
        token = _call(self.server.base + "/v1/storefront/quotes", self.key, self.quote_body)
        body = {"quote_token": token["token"], "customer": {"email": "bench@example.com"}}
        return _lua("checkouts", body, idempotent=True)

    def measure(self, route: str, seconds: int, connections: int, warm: int = 2) -> dict[str, Any]:
        """``wrk -t2 -c<connections>`` on one route for ``seconds`` (after ``warm`` seconds),
        with the server's CPU time per request."""
        script = self._checkout_script() if route == "checkouts" else self.scripts.get(route)
        url = self.server.base + self.paths[route]
        wrk = ["wrk", "-t2", f"-c{connections}", "-H", f"X-Api-Key: {self.key}"]
        if script is not None:
            wrk += ["-s", str(script)]
        prefix = ["--", f"{route}{time.time_ns()}"] if script is not None else []
        if warm:
            subprocess.run([*wrk, f"-d{warm}s", url, *prefix], capture_output=True, check=True)
        prefix = ["--", f"{route}{time.time_ns()}"] if script is not None else []
        before = _cpu_seconds(self.server.process.pid)
        output = subprocess.run(
            [*wrk, f"-d{seconds}s", "--latency", url, *prefix],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        after = _cpu_seconds(self.server.process.pid)
        result: dict[str, Any] = {"route": route, **parse_wrk(output)}
        served = max(result["requests_per_s"] * seconds, 1.0)
        result["server_cpu_ms"] = round((after["server"] - before["server"]) * 1000 / served, 3)
        result["postgres_cpu_ms"] = round(
            (after["postgres"] - before["postgres"]) * 1000 / served, 3
        )
        return result


def _plenty_of_units(database_url: str, tier_id: str, day: str) -> None:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO capacity (tenant_id, tier_id, service_date, units, updated_at)"
            " SELECT tenant_id, id, %s, 10000000, now() FROM tiers WHERE id = %s"
            " ON CONFLICT (tenant_id, tier_id, service_date) DO UPDATE SET units = 10000000",
            (day, tier_id),
        )
        conn.execute("VACUUM ANALYZE")
