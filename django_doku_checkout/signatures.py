"""DOKU's Non-SNAP request signature: pure functions, no Django, no I/O.

The component string is one ``Label:value`` line per component joined by a single
``\\n`` with no trailing newline, in this fixed order: Client-Id, Request-Id,
Request-Timestamp (Response-Timestamp on DOKU's answers), Request-Target and, for
requests with a body only, Digest. The signature is ``HMACSHA256=`` followed by the
base64 HMAC-SHA256 of that string keyed with the secret key's UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

SIGNATURE_PREFIX = "HMACSHA256="
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def digest(body: bytes) -> str:
    """Base64 SHA-256 of the exact body bytes sent or received."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def component_string(
    *,
    client_id: str,
    request_id: str,
    timestamp: str,
    target: str,
    body: bytes | None,
    timestamp_label: str = "Request-Timestamp",
) -> str:
    """The text DOKU signs. ``body=None`` (a GET) leaves the Digest line out entirely."""
    lines = [
        f"Client-Id:{client_id}",
        f"Request-Id:{request_id}",
        f"{timestamp_label}:{timestamp}",
        f"Request-Target:{target}",
    ]
    if body is not None:
        lines.append(f"Digest:{digest(body)}")
    return "\n".join(lines)


def sign(
    secret_key: str,
    *,
    client_id: str,
    request_id: str,
    timestamp: str,
    target: str,
    body: bytes | None,
    timestamp_label: str = "Request-Timestamp",
) -> str:
    """The ``Signature`` header value for one request or notification."""
    message = component_string(
        client_id=client_id,
        request_id=request_id,
        timestamp=timestamp,
        target=target,
        body=body,
        timestamp_label=timestamp_label,
    )
    mac = hmac.new(secret_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return SIGNATURE_PREFIX + base64.b64encode(mac.digest()).decode("ascii")


def signed_headers(
    secret_key: str,
    *,
    client_id: str,
    target: str,
    body: bytes | None,
    request_id: str | None = None,
    timestamp: str | None = None,
) -> dict[str, str]:
    """The headers of one signed request: Client-Id, Request-Id, Request-Timestamp and Signature.

    A fresh Request-Id and the current time are used unless given; a JSON body adds its
    Content-Type. Used by the client, by the simulator's notifier and by tests.
    """
    request_id = request_id or str(uuid.uuid4())
    timestamp = timestamp or format_timestamp()
    headers = {
        "Client-Id": client_id,
        "Request-Id": request_id,
        "Request-Timestamp": timestamp,
        "Signature": sign(
            secret_key, client_id=client_id, request_id=request_id, timestamp=timestamp, target=target, body=body
        ),
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def verify(
    signature: str,
    *,
    secret_keys: Iterable[str],
    client_id: str,
    request_id: str,
    timestamp: str,
    target: str,
    body: bytes | None,
) -> bool:
    """True when ``signature`` was made with one of ``secret_keys``.

    Every key is tried, whatever the outcome of the others, and each comparison is
    constant-time, so the answer's timing says nothing about the expected value.
    Several keys let a shop rotate its secret without rejecting notifications.
    """
    presented = signature.strip().encode("utf-8", "surrogateescape")
    matched = False
    for secret_key in secret_keys:
        expected = sign(
            secret_key,
            client_id=client_id,
            request_id=request_id,
            timestamp=timestamp,
            target=target,
            body=body,
        )
        matched |= hmac.compare_digest(presented, expected.encode("ascii"))
    return matched


def format_timestamp(moment: datetime | None = None) -> str:
    """``Request-Timestamp`` for ``moment`` (default now): UTC, whole seconds, literal ``Z``."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


#: The ``Request-Timestamp`` forms DOKU-style systems send: ``Z``, fractional seconds, an offset.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_timestamp(value: str) -> datetime | None:
    """The aware UTC datetime of a ``Request-Timestamp``, or None when it is in no form DOKU uses.

    Accepted: ``2026-08-27T10:24:12Z`` (what DOKU sends), ``2026-08-27T10:24:12.000Z`` and
    ``2026-08-27T17:24:12+07:00`` (what SNAP-style systems send). The signature is always
    verified over the header exactly as received, never over a re-formatted one.
    """
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
