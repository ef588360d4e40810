"""Reconciliation: find out from DOKU's Status API what notifications failed to tell us.

Run it from cron (``manage.py doku_checkout_reconcile``) or call :func:`reconcile` from a
Celery or Django task. Each order is claimed for the time DOKU is asked (a lease on the
order's row, committed at once: no lock or transaction is held while DOKU answers), so
several machines may run it at once and each order is checked by one of them; running it
twice changes nothing the second time. It also settles link claims whose process died,
sends again the card refunds and the cancellations of withdrawn links left waiting for
DOKU's answer (each with its own Request-Id), and runs the signal deliveries that are due.

DOKU is asked about several orders at once (``workers``), at most ``max_rate`` requests a
second: after an outage during a sale, thousands of orders are pending together. The
threads only wait for DOKU; every database step stays in the calling thread, so the run
uses one database connection and each step is a short transaction of its own.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderEvent, OrderStatus, ReconciliationRun
from django_doku_checkout.models.runs import CLAIM_LEASE
from django_doku_checkout.pacing import RateLimit
from django_doku_checkout.services import states
from django_doku_checkout.services.cancellations import payable_at_doku, resend_stale_cancellations
from django_doku_checkout.services.link_reads import BODIES, newest_link
from django_doku_checkout.services.links import resolve_stale_claims
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.refunds import resend_stale_refunds
from django_doku_checkout.services.settlement import PaymentResult, apply_payment_result
from django_doku_checkout.services.status import fetch_status
from django_doku_checkout.services.unit_of_work import Writes

logger = logging.getLogger(__name__)

#: An open link is only called expired this long after DOKU's expiry, for late notifications.
EXPIRY_GRACE = timedelta(minutes=5)
#: How often a run writes its counts at most: one that is killed loses at most this much of them.
PROGRESS_EVERY = timedelta(seconds=1)


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
    refunds_resent: int = 0
    cancellations_resent: int = 0
    deliveries: services.DeliverySummary = field(default_factory=services.DeliverySummary)

    def count(self, outcome: str) -> int:
        return sum(1 for order in self.orders if order.outcome == outcome)

    def __str__(self) -> str:
        return (
            f"Checked {len(self.orders)} order(s): {self.count('changed')} changed, "
            f"{self.count('would_change')} would change, {self.count('unchanged')} unchanged, "
            f"{self.count('failed')} failed; {self.skipped_locked} skipped (being checked by another run, or "
            f"claimed by one that died: checked again once its {CLAIM_LEASE.seconds // 60}-minute claim lapses). "
            f"Link claims settled: {self.claims_settled}. Refunds resent and answered: {self.refunds_resent}. "
            f"Cancellations resent and answered: {self.cancellations_resent}. "
            f"Deliveries: {self.deliveries}"
        )


def _checked(now: datetime) -> Q:
    """The orders a run asks DOKU about: pending ones, and any other with a link DOKU may still take a payment on.

    An expired link stays payable at DOKU until its ``recoverable_until`` with abandoned-cart
    recovery, and a withdrawn one DOKU did not cancel until it runs out, whatever its order's
    status (expired, cancelled, or paid through another link): a payment on it whose
    notification is lost is found like any other, and flagged when the order cannot take it.
    Each such link counts only while its time at DOKU lasts, so the set stays bounded.
    """
    payable = CheckoutSession.objects.filter(payable_at_doku(now), order=OuterRef("pk"))
    return Q(status=OrderStatus.PENDING) | Q(Exists(payable))


def due_orders(min_age: timedelta) -> QuerySet[Order]:
    """Orders to check unchanged for ``min_age``, the oldest first: what a run checks (see :func:`_checked`)."""
    now = timezone.now()
    due = Order.objects.filter(_checked(now), updated_at__lte=now - min_age)
    return due.order_by("updated_at", "id")


def _candidates(min_age: timedelta, invoice_numbers: Sequence[str], limit: int | None) -> list[int]:
    orders = due_orders(min_age)
    if invoice_numbers:
        orders = orders.filter(invoice_number__in=invoice_numbers)
    ids = orders.values_list("pk", flat=True)
    return list(ids[:limit] if limit else ids)


def _expire_overdue(order: Order, *, dry_run: bool) -> str:
    """Mark links long past their time at DOKU expired; the order too when its newest link was one.

    A link's time is its ``payable_until``: a link DOKU's abandoned-cart recovery reopened
    (ORDER_RECOVERED) stays open past its expiry until its ``recoverable_until``.
    """
    cutoff = timezone.now() - EXPIRY_GRACE
    past = Q(recoverable_until__lt=cutoff) | Q(recoverable_until__isnull=True, expires_at__lt=cutoff)

    def overdue(order: Order) -> tuple[list[CheckoutSession], bool]:
        links = list(order.checkout_sessions.filter(past, status=CheckoutSession.Status.OPEN).only("status"))
        newest = newest_link(order)
        return links, newest is not None and newest.pk in {link.pk for link in links}

    if dry_run:
        return OrderStatus.EXPIRED if overdue(order)[1] else order.status

    def expire() -> str:
        locked = locked_rows(Order.objects).get(pk=order.pk)
        links, expires_order = overdue(locked)
        writes = Writes()
        for link in links:
            link.status = CheckoutSession.Status.EXPIRED
            writes.save(link, ["status", "updated_at"])
        if expires_order and states.can_transition(locked.status, OrderStatus.EXPIRED):
            states.transition(
                locked,
                OrderStatus.EXPIRED,
                source=OrderEvent.Source.SYSTEM,
                note="Payment link expired with no payment.",
                writes=writes,
            )
        writes.flush()
        return locked.status

    return atomic_with_retry(expire)


#: DOKU's answer about one link: its result, or the error asking raised.
_Answer = tuple[CheckoutSession, "PaymentResult | DokuError"]


def _ask(links: list[CheckoutSession], client: DokuClient | None, pace: RateLimit | None) -> list[_Answer]:
    """DOKU's answers about the order's open links; runs in a worker thread, so never touches the database.

    Every link is asked, whatever DOKU answers about the others.
    """
    answers: list[_Answer] = []
    for link in links:
        if pace is not None:
            pace.wait()
        try:
            answers.append((link, fetch_status(link, client=client)))
        except DokuError as err:
            answers.append((link, err))
    return answers


def _apply(order: Order, answers: list[_Answer], *, dry_run: bool) -> ReconciledOrder:
    """Apply DOKU's answers to the order, each in its own short transaction (the calling thread)."""
    old_status = order.status
    lines = []
    unanswered = False
    for link, answer in answers:
        if isinstance(answer, DokuError):
            # Whatever DOKU answers (a 404 with no body, a 200 with an "error" key, any other
            # status) or fails to, this link stays as it is and the others are still applied;
            # overdue links are still expired below. Only no answer at all (DOKU down, a 5xx)
            # marks the order as failed, so cron notices.
            lines.append(f"{link.invoice_number}: {_no_answer(answer)}")
            unanswered = unanswered or not isinstance(answer, DokuAPIError) or answer.status_code >= 500
            continue
        lines.append(f"{link.invoice_number}: {answer.transaction_status}")
        if dry_run:
            order.status = _PREDICTED.get(answer.transaction_status, order.status)
        else:
            flags = order.review_reason
            outcome = apply_payment_result(link, answer, source=OrderEvent.Source.RECONCILIATION)
            order.refresh_from_db(fields=["status", "review_reason"])
            if answer.transaction_status == "SUCCESS" and (
                outcome == Notification.Outcome.PROCESSED
                or (outcome == Notification.Outcome.FLAGGED and order.review_reason != flags)
            ):
                _recovered(order, link, flagged=outcome == Notification.Outcome.FLAGGED)
    cutoff = timezone.now() - EXPIRY_GRACE
    # Only an open link past its time at DOKU can expire anything: most orders skip the locked look.
    overdue = any(link.payable_until is not None and link.payable_until < cutoff for link, _ in answers)
    if order.status == OrderStatus.PENDING and overdue:
        order.status = _expire_overdue(order, dry_run=dry_run)
    changed = order.status != old_status
    outcome = ("would_change" if dry_run else "changed") if changed else "unchanged"
    detail = "; ".join(lines) or "no open link"
    return ReconciledOrder(order.invoice_number, "failed" if unanswered else outcome, old_status, order.status, detail)


