"""What the admin's actions and buttons do to each order, one result per order.

Every order is handled on its own: one order failing (bad data, DOKU down) is reported
and the next one is still tried. The work itself is in :mod:`django_doku_checkout.services`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import services
from django_doku_checkout.conf import get_config
from django_doku_checkout.exceptions import DokuAPIError, DokuError, DokuValidationError, LinkInProgress
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import Actor, CheckoutSession, Order, Refund
from django_doku_checkout.services.cancellations import links_payable_at_doku
from django_doku_checkout.services.refunds import paying_link, refundable_by_api
from django_doku_checkout.services.sharing import qr_code_svg

logger = logging.getLogger(__name__)

OUTCOME_LABELS = {
    "created": gettext_lazy("Link created"),
    "reused": gettext_lazy("Link reused"),
    "changed": gettext_lazy("Status changed"),
    "unchanged": gettext_lazy("No change"),
    "cancelled": gettext_lazy("Cancelled"),
    "delivered": gettext_lazy("Delivered"),
    "refunded": gettext_lazy("Refunded"),
    "sent": gettext_lazy("Sent"),
    "pending": gettext_lazy("Pending at DOKU"),
    "already": gettext_lazy("Already sent"),
    "skipped": gettext_lazy("Skipped"),
    "failed": gettext_lazy("Failed"),
}

#: How each outcome is shown: the Django messages level.
OUTCOME_LEVELS = {
    "created": messages.SUCCESS,
    "reused": messages.INFO,
    "changed": messages.SUCCESS,
    "unchanged": messages.INFO,
    "cancelled": messages.SUCCESS,
    "delivered": messages.SUCCESS,
    "refunded": messages.SUCCESS,
    "sent": messages.SUCCESS,
    "pending": messages.WARNING,
    "already": messages.INFO,
    "skipped": messages.WARNING,
    "failed": messages.ERROR,
}


@dataclass(frozen=True)
class OrderResult:
    """What one action did to one order, as shown to staff."""

    order: Order
    outcome: str
    message: str
    link: str = ""
    expires_at: datetime | None = None

    @property
    def qr_code(self) -> str:
        """The link as an SVG QR code, for the customer to scan from the screen."""
        return qr_code_svg(self.link, scale=3) if self.link else ""

    @property
    def label(self) -> str:
        return str(OUTCOME_LABELS[self.outcome])

    @property
    def level(self) -> int:
        return OUTCOME_LEVELS[self.outcome]

    @property
    def level_tag(self) -> str:
        return messages.DEFAULT_TAGS[self.level]


def failure_text(err: DokuError) -> str:
    if isinstance(err, DokuValidationError):
        return _("The order's data breaks DOKU's rules: %(errors)s") % {"errors": "; ".join(err.errors)}
    if isinstance(err, DokuAPIError):
        text = (
            _("DOKU had a problem (HTTP %(status)s): %(messages)s. Try again later. Request-Id %(request_id)s.")
            if err.status_code >= 500
            else _("DOKU refused (HTTP %(status)s): %(messages)s. Request-Id %(request_id)s.")
        )
        return text % {
            "status": err.status_code,
            "messages": "; ".join(err.messages) or _("no message"),
            "request_id": err.request_id,
        }
    return str(err)


def _each(orders: Iterable[Order], handle: Callable[[Order], OrderResult]) -> list[OrderResult]:
    results = []
    for order in orders:
        try:
            results.append(handle(order))
        except (services.OrderNotPayable, services.RefundNotAllowed, LinkInProgress) as err:
            # LinkInProgress: another request is making the order's link; its message says when to retry.
            results.append(OrderResult(order, "skipped", str(err)))
        except DokuError as err:
            results.append(OrderResult(order, "failed", failure_text(err)))
        except Exception:  # a bug or a database error on one order must not hide the others' results
            logger.exception("Admin operation failed for order %s", order.invoice_number)
            results.append(
                OrderResult(
                    order, "failed", _("Unexpected error; it is in the server's log. The other orders went on.")
                )
            )
    return results


def _link_result(order: Order, link: CheckoutSession, started: datetime) -> OrderResult:
    if not services.payment_url_allowed(link.payment_url):
        return OrderResult(order, "failed", _("DOKU answered with a link to an unexpected host; it is not shown."))
    created = link.created_at >= started
    message = (
        _("New %(kind)s link created.") % {"kind": link.get_kind_display()}
        if created
        else _("The order's link is still open; it was not replaced.")
    )
    return OrderResult(
        order, "created" if created else "reused", message, link=link.payment_url, expires_at=link.expires_at
    )


def _links(
    orders: Iterable[Order], create: Callable[..., CheckoutSession], *, request: HttpRequest, actor: Actor
) -> list[OrderResult]:
    def handle(order: Order) -> OrderResult:
        started = timezone.now()
        return _link_result(order, create(order, request=request, actor=actor), started)

    return _each(orders, handle)


def create_payment_links(orders: Iterable[Order], *, request: HttpRequest, actor: Actor) -> list[OrderResult]:
    """A DOKU Checkout link for every payable order; an open link is reused."""
    return _links(orders, services.create_payment_link, request=request, actor=actor)


def create_card_payment_pages(orders: Iterable[Order], *, request: HttpRequest, actor: Actor) -> list[OrderResult]:
    """A card-only DOKU payment page for every payable order, in the shop's ``CARD_PAGE_THEME``."""
    return _links(orders, services.create_card_payment_page, request=request, actor=actor)


