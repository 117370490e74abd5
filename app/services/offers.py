"""Priced tier offers, quotes and upgrade quotes: the storefront's core use cases.

Each use case reads the catalog snapshot and the day's availability, asks the tenant's active
ruleset for its decisions (one evaluation per priced selection), prices with ``pricing.price``,
and writes one decision record per evaluation in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from app.adapters.privacy import Masker
from app.adapters.quotes import QuoteClaims, QuoteSigner
from app.adapters.rules_runtime import ActiveRuleset, RulesRuntime
from app.adapters.snapshots import SnapshotCache
from pricing import catalog as domain
from pricing.availability import (
    AVAILABLE,
    Availability,
    Candidate,
    availability_of,
    fallback_candidates,
)
from pricing.errors import InvalidInput, NotFound
from pricing.experiment_design import Experiment
from pricing.money import Money, plain_decimal, round_minor
from pricing.price import (
    Adjustments,
    Bounds,
    Commission,
    Price,
    PriceLine,
    breakdown,
    breakdown_lines,
    items_of,
    price_selection,
    subtotal_lines,
)
from rules.outcome import Outcome
from rules.vocabulary import date_facts
from storage.availability import DayCounts, day_counts
from storage.bookings import BookingView, get_booking
from storage.db import Database, Executor
from storage.decisions import DecisionRecord, add_decisions
from storage.experiments import assign, sticky_variant

PRICE_KINDS = ("season", "last_minute", "commission")
OFFER_KINDS = (*PRICE_KINDS, "upsell")
MAX_LEAD_DAYS = 3 * 366
NEARBY_WINDOW = 14
PREVIEW_SKEW = dt.timedelta(minutes=1)  # priced at another moment than written: an admin preview


@dataclass
class OfferContext:
    db: Database
    rules: RulesRuntime
    snapshots: SnapshotCache
    signer: QuoteSigner
    engine: str
    masker: Masker


@dataclass(frozen=True)
class Selection:
    segment_ref: str
    service_date: dt.date
    guests: int
    add_on_refs: tuple[str, ...] = ()
    tier_id: str | None = None
    visitor_id: str = ""  # the storefront's visitor: experiment assignment (sticky once exposed)
    upsell_from: str | None = None  # quote: accepting the upsell offered on this tier (its id)
    customer: dict[str, str] | None = None  # quote: e-mail, name, phone (stored masked)
    booking_id: str | None = None  # the booking an upgrade quote is about (kept in its records)
    preview_variant: tuple[str, str] | None = None  # admin preview: (experiment key, variant)


@dataclass(frozen=True)
class Assignment:
    """The experiment variant a request is priced under: the first live experiment that targets
    the selection and includes the visitor (sticky once stored), or an admin preview's choice."""

    key: str
    variant: str
    experiment: Experiment | None  # None for an admin preview
    visitor_id: str = ""
    sticky: bool = False  # read from an earlier exposure, rather than assigned by this request

    def covers(self, segment_key: str, tier_id: str, day: dt.date) -> bool:
        e = self.experiment
        return e is None or (
            e.targeting.covers(segment_key, day) and e.targeting.covers_tier(tier_id)
        )

    def record(self) -> dict[str, Any]:
        """What a decision record keeps of the assignment."""
        e = self.experiment
        if e is None:
            return {"experiment": self.key, "variant": self.variant, "preview": True}
        return {
            "experiment": self.key, "experiment_id": e.id, "variant": self.variant,
            "bucket_version": e.bucket_version, "visitor_id": self.visitor_id, "hash_version": 2,
            "sticky": self.sticky,
        }  # fmt: skip

    def view(self) -> dict[str, str]:
        return {"key": self.key, "variant": self.variant}


