"""The access log line gunicorn writes through our logger class: one line per request with the
request id decision records carry."""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

from gunicorn.config import Config

from app.http.access_log import AccessLog


def _logger(accesslog: str | None) -> AccessLog:
    cfg = Config()
    cfg.set("accesslog", accesslog)
    cfg.set("logger_class", "app.http.access_log.AccessLog")
    return AccessLog(cfg)


def _request(sent: int | None = 5003):
    resp = SimpleNamespace(
        status="200 OK",
        sent=sent,
        headers=[
            ("Content-Type", "application/json"),
            ("X-Request-Id", "7b95c88d3da644d3a0c29db414ca868f"),
        ],
    )
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "RAW_URI": "/v1/storefront/segments/premium/offers?date=2026-12-08&guests=2",
    }
    return resp, SimpleNamespace(), environ, dt.timedelta(microseconds=8214)


def test_one_line_with_status_size_duration_and_request_id(capsys):
    _logger("-").access(*_request())
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        r"10\.0\.0\.7 \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
        r'"GET /v1/storefront/segments/premium/offers\?date=2026-12-08&guests=2 HTTP/1\.1" '
        r"200 5003 8\.214ms 7b95c88d3da644d3a0c29db414ca868f",
        line,
    ), line


def test_nothing_sent_and_no_request_id_show_as_dashes(capsys):
    resp, req, environ, took = _request(sent=None)
    resp.headers = []
    _logger("-").access(resp, req, environ, took)
    assert capsys.readouterr().out.strip().endswith('" 200 - 8.214ms -')


def test_no_access_log_configured_writes_nothing(capsys):
    _logger(None).access(*_request())
    assert capsys.readouterr().out == ""


def test_a_request_id_that_is_no_safe_token_shows_as_a_dash(capsys):
    """The app only echoes safe tokens (app.http.incoming); whatever else a response carries (a
    proxy's header, another app's) can't break the line or forge another."""
    for hostile in ("a\tb", "x\x85127.0.0.1 [06/Dec/2026]", 'a" 200', "a b", "x" * 65):
        resp, req, environ, took = _request()
        resp.headers = [("X-Request-Id", hostile)]
        _logger("-").access(resp, req, environ, took)
        line = capsys.readouterr().out
        assert line.endswith(" 8.214ms -\n"), repr(line)
        assert line.count("\n") == 1 and "\t" not in line and "\x85" not in line


def test_quotes_and_backslashes_in_the_url_are_escaped(capsys):
    resp, req, environ, took = _request()
    environ["RAW_URI"] = '/v1/x?q="a\\b"'
    _logger("-").access(resp, req, environ, took)
    assert '"GET /v1/x?q=\\"a\\\\b\\" HTTP/1.1" 200' in capsys.readouterr().out
