from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

#: Who made a change: a staff user (the admin's ``request.user``), or None for the shopper,
#: DOKU or a task. Recorded on the order's events and refunds when it is a saved user.
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | None"


def saved_user(actor: Actor) -> Any:
    """The user to record as ``actor`` of an event or a refund: a saved user, else None (nobody, or anonymous).

    Typed ``Any``: the field's model is the shop's ``AUTH_USER_MODEL``.
    """
    return actor if getattr(actor, "pk", None) else None


class OrderStatus(models.TextChoices):
    CREATED = "created", _("Created")
    PENDING = "pending", _("Pending payment")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


#: Orders whose payment DOKU took: what a refund may give back.
MONEY_TAKEN = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})


class Order(models.Model):
    """A shop's order, paid through DOKU. Amounts are whole rupiah."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    invoice_number = models.CharField(_("invoice number"), max_length=64, unique=True)
    amount = models.PositiveBigIntegerField(_("amount"), help_text=_("Whole rupiah, no decimals."))
    currency = models.CharField(_("currency"), max_length=3, default="IDR")
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.CREATED)

    customer_id = models.CharField(_("customer id"), max_length=50, blank=True)
    customer_name = models.CharField(_("customer name"), max_length=255, blank=True)
    customer_last_name = models.CharField(_("customer last name"), max_length=16, blank=True)
    customer_email = models.EmailField(_("customer email"), max_length=128, blank=True)
    customer_phone = models.CharField(_("customer phone"), max_length=20, blank=True)
    customer_address = models.CharField(_("customer address"), max_length=400, blank=True)
    customer_city = models.CharField(_("customer city"), max_length=255, blank=True)
    customer_state = models.CharField(_("customer state"), max_length=255, blank=True)
    customer_postcode = models.CharField(_("customer postcode"), max_length=16, blank=True)
    customer_country = models.CharField(_("customer country"), max_length=2, blank=True)
    shipping_address = models.JSONField(
        _("shipping address"), default=dict, blank=True, help_text=_("DOKU's shipping_address object.")
    )
    billing_address = models.JSONField(
        _("billing address"), default=dict, blank=True, help_text=_("DOKU's billing_address object.")
    )
    payment_method_types = models.JSONField(
        _("payment methods"),
        default=list,
        blank=True,
        help_text=_("DOKU channel codes to offer; empty offers every channel active on the account."),
    )

    reference = models.CharField(
        _("shop reference"),
        max_length=255,
        blank=True,
        db_index=True,
        help_text=_("The shop's own object this order pays for, e.g. booking:42."),
    )
    metadata = models.JSONField(
        _("metadata"), default=dict, blank=True, help_text=_("The shop's own data; never sent to DOKU.")
    )

    # DOKU options of this order's links; empty uses the DOKU_CHECKOUT setting or DOKU's default.
    payment_due_date = models.PositiveIntegerField(
        _("payment due after (minutes)"),
        null=True,
        blank=True,
        help_text=_("How long a payment link stays open; empty uses the PAYMENT_DUE_DATE setting."),
    )
    allow_tenor = models.JSONField(
        _("instalment tenors"),
        default=list,
        blank=True,
        help_text=_("Card instalment tenors in months to offer, from 0, 3, 6 and 12; empty offers DOKU's default."),
    )
    recover_abandoned_cart = models.BooleanField(
        _("recover abandoned cart"),
        null=True,
        blank=True,
        help_text=_("DOKU reminds a shopper who left the payment page."),
    )
    expired_recovered_cart = models.PositiveIntegerField(
        _("recovered cart expires after (minutes)"), null=True, blank=True
    )
    disable_retry_payment = models.BooleanField(
        _("disable retry payment"),
        null=True,
        blank=True,
        help_text=_("DOKU's page does not offer another channel after a failed attempt."),
    )
    sub_account_id = models.CharField(
        _("sub account"),
        max_length=64,
        blank=True,
        help_text=_("DOKU sub account to settle this order to; empty uses the SUB_ACCOUNT_ID setting."),
    )

    needs_review = models.BooleanField(_("needs review"), default=False)
    review_reason = models.TextField(_("review reason"), blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    paid_link = models.ForeignKey(
        "CheckoutSession",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("paid with"),
        help_text=_("The payment link whose payment paid the order: the one a refund gives back."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    anonymised_at = models.DateTimeField(
        _("personal data removed at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When doku_checkout_prune removed the customer's personal data; the amounts stay for the books."),
    )
    status_check_claimed_until = models.DateTimeField(
        _("status check claimed until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Reconciliation's claim on the order while it asks DOKU, so other machines skip it."),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ("-created_at", "-id")
        permissions = [
            ("create_payment_link", _("Can create DOKU payment links")),
            ("refund_payment", _("Can refund payments")),
        ]
        indexes = [models.Index(fields=("status", "created_at"), name="doku_order_status_created")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="doku_order_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def money_taken(self) -> bool:
        """Whether DOKU took the shopper's money for this order (paid, or refunded since)."""
        return self.status in MONEY_TAKEN

    def line_items_total(self) -> int:
        """The sum of price x quantity over the order's line items (0 without items)."""
        result = self.line_items.aggregate(total=Sum(F("price") * F("quantity")))
        return int(result["total"] or 0)


class LineItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items", verbose_name=_("order"))
    item_id = models.CharField(_("item id"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=255)
    price = models.PositiveBigIntegerField(_("price"), help_text=_("Whole rupiah per unit."))
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    category = models.CharField(_("category"), max_length=64, blank=True)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    image_url = models.URLField(_("image URL"), max_length=2000, blank=True)
    item_type = models.CharField(_("type"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("line item")
        verbose_name_plural = _("line items")
        # The column, not the relation: ordering by "order" would join the orders table.
        ordering = ("order_id", "id")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="doku_lineitem_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"

    @property
    def total(self) -> int:
        return self.price * self.quantity


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


class OrderEvent(models.Model):
    """One change of an order's status: the order's history."""

    class Source(models.TextChoices):
        NOTIFICATION = "notification", _("DOKU notification")
        STATUS_CHECK = "status_check", _("Status check")
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

    def __str__(self) -> str:
        return f"{self.order} -{self.amount} ({self.get_status_display()})"
