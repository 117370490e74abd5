"""Ruleset documents as YAML through the API, and the worker-recycle guard of the runtime."""

from __future__ import annotations

import datetime as dt

import pytest

from app.adapters import rules_runtime
from rules.engine import RulesEngineError
from tests.support.rules import WINTER_YAML


def test_a_yaml_draft_is_stored_as_its_json_document(client, tenant_a):
    response = client.post(
        "/v1/admin/rulesets/drafts",
        headers=tenant_a.admin,
        json={"name": "yaml", "document_yaml": WINTER_YAML},
    )
    assert response.status_code == 201, response.get_json()
    stored = client.get(
        f"/v1/admin/rulesets/drafts/{response.get_json()['id']}", headers=tenant_a.admin
    )
    assert stored.get_json()["document"]["rules"][0] == {
        "id": "winter",
        "kind": "season",
        "priority": 10,
        "when": {"fact": "service_month", "op": "in", "value": [12, 1, 2]},
        "then": {"multiplier": "1.3"},
    }


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"document_yaml": "a: &x 1\nb: *x\n"}, "/json/document_yaml"),
        ({"document_yaml": "- just a list"}, "/json/document_yaml"),
        ({"document_yaml": "rules: [ {id: a"}, "/json/document_yaml"),
        ({"document_yaml": "rules: []", "document": {"rules": []}}, "/json/document_yaml"),
        ({}, "/json/document"),
    ],
)
def test_bad_yaml_is_422_and_located(client, tenant_a, body, path):
    response = client.post("/v1/admin/rulesets/validate", headers=tenant_a.admin, json=body)
    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == [path]


def test_yaml_with_rule_errors_points_into_the_document(client, tenant_a):
    bad = WINTER_YAML.replace('"1.3"', '"42"')
    response = client.post(
        "/v1/admin/rulesets/validate", headers=tenant_a.admin, json={"document_yaml": bad}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["path"] == "/rules/0/then/multiplier"


def test_the_runtime_refuses_to_compile_once_the_engine_handles_would_recycle(
    app, tenant_a, monkeypatch
):
    runtime = app.extensions["tierwise"].rules
    monkeypatch.setattr(rules_runtime, "MAX_COMPILES_PER_PROCESS", 0)
    runtime.programs.clear()
    with pytest.raises(RulesEngineError) as caught:
        runtime.evaluate(tenant_a.tenant.id, {"tier_level": 1}, dt.datetime.now(dt.UTC))
    assert caught.value.code == "engine_recycle_required"