@dataclass
class _Run:
    """One use-case run: its clock, ruleset, and the decision records it accumulates."""

    ctx: OfferContext
    tenant: domain.Tenant
    now: dt.datetime
    request_id: str
    session: Executor  # the use case's one transaction: availability reads, decision writes
    day: dt.date  # the service date asked for; availability is read for ±NEARBY_WINDOW days
    counts: DayCounts = field(init=False)
    snapshot: domain.CatalogSnapshot = field(init=False)
    active: ActiveRuleset = field(init=False)
    today: dt.date = field(init=False)
    records: list[DecisionRecord] = field(default_factory=list)
    assignment: Assignment | None = None

    def __post_init__(self) -> None:
        # One round trip: the day's availability counts and the catalog version to price with.
        # The tenant's own settings then come from that snapshot, never from a cached principal.
        self.counts = day_counts(
            self.session, self.tenant.id, self.day - dt.timedelta(days=NEARBY_WINDOW),
            self.day + dt.timedelta(days=NEARBY_WINDOW), self.now,
        )  # fmt: skip
        self.snapshot = self.ctx.snapshots.get(self.tenant.id, self.counts.catalog_version)
        self.tenant = self.snapshot.tenant
        self.active = self.ctx.rules.active(self.tenant.id, self.now)
        self.today = self.now.astimezone(zoneinfo.ZoneInfo(self.tenant.time_zone)).date()

    def assign(
        self, selection: Selection, segment: domain.Segment, tiers: Sequence[domain.Tier]
    ) -> Assignment | None:
        """Resolve (and on first exposure persist) the visitor's variant for the selection: the
        first live experiment whose targeting covers the segment, the date and one of ``tiers``
        (the tiers the request prices)."""
        if selection.preview_variant is not None:
            self.assignment = Assignment(*selection.preview_variant, experiment=None)
            return self.assignment
        if not selection.visitor_id:
            return None
        day, visitor = selection.service_date, selection.visitor_id
        for experiment in self.snapshot.experiments:
            targeting = experiment.targeting
            if not targeting.covers(segment.key, day) or not any(
                targeting.covers_tier(t.id) for t in tiers
            ):
                continue
            stored = sticky_variant(self.session, self.tenant.id, experiment, visitor)
            if stored is not None:
                self.assignment = Assignment(experiment.key, stored, experiment, visitor, True)
                return self.assignment
            bucket = experiment.bucket(visitor) if experiment.status == "running" else None
            if bucket is not None:
                variant = assign(
                    self.session, self.tenant.id, experiment, visitor, bucket, self.now
                )
                self.assignment = Assignment(experiment.key, variant, experiment, visitor)
                return self.assignment
        return None

    def evaluate(
        self, purpose: str, facts: dict[str, Any], kinds: Sequence[str], context: dict[str, Any],
        customer: dict[str, str] | None = None,
    ) -> tuple[DecisionRecord, Outcome]:  # fmt: skip
        """Evaluate and keep the decision record (its ``context`` dict may still be completed,
        e.g. with the price, until the records are written)."""
        outcome = self.ctx.rules.evaluate_version(
            self.tenant.id, self.active.version, facts, kinds, explain=False
        )  # the record keeps [id, matched, fired]; reading a decision explains it
        if self.assignment is not None and facts["experiment"]:
            context["assignment"] = self.assignment.record()
        kept, masked, customer_ref = self.ctx.masker.customer(customer)
        if kept:
            context["customer"] = kept
        written = dt.datetime.now(dt.UTC)  # the log's time is the real one, even for a preview
        if abs(written - self.now) > PREVIEW_SKEW:
            context["as_of"] = self.now.isoformat()
        record = DecisionRecord(
            id=new_id(), tenant_id=self.tenant.id, purpose=purpose, kinds=list(kinds),
            ruleset_version=self.active.version, ruleset_hash=self.active.content_hash,
            engine=self.ctx.engine, facts=facts,
            considered=outcome.considered_rows(),
            fired=list(outcome.fired), outputs=dict(outcome.decisions), context=context,
            request_id=self.request_id, quote_id=None, booking_id=None, created_at=written,
            masked_fields=masked, customer_ref=customer_ref,
        )  # fmt: skip
        self.records.append(record)
        return record, outcome


