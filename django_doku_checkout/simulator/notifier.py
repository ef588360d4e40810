"""Signed HTTP notifications in each channel's own body format, delivered with retries."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from datetime import timezone as fixed_offset
from typing import Any
from urllib.parse import urlsplit

import requests
from django.utils import timezone

from django_doku_checkout import signatures
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.payment_methods import service_of
from django_doku_checkout.simulator.merchants import Merchant, retry_schedule
from django_doku_checkout.simulator.store import (
    STORE,
    DeliveryAttempt,
    SimulatedNotification,
    SimulatedRefund,
    SimulatedSession,
)

logger = logging.getLogger(__name__)

#: Sends ``(url, body, headers)`` and returns the HTTP status; replaced by the pytest plugin.
Transport = Callable[[str, bytes, dict[str, str]], int]


def http_transport(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers=headers, timeout=(5, 30), allow_redirects=False).status_code


_transport: Transport = http_transport
_synchronous = False


def use_transport(transport: Transport | None, *, synchronous: bool = False) -> None:
    """Deliver through ``transport`` (None restores HTTP); ``synchronous`` skips the thread."""
    global _transport, _synchronous
    _transport = transport or http_transport
    _synchronous = synchronous


#: Where DOKU says a notification comes from (``additional_info.origin``), as captured.
ORIGIN = {"source": "direct", "system": "mid-jokul-checkout-system", "product": "CHECKOUT", "apiFormat": "JOKUL"}
#: DOKU's acquirer of card payments in the captured sandbox traffic.
CARD_ACQUIRER = "BANK_MANDIRI"
#: Western Indonesian Time, in which DOKU writes its compact dates.
WIB = fixed_offset(timedelta(hours=7))


def _acquirer(channel: str) -> str:
    """DOKU's acquirer id: ``BCA`` for ``VIRTUAL_ACCOUNT_BCA``, ``BANK_DANAMON`` for ``…_BANK_DANAMON``."""
    service = service_of(channel)
    if service == "CREDIT_CARD":
        return CARD_ACQUIRER
    rest = channel[len(service) + 1 :] if channel.startswith(service + "_") else channel
    return rest or "DOKU"


def notification_body(
    session: SimulatedSession, status: str, *, amount: int | None = None, refund: SimulatedRefund | None = None
) -> dict[str, Any]:
    """What DOKU posts for a channel transaction: shared fields plus the channel's own section.

    A ``REFUNDED`` or ``VOIDED`` body names the ``refund`` in ``transaction.type`` and ``refund.amount``.
    """
    channel = session.channel or "VIRTUAL_ACCOUNT_BCA"
    service = service_of(channel)
    when = signatures.format_timestamp(session.transaction_date or timezone.now())
    body: dict[str, Any] = {
        "order": {"invoice_number": session.invoice_number, "amount": session.amount if amount is None else amount},
        "transaction": {"status": status, "date": when, "original_request_id": session.request_id},
        "service": {"id": service},
        "acquirer": {"id": _acquirer(channel)},
        "channel": {"id": channel},
    }
    reference = str(abs(hash((session.token_id, status))) % 10**7).zfill(7)
    body.update(_channel_sections(session, service, status, reference))
    if service == "CREDIT_CARD":
        body["transaction"]["type"] = session.transaction_type or "SALE"
        body["channel"]["name"] = "Credit Card"
    if refund is not None:
        # DOKU names the refund: its type, and (but for a void) its amount as a string; the
        # approval code is the one the refund API answered with.
        body["transaction"]["type"] = refund.type
        body["refund"] = {"approval_code": refund.approval_code}
        if refund.type != "VOID":
            body["refund"]["amount"] = str(refund.amount)
    body["additional_info"] = {"origin": dict(ORIGIN)}
    return body


def expired_body(session: SimulatedSession) -> dict[str, Any]:
    """DOKU's expired notification: the order ran out unpaid (``EXPIRED``, ``ORDER_EXPIRED``).

    No channel transaction may exist yet (the shopper never picked one): then its ids are
    null, as in DOKU's order-level status answers (tests/doku_traffic/notification_checkout_expired.json).
    """
    if session.channel is not None:
        body = notification_body(session, "EXPIRED")
    else:
        body = {
            "order": {"invoice_number": session.invoice_number, "amount": session.amount},
            "transaction": {
                "status": "EXPIRED",
                "date": signatures.format_timestamp(timezone.now()),
                "original_request_id": session.request_id,
            },
            "service": {"id": None},
            "acquirer": {"id": None},
            "channel": {"id": None},
            "additional_info": {"origin": dict(ORIGIN)},
        }
    body["order"]["status"] = "ORDER_EXPIRED"
    return body


