"""Tenant admin: ruleset drafts, validation, tests, simulation, publishing, activation (and
rollback), the activation schedule, versions."""

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
    accepts_yaml,
    blueprint,
    conditional,
    etag,
    if_match_version,
    services,
)
from app.http.common import utc_now as _now
from app.http.errors import ErrorSchema
from app.http.schemas import ruleset_versions as v
from app.http.schemas import rulesets as s
from app.services import decision_log, rulesets
from storage.rulesets import Activation, Draft, Version

blp = blueprint(
    "admin-rulesets",
    "/v1/admin/rulesets",
    "Tenant admin: rulesets and their lifecycle.",
    require_tenant_admin,
)


def _author() -> str:
    return f"{g.principal.role}:{g.principal.subject}"


@blp.route("/drafts")
class Drafts(MethodView):
    @blp.response(200, s.DraftSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[Draft]:
        """List drafts

        The tenant's ruleset drafts, paginated, with their ETags.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            rulesets.list_drafts(services().db, current_tenant(), paging.offset, paging.limit)
        )

    @accepts_yaml(blp, "DraftCreate")
    @blp.arguments(s.DraftCreateSchema, example=s.DraftCreateSchema.EXAMPLE)
    @blp.response(201, s.DraftSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Version not found")
    def post(self, data: dict[str, Any]) -> Reply[Draft]:
        """Create a draft from a document, or from a published version (default: the newest)

        Starts a draft from a `document` (JSON) or `document_yaml`, or copies a published
        version (`from_version`; default the newest). The document must parse as a ruleset
        (422 with every error's JSON pointer otherwise); the language is in docs/rules.md.
        """
        draft = rulesets.create_draft(
            services().db,
            current_tenant(),
            _author(),
            data["name"],
            data.get("document"),
            data.get("from_version"),
        )
        return draft, 201, etag(draft.version)


@blp.route("/drafts/<uuid:draft_id>")
class DraftById(MethodView):
    @blp.response(200, s.DraftSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, draft_id: uuid.UUID) -> Reply[Draft]:
        """Get a draft

        One draft with its document and ETag.
        """
        draft = rulesets.get_draft(services().db, current_tenant(), str(draft_id))
        return draft, 200, etag(draft.version)

    @accepts_yaml(blp, "DraftUpdate")
    @blp.arguments(s.DraftUpdateSchema, example=s.DraftUpdateSchema.EXAMPLE)
    @blp.response(200, s.DraftSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @conditional(blp)
    def patch(self, data: dict[str, Any], draft_id: uuid.UUID) -> Reply[Draft]:
        """Edit a draft (If-Match required); the document must be a valid ruleset

        Replaces the draft's name or document (JSON `document` or `document_yaml`).
        `If-Match` with the draft's ETag is required (428 without, 412 when stale); an
        invalid document answers 422 with every error located.
        """
        draft = rulesets.update_draft(
            services().db, current_tenant(), str(draft_id), if_match_version(), data
        )
        return draft, 200, etag(draft.version)

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def delete(self, draft_id: uuid.UUID) -> None:
        """Delete a draft

        Deletes an unpublished draft; published versions are immutable and stay.
        """
        rulesets.delete_draft(services().db, current_tenant(), str(draft_id))


@blp.route("/validate")
class ValidateDocument(MethodView):
    @accepts_yaml(blp, "Document")
    @blp.arguments(s.DocumentSchema, example=s.DocumentSchema.EXAMPLE)
    @blp.response(200, s.ValidationReportSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Validate a ruleset document: 422 with every error located, else warnings

        Checks a document without saving it: syntax, facts and actions, limits and costs.
        Errors answer 422 with each one's JSON pointer; a valid document answers 200 with
        warnings (overlapping rules, unreachable rules, parameters outside guardrails).
        """
        return rulesets.validate_document(services().db, current_tenant(), data["document"])


@blp.route("/drafts/<uuid:draft_id>/validate")
class ValidateDraft(MethodView):
    @blp.response(200, s.ValidationReportSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, draft_id: uuid.UUID) -> dict[str, Any]:
        """Warnings for a draft: overlaps, unreachable rules, parameters outside guardrails

        Runs the validator's warnings on a saved draft (it is valid already: drafts are
        checked when saved).
        """
        return rulesets.validate_draft(services().db, current_tenant(), str(draft_id))


@blp.route("/drafts/<uuid:draft_id>/test")
class TestDraft(MethodView):
    @blp.response(200, s.TestReportSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, draft_id: uuid.UUID) -> dict[str, Any]:
        """Run the draft's example cases on the serving engine (in a separate process)

        Compiles the draft on the engine that serves decisions (durable-rules) in a
        separate process and runs the document's `tests` cases: each passes when the
        outputs match what it expects. Publishing requires every case to pass.
        """
        return rulesets.test_draft(services().db, current_tenant(), str(draft_id))


@blp.route("/drafts/<uuid:draft_id>/simulate")
class SimulateDraft(MethodView):
    @blp.arguments(s.SimulateSchema, example=s.SimulateSchema.EXAMPLE)
    @blp.response(200)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, data: dict[str, Any], draft_id: uuid.UUID) -> list[dict[str, Any]]:
        """Evaluate the draft and the active version side by side on the given facts

        For each facts object (up to 100): the draft's outputs and fired rules next to the
        active version's, so a change can be seen before publishing. Nothing is recorded.
        """
        svc = services()
        return rulesets.simulate(
            svc.db,
            svc.rules,
            current_tenant(),
            str(draft_id),
            data["facts"],
            data.get("kinds"),
            _now(),
        )


@blp.route("/drafts/<uuid:draft_id>/backtest")
class BacktestDraft(MethodView):
    @blp.arguments(s.BacktestRequestSchema, example=s.BacktestRequestSchema.EXAMPLE)
    @blp.response(200, s.BacktestSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, data: dict[str, Any], draft_id: uuid.UUID) -> dict[str, Any]:
        """Run the draft over the recorded decisions of a time range: prices changed, revenue and commission deltas, upgrade flips, largest changes

        A dry run with the reference evaluator over the decisions recorded between `from`
        and `to` (at most `limit`, 50,000; `truncated` says when more existed): how many
        outputs and prices change, revenue and commission deltas (new minus recorded, minor
        units, also per purpose), upgrades newly allowed or denied, and the 10 largest
        price changes. Accepted upsells keep their recorded discount.
        """
        return decision_log.backtest(
            services().db, current_tenant(), str(draft_id), data["from"], data["to"], data["limit"]
        )


@blp.route("/drafts/<uuid:draft_id>/publish")
class PublishDraft(MethodView):
    @blp.arguments(v.PublishSchema, example=v.PublishSchema.EXAMPLE)
    @blp.response(201, v.PublishedSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, data: dict[str, Any], draft_id: uuid.UUID) -> rulesets.Published:
        """Publish the draft as an immutable version, active now (cancelling the pending activations unless keep_schedule) or at activates_at (its tests must pass)

        Freezes the draft as the next version number with its content hash. Without
        `activates_at` it takes effect now and the pending scheduled activations are
        cancelled unless `keep_schedule`; with `activates_at` it is scheduled. The draft's
        tests must pass on the serving engine (422 otherwise).
        """
        svc = services()
        return rulesets.publish_draft(
            svc.db,
            svc.rules,
            current_tenant(),
            str(draft_id),
            _author(),
            data["note"],
            data["activates_at"],
            _now(),
            keep_schedule=data["keep_schedule"],
        )


@blp.route("/versions")
class Versions(MethodView):
    @blp.response(200, v.VersionSummarySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[Version]:
        """List published versions, newest first

        Every published version's number, hash, note and author, paginated; the documents
        are in `GET …/versions/{number}`.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            rulesets.list_versions(services().db, current_tenant(), paging.offset, paging.limit)
        )


@blp.route("/versions/<int:number>")
class VersionByNumber(MethodView):
    @blp.response(200, v.VersionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, number: int) -> Version:
        """Get a published version with its document

        A published (immutable) version: its document, content hash, note, author and time.
        """
        return rulesets.get_version(services().db, current_tenant(), number)


@blp.route("/versions/<int:number>/activate")
class ActivateVersion(MethodView):
    @blp.arguments(v.ActivateSchema, required=False, example=v.ActivateSchema.EXAMPLE)
    @blp.response(201, v.ActivatedSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, data: dict[str, Any], number: int) -> rulesets.Activated:
        """Make a published version active now (activate, or rollback to an older one), cancelling the pending activations unless keep_schedule

        Puts a published version in force at once: `activate` or `rollback` (recorded as
        such in the activation history). Pending scheduled activations are cancelled unless
        `keep_schedule`. Offers priced after the answer use it.
        """
        svc = services()
        return rulesets.activate_version(
            svc.db,
            svc.rules,
            current_tenant(),
            number,
            _author(),
            _now(),
            keep_schedule=data["keep_schedule"],
        )


@blp.route("/schedule")
class Schedule(MethodView):
    @blp.response(200, v.ScheduledActivationSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[Activation]:
        """List the pending activations (scheduled, not cancelled) in the order they take effect

        Scheduled activations that have not taken effect and were not cancelled, soonest
        first.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            rulesets.list_schedule(
                services().db, current_tenant(), _now(), paging.offset, paging.limit
            )
        )


@blp.route("/schedule/<int:sequence>")
class ScheduledActivation(MethodView):
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="No such activation of the tenant")
    @blp.alt_response(
        409, schema=ErrorSchema, description="The activation already took effect or was cancelled"
    )
    def delete(self, sequence: int) -> None:
        """Cancel a pending activation (it stays in the history, marked cancelled)

        Cancels one scheduled activation by its sequence number; 409 when it already took
        effect. It stays in the activation history with `cancelled_at`.
        """
        svc = services()
        rulesets.cancel_activation(svc.db, svc.rules, current_tenant(), sequence, _author(), _now())


