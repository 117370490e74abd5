"""The ``then`` of a rule: each kind's action parameters, checked and normalised (Decimals for
fractions, defaults filled in)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rules.fields import Errors, check_object, parse_decimal, parse_int, parse_str
from rules.language import FALLBACK_STRATEGIES, ID_PATTERN, PLACEMENTS


def parse_action(kind: str, value: Any, path: str, errors: Errors) -> dict[str, Any] | None:
    before = len(errors.items)
    if kind == "upgrade":
        if not check_object(value, path, errors, {"allow", "reason"}, {"allow", "reason"}):
            return None
        if not isinstance(value["allow"], bool):
            errors.add(f"{path}/allow", "Must be true or false.")
        reason = parse_str(value["reason"], f"{path}/reason", errors, 64)
        if reason is not None and not ID_PATTERN.match(reason):
            errors.add(f"{path}/reason", "A reason code: lowercase letters, digits, '_', '-', '.'.")
        out: dict[str, Any] = {"allow": value["allow"], "reason": reason}
    elif kind == "fallback":
        if not check_object(value, path, errors, {"strategies", "max_results"}, {"strategies"}):
            return None
        strategies = value["strategies"]
        if not isinstance(strategies, list) or not 1 <= len(strategies) <= 5:
            errors.add(f"{path}/strategies", "Must be a list of 1 to 5 strategies.")
            return None
        parsed = []
        for i, s in enumerate(strategies):
            spath = f"{path}/strategies/{i}"
            if not check_object(s, spath, errors, {"type", "direction", "days"}, {"type"}):
                continue
            if s["type"] not in FALLBACK_STRATEGIES:
                errors.add(f"{spath}/type", f"Must be one of {', '.join(FALLBACK_STRATEGIES)}.")
                continue
            item: dict[str, Any] = {"type": s["type"]}
            if s["type"] == "other_tier":
                direction = s.get("direction", "up")
                if direction not in ("up", "down", "nearest"):
                    errors.add(f"{spath}/direction", "Must be up, down or nearest.")
                item["direction"] = direction
            elif "direction" in s:
                errors.add(f"{spath}/direction", "Only other_tier takes a direction.")
            if s["type"] == "nearby_dates":
                item["days"] = parse_int(s.get("days", 3), f"{spath}/days", errors, 1, 14)
            elif "days" in s:
                errors.add(f"{spath}/days", "Only nearby_dates takes days.")
            parsed.append(item)
        out = {
            "strategies": parsed,
            "max_results": parse_int(
                value.get("max_results", 3), f"{path}/max_results", errors, 1, 10
            ),
        }
    elif kind == "season":
        if not check_object(value, path, errors, {"multiplier"}, {"multiplier"}):
            return None
        out = {
            "multiplier": parse_decimal(
                value["multiplier"], f"{path}/multiplier", errors, Decimal("0.1"), Decimal(10), 4
            )
        }
    elif kind == "last_minute":
        if not check_object(value, path, errors, {"percent_off", "group"}, {"percent_off"}):
            return None
        group = parse_str(value.get("group", "default"), f"{path}/group", errors, 32)
        out = {
            "percent_off": parse_decimal(
                value["percent_off"], f"{path}/percent_off", errors, Decimal(0), Decimal(100), 2
            ),
            "group": group,
        }
    elif kind == "commission":
        if not check_object(
            value, path, errors, {"rate_percent", "fixed", "min", "max"}, {"rate_percent"}
        ):
            return None
        out = {
            "rate_percent": parse_decimal(
                value["rate_percent"], f"{path}/rate_percent", errors, Decimal(0), Decimal(100), 3
            ),
            "fixed": parse_int(value.get("fixed", 0), f"{path}/fixed", errors, 0, 10**9),
            "min": parse_int(value.get("min", 0), f"{path}/min", errors, 0, 10**12),
            "max": parse_int(value["max"], f"{path}/max", errors, 0, 10**12)
            if "max" in value
            else None,
        }
        if out["max"] is not None and out["min"] is not None and out["min"] > out["max"]:
            errors.add(f"{path}/min", "min must not be above max.")
    elif kind == "upsell":
        if not check_object(
            value,
            path,
            errors,
            {"offer", "target_level", "add_on", "percent_off", "message_key", "placement"},
            {"offer", "message_key"},
        ):
            return None
        offer = value["offer"]
        out = {
            "offer": offer,
            "message_key": parse_str(value["message_key"], f"{path}/message_key", errors, 64),
        }
        if offer == "tier":
            out["target_level"] = parse_int(
                value.get("target_level"), f"{path}/target_level", errors, 1, 3
            )
            if "add_on" in value:
                errors.add(f"{path}/add_on", "A tier offer has no add_on.")
        elif offer == "add_on":
            out["add_on"] = parse_str(value.get("add_on"), f"{path}/add_on", errors, 64)
            if "target_level" in value:
                errors.add(f"{path}/target_level", "An add-on offer has no target_level.")
        elif offer == "none":
            pass
        else:
            errors.add(f"{path}/offer", "Must be tier, add_on or none.")
        out["percent_off"] = parse_decimal(
            value.get("percent_off", 0), f"{path}/percent_off", errors, Decimal(0), Decimal(100), 2
        )
        if "placement" in value:  # absent: the upsell step only (decisions keep their shape)
            if value["placement"] in PLACEMENTS:
                out["placement"] = value["placement"]
            else:
                errors.add(f"{path}/placement", f"Must be one of {', '.join(PLACEMENTS)}.")
    else:  # pragma: no cover - kinds are checked before
        raise AssertionError(kind)
    return out if len(errors.items) == before else None