def _recovered(order: Order, link: CheckoutSession, *, flagged: bool) -> None:
    """Say loudly, once, that reconciliation found this payment (settled, or first flagged): DOKU may not call us."""
    attempt = f" (payment link {link.invoice_number})" if link.invoice_number != order.invoice_number else ""
    found = (
        "is flagged for review instead of paid (see its review reason)" if flagged else "is settled by reconciliation"
    )
    logger.warning(
        "Order %s%s was paid at DOKU and %s: DOKU's notification never arrived. "
        "If this happens again, check the notification URL in DOKU's back office (and that it reaches this shop).",
        order.invoice_number,
        attempt,
        found,
    )


def _no_answer(err: DokuError) -> str:
    if isinstance(err, DokuAPIError) and err.status_code == 404:
        return "unknown to DOKU"
    if isinstance(err, DokuAPIError) and err.status_code < 500:
        return f"DOKU answered without a status ({err})"
    return str(err)


def _claim(pks: Sequence[int], summary: ReconcileSummary) -> list[Order]:
    """The pending orders among ``pks`` that no other run holds, claimed for this run, in ``pks``' order.

    One short transaction for the whole batch: the orders are read with their rows locked
    (skipping rows another transaction holds) and given this run's lease before it
    commits, so no other run can claim one of them in between (on SQLite, which has one
    writer, the second writer's transaction is refused and retried). The others are
    counted as skipped.
    """
    now = timezone.now()

    def claim() -> list[Order]:
        orders = list(
            locked_rows(Order.objects, skip_locked=True)
            .filter(_checked(now), pk__in=pks)
            .filter(Q(status_check_claimed_until__isnull=True) | Q(status_check_claimed_until__lt=now))
        )
        Order.objects.filter(pk__in=[order.pk for order in orders]).update(status_check_claimed_until=now + CLAIM_LEASE)
        return orders

    orders = atomic_with_retry(claim)
    if len(orders) < len(pks):
        # Settled since the candidates were listed, or being checked by another run.
        others = set(pks) - {order.pk for order in orders}
        summary.skipped_locked += Order.objects.filter(_checked(now), pk__in=others).count()
    place = {pk: index for index, pk in enumerate(pks)}
    return sorted(orders, key=lambda order: place[order.pk])


