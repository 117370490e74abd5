"""Storefront: active segments in display order, the tier comparison (by key or id), hidden
archived tiers and segments, the feature matrix, add-ons filtered by tier limits, suspension."""

from __future__ import annotations

import uuid

from app.services import catalog
from tests.support.http import error_of

SEGMENTS = "/v1/storefront/segments"

NO_THEME = {"primary_color": None, "accent_color": None, "font_family": None, "radius": None}


def comparison(client, fx, ref: str):
    return client.get(f"{SEGMENTS}/{ref}/comparison", headers=fx.storefront)


def add_segment(client, fx, key: str, position: int) -> dict:
    response = client.post(
        "/v1/admin/segments",
        headers=fx.admin,
        json={"key": key, "name": key.title(), "position": position},
    )
    assert response.status_code == 201
    return response.get_json()


def add_tier(client, fx, segment_id: str, level: int, **extra) -> dict:
    response = client.post(
        "/v1/admin/tiers",
        headers=fx.admin,
        json={
            "segment_id": segment_id,
            "level": level,
            "name": f"L{level}",
            "base_price": {"amount": 1000 * level, "currency": "EUR"},
            "max_guests": 2,
            **extra,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add_add_on(client, fx, key: str, tier_ids: list[str]) -> dict:
    response = client.post(
        "/v1/admin/add-ons",
        headers=fx.admin,
        json={
            "key": key,
            "name": key.title(),
            "pricing": "flat",
            "price": {"amount": 100, "currency": "EUR"},
            "tier_ids": tier_ids,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_segments_are_the_active_ones_in_position_order(client, tenant_a):
    luxury = add_segment(client, tenant_a, "luxury", 2)
    budget = add_segment(client, tenant_a, "budget", 0)
    old = add_segment(client, tenant_a, "old", 1)
    tie = add_segment(client, tenant_a, "aaa-tie", 2)  # same position as luxury: key breaks ties
    assert (
        client.post(f"/v1/admin/segments/{old['id']}/archive", headers=tenant_a.admin).status_code
        == 200
    )

    response = client.get(SEGMENTS, headers=tenant_a.storefront)
    assert response.status_code == 200
    body = response.get_json()
    assert [s["key"] for s in body] == ["budget", tenant_a.segment.key, "aaa-tie", "luxury"]
    assert body[0] == {
        "id": budget["id"],
        "key": "budget",
        "name": "Budget",
        "position": 0,
        "theme": NO_THEME,
    }
    assert {s["id"] for s in body} == {budget["id"], tenant_a.segment.id, tie["id"], luxury["id"]}
    assert all(set(s) == {"id", "key", "name", "position", "theme"} for s in body)

    # Restoring brings it back in its place.
    client.post(f"/v1/admin/segments/{old['id']}/restore", headers=tenant_a.admin)
    keys = [s["key"] for s in client.get(SEGMENTS, headers=tenant_a.storefront).get_json()]
    # "old" shares position 1 with the fixture segment, whose key ("a<hex>-premium") sorts first.
    assert keys == ["budget", tenant_a.segment.key, "old", "aaa-tie", "luxury"]


def test_comparison_by_key_and_by_id_are_the_same(client, tenant_a):
    by_key = comparison(client, tenant_a, tenant_a.segment.key)
    by_id = comparison(client, tenant_a, tenant_a.segment.id)
    assert by_key.status_code == by_id.status_code == 200
    assert by_key.get_json() == by_id.get_json()
    body = by_key.get_json()
    assert body["segment"] == {
        "id": tenant_a.segment.id,
        "key": tenant_a.segment.key,
        "name": "Premium",
        "position": 1,
        "theme": NO_THEME,
    }
    assert body["currency"] == "EUR"
    assert [t["id"] for t in body["tiers"]] == [t.id for t in tenant_a.tiers]
    assert [t["level"] for t in body["tiers"]] == [1, 2, 3]
    assert [t["popular"] for t in body["tiers"]] == [False, True, False]
    assert body["tiers"][2]["base_price"] == {"amount": 30000, "currency": "EUR"}
    assert "status" not in body["tiers"][0] and "version" not in body["tiers"][0]
    assert body["feature_matrix"] == [
        {"key": "lunch", "label": "Lunch", "values": [False, True, True]}
    ]
    assert [a["key"] for a in body["add_ons"]] == ["breakfast"]


def test_tiers_are_in_level_order_whatever_the_creation_order(client, tenant_a):
    segment = add_segment(client, tenant_a, "mixed", 5)
    t3 = add_tier(client, tenant_a, segment["id"], 3)
    t1 = add_tier(client, tenant_a, segment["id"], 1)
    t2 = add_tier(client, tenant_a, segment["id"], 2)
    tiers = comparison(client, tenant_a, "mixed").get_json()["tiers"]
    assert [t["id"] for t in tiers] == [t1["id"], t2["id"], t3["id"]]


def test_archived_tier_is_hidden_and_comes_back_when_restored(client, tenant_a):
    middle = tenant_a.tiers[1].id
    client.post(f"/v1/admin/tiers/{middle}/archive", headers=tenant_a.admin)
    body = comparison(client, tenant_a, tenant_a.segment.key).get_json()
    assert [t["level"] for t in body["tiers"]] == [1, 3]
    assert body["feature_matrix"] == [{"key": "lunch", "label": "Lunch", "values": [False, True]}]

    client.post(f"/v1/admin/tiers/{middle}/restore", headers=tenant_a.admin)
    body = comparison(client, tenant_a, tenant_a.segment.key).get_json()
    assert [t["level"] for t in body["tiers"]] == [1, 2, 3]


def test_archived_or_unknown_segment_is_404(client, tenant_a):
    client.post(f"/v1/admin/segments/{tenant_a.segment.id}/archive", headers=tenant_a.admin)
    for ref in (tenant_a.segment.key, tenant_a.segment.id, "nope", str(uuid.uuid4())):
        error_of(comparison(client, tenant_a, ref), 404, "segment_not_found")
    assert client.get(SEGMENTS, headers=tenant_a.storefront).get_json() == []


def test_feature_matrix_has_a_row_per_feature_and_none_where_a_tier_lacks_it(client, tenant_a):
    segment = add_segment(client, tenant_a, "matrix", 3)
    sid = segment["id"]
    add_tier(
        client,
        tenant_a,
        sid,
        2,
        features=[
            {"key": "lunch", "label": "Lunch", "value": True},
            {"key": "spa", "label": "Spa", "value": "2h"},
        ],
    )
    add_tier(
        client, tenant_a, sid, 1, features=[{"key": "lunch", "label": "Lunch!", "value": False}]
    )
    add_tier(
        client,
        tenant_a,
        sid,
        3,
        features=[
            {"key": "wifi", "label": "Wi-Fi", "value": True},
            {"key": "lunch", "label": "Lunch", "value": True},
            {"key": "rooms", "label": "Rooms", "value": 3},
        ],
    )
    body = comparison(client, tenant_a, "matrix").get_json()
    assert body["feature_matrix"] == [
        # rows follow the first appearance walking tiers in level order; label from that tier
        {"key": "lunch", "label": "Lunch!", "values": [False, True, True]},
        {"key": "spa", "label": "Spa", "values": [None, "2h", None]},
        {"key": "wifi", "label": "Wi-Fi", "values": [None, None, True]},
        {"key": "rooms", "label": "Rooms", "values": [None, None, 3]},
    ]


def test_segment_without_tiers_has_an_empty_comparison(client, tenant_a):
    add_segment(client, tenant_a, "empty", 9)
    body = comparison(client, tenant_a, "empty").get_json()
    assert (body["tiers"], body["feature_matrix"]) == ([], [])


def test_add_ons_are_filtered_by_tier_limits_and_status(client, tenant_a):
    a = tenant_a
    other = add_segment(client, a, "other", 4)
    other_tier = add_tier(client, a, other["id"], 1)
    everywhere = add_add_on(client, a, "everywhere", [])
    elsewhere = add_add_on(client, a, "elsewhere", [other_tier["id"]])
    mixed = add_add_on(client, a, "mixed", [other_tier["id"], a.tiers[0].id])
    retired = add_add_on(client, a, "retired", [])
    client.post(f"/v1/admin/add-ons/{retired['id']}/archive", headers=a.admin)

    body = comparison(client, a, a.segment.key).get_json()
    shown = {x["key"]: x for x in body["add_ons"]}
    assert set(shown) == {"breakfast", "everywhere", "mixed"}
    assert shown["everywhere"]["tier_ids"] == []
    assert shown["breakfast"]["tier_ids"] == [a.tiers[2].id]
    assert shown["breakfast"]["price"] == {"amount": 900, "currency": "EUR"}
    assert set(shown["breakfast"]) == {"id", "key", "name", "pricing", "price", "tier_ids"}

    other_body = comparison(client, a, "other").get_json()
    assert {x["key"] for x in other_body["add_ons"]} == {"everywhere", "elsewhere", "mixed"}
    assert elsewhere["id"] in {x["id"] for x in other_body["add_ons"]}
    assert mixed["id"] in {x["id"] for x in other_body["add_ons"]}
    assert everywhere["id"] in {x["id"] for x in other_body["add_ons"]}

    # An add-on limited to a tier that is archived is not offered any more.
    client.post(f"/v1/admin/tiers/{a.tiers[2].id}/archive", headers=a.admin)
    shown = {x["key"] for x in comparison(client, a, a.segment.key).get_json()["add_ons"]}
    assert shown == {"everywhere", "mixed"}


def test_a_key_that_looks_like_a_uuid_is_still_found_by_key(client, db, tenant_a):
    for key in ("0123456789abcdef0123456789abcdef", "12345678-1234-1234-1234-1234567890ab"):
        segment = catalog.create_segment(
            db, tenant_a.tenant, {"key": key, "name": "Hex", "position": 7}
        )
        add_tier(client, tenant_a, segment.id, 1)
        by_key = comparison(client, tenant_a, key)
        assert by_key.status_code == 200, (key, by_key.get_json())
        assert by_key.get_json()["segment"]["id"] == segment.id
        assert comparison(client, tenant_a, segment.id).get_json() == by_key.get_json()


def test_suspended_tenant_is_403_and_reactivation_restores_access(
    client, tenant_a, platform_headers
):
    url = f"/v1/platform/tenants/{tenant_a.tenant.id}"
    etag = client.get(url, headers=platform_headers).headers["ETag"]
    suspended = client.patch(
        url, headers={**platform_headers, "If-Match": etag}, json={"status": "suspended"}
    )
    assert suspended.status_code == 200, suspended.get_json()
    for path in (SEGMENTS, f"{SEGMENTS}/{tenant_a.segment.key}/comparison"):
        error_of(client.get(path, headers=tenant_a.storefront), 403, "tenant_suspended")

    reactivated = client.patch(
        url,
        headers={**platform_headers, "If-Match": suspended.headers["ETag"]},
        json={"status": "active"},
    )
    assert reactivated.status_code == 200
    assert client.get(SEGMENTS, headers=tenant_a.storefront).status_code == 200


def test_storefront_key_of_one_tenant_sees_only_its_segments(client, tenant_a, tenant_b):
    keys = [s["key"] for s in client.get(SEGMENTS, headers=tenant_b.storefront).get_json()]
    assert keys == [tenant_b.segment.key]
