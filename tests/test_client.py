from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time

import pytest
import requests
import responses

from django_doku_checkout import signatures
from django_doku_checkout.client import DokuClient, error_messages
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from tests.doku import CLIENT_ID, SANDBOX, SECRET, checkout_success

BODY = {"order": {"amount": 20000, "invoice_number": "INV-20210231-0001"}, "payment": {"payment_due_date": 60}}
CHECKOUT_URL = SANDBOX + "/checkout/v1/payment"


def test_post_signs_the_exact_bytes_it_sends(doku_api):
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    response = DokuClient().create_checkout_payment(BODY, request_id="fdb69f47-96da-499d-acec-7cdc318ab2fe")
    assert response.status_code == 200
    assert response.data["response"]["payment"]["token_id"] == "tok123"
    sent = doku_api.calls[0].request
    assert (
        sent.body
        == b'{"order":{"amount":20000,"invoice_number":"INV-20210231-0001"},"payment":{"payment_due_date":60}}'
    )
    assert sent.headers["Client-Id"] == CLIENT_ID
    assert sent.headers["Request-Id"] == "fdb69f47-96da-499d-acec-7cdc318ab2fe"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["User-Agent"].startswith("django-doku-checkout/")
    timestamp = sent.headers["Request-Timestamp"]
    assert signatures.parse_timestamp(timestamp) is not None
    assert signatures.verify(
        sent.headers["Signature"],
        secret_keys=[SECRET],
        client_id=CLIENT_ID,
        request_id="fdb69f47-96da-499d-acec-7cdc318ab2fe",
        timestamp=timestamp,
        target="/checkout/v1/payment",
        body=sent.body,
    )
    assert doku_api.calls[0].request.req_kwargs["timeout"] == (5.0, 15.0)


def test_each_logical_request_gets_a_fresh_request_id(doku_api):
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    client = DokuClient()
    client.create_checkout_payment(BODY)
    client.create_checkout_payment(BODY)
    ids = {call.request.headers["Request-Id"] for call in doku_api.calls}
    assert len(ids) == 2


def test_get_status_signs_without_digest_and_quotes_the_identifier(doku_api):
    doku_api.get(SANDBOX + "/orders/v1/status/INV%2F1", json={"transaction": {"status": "PENDING"}})
    response = DokuClient().get_status("INV/1")
    assert response.data == {"transaction": {"status": "PENDING"}}
    sent = doku_api.calls[0].request
    assert sent.body is None
    assert "Content-Type" not in sent.headers
    assert signatures.verify(
        sent.headers["Signature"],
        secret_keys=[SECRET],
        client_id=CLIENT_ID,
        request_id=sent.headers["Request-Id"],
        timestamp=sent.headers["Request-Timestamp"],
        target="/orders/v1/status/INV%2F1",
        body=None,
    )


def test_400_raises_api_error_with_dokus_messages_and_our_request_id(doku_api):
    doku_api.post(
        CHECKOUT_URL,
        status=400,
        json={"error_messages": ["order.invoice_number must be filled", "order.amount must greater than 0"]},
    )
    with pytest.raises(DokuAPIError) as raised:
        DokuClient().create_checkout_payment(BODY, request_id="req-400")
    error = raised.value
    assert error.status_code == 400
    assert error.messages == ["order.invoice_number must be filled", "order.amount must greater than 0"]
    assert error.request_id == "req-400"
    assert "HTTP 400" in str(error)
    assert "req-400" in str(error)
    assert len(doku_api.calls) == 1  # a 4xx is never retried


def test_401_with_error_object(doku_api):
    doku_api.post(
        CHECKOUT_URL, status=401, json={"error": {"code": "invalid_signature", "message": "Invalid Header Signature"}}
    )
    with pytest.raises(DokuAPIError, match="invalid_signature: Invalid Header Signature") as raised:
        DokuClient().create_checkout_payment(BODY)
    assert raised.value.status_code == 401


def test_409_is_the_original_answer_and_counts_as_success(doku_api):
    doku_api.post(CHECKOUT_URL, status=409, json=checkout_success("INV-20210231-0001"))
    response = DokuClient().create_checkout_payment(BODY)
    assert response.replayed
    assert response.data["response"]["payment"]["url"].startswith("https://sandbox.doku.com/")


