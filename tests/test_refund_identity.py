"""Refunds matched by identity, never by amount, against the simulator over real HTTP (issue 24).

DOKU repeats itself: every status answer names its last refund, notifications are retried,
and each API refund is followed by DOKU's own REFUNDED/VOIDED notification. Whatever the
order of these, the books must say exactly what DOKU carried out: the invariant
:func:`assert_books_match_doku` holds after each scenario, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import reconciliation, services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from django_doku_checkout.models import Notification, Order, OrderStatus, Refund
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services.refund_reports import dokus_code
from django_doku_checkout.services.refunds import resend_stale_refunds
from django_doku_checkout.simulator import actions, notifier
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import STORE, SimulatedSession
from tests.doku import CLIENT_ID
from tests.pages import staff_session
from tests.races import at_once, close_thread_connections
from tests.test_refunds import paid_order, refund_at_doku, refund_requests, resend_at_doku, send_from_doku
from tests.waiting import wait_for

FAILING = Faults(error_rate=1)  # DOKU answers 503 to every attempt and refunds nothing


def assert_books_match_doku(order: Order, session: SimulatedSession) -> None:
    """Succeeded refunds in the books == refunds DOKU carried out, and the order's status says so."""
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    books = services.refunded_total(order)
    assert books == session.refunded, f"books say {books} refunded, DOKU carried out {session.refunded}"
    expected = (
        OrderStatus.PAID
        if books == 0
        else OrderStatus.REFUNDED
        if books == order.amount
        else OrderStatus.PARTIALLY_REFUNDED
    )
    assert order.status == expected
    # Each refund named by DOKU's code: the books hold DOKU's refunds one for one.
    assert sorted(dokus_code(r) for r in order.refunds.filter(status=Refund.Status.SUCCEEDED)) == sorted(
        r.approval_code for r in session.refunds
    )


def stuck_refund(order: Order, amount: int) -> Refund:
    """A card refund DOKU answered 5xx to (three times): it stays ``requested``, DOKU made nothing."""
    STORE.set_faults(CLIENT_ID, FAILING)
    with pytest.raises(DokuAPIError, match="HTTP 503"):
        refund_at_doku(order, amount)
    STORE.set_faults(CLIENT_ID, Faults())
    refund = order.refunds.latest("pk")
    assert (refund.status, refund.amount) == (Refund.Status.REQUESTED, amount)
    return refund


def outcomes(status: str = "REFUNDED") -> list[str]:
    return list(Notification.objects.filter(transaction_status=status).order_by("pk").values_list("outcome", flat=True))


# --- finding 1: a repeat of refund #1 never settles refund #2 ----------------------------------------


def press_check_status(base: str, admin_user, order: Order) -> None:
    """Staff press the order page's *Check payment status* button, over HTTP."""
    http = staff_session(base, admin_user.username)
    url = base + reverse("admin:django_doku_checkout_order_operation", args=[order.pk, "check-status"])
    form = {"csrfmiddlewaretoken": http.cookies.get("csrftoken", "")}
    assert http.post(url, data=form, allow_redirects=False, timeout=10).status_code == 302
    http.close()


def test_a_status_check_repeating_refund_1_never_settles_refund_2(live_doku, order_factory, admin_user):
    order, session = paid_order(order_factory)
    first = refund_at_doku(order, 30_000)
    second = stuck_refund(order, 30_000)

    press_check_status(live_doku, admin_user, order)  # DOKU answers REFUNDED 30,000: the last refund it made (#1)

    assert services.check_status(order).outcome == Notification.Outcome.DUPLICATE
    second.refresh_from_db()
    assert (first.status, second.status) == (Refund.Status.SUCCEEDED, Refund.Status.REQUESTED)
    assert_books_match_doku(order, session)  # 30,000, not 60,000
    # And the resend still does what it must: DOKU now makes #2.
    assert resend_at_doku(second).status == Refund.Status.SUCCEEDED
    assert_books_match_doku(order, session)
    assert session.refunded == 60_000
    assert not order.needs_review


