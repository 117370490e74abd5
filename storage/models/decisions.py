"""The decision log: records, each tenant's hash chain head, retention purges."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, partial_present, utcnow


class Decision(Base):
    """One evaluation of a ruleset, written in the transaction of the response it served, and a
    link of its tenant's hash chain: ``hash = sha256("<seq>|<prev_hash>|" + canonical record)``
    (``storage.decisions``). Every index leads with ``tenant_id``.

    On PostgreSQL the table is partitioned by month of ``created_at`` (migration 0020,
    ``storage.decision_partitions``), so the primary key holds ``created_at`` and ``seq`` is
    indexed, not unique (a unique key must hold the partition key): the locked chain head hands
    each seq out once, and verification finds a duplicate. SQLite keeps a plain table, same keys."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_tenant_seq", "tenant_id", "seq"),
        Index("ix_decisions_tenant_created", "tenant_id", "created_at"),
        Index("ix_decisions_tenant_request", "tenant_id", "request_id"),
        # Partial: most records (browsed offers) have none of these, and skip the index writes.
        Index("ix_decisions_tenant_quote", "tenant_id", "quote_id", **partial_present("quote_id")),
        Index(
            "ix_decisions_tenant_booking",
            "tenant_id",
            "booking_id",
            **partial_present("booking_id"),
        ),
        Index(
            "ix_decisions_tenant_customer",
            "tenant_id",
            "customer_ref",
            **partial_present("customer_ref"),
        ),
    )

    #: No foreign key: the append checks the tenant once per call, through its chain head's
    #: (``decision_chains``; migration 0025).
    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(32))  # offer | quote | upgrade | fallback
    kinds: Mapped[list[Any]] = mapped_column()
    ruleset_version: Mapped[int] = mapped_column(Integer)
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]] = mapped_column()
    considered: Mapped[list[Any]] = mapped_column()  # [[rule_id, matched, fired], ...]
    fired: Mapped[list[Any]] = mapped_column()
    outputs: Mapped[dict[str, Any]] = mapped_column()
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    quote_id: Mapped[str | None] = mapped_column(String(64), default=None)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(primary_key=True, default=utcnow)
    #: JSON pointers of personal data replaced by keyed hashes before the record was stored.
    masked_fields: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    #: The keyed hash of the customer's e-mail, when one was given (search without clear text).
    customer_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Position in the tenant's hash chain (1, 2, ...), the previous link's hash, this link's hash.
    #: Null only for records written before migration 0009 (outside the chain).
    seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)


class DecisionChain(Base):
    """The head of a tenant's decision chain (locked while links are appended), and where a purge
    left its start: verification begins after ``purged_through_seq`` from ``purged_last_hash``."""

    __tablename__ = "decision_chains"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    purged_through_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DecisionPurge(Base):
    """One retention purge of a tenant's decisions: the range removed and its last link's hash."""

    __tablename__ = "decision_purges"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
