"""Signed quote tokens: a price lock checkout honours.

A token is ``itsdangerous.URLSafeSerializer`` output (HMAC-SHA256 over a compact JSON payload,
keyed by ``QUOTE_SECRET``): readable, but any change breaks the signature. The payload pins the
tenant, the selection, the amounts, the currency, the ruleset version and the experiment variant,
and carries its own expiry (``exp``, Unix seconds), checked against the caller's clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from itsdangerous import BadSignature, URLSafeSerializer

from pricing.errors import InvalidInput

SALT = "tierwise.quote.v1"


@dataclass(frozen=True)
class QuoteClaims:
    quote_id: str
    tenant_id: str
    segment_id: str
    tier_id: str
    service_date: str  # ISO date
    guests: int
    add_on_ids: list[str]
    currency: str
    subtotal: int
    total: int
    platform_fee: int
    ruleset_version: int
    ruleset_hash: str
    expires_at: int  # Unix seconds
    variant: str = ""
    experiment: str = ""
    visitor_id: str = ""
    decision_ids: list[str] = field(default_factory=list)


class QuoteSigner:
    def __init__(self, secret: str, ttl_seconds: int) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.ttl_seconds = ttl_seconds

    def expiry(self, now: dt.datetime) -> int:
        return int(now.timestamp()) + self.ttl_seconds

    def sign(self, claims: QuoteClaims) -> str:
        return str(self._serializer.dumps(asdict(claims)))

    def verify(self, token: str, tenant_id: str, now: dt.datetime) -> QuoteClaims:
        """The claims of a valid token of ``tenant_id``; InvalidInput ``quote_invalid`` (tampered,
        another tenant's, malformed) or ``quote_expired``."""
        try:
            payload = self._serializer.loads(token)
            claims = QuoteClaims(**payload)
        except (BadSignature, TypeError, ValueError):
            raise InvalidInput("The quote token is not valid.", code="quote_invalid") from None
        if claims.tenant_id != tenant_id:
            raise InvalidInput("The quote token is not valid.", code="quote_invalid")
        if now.timestamp() >= claims.expires_at:
            raise InvalidInput("The quote has expired; ask for a new one.", code="quote_expired")
        return claims
