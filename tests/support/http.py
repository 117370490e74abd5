"""Assertions shared by the API tests."""

from __future__ import annotations


def error_of(response, status: int, code: str) -> dict:
    """The error body of ``response``, after checking its status, shape and machine code."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code, body
    return body["error"]
