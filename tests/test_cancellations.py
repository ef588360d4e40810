"""Cancelling links at DOKU (CANCEL_AT_DOKU), against the simulator over real HTTP."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.client import CHECKOUT_CANCELLATION_PATH, DokuClient
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import CheckoutSession, OrderStatus
from django_doku_checkout.services.cancellations import links_payable_at_doku
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.faults import HEADER, Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, SANDBOX, checkout_success
from tests.link_workers import worker_killed_while_doku_is_asked
from tests.races import close_thread_connections
from tests.waiting import wait_for

CANCEL_TARGET = "/checkout/v3/cancellations"


def cancel_requests() -> list[dict]:
    return [json.loads(r.body) for r in STORE.received if r.target == CANCEL_TARGET]


def cancel_in_the_admin(admin_client, order) -> str:
    """Staff run the list's *Cancel unpaid orders* action on ``order``; the report's HTML."""
    return admin_client.post(
        reverse("admin:django_doku_checkout_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [order.pk]},
    ).content.decode()


def test_cancelling_an_order_cancels_its_link_at_doku(live_doku, order_factory, doku_settings, signal_log):
    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA", "QRIS"])
    link = services.create_payment_link(order)

    services.cancel_order(order)

    link.refresh_from_db()
    assert (order.status, link.status) == (OrderStatus.CANCELLED, CheckoutSession.Status.CANCELLED)
    assert link.cancelled_at_doku is not None
    assert link.doku_cancel_error == ""
    # DOKU's Cancel Order names the order by its invoice number and the Request-Id that created it.
    assert cancel_requests() == [
        {"order": {"invoice_number": link.invoice_number}, "payment": {"original_request_id": link.request_id}}
    ]
    assert links_payable_at_doku(order) == []
    simulated = STORE.find(CLIENT_ID, link.invoice_number)
    assert simulated.cancelled
    with pytest.raises(ValueError, match="can no longer be paid"):
        actions.settle(simulated, "pay", "VIRTUAL_ACCOUNT_BCA")  # the shopper cannot pay it any more


def test_a_link_doku_cannot_cancel_is_reported(live_doku, order_factory, doku_settings, admin_client):
    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BTN", "CREDIT_CARD"])  # not cancellable at DOKU
    link = services.create_payment_link(order)

    page = cancel_in_the_admin(admin_client, order)

    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.cancelled_at_doku is None
    assert "UNSUPPORTED_CHANNEL" in link.doku_cancel_error
    assert "DOKU could not cancel these links, which can still be paid" in page
    assert link.invoice_number in page
    assert links_payable_at_doku(order) == [link]
    assert len(cancel_requests()) == 1
    actions.settle(STORE.find(CLIENT_ID, link.invoice_number), "pay", "CREDIT_CARD")  # DOKU still takes it
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.needs_review


def test_without_the_setting_doku_is_not_asked_and_staff_are_told(live_doku, order_factory, admin_client):
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)

    page = cancel_in_the_admin(admin_client, order)

    assert "A link already sent can still be paid at DOKU" in page
    assert cancel_requests() == []
    assert not STORE.find(CLIENT_ID, link.invoice_number).cancelled


@pytest.mark.parametrize(
    ("methods", "cancelled"),
    [(["VIRTUAL_ACCOUNT_BCA"], True), (["ONLINE_TO_OFFLINE_ALFA", "VIRTUAL_ACCOUNT_BPD_BALI"], False)],
)
def test_changing_the_amount_cancels_the_old_link_at_doku(
    live_doku, order_factory, doku_settings, admin_client, methods, cancelled
):
    from tests.pages import change_form_data
    from tests.test_admin import change_url

    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=methods)
    old = services.create_payment_link(order)
    data = change_form_data(order, amount=390_000, **{"line_items-0-quantity": 2})
    data["payment_method_types"] = methods  # ticked boxes

    response = admin_client.post(change_url(order), data, follow=True)

    messages = " ".join(str(m) for m in response.context["messages"])
    old.refresh_from_db()
    assert old.status == CheckoutSession.Status.CANCELLED
    assert (old.cancelled_at_doku is not None) is cancelled
    assert STORE.find(CLIENT_ID, old.invoice_number).cancelled is cancelled
    if cancelled:
        assert "withdrawn and cancelled at DOKU" in messages
    else:
        assert "DOKU could not cancel it and it can still be paid" in messages
        assert old.invoice_number in messages
    assert len(cancel_requests()) == 1


def test_without_the_setting_an_amount_change_says_the_old_link_can_still_be_paid(
    live_doku, order_factory, admin_client
):
    from tests.pages import change_form_data
    from tests.test_admin import change_url

    order = order_factory()
    services.create_payment_link(order)
    data = change_form_data(order, amount=390_000, **{"line_items-0-quantity": 2})
    response = admin_client.post(change_url(order), data, follow=True)
    messages = " ".join(str(m) for m in response.context["messages"])
    assert "DOKU still accepts payment on the old link" in messages
    assert cancel_requests() == []


@pytest.mark.parametrize(
    ("payment", "message"),
    [
        ({}, "payment.original_request_id must be filled"),
        ({"original_request_id": "another-request"}, "payment.original_request_id does not match the order"),
    ],
)
def test_the_simulator_requires_the_request_id_that_created_the_order(live_doku, order_factory, payment, message):
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)
    body = {"order": {"invoice_number": link.invoice_number}, **({"payment": payment} if payment else {})}

    with pytest.raises(DokuAPIError) as refused:
        DokuClient().cancel_checkout(body)

    assert refused.value.status_code == 400
    assert refused.value.body == {"error": {"code": "INVALID_PARAMETER", "message": message, "type": "SIMULATOR"}}
    assert not STORE.find(CLIENT_ID, link.invoice_number).cancelled


REFUSAL = {"message": ["Merchant not support cancel order"]}


@pytest.mark.parametrize(
    "refusal",
    [REFUSAL, {"error": {"code": "INVALID_STATUS", "message": "the order is already paid"}}, {"error_messages": ["x"]}],
)
def test_a_409_repeating_a_refusal_is_a_refusal(doku_api, refusal):
    """DOKU lost its first answer (a 503 reached us), and its 409 repeats it: it was a no."""
    doku_api.post(SANDBOX + "/checkout/v3/cancellations", status=503, json={"message": ["busy"]})
    doku_api.post(SANDBOX + "/checkout/v3/cancellations", status=409, json=refusal)

    with pytest.raises(DokuAPIError) as refused:
        DokuClient().cancel_checkout({"order": {"invoice_number": "INV-1"}, "payment": {"original_request_id": "r"}})

    assert refused.value.replayed
    assert refused.value.status_code == 409
    assert refused.value.body == refusal
    assert "its first answer, repeated" in str(refused.value)
    assert len({call.request.headers["Request-Id"] for call in doku_api.calls}) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"order": {"invoice_number": "INV-1", "status": "CANCELLED"}, "message": ["SUCCESS"]},
        {"message": ["SUCCESS"]},
        checkout_success(),
    ],
)
def test_a_409_repeating_an_answer_is_that_answer(doku_api, answer):
    doku_api.post(SANDBOX + "/checkout/v3/cancellations", status=409, json=answer)
    replay = DokuClient().cancel_checkout({"order": {"invoice_number": "INV-1"}})
    assert replay.replayed
    assert replay.data == answer


def test_a_replayed_refusal_leaves_the_link_payable_and_staff_warned(
    doku_api, order_factory, doku_settings, admin_client
):
    doku_settings(CANCEL_AT_DOKU=True, RETRY_BACKOFF=0)
    doku_api.post(SANDBOX + "/checkout/v1/payment", json=checkout_success())
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)
    doku_api.post(SANDBOX + "/checkout/v3/cancellations", status=503, json={"message": ["busy"]})
    doku_api.post(SANDBOX + "/checkout/v3/cancellations", status=409, json=REFUSAL)

    page = cancel_in_the_admin(admin_client, order)

    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.cancelled_at_doku is None
    assert "Merchant not support cancel order" in link.doku_cancel_error
    assert links_payable_at_doku(order) == [link]
    assert "DOKU could not cancel these links, which can still be paid" in page
    assert link.invoice_number in page
    sent = [json.loads(c.request.body) for c in doku_api.calls if c.request.url.endswith("/cancellations")]
    assert (
        sent
        == [{"order": {"invoice_number": link.invoice_number}, "payment": {"original_request_id": link.request_id}}] * 2
    )


@pytest.mark.django_db(transaction=True)
def test_the_simulator_repeats_its_refusal_to_a_retried_cancellation(live_doku, order_factory, doku_settings):
    """End to end: DOKU refuses, its answer is lost in a timeout, the retry gets the refusal with 409."""
    doku_settings(CANCEL_AT_DOKU=True, TIMEOUT=(2, 0.5))
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BTN"])  # DOKU cannot cancel BTN
    link = services.create_payment_link(order)
    STORE.set_faults(CLIENT_ID, Faults(timeout_rate=1, timeout_seconds=1))  # past the client's read timeout

    def doku_recovers_once_it_has_answered() -> None:
        # Once the first answer is remembered, the retry with its Request-Id is answered at once.
        answered = threading.Event()
        for _ in range(500):  # bounded: 10 s
            if any(key.startswith(CLIENT_ID) for key in list(STORE.replies)):
                break
            answered.wait(0.02)
        STORE.set_faults(CLIENT_ID, Faults())

    STORE.replies.clear()
    watcher = threading.Thread(target=doku_recovers_once_it_has_answered)
    watcher.start()
    services.cancel_order(order)
    watcher.join()

    link.refresh_from_db()
    assert link.cancelled_at_doku is None
    assert "UNSUPPORTED_CHANNEL" in link.doku_cancel_error
    assert links_payable_at_doku(order) == [link]
    attempts = [r.headers["Request-Id"] for r in STORE.received if r.target == CANCEL_TARGET]
    assert len(attempts) == 2
    assert len(set(attempts)) == 1
    assert not STORE.find(CLIENT_ID, link.invoice_number).cancelled
    server_threads_done()


def server_threads_done() -> None:
    """Wait (bounded) for the live server's threads, one still delaying its lost answer, to end."""
    done = threading.Event()
    for _ in range(250):
        if not any(t.name.endswith("(process_request_thread)") for t in threading.enumerate()):
            return
        done.wait(0.02)


