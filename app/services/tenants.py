"""Tenant and credential use cases (platform operators, tenant admins, the CLI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.adapters.credentials import ApiKeyCache, hash_api_key, new_api_key
from pricing import catalog as domain
from storage import tenants as store
from storage.catalog import CatalogRepository
from storage.db import Database
from storage.repository import Page


def create_tenant(db: Database, data: dict[str, Any]) -> domain.Tenant:
    """A tenant, with the default ruleset published as its version 1."""
    from app.services.rulesets import publish_default

    with db.transaction() as s:
        tenant = store.create_tenant(s, **data)
    publish_default(db, tenant.id)
    return tenant


def list_tenants(db: Database, offset: int, limit: int) -> Page[domain.Tenant]:
    with db.transaction() as s:
        return store.list_tenants(s, offset=offset, limit=limit)


def get_tenant(db: Database, ref: str) -> domain.Tenant:
    with db.transaction() as s:
        return store.get_tenant(s, ref)


def update_tenant_and_keys(
    db: Database,
    keys: ApiKeyCache,
    tenant: domain.Tenant,
    version: int | None,
    data: dict[str, Any],
) -> domain.Tenant:
    """update_tenant, then drop this process's cached keys of the tenant (suspension is at once)."""
    updated = update_tenant(db, tenant, version, data)
    keys.forget(tenant_id=tenant.id)
    return updated


def rate_limits(tenant: domain.Tenant) -> dict[str, str | None]:
    """A tenant's rate-limit overrides (None: the service's setting)."""
    return {"storefront": tenant.rate_limit_storefront, "admin": tenant.rate_limit_admin}


def set_rate_limits(
    db: Database, keys: ApiKeyCache, tenant: domain.Tenant, data: dict[str, Any]
) -> domain.Tenant:
    """Replace the tenant's rate-limit overrides (``storefront``, ``admin``: a rate, ``off``, or
    None for the service's setting)."""
    changes = {
        "rate_limit_storefront": data.get("storefront"),
        "rate_limit_admin": data.get("admin"),
    }
    return update_tenant_and_keys(db, keys, tenant, None, changes)


def update_tenant(
    db: Database, tenant: domain.Tenant, version: int | None, data: dict[str, Any]
) -> domain.Tenant:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_tenant(version, data)


def list_api_keys(
    db: Database, tenant: domain.Tenant, offset: int, limit: int
) -> Page[dict[str, Any]]:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).list_api_keys(offset=offset, limit=limit)


def create_api_key(
    db: Database,
    pepper: str,
    tenant: domain.Tenant,
    name: str,
    allowed_origins: Sequence[str] = (),
) -> dict[str, Any]:
    """A new storefront key; the full key is in the result once and stored only as a hash.
    ``allowed_origins``: browser origins whose pages may use it (CORS)."""
    key, prefix = new_api_key()
    with db.transaction() as s:
        record = CatalogRepository(s, tenant).create_api_key(
            name=name,
            prefix=prefix,
            key_hash=hash_api_key(pepper, key),
            allowed_origins=allowed_origins,
        )
    return {**record, "key": key}


def get_api_key(db: Database, tenant: domain.Tenant, key_id: str) -> dict[str, Any]:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).api_key(key_id)


def update_api_key(
    db: Database,
    tenant: domain.Tenant,
    key_id: str,
    version: int | None,
    data: dict[str, Any],
    keys: ApiKeyCache | None = None,
) -> dict[str, Any]:
    """Rename a key or set its allowed origins; with ``keys``, this process sees them at once."""
    with db.transaction() as s:
        record = CatalogRepository(s, tenant).update_api_key(key_id, version, data)
    if keys is not None:
        keys.forget(prefix=record["prefix"])
    return record


def revoke_api_key(
    db: Database, tenant: domain.Tenant, key_id: str, keys: ApiKeyCache | None = None
) -> dict[str, Any]:
    """Revoke a key; with ``keys``, this process stops accepting it at once."""
    with db.transaction() as s:
        record = CatalogRepository(s, tenant).revoke_api_key(key_id)
    if keys is not None:
        keys.forget(prefix=record["prefix"])
    return record
