"""Refunds: money given back on a paid order, through DOKU's API or recorded from its back office."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_doku_checkout.models.links import CheckoutSession
from django_doku_checkout.models.notifications import Notification
from django_doku_checkout.models.orders import Order


class Refund(models.Model):
    """Money given back to the shopper for one paid attempt of an order: by DOKU's API, or by hand.

    A card refund is claimed as ``requested`` (which reserves its amount) before DOKU is
    asked, and becomes ``succeeded`` or ``failed`` with DOKU's answer. Other channels are
    refunded in DOKU's back office and recorded here by hand; refunds DOKU reports itself
    (``REFUNDED``/``VOIDED``) are recorded too. The order's status follows the succeeded
    total: ``partially_refunded``, then ``refunded``.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Method(models.TextChoices):
        #: ``POST /cancellation/credit-card/refund``, sent by this app.
        CARD_API = "card_api", _("Card refund at DOKU")
        #: Made in DOKU's back office and recorded by staff.
        MANUAL = "manual", _("Recorded by hand")
        #: Reported by DOKU (a REFUNDED or VOIDED notification or status answer).
        DOKU = "doku", _("Reported by DOKU")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("order"))
    checkout_session = models.ForeignKey(
        CheckoutSession,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("payment link refunded"),
    )
    amount = models.PositiveBigIntegerField(_("amount"), help_text=_("Whole rupiah."))
    reason = models.TextField(_("reason"), blank=True)
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED)
    request_id = models.CharField(_("Request-Id"), max_length=128, unique=True)
    #: The exact body being sent, so a resend after a timeout is the same request (DOKU then
    #: answers 409 with its first answer instead of refunding twice).
    request_payload = models.TextField(_("request being sent"), blank=True, editable=False)
    #: The key of the staff form (or bulk confirmation) that asked for this refund: the same
    #: form sent again finds this refund and sends nothing (unique, so even two posts at once
    #: make one refund).
    idempotency_key = models.CharField(_("form key"), max_length=64, unique=True, null=True, blank=True, editable=False)
    refund_type = models.CharField(
        _("DOKU's refund type"), max_length=32, blank=True, help_text=_("VOID, PARTIAL_REFUND or FULL_REFUND.")
    )
    doku_reference = models.CharField(
        _("DOKU's reference"), max_length=128, blank=True, help_text=_("DOKU's approval code, or the back office's.")
    )
    response_body = models.JSONField(_("DOKU's answer"), default=dict, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    notification = models.ForeignKey(
        Notification, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("notification")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    #: Not stored: True on a refund a service call returned because its key had already made
    #: it (the same staff form sent again), so nothing was sent to DOKU by that call.
    reused = False

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ("created_at", "id")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="doku_refund_amount_positive")]
        # The refunds asked for since a moment, newest first (the payments dashboard).
        indexes = [models.Index(fields=("created_at",), name="doku_refund_created")]

    def __str__(self) -> str:
        return f"{self.order} -{self.amount} ({self.get_status_display()})"
