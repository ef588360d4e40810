"""Deliveries: the app's signals, sent at least once to each receiver, one receiver at a time.

A status change records what it announces *in its own transaction*: one :class:`Delivery`
row per receiver connected to each signal. After the commit each receiver is called on its
own, so one that raises (a mail server or CRM hiccup) never stops the others. In a request
they are called once its response has been sent (:mod:`.after_response`), within the
request's budget, so none delays or fails DOKU's notification, the shopper's return page or
a status check; elsewhere (commands, the shell, tasks) as soon as the change commits. A
receiver that raised, or was not started in time, is called again later with exponential
backoff (``manage.py doku_checkout_deliver``, which reconciliation runs too) until it
succeeds, up to ``DELIVERY_MAX_ATTEMPTS``; after the last attempt the order is flagged for
review. One that succeeded is never called again for the same change. Each attempt holds
its delivery for ``DELIVERY_LEASE`` seconds from when it was claimed; a process that dies
meanwhile leaves it to the next run after that. Receivers must therefore be idempotent: the
``delivery`` they receive identifies the change (``delivery.pk``).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import F, Model, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from django_doku_checkout import signals
from django_doku_checkout.conf import get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.models import Delivery, Order, OrderEvent, Refund
from django_doku_checkout.services import after_response
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.unit_of_work import Writes

logger = logging.getLogger(__name__)

#: The signals delivered this way, by the name stored on a delivery.
SIGNALS: dict[str, Signal] = {
    "order_status_changed": signals.order_status_changed,
    "payment_succeeded": signals.payment_succeeded,
    "payment_failed": signals.payment_failed,
    "payment_expired": signals.payment_expired,
    "payment_needs_review": signals.payment_needs_review,
    "payment_refunded": signals.payment_refunded,
}
#: Arguments stored as a primary key (a delivery's arguments are JSON), by signal and name,
#: and the model each is read from when the receiver is called: ``payment_refunded`` stores
#: ``{"refund": 7}`` and its receivers get ``refund=Refund.objects.get(pk=7)``.
LOADED_ARGUMENTS: dict[str, dict[str, type[Model]]] = {"payment_refunded": {"refund": Refund}}
#: What a delivery put back unattempted says (in the admin) until doku_checkout_deliver calls it.
NOT_STARTED = (
    "Not called yet: the request that committed the change had spent its time for receivers; "
    "manage.py doku_checkout_deliver calls it."
)
#: The longest wait between two attempts.
MAX_BACKOFF = timedelta(hours=6)
#: How much of a delivery's lease, taken when its change was recorded, may pass before it is
#: called after the response without being leased again: its receiver still has the lease
#: less this (at least 55 s with the shortest ``DELIVERY_LEASE``).
LEASE_SLACK = timedelta(seconds=5)
#: How much of a receiver's traceback is kept on its delivery.
ERROR_CHARS = 4000

Receiver = Callable[..., Any]


def lease() -> timedelta:
    """How long a claim holds its delivery, from the moment it is made (the ``DELIVERY_LEASE`` setting).

    After that ``doku_checkout_deliver`` may take the delivery over: the process attempting
    it may have died.
    """
    return timedelta(seconds=get_config().delivery_lease)


def receiver_path(receiver: Receiver) -> str:
    """A receiver's name that stays the same across processes and deploys: its dotted path."""
    target = getattr(receiver, "__func__", receiver)  # a bound method: its function
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


def connected_receivers(signal: Signal) -> list[tuple[str, Receiver]]:
    """The receivers connected to ``signal`` for orders, each under a name unique for this signal."""
    # Django keeps synchronous and asynchronous receivers apart; an async one is called
    # through async_to_sync like Signal.send does.
    sync_receivers, async_receivers = signal._live_receivers(Order)
    named: list[tuple[str, Receiver]] = []
    seen: dict[str, int] = {}
    for receiver in [*sync_receivers, *(async_to_sync(r) for r in async_receivers)]:
        path = receiver_path(getattr(receiver, "awaitable", receiver))
        seen[path] = seen.get(path, 0) + 1
        # Two receivers with one name (closures made in a loop) are told apart by their order.
        named.append((path if seen[path] == 1 else f"{path}#{seen[path]}", receiver))
    return named