def test_5xx_is_retried_with_the_same_request_id_and_bytes(doku_api):
    doku_api.post(CHECKOUT_URL, status=503, body="upstream down")
    doku_api.post(CHECKOUT_URL, status=502, body="bad gateway")
    doku_api.post(CHECKOUT_URL, status=200, json=checkout_success())
    response = DokuClient().create_checkout_payment(BODY)
    assert response.status_code == 200
    assert len(doku_api.calls) == 3
    assert len({call.request.headers["Request-Id"] for call in doku_api.calls}) == 1
    assert len({call.request.headers["Signature"] for call in doku_api.calls}) == 1
    assert len({call.request.body for call in doku_api.calls}) == 1


def test_5xx_after_the_last_retry_raises(doku_api, doku_settings):
    doku_settings(MAX_RETRIES=1)
    doku_api.post(CHECKOUT_URL, status=500, body="<html>Internal error</html>")
    with pytest.raises(DokuAPIError) as raised:
        DokuClient().create_checkout_payment(BODY)
    assert raised.value.status_code == 500
    assert raised.value.messages == ["<html>Internal error</html>"]
    assert len(doku_api.calls) == 2


def test_timeout_is_retried_then_raises_transport_error(doku_api):
    doku_api.post(CHECKOUT_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(DokuTransportError, match="timed out after 3 attempt") as raised:
        DokuClient().create_checkout_payment(BODY, request_id="req-timeout")
    assert raised.value.request_id == "req-timeout"
    assert isinstance(raised.value.__cause__, requests.ReadTimeout)
    assert len(doku_api.calls) == 3


def test_timeout_then_409_replay_succeeds(doku_api):
    doku_api.post(CHECKOUT_URL, body=requests.ConnectionError("reset"))
    doku_api.post(CHECKOUT_URL, status=409, json=checkout_success())
    response = DokuClient().create_checkout_payment(BODY)
    assert response.replayed
    assert doku_api.calls[0].request.headers["Request-Id"] == doku_api.calls[1].request.headers["Request-Id"]


def test_one_call_ends_by_the_deadline_whatever_the_retries(doku_settings):
    # A real listener that accepts and never answers: DOKU hanging, as seen from the shop.
    doku_settings(TIMEOUT=(1, 1), MAX_RETRIES=10, RETRY_BACKOFF=0.2, DEADLINE=2)
    with socket.create_server(("127.0.0.1", 0)) as silent:
        doku_settings(API_BASE_URL=f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(DokuTransportError, match=r"timed out after 2 attempt\(s\) in 2\.\d s") as raised:
            DokuClient().get_status("INV-1")
        took = time.monotonic() - started
    # Without the deadline: 11 attempts of a 1 s read timeout and their pauses, about 22 s.
    assert 1.9 < took < 2.6
    assert isinstance(raised.value.__cause__, requests.Timeout)


def test_connection_refused_is_a_transport_error():
    client = DokuClient()
    client.config = type(client.config)(
        client_id=CLIENT_ID, secret_key=SECRET, api_base_url="http://127.0.0.1:9", max_retries=0, connect_timeout=1
    )
    with pytest.raises(DokuTransportError, match="could not be reached"):
        client.get_status("INV-1")


def test_nothing_listening_names_the_host_the_real_time_and_the_likely_cause(doku_settings):
    # A port nothing listens on: refused at once, as when the simulator was not started.
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    doku_settings(ENVIRONMENT="simulator", API_BASE_URL=f"http://127.0.0.1:{port}", MAX_RETRIES=0, DEADLINE=25)
    with pytest.raises(DokuTransportError) as raised:
        DokuClient().get_status("INV-1")
    message = str(raised.value)
    assert f"http://127.0.0.1:{port}" in message  # the host it tried
    assert "in 25 s" not in message
    assert re.search(r"in 0\.\d s", message)
    assert "nothing is listening" in message
    assert "is the simulator running" in message


def test_a_refused_connection_to_sandbox_suggests_the_network_not_the_simulator(doku_settings):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    doku_settings(ENVIRONMENT="sandbox", API_BASE_URL=f"http://127.0.0.1:{port}", MAX_RETRIES=0)
    with pytest.raises(DokuTransportError) as raised:
        DokuClient().get_status("INV-1")
    message = str(raised.value)
    assert "nothing is listening" in message
    assert "simulator" not in message
    assert "API_BASE_URL" in message


def test_https_proxy_from_the_environment_carries_the_call(monkeypatch, doku_settings):
    # A real listener stands in for the shop's proxy and records what the client asks of it.
    doku_settings(MAX_RETRIES=0, TIMEOUT=2)
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.getsockname()[1]}")
        client = DokuClient()
        asked: list[bytes] = []

        def answer_once() -> None:
            connection, _ = proxy.accept()
            with connection:
                asked.append(connection.recv(4096))
                connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        listener = threading.Thread(target=answer_once)
        listener.start()
        with pytest.raises(DokuTransportError):
            client.get_status("INV-1")
        listener.join(timeout=5)
    assert asked
    assert asked[0].startswith(b"CONNECT api-sandbox.doku.com:443 ")


def test_no_proxy_ca_bundle_and_netrc_from_the_environment(monkeypatch, tmp_path, doku_api):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "doku.com")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "corporate-ca.pem"))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api-sandbox.doku.com login shop password hunter2\n")
    monkeypatch.setenv("NETRC", str(netrc))
    client = DokuClient()
    assert client.session.proxies == {}
    assert client.session.verify == str(tmp_path / "corporate-ca.pem")
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    client.session.verify = True  # the bundle file does not exist; responses never checks it anyway
    client.create_checkout_payment(BODY)
    # DOKU authenticates by signature: a netrc password must never be sent along.
    assert "Authorization" not in doku_api.calls[0].request.headers


