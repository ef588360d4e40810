"""Template tags for shop pages: ``{% load doku_checkout %}``."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from django_doku_checkout.conf import PAY_BUTTON_MODES, get_config
from django_doku_checkout.formatting import format_moment, format_rupiah
from django_doku_checkout.models import Order
from django_doku_checkout.services import states

register = template.Library()


@register.simple_tag(takes_context=True)
def doku_pay_button(context: template.Context, order: Order, label: str = "", mode: str = "") -> SafeString | str:
    """A POST form with CSRF that sends the shopper to DOKU; nothing for unpayable orders.

    ``mode="popup"`` (or the ``PAY_BUTTON_MODE`` setting) opens DOKU's page over the shop
    with DOKU's Checkout JS; without JavaScript it is the ordinary button.
    """
    if order.status in states.UNPAYABLE:
        return ""
    config = get_config()
    mode = mode or config.pay_button_mode
    if mode not in PAY_BUTTON_MODES:
        raise template.TemplateSyntaxError(f"doku_pay_button's mode must be 'redirect' or 'popup', not {mode!r}")
    request = context.get("request")
    button_context = {
        "order": order,
        "label": label,
        "popup": mode == "popup",
        "checkout_js_url": config.checkout_js_url,
        "csp_nonce": _nonce(context),
        "popup_script": static("django_doku_checkout/popup.js"),
    }
    return render_to_string("django_doku_checkout/pay_button.html", button_context, request=request)


@register.simple_tag
def doku_order_status(order: Order) -> SafeString:
    """The order's status as a badge, for order pages."""
    return render_to_string("django_doku_checkout/order_status_badge.html", {"order": order})


@register.simple_tag
def doku_stylesheet() -> SafeString:
    """The ``<link>`` to the app's stylesheet for the badge, the pay button and the status page."""
    return format_html('<link rel="stylesheet" href="{}">', static("django_doku_checkout/shopper.css"))


def _nonce(context: template.Context) -> str:
    # Django 6's csp context processor puts ``csp_nonce`` in the context; django-csp puts it on the request.
    nonce = context.get("csp_nonce") or getattr(context.get("request"), "csp_nonce", "")
    return str(nonce or "")


@register.simple_tag(takes_context=True)
def doku_script(context: template.Context, path: str) -> SafeString:
    """A deferred ``<script>`` for one of the app's static files, with the page's CSP nonce if it has one."""
    return render_to_string("django_doku_checkout/script.html", {"src": static(path), "nonce": _nonce(context)})


@register.filter
def doku_moment(moment: datetime | None) -> str:
    """``{{ link.expires_at|doku_moment }}``: ``Dec. 4, 2026, 1:26 p.m. WIB``, in the shop's zone (WIB by default)."""
    return format_moment(moment) if moment is not None else ""


@register.filter
def rupiah(amount: int | None, currency: str = "IDR") -> str:
    """``{{ order.amount|rupiah }}``: ``Rp 85.000`` (another currency: ``USD 85.000``)."""
    return format_rupiah(amount, currency)
