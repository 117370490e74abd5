"""Admin tiers: CRUD, level uniqueness (create, update, restore), money input, upsell targets,
If-Match, pagination. Every test asserts the response and what was stored."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from storage import models as m
from tests.support.http import error_of

TIERS = "/v1/admin/tiers"


def tier_rows(db, segment_id: str) -> list[m.Tier]:
    with db.transaction() as s:
        return list(
            s.scalars(
                select(m.Tier)
                .where(m.Tier.segment_id == uuid.UUID(segment_id))
                .order_by(m.Tier.level, m.Tier.created_at)
            )
        )


def new_segment(client, fx, key="fresh") -> str:
    response = client.post(
        "/v1/admin/segments", headers=fx.admin, json={"key": key, "name": key.title()}
    )
    assert response.status_code == 201
    return response.get_json()["id"]


def tier_body(segment_id: str, level: int = 1, **extra) -> dict:
    return {
        "segment_id": segment_id,
        "level": level,
        "name": f"Level {level}",
        "base_price": {"amount": 12345, "currency": "EUR"},
        "max_guests": 4,
        **extra,
    }


# ---- create / read ----------------------------------------------------------------------------


def test_create_full_tier_is_201_with_etag_and_is_stored(client, db, tenant_a):
    segment_id = new_segment(client, tenant_a)
    body = tier_body(
        segment_id,
        2,
        description="Comfort",
        per_guest_price={"amount": 250, "currency": "EUR"},
        features=[
            {"key": "wifi", "label": "Wi-Fi", "value": True},
            {"key": "rooms", "label": "Rooms", "value": 2},
            {"key": "view", "label": "View", "value": "sea"},
        ],
        popular=True,
        photos=["https://img.example/a.jpg"],
        upsell_target_ids=[tenant_a.tiers[2].id, tenant_a.tiers[2].id],
    )
    response = client.post(TIERS, headers=tenant_a.admin, json=body)
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    tier = response.get_json()
    expected = {
        "segment_id": segment_id,
        "level": 2,
        "name": "Level 2",
        "description": "Comfort",
        "base_price": {"amount": 12345, "currency": "EUR"},
        "per_guest_price": {"amount": 250, "currency": "EUR"},
        "max_guests": 4,
        "features": body["features"],
        "popular": True,
        "photos": ["https://img.example/a.jpg"],
        "upsell_target_ids": [tenant_a.tiers[2].id],  # duplicates dropped
        "status": "active",
        "version": 1,
        "price_floor": None,
        "price_ceiling": None,
    }
    assert tier == {"id": tier["id"], **expected}

    fetched = client.get(f"{TIERS}/{tier['id']}", headers=tenant_a.admin)
    assert fetched.status_code == 200
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.get_json() == tier

    [row] = tier_rows(db, segment_id)
    assert str(row.id) == tier["id"]
    assert str(row.tenant_id) == tenant_a.tenant.id
    assert (row.base_price_minor, row.per_guest_price_minor) == (12345, 250)
    assert row.upsell_target_ids == [tenant_a.tiers[2].id]


def test_optional_fields_have_defaults(client, tenant_a):
    segment_id = new_segment(client, tenant_a)
    tier = client.post(TIERS, headers=tenant_a.admin, json=tier_body(segment_id)).get_json()
    stored = client.get(f"{TIERS}/{tier['id']}", headers=tenant_a.admin).get_json()
    assert stored["per_guest_price"] == {"amount": 0, "currency": "EUR"}
    assert (stored["description"], stored["features"], stored["photos"]) == ("", [], [])
    assert (stored["popular"], stored["upsell_target_ids"]) == (False, [])


def test_creating_at_a_level_held_by_an_active_tier_is_409(client, db, tenant_a):
    response = client.post(TIERS, headers=tenant_a.admin, json=tier_body(tenant_a.segment.id, 2))
    error_of(response, 409, "tier_level_taken")
    rows = tier_rows(db, tenant_a.segment.id)
    assert [(r.level, r.name) for r in rows] == [
        (1, "Essential"),
        (2, "Preferred"),
        (3, "Ultimate"),
    ]


def test_archived_tier_frees_its_level_and_restoring_it_then_is_409(client, db, tenant_a):
    h = tenant_a.admin
    old = tenant_a.tiers[0]
    archived = client.post(f"{TIERS}/{old.id}/archive", headers=h)
    assert archived.status_code == 200
    assert archived.get_json()["status"] == "archived"
    assert archived.headers["ETag"] == '"2"'

    replacement = client.post(TIERS, headers=h, json=tier_body(tenant_a.segment.id, 1))
    assert replacement.status_code == 201, replacement.get_json()

    restore = client.post(f"{TIERS}/{old.id}/restore", headers=h)
    error_of(restore, 409, "tier_level_taken")
    still = client.get(f"{TIERS}/{old.id}", headers=h).get_json()
    assert (still["status"], still["version"]) == ("archived", 2)
    rows = tier_rows(db, tenant_a.segment.id)
    assert sorted((r.level, r.status) for r in rows) == [
        (1, "active"),
        (1, "archived"),
        (2, "active"),
        (3, "active"),
    ]

    # Once the replacement is archived, the original can come back.
    rid = replacement.get_json()["id"]
    assert client.post(f"{TIERS}/{rid}/archive", headers=h).status_code == 200
    restored = client.post(f"{TIERS}/{old.id}/restore", headers=h)
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["status"] == "active"
    assert restored.get_json()["version"] == 3
    assert client.get(f"{TIERS}/{old.id}", headers=h).get_json()["status"] == "active"


def test_price_in_another_currency_is_422_currency_mismatch_and_nothing_is_stored(
    client, db, tenant_a
):
    segment_id = new_segment(client, tenant_a)
    body = tier_body(segment_id)
    body["base_price"] = {"amount": 100, "currency": "USD"}
    response = client.post(TIERS, headers=tenant_a.admin, json=body)
    error = error_of(response, 422, "currency_mismatch")
    assert error["details"] == [{"path": "/json/base_price/currency", "message": "Must be EUR."}]
    assert tier_rows(db, segment_id) == []


def test_patch_per_guest_price_in_another_currency_is_422(client, db, tenant_a):
    tier = tenant_a.tiers[0]
    response = client.patch(
        f"{TIERS}/{tier.id}",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"per_guest_price": {"amount": 1, "currency": "GBP"}},
    )
    error = error_of(response, 422, "currency_mismatch")
    assert error["details"][0]["path"] == "/json/per_guest_price/currency"
    stored = client.get(f"{TIERS}/{tier.id}", headers=tenant_a.admin).get_json()
    assert stored["per_guest_price"] == {"amount": 1000, "currency": "EUR"}
    assert stored["version"] == 1


def test_unknown_segment_is_404_and_nothing_is_stored(client, db, tenant_a):
    missing = str(uuid.uuid4())
    response = client.post(TIERS, headers=tenant_a.admin, json=tier_body(missing))
    error_of(response, 404, "segment_not_found")
    assert tier_rows(db, missing) == []


def test_invalid_values_are_422_with_pointers(client, db, tenant_a):
    segment_id = new_segment(client, tenant_a)
    body = tier_body(
        segment_id,
        4,
        max_guests=0,
        per_guest_price={"amount": -5, "currency": "EUR"},
        features=[{"key": "a", "label": "A", "value": 1}, {"key": "a", "label": "B", "value": 2}],
        photos=["ftp://nope"],
    )
    response = client.post(TIERS, headers=tenant_a.admin, json=body)
    error = error_of(response, 422, "validation_error")
    paths = {d["path"] for d in error["details"]}
    assert {
        "/json/level",
        "/json/max_guests",
        "/json/per_guest_price/amount",
        "/json/photos/0",
    } <= paths
    assert tier_rows(db, segment_id) == []


def test_duplicate_feature_keys_are_refused(client, tenant_a):
    response = client.patch(
        f"{TIERS}/{tenant_a.tiers[0].id}",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={
            "features": [
                {"key": "a", "label": "A", "value": 1},
                {"key": "a", "label": "B", "value": 2},
            ]
        },
    )
    error = error_of(response, 422, "validation_error")
    assert error["details"] == [
        {"path": "/json/features", "message": "Feature keys must be unique."}
    ]
    stored = client.get(f"{TIERS}/{tenant_a.tiers[0].id}", headers=tenant_a.admin).get_json()
    assert stored["features"] == [{"key": "lunch", "label": "Lunch", "value": False}]


# ---- update -----------------------------------------------------------------------------------


def test_patch_requires_if_match_and_refuses_stale_versions(client, db, tenant_a):
    url = f"{TIERS}/{tenant_a.tiers[1].id}"
    change = {"base_price": {"amount": 1, "currency": "EUR"}, "name": "Cheap"}
    error_of(client.patch(url, headers=tenant_a.admin, json=change), 428, "if_match_required")
    error_of(
        client.patch(url, headers={**tenant_a.admin, "If-Match": '"7"'}, json=change),
        412,
        "version_mismatch",
    )
    stored = client.get(url, headers=tenant_a.admin).get_json()
    assert (stored["name"], stored["base_price"]["amount"], stored["version"]) == (
        "Preferred",
        20000,
        1,
    )


def test_patch_with_current_etag_updates_and_bumps_the_version(client, db, tenant_a):
    url = f"{TIERS}/{tenant_a.tiers[1].id}"
    etag = client.get(url, headers=tenant_a.admin).headers["ETag"]
    response = client.patch(
        url,
        headers={**tenant_a.admin, "If-Match": etag},
        json={"base_price": {"amount": 19999, "currency": "EUR"}, "popular": False},
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"2"'
    body = response.get_json()
    assert (body["base_price"]["amount"], body["popular"], body["version"]) == (19999, False, 2)
    [row] = [r for r in tier_rows(db, tenant_a.segment.id) if str(r.id) == tenant_a.tiers[1].id]
    assert (row.base_price_minor, row.popular, row.version) == (19999, False, 2)
    # Weak ETags are accepted too.
    weak = client.patch(url, headers={**tenant_a.admin, "If-Match": 'W/"2"'}, json={"name": "P"})
    assert weak.status_code == 200
    assert weak.get_json()["version"] == 3


def test_patch_to_a_taken_level_is_409_and_nothing_changes(client, db, tenant_a):
    url = f"{TIERS}/{tenant_a.tiers[0].id}"
    response = client.patch(
        url, headers={**tenant_a.admin, "If-Match": '"1"'}, json={"level": 3, "name": "Moved"}
    )
    error_of(response, 409, "tier_level_taken")
    stored = client.get(url, headers=tenant_a.admin).get_json()
    assert (stored["level"], stored["name"], stored["version"]) == (1, "Essential", 1)


def test_upsell_targets_must_exist_and_not_be_the_tier_itself(client, db, tenant_a):
    url = f"{TIERS}/{tenant_a.tiers[0].id}"
    headers = {**tenant_a.admin, "If-Match": '"1"'}
    missing = client.patch(url, headers=headers, json={"upsell_target_ids": [str(uuid.uuid4())]})
    error_of(missing, 404, "tier_not_found")
    itself = client.patch(url, headers=headers, json={"upsell_target_ids": [tenant_a.tiers[0].id]})
    error_of(itself, 422, "invalid_upsell_target")
    assert client.get(url, headers=tenant_a.admin).get_json()["upsell_target_ids"] == []

    ok = client.patch(
        url,
        headers=headers,
        json={"upsell_target_ids": [tenant_a.tiers[2].id, tenant_a.tiers[1].id]},
    )
    assert ok.status_code == 200
    stored = client.get(url, headers=tenant_a.admin).get_json()
    assert stored["upsell_target_ids"] == [tenant_a.tiers[2].id, tenant_a.tiers[1].id]


def test_upsell_target_of_another_tenant_is_404(client, tenant_a, tenant_b):
    body = tier_body(new_segment(client, tenant_a), upsell_target_ids=[tenant_b.tiers[0].id])
    error_of(client.post(TIERS, headers=tenant_a.admin, json=body), 404, "tier_not_found")


# ---- list -------------------------------------------------------------------------------------


def test_list_filters_by_segment_and_status_and_paginates(client, db, tenant_a):
    h = tenant_a.admin
    segment_id = new_segment(client, tenant_a)
    for level in (1, 2):
        client.post(TIERS, headers=h, json=tier_body(segment_id, level))
    client.post(f"{TIERS}/{tenant_a.tiers[0].id}/archive", headers=h)

    everything = client.get(TIERS, headers=h)
    assert json.loads(everything.headers["X-Pagination"])["total"] == 5
    of_segment = client.get(TIERS, headers=h, query_string={"segment_id": segment_id}).get_json()
    assert [(t["segment_id"], t["level"]) for t in of_segment] == [(segment_id, 1), (segment_id, 2)]
    archived = client.get(TIERS, headers=h, query_string={"status": "archived"}).get_json()
    assert [t["id"] for t in archived] == [tenant_a.tiers[0].id]
    active = client.get(
        TIERS, headers=h, query_string={"segment_id": tenant_a.segment.id, "status": "active"}
    ).get_json()
    assert [t["level"] for t in active] == [2, 3]

    page = client.get(TIERS, headers=h, query_string={"page": 2, "page_size": 2})
    meta = json.loads(page.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (5, 3, 2)
    assert len(page.get_json()) == 2

    unknown = client.get(TIERS, headers=h, query_string={"segment_id": str(uuid.uuid4())})
    error_of(unknown, 404, "segment_not_found")


def test_price_bounds_are_stored_and_a_ceiling_below_the_floor_is_refused(client, tenant_a):
    tier = tenant_a.tiers[0]
    headers = {**tenant_a.admin, "If-Match": '"1"'}
    response = client.patch(
        f"/v1/admin/tiers/{tier.id}",
        headers=headers,
        json={
            "price_floor": {"amount": 5000, "currency": "EUR"},
            "price_ceiling": {"amount": 90000, "currency": "EUR"},
        },
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["price_floor"] == {"amount": 5000, "currency": "EUR"}
    refused = client.patch(
        f"/v1/admin/tiers/{tier.id}",
        headers={**tenant_a.admin, "If-Match": '"2"'},
        json={"price_ceiling": {"amount": 4000, "currency": "EUR"}},
    )
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "price_bounds_invalid"
    stored = client.get(f"/v1/admin/tiers/{tier.id}", headers=tenant_a.admin).get_json()
    assert stored["price_ceiling"] == {"amount": 90000, "currency": "EUR"}
    cleared = client.patch(
        f"/v1/admin/tiers/{tier.id}",
        headers={**tenant_a.admin, "If-Match": '"2"'},
        json={"price_floor": None},
    )
    assert cleared.status_code == 200 and cleared.get_json()["price_floor"] is None


# ---- the popular badge: one tier per segment -----------------------------------------------------


def popular_of(db, segment_id: str) -> list[tuple[int, str, bool, int]]:
    return [(r.level, r.status, r.popular, r.version) for r in tier_rows(db, segment_id)]


def test_flagging_a_tier_popular_moves_the_badge_within_its_segment(client, db, tenant_a):
    """The fixture's Preferred tier (level 2) holds the badge; flagging Ultimate moves it: the
    Preferred tier is unflagged in the same transaction, its version (ETag) bumped, the change
    audited. Another segment's badge is untouched."""
    h = tenant_a.admin
    other = new_segment(client, tenant_a, "other")
    elsewhere = client.post(TIERS, headers=h, json=tier_body(other, 1, popular=True)).get_json()
    preferred, ultimate = tenant_a.tiers[1], tenant_a.tiers[2]

    response = client.patch(
        f"{TIERS}/{ultimate.id}", headers={**h, "If-Match": '"1"'}, json={"popular": True}
    )
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["popular"], response.get_json()["version"]) == (True, 2)
    assert popular_of(db, tenant_a.segment.id) == [
        (1, "active", False, 1),
        (2, "active", False, 2),
        (3, "active", True, 2),
    ]
    unflagged = client.get(f"{TIERS}/{preferred.id}", headers=h)
    assert (unflagged.get_json()["popular"], unflagged.headers["ETag"]) == (False, '"2"')
    stale = client.patch(
        f"{TIERS}/{preferred.id}", headers={**h, "If-Match": '"1"'}, json={"name": "Stale"}
    )
    error_of(stale, 412, "version_mismatch")
    [change] = client.get(
        "/v1/admin/audit/changes",
        headers=h,
        query_string={"entity_type": "tier", "entity_id": preferred.id, "action": "update"},
    ).get_json()
    assert (change["before"], change["after"]) == ({"popular": True}, {"popular": False})
    assert popular_of(db, other) == [(1, "active", True, 1)]
    assert client.get(f"{TIERS}/{elsewhere['id']}", headers=h).get_json()["popular"] is True

    # A tier created with the badge takes it too; archived tiers count (restoring never makes two).
    assert client.post(f"{TIERS}/{tenant_a.tiers[0].id}/archive", headers=h).status_code == 200
    created = client.post(TIERS, headers=h, json=tier_body(tenant_a.segment.id, 1, popular=True))
    assert created.status_code == 201, created.get_json()
    assert [
        (level, status, popular)
        for level, status, popular, _ in popular_of(db, tenant_a.segment.id)
    ] == [
        (1, "archived", False),
        (1, "active", True),
        (2, "active", False),
        (3, "active", False),
    ]
    # Unflagging the holder leaves the segment without a badge, and touches nobody else.
    patched = client.patch(
        f"{TIERS}/{created.get_json()['id']}",
        headers={**h, "If-Match": '"1"'},
        json={"popular": False},
    )
    assert patched.status_code == 200, patched.get_json()
    assert [popular for _, _, popular, _ in popular_of(db, tenant_a.segment.id)] == [False] * 4
