"""The example shop on SQLite exactly as ``django-admin startproject`` configures it.

The example's own settings add ``OPTIONS`` for SQLite (``transaction_mode``, ``timeout``);
a shop started from scratch has none. ``tests/test_sqlite_startproject.py`` runs the example
shop with these settings to prove that such a shop survives concurrent shoppers and DOKU's
notifications (and that system check W005 tells its developers what to add).
"""

from __future__ import annotations

from example_project.settings import *  # noqa: F403 - the example shop, changed in one setting
from example_project.settings import DATABASES as EXAMPLE_DATABASES

assert EXAMPLE_DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3", "set DATABASE_URL=sqlite:///..."  # noqa: S101

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": EXAMPLE_DATABASES["default"]["NAME"]}}
