"""JSON endpoints for shops whose front end is a single-page app or a mobile app.

``api_pay`` answers what the pay button does, as JSON: the order's live link or a new one,
with the same HTTP statuses and messages as :func:`~django_doku_checkout.views.pay`.
``api_status`` answers the order's status for polling. Both take the order's ``public_id``
(a random UUID): whoever holds it may pay the order, as with the pay button.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_not_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import Order
from django_doku_checkout.services import states
from django_doku_checkout.services.shopper import (
    PayFailure,
    answer_failure,
    attempt_failed,
    refresh_pending,
    shopper_order,
    start_payment,
)

__all__ = ["api_pay", "api_status", "order_state"]


def _error(http_status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=http_status)


def _method_not_allowed(allowed: str) -> JsonResponse:
    response = _error(405, _("Use %(method)s.") % {"method": allowed})
    response["Allow"] = allowed
    return response


def _order_or_404(public_id: UUID) -> Order | JsonResponse:
    try:
        return shopper_order(public_id)
    except Http404:
        return _error(404, _("No such order."))


def _csrf_failed(request: HttpRequest) -> bool:
    """Django's CSRF check, for requests that carry cookies (a browser's).

    A request without cookies carries no ambient authority to forge: a mobile app calls
    with the order's ``public_id`` alone. A browser's request (it sends the shop's cookies)
    must carry Django's CSRF header, as a same-origin SPA's ``fetch`` does.
    """
    if not request.COOKIES:
        return False
    return _CSRF.process_view(request, _csrf_protected, (), {}) is not None


def _csrf_protected(request: HttpRequest) -> HttpResponse:
    """What CsrfViewMiddleware is told it guards: a view not marked csrf_exempt (it is never called)."""
    raise NotImplementedError


_CSRF = CsrfViewMiddleware(_csrf_protected)


def order_state(order: Order) -> dict[str, Any]:
    """What a shopper's page shows of an order, as JSON-ready values."""
    return {
        "invoice_number": order.invoice_number,
        "status": order.status,
        "status_display": order.get_status_display(),
        "amount": order.amount,
        "amount_display": format_rupiah(order.amount, order.currency),
        "currency": order.currency,
        "attempt_failed": attempt_failed(order),
        "payable": order.status not in states.UNPAYABLE,
    }


@login_not_required
@csrf_exempt  # checked in the view for browsers; see _csrf_failed
@never_cache
@transaction.non_atomic_requests  # DOKU is asked here: no request-wide transaction may stay open meanwhile
def api_pay(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """POST: the order's live link or a new one, ``{"status", "payment_url", "expires_at", "invoice_number"}``.

    ``expires_at`` is ISO 8601 in UTC.

    ``invoice_number`` is the one sent to DOKU for this attempt. Errors are ``{"error": message}``
    with the pay view's statuses: 400 (the order cannot be sent to DOKU), 502 (DOKU refused),
    503 (DOKU is not answering), 503 with ``Retry-After`` while another request is asking DOKU
    for the order's link (it was waited for a few seconds; retry then to get that link),
    429 with ``Retry-After`` and the same message while a failed
    attempt is not repeated (``FAILED_LINK_RETRY_AFTER``), 409
    (the order is paid, cancelled or refunded), 404 (no such order), 403 (CSRF), 405 (not POST).
    """
    if request.method != "POST":
        return _method_not_allowed("POST")
    if _csrf_failed(request):
        return _error(403, _("CSRF verification failed: send the X-CSRFToken header."))
    order = _order_or_404(public_id)
    if isinstance(order, JsonResponse):
        return order
    started = None if order.status in states.UNPAYABLE else start_payment(request, order)
    if started is None:
        order.refresh_from_db(fields=["status"])
        message = _("Order %(invoice)s is %(status)s.") % {
            "invoice": order.invoice_number,
            "status": order.get_status_display().lower(),
        }
        return _error(409, message, status=order.status)
    if isinstance(started, PayFailure):
        return answer_failure(request, started, _error(started.status, started.message, status=order.status))
    return JsonResponse(
        {
            "status": order.status,
            "payment_url": started.payment_url,
            "expires_at": started.expires_at.astimezone(UTC).isoformat() if started.expires_at else None,
            "invoice_number": started.invoice_number,
        }
    )


@login_not_required
@never_cache
@transaction.non_atomic_requests  # may ask DOKU's Status API when a check is due
def api_status(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET: the order's status for polling, :func:`order_state`'s keys.

    One indexed read; DOKU's Status API is asked only when a check is due for a pending
    order (the return page's throttle, ``STATUS_CHECK_INTERVAL``).
    """
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET")
    order = _order_or_404(public_id)
    if isinstance(order, JsonResponse):
        return order
    return JsonResponse(order_state(refresh_pending(order)))
