"""Experiments for product teams: design, lifecycle, revisions and results (analysts read)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import (
    ETAG,
    Paging,
    Reply,
    blueprint,
    conditional,
    etag,
    if_match_version,
    services,
)
from app.http.common import utc_now as _now
from app.http.errors import ErrorSchema
from app.http.schemas import experiments as s
from app.services import experiments

blp = blueprint(
    "admin-experiments",
    "/v1/admin/experiments",
    "Upsell experiments: design, lifecycle and results (analysts may read).",
    require_tenant_admin,
)


def _actor() -> str:
    return f"{g.principal.role}:{g.principal.subject}"


@blp.route("")
class Experiments(MethodView):
    @blp.arguments(s.ExperimentQuerySchema, location="query")
    @blp.response(200, s.ExperimentSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """List experiments, newest first

        The tenant's upsell experiments, paginated, optionally by `status`.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            experiments.list_experiments(
                services().db, current_tenant(), args.get("status"), paging.offset, paging.limit
            )
        )

    @blp.arguments(s.ExperimentCreateSchema, example=s.ExperimentCreateSchema.EXAMPLE)
    @blp.response(201, s.ExperimentSchema, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="Key taken")
    def post(self, data: dict[str, Any]) -> Reply[dict[str, Any]]:
        """Create a draft experiment (weights must sum to 1)

        A draft experiment: key, hypothesis, targeting (segments, tiers, service dates),
        coverage, variants with weights summing to exactly 1, an optional namespace,
        primary and guardrail metrics. Rules name its key and variants in `upsell`
        conditions (docs/rules.md).
        """
        row = experiments.create_experiment(services().db, current_tenant(), _actor(), data, _now())
        return row, 201, etag(row["version"])


@blp.route("/<uuid:experiment_id>")
class ExperimentById(MethodView):
    @blp.response(200, s.ExperimentSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, experiment_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Get an experiment

        One experiment with its design, status, bucket version and ETag.
        """
        row = experiments.get_experiment(services().db, current_tenant(), str(experiment_id))
        return row, 200, etag(row["version"])

    @blp.arguments(s.ExperimentUpdateSchema, example=s.ExperimentUpdateSchema.EXAMPLE)
    @blp.response(200, s.ExperimentSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(409, schema=ErrorSchema, description="Stopped")
    @conditional(blp)
    def patch(self, data: dict[str, Any], experiment_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Edit the design (If-Match required); weights of a started experiment change only with bump_bucket_version

        Changes the given fields (`If-Match` required: 428 without, 412 when stale). Once
        started, variant keys and the control are fixed; new weights need
        `bump_bucket_version: true`, which re-buckets visitors under bucket version n + 1.
        Every change is a revision.
        """
        row = experiments.update_experiment(
            services().db,
            current_tenant(),
            str(experiment_id),
            if_match_version(),
            data,
            _actor(),
            _now(),
        )
        return row, 200, etag(row["version"])


def _lifecycle(action: str, summary: str, description: str) -> type[MethodView]:
    class Action(MethodView):
        @blp.response(200, s.ExperimentSchema, headers=ETAG)
        @blp.alt_response(404, schema=ErrorSchema, description="Not found")
        @blp.alt_response(
            409, schema=ErrorSchema, description="Not allowed from the current status"
        )
        def post(self, experiment_id: uuid.UUID) -> Reply[dict[str, Any]]:
            row = experiments.transition(
                services().db, current_tenant(), str(experiment_id), action, _actor(), _now()
            )
            return row, 200, etag(row["version"])

    Action.post.__doc__ = f"{summary}\n\n{description}"
    Action.__name__ = f"Experiment{action.title()}"
    return Action


for _action, _summary, _description in (
    (
        "start",
        "Start a draft (needs exactly one control variant)",
        "draft → running: visitors the targeting covers are assigned variants from now on, sticky "
        "per bucket version. 422 `experiment_not_startable` without exactly one control; 409 "
        "`invalid_transition` from another status.",
    ),
    (
        "pause",
        "Pause: no new visitors; those assigned keep their variant",
        "running → paused. 409 `invalid_transition` from another status.",
    ),
    (
        "resume",
        "Resume a paused experiment",
        "paused → running: new visitors join again. 409 `invalid_transition` from another status.",
    ),
    (
        "stop",
        "Stop for good: offers no longer use it",
        "running or paused → stopped, which is final: nobody gets a variant any more; the results "
        "stay readable. 409 `invalid_transition` from another status.",
    ),
):
    blp.route(f"/<uuid:experiment_id>/{_action}", endpoint=f"experiment_{_action}")(
        _lifecycle(_action, _summary, _description)
    )


@blp.route("/<uuid:experiment_id>/revisions")
class Revisions(MethodView):
    @blp.response(200, s.ExperimentRevisionSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, experiment_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every change and lifecycle step: who, when, before and after

        The experiment's revisions in order: each design change (field → [before, after])
        and each start, pause, resume and stop, with who made it and when.
        """
        return experiments.revisions(services().db, current_tenant(), str(experiment_id))


@blp.route("/<uuid:experiment_id>/results")
class Results(MethodView):
    @blp.arguments(s.ResultsQuerySchema, location="query")
    @blp.response(200, s.ExperimentResultsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, args: dict[str, Any], experiment_id: uuid.UUID) -> dict[str, Any]:
        """Per variant exposures, conversions, rates, revenue, lift vs control (95 % CI), p-value, chance to beat control, SRM

        For one bucket version (default the current): per variant the visitors assigned and
        exposed, accepted, declined, booked, bookings and revenue, rates with 95 %
        intervals, lift against control, p-value, chance to beat control, guardrail checks,
        and a sample-ratio-mismatch test. Methods and sources: docs/experiments.md.
        """
        return experiments.experiment_results(
            services().db, current_tenant(), str(experiment_id), args.get("bucket_version")
        )