@pytest.mark.postgres  # a pay click in a thread and a cancel at once: real row locks and connections
def test_a_link_doku_creates_after_its_order_was_cancelled_is_cancelled_at_doku_too(
    live_doku, order_factory, doku_settings
):
    from django.db import connections

    from django_doku_checkout.services.orders import OrderNotPayable

    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    STORE.set_faults(CLIENT_ID, Faults(latency=1.5))  # DOKU is slow to create the link
    raised: list[BaseException] = []

    def click() -> None:
        try:
            services.create_payment_link(order)
        except BaseException as err:  # noqa: BLE001 - the test reads it
            raised.append(err)
        finally:
            connections.close_all()

    thread = threading.Thread(target=click)
    thread.start()
    try:
        while not order.checkout_sessions.filter(status=CheckoutSession.Status.CREATING).exists():
            assert thread.is_alive(), raised
        # Staff cancel while DOKU is still creating the link (DOKU answers the cancel at once,
        # before it knows the link: NOT_FOUND).
        quick = requests.Session()
        quick.headers[HEADER] = "latency=0"
        services.cancel_order(order, client=DokuClient(session=quick))
        link = order.checkout_sessions.get()
        # Until DOKU answers, the link is not reported as cancelled at DOKU: it may still be payable there.
        assert links_payable_at_doku(order) == [link]
    finally:
        thread.join(15)
    STORE.set_faults(CLIENT_ID, Faults())

    assert len(raised) == 1
    assert isinstance(raised[0], OrderNotPayable)
    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.payment_url
    # DOKU's answer came for a withdrawn link: it is cancelled at DOKU at once, not left payable.
    assert link.cancelled_at_doku is not None
    assert link.doku_cancel_error == ""
    assert STORE.find(CLIENT_ID, link.invoice_number).cancelled
    assert links_payable_at_doku(order) == []