def email_payment_links(orders: Iterable[Order], *, request: HttpRequest, actor: Actor) -> list[OrderResult]:
    """E-mail every payable order's customer its live link (a new one when it has none), recorded in its history."""

    def handle(order: Order) -> OrderResult:
        link = services.email_payment_link(order, request=request, actor=actor)
        text = _("Link e-mailed to %(email)s.") % {"email": order.customer_email}
        return OrderResult(order, "sent", text, link=link.payment_url, expires_at=link.expires_at)

    return _each(orders, handle)


def check_statuses(orders: Iterable[Order]) -> list[OrderResult]:
    """Ask DOKU's Status API about every order's newest link and apply the answer."""

    def handle(order: Order) -> OrderResult:
        before = order.status
        check = services.check_status(order)
        after = check.order.get_status_display()
        if check.order.status != before:
            text = _("DOKU says %(status)s; the order is now %(after)s.")
            return OrderResult(order, "changed", text % {"status": check.transaction_status, "after": after})
        text = _("DOKU says %(status)s; the order stays %(after)s.")
        return OrderResult(order, "unchanged", text % {"status": check.transaction_status, "after": after})

    return _each(orders, handle)


def cancel_orders(orders: Iterable[Order], *, actor: Actor) -> list[OrderResult]:
    """Cancel every unpaid order; paid, cancelled and refunded ones are skipped."""

    def handle(order: Order) -> OrderResult:
        services.cancel_order(order, actor=actor, note=_("Cancelled in the admin."))
        return OrderResult(order, "cancelled", cancelled_links_text(order))

    return _each(orders, handle)


@dataclass(frozen=True)
class PlannedRefund:
    """What the bulk refund would do to one order: refund ``amount`` at DOKU, or skip it (``amount`` 0) for ``reason``."""

    order: Order
    amount: int
    reason: str = ""

    @property
    def amount_display(self) -> str:
        return format_rupiah(self.amount, self.order.currency)


def refund_plan(orders: Iterable[Order]) -> list[PlannedRefund]:
    """What "Refund card payments in full at DOKU" would refund of each order, before anything is sent."""
    plan = []
    for order in orders:
        left = services.refundable_amount(order)
        paying = paying_link(order) if left else None
        if not left:
            reason = _("Nothing to refund: the order is %(status)s, with nothing paid left to refund.")
            plan.append(PlannedRefund(order, 0, reason % {"status": order.get_status_display().lower()}))
        elif not refundable_by_api(paying):
            channel = (paying.payment_channel if paying else "") or _("an unknown channel")
            reason = _(
                "Paid with %(channel)s, which DOKU cannot refund through its API: DOKU refunds it on a support "
                "request with the customer's bank account; then record it with the order's Refund button."
            )
            plan.append(PlannedRefund(order, 0, reason % {"channel": channel}))
        else:
            plan.append(PlannedRefund(order, left))
    return plan


def refund_state(refund: Refund, order: Order, *, reused: bool = False) -> tuple[int, str]:
    """How staff are told what became of a refund they asked for: a messages level and a sentence.

    ``reused``: the same form (or confirmation) was sent again and found this refund; nothing
    was sent to DOKU this time.
    """
    amount = format_rupiah(refund.amount, order.currency)
    if refund.status == Refund.Status.SUCCEEDED:
        level = messages.SUCCESS
        text = _("%(amount)s refunded; the order is now %(status)s.") % {
            "amount": amount,
            "status": order.get_status_display(),
        }
    elif refund.status == Refund.Status.REQUESTED:
        level = messages.WARNING
        text = _(
            "The refund of %(amount)s is pending at DOKU: DOKU has not confirmed it (%(error)s). It counts as "
            "refunded until DOKU answers. Do not refund it again: press Resend, which sends the same request, "
            "and DOKU refunds it at most once."
        ) % {"amount": amount, "error": refund.error_message or _("no answer yet")}
    else:
        level = messages.ERROR
        text = _("DOKU refused the refund of %(amount)s: %(error)s. Nothing was refunded.") % {
            "amount": amount,
            "error": refund.error_message or _("no reason given"),
        }
    if reused:
        text = _("This refund form was already sent: nothing was sent to DOKU again.") + " " + text
    return level, text


