"""Customer emails: rendered from one Jinja template per message (``mail_templates/<name>.txt``
and ``.html``, the HTML autoescaped; the booking messages extend one layout, ``_booking``) and sent over SMTP (``SMTP_URL``: ``smtp://``, ``smtps://``
or ``starttls://``, with ``user:password@`` when the server wants them) or, in the embedded
default, written as ``.eml`` files under ``var/mail/``."""

from __future__ import annotations

import smtplib
import ssl
import uuid
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pricing.money import CURRENCY_EXPONENTS

TEMPLATES = Path(__file__).parent / "mail_templates"
SUBJECTS = {
    "booking.confirmed": "Your booking is confirmed",
    "booking.tierUpgraded": "Your booking was upgraded",
    "booking.cancelled": "Your booking was cancelled",
    "booking.refunded": "Your refund is on its way",
    # to the tenant (app/services/notices.py)
    "tenant.newBooking": "New booking",
    "webhook.endpointDisabled": "A webhook endpoint was disabled",
}
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def money(amount: int, currency: str) -> str:
    """Minor units as ``220.00 EUR``, ``22000 JPY``, ``1.500 KWD``: exact (Decimal, never a
    float), with the currency's own number of decimals."""
    digits = CURRENCY_EXPONENTS.get(currency.upper(), 2)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f} {currency}"


_environment.filters["money"] = lambda data: money(data["total"], data["currency"])


def render(
    template: str, sender: str, to: str, tenant_name: str, context: dict[str, Any]
) -> EmailMessage:
    """The message of ``template`` (an event type) with its text and HTML parts."""
    name = template.replace(".", "_")
    values = {"tenant_name": tenant_name, **context}
    message = EmailMessage()
    message["From"] = formataddr((tenant_name, sender))
    message["To"] = to
    message["Subject"] = f"{SUBJECTS[template]} — {tenant_name}"
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1] or None)
    message.set_content(_environment.get_template(f"{name}.txt").render(values))
    message.add_alternative(
        _environment.get_template(f"{name}.html").render(values), subtype="html"
    )
    return message


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "localhost"
        self.port = parts.port or {"smtps": 465, "starttls": 587}.get(parts.scheme, 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            if self.scheme == "smtps"
            else smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        )
        with client:
            if self.scheme == "starttls":
                client.starttls(context=context)
            if self.user is not None:
                client.login(self.user, self.password or "")
            client.send_message(message)


class FileMailer:
    """Writes each message to ``<folder>/<uuid>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{uuid.uuid4()}.eml").write_bytes(bytes(message))