# --- a cancellation cut off mid-call is sent again with its Request-Id (the claim protocol) ------------


def cancel_request_ids() -> list[str]:
    """The Request-Ids DOKU's Cancel Order endpoint received, in order."""
    return [r.headers["Request-Id"] for r in STORE.received if r.target == CANCEL_TARGET]


def age_the_cancellation(link: CheckoutSession) -> None:
    """Make the link's cancellation older than a call to DOKU can take, as if its process had died."""
    from datetime import timedelta

    from django.utils import timezone

    from django_doku_checkout.services.claims import claim_ttl

    CheckoutSession.objects.filter(pk=link.pk).update(
        cancel_claimed_at=timezone.now() - claim_ttl() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("methods", "cancelled"),
    [(["VIRTUAL_ACCOUNT_BCA", "QRIS"], True), (["VIRTUAL_ACCOUNT_BTN"], False)],  # DOKU cannot cancel BTN
)
def test_a_cancel_that_timed_out_is_resent_by_reconciliation_with_its_request_id(
    live_doku, order_factory, doku_settings, methods, cancelled
):
    """DOKU cancels (or refuses), its answer is lost in a timeout; reconciliation sends the same
    request again, and DOKU's 409 repeating its first answer is recorded like that answer."""
    from django_doku_checkout.reconciliation import reconcile

    doku_settings(CANCEL_AT_DOKU=True, TIMEOUT=(2, 0.5), MAX_RETRIES=0)
    order = order_factory(payment_method_types=methods)
    link = services.create_payment_link(order)
    STORE.set_faults(CLIENT_ID, Faults(timeout_rate=1, timeout_seconds=1))  # past the client's read timeout

    services.cancel_order(order)
    server_threads_done()
    STORE.set_faults(CLIENT_ID, Faults())

    link.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.cancelled_at_doku is None
    assert "timed out" in link.doku_cancel_error
    assert links_payable_at_doku(order) == [link]  # for all we know, DOKU still takes payment
    assert STORE.find(CLIENT_ID, link.invoice_number).cancelled is cancelled  # DOKU did answer; we never heard
    first = cancel_request_ids()
    assert len(first) == 1

    assert reconcile().cancellations_resent == 0  # still within a call's time: maybe in flight
    assert cancel_request_ids() == first
    age_the_cancellation(link)
    summary = reconcile()

    assert summary.cancellations_resent == 1
    assert cancel_request_ids() == first * 2  # the same request, the same Request-Id: DOKU answered 409
    link.refresh_from_db()
    assert (link.cancelled_at_doku is not None) is cancelled
    if cancelled:
        assert link.doku_cancel_error == ""
        assert links_payable_at_doku(order) == []
    else:
        assert "UNSUPPORTED_CHANNEL" in link.doku_cancel_error
        assert links_payable_at_doku(order) == [link]
    # DOKU's answer is recorded: nothing is left to send again.
    age_the_cancellation(link)
    assert reconcile().cancellations_resent == 0
    assert cancel_request_ids() == first * 2


