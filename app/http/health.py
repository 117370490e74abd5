"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.http.common import blueprint, services
from app.http.schemas import health as s

blp = blueprint("health", "", "Liveness and readiness probes.", None)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, s.HealthSchema)
    def get(self) -> dict[str, Any]:
        """The process is up

        Liveness: answers 200 while the process serves requests, without touching the
        database or the cache. For a load balancer's keep-alive; readiness is `/readyz`.
        """
        return {"status": "ok", "checks": {}}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, s.HealthSchema)
    @blp.alt_response(503, schema=s.HealthSchema, description="A dependency is unreachable")
    def get(self) -> tuple[dict[str, Any], int]:
        """The database and the cache are reachable

        Readiness: pings PostgreSQL (or SQLite) and the cache (Redis or in-process); 200
        with each check `ok`, else 503 with the failing check's error class. Take an
        instance out of rotation on 503.
        """
        svc = services()
        checks: dict[str, str] = {}
        for name, probe in (("database", svc.db.ping), ("cache", svc.cache.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as error:  # readiness reports any failure as "not ready"
                checks[name] = f"error: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
