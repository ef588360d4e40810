"""Payment links: DOKU Checkout sessions and card payment pages.

No transaction is open while DOKU is asked. Creating a link takes the three short steps of
the claim protocol (:mod:`.claims`, shared with refunds and cancellations):

1. **Claim**, with the order's row locked: hand out the order's live link if it has one,
   wait while another request's claim is in flight, or record the attempt as a
   ``CheckoutSession`` in the ``creating`` state with its own Request-Id, and commit.
2. **Call** DOKU with nothing locked, bounded by the ``DEADLINE`` setting.
3. **Record** DOKU's answer on the claimed row, with the order locked again, and mark the
   order pending.

Double clicks and two staff members at once therefore see one claim and end with the same
link. A request that finds another's claim in flight waits for its answer at most
:data:`CLAIM_WAIT` seconds, then gives up with :class:`LinkInProgress` (the shopper is asked
to retry in a few seconds): a click never waits out a worker's timeout. A claim older than
:func:`claim_ttl` belongs to a process that died or gave up: the next attempt that finds it
so at its first look, or reconciliation, sends the same request again with the same
Request-Id, and DOKU answers 409 with its original response when it had already created the
link. A request that has already waited, or called DOKU once, sends nothing more (no
takeover, no new claim): DOKU's whole answer (``DEADLINE``) would not fit in what is left of
its time; it raises :class:`LinkInProgress` and the retry sends it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import API_ERROR_PREFIX, LinkInProgress, RecentLinkFailure
from django_doku_checkout.models import Actor, CheckoutSession, Order
from django_doku_checkout.redaction import redact
from django_doku_checkout.services import states
from django_doku_checkout.services.claims import RESEND_LIMIT, claim_ttl
from django_doku_checkout.services.invoice_numbers import next_invoice_number
from django_doku_checkout.services.link_claims import CREATE_LINK, LinkClaim, Recorded, complete
from django_doku_checkout.services.link_reads import BODIES, live_link
from django_doku_checkout.services.link_requests import card_page_body, checkout_body, invoice_number_limit
from django_doku_checkout.services.locking import guarded
from django_doku_checkout.services.orders import OrderNotPayable, lock_payable
from django_doku_checkout.services.unit_of_work import insert

logger = logging.getLogger(__name__)

#: How often a request waiting for another's claim looks again, in seconds.
CLAIM_POLL_INTERVAL = 0.1
#: How often a claim may lose its invoice number to another order's at the same moment.
MAX_INVOICE_COLLISIONS = 5
#: How long a request waits for another's claim before it answers "try again" (seconds).
#: DOKU creates a link in a second or two, so a double click usually gets the other click's
#: link within this. A request that waited sends nothing itself, so a click takes at most
#: this or one DEADLINE, never both: below a worker's timeout (gunicorn's default is 30 s,
#: DEADLINE's upper bound 29 s).
CLAIM_WAIT = 4.0
#: The longest Retry-After given while another request's claim is in flight (seconds): that
#: request has usually recorded its link by then, and a retry meanwhile is cheap.
CLAIM_RETRY_AFTER = 5


@dataclass(frozen=True)
class _InFlight:
    """Nothing this request may send now: another request's claim is in flight or, once this
    request has waited or called DOKU, a stale claim or none at all."""

    #: How long until the claim turns stale; zero when there is nothing left to wait for.
    stale_in: timedelta


#: What one look at the order under its lock found: a live link, a claim to send, or another
#: request's claim in flight.
_Step = CheckoutSession | LinkClaim | _InFlight

#: Builds the body to send for (the locked order, the attempt's invoice number).
BodyBuilder = Callable[[Order, str], dict[str, Any]]


def _refuse_while_recently_failed(links: list[CheckoutSession], retry_after: int) -> None:
    """Raise :class:`RecentLinkFailure` when the newest attempt failed less than ``retry_after`` seconds ago."""
    if not retry_after or not links or links[0].status != CheckoutSession.Status.ERROR:
        return
    remaining = links[0].updated_at + timedelta(seconds=retry_after) - timezone.now()
    if remaining > timedelta(0):
        raise RecentLinkFailure(
            f"The last attempt for {links[0].invoice_number} failed moments ago: {links[0].error_message}",
            doku_answered=links[0].error_message.startswith(API_ERROR_PREFIX),
            retry_after=max(1, int(remaining.total_seconds() + 0.999)),
        )


def _lock_with_links(order: Order) -> tuple[Order, list[CheckoutSession]]:
    """The order locked and payable, and its links newest first.

    The links are read in a statement of their own once the lock is held: a statement sees
    only what was committed when it began, so links read while waiting for the lock would
    miss a claim inserted by the transaction it waited for (and a second link would be
    made). Every change to a link is made with its order locked, so this read is current.
    """
    locked = lock_payable(order)
    return locked, list(guarded(locked.checkout_sessions.defer(*BODIES), locked))


def _claim(
    order: Order,
    *,
    kind: str,
    build: BodyBuilder,
    ttl: timedelta,
    retry_after: int = 0,
    ask_links: bool = True,
    may_send: bool = True,
) -> _Step:
    # One read of the order's links answers all four: is one live, is one being created,
    # did the last one just fail, and how many were tried.
    locked, links = _lock_with_links(order)
    if kind == CheckoutSession.Kind.CHECKOUT:
        live = live_link(locked, links)
        if live is not None:
            order.status, order.updated_at = locked.status, locked.updated_at  # the caller's copy learns
            return live
    _refuse_while_recently_failed(links, retry_after)
    now = timezone.now()
    for link in links:
        if link.status == CheckoutSession.Status.CREATING:
            stale_in = CREATE_LINK.stale_in(link, ttl, now)
            return CREATE_LINK.take_over(link) if may_send and not stale_in else _InFlight(stale_in)
    if not may_send:
        return _InFlight(timedelta(0))
    invoice_number = next_invoice_number(
        locked, attempts=len(links), ask_links=ask_links, max_length=invoice_number_limit(locked, kind)
    )
    body = build(locked, invoice_number)
    attempt = CheckoutSession(
        order=locked,
        kind=kind,
        status=CheckoutSession.Status.CREATING,
        invoice_number=invoice_number,
        request_body=redact(body),
    )
    claim = CREATE_LINK.stake(attempt, body)
    insert(attempt)
    return claim


def _obtain_link(
    order: Order,
    *,
    kind: str,
    build: BodyBuilder,
    client: DokuClient | None,
    actor: Actor,
    retry_after: int = 0,
) -> CheckoutSession:
    ttl = claim_ttl()
    collisions = 0
    started = time.monotonic()
    first_look = True
    while True:
        try:
            # The first try lets the links' unique invoice number catch a collision, rather
            # than ask about it on every link: collisions are rare (see next_invoice_number).
            step = atomic_with_retry(
                partial(
                    _claim,
                    order,
                    kind=kind,
                    build=build,
                    ttl=ttl,
                    retry_after=retry_after,
                    ask_links=collisions > 0,
                    # Only a request that has spent none of its time yet (no wait, no call to
                    # DOKU) has DEADLINE left for DOKU's whole answer to a claim it sends.
                    may_send=first_look,
                )
            )
        except IntegrityError:
            # Another attempt has the invoice number, or took it just now: choose again, a few times.
            collisions += 1
            if collisions > MAX_INVOICE_COLLISIONS:
                raise
            continue
        first_look = False
        if isinstance(step, _InFlight):
            _wait_for(order, step, started)
            continue
        if isinstance(step, CheckoutSession):
            return step
        link = _handed_out(order, kind, step, complete(step, client=client, actor=actor))
        if link is not None:
            return link


def _wait_for(order: Order, in_flight: _InFlight, started: float) -> None:
    """Wait a little for another request's claim, or raise :class:`LinkInProgress` once waiting is pointless.

    Another request is asking DOKU for this order's link: this one waits a little for its
    answer, then asks the caller to come back rather than hold a worker until the claim turns
    stale (its process may have died: a later first look takes it over). With nothing left to
    wait for, the caller comes back at once: its next first look sends what this request no
    longer has the time to.
    """
    if not in_flight.stale_in or time.monotonic() - started + CLAIM_POLL_INTERVAL > CLAIM_WAIT:
        raise _in_progress(order, in_flight.stale_in)
    time.sleep(CLAIM_POLL_INTERVAL)


def _handed_out(order: Order, kind: str, claim: LinkClaim, recorded: Recorded) -> CheckoutSession | None:
    """The link a completed claim gives the caller, or None to look at the order again.

    Raises DOKU's refusal of the caller's own claim, or :class:`OrderNotPayable` when the order
    was cancelled while DOKU was asked.
    """
    if not claim.own:
        taken = recorded.link
        if recorded.failure is None and not recorded.withdrawn and taken.kind == kind == CheckoutSession.Kind.CARD_PAGE:
            # Card pages are never reused from the order's links: this one is the answer.
            order.status, order.updated_at = recorded.order.status, recorded.order.updated_at
            return taken
        return None  # a stale claim was settled; look at the order again (its live link, or why not)
    if recorded.failure is not None:
        raise recorded.failure
    if recorded.withdrawn:
        if recorded.order.status in states.UNPAYABLE:
            raise OrderNotPayable(
                gettext("Order %(invoice)s is %(status)s.")
                % {"invoice": recorded.order.invoice_number, "status": recorded.order.get_status_display().lower()}
            )
        return None  # the amount changed while DOKU was asked: a link for the new amount
    order.status, order.updated_at = recorded.order.status, recorded.order.updated_at
    return recorded.link


def _in_progress(order: Order, stale_in: timedelta) -> LinkInProgress:
    wait = min(CLAIM_RETRY_AFTER, max(1, int(stale_in.total_seconds() + 0.999)))
    return LinkInProgress(
        gettext("The payment link for order %(invoice)s is still being prepared. Please try again in %(seconds)d s.")
        % {"invoice": order.invoice_number, "seconds": wait},
        retry_after=wait,
    )


def create_payment_link(
    order: Order,
    *,
    request: HttpRequest | None = None,
    client: DokuClient | None = None,
    actor: Actor = None,
    retry_failed_after: int = 0,
) -> CheckoutSession:
    """Return a DOKU Checkout link (a ``CheckoutSession``) the shopper can pay on, reusing a live one.

    No lock is held while DOKU is asked (see the module's docstring): double clicks and two
    staff members at once still end with one live link. A failed attempt is recorded on
    a link with status ``error`` and the error is raised; the order stays payable.
    With ``retry_failed_after`` seconds, an attempt that failed more recently than that is
    not repeated: :class:`RecentLinkFailure` is raised and nothing is recorded (the shopper's
    views pass ``FAILED_LINK_RETRY_AFTER``, so unauthenticated requests cannot grow the
    table while DOKU is down).
    While another request is asking DOKU for the order's link, this one waits for it at most
    :data:`CLAIM_WAIT` seconds, then raises :class:`LinkInProgress` with a ``retry_after``.
    Raises :class:`OrderNotPayable`, :class:`DokuValidationError`, :class:`DokuAPIError`,
    :class:`DokuTransportError`, :class:`RecentLinkFailure` or :class:`LinkInProgress`.
    """
    return _obtain_link(
        order,
        kind=CheckoutSession.Kind.CHECKOUT,
        build=lambda locked, invoice_number: checkout_body(locked, invoice_number, request),
        client=client,
        actor=actor,
        retry_after=retry_failed_after,
    )


def create_card_payment_page(
    order: Order,
    *,
    request: HttpRequest | None = None,
    theme: payloads.CardPageTheme | None = None,
    client: DokuClient | None = None,
    actor: Actor = None,
) -> CheckoutSession:
    """Create a card-only DOKU payment page for ``order`` (``POST /credit-card/v1/payment-page``).

    DOKU requires every customer field here (id, name, email, phone, address, country);
    a missing one raises :class:`DokuValidationError` naming it, before anything is sent.
    """
    return _obtain_link(
        order,
        kind=CheckoutSession.Kind.CARD_PAGE,
        build=lambda locked, invoice_number: card_page_body(locked, invoice_number, request, theme),
        client=client,
        actor=actor,
    )


def resolve_stale_claims(*, limit: int = RESEND_LIMIT, client: DokuClient | None = None) -> int:
    """Send claims whose process died again, with their Request-Id; returns how many were settled.

    DOKU answers a Request-Id it has seen with its original response (HTTP 409), so a link
    it created is recorded, and one it never saw is created now. The oldest first, at most
    ``limit`` a run; one that cannot be recorded (a shop's save hook failing, say) is logged
    and left for the next run, never stopping the others. Reconciliation runs this.
    """
    settled = 0
    for claim in CREATE_LINK.stale_claims(limit=limit):
        try:
            complete(claim, client=client, actor=None)
        except Exception:
            logger.exception(
                "Stale claim %s of order %s: not settled, tried again next run",
                claim.link.invoice_number,
                claim.link.order_id,
            )
            continue
        settled += 1
    return settled
