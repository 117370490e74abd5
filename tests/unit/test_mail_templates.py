"""Every email's template (issue 19), rendered: a text and an HTML part, each with what the
message must say; amounts exact in each currency's own decimals."""

from __future__ import annotations

import pytest

from app.adapters.mail import SUBJECTS, money, render

BOOKING = {
    "booking_id": "5f0e8a1c-0000-4000-8000-000000000001",
    "status": "paid",
    "segment_id": "s",
    "tier_id": "t",
    "service_date": "2027-03-12",
    "guests": 2,
    "add_on_ids": ["a"],
    "currency": "EUR",
    "total": 22050,
    "customer": {"email": "ana@example.com", "name": "Ana <Admin>"},
}
SHOWN = {
    "tier_name": "Preferred",
    "segment_name": "Premium",
    "theme": {"primary_color": "#0a7d5a"},
    "add_on_names": ["Breakfast", "Late check-out"],
}


def parts(message):
    return (
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


@pytest.mark.parametrize(
    "template", [t for t in SUBJECTS if t.startswith("booking.")] + ["tenant.newBooking"]
)
def test_a_booking_email_says_what_was_booked_in_both_parts(template):
    message = render(
        template,
        "bookings@tierwise.example",
        "ana@example.com",
        "Hotel Ana",
        {**BOOKING, **SHOWN, "booking": BOOKING},
    )
    assert message["Subject"] == f"{SUBJECTS[template]} — Hotel Ana"
    assert message["To"] == "ana@example.com"
    text, html = parts(message)
    for part in (text, html):
        assert "Hotel Ana" in part
        assert BOOKING["booking_id"] in part
        assert "2027-03-12" in part
        assert "Preferred" in part
        assert "Breakfast, Late check-out" in part
        assert "220.50 EUR" in part
    assert "#0a7d5a" in html  # branded from the segment's theme
    if template == "tenant.newBooking":  # the tenant learns who booked; the HTML escapes it
        assert "Ana <Admin>" in text and "Ana &lt;Admin&gt;" in html and "<Admin>" not in html


def test_the_disabled_endpoint_email_names_the_endpoint_in_both_parts():
    message = render(
        "webhook.endpointDisabled",
        "tierwise@localhost",
        "ops@hotel.example",
        "Hotel Ana",
        {
            "endpoint_id": "e-1",
            "url": "https://hooks.example.com/x?a=1&b=2",
            "reason": "every delivery failed since 2026-12-01T00:00:00+00:00",
            "disabled_at": "2026-12-04T00:00:00+00:00",
        },
    )
    text, html = parts(message)
    for part in (text, html):
        assert "e-1" in part and "every delivery failed since" in part
        assert '{"status": "active"}' in part
    assert "https://hooks.example.com/x?a=1&b=2" in text
    assert "https://hooks.example.com/x?a=1&amp;b=2" in html


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (22050, "EUR", "220.50 EUR"),
        (5, "USD", "0.05 USD"),
        (22000, "JPY", "22000 JPY"),
        (1500, "KWD", "1.500 KWD"),
        (10**17 + 1, "EUR", "1000000000000000.01 EUR"),  # past a float's precision
    ],
)
def test_amounts_are_exact_in_the_currencys_decimals(amount, currency, shown):
    assert money(amount, currency) == shown
