"""The record of reconciliation's runs: when each started and finished, and what it found."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: How long one run's claim on an order keeps other runs away: it is released as soon as the
#: order is checked, so this only matters when the run died while asking DOKU. A run that
#: showed no progress for this long is taken for dead (the health check says so).
CLAIM_LEASE = timedelta(minutes=10)


class ReconciliationRun(models.Model):
    """One run of ``reconcile()`` (``doku_checkout_reconcile``, a task or a batch): written when it starts and ends.

    Each run, on whichever machine, writes its own row, so runs never contend for one. Its
    counts are written as it goes (``progress_at``), so a run killed midway still says what it
    did. A run with no ``finished_at`` is still going, or its process died (no progress for
    :data:`CLAIM_LEASE`); ``error`` names what stopped one that raised. The health check reads
    the newest rows; ``doku_checkout_prune`` deletes old ones
    (:data:`django_doku_checkout.services.retention.KEEP_RECONCILIATION_RUNS`).
    """

    started_at = models.DateTimeField(_("started at"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    host = models.CharField(_("host"), max_length=255, blank=True, help_text=_("The machine the run ran on."))
    checked = models.PositiveIntegerField(_("orders checked"), default=0)
    changed = models.PositiveIntegerField(_("orders changed"), default=0)
    failed = models.PositiveIntegerField(
        _("orders not checked"), default=0, help_text=_("DOKU could not be asked about them (down, or a 5xx).")
    )
    progress_at = models.DateTimeField(
        _("last progress"), null=True, blank=True, help_text=_("When the run last wrote its counts.")
    )
    error = models.CharField(_("error"), max_length=255, blank=True, help_text=_("What stopped the run, if it raised."))

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ("-started_at", "-id")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} ({self.host or '?'})"
