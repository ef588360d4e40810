"""Fault injection: make the simulator behave like DOKU on a bad day."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

#: Per-request faults arrive in this header, e.g. ``X-Simulator-Faults: error_rate=1,latency=0.5``.
HEADER = "X-Simulator-Faults"


@dataclass(frozen=True)
class Faults:
    """What can go wrong. Rates are shares from 0 to 1; times are seconds."""

    latency: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 35.0
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    out_of_order_notifications: bool = False
    wrong_amount: bool = False
    #: DOKU's REFUNDED/VOIDED notification of an API refund reaches the shop (its first attempt)
    #: before the API's answer: the harder order for the shop, so the default. Off, they race.
    refund_notification_first: bool = True
    #: DOKU declines card refunds: HTTP 200 with ``refund.status`` FAILED, and nothing refunded.
    refund_refused: bool = False

    def updated(self, values: dict[str, Any]) -> Faults:
        """A copy with ``values`` applied; unknown names and bad values raise ValueError."""
        known = {f.name: f.type for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(known)}")
            if known[name] == "bool":
                changes[name] = value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}
            else:
                number = float(value)
                if number < 0 or (name.endswith("_rate") and number > 1):
                    raise ValueError(f"fault {name} must be {'0 to 1' if name.endswith('_rate') else '>= 0'}")
                changes[name] = number
        return replace(self, **changes)

    @classmethod
    def parse_header(cls, base: Faults, header: str) -> Faults:
        pairs = [part.split("=", 1) for part in header.split(",") if "=" in part]
        return base.updated({name.strip(): value.strip() for name, value in pairs})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
