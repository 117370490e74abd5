"""What a field name means wherever the API uses it, for the OpenAPI document: `currency`,
`tier_id` or `created_at` mean the same in forty schemas, so they are described once here. A field
whose own ``metadata={"description": ...}`` says more (or something else) keeps its own; a name
whose meaning differs between schemas is not here, and those fields describe themselves.

:func:`describe` is an apispec attribute function (registered in ``create_app``)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

MINOR = "integer minor units of `currency` (cents; yen for JPY)"

GLOSSARY: dict[str, str] = {
    # identity and bookkeeping
    "name": "Name, as people read it (may change; `id` and `key` do not)",
    "key": "Stable machine name (lowercase letters, digits, '-', '_'): what URLs, rules and events use",
    "id": "Id (UUID) of this item, unique within the tenant",
    "tenant_id": "Id (UUID) of the tenant the item belongs to",
    "version": 'Row version: the item\'s ETag (`W/"<version>"`), sent back in `If-Match` to update it',
    "created_at": "When it was created (ISO 8601 with offset)",
    "updated_at": "When it was last changed (ISO 8601 with offset)",
    "created_by": "Who did it: `<role>:<subject>` of the admin token, or `cli`",
    "request_id": "The request's id, as its response's `X-Request-Id` header carried it",
    "position": "Display order among the tenant's segments, 0 first",
    "slug": "The tenant's short name, unique, used by the command line",
    "time_zone": "IANA time zone; service dates and day boundaries are in it",
    "default_capacity": "Units each tier has on a date without its own capacity",
    "page": "Page number, 1 first (X-Pagination says how many there are)",
    "page_size": "Items per page (default DEFAULT_PAGE_SIZE, at most MAX_PAGE_SIZE: 50 and 200 unless configured)",
    # catalog
    "segment_id": "Id (UUID) of the segment",
    "segment_key": "Key of the segment",
    "tier_id": "Id (UUID) of the tier",
    "tier_name": "The tier's name",
    "tier_ids": "Ids of the tiers it is limited to (empty: every tier)",
    "to_tier_id": "Id of the tier moved to",
    "from_tier_id": "Id of the tier moved from",
    "add_on_id": "Id (UUID) of the add-on",
    "add_on_key": "Key of the add-on",
    "add_on_ids": "Ids of the add-ons of the selection",
    "level": "Tier level: 1 Essential, 2 Preferred, 3 Ultimate",
    "base_price": "Price of the tier for the party, before per-guest charges and the rules",
    "per_guest_price": "Added per guest (the party size times this)",
    "max_guests": "Largest party the tier takes",
    "popular": "Carries the segment's popular badge (one tier per segment at most)",
    "upsell_target_ids": "Ids of the tiers the upsell may suggest from this one",
    "photos": "Image URLs, in display order",
    "features": "What the tier includes: key, label, value (boolean, number or text)",
    "pricing": "`flat`: the price once per booking; `per_guest`: the price per guest",
    "label": "Text shown to customers",
    "theme": "The widget's look for the segment (null: default)",
    "units_left": "Units still bookable (capacity − live holds − paid bookings)",
    "units": "Units the tier can sell on the date",
    # money
    "currency": "ISO 4217 currency code; every amount beside it is in its minor units",
    "subtotal": f"Base + guests + add-ons before the rules, {MINOR}",
    "platform_fee": f"The platform's commission, paid by the tenant out of the total, {MINOR}",
    "amount": MINOR[0].upper() + MINOR[1:],
    # selection and pricing
    "service_date": "Service date, YYYY-MM-DD in the tenant's time zone",
    "guests": "Party size",
    "visitor_id": "The storefront's stable visitor id (experiment assignment, analytics)",
    "quote_id": "Id of the quote (the signed price lock)",
    "booking_id": "Id (UUID) of the booking",
    "decision_id": "Id of the decision record behind it (GET /v1/admin/decisions/{id} explains it)",
    "decision_ids": "Ids of the decision records this response made, in the decision log",
    "ruleset": "The ruleset version that priced it and its content hash",
    "ruleset_version": "Number of the ruleset version evaluated",
    "ruleset_hash": "SHA-256 of that version's canonical document",
    "content_hash": "SHA-256 of the version's canonical document (changes iff the rules do)",
    "rules": "Ids of the rules behind it",
    "fired": "Ids of the rules that fired",
    "kinds": "Rule kinds: season, last_minute, commission, upsell, upgrade, fallback",
    "checkout_session_id": "The payment provider's checkout session",
    "email": "E-mail address",
    "phone": "Phone number, as given",
    "customer": "The customer who books",
    "add_ons": "Add-on keys or ids chosen with the tier",
    "experiment": "Key of the experiment the visitor is in (empty: none)",
    "variant": "Key of the visitor's variant in that experiment",
    "bucket_version": "Assignment generation: n + 1 after a weight change re-bucketed visitors",
    # rulesets
    "sequence": "Number of the activation in the tenant's history (1, 2, …)",
    "version_number": "Number of the ruleset version",
    "activates_at": "When the version takes (or took) effect (ISO 8601 with offset)",
    "cancelled_by": "Who cancelled the activation (null: not cancelled)",
    "cancelled_activations": "Pending activations cancelled because this one took effect now",
    "document": "The ruleset document (JSON; docs/rules.md)",
    "note": "Free text the publisher wrote",
    "author": "Who published it: `<role>:<subject>`",
    "number": "Version number, 1 for the first published",
    "engine": "Engine that evaluated: `durable` (durable-rules) or `reference`",
    "outputs": "What the rules decided, per kind",
    "facts": "Input facts, as the rules see them (docs/rules.md)",
    # experiments
    "hypothesis": "What the experiment is expected to show, in words",
    "targeting": "Which offers it covers: segment keys, tier ids, service date range",
    "coverage": "Share of targeted visitors who enter the experiment, 0..1",
    "namespace": "Namespace id and [start, end) range: experiments sharing an id with disjoint ranges share no visitor",
    "primary_metric": "The metric the experiment is judged by",
    "guardrail_metrics": "Metrics a variant must not make worse",
    "control": "The variant others are compared with (exactly one)",
    "weight": "Share of the experiment's visitors given this variant (the weights sum to 1)",
    # webhooks and audit
    "url": "Where deliveries are POSTed (https unless the settings allow http)",
    "events": "Event types delivered (`*`: every type)",
    "disabled_reason": "Why deliveries stopped (null while active)",
    "failing_since": "Start of the current run of failed deliveries (null: the last one succeeded)",
    "delivery_id": "Id of the webhook delivery",
    "event_id": "Id of the event in the outbox",
    "event_type": "The event's type",
    "actor": "Who made the change: `<role>:<subject>`, `cli` or `system`",
    "entity_id": "The changed row's key without the tenant (composite keys joined by `:`)",
    # results and reports
    "accepted": "How many accepted the upsell",
    "declined": "How many declined the upsell",
    "shown": "How many times the upsell was shown",
    "p_value": "Probability of a difference at least this large if there were none",
    "chi2": "Pearson's chi-squared statistic",
    "absolute_ci_low": "Lower end of the 95 % interval of the absolute difference",
    "absolute_ci_high": "Upper end of the 95 % interval of the absolute difference",
    "vs_control": "Compared with the control variant",
    "groups": "Figures per (segment, tier)",
    "total": f"Sum over every group; in money figures, {MINOR}",
    "valid": "True when nothing is wrong",
    "passed": "Whether it passed (of a report: whether every case did)",
    "message": "What happened, in words (English)",
}


def describe(
    _converter: Any, field: ma.fields.Field[Any], ret: dict[str, Any], **_kw: Any
) -> dict[str, str]:
    """The glossary's description of ``field`` by its name on the wire, unless it has its own (or
    is a reference, which OpenAPI 3.0 lets carry nothing else)."""
    if ret.get("description") or "$ref" in ret or "allOf" in ret:
        return {}
    text = GLOSSARY.get(field.data_key or field.name or "")
    return {"description": text} if text else {}
