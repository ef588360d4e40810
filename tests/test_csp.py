"""Pages work under a Content Security Policy: no template the app or the simulator ships has inline script or style."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from django_doku_checkout.testing import SIMULATOR_BASE_URL
from tests.test_checks import VALID

ROOT = Path(__file__).parents[1]
TEMPLATE_DIRS = [
    ROOT / "django_doku_checkout" / "templates",
    ROOT / "django_doku_checkout" / "simulator" / "templates",
    ROOT / "example_project" / "shop" / "templates",
]
#: What a policy without 'unsafe-inline' blocks: inline script and style elements, style
#: attributes, event-handler attributes and javascript: URLs.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE)


@pytest.mark.parametrize(
    "template",
    [path for folder in TEMPLATE_DIRS for path in sorted(folder.rglob("*.html"))],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_no_inline_script_or_style(template):
    assert INLINE.findall(template.read_text()) == []


def test_the_pattern_finds_what_a_policy_blocks():
    for inline in ["<script>alert(1)</script>", "<style>b{}</style>", '<p style="x">', '<a onclick="x">']:
        assert INLINE.search(inline), inline
    assert not INLINE.search('<script src="/static/x.js" defer nonce="abc"></script>')


def test_scripts_carry_the_pages_nonce(rf, order_factory, doku_simulator):
    from django.template import Context, Template

    order = order_factory()
    request = rf.get("/")
    html = Template('{% load doku_checkout %}{% doku_pay_button order mode="popup" %}').render(
        Context({"order": order, "request": request, "csp_nonce": "n0nce"})
    )
    assert re.search(r'<script src="/static/django_doku_checkout/popup.js" defer nonce="n0nce"></script>', html)
    assert f'data-doku-checkout-js="{SIMULATOR_BASE_URL}/jokul-checkout-js/v1/jokul-checkout-1.0.0.js"' in html


@pytest.mark.parametrize(
    ("environment", "script"),
    [
        ("sandbox", "https://sandbox.doku.com/jokul-checkout-js/v1/jokul-checkout-1.0.0.js"),
        ("production", "https://jokul.doku.com/jokul-checkout-js/v1/jokul-checkout-1.0.0.js"),
    ],
)
def test_dokus_checkout_js_comes_from_the_environments_host(doku_settings, environment, script):
    from django_doku_checkout.conf import get_config

    doku_settings(ENVIRONMENT=environment, API_BASE_URL=None, CLIENT_ID="BRN-0214-1714016624673", SECRET_KEY="k")
    assert get_config().checkout_js_url == script


# --- what DOKU's pages need from the shop's policy (check W006 and doku_sources) ----------------------

TRAFFIC = Path(__file__).parent / "doku_traffic"
#: Every payment URL DOKU was seen handing out, per environment, with its source.
PAYMENT_URLS = json.loads((TRAFFIC / "payment_urls.json").read_text())
STYLESHEET = "/jokul-checkout-js/v1/jokul-checkout-1.0.0.css"


def csp_warnings():
    from django_doku_checkout.checks import find_csp_problems

    return find_csp_problems()


def doku_policy(environment: str, *, popup: bool = True) -> dict[str, list[str]]:
    """The shop's policy as docs/shopper.md writes it: 'self' plus what doku_sources() adds."""
    from django_doku_checkout.csp import doku_sources

    sources = doku_sources(environment, popup=popup)
    return {"default-src": ["'self'"], **{name: ["'self'", *extra] for name, extra in sources.items()}}


@pytest.mark.parametrize("environment", ["sandbox", "production"])
def test_the_policy_lets_through_every_payment_url_doku_hands_out(environment):
    from django_doku_checkout.csp import source_allows
    from django_doku_checkout.services.payment_urls import payment_url_allowed

    policy = doku_policy(environment)
    for url in PAYMENT_URLS[environment]:
        for directive in ("form-action", "frame-src"):  # the redirect, and the pop-up's frame
            assert any(source_allows(s, url + "?view=iframe", site_origin=None) for s in policy[directive]), url
        assert payment_url_allowed(url), url


