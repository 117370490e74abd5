"""What the widget needs of the API: CORS per API key, segment themes, a month of availability,
and the widget's script served with cache headers."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.dates import days_ahead

SHOP = "https://shop.example"


def key_with_origins(client, fx, origins):
    created = client.post(
        "/v1/admin/api-keys", headers=fx.admin, json={"name": "web", "allowed_origins": origins}
    )
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def test_api_key_origins_are_validated_normalised_and_patched_with_if_match(client, tenant_a):
    fx = tenant_a
    bad = client.post(
        "/v1/admin/api-keys",
        headers=fx.admin,
        json={"name": "web", "allowed_origins": ["https://shop.example/path"]},
    )
    assert bad.status_code == 422
    for wrong in ("ftp://x.example", "shop.example", "https://", "https://a b.example", "*"):
        response = client.post(
            "/v1/admin/api-keys", headers=fx.admin, json={"name": "w", "allowed_origins": [wrong]}
        )
        assert response.status_code == 422, wrong
    key = key_with_origins(client, fx, ["HTTPS://Shop.Example:443", "http://localhost:8080"])
    assert key["allowed_origins"] == [SHOP, "http://localhost:8080"]
    url = f"/v1/admin/api-keys/{key['id']}"
    assert client.patch(url, headers=fx.admin, json={"allowed_origins": []}).status_code == 428
    read = client.get(url, headers=fx.admin)
    assert read.get_json()["allowed_origins"] == [SHOP, "http://localhost:8080"]
    patched = client.patch(
        url,
        headers={**fx.admin, "If-Match": read.headers["ETag"]},
        json={"allowed_origins": ["https://other.example"]},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["allowed_origins"] == ["https://other.example"]
    stale = client.patch(
        url, headers={**fx.admin, "If-Match": read.headers["ETag"]}, json={"name": "x"}
    )
    assert stale.status_code == 412


def preflight(client, path, origin):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )


def test_preflight_is_answered_for_an_origin_some_active_key_allows(client, tenant_a):
    fx = tenant_a
    path = "/v1/storefront/segments"
    assert preflight(client, path, SHOP).status_code == 403
    key = key_with_origins(client, fx, [SHOP])
    allowed = preflight(client, path, SHOP)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "X-Api-Key" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Origin" in allowed.headers["Vary"]
    assert preflight(client, path, "https://evil.example").status_code == 403
    client.post(f"/v1/admin/api-keys/{key['id']}/revoke", headers=fx.admin)
    assert preflight(client, path, SHOP).status_code == 403


def test_an_actual_request_is_allowed_only_for_its_own_keys_origins(client, tenant_a, tenant_b):
    key_with_origins(client, tenant_a, [SHOP])  # another key allows it: not this one
    plain = client.get("/v1/storefront/segments", headers={**tenant_a.storefront, "Origin": SHOP})
    assert plain.status_code == 200
    assert "Access-Control-Allow-Origin" not in plain.headers
    own = key_with_origins(client, tenant_b, [SHOP])["key"]
    allowed = client.get("/v1/storefront/segments", headers={"X-Api-Key": own, "Origin": SHOP})
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in allowed.headers["Vary"]
    other = client.get(
        "/v1/storefront/segments", headers={"X-Api-Key": own, "Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    # errors after authentication carry it too, so the widget can read them
    missing = client.get(
        "/v1/storefront/segments/nope/comparison", headers={"X-Api-Key": own, "Origin": SHOP}
    )
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == SHOP


THEME = {
    "primary_color": "#123abc",
    "accent_color": "#ff8800",
    "font_family": "Inter, sans-serif",
    "radius": "6px",
}


@pytest.mark.parametrize(
    "field,value",
    [
        ("primary_color", "red"),
        ("accent_color", "#12345"),
        ("font_family", "x; background: url(evil)"),
        ("radius", "calc(1px + 1px)"),
        ("radius", "100px"),
    ],
)
def test_a_theme_is_validated(client, tenant_a, field, value):
    fx = tenant_a
    url = f"/v1/admin/segments/{fx.segment.id}"
    etag = client.get(url, headers=fx.admin).headers["ETag"]
    response = client.patch(
        url, headers={**fx.admin, "If-Match": etag}, json={"theme": {**THEME, field: value}}
    )
    assert response.status_code == 422, response.get_json()


def test_a_theme_is_stored_and_shown_to_the_storefront(client, tenant_a):
    fx = tenant_a
    url = f"/v1/admin/segments/{fx.segment.id}"
    etag = client.get(url, headers=fx.admin).headers["ETag"]
    patched = client.patch(url, headers={**fx.admin, "If-Match": etag}, json={"theme": THEME})
    assert patched.status_code == 200 and patched.get_json()["theme"] == THEME
    public = client.get("/v1/storefront/segments", headers=fx.storefront).get_json()
    assert next(s for s in public if s["id"] == fx.segment.id)["theme"] == THEME
    comparison = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/comparison", headers=fx.storefront
    ).get_json()
    assert comparison["segment"]["theme"] == THEME


def test_a_month_of_availability_uses_the_offers_counts_and_prices(client, tenant_a):
    fx = tenant_a
    day = dt.date.fromisoformat(days_ahead(40))
    first = day.replace(day=1)
    tier = fx.tiers[0]
    put = client.put(
        f"/v1/admin/tiers/{tier.id}/capacity",
        headers=fx.admin,
        json={"from": day.isoformat(), "units": 0},
    )
    assert put.status_code == 200, put.get_json()
    response = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/availability?month={first:%Y-%m}&guests=2",
        headers=fx.storefront,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["month"] == f"{first:%Y-%m}" and body["currency"] == fx.tenant.currency
    days = {d["date"]: d for d in body["days"]}
    assert len(days) >= 28 and min(days) == first.isoformat()
    sold = next(t for t in days[day.isoformat()]["tiers"] if t["tier_id"] == tier.id)
    assert sold["status"] == "sold_out"
    for date, entry in days.items():
        if entry["bookable"]:
            offers = client.get(
                f"/v1/storefront/segments/{fx.segment.key}/offers?date={date}&guests=2",
                headers=fx.storefront,
            ).get_json()["offers"]
            bookable = [
                o["price"]["total"] for o in offers if o["availability"]["status"] == "available"
            ]
            assert entry["lowest_price"] in bookable, (date, entry, bookable)
            break
    bad = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/availability?month=2026-13&guests=2",
        headers=fx.storefront,
    )
    assert bad.status_code == 422


def test_the_widget_script_is_served_with_cache_headers(client):
    response = client.get("/widget/v1/tierwise.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "max-age" in response.headers["Cache-Control"]
    assert len(response.data) <= 50 * 1024  # the budget, gzipped
    again = client.get(
        "/widget/v1/tierwise.js", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    plain = client.get("/widget/v1/tierwise.js")
    assert b'customElements.define("tierwise-storefront"' in plain.data
    assert b"import " not in plain.data and b"https://" not in plain.data
    demo = client.get("/demo")
    assert demo.status_code == 200 and b"<tierwise-storefront" in demo.data
