"""Property-based tests: what an attacker or a broken proxy sends never verifies, crashes or changes an order."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_doku_checkout import payloads, services, signatures
from django_doku_checkout.conf import get_config
from django_doku_checkout.exceptions import DokuSignatureError
from django_doku_checkout.models import Notification, Order, OrderStatus
from django_doku_checkout.services.notifications import verify_notification
from django_doku_checkout.services.settlement import parse_payment_result
from tests.test_views import NOTIFY, notification_body

# Examples run inside one test's transaction; the fixtures are safe to share between them.
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


def signed_headers(body: bytes, path: str = NOTIFY) -> dict[str, str]:
    config = get_config()
    headers = signatures.signed_headers(config.secret_key, client_id=config.client_id, target=path, body=body)
    del headers["Content-Type"]  # the test client sets it
    return headers


# --- signatures: no mutation verifies -----------------------------------------------------------

VALID_BODY = notification_body("INV-PROPERTY-1")


def verifies(body: bytes, headers: dict[str, str], path: str) -> bool:
    try:
        verify_notification(body=body, headers=headers, path=path)
    except DokuSignatureError:
        return False
    return True


def test_the_unmutated_notification_verifies():
    assert verifies(VALID_BODY, signed_headers(VALID_BODY), NOTIFY)


@PROPERTY
@given(position=st.integers(min_value=0), replacement=st.integers(min_value=0, max_value=255))
def test_no_changed_body_byte_verifies(position, replacement):
    body = bytearray(VALID_BODY)
    position %= len(body)
    if body[position] == replacement:
        replacement ^= 1
    headers = signed_headers(VALID_BODY)
    body[position] = replacement
    assert not verifies(bytes(body), headers, NOTIFY)


@PROPERTY
@given(extra=st.binary(min_size=1, max_size=20), at_start=st.booleans())
def test_no_extended_or_truncated_body_verifies(extra, at_start):
    headers = signed_headers(VALID_BODY)
    assert not verifies(extra + VALID_BODY if at_start else VALID_BODY + extra, headers, NOTIFY)
    assert not verifies(VALID_BODY[: -len(extra)], headers, NOTIFY)


@PROPERTY
@given(
    header=st.sampled_from(["Client-Id", "Request-Id", "Request-Timestamp", "Signature"]),
    value=st.text(max_size=80),
)
def test_no_changed_header_verifies(header, value):
    headers = signed_headers(VALID_BODY)
    if value == headers[header]:
        value += "x"
    assert not verifies(VALID_BODY, {**headers, header: value}, NOTIFY)


@PROPERTY
@given(path=st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=60))
def test_no_other_path_verifies(path):
    path = "/" + path.lstrip("/")
    if path == NOTIFY:
        path += "x"
    assert not verifies(VALID_BODY, signed_headers(VALID_BODY), path)


# --- the endpoint: malformed but correctly signed bodies --------------------------------------------


def garbage_bodies() -> st.SearchStrategy[bytes]:
    """Bodies of every shape except a real payment for the test order."""
    statuses = st.text(max_size=10).filter(lambda s: s.upper() not in {"SUCCESS", "EXPIRED", "REFUNDED"})
    almost_valid = st.fixed_dictionaries(
        {
            "order": st.fixed_dictionaries(
                {"invoice_number": st.sampled_from(["INV-HOSTILE", "", "x" * 200]) | st.text(), "amount": json_values}
            ),
            "transaction": st.fixed_dictionaries({"status": statuses | json_values}),
        }
    ).map(lambda data: json.dumps(data).encode())
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        json_values.map(lambda value: json.dumps(value).encode()),
        almost_valid,
    )


@pytest.mark.django_db
def test_malformed_signed_bodies_never_500_nor_change_the_order(order_factory, doku_simulator):
    order = order_factory(invoice_number="INV-HOSTILE")
    services.create_payment_link(order)
    client = Client()
    seen: set[int] = set()

    @PROPERTY
    @given(body=garbage_bodies())
    @example(body=b"not json at all")  # the two rejections, reached on every run
    @example(body=b'{"order": {"invoice_number": "INV-NOPE"}, "transaction": {"status": "PENDING"}}')
    def post(body: bytes) -> None:
        response = client.post(NOTIFY, data=body, content_type="application/json", headers=signed_headers(body))
        seen.add(response.status_code)
        assert response.status_code in {200, 400, 404}, response.content
        assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING

    post()
    assert {400, 404} <= seen  # both kinds of rejection were reached


@pytest.mark.django_db
def test_huge_bodies_are_refused_before_parsing(order_factory, doku_simulator, doku_settings):
    doku_settings(NOTIFICATION_MAX_BYTES=2048)
    body = b'{"order": {"invoice_number": "' + b"9" * 5000 + b'"}}'
    response = Client().post(NOTIFY, data=body, content_type="application/json", headers=signed_headers(body))
    assert response.status_code == 413


# --- validators and parsers never crash ------------------------------------------------------------


def valid_checkout_body() -> dict:
    return payloads.build_checkout_body(
        payloads.CheckoutData(
            invoice_number="INV-1",
            amount=20_000,
            line_items=[payloads.LineItemData(name="Kopi", price=20_000, quantity=1)],
            callback_url="https://shop.example.com/r/",
        )
    )


@PROPERTY
@given(value=json_values)
def test_validators_and_parsers_take_any_json(value):
    for validate in (payloads.validate_checkout_body, payloads.validate_card_page_body):
        result = validate(value)
        assert isinstance(result.errors, list)
        if not isinstance(value, dict):
            assert result.errors
    parse_payment_result(value)


@PROPERTY
@given(section=st.sampled_from(["order", "payment", "customer", "order.line_items", "order.amount"]), value=json_values)
def test_validators_take_any_value_in_any_field(section, value):
    body = valid_checkout_body()
    target = body
    *parents, last = section.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    result = payloads.validate_checkout_body(body)
    assert all(isinstance(error, str) and error for error in result.errors)


@pytest.mark.django_db
def test_nul_characters_and_overlong_fields_are_stored_not_500(order_factory, doku_simulator):
    """PostgreSQL refuses NUL in text and long values in short columns; neither may lose a notification."""
    order = order_factory(invoice_number="INV-NUL")
    session = services.create_payment_link(order)
    client = Client()
    garbage = b'{"order": {"invoice_number": "INV-\x00"}, "transaction": {"status": "PEN\\u0000DING\x00"}}\x00'
    response = client.post(NOTIFY, data=garbage, content_type="application/json", headers=signed_headers(garbage))
    assert response.status_code == 400, response.content  # not JSON: a NUL follows it
    payment = json.dumps(
        {
            "order": {"invoice_number": session.invoice_number, "amount": order.amount},
            "transaction": {"status": "SUCCESS"},
            "channel": {"id": "VIRTUAL_ACCOUNT_" + "X" * 200 + "\u0000"},
        }
    ).encode()
    assert (
        client.post(NOTIFY, data=payment, content_type="application/json", headers=signed_headers(payment)).status_code
        == 200
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    stored = list(Notification.objects.order_by("pk").values_list("body", flat=True))
    assert len(stored) == 2
    assert "\x00" not in stored[0]
