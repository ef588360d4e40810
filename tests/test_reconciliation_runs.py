"""Reconciliation's record of its runs as the health check judges it: runs that died, machines that fail.

A run writes its counts as it goes, so a run killed midway (SIGKILL, out of memory, cron's
``timeout``) still says what it did; one that stopped showing progress is reported as dead.
Each machine's newest finished run is judged, so a healthy machine does not hide a failing
one. And a payment reconciliation finds on an order that cannot take it is said loudly too.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from django_doku_checkout import reconciliation as reconciliation_module
from django_doku_checkout import services
from django_doku_checkout.models import ReconciliationRun
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services.health import reconciliation_finding
from tests.doku import paid_quietly
from tests.test_health import findings, health


def reconciliation() -> dict:
    return findings(health("--json")[1])["reconciliation"]


def run(host: str, *, started: int, finished: int | None = None, **counts) -> ReconciliationRun:
    """A run on ``host`` that started ``started`` minutes ago and finished ``finished`` minutes ago (None: never)."""
    now = timezone.now()
    return ReconciliationRun.objects.create(
        host=host,
        started_at=now - timedelta(minutes=started),
        finished_at=None if finished is None else now - timedelta(minutes=finished),
        **counts,
    )


def test_a_failing_machine_is_not_hidden_by_a_healthy_one_that_started_after_it(db):
    run("A", started=2, finished=2, error="OperationalError")
    run("B", started=2, finished=1)
    found = reconciliation()
    assert found["status"] == "warning", found
    assert "OperationalError" in found["message"]
    assert "on A" in found["message"]


def test_a_machine_that_cannot_reach_doku_is_not_hidden_by_another(db):
    run("A", started=3, finished=2, checked=40, failed=40)
    run("B", started=2, finished=1)
    found = reconciliation()
    assert found["status"] == "warning", found
    assert "40 of 40" in found["message"]
    assert "on A" in found["message"]


def test_a_machine_whose_next_run_succeeded_is_ok(db):
    run("A", started=13, finished=12, checked=40, failed=40)
    run("A", started=3, finished=2, checked=40)
    run("B", started=2, finished=1)
    assert reconciliation()["status"] == "ok"


def test_a_run_that_died_is_noticed(db):
    """A run started 30 minutes ago never finished (SIGKILL, out of memory); runs after it finish every 10 minutes."""
    dead = run("A", started=30, checked=7, changed=5)
    run("A", started=2, finished=1)
    found = reconciliation()
    assert found["status"] == "warning", found
    assert "never finished" in found["message"]
    assert "10 minutes" in found["message"]  # its orders' claims lapse
    assert found["at"] == dead.started_at.isoformat()


def test_a_run_that_died_and_is_the_newest_is_noticed(db, doku_settings):
    doku_settings(HEALTH_RECONCILE_MAX_AGE=3600)
    run("A", started=56, finished=55)
    run("A", started=50)
    assert reconciliation()["status"] == "warning"


def test_a_run_still_going_is_not_dead(db):
    run("A", started=12, finished=11)
    going = run("A", started=30)  # a long backlog: it wrote its progress a minute ago
    ReconciliationRun.objects.filter(pk=going.pk).update(progress_at=timezone.now() - timedelta(minutes=1))
    assert reconciliation()["status"] == "ok"


def test_a_run_that_died_long_ago_no_longer_pages(db, doku_settings):
    """Reported while it is within HEALTH_RECONCILE_MAX_AGE, like any other run: not for days."""
    doku_settings(HEALTH_RECONCILE_MAX_AGE=3600)
    run("A", started=3 * 60)
    run("A", started=2, finished=1)
    assert reconciliation()["status"] == "ok"


def test_a_run_writes_its_counts_as_it_goes(live_doku, order_factory, monkeypatch):
    """What a killed run did stays on its row: the counts are written after each batch, not only at the end."""
    monkeypatch.setattr(reconciliation_module, "PROGRESS_EVERY", timedelta(0))  # each batch, however quick
    orders = [order_factory() for _ in range(3)]
    for order in orders:
        services.create_payment_link(order)
        paid_quietly(order)
    seen = []

    def progress(line) -> None:
        row = ReconciliationRun.objects.get()
        seen.append((row.checked, row.changed, row.finished_at is None, row.progress_at is not None))

    reconcile(min_age=timedelta(0), progress=progress)

    assert seen == [(0, 0, True, True), (1, 1, True, True), (2, 2, True, True)]
    assert ReconciliationRun.objects.values_list("checked", "changed").get() == (3, 3)


def test_a_run_killed_midway_is_reported_with_what_it_did(live_doku, order_factory, monkeypatch):
    """SIGKILL (or cron's ``timeout``) ends the process: no ``finally`` runs, so nothing writes the run's end."""
    reconcile(min_age=timedelta(0))  # an earlier run, finished
    orders = [order_factory() for _ in range(3)]
    for order in orders:
        services.create_payment_link(order)
        paid_quietly(order)
    monkeypatch.setattr(reconciliation_module, "_finish_run", lambda run, summary: None)
    monkeypatch.setattr(reconciliation_module, "PROGRESS_EVERY", timedelta(0))

    def killed_at_the_third(line) -> None:
        if line.invoice_number == orders[2].invoice_number:
            raise SystemExit(137)

    with pytest.raises(SystemExit):
        reconcile(min_age=timedelta(0), progress=killed_at_the_third)

    killed = ReconciliationRun.objects.order_by("started_at").last()
    assert killed is not None
    assert (killed.finished_at, killed.checked, killed.changed) == (None, 2, 2)
    assert reconciliation_finding(timezone.now()).status == "ok"  # still going, as far as anyone can tell
    found = reconciliation_finding(timezone.now() + timedelta(minutes=11))
    assert found.status == "warning", found.message
    assert "never finished" in found.message
    assert "it checked 2 order(s) and changed 2" in found.message


def test_a_payment_found_on_an_order_that_cannot_take_it_is_said_loudly_once(live_doku, order_factory, caplog):
    """The order was cancelled while its link stayed payable at DOKU; the shopper paid it, the notification got lost."""
    order = order_factory()
    services.create_payment_link(order)
    services.cancel_order(order)  # CANCEL_AT_DOKU is off: the link stays payable at DOKU
    paid_quietly(order)

    with caplog.at_level(logging.WARNING, logger="django_doku_checkout.reconciliation"):
        reconcile(min_age=timedelta(0))
        reconcile(min_age=timedelta(0))

    order.refresh_from_db()
    assert order.needs_review
    [record] = [r for r in caplog.records if r.name == "django_doku_checkout.reconciliation"]
    assert record.levelno == logging.WARNING
    assert order.invoice_number in record.getMessage()
    assert "notification never arrived" in record.getMessage()
    assert "flagged for review instead of paid" in record.getMessage()
