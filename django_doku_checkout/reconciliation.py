"""Reconciliation: find out from DOKU's Status API what notifications failed to tell us.

Run it from cron (``manage.py doku_checkout_reconcile``) or call :func:`reconcile` from a
Celery or Django task. Each order is claimed for the time DOKU is asked (a lease on the
order's row, committed at once: no lock or transaction is held while DOKU answers), so
several machines may run it at once and each order is checked by one of them; running it
twice changes nothing the second time. It also settles link claims whose process died and
runs the signal deliveries that are due.

DOKU is asked about several orders at once (``workers``), at most ``max_rate`` requests a
second: after an outage during a sale, thousands of orders are pending together. The
threads only wait for DOKU; every database step stays in the calling thread, so the run
uses one database connection and each step is a short transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from django_doku_checkout import services, states
from django_doku_checkout.client import DokuClient
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import CheckoutSession, Order, OrderEvent, OrderStatus
from django_doku_checkout.pacing import RateLimit
from django_doku_checkout.services.settlement import PaymentResult

#: An open link is only called expired this long after DOKU's expiry, for late notifications.
EXPIRY_GRACE = timedelta(minutes=5)
#: How long one run's claim on an order keeps other runs away: it is released as soon as
#: the order is checked, so this only matters when the run died while asking DOKU.
CLAIM_LEASE = timedelta(minutes=10)


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
    claims_settled: int = 0
    deliveries: services.DeliverySummary = field(default_factory=services.DeliverySummary)

    def count(self, outcome: str) -> int:
        return sum(1 for order in self.orders if order.outcome == outcome)

    def __str__(self) -> str:
        return (
            f"Checked {len(self.orders)} order(s): {self.count('changed')} changed, "
            f"{self.count('would_change')} would change, {self.count('unchanged')} unchanged, "
            f"{self.count('failed')} failed; {self.skipped_locked} skipped (being checked elsewhere). "
            f"Link claims settled: {self.claims_settled}. Deliveries: {self.deliveries}"
        )


def _candidates(min_age: timedelta, invoice_numbers: Sequence[str], limit: int | None) -> list[int]:
    orders = Order.objects.filter(status=OrderStatus.PENDING, updated_at__lte=timezone.now() - min_age)
    if invoice_numbers:
        orders = orders.filter(invoice_number__in=invoice_numbers)
    ids = orders.order_by("updated_at", "id").values_list("pk", flat=True)
    return list(ids[:limit] if limit else ids)


def _expire_overdue(order: Order, *, dry_run: bool) -> str:
    """Mark links long past DOKU's expiry expired; the order too when its newest link was one."""
    cutoff = timezone.now() - EXPIRY_GRACE

    def overdue(order: Order) -> tuple[list[int], bool]:
        ids = list(
            order.checkout_sessions.filter(status=CheckoutSession.Status.OPEN, expires_at__lt=cutoff).values_list(
                "pk", flat=True
            )
        )
        newest = services.newest_link(order)
        return ids, newest is not None and newest.pk in ids

    if dry_run:
        return OrderStatus.EXPIRED if overdue(order)[1] else order.status

    def expire() -> str:
        locked = services.locked_rows(Order.objects).get(pk=order.pk)
        ids, expires_order = overdue(locked)
        CheckoutSession.objects.filter(pk__in=ids).update(
            status=CheckoutSession.Status.EXPIRED, updated_at=timezone.now()
        )
        if expires_order and states.can_transition(locked.status, OrderStatus.EXPIRED):
            states.transition(
                locked,
                OrderStatus.EXPIRED,
                source=OrderEvent.Source.SYSTEM,
                note="Payment link expired with no payment.",
            )
        return locked.status

    return atomic_with_retry(expire)


#: DOKU's answer about one link: its result, or the error asking raised.
_Answer = tuple[CheckoutSession, "PaymentResult | DokuError"]


def _ask(sessions: list[CheckoutSession], client: DokuClient | None, pace: RateLimit | None) -> list[_Answer]:
    """DOKU's answers about the order's open links; runs in a worker thread, so never touches the database.

    Every link is asked, whatever DOKU answers about the others.
    """
    answers: list[_Answer] = []
    for session in sessions:
        if pace is not None:
            pace.wait()
        try:
            answers.append((session, services.fetch_status(session, client=client)))
        except DokuError as err:
            answers.append((session, err))
    return answers


