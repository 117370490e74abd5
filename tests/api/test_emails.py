"""Customer emails (issue 19): queued with their booking event in the same transaction, rendered
from one template per message (text and HTML parts) and sent to a real SMTP server (aiosmtpd);
the embedded default writes .eml files."""

from __future__ import annotations

import datetime as dt
import email
import socket
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from app.adapters.mail import FileMailer, SmtpMailer
from app.services import events_out
from storage import mail, outbox
from tests.support.storefront import paid_booking


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)


def test_a_confirmed_booking_is_emailed_with_both_parts(
    stripe_app, stripe_client, tenant_a, fake_stripe, smtp
):
    port, inbox = smtp
    ctx = stripe_app.extensions["tierwise"].events
    ctx.mailer = SmtpMailer(f"smtp://127.0.0.1:{port}")
    ctx.mail_from = "bookings@tierwise.example"
    body, session = paid_booking(stripe_client, tenant_a, fake_stripe, "m1")
    assert events_out.deliver_mail_due(ctx, now) == 1
    assert events_out.deliver_mail_due(ctx, now) == 0  # sent once
    ((sender, recipients, message),) = inbox.messages
    assert sender == "bookings@tierwise.example"
    assert recipients == ["ana@example.com"] and message["To"] == "ana@example.com"
    assert tenant_a.tenant.name in message["From"] and tenant_a.tenant.name in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    tier = tenant_a.tiers[1]
    for part in (text, html):
        assert tenant_a.tenant.name in part
        assert body["booking_id"] in part
        assert tier.name in part
        assert f"{session['amount_total'] / 100:.2f} EUR" in part
    assert "<table>" in html and "<table>" not in text


def test_the_embedded_default_writes_eml_files(tmp_path, db, tenant_a):
    mailer = FileMailer(tmp_path / "mail")
    with db.transaction() as s:
        event_id = outbox.emit(
            s,
            tenant_a.tenant.id,
            "booking.cancelled",
            {
                "booking_id": "b-1",
                "segment_id": tenant_a.segment.id,
                "tier_id": tenant_a.tiers[0].id,
                "service_date": "2027-03-12",
                "guests": 2,
                "add_on_ids": [tenant_a.add_on.id],
                "currency": "EUR",
                "total": 22050,
            },
            dt.datetime.now(dt.UTC),
        )
        mail.queue_mail(
            s,
            tenant_a.tenant.id,
            event_id,
            "booking.cancelled",
            "ana@example.com",
            dt.datetime.now(dt.UTC),
        )
    ctx = events_out.EventsContext(db=db, policy=None, sender=None, mailer=mailer)  # type: ignore[arg-type]
    assert events_out.deliver_mail_due(ctx, now) == 1
    (written,) = (tmp_path / "mail").glob("*.eml")
    message = email.message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == "ana@example.com"
    text = message.get_body(("plain",)).get_content()
    assert "220.50 EUR" in text and "Breakfast" in text and "2027-03-12" in text
