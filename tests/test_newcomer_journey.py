"""Issue 26's "Done when": a newcomer's whole path, from a fresh ``startproject`` and only the docs, in one test.

What docs/local-development.md says, done as it says: the titled blocks pasted into a fresh
``django-admin startproject``, the standalone simulator started with the page's command,
``runserver``; staff create a link in the admin and the customer pays it on the simulator's
page; the page's pytest example run with the page's command (plain ``pytest``); a second
order's link shared by QR code, WhatsApp and e-mail from the admin, in Chromium; and the
switch to DOKU's sandbox by environment variables alone. The one change to what the page
says is the ports (8000 and 8765 become free ones, through the ``SITE_URL`` and
``DOKU_API_BASE_URL`` variables the page names), so other suites can run beside it.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.servers import free_port
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_documented_setup import (
    INTEGRATION,
    LOCAL_DEVELOPMENT,
    README,
    REPORT,
    documented_names,
    documented_simulator_commands,
    newcomer_environment,
    paste,
    titled_blocks,
)
from tests.waiting import wait_until_serving

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ORDERS = """
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.services import create_order

for invoice in ("WEB-1", "WEB-2"):
    create_order(
        invoice_number=invoice,
        customer_name="Siti Rahayu",
        customer_email="siti@example.com",
        customer_phone="0812 3456 7890",
        line_items=[LineItemData(name="Kopi Toraja 250g", price=85_000, quantity=2)],
    )
