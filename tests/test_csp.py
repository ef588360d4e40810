"""Pages work under a Content Security Policy: no template the app or the simulator ships has inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_doku_checkout.testing import SIMULATOR_BASE_URL

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
