"""DOKU's payment-method codes and the fields each method makes mandatory. Pure data.

DOKU adds channels over time, so an unknown code is passed through with a warning
rather than refused.

The list was last checked on 2026-11-22 against the 39 codes DOKU's sandbox returned in
``payment_method_types`` for a Checkout session (captured December 2025, see
``shared/reference/captured-traffic.md``) and DOKU's Checkout backend integration guide.
"""

from __future__ import annotations

from dataclasses import dataclass

CREDIT_CARD = "CREDIT_CARD"
#: Kartu Kredit Indonesia, the domestic card scheme.
KARTU_KREDIT_INDONESIA = "KARTU_KREDIT_INDONESIA"
#: Codes DOKU never answers with, and the one it does (``EMONEY_SHOPEEPAY`` is a common slip).
MISSPELLED = {"EMONEY_SHOPEEPAY": "EMONEY_SHOPEE_PAY"}

KNOWN_METHODS = frozenset(
    {
        "VIRTUAL_ACCOUNT_BCA",
        "VIRTUAL_ACCOUNT_BANK_MANDIRI",
        "VIRTUAL_ACCOUNT_BANK_SYARIAH_MANDIRI",
        "VIRTUAL_ACCOUNT_BSI",
        "VIRTUAL_ACCOUNT_DOKU",
        "VIRTUAL_ACCOUNT_BRI",
        "VIRTUAL_ACCOUNT_BNI",
        "VIRTUAL_ACCOUNT_BANK_PERMATA",
        "VIRTUAL_ACCOUNT_BANK_CIMB",
        "VIRTUAL_ACCOUNT_BANK_DANAMON",
        "VIRTUAL_ACCOUNT_MAYBANK",
        "VIRTUAL_ACCOUNT_BNC",
        "VIRTUAL_ACCOUNT_BTN",
        "VIRTUAL_ACCOUNT_SINARMAS",
        "VIRTUAL_ACCOUNT_BSS",
        "VIRTUAL_ACCOUNT_BPD_BALI",
        "VIRTUAL_ACCOUNT_BANK_BJB",
        "ONLINE_TO_OFFLINE_ALFA",
        "ONLINE_TO_OFFLINE_INDOMARET",
        CREDIT_CARD,
        KARTU_KREDIT_INDONESIA,
        "QRIS",
        "EMONEY_OVO",
        "EMONEY_SHOPEE_PAY",
        "EMONEY_DANA",
        "EMONEY_DOKU",
        "EMONEY_LINKAJA",
        "JENIUS_PAY",
        "PEER_TO_PEER_KREDIVO",
        "PEER_TO_PEER_AKULAKU",
        "PEER_TO_PEER_INDODANA",
        "PEER_TO_PEER_BRI_CERIA",
        "OCTO_CLICKS",
        "EPAY_BRI",
        "KLIKPAY_BCA",
        "DANAMON_ONLINE_BANKING",
        "PERMATA_NET",
        "DIRECT_DEBIT_BRI",
        "DIRECT_DEBIT_CIMB",
        "DIRECT_DEBIT_ALLO",
        "DIRECT_DEBIT_MANDIRI",
    }
)

# The channel categories a notification's ``service.id`` names, by code prefix.
SERVICE_BY_PREFIX = {
    "VIRTUAL_ACCOUNT_": "VIRTUAL_ACCOUNT",
    "ONLINE_TO_OFFLINE_": "ONLINE_TO_OFFLINE",
    "EMONEY_": "EMONEY",
    "PEER_TO_PEER_": "PEER_TO_PEER",
    "DIRECT_DEBIT_": "DIRECT_DEBIT",
    "CREDIT_CARD": "CREDIT_CARD",
    "QRIS": "QRIS",
    "JENIUS_PAY": "DIGITAL_BANKING",
}

