"""What a shopper's browser and a staff member's session send: forms read from pages, posted back.

Plain ``requests`` against a running server (``live_doku``, the example shop, gunicorn),
the way production is used: the CSRF token read from the page, the admin's login form,
the pay button, an order's change form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from django_doku_checkout.models import Order


def csrf(page: str) -> str:
    """The CSRF token of the (first) form on ``page``."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def status_of(page: str) -> str:
    """An order's status from its badge (the example shop's stylesheet names every status too)."""
    found = re.search(r'class="doku-order-status doku-order-status-(\w+)"', page)
    assert found, page[:500]
    return found.group(1)


def press_pay(shopper: requests.Session, base_url: str, public_id: object, *, timeout: float = 10) -> requests.Response:
    """What a shopper's browser does: open the order's page and press its pay button (a POST with CSRF)."""
    page = shopper.get(f"{base_url}/doku/result/{public_id}/", timeout=timeout)
    found = re.search(r'<form[^>]+action="(/doku/pay/[^"]+)"', page.text)
    assert found, page.text[:500]
    return shopper.post(
        base_url + found.group(1),
        data={"csrfmiddlewaretoken": csrf(page.text)},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=timeout,
    )


def staff_session(base_url: str, username: str = "admin", password: str = "password") -> requests.Session:  # noqa: S107 - test users
    """A ``requests.Session`` logged in through the admin's login form (pytest-django's ``admin_user``)."""
    import requests
    from django.urls import reverse

    session = requests.Session()
    login = base_url + reverse("admin:login")
    page = session.get(login, timeout=10)
    answer = session.post(
        login,
        data={"csrfmiddlewaretoken": csrf(page.text), "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def change_form_data(order: Order, **overrides: Any) -> dict[str, Any]:
    """What the admin's order change page posts when saved unchanged; ``overrides`` change fields."""
    items = list(order.line_items.order_by("pk"))
    data: dict[str, Any] = {
        "invoice_number": order.invoice_number,
        "amount": order.amount,
        "currency": order.currency,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "customer_phone": order.customer_phone,
        "metadata": "{}",
        "_save": "Save",
    }
    # Every inline posts its management form, read-only ones too.
    inlines = (("line_items", len(items)), ("checkout_sessions", 0), ("events", 0), ("refunds", 0), ("deliveries", 0))
    for prefix, count in inlines:
        data.update({f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count})
    data.update({"line_items-MIN_NUM_FORMS": 0, "line_items-MAX_NUM_FORMS": 1000})
    for index, item in enumerate(items):
        data.update(
            {
                f"line_items-{index}-id": item.pk,
                f"line_items-{index}-order": order.pk,
                f"line_items-{index}-name": item.name,
                f"line_items-{index}-price": item.price,
                f"line_items-{index}-quantity": item.quantity,
            }
        )
    return {**data, **overrides}
