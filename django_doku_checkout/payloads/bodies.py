"""Building DOKU's request bodies from plain data: every unset field left out."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: DOKU's colour format for the card payment page's theme.
HEX_COLOUR = re.compile(r"#?(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
#: What DOKU's card page takes: six hex digits without ``#`` (DOKU's own plugins send ``F5F8FB``).
BARE_HEX_COLOUR = re.compile(r"[0-9A-F]{6}")


@dataclass(frozen=True)
class LineItemData:
    name: str
    price: int
    quantity: int
    id: str | None = None
    sku: str | None = None
    category: str | None = None
    url: str | None = None
    image_url: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class CustomerData:
    id: str | None = None
    name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postcode: str | None = None
    state: str | None = None
    city: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class AddressData:
    first_name: str | None = None
    last_name: str | None = None
    address: str | None = None
    city: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    country_code: str | None = None


@dataclass(frozen=True)
class CheckoutData:
    """Everything a ``POST /checkout/v1/payment`` body can carry; ``None`` leaves a field out."""

    invoice_number: str
    amount: int
    currency: str | None = "IDR"
    line_items: Sequence[LineItemData] = ()
    callback_url: str | None = None
    callback_url_cancel: str | None = None
    callback_url_result: str | None = None
    language: str | None = None
    auto_redirect: bool | None = True
    disable_retry_payment: bool | None = None
    recover_abandoned_cart: bool | None = None
    expired_recovered_cart: int | None = None
    payment_due_date: int | None = 60
    payment_type: str | None = None
    payment_method_types: Sequence[str] = ()
    customer: CustomerData | None = None
    shipping_address: AddressData | None = None
    billing_address: AddressData | None = None
    allow_tenor: Sequence[int] | None = None
    doku_wallet_notify_url: str | None = None
    override_notification_url: str | None = None
    #: The DOKU sub account the payment settles to (``additional_info.account.id``).
    account_id: str | None = None
    #: The sub account's split rule (``additional_info.account.split_rule_id``), beside ``account_id``.
    split_rule_id: str | None = None
    integration: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CardPageTheme:
    language: str = ""
    background_color: str = ""
    font_color: str = ""
    button_background_color: str = ""
    button_font_color: str = ""


@dataclass(frozen=True)
class CardPageData:
    """Everything a ``POST /credit-card/v1/payment-page`` body carries."""

    invoice_number: str
    amount: int
    line_items: Sequence[LineItemData]
    callback_url: str
    session_id: str
    customer: CustomerData
    auto_redirect: bool = True
    failed_url: str | None = None
    theme: CardPageTheme = field(default_factory=CardPageTheme)


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys set to None: an unset field is left out of the body."""
    return {key: value for key, value in values.items() if value is not None}


def _object(data: object | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return compact(vars(data)) or None


def build_checkout_body(data: CheckoutData) -> dict[str, Any]:
    """The JSON object for ``POST /checkout/v1/payment``, leaving out every unset field."""
    order = compact(
        {
            "amount": data.amount,
            "invoice_number": data.invoice_number,
            "currency": data.currency,
            "callback_url": data.callback_url,
            "callback_url_cancel": data.callback_url_cancel,
            "callback_url_result": data.callback_url_result,
            "language": data.language,
            "auto_redirect": data.auto_redirect,
            "disable_retry_payment": data.disable_retry_payment,
            "recover_abandoned_cart": data.recover_abandoned_cart,
            "expired_recovered_cart": data.expired_recovered_cart,
            "line_items": [compact(vars(item)) for item in data.line_items] or None,
        }
    )
    payment = compact(
        {
            "payment_due_date": data.payment_due_date,
            "type": data.payment_type,
            "payment_method_types": list(data.payment_method_types) or None,
        }
    )
    additional_info = compact(
        {
            "allow_tenor": list(data.allow_tenor) if data.allow_tenor is not None else None,
            "doku_wallet_notify_url": data.doku_wallet_notify_url,
            "override_notification_url": data.override_notification_url,
            # A split rule divides a sub account's payment: it is sent only with the sub account.
            "account": compact({"id": data.account_id, "split_rule_id": data.split_rule_id or None})
            if data.account_id
            else None,
            "integration": dict(data.integration) or None,
        }
    )
    return compact(
        {
            "order": order,
            "payment": payment or None,
            "customer": _object(data.customer),
            "shipping_address": _object(data.shipping_address),
            "billing_address": _object(data.billing_address),
            "additional_info": additional_info or None,
        }
    )


def build_card_page_body(data: CardPageData) -> dict[str, Any]:
    """The JSON object for ``POST /credit-card/v1/payment-page``."""
    return {
        "order": compact(
            {
                "invoice_number": data.invoice_number,
                "line_items": [compact(vars(item)) for item in data.line_items],
                "amount": data.amount,
                "callback_url": data.callback_url,
                "failed_url": data.failed_url,
                "auto_redirect": data.auto_redirect,
                "session_id": data.session_id,
            }
        ),
        "customer": compact(vars(data.customer)),
        "override_configuration": {"themes": _bare_colours(vars(data.theme))},
    }


def bare_hex(colour: str) -> str:
    """A colour as DOKU's card page takes it: six hex digits, no ``#`` (``#fff`` -> ``FFFFFF``)."""
    digits = colour.removeprefix("#").upper()
    return "".join(digit * 2 for digit in digits) if len(digits) == 3 else digits


def _bare_colours(theme: Mapping[str, str]) -> dict[str, str]:
    return {key: bare_hex(value) if key.endswith("_color") and value else value for key, value in theme.items()}
