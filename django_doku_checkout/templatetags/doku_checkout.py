from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from django_doku_checkout import states
from django_doku_checkout.models import Order

register = template.Library()


@register.simple_tag(takes_context=True)
def doku_pay_button(context: template.Context, order: Order, label: str = "") -> SafeString | str:
    """A POST form with CSRF that sends the shopper to DOKU; nothing for unpayable orders."""
    if order.status in states.UNPAYABLE:
        return ""
    request = context.get("request")
    return render_to_string("django_doku_checkout/pay_button.html", {"order": order, "label": label}, request=request)


@register.simple_tag
def doku_order_status(order: Order) -> SafeString:
    """The order's status as a badge, for order pages."""
    return render_to_string("django_doku_checkout/order_status_badge.html", {"order": order})
