"""PostgreSQL: the commonest row changes written as one statement each.

On a busy server most of a payment link's and a notification's cost is round trips to
the database and the ORM's work to build each statement, not the decisions made. Where
PostgreSQL can do a change in one statement (data-modifying ``WITH``), the app asks it to,
with the same rows, values and locks as the ORM path, and falls back to the ORM wherever
that path would do more than these statements know:

- on any other database (SQLite has no data-modifying ``WITH``), or where a shop's database
  router sends the models' writes to another database than the default one;
- when a receiver is connected to Django's ``pre_save``/``post_save`` for one of the models
  written (a shop's own hooks still run), or to a signal of this app that the change
  announces (its deliveries are recorded by :func:`.deliveries.announce`).

Values are prepared by each model field (``get_db_prep_save``), as ``Model.save`` does.
"""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from django_doku_checkout import signals
from django_doku_checkout.models import CheckoutSession, LineItem, Order, OrderEvent


def readable(*models: type[Model], using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether rows of ``models`` may be locked and read with these statements: PostgreSQL, where the ORM would go."""
    if connections[using].vendor != "postgresql":
        return False
    # A shop's database router decides where the ORM writes (and locks): the statements go there, or not at all.
    return all(router.db_for_write(model) == using for model in models)


def available(*models: type[Model], announced: Iterable[str] = (), using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether a change to rows of ``models`` that announces ``announced`` may be one statement here."""
    if not readable(*models, using=using):
        return False
    if any(pre_save.has_listeners(model) or post_save.has_listeners(model) for model in models):
        return False
    return not any(getattr(signals, name).has_listeners(Order) for name in announced)


@functools.cache
def _quote(name: str | None, using: str) -> str:
    # Cached: these statements name the same few dozen tables and columns on every request.
    assert name  # noqa: S101 - every concrete field has a column
    return connections[using].ops.quote_name(name)


def _table(model: type[Model], using: str) -> str:
    return _quote(model._meta.db_table, using)


def _column(model: type[Model], name: str, using: str) -> str:
    return _quote(model._meta.get_field(name).column, using)  # type: ignore[union-attr] # concrete fields only


def assignments(model: type[Model], values: dict[str, Any], using: str) -> tuple[str, list[Any]]:
    """``"col" = %s, …`` and its parameters, each value prepared by its field."""
    connection = connections[using]
    parts, params = [], []
    for name, value in values.items():
        field = model._meta.get_field(name)
        parts.append(f"{_quote(field.column, using)} = %s")  # type: ignore[union-attr] # concrete fields only
        params.append(field.get_db_prep_save(value, connection))  # type: ignore[union-attr]
    return ", ".join(parts), params


def insert_values(obj: Model, using: str) -> tuple[str, str, list[Any]]:
    """The column list, placeholders and parameters that insert ``obj`` as ``Model.save`` would."""
    connection = connections[using]
    fields = [field for field in obj._meta.concrete_fields if not field.primary_key]
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    columns = ", ".join(_quote(field.column, using) for field in fields)
    return columns, ", ".join(["%s"] * len(fields)), params


def _in(values: Sequence[str]) -> tuple[str, list[str]]:
    return "(" + ", ".join(["%s"] * len(values)) + ")", list(values)


def _loaded_fields(model: type[Model], deferred: Iterable[str] = ()) -> list[Any]:
    return [field for field in model._meta.concrete_fields if field.name not in deferred]


def _instance(model: type[Model], fields: list[Any], values: Sequence[Any], using: str) -> Any:
    """A model instance from raw column values, converted as the ORM converts them (JSON fields)."""
    connection = connections[using]
    converted = []
    for field, value in zip(fields, values, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, None, connection)
        converted.append(value)
    return model.from_db(using, [field.attname for field in fields], converted)


def _from_json(model: type[Model], fields: list[Any], rows: list[dict[str, Any]] | None, using: str) -> list[Any]:
    """Model instances from ``json_agg`` rows: each value read back by its field, as a form would."""
    naive_in = None if settings.USE_TZ else zoneinfo.ZoneInfo(connections[using].timezone_name)
    instances = []
    for row in rows or []:
        values = [field.to_python(row[field.column]) for field in fields]
        if naive_in is not None:
            # JSON writes times with their offset; without USE_TZ the ORM reads them naive, in TIME_ZONE.
            values = [
                timezone.make_naive(value, naive_in)
                if isinstance(value, datetime) and timezone.is_aware(value)
                else value
                for value in values
            ]
        instances.append(model.from_db(using, [field.attname for field in fields], values))
    return instances


@dataclass(frozen=True)
class LockedForClaim:
    """An order locked to claim a link, with its links (newest first) and line items."""

    order: Order
    links: list[CheckoutSession]
    line_items: list[LineItem]


def lock_order_for_claim(
    order_pk: int, *, deferred: Iterable[str] = (), using: str = DEFAULT_DB_ALIAS
) -> LockedForClaim | None:
    """Lock an order; then read its links and line items in one statement: two round trips.

    The reads come in a statement of their own, after the lock is held: a statement sees
    only what was committed when it began, so links read in the locking statement would
    miss a claim inserted by the transaction it waited for (and a second link would be
    made). Once the order is locked nobody can change its links (every change to a link is
    made with its order locked), so this read is current. ``deferred`` link fields are not
    read. None when the order is gone.
    """
    lock, read, order_fields, link_fields, item_fields = _claim_sql(tuple(deferred), using)
    with connections[using].cursor() as cursor:
        cursor.execute(lock, [order_pk])
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(read, [order_pk, order_pk])
        links_json, items_json = (json.loads(value) if isinstance(value, str) else value for value in cursor.fetchone())
    return LockedForClaim(
        _instance(Order, order_fields, row, using),
        _from_json(CheckoutSession, link_fields, links_json, using),
        _from_json(LineItem, item_fields, items_json, using),
    )


@functools.cache
def _claim_sql(deferred: tuple[str, ...], using: str) -> tuple[str, str, list[Any], list[Any], list[Any]]:
    """:func:`lock_order_for_claim`'s two statements and the fields they read, built once per process."""
    order_fields = _loaded_fields(Order)
    link_fields = _loaded_fields(CheckoutSession, deferred)
    item_fields = _loaded_fields(LineItem)
    order_table, link_table, item_table = (_table(m, using) for m in (Order, CheckoutSession, LineItem))
    order_pk_column = _column(Order, "id", using)
    link_order, item_order = _column(CheckoutSession, "order", using), _column(LineItem, "order", using)
    order_columns = ", ".join(_quote(field.column, using) for field in order_fields)
    link_columns = ", ".join(_quote(field.column, using) for field in link_fields)
    # The links' own ordering (CheckoutSession.Meta.ordering): newest first.
    newest_first = f"{_column(CheckoutSession, 'created_at', using)} DESC, {_column(CheckoutSession, 'id', using)} DESC"
    item_order_by = ", ".join(_column(LineItem, name, using) for name in ("order", "id"))
    lock = f"SELECT {order_columns} FROM {order_table} WHERE {order_pk_column} = %s FOR NO KEY UPDATE"  # noqa: S608
    read = f"""
        SELECT
            (SELECT json_agg(links ORDER BY {newest_first})
             FROM (SELECT {link_columns} FROM {link_table} WHERE {link_order} = %s) AS links),
            (SELECT json_agg(items ORDER BY {item_order_by}) FROM {item_table} AS items WHERE {item_order} = %s)
    """  # noqa: S608 - names from the models' _meta; the order's key is a parameter
    return lock, read, order_fields, link_fields, item_fields


def lock_order_by_link(
    invoice_number: str, *, deferred: Iterable[str] = (), using: str = DEFAULT_DB_ALIAS
) -> tuple[Order, CheckoutSession] | None:
    """The order of the link with ``invoice_number``, locked, and that link as it is now: one statement.

    The order's row is locked first (``FOR NO KEY UPDATE``), then the link's. Every change
    to a link is made with its order locked, so this order of locks cannot deadlock; and a
    locked row is always read in its newest version, so the link is current even when
    another transaction changed it while this one waited (a plain read in the same
    statement would see it as it was when the statement began). ``deferred`` link fields
    are not read. None when no link has that invoice number.
    """
    sql, order_fields, link_fields = _lock_by_link_sql(tuple(deferred), using)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [invoice_number, invoice_number])
        row = cursor.fetchone()
    if row is None:
        return None
    order = _instance(Order, order_fields, row[: len(order_fields)], using)
    link = _instance(CheckoutSession, link_fields, row[len(order_fields) :], using)
    return order, link


