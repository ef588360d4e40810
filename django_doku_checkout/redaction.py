"""Remove secrets and card numbers from payloads before they are stored or shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Keys whose values are credentials. Compared case-insensitively, ignoring - and _.
_SECRET_KEYS = frozenset({"signature", "secretkey", "sharedkey", "password", "authorization", "cvv", "cvc"})
# 13 to 19 digits, optionally grouped by spaces or dashes: the shape of a card number.
_CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# A UUID (an order's public_id in a URL) is no card number, whatever digits its groups hold.
_UUID = re.compile(r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Replace every Luhn-valid card number in ``text`` with its first six and last four digits."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        if not _luhn_valid(digits):
            return match.group()
        return f"{digits[:6]}{'*' * (len(digits) - 10)}{digits[-4:]}"

    # split() with a group alternates the text between UUIDs (even places) and the UUIDs.
    parts = _UUID.split(text)
    return "".join(part if index % 2 else _CARD_NUMBER.sub(mask, part) for index, part in enumerate(parts))


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "").replace("_", "") in _SECRET_KEYS


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with credentials replaced and card numbers masked."""
    if isinstance(value, Mapping):
        return {key: REDACTED if _is_secret_key(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    return value
