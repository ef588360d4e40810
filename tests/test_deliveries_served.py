"""Receivers never delay or fail DOKU's answer or the shopper's page: gunicorn, 45-second receivers.

The shop runs under gunicorn's sync workers with its default 30 s worker timeout
(:mod:`tests.servers`), on the test's database (SQLite file or PostgreSQL). Its
``payment_succeeded`` receivers are a fulfilment that takes 45 s in the server and a CRM
hook that raises. DOKU's notification and the shopper's return page must be answered at
once; the slow receiver, killed with its worker at 30 s, is delivered later by
``doku_checkout_deliver``, exactly once.
"""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signatures
from django_doku_checkout.models import Delivery, Order, OrderStatus
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.simulator import notifier
from tests.doku import CLIENT_ID, SECRET
from tests.pages import csrf, press_pay
from tests.servers import Shop, free_port, standalone_simulator
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

FULFILMENT = "tests.test_deliveries_served.slow_fulfilment"
CRM = "tests.test_deliveries_served.broken_crm"
RECEIVERS = {"payment_succeeded": [CRM, FULFILMENT]}
#: What DOKU and a shopper's browser may wait: far below the receiver's 45 s and gunicorn's 30 s.
FAST = 3.0


def _log(line: str) -> None:
    with Path(os.environ["RECEIVER_LOG"]).open("a") as log:
        log.write(line + "\n")


def slow_fulfilment(sender, order, delivery, **kwargs):
    """A shop's fulfilment calling a warehouse that takes ``RECEIVER_SECONDS`` (45 in the server)."""
    _log(f"start {delivery.pk} {os.getpid()}")
    time.sleep(float(os.environ.get("RECEIVER_SECONDS", "0")))  # time itself is the point: a slow warehouse
    _log(f"done {delivery.pk} {os.getpid()}")


def broken_crm(sender, order, delivery, **kwargs):
    """A CRM hook whose CRM is down."""
    _log(f"crm {delivery.pk}")
    raise ConnectionError("CRM is down")


def logged(path: Path, word: str) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.startswith(word)] if path.exists() else []


@pytest.fixture
def receiver_log(tmp_path: Path) -> Path:
    return tmp_path / "receivers.log"


def serve(gunicorn_shop, receiver_log: Path, **options) -> Shop:
    env = {"RECEIVER_LOG": str(receiver_log), "RECEIVER_SECONDS": "45"}
    return gunicorn_shop(workers=2, timeout=30, receivers=RECEIVERS, env=env, **options)


