"""Build DOKU request bodies and check them against DOKU's rules. Pure: no ORM, no I/O.

The validators take any JSON value, never raise on odd input, and report every
problem at once in DOKU's own wording style (``order.amount must greater than 0``),
so the same code serves the app (before sending) and the simulator (on receipt).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django_doku_checkout import payment_methods
from django_doku_checkout.exceptions import DokuValidationError

MAX_AMOUNT = 999_999_999_999  # 12 digits
PAYMENT_TYPES = ("SALE", "INSTALLMENT", "AUTHORIZE")
CARD_ONLY_PAYMENT_TYPES = ("INSTALLMENT", "AUTHORIZE")
ALLOWED_TENORS = frozenset({0, 3, 6, 12})
MAX_EXPIRED_RECOVERED_CART = 44_640  # minutes (31 days)

_MISSING: Any = object()
_SYMBOL = re.compile(r"[^A-Za-z0-9 ]")


def has_symbols(text: str) -> bool:
    """Whether ``text`` has anything but ASCII letters, digits and spaces (KKI refuses those)."""
    return bool(_SYMBOL.search(text))


_PHONE = re.compile(r"[1-9][0-9]{7,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LETTERS = re.compile(r"[A-Za-z]+")
#: DOKU's colour format for the card payment page's theme.
HEX_COLOUR = re.compile(r"#?(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
#: What DOKU's card page takes: six hex digits without ``#`` (DOKU's own plugins send ``F5F8FB``).
BARE_HEX_COLOUR = re.compile(r"[0-9A-F]{6}")


# --- building ---------------------------------------------------------------------------------


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


def _compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _object(data: object | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return _compact(vars(data)) or None


def build_checkout_body(data: CheckoutData) -> dict[str, Any]:
    """The JSON object for ``POST /checkout/v1/payment``, leaving out every unset field."""
    order = _compact(
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
            "line_items": [_compact(vars(item)) for item in data.line_items] or None,
        }
    )
    payment = _compact(
        {
            "payment_due_date": data.payment_due_date,
            "type": data.payment_type,
            "payment_method_types": list(data.payment_method_types) or None,
        }
    )
    additional_info = _compact(
        {
            "allow_tenor": list(data.allow_tenor) if data.allow_tenor is not None else None,
            "doku_wallet_notify_url": data.doku_wallet_notify_url,
            "override_notification_url": data.override_notification_url,
            "account": {"id": data.account_id} if data.account_id else None,
            "integration": dict(data.integration) or None,
        }
    )
    return _compact(
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
        "order": _compact(
            {
                "invoice_number": data.invoice_number,
                "line_items": [_compact(vars(item)) for item in data.line_items],
                "amount": data.amount,
                "callback_url": data.callback_url,
                "failed_url": data.failed_url,
                "auto_redirect": data.auto_redirect,
                "session_id": data.session_id,
            }
        ),
        "customer": _compact(vars(data.customer)),
        "override_configuration": {"themes": _bare_colours(vars(data.theme))},
    }


def bare_hex(colour: str) -> str:
    """A colour as DOKU's card page takes it: six hex digits, no ``#`` (``#fff`` -> ``FFFFFF``)."""
    digits = colour.removeprefix("#").upper()
    return "".join(digit * 2 for digit in digits) if len(digits) == 3 else digits


def _bare_colours(theme: Mapping[str, str]) -> dict[str, str]:
    return {key: bare_hex(value) if key.endswith("_color") and value else value for key, value in theme.items()}


#: The deepest JSON this app reads from DOKU; DOKU's bodies are four levels deep.
MAX_JSON_DEPTH = 32


