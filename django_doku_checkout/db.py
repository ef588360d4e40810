"""Short transactions that survive SQLite's single writer."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How long :func:`atomic_with_retry` keeps retrying by default, in seconds (a busy
#: two-core server was seen to hold SQLite's lock past 2 s under ten shoppers at once),
#: and its first and longest pauses.
RETRY_FOR = 10.0
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 0.5

#: What SQLite says when another connection holds the lock it needs (SQLITE_BUSY, SQLITE_LOCKED).
LOCKED_MESSAGES = ("database is locked", "database table is locked")


def is_locked_error(error: OperationalError) -> bool:
    """True when SQLite refused a statement because another connection holds a lock."""
    return str(error).startswith(LOCKED_MESSAGES)


def atomic_with_retry(func: Callable[[], T], *, using: str | None = None, retry_for: float = RETRY_FOR) -> T:
    """Run ``func`` in ``transaction.atomic(using=using)``; on SQLite, retry it while the database is locked.

    SQLite has one writer at a time. A transaction that read before it writes (Django's
    default ``BEGIN DEFERRED``, the settings ``startproject`` writes) cannot wait for
    another writer: SQLite answers "database is locked" at once, whatever the ``timeout``,
    because waiting could deadlock. The transaction was rolled back, so running it again
    from the start is safe, and once the other writer commits it succeeds. A shop on
    SQLite sees this when DOKU's notification and the shopper's return page write the same
    order at the same moment. (With ``OPTIONS["transaction_mode"] = "IMMEDIATE"``, which
    check W005 asks for, SQLite itself waits up to ``timeout`` when the transaction
    begins, and a retry is rarely needed.)

    Retries pause 50 ms, then about twice as long each time up to half a second (with
    jitter, so that two waiting requests do not collide again). No retry starts later than
    ``retry_for`` seconds after the first attempt; then the lock error is raised as SQLite
    gave it.
    Only the outermost transaction is retried: inside an outer ``atomic`` block (or
    ``ATOMIC_REQUESTS``), the outer transaction is the one that lost, and only its owner
    can start it again, so the error is raised at once. Other databases, and other
    errors, are never retried.

    ``func`` runs again from the start on each attempt: it must read what it decides on
    inside the transaction, and leave nothing behind when it raises.
    """
    alias = using or DEFAULT_DB_ALIAS
    connection = connections[alias]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic(using=alias):
            return func()
    deadline = time.monotonic() + retry_for
    pause = FIRST_PAUSE
    attempt = 1
    while True:
        try:
            with transaction.atomic(using=alias):
                return func()
        except OperationalError as err:
            remaining = deadline - time.monotonic()
            if not is_locked_error(err) or remaining <= 0:
                raise
            logger.info("SQLite database %r is locked (attempt %d); retrying", alias, attempt)
        time.sleep(min(remaining, pause * random.uniform(0.5, 1.5)))  # noqa: S311 - jitter, not a secret
        pause = min(pause * 2, LONGEST_PAUSE)
        attempt += 1
