"""Staff refunds in the admin as production runs them: over HTTP, in autocommit, forms sent twice.

A staff action that moves money is idempotent: the Refund form and the bulk action's
confirmation carry a key issued when they are rendered, and sending them again (a reload,
a second tab, a retry after an error, two posts at once) reuses the refund they made. The
invariant every test holds: the refunds the DOKU stand-in carried out are the succeeded
refunds in the shop's books.

The partial refunds here rely on the simulator refunding part of a paid card payment
straight away; where DOKU allows partial refunds only once the payment is settled, these
tests settle the payment first.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import Permission
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import Order, OrderStatus, Refund
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE, SimulatedSession
from tests import test_autocommit
from tests.doku import CLIENT_ID
from tests.example_shop import running_example_shop
from tests.pages import csrf, staff_session
from tests.races import on_postgresql
from tests.test_autocommit import Browser

pytestmark = pytest.mark.django_db(transaction=True)

# The staff member logged in over HTTP, and the live server's logged errors, of test_autocommit.
staff = test_autocommit.staff
server_errors = test_autocommit.server_errors

REFUND_TARGET = "/cancellation/credit-card/refund"
KEY_FIELD = re.compile(r'name="key" value="([^"]+)"')


#: The live server shares one in-memory SQLite connection between its threads, so DOKU's own
#: notification of a refund must not run at the same time as the admin's request on SQLite (a
#: test artefact: there it is dropped; on PostgreSQL it races the answer as in production).
QUIET = not on_postgresql()


def doku_faults(**values: float) -> None:
    """The simulator misbehaves as told from now on (nothing: behaves), DOKU's notifications aside."""
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=QUIET, **values))


def settled_at_doku(session: SimulatedSession) -> None:
    """DOKU settles the payment, so that it refunds in parts (before settlement it only voids all)."""
    actions.mark_settled(session)


def paid_by_card(order_factory, amount: int = 100_000) -> tuple[Order, SimulatedSession]:
    """An order paid by card at the simulator and settled, its notification delivered over HTTP."""
    order, session = paid(order_factory, "CREDIT_CARD", amount)
    settled_at_doku(session)
    return order, session


def paid_by_transfer(order_factory) -> Order:
    return paid(order_factory, "VIRTUAL_ACCOUNT_BCA", 100_000)[0]


def paid(order_factory, method: str, amount: int) -> tuple[Order, SimulatedSession]:
    order = order_factory(items=[("Batik shirt", amount, 1)])
    link = services.create_payment_link(order)
    session = STORE.find(CLIENT_ID, link.invoice_number)
    assert session is not None
    STORE.set_faults(CLIENT_ID, Faults())  # the payment's notification is delivered
    actions.settle(session, "pay", method)
    assert STORE.wait_until_idle(10)
    doku_faults()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order, session


def refund_url(order: Order) -> str:
    return reverse("admin:django_doku_checkout_order_refund", args=[order.pk])


def resend_url(refund: Refund) -> str:
    return reverse("admin:django_doku_checkout_order_refund_resend", args=[refund.order_id, refund.pk])


def change_url(order: Order) -> str:
    return reverse("admin:django_doku_checkout_order_change", args=[order.pk])


def form_key(page: str) -> str:
    found = KEY_FIELD.search(page)
    assert found, page[:2000]
    return found.group(1)


def refund_request_ids() -> list[str]:
    """The Request-Id of every card refund request DOKU's stand-in received, repeats included."""
    return [r.headers["Request-Id"] for r in STORE.received if r.target == REFUND_TARGET]


def assert_books_match_doku(order: Order, session: SimulatedSession) -> None:
    """The invariant: succeeded refunds in the books are the refunds DOKU carried out."""
    booked = sorted(order.refunds.filter(status=Refund.Status.SUCCEEDED).values_list("amount", flat=True))
    assert booked == sorted(r.amount for r in session.refunds)