# DOKU's list of Indodana item categories (Backend Integration, "List Category").
INDODANA_CATEGORIES = frozenset(
    {
        "airlines",
        "arts-crafts-and-collectibles",
        "automotive",
        "baby",
        "beauty-and-fragrances",
        "biller",
        "books-and-magazines",
        "business-to-business-including-mlm",
        "charity-and-non-profit",
        "clothing",
        "community",
        "digital-content",
        "electronics-and-telecom",
        "entertainment-and-media",
        "fee",
        "financial-services-and-products",
        "financial-services-and-technology",
        "food-and-beverage",
        "food-retail-and-service",
        "games-voucher",
        "gifts-and-flowers",
        "government",
        "health-and-personal-care",
        "home-and-garden",
        "hotel-and-travel",
        "insurance",
        "marketplace",
        "nonprofit",
        "offline-store",
        "others",
        "over-the-air",
        "overseas",
        "pets-and-animals",
        "property",
        "public-services",
        "religion-and-spirituality",
        "retail",
        "services",
        "sports-and-outdoors",
        "telco",
        "ticketing",
        "toys-and-hobbies",
        "transportation",
        "travel",
        "vehicle-sales",
        "vehicles-service-and-accessories",
    }
)

_SHIPPING = ("first_name", "address", "city", "postal_code", "phone", "country_code")
_BILLING = ("first_name", "last_name", "address", "city", "postal_code", "phone", "country_code")


@dataclass(frozen=True)
class MethodRules:
    """Fields DOKU requires when a payment method is requested (Backend Integration tables)."""

    label: str
    order: tuple[str, ...] = ()
    line_items: tuple[str, ...] = ()
    customer: tuple[str, ...] = ()
    shipping_address: tuple[str, ...] = ()
    billing_address: tuple[str, ...] = ()
    indodana_categories: bool = False
    no_symbols: bool = False


METHOD_RULES = {
    "JENIUS_PAY": MethodRules(
        "Jenius", order=("callback_url",), line_items=("name", "price", "quantity"), customer=("name",)
    ),
    "PEER_TO_PEER_KREDIVO": MethodRules(
        "Kredivo",
        line_items=("id", "name", "price", "quantity", "sku", "category", "url", "type"),
        customer=("name", "email", "phone"),
        shipping_address=_SHIPPING,
    ),
    "PEER_TO_PEER_INDODANA": MethodRules(
        "Indodana",
        line_items=("id", "name", "price", "quantity", "sku", "category", "image_url", "type"),
        customer=("name", "email", "phone"),
        shipping_address=_SHIPPING,
        billing_address=_BILLING,
        indodana_categories=True,
    ),
    "PEER_TO_PEER_AKULAKU": MethodRules(
        "Akulaku",
        line_items=("id", "name", "price", "quantity", "sku", "category"),
        customer=("id", "name", "phone", "address", "postcode", "state", "city"),
    ),
    "DIRECT_DEBIT_ALLO": MethodRules(
        "Allobank", line_items=("id", "name", "price", "quantity"), customer=("id", "email")
    ),
    "DIRECT_DEBIT_BRI": MethodRules("BRI direct debit", customer=("id",)),
}

#: Kartu Kredit Indonesia: no symbols in the invoice number nor in line items' ids and names.
KKI_RULES = MethodRules("KKI", line_items=("name", "price", "quantity"), no_symbols=True)


def is_kki(code: str) -> bool:
    """``KARTU_KREDIT_INDONESIA``, or an older spelling naming KKI (``CREDIT_CARD_KKI``)."""
    return code == KARTU_KREDIT_INDONESIA or "KKI" in code.upper().split("_")


def rules_for(code: str) -> MethodRules | None:
    """The mandatory-field rules of one payment-method code, if it has any."""
    if is_kki(code):
        return KKI_RULES
    return METHOD_RULES.get(code)


def is_card(code: str) -> bool:
    return code == CREDIT_CARD or rules_for(code) is KKI_RULES


