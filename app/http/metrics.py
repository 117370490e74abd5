"""``GET /metrics`` (Prometheus text exposition) and the request-duration histogram.

Per request this costs two ``perf_counter`` calls, one dict lookup for the labelled histogram
child (method, route template, status: a few hundred series at most, made once each) and one
``observe``. The route is the URL rule's template (``/v1/admin/tiers/<uuid:tier_id>``), never the
path: a request no rule matched counts as ``unmatched``."""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView

from app.adapters import metrics
from app.http.common import blueprint
from app.logs import ENVIRON_ROUTE, ENVIRON_TENANT
from config import Settings
from pricing.errors import Unauthenticated

blp = blueprint(
    "metrics", "", "Prometheus metrics of every worker (docs/operations.md, Metrics).", None
)

_children: dict[tuple[str, str, int], Any] = {}


def _child(method: str, route: str, status: int) -> Any:
    key = (method, route, status)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metrics.REQUEST_DURATION.labels(method, route, str(status))
    return found


def install(app: Flask) -> None:
    """Time every request (registered first, so the clock starts before any other hook)."""

    @app.before_request
    def _start_clock() -> None:
        g.tw_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("tw_started")
        if started is not None:
            rule = request.url_rule
            route = rule.rule if rule is not None else "unmatched"
            _child(request.method, route, response.status_code).observe(
                time.perf_counter() - started
            )
            # for the access log's JSON line (app/http/access_log.py)
            environ = request.environ
            environ[ENVIRON_ROUTE] = route
            principal = g.get("principal")
            if principal is not None and principal.tenant is not None:
                environ[ENVIRON_TENANT] = principal.tenant.id
        return response


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "The metrics, Prometheus text format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "401": {
                "description": "METRICS_TOKEN is set and the bearer token is missing or wrong",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    )
    def get(self) -> Response:
        """Prometheus metrics of every worker

        Requests by route template and status, rule decisions, caches, holds, bookings,
        payments, refunds, webhook deliveries and database pools (docs/operations.md, Metrics).
        With `METRICS_TOKEN` set, `Authorization: Bearer <METRICS_TOKEN>` is required."""
        settings: Settings = current_app.extensions["tierwise"].settings
        if settings.metrics_token:
            sent = request.headers.get("Authorization", "")
            expected = f"Bearer {settings.metrics_token}"
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                raise Unauthenticated("GET /metrics takes the METRICS_TOKEN as a bearer token.")
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)
