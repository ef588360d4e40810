"""Shopper and staff journeys in a real browser: Debian's Chromium driven by Playwright.

The example shop runs as its own server with the built-in simulator, exactly as the
README's Quick start runs it. Key pages are saved as screenshots to a temporary folder,
so a test run leaves the checkout clean; ``DOKU_SCREENSHOTS=docs/screenshots`` refreshes the
ones the documentation shows.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.example_shop import running_example_shop

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("DOKU_CHROMIUM", "/usr/bin/chromium")
# Chromium's own background traffic is refused on closed networks; keep it off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose test fails if the shop's Content Security Policy blocked anything on it."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-US")
    blocked: list[str] = []
    # Chromium reports each violation on the console of the page (or frame) it happened in.
    context.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert blocked == []


@pytest.fixture(scope="module")
def cross_site_shop(tmp_path_factory) -> Iterator[str]:
    """The example shop in pop-up mode, browsed at localhost while its simulator answers at 127.0.0.1.

    DOKU is then another site, as in production: the shop's enforced CSP must allow its
    origin in form-action, script-src and frame-src (local development never shows this).
    """
    with running_example_shop(tmp_path_factory.mktemp("shop"), DOKU_PAY_BUTTON_MODE="popup") as base:
        yield base.replace("127.0.0.1", "localhost")


@functools.cache
def screenshots() -> Path:
    folder = Path(os.environ.get("DOKU_SCREENSHOTS") or tempfile.mkdtemp(prefix="doku-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(screenshots() / f"{name}.png"), full_page=True)


def order_placed(page: Page, shop: str, *, keep: str = "") -> None:
    """Catalogue -> cart -> checkout with one mistake corrected -> the order page."""
    page.goto(shop + "/")
    if keep:
        screenshot(page, keep + "-1-catalogue")
    page.locator('button[data-sku="KOPI-TORAJA"]').click()
    page.locator('button[data-sku="TEH-MELATI"]').click()
    page.click("#cart-link")
    expect(page.locator("#cart-total")).to_have_text("Rp 120.000")
    page.click("text=Checkout")
    page.fill("#id_name", "Siti Rahayu")
    page.fill("#id_email", "siti@example.com")
    page.fill("#id_phone", "+65 6123 4567")  # DOKU takes it; the shop sells in Indonesia only
    page.fill("#id_address", "Jl. Malioboro 10")
    page.fill("#id_city", "Yogyakarta")
    page.click("#place-order")
    expect(page.locator(".errorlist")).to_contain_text("Enter an Indonesian phone number")
    if keep:
        screenshot(page, keep + "-2-checkout-error")
    page.fill("#id_phone", "0812 3456 7890")
    page.click("#place-order")
    expect(page.locator(".doku-order-status")).to_have_text("Created")
    # The pop-up's script is deferred: a click before the load event is the ordinary POST to DOKU's page.
    page.wait_for_load_state("load")


def wait_for_status(page: Page, label: str) -> None:
    """The return page shows the database's status; reload until DOKU's notification is in."""
    for _ in range(30):
        if page.locator(".doku-order-status").inner_text() == label:
            return
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".doku-order-status")).to_have_text(label)


def staff_log_in(page: Page, shop: str) -> None:
    """Log in to the example shop's admin as its demo staff user."""
    page.goto(shop + "/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click('input[type="submit"]')


def staff_create_links(page: Page, shop: str, *invoices: str) -> None:
    """From the orders list, run the "create payment links" action on these orders."""
    page.goto(shop + "/admin/django_doku_checkout/order/?q=" + os.path.commonprefix(invoices))
    for invoice in invoices:
        page.locator("tr", has_text=invoice).locator("input.action-select").check()
    page.select_option('select[name="action"]', "create_payment_links")
    page.click('button[name="index"]')


def test_shopper_pays_by_virtual_account(page: Page, example_shop: str):
    order_placed(page, example_shop, keep="shopper")
    screenshot(page, "shopper-3-order")
    page.click(".doku-pay-button")
    expect(page).to_have_url(re.compile(r"/doku-simulator/pay/"))
    page.check('input[value="VIRTUAL_ACCOUNT_BCA"]')
    screenshot(page, "shopper-4-doku-page")
    page.click("button.pay")
    expect(page).to_have_url(re.compile(r"/doku/return/"))
    wait_for_status(page, "Paid")
    expect(page.locator(".doku-checkout-status")).to_contain_text("Thank you! Your payment was received.")
    screenshot(page, "shopper-5-paid")


def test_shopper_fails_then_retries_and_pays(page: Page, example_shop: str):
    order_placed(page, example_shop)
    page.click(".doku-pay-button")
    page.click("button.fail")
    expect(page.locator("#result")).to_have_text("Payment failed")
    screenshot(page, "retry-1-failed")
    page.click("text=Try another payment method")
    page.check('input[value="QRIS"]')
    page.click("button.pay")
    expect(page).to_have_url(re.compile(r"/doku/return/"))
    wait_for_status(page, "Paid")


def test_shopper_lets_the_link_expire_and_may_pay_again(page: Page, example_shop: str):
    order_placed(page, example_shop)
    page.click(".doku-pay-button")
    page.click("button.expire")
    expect(page.locator("#result")).to_have_text("Payment expired")
    page.click("#back-to-merchant")
    wait_for_status(page, "Expired")
    expect(page.locator(".doku-checkout-status")).to_contain_text("The payment was not completed. You can try again.")
    screenshot(page, "expiry-1-expired")
    page.click(".doku-pay-button")  # a fresh link for the same order
    expect(page).to_have_url(re.compile(r"/doku-simulator/pay/"))
    expect(page.locator("#invoice")).to_have_text(re.compile(r"^INV[0-9A-F]+R2$"))  # the attempt's own number


def test_staff_create_links_for_phone_orders_and_see_them_paid(page: Page, example_shop: str):
    staff_log_in(page, example_shop)
    page.click("text=Orders")
    staff_create_links(page, example_shop, "DEMO-PHONE-1", "DEMO-PHONE-2")
    report = page.locator("#doku-report")
    expect(report.locator(".doku-result-created")).to_have_count(2)
    screenshot(page, "staff-1-links-created")

    link = report.locator("tr", has_text="DEMO-PHONE-1").locator("a.doku-payment-url").get_attribute("href")
    customer = page.context.new_page()  # the customer opens the pasted link
    customer.goto(link)
    customer.click("button.pay")
    wait_for_status(customer, "Paid")  # DOKU sends the customer back to the shop
    customer.close()

    page.click("text=DEMO-PHONE-1")
    for _ in range(30):
        if page.locator(".field-status .readonly").inner_text() == "Paid":
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".field-status .readonly")).to_have_text("Paid")
    expect(page.locator("#events-group")).to_contain_text("Paid")

    page.goto(example_shop + "/admin/django_doku_checkout/order/?q=DEMO-PHONE-2")
    page.click("text=DEMO-PHONE-2")
    expect(page.locator("#doku-open-link")).to_be_visible()
    screenshot(page, "staff-2-order-with-live-link")


