"""Where "Back to your order" leads: the shop's own order page, named by the ``ORDER_URL`` setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from django_doku_checkout.conf import get_config


def order_url_resolver(value: str) -> Callable[[Any], str] | None:
    """The callable ``ORDER_URL`` names by dotted path, or ``None`` when it names a URL instead."""
    if ":" in value or "." not in value:
        return None
    try:
        found = import_string(value)
    except ImportError:
        return None
    return found if callable(found) else None


def back_to_order_url(order: Any) -> str:
    """The shop's page for ``order``, or ``""`` when ``ORDER_URL`` is not set.

    ``ORDER_URL`` is a URL name reversed with ``public_id=order.public_id`` (``"shop:order"``),
    or the dotted path of a callable that takes the order and returns its URL.
    """
    value = get_config().order_url
    if not value:
        return ""
    resolver = order_url_resolver(value)
    if resolver is not None:
        return str(resolver(order))
    try:
        return reverse(value, kwargs={"public_id": order.public_id})
    except NoReverseMatch:
        return ""  # system check W007 names the problem; the pages still work without the link
