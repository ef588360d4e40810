"""The payments dashboard's entry in the admin: a proxy of ``Order``, with no table of its own."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from django_doku_checkout.models.orders import Order


class PaymentsDashboard(Order):
    """The admin index's link to the payments dashboard, in the app's own block.

    A proxy model is how the admin lists a page among an app's models: the dashboard shows
    on the index and the app's index of whatever admin site registers it, for whoever may
    view orders, with no template of the shop's overridden. It adds no table and no row.
    """

    class Meta:
        proxy = True
        verbose_name = _("payments dashboard")
        verbose_name_plural = _("payments dashboard")
        default_permissions = ()