def _depth_within(raw: bytes, limit: int) -> bool:
    """Whether the brackets in ``raw`` (outside strings) never nest deeper than ``limit``."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def loads(raw: bytes) -> Any:
    """JSON from DOKU, or None when it is not JSON or nests deeper than :data:`MAX_JSON_DEPTH`.

    Numbers with a fraction or an exponent are read as :class:`~decimal.Decimal`, so that
    ``85000.000000000001`` and ``8.5e4`` are not silently taken for 85,000. A depth check comes
    first: Python's parser, and anything walking the result, would exhaust the stack on a
    few kilobytes of ``[``.
    """
    if not _depth_within(raw, MAX_JSON_DEPTH):
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Serialize a body once; these exact bytes are digested, signed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def normalize_phone(phone: str, *, calling_code: str = "62") -> str:
    """DOKU wants ``{calling_code}{number}`` digits: ``0812-3456 789`` -> ``628123456789``.

    Also read as people write them: ``+62 (0)812 3456 7890``, ``0062 812 …``, ``62 0812 …``,
    dots, dashes and spaces. Only ASCII digits count.
    """
    digits = re.sub(r"[^0-9]", "", phone.replace("(0)", ""))
    if digits.startswith("00"):  # the international call prefix, as in 0062
        digits = digits[2:]
    elif digits.startswith("0"):  # a national number: the trunk 0 gives way to the country code
        return calling_code + digits[1:]
    if digits.startswith(calling_code + "0"):  # "62 0812": the trunk 0 written after the country code
        digits = calling_code + digits[len(calling_code) + 1 :]
    return digits


# --- validating --------------------------------------------------------------------------------


def check_order_data(customer: CustomerData | None, line_items: Sequence[LineItemData]) -> list[str]:
    """What DOKU would refuse in a customer and a cart, before anything is stored or sent.

    The same rules as :func:`validate_checkout_body`, for ``create_order`` and the shop's own
    forms (see :mod:`django_doku_checkout.validators`). The phone is checked as it will be sent.
    """
    checker = _Checker()
    if customer is not None:
        values = _compact(vars(customer))
        if values.get("phone"):
            values["phone"] = normalize_phone(str(values["phone"]))
        _customer(checker, values)
    if line_items:  # an empty cart is the caller's to refuse; a form checks one field at a time
        # The amount is the items' total here, so only the items' own rules apply.
        items = [_compact(vars(item)) for item in line_items]
        _line_items(checker, items, None, required_fields=("name", "price", "quantity"))
    return checker.result.errors


@dataclass
class ValidationResult:
    """Every problem found in a body: ``errors`` block sending, ``warnings`` do not."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise DokuValidationError(self.errors)


def _get(node: object, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_blank(value: object) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str) and not value.strip())


class _Checker:
    def __init__(self) -> None:
        self.result = ValidationResult()

    def error(self, message: str) -> None:
        if message not in self.result.errors:
            self.result.errors.append(message)

    def filled(self, name: str, value: object) -> bool:
        if _is_blank(value):
            self.error(f"{name} must be filled")
            return False
        return True

    def text(
        self,
        name: str,
        value: object,
        *,
        required: bool = False,
        max_length: int | None = None,
        exact_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_rule: str = "",
    ) -> None:
        if _is_blank(value):
            if required:
                self.error(f"{name} must be filled")
            elif value is not _MISSING and value is not None and not isinstance(value, str):
                self.error(f"{name} must be a string")
            return
        if not isinstance(value, str):
            self.error(f"{name} must be a string")
            return
        if exact_length is not None and len(value) != exact_length:
            self.error(f"{name} must be exactly {exact_length} characters")
        if max_length is not None and len(value) > max_length:
            self.error(f"{name} must be at most {max_length} characters")
        if pattern is not None and not pattern.fullmatch(value):
            self.error(f"{name} {pattern_rule}")

    def url(self, name: str, value: object, *, required: bool = False) -> None:
        self.text(name, value, required=required, max_length=2000)
        if isinstance(value, str) and value.strip():
            parts = urlsplit(value)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                self.error(f"{name} must be an absolute http(s) URL")

    def integer(self, name: str, value: object, *, low: int, high: int, required: bool = False) -> bool:
        if value is _MISSING or value is None:
            if required:
                self.error(f"{name} must be filled")
            return False
        if not _is_int(value):
            self.error(f"{name} must be a whole number")
            return False
        assert isinstance(value, int)  # noqa: S101  (narrowing for mypy)
        if not low <= value <= high:
            self.error(f"{name} must be between {low} and {high}")
            return False
        return True

    def boolean(self, name: str, value: object, *, required: bool = False) -> None:
        if value is _MISSING or value is None:
            if required:
                self.error(f"{name} must be filled")
        elif not isinstance(value, bool):
            self.error(f"{name} must be true or false")

    def amount(self, name: str, value: object) -> bool:
        if value is _MISSING or value is None:
            self.error(f"{name} must be filled")
            return False
        if not _is_int(value):
            self.error(f"{name} must be a whole number of rupiah (no decimals)")
            return False
        assert isinstance(value, int)  # noqa: S101
        if value <= 0:
            self.error(f"{name} must greater than 0")
            return False
        if value > MAX_AMOUNT:
            self.error(f"{name} must be at most 12 digits")
            return False
        return True


