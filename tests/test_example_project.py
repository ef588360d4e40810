"""The example shop, run as a user runs it: its own settings, a real server, the simulator."""

from __future__ import annotations

import re

import pytest
import requests

from tests.example_shop import run_manage
from tests.pages import csrf, status_of
from tests.waiting import wait_for

# Subprocesses and servers for seconds per test: the full cells of the matrix only (noxfile.py).
pytestmark = pytest.mark.slow


def test_example_checks_pass(tmp_path):
    result = run_manage("check", "--fail-level", "WARNING", env={"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"})
    assert result.returncode == 0, result.stderr


def test_example_production_settings_pass_check_deploy(tmp_path):
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": "k3Jq9-vX2mLp8sR4tW7yZ1aB6cD0eF5gH9iJ2kL4mN7pQ-r8sT2uV6wX0yZ4",
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "SITE_URL": "https://shop.example.com",
        "DOKU_ENVIRONMENT": "production",
        "DOKU_CLIENT_ID": "BRN-0214-1714016624673",
        "DOKU_SECRET_KEY": "SK-production-secret-value",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SK-production-secret-value" not in result.stdout + result.stderr


def test_example_refuses_its_published_secret_key_with_debug_off(tmp_path):
    """Started as a user deploys it (DEBUG off, DOKU's production keys) but without DJANGO_SECRET_KEY."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "DJANGO_DEBUG": "False",
        "DJANGO_ALLOWED_HOSTS": "shop.example.com",
        "SITE_URL": "https://shop.example.com",
        "DOKU_ENVIRONMENT": "production",
        "DOKU_CLIENT_ID": "BRN-0214-1714016624673",
        "DOKU_SECRET_KEY": "SK-production-secret-value",
    }
    for command in (["check"], ["runserver", "--noreload", "127.0.0.1:1"]):
        result = run_manage(*command, env=env)

        assert result.returncode != 0
        assert "ImproperlyConfigured: DJANGO_DEBUG is False but DJANGO_SECRET_KEY is not set" in result.stderr
        assert "Set DJANGO_SECRET_KEY to a long random value" in result.stderr


def test_seed_demo_names_the_address_the_shop_runs_on(tmp_path):
    """``dev.py shop --port 8123`` sets SITE_URL: the demo admin's address is on that port, not 8000."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "SITE_URL": "http://127.0.0.1:8123"}
    assert run_manage("migrate", "--noinput", env=env).returncode == 0

    seeded = run_manage("seed_demo", env=env)

    assert "Demo admin: http://127.0.0.1:8123/admin/ (user admin, password admin)" in seeded.stdout, seeded.stderr


CUSTOMER = {"name": "Budi", "email": "budi@example.com", "address": "Jl. Sudirman 1", "city": "Jakarta"}


