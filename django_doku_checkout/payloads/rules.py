"""DOKU's rules for its request bodies, as tables of field paths and rules (the engine is :mod:`.validation`).

The same rules serve the app (before sending) and the simulator (on receipt). What ties
several fields together (the payment methods asked for, the cart's total against the
amount) is a small named function among the table's steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django_doku_checkout import payment_methods
from django_doku_checkout.payloads.bodies import BARE_HEX_COLOUR, CustomerData, LineItemData, compact
from django_doku_checkout.payloads.phones import normalize_phone
from django_doku_checkout.payloads.validation import (
    MAX_AMOUNT,
    MISSING,
    Amount,
    Boolean,
    Checker,
    FieldRule,
    Step,
    Text,
    Url,
    ValidationResult,
    WholeNumber,
    apply,
    check_fields,
    check_object,
    get,
    is_int,
)

PAYMENT_TYPES = ("SALE", "INSTALLMENT", "AUTHORIZE")
CARD_ONLY_PAYMENT_TYPES = ("INSTALLMENT", "AUTHORIZE")
ALLOWED_TENORS = frozenset({0, 3, 6, 12})
MAX_EXPIRED_RECOVERED_CART = 44_640  # minutes (31 days)
#: The longest invoice number a card payment page takes. DOKU allows 64 characters, but 27 with
#: a Mandiri acquirer (the sandbox's); which acquirer a merchant has is not in any answer before
#: a payment, so the safe limit holds for every shop (docs/going-live.md).
MAX_CARD_PAGE_INVOICE_NUMBER = 27
#: The longest invoice number a Checkout body takes when a card may be offered (DOKU's 64 otherwise).
MAX_CARD_CHECKOUT_INVOICE_NUMBER = 30

_SYMBOL = re.compile(r"[^A-Za-z0-9 ]")
_PHONE = re.compile(r"[1-9][0-9]{7,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LETTERS = re.compile(r"[A-Za-z]+")


def has_symbols(text: str) -> bool:
    """Whether ``text`` has anything but ASCII letters, digits and spaces (KKI refuses those)."""
    return bool(_SYMBOL.search(text))


# --- the objects a body carries ------------------------------------------------------------------

LINE_ITEM: tuple[FieldRule, ...] = (
    Text("id", max_length=64),
    Text("name", required=True, max_length=255),
    Text("sku", max_length=255),
    Text("category", max_length=255),
    Text("type", max_length=255),
    Url("url"),
    Url("image_url"),
    WholeNumber("price", low=0, high=MAX_AMOUNT, required=True),
    WholeNumber("quantity", low=1, high=999_999, required=True),
)

CUSTOMER: tuple[FieldRule, ...] = (
    Text("id", max_length=50),
    Text("name", max_length=255),
    Text("last_name", max_length=16),
    Text("email", max_length=128, pattern=_EMAIL, pattern_rule="must be an email address"),
    Text(
        "phone",
        max_length=16,
        pattern=_PHONE,
        pattern_rule="must be digits with the country calling code, e.g. 6281122334455 (at most 16)",
    ),
    Text("address", max_length=400),
    Text("postcode", max_length=255),
    Text("state", max_length=255),
    Text("city", max_length=255),
    Text("country", exact_length=2, pattern=_LETTERS, pattern_rule="must be a 2-letter ISO 3166-1 country code"),
)

ADDRESS: tuple[FieldRule, ...] = (
    Text("first_name", max_length=255),
    Text("last_name", max_length=255),
    Text("city", max_length=255),
    Text("postal_code", max_length=255),
    Text("address", max_length=400),
    Text("phone", max_length=16),
    Text("country_code", max_length=3, pattern=_LETTERS, pattern_rule="must be a country code such as IDN"),
)

THEME: tuple[FieldRule, ...] = (
    Text("language", max_length=2, pattern=_LETTERS, pattern_rule="must be letters"),
    *(
        Text(key, pattern=BARE_HEX_COLOUR, pattern_rule="must be six hex digits without # such as 1A73E8")
        for key in ("background_color", "font_color", "button_background_color", "button_font_color")
    ),
)


def check_line_items(checker: Checker, items: object, amount: object, *, required: Sequence[str]) -> None:
    """``order.line_items``: each item by :data:`LINE_ITEM`, and their total equal to ``amount`` when it is known."""
    wanted = set(required)
    if items is MISSING or items is None:
        if wanted:
            checker.error("order.line_items must be filled")
        return
    if not isinstance(items, list):
        checker.error("order.line_items must be a list")
        return
    if not items and wanted:
        checker.error("order.line_items must be filled")
    total, totals_known = 0, True
    for index, item in enumerate(items):
        name = f"order.line_items[{index}]"
        if not isinstance(item, Mapping):
            checker.error(f"{name} must be an object")
            totals_known = False
            continue
        # Price and quantity say "must be filled" themselves, after the item's other fields.
        for key in sorted(wanted - {"price", "quantity"}):
            checker.filled(f"{name}.{key}", item.get(key, MISSING))
        valid = check_fields(checker, f"{name}.", item, LINE_ITEM)
        if {"price", "quantity"} <= valid:
            total += item["price"] * item["quantity"]
        else:
            totals_known = False
    if items and totals_known and is_int(amount) and total != amount:
        checker.error(f"order.line_items total (price x quantity) is {total} but order.amount is {amount}")


def check_order_data(customer: CustomerData | None, line_items: Sequence[LineItemData]) -> list[str]:
    """What DOKU would refuse in a customer and a cart, before anything is stored or sent.

    The same rules as :func:`validate_checkout_body`, for ``create_order`` and the shop's own
    forms (see :mod:`django_doku_checkout.validators`). The phone is checked as it will be sent.
    """
    checker = Checker()
    if customer is not None:
        values = compact(vars(customer))
        if values.get("phone"):
            values["phone"] = normalize_phone(str(values["phone"]))
        check_object(checker, "customer", values, CUSTOMER)
    if line_items:  # an empty cart is the caller's to refuse; a form checks one field at a time
        # The amount is the items' total here, so only the items' own rules apply.
        items = [compact(vars(item)) for item in line_items]
        check_line_items(checker, items, None, required=("name", "price", "quantity"))
    return checker.result.errors


# --- POST /checkout/v1/payment -------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """The payment methods a Checkout body asks for, and what DOKU requires for them."""

    methods: tuple[str, ...] = ()
    rules: tuple[payment_methods.MethodRules, ...] = ()

    @classmethod
    def of(cls, methods: list[str]) -> Offer:
        rules = (payment_methods.rules_for(code) for code in methods)
        return cls(tuple(methods), tuple(rule for rule in rules if rule))

    @property
    def card_possible(self) -> bool:
        return not self.methods or any(payment_methods.is_card(code) for code in self.methods)

    @property
    def cards_only(self) -> bool:
        return bool(self.methods) and all(payment_methods.is_card(code) for code in self.methods)

    @property
    def no_symbols(self) -> bool:
        return any(rule.no_symbols for rule in self.rules)

    def required(self, section: str) -> set[str]:
        """The fields of ``section`` (``order``, ``customer``, ``line_items`` ...) the methods require."""
        return {key for rule in self.rules for key in getattr(rule, section)}


def _method_codes(checker: Checker, value: object) -> list[str]:
    if value is MISSING or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(code, str) and code for code in value):
        checker.error("payment.payment_method_types must be a list of payment method codes")
        return []
    for code in value:
        if code in payment_methods.MISSPELLED:
            checker.warn(
                f"payment.payment_method_types contains {code!r}; DOKU spells it "
                f"{payment_methods.MISSPELLED[code]!r} and refuses any other spelling"
            )
        elif code not in payment_methods.KNOWN_METHODS and payment_methods.rules_for(code) is None:
            checker.warn(
                f"payment.payment_method_types contains {code!r}, a code this version does not know; "
                "DOKU refuses it unless the channel is active on your account"
            )
    return list(value)


def checkout_invoice_limit(payment_method_types: list[str]) -> int | None:
    """The longest invoice number a Checkout body offering ``payment_method_types`` takes, below DOKU's 64."""
    return MAX_CARD_CHECKOUT_INVOICE_NUMBER if Offer.of(payment_method_types).card_possible else None


