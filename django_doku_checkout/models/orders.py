"""Orders and their line items: what the shop sells, in whole rupiah, and the order's status."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeAlias

from django.core.exceptions import ValidationError
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
        help_text=_(
            "DOKU keeps the payment link payable after it expires, for the minutes below: a shopper who "
            "left the payment page can still pay it then."
        ),
    )
    expired_recovered_cart = models.PositiveIntegerField(
        _("recovered cart expires after (minutes)"),
        null=True,
        blank=True,
        help_text=_("How long after the link expires DOKU still takes its payment (at most 44640, 31 days)."),
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
    split_rule_id = models.CharField(
        _("split rule"),
        max_length=64,
        blank=True,
        help_text=_("DOKU split rule of this order's sub account; sent only with the order's own sub account."),
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
        indexes = [
            models.Index(fields=("status", "created_at"), name="doku_order_status_created"),
            # The payments dashboard's days: the orders paid since a moment.
            models.Index(fields=("paid_at",), name="doku_order_paid_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="doku_order_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.invoice_number

    @staticmethod
    def account_problems(sub_account_id: str | None, split_rule_id: str | None) -> list[str]:
        """DOKU's rule for an order's own account, for ``create_order`` and the admin's form (like E045).

        DOKU divides only a sub account's payments by its split rule: an order's split rule
        without its own sub account would never be sent (the setting's account takes the
        setting's rule), so it is refused rather than dropped.
        """
        if not split_rule_id or sub_account_id:
            return []
        return [
            str(
                _(
                    "split_rule_id %(rule)r needs the order's own sub_account_id: DOKU applies a split rule only "
                    "to its sub account's payments; set sub_account_id to the account the rule belongs to, or "
                    "leave split_rule_id empty."
                )
                % {"rule": split_rule_id}
            )
        ]

    def clean(self) -> None:
        """The admin's form (and ``full_clean``) refuses what ``create_order`` refuses about the account."""
        super().clean()
        if problems := self.account_problems(self.sub_account_id, self.split_rule_id):
            # Not keyed by field: the admin shows the two fields read-only once DOKU has them.
            raise ValidationError(problems)

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