def test_staff_open_a_paid_order_grouped_and_read_only(page: Page, example_shop: str):
    """A paid order's page: what DOKU has is shown, not offered for editing; the addresses and
    DOKU options are collapsed until opened; the page fits in little more than a screen."""
    page.set_viewport_size({"width": 1280, "height": 800})
    staff_log_in(page, example_shop)
    staff_create_links(page, example_shop, "DEMO-PHONE-1")
    link = page.locator("#doku-report a.doku-payment-url").first.get_attribute("href")
    customer = page.context.new_page()
    customer.goto(link)
    customer.check('input[value="VIRTUAL_ACCOUNT_BCA"]')
    customer.click("button.pay")
    wait_for_status(customer, "Paid")
    customer.close()

    page.goto(example_shop + "/admin/django_doku_checkout/order/?q=DEMO-PHONE-1")
    page.click("text=DEMO-PHONE-1")
    expect(page.locator(".field-status .readonly")).to_have_text("Paid")
    expect(page.locator(".fieldBox.field-customer_name .readonly")).to_have_text("Budi Santoso")
    expect(page.locator("input, textarea, select").and_(page.locator('[name^="customer_"]'))).to_have_count(0)
    options = page.locator("fieldset", has=page.locator("summary", has_text="DOKU options"))
    expect(options.locator(".field-payment_methods_display")).to_be_hidden()  # collapsed
    options.locator("summary").click()
    expect(options.locator(".field-payment_methods_display .readonly")).to_have_text(
        "Every channel active on the account"
    )
    options.locator("summary").click()
    assert page.evaluate("document.documentElement.scrollHeight") < 3000
    screenshot(page, "staff-3-paid-order")


