from __future__ import annotations

from django.apps import AppConfig


class DokuSimulatorConfig(AppConfig):
    name = "django_doku_checkout.simulator"
    label = "doku_simulator"
    verbose_name = "DOKU simulator"
