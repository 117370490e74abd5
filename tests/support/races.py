"""Committed shops for concurrency tests: a tenant committed to the real PostgreSQL (not inside a
test's rolled-back transaction), an app on its own connection pool paying through the fake Stripe,
helpers to race requests on real threads, and the money invariants every race must keep.

Run counts: each race runs ``STRESS_RUNS`` times (3 in ``make test``, 50 in ``make stress``); the
``race`` marker makes the summary print, per scenario, its runs and the runs that broke an
invariant (tests/support/stress.py)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from app import create_app
from app.adapters import decision_spool
from app.adapters.payments import StripePayments
from pricing.booking_states import ledger_agrees
from storage import checkout as store
from storage import models as m
from storage.db import Database
from tests.conftest import WEBHOOK_SECRET, TenantFixture, build_tenant
from tests.support import storefront
from tests.support.dates import days_ahead
from tests.support.fake_stripe import FakeStripe, build_event

RUNS = int(os.environ.get("STRESS_RUNS", "3"))
DAY = days_ahead(40)


def delete_tenant(database: Database, tenant_id: str) -> None:
    """Every row of the tenant, children first (this process's spooled decisions written
    first)."""
    decision_spool.flush_all()
    key = uuid.UUID(tenant_id)
    with database.transaction() as s:
        for table in reversed(m.Base.metadata.sorted_tables):
            if table.name != "tenants" and "tenant_id" in table.c:
                s.execute(delete(table).where(table.c.tenant_id == key))
        s.execute(delete(m.Tenant).where(m.Tenant.id == key))


@dataclass
class Shop:
    """A committed, onboarded tenant whose app (its own pool) pays through ``fake``."""

    db: Database
    tenant: TenantFixture
    app: Flask
    fake: FakeStripe

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant.id

    def client(self) -> Any:
        return self.app.test_client()

    def set_capacity(self, units: int, tier: int = 1) -> None:
        storefront.set_capacity(self.client(), self.tenant, units, tier, DAY)

    def quote(self, tier: int = 1, guests: int = 2) -> str:
        return str(storefront.quote(self.client(), self.tenant, tier, DAY, guests)["token"])

    def start(self, token: str, key: str | None = None) -> Any:
        return storefront.start(
            self.client(), self.tenant, token, key, email="race@example.com", name="R"
        )

    def checkout(self, token: str | None = None) -> dict[str, Any]:
        answer = self.start(token or self.quote())
        assert answer.status_code == 201, answer.get_json()
        return dict(answer.get_json())

    def pay(self, body: dict[str, Any]) -> dict[str, Any]:
        """The customer pays the session at the fake (no event delivered yet)."""
        return self.fake.complete_session(body["checkout_session_id"])

    def completed(self, session: dict[str, Any]) -> dict[str, Any]:
        """A new, distinct completion event of a paid session."""
        return self.fake.event("checkout.session.completed", session["id"])

    def expired(self, session: dict[str, Any]) -> dict[str, Any]:
        """The session's expiry event, as Stripe sends it when the session lapsed unpaid."""
        obj = {**session, "status": "expired", "payment_status": "unpaid", "payment_intent": None}
        return build_event("checkout.session.expired", obj, self.fake.api_version)

    def refund_outside(self, session: dict[str, Any]) -> dict[str, Any]:
        """A full refund made at the provider (its dashboard), and its event."""
        refund_id = storefront.outside_refund(self.client(), session)
        return self.fake.event("charge.refunded", refund_id)

    def deliver(self, event: dict[str, Any]) -> Any:
        return storefront.deliver(self.client(), event)

    def cancel(self, booking_id: str) -> Any:
        return self.client().post(
            f"/v1/admin/bookings/{booking_id}/cancel", headers=self.tenant.admin
        )

    def upgrade(self, booking_id: str, tier: int = 2, key: str | None = None) -> Any:
        return storefront.upgrade(self.client(), self.tenant, booking_id, tier, key)

    def paid_booking(self) -> tuple[dict[str, Any], dict[str, Any]]:
        body = self.checkout()
        session = self.pay(body)
        answer = self.deliver(self.completed(session))
        assert answer.get_json()["outcome"] == "paid", answer.get_json()
        return body, session

    def booking(self, booking_id: str) -> m.Booking:
        with self.db.transaction() as s:
            row = s.get(m.Booking, (uuid.UUID(self.tenant_id), uuid.UUID(booking_id)))
            assert row is not None
            return row

    def ledger(self, booking_id: str) -> list[m.Payment]:
        with self.db.transaction() as s:
            return list(
                s.scalars(
                    select(m.Payment)
                    .where(
                        m.Payment.tenant_id == uuid.UUID(self.tenant_id),
                        m.Payment.booking_id == uuid.UUID(booking_id),
                    )
                    .order_by(m.Payment.created_at)
                )
            )

    def sweep(self, now: dt.datetime | None = None) -> dict[str, Any]:
        from app.services.sweeper import sweep

        return sweep(self.app.extensions["tierwise"].checkout, now or dt.datetime.now(dt.UTC))