@pytest.mark.parametrize(("status", "body"), [(200, "<html>not json</html>"), (200, "[1, 2]"), (502, "")])
def test_malformed_answers_raise_api_error(doku_api, doku_settings, status, body):
    doku_settings(MAX_RETRIES=0)
    doku_api.post(CHECKOUT_URL, status=status, body=body)
    with pytest.raises(DokuAPIError) as raised:
        DokuClient().create_checkout_payment(BODY)
    assert raised.value.status_code == status
    assert raised.value.messages


def test_error_messages_reads_every_doku_shape():
    assert error_messages({"error_messages": ["a", "b"]}) == ["a", "b"]
    assert error_messages({"message": ["FAILED"]}) == ["FAILED"]
    assert error_messages({"message": "Bad request"}) == ["Bad request"]
    assert error_messages({"error": {"code": "X1", "message": "Nope", "type": "t"}}) == ["X1: Nope"]
    assert error_messages(None, "raw text") == ["raw text"]
    assert error_messages({}, "") == []


def test_secret_and_signature_never_reach_logs_or_errors(doku_api, caplog):
    doku_api.post(CHECKOUT_URL, status=401, json={"message": ["Invalid signature"]})
    doku_api.get(SANDBOX + "/orders/v1/status/INV-1", body=requests.ConnectTimeout("boom"))
    caplog.set_level(logging.DEBUG)
    client = DokuClient()
    errors = []
    for call in (lambda: client.create_checkout_payment(BODY), lambda: client.get_status("INV-1")):
        with pytest.raises((DokuAPIError, DokuTransportError)) as raised:
            call()
        errors.append(raised.value)
    signatures_sent = [c.request.headers["Signature"] for c in doku_api.calls]
    text = caplog.text + " ".join(str(e) + repr(e) for e in errors) + repr(client.config)
    assert SECRET not in text
    for signature in signatures_sent:
        assert signature not in text
        assert signature.removeprefix("HMACSHA256=") not in text
    assert "Request-Id" in caplog.text


def test_base_url_follows_api_base_url(doku_api, doku_settings):
    doku_settings(API_BASE_URL="http://127.0.0.1:8000/doku-simulator")
    doku_api.post("http://127.0.0.1:8000/doku-simulator/checkout/v1/payment", json=checkout_success())
    DokuClient().create_checkout_payment(BODY)
    sent = doku_api.calls[0].request
    assert json.loads(sent.body) == BODY
    # The endpoint path is what DOKU signs, whatever prefix the host is mounted under.
    assert signatures.verify(
        sent.headers["Signature"],
        secret_keys=[SECRET],
        client_id=CLIENT_ID,
        request_id=sent.headers["Request-Id"],
        timestamp=sent.headers["Request-Timestamp"],
        target="/checkout/v1/payment",
        body=sent.body,
    )


def test_card_payment_page_endpoint(doku_api):
    doku_api.post(SANDBOX + "/credit-card/v1/payment-page", json={"credit_card_payment_page": {"url": "https://x"}})
    response = DokuClient().create_card_payment_page({"order": {}})
    assert response.data["credit_card_payment_page"]["url"] == "https://x"
    assert doku_api.calls[0].request.url.endswith("/credit-card/v1/payment-page")


def test_responses_mock_records_real_requests_session_usage(doku_api):
    doku_api.add(responses.POST, CHECKOUT_URL, json=checkout_success())
    client = DokuClient(session=requests.Session())
    client.create_checkout_payment(BODY)
    assert str(client.session.headers["User-Agent"]).startswith("django-doku-checkout/")