"""

HISTORY = """
import json
from django_doku_checkout.models import Order
print("HISTORY" + json.dumps({o.invoice_number: [o.status, [e.note for e in o.events.all()]] for o in Order.objects.all()}))
"""


def run(project: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - the pasted project's manage.py, or pytest there
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@contextlib.contextmanager
def serving(command: list[str], *, cwd: Path, env: dict[str, str], log: Path, base_url: str) -> Iterator[None]:
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            wait_until_serving(base_url)
            yield
        finally:
            server.terminate()
            server.wait(timeout=10)


def order_page(page: Page, shop: str, pk: int) -> None:
    page.goto(f"{shop}/admin/django_doku_checkout/order/{pk}/change/")


def wait_for_paid(page: Page) -> None:
    """The return page shows the database's status; reload until the simulator's notification is in."""
    for _ in range(50):
        if page.locator(".doku-order-status").inner_text() == "Paid":
            return
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".doku-order-status")).to_have_text("Paid")


def test_a_newcomer_pays_tests_shares_and_switches_to_sandbox_following_only_the_docs(tmp_path):
    started = time.monotonic()
    blocks = titled_blocks(README, LOCAL_DEVELOPMENT, INTEGRATION)
    project_name, app = documented_names(blocks)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run(fresh, newcomer_environment(), "-m", "django", "startproject", project_name, ".")
    run(fresh, newcomer_environment(), "manage.py", "startapp", app)
    project = paste(
        fresh,
        tmp_path,
        blocks,
        "settings.py",
        "settings.py (receivers)",
        "settings.py (e-mail)",
        "urls.py",
        files={
            f"{app}/receivers.py": f"{app}/receivers.py",
            f"{app}/apps.py": f"{app}/apps.py",
            f"{app}/tests.py": f"{app}/tests.py",
            "conftest.py": "conftest.py",
            "pytest.ini": "pytest.ini",
        },
    )
    shop_port, simulator_port = free_port(), free_port()
    shop = f"http://127.0.0.1:{shop_port}"
    env = {
        **newcomer_environment(),
        "PYTHONUNBUFFERED": "1",
        "SITE_URL": shop,
        "DOKU_API_BASE_URL": f"http://127.0.0.1:{simulator_port}",
        "DJANGO_SUPERUSER_USERNAME": "admin",
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a-newcomers-password",
    }
    run(project, env, "manage.py", "migrate")
    run(project, env, "manage.py", "createsuperuser", "--noinput")  # the page's createsuperuser, unprompted
    run(project, env, "manage.py", "shell", "-c", ORDERS)
    pks = {"WEB-1": 1, "WEB-2": 2}

    # `check --deploy` refuses the simulator's settings, as the page says, DEBUG on or not.
    deploy = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check", "--deploy"], cwd=project, env=env, capture_output=True, text=True
    )
    assert deploy.returncode != 0
    assert "django_doku_checkout.E027" in deploy.stderr
    assert "django_doku_checkout.E028" in deploy.stderr

    (simulator_args,) = {tuple(command) for command in documented_simulator_commands(LOCAL_DEVELOPMENT)}
    simulator_args = tuple(
        arg.replace("127.0.0.1:8000", f"127.0.0.1:{shop_port}") if "/doku/notification/" in arg else arg
        for arg in simulator_args
    )
    simulator_args = tuple(str(simulator_port) if arg == "8765" else arg for arg in simulator_args)
    shop_log, simulator_log = tmp_path / "runserver.log", tmp_path / "simulator.log"
    with (
        serving(
            [sys.executable, "-m", "django_doku_checkout.simulator", *simulator_args],
            cwd=project,
            env=env,
            log=simulator_log,
            base_url=f"http://127.0.0.1:{simulator_port}",
        ),
        serving(
            [sys.executable, "manage.py", "runserver", str(shop_port), "--noreload"],
            cwd=project,
            env=env,
            log=shop_log,
            base_url=shop,
        ),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        opened: list[str] = []

        def whatsapp(route) -> None:  # wa.me is out of reach here: answer in its place, noting the request
            opened.append(route.request.url)
            route.fulfill(status=200, content_type="text/plain", body="WhatsApp")

        context.route("https://wa.me/**", whatsapp)
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(shop + "/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "a-newcomers-password")
        page.click('input[type="submit"]')

        # Staff create a link, the customer pays it on the simulator's page and comes back.
        order_page(page, shop, pks["WEB-1"])
        page.get_by_role("button", name="Create payment link").click()
        link = page.locator("#doku-open-link").get_attribute("href")
        assert link
        assert link.startswith(f"http://127.0.0.1:{simulator_port}/")
        customer = context.new_page()
        customer.goto(link)
        customer.click("button.pay")
        wait_for_paid(customer)
        customer.close()

        # A second order's link, shared three ways from its page.
        order_page(page, shop, pks["WEB-2"])
        page.get_by_role("button", name="Create payment link").click()
        shared = page.locator("#doku-open-link").get_attribute("href") or ""
        assert shared.startswith(f"http://127.0.0.1:{simulator_port}/")
        page.get_by_role("button", name="QR code").click()
        expect(page.locator(".doku-qr svg")).to_be_visible()
        assert shared in (page.locator(".doku-qr svg title").text_content() or "")

        order_page(page, shop, pks["WEB-2"])
        with page.expect_popup() as popup:
            page.get_by_role("button", name="Send by WhatsApp").click()
        tab = popup.value
        tab.wait_for_url(re.compile(r"^https://wa\.me/6281234567890\?"))
        assert shared in parse_qs(urlsplit(tab.url).query)["text"][0]
        tab.close()

        order_page(page, shop, pks["WEB-2"])
        page.get_by_role("button", name="Email payment link").click()
        expect(page.locator(".messagelist")).to_contain_text("siti@example.com")
        browser.close()

        printed = shop_log.read_text()
        # The receiver the page wrote sent its receipt for the paid order, printed by runserver.
        assert "Subject: Receipt for WEB-1" in printed
        # The link's e-mail, with its expiry in WIB (startproject's TIME_ZONE is UTC).
        assert "Subject: Payment link for order WEB-2" in printed
        assert shared in printed
        assert re.search(r"The link can be used until [A-Z][a-z]{2}\.? \d+, \d{4}, [^\n]+ WIB\.\n", printed), printed

    history = json.loads(run(project, env, "manage.py", "shell", "-c", HISTORY).split("HISTORY", 1)[1])
    assert history["WEB-1"][0] == "paid"
    notes = " ".join(history["WEB-2"][1])
    assert "QR code of payment link" in notes
    assert "opened in WhatsApp" in notes
    assert "e-mailed to siti@example.com" in notes
    assert opened
    assert len(opened) == 1

    # The page's tests, with the page's command: plain `pytest` in the project.
    tests = run(project, newcomer_environment(), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert re.search(r"^2 passed", tests, re.MULTILINE), tests

    # DOKU's sandbox by the environment alone: no file changes, no call to DOKU (the network is closed).
    sandbox = {
        **newcomer_environment(),
        "DOKU_ENVIRONMENT": "sandbox",
        "DOKU_CLIENT_ID": "BRN-0214-1714016624673",
        "DOKU_SECRET_KEY": "SK-sandbox-secret-of-the-shop",
        "SITE_URL": "https://shop.example.com",
    }
    report = json.loads(run(project, sandbox, "manage.py", "shell", "-c", REPORT).split("REPORT", 1)[1])
    assert {key: report[key] for key in ("client_id", "secret_key", "api_base_url", "site_url")} == {
        "client_id": "BRN-0214-1714016624673",
        "secret_key": "SK-sandbox-secret-of-the-shop",
        "api_base_url": "https://api-sandbox.doku.com",
        "site_url": "https://shop.example.com",
    }

    print(f"\nA newcomer's path, from startproject to the sandbox switch: {time.monotonic() - started:.0f} s")