def test_dokus_retry_of_refund_1s_notification_never_settles_refund_2(live_doku, order_factory):
    order, session = paid_order(order_factory)
    refund_at_doku(order, 25_000)
    second = stuck_refund(order, 25_000)

    send_from_doku(session, "REFUNDED", session.refunds[0])  # DOKU retries #1's notification

    second.refresh_from_db()
    assert second.status == Refund.Status.REQUESTED
    assert outcomes()[-1] == Notification.Outcome.DUPLICATE
    assert_books_match_doku(order, session)  # 25,000, not 50,000
    order.refresh_from_db()
    assert not order.needs_review


def test_a_refund_doku_refuses_is_failed_while_refund_1s_notification_lands(live_doku, order_factory, settings):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "TIMEOUT": (2, 10), "MAX_RETRIES": 0}
    order, session = paid_order(order_factory)
    refund_at_doku(order, 20_000)
    assert STORE.wait_until_idle(10)
    # DOKU is slow to answer #2, and then refuses it (refund.status FAILED) ...
    STORE.set_faults(CLIENT_ID, Faults(latency=1.5, refund_refused=True))
    raised: list[BaseException] = []

    def refund_2() -> None:
        try:
            refund_at_doku(Order.objects.get(pk=order.pk), 20_000)
        except BaseException as err:  # noqa: BLE001 - the test reads it
            raised.append(err)
        finally:
            close_thread_connections()

    refund_calls = len(refund_requests())
    thread = threading.Thread(target=refund_2)
    thread.start()
    try:
        # ... while DOKU's notification of #1 lands, once #2 is claimed and waiting for DOKU.
        # The test watches DOKU, not the database: the refund is claimed (committed) before
        # it is sent, and in-memory SQLite's shared cache refuses a read of a table another
        # thread is writing ("database table is locked") instead of waiting.
        wait_for(lambda: len(refund_requests()) > refund_calls, what="refund #2 reaching DOKU")
        send_from_doku(session, "REFUNDED", session.refunds[0])
        assert order.refunds.get(status=Refund.Status.REQUESTED)  # still waiting: not settled by #1's word
    finally:
        thread.join(15)
    STORE.set_faults(CLIENT_ID, Faults())

    assert len(raised) == 1, raised
    assert isinstance(raised[0], DokuAPIError), raised  # never reported as refunded
    second = order.refunds.exclude(doku_reference=session.refunds[0].approval_code).get()
    assert second.status == Refund.Status.FAILED
    assert_books_match_doku(order, session)  # 20,000, not 40,000
    assert services.refundable_amount(order) == 80_000


def test_the_nastiest_sequence_keeps_the_books_equal_to_what_doku_did(live_doku, order_factory):
    order, session = paid_order(order_factory)
    first = refund_at_doku(order, 30_000)  # 1. succeeded
    second = stuck_refund(order, 30_000)  # 2. same amount, 5xx: requested
    services.check_status(order)  # 3. DOKU's status answer repeats #1
    assert_books_match_doku(order, session)
    send_from_doku(session, "REFUNDED", session.refunds[0])  # 4. DOKU retries #1's notification
    assert_books_match_doku(order, session)
    # 5. Staff resend #2: DOKU makes it, but its answer is lost (too late for our timeout).
    STORE.set_faults(CLIENT_ID, Faults(timeout_rate=1, timeout_seconds=2.5))
    with pytest.raises(DokuTransportError):
        resend_at_doku(second)
    STORE.set_faults(CLIENT_ID, Faults())
    assert STORE.wait_until_idle(10)  # DOKU's REFUNDED of #2 came meanwhile, unnamed: DOKU sends it again later
    second.refresh_from_db()
    assert second.status == Refund.Status.REQUESTED
    assert session.refunded == 60_000
    # 6. Later, reconciliation resends #2: DOKU replays its first answer with 409, naming #2.
    Refund.objects.filter(pk=second.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    summary = reconciliation.reconcile()
    assert STORE.wait_until_idle(10)
    assert summary.refunds_resent == 1
    second.refresh_from_db()
    assert second.status == Refund.Status.SUCCEEDED
    assert second.doku_reference == session.refunds[1].approval_code
    send_from_doku(session, "REFUNDED", session.refunds[1])  # 7. DOKU's notification of #2 again
    services.check_status(order)  # 8. and its status answer
    # 9. #3 refused by DOKU while #1's notification lands once more.
    STORE.set_faults(CLIENT_ID, Faults(refund_refused=True))
    with pytest.raises(DokuAPIError):
        refund_at_doku(order, 30_000)
    STORE.set_faults(CLIENT_ID, Faults())
    send_from_doku(session, "REFUNDED", session.refunds[0])

    assert_books_match_doku(order, session)
    assert session.refunded == services.refunded_total(order) == 60_000
    assert sorted(order.refunds.values_list("status", flat=True)) == ["failed", "succeeded", "succeeded"]
    assert first.request_id != second.request_id
    assert {r.headers["Request-Id"] for r in refund_requests()} == set(
        order.refunds.values_list("request_id", flat=True)
    )
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PARTIALLY_REFUNDED, False)


