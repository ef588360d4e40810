from __future__ import annotations

import dataclasses
import importlib.util
import posixpath
from pathlib import Path

import pytest

from django_doku_checkout.conf import DEFAULTS, SETTINGS, DokuCheckoutSettings, get_config
from django_doku_checkout.exceptions import DokuConfigurationError


def test_defaults_and_environment_base_urls(doku_settings):
    config = get_config()
    assert config.api_base_url == "https://api-sandbox.doku.com"
    assert (config.connect_timeout, config.read_timeout) == (5.0, 15.0)
    assert config.payment_due_date == 60
    doku_settings(ENVIRONMENT="production", TIMEOUT=7)
    config = get_config()
    assert config.api_base_url == "https://api.doku.com"
    assert (config.connect_timeout, config.read_timeout) == (7.0, 7.0)
    doku_settings(ENVIRONMENT="simulator")
    assert get_config().api_base_url == "http://127.0.0.1:8765"


def test_api_base_url_overrides_any_environment(doku_settings):
    doku_settings(ENVIRONMENT="production", API_BASE_URL="http://127.0.0.1:9000/doku-simulator/")
    assert get_config().api_base_url == "http://127.0.0.1:9000/doku-simulator"


def test_config_is_read_lazily_so_overrides_apply_at_once(doku_settings):
    assert get_config().client_id == "MCH-0001-10791114622547"
    doku_settings(CLIENT_ID="BRN-0214-1714016624673")
    assert get_config().client_id == "BRN-0214-1714016624673"


def test_repr_hides_every_secret(doku_settings):
    doku_settings(PREVIOUS_SECRET_KEYS=["SK-old-secret-999"])
    config = get_config()
    text = repr(config) + str(config)
    assert "SK-test-secret-123" not in text
    assert "SK-old-secret-999" not in text
    assert "MCH-0001-10791114622547" in text
    assert config.verification_keys == ("SK-test-secret-123", "SK-old-secret-999")


def test_invalid_setting_raises_configuration_error_naming_the_key(doku_settings):
    doku_settings(SECRET_KEY="")
    with pytest.raises(DokuConfigurationError, match=r"DOKU_CHECKOUT\['SECRET_KEY'\] must be a non-empty string"):
        get_config()


def test_missing_setting_raises(settings):
    del settings.DOKU_CHECKOUT
    with pytest.raises(DokuConfigurationError, match="DOKU_CHECKOUT setting is missing"):
        get_config()


def docs_hooks():
    """docs/hooks.py, the MkDocs hook that writes the settings page's table."""
    path = Path(__file__).parents[1] / "docs" / "hooks.py"
    spec = importlib.util.spec_from_file_location("docs_hooks", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_settings_page_table_is_generated_from_the_declaration():
    hooks = docs_hooks()
    page = (Path(__file__).parents[1] / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page.count(hooks.SETTINGS_TABLE) == 1
    assert "| `CLIENT_ID` |" not in page  # no hand-written copy beside the generated one

    rows = hooks.settings_table().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{key}`" for key in DEFAULTS]
    assert "| `DELIVERY_LEASE` | `300` | a whole number from 60 to 86400 (E042) | seconds a process" in "\n".join(rows)
    assert "| `API_BASE_URL` | per environment | an http(s) URL" in rows[3]


def test_the_operations_page_gives_the_health_settings_defaults_of_the_declaration():
    page = (Path(__file__).parents[1] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = page.split("## Health checks for monitors", 1)[1].split("\n## ", 1)[0]
    health = [setting for setting in SETTINGS if setting.key.startswith("HEALTH_") and setting.has_default]
    assert len(health) == 3
    for setting in health:
        assert f"`{setting.key}`, default {setting.shown}" in section


def test_every_relative_link_of_the_docs_works_in_the_repository_and_on_the_site():
    hooks = docs_hooks()
    docs = Path(__file__).parents[1] / "docs"
    for page in docs.rglob("*.md"):
        for match in hooks.LINK.finditer(page.read_text(encoding="utf-8")):
            assert (page.parent / match.group(1)).exists(), f"{page.name}: {match.group(0)}"
    # The site has the benchmarks' README beside the docs' pages: the hook rewrites the link.
    site = hooks.rewrite_links("[benchmark](../benchmarks/README.md)", "docs/operations.md", "operations.md")
    assert site == "[benchmark](benchmarks/README.md)"
    nested = hooks.rewrite_links(
        "[map](../../CONTRIBUTING.md#x)", "docs/reference/services.md", "reference/services.md"
    )
    assert nested == "[map](../contributing.md#x)"
    assert posixpath.normpath("docs/../benchmarks/README.md") in hooks.INCLUDED


def test_each_key_is_declared_once_with_its_own_check_id():
    keys = [setting.key for setting in SETTINGS]
    assert len(keys) == len(set(keys)) == len(DEFAULTS)
    check_ids = [setting.check_id for setting in SETTINGS]
    assert len(check_ids) == len(set(check_ids))
    assert all(setting.help and setting.rule.expected for setting in SETTINGS)
    # Every field of the settings object is read from a declared key; TIMEOUT fills two.
    declared = [spec.metadata["setting"].key for spec in dataclasses.fields(DokuCheckoutSettings)]
    assert declared.count("TIMEOUT") == 2
    assert set(declared) == set(keys)
