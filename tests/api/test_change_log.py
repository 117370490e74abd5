"""The change log through the HTTP API on PostgreSQL (and once on SQLite with the CLI): every
change to the catalog, rulesets, experiments, API keys and tenant settings is recorded with the
caller (``role:subject``), the request id, the action and the columns before and after; searched
with filters and pages, exported as NDJSON, and only ever within the caller's tenant.

Each test asserts what the API answers and, where it matters, the stored rows themselves."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app import cli, create_app
from app.adapters.credentials import hash_api_key, issue_token
from config import Settings
from rules.defaults import DEFAULT_RULESET
from storage import change_log
from storage import models as m
from storage.db import Database
from tests.conftest import PEPPER
from tests.support.embedded import embedded_settings
from tests.support.http import error_of

SEGMENTS = "/v1/admin/segments"
CHANGES = "/v1/admin/audit/changes"
EXPORT = "/v1/admin/audit/changes/export"
PLATFORM_CHANGES = "/v1/platform/audit/changes"
ADMIN = "tenant_admin:test-tenant_admin"
PLATFORM = "platform_admin:test-platform_admin"
EUR = "EUR"


# ---- helpers ------------------------------------------------------------------------------------


def listed(client, headers, path: str = CHANGES, **query) -> list[dict[str, Any]]:
    response = client.get(path, headers=headers, query_string={"page_size": 200, **query})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def of(client, fx, entity_type: str, entity_id: str | None = None) -> list[dict[str, Any]]:
    """The tenant's changes of one entity (type), oldest first."""
    query = {"entity_type": entity_type}
    if entity_id is not None:
        query["entity_id"] = entity_id
    return listed(client, fx.admin, **query)[::-1]


def send(client, method: str, path: str, fx, request_id: str, **kwargs):
    """A write with a known request id; the id the app echoed."""
    headers = {**fx.admin, "X-Request-Id": request_id, **kwargs.pop("headers", {})}
    response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code < 300, response.get_json()
    assert response.headers["X-Request-Id"] == request_id
    return response


def made_by_request(change: dict, request_id: str, action: str) -> None:
    assert (change["actor"], change["request_id"], change["action"]) == (
        ADMIN,
        request_id,
        action,
    )


def stored_rows(db, tenant_id: str | None = None) -> list[m.AuditChange]:
    with db.read() as session:
        stmt = select(m.AuditChange)
        if tenant_id:
            stmt = stmt.where(m.AuditChange.tenant_id == uuid.UUID(tenant_id))
        return list(session.scalars(stmt))


def now_range(**extra) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    return {
        "from": (now - dt.timedelta(hours=1)).isoformat(),
        "to": (now + dt.timedelta(hours=1)).isoformat(),
        **extra,
    }


# ---- what is recorded ---------------------------------------------------------------------------


def test_segment_and_tier_create_update_archive(client, tenant_a):
    fx = tenant_a
    segment = send(
        client,
        "POST",
        "/v1/admin/segments",
        fx,
        "seg-create",
        json={"key": "luxury", "name": "Luxury", "position": 3},
    ).get_json()
    send(
        client,
        "PATCH",
        f"/v1/admin/segments/{segment['id']}",
        fx,
        "seg-rename",
        json={"name": "Deluxe"},
        headers={"If-Match": '"1"'},
    )
    tier = send(
        client,
        "POST",
        "/v1/admin/tiers",
        fx,
        "tier-create",
        json={
            "segment_id": segment["id"],
            "level": 1,
            "name": "Essential",
            "base_price": {"amount": 5000, "currency": EUR},
            "max_guests": 4,
        },
    ).get_json()
    send(
        client,
        "PATCH",
        f"/v1/admin/tiers/{tier['id']}",
        fx,
        "tier-price",
        json={"base_price": {"amount": 5500, "currency": EUR}, "name": "Essential"},
        headers={"If-Match": '"1"'},
    )
    send(client, "POST", f"/v1/admin/tiers/{tier['id']}/archive", fx, "tier-archive")

    created, renamed = of(client, fx, "segment", segment["id"])
    made_by_request(created, "seg-create", "create")
    assert (created["entity_type"], created["entity_id"]) == ("segment", segment["id"])
    assert created["before"] is None
    after = created["after"]
    assert {k: after[k] for k in ("id", "key", "name", "position", "status", "version")} == {
        "id": segment["id"],
        "key": "luxury",
        "name": "Luxury",
        "position": 3,
        "status": "active",
        "version": 1,
    }
    assert "tenant_id" not in after
    assert dt.datetime.fromisoformat(after["created_at"]).tzinfo is not None
    made_by_request(renamed, "seg-rename", "update")
    # only what changed: no version, no updated_at
    assert (renamed["before"], renamed["after"]) == ({"name": "Luxury"}, {"name": "Deluxe"})

    created, priced, archived = of(client, fx, "tier", tier["id"])
    made_by_request(created, "tier-create", "create")
    assert created["after"]["segment_id"] == segment["id"]
    assert (created["after"]["base_price_minor"], created["after"]["features"]) == (5000, [])
    made_by_request(priced, "tier-price", "update")
    assert (priced["before"], priced["after"]) == (
        {"base_price_minor": 5000},
        {"base_price_minor": 5500},
    )
    made_by_request(archived, "tier-archive", "update")
    assert (archived["before"], archived["after"]) == ({"status": "active"}, {"status": "archived"})
    assert dt.datetime.fromisoformat(archived["created_at"]) >= dt.datetime.fromisoformat(
        created["created_at"]
    )