def test_a_report_the_app_cannot_attribute_is_flagged_for_staff_and_settles_nothing(live_doku, order_factory):
    order, session = paid_order(order_factory)
    stuck = stuck_refund(order, 40_000)
    Refund.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(minutes=5))  # long past in flight
    # A refund made in DOKU's back office while #1 waits for DOKU's answer: same amount, DOKU's own code.
    actions.refund_in_back_office(session, 40_000)
    assert STORE.wait_until_idle(10)

    stuck.refresh_from_db()
    assert stuck.status == Refund.Status.REQUESTED  # never settled by a report that does not name it
    order.refresh_from_db()
    assert order.needs_review
    assert "cannot be told apart from refund(s)" in order.review_reason
    assert session.refunds[0].approval_code in order.review_reason
    flagged = Notification.objects.get(transaction_status="REFUNDED")
    assert flagged.outcome == Notification.Outcome.FLAGGED
    assert session.refunds[0].approval_code in flagged.body
    assert services.refunded_total(order) == 0  # the books say less than DOKU did, and staff are told


def test_dokus_report_of_a_back_office_refund_staff_recorded_by_hand_is_a_duplicate(live_doku, order_factory):
    order, session = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    actions.refund_in_back_office(session, 40_000)  # staff refund in DOKU's back office ...
    STORE.set_faults(CLIENT_ID, Faults())
    services.record_manual_refund(order, 40_000, reference="BO-REF-1")  # ... and record it here
    send_from_doku(session, "REFUNDED", session.refunds[0])  # then DOKU's notification, with its own code

    assert outcomes() == [Notification.Outcome.DUPLICATE]
    order.refresh_from_db()
    assert services.refunded_total(order) == session.refunded == 40_000
    assert not order.needs_review
    assert order.refunds.get().doku_reference == "BO-REF-1"  # staff's reference is kept


def test_a_second_back_office_refund_of_the_same_amount_is_not_taken_for_the_one_recorded_by_hand(
    live_doku, order_factory
):
    order, session = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    actions.refund_in_back_office(session, 30_000)  # staff refund in DOKU's back office and record it here
    services.record_manual_refund(order, 30_000, reference="BO-REF-1")
    actions.refund_in_back_office(session, 30_000)  # a second refund at DOKU, which nobody recorded
    STORE.set_faults(CLIENT_ID, Faults())
    first, second = session.refunds
    send_from_doku(session, "REFUNDED", first)  # DOKU's report of the first names it by its code
    send_from_doku(session, "REFUNDED", second)  # the second has another code: another refund
    send_from_doku(session, "REFUNDED", first)  # and a repeat of the first is a duplicate still

    assert outcomes() == [
        Notification.Outcome.DUPLICATE,
        Notification.Outcome.PROCESSED,
        Notification.Outcome.DUPLICATE,
    ]
    assert_books_match_doku(order, session)  # 60,000, as DOKU paid out
    assert order.refunds.get(method=Refund.Method.MANUAL).doku_reference == "BO-REF-1"  # staff's text kept


# --- DOKU's notification of an API refund, racing the API's answer ---------------------------------------


