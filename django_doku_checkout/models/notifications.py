"""DOKU's notifications, stored as received before anything is done with them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_doku_checkout.models.links import CheckoutSession
from django_doku_checkout.models.orders import Order


class Notification(models.Model):
    """A raw HTTP notification from DOKU, stored before anything else is done with it."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        DUPLICATE = "duplicate", _("Duplicate")
        IGNORED = "ignored", _("Recorded, no change")
        FLAGGED = "flagged", _("Flagged for review")
        REJECTED = "rejected", _("Rejected")
        UNKNOWN_ORDER = "unknown_order", _("Unknown invoice")
        UNCONFIRMED = "unconfirmed", _("Not confirmed yet; DOKU retries")
        FAILED = "failed", _("Processing failed")

    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    request_id = models.CharField(_("Request-Id"), max_length=128, blank=True, db_index=True)
    client_id = models.CharField(_("Client-Id"), max_length=128, blank=True)
    path = models.CharField(_("path"), max_length=2000, blank=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    body = models.TextField(
        _("body"),
        blank=True,
        help_text=_("As received when the signature verified; only the first 2 KiB of a rejected request."),
    )
    body_length = models.PositiveIntegerField(_("body length"), default=0, help_text=_("In bytes, as received."))
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64, blank=True)
    signature_valid = models.BooleanField(_("signature valid"), null=True)
    invoice_number = models.CharField(_("invoice number"), max_length=64, blank=True, db_index=True)
    transaction_status = models.CharField(_("transaction status"), max_length=32, blank=True)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications", verbose_name=_("order")
    )
    checkout_session = models.ForeignKey(
        CheckoutSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("checkout session"),
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    detail = models.TextField(_("detail"), blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ("-received_at", "-id")

    def __str__(self) -> str:
        return f"{self.invoice_number or '?'} {self.transaction_status or '?'} ({self.get_outcome_display()})"
