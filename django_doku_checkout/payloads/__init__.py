"""DOKU's request bodies: built, checked against DOKU's rules, and written once. Pure: no ORM, no I/O.

Every name below is importable from here. Behind them, one module per job:

- :mod:`.bodies`: the request's data (``CheckoutData``, ``CardPageData`` ...) and the bodies built from it;
- :mod:`.rules`: DOKU's rules for those bodies, as tables of field paths and rules, and the
  functions that check a body against them (``validate_checkout_body``); the same rules serve
  the app (before sending) and the simulator (on receipt);
- :mod:`.validation`: the engine the rules run on: it takes any JSON value, never raises on odd
  input, and reports every problem at once in DOKU's own wording style
  (``order.amount must greater than 0``);
- :mod:`.wire`: the JSON codec (DOKU's answers read defensively, a body's bytes written once);
- :mod:`.phones`: phone numbers as DOKU takes them;
- :mod:`.dates`: DOKU's ``yyyyMMddHHmmss`` times in WIB (UTC+7).
"""

from __future__ import annotations

from django_doku_checkout.payloads.bodies import (
    BARE_HEX_COLOUR,
    HEX_COLOUR,
    AddressData,
    CardPageData,
    CardPageTheme,
    CheckoutData,
    CustomerData,
    LineItemData,
    bare_hex,
    build_card_page_body,
    build_checkout_body,
)
from django_doku_checkout.payloads.dates import (
    DOKU_DATETIME_FORMAT,
    WIB,
    format_doku_datetime,
    parse_doku_datetime,
)
from django_doku_checkout.payloads.phones import normalize_phone
from django_doku_checkout.payloads.rules import (
    ALLOWED_TENORS,
    CARD_ONLY_PAYMENT_TYPES,
    MAX_CARD_CHECKOUT_INVOICE_NUMBER,
    MAX_CARD_PAGE_INVOICE_NUMBER,
    MAX_EXPIRED_RECOVERED_CART,
    PAYMENT_TYPES,
    check_order_data,
    checkout_invoice_limit,
    has_symbols,
    override_path_problem,
    recovery_window,
    validate_card_page_body,
    validate_checkout_body,
)
from django_doku_checkout.payloads.validation import MAX_AMOUNT, ValidationResult
from django_doku_checkout.payloads.wire import MAX_JSON_DEPTH, encode_body, loads

__all__ = [
    # Building bodies
    "LineItemData",
    "CustomerData",
    "AddressData",
    "CheckoutData",
    "CardPageTheme",
    "CardPageData",
    "build_checkout_body",
    "build_card_page_body",
    "bare_hex",
    "HEX_COLOUR",
    "BARE_HEX_COLOUR",
    # Checking them against DOKU's rules
    "validate_checkout_body",
    "validate_card_page_body",
    "check_order_data",
    "checkout_invoice_limit",
    "ValidationResult",
    "has_symbols",
    "override_path_problem",
    "recovery_window",
    "MAX_AMOUNT",
    "PAYMENT_TYPES",
    "CARD_ONLY_PAYMENT_TYPES",
    "ALLOWED_TENORS",
    "MAX_CARD_CHECKOUT_INVOICE_NUMBER",
    "MAX_CARD_PAGE_INVOICE_NUMBER",
    "MAX_EXPIRED_RECOVERED_CART",
    # The wire format
    "encode_body",
    "loads",
    "MAX_JSON_DEPTH",
    # Phones and DOKU's dates
    "normalize_phone",
    "WIB",
    "DOKU_DATETIME_FORMAT",
    "parse_doku_datetime",
    "format_doku_datetime",
]
