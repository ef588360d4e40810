"""Waiting for something another thread or process does: a bounded poll that fails clearly.

A test never sleeps for a guessed time to let something happen; it polls for the thing
itself (a condition, a server answering, a transaction waiting on a lock) and fails with a
message naming what never happened. ``time.sleep`` stays only where time itself is what a
test is about (a DOKU stand-in that is slow on purpose), with a comment saying so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# On a loaded 2-core machine a thread can take seconds to be scheduled: bounds are generous,
# and a poll that succeeds returns at once.
WAIT_SECONDS = 10.0


def wait_for(
    condition: Callable[[], Any], *, seconds: float = WAIT_SECONDS, interval: float = 0.01, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something true (its value), or fail after ``seconds``."""
    give_up = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > give_up:
            raise AssertionError(f"Not true within {seconds} s: {what or condition}")
        time.sleep(interval)


def wait_until_serving(base_url: str, seconds: float = 60) -> None:
    """Poll a server we just started until it answers (a loaded CI machine can take a while)."""
    import requests

    def answers() -> bool:
        try:
            requests.get(base_url + "/", timeout=5)
        except requests.RequestException:  # not listening yet, or too busy to answer yet
            return False
        return True

    wait_for(answers, seconds=seconds, interval=0.1, what=f"{base_url} answering")


def lock_waiters() -> int:
    """How many other connections to this database wait on a lock now (PostgreSQL only).

    Read on the calling thread's own connection, which may be inside a transaction: the
    statistics snapshot is cleared first, or a transaction would see one frozen snapshot.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        (count,) = cursor.fetchone()
    return int(count)


def wait_until_waiting_on_a_lock(waiters: int = 1, *, what: str = "", seconds: float = WAIT_SECONDS) -> None:
    """Until ``waiters`` other transactions wait on a lock (``pg_stat_activity``), or fail after ``seconds``.

    The race tests' way to know another transaction has reached a row lock this one (or a
    third) holds, instead of sleeping and hoping: PostgreSQL shows the waiting backend with
    ``wait_event_type = 'Lock'``. ``what`` names the waiter in the failure message.
    """
    wait_for(
        lambda: lock_waiters() >= waiters,
        seconds=seconds,
        interval=0.02,
        what=f"{waiters} transaction(s) waiting on a lock: {what or 'nobody waited'}",
    )
