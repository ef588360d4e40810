"""An order's history (its status changes) and the signals each change announces (their deliveries)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_doku_checkout.models.notifications import Notification
from django_doku_checkout.models.orders import Order, OrderStatus


class OrderEvent(models.Model):
    """One change of an order's status: the order's history."""

    class Source(models.TextChoices):
        NOTIFICATION = "notification", _("DOKU notification")
        STATUS_CHECK = "status_check", _("Status check")
        #: Settled by ``doku_checkout_reconcile``: DOKU's notification for it never arrived.
        RECONCILIATION = "reconciliation", _("Reconciliation")
        ADMIN = "admin", _("Admin")
        SHOPPER = "shopper", _("Shopper")
        SYSTEM = "system", _("System")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    old_status = models.CharField(_("old status"), max_length=20, choices=OrderStatus.choices)
    new_status = models.CharField(_("new status"), max_length=20, choices=OrderStatus.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("notification")
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ("created_at", "id")
        # The payments of a recent window (the health check's), without reading the whole history.
        indexes = [models.Index(fields=("new_status", "created_at"), name="doku_event_status_created")]

    def __str__(self) -> str:
        return f"{self.order} {self.old_status} -> {self.new_status}"


class Delivery(models.Model):
    """One receiver's copy of one signal about an order: recorded with the change, delivered at least once.

    A status change records a delivery for every receiver connected to each signal it
    announces, in the change's own transaction. After the commit each receiver is called
    on its own; one that raises is retried later with backoff (``manage.py
    doku_checkout_deliver``), and after ``DELIVERY_MAX_ATTEMPTS`` the order is flagged.
    """

    class Status(models.TextChoices):
        #: A process is calling the receiver; it holds the delivery until ``next_attempt_at``.
        SENDING = "sending", _("Being delivered")
        PENDING = "pending", _("Failed, will retry")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed, gave up")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("order"))
    event = models.ForeignKey(
        OrderEvent, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries", verbose_name=_("event")
    )
    signal = models.CharField(_("signal"), max_length=64)
    receiver = models.CharField(_("receiver"), max_length=255, help_text=_("The receiver's dotted path."))
    arguments = models.JSONField(_("arguments"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.SENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=("status", "next_attempt_at"), name="doku_delivery_due")]

    def __str__(self) -> str:
        return f"{self.signal} -> {self.receiver} ({self.get_status_display()})"