def test_an_update_that_changes_nothing_is_not_recorded(client, tenant_a):
    fx = tenant_a
    before = listed(client, fx.admin)
    response = send(
        client,
        "PATCH",
        f"/v1/admin/segments/{fx.segment.id}",
        fx,
        "same",
        json={"name": fx.segment.name},
        headers={"If-Match": '"1"'},
    )
    assert response.get_json()["version"] == 2  # the row was written (updated_at, version)
    assert listed(client, fx.admin) == before


def test_capacity_set_changed_and_cleared(client, tenant_a):
    fx = tenant_a
    tier_id = fx.tiers[0].id
    url = f"/v1/admin/tiers/{tier_id}/capacity"
    two_days = {"from": "2031-03-01", "to": "2031-03-02"}
    send(client, "PUT", url, fx, "cap-set", json={**two_days, "units": 3})
    send(client, "PUT", url, fx, "cap-change", json={"from": "2031-03-01", "units": 4})
    send(client, "PUT", url, fx, "cap-same", json={"from": "2031-03-02", "units": 3})
    send(client, "DELETE", url, fx, "cap-clear", query_string={**two_days, "to": "2031-03-31"})

    first = of(client, fx, "capacity", f"{tier_id}:2031-03-01")
    assert [(c["action"], c["request_id"]) for c in first] == [
        ("create", "cap-set"),
        ("update", "cap-change"),
        ("delete", "cap-clear"),
    ]
    created, changed, cleared = first
    assert {k: created["after"][k] for k in ("tier_id", "service_date", "units")} == {
        "tier_id": tier_id,
        "service_date": "2031-03-01",
        "units": 3,
    }
    assert (changed["before"], changed["after"]) == ({"units": 3}, {"units": 4})
    assert cleared["after"] is None
    assert (cleared["before"]["service_date"], cleared["before"]["units"]) == ("2031-03-01", 4)
    second = of(client, fx, "capacity", f"{tier_id}:2031-03-02")
    # setting the same units again is not a change
    assert [(c["action"], c["request_id"]) for c in second] == [
        ("create", "cap-set"),
        ("delete", "cap-clear"),
    ]
    assert all(c["actor"] == ADMIN for c in first + second)


def test_blackout_added_and_deleted(client, tenant_a):
    fx = tenant_a
    added = send(
        client,
        "POST",
        "/v1/admin/blackouts",
        fx,
        "close",
        json={"from": "2031-04-01", "reason": "maintenance"},
    ).get_json()
    blackout_id = added[0]["id"]
    send(client, "DELETE", f"/v1/admin/blackouts/{blackout_id}", fx, "reopen")

    created, deleted = of(client, fx, "blackout", blackout_id)
    made_by_request(created, "close", "create")
    assert {k: created["after"][k] for k in ("id", "tier_id", "service_date", "reason")} == {
        "id": blackout_id,
        "tier_id": None,
        "service_date": "2031-04-01",
        "reason": "maintenance",
    }
    made_by_request(deleted, "reopen", "delete")
    assert deleted["before"]["reason"] == "maintenance" and deleted["after"] is None