@functools.cache
def _lock_by_link_sql(deferred: tuple[str, ...], using: str) -> tuple[str, list[Any], list[Any]]:
    """:func:`lock_order_by_link`'s statement and the fields it reads, built once per process."""
    order_fields = _loaded_fields(Order)
    link_fields = _loaded_fields(CheckoutSession, deferred)
    order_table, link_table = _table(Order, using), _table(CheckoutSession, using)
    order_pk, link_order = _column(Order, "id", using), _column(CheckoutSession, "order", using)
    invoice = _column(CheckoutSession, "invoice_number", using)
    order_columns = ", ".join(_quote(field.column, using) for field in order_fields)
    link_columns = ", ".join(f"link.{_quote(field.column, using)}" for field in link_fields)
    # MATERIALIZED: the order's lock is taken before the link's, whatever the planner prefers.
    sql = f"""
        WITH locked AS MATERIALIZED (
            SELECT {order_columns} FROM {order_table}
            WHERE {order_pk} = (SELECT {link_order} FROM {link_table} WHERE {invoice} = %s)
            FOR NO KEY UPDATE
        )
        SELECT locked.*, {link_columns} FROM locked, LATERAL (
            SELECT * FROM {link_table} WHERE {invoice} = %s AND {link_order} = locked.{order_pk}
            FOR NO KEY UPDATE
        ) AS link
    """  # noqa: S608 - names from the models' _meta; the invoice number is a parameter
    return sql, order_fields, link_fields


