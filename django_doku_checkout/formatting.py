"""How amounts and times are shown to people: rupiah the way Indonesians write them, times with their zone."""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import formats, timezone

#: Western Indonesian Time, the zone DOKU states its expiry times in, and Jakarta's.
JAKARTA = ZoneInfo("Asia/Jakarta")


def format_rupiah(amount: int | None, currency: str = "IDR") -> str:
    """``240000`` as ``Rp 240.000``: dots between thousands, no decimals (DOKU takes none).

    Another currency code is shown before the number instead of ``Rp``; ``None`` is ``-``.
    """
    if amount is None:
        return "-"
    grouped = f"{amount:,}".replace(",", ".")
    return f"Rp {grouped}" if currency == "IDR" else f"{currency} {grouped}"


def shoppers_timezone() -> tzinfo:
    """The zone a shopper reads times in: the project's ``TIME_ZONE``, or WIB while it is UTC.

    UTC is ``startproject``'s default, not a shop's choice: DOKU serves Indonesia, and its
    shoppers read Western Indonesian Time (WIB) unless the shop set its own zone (WITA, WIT).
    """
    name = settings.TIME_ZONE or "UTC"
    return JAKARTA if name in ("UTC", "Etc/UTC") else ZoneInfo(name)


def format_moment(moment: datetime) -> str:
    """``moment`` as a shopper reads it: the active language's ``DATETIME_FORMAT`` in
    :func:`shoppers_timezone`, the zone's name after it (``Dec. 4, 2026, 1:26 p.m. WIB``,
    ``4 Des. 2026, 13.26 WIB``). Ending with the zone, it never ends with a period, so a
    sentence around it never shows two.
    """
    if timezone.is_naive(moment):  # USE_TZ = False: a naive time is in TIME_ZONE
        moment = timezone.make_aware(moment, ZoneInfo(settings.TIME_ZONE or "UTC"))
    local = moment.astimezone(shoppers_timezone())
    zone = local.tzname() or ""
    if zone.startswith(("+", "-")):  # zones without a common abbreviation are named by their offset ("+08")
        zone = f"UTC{zone}"
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {zone}"