@pytest.mark.parametrize("order_of_arrival", ["notification first", "answer first", "racing"])
def test_dokus_notification_of_an_api_refund_races_its_answer(live_doku, order_factory, order_of_arrival):
    order, session = paid_order(order_factory, settled=False)
    faults = {
        "notification first": Faults(refund_notification_first=True),
        "answer first": Faults(drop_notifications=True),  # delivered below, once the answer is recorded
        "racing": Faults(refund_notification_first=False),  # sent as the answer leaves
    }
    STORE.set_faults(CLIENT_ID, faults[order_of_arrival])

    refund = refund_at_doku(order)  # before settlement: DOKU voids the whole amount

    STORE.set_faults(CLIENT_ID, Faults())
    if order_of_arrival == "answer first":
        send_from_doku(session, "VOIDED", session.refunds[0])
    assert STORE.wait_until_idle(10)
    voided = STORE.notifications[-1]
    assert voided.transaction_status == "VOIDED"
    assert voided.finished
    if order_of_arrival == "notification first":
        # It came while the refund waited for DOKU's answer: it could not name it, DOKU was told to retry.
        assert voided.attempts[0].status_code == 503
    assert (refund.status, refund.refund_type, refund.doku_reference) == (
        Refund.Status.SUCCEEDED,
        "VOID",
        session.refunds[0].approval_code,
    )
    assert_books_match_doku(order, session)
    assert order.refunds.count() == 1
    assert not order.needs_review
    stored = outcomes("VOIDED")
    assert set(stored) <= {Notification.Outcome.UNCONFIRMED, Notification.Outcome.DUPLICATE}
    if order_of_arrival == "answer first":
        assert stored == [Notification.Outcome.DUPLICATE]
    if voided.delivered:
        assert stored[-1] == Notification.Outcome.DUPLICATE


# --- refunds as DOKU does them ---------------------------------------------------------------------------


def test_a_partial_refund_before_settlement_is_refused_clearly_and_a_void_refunds_all(live_doku, order_factory):
    order, session = paid_order(order_factory, settled=False)

    with pytest.raises(DokuAPIError, match="it can only void the whole amount") as refused:
        refund_at_doku(order, 30_000)

    assert refused.value.status_code == 400
    assert refused.value.body == {
        "error": {
            "code": "INVALID_PARAMETER",
            "message": "the transaction is not settled yet: it can only be voided, with refund.amount equal to "
            "order.amount (100000)",
            "type": "Invalid Parameter",
        }
    }
    failed = order.refunds.get()
    assert failed.status == Refund.Status.FAILED
    assert "once DOKU has settled the payment" in failed.error_message
    assert session.refunds == []
    assert services.refundable_amount(order) == 100_000
    # A resend of the refused request is refused again (DOKU replays its refusal with 409).
    assert resend_at_doku(failed).status == Refund.Status.FAILED

    void = refund_at_doku(order)
    assert (void.amount, void.refund_type) == (100_000, "VOID")
    assert_books_match_doku(order, session)


def test_the_refund_api_answers_in_dokus_shape(live_doku, order_factory):
    order, session = paid_order(order_factory)
    refund = refund_at_doku(order, 15_000)
    paying = order.checkout_sessions.get()
    assert refund.response_body == {
        "order": {"invoice_number": paying.invoice_number},
        "payment": {"original_request_id": session.request_id},
        "refund": {
            "amount": 15_000,
            "type": "PARTIAL_REFUND",
            "status": "SUCCESS",
            "message": "Refund approved",
            "approval_code": session.refunds[0].approval_code,
        },
    }


def test_the_simulator_settles_a_payment_from_its_dashboard_and_json_control(live_doku, order_factory, admin_client):
    order, session = paid_order(order_factory, settled=False)
    other, other_session = paid_order(order_factory, settled=False)
    page = admin_client.get(reverse("doku_simulator:dashboard")).content.decode()
    assert page.count(">Settle</button>") == 2
    # The dashboard's button (a form) ...
    answer = admin_client.post(reverse("doku_simulator:settle"), {"invoice_number": other_session.invoice_number})
    assert answer.status_code == 302
    assert other_session.settled
    assert not session.settled
    # ... and the JSON control for tests.
    answer = admin_client.post(
        reverse("doku_simulator:settle"), {"invoice_number": session.invoice_number}, content_type="application/json"
    )
    assert (answer.status_code, answer.json()) == (200, {"invoice_number": session.invoice_number, "settled": True})
    assert session.settled
    assert refund_at_doku(order, 1_000).refund_type == "PARTIAL_REFUND"


