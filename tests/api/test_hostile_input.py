"""Hostile input (issue 15, "Dates and numbers" and "Text and structure"): each answers a clear
4xx in the one error shape and changes nothing, or is handled correctly; none answers 5xx.

Dates and times have documented windows (activation at most 5 years ahead, service dates within
the selling horizon, ``as_of`` / ``at`` / ``occurred_at`` / ``from`` / ``to`` within sane
bounds), integers what the database holds; request bodies and ruleset documents nest at most 32
levels, text never carries NUL or a lone surrogate, ``X-Request-Id`` is a safe token or is
replaced, and an over-long URL answers 414."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import uuid

from sqlalchemy import text, update

from app.services import rulesets
from rules.defaults import DEFAULT_RULESET
from storage import models as m
from tests.support.dates import weekday_ahead
from tests.support.http import assert_error_shape
from tests.support.rows import count, decision_row, execute
from tests.support.storefront import quote

R = "/v1/admin/rulesets"
D = "/v1/admin/decisions"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def paths(response, status: int = 422, code: str = "validation_error") -> list[str]:
    error = assert_error_shape(response, status, code)
    return [d["path"] for d in error.get("details", [])]


def offers(client, fx, **query):
    query = {"date": weekday_ahead().isoformat(), "guests": 2, **query}
    return client.get(
        f"/v1/storefront/segments/{fx.segment.key}/offers",
        headers=fx.storefront,
        query_string=query,
    )


def preview(client, fx, **query):
    query = {"date": weekday_ahead().isoformat(), "guests": 2, **query}
    return client.get(
        f"/v1/admin/segments/{fx.segment.key}/offers-preview",
        headers=fx.admin,
        query_string=query,
    )


def post(client, url: str, headers: dict, body) -> object:
    """POST ``body`` as JSON with ASCII escapes (``json=`` can't carry a lone surrogate)."""
    return client.post(
        url, headers={**headers, "Content-Type": "application/json"}, data=json.dumps(body)
    )


def evaluate(client, fx, facts: dict, **extra):
    return post(client, f"{R}/evaluate", fx.admin, {"facts": facts, **extra})


def draft(client, fx) -> str:
    created = client.post(
        f"{R}/drafts", headers=fx.admin, json={"name": "d", "document": DEFAULT_RULESET}
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def assert_tenant_serves(client, fx) -> None:
    """Offers, quotes, evaluate and the activation state all answer."""
    assert offers(client, fx).status_code == 200, offers(client, fx).get_json()
    quote(client, fx, fx.tiers[1], weekday_ahead())
    evaluated = evaluate(client, fx, {"tier_level": 1})
    assert evaluated.status_code == 200, evaluated.get_json()
    state = client.get(f"{R}/active", headers=fx.admin)
    assert state.status_code == 200, state.get_json()


# ---- dates and numbers ------------------------------------------------------------------------


def test_an_activation_past_the_end_of_time_is_refused_and_changes_nothing(client, db, tenant_a):
    fx = tenant_a
    draft_id = draft(client, fx)
    before = count(db, m.RulesetActivation, fx.tenant.id)
    far = dt.datetime.now(dt.UTC) + dt.timedelta(days=5 * 366 + 2)
    for activates_at in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", far.isoformat()):
        refused = client.post(
            f"{R}/drafts/{draft_id}/publish", headers=fx.admin, json={"activates_at": activates_at}
        )
        assert paths(refused) == ["/json/activates_at"], activates_at
    assert count(db, m.RulesetActivation, fx.tenant.id) == before
    assert_tenant_serves(client, fx)


def test_a_stored_activation_past_year_9999_does_not_brick_the_tenant(app, client, db, tenant_a):
    """What an older release stored for ``9999-12-31T23:59:59-14:00``: year 10000 in UTC. It is
    read as the last representable instant (never reached), so the tenant keeps serving, and
    activating another version works."""
    fx = tenant_a
    svc = app.extensions["tierwise"]
    rulesets.publish_document(svc.db, None, fx.tenant.id, DEFAULT_RULESET, "test", "v2")
    execute(
        db,
        text(
            "INSERT INTO ruleset_activations (tenant_id, sequence, version_number, action,"
            " activates_at, created_by, created_at) VALUES (:tenant, 3, 2, 'publish',"
            " '10000-01-01 13:59:59+00', 'test', now())"
        ).bindparams(tenant=uuid.UUID(fx.tenant.id)),
    )
    assert_tenant_serves(client, fx)
    state = client.get(f"{R}/active", headers=fx.admin).get_json()
    assert state["active_version"] == 2
    assert state["scheduled"][0]["activates_at"] == "9999-12-31T23:59:59.999999+00:00"
    rolled_back = client.post(f"{R}/versions/1/activate", headers=fx.admin, json={})
    assert rolled_back.status_code == 201, rolled_back.get_json()
    assert client.get(f"{R}/active", headers=fx.admin).get_json()["active_version"] == 1
    assert_tenant_serves(client, fx)


def test_service_dates_at_the_ends_of_the_calendar_are_refused(client, db, tenant_a):
    fx = tenant_a
    tier = fx.tiers[0]
    for day in ("0001-01-01", "9999-12-31"):
        assert paths(offers(client, fx, date=day)) == ["/query/date"], day
        assert paths(preview(client, fx, date=day)) == ["/query/date"], day
        quoted = client.post(
            "/v1/storefront/quotes",
            headers=fx.storefront,
            json={"tier_id": tier.id, "date": day, "guests": 2},
        )
        assert paths(quoted) == ["/json/date"], day
        upgrade = client.post(
            "/v1/storefront/upgrade-quotes",
            headers=fx.storefront,
            json={"tier_id": tier.id, "to_tier_id": fx.tiers[1].id, "date": day, "guests": 2},
        )
        assert paths(upgrade) == ["/json/date"], day
    # the selling horizon, to the day, in the tenant's time zone
    beyond = dt.date.today() + dt.timedelta(days=3 * 366 + 2)
    assert paths(offers(client, fx, date=beyond.isoformat()), code="date_too_far") == [
        "/query/date"
    ]
    quoted = client.post(
        "/v1/storefront/quotes",
        headers=fx.storefront,
        json={"tier_id": tier.id, "date": beyond.isoformat(), "guests": 2},
    )
    assert paths(quoted, code="date_too_far") == ["/json/date"]
    assert offers(client, fx).status_code == 200


def test_instants_at_the_ends_of_the_calendar_are_refused(client, db, tenant_a):
    fx = tenant_a
    extremes = (
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
    )
    for moment in extremes:
        assert paths(preview(client, fx, as_of=moment)) == ["/query/as_of"], moment
        assert paths(evaluate(client, fx, {"tier_level": 1}, at=moment)) == ["/json/at"], moment
        event = {
            "client_event_id": f"e-{moment}",
            "type": "upsell_shown",
            "visitor_id": "v",
            "occurred_at": moment,
        }
        posted = client.post(
            "/v1/storefront/events", headers=fx.storefront, json={"events": [event]}
        )
        assert paths(posted) == ["/json/events/0/occurred_at"], moment
        for url in (D, f"{D}/export", "/v1/admin/audit/changes"):
            searched = client.get(url, headers=fx.admin, query_string={"from": moment})
            assert "/query/from" in paths(searched), (url, moment)
    # sane windows: an event is something that happened, a preview at most 5 years ahead
    tomorrow_but_one = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    event = {
        "client_event_id": "future",
        "type": "upsell_shown",
        "visitor_id": "v",
        "occurred_at": tomorrow_but_one.isoformat(),
    }
    posted = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": [event]})
    assert paths(posted) == ["/json/events/0/occurred_at"]
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5 * 366 + 2)).isoformat()
    assert paths(preview(client, fx, as_of=far)) == ["/query/as_of"]
    assert paths(evaluate(client, fx, {"tier_level": 1}, at=far)) == ["/json/at"]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0
    assert_tenant_serves(client, fx)


