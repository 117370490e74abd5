"""Admin add-ons: CRUD, tier limits, key uniqueness, money input, If-Match, archive/restore.
Every test asserts the response and what was stored."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from storage import models as m
from tests.support.http import error_of

ADD_ONS = "/v1/admin/add-ons"


def add_on_rows(db, tenant_id: str) -> dict[str, m.AddOn]:
    with db.transaction() as s:
        rows = s.scalars(select(m.AddOn).where(m.AddOn.tenant_id == uuid.UUID(tenant_id)))
        return {r.key: r for r in rows}


def linked_tiers(db, add_on_id: str) -> set[str]:
    with db.transaction() as s:
        rows = s.scalars(
            select(m.AddOnTier.tier_id).where(m.AddOnTier.add_on_id == uuid.UUID(add_on_id))
        )
        return {str(r) for r in rows}


def body(key="towels", **extra) -> dict:
    return {
        "key": key,
        "name": key.title(),
        "pricing": "flat",
        "price": {"amount": 1500, "currency": "EUR"},
        **extra,
    }


def test_create_without_limits_is_201_and_is_stored(client, db, tenant_a):
    response = client.post(ADD_ONS, headers=tenant_a.admin, json=body())
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    created = response.get_json()
    assert created == {
        "id": created["id"],
        "key": "towels",
        "name": "Towels",
        "pricing": "flat",
        "price": {"amount": 1500, "currency": "EUR"},
        "tier_ids": [],
        "status": "active",
        "version": 1,
    }
    fetched = client.get(f"{ADD_ONS}/{created['id']}", headers=tenant_a.admin)
    assert fetched.headers["ETag"] == '"1"'
    assert fetched.get_json() == created
    row = add_on_rows(db, tenant_a.tenant.id)["towels"]
    assert (row.price_minor, row.pricing, str(row.id)) == (1500, "flat", created["id"])
    assert linked_tiers(db, created["id"]) == set()


def test_create_limited_to_tiers_stores_the_links(client, db, tenant_a):
    ids = [tenant_a.tiers[2].id, tenant_a.tiers[0].id, tenant_a.tiers[0].id]
    response = client.post(
        ADD_ONS, headers=tenant_a.admin, json=body("late", pricing="per_guest", tier_ids=ids)
    )
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["tier_ids"] == sorted({tenant_a.tiers[2].id, tenant_a.tiers[0].id})
    assert created["pricing"] == "per_guest"
    assert linked_tiers(db, created["id"]) == {tenant_a.tiers[2].id, tenant_a.tiers[0].id}


def test_duplicate_key_is_409(client, db, tenant_a):
    response = client.post(ADD_ONS, headers=tenant_a.admin, json=body("breakfast"))
    error_of(response, 409, "add_on_key_taken")
    rows = add_on_rows(db, tenant_a.tenant.id)
    assert list(rows) == ["breakfast"]
    assert rows["breakfast"].price_minor == 900


def test_unknown_tier_is_404_and_nothing_is_stored(client, db, tenant_a, tenant_b):
    for foreign in (str(uuid.uuid4()), tenant_b.tiers[0].id):
        response = client.post(
            ADD_ONS, headers=tenant_a.admin, json=body("ghost", tier_ids=[foreign])
        )
        error_of(response, 404, "tier_not_found")
    assert list(add_on_rows(db, tenant_a.tenant.id)) == ["breakfast"]


def test_price_in_another_currency_is_422(client, db, tenant_a):
    response = client.post(
        ADD_ONS, headers=tenant_a.admin, json=body(price={"amount": 1, "currency": "JPY"})
    )
    error = error_of(response, 422, "currency_mismatch")
    assert [d["path"] for d in error["details"]] == ["/json/price/currency"]
    assert list(add_on_rows(db, tenant_a.tenant.id)) == ["breakfast"]


def test_invalid_pricing_and_amount_are_422(client, db, tenant_a):
    response = client.post(
        ADD_ONS,
        headers=tenant_a.admin,
        json=body(pricing="hourly", price={"amount": 12.5, "currency": "EUR"}),
    )
    error = error_of(response, 422, "validation_error")
    assert {d["path"] for d in error["details"]} == {"/json/pricing", "/json/price/amount"}
    assert list(add_on_rows(db, tenant_a.tenant.id)) == ["breakfast"]


def test_patch_replaces_tier_limits_with_if_match(client, db, tenant_a):
    url = f"{ADD_ONS}/{tenant_a.add_on.id}"
    version = client.get(url, headers=tenant_a.admin).headers["ETag"]
    response = client.patch(
        url,
        headers={**tenant_a.admin, "If-Match": version},
        json={"tier_ids": [tenant_a.tiers[0].id, tenant_a.tiers[1].id], "name": "Brunch"},
    )
    assert response.status_code == 200, response.get_json()
    updated = response.get_json()
    assert updated["tier_ids"] == sorted([tenant_a.tiers[0].id, tenant_a.tiers[1].id])
    assert updated["name"] == "Brunch"
    assert response.headers["ETag"] == f'"{updated["version"]}"'
    assert updated["version"] == tenant_a.add_on.version + 1
    assert linked_tiers(db, tenant_a.add_on.id) == {tenant_a.tiers[0].id, tenant_a.tiers[1].id}

    cleared = client.patch(
        url, headers={**tenant_a.admin, "If-Match": response.headers["ETag"]}, json={"tier_ids": []}
    )
    assert cleared.status_code == 200
    assert cleared.get_json()["tier_ids"] == []
    assert linked_tiers(db, tenant_a.add_on.id) == set()


def test_stale_or_missing_if_match_changes_neither_the_row_nor_its_tier_limits(
    client, db, tenant_a
):
    url = f"{ADD_ONS}/{tenant_a.add_on.id}"
    change = {"tier_ids": [tenant_a.tiers[0].id], "price": {"amount": 1, "currency": "EUR"}}
    error_of(client.patch(url, headers=tenant_a.admin, json=change), 428, "if_match_required")
    stale = f'"{tenant_a.add_on.version + 5}"'
    error_of(
        client.patch(url, headers={**tenant_a.admin, "If-Match": stale}, json=change),
        412,
        "version_mismatch",
    )
    stored = client.get(url, headers=tenant_a.admin).get_json()
    assert stored["tier_ids"] == [tenant_a.tiers[2].id]
    assert stored["price"]["amount"] == 900
    assert stored["version"] == tenant_a.add_on.version
    assert linked_tiers(db, tenant_a.add_on.id) == {tenant_a.tiers[2].id}


def test_patch_to_a_taken_key_is_409(client, db, tenant_a):
    other = client.post(ADD_ONS, headers=tenant_a.admin, json=body("other")).get_json()
    response = client.patch(
        f"{ADD_ONS}/{other['id']}",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"key": "breakfast"},
    )
    error_of(response, 409, "add_on_key_taken")
    assert set(add_on_rows(db, tenant_a.tenant.id)) == {"breakfast", "other"}


def test_archive_restore_and_status_filter(client, db, tenant_a):
    h = tenant_a.admin
    url = f"{ADD_ONS}/{tenant_a.add_on.id}"
    client.post(ADD_ONS, headers=h, json=body("active-one"))
    archived = client.post(f"{url}/archive", headers=h)
    assert archived.status_code == 200
    assert archived.get_json()["status"] == "archived"
    assert archived.headers["ETag"] == f'"{archived.get_json()["version"]}"'
    assert add_on_rows(db, tenant_a.tenant.id)["breakfast"].status == "archived"
    # Archiving keeps the tier limits.
    assert archived.get_json()["tier_ids"] == [tenant_a.tiers[2].id]

    listed = client.get(ADD_ONS, headers=h, query_string={"status": "archived"})
    assert [a["key"] for a in listed.get_json()] == ["breakfast"]
    active = client.get(ADD_ONS, headers=h, query_string={"status": "active"})
    assert [a["key"] for a in active.get_json()] == ["active-one"]
    everything = client.get(ADD_ONS, headers=h)
    assert [a["key"] for a in everything.get_json()] == ["active-one", "breakfast"]
    assert json.loads(everything.headers["X-Pagination"])["total"] == 2

    restored = client.post(f"{url}/restore", headers=h)
    assert restored.status_code == 200
    assert restored.get_json()["status"] == "active"
    assert add_on_rows(db, tenant_a.tenant.id)["breakfast"].status == "active"


def test_unknown_add_on_is_404(client, tenant_a):
    for path in ("", "/archive", "/restore"):
        method = client.get if not path else client.post
        response = method(f"{ADD_ONS}/{uuid.uuid4()}{path}", headers=tenant_a.admin)
        error_of(response, 404, "add_on_not_found")
