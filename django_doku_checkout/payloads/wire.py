"""DOKU's wire format: JSON read defensively from DOKU, and a body's bytes written once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

#: The deepest JSON this app reads from DOKU; DOKU's bodies are four levels deep.
MAX_JSON_DEPTH = 32


def _depth_within(raw: bytes, limit: int) -> bool:
    """Whether the brackets in ``raw`` (outside strings) never nest deeper than ``limit``."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def loads(raw: bytes) -> Any:
    """JSON from DOKU, or None when it is not JSON or nests deeper than :data:`MAX_JSON_DEPTH`.

    Numbers with a fraction or an exponent are read as :class:`~decimal.Decimal`, so that
    ``85000.000000000001`` and ``8.5e4`` are not silently taken for 85,000. A depth check comes
    first: Python's parser, and anything walking the result, would exhaust the stack on a
    few kilobytes of ``[``.
    """
    if not _depth_within(raw, MAX_JSON_DEPTH):
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Serialize a body once; these exact bytes are digested, signed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
