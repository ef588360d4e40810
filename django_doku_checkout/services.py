"""The payment domain: payment links, status checks and their effect on orders.

Views, admin actions and commands call these functions; they hold no DOKU logic.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from uuid import uuid4

from django.db import connections, transaction
from django.db.models import Manager, Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from django_doku_checkout import payloads, signatures, states
from django_doku_checkout.client import DokuClient, DokuResponse
from django_doku_checkout.conf import DokuCheckoutSettings, get_config
from django_doku_checkout.exceptions import (
    DokuAPIError,
    DokuConfigurationError,
    DokuError,
    DokuSignatureError,
    DokuValidationError,
)
from django_doku_checkout.models import CheckoutSession, LineItem, Notification, Order, OrderEvent, OrderStatus
from django_doku_checkout.redaction import mask_card_numbers, redact
from django_doku_checkout.signals import payment_needs_review

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=Model)

#: A session this close to DOKU's expiry is not handed to a shopper again.
REUSE_MARGIN = timedelta(minutes=2)
#: How far in the future a notification's Request-Timestamp may be (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)
#: A link's stored request and response: for people reading the admin, never for decisions,
#: so reads that decide leave them out (they are the largest columns).
_BODIES = ("request_body", "response_body")


def locked_rows(manager: Manager[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """Rows locked until the transaction ends, while other rows may still point at them.

    On PostgreSQL this is ``FOR NO KEY UPDATE``: a plain ``FOR UPDATE`` would also block
    the key-share lock a concurrent insert or update of a referencing row (a notification,
    an event) takes, and two such requests deadlock. ``skip_locked`` leaves out rows
    another transaction holds, where the database can (not on SQLite, which has one writer).

    An order's row lock guards its payment links too: every change to a ``CheckoutSession``
    is made while its order is locked, so a session read after taking that lock is current.
    """
    features = connections[manager.db].features
    return manager.select_for_update(
        no_key=features.has_select_for_no_key_update,
        skip_locked=skip_locked and features.has_select_for_update_skip_locked,
        # Only the manager's own rows, even when the query joins others to find them.
        of=("self",) if features.has_select_for_update_of else (),
    )


class OrderNotPayable(DokuError):
    """The order is paid, cancelled or refunded: it never gets a new payment link."""


# --- orders -----------------------------------------------------------------------------------------


def new_invoice_number() -> str:
    """A unique, unguessable invoice number short enough for card payments (21 characters)."""
    return f"INV-{timezone.now():%Y%m%d}-{secrets.token_hex(4).upper()}"


def create_order(
    *,
    line_items: Sequence[payloads.LineItemData],
    invoice_number: str | None = None,
    currency: str = "IDR",
    **fields: Any,
) -> Order:
    """Create an ``Order`` and its line items from a cart; the amount is their total.

    ``fields`` are other ``Order`` fields such as ``customer_name`` or ``customer_email``.
    Raises :class:`DokuValidationError` for an empty cart or impossible prices.
    """
    errors = []
    if not line_items:
        errors.append("order.line_items must be filled")
    for index, item in enumerate(line_items):
        if not isinstance(item.price, int) or item.price < 0:
            errors.append(f"order.line_items[{index}].price must be a whole number of rupiah")
        if not isinstance(item.quantity, int) or item.quantity < 1:
            errors.append(f"order.line_items[{index}].quantity must be at least 1")
    amount = sum(item.price * item.quantity for item in line_items) if not errors else 0
    if not errors and not 0 < amount <= payloads.MAX_AMOUNT:
        errors.append("order.amount must greater than 0 and have at most 12 digits")
    if errors:
        raise DokuValidationError(errors)
    with transaction.atomic():
        order = Order.objects.create(
            invoice_number=invoice_number or new_invoice_number(), amount=amount, currency=currency, **fields
        )
        LineItem.objects.bulk_create(
            LineItem(
                order=order,
                item_id=item.id or "",
                name=item.name,
                price=item.price,
                quantity=item.quantity,
                sku=item.sku or "",
                category=item.category or "",
                url=item.url or "",
                image_url=item.image_url or "",
                item_type=item.type or "",
            )
            for item in line_items
        )
    return order


# --- payment links ------------------------------------------------------------------------------


def _absolute_url(path: str, request: HttpRequest | None) -> str:
    if request is not None:
        return request.build_absolute_uri(path)
    site_url = get_config().site_url
    if not site_url:
        raise DokuConfigurationError(
            "DOKU_CHECKOUT['SITE_URL'] must be set to build callback URLs outside a request, "
            "e.g. 'https://shop.example.com'."
        )
    return site_url + path


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
        for item in order.line_items.all()
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


def build_checkout_data(
    order: Order, *, invoice_number: str, request: HttpRequest | None = None
) -> payloads.CheckoutData:
    """The Checkout request for ``order``, with absolute callback URLs to this app's views."""
    config = get_config()
    public_id = str(order.public_id)
    return payloads.CheckoutData(
        invoice_number=invoice_number,
        amount=order.amount,
        currency=order.currency,
        line_items=_line_items(order),
        callback_url=_absolute_url(reverse("doku_checkout:return", args=[public_id]), request),
        callback_url_cancel=_absolute_url(reverse("doku_checkout:cancel", args=[public_id]), request),
        callback_url_result=_absolute_url(reverse("doku_checkout:result", args=[public_id]), request),
        language=_doku_language(),
        auto_redirect=config.auto_redirect,
        payment_due_date=config.payment_due_date,
        payment_method_types=list(order.payment_method_types) or list(config.payment_method_types),
        customer=_customer(order),
        shipping_address=payloads.AddressData(**order.shipping_address) if order.shipping_address else None,
        billing_address=payloads.AddressData(**order.billing_address) if order.billing_address else None,
    )


