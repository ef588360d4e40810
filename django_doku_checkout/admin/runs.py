"""The record of reconciliation's runs: read-only, what the health check reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from django_doku_checkout.models import ReconciliationRun

if TYPE_CHECKING:
    RunModelAdmin = admin.ModelAdmin[ReconciliationRun]
else:  # the admin classes are not subscriptable at run time
    RunModelAdmin = admin.ModelAdmin


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(RunModelAdmin):
    list_display = ("started_at", "progress_at", "finished_at", "host", "checked", "changed", "failed", "error")
    list_filter = ("host", "started_at")
    date_hierarchy = "started_at"
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # What the runs did, as they recorded it: doku_checkout_prune deletes old ones, nobody edits them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
