"""DOKU's HTTP notifications: stored first, verified over the raw bytes, then applied."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from django_doku_checkout import payloads, signatures
from django_doku_checkout.conf import DokuCheckoutSettings, get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuError, DokuSignatureError
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderEvent
from django_doku_checkout.redaction import redact
from django_doku_checkout.services.doctor_account import is_doctors_link
from django_doku_checkout.services.link_reads import BODIES
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.settlement import (
    PaymentResult,
    apply_locked,
    find_link,
    parse_payment_result,
)
from django_doku_checkout.services.status import fetch_status
from django_doku_checkout.services.unit_of_work import Writes, insert
from django_doku_checkout.text import storable

logger = logging.getLogger(__name__)

#: How far in the future a notification's Request-Timestamp may be (clocks drift).
CLOCK_SKEW = timedelta(minutes=5)
#: How much of a rejected request's body is kept: enough to see what it was, too little to fill a disk.
REJECTED_BODY_BYTES = 2048
#: How much of each header of a rejected request is kept (a verified one keeps 1,000 characters).
REJECTED_HEADER_CHARS = 256
#: The window ``REJECTED_NOTIFICATIONS_PER_HOUR`` counts rejected requests over.
REJECTION_WINDOW_SECONDS = 3600

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
    """How the notification view answers DOKU: 2xx only once the result is committed.

    ``notification`` is ``None`` only for a rejected request over ``REJECTED_NOTIFICATIONS_PER_HOUR``,
    which is counted but not stored.
    """

    status_code: int
    message: str
    notification: Notification | None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def store_notification(
    *, body: bytes, headers: Mapping[str, str], path: str, remote_addr: str | None, verified: bool | None
) -> Notification:
    """Save the request in its own transaction, before it is applied.

    A verified notification is the evidence of a payment: its body is kept as received
    (card numbers are masked only where a person reads it). An unverified request is kept
    in a bounded form, so that nobody can fill the database: its headers, the first
    :data:`REJECTED_BODY_BYTES` of its body, the whole body's length and SHA-256, and the
    first :data:`REJECTED_HEADER_CHARS` of each header.
    """
    kept = body if verified else body[:REJECTED_BODY_BYTES]
    header_chars = 1000 if verified else REJECTED_HEADER_CHARS
    notification = Notification(
        request_id=storable(headers.get("Request-Id", ""), 128),
        client_id=storable(headers.get("Client-Id", ""), 128),
        path=storable(path, 2000),
        remote_addr=remote_addr,
        headers=redact({key: storable(headers[key], header_chars) for key in STORED_HEADERS if key in headers}),
        body=storable(kept.decode("utf-8", errors="replace")),
        body_length=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        signature_valid=verified,
    )
    insert(notification)  # autocommit: committed before it is applied
    return notification


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
        raise DokuSignatureError("Request-Timestamp is not a UTC or offset ISO 8601 time such as 2026-01-31T10:00:00Z.")
    # Absolute time, whatever USE_TZ says: the header carries its offset.
    age = (datetime.now(UTC) - sent_at).total_seconds()
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


#: What processing a notification records on it.
_OUTCOME_FIELDS = (
    "outcome",
    "detail",
    "processed_at",
    "signature_valid",
    "invoice_number",
    "transaction_status",
    "order",
    "checkout_session",
)


def _finish(
    notification: Notification, status_code: int, outcome: str, detail: str, *, writes: Writes | None = None
) -> NotificationResponse:
    """Record the outcome on the notification, with ``writes`` (the order's change) when given."""
    notification.outcome = outcome
    notification.detail = detail
    notification.processed_at = timezone.now()
    if writes is None:
        notification.save(update_fields=_OUTCOME_FIELDS)
    else:
        writes.save(notification, _OUTCOME_FIELDS)
        writes.flush()
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
    outcome = Notification.Outcome

    def rejected(status_code: int, detail: str, *, verified: bool | None) -> NotificationResponse:
        if not _rejection_storable(config.rejected_notifications_per_hour):
            return NotificationResponse(status_code, _first_line(detail), None)
        notification = store_notification(
            body=body, headers=headers, path=path, remote_addr=remote_addr, verified=verified
        )
        logger.warning("Rejected DOKU notification %s: %s", notification.pk, detail)
        return _finish(notification, status_code, outcome.REJECTED, detail)

    # Verify first: it is pure and cannot fail, and what does not verify is stored bounded.
    if len(body) > config.notification_max_bytes:
        return rejected(413, f"Body over {config.notification_max_bytes} bytes.", verified=None)
    try:
        verify_notification(body=body, headers=headers, path=path, config=config)
    except DokuSignatureError as err:
        return rejected(401, str(err), verified=False)
    notification = store_notification(body=body, headers=headers, path=path, remote_addr=remote_addr, verified=True)
    data = payloads.loads(body)
    if data is None:
        return _finish(notification, 400, outcome.REJECTED, "Body is not JSON (or is nested too deeply).")
    result = parse_payment_result(data)
    if result is None:
        return _finish(
            notification, 400, outcome.REJECTED, "Body has no order.invoice_number and transaction.status strings."
        )
    notification.invoice_number = result.invoice_number[:64]
    notification.transaction_status = result.transaction_status[:32]
    return _apply_notification(notification, result, confirm=config.confirm_with_status_api)


def _rejection_storable(per_hour: int) -> bool:
    """Whether another request that does not verify may be stored and logged in this window.

    Unsigned requests cost an attacker nothing, so at most ``per_hour`` of them are stored
    (and logged) per hour; the rest are only counted, logged once when the bound is reached
    and once more, with the count, when the next window opens. The counter lives in Django's
    cache: with several processes, a shared cache makes the bound global (a per-process
    cache makes it per process). Verified notifications are never counted nor dropped.
    """
    window = int(time.time() // REJECTION_WINDOW_SECONDS)
    key = f"doku_checkout:rejected_notifications:{window}"
    cache.add(key, 0, timeout=2 * REJECTION_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2 * REJECTION_WINDOW_SECONDS)
        count = 1
    if count == 1:
        previous = cache.get(f"doku_checkout:rejected_notifications:{window - 1}", 0)
        if previous > per_hour:
            logger.warning(
                "%d DOKU notifications were rejected in the previous hour; %d were counted, not stored.",
                previous,
                previous - per_hour,
            )
    if count == per_hour + 1:
        logger.warning(
            "Over %d rejected DOKU notifications this hour: further ones are counted, not stored nor logged, "
            "until the hour ends. Rate-limit the notification URL at the proxy.",
            per_hour,
        )
    return count <= per_hour


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
            link = find_link(result.invoice_number)
            if link is not None:
                try:
                    result = fetch_status(link)
                except DokuError as err:
                    return _unconfirmed(notification, f"DOKU's Status API did not answer: {err}")
                if result.transaction_status == "PENDING":
                    # DOKU asks for status checks no sooner than 60 s after payment. Answering
                    # 503 makes DOKU retry (at +30 min) instead of ending its retries with 200.
                    return _unconfirmed(notification, "DOKU's Status API still says PENDING.")

        def apply(result: PaymentResult = result) -> NotificationResponse:
            found = _lock_order_and_link(result.invoice_number)
            if found is None and is_doctors_link(result.invoice_number):
                # DOKU tells of the going-live doctor's link expiring: answered, so it stops retrying.
                doctors = "The going-live doctor's link (doku_checkout_doctor): nothing to record."
                return _finish(notification, 200, Notification.Outcome.IGNORED, doctors)
            if found is None:
                return _finish(
                    notification,
                    404,
                    Notification.Outcome.UNKNOWN_ORDER,
                    f"No payment link for {result.invoice_number}.",
                )
            order, link = found
            notification.order, notification.checkout_session = order, link
            # The order's change, its link and this outcome: one unit of work, flushed once.
            writes = Writes()
            applied = apply_locked(
                order, link, result, source=OrderEvent.Source.NOTIFICATION, notification=notification, writes=writes
            )
            # UNCONFIRMED: a refund report that may be a refund still waiting for DOKU's API
            # answer; 503 makes DOKU send it again, when that answer has named the refund.
            code = 503 if applied == Notification.Outcome.UNCONFIRMED else 200
            return _finish(
                notification, code, applied, f"{prefix}{result.transaction_status}: {applied}", writes=writes
            )

        # The receivers of what this changes run after the commit, each on its own: a
        # failing one is retried by the app, so DOKU is answered 200 all the same.
        return atomic_with_retry(apply)
    except Exception:
        logger.exception("Processing DOKU notification %s failed", notification.pk)
        return _finish(notification, 500, Notification.Outcome.FAILED, traceback.format_exc())


def _lock_order_and_link(invoice_number: str) -> tuple[Order, CheckoutSession] | None:
    """The order of the link with ``invoice_number``, locked, then the link, locked; None for an unknown invoice.

    The order first, as for every change to one of its links, so a cancellation holding
    the order while DOKU is asked is waited for, never deadlocked with; only the order's
    row (``of=self``), never the link's in the same statement. Then the link, locked, so it
    is read in its newest version whoever changed it.
    """
    try:
        order = locked_rows(Order.objects).get(checkout_sessions__invoice_number=invoice_number)
    except Order.DoesNotExist:
        return None
    return order, locked_rows(CheckoutSession.objects).defer(*BODIES).get(invoice_number=invoice_number)


def _unconfirmed(notification: Notification, detail: str) -> NotificationResponse:
    return _finish(
        notification, 503, Notification.Outcome.UNCONFIRMED, f"{detail} Not applied yet; DOKU will send it again."
    )


def reprocess_notification(notification: Notification) -> NotificationResponse:
    """Apply a stored, verified notification again (after a processing failure).

    Goes through the same rules and state machine as a fresh notification, including
    ``CONFIRM_WITH_STATUS_API``. Raises :class:`DokuError` for one that never verified.
    """
    if not notification.signature_valid:
        raise DokuError("Only notifications whose signature verified can be reprocessed.")
    result = parse_payment_result(payloads.loads(notification.body.encode()))
    if result is None:
        return _finish(notification, 400, Notification.Outcome.REJECTED, "Body has no order.invoice_number.")
    return _apply_notification(
        notification, result, confirm=get_config().confirm_with_status_api, prefix="Reprocessed: "
    )
