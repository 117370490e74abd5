"""Operator audit of rule decisions through the HTTP API on PostgreSQL: search and export, explain,
masking of personal data, replay, the hash chain (verify after edits, deletes, swaps), backtests
of a draft against hand-computed deltas, and retention purges that keep the chain verifiable."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import delete, insert, select, text, update

from app.services import decision_log
from storage import decisions as store
from storage import models as m
from tests.support.dates import weekday_ahead
from tests.support.embedded import embedded_settings, seeded_demo
from tests.support.http import ok
from tests.support.rows import decision_row, execute
from tests.support.rules import default_document, publish
from tests.support.storefront import get_offers, quote, start

D = "/v1/admin/decisions"


def upgrade_quote(client, fx, source, target, guests=2) -> dict:
    day = weekday_ahead().isoformat()
    body = {"tier_id": source.id, "to_tier_id": target.id, "date": day, "guests": guests}
    return ok(client.post("/v1/storefront/upgrade-quotes", headers=fx.storefront, json=body))


def offers(client, fx) -> dict:
    return ok(get_offers(client, fx, weekday_ahead()))


def search(client, fx, headers=None, **query) -> list[dict]:
    return ok(client.get(D, headers=headers or fx.admin, query_string=query))


def verify(client, fx) -> dict:
    return ok(client.get(f"{D}/verify", headers=fx.admin))


# ---- search, export, explain -----------------------------------------------------------------


def test_search_by_purpose_kind_rule_outcome_quote_request_and_time(client, db, tenant_a, tenant_b):
    fx = tenant_a
    before = dt.datetime.now(dt.UTC)
    shown = offers(client, fx)
    quoted = quote(client, fx, fx.tiers[0], weekday_ahead())
    denied = upgrade_quote(client, fx, fx.tiers[2], fx.tiers[0])  # a downgrade: the rules decide
    offers(client, tenant_b)  # another tenant's decisions never show

    everything = search(client, fx)
    ids = {d["id"] for d in everything}
    assert ids == {*shown["decision_ids"], *quoted["decision_ids"], *denied["decision_ids"]}
    assert [d["created_at"] for d in everything] == sorted(
        (d["created_at"] for d in everything), reverse=True
    )
    assert {d["id"] for d in search(client, fx, purpose="quote")} == set(quoted["decision_ids"])
    assert {d["id"] for d in search(client, fx, kind="upgrade")} == {denied["decision_id"]}
    assert {d["id"] for d in search(client, fx, rule_id="commission-standard")} == ids
    assert {d["id"] for d in search(client, fx, rule_id="upsell-next-tier")} == {
        o["decision_id"] for o in shown["offers"] if o["tier"]["level"] < 3
    }
    outcome = "upgrade.allow=" + ("true" if denied["allowed"] else "false")
    assert {d["id"] for d in search(client, fx, outcome=outcome)} == {denied["decision_id"]}
    assert (
        search(client, fx, outcome="upgrade.allow=" + ("false" if denied["allowed"] else "true"))
        == []
    )
    assert {d["id"] for d in search(client, fx, quote_id=quoted["quote_id"])} == set(
        quoted["decision_ids"]
    )
    one = everything[0]
    assert {d["id"] for d in search(client, fx, request_id=one["request_id"])} >= {one["id"]}
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    assert search(client, fx, **{"from": later}) == []
    assert len(search(client, fx, **{"from": before.isoformat(), "to": later})) == len(ids)

    page = client.get(D, headers=fx.analyst, query_string={"page": 1, "page_size": 2})
    assert page.status_code == 200 and len(page.get_json()) == 2
    assert json.loads(page.headers["X-Pagination"])["total"] == len(ids)


def test_search_by_booking_finds_the_decisions_of_its_quote(stripe_client, db, tenant_a):
    client, fx = stripe_client, tenant_a
    quoted = quote(client, fx, fx.tiers[1], weekday_ahead())
    started = ok(start(client, fx, quoted["token"], name=None), 201)
    found = search(client, fx, booking_id=started["booking_id"])
    assert {d["id"] for d in found} == set(quoted["decision_ids"])
    missing = client.get(D, headers=fx.admin, query_string={"booking_id": str(uuid.uuid4())})
    assert missing.status_code == 404


def test_bad_search_arguments_are_422(client, tenant_a):
    for query in (
        {"purpose": "nope"},
        {"kind": "x"},
        {"from": "yesterday"},
        {"outcome": "no-equals"},
        {"customer_email": "not-an-email"},
        {"bookingid": str(uuid.uuid4())},  # a misspelt filter must not match everything
        {"from": "0001-01-01T00:00:00+01:00"},
        {"to": "9999-12-31T23:00:00-02:00"},
        {"request_id": "x\x00y"},
        {"rule_id": "r\x00"},
    ):
        response = client.get(D, headers=tenant_a.admin, query_string=query)
        assert response.status_code == 422, (query, response.get_json())
        assert response.get_json()["error"]["details"], query


def test_export_is_ndjson_of_the_range_and_bounded(client, tenant_a):
    fx = tenant_a
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    shown = offers(client, fx)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    response = client.get(
        f"{D}/export",
        headers=fx.analyst,
        query_string={"from": start.isoformat(), "to": end.isoformat()},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [r["id"] for r in lines] == [d["id"] for d in reversed(search(client, fx))]
    assert {r["id"] for r in lines} == set(shown["decision_ids"])
    assert all(r["hash"] and r["seq"] for r in lines)
    too_long = client.get(
        f"{D}/export",
        headers=fx.admin,
        query_string={"from": start.isoformat(), "to": (start + dt.timedelta(days=32)).isoformat()},
    )
    assert too_long.status_code == 422
    assert client.get(f"{D}/export", headers=fx.admin).status_code == 422


def offer_position(shown: dict, decision_id: str) -> int:
    """The chain seq of an offer's decision on a fresh tenant: its place in the response."""
    return shown["decision_ids"].index(decision_id) + 1


