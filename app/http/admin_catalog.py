"""Tenant admin: segments, tiers and add-ons."""

from __future__ import annotations

import uuid
from collections.abc import Callable
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
from app.http.errors import ErrorSchema
from app.http.schemas import catalog as s
from app.services import catalog
from pricing import catalog as domain
from storage.db import Database

blp = blueprint(
    "admin-catalog", "/v1/admin", "Tenant admin: segments, tiers and add-ons.", require_tenant_admin
)

UPDATE_ERRORS = (
    (404, "Not found"),
    (409, "Conflict"),
)


def documented_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    for code, description in UPDATE_ERRORS:
        view = blp.alt_response(code, schema=ErrorSchema, description=description)(view)
    return conditional(blp)(view)


# ---- segments ---------------------------------------------------------------------------------


@blp.route("/segments")
class Segments(MethodView):
    @blp.arguments(s.SegmentQuerySchema, location="query")
    @blp.response(200, s.SegmentSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[domain.Segment]:
        """List segments

        The tenant's segments in display order, paginated; `status` filters active or
        archived ones. Each carries its `version`, the ETag an update must send back in
        `If-Match`.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            catalog.list_segments(
                services().db, current_tenant(), args.get("status"), paging.offset, paging.limit
            )
        )

    @blp.arguments(s.SegmentCreateSchema, example=s.SegmentCreateSchema.EXAMPLE)
    @blp.response(201, s.SegmentSchema, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="Key taken")
    def post(self, data: dict[str, Any]) -> Reply[domain.Segment]:
        """Create a segment

        A new segment at `position` (default 0; storefronts list segments by position). The key
        (unique per tenant) is how storefront URLs and rules name it. Answers with the segment and
        its ETag.
        """
        segment = catalog.create_segment(services().db, current_tenant(), data)
        return segment, 201, etag(segment.version)


@blp.route("/segments/<uuid:segment_id>")
class SegmentById(MethodView):
    @blp.response(200, s.SegmentSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, segment_id: uuid.UUID) -> Reply[domain.Segment]:
        """Get a segment

        One segment of the caller's tenant, with its ETag; another tenant's id answers 404.
        """
        segment = catalog.get_segment(services().db, current_tenant(), str(segment_id))
        return segment, 200, etag(segment.version)

    @blp.arguments(s.SegmentUpdateSchema, example=s.SegmentUpdateSchema.EXAMPLE)
    @blp.response(200, s.SegmentSchema, headers=ETAG)
    @documented_errors
    def patch(self, data: dict[str, Any], segment_id: uuid.UUID) -> Reply[domain.Segment]:
        """Update a segment (If-Match required)

        Changes the given fields only. Send the `ETag` of the segment as read in
        `If-Match`: 428 without it, 412 when someone changed it since. Bumps the catalog
        version, so no offer is priced from a stale catalog.
        """
        segment = catalog.update_segment(
            services().db, current_tenant(), str(segment_id), if_match_version(), data
        )
        return segment, 200, etag(segment.version)


@blp.route("/segments/<uuid:segment_id>/clone")
class SegmentClone(MethodView):
    @blp.arguments(s.SegmentCloneSchema, example=s.SegmentCloneSchema.EXAMPLE)
    @blp.response(201, s.SegmentSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(409, schema=ErrorSchema, description="Key taken")
    def post(self, data: dict[str, Any], segment_id: uuid.UUID) -> Reply[domain.Segment]:
        """Clone a segment's active tiers into a new segment

        Creates a new segment with the given key and name and copies the source segment's active
        tiers (levels, prices, features, photos) into it. Placed after the last segment unless
        `position` is given.
        """
        segment = catalog.clone_segment(services().db, current_tenant(), str(segment_id), data)
        return segment, 201, etag(segment.version)


# ---- tiers ------------------------------------------------------------------------------------


@blp.route("/tiers")
class Tiers(MethodView):
    @blp.arguments(s.TierQuerySchema, location="query")
    @blp.response(200, s.TierSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="segment_id names no segment")
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[domain.Tier]:
        """List tiers, optionally of one segment

        Tiers in segment and level order, paginated; `segment_id` narrows to one segment,
        `status` to active or archived tiers.
        """
        paging = Paging(pagination_parameters)
        segment_id = str(args["segment_id"]) if args.get("segment_id") else None
        return paging.done(
            catalog.list_tiers(
                services().db,
                current_tenant(),
                segment_id,
                args.get("status"),
                paging.offset,
                paging.limit,
            )
        )

    @blp.arguments(s.TierCreateSchema, example=s.TierCreateSchema.EXAMPLE)
    @blp.response(201, s.TierSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment or upsell target not found")
    @blp.alt_response(409, schema=ErrorSchema, description="Level taken by an active tier")
    def post(self, data: dict[str, Any]) -> Reply[domain.Tier]:
        """Create a tier

        A tier of a segment at level 1..3 (Essential, Preferred, Ultimate); one active tier
        per (segment, level), 409 otherwise. Prices are integer minor units of the tenant's
        currency. `popular: true` moves the segment's popular badge to this tier.
        """
        tier = catalog.create_tier(services().db, current_tenant(), data)
        return tier, 201, etag(tier.version)


@blp.route("/tiers/<uuid:tier_id>")
class TierById(MethodView):
    @blp.response(200, s.TierSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tier_id: uuid.UUID) -> Reply[domain.Tier]:
        """Get a tier

        One tier of the caller's tenant with its ETag.
        """
        tier = catalog.get_tier(services().db, current_tenant(), str(tier_id))
        return tier, 200, etag(tier.version)

    @blp.arguments(s.TierUpdateSchema, example=s.TierUpdateSchema.EXAMPLE)
    @blp.response(200, s.TierSchema, headers=ETAG)
    @documented_errors
    def patch(self, data: dict[str, Any], tier_id: uuid.UUID) -> Reply[domain.Tier]:
        """Update a tier (If-Match required)

        Changes the given fields only (`If-Match` with the tier's ETag: 428 without, 412
        when stale). Setting `popular: true` unflags the segment's other tiers in the same
        transaction. A new base or per-guest price applies to the next offer priced.
        """
        tier = catalog.update_tier(
            services().db, current_tenant(), str(tier_id), if_match_version(), data
        )
        return tier, 200, etag(tier.version)


# ---- add-ons ----------------------------------------------------------------------------------


@blp.route("/add-ons")
class AddOns(MethodView):
    @blp.arguments(s.StatusQuerySchema, location="query")
    @blp.response(200, s.AddOnSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[domain.AddOn]:
        """List add-ons

        The tenant's add-ons, paginated; `status` filters active or archived ones.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            catalog.list_add_ons(
                services().db, current_tenant(), args.get("status"), paging.offset, paging.limit
            )
        )

    @blp.arguments(s.AddOnCreateSchema, example=s.AddOnCreateSchema.EXAMPLE)
    @blp.response(201, s.AddOnSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    @blp.alt_response(409, schema=ErrorSchema, description="Key taken")
    def post(self, data: dict[str, Any]) -> Reply[domain.AddOn]:
        """Create an add-on

        An extra sold with a tier: priced `flat` (once per booking) or `per_guest`, on sale
        with every tier or only those listed in `tier_ids`. Its key is unique per tenant.
        """
        add_on = catalog.create_add_on(services().db, current_tenant(), data)
        return add_on, 201, etag(add_on.version)


@blp.route("/add-ons/<uuid:add_on_id>")
class AddOnById(MethodView):
    @blp.response(200, s.AddOnSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, add_on_id: uuid.UUID) -> Reply[domain.AddOn]:
        """Get an add-on

        One add-on of the caller's tenant with its ETag.
        """
        add_on = catalog.get_add_on(services().db, current_tenant(), str(add_on_id))
        return add_on, 200, etag(add_on.version)

    @blp.arguments(s.AddOnUpdateSchema, example=s.AddOnUpdateSchema.EXAMPLE)
    @blp.response(200, s.AddOnSchema, headers=ETAG)
    @documented_errors
    def patch(self, data: dict[str, Any], add_on_id: uuid.UUID) -> Reply[domain.AddOn]:
        """Update an add-on (If-Match required)

        Changes the given fields only (`If-Match` with the add-on's ETag: 428 without, 412
        when stale); `tier_ids` replaces the tiers it is limited to.
        """
        add_on = catalog.update_add_on(
            services().db, current_tenant(), str(add_on_id), if_match_version(), data
        )
        return add_on, 200, etag(add_on.version)


# ---- archive / restore ------------------------------------------------------------------------


ARCHIVE_NOTE = (
    "Takes the {noun} off sale: storefronts no longer show or price it; bookings, decisions and "
    "the change log keep referring to it. Answers the {noun} with its new ETag."
)
RESTORE_NOTE = (
    "Puts an archived {noun} back on sale. A tier can conflict with an active tier at its level "
    "(409). Answers the {noun} with its new ETag."
)


def _status_routes(
    path: str,
    param: str,
    noun: str,
    schema: type,
    setter: Callable[
        [Database, domain.Tenant, str, str], domain.Segment | domain.Tier | domain.AddOn
    ],
) -> None:
    """POST ``<path>/<id>/archive`` and ``/restore`` for one resource (endpoints ``<Noun>Archive``
    and ``<Noun>Restore``). Archived items are hidden from storefronts; restoring a tier can
    conflict with an active tier at its level (409)."""
    for action, status in (("archive", "archived"), ("restore", "active")):

        def post(
            self: MethodView, _status: str = status, **ids: uuid.UUID
        ) -> Reply[domain.Segment | domain.Tier | domain.AddOn]:
            item = setter(services().db, current_tenant(), str(ids[param]), _status)
            return item, 200, etag(item.version)

        post.__doc__ = f"{action.title()} {'an' if noun[0] in 'aeiou' else 'a'} {noun}\n\n" + (
            ARCHIVE_NOTE if action == "archive" else RESTORE_NOTE
        ).format(noun=noun)
        post = blp.alt_response(404, schema=ErrorSchema, description="Not found")(post)
        if action == "restore":
            post = blp.alt_response(
                409, schema=ErrorSchema, description="Conflicts with an active item"
            )(post)
        post = blp.response(200, schema, headers=ETAG)(post)
        name = "".join(part.title() for part in noun.split("-")) + action.title()
        blp.route(f"{path}/<uuid:{param}>/{action}")(type(name, (MethodView,), {"post": post}))


_status_routes("/segments", "segment_id", "segment", s.SegmentSchema, catalog.set_segment_status)
_status_routes("/tiers", "tier_id", "tier", s.TierSchema, catalog.set_tier_status)
_status_routes("/add-ons", "add_on_id", "add-on", s.AddOnSchema, catalog.set_add_on_status)