def new_id() -> str:
    """A random (version 4) UUID as text, like ``str(uuid.uuid4())`` in half the time (no UUID
    object): every decision record takes one."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def adjustments(outcome: Outcome) -> Adjustments:
    d = outcome.decisions
    season, last_minute, commission = d["season"], d["last_minute"], d["commission"]
    return Adjustments(
        multiplier=season["multiplier"],
        season_rules=tuple(season["rules"]),
        discount_percent=last_minute["percent_off"],
        discount_rules=tuple(last_minute["rules"]),
        max_total_discount_percent=last_minute["max_total_discount_percent"],
        commission=Commission(
            commission["rate_percent"],
            commission["fixed"],
            commission["min"],
            commission["max"],
            tuple(commission["rules"]),
        ),
    )


def _facts(
    run: _Run, segment: domain.Segment, tier: domain.Tier, day: dt.date, guests: int,
    add_ons: Sequence[domain.AddOn], availability: Availability,
) -> dict[str, Any]:  # fmt: skip
    subtotal = sum((line.amount for line in subtotal_lines(tier, guests, add_ons)), Decimal(0))
    assigned = run.assignment
    experiment, variant = (
        (assigned.key, assigned.variant)
        if assigned is not None and assigned.covers(segment.key, tier.id, day)
        else ("", "")
    )
    return {
        "segment": segment.key, "segment_id": segment.id, "tier_id": tier.id, "tier_level": tier.level,
        "guests": guests, "amount": round_minor(subtotal), "add_on_count": len(add_ons),
        "units_left": min(availability.units_left, 100_000), "availability": availability.status,
        "currency": run.tenant.currency, "variant": variant, "experiment": experiment,
        **date_facts(day, run.today),
    }  # fmt: skip


def _resolve_add_ons(
    snapshot: domain.CatalogSnapshot, refs: Sequence[str], where: str = "/query/add_ons"
) -> list[domain.AddOn]:
    found = []
    for i, ref in enumerate(refs):
        add_on = next((a for a in snapshot.add_ons if ref in (a.id, a.key)), None)
        if add_on is None:
            raise InvalidInput(
                f"Unknown add-on {ref!r}.", code="unknown_add_on",
                details=[{"path": f"{where}/{i}", "message": "Not an active add-on of this tenant."}],
            )  # fmt: skip
        if add_on not in found:
            found.append(add_on)
    return found


def _check_date(run: _Run, day: dt.date, path: str = "/query/date") -> None:
    """The selling horizon: from the tenant's today to ``MAX_LEAD_DAYS`` ahead."""
    if day < run.today:
        detail = {"path": path, "message": f"Must be {run.today} or later."}
        raise InvalidInput(
            "The service date is in the past.", code="date_in_past", details=[detail]
        )
    if (day - run.today).days > MAX_LEAD_DAYS:
        detail = {"path": path, "message": f"At most {MAX_LEAD_DAYS} days ahead."}
        raise InvalidInput(
            "The service date is too far ahead.", code="date_too_far", details=[detail]
        )


def price_record(price: Price) -> dict[str, Any]:
    """The price a decision fed, as its record keeps it (explain shows it; replay compares it)."""
    return {
        "currency": price.currency, "subtotal": price.subtotal, "total": price.total,
        "platform_fee": price.platform_fee,
        "lines": [[line.code, str(line.amount), list(line.rules)] for line in price.lines],
    }  # fmt: skip


