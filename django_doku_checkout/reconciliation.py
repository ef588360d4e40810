"""Reconciliation: find out from DOKU's Status API what notifications failed to tell us.

Run it from cron (``manage.py doku_checkout_reconcile``) or call :func:`reconcile` from a
Celery or Django task. Each order is claimed with a row lock that other runs skip, so
several machines may run it at once, and running it twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from django_doku_checkout import services, states
from django_doku_checkout.client import DokuClient
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import CheckoutSession, Order, OrderEvent, OrderStatus

#: An open link is only called expired this long after DOKU's expiry, for late notifications.
EXPIRY_GRACE = timedelta(minutes=5)


#: What a dry run expects DOKU's answer to do to a pending order (the rules are in services).
_PREDICTED = {"SUCCESS": OrderStatus.PAID, "EXPIRED": OrderStatus.EXPIRED}


@dataclass(frozen=True)
class ReconciledOrder:
    """What one order's check found: ``outcome`` is changed, unchanged, would_change or failed."""

    invoice_number: str
    outcome: str
    old_status: str
    new_status: str
    detail: str


@dataclass
class ReconcileSummary:
    """Counts of one run, plus every order's line."""

    orders: list[ReconciledOrder] = field(default_factory=list)
    skipped_locked: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for order in self.orders if order.outcome == outcome)

    def __str__(self) -> str:
        return (
            f"Checked {len(self.orders)} order(s): {self.count('changed')} changed, "
            f"{self.count('would_change')} would change, {self.count('unchanged')} unchanged, "
            f"{self.count('failed')} failed; {self.skipped_locked} skipped (being checked elsewhere)."
        )


def _candidates(min_age: timedelta, invoice_numbers: Sequence[str], limit: int | None) -> list[int]:
    orders = Order.objects.filter(status=OrderStatus.PENDING, updated_at__lte=timezone.now() - min_age)
    if invoice_numbers:
        orders = orders.filter(invoice_number__in=invoice_numbers)
    ids = orders.order_by("updated_at", "id").values_list("pk", flat=True)
    return list(ids[:limit] if limit else ids)


def _expire_overdue(order: Order, *, dry_run: bool) -> str:
    """Mark links long past DOKU's expiry expired; the order too when its newest link was one."""
    overdue = order.checkout_sessions.filter(
        status=CheckoutSession.Status.OPEN, expires_at__lt=timezone.now() - EXPIRY_GRACE
    )
    newest = services.newest_link(order)
    expires_order = newest is not None and overdue.filter(pk=newest.pk).exists()
    if dry_run:
        return OrderStatus.EXPIRED if expires_order else order.status
    overdue.update(status=CheckoutSession.Status.EXPIRED, updated_at=timezone.now())
    if expires_order and states.can_transition(order.status, OrderStatus.EXPIRED):
        states.transition(
            order, OrderStatus.EXPIRED, source=OrderEvent.Source.SYSTEM, note="Payment link expired with no payment."
        )
    return order.status


def _reconcile_one(order: Order, *, dry_run: bool, client: DokuClient) -> ReconciledOrder:
    old_status = order.status
    answers = []
    for session in order.checkout_sessions.filter(status=CheckoutSession.Status.OPEN):
        try:
            result = services.fetch_status(session, client=client)
        except DokuAPIError as err:
            if err.status_code != 404:
                raise
            answers.append(f"{session.invoice_number}: unknown to DOKU")
            continue
        answers.append(f"{session.invoice_number}: {result.transaction_status}")
        if dry_run:
            order.status = _PREDICTED.get(result.transaction_status, order.status)
        else:
            services.apply_payment_result(session, result, source=OrderEvent.Source.STATUS_CHECK)
            order.refresh_from_db()
    if order.status == OrderStatus.PENDING:
        order.status = _expire_overdue(order, dry_run=dry_run)
    changed = order.status != old_status
    outcome = ("would_change" if dry_run else "changed") if changed else "unchanged"
    detail = "; ".join(answers) or "no open link"
    return ReconciledOrder(order.invoice_number, outcome, old_status, order.status, detail)


def reconcile(
    *,
    min_age: timedelta = timedelta(minutes=5),
    limit: int | None = None,
    invoice_numbers: Sequence[str] = (),
    dry_run: bool = False,
    client: DokuClient | None = None,
    progress: Callable[[ReconciledOrder], None] | None = None,
) -> ReconcileSummary:
    """Check pending orders untouched for ``min_age`` against DOKU's Status API and apply the answers.

    Every open link of each order is asked about, so a payment on any of them is found. Links
    long past DOKU's expiry are marked expired. ``dry_run`` asks DOKU but changes nothing.
    One order failing (DOKU down) is reported and the others are still checked.
    """
    client = client or DokuClient()
    summary = ReconcileSummary()
    for pk in _candidates(min_age, invoice_numbers, limit):
        with transaction.atomic():
            # Claim the order; another machine's run holding it is skipped, not waited for.
            order = services.locked_rows(Order.objects, skip_locked=True).filter(pk=pk).first()
            if order is None:
                summary.skipped_locked += 1
                continue
            if order.status != OrderStatus.PENDING:
                continue  # settled since the candidates were listed
            try:
                line = _reconcile_one(order, dry_run=dry_run, client=client)
            except DokuError as err:
                line = ReconciledOrder(order.invoice_number, "failed", order.status, order.status, str(err))
            if dry_run:
                transaction.set_rollback(True)
        summary.orders.append(line)
        if progress is not None:
            progress(line)
    return summary
