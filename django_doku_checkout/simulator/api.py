"""The simulator's API: what DOKU's endpoints answer (Checkout, card pages, refunds, cancellations, status)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_doku_checkout import signatures
from django_doku_checkout.payloads import (
    ValidationResult,
    format_doku_datetime,
    override_path_problem,
    validate_card_page_body,
    validate_checkout_body,
)
from django_doku_checkout.payment_methods import is_card, service_of
from django_doku_checkout.simulator import actions, notifier
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.intake import (
    authenticate,
    error,
    error_body,
    faults_of,
    maybe_time_out,
    remember,
    replay,
    section,
    server_trouble,
    signed_json,
)
from django_doku_checkout.simulator.merchants import Merchant
from django_doku_checkout.simulator.store import (
    DEMO_METHODS,
    STORE,
    SimulatedRefund,
    SimulatedSession,
    expiry,
    new_token,
)

CHECKOUT_TARGET = "/checkout/v1/payment"
CARD_PAGE_TARGET = "/credit-card/v1/payment-page"
CARD_REFUND_TARGET = "/cancellation/credit-card/refund"
CANCELLATION_TARGET = "/checkout/v3/cancellations"
#: What DOKU's Checkout cancellation stops: bank transfers except BTN, BNC, BPD and OCBC, QRIS
#: and convenience stores.
CANCELLABLE_SERVICES = frozenset({"VIRTUAL_ACCOUNT", "QRIS", "ONLINE_TO_OFFLINE"})
NOT_CANCELLABLE_BANKS = ("BTN", "BNC", "BPD", "OCBC")


def _session_response(request: HttpRequest, session: SimulatedSession, merchant: Merchant) -> dict[str, Any]:
    page_url = request.build_absolute_uri(reverse("doku_simulator:page", args=[session.token_id]))
    headers = {
        "request_id": session.request_id,
        "date": signatures.format_timestamp(session.created_at),
        "client_id": merchant.client_id,
    }
    if session.kind == "card_page":
        return {"credit_card_payment_page": {"url": page_url}, "headers": headers}
    order = {
        **{k: v for k, v in session.order.items() if k != "line_items"},
        "amount": str(session.amount),
        "currency": session.currency,
        "session_id": session.token_id[:32],
    }
    return {
        "message": ["SUCCESS"],
        "response": {
            "order": order,
            "payment": {
                "payment_method_types": session.requested_methods or DEMO_METHODS,
                "payment_due_date": _due_minutes(session.body),
                "token_id": session.token_id,
                "url": page_url,
                "expired_date": format_doku_datetime(session.expires_at),
            },
            "additional_info": {"origin": {"product": "CHECKOUT", "system": "doku-simulator", "apiFormat": "JOKUL"}},
            "uuid": uuid.uuid4().int,
            "headers": headers,
        },
    }


def _due_minutes(body: dict[str, Any]) -> int:
    payment = body.get("payment")
    due = payment.get("payment_due_date") if isinstance(payment, dict) else None
    return due if isinstance(due, int) and not isinstance(due, bool) and due > 0 else 60


def _create(request: HttpRequest, *, kind: str, target: str) -> JsonResponse:
    raw = request.body
    merchant, failure = authenticate(request, target, raw)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    faults = faults_of(request, merchant)
    if (trouble := server_trouble(faults)) is not None:
        return trouble
    key = f"{merchant.client_id}:{request.headers['Request-Id']}"
    if (replayed := replay(key, raw, faults)) is not None:
        return replayed
    request_id = request.headers["Request-Id"]
    try:
        data = json.loads(raw)
    except ValueError:
        return JsonResponse({"error_messages": ["request body must be a JSON object"]}, status=400)
    validator = validate_card_page_body if kind == "card_page" else validate_checkout_body
    result: ValidationResult = validator(data)
    invoice = data.get("order", {}).get("invoice_number") if not result.errors else None
    if invoice and any(
        s.client_id == merchant.client_id and s.invoice_number == invoice and not s.is_expired()
        for s in list(STORE.sessions.values())
    ):
        result.errors.append("order.invoice_number is already used by an active payment")
    configured = urlsplit(merchant.notification_url or "").path
    if configured and (problem := override_path_problem(data, configured)) is not None:
        result.errors.append(problem)
    if result.errors:
        return JsonResponse({"error_messages": result.errors}, status=400)
    additional = data.get("additional_info") if isinstance(data.get("additional_info"), dict) else {}
    session = SimulatedSession(
        token_id=new_token(),
        kind=kind,
        client_id=merchant.client_id,
        request_id=request_id,
        body=data,
        created_at=timezone.now(),
        expires_at=expiry(_due_minutes(data)),
        notification_url=additional.get("override_notification_url") or None,
    )
    STORE.add_session(session)
    response = _session_response(request, session, merchant)
    remember(key, raw, response)
    maybe_time_out(faults)
    return JsonResponse(response)


@csrf_exempt
@require_POST
def checkout_payment(request: HttpRequest) -> JsonResponse:
    """``POST /checkout/v1/payment``."""
    return _create(request, kind="checkout", target=CHECKOUT_TARGET)


@csrf_exempt
@require_POST
def card_payment_page(request: HttpRequest) -> JsonResponse:
    """``POST /credit-card/v1/payment-page``."""
    return _create(request, kind="card_page", target=CARD_PAGE_TARGET)


def _refund_once(
    session: SimulatedSession, amount: Any, key: str, request: HttpRequest, faults: Faults
) -> JsonResponse | tuple[SimulatedRefund, dict[str, Any]]:
    """Refund (or refuse) once for a new Request-Id, remembering the answer; the caller holds the store's lock."""
    if faults.refund_refused:
        declined = {
            "order": {"invoice_number": session.invoice_number},
            "payment": {"original_request_id": session.request_id},
            "refund": {"amount": amount, "status": "FAILED", "message": "Refund declined by the acquirer"},
        }
        remember(key, request.body, declined)
        return JsonResponse(declined)
    try:
        refund = actions.record_refund(session, amount, request_id=request.headers["Request-Id"])
    except actions.RefundRefused as err:
        refusal = error_body("INVALID_PARAMETER", str(err))
        remember(key, request.body, refusal)  # a retry of a refused refund is refused again
        return JsonResponse(refusal, status=400)
    # DOKU's answer names the order, the payment and the refund; it does not repeat order.amount.
    answer = {
        "order": {"invoice_number": session.invoice_number},
        "payment": {"original_request_id": session.request_id},
        "refund": {
            "amount": refund.amount,
            "type": refund.type,
            "status": "SUCCESS",
            "message": "Refund approved",
            "approval_code": refund.approval_code,
        },
    }
    remember(key, request.body, answer)
    return refund, answer


