"""What the app server's configuration can hold: gunicorn's workers against the database and DOKU.

Read from ``GUNICORN_CMD_ARGS``, gunicorn's own environment variable, so the numbers are
written once, where gunicorn reads them, and ``manage.py check --deploy`` run in the same
environment sees them. Without it nothing here is knowable and nothing is reported.

- W009: ``DEADLINE`` (one call to DOKU, retries included) is not shorter than gunicorn's
  ``--timeout``: a sync worker waiting for a slow DOKU is killed mid-call.
- W010: ``--threads`` above a psycopg pool's ``max_size``: the threads beyond it wait for a
  connection (30 s by default) while DOKU keeps the others busy.

PostgreSQL's ``max_connections`` is not checked: it is knowable only by asking the server in
SQL, and only the unit of work talks SQL. docs/deployment.md shows the count to make.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.checks import CheckMessage
from django.core.checks import Warning as CheckWarning

#: psycopg_pool's default ``max_size`` (it is ``min_size``, 4) when ``OPTIONS["pool"]`` is True.
PSYCOPG_POOL_DEFAULT_SIZE = 4


@dataclass(frozen=True)
class Server:
    """gunicorn's numbers that decide what a site can hold (gunicorn's defaults where not given)."""

    workers: int = 1
    threads: int = 1
    timeout: float = 30


def gunicorn_server(environ: Mapping[str, str]) -> Server | None:
    """gunicorn's workers, threads and timeout from ``GUNICORN_CMD_ARGS``; None when it is not set."""
    arguments = environ.get("GUNICORN_CMD_ARGS", "").strip()
    if not arguments:
        return None
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("-w", "--workers", type=int, default=int(environ.get("WEB_CONCURRENCY") or 1))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-t", "--timeout", type=float, default=30)
    try:
        known, _ = parser.parse_known_args(shlex.split(arguments))
    except (SystemExit, ValueError):  # argparse exits on a value it cannot read: gunicorn reports it itself
        return None
    return Server(workers=known.workers, threads=known.threads, timeout=known.timeout)


def pool_size(database: Mapping[str, Any]) -> int | None:
    """The ``max_size`` of a PostgreSQL database's psycopg pool (Django 5.1+), or None without one."""
    if "postgresql" not in str(database.get("ENGINE", "")):
        return None
    pool = (database.get("OPTIONS") or {}).get("pool")
    if not pool:
        return None
    if isinstance(pool, Mapping):
        return int(pool.get("max_size") or pool.get("min_size") or PSYCOPG_POOL_DEFAULT_SIZE)
    return PSYCOPG_POOL_DEFAULT_SIZE


def find_timeout_problems(server: Server | None, deadline: float) -> list[CheckMessage]:
    """W009: a call to DOKU may outlive the worker that makes it."""
    if server is None or deadline < server.timeout:
        return []
    return [
        CheckWarning(
            f"DOKU_CHECKOUT['DEADLINE'] is {deadline:g} seconds, not shorter than gunicorn's --timeout "
            f"({server.timeout:g}, from GUNICORN_CMD_ARGS): a worker waiting for a slow DOKU is killed mid-call "
            "and the shopper gets an error page.",
            hint="Keep DEADLINE a few seconds under --timeout, e.g. 'DEADLINE': 25 with --timeout 30.",
            id="django_doku_checkout.W009",
        )
    ]


def find_pool_problems(server: Server | None, databases: Mapping[str, Mapping[str, Any]]) -> list[CheckMessage]:
    """W010: more threads per process than its connection pool holds."""
    if server is None:
        return []
    messages: list[CheckMessage] = []
    for alias, database in databases.items():
        size = pool_size(database)
        if size is not None and server.threads > size:
            messages.append(
                CheckWarning(
                    f"gunicorn runs {server.threads} threads per process (GUNICORN_CMD_ARGS) but "
                    f"DATABASES[{alias!r}]'s pool holds {size} connections: while DOKU keeps threads waiting, "
                    f"{server.threads - size} of them wait for a connection and fail after the pool's timeout.",
                    hint=f"Set DATABASES[{alias!r}]['OPTIONS']['pool'] = {{'min_size': {size}, "
                    f"'max_size': {server.threads}}}, or run fewer threads.",
                    id="django_doku_checkout.W010",
                )
            )
    return messages
