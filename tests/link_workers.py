"""A worker creating a payment link through the public service, with only the way to DOKU changed.

What the claim protocol's tests need from a worker, without calling the protocol's steps
themselves: a claim left in flight by a worker killed while DOKU is asked, and something done
while DOKU is asked (nothing locked, no transaction open) before DOKU's answer comes back.
Both sit on the HTTP edge, :attr:`DokuClient.transport_adapter`: whatever answers for DOKU
behind it (the simulator in process or over HTTP, ``responses``) answers as usual.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from django_doku_checkout import services
from django_doku_checkout.client import CHECKOUT_PATH, DokuClient
from django_doku_checkout.models import CheckoutSession, Order


class _DokuEdge(requests.adapters.BaseAdapter):
    """The way to DOKU: ``before`` runs when a request to ``path`` leaves, then the usual way carries it."""

    def __init__(self, before: Callable[[], object], path: str) -> None:
        super().__init__()
        self.before, self.path = before, path
        self.usual = DokuClient.transport_adapter or requests.adapters.HTTPAdapter()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if (request.path_url or "").endswith(self.path):
            self.before()
        return self.usual.send(request, *args, **kwargs)

    def close(self) -> None:
        self.usual.close()


@contextmanager
def _edge(before: Callable[[], object], path: str) -> Iterator[None]:
    usual = DokuClient.transport_adapter
    DokuClient.transport_adapter = _DokuEdge(before, path)
    try:
        yield
    finally:
        DokuClient.transport_adapter = usual


def _killed() -> None:
    # Gunicorn ends a sync worker past its timeout with SystemExit (its abort handler).
    raise SystemExit(1)


def worker_killed_while_doku_is_asked(work: Callable[[], object], *, path: str = CHECKOUT_PATH) -> None:
    """``work`` runs until its request to ``path`` leaves for DOKU; then its worker is killed.

    What it committed before asking DOKU (a claim: its Request-Id and exact bytes) stays as it
    was, with no answer recorded; DOKU never received the request.
    """
    with _edge(_killed, path), pytest.raises(SystemExit):
        work()


def killed_while_doku_is_asked(order: Order) -> CheckoutSession:
    """A worker creating ``order``'s link is killed while DOKU is asked; returns the claim it left in flight."""
    worker_killed_while_doku_is_asked(lambda: services.create_payment_link(order))
    return order.checkout_sessions.get(status=CheckoutSession.Status.CREATING)


@contextmanager
def while_doku_is_asked(meanwhile: Callable[[], object], *, path: str = CHECKOUT_PATH) -> Iterator[None]:
    """Within it, ``meanwhile`` runs each time a request to ``path`` leaves for DOKU, before DOKU answers it."""
    with _edge(meanwhile, path):
        yield


def sent_body(link: CheckoutSession) -> dict[str, Any]:
    """The body a claim sends (again), read back from its stored bytes."""
    body: dict[str, Any] = json.loads(link.request_payload)
    return body
