"""Revenue counts money once. Random sequences of bookings, upgrades, downgrades, cancellations and
refunds made at the provider run through the API and the fake Stripe; afterwards the revenue report
equals what the provider holds (its charges less its refunds), the platform fees likewise, and
every booking agrees with its payment records."""

from __future__ import annotations

import datetime as dt
import os
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.booking_states import ledger_agrees
from storage import models as m
from tests.support.rules import DOWNGRADE_ANYTIME, default_document, publish
from tests.support.storefront import checkout, deliver, outside_refund, quote, upgrade

TODAY = dt.date.today()
OPS = st.lists(
    st.tuples(
        st.sampled_from(["book", "upgrade", "downgrade", "cancel", "refund"]),
        st.integers(0, 5),  # which booking (modulo how many there are)
        st.integers(0, 2),  # a tier index, for "book"
    ),
    min_size=1,
    max_size=8,
)


class Store:
    def __init__(self, client, tenant, fake):
        self.client, self.tenant, self.fake = client, tenant, fake
        self.bookings: list[str] = []

    def deliver(self, event):
        answer = deliver(self.client, event)
        assert answer.status_code == 200, answer.get_json()

    def view(self, booking_id):
        return self.client.get(
            f"/v1/admin/bookings/{booking_id}", headers=self.tenant.admin
        ).get_json()

    def book(self, tier: int, day: dt.date) -> None:
        token = quote(self.client, self.tenant, tier, day)["token"]
        body = checkout(self.client, self.tenant, token)
        session = self.fake.complete_session(body["checkout_session_id"])
        self.deliver(self.fake.event("checkout.session.completed", session["id"]))
        self.bookings.append(body["booking_id"])

    def move(self, booking_id: str, step: int) -> None:
        shown = self.view(booking_id)
        levels = {t.id: i for i, t in enumerate(self.tenant.tiers)}
        target = levels[shown["tier_id"]] + step
        if shown["status"] != "paid" or not 0 <= target <= 2:
            return
        answer = upgrade(self.client, self.tenant, booking_id, target)
        assert answer.status_code in (201, 409), answer.get_json()
        if answer.status_code == 201 and answer.get_json()["booking_id"] != booking_id:
            session = self.fake.complete_session(answer.get_json()["checkout_session_id"])
            self.deliver(self.fake.event("checkout.session.completed", session["id"]))

    def cancel(self, booking_id: str) -> None:
        answer = self.client.post(
            f"/v1/admin/bookings/{booking_id}/cancel", headers=self.tenant.admin
        )
        assert answer.status_code in (200, 409), answer.get_json()

    def refund_outside(self, booking_id: str) -> None:
        """The tenant refunds what is left of the booking's first payment in the provider's
        dashboard (without the platform fee: tierwise cannot see fee refunds made there)."""
        captures = [p for p in self.view(booking_id)["payments"] if p["kind"] == "capture"]
        if not captures:
            return
        charge = next(
            c
            for c in self.fake.of_type("charge")
            if c["payment_intent"] == captures[0]["payment_intent_id"]
        )
        left = charge["amount"] - charge["amount_refunded"]
        if left <= 0:
            return
        refund_id = outside_refund(self.client, charge, amount=left, refund_application_fee=False)
        self.deliver(self.fake.event("charge.refunded", refund_id))


def provider_totals(fake, tenant_id: str) -> tuple[int, int]:
    """(money the provider holds for the tenant's charges, platform fees it kept)."""
    charges = [c for c in fake.of_type("charge") if c["metadata"].get("tenant_id") == tenant_id]
    mine = {c["id"] for c in charges}
    refunds = [r for r in fake.of_type("refund") if r["charge"] in mine]
    refund_ids = {r["id"] for r in refunds}
    money = sum(c["amount"] for c in charges) - sum(r["amount"] for r in refunds)
    fees = sum(c["application_fee_amount"] or 0 for c in charges) - sum(
        f["amount"] for f in fake.fee_refunds if f["refund"] in refund_ids
    )
    return money, fees


@settings(
    max_examples=int(os.environ.get("MONEY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS, day_offset=st.integers(20, 50))
def test_revenue_equals_what_the_provider_holds(
    stripe_client, tenant_a, fake_stripe, db, ops, day_offset
):
    if not getattr(tenant_a, "_prepared", False):  # once per test: downgrades allowed, room
        document = default_document(DOWNGRADE_ANYTIME, examples=False)
        publish(stripe_client.application, tenant_a.tenant.id, document)
        with db.transaction() as s:
            s.get(m.Tenant, uuid.UUID(tenant_a.tenant.id)).default_capacity = 1000
        tenant_a._prepared = True
    store = Store(stripe_client, tenant_a, fake_stripe)
    day = TODAY + dt.timedelta(days=day_offset)
    for op, which, tier in ops:
        if op == "book" or not store.bookings:
            store.book(tier, day)
            continue
        booking = store.bookings[which % len(store.bookings)]
        if op in ("upgrade", "downgrade"):
            store.move(booking, 1 if op == "upgrade" else -1)
        elif op == "cancel":
            store.cancel(booking)
        else:
            store.refund_outside(booking)

    report = stripe_client.get(
        "/v1/admin/analytics/revenue",
        headers=tenant_a.admin,
        query_string={
            "from": (TODAY - dt.timedelta(days=1)).isoformat(),
            "to": (TODAY + dt.timedelta(days=1)).isoformat(),
        },
    ).get_json()
    money, fees = provider_totals(fake_stripe, tenant_a.tenant.id)
    assert (report["total"]["revenue_minor"], report["total"]["platform_fee_minor"]) == (
        money,
        fees,
    )
    listed, page = [], 1
    while batch := stripe_client.get(
        "/v1/admin/bookings", headers=tenant_a.admin, query_string={"page": page, "page_size": 100}
    ).get_json():
        listed, page = listed + batch, page + 1
    assert report["total"]["bookings"] == sum(b["status"] == "paid" for b in listed)
    for booking_id in store.bookings:  # this example's (the totals above are cumulative)
        shown = store.view(booking_id)
        assert ledger_agrees(
            shown["status"], shown["total"], shown["money"]["captured"], shown["money"]["refunded"]
        ), shown
