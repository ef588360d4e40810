"""The health of the shop's payments now: what ``doku_checkout_health`` and the health endpoint report.

Each fact is one small function with a bounded query (an indexed filter, a count that stops
at :data:`COUNT_LIMIT`, a handful of invoice numbers); :func:`health_report` turns them into
:class:`Finding` s, each ``ok``, ``warning`` or ``critical`` with what to do, and the worst of
them is the report's status. The thresholds are the ``HEALTH_*`` settings. Nothing here
holds a secret or a shopper's data: counts, times and invoice numbers only.

The facts themselves are in :mod:`~django_doku_checkout.services.health_facts`, which the
dashboard counts through too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from django_doku_checkout.conf import get_config
from django_doku_checkout.models import (
    Delivery,
    OrderEvent,
    ReconciliationRun,
)
from django_doku_checkout.models.runs import CLAIM_LEASE
from django_doku_checkout.services.health_facts import (
    COUNT_LIMIT,
    bounded_count,
    dead_runs,
    failing_deliveries,
    last_reconciliation_run,
    last_verified_notification,
    newest_runs_per_host,
    old_pending_orders,
    payments,
    rejected_notifications,
    settled_by_reconciliation,
    stuck_refunds,
)

OK, WARNING, CRITICAL = "ok", "warning", "critical"
#: The check itself could not run: the database could not be read.
UNKNOWN = "unknown"
#: The statuses from best to worst; the report's is its worst finding's.
LEVELS = (OK, WARNING, CRITICAL)
#: What "recent" means: payments settled by reconciliation, and notifications, in this window.
WINDOW = timedelta(hours=24)
#: A payment this fresh may still have its notification on the way (DOKU notifies within seconds).
NOTIFICATION_GRACE = timedelta(minutes=10)
#: Invoice numbers a finding names, at most.
NAMED = 5


@dataclass(frozen=True)
class Finding:
    """One fact about the shop's payments: its status, and a message saying what it means and what to do."""

    name: str
    status: str
    message: str
    count: int | None = None
    at: datetime | None = None
    invoice_numbers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "count": self.count,
            "at": self.at.isoformat() if self.at else None,
            "invoice_numbers": list(self.invoice_numbers),
        }


