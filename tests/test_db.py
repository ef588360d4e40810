"""``atomic_with_retry`` against a real second SQLite connection that holds the write lock.

The ``startproject`` database (tests/settings.py) is a SQLite file configured as
``django-admin startproject`` writes it, whatever database the rest of the suite uses.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import OperationalError, connections, transaction

from django_doku_checkout.db import RETRY_FOR, atomic_with_retry

ALIAS = "startproject"

pytestmark = pytest.mark.django_db(databases=[ALIAS], transaction=True)


@pytest.fixture
def table():
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS visit (id INTEGER PRIMARY KEY, who TEXT NOT NULL)")
        cursor.execute("DELETE FROM visit")
    yield
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("DROP TABLE visit")


@contextmanager
def write_lock_held(*, seconds: float | None) -> Iterator[None]:
    """Another process's connection writes and keeps the lock ``seconds`` (None: until the block ends)."""
    other = sqlite3.connect(
        connections[ALIAS].settings_dict["NAME"], timeout=10, isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO visit (who) VALUES ('other')")
    release = threading.Timer(seconds, other.execute, args=("COMMIT",)) if seconds is not None else None
    try:
        if release:
            release.start()
        yield
    finally:
        if release:
            release.join()
        else:
            other.execute("COMMIT")
        other.close()


class ReadThenWrite:
    """A transaction as the app's services run it: read the row, decide, write."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM visit")
            (seen,) = cursor.fetchone()
            cursor.execute("INSERT INTO visit (who) VALUES ('shopper')")
        return int(seen)


def visitors() -> list[str]:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT who FROM visit ORDER BY id")
        return [who for (who,) in cursor.fetchall()]


def test_without_retry_a_read_then_write_fails_at_once(table):
    """Why the helper exists: SQLite's timeout cannot help a transaction that has read."""
    work = ReadThenWrite()
    with write_lock_held(seconds=0.3):
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"), transaction.atomic(using=ALIAS):
            work()
        assert time.monotonic() - started < 0.3  # the 5 s default timeout was not even used


def test_retries_until_the_other_writer_commits(table):
    work = ReadThenWrite()
    started = time.monotonic()
    with write_lock_held(seconds=0.3):
        seen = atomic_with_retry(work, using=ALIAS)
    assert work.calls > 1
    assert seen == 1  # the committed row of the other writer, read by the attempt that succeeded
    assert visitors() == ["other", "shopper"]
    assert 0.3 <= time.monotonic() - started < RETRY_FOR


def test_gives_up_after_the_bound_with_the_lock_error(table):
    work = ReadThenWrite()
    started = time.monotonic()
    with write_lock_held(seconds=None):
        with pytest.raises(OperationalError, match="^database is locked$"):
            atomic_with_retry(work, using=ALIAS, retry_for=2)
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 3
    assert 3 <= work.calls <= 10  # growing pauses, not a busy loop
    assert visitors() == ["other"]


def test_never_retries_inside_an_outer_transaction(table):
    work = ReadThenWrite()
    with (
        write_lock_held(seconds=0.3),
        pytest.raises(OperationalError, match="database is locked"),
        transaction.atomic(using=ALIAS),
    ):
        atomic_with_retry(work, using=ALIAS)
    assert work.calls == 1
    assert visitors() == ["other"]


def test_never_retries_other_database_errors(table):
    calls = []

    def broken() -> None:
        calls.append(1)
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with pytest.raises(OperationalError, match="no such table"):
        atomic_with_retry(broken, using=ALIAS)
    assert calls == [1]


def test_commits_at_once_without_contention(table):
    work = ReadThenWrite()
    assert atomic_with_retry(work, using=ALIAS) == 0
    assert work.calls == 1
    assert visitors() == ["shopper"]
