from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from django_doku_checkout import payloads
from django_doku_checkout.exceptions import DokuValidationError
from django_doku_checkout.payloads import (
    AddressData,
    CardPageData,
    CardPageTheme,
    CheckoutData,
    CustomerData,
    LineItemData,
    build_card_page_body,
    build_checkout_body,
    validate_card_page_body,
    validate_checkout_body,
)

ADDRESS = AddressData(
    first_name="Joe",
    last_name="Doe",
    address="Jalan DOKU no 15",
    city="Jakarta",
    postal_code="11923",
    phone="081312345678",
    country_code="IDN",
)
CUSTOMER = CustomerData(
    id="JC-01",
    name="Zolanda",
    last_name="Anggraeni",
    email="zolanda@example.com",
    phone="628121212121",
    address="taman setiabudi",
    postcode="120129",
    state="Jakarta",
    city="Jakarta Selatan",
    country="ID",
)
ITEMS = [
    LineItemData(
        id="001",
        name="Fresh flowers",
        price=40000,
        quantity=1,
        sku="FF01",
        category="gifts-and-flowers",
        url="http://item-url.example/",
        image_url="http://image-url.example/",
        type="ABC",
    ),
    LineItemData(
        id="002",
        name="T-shirt",
        price=20000,
        quantity=2,
        sku="T01",
        category="clothing",
        url="http://item-url.example/",
        image_url="http://image-url.example/",
        type="ABC",
    ),
]
FULL = CheckoutData(
    invoice_number="INV-1720752332",
    amount=80000,
    line_items=ITEMS,
    callback_url="https://shop.example/return",
    callback_url_cancel="https://shop.example/cancel",
    callback_url_result="https://shop.example/result",
    language="EN",
    auto_redirect=True,
    disable_retry_payment=True,
    recover_abandoned_cart=True,
    expired_recovered_cart=2,
    payment_due_date=60,
    payment_type="SALE",
    payment_method_types=["VIRTUAL_ACCOUNT_BCA", "PEER_TO_PEER_KREDIVO", "PEER_TO_PEER_INDODANA", "JENIUS_PAY"],
    customer=CUSTOMER,
    shipping_address=ADDRESS,
    billing_address=ADDRESS,
    allow_tenor=[0, 3, 6, 12],
    doku_wallet_notify_url="https://dw-notification.example",
    override_notification_url="https://another.example.com/payments/notifications",
)


def full_body() -> dict:
    return build_checkout_body(FULL)


def errors_of(body) -> list[str]:
    return validate_checkout_body(body).errors


def test_build_full_body_has_every_seed_field():
    body = full_body()
    assert set(body) == {"order", "payment", "customer", "shipping_address", "billing_address", "additional_info"}
    assert set(body["order"]) == {
        "amount",
        "invoice_number",
        "currency",
        "callback_url",
        "callback_url_cancel",
        "callback_url_result",
        "language",
        "auto_redirect",
        "disable_retry_payment",
        "recover_abandoned_cart",
        "expired_recovered_cart",
        "line_items",
    }
    assert body["order"]["line_items"][0] == {
        "id": "001",
        "name": "Fresh flowers",
        "price": 40000,
        "quantity": 1,
        "sku": "FF01",
        "category": "gifts-and-flowers",
        "url": "http://item-url.example/",
        "image_url": "http://image-url.example/",
        "type": "ABC",
    }
    assert body["payment"] == {
        "payment_due_date": 60,
        "type": "SALE",
        "payment_method_types": FULL.payment_method_types,
    }
    assert body["additional_info"]["allow_tenor"] == [0, 3, 6, 12]
    assert body["shipping_address"]["country_code"] == "IDN"
    assert errors_of(body) == []


def test_minimal_body_is_valid_and_omits_unset_fields():
    body = build_checkout_body(
        CheckoutData(invoice_number="INV-20210231-0001", amount=20000, currency=None, auto_redirect=None)
    )
    assert body == {
        "order": {"amount": 20000, "invoice_number": "INV-20210231-0001"},
        "payment": {"payment_due_date": 60},
    }
    assert payloads.encode_body(body) == (
        b'{"order":{"amount":20000,"invoice_number":"INV-20210231-0001"},"payment":{"payment_due_date":60}}'
    )
    assert errors_of(body) == []


def test_all_problems_are_reported_at_once_in_dokus_wording():
    body = {"order": {"invoice_number": "", "amount": 0}}
    assert errors_of(body) == ["order.invoice_number must be filled", "order.amount must greater than 0"]
    with pytest.raises(DokuValidationError) as raised:
        validate_checkout_body(body).raise_for_errors()
    assert raised.value.errors == errors_of(body)
    assert "order.amount must greater than 0" in str(raised.value)