def test_integers_beyond_what_the_database_holds_are_refused(client, db, tenant_a):
    fx = tenant_a
    for page in ("9223372036854775808", "2147483648", "9" * 5000):
        listed = client.get(f"{R}/versions", headers=fx.admin, query_string={"page": page})
        assert paths(listed) == ["/query/page"], page[:20]
    assert (
        client.get(
            f"{R}/versions", headers=fx.admin, query_string={"page": "2147483647"}
        ).status_code
        == 200
    )
    for number, version, activation in (
        ("2147483648", "version_not_found", "activation_not_found"),
        ("9" * 5000, "not_found", "not_found"),  # no route takes a number this long
    ):
        assert_error_shape(client.get(f"{R}/versions/{number}", headers=fx.admin), 404, version)
        activated = client.post(f"{R}/versions/{number}/activate", headers=fx.admin, json={})
        assert_error_shape(activated, 404, version)
        cancelled = client.delete(f"{R}/schedule/{number}", headers=fx.admin)
        assert_error_shape(cancelled, 404, activation)
    for digits in ("9" * 5000, "-" + "9" * 21):
        huge = '{"key": "k", "name": "n", "position": ' + digits + "}"
        posted = client.post(
            "/v1/admin/segments",
            headers={**fx.admin, "Content-Type": "application/json"},
            data=huge,
        )
        assert paths(posted) == ["/json/position"]
    assert [s["key"] for s in client.get("/v1/admin/segments", headers=fx.admin).get_json()] == [
        fx.segment.key
    ]


