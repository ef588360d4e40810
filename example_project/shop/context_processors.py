from __future__ import annotations

from django.http import HttpRequest

from shop import cart as session_cart


def cart(request: HttpRequest) -> dict[str, int]:
    return {"cart_count": sum(session_cart.contents(request).values()) if hasattr(request, "session") else 0}
