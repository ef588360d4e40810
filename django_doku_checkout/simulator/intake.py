"""How the simulator's API takes a request, as DOKU does: the signature, the merchant's faults,
a repeated Request-Id answered with its first answer, and DOKU's error bodies."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse

from django_doku_checkout import signatures
from django_doku_checkout.simulator.faults import HEADER, Faults
from django_doku_checkout.simulator.merchants import Merchant, max_clock_skew, merchants
from django_doku_checkout.simulator.store import STORE, ReceivedRequest, Reply

#: DOKU's ``error.type`` for an error code, as captured; the simulator's own for the rest.
_ERROR_TYPES = {"INVALID_PARAMETER": "Invalid Parameter"}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": _ERROR_TYPES.get(code, "SIMULATOR")}}


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def authenticate(request: HttpRequest, target: str, body: bytes | None) -> tuple[Merchant | None, JsonResponse | None]:
    """Check the request exactly as DOKU does: known client, fresh timestamp, valid signature."""
    headers = request.headers
    merchant = merchants().get(headers.get("Client-Id", ""))
    if merchant is None:
        return None, error(401, "invalid_client_id", "Client-Id is not registered")
    sent_at = signatures.parse_timestamp(headers.get("Request-Timestamp", ""))
    if sent_at is None or abs((datetime.now(UTC) - sent_at).total_seconds()) > max_clock_skew():
        return None, error(401, "invalid_timestamp", "Request-Timestamp is missing or more than 5 minutes off")
    request_id = headers.get("Request-Id", "")
    if not request_id or len(request_id) > 128:
        return None, error(401, "invalid_request_id", "Request-Id is missing or longer than 128 characters")
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
        return None, error(401, "invalid_signature", "Invalid Header Signature")
    signed = ("Client-Id", "Request-Id", "Request-Timestamp", "Digest", "Signature")
    with STORE.lock:
        STORE.received.append(
            ReceivedRequest(target, {name: headers[name] for name in signed if name in headers}, body or b"")
        )
    return merchant, None


def faults_of(request: HttpRequest, merchant: Merchant) -> Faults:
    faults = STORE.faults_for(merchant.client_id)
    header = request.headers.get(HEADER)
    return Faults.parse_header(faults, header) if header else faults


def server_trouble(faults: Faults) -> JsonResponse | None:
    """Latency, and a 5xx for the configured share of requests (random, as real outages are)."""
    if faults.latency:
        time.sleep(faults.latency)
    if faults.error_rate and random.random() < faults.error_rate:  # noqa: S311 - not cryptographic
        return error(503, "service_unavailable", "Simulated outage")
    return None


def maybe_time_out(faults: Faults) -> None:
    # The request was processed, but the answer arrives after the client gave up: its retry
    # with the same Request-Id must then get the original answer with 409.
    if faults.timeout_rate and random.random() < faults.timeout_rate:  # noqa: S311
        time.sleep(faults.timeout_seconds)


def replay(key: str, raw: bytes, faults: Faults) -> JsonResponse | None:
    """The first answer to a Request-Id seen before, with 409, as DOKU answers a retried POST."""
    with STORE.lock:
        reply = STORE.replies.get(key)
    if reply is None:
        return None
    maybe_time_out(faults)
    if reply.body_digest != signatures.digest(raw):
        return JsonResponse({"error_messages": ["Request-Id was already used with another body"]}, status=400)
    return JsonResponse(reply.data, status=409)


def remember(key: str, raw: bytes, data: dict[str, Any]) -> None:
    with STORE.lock:
        STORE.replies[key] = Reply(signatures.digest(raw), data)


def signed_json(request: HttpRequest, target: str) -> tuple[Merchant, dict[str, Any], str, Faults] | JsonResponse:
    """Authenticate a signed POST, apply the merchant's faults, replay a repeated Request-Id and read
    the JSON object; an answer to send at once when any of these decides it."""
    merchant, failure = authenticate(request, target, request.body)
    if failure is not None:
        return failure
    assert merchant is not None  # noqa: S101
    try:
        data = json.loads(request.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return error(400, "INVALID_PARAMETER", "request body must be a JSON object")
    key = f"{merchant.client_id}:{request.headers['Request-Id']}"
    faults = faults_of(request, merchant)
    if (trouble := server_trouble(faults)) is not None:
        return trouble
    if (replayed := replay(key, request.body, faults)) is not None:
        return replayed
    return merchant, data, key, faults


def section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}
