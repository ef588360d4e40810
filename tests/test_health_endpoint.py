"""The health endpoint over HTTP against a running server: off without ``HEALTH_TOKEN``, never open without it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.models import Order, ReconciliationRun
from tests.doku import SECRET, paid_quietly
from tests.test_health import TOKEN, paid_with_notification, reconciled


@pytest.fixture
def health_url(live_doku) -> str:
    return live_doku + reverse("doku_checkout:health")


def get(url: str, token: str | None = TOKEN, **headers: str) -> requests.Response:
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return requests.get(url, headers=headers, timeout=10)


@pytest.fixture
def healthy(live_doku, order_factory, doku_settings) -> Order:
    doku_settings(HEALTH_TOKEN=TOKEN)
    order = paid_with_notification(order_factory)
    reconciled()
    return order


def test_without_a_token_setting_the_endpoint_is_off(health_url, order_factory):
    paid_with_notification(order_factory)
    assert get(health_url).status_code == 404
    off = get(health_url, token="")
    assert off.status_code == 404
    assert "no-store" in off.headers["Cache-Control"]  # a proxy must not keep "off" once the token is set


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_read_in_any_case(healthy, health_url, scheme):
    """RFC 7235: an authentication scheme's name is case-insensitive; some monitors send it lower-case."""
    assert get(health_url, Authorization=f"{scheme} {TOKEN}").status_code == 200


def test_an_empty_token_setting_is_off_too(health_url, order_factory, doku_settings):
    doku_settings(HEALTH_TOKEN="")  # os.environ.get("DOKU_HEALTH_TOKEN") with DOKU_HEALTH_TOKEN= in the environment
    paid_with_notification(order_factory)
    assert get(health_url, token="").status_code == 404


def test_a_healthy_shop_answers_200_with_its_findings(healthy, health_url):
    response = get(health_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert [finding["name"] for finding in body["findings"]] == [
        "notifications",
        "recovered_payments",
        "reconciliation",
        "pending_orders",
        "deliveries",
        "refunds",
    ]


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, f"Bearer  {TOKEN} extra"],
)
def test_without_the_right_token_nothing_is_read(healthy, health_url, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.get(health_url, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="doku-checkout-health"'
    assert "no-store" in response.headers["Cache-Control"]
    assert healthy.invoice_number not in response.text
    assert "status" not in response.text


def test_the_token_is_not_taken_from_the_query_string(healthy, health_url):
    assert requests.get(health_url, params={"token": TOKEN}, timeout=10).status_code == 401


def test_head_is_answered_like_get_without_a_body(healthy, health_url):
    response = requests.head(health_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_with_the_token_get_a_json_405(healthy, health_url, method):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.request(method, health_url, headers=bearer, data=b"x" * 100, timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Only GET and HEAD are answered."}
    assert healthy.invoice_number not in response.text


@pytest.mark.parametrize("method", ["HEAD", "POST", "PUT", "DELETE"])
def test_without_the_token_every_method_gets_401(healthy, health_url, method):
    response = requests.request(method, health_url, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="doku-checkout-health"'


@pytest.fixture
def unreadable_runs():
    """Reconciliation's runs table gone from under the server (a shop that never ran migrate), put back after."""
    table = ReconciliationRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table}_away RENAME TO {table}")


def test_a_database_it_cannot_read_answers_503_unknown(healthy, health_url, unreadable_runs):
    response = get(health_url)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "unknown"
    # The error's class only (OperationalError on SQLite, ProgrammingError on PostgreSQL).
    assert re.fullmatch(
        r"The health check could not read the database \((Operational|Programming)Error\)\.", body["message"]
    )
    assert "no-store" in response.headers["Cache-Control"]
    assert ReconciliationRun._meta.db_table not in response.text  # the class only, never the database's words


def test_a_warning_answers_200_and_says_so(healthy, health_url, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    reconciled()  # settled by reconciliation: its notification never arrived

    response = get(health_url)

    assert response.status_code == 200
    assert response.json()["status"] == "warning"
    [recovered] = [f for f in response.json()["findings"] if f["name"] == "recovered_payments"]
    assert recovered["invoice_numbers"] == [order.invoice_number]


def test_critical_answers_503(live_doku, health_url, order_factory, doku_settings):
    doku_settings(HEALTH_TOKEN=TOKEN)
    paid_with_notification(order_factory)  # and reconciliation never ran

    response = get(health_url)

    assert response.status_code == 503
    assert response.json()["status"] == "critical"


def test_the_answer_holds_no_secret(healthy, health_url, order_factory):
    old = order_factory()
    services.create_payment_link(old)
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    text = get(health_url).text
    assert old.invoice_number in text  # invoice numbers and counts are what it shows
    for secret in (settings.SECRET_KEY, SECRET, TOKEN, old.customer_email, old.customer_name, old.customer_phone):
        assert secret not in text
