"""Filters for the simulator's pages (it shares no code with the shop's side but signing and payloads)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def rupiah(amount: object) -> str:
    """``85000`` as DOKU's pages write it: ``Rp 85.000``."""
    try:
        return "Rp " + f"{int(str(amount)):,}".replace(",", ".")
    except ValueError:
        return str(amount)
