"""A session cart: product id -> quantity."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from shop.models import Product

SESSION_KEY = "cart"


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def total(self) -> int:
        return self.product.price * self.quantity


def contents(request: HttpRequest) -> dict[str, int]:
    return dict(request.session.get(SESSION_KEY, {}))


def save(request: HttpRequest, cart: dict[str, int]) -> None:
    request.session[SESSION_KEY] = {key: qty for key, qty in cart.items() if qty > 0}


def lines(request: HttpRequest) -> list[CartLine]:
    cart = contents(request)
    products = Product.objects.in_bulk([int(pk) for pk in cart])
    return [CartLine(products[int(pk)], qty) for pk, qty in cart.items() if int(pk) in products]
