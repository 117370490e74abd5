"""Assertions shared by the API tests."""

from __future__ import annotations


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    """The error of ``response``, after checking it has the one error shape, in every detail."""
    assert response.status_code == status, (response.status_code, response.get_data())
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "request_id"}, body
    error = body["error"]
    assert set(error) <= {"code", "message", "details"}
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, body
    if "details" in error:
        assert error["details"], "details, when present, is not empty"
        for detail in error["details"]:
            assert set(detail) == {"path", "message"}
            assert detail["path"].startswith("/")
    assert body["request_id"] == response.headers["X-Request-Id"]
    return error


def error_of(response, status: int, code: str) -> dict:
    """The error body of ``response``, after checking its status, shape and machine code."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code, body
    return body["error"]


def ok(response, status: int = 200):
    """The JSON body of ``response``, after checking its status."""
    assert response.status_code == status, response.get_json()
    return response.get_json()