def announce(
    order: Order, announcements: Iterable[tuple[str, dict[str, Any]]], *, event: OrderEvent | None = None
) -> None:
    """Record, in the caller's transaction, a delivery of each (signal name, arguments) to each receiver.

    They are delivered once the transaction commits, and never if it rolls back. Nothing is
    written for a signal nobody listens to.
    """
    # The committing process makes the first attempt right away: it is counted, and leased.
    lease_ends = timezone.now() + lease()
    rows = [
        Delivery(
            order=order,
            event=event,
            signal=name,
            receiver=path,
            arguments=arguments,
            status=Delivery.Status.SENDING,
            attempts=1,
            next_attempt_at=lease_ends,
        )
        for name, arguments in announcements
        for path, _receiver in connected_receivers(SIGNALS[name])
    ]
    if not rows:
        return
    Delivery.objects.bulk_create(rows)
    # robust: a failure to record an outcome is logged; the lease then lets the command retry.
    transaction.on_commit(lambda: _deliver_committed(rows, order=order), robust=True)


def flag_for_review(order: Order, reason: str, *, announce_it: bool = True, writes: Writes | None = None) -> None:
    """Flag a row-locked ``order`` for staff to look at, and announce ``payment_needs_review``.

    The reason is added to the order's ``review_reason``, inside the caller's transaction.
    The same reason again (DOKU repeating a wrong-amount notification) changes nothing and
    is not announced again. With ``writes``, the order and the announcement are written
    when the caller flushes them, with the caller's other changes.
    """
    if order.needs_review and reason in order.review_reason.splitlines():
        return
    own_writes = writes is None
    writes = Writes() if writes is None else writes
    _write_review(order, [*order.review_reason.splitlines(), reason], writes)
    if announce_it:
        writes.then(lambda: announce(order, [("payment_needs_review", {"reason": reason})]))
    if own_writes:
        writes.flush()
    logger.warning("Order %s needs review: %s", order.invoice_number, reason)


def withdraw_review_reason(order: Order, reason: str) -> None:
    """Take ``reason``, which no longer holds, off a row-locked ``order``; the flag goes with its last reason."""
    lines = order.review_reason.splitlines()
    if reason not in lines:
        return
    writes = Writes()
    _write_review(order, [line for line in lines if line != reason], writes)
    writes.flush()
    logger.info("Order %s is no longer flagged for: %s", order.invoice_number, reason)


def _write_review(order: Order, reasons: list[str], writes: Writes) -> None:
    """The one writer of ``needs_review`` and ``review_reason``: flagged while any reason is left."""
    order.review_reason = "\n".join(line for line in reasons if line.strip())
    order.needs_review = bool(order.review_reason)
    writes.save(order, ["needs_review", "review_reason", "updated_at"])


def given_up_reason(delivery: Delivery) -> str:
    """What the order's review reason says of a receiver given up on: the same however often staff retry it."""
    return (
        f"Receiver {delivery.receiver} of {delivery.signal} kept failing and is no longer retried on its own: "
        "fix it, then retry it (Retry failed signal deliveries on the order list, or "
        "manage.py doku_checkout_deliver --all)."
    )


def _clear_given_up(delivery: Delivery, order: Order) -> None:
    """A receiver given up on that has now succeeded: what the order's flag said of it no longer holds."""
    reason = given_up_reason(delivery)
    if reason not in order.review_reason.splitlines():
        return  # the common case: no lock taken

    def withdraw() -> None:
        withdraw_review_reason(locked_rows(Order.objects).get(pk=order.pk), reason)

    atomic_with_retry(withdraw)


def _deliver_committed(deliveries: Sequence[Delivery], *, order: Order) -> None:
    """Call the receivers of a committed change: after the response in a request, at once elsewhere."""
    if not after_response.defer(lambda deadline: _deliver_after_response(deliveries, order=order, deadline=deadline)):
        _deliver_all(deliveries, order=order)


