"""The declarative base of every model: a naming convention for constraints, the column types of
annotations, and helpers the models share."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, text
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUS_ACTIVE = "active"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def partial_where(condition: str) -> dict[str, Any]:
    """A partial index over the rows where ``condition`` holds (PostgreSQL and SQLite alike)."""
    where = text(condition)
    return {"postgresql_where": where, "sqlite_where": where}


def partial_present(column: str) -> dict[str, Any]:
    """A partial index over the rows where ``column`` is set."""
    return partial_where(f"{column} IS NOT NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(timezone=True),
    }