def _release(orders: Sequence[Order]) -> None:
    if orders:
        Order.objects.filter(pk__in=[order.pk for order in orders]).update(status_check_claimed_until=None)


def _open_links(orders: Sequence[Order]) -> dict[int, list[CheckoutSession]]:
    """Each order's open links and the others DOKU may still take a payment on, newest first, in one query."""
    links: dict[int, list[CheckoutSession]] = {order.pk: [] for order in orders}
    found = CheckoutSession.objects.filter(
        Q(status=CheckoutSession.Status.OPEN) | payable_at_doku(timezone.now()), order_id__in=list(links)
    )
    for link in found.defer(*BODIES):
        links[link.order_id].append(link)
    return links


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
    """Check orders untouched for ``min_age`` against DOKU's Status API and apply the answers.

    Pending orders are checked, and any other with a link DOKU may still take a payment on
    (see :func:`_checked`). Every such link of each order is asked about, so a payment on
    any of them is found. Links
    long past DOKU's expiry are marked expired. ``dry_run`` asks DOKU but changes nothing.
    One order failing (DOKU down) is reported and the others are still checked. Unless it is
    a dry run, it also settles link claims whose process died, sends again (bounded, logged)
    the card refunds left ``requested`` and the cancellations of withdrawn links DOKU did not
    answer, and delivers the signals whose receivers are due a retry.

    ``workers`` threads ask DOKU at once, starting at most ``max_rate`` requests a second
    (None: no limit). A ``client`` passed in is shared by them; by default each thread uses
    its own kept-alive connection. ``progress`` is called in the calling thread.
    """
    if workers < 1 or (max_rate is not None and max_rate <= 0):
        raise ValueError("workers must be 1 or more and max_rate more than 0")
    pace = RateLimit(max_rate) if max_rate is not None else None
    summary = ReconcileSummary()
    if dry_run:
        _check(
            _candidates(min_age, invoice_numbers, limit),
            summary,
            workers,
            client,
            pace,
            dry_run=True,
            progress=progress,
        )
        return summary
    run = atomic_with_retry(lambda: ReconciliationRun.objects.create(host=socket.gethostname()[:255]))
    try:
        summary.claims_settled = resolve_stale_claims(client=client)
        summary.refunds_resent = resend_stale_refunds(client=client)
        summary.cancellations_resent = resend_stale_cancellations(client=client)
        _record(run, summary)
        candidates = _candidates(min_age, invoice_numbers, limit)
        _check(candidates, summary, workers, client, pace, dry_run=False, progress=progress, run=run)
        summary.deliveries = services.deliver_due()
    except BaseException as err:
        run.error = type(err).__name__  # the class only: a message may quote a database's or DOKU's words
        raise
    finally:
        _finish_run(run, summary)
    return summary