def _deliver_after_response(deliveries: Sequence[Delivery], *, order: Order, deadline: float) -> None:
    """Call the receivers once the response is sent, starting none after ``deadline``.

    Those not started are put back, due at once, for ``doku_checkout_deliver``: the worker
    would be killed before they finish. Each starts with a full lease: the one the change
    took when it was recorded while less than :data:`LEASE_SLACK` of it has passed (no other
    run can have taken it over), else a new one (the request, or a receiver before it, took
    a while); one another run took over meanwhile is left to that run.
    """
    for delivery in deliveries:
        if time.monotonic() >= deadline:
            _release(delivery)
        elif _lease_fresh(delivery) or _holds(delivery).update(next_attempt_at=timezone.now() + lease()):
            _attempt(delivery, order)


def _lease_fresh(delivery: Delivery) -> bool:
    """Whether the lease this process took on ``delivery`` has at most :data:`LEASE_SLACK` of it spent.

    Only then is it called without leasing it again: a round trip saved per receiver on
    every notification and pay click, where the receivers run moments after the commit.
    """
    return delivery.next_attempt_at - timezone.now() > lease() - LEASE_SLACK


def _release(delivery: Delivery) -> None:
    """Give a delivery not attempted back: due at once, its attempt not counted."""
    released = _holds(delivery).update(
        status=Delivery.Status.PENDING,
        attempts=F("attempts") - 1,
        next_attempt_at=timezone.now(),
        last_error=NOT_STARTED,
    )
    if released:
        logger.warning(
            "Receiver %s of %s for order %s left for doku_checkout_deliver: the request's time for receivers was spent",
            delivery.receiver,
            delivery.signal,
            delivery.order.invoice_number,
        )


def _find_receiver(delivery: Delivery) -> Receiver | None:
    for path, receiver in connected_receivers(SIGNALS[delivery.signal]):
        if path == delivery.receiver:
            return receiver
    return None


def _arguments(delivery: Delivery) -> dict[str, Any]:
    """A delivery's stored arguments, with the objects stored by primary key read afresh."""
    loaded = LOADED_ARGUMENTS.get(delivery.signal, {})
    return {
        name: loaded[name]._default_manager.get(pk=value) if name in loaded else value
        for name, value in delivery.arguments.items()
    }


def _backoff(attempts: int) -> timedelta:
    """A minute (the ``DELIVERY_BACKOFF`` setting) after the first failure, doubling, at most six hours."""
    return min(timedelta(seconds=get_config().delivery_backoff * 2 ** (attempts - 1)), MAX_BACKOFF)


def _holds(delivery: Delivery) -> QuerySet[Delivery]:
    """The delivery, if the claim this process made on it still holds it.

    The attempt count a claim set is its token: a run that took the delivery over after the
    lease ended counted a new attempt, so the late outcome of the first is not written.
    """
    return Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts, status=Delivery.Status.SENDING)


def _attempt(delivery: Delivery, order: Order) -> bool:
    """Call one delivery's receiver and record its outcome; return whether it succeeded."""
    receiver = _find_receiver(delivery)
    try:
        if receiver is None:
            raise LookupError(f"No receiver {delivery.receiver} is connected to {delivery.signal} any more.")
        receiver(signal=SIGNALS[delivery.signal], sender=Order, order=order, delivery=delivery, **_arguments(delivery))
    except Exception:
        logger.exception(
            "Receiver %s of %s failed for order %s (attempt %d)",
            delivery.receiver,
            delivery.signal,
            order.invoice_number,
            delivery.attempts,
        )
        _record_failure(delivery, order, traceback.format_exc())
        return False
    # Recorded at once: a process that dies while the next receiver runs never calls this one again.
    if not _holds(delivery).update(status=Delivery.Status.DELIVERED, delivered_at=timezone.now(), last_error=""):
        _lost_claim(delivery, "succeeded")
    else:
        _clear_given_up(delivery, order)
    return True


