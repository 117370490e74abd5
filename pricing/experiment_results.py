"""An experiment's results from per-variant counts: rates, revenue per exposure, lift against the
control with 95 % intervals, p-values, chance to beat control, and the sample-ratio check.

Pure: the counts come from ``storage.experiments.variant_counts``; the statistics from
``pricing.statistics`` and ``pricing.experiments`` (formulas there and in docs/experiments.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pricing import statistics
from pricing.experiment_design import Experiment
from pricing.experiments import mean_stats, srm_check

#: p-value below which the split is flagged as broken (GrowthBook's default SRM threshold).
SRM_THRESHOLD = 0.001
#: p-value below which a guardrail metric that got worse is flagged.
GUARDRAIL_ALPHA = 0.05
DIGITS = 6


@dataclass(frozen=True)
class VariantCounts:
    """Distinct visitors of one variant (one bucket version): assigned, exposed (were shown the
    upsell), and of the exposed, how many accepted, declined, booked; their paid bookings and
    revenue (minor units) and the sum of squares of each exposed visitor's revenue."""

    assigned: int = 0
    exposed: int = 0
    accepted: int = 0
    declined: int = 0
    booked: int = 0
    bookings: int = 0
    revenue: int = 0
    revenue_squares: int = 0


def _conversions(metric: str, c: VariantCounts) -> int:
    return c.accepted if metric == "upsell_acceptance" else c.booked


def _round(value: float) -> float | None:
    return None if math.isinf(value) or math.isnan(value) else round(value, DIGITS)


#: Visitors per arm below which a comparison only says "collecting data" (the minimum-sample guard).
MIN_VISITORS = 100
#: Plain words for each comparison status.
STATUS_TEXT = {
    "sample_ratio_mismatch": "Sample ratio mismatch: the split is broken, do not trust these figures",
    "collecting_data": f"Collecting data: fewer than {MIN_VISITORS} visitors in an arm",
    "not_yet_significant": "Not yet significant: no difference shown so far",
    "variant_ahead": "Variant ahead",
    "variant_behind": "Variant behind",
}


def comparison_status(
    control_visitors: int, variant_visitors: int, sequential_p: float | None, absolute: float | None
) -> str:
    """Status of one comparison before the sample-ratio check (``results`` applies that).

    Decided on the always-valid p-value, so looking every day does not inflate false calls."""
    if min(control_visitors, variant_visitors) < MIN_VISITORS:
        return "collecting_data"
    if sequential_p is None or sequential_p >= statistics.ALPHA or not absolute:
        return "not_yet_significant"
    return "variant_ahead" if absolute > 0 else "variant_behind"


def _estimate(prefix: str, e: statistics.Estimate) -> dict[str, Any]:
    return {
        prefix: _opt(e.value),
        f"{prefix}_ci_low": _opt(e.low),
        f"{prefix}_ci_high": _opt(e.high),
        f"{prefix}_reason": e.reason,
    }


def _opt(value: float | None) -> float | None:
    return None if value is None else _round(value)


def compare(
    metric: str, control: VariantCounts, variant: VariantCounts, srm_mismatch: bool = False
) -> dict[str, Any]:
    """``variant`` against ``control`` on one metric: lift with 95 % intervals, fixed-horizon
    p-value, chance to beat control, always-valid p-value and interval, and a status.

    Conversions: MOVER Clopper–Pearson interval (absolute), Miettinen–Nurminen score interval
    (relative), pooled z-test (Fisher's exact test below 400 visitors or an expected cell below
    5), exact Beta chance to beat. Revenue per visitor: Welch t-test and interval, Fieller
    interval (relative), chance to beat from the t posteriors. Both: mSPRT.
    Methods and sources: ``pricing.statistics`` and docs/experiments.md."""
    if metric == "revenue_per_visitor":
        mean_a, var_a = mean_stats(control.exposed, control.revenue, control.revenue_squares)
        mean_b, var_b = mean_stats(variant.exposed, variant.revenue, variant.revenue_squares)
        args = (mean_a, var_a, control.exposed, mean_b, var_b, variant.exposed)
        welch = statistics.welch_t(*args)
        relative = statistics.relative_mean_lift(*args)
        sequential = statistics.msprt(
            mean_b - mean_a, var_a, control.exposed, var_b, variant.exposed
        )
        fixed: dict[str, Any] = {
            **_estimate("absolute", welch.difference),
            **_estimate("relative", relative),
            "z": _opt(welch.t),
            "df": _opt(welch.df),
            "p_value": _opt(welch.p_value),
            "chance_to_beat_control": _opt(statistics.chance_to_beat_t(*args)),
            "test": "welch_t",
        }
    else:
        ca, cb = _conversions(metric, control), _conversions(metric, variant)
        na, nb = control.exposed, variant.exposed
        z, p, test = statistics.proportions_test(ca, na, cb, nb)
        sequential = statistics.msprt_proportions(ca, na, cb, nb)
        fixed = {
            **_estimate("absolute", statistics.difference(ca, na, cb, nb)),
            **_estimate("relative", statistics.relative_lift(ca, na, cb, nb)),
            "z": _round(z),
            "df": None,
            "p_value": _round(p),
            "chance_to_beat_control": _round(statistics.chance_to_beat_beta(ca, na, cb, nb)),
            "test": test,
        }
    status = (
        "sample_ratio_mismatch"
        if srm_mismatch
        else comparison_status(
            control.exposed, variant.exposed, sequential.p_value, sequential.difference.value
        )
    )
    return fixed | {
        "sequential": {
            "p_value": _opt(sequential.p_value),
            "absolute_ci_low": _opt(sequential.difference.low),
            "absolute_ci_high": _opt(sequential.difference.high),
            "reason": sequential.difference.reason,
            "method": "msprt_normal_mixture",
        },
        "status": status,
        "status_text": STATUS_TEXT[status],
    }