def _next_invoice_number(order: Order, *, attempts: int | None = None) -> str:
    # DOKU's handling of a reused invoice number is undocumented, so every attempt after
    # the first gets its own: INV-1, INV-1-2, INV-1-3 ...
    attempts = order.checkout_sessions.count() if attempts is None else attempts
    return order.invoice_number if attempts == 0 else f"{order.invoice_number}-{attempts + 1}"


def newest_link(order: Order) -> CheckoutSession | None:
    """The order's newest link DOKU created (failed attempts left out), whatever its status."""
    return order.checkout_sessions.exclude(status=CheckoutSession.Status.ERROR).first()


def live_session(order: Order, links: Iterable[CheckoutSession] | None = None) -> CheckoutSession | None:
    """The order's newest Checkout session a shopper can still pay on, if any.

    ``links`` are the order's sessions, newest first, when the caller has already read them.
    """
    cutoff = timezone.now() + REUSE_MARGIN
    for link in order.checkout_sessions.defer(*_BODIES) if links is None else links:
        if (
            link.kind == CheckoutSession.Kind.CHECKOUT
            and link.status == CheckoutSession.Status.OPEN
            and link.payment_url
            and link.expires_at is not None
            and link.expires_at > cutoff
        ):
            return link
    return None


def _store_response(session: CheckoutSession, response: DokuResponse, *, url_key: str) -> None:
    # Checkout nests the link under "response"; the card page answers it at the top level.
    wrapped = response.data.get("response")
    container = wrapped if isinstance(wrapped, dict) and url_key in wrapped else response.data
    section = container.get(url_key)
    section = section if isinstance(section, dict) else {}
    payment_url = section.get("url")
    session.response_body = redact(response.data)
    if not isinstance(payment_url, str) or not payment_url.startswith(("https://", "http://")):
        raise DokuAPIError(
            status_code=response.status_code,
            messages=[f"DOKU's answer has no response.{url_key}.url"],
            request_id=response.request_id,
            body=response.data,
        )
    session.payment_url = payment_url
    session.token_id = str(section.get("token_id") or "")
    session.expires_at = payloads.parse_doku_datetime(section.get("expired_date"))


def _create_session(
    order: Order,
    *,
    kind: str,
    body: dict[str, Any],
    invoice_number: str,
    request_id: str,
    client: DokuClient,
) -> CheckoutSession:
    """Send one create request and record the attempt, successful or not, on a session row."""
    session = CheckoutSession(
        order=order, kind=kind, invoice_number=invoice_number, request_id=request_id, request_body=redact(body)
    )
    try:
        if kind == CheckoutSession.Kind.CARD_PAGE:
            response = client.create_card_payment_page(body, request_id=request_id)
            _store_response(session, response, url_key="credit_card_payment_page")
        else:
            response = client.create_checkout_payment(body, request_id=request_id)
            _store_response(session, response, url_key="payment")
    except DokuError as err:
        session.status = CheckoutSession.Status.ERROR
        session.error_message = str(err)
        session.save()
        raise
    session.save()
    return session