def _method_codes(checker: _Checker, value: object) -> list[str]:
    if value is _MISSING or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(code, str) and code for code in value):
        checker.error("payment.payment_method_types must be a list of payment method codes")
        return []
    for code in value:
        if code in payment_methods.MISSPELLED:
            checker.result.warnings.append(
                f"payment.payment_method_types contains {code!r}; DOKU spells it "
                f"{payment_methods.MISSPELLED[code]!r} and refuses any other spelling"
            )
        elif code not in payment_methods.KNOWN_METHODS and payment_methods.rules_for(code) is None:
            checker.result.warnings.append(
                f"payment.payment_method_types contains {code!r}, a code this version does not know; "
                "DOKU refuses it unless the channel is active on your account"
            )
    return list(value)


def _line_items(checker: _Checker, items: object, amount: object, *, required_fields: Iterable[str]) -> None:
    required = set(required_fields)
    if items is _MISSING or items is None:
        if required:
            checker.error("order.line_items must be filled")
        return
    if not isinstance(items, list):
        checker.error("order.line_items must be a list")
        return
    if not items and required:
        checker.error("order.line_items must be filled")
    total = 0
    totals_known = True
    for index, item in enumerate(items):
        name = f"order.line_items[{index}]"
        if not isinstance(item, Mapping):
            checker.error(f"{name} must be an object")
            totals_known = False
            continue
        for key in sorted(required - {"price", "quantity"}):
            checker.filled(f"{name}.{key}", item.get(key, _MISSING))
        checker.text(f"{name}.id", item.get("id", _MISSING), max_length=64)
        checker.text(f"{name}.name", item.get("name", _MISSING), required=True, max_length=255)
        for key in ("sku", "category", "type"):
            checker.text(f"{name}.{key}", item.get(key, _MISSING), max_length=255)
        for key in ("url", "image_url"):
            checker.url(f"{name}.{key}", item.get(key, _MISSING))
        price_ok = checker.integer(f"{name}.price", item.get("price", _MISSING), low=0, high=MAX_AMOUNT, required=True)
        quantity_ok = checker.integer(
            f"{name}.quantity", item.get("quantity", _MISSING), low=1, high=999_999, required=True
        )
        if price_ok and quantity_ok:
            total += item["price"] * item["quantity"]
        else:
            totals_known = False
    if items and totals_known and _is_int(amount) and total != amount:
        checker.error(f"order.line_items total (price x quantity) is {total} but order.amount is {amount}")


def _customer(checker: _Checker, customer: object, *, required_fields: Iterable[str] = ()) -> None:
    required = set(required_fields)
    if customer is _MISSING or customer is None:
        for key in sorted(required):
            checker.error(f"customer.{key} must be filled")
        return
    if not isinstance(customer, Mapping):
        checker.error("customer must be an object")
        return
    for key in sorted(required):
        checker.filled(f"customer.{key}", customer.get(key, _MISSING))
    checker.text("customer.id", customer.get("id", _MISSING), max_length=50)
    checker.text("customer.name", customer.get("name", _MISSING), max_length=255)
    checker.text("customer.last_name", customer.get("last_name", _MISSING), max_length=16)
    checker.text(
        "customer.email",
        customer.get("email", _MISSING),
        max_length=128,
        pattern=_EMAIL,
        pattern_rule="must be an email address",
    )
    checker.text(
        "customer.phone",
        customer.get("phone", _MISSING),
        max_length=16,
        pattern=_PHONE,
        pattern_rule="must be digits with the country calling code, e.g. 6281122334455 (at most 16)",
    )
    checker.text("customer.address", customer.get("address", _MISSING), max_length=400)
    for key in ("postcode", "state", "city"):
        checker.text(f"customer.{key}", customer.get(key, _MISSING), max_length=255)
    checker.text(
        "customer.country",
        customer.get("country", _MISSING),
        exact_length=2,
        pattern=_LETTERS,
        pattern_rule="must be a 2-letter ISO 3166-1 country code",
    )