def text_of(page: str) -> str:
    """A page's text with its tags removed and its spaces collapsed, for reading its messages."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


# --- the Refund form, sent again ------------------------------------------------------------------


def test_the_same_refund_form_sent_twice_refunds_once(staff, order_factory):
    order, session = paid_by_card(order_factory)
    form = staff.get(refund_url(order)).text
    data = {"amount": 40_000, "reason": "One shirt returned", "key": form_key(form)}

    first = staff.post(refund_url(order), data, expect=302)
    again = staff.post(refund_url(order), data, expect=302)  # a reload that re-posts, or the back button

    assert first.headers["Location"] == again.headers["Location"] == change_url(order)
    assert [r.amount for r in session.refunds] == [40_000]  # refunded once at DOKU
    assert len(refund_request_ids()) == 1  # and asked once
    assert order.refunds.count() == 1
    assert_books_match_doku(order, session)
    page = text_of(staff.get(change_url(order)).text)
    assert "This refund form was already sent: nothing was sent to DOKU again." in page
    assert "Rp 40.000 refunded; the order is now Partially refunded." in page


def test_a_refund_form_rendered_again_asks_before_refunding_again(staff, order_factory):
    """A form fetched anew (a second tab opened earlier, or Back, which fetches the page again)
    has a key of its own: a refund made minutes ago must be confirmed as another one."""
    order, session = paid_by_card(order_factory)
    first, second = form_key(staff.get(refund_url(order)).text), form_key(staff.get(refund_url(order)).text)
    assert first != second
    staff.post(refund_url(order), {"amount": 30_000, "key": first}, expect=302)

    refused = staff.post(refund_url(order), {"amount": 30_000, "key": second}, expect=200).text

    assert "This order was refunded minutes ago; tick the box to refund it again." in text_of(refused)
    assert "Rp 30.000 at" in text_of(refused)
    assert 'name="again"' in refused
    assert [r.amount for r in session.refunds] == [30_000]
    staff.post(refund_url(order), {"amount": 30_000, "key": second, "again": "on"}, expect=302)
    assert [r.amount for r in session.refunds] == [30_000, 30_000]  # staff said it is another refund
    assert_books_match_doku(order, session)


def test_a_refund_form_without_its_key_refunds_nothing(staff, order_factory):
    order, session = paid_by_card(order_factory)
    staff.get(refund_url(order))

    page = staff.post(refund_url(order), {"amount": 40_000}, expect=200).text

    assert 'class="errorlist' in page
    assert session.refunds == []
    assert not order.refunds.exists()


@pytest.fixture
def two_staff_tabs(live_doku, admin_user, server_errors) -> Iterator[tuple[Browser, Browser]]:
    """Two logged-in connections of the same staff member, as two tabs or a double click make."""
    tabs = (Browser(live_doku, server_errors), Browser(live_doku, server_errors))
    for tab in tabs:
        tab.http = staff_session(live_doku, admin_user.username)
    yield tabs
    for tab in tabs:
        tab.http.close()


@pytest.mark.postgres  # the live server shares one in-memory SQLite connection between threads
def test_two_posts_of_one_refund_form_at_once_refund_once(two_staff_tabs, order_factory):
    order, session = paid_by_card(order_factory)
    key = form_key(two_staff_tabs[0].get(refund_url(order)).text)
    two_staff_tabs[1].get(refund_url(order))  # its CSRF cookie
    doku_faults(latency=0.5)  # the first post is still at DOKU when the second arrives
    start = threading.Barrier(2)
    answers: list[str] = []

    def post(tab: Browser) -> None:
        start.wait()
        answers.append(tab.post(refund_url(order), {"amount": 40_000, "key": key}, expect=302).headers["Location"])

    threads = [threading.Thread(target=post, args=(tab,)) for tab in two_staff_tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Both are told the refund succeeded: the later one waited for the earlier one's answer.
    assert answers == [change_url(order), change_url(order)]
    assert [r.amount for r in session.refunds] == [40_000]
    assert len(refund_request_ids()) == 1
    assert order.refunds.count() == 1
    assert_books_match_doku(order, session)


@pytest.mark.postgres  # the live server shares one in-memory SQLite connection between threads
def test_two_tabs_refunding_at_once_refund_once_unless_staff_say_it_is_another(two_staff_tabs, order_factory):
    order, session = paid_by_card(order_factory)
    # Each tab renders the form before either refunds: two keys, and neither asks "another refund?".
    keys = [form_key(tab.get(refund_url(order)).text) for tab in two_staff_tabs]
    doku_faults(latency=0.5)  # the first post is still at DOKU when the second arrives
    start = threading.Barrier(2)
    answers: list[tuple[Browser, requests.Response]] = []

    def post(tab: Browser, key: str) -> None:
        start.wait()
        answers.append((tab, tab.post(refund_url(order), {"amount": 30_000, "key": key}, expect=(200, 302))))

    threads = [threading.Thread(target=post, args=pair) for pair in zip(two_staff_tabs, keys, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    doku_faults()

    # One refund, and the tab that made it is sent to the order. The other tab is sent back to
    # the form (it read the order before the first refund was claimed: the service refused it) or
    # shown the form again, asking to tick "another refund" (it read it after: the form refused it). The race decides which; the
    # invariant is that the other tab is asked first, not refunded.
    made = [a for _, a in answers if a.status_code == 302 and a.headers["Location"] == change_url(order)]
    other = [(tab, a) for tab, a in answers if a not in made]
    assert len(made) == 1
    assert len(other) == 1
    tab, answer = other[0]
    if answer.status_code == 302:
        # Sent back to the form: the service's refusal is its message there, and it asks first.
        assert answer.headers["Location"] == refund_url(order)
        page = tab.get(refund_url(order)).text
        assert "was refunded while this form was open" in text_of(page)
    else:
        page = answer.text
        assert "This order was refunded minutes ago; tick the box to refund it again." in text_of(page)
    assert 'name="again"' in page
    assert [r.amount for r in session.refunds] == [30_000]
    assert order.refunds.count() == 1
    assert_books_match_doku(order, session)


# --- DOKU did not answer: pending, counted, resent --------------------------------------------------


def test_a_refund_doku_did_not_answer_is_pending_counted_and_resent_once(staff, order_factory):
    order, session = paid_by_card(order_factory)
    key = form_key(staff.get(refund_url(order)).text)
    doku_faults(timeout_rate=1, timeout_seconds=2.5)  # DOKU refunds, answers too late

    answer = staff.post(refund_url(order), {"amount": 40_000, "key": key}, expect=302)
    doku_faults()

    assert answer.headers["Location"] == refund_url(order)  # back to the form, computed afresh
    page = staff.get(refund_url(order)).text
    text = text_of(page)
    assert "The refund of Rp 40.000 is pending at DOKU" in text
    assert "Try again later" not in text
    assert "Paid Rp 100.000; Rp 60.000 can still be refunded." in text  # the pending refund counts
    refund = order.refunds.get()
    assert refund.status == Refund.Status.REQUESTED
    assert f'action="{resend_url(refund)}"' in page
    assert f'action="{resend_url(refund)}"' in staff.get(change_url(order)).text  # on the order's page too

    # The client tried three times, all with the refund's Request-Id; retrying the same form
    # (the natural reaction to an error) sends nothing more.
    sent = refund_request_ids()
    assert set(sent) == {refund.request_id}
    staff.post(refund_url(order), {"amount": 40_000, "key": key}, expect=302)
    assert refund_request_ids() == sent

    resent = staff.post(resend_url(refund), expect=302)

    assert resent.headers["Location"] == change_url(order)
    assert "Rp 40.000 refunded; the order is now Partially refunded." in text_of(staff.get(change_url(order)).text)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert set(refund_request_ids()) == {refund.request_id}  # the same request, answered with a 409 replay
    assert len(refund_request_ids()) == len(sent) + 1
    assert [r.amount for r in session.refunds] == [40_000]
    assert_books_match_doku(order, session)


def test_a_refund_doku_failed_with_5xx_offers_resend_not_a_second_refund(staff, order_factory):
    order, session = paid_by_card(order_factory)
    key = form_key(staff.get(refund_url(order)).text)
    doku_faults(error_rate=1)  # DOKU answers 503 and refunds nothing

    staff.post(refund_url(order), {"amount": 100_000, "key": key}, expect=302)
    doku_faults()

    text = text_of(staff.get(refund_url(order)).text)
    assert "pending at DOKU" in text
    assert "Try again later" not in text
    assert "Paid Rp 100.000; nothing is left to refund." in text
    refund = order.refunds.get()
    staff.post(resend_url(refund), expect=302)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert [r.amount for r in session.refunds] == [100_000]
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert_books_match_doku(order, session)


def test_resend_is_a_post_only_button(staff, order_factory):
    order, session = paid_by_card(order_factory)
    doku_faults(error_rate=1)
    key = form_key(staff.get(refund_url(order)).text)
    staff.post(refund_url(order), {"amount": 100_000, "key": key}, expect=302)
    doku_faults()
    refund = order.refunds.get()

    sent = refund_request_ids()

    staff.get(resend_url(refund), expect=405)  # a link or a prefetch sends nothing

    assert refund_request_ids() == sent


# --- the bulk action -----------------------------------------------------------------------------


def changelist() -> str:
    return reverse("admin:django_doku_checkout_order_changelist")


def test_a_transfer_refund_says_what_doku_needs(staff, order_factory):
    """DOKU refunds a non-card Checkout payment on a support request with the customer's bank details."""
    page = text_of(staff.get(refund_url(paid_by_transfer(order_factory))).text)
    assert "support request" in page
    assert "bank account" in page
    assert "back office" not in page


