"""Console accounts and sessions: creating users, signing in (throttled on failures), the
session behind a console cookie, signing out.

The console acts through the same use cases as the JSON API: a signed-in session becomes a
``Principal`` (``principal_of``) just as a JWT does, and the views pass it on."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from app.adapters.cache import Cache, CacheUnavailable
from app.adapters.credentials import Principal
from app.adapters.passwords import dummy_hash, generate_password, hash_password, verify_password
from app.services import tenants
from pricing.errors import InvalidInput, Unauthenticated
from storage import accounts as store
from storage.db import Database

TENANT_ROLES = ("tenant_admin", "analyst")
#: Failed sign-ins allowed per email and client address within ``THROTTLE_SECONDS``.
MAX_FAILURES = 5
THROTTLE_SECONDS = 15 * 60
SESSION_HOURS = 12


class SignInThrottled(Unauthenticated):
    """Too many failed sign-ins for this email from this address: wait ``THROTTLE_SECONDS``."""

    code = "sign_in_throttled"


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value; only its hash is stored
    signed_in: store.SignedIn


def _normal_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidInput(
            "Give an email address.",
            code="validation_error",
            details=[{"field": "email", "message": "Not a valid email address."}],
        )
    return email


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    db: Database, tenant_ref: str | None, email: str, role: str, name: str = ""
) -> tuple[store.User, str]:
    """A user and the generated password (shown once; only its argon2id hash is kept). Tenant
    users are ``tenant_admin`` or ``analyst``; ``platform_admin`` users have no tenant."""
    email = _normal_email(email)
    if role == "platform_admin":
        if tenant_ref:
            raise InvalidInput("Platform admins belong to no tenant.", code="tenant_not_allowed")
        tenant_id = None
    elif role in TENANT_ROLES:
        if not tenant_ref:
            raise InvalidInput(f"A {role} belongs to a tenant.", code="tenant_required")
        tenant_id = tenants.get_tenant(db, tenant_ref).id
    else:
        raise InvalidInput(f"role must be one of {TENANT_ROLES} or platform_admin.")
    password = generate_password()
    with db.transaction() as s:
        user = store.add_user(
            s, tenant_id, email, name or email.split("@")[0], role, hash_password(password)
        )
    return user, password


def reset_password(db: Database, email: str) -> str:
    """A new generated password for the user (shown once); their sessions end."""
    password = generate_password()
    with db.transaction() as s:
        found = store.find_by_email(s, _normal_email(email))
        if found is None:
            raise InvalidInput("No such user.", code="user_not_found")
        store.set_password_hash(s, found.user.id, hash_password(password))
        store.end_sessions_of(s, found.user.id)
    return password


def reset_tenant_user_password(
    db: Database, tenant_id: str, user_id: str
) -> tuple[store.User, str]:
    """A tenant admin resets one of the tenant's users' password: a new generated one (shown
    once); the user's sessions end."""
    password = generate_password()
    with db.transaction() as s:
        user = store.tenant_user(s, tenant_id, user_id)
        store.set_password_hash(s, user.id, hash_password(password))
        store.end_sessions_of(s, user.id)
    return user, password


def remove_tenant_user(db: Database, tenant_id: str, user_id: str, acting_user_id: str) -> None:
    """Removes one of the tenant's users; their sessions end at once. Nobody removes themselves
    (a tenant keeps at least the admin doing the removing)."""
    if user_id == acting_user_id:
        raise InvalidInput("You can't remove yourself.", code="cannot_remove_self")
    with db.transaction() as s:
        user = store.tenant_user(s, tenant_id, user_id)
        store.remove_user(s, user.id)


def list_users(db: Database, tenant_id: str) -> list[store.User]:
    with db.read() as s:
        return store.list_users(s, tenant_id)


def _throttle_key(email: str, client: str) -> str:
    digest = hashlib.sha256(f"{email}\0{client}".encode()).hexdigest()[:32]
    return f"tw:signin-failures:{digest}"


def _failures(cache: Cache, key: str) -> int:
    try:
        value = cache.get(key)
    except CacheUnavailable:
        return 0
    return int(value or b"0")


def _count_failure(cache: Cache, key: str) -> None:
    try:
        count = _failures(cache, key) + 1
        cache.set(key, str(count).encode(), THROTTLE_SECONDS)
    except CacheUnavailable:
        pass


def sign_in(
    db: Database, cache: Cache, email: str, password: str, client: str, now: dt.datetime
) -> NewSession:
    """A new session for the right password, else ``Unauthenticated`` (``invalid_credentials``,
    the same whether the email exists or not). Only failures count towards the throttle, per
    email and client address: after ``MAX_FAILURES`` within ``THROTTLE_SECONDS``,
    ``SignInThrottled`` without checking the password."""
    email = email.strip().lower()
    key = _throttle_key(email, client)
    if _failures(cache, key) >= MAX_FAILURES:
        raise SignInThrottled(
            "Too many failed sign-ins. Try again in a few minutes.", code="sign_in_throttled"
        )
    with db.read() as s:
        found = store.find_by_email(s, email)
    if not verify_password(found.password_hash if found else dummy_hash(), password) or not found:
        _count_failure(cache, key)
        raise Unauthenticated("The email or password is not right.", code="invalid_credentials")
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.transaction() as s:
        store.add_session(
            s,
            _token_hash(token),
            found.user.id,
            csrf,
            now + dt.timedelta(hours=SESSION_HOURS),
            now,
        )
        signed_in = store.find_session(s, _token_hash(token), now)
    assert signed_in is not None
    return NewSession(token, signed_in)


def current_session(db: Database, token: str | None, now: dt.datetime) -> store.SignedIn | None:
    """The live session of a cookie's token, or None (unknown, ended or expired)."""
    if not token:
        return None
    with db.read() as s:
        return store.find_session(s, _token_hash(token), now)


def sign_out(db: Database, token: str) -> None:
    """Ends the session on the server: its cookie signs nobody in any more."""
    with db.transaction() as s:
        store.end_session(s, _token_hash(token))


def csrf_matches(signed_in: store.SignedIn, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(signed_in.csrf_token, sent or "")


def principal_of(signed_in: store.SignedIn) -> Principal:
    """The session as the principal the use cases and the change log know (``console`` kind,
    the user's role, their email as subject)."""
    return Principal("console", signed_in.user.role, signed_in.user.email, signed_in.tenant)
