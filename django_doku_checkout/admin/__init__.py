"""Admin for orders (payment links, status checks, cancelling), DOKU's notification log, reconciliation's runs and the payments dashboard."""

from __future__ import annotations

from django_doku_checkout.admin.dashboard import PaymentsDashboardAdmin
from django_doku_checkout.admin.notifications import NotificationAdmin
from django_doku_checkout.admin.orders import OrderAdmin
from django_doku_checkout.admin.runs import ReconciliationRunAdmin

__all__ = ["NotificationAdmin", "OrderAdmin", "PaymentsDashboardAdmin", "ReconciliationRunAdmin"]