def test_a_card_payment_retried_after_a_failed_attempt_refunds_the_attempt_that_paid(live_doku, order_factory):
    order = order_factory(items=[("Batik shirt", 100_000, 1)])
    link = services.create_payment_link(order)
    session = STORE.find(CLIENT_ID, link.invoice_number)
    assert session is not None
    session.channel = "CREDIT_CARD"
    # The shopper's first card is declined: DOKU's FAILED names that attempt's own request id.
    failed = notifier.notification_body(session, "FAILED")
    failed["transaction"]["original_request_id"] = "declined-attempt-1"
    merchant = merchants()[CLIENT_ID]
    body = encode_body(failed)
    url = merchant.notification_url or ""
    headers = notifier.signed_headers(merchant, urlsplit(url).path, body)
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200
    link.refresh_from_db()
    assert link.original_request_id == "declined-attempt-1"
    # The second card pays; then a late retry of the FAILED arrives.
    actions.settle(session, "pay", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    headers = notifier.signed_headers(merchant, urlsplit(url).path, body)
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200
    actions.mark_settled(session)

    link.refresh_from_db()
    assert link.original_request_id == session.request_id  # the SUCCESS that paid
    refund = refund_at_doku(order, 10_000)  # DOKU refuses a refund naming another transaction
    assert refund.status == Refund.Status.SUCCEEDED
    (sent,) = refund_requests()
    assert json.loads(sent.body)["payment"] == {"original_request_id": session.request_id}


# --- reconciliation resends refunds left requested -------------------------------------------------------


def test_reconciliation_resends_refunds_left_requested_bounded_and_not_those_in_flight(
    live_doku, order_factory, caplog
):
    order, session = paid_order(order_factory)
    old_1, old_2 = stuck_refund(order, 10_000), stuck_refund(order, 20_000)
    young = stuck_refund(order, 30_000)
    long_ago = timezone.now() - timedelta(minutes=5)
    Refund.objects.filter(pk__in=[old_1.pk, old_2.pk]).update(updated_at=long_ago)

    caplog.set_level("INFO", logger="django_doku_checkout.services.refunds")
    assert resend_stale_refunds(limit=1) == 1  # bounded: the oldest first
    assert STORE.wait_until_idle(10)
    assert reconciliation.reconcile().refunds_resent == 1  # the next run takes the next one
    assert STORE.wait_until_idle(10)

    statuses = dict(order.refunds.values_list("pk", "status"))
    assert statuses == {old_1.pk: "succeeded", old_2.pk: "succeeded", young.pk: "requested"}
    assert sum(f"Resent refund {pk} of order" in caplog.text for pk in (old_1.pk, old_2.pk)) == 2
    assert {r.headers["Request-Id"] for r in refund_requests()} == set(
        order.refunds.values_list("request_id", flat=True)
    )
    assert_books_match_doku(order, session)


def test_the_simulator_refunds_a_request_id_once_however_close_its_repeats_arrive(live_doku, order_factory):
    order, session = paid_order(order_factory)
    link = order.checkout_sessions.get()
    body = {
        "order": {"invoice_number": link.invoice_number},
        "payment": {"original_request_id": link.request_id},
        "refund": {"amount": 10_000},
    }
    # Quiet and slowed down: the same request three times at once, all past the replay check together.
    STORE.set_faults(CLIENT_ID, Faults(latency=0.3, drop_notifications=True))
    start = threading.Barrier(3)
    statuses: list[int] = []

    def send() -> None:
        client = DokuClient()
        start.wait()
        statuses.append(client.refund_card_payment(body, request_id="same-request").status_code)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    STORE.set_faults(CLIENT_ID, Faults())

    assert sorted(statuses) == [200, 409, 409]
    assert [refund.amount for refund in session.refunds] == [10_000]  # DOKU refunded once


@pytest.mark.postgres  # two runs at once: real row locks and connections
@pytest.mark.django_db(transaction=True)
def test_two_reconciliation_runs_at_once_resend_a_stale_refund_once(live_doku, order_factory):
    order, session = paid_order(order_factory)
    refund = stuck_refund(order, 10_000)
    Refund.objects.filter(pk=refund.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    sent_before = len(refund_requests())
    STORE.set_faults(CLIENT_ID, Faults(latency=0.5, drop_notifications=True))  # each resend takes a while
    answered = at_once(resend_stale_refunds, resend_stale_refunds)
    STORE.set_faults(CLIENT_ID, Faults())

    # Each run took the refund's claim over under the order's lock: the second found it renewed.
    assert len(refund_requests()) == sent_before + 1
    assert sorted(answered) == [0, 1]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert [r.amount for r in session.refunds] == [10_000]