def deliver_later(shop: Shop, order: Order, receiver_log: Path) -> None:
    """The lease of the killed worker's delivery ends; cron's ``doku_checkout_deliver`` delivers it once."""
    stuck = Delivery.objects.get(order=order, receiver=FULFILMENT)
    assert (stuck.status, stuck.attempts) == (Delivery.Status.SENDING, 1)
    assert stuck.next_attempt_at > timezone.now()  # leased: nobody takes it over meanwhile
    Delivery.objects.filter(pk=stuck.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    run = shop.manage("doku_checkout_deliver", env={"RECEIVER_SECONDS": "0"})

    assert run.returncode == 0, run.stderr
    stuck.refresh_from_db()
    assert (stuck.status, stuck.attempts) == (Delivery.Status.DELIVERED, 2)
    assert [line.split()[1] for line in logged(receiver_log, "done")] == [str(stuck.pk)]  # exactly once
    crm = Delivery.objects.get(order=order, receiver=CRM)
    assert (crm.status, crm.attempts) == (Delivery.Status.PENDING, 1)
    assert "CRM is down" in crm.last_error


def test_a_45_second_receiver_never_delays_dokus_answer_nor_the_return_page(
    gunicorn_shop, doku_simulator, order_factory, receiver_log
):
    order = order_factory()
    services.create_payment_link(order)
    shop = serve(gunicorn_shop, receiver_log)
    body = encode_body(notifier.notification_body(doku_simulator.session_for(order), "SUCCESS"))
    path = reverse("doku_checkout:notification")
    headers = {**signatures.signed_headers(SECRET, client_id=CLIENT_ID, target=path, body=body)}

    started = time.monotonic()
    answer = requests.post(shop.url + path, data=body, headers=headers, timeout=FAST)

    # DOKU has its whole 200 at once (Content-Length: nothing more is coming), the payment committed.
    assert answer.status_code == 200, shop.log()
    assert time.monotonic() - started < FAST
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    # The receivers run after the answer was sent: the CRM's failure changed nothing for DOKU.
    wait_for(lambda: logged(receiver_log, "start"))
    assert logged(receiver_log, "crm")

    # The shopper's return page, served meanwhile by the other worker, is answered at once.
    page = requests.get(shop.url + reverse("doku_checkout:return", args=[order.public_id]), timeout=FAST)
    assert page.status_code == 200
    assert "Paid" in page.text

    shop.stop()  # the worker still inside the 45 s receiver dies with the server
    assert logged(receiver_log, "done") == []
    deliver_later(shop, order, receiver_log)


def test_a_45_second_receiver_never_delays_a_return_page_that_commits_the_payment(
    gunicorn_shop, order_factory, receiver_log
):
    """The notification is lost: the return page asks DOKU's Status API, pays the order and answers at once."""
    port = free_port()
    lost = f"http://127.0.0.1:{free_port()}/doku/notification/"  # nobody listens: DOKU's notification is lost
    with standalone_simulator(lost) as doku:
        shop = serve(gunicorn_shop, receiver_log, doku_url=doku, port=port)
        order = order_factory()
        shopper = requests.Session()
        pay_page = press_pay(shopper, shop.url, order.public_id).headers["Location"]
        form = shopper.get(pay_page, timeout=FAST)
        paid = shopper.post(
            pay_page,
            data={"csrfmiddlewaretoken": csrf(form.text), "action": "pay", "method": "VIRTUAL_ACCOUNT_BCA"},
            allow_redirects=False,
            timeout=FAST,
        )
        assert paid.status_code == 302, paid.text[:500]  # AUTO_REDIRECT: back to the shop

        started = time.monotonic()
        page = shopper.get(shop.url + reverse("doku_checkout:return", args=[order.public_id]), timeout=FAST)

        assert page.status_code == 200, shop.log()
        assert time.monotonic() - started < FAST
        assert re.search(r"doku-order-status-paid", page.text), page.text[:500]
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
        wait_for(lambda: logged(receiver_log, "start"))
        # The next page the shopper opens is answered at once too.
        again = shopper.get(shop.url + reverse("doku_checkout:result", args=[order.public_id]), timeout=FAST)
        assert again.status_code == 200
        shop.stop()
    deliver_later(shop, order, receiver_log)


def test_a_receiver_killed_with_its_worker_is_delivered_after_its_lease(
    gunicorn_shop, doku_simulator, order_factory, receiver_log
):
    """gunicorn's timeout (2 s here, 30 s by default) kills the worker inside the receiver, after DOKU's 200."""
    order = order_factory()
    services.create_payment_link(order)
    shop = gunicorn_shop(
        workers=1,
        timeout=2,
        receivers=RECEIVERS,
        env={"RECEIVER_LOG": str(receiver_log), "RECEIVER_SECONDS": "45"},
    )
    body = encode_body(notifier.notification_body(doku_simulator.session_for(order), "SUCCESS"))
    path = reverse("doku_checkout:notification")
    headers = signatures.signed_headers(SECRET, client_id=CLIENT_ID, target=path, body=body)
    worker = shop.worker_pids()

    answer = requests.post(shop.url + path, data=body, headers=headers, timeout=FAST)

    assert answer.status_code == 200, shop.log()
    wait_for(lambda: "WORKER TIMEOUT" in shop.log() and shop.worker_pids() not in ([], worker), seconds=20)
    # The new worker serves at once; the killed receiver's delivery is still held by its lease.
    page = requests.get(shop.url + reverse("doku_checkout:result", args=[order.public_id]), timeout=FAST)
    assert page.status_code == 200
    assert logged(receiver_log, "start")
    assert not logged(receiver_log, "done")
    deliver_later(shop, order, receiver_log)