def test_add_on_tier_links_replaced(client, tenant_a):
    fx = tenant_a
    add_on = fx.add_on  # limited to tiers[2]
    send(
        client,
        "PATCH",
        f"/v1/admin/add-ons/{add_on.id}",
        fx,
        "relink",
        json={"tier_ids": [fx.tiers[0].id, fx.tiers[1].id]},
        headers={"If-Match": '"1"'},
    )

    links = [c for c in of(client, fx, "add_on_tier") if c["request_id"] == "relink"]
    assert sorted((c["action"], c["entity_id"]) for c in links) == sorted(
        [
            ("delete", f"{add_on.id}:{fx.tiers[2].id}"),
            ("create", f"{add_on.id}:{fx.tiers[0].id}"),
            ("create", f"{add_on.id}:{fx.tiers[1].id}"),
        ]
    )
    # the add-on row itself only had its bookkeeping touched: no add_on update
    assert [c["action"] for c in of(client, fx, "add_on", add_on.id)] == ["create"]


def test_ruleset_draft_created_edited_published_and_deleted(client, tenant_a):
    fx = tenant_a
    r = "/v1/admin/rulesets"
    draft = send(client, "POST", f"{r}/drafts", fx, "draft-new", json={"name": "summer"}).get_json()
    send(
        client,
        "PATCH",
        f"{r}/drafts/{draft['id']}",
        fx,
        "draft-edit",
        json={"name": "hot summer"},
        headers={"If-Match": '"1"'},
    )
    send(client, "POST", f"{r}/drafts/{draft['id']}/publish", fx, "publish", json={"note": "v2"})
    send(client, "DELETE", f"{r}/drafts/{draft['id']}", fx, "draft-gone")

    created, edited, deleted = of(client, fx, "ruleset_draft", draft["id"])
    made_by_request(created, "draft-new", "create")
    assert created["after"]["document"] == json.loads(json.dumps(DEFAULT_RULESET))
    assert (created["after"]["name"], created["after"]["based_on_version"]) == ("summer", 1)
    made_by_request(edited, "draft-edit", "update")
    assert (edited["before"], edited["after"]) == ({"name": "summer"}, {"name": "hot summer"})
    made_by_request(deleted, "draft-gone", "delete")
    assert deleted["before"]["name"] == "hot summer"

    (version,) = of(client, fx, "ruleset_version", "2")
    made_by_request(version, "publish", "create")
    assert {k: version["after"][k] for k in ("number", "author", "note")} == {
        "number": 2,
        "author": ADMIN,
        "note": "v2",
    }
    assert version["after"]["document"] == created["after"]["document"]
    assert len(version["after"]["content_hash"]) == 64  # identifies the content: not a secret
    (activation,) = of(client, fx, "ruleset_activation", "2")
    made_by_request(activation, "publish", "create")
    assert (activation["after"]["version_number"], activation["after"]["action"]) == (2, "publish")


def test_experiment_created_and_started(client, tenant_a):
    fx = tenant_a
    design = {
        "key": "upsell-copy",
        "primary_metric": "upsell_acceptance",
        "variants": [
            {"key": "control", "weight": "0.5", "control": True},
            {"key": "b", "weight": "0.5"},
        ],
    }
    experiment = send(client, "POST", "/v1/admin/experiments", fx, "exp-new", json=design)
    experiment_id = experiment.get_json()["id"]
    send(client, "POST", f"/v1/admin/experiments/{experiment_id}/start", fx, "exp-start")

    created, started = of(client, fx, "experiment", experiment_id)
    made_by_request(created, "exp-new", "create")
    assert {k: created["after"][k] for k in ("key", "status", "seed", "bucket_version")} == {
        "key": "upsell-copy",
        "status": "draft",
        "seed": "upsell-copy",
        "bucket_version": 1,
    }
    assert [v["weight"] for v in created["after"]["variants"]] == ["0.5", "0.5"]
    made_by_request(started, "exp-start", "update")
    assert started["before"] == {"status": "draft", "started_at": None}
    assert set(started["after"]) == {"status", "started_at"}
    assert started["after"]["status"] == "running"
    assert dt.datetime.fromisoformat(started["after"]["started_at"]).tzinfo is not None


