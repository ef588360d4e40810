"""Phone numbers as DOKU takes them: digits with the country calling code."""

from __future__ import annotations

import re


def normalize_phone(phone: str, *, calling_code: str = "62") -> str:
    """DOKU wants ``{calling_code}{number}`` digits: ``0812-3456 789`` -> ``628123456789``.

    Also read as people write them: ``+62 (0)812 3456 7890``, ``0062 812 …``, ``62 0812 …``,
    dots, dashes and spaces. Only ASCII digits count.
    """
    digits = re.sub(r"[^0-9]", "", phone.replace("(0)", ""))
    if digits.startswith("00"):  # the international call prefix, as in 0062
        digits = digits[2:]
    elif digits.startswith("0"):  # a national number: the trunk 0 gives way to the country code
        return calling_code + digits[1:]
    if digits.startswith(calling_code + "0"):  # "62 0812": the trunk 0 written after the country code
        digits = calling_code + digits[len(calling_code) + 1 :]
    return digits