def mutate(path: str, value):
    body = copy.deepcopy(full_body())
    node = body
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return body


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("order.amount", 80000.5, "order.amount must be a whole number of rupiah (no decimals)"),
        ("order.amount", "80000", "order.amount must be a whole number of rupiah (no decimals)"),
        ("order.amount", -1, "order.amount must greater than 0"),
        ("order.amount", 10**12, "order.amount must be at most 12 digits"),
        ("order.amount", DELETE, "order.amount must be filled"),
        ("order.invoice_number", DELETE, "order.invoice_number must be filled"),
        ("order.invoice_number", "X" * 65, "order.invoice_number must be at most 64 characters"),
        ("order.currency", "rupiah", "order.currency must be exactly 3 characters"),
        ("order.currency", "idr", "order.currency must be a 3-letter ISO 4217 code such as IDR"),
        ("order.language", "ENG", "order.language must be at most 2 characters"),
        ("order.callback_url", "javascript:alert(1)", "order.callback_url must be an absolute http(s) URL"),
        ("order.auto_redirect", "true", "order.auto_redirect must be true or false"),
        ("order.expired_recovered_cart", 44641, "order.expired_recovered_cart must be between 1 and 44640"),
        ("payment.payment_due_date", 1_000_000, "payment.payment_due_date must be between 1 and 999999"),
        ("payment.payment_due_date", "60", "payment.payment_due_date must be a whole number"),
        ("payment.type", "CAPTURE", "payment.type must be SALE, INSTALLMENT or AUTHORIZE"),
        ("payment.payment_method_types", "QRIS", "payment.payment_method_types must be a list of payment method codes"),
        ("additional_info.allow_tenor", [0, 24], "additional_info.allow_tenor must be a list of 0, 3, 6 and 12"),
        (
            "additional_info.override_notification_url",
            "/relative",
            "additional_info.override_notification_url must be an absolute http(s) URL",
        ),
        (
            "customer.phone",
            "081234567890",
            "customer.phone must be digits with the country calling code, e.g. 6281122334455 (at most 16)",
        ),
        ("customer.phone", "62812345678901234", "customer.phone must be at most 16 characters"),
        ("customer.last_name", "Anggraeni-Wijayakusuma", "customer.last_name must be at most 16 characters"),
        ("customer.email", "x" * 120 + "@example.com", "customer.email must be at most 128 characters"),
        ("customer.email", "not-an-email", "customer.email must be an email address"),
        ("customer.address", "a" * 401, "customer.address must be at most 400 characters"),
        ("customer.country", "IDN", "customer.country must be exactly 2 characters"),
        ("customer.country", "1D", "customer.country must be a 2-letter ISO 3166-1 country code"),
        ("order.line_items.0.quantity", 0, "order.line_items[0].quantity must be between 1 and 999999"),
        ("order.line_items.0.price", 1.5, "order.line_items[0].price must be a whole number"),
        (
            "order.line_items.1.price",
            25000,
            "order.line_items total (price x quantity) is 90000 but order.amount is 80000",
        ),
        ("order.line_items.0.name", DELETE, "order.line_items[0].name must be filled"),
    ],
)
def test_each_rule_rejects_invalid_values(path, value, expected):
    assert expected in errors_of(mutate(path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("order.amount", 999_999_999_999),
        ("order.amount", 1),
        ("order.language", "ID"),
        ("order.expired_recovered_cart", 44640),
        ("payment.payment_due_date", 999_999),
        ("customer.phone", "6281122334455"),
        ("additional_info.allow_tenor", [3, 12]),
        ("order.currency", DELETE),
        ("customer.last_name", "A" * 16),
    ],
)
def test_each_rule_accepts_boundary_values(path, value):
    body = mutate(path, value)
    if path == "order.amount":
        del body["order"]["line_items"]
        body["payment"]["payment_method_types"] = ["VIRTUAL_ACCOUNT_BCA"]
    assert errors_of(body) == []


def test_invoice_over_30_characters_is_refused_when_card_may_be_offered():
    long_invoice = "INV-" + "9" * 30
    only_va = mutate("order.invoice_number", long_invoice)
    assert errors_of(only_va) == []
    card = mutate("order.invoice_number", long_invoice)
    card["payment"]["payment_method_types"].append("CREDIT_CARD")
    assert any("at most 30 characters when CREDIT_CARD" in e for e in errors_of(card))
    every_channel = mutate("order.invoice_number", long_invoice)
    del every_channel["payment"]["payment_method_types"]
    assert any("at most 30 characters when CREDIT_CARD" in e for e in errors_of(every_channel))


@pytest.mark.parametrize("payment_type", ["AUTHORIZE", "INSTALLMENT"])
def test_authorize_and_installment_only_with_card(payment_type):
    body = mutate("payment.type", payment_type)
    assert f"payment.type {payment_type} is only for card payments" in " ".join(errors_of(body))
    body["payment"]["payment_method_types"] = ["CREDIT_CARD"]
    assert errors_of(body) == []