def test_example_shop_journey_ends_paid(example_shop):
    shopper = requests.Session()
    home = shopper.get(example_shop + "/", timeout=5)
    assert "Kopi Toraja 250g" in home.text
    shopper.post(example_shop + "/cart/add/1/", data={"csrfmiddlewaretoken": csrf(home.text)}, timeout=5)
    form = shopper.get(example_shop + "/checkout/", timeout=5)
    invalid = shopper.post(
        example_shop + "/checkout/",
        data={**CUSTOMER, "csrfmiddlewaretoken": csrf(form.text), "phone": "+65 6123 4567"},
        timeout=5,
    )
    assert "Enter an Indonesian phone number" in invalid.text
    # What Django's EmailField accepts but DOKU refuses, and phones that normalize to no number,
    # are errors next to their fields (they were a 500 from create_order).
    for field, value in (("email", "siti@localhost"), ("phone", "0000000000"), ("phone", "00000000000000")):
        refused = shopper.post(
            example_shop + "/checkout/",
            data={**CUSTOMER, "phone": "0812 3456 7890", field: value, "csrfmiddlewaretoken": csrf(invalid.text)},
            timeout=5,
        )
        assert refused.status_code == 200, (field, value, refused.status_code)
        errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', refused.text, re.S).group(1)
        assert f"customer.{field} must be" in errors, (field, value)
    order_page = shopper.post(
        example_shop + "/checkout/",
        data={**CUSTOMER, "csrfmiddlewaretoken": csrf(invalid.text), "phone": "0812 3456 7890"},
        timeout=5,
    )
    assert status_of(order_page.text) == "created"
    pay_url = re.search(r'action="(/doku/pay/[^"]+)"', order_page.text).group(1)
    to_doku = shopper.post(
        example_shop + pay_url, data={"csrfmiddlewaretoken": csrf(order_page.text)}, allow_redirects=False, timeout=10
    )
    assert to_doku.headers["Location"].startswith(example_shop + "/doku-simulator/pay/")
    page = shopper.get(to_doku.headers["Location"], timeout=5)
    back = shopper.post(
        to_doku.headers["Location"],
        data={"csrfmiddlewaretoken": csrf(page.text), "action": "pay", "method": "VIRTUAL_ACCOUNT_BCA"},
        timeout=10,
    )
    assert back.url.startswith(example_shop + "/doku/return/")
    # DOKU's notification reaches the shop on the simulator's own thread.
    wait_for(lambda: status_of(shopper.get(order_page.url, timeout=5).text) == "paid", what="the order shown paid")


def test_example_admin_turns_phone_orders_into_payment_links(example_shop):
    staff = requests.Session()
    login = staff.get(example_shop + "/admin/login/", timeout=5)
    staff.post(
        example_shop + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": csrf(login.text), "username": "admin", "password": "admin"},
        timeout=5,
    )
    changelist = staff.get(example_shop + "/admin/django_doku_checkout/order/", timeout=5)
    assert "DEMO-PHONE-1" in changelist.text
    assert "Rp 198.000" in changelist.text
    order_ids = re.findall(r'name="_selected_action" value="(\d+)"', changelist.text)
    report = staff.post(
        example_shop + "/admin/django_doku_checkout/order/",
        data={
            "csrfmiddlewaretoken": csrf(changelist.text),
            "action": "create_payment_links",
            "_selected_action": order_ids,
        },
        timeout=20,
    )
    links = re.findall(r'class="doku-payment-url">([^<]+)</a>', report.text)
    assert len(links) == 3
    assert all(link.startswith(example_shop + "/doku-simulator/pay/") for link in links)
    assert report.text.count("doku-result-created") == 3


def test_example_cart_answers_bad_quantities_with_400_and_keeps_working(example_shop):
    shopper = requests.Session()
    home = shopper.get(example_shop + "/", timeout=5)
    shopper.post(example_shop + "/cart/add/1/", data={"csrfmiddlewaretoken": csrf(home.text)}, timeout=5)
    token = csrf(shopper.get(example_shop + "/cart/", timeout=5).text)

    for name, value in [("qty-1", "²"), ("qty-abc", "3"), ("qty-1", "-1"), ("qty-1", "1.5"), ("qty-1", "٣")]:
        bad = shopper.post(example_shop + "/cart/", data={"csrfmiddlewaretoken": token, name: value}, timeout=5)
        assert bad.status_code == 400, (name, value)
        assert shopper.get(example_shop + "/cart/", timeout=5).status_code == 200
        assert shopper.get(example_shop + "/checkout/", timeout=5).status_code == 200


def test_example_refuses_the_simulator_without_debug(tmp_path):
    production = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "DJANGO_DEBUG": "False",
        "DJANGO_SECRET_KEY": "k3Jq9-vX2mLp8sR4tW7yZ1aB6cD0eF5gH9iJ2kL4mN7pQ-r8sT2uV6wX0yZ4",
    }
    for doku in ({}, {"DOKU_ENVIRONMENT": "simulator"}):
        result = run_manage("check", env={**production, **doku})
        assert result.returncode != 0
        assert "will not use the DOKU simulator (it takes any payment)" in result.stderr
