from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from django_doku_checkout import signatures

SECRET = "SK-test-secret-123"
CLIENT_ID = "MCH-0001-10791114622547"
TIMESTAMP = "2020-08-11T08:45:42Z"
TV1_BODY = b'{"order":{"amount":20000,"invoice_number":"INV-20210231-0001"},"payment":{"payment_due_date":60}}'
TV1_REQUEST_ID = "fdb69f47-96da-499d-acec-7cdc318ab2fe"
TV2_REQUEST_ID = "d895fb53-479c-4f77-a76a-ab81b40d77cb"
TV2_TARGET = "/orders/v1/status/INV-123123-12313"


def sign_tv1(body: bytes) -> str:
    return signatures.sign(
        SECRET,
        client_id=CLIENT_ID,
        request_id=TV1_REQUEST_ID,
        timestamp=TIMESTAMP,
        target="/checkout/v1/payment",
        body=body,
    )


def test_tv1_digest_component_string_and_signature():
    assert signatures.digest(TV1_BODY) == "iDUNgGutnjXGk8dcBw0J4EtC2qOuQfvV7iyMwgV+y5Q="
    assert signatures.component_string(
        client_id=CLIENT_ID,
        request_id=TV1_REQUEST_ID,
        timestamp=TIMESTAMP,
        target="/checkout/v1/payment",
        body=TV1_BODY,
    ) == (
        "Client-Id:MCH-0001-10791114622547\n"
        "Request-Id:fdb69f47-96da-499d-acec-7cdc318ab2fe\n"
        "Request-Timestamp:2020-08-11T08:45:42Z\n"
        "Request-Target:/checkout/v1/payment\n"
        "Digest:iDUNgGutnjXGk8dcBw0J4EtC2qOuQfvV7iyMwgV+y5Q="
    )
    assert sign_tv1(TV1_BODY) == "HMACSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc="


def test_tv2_get_signs_without_digest_line():
    component = signatures.component_string(
        client_id=CLIENT_ID, request_id=TV2_REQUEST_ID, timestamp=TIMESTAMP, target=TV2_TARGET, body=None
    )
    assert component == (
        "Client-Id:MCH-0001-10791114622547\n"
        "Request-Id:d895fb53-479c-4f77-a76a-ab81b40d77cb\n"
        "Request-Timestamp:2020-08-11T08:45:42Z\n"
        "Request-Target:/orders/v1/status/INV-123123-12313"
    )
    signature = signatures.sign(
        SECRET, client_id=CLIENT_ID, request_id=TV2_REQUEST_ID, timestamp=TIMESTAMP, target=TV2_TARGET, body=None
    )
    assert signature == "HMACSHA256=TSbI0Msyf6jvJ80uLfar1femVRtuCNw/nf5EU96eJ2A="


def test_tv2_wrong_variant_with_empty_body_digest_differs():
    wrong = signatures.sign(
        SECRET, client_id=CLIENT_ID, request_id=TV2_REQUEST_ID, timestamp=TIMESTAMP, target=TV2_TARGET, body=b""
    )
    assert signatures.digest(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert wrong == "HMACSHA256=10cjtuZsfF3NYbWTUIZkVjncACdFgTRsp22QbPCBacg="
    assert not signatures.verify(
        wrong,
        secret_keys=[SECRET],
        client_id=CLIENT_ID,
        request_id=TV2_REQUEST_ID,
        timestamp=TIMESTAMP,
        target=TV2_TARGET,
        body=None,
    )


@pytest.mark.parametrize(
    ("body", "digest", "signature"),
    [
        (
            json.dumps(json.loads(TV1_BODY), indent=4).encode(),
            "QNO7hbGIY1tb2mx+ytlRDwvJBMZpJdksLmkxaK1E/yw=",
            "HMACSHA256=ZORQI6fuaNxY0a/vQM1piRwx9lTxpTegMjLW8r7G4RU=",
        ),
        (
            json.dumps(json.loads(TV1_BODY)).encode(),
            "WaZLpbKg8Hfn/d8UJfLL5tesAxfL/2dW8wP1d8vkCLw=",
            "HMACSHA256=HHY7Y4t1zxJ/fZ6qXy4br2iSFc9SyIQtqDxmtYjZqO0=",
        ),
    ],
    ids=["TV4-indented", "TV5-default-separators"],
)
def test_tv4_tv5_serialization_changes_digest_and_signature(body, digest, signature):
    assert signatures.digest(body) == digest
    assert sign_tv1(body) == signature
    assert signature != sign_tv1(TV1_BODY)


def verify_tv1(signature: str, **overrides) -> bool:
    arguments = {
        "secret_keys": [SECRET],
        "client_id": CLIENT_ID,
        "request_id": TV1_REQUEST_ID,
        "timestamp": TIMESTAMP,
        "target": "/checkout/v1/payment",
        "body": TV1_BODY,
        **overrides,
    }
    return signatures.verify(signature, **arguments)


def test_verify_accepts_tv1():
    assert verify_tv1("HMACSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=")


@pytest.mark.parametrize(
    "overrides",
    [
        {"secret_keys": ["another-secret"]},
        {"client_id": "MCH-0001-00000000000000"},
        {"request_id": "fdb69f47-96da-499d-acec-7cdc318ab2ff"},
        {"timestamp": "2020-08-11T08:45:43Z"},
        {"target": "/checkout/v1/payment/"},
        {"body": TV1_BODY + b" "},
        {"body": None},
        {"secret_keys": []},
    ],
)
def test_verify_rejects_any_changed_component(overrides):
    assert not verify_tv1("HMACSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=", **overrides)


@pytest.mark.parametrize(
    "signature",
    [
        "UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=",  # prefix missing
        "HMACHSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=",  # the legacy typo
        "HMACSHA256= UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=",  # space after '='
        "",
        "HMACSHA256=\udcff",  # undecodable garbage from a hostile header
    ],
)
def test_verify_rejects_malformed_signatures(signature):
    assert not verify_tv1(signature)


def test_verify_accepts_a_previous_secret_during_rotation():
    assert verify_tv1("HMACSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=", secret_keys=["new-secret", SECRET])


def test_component_string_has_no_trailing_newline_and_no_spaces():
    component = signatures.component_string(client_id="a", request_id="b", timestamp="c", target="/d", body=b"{}")
    assert not component.endswith("\n")
    assert ": " not in component


def test_timestamps_are_utc_whole_seconds_with_literal_z():
    moment = datetime(2020, 9, 22, 8, 51, 0, 123456).astimezone()
    formatted = signatures.format_timestamp(datetime(2020, 9, 22, 1, 51, 0, 999, tzinfo=UTC))
    assert formatted == "2020-09-22T01:51:00Z"
    assert signatures.parse_timestamp(formatted) == datetime(2020, 9, 22, 1, 51, tzinfo=UTC)
    assert signatures.format_timestamp(moment).endswith("Z")
    # The forms DOKU-style systems send are read; anything else is refused.
    assert signatures.parse_timestamp("2020-09-22T01:51:00.000Z") == datetime(2020, 9, 22, 1, 51, tzinfo=UTC)
    assert signatures.parse_timestamp("2020-09-22T08:51:00+07:00") == datetime(2020, 9, 22, 1, 51, tzinfo=UTC)
    for refused in (
        "nonsense",
        "2020-09-22 01:51:00Z",
        "2020-09-22T01:51:00",
        "2020-09-22T01:51Z",
        "２020-09-22T01:51:00Z",
    ):
        assert signatures.parse_timestamp(refused) is None
