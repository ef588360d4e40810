"""The shopper's policy: what the pay button, the return page and the JSON endpoints decide.

The HTML views (:mod:`django_doku_checkout.views`) and the JSON endpoints
(:mod:`django_doku_checkout.api`) both call these, so a shopper gets the same link, the same
statuses and the same messages whichever page asked, and the same throttle on DOKU's
Status API.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.core.cache import cache
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.log import log_response
from django.utils.translation import gettext as _

from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import get_config
from django_doku_checkout.exceptions import (
    DokuAPIError,
    DokuError,
    DokuTransportError,
    DokuValidationError,
    LinkInProgress,
    RecentLinkFailure,
)
from django_doku_checkout.models import CheckoutSession, Order, OrderStatus
from django_doku_checkout.services.link_reads import live_link
from django_doku_checkout.services.links import create_payment_link
from django_doku_checkout.services.orders import OrderNotPayable
from django_doku_checkout.services.payment_urls import payment_url_allowed
from django_doku_checkout.services.status import check_status

logger = logging.getLogger(__name__)

#: DOKU asks for Status API checks no sooner than 60 s after a payment: none is made for a
#: link younger than this, since its payment cannot be older (not applied to the simulator).
STATUS_CHECK_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class PayFailure:
    """Why the shopper cannot be sent to DOKU now: an HTTP status and a message for the shopper."""

    status: int
    message: str
    retry_after: int | None = None
    #: The link is being made by another request: the page comes back by itself after ``retry_after``.
    in_progress: bool = False


def start_payment(request: HttpRequest, order: Order) -> CheckoutSession | PayFailure | None:
    """The order's live link, a new one, or why there is none; ``None`` when the order is not payable.

    Shared by the pay button and the JSON endpoint, so both answer the same statuses and messages.
    A failed attempt is not repeated for ``FAILED_LINK_RETRY_AFTER`` seconds: requests meanwhile
    get the same message, add nothing to the database and are answered 429 with ``Retry-After``.
    Only the real failure is a 502/503: Django logs every 5xx at ERROR (mailed to ``ADMINS`` by
    its default logging), so a repeat answered 5xx would let anyone holding a public_id flood
    the admins' inbox during a DOKU outage.
    While another request is asking DOKU for the order's link (a double click, a second tab),
    this one waits for it a few seconds at most, then answers 503 with ``Retry-After``: a worker
    is never held until its timeout (see :mod:`django_doku_checkout.services.links`).
    """
    try:
        link = create_payment_link(order, request=request, retry_failed_after=get_config().failed_link_retry_after)
    except OrderNotPayable:
        return None
    except DokuValidationError as err:
        logger.error("Order %s cannot be sent to DOKU: %s", order.invoice_number, err)
        return PayFailure(400, _("This order cannot be paid online. Please contact the shop."))
    except LinkInProgress as err:
        message = _("Your payment link is still being prepared. Please try again in %(seconds)d seconds.") % {
            "seconds": err.retry_after
        }
        return PayFailure(503, message, err.retry_after, in_progress=True)
    except RecentLinkFailure as err:
        repeated = _failure(answered=err.doku_answered)
        return PayFailure(429, repeated.message, err.retry_after)
    except DokuTransportError:
        return _failure(answered=False)
    except DokuAPIError as err:
        logger.error("DOKU refused a payment link for order %s: %s", order.invoice_number, err)
        return _failure(answered=True)
    if not payment_url_allowed(link.payment_url):
        logger.error("Refusing to redirect order %s to an unexpected host", order.invoice_number)
        return PayFailure(502, _("The payment service answered with an unexpected address."))
    return link


def live_payment_url(order: Order) -> str | None:
    """Where a GET of the pay URL goes: the order's live link, if it has one with an allowed URL.

    A GET (a chat app's link preview) never creates a link: only the pay button's POST does.
    """
    live = live_link(order)
    if live is not None and payment_url_allowed(live.payment_url):
        return live.payment_url
    return None


def answer_failure(request: HttpRequest, failure: PayFailure, response: HttpResponse) -> HttpResponse:
    """``response`` for ``failure`` with its ``Retry-After``; logged at WARNING when it is a wait.

    Django logs every 5xx at ERROR (mailed to ``ADMINS``): a 503 that only asks the shopper
    to come back while another request makes the link is no failure of DOKU, and a click
    storm must not become a storm of mails.
    """
    if failure.retry_after:
        response["Retry-After"] = str(failure.retry_after)
    if failure.in_progress:
        log_response("Link still being prepared: %s", request.path, response=response, request=request, level="warning")
    return response


def _failure(*, answered: bool) -> PayFailure:
    if answered:
        return PayFailure(502, _("The payment service refused the request. Please try again."))
    return PayFailure(503, _("The payment service is not answering. Please try again."))


def _status_check_client() -> DokuClient:
    """A client with the return page's short budget: one attempt, ``STATUS_CHECK_DEADLINE`` seconds at most."""
    config = get_config()
    budget = config.status_check_deadline
    return DokuClient(
        dataclasses.replace(
            config,
            connect_timeout=min(config.connect_timeout, budget),
            read_timeout=min(config.read_timeout, budget),
            max_retries=0,
            deadline=budget,
        )
    )


def shopper_order(public_id: UUID) -> Order:
    """The order with what its shopper's pages show, in one indexed read (404 when unknown).

    ``newest_link_created_at`` and ``newest_link_outcome`` describe its newest link DOKU created:
    when it was made (for the Status API's delay) and DOKU's last word on it (``FAILED`` after a
    failed attempt).
    """
    newest = CheckoutSession.objects.filter(order=OuterRef("pk")).exclude(
        status__in=(CheckoutSession.Status.ERROR, CheckoutSession.Status.CREATING)
    )
    return get_object_or_404(
        Order.objects.annotate(
            newest_link_created_at=Subquery(newest.values("created_at")[:1]),
            newest_link_outcome=Subquery(newest.values("last_transaction_status")[:1]),
        ),
        public_id=public_id,
    )


def refresh_pending(order: Order) -> Order:
    """Ask DOKU's Status API about a pending order when a check is due; the order as it is now.

    At most once per ``STATUS_CHECK_INTERVAL`` seconds per order (the throttle lives in Django's
    cache: with several processes, use a shared cache), never for a link younger than
    :data:`STATUS_CHECK_DELAY` (with DOKU itself), and for at most ``STATUS_CHECK_DEADLINE`` seconds: a slow DOKU
    must not hold the shop's workers. ``STATUS_CHECK_INTERVAL = 0`` checks on every visit (tests).
    """
    if order.status != OrderStatus.PENDING or not _status_check_due(order):
        return order
    try:
        checked = check_status(order, client=_status_check_client()).order
    except DokuError as err:
        logger.warning("Status check for order %s failed: %s", order.invoice_number, err)
        return order
    return shopper_order(checked.public_id)


def _status_check_due(order: Order) -> bool:
    interval = get_config().status_check_interval
    if interval == 0:
        return True
    created = getattr(order, "newest_link_created_at", None)
    if created is None:
        return False
    if get_config().environment != "simulator" and timezone.now() - created < STATUS_CHECK_DELAY:
        return False  # the simulator has no processing lag to wait for, and its "expire" is instant
    return cache.add(f"doku_checkout:status_check:{order.pk}", True, timeout=interval)


def attempt_failed(order: Order) -> bool:
    """Whether DOKU reported the last payment attempt on the order's newest link as failed."""
    return order.status == OrderStatus.PENDING and getattr(order, "newest_link_outcome", "") == "FAILED"


def pay_until(order: Order) -> datetime | None:
    """When the link the shopper can still pay the order on expires, for the order's page; None without one.

    Its expiry, or once that passed (DOKU's recovery reopened it) the end of its recovery window.
    """
    if order.status not in (OrderStatus.CREATED, OrderStatus.PENDING):
        return None
    link = live_link(order)
    if link is None or link.expires_at is None:
        return None
    return link.expires_at if link.expires_at > timezone.now() else link.payable_until
