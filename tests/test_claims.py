"""A click waiting for another process's link claim gives up in time, over HTTP in autocommit.

A claim is honoured for DEADLINE + CLAIM_GRACE (30 s with the defaults, gunicorn's default
worker timeout): a click must never wait that out. It waits a few seconds (CLAIM_WAIT), then
the shopper gets a retry page (503 with Retry-After) and ``api_pay`` a 503 JSON answer; a
stale claim is taken over only by a click that finds it so at once, when DOKU's whole
answer still fits in its time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.client import CHECKOUT_PATH, DokuClient
from django_doku_checkout.exceptions import DokuAPIError, LinkInProgress
from django_doku_checkout.models import CheckoutSession, Order, OrderStatus
from django_doku_checkout.services import claims, links
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.simulator.store import STORE
from tests.doku import SANDBOX, checkout_success
from tests.link_workers import killed_while_doku_is_asked, sent_body, while_doku_is_asked
from tests.pages import press_pay
from tests.servers import free_port
from tests.waiting import wait_until_waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)

#: Far below gunicorn's 30 s: a click that waits out the claim (today's 30 s) fails here.
ANSWER_WITHIN = 10


def checkout_calls() -> list[str]:
    """The Request-Ids DOKU's Checkout endpoint received."""
    return [r.headers["Request-Id"] for r in STORE.received if r.target == CHECKOUT_PATH]


def a_claim_in_flight(order: Order) -> CheckoutSession:
    """What a worker commits before it asks DOKU; the worker then dies without an answer."""
    return killed_while_doku_is_asked(order)


def age(claim: CheckoutSession, seconds: float) -> None:
    """Make the claim ``seconds`` old, as if its worker had claimed it that long ago."""
    CheckoutSession.objects.filter(pk=claim.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))


def quiet_about(caplog) -> list[str]:
    """What ``django.request`` logged at ERROR (mailed to ADMINS by Django's default logging)."""
    return [r.getMessage() for r in caplog.records if r.name == "django.request" and r.levelno >= logging.ERROR]


def test_a_click_waiting_for_a_claim_gets_a_retry_page_in_time(live_doku, order_factory, caplog):
    order = order_factory()
    a_claim_in_flight(order)
    shopper = requests.Session()

    started = time.monotonic()
    answer = press_pay(shopper, live_doku, order.public_id, timeout=ANSWER_WITHIN)
    took = time.monotonic() - started

    assert answer.status_code == 503
    assert took < links.CLAIM_WAIT + 2
    assert 1 <= int(answer.headers["Retry-After"]) <= links.CLAIM_RETRY_AFTER
    assert "still being prepared" in answer.text
    pay_url = reverse("doku_checkout:pay", args=[order.public_id])
    # It comes back by itself as a GET (no script: CSP-clean), which hands out the link once made.
    assert f'<meta http-equiv="refresh" content="{answer.headers["Retry-After"]};url={pay_url}">' in answer.text
    assert checkout_calls() == []  # nothing was sent to DOKU from this click
    assert order.checkout_sessions.get().status == CheckoutSession.Status.CREATING
    assert quiet_about(caplog) == []  # a wait, not a failure: no mail to ADMINS per click


def test_api_pay_answers_503_with_retry_after_while_a_claim_is_in_flight(live_doku, order_factory, caplog):
    order = order_factory()
    a_claim_in_flight(order)

    answer = requests.post(live_doku + reverse("doku_checkout:api_pay", args=[order.public_id]), timeout=ANSWER_WITHIN)

    assert answer.status_code == 503
    assert 1 <= int(answer.headers["Retry-After"]) <= links.CLAIM_RETRY_AFTER
    assert "still being prepared" in answer.json()["error"]
    assert answer.json()["status"] == OrderStatus.CREATED
    assert checkout_calls() == []
    assert quiet_about(caplog) == []


def test_the_retry_gets_the_link_the_claiming_request_made(live_doku, order_factory):
    order = order_factory()
    shopper = requests.Session()
    clicks: list[requests.Response] = []

    def the_shopper_clicks_again() -> None:
        clicks.append(press_pay(shopper, live_doku, order.public_id, timeout=ANSWER_WITHIN))

    # The claiming request: DOKU answers it once the shopper's second click was answered.
    with while_doku_is_asked(the_shopper_clicks_again):
        link = services.create_payment_link(order)
    retry = shopper.get(live_doku + reverse("doku_checkout:pay", args=[order.public_id]), allow_redirects=False)

    assert [click.status_code for click in clicks] == [503]
    assert retry.status_code == 302
    assert retry.headers["Location"] == link.payment_url
    assert checkout_calls() == [link.request_id]