@dataclass(frozen=True)
class RecordedLink:
    """What :func:`record_open_link` found: the order's status and ``updated_at`` after the change, and the link's."""

    order_status: str
    order_updated_at: datetime
    link_updated_at: datetime


def record_open_link(
    session: CheckoutSession,
    fields: dict[str, Any],
    *,
    payable: Sequence[str],
    movable: Sequence[str],
    event: OrderEvent,
    using: str = DEFAULT_DB_ALIAS,
) -> RecordedLink | None:
    """Record DOKU's answer on a claimed link and make its order pending, in one statement.

    In order: lock the order's row (``FOR NO KEY UPDATE``, as every change to a link does);
    save ``fields`` on the link if it is still ``creating`` and the order's status is one of
    ``payable``; if it was saved and the order's status is one of ``movable``, set the order
    ``pending`` and insert ``event`` with the status it had as ``old_status``. One statement
    is one transaction: all of it is written, or none. The link's and the order's
    ``updated_at`` and the event's ``created_at`` are the database's clock once the lock is
    held (a time taken before waiting would put the event before the one it waited for).

    Returns None, having written nothing, when the link was not saved (another process
    recorded it, or the order was cancelled or changed while DOKU was asked): the caller
    then records the answer the long way, which tells these cases apart.
    """
    order_table, link_table, event_table = (_table(m, using) for m in (Order, CheckoutSession, OrderEvent))
    pk, status, updated = (_column(Order, name, using) for name in ("id", "status", "updated_at"))
    link_pk, link_status = _column(CheckoutSession, "id", using), _column(CheckoutSession, "status", using)
    link_updated = _column(CheckoutSession, "updated_at", using)
    link_set, link_params = assignments(
        CheckoutSession, {name: value for name, value in fields.items() if name != "updated_at"}, using
    )
    order_set, order_params = assignments(Order, {"status": "pending"}, using)
    payable_sql, payable_params = _in(payable)
    movable_sql, movable_params = _in(movable)
    event_columns, _placeholders, event_params = insert_values(event, using)
    # The event's old status is the one the lock found, its time the order's change.
    from_the_statement = {"old_status": "(SELECT status FROM locked)", "created_at": "moved.updated_at"}
    event_names = [field.name for field in OrderEvent._meta.concrete_fields if not field.primary_key]
    event_select = ", ".join(from_the_statement.get(name, "%s") for name in event_names)
    event_params = [
        value for name, value in zip(event_names, event_params, strict=True) if name not in from_the_statement
    ]
    # Only names from the models' _meta are formatted in; every value is a parameter.
    sql = f"""
        WITH locked AS (
            SELECT {status} AS status, {updated} AS updated_at FROM {order_table} WHERE {pk} = %s FOR NO KEY UPDATE
        ), link AS (
            UPDATE {link_table} SET {link_set}, {link_updated} = clock_timestamp()
            WHERE {link_pk} = %s AND {link_status} = %s AND (SELECT status FROM locked) IN {payable_sql}
            RETURNING {link_updated} AS updated_at
        ), moved AS (
            UPDATE {order_table} SET {order_set}, {updated} = clock_timestamp()
            WHERE {pk} = %s AND EXISTS (SELECT 1 FROM link) AND (SELECT status FROM locked) IN {movable_sql}
            RETURNING {updated} AS updated_at
        ), event AS (
            INSERT INTO {event_table} ({event_columns}) SELECT {event_select} FROM moved
        )
        SELECT (SELECT updated_at FROM link), (SELECT updated_at FROM moved), status, updated_at FROM locked
    """  # noqa: S608
    params = [
        session.order_id,
        *link_params,
        session.pk,
        CheckoutSession.Status.CREATING,
        *payable_params,
        *order_params,
        session.order_id,
        *movable_params,
        *event_params,
    ]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None or not row[0]:
        return None
    link_updated_at, moved_at, old_status, old_updated_at = row
    if moved_at is not None:
        return RecordedLink("pending", moved_at, link_updated_at)
    return RecordedLink(old_status, old_updated_at, link_updated_at)


