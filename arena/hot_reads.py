"""Hot reads: SQL written once per process from the models, run on a cursor Postgres can prepare.

The voter's battle page and the vote each read one battle with its prompt, answers, vote and
voter, many times a second. Built with the ORM, that read cost ~4 ms of Python to compile
(every column of five tables, five subqueries), ~3 ms to turn the row into model instances and
~2 ms of Postgres planning, to run in under 1 ms. Here such a read is written as SQL once:

* its columns come from the models' own metadata (``ModelColumns``), so a field added or
  renamed changes the SQL with the model, and rows become instances through ``Model.from_db``
  with each field's database converters, as the ORM does;
* on Postgres it runs on a server-binding cursor: psycopg prepares it on each connection after
  ``DATABASES["default"]["OPTIONS"]["prepare_threshold"]`` runs (Django's ordinary cursors bind
  on the client and are never prepared), so Postgres stops planning it;
* it still goes through Django's cursor wrapper: logged, counted by the tests' query budgets,
  seen by ``connection.execute_wrapper`` and its errors translated.

A hot write (``execute``: the vote's compare-and-set UPDATE; ``insert``: a new battle, a vote) runs the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Field, Model


@dataclass
class ModelColumns:
    """The concrete columns of ``model`` under ``alias`` in a hand-written SELECT.

    Every column, or with ``only`` those attribute names and the primary key: the other fields
    of its instances are deferred (loaded on first access), as with the ORM's ``only()``.
    """

    model: type[Model]
    alias: str
    only: tuple[str, ...] = ()
    converters: dict[str, list] = field(default_factory=dict, repr=False)  # per database alias

    @cached_property
    def fields(self) -> list:
        concrete = self.model._meta.concrete_fields
        unknown = set(self.only) - {f.attname for f in concrete}
        if unknown:
            raise ValueError(f"{self.model.__name__} has no columns {sorted(unknown)}")
        if not self.only:
            return list(concrete)
        return [f for f in concrete if f.primary_key or f.attname in self.only]

    @cached_property
    def attnames(self) -> list[str]:
        return [f.attname for f in self.fields]

    @cached_property
    def width(self) -> int:
        return len(self.fields)

    @cached_property
    def pk_position(self) -> int:
        return self.fields.index(self.model._meta.pk)

    def select(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(f.column)}" for f in self.fields)

    def table(self) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    def column(self, name: str) -> str:
        return f"{self.alias}.{connection.ops.quote_name(str(_concrete_field(self.model, name).column))}"

    def instance(self, row: Sequence[Any], start: int) -> Model | None:
        """The instance in ``row[start:start + width]``; None when an outer join found no row."""
        values = list(row[start : start + self.width])
        if values[self.pk_position] is None:
            return None
        for position, converters in self._converters():
            for convert, expression in converters:
                values[position] = convert(values[position], expression, connection)
        return self.model.from_db(connection.alias, self.attnames, values)

    def _converters(self) -> list:
        """(position, [(converter, column expression)]) for the fields whose values need converting."""
        if connection.alias not in self.converters:
            found = []
            for position, model_field in enumerate(self.fields):
                column = model_field.get_col(self.alias)
                converters = connection.ops.get_db_converters(column) + model_field.get_db_converters(connection)
                if converters:
                    found.append((position, [(convert, column) for convert in converters]))
            self.converters[connection.alias] = found
        return self.converters[connection.alias]


def prep_value(model: type[Model], field_name: str, value: Any) -> Any:
    """``value`` as the database takes it for ``model.field_name`` (a UUID on SQLite is hex text)."""
    return _concrete_field(model, field_name).get_db_prep_value(value, connection)


def quoted_column(model: type[Model], field_name: str) -> str:
    """The column of ``model.field_name``, quoted, without a table alias (an UPDATE's SET)."""
    return connection.ops.quote_name(str(_concrete_field(model, field_name).column))


def _concrete_field(model: type[Model], name: str) -> Field:
    found = model._meta.get_field(name)
    if not isinstance(found, Field) or found.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a column")
    return found


def literal(value: str) -> str:
    """A constant of the code (a status) as an SQL string literal: constants stay constants in a
    prepared statement's generic plan (an ``= 'open'`` is known to be selective, an ``= $1`` is not)."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def datetime_param(value) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def fetch_rows(sql: str, params: Sequence[Any]) -> list[tuple]:
    """The rows of a hot read; on Postgres on a cursor psycopg prepares (see the module's note)."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: Sequence[Any]) -> int:
    """Run a hot write (an UPDATE) on the cursor of ``fetch_rows``; the number of rows it changed."""
    with _cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert(instance: Model, *, with_statement: str = "", with_params: Sequence[Any] = ()) -> None:
    """Store a new ``instance`` as ``instance.save()`` would (its defaults, ``auto_now_add`` and the
    database's form of each value, its primary key from the INSERT), as one prepared statement on Postgres.

    ``with_statement``: a data-modifying statement run as part of the same one (a ``WITH`` on Postgres,
    a statement of its own before the INSERT elsewhere), with ``with_params``. Saving through the
    ORM compiled the INSERT every time (~0.2 ms of Python) and Postgres planned it every time.
    No ``pre_save``/``post_save`` signal is sent: for models nothing listens to.
    """
    model = type(instance)
    fields = _insertable_fields(model)
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    if connection.vendor != "postgresql":
        if with_statement:
            execute(with_statement, with_params)
        instance.save(force_insert=True)
        return
    insert_sql = _insert_sql(model)
    if with_statement:
        sql, params = f"WITH done AS ({with_statement}) {insert_sql}", [*with_params, *values]
    else:
        sql, params = insert_sql, values
    instance.pk = fetch_rows(sql, params)[0][0]
    instance._state.adding = False
    instance._state.db = connection.alias


def _insertable_fields(model: type[Model]) -> list:
    return [f for f in model._meta.local_concrete_fields if not f.primary_key]


_insert_sqls: dict[type[Model], str] = {}


def _insert_sql(model: type[Model]) -> str:
    if model not in _insert_sqls:
        quote = connection.ops.quote_name
        fields = _insertable_fields(model)
        _insert_sqls[model] = (
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(str(f.column)) for f in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(str(model._meta.pk.column))}"
        )
    return _insert_sqls[model]


def _cursor():
    if connection.vendor != "postgresql":
        return connection.cursor()
    # As connection.cursor() does, with psycopg's server-binding cursor instead of Django's client-binding one.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = psycopg.Cursor(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
