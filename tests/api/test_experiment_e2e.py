"""End to end: a two-variant upsell experiment driven by simulated storefront traffic through the
HTTP API (offers, events, quotes, checkout, Stripe webhooks) on PostgreSQL, then the results
endpoint checked against counts kept by the simulation and statistics computed here by hand.

Variant ``b`` pushes the Ultimate tier with 10 % off (an ``upsell`` rule conditioned on the
variant); the control keeps the default upsell at full price. Visitors behave by a fixed script
(no randomness); noise the measurement must ignore is sent too: repeated events, events of another
experiment, an upsell event from a visitor never assigned, an unpaid checkout.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from decimal import ROUND_HALF_UP, Decimal

import pytest

from storage.experiments import from_record
from tests.support.http import ok
from tests.support.rules import default_document, publish_draft
from tests.support.storefront import deliver, pay_at_fake, quote, start

DAY = dt.date.today() + dt.timedelta(days=40)
KEY = "ultimate-push"
VISITORS = [f"visitor-{i:03d}" for i in range(48)]
#: variant b is offered Ultimate at 10 % off (a higher priority than the default upsell's)
PUSH_ULTIMATE_B = {
    "id": "push-ultimate-b",
    "kind": "upsell",
    "priority": 20,
    "when": {
        "all": [
            {"fact": "experiment", "op": "eq", "value": KEY},
            {"fact": "variant", "op": "eq", "value": "b"},
            {"fact": "tier_level", "op": "lt", "value": 3},
        ]
    },
    "then": {
        "offer": "tier",
        "target_level": 3,
        "percent_off": "10",
        "message_key": "upsell.ultimate.save10",
    },
}


def publish_variant_rules(client, fx):
    """The default ruleset plus: variant b is offered Ultimate at 10 % off (a higher priority)."""
    document = default_document(PUSH_ULTIMATE_B)
    publish_draft(client, fx, document, name="push ultimate", note="experiment")


def behaviour(i: int, variant: str) -> tuple[bool, bool, bool]:
    """(exposed, accepts, books) for visitor i: b accepts more often than the control."""
    exposed = i % 8 != 7
    accepts = exposed and (i % 2 == 0 if variant == "b" else i % 4 == 0)
    books = accepts and i % 3 != 2
    return exposed, accepts, books


def event(client, fx, client_event_id, type_, visitor, **extra):
    body = {
        "client_event_id": client_event_id,
        "type": type_,
        "visitor_id": visitor,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        "segment": fx.segment.key,
        **extra,
    }
    ok(client.post("/v1/storefront/events", headers=fx.storefront, json={"events": [body]}), 202)


def buy(client, fx, fake_stripe, visitor, source_tier_id, target_tier_id, *, pay=True):
    """Quote the accepted upsell, check out, pay at the fake Stripe and deliver its webhook."""
    quoted = quote(
        client, fx, target_tier_id, DAY, visitor_id=visitor, upsell_from_tier_id=source_tier_id
    )
    response = start(client, fx, quoted["token"], email=f"{visitor}@example.com", name=None)
    started = ok(response, 201)
    if pay:
        session = pay_at_fake(fake_stripe, started)
        answer = deliver(client, fake_stripe.event("checkout.session.completed", session["id"]))
        assert ok(answer)["outcome"] == "paid"
    return quoted


def pooled_z(c_a, n_a, c_b, n_b):
    p = (c_a + c_b) / (n_a + n_b)
    return (c_b / n_b - c_a / n_a) / math.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b))


def test_two_variant_experiment_end_to_end(stripe_client, tenant_a, fake_stripe):
    client, fx = stripe_client, tenant_a
    ok(
        client.put(
            f"/v1/admin/tiers/{fx.tiers[2].id}/capacity",
            headers=fx.admin,
            json={"from": DAY.isoformat(), "units": 100},
        )
    )
    created = ok(
        client.post(
            "/v1/admin/experiments",
            headers=fx.admin,
            json={
                "key": KEY,
                "hypothesis": "10 % off Ultimate lifts upsell acceptance",
                "variants": [
                    {"key": "control", "weight": "0.5", "control": True},
                    {"key": "b", "weight": "0.5"},
                ],
                "targeting": {"segments": [fx.segment.key]},
                "primary_metric": "upsell_acceptance",
                "guardrail_metrics": ["booking_conversion", "revenue_per_visitor"],
            },
        ),
        201,
    )
    publish_variant_rules(client, fx)  # after the experiment: rules may only name known variants
    ok(client.post(f"/v1/admin/experiments/{created['id']}/start", headers=fx.admin))
    design = from_record(created)  # the assignment GrowthBook's SDKs would compute

    source, ultimate = fx.tiers[0], fx.tiers[2]
    truth = {
        v: {
            "assigned": 0,
            "exposed": 0,
            "accepted": 0,
            "declined": 0,
            "booked": 0,
            "revenue": [],
        }
        for v in ("control", "b")
    }
    for i, visitor in enumerate(VISITORS):
        offers = ok(
            client.get(
                f"/v1/storefront/segments/{fx.segment.key}/offers?date={DAY}&guests=2&visitor_id={visitor}",
                headers=fx.storefront,
            )
        )
        variant = offers["experiment"]["variant"]
        assert offers["experiment"] == {"key": KEY, "variant": variant}
        assert variant == design.bucket(visitor), "GrowthBook hash v2 assignment"
        upsell = offers["offers"][0]["upsell"]
        full = offers["offers"][2]["price"]["total"]
        if variant == "b":
            assert upsell["message_key"] == "upsell.ultimate.save10"
            assert upsell["total"] == int(
                (Decimal(full) * Decimal("0.9")).to_integral(ROUND_HALF_UP)
            )
        else:
            assert upsell["message_key"] == "upsell.ultimate" and upsell["total"] == full
        # The decision record of the offer carries the assignment.
        decision = ok(
            client.get(
                f"/v1/admin/decisions/{offers['offers'][0]['decision_id']}", headers=fx.admin
            )
        )
        assert decision["facts"]["variant"] == variant
        assert decision["context"]["assignment"]["variant"] == variant
        # Asking again is sticky: same variant.
        again = ok(
            client.get(
                f"/v1/storefront/segments/{fx.segment.key}/offers?date={DAY}&guests=2&visitor_id={visitor}",
                headers=fx.storefront,
            )
        )
        assert again["experiment"]["variant"] == variant

        t = truth[variant]
        t["assigned"] += 1
        exposed, accepts, books = behaviour(i, variant)
        if not exposed:
            continue
        t["exposed"] += 1
        tags = {"experiment": KEY, "variant": variant, "tier_id": source.id}
        event(client, fx, f"{visitor}-shown", "upsell_shown", visitor, **tags)
        event(client, fx, f"{visitor}-shown", "upsell_shown", visitor, **tags)  # a resend
        event(client, fx, f"{visitor}-shown-2", "upsell_shown", visitor, **tags)  # seen twice
        if not accepts:
            t["declined"] += 1
            event(client, fx, f"{visitor}-no", "upsell_declined", visitor, **tags)
            continue
        t["accepted"] += 1
        event(client, fx, f"{visitor}-yes", "upsell_accepted", visitor, **tags)
        if books:
            quote = buy(client, fx, fake_stripe, visitor, source.id, ultimate.id)
            assert quote["price"]["total"] == upsell["total"], "the upsell's price is honoured"
            assert quote["experiment"] == {"key": KEY, "variant": variant}
            t["booked"] += 1
            t["revenue"].append(quote["price"]["total"])
        else:
            buy(client, fx, fake_stripe, visitor, source.id, ultimate.id, pay=False)  # unpaid

    # Noise: another experiment's events, and an upsell event from a visitor never assigned.
    event(
        client, fx, "other-1", "upsell_accepted", VISITORS[0], experiment="other-exp", variant="b"
    )
    event(client, fx, "ghost-1", "upsell_shown", "ghost", experiment=KEY, variant="b")

    results = ok(client.get(f"/v1/admin/experiments/{created['id']}/results", headers=fx.analyst))
    assert results["bucket_version"] == 1 and results["primary_metric"] == "upsell_acceptance"
    rows = {r["key"]: r for r in results["variants"]}
    for variant, t in truth.items():
        row = rows[variant]
        revenue = t["revenue"]
        assert (row["assigned"], row["exposed"], row["accepted"], row["declined"]) == (
            t["assigned"],
            t["exposed"],
            t["accepted"],
            t["declined"],
        ), variant
        assert (row["booked"], row["bookings"], row["revenue"]) == (
            len(revenue),
            len(revenue),
            sum(revenue),
        ), variant
        assert row["revenue_squares"] == sum(r * r for r in revenue)
        assert row["conversions"] == t["accepted"]
        assert row["rate"] == pytest.approx(t["accepted"] / t["exposed"], abs=1e-6)
        assert row["revenue_per_exposure"] == pytest.approx(sum(revenue) / t["exposed"], abs=1e-6)
    c, b = truth["control"], truth["b"]
    assert c["assigned"] > 10 and b["assigned"] > 10, "the hash splits the visitors"
    assert rows["control"]["vs_control"] is None

    # Primary metric: pooled two-proportion z-test (Fisher's exact test below 400 visitors),
    # MOVER interval from Clopper-Pearson limits, exact Beta chance to beat; references from
    # scipy (exact binomial limits, Fisher, quadrature).
    from scipy import integrate
    from scipy import stats as sps

    cmp = rows["b"]["vs_control"]
    ca, na, cb, nb = c["accepted"], c["exposed"], b["accepted"], b["exposed"]
    p_a, p_b = ca / na, cb / nb
    z = pooled_z(ca, na, cb, nb)
    l_a, u_a = sps.binomtest(ca, na).proportion_ci(method="exact")
    l_b, u_b = sps.binomtest(cb, nb).proportion_ci(method="exact")
    low = p_b - p_a - math.hypot(p_b - l_b, u_a - p_a)
    high = p_b - p_a + math.hypot(u_b - p_b, p_a - l_a)
    assert cmp["absolute"] == pytest.approx(p_b - p_a, abs=1e-6)
    assert cmp["absolute_ci_low"] == pytest.approx(low, abs=1e-5)
    assert cmp["absolute_ci_high"] == pytest.approx(high, abs=1e-5)
    if ca:
        assert cmp["relative"] == pytest.approx(p_b / p_a - 1, abs=1e-6)
    else:
        assert cmp["relative"] is None and cmp["relative_reason"] == "control_has_no_conversions"
    assert cmp["z"] == pytest.approx(z, abs=1e-5)
    if cmp["test"] == "fisher_exact":  # below 400 visitors or an expected cell below 5
        fisher = sps.fisher_exact([[cb, nb - cb], [ca, na - ca]]).pvalue
        assert cmp["p_value"] == pytest.approx(fisher, abs=1e-5)
    else:
        assert cmp["test"] == "two_proportion_z"
        assert cmp["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-5)
    post_a, post_b = sps.beta(1 + ca, 1 + na - ca), sps.beta(1 + cb, 1 + nb - cb)
    chance, _ = integrate.quad(lambda u: post_a.cdf(post_b.ppf(u)), 0, 1, epsabs=1e-10)
    assert cmp["chance_to_beat_control"] == pytest.approx(chance, abs=1e-5)

    # Guardrails: booking conversion (proportion) and revenue per visitor (Welch t on means).
    guardrails = {g["metric"]: {v["key"]: v for v in g["variants"]} for g in results["guardrails"]}
    booking = guardrails["booking_conversion"]
    assert booking["b"]["value"] == pytest.approx(len(b["revenue"]) / b["exposed"], abs=1e-6)
    assert booking["control"]["vs_control"] is None
    per_visitor = {
        v: t["revenue"] + [0] * (t["exposed"] - len(t["revenue"])) for v, t in truth.items()
    }
    welch_se = math.sqrt(
        statistics.variance(per_visitor["control"]) / c["exposed"]
        + statistics.variance(per_visitor["b"]) / b["exposed"]
    )
    diff = statistics.mean(per_visitor["b"]) - statistics.mean(per_visitor["control"])
    revenue_cmp = guardrails["revenue_per_visitor"]["b"]["vs_control"]
    welch = sps.ttest_ind(per_visitor["b"], per_visitor["control"], equal_var=False)
    assert revenue_cmp["test"] == "welch_t"
    assert revenue_cmp["absolute"] == pytest.approx(diff, abs=1e-4)
    assert revenue_cmp["z"] == pytest.approx(diff / welch_se, abs=1e-5)
    assert revenue_cmp["p_value"] == pytest.approx(float(welch.pvalue), abs=1e-5)

    # Sample ratio: chi-square of exposures against 50/50.
    n = c["exposed"] + b["exposed"]
    chi2 = sum((t["exposed"] - n / 2) ** 2 / (n / 2) for t in truth.values())
    assert results["srm"]["observed"] == [c["exposed"], b["exposed"]]
    assert results["srm"]["chi2"] == pytest.approx(chi2, abs=1e-5)
    assert results["srm"]["p_value"] == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), abs=1e-5)
    assert results["srm"]["mismatch"] is False

    # Stopping ends assignment; the numbers stay readable.
    ok(client.post(f"/v1/admin/experiments/{created['id']}/stop", headers=fx.admin))
    after = ok(
        client.get(
            f"/v1/storefront/segments/{fx.segment.key}/offers?date={DAY}&guests=2&visitor_id={VISITORS[0]}",
            headers=fx.storefront,
        )
    )
    assert after["experiment"] is None
    assert (
        ok(client.get(f"/v1/admin/experiments/{created['id']}/results", headers=fx.analyst))[
            "variants"
        ]
        == results["variants"]
    )
