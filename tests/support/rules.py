"""Ruleset documents for tests, variants of the default one, and publishing them: through the use
case (no HTTP, no engine subprocess) or as an admin through the API (a draft, then its publish)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from app.services import rulesets
from rules.defaults import DEFAULT_RULESET

RULESETS = "/v1/admin/rulesets"

#: the default rules refuse a move down after booking; this rule allows it
DOWNGRADE_ANYTIME = {
    "id": "downgrade-anytime",
    "kind": "upgrade",
    "priority": 500,
    "when": {"fact": "level_delta", "op": "lt", "value": 0},
    "then": {"allow": True, "reason": "downgrade_allowed"},
}

#: a ruleset document in YAML: one season rule, winter × 1.3
WINTER_YAML = """
stacking: best_only
rules:
  - id: winter
    kind: season
    priority: 10
    when: {fact: service_month, op: in, value: [12, 1, 2]}
    then: {multiplier: "1.3"}
"""


def leaf(fact: str, op: str, value: Any) -> dict[str, Any]:
    """A condition on one fact, as a ruleset document writes it."""
    return {"fact": fact, "op": op, "value": value}


def default_document(*rules: dict[str, Any], examples: bool = True) -> dict[str, Any]:
    """The default ruleset as stored (plain JSON, a copy), with ``rules`` appended; without its
    example cases (``tests``) unless ``examples``: rules that change what they expect would fail
    them."""
    document = json.loads(json.dumps(DEFAULT_RULESET))
    document["rules"].extend(json.loads(json.dumps(rules)))
    if not examples:
        document.pop("tests")
    return document


def rule_of(document: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in document["rules"] if r["id"] == rule_id)


def summer_document(multiplier: str) -> dict[str, Any]:
    """The default ruleset with another summer multiplier (its example case updated: × 1.1)."""
    document = default_document()
    rule_of(document, "summer-peak")["then"]["multiplier"] = multiplier
    expected = str(Decimal("1.1") * Decimal(multiplier))
    document["tests"][0]["expect"]["season"]["multiplier"] = expected
    return document


def hot_summer_document() -> dict[str, Any]:
    """The default with a 1.5 summer multiplier (and its example case updated: 1.5 * 1.1)."""
    return summer_document("1.5")


def publish(
    app,
    tenant_id: str,
    document: dict[str, Any],
    note: str = "",
    activates_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    author: str = "test",
) -> rulesets.Published:
    """Publish a version through the use case, announced to the app's rules runtime: active now,
    or from ``activates_at``."""
    svc = app.extensions["tierwise"]
    return rulesets.publish_document(
        svc.db, svc.rules, tenant_id, document, author, note, activates_at, now
    )


def publish_draft(client, tenant, document: dict[str, Any], name: str = "next", **body) -> dict:
    """Create a draft of ``document`` and publish it (``body``: the publish request's, e.g. a
    note or ``activates_at``), as the tenant's admin: the publish's 201 body."""
    draft = client.post(
        f"{RULESETS}/drafts", headers=tenant.admin, json={"name": name, "document": document}
    )
    assert draft.status_code == 201, draft.get_json()
    response = client.post(
        f"{RULESETS}/drafts/{draft.get_json()['id']}/publish", headers=tenant.admin, json=body
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()