def experiment(fx, **extra) -> dict:
    return {
        "key": f"x{uuid.uuid4().hex[:6]}",
        "primary_metric": "upsell_acceptance",
        "variants": [{"key": "a", "weight": "0.5", "control": True}, {"key": "b", "weight": "0.5"}],
        **extra,
    }


def test_shares_are_plain_decimals_between_0_and_1(client, db, tenant_a):
    fx = tenant_a
    url = "/v1/admin/experiments"
    tiny = experiment(
        fx,
        variants=[{"key": "a", "weight": "1E-400", "control": True}, {"key": "b", "weight": "1"}],
    )
    assert paths(client.post(url, headers=fx.admin, json=tiny)) == ["/json/variants/0/weight"]
    for coverage in ("-0", "-0.0", "1E-400", "0.0000000000000001", "NaN", "Infinity", "1e0"):
        body = experiment(fx, coverage=coverage)
        assert paths(client.post(url, headers=fx.admin, json=body)) == ["/json/coverage"], coverage
    namespace = experiment(fx, namespace={"id": "n", "start": "-0", "end": "0.5"})
    assert paths(client.post(url, headers=fx.admin, json=namespace)) == ["/json/namespace/start"]
    assert client.get(url, headers=fx.admin).get_json() == []
    fine = client.post(url, headers=fx.admin, json=experiment(fx, coverage="0.333333"))
    assert fine.status_code == 201, fine.get_json()
    assert fine.get_json()["coverage"] == "0.333333"


def test_facts_the_engine_cannot_hold_are_refused(client, db, tenant_a):
    fx = tenant_a
    # a lone surrogate (a JSON escape of half a UTF-16 pair): refused like any text, at its path
    assert paths(evaluate(client, fx, {"segment": "\ud800"})) == ["/json/facts/segment"]
    draft_id = draft(client, fx)
    simulated = post(
        client,
        f"{R}/drafts/{draft_id}/simulate",
        fx.admin,
        {"facts": [{"tier_level": 1}, {"variant": "x\udfff"}]},
    )
    assert paths(simulated) == ["/json/facts/1/variant"]
    # beyond 64 bits: refused at evaluate (vocabulary ranges) ...
    assert paths(evaluate(client, fx, {"amount": 2**64}), code="invalid_facts") == [
        "/json/facts/amount"
    ]


def test_recorded_facts_the_engine_cannot_hold_are_refused_by_replay_and_backtest(
    client, db, tenant_a
):
    """A decision record whose input holds an integer beyond 64 bits (written past the API):
    replay (the serving engine) and backtest (the reference evaluator) refuse it alike."""
    fx = tenant_a
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    decision_id = quote(client, fx, fx.tiers[0], weekday_ahead())["decision_ids"][0]
    end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    row = decision_row(db, decision_id)
    facts = {**row.facts, "amount": 2**64}
    execute(db, update(m.Decision).where(m.Decision.id == row.id).values(facts=facts))
    replayed = client.post(f"{D}/{decision_id}/replay", headers=fx.admin)
    error = assert_error_shape(replayed, 422, "invalid_facts")
    assert [d["path"] for d in error["details"]] == ["/facts/amount"]
    backtest = client.post(
        f"{R}/drafts/{draft(client, fx)}/backtest",
        headers=fx.admin,
        json={"from": start.isoformat(), "to": end.isoformat()},
    )
    error = assert_error_shape(backtest, 422, "invalid_facts")
    assert decision_id in error["message"]


# ---- text and structure -----------------------------------------------------------------------


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def test_deeply_nested_bodies_and_documents_are_refused(client, db, tenant_a):
    fx = tenant_a
    headers = {**fx.admin, "Content-Type": "application/json"}
    for depth in (33, 1000, 5000):
        body = '{"name": "deep", "document": {"rules": ' + nested(depth) + "}}"
        refused = client.post(f"{R}/drafts", headers=headers, data=body)
        assert_error_shape(refused, 400, "bad_request")
        events = '{"events": [{"properties": {"p": ' + nested(depth) + "}}]}"
        refused = client.post(
            "/v1/storefront/events",
            headers={**fx.storefront, "Content-Type": "application/json"},
            data=events,
        )
        assert_error_shape(refused, 400, "bad_request")
    for depth in (33, 5000):
        yaml = "name: x\nrules: " + nested(depth)
        refused = client.post(
            f"{R}/drafts", headers=fx.admin, json={"name": "deep", "document_yaml": yaml}
        )
        assert paths(refused) == ["/json/document_yaml"], depth
    assert client.get(f"{R}/drafts", headers=fx.admin).get_json() == []
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0