def test_explain_shows_every_rule_why_not_and_the_price_it_fed(client, tenant_a):
    fx = tenant_a
    shown = offers(client, fx)
    offer = shown["offers"][0]
    body = ok(client.get(f"{D}/{offer['decision_id']}", headers=fx.analyst))
    assert body["ruleset_version"] == shown["ruleset"]["version"]
    assert {"rule_id", "kind", "priority", "matched", "fired", "why_not"} <= set(
        body["considered"][0]
    )
    unmatched = [c for c in body["considered"] if not c["matched"]]
    assert unmatched and all(c["why_not"] for c in unmatched)
    assert body["price"]["total"] == offer["price"]["total"]
    # the explained price in the API's money format (the record keeps its exact lines)
    assert [(line["code"], line["amount"]) for line in body["price"]["lines"]] == [
        (line["code"], line["amount"]) for line in offer["price"]["lines"]
    ]
    assert body["price"]["platform_fee"] == body["context"]["price"]["platform_fee"] > 0
    assert [line[0] for line in body["context"]["price"]["lines"]] == [
        line["code"] for line in offer["price"]["lines"]
    ]
    assert body["context"]["pricing"]["base"] == fx.tiers[0].base_price.amount
    assert body["seq"] == offer_position(shown, offer["decision_id"])
    assert (len(body["hash"]), len(body["prev_hash"])) == (64, 64)


def test_operators_search_every_tenant_and_read_any_decision(
    client, tenant_a, tenant_b, platform_headers
):
    a, b = offers(client, tenant_a), offers(client, tenant_b)
    found = ok(
        client.get(
            "/v1/platform/decisions", headers=platform_headers, query_string={"page_size": 100}
        )
    )
    assert set(a["decision_ids"]) | set(b["decision_ids"]) <= {d["id"] for d in found}
    only_b = ok(
        client.get(
            "/v1/platform/decisions",
            headers=platform_headers,
            query_string={"tenant_id": tenant_b.tenant.id},
        )
    )
    assert {d["id"] for d in only_b} == set(b["decision_ids"])
    one = ok(
        client.get(
            f"/v1/platform/tenants/{tenant_a.tenant.id}/decisions/{a['decision_ids'][0]}",
            headers=platform_headers,
        )
    )
    assert one["id"] == a["decision_ids"][0]
    wrong_tenant = client.get(
        f"/v1/platform/tenants/{tenant_b.tenant.id}/decisions/{a['decision_ids'][0]}",
        headers=platform_headers,
    )
    assert wrong_tenant.status_code == 404
    # Tenant admins reach only their own tenant's decisions.
    assert client.get(f"{D}/{b['decision_ids'][0]}", headers=tenant_a.admin).status_code == 404
    assert client.get("/v1/platform/decisions", headers=tenant_a.admin).status_code == 403


# ---- masking -----------------------------------------------------------------------------------


