"""The outbox is written in the transaction of the change that causes its events: committed with
it, rolled back with it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import update

from app.services import events_out
from storage import mail, outbox
from storage import models as m
from tests.api.test_events import event
from tests.api.test_experiments import design
from tests.support.http import ok
from tests.support.storefront import deliver, paid_booking, upgrade

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


class Boom(Exception):
    pass


def test_a_rolled_back_transaction_emits_nothing(db, tenant_a):
    with db.transaction() as s:
        outbox.add_endpoint(
            s,
            tenant_a.tenant.id,
            url="https://h.example.com",
            events=["*"],
            description="",
            secret="whsec_x",
            now=NOW,
        )
        s.execute(
            update(m.Tenant)
            .where(m.Tenant.id == uuid.UUID(tenant_a.tenant.id))
            .values(notification_email="ops@hotel.example")
        )
    customer = {"email": "ana@example.com", "name": "Ana"}
    with pytest.raises(Boom), db.transaction() as s:
        events_out.emit(
            s,
            tenant_a.tenant.id,
            "booking.confirmed",
            {"booking_id": "b", "customer": customer},
            NOW,
        )
        assert len(mail.claim_mail(s, NOW, NOW, 10)) == 2  # the customer's and the tenant's
        raise Boom
    with db.transaction() as s:
        assert [t for t, _ in outbox.events_of(s, tenant_a.tenant.id)] == ["ruleset.published"]
        assert outbox.claim_due(s, NOW, NOW, 10) == []
        assert mail.claim_mail(s, NOW, NOW, 10) == []  # no email either
    with db.transaction() as s:
        events_out.emit(s, tenant_a.tenant.id, "booking.confirmed", {"booking_id": "b"}, NOW)
    with db.transaction() as s:
        (due,) = outbox.claim_due(s, NOW, NOW + dt.timedelta(seconds=60), 10)
        assert (due.event_type, due.data) == ("booking.confirmed", {"booking_id": "b"})
        # claimed: not due again until its lease ends
        assert outbox.claim_due(s, NOW + dt.timedelta(seconds=59), NOW, 10) == []


def test_a_failed_booking_change_leaves_no_event(db, tenant_a, monkeypatch):
    """The change's transaction fails after the event was written (the booking update raising):
    the event goes with it."""
    from app.services import bookings

    with db.transaction() as s:
        before = len(outbox.events_of(s, tenant_a.tenant.id))

    def failing(*_args, **_kwargs):
        raise Boom

    with pytest.raises(Boom), db.transaction() as s:
        events_out.emit(s, tenant_a.tenant.id, "booking.cancelled", {"booking_id": "x"}, NOW)
        monkeypatch.setattr(bookings.store, "update_booking", failing)
        bookings.store.update_booking(s, tenant_a.tenant.id, "x", status="cancelled")
    with db.transaction() as s:
        assert len(outbox.events_of(s, tenant_a.tenant.id)) == before


def test_storefront_experiment_and_ruleset_events_go_to_the_outbox(client, db, tenant_a):
    fx = tenant_a
    batch = [
        event("e-1", "segment_selected", segment=fx.segment.key),
        event("e-2", "tier_comparison_viewed", segment=fx.segment.key),
        event("e-3", "upsell_accepted", tier_id=fx.tiers[0].id),
    ]
    ok(client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch}), 202)
    # the same batch again: de-duplicated, no second event
    ok(client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch}), 202)
    created = ok(client.post("/v1/admin/experiments", headers=fx.admin, json=design()), 201)
    ok(client.post(f"/v1/admin/experiments/{created['id']}/start", headers=fx.admin))
    ok(client.post(f"/v1/admin/experiments/{created['id']}/stop", headers=fx.admin))
    with db.transaction() as s:
        events = outbox.events_of(s, fx.tenant.id)
    types = [t for t, _ in events]
    assert types[0] == "ruleset.published"  # the tenant's default ruleset
    assert types[1:] == [
        "segment.selected",
        "upsell.accepted",
        "experiment.started",
        "experiment.stopped",
    ]
    selected = events[1][1]
    assert selected["event_id"] == "e-1" and selected["segment"] == fx.segment.key
    assert events[3][1]["key"] == created["key"]


def test_a_paid_upgrade_emits_tier_upgraded_once(stripe_client, tenant_a, fake_stripe, db):
    body, _ = paid_booking(stripe_client, tenant_a, fake_stripe, "base")
    booking_id = body["booking_id"]
    started = upgrade(stripe_client, tenant_a, booking_id, tenant_a.tiers[2], key="up-1")
    assert started.status_code == 201, started.get_json()
    up = started.get_json()
    session = fake_stripe.complete_session(up["checkout_session_id"])
    event = fake_stripe.event("checkout.session.completed", session["id"])
    deliver(stripe_client, event)
    deliver(stripe_client, event)  # the provider's retry changes nothing, emits nothing
    with db.transaction() as s:
        events = [
            (t, d) for t, d in outbox.events_of(s, tenant_a.tenant.id) if t.startswith("booking.")
        ]
    assert [t for t, _ in events] == [
        "booking.created",
        "booking.confirmed",
        "booking.tierUpgraded",
    ]
    moved = events[-1][1]
    assert moved["booking_id"] == booking_id
    assert (moved["from_tier_id"], moved["tier_id"]) == (tenant_a.tiers[1].id, tenant_a.tiers[2].id)
    assert moved["upgrade_total"] == up["total"] and moved["total"] == body["total"] + up["total"]
