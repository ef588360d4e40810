"""The benchmark site as an app: its receivers' record (benchmark 8, two servers)."""

from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "benchmarks.site"
    label = "benchmark_site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        from benchmarks.site import receivers

        # Only in the sale's processes: a receiver adds a delivery row to every change, which
        # the other benchmarks measure without.
        if settings.BENCHMARK_RECEIVERS:
            receivers.connect()