def test_unknown_payment_method_passes_with_a_warning():
    body = mutate("payment.payment_method_types", ["VIRTUAL_ACCOUNT_NEWBANK"])
    result = validate_checkout_body(body)
    assert result.errors == []
    assert "VIRTUAL_ACCOUNT_NEWBANK" in result.warnings[0]


def body_for(method: str) -> dict:
    return build_checkout_body(
        CheckoutData(
            invoice_number="INV1",
            amount=50000,
            line_items=[LineItemData(name="Kopi", price=50000, quantity=1)],
            payment_method_types=[method],
        )
    )


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("JENIUS_PAY", ["order.callback_url must be filled", "customer.name must be filled"]),
        (
            "PEER_TO_PEER_KREDIVO",
            [
                "order.line_items[0].id must be filled",
                "order.line_items[0].sku must be filled",
                "order.line_items[0].category must be filled",
                "order.line_items[0].url must be filled",
                "order.line_items[0].type must be filled",
                "customer.email must be filled",
                "customer.phone must be filled",
                "shipping_address.postal_code must be filled",
            ],
        ),
        (
            "PEER_TO_PEER_INDODANA",
            [
                "order.line_items[0].image_url must be filled",
                "order.line_items[0].category must be one of DOKU's Indodana categories",
                "billing_address.last_name must be filled",
                "shipping_address.first_name must be filled",
            ],
        ),
        (
            "PEER_TO_PEER_AKULAKU",
            ["customer.id must be filled", "customer.postcode must be filled", "customer.state must be filled"],
        ),
        ("DIRECT_DEBIT_ALLO", ["order.line_items[0].id must be filled", "customer.email must be filled"]),
    ],
)
def test_method_specific_mandatory_fields(method, expected):
    errors = errors_of(body_for(method))
    for message in expected:
        assert message in errors
    assert errors_of(body_for("VIRTUAL_ACCOUNT_BCA")) == []


@pytest.mark.parametrize("category", [{"name": "travel"}, ["travel"]])
def test_a_category_that_is_not_text_is_reported_when_indodana_is_offered(category):
    """Any JSON is read without raising (the simulator reads what a client sends): Indodana's
    category check once raised TypeError on a JSON object or list."""
    body = mutate("order.line_items", [{**full_body()["order"]["line_items"][0], "category": category}])

    errors = errors_of(body)

    assert "order.line_items[0].category must be a string" in errors
    assert "order.line_items[0].category must be one of DOKU's Indodana categories" in errors


def test_methods_needing_line_items_refuse_a_body_without_them():
    body = build_checkout_body(CheckoutData(invoice_number="INV1", amount=5000, payment_method_types=["JENIUS_PAY"]))
    assert "order.line_items must be filled" in errors_of(body)


def test_full_seed_style_body_satisfies_every_method_together():
    assert errors_of(full_body()) == []


def test_kki_refuses_symbols_in_invoice_and_item_names():
    body = build_checkout_body(
        CheckoutData(
            invoice_number="INV-1/A",
            amount=5000,
            line_items=[LineItemData(id="A-1", name="Kopi & Teh", price=5000, quantity=1)],
            payment_method_types=["CREDIT_CARD_KKI"],
        )
    )
    errors = errors_of(body)
    assert "order.invoice_number must not contain symbols when KKI is offered" in errors
    assert "order.line_items[0].name must not contain symbols when KKI is offered" in errors
    assert "order.line_items[0].id must not contain symbols when KKI is offered" in errors


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [],
        "order",
        12,
        {"order": []},
        {"order": {"line_items": {}}},
        {"order": {"amount": True}},
        {"payment": "x", "customer": [], "order": {"invoice_number": 5, "line_items": [1, None, "x"]}},
        {"order": {"invoice_number": "I", "amount": 1, "line_items": [{"price": "1", "quantity": None}]}},
    ],
)
def test_validator_never_crashes_on_odd_input(garbage):
    result = validate_checkout_body(garbage)
    assert result.errors
    assert validate_card_page_body(garbage).errors


CARD_PAGE = CardPageData(
    invoice_number="INV-CARD-1",
    amount=90000,
    line_items=[
        LineItemData(name="DOKU T-Shirt Merah", price=30000, quantity=2),
        LineItemData(name="Biru", price=30000, quantity=1),
    ],
    callback_url="https://shop.example/return",
    session_id="0000231223",
    customer=CustomerData(
        id="W7rbKhPY",
        name="Anton Budiman",
        email="anton@example.com",
        phone="6281287458232",
        address="Jakarta, Menara Mulia Lt 8",
        country="ID",
    ),
    auto_redirect=False,
    theme=CardPageTheme(language="ID", background_color="#FFFFFF", button_background_color="1A73E8"),
)