def _invoice_for_methods(checker: Checker, body: Mapping[str, Any], offer: Offer) -> None:
    invoice = get(body, "order.invoice_number")
    if not isinstance(invoice, str):
        return
    if len(invoice) > MAX_CARD_CHECKOUT_INVOICE_NUMBER and offer.card_possible:
        checker.error(
            f"order.invoice_number must be at most {MAX_CARD_CHECKOUT_INVOICE_NUMBER} characters when CREDIT_CARD "
            "may be offered "
            "(list payment.payment_method_types without CREDIT_CARD to allow up to 64)"
        )
    if offer.no_symbols and has_symbols(invoice):
        checker.error("order.invoice_number must not contain symbols when KKI is offered")
    elif not offer.methods and has_symbols(invoice):
        # Every active channel is offered, KKI included if the account has it.
        checker.warn(
            "order.invoice_number contains symbols: DOKU refuses it for Kartu Kredit Indonesia, which an empty "
            "payment.payment_method_types may offer"
        )


def _line_items(checker: Checker, body: Mapping[str, Any], offer: Offer) -> None:
    items = get(body, "order.line_items")
    check_line_items(checker, items, get(body, "order.amount"), required=sorted(offer.required("line_items")))
    if not isinstance(items, list):
        return
    indodana = any(rule.indodana_categories for rule in offer.rules)
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        category = item.get("category")
        if indodana and not (isinstance(category, str) and category in payment_methods.INDODANA_CATEGORIES):
            checker.error(f"order.line_items[{index}].category must be one of DOKU's Indodana categories")
        if offer.no_symbols:
            for key in ("id", "name"):
                value = item.get(key)
                if isinstance(value, str) and has_symbols(value):
                    checker.error(f"order.line_items[{index}].{key} must not contain symbols when KKI is offered")


