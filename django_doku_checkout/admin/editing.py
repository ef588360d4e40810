"""What staff may still change on an order, and how its change page groups the fields.

An order's page follows Django's conventions: the order itself, its status (always
read-only), the customer, and the addresses, DOKU options, shop data and record collapsed.
What DOKU already has is read-only once it has it. The addresses and DOKU options shape
only DOKU's payment page, so they are read-only while a link DOKU may still be paid through
is live, an expired one in its abandoned-cart recovery window too (a change would not reach it); the customer's e-mail and phone also carry the shop's
own messages (the link by e-mail or WhatsApp), so the customer stays editable until money is
taken. From then on all of it is the record. Changing the amount of an unpaid order
withdraws its link, so the options become editable again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy

from django_doku_checkout import services
from django_doku_checkout.models import Order, OrderStatus

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

#: Orders whose line items and amount staff may still change: no money has been taken.
EDITABLE_STATUSES = frozenset({OrderStatus.CREATED, OrderStatus.PENDING, OrderStatus.FAILED, OrderStatus.EXPIRED})

#: The order's record: what our code and DOKU's answers write, never staff.
RECORD_FIELDS = ("status", "paid_at", "needs_review", "review_reason", "public_id", "created_at", "updated_at")
#: What fixes what DOKU was paid for: read-only once money was taken.
PAID_FOR_FIELDS = ("invoice_number", "amount", "currency", "payment_method_types")
CUSTOMER_FIELDS = (
    ("customer_name", "customer_last_name"),
    ("customer_email", "customer_phone"),
    "customer_address",
    ("customer_city", "customer_state"),
    ("customer_postcode", "customer_country"),
    "customer_id",
)
ADDRESS_FIELDS = ("shipping_address", "billing_address")
OPTION_FIELDS = (
    "payment_method_types",
    "payment_due_date",
    "allow_tenor",
    ("recover_abandoned_cart", "expired_recovered_cart"),
    "disable_retry_payment",
    ("sub_account_id", "split_rule_id"),
)
#: JSON fields and their read-only renderings (methods of the admin, in admin/display.py).
RENDERED = {
    "shipping_address": "shipping_address_display",
    "billing_address": "billing_address_display",
    "payment_method_types": "payment_methods_display",
    "allow_tenor": "tenors_display",
    "metadata": "metadata_display",
}


def editable(order: Order | None) -> bool:
    """A new order, or one whose items and amount may still change (no money taken)."""
    return order is None or order.status in EDITABLE_STATUSES


def doku_has_it(order: Order | None) -> bool:
    """Whether DOKU holds the order's addresses and options: money taken, or a live link (open or recoverable)."""
    if order is None:
        return False
    return not editable(order) or services.live_link(order) is not None


def _flat(fields: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(name for entry in fields for name in (entry if isinstance(entry, tuple) else (entry,)))


def _shown(fields: tuple[Any, ...], rendered: bool) -> tuple[Any, ...]:
    """``fields``, each JSON field replaced by its read-only rendering when ``rendered``."""
    if not rendered:
        return fields
    return tuple(
        tuple(RENDERED.get(name, name) for name in entry) if isinstance(entry, tuple) else RENDERED.get(entry, entry)
        for entry in fields
    )


def fieldsets(order: Order | None) -> _FieldsetSpec:
    """The change page's groups for ``order`` (None: the add page)."""
    known = doku_has_it(order)
    paid = not editable(order)
    groups: list[Any] = [
        (None, {"fields": (("invoice_number", "amount", "currency"), "reference")}),
    ]
    if order is not None:
        groups.append((gettext_lazy("Status"), {"fields": ("status", "paid_at", ("needs_review", "review_reason"))}))
    groups += [
        (gettext_lazy("Customer"), {"fields": CUSTOMER_FIELDS}),
        (gettext_lazy("Addresses"), {"fields": _shown(ADDRESS_FIELDS, known), "classes": ("collapse",)}),
        (gettext_lazy("DOKU options"), {"fields": _shown(OPTION_FIELDS, known), "classes": ("collapse",)}),
        (
            gettext_lazy("Shop data"),
            {"fields": _shown(("metadata",), paid), "classes": ("collapse",)},
        ),
    ]
    if order is not None:
        groups.append(
            (gettext_lazy("Record"), {"fields": (("public_id", "created_at", "updated_at"),), "classes": ("collapse",)})
        )
    return groups


def readonly_fields(order: Order | None) -> tuple[str, ...]:
    """What staff may not change on ``order``'s page: the record, and what DOKU already has."""
    fields: tuple[str, ...] = RECORD_FIELDS
    if not editable(order):
        # What DOKU was paid for, and who paid, is the record; it no longer changes.
        fields += PAID_FOR_FIELDS + _flat(CUSTOMER_FIELDS) + (RENDERED["metadata"],)
    if doku_has_it(order):
        known = (RENDERED.get(name, name) for name in ADDRESS_FIELDS + _flat(OPTION_FIELDS))
        fields += tuple(name for name in known if name not in fields)
    return fields