def _address(checker: _Checker, name: str, address: object, *, required_fields: Iterable[str]) -> None:
    required = set(required_fields)
    if address is _MISSING or address is None:
        for key in sorted(required):
            checker.error(f"{name}.{key} must be filled")
        return
    if not isinstance(address, Mapping):
        checker.error(f"{name} must be an object")
        return
    for key in sorted(required):
        checker.filled(f"{name}.{key}", address.get(key, _MISSING))
    for key in ("first_name", "last_name", "city", "postal_code"):
        checker.text(f"{name}.{key}", address.get(key, _MISSING), max_length=255)
    checker.text(f"{name}.address", address.get("address", _MISSING), max_length=400)
    checker.text(f"{name}.phone", address.get("phone", _MISSING), max_length=16)
    checker.text(
        f"{name}.country_code",
        address.get("country_code", _MISSING),
        max_length=3,
        pattern=_LETTERS,
        pattern_rule="must be a country code such as IDN",
    )


def validate_checkout_body(body: object) -> ValidationResult:
    """Check a ``POST /checkout/v1/payment`` body against every rule DOKU documents."""
    checker = _Checker()
    if not isinstance(body, Mapping):
        checker.error("request body must be a JSON object")
        return checker.result
    if not isinstance(body.get("order"), Mapping):
        checker.error("order must be filled")
    for section in ("payment", "customer", "shipping_address", "billing_address", "additional_info"):
        if section in body and body[section] is not None and not isinstance(body[section], Mapping):
            checker.error(f"{section} must be an object")

    methods = _method_codes(checker, _get(body, "payment.payment_method_types"))
    rules = [rule for rule in (payment_methods.rules_for(code) for code in methods) if rule]
    card_possible = not methods or any(payment_methods.is_card(code) for code in methods)
    no_symbols = any(rule.no_symbols for rule in rules)

    invoice = _get(body, "order.invoice_number")
    checker.text("order.invoice_number", invoice, required=True, max_length=64)
    if isinstance(invoice, str) and len(invoice) > 30 and card_possible:
        checker.error(
            "order.invoice_number must be at most 30 characters when CREDIT_CARD may be offered "
            "(list payment.payment_method_types without CREDIT_CARD to allow up to 64)"
        )
    if isinstance(invoice, str) and no_symbols and _SYMBOL.search(invoice):
        checker.error("order.invoice_number must not contain symbols when KKI is offered")
    elif isinstance(invoice, str) and not methods and _SYMBOL.search(invoice):
        # Every active channel is offered, KKI included if the account has it.
        checker.result.warnings.append(
            "order.invoice_number contains symbols: DOKU refuses it for Kartu Kredit Indonesia, which an empty "
            "payment.payment_method_types may offer"
        )

    amount = _get(body, "order.amount")
    checker.amount("order.amount", amount)
    checker.text(
        "order.currency",
        _get(body, "order.currency"),
        exact_length=3,
        pattern=re.compile(r"[A-Z]{3}"),
        pattern_rule="must be a 3-letter ISO 4217 code such as IDR",
    )
    for key in ("callback_url", "callback_url_cancel", "callback_url_result"):
        required = key in {field for rule in rules for field in rule.order}
        checker.url(f"order.{key}", _get(body, f"order.{key}"), required=required)
    checker.text(
        "order.language", _get(body, "order.language"), max_length=2, pattern=_LETTERS, pattern_rule="must be letters"
    )
    for key in ("auto_redirect", "disable_retry_payment", "recover_abandoned_cart"):
        checker.boolean(f"order.{key}", _get(body, f"order.{key}"))
    checker.integer(
        "order.expired_recovered_cart",
        _get(body, "order.expired_recovered_cart"),
        low=1,
        high=MAX_EXPIRED_RECOVERED_CART,
    )
    line_item_fields = {key for rule in rules for key in rule.line_items}
    _line_items(checker, _get(body, "order.line_items"), amount, required_fields=line_item_fields)
    items = _get(body, "order.line_items")
    if isinstance(items, list):
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            category = item.get("category")
            if any(rule.indodana_categories for rule in rules) and category not in payment_methods.INDODANA_CATEGORIES:
                checker.error(f"order.line_items[{index}].category must be one of DOKU's Indodana categories")
            if no_symbols:
                for key in ("id", "name"):
                    value = item.get(key)
                    if isinstance(value, str) and _SYMBOL.search(value):
                        checker.error(f"order.line_items[{index}].{key} must not contain symbols when KKI is offered")

    checker.integer("payment.payment_due_date", _get(body, "payment.payment_due_date"), low=1, high=999_999)
    payment_type = _get(body, "payment.type")
    if payment_type is not _MISSING and payment_type is not None:
        if payment_type not in PAYMENT_TYPES:
            checker.error("payment.type must be SALE, INSTALLMENT or AUTHORIZE")
        elif payment_type in CARD_ONLY_PAYMENT_TYPES and (
            not methods or not all(payment_methods.is_card(code) for code in methods)
        ):
            checker.error(
                f"payment.type {payment_type} is only for card payments: "
                "set payment.payment_method_types to ['CREDIT_CARD']"
            )

    _customer(checker, _get(body, "customer"), required_fields={key for rule in rules for key in rule.customer})
    for section in ("shipping_address", "billing_address"):
        wanted = {key for rule in rules for key in getattr(rule, section)}
        value = _get(body, section)
        if wanted or value is not _MISSING:
            _address(checker, section, value, required_fields=wanted)

    tenors = _get(body, "additional_info.allow_tenor")
    if (
        tenors is not _MISSING
        and tenors is not None
        and (not isinstance(tenors, list) or not all(_is_int(t) and t in ALLOWED_TENORS for t in tenors))
    ):
        checker.error("additional_info.allow_tenor must be a list of 0, 3, 6 and 12")
    for key in ("doku_wallet_notify_url", "override_notification_url"):
        checker.url(f"additional_info.{key}", _get(body, f"additional_info.{key}"))
    return checker.result