def _apply(order: Order, answers: list[_Answer], *, dry_run: bool) -> ReconciledOrder:
    """Apply DOKU's answers to the order, each in its own short transaction (the calling thread)."""
    old_status = order.status
    lines = []
    unanswered = False
    for session, answer in answers:
        if isinstance(answer, DokuError):
            # Whatever DOKU answers (a 404 with no body, a 200 with an "error" key, any other
            # status) or fails to, this link stays as it is and the others are still applied;
            # overdue links are still expired below. Only no answer at all (DOKU down, a 5xx)
            # marks the order as failed, so cron notices.
            lines.append(f"{session.invoice_number}: {_no_answer(answer)}")
            unanswered = unanswered or not isinstance(answer, DokuAPIError) or answer.status_code >= 500
            continue
        lines.append(f"{session.invoice_number}: {answer.transaction_status}")
        if dry_run:
            order.status = _PREDICTED.get(answer.transaction_status, order.status)
        else:
            services.apply_payment_result(session, answer, source=OrderEvent.Source.STATUS_CHECK)
            order.refresh_from_db(fields=["status"])
    cutoff = timezone.now() - EXPIRY_GRACE
    # Only an open link past its expiry can expire anything: most orders skip the locked look.
    overdue = any(session.expires_at is not None and session.expires_at < cutoff for session, _ in answers)
    if order.status == OrderStatus.PENDING and overdue:
        order.status = _expire_overdue(order, dry_run=dry_run)
    changed = order.status != old_status
    outcome = ("would_change" if dry_run else "changed") if changed else "unchanged"
    detail = "; ".join(lines) or "no open link"
    return ReconciledOrder(order.invoice_number, "failed" if unanswered else outcome, old_status, order.status, detail)


def _no_answer(err: DokuError) -> str:
    if isinstance(err, DokuAPIError) and err.status_code == 404:
        return "unknown to DOKU"
    if isinstance(err, DokuAPIError) and err.status_code < 500:
        return f"DOKU answered without a status ({err})"
    return str(err)


def _claim(pk: int) -> Order | None:
    """The pending order, claimed for this run until it is released; None when another run has it."""
    now = timezone.now()
    claimed = (
        Order.objects.filter(pk=pk, status=OrderStatus.PENDING)
        .filter(Q(status_check_claimed_until__isnull=True) | Q(status_check_claimed_until__lt=now))
        .update(status_check_claimed_until=now + CLAIM_LEASE)
    )
    return Order.objects.get(pk=pk) if claimed else None


def _release(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(status_check_claimed_until=None)


def _open_links(order: Order) -> list[CheckoutSession]:
    return list(order.checkout_sessions.filter(status=CheckoutSession.Status.OPEN).defer(*services.links.BODIES))


def reconcile(
    *,
    min_age: timedelta = timedelta(minutes=5),
    limit: int | None = None,
    invoice_numbers: Sequence[str] = (),
    dry_run: bool = False,
    client: DokuClient | None = None,
    progress: Callable[[ReconciledOrder], None] | None = None,
    workers: int = 1,
    max_rate: float | None = None,
) -> ReconcileSummary:
    """Check pending orders untouched for ``min_age`` against DOKU's Status API and apply the answers.

    Every open link of each order is asked about, so a payment on any of them is found. Links
    long past DOKU's expiry are marked expired. ``dry_run`` asks DOKU but changes nothing.
    One order failing (DOKU down) is reported and the others are still checked. Unless it is
    a dry run, it also settles link claims whose process died and delivers the signals whose
    receivers are due a retry.

    ``workers`` threads ask DOKU at once, starting at most ``max_rate`` requests a second
    (None: no limit). A ``client`` passed in is shared by them; by default each thread uses
    its own kept-alive connection. ``progress`` is called in the calling thread.
    """
    if workers < 1 or (max_rate is not None and max_rate <= 0):
        raise ValueError("workers must be 1 or more and max_rate more than 0")
    pace = RateLimit(max_rate) if max_rate is not None else None
    summary = ReconcileSummary()
    if not dry_run:
        summary.claims_settled = services.resolve_stale_claims(client=client)

    def finish(order: Order, answers: list[_Answer]) -> None:
        try:
            line = _apply(order, answers, dry_run=dry_run)
        finally:
            _release(order)
        summary.orders.append(line)
        if progress is not None:
            progress(line)

    asking: dict[Future[list[_Answer]], Order] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="doku-reconcile") as pool:
        try:
            for order in _claimed(_candidates(min_age, invoice_numbers, limit), summary):
                asking[pool.submit(_ask, _open_links(order), client, pace)] = order
                # Claim only a little ahead of the workers: a claim keeps other runs away.
                while len(asking) >= 2 * workers:
                    done, _ = wait(asking, return_when=FIRST_COMPLETED)
                    for future in done:
                        finish(asking.pop(future), future.result())
            for future in list(asking):
                finish(asking.pop(future), future.result())
        finally:
            # A run that fails (its database gone) hands its claimed orders straight back.
            for order in asking.values():
                _release(order)
    if not dry_run:
        summary.deliveries = services.deliver_due()
    return summary


def _claimed(pks: list[int], summary: ReconcileSummary) -> Iterator[Order]:
    """The candidates this run could claim, one at a time; the others are counted as skipped."""
    for pk in pks:
        order = _claim(pk)
        if order is None:
            # Settled since the candidates were listed, or being checked by another run.
            summary.skipped_locked += Order.objects.filter(pk=pk, status=OrderStatus.PENDING).exists()
            continue
        yield order
