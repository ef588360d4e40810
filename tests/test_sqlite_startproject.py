"""A new shop on SQLite, configured as ``django-admin startproject`` writes it, under real load.

Ten shoppers pay at once on the example shop's threaded ``runserver``. Each payment makes
the simulator post DOKU's signed notification from its own thread while the shopper's
browser follows the redirect to the return page, so two requests write at the same moment.
No page and no notification may fail, and every order must end paid.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.example_shop import run_manage, running_example_shop
from tests.pages import csrf, staff_session, status_of
from tests.waiting import wait_for

# Subprocesses and servers for seconds per test: the full cells of the matrix only (noxfile.py).
pytestmark = pytest.mark.slow

SHOPPERS = 10
STARTPROJECT = {"DJANGO_SETTINGS_MODULE": "tests.startproject_sqlite_settings"}
CUSTOMER = {"name": "Budi", "email": "budi@example.com", "phone": "0812 3456 7890", "address": "Jl. Sudirman 1"}


@dataclass
class Journey:
    """What one shopper's browser saw: every response, redirects included."""

    number: int
    order_url: str = ""
    seen: list[requests.Response] = field(default_factory=list)
    crash: str = ""

    def keep(self, response: requests.Response) -> requests.Response:
        self.seen.extend([*response.history, response])
        return response

    def failed(self) -> list[requests.Response]:
        return [response for response in self.seen if response.status_code >= 500]

    def errors(self) -> list[str]:
        """Each 5xx this shopper saw, or why the journey stopped when it was not a 5xx."""
        errors = [f"shopper {self.number}: {describe(response)}" for response in self.failed()]
        return errors or ([f"shopper {self.number}: {self.crash}"] if self.crash else [])


def describe(response: requests.Response) -> str:
    """``500 GET /doku/return/...: OperationalError: database is locked`` from Django's debug page."""
    request = response.request
    exception = re.search(r"<title>\s*(\w+)", response.text)
    value = re.search(r'<pre class="exception_value">(.*?)</pre>', response.text, re.DOTALL)
    detail = f"{exception.group(1) if exception else ''}: {html.unescape(value.group(1)) if value else ''}"
    return f"{response.status_code} {request.method} {request.path_url}: {detail}"


def shop_and_pay(shop: str, journey: Journey, start: threading.Barrier, pay_together: threading.Barrier) -> None:
    """Catalogue, cart, checkout, Pay with DOKU, pay on DOKU's page, back to the return page.

    The shoppers start together, and pay on DOKU's page together (a shopper who failed
    earlier still waits for the others there, so nobody waits forever).
    """
    browser = requests.Session()
    waited = False
    try:
        start.wait(timeout=30)
        home = journey.keep(browser.get(shop + "/", timeout=30))
        journey.keep(browser.post(shop + "/cart/add/1/", data={"csrfmiddlewaretoken": csrf(home.text)}, timeout=30))
        form = journey.keep(browser.get(shop + "/checkout/", timeout=30))
        data = {**CUSTOMER, "city": f"Jakarta {journey.number}", "csrfmiddlewaretoken": csrf(form.text)}
        order_page = journey.keep(browser.post(shop + "/checkout/", data=data, timeout=30))
        journey.order_url = order_page.url
        pay_url = re.search(r'action="(/doku/pay/[^"]+)"', order_page.text)
        assert pay_url, f"no pay button: {describe(order_page)}"
        to_doku = journey.keep(
            browser.post(shop + pay_url.group(1), data={"csrfmiddlewaretoken": csrf(order_page.text)}, timeout=30)
        )
        assert "/doku-simulator/pay/" in to_doku.url, f"not at DOKU's page: {describe(to_doku)}"
        waited = True
        pay_together.wait(timeout=60)
        # Paying makes the simulator notify the shop at once while this browser is sent to
        # the return page: the two requests race for the database.
        back = journey.keep(
            browser.post(
                to_doku.url,
                data={"csrfmiddlewaretoken": csrf(to_doku.text), "action": "pay", "method": "VIRTUAL_ACCOUNT_BCA"},
                timeout=30,
            )
        )
        assert "/doku/return/" in back.url, f"not back at the shop: {describe(back)}"
    except (AssertionError, requests.RequestException, threading.BrokenBarrierError) as err:
        journey.crash = f"stopped: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
    finally:
        if not waited:
            with suppress(threading.BrokenBarrierError):
                pay_together.wait(timeout=60)


