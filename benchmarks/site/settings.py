"""Settings for the benchmarks: the test project's apps and middleware, plus the floor views.

The database comes from ``DATABASE_URL``; gunicorn workers keep their connections, as a
production site would: persistent ones, or psycopg's pool of ``DOKU_BENCH_POOL`` connections. With ``DOKU_STANDIN_URL`` (benchmark 8) DOKU is the stand-in there.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403 - the same project the test suite uses

DATABASES = {"default": env.db_url("DATABASE_URL", default="sqlite:///:memory:")}  # noqa: F405
if os.environ.get("DOKU_BENCH_POOL"):
    # Benchmark 8 with psycopg's pool (Django 5.1+): one pool per process, as large as its threads.
    size = int(os.environ["DOKU_BENCH_POOL"])
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": size, "max_size": size}}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 60  # persistent connections, one per thread
INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.site"]  # noqa: F405
ROOT_URLCONF = "benchmarks.site.urls"
DEBUG = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # The servers are polled at "/" until they answer; those 404s are not news.
    "loggers": {
        "django.request": {"level": "ERROR"},
        # make_orders' invoice numbers ("SALE-1") draw a warning about card payments on every link.
        "django_doku_checkout.services.link_requests": {"level": "ERROR"},
    },
}
#: The receivers that record every call (benchmarks/site/receivers.py): the sale's processes only.
BENCHMARK_RECEIVERS = bool(os.environ.get("DOKU_STANDIN_URL"))
if BENCHMARK_RECEIVERS:
    # The sale: DOKU's latency, retries with DOKU's pauses, a read timeout its slow answers
    # outlive (the stand-in holds some calls 3 s), the return page's Status API throttle as shipped.
    DOKU_CHECKOUT = {
        **DOKU_CHECKOUT,  # noqa: F405
        "API_BASE_URL": os.environ["DOKU_STANDIN_URL"],
        "TIMEOUT": (2, 2),
        "DEADLINE": 10,
        "RETRY_BACKOFF": 0.2,
        "STATUS_CHECK_INTERVAL": 10,
    }
