"""Shopper-facing views and DOKU's notification endpoint. Thin: the policy is in :mod:`.services.shopper`."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from django_doku_checkout import services
from django_doku_checkout.conf import get_config
from django_doku_checkout.models import Order, OrderStatus
from django_doku_checkout.order_urls import back_to_order_url
from django_doku_checkout.services import states
from django_doku_checkout.services.shopper import (
    PayFailure,
    answer_failure,
    attempt_failed,
    live_payment_url,
    pay_until,
    refresh_pending,
    shopper_order,
    start_payment,
)

__all__ = ["CallbackView", "notification", "pay"]


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
        live_url = live_payment_url(order)
        if live_url is not None:
            return HttpResponseRedirect(live_url)
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
            "pay_until": pay_until(order),
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
