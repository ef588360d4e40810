"""A session cart: product id -> quantity."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.http import HttpRequest

from shop.models import Product

SESSION_KEY = "cart"
MAX_QUANTITY = 99
#: ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def total(self) -> int:
        return self.product.price * self.quantity


def _valid(key: object, quantity: object) -> bool:
    return isinstance(key, str) and bool(_NUMBER.fullmatch(key)) and isinstance(quantity, int) and quantity > 0


def contents(request: HttpRequest) -> dict[str, int]:
    """The cart; an entry that is not a product id and a quantity (an old or tampered session) is dropped."""
    stored = request.session.get(SESSION_KEY, {})
    if not isinstance(stored, dict):
        return {}
    return {key: quantity for key, quantity in stored.items() if _valid(key, quantity)}


def parse_quantities(form: Mapping[str, str]) -> dict[str, int] | None:
    """``qty-<product id>`` fields as a cart, or None when any of them is not a product id and a number."""
    cart = {}
    for key, value in form.items():
        if not key.startswith("qty-"):
            continue
        product_id = key.removeprefix("qty-")
        if not _NUMBER.fullmatch(product_id) or not _NUMBER.fullmatch(value or "0"):
            return None
        cart[product_id] = min(MAX_QUANTITY, int(value or 0))
    return cart


def save(request: HttpRequest, cart: dict[str, int]) -> None:
    request.session[SESSION_KEY] = {key: qty for key, qty in cart.items() if qty > 0}


def lines(request: HttpRequest) -> list[CartLine]:
    cart = contents(request)
    products = Product.objects.in_bulk([int(pk) for pk in cart])
    return [CartLine(products[int(pk)], qty) for pk, qty in cart.items() if int(pk) in products]
