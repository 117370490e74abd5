"""The booking state machine: one table of the allowed transitions and their side effects.

A booking is ``pending`` (its hold keeps a unit while the customer pays), ``paid`` (it occupies a
unit), ``expired`` (never paid; the hold lapsed or the session expired), ``cancelled`` (no unit;
any money taken is being given back) or ``refunded`` (no unit; every amount taken was given back).
An upgrade payment (a booking row of kind ``upgrade``) goes through the same table: for it,
claiming the unit means moving its booking to the new tier.

Events:

* ``pay`` — the provider captured money for the booking (a checkout completed);
* ``expire`` — the hold lapsed (sweeper) or the provider expired the checkout session;
* ``cancel`` — a tenant admin cancels;
* ``refunded_outside`` — the provider reports the booking's own payment refunded in full, not at
  our request (its dashboard);
* ``refunds_settled`` — every refund the booking was owed has succeeded.

``transition(status, event)`` answers the :class:`Transition` to make, or ``None``: the event
changes nothing in that state (a webhook's "no change"; a cancel's 409). The service that applies
it (``app.services.bookings``) holds the booking's row lock while it reads the status, consults
this table and carries out the effects, so every change of one booking is serialised.

The ledger rule (``ledger_agrees``): for a paid booking the money captured less the money refunded
or owed back equals its total; for any other booking it is zero.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, PAID, EXPIRED, CANCELLED, REFUNDED = "pending", "paid", "expired", "cancelled", "refunded"
STATUSES = (PENDING, PAID, EXPIRED, CANCELLED, REFUNDED)
EVENTS = ("pay", "expire", "cancel", "refunded_outside", "refunds_settled")

#: Effects, carried out in this order by the service:
RELEASE_HOLD = "release_hold"  # the pending hold gives its unit back
CLAIM_UNIT = "claim_unit"  # convert the live hold, else take a free unit; an upgrade moves its
#                            booking; when no unit can be had, ``Transition.otherwise`` applies
REFUND_CAPTURE = "refund_capture"  # give back the payment this event captured
REFUND_ALL = "refund_all"  # give back everything captured for the booking and not yet refunded
CLOSE_CHANGES = "close_changes"  # pending upgrade payments of the booking are cancelled
EXPIRE_SESSION = "expire_session"  # ask the provider to close the open checkout session

#: Guards, checked by the service before anything changes (a refusal changes nothing):
REFUND_WINDOW = "refund_window"  # the tenant's policy allows refunding this late
NOT_A_CHANGE = "not_a_change"  # a paid upgrade payment is cancelled with its booking, not alone


@dataclass(frozen=True)
class Transition:
    to: str
    effects: tuple[str, ...] = ()
    guards: tuple[str, ...] = ()
    otherwise: Transition | None = None  # when CLAIM_UNIT finds no unit


_SOLD_MEANWHILE = Transition(CANCELLED, (REFUND_CAPTURE,))
_PAY = Transition(PAID, (CLAIM_UNIT,), otherwise=_SOLD_MEANWHILE)
_GIVE_BACK = Transition(CANCELLED, (REFUND_CAPTURE,))

TABLE: dict[tuple[str, str], Transition] = {
    (PENDING, "pay"): _PAY,
    (EXPIRED, "pay"): _PAY,  # paid after its hold lapsed: a unit if one is left, else refunded
    (PAID, "pay"): Transition(PAID, (REFUND_CAPTURE,)),  # a second payment of a paid booking
    (CANCELLED, "pay"): _GIVE_BACK,  # cancelled while the customer was paying
    (REFUNDED, "pay"): _GIVE_BACK,
    (PENDING, "expire"): Transition(EXPIRED, (RELEASE_HOLD,)),
    (PENDING, "cancel"): Transition(CANCELLED, (RELEASE_HOLD, EXPIRE_SESSION)),
    (PAID, "cancel"): Transition(
        CANCELLED, (REFUND_ALL, CLOSE_CHANGES), guards=(NOT_A_CHANGE, REFUND_WINDOW)
    ),
    # The booking's own payment was refunded in full at the provider: the booking is over;
    # what else it holds (its upgrades' payments) is given back too, then it is refunded.
    (PAID, "refunded_outside"): Transition(CANCELLED, (REFUND_ALL, CLOSE_CHANGES)),
    (CANCELLED, "refunds_settled"): Transition(REFUNDED),
}


def transition(status: str, event: str) -> Transition | None:
    """The transition ``event`` makes from ``status``; None when it changes nothing."""
    if status not in STATUSES or event not in EVENTS:
        raise ValueError(f"unknown booking status or event: {status!r}, {event!r}")
    return TABLE.get((status, event))


def ledger_agrees(status: str, total: int, captured: int, refunded: int) -> bool:
    """Do a booking's status and its payment records agree? ``refunded`` counts refunds owed
    (queued), requested and succeeded alike: money the customer is getting back."""
    net = captured - refunded
    return net == (total if status == PAID else 0)


def proportional_fee(fee: int, amount: int, captured: int) -> int:
    """The part of a capture's platform fee that goes back with a refund of ``amount`` of it:
    ``fee × amount / captured``, rounded half up (as the provider refunds application fees)."""
    if captured <= 0:
        return 0
    return min(fee, (fee * amount * 2 + captured) // (captured * 2))
