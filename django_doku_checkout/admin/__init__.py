"""Admin for orders (payment links, status checks, cancelling) and DOKU's notification log."""

from __future__ import annotations

from django_doku_checkout.admin.notifications import NotificationAdmin
from django_doku_checkout.admin.orders import OrderAdmin

__all__ = ["NotificationAdmin", "OrderAdmin"]