def recorded_price_view(recorded: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A decision record's price (``price_record``; exact decimal lines, kept as recorded: the
    record is hash-chained) in the API's one money format: integer minor units, lines adding up
    to the total. The record keeps no labels or rates, so its lines show code, amount, rules."""
    if recorded is None:
        return None
    exact = [
        PriceLine(code, "", Decimal(amount), tuple(rules))
        for code, amount, rules in recorded["lines"]
    ]
    return {
        "currency": recorded["currency"],
        "subtotal": recorded["subtotal"],
        "total": recorded["total"],
        "discount": recorded["subtotal"] - recorded["total"],
        "platform_fee": recorded["platform_fee"],
        "lines": [
            {"code": line.code, "amount": line.amount, "rules": list(line.rules)}
            for line in breakdown_lines(exact)
        ],
    }


#: What a proportional line's ``rate`` is called in the API, by line code.
RATE_NAMES = {
    "season": "multiplier",
    "last_minute": "percent_off",
    "upsell": "percent_off",
    "max_discount": "max_percent_off",
}


def _price_view(price: Price, platform_fee: bool = False) -> dict[str, Any]:
    """A price as the API shows it (``PriceSchema``): integer minor units throughout, lines that
    add up to the total (``pricing.price.breakdown``). ``platform_fee``: for admins only."""
    lines = []
    for line in breakdown(price):
        shown: dict[str, Any] = {
            "code": line.code,
            "label": line.label,
            "amount": line.amount,
            "rules": list(line.rules),
        }
        if line.rate is not None:
            shown[RATE_NAMES[line.code]] = plain_decimal(line.rate)
            shown["base"] = line.base
        lines.append(shown)
    view = {
        "currency": price.currency,
        "subtotal": price.subtotal,
        "total": price.total,
        "discount": price.discount,
        "lines": lines,
    }
    if platform_fee:
        view["platform_fee"] = price.platform_fee
    return view


class _Pricer:
    """Prices selections of one run against one day's availability counts."""

    def __init__(
        self, run: _Run, counts: DayCounts, selection: Selection, add_ons: list[domain.AddOn]
    ) -> None:
        self.run = run
        self.counts = counts
        self.selection = selection
        self.add_ons = add_ons
        self.segments = run.snapshot.segments_by_id()

    def availability(self, tier: domain.Tier, day: dt.date) -> Availability:
        counts = self.counts
        return availability_of(
            counts.capacity_of(tier.id, day, self.run.tenant.default_capacity),
            counts.taken_of(tier.id, day),
            counts.blacked_out(tier.id, day),
            self.selection.guests,
            tier.max_guests,
        )

    def add_ons_for(self, tier: domain.Tier) -> list[domain.AddOn]:
        return [a for a in self.add_ons if a.available_for(tier.id)]

    def price(
        self,
        purpose: str,
        tier: domain.Tier,
        day: dt.date,
        kinds: Sequence[str],
        extra: Mapping[str, Any] | None = None,
        upsell: Mapping[str, Any] | None = None,
    ) -> tuple[str, Outcome, Price, Availability]:
        """Evaluate and price ``tier`` on ``day``; ``upsell``: an accepted upsell decision whose
        discount applies (its percent_off and rules)."""
        availability = self.availability(tier, day)
        add_ons = self.add_ons_for(tier)
        facts = _facts(
            self.run,
            self.segments[tier.segment_id],
            tier,
            day,
            self.selection.guests,
            add_ons,
            availability,
        )
        facts.update(extra or {})
        context = {
            "tier_id": tier.id,
            "service_date": day,
            "guests": self.selection.guests,
            "add_on_ids": [a.id for a in add_ons],
            "pricing": items_of(tier, self.selection.guests, add_ons).as_json(),
        }
        if upsell is not None:
            context["upsell_accepted"] = {"percent_off": upsell.get("percent_off", "0"),
                                          "rules": list(upsell["rules"])}  # fmt: skip
        record, outcome = self.run.evaluate(purpose, facts, kinds, context, self.selection.customer)
        price = self.priced(tier, outcome, upsell)
        context["price"] = price_record(price)
        return record.id, outcome, price, availability

    def priced(
        self, tier: domain.Tier, outcome: Outcome, upsell: Mapping[str, Any] | None = None
    ) -> Price:
        terms = adjustments(outcome)
        if upsell is not None:
            terms = replace(
                terms,
                upsell_percent=Decimal(upsell.get("percent_off", 0)),
                upsell_rules=tuple(upsell["rules"]),
            )
        return price_selection(
            tier,
            self.selection.guests,
            self.add_ons_for(tier),
            terms,
            Bounds(tier.price_floor, tier.price_ceiling),
        )


