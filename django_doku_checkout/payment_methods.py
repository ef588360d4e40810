"""DOKU's payment-method codes and the fields each method makes mandatory. Pure data.

DOKU adds channels over time, so an unknown code is passed through with a warning
rather than refused.
"""

from __future__ import annotations

from dataclasses import dataclass

CREDIT_CARD = "CREDIT_CARD"

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
        "ONLINE_TO_OFFLINE_ALFA",
        "ONLINE_TO_OFFLINE_INDOMARET",
        CREDIT_CARD,
        "QRIS",
        "EMONEY_OVO",
        "EMONEY_SHOPEE_PAY",
        "EMONEY_SHOPEEPAY",
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
}

# DOKU publishes no Checkout code for Kartu Kredit Indonesia; any code naming KKI gets its rules.
KKI_RULES = MethodRules("KKI", line_items=("name", "price", "quantity"), no_symbols=True)


def rules_for(code: str) -> MethodRules | None:
    """The mandatory-field rules of one payment-method code, if it has any."""
    if "KKI" in code.upper().split("_"):
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
