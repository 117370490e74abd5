"""Credentials: storefront publishable API keys and admin JWTs (HS256, expiry, issuer), checked
into a ``Principal`` (the HTTP layer's hooks, ``app/http/auth.py``, read them off the request).

* Storefront: ``X-Api-Key: tw_pk_<8 hex prefix><32 hex secret>``. Only an HMAC-SHA256 of the key
  (keyed by ``API_KEY_PEPPER``) is stored; the prefix is stored in clear so admins can tell keys apart.
* Admin: ``Authorization: Bearer <JWT>`` with claims ``iss``, ``sub``, ``role``
  (``platform_admin`` | ``tenant_admin`` | ``analyst``), ``tenant`` (id; absent for platform
  admins), ``iat`` and ``exp``. A platform admin acts on one tenant's admin API by sending
  ``X-Tenant-Id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from config import Settings
from pricing import catalog as domain
from pricing.errors import Forbidden, NotFound, Unauthenticated
from storage import tenants as tenant_store
from storage.db import Database

ROLES = ("platform_admin", "tenant_admin", "analyst")
WRITE_ROLES = ("platform_admin", "tenant_admin")
KEY_PREFIX = "tw_pk_"
API_KEY_HEADER = "X-Api-Key"
TENANT_HEADER = "X-Tenant-Id"


@dataclass(frozen=True)
class Principal:
    kind: str  # "storefront" | "admin"
    role: str  # "storefront" or one of ROLES
    subject: str
    tenant: domain.Tenant | None
    allowed_origins: tuple[str, ...] = ()  # a storefront key's browser origins (CORS)


# ---- API keys ---------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str]:
    """A fresh key and its displayable prefix."""
    key = KEY_PREFIX + secrets.token_hex(4) + secrets.token_hex(16)
    return key, key[: len(KEY_PREFIX) + 8]


def hash_api_key(pepper: str, key: str) -> str:
    """HMAC-SHA256 of the key, hex (``hmac.digest``: the one-shot C path of ``hmac.new``)."""
    return hmac.digest(pepper.encode(), key.encode(), hashlib.sha256).hex()


class ApiKeyCache:
    """Storefront keys found in the database, kept in this process for ``ttl_seconds`` so most
    requests authenticate without a database round trip. Revoking a key or changing a tenant
    drops the entries of this process at once (``forget``); other processes see it within
    ``ttl_seconds``. Unknown keys are never cached. Nothing priced depends on the cached tenant:
    offers read the tenant's settings with their catalog snapshot.

    An entry also keeps the key that last matched its stored HMAC (``verified``): the same key
    again is compared to it (constant time) instead of computing the HMAC on every request. The
    entry's revocation and tenant state are checked as before, and it expires and is forgotten
    with them. Storefront keys are publishable (they sit in the tenant's web pages): keeping one
    in memory exposes nothing the process does not read on every request anyway."""

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ):
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[float, tenant_store.StoredApiKey, str | None]] = {}
        self._lock = threading.Lock()

    def get(self, prefix: str) -> tenant_store.StoredApiKey | None:
        found = self.lookup(prefix)
        return found[0] if found is not None else None

    def lookup(self, prefix: str) -> tuple[tenant_store.StoredApiKey, str | None] | None:
        """The stored key of ``prefix`` and the key verified against it (None: none yet)."""
        with self._lock:
            found = self._entries.get(prefix)
        if found is None or found[0] <= self._clock():
            return None
        return found[1], found[2]

    def put(self, prefix: str, stored: tenant_store.StoredApiKey) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[prefix] = (self._clock() + self.ttl_seconds, stored, None)

    def verified(self, prefix: str, stored: tenant_store.StoredApiKey, key: str) -> None:
        """``key`` matched ``stored``'s HMAC: remember it on the entry, if that entry is still
        ``stored`` (not forgotten or replaced meanwhile)."""
        with self._lock:
            found = self._entries.get(prefix)
            if found is not None and found[1] is stored:
                self._entries[prefix] = (found[0], stored, key)

    def forget(self, *, prefix: str | None = None, tenant_id: str | None = None) -> None:
        with self._lock:
            for key in [
                k
                for k, (_, s, _verified) in self._entries.items()
                if k == prefix or s.tenant.id == tenant_id
            ]:
                del self._entries[key]


def storefront_principal(
    settings: Settings, db: Database, api_keys: ApiKeyCache, key: str | None
) -> Principal:
    if not key:
        raise Unauthenticated(f"Send a storefront API key in the {API_KEY_HEADER} header.")
    if not key.startswith(KEY_PREFIX) or len(key) != len(KEY_PREFIX) + 40:
        raise Unauthenticated("The API key is not valid.", code="invalid_api_key")
    prefix = key[: len(KEY_PREFIX) + 8]
    found = api_keys.lookup(prefix)
    stored, verified = found if found is not None else (None, None)
    if stored is None:
        with db.read() as session:
            stored = tenant_store.find_api_key(session, prefix)
        if stored is not None:
            api_keys.put(prefix, stored)
    if stored is None:
        raise Unauthenticated("The API key is not valid.", code="invalid_api_key")
    if verified is None or not hmac.compare_digest(verified, key):
        if not hmac.compare_digest(stored.key_hash, hash_api_key(settings.api_key_pepper, key)):
            raise Unauthenticated("The API key is not valid.", code="invalid_api_key")
        api_keys.verified(prefix, stored, key)
    if stored.revoked:
        raise Unauthenticated("The API key was revoked.", code="api_key_revoked")
    if not stored.tenant.active:
        raise Forbidden("The tenant is suspended.", code="tenant_suspended")
    return Principal(
        "storefront",
        "storefront",
        key[: len(KEY_PREFIX) + 8],
        stored.tenant,
        stored.allowed_origins,
    )


# ---- JWTs -------------------------------------------------------------------------------------


def token_expiry(now: dt.datetime, ttl_seconds: int) -> int:
    """The ``exp`` claim (Unix seconds) of a token issued at ``now`` for ``ttl_seconds``."""
    return int(now.timestamp()) + ttl_seconds


def issue_token(
    settings: Settings,
    *,
    role: str,
    subject: str,
    tenant_id: str | None,
    now: dt.datetime,
    ttl_seconds: int | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role != "platform_admin" and not tenant_id:
        raise ValueError(f"a {role} token needs a tenant")
    claims = {
        "iss": settings.jwt_issuer,
        "sub": subject,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": token_expiry(now, settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds),
    }
    if tenant_id:
        claims["tenant"] = str(tenant_id)
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def admin_principal(
    settings: Settings, db: Database, header: str | None, tenant_header: str | None
) -> Principal:
    if not header or not header.startswith("Bearer "):
        raise Unauthenticated("Send an admin token as 'Authorization: Bearer <jwt>'.")
    token = header.removeprefix("Bearer ").strip()
    if token.startswith(KEY_PREFIX):
        raise Forbidden(
            "A storefront API key cannot call the admin API.", code="storefront_key_on_admin"
        )
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iss", "sub", "role"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired.", code="token_expired")
    except jwt.InvalidTokenError as error:
        raise Unauthenticated(f"The token is not valid: {error}.", code="invalid_token")
    role = claims.get("role")
    if role not in ROLES:
        raise Unauthenticated("The token has no known role.", code="invalid_token")
    tenant_ref = claims.get("tenant")
    if role == "platform_admin":
        tenant_ref = tenant_header or tenant_ref
    tenant = None
    if tenant_ref:
        with db.read() as session:
            try:
                tenant = tenant_store.get_tenant(session, tenant_ref)
            except NotFound:
                if role != "platform_admin":
                    raise Unauthenticated(
                        "The token's tenant does not exist.", code="invalid_token"
                    )
                raise
    return Principal("admin", role, str(claims["sub"]), tenant)
