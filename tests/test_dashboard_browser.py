"""The payments dashboard in Chromium, under the example shop's strict Content Security Policy.

The live server answers without a policy (the tests' settings have no CSP middleware) and
without static files (no ``staticfiles`` app): the browser's routes add the example shop's
enforced policy to every page, and serve ``/static/`` from the apps' folders as a shop's web
server would. Chromium reports every violation on the page's console; none may appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from django_doku_checkout import services, signals
from django_doku_checkout.models import CheckoutSession, Delivery, Order, OrderEvent
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import after_response
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, forged_notification, paid_quietly
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, screenshot
from tests.test_dashboard import DASHBOARD, failing_fulfilment
from tests.test_refunds import refund_at_doku

pytestmark = pytest.mark.browser

#: The example shop's policy (example_project/settings.py), with the simulator on the same site.
STRICT_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread while it lives: Django's ORM, used
    # by the tests between the browser's steps (never at the same time), would refuse to run in it.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def strict_page(browser: Browser, live_server) -> Iterator[Page]:
    """A page of the live server served with the strict policy; the test fails if the policy blocked anything."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    blocked: list[str] = []
    context.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )

    def serve(route: Route) -> None:
        path = route.request.url.removeprefix(live_server.url)
        if path.startswith("/static/"):
            found = finders.find(path.removeprefix("/static/").split("?")[0])
            if found:
                route.fulfill(path=str(found))
            else:
                route.fulfill(status=404)
            return
        response = route.fetch(max_redirects=0)
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": STRICT_CSP})

    context.route(f"{live_server.url}/**", serve)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert blocked == []


def paid(order: Order, method: str) -> None:
    """The shopper pays at the simulator; DOKU's notification arrives over HTTP."""
    session = STORE.find(CLIENT_ID, services.create_payment_link(order).invoice_number)
    assert session is not None
    actions.settle(session, "pay", method)
    assert STORE.wait_until_idle(10)
    if method == "CREDIT_CARD":
        actions.mark_settled(session)