def validate_card_page_body(body: object) -> ValidationResult:
    """Check a ``POST /credit-card/v1/payment-page`` body (card page: every field is mandatory)."""
    checker = _Checker()
    if not isinstance(body, Mapping):
        checker.error("request body must be a JSON object")
        return checker.result
    checker.text("order.invoice_number", _get(body, "order.invoice_number"), required=True, max_length=30)
    amount = _get(body, "order.amount")
    checker.amount("order.amount", amount)
    _line_items(checker, _get(body, "order.line_items"), amount, required_fields=("name", "price", "quantity"))
    checker.url("order.callback_url", _get(body, "order.callback_url"), required=True)
    checker.url("order.failed_url", _get(body, "order.failed_url"))
    checker.boolean("order.auto_redirect", _get(body, "order.auto_redirect"), required=True)
    checker.text("order.session_id", _get(body, "order.session_id"), required=True, max_length=128)
    # DOKU's payment-page guide asks customer.id only for tokenization, which this app does not use.
    _customer(checker, _get(body, "customer"), required_fields=("name", "email", "phone", "address", "country"))
    themes = _get(body, "override_configuration.themes")
    if not isinstance(themes, Mapping):
        checker.error("override_configuration.themes must be filled")
    else:
        checker.text(
            "override_configuration.themes.language",
            themes.get("language", _MISSING),
            max_length=2,
            pattern=_LETTERS,
            pattern_rule="must be letters",
        )
        for key in ("background_color", "font_color", "button_background_color", "button_font_color"):
            checker.text(
                f"override_configuration.themes.{key}",
                themes.get(key, _MISSING),
                pattern=BARE_HEX_COLOUR,
                pattern_rule="must be six hex digits without # such as 1A73E8",
            )
    return checker.result


# --- DOKU's dates ------------------------------------------------------------------------------

WIB = timezone(timedelta(hours=7), "WIB")
DOKU_DATETIME_FORMAT = "%Y%m%d%H%M%S"


def parse_doku_datetime(value: object) -> datetime | None:
    """An aware datetime from DOKU's ``yyyyMMddHHmmss`` in UTC+7 (``expired_date``), else None."""
    if not isinstance(value, str) or len(value) != 14:
        return None
    try:
        return datetime.strptime(value, DOKU_DATETIME_FORMAT).replace(tzinfo=WIB)
    except ValueError:
        return None


def format_doku_datetime(moment: datetime) -> str:
    """``moment`` as DOKU writes it: ``yyyyMMddHHmmss`` in UTC+7."""
    return moment.astimezone(WIB).strftime(DOKU_DATETIME_FORMAT)
