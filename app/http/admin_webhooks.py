"""Webhook endpoints: where a tenant's events are delivered, and how each delivery went."""

from __future__ import annotations

import uuid
from typing import Any

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
from app.http.schemas import webhooks as s
from app.services import events_out

blp = blueprint(
    "admin-webhooks",
    "/v1/admin/webhook-endpoints",
    "Webhook endpoints: signed deliveries of the tenant's events (Standard Webhooks).",
    require_tenant_admin,
)


def _tenant_id() -> str:
    return current_tenant().id


@blp.route("")
class Endpoints(MethodView):
    @blp.response(200, s.EndpointSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """List webhook endpoints, newest first

        The tenant's webhook endpoints, paginated, with the events each subscribes to and
        its status (disabled after repeated failures).
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            events_out.list_endpoints(services().db, _tenant_id(), paging.offset, paging.limit)
        )

    @blp.arguments(s.EndpointCreateSchema, example=s.EndpointCreateSchema.EXAMPLE)
    @blp.response(201, s.EndpointWithSecretSchema, headers=ETAG)
    def post(self, data: dict[str, Any]) -> Reply[dict[str, Any]]:
        """Add an endpoint; its signing secret is in this answer only

        Registers an https URL (http and private addresses only where the settings allow)
        for the listed event types. Deliveries are signed per Standard Webhooks with the
        secret returned here once (docs/events.md).
        """
        row = events_out.create_endpoint(services().events, _tenant_id(), data, _now())
        return row, 201, etag(row["version"])


@blp.route("/<uuid:endpoint_id>")
class EndpointById(MethodView):
    @blp.response(200, s.EndpointSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, endpoint_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Get an endpoint

        One endpoint with its ETag; the secret is never shown again.
        """
        row = events_out.get_endpoint(services().db, _tenant_id(), str(endpoint_id))
        return row, 200, etag(row["version"])

    @blp.arguments(s.EndpointUpdateSchema, example=s.EndpointUpdateSchema.EXAMPLE)
    @blp.response(200, s.EndpointSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @conditional(blp)
    def patch(self, data: dict[str, Any], endpoint_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Change an endpoint (If-Match required); status active re-enables it

        Changes the URL, events, description or status (`If-Match` required: 428 without,
        412 when stale); `status: active` re-enables an endpoint disabled after failures.
        """
        row = events_out.update_endpoint(
            services().events, _tenant_id(), str(endpoint_id), if_match_version(), data, _now()
        )
        return row, 200, etag(row["version"])

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def delete(self, endpoint_id: uuid.UUID) -> None:
        """Delete an endpoint and its pending deliveries

        Removes the endpoint; deliveries not yet sent to it are dropped.
        """
        events_out.delete_endpoint(services().db, _tenant_id(), str(endpoint_id))


@blp.route("/<uuid:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.arguments(s.RotateSchema, example=s.RotateSchema.EXAMPLE)
    @blp.response(200, s.RotatedSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, data: dict[str, Any], endpoint_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """A new secret (shown once); the previous one also signs during the overlap

        Issues a new signing secret; deliveries carry signatures by both the new and the
        previous secret until the overlap ends, so receivers can switch without losing
        events.
        """
        row = events_out.rotate_secret(
            services().db, _tenant_id(), str(endpoint_id), data["overlap_hours"], _now()
        )
        return row, 200, etag(row["version"])


@blp.route("/<uuid:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.response(200, s.AttemptSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.paginate()
    def get(
        self, endpoint_id: uuid.UUID, pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Every delivery attempt, newest first

        The endpoint's deliveries, paginated: event, attempts, last status code or error,
        next retry, outcome.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            events_out.deliveries(
                services().db, _tenant_id(), str(endpoint_id), paging.offset, paging.limit
            )
        )


@blp.route("/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/retry")
class RetryDelivery(MethodView):
    @blp.response(202, s.RetriedSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> dict[str, Any]:
        """Deliver again now

        Queues the delivery for another attempt now (`status` pending).
        """
        return events_out.retry_delivery(
            services().db, _tenant_id(), str(endpoint_id), str(delivery_id), _now()
        )


@blp.route("/<uuid:endpoint_id>/test")
class TestEvent(MethodView):
    @blp.response(202, s.TestSentSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, endpoint_id: uuid.UUID) -> dict[str, Any]:
        """Send a webhook.test event to this endpoint

        Queues a `webhook.test` event for this endpoint only, to check the receiver and its
        signature verification.
        """
        return events_out.send_test(services().db, _tenant_id(), str(endpoint_id), _now())
