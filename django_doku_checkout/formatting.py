"""How amounts are shown to people: rupiah the way Indonesians write them."""

from __future__ import annotations


def format_rupiah(amount: int | None, currency: str = "IDR") -> str:
    """``240000`` as ``Rp 240.000``: dots between thousands, no decimals (DOKU takes none).

    Another currency code is shown before the number instead of ``Rp``; ``None`` is ``-``.
    """
    if amount is None:
        return "-"
    grouped = f"{amount:,}".replace(",", ".")
    return f"Rp {grouped}" if currency == "IDR" else f"{currency} {grouped}"
