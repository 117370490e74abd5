"""Shared fields, validators and field types: keys, names, money and features; dates and instants,
each with its window; shares; and the query schema that refuses parameters it does not know."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from pricing.money import CURRENCY_EXPONENTS

KEY = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Use 1-64 lowercase letters, digits, '-' or '_'."
)
NAME = validate.Length(min=1, max=200)
MAX_AMOUNT = 10**12  # minor units; far above any real package price


# ---- dates, instants and shares: every one the API takes has a documented window --------------

#: Times and dates the API accepts at most: far enough from year 1 and 9999 that local midnights,
#: UTC conversions and "some days later" never overflow (a 500 otherwise). Fields narrow them.
INSTANTS = validate.Range(
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9998, 12, 31, tzinfo=dt.UTC),
    error="Must be between 1970-01-01 and 9998-12-31.",
)
DATES = validate.Range(
    dt.date(1970, 1, 1), dt.date(9998, 12, 31), error="Must be between 1970-01-01 and 9998-12-31."
)

#: How far ahead an activation may be scheduled, and a preview or an evaluation look.
FIVE_YEARS = dt.timedelta(days=5 * 365 + 2)


class Day(fields.Date):
    """A calendar date (YYYY-MM-DD) between 1970-01-01 and 9998-12-31."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=DATES, **kwargs)


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant with its offset, from 1970-01-01T00:00:00Z to ``ahead`` of the moment
    it is read (a moment that far ahead is documented in the field's description)."""

    def __init__(self, *, ahead: dt.timedelta, **kwargs: Any) -> None:
        self.ahead = ahead
        metadata = dict(kwargs.pop("metadata", {}))
        window = f"From 1970-01-01T00:00:00Z to {_span(ahead)} from now."
        metadata["description"] = " ".join(filter(None, (metadata.get("description"), window)))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        latest = dt.datetime.now(dt.UTC) + self.ahead
        if not INSTANTS.min <= moment <= latest:
            raise ma.ValidationError(
                f"Must be between 1970-01-01T00:00:00Z and {_span(self.ahead)} from now "
                f"({latest.replace(microsecond=0).isoformat()})."
            )
        return moment


class Timestamp(fields.DateTime):
    """An instant written as ISO 8601 with its offset (``2027-03-12T09:30:00+00:00``). Everything
    stored is UTC (storage/db.py reads SQLite's naive values back as such); a naive value that
    reaches a response anyway is written as UTC, never without an offset."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | float | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class UnixTimestamp(Timestamp):
    """An instant held as Unix seconds (a signed quote's expiry), written as :class:`Timestamp`."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | float | None:
        if isinstance(value, int) and not isinstance(value, bool):
            value = dt.datetime.fromtimestamp(value, dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def _span(delta: dt.timedelta) -> str:
    return "5 years" if delta == FIVE_YEARS else f"{delta.days} day{'s' * (delta.days != 1)}"


class Share(fields.Decimal):
    """A share in [0, 1] as a plain decimal with at most 6 decimal places ("0.25"; no sign, no
    exponent: "-0" and "1E-400" are refused), given as a string or a JSON number."""

    PLAIN = re.compile(r"0(\.\d{1,6})?|1(\.0{1,6})?")

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": f"^({self.PLAIN.pattern})$", "example": "0.25"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = str(value) if number else value
        if not isinstance(text, str) or not self.PLAIN.fullmatch(text):
            raise ma.ValidationError(
                'Must be a decimal from 0 to 1 with at most 6 decimal places, e.g. "0.25".'
            )
        return super()._deserialize(text, attr, data, **kwargs)


# ---- money and features -----------------------------------------------------------------------


class FeatureValue(fields.Field[bool | int | str]):
    """A feature cell: boolean, integer or short string."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool | int | str:
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) <= 10**9):
            return value
        if isinstance(value, str) and len(value) <= 200:
            return value
        raise ma.ValidationError(
            "Must be a boolean, an integer or a string of at most 200 characters."
        )


class MoneySchema(ma.Schema):
    class Meta:
        description = "An amount of money: integer minor units and its ISO 4217 currency."

    amount = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(0, MAX_AMOUNT),
        metadata={"description": "Integer minor units (cents; yen for JPY)"},
    )
    currency = fields.String(
        required=True,
        validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)),
        metadata={"description": "ISO 4217 code; must be the tenant's currency"},
    )


class FeatureSchema(ma.Schema):
    class Meta:
        description = "One feature of a tier: a key, the label customers read and its value."

    key = fields.String(
        required=True,
        validate=KEY,
        metadata={
            "description": "Stable key of the feature; the comparison matrix lines tiers up by it"
        },
    )
    label = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": 'What customers read, e.g. "Breakfast included"'},
    )
    value = FeatureValue(
        required=True, metadata={"description": "true/false, a number, or a short text"}
    )


# ---- query strings ----------------------------------------------------------------------------


class KnownParameters(ma.Schema):
    """A query schema refusing parameters it does not know (422 at ``/query/<name>``): a misspelt
    filter of an audit search must not silently answer everything."""

    #: Query parameters read by something else (flask-smorest's pagination).
    EXTRA: tuple[str, ...] = ("page", "page_size")

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _refuse_unknown(self, _data: Any, original: Any, **_kwargs: Any) -> None:
        known = {f.data_key or name for name, f in self.fields.items()} | set(self.EXTRA)
        unknown = sorted(set(original) - known)
        if unknown:
            raise ma.ValidationError({name: ["Unknown field."] for name in unknown})
