"""The floor for notification throughput: the least a correct notification endpoint does.

It checks the HMAC signature over the raw body, then runs one ``UPDATE`` (the order is
paid) and one ``INSERT`` (the notification is kept). No state machine, no history, no
duplicate or amount checks: that is what the app adds, and what benchmark 3 prices.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from django_doku_checkout import signatures
from django_doku_checkout.models import Notification, Order, OrderStatus


@csrf_exempt
@require_POST
def notification(request: HttpRequest) -> HttpResponse:
    config = settings.DOKU_CHECKOUT
    headers = request.headers
    if not signatures.verify(
        headers.get("Signature", ""),
        secret_keys=[config["SECRET_KEY"]],
        client_id=headers.get("Client-Id", ""),
        request_id=headers.get("Request-Id", ""),
        timestamp=headers.get("Request-Timestamp", ""),
        target=request.path,
        body=request.body,
    ):
        return HttpResponse("bad signature", status=401)
    invoice_number = json.loads(request.body)["order"]["invoice_number"]
    Order.objects.filter(invoice_number=invoice_number).update(status=OrderStatus.PAID)
    Notification.objects.create(request_id=headers.get("Request-Id", ""), path=request.path, body=request.body.decode())
    return HttpResponse("OK")