@pytest.mark.parametrize(
    ("environment", "script", "stylesheets"),
    [
        ("sandbox", "https://sandbox.doku.com", ["https://sandbox.doku.com", "https://jokul.doku.com"]),
        ("production", "https://jokul.doku.com", ["https://jokul.doku.com"]),
    ],
)
def test_the_policy_lets_through_dokus_script_and_its_stylesheet(environment, script, stylesheets):
    from django_doku_checkout.csp import source_allows

    policy = doku_policy(environment)
    assert any(
        source_allows(s, script + "/jokul-checkout-js/v1/jokul-checkout-1.0.0.js", site_origin=None)
        for s in policy["script-src"]
    )
    for host in stylesheets:
        assert any(source_allows(s, host + STYLESHEET, site_origin=None) for s in policy["style-src"]), host


def test_redirect_mode_needs_form_action_only():
    from django_doku_checkout.csp import doku_sources

    assert doku_sources("sandbox", popup=False) == {
        "form-action": ["https://staging.doku.com", "https://sandbox.doku.com"]
    }


@pytest.mark.parametrize("environment", ["sandbox", "production"])
@pytest.mark.parametrize("mode", ["redirect", "popup"])
def test_w006_passes_the_policy_the_docs_give(settings, environment, mode):
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": environment, "PAY_BUTTON_MODE": mode}
    settings.SECURE_CSP = doku_policy(environment, popup=mode == "popup")
    assert csp_warnings() == []


def test_w006_when_the_sandbox_policy_names_sandbox_doku_com_only(settings):
    """The sandbox hands out staging.doku.com links: the redirect and the pop-up's frame go there."""
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "sandbox", "PAY_BUTTON_MODE": "popup"}
    doku = "https://sandbox.doku.com"
    settings.SECURE_CSP = {
        "default-src": ["'self'"],
        "form-action": ["'self'", doku],
        "script-src": ["'self'", doku],
        "frame-src": ["'self'", doku],
        "style-src": ["'self'", doku, "https://jokul.doku.com"],
    }
    assert [(m.id, m.hint) for m in csp_warnings()] == [
        ("django_doku_checkout.W006", "Add 'https://staging.doku.com' to SECURE_CSP['form-action']."),
        ("django_doku_checkout.W006", "Add 'https://staging.doku.com' to SECURE_CSP['frame-src']."),
    ]


@pytest.mark.parametrize(
    ("policy", "hint"),
    [
        ({"style-src": ["'self'"]}, "Add 'https://jokul.doku.com' to SECURE_CSP['style-src']."),
        ({}, "Add 'https://jokul.doku.com' to SECURE_CSP['style-src']."),  # default-src 'self' decides
        (
            {"style-src-elem": ["'self'"], "style-src": ["https://jokul.doku.com"]},
            "Add 'https://jokul.doku.com' to SECURE_CSP['style-src-elem'].",
        ),
        ({"style-src": ["'self'", "https://jokul.doku.com"]}, None),
    ],
)
def test_w006_when_the_policy_blocks_the_popups_stylesheet(settings, policy, hint):
    """DOKU's Checkout JS adds jokul-checkout-1.0.0.css from DOKU's host: style-src 'self' leaves its modal unstyled."""
    settings.DOKU_CHECKOUT = {**VALID, "ENVIRONMENT": "production", "PAY_BUTTON_MODE": "popup"}
    sources = doku_policy("production")
    del sources["style-src"]
    settings.SECURE_CSP = {**sources, **policy}
    warnings = csp_warnings()
    assert [m.hint for m in warnings] == ([hint] if hint else [])
    if hint:
        assert "DOKU's pop-up" in warnings[0].msg
        assert "stylesheet" in warnings[0].msg


def test_the_documented_production_policy_is_what_doku_sources_gives():
    """docs/shopper.md spells out the production policy; it says what doku_sources() adds."""
    from django_doku_checkout.csp import doku_sources

    text = (Path(__file__).parents[1] / "docs" / "shopper.md").read_text()
    documented = {
        directive: json.loads(f"[{sources}]")
        for directive, sources in re.findall(r'^    "([a-z-]+)": \[CSP\.SELF, (.+?)\],', text, re.MULTILINE)
    }
    assert documented == doku_sources("production")
