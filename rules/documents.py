"""Ruleset documents as text: JSON or YAML in, canonical JSON and its content hash out."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from rules.language import MAX_DOCUMENT_BYTES, RulesetInvalid


class _NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML without anchors/aliases (no "billion laughs"); plain data only."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def load_document(text: str | bytes, media_type: str = "application/json") -> Any:
    """Decode a ruleset document; RulesetInvalid (path "/") when it is too big or not JSON/YAML."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise RulesetInvalid(
            [{"path": "/", "message": f"A ruleset is at most {MAX_DOCUMENT_BYTES} bytes."}]
        )
    try:
        if "yaml" in media_type:
            return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as error:
        raise RulesetInvalid(
            [
                {
                    "path": "/",
                    "message": f"Not valid {'YAML' if 'yaml' in media_type else 'JSON'}: {error}",
                }
            ]
        ) from None


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
        return [d for i, (a, b) in enumerate(zip(recorded, replayed, strict=True))
                for d in json_diff(a, b, f"{path}/{i}")]  # fmt: skip
    if recorded == replayed and type(recorded) is type(replayed):
        return []
    return [{"path": path or "/", "recorded": recorded, "replayed": replayed}]