#: How long a form sent again waits for its first sending's answer from DOKU (a double click),
#: well within a worker's timeout; then staff are shown the refund as pending, with Resend.
IN_FLIGHT_WAIT = 10.0


def answered(refund: Refund, *, wait: float = IN_FLIGHT_WAIT) -> Refund:
    """``refund`` once DOKU's answer to it is recorded, or as it stands after ``wait`` seconds.

    A requested refund with no error recorded is being sent right now by the request that
    made it (the first of a double click): its answer is a moment away. One with an error
    recorded was not answered, and is shown at once as pending.
    """
    deadline = time.monotonic() + wait
    while refund.status == Refund.Status.REQUESTED and not refund.error_message and time.monotonic() < deadline:
        time.sleep(0.2)
        refund.refresh_from_db()
    return refund


def refund_payments(
    orders: Iterable[Order], *, actor: Actor, reason: str = "", confirmed: dict[Any, tuple[str, int]]
) -> list[OrderResult]:
    """Refund each order staff confirmed, with the key and amount of its confirmation; skip the others.

    ``confirmed`` maps an order's key to (idempotency key, amount shown): a confirmation sent
    again finds the refunds it made and sends nothing.
    """

    def handle(order: Order) -> OrderResult:
        if order.pk not in confirmed:
            return OrderResult(order, "skipped", _("Not on the confirmation page: nothing was sent to DOKU."))
        key, amount = confirmed[order.pk]
        try:
            refund = services.refund_payment(order, amount, reason=reason, actor=actor, key=key)
        except services.RefundNotAllowed:
            raise  # nothing was made: reported as skipped, with the reason
        except DokuError:
            refund = Refund.objects.get(idempotency_key=key)
        reused = refund.reused
        refund = answered(refund)
        order.refresh_from_db()
        level, text = refund_state(refund, order, reused=reused)
        if reused:
            return OrderResult(order, "already", text)
        outcome = {messages.SUCCESS: "refunded", messages.WARNING: "pending"}.get(level, "failed")
        if outcome == "refunded":
            text = _("%(amount)s refunded by DOKU; the order is now %(status)s.") % {
                "amount": format_rupiah(refund.amount, order.currency),
                "status": order.get_status_display(),
            }
        return OrderResult(order, outcome, text)

    return _each(orders, handle)


def cancelled_links_text(order: Order) -> str:
    """What staff must know about an order's withdrawn links: cancelled at DOKU, or still payable there."""
    if not get_config().cancel_at_doku:
        return _("Cancelled. A link already sent can still be paid at DOKU; such a payment is flagged for review.")
    payable = links_payable_at_doku(order)
    if not payable:
        return _("Cancelled, and its payment links were cancelled at DOKU.")
    details = "; ".join(f"{link.invoice_number}: {link.doku_cancel_error or _('not cancelled')}" for link in payable)
    return _(
        "Cancelled, but DOKU could not cancel these links, which can still be paid (such a payment is flagged "
        "for review): %(links)s."
    ) % {"links": details}


def retry_deliveries(orders: Iterable[Order]) -> list[OrderResult]:
    """Call every receiver that failed for these orders again now, whatever its backoff."""
    orders = list(orders)
    summary = services.deliver_due(retry_all=True, orders=orders)
    results = []
    for order in orders:
        delivered = [d for d in summary.delivered if d.order_id == order.pk]
        failed = [d for d in summary.failed if d.order_id == order.pk]
        if failed:
            text = _("%(failed)d receiver(s) failed again: %(names)s. %(delivered)d delivered.")
            names = ", ".join(sorted({d.receiver for d in failed}))
            results.append(
                OrderResult(
                    order, "failed", text % {"failed": len(failed), "names": names, "delivered": len(delivered)}
                )
            )
        elif delivered:
            text = _("%(delivered)d delivered: %(names)s.")
            names = ", ".join(sorted({d.receiver for d in delivered}))
            results.append(OrderResult(order, "delivered", text % {"delivered": len(delivered), "names": names}))
        else:
            results.append(OrderResult(order, "unchanged", _("No failed delivery to retry.")))
    return results
