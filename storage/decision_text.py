"""A decision record and its texts: the canonical JSON its chain link hashes (``canonical``,
``chain_hash``; ``storage.decisions`` explains the chain), and the line
``tw_append_decision_lines`` reads (``line``, migration 0024): the canonical JSON, then each
column's text, so that PostgreSQL does not parse the JSON again to fill the columns."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from storage.db import as_utc, json_default


@dataclass(frozen=True)
class DecisionRecord:
    id: str
    tenant_id: str
    purpose: str
    kinds: list[str]
    ruleset_version: int
    ruleset_hash: str
    engine: str
    facts: dict[str, Any]
    considered: list[Any]
    fired: list[str]
    outputs: dict[str, Any]
    context: dict[str, Any]
    request_id: str
    quote_id: str | None
    booking_id: str | None
    created_at: dt.datetime
    masked_fields: list[str] = field(default_factory=list)
    customer_ref: str | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None
    #: Its line but for its id, request id and time (``line``), when it shares every other field
    #: with the records that made the shape (a reused offer sheet's evaluation); not stored.
    shape: LineShape | None = field(default=None, compare=False, repr=False)


def as_dict(record: DecisionRecord) -> dict[str, Any]:
    """The record's stored fields by name (``dataclasses.asdict`` but for its ``shape``)."""
    fields = dataclasses.asdict(record)
    del fields["shape"]
    return fields


def canonical(record: DecisionRecord) -> bytes:
    """The record's fields but the chain's own (seq, prev_hash, hash), as the JSON columns store
    them (Decimals and dates as strings), with sorted keys and no whitespace; ``created_at`` in
    UTC (as read back in any session time zone)."""
    data = {
        "tenant_id": record.tenant_id,
        "id": record.id,
        "purpose": record.purpose,
        "kinds": record.kinds,
        "ruleset_version": record.ruleset_version,
        "ruleset_hash": record.ruleset_hash,
        "engine": record.engine,
        "facts": record.facts,
        "considered": record.considered,
        "fired": record.fired,
        "outputs": record.outputs,
        "context": record.context,
        "request_id": record.request_id,
        "quote_id": record.quote_id,
        "booking_id": record.booking_id,
        "created_at": _created(record),
        "masked_fields": record.masked_fields,
        "customer_ref": record.customer_ref,
    }
    return canonical_json(data)


def _created(record: DecisionRecord) -> str:
    return _utc_text(record.created_at)


@functools.lru_cache(maxsize=256)
def _utc_text(created: dt.datetime) -> str:
    """The time in UTC as ISO text (equal times, equal texts: kept for the records of one offer,
    which share theirs)."""
    if created.tzinfo is not dt.UTC:  # made by the service, it is already
        created = as_utc(created).astimezone(dt.UTC)
    return created.isoformat(timespec="microseconds")


