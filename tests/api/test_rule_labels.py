"""What the customer reads: a rule's customer-facing ``label`` words the price lines it made, and an
upsell rule's ``placement`` says whether the storefront also shows it as a banner on the tier card."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.dates import tenant_today, weekday_ahead
from tests.support.rules import RULESETS, default_document, publish_draft, rule_of
from tests.support.storefront import by_level, ok_offers


def labelled_document(**labels: str) -> dict:
    document = default_document(examples=False)
    for rule_id, label in labels.items():
        rule = rule_of(document, rule_id)
        if label:
            rule["label"] = label
        else:
            rule.pop("label", None)
    return document


def test_a_rules_label_words_the_line_it_made(client, tenant_a):
    publish_draft(
        client,
        tenant_a,
        labelled_document(**{"last-minute-3-days": "Booked 2 days ahead −15 %"}),
    )
    day = tenant_today() + dt.timedelta(days=2)
    body = ok_offers(client, tenant_a, day)
    lines = {line["code"]: line for line in by_level(body)[1]["price"]["lines"]}
    assert lines["last_minute"]["label"] == "Booked 2 days ahead −15 %"
    assert lines["last_minute"]["rules"] == ["last-minute-3-days"]
    assert lines["base"]["label"] == "Essential base price"  # no rule made it: its own words


def test_a_line_of_unlabelled_rules_keeps_its_own_words(client, tenant_a):
    publish_draft(client, tenant_a, labelled_document(**{"last-minute-3-days": ""}))
    day = tenant_today() + dt.timedelta(days=2)
    lines = {
        line["code"]: line
        for line in by_level(ok_offers(client, tenant_a, day))[1]["price"]["lines"]
    }
    assert lines["last_minute"]["label"] == "last-minute discount: 15 % off"


def test_the_default_rules_speak_to_customers(client, tenant_a):
    day = weekday_ahead(min_lead=2)
    while day.isoweekday() != 6:  # a Saturday: the weekend rule fires
        day += dt.timedelta(days=1)
    lines = by_level(ok_offers(client, tenant_a, day))[1]["price"]["lines"]
    season = next(line for line in lines if line["code"] == "season")
    assert "Weekend +10 %" in season["label"].split(" · ")


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("x" * 81, "At most 80 characters."),
        ("two\nlines", "One line of printable text"),
        (" padded", "One line of printable text"),
        (7, "Must be a string."),
    ],
)
def test_a_label_is_checked(client, tenant_a, label, message):
    document = default_document(examples=False)
    rule_of(document, "weekend")["label"] = label
    response = client.post(
        f"{RULESETS}/drafts", headers=tenant_a.admin, json={"name": "x", "document": document}
    )
    assert response.status_code == 422, response.get_json()
    index = document["rules"].index(rule_of(document, "weekend"))
    details = response.get_json()["error"]["details"]
    assert any(
        d["path"] == f"/rules/{index}/label" and d["message"].startswith(message) for d in details
    ), details


def test_an_upsell_placed_as_a_banner_says_so(client, tenant_a):
    day = weekday_ahead()
    before = by_level(ok_offers(client, tenant_a, day))[1]["upsell"]
    assert before["placement"] == "step"  # the default: the upsell step only
    document = default_document(examples=False)
    rule_of(document, "upsell-next-tier")["then"]["placement"] = "banner"
    publish_draft(client, tenant_a, document)
    after = by_level(ok_offers(client, tenant_a, day))[1]["upsell"]
    assert after["placement"] == "banner"
    assert {**after, "placement": "step"} == before


def test_a_placement_is_one_of_the_known(client, tenant_a):
    document = default_document(examples=False)
    rule_of(document, "upsell-next-tier")["then"]["placement"] = "popup"
    response = client.post(
        f"{RULESETS}/drafts", headers=tenant_a.admin, json={"name": "x", "document": document}
    )
    assert response.status_code == 422, response.get_json()
    assert any(
        d["path"].endswith("/then/placement") for d in response.get_json()["error"]["details"]
    )