def _lock_payable(order: Order) -> Order:
    """The order's row, locked until the transaction ends; paid, cancelled or refunded is refused."""
    locked = locked_rows(Order.objects).get(pk=order.pk)
    if locked.status in states.UNPAYABLE:
        raise OrderNotPayable(
            gettext("Order %(invoice)s is %(status)s.")
            % {"invoice": locked.invoice_number, "status": locked.get_status_display().lower()}
        )
    return locked


def _outcome(
    order: Order, locked: Order, session: CheckoutSession | None, failure: DokuError | None
) -> CheckoutSession:
    """Raise the committed attempt's failure, or return its session; ``order`` learns the new status."""
    if failure is not None:
        raise failure
    order.status, order.updated_at = locked.status, locked.updated_at
    assert session is not None  # noqa: S101
    return session


def _attempt(
    locked: Order, *, kind: str, body: dict[str, Any], invoice_number: str, client: DokuClient | None, actor: Any
) -> tuple[CheckoutSession | None, DokuError | None]:
    """Ask DOKU for a link inside the caller's transaction; the order becomes pending on success.

    A DOKU failure is returned, not raised, so the caller can commit the recorded attempt first.
    """
    try:
        session = _create_session(
            locked,
            kind=kind,
            body=body,
            invoice_number=invoice_number,
            request_id=str(uuid4()),
            client=client or DokuClient(),
        )
    except DokuError as err:
        return None, err
    if locked.status != OrderStatus.PENDING:
        states.transition(
            locked,
            OrderStatus.PENDING,
            source=OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SHOPPER,
            actor=actor,
            note=f"{session.get_kind_display()} {session.invoice_number} created.",
        )
    return session, None


def create_payment_link(
    order: Order,
    *,
    request: HttpRequest | None = None,
    client: DokuClient | None = None,
    actor: Any = None,
) -> CheckoutSession:
    """Return a DOKU Checkout session the shopper can pay on, reusing a live one.

    The order row stays locked while DOKU is asked, so double clicks and two staff
    members at once still end with one live session. A failed attempt is recorded on a
    session with status ``error`` and the error is raised; the order stays payable.
    Raises :class:`OrderNotPayable`, :class:`DokuValidationError`, :class:`DokuAPIError`
    or :class:`DokuTransportError`.
    """
    failure: DokuError | None = None
    with transaction.atomic():
        locked = _lock_payable(order)
        # One read of the order's links answers both: is one still live, and how many were tried.
        links = list(locked.checkout_sessions.defer(*_BODIES))
        session = live_session(locked, links)
        if session is None:
            invoice_number = _next_invoice_number(locked, attempts=len(links))
            body = payloads.build_checkout_body(
                build_checkout_data(locked, invoice_number=invoice_number, request=request)
            )
            result = payloads.validate_checkout_body(body)
            for warning in result.warnings:
                logger.warning("Order %s: %s", locked.invoice_number, warning)
            result.raise_for_errors()
            session, failure = _attempt(
                locked,
                kind=CheckoutSession.Kind.CHECKOUT,
                body=body,
                invoice_number=invoice_number,
                client=client,
                actor=actor,
            )
    return _outcome(order, locked, session, failure)