def test_personal_data_is_masked_and_searchable_by_keyed_hash(client, db, tenant_a):
    fx = tenant_a
    customer = {"email": "Ana.Lima@Example.com", "name": "Ana Lima", "phone": "+49 30 1234567"}
    quoted = quote(client, fx, fx.tiers[0], weekday_ahead(), customer=customer)
    row = decision_row(db, quoted["decision_ids"][0])
    with db.transaction() as s:
        raw = s.execute(
            text("SELECT CAST(decisions AS text) FROM decisions WHERE id = :id"),
            {"id": uuid.UUID(quoted["decision_ids"][0])},
        ).scalar_one()
    for clear in ("Ana", "Lima", "example.com", "1234567"):
        assert clear.lower() not in raw.lower(), clear
    assert row.masked_fields == [
        "/context/customer/email",
        "/context/customer/name",
        "/context/customer/phone",
    ]
    assert all(v.startswith("pii:") for v in row.context["customer"].values())
    found = search(client, fx, customer_email="ana.lima@example.com")  # case-insensitive e-mail
    assert [d["id"] for d in found] == quoted["decision_ids"]
    assert search(client, fx, customer_email="someone@example.com") == []


# ---- replay ------------------------------------------------------------------------------------


def test_replay_of_an_unchanged_decision_is_identical_even_after_a_new_version(
    app, client, tenant_a
):
    fx = tenant_a
    quoted = quote(client, fx, fx.tiers[1], weekday_ahead())
    everything_up = {
        "id": "everything-up",
        "kind": "season",
        "priority": 500,
        "then": {"multiplier": "1.5"},
    }
    publish(app, fx.tenant.id, default_document(everything_up), now=dt.datetime.now(dt.UTC))
    assert (
        quote(client, fx, fx.tiers[1], weekday_ahead())["price"]["total"]
        != quoted["price"]["total"]
    )
    replayed = ok(client.post(f"{D}/{quoted['decision_ids'][0]}/replay", headers=fx.admin))
    assert replayed["identical"] is True and replayed["differences"] == []
    assert replayed["replayed"]["price"]["total"] == quoted["price"]["total"]


def test_replay_reports_the_exact_difference_of_an_altered_record(client, db, tenant_a):
    fx = tenant_a
    quoted = quote(client, fx, fx.tiers[0], weekday_ahead())
    decision_id = quoted["decision_ids"][0]
    row = decision_row(db, decision_id)
    outputs = {**row.outputs, "commission": {**row.outputs["commission"], "rate_percent": "25"}}
    execute(db, update(m.Decision).where(m.Decision.id == row.id).values(outputs=outputs))
    replayed = ok(client.post(f"{D}/{decision_id}/replay", headers=fx.admin))
    assert replayed["identical"] is False
    assert replayed["differences"] == [
        {"path": "/outputs/commission/rate_percent", "recorded": "25", "replayed": "10"}
    ]


# ---- the hash chain ------------------------------------------------------------------------------


@pytest.fixture
def chained(client, tenant_a):
    """Nine decisions (three offers of three tiers) on tenant A's chain, verified intact."""
    for _ in range(3):
        offers(client, tenant_a)
    result = verify(client, tenant_a)
    assert (result["valid"], result["checked"], result["head_seq"], result["broken"]) == (
        True,
        9,
        9,
        None,
    )
    return tenant_a


def row_at(db, fx, seq: int) -> m.Decision:
    with db.transaction() as s:
        return s.scalar(
            select(m.Decision).where(
                m.Decision.tenant_id == uuid.UUID(fx.tenant.id), m.Decision.seq == seq
            )
        )


def test_verify_finds_an_edited_row(client, db, chained):
    fx = chained
    target = row_at(db, fx, 4)
    execute(
        db,
        update(m.Decision)
        .where(m.Decision.id == target.id)
        .values(facts={**target.facts, "guests": 9}),
    )
    result = verify(client, fx)
    assert result["valid"] is False
    assert result["broken"] == {
        "seq": 4,
        "decision_id": str(target.id),
        "found_seq": 4,
        "reason": "hash_mismatch",
    }


def test_verify_finds_a_deleted_row(client, db, chained):
    fx = chained
    execute(db, delete(m.Decision).where(m.Decision.id == row_at(db, fx, 6).id))
    broken = verify(client, fx)["broken"]
    assert (broken["seq"], broken["found_seq"], broken["reason"]) == (6, 7, "missing_link")


