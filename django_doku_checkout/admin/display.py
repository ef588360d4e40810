"""How the order admin shows things: the list's columns, payment links, and read-only renderings.

The renderings replace JSON text boxes where the value is no longer staff's to change
(:mod:`.editing` decides when): an address as lines, channels and tenors by name, the
shop's metadata pretty-printed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from django_doku_checkout import payment_methods, services
from django_doku_checkout.admin.editing import EDITABLE_STATUSES
from django_doku_checkout.admin.forms import ADDRESS_PARTS
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services import states
from django_doku_checkout.templatetags.doku_checkout import doku_order_status

MEDIA_CSS = {"all": ("django_doku_checkout/admin.css",)}
MEDIA_JS = ("django_doku_checkout/copy_link.js",)


def local_datetime(moment: datetime) -> str:
    """``moment`` in the shop's time zone, in the admin's short format."""
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def payment_link_html(url: str, *, payable: bool = True) -> SafeString | str:
    """A payment URL that opens in a new tab, with a button that copies it for the customer.

    Only a link that may be followed (:func:`services.payment_url_allowed`) of an order that
    can still be paid is offered; any other is shown as text, or not at all.
    """
    if not url:
        return "-"
    if not payable or not services.payment_url_allowed(url):
        return url if services.payment_url_allowed(url) else _("(a link to another host, not shown)")
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer" class="doku-payment-url">{}</a> '
        '<button type="button" class="button doku-copy" data-doku-copy="{}">{}</button>',
        url,
        url,
        url,
        _("Copy link"),
    )


def address_html(address: Any) -> SafeString | str:
    """DOKU's address object as labelled lines, in the order its checkout page shows it."""
    parts = [
        (label, address[part])
        for part, label in ADDRESS_PARTS.items()
        if isinstance(address, dict) and address.get(part)
    ]
    if not parts:
        return "-"
    return format_html_join(mark_safe("<br>"), "<small>{}</small> {}", ((label, value) for label, value in parts))


class OrderColumns:
    """The order list's columns and the change page's read-only renderings (mixed into OrderAdmin)."""

    @admin.display(description=gettext_lazy("customer"), ordering="customer_name")
    def customer(self, order: Order) -> SafeString | str:
        if not order.customer_email:
            return order.customer_name or "-"
        return format_html("{}<br><small>{}</small>", order.customer_name, order.customer_email)

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_display(self, order: Order) -> str:
        return format_rupiah(order.amount, order.currency)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, order: Order) -> SafeString:
        badge = doku_order_status(order)
        if order.status in EDITABLE_STATUSES and getattr(order, "newest_link_outcome", "") == "FAILED":
            # DOKU lets the shopper try again on the same link, so the order stays payable;
            # staff still need to see that the last try failed.
            return format_html('{}<br><small class="doku-last-failed">{}</small>', badge, _("last attempt failed"))
        return badge

    @admin.display(description=gettext_lazy("latest payment link"))
    def latest_link(self, order: Order) -> SafeString | str:
        url = getattr(order, "newest_link_url", None)
        if not url or order.status in states.UNPAYABLE:
            return "-"
        expires_at = getattr(order, "newest_link_expires_at", None)
        status = CheckoutSession.Status(order.newest_link_status).label  # type: ignore[attr-defined]
        return format_html(
            "{}<br><small>{} · {}</small>",
            payment_link_html(url, payable=order.newest_link_status == CheckoutSession.Status.OPEN),  # type: ignore[attr-defined]
            status,
            _("expires %(moment)s") % {"moment": local_datetime(expires_at)} if expires_at else _("no expiry"),
        )

    @admin.display(description=gettext_lazy("shipping address"))
    def shipping_address_display(self, order: Order) -> SafeString | str:
        return address_html(order.shipping_address)

    @admin.display(description=gettext_lazy("billing address"))
    def billing_address_display(self, order: Order) -> SafeString | str:
        return address_html(order.billing_address)

    @admin.display(description=gettext_lazy("payment methods"))
    def payment_methods_display(self, order: Order) -> str:
        codes = order.payment_method_types or []
        return ", ".join(payment_methods.label(code) for code in codes) or _("Every channel active on the account")

    @admin.display(description=gettext_lazy("instalment tenors"))
    def tenors_display(self, order: Order) -> str:
        tenors = order.allow_tenor or []
        if not tenors:
            return _("DOKU's default")
        return ", ".join(
            _("full payment") if months == 0 else ngettext("%(n)s month", "%(n)s months", months) % {"n": months}
            for months in tenors
        )

    @admin.display(description=gettext_lazy("metadata"))
    def metadata_display(self, order: Order) -> SafeString | str:
        if not order.metadata:
            return "-"
        return format_html("<pre>{}</pre>", json.dumps(order.metadata, indent=2, ensure_ascii=False, sort_keys=True))