def service_of(code: str) -> str:
    """The notification ``service.id`` of a channel code (``VIRTUAL_ACCOUNT_BCA`` -> ``VIRTUAL_ACCOUNT``)."""
    for prefix, service in SERVICE_BY_PREFIX.items():
        if code.startswith(prefix):
            return service
    return code


#: How DOKU writes the words of its codes on its pages, where title case would be wrong.
_WORDS = {
    "VIRTUAL": "Virtual",
    "ACCOUNT": "Account",
    "BANK": "Bank",
    "ONLINE": "Online",
    "TO": "to",
    "OFFLINE": "Offline",
    "EMONEY": "e-money",
    "CREDIT": "Credit",
    "CARD": "Card",
    "PEER": "Peer",
    "DIRECT": "Direct",
    "DEBIT": "Debit",
    "SHOPEE": "Shopee",
    "PAY": "Pay",
    "SYARIAH": "Syariah",
    "MANDIRI": "Mandiri",
    "PERMATA": "Permata",
    "DANAMON": "Danamon",
    "MAYBANK": "Maybank",
    "SINARMAS": "Sinarmas",
    "LINKAJA": "LinkAja",
    "JENIUS": "Jenius",
    "KREDIVO": "Kredivo",
    "AKULAKU": "Akulaku",
    "INDODANA": "Indodana",
    "CERIA": "Ceria",
    "CLICKS": "Clicks",
    "KLIKPAY": "KlikPay",
    "NET": "Net",
    "BANKING": "Banking",
    "ALFA": "Alfamart",
    "INDOMARET": "Indomaret",
    "KARTU": "Kartu",
    "KREDIT": "Kredit",
    "INDONESIA": "Indonesia",
    "BALI": "Bali",
    "DOKU": "DOKU",
}


def label(code: str) -> str:
    """A channel code as a person reads it: ``VIRTUAL_ACCOUNT_BCA`` -> ``Virtual Account BCA``.

    Bank and scheme acronyms (BCA, BNI, BRI, QRIS, OVO, DANA, CIMB …) stay in capitals.
    """
    return " ".join(_WORDS.get(word, word) for word in code.split("_") if word)


#: The kinds of channel DOKU's payment page groups its channels by, in its order, and the
#: code prefixes (or whole codes) of each; a code no kind names is one of the "others".
KINDS = (
    ("Virtual accounts", ("VIRTUAL_ACCOUNT_",)),
    ("Cards", (CREDIT_CARD, KARTU_KREDIT_INDONESIA)),
    ("E-wallets", ("EMONEY_",)),
    ("QRIS", ("QRIS",)),
    ("Convenience stores", ("ONLINE_TO_OFFLINE_",)),
    ("Paylater", ("PEER_TO_PEER_",)),
)
OTHER_KIND = "Online banking and direct debit"


def kind(code: str) -> str:
    """The group DOKU's page shows a channel in: ``VIRTUAL_ACCOUNT_BCA`` -> ``Virtual accounts``."""
    for title, prefixes in KINDS:
        if any(code.startswith(prefix) if prefix.endswith("_") else code == prefix for prefix in prefixes):
            return title
    return OTHER_KIND


def name(code: str) -> str:
    """A channel's name within its group, as DOKU's page shows it: ``VIRTUAL_ACCOUNT_BANK_MANDIRI`` -> ``Bank Mandiri``."""
    for _, prefixes in KINDS:
        for prefix in prefixes:
            if prefix.endswith("_") and code.startswith(prefix):
                return label(code.removeprefix(prefix))
    return label(code)


def grouped(codes: list[str]) -> list[tuple[str, list[str]]]:
    """``codes`` by :func:`kind`, in the order of DOKU's page; a kind without codes is left out."""
    order = [title for title, _ in KINDS] + [OTHER_KIND]
    groups: dict[str, list[str]] = {title: [] for title in order}
    for code in codes:
        groups[kind(code)].append(code)
    return [(title, sorted(groups[title], key=name)) for title in order if groups[title]]
