"""The record of reconciliation's runs: read-only, what the health check reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin

from django_doku_checkout.admin.read_only import ReadOnlyAdmin
from django_doku_checkout.models import ReconciliationRun

if TYPE_CHECKING:
    RunModelAdmin = admin.ModelAdmin[ReconciliationRun]
else:  # the admin classes are not subscriptable at run time
    RunModelAdmin = admin.ModelAdmin


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin, RunModelAdmin):
    # Read-only: what the runs did, as they recorded it; doku_checkout_prune deletes old ones.
    list_display = ("started_at", "progress_at", "finished_at", "host", "checked", "changed", "failed", "error")
    list_filter = ("host", "started_at")
    date_hierarchy = "started_at"
    fields = list_display
    readonly_fields = list_display
