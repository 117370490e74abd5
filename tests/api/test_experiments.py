"""Upsell experiments through the HTTP API on PostgreSQL: design and validation, roles and tenancy,
the lifecycle and its revisions, edits (If-Match, bucket versions, locked variants), assignment of
storefront visitors in offers (GrowthBook hash v2, sticky, paused/stopped, targeting, namespaces),
rules conditioned on the variant, quotes pinned under a variant, and results without data.

Expected variants are computed independently with ``pricing.experiment_design`` (the experiment as
the API returns it, read by ``storage.experiments.from_record``), never read back from the service.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from app import create_app
from pricing.experiments import hash_v1, hash_v2
from rules.defaults import DEFAULT_RULESET
from storage import models as m
from storage.experiments import from_record
from tests.support import storefront
from tests.support.dates import weekday_ahead
from tests.support.http import error_of, ok
from tests.support.rules import default_document, publish, publish_draft
from tests.support.storefront import by_level

E = "/v1/admin/experiments"
ACTOR = "tenant_admin:test-tenant_admin"
CONTROL_B = [
    {"key": "control", "name": "Control", "weight": "0.5", "control": True},
    {"key": "b", "name": "Ten percent off", "weight": "0.5"},
]
ACTIONS = ("start", "pause", "resume", "stop")


# ---- helpers ------------------------------------------------------------------------------------


def design(key: str = "upsell-copy", **over) -> dict:
    return {
        "key": key,
        "name": "Upsell copy",
        "hypothesis": "A discount sells more Ultimate.",
        "primary_metric": "upsell_acceptance",
        "variants": CONTROL_B,
        **over,
    }


def create(client, fx, key: str = "upsell-copy", **over) -> dict:
    return ok(client.post(E, headers=fx.admin, json=design(key, **over)), 201)


def act(client, fx, experiment: dict, action: str):
    return client.post(f"{E}/{experiment['id']}/{action}", headers=fx.admin)


def running(client, fx, key: str = "upsell-copy", **over) -> dict:
    """A created and started experiment."""
    return ok(act(client, fx, create(client, fx, key, **over), "start"))


def patch(client, fx, experiment: dict, changes: dict, version: int | None = None):
    version = experiment["version"] if version is None else version
    return client.patch(
        f"{E}/{experiment['id']}", headers={**fx.admin, "If-Match": f'"{version}"'}, json=changes
    )


def ok_patch(client, fx, experiment: dict, changes: dict) -> dict:
    return ok(patch(client, fx, experiment, changes))


def read(client, fx, experiment: dict) -> dict:
    return ok(client.get(f"{E}/{experiment['id']}", headers=fx.admin))


def listed(client, fx) -> list[dict]:
    return ok(client.get(E, headers=fx.admin))


def revisions(client, fx, experiment: dict) -> list[dict]:
    return ok(client.get(f"{E}/{experiment['id']}/revisions", headers=fx.admin))


def get_offers(client, fx, visitor: str = "", day: dt.date | None = None, segment: str = ""):
    """The offers (of the tenant's segment unless ``segment``) a visitor, if named, is shown on
    ``day`` (by default a plain weekday ahead); the response."""
    query = {"visitor_id": visitor} if visitor else {}
    return storefront.get_offers(client, fx, day or weekday_ahead(), segment=segment, **query)


def offers(client, fx, visitor: str = "", day: dt.date | None = None, segment: str = "") -> dict:
    return ok(get_offers(client, fx, visitor, day, segment))


def decision(client, fx, decision_id: str) -> dict:
    return ok(client.get(f"/v1/admin/decisions/{decision_id}", headers=fx.admin))


def assignments(db, experiment: dict) -> list[tuple[str, int, str]]:
    """(visitor, bucket version, variant) rows stored for the experiment."""
    with db.transaction() as s:
        rows = s.execute(
            select(
                m.ExperimentAssignment.visitor_id,
                m.ExperimentAssignment.bucket_version,
                m.ExperimentAssignment.variant,
            )
            .where(m.ExperimentAssignment.experiment_id == uuid.UUID(experiment["id"]))
            .order_by(m.ExperimentAssignment.visitor_id, m.ExperimentAssignment.bucket_version)
        )
        return [tuple(row) for row in rows]


def visitor_where(seed: str, wanted: Callable[[float], bool], prefix: str = "visitor") -> str:
    """The first visitor id whose GrowthBook hash v2 under ``seed`` satisfies ``wanted``."""
    for i in range(10_000):
        visitor = f"{prefix}-{i}"
        if wanted(hash_v2(seed, visitor)):
            return visitor
    raise AssertionError("no such visitor")


def visitor_in(experiment: dict, variant: str | None, prefix: str = "visitor") -> str:
    """The first visitor id the experiment's design buckets into ``variant`` (None: excluded)."""
    design = from_record(experiment)
    for i in range(10_000):
        visitor = f"{prefix}-{i}"
        if design.bucket(visitor) == variant:
            return visitor
    raise AssertionError("no such visitor")


def parse(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


# ---- creating -----------------------------------------------------------------------------------


def test_create_is_a_draft_with_defaults_and_an_etag(client, tenant_a):
    response = client.post(E, headers=tenant_a.admin, json=design())

    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"1"'
    body = response.get_json()
    assert uuid.UUID(body["id"])
    assert {
        k: body[k]
        for k in (
            "key",
            "name",
            "status",
            "seed",
            "hash_version",
            "coverage",
            "bucket_version",
            "primary_metric",
            "guardrail_metrics",
            "namespace",
            "started_at",
            "stopped_at",
            "created_by",
            "version",
        )
    } == {
        "key": "upsell-copy",
        "name": "Upsell copy",
        "status": "draft",
        "seed": "upsell-copy",
        "hash_version": 2,
        "coverage": "1",
        "bucket_version": 1,
        "primary_metric": "upsell_acceptance",
        "guardrail_metrics": [],
        "namespace": None,
        "started_at": None,
        "stopped_at": None,
        "created_by": ACTOR,
        "version": 1,
    }
    assert body["hypothesis"] == "A discount sells more Ultimate."
    assert body["variants"] == [
        {"key": "control", "name": "Control", "weight": "0.5", "control": True},
        {"key": "b", "name": "Ten percent off", "weight": "0.5", "control": False},
    ]
    assert body["targeting"] == {"segments": [], "tiers": [], "date_from": None, "date_to": None}

    stored = client.get(f"{E}/{body['id']}", headers=tenant_a.admin)
    assert stored.status_code == 200
    assert stored.headers["ETag"] == '"1"'
    assert stored.get_json() == body
    assert listed(client, tenant_a) == [body]
    only_drafts = client.get(E, headers=tenant_a.admin, query_string={"status": "draft"})
    assert [e["id"] for e in only_drafts.get_json()] == [body["id"]]
    assert json.loads(only_drafts.headers["X-Pagination"])["total"] == 1
    assert (
        client.get(E, headers=tenant_a.admin, query_string={"status": "running"}).get_json() == []
    )


def test_create_keeps_an_explicit_seed_targeting_namespace_and_guardrails(client, tenant_a):
    fx = tenant_a
    body = create(
        client,
        fx,
        "with-everything",
        seed="my-seed",
        coverage="0.25",
        targeting={
            "segments": [fx.segment.key],
            "tiers": [fx.tiers[0].id],
            "date_from": "2031-02-01",
            "date_to": "2031-02-28",
        },
        namespace={"id": "upsells", "start": "0", "end": "0.5"},
        primary_metric="revenue_per_visitor",
        guardrail_metrics=["booking_conversion"],
    )
    assert (body["seed"], body["coverage"]) == ("my-seed", "0.25")
    assert body["targeting"] == {
        "segments": [fx.segment.key],
        "tiers": [fx.tiers[0].id],
        "date_from": "2031-02-01",
        "date_to": "2031-02-28",
    }
    assert body["namespace"] == {"id": "upsells", "start": "0", "end": "0.5"}
    assert (body["primary_metric"], body["guardrail_metrics"]) == (
        "revenue_per_visitor",
        ["booking_conversion"],
    )


BAD_DESIGNS = {
    "weights sum to 0.9": (
        {"variants": [{**CONTROL_B[0]}, {**CONTROL_B[1], "weight": "0.4"}]},
        "experiment_invalid",
        "/json/variants",
        "they sum to 0.9",
    ),
    "weights sum to 1.2": (
        {"variants": [{**CONTROL_B[0], "weight": "0.7"}, {**CONTROL_B[1]}]},
        "experiment_invalid",
        "/json/variants",
        "they sum to 1.2",
    ),
    "one variant": (
        {"variants": [{"key": "control", "weight": "1", "control": True}]},
        "validation_error",
        "/json/variants",
        "",
    ),
    "duplicate keys": (
        {"variants": [CONTROL_B[0], {**CONTROL_B[1], "key": "control"}]},
        "experiment_invalid",
        "/json/variants/1/key",
        "Duplicate",
    ),
    "two controls": (
        {"variants": [CONTROL_B[0], {**CONTROL_B[1], "control": True}]},
        "experiment_invalid",
        "/json/variants",
        "one control",
    ),
    "coverage above 1": ({"coverage": "1.5"}, "validation_error", "/json/coverage", ""),
    "namespace start = end": (
        {"namespace": {"id": "ns", "start": "0.5", "end": "0.5"}},
        "experiment_invalid",
        "/json/namespace",
        "start < end",
    ),
    "namespace start > end": (
        {"namespace": {"id": "ns", "start": "0.6", "end": "0.2"}},
        "experiment_invalid",
        "/json/namespace",
        "start < end",
    ),
    "unknown segment": (
        {"targeting": {"segments": ["no-such-segment"]}},
        "unknown_target",
        "/json/targeting/segments/0",
        "no-such-segment",
    ),
    "unknown tier": (
        {"targeting": {"tiers": [str(uuid.uuid4())]}},
        "unknown_target",
        "/json/targeting/tiers/0",
        "",
    ),
    "bad primary metric": (
        {"primary_metric": "clicks"},
        "validation_error",
        "/json/primary_metric",
        "",
    ),
    "bad guardrail metric": (
        {"guardrail_metrics": ["clicks"]},
        "validation_error",
        "/json/guardrail_metrics/0",
        "",
    ),
    "date_to before date_from": (
        {"targeting": {"date_from": "2031-02-02", "date_to": "2031-02-01"}},
        "validation_error",
        "/json/targeting/date_to",
        "",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DESIGNS))
def test_bad_designs_are_422_and_store_nothing(client, tenant_a, case):
    changes, code, path, message = BAD_DESIGNS[case]
    response = client.post(E, headers=tenant_a.admin, json=design(**changes))
    error = error_of(response, 422, code)
    located = [d for d in error["details"] if d["path"] == path]
    assert located, error
    assert message in located[0]["message"], error
    assert listed(client, tenant_a) == []


def test_another_tenants_tier_is_an_unknown_target(client, tenant_a, tenant_b):
    for targeting in (
        {"tiers": [tenant_b.tiers[0].id]},
        {"segments": [tenant_b.segment.key]},
    ):
        response = client.post(E, headers=tenant_a.admin, json=design(targeting=targeting))
        error = error_of(response, 422, "unknown_target")
        assert [d["path"] for d in error["details"]] in (
            ["/json/targeting/tiers/0"],
            ["/json/targeting/segments/0"],
        )
    assert listed(client, tenant_a) == []
    # B's own tier is fine for B.
    create(client, tenant_b, targeting={"tiers": [tenant_b.tiers[0].id]})


def test_duplicate_key_is_409_per_tenant(client, tenant_a, tenant_b):
    first = create(client, tenant_a)
    response = client.post(E, headers=tenant_a.admin, json=design(name="Again"))
    error = error_of(response, 409, "experiment_key_taken")
    assert "upsell-copy" in error["message"]
    assert listed(client, tenant_a) == [first]
    # Keys are per tenant.
    assert create(client, tenant_b)["key"] == "upsell-copy"


# ---- roles and tenancy --------------------------------------------------------------------------


def test_analysts_read_but_do_not_write(client, tenant_a):
    fx = tenant_a
    experiment = create(client, fx)
    h = fx.analyst
    base = f"{E}/{experiment['id']}"
    for path in (E, base, f"{base}/revisions", f"{base}/results"):
        assert client.get(path, headers=h).status_code == 200, path
    refused = [
        client.post(E, headers=h, json=design("analyst-made")),
        client.patch(base, headers={**h, "If-Match": '"1"'}, json={"name": "Analyst"}),
        *(client.post(f"{base}/{action}", headers=h) for action in ACTIONS),
    ]
    for response in refused:
        error_of(response, 403, "role_forbidden")
    assert read(client, fx, experiment) == experiment
    assert [r["action"] for r in revisions(client, fx, experiment)] == ["create"]


def test_storefront_keys_and_anonymous_callers_cannot_reach_admin_routes(client, tenant_a):
    experiment = create(client, tenant_a)
    base = f"{E}/{experiment['id']}"
    calls = [
        ("GET", E),
        ("POST", E),
        ("GET", base),
        ("PATCH", base),
        ("GET", f"{base}/revisions"),
        ("GET", f"{base}/results"),
        *(("POST", f"{base}/{a}") for a in ACTIONS),
    ]
    for method, path in calls:
        with_key = client.open(path, method=method, headers=tenant_a.storefront, json={})
        error_of(with_key, 403, "storefront_key_on_admin")
        assert client.open(path, method=method, json={}).status_code == 401, (method, path)
    assert read(client, tenant_a, experiment)["status"] == "draft"


def test_another_tenants_experiment_is_404_everywhere(client, tenant_a, tenant_b):
    theirs = running(client, tenant_b)
    base = f"{E}/{theirs['id']}"
    h = tenant_a.admin
    calls = [
        client.get(base, headers=h),
        client.patch(
            base, headers={**h, "If-Match": f'"{theirs["version"]}"'}, json={"name": "Hijacked"}
        ),
        client.get(f"{base}/revisions", headers=h),
        client.get(f"{base}/results", headers=h),
        *(client.post(f"{base}/{action}", headers=h) for action in ACTIONS),
        client.get(f"{E}/{uuid.uuid4()}", headers=h),
    ]
    for response in calls:
        error_of(response, 404, "experiment_not_found")
    assert listed(client, tenant_a) == []
    assert read(client, tenant_b, theirs) == theirs
    assert [r["action"] for r in revisions(client, tenant_b, theirs)] == ["create", "start"]
    # B's running experiment does not touch A's visitors.
    assert offers(client, tenant_a, "visitor-1")["experiment"] is None


# ---- lifecycle ----------------------------------------------------------------------------------


def test_start_needs_a_control(client, tenant_a):
    no_control = [{**v, "control": False} for v in CONTROL_B]
    experiment = create(client, tenant_a, variants=no_control)
    error = error_of(act(client, tenant_a, experiment, "start"), 422, "experiment_not_startable")
    assert [d["path"] for d in error["details"]] == ["/variants"]
    assert read(client, tenant_a, experiment)["status"] == "draft"
    assert [r["action"] for r in revisions(client, tenant_a, experiment)] == ["create"]


def test_start_needs_coverage(client, tenant_a):
    experiment = create(client, tenant_a, coverage="0")
    error = error_of(act(client, tenant_a, experiment, "start"), 422, "experiment_not_startable")
    assert [d["path"] for d in error["details"]] == ["/coverage"]


def test_lifecycle_and_its_revisions(client, tenant_a):
    fx = tenant_a
    experiment = create(client, fx)

    error_of(act(client, fx, experiment, "resume"), 409, "invalid_transition")
    error_of(act(client, fx, experiment, "pause"), 409, "invalid_transition")
    error_of(act(client, fx, experiment, "stop"), 409, "invalid_transition")

    started = act(client, fx, experiment, "start")
    assert started.status_code == 200, started.get_json()
    assert started.headers["ETag"] == '"2"'
    started = started.get_json()
    assert (started["status"], started["version"]) == ("running", 2)
    assert parse(started["started_at"]) is not None and started["stopped_at"] is None
    error_of(act(client, fx, experiment, "start"), 409, "invalid_transition")
    error_of(act(client, fx, experiment, "resume"), 409, "invalid_transition")

    paused = act(client, fx, experiment, "pause").get_json()
    assert paused["status"] == "paused"
    error_of(act(client, fx, experiment, "pause"), 409, "invalid_transition")
    error_of(act(client, fx, experiment, "start"), 409, "invalid_transition")
    assert act(client, fx, experiment, "resume").get_json()["status"] == "running"
    assert act(client, fx, experiment, "pause").get_json()["status"] == "paused"

    stopped = act(client, fx, experiment, "stop").get_json()  # a paused experiment may stop
    assert stopped["status"] == "stopped"
    assert parse(stopped["stopped_at"]) >= parse(stopped["started_at"])
    assert stopped["started_at"] == started["started_at"]
    for action in ACTIONS:
        error = error_of(act(client, fx, experiment, action), 409, "invalid_transition")
        assert "stopped" in error["message"]
    assert read(client, fx, experiment) == stopped
    assert stopped["version"] == 6

    history = revisions(client, fx, experiment)
    assert [(r["sequence"], r["action"], r["actor"], r["bucket_version"]) for r in history] == [
        (1, "create", ACTOR, 1),
        (2, "start", ACTOR, 1),
        (3, "pause", ACTOR, 1),
        (4, "resume", ACTOR, 1),
        (5, "pause", ACTOR, 1),
        (6, "stop", ACTOR, 1),
    ]
    create_changes = history[0]["changes"]
    assert set(create_changes) == {
        "key",
        "name",
        "hypothesis",
        "coverage",
        "variants",
        "targeting",
        "namespace",
        "primary_metric",
        "guardrail_metrics",
    }
    assert create_changes["key"] == [None, "upsell-copy"]
    assert create_changes["variants"] == [None, experiment["variants"]]
    assert set(history[1]["changes"]) == {"status", "started_at"}
    assert history[1]["changes"]["status"] == ["draft", "running"]
    before, after = history[1]["changes"]["started_at"]
    assert before is None and parse(after) == parse(started["started_at"])
    assert [r["changes"] for r in history[2:5]] == [
        {"status": ["running", "paused"]},
        {"status": ["paused", "running"]},
        {"status": ["running", "paused"]},
    ]
    assert history[5]["changes"]["status"] == ["paused", "stopped"]
    before, after = history[5]["changes"]["stopped_at"]
    assert before is None and parse(after) == parse(stopped["stopped_at"])
    assert all(parse(r["created_at"]) for r in history)


def test_a_running_experiment_may_stop_directly(client, tenant_a):
    experiment = running(client, tenant_a)
    stopped = act(client, tenant_a, experiment, "stop")
    assert stopped.status_code == 200
    assert stopped.get_json()["status"] == "stopped"


# ---- editing ------------------------------------------------------------------------------------


def test_patch_needs_a_current_if_match(client, tenant_a):
    fx = tenant_a
    experiment = create(client, fx)
    url = f"{E}/{experiment['id']}"
    error_of(client.patch(url, headers=fx.admin, json={"name": "X"}), 428, "if_match_required")
    stale = client.patch(url, headers={**fx.admin, "If-Match": '"7"'}, json={"name": "X"})
    error_of(stale, 412, "version_mismatch")
    assert read(client, fx, experiment) == experiment

    response = patch(client, fx, experiment, {"name": "Renamed", "hypothesis": "Better."})
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == '"2"'
    changed = response.get_json()
    assert (changed["name"], changed["hypothesis"], changed["version"]) == ("Renamed", "Better.", 2)
    # The first ETag is stale now.
    error_of(patch(client, fx, experiment, {"name": "Again"}, version=1), 412, "version_mismatch")
    last = revisions(client, fx, experiment)[-1]
    assert (last["action"], last["actor"], last["changes"]) == (
        "update",
        ACTOR,
        {
            "name": ["Upsell copy", "Renamed"],
            "hypothesis": ["A discount sells more Ultimate.", "Better."],
        },
    )


def test_a_draft_may_change_anything(client, tenant_a):
    fx = tenant_a
    experiment = create(client, fx)
    variants = [
        {"key": "a", "weight": "0.2"},
        {"key": "z", "weight": "0.3", "control": True},
        {"key": "y", "weight": "0.5"},
    ]
    changed = ok_patch(client, fx, experiment, {"variants": variants, "coverage": "0.5"})
    assert [(v["key"], v["weight"], v["control"]) for v in changed["variants"]] == [
        ("a", "0.2", False),
        ("z", "0.3", True),
        ("y", "0.5", False),
    ]
    assert (changed["coverage"], changed["bucket_version"]) == ("0.5", 1)


def test_patch_refuses_a_bad_design_and_changes_nothing(client, tenant_a):
    fx = tenant_a
    experiment = create(client, fx)
    bad = [{**CONTROL_B[0], "weight": "0.3"}, CONTROL_B[1]]
    error = error_of(patch(client, fx, experiment, {"variants": bad}), 422, "experiment_invalid")
    assert "0.8" in error["details"][0]["message"]
    error_of(
        patch(client, fx, experiment, {"targeting": {"segments": ["nope"]}}), 422, "unknown_target"
    )
    assert read(client, fx, experiment) == experiment


def test_running_weights_change_only_with_a_bucket_version_bump(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    uneven = [{**CONTROL_B[0], "weight": "0.2"}, {**CONTROL_B[1], "weight": "0.8"}]

    error = error_of(
        patch(client, fx, experiment, {"variants": uneven}), 422, "bucket_version_required"
    )
    assert [d["path"] for d in error["details"]] == ["/json/bump_bucket_version"]
    assert read(client, fx, experiment) == experiment

    bumped = ok_patch(client, fx, experiment, {"variants": uneven, "bump_bucket_version": True})
    assert (bumped["bucket_version"], bumped["status"]) == (2, "running")
    assert [v["weight"] for v in bumped["variants"]] == ["0.2", "0.8"]
    last = revisions(client, fx, experiment)[-1]
    assert (last["action"], last["bucket_version"]) == ("update", 2)
    assert last["changes"]["bucket_version"] == [1, 2]
    assert [[v["weight"] for v in side] for side in last["changes"]["variants"]] == [
        ["0.5", "0.5"],
        ["0.2", "0.8"],
    ]
    # Same weights again: nothing to re-bucket, no bump needed; names may change.
    renamed = [{**uneven[0], "name": "Baseline"}, uneven[1]]
    same = ok_patch(client, fx, bumped, {"variants": renamed})
    assert (same["bucket_version"], same["variants"][0]["name"]) == (2, "Baseline")


@pytest.mark.parametrize("status", ["running", "paused"])
def test_variant_keys_and_control_are_locked_once_started(client, tenant_a, status):
    fx = tenant_a
    experiment = running(client, fx)
    if status == "paused":
        experiment = act(client, fx, experiment, "pause").get_json()
    for variants in (
        [CONTROL_B[0], {**CONTROL_B[1], "key": "c"}],  # renamed key
        [{**CONTROL_B[0], "control": False}, {**CONTROL_B[1], "control": True}],  # moved control
        [CONTROL_B[1], CONTROL_B[0]],  # reordered
        [{**CONTROL_B[0], "weight": "0.4"}, CONTROL_B[1], {"key": "c", "weight": "0.1"}],  # added
    ):
        for bump in (False, True):
            response = patch(
                client, fx, experiment, {"variants": variants, "bump_bucket_version": bump}
            )
            error = error_of(response, 422, "variants_locked")
            assert [d["path"] for d in error["details"]] == ["/json/variants"]
    assert read(client, fx, experiment) == experiment
    # Other fields still change.
    assert ok_patch(client, fx, experiment, {"coverage": "0.5"})["coverage"] == "0.5"


def test_a_stopped_experiment_is_read_only(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    stopped = act(client, fx, experiment, "stop").get_json()
    error_of(patch(client, fx, stopped, {"name": "Later"}), 409, "experiment_stopped")
    assert read(client, fx, stopped) == stopped


# ---- results ------------------------------------------------------------------------------------


def test_results_without_data_are_zeros(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx, guardrail_metrics=["revenue_per_visitor"])
    response = client.get(f"{E}/{experiment['id']}/results", headers=fx.analyst)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {
        k: body[k]
        for k in ("experiment_id", "key", "status", "bucket_version", "currency", "primary_metric")
    } == {
        "experiment_id": experiment["id"],
        "key": "upsell-copy",
        "status": "running",
        "bucket_version": 1,
        "currency": "EUR",
        "primary_metric": "upsell_acceptance",
    }
    control, b = body["variants"]
    assert (control["key"], control["control"], control["vs_control"]) == ("control", True, None)
    for row in (control, b):
        counts = [
            row[k]
            for k in (
                "assigned",
                "exposed",
                "accepted",
                "declined",
                "booked",
                "bookings",
                "revenue",
                "revenue_squares",
                "conversions",
            )
        ]
        assert counts == [0] * 9
        assert (row["rate"], row["revenue_per_exposure"]) == (0.0, 0.0)
    comparison = b["vs_control"]
    assert (comparison["absolute"], comparison["p_value"], comparison["z"]) == (None, 1.0, 0.0)
    assert (comparison["absolute_reason"], comparison["relative_reason"]) == ("no_visitors",) * 2
    assert comparison["chance_to_beat_control"] == 0.5
    assert comparison["status"] == "collecting_data"
    assert comparison["test"] == "two_proportion_z"
    [guardrail] = body["guardrails"]
    assert guardrail["metric"] == "revenue_per_visitor"
    assert [(r["key"], r["value"], r["worse"]) for r in guardrail["variants"]] == [
        ("control", 0.0, False),
        ("b", 0.0, False),
    ]
    assert guardrail["variants"][1]["vs_control"]["test"] == "welch_t"
    assert body["srm"] == {
        "observed": [0, 0],
        "expected_shares": ["0.5", "0.5"],
        "chi2": 0.0,
        "p_value": 1.0,
        "mismatch": False,
        "assigned": {"observed": [0, 0], "chi2": 0.0, "p_value": 1.0, "mismatch": False},
    }
    # A draft has results too (all zeros).
    draft = create(client, fx, "still-a-draft")
    assert client.get(f"{E}/{draft['id']}/results", headers=fx.admin).status_code == 200


def test_results_of_an_unknown_bucket_version_are_422(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    url = f"{E}/{experiment['id']}/results"
    error = error_of(
        client.get(f"{url}?bucket_version=99", headers=fx.admin), 422, "unknown_bucket_version"
    )
    assert [d["path"] for d in error["details"]] == ["/query/bucket_version"]
    error_of(client.get(f"{url}?bucket_version=2", headers=fx.admin), 422, "unknown_bucket_version")
    error_of(client.get(f"{url}?bucket_version=0", headers=fx.admin), 422, "validation_error")
    assert client.get(f"{url}?bucket_version=1", headers=fx.admin).status_code == 200


def test_results_count_assigned_and_exposed_visitors_per_bucket_version(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    in_control = visitor_in(experiment, "control", "rc")
    in_b = visitor_in(experiment, "b", "rb")
    other_b = visitor_in(experiment, "b", "rb2")
    for visitor in (in_control, in_b, other_b):
        offers(client, fx, visitor)

    def event(n: int, kind: str, visitor: str) -> dict:
        return {
            "client_event_id": f"e{n}",
            "type": kind,
            "visitor_id": visitor,
            "experiment": "upsell-copy",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        }

    events = [
        event(1, "upsell_shown", in_control),
        event(2, "upsell_shown", in_b),
        event(3, "upsell_accepted", in_b),
        event(4, "upsell_shown", in_b),  # counted once
        event(5, "upsell_declined", in_control),
    ]
    sent = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": events})
    assert sent.status_code == 202, sent.get_json()

    body = client.get(f"{E}/{experiment['id']}/results", headers=fx.admin).get_json()
    rows = {r["key"]: r for r in body["variants"]}
    assert [rows["control"][k] for k in ("assigned", "exposed", "accepted", "declined")] == [
        1,
        1,
        0,
        1,
    ]
    assert [rows["b"][k] for k in ("assigned", "exposed", "accepted", "declined")] == [2, 1, 1, 0]
    assert (rows["control"]["rate"], rows["b"]["rate"]) == (0.0, 1.0)
    assert body["srm"]["observed"] == [1, 1]

    # After a bump the new bucket version starts empty; version 1 is still readable.
    uneven = [{**CONTROL_B[0], "weight": "0.4"}, {**CONTROL_B[1], "weight": "0.6"}]
    ok_patch(client, fx, experiment, {"variants": uneven, "bump_bucket_version": True})
    current = client.get(f"{E}/{experiment['id']}/results", headers=fx.admin).get_json()
    assert current["bucket_version"] == 2
    assert [r["assigned"] for r in current["variants"]] == [0, 0]
    first = client.get(
        f"{E}/{experiment['id']}/results?bucket_version=1", headers=fx.admin
    ).get_json()
    assert [r["assigned"] for r in first["variants"]] == [1, 2]
    # Version 1 is read with the weights it was split with, not the current ones.
    assert [r["weight"] for r in first["variants"]] == ["0.5", "0.5"]
    assert first["srm"]["expected_shares"] == ["0.5", "0.5"]
    assert [r["weight"] for r in current["variants"]] == ["0.4", "0.6"]


# ---- assignment in offers -----------------------------------------------------------------------


def test_offers_carry_the_hashed_variant_of_a_targeted_visitor(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx, targeting={"segments": [fx.segment.key]})
    design_ = from_record(experiment)
    visitors = [f"visitor-{i}" for i in range(12)]
    seen = {}
    for visitor in visitors:
        body = offers(client, fx, visitor)
        expected = design_.bucket(visitor)
        assert expected == ("control" if hash_v2("upsell-copy", visitor) < 0.5 else "b")
        assert body["experiment"] == {"key": "upsell-copy", "variant": expected}, visitor
        seen[visitor] = expected
    assert set(seen.values()) == {"control", "b"}
    # The same visitor always gets the same variant.
    for visitor in visitors[:3]:
        assert offers(client, fx, visitor)["experiment"]["variant"] == seen[visitor]
    assert assignments(db, experiment) == sorted((v, 1, seen[v]) for v in visitors)
    # No visitor id: no experiment.
    assert offers(client, fx)["experiment"] is None


def test_no_experiment_means_null_and_a_draft_assigns_nobody(client, db, tenant_a):
    fx = tenant_a
    assert offers(client, fx, "visitor-1")["experiment"] is None
    draft = create(client, fx)
    assert offers(client, fx, "visitor-1")["experiment"] is None
    assert assignments(db, draft) == []


def test_visitors_outside_the_coverage_are_not_assigned(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx, coverage="0.5")
    excluded = visitor_in(experiment, None)
    included = visitor_in(experiment, "b")
    assert offers(client, fx, excluded)["experiment"] is None
    assert offers(client, fx, included)["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert assignments(db, experiment) == [(included, 1, "b")]


def test_a_bump_rebuckets_visitors_under_the_new_weights(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    # hash in [0.2, 0.5): control under 50/50, b under 20/80
    visitor = visitor_where("upsell-copy", lambda n: 0.2 <= n < 0.5)
    assert offers(client, fx, visitor)["experiment"]["variant"] == "control"

    uneven = [{**CONTROL_B[0], "weight": "0.2"}, {**CONTROL_B[1], "weight": "0.8"}]
    bumped = ok_patch(client, fx, experiment, {"variants": uneven, "bump_bucket_version": True})
    assert from_record(bumped).bucket(visitor) == "b"
    body = offers(client, fx, visitor)
    assert body["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert assignments(db, experiment) == [(visitor, 1, "control"), (visitor, 2, "b")]
    context = decision(client, fx, body["offers"][0]["decision_id"])["context"]
    assert (context["assignment"]["bucket_version"], context["assignment"]["sticky"]) == (2, False)
    assert offers(client, fx, visitor)["experiment"]["variant"] == "b"


def test_a_coverage_change_keeps_exposed_visitors_variant(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    # hash in [0.1, 0.5): control at coverage 1; outside [0, 0.1) and [0.5, 0.6) at coverage 0.2
    exposed = visitor_where("upsell-copy", lambda n: 0.1 <= n < 0.5, "exposed")
    newcomer = visitor_where("upsell-copy", lambda n: 0.1 <= n < 0.5, "newcomer")
    first = offers(client, fx, exposed)
    assert first["experiment"] == {"key": "upsell-copy", "variant": "control"}
    assignment = decision(client, fx, first["offers"][0]["decision_id"])["context"]["assignment"]
    assert assignment["sticky"] is False

    narrowed = ok_patch(client, fx, experiment, {"coverage": "0.2"})
    assert narrowed["bucket_version"] == 1  # no bump needed for coverage
    assert from_record(narrowed).bucket(exposed) is None  # the hash alone would now exclude them

    again = offers(client, fx, exposed)
    assert again["experiment"] == {"key": "upsell-copy", "variant": "control"}
    assignment = decision(client, fx, again["offers"][0]["decision_id"])["context"]["assignment"]
    assert (assignment["sticky"], assignment["bucket_version"]) == (True, 1)
    assert offers(client, fx, newcomer)["experiment"] is None
    assert assignments(db, experiment) == [(exposed, 1, "control")]


def test_paused_keeps_assigned_visitors_and_stopped_drops_everyone(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    known = visitor_in(experiment, "b", "known")
    newcomer = visitor_in(experiment, "b", "newcomer")
    assert offers(client, fx, known)["experiment"] == {"key": "upsell-copy", "variant": "b"}

    act(client, fx, experiment, "pause")
    assert offers(client, fx, known)["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert offers(client, fx, newcomer)["experiment"] is None
    assert assignments(db, experiment) == [(known, 1, "b")]

    act(client, fx, experiment, "resume")
    assert offers(client, fx, newcomer)["experiment"] == {"key": "upsell-copy", "variant": "b"}

    act(client, fx, experiment, "stop")
    for visitor in (known, newcomer, "someone-else"):
        body = offers(client, fx, visitor)
        assert body["experiment"] is None
        facts = decision(client, fx, body["offers"][0]["decision_id"])["facts"]
        assert (facts["experiment"], facts["variant"]) == ("", "")
    assert len(assignments(db, experiment)) == 2


def test_targeting_by_date_and_segment(client, tenant_a):
    fx = tenant_a
    day = weekday_ahead(20)
    budget = client.post(
        "/v1/admin/segments", headers=fx.admin, json={"key": "budget", "name": "Budget"}
    )
    assert budget.status_code == 201, budget.get_json()
    experiment = running(
        client,
        fx,
        targeting={
            "segments": [fx.segment.key],
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
        },
    )
    visitor = visitor_in(experiment, "control")
    for other in (day - dt.timedelta(days=1), day + dt.timedelta(days=1)):
        assert offers(client, fx, visitor, other)["experiment"] is None, other
    assert offers(client, fx, visitor, day, segment="budget")["experiment"] is None
    assert offers(client, fx, visitor, day)["experiment"] == {
        "key": "upsell-copy",
        "variant": "control",
    }


def test_targeted_tiers_alone_carry_the_variant_in_their_decisions(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx, targeting={"tiers": [fx.tiers[0].id]})
    visitor = visitor_in(experiment, "b")
    body = offers(client, fx, visitor)
    assert body["experiment"] == {"key": "upsell-copy", "variant": "b"}

    offered = by_level(body)
    one = decision(client, fx, offered[1]["decision_id"])
    assert (one["facts"]["experiment"], one["facts"]["variant"]) == ("upsell-copy", "b")
    assert one["context"]["assignment"] == {
        "experiment": "upsell-copy",
        "experiment_id": experiment["id"],
        "variant": "b",
        "bucket_version": 1,
        "visitor_id": visitor,
        "hash_version": 2,
        "sticky": False,
    }
    for level in (2, 3):
        other = decision(client, fx, offered[level]["decision_id"])
        assert (other["facts"]["experiment"], other["facts"]["variant"]) == ("", "")
        assert "assignment" not in other["context"]

    again = decision(client, fx, by_level(offers(client, fx, visitor))[1]["decision_id"])
    assert again["context"]["assignment"]["sticky"] is True


def test_another_instance_assigns_alike_from_the_shared_snapshot(
    client, db, settings, cache, tenant_a
):
    """Live experiments travel in the catalog snapshot; a second app instance reads it from the
    shared cache (not the database) and must bucket and target exactly alike."""
    fx = tenant_a
    day = weekday_ahead()
    experiment = running(
        client,
        fx,
        coverage="0.9",
        namespace={"id": "shared", "start": "0.1", "end": "1"},
        targeting={
            "segments": [fx.segment.key],
            "tiers": [fx.tiers[0].id],
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
        },
    )
    design_ = from_record(experiment)
    visitors = [f"instance-{i}" for i in range(30)]
    first = {v: offers(client, fx, v, day)["experiment"] for v in visitors[::2]}
    other = create_app(settings, db=db, cache=cache).test_client()
    second = {v: offers(other, fx, v, day)["experiment"] for v in visitors}
    for visitor in visitors:
        variant = design_.bucket(visitor)
        expected = variant and {"key": "upsell-copy", "variant": variant}
        assert second[visitor] == expected, visitor
        if visitor in first:
            assert first[visitor] == expected, visitor
    assert {e and e["variant"] for e in second.values()} == {None, "control", "b"}
    assert offers(other, fx, visitors[0], day + dt.timedelta(days=1))["experiment"] is None
    in_b = visitor_in(experiment, "b")
    offered = by_level(offers(other, fx, in_b, day))
    assert decision(other, fx, offered[1]["decision_id"])["facts"]["variant"] == "b"
    assert decision(other, fx, offered[2]["decision_id"])["facts"]["variant"] == ""


def test_experiments_sharing_a_namespace_never_share_a_visitor(client, db, tenant_a):
    fx = tenant_a
    namespace = "upsell-tests"
    left = running(client, fx, "left", namespace={"id": namespace, "start": "0", "end": "0.5"})
    right = running(client, fx, "right", namespace={"id": namespace, "start": "0.5", "end": "1"})
    designs = {"left": from_record(left), "right": from_record(right)}
    visitors = [f"ns-visitor-{i}" for i in range(200)]
    for visitor in visitors:
        got = offers(client, fx, visitor)["experiment"]
        # GrowthBook's namespace hash: version 1 of "__" + namespace id
        key = "left" if hash_v1("__" + namespace, visitor) < 0.5 else "right"
        assert got == {"key": key, "variant": designs[key].bucket(visitor)}, visitor
    in_left = {v for v, _, _ in assignments(db, left)}
    in_right = {v for v, _, _ in assignments(db, right)}
    assert not in_left & in_right
    assert in_left | in_right == set(visitors)
    assert len(in_left) > 50 and len(in_right) > 50
    # Neither experiment's own hash would have excluded the other's visitors: only the namespace.
    assert any(designs["left"].bucket(v) is None for v in in_right)


# ---- rules conditioned on the variant -----------------------------------------------------------

B_UPSELL = {
    "id": "upsell-discount-b",
    "kind": "upsell",
    "priority": 20,
    "when": {
        "all": [
            {"fact": "variant", "op": "eq", "value": "b"},
            {"fact": "tier_level", "op": "lt", "value": 3},
        ]
    },
    "then": {
        "offer": "tier",
        "target_level": 3,
        "percent_off": "10",
        "message_key": "upsell.ultimate_discount",
    },
}


def test_upsell_rules_condition_on_the_variant(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    document = default_document(B_UPSELL)
    publish_draft(client, fx, document, name="b gets 10 %", note="experiment")

    in_b = by_level(offers(client, fx, visitor_in(experiment, "b")))
    control = offers(client, fx, visitor_in(experiment, "control"))
    assert control["ruleset"]["version"] == 2
    in_control = by_level(control)
    ultimate_total = in_b[3]["price"]["total"]
    assert ultimate_total == in_control[3]["price"]["total"] == 32000  # 30000 + 2 × 1000
    for level in (1, 2):
        upsell = in_b[level]["upsell"]
        assert (upsell["tier_id"], upsell["percent_off"], upsell["message_key"]) == (
            fx.tiers[2].id,
            "10",
            "upsell.ultimate_discount",
        )
        assert upsell["rules"] == ["upsell-discount-b"]
        assert upsell["total"] == 28800  # 32000 less 10 %
        assert upsell["difference"] == 28800 - in_b[level]["price"]["total"]
        default = in_control[level]["upsell"]
        assert (default["percent_off"], default["message_key"], default["rules"]) == (
            "0",
            "upsell.ultimate",
            ["upsell-next-tier"],
        )
        assert default["total"] == 32000
        # Prices of the tiers themselves are the same in both variants.
        assert in_b[level]["price"] == in_control[level]["price"]
    # Without a visitor: the default upsell.
    anonymous = by_level(offers(client, fx))
    assert anonymous[1]["upsell"]["rules"] == ["upsell-next-tier"]
    # Admins preview a variant without a visitor.
    preview = client.get(
        f"/v1/admin/segments/{fx.segment.id}/offers-preview",
        headers=fx.admin,
        query_string={
            "date": weekday_ahead().isoformat(),
            "guests": 2,
            "experiment": "upsell-copy",
            "variant": "b",
        },
    )
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json()["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert by_level(preview.get_json())[1]["upsell"] == in_b[1]["upsell"]


def test_rules_naming_unknown_variants_or_experiments_are_refused(client, tenant_a):
    fx = tenant_a
    create(client, fx)
    drafts = "/v1/admin/rulesets/drafts"
    position = len(DEFAULT_RULESET["rules"])
    zzz = {**B_UPSELL, "id": "zzz", "when": {"fact": "variant", "op": "eq", "value": "zzz"}}
    error = error_of(
        client.post(
            drafts, headers=fx.admin, json={"name": "x", "document": default_document(zzz)}
        ),
        422,
        "unknown_variant",
    )
    assert [d["path"] for d in error["details"]] == [f"/rules/{position}/when"]
    assert "zzz" in error["details"][0]["message"]

    unknown_experiment = {
        **B_UPSELL,
        "id": "unknown-experiment",
        "when": {
            "all": [
                {"fact": "experiment", "op": "eq", "value": "no-such-experiment"},
                {"fact": "variant", "op": "in", "value": ["b", "control"]},
            ]
        },
    }
    error = error_of(
        client.post(
            drafts,
            headers=fx.admin,
            json={"name": "x", "document": default_document(B_UPSELL, unknown_experiment)},
        ),
        422,
        "unknown_variant",
    )
    assert [d["path"] for d in error["details"]] == [f"/rules/{position + 1}/when"]
    assert "no-such-experiment" in error["details"][0]["message"]
    assert client.get(drafts, headers=fx.admin).get_json() == []

    # Known names are fine, and so is a known variant in a draft edited later.
    known = {
        **B_UPSELL,
        "id": "known",
        "when": {"fact": "experiment", "op": "eq", "value": "upsell-copy"},
    }
    created = client.post(
        drafts, headers=fx.admin, json={"name": "ok", "document": default_document(B_UPSELL, known)}
    )
    assert created.status_code == 201, created.get_json()
    draft = created.get_json()
    edited = client.patch(
        f"{drafts}/{draft['id']}",
        headers={**fx.admin, "If-Match": f'"{draft["version"]}"'},
        json={"document": default_document(zzz)},
    )
    error_of(edited, 422, "unknown_variant")


def test_variant_names_of_another_tenant_are_unknown(client, tenant_a, tenant_b):
    create(client, tenant_b, variants=[CONTROL_B[0], {**CONTROL_B[1], "key": "only-in-b"}])
    only_b = {**B_UPSELL, "when": {"fact": "variant", "op": "eq", "value": "only-in-b"}}
    response = client.post(
        "/v1/admin/rulesets/drafts",
        headers=tenant_a.admin,
        json={"name": "x", "document": default_document(only_b)},
    )
    error_of(response, 422, "unknown_variant")


# ---- quotes under a variant ---------------------------------------------------------------------

B_DISCOUNT = {
    "id": "b-ten-percent",
    "kind": "last_minute",
    "priority": 10,
    "when": {"fact": "variant", "op": "eq", "value": "b"},
    "then": {"percent_off": "10"},
}


def publish_b_discount(app, fx) -> None:
    """Variant b pays 10 % less (a last-minute rule on the variant), active now."""
    document = default_document(B_DISCOUNT)
    publish(app, fx.tenant.id, document, "b pays less", now=dt.datetime.now(dt.UTC))


def test_a_quote_under_a_variant_keeps_its_price_after_the_experiment_stops(app, client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    publish_b_discount(app, fx)
    visitor = visitor_in(experiment, "b")
    day = weekday_ahead()
    request = {"tier_id": fx.tiers[0].id, "date": day.isoformat(), "guests": 2}

    response = client.post(
        "/v1/storefront/quotes", headers=fx.storefront, json={**request, "visitor_id": visitor}
    )
    assert response.status_code == 201, response.get_json()
    quote = response.get_json()
    assert quote["experiment"] == {"key": "upsell-copy", "variant": "b"}
    assert quote["price"]["total"] == 10800  # 12000 less 10 % for variant b
    assert quote["ruleset"]["version"] == 2
    context = decision(client, fx, quote["decision_ids"][0])["context"]
    assert context["assignment"]["variant"] == "b"

    def verified() -> dict:
        response = client.post(
            "/v1/storefront/quotes/verify", headers=fx.storefront, json={"token": quote["token"]}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    claims = verified()
    assert (claims["visitor_id"], claims["experiment"], claims["variant"]) == (
        visitor,
        "upsell-copy",
        "b",
    )
    assert (claims["total"], claims["subtotal"]) == (10800, quote["price"]["subtotal"])

    act(client, fx, experiment, "stop")
    assert verified() == claims  # the token pins the amounts and the variant
    # A new quote for the same visitor is priced without the experiment.
    fresh = client.post(
        "/v1/storefront/quotes", headers=fx.storefront, json={**request, "visitor_id": visitor}
    ).get_json()
    assert (fresh["experiment"], fresh["price"]["total"]) == (None, 12000)


def test_a_quote_of_a_control_visitor_has_the_regular_price(app, client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    publish_b_discount(app, fx)
    visitor = visitor_in(experiment, "control")
    response = client.post(
        "/v1/storefront/quotes",
        headers=fx.storefront,
        json={
            "tier_id": fx.tiers[0].id,
            "date": weekday_ahead().isoformat(),
            "guests": 2,
            "visitor_id": visitor,
        },
    )
    assert response.status_code == 201, response.get_json()
    quote = response.get_json()
    assert quote["experiment"] == {"key": "upsell-copy", "variant": "control"}
    assert quote["price"]["total"] == 12000
    # The quote's visitor is the one the offers see: same variant, same price.
    offered = by_level(offers(client, fx, visitor))[1]
    assert offered["price"] == quote["price"]


# ---- review findings: what counts, what is tagged ----------------------------------------------


def test_a_rebucketed_visitor_starts_afresh_in_the_new_bucket_version(client, tenant_a):
    fx = tenant_a
    experiment = running(client, fx)
    visitor = visitor_where("upsell-copy", lambda n: 0.2 <= n < 0.5)  # control, then b at 20/80
    assert offers(client, fx, visitor)["experiment"]["variant"] == "control"
    shown = [
        {
            "client_event_id": f"old-{kind}",
            "type": kind,
            "visitor_id": visitor,
            "experiment": "upsell-copy",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        for kind in ("upsell_shown", "upsell_accepted")
    ]
    sent = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": shown})
    assert sent.status_code == 202, sent.get_json()

    uneven = [{**CONTROL_B[0], "weight": "0.2"}, {**CONTROL_B[1], "weight": "0.8"}]
    ok_patch(client, fx, experiment, {"variants": uneven, "bump_bucket_version": True})
    assert offers(client, fx, visitor)["experiment"]["variant"] == "b"

    results = client.get(f"{E}/{experiment['id']}/results", headers=fx.analyst).get_json()
    b = {r["key"]: r for r in results["variants"]}["b"]
    # Assigned under version 2, but what they did in control (version 1) does not count for b.
    assert (b["assigned"], b["exposed"], b["accepted"]) == (1, 0, 0)
    first = client.get(f"{E}/{experiment['id']}/results?bucket_version=1", headers=fx.analyst)
    control = {r["key"]: r for r in first.get_json()["variants"]}["control"]
    assert (control["assigned"], control["exposed"], control["accepted"]) == (1, 1, 1)
    # ... and what they do under version 2 does not count for version 1 either.
    later = [
        {
            "client_event_id": f"new-{kind}",
            "type": kind,
            "visitor_id": visitor,
            "experiment": "upsell-copy",
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        for kind in ("upsell_shown", "upsell_declined")
    ]
    sent = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": later})
    assert sent.status_code == 202, sent.get_json()
    again = client.get(f"{E}/{experiment['id']}/results?bucket_version=1", headers=fx.analyst)
    control = {r["key"]: r for r in again.get_json()["variants"]}["control"]
    assert (control["exposed"], control["accepted"], control["declined"]) == (1, 1, 0)
    now = client.get(f"{E}/{experiment['id']}/results", headers=fx.analyst).get_json()
    b = {r["key"]: r for r in now["variants"]}["b"]
    assert (b["exposed"], b["accepted"], b["declined"]) == (1, 0, 1)


def test_a_quote_of_a_tier_outside_the_targeting_is_not_tagged(client, db, tenant_a):
    fx = tenant_a
    experiment = running(client, fx, targeting={"tiers": [fx.tiers[0].id]})
    visitor = visitor_in(experiment, "b")
    day = weekday_ahead().isoformat()

    def quote(tier) -> dict:
        response = client.post(
            "/v1/storefront/quotes",
            headers=fx.storefront,
            json={"tier_id": tier.id, "date": day, "guests": 2, "visitor_id": visitor},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    assert quote(fx.tiers[0])["experiment"] == {"key": "upsell-copy", "variant": "b"}
    untargeted = quote(fx.tiers[2])
    assert untargeted["experiment"] is None
    claims = client.post(
        "/v1/storefront/quotes/verify", headers=fx.storefront, json={"token": untargeted["token"]}
    ).get_json()
    assert (claims["visitor_id"], claims["experiment"], claims["variant"]) == (visitor, "", "")


def test_nobody_is_assigned_when_no_tier_of_the_segment_is_targeted(client, db, tenant_a):
    fx = tenant_a
    other = client.post(
        "/v1/admin/segments", headers=fx.admin, json={"key": "other-segment", "name": "Other"}
    ).get_json()
    tier = client.post(
        "/v1/admin/tiers",
        headers=fx.admin,
        json={
            "segment_id": other["id"],
            "level": 1,
            "name": "Essential",
            "base_price": {"amount": 5000, "currency": "EUR"},
            "per_guest_price": {"amount": 0, "currency": "EUR"},
            "max_guests": 4,
        },
    ).get_json()
    experiment = running(client, fx, targeting={"tiers": [tier["id"]]})
    visitor = visitor_in(experiment, "b")
    assert offers(client, fx, visitor)["experiment"] is None  # fx.segment has no targeted tier
    assert assignments(db, experiment) == []
    assert offers(client, fx, visitor, segment="other-segment")["experiment"] == {
        "key": "upsell-copy",
        "variant": "b",
    }


def test_a_draft_cannot_bump_its_bucket_version(client, tenant_a):
    fx = tenant_a
    draft = create(client, fx)
    response = patch(client, fx, draft, {"bump_bucket_version": True})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "experiment_not_started"
    assert read(client, fx, draft)["bucket_version"] == 1
