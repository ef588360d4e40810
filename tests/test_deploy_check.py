"""``manage.py check --deploy`` means "about to deploy": the simulator and published keys fail it whatever DEBUG says.

``django-admin startproject`` leaves ``DEBUG = True``; a shop that runs ``check --deploy``
before flipping it (Django then warns W018) must still hear that its DOKU settings would
take free payments.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

SIMULATOR_AS_DOCUMENTED = {
    "CLIENT_ID": "SIMULATOR-CLIENT",
    "SECRET_KEY": "simulator-secret",
    "ENVIRONMENT": "simulator",
    "API_BASE_URL": "http://127.0.0.1:8765",
    "SITE_URL": "http://127.0.0.1:8000",
}


@pytest.mark.parametrize("debug", [True, False])
def test_check_deploy_fails_for_the_simulator_and_its_published_key_whatever_debug_says(settings, debug, capsys):
    settings.DEBUG = debug
    settings.DOKU_CHECKOUT = SIMULATOR_AS_DOCUMENTED

    with pytest.raises(SystemCheckError) as raised:
        call_command("check", deploy=True, tags=["security"])

    report = str(raised.value)
    assert "django_doku_checkout.E027" in report
    assert "django_doku_checkout.E028" in report
    assert "while DEBUG is False" not in report


def test_check_deploy_warns_about_the_sandbox_with_debug_on(settings):
    settings.DEBUG = True
    settings.DOKU_CHECKOUT = {**SIMULATOR_AS_DOCUMENTED, "ENVIRONMENT": "sandbox", "SECRET_KEY": "SK-sandbox-key"}
    settings.DOKU_CHECKOUT.pop("API_BASE_URL")

    with pytest.raises(SystemCheckError, match="django_doku_checkout.W003"):
        call_command("check", deploy=True, tags=["security"], fail_level="WARNING")


def test_plain_check_stays_quiet_about_the_simulator_in_development(settings, capsys):
    settings.DEBUG = True
    settings.DOKU_CHECKOUT = SIMULATOR_AS_DOCUMENTED

    call_command("check", tags=["security"], fail_level="WARNING")

    assert "django_doku_checkout" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("site_url", "why"),
    [
        ("http://localhost:8000", "it is http, not https; localhost is a name only this machine or its network knows"),
        ("https://192.168.1.20", "192.168.1.20 is a private address"),
        ("http://shop.example.com", "it is http, not https"),
    ],
)
def test_check_deploy_fails_a_site_url_doku_cannot_call_outside_the_simulator(settings, site_url, why):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {**SIMULATOR_AS_DOCUMENTED, "ENVIRONMENT": "production", "SECRET_KEY": "SK-live"}
    settings.DOKU_CHECKOUT.pop("API_BASE_URL")
    settings.DOKU_CHECKOUT["SITE_URL"] = site_url

    with pytest.raises(SystemCheckError) as raised:
        call_command("check", deploy=True, tags=["security"])

    assert (
        f"(django_doku_checkout.E050) DOKU_CHECKOUT['SITE_URL'] is {site_url!r} while DOKU_CHECKOUT['ENVIRONMENT'] "
        f"is 'production': DOKU cannot call its notification URL: {why}." in str(raised.value)
    )


def test_check_deploy_takes_a_public_https_site_url_and_any_for_the_simulator(settings, capsys):
    settings.DEBUG = False
    settings.DOKU_CHECKOUT = {
        **SIMULATOR_AS_DOCUMENTED,
        "ENVIRONMENT": "production",
        "SECRET_KEY": "SK-live",
        "SITE_URL": "https://shop.example.com",
    }
    settings.DOKU_CHECKOUT.pop("API_BASE_URL")

    call_command("check", deploy=True, tags=["security"])

    settings.DOKU_CHECKOUT = SIMULATOR_AS_DOCUMENTED
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", deploy=True, tags=["security"])
    assert "E050" not in str(raised.value)