def test_the_bulk_refund_asks_first_and_its_confirmation_refunds_once(staff, order_factory):
    card, session = paid_by_card(order_factory)
    transfer = paid_by_transfer(order_factory)
    unpaid = order_factory()
    selected = [card.pk, transfer.pk, unpaid.pk]
    staff.get(changelist())

    page = staff.post(changelist(), {"action": "refund_payments", "_selected_action": selected}, expect=200).text

    assert session.refunds == []
    assert not Refund.objects.exists()
    text = text_of(page)
    assert "Are you sure" in text
    plan = dict(re.findall(r'<tr class="doku-refund-(?:plan|skip)" data-invoice="([^"]+)">(.*?)</tr>', page, re.S))
    assert "Rp 100.000" in plan[card.invoice_number]
    assert "support request" in text_of(plan[transfer.invoice_number])
    assert "Nothing to refund" in text_of(plan[unpaid.invoice_number])
    confirm = {
        "action": "refund_payments",
        "_selected_action": selected,
        "post": "yes",
        **dict(re.findall(r'name="((?:key|amount)-\d+)" value="([^"]+)"', page)),
    }
    assert set(confirm) - {"action", "_selected_action", "post"} == {f"key-{card.pk}", f"amount-{card.pk}"}

    report = staff.post(changelist(), confirm, expect=200).text
    again = staff.post(changelist(), confirm, expect=200).text  # the confirmation sent twice

    assert "Rp 100.000 refunded by DOKU; the order is now Refunded." in text_of(report)
    assert "already" in text_of(again)
    assert "nothing was sent to DOKU again" in text_of(again)
    assert [r.amount for r in session.refunds] == [100_000]
    assert len(set(refund_request_ids())) == 1
    assert_books_match_doku(card, session)
    transfer.refresh_from_db()
    assert transfer.status == OrderStatus.PAID


