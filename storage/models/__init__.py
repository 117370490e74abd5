"""SQLAlchemy 2 models, a module per area, all re-exported here (``from storage import models as
m; m.Tier``): importing the package registers every table on ``Base.metadata`` (Alembic's
autogenerate and ``alembic check`` compare the migrations with it).

Every tenant-owned table has ``tenant_id`` leading its keys and indexes, and foreign keys between
tenant-owned rows include ``tenant_id``, so the database itself refuses a row that points into
another tenant."""

from storage.models.accounts import ConsoleSession, User
from storage.models.base import NAMING_CONVENTION, STATUS_ACTIVE, Base, utcnow
from storage.models.bookings import Booking, Hold, Payment, PaymentEvent
from storage.models.catalog import AddOn, AddOnTier, ApiKey, Segment, Tenant, Tier
from storage.models.change_log import AuditChange
from storage.models.decisions import Decision, DecisionChain, DecisionPurge
from storage.models.events import StorefrontEvent
from storage.models.experiments import Experiment, ExperimentAssignment, ExperimentRevision
from storage.models.idempotency import IdempotencyRecord
from storage.models.inventory import Blackout, Capacity
from storage.models.outbox import (
    MailMessage,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from storage.models.rulesets import RulesetActivation, RulesetDraft, RulesetVersion

__all__ = [
    "NAMING_CONVENTION",
    "STATUS_ACTIVE",
    "AddOn",
    "AddOnTier",
    "ApiKey",
    "AuditChange",
    "Base",
    "Blackout",
    "Booking",
    "Capacity",
    "ConsoleSession",
    "Decision",
    "DecisionChain",
    "DecisionPurge",
    "Experiment",
    "ExperimentAssignment",
    "ExperimentRevision",
    "Hold",
    "IdempotencyRecord",
    "MailMessage",
    "OutboxEvent",
    "Payment",
    "PaymentEvent",
    "RulesetActivation",
    "RulesetDraft",
    "RulesetVersion",
    "Segment",
    "StorefrontEvent",
    "Tenant",
    "Tier",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "utcnow",
]
