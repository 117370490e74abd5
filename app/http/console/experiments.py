"""The console's experiment designs: create and edit (variants, their traffic split, coverage,
targeted segments, the primary metric) through the JSON API's schemas and use cases; a form
that does not pass comes back with its problems (422)."""

from __future__ import annotations

from typing import Any

from flask import Response, g, redirect, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.core import (
    Reply,
    _below,
    _render,
    _signed_in,
    _validated,
    _writable_tenant,
    console,
)
from app.http.schemas.experiments import ExperimentCreateSchema, ExperimentUpdateSchema
from app.services import catalog, experiments
from pricing import catalog as domain
from pricing.errors import InvalidInput
from storage.accounts import SignedIn

METRICS = (
    ("upsell_acceptance", "Upsell acceptance"),
    ("booking_conversion", "Booking conversion"),
    ("revenue_per_visitor", "Revenue per visitor"),
)
#: Variant rows the form shows: the experiment's own, then empty ones up to this many.
VARIANT_ROWS = 4
NEW_DESIGN: dict[str, Any] = {
    "key": "",
    "name": "",
    "hypothesis": "",
    "coverage": "1",
    "primary_metric": "upsell_acceptance",
    "targeting": {"segments": []},
    "variants": [
        {"key": "control", "name": "Control", "weight": "0.5", "control": True},
        {"key": "treatment", "name": "Treatment", "weight": "0.5", "control": False},
    ],
    "status": "draft",
}


def _variants_from_form() -> list[dict[str, Any]]:
    """Rows ``variant_key``/``variant_name``/``variant_weight`` in order; the radio ``control``
    names the control's row; rows without a key are left out."""
    form = request.form
    keys = form.getlist("variant_key")
    names = form.getlist("variant_name")
    weights = form.getlist("variant_weight")
    control = form.get("control", "")
    rows = []
    for i, key in enumerate(keys):
        if not key.strip():
            continue
        rows.append(
            {
                "key": key.strip(),
                "name": (names[i] if i < len(names) else "").strip(),
                "weight": (weights[i] if i < len(weights) else "").strip(),
                "control": control == str(i),
            }
        )
    return rows


def _design_from_form(creating: bool) -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "hypothesis": form.get("hypothesis", ""),
        "coverage": form.get("coverage", "").strip() or "1",
        "primary_metric": form.get("primary_metric", ""),
        "variants": _variants_from_form(),
        "targeting": {"segments": [s for s in form.getlist("segments") if s]},
    }
    if creating:
        data["key"] = form.get("key", "")
    elif form.get("bump_bucket_version") == "on":
        data["bump_bucket_version"] = True
    return data


def _form(
    signed_in: SignedIn,
    tenant: domain.Tenant,
    design: dict[str, Any],
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Reply:
    segments = catalog.list_segments(services().db, tenant, None, 0, 200).items
    variants = list(design.get("variants") or [])
    rows = variants + [{}] * max(0, VARIANT_ROWS - len(variants))
    body = _render(
        "experiment_form",
        signed_in,
        tenant,
        design=design,
        variant_rows=rows,
        segments=segments,
        metrics=METRICS,
        problems=problems or [],
        page_name="experiments",
    )
    if isinstance(body, Response):
        body.status_code = status
    return body


def _problems(error: InvalidInput) -> list[dict[str, str]]:
    details = error.details if isinstance(error.details, list) else []
    found = [
        {"field": str(d.get("field") or d.get("path") or ""), "message": str(d.get("message", ""))}
        for d in details
        if isinstance(d, dict)
    ]
    return found or [{"field": "", "message": error.message}]


@console.get("/experiments/new")
@_below("experiments")
def new_experiment(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    return _form(signed_in, tenant, NEW_DESIGN)


@console.post("/experiments")
def create_experiment() -> Reply:
    """A new draft experiment, as ``POST /v1/admin/experiments`` makes it."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    raw = _design_from_form(creating=True)
    author = f"{g.principal.role}:{g.principal.subject}"
    try:
        data = _validated(ExperimentCreateSchema(), raw)
        created = experiments.create_experiment(services().db, tenant, author, data, _now())
    except InvalidInput as error:
        return _form(signed_in, tenant, {**raw, "status": "draft"}, _problems(error), 422)
    return redirect(f"/admin/experiments?done=created+{created['key']}", 303)


@console.get("/experiments/<uuid:experiment_id>/edit")
@_below("experiments")
def edit_experiment(signed_in: SignedIn, tenant: domain.Tenant, experiment_id: Any) -> Reply:
    found = experiments.get_experiment(services().db, tenant, str(experiment_id))
    return _form(signed_in, tenant, found)


@console.post("/experiments/<uuid:experiment_id>")
def update_experiment(experiment_id: Any) -> Reply:
    """The design changed, as ``PATCH /v1/admin/experiments/{id}`` changes it (the version read
    goes back: a stale form is 412; once started, new weights need the re-bucket box)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    db = services().db
    found = experiments.get_experiment(db, tenant, str(experiment_id))
    raw = _design_from_form(creating=False)
    author = f"{g.principal.role}:{g.principal.subject}"
    version = int(request.form.get("version") or 0)
    try:
        data = _validated(ExperimentUpdateSchema(), raw)
        experiments.update_experiment(db, tenant, found["id"], version, data, author, _now())
    except InvalidInput as error:
        shown = {**found, **raw, "id": found["id"], "key": found["key"], "version": version}
        return _form(signed_in, tenant, shown, _problems(error), 422)
    return redirect(f"/admin/experiments?done=saved+{found['key']}", 303)
