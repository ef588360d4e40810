"""A shop's receivers, which record every call: benchmark 8 counts them per change."""

from __future__ import annotations

import os
from typing import Any

from django_doku_checkout import signals


def record(signal: Any, order: Any, delivery: Any, **kwargs: Any) -> None:
    from benchmarks.site.models import ReceiverCall

    ReceiverCall.objects.create(
        delivery_id=delivery.pk,
        order_id=order.pk,
        signal=delivery.signal,
        new_status=str(kwargs.get("new_status") or ""),
        pid=os.getpid(),
    )


def connect() -> None:
    signals.order_status_changed.connect(record, dispatch_uid="benchmark-status")
    signals.payment_succeeded.connect(record, dispatch_uid="benchmark-paid")
