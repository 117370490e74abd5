"""OpenTelemetry traces, only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set: Flask requests,
SQLAlchemy statements and Redis commands, exported over OTLP/HTTP (protobuf) to
``<endpoint>/v1/traces`` in batches. Unset, nothing of OpenTelemetry is imported.

The standard variables apply (``OTEL_SERVICE_NAME``, default ``tierwise``;
``OTEL_EXPORTER_OTLP_HEADERS``; ``OTEL_BSP_SCHEDULE_DELAY``, ...). The tracer provider and the
Redis instrumentation are process-wide: set up by the first app of a process (a gunicorn worker
builds one)."""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask

from config import Settings
from storage.db import Database

_lock = threading.Lock()
_provider: Any = None


def _tracer_provider(endpoint: str) -> Any:
    global _provider
    with _lock:
        if _provider is not None:
            return _provider
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.redis import RedisInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        service = os.environ.get("OTEL_SERVICE_NAME", "").strip() or "tierwise"
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        RedisInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
        _provider = provider
        return provider


def install(app: Flask, settings: Settings, db: Database) -> Any:
    """Trace ``app`` and ``db``'s engines when an OTLP endpoint is set; the tracer provider (to
    flush or shut down), or None."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    provider = _tracer_provider(settings.otel_exporter_otlp_endpoint)
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)  # type: ignore[no-untyped-call]
    engines = [e for e in (db.engine, db.relaxed_engine) if e is not None]
    # skip_dep_check: the instrumentation declares sqlalchemy < 2.1 and would do nothing on 2.1;
    # it only listens to the engine's cursor events, which 2.1 keeps (tests/api/test_operable_server.py)
    SQLAlchemyInstrumentor().instrument(
        engines=engines, tracer_provider=provider, skip_dep_check=True
    )
    return provider