# --- permissions ---------------------------------------------------------------------------------


def test_refunding_needs_the_view_permission_too(live_doku, order_factory, django_user_model, server_errors):
    order, session = paid_by_card(order_factory)
    doku_faults(error_rate=1)  # DOKU's 503 leaves a refund requested: a Resend button
    with pytest.raises(DokuAPIError):
        services.refund_payment(order, 50_000)
    doku_faults()
    refund = order.refunds.get()
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)  # noqa: S106
    clerk.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    tab = Browser(live_doku, server_errors)
    tab.http = staff_session(live_doku, "clerk", "pw")
    tab.get(reverse("admin:index"))

    tab.get(refund_url(order), expect=403)
    tab.post(refund_url(order), {"amount": 1_000, "key": "forged"}, expect=403)
    tab.post(resend_url(refund), expect=403)
    tab.post(changelist(), {"action": "refund_payments", "_selected_action": [order.pk], "post": "yes"}, expect=403)

    assert set(refund_request_ids()) == {refund.request_id}
    assert session.refunds == []
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    assert 'name="key"' in tab.get(refund_url(order)).text
    tab.http.close()


# --- the example shop on SQLite as startproject writes it, a real threaded server -----------------

STARTPROJECT = {"DJANGO_SETTINGS_MODULE": "tests.startproject_sqlite_settings"}


