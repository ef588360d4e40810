"""The unit of work: every row change of a locked section, written together once decided.

A service locks the order with the ORM (:func:`.locking.locked_rows`), decides in plain
Python, records each change here (:meth:`Writes.save`, :meth:`Writes.insert`) and flushes
once. :meth:`Writes.flush` is the only code in the app that knows which database it talks
to, and it decides how to write, once:

- on PostgreSQL, one data-modifying ``WITH`` statement generated from the models' ``_meta``
  (the round trips and the ORM's work to build each statement are most of a change's cost
  on a busy server, not its decisions);
- ``Model.save`` for each change, in the order recorded, on any other database (SQLite has
  no data-modifying ``WITH``), where a shop's database router sends one of the models'
  writes elsewhere than the default database, and where a receiver is connected to
  Django's ``pre_save``/``post_save`` for one of the models written (audit-log and history
  apps connect them): a shop's own hooks see every save. Also where one statement could
  not write what the saves would: two copies of one row, or a key to a row inserted earlier
  in the same unit (``_one_statement``). An update that matched no row is an error either
  way, as ``Model.save`` says it.

Either way the same rows get the same values: each is prepared by its field
(``pre_save`` and ``get_db_prep_save``), as ``Model.save`` prepares it. What a change
announces is recorded by a callback (:meth:`Writes.then`) after the rows are written, in
the same transaction, so receivers of the app's signals never choose the path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, router
from django.db.models import ForeignKey, Model
from django.db.models.signals import post_save, pre_save


def _one_statement(writes: list[tuple[Model, list[str] | None]], using: str) -> bool:
    """Whether these changes may be written as one generated statement, with what ``Model.save`` would write.

    Not where ``Model.save`` would do something a single statement cannot: write elsewhere
    (a shop's router, asked with each instance as ``save`` asks it), run a shop's
    ``pre_save``/``post_save`` receivers, apply two changes to one row through two copies of
    it in turn, or set a foreign key to a row inserted earlier in the same unit of work.
    """
    if connections[using].vendor != "postgresql":
        return False
    inserted = {id(obj) for obj, names in writes if names is None}
    rows = set()
    for obj, names in writes:
        model = type(obj)
        # A shop's router decides where the ORM writes: the statement goes there, or not at all.
        if router.db_for_write(model, instance=obj) != using:
            return False
        if pre_save.has_listeners(model) or post_save.has_listeners(model):
            return False
        if names is not None:
            if (model, obj.pk) in rows:
                return False
            rows.add((model, obj.pk))
        for field in model._meta.concrete_fields:
            if isinstance(field, ForeignKey) and field.is_cached(obj) and id(field.get_cached_value(obj)) in inserted:
                return False
    return True


@functools.cache
def _quote(name: str | None, using: str) -> str:
    # Cached: the statements name the same few dozen tables and columns on every request.
    assert name  # noqa: S101 - every concrete field has a column
    return connections[using].ops.quote_name(name)


class Writes:
    """Row changes made while an order is locked, written together once the decisions are made.

    ``save(obj, fields)`` and ``insert(obj)`` take the values the objects hold at
    :meth:`flush`; ``then(callback)`` runs after it, in the caller's transaction (an
    insert's primary key is set by then). Saving one row twice saves the union of its
    fields once. See the module's docstring for how :meth:`flush` writes.
    """

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self._writes: list[tuple[Model, list[str] | None]] = []
        self._callbacks: list[Callable[[], object]] = []

    def save(self, obj: Model, fields: Iterable[str]) -> None:
        """Update ``fields`` of ``obj``'s row at :meth:`flush`, as ``obj.save(update_fields=fields)`` would."""
        for written, written_fields in self._writes:
            if written_fields is not None and written is obj:
                written_fields.extend(name for name in fields if name not in written_fields)
                return
        self._writes.append((obj, list(fields)))

    def insert(self, obj: Model) -> None:
        """Insert ``obj`` at :meth:`flush`, as ``obj.save(force_insert=True)`` would; its key is set then."""
        self._writes.append((obj, None))

    def then(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the rows are written (what the change announces is recorded so)."""
        self._callbacks.append(callback)

    def flush(self) -> None:
        """Write every change recorded, then run the callbacks; the unit of work is empty after."""
        writes, self._writes = self._writes, []
        if writes and _one_statement(writes, self.using):
            self._write_in_one_statement(writes)
        else:
            for obj, fields in writes:
                if fields is None:
                    obj.save(force_insert=True)
                else:
                    obj.save(update_fields=fields)
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def _write_in_one_statement(self, writes: list[tuple[Model, list[str] | None]]) -> None:
        connection = connections[self.using]
        parts, params, inserted = [], [], []
        for index, (obj, names) in enumerate(writes):
            model = type(obj)
            table, pk = _quote(model._meta.db_table, self.using), _quote(model._meta.pk.column, self.using)
            add = names is None
            # What Model.save sends: every concrete field but the key for an insert, the
            # fields asked for an update; each value from its field's pre_save (auto_now
            # included) and prepared by the field.
            fields = (
                [field for field in model._meta.concrete_fields if not field.primary_key]
                if add
                else [model._meta.get_field(name) for name in names]  # type: ignore[union-attr]
            )
            values = [field.get_db_prep_save(field.pre_save(obj, add=add), connection) for field in fields]  # type: ignore[union-attr]
            columns = [_quote(field.column, self.using) for field in fields]  # type: ignore[union-attr]
            if add:
                placeholders = ", ".join(["%s"] * len(columns))
                parts.append(
                    f"w{index} AS (INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) RETURNING {pk})"  # noqa: S608
                )
                params += values
                inserted.append(obj)
            else:
                assignments = ", ".join(f"{column} = %s" for column in columns)
                parts.append(f"w{index} AS (UPDATE {table} SET {assignments} WHERE {pk} = %s RETURNING 1)")  # noqa: S608
                params += [*values, obj.pk]
        inserts = [index for index, (_obj, names) in enumerate(writes) if names is None]
        updates = [index for index, (_obj, names) in enumerate(writes) if names is not None]
        returned = ", ".join(
            [f"(SELECT * FROM w{index})" for index in inserts]  # noqa: S608 - generated names only
            + [f"(SELECT count(*) FROM w{index})" for index in updates]  # noqa: S608
        )
        with connection.cursor() as cursor:
            # Only names from the models' _meta are formatted in; every value is a parameter.
            cursor.execute(f"WITH {', '.join(parts)} SELECT {returned}", params)
            row = cursor.fetchone()
        if not all(row[len(inserts) :]):
            # As Model.save(update_fields=...) says it; the statement is one transaction: nothing was written.
            raise DatabaseError("Save with update_fields did not affect any rows.")
        for obj, pk_value in zip(inserted, row, strict=False):
            obj.pk = pk_value
            obj._state.adding, obj._state.db = False, self.using


def insert(obj: Model, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert ``obj`` now, in a unit of work of its own (one generated statement on PostgreSQL)."""
    writes = Writes(using)
    writes.insert(obj)
    writes.flush()
