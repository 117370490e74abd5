"""Deprecated operations say so on every answer (Deprecation, Sunset, Link) and in the OpenAPI
document; the others do not. No operation is deprecated today, so a test-only route stands in."""

from __future__ import annotations

import datetime as dt
import email.utils

import pytest
from flask import Flask, abort, jsonify
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from app.http.deprecation import Deprecation, deprecated, deprecation_of, install

SINCE = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
SUNSET = dt.datetime(2027, 7, 1, 12, 0, tzinfo=dt.UTC)
LINK = "https://docs.tierwise.example/api#offers-v2"


class OldThing(MethodView):
    @deprecated(since=SINCE, sunset=SUNSET, link=LINK)
    def get(self):
        """An old way to read a thing

        Reads the thing."""
        return jsonify({"thing": 1})

    def post(self):
        return jsonify({"made": True}), 201


def test_a_deprecated_operation_sends_deprecation_sunset_and_link(app, tenant_a):
    app.add_url_rule("/v1/test-only/old-thing", view_func=OldThing.as_view("old_thing"))
    client = app.test_client()

    response = client.get("/v1/test-only/old-thing")
    assert response.status_code == 200
    assert response.headers["Deprecation"] == f"@{int(SINCE.timestamp())}" == "@1798761600"
    sunset = email.utils.parsedate_to_datetime(response.headers["Sunset"])
    assert sunset == SUNSET and response.headers["Sunset"].endswith(" GMT")
    assert response.headers["Link"] == f'<{LINK}>; rel="deprecation"'

    # the operation beside it on the same path is not deprecated
    made = client.post("/v1/test-only/old-thing")
    assert made.status_code == 201
    assert not {"Deprecation", "Sunset"} & set(made.headers.keys())

    # nor is any real operation of the API today
    listed = client.get("/v1/storefront/segments", headers=tenant_a.storefront)
    assert listed.status_code == 200
    assert "Deprecation" not in listed.headers


def test_errors_of_a_deprecated_operation_carry_the_headers_too(app):
    class Gone(MethodView):
        @deprecated(since=SINCE, sunset=SUNSET, link=LINK)
        def get(self):
            abort(404)

    app.add_url_rule("/v1/test-only/gone", view_func=Gone.as_view("gone"))
    response = app.test_client().get("/v1/test-only/gone")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.headers["Deprecation"] == "@1798761600"
    assert 'rel="deprecation"' in response.headers["Link"]


def test_the_openapi_document_marks_the_operation_deprecated():
    app = Flask("deprecation-doc")
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    blp = Blueprint("things", __name__, url_prefix="/v1/things")
    blp.route("/old")(OldThing)
    api.register_blueprint(blp)
    install(app)

    operation = api.spec.to_dict()["paths"]["/v1/things/old"]["get"]
    assert operation["deprecated"] is True
    assert operation["summary"] == "An old way to read a thing"
    assert operation["description"].startswith("**Deprecated** since 2027-01-01T00:00:00+00:00")
    assert operation["description"].endswith("Reads the thing.")
    assert "deprecated" not in api.spec.to_dict()["paths"]["/v1/things/old"]["post"]
    assert deprecation_of(app, "things.OldThing", "GET") == Deprecation(SINCE, SUNSET, LINK)
    assert deprecation_of(app, "things.OldThing", "POST") is None
    assert app.test_client().get("/v1/things/old").headers["Deprecation"] == "@1798761600"


@pytest.mark.parametrize(
    ("since", "sunset"),
    [
        (SUNSET, SINCE),  # sunset before since
        (dt.datetime(2027, 1, 1), SUNSET),  # naive
    ],
)
def test_a_deprecation_needs_aware_dates_in_order(since, sunset):
    with pytest.raises(ValueError):
        Deprecation(since, sunset, LINK)
