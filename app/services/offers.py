"""Priced tier offers, quotes and quotes of moves between tiers: the storefront's core use cases.

Each runs the same way, in one transaction:

1. gather the inputs in one place (:func:`_gather`): the day's availability counts and the
   catalog version to price with (one round trip), the catalog snapshot of that version, the
   tenant's ruleset in force, the tenant's today, and the visitor's experiment variant (read, or
   assigned and stored on first exposure);
2. one pure call in ``pricing.offers`` prices everything, asking the tenant's compiled rules
   program for its decisions through ``evaluate`` (:class:`Decider`);
3. write the decision records of those evaluations (a browsed offer's through the process's
   writer thread, in batches: ``app.adapters.decision_spool``);
4. return the priced value; the HTTP layer serialises it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

from app.adapters import metrics
from app.adapters.decision_spool import DecisionSpool
from app.adapters.privacy import Masker
from app.adapters.quotes import QuoteClaims, QuoteSigner
from app.adapters.rules_runtime import RulesRuntime
from app.adapters.snapshots import SnapshotCache
from app.services import offer_memo
from pricing import catalog as domain
from pricing import offers as pricing_offers
from pricing import pricer, quotes
from pricing.availability import DayCounts
from pricing.pricer import NEARBY_WINDOW, Selection
from rules.outcome import Outcome
from storage.availability import day_counts
from storage.availability_cache import CountsCache
from storage.bookings import BookingView, get_booking
from storage.db import Database, Executor
from storage.decision_text import LineShape, shape_of
from storage.decisions import DecisionRecord, add_decisions
from storage.experiments import assign, sticky_variant
from storage.ids import uuid7 as new_id

#: Priced at another moment than written (an admin preview): the record says ``as_of``.
PREVIEW_SKEW = dt.timedelta(minutes=1)


@dataclass
class OfferContext:
    db: Database
    rules: RulesRuntime
    snapshots: SnapshotCache
    signer: QuoteSigner
    engine: str
    masker: Masker
    #: Browsed offers' decision records, appended in batches by the process's writer thread.
    spool: DecisionSpool
    #: Browsed offers' availability counts, kept while nothing changed them.
    counts: CountsCache
    #: Priced offer sheets by what they are a pure function of (``offer_memo``).
    sheets: offer_memo.SheetMemo = field(default_factory=offer_memo.SheetMemo)


@dataclass(frozen=True)
class Decided:
    id: str
    decisions: pricer.Decisions


@dataclass
class Decider:
    """``evaluate`` for the pure call: the tenant's compiled program at the version in force;
    keeps each outcome until the decision records are written."""

    ctx: OfferContext
    tenant_id: str
    inputs: pricer.Inputs
    outcomes: dict[str, tuple[Outcome, dt.datetime]] = field(default_factory=dict)

    def __call__(self, purpose: str, facts: dict[str, Any], kinds: Any) -> Decided:
        with metrics.Timer(metrics.decision_timer(purpose)):
            outcome = self.ctx.rules.evaluate_version(
                self.tenant_id, self.inputs.ruleset.version, facts, kinds, explain=False
            )  # the record keeps [id, matched, fired]; reading a decision explains it
        decision_id = new_id()
        self.outcomes[decision_id] = (outcome, dt.datetime.now(dt.UTC))
        return Decided(decision_id, outcome.decisions)

    def records(
        self,
        evaluations: tuple[pricer.Evaluation, ...],
        now: dt.datetime,
        request_id: str,
        customer: dict[str, str] | None = None,
        quote_id: str | None = None,
        booking_id: str | None = None,
        shapes: dict[int, LineShape] | None = None,
    ) -> list[DecisionRecord]:
        """The decision records of the evaluations, in the order they were made. ``shapes``: the
        line shapes of a kept sheet's evaluations by position (``offer_memo.Priced.shapes``),
        given to the records that differ from that evaluation's others only in their id,
        request id and time (no customer, quote, booking, assignment or preview time), and made
        from the first such record of a position (``storage.decision_text.shape_of``)."""
        kept, masked, customer_ref = self.ctx.masker.customer(customer)
        assignment = self.inputs.assignment
        shaped = shapes is not None and quote_id is None and booking_id is None
        out = []
        for position, evaluation in enumerate(evaluations):
            outcome, written = self.outcomes[evaluation.id]
            context = dict(evaluation.context)  # a kept sheet's evaluations serve many records
            if assignment is not None and evaluation.facts["experiment"]:
                context["assignment"] = assignment.record()
            if kept:
                context["customer"] = kept
            if abs(written - now) > PREVIEW_SKEW:  # the log's time is the real one
                context["as_of"] = now.isoformat()
            # nothing of its own added (an assignment, a customer, a preview's time)
            plain = shaped and context == evaluation.context
            record = DecisionRecord(
                id=evaluation.id,
                tenant_id=self.tenant_id,
                purpose=evaluation.purpose,
                kinds=list(evaluation.kinds),
                ruleset_version=self.inputs.ruleset.version,
                ruleset_hash=self.inputs.ruleset.content_hash,
                engine=self.ctx.engine,
                facts=evaluation.facts,
                considered=outcome.considered_rows(),
                fired=list(outcome.fired),
                outputs=dict(outcome.decisions),
                context=context,
                request_id=request_id,
                quote_id=quote_id,
                booking_id=booking_id,
                created_at=written,
                masked_fields=masked,
                customer_ref=customer_ref,
                shape=shapes.get(position) if plain and shapes is not None else None,
            )
            if plain and record.shape is None and shapes is not None:
                shape = shape_of(record)
                if shape is not None:
                    shapes[position] = shape
            out.append(record)
        return out


def _gather(
    ctx: OfferContext,
    session: Executor,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    scope: Any,
    read_counts: Callable[[Executor, str, dt.date, dt.date, dt.datetime], DayCounts] = day_counts,
) -> pricer.Inputs:
    """Every input of one use case, read in one place: availability counts and the catalog
    version (one round trip; a browsed offer's maybe none: ``CountsCache``), the snapshot of that
    version (the tenant's settings come from it, never from a cached principal), the ruleset in
    force, the tenant's today, and — once ``scope(snapshot, today)`` checked the request and
    named what it prices — the visitor's experiment variant."""
    day = selection.service_date
    counts = read_counts(
        session,
        tenant.id,
        day - dt.timedelta(days=NEARBY_WINDOW),
        day + dt.timedelta(days=NEARBY_WINDOW),
        now,
    )
    inputs = inputs_at(ctx, tenant, counts, now)
    found: pricer.Scope = scope(inputs.snapshot, inputs.today)
    return replace(inputs, assignment=_assignment(session, inputs, selection, found, now))


def inputs_at(
    ctx: OfferContext, tenant: domain.Tenant, counts: DayCounts, now: dt.datetime
) -> pricer.Inputs:
    """The inputs at the counts' catalog version: its snapshot (the tenant's settings come from
    it, never from a cached principal), the ruleset in force with its rules' customer labels, and
    the tenant's today."""
    snapshot = ctx.snapshots.get(tenant.id, counts.catalog_version)
    active = ctx.rules.active(tenant.id, now)
    today = now.astimezone(zoneinfo.ZoneInfo(snapshot.tenant.time_zone)).date()
    labels = _Labels(ctx.rules, tenant.id, active.version)
    ruleset = pricer.RulesetRef(active.version, active.content_hash, labels)
    return pricer.Inputs(snapshot, counts, today, ruleset)


class _Labels(Mapping[str, str]):
    """A version's rule labels, asked of the rules runtime when pricing first reads one: a sheet
    reused (``offer_memo``) prices nothing and never does (the program cache's lookup, ~2 % of
    an offer)."""

    def __init__(self, rules: RulesRuntime, tenant_id: str, version: int) -> None:
        self._rules, self._tenant_id, self._version = rules, tenant_id, version
        self._labels: Mapping[str, str] | None = None

    def _loaded(self) -> Mapping[str, str]:
        if self._labels is None:
            self._labels = self._rules.labels(self._tenant_id, self._version)
        return self._labels

    def __getitem__(self, rule_id: str) -> str:
        return self._loaded()[rule_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _assignment(
    session: Executor,
    inputs: pricer.Inputs,
    selection: Selection,
    scope: pricer.Scope,
    now: dt.datetime,
) -> pricer.Assignment | None:
    """The visitor's variant: an admin preview's choice, else the first live experiment covering
    what is priced that has (sticky) or gives (first exposure, stored now) the visitor one."""
    if selection.preview_variant is not None:
        return pricer.Assignment(*selection.preview_variant, experiment=None)
    tenant_id, visitor = inputs.tenant.id, selection.visitor_id
    for experiment in pricer.experiments_for(
        inputs.snapshot, selection, scope.segment, scope.tiers
    ):
        stored = sticky_variant(session, tenant_id, experiment, visitor)
        if stored is not None:
            return pricer.Assignment(experiment.key, stored, experiment, visitor, True)
        bucket = experiment.bucket(visitor) if experiment.status == "running" else None
        if bucket is not None:
            variant = assign(session, tenant_id, experiment, visitor, bucket, now)
            return pricer.Assignment(experiment.key, variant, experiment, visitor)
    return None


def quote_offers(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    request_id: str,
) -> pricing_offers.OfferSheet:
    """Every active tier of the segment, priced for the date and party (``pricing.offers``)."""
    priced = quote_offers_tagged(ctx, tenant, selection, now, request_id)
    assert priced.sheet is not None  # nobody holds a tag here
    return priced.sheet


@dataclass(frozen=True)
class TaggedOffers:
    """An offer sheet and its tag (``offers_tag``): priced now (``priced``) or a kept one
    reissued (``reused``: ``offer_memo.rendered`` answers from it); neither when the caller
    already holds the sheet of that tag (nothing was priced or recorded: it is still the
    answer), and ``sheet`` is then None."""

    tag: str
    priced: pricing_offers.OfferSheet | None = None
    reused: offer_memo.Reused | None = None

    @cached_property
    def sheet(self) -> pricing_offers.OfferSheet | None:
        """The sheet; a reused one is made on first use (``offer_memo.Reused.sheet``)."""
        return self.reused.sheet() if self.reused is not None else self.priced

    @property
    def evaluations(self) -> tuple[pricer.Evaluation, ...]:
        """The sheet's evaluations, under its decision ids (none when the caller holds it)."""
        if self.reused is not None:
            return self.reused.evaluations
        return self.priced.evaluations if self.priced is not None else ()


#: Every field of a selection but its visitor, in order (``sheet_key``).
_SELECTED = tuple(f.name for f in fields(Selection) if f.name != "visitor_id")


def sheet_key(inputs: pricer.Inputs, selection: Selection) -> str:
    """A digest of everything an offer sheet is a pure function of (``pricing.offers`` has no
    clock and no I/O): the selection but its visitor, the catalog version (the snapshot, the
    tenant's settings), the ruleset in force, the tenant's today, the availability counts of the
    window and the visitor's variant. Equal keys, equal sheets (but for the decision ids each
    pricing records, and the visitor)."""
    assignment = inputs.assignment
    state = (
        tuple([getattr(selection, name) for name in _SELECTED]),
        inputs.snapshot.tenant.id,
        inputs.snapshot.catalog_version,
        inputs.ruleset.version,
        inputs.ruleset.content_hash,
        inputs.today,
        (assignment.key, assignment.variant) if assignment else None,
        inputs.counts.text,
    )
    return hashlib.blake2b(repr(state).encode(), digest_size=16).hexdigest()


def offers_tag(key: str, selection: Selection) -> str:
    """The offers' entity tag: the sheet's key and the visitor (the answer names their variant)."""
    mixed = f"{key}|{selection.visitor_id}".encode()
    return "o" + hashlib.blake2b(mixed, digest_size=15).hexdigest()


def _sheet(
    ctx: OfferContext,
    tag: str,
    key: str,
    inputs: pricer.Inputs,
    selection: Selection,
    decide: Decider,
) -> TaggedOffers:
    """The sheet of ``key``: one kept from an earlier pricing under new decision ids (its
    outcomes handed to ``decide`` for the records), or priced now and kept."""
    kept = ctx.sheets.get(key)
    if kept is None:
        metrics.cache_miss("offer_sheets").inc()
        sheet = pricing_offers.price_offers(inputs, selection, decide)
        outcomes = tuple(decide.outcomes[e.id][0] for e in sheet.evaluations)
        ctx.sheets.put(key, offer_memo.Priced(sheet, outcomes))
        return TaggedOffers(tag, priced=sheet)
    metrics.cache_hit("offer_sheets").inc()
    reused = offer_memo.reissued(kept, new_id, selection, inputs.assignment)
    written = dt.datetime.now(dt.UTC)
    for evaluation, outcome in zip(reused.evaluations, kept.outcomes, strict=True):
        decide.outcomes[evaluation.id] = (outcome, written)
    return TaggedOffers(tag, reused=reused)


def quote_offers_tagged(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    request_id: str,
    held: Callable[[str], bool] = lambda tag: False,
) -> TaggedOffers:
    """``quote_offers`` with its tag: when ``held(tag)`` (the client kept the sheet of that tag:
    If-None-Match), nothing is priced and no decision is recorded; the inputs are read (and a
    first exposure to an experiment stored) all the same."""
    # Browsing writes only its decision records (and first exposures to experiments): a relaxed
    # commit, on a Core connection (see Database.browsing).
    with ctx.db.browsing() as session:
        inputs = _gather(
            ctx,
            session,
            tenant,
            selection,
            now,
            lambda snapshot, today: pricing_offers.offers_scope(snapshot, today, selection),
            ctx.counts.counts,
        )
        key = sheet_key(inputs, selection)
        tag = offers_tag(key, selection)
        if held(tag):
            return TaggedOffers(tag)
        decide = Decider(ctx, tenant.id, inputs)
        made = _sheet(ctx, tag, key, inputs, selection, decide)
        shapes = made.reused.kept.shapes if made.reused is not None else None
        records = decide.records(made.evaluations, now, request_id, shapes=shapes)
        if not ctx.spool.submit(records):  # off (tests' shared connection, SQLite) or full
            add_decisions(session, records)
    return made


@dataclass(frozen=True)
class SignedQuote:
    quote_id: str
    token: str
    claims: QuoteClaims
    quote: quotes.PricedQuote


def quote_selection(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    now: dt.datetime,
    request_id: str,
) -> SignedQuote:
    """The price of one bookable selection and its signed token (a price lock checkout honours)."""
    with ctx.db.transaction() as session:
        inputs = _gather(
            ctx,
            session,
            tenant,
            selection,
            now,
            lambda snapshot, today: quotes.quote_scope(snapshot, today, selection),
        )
        decide = Decider(ctx, tenant.id, inputs)
        quote = quotes.price_quote(inputs, selection, decide)
        quote_id = new_id()
        assignment, price, tier = quote.assignment, quote.price, quote.tier
        claims = QuoteClaims(
            quote_id=quote_id,
            tenant_id=tenant.id,
            segment_id=tier.segment_id,
            tier_id=tier.id,
            service_date=selection.service_date.isoformat(),
            guests=selection.guests,
            add_on_ids=[a.id for a in quote.add_ons],
            currency=price.currency,
            subtotal=price.subtotal,
            total=price.total,
            platform_fee=price.platform_fee,
            ruleset_version=quote.ruleset.version,
            ruleset_hash=quote.ruleset.content_hash,
            expires_at=ctx.signer.expiry(now),
            visitor_id=selection.visitor_id,
            experiment=assignment.key if assignment else "",
            variant=assignment.variant if assignment else "",
            decision_ids=[quote.decision_id],
        )
        records = decide.records(
            quote.evaluations, now, request_id, selection.customer, quote_id=quote_id
        )
        add_decisions(session, records)
    return SignedQuote(quote_id, ctx.signer.sign(claims), claims, quote)


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
        segment_ref=booking.segment_id,
        service_date=booking.service_date,
        guests=booking.guests,
        add_on_refs=tuple(booking.add_on_ids),
        tier_id=booking.tier_id,
        visitor_id=booking.visitor_id,
        booking_id=booking.id,
    )
    return selection, booking


def quote_upgrade(
    ctx: OfferContext,
    tenant: domain.Tenant,
    selection: Selection,
    to_tier_id: str,
    booking: BookingView | None,
    now: dt.datetime,
    request_id: str,
) -> quotes.MoveQuote:
    """Is moving ``selection`` (its tier) to ``to_tier_id`` allowed, and what does it cost (for a
    booking: from what was paid; ``pricing.offers.price_move``)?"""
    paid = (
        quotes.PaidBooking(booking.id, booking.status, booking.total, booking.platform_fee)
        if booking is not None
        else None
    )
    with ctx.db.transaction() as session:
        inputs = _gather(
            ctx,
            session,
            tenant,
            selection,
            now,
            lambda snapshot, today: quotes.move_scope(snapshot, today, selection, to_tier_id, paid),
        )
        decide = Decider(ctx, tenant.id, inputs)
        move = quotes.price_move(inputs, selection, to_tier_id, paid, decide)
        records = decide.records(
            move.evaluations, now, request_id, selection.customer, booking_id=selection.booking_id
        )
        add_decisions(session, records)
    return move