@dataclass(frozen=True)
class HealthReport:
    """Every finding at ``checked_at``; ``status`` is the worst of theirs."""

    checked_at: datetime
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        return max((finding.status for finding in self.findings), key=LEVELS.index, default=OK)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data: what ``doku_checkout_health --json`` and the endpoint answer."""
        return {
            "status": self.status,
            "checked_at": self.checked_at.isoformat(),
            "findings": [finding.as_dict() for finding in self.findings],
        }


# --- the findings -------------------------------------------------------------------------------


def _ago(moment: datetime, now: datetime) -> str:
    return duration(now - moment) + " ago"


def duration(span: timedelta) -> str:
    """A span as people say it: "45 seconds", "12 minutes", "6 hours", "3 days"."""
    seconds = max(int(span.total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}{'s' if seconds // size != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _counted(count: int) -> str:
    return f"{count} or more" if count >= COUNT_LIMIT else str(count)


def notifications_finding(now: datetime) -> Finding:
    """Whether DOKU's notifications reach the shop: a warning when payments came another way since the last one did.

    Each payment is notified within seconds, so one recorded by the return page's status check
    or by reconciliation after the last verified notification means notifications stopped: at
    once when notifications were rejected since (a wrong key), else :data:`NOTIFICATION_GRACE`
    after it (none arrive). Rejected requests alone (anyone may post one) say nothing.
    """
    last = last_verified_notification()
    at = last.received_at if last else None
    since = max(now - WINDOW, at) if at else now - WINDOW
    seen = f"Last verified notification {_ago(at, now)}" if at else "No verified notification yet"
    rejected = bounded_count(rejected_notifications(since))
    # With notifications rejected since, the payments' own were refused: no need to wait for them.
    until = now if rejected else now - NOTIFICATION_GRACE
    paid = bounded_count(payments(since, until).exclude(source=OrderEvent.Source.NOTIFICATION))
    if not paid:
        refused = f"; {_counted(rejected)} request(s) rejected since, none for a payment missed" if rejected else ""
        return Finding("notifications", OK, f"{seen}; no payment since that DOKU has not notified{refused}.", at=at)
    return Finding(
        "notifications",
        WARNING,
        f"{seen}, yet {_counted(paid)} payment(s) were recorded since by the return page or reconciliation and "
        f"{_counted(rejected)} notification(s) were rejected since: DOKU's notifications are not reaching the shop. "
        "If they are rejected, SECRET_KEY or CLIENT_ID is not what DOKU signs with, or a proxy changed the "
        "notification URL's path (DOKU's notification log in the admin says why); if none arrive, check the "
        "notification URL in DOKU's back office.",
        count=paid,
        at=at,
    )


def recovered_payments_finding(now: datetime) -> Finding:
    """Payments settled by reconciliation in the window: a warning until a notification verifies after the newest.

    One now and then is DOKU retrying late; once DOKU's notifications verify again the
    finding is ok (still counting them), so one late payment does not page for a day.
    """
    recovered = settled_by_reconciliation(now - WINDOW)
    count = bounded_count(recovered)
    if not count:
        return Finding("recovered_payments", OK, "No payment needed reconciliation in the last 24 hours.", count=0)
    newest = list(recovered.values_list("order__invoice_number", "created_at")[:NAMED])
    said = (
        f"{_counted(count)} payment(s) in the last 24 hours were settled by reconciliation, not by DOKU's "
        "notification (the newest first)"
    )
    last = last_verified_notification()
    notified = last is not None and last.received_at > newest[0][1]
    return Finding(
        "recovered_payments",
        OK if notified else WARNING,
        f"{said}; DOKU's notifications verified since, the last {_ago(last.received_at, now)}."
        if notified and last
        else f"{said}. Check the notification URL in DOKU's back office and that DOKU can reach it.",
        count=count,
        at=newest[0][1],
        invoice_numbers=tuple(invoice for invoice, _ in newest),
    )


def pending_orders_finding(now: datetime) -> Finding:
    """Orders pending longer than ``HEALTH_PENDING_AGE``: a warning; reconciliation should have settled them."""
    age = timedelta(seconds=get_config().health_pending_age)
    pending = old_pending_orders(now - age)
    count = bounded_count(pending)
    if not count:
        return Finding("pending_orders", OK, f"No order pending for more than {duration(age)}.", count=0)
    oldest = pending.values_list("invoice_number", "created_at")[:NAMED]
    return Finding(
        "pending_orders",
        WARNING,
        f"{_counted(count)} order(s) pending for more than {duration(age)}, the oldest {oldest[0][0]} created "
        f"{_ago(oldest[0][1], now)}: is doku_checkout_reconcile running? Its output says what DOKU answers "
        "about them.",
        count=count,
        at=oldest[0][1],
        invoice_numbers=tuple(invoice for invoice, _ in oldest),
    )


def deliveries_finding(now: datetime) -> Finding:
    """Signal deliveries failing: critical once one gave up, a warning while they retry."""
    failing = failing_deliveries()
    count = bounded_count(failing)
    if not count:
        return Finding("deliveries", OK, "Every signal receiver ran.", count=0)
    gave_up = failing.filter(status=Delivery.Status.FAILED).exists()
    oldest = list(failing.values_list("order__invoice_number", "created_at")[:NAMED])
    fix = (
        "a receiver gave up: fix it, then run doku_checkout_deliver --all"
        if gave_up
        else "they are retried by doku_checkout_deliver; see their last error in the admin"
    )
    return Finding(
        "deliveries",
        CRITICAL if gave_up else WARNING,
        f"{_counted(count)} signal delivery(ies) failing, the oldest since {_ago(oldest[0][1], now)}: {fix}.",
        count=count,
        at=oldest[0][1],
        invoice_numbers=tuple(dict.fromkeys(invoice for invoice, _ in oldest)),
    )


def refunds_finding(now: datetime) -> Finding:
    """Refunds ``requested`` longer than ``HEALTH_REFUND_STUCK_AGE``: DOKU has not answered; a warning."""
    age = timedelta(seconds=get_config().health_refund_stuck_age)
    stuck = stuck_refunds(now - age)
    count = bounded_count(stuck)
    if not count:
        return Finding("refunds", OK, f"No refund waiting for DOKU for more than {duration(age)}.", count=0)
    oldest = list(stuck.values_list("order__invoice_number", "created_at")[:NAMED])
    return Finding(
        "refunds",
        WARNING,
        f"{_counted(count)} refund(s) waiting for DOKU's answer for more than {duration(age)}: reconciliation "
        "sends them again; if they stay, ask DOKU about them (the order's page has Resend).",
        count=count,
        at=oldest[0][1],
        invoice_numbers=tuple(dict.fromkeys(invoice for invoice, _ in oldest)),
    )


def reconciliation_finding(now: datetime) -> Finding:
    """Reconciliation's runs: critical when none finished within ``HEALTH_RECONCILE_MAX_AGE``.

    A warning, within that time, for a run that died and for each machine whose newest run
    raised or could not ask DOKU about some orders: another machine's good run hides neither.
    """
    max_age = timedelta(seconds=get_config().health_reconcile_max_age)
    finished = last_reconciliation_run(finished=True)
    if finished is None or finished.finished_at is None or finished.finished_at < now - max_age:
        when = (
            f"the last finished {_ago(finished.finished_at, now)}"
            if finished and finished.finished_at
            else "none ever finished"
        )
        return Finding(
            "reconciliation",
            CRITICAL,
            f"No reconciliation run finished in the last {duration(max_age)} ({when}): payments whose "
            "notification is lost stay pending. Schedule doku_checkout_reconcile (cron, every 10 minutes) "
            "and read its output.",
            at=finished.finished_at if finished else None,
        )
    problems = _dead_runs(now, max_age) + _failing_machines(now, max_age)
    if problems:
        return Finding(
            "reconciliation",
            WARNING,
            " ".join(message for message, _, _ in problems),
            count=sum(count for _, count, _ in problems),
            at=problems[0][2],
        )
    return Finding(
        "reconciliation",
        OK,
        f"Last reconciliation run finished {_ago(finished.finished_at, now)}: {finished.checked} order(s) checked, "
        f"{finished.changed} changed.",
        count=finished.checked,
        at=finished.finished_at,
    )


#: A problem with reconciliation's runs: what to say, how many (runs or orders), and when.
_Problem = tuple[str, int, datetime]


def _on(run: ReconciliationRun) -> str:
    return f"on {run.host}" if run.host else "on an unnamed host"


def _dead_runs(now: datetime, max_age: timedelta) -> list[_Problem]:
    """The runs that died within ``max_age``: the oldest named, the others counted."""
    dead = dead_runs(now - max_age, now)
    run = dead.first()
    if run is None:
        return []
    count = bounded_count(dead)
    others = f" ({count - 1} other run(s) too)" if count > 1 else ""
    return [
        (
            f"A reconciliation run {_on(run)} started {_ago(run.started_at, now)} never finished and has shown no "
            f"progress for {duration(now - (run.progress_at or run.started_at))}{others}: its process died (killed, "
            f"out of memory, cron's timeout) or hangs. Before that it checked {run.checked} order(s) and changed "
            f"{run.changed}; the orders it had claimed are checked again once its claim on them lapses, "
            f"{duration(CLAIM_LEASE)} after it took them. Read its output; if cron's timeout killed it, give it longer.",
            count,
            run.started_at,
        )
    ]


def _failing_machines(now: datetime, max_age: timedelta) -> list[_Problem]:
    """Each machine whose newest run, finished within ``max_age``, raised or could not ask DOKU about some orders."""
    problems = []
    for run in newest_runs_per_host(now - max_age)[:NAMED]:
        ended = run.finished_at or now
        if run.error or run.failed:
            trouble = (
                f"stopped with an error ({run.error}); see its output"
                if run.error
                else f"could not ask DOKU about {run.failed} of {run.checked} order(s): DOKU down or answering "
                "errors; it tries again next run"
            )
            problems.append(
                (f"The last reconciliation run {_on(run)}, {_ago(ended, now)}, {trouble}.", run.failed, ended)
            )
    return problems


#: Every finding, in the order they are reported.
FINDINGS = (
    notifications_finding,
    recovered_payments_finding,
    reconciliation_finding,
    pending_orders_finding,
    deliveries_finding,
    refunds_finding,
)


def health_report(now: datetime | None = None) -> HealthReport:
    """Every finding about the shop's payments now, and their worst status."""
    now = now or timezone.now()
    return HealthReport(now, tuple(finding(now) for finding in FINDINGS))


def unreadable(error: DatabaseError) -> dict[str, str]:
    """What the command and the endpoint answer when :func:`health_report` could not read the database.

    The error's class only: a database's message may name its host, its user or a table.
    """
    return {"status": UNKNOWN, "message": f"The health check could not read the database ({type(error).__name__})."}