def test_verify_finds_swapped_rows(client, db, chained):
    fx = chained
    two, three = row_at(db, fx, 2), row_at(db, fx, 3)
    with db.transaction() as s:  # swap their positions (and links) in the chain
        s.execute(update(m.Decision).where(m.Decision.id == two.id).values(seq=-1))
        s.execute(update(m.Decision).where(m.Decision.id == three.id).values(seq=2))
        s.execute(update(m.Decision).where(m.Decision.id == two.id).values(seq=3))
    broken = verify(client, fx)["broken"]
    assert (broken["seq"], broken["decision_id"], broken["reason"]) == (
        2,
        str(three.id),
        "prev_hash_mismatch",
    )


def test_verify_finds_the_newest_rows_removed(client, db, chained):
    fx = chained
    execute(db, delete(m.Decision).where(m.Decision.id == row_at(db, fx, 9).id))
    broken = verify(client, fx)["broken"]
    assert (broken["seq"], broken["reason"]) == (9, "head_mismatch")


def test_operators_verify_any_tenant(client, chained, platform_headers):
    result = ok(
        client.get(
            f"/v1/platform/tenants/{chained.tenant.id}/decisions/verify", headers=platform_headers
        )
    )
    assert (result["valid"], result["checked"]) == (True, 9)


# ---- retention -----------------------------------------------------------------------------------


def test_a_purge_keeps_the_rest_of_the_chain_verifiable(client, db, tenant_a):
    fx = tenant_a
    offers(client, fx)  # seq 1-3
    cutoff = dt.datetime.now(dt.UTC)
    offers(client, fx)  # seq 4-6
    assert (
        ok(
            client.patch(
                "/v1/admin/tenant",
                headers={**fx.admin, "If-Match": '"1"'},
                json={"decision_retention_days": 30},
            )
        )["decision_retention_days"]
        == 30
    )
    result = decision_log.purge(db, fx.tenant.id, 30, cutoff + dt.timedelta(days=30))
    assert (result["from_seq"], result["through_seq"], result["removed"]) == (1, 3, 3)
    assert result["last_hash"] == row_at(db, fx, 4).prev_hash
    after = verify(client, fx)
    assert (after["valid"], after["checked"], after["purged_through_seq"]) == (True, 3, 3)
    assert len(search(client, fx)) == 3
    # Purging again removes nothing; the remaining chain still detects an edit.
    assert decision_log.purge(db, fx.tenant.id, 30, cutoff + dt.timedelta(days=30))["removed"] == 0
    execute(db, update(m.Decision).where(m.Decision.id == row_at(db, fx, 4).id).values(engine="x"))
    assert verify(client, fx)["broken"]["reason"] == "hash_mismatch"


def test_retention_must_be_a_sensible_number_of_days(client, tenant_a):
    for days in (0, -1, 4000, "30"):
        response = client.patch(
            "/v1/admin/tenant",
            headers={**tenant_a.admin, "If-Match": '"1"'},
            json={"decision_retention_days": days},
        )
        assert response.status_code == 422, days


# ---- backtest ------------------------------------------------------------------------------------


def draft_with(client, fx, *rules: dict) -> str:
    body = {"name": "what if", "document": default_document(*rules)}
    created = client.post("/v1/admin/rulesets/drafts", headers=fx.admin, json=body)
    return ok(created, 201)["id"]


