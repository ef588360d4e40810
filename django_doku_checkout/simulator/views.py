"""The simulator's HTTP surface: DOKU's API, the hosted payment page and a dashboard."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from django_doku_checkout import signatures
from django_doku_checkout.payloads import (
    ValidationResult,
    format_doku_datetime,
    validate_card_page_body,
    validate_checkout_body,
)
from django_doku_checkout.payment_methods import KNOWN_METHODS, is_card, service_of
from django_doku_checkout.simulator import actions, notifier
from django_doku_checkout.simulator.faults import HEADER, Faults
from django_doku_checkout.simulator.merchants import Merchant, max_clock_skew, merchants
from django_doku_checkout.simulator.store import (
    STORE,
    ReceivedRequest,
    Reply,
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
DEMO_METHODS = sorted(KNOWN_METHODS - {"EMONEY_SHOPEEPAY", "VIRTUAL_ACCOUNT_BANK_SYARIAH_MANDIRI"})


#: DOKU's ``error.type`` for an error code, as captured; the simulator's own for the rest.
_ERROR_TYPES = {"INVALID_PARAMETER": "Invalid Parameter"}


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": _ERROR_TYPES.get(code, "SIMULATOR")}}


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(_error_body(code, message), status=status)


def _authenticate(request: HttpRequest, target: str, body: bytes | None) -> tuple[Merchant | None, JsonResponse | None]:
    """Check the request exactly as DOKU does: known client, fresh timestamp, valid signature."""
    headers = request.headers
    merchant = merchants().get(headers.get("Client-Id", ""))
    if merchant is None:
        return None, _error(401, "invalid_client_id", "Client-Id is not registered")
    sent_at = signatures.parse_timestamp(headers.get("Request-Timestamp", ""))
    if sent_at is None or abs((datetime.now(UTC) - sent_at).total_seconds()) > max_clock_skew():
        return None, _error(401, "invalid_timestamp", "Request-Timestamp is missing or more than 5 minutes off")
    request_id = headers.get("Request-Id", "")
    if not request_id or len(request_id) > 128:
        return None, _error(401, "invalid_request_id", "Request-Id is missing or longer than 128 characters")
    valid = signatures.verify(
        headers.get("Signature", ""),
        secret_keys=[merchant.secret_key],
        client_id=merchant.client_id,
        request_id=request_id,
        timestamp=headers.get("Request-Timestamp", ""),
        target=target,
        body=body,
    )
    if not valid:
        return None, _error(401, "invalid_signature", "Invalid Header Signature")
    signed = ("Client-Id", "Request-Id", "Request-Timestamp", "Digest", "Signature")
    with STORE.lock:
        STORE.received.append(
            ReceivedRequest(target, {name: headers[name] for name in signed if name in headers}, body or b"")
        )
    return merchant, None


def _faults(request: HttpRequest, merchant: Merchant) -> Faults:
    faults = STORE.faults_for(merchant.client_id)
    header = request.headers.get(HEADER)
    return Faults.parse_header(faults, header) if header else faults


def _server_trouble(faults: Faults) -> JsonResponse | None:
    """Latency, and a 5xx for the configured share of requests (random, as real outages are)."""
    if faults.latency:
        time.sleep(faults.latency)
    if faults.error_rate and random.random() < faults.error_rate:  # noqa: S311 - not cryptographic
        return _error(503, "service_unavailable", "Simulated outage")
    return None


def _maybe_time_out(faults: Faults) -> None:
    # The request was processed, but the answer arrives after the client gave up: its retry
    # with the same Request-Id must then get the original answer with 409.
    if faults.timeout_rate and random.random() < faults.timeout_rate:  # noqa: S311
        time.sleep(faults.timeout_seconds)


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


def _replay(key: str, raw: bytes, faults: Faults) -> JsonResponse | None:
    """The first answer to a Request-Id seen before, with 409, as DOKU answers a retried POST."""
    with STORE.lock:
        reply = STORE.replies.get(key)
    if reply is None:
        return None
    _maybe_time_out(faults)
    if reply.body_digest != signatures.digest(raw):
        return JsonResponse({"error_messages": ["Request-Id was already used with another body"]}, status=400)
    return JsonResponse(reply.data, status=409)


def _remember(key: str, raw: bytes, data: dict[str, Any]) -> None:
    with STORE.lock:
        STORE.replies[key] = Reply(signatures.digest(raw), data)


def _create(request: HttpRequest, *, kind: str, target: str) -> JsonResponse:
    raw = request.body
    merchant, failure = _authenticate(request, target, raw)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    faults = _faults(request, merchant)
    if (trouble := _server_trouble(faults)) is not None:
        return trouble
    key = f"{merchant.client_id}:{request.headers['Request-Id']}"
    if (replayed := _replay(key, raw, faults)) is not None:
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
    _remember(key, raw, response)
    _maybe_time_out(faults)
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


def _signed_json(request: HttpRequest, target: str) -> tuple[Merchant, dict[str, Any], str, Faults] | JsonResponse:
    """Authenticate a signed POST, apply the merchant's faults, replay a repeated Request-Id and read
    the JSON object; an answer to send at once when any of these decides it."""
    merchant, failure = _authenticate(request, target, request.body)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    try:
        data = json.loads(request.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _error(400, "INVALID_PARAMETER", "request body must be a JSON object")
    key = f"{merchant.client_id}:{request.headers['Request-Id']}"
    faults = _faults(request, merchant)
    if (trouble := _server_trouble(faults)) is not None:
        return trouble
    if (replayed := _replay(key, request.body, faults)) is not None:
        return replayed
    return merchant, data, key, faults


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


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
        _remember(key, request.body, declined)
        return JsonResponse(declined)
    try:
        refund = actions.record_refund(session, amount, request_id=request.headers["Request-Id"])
    except actions.RefundRefused as err:
        refusal = _error_body("INVALID_PARAMETER", str(err))
        _remember(key, request.body, refusal)  # a retry of a refused refund is refused again
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
    _remember(key, request.body, answer)
    return refund, answer


@csrf_exempt
@require_POST
def card_refund(request: HttpRequest) -> JsonResponse:
    """``POST /cancellation/credit-card/refund``: a void of the whole amount before settlement, partial and
    repeated refunds up to the paid amount after; DOKU's notification of each follows."""
    read = _signed_json(request, CARD_REFUND_TARGET)
    if isinstance(read, JsonResponse):
        return read
    merchant, data, key, faults = read
    invoice = _section(data, "order").get("invoice_number")
    original = _section(data, "payment").get("original_request_id")
    amount = _section(data, "refund").get("amount")
    session = STORE.find(merchant.client_id, invoice) if isinstance(invoice, str) and invoice else None
    if session is None:
        return _error(404, "NOT_FOUND", "order.invoice_number is not known")
    if original != session.request_id:
        return _error(400, "INVALID_PARAMETER", "payment.original_request_id does not match the payment")
    if session.kind != "card_page" and not is_card(session.channel or ""):
        return _error(400, "INVALID_PARAMETER", "only card payments can be refunded")
    # The Request-Id's first answer and the refund it makes are one step: a repeat of the same
    # request arriving meanwhile is answered with that answer (409), never refunded again.
    with STORE.lock:
        repeated = key in STORE.replies
        if not repeated:
            made = _refund_once(session, amount, key, request, faults)
    if repeated:
        replayed = _replay(key, request.body, faults)
        assert replayed is not None  # noqa: S101 - remembered under the lock above
        return replayed
    if isinstance(made, JsonResponse):
        return made
    refund, answer = made
    # DOKU notifies every refund and void it makes, as it does those made in its back office.
    sent = actions.notify_refund(session, refund)
    if faults.refund_notification_first:
        STORE.wait_for_attempts(sent)
    _maybe_time_out(faults)
    return JsonResponse(answer)


