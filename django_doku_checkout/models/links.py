"""A payment link: one attempt at paying an order (a DOKU Checkout session or a card payment page)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from django_doku_checkout.models.orders import Order


class CheckoutSession(models.Model):
    """One payment link DOKU created for an order: a Checkout session or a card payment page."""

    class Kind(models.TextChoices):
        CHECKOUT = "checkout", _("DOKU Checkout")
        CARD_PAGE = "card_page", _("Card payment page")

    class Status(models.TextChoices):
        #: Claimed: the request to DOKU is being sent, with this row's Request-Id.
        CREATING = "creating", _("Being created")
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")
        ERROR = "error", _("Could not be created")

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="checkout_sessions", verbose_name=_("order")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.CHECKOUT)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    invoice_number = models.CharField(
        _("invoice number sent"),
        max_length=64,
        unique=True,
        help_text=_("The order's invoice number, with a suffix for every new attempt after the first."),
    )
    request_id = models.CharField(_("Request-Id"), max_length=128, unique=True)
    token_id = models.CharField(_("token id"), max_length=255, blank=True)
    payment_url = models.URLField(_("payment URL"), max_length=2000, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    recoverable_until = models.DateTimeField(
        _("recoverable until"),
        null=True,
        blank=True,
        help_text=_("With abandoned-cart recovery, DOKU still takes a payment on the expired link until then."),
    )
    payment_channel = models.CharField(_("payment channel"), max_length=64, blank=True)
    last_transaction_status = models.CharField(_("last DOKU transaction status"), max_length=32, blank=True)
    original_request_id = models.CharField(
        _("DOKU's original request id"),
        max_length=128,
        blank=True,
        help_text=_("transaction.original_request_id from DOKU: a refund of this attempt names it."),
    )
    error_message = models.TextField(_("error"), blank=True)
    cancelled_at_doku = models.DateTimeField(
        _("cancelled at DOKU"),
        null=True,
        blank=True,
        help_text=_("When DOKU confirmed the link can no longer be paid (the CANCEL_AT_DOKU setting)."),
    )
    doku_cancel_error = models.TextField(
        _("DOKU's refusal to cancel"),
        blank=True,
        help_text=_("Why DOKU did not cancel the link: it may still be paid."),
    )
    #: The cancellation being asked of DOKU (the claim protocol, see services.claims): its
    #: Request-Id and exact bytes, so that one cut off mid-call is sent again as it was.
    #: The bytes are cleared once DOKU's answer is recorded; the Request-Id stays.
    cancel_request_id = models.CharField(_("cancellation Request-Id"), max_length=128, blank=True, editable=False)
    cancel_request_payload = models.TextField(_("cancellation being sent"), blank=True, editable=False)
    cancel_claimed_at = models.DateTimeField(_("cancellation sent at"), null=True, blank=True, editable=False)
    request_body = models.JSONField(_("request body"), default=dict, blank=True)
    #: The exact body of a claim being sent, so that a resend after a crash is the same request
    #: (a JSON column need not keep the keys' order); cleared once DOKU's answer is recorded.
    request_payload = models.TextField(_("request being sent"), blank=True, editable=False)
    response_body = models.JSONField(_("response body"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("checkout session")
        verbose_name_plural = _("checkout sessions")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("order", "status", "expires_at"), name="doku_session_live")]

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def payable_until(self) -> datetime | None:
        """Until when DOKU may take a payment on this link: its expiry, or the end of its recovery window."""
        return self.recoverable_until or self.expires_at
