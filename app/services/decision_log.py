"""The decision log, for operators and tenant admins: search and export, replay, chain
verification, backtests of draft rulesets over recorded decisions, and retention purges that
keep the chain verifiable. (Who changed which configuration is the change log:
``app/services/change_log.py``.)"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from app.adapters import decision_spool, metrics
from app.adapters.privacy import Masker
from app.adapters.rules_runtime import RulesRuntime
from app.services.rulesets import parse_or_422
from pricing import catalog as domain
from pricing.errors import InvalidInput
from pricing.price import PricedItems, price_items
from pricing.pricer import PRICE_KINDS, adjustments, price_record
from rules.documents import json_diff
from rules.engine import compile_program, evaluate
from rules.outcome import Outcome
from rules.vocabulary import UnrepresentableFacts
from storage import decision_partitions as partitions
from storage import decisions as store
from storage.db import Database, json_dumps
from storage.decision_text import as_dict, link_hash
from storage.repository import Page
from storage.rulesets import RulesetRepository
from storage.tenants import get_tenant, list_tenants

MAX_EXPORT_DAYS = 31
MAX_BACKTEST_DECISIONS = 50_000
LARGEST = 10


def _normal(value: Any) -> Any:
    """As the JSON columns store it (Decimals and dates as strings, tuples as lists)."""
    return json.loads(json_dumps(value))


def _parse_value(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        return text


def decision_filter(
    db: Database, masker: Masker, tenant_id: str | None, args: dict[str, Any]
) -> store.DecisionFilter:
    """Query arguments -> a filter (outcome ``kind.field=value``; booking by id, incl. its quote)."""
    outcome = None
    if args.get("outcome"):
        path, _, value = args["outcome"].partition("=")
        kind, _, name = path.partition(".")
        if not (kind and name and value):
            raise InvalidInput(
                "outcome is <kind>.<field>=<value>, e.g. upgrade.allow=false.",
                code="validation_error",
                details=[{"field": "outcome", "message": "Not <kind>.<field>=<value>."}],
            )
        outcome = (kind, name, _parse_value(value))
    booking = None
    if args.get("booking_id"):
        with db.read() as session:
            booking = store.booking_quote(session, tenant_id, str(args["booking_id"]))
    return store.DecisionFilter(
        tenant_id=tenant_id or (str(args["tenant_id"]) if args.get("tenant_id") else None),
        purpose=args.get("purpose"),
        kind=args.get("kind"),
        start=args.get("from"),
        end=args.get("to"),
        rule_id=args.get("rule_id"),
        outcome=outcome,
        booking=booking,
        quote_id=args.get("quote_id"),
        request_id=args.get("request_id"),
        customer_ref=masker.ref(args["customer_email"]) if args.get("customer_email") else None,
    )


def view(record: store.DecisionRecord) -> dict[str, Any]:
    return as_dict(record)


def search(db: Database, f: store.DecisionFilter, offset: int, limit: int) -> Page[dict[str, Any]]:
    decision_spool.flush_all()  # this process's browsed offers' records first
    with db.read() as session:
        records, total = store.search(session, f, offset, limit)
    return Page([view(r) for r in records], total)


def export(db: Database, f: store.DecisionFilter) -> Iterator[str]:
    """NDJSON lines of every matching decision, oldest first (a bounded time range)."""
    if f.start is None or f.end is None or f.end <= f.start:
        raise InvalidInput(
            "An export needs from < to.",
            code="validation_error",
            details=[{"field": "to", "message": "Give from and to, to after from."}],
        )
    if f.end - f.start > dt.timedelta(days=MAX_EXPORT_DAYS):
        raise InvalidInput(
            f"An export spans at most {MAX_EXPORT_DAYS} days.",
            code="validation_error",
            details=[{"field": "to", "message": f"At most {MAX_EXPORT_DAYS} days after from."}],
        )

    def lines() -> Iterator[str]:
        decision_spool.flush_all()
        with db.read() as session:
            for record in store.stream(session, f):
                yield json_dumps(view(record)) + "\n"

    return lines()


# ---- replay --------------------------------------------------------------------------------------


def _repriced(record: store.DecisionRecord, outcome: Outcome) -> dict[str, Any] | None:
    """The price the record's items get under ``outcome`` (None when it fed no price)."""
    context = record.context
    if "pricing" not in context or not set(PRICE_KINDS) <= set(record.kinds):
        return None
    terms = adjustments(outcome.decisions)
    accepted = context.get("upsell_accepted")
    if accepted:
        terms = replace(
            terms,
            upsell_percent=Decimal(str(accepted["percent_off"])),
            upsell_rules=tuple(accepted["rules"]),
        )
    return price_record(price_items(PricedItems.from_json(context["pricing"]), terms))