def create_card_payment_page(
    order: Order,
    *,
    request: HttpRequest | None = None,
    theme: payloads.CardPageTheme | None = None,
    client: DokuClient | None = None,
    actor: Any = None,
) -> CheckoutSession:
    """Create a card-only DOKU payment page for ``order`` (``POST /credit-card/v1/payment-page``).

    DOKU requires every customer field here (id, name, email, phone, address, country);
    a missing one raises :class:`DokuValidationError` naming it, before anything is sent.
    """
    with transaction.atomic():
        locked = _lock_payable(order)
        invoice_number = _next_invoice_number(locked)
        config = get_config()
        # DOKU's card page sends the shopper to one URL whatever happened; the result page shows which.
        result_url = _absolute_url(reverse("doku_checkout:result", args=[str(locked.public_id)]), request)
        body = payloads.build_card_page_body(
            payloads.CardPageData(
                invoice_number=invoice_number,
                amount=locked.amount,
                line_items=_line_items(locked),
                callback_url=result_url,
                failed_url=result_url,
                session_id=invoice_number,
                customer=_customer(locked) or payloads.CustomerData(),
                auto_redirect=config.auto_redirect,
                theme=theme or payloads.CardPageTheme(language=_doku_language(), **config.card_page_theme),
            )
        )
        payloads.validate_card_page_body(body).raise_for_errors()
        session, failure = _attempt(
            locked,
            kind=CheckoutSession.Kind.CARD_PAGE,
            body=body,
            invoice_number=invoice_number,
            client=client,
            actor=actor,
        )
    return _outcome(order, locked, session, failure)


def withdraw_payment_links(order: Order) -> int:
    """Mark the order's open links cancelled so they are never handed out again; returns how many.

    Used when an order is cancelled or its amount changes. DOKU itself is not told (it has
    no such call); a payment on a withdrawn link still arrives and is flagged for review.
    """
    return order.checkout_sessions.filter(status=CheckoutSession.Status.OPEN).update(
        status=CheckoutSession.Status.CANCELLED, updated_at=timezone.now()
    )


def cancel_order(order: Order, *, actor: Any = None, note: str = "") -> Order:
    """Cancel an unpaid order and mark its open payment links cancelled.

    DOKU has no call to withdraw a Checkout link, so a shopper may still pay one; such a
    payment is recorded and the order flagged for review, never lost. Raises
    :class:`OrderNotPayable` for a paid, cancelled or refunded order.
    """
    with transaction.atomic():
        locked = _lock_payable(order)
        source = OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SYSTEM
        states.transition(locked, OrderStatus.CANCELLED, source=source, actor=actor, note=note)
        withdraw_payment_links(locked)
    order.status, order.updated_at = locked.status, locked.updated_at
    return order


# --- applying DOKU's results ---------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentResult:
    """What DOKU says happened to one payment attempt (from a notification or a status check)."""

    invoice_number: str
    transaction_status: str
    amount: int | None
    currency: str | None = None
    channel: str = ""
    order_status: str = ""


def _whole_amount(value: object) -> int | None:
    # The status API may answer 120000.0 or "120000"; only a whole number of rupiah counts.
    try:
        number = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except ValueError:
        return None
    if number is None or not number.is_integer():
        return None
    return int(number)


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def storable(value: object, max_length: int | None = None) -> str:
    """``value`` as text every database stores: PostgreSQL refuses NUL characters, and columns have a length."""
    text = str(value).replace("\x00", "\ufffd")
    return text[:max_length] if max_length is not None else text


def parse_payment_result(data: object) -> PaymentResult | None:
    """The fields this app relies on from a notification or status body; None when missing."""
    if not isinstance(data, dict):
        return None
    order = _section(data, "order")
    transaction_data = _section(data, "transaction")
    channel = _section(data, "channel")
    invoice = order.get("invoice_number")
    status = transaction_data.get("status")
    if not isinstance(invoice, str) or not invoice or not isinstance(status, str) or not status:
        return None
    currency = order.get("currency")
    return PaymentResult(
        invoice_number=storable(invoice),
        transaction_status=storable(status.upper(), 32),
        amount=_whole_amount(order.get("amount")),
        currency=storable(currency) if isinstance(currency, str) else None,
        channel=storable(channel.get("id") or "", 64),
        order_status=storable(order.get("status") or "", 32),
    )


def find_session(invoice_number: str) -> CheckoutSession | None:
    """The session DOKU means by an invoice number (each attempt has its own)."""
    return CheckoutSession.objects.select_related("order").filter(invoice_number=invoice_number).first()


def _flag(order: Order, reason: str) -> None:
    order.needs_review = True
    order.review_reason = f"{order.review_reason}\n{reason}".strip()
    order.save(update_fields=["needs_review", "review_reason", "updated_at"])
    transaction.on_commit(lambda: payment_needs_review.send(sender=Order, order=order, reason=reason))
    logger.warning("Order %s needs review: %s", order.invoice_number, reason)


