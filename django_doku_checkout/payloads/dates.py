"""DOKU's dates: ``yyyyMMddHHmmss`` in Western Indonesian Time (UTC+7)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")
DOKU_DATETIME_FORMAT = "%Y%m%d%H%M%S"


def parse_doku_datetime(value: object) -> datetime | None:
    """An aware datetime from DOKU's ``yyyyMMddHHmmss`` in UTC+7 (``expired_date``), else None."""
    if not isinstance(value, str) or len(value) != 14:
        return None
    try:
        return datetime.strptime(value, DOKU_DATETIME_FORMAT).replace(tzinfo=WIB)
    except ValueError:
        return None


def format_doku_datetime(moment: datetime) -> str:
    """``moment`` as DOKU writes it: ``yyyyMMddHHmmss`` in UTC+7."""
    return moment.astimezone(WIB).strftime(DOKU_DATETIME_FORMAT)