def _payment_type(checker: Checker, body: Mapping[str, Any], offer: Offer) -> None:
    payment_type = get(body, "payment.type")
    if payment_type is MISSING or payment_type is None:
        return
    if payment_type not in PAYMENT_TYPES:
        checker.error("payment.type must be SALE, INSTALLMENT or AUTHORIZE")
    elif payment_type in CARD_ONLY_PAYMENT_TYPES and not offer.cards_only:
        checker.error(
            f"payment.type {payment_type} is only for card payments: set payment.payment_method_types to ['CREDIT_CARD']"
        )


def _customer_and_addresses(checker: Checker, body: Mapping[str, Any], offer: Offer) -> None:
    check_object(checker, "customer", get(body, "customer"), CUSTOMER, required=offer.required("customer"))
    for section in ("shipping_address", "billing_address"):
        wanted, value = offer.required(section), get(body, section)
        if wanted or value is not MISSING:
            check_object(checker, section, value, ADDRESS, required=wanted)


def _allow_tenor(checker: Checker, body: Mapping[str, Any], offer: Offer) -> None:
    tenors = get(body, "additional_info.allow_tenor")
    if tenors is MISSING or tenors is None:
        return
    if not isinstance(tenors, list) or not all(is_int(t) and t in ALLOWED_TENORS for t in tenors):
        checker.error("additional_info.allow_tenor must be a list of 0, 3, 6 and 12")


#: A Checkout body's rules, in the order its problems are reported.
CHECKOUT: tuple[FieldRule | Step, ...] = (
    Text("order.invoice_number", required=True, max_length=64),
    _invoice_for_methods,
    Amount("order.amount"),
    Text(
        "order.currency",
        exact_length=3,
        pattern=re.compile(r"[A-Z]{3}"),
        pattern_rule="must be a 3-letter ISO 4217 code such as IDR",
    ),
    Url("order.callback_url"),
    Url("order.callback_url_cancel"),
    Url("order.callback_url_result"),
    Text("order.language", max_length=2, pattern=_LETTERS, pattern_rule="must be letters"),
    Boolean("order.auto_redirect"),
    Boolean("order.disable_retry_payment"),
    Boolean("order.recover_abandoned_cart"),
    WholeNumber("order.expired_recovered_cart", low=1, high=MAX_EXPIRED_RECOVERED_CART),
    _line_items,
    WholeNumber("payment.payment_due_date", low=1, high=999_999),
    _payment_type,
    _customer_and_addresses,
    _allow_tenor,
    Url("additional_info.doku_wallet_notify_url"),
    Url("additional_info.override_notification_url"),
    Text("additional_info.account.id", max_length=64),
    Text("additional_info.account.split_rule_id", max_length=64),
)