def apply_payment_result(
    session: CheckoutSession,
    result: PaymentResult,
    *,
    source: str,
    notification: Notification | None = None,
) -> str:
    """Apply DOKU's word on one attempt to its order; returns a ``Notification.Outcome`` value.

    Runs in its own transaction with the order row locked, so concurrent notifications,
    status checks and shopper returns serialize and only one of them changes the order.
    """
    with transaction.atomic():
        order = locked_rows(Order.objects).get(pk=session.order_id)
        session = _current_link(pk=session.pk)
        return _apply_locked(order, session, result, source=source, notification=notification)


def _current_link(**lookup: Any) -> CheckoutSession:
    """A link read after its order was locked, so current (the order's lock guards its links)."""
    return CheckoutSession.objects.defer(*_BODIES).get(**lookup)


def _apply_locked(
    order: Order, session: CheckoutSession, result: PaymentResult, *, source: str, notification: Notification | None
) -> str:
    """Apply ``result`` to a locked order and its freshly read session; the session is saved once."""
    session.last_transaction_status = result.transaction_status
    if result.channel:
        session.payment_channel = result.channel
    outcome = _settle(order, session, result, source=source, notification=notification)
    session.save(update_fields=["status", "last_transaction_status", "payment_channel", "updated_at"])
    return outcome


def _settle(
    order: Order, session: CheckoutSession, result: PaymentResult, *, source: str, notification: Notification | None
) -> str:
    """Decide what ``result`` means for the order: change its status, flag it, or only record it.

    Changes ``session.status`` in memory; the caller saves the session.
    """
    outcome = Notification.Outcome
    status = result.transaction_status
    if status == "SUCCESS":
        if result.amount != order.amount or (result.currency and result.currency != order.currency):
            _flag(
                order,
                f"DOKU reported SUCCESS for {result.invoice_number} with {result.currency or order.currency} "
                f"{result.amount}, but the order is {order.currency} {order.amount}; not marked paid.",
            )
            return outcome.FLAGGED
        if order.status == OrderStatus.PAID:
            if session.status == CheckoutSession.Status.PAID:
                return outcome.DUPLICATE
            session.status = CheckoutSession.Status.PAID
            _flag(order, f"Possible double payment: {result.invoice_number} paid after the order was already paid.")
            return outcome.FLAGGED
        if not states.can_transition(order.status, OrderStatus.PAID):
            _flag(order, f"DOKU reported SUCCESS for {result.invoice_number} but the order is {order.status}.")
            return outcome.FLAGGED
        session.status = CheckoutSession.Status.PAID
        states.transition(
            order, OrderStatus.PAID, source=source, notification=notification, note=f"{result.channel} SUCCESS"
        )
        return outcome.PROCESSED

    if status == "EXPIRED" or (status == "PENDING" and result.order_status == "ORDER_EXPIRED"):
        if session.status == CheckoutSession.Status.OPEN:
            session.status = CheckoutSession.Status.EXPIRED
        # Only the newest attempt's expiry expires the order: an older link running out
        # says nothing about a newer one the shopper may still pay.
        newest = newest_link(order)
        if newest == session and states.can_transition(order.status, OrderStatus.EXPIRED):
            states.transition(order, OrderStatus.EXPIRED, source=source, notification=notification)
            return outcome.PROCESSED
        return outcome.IGNORED

    if status == "REFUNDED" and order.status == OrderStatus.PAID:
        states.transition(order, OrderStatus.REFUNDED, source=source, notification=notification)
        return outcome.PROCESSED
    # FAILED: DOKU Checkout lets the shopper retry with another channel on the same
    # page, so a failed attempt is recorded on the session and the order stays payable.
    # PENDING, TIMEOUT, REDIRECT and unknown statuses are recorded only.
    return outcome.IGNORED


def fetch_status(session: CheckoutSession, *, client: DokuClient | None = None) -> PaymentResult:
    """DOKU's Status API answer for one payment attempt; raises DokuAPIError when it names another."""
    response = (client or DokuClient()).get_status(session.invoice_number)
    result = parse_payment_result(response.data)
    if result is None or result.invoice_number != session.invoice_number:
        raise DokuAPIError(
            status_code=response.status_code,
            messages=["DOKU's status answer has no matching order.invoice_number and transaction.status"],
            request_id=response.request_id,
            body=response.data,
        )
    return result