@pytest.mark.django_db(transaction=True)
def test_the_next_cancel_resends_a_cancellation_whose_process_died_with_its_request_id(
    live_doku, order_factory, doku_settings
):
    from django_doku_checkout.reconciliation import reconcile

    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)
    # A process committed its cancellation, DOKU cancelled the link, and the process died
    # before it heard back (nor withdrew the link or cancelled the order).
    worker_killed_while_doku_is_asked(lambda: services.cancel_order(order), path=CHECKOUT_CANCELLATION_PATH)
    link.refresh_from_db()
    order.refresh_from_db()
    assert (order.status, link.status) == (OrderStatus.PENDING, CheckoutSession.Status.OPEN)
    request_id = link.cancel_request_id
    DokuClient().cancel_checkout(json.loads(link.cancel_request_payload), request_id=request_id)
    age_the_cancellation(link)
    # Reconciliation leaves the cancellation of a link still open to the order's next cancellation.
    assert reconcile().cancellations_resent == 0
    assert cancel_request_ids() == [request_id]

    services.cancel_order(order)

    assert cancel_request_ids() == [request_id] * 2
    link.refresh_from_db()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.cancelled_at_doku is not None
    assert link.doku_cancel_error == ""
    assert link.cancel_request_id == request_id
    assert link.cancel_request_payload == ""
    assert links_payable_at_doku(order) == []


@pytest.mark.django_db(transaction=True)
def test_the_simulator_answers_a_repeated_cancellation_with_its_first_answer(live_doku, order_factory):
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)
    body = {"order": {"invoice_number": link.invoice_number}, "payment": {"original_request_id": link.request_id}}

    first = DokuClient().cancel_checkout(body, request_id="cancel-1")
    repeat = DokuClient().cancel_checkout(body, request_id="cancel-1")

    assert not first.replayed
    assert repeat.replayed
    assert repeat.status_code == 409
    assert repeat.data == first.data


def test_a_link_made_while_doku_is_asked_to_cancel_the_order_is_cancelled_at_doku_too(
    live_doku, order_factory, doku_settings
):
    """Staff cancel; DOKU is slow to cancel the order's link; meanwhile the shopper clicks pay and
    gets a new link (the old one is too close to its expiry to hand out). That link is withdrawn
    with the order, and DOKU is asked to cancel it too (it was withdrawn and never asked)."""
    from datetime import timedelta

    from django.utils import timezone

    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    old = services.create_payment_link(order)
    CheckoutSession.objects.filter(pk=old.pk).update(expires_at=timezone.now() + timedelta(minutes=1))
    slow = requests.Session()
    slow.headers[HEADER] = "latency=1.5"
    raised: list[BaseException] = []

    def staff_cancel() -> None:
        try:
            services.cancel_order(order, client=DokuClient(session=slow))
        except BaseException as err:  # noqa: BLE001 - the test reads it
            raised.append(err)
        finally:
            close_thread_connections()

    thread = threading.Thread(target=staff_cancel)
    thread.start()
    try:
        # DOKU is being asked to cancel the old link (or the staff's cancel has failed).
        wait_for(lambda: cancel_request_ids() or not thread.is_alive(), what="DOKU asked to cancel the old link")
        assert cancel_request_ids(), raised
        new = services.create_payment_link(order)  # the shopper's click, in the window
    finally:
        thread.join(15)

    assert raised == []
    order.refresh_from_db()
    new.refresh_from_db()
    assert new.pk != old.pk
    assert order.status == OrderStatus.CANCELLED
    assert new.status == CheckoutSession.Status.CANCELLED
    assert STORE.find(CLIENT_ID, new.invoice_number).cancelled  # DOKU cancelled it too
    assert new.cancelled_at_doku is not None
    assert links_payable_at_doku(order) == []
