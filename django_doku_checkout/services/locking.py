"""Row locks: the one way this app serialises changes to an order and its payment links."""

from __future__ import annotations

from typing import TypeVar

from django.db import connections
from django.db.models import Manager, Model, QuerySet

M = TypeVar("M", bound=Model)


def locked_rows(manager: Manager[M], *, skip_locked: bool = False) -> QuerySet[M]:
    """Rows locked until the transaction ends, while other rows may still point at them.

    On PostgreSQL this is ``FOR NO KEY UPDATE``: a plain ``FOR UPDATE`` would also block
    the key-share lock a concurrent insert or update of a referencing row (a notification,
    an event) takes, and two such requests deadlock. ``skip_locked`` leaves out rows
    another transaction holds, where the database can (not on SQLite, which has one writer).

    An order's row lock guards its payment links too: every change to a ``CheckoutSession``
    is made while its order is locked, so a link read after taking that lock is current.
    Hold it only for short transactions: never while DOKU is asked.
    """
    features = connections[manager.db].features
    return manager.select_for_update(
        no_key=features.has_select_for_no_key_update,
        skip_locked=skip_locked and features.has_select_for_update_skip_locked,
        # Only the manager's own rows, even when the query joins others to find them.
        of=("self",) if features.has_select_for_update_of else (),
    )


def guarded(rows: Manager[M] | QuerySet[M], order: Model) -> QuerySet[M]:
    """``rows`` read from the database ``order`` was read from: for a locked order, the one its lock is held on.

    The order's lock guards its links and refunds only on the database it was taken on (the
    write database). A shop's router may send plain reads to a replica, which lags behind it:
    a claim committed a moment ago would be missing there, and a second link made.
    """
    return rows.using(order._state.db)
