"""Rulesets valid by the language but ruinous for the engine (issue 15): the validate endpoint,
drafts and publish refuse them with one 422 naming the rule and its cost; a wide rule the engine
can take without expanding it is accepted."""

from __future__ import annotations

from typing import Any

from bench.rulesets import worst_valid
from rules.plan import MAX_RULESET_ALTERNATIVES, MAX_RULESET_BYTES
from storage.rulesets import RulesetRepository
from tests.support.http import error_of

R = "/v1/admin/rulesets"


def ruinous_rule(rule_id: str = "ruinous") -> dict[str, Any]:
    """All of 10 any-groups of 3 range comparisons and an any of 2: 32 comparisons, 12 groups,
    within the language's limits; 3¹⁰·2 = 118,098 alternatives as one engine rule."""
    groups = [
        {
            "any": [
                {"fact": "amount", "op": "gte", "value": g},
                {"fact": "guests", "op": "lt", "value": g + 1},
                {"fact": "units_left", "op": "gt", "value": g},
            ]
        }
        for g in range(10)
    ] + [
        {
            "any": [
                {"fact": "lead_days", "op": "gte", "value": 3},
                {"fact": "lead_days", "op": "gte", "value": 4},
            ]
        }
    ]
    return {"id": rule_id, "kind": "season", "when": {"all": groups}, "then": {"multiplier": "1.1"}}


def validate(client, fx, document: dict[str, Any]):
    return client.post(f"{R}/validate", headers=fx.admin, json={"document": document})


def test_the_ruinous_rule_of_issue_15_is_valid_and_cheap(client, tenant_a):
    """Compiled in parts (rules/plan.py), it costs the engine 32 alternatives, not 118,098."""
    response = validate(client, tenant_a, {"rules": [ruinous_rule(f"r{n}") for n in range(10)]})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["valid"] is True
    evaluated = client.post(
        f"{R}/evaluate", headers=tenant_a.admin, json={"facts": {"lead_days": 9}}
    )
    assert evaluated.status_code == 200


def test_validate_refuses_too_many_alternatives_naming_the_rule(client, tenant_a):
    # 32 rules of 16 alternatives each (4 parts of all(any 2, any 2)): the 32nd takes it to 512
    document = worst_valid(wide=32, flat=0, chain=0, always=0)

    error = error_of(validate(client, tenant_a, document), 422, "ruleset_invalid")

    assert [d["path"] for d in error["details"]] == ["/rules/31"]
    message = error["details"][0]["message"]
    assert message.startswith("Rule wide-031 (16 alternatives, 4 engine rules, 16 compared values)")
    assert f"512 alternatives: at most {MAX_RULESET_ALTERNATIVES}" in message
    assert validate(client, tenant_a, worst_valid(31, 0, 0, 0)).status_code == 200


def test_validate_refuses_too_much_memory_naming_the_rule(client, tenant_a):
    # rules of 32 chained range tests: the most engine nodes per rule
    document = worst_valid(wide=0, flat=0, chain=40, always=0)

    error = error_of(validate(client, tenant_a, document), 422, "ruleset_invalid")

    [detail] = error["details"]
    index = int(detail["path"].rsplit("/", 1)[1])
    assert 20 < index < 40
    assert detail["message"].startswith(
        f"Rule chain-{index:03d} (1 alternative, 1 engine rule, 32 compared values) takes the "
        "compiled ruleset to about "
    )
    assert detail["message"].endswith(f"of memory: at most {MAX_RULESET_BYTES // 1024:,} KiB.")
    fits = worst_valid(wide=0, flat=0, chain=index, always=0)
    assert validate(client, tenant_a, fits).status_code == 200


def test_drafts_refuse_them_too(client, tenant_a):
    document = worst_valid(wide=32, flat=0, chain=0, always=0)
    created = client.post(
        f"{R}/drafts", headers=tenant_a.admin, json={"name": "ruinous", "document": document}
    )
    assert error_of(created, 422, "ruleset_invalid")["details"][0]["path"] == "/rules/31"


def test_publish_refuses_a_stored_draft_past_the_limits(app, client, db, tenant_a):
    """A draft saved before the limits existed is refused at publish, before the engine runs."""
    document = worst_valid(wide=32, flat=0, chain=0, always=0)
    with db.transaction() as session:
        draft = RulesetRepository(session, tenant_a.tenant.id).create_draft(
            name="legacy", document=document, based_on_version=None, created_by="test"
        )

    response = client.post(f"{R}/drafts/{draft.id}/publish", headers=tenant_a.admin, json={})

    error = error_of(response, 422, "ruleset_invalid")
    assert [d["path"] for d in error["details"]] == ["/rules/31"]
    assert "Rule wide-031 (16 alternatives" in error["details"][0]["message"]
    versions = client.get(f"{R}/versions", headers=tenant_a.analyst).get_json()
    assert [v["number"] for v in versions] == [1]
    # running its example cases (on the engine, in a child process) says the same
    tested = client.post(f"{R}/drafts/{draft.id}/test", headers=tenant_a.admin)
    assert tested.status_code == 200
    assert tested.get_json()["passed"] is False
    assert [e["path"] for e in tested.get_json()["errors"]] == ["/rules/31"]
