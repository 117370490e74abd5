"""What tierwise tells a tenant itself (its customers' emails are in ``events_out``), by email
through the outbox, so sent and retried like any customer email:

* each new booking — a booking paid (``booking.confirmed``), not a checkout merely started, which
  most often lapses — to the tenant's ``notification_email``;
* a webhook endpoint disabled after failing throughout — to the tenant's admins (their console
  accounts) and its ``notification_email``, each address once."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from storage import mail as mail_store
from storage import outbox as store

log = logging.getLogger(__name__)

#: The templates (app/adapters/mail_templates/<name with "_" for ".">.txt and .html).
NEW_BOOKING = "tenant.newBooking"
ENDPOINT_DISABLED = "webhook.endpointDisabled"


def new_booking(session: Session, tenant_id: str, event_id: str, now: dt.datetime) -> None:
    """Queue the new-booking email of the ``booking.confirmed`` event ``event_id``, if the tenant
    has a notification address."""
    address, _admins = mail_store.recipients(session, tenant_id)
    if address:
        mail_store.queue_mail(session, tenant_id, event_id, NEW_BOOKING, address, now)


def disable_if_failing_throughout(session: Session, delivery: store.Due, now: dt.datetime) -> bool:
    """The delivery gave up after ~3 days: if the endpoint has answered nothing well since this
    delivery's first attempt, it failed throughout: disable it and tell the tenant. Whether it
    was disabled."""
    since = store.failing_since(session, delivery.tenant_id, delivery.endpoint.id)
    first = store.first_attempt(session, delivery.tenant_id, delivery.id)
    if since is None or first is None or since > first:
        return False
    reason = f"every delivery failed since {since.isoformat()}"
    endpoint = delivery.endpoint
    if not store.disable_endpoint(session, delivery.tenant_id, endpoint.id, reason, now):
        return False  # another delivery's give-up disabled it (and told the tenant)
    log.warning(
        "webhook endpoint %s of tenant %s disabled: %s (%s)",
        endpoint.id,
        delivery.tenant_id,
        reason,
        endpoint.url,
    )
    endpoint_disabled(session, delivery.tenant_id, endpoint.id, endpoint.url, reason, now)
    return True


def endpoint_disabled(
    session: Session, tenant_id: str, endpoint_id: str, url: str, reason: str, now: dt.datetime
) -> list[str]:
    """Queue the email saying the endpoint was disabled to the tenant's admins and notification
    address (each once, whatever its case); to whom."""
    address, admins = mail_store.recipients(session, tenant_id)
    to: dict[str, str] = {}
    for candidate in (address, *admins):
        if candidate:
            to.setdefault(candidate.lower(), candidate)
    if not to:
        log.warning("tenant %s has no admin and no notification address to tell", tenant_id)
        return []
    event_id = mail_store.note(
        session,
        tenant_id,
        ENDPOINT_DISABLED,
        {"endpoint_id": endpoint_id, "url": url, "reason": reason, "disabled_at": now.isoformat()},
        now,
    )
    for recipient in to.values():
        mail_store.queue_mail(session, tenant_id, event_id, ENDPOINT_DISABLED, recipient, now)
    return list(to.values())