def _segment(run: _Run, ref: str) -> domain.Segment:
    segment = run.snapshot.segment(ref)
    if segment is None:
        raise NotFound("segment not found.", code="segment_not_found")
    return segment


def quote_offers(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    request_id: str,
    *,
    show_platform_fee: bool = False,
) -> dict[str, Any]:
    """Every active tier of the segment, priced for the date and party, with availability,
    features, the upsell offer and, for an unavailable tier, ranked priced fallbacks.
    ``show_platform_fee``: each price also shows the platform's commission (admin previews)."""
    # Browsing writes only its decision records (and first exposures to experiments): a relaxed
    # commit, on a Core connection (see Database.browsing).
    with ctx.db.browsing() as session:
        run = _Run(ctx, tenant, now, request_id, session, selection.service_date)
        segment = _segment(run, selection.segment_ref)
        _check_date(run, selection.service_date)
        add_ons = _resolve_add_ons(run.snapshot, selection.add_on_refs)
        assignment = run.assign(selection, segment, run.snapshot.tiers_of(segment.id))
        tiers = run.snapshot.tiers_of(segment.id)
        if tiers and selection.guests > max(t.max_guests for t in tiers):
            raise InvalidInput(
                "The party is larger than any tier of this segment allows.", code="party_too_large",
                details=[{"path": "/query/guests", "message": f"At most {max(t.max_guests for t in tiers)}."}],
            )  # fmt: skip
        pricer = _Pricer(run, run.counts, selection, add_ons)
        priced: dict[str, tuple[str, Outcome, Price, Availability]] = {}
        for tier in tiers:
            availability = pricer.availability(tier, selection.service_date)
            kinds = OFFER_KINDS if availability.bookable else (*OFFER_KINDS, "fallback")
            priced[tier.id] = pricer.price("offer", tier, selection.service_date, kinds)

        offers = []
        for tier in tiers:
            decision_id, outcome, price, availability = priced[tier.id]
            offers.append(
                {
                    "tier": _tier_view(tier),
                    "price": _price_view(price, show_platform_fee),
                    "availability": {
                        "status": availability.status,
                        "units_left": availability.units_left,
                    },
                    "add_ons_applied": [a.id for a in pricer.add_ons_for(tier)],
                    "add_ons_unavailable": [a.id for a in add_ons if not a.available_for(tier.id)],
                    "upsell": _upsell(tier, outcome, price, tiers, priced, pricer),
                    "fallback": []
                    if availability.bookable
                    else _fallbacks(run, pricer, tier, outcome, tiers, show_platform_fee),
                    "decision_id": decision_id,
                }
            )
        add_decisions(session, run.records)
        return {
            "segment": {
                "id": segment.id,
                "key": segment.key,
                "name": segment.name,
                "position": segment.position,
            },
            "service_date": selection.service_date.isoformat(),
            "guests": selection.guests,
            "currency": tenant.currency,
            "ruleset": {"version": run.active.version, "content_hash": run.active.content_hash},
            "experiment": assignment and assignment.view(),
            "offers": offers,
            "decision_ids": [r.id for r in run.records],
        }


def _money_view(money: Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency}


