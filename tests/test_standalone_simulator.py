"""``python -m django_doku_checkout.simulator`` serves DOKU's API on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import DokuCheckoutSettings
from django_doku_checkout.exceptions import DokuAPIError
from tests.servers import free_port
from tests.waiting import wait_until_serving

# Subprocesses and servers for seconds per test: the full cells of the matrix only (noxfile.py).
pytestmark = pytest.mark.slow


def test_standalone_simulator_creates_links_and_answers_status():
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "django_doku_checkout.simulator",
            "--port",
            str(port),
            "--client-id",
            "C1",
            "--secret-key",
            "S1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        client = DokuClient(DokuCheckoutSettings(client_id="C1", secret_key="S1", api_base_url=base, max_retries=0))
        created = client.create_checkout_payment({"order": {"amount": 15000, "invoice_number": "INV-STANDALONE"}})
        assert created.data["response"]["payment"]["url"].startswith(base + "/pay/")
        assert client.get_status("INV-STANDALONE").data["transaction"]["status"] == "PENDING"
        page = requests.get(created.data["response"]["payment"]["url"], timeout=5)
        assert "INV-STANDALONE" in page.text
        wrong = DokuClient(DokuCheckoutSettings(client_id="C1", secret_key="nope", api_base_url=base, max_retries=0))
        with pytest.raises(DokuAPIError) as raised:
            wrong.get_status("INV-STANDALONE")
        assert raised.value.status_code == 401
        # Its dashboard is the developer's: alone on loopback, with no user accounts.
        assert "INV-STANDALONE" in requests.get(base + "/", timeout=5).text
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    # Started without a notification URL, it says so.
    assert "no --notification-url" in errors


def test_standalone_simulator_help_names_the_program_and_explains_every_option():
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "django_doku_checkout.simulator", "--help"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("usage: python -m django_doku_checkout.simulator")
    for option, explained in [
        ("--port", "port to listen on"),
        ("--client-id", "CLIENT_ID"),
        ("--secret-key", "SECRET_KEY"),
        ("--notification-url", "notification endpoint"),
    ]:
        assert option in result.stdout
        assert explained in result.stdout
