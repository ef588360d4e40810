"""Settings for the benchmarks: the test project's apps and middleware, plus the floor views.

The database comes from ``DATABASE_URL``; gunicorn workers keep their connections, as a
production site would.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403 - the same project the test suite uses

DATABASES = {"default": env.db_url("DATABASE_URL", default="sqlite:///:memory:")}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 60
ROOT_URLCONF = "benchmarks.site.urls"
DEBUG = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # The servers are polled at "/" until they answer; those 404s are not news.
    "loggers": {"django.request": {"level": "ERROR"}},
}
