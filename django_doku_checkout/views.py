"""Shopper-facing views and DOKU's notification endpoint. Thin: the work is in services."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.log import log_response
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from django_doku_checkout import services, states
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
from django_doku_checkout.order_urls import back_to_order_url
from django_doku_checkout.services import payment_url_allowed

__all__ = [
    "CallbackView",
    "PayFailure",
    "answer_failure",
    "notification",
    "pay",
    "payment_url_allowed",
    "start_payment",
]

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
        session = services.create_payment_link(
            order, request=request, retry_failed_after=get_config().failed_link_retry_after
        )
    except services.OrderNotPayable:
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
    if not payment_url_allowed(session.payment_url):
        logger.error("Refusing to redirect order %s to an unexpected host", order.invoice_number)
        return PayFailure(502, _("The payment service answered with an unexpected address."))
    return session


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


@login_not_required
@require_http_methods(["GET", "POST"])
@transaction.non_atomic_requests  # DOKU is asked here: no request-wide transaction may stay open meanwhile
def pay(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Send the shopper to DOKU's payment page, reusing the order's live link.

    Only a POST (the pay button) creates a link: a GET, as a chat app's link preview makes,
    goes to the order's live link if it has one, or to the order's page with its pay button.
    """
    order = get_object_or_404(Order, public_id=public_id)
    if order.status in states.UNPAYABLE:
        return redirect("doku_checkout:result", public_id=order.public_id)
    if request.method != "POST":
        live = services.live_session(order)
        if live is not None and payment_url_allowed(live.payment_url):
            return HttpResponseRedirect(live.payment_url)
        return redirect("doku_checkout:result", public_id=order.public_id)
    started = start_payment(request, order)
    if started is None:
        return redirect("doku_checkout:result", public_id=order.public_id)
    if isinstance(started, PayFailure):
        context = {"order": order, "message": started.message, "back_url": back_to_order_url(order)}
        if started.in_progress:
            # Back after Retry-After by itself, as a GET: the link the other request made, or the order's page.
            context["refresh_seconds"] = started.retry_after
            context["refresh_url"] = request.path
        response = render(request, "django_doku_checkout/pay_error.html", context, status=started.status)
        return answer_failure(request, started, response)
    return HttpResponseRedirect(started.payment_url)


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
        checked = services.check_status(order, client=_status_check_client()).order
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


#: How often the waiting page reloads itself when JavaScript is off.
REFRESH_SECONDS = 10


@method_decorator(login_not_required, name="dispatch")
@method_decorator(transaction.non_atomic_requests, name="dispatch")  # may ask DOKU's Status API
class CallbackView(View):
    """Where DOKU sends the shopper back. Shows the order's real status from the database.

    Query parameters are never trusted (``refresh`` only counts the page's own reloads). A
    pending order is checked against DOKU's Status API when a check is due (see
    :func:`refresh_pending`). The page of a pending order updates itself: its script polls
    ``doku_checkout:api_status``; without JavaScript it reloads itself every
    :data:`REFRESH_SECONDS`, at most ``WAITING_PAGE_REFRESHES`` times.
    """

    outcome = "return"
    http_method_names = ["get", "head"]

    def get_template_names(self) -> list[str]:
        return [f"django_doku_checkout/{self.outcome}.html", "django_doku_checkout/order_status.html"]

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        order = refresh_pending(shopper_order(public_id))
        context: dict[str, Any] = {
            "order": order,
            "outcome": self.outcome,
            "attempt_failed": attempt_failed(order),
            "back_url": back_to_order_url(order),
            "waiting": order.status == OrderStatus.PENDING and self.outcome != "cancel",
        }
        if context["waiting"]:
            context.update(self._refresh(request))
        return render(request, self.get_template_names(), context)

    @staticmethod
    def _refresh(request: HttpRequest) -> dict[str, Any]:
        """The no-JavaScript reload: the next URL and its delay, until the bound is reached."""
        done = request.GET.get("refresh", "")
        # ASCII digits only ("²" is a digit to str.isdigit but not to int); more than six
        # significant ones are past any bound (leading zeros are not: "0000000029" is 29).
        digits = done.lstrip("0") if done.isascii() and done.isdigit() else ""
        count = int(digits or "0") if len(digits) <= 6 else 10**6
        if count >= get_config().waiting_page_refreshes:
            return {}
        return {"refresh_url": f"{request.path}?refresh={count + 1}", "refresh_seconds": REFRESH_SECONDS}


@login_not_required
@csrf_exempt  # DOKU cannot send a CSRF token; the HMAC signature authenticates it instead.
@require_POST
@transaction.non_atomic_requests  # the raw notification must be committed before processing
def notification(request: HttpRequest) -> HttpResponse:
    """DOKU's HTTP notification: stored first, verified over the raw bytes, then applied."""
    result = services.handle_notification(
        body=request.body,
        headers=request.headers,
        path=request.path,
        remote_addr=request.META.get("REMOTE_ADDR"),
    )
    response = HttpResponse(result.message, status=result.status_code, content_type="text/plain; charset=utf-8")
    # Receivers run after the answer is sent, before the server closes the connection: with its
    # length DOKU knows it has the whole answer without a CommonMiddleware or chunked encoding.
    response["Content-Length"] = str(len(response.content))
    return response
