"""Platform operators: create, list, get and patch (suspend / reactivate) tenants."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from storage import models as m
from tests.support.http import error_of

TENANTS = "/v1/platform/tenants"


def tenant_row(db, slug: str) -> m.Tenant | None:
    with db.transaction() as s:
        return s.scalars(select(m.Tenant).where(m.Tenant.slug == slug)).first()


def new_tenant(**extra) -> dict:
    return {
        "slug": "acme",
        "name": "Acme",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        **extra,
    }


def test_create_get_and_list(client, db, platform_headers):
    response = client.post(
        TENANTS, headers=platform_headers, json=new_tenant(currency="JPY", time_zone="Asia/Tokyo")
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    created = response.get_json()
    assert created == {
        "id": created["id"],
        "slug": "acme",
        "name": "Acme",
        "currency": "JPY",
        "time_zone": "Asia/Tokyo",
        "status": "active",
        "default_capacity": 0,
        "version": 1,
        "refund_window_hours": 48,
        "refund_application_fee": True,
        "decision_retention_days": None,
        "notification_email": "",
    }

    fetched = client.get(f"{TENANTS}/{created['id']}", headers=platform_headers)
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.get_json() == created

    listed = client.get(TENANTS, headers=platform_headers, query_string={"page_size": 200})
    assert created in listed.get_json()
    assert json.loads(listed.headers["X-Pagination"])["total"] == len(listed.get_json())

    row = tenant_row(db, "acme")
    assert (str(row.id), row.currency, row.time_zone, row.status) == (
        created["id"],
        "JPY",
        "Asia/Tokyo",
        "active",
    )


def test_list_is_ordered_by_slug_and_paginated(client, db, platform_headers):
    before = json.loads(client.get(TENANTS, headers=platform_headers).headers["X-Pagination"])[
        "total"
    ]
    for slug in ("zz-c", "zz-a", "zz-b"):
        assert (
            client.post(TENANTS, headers=platform_headers, json=new_tenant(slug=slug)).status_code
            == 201
        )
    total = before + 3
    last_page = client.get(
        TENANTS, headers=platform_headers, query_string={"page": total, "page_size": 1}
    )
    meta = json.loads(last_page.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (total, total, total)
    slugs = [
        t["slug"]
        for t in client.get(TENANTS, headers=platform_headers, query_string={"page_size": 200}).json
    ]
    assert slugs == sorted(slugs)
    assert slugs[-3:] == ["zz-a", "zz-b", "zz-c"]


def test_slug_conflict_is_409_and_the_first_tenant_is_kept(client, db, platform_headers):
    assert client.post(TENANTS, headers=platform_headers, json=new_tenant()).status_code == 201
    response = client.post(
        TENANTS, headers=platform_headers, json=new_tenant(name="Other", currency="USD")
    )
    error_of(response, 409, "tenant_slug_taken")
    row = tenant_row(db, "acme")
    assert (row.name, row.currency) == ("Acme", "EUR")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("currency", "EURO"),
        ("currency", "eur"),
        ("currency", "XXX"),
        ("time_zone", "Mars/Olympus"),
        ("time_zone", "Europe"),  # a directory of the tz database, not a zone
        ("time_zone", "../../etc/passwd"),
        ("time_zone", "Europe/" + "x" * 300),
        ("time_zone", ""),
        ("slug", "Acme Corp"),
        ("slug", "a" * 64),  # tenants.slug is VARCHAR(63)
        ("default_capacity", -1),
    ],
)
def test_invalid_fields_are_422_and_nothing_is_stored(client, db, platform_headers, field, value):
    body = new_tenant(slug="invalid-one")
    body[field] = value
    response = client.post(TENANTS, headers=platform_headers, json=body)
    error = error_of(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == [f"/json/{field}"]
    assert tenant_row(db, "invalid-one") is None
    if field == "slug":
        assert tenant_row(db, value) is None


def test_longest_slug_is_accepted(client, db, platform_headers):
    slug = "a" * 63
    response = client.post(TENANTS, headers=platform_headers, json=new_tenant(slug=slug))
    assert response.status_code == 201, response.get_json()
    assert tenant_row(db, slug) is not None


def test_patch_requires_if_match_and_refuses_stale_versions(client, db, platform_headers, tenant_a):
    url = f"{TENANTS}/{tenant_a.tenant.id}"
    error_of(
        client.patch(url, headers=platform_headers, json={"status": "suspended"}),
        428,
        "if_match_required",
    )
    error_of(
        client.patch(
            url, headers={**platform_headers, "If-Match": '"9"'}, json={"status": "suspended"}
        ),
        412,
        "version_mismatch",
    )
    row = tenant_row(db, tenant_a.tenant.slug)
    assert (row.status, row.version) == ("active", 1)


def test_suspend_and_reactivate(client, db, platform_headers, tenant_a):
    url = f"{TENANTS}/{tenant_a.tenant.id}"
    response = client.patch(
        url,
        headers={**platform_headers, "If-Match": '"1"'},
        json={"status": "suspended", "name": "Acme (on hold)", "default_capacity": 9},
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"2"'
    body = response.get_json()
    assert (body["status"], body["name"], body["default_capacity"], body["version"]) == (
        "suspended",
        "Acme (on hold)",
        9,
        2,
    )
    assert client.get(url, headers=platform_headers).get_json()["status"] == "suspended"
    row = tenant_row(db, tenant_a.tenant.slug)
    assert (row.status, row.name, row.default_capacity, row.version) == (
        "suspended",
        "Acme (on hold)",
        9,
        2,
    )
    error_of(
        client.get("/v1/storefront/segments", headers=tenant_a.storefront), 403, "tenant_suspended"
    )

    back = client.patch(
        url, headers={**platform_headers, "If-Match": '"2"'}, json={"status": "active"}
    )
    assert back.status_code == 200
    assert back.get_json()["version"] == 3
    assert tenant_row(db, tenant_a.tenant.slug).status == "active"
    assert client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code == 200


def test_patch_rejects_unknown_status_and_immutable_fields(client, db, platform_headers, tenant_a):
    url = f"{TENANTS}/{tenant_a.tenant.id}"
    for change, pointer in (
        ({"status": "deleted"}, "/json/status"),
        ({"currency": "USD"}, "/json/currency"),
        ({"slug": "renamed"}, "/json/slug"),
        ({"time_zone": "Nowhere/Land"}, "/json/time_zone"),
    ):
        response = client.patch(url, headers={**platform_headers, "If-Match": '"1"'}, json=change)
        error = error_of(response, 422, "validation_error")
        assert [d["path"] for d in error["details"]] == [pointer]
    row = tenant_row(db, tenant_a.tenant.slug)
    assert (row.status, row.currency, row.version) == ("active", "EUR", 1)


def test_unknown_tenant_is_404(client, platform_headers):
    url = f"{TENANTS}/{uuid.uuid4()}"
    error_of(client.get(url, headers=platform_headers), 404, "tenant_not_found")
    error_of(
        client.patch(url, headers={**platform_headers, "If-Match": '"1"'}, json={"name": "x"}),
        404,
        "tenant_not_found",
    )


def test_tenant_roles_cannot_use_platform_routes(client, db, tenant_a):
    for headers in (tenant_a.admin, tenant_a.analyst):
        error_of(
            client.post(TENANTS, headers=headers, json=new_tenant(slug="sneaky")),
            403,
            "role_forbidden",
        )
        error_of(
            client.patch(
                f"{TENANTS}/{tenant_a.tenant.id}",
                headers={**headers, "If-Match": '"1"'},
                json={"status": "suspended"},
            ),
            403,
            "role_forbidden",
        )
    assert tenant_row(db, "sneaky") is None
    assert tenant_row(db, tenant_a.tenant.slug).status == "active"