def test_card_page_body_matches_seed_shape_and_validates():
    body = build_card_page_body(CARD_PAGE)
    assert set(body) == {"order", "customer", "override_configuration"}
    assert body["order"]["session_id"] == "0000231223"
    # DOKU's card page takes bare six-digit hex; a shop's "#FFFFFF" is sent as "FFFFFF".
    assert body["override_configuration"]["themes"] == {
        "language": "ID",
        "background_color": "FFFFFF",
        "font_color": "",
        "button_background_color": "1A73E8",
        "button_font_color": "",
    }
    assert validate_card_page_body(body).errors == []


def test_card_page_requires_every_customer_field_and_a_short_invoice():
    body = build_card_page_body(CARD_PAGE)
    body["order"]["invoice_number"] = "X" * 28  # 27 with a Mandiri acquirer, the sandbox's
    del body["customer"]["address"]
    body["override_configuration"]["themes"]["font_color"] = "red"
    del body["order"]["session_id"]
    errors = validate_card_page_body(body).errors
    assert errors == [
        "order.invoice_number must be at most 27 characters",
        "order.session_id must be filled",
        "customer.address must be filled",
        "override_configuration.themes.font_color must be six hex digits without # such as 1A73E8",
    ]


def test_normalize_phone_converts_local_numbers():
    assert payloads.normalize_phone("0812-3456 789") == "628123456789"
    assert payloads.normalize_phone("+62 812 3456 789") == "628123456789"


def test_doku_datetimes_are_utc_plus_7():
    parsed = payloads.parse_doku_datetime("20240712104711")
    assert parsed == datetime(2024, 7, 12, 3, 47, 11, tzinfo=UTC)
    assert payloads.format_doku_datetime(parsed) == "20240712104711"
    for bad in ("2024071210471", "20241312104711", None, 20240712104711):
        assert payloads.parse_doku_datetime(bad) is None


def test_encode_body_keeps_unicode_and_is_compact():
    raw = payloads.encode_body({"order": {"invoice_number": "INV-é"}})
    assert raw == '{"order":{"invoice_number":"INV-é"}}'.encode()
    assert json.loads(raw) == {"order": {"invoice_number": "INV-é"}}


def kki_body(invoice: str, methods: list[str]) -> dict:
    return build_checkout_body(
        CheckoutData(
            invoice_number=invoice,
            amount=5000,
            line_items=[LineItemData(id="A-1", name="Kopi & Teh", price=5000, quantity=1)],
            payment_method_types=methods,
        )
    )


def test_kartu_kredit_indonesia_is_dokus_code_for_kki():
    errors = errors_of(kki_body("INV-1/A", ["KARTU_KREDIT_INDONESIA"]))
    assert "order.invoice_number must not contain symbols when KKI is offered" in errors
    assert "order.line_items[0].id must not contain symbols when KKI is offered" in errors
    # Every channel offered may include KKI: a warning, since the shop's own numbers may have symbols.
    offered_all = validate_checkout_body(kki_body("INV-1/A", []))
    assert offered_all.errors == []
    assert any("Kartu Kredit Indonesia" in warning for warning in offered_all.warnings)


@pytest.mark.parametrize(
    "code", ["VIRTUAL_ACCOUNT_BSS", "VIRTUAL_ACCOUNT_BPD_BALI", "VIRTUAL_ACCOUNT_BANK_BJB", "DIRECT_DEBIT_MANDIRI"]
)
def test_dokus_current_channel_codes_are_known(code):
    assert validate_checkout_body(kki_body("INV1", [code])).warnings == []


def test_shopeepay_misspelled_is_warned_with_dokus_spelling():
    [warning] = validate_checkout_body(kki_body("INV1", ["EMONEY_SHOPEEPAY"])).warnings
    assert "DOKU spells it 'EMONEY_SHOPEE_PAY'" in warning
    assert validate_checkout_body(kki_body("INV1", ["EMONEY_SHOPEE_PAY"])).warnings == []


def test_bri_direct_debit_needs_the_customer_id_as_allobank_does():
    assert "customer.id must be filled" in errors_of(kki_body("INV1", ["DIRECT_DEBIT_BRI"]))


@pytest.mark.parametrize(
    "written",
    [
        "0812 3456 7890",
        "0812-3456-7890",
        "0812.3456.7890",
        "+62 812 3456 7890",
        "+62 (0)812 3456 7890",
        "0062 812 3456 7890",
        "62 0812 3456 7890",
        "6281234567890",
    ],
)
def test_normalize_phone_reads_numbers_as_people_write_them(written):
    assert payloads.normalize_phone(written) == "6281234567890"