def test_yaml_anchors_fail_at_the_first_anchor(client, tenant_a):
    """An alias bomb is refused where it starts, not after the parser has read (and built) the
    structure its first alias repeats."""
    fx = tenant_a
    bomb = "a: &a [" + ", ".join(["lol"] * 8_000) + "]\nb: [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    refused = client.post(f"{R}/validate", headers=fx.admin, json={"document_yaml": bomb})
    error = assert_error_shape(refused, 422, "validation_error")
    assert error["details"][0]["path"] == "/json/document_yaml"
    assert "anchors" in error["details"][0]["message"]
    assert "line 1," in error["details"][0]["message"]


def test_lone_surrogates_and_nul_are_refused_everywhere_text_comes_in(client, db, tenant_a):
    fx = tenant_a
    for bad in ("\ud800", "a\udc00b", "\x00"):
        created = post(client, "/v1/admin/segments", fx.admin, {"key": "k", "name": bad})
        assert paths(created) == ["/json/name"], repr(bad)
        keyed = post(client, "/v1/admin/segments", fx.admin, {"key": "k", "name": "n", bad: 1})
        assert paths(keyed) == ["/json"], repr(bad)  # the object holding the key
        quoted = post(
            client,
            "/v1/storefront/quotes",
            fx.storefront,
            {
                "tier_id": fx.tiers[0].id,
                "date": weekday_ahead().isoformat(),
                "guests": 2,
                "visitor_id": bad,
            },
        )
        assert paths(quoted) == ["/json/visitor_id"], repr(bad)
        event = {
            "client_event_id": "e1",
            "type": "upsell_shown",
            "visitor_id": "v",
            "occurred_at": "2026-11-20T10:15:00+00:00",
            "properties": {"p": [bad]},
        }
        posted = post(client, "/v1/storefront/events", fx.storefront, {"events": [event]})
        assert paths(posted) == ["/json/events/0/properties/p/0"], repr(bad)
        yaml = 'name: x\nrules: []\ndescription: "' + ("\\ud800" if bad != "\x00" else "\\0") + '"'
        documented = client.post(f"{R}/validate", headers=fx.admin, json={"document_yaml": yaml})
        assert paths(documented) == ["/json/document_yaml"], repr(bad)
    browsed = offers(client, fx, visitor_id="v\x00")
    assert paths(browsed) == ["/query/visitor_id"]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0
    assert [s["key"] for s in client.get("/v1/admin/segments", headers=fx.admin).get_json()] == [
        fx.segment.key
    ]


def test_a_client_request_id_is_echoed_only_when_it_is_a_safe_token(client, tenant_a):
    for safe in ("abc-123", "A.b_c:d-e", "x" * 64, "7b95c88d3da644d3a0c29db414ca868f"):
        response = client.get("/healthz", headers={"X-Request-Id": safe})
        assert response.headers["X-Request-Id"] == safe
    forged = ("a\tb", "a\x85b", 'a"b', "a b", "x" * 65, "a\u2028b", "a;b", "é")
    for hostile in forged:
        response = client.get("/healthz", headers={"X-Request-Id": hostile})
        assert GENERATED_ID.fullmatch(response.headers["X-Request-Id"]), repr(hostile)
        error = client.get("/v1/admin/segments", headers={"X-Request-Id": hostile})
        assert_error_shape(error, 401, "unauthenticated")
        assert GENERATED_ID.fullmatch(error.get_json()["request_id"]), repr(hostile)


def test_an_over_long_url_answers_414_in_the_error_shape(client, tenant_a):
    fx = tenant_a
    long_query = {"date": weekday_ahead().isoformat(), "guests": 2, "visitor_id": "v" * 20_000}
    response = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/offers",
        headers=fx.storefront,
        query_string=long_query,
    )
    assert_error_shape(response, 414, "uri_too_long")
    assert_error_shape(client.get("/" + "a" * 20_000), 414, "uri_too_long")
    assert json.loads(response.get_data())["error"]["message"]


def test_a_body_sent_with_a_get_is_checked_whether_sized_or_chunked(client, tenant_a):
    """A GET without a body skips reading one (app.http.incoming._has_body); one with a body,
    sized or chunked, is checked as a POST's is."""
    fx, url = tenant_a, "/v1/storefront/segments"
    assert client.get(url, headers=fx.storefront).status_code == 200
    sized = client.get(url, headers=fx.storefront, data=b"a\x00b")
    assert paths(sized) == ["/"]
    chunked = client.get(
        url,
        headers={**fx.storefront, "Transfer-Encoding": "chunked"},
        input_stream=io.BytesIO(b"a\x00b"),
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert paths(chunked) == ["/"]