def test_backtest_reports_hand_computed_deltas(client, tenant_a):
    fx = tenant_a
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    # Recorded under the default rules (plain weekday: multiplier 1, no discount, 10 % fee):
    day = weekday_ahead()
    quote(client, fx, fx.tiers[0], day)  # Essential: 10000 + 2 × 1000 = 12000, fee 1200
    quote(client, fx, fx.tiers[0], day)  # again
    quote(client, fx, fx.tiers[1], day)  # Preferred: 20000 + 2000 = 22000, fee 2200
    upgrade_quote(client, fx, fx.tiers[0], fx.tiers[2])  # two records: 12000 (fee 1200) and
    # Ultimate 30000 + 2000 = 32000 (fee 3200), upgrade allowed (level +2)
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    draft = draft_with(
        client,
        fx,
        {
            "id": "essential-up",
            "kind": "season",
            "priority": 300,
            "when": {"fact": "tier_level", "op": "eq", "value": 1},
            "then": {"multiplier": "1.25"},
        },
        {"id": "fee-12", "kind": "commission", "priority": 100, "then": {"rate_percent": "12"}},
        {
            "id": "no-big-jumps",
            "kind": "upgrade",
            "priority": 1000,
            "when": {"fact": "level_delta", "op": "gte", "value": 2},
            "then": {"allow": False, "reason": "one_level_at_a_time"},
        },
    )
    report = ok(
        client.post(
            f"/v1/admin/rulesets/drafts/{draft}/backtest",
            headers=fx.admin,
            json={"from": start.isoformat(), "to": end.isoformat()},
        )
    )
    # Essential: 12000 → 15000 (+3000), fee 1200 → 1800 (+600), three times (2 quotes, 1 upgrade);
    # Preferred: price unchanged, fee 2200 → 2640 (+440); Ultimate: unchanged, 3200 → 3840 (+640).
    assert (report["evaluated"], report["truncated"], report["outputs_changed"]) == (5, False, 5)
    prices = report["prices"]
    assert (prices["compared"], prices["changed"]) == (5, 3)
    assert prices["revenue_delta"] == 3 * 3000
    assert prices["commission_delta"] == 3 * 600 + 440 + 640
    assert prices["by_purpose"] == {
        "quote": {"compared": 3, "changed": 2, "revenue_delta": 6000, "commission_delta": 1640},
        "upgrade": {"compared": 2, "changed": 1, "revenue_delta": 3000, "commission_delta": 1240},
    }
    assert report["upgrades"] == {"compared": 1, "now_allowed": 0, "now_denied": 1}
    assert [c["delta"] for c in report["largest_changes"]] == [3000, 3000, 3000]
    assert all(
        (c["old_total"], c["new_total"]) == (12000, 15000) for c in report["largest_changes"]
    )
    # Instants are ISO 8601 with their offset (they were HTTP dates: "Mon, 07 Dec 2026 … GMT")
    for change in report["largest_changes"]:
        recorded = dt.datetime.fromisoformat(change["created_at"])
        assert recorded.utcoffset() is not None and start <= recorded < end, change["created_at"]
    assert dt.datetime.fromisoformat(report["from"]) == start
    # Outside the range, nothing.
    empty = ok(
        client.post(
            f"/v1/admin/rulesets/drafts/{draft}/backtest",
            headers=fx.admin,
            json={"from": end.isoformat(), "to": (end + dt.timedelta(hours=1)).isoformat()},
        )
    )
    assert (empty["evaluated"], empty["prices"]["revenue_delta"]) == (0, 0)
    bad = client.post(
        f"/v1/admin/rulesets/drafts/{draft}/backtest",
        headers=fx.admin,
        json={"from": end.isoformat(), "to": start.isoformat()},
    )
    assert bad.status_code == 422


def test_the_purge_command_on_the_embedded_default(tmp_path, monkeypatch):
    """``tierwise purge-decisions`` on SQLite: tenants without retention are skipped; a tenant's
    fresh decisions stay (nothing is older than its retention) and its chain stays valid."""
    from click.testing import CliRunner

    from app import cli, create_app

    settings = embedded_settings(monkeypatch, tmp_path / "purge.db")
    tenant, key = seeded_demo(settings)
    app = create_app(settings)
    database = app.extensions["tierwise"].db
    try:
        client = app.test_client()
        query = {"date": weekday_ahead().isoformat(), "guests": 2}
        shown = client.get(
            "/v1/storefront/segments/premium/offers", headers={"X-Api-Key": key}, query_string=query
        )
        assert shown.status_code == 200, shown.get_json()
        runner = CliRunner()
        skipped = runner.invoke(cli.main, ["purge-decisions"])
        assert (skipped.exit_code, skipped.output) == (0, "")  # no tenant has a retention
        with database.transaction() as s:
            s.execute(
                update(m.Tenant)
                .where(m.Tenant.id == uuid.UUID(tenant.id))
                .values(decision_retention_days=1)
            )
        purged = runner.invoke(cli.main, ["purge-decisions", "--tenant", tenant.slug])
        assert purged.exit_code == 0, purged.output
        assert purged.output.startswith(f"{tenant.id}: removed 0 decisions")
        result = decision_log.verify(database, tenant.id)
        assert (result["valid"], result["checked"]) == (True, len(shown.get_json()["decision_ids"]))
    finally:
        database.dispose()