def _tier_view(tier: domain.Tier) -> dict[str, Any]:
    """The tier as offers show it: plain JSON values (``OfferTierSchema`` documents the shape)."""
    return {
        "id": tier.id, "level": tier.level, "name": tier.name, "description": tier.description,
        "base_price": _money_view(tier.base_price), "per_guest_price": _money_view(tier.per_guest_price),
        "max_guests": tier.max_guests, "popular": tier.popular,
        "upsell_target_ids": list(tier.upsell_target_ids), "photos": list(tier.photos),
        "features": [{"key": f.key, "label": f.label, "value": f.value} for f in tier.features],
    }  # fmt: skip


def _features_gained(source: domain.Tier, target: domain.Tier) -> list[dict[str, Any]]:
    before = {f.key: f.value for f in source.features}
    return [
        {"key": f.key, "label": f.label, "from": before.get(f.key), "to": f.value}
        for f in target.features
        if before.get(f.key) != f.value and f.value not in (False, 0, "", "-")
    ]


def _upsell(
    tier: domain.Tier, outcome: Outcome, price: Price, tiers: list[domain.Tier],
    priced: Mapping[str, tuple[str, Outcome, Price, Availability]], pricer: _Pricer,
) -> dict[str, Any] | None:  # fmt: skip
    decision = outcome.decisions["upsell"]
    percent = Decimal(decision.get("percent_off", 0))
    if decision["offer"] == "tier":
        target = domain.upsell_target(tier, tiers, decision["target_level"])
        if target is None or not priced[target.id][3].bookable:
            return None
        # The target priced as a quote accepting this upsell would be (guardrails included).
        offer_total = (
            pricer.priced(target, priced[target.id][1], decision).total
            if percent
            else priced[target.id][2].total
        )
        return {
            "type": "tier", "tier_id": target.id, "tier_name": target.name, "message_key": decision["message_key"],
            "percent_off": str(percent), "total": offer_total, "difference": offer_total - price.total,
            "features_gained": _features_gained(tier, target), "rules": decision["rules"],
        }  # fmt: skip
    if decision["offer"] == "add_on":
        add_on = next((a for a in pricer.run.snapshot.add_ons if a.key == decision["add_on"]), None)
        if add_on is None or not add_on.available_for(tier.id) or add_on in pricer.add_ons:
            return None
        count = pricer.selection.guests if add_on.pricing == "per_guest" else 1
        full = add_on.price.amount * count
        return {
            "type": "add_on", "add_on_id": add_on.id, "add_on_key": add_on.key, "message_key": decision["message_key"],
            "percent_off": str(percent), "price": full, "total": round_minor(Decimal(full) * (1 - percent / 100)),
            "rules": decision["rules"],
        }  # fmt: skip
    return None


def _fallbacks(
    run: _Run,
    pricer: _Pricer,
    tier: domain.Tier,
    outcome: Outcome,
    tiers: list[domain.Tier],
    show_platform_fee: bool,
) -> list[dict[str, Any]]:
    decision = outcome.decisions["fallback"]
    candidates: list[Candidate] = fallback_candidates(
        tier, pricer.selection.service_date, run.today, decision["strategies"], decision["max_results"],
        pricer.segments, list(run.snapshot.tiers), pricer.availability,
        latest=run.today + dt.timedelta(days=MAX_LEAD_DAYS),
    )  # fmt: skip
    out = []
    for rank, candidate in enumerate(candidates, start=1):
        decision_id, _, price, availability = pricer.price(
            "fallback", candidate.tier, candidate.service_date, PRICE_KINDS
        )
        assert availability.status == AVAILABLE
        out.append(
            {
                "rank": rank, "strategy": candidate.strategy, "reason": candidate.reason,
                "segment_key": candidate.segment.key, "tier_id": candidate.tier.id, "tier_name": candidate.tier.name,
                "level": candidate.tier.level, "service_date": candidate.service_date.isoformat(),
                "price": _price_view(price, show_platform_fee), "units_left": availability.units_left,
                "decision_id": decision_id,
            }
        )  # fmt: skip
    return out


# ---- quotes -------------------------------------------------------------------------------------


