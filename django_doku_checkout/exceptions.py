"""Errors raised by django-doku-checkout.

Every message is safe to log and show to staff: none contains the secret key, a
signature or a card number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation


class DokuError(Exception):
    """Base class of every error raised by this app."""


class DokuConfigurationError(DokuError, ImproperlyConfigured):
    """The ``DOKU_CHECKOUT`` setting is missing or invalid."""


class DokuValidationError(DokuError, ValueError):
    """A request body breaks DOKU's rules; ``errors`` lists every problem found."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


#: How every :class:`DokuAPIError`'s message starts: a recorded error says whether DOKU answered.
API_ERROR_PREFIX = "DOKU answered HTTP"


class DokuAPIError(DokuError):
    """DOKU answered with an error status.

    ``status_code`` is the HTTP status, ``messages`` DOKU's own error texts and
    ``request_id`` the ``Request-Id`` we sent, which DOKU support asks for. ``replayed`` is
    True when DOKU answered 409 to a repeated Request-Id with its first answer, a refusal:
    the request was refused then, and is not carried out now either. ``headers`` are DOKU's
    response headers (empty when the error was not read from an answer).
    """

    def __init__(
        self,
        *,
        status_code: int,
        messages: Sequence[str],
        request_id: str,
        body: object = None,
        replayed: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.messages = list(messages)
        self.request_id = request_id
        self.body = body
        self.replayed = replayed
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        detail = "; ".join(self.messages) or "no error message"
        again = " (its first answer, repeated)" if replayed else ""
        super().__init__(f"{API_ERROR_PREFIX} {status_code}{again}: {detail} (Request-Id {request_id})")


class DokuTransportError(DokuError):
    """DOKU could not be reached: a timeout, a refused connection or a broken answer.

    ``kind`` says which (``"connect_timeout"``, ``"read_timeout"``, ``"refused"`` or
    ``"unreachable"``), for a caller that tells the next step apart.
    """

    def __init__(self, message: str, *, request_id: str, kind: str = "unreachable") -> None:
        self.request_id = request_id
        self.kind = kind
        super().__init__(f"{message} (Request-Id {request_id})")


class RecentLinkFailure(DokuError):
    """The order's last attempt at a link failed moments ago: no new one is sent to DOKU yet.

    Raised instead of asking DOKU again while ``FAILED_LINK_RETRY_AFTER`` has not passed, so
    that repeated clicks or scripted requests while DOKU is down add no row per request.
    ``doku_answered`` says whether that attempt was refused by DOKU (rather than unanswered);
    ``retry_after`` is how many seconds remain.
    """

    def __init__(self, message: str, *, doku_answered: bool, retry_after: int) -> None:
        self.doku_answered = doku_answered
        self.retry_after = retry_after
        super().__init__(message)


class LinkInProgress(DokuError):
    """Another request is asking DOKU for the order's link right now: none is sent from this one.

    Raised once a request has waited ``CLAIM_WAIT`` seconds for another process's claim (see
    :mod:`django_doku_checkout.services.links`), so that a click never outlives a worker's
    timeout waiting. ``retry_after`` is how many seconds to wait before trying again; by then
    the other request has usually recorded DOKU's answer, which the retry then hands out.
    """

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class DokuSignatureError(DokuError, SuspiciousOperation):
    """An incoming request's signature, client id or timestamp did not verify."""
