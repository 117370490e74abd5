"""pricing.catalog.upsell_target: the tier a tier upsell offers, shared by offers and quotes."""

from __future__ import annotations

from pricing.catalog import Tier, upsell_target
from pricing.money import Money


def tier(id_: str, level: int, segment: str = "s", targets: tuple[str, ...] = ()) -> Tier:
    price = Money(100, "EUR")
    return Tier(id_, segment, level, id_, "", price, price, 4, upsell_target_ids=targets)


ONE, TWO, THREE = tier("one", 1), tier("two", 2), tier("three", 3)
OTHER = tier("other", 3, segment="x")
TIERS = [ONE, TWO, THREE, OTHER]


def test_without_a_list_the_rules_level_in_the_same_segment_above_the_source():
    assert upsell_target(ONE, TIERS, 3) == THREE
    assert upsell_target(TWO, TIERS, 3) == THREE
    assert upsell_target(TWO, TIERS, 2) is None  # not above
    assert upsell_target(THREE, TIERS, 1) is None
    assert upsell_target(ONE, [ONE, TWO, OTHER], 3) is None  # not on sale in the segment


def test_a_list_narrows_the_targets():
    listed = tier("one", 1, targets=("two",))
    assert upsell_target(listed, TIERS, 2) == TWO
    assert upsell_target(listed, TIERS, 3) is None
    elsewhere = tier("one", 1, targets=("other",))
    assert upsell_target(elsewhere, TIERS, 3) is None  # the upsell stays in the segment
