"""What the benchmark's receivers record: one row per call (no migrations: the test database syncs it)."""

from __future__ import annotations

from django.db import models


class ReceiverCall(models.Model):
    """One call of a receiver: which delivery, which signal, which process."""

    delivery_id = models.BigIntegerField()
    order_id = models.BigIntegerField()
    signal = models.CharField(max_length=32)
    new_status = models.CharField(max_length=20, blank=True)
    pid = models.IntegerField()
    called_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.signal} for order {self.order_id} (delivery {self.delivery_id})"