def test_api_key_created_and_revoked_without_its_hash(client, db, tenant_a):
    fx = tenant_a
    created = send(client, "POST", "/v1/admin/api-keys", fx, "key-new", json={"name": "kiosk"})
    key = created.get_json()
    send(client, "POST", f"/v1/admin/api-keys/{key['id']}/revoke", fx, "key-revoke")

    made, revoked = of(client, fx, "api_key", key["id"])
    made_by_request(made, "key-new", "create")
    assert {k: made["after"][k] for k in ("name", "prefix", "revoked_at")} == {
        "name": "kiosk",
        "prefix": key["prefix"],
        "revoked_at": None,
    }
    assert not any("hash" in column for column in made["after"])
    made_by_request(revoked, "key-revoke", "update")
    assert revoked["before"] == {"revoked_at": None}
    assert set(revoked["after"]) == {"revoked_at"}

    # neither the key nor its hash is anywhere in the tenant's stored audit rows
    stored = json.dumps(
        [[r.before, r.after, r.entity_id] for r in stored_rows(db, fx.tenant.id)], default=str
    )
    for secret in (key["key"], hash_api_key(PEPPER, key["key"]), hash_api_key(PEPPER, fx.api_key)):
        assert secret not in stored
    assert key["prefix"] in stored


def test_tenant_settings_change_but_not_its_catalog_version(client, db, tenant_a):
    fx = tenant_a
    send(
        client,
        "PATCH",
        "/v1/admin/tenant",
        fx,
        "rename-tenant",
        json={"name": "Renamed", "default_capacity": 7},
        headers={"If-Match": '"1"'},
    )

    (created, renamed) = of(client, fx, "tenant", fx.tenant.id)
    assert (created["action"], created["actor"], created["request_id"]) == ("create", "system", "")
    assert created["after"]["slug"] == fx.tenant.slug
    made_by_request(renamed, "rename-tenant", "update")
    assert renamed["before"] == {"name": fx.tenant.name, "default_capacity": 5}
    assert renamed["after"] == {"name": "Renamed", "default_capacity": 7}
    # the catalog changes of the fixture bumped catalog_version: never recorded
    assert not any("catalog_version" in json.dumps([r.before, r.after]) for r in stored_rows(db))


def test_changes_outside_requests_are_by_system_and_requests_reset_the_actor(client, tenant_a):
    fx = tenant_a
    fixture_changes = listed(client, fx.admin)
    assert {c["actor"] for c in fixture_changes} == {"system"}
    assert {c["request_id"] for c in fixture_changes} == {""}
    assert {c["entity_type"] for c in fixture_changes} >= {
        "tenant",
        "segment",
        "tier",
        "add_on",
        "add_on_tier",
        "blackout",
        "api_key",
        "ruleset_version",
        "ruleset_activation",
    }
    send(client, "POST", "/v1/admin/segments", fx, "one", json={"key": "k1", "name": "K1"})
    assert change_log.current_who() == change_log.Who("system", "")


def test_connected_account_set_by_onboarding_is_recorded(stripe_client, tenant_a):
    (change,) = [
        c for c in listed(stripe_client, tenant_a.admin, entity_type="tenant", action="update")
    ]
    assert (change["actor"], change["before"]) == (PLATFORM, {"stripe_account_id": None})
    assert change["after"]["stripe_account_id"].startswith("acct_")


def test_audit_rows_are_in_the_transaction_of_the_change(client, db, tenant_a):
    """A change refused by the database (a taken segment key) leaves no audit row."""
    fx = tenant_a
    count = len(stored_rows(db, fx.tenant.id))
    response = client.post(
        "/v1/admin/segments", headers=fx.admin, json={"key": fx.segment.key, "name": "Dup"}
    )
    error_of(response, 409, "segment_key_taken")
    assert len(stored_rows(db, fx.tenant.id)) == count


# ---- search -------------------------------------------------------------------------------------


