"""Invoice numbers at DOKU: one of its own for every attempt at paying an order."""

from __future__ import annotations

from django_doku_checkout import payloads
from django_doku_checkout.models import CheckoutSession, Order


def _taken(invoice_number: str, order: Order, *, ask_links: bool) -> bool:
    """Whether another attempt, or another order, already uses ``invoice_number`` at DOKU.

    ``ask_links=False`` leaves the links out: their unique invoice number refuses the claim
    if one has it, and the claim is chosen again, asking them this time.
    """
    if ask_links and CheckoutSession.objects.filter(invoice_number=invoice_number).exists():
        return True
    # An order's own invoice number is unique among orders: only a suffixed one can be another's.
    return (
        invoice_number != order.invoice_number
        and Order.objects.filter(invoice_number=invoice_number).exclude(pk=order.pk).exists()
    )


def _numbered(base: str, separator: str, number: int, max_length: int | None) -> str:
    """``base`` with the attempt's suffix; ``base``'s first characters give way where they would not fit."""
    suffix = f"{separator}{number}"
    if max_length is not None and len(base) + len(suffix) > max_length:
        base = base[len(base) + len(suffix) - max_length :]
    return f"{base}{suffix}"


def next_invoice_number(order: Order, *, attempts: int, ask_links: bool = True, max_length: int | None = None) -> str:
    """The invoice number of the order's next attempt: its own first, then the first free suffix.

    DOKU's handling of a reused invoice number is undocumented, so every attempt gets its
    own: INV-1, INV-1-2, INV-1-3 ... skipping any another order already uses (an order
    ``SO-1-2`` next to ``SO-1``). An invoice number without symbols keeps none, for Kartu
    Kredit Indonesia: INV1, INV1R2, INV1R3 ...

    ``max_length`` (a card page's 27; a Checkout's 30 when a card may be offered) holds for every attempt: where the suffix would not fit,
    the order's invoice number loses its first characters, keeping the end that tells orders
    apart (``SHOP-2026-12-04-0000123456`` becomes ``HOP-2026-12-04-0000123456-2``). Notifications
    and the Status API find the attempt by its own invoice number, so nothing else changes.
    The order's own invoice number is never shortened: one too long is refused by the body's rules.
    """
    separator = "-" if payloads.has_symbols(order.invoice_number) else "R"
    number = attempts + 1
    if attempts == 0:
        candidate = order.invoice_number
    else:
        candidate = _numbered(order.invoice_number, separator, number, max_length)
    while _taken(candidate, order, ask_links=ask_links):
        number += 1
        candidate = _numbered(order.invoice_number, separator, number, max_length)
    return candidate