def quote_selection(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    request_id: str,
) -> dict[str, Any]:
    """The priced quote of one bookable selection and its signed token."""
    with ctx.db.transaction() as session:
        run = _Run(ctx, tenant, now, request_id, session, selection.service_date)
        tier = run.snapshot.tier(selection.tier_id or "")
        if tier is None:
            raise NotFound("tier not found.", code="tier_not_found")
        _check_date(run, selection.service_date, "/json/date")
        add_ons = _resolve_add_ons(run.snapshot, selection.add_on_refs, "/json/add_ons")
        unavailable = [a.key for a in add_ons if not a.available_for(tier.id)]
        if unavailable:
            raise InvalidInput(
                f"Add-ons not available with this tier: {', '.join(unavailable)}.",
                code="add_on_not_available",
            )
        assignment = run.assign(selection, run.snapshot.segments_by_id()[tier.segment_id], [tier])
        pricer = _Pricer(run, run.counts, selection, add_ons)
        upsell = _accepted_upsell(run, pricer, tier) if selection.upsell_from else None
        decision_id, _, price, availability = pricer.price(
            "quote", tier, selection.service_date, PRICE_KINDS, upsell=upsell
        )
        if not availability.bookable:
            raise InvalidInput(
                f"The tier is not bookable on this date ({availability.status}).",
                code=f"tier_{availability.status}",
            )
        quote_id = new_id()
        run.records = [replace(r, quote_id=quote_id) for r in run.records]
        claims = QuoteClaims(
            quote_id=quote_id, tenant_id=tenant.id, segment_id=tier.segment_id, tier_id=tier.id,
            service_date=selection.service_date.isoformat(), guests=selection.guests,
            add_on_ids=[a.id for a in add_ons], currency=price.currency, subtotal=price.subtotal,
            total=price.total, platform_fee=price.platform_fee, ruleset_version=run.active.version,
            ruleset_hash=run.active.content_hash, expires_at=ctx.signer.expiry(now),
            visitor_id=selection.visitor_id, experiment=assignment.key if assignment else "",
            variant=assignment.variant if assignment else "", decision_ids=[decision_id],
        )  # fmt: skip
        add_decisions(session, run.records)
        return {
            "quote_id": quote_id,
            "token": ctx.signer.sign(claims),
            "expires_at": dt.datetime.fromtimestamp(claims.expires_at, dt.UTC),
            "tier_id": tier.id,
            "service_date": selection.service_date,
            "guests": selection.guests,
            "add_on_ids": claims.add_on_ids,
            "price": _price_view(price),
            "ruleset": {"version": run.active.version, "content_hash": run.active.content_hash},
            "experiment": assignment and assignment.view(),
            "decision_ids": [decision_id],
        }


def _accepted_upsell(run: _Run, pricer: _Pricer, tier: domain.Tier) -> dict[str, Any]:
    """The upsell decision of the tier the customer came from, if it offers ``tier`` (else 422):
    a quote accepting it gets its discount, as the offer showed (the same target choice,
    ``pricing.catalog.upsell_target``, the source's upsell targets included)."""
    source = run.snapshot.tier(pricer.selection.upsell_from or "")
    if source is None:
        raise NotFound("tier not found.", code="tier_not_found")
    _, outcome, _, _ = pricer.price(
        "upsell_source", source, pricer.selection.service_date, OFFER_KINDS
    )
    decision = outcome.decisions["upsell"]
    offered = decision["offer"] == "tier" and domain.upsell_target(
        source, run.snapshot.tiers_of(source.segment_id), decision["target_level"]
    )
    if not offered or offered.id != tier.id:
        raise InvalidInput(
            "The rules do not offer this tier as an upsell of upsell_from_tier_id.",
            code="upsell_not_offered",
            details=[{"path": "/json/upsell_from_tier_id", "message": "No such upsell offer."}],
        )
    return decision