_CANONICAL = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def canonical_json(data: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 (not ASCII-escaped), Decimals and dates through
    ``json_default``: the bytes ``json.dumps(..., sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` gives, written by orjson (a fifth of the time) where it writes them the
    same, which is everything a record holds (strings, integers, booleans, null, Decimals, dates;
    records hold no floats, whose exponent form orjson writes differently); the standard library
    writes what orjson refuses (integers beyond 64 bits, lone surrogates, non-string keys)."""
    try:
        return orjson.dumps(data, default=json_default, option=_CANONICAL)
    except orjson.JSONEncodeError:
        return json.dumps(
            data, default=json_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


def chain_hash(seq: int, prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(f"{seq}|{prev_hash}|".encode() + body).hexdigest()


def link_hash(record: DecisionRecord) -> str:
    """The hash a record's link must carry, from its stored fields."""
    return chain_hash(record.seq or 0, record.prev_hash or "", canonical(record))


#: A line's separators (``tw_append_decision_lines``): U+001F before each column, U+001E alone
#: for NULL. JSON text holds neither raw, nor a newline (control characters are escaped in it).
_UNIT, _NULL = "\x1f", "\x1e"
#: The JSON columns of a line, in its order (kinds, then facts to context, then masked_fields).
_JSON_COLUMNS = ("kinds", "facts", "considered", "fired", "outputs", "context", "masked_fields")


def line(record: DecisionRecord) -> bytes | None:
    """The record as ``tw_append_decision_lines`` reads it: its canonical body (hashed), then
    each column's text, the JSON ones as the body holds them (what ``json_populate_record``
    stored of it); None when a plain text holds a separator or a newline (the batch then goes
    as JSON rows to ``tw_append_decisions``). Each JSON column is written once: the body is put
    together from them (``orjson.Fragment``), not written again. A record with a ``shape`` is
    its shape filled in (``LineShape``)."""
    created = _created(record)
    shape = record.shape
    if shape is not None:
        filled = shape.fill(record.id, record.request_id, created)
        if filled is not None:
            return filled
    return _line(record, created)


def _line(record: DecisionRecord, created: str) -> bytes | None:
    plain = (
        record.id,
        record.purpose,
        str(record.ruleset_version),
        record.ruleset_hash,
        record.engine,
        record.request_id,
        record.quote_id,
        record.booking_id,
        created,
        record.customer_ref,
    )
    try:
        texts = "".join([t for t in plain if t is not None])
    except TypeError:  # a text that is not one (a UUID, say): the JSON rows write it as JSON does
        return None
    if _UNIT in texts or _NULL in texts or "\n" in texts:
        return None
    written = [canonical_json(getattr(record, name)) for name in _JSON_COLUMNS]
    kinds, facts, considered, fired, outputs, context, masked = written
    identity, purpose, version, ruleset_hash, engine, request_id, quote, booking, _, ref = (
        (_NULL if t is None else t).encode() for t in plain
    )
    body = _body(record, created, written)
    return b"\x1f".join(
        (
            body,
            identity,
            purpose,
            kinds,
            version,
            ruleset_hash,
            engine,
            facts,
            considered,
            fired,
            outputs,
            context,
            request_id,
            quote,
            booking,
            created.encode(),
            masked,
            ref,
        )
    )


def _body(record: DecisionRecord, created: str, written: list[bytes]) -> bytes:
    """``canonical(record)``, from its JSON columns already ``written`` (in ``_JSON_COLUMNS``'
    order) and its ``created`` text; ``canonical`` itself where orjson refuses a text."""
    kinds, facts, considered, fired, outputs, context, masked = map(orjson.Fragment, written)
    data = {
        "tenant_id": record.tenant_id,
        "id": record.id,
        "purpose": record.purpose,
        "kinds": kinds,
        "ruleset_version": record.ruleset_version,
        "ruleset_hash": record.ruleset_hash,
        "engine": record.engine,
        "facts": facts,
        "considered": considered,
        "fired": fired,
        "outputs": outputs,
        "context": context,
        "request_id": record.request_id,
        "quote_id": record.quote_id,
        "booking_id": record.booking_id,
        "created_at": created,
        "masked_fields": masked,
        "customer_ref": record.customer_ref,
    }
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # a lone surrogate, say: the standard library's bytes
        return canonical(record)


#: Texts that JSON writes as they are (no escape) and that hold no separator: what a shape's
#: slots take (ids, request ids, ISO times); anything else makes the whole line.
_VERBATIM = re.compile(r"[A-Za-z0-9._:+-]{1,64}")


@dataclass(frozen=True)
class LineShape:
    """A record's line cut where its id, request id and time go (each twice: in the body and in
    its column), so that records equal but for those three are written by joining texts rather
    than writing JSON: ~2 µs for a record's line against ~9 (a reused offer sheet's records,
    ``app.services.offers``). ``chunks`` are the line's other bytes, ``slots`` which of the
    three goes between each two of them."""

    chunks: tuple[bytes, ...]
    slots: tuple[int, ...]

    def fill(self, record_id: str, request_id: str, created: str) -> bytes | None:
        """The line with these three in their places; None when one of them is not a plain
        token (it could need escaping in JSON: the caller writes the line itself)."""
        values = (record_id, request_id, created)
        if not all(map(_VERBATIM.fullmatch, values)):
            return None
        encoded = [value.encode() for value in values]
        chunks = self.chunks
        parts = [chunks[0]]
        for slot, chunk in zip(self.slots, chunks[1:], strict=True):
            parts.append(encoded[slot])
            parts.append(chunk)
        return b"".join(parts)


def shape_of(record: DecisionRecord) -> LineShape | None:
    """The shape of ``record``'s line (None when it has none: a separator in a plain text)."""
    marks = [f"tw{uuid.uuid4().hex}" for _ in range(3)]  # random: nowhere else in the line
    probe = _line(dataclasses.replace(record, id=marks[0], request_id=marks[1]), marks[2])
    if probe is None:
        return None
    cut = re.split(f"({'|'.join(marks)})".encode(), probe)
    slots = tuple(marks.index(mark.decode()) for mark in cut[1::2])
    if sorted(slots) != [0, 0, 1, 1, 2, 2]:  # each in the body and in its column, once
        return None
    return LineShape(tuple(cut[0::2]), slots)
