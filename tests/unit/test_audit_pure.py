"""Pure pieces of the decision log: recorded pricing items price exactly as the live selection,
the JSON diff of replays, the keyed masking of personal data, and the canonical chain hash."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.adapters.privacy import Masker
from pricing.catalog import AddOn, Tier
from pricing.money import Money
from pricing.price import (
    Adjustments,
    Bounds,
    Commission,
    PricedItems,
    items_of,
    price_items,
    price_selection,
)
from rules.documents import json_diff
from storage.decision_text import canonical, link_hash
from storage.decisions import GENESIS, DecisionRecord


@given(
    base=st.integers(0, 10**7),
    per_guest=st.integers(0, 10**5),
    guests=st.integers(0, 30),
    add_ons=st.lists(
        st.tuples(st.sampled_from(["flat", "per_guest"]), st.integers(0, 10**5)), max_size=3
    ),
    multiplier=st.decimals(Decimal("0.5"), Decimal("3"), places=3),
    discount=st.decimals(0, 100, places=2),
    upsell=st.decimals(0, 100, places=2),
    floor=st.one_of(st.none(), st.integers(0, 10**7)),
    ceiling=st.one_of(st.none(), st.integers(0, 10**7)),
    currency=st.sampled_from(["EUR", "JPY", "BHD"]),
)
def test_recorded_items_price_exactly_like_the_selection(
    base, per_guest, guests, add_ons, multiplier, discount, upsell, floor, ceiling, currency
):
    tier = Tier(
        "t",
        "s",
        2,
        "Preferred",
        "",
        Money(base, currency),
        Money(per_guest, currency),
        30,
        price_floor=floor,
        price_ceiling=ceiling,
    )
    extras = [
        AddOn(f"a{i}", f"a{i}", f"Add-on {i}", p, Money(a, currency))
        for i, (p, a) in enumerate(add_ons)
    ]
    terms = Adjustments(
        multiplier=multiplier,
        discount_percent=discount,
        upsell_percent=upsell,
        commission=Commission(Decimal("10")),
    )
    items = PricedItems.from_json(json.loads(json.dumps(items_of(tier, guests, extras).as_json())))
    assert price_items(items, terms) == price_selection(
        tier, guests, extras, terms, Bounds(floor, ceiling)
    )


def test_json_diff_locates_every_difference():
    recorded = {"a": {"b": [1, 2, {"c": "x"}]}, "same": True, "gone": 1, "flag": 1}
    replayed = {"a": {"b": [1, 3, {"c": "y"}]}, "same": True, "new": 2, "flag": True}
    assert json_diff(recorded, replayed) == [
        {"path": "/a/b/1", "recorded": 2, "replayed": 3},
        {"path": "/a/b/2/c", "recorded": "x", "replayed": "y"},
        {"path": "/flag", "recorded": 1, "replayed": True},
        {"path": "/gone", "recorded": 1, "replayed": None},
        {"path": "/new", "recorded": None, "replayed": 2},
    ]
    assert json_diff([1, 2], [1, 2, 3]) == [
        {"path": "/", "recorded": [1, 2], "replayed": [1, 2, 3]}
    ]
    assert json_diff({"x/y": 1}, {"x/y": 2}) == [{"path": "/x~1y", "recorded": 1, "replayed": 2}]
    assert json_diff(recorded, recorded) == []


def test_masking_is_keyed_normalised_and_never_clear():
    masker = Masker("pepper-one")
    kept, masked, ref = masker.customer({"email": " Ana@Example.COM ", "name": "Ana", "phone": ""})
    assert masked == ["/context/customer/email", "/context/customer/name"]
    assert "phone" not in kept and all(v.startswith("pii:") and len(v) == 36 for v in kept.values())
    assert ref == kept["email"] == masker.ref("ana@example.com")
    assert Masker("pepper-two").ref("ana@example.com") != ref  # keyed: another key, other hashes
    assert masker.token("name", "Ana") != masker.token("email", "Ana")  # the field is part of it
    assert masker.customer(None) == ({}, [], None)


def record(**over) -> DecisionRecord:
    base = DecisionRecord(
        id="11111111-1111-1111-1111-111111111111",
        tenant_id="22222222-2222-2222-2222-222222222222",
        purpose="quote",
        kinds=["season"],
        ruleset_version=1,
        ruleset_hash="h",
        engine="durable",
        facts={"guests": 2, "service_date": dt.date(2027, 3, 1)},
        considered=[["r", True, True]],
        fired=["r"],
        outputs={"season": {"multiplier": Decimal("1.2")}},
        context={},
        request_id="q",
        quote_id=None,
        booking_id=None,
        created_at=dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC),
        seq=1,
        prev_hash=GENESIS,
    )
    return dataclasses.replace(base, **over)


def test_the_chain_hash_covers_every_field_as_stored():
    one = record()
    assert link_hash(one) == link_hash(
        record(outputs={"season": {"multiplier": "1.2"}})
    )  # as stored
    assert json.loads(canonical(one))["facts"]["service_date"] == "2027-03-01"
    for change in (
        {"seq": 2},
        {"prev_hash": "1" * 64},
        {"fired": []},
        {"request_id": "other"},
        {"created_at": one.created_at + dt.timedelta(microseconds=1)},
        {"masked_fields": ["/context/customer/email"]},
    ):
        assert link_hash(record(**change)) != link_hash(one), change
    assert link_hash(record(hash="anything")) == link_hash(one)  # the hash is not its own input
