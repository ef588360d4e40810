"""``python -m django_doku_checkout.simulator`` serves DOKU's API on its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest
import requests

from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import DokuCheckoutSettings
from django_doku_checkout.exceptions import DokuAPIError


def test_standalone_simulator_creates_links_and_answers_status():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
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
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
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
    finally:
        server.terminate()
        server.wait(timeout=10)