def test_a_click_that_has_waited_does_not_take_over_a_claim_turning_stale(live_doku, order_factory):
    order = order_factory()
    claim = a_claim_in_flight(order)
    # Its worker died; the claim turns stale while this click waits: too late for DOKU's answer.
    age(claim, claims.claim_ttl().total_seconds() - 1)

    answer = requests.post(live_doku + reverse("doku_checkout:api_pay", args=[order.public_id]), timeout=ANSWER_WITHIN)

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert checkout_calls() == []
    assert order.checkout_sessions.get().status == CheckoutSession.Status.CREATING


def test_a_click_that_finds_a_stale_claim_takes_it_over_with_the_same_request_id(live_doku, order_factory):
    order = order_factory()
    claim = a_claim_in_flight(order)
    # The dead worker's request reached DOKU, which created the link; its answer was lost.
    first = DokuClient().create_checkout_payment(sent_body(claim), request_id=claim.request_id)
    age(claim, claims.claim_ttl().total_seconds() + 1)

    answer = requests.post(live_doku + reverse("doku_checkout:api_pay", args=[order.public_id]), timeout=ANSWER_WITHIN)

    assert answer.status_code == 200, answer.text
    assert answer.json()["payment_url"] == first.data["response"]["payment"]["url"]
    assert checkout_calls() == [claim.request_id] * 2  # replayed: DOKU answered 409
    assert len(STORE.sessions) == 1
    assert order.checkout_sessions.get().status == CheckoutSession.Status.OPEN


def test_staff_creating_a_link_while_a_claim_is_in_flight_are_told_to_retry(live_doku, order_factory, admin_client):
    order = order_factory()
    a_claim_in_flight(order)

    response = admin_client.post(
        reverse("admin:django_doku_checkout_order_changelist"),
        {"action": "create_payment_links", "_selected_action": [order.pk]},
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "still being prepared" in page
    assert order.invoice_number in page
    assert checkout_calls() == []


def test_the_service_raises_link_in_progress_with_retry_after(order_factory, doku_simulator):
    order = order_factory()
    a_claim_in_flight(order)

    started = time.monotonic()
    with pytest.raises(LinkInProgress) as raised:
        services.create_payment_link(order)

    assert time.monotonic() - started < links.CLAIM_WAIT + 1
    assert raised.value.retry_after == links.CLAIM_RETRY_AFTER
    assert json.loads(order.checkout_sessions.get().request_payload)  # the claim is left for its owner


# --- a worker SIGKILLed while it holds a claim, under gunicorn ---------------------------------------


class HeldDoku:
    """DOKU's stand-in for Checkout: it holds the first call open (its worker dies meanwhile) and
    answers a repeat of that Request-Id with 409 and the link, as DOKU replays a request it processed."""

    def __init__(self) -> None:
        self.request_ids: list[str] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.held_from: tuple[str, int] | None = None
        doku = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request_id = self.headers["Request-Id"]
                doku.request_ids.append(request_id)
                if len(doku.request_ids) == 1:
                    doku.held_from = self.client_address
                    doku.held.set()
                    doku.release.wait(60)  # bounded: the test ends long before
                    return
                body = json.dumps(checkout_success(url="https://sandbox.doku.com/checkout-link-v2/held")).encode()
                self.send_response(409)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def worker_connected_from(shop, address: tuple[str, int]) -> int:
    """The gunicorn worker whose socket has ``address`` as its local end (it is calling DOKU from it)."""
    port = f":{address[1]:04X}"
    inodes = {
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())[1].endswith(port)
    }
    for pid in shop.worker_pids():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).removeprefix("socket:[").rstrip("]") in inodes:
                    return pid
    raise AssertionError(f"no worker is connected from {address}")


def click_and_lose_the_answer(url: str) -> None:
    """A click whose worker is killed: its shopper gets no answer (a proxy would say 502)."""
    with contextlib.suppress(requests.RequestException):
        requests.post(url, timeout=60)