_SECTIONS = ("payment", "customer", "shipping_address", "billing_address", "additional_info")


def override_path_problem(body: object, notification_path: str) -> str | None:
    """DOKU's rule for ``additional_info.override_notification_url``: only its domain may differ.

    DOKU posts to the override with the configured notification URL's path, and signs that
    path (``Request-Target``): an override with another path is refused. The problem as
    DOKU's error would say it, or None.
    """
    url = get(body, "additional_info.override_notification_url") if isinstance(body, Mapping) else None
    if not isinstance(url, str) or not url:
        return None
    path = urlsplit(url).path or "/"
    if path != notification_path:
        return (
            f"additional_info.override_notification_url must have the notification URL's path "
            f"{notification_path!r} (only its domain may differ), not {path!r}"
        )
    return None


def recovery_window(order: object) -> timedelta | None:
    """How long after its expiry DOKU still takes a payment on a Checkout order, from its ``order`` section.

    With ``recover_abandoned_cart`` DOKU keeps an expired order payable for
    ``expired_recovered_cart`` minutes. Without the minutes, DOKU's own default is not
    documented, so the longest DOKU allows is assumed: a link is never taken for closed while
    DOKU may still take its payment. None when the order is not recoverable.
    """
    if not isinstance(order, Mapping) or order.get("recover_abandoned_cart") is not True:
        return None
    asked = order.get("expired_recovered_cart")
    minutes = asked if isinstance(asked, int) and not isinstance(asked, bool) else 0
    return timedelta(minutes=minutes if 1 <= minutes <= MAX_EXPIRED_RECOVERED_CART else MAX_EXPIRED_RECOVERED_CART)


def validate_checkout_body(body: object) -> ValidationResult:
    """Check a ``POST /checkout/v1/payment`` body against every rule DOKU documents."""
    checker = Checker()
    if not isinstance(body, Mapping):
        checker.error("request body must be a JSON object")
        return checker.result
    if not isinstance(body.get("order"), Mapping):
        checker.error("order must be filled")
    for section in _SECTIONS:
        if section in body and body[section] is not None and not isinstance(body[section], Mapping):
            checker.error(f"{section} must be an object")
    offer = Offer.of(_method_codes(checker, get(body, "payment.payment_method_types")))
    apply(checker, body, CHECKOUT, offer, required={f"order.{key}" for key in offer.required("order")})
    return checker.result


# --- POST /credit-card/v1/payment-page -----------------------------------------------------------


def _card_page_line_items(checker: Checker, body: Mapping[str, Any], context: object) -> None:
    items, amount = get(body, "order.line_items"), get(body, "order.amount")
    check_line_items(checker, items, amount, required=("name", "price", "quantity"))


def _card_page_customer(checker: Checker, body: Mapping[str, Any], context: object) -> None:
    # DOKU's payment-page guide asks customer.id only for tokenization, which this app does not use.
    required = ("name", "email", "phone", "address", "country")
    check_object(checker, "customer", get(body, "customer"), CUSTOMER, required=required)


def _card_page_theme(checker: Checker, body: Mapping[str, Any], context: object) -> None:
    themes = get(body, "override_configuration.themes")
    if not isinstance(themes, Mapping):
        checker.error("override_configuration.themes must be filled")
    else:
        check_fields(checker, "override_configuration.themes.", themes, THEME)


#: A card payment page body's rules (every field is mandatory), in the order its problems are reported.
CARD_PAGE: tuple[FieldRule | Step, ...] = (
    Text("order.invoice_number", required=True, max_length=MAX_CARD_PAGE_INVOICE_NUMBER),
    Amount("order.amount"),
    _card_page_line_items,
    Url("order.callback_url", required=True),
    Url("order.failed_url"),
    Boolean("order.auto_redirect", required=True),
    Text("order.session_id", required=True, max_length=128),
    _card_page_customer,
    _card_page_theme,
)


def validate_card_page_body(body: object) -> ValidationResult:
    """Check a ``POST /credit-card/v1/payment-page`` body (card page: every field is mandatory)."""
    checker = Checker()
    if not isinstance(body, Mapping):
        checker.error("request body must be a JSON object")
        return checker.result
    apply(checker, body, CARD_PAGE)
    return checker.result