@dataclass(frozen=True)
class StatusCheck:
    """The result of :func:`check_status`: DOKU's transaction status and what it changed."""

    order: Order
    transaction_status: str
    outcome: str


def check_status(order: Order, *, client: DokuClient | None = None) -> StatusCheck:
    """Ask DOKU's Status API about the order's newest attempt and apply the answer.

    Uses the same rules as a notification. A 404 means DOKU has no transaction yet.
    """
    session = newest_link(order)
    if session is None:
        return StatusCheck(order, "NO_PAYMENT_LINK", Notification.Outcome.IGNORED)
    try:
        result = fetch_status(session, client=client)
    except DokuAPIError as err:
        if err.status_code == 404:
            return StatusCheck(order, "NOT_FOUND", Notification.Outcome.IGNORED)
        raise
    outcome = apply_payment_result(session, result, source=OrderEvent.Source.STATUS_CHECK)
    order.refresh_from_db()
    return StatusCheck(order, result.transaction_status, outcome)


# --- notifications ---------------------------------------------------------------------------------

#: The request headers kept on a stored notification (the signature is kept, redacted).
STORED_HEADERS = (
    "Client-Id",
    "Request-Id",
    "Request-Timestamp",
    "Signature",
    "Content-Type",
    "Content-Length",
    "User-Agent",
    "X-Forwarded-For",
)


@dataclass(frozen=True)
class NotificationResponse:
    """How the notification view answers DOKU: 2xx only once the result is committed."""

    status_code: int
    message: str
    notification: Notification


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def store_notification(
    *, body: bytes, headers: Mapping[str, str], path: str, remote_addr: str | None, max_bytes: int
) -> Notification:
    """Save the raw request at once, in its own transaction, before anything can fail."""
    text = storable(body[:max_bytes].decode("utf-8", errors="replace"))
    return Notification.objects.create(
        request_id=storable(headers.get("Request-Id", ""), 128),
        client_id=storable(headers.get("Client-Id", ""), 128),
        path=storable(path, 2000),
        remote_addr=remote_addr,
        headers=redact({key: storable(headers[key], 1000) for key in STORED_HEADERS if key in headers}),
        body=mask_card_numbers(text),
    )


def verify_notification(
    *, body: bytes, headers: Mapping[str, str], path: str, config: DokuCheckoutSettings | None = None
) -> None:
    """Check a notification's Client-Id, Request-Timestamp window and signature over the raw body.

    ``path`` is the request path as DOKU called it (``NOTIFICATION_PATH`` overrides it for
    proxies that rewrite paths). Raises :class:`DokuSignatureError` saying what is wrong,
    never what the expected signature is. ``config`` saves reading the settings again.
    """
    config = config or get_config()
    client_id = headers.get("Client-Id", "")
    request_id = headers.get("Request-Id", "")
    timestamp = headers.get("Request-Timestamp", "")
    signature = headers.get("Signature", "")
    if not (client_id and request_id and timestamp and signature):
        raise DokuSignatureError("Client-Id, Request-Id, Request-Timestamp and Signature headers are all required.")
    if not hmac.compare_digest(client_id.encode(), config.client_id.encode()):
        raise DokuSignatureError("Client-Id does not match this shop's DOKU client id.")
    sent_at = signatures.parse_timestamp(timestamp)
    if sent_at is None:
        raise DokuSignatureError("Request-Timestamp is not in DOKU's format YYYY-MM-DDTHH:MM:SSZ.")
    age = (timezone.now() - sent_at).total_seconds()
    if age > config.notification_max_age or age < -CLOCK_SKEW.total_seconds():
        raise DokuSignatureError(
            f"Request-Timestamp is outside the accepted window of {config.notification_max_age} seconds."
        )
    if not signatures.verify(
        signature,
        secret_keys=config.verification_keys,
        client_id=client_id,
        request_id=request_id,
        timestamp=timestamp,
        target=config.notification_path or path,
        body=body,
    ):
        raise DokuSignatureError(
            "Signature does not match the request (check the secret key and the notification URL path)."
        )