@pytest.mark.slow
def test_a_worker_killed_holding_a_claim_never_costs_a_click_a_500(gunicorn_shop, order_factory):
    order = order_factory()
    doku = HeldDoku()
    try:
        shop = gunicorn_shop(workers=2, timeout=30, doku_url=doku.url)
        api_pay = shop.url + reverse("doku_checkout:api_pay", args=[order.public_id])
        threading.Thread(target=click_and_lose_the_answer, args=(api_pay,), daemon=True).start()
        assert doku.held.wait(20), "the first click never reached DOKU"
        assert doku.held_from is not None
        os.kill(worker_connected_from(shop, doku.held_from), signal.SIGKILL)  # it dies holding the claim

        started = time.monotonic()
        retry = requests.post(api_pay, timeout=ANSWER_WITHIN)
        page = press_pay(requests.Session(), shop.url, order.public_id, timeout=ANSWER_WITHIN)
        took = time.monotonic() - started

        assert retry.status_code == 503, retry.text
        assert int(retry.headers["Retry-After"]) >= 1, retry.text
        assert page.status_code == 503
        assert "still being prepared" in page.text
        assert took < 2 * ANSWER_WITHIN
        claim = order.checkout_sessions.get()
        assert claim.status == CheckoutSession.Status.CREATING
        assert doku.request_ids == [claim.request_id]  # nobody else asked DOKU meanwhile

        # Once the claim is stale, the next click takes it over with the same Request-Id: DOKU's 409.
        CheckoutSession.objects.filter(pk=claim.pk).update(
            updated_at=timezone.now() - claims.claim_ttl() - timedelta(seconds=1)
        )
        taken = requests.post(api_pay, timeout=ANSWER_WITHIN)

        assert taken.status_code == 200, taken.text
        assert taken.json()["payment_url"] == "https://sandbox.doku.com/checkout-link-v2/held"
        assert doku.request_ids == [claim.request_id] * 2
        assert order.checkout_sessions.get().status == CheckoutSession.Status.OPEN
        assert "Internal Server Error" not in shop.log()
        assert "Traceback" not in shop.log()
    finally:
        doku.close()


@pytest.mark.postgres
def test_a_click_that_waited_for_a_claim_doku_refused_sends_nothing_itself(order_factory, doku_api):
    """It has spent its time waiting: a call of its own (up to DEADLINE) might outlive the worker."""
    doku_api.post(SANDBOX + CHECKOUT_PATH, status=400, json={"error_messages": ["order.amount must greater than 0"]})
    order = order_factory()
    claimed = threading.Event()

    def doku_is_slow() -> None:
        # The holder's claim is committed: the click below finds it in flight. DOKU is slow for
        # it; meanwhile the click comes. Sequencing, not the protocol: the order is held until
        # the click waits for it, so the click's first look (first in the lock's queue) comes
        # before the holder records DOKU's answer.
        with transaction.atomic():
            locked_rows(Order.objects).get(pk=order.pk)
            claimed.set()
            wait_until_waiting_on_a_lock(what="the click, for the order's lock")

    def the_process_holding_the_claim() -> None:
        try:
            with pytest.raises(DokuAPIError):
                services.create_payment_link(order)  # and DOKU refuses it
        finally:
            connections.close_all()

    with while_doku_is_asked(doku_is_slow):
        holder = threading.Thread(target=the_process_holding_the_claim)
        holder.start()
        assert claimed.wait(10)
        started = time.monotonic()
        try:
            with pytest.raises(LinkInProgress) as raised:
                services.create_payment_link(order)  # as staff do: no FAILED_LINK_RETRY_AFTER
        finally:
            holder.join()

    assert time.monotonic() - started < links.CLAIM_WAIT
    assert raised.value.retry_after == 1  # nothing left to wait for: the retry sends its own
    assert len(doku_api.calls) == 1  # only the claim's holder asked DOKU
    assert list(order.checkout_sessions.values_list("status", flat=True)) == [CheckoutSession.Status.ERROR]


def test_reconciliation_settles_stale_claims_a_bounded_number_a_run_and_a_failing_one_stops_none(
    live_doku, order_factory, caplog
):
    """A run settles at most RESEND_LIMIT stale claims; one whose record fails (a shop's save
    hook raising) is logged and left for the next run, and the run goes on (it aborted the run)."""
    from django.db.models.signals import pre_save

    from django_doku_checkout import reconciliation

    orders = [order_factory() for _ in range(claims.RESEND_LIMIT + 2)]
    for order in orders:
        age(a_claim_in_flight(order), 3600)
    broken = orders[0]

    def a_shops_failing_hook(sender, instance, **kwargs):
        if instance.order_id == broken.pk and instance.status != CheckoutSession.Status.CREATING:
            raise RuntimeError("the shop's audit log is down")

    pre_save.connect(a_shops_failing_hook, sender=CheckoutSession)
    try:
        with caplog.at_level(logging.ERROR, logger="django_doku_checkout.services.links"):
            first = reconciliation.reconcile()
    finally:
        pre_save.disconnect(a_shops_failing_hook, sender=CheckoutSession)

    assert first.claims_settled == claims.RESEND_LIMIT - 1
    assert "the shop's audit log is down" in caplog.text
    assert CheckoutSession.objects.filter(status=CheckoutSession.Status.CREATING).count() == 3
    # The next run settles the two beyond the limit; the failed one was taken over (renewed)
    # by the first, so it is tried again once it is stale again.
    assert reconciliation.reconcile().claims_settled == 2
    CheckoutSession.objects.filter(status=CheckoutSession.Status.CREATING).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    assert reconciliation.reconcile().claims_settled == 1
    assert not CheckoutSession.objects.filter(status=CheckoutSession.Status.CREATING).exists()
