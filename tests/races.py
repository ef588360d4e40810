"""What race tests need: the database they run on, and threads released together.

Races need real row locks: tests marked ``postgres`` run only on PostgreSQL (see
``pytest_collection_modifyitems`` in conftest). :func:`tests.waiting.wait_until_waiting_on_a_lock`
is how a test knows a thread reached a lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def on_postgresql() -> bool:
    """Whether the tests run on PostgreSQL (``DATABASE_URL``), else SQLite in memory."""
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def close_thread_connections() -> None:
    """Close the calling thread's database connections, for a thread a test started.

    Django keeps a connection to in-memory SQLite open when asked to close it (closing the
    last one would drop the database), so a thread's own connection would be left for the
    garbage collector, which Python 3.13 reports as an unclosed database. The test's main
    connection keeps the shared in-memory database alive.
    """
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    for connection in connections.all(initialized_only=True):
        BaseDatabaseWrapper.close(connection)


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run every call on its own thread, released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        finally:
            close_thread_connections()  # this thread's own database connection

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
