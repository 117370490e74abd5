"""Vendored web assets are the files their note names, served by tierwise; Swagger UI at /docs
loads nothing from elsewhere."""

from __future__ import annotations

import hashlib
import re

from app.http.vendor import SWAGGER_UI, VENDOR


def test_vendored_files_match_their_checksums():
    note = (VENDOR / "README.md").read_text()
    listed = re.findall(r"^\| ([\w.-]+) \| ([0-9a-f]{64}) \|$", note, re.MULTILINE)
    assert len(listed) == 3
    for name, digest in listed:
        assert hashlib.sha256((VENDOR / SWAGGER_UI / name).read_bytes()).hexdigest() == digest


def test_swagger_ui_is_served_offline(client):
    page = client.get("/docs").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith(f"/static/vendor/{SWAGGER_UI}/") for s in sources), sources
    for source in sources:
        response = client.get(source)
        assert response.status_code == 200, source
        assert "immutable" in response.headers["Cache-Control"]
    assert client.get("/static/vendor/../cli.py").status_code == 404
