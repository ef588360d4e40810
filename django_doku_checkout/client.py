"""HTTP transport to DOKU: signing, timeouts, retries and error mapping. No ORM here."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import uuid4

import requests
from django.core.signals import setting_changed

from django_doku_checkout import signatures
from django_doku_checkout.conf import DokuCheckoutSettings, get_config
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from django_doku_checkout.payloads import encode_body

logger = logging.getLogger(__name__)

CHECKOUT_PATH = "/checkout/v1/payment"
CARD_PAGE_PATH = "/credit-card/v1/payment-page"
STATUS_PATH = "/orders/v1/status/{identifier}"
CARD_REFUND_PATH = "/cancellation/credit-card/refund"
CHECKOUT_CANCELLATION_PATH = "/checkout/v3/cancellations"


@functools.cache
def _user_agent() -> str:
    # Once per process: importlib.metadata reads the installed distributions, which costs
    # more than a whole call to DOKU on a kept-alive connection.
    try:
        version = metadata.version("django-doku-checkout")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "unknown"
    return f"django-doku-checkout/{version} python-requests/{requests.__version__}"


def _new_session(api_base_url: str) -> requests.Session:
    """A session that reads proxies and the CA bundle from the environment once, now.

    Left to trust the environment, ``requests`` scans it again on every call (and reads
    ``~/.netrc``), which costs more than the rest of a link's work. ``~/.netrc`` never
    applies here: DOKU authenticates requests by their signature, not a password.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(api_base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    _prepare(session, api_base_url)
    return session


def _prepare(session: requests.Session, api_base_url: str) -> None:
    session.headers["User-Agent"] = _user_agent()
    if DokuClient.transport_adapter is not None:
        session.mount(api_base_url, DokuClient.transport_adapter)


class _ThreadSession(threading.local):
    """One thread's session to DOKU and what it was built for.

    A ``requests.Session`` is not safe to share between threads (its connection pool and
    cookie jar are shared state), so each thread that talks to DOKU keeps its own, alive
    across requests.
    """

    key: tuple[object, ...] | None = None
    session: requests.Session | None = None


_thread_session = _ThreadSession()
#: Bumped when Django's settings change, so that every thread builds its session again.
_generation = 0


def shared_session(api_base_url: str) -> requests.Session:
    """This thread's kept-alive session to DOKU, built on first use.

    Built again after the settings changed (Django's ``setting_changed``), when the API host
    or :attr:`DokuClient.transport_adapter` changed, and in a forked child (gunicorn's
    ``--preload``: two processes must never share a connection). Timeouts and retries are
    per call, so clients with different budgets share it.
    """
    key = (_generation, os.getpid(), api_base_url, DokuClient.transport_adapter)
    session = _thread_session.session
    if session is None or _thread_session.key != key:
        if session is not None:
            session.close()
        session = _thread_session.session = _new_session(api_base_url)
        _thread_session.key = key
    return session


def _forget_sessions(*, setting: str, **kwargs: object) -> None:
    global _generation  # noqa: PLW0603 - one counter every thread reads
    if setting == "DOKU_CHECKOUT":
        _generation += 1


setting_changed.connect(_forget_sessions, dispatch_uid="django_doku_checkout.client.forget_sessions")


@dataclass(frozen=True)
class DokuResponse:
    """A successful answer from DOKU.

    ``replayed`` is True when DOKU answered 409 to a retried request: the body is then
    the answer to the original request, which DOKU had already processed. A replayed
    refusal is never one: it is raised as :class:`DokuAPIError` with ``replayed=True``.
    """

    status_code: int
    data: dict[str, Any]
    request_id: str
    replayed: bool = False
    #: The body's bytes as DOKU sent them, for readers that must see numbers as written.
    content: bytes = b""
    #: DOKU's response headers (its ``Date`` tells how far this server's clock is from DOKU's).
    headers: Mapping[str, str] = field(default_factory=dict)


def error_messages(data: object, fallback: str = "") -> list[str]:
    """DOKU's error texts from any of its error shapes, most specific first."""
    if isinstance(data, Mapping):
        for key in ("error_messages", "message"):
            value = data.get(key)
            if isinstance(value, list) and value:
                return [str(item) for item in value]
            if isinstance(value, str) and value:
                return [value]
        error = data.get("error")
        if isinstance(error, Mapping):
            parts = [str(error[key]) for key in ("code", "message") if error.get(key)]
            if parts:
                return [": ".join(parts)]
    return [fallback[:300]] if fallback else []


def is_refusal(data: Mapping[str, Any]) -> bool:
    """Whether a JSON object DOKU sent is one of its error shapes rather than an answer.

    A 409 repeats DOKU's first answer to a Request-Id, and that answer may have been a
    refusal (``{"message": ["Merchant not support cancel order"]}``). An answer always
    carries a section of its own (``order``, ``refund``, ``response`` ...); a ``message`` of
    ``["SUCCESS"]`` is DOKU's word for success.
    """
    if isinstance(data.get("error"), Mapping) or data.get("error_messages"):
        return True
    if "message" not in data or any(isinstance(value, Mapping) for value in data.values()):
        return False
    texts = data["message"] if isinstance(data["message"], list) else [data["message"]]
    return not any(str(text).strip().upper() == "SUCCESS" for text in texts)


def _shown(url: str) -> str:
    """``url`` as it may be shown in an error: without any user or password in it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _refused(err: BaseException) -> bool:
    """Whether the connection was refused (nothing listens at that address and port).

    requests wraps urllib3's error, which wraps the socket's: look through the whole chain.
    """
    pending, seen = [err], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        linked = (current.__cause__, current.__context__, getattr(current, "reason", None), *current.args)
        pending.extend(each for each in linked if isinstance(each, BaseException))
    return False


#: Why DOKU could not be reached, as :attr:`DokuTransportError.kind` names it.
CONNECT_TIMEOUT, READ_TIMEOUT, REFUSED, UNREACHABLE = "connect_timeout", "read_timeout", "refused", "unreachable"


def failure_kind(err: requests.RequestException) -> str:
    """Which way DOKU could not be reached: :data:`CONNECT_TIMEOUT`, :data:`READ_TIMEOUT`, :data:`REFUSED` or :data:`UNREACHABLE`."""
    if isinstance(err, requests.ConnectTimeout):
        return CONNECT_TIMEOUT
    if isinstance(err, requests.Timeout):
        return READ_TIMEOUT
    return REFUSED if _refused(err) else UNREACHABLE


def likely_cause(err: requests.RequestException, config: DokuCheckoutSettings) -> str:
    """What most likely went wrong when DOKU could not be reached, and what to check."""
    kind = failure_kind(err)
    if kind == CONNECT_TIMEOUT:
        return "no connection within the TIMEOUT setting's connect time: check the network, a firewall or a proxy"
    if kind == READ_TIMEOUT:
        return "DOKU took the request but did not answer within the TIMEOUT setting's read time"
    if kind == REFUSED:
        if config.environment == "simulator":
            return (
                f"nothing is listening there: is the simulator running on {_shown(config.api_base_url)}? "
                "Start it with python -m django_doku_checkout.simulator, or mount its URLs in the shop"
            )
        return "nothing is listening there: check the API_BASE_URL setting"
    return "the host could not be reached: check the API_BASE_URL setting, DNS and any proxy"


class DokuClient:
    """Talks to DOKU's Non-SNAP API with one ``requests.Session``.

    Each logical request gets a fresh ``Request-Id`` (uuid4) and ``Request-Timestamp``;
    its body is serialized once and those bytes are signed and sent. Failed attempts
    (timeouts, refused connections, 5xx) are retried with the *same* ``Request-Id`` and
    bytes, so DOKU recognises a POST it already processed and answers 409.
    """

    #: A ``requests`` transport adapter mounted on the API base URL of every new client, for
    #: serving DOKU in-process (the pytest plugin's simulator, benchmarks). None uses HTTP.
    transport_adapter: requests.adapters.BaseAdapter | None = None

    def __init__(self, config: DokuCheckoutSettings | None = None, *, session: requests.Session | None = None) -> None:
        self.config = config or get_config()
        if session is None:
            # The default path: this thread's kept-alive connections to DOKU, shared by every
            # client it builds, so a shopper's click costs no new TCP or TLS handshake.
            self.session = shared_session(self.config.api_base_url)
        else:
            self.session = session
            _prepare(self.session, self.config.api_base_url)

    def create_checkout_payment(self, body: Mapping[str, Any], *, request_id: str | None = None) -> DokuResponse:
        """``POST /checkout/v1/payment``: create a DOKU Checkout session and its ``payment.url``."""
        return self._send("POST", CHECKOUT_PATH, body=body, request_id=request_id)

    def create_card_payment_page(self, body: Mapping[str, Any], *, request_id: str | None = None) -> DokuResponse:
        """``POST /credit-card/v1/payment-page``: create a card-only hosted payment page."""
        return self._send("POST", CARD_PAGE_PATH, body=body, request_id=request_id)

    def refund_card_payment(self, body: Mapping[str, Any], *, request_id: str | None = None) -> DokuResponse:
        """``POST /cancellation/credit-card/refund``: give back all or part of a card payment.

        ``body`` is ``{"order": {"invoice_number"}, "payment": {"original_request_id"},
        "refund": {"amount"}}``. Resent with the same ``request_id`` after a timeout, DOKU
        answers 409 with its first answer instead of refunding twice.
        """
        return self._send("POST", CARD_REFUND_PATH, body=body, request_id=request_id)

    def cancel_checkout(self, body: Mapping[str, Any], *, request_id: str | None = None) -> DokuResponse:
        """``POST /checkout/v3/cancellations``: stop an unpaid Checkout order (``{"order": {"invoice_number"}}``).

        DOKU cancels bank transfers (except BTN, BNC, BPD and OCBC), QRIS and convenience
        stores, for merchants it enabled; anything else is refused with an error.
        """
        return self._send("POST", CHECKOUT_CANCELLATION_PATH, body=body, request_id=request_id)

    def get_status(self, identifier: str) -> DokuResponse:
        """``GET /orders/v1/status/{invoice_number or Request-Id}``: the latest transaction status."""
        return self._send("GET", STATUS_PATH.format(identifier=quote(identifier, safe="")), body=None)

    def signed_headers(self, *, request_id: str, timestamp: str, target: str, body: bytes | None) -> dict[str, str]:
        return signatures.signed_headers(
            self.config.secret_key,
            client_id=self.config.client_id,
            request_id=request_id,
            timestamp=timestamp,
            target=target,
            body=body,
        )

    def _send(
        self, method: str, path: str, *, body: Mapping[str, Any] | None, request_id: str | None = None
    ) -> DokuResponse:
        request_id = request_id or str(uuid4())
        raw = encode_body(body) if body is not None else None
        headers = self.signed_headers(
            request_id=request_id, timestamp=signatures.format_timestamp(), target=path, body=raw
        )
        url = self.config.api_base_url + path
        attempts = 1 + self.config.max_retries
        # One logical call, retries and their pauses included, ends by the deadline: a worker
        # waiting for DOKU must not outlive gunicorn's timeout, nor keep the shopper waiting.
        started = time.monotonic()
        give_up_at = started + self.config.deadline
        for attempt in range(1, attempts + 1):
            remaining = give_up_at - time.monotonic()
            try:
                response = self.session.request(
                    method,
                    url,
                    data=raw,
                    headers=headers,
                    timeout=(min(self.config.connect_timeout, remaining), min(self.config.read_timeout, remaining)),
                    allow_redirects=False,
                )
            except requests.RequestException as err:
                logger.warning(
                    "DOKU %s %s failed on attempt %d/%d: %s (Request-Id %s)",
                    method,
                    path,
                    attempt,
                    attempts,
                    type(err).__name__,
                    request_id,
                )
                pause = self.config.retry_backoff * attempt
                if attempt == attempts or time.monotonic() + pause >= give_up_at:
                    kind = "timed out" if isinstance(err, requests.Timeout) else "could not be reached"
                    raise DokuTransportError(
                        f"DOKU {kind} after {attempt} attempt(s) in {time.monotonic() - started:.1f} s at "
                        f"{method} {_shown(self.config.api_base_url)}{path}: {likely_cause(err, self.config)}",
                        request_id=request_id,
                        kind=failure_kind(err),
                    ) from err
            else:
                logger.info(
                    "DOKU %s %s answered HTTP %d (Request-Id %s)", method, path, response.status_code, request_id
                )
                pause = self.config.retry_backoff * attempt
                if response.status_code < 500 or attempt == attempts or time.monotonic() + pause >= give_up_at:
                    return self._result(response, request_id)
            time.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _result(response: requests.Response, request_id: str) -> DokuResponse:
        try:
            data = response.json()
        except ValueError:
            data = None
        replayed = response.status_code == 409
        ok = response.ok or replayed
        if replayed and isinstance(data, dict) and is_refusal(data):
            # DOKU repeated its first answer to this Request-Id, and that answer was no.
            raise DokuAPIError(
                status_code=response.status_code,
                messages=error_messages(data) or ["no error message"],
                request_id=request_id,
                body=data,
                replayed=True,
                headers=response.headers,
            )
        if ok and isinstance(data, dict):
            return DokuResponse(
                response.status_code,
                data,
                request_id,
                replayed=replayed,
                content=response.content,
                headers=response.headers,
            )
        fallback = "DOKU's answer was not a JSON object" if ok else response.text or response.reason or ""
        raise DokuAPIError(
            status_code=response.status_code,
            messages=error_messages(data, fallback) or ["no error message"],
            request_id=request_id,
            body=data,
            headers=response.headers,
        )