def _finish(notification: Notification, status_code: int, outcome: str, detail: str) -> NotificationResponse:
    notification.outcome = outcome
    notification.detail = detail
    notification.processed_at = timezone.now()
    notification.save(
        update_fields=[
            "outcome",
            "detail",
            "processed_at",
            "signature_valid",
            "invoice_number",
            "transaction_status",
            "order",
            "checkout_session",
        ]
    )
    return NotificationResponse(status_code, _first_line(detail) or outcome, notification)


def handle_notification(
    *, body: bytes, headers: Mapping[str, str], path: str, remote_addr: str | None = None
) -> NotificationResponse:
    """Store, verify and apply one HTTP notification from DOKU.

    Answers 200 once the result is committed (also for duplicates), 400 for a body that
    cannot be read, 401 for a request that does not verify, 404 for an unknown invoice,
    413 for an oversized body and 500 when processing failed, so DOKU retries. The
    stored ``Notification`` records the outcome, or the traceback, either way.
    """
    config = get_config()
    notification = store_notification(
        body=body, headers=headers, path=path, remote_addr=remote_addr, max_bytes=config.notification_max_bytes
    )
    outcome = Notification.Outcome
    if len(body) > config.notification_max_bytes:
        notification.signature_valid = None
        return _finish(notification, 413, outcome.REJECTED, f"Body over {config.notification_max_bytes} bytes.")
    try:
        verify_notification(body=body, headers=headers, path=path, config=config)
    except DokuSignatureError as err:
        notification.signature_valid = False
        logger.warning("Rejected DOKU notification %s: %s", notification.pk, err)
        return _finish(notification, 401, outcome.REJECTED, str(err))
    notification.signature_valid = True
    try:
        data = json.loads(body)
    except ValueError:
        return _finish(notification, 400, outcome.REJECTED, "Body is not valid JSON.")
    result = parse_payment_result(data)
    if result is None:
        return _finish(
            notification, 400, outcome.REJECTED, "Body has no order.invoice_number and transaction.status strings."
        )
    notification.invoice_number = result.invoice_number[:64]
    notification.transaction_status = result.transaction_status[:32]
    return _apply_notification(notification, result, confirm=config.confirm_with_status_api)


def _apply_notification(
    notification: Notification, result: PaymentResult, *, confirm: bool, prefix: str = ""
) -> NotificationResponse:
    """Apply a verified notification's result; any failure is recorded and answered with 500.

    The outcome is committed with the order's change, in one transaction; the raw
    notification was committed before, so a failure here still leaves it on record.
    """
    try:
        if confirm and result.transaction_status == "SUCCESS":
            # The notification is only a trigger; DOKU's Status API has the final word.
            session = find_session(result.invoice_number)
            result = fetch_status(session) if session is not None else result
        with transaction.atomic():
            try:
                order = locked_rows(Order.objects).get(checkout_sessions__invoice_number=result.invoice_number)
            except Order.DoesNotExist:
                return _finish(
                    notification,
                    404,
                    Notification.Outcome.UNKNOWN_ORDER,
                    f"No payment link for {result.invoice_number}.",
                )
            session = _current_link(invoice_number=result.invoice_number)
            notification.order, notification.checkout_session = order, session
            applied = _apply_locked(
                order, session, result, source=OrderEvent.Source.NOTIFICATION, notification=notification
            )
            return _finish(notification, 200, applied, f"{prefix}{result.transaction_status}: {applied}")
    except Exception:
        logger.exception("Processing DOKU notification %s failed", notification.pk)
        return _finish(notification, 500, Notification.Outcome.FAILED, traceback.format_exc())


def reprocess_notification(notification: Notification) -> NotificationResponse:
    """Apply a stored, verified notification again (after a processing failure).

    Goes through the same rules and state machine as a fresh notification, including
    ``CONFIRM_WITH_STATUS_API``. Raises :class:`DokuError` for one that never verified.
    """
    if not notification.signature_valid:
        raise DokuError("Only notifications whose signature verified can be reprocessed.")
    result = parse_payment_result(json.loads(notification.body))
    if result is None:
        return _finish(notification, 400, Notification.Outcome.REJECTED, "Body has no order.invoice_number.")
    return _apply_notification(
        notification, result, confirm=get_config().confirm_with_status_api, prefix="Reprocessed: "
    )
