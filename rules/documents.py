"""Ruleset documents as text: JSON or YAML in, canonical JSON and its content hash out; and what
"plain data" means for any document or request body (``plain_data_problem``)."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import yaml

from rules.language import MAX_DOCUMENT_BYTES, RulesetInvalid

#: Containers (objects, arrays; mappings, sequences) nest at most this deep in a ruleset document
#: or a request body. A valid ruleset needs about 18 (conditions nest 6 groups deep).
MAX_DEPTH = 32

NUL_MESSAGE = "NUL characters are not allowed."
SURROGATE_MESSAGE = "Lone surrogates (half of a UTF-16 pair) are not allowed."


def text_problem(text: str) -> str | None:
    """Why ``text`` can't be stored or evaluated (PostgreSQL text refuses NUL; a lone surrogate
    is no Unicode character, so it has no UTF-8 and neither the database nor the rules engine
    takes it), or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def _pointer(parts: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def plain_data_problem(value: Any, max_depth: int = MAX_DEPTH) -> tuple[str, str] | None:
    """The first place where ``value`` (parsed JSON or YAML) is not plain data: ``(JSON pointer,
    message)``, or None. Refused: containers nested deeper than ``max_depth``, text with NUL or a
    lone surrogate (a key's problem is reported at the object holding it), numbers that are not
    finite. Iterative, so any depth the parser produced is walked safely."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, trail = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return _pointer(trail), problem
        elif isinstance(item, float):
            if not math.isfinite(item):
                return _pointer(trail), "Numbers must be finite."
        elif isinstance(item, dict | list):
            if len(trail) >= max_depth:
                return _pointer(trail), f"Nested deeper than {max_depth} levels."
            if isinstance(item, dict):
                for key in item:
                    problem = text_problem(key) if isinstance(key, str) else None
                    if problem:
                        return _pointer(trail), f"A key: {problem}"
                children = [(child, (*trail, key)) for key, child in item.items()]
            else:
                children = [(child, (*trail, i)) for i, child in enumerate(item)]
            stack.extend(reversed(children))
    return None


class _PlainDataLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML as plain data: no anchors or aliases (no "billion laughs": refused at the first
    anchor, before any of what it names is built), and at most ``MAX_DEPTH`` nested collections
    (refused as soon as the nesting passes it, before the composer's recursion grows)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases are not allowed", event.start_mark
            )
        if not isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load_yaml(text: str | bytes) -> Any:
    return yaml.load(text, Loader=_PlainDataLoader)  # noqa: S506 - a SafeLoader subclass


def load_document(text: str | bytes, media_type: str = "application/json") -> Any:
    """Decode a ruleset document; RulesetInvalid (path "/") when it is too big, not JSON/YAML,
    or not plain data (``plain_data_problem``: too deep, NUL or lone surrogates, NaN)."""
    kind = "YAML" if "yaml" in media_type else "JSON"
    if len(text) > MAX_DOCUMENT_BYTES:
        raise RulesetInvalid(
            [{"path": "/", "message": f"A ruleset is at most {MAX_DOCUMENT_BYTES} bytes."}]
        )
    try:
        document = _load_yaml(text) if kind == "YAML" else json.loads(text)
    except (ValueError, RecursionError, yaml.YAMLError) as error:
        raise RulesetInvalid([{"path": "/", "message": f"Not valid {kind}: {error}"}]) from None
    problem = plain_data_problem(document)
    if problem:
        pointer, message = problem
        raise RulesetInvalid([{"path": "/", "message": f"Not plain data at {pointer}: {message}"}])
    return document


def canonical_json(document: Any) -> str:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def content_hash(document: Any) -> str:
    """sha256 of the canonical JSON of a document: equal documents, equal hashes."""
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def json_diff(recorded: Any, replayed: Any, path: str = "") -> list[dict[str, Any]]:
    """Every place two JSON values differ, as ``{"path": <JSON pointer>, "recorded", "replayed"}``
    (objects compared key by key, arrays item by item; empty when they are equal)."""
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        out = []
        for key in sorted(set(recorded) | set(replayed), key=str):
            pointer = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
            out += json_diff(recorded.get(key), replayed.get(key), pointer)
        return out
    if isinstance(recorded, list) and isinstance(replayed, list) and len(recorded) == len(replayed):
        return [
            d
            for i, (a, b) in enumerate(zip(recorded, replayed, strict=True))
            for d in json_diff(a, b, f"{path}/{i}")
        ]
    if recorded == replayed and type(recorded) is type(replayed):
        return []
    return [{"path": path or "/", "recorded": recorded, "replayed": replayed}]
