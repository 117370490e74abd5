"""Experiment use cases: design, lifecycle (draft -> running <-> paused -> stopped), revisions and
results. Every change is recorded as a revision and bumps the tenant's catalog version, so offers
see it at once (live experiments travel in the catalog snapshot)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from app.services import events_out
from pricing import catalog as domain
from pricing.errors import Conflict, InvalidInput, NotFound
from pricing.experiment_design import (
    TRANSITIONS,
    Experiment,
    design_problems,
    start_problems,
)
from pricing.experiment_results import results as compute_results
from storage import models as m
from storage.catalog import CatalogRepository
from storage.db import Database
from storage.experiments import (
    ExperimentRepository,
    from_record,
    record,
    revision_view,
    variant_counts,
    view,
)
from storage.repository import Page


def _design(data: dict[str, Any], base: m.Experiment | None = None) -> Experiment:
    """The domain experiment the stored row plus ``data`` would make (for validation)."""
    merged = (
        record(base)
        if base is not None
        else {"id": "", "key": "", "status": "draft", "seed": "", "bucket_version": 1}
    )
    for name in ("coverage", "variants", "targeting", "namespace"):
        if name in data:
            merged[name] = data[name]
    merged.setdefault("coverage", Decimal(1))
    merged.setdefault("targeting", {})
    merged.setdefault("namespace", None)
    return from_record(merged)


def _check_design(experiment: Experiment) -> None:
    problems = design_problems(experiment.variants, experiment.coverage, experiment.namespace)
    if problems:
        raise InvalidInput(
            "The experiment design is not valid.", code="experiment_invalid", details=problems
        )


def _check_targets(catalog: CatalogRepository, targeting: dict[str, Any]) -> None:
    """Targeted segments and tiers must be the tenant's own (422, never another tenant's data)."""
    segment_keys = {s.key for s in catalog.list_segments(status=None, offset=0, limit=10_000).items}
    problems = [
        {"field": f"targeting/segments/{i}", "message": f"No segment {key!r}."}
        for i, key in enumerate(targeting.get("segments") or ())
        if key not in segment_keys
    ]
    for i, tier_id in enumerate(targeting.get("tiers") or ()):
        try:
            catalog.tier(str(tier_id))
        except NotFound:
            problems.append({"field": f"targeting/tiers/{i}", "message": "No such tier."})
    if problems:
        raise InvalidInput(
            "The targeting names unknown segments or tiers.",
            code="unknown_target",
            details=problems,
        )


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    """Request fields as the row stores them (JSON-ready)."""
    out = dict(data)
    if "coverage" in out:
        out["coverage"] = str(out["coverage"])
    if "variants" in out:
        out["variants"] = [
            {
                "key": v["key"],
                "name": v.get("name", ""),
                "weight": str(v["weight"]),
                "control": bool(v.get("control")),
            }
            for v in out["variants"]
        ]
    if "targeting" in out:
        t = out["targeting"]
        out["targeting"] = {
            "segments": list(t.get("segments") or ()),
            "tiers": [str(x) for x in t.get("tiers") or ()],
            "date_from": t.get("date_from") and t["date_from"].isoformat(),
            "date_to": t.get("date_to") and t["date_to"].isoformat(),
        }
    if out.get("namespace"):
        ns = out["namespace"]
        out["namespace"] = {"id": ns["id"], "start": str(ns["start"]), "end": str(ns["end"])}
    return out


def list_experiments(
    db: Database, tenant: domain.Tenant, status: str | None, offset: int, limit: int
) -> Page[dict[str, Any]]:
    with db.read() as s:
        page = ExperimentRepository(s, tenant.id).page(status, offset, limit)
        return Page([view(row) for row in page.items], page.total)


def get_experiment(db: Database, tenant: domain.Tenant, experiment_id: str) -> dict[str, Any]:
    with db.read() as s:
        return view(ExperimentRepository(s, tenant.id).row(experiment_id))


def create_experiment(
    db: Database, tenant: domain.Tenant, actor: str, data: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    _check_design(_design(data))
    fields = _stored(data)
    fields.setdefault("seed", fields["key"])  # GrowthBook's default seed is the tracking key
    with db.transaction() as s:
        _check_targets(CatalogRepository(s, tenant), fields.get("targeting") or {})
        row = ExperimentRepository(s, tenant.id).create(fields, actor, now)
        return view(row)


def update_experiment(
    db: Database,
    tenant: domain.Tenant,
    experiment_id: str,
    expected_version: int,
    data: dict[str, Any],
    actor: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """Edit the design. Once started, variant keys and the control are fixed, and new weights
    need ``bump_bucket_version`` (visitors are re-bucketed under the new version; results are
    read per bucket version). A stopped experiment is read-only."""
    bump = bool(data.pop("bump_bucket_version", False))
    with db.transaction() as s:
        repo = ExperimentRepository(s, tenant.id)
        row = repo.row(experiment_id, lock=True)
        if row.status == "stopped":
            raise Conflict("A stopped experiment cannot change.", code="experiment_stopped")
        if bump and row.status == "draft":
            raise InvalidInput(
                "A draft has no assignments to re-bucket; change its weights freely.",
                code="experiment_not_started",
                details=[{"field": "bump_bucket_version", "message": "Only once started."}],
            )
        design = _design(data, row)
        _check_design(design)
        _check_targets(CatalogRepository(s, tenant), _stored(data).get("targeting") or {})
        before = from_record(record(row))
        weights_changed = [v.weight for v in design.variants] != [v.weight for v in before.variants]
        if row.status != "draft":
            if [(v.key, v.control) for v in design.variants] != [
                (v.key, v.control) for v in before.variants
            ]:
                raise InvalidInput(
                    "Variant keys and the control cannot change once the experiment started; "
                    "stop it and create a new one.",
                    code="variants_locked",
                    details=[{"field": "variants", "message": "Keys and control are fixed."}],
                )
            if weights_changed and not bump:
                raise InvalidInput(
                    "Changing weights of a started experiment re-buckets visitors: send "
                    "bump_bucket_version: true to do it explicitly.",
                    code="bucket_version_required",
                    details=[{"field": "bump_bucket_version", "message": "Must be true."}],
                )
        changes = _stored(data)
        if bump:
            changes["bucket_version"] = row.bucket_version + 1
        row = repo.change(row, expected_version, changes, "update", actor, now)
        return view(row)


def transition(
    db: Database,
    tenant: domain.Tenant,
    experiment_id: str,
    action: str,
    actor: str,
    now: dt.datetime,
) -> dict[str, Any]:
    sources, target = TRANSITIONS[action]
    with db.transaction() as s:
        repo = ExperimentRepository(s, tenant.id)
        row = repo.row(experiment_id, lock=True)
        if row.status not in sources:
            raise Conflict(
                f"Cannot {action} an experiment that is {row.status}.", code="invalid_transition"
            )
        if action == "start":
            problems = start_problems(from_record(record(row)))
            if problems:
                raise InvalidInput(
                    "The experiment cannot start.",
                    code="experiment_not_startable",
                    details=problems,
                )
        changes: dict[str, Any] = {"status": target}
        if action == "start":
            changes["started_at"] = now
        if action == "stop":
            changes["stopped_at"] = now
        row = repo.change(row, None, changes, action, actor, now)
        if action in ("start", "stop"):
            events_out.emit(
                s,
                tenant.id,
                "experiment.started" if action == "start" else "experiment.stopped",
                {"experiment_id": str(row.id), "key": row.key, "status": row.status, "by": actor},
                now,
            )
        return view(row)


def revisions(db: Database, tenant: domain.Tenant, experiment_id: str) -> list[dict[str, Any]]:
    with db.read() as s:
        repo = ExperimentRepository(s, tenant.id)
        return [revision_view(r) for r in repo.revisions(repo.row(experiment_id))]


def _variants_of(revisions: list[m.ExperimentRevision], bucket_version: int) -> list[Any]:
    """The variants (and weights) in force at the end of ``bucket_version``, from the revisions:
    a bump is recorded under the new version, so later versions' changes are left out."""
    variants: list[Any] = []
    for revision in revisions:
        if revision.bucket_version > bucket_version:
            break
        if "variants" in revision.changes:
            variants = revision.changes["variants"][1]
    return variants


def experiment_results(
    db: Database, tenant: domain.Tenant, experiment_id: str, bucket_version: int | None
) -> dict[str, Any]:
    """Results of one bucket version (default: the current one); no data gives zeros."""
    with db.read() as s:
        row = ExperimentRepository(s, tenant.id).row(experiment_id)
        version = bucket_version or row.bucket_version
        if not 1 <= version <= row.bucket_version:
            raise InvalidInput(
                f"bucket_version must be between 1 and {row.bucket_version}.",
                code="unknown_bucket_version",
                details=[{"field": "bucket_version", "message": "No such bucket version."}],
            )
        counts = variant_counts(s, tenant.id, str(row.id), row.key, version)
        design = record(row)
        if version < row.bucket_version:  # the weights that bucket version was split with
            design["variants"] = _variants_of(
                ExperimentRepository(s, tenant.id).revisions(row), version
            )
        experiment = from_record(design)
        body = compute_results(experiment, counts, row.primary_metric, row.guardrail_metrics)
        return {
            "experiment_id": str(row.id),
            "key": row.key,
            "status": row.status,
            "bucket_version": version,
            "currency": tenant.currency,
            **body,
        }
