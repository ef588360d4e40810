"""tests.servers: gunicorn serving the test project on the test's database, and stopped for good."""

from __future__ import annotations

import os
import signal

import pytest
import requests
from django.urls import reverse

from django_doku_checkout.models import Notification, Order
from tests.servers import running
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def test_gunicorn_shop_shares_the_database_and_stops_every_process(gunicorn_shop, order_factory):
    order = order_factory()
    shop = gunicorn_shop(workers=2)

    # The server reads what the test wrote: the shopper's page of the order.
    page = requests.get(shop.url + reverse("doku_checkout:result", args=[order.public_id]), timeout=10)
    assert page.status_code == 200
    assert order.invoice_number in page.text
    # The test reads what the server wrote: a (badly signed) notification is stored, and refused.
    refused = requests.post(shop.notification_url(), data=b"{}", timeout=10)
    assert refused.status_code == 401  # unsigned: refused before its body is read
    assert Notification.objects.exists()
    assert Order.objects.get(pk=order.pk).status == order.status

    # One worker can be SIGKILLed; gunicorn forks another and the shop keeps serving.
    workers = shop.worker_pids()
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    wait_for(lambda: len(shop.worker_pids()) == 2 and workers[0] not in shop.worker_pids())
    assert requests.get(shop.url + "/doku/result/" + str(order.public_id) + "/", timeout=10).status_code == 200

    processes = [shop.master_pid, *shop.worker_pids()]
    shop.stop()
    assert not [pid for pid in processes if running(pid)]
