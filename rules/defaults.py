"""The ruleset every new tenant starts with (published as version 1). Tenants edit a copy."""

from __future__ import annotations

from typing import Any

DEFAULT_RULESET: dict[str, Any] = {
    "description": "tierwise default rules: a modest summer peak, weekend uplift, last-minute "
    "discounts, upgrades allowed upward within a segment, a 10 % commission.",
    "stacking": "best_only",
    "guardrails": {
        "min_multiplier": "0.5",
        "max_multiplier": "2",
        "max_total_discount_percent": "30",
    },
    "rules": [
        {
            "id": "upgrade-up",
            "kind": "upgrade",
            "priority": 100,
            "description": "Moving to a higher tier of the same segment is allowed.",
            "when": {"fact": "level_delta", "op": "gt", "value": 0},
            "then": {"allow": True, "reason": "upgrade_allowed"},
        },
        {
            "id": "no-downgrade-after-booking",
            "kind": "upgrade",
            "priority": 200,
            "when": {
                "all": [
                    {"fact": "level_delta", "op": "lt", "value": 0},
                    {"fact": "booking_status", "op": "in", "value": ["pending", "paid"]},
                ]
            },
            "then": {"allow": False, "reason": "downgrade_after_booking"},
        },
        {
            "id": "downgrade-before-booking",
            "kind": "upgrade",
            "priority": 50,
            "when": {"fact": "level_delta", "op": "lt", "value": 0},
            "then": {"allow": True, "reason": "downgrade_allowed"},
        },
        {
            "id": "fallback-default",
            "kind": "fallback",
            "priority": 0,
            "then": {
                "strategies": [
                    {"type": "other_tier", "direction": "up"},
                    {"type": "nearby_dates", "days": 3},
                    {"type": "other_segment"},
                ],
                "max_results": 3,
            },
        },
        {
            "id": "summer-peak",
            "label": "Summer +20 %",
            "kind": "season",
            "priority": 100,
            "when": {"fact": "service_month", "op": "in", "value": [7, 8]},
            "then": {"multiplier": "1.2"},
        },
        {
            "id": "weekend",
            "label": "Weekend +10 %",
            "kind": "season",
            "priority": 50,
            "when": {"fact": "service_weekday", "op": "in", "value": [6, 7]},
            "then": {"multiplier": "1.1"},
        },
        {
            "id": "last-minute-3-days",
            "label": "Booked 3 days or less ahead −15 %",
            "kind": "last_minute",
            "priority": 100,
            "when": {"fact": "lead_days", "op": "between", "value": [0, 3]},
            "then": {"percent_off": "15"},
        },
        {
            "id": "last-minute-week",
            "label": "Booked 4–7 days ahead −5 %",
            "kind": "last_minute",
            "priority": 50,
            "when": {"fact": "lead_days", "op": "between", "value": [4, 7]},
            "then": {"percent_off": "5"},
        },
        {
            "id": "commission-standard",
            "kind": "commission",
            "priority": 0,
            "then": {"rate_percent": "10", "min": 0},
        },
        {
            "id": "upsell-next-tier",
            "kind": "upsell",
            "priority": 10,
            "when": {"fact": "tier_level", "op": "lt", "value": 3},
            "then": {
                "offer": "tier",
                "target_level": 3,
                "percent_off": "0",
                "message_key": "upsell.ultimate",
            },
        },
        {
            "id": "no-cross-segment",
            "kind": "upgrade",
            "priority": 300,
            "description": "A move to a tier of another segment is a change of segment, not an upgrade.",
            "when": {"fact": "cross_segment", "op": "eq", "value": 1},
            "then": {"allow": False, "reason": "cross_segment"},
        },
    ],
    "tests": [
        {
            "name": "summer Saturday with 2 days lead",
            "facts": {
                "service_date": "2027-07-10",
                "service_month": 7,
                "service_weekday": 6,
                "lead_days": 2,
                "tier_level": 1,
            },
            "expect": {
                "season": {"multiplier": "1.32"},
                "last_minute": {"percent_off": "15"},
                "commission": {"rate_percent": "10"},
                "upsell": {"offer": "tier", "target_level": 3},
            },
        },
        {
            "name": "downgrade after booking is denied",
            "facts": {"level_delta": -1, "booking_status": "paid"},
            "expect": {"upgrade": {"allow": False, "reason": "downgrade_after_booking"}},
        },
        {
            "name": "upgrade is allowed",
            "facts": {"level_delta": 1, "booking_status": "paid"},
            "expect": {"upgrade": {"allow": True, "reason": "upgrade_allowed"}},
        },
        {
            "name": "a higher level in another segment is not an upgrade",
            "facts": {"from_segment": "premium", "segment": "budget", "level_delta": 2},
            "expect": {"upgrade": {"allow": False, "reason": "cross_segment"}},
        },
        {
            "name": "a higher level in the same segment is",
            "facts": {"from_segment": "premium", "segment": "premium", "level_delta": 2},
            "expect": {"upgrade": {"allow": True, "reason": "upgrade_allowed"}},
        },
    ],
}