def test_filters_and_pagination_newest_first(client, tenant_a):
    fx = tenant_a
    for n in range(3):
        send(client, "POST", SEGMENTS, fx, f"page-{n}", json={"key": f"s{n}", "name": "S"})
    everything = listed(client, fx.admin)
    stamps = [(c["created_at"], c["id"]) for c in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert [c["request_id"] for c in everything[:3]] == ["page-2", "page-1", "page-0"]

    first = client.get(CHANGES, headers=fx.admin, query_string={"page_size": 2})
    second = client.get(CHANGES, headers=fx.admin, query_string={"page_size": 2, "page": 2})
    pagination = json.loads(first.headers["X-Pagination"])
    assert (pagination["total"], pagination["page"]) == (len(everything), 1)
    assert [c["id"] for c in first.get_json() + second.get_json()] == [
        c["id"] for c in everything[:4]
    ]

    assert [c["request_id"] for c in listed(client, fx.admin, request_id="page-1")] == ["page-1"]
    segments = listed(client, fx.admin, entity_type="segment", action="create")
    assert len(segments) == 4 and {c["entity_type"] for c in segments} == {"segment"}
    assert len(listed(client, fx.admin, actor=ADMIN)) == 3
    assert len(listed(client, fx.admin, actor="system")) == len(everything) - 3
    one = everything[0]
    by_id = listed(client, fx.admin, entity_id=one["entity_id"])
    assert [c["id"] for c in by_id] == [one["id"]]
    assert listed(client, fx.admin, entity_type="experiment") == []


def test_time_range_filter_takes_aware_instants(client, tenant_a):
    fx = tenant_a
    everything = listed(client, fx.admin)
    newest = dt.datetime.fromisoformat(everything[0]["created_at"])
    berlin = dt.timezone(dt.timedelta(hours=2))
    # from is included, to excluded; any offset means the same instant
    upto_newest = listed(client, fx.admin, to=newest.astimezone(berlin).isoformat())
    assert [c["id"] for c in upto_newest] == [
        c["id"] for c in everything if dt.datetime.fromisoformat(c["created_at"]) < newest
    ]
    assert len(upto_newest) >= len(everything) - 1
    from_newest = listed(client, fx.admin, **{"from": newest.astimezone(berlin).isoformat()})
    assert everything[0]["id"] in [c["id"] for c in from_newest]
    later = (newest + dt.timedelta(seconds=1)).isoformat()
    assert listed(client, fx.admin, **{"from": later}) == []
    assert len(listed(client, fx.admin, **now_range())) == len(everything)


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"entity_type": "booking"}, "/query/entity_type"),
        ({"action": "modify"}, "/query/action"),
        ({"from": "2031-01-01T00:00:00"}, "/query/from"),  # naive: which zone?
        ({"to": "yesterday"}, "/query/to"),
        ({"entity": "tier"}, "/query/entity"),  # a misspelt filter is not ignored
        ({"tenant_id": "00000000-0000-0000-0000-000000000000"}, "/query/tenant_id"),
        ({"entity_id": "x" * 129}, "/query/entity_id"),
        ({"from": "2031-01-02T00:00:00Z", "to": "2031-01-01T00:00:00Z"}, "/query/to"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "/query/from"),  # would not convert to UTC
        ({"to": "9999-12-31T23:00:00-02:00"}, "/query/to"),
    ],
)
def test_unknown_or_malformed_filters_are_422(client, tenant_a, query, path):
    error = error_of(
        client.get(CHANGES, headers=tenant_a.admin, query_string=query), 422, "validation_error"
    )
    assert [d["path"] for d in error["details"]] == [path]


# ---- export -------------------------------------------------------------------------------------


def test_export_streams_every_matching_change_as_ndjson(client, tenant_a):
    fx = tenant_a
    for n in range(3):
        send(client, "POST", SEGMENTS, fx, f"exp-{n}", json={"key": f"e{n}", "name": "E"})
    response = client.get(EXPORT, headers=fx.admin, query_string=now_range())
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    body = response.get_data(as_text=True)
    assert body.endswith("\n")
    lines = [json.loads(line) for line in body.splitlines()]
    # the same changes as the search, oldest first, in the same shape
    assert lines == listed(client, fx.admin)[::-1]

    only = client.get(EXPORT, headers=fx.admin, query_string=now_range(actor=ADMIN))
    exported = [json.loads(line) for line in only.get_data(as_text=True).splitlines()]
    assert [c["request_id"] for c in exported] == ["exp-0", "exp-1", "exp-2"]
    none = client.get(EXPORT, headers=fx.admin, query_string=now_range(entity_type="experiment"))
    assert none.status_code == 200 and none.get_data() == b""


