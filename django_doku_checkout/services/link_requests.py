"""What this app asks DOKU for when it creates a payment link: the request bodies, from an order."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation
from django.utils.module_loading import import_string

from django_doku_checkout import payloads
from django_doku_checkout.conf import get_config
from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services.locking import guarded
from django_doku_checkout.services.payment_urls import absolute_url

logger = logging.getLogger(__name__)


def _doku_language() -> str:
    return "ID" if (translation.get_language() or "").lower().startswith("id") else "EN"


def _line_items(order: Order) -> list[payloads.LineItemData]:
    return [
        payloads.LineItemData(
            id=item.item_id or None,
            name=item.name,
            price=item.price,
            quantity=item.quantity,
            sku=item.sku or None,
            category=item.category or None,
            url=item.url or None,
            image_url=item.image_url or None,
            type=item.item_type or None,
        )
        for item in guarded(order.line_items.all(), order)
    ]


def _customer(order: Order) -> payloads.CustomerData | None:
    customer = payloads.CustomerData(
        id=order.customer_id or None,
        name=order.customer_name or None,
        last_name=order.customer_last_name or None,
        email=order.customer_email or None,
        phone=payloads.normalize_phone(order.customer_phone) if order.customer_phone else None,
        address=order.customer_address or None,
        postcode=order.customer_postcode or None,
        state=order.customer_state or None,
        city=order.customer_city or None,
        country=order.customer_country or None,
    )
    return customer if any(vars(customer).values()) else None


def _methods(order: Order) -> list[str]:
    """The payment methods ``order``'s Checkout offers: its own, else the setting's (none: every active one)."""
    return list(order.payment_method_types) or list(get_config().payment_method_types)


def build_checkout_data(
    order: Order,
    *,
    invoice_number: str,
    request: HttpRequest | None = None,
) -> payloads.CheckoutData:
    """The Checkout request for ``order``, with absolute callback URLs to this app's views."""
    config = get_config()
    public_id = str(order.public_id)
    methods = _methods(order)
    # DOKU Wallet reports its payments to a URL of its own; with every channel offered
    # (no list) it may be picked, so it is pointed at this app's notification endpoint.
    wallet_url = config.doku_wallet_notify_url or (
        absolute_url(reverse("doku_checkout:notification"), request)
        if not methods or "EMONEY_DOKU" in methods
        else None
    )
    return payloads.CheckoutData(
        invoice_number=invoice_number,
        amount=order.amount,
        currency=order.currency,
        line_items=_line_items(order),
        callback_url=absolute_url(reverse("doku_checkout:return", args=[public_id]), request),
        callback_url_cancel=absolute_url(reverse("doku_checkout:cancel", args=[public_id]), request),
        callback_url_result=absolute_url(reverse("doku_checkout:result", args=[public_id]), request),
        language=_doku_language(),
        auto_redirect=config.auto_redirect,
        payment_due_date=config.payment_due_date if order.payment_due_date is None else order.payment_due_date,
        payment_method_types=methods,
        doku_wallet_notify_url=wallet_url,
        allow_tenor=list(order.allow_tenor) or None,
        recover_abandoned_cart=order.recover_abandoned_cart,
        expired_recovered_cart=order.expired_recovered_cart,
        disable_retry_payment=order.disable_retry_payment,
        account_id=order.sub_account_id or config.sub_account_id,
        # An order's own sub account takes its own split rule (or none), never the setting's.
        split_rule_id=order.split_rule_id if order.sub_account_id else config.sub_account_split_rule_id,
        customer=_customer(order),
        shipping_address=payloads.AddressData(**order.shipping_address) if order.shipping_address else None,
        billing_address=payloads.AddressData(**order.billing_address) if order.billing_address else None,
    )


def invoice_number_limit(order: Order, kind: str) -> int | None:
    """The longest invoice number ``order``'s next link of ``kind`` may have, below DOKU's 64, for its suffix."""
    if kind == CheckoutSession.Kind.CARD_PAGE:
        return payloads.MAX_CARD_PAGE_INVOICE_NUMBER
    return payloads.checkout_invoice_limit(_methods(order))


def checkout_body(order: Order, invoice_number: str, request: HttpRequest | None) -> dict[str, Any]:
    """The Checkout body to send for ``order``'s attempt ``invoice_number``: built, the shop's hook applied, checked.

    Raises :class:`~django_doku_checkout.exceptions.DokuValidationError` naming what DOKU would refuse.
    """
    body = payloads.build_checkout_body(build_checkout_data(order, invoice_number=invoice_number, request=request))
    hook = get_config().checkout_body_hook
    if hook:
        # The shop's last word on the body, for anything DOKU adds that this app does not set.
        # It runs before validation, so its changes are checked against DOKU's rules too.
        body = import_string(hook)(order, body)
    result = payloads.validate_checkout_body(body)
    # An order saved before create_order refused it (or without it): refused here too, never dropped.
    result.errors += order.account_problems(order.sub_account_id, order.split_rule_id)
    notification_path = get_config().notification_path or reverse("doku_checkout:notification")
    if (problem := payloads.override_path_problem(body, notification_path)) is not None:
        result.errors.append(problem)
    for warning in result.warnings:
        logger.warning("Order %s: %s", order.invoice_number, warning)
    result.raise_for_errors()
    return body


def card_page_body(
    order: Order,
    invoice_number: str,
    request: HttpRequest | None,
    theme: payloads.CardPageTheme | None,
) -> dict[str, Any]:
    """The card payment page's body for ``order``'s attempt ``invoice_number``, checked against DOKU's rules."""
    config = get_config()
    # DOKU's card page sends the shopper to one URL whatever happened; the result page shows which.
    result_url = absolute_url(reverse("doku_checkout:result", args=[str(order.public_id)]), request)
    body = payloads.build_card_page_body(
        payloads.CardPageData(
            invoice_number=invoice_number,
            amount=order.amount,
            line_items=_line_items(order),
            callback_url=result_url,
            failed_url=result_url,
            session_id=invoice_number,
            customer=_customer(order) or payloads.CustomerData(),
            auto_redirect=config.auto_redirect,
            theme=theme or payloads.CardPageTheme(language=_doku_language(), **config.card_page_theme),
        )
    )
    payloads.validate_card_page_body(body).raise_for_errors()
    return body
