"""Sending webhooks: URL checks against server-side request forgery, Standard Webhooks signatures
(the ``standardwebhooks`` library) and one HTTP POST per attempt.

A URL's host is resolved and every address it resolves to is checked when the endpoint is saved
and again at each send, and the request goes to the address that was checked (not to a second
lookup), so a DNS answer that changes in between (rebinding) cannot reach a private address."""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from app.adapters import metrics

#: An attempt's longest wait for the receiver's answer, seconds.
TIMEOUT_SECONDS = 10.0
SECRET_PREFIX = "whsec_"

Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """The URL may not receive webhooks; ``code`` says why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in base64, as Standard Webhooks secrets are written."""
    import base64

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (a literal address resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_address(address: str) -> bool:
    """Private, loopback, link-local, multicast, reserved or unspecified (IPv4-mapped IPv6
    addresses judged as their IPv4 address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False
    resolver: Resolver = resolve

    def check(self, url: str) -> tuple[str, str, int, str]:
        """(scheme, host, port, the address to connect to) of an acceptable URL, else
        :class:`UrlRefused`."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise UrlRefused("The URL must be an absolute https URL.", "webhook_url_invalid")
        if parts.scheme == "http" and not self.allow_http:
            raise UrlRefused("Webhook URLs must use https.", "webhook_url_not_https")
        if parts.username or parts.password:
            raise UrlRefused("Webhook URLs carry no credentials.", "webhook_url_invalid")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UrlRefused("The URL's port is not valid.", "webhook_url_invalid") from None
        try:
            addresses = self.resolver(parts.hostname, port)
        except (OSError, UnicodeError):
            raise UrlRefused(
                f"The host {parts.hostname} does not resolve.", "webhook_url_unresolvable"
            ) from None
        if not addresses:
            raise UrlRefused(
                f"The host {parts.hostname} does not resolve.", "webhook_url_unresolvable"
            )
        if not self.allow_private and any(forbidden_address(a) for a in addresses):
            raise UrlRefused(
                "Webhook URLs may not point at private, loopback or link-local addresses.",
                "webhook_url_private",
            )
        return parts.scheme, parts.hostname, port, addresses[0]


@dataclass(frozen=True)
class Message:
    """One delivery attempt's request: ``webhook-id`` is the event's id, the same every retry."""

    id: str
    type: str
    timestamp: dt.datetime
    data: dict[str, object]

    def body(self) -> str:
        return json.dumps(
            {"type": self.type, "timestamp": self.timestamp.isoformat(), "data": self.data},
            separators=(",", ":"),
            default=str,
        )


def sign(secrets_: list[str], message_id: str, at: dt.datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` signature per secret (the current one, and
    the previous one while a rotation overlaps), space-separated."""
    return " ".join(Webhook(s).sign(message_id, at, body) for s in secrets_)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class WebhookSender:
    """Posts signed messages; ``timeout``: the wait for an answer, seconds."""

    def __init__(self, policy: UrlPolicy, timeout: float = TIMEOUT_SECONDS) -> None:
        self.policy = policy
        self.timeout = timeout

    def send(self, url: str, secrets_: list[str], message: Message, now: dt.datetime) -> Outcome:
        """One delivery attempt (counted in ``tierwise_webhook_deliveries_total``)."""
        outcome = self._send(url, secrets_, message, now)
        metrics.webhook_delivery("delivered" if outcome.delivered else "failed").inc()
        return outcome

    def _send(self, url: str, secrets_: list[str], message: Message, now: dt.datetime) -> Outcome:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            scheme, host, port, address = self.policy.check(url)
        except UrlRefused as refused:
            return Outcome(None, took(), f"{refused.code}: {refused}")
        body = message.body()
        headers = {
            "content-type": "application/json",
            "user-agent": "tierwise-webhooks/1",
            "webhook-id": message.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secrets_, message.id, now, body),
        }
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kind = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        connection = kind(host, port, address, self.timeout)
        try:
            connection.request("POST", target, body=body.encode(), headers=headers)
            response = connection.getresponse()
            response.read(65536)
            return Outcome(response.status, took())
        except (OSError, http.client.HTTPException) as error:
            return Outcome(None, took(), f"{type(error).__name__}: {error}"[:500])
        finally:
            connection.close()