def replay(
    db: Database, runtime: RulesRuntime, tenant: domain.Tenant, decision_id: str
) -> dict[str, Any]:
    """Evaluate the stored input again with the recorded ruleset version; identical, or where
    the outputs, fired rules, rules considered or the price differ."""
    decision_spool.flush_all()
    with db.read() as session:
        record = store.get_decision(session, tenant.id, decision_id)
        version = RulesetRepository(session, tenant.id).version(record.ruleset_version)
    with metrics.Timer(metrics.decision_timer("replay")):
        outcome = runtime.evaluate_version(
            tenant.id, record.ruleset_version, record.facts, record.kinds, explain=False
        )
    recorded: dict[str, Any] = {
        "ruleset_hash": record.ruleset_hash,
        "outputs": record.outputs,
        "fired": record.fired,
        "considered": record.considered,
    }
    replayed: dict[str, Any] = {
        "ruleset_hash": version.content_hash,
        "outputs": dict(outcome.decisions),
        "fired": list(outcome.fired),
        "considered": outcome.considered_rows(),
    }
    price = _repriced(record, outcome)
    if price is not None:
        recorded["price"], replayed["price"] = record.context.get("price"), price
    differences = json_diff(_normal(recorded), _normal(replayed))
    return {
        "decision_id": record.id,
        "ruleset_version": record.ruleset_version,
        "engine": runtime.engine,
        "identical": not differences,
        "differences": differences,
        "replayed": _normal(replayed),
    }


# ---- the chain -----------------------------------------------------------------------------------


def _link_problem(
    record: store.DecisionRecord, expected_seq: int, previous_hash: str | None
) -> str | None:
    """Why ``record`` is not the link expected next in the chain, or None."""
    if record.seq != expected_seq:
        return "missing_link"
    if record.prev_hash != previous_hash:
        return "prev_hash_mismatch"
    if link_hash(record) != record.hash:
        return "hash_mismatch"
    return None


def verify(db: Database, tenant_id: str) -> dict[str, Any]:
    """Walk the tenant's chain from where the last purge left it: the first broken link, if any
    (``missing_link``: a link deleted or re-numbered; ``prev_hash_mismatch``: links reordered or
    replaced; ``hash_mismatch``: a record edited; ``head_mismatch``: the newest links removed;
    ``unlinked_record`` / ``extra_link``: a record added beside the chain or past its head)."""
    decision_spool.flush_all()
    with db.read() as session:
        head = store.chain_head(session, tenant_id)
        if head is None:
            return {
                "tenant_id": tenant_id,
                "valid": True,
                "checked": 0,
                "head_seq": 0,
                "purged_through_seq": 0,
                "broken": None,
            }
        head_seq, head_hash = head.seq, head.hash
        expected, checked = head.purged_through_seq + 1, 0
        previous: str | None = head.purged_last_hash
        broken = None
        for record in store.chain(session, tenant_id):
            if record.seq is None or record.seq > head_seq:
                break
            problem = _link_problem(record, expected, previous)
            if problem:
                broken = {
                    "seq": expected,
                    "decision_id": record.id if problem != "missing_link" else None,
                    "found_seq": record.seq,
                    "reason": problem,
                }
                break
            previous, expected, checked = record.hash, expected + 1, checked + 1
        if broken is None and (expected - 1 != head_seq or previous != head_hash):
            broken = {
                "seq": expected,
                "decision_id": None,
                "found_seq": None,
                "reason": "head_mismatch",
            }
        if broken is None:  # a record slipped in beside the chain: unlinked, or past its head
            stray, stray_seq = store.outside_chain(session, tenant_id)
            if stray is not None:
                broken = {
                    "seq": stray_seq or None,
                    "decision_id": stray,
                    "found_seq": stray_seq or None,
                    "reason": "extra_link" if stray_seq else "unlinked_record",
                }
        return {
            "tenant_id": tenant_id,
            "valid": broken is None,
            "checked": checked,
            "head_seq": head_seq,
            "purged_through_seq": head.purged_through_seq,
            "broken": broken,
        }


def purge(db: Database, tenant_id: str, retention_days: int, now: dt.datetime) -> dict[str, Any]:
    cutoff = now - dt.timedelta(days=retention_days)
    with db.transaction() as session:
        done = store.purge_before(session, tenant_id, cutoff, now)
    return {
        "tenant_id": tenant_id,
        "cutoff": cutoff,
        **(
            dataclasses.asdict(done)
            if done
            else {"from_seq": None, "through_seq": None, "last_hash": None, "removed": 0}
        ),
    }


def ensure_partitions(db: Database, now: dt.datetime) -> list[str]:
    """On PostgreSQL, the decision log's monthly partitions from ``now``'s month to
    ``AHEAD_MONTHS`` after it, created where missing: their names."""
    if db.engine.dialect.name != "postgresql":
        return []
    with db.transaction() as session:
        return partitions.ensure_months(session, now)


def partition_names(db: Database) -> list[str]:
    """The decision log's monthly partitions, oldest first (none on SQLite)."""
    if db.engine.dialect.name != "postgresql":
        return []
    with db.read() as session:
        return [x.name for x in partitions.months(session)]


