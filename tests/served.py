"""Connects, in a served shop's processes, the signal receivers its test names.

``SERVED_RECEIVERS`` is JSON: ``{"payment_succeeded": ["tests.test_x.slow_receiver"], ...}``.
The gunicorn workers and the management commands :meth:`tests.servers.Shop.manage` runs
all connect them, as a shop's ``AppConfig.ready`` would.
"""

from __future__ import annotations

import json
import os

from django.apps import AppConfig
from django.utils.module_loading import import_string


class ServedConfig(AppConfig):
    name = "tests"
    label = "tests_served"

    def ready(self) -> None:
        from django_doku_checkout import signals

        for signal_name, paths in json.loads(os.environ.get("SERVED_RECEIVERS") or "{}").items():
            for path in paths:
                getattr(signals, signal_name).connect(import_string(path), weak=False, dispatch_uid=path)
