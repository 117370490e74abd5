"""Admin rulesets: drafts (ETag / If-Match), validation with located errors and warnings, example
cases, simulation, publishing (now and scheduled), rollback, versions, diff and evaluation.

Every test asserts the response and re-reads what was stored through the API. Endpoints that run
the serving engine in a subprocess (``/test``, ``/publish``) take about a second each, so only a
few tests call them; the others seed versions through the use case ``publish_document``."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from rules.defaults import DEFAULT_RULESET
from rules.documents import content_hash
from tests.support.http import error_of
from tests.support.rules import default_document, hot_summer_document, publish, rule_of

R = "/v1/admin/rulesets"
ADMIN_AUTHOR = "tenant_admin:test-tenant_admin"
SUMMER_SATURDAY = {"service_date": "2027-07-10", "lead_days": 2, "tier_level": 1}


# ---- helpers ------------------------------------------------------------------------------------


def paths_of(error: dict) -> list[str]:
    return [d["path"] for d in error["details"]]


def create_draft(client, fx, document=None, name="draft", **extra) -> dict:
    body = {"name": name, **extra}
    if document is not None:
        body["document"] = document
    response = client.post(f"{R}/drafts", headers=fx.admin, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def get_draft(client, fx, draft_id: str):
    return client.get(f"{R}/drafts/{draft_id}", headers=fx.admin)


def evaluate(client, fx, facts, **extra) -> dict:
    response = client.post(f"{R}/evaluate", headers=fx.admin, json={"facts": facts, **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def active(client, fx) -> dict:
    response = client.get(f"{R}/active", headers=fx.analyst)
    assert response.status_code == 200
    return response.get_json()


def version_numbers(client, fx) -> list[int]:
    response = client.get(f"{R}/versions", headers=fx.analyst)
    assert response.status_code == 200
    return [v["number"] for v in response.get_json()]


def seed_version(app, fx, document: dict, note: str = "seeded") -> int:
    """Publish a version through the use case (no engine subprocess), active now."""
    published = publish(app, fx.tenant.id, document, note, author="seed")
    return published.version.number


# ---- drafts -------------------------------------------------------------------------------------


def test_create_draft_from_document_is_201_with_etag_and_is_stored(client, tenant_a):
    document = hot_summer_document()
    response = client.post(
        f"{R}/drafts", headers=tenant_a.admin, json={"name": "Hot summer", "document": document}
    )

    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    body = response.get_json()
    assert body["name"] == "Hot summer"
    assert body["document"] == document
    assert body["based_on_version"] is None
    assert body["created_by"] == ADMIN_AUTHOR
    assert body["version"] == 1

    stored = get_draft(client, tenant_a, body["id"])
    assert stored.status_code == 200
    assert stored.headers["ETag"] == '"1"'
    assert stored.get_json() == body
    listed = client.get(f"{R}/drafts", headers=tenant_a.admin)
    assert [d["id"] for d in listed.get_json()] == [body["id"]]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 1


def test_create_draft_from_version_copies_newest_by_default(client, app, tenant_a):
    v1 = client.get(f"{R}/versions/1", headers=tenant_a.admin).get_json()["document"]
    assert v1 == default_document()
    seed_version(app, tenant_a, hot_summer_document())

    newest = create_draft(client, tenant_a, name="copy of newest")
    assert newest["based_on_version"] == 2
    assert newest["document"] == hot_summer_document()

    first = create_draft(client, tenant_a, name="copy of v1", from_version=1)
    assert first["based_on_version"] == 1
    assert first["document"] == v1
    assert get_draft(client, tenant_a, first["id"]).get_json()["document"] == v1

    missing = client.post(
        f"{R}/drafts", headers=tenant_a.admin, json={"name": "ghost", "from_version": 9}
    )
    error_of(missing, 404, "version_not_found")
    listed = client.get(f"{R}/drafts", headers=tenant_a.admin).get_json()
    assert sorted(d["name"] for d in listed) == ["copy of newest", "copy of v1"]


def test_new_tenant_copy_is_of_version_1(client, tenant_a):
    draft = create_draft(client, tenant_a)
    assert draft["based_on_version"] == 1
    assert draft["document"] == default_document()


def test_patch_draft_needs_if_match_and_bumps_the_version(client, tenant_a):
    draft = create_draft(client, tenant_a, name="before")
    url = f"{R}/drafts/{draft['id']}"
    document = hot_summer_document()
    change = {"name": "after", "document": document}

    error_of(client.patch(url, headers=tenant_a.admin, json=change), 428, "if_match_required")
    stale = client.patch(url, headers={**tenant_a.admin, "If-Match": '"7"'}, json=change)
    error_of(stale, 412, "version_mismatch")
    unchanged = get_draft(client, tenant_a, draft["id"])
    assert unchanged.headers["ETag"] == '"1"'
    assert unchanged.get_json()["name"] == "before"
    assert unchanged.get_json()["document"] == default_document()

    ok = client.patch(url, headers={**tenant_a.admin, "If-Match": '"1"'}, json=change)
    assert ok.status_code == 200, ok.get_json()
    assert ok.headers["ETag"] == '"2"'
    assert ok.get_json()["version"] == 2
    assert ok.get_json()["name"] == "after"
    assert ok.get_json()["document"] == document
    stored = get_draft(client, tenant_a, draft["id"])
    assert stored.headers["ETag"] == '"2"'
    assert (stored.get_json()["name"], stored.get_json()["document"]) == ("after", document)

    again = client.patch(url, headers={**tenant_a.admin, "If-Match": '"1"'}, json={"name": "x"})
    error_of(again, 412, "version_mismatch")
    renamed = client.patch(url, headers={**tenant_a.admin, "If-Match": '"2"'}, json={"name": "y"})
    assert renamed.status_code == 200
    assert renamed.headers["ETag"] == '"3"'
    stored = get_draft(client, tenant_a, draft["id"]).get_json()
    assert (stored["name"], stored["version"], stored["document"]) == ("y", 3, document)


def test_invalid_document_is_422_with_pointers_into_the_document(client, tenant_a):
    invalid = {"rules": [{"id": "peak", "kind": "season", "then": {"multiplier": "lots"}}]}

    created = client.post(
        f"{R}/drafts", headers=tenant_a.admin, json={"name": "bad", "document": invalid}
    )
    error = error_of(created, 422, "ruleset_invalid")
    assert paths_of(error) == ["/rules/0/then/multiplier"]
    assert client.get(f"{R}/drafts", headers=tenant_a.admin).get_json() == []

    draft = create_draft(client, tenant_a)
    document = default_document()
    rule_of(document, "summer-peak")["then"]["multiplier"] = "11"  # above the language's 10
    rule_of(document, "weekend")["when"]["op"] = "like"
    patched = client.patch(
        f"{R}/drafts/{draft['id']}",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"document": document},
    )
    error = error_of(patched, 422, "ruleset_invalid")
    assert paths_of(error) == ["/rules/4/then/multiplier", "/rules/5/when/op"]
    assert all(d["message"] for d in error["details"])
    stored = get_draft(client, tenant_a, draft["id"])
    assert stored.headers["ETag"] == '"1"'
    assert stored.get_json()["document"] == default_document()


def test_delete_draft(client, tenant_a):
    keep = create_draft(client, tenant_a, name="keep")
    gone = create_draft(client, tenant_a, name="gone")

    response = client.delete(f"{R}/drafts/{gone['id']}", headers=tenant_a.admin)
    assert response.status_code == 204
    error_of(get_draft(client, tenant_a, gone["id"]), 404, "draft_not_found")
    error_of(
        client.delete(f"{R}/drafts/{gone['id']}", headers=tenant_a.admin), 404, "draft_not_found"
    )
    listed = client.get(f"{R}/drafts", headers=tenant_a.admin).get_json()
    assert [d["id"] for d in listed] == [keep["id"]]


def test_analyst_reads_but_cannot_write(client, tenant_a):
    draft = create_draft(client, tenant_a)
    url = f"{R}/drafts/{draft['id']}"
    h = tenant_a.analyst

    assert client.get(f"{R}/drafts", headers=h).status_code == 200
    read = client.get(url, headers=h)
    assert read.status_code == 200
    assert read.get_json()["id"] == draft["id"]
    assert client.get(f"{R}/versions", headers=h).status_code == 200
    assert client.get(f"{R}/versions/1", headers=h).status_code == 200
    assert client.get(f"{R}/active", headers=h).status_code == 200
    assert client.get(f"{R}/diff?from=1&to=1", headers=h).status_code == 200

    writes = [
        client.post(f"{R}/drafts", headers=h, json={"name": "mine"}),
        client.patch(url, headers={**h, "If-Match": '"1"'}, json={"name": "mine"}),
        client.delete(url, headers=h),
        client.post(f"{url}/publish", headers=h, json={}),
        client.post(f"{R}/versions/1/activate", headers=h),
    ]
    for response in writes:
        error_of(response, 403, "role_forbidden")

    stored = get_draft(client, tenant_a, draft["id"])
    assert (stored.headers["ETag"], stored.get_json()["name"]) == ('"1"', "draft")
    assert len(client.get(f"{R}/drafts", headers=h).get_json()) == 1
    assert version_numbers(client, tenant_a) == [1]
    assert len(active(client, tenant_a)["history"]) == 1


def test_drafts_of_another_tenant_are_404(client, tenant_a, tenant_b):
    draft = create_draft(client, tenant_a)
    url = f"{R}/drafts/{draft['id']}"
    error_of(client.get(url, headers=tenant_b.admin), 404, "draft_not_found")
    patch = client.patch(url, headers={**tenant_b.admin, "If-Match": '"1"'}, json={"name": "x"})
    error_of(patch, 404, "draft_not_found")
    error_of(client.delete(url, headers=tenant_b.admin), 404, "draft_not_found")
    simulate = client.post(f"{url}/simulate", headers=tenant_b.admin, json={"facts": [{}]})
    error_of(simulate, 404, "draft_not_found")
    assert get_draft(client, tenant_a, draft["id"]).get_json()["name"] == "draft"


# ---- validate -----------------------------------------------------------------------------------


def test_validate_locates_every_error(client, tenant_a):
    document = {
        "stacking": "random",
        "guardrails": {"min_multiplier": "3", "max_multiplier": "2"},
        "rules": [
            {"id": "peak", "kind": "season", "then": {"multiplier": "abc"}},
            {
                "id": "Bad Id",
                "kind": "last_minute",
                "then": {"percent_off": "15"},
                "when": {"fact": "moon_phase", "op": "eq", "value": 1},
            },
            {"id": "commission", "kind": "commission", "then": {"rate_percent": "10"}},
            {"id": "commission", "kind": "commission", "then": {"rate_percent": "12"}},
            {"id": "teleport", "kind": "teleport", "then": {}},
            {
                "id": "lm",
                "kind": "last_minute",
                "then": {"percent_off": "5"},
                "when": {"fact": "lead_days", "op": "between", "value": [5, 1]},
            },
            {
                "id": "deep",
                "kind": "upgrade",
                "then": {"allow": "yes", "reason": "ok"},
                "when": {"all": [{"not": {"fact": "booking_status", "op": "lt", "value": "paid"}}]},
            },
        ],
        "tests": [{"name": "t", "facts": {"lead_days": "soon"}, "expect": {"bogus": {}}}],
    }

    response = client.post(f"{R}/validate", headers=tenant_a.admin, json={"document": document})

    error = error_of(response, 422, "ruleset_invalid")
    assert sorted(paths_of(error)) == sorted(
        [
            "/stacking",
            "/guardrails/min_multiplier",
            "/rules/0/then/multiplier",
            "/rules/1/id",
            "/rules/1/when/fact",
            "/rules/3/id",
            "/rules/4/kind",
            "/rules/5/when/value",
            "/rules/6/when/all/0/not/op",
            "/rules/6/then/allow",
            "/tests/0/facts/lead_days",
            "/tests/0/expect/bogus",
        ]
    )
    duplicate = next(d for d in error["details"] if d["path"] == "/rules/3/id")
    assert "/rules/2" in duplicate["message"]

    not_an_object = client.post(f"{R}/validate", headers=tenant_a.admin, json={"document": []})
    assert paths_of(error_of(not_an_object, 422, "validation_error")) == ["/json/document"]
    missing_rules = client.post(f"{R}/validate", headers=tenant_a.admin, json={"document": {}})
    assert paths_of(error_of(missing_rules, 422, "ruleset_invalid")) == ["/rules"]


SUSPICIOUS = {
    "guardrails": {
        "min_multiplier": "0.5",
        "max_multiplier": "2",
        "max_total_discount_percent": "30",
    },
    "rules": [
        {
            "id": "commission-premium",
            "kind": "commission",
            "priority": 10,
            "when": {"fact": "tier_level", "op": "gte", "value": 2},
            "then": {"rate_percent": "10"},
        },
        {
            "id": "commission-ultimate",
            "kind": "commission",
            "priority": 10,
            "when": {"fact": "tier_level", "op": "eq", "value": 3},
            "then": {"rate_percent": "12"},
        },
        {
            "id": "never",
            "kind": "season",
            "then": {"multiplier": "1.1"},
            "when": {
                "all": [
                    {"fact": "lead_days", "op": "gt", "value": 10},
                    {"fact": "lead_days", "op": "lt", "value": 5},
                ]
            },
        },
        {
            "id": "upsell-always",
            "kind": "upsell",
            "priority": 50,
            "then": {"offer": "none", "message_key": "none"},
        },
        {
            "id": "upsell-shadowed",
            "kind": "upsell",
            "priority": 10,
            "when": {"fact": "tier_level", "op": "eq", "value": 1},
            "then": {"offer": "tier", "target_level": 2, "message_key": "upsell.preferred"},
        },
        {
            "id": "christmas",
            "kind": "season",
            "then": {"multiplier": "5"},
            "when": {"fact": "service_month", "op": "eq", "value": 12},
        },
        {"id": "fire-sale", "kind": "last_minute", "then": {"percent_off": "40"}},
    ],
}

SUSPICIOUS_WARNINGS = [
    ("unreachable", "/rules/2"),
    ("unreachable", "/rules/4"),
    ("overlap", "/rules/1"),
    ("outside_guardrails", "/rules/5/then/multiplier"),
    ("outside_guardrails", "/rules/6/then/percent_off"),
]


def test_validate_valid_but_suspicious_document_is_200_with_warnings(client, tenant_a):
    response = client.post(f"{R}/validate", headers=tenant_a.admin, json={"document": SUSPICIOUS})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["valid"], body["rule_count"]) == (True, 7)
    assert sorted((w["code"], w["path"]) for w in body["warnings"]) == sorted(SUSPICIOUS_WARNINGS)
    overlap = next(w for w in body["warnings"] if w["code"] == "overlap")
    assert "commission-premium" in overlap["message"]
    assert "commission-ultimate" in overlap["message"]
    shadowed = next(w for w in body["warnings"] if w["path"] == "/rules/4")
    assert "upsell-always" in shadowed["message"]

    # the same report for a stored draft; the default ruleset itself raises no warning
    draft = create_draft(client, tenant_a, document=SUSPICIOUS)
    of_draft = client.post(f"{R}/drafts/{draft['id']}/validate", headers=tenant_a.admin)
    assert of_draft.status_code == 200
    assert of_draft.get_json() == body
    default = create_draft(client, tenant_a)
    clean = client.post(f"{R}/drafts/{default['id']}/validate", headers=tenant_a.admin)
    assert clean.get_json() == {"valid": True, "rule_count": 11, "warnings": []}


# ---- example cases and publishing (engine subprocess) ------------------------------------------


def half_failing_document() -> dict:
    """The default with its second example case expecting the wrong upgrade decision."""
    document = default_document()
    document["tests"][1]["expect"]["upgrade"] = {"allow": True, "reason": "downgrade_after_booking"}
    return document


def test_draft_example_cases_report_passes_and_mismatches(client, tenant_a):
    draft = create_draft(client, tenant_a, document=half_failing_document())

    response = client.post(f"{R}/drafts/{draft['id']}/test", headers=tenant_a.admin)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["passed"] is False
    assert body["errors"] == []
    assert [(c["name"], c["passed"]) for c in body["cases"]] == [
        ("summer Saturday with 2 days lead", True),
        ("downgrade after booking is denied", False),
        ("upgrade is allowed", True),
        ("a higher level in another segment is not an upgrade", True),
        ("a higher level in the same segment is", True),
    ]
    assert body["cases"][0]["mismatches"] == []
    assert body["cases"][1]["mismatches"] == ["upgrade.allow: expected True, got False"]
    assert get_draft(client, tenant_a, draft["id"]).headers["ETag"] == '"1"'


def test_publish_refuses_a_draft_whose_cases_fail(client, tenant_a):
    draft = create_draft(client, tenant_a, document=half_failing_document())

    response = client.post(
        f"{R}/drafts/{draft['id']}/publish", headers=tenant_a.admin, json={"note": "nope"}
    )

    error = error_of(response, 422, "ruleset_tests_failed")
    assert paths_of(error) == ["/tests/1"]
    assert error["details"][0]["message"].startswith("downgrade after booking is denied: ")
    assert "upgrade.allow: expected True, got False" in error["details"][0]["message"]
    assert version_numbers(client, tenant_a) == [1]
    state = active(client, tenant_a)
    assert (state["active_version"], state["scheduled"], len(state["history"])) == (1, [], 1)
    assert evaluate(client, tenant_a, SUMMER_SATURDAY)["version"] == 1


def test_publish_makes_version_2_active_and_serving(client, tenant_a):
    document = hot_summer_document()
    draft = create_draft(client, tenant_a, document=document)
    before = evaluate(client, tenant_a, SUMMER_SATURDAY)
    assert (before["version"], before["decisions"]["season"]["multiplier"]) == (1, "1.32")

    response = client.post(
        f"{R}/drafts/{draft['id']}/publish", headers=tenant_a.admin, json={"note": "hotter"}
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    version, activation = body["version"], body["activation"]
    assert version["number"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", version["content_hash"])
    assert version["content_hash"] == content_hash(document)
    assert (version["author"], version["note"]) == (ADMIN_AUTHOR, "hotter")
    assert "document" not in version
    assert (activation["version_number"], activation["action"]) == (2, "publish")
    assert (activation["sequence"], activation["created_by"]) == (2, ADMIN_AUTHOR)

    stored = client.get(f"{R}/versions/2", headers=tenant_a.analyst).get_json()
    assert stored["document"] == document
    assert stored["content_hash"] == version["content_hash"]
    assert version_numbers(client, tenant_a) == [2, 1]
    state = active(client, tenant_a)
    assert state["active_version"] == 2
    assert state["scheduled"] == []
    assert [(a["sequence"], a["version_number"]) for a in state["history"]] == [(2, 2), (1, 1)]

    after = evaluate(client, tenant_a, SUMMER_SATURDAY)
    assert (after["version"], after["content_hash"]) == (2, version["content_hash"])
    assert after["decisions"]["season"]["multiplier"] == "1.65"
    assert after["decisions"]["last_minute"] == before["decisions"]["last_minute"]
    # the draft is kept as it was
    assert get_draft(client, tenant_a, draft["id"]).get_json()["document"] == document


def test_scheduled_publish_activates_at_its_time(client, tenant_a):
    draft = create_draft(client, tenant_a, document=hot_summer_document())
    activates_at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)

    response = client.post(
        f"{R}/drafts/{draft['id']}/publish",
        headers=tenant_a.admin,
        json={"activates_at": activates_at.isoformat()},
    )

    assert response.status_code == 201, response.get_json()
    activation = response.get_json()["activation"]
    assert dt.datetime.fromisoformat(activation["activates_at"]) == activates_at
    state = active(client, tenant_a)
    assert state["active_version"] == 1
    assert [(a["version_number"], a["action"]) for a in state["scheduled"]] == [(2, "publish")]
    assert dt.datetime.fromisoformat(state["scheduled"][0]["activates_at"]) == activates_at
    assert version_numbers(client, tenant_a) == [2, 1]

    now = evaluate(client, tenant_a, SUMMER_SATURDAY)
    assert (now["version"], now["decisions"]["season"]["multiplier"]) == (1, "1.32")
    just_before = evaluate(
        client, tenant_a, SUMMER_SATURDAY, at=(activates_at - dt.timedelta(seconds=1)).isoformat()
    )
    assert just_before["version"] == 1
    later = evaluate(
        client, tenant_a, SUMMER_SATURDAY, at=(activates_at + dt.timedelta(minutes=1)).isoformat()
    )
    assert (later["version"], later["decisions"]["season"]["multiplier"]) == (2, "1.65")


@pytest.mark.parametrize(
    ("activates_at", "status", "code", "path"),
    [
        ("2020-01-01T00:00:00+00:00", 422, "activation_in_past", "/json/activates_at"),
        ("2099-01-01T00:00:00", 422, "validation_error", "/json/activates_at"),  # naive
    ],
)
def test_publish_with_bad_activates_at_is_refused(
    client, tenant_a, activates_at, status, code, path
):
    draft = create_draft(client, tenant_a, document=hot_summer_document())

    response = client.post(
        f"{R}/drafts/{draft['id']}/publish",
        headers=tenant_a.admin,
        json={"activates_at": activates_at},
    )

    assert paths_of(error_of(response, status, code)) == [path]
    assert version_numbers(client, tenant_a) == [1]
    assert active(client, tenant_a)["scheduled"] == []


# ---- simulate -----------------------------------------------------------------------------------


def test_simulate_shows_draft_and_active_side_by_side(client, tenant_a):
    document = hot_summer_document()
    document["rules"].remove(rule_of(document, "last-minute-week"))
    draft = create_draft(client, tenant_a, document=document)
    fact_sets = [
        SUMMER_SATURDAY,  # season changes: 1.5 * 1.1
        {"service_date": "2027-01-13", "lead_days": 5},  # a January Wednesday: only last_minute
        {"level_delta": -1, "booking_status": "paid"},  # nothing changes
    ]

    response = client.post(
        f"{R}/drafts/{draft['id']}/simulate", headers=tenant_a.admin, json={"facts": fact_sets}
    )

    assert response.status_code == 200, response.get_json()
    summer, winter, downgrade = response.get_json()
    assert [r["facts"] for r in (summer, winter, downgrade)] == fact_sets
    assert [r["changed"] for r in (summer, winter, downgrade)] == [["season"], ["last_minute"], []]
    assert {r["active"]["version"] for r in (summer, winter, downgrade)} == {1}

    assert summer["draft"]["decisions"]["season"]["multiplier"] == "1.65"
    assert summer["active"]["decisions"]["season"]["multiplier"] == "1.32"
    assert summer["draft"]["decisions"]["season"]["rules"] == ["summer-peak", "weekend"]

    assert float(winter["active"]["decisions"]["last_minute"]["percent_off"]) == 5
    assert float(winter["draft"]["decisions"]["last_minute"]["percent_off"]) == 0
    active_considered = {r["rule_id"]: r for r in winter["active"]["considered"]}
    draft_considered = {r["rule_id"]: r for r in winter["draft"]["considered"]}
    assert "last-minute-week" not in draft_considered
    assert active_considered["last-minute-week"] == {
        "rule_id": "last-minute-week",
        "kind": "last_minute",
        "priority": 50,
        "matched": True,
        "fired": True,
        "why_not": None,
    }
    assert draft_considered["summer-peak"]["matched"] is False
    assert draft_considered["summer-peak"]["why_not"] == "service_month=1 is not in [7, 8]"
    assert draft_considered["last-minute-3-days"]["why_not"] == "lead_days=5 is not between [0, 3]"

    denied = {"allow": False, "reason": "downgrade_after_booking"}
    for side in ("draft", "active"):
        upgrade = downgrade[side]["decisions"]["upgrade"]
        assert {k: upgrade[k] for k in denied} == denied
        considered = {r["rule_id"]: r for r in downgrade[side]["considered"]}
        assert considered["no-downgrade-after-booking"]["fired"] is True
        lower = considered["downgrade-before-booking"]
        assert (lower["matched"], lower["fired"], lower["why_not"]) == (True, False, None)

    only_season = client.post(
        f"{R}/drafts/{draft['id']}/simulate",
        headers=tenant_a.admin,
        json={"facts": [SUMMER_SATURDAY], "kinds": ["season"]},
    ).get_json()[0]
    assert list(only_season["draft"]["decisions"]) == ["season"]
    assert {r["kind"] for r in only_season["active"]["considered"]} == {"season"}
    assert only_season["changed"] == ["season"]

    # a dry run: nothing was published or changed
    assert version_numbers(client, tenant_a) == [1]
    assert get_draft(client, tenant_a, draft["id"]).headers["ETag"] == '"1"'


def test_simulate_with_invalid_facts_is_422_with_pointers(client, tenant_a):
    draft = create_draft(client, tenant_a)
    response = client.post(
        f"{R}/drafts/{draft['id']}/simulate",
        headers=tenant_a.admin,
        json={"facts": [SUMMER_SATURDAY, {"lead_days": "two", "moon_phase": 3}]},
    )
    error = error_of(response, 422, "invalid_facts")
    assert paths_of(error) == ["/json/facts/1/lead_days", "/json/facts/1/moon_phase"]


# ---- rollback, versions, diff ---------------------------------------------------------------------


def test_rollback_reactivates_version_1_and_keeps_history(client, app, tenant_a, tenant_b):
    seed_version(app, tenant_a, hot_summer_document())
    assert evaluate(client, tenant_a, SUMMER_SATURDAY)["version"] == 2

    response = client.post(f"{R}/versions/1/activate", headers=tenant_a.admin)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["sequence"], body["version_number"]) == (3, 1)
    assert (body["action"], body["created_by"]) == ("rollback", ADMIN_AUTHOR)
    state = active(client, tenant_a)
    assert state["active_version"] == 1
    assert state["scheduled"] == []
    assert [(a["sequence"], a["version_number"], a["action"]) for a in state["history"]] == [
        (3, 1, "rollback"),
        (2, 2, "publish"),
        (1, 1, "publish"),
    ]
    assert version_numbers(client, tenant_a) == [2, 1]
    after = evaluate(client, tenant_a, SUMMER_SATURDAY)
    assert (after["version"], after["decisions"]["season"]["multiplier"]) == (1, "1.32")

    error_of(
        client.post(f"{R}/versions/9/activate", headers=tenant_a.admin), 404, "version_not_found"
    )
    assert len(active(client, tenant_a)["history"]) == 3

    forward = client.post(f"{R}/versions/2/activate", headers=tenant_a.admin)
    assert forward.status_code == 201
    assert (forward.get_json()["action"], forward.get_json()["cancelled_activations"]) == (
        "activate",
        [],
    )
    assert active(client, tenant_a)["active_version"] == 2
    assert (
        evaluate(client, tenant_a, SUMMER_SATURDAY)["decisions"]["season"]["multiplier"] == "1.65"
    )
    # another tenant is untouched
    assert active(client, tenant_b)["active_version"] == 1
    assert evaluate(client, tenant_b, SUMMER_SATURDAY)["version"] == 1


def test_versions_are_listed_newest_first_with_pagination(client, app, tenant_a):
    documents = {1: default_document()}
    for number in (2, 3, 4):
        document = default_document()
        rule_of(document, "summer-peak")["then"]["multiplier"] = f"1.{number}"
        assert seed_version(app, tenant_a, document, note=f"v{number}") == number
        documents[number] = document

    first = client.get(f"{R}/versions", headers=tenant_a.analyst, query_string={"page_size": 3})
    assert first.status_code == 200
    assert [v["number"] for v in first.get_json()] == [4, 3, 2]
    assert [v["note"] for v in first.get_json()] == ["v4", "v3", "v2"]
    assert all("document" not in v for v in first.get_json())
    meta = json.loads(first.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (4, 2, 1)
    second = client.get(
        f"{R}/versions", headers=tenant_a.analyst, query_string={"page": 2, "page_size": 3}
    )
    assert [v["number"] for v in second.get_json()] == [1]

    for number, document in documents.items():
        version = client.get(f"{R}/versions/{number}", headers=tenant_a.analyst).get_json()
        assert version["number"] == number
        assert version["document"] == document
        assert version["content_hash"] == content_hash(document)
    error_of(client.get(f"{R}/versions/5", headers=tenant_a.analyst), 404, "version_not_found")


def test_diff_reports_rule_and_settings_changes(client, app, tenant_a):
    document = default_document()
    document["stacking"] = "ordered_stack"
    document["guardrails"]["max_multiplier"] = "3"
    summer = rule_of(document, "summer-peak")
    summer["then"]["multiplier"] = "1.25"
    summer["description"] = "Hotter summers."
    rule_of(document, "commission-standard")["priority"] = 5
    document["rules"].remove(rule_of(document, "weekend"))
    christmas = {
        "id": "christmas",
        "kind": "season",
        "then": {"multiplier": "1.4"},
        "when": {"fact": "service_month", "op": "eq", "value": 12},
    }
    document["rules"].append(christmas)
    seed_version(app, tenant_a, document)

    response = client.get(f"{R}/diff", headers=tenant_a.analyst, query_string={"from": 1, "to": 2})

    assert response.status_code == 200, response.get_json()
    diff = response.get_json()
    old = default_document()
    assert (diff["from"], diff["to"]) == (1, 2)
    assert diff["added"] == [christmas]
    assert diff["removed"] == [rule_of(old, "weekend")]
    changed = {c["id"]: c for c in diff["changed"]}
    assert set(changed) == {"summer-peak", "commission-standard"}
    assert changed["summer-peak"]["fields"] == ["description", "then"]
    assert changed["summer-peak"]["before"] == rule_of(old, "summer-peak")
    assert changed["summer-peak"]["after"] == summer
    assert changed["commission-standard"]["fields"] == ["priority"]
    assert diff["settings"] == {
        "stacking": {"before": "best_only", "after": "ordered_stack"},
        "guardrails": {"before": old["guardrails"], "after": document["guardrails"]},
    }

    backwards = client.get(f"{R}/diff?from=2&to=1", headers=tenant_a.analyst).get_json()
    assert backwards["added"] == [rule_of(old, "weekend")]
    assert backwards["removed"] == [christmas]
    same = client.get(f"{R}/diff?from=1&to=1", headers=tenant_a.analyst).get_json()
    assert (same["added"], same["removed"], same["changed"], same["settings"]) == ([], [], [], {})
    error_of(
        client.get(f"{R}/diff?from=1&to=3", headers=tenant_a.analyst), 404, "version_not_found"
    )
    missing = client.get(f"{R}/diff?from=1", headers=tenant_a.analyst)
    assert paths_of(error_of(missing, 422, "validation_error")) == ["/query/to"]


# ---- evaluate -----------------------------------------------------------------------------------


def test_evaluate_default_ruleset_with_explanation(client, tenant_a):
    body = evaluate(client, tenant_a, SUMMER_SATURDAY)

    v1 = client.get(f"{R}/versions/1", headers=tenant_a.admin).get_json()
    assert (body["version"], body["content_hash"]) == (1, v1["content_hash"])
    decisions = body["decisions"]
    assert list(decisions) == [
        "upgrade",
        "fallback",
        "season",
        "last_minute",
        "commission",
        "upsell",
    ]
    # 2027-07-10 is a Saturday in July: month 7, ISO weekday 6
    assert decisions["season"] == {
        "multiplier": "1.32",
        "unclamped": "1.32",
        "clamped": False,
        "rules": ["summer-peak", "weekend"],
    }
    last_minute = decisions["last_minute"]
    assert float(last_minute["percent_off"]) == 15
    assert (last_minute["capped"], last_minute["rules"]) == (False, ["last-minute-3-days"])
    assert decisions["commission"] == {
        "rate_percent": "10",
        "fixed": 0,
        "min": 0,
        "max": None,
        "rules": ["commission-standard"],
    }
    assert decisions["upsell"]["offer"] == "tier"
    assert decisions["upsell"]["target_level"] == 3
    assert decisions["upgrade"] == {"allow": False, "reason": "no_matching_rule", "rules": []}
    assert [s["type"] for s in decisions["fallback"]["strategies"]] == [
        "other_tier",
        "nearby_dates",
        "other_segment",
    ]

    assert body["fired"] == [
        "fallback-default",
        "summer-peak",
        "weekend",
        "last-minute-3-days",
        "commission-standard",
        "upsell-next-tier",
    ]
    considered = {r["rule_id"]: r for r in body["considered"]}
    assert set(considered) == {r["id"] for r in DEFAULT_RULESET["rules"]}
    assert considered["last-minute-week"] == {
        "rule_id": "last-minute-week",
        "kind": "last_minute",
        "priority": 50,
        "matched": False,
        "fired": False,
        "why_not": "lead_days=2 is not between [4, 7]",
    }
    assert considered["upgrade-up"]["why_not"] == "level_delta=0 is not > 0"
    for rule in body["considered"]:
        assert rule["fired"] == (rule["rule_id"] in body["fired"])
        assert (rule["why_not"] is None) == rule["matched"]

    winter = evaluate(
        client,
        tenant_a,
        {"service_date": "2027-01-13", "lead_days": 30},
        kinds=["season", "last_minute"],
    )
    assert list(winter["decisions"]) == ["season", "last_minute"]
    assert winter["decisions"]["season"]["multiplier"] == "1"
    assert float(winter["decisions"]["last_minute"]["percent_off"]) == 0
    assert winter["fired"] == []
    assert {r["kind"] for r in winter["considered"]} == {"season", "last_minute"}

    downgrade = evaluate(client, tenant_a, {"level_delta": -1, "booking_status": "pending"})
    upgrade = downgrade["decisions"]["upgrade"]
    assert (upgrade["allow"], upgrade["reason"]) == (False, "downgrade_after_booking")
    assert "downgrade-before-booking" not in downgrade["fired"]


@pytest.mark.parametrize(
    ("facts", "path"),
    [
        ({"moon_phase": 3}, "/json/facts/moon_phase"),
        ({"lead_days": "2"}, "/json/facts/lead_days"),
        ({"service_date": "2027-02-30"}, "/json/facts/service_date"),
        ({"booking_status": "lost"}, "/json/facts/booking_status"),
    ],
)
def test_evaluate_with_invalid_facts_is_422(client, tenant_a, facts, path):
    response = client.post(f"{R}/evaluate", headers=tenant_a.admin, json={"facts": facts})
    assert paths_of(error_of(response, 422, "invalid_facts")) == [path]