def cancellable(session: SimulatedSession) -> bool:
    """Whether DOKU's Checkout cancellation covers every channel the shopper may pay this session with."""
    channels = [session.channel] if session.channel else _offered_methods(session)
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
    read = _signed_json(request, CANCELLATION_TARGET)
    if isinstance(read, JsonResponse):
        return read
    merchant, data, key, faults = read
    # The Request-Id's first answer and the cancellation it makes are one step, as for refunds:
    # a repeat arriving meanwhile is answered with that answer (409), never processed again.
    with STORE.lock:
        repeated = key in STORE.replies
        if not repeated:
            answer, status = _cancellation(merchant, data)
            _remember(key, request.body, answer)
    if repeated:
        replayed = _replay(key, request.body, faults)
        assert replayed is not None  # noqa: S101 - remembered under the lock above
        return replayed
    _maybe_time_out(faults)
    return JsonResponse(answer, status=status)


def _cancellation(merchant: Merchant, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """DOKU's answer to a cancellation request and its HTTP status."""

    def refused(status: int, code: str, message: str) -> tuple[dict[str, Any], int]:
        return {"error": {"code": code, "message": message, "type": "SIMULATOR"}}, status

    invoice = _section(data, "order").get("invoice_number")
    original = _section(data, "payment").get("original_request_id")
    if not isinstance(original, str) or not original:
        return refused(400, "INVALID_PARAMETER", "payment.original_request_id must be filled")
    session = STORE.find(merchant.client_id, invoice) if isinstance(invoice, str) and invoice else None
    if session is None:
        return refused(404, "NOT_FOUND", "order.invoice_number is not known")
    if original != session.request_id:
        return refused(400, "INVALID_PARAMETER", "payment.original_request_id does not match the order")
    if session.status == "SUCCESS":
        return refused(400, "INVALID_STATUS", "the order is already paid")
    if session.is_expired():
        return refused(400, "INVALID_STATUS", "the order has expired")
    if not cancellable(session):
        return refused(400, "UNSUPPORTED_CHANNEL", "cancellation is not available for this order's payment channels")
    session.cancelled = True
    return {"order": {"invoice_number": session.invoice_number, "status": "CANCELLED"}, "message": ["SUCCESS"]}, 200


@require_GET
def order_status(request: HttpRequest, identifier: str) -> JsonResponse:
    """``GET /orders/v1/status/{invoice_number or Request-Id}`` (signed without a Digest)."""
    merchant, failure = _authenticate(request, f"/orders/v1/status/{quote(identifier, safe='')}", None)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    if (trouble := _server_trouble(_faults(request, merchant))) is not None:
        return trouble
    session = STORE.find(merchant.client_id, identifier)
    if session is None:
        return _error(404, "not_found", "Order not found")
    expired = session.is_expired()
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
    body["order"]["status"] = "ORDER_EXPIRED" if expired else "ORDER_GENERATED"
    body["additional_info"] = {"origin": dict(notifier.ORIGIN)}
    return JsonResponse(body)


# --- the shopper's side -----------------------------------------------------------------------------


def _offered_methods(session: SimulatedSession) -> list[str]:
    if session.kind == "card_page":
        return ["CREDIT_CARD"]
    return session.requested_methods or DEMO_METHODS


def _back_url(session: SimulatedSession) -> str:
    return str(session.order.get("callback_url_result") or session.order.get("callback_url") or "")


#: Files the simulator serves itself, wherever it is mounted: its stylesheet, its pages'
#: script and the stand-in for DOKU's Checkout JS.
ASSETS = {
    "simulator.css": "text/css",
    "page.js": "text/javascript",
    "jokul-checkout-1.0.0.js": "text/javascript",
}
ASSET_DIR = Path(__file__).resolve().parent / "assets"


@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """One of :data:`ASSETS`; the Checkout JS stand-in is also at DOKU's path (``jokul-checkout-js/v1/``)."""
    if name not in ASSETS:
        raise Http404("No such simulator asset.")
    response = HttpResponse((ASSET_DIR / name).read_bytes(), content_type=f"{ASSETS[name]}; charset=utf-8")
    response["Cache-Control"] = "max-age=300"
    return response


@xframe_options_exempt  # DOKU's pop-up shows this page in a frame over the shop
# In that frame the page is another site's: browsers withhold its SameSite cookies, so the
# CSRF cookie cannot be checked. It moves no money; the signed API is what guards the shop.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def payment_page(request: HttpRequest, token: str) -> HttpResponse:
    """The hosted page at ``payment.url``: pick a method, then Pay, Fail or Let it expire."""
    session = STORE.session(token)
    if session is None:
        return render(request, "doku_simulator/message.html", {"title": "Payment link not found"}, status=404)
    merchant = merchants().get(session.client_id)
    context: dict[str, Any] = {
        "session": session,
        "merchant": merchant,
        "methods": _offered_methods(session),
        "is_card_page": session.kind == "card_page",
    }
    if session.cancelled:
        return render(request, "doku_simulator/message.html", {"title": "This payment was cancelled"}, status=410)
    if request.method == "GET" or session.is_expired() or session.status == "SUCCESS":
        if session.is_expired() and session.status != "EXPIRED":
            session.status = "EXPIRED"
        return render(request, "doku_simulator/page.html", context, status=200)

    action = request.POST.get("action")
    method = request.POST.get("method", "")
    if action == "expire":
        actions.settle(session, "expire")
        return render(request, "doku_simulator/result.html", {**context, "back_url": _back_url(session)})
    if action == "authorize" and method != "CREDIT_CARD":
        context["error"] = "Only a card payment can be authorized."
        return render(request, "doku_simulator/page.html", context, status=400)
    if action not in {"pay", "fail", "authorize"} or method not in context["methods"]:
        context["error"] = "Choose one of the payment methods shown."
        return render(request, "doku_simulator/page.html", context, status=400)
    actions.settle(session, action, method)
    if session.kind == "card_page":
        target = session.order.get("callback_url") if action != "fail" else session.order.get("failed_url")
        target = target or session.order.get("callback_url")
        if session.order.get("auto_redirect") and target:
            return redirect(str(target))
    elif session.order.get("auto_redirect") and session.order.get("callback_url") and action == "pay":
        return redirect(str(session.order["callback_url"]))
    retry_allowed = action == "fail" and not session.order.get("disable_retry_payment") and not is_card(method)
    return render(
        request,
        "doku_simulator/result.html",
        {**context, "back_url": _back_url(session), "retry_allowed": retry_allowed or action == "fail"},
    )


@xframe_options_exempt
@require_GET
def cancel_payment(request: HttpRequest, token: str) -> HttpResponse:
    """The page's Cancel link: back to ``callback_url_cancel`` (or ``callback_url``)."""
    session = STORE.session(token)
    if session is None:
        return render(request, "doku_simulator/message.html", {"title": "Payment link not found"}, status=404)
    target = session.order.get("callback_url_cancel") or session.order.get("callback_url")
    if not target:
        return render(request, "doku_simulator/message.html", {"title": "Payment cancelled"})
    return redirect(str(target))


# --- the developer's side ------------------------------------------------------------------------------


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """Every session, notification and delivery attempt, and the fault switches."""
    with STORE.lock:
        sessions = list(reversed(STORE.sessions.values()))
        notifications = list(reversed(STORE.notifications))
    known = merchants()
    return render(
        request,
        "doku_simulator/dashboard.html",
        {
            "sessions": sessions,
            "notifications": notifications,
            "merchants": [(m, STORE.faults_for(m.client_id).as_dict()) for m in known.values()],
        },
    )


@require_POST
def update_faults(request: HttpRequest) -> HttpResponse:
    """The dashboard's fault form (CSRF-protected)."""
    client_id = request.POST.get("client_id", "")
    values = {
        name: request.POST.get(name) or (False if isinstance(default, bool) else default)
        for name, default in Faults().as_dict().items()
    }
    STORE.set_faults(client_id, Faults().updated(values))
    return redirect("doku_simulator:dashboard")


@require_POST
def control_faults(request: HttpRequest) -> JsonResponse:
    """Set a merchant's faults from a test: ``{"client_id": ..., "error_rate": 1}``; ``{}`` clears.

    Staff only, with Django's CSRF token (the ``X-CSRFToken`` header), like the dashboard.
    """
    try:
        values = json.loads(request.body or b"{}")
        client_id = values.pop("client_id", None) or next(iter(merchants()), "")
        faults = Faults().updated(values)
    except (ValueError, AttributeError) as err:
        return JsonResponse({"error_messages": [str(err)]}, status=400)
    STORE.set_faults(client_id, faults)
    return JsonResponse({"client_id": client_id, "faults": faults.as_dict()})


@require_POST
def settle_payment(request: HttpRequest) -> HttpResponse:
    """Settle a paid session (``{"invoice_number": ...}``): the dashboard's button, and a JSON control for tests.

    After settlement DOKU refunds partially; before, it only voids the whole amount.
    """
    if request.content_type == "application/json":
        try:
            values = json.loads(request.body or b"{}")
            invoice = values.get("invoice_number")
        except (ValueError, AttributeError):
            invoice = None
    else:
        invoice = request.POST.get("invoice_number")
    with STORE.lock:
        session = next((s for s in STORE.sessions.values() if s.invoice_number == invoice), None)
    if session is None:
        return JsonResponse({"error_messages": ["invoice_number is not known"]}, status=404)
    try:
        actions.mark_settled(session)
    except ValueError as err:
        return JsonResponse({"error_messages": [str(err)]}, status=400)
    if request.content_type == "application/json":
        return JsonResponse({"invoice_number": session.invoice_number, "settled": True})
    return redirect("doku_simulator:dashboard")


@require_POST
def control_reset(request: HttpRequest) -> JsonResponse:
    """Forget every session, notification and fault."""
    STORE.reset()
    return JsonResponse({"reset": True})