@dataclass(frozen=True)
class Delivery:
    invoice_number: str
    transaction_status: str
    answers: tuple[str, ...]
    result: str


def simulator_deliveries(shop: str) -> list[Delivery]:
    """Each notification on the simulator's dashboard with DOKU's view of the shop's answers."""
    dashboard = staff_session(shop, "admin", "admin").get(shop + "/doku-simulator/", timeout=10).text  # seed_demo's
    table = dashboard.split("<h2>Notifications</h2>", 1)[1]
    rows = re.findall(
        r"<tr><td>\d+</td><td>([^<]*)</td><td>(\w+)</td><td><code>[^<]*</code></td>\s*<td>(.*?)</td>\s*<td>([^<]+)</td></tr>",
        table,
        re.DOTALL,
    )
    return [
        Delivery(invoice, status, tuple(re.findall(r"→ ([^<]+)<br>", attempts)), result.strip())
        for invoice, status, attempts, result in rows
    ]


def server_tracebacks(log: Path) -> str:
    text = log.read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if "Error" in line or "locked" in line)[-3000:]


def test_startproject_settings_get_the_sqlite_warning(tmp_path):
    result = run_manage("check", env={"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", **STARTPROJECT})
    assert "django_doku_checkout.W005" in result.stderr, result.stdout + result.stderr


def test_ten_concurrent_payments_on_startproject_sqlite_never_fail(tmp_path):
    with running_example_shop(tmp_path, **STARTPROJECT) as shop:
        journeys = [Journey(number) for number in range(1, SHOPPERS + 1)]
        start, pay_together = threading.Barrier(SHOPPERS), threading.Barrier(SHOPPERS)
        threads = [
            threading.Thread(target=shop_and_pay, args=(shop, journey, start, pay_together)) for journey in journeys
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        # The simulator retries a failed notification after 2 s; give the first retries time.
        # Unfinished after that, the journeys' report below says what went wrong.
        def finished() -> bool:
            deliveries = simulator_deliveries(shop)
            return len(deliveries) >= SHOPPERS and all(d.result != "retrying" for d in deliveries)

        with contextlib.suppress(AssertionError):
            wait_for(finished, seconds=8, interval=0.2)
        deliveries = simulator_deliveries(shop)
        statuses = {}
        for journey in journeys:
            if journey.order_url:
                page = journey.keep(requests.get(journey.order_url, timeout=10))
                statuses[journey.number] = status_of(page.text)

    failing = [journey for journey in journeys if journey.errors()]
    pages = Counter(
        f"{r.request.method} {re.sub(r'[0-9a-f-]{36}/$', '', r.request.path_url)}"
        for journey in journeys
        for r in journey.failed()
    )
    refused = [d for d in deliveries if any(answer != "200" for answer in d.answers)]
    unpaid = {number: status for number, status in statuses.items() if status != "paid"}
    report = (
        f"{len(failing)} of {SHOPPERS} shoppers saw an error (5xx: {dict(pages)}), "
        f"{len(refused)} of {len(deliveries)} notifications were refused, unpaid orders: {unpaid}\n"
        + "\n".join(error for journey in failing for error in journey.errors())
        + "".join(f"\nnotification for {d.invoice_number}: answers {', '.join(d.answers)}" for d in refused)
        + "\n--- server log ---\n"
        + server_tracebacks(tmp_path / "server.log")
    )
    assert failing == [], report
    assert refused == [], report
    assert unpaid == {}, report
    assert len(statuses) == SHOPPERS, report
    assert sorted(d.transaction_status for d in deliveries) == ["SUCCESS"] * SHOPPERS