@csrf_exempt
@require_POST
def card_refund(request: HttpRequest) -> JsonResponse:
    """``POST /cancellation/credit-card/refund``: a void of the whole amount before settlement, partial and
    repeated refunds up to the paid amount after; DOKU's notification of each follows."""
    read = signed_json(request, CARD_REFUND_TARGET)
    if isinstance(read, JsonResponse):
        return read
    merchant, data, key, faults = read
    invoice = section(data, "order").get("invoice_number")
    original = section(data, "payment").get("original_request_id")
    amount = section(data, "refund").get("amount")
    session = STORE.find(merchant.client_id, invoice) if isinstance(invoice, str) and invoice else None
    if session is None:
        return error(404, "NOT_FOUND", "order.invoice_number is not known")
    if original != session.request_id:
        return error(400, "INVALID_PARAMETER", "payment.original_request_id does not match the payment")
    if session.kind != "card_page" and not is_card(session.channel or ""):
        return error(400, "INVALID_PARAMETER", "only card payments can be refunded")
    # The Request-Id's first answer and the refund it makes are one step: a repeat of the same
    # request arriving meanwhile is answered with that answer (409), never refunded again.
    with STORE.lock:
        repeated = key in STORE.replies
        if not repeated:
            made = _refund_once(session, amount, key, request, faults)
    if repeated:
        replayed = replay(key, request.body, faults)
        assert replayed is not None  # noqa: S101 - remembered under the lock above
        return replayed
    if isinstance(made, JsonResponse):
        return made
    refund, answer = made
    # DOKU notifies every refund and void it makes, as it does those made in its back office.
    sent = actions.notify_refund(session, refund)
    if faults.refund_notification_first:
        STORE.wait_for_attempts(sent)
    maybe_time_out(faults)
    return JsonResponse(answer)


def cancellable(session: SimulatedSession) -> bool:
    """Whether DOKU's Checkout cancellation covers every channel the shopper may pay this session with."""
    channels = [session.channel] if session.channel else session.offered_methods
    return session.kind == "checkout" and all(
        service_of(channel) in CANCELLABLE_SERVICES and not any(bank in channel for bank in NOT_CANCELLABLE_BANKS)
        for channel in channels
    )