def verify_quote(
    ctx: OfferContext, tenant: domain.Tenant, token: str, now: dt.datetime
) -> QuoteClaims:
    return ctx.signer.verify(token, tenant.id, now)


def booking_selection(
    ctx: OfferContext, tenant: domain.Tenant, booking_id: str
) -> tuple[Selection, BookingView]:
    """The selection an existing booking made, and the booking (its status, what was paid)."""
    with ctx.db.transaction() as session:
        booking = get_booking(session, tenant.id, booking_id)
    selection = Selection(
        segment_ref=booking.segment_id, service_date=booking.service_date, guests=booking.guests,
        add_on_refs=tuple(booking.add_on_ids), tier_id=booking.tier_id,
        visitor_id=booking.visitor_id, booking_id=booking.id,
    )  # fmt: skip
    return selection, booking


def quote_upgrade(
    ctx: OfferContext, tenant: domain.Tenant, selection: Selection, to_tier_id: str,
    booking: BookingView | None, now: dt.datetime, request_id: str,
) -> dict[str, Any]:  # fmt: skip
    """Is moving ``selection`` (its tier) to ``to_tier_id`` allowed, and what does it cost? For a
    booking the difference is the target's price now less what the customer paid for the booking
    (``amount_paid``; its platform fee likewise), never today's price of its current tier; for a
    selection, the difference of today's two prices."""
    booking_status = booking.status if booking is not None else "none"
    with ctx.db.transaction() as session:
        run = _Run(ctx, tenant, now, request_id, session, selection.service_date)
        source = run.snapshot.tier(selection.tier_id or "")
        target = run.snapshot.tier(to_tier_id)
        if source is None or target is None:
            raise NotFound("tier not found.", code="tier_not_found")
        if source.id == target.id:
            raise InvalidInput("The selection is already in this tier.", code="same_tier")
        _check_date(run, selection.service_date, "/json/booking_id" if booking else "/json/date")
        add_ons = _resolve_add_ons(run.snapshot, selection.add_on_refs, "/json/add_ons")
        pricer = _Pricer(run, run.counts, selection, add_ons)
        segments = pricer.segments
        run.assign(selection, segments[source.segment_id], [source, target])
        upgrade_facts = {
            "from_segment": segments[source.segment_id].key, "from_tier_id": source.id,
            "from_tier_level": source.level, "level_delta": target.level - source.level,
            "booking_status": booking_status,
        }  # fmt: skip
        _, _, before, _ = pricer.price("upgrade", source, selection.service_date, PRICE_KINDS)
        decision_id, outcome, after, availability = pricer.price(
            "upgrade", target, selection.service_date, (*PRICE_KINDS, "upgrade"), upgrade_facts
        )
        decision = outcome.decisions["upgrade"]
        allowed = bool(decision["allow"]) and availability.bookable
        reason = (
            decision["reason"]
            if not decision["allow"] or availability.bookable
            else f"tier_{availability.status}"
        )
        if selection.booking_id:
            run.records = [replace(r, booking_id=selection.booking_id) for r in run.records]
        add_decisions(session, run.records)
        paid_total = booking.total if booking is not None else before.total
        paid_fee = booking.platform_fee if booking is not None else before.platform_fee
        return {
            "allowed": allowed,
            "reason": reason,
            "rules": decision["rules"],
            "from_tier_id": source.id,
            "to_tier_id": target.id,
            "from_price": _price_view(before),
            "to_price": _price_view(after),
            "amount_paid": booking.total if booking is not None else None,
            "platform_fee_paid": booking.platform_fee if booking is not None else None,
            "difference": after.total - paid_total,
            "platform_fee_difference": after.platform_fee - paid_fee,
            "currency": after.currency,
            "features_gained": _features_gained(source, target),
            "availability": {"status": availability.status, "units_left": availability.units_left},
            "decision_ids": [r.id for r in run.records],
            "decision_id": decision_id,
        }