def test_staff_send_a_link_by_whatsapp_in_a_new_tab(page: Page, example_shop: str):
    """The share button posts into a new tab, which then opens WhatsApp. Chromium must send the
    admin's Origin with the post (with rel="noreferrer" it sent Origin: null: Django's CSRF check
    answered 403), and the shop's CSP form-action must not meet wa.me (it governs a form's
    redirects: a redirect to wa.me from the post was blocked)."""
    opened: list[str] = []

    def whatsapp(route) -> None:  # wa.me is out of reach here: answer in its place, noting the request
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="WhatsApp")

    page.context.route("https://wa.me/**", whatsapp)
    staff_log_in(page, example_shop)
    staff_create_links(page, example_shop, "DEMO-PHONE-2")

    for button in (page.locator("#doku-report .doku-whatsapp"), None):
        if button is None:  # then from the order's own page
            page.goto(example_shop + "/admin/django_doku_checkout/order/?q=DEMO-PHONE-2")
            page.click("text=DEMO-PHONE-2")
            button = page.locator("#doku-whatsapp-link")
        with page.expect_popup() as popup:
            button.click()
        tab = popup.value
        tab.wait_for_url(re.compile(r"^https://wa\.me/62"))  # not Django's 403 page, nor a blocked form
        expect(tab.locator("body")).to_have_text("WhatsApp")
        tab.close()
    assert len(opened) == 2

    page.reload()
    expect(page.locator("#events-group")).to_contain_text("opened in WhatsApp")