def _channel_sections(session: SimulatedSession, service: str, status: str, reference: str) -> dict[str, Any]:
    """The sections a notification adds for its channel's kind (``virtual_account_info``, ``card_payment`` ...)."""
    if service == "VIRTUAL_ACCOUNT":
        paid_at = (session.transaction_date or timezone.now()).astimezone(WIB)
        request_id, reference_number = reference[:6], reference[-5:]
        return {
            "virtual_account_info": {"virtual_account_number": "8889" + reference.zfill(12)},
            "virtual_account_payment": {
                "date": f"{paid_at:%Y%m%d%H%M%S}",  # WIB, as DOKU writes it
                "systrace_number": reference[:6],
                "reference_number": reference_number,
                "channel_code": "",
                "request_id": request_id,
                "identifier": [
                    {"name": "REQUEST_ID", "value": request_id},
                    {"name": "REFERENCE", "value": reference_number},
                    {"name": "CHANNEL_TYPE", "value": "6014"},
                ],
            },
        }
    if service == "CREDIT_CARD":
        raw_customer = session.body.get("customer")
        customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
        approved = status == "SUCCESS" or session.transaction_type == "AUTHORIZE"
        return {
            "customer": {"name": customer.get("name", ""), "email": customer.get("email", "")},
            "card_payment": {
                "masked_card_number": "411111******1111",
                "approval_code": reference[:6] if approved else "",
                "response_code": "00" if approved else "05",
                "response_message": "PAYMENT APPROVED" if approved else "DO NOT HONOR",
                "issuer": "PT. BANK SIMULATOR",
                "brand": "VISA",
                "three_d_secure_status": "TRUE",
            },
        }
    return {
        "ONLINE_TO_OFFLINE": {"online_to_offline_info": {"payment_code": "3" + reference.zfill(11)}},
        "QRIS": {"qris_payment": {"issuer": "SIMULATOR", "reference_number": reference}},
        "EMONEY": {"emoney_payment": {"account_id": "0812****" + reference[-4:], "approval_code": reference}},
    }.get(service, {})


def signed_headers(merchant: Merchant, url_path: str, body: bytes) -> dict[str, str]:
    """A notification's headers, signed afresh with the merchant's key (DOKU signs every attempt)."""
    return signatures.signed_headers(merchant.secret_key, client_id=merchant.client_id, target=url_path, body=body)


def _deliver(notification: SimulatedNotification, merchant: Merchant, path: str) -> None:
    try:
        delays = (0.0, *retry_schedule())
        for delay in delays:
            time.sleep(delay)
            # DOKU signs each attempt afresh, with its own Request-Id and timestamp.
            headers = signed_headers(merchant, path, notification.body)
            try:
                status = _transport(notification.url or "", notification.body, headers)
            except Exception as err:  # noqa: BLE001 - any failure is one failed attempt
                notification.attempts.append(DeliveryAttempt(timezone.now(), None, type(err).__name__))
                STORE.attempted()
                continue
            notification.attempts.append(DeliveryAttempt(timezone.now(), status))
            STORE.attempted()
            if 200 <= status < 300:
                notification.delivered = True
                return
    finally:
        notification.finished = True
        STORE.end_delivery()


def _deliver_in_order(notifications: list[SimulatedNotification], merchant: Merchant, path: str) -> None:
    for notification in notifications:
        _deliver(notification, merchant, path)


def send(
    session: SimulatedSession, merchant: Merchant, status: str, *, refund: SimulatedRefund | None = None
) -> list[SimulatedNotification]:
    """Queue the notifications one payment outcome causes, shaped by the merchant's faults.

    They are delivered one after another, in order, on a background thread.
    """
    faults = STORE.faults_for(merchant.client_id)
    url = session.notification_url or merchant.notification_url
    amount = session.amount + 1000 if faults.wrong_amount and status == "SUCCESS" else None
    statuses = [status]
    if faults.out_of_order_notifications and status == "SUCCESS":
        statuses.append("FAILED")  # a late FAILED from an earlier attempt, after the SUCCESS
    if faults.duplicate_notifications:
        statuses = [s for s in statuses for _ in range(2)]
    queued: list[SimulatedNotification] = []
    to_deliver: list[SimulatedNotification] = []
    for each in statuses:
        body = encode_body(
            expired_body(session)
            if each == "EXPIRED"
            else notification_body(session, each, amount=amount if each == "SUCCESS" else None, refund=refund)
        )
        notification = STORE.new_notification(
            client_id=merchant.client_id,
            invoice_number=session.invoice_number,
            transaction_status=each,
            url=url,
            body=body,
        )
        queued.append(notification)
        if faults.drop_notifications or not url:
            notification.dropped = True
            notification.finished = True
            continue
        STORE.begin_delivery()
        to_deliver.append(notification)
    if to_deliver:
        path = urlsplit(url or "").path or "/"
        if _synchronous:
            _deliver_in_order(to_deliver, merchant, path)
        else:
            threading.Thread(target=_deliver_in_order, args=(to_deliver, merchant, path), daemon=True).start()
    return queued
