"""The settings of metrics, rate limits, log format and traces: defaults and refusals."""

from __future__ import annotations

import json
import logging

import pytest

from app.logs import JsonFormatter
from config import Settings
from config.settings import valid_rate_limit
from tests.unit.test_settings import EMBEDDED, problems


def test_defaults() -> None:
    settings = Settings.from_env(EMBEDDED)
    assert settings.metrics_token == ""
    assert settings.rate_limit_storefront == "60000/minute"
    assert settings.rate_limit_admin == "1200/minute"
    assert settings.rate_limit_login == "60/minute"
    assert settings.log_format == "text"
    assert settings.otel_exporter_otlp_endpoint == ""


def test_given_values_and_off() -> None:
    settings = Settings.from_env(
        {
            **EMBEDDED,
            "METRICS_TOKEN": "m" * 16,
            "RATE_LIMIT_STOREFRONT": "100/second;20000/hour",
            "RATE_LIMIT_ADMIN": "OFF",
            "RATE_LIMIT_LOGIN": "5 per minute",
            "LOG_FORMAT": "JSON",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        }
    )
    assert settings.metrics_token == "m" * 16
    assert settings.rate_limit_storefront == "100/second;20000/hour"
    assert settings.rate_limit_admin == ""  # off: no limit
    assert settings.rate_limit_login == "5 per minute"
    assert settings.log_format == "json"
    assert settings.otel_exporter_otlp_endpoint == "http://collector:4318"
    assert "m" * 16 not in repr(settings)


@pytest.mark.parametrize(
    "value", ["600/minute", "10/second", "1 per 2 hours", "10/second; 500/hour", "3/day,7/month"]
)
def test_rates_in_flask_limiters_notation(value: str) -> None:
    from limits import parse_many

    assert valid_rate_limit(value)
    assert parse_many(value)  # flask-limiter reads what the settings accept


@pytest.mark.parametrize(
    "value", ["lots", "0/minute", "10/fortnight", "10", "/minute", "10/minute;"]
)
def test_rates_refused(value: str) -> None:
    assert not valid_rate_limit(value)
    assert problems({**EMBEDDED, "RATE_LIMIT_STOREFRONT": value}) == [
        "RATE_LIMIT_STOREFRONT must be a rate like '600/minute' or '10/second;500/hour', "
        f"or 'off', got {value!r}"
    ]


def test_other_refusals_reported_together() -> None:
    assert problems(
        {
            **EMBEDDED,
            "METRICS_TOKEN": "short",
            "LOG_FORMAT": "yaml",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
        }
    ) == [
        "METRICS_TOKEN must be at least 16 characters when set",
        "LOG_FORMAT must be 'text' or 'json', got 'yaml'",
        "OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https://",
    ]


def test_a_json_line_outside_a_request() -> None:
    record = logging.LogRecord("tierwise", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["event"] == "a b" and data["level"] == "WARNING"
    assert {k: data[k] for k in ("request_id", "tenant", "route", "status", "duration_ms")} == {
        "request_id": None,
        "tenant": None,
        "route": None,
        "status": None,
        "duration_ms": None,
    }