def _record(run: ReconciliationRun, summary: ReconcileSummary, *, end: bool = False) -> None:
    """Write the run's counts so far, and when, on its row: a run killed midway still says what it did.

    Each step and batch, at most every :data:`PROGRESS_EVERY`, one UPDATE (no save hooks); its end saved.
    """
    if not end and run.progress_at and timezone.now() - run.progress_at < PROGRESS_EVERY:
        return
    counts = {"checked": len(summary.orders), "changed": summary.count("changed"), "failed": summary.count("failed")}
    for name, value in {**counts, "progress_at": timezone.now()}.items():
        setattr(run, name, value)
    if end:
        atomic_with_retry(lambda: run.save(update_fields=[*counts, "progress_at", "finished_at", "error"]))
    else:
        atomic_with_retry(
            lambda: ReconciliationRun.objects.filter(pk=run.pk).update(**counts, progress_at=run.progress_at)
        )


def _finish_run(run: ReconciliationRun, summary: ReconcileSummary) -> None:
    """Record the run's end and counts on its row (written at its start), for the health check."""
    run.finished_at = timezone.now()
    try:
        _record(run, summary, end=True)
    except Exception:
        # The database that stopped the run may refuse this too: the run's own error is what counts.
        logger.exception("Could not record the end of reconciliation run %s", run.pk)


def _check(
    candidates: list[int],
    summary: ReconcileSummary,
    workers: int,
    client: DokuClient | None,
    pace: RateLimit | None,
    *,
    dry_run: bool,
    progress: Callable[[ReconciledOrder], None] | None,
    run: ReconciliationRun | None = None,
) -> None:
    """Ask DOKU about the ``candidates`` (orders' pks) with ``workers`` threads; apply each answer as it comes in.

    After each batch of answers, the ``run``'s counts so far are written on its row.
    """

    def finish(done: set[Future[list[_Answer]]]) -> None:
        """Apply the answers that came in, then release their orders with one statement."""
        finished = list(done)
        orders = [asking.pop(future) for future in finished]
        try:
            for future, order in zip(finished, orders, strict=True):
                line = _apply(order, future.result(), dry_run=dry_run)
                summary.orders.append(line)
                if progress is not None:
                    progress(line)
        finally:
            _release(orders)
        if run is not None:
            _record(run, summary)

    asking: dict[Future[list[_Answer]], Order] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="doku-reconcile") as pool:
        try:
            # Claimed a batch at a time, one batch ahead of the workers: a claim keeps
            # other runs away, and one claim, one read of the links and one release
            # serve a whole batch, so the calling thread keeps up with the workers.
            for start in range(0, len(candidates), workers):
                orders = _claim(candidates[start : start + workers], summary)
                links = _open_links(orders)
                for order in orders:
                    asking[pool.submit(_ask, links[order.pk], client, pace)] = order
                while len(asking) > workers:
                    finish(wait(asking, return_when=FIRST_COMPLETED).done)
            while asking:
                finish(wait(asking, return_when=FIRST_COMPLETED).done)
        finally:
            # A run that fails (its database gone) hands its claimed orders straight back.
            _release(list(asking.values()))