def test_export_reads_in_batches(client, tenant_a, monkeypatch):
    from app.services import change_log as changes

    monkeypatch.setattr(changes, "EXPORT_BATCH", 2)
    everything = listed(client, tenant_a.admin)
    assert len(everything) > 4
    response = client.get(EXPORT, headers=tenant_a.admin, query_string=now_range())
    ids = [json.loads(line)["id"] for line in response.get_data(as_text=True).splitlines()]
    assert ids == [c["id"] for c in everything[::-1]]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"from": "2031-01-01T00:00:00Z"},
        {"from": "2031-01-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"},
        {"from": "2031-01-01T00:00:00Z", "to": "2031-02-01T00:00:01Z"},  # 31 days and a second
        {"from": "2031-01-01T00:00:00Z", "to": "2031-01-02T00:00:00Z", "page": "1"},
    ],
)
def test_export_needs_a_range_of_at_most_31_days(client, tenant_a, query):
    response = client.get(EXPORT, headers=tenant_a.admin, query_string=query)
    error = error_of(response, 422, "validation_error")
    assert error["details"]


def test_export_of_exactly_31_days_is_allowed(client, tenant_a):
    query = {"from": "2031-01-01T00:00:00Z", "to": "2031-02-01T00:00:00Z"}
    response = client.get(EXPORT, headers=tenant_a.admin, query_string=query)
    assert response.status_code == 200 and response.get_data() == b""


# ---- who may read what --------------------------------------------------------------------------


def test_tenants_see_only_their_own_changes(client, tenant_a, tenant_b):
    send(
        client,
        "PATCH",
        f"/v1/admin/segments/{tenant_b.segment.id}",
        tenant_b,
        "b-edit",
        json={"name": "B edit"},
        headers={"If-Match": '"1"'},
    )
    mine = listed(client, tenant_a.admin)
    assert mine and {c["tenant_id"] for c in mine} == {tenant_a.tenant.id}
    b_ids = {tenant_b.segment.id, tenant_b.tenant.id, *(t.id for t in tenant_b.tiers)}
    assert not b_ids & {c["entity_id"] for c in mine}
    assert listed(client, tenant_a.admin, entity_id=tenant_b.segment.id) == []
    assert listed(client, tenant_a.admin, request_id="b-edit") == []
    exported = client.get(EXPORT, headers=tenant_a.admin, query_string=now_range()).get_data(
        as_text=True
    )
    assert tenant_b.tenant.id not in exported and "b-edit" not in exported
    theirs = listed(client, tenant_b.admin, entity_id=tenant_b.segment.id)
    assert [c["request_id"] for c in theirs] == ["b-edit", ""]


def test_analysts_read_storefront_keys_and_strangers_do_not(client, tenant_a):
    assert listed(client, tenant_a.analyst) == listed(client, tenant_a.admin)
    response = client.get(EXPORT, headers=tenant_a.analyst, query_string=now_range())
    assert response.status_code == 200
    for path in (CHANGES, EXPORT, PLATFORM_CHANGES, f"{PLATFORM_CHANGES}/export"):
        error_of(client.get(path, headers=tenant_a.storefront), 403, "storefront_key_on_admin")
        error_of(client.get(path), 401, "unauthenticated")
    for path in (PLATFORM_CHANGES, f"{PLATFORM_CHANGES}/export"):
        error_of(client.get(path, headers=tenant_a.admin), 403, "role_forbidden")
    assert client.post(CHANGES, headers=tenant_a.admin).status_code == 405