def _lost_claim(delivery: Delivery, outcome: str) -> None:
    logger.warning(
        "Receiver %s of %s %s for delivery %s after its lease ended and another run took it over; "
        "that run's outcome stands",
        delivery.receiver,
        delivery.signal,
        outcome,
        delivery.pk,
    )


def _record_failure(delivery: Delivery, order: Order, error: str) -> None:
    attempts = delivery.attempts  # counted when the attempt was claimed
    gave_up = attempts >= get_config().delivery_max_attempts
    recorded = _holds(delivery).update(
        status=Delivery.Status.FAILED if gave_up else Delivery.Status.PENDING,
        next_attempt_at=timezone.now() + _backoff(attempts),
        last_error=error[-ERROR_CHARS:],
    )
    if not recorded:
        _lost_claim(delivery, "failed")
        return
    if gave_up:
        reason = given_up_reason(delivery)

        def flag() -> None:
            locked = locked_rows(Order.objects).get(pk=order.pk)
            # A receiver of the review signal that keeps failing must not announce itself again.
            flag_for_review(locked, reason, announce_it=delivery.signal != "payment_needs_review")

        atomic_with_retry(flag)


def _deliver_all(deliveries: Sequence[Delivery], *, order: Order) -> list[bool]:
    return [_attempt(delivery, order) for delivery in deliveries]


@dataclass
class DeliverySummary:
    """What one run of :func:`deliver_due` did."""

    delivered: list[Delivery] = field(default_factory=list)
    failed: list[Delivery] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.delivered)} delivered, {len(self.failed)} failed."

    def given_up(self) -> int:
        """How many of those that failed again were given up on: only a retry by hand calls them now."""
        return Delivery.objects.filter(pk__in=[d.pk for d in self.failed], status=Delivery.Status.FAILED).count()


def _claim(delivery: Delivery, *, force: bool) -> bool:
    """Take one delivery for this process and count the attempt, unless another process has it.

    A delivery being sent is left alone until its lease ends (the process sending it may have
    died). The attempt count is the claim's token: of two processes that read the same
    count, only one moves it on. The lease starts now, when this claim is made, not when
    the run began: a run slowed down by its receivers still holds each delivery it takes.
    """
    now = timezone.now()
    abandoned = Q(status=Delivery.Status.SENDING, next_attempt_at__lte=now)
    waiting = (
        Q(status=Delivery.Status.PENDING) if force else Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
    )
    if force:
        waiting |= Q(status=Delivery.Status.FAILED)
    claimed = (
        Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts)
        .filter(waiting | abandoned)
        .update(status=Delivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + lease())
    )
    if claimed:
        delivery.attempts += 1
    return bool(claimed)


def failed_deliveries() -> QuerySet[Delivery]:
    """Deliveries whose receiver raised and has not succeeded since (given-up ones included)."""
    return Delivery.objects.filter(status__in=(Delivery.Status.PENDING, Delivery.Status.FAILED))


def deliver_due(*, retry_all: bool = False, orders: Iterable[Order] = (), limit: int | None = None) -> DeliverySummary:
    """Call the receivers whose deliveries are due; returns what was delivered and what failed again.

    Due are the failed deliveries whose backoff has passed, and those whose process died
    while sending them. ``retry_all`` also retries, at once, every delivery that failed
    before (given-up ones included), whatever its backoff. ``orders`` limits the run to those
    orders. Safe on several machines at once: each delivery is claimed before its receiver
    is called.
    """
    now = timezone.now()
    due = Delivery.objects.filter(
        status__in=(Delivery.Status.PENDING, Delivery.Status.SENDING), next_attempt_at__lte=now
    )
    if retry_all:
        due = due | failed_deliveries()
    order_ids = [order.pk for order in orders]
    if order_ids:
        due = due.filter(order_id__in=order_ids)
    due = due.select_related("order").order_by("next_attempt_at", "id")
    summary = DeliverySummary()
    for delivery in due[:limit] if limit else due:
        if not _claim(delivery, force=retry_all):
            continue
        ok = _deliver_all([delivery], order=delivery.order)[0]
        (summary.delivered if ok else summary.failed).append(delivery)
    return summary
