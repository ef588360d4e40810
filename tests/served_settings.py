"""The test project as :mod:`tests.servers` serves it under gunicorn (and runs its commands).

``tests.settings`` plus what a served shop needs from its environment: its own address
(``SERVED_SITE_URL``), the DOKU it talks to (``SERVED_DOKU_URL``: by default the simulator
mounted on the shop itself), and the signal receivers to connect (``SERVED_RECEIVERS``, see
:mod:`tests.served`). ``DATABASE_URL`` is read by ``tests.settings``.
"""

from __future__ import annotations

import os

from tests.doku import CLIENT_ID, SECRET
from tests.settings import *  # noqa: F403 - the test project, served
from tests.settings import INSTALLED_APPS

SITE_URL = os.environ["SERVED_SITE_URL"]

INSTALLED_APPS = [*INSTALLED_APPS, "tests.served.ServedConfig"]

DOKU_CHECKOUT = {
    "CLIENT_ID": CLIENT_ID,
    "SECRET_KEY": SECRET,
    "ENVIRONMENT": "simulator",
    "API_BASE_URL": os.environ.get("SERVED_DOKU_URL") or SITE_URL + "/doku-simulator",
    "SITE_URL": SITE_URL,
    "RETRY_BACKOFF": 0,
    "STATUS_CHECK_INTERVAL": 0,
    "TIMEOUT": (2, 5),
}
DOKU_SIMULATOR = {
    "MERCHANTS": [{"CLIENT_ID": CLIENT_ID, "SECRET_KEY": SECRET, "NOTIFICATION_URL": SITE_URL + "/doku/notification/"}],
    "RETRY_SCHEDULE": [0.1, 0.2],
    "ENABLED": True,  # DEBUG is off, as in production
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    # gunicorn's error log (tests.servers.Shop.log) then shows the app's warnings and tracebacks.
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