def test_platform_admins_see_every_tenant_and_filter_by_one(
    client, tenant_a, tenant_b, platform_headers
):
    created = client.post(
        "/v1/platform/tenants",
        headers={**platform_headers, "X-Request-Id": "onboard-c"},
        json={
            "slug": f"c{uuid.uuid4().hex[:8]}",
            "name": "C",
            "currency": EUR,
            "time_zone": "Europe/Paris",
        },
    )
    assert created.status_code == 201, created.get_json()
    tenant_c = created.get_json()["id"]

    everything = listed(client, platform_headers, PLATFORM_CHANGES)
    tenants = {c["tenant_id"] for c in everything}
    assert {tenant_a.tenant.id, tenant_b.tenant.id, tenant_c} <= tenants
    only_a = listed(client, platform_headers, PLATFORM_CHANGES, tenant_id=tenant_a.tenant.id)
    assert only_a == listed(client, tenant_a.admin)
    of_c = listed(client, platform_headers, PLATFORM_CHANGES, tenant_id=tenant_c)
    assert sorted((c["entity_type"], c["action"]) for c in of_c) == [
        ("ruleset_activation", "create"),
        ("ruleset_version", "create"),
        ("tenant", "create"),
    ]
    assert {(c["actor"], c["request_id"]) for c in of_c} == {(PLATFORM, "onboard-c")}
    tenant_row = next(c for c in of_c if c["entity_type"] == "tenant")
    assert (tenant_row["entity_id"], tenant_row["after"]["time_zone"]) == (tenant_c, "Europe/Paris")

    exported = client.get(
        f"{PLATFORM_CHANGES}/export",
        headers=platform_headers,
        query_string=now_range(tenant_id=tenant_c),
    )
    assert [json.loads(line) for line in exported.get_data(as_text=True).splitlines()] == of_c[::-1]
    unknown = listed(client, platform_headers, PLATFORM_CHANGES, tenant_id=str(uuid.uuid4()))
    assert unknown == []
    error_of(
        client.get(PLATFORM_CHANGES, headers=platform_headers, query_string={"tenant_id": "x"}),
        422,
        "validation_error",
    )
    # acting on one tenant through the tenant admin API: that tenant only, as the platform admin
    acting = {**platform_headers, "X-Tenant-Id": tenant_b.tenant.id}
    assert listed(client, acting) == listed(client, tenant_b.admin)


# ---- SQLite (the embedded mode) and the command line --------------------------------------------


@pytest.fixture
def embedded(tmp_path, monkeypatch) -> Settings:
    return embedded_settings(monkeypatch, tmp_path / "change_log.db")


def test_cli_and_http_changes_on_sqlite(embedded):
    runner = CliRunner()
    made = runner.invoke(
        cli.main,
        [
            "create-tenant",
            "--slug",
            "lite",
            "--name",
            "Lite",
            "--currency",
            EUR,
            "--time-zone",
            "Europe/Berlin",
        ],
    )
    assert made.exit_code == 0, made.output
    tenant_id = made.output.split()[-1]
    key = runner.invoke(cli.main, ["create-api-key", "--tenant", "lite"])
    assert key.exit_code == 0, key.output

    app = create_app(embedded)
    database: Database = app.extensions["tierwise"].db
    try:
        client = app.test_client()
        token = issue_token(
            embedded,
            role="tenant_admin",
            subject="lite-admin",
            tenant_id=tenant_id,
            now=dt.datetime.now(dt.UTC),
        )
        headers = {"Authorization": f"Bearer {token}"}
        segment = client.post(
            "/v1/admin/segments",
            headers={**headers, "X-Request-Id": "lite-1"},
            json={"key": "lite", "name": "Lite"},
        )
        assert segment.status_code == 201, segment.get_json()

        everything = listed(client, headers)
        assert [(c["entity_type"], c["actor"], c["request_id"]) for c in everything] == [
            ("segment", "tenant_admin:lite-admin", "lite-1"),
            ("api_key", "cli", ""),
            ("ruleset_activation", "cli", ""),
            ("ruleset_version", "cli", ""),
            ("tenant", "cli", ""),
        ]
        assert {c["actor"] for c in everything[1:]} == {"cli"}
        assert "key_hash" not in json.dumps(everything)
        assert everything[0]["after"]["key"] == "lite"
        # instants given in another offset compare as instants (SQLite stores UTC text)
        newest = dt.datetime.fromisoformat(everything[0]["created_at"])
        tokyo = dt.timezone(dt.timedelta(hours=9))
        since = listed(client, headers, **{"from": newest.astimezone(tokyo).isoformat()})
        assert [c["id"] for c in since] == [everything[0]["id"]]
        assert listed(client, headers, to=newest.astimezone(tokyo).isoformat()) == everything[1:]
        export = client.get(EXPORT, headers=headers, query_string=now_range())
        lines = export.get_data(as_text=True).splitlines()
        assert [json.loads(line) for line in lines] == everything[::-1]
    finally:
        database.dispose()