@blp.route("/active")
class Active(MethodView):
    @blp.response(200, v.ActivationStateSchema)
    def get(self) -> dict[str, Any]:
        """The active version, scheduled activations and the activation history

        The version in force now, the pending activations and every activation so far (who,
        when, activate or rollback, cancelled ones marked).
        """
        return rulesets.activation_state(services().db, current_tenant(), _now())


@blp.route("/diff")
class Diff(MethodView):
    @blp.arguments(s.DiffQuerySchema, location="query")
    @blp.response(200)
    @blp.alt_response(404, schema=ErrorSchema, description="Version not found")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Rule-by-rule difference between two versions

        Compares version `from` with version `to` by rule id: rules added, removed and changed
        (each with before, after and the fields that differ), and changed `stacking` or
        `guardrails`.
        """
        return rulesets.diff_versions(services().db, current_tenant(), args["old"], args["new"])


@blp.route("/evaluate")
class Evaluate(MethodView):
    @blp.arguments(s.FactsSchema, example=s.FactsSchema.EXAMPLE)
    @blp.response(200, s.ExplainedOutcomeSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No version in force at `at`")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Evaluate the version in force (now or at `at`) on facts, with the explanation

        Runs the ruleset in force at `at` (default now, scheduled activations included) on
        the given facts and explains every rule considered: matched or why not, fired,
        outputs. Nothing is recorded.
        """
        svc = services()
        return rulesets.evaluate_active(
            svc.rules, current_tenant(), data["facts"], data.get("kinds"), data.get("at") or _now()
        )
