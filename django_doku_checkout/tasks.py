"""The periodic jobs and reconciliation as tasks of Django's task framework, for a shop that runs task workers.

``django.tasks`` on Django 6, the ``django-tasks`` backport on Django 5.2 (``pip install
django-tasks``, and ``"django_tasks"`` in ``INSTALLED_APPS``). Import this module only
where one of them is installed. Whatever backend the shop configures in ``TASKS`` (a
database worker, RQ, Celery through an adapter) runs the tasks.

:func:`deliver_signals`, :func:`reconcile_pending` and :func:`prune_old_data` are the
periodic jobs of :mod:`django_doku_checkout.jobs`, enqueued on a clock (docs/going-live.md,
"Scheduling")::

    from django_doku_checkout.tasks import deliver_signals

    deliver_signals.enqueue()

A large sale's pending orders are spread over the workers in batches instead::

    from django_doku_checkout.tasks import enqueue_reconciliation

    enqueue_reconciliation(batch_size=500, workers=4, max_rate=25)

Each batch task reconciles one batch of pending orders, named by their invoice numbers, with
:func:`~django_doku_checkout.reconciliation.reconcile`: the same lease claims keep two
tasks (or a task and a cron run) from checking one order, so enqueueing twice is safe.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

try:
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]

from django_doku_checkout import jobs
from django_doku_checkout.reconciliation import due_orders

#: Invoice numbers per task: a task's run stays short, and a batch is a small argument.
BATCH_SIZE = 500


@task()
def reconcile_orders(invoice_numbers: list[str], workers: int = 4, max_rate: float | None = None) -> dict[str, int]:
    """Reconcile these orders (those still pending when the task runs); the counts, as JSON."""
    return jobs.reconcile_pending(
        min_age_minutes=0, invoice_numbers=invoice_numbers, workers=workers, max_rate=max_rate
    )


@task()
def deliver_signals(retry_all: bool = False, limit: int | None = None) -> dict[str, int]:
    """Call the signal receivers that are due (:func:`django_doku_checkout.jobs.deliver`); the counts."""
    return jobs.deliver(retry_all=retry_all, limit=limit)


@task()
def reconcile_pending(min_age_minutes: float = 10, workers: int = 4, max_rate: float | None = None) -> dict[str, int]:
    """Check the orders pending for ``min_age_minutes`` (:func:`django_doku_checkout.jobs.reconcile_pending`)."""
    return jobs.reconcile_pending(min_age_minutes=min_age_minutes, workers=workers, max_rate=max_rate)


@task()
def prune_old_data(dry_run: bool = False) -> dict[str, int]:
    """Delete old rejected notifications and old personal data (:func:`django_doku_checkout.jobs.prune`)."""
    return jobs.prune(dry_run=dry_run)


def enqueue_reconciliation(
    *,
    min_age: timedelta = timedelta(minutes=5),
    batch_size: int = BATCH_SIZE,
    workers: int = 4,
    max_rate: float | None = None,
) -> list[Any]:
    """Enqueue one :func:`reconcile_orders` task per ``batch_size`` orders pending for ``min_age``; their results.

    ``workers`` and ``max_rate`` hold for each task: divide DOKU's allowed request rate
    by the number of task workers that may run them at once.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    invoices = list(due_orders(min_age).values_list("invoice_number", flat=True))
    return [
        reconcile_orders.enqueue(invoices[start : start + batch_size], workers, max_rate)
        for start in range(0, len(invoices), batch_size)
    ]
