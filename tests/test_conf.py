from __future__ import annotations

import pytest

from django_doku_checkout.conf import get_config
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