@contextmanager
def committed_tenant(database: Database, settings: Any, prefix: str) -> Iterator[TenantFixture]:
    """A tenant (slug ``prefix`` and a random suffix) committed through ``database``, a pool of
    its own (not a test's rolled-back transaction); afterwards every row of the tenant is deleted
    and ``database`` disposed of."""
    try:
        tenant = build_tenant(database, settings, f"{prefix}{uuid.uuid4().hex[:8]}")
        try:
            yield tenant
        finally:
            delete_tenant(database, tenant.tenant.id)
    finally:
        database.dispose()


@contextmanager
def committed_shop(pg_url: str, settings: Any, cache: Any, fake: FakeStripe) -> Iterator[Shop]:
    """A committed tenant, onboarded for payments, and its app paying through ``fake``."""
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "race") as tenant:
        with database.transaction() as s:
            store.set_stripe_account(s, tenant.tenant.id, f"acct_race{uuid.uuid4().hex[:12]}")
        payments = StripePayments(
            settings.stripe_secret_key, WEBHOOK_SECRET, fake.url, timeout_seconds=10
        )
        app = create_app(settings, db=database, cache=cache, payments=payments)
        yield Shop(database, tenant, app, fake)


def concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls on threads released at the same moment; their results, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def violations(shop: Shop) -> list[str]:
    """The money invariants, checked on the stored rows and against the fake Stripe:

    * paid bookings of a (tier, date) never exceed its capacity;
    * every booking's status agrees with its payment records (a paid booking's captured less
      refunded money is its total; any other booking's is zero: what was taken is refunded or
      queued for refund);
    * no payment is refunded beyond what was captured, and every refund the provider made is in
      the ledger exactly once (so none was made twice);
    * no active hold belongs to a booking that is not pending."""
    found: list[str] = []
    tenant = uuid.UUID(shop.tenant_id)
    with shop.db.transaction() as s:
        default = s.scalar(select(m.Tenant.default_capacity).where(m.Tenant.id == tenant)) or 0
        capacity = {
            (str(c.tier_id), c.service_date): c.units
            for c in s.scalars(select(m.Capacity).where(m.Capacity.tenant_id == tenant))
        }
        paid = s.execute(
            select(m.Booking.tier_id, m.Booking.service_date, func.count())
            .where(
                m.Booking.tenant_id == tenant,
                m.Booking.kind == "booking",
                m.Booking.status == "paid",
            )
            .group_by(m.Booking.tier_id, m.Booking.service_date)
        ).all()
        for tier, day, n in paid:
            limit = capacity.get((str(tier), day), default)
            if n > limit:
                found.append(
                    f"oversold: {n} paid bookings of tier {tier} on {day} (capacity {limit})"
                )
        bookings = list(
            s.scalars(
                select(m.Booking).where(m.Booking.tenant_id == tenant, m.Booking.kind == "booking")
            )
        )
        entries = list(s.scalars(select(m.Payment).where(m.Payment.tenant_id == tenant)))
        holds = list(s.scalars(select(m.Hold).where(m.Hold.tenant_id == tenant)))
        rows = {
            str(b.id): b for b in s.scalars(select(m.Booking).where(m.Booking.tenant_id == tenant))
        }
    giving_back = ("queued", "requested", "succeeded")
    for booking in bookings:
        mine = [e for e in entries if e.booking_id == booking.id]
        captured = sum(e.amount_minor for e in mine if e.kind == "capture")
        refunded = sum(
            e.amount_minor for e in mine if e.kind == "refund" and e.status in giving_back
        )
        if not ledger_agrees(booking.status, booking.total_minor, captured, refunded):
            found.append(
                f"booking {booking.id} is {booking.status} (total {booking.total_minor}) but "
                f"captured {captured} and refunded {refunded}"
            )
    by_payment: dict[str, int] = Counter()
    captures = {e.payment_intent_id: e.amount_minor for e in entries if e.kind == "capture"}
    for e in entries:
        if e.kind == "refund" and e.status in giving_back:
            by_payment[e.payment_intent_id] += e.amount_minor
    for pi, amount in by_payment.items():
        if amount > captures.get(pi, 0):
            found.append(f"payment {pi}: refunded {amount} of {captures.get(pi, 0)}")
    recorded = Counter(e.provider_ref for e in entries if e.kind == "refund" and e.provider_ref)
    for refund in shop.fake.of_type("refund"):
        if refund["payment_intent"] in captures and recorded[refund["id"]] != 1:
            found.append(
                f"refund {refund['id']} at the provider is in the ledger {recorded[refund['id']]} times"
            )
    for hold in holds:
        owner = rows.get(str(hold.booking_id))
        if hold.status == "active" and owner is not None and owner.status != "pending":
            found.append(f"hold {hold.id} is active for a {owner.status} booking")
    return found
