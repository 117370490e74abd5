"""Console users and sessions. Sign-in finds a user by email before any tenant is known, so the
lookups here are not tenant-scoped; listing and removing users take the tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pricing import catalog as domain
from pricing.errors import Conflict, NotFound
from storage import models as m
from storage.catalog import tenant_value
from storage.db import as_utc


@dataclass(frozen=True)
class User:
    id: str
    tenant_id: str | None
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class StoredUser:
    user: User
    password_hash: str


@dataclass(frozen=True)
class SignedIn:
    """A live session: its user, the user's tenant (None for platform admins), its CSRF token."""

    user: User
    tenant: domain.Tenant | None
    csrf_token: str


def _user(row: m.User) -> User:
    return User(
        str(row.id),
        str(row.tenant_id) if row.tenant_id else None,
        row.email,
        row.name,
        row.role,
    )


def add_user(
    session: Session, tenant_id: str | None, email: str, name: str, role: str, password_hash: str
) -> User:
    if session.scalar(select(m.User.id).where(m.User.email == email)) is not None:
        raise Conflict("A user with this email exists.", code="user_exists")
    row = m.User(
        tenant_id=uuid.UUID(tenant_id) if tenant_id else None,
        email=email,
        name=name,
        role=role,
        password_hash=password_hash,
    )
    session.add(row)
    session.flush()
    return _user(row)


def find_by_email(session: Session, email: str) -> StoredUser | None:
    row = session.scalars(select(m.User).where(m.User.email == email)).first()
    return None if row is None else StoredUser(_user(row), row.password_hash)


def set_password_hash(session: Session, user_id: str, password_hash: str) -> None:
    row = session.get(m.User, uuid.UUID(user_id))
    if row is None:
        raise NotFound("user not found.", code="user_not_found")
    row.password_hash = password_hash


def list_users(session: Session, tenant_id: str) -> list[User]:
    rows = session.scalars(
        select(m.User).where(m.User.tenant_id == uuid.UUID(tenant_id)).order_by(m.User.email)
    ).all()
    return [_user(r) for r in rows]


def add_session(
    session: Session,
    token_hash: str,
    user_id: str,
    csrf_token: str,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """A new session of the user; the user's expired ones are deleted on the way."""
    session.execute(
        delete(m.ConsoleSession).where(
            m.ConsoleSession.user_id == uuid.UUID(user_id), m.ConsoleSession.expires_at <= now
        )
    )
    session.add(
        m.ConsoleSession(
            token_hash=token_hash,
            user_id=uuid.UUID(user_id),
            csrf_token=csrf_token,
            expires_at=expires_at,
        )
    )


def find_session(session: Session, token_hash: str, now: dt.datetime) -> SignedIn | None:
    found = session.execute(
        select(m.ConsoleSession, m.User)
        .join(m.User, m.User.id == m.ConsoleSession.user_id)
        .where(m.ConsoleSession.token_hash == token_hash)
    ).first()
    if found is None:
        return None
    console_session, user = found
    if as_utc(console_session.expires_at) <= now:
        return None
    tenant = session.get(m.Tenant, user.tenant_id) if user.tenant_id else None
    return SignedIn(
        _user(user), tenant_value(tenant) if tenant else None, console_session.csrf_token
    )


def end_session(session: Session, token_hash: str) -> None:
    session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.token_hash == token_hash))


def end_sessions_of(session: Session, user_id: str) -> None:
    session.execute(delete(m.ConsoleSession).where(m.ConsoleSession.user_id == uuid.UUID(user_id)))


def tenant_user(session: Session, tenant_id: str, user_id: str) -> User:
    """One of the tenant's users, or NotFound (another tenant's user is not found either)."""
    try:
        key = uuid.UUID(user_id)
    except ValueError:
        key = None
    row = session.get(m.User, key) if key else None
    if row is None or str(row.tenant_id) != tenant_id:
        raise NotFound("user not found.", code="user_not_found")
    return _user(row)


def remove_user(session: Session, user_id: str) -> None:
    end_sessions_of(session, user_id)
    session.execute(delete(m.User).where(m.User.id == uuid.UUID(user_id)))
