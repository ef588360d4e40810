from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class DokuCheckoutAppConfig(AppConfig):
    name = "django_doku_checkout"
    verbose_name = _("DOKU Checkout")
    # Pinned so a project's DEFAULT_AUTO_FIELD never produces a migration for this app.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_doku_checkout.checks import (
            check_capacity,
            check_csp,
            check_deployment,
            check_order_url,
            check_settings,
            check_sqlite,
            check_wiring,
        )
        from django_doku_checkout.services import after_response

        # Signal receivers run once DOKU and the shopper have their answer (services/deliveries.py).
        after_response.connect()

        checks.register(check_settings, checks.Tags.security)
        checks.register(check_wiring, checks.Tags.urls)
        checks.register(check_order_url, checks.Tags.urls)
        checks.register(check_csp, checks.Tags.security)
        # Not under the "database" tag: Django runs those only with --database, and this one
        # reads settings, so a plain `manage.py check` must show it.
        checks.register(check_sqlite, "sqlite")
        checks.register(check_deployment, checks.Tags.security, deploy=True)
        # gunicorn's numbers, where GUNICORN_CMD_ARGS gives them.
        checks.register(check_capacity, "capacity")
