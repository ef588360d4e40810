"""Work a request commits, done once its response has been sent.

Django sends ``request_started`` when a request comes in and ``request_finished`` when the
server closes the response, after its last byte was written (gunicorn, uWSGI, mod_wsgi,
``runserver`` and Django's test client alike). Work a request defers with :func:`defer` is
done on ``request_finished``: DOKU and the shopper have their whole answer while the shop's
signal receivers run. Outside a request (a management command, the shell, a task queue's
worker) nothing is deferred: :func:`defer` returns False and the caller does the work at once.

A server kills a worker that is silent too long (gunicorn after 30 s by default), counted
from the start of its request, and the time after the response counts. Deferred work is
therefore given a deadline, :data:`BUDGET` seconds after the request started: it must not
start anything new after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import connections

logger = logging.getLogger(__name__)

#: Seconds after a request began during which its deferred work may start something new:
#: half of gunicorn's default worker timeout, the rest left for what was started.
BUDGET = 15.0

#: Deferred work: called with the deadline (``time.monotonic()``) it must start nothing after.
Job = Callable[[float], None]


@dataclass
class _Request:
    deadline: float
    jobs: list[Job] = field(default_factory=list)


class _Requests(threading.local):
    """The requests this thread is serving: one, or more when a request makes another in-process."""

    def __init__(self) -> None:
        self.stack: list[_Request] = []


_requests = _Requests()
#: Requests of this process, in every thread, whose deferred work is not done yet.
_pending = 0
_done = threading.Condition()


def defer(job: Job) -> bool:
    """Do ``job`` once the current request's response has been sent; False outside a request."""
    global _pending  # noqa: PLW0603 - one count for every thread, under _done's lock
    if not _requests.stack:
        return False
    request = _requests.stack[-1]
    if not request.jobs:
        with _done:
            _pending += 1
    request.jobs.append(job)
    return True


def wait_until_done(timeout: float) -> bool:
    """Wait until no request of this process has deferred work left; False on timeout.

    For a caller in the same process as the server, such as the simulator's tests waiting
    for a notification's receivers.
    """
    with _done:
        return _done.wait_for(lambda: _pending == 0, timeout=timeout)


def _started(**kwargs: Any) -> None:
    _requests.stack.append(_Request(deadline=time.monotonic() + BUDGET))


def _finished(**kwargs: Any) -> None:
    global _pending  # noqa: PLW0603 - see defer()
    if not _requests.stack:
        return
    request = _requests.stack.pop()
    if not request.jobs:
        return
    try:
        for job in request.jobs:
            try:
                job(request.deadline)
            except Exception:  # the response is sent: nothing to answer, the next job still runs
                logger.exception("Work deferred until after the response failed")
    finally:
        _close_old_connections()
        with _done:
            _pending -= 1
            _done.notify_all()


def _close_old_connections() -> None:
    """Close what the jobs opened, or keep it for reuse, as Django did before they ran.

    Django's own ``request_finished`` receiver comes first, so it closed the request's
    connections before the jobs opened them again. A connection inside a transaction is
    left alone: Django's test client runs each test's requests in one.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def connect() -> None:
    """Follow requests (the app's ``ready()``)."""
    request_started.connect(_started, dispatch_uid="django_doku_checkout.after_response.started")
    request_finished.connect(_finished, dispatch_uid="django_doku_checkout.after_response.finished")
