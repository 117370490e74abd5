"""One error shape everywhere, JSON-pointer validation paths, unknown fields, malformed and
oversized bodies, unknown routes and methods; and nothing is stored after a rejected request."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from storage import models as m
from tests.support.http import assert_error_shape

SEGMENTS = "/v1/admin/segments"
TIERS = "/v1/admin/tiers"


def counts(db, tenant_id: str) -> dict[str, int]:
    tenant = uuid.UUID(tenant_id)
    with db.transaction() as s:
        return {
            model.__tablename__: s.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == tenant)
            )
            for model in (m.Segment, m.Tier, m.AddOn, m.AddOnTier, m.Capacity, m.Blackout)
        }


def tier_body(segment_id: str, **extra) -> dict:
    return {
        "segment_id": segment_id,
        "level": 1,
        "name": "T",
        "base_price": {"amount": 100, "currency": "EUR"},
        "max_guests": 2,
        **extra,
    }


# ---- the shape --------------------------------------------------------------------------------


def test_every_kind_of_error_has_the_same_shape(client, tenant_a):
    a = tenant_a
    seg = f"{SEGMENTS}/{a.segment.id}"
    cases = [
        (client.get(SEGMENTS), 401, "unauthenticated"),
        (client.get(SEGMENTS, headers=a.storefront), 403, "storefront_key_on_admin"),
        (
            client.post(SEGMENTS, headers=a.analyst, json={"key": "k", "name": "n"}),
            403,
            "role_forbidden",
        ),
        (client.get(f"{SEGMENTS}/{uuid.uuid4()}", headers=a.admin), 404, "segment_not_found"),
        (client.get("/v1/admin/nothing-here", headers=a.admin), 404, "not_found"),
        (client.get(f"{SEGMENTS}/not-a-uuid", headers=a.admin), 404, "not_found"),
        (client.delete(SEGMENTS, headers=a.admin), 405, "method_not_allowed"),
        (
            client.post(SEGMENTS, headers=a.admin, json={"key": a.segment.key, "name": "x"}),
            409,
            "segment_key_taken",
        ),
        (
            client.patch(seg, headers={**a.admin, "If-Match": '"9"'}, json={"name": "x"}),
            412,
            "version_mismatch",
        ),
        (
            client.post(SEGMENTS, headers=a.admin, json={"key": "k", "name": "n" * 70_000}),
            413,
            "payload_too_large",
        ),
        (client.post(SEGMENTS, headers=a.admin, json={}), 422, "validation_error"),
        (client.patch(seg, headers=a.admin, json={"name": "x"}), 428, "if_match_required"),
        (
            client.post(
                SEGMENTS, headers={**a.admin, "Content-Type": "application/json"}, data="{"
            ),
            400,
            "bad_request",
        ),
        (
            client.get("/v1/storefront/segments", headers={"X-Api-Key": "tw_pk_" + "0" * 40}),
            401,
            "invalid_api_key",
        ),
    ]
    for response, status, code in cases:
        assert_error_shape(response, status, code)


def test_405_lists_the_allowed_methods(client, tenant_a):
    response = client.put(SEGMENTS, headers=tenant_a.admin, json={})
    assert_error_shape(response, 405, "method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_unknown_route_is_404_in_the_error_shape_without_credentials(client):
    assert_error_shape(client.get("/nope"), 404, "not_found")
    assert_error_shape(client.post("/v1/unknown/route", json={"a": 1}), 404, "not_found")


def test_supplied_request_id_is_echoed_in_the_error(client, tenant_a):
    response = client.get(
        f"{SEGMENTS}/{uuid.uuid4()}", headers={**tenant_a.admin, "X-Request-Id": "req-123"}
    )
    assert_error_shape(response, 404)
    assert response.get_json()["request_id"] == "req-123"
    # An over-long supplied id is replaced by a generated one.
    long = client.get("/nope", headers={"X-Request-Id": "x" * 65})
    assert long.get_json()["request_id"] == long.headers["X-Request-Id"] != "x" * 65


def test_unexpected_exceptions_are_500_in_the_error_shape(client, tenant_a, monkeypatch):
    from app.services import catalog

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(catalog, "list_segments", boom)
    response = client.get(SEGMENTS, headers=tenant_a.admin)
    error = assert_error_shape(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "details" not in error


def test_a_lost_database_connection_is_503_with_retry_after(client, tenant_a, monkeypatch):
    """What SQLAlchemy raises when the connection died under a statement (the pool replaces it:
    tests/integration/test_db_engine.py): retryable, not a bug."""
    from sqlalchemy.exc import OperationalError

    from app.services import catalog

    def lost(*args, **kwargs):
        raise OperationalError(
            "SELECT 1", {}, Exception("server closed"), connection_invalidated=True
        )

    monkeypatch.setattr(catalog, "list_segments", lost)
    response = client.get(SEGMENTS, headers=tenant_a.admin)
    assert_error_shape(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "1"
    assert "server closed" not in response.get_data(as_text=True)


def test_other_database_errors_stay_500(client, tenant_a, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from app.services import catalog

    def failed(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("deadlock"), connection_invalidated=False)

    monkeypatch.setattr(catalog, "list_segments", failed)
    assert_error_shape(client.get(SEGMENTS, headers=tenant_a.admin), 500, "internal_error")


# ---- validation details -----------------------------------------------------------------------


def test_422_details_are_json_pointers(client, db, tenant_a):
    before = counts(db, tenant_a.tenant.id)
    body = tier_body(
        tenant_a.segment.id,
        base_price={"amount": -1, "currency": "EUR"},
        features=[
            {"key": "ok", "label": "Ok", "value": 1},
            {"key": "Bad Key", "label": "", "value": 1},
        ],
    )
    error = assert_error_shape(
        client.post(TIERS, headers=tenant_a.admin, json=body), 422, "validation_error"
    )
    assert error["message"] == "The request did not validate."
    by_path = {d["path"]: d["message"] for d in error["details"]}
    assert set(by_path) == {
        "/json/base_price/amount",
        "/json/features/1/key",
        "/json/features/1/label",
    }
    assert by_path["/json/base_price/amount"].startswith("Must be greater than or equal to 0")
    assert counts(db, tenant_a.tenant.id) == before


def test_missing_required_fields_are_listed_one_by_one(client, db, tenant_a):
    error = assert_error_shape(
        client.post(TIERS, headers=tenant_a.admin, json={}), 422, "validation_error"
    )
    assert {d["path"] for d in error["details"]} == {
        "/json/segment_id",
        "/json/level",
        "/json/name",
        "/json/base_price",
        "/json/max_guests",
    }
    assert {d["message"] for d in error["details"]} == {"Missing data for required field."}


def test_query_errors_point_into_the_query(client, tenant_a):
    for query, pointer in (
        ({"page": 0}, "/query/page"),
        ({"segment_id": "x"}, "/query/segment_id"),
    ):
        response = client.get(TIERS, headers=tenant_a.admin, query_string=query)
        error = assert_error_shape(response, 422, "validation_error")
        assert [d["path"] for d in error["details"]] == [pointer]


def test_json_pointer_escapes_slash_and_tilde(client, tenant_a):
    response = client.post(
        SEGMENTS, headers=tenant_a.admin, json={"key": "k", "name": "n", "a/b~c": 1}
    )
    error = assert_error_shape(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/json/a~1b~0c"]


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        (SEGMENTS, {"key": "k", "name": "n", "color": "red"}, "/json/color"),
        (
            "/v1/admin/add-ons",
            {
                "key": "k",
                "name": "n",
                "pricing": "flat",
                "price": {"amount": 1, "currency": "EUR", "tax": 1},
            },
            "/json/price/tax",
        ),
        ("/v1/admin/blackouts", {"from": "2031-01-01", "until": "2031-01-02"}, "/json/until"),
    ],
)
def test_unknown_body_fields_are_rejected_and_nothing_is_stored(
    client, db, tenant_a, path, body, pointer
):
    before = counts(db, tenant_a.tenant.id)
    error = assert_error_shape(client.post(path, headers=tenant_a.admin, json=body), 422)
    assert {d["path"] for d in error["details"]} == {pointer}
    assert error["details"][0]["message"] == "Unknown field."
    assert counts(db, tenant_a.tenant.id) == before


def test_unknown_nested_tier_fields_on_patch_are_rejected(client, tenant_a):
    url = f"{TIERS}/{tenant_a.tiers[0].id}"
    response = client.patch(
        url,
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"features": [{"key": "k", "label": "K", "value": 1, "icon": "x"}]},
    )
    error = assert_error_shape(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/json/features/0/icon"]
    assert client.get(url, headers=tenant_a.admin).get_json()["version"] == 1


# ---- malformed and oversized bodies -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["{", '{"key": "k",}', "not json", '{"key": "k"'])
def test_malformed_json_is_400_in_the_error_shape_and_nothing_is_stored(client, db, tenant_a, raw):
    before = counts(db, tenant_a.tenant.id)
    response = client.post(
        SEGMENTS, headers={**tenant_a.admin, "Content-Type": "application/json"}, data=raw
    )
    assert_error_shape(response, 400, "bad_request")
    assert counts(db, tenant_a.tenant.id) == before


@pytest.mark.parametrize("raw", ["[]", "null", "12", '"text"'])
def test_json_that_is_not_an_object_is_422(client, db, tenant_a, raw):
    before = counts(db, tenant_a.tenant.id)
    response = client.post(
        SEGMENTS, headers={**tenant_a.admin, "Content-Type": "application/json"}, data=raw
    )
    error = assert_error_shape(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/json/_schema"]
    assert counts(db, tenant_a.tenant.id) == before


def test_body_above_max_body_bytes_is_413_and_nothing_is_stored(client, db, settings, tenant_a):
    before = counts(db, tenant_a.tenant.id)
    limit = settings.max_body_bytes
    big = {"key": "big", "name": "n" * (limit + 1)}
    error = assert_error_shape(
        client.post(SEGMENTS, headers=tenant_a.admin, json=big), 413, "payload_too_large"
    )
    assert "details" not in error
    # Large blackouts/capacity bodies too, on PUT.
    capacity = f"{TIERS}/{tenant_a.tiers[0].id}/capacity"
    huge = '{"from": "2031-01-01", "units": 1, "pad": "' + "x" * limit + '"}'
    response = client.put(
        capacity, headers={**tenant_a.admin, "Content-Type": "application/json"}, data=huge
    )
    assert_error_shape(response, 413, "payload_too_large")
    # Just under the limit the body is read and validated (name too long), not refused as large.
    under = {"key": "big", "name": "n" * (limit - 100)}
    assert_error_shape(client.post(SEGMENTS, headers=tenant_a.admin, json=under), 422)
    assert counts(db, tenant_a.tenant.id) == before


def test_rejected_requests_store_nothing_across_resources(client, db, tenant_a):
    """A mix of refused writes (validation, conflict, precondition) leaves every table as it was."""
    a = tenant_a
    before = counts(db, a.tenant.id)
    refused = [
        client.post(TIERS, headers=a.admin, json=tier_body(a.segment.id, level=2)),  # 409
        client.post(TIERS, headers=a.admin, json=tier_body(a.segment.id, max_guests=0)),  # 422
        client.post(
            "/v1/admin/add-ons",
            headers=a.admin,
            json={
                "key": "x",
                "name": "X",
                "pricing": "flat",
                "price": {"amount": 1, "currency": "USD"},
            },
        ),  # 422
        client.put(
            f"{TIERS}/{a.tiers[0].id}/capacity",
            headers=a.admin,
            json={"from": "2031-01-01", "units": -3},
        ),  # 422
        client.post(
            f"{SEGMENTS}/{a.segment.id}/clone",
            headers=a.admin,
            json={"key": a.segment.key, "name": "c"},
        ),  # 409
        client.patch(f"{TIERS}/{a.tiers[0].id}", headers=a.admin, json={"name": "x"}),  # 428
    ]
    assert [r.status_code for r in refused] == [409, 422, 422, 422, 409, 428]
    for response in refused:
        assert_error_shape(response, response.status_code)
    assert counts(db, a.tenant.id) == before


def test_every_response_says_no_store_and_carries_its_request_id(client, tenant_a):
    """Prices and errors are never cached by a proxy, and every response names its request."""
    ok = client.get(SEGMENTS, headers=tenant_a.admin)
    missing = client.get("/v1/admin/segments/" + str(uuid.uuid4()), headers=tenant_a.admin)
    for response in (ok, missing):
        assert response.headers.getlist("Cache-Control") == ["no-store"]
        assert len(response.headers["X-Request-Id"]) == 32
    mine = client.get(SEGMENTS, headers={**tenant_a.admin, "X-Request-Id": "trace-1"})
    assert mine.headers["X-Request-Id"] == "trace-1"
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.headers.getlist("Cache-Control") == ["no-store"]
