"""DOKU's notification log: read-only, with a Reprocess action for failed processing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from django_doku_checkout import payloads
from django_doku_checkout.admin.read_only import ReadOnlyAdmin
from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.models import Notification
from django_doku_checkout.redaction import mask_card_numbers, redact
from django_doku_checkout.services.notifications import reprocess_notification

if TYPE_CHECKING:
    NotificationModelAdmin = admin.ModelAdmin[Notification]
else:  # the admin classes are not subscriptable at run time
    NotificationModelAdmin = admin.ModelAdmin


def pretty_json(value: object) -> SafeString:
    """``value`` indented in a <pre>, with secrets and card numbers removed for the reader."""
    return format_html(
        '<pre class="doku-json">{}</pre>',
        mask_card_numbers(json.dumps(redact(value), indent=2, ensure_ascii=False, default=str)),
    )


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, NotificationModelAdmin):
    # Read-only: the log is evidence of what DOKU sent, nobody edits or deletes it.
    list_display = ("received_at", "invoice_number", "transaction_status", "signature_valid", "outcome", "order_link")
    list_filter = ("outcome", "signature_valid", "transaction_status", "received_at")
    search_fields = ("invoice_number", "request_id")
    list_select_related = ("order",)
    date_hierarchy = "received_at"
    actions = ("reprocess",)
    fields = (
        "received_at",
        "order_link",
        "invoice_number",
        "transaction_status",
        "signature_valid",
        "outcome",
        "detail",
        "processed_at",
        "request_id",
        "client_id",
        "path",
        "remote_addr",
        "headers_display",
        "body_display",
    )
    readonly_fields = fields

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # Reprocessing may change an order, so it takes the right to change orders.
        return request.user.has_perm(f"{self.opts.app_label}.change_order")

    @admin.display(description=gettext_lazy("order"), ordering="order")
    def order_link(self, notification: Notification) -> SafeString | str:
        if notification.order is None:
            return "-"
        url = reverse(f"admin:{self.opts.app_label}_order_change", args=[notification.order.pk])
        return format_html('<a href="{}">{}</a>', url, notification.order)

    @admin.display(description=gettext_lazy("headers"))
    def headers_display(self, notification: Notification) -> SafeString:
        return pretty_json(notification.headers)

    @admin.display(description=gettext_lazy("body"))
    def body_display(self, notification: Notification) -> SafeString:
        # The stored body is the evidence, kept as received; only what is shown is masked.
        data = payloads.loads(notification.body.encode())
        if data is None:  # not JSON, or nested too deeply to print: shown as text
            return format_html('<pre class="doku-json">{}</pre>', mask_card_numbers(notification.body))
        return pretty_json(data)

    @admin.action(permissions=["reprocess"], description=gettext_lazy("Reprocess failed or unconfirmed notifications"))
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        """Apply verified notifications whose processing failed again, through the same service."""
        done = 0
        for notification in queryset:
            retryable = (Notification.Outcome.FAILED, Notification.Outcome.UNCONFIRMED)
            if notification.outcome not in retryable or not notification.signature_valid:
                self.message_user(
                    request,
                    _(
                        "Notification %(id)s skipped: only verified notifications that failed or were not confirmed are reprocessed."
                    )
                    % {"id": notification.pk},
                    messages.WARNING,
                )
                continue
            try:
                response = reprocess_notification(notification)
            except DokuError as err:
                self.message_user(request, f"{notification.pk}: {err}", messages.ERROR)
                continue
            done += 1
            self.message_user(
                request,
                _("Notification %(id)s: %(outcome)s.")
                % {"id": notification.pk, "outcome": notification.get_outcome_display()},
                messages.SUCCESS if response.status_code == 200 else messages.WARNING,
            )
        if done:
            self.message_user(
                request, ngettext("%d notification reprocessed.", "%d notifications reprocessed.", done) % done
            )
