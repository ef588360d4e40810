"""The periodic jobs a shop schedules, each one call of a service whose counts come back as JSON.

A shop runs three jobs on a clock (docs/going-live.md, "Scheduling"):

- :func:`deliver` every minute or two: the signal receivers that failed and are due again
  (:func:`~django_doku_checkout.services.deliver_due`, what ``doku_checkout_deliver`` runs);
- :func:`reconcile_pending` every ten minutes: pending orders checked against DOKU's Status
  API (:func:`~django_doku_checkout.reconciliation.reconcile`, ``doku_checkout_reconcile``);
- :func:`prune` daily: old rejected notifications deleted, settled orders' personal data
  removed (:func:`~django_doku_checkout.services.retention.prune`, ``doku_checkout_prune``).

Cron runs the management commands; :mod:`django_doku_checkout.tasks` wraps these functions
as tasks of Django's task framework; a Celery shop registers them as Celery tasks and names
them in its beat schedule. Each is safe to run on several machines at once (the services
claim what they work on), and each returns plain counts, which any result backend stores.
This module needs neither Django's task framework nor Celery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import deliver_due
from django_doku_checkout.services.retention import prune as prune_rows

__all__ = ["deliver", "prune", "reconcile_pending"]


def deliver(*, retry_all: bool = False, limit: int | None = None) -> dict[str, int]:
    """Call the signal receivers that are due (``doku_checkout_deliver``); delivered and failed counts."""
    summary = deliver_due(retry_all=retry_all, limit=limit)
    return {"delivered": len(summary.delivered), "failed": len(summary.failed)}


def reconcile_pending(
    *,
    min_age_minutes: float = 10,
    invoice_numbers: Sequence[str] = (),
    workers: int = 4,
    max_rate: float | None = None,
) -> dict[str, int]:
    """Check orders pending for ``min_age_minutes`` with DOKU (``doku_checkout_reconcile``); counts per outcome.

    ``invoice_numbers`` checks only those orders (those still pending when it runs).
    """
    summary = reconcile(
        min_age=timedelta(minutes=min_age_minutes), invoice_numbers=invoice_numbers, workers=workers, max_rate=max_rate
    )
    counts = {outcome: summary.count(outcome) for outcome in ("changed", "unchanged", "failed")}
    return {**counts, "skipped": summary.skipped_locked}


def prune(*, dry_run: bool = False) -> dict[str, int]:
    """Delete old rejected notifications and old personal data (``doku_checkout_prune``); what went."""
    summary = prune_rows(dry_run=dry_run)
    return {
        "rejected_notifications": summary.rejected_notifications,
        "orders_anonymised": summary.orders_anonymised,
    }