def test_outcome_values_of_another_type_find_nothing_rather_than_fail(client, tenant_a):
    fx = tenant_a
    shown = offers(client, fx)
    below_ultimate = {o["decision_id"] for o in shown["offers"] if o["tier"]["level"] < 3}
    assert {d["id"] for d in search(client, fx, outcome="upsell.target_level=3")} == below_ultimate
    assert {d["id"] for d in search(client, fx, outcome="upsell.offer=tier")} == below_ultimate
    for mismatched in ("upgrade.allow=1", "upsell.offer=true", "upsell.offer=3", "season.nope=x"):
        assert search(client, fx, outcome=mismatched) == [], mismatched


def test_verify_finds_records_added_beside_the_chain(client, db, chained):
    fx = chained
    template = row_at(db, fx, 5)
    forged = {c.name: getattr(template, c.name) for c in m.Decision.__table__.columns}
    execute(
        db,
        m.Decision.__table__.insert().values(
            {**forged, "id": uuid.uuid4(), "seq": None, "prev_hash": None, "hash": None}
        ),
    )
    broken = verify(client, fx)["broken"]
    assert (broken["reason"], broken["seq"]) == ("unlinked_record", None)


def test_verify_finds_a_record_past_the_head(client, db, chained):
    fx = chained
    template = row_at(db, fx, 9)
    forged = {c.name: getattr(template, c.name) for c in m.Decision.__table__.columns}
    execute(db, m.Decision.__table__.insert().values({**forged, "id": uuid.uuid4(), "seq": 10}))
    broken = verify(client, fx)["broken"]
    assert (broken["reason"], broken["seq"]) == ("extra_link", 10)


def test_search_by_booking_finds_its_upgrade_decisions(stripe_client, db, tenant_a):
    client, fx = stripe_client, tenant_a
    quoted = quote(client, fx, fx.tiers[0], weekday_ahead())
    started = ok(start(client, fx, quoted["token"], name=None), 201)
    upgrade = ok(
        client.post(
            "/v1/storefront/upgrade-quotes",
            headers=fx.storefront,
            json={
                "booking_id": started["booking_id"],
                "to_tier_id": fx.tiers[2].id,
                "customer": {"email": "ana@example.com", "phone": "+49 30 555"},
            },
        )
    )
    found = {d["id"] for d in search(client, fx, booking_id=started["booking_id"])}
    assert found == set(quoted["decision_ids"]) | set(upgrade["decision_ids"])
    for decision_id in upgrade["decision_ids"]:
        row = decision_row(db, decision_id)
        assert str(row.booking_id) == started["booking_id"]
        assert row.masked_fields == ["/context/customer/email", "/context/customer/phone"]
        assert "555" not in json.dumps(row.context) and "ana@" not in json.dumps(row.context)
    assert {d["id"] for d in search(client, fx, customer_email="ANA@example.com")} == set(
        upgrade["decision_ids"]
    )


def test_nul_characters_are_refused_before_anything_is_stored(client, tenant_a):
    fx = tenant_a
    response = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/offers",
        headers=fx.storefront,
        query_string={"date": weekday_ahead().isoformat(), "guests": 2, "visitor_id": "v\x00"},
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"] == [
        {"path": "/query/visitor_id", "message": "NUL characters are not allowed."}
    ]
    body = client.post(
        "/v1/storefront/events",
        headers=fx.storefront,
        data=json.dumps(
            {
                "events": [
                    {
                        "client_event_id": "e\u0000",
                        "type": "upsell_shown",
                        "visitor_id": "v",
                        "occurred_at": "2026-11-27T10:00:00+00:00",
                    }
                ]
            }
        ),
        content_type="application/json",
    )
    assert body.status_code == 422
    assert search(client, fx) == []


def test_the_chain_is_read_whole_when_a_duplicate_seq_falls_on_a_page_boundary(db, chained):
    """Paging on seq alone skipped the second of two rows with one seq when the first ended a
    page, and verification would not see the duplicate: pages are keyed on (seq, id)."""
    fx = chained
    original = row_at(db, fx, 4)
    copy = {c.name: getattr(original, c.key) for c in m.Decision.__table__.columns}
    with db.transaction() as s:
        s.execute(insert(m.Decision.__table__).values({**copy, "id": uuid.uuid4()}))
        seqs = [r.seq for r in store.chain(s, fx.tenant.id, batch=4)]
    assert seqs == [1, 2, 3, 4, 4, 5, 6, 7, 8, 9]
