"""Personal data in decision records: never stored in clear.

A customer's e-mail, name and phone given with a quote are replaced, before the record is written,
by keyed hashes ``pii:<first 32 hex of HMAC-SHA256(key, normalised value)>`` (e-mail lower-cased
and trimmed, others trimmed). Equal values give equal hashes, so an operator who knows a customer's
e-mail can find that customer's decisions (``customer_ref``) without the log holding it. The key is
derived from ``API_KEY_PEPPER`` with its own label, so it never equals a key used elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

PERSONAL_FIELDS = ("email", "name", "phone")
_LABEL = b"tierwise.decisions.pii.v1"


class Masker:
    def __init__(self, pepper: str) -> None:
        self._key = hmac.new(pepper.encode(), _LABEL, hashlib.sha256).digest()

    def token(self, field: str, value: str) -> str:
        normal = value.strip().lower() if field == "email" else value.strip()
        digest = hmac.new(self._key, f"{field}:{normal}".encode(), hashlib.sha256).hexdigest()
        return f"pii:{digest[:32]}"

    def customer(
        self, customer: dict[str, Any] | None
    ) -> tuple[dict[str, str], list[str], str | None]:
        """(the customer as a record may keep it, the JSON pointers masked, the e-mail's ref)."""
        if not customer:
            return {}, [], None
        kept, masked = {}, []
        for name in PERSONAL_FIELDS:
            value = customer.get(name)
            if value:
                kept[name] = self.token(name, str(value))
                masked.append(f"/context/customer/{name}")
        email = customer.get("email")
        return kept, masked, self.token("email", str(email)) if email else None

    def ref(self, email: str) -> str:
        """The ``customer_ref`` decisions of this e-mail carry."""
        return self.token("email", email)
