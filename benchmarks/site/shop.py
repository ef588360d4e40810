"""The shop's order page: what a shopper opens before clicking pay (benchmark 8)."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template import engines

from django_doku_checkout.models import Order

PAGE = engines["django"].from_string(
    "{% load doku_checkout %}<h1>{{ order.invoice_number }}</h1>{% doku_pay_button order %}"
)


def order_page(request: HttpRequest, public_id: UUID) -> HttpResponse:
    order = get_object_or_404(Order, public_id=public_id)
    return HttpResponse(PAGE.render({"order": order}, request))