@csrf_exempt
@require_POST
def checkout_cancellation(request: HttpRequest) -> JsonResponse:
    """``POST /checkout/v3/cancellations``: stop an unpaid Checkout order so it can no longer be paid.

    The order is named by ``order.invoice_number`` and ``payment.original_request_id`` (the
    Request-Id that created it), both required. DOKU's first answer to a Request-Id, a
    refusal too, is what a repeat of it gets, with 409.
    """
    read = signed_json(request, CANCELLATION_TARGET)
    if isinstance(read, JsonResponse):
        return read
    merchant, data, key, faults = read
    # The Request-Id's first answer and the cancellation it makes are one step, as for refunds:
    # a repeat arriving meanwhile is answered with that answer (409), never processed again.
    with STORE.lock:
        repeated = key in STORE.replies
        if not repeated:
            answer, status = _cancellation(merchant, data)
            remember(key, request.body, answer)
    if repeated:
        replayed = replay(key, request.body, faults)
        assert replayed is not None  # noqa: S101 - remembered under the lock above
        return replayed
    maybe_time_out(faults)
    return JsonResponse(answer, status=status)


def _cancellation(merchant: Merchant, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """DOKU's answer to a cancellation request and its HTTP status."""

    def refused(status: int, code: str, message: str) -> tuple[dict[str, Any], int]:
        return {"error": {"code": code, "message": message, "type": "SIMULATOR"}}, status

    invoice = section(data, "order").get("invoice_number")
    original = section(data, "payment").get("original_request_id")
    if not isinstance(original, str) or not original:
        return refused(400, "INVALID_PARAMETER", "payment.original_request_id must be filled")
    session = STORE.find(merchant.client_id, invoice) if isinstance(invoice, str) and invoice else None
    if session is None:
        return refused(404, "NOT_FOUND", "order.invoice_number is not known")
    if original != session.request_id:
        return refused(400, "INVALID_PARAMETER", "payment.original_request_id does not match the order")
    if session.status == "SUCCESS":
        return refused(400, "INVALID_STATUS", "the order is already paid")
    if session.past_due():  # even one DOKU's abandoned-cart recovery still takes a payment on
        return refused(400, "INVALID_STATUS", "the order has expired")
    if not cancellable(session):
        return refused(400, "UNSUPPORTED_CHANNEL", "cancellation is not available for this order's payment channels")
    session.cancelled = True
    return {"order": {"invoice_number": session.invoice_number, "status": "CANCELLED"}, "message": ["SUCCESS"]}, 200


@require_GET
def order_status(request: HttpRequest, identifier: str) -> JsonResponse:
    """``GET /orders/v1/status/{invoice_number or Request-Id}`` (signed without a Digest)."""
    merchant, failure = authenticate(request, f"/orders/v1/status/{quote(identifier, safe='')}", None)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    if (trouble := server_trouble(faults_of(request, merchant))) is not None:
        return trouble
    session = STORE.find(merchant.client_id, identifier)
    if session is None:
        return error(404, "not_found", "Order not found")
    expired = session.past_due()
    if session.channel is None:
        body: dict[str, Any] = {
            "order": {"invoice_number": session.invoice_number, "amount": float(session.amount)},
            "transaction": {
                "status": "EXPIRED" if session.status == "EXPIRED" else "PENDING",
                "date": signatures.format_timestamp(session.created_at),
                "original_request_id": session.request_id,
            },
            "service": {"id": None},
            "acquirer": {"id": None},
            "channel": {"id": None},
        }
    elif session.refunds:
        # DOKU's status answer names the latest refund (or the void).
        latest = session.refunds[-1]
        body = notifier.notification_body(session, "VOIDED" if latest.type == "VOID" else "REFUNDED", refund=latest)
        body["order"]["amount"] = float(session.amount)
    else:
        status = "EXPIRED" if expired and session.status != "SUCCESS" else session.status
        body = notifier.notification_body(session, status)
        body["order"]["amount"] = float(session.amount)
    body["order"]["status"] = (
        "ORDER_RECOVERED" if session.recovered else "ORDER_EXPIRED" if expired else "ORDER_GENERATED"
    )
    body["additional_info"] = {"origin": dict(notifier.ORIGIN)}
    return JsonResponse(body)