def metric_value(metric: str, c: VariantCounts) -> float:
    """Rate of the metric per exposed visitor (revenue: minor units per exposed visitor)."""
    if not c.exposed:
        return 0.0
    if metric == "revenue_per_visitor":
        return c.revenue / c.exposed
    return _conversions(metric, c) / c.exposed


def results(
    experiment: Experiment,
    counts: Mapping[str, VariantCounts],
    primary_metric: str,
    guardrail_metrics: Sequence[str],
) -> dict[str, Any]:
    """Per variant figures for the primary metric, guardrails, and the SRM check. A variant with
    no data reports zeros; the control reports no comparison."""
    control = experiment.control or experiment.variants[0]
    base = counts.get(control.key, VariantCounts())
    weights = [float(v.weight) for v in experiment.variants]
    observed = [counts.get(v.key, VariantCounts()).exposed for v in experiment.variants]
    chi2, p = srm_check(observed, weights)
    assigned = [counts.get(v.key, VariantCounts()).assigned for v in experiment.variants]
    chi2_assigned, p_assigned = srm_check(assigned, weights)
    mismatch = p < SRM_THRESHOLD or p_assigned < SRM_THRESHOLD
    variants = []
    for v in experiment.variants:
        c = counts.get(v.key, VariantCounts())
        conversions = _conversions(primary_metric, c)
        variants.append(
            {
                "key": v.key,
                "name": v.name,
                "control": v.key == control.key,
                "weight": str(v.weight),
                **asdict(c),
                "conversions": conversions,
                "rate": _round(conversions / c.exposed if c.exposed else 0.0),
                "revenue_per_exposure": _round(metric_value("revenue_per_visitor", c)),
                "vs_control": None
                if v.key == control.key
                else compare(primary_metric, base, c, mismatch),
            }
        )
    guardrails = []
    for metric in guardrail_metrics:
        rows = []
        for v in experiment.variants:
            c = counts.get(v.key, VariantCounts())
            comparison = None if v.key == control.key else compare(metric, base, c, mismatch)
            worse = bool(
                comparison is not None
                and (comparison["absolute"] or 0) < 0
                and (comparison["p_value"] if comparison["p_value"] is not None else 1)
                < GUARDRAIL_ALPHA
            )
            rows.append(
                {
                    "key": v.key,
                    "value": _round(metric_value(metric, c)),
                    "vs_control": comparison,
                    "worse": worse,
                }
            )
        guardrails.append({"metric": metric, "variants": rows})
    return {
        "primary_metric": primary_metric,
        "variants": variants,
        "guardrails": guardrails,
        "srm": {
            "observed": observed,
            "expected_shares": [str(v.weight) for v in experiment.variants],
            "chi2": _round(chi2),
            "p_value": _round(p),
            "mismatch": p < SRM_THRESHOLD,
            # The same check on the assignment itself: a broken split (hashing, persistence)
            # rather than a skew in who gets to see the upsell.
            "assigned": {
                "observed": assigned,
                "chi2": _round(chi2_assigned),
                "p_value": _round(p_assigned),
                "mismatch": p_assigned < SRM_THRESHOLD,
            },
        },
    }
