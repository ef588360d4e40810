"""The race tests' waits: they see a transaction waiting on a lock, and fail clearly when none does."""

from __future__ import annotations

import threading

import pytest
from django.db import transaction

from django_doku_checkout.models import Order
from django_doku_checkout.services.locking import locked_rows
from tests.races import close_thread_connections
from tests.waiting import WAIT_SECONDS, wait_for, wait_until_waiting_on_a_lock


def test_a_wait_for_what_never_happens_fails_naming_it():
    with pytest.raises(AssertionError, match=r"Not true within 0\.05 s: the order shown paid"):
        wait_for(lambda: False, seconds=0.05, what="the order shown paid")


@pytest.mark.postgres
def test_a_lock_wait_is_seen_and_its_absence_fails(transactional_db, order_factory):
    order = order_factory()
    with transaction.atomic():
        locked_rows(Order.objects).get(pk=order.pk)
        with pytest.raises(AssertionError, match="nobody waited"):
            wait_until_waiting_on_a_lock(seconds=0.2)
        locked = threading.Event()

        def another_request() -> None:
            try:
                with transaction.atomic():
                    locked_rows(Order.objects).get(pk=order.pk)
                    locked.set()
            finally:
                close_thread_connections()

        thread = threading.Thread(target=another_request)
        thread.start()
        wait_until_waiting_on_a_lock(what="the other request, for the order's lock")
        assert not locked.is_set()  # it waits for this transaction
    assert locked.wait(WAIT_SECONDS)
    thread.join()
