"""Priced offer sheets reused (app/services/offer_memo.py): a repeat of a request whose inputs are
unchanged is answered, and its decisions recorded, exactly as a fresh pricing answers and records
them but for the decision ids (and each request's own id and time); visitors under the same
variant share a sheet and keep their own assignment; anything a sheet depends on prices anew."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from prometheus_client import REGISTRY

from app.http import pricing_views as views
from app.http.conditional import encode
from app.http.storefront import _offers_json
from app.services import decision_log, offer_memo, offers
from pricing import offers as pricing_offers
from pricing.pricer import Selection
from storage import decisions as store
from tests.api.test_experiments import running, visitor_in
from tests.support.storefront import SOON, get_offers, iso, set_capacity

HITS = "tierwise_cache_hits_total"
VARYING = {"id", "created_at", "request_id", "seq", "prev_hash", "hash"}


def hits() -> float:
    return REGISTRY.get_sample_value(HITS, {"cache": "offer_sheets"}) or 0.0


def without_ids(body: dict) -> dict:
    body = dict(body, decision_ids=len(body["decision_ids"]))
    body["offers"] = [
        dict(o, decision_id=None, fallback=[dict(f, decision_id=None) for f in o["fallback"]])
        for o in body["offers"]
    ]
    return body


def records(db, fx, body: dict) -> list[dict]:
    """The decision records of an answer, in its order, without what differs per request."""
    with db.read() as session:
        found = [store.get_decision(session, fx.tenant.id, i) for i in body["decision_ids"]]
    return [{k: v for k, v in dataclasses.asdict(r).items() if k not in VARYING} for r in found]


def sheets(app):
    return app.extensions["tierwise"].offers.sheets


def asked(client, fx, **query) -> dict:
    response = get_offers(client, fx, SOON, **query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


SCENARIOS = {
    "plain": ({}, None),
    "with an add-on, one guest": ({"add_ons": "breakfast", "guests": 1}, None),
    "a tier sold out: fallbacks": ({}, 0),
}


@pytest.mark.parametrize("query, sold_out", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_reused_sheet_answers_and_records_as_a_fresh_pricing(
    client, app, db, tenant_a, query, sold_out
):
    fx = tenant_a
    if sold_out is not None:
        set_capacity(client, fx, sold_out, tier=0, date=SOON, to=SOON)
    before = hits()
    fresh = asked(client, fx, **query)
    assert hits() == before  # priced
    reused = asked(client, fx, **query)
    assert hits() == before + 1  # from the memo
    sheets(app).clear()
    again = asked(client, fx, **query)  # priced anew
    assert hits() == before + 1

    if sold_out is not None:
        assert any(o["fallback"] for o in fresh["offers"])
    assert without_ids(reused) == without_ids(fresh) == without_ids(again)
    assert records(db, fx, reused) == records(db, fx, fresh) == records(db, fx, again)
    ids = [set(body["decision_ids"]) for body in (fresh, reused, again)]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    assert all(
        {o["decision_id"] for o in body["offers"]} <= set(body["decision_ids"])
        for body in (fresh, reused, again)
    )


def test_reuses_record_their_own_ids_request_ids_and_times(client, app, db, tenant_a):
    """From the second reuse on, a kept sheet's records are written from the line shapes the
    first reuse left (storage.decision_text.LineShape): each still holds its own id, request id
    and time, and the chain verifies."""
    fx = tenant_a
    started = dt.datetime.now(dt.UTC)
    bodies = {}
    for n in range(4):
        request_id = f"memo-{n}"
        response = client.get(
            f"/v1/storefront/segments/{fx.segment.key}/offers",
            headers={**fx.storefront, "X-Request-Id": request_id},
            query_string={"date": iso(SOON), "guests": 2},
        )
        assert response.status_code == 200
        bodies[request_id] = response.get_json()
    (kept,) = sheets(app)._sheets.values()
    assert len(kept.shapes) == len(kept.sheet.evaluations) > 0
    with db.read() as session:
        for request_id, body in bodies.items():
            for decision_id in body["decision_ids"]:
                stored = store.get_decision(session, fx.tenant.id, decision_id)
                assert (stored.id, stored.request_id) == (decision_id, request_id)
                assert started <= stored.created_at <= dt.datetime.now(dt.UTC)
    assert decision_log.verify(db, fx.tenant.id)["valid"] is True


def test_visitors_of_one_variant_share_a_sheet_under_their_own_assignment(
    client, app, db, tenant_a
):
    fx = tenant_a
    experiment = running(client, fx)
    first, second = visitor_in(experiment, "b"), visitor_in(experiment, "b", prefix="other")
    control = visitor_in(experiment, "control")
    before = hits()
    one = asked(client, fx, visitor_id=first)
    two = asked(client, fx, visitor_id=second)
    assert hits() == before + 1
    three = asked(client, fx, visitor_id=control)  # another variant: priced
    assert hits() == before + 1

    assert one["experiment"] == two["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert three["experiment"] == {"key": "upsell-copy", "variant": "control"}
    assert without_ids(one) == without_ids(two)
    for body, visitor in ((one, first), (two, second), (three, control)):
        for record in records(db, fx, body):
            if record["facts"]["experiment"]:
                assert record["context"]["assignment"]["visitor_id"] == visitor
    assert records(db, fx, one)[0]["context"]["assignment"]["sticky"] is False
    # what is kept holds no request's own: records are written from copies (and may be written
    # later, by the spool's thread, while the sheet serves other visitors)
    kept = list(sheets(app)._sheets.values())
    assert len(kept) == 2
    assert all("assignment" not in e.context for p in kept for e in p.sheet.evaluations)


def test_what_a_sheet_depends_on_prices_anew(client, app, tenant_a):
    fx = tenant_a
    asked(client, fx)
    before = hits()
    asked(client, fx, guests=1)  # another selection
    set_capacity(client, fx, 1, tier=0, date=SOON, to=SOON)  # the window's counts
    asked(client, fx)
    assert hits() == before
    asked(client, fx)
    assert hits() == before + 1


def test_a_reused_sheet_s_json_is_the_plain_json_of_the_reissued_sheet(client, app, tenant_a):
    """The answer of a reused sheet is its kept sheet's JSON with the decision ids replaced:
    byte for byte the JSON of the reissued sheet, for another visitor of the same variant too."""
    fx = tenant_a
    experiment = running(client, fx)
    ctx = app.extensions["tierwise"].offers
    day = dt.date.fromisoformat(iso(SOON))
    answers = []
    with app.test_request_context():
        for visitor in (visitor_in(experiment, "b"), visitor_in(experiment, "b", prefix="x"), ""):
            for number in range(2):
                selection = Selection(fx.segment.key, day, 2, ("breakfast",), visitor_id=visitor)
                now = dt.datetime.now(dt.UTC)
                tagged = offers.quote_offers_tagged(ctx, fx.tenant, selection, now, f"r{number}")
                assert tagged.sheet is not None
                plain = encode(views.offers_body(tagged.sheet))
                if tagged.reused is not None:
                    assert offer_memo.rendered(tagged.reused, "offers", _offers_json) == plain
                answers.append(tagged.reused is not None)
    assert answers == [False, True, True, True, False, True]


def test_a_reused_sheet_never_asks_for_the_rules_labels(client, app, tenant_a, monkeypatch):
    """The labels of the rules (the words of price lines) are read when pricing reads one: a
    reused sheet prices nothing, so the program cache is not even asked."""
    rules = app.extensions["tierwise"].offers.rules
    asked_for: list[int] = []
    labels = rules.labels
    monkeypatch.setattr(rules, "labels", lambda t, v: asked_for.append(v) or labels(t, v))
    asked(client, tenant_a)
    assert asked_for  # priced: the price lines' words
    del asked_for[:]
    asked(client, tenant_a)
    assert asked_for == []


def test_a_sheet_key_names_every_field_of_the_selection_but_the_visitor(app, tenant_a):
    fx = tenant_a
    ctx = app.extensions["tierwise"].offers
    day = dt.date.fromisoformat(iso(SOON))
    selection = Selection(fx.segment.key, day, 2, ("breakfast",), visitor_id="v1")
    with ctx.db.browsing() as session:
        now = dt.datetime.now(dt.UTC)
        scope = lambda snapshot, today: pricing_offers.offers_scope(snapshot, today, selection)  # noqa: E731
        inputs = offers._gather(ctx, session, fx.tenant, selection, now, scope)
    key = offers.sheet_key(inputs, selection)
    other = {
        "segment_ref": "other",
        "service_date": day + dt.timedelta(days=1),
        "guests": 3,
        "add_on_refs": (),
        "tier_id": "t",
        "upsell_from": "t",
        "customer": {"email": "a@example.com"},
        "booking_id": "b",
        "preview_variant": ("e", "b"),
    }
    names = [f.name for f in dataclasses.fields(Selection)]
    assert sorted(other) == sorted(set(names) - {"visitor_id"})
    for name, value in other.items():
        changed = dataclasses.replace(selection, **{name: value})
        assert offers.sheet_key(inputs, changed) != key, name
    assert offers.sheet_key(inputs, dataclasses.replace(selection, visitor_id="v2")) == key
