"""An experiment's results from per-variant counts: rates, revenue per exposure, lift against the
control with 95 % intervals, p-values, chance to beat control, and the sample-ratio check.

Pure: the counts come from ``storage.experiments.variant_counts``; the statistics from
``pricing.experiments`` (formulas documented there and in README "Experiment statistics").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pricing.experiment_design import Experiment
from pricing.experiments import (
    chance_to_beat_control,
    chance_to_beat_control_mean,
    lift,
    mean_difference,
    srm_check,
    two_proportion_ztest,
)

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


def _rounded(values: Mapping[str, float]) -> dict[str, float | None]:
    return {key: _round(value) for key, value in values.items()}


def compare(metric: str, control: VariantCounts, variant: VariantCounts) -> dict[str, Any]:
    """``variant`` against ``control`` on one metric: lift with 95 % CI, p-value, chance to beat."""
    if metric == "revenue_per_visitor":
        a = (control.exposed, control.revenue, control.revenue_squares)
        b = (variant.exposed, variant.revenue, variant.revenue_squares)
        diff = mean_difference(*a, *b)
        return _rounded(
            {key: diff[key] for key in diff if key not in ("mean_a", "mean_b")}
            | {"chance_to_beat_control": chance_to_beat_control_mean(*a, *b)}
        ) | {"test": "welch_z"}
    ca, cb = _conversions(metric, control), _conversions(metric, variant)
    out = lift(ca, control.exposed, cb, variant.exposed)
    z, p = two_proportion_ztest(ca, control.exposed, cb, variant.exposed)
    return _rounded(
        {key: out[key] for key in out if key not in ("p_a", "p_b")}
        | {"z": z, "p_value": p}
        | {
            "chance_to_beat_control": chance_to_beat_control(
                ca, control.exposed, cb, variant.exposed
            )
        }
    ) | {"test": "two_proportion_z"}


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
                "vs_control": None if v.key == control.key else compare(primary_metric, base, c),
            }
        )
    guardrails = []
    for metric in guardrail_metrics:
        rows = []
        for v in experiment.variants:
            c = counts.get(v.key, VariantCounts())
            comparison = None if v.key == control.key else compare(metric, base, c)
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
    weights = [float(v.weight) for v in experiment.variants]
    observed = [counts.get(v.key, VariantCounts()).exposed for v in experiment.variants]
    chi2, p = srm_check(observed, weights)
    assigned = [counts.get(v.key, VariantCounts()).assigned for v in experiment.variants]
    chi2_assigned, p_assigned = srm_check(assigned, weights)
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
