"""Admin segments: CRUD, ETags and If-Match, archive/restore, clone, pagination.

Every test asserts the response and what was stored (re-read through the API or the database).
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from app import create_app
from app.services import catalog
from storage import models as m
from tests.support.http import error_of
from tests.support.rows import count

SEGMENTS = "/v1/admin/segments"
TIERS = "/v1/admin/tiers"


def pagination(response) -> dict:
    return json.loads(response.headers["X-Pagination"])


def segment_rows(db, tenant_id: str) -> list[m.Segment]:
    with db.transaction() as s:
        return list(
            s.scalars(
                select(m.Segment)
                .where(m.Segment.tenant_id == uuid.UUID(tenant_id))
                .order_by(m.Segment.key)
            )
        )


def create(client, fx, **body):
    return client.post(SEGMENTS, headers=fx.admin, json=body)


# ---- create / read ----------------------------------------------------------------------------


def test_create_returns_201_with_etag_and_is_stored(client, db, tenant_a):
    response = create(client, tenant_a, key="budget", name="Budget", position=3)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["ETag"] == '"1"'
    assert body == {
        "id": body["id"],
        "key": "budget",
        "name": "Budget",
        "position": 3,
        "status": "active",
        "version": 1,
        "theme": {"primary_color": None, "accent_color": None, "font_family": None, "radius": None},
    }

    fetched = client.get(f"{SEGMENTS}/{body['id']}", headers=tenant_a.admin)
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.get_json() == body

    rows = {r.key: r for r in segment_rows(db, tenant_a.tenant.id)}
    assert set(rows) == {tenant_a.segment.key, "budget"}
    assert str(rows["budget"].id) == body["id"]
    assert (rows["budget"].name, rows["budget"].position) == ("Budget", 3)


def test_position_defaults_to_zero(client, tenant_a):
    body = create(client, tenant_a, key="nopos", name="No position").get_json()
    assert body["position"] == 0
    assert (
        client.get(f"{SEGMENTS}/{body['id']}", headers=tenant_a.admin).get_json()["position"] == 0
    )


def test_duplicate_key_is_409_and_nothing_is_added(client, db, tenant_a, tenant_b):
    response = create(client, tenant_a, key=tenant_a.segment.key, name="Again")
    error = error_of(response, 409, "segment_key_taken")
    assert error["message"]
    rows = segment_rows(db, tenant_a.tenant.id)
    assert [(r.key, r.name) for r in rows] == [(tenant_a.segment.key, "Premium")]
    # Keys are unique per tenant only: another tenant may use the same key.
    other = create(client, tenant_b, key=tenant_a.segment.key, name="Theirs")
    assert other.status_code == 201, other.get_json()


def test_invalid_key_is_422_and_nothing_is_stored(client, db, tenant_a):
    response = create(client, tenant_a, key="Not A Key", name="X", position=-1)
    error = error_of(response, 422, "validation_error")
    assert {d["path"] for d in error["details"]} == {"/json/key", "/json/position"}
    assert len(segment_rows(db, tenant_a.tenant.id)) == 1


def test_unknown_segment_is_404(client, tenant_a):
    response = client.get(f"{SEGMENTS}/{uuid.uuid4()}", headers=tenant_a.admin)
    error_of(response, 404, "segment_not_found")


# ---- update with If-Match ---------------------------------------------------------------------


def test_patch_without_if_match_is_428_and_nothing_changes(client, db, tenant_a):
    url = f"{SEGMENTS}/{tenant_a.segment.id}"
    response = client.patch(url, headers=tenant_a.admin, json={"name": "Renamed"})
    error_of(response, 428, "if_match_required")
    after = client.get(url, headers=tenant_a.admin)
    assert after.get_json()["name"] == "Premium"
    assert after.get_json()["version"] == 1
    assert after.headers["ETag"] == '"1"'


def test_patch_with_stale_if_match_is_412_and_nothing_changes(client, db, tenant_a):
    url = f"{SEGMENTS}/{tenant_a.segment.id}"
    for stale in ('"2"', '"0"', "garbage"):
        response = client.patch(
            url, headers={**tenant_a.admin, "If-Match": stale}, json={"name": "Renamed"}
        )
        error_of(response, 412, "version_mismatch")
    [row] = segment_rows(db, tenant_a.tenant.id)
    assert (row.name, row.version) == ("Premium", 1)


def test_patch_with_current_if_match_updates_and_bumps_the_version(client, db, tenant_a):
    url = f"{SEGMENTS}/{tenant_a.segment.id}"
    etag = client.get(url, headers=tenant_a.admin).headers["ETag"]
    response = client.patch(
        url, headers={**tenant_a.admin, "If-Match": etag}, json={"name": "Renamed", "position": 7}
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"2"'
    assert response.get_json()["version"] == 2
    assert response.get_json()["name"] == "Renamed"

    fetched = client.get(url, headers=tenant_a.admin).get_json()
    assert (fetched["name"], fetched["position"], fetched["version"]) == ("Renamed", 7, 2)
    [row] = segment_rows(db, tenant_a.tenant.id)
    assert (row.name, row.position, row.version) == ("Renamed", 7, 2)

    # The ETag read before the update is stale now.
    again = client.patch(url, headers={**tenant_a.admin, "If-Match": etag}, json={"name": "Lost"})
    error_of(again, 412, "version_mismatch")
    assert client.get(url, headers=tenant_a.admin).get_json()["name"] == "Renamed"


def test_patch_to_a_taken_key_is_409_and_nothing_changes(client, db, tenant_a):
    other = create(client, tenant_a, key="other", name="Other").get_json()
    response = client.patch(
        f"{SEGMENTS}/{other['id']}",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"key": tenant_a.segment.key},
    )
    error_of(response, 409, "segment_key_taken")
    fetched = client.get(f"{SEGMENTS}/{other['id']}", headers=tenant_a.admin).get_json()
    assert (fetched["key"], fetched["version"]) == ("other", 1)


def test_patch_rejects_status_and_unknown_fields(client, db, tenant_a):
    url = f"{SEGMENTS}/{tenant_a.segment.id}"
    response = client.patch(
        url, headers={**tenant_a.admin, "If-Match": '"1"'}, json={"status": "archived"}
    )
    error = error_of(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/json/status"]
    assert segment_rows(db, tenant_a.tenant.id)[0].status == "active"


# ---- archive / restore ------------------------------------------------------------------------


def test_archive_and_restore(client, db, tenant_a):
    url = f"{SEGMENTS}/{tenant_a.segment.id}"
    archived = client.post(f"{url}/archive", headers=tenant_a.admin)
    assert archived.status_code == 200, archived.get_json()
    assert archived.get_json()["status"] == "archived"
    assert archived.headers["ETag"] == f'"{archived.get_json()["version"]}"'
    assert archived.get_json()["version"] == 2

    listed = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"status": "archived"})
    assert [s["id"] for s in listed.get_json()] == [tenant_a.segment.id]
    active = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"status": "active"})
    assert active.get_json() == []
    assert segment_rows(db, tenant_a.tenant.id)[0].status == "archived"
    # Archiving a segment leaves its tiers alone.
    tiers = client.get(TIERS, headers=tenant_a.admin, query_string={"segment_id": url[-36:]})
    assert [t["status"] for t in tiers.get_json()] == ["active"] * 3

    restored = client.post(f"{url}/restore", headers=tenant_a.admin)
    assert restored.status_code == 200
    assert restored.get_json()["status"] == "active"
    assert restored.get_json()["version"] == 3
    assert client.get(url, headers=tenant_a.admin).get_json()["status"] == "active"


def test_status_filter_is_validated(client, tenant_a):
    response = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"status": "deleted"})
    error = error_of(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/query/status"]


# ---- pagination -------------------------------------------------------------------------------


def test_pagination_pages_in_position_order_with_total_header(client, db, tenant_a):
    for i, key in enumerate(["e", "d", "c", "b"]):
        create(client, tenant_a, key=key, name=key.upper(), position=10 + i)
    # positions: fixture segment 1, e 10, d 11, c 12, b 13
    expected = [tenant_a.segment.key, "e", "d", "c", "b"]
    seen = []
    for page in (1, 2, 3):
        response = client.get(
            SEGMENTS, headers=tenant_a.admin, query_string={"page": page, "page_size": 2}
        )
        assert response.status_code == 200
        meta = pagination(response)
        assert meta["total"] == 5
        assert meta["total_pages"] == 3
        assert meta["page"] == page
        seen += [s["key"] for s in response.get_json()]
    assert seen == expected

    beyond = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"page": 9, "page_size": 2})
    assert beyond.get_json() == []
    assert pagination(beyond)["total"] == 5


def test_default_and_maximum_page_size_come_from_settings(settings, db, cache, tenant_a):
    """DEFAULT_PAGE_SIZE / MAX_PAGE_SIZE are configuration (docs/operations.md), not library defaults."""
    client = create_app(
        settings.replace(default_page_size=2, max_page_size=3), db=db, cache=cache
    ).test_client()
    for key in ("x1", "x2", "x3"):
        catalog.create_segment(db, tenant_a.tenant, {"key": key, "name": key, "position": 5})
    default = client.get(SEGMENTS, headers=tenant_a.admin)
    assert len(default.get_json()) == 2
    assert pagination(default)["total"] == 4
    assert pagination(default)["total_pages"] == 2
    assert (
        len(client.get(SEGMENTS, headers=tenant_a.admin, query_string={"page_size": 3}).json) == 3
    )
    too_big = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"page_size": 4})
    error = error_of(too_big, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/query/page_size"]


def test_documented_default_page_size_is_50(client, db, tenant_a):
    for i in range(55):
        catalog.create_segment(
            db, tenant_a.tenant, {"key": f"s{i:02d}", "name": "S", "position": 9}
        )
    response = client.get(SEGMENTS, headers=tenant_a.admin)
    assert len(response.get_json()) == 50
    assert pagination(response)["total"] == 56
    full = client.get(SEGMENTS, headers=tenant_a.admin, query_string={"page_size": 200})
    assert len(full.get_json()) == 56
    error_of(
        client.get(SEGMENTS, headers=tenant_a.admin, query_string={"page_size": 201}),
        422,
        "validation_error",
    )


# ---- clone ------------------------------------------------------------------------------------


def test_clone_copies_active_tiers_repoints_upsells_and_extends_add_on_limits(client, db, tenant_a):
    a = tenant_a
    h = a.admin
    l1, l2, l3 = a.tiers
    # Another segment with a tier, used as an upsell target outside the source segment.
    other = create(client, a, key="other", name="Other").get_json()
    outside = client.post(
        TIERS,
        headers=h,
        json={
            "segment_id": other["id"],
            "level": 1,
            "name": "Outside",
            "base_price": {"amount": 500, "currency": "EUR"},
            "max_guests": 2,
        },
    ).get_json()
    # An archived tier in the source segment must not be copied.
    assert client.post(f"{TIERS}/{l1.id}/archive", headers=h).status_code == 200
    new_l1 = client.post(
        TIERS,
        headers=h,
        json={
            "segment_id": a.segment.id,
            "level": 1,
            "name": "Essential II",
            "base_price": {"amount": 9000, "currency": "EUR"},
            "max_guests": 4,
            "description": "Entry",
            "photos": ["https://img.example/1.jpg"],
            "upsell_target_ids": [l2.id],
        },
    ).get_json()
    patched = client.patch(
        f"{TIERS}/{l2.id}",
        headers={**h, "If-Match": '"1"'},
        json={"upsell_target_ids": [l3.id, outside["id"]]},
    )
    assert patched.status_code == 200, patched.get_json()
    spa = client.post(
        "/v1/admin/add-ons",
        headers=h,
        json={
            "key": "spa",
            "name": "Spa",
            "pricing": "flat",
            "price": {"amount": 100, "currency": "EUR"},
        },
    ).get_json()
    transfer = client.post(
        "/v1/admin/add-ons",
        headers=h,
        json={
            "key": "transfer",
            "name": "Transfer",
            "pricing": "flat",
            "price": {"amount": 100, "currency": "EUR"},
            "tier_ids": [outside["id"]],
        },
    ).get_json()

    response = client.post(
        f"{SEGMENTS}/{a.segment.id}/clone",
        headers=h,
        json={"key": "premium-copy", "name": "Premium copy", "position": 4},
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    clone = response.get_json()
    assert clone["id"] != a.segment.id
    assert (clone["key"], clone["name"], clone["position"], clone["status"]) == (
        "premium-copy",
        "Premium copy",
        4,
        "active",
    )
    assert client.get(f"{SEGMENTS}/{clone['id']}", headers=h).status_code == 200

    source = {
        t["level"]: t
        for t in client.get(
            TIERS, headers=h, query_string={"segment_id": a.segment.id, "status": "active"}
        ).get_json()
    }
    copies = {
        t["level"]: t
        for t in client.get(TIERS, headers=h, query_string={"segment_id": clone["id"]}).get_json()
    }
    assert sorted(copies) == [1, 2, 3]
    assert {t["id"] for t in copies.values()}.isdisjoint({l1.id, l2.id, l3.id, new_l1["id"]})
    assert copies[1]["name"] == "Essential II"  # the active level-1 tier, not the archived one
    copied = (
        "name",
        "description",
        "base_price",
        "per_guest_price",
        "max_guests",
        "features",
        "popular",
        "photos",
    )
    for level in (1, 2, 3):
        assert copies[level]["segment_id"] == clone["id"]
        assert copies[level]["status"] == "active"
        for name in copied:
            assert copies[level][name] == source[level][name], (level, name)

    # Upsell targets inside the source segment now point at the copies; outside ones are kept.
    assert copies[1]["upsell_target_ids"] == [copies[2]["id"]]
    assert copies[2]["upsell_target_ids"] == [copies[3]["id"], outside["id"]]
    assert copies[3]["upsell_target_ids"] == []
    # The source tiers are untouched.
    assert source[1]["upsell_target_ids"] == [l2.id]
    assert source[2]["upsell_target_ids"] == [l3.id, outside["id"]]

    add_ons = {x["key"]: x for x in client.get("/v1/admin/add-ons", headers=h).get_json()}
    assert add_ons["breakfast"]["tier_ids"] == sorted([l3.id, copies[3]["id"]])
    assert add_ons["spa"]["tier_ids"] == spa["tier_ids"] == []
    assert add_ons["transfer"]["tier_ids"] == transfer["tier_ids"] == [outside["id"]]
    with db.transaction() as s:
        links = set(
            s.scalars(
                select(m.AddOnTier.tier_id).where(m.AddOnTier.add_on_id == uuid.UUID(a.add_on.id))
            )
        )
    assert {str(t) for t in links} == {l3.id, copies[3]["id"]}


def test_clone_with_a_taken_key_is_409_and_creates_nothing(client, db, tenant_a):
    before_tiers = count(db, m.Tier, tenant_a.tenant.id)
    response = client.post(
        f"{SEGMENTS}/{tenant_a.segment.id}/clone",
        headers=tenant_a.admin,
        json={"key": tenant_a.segment.key, "name": "Dup"},
    )
    error_of(response, 409, "segment_key_taken")
    assert len(segment_rows(db, tenant_a.tenant.id)) == 1
    assert count(db, m.Tier, tenant_a.tenant.id) == before_tiers
    add_on = client.get(f"/v1/admin/add-ons/{tenant_a.add_on.id}", headers=tenant_a.admin)
    assert add_on.get_json()["tier_ids"] == [tenant_a.tiers[2].id]
    assert add_on.get_json()["version"] == tenant_a.add_on.version


def test_clone_of_an_unknown_segment_is_404(client, db, tenant_a):
    response = client.post(
        f"{SEGMENTS}/{uuid.uuid4()}/clone", headers=tenant_a.admin, json={"key": "c", "name": "C"}
    )
    error_of(response, 404, "segment_not_found")
    assert len(segment_rows(db, tenant_a.tenant.id)) == 1


def test_clone_without_a_position_goes_after_the_last_segment(client, db, tenant_a):
    h = tenant_a.admin
    later = create(client, tenant_a, key="later", name="Later", position=5).get_json()
    archived = create(client, tenant_a, key="gone", name="Gone", position=7).get_json()
    assert client.post(f"{SEGMENTS}/{archived['id']}/archive", headers=h).status_code == 200

    response = client.post(
        f"{SEGMENTS}/{tenant_a.segment.id}/clone", headers=h, json={"key": "copy", "name": "Copy"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["position"] == 8  # after every segment, archived ones too
    storefront = client.get("/v1/storefront/segments", headers=tenant_a.storefront).get_json()
    assert [s["key"] for s in storefront] == [tenant_a.segment.key, later["key"], "copy"]
    stored = {r.key: r.position for r in segment_rows(db, tenant_a.tenant.id)}
    assert stored == {tenant_a.segment.key: 1, "later": 5, "gone": 7, "copy": 8}
    # The copy has the source's one popular tier.
    copies = client.get(
        TIERS, headers=h, query_string={"segment_id": response.get_json()["id"]}
    ).get_json()
    assert [t["popular"] for t in copies] == [False, True, False]

    # An explicit position is honoured.
    first = client.post(
        f"{SEGMENTS}/{tenant_a.segment.id}/clone",
        headers=h,
        json={"key": "first", "name": "First", "position": 0},
    )
    assert (first.status_code, first.get_json()["position"]) == (201, 0)