def demo_order_paid_by_card(shop: str, invoice: str = "DEMO-PHONE-1") -> tuple[requests.Session, str]:
    """Staff (seed_demo's admin) create a link for a demo order and the customer pays it by card.

    Returns the staff session and the order's Refund page, once the payment is in.
    """
    staff = staff_session(shop, "admin", "admin")
    found = staff.get(f"{shop}/admin/django_doku_checkout/order/?q={invoice}", timeout=10).text
    pk = re.search(r'href="/admin/django_doku_checkout/order/(\d+)/change/', found)
    assert pk, found[:1000]
    changelist = shop + "/admin/django_doku_checkout/order/"
    report = staff.post(
        changelist,
        data={"csrfmiddlewaretoken": csrf(found), "action": "create_payment_links", "_selected_action": pk.group(1)},
        timeout=30,
    ).text
    link = re.search(r'<a href="([^"]+)"[^>]*class="doku-payment-url"', report)
    assert link, report[:1000]
    customer = requests.Session()
    page = customer.get(link.group(1), timeout=10)
    paid = customer.post(
        page.url,
        data={"csrfmiddlewaretoken": csrf(page.text), "action": "pay", "method": "CREDIT_CARD"},
        timeout=30,
    )
    assert "/doku/return/" in paid.url, paid.text[:500]
    invoice_number = re.search(r'id="invoice">([^<]+)<', page.text)
    assert invoice_number
    token = csrf(staff.get(shop + "/doku-simulator/", timeout=10).text)
    settled = staff.post(
        shop + "/doku-simulator/_control/settle/",
        json={"invoice_number": invoice_number.group(1)},
        headers={"X-CSRFToken": token},
        timeout=10,
    )
    # DOKU settles the payment, so it refunds in parts.
    assert settled.status_code == 200, settled.text
    refund_page = f"{changelist}{pk.group(1)}/doku/refund/"
    assert 'name="key"' in staff.get(refund_page, timeout=10).text  # paid: the Refund form is offered
    return staff, refund_page


def set_doku_faults(shop: str, staff: requests.Session, **faults: float) -> None:
    """The example shop's simulator misbehaves as told (``{}``: behaves again)."""
    token = csrf(staff.get(shop + "/doku-simulator/", timeout=10).text)
    answer = staff.post(
        shop + "/doku-simulator/_control/faults/", json=faults, headers={"X-CSRFToken": token}, timeout=5
    )
    assert answer.status_code == 200, answer.text


def refunds_at_doku(shop: str, staff: requests.Session) -> list[str]:
    """The refunds the example shop's simulator carried out, as its dashboard lists them: the amounts."""
    dashboard = staff.get(shop + "/doku-simulator/", timeout=10).text
    table = dashboard.split("<h2>Refunds</h2>", 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>[^<]+</td><td>([^<]+)</td>", table)


@pytest.mark.slow
def test_two_posts_of_one_refund_form_at_once_on_startproject_sqlite(tmp_path: Path):
    with running_example_shop(tmp_path, **STARTPROJECT) as shop:
        staff, refund_page = demo_order_paid_by_card(shop)
        form = staff.get(refund_page, timeout=10).text
        data = {"csrfmiddlewaretoken": csrf(form), "amount": "10000", "key": KEY_FIELD.search(form).group(1)}
        set_doku_faults(shop, staff, latency=0.5)  # the first post is still at DOKU when the second arrives
        start = threading.Barrier(2)
        answers: list[str] = []

        def post() -> None:
            start.wait()
            answer = staff.post(refund_page, data=data, allow_redirects=False, timeout=30)
            answers.append(f"{answer.status_code} {answer.headers.get('Location', '')}")

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        set_doku_faults(shop, staff)

        change_page = refund_page.replace("/doku/refund/", "/change/").removeprefix(shop)
        assert answers == [f"302 {change_page}"] * 2, (tmp_path / "server.log").read_text()[-3000:]
        assert refunds_at_doku(shop, staff) == ["Rp 10.000"]
        change = staff.get(refund_page.replace("/doku/refund/", "/change/"), timeout=10).text
        assert len(re.findall(r'<td class="field-amount_display">', change)) == 1  # one refund in the books