class Writes:
    """Row changes made while an order is locked, written together once the decisions are made.

    ``save(obj, fields)`` and ``insert(obj)`` take the values the objects hold at
    :meth:`flush`; ``then(callback)`` runs after it (an insert's primary key is set by then).
    On PostgreSQL, where :func:`available`, :meth:`flush` is one statement; elsewhere each
    change is saved as ``Model.save`` would, in the order given. Saving one row twice saves
    the union of its fields once.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self._writes: list[tuple[Model, list[str] | None]] = []
        self._callbacks: list[Callable[[], object]] = []

    def save(self, obj: Model, fields: Iterable[str]) -> None:
        for written, written_fields in self._writes:
            if written_fields is not None and written is obj:
                written_fields.extend(name for name in fields if name not in written_fields)
                return
        self._writes.append((obj, list(fields)))

    def insert(self, obj: Model) -> None:
        self._writes.append((obj, None))

    def then(self, callback: Callable[[], object]) -> None:
        self._callbacks.append(callback)

    def flush(self) -> None:
        models = {type(obj) for obj, _fields in self._writes}
        if self._writes and available(*models, using=self.using):
            self._write_in_one_statement()
        else:
            for obj, fields in self._writes:
                if fields is None:
                    obj.save(force_insert=True)
                else:
                    obj.save(update_fields=fields)
        self._writes = []
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def _write_in_one_statement(self) -> None:
        connection = connections[self.using]
        parts, params, inserted = [], [], []
        for index, (obj, fields) in enumerate(self._writes):
            model = type(obj)
            table, pk = _table(model, self.using), _quote(model._meta.pk.column, self.using)
            if fields is None:
                columns, placeholders, values = insert_values(obj, self.using)
                parts.append(f"w{index} AS (INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk})")  # noqa: S608
                params += values
                inserted.append((index, obj))
            else:
                # What Model.save(update_fields=...) sends: each field's pre_save (auto_now included).
                concrete = [model._meta.get_field(name) for name in fields]
                changes = {
                    field.name: field.pre_save(obj, add=False)  # type: ignore[union-attr]
                    for field in concrete
                }
                set_sql, set_params = assignments(model, changes, self.using)
                parts.append(f"w{index} AS (UPDATE {table} SET {set_sql} WHERE {pk} = %s)")  # noqa: S608
                params += [*set_params, obj.pk]
        returned = ", ".join(f"(SELECT * FROM w{index})" for index, _obj in inserted) or "1"  # noqa: S608
        with connection.cursor() as cursor:
            # Only names from the models' _meta are formatted in; every value is a parameter.
            cursor.execute(f"WITH {', '.join(parts)} SELECT {returned}", params)
            row = cursor.fetchone()
        for (_index, obj), pk_value in zip(inserted, row, strict=False):
            obj.pk = pk_value
            obj._state.adding, obj._state.db = False, self.using


def insert(obj: Model, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert ``obj`` now, as ``obj.save(force_insert=True)`` would: one statement without the ORM's compiler where :func:`available`."""
    writes = Writes(using)
    writes.insert(obj)
    writes.flush()