def drop_expired_months(db: Database, now: dt.datetime) -> list[dict[str, Any]]:
    """On PostgreSQL, drop the monthly partitions of the decision log, oldest first, while every
    record of one lies past its tenant's retention (stopping at the first that does not): one
    purge result per tenant and month dropped, with ``partition`` naming it; a month whose drop
    could not get its lock in time ends the list as ``{"partition": name, "busy": True}``."""
    if db.engine.dialect.name != "postgresql":
        return []
    with db.read() as session:
        candidates = [x for x in partitions.months(session) if x.end <= now]
    results: list[dict[str, Any]] = []
    for month in candidates:
        try:
            with db.transaction() as session:
                cutoffs = partitions.expired_cutoffs(session, month, now)
                if cutoffs is None:
                    break
                dropped = partitions.drop_month(session, month, cutoffs, now)
        except partitions.MonthBusy:
            results.append({"partition": month.name, "busy": True})
            break
        results += [
            {"partition": month.name, "cutoff": cutoffs[x.tenant_id], **dataclasses.asdict(x)}
            for x in dropped
        ]
    return results


def purge_expired(db: Database, tenant_ref: str | None, now: dt.datetime) -> list[dict[str, Any]]:
    """Purge every tenant with a retention (or the one named) as of ``now``: for every tenant,
    first whole monthly partitions (``drop_expired_months``), then the rows left before each
    tenant's cutoff (not when a month was busy: the next run drops it whole)."""
    with db.read() as session:
        chosen = (
            [get_tenant(session, tenant_ref)]
            if tenant_ref
            else list_tenants(session, offset=0, limit=1_000_000).items
        )
    dropped = [] if tenant_ref else drop_expired_months(db, now)
    if any(r.get("busy") for r in dropped):
        return dropped  # not row by row what the next run drops whole
    return dropped + [
        purge(db, t.id, t.decision_retention_days, now)
        for t in chosen
        if t.decision_retention_days is not None
    ]


# ---- backtest ------------------------------------------------------------------------------------


def backtest(
    db: Database,
    tenant: domain.Tenant,
    draft_id: str,
    start: dt.datetime,
    end: dt.datetime,
    limit: int = MAX_BACKTEST_DECISIONS,
) -> dict[str, Any]:
    """Run a draft (reference evaluator, a dry run) over the recorded decisions of a time range:
    outputs changed, prices changed with revenue and commission deltas (new - recorded, minor
    units, per purpose too), upgrade allow/deny flips, and the largest price changes."""
    decision_spool.flush_all()
    if end <= start:
        raise InvalidInput(
            "to must be after from.",
            code="validation_error",
            details=[{"field": "to", "message": "After from."}],
        )
    with db.read() as session:
        document = RulesetRepository(session, tenant.id).draft(draft_id).document
    program = compile_program(parse_or_422(document), engine="reference", name="backtest")
    totals = {"compared": 0, "changed": 0, "revenue_delta": 0, "commission_delta": 0}
    by_purpose: dict[str, dict[str, int]] = {}
    upgrades = {"compared": 0, "now_allowed": 0, "now_denied": 0}
    largest: list[tuple[int, str, dict[str, Any]]] = []
    evaluated = outputs_changed = 0
    truncated = False
    with db.read() as session:
        for record in store.stream(session, store.DecisionFilter(tenant.id, start=start, end=end)):
            if evaluated >= limit:
                truncated = True
                break
            evaluated += 1
            try:
                outcome = evaluate(program, record.facts, record.kinds, explain=False)
            except UnrepresentableFacts as error:  # recorded past the API: say which one
                raise UnrepresentableFacts(
                    f"Decision {record.id} holds facts no rules engine can take.",
                    details=error.details,
                ) from None
            outputs_changed += _normal(dict(outcome.decisions)) != _normal(record.outputs)
            if "upgrade" in record.kinds:
                before, after = (
                    record.outputs["upgrade"]["allow"],
                    outcome.decisions["upgrade"]["allow"],
                )
                upgrades["compared"] += 1
                upgrades["now_allowed"] += (not before) and after
                upgrades["now_denied"] += before and not after
            price = _repriced(record, outcome)
            if price is None or "price" not in record.context:
                continue
            old = record.context["price"]
            delta, fee_delta = (
                price["total"] - old["total"],
                price["platform_fee"] - old["platform_fee"],
            )
            for bucket in (totals, by_purpose.setdefault(record.purpose, dict.fromkeys(totals, 0))):
                bucket["compared"] += 1
                bucket["changed"] += delta != 0
                bucket["revenue_delta"] += delta
                bucket["commission_delta"] += fee_delta
            if delta:
                change = {
                    "decision_id": record.id,
                    "purpose": record.purpose,
                    "created_at": record.created_at,
                    "old_total": old["total"],
                    "new_total": price["total"],
                    "delta": delta,
                    "commission_delta": fee_delta,
                }
                item = (abs(delta), record.id, change)
                if len(largest) < LARGEST:
                    heapq.heappush(largest, item)
                else:
                    heapq.heappushpop(largest, item)
    return {
        "draft_id": draft_id,
        "from": start,
        "to": end,
        "currency": tenant.currency,
        "evaluated": evaluated,
        "truncated": truncated,
        "outputs_changed": outputs_changed,
        "prices": {**totals, "by_purpose": by_purpose},
        "upgrades": upgrades,
        "largest_changes": [c for _, _, c in sorted(largest, key=lambda x: (-x[0], x[1]))],
    }