def test_the_shop_enforces_its_policy(page: Page, example_shop: str):
    policy = page.goto(example_shop + "/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "form-action 'self'" in policy
    assert "unsafe-inline" not in policy


def test_popup_opens_dokus_page_over_the_shop(page: Page, cross_site_shop: str):
    """DOKU's Checkout JS (the simulator's faithful stand-in) frames the page with its stylesheet, CSP-clean."""
    order_placed(page, cross_site_shop)
    with page.expect_response(lambda response: response.url.endswith("/jokul-checkout-1.0.0.css")) as stylesheet:
        page.click(".doku-pay-button")
    assert stylesheet.value.ok
    modal = page.locator("#jokul_checkout_modal")
    expect(modal).to_have_css("position", "fixed")  # DOKU's stylesheet applies: the shop's style-src allows it
    frame = page.frame_locator("#jokul_checkout_modal iframe")
    expect(frame.locator("#invoice")).to_be_visible()
    assert modal.locator("iframe").get_attribute("src").endswith("/?view=iframe")
    expect(page.locator(".doku-order-status")).to_be_visible()  # the shop is still underneath
    screenshot(page, "popup-1-doku-over-the-shop")
    frame.locator('input[value="VIRTUAL_ACCOUNT_BCA"]').check()
    frame.locator("button.pay").click()
    expect(page).to_have_url(re.compile(r"/doku/return/"))  # the whole window, not the frame
    wait_for_status(page, "Paid")


def test_popup_stops_polling_once_closed(page: Page, cross_site_shop: str):
    """Closing DOKU's pop-up hides its modal (closeJokul), as DOKU's script does: api_status is asked once more, then no more.

    Twice: the second Pay click opens the new link (DOKU's script would show the first,
    hidden modal again by its id) and starts one poller, which stops as well.
    """
    order_placed(page, cross_site_shop)
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/doku/api/status/" in request.url else None)
    modal = page.locator("#jokul_checkout_modal")
    for _ in range(2):
        with page.expect_request(lambda request: "/doku/api/status/" in request.url):
            page.click(".doku-pay-button")
        expect(modal).to_be_visible()
        # Closing asks once more (DOKU's page also closes the pop-up after a payment), then no more.
        with page.expect_request(lambda request: "/doku/api/status/" in request.url):
            page.frame_locator("#jokul_checkout_modal iframe").locator("#close-popup").click()
        expect(modal).to_be_hidden()
        expect(modal).to_have_count(1)  # hidden, not removed
    asked = len(polls)
    page.wait_for_timeout(7_000)  # longer than the next two delays (4.5 s, 6.75 s)
    assert len(polls) == asked


def test_waiting_page_turns_failed_then_paid_by_itself(page: Page, cross_site_shop: str):
    order_placed(page, cross_site_shop)
    public_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    # A mobile app's call: no cookies, the order's public_id alone.
    link = requests.post(f"{cross_site_shop}/doku/api/pay/{public_id}/", timeout=30).json()["payment_url"]
    page.goto(f"{cross_site_shop}/doku/return/{public_id}/")
    expect(page.locator(".doku-checkout-waiting")).to_contain_text("This page updates itself")
    screenshot(page, "waiting-1-pending")
    page.evaluate("window.neverReloaded = true")

    payer = page.context.new_page()  # the shopper pays in another tab (a banking app, say)
    payer.goto(link)
    payer.click("button.fail")
    expect(page.locator(".doku-checkout-failed")).to_contain_text("The payment failed", timeout=30_000)
    expect(page.locator(".doku-pay-button")).to_have_text("Try again")
    screenshot(page, "waiting-2-failed")

    payer.click("text=Try another payment method")
    payer.check('input[value="QRIS"]')
    payer.click("button.pay")
    expect(page.locator(".doku-order-status")).to_have_text("Paid", timeout=30_000)
    expect(page.locator(".doku-checkout-status")).to_contain_text("Thank you! Your payment was received.")
    expect(page.locator(".doku-back-to-order")).to_have_attribute("href", f"/orders/{public_id}/")
    assert page.evaluate("window.neverReloaded") is True


def test_without_javascript_the_popup_button_is_the_ordinary_one(browser: Browser, cross_site_shop: str):
    """The POST redirects to DOKU's other site: the shop's CSP must allow it in form-action."""
    context = browser.new_context(java_script_enabled=False)
    blocked: list[str] = []
    context.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    page = context.new_page()
    order_placed(page, cross_site_shop)
    page.click(".doku-pay-button")
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/doku-simulator/pay/"))
    page.go_back()  # to the order page, then to its return page: it refreshes itself, a bounded number of times
    page.goto(page.url.replace("/orders/", "/doku/return/"))
    expect(page.locator('meta[http-equiv="refresh"]')).to_have_attribute("content", re.compile(r"^10;url=.*refresh=1$"))
    context.close()
    assert blocked == []


def test_staff_refund_once_however_often_the_form_is_sent(page: Page, example_shop: str):
    """A double click, then Back and Refund again: one refund at DOKU, and staff are told why."""
    from tests.test_admin_refunds import demo_order_paid_by_card, refunds_at_doku, set_doku_faults

    staff, refund_page = demo_order_paid_by_card(example_shop)
    staff_log_in(page, example_shop)
    page.goto(refund_page)
    page.fill("#id_amount", "10000")
    page.fill("#id_reason", "One bag of coffee returned")

    set_doku_faults(example_shop, staff, latency=1)  # a slow DOKU: staff click again while the first post waits
    button = page.locator("#doku-refund-submit").bounding_box()
    assert button is not None
    x, y = button["x"] + button["width"] / 2, button["y"] + button["height"] / 2
    with page.expect_request(lambda request: request.method == "POST"):
        page.mouse.click(x, y)
    page.wait_for_timeout(500)  # a person's second click, half a second later: the first post is at DOKU
    with page.expect_request(lambda request: request.method == "POST"):
        page.mouse.click(x, y)  # the page still shows the form: the same form posted again
    expect(page.locator(".messagelist")).to_contain_text("Rp 10.000 refunded")
    set_doku_faults(example_shop, staff)
    assert refunds_at_doku(example_shop, staff) == ["Rp 10.000"]
    screenshot(page, "refund-1-done")

    page.go_back()  # the admin's pages are not cached: Back fetches the form again
    expect(page.locator("#doku-recent-refunds")).to_contain_text("Rp 10.000")
    page.fill("#id_amount", "10000")
    page.click("#doku-refund-submit")  # out of habit
    expect(page.locator(".errorlist")).to_contain_text("refunded minutes ago")
    screenshot(page, "refund-2-asked-again")

    assert refunds_at_doku(example_shop, staff) == ["Rp 10.000"]
    page.goto(refund_page.replace("/doku/refund/", "/change/"))
    expect(page.locator("#refunds-group tbody tr.has_original, #refunds-group tbody tr.form-row")).to_have_count(1)
