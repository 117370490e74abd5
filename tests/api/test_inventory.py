"""Capacity per tier and date, and blackout dates. Every test asserts the response and the rows."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from storage import models as m
from tests.support.http import error_of

BLACKOUTS = "/v1/admin/blackouts"


def capacity_url(tier_id: str) -> str:
    return f"/v1/admin/tiers/{tier_id}/capacity"


def capacity_rows(db, tier_id: str) -> dict[str, int]:
    with db.transaction() as s:
        rows = s.execute(
            select(m.Capacity.service_date, m.Capacity.units).where(
                m.Capacity.tier_id == uuid.UUID(tier_id)
            )
        ).all()
    return {d.isoformat(): u for d, u in rows}


def blackout_rows(db, tenant_id: str) -> list[tuple[str | None, str, str]]:
    with db.transaction() as s:
        rows = s.scalars(
            select(m.Blackout)
            .where(m.Blackout.tenant_id == uuid.UUID(tenant_id))
            .order_by(m.Blackout.service_date, m.Blackout.tier_id)
        ).all()
    return [
        (str(r.tier_id) if r.tier_id else None, r.service_date.isoformat(), r.reason) for r in rows
    ]


def days(response) -> list[tuple[str, int, str]]:
    return [(d["date"], d["units"], d["source"]) for d in response.get_json()["days"]]


# ---- capacity ---------------------------------------------------------------------------------


def test_without_rows_every_day_has_the_tenant_default(client, db, tenant_a):
    tier = tenant_a.tiers[0]
    response = client.get(
        capacity_url(tier.id),
        headers=tenant_a.admin,
        query_string={"from": "2031-03-01", "to": "2031-03-03"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["tier_id"] == tier.id
    assert days(response) == [
        ("2031-03-01", 5, "default"),
        ("2031-03-02", 5, "default"),
        ("2031-03-03", 5, "default"),
    ]
    single = client.get(
        capacity_url(tier.id), headers=tenant_a.admin, query_string={"from": "2031-03-01"}
    )
    assert days(single) == [("2031-03-01", 5, "default")]
    assert capacity_rows(db, tier.id) == {}


def test_put_single_date_then_range_and_get_shows_sources(client, db, tenant_a):
    tier = tenant_a.tiers[1]
    url = capacity_url(tier.id)
    one = client.put(url, headers=tenant_a.admin, json={"from": "2031-03-02", "units": 9})
    assert one.status_code == 200, one.get_json()
    assert days(one) == [("2031-03-02", 9, "date")]
    assert capacity_rows(db, tier.id) == {"2031-03-02": 9}

    ranged = client.put(
        url, headers=tenant_a.admin, json={"from": "2031-03-04", "to": "2031-03-06", "units": 0}
    )
    assert ranged.status_code == 200
    assert days(ranged) == [
        ("2031-03-04", 0, "date"),
        ("2031-03-05", 0, "date"),
        ("2031-03-06", 0, "date"),
    ]

    read = client.get(
        url, headers=tenant_a.admin, query_string={"from": "2031-03-01", "to": "2031-03-07"}
    )
    assert days(read) == [
        ("2031-03-01", 5, "default"),
        ("2031-03-02", 9, "date"),
        ("2031-03-03", 5, "default"),
        ("2031-03-04", 0, "date"),
        ("2031-03-05", 0, "date"),
        ("2031-03-06", 0, "date"),
        ("2031-03-07", 5, "default"),
    ]
    assert capacity_rows(db, tier.id) == {
        "2031-03-02": 9,
        "2031-03-04": 0,
        "2031-03-05": 0,
        "2031-03-06": 0,
    }
    # Other tiers are not affected.
    assert capacity_rows(db, tenant_a.tiers[0].id) == {}


def test_put_over_existing_dates_updates_instead_of_duplicating(client, db, tenant_a):
    url = capacity_url(tenant_a.tiers[0].id)
    client.put(
        url, headers=tenant_a.admin, json={"from": "2031-04-01", "to": "2031-04-02", "units": 1}
    )
    response = client.put(
        url, headers=tenant_a.admin, json={"from": "2031-04-02", "to": "2031-04-03", "units": 7}
    )
    assert days(response) == [("2031-04-02", 7, "date"), ("2031-04-03", 7, "date")]
    assert capacity_rows(db, tenant_a.tiers[0].id) == {
        "2031-04-01": 1,
        "2031-04-02": 7,
        "2031-04-03": 7,
    }


def test_delete_resets_dates_to_the_default(client, db, tenant_a):
    tier_id = tenant_a.tiers[0].id
    url = capacity_url(tier_id)
    client.put(
        url, headers=tenant_a.admin, json={"from": "2031-05-01", "to": "2031-05-05", "units": 2}
    )
    client.put(
        capacity_url(tenant_a.tiers[1].id),
        headers=tenant_a.admin,
        json={"from": "2031-05-02", "units": 3},
    )

    response = client.delete(
        url, headers=tenant_a.admin, query_string={"from": "2031-05-02", "to": "2031-05-04"}
    )
    assert response.status_code == 204
    assert response.get_data() == b""
    read = client.get(
        url, headers=tenant_a.admin, query_string={"from": "2031-05-01", "to": "2031-05-05"}
    )
    assert [d[2] for d in days(read)] == ["date", "default", "default", "default", "date"]
    assert [d[1] for d in days(read)] == [2, 5, 5, 5, 2]
    assert capacity_rows(db, tier_id) == {"2031-05-01": 2, "2031-05-05": 2}
    assert capacity_rows(db, tenant_a.tiers[1].id) == {"2031-05-02": 3}

    single = client.delete(url, headers=tenant_a.admin, query_string={"from": "2031-05-01"})
    assert single.status_code == 204
    assert capacity_rows(db, tier_id) == {"2031-05-05": 2}


def test_default_days_follow_the_tenant_default_capacity(client, db, tenant_a):
    url = capacity_url(tenant_a.tiers[0].id)
    client.put(url, headers=tenant_a.admin, json={"from": "2031-06-01", "units": 1})
    patched = client.patch(
        "/v1/admin/tenant",
        headers={**tenant_a.admin, "If-Match": f'"{tenant_a.tenant.version}"'},
        json={"default_capacity": 12},
    )
    assert patched.status_code == 200, patched.get_json()
    read = client.get(
        url, headers=tenant_a.admin, query_string={"from": "2031-06-01", "to": "2031-06-02"}
    )
    assert days(read) == [("2031-06-01", 1, "date"), ("2031-06-02", 12, "default")]


def test_range_limit_is_366_days(client, db, tenant_a):
    url = capacity_url(tenant_a.tiers[0].id)
    start = dt.date(2031, 1, 1)
    longest = start + dt.timedelta(days=365)  # 366 days inclusive
    ok = client.put(
        url,
        headers=tenant_a.admin,
        json={"from": start.isoformat(), "to": longest.isoformat(), "units": 4},
    )
    assert ok.status_code == 200, ok.get_json()
    assert len(ok.get_json()["days"]) == 366
    assert len(capacity_rows(db, tenant_a.tiers[0].id)) == 366

    too_long = (longest + dt.timedelta(days=1)).isoformat()
    response = client.put(
        url, headers=tenant_a.admin, json={"from": "2032-01-01", "to": "2033-01-02", "units": 9}
    )
    error = error_of(response, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/json/to"]
    read = client.get(
        url, headers=tenant_a.admin, query_string={"from": start.isoformat(), "to": too_long}
    )
    error = error_of(read, 422, "validation_error")
    assert [d["path"] for d in error["details"]] == ["/query/to"]
    assert len(capacity_rows(db, tenant_a.tiers[0].id)) == 366
    assert set(capacity_rows(db, tenant_a.tiers[0].id).values()) == {4}


def test_to_before_from_is_422_everywhere_and_nothing_changes(client, db, tenant_a):
    url = capacity_url(tenant_a.tiers[0].id)
    client.put(url, headers=tenant_a.admin, json={"from": "2031-07-01", "units": 3})
    backwards = {"from": "2031-07-02", "to": "2031-07-01"}
    put = client.put(url, headers=tenant_a.admin, json={**backwards, "units": 8})
    assert [d["path"] for d in error_of(put, 422, "validation_error")["details"]] == ["/json/to"]
    for method in (client.get, client.delete):
        response = method(url, headers=tenant_a.admin, query_string=backwards)
        error = error_of(response, 422, "validation_error")
        assert [d["path"] for d in error["details"]] == ["/query/to"]
    assert capacity_rows(db, tenant_a.tiers[0].id) == {"2031-07-01": 3}


def test_negative_or_non_integer_units_are_422(client, db, tenant_a):
    url = capacity_url(tenant_a.tiers[0].id)
    for units in (-1, "3", 2.5, None):
        response = client.put(
            url, headers=tenant_a.admin, json={"from": "2031-08-01", "units": units}
        )
        error = error_of(response, 422, "validation_error")
        assert [d["path"] for d in error["details"]] == ["/json/units"]
    missing_from = client.put(url, headers=tenant_a.admin, json={"units": 1})
    assert [d["path"] for d in error_of(missing_from, 422, "validation_error")["details"]] == [
        "/json/from"
    ]
    assert capacity_rows(db, tenant_a.tiers[0].id) == {}


def test_unknown_tier_is_404(client, db, tenant_a):
    url = capacity_url(str(uuid.uuid4()))
    error_of(
        client.get(url, headers=tenant_a.admin, query_string={"from": "2031-01-01"}),
        404,
        "tier_not_found",
    )
    error_of(
        client.put(url, headers=tenant_a.admin, json={"from": "2031-01-01", "units": 1}),
        404,
        "tier_not_found",
    )
    error_of(
        client.delete(url, headers=tenant_a.admin, query_string={"from": "2031-01-01"}),
        404,
        "tier_not_found",
    )
    with db.transaction() as s:
        assert (
            s.scalars(
                select(m.Capacity).where(m.Capacity.tenant_id == uuid.UUID(tenant_a.tenant.id))
            ).all()
            == []
        )


# ---- blackouts --------------------------------------------------------------------------------


def test_tenant_wide_single_date(client, db, tenant_a):
    response = client.post(
        BLACKOUTS, headers=tenant_a.admin, json={"from": "2031-12-25", "reason": "Xmas"}
    )
    assert response.status_code == 201, response.get_json()
    [created] = response.get_json()
    assert created == {"id": created["id"], "tier_id": None, "date": "2031-12-25", "reason": "Xmas"}
    listed = client.get(BLACKOUTS, headers=tenant_a.admin, query_string={"from": "2031-12-25"})
    assert listed.get_json() == [created]
    assert (None, "2031-12-25", "Xmas") in blackout_rows(db, tenant_a.tenant.id)


def test_range_for_one_tier(client, db, tenant_a):
    tier_id = tenant_a.tiers[1].id
    response = client.post(
        BLACKOUTS,
        headers=tenant_a.admin,
        json={"from": "2031-02-10", "to": "2031-02-12", "tier_id": tier_id, "reason": "works"},
    )
    assert response.status_code == 201
    created = response.get_json()
    assert [(b["tier_id"], b["date"], b["reason"]) for b in created] == [
        (tier_id, "2031-02-10", "works"),
        (tier_id, "2031-02-11", "works"),
        (tier_id, "2031-02-12", "works"),
    ]
    assert len({b["id"] for b in created}) == 3
    rows = [r for r in blackout_rows(db, tenant_a.tenant.id) if r[1].startswith("2031-02")]
    assert rows == [(tier_id, d, "works") for d in ("2031-02-10", "2031-02-11", "2031-02-12")]


def test_reposting_is_idempotent(client, db, tenant_a):
    first = client.post(
        BLACKOUTS,
        headers=tenant_a.admin,
        json={"from": "2031-09-01", "to": "2031-09-02", "reason": "a"},
    ).get_json()
    before = blackout_rows(db, tenant_a.tenant.id)
    again = client.post(
        BLACKOUTS,
        headers=tenant_a.admin,
        json={"from": "2031-09-01", "to": "2031-09-03", "reason": "b"},
    )
    assert again.status_code == 201
    body = again.get_json()
    # Existing dates keep their id and reason; only the new date is added.
    assert body[:2] == first
    assert (body[2]["date"], body[2]["reason"]) == ("2031-09-03", "b")
    after = blackout_rows(db, tenant_a.tenant.id)
    assert len(after) == len(before) + 1
    assert (None, "2031-09-01", "a") in after


def test_tenant_wide_and_tier_blackouts_on_the_same_date_coexist(client, db, tenant_a):
    # The fixture closed 2031-01-01 for tier 0.
    response = client.post(BLACKOUTS, headers=tenant_a.admin, json={"from": "2031-01-01"})
    assert response.status_code == 201
    assert response.get_json()[0]["id"] != tenant_a.blackout["id"]
    other_tier = client.post(
        BLACKOUTS,
        headers=tenant_a.admin,
        json={"from": "2031-01-01", "tier_id": tenant_a.tiers[1].id},
    )
    assert other_tier.status_code == 201
    rows = [r for r in blackout_rows(db, tenant_a.tenant.id) if r[1] == "2031-01-01"]
    assert sorted(rows, key=str) == sorted(
        [
            (tenant_a.tiers[0].id, "2031-01-01", "closed"),
            (None, "2031-01-01", ""),
            (tenant_a.tiers[1].id, "2031-01-01", ""),
        ],
        key=str,
    )


def test_list_filters_and_pagination(client, db, tenant_a):
    h = tenant_a.admin
    client.post(BLACKOUTS, headers=h, json={"from": "2031-01-02", "to": "2031-01-04"})
    client.post(BLACKOUTS, headers=h, json={"from": "2031-01-03", "tier_id": tenant_a.tiers[2].id})
    everything = client.get(BLACKOUTS, headers=h)
    assert json.loads(everything.headers["X-Pagination"])["total"] == 5
    assert [b["date"] for b in everything.get_json()] == [
        "2031-01-01",
        "2031-01-02",
        "2031-01-03",
        "2031-01-03",
        "2031-01-04",
    ]

    window = client.get(
        BLACKOUTS, headers=h, query_string={"from": "2031-01-02", "to": "2031-01-03"}
    )
    assert [b["date"] for b in window.get_json()] == ["2031-01-02", "2031-01-03", "2031-01-03"]
    of_tier = client.get(
        BLACKOUTS, headers=h, query_string={"tier_id": tenant_a.tiers[2].id}
    ).get_json()
    assert [(b["tier_id"], b["date"]) for b in of_tier] == [(tenant_a.tiers[2].id, "2031-01-03")]
    page = client.get(BLACKOUTS, headers=h, query_string={"page": 2, "page_size": 2})
    meta = json.loads(page.headers["X-Pagination"])
    assert (meta["total"], meta["page"], meta["total_pages"]) == (5, 2, 3)
    assert [b["date"] for b in page.get_json()] == ["2031-01-03", "2031-01-03"]
    error_of(
        client.get(BLACKOUTS, headers=h, query_string={"tier_id": str(uuid.uuid4())}),
        404,
        "tier_not_found",
    )


def test_delete_reopens_the_date(client, db, tenant_a):
    url = f"{BLACKOUTS}/{tenant_a.blackout['id']}"
    response = client.delete(url, headers=tenant_a.admin)
    assert response.status_code == 204
    assert client.get(BLACKOUTS, headers=tenant_a.admin).get_json() == []
    assert blackout_rows(db, tenant_a.tenant.id) == []
    error_of(client.delete(url, headers=tenant_a.admin), 404, "blackout_not_found")


def test_invalid_blackouts_are_refused_and_nothing_is_stored(client, db, tenant_a):
    before = blackout_rows(db, tenant_a.tenant.id)
    cases = [
        ({"from": "2031-05-02", "to": "2031-05-01"}, 422, "validation_error"),
        ({"from": "2031-01-01", "to": "2032-01-02"}, 422, "validation_error"),
        ({"from": "2031-05-01", "reason": "x" * 201}, 422, "validation_error"),
        ({"from": "not-a-date"}, 422, "validation_error"),
        ({"from": "2031-05-01", "tier_id": str(uuid.uuid4())}, 404, "tier_not_found"),
    ]
    for payload, status, code in cases:
        error_of(client.post(BLACKOUTS, headers=tenant_a.admin, json=payload), status, code)
    assert blackout_rows(db, tenant_a.tenant.id) == before