def test_staff_follow_the_index_to_the_dashboard_and_read_its_figures(
    strict_page: Page, live_doku, order_factory, admin_user
):
    orders = [order_factory(items=[("Kopi Toraja 250g", 45_000 * (n + 1), 1)]) for n in range(6)]
    signals.payment_succeeded.connect(failing_fulfilment, weak=False)
    try:
        paid(orders[0], "CREDIT_CARD")
        assert after_response.wait_until_done(10)
    finally:
        signals.payment_succeeded.disconnect(failing_fulfilment)
    paid(orders[1], "VIRTUAL_ACCOUNT_BCA")
    paid(orders[2], "QRIS")
    services.create_payment_link(orders[3])
    paid_quietly(orders[3])  # the notification is lost
    reconcile(min_age=timedelta(0))
    refund_at_doku(orders[0], 20_000)
    for order in orders[4:]:
        services.create_payment_link(order)  # waiting for the shopper
    assert forged_notification(live_doku, orders[4]) == 401  # signed with another key
    # Earlier days of the shop: two of today's payments moved back in time, with their history.
    for order, days in ((orders[1], 3), (orders[2], 12)):
        order.refresh_from_db()
        moved = order.paid_at - timedelta(days=days)
        Order.objects.filter(pk=order.pk).update(paid_at=moved)
        OrderEvent.objects.filter(order=order, new_status="paid").update(created_at=moved)

    page = strict_page
    page.goto(live_doku + reverse("admin:index"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click('input[type="submit"]')
    page.click("text=Payments dashboard")

    expect(page.locator("h1")).to_have_text("Payments dashboard")
    expect(page.locator("#doku-panel-payments .doku-figure")).to_contain_text("Rp 450.000 in 4 payments")
    expect(page.locator("#doku-panel-channels")).to_contain_text("Credit Card")
    expect(page.locator("#doku-panel-pending .doku-figure")).to_have_text("2 pending")
    expect(page.locator("#doku-panel-refunds")).to_contain_text("Rp 20.000")
    expect(page.locator("#doku-panel-deliveries .doku-figure")).to_have_text("1 order with a receiver failing")
    expect(page.locator("#doku-panel-rejected .doku-figure")).to_have_text("1 in the last 48 hours")
    expect(page.locator("#doku-panel-reconciled .doku-figure")).to_contain_text("1 of the payments")
    # The stylesheet applies: the panels are laid out in a grid, the bars coloured by class.
    expect(page.locator(".doku-dashboard")).to_have_css("display", "grid")
    expect(page.locator("#doku-panel-channels .doku-bar").first).to_have_css("fill", "rgb(21, 128, 61)")
    screenshot(page, "dashboard-1-payments")

    page.click("#doku-panel-reconciled h2 a")
    expect(page.locator("#result_list")).to_contain_text(orders[3].invoice_number)
    expect(page.locator("#result_list tbody tr")).to_have_count(1)


def test_the_example_shop_serves_it_under_its_own_policy(browser: Browser, example_shop: str):
    """The example shop's real policy (Django's CSP middleware, or django-csp) and its own static files."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    blocked: list[str] = []
    context.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    page = context.new_page()
    page.goto(example_shop + "/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click('input[type="submit"]')
    with page.expect_response(lambda response: "/paymentsdashboard/" in response.url) as opened:
        page.click("text=Payments dashboard")

    policy = opened.value.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    expect(page.locator("h1")).to_have_text("Payments dashboard")
    expect(page.locator(".doku-dashboard")).to_have_css("display", "grid")  # the shop serves the stylesheet
    context.close()
    assert blocked == []


#: Each text of the bar charts, measured by Chromium in the drawing's units: its box, and the box of its row's bar.
MEASURE_ROWS = """() => [...document.querySelectorAll('svg.doku-rows')].flatMap(svg => {
  const width = svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].map(text => {
    const box = text.getBBox();
    let bar = text.previousElementSibling;
    if (text.classList.contains('doku-label')) { bar = text.nextElementSibling; }
    const rect = (bar.tagName === 'a' ? bar.querySelector('rect') : bar).getBBox();
    return {kind: text.getAttribute('class'), text: text.textContent, left: box.x, right: box.x + box.width,
            bar_left: rect.x, bar_right: rect.x + rect.width, width};
  });
})"""


def test_in_indonesian_every_label_fits_its_chart(strict_page: Page, live_server, settings, order_factory, admin_user):
    settings.LANGUAGE_CODE = "id"
    orders = [order_factory(status="paid", paid_at=timezone.now()) for _ in range(3)]
    for order, channel in zip(orders, ("VIRTUAL_ACCOUNT_BANK_SYARIAH_MANDIRI", "QRIS", "CREDIT_CARD"), strict=True):
        link = CheckoutSession.objects.create(
            order=order,
            invoice_number=f"{order.invoice_number}-L",
            request_id=f"req-{order.pk}",
            payment_channel=channel,
        )
        Order.objects.filter(pk=order.pk).update(paid_link=link)
    for receiver, status in (("shop.receivers.send_the_order_to_the_warehouse", "pending"), ("shop.crm.add", "failed")):
        for _ in range(2):
            Delivery.objects.create(order=orders[0], signal="payment_succeeded", receiver=receiver, status=status)

    page = strict_page
    page.goto(live_server.url + reverse("admin:login") + "?next=" + reverse(DASHBOARD))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click('input[type="submit"]')
    expect(page.locator("h1")).to_have_text("Dasbor pembayaran")

    overflowing = page.evaluate(
        "() => [...document.querySelectorAll('.doku-panel')].filter(p => p.scrollWidth > p.clientWidth).map(p => p.id)"
    )
    assert overflowing == []  # no table wider than its panel (a receiver's long dotted path wraps)
    texts = page.evaluate(MEASURE_ROWS)
    assert {text["text"] for text in texts} >= {
        "Virtual Account Bank Syariah Mandiri",
        "2 akan dicoba lagi, 0 dihentikan",
    }
    for text in texts:
        assert text["left"] >= 0, text
        assert text["right"] <= text["width"], text
        if text["kind"] == "doku-label":
            assert text["right"] <= text["bar_left"], text
        else:
            assert text["left"] >= text["bar_right"], text
