"""Tenants and API-key lookup: the only queries that are not scoped to one tenant, because they
find the tenant (platform operators, and authentication before the tenant is known)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from pricing import catalog as domain
from pricing.errors import NotFound
from storage import models as m
from storage.catalog import tenant_value
from storage.db import Executor
from storage.driver import HotStatement
from storage.repository import Page, as_uuid, flush


@dataclass(frozen=True)
class StoredApiKey:
    tenant: domain.Tenant
    key_hash: str
    revoked: bool
    allowed_origins: tuple[str, ...] = ()


def create_tenant(session: Session, **fields: Any) -> domain.Tenant:
    row = m.Tenant(**fields)
    session.add(row)
    flush(session)
    return tenant_value(row)


def list_tenants(session: Session, *, offset: int, limit: int) -> Page[domain.Tenant]:
    total = session.scalar(select(func.count()).select_from(m.Tenant)) or 0
    rows = session.scalars(
        select(m.Tenant).order_by(m.Tenant.slug).offset(offset).limit(limit)
    ).all()
    return Page([tenant_value(r) for r in rows], int(total))


def get_tenant(session: Session, ref: str | uuid.UUID) -> domain.Tenant:
    """A tenant by id or slug."""
    key = as_uuid(ref)
    row = (
        session.get(m.Tenant, key)
        if key
        else session.scalars(select(m.Tenant).where(m.Tenant.slug == str(ref))).first()
    )
    if row is None:
        raise NotFound("tenant not found.", code="tenant_not_found")
    return tenant_value(row)


def find_api_key(session: Session, prefix: str) -> StoredApiKey | None:
    found = session.execute(
        select(m.ApiKey, m.Tenant)
        .join(m.Tenant, m.Tenant.id == m.ApiKey.tenant_id)
        .where(m.ApiKey.prefix == prefix)
    ).first()
    if found is None:
        return None
    key, tenant = found
    return StoredApiKey(
        tenant_value(tenant), key.key_hash, key.revoked_at is not None, tuple(key.allowed_origins)
    )


def _catalog_version_statement() -> Select[Any]:
    tenant: BindParameter[uuid.UUID] = bindparam("tenant")
    return select(m.Tenant.catalog_version).where(m.Tenant.id == tenant)


CATALOG_VERSION = HotStatement(_catalog_version_statement(), ("tenant",))


def catalog_version(executor: Executor, tenant_id: str) -> int:
    """The tenant's current catalog version (which snapshot the storefront's catalog reads
    serve): one short round trip, on the driver's cursor (``storage.driver``)."""
    rows = CATALOG_VERSION.rows(executor, {"tenant": uuid.UUID(tenant_id)})
    if not rows:
        raise NotFound("tenant not found.", code="tenant_not_found")
    return int(rows[0][0])
