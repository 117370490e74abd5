"""``tierwise sweep`` reconciles bookings with their payment records: money taken for a booking
that is not paid is refunded (once), a booking whose money all went back becomes refunded, and what
has no safe repair is reported. Run on committed rows, through the CLI, against the fake Stripe."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from app import cli
from storage import models as m
from tests.conftest import PEPPER, SECRET, TEST_REDIS_URL, WEBHOOK_SECRET
from tests.support.embedded import clear_settings
from tests.support.races import Shop, committed_shop


@pytest.fixture
def shop(pg_url, settings, cache, fake_stripe) -> Iterator[Shop]:
    with committed_shop(pg_url, settings, cache, fake_stripe) as shop:
        yield shop


@pytest.fixture
def sweep_cli(monkeypatch, pg_url, settings, fake_stripe):
    """``tierwise sweep`` as an operator runs it, configured by the environment."""
    clear_settings(monkeypatch)
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": TEST_REDIS_URL,
        "JWT_SECRET": SECRET,
        "API_KEY_PEPPER": PEPPER,
        "QUOTE_SECRET": settings.quote_secret,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake_stripe.url,
        "LOG_LEVEL": "ERROR",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return lambda: CliRunner().invoke(cli.main, ["sweep"])


def add_entry(shop: Shop, booking_id: str, **fields) -> None:
    now = dt.datetime.now(dt.UTC)
    with shop.db.transaction() as s:
        s.add(
            m.Payment(
                tenant_id=uuid.UUID(shop.tenant_id),
                id=uuid.uuid4(),
                booking_id=uuid.UUID(booking_id),
                currency="EUR",
                refund_fee=True,
                created_at=now,
                updated_at=now,
                **fields,
            )
        )


def test_sweep_refunds_money_kept_for_an_expired_booking_and_reports(shop, sweep_cli):
    """Left by the old code: a payment completed as its booking expired, and the booking stayed
    expired with the money taken."""
    body = shop.checkout()
    session = shop.pay(body)
    assert shop.deliver(shop.expired(session)).get_json()["outcome"] == "expired"
    add_entry(
        shop,
        body["booking_id"],
        kind="capture",
        status="captured",
        reason="checkout",
        payment_intent_id=session["payment_intent"],
        amount_minor=body["total"],
        fee_minor=0,
    )

    result = sweep_cli()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0].startswith("holds released: ") and "repaired: 1, needing attention: 0" in lines[0]
    )
    assert lines[1] == (
        f"  repaired booking {body['booking_id']}: expired with {body['total']} captured and not "
        "refunded: refund queued"
    )
    (refund,) = shop.fake.of_type("refund")
    assert (refund["payment_intent"], refund["amount"]) == (
        session["payment_intent"],
        body["total"],
    )
    assert [(e.kind, e.status) for e in shop.ledger(body["booking_id"])] == [
        ("capture", "captured"),
        ("refund", "succeeded"),
    ]

    again = sweep_cli()  # nothing left to repair, and never a second refund
    assert "repaired: 0, needing attention: 0" in again.output
    assert len(shop.fake.of_type("refund")) == 1


def test_sweep_settles_a_cancelled_booking_and_reports_what_it_cannot_repair(shop, sweep_cli):
    cancelled, _ = shop.paid_booking()
    assert shop.cancel(cancelled["booking_id"]).get_json()["status"] == "refunded"
    with shop.db.transaction() as s:  # as if the refund's success was recorded but not the state
        row = s.get(m.Booking, (uuid.UUID(shop.tenant_id), uuid.UUID(cancelled["booking_id"])))
        row.status = "cancelled"
    short, short_session = shop.paid_booking()
    add_entry(
        shop,
        short["booking_id"],
        kind="refund",
        status="succeeded",
        reason="outside",
        payment_intent_id=short_session["payment_intent"],
        amount_minor=100,
        fee_minor=0,
    )

    result = sweep_cli()
    assert result.exit_code == 0, result.output
    assert "repaired: 1, needing attention: 1" in result.output
    assert (
        f"  repaired booking {cancelled['booking_id']}: every payment refunded: now refunded"
        in result.output.splitlines()
    )
    assert (
        f"  ATTENTION booking {short['booking_id']}: paid, total {short['total']}, captured "
        f"{short['total']}, refunded 100" in result.output.splitlines()
    )
    assert shop.booking(cancelled["booking_id"]).status == "refunded"
    assert shop.booking(short["booking_id"]).status == "paid"  # left for a person
