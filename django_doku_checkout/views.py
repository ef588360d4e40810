"""Shopper-facing views and DOKU's notification endpoint. Thin: the work is in services."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from django_doku_checkout import services, states
from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import get_config
from django_doku_checkout.exceptions import DokuAPIError, DokuError, DokuTransportError, DokuValidationError
from django_doku_checkout.models import Order, OrderStatus
from django_doku_checkout.services import payment_url_allowed

__all__ = ["CallbackView", "notification", "pay", "payment_url_allowed"]

logger = logging.getLogger(__name__)


def _pay_error(request: HttpRequest, order: Order, status: int, message: str) -> HttpResponse:
    return render(request, "django_doku_checkout/pay_error.html", {"order": order, "message": message}, status=status)


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
    try:
        session = services.create_payment_link(order, request=request)
    except services.OrderNotPayable:
        return redirect("doku_checkout:result", public_id=order.public_id)
    except DokuValidationError as err:
        logger.error("Order %s cannot be sent to DOKU: %s", order.invoice_number, err)
        return _pay_error(request, order, 400, _("This order cannot be paid online. Please contact the shop."))
    except DokuTransportError:
        return _pay_error(request, order, 503, _("The payment service is not answering. Please try again."))
    except DokuAPIError as err:
        logger.error("DOKU refused a payment link for order %s: %s", order.invoice_number, err)
        return _pay_error(request, order, 502, _("The payment service refused the request. Please try again."))
    if not payment_url_allowed(session.payment_url):
        logger.error("Refusing to redirect order %s to an unexpected host", order.invoice_number)
        return _pay_error(request, order, 502, _("The payment service answered with an unexpected address."))
    return HttpResponseRedirect(session.payment_url)


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


@method_decorator(login_not_required, name="dispatch")
@method_decorator(transaction.non_atomic_requests, name="dispatch")  # may ask DOKU's Status API
class CallbackView(View):
    """Where DOKU sends the shopper back. Shows the order's real status from the database.

    Query parameters are never trusted. A pending order is checked against DOKU's
    Status API, at most once per ``STATUS_CHECK_INTERVAL`` seconds per order (the throttle
    lives in Django's cache: with several processes, use a shared cache), and for at most
    ``STATUS_CHECK_DEADLINE`` seconds: a slow DOKU must not hold the shop's workers.
    """

    outcome = "return"
    http_method_names = ["get", "head"]

    def get_template_names(self) -> list[str]:
        return [f"django_doku_checkout/{self.outcome}.html", "django_doku_checkout/order_status.html"]

    def get(self, request: HttpRequest, public_id: UUID) -> HttpResponse:
        order = get_object_or_404(Order, public_id=public_id)
        if order.status == OrderStatus.PENDING and self._status_check_due(order):
            try:
                order = services.check_status(order, client=_status_check_client()).order
            except DokuError as err:
                logger.warning("Status check for order %s failed: %s", order.invoice_number, err)
        context: dict[str, Any] = {"order": order, "outcome": self.outcome}
        return render(request, self.get_template_names(), context)

    @staticmethod
    def _status_check_due(order: Order) -> bool:
        interval = get_config().status_check_interval
        return interval == 0 or cache.add(f"doku_checkout:status_check:{order.pk}", True, timeout=interval)


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
    return HttpResponse(result.message, status=result.status_code, content_type="text/plain; charset=utf-8")
