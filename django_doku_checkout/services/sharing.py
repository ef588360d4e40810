"""Delivering payment links to customers: by e-mail, as a QR code, or through WhatsApp.

Staff who take orders by phone or chat hand the customer the order's live link (a new one
when it has none). Every delivery is written into the order's history: an ``OrderEvent``
with the status unchanged, the staff member as its actor and what was sent in its note.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import segno
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext

from django_doku_checkout import payloads
from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import Actor, CheckoutSession, Order, OrderEvent, saved_user
from django_doku_checkout.services.links import create_payment_link
from django_doku_checkout.services.payment_urls import payment_url_allowed

#: The e-mail's templates: override them in the shop's templates folder.
EMAIL_TEMPLATES = (
    "django_doku_checkout/email/payment_link_subject.txt",
    "django_doku_checkout/email/payment_link.txt",
    "django_doku_checkout/email/payment_link.html",
)


class LinkNotShared(DokuError):
    """The link cannot be delivered this way: the order has no e-mail address or phone number."""


def shareable_link(order: Order, *, request: HttpRequest | None = None, actor: Actor = None) -> CheckoutSession:
    """The order's live Checkout link, or a new one; raises like :func:`create_payment_link`."""
    link = create_payment_link(order, request=request, actor=actor)
    if not payment_url_allowed(link.payment_url):
        raise LinkNotShared(gettext("DOKU answered with a link to an unexpected host; it is not shown."))
    return link


def record_delivery(order: Order, note: str, *, actor: Actor = None) -> OrderEvent:
    """Write a delivery of the order's link into its history; the status is unchanged."""
    return OrderEvent.objects.create(
        order=order,
        old_status=order.status,
        new_status=order.status,
        source=OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SYSTEM,
        actor=saved_user(actor),
        note=note,
    )


def email_payment_link(
    order: Order, *, request: HttpRequest | None = None, actor: Actor = None, connection: Any = None
) -> CheckoutSession:
    """E-mail the customer the order's live link, with the amount, the items and the expiry.

    Uses Django's mail (``DEFAULT_FROM_EMAIL``, the project's backend) and :data:`EMAIL_TEMPLATES`,
    in the active language. Raises :class:`LinkNotShared` when the order has no e-mail address.
    """
    if not order.customer_email:
        raise LinkNotShared(gettext("The order has no customer e-mail address."))
    link = shareable_link(order, request=request, actor=actor)
    context = {
        "order": order,
        "link": link,
        "payment_url": link.payment_url,
        "amount": format_rupiah(order.amount, order.currency),
        "items": list(order.line_items.all()),
    }
    subject_template, text_template, html_template = EMAIL_TEMPLATES
    subject = " ".join(render_to_string(subject_template, context).split())
    message = EmailMultiAlternatives(
        subject, render_to_string(text_template, context), to=[order.customer_email], connection=connection
    )
    message.attach_alternative(render_to_string(html_template, context), "text/html")
    message.send()
    with transaction.atomic():
        record_delivery(
            order,
            gettext("Payment link %(invoice)s e-mailed to %(email)s.")
            % {"invoice": link.invoice_number, "email": order.customer_email},
            actor=actor,
        )
    return link


def qr_code_svg(url: str, *, scale: int = 4) -> str:
    """An SVG QR code of ``url`` (no script, no style attribute: safe under a strict CSP)."""
    return str(segno.make(url, error="m").svg_inline(scale=scale, title=url))


def whatsapp_url(order: Order, link: CheckoutSession) -> str:
    """A ``wa.me`` link that opens WhatsApp with the customer's number and the link in a message.

    Raises :class:`LinkNotShared` when the order has no phone number.
    """
    if not order.customer_phone:
        raise LinkNotShared(gettext("The order has no customer phone number."))
    text = gettext("Please pay order %(invoice)s (%(amount)s) here: %(url)s") % {
        "invoice": order.invoice_number,
        "amount": format_rupiah(order.amount, order.currency),
        "url": link.payment_url,
    }
    return f"https://wa.me/{payloads.normalize_phone(order.customer_phone)}?{urlencode({'text': text})}"
